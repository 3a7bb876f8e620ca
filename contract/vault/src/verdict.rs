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
    reason: String,
    decision: String,
}

/// The verdict `output` states, or `None` when it is anything but
/// `{"reason":"…","decision":"approve"|"reject"}` in canonical compact form with a reason of at
/// most `REASON_MAX_CHARS` characters.
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
            parse_verdict(r#"{"reason":"receipt matches","decision":"approve"}"#),
            Some(Verdict::Approve {
                reason: "receipt matches".into()
            })
        );
        assert_eq!(
            parse_verdict(r#"{"reason":"","decision":"reject"}"#),
            Some(Verdict::Reject {
                reason: String::new()
            })
        );
        assert_eq!(
            parse_verdict(r#"{"reason":"say \"no\"","decision":"reject"}"#),
            Some(Verdict::Reject {
                reason: "say \"no\"".into()
            })
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        let long_reason = format!(
            r#"{{"reason":"{}","decision":"approve"}}"#,
            "x".repeat(REASON_MAX_CHARS as usize + 1)
        );
        for output in [
            "approve",
            "",
            r#"{"reason":"ok","decision":"Approve"}"#,
            r#"{"reason":"ok","decision":"yes"}"#,
            r#"{"decision":"approve"}"#,
            r#"{"decision":"approve","reason":"ok"}"#,
            r#"{"reason": "ok","decision":"approve"}"#,
            r#"{"reason":"ok","decision":"approve","amount":5}"#,
            r#"{"reason":"ok","decision":"approve","decision":"approve"}"#,
            r#"{"reason":"ok","decision":"approve"} "#,
            r#"{"reason":"ok","decision":"approve"}{"reason":"ok","decision":"approve"}"#,
            r#"{"reason":5,"decision":"approve"}"#,
            &long_reason,
        ] {
            assert_eq!(parse_verdict(output), None, "{output}");
        }
    }
}
