//! The JSON-schema subset an output can be held to, read from JSON Schema and written back in
//! the canonical form that enters the result digest (SPEC.md §7.1, §9).

use super::error::SchemaError;
use serde_json::{Map, Value};

/// A schema of the supported subset. The top level of a constraint is always an object.
/// [`Schema::from_json_schema`] gives only valid schemas; one built by hand is checked by
/// [`Schema::validate`] before an automaton is made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// An object whose properties all appear, in this order, and no others.
    Object(Vec<(String, Schema)>),
    /// A string: one of a list, or any string of at most `max_length` characters.
    String(StringSchema),
    /// An integer within optional inclusive bounds (always within i64).
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    /// `true` or `false`.
    Boolean,
}

/// What a string may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringSchema {
    /// One of these values (distinct, at least one).
    Enum(Vec<String>),
    /// Any string of at most this many Unicode scalar values (`None`: any length).
    Free { max_length: Option<u32> },
}

/// Keywords that only annotate a schema; they are accepted and ignored.
const ANNOTATIONS: [&str; 3] = ["$schema", "title", "description"];

impl Schema {
    /// Reads a JSON Schema of the supported subset. Objects list every property in
    /// `required`, whose order is the output's property order; `additionalProperties` may
    /// only be `false`. Any other keyword or form is an error that names it.
    pub fn from_json_schema(value: &Value) -> Result<Self, SchemaError> {
        let schema = parse(value, "$")?;
        schema.validate()?;
        Ok(schema)
    }

    /// Checks that the schema is one of the subset: the top level is an object, property
    /// names are distinct, an enum lists at least one value and none twice, integer bounds are
    /// in order, and no name or value holds a control character.
    pub fn validate(&self) -> Result<(), SchemaError> {
        match self {
            Schema::Object(_) => self.check("$"),
            _ => Err(SchemaError::TopLevelNotObject),
        }
    }

