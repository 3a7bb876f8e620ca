//! Reading the model's verdict strictly: the output must be exactly the canonical JSON of the
//! verdict schema, or the claim is rejected.

use crate::prompt::REASON_MAX_CHARS;
use near_sdk::{near, serde_json};

/// What the model decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approve { reason: String },
    Reject { reason: String },
}

#[near(serializers = [json])]
#[serde(deny_unknown_fields)]
struct RawVerdict {
    decision: String,
    reason: String,
}

/// The verdict `output` states, or `None` when it is anything but
/// `{"decision":"approve"|"reject","reason":"…"}` in canonical compact form with a reason of
/// at most `REASON_MAX_CHARS` characters.
pub fn parse_verdict(output: &str) -> Option<Verdict> {
    let raw: RawVerdict = serde_json::from_str(output).ok()?;
    let canonical = serde_json::to_string(&raw).ok()?;
    if canonical != output || raw.reason.chars().count() > REASON_MAX_CHARS as usize {
        return None;
    }
    match raw.decision.as_str() {
        "approve" => Some(Verdict::Approve { reason: raw.reason }),
        "reject" => Some(Verdict::Reject { reason: raw.reason }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_verdicts_parse() {
        assert_eq!(
            parse_verdict(r#"{"decision":"approve","reason":"receipt matches"}"#),
            Some(Verdict::Approve {
                reason: "receipt matches".into()
            })
        );
        assert_eq!(
            parse_verdict(r#"{"decision":"reject","reason":""}"#),
            Some(Verdict::Reject {
                reason: String::new()
            })
        );
        assert_eq!(
            parse_verdict(r#"{"decision":"reject","reason":"say \"no\""}"#),
            Some(Verdict::Reject {
                reason: "say \"no\"".into()
            })
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        let long_reason = format!(
            r#"{{"decision":"approve","reason":"{}"}}"#,
            "x".repeat(REASON_MAX_CHARS as usize + 1)
        );
        for output in [
            "approve",
            "",
            r#"{"decision":"Approve","reason":"ok"}"#,
            r#"{"decision":"yes","reason":"ok"}"#,
            r#"{"decision":"approve"}"#,
            r#"{"reason":"ok","decision":"approve"}"#,
            r#"{"decision": "approve","reason":"ok"}"#,
            r#"{"decision":"approve","reason":"ok","amount":5}"#,
            r#"{"decision":"approve","decision":"approve","reason":"ok"}"#,
            r#"{"decision":"approve","reason":"ok"} "#,
            r#"{"decision":"approve","reason":"ok"}{"decision":"approve","reason":"ok"}"#,
            r#"{"decision":"approve","reason":5}"#,
            &long_reason,
        ] {
            assert_eq!(parse_verdict(output), None, "{output}");
        }
    }
}
