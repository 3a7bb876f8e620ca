//! Finding special tokens written out in text (`<|im_start|>`), before pre-tokenization.
//!
//! The text is scanned left to right and the longest special token starting at each position
//! is taken. llama.cpp instead cuts the text on each special token in turn, longest token
//! first. The two can differ only when special tokens overlap in the text, which cannot happen
//! when each special token is `<`, then text without `<` or `>`, then `>` (as SmolLM2's are).

use super::TokenizerError;
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::BTreeMap;

/// The most bytes the texts of a vocabulary's special tokens may take together (SmolLM2's take
/// a few hundred; a vocabulary with thousands of reserved tokens, some tens of kilobytes).
pub(crate) const MAX_SPECIAL_TEXT_BYTES: usize = 1 << 20;

/// A part of the text to encode: plain text, or a special token found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Text(&'a str),
    Special(u32),
}

/// The special tokens, as two leftmost-longest automata: one for all of them (special-token
/// parsing on), one for those found without it. Matching takes time linear in the text,
/// however many special tokens the vocabulary holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpecialMatcher {
    all: Option<Patterns>,
    without_parse_special: Option<Patterns>,
}

/// An automaton and the token id of each of its patterns.
#[derive(Debug, Clone)]
struct Patterns {
    automaton: AhoCorasick,
    ids: Vec<u32>,
}

impl Patterns {
    /// The automaton for `spellings` (text → token id); `None` when there are none.
    fn build(spellings: BTreeMap<&str, u32>) -> Result<Option<Self>, TokenizerError> {
        if spellings.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(spellings.keys())
            .map_err(|error| TokenizerError::SpecialTokens(error.to_string()))?;
        Ok(Some(Self {
            automaton,
            ids: spellings.into_values().collect(),
        }))
    }
}

impl SpecialMatcher {
    /// The matcher of `tokens`: each a text that may be spelled out, its id, and whether it is
    /// found only when special-token parsing is on (control and unknown tokens; user-defined
    /// ones are always found). Empty texts are never matched; a text two tokens share is
    /// the lower id's. Texts longer than [`MAX_SPECIAL_TEXT_BYTES`] in all are refused.
    pub(crate) fn new<'a>(
        tokens: impl IntoIterator<Item = (&'a str, u32, bool)>,
    ) -> Result<Self, TokenizerError> {
        let mut all = BTreeMap::new();
        let mut without_parse_special = BTreeMap::new();
        let mut bytes = 0;
        for (text, id, needs_parse_special) in tokens {
            if text.is_empty() {
                continue;
            }
            bytes += text.len();
            if bytes > MAX_SPECIAL_TEXT_BYTES {
                return Err(TokenizerError::SpecialTokens(format!(
                    "their texts take more than the {MAX_SPECIAL_TEXT_BYTES} bytes supported"
                )));
            }
            keep_lowest(&mut all, text, id);
            if !needs_parse_special {
                keep_lowest(&mut without_parse_special, text, id);
            }
        }
        Ok(Self {
            all: Patterns::build(all)?,
            without_parse_special: Patterns::build(without_parse_special)?,
        })
    }

    /// Cuts `text` into plain text and special tokens, scanning left to right and taking the
    /// longest special token that starts at each position.
    pub(crate) fn partition<'a>(&self, text: &'a str, parse_special: bool) -> Vec<Segment<'a>> {
        let patterns = if parse_special {
            &self.all
        } else {
            &self.without_parse_special
        };
        let Some(patterns) = patterns else {
            return if text.is_empty() {
                Vec::new()
            } else {
                vec![Segment::Text(text)]
            };
        };
        let mut segments = Vec::new();
        let mut plain_start = 0;
        // Patterns and text are UTF-8, so every match starts and ends on a character boundary.
        for found in patterns.automaton.find_iter(text) {
            if plain_start < found.start() {
                segments.push(Segment::Text(&text[plain_start..found.start()]));
            }
            segments.push(Segment::Special(patterns.ids[found.pattern().as_usize()]));
            plain_start = found.end();
        }
        if plain_start < text.len() {
            segments.push(Segment::Text(&text[plain_start..]));
        }
        segments
    }
}

/// Records `id` as the token spelled `text`, unless a lower id already is.
fn keep_lowest<'a>(spellings: &mut BTreeMap<&'a str, u32>, text: &'a str, id: u32) {
    spellings
        .entry(text)
        .and_modify(|kept| *kept = (*kept).min(id))
        .or_insert(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> SpecialMatcher {
        SpecialMatcher::new([
            ("<|im_start|>", 1, true),
            ("<|im_end|>", 2, true),
            ("<|im", 3, true),
            ("<user>", 4, false),
            ("", 5, false),
        ])
        .unwrap()
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

    #[test]
    fn a_text_two_tokens_share_is_the_lower_ids_and_each_flag_keeps_its_own() {
        let matcher =
            SpecialMatcher::new([("<x>", 9, true), ("<x>", 7, false), ("<x>", 8, false)]).unwrap();
        assert_eq!(matcher.partition("<x>", true), [Segment::Special(7)]);
        assert_eq!(matcher.partition("<x>", false), [Segment::Special(7)]);
        let matcher = SpecialMatcher::new([("<x>", 3, true), ("<x>", 7, false)]).unwrap();
        assert_eq!(matcher.partition("<x>", true), [Segment::Special(3)]);
        assert_eq!(matcher.partition("<x>", false), [Segment::Special(7)]);
        let none = SpecialMatcher::new([]).unwrap();
        assert_eq!(none.partition("<x>", true), [Segment::Text("<x>")]);
    }

    #[test]
    fn many_special_tokens_build_and_match_in_linear_time() {
        // 100,000 spellings of one token and 50,000 distinct ones sharing a first byte: the
        // old sorted-list matcher took quadratic time to build and scanned every candidate at
        // each `<` of the text.
        let distinct: Vec<String> = (0..50_000).map(|i| format!("<r{i}>")).collect();
        let tokens = (0..100_000u32).map(|id| ("<a>", id, true)).chain(
            distinct
                .iter()
                .zip(100_000..)
                .map(|(t, id)| (t.as_str(), id, true)),
        );
        let matcher = SpecialMatcher::new(tokens).unwrap();
        let text = "<b".repeat(50_000) + "<r49999><a>";
        let segments = matcher.partition(&text, true);
        assert_eq!(segments.len(), 3);
        assert_eq!(
            segments[1..],
            [Segment::Special(149_999), Segment::Special(0)]
        );
    }

    #[test]
    fn special_texts_past_the_byte_limit_are_refused() {
        let long = "<".to_string() + &"x".repeat(MAX_SPECIAL_TEXT_BYTES) + ">";
        let err = SpecialMatcher::new([(long.as_str(), 1, true)]).unwrap_err();
        assert!(err.to_string().contains("bytes supported"), "{err}");
    }
}
