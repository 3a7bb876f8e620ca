//! The automaton against the schema: it accepts exactly the canonical serialisations.

use super::*;
use serde_json::{json, Value};

fn verdict() -> Schema {
    Schema::from_json_schema(&json!({
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject"]},
            "amount": {"type": "integer", "minimum": 0, "maximum": 1000000},
            "reason": {"type": "string", "maxLength": 200}
        },
        "required": ["decision", "amount", "reason"]
    }))
    .unwrap()
}

fn nested() -> Schema {
    Schema::from_json_schema(&json!({
        "type": "object",
        "required": ["id", "inner", "ok"],
        "properties": {
            "ok": {"type": "boolean"},
            "id": {"type": "integer", "minimum": -50, "maximum": 50},
            "inner": {
                "type": "object",
                "required": ["q\"k", "tags", "empty"],
                "properties": {
                    "tags": {"type": "string", "enum": ["a", "ab", "b\\"]},
                    "q\"k": {"type": "string", "maxLength": 3},
                    "empty": {"type": "object"}
                }
            }
        }
    }))
    .unwrap()
}

/// Whether the automaton takes all of `text` and is then complete.
fn accepts(schema: &Schema, text: &str) -> bool {
    let a = Automaton::new(schema).unwrap();
    a.advance_all(a.start(), text.as_bytes())
        .is_some_and(|s| a.is_complete(s))
}

/// Whether `text` is a prefix of some accepted output.
fn is_prefix(schema: &Schema, text: &[u8]) -> bool {
    let a = Automaton::new(schema).unwrap();
    a.advance_all(a.start(), text).is_some()
}

#[test]
fn canonical_serialisations_are_accepted() {
    let v = verdict();
    assert!(accepts(
        &v,
        r#"{"decision":"approve","amount":0,"reason":""}"#
    ));
    assert!(accepts(
        &v,
        r#"{"decision":"reject","amount":1000000,"reason":"a \"quoted\" \\ é 日本"}"#
    ));
    let n = nested();
    assert!(accepts(
        &n,
        r#"{"id":-50,"inner":{"q\"k":"x\\y","tags":"b\\","empty":{}},"ok":false}"#
    ));
    assert!(accepts(
        &n,
        r#"{"id":7,"inner":{"q\"k":"","tags":"ab","empty":{}},"ok":true}"#
    ));
}

#[test]
fn anything_else_is_rejected() {
    let v = verdict();
    for bad in [
        // Whitespace, other order, other keys, missing or extra properties.
        r#"{ "decision":"approve","amount":0,"reason":""}"#,
        r#"{"amount":0,"decision":"approve","reason":""}"#,
        r#"{"decision":"approve","amount":0}"#,
        r#"{"decision":"approve","amount":0,"reason":"","x":1}"#,
        // Enum, integer form and bounds.
        r#"{"decision":"maybe","amount":0,"reason":""}"#,
        r#"{"decision":"approved","amount":0,"reason":""}"#,
        r#"{"decision":"approve","amount":-1,"reason":""}"#,
        r#"{"decision":"approve","amount":1000001,"reason":""}"#,
        r#"{"decision":"approve","amount":01,"reason":""}"#,
        r#"{"decision":"approve","amount":1.5,"reason":""}"#,
        r#"{"decision":"approve","amount":"1","reason":""}"#,
        // Escapes outside the restricted set, control characters.
        r#"{"decision":"approve","amount":0,"reason":"\n"}"#,
        r#"{"decision":"approve","amount":0,"reason":"\u0041"}"#,
        "{\"decision\":\"approve\",\"amount\":0,\"reason\":\"\n\"}",
        // Anything after the end.
        r#"{"decision":"approve","amount":0,"reason":""} "#,
    ] {
        assert!(!accepts(&v, bad), "{bad}");
    }
    // Too long: 201 characters.
    let long = format!(
        r#"{{"decision":"approve","amount":0,"reason":"{}"}}"#,
        "é".repeat(201)
    );
    assert!(!accepts(&v, &long));
    assert!(accepts(&v, &long.replacen('é', "", 1)));
}

