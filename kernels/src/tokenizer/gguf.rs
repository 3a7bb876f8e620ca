//! Reading the tokenizer from GGUF metadata (`tokenizer.ggml.*`).

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};

use super::error::TokenizerError;
use super::{PreTokenizer, SpecialTokenIds, TokenType, Tokenizer, TokenizerSpec};

const MODEL: &str = "tokenizer.ggml.model";
const PRE: &str = "tokenizer.ggml.pre";
const TOKENS: &str = "tokenizer.ggml.tokens";
const TOKEN_TYPES: &str = "tokenizer.ggml.token_type";
const MERGES: &str = "tokenizer.ggml.merges";
const BOS: &str = "tokenizer.ggml.bos_token_id";
const EOS: &str = "tokenizer.ggml.eos_token_id";
const EOT: &str = "tokenizer.ggml.eot_token_id";
const EOM: &str = "tokenizer.ggml.eom_token_id";
const UNKNOWN: &str = "tokenizer.ggml.unknown_token_id";
const PADDING: &str = "tokenizer.ggml.padding_token_id";
const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";

type Metadata = HashMap<String, Value>;

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes. The model must be byte-level BPE
    /// (`tokenizer.ggml.model = gpt2`) with a supported pre-tokenizer. Token types default to
    /// normal and special ids to none when the file leaves them out.
    pub fn from_gguf(content: &Content) -> Result<Self, TokenizerError> {
        Self::new(spec_from_metadata(&content.metadata)?)
    }
}

fn spec_from_metadata(metadata: &Metadata) -> Result<TokenizerSpec, TokenizerError> {
    let model = string(required(metadata, MODEL)?, MODEL)?;
    if model != "gpt2" {
        return Err(TokenizerError::UnsupportedModel(model.to_owned()));
    }
    let pre_tokenizer = PreTokenizer::from_gguf_name(string(required(metadata, PRE)?, PRE)?)?;
    let tokens = strings(required(metadata, TOKENS)?, TOKENS)?;
    let token_types = match metadata.get(TOKEN_TYPES) {
        Some(value) => token_types(value)?,
        None => vec![TokenType::Normal; tokens.len()],
    };
    let merges = strings(required(metadata, MERGES)?, MERGES)?
        .iter()
        .enumerate()
        .map(|(rank, merge)| split_merge(rank, merge))
        .collect::<Result<_, _>>()?;
    let special_ids = SpecialTokenIds {
        bos: optional_id(metadata, BOS)?,
        eos: optional_id(metadata, EOS)?,
        eot: optional_id(metadata, EOT)?,
        eom: optional_id(metadata, EOM)?,
        unknown: optional_id(metadata, UNKNOWN)?,
        padding: optional_id(metadata, PADDING)?,
    };
    let add_bos = match metadata.get(ADD_BOS) {
        Some(Value::Bool(add)) => *add,
        Some(other) => return Err(wrong_type(ADD_BOS, "a bool", other)),
        None => pre_tokenizer.adds_bos_by_default(),
    };
    Ok(TokenizerSpec {
        tokens,
        token_types,
        merges,
        pre_tokenizer,
        special_ids,
        add_bos,
    })
}

/// Splits a merge rule `left right` at its first space after the first character (a token
/// may begin with a space in vocabularies that do not map it), as llama.cpp does.
fn split_merge(rank: usize, merge: &str) -> Result<(String, String), TokenizerError> {
    let first_len = merge.chars().next().map_or(0, char::len_utf8);
    let space = merge[first_len..].find(' ').map(|at| at + first_len);
    match space {
        Some(at) if at + 1 < merge.len() => {
            Ok((merge[..at].to_owned(), merge[at + 1..].to_owned()))
        }
        _ => Err(TokenizerError::BadMerge {
            rank,
            merge: merge.to_owned(),
            reason: "it is not two tokens separated by a space".into(),
        }),
    }
}

fn required<'a>(metadata: &'a Metadata, key: &'static str) -> Result<&'a Value, TokenizerError> {
    metadata.get(key).ok_or(TokenizerError::MissingKey { key })
}

fn string<'a>(value: &'a Value, key: &'static str) -> Result<&'a str, TokenizerError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(wrong_type(key, "a string", other)),
    }
}

fn array<'a>(
    value: &'a Value,
    key: &'static str,
    expected: &'static str,
) -> Result<&'a [Value], TokenizerError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(key, expected, other)),
    }
}

fn strings(value: &Value, key: &'static str) -> Result<Vec<String>, TokenizerError> {
    const EXPECTED: &str = "an array of strings";
    array(value, key, EXPECTED)?
        .iter()
        .map(|item| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err(wrong_type(key, EXPECTED, other)),
        })
        .collect()
}

fn token_types(value: &Value) -> Result<Vec<TokenType>, TokenizerError> {
    const EXPECTED: &str = "an array of integers";
    (0u32..)
        .zip(array(value, TOKEN_TYPES, EXPECTED)?)
        .map(|(id, item)| {
            let code = integer(item).ok_or_else(|| wrong_type(TOKEN_TYPES, EXPECTED, item))?;
            TokenType::from_gguf_code(code).ok_or(TokenizerError::UnknownTokenType { id, code })
        })
        .collect()
}

fn optional_id(metadata: &Metadata, key: &'static str) -> Result<Option<u32>, TokenizerError> {
    let Some(value) = metadata.get(key) else {
        return Ok(None);
    };
    integer(value)
        .and_then(|id| u32::try_from(id).ok())
        .map(Some)
        .ok_or_else(|| wrong_type(key, "a token id (an integer from 0 to 2^32 - 1)", value))
}

/// The value of any GGUF integer type.
fn integer(value: &Value) -> Option<i64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::I8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::U64(v) => i64::try_from(v).ok(),
        Value::I64(v) => Some(v),
        _ => None,
    }
}

fn wrong_type(key: &'static str, expected: &'static str, found: &Value) -> TokenizerError {
    let found = match found {
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(items) => format!("an array of {} values", items.len()),
        scalar => format!("{scalar:?}"),
    };
    TokenizerError::WrongType {
        key,
        expected,
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_split_at_the_first_space_after_the_first_character() {
        assert_eq!(split_merge(0, "Ġ t").unwrap(), ("Ġ".into(), "t".into()));
        assert_eq!(split_merge(0, "  a").unwrap(), (" ".into(), "a".into()));
        for bad in ["ab", "a ", ""] {
            let err = split_merge(7, bad).unwrap_err();
            assert!(
                matches!(err, TokenizerError::BadMerge { rank: 7, .. }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn integers_of_every_width_are_ids() {
        assert_eq!(integer(&Value::U8(3)), Some(3));
        assert_eq!(integer(&Value::I32(-1)), Some(-1));
        assert_eq!(integer(&Value::U64(u64::MAX)), None);
        assert_eq!(integer(&Value::F32(1.0)), None);
    }
}
