//! The canonical integer of SPEC.md §7.1 (`-?(0|[1-9][0-9]*)`, no `-0`), byte by byte, kept
//! within inclusive bounds: a prefix is accepted only if some integer in range extends it.

/// Inclusive bounds on an integer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) min: i64,
    pub(crate) max: i64,
}

/// The integer written so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IntegerState {
    negative: bool,
    digits: u8,
    /// The absolute value of the digits so far (at most 2^63).
    magnitude: u64,
}

impl IntegerState {
    /// The state after `byte`, if some integer in `range` still starts with the result.
    pub(crate) fn advance(self, byte: u8, range: Range) -> Option<Self> {
        let next = match byte {
            b'-' if self.digits == 0 && !self.negative => Self {
                negative: true,
                ..self
            },
            b'0'..=b'9' => {
                if self.digits > 0 && self.magnitude == 0 {
                    return None; // no leading zeros
                }
                Self {
                    negative: self.negative,
                    digits: self.digits + 1,
                    magnitude: self
                        .magnitude
                        .checked_mul(10)?
                        .checked_add(u64::from(byte - b'0'))?,
                }
            }
            _ => return None,
        };
        next.bytes_to_go(range).map(|_| next)
    }

    /// Whether the digits so far are an integer in `range`.
    pub(crate) fn is_complete(self, range: Range) -> bool {
        self.bytes_to_go(range) == Some(0)
    }

    /// The fewest bytes that, appended, give an integer in `range` (`None`: none does).
    pub(crate) fn bytes_to_go(self, range: Range) -> Option<u32> {
        let here = self.digits_to_go(range);
        if self.digits > 0 || self.negative {
            return here;
        }
        // Nothing written yet: a minus sign is one more way on.
        let negative = Self {
            negative: true,
            ..self
        };
        match (here, negative.digits_to_go(range)) {
            (Some(a), Some(b)) => Some(a.min(b + 1)),
            (a, b) => a.or(b.map(|b| b + 1)),
        }
    }

    /// The fewest digits that, appended, give an integer in `range` with the sign written so
    /// far (`None`: none does).
    fn digits_to_go(self, range: Range) -> Option<u32> {
        // The magnitudes allowed for this sign, as i128 (|i64::MIN| = 2^63 fits).
        let (lo, hi) = if self.negative {
            ((-i128::from(range.max)).max(1), -i128::from(range.min))
        } else {
            (i128::from(range.min).max(0), i128::from(range.max))
        };
        let m = i128::from(self.magnitude);
        // The magnitudes with this prefix and k more digits form one interval, increasing with
        // k; stop once it starts above `hi` (≤ 2^63, so nothing here overflows).
        for k in 0..=20u32 {
            let p = 10i128.pow(k);
            let (from, to) = match (self.digits, k) {
                (0, 0) => continue,
                (0, 1) => (i128::from(self.negative), 9),
                (0, _) => (p / 10, p - 1),
                (_, 0) => (m, m),
                _ if m == 0 => break,
                _ => (m * p, m * p + p - 1),
            };
            if from > hi {
                break;
            }
            if to >= lo {
                return Some(k);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(text: &str, range: Range) -> Option<IntegerState> {
        text.bytes()
            .try_fold(IntegerState::default(), |s, b| s.advance(b, range))
    }

    const ANY: Range = Range {
        min: i64::MIN,
        max: i64::MAX,
    };

    #[test]
    fn canonical_forms_only() {
        for ok in ["0", "7", "-7", "10", "-120", "9223372036854775807"] {
            assert!(feed(ok, ANY).unwrap().is_complete(ANY), "{ok}");
        }
        assert!(feed("-9223372036854775808", ANY).unwrap().is_complete(ANY));
        for bad in [
            "00",
            "01",
            "-0",
            "--1",
            "1-",
            "+1",
            "1.0",
            "9223372036854775808",
        ] {
            assert!(feed(bad, ANY).is_none(), "{bad}");
        }
        assert!(!feed("-", ANY).unwrap().is_complete(ANY));
        assert!(!IntegerState::default().is_complete(ANY));
    }

    #[test]
    fn bounds_cut_prefixes_that_cannot_land_in_range() {
        let r = Range { min: 10, max: 250 };
        assert!(feed("-", r).is_none());
        assert!(feed("0", r).is_none());
        assert!(feed("3", r).is_some_and(|s| !s.is_complete(r)));
        assert!(feed("30", r).unwrap().is_complete(r));
        assert!(feed("300", r).is_none());
        assert!(feed("25", r).is_some_and(|s| s.is_complete(r)));
        assert!(feed("250", r).unwrap().is_complete(r));
        assert!(feed("251", r).is_none());
        assert_eq!(IntegerState::default().bytes_to_go(r), Some(2));
        let negative = Range { min: -5, max: -3 };
        assert!(feed("3", negative).is_none());
        assert!(feed("-4", negative).unwrap().is_complete(negative));
        assert!(feed("-2", negative).is_none());
        assert_eq!(IntegerState::default().bytes_to_go(negative), Some(2));
        assert_eq!(feed("-", negative).unwrap().bytes_to_go(negative), Some(1));
        let wide = Range { min: -5, max: 1000 };
        assert_eq!(IntegerState::default().bytes_to_go(wide), Some(1));
        let zero = Range { min: 0, max: 0 };
        assert!(feed("0", zero).unwrap().is_complete(zero));
        assert!(feed("1", zero).is_none());
        assert!(feed("-", zero).is_none());
    }
}
