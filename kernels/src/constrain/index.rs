//! The tokens a constrained output may continue with (SPEC.md §7.1). The vocabulary's bytes
//! are gathered once per tokenizer; a step walks a token's bytes only if the automaton takes
//! its first byte, and inside a free string a token of plain characters is judged by its
//! length alone.

use super::automaton::{Automaton, State};
use crate::tokenizer::Tokenizer;
use std::ops::Range;

/// One candidate token.
#[derive(Debug, Clone)]
struct Entry {
    id: u32,
    /// Its bytes in [`TokenIndex::bytes`] (at least one).
    bytes: Range<usize>,
    /// Its number of characters if it is plain string content: whole UTF-8 characters, none
    /// of them `"`, `\` or a control character.
    plain_chars: Option<u32>,
}

/// The non-empty tokens of a vocabulary that are neither special nor end generation, by
/// ascending id.
#[derive(Debug, Clone, Default)]
pub struct TokenIndex {
    /// All token bytes, back to back.
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

impl TokenIndex {
    /// Indexes every token of `tokenizer` except special ones and those that end generation
    /// (never allowed in JSON, whatever type the file gives them) and empty ones.
    pub fn new(tokenizer: &Tokenizer) -> Self {
        let mut index = Self::default();
        let end_of_generation = tokenizer.end_of_generation_ids();
        for id in 0..tokenizer.vocab_size() as u32 {
            let special = tokenizer.token_type(id).is_none_or(|t| t.is_special())
                || end_of_generation.contains(&id);
            let bytes = tokenizer.token_bytes(id).unwrap_or_default();
            if special || bytes.is_empty() {
                continue;
            }
            let plain_chars = std::str::from_utf8(bytes)
                .ok()
                .filter(|text| !text.chars().any(|c| c == '"' || c == '\\' || c < ' '))
                .map(|text| text.chars().count() as u32);
            let start = index.bytes.len();
            index.bytes.extend_from_slice(bytes);
            index.entries.push(Entry {
                id,
                bytes: start..index.bytes.len(),
                plain_chars,
            });
        }
        index
    }

    /// The ids, ascending, of the tokens whose bytes all advance `automaton` from `state` and
    /// leave it at most `budget` bytes from complete.
    pub fn allowed(&self, automaton: &Automaton, state: State, budget: u64) -> Vec<u32> {
        let after_first: Vec<Option<State>> =
            (0..=255u8).map(|b| automaton.advance(state, b)).collect();
        // Plain tokens inside a free string: room for their characters is all they need, and
        // they leave the output as far from complete as it is now.
        let room = automaton
            .text_room(state)
            .filter(|_| automaton.bytes_to_go(state) <= budget);
        let mut allowed = Vec::new();
        for entry in &self.entries {
            if let (Some(room), Some(chars)) = (room, entry.plain_chars) {
                if chars <= room {
                    allowed.push(entry.id);
                }
                continue;
            }
            let bytes = &self.bytes[entry.bytes.clone()];
            let Some(after) = after_first[usize::from(bytes[0])] else {
                continue;
            };
            if let Some(after) = automaton.advance_all(after, &bytes[1..]) {
                if automaton.bytes_to_go(after) <= budget {
                    allowed.push(entry.id);
                }
            }
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constrain::{ConstrainedOutput, ConstraintError, Schema};
    use crate::tokenizer::{PreTokenizer, SpecialTokenIds, TokenType, TokenizerSpec};

    /// A tokenizer of exactly these tokens, without merges.
    fn tokenizer(tokens: &[(&str, TokenType)]) -> Tokenizer {
        Tokenizer::new(TokenizerSpec {
            tokens: tokens.iter().map(|(t, _)| t.to_string()).collect(),
            token_types: tokens.iter().map(|(_, t)| *t).collect(),
            merges: Vec::new(),
            pre_tokenizer: PreTokenizer::SmolLm,
            special_ids: SpecialTokenIds::default(),
            add_bos: false,
        })
        .unwrap()
    }

    fn schema() -> Schema {
        Schema::from_json_schema(&serde_json::json!({
            "type": "object", "required": ["s"],
            "properties": {"s": {"type": "string"}}
        }))
        .unwrap()
    }

    #[test]
    fn special_tokens_are_never_allowed_and_a_dead_end_is_an_error() {
        use TokenType::{Control, Normal, UserDefined};
        let t = tokenizer(&[
            ("{\"s\":\"", Normal),
            ("ab", Normal),
            ("<|im_end|>", Control),
            ("<tool>", UserDefined),
            ("\"}", Normal),
        ]);
        let index = TokenIndex::new(&t);
        let mut output = ConstrainedOutput::new(&schema(), 10).unwrap();
        assert_eq!(output.allowed(&index, 9).unwrap(), vec![0]);
        output.push(t.token_bytes(0).unwrap());
        // Inside the string the special tokens' texts would fit, but they are not text.
        assert_eq!(output.allowed(&index, 8).unwrap(), vec![1, 4]);
        // One token left: only the closing one keeps the output finishable.
        assert_eq!(output.allowed(&index, 0).unwrap(), vec![4]);
        // Without the closing token, nothing can finish in time.
        let t = tokenizer(&[("{\"s\":\"", Normal), ("ab", Normal)]);
        let index = TokenIndex::new(&t);
        output.push(b"ab");
        assert_eq!(
            output.allowed(&index, 0),
            Err(ConstraintError::NoAllowedToken)
        );
    }
}
