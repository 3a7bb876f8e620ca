//! What can go wrong when reading a schema or generating under it.

use thiserror::Error;

/// A JSON Schema outside the supported subset; `path` is where, `$.a.b` style.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("the top level of a constraint must be an object schema")]
    TopLevelNotObject,
    #[error("{path}: a schema must be a JSON object")]
    NotAnObject { path: String },
    #[error("{path}: a schema needs a `type` string")]
    MissingType { path: String },
    #[error("{path}: type `{found}` is not supported (object, string, integer and boolean are)")]
    UnsupportedType { path: String, found: String },
    #[error("{path}: keyword `{keyword}` is not supported for type `{kind}`")]
    UnsupportedKeyword {
        path: String,
        keyword: String,
        kind: String,
    },
    #[error(
        "{path}: property `{name}` is not in `required`; every property must be required \
         (the order of `required` is the output order)"
    )]
    OptionalProperty { path: String, name: String },
    #[error("{path}: `minimum` is greater than `maximum`")]
    EmptyRange { path: String },
    #[error(
        "{path}: `{text}` holds a control character (U+0000–U+001F), which the restricted \
         escape set cannot write"
    )]
    ControlCharacter { path: String, text: String },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

/// A constrained request that cannot go on.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ConstraintError {
    #[error("the output schema: {0}")]
    Schema(#[from] SchemaError),
    #[error(
        "the shortest output of the schema is {needed} bytes, more than max_tokens = {max_tokens}"
    )]
    TooFewTokens { needed: u64, max_tokens: u32 },
    #[error("no token of the vocabulary can continue the constrained output")]
    NoAllowedToken,
}
