//! Hand-written matchers for the two word-splitting regexes of byte-level BPE models.
//!
//! GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//!
//! Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//! ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//!
//! The `regex` crate has no lookahead, so each is matched by hand, alternative by alternative,
//! the way llama.cpp's `unicode.cpp` does. The text given is one piece left by earlier split
//! passes: lookahead (`(?!\S)`) sees only that piece, never past its end.

use super::char_class::CharClass;

/// A piece of text seen character by character.
struct Chars<'a> {
    text: &'a str,
    /// Byte offset and class of each character.
    chars: Vec<(usize, char, CharClass)>,
}

impl<'a> Chars<'a> {
    fn new(text: &'a str) -> Self {
        let chars = text
            .char_indices()
            .map(|(at, c)| (at, c, CharClass::of(c)))
            .collect();
        Self { text, chars }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    fn char(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).map(|&(_, c, _)| c)
    }

    /// The class at `pos`, or `None` past the end.
    fn class(&self, pos: usize) -> Option<CharClass> {
        self.chars.get(pos).map(|&(_, _, class)| class)
    }

    /// The first position at or after `pos` whose class is not `class`.
    fn skip_class(&self, pos: usize, class: CharClass) -> usize {
        self.skip_class_at_most(pos, class, usize::MAX)
    }

    /// Like [`Self::skip_class`], but stops after `most` characters.
    fn skip_class_at_most(&self, mut pos: usize, class: CharClass, most: usize) -> usize {
        let limit = pos.saturating_add(most);
        while pos < limit && self.class(pos) == Some(class) {
            pos += 1;
        }
        pos
    }

    fn byte_offset(&self, pos: usize) -> usize {
        self.chars
            .get(pos)
            .map_or(self.text.len(), |&(at, _, _)| at)
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.text[self.byte_offset(from)..self.byte_offset(to)]
    }

