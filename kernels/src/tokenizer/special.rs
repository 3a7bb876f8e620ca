//! Finding special tokens written out in text (`<|im_start|>`), before pre-tokenization.
//!
//! The text is scanned left to right and the longest special token starting at each position
//! is taken. llama.cpp instead cuts the text on each special token in turn, longest token
//! first. The two can differ only when special tokens overlap in the text, which cannot happen
//! when each special token is `<`, then text without `<` or `>`, then `>` (as SmolLM2's are).

use std::collections::HashMap;

/// A part of the text to encode: plain text, or a special token found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Text(&'a str),
    Special(u32),
}

/// A special token that can be written in text.
#[derive(Debug, Clone)]
struct Candidate {
    text: String,
    id: u32,
    /// Control and unknown tokens are found only on request; user-defined ones always.
    needs_parse_special: bool,
}

/// The special tokens, indexed by their first byte, longest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpecialMatcher {
    by_first_byte: HashMap<u8, Vec<Candidate>>,
}

impl SpecialMatcher {
    /// Adds a token that text may spell out; `needs_parse_special` says whether it is found
    /// only when special-token parsing is on. Empty texts are never matched.
    pub(crate) fn add(&mut self, text: &str, id: u32, needs_parse_special: bool) {
        let Some(&first) = text.as_bytes().first() else {
            return;
        };
        let candidates = self.by_first_byte.entry(first).or_default();
        candidates.push(Candidate {
            text: text.to_owned(),
            id,
            needs_parse_special,
        });
        // Longest first; among equally long ones, the lowest id.
        candidates.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.id.cmp(&b.id)));
    }

    /// Cuts `text` into plain text and special tokens, scanning left to right and taking the
    /// longest special token that starts at each position.
    pub(crate) fn partition<'a>(&self, text: &'a str, parse_special: bool) -> Vec<Segment<'a>> {
        let mut segments = Vec::new();
        let bytes = text.as_bytes();
        let mut plain_start = 0;
        let mut pos = 0;
        while pos < bytes.len() {
            // A first byte of a token is never a UTF-8 continuation byte, so `pos` is a
            // character boundary whenever a candidate matches.
            let found = self.by_first_byte.get(&bytes[pos]).and_then(|candidates| {
                candidates.iter().find(|candidate| {
                    (parse_special || !candidate.needs_parse_special)
                        && bytes[pos..].starts_with(candidate.text.as_bytes())
                })
            });
            match found {
                Some(candidate) => {
                    if plain_start < pos {
                        segments.push(Segment::Text(&text[plain_start..pos]));
                    }
                    segments.push(Segment::Special(candidate.id));
                    pos += candidate.text.len();
                    plain_start = pos;
                }
                None => pos += 1,
            }
        }
        if plain_start < bytes.len() {
            segments.push(Segment::Text(&text[plain_start..]));
        }
        segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> SpecialMatcher {
        let mut matcher = SpecialMatcher::default();
        matcher.add("<|im_start|>", 1, true);
        matcher.add("<|im_end|>", 2, true);
        matcher.add("<|im", 3, true);
        matcher.add("<user>", 4, false);
        matcher.add("", 5, false);
        matcher
    }

    #[test]
    fn longest_match_wins_and_text_between_is_kept() {
        let segments = matcher().partition("<|im_start|>user\nhé<|im_end|><|im", true);
        assert_eq!(
            segments,
            [
                Segment::Special(1),
                Segment::Text("user\nhé"),
                Segment::Special(2),
                Segment::Special(3),
            ]
        );
    }

    #[test]
    fn control_tokens_need_parse_special_but_user_defined_ones_do_not() {
        let text = "a<|im_end|>b<user>c";
        assert_eq!(
            matcher().partition(text, false),
            [
                Segment::Text("a<|im_end|>b"),
                Segment::Special(4),
                Segment::Text("c")
            ]
        );
        assert!(matcher().partition("", true).is_empty());
    }
}
