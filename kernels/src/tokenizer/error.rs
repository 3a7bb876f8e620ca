//! What can go wrong when building a tokenizer or decoding token ids.

use thiserror::Error;

/// An error from building a [`Tokenizer`](super::Tokenizer) or from decoding ids.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenizerError {
    #[error(
        "GGUF metadata has no `{key}`; the file carries no usable tokenizer (re-export it with \
         llama.cpp's convert_hf_to_gguf.py, which writes the tokenizer into the file)"
    )]
    MissingKey { key: &'static str },

    #[error(
        "GGUF metadata `{key}` should be {expected}, but it is {found}; the file is malformed"
    )]
    WrongType {
        key: &'static str,
        expected: &'static str,
        found: String,
    },

    #[error(
        "tokenizer model `{0}` is not supported: only byte-level BPE (`tokenizer.ggml.model = \
         gpt2`) is; use a model whose tokenizer is GPT-2 style BPE"
    )]
    UnsupportedModel(String),

    #[error(
        "pre-tokenizer `{0}` is not supported; supported are `smollm`, `gpt2`/`gpt-2`, `default` \
         and `llama-bpe`/`llama3`/`llama-v3` (add its split rules to kernels/src/tokenizer/pretokenize.rs)"
    )]
    UnsupportedPreTokenizer(String),

    #[error(
        "token type {code} of token {id} is not a GGUF token type (0 to 6); the file is malformed"
    )]
    UnknownTokenType { id: u32, code: i64 },

    #[error("the vocabulary has {tokens} tokens but {types} token types; both lists must be equally long")]
    TokenTypeCount { tokens: usize, types: usize },

    #[error("the vocabulary has {0} tokens; ids are 32-bit, so it must have fewer than 2^32")]
    VocabularyTooLarge(usize),

    #[error("the vocabulary has no tokens; the file is malformed")]
    EmptyVocabulary,

    #[error(
        "token {id} `{text}` is not byte-level BPE text (it has a character outside the GPT-2 \
         byte alphabet); mark it as a control or user-defined token, or fix the vocabulary"
    )]
    NotByteLevel { id: u32, text: String },

    #[error("merge {rank} `{merge}` is malformed: {reason}")]
    BadMerge {
        rank: usize,
        merge: String,
        reason: String,
    },

    #[error("the {role} token id {id} is outside the vocabulary of {vocab_size} tokens")]
    SpecialIdOutOfRange {
        role: &'static str,
        id: u64,
        vocab_size: usize,
    },

    #[error(
        "the vocabulary's special tokens cannot be matched in text: {0}; the file is malformed"
    )]
    SpecialTokens(String),

    #[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
    UnknownId { id: u32, vocab_size: usize },

    #[error(
        "the vocabulary has no control token `{marker}`, so it cannot encode the ChatML chat \
         template chat prompts use (text and token prompts still work)"
    )]
    UnsupportedChatTemplate { marker: &'static str },
}