    /// The length of an English contraction (`'s`, `'re`, ...) starting at `pos`, if any;
    /// letters compare case-insensitively when `ignore_case` is set.
    fn contraction(&self, pos: usize, ignore_case: bool) -> Option<usize> {
        if self.char(pos) != Some('\'') {
            return None;
        }
        let letter = |offset: usize| {
            self.char(pos + offset).map(|c| {
                if ignore_case {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
        };
        match (letter(1)?, letter(2)) {
            ('s' | 't' | 'm' | 'd', _) => Some(2),
            ('r', Some('e')) | ('v', Some('e')) | ('l', Some('l')) => Some(3),
            _ => None,
        }
    }

    /// The end of the whitespace alternatives `\s+(?!\S)|\s+` at `pos`: a run of whitespace
    /// gives its last character to the word after it, unless the run ends the piece.
    fn whitespace_end(&self, pos: usize) -> usize {
        let end = self.skip_class(pos, CharClass::Whitespace);
        if end - pos > 1 && end < self.len() {
            end - 1
        } else {
            end
        }
    }
}

/// Splits `text` by the GPT-2 regex, appending the words to `out`.
pub(crate) fn split_gpt2<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let chars = Chars::new(text);
    let mut pos = 0;
    while pos < chars.len() {
        let end = gpt2_word_end(&chars, pos);
        out.push(chars.slice(pos, end));
        pos = end;
    }
}

fn gpt2_word_end(chars: &Chars, pos: usize) -> usize {
    if let Some(len) = chars.contraction(pos, false) {
        return pos + len;
    }
    // ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of the
    // class of the character after it.
    let lead = usize::from(chars.char(pos) == Some(' '));
    match chars.class(pos + lead) {
        Some(class @ (CharClass::Letter | CharClass::Number | CharClass::Other)) => {
            chars.skip_class(pos + lead, class)
        }
        Some(CharClass::Whitespace) | None => chars.whitespace_end(pos),
    }
}

/// Splits `text` by the Llama 3 regex, appending the words to `out`.
pub(crate) fn split_llama3<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let chars = Chars::new(text);
    let mut pos = 0;
    while pos < chars.len() {
        let end = llama3_word_end(&chars, pos);
        out.push(chars.slice(pos, end));
        pos = end;
    }
}

fn llama3_word_end(chars: &Chars, pos: usize) -> usize {
    if let Some(len) = chars.contraction(pos, true) {
        return pos + len;
    }
    let c = chars.char(pos);
    let class = chars.class(pos);
    let is_line_break = |c: Option<char>| matches!(c, Some('\r' | '\n'));
    // `[^\r\n\p{L}\p{N}]?\p{L}+`
    if !is_line_break(c) && class != Some(CharClass::Number) {
        if class == Some(CharClass::Letter) {
            return chars.skip_class(pos, CharClass::Letter);
        }
        if chars.class(pos + 1) == Some(CharClass::Letter) {
            return chars.skip_class(pos + 1, CharClass::Letter);
        }
    }
    // `\p{N}{1,3}`
    if class == Some(CharClass::Number) {
        // At most three: scanning the whole run for each word would take quadratic time.
        return chars.skip_class_at_most(pos, CharClass::Number, 3);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let lead = usize::from(c == Some(' '));
    if chars.class(pos + lead) == Some(CharClass::Other) {
        let mut end = chars.skip_class(pos + lead, CharClass::Other);
        while is_line_break(chars.char(end)) {
            end += 1;
        }
        return end;
    }
    // `\s*[\r\n]+`: whitespace up to and including its last line break.
    let run_end = chars.skip_class(pos, CharClass::Whitespace);
    if let Some(last_break) = (pos..run_end).rev().find(|&p| is_line_break(chars.char(p))) {
        return last_break + 1;
    }
    chars.whitespace_end(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt2(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        split_gpt2(text, &mut out);
        out
    }

    fn llama3(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        split_llama3(text, &mut out);
        out
    }

    #[test]
    fn gpt2_words_numbers_and_punctuation() {
        assert_eq!(gpt2("Hello world"), ["Hello", " world"]);
        assert_eq!(gpt2("year 2024!!"), ["year", " 2024", "!!"]);
        assert_eq!(gpt2("x=1; y"), ["x", "=", "1", ";", " y"]);
        assert_eq!(gpt2(" 🙂 and"), [" 🙂", " and"]);
    }

    #[test]
    fn gpt2_contractions_are_case_sensitive() {
        assert_eq!(gpt2("don't we'll"), ["don", "'t", " we", "'ll"]);
        assert_eq!(gpt2("DON'T"), ["DON", "'", "T"]);
        assert_eq!(gpt2("'"), ["'"]);
    }

    #[test]
    fn gpt2_whitespace_gives_its_last_space_to_the_next_word() {
        assert_eq!(gpt2("a   b"), ["a", "  ", " b"]);
        assert_eq!(gpt2("a\n\nb"), ["a", "\n", "\n", "b"]);
        assert_eq!(gpt2("a  "), ["a", "  "]);
        assert_eq!(gpt2(" "), [" "]);
        assert_eq!(gpt2("\t\tx"), ["\t", "\t", "x"]);
    }

    #[test]
    fn llama3_words_and_digit_triples() {
        assert_eq!(llama3("Hello world"), ["Hello", " world"]);
        assert_eq!(llama3("1234567"), ["123", "456", "7"]);
        assert_eq!(llama3("\"quoted\""), ["\"quoted", "\""]);
        assert_eq!(llama3("I'M here"), ["I", "'M", " here"]);
        assert_eq!(llama3("a.\n\nb"), ["a", ".\n\n", "b"]);
    }

    #[test]
    fn llama3_splits_a_long_digit_run_in_linear_time() {
        // Each triple once scanned the rest of the run: some 10^10 steps for this one.
        let digits = "9".repeat(300_001);
        let words = llama3(&digits);
        assert_eq!(words.len(), 100_001);
        assert!(words[..100_000].iter().all(|w| *w == "999"));
        assert_eq!(words[100_000], "9");
    }

    #[test]
    fn llama3_line_breaks_end_whitespace_runs() {
        assert_eq!(llama3("a  \n  b"), ["a", "  \n", " ", " b"]);
        assert_eq!(llama3("a\n\n"), ["a", "\n\n"]);
        assert_eq!(llama3("\tb"), ["\tb"]);
        assert_eq!(llama3("a   b"), ["a", "  ", " b"]);
    }
}
