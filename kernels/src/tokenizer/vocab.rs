//! The token table: each token's text, type and bytes, and the id of each text.

use std::collections::HashMap;

use super::byte_map::{byte_to_char, decode_text};
use super::error::TokenizerError;

/// The type of a token, as GGUF's `tokenizer.ggml.token_type` codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Code 0; treated as normal.
    Undefined,
    /// Code 1: ordinary byte-level BPE text.
    Normal,
    /// Code 2: the unknown token, e.g. `<unk>`.
    Unknown,
    /// Code 3: a control token such as `<|im_start|>`.
    Control,
    /// Code 4: a token added to the vocabulary as literal text.
    UserDefined,
    /// Code 5: a reserved, unused slot.
    Unused,
    /// Code 6: a raw byte (SentencePiece vocabularies).
    Byte,
}

impl TokenType {
    /// The type for a GGUF code, or `None` for a code GGUF does not define.
    pub fn from_gguf_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::Undefined,
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => return None,
        })
    }

    /// Whether the token is special: its text is literal (not byte-mapped), it decodes to that
    /// text, and it is found whole when written in text to encode.
    pub fn is_special(self) -> bool {
        matches!(self, Self::Control | Self::UserDefined | Self::Unknown)
    }

    /// Whether text to encode spells out this token only when special-token parsing is on.
    /// As in llama.cpp, user-defined tokens are always found, control and unknown ones only
    /// on request.
    pub(crate) fn needs_parse_special(self) -> bool {
        matches!(self, Self::Control | Self::Unknown)
    }
}

/// The tokens of a vocabulary.
#[derive(Debug, Clone)]
pub(crate) struct Vocab {
    texts: Vec<String>,
    types: Vec<TokenType>,
    /// What each token decodes to.
    bytes: Vec<Vec<u8>>,
    /// The id of each text; for a text listed twice, the later id (as in llama.cpp).
    ids: HashMap<String, u32>,
    /// The token of each single byte, if the vocabulary has one.
    byte_ids: [Option<u32>; 256],
}

impl Vocab {
    /// Builds the table; every non-special token must be byte-level BPE text.
    pub(crate) fn new(texts: Vec<String>, types: Vec<TokenType>) -> Result<Self, TokenizerError> {
        if texts.len() != types.len() {
            return Err(TokenizerError::TokenTypeCount {
                tokens: texts.len(),
                types: types.len(),
            });
        }
        if texts.is_empty() {
            return Err(TokenizerError::EmptyVocabulary);
        }
        if u32::try_from(texts.len()).is_err() {
            return Err(TokenizerError::VocabularyTooLarge(texts.len()));
        }
        let mut bytes = Vec::with_capacity(texts.len());
        let mut ids = HashMap::with_capacity(texts.len());
        for (id, (text, token_type)) in (0u32..).zip(texts.iter().zip(&types)) {
            let decoded = if token_type.is_special() {
                text.as_bytes().to_vec()
            } else {
                decode_text(text).ok_or_else(|| TokenizerError::NotByteLevel {
                    id,
                    text: text.clone(),
                })?
            };
            bytes.push(decoded);
            ids.insert(text.clone(), id);
        }
        // `from_fn` counts 0..256, so every index is a byte.
        let byte_ids = std::array::from_fn(|byte| {
            ids.get(byte_to_char(byte as u8).encode_utf8(&mut [0; 4]))
                .copied()
        });
        Ok(Self {
            texts,
            types,
            bytes,
            ids,
            byte_ids,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// The id of the token spelled `text`.
    pub(crate) fn id_of(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// The token that is the single byte `byte`.
    pub(crate) fn byte_id(&self, byte: u8) -> Option<u32> {
        self.byte_ids[usize::from(byte)]
    }

    /// The text of token `id` as the vocabulary spells it.
    pub(crate) fn text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(String::as_str)
    }

    /// The type of token `id`.
    pub(crate) fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// The bytes token `id` decodes to.
    pub(crate) fn bytes(&self, id: u32) -> Option<&[u8]> {
        self.bytes.get(id as usize).map(Vec::as_slice)
    }

    /// Every token with its id and type.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &str, TokenType)> {
        (0u32..)
            .zip(self.texts.iter().zip(&self.types))
            .map(|(id, (text, &token_type))| (id, text.as_str(), token_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|&t| t.to_owned()).collect()
    }

    #[test]
    fn special_tokens_keep_their_text_and_others_are_byte_decoded() {
        let vocab = Vocab::new(
            strings(&["Ġhi", "<|end|>", "Ċ"]),
            vec![TokenType::Normal, TokenType::Control, TokenType::Normal],
        )
        .unwrap();
        assert_eq!(vocab.bytes(0), Some(&b" hi"[..]));
        assert_eq!(vocab.bytes(1), Some(&b"<|end|>"[..]));
        assert_eq!(vocab.byte_id(b'\n'), Some(2));
        assert_eq!(vocab.byte_id(b' '), None);
        assert_eq!(vocab.id_of("<|end|>"), Some(1));
        assert_eq!(vocab.bytes(3), None);
    }

    #[test]
    fn a_normal_token_outside_the_byte_alphabet_is_rejected() {
        let err = Vocab::new(strings(&["a b"]), vec![TokenType::Normal]).unwrap_err();
        assert_eq!(
            err,
            TokenizerError::NotByteLevel {
                id: 0,
                text: "a b".into()
            }
        );
        let err = Vocab::new(strings(&["a"]), vec![]).unwrap_err();
        assert_eq!(
            err,
            TokenizerError::TokenTypeCount {
                tokens: 1,
                types: 0
            }
        );
    }

    #[test]
    fn gguf_codes() {
        assert_eq!(TokenType::from_gguf_code(3), Some(TokenType::Control));
        assert_eq!(TokenType::from_gguf_code(7), None);
        assert!(TokenType::UserDefined.is_special());
        assert!(!TokenType::UserDefined.needs_parse_special());
        assert!(!TokenType::Normal.is_special());
    }
}
