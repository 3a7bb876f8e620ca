//! The tokenizer: byte-level BPE (GPT-2 style) read from a GGUF file, matching llama.cpp's
//! token ids exactly, plus the ChatML chat template and stop-condition detection.
//!
//! Encoding runs in three steps: special tokens written in the text are cut out
//! (`special.rs`), the rest is cut into words by the model's pre-tokenizer (`pretokenize.rs`,
//! `word_split.rs`), and each word's bytes are merged into tokens by merge rank (`bpe.rs`).
//! Decoding maps each token back to its bytes (`byte_map.rs`). The GGUF metadata is read in
//! `gguf.rs`.

mod bpe;
mod byte_map;
mod char_class;
mod chat;
mod error;
mod gguf;
mod pretokenize;
mod special;
mod stop;
mod vocab;
mod word_split;

pub use chat::{
    apply_chat_template, chat_template_parts, ChatMessage, ChatPart, DEFAULT_SYSTEM_PROMPT,
};
pub use error::TokenizerError;
pub use pretokenize::PreTokenizer;
pub use stop::{output_text, Stop, StopDetector, StopReason};
pub use vocab::TokenType;

use bpe::MergeTable;
pub(crate) use byte_map::byte_to_char;
use byte_map::encode_bytes;
use chat::CHATML_MARKERS;
use special::{Segment, SpecialMatcher};
use vocab::Vocab;

/// Token texts that end generation whatever the model's metadata says (SPEC.md §12), as
/// llama.cpp treats them: chat templates end a turn with them though many GGUF files name only
/// one of them (SmolLM2's EOS is `<|im_end|>`, yet it may also emit `<|endoftext|>`).
pub const END_OF_GENERATION_TEXTS: [&str; 9] = [
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
];