    fn check(&self, path: &str) -> Result<(), SchemaError> {
        let invalid = |reason: String| SchemaError::Invalid {
            path: path.to_owned(),
            reason,
        };
        match self {
            Schema::Object(properties) => {
                for (i, (name, schema)) in properties.iter().enumerate() {
                    check_text(name, path)?;
                    if properties[..i].iter().any(|(n, _)| n == name) {
                        return Err(invalid(format!("property `{name}` appears twice")));
                    }
                    schema.check(&format!("{path}.{name}"))?;
                }
                Ok(())
            }
            Schema::String(StringSchema::Enum(values)) => {
                if values.is_empty() {
                    return Err(invalid("`enum` must be a non-empty array".into()));
                }
                for (i, value) in values.iter().enumerate() {
                    check_text(value, path)?;
                    if values[..i].contains(value) {
                        return Err(invalid(format!("`{value}` is listed twice in `enum`")));
                    }
                }
                Ok(())
            }
            Schema::Integer {
                minimum: Some(lo),
                maximum: Some(hi),
            } if lo > hi => Err(SchemaError::EmptyRange {
                path: path.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The canonical compact JSON form of SPEC.md §7.1: the digest's encoding of the schema.
    pub fn canonical_json(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    fn write_canonical(&self, out: &mut String) {
        match self {
            Schema::Object(properties) => {
                out.push_str(r#"{"type":"object","properties":{"#);
                for (i, (name, schema)) in properties.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote(name));
                    out.push(':');
                    schema.write_canonical(out);
                }
                out.push_str(r#"},"required":["#);
                let names: Vec<String> = properties.iter().map(|(n, _)| quote(n)).collect();
                out.push_str(&names.join(","));
                out.push_str("]}");
            }
            Schema::String(StringSchema::Enum(values)) => {
                let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
                out.push_str(&format!(
                    r#"{{"type":"string","enum":[{}]}}"#,
                    values.join(",")
                ));
            }
            Schema::String(StringSchema::Free { max_length }) => {
                out.push_str(r#"{"type":"string""#);
                if let Some(n) = max_length {
                    out.push_str(&format!(r#","maxLength":{n}"#));
                }
                out.push('}');
            }
            Schema::Integer { minimum, maximum } => {
                out.push_str(r#"{"type":"integer""#);
                if let Some(n) = minimum {
                    out.push_str(&format!(r#","minimum":{n}"#));
                }
                if let Some(n) = maximum {
                    out.push_str(&format!(r#","maximum":{n}"#));
                }
                out.push('}');
            }
            Schema::Boolean => out.push_str(r#"{"type":"boolean"}"#),
        }
    }
}

/// `text` as a JSON string in the restricted form of SPEC.md §7.1: `"` and `\` escaped with a
/// backslash, nothing else escaped. The text must hold no control character (U+0000–U+001F).
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn parse(value: &Value, path: &str) -> Result<Schema, SchemaError> {
    let object = value.as_object().ok_or_else(|| SchemaError::NotAnObject {
        path: path.to_owned(),
    })?;
    let kind =
        object
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| SchemaError::MissingType {
                path: path.to_owned(),
            })?;
    let allowed: &[&str] = match kind {
        "object" => &["properties", "required", "additionalProperties"],
        "string" => &["enum", "maxLength"],
        "integer" => &["minimum", "maximum"],
        "boolean" => &[],
        other => {
            return Err(SchemaError::UnsupportedType {
                path: path.to_owned(),
                found: other.to_owned(),
            })
        }
    };
    if let Some(keyword) = object.keys().find(|k| {
        k.as_str() != "type" && !allowed.contains(&k.as_str()) && !ANNOTATIONS.contains(&k.as_str())
    }) {
        return Err(SchemaError::UnsupportedKeyword {
            path: path.to_owned(),
            keyword: keyword.clone(),
            kind: kind.to_owned(),
        });
    }
    match kind {
        "object" => parse_object(object, path),
        "string" => parse_string(object, path),
        "integer" => Ok(Schema::Integer {
            minimum: bound(object, "minimum", path)?,
            maximum: bound(object, "maximum", path)?,
        }),
        _ => Ok(Schema::Boolean),
    }
}

fn parse_object(object: &Map<String, Value>, path: &str) -> Result<Schema, SchemaError> {
    let invalid = |reason: &str| SchemaError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(extra) = object.get("additionalProperties") {
        if extra != &Value::Bool(false) {
            return Err(invalid("`additionalProperties` may only be `false`"));
        }
    }
    let empty = Map::new();
    let properties = match object.get("properties") {
        None => &empty,
        Some(p) => p
            .as_object()
            .ok_or_else(|| invalid("`properties` must be an object"))?,
    };
    let required = match object.get("required") {
        None => Vec::new(),
        Some(r) => r
            .as_array()
            .ok_or_else(|| invalid("`required` must be an array"))?
            .iter()
            .map(|name| {
                name.as_str()
                    .ok_or_else(|| invalid("`required` must list strings"))
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let mut fields = Vec::with_capacity(required.len());
    for name in &required {
        if fields.iter().any(|(n, _)| n == name) {
            return Err(invalid(&format!("`{name}` is listed twice in `required`")));
        }
        let schema = properties
            .get(*name)
            .ok_or_else(|| invalid(&format!("`{name}` is required but not in `properties`")))?;
        fields.push((name.to_string(), parse(schema, &format!("{path}.{name}"))?));
    }
    if let Some(name) = properties.keys().find(|k| !required.contains(&k.as_str())) {
        return Err(SchemaError::OptionalProperty {
            path: path.to_owned(),
            name: name.clone(),
        });
    }
    Ok(Schema::Object(fields))
}

fn parse_string(object: &Map<String, Value>, path: &str) -> Result<Schema, SchemaError> {
    let invalid = |reason: &str| SchemaError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    match (object.get("enum"), object.get("maxLength")) {
        (Some(_), Some(_)) => Err(invalid("`enum` and `maxLength` together")),
        (Some(values), None) => {
            let values = values
                .as_array()
                .ok_or_else(|| invalid("`enum` must be a non-empty array"))?
                .iter()
                .map(|value| {
                    value
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| invalid("`enum` must list strings"))
                })
                .collect::<Result<_, _>>()?;
            Ok(Schema::String(StringSchema::Enum(values)))
        }
        (None, max_length) => {
            let max_length = max_length
                .map(|n| {
                    n.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| invalid("`maxLength` must be an integer in 0..2^32"))
                })
                .transpose()?;
            Ok(Schema::String(StringSchema::Free { max_length }))
        }
    }
}

fn bound(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, SchemaError> {
    object
        .get(key)
        .map(|v| {
            v.as_i64().ok_or_else(|| SchemaError::Invalid {
                path: path.to_owned(),
                reason: format!("`{key}` must be an integer in the i64 range, got {v}"),
            })
        })
        .transpose()
}

/// Property names and enum values must be writable in the restricted escape set.
fn check_text(text: &str, path: &str) -> Result<(), SchemaError> {
    if text.chars().any(|c| c < ' ') {
        return Err(SchemaError::ControlCharacter {
            path: path.to_owned(),
            text: text.to_owned(),
        });
    }
    Ok(())
}
