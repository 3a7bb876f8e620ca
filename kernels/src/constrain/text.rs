//! The body of a free string (after its opening quote), byte by byte: well-formed UTF-8, no
//! control characters, `\"` and `\\` the only escapes, a closing `"`, and an optional bound
//! on the number of characters (Unicode scalar values, an escape counting as one).

/// The string written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TextState {
    chars: u32,
    /// A backslash was written; `"` or `\` must follow.
    escape: bool,
    /// Continuation bytes still owed by a multi-byte character.
    pending: u8,
    /// The range of the next continuation byte.
    next_lo: u8,
    next_hi: u8,
}

/// Where a byte leaves a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextStep {
    Inside(TextState),
    /// The closing quote: the string is over.
    Closed,
}

impl TextState {
    pub(crate) fn advance(self, byte: u8, max_chars: Option<u32>) -> Option<TextStep> {
        if self.pending > 0 {
            if !(self.next_lo..=self.next_hi).contains(&byte) {
                return None;
            }
            return Some(TextStep::Inside(Self {
                pending: self.pending - 1,
                next_lo: 0x80,
                next_hi: 0xBF,
                ..self
            }));
        }
        if self.escape {
            return matches!(byte, b'"' | b'\\').then_some(TextStep::Inside(Self {
                escape: false,
                ..self
            }));
        }
        // A new character: its lead byte, the continuation bytes it needs and the range of
        // the first of them (which excludes overlong forms, surrogates and values > U+10FFFF).
        let (escape, pending, next_lo, next_hi) = match byte {
            b'"' => return Some(TextStep::Closed),
            b'\\' => (true, 0, 0, 0),
            0x20..=0x7F => (false, 0, 0, 0),
            0xC2..=0xDF => (false, 1, 0x80, 0xBF),
            0xE0 => (false, 2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (false, 2, 0x80, 0xBF),
            0xED => (false, 2, 0x80, 0x9F),
            0xF0 => (false, 3, 0x90, 0xBF),
            0xF1..=0xF3 => (false, 3, 0x80, 0xBF),
            0xF4 => (false, 3, 0x80, 0x8F),
            _ => return None,
        };
        if max_chars.is_some_and(|max| self.chars >= max) {
            return None;
        }
        Some(TextStep::Inside(Self {
            chars: self.chars + 1,
            escape,
            pending,
            next_lo,
            next_hi,
        }))
    }

    /// How many more characters fit, if the string stands between characters.
    pub(crate) fn room(self, max_chars: Option<u32>) -> Option<u32> {
        (!self.escape && self.pending == 0)
            .then(|| max_chars.map_or(u32::MAX, |max| max - self.chars))
    }

    /// The fewest bytes that close the string: the rest of the current character, then `"`.
    pub(crate) fn bytes_to_go(self) -> u32 {
        u32::from(self.pending) + u32::from(self.escape) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state after `bytes`, or whether the string closed exactly at the last byte.
    fn feed(bytes: &[u8], max: Option<u32>) -> Option<TextStep> {
        let mut step = TextStep::Inside(TextState::default());
        for &b in bytes {
            step = match step {
                TextStep::Inside(s) => s.advance(b, max)?,
                TextStep::Closed => return None,
            };
        }
        Some(step)
    }

    #[test]
    fn strings_close_on_an_unescaped_quote() {
        assert_eq!(feed(b"abc\"", None), Some(TextStep::Closed));
        assert_eq!(feed(br#"a\"b\\""#, None), Some(TextStep::Closed));
        assert!(matches!(feed(br#"a\""#, None), Some(TextStep::Inside(_))));
        assert_eq!(feed(b"\"x", None), None);
        for bad in [&br"\n"[..], br"\u0041", br"\/", b"a\nb", b"\t", b"\x00"] {
            assert_eq!(feed(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn utf8_must_be_well_formed() {
        for ok in ["é", "€", "𝄞", "日本", "\u{7f}"] {
            let mut bytes = ok.as_bytes().to_vec();
            bytes.push(b'"');
            assert_eq!(feed(&bytes, None), Some(TextStep::Closed), "{ok}");
        }
        // Overlong, surrogate, beyond U+10FFFF, stray continuation, truncated.
        for bad in [
            &[0xC0, 0x80][..],
            &[0xE0, 0x80, 0x80],
            &[0xED, 0xA0, 0x80],
            &[0xF4, 0x90, 0x80, 0x80],
            &[0x80],
            &[0xC3, b'"'],
            &[0xFF],
        ] {
            assert_eq!(feed(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn max_length_counts_characters() {
        assert_eq!(feed("é€\"".as_bytes(), Some(2)), Some(TextStep::Closed));
        assert_eq!(feed("é€x".as_bytes(), Some(2)), None);
        assert_eq!(feed(br#"\\\""#, Some(2)).map(|_| ()), Some(()));
        assert_eq!(feed(br#"\\\"a"#, Some(2)), None);
        assert_eq!(feed(b"\"", Some(0)), Some(TextStep::Closed));
        assert_eq!(feed(b"a", Some(0)), None);
    }

    #[test]
    fn bytes_to_go_finishes_the_character_then_closes() {
        let inside = |bytes: &[u8]| match feed(bytes, None) {
            Some(TextStep::Inside(s)) => s.bytes_to_go(),
            other => panic!("{other:?}"),
        };
        assert_eq!(inside(b""), 1);
        assert_eq!(inside(b"ab"), 1);
        assert_eq!(inside(b"\\"), 2);
        assert_eq!(inside(&[0xF0]), 4);
        assert_eq!(inside(&[0xF0, 0x9D]), 3);
    }
}