/// The tokens that end generation (SPEC.md §12): EOS, EOT and EOM where the model names them,
/// and every token spelled as one of [`END_OF_GENERATION_TEXTS`]; in id order.
fn end_of_generation_ids(vocab: &Vocab, named: SpecialTokenIds) -> Vec<u32> {
    let by_text = vocab
        .iter()
        .filter(|(_, text, _)| END_OF_GENERATION_TEXTS.contains(text))
        .map(|(id, _, _)| id);
    let mut ids: Vec<u32> = [named.eos, named.eot, named.eom]
        .into_iter()
        .flatten()
        .chain(by_text)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The ids of the tokens with a special role, where the model has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecialTokenIds {
    /// Beginning of sequence (`tokenizer.ggml.bos_token_id`).
    pub bos: Option<u32>,
    /// End of sequence (`tokenizer.ggml.eos_token_id`); generation stops on it.
    pub eos: Option<u32>,
    /// End of turn (`tokenizer.ggml.eot_token_id`); generation stops on it too.
    pub eot: Option<u32>,
    /// End of message (`tokenizer.ggml.eom_token_id`); generation stops on it too.
    pub eom: Option<u32>,
    /// Unknown (`tokenizer.ggml.unknown_token_id`).
    pub unknown: Option<u32>,
    /// Padding (`tokenizer.ggml.padding_token_id`).
    pub padding: Option<u32>,
}

/// Everything a tokenizer is built from: what a GGUF file holds, as plain values.
#[derive(Debug, Clone)]
pub struct TokenizerSpec {
    /// Token texts in byte-level spelling (`Ġ` for a space), indexed by id.
    pub tokens: Vec<String>,
    /// The type of each token; as long as `tokens`.
    pub token_types: Vec<TokenType>,
    /// Merge rules, highest priority first: `(left, right)` joins into `left + right`. All
    /// three must be tokens.
    pub merges: Vec<(String, String)>,
    /// How text is cut into words before merging.
    pub pre_tokenizer: PreTokenizer,
    /// The tokens with a special role; each must be in the vocabulary.
    pub special_ids: SpecialTokenIds,
    /// Whether the model expects a BOS token before a prompt. [`Tokenizer::encode`] never adds
    /// one; this only reports what the file says.
    pub add_bos: bool,
}

/// A byte-level BPE tokenizer.
pub struct Tokenizer {
    vocab: Vocab,
    merges: MergeTable,
    pre_tokenizer: PreTokenizer,
    specials: SpecialMatcher,
    special_ids: SpecialTokenIds,
    end_of_generation: Vec<u32>,
    add_bos: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab.len())
            .field("pre_tokenizer", &self.pre_tokenizer)
            .field("special_ids", &self.special_ids)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Builds a tokenizer from plain values, checking that they fit together.
    pub fn new(spec: TokenizerSpec) -> Result<Self, TokenizerError> {
        let vocab = Vocab::new(spec.tokens, spec.token_types)?;
        let merges = build_merges(&vocab, &spec.merges)?;
        let ids = spec.special_ids;
        for (role, id) in [
            ("BOS", ids.bos),
            ("EOS", ids.eos),
            ("EOT", ids.eot),
            ("EOM", ids.eom),
            ("unknown", ids.unknown),
            ("padding", ids.padding),
        ] {
            if let Some(id) = id.filter(|&id| vocab.text(id).is_none()) {
                return Err(TokenizerError::SpecialIdOutOfRange {
                    role,
                    id: id.into(),
                    vocab_size: vocab.len(),
                });
            }
        }
        let specials = SpecialMatcher::new(
            vocab
                .iter()
                .filter(|(_, _, token_type)| token_type.is_special())
                .map(|(id, text, token_type)| (text, id, token_type.needs_parse_special())),
        )?;
        Ok(Self {
            end_of_generation: end_of_generation_ids(&vocab, ids),
            vocab,
            merges,
            pre_tokenizer: spec.pre_tokenizer,
            specials,
            special_ids: ids,
            add_bos: spec.add_bos,
        })
    }

    /// Encodes `text` into token ids, without adding BOS.
    ///
    /// With `parse_special`, control tokens written in the text (`<|im_start|>`) become their
    /// ids; without it they are encoded as plain text. User-defined tokens are always found,
    /// as llama.cpp does.
    pub fn encode(&self, text: &str, parse_special: bool) -> Vec<u32> {
        let mut ids = Vec::new();
        for segment in self.specials.partition(text, parse_special) {
            match segment {
                Segment::Special(id) => ids.push(id),
                Segment::Text(text) => {
                    for word in self.pre_tokenizer.split(text) {
                        self.encode_word(word, &mut ids);
                    }
                }
            }
        }
        ids
    }

    /// Encodes a conversation as the ChatML prompt the model was trained on: template parts
    /// with special-token parsing, message text without, so the ids equal those of the rendered
    /// prompt whenever no message spells a control token, and a message that does cannot forge
    /// a turn.
    ///
    /// The template is SmolLM2's ChatML (see [`chat_template_parts`]); a vocabulary that fails
    /// [`Tokenizer::check_chat_template`] is refused.
    pub fn encode_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        self.check_chat_template()?;
        let mut ids = Vec::new();
        for part in chat_template_parts(messages, add_generation_prompt) {
            match part {
                ChatPart::Control(text) => ids.extend(self.encode(text, true)),
                ChatPart::Text(text) => ids.extend(self.encode(&text, false)),
            }
        }
        Ok(ids)
    }

    /// Whether this vocabulary can encode chat prompts: it must hold ChatML's turn markers
    /// (`<|im_start|>`, `<|im_end|>`) as control tokens. Without them the template would be
    /// encoded as plain text, a prompt the model was never trained on; the error names the
    /// first marker missing.
    pub fn check_chat_template(&self) -> Result<(), TokenizerError> {
        for marker in CHATML_MARKERS {
            let control = self
                .vocab
                .id_of(marker)
                .and_then(|id| self.vocab.token_type(id))
                == Some(TokenType::Control);
            if !control {
                return Err(TokenizerError::UnsupportedChatTemplate { marker });
            }
        }
        Ok(())
    }

    /// Encodes one pre-tokenized word.
    fn encode_word(&self, word: &str, ids: &mut Vec<u32>) {
        if self.pre_tokenizer.ignores_merges() {
            if let Some(id) = self.vocab.id_of(&encode_bytes(word.as_bytes())) {
                ids.push(id);
                return;
            }
        }
        // A byte the vocabulary cannot spell is left out, and no merge crosses it, as in
        // llama.cpp. Every byte of UTF-8 text has a token in a complete byte-level vocabulary.
        let mut symbols = Vec::with_capacity(word.len());
        for &byte in word.as_bytes() {
            match self.vocab.byte_id(byte) {
                Some(id) => symbols.push(id),
                None => {
                    ids.extend(self.merges.apply(&symbols));
                    symbols.clear();
                }
            }
        }
        ids.extend(self.merges.apply(&symbols));
    }

    /// Decodes token ids into the bytes they stand for. The bytes need not be valid UTF-8: a
    /// character may be split across tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(bytes)
    }

    /// The bytes of one token, for streaming output; a special token gives its text.
    pub fn token_bytes(&self, id: u32) -> Result<&[u8], TokenizerError> {
        self.vocab.bytes(id).ok_or(TokenizerError::UnknownId {
            id,
            vocab_size: self.vocab.len(),
        })
    }

    /// The type of token `id` (`None` outside the vocabulary).
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.vocab.token_type(id)
    }

    /// The id of the token spelled `text` in the vocabulary's byte-level spelling (`Ġhello`
    /// for " hello"; special tokens as written, `<|im_start|>`).
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.id_of(text)
    }

    /// The number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The ids of BOS, EOS and the other tokens with a role.
    pub fn special_ids(&self) -> SpecialTokenIds {
        self.special_ids
    }

    /// The tokens that end generation (SPEC.md §12), in id order.
    pub fn end_of_generation_ids(&self) -> &[u32] {
        &self.end_of_generation
    }

    /// Whether the model expects a BOS token before a prompt (never added by [`Self::encode`]).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// The pre-tokenizer in use.
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre_tokenizer
    }
}

/// Resolves merge rules to token ids; rank is the position in the list.
fn build_merges(vocab: &Vocab, merges: &[(String, String)]) -> Result<MergeTable, TokenizerError> {
    let mut table = MergeTable::default();
    for (rank, (left, right)) in merges.iter().enumerate() {
        let bad = |reason: String| TokenizerError::BadMerge {
            rank,
            merge: format!("{left} {right}"),
            reason,
        };
        let id = |text: &str| {
            vocab
                .id_of(text)
                .ok_or_else(|| bad(format!("`{text}` is not a token of the vocabulary")))
        };
        let merged = format!("{left}{right}");
        let rank = u32::try_from(rank).map_err(|_| bad("more than 2^32 merges".into()))?;
        table.insert(id(left)?, id(right)?, id(&merged)?, rank);
    }
    Ok(table)
}

#[cfg(test)]
mod tests;
