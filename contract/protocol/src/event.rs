//! NEP-297 event log lines, as the oracle's contracts write them and clients read them.

use serde::Serialize;

/// What starts a NEP-297 event's log line; the event's JSON follows.
pub const EVENT_LOG_PREFIX: &str = "EVENT_JSON:";

/// An event's JSON, fields in the standard's order.
#[derive(Serialize)]
struct EventJson<'a, T: Serialize> {
    standard: &'a str,
    version: &'a str,
    event: &'a str,
    data: [&'a T; 1],
}

/// The log line of event `event` of `standard` at `version` with `data` as its single data
/// entry: `EVENT_JSON:{"standard":…,"version":…,"event":…,"data":[…]}`.
pub fn event_log_line<T: Serialize>(
    standard: &str,
    version: &str,
    event: &str,
    data: &T,
) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(&EventJson {
        standard,
        version,
        event,
        data: [data],
    })?;
    Ok(format!("{EVENT_LOG_PREFIX}{json}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_follows_nep_297() {
        #[derive(Serialize)]
        struct Created {
            request_id: u64,
        }
        let line = event_log_line(
            "ai-oracle",
            "1.0.0",
            "request_created",
            &Created { request_id: 7 },
        )
        .unwrap();
        assert_eq!(
            line,
            r#"EVENT_JSON:{"standard":"ai-oracle","version":"1.0.0","event":"request_created","data":[{"request_id":7}]}"#
        );
    }
}