#[test]
fn prefixes_are_cut_at_the_first_wrong_byte() {
    let v = verdict();
    assert!(is_prefix(&v, br#"{"decision":"re"#));
    assert!(!is_prefix(&v, br#"{"decision":"rx"#));
    assert!(!is_prefix(&v, br#"{"decision" "#));
    assert!(!is_prefix(&v, br#"{"dec "#));
    assert!(is_prefix(&v, br#"{"decision":"reject","amount":100000"#));
    assert!(is_prefix(&v, br#"{"decision":"reject","amount":1000000"#));
    assert!(!is_prefix(&v, br#"{"decision":"reject","amount":10000000"#));
    assert!(!is_prefix(&v, br#"{"decision":"reject","amount":2000000"#));
    assert!(!is_prefix(&v, br#"{"decision":"reject","amount":-"#));
    assert!(!is_prefix(&v, br#"{"decision":"reject","amount":,"#));
    assert!(!is_prefix(&v, b"x"));
    assert!(!is_prefix(&nested(), br#"{"id":-0"#));
    assert!(!is_prefix(&nested(), br#"{"id":51"#));
    assert!(!is_prefix(&nested(), br#"{"id":1,"inner":{"q\"k":"abcd"#));
    assert!(!is_prefix(
        &nested(),
        br#"{"id":1,"inner":{"q\"k":"","tags":"b""#
    ));
}

#[test]
fn bytes_to_go_is_the_shortest_completion() {
    let v = verdict();
    let a = Automaton::new(&v).unwrap();
    let shortest = r#"{"decision":"reject","amount":0,"reason":""}"#;
    assert_eq!(a.bytes_to_go(a.start()), shortest.len() as u64);
    for (prefix, rest) in [
        (r#"{"decision":"a"#, r#"pprove","amount":0,"reason":""}"#),
        (r#"{"decision":"reject","amount":12"#, r#","reason":""}"#),
        (r#"{"decision":"reject","amount":0,"reason":"ab\"#, r#"\"}"#),
    ] {
        let s = a.advance_all(a.start(), prefix.as_bytes()).unwrap();
        assert_eq!(a.bytes_to_go(s), rest.len() as u64, "{prefix}");
        assert!(a.is_complete(a.advance_all(s, rest.as_bytes()).unwrap()));
    }
    let low = Schema::from_json_schema(&json!({
        "type": "object", "required": ["n"],
        "properties": {"n": {"type": "integer", "minimum": 1000}}
    }))
    .unwrap();
    let a = Automaton::new(&low).unwrap();
    assert_eq!(a.bytes_to_go(a.start()), r#"{"n":1000}"#.len() as u64);
}

/// A small deterministic generator for the property test.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// A random value of `schema`, written canonically by hand.
fn random_value(schema: &Schema, rng: &mut Lcg) -> String {
    match schema {
        Schema::Object(props) => {
            let fields: Vec<String> = props
                .iter()
                .map(|(k, s)| format!("{}:{}", quoted(k), random_value(s, rng)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Schema::String(StringSchema::Enum(values)) => {
            quoted(&values[rng.below(values.len() as u64) as usize])
        }
        Schema::String(StringSchema::Free { max_length }) => {
            let alphabet = ['a', ' ', '"', '\\', 'é', '€', '𝄞', '/', '\u{7f}'];
            let n = rng.below(u64::from(max_length.unwrap_or(10)) + 1);
            let text: String = (0..n)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            quoted(&text)
        }
        Schema::Integer { minimum, maximum } => {
            let lo = i128::from(minimum.unwrap_or(-1_000_000));
            let hi = i128::from(maximum.unwrap_or(1_000_000));
            (lo + i128::from(rng.below((hi - lo + 1) as u64))).to_string()
        }
        Schema::Boolean => ["true", "false"][rng.below(2) as usize].to_owned(),
    }
}

fn quoted(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Whether a parsed JSON value fits the schema.
fn fits(schema: &Schema, value: &Value) -> bool {
    match (schema, value) {
        (Schema::Object(props), Value::Object(map)) => {
            map.len() == props.len()
                && props
                    .iter()
                    .all(|(k, s)| map.get(k).is_some_and(|v| fits(s, v)))
        }
        (Schema::String(StringSchema::Enum(values)), Value::String(s)) => values.contains(s),
        (Schema::String(StringSchema::Free { max_length }), Value::String(s)) => {
            max_length.is_none_or(|m| s.chars().count() <= m as usize)
        }
        (Schema::Integer { minimum, maximum }, Value::Number(n)) => n
            .as_i64()
            .is_some_and(|n| minimum.is_none_or(|m| n >= m) && maximum.is_none_or(|m| n <= m)),
        (Schema::Boolean, Value::Bool(_)) => true,
        _ => false,
    }
}

#[test]
fn random_values_are_accepted_and_mutations_are_accepted_only_if_valid() {
    let mut rng = Lcg(7);
    let mut valid_mutations = 0;
    for schema in [verdict(), nested()] {
        let a = Automaton::new(&schema).unwrap();
        for _ in 0..300 {
            let text = random_value(&schema, &mut rng);
            let value: Value = serde_json::from_str(&text).unwrap();
            assert!(fits(&schema, &value), "{text}");
            assert!(accepts(&schema, &text), "{text}");
            // Every proper prefix is a live, incomplete state.
            for end in 0..text.len() {
                let s = a.advance_all(a.start(), &text.as_bytes()[..end]).unwrap();
                assert!(!a.is_complete(s));
            }
            // A one-byte change is accepted only if the result is again a canonical value.
            let mut bytes = text.clone().into_bytes();
            let at = rng.below(bytes.len() as u64) as usize;
            let replacements = b"0123456789\"\\{},:-ar \xc3\xa9";
            bytes[at] = replacements[rng.below(replacements.len() as u64) as usize];
            let complete = a
                .advance_all(a.start(), &bytes)
                .is_some_and(|s| a.is_complete(s));
            if complete {
                let mutated = String::from_utf8(bytes).unwrap();
                let value: Value = serde_json::from_str(&mutated).unwrap();
                assert!(fits(&schema, &value), "{mutated}");
                valid_mutations += 1;
            }
        }
    }
    // Some changes (a digit, a letter inside a string) keep the value valid.
    assert!(valid_mutations > 20, "{valid_mutations}");
}

#[test]
fn canonical_schema_json_round_trips() {
    for schema in [verdict(), nested()] {
        let canonical = schema.canonical_json();
        let reparsed =
            Schema::from_json_schema(&serde_json::from_str(&canonical).unwrap()).unwrap();
        assert_eq!(reparsed, schema);
        assert_eq!(reparsed.canonical_json(), canonical);
    }
    assert_eq!(
        verdict().canonical_json(),
        concat!(
            r#"{"type":"object","properties":{"#,
            r#""decision":{"type":"string","enum":["approve","reject"]},"#,
            r#""amount":{"type":"integer","minimum":0,"maximum":1000000},"#,
            r#""reason":{"type":"string","maxLength":200}},"#,
            r#""required":["decision","amount","reason"]}"#
        )
    );
}

#[test]
fn unsupported_schemas_are_named() {
    let err = |v: Value| Schema::from_json_schema(&v).unwrap_err().to_string();
    assert!(err(json!({"type": "integer"})).contains("top level"));
    assert!(err(
        json!({"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]})
    )
    .contains("$.x: type `number`"));
    assert!(err(json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "a"}}, "required": ["x"]}))
        .contains("keyword `pattern`"));
    assert!(
        err(json!({"type": "object", "properties": {"x": {"type": "boolean"}}}))
            .contains("`x` is not in `required`")
    );
    assert!(
        err(json!({"type": "object", "properties": {}, "required": ["x"]}))
            .contains("`x` is required but not in `properties`")
    );
    assert!(err(json!({"type": "object", "additionalProperties": true}))
        .contains("additionalProperties"));
    assert!(err(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "minimum": 3, "maximum": 2}}}))
        .contains("greater"));
    assert!(err(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "integer", "minimum": 1.5}}}))
        .contains("i64"));
    assert!(err(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "enum": ["a\n"]}}}))
        .contains("control character"));
    assert!(err(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "enum": []}}}))
        .contains("non-empty"));
    assert!(err(json!({"type": "object", "required": ["x"], "properties": {"x": {"type": "string", "enum": ["a"], "maxLength": 2}}}))
        .contains("together"));
    assert!(err(json!({"type": "object", "oneOf": []})).contains("keyword `oneOf`"));
    // Annotations are accepted and ignored.
    let annotated =
        json!({"type": "object", "title": "t", "description": "d", "additionalProperties": false});
    assert_eq!(
        Schema::from_json_schema(&annotated).unwrap(),
        Schema::Object(Vec::new())
    );
}

#[test]
fn end_of_generation_tokens_are_never_allowed_even_typed_normal() {
    use crate::tokenizer::TokenizerSpec;
    use crate::tokenizer::{byte_to_char, PreTokenizer, SpecialTokenIds, TokenType, Tokenizer};
    // Byte tokens, then `END` and `EOT`: plain text as far as their bytes go, typed normal,
    // but the file names them EOS and EOT.
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_to_char(b).to_string()).collect();
    tokens.extend(["END".to_owned(), "EOT".to_owned()]);
    let tokenizer = Tokenizer::new(TokenizerSpec {
        token_types: vec![TokenType::Normal; tokens.len()],
        tokens,
        merges: Vec::new(),
        pre_tokenizer: PreTokenizer::SmolLm,
        special_ids: SpecialTokenIds {
            eos: Some(256),
            eot: Some(257),
            ..SpecialTokenIds::default()
        },
        add_bos: false,
    })
    .unwrap();
    let schema = verdict();
    let automaton = Automaton::new(&schema).unwrap();
    let in_reason = automaton
        .advance_all(
            automaton.start(),
            br#"{"decision":"reject","amount":1,"reason":""#,
        )
        .unwrap();
    let allowed = TokenIndex::new(&tokenizer).allowed(&automaton, in_reason, 100);
    assert!(allowed.contains(&u32::from(b'E')));
    assert!(
        !allowed.contains(&256) && !allowed.contains(&257),
        "{allowed:?}"
    );
}

#[test]
fn schemas_built_by_hand_are_validated_before_an_automaton_is_made() {
    let object = |name: &str, schema: Schema| Schema::Object(vec![(name.to_owned(), schema)]);
    let enumeration = |values: &[&str]| {
        Schema::String(StringSchema::Enum(
            values.iter().map(|v| v.to_string()).collect(),
        ))
    };
    let invalid = |path: &str, reason: &str| SchemaError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let cases = [
        (
            object("x", enumeration(&[])),
            invalid("$.x", "`enum` must be a non-empty array"),
        ),
        (
            object("x", enumeration(&["a", "b", "a"])),
            invalid("$.x", "`a` is listed twice in `enum`"),
        ),
        (
            object(
                "n",
                Schema::Integer {
                    minimum: Some(5),
                    maximum: Some(1),
                },
            ),
            SchemaError::EmptyRange {
                path: "$.n".to_owned(),
            },
        ),
        (
            Schema::Object(vec![
                ("a".to_owned(), Schema::Boolean),
                ("a".to_owned(), Schema::Boolean),
            ]),
            invalid("$", "property `a` appears twice"),
        ),
        (
            object("o", object("a\u{1}", Schema::Boolean)),
            SchemaError::ControlCharacter {
                path: "$.o".to_owned(),
                text: "a\u{1}".to_owned(),
            },
        ),
        (
            object("x", enumeration(&["ok", "tab\there"])),
            SchemaError::ControlCharacter {
                path: "$.x".to_owned(),
                text: "tab\there".to_owned(),
            },
        ),
        (Schema::Boolean, SchemaError::TopLevelNotObject),
    ];
    for (schema, error) in cases {
        assert_eq!(schema.validate(), Err(error.clone()), "{schema:?}");
        assert_eq!(Automaton::new(&schema), Err(error.clone()), "{schema:?}");
        assert_eq!(
            ConstrainedOutput::new(&schema, 100).unwrap_err(),
            ConstraintError::Schema(error),
            "{schema:?}"
        );
    }
    // Bounds in order, one of them open, and an empty object are fine.
    let fine = object(
        "n",
        Schema::Integer {
            minimum: Some(5),
            maximum: Some(5),
        },
    );
    assert!(ConstrainedOutput::new(&fine, 100).is_ok());
    assert!(ConstrainedOutput::new(&Schema::Object(Vec::new()), 100).is_ok());
}
