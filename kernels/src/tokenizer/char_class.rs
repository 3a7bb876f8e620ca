//! The Unicode classes the pre-tokenizer regexes use: `\p{L}`, `\p{N}`, `\p{P}` and `\s`.
//!
//! `\p{L}`, `\p{N}` and `\p{P}` are general-category groups, read from `unicode-properties`
//! (one table for all three, so they always agree on the Unicode version). `char::is_alphabetic`
//! is not `\p{L}`: it is the Alphabetic property, which also holds letter numbers (`Ⅻ`), many
//! combining marks (the Devanagari vowel sign `ा`) and circled letters (`Ⓐ`), and would split
//! Hindi or Bengali words differently from llama.cpp. `\s` is the White_Space property, which
//! is exactly what `char::is_whitespace` tests.
//!
//! The tables are Unicode 18.0.0's (`unicode-properties` 0.1.5, pinned exactly in the
//! workspace): a newer table may class a character differently, cut a prompt into other words
//! and so change token ids and result digests (SPEC.md §11).

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Which of the regex classes a character belongs to; every character is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CharClass {
    /// `\p{L}`.
    Letter,
    /// `\p{N}`.
    Number,
    /// `\s`.
    Whitespace,
    /// `[^\s\p{L}\p{N}]`.
    Other,
}

impl CharClass {
    /// The class of `c`.
    pub(crate) fn of(c: char) -> Self {
        if c.is_whitespace() {
            return Self::Whitespace;
        }
        match c.general_category_group() {
            GeneralCategoryGroup::Letter => Self::Letter,
            GeneralCategoryGroup::Number => Self::Number,
            _ => Self::Other,
        }
    }
}

/// Whether `c` is in `\p{N}`.
pub(crate) fn is_number(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Number
}

/// Whether `c` is in `\p{P}`.
pub(crate) fn is_punctuation(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Punctuation
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_the_general_category_not_the_alphabetic_property() {
        for c in ['a', 'Z', 'é', 'ß', '中', 'ж', 'ا'] {
            assert_eq!(CharClass::of(c), CharClass::Letter, "{c:?}");
        }
        // Alphabetic, but a mark, a letter number and a symbol: not `\p{L}`.
        for (c, class) in [
            ('\u{093E}', CharClass::Other),
            ('\u{05B0}', CharClass::Other),
            ('Ⅻ', CharClass::Number),
            ('Ⓐ', CharClass::Other),
        ] {
            assert!(c.is_alphabetic(), "{c:?}");
            assert_eq!(CharClass::of(c), class, "{c:?}");
        }
    }

    #[test]
    fn numbers_whitespace_and_the_rest() {
        for c in ['0', '9', '²', '½', '٣', 'Ⅻ'] {
            assert_eq!(CharClass::of(c), CharClass::Number, "{c:?}");
            assert!(is_number(c));
        }
        for c in [
            ' ', '\t', '\n', '\r', '\u{0B}', '\u{85}', '\u{A0}', '\u{3000}',
        ] {
            assert_eq!(CharClass::of(c), CharClass::Whitespace, "{c:?}");
        }
        for c in ['.', '\'', '$', '🙂', '\0', '\u{200B}'] {
            assert_eq!(CharClass::of(c), CharClass::Other, "{c:?}");
        }
        assert!(is_punctuation('!') && is_punctuation('_') && is_punctuation('—'));
        assert!(!is_punctuation('$') && !is_punctuation('+') && !is_punctuation('`'));
    }

    #[test]
    fn the_tables_are_the_pinned_unicode_version() {
        assert_eq!(unicode_properties::UNICODE_VERSION, (18, 0, 0));
    }
}
