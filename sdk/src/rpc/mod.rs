//! A NEAR JSON-RPC client over HTTP(S) with failover: several endpoints, tried in turn on
//! transport errors, timeouts, HTTP 5xx and NEAR's `INTERNAL_ERROR`, with exponential backoff
//! between rounds; the last endpoint that answered is tried first next time. Once a chain id
//! is pinned ([`NearRpc::pin_chain_id`]), an endpoint serves calls only after it said it
//! serves that chain: failover never lands on another network. Reads are monotonic: a `query`
//! answered at an older final block than one this client already read at is refused (and the
//! next endpoint tried), so failing over to a lagging endpoint never reads older state than this
//! client already saw — a request read at some block is never reported gone by an endpoint that
//! has not reached that block. (A chain reset to a lower height looks the same: use a new
//! client for a reset chain.)

mod error;
mod methods;
mod outcome;
mod views;

pub use error::ChainError;
pub use methods::hash58;
pub use outcome::{Nep297Event, ReceiptOutcome, TxOutcome, TxStatus};
pub use views::{AccessKeyView, AccountView, ChainStatus, TxWait};

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing::{debug, warn};

/// The longest answer read from an endpoint (a contract's code or state is far shorter): a
/// longer one is refused rather than held in memory.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// The longest path segment [`redact_url`] shows; a longer one is likely a key.
const LONGEST_SHOWN_SEGMENT: usize = 12;

/// The instant `wait` from now; a wait too long to count (`Duration::MAX`: "for ever") ends in
/// about a century instead of overflowing.
pub fn deadline_after(wait: std::time::Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait)
        .unwrap_or_else(|| now + std::time::Duration::from_secs(100 * 365 * 24 * 3600))
}

/// `url` fit for logs and errors. RPC providers put API keys in the query (`?apiKey=`), the
/// user info (`user:key@`) or a path segment (`/v3/<key>`), so the query shows as `?…`, the
/// user info not at all, and a path segment longer than 12 characters as `…`; the scheme, host,
/// port and short segments (`/rpc`, `/v3`) stay, so a wrong path can still be seen.
pub fn redact_url(url: &str) -> String {
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => parsed,
        // Not a URL (a config error names it): what precedes the path, less any user info.
        _ => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            let more = if rest.trim_end_matches('/') == host {
                ""
            } else {
                "/…"
            };
            return match scheme {
                "" => format!("{host}{more}"),
                scheme => format!("{scheme}://{host}{more}"),
            };
        }
    };
    let mut shown = format!(
        "{}://{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default()
    );
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    for segment in parsed.path_segments().into_iter().flatten() {
        shown.push('/');
        if segment.len() > LONGEST_SHOWN_SEGMENT {
            shown.push('…');
        } else {
            shown.push_str(segment);
        }
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// How hard [`NearRpc`] tries before giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent in all (over every endpoint) before [`ChainError::AllEndpointsFailed`].
    pub attempts: u32,
    /// Pause after the first round of endpoints has failed; doubled after each round.
    pub initial_backoff: Duration,
    /// Longest pause between rounds.
    pub max_backoff: Duration,
    /// How long one HTTP request may take (a `send_tx` waits for execution: keep this above
    /// the node's own wait, 10 s on NEAR).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A NEAR JSON-RPC client. Cheap to clone; clones share the connection pool and the memory of
/// which endpoint is healthy.
#[derive(Clone)]
pub struct NearRpc {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoints: Vec<reqwest::Url>,
    /// The endpoints as logs and errors show them ([`redact_url`]).
    shown: Vec<String>,
    policy: RetryPolicy,
    healthy: AtomicUsize,
    /// The chain every endpoint must serve, once pinned.
    chain_id: OnceLock<String>,
    /// For each endpoint, whether it said it serves the pinned chain.
    on_chain: Vec<AtomicBool>,
    /// The highest block a `query` was answered at: no answer from an older block is taken.
    highest_read: AtomicU64,
}

impl std::fmt::Debug for NearRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearRpc")
            .field("endpoints", &self.inner.shown)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl NearRpc {
    /// A client of the nodes at `urls` (http or https), tried in this order.
    pub fn new(urls: Vec<String>, policy: RetryPolicy) -> Result<Self, ChainError> {
        if urls.is_empty() {
            return Err(ChainError::NoEndpoints);
        }
        let endpoints = urls
            .iter()
            .map(|url| {
                let parsed = reqwest::Url::parse(url).map_err(|e| ChainError::InvalidUrl {
                    url: redact_url(url),
                    message: e.to_string(),
                })?;
                match parsed.scheme() {
                    "http" | "https" => Ok(parsed),
                    other => Err(ChainError::InvalidUrl {
                        url: redact_url(url),
                        message: format!("scheme `{other}`"),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        // reqwest's rustls needs a process-wide crypto provider; an error means one is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .connect_timeout(policy.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ChainError::Transport {
                endpoint: urls
                    .iter()
                    .map(|url| redact_url(url))
                    .collect::<Vec<_>>()
                    .join(", "),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let on_chain = endpoints.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                shown: urls.iter().map(|url| redact_url(url)).collect(),
                endpoints,
                policy,
                healthy: AtomicUsize::new(0),
                chain_id: OnceLock::new(),
                on_chain,
                highest_read: AtomicU64::new(0),
            }),
        })
    }

    /// Requires every endpoint to serve chain `chain_id` (`testnet`, `mainnet`...): before its
    /// first call, each endpoint is asked for its chain id (`status`), and one that serves
    /// another chain is skipped like an unreachable one ([`ChainError::WrongChain`]). Clones
    /// share the pin. Pinning another chain id than the pinned one is refused.
    pub fn pin_chain_id(&self, chain_id: &str) -> Result<(), ChainError> {
        let pinned = self.inner.chain_id.get_or_init(|| chain_id.to_string());
        if pinned != chain_id {
            return Err(ChainError::ChainAlreadyPinned {
                pinned: pinned.clone(),
                asked: chain_id.to_string(),
            });
        }
        Ok(())
    }

    /// The endpoint that answered last (the first one tried next), in full (API keys included:
    /// [`redact_url`] it before showing it).
    pub fn healthy_endpoint(&self) -> String {
        let index = self.inner.healthy.load(Ordering::Relaxed);
        self.inner.endpoints[index].to_string()
    }

    /// Calls `method` with `params` and returns its `result`, failing over between endpoints.
    /// NEAR's structured errors are returned as they are (they are answers, not failures of
    /// the endpoint), except `INTERNAL_ERROR`, which is retried.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        self.call_accepting(method, params, |_, _| Ok(())).await
    }

    /// [`NearRpc::call`], where `accept(endpoint index, result)` may refuse an answer: a
    /// retryable refusal moves on to the next endpoint like a failed call.
    pub(crate) async fn call_accepting(
        &self,
        method: &str,
        params: Value,
        accept: impl Fn(usize, &Value) -> Result<(), ChainError>,
    ) -> Result<Value, ChainError> {
        self.call_noting_delivery(method, params, accept, &mut false)
            .await
    }

    /// [`NearRpc::call_accepting`], setting `may_have_delivered` when an attempt failed in a
    /// way that may have delivered the call ([`ChainError::may_have_sent`]) before another
    /// endpoint was tried: the error finally returned, from another endpoint, does not say so.
    pub(crate) async fn call_noting_delivery(
        &self,
        method: &str,
        params: Value,
        accept: impl Fn(usize, &Value) -> Result<(), ChainError>,
        may_have_delivered: &mut bool,
    ) -> Result<Value, ChainError> {
        let inner = &self.inner;
        let count = inner.endpoints.len();
        let first = inner.healthy.load(Ordering::Relaxed);
        let mut backoff = inner.policy.initial_backoff;
        let mut last = None;
        let attempts = inner.policy.attempts.max(1);
        for attempt in 0..attempts {
            let index = (first + attempt as usize) % count;
            if attempt > 0 && (attempt as usize).is_multiple_of(count) {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(inner.policy.max_backoff);
            }
            // Whether the call itself went out: a failed chain-id probe delivered nothing.
            let (answer, called) = match self.check_chain(index).await {
                Ok(()) => (self.call_once(index, method, &params).await, true),
                Err(error) => (Err(error), false),
            };
            // With other endpoints to try, one whose answer is its own fault (a 4xx: a wrong
            // path, an expired key; a body that is not JSON-RPC) is passed over too.
            let endpoint_fault = count > 1 && answer.as_ref().is_err_and(is_endpoint_fault);
            let answer = answer.and_then(|result| accept(index, &result).map(|()| result));
            match answer {
                Ok(result) => {
                    inner.healthy.store(index, Ordering::Relaxed);
                    return Ok(result);
                }
                Err(error) if error.is_retryable() || endpoint_fault => {
                    warn!(endpoint = %inner.shown[index], method, %error, "RPC attempt failed");
                    *may_have_delivered |= called && error.may_have_sent();
                    last = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(ChainError::AllEndpointsFailed {
            attempts,
            endpoints: inner.shown.join(", "),
            last: Box::new(last.expect("at least one attempt was made")),
        })
    }

    /// Takes a `query` answer of endpoint `index` unless it was read at an older block than
    /// one already read ([`ChainError::BehindChain`]); an answer without a height is taken.
    pub(crate) fn accept_query_height(
        &self,
        index: usize,
        answer: &Value,
    ) -> Result<(), ChainError> {
        let Some(height) = answer.get("block_height").and_then(Value::as_u64) else {
            return Ok(());
        };
        let highest = self.inner.highest_read.fetch_max(height, Ordering::Relaxed);
        if height < highest {
            return Err(ChainError::BehindChain {
                endpoint: self.inner.shown[index].clone(),
                answered_at: height,
                already_read: highest,
            });
        }
        Ok(())
    }

    /// Whether endpoint `index` may serve calls: always, until a chain id is pinned; then once
    /// it said it serves that chain (asked the first time, and again after a refusal).
    async fn check_chain(&self, index: usize) -> Result<(), ChainError> {
        let Some(expected) = self.inner.chain_id.get() else {
            return Ok(());
        };
        if self.inner.on_chain[index].load(Ordering::Relaxed) {
            return Ok(());
        }
        let status = self.call_once(index, "status", &json!([])).await?;
        let served = status["chain_id"].as_str().ok_or_else(|| {
            ChainError::decode(
                format!("the status answer of {}", self.inner.shown[index]),
                "no chain_id",
            )
        })?;
        if served != expected {
            return Err(ChainError::WrongChain {
                endpoint: self.inner.shown[index].clone(),
                expected: expected.clone(),
                served: served.to_string(),
            });
        }
        self.inner.on_chain[index].store(true, Ordering::Relaxed);
        Ok(())
    }

    /// One request to one endpoint.
    async fn call_once(
        &self,
        index: usize,
        method: &str,
        params: &Value,
    ) -> Result<Value, ChainError> {
        let url = &self.inner.endpoints[index];
        let endpoint = self.inner.shown[index].clone();
        debug!(%endpoint, method, "RPC request");
        let body = json!({"jsonrpc": "2.0", "id": "sdk", "method": method, "params": params});
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                ChainError::RequestTimeout {
                    endpoint: endpoint.clone(),
                    after: self.inner.policy.request_timeout,
                }
            } else {
                ChainError::Transport {
                    endpoint: endpoint.clone(),
                    // reqwest names the URL it failed on: in full, with its API key.
                    message: error_chain(&e.without_url()),
                }
            }
        };
        let mut response = self
            .inner
            .http
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ChainError::Transport {
                    endpoint,
                    message: format!(
                        "the answer to {method} is longer than {MAX_ANSWER_BYTES} bytes: not a \
                         NEAR node's answer"
                    ),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        // NEAR answers structured errors with HTTP 200, 400, 408 or 500: read the body first.
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(mut answer) if answer.get("error").is_some() || answer.get("result").is_some() => {
                if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
                    return Err(ChainError::from_rpc_error(error));
                }
                Ok(answer["result"].take())
            }
            _ if !status.is_success() => Err(ChainError::Http {
                endpoint,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            }),
            _ => Err(ChainError::decode(
                format!("the answer of {endpoint} to {method}"),
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(500)
                    .collect::<String>(),
            )),
        }
    }
}

/// Whether `error`, an endpoint's answer, is that endpoint's fault rather than the chain's: an
/// HTTP client error (NEAR's own errors come as JSON-RPC) or a body that is not JSON-RPC.
fn is_endpoint_fault(error: &ChainError) -> bool {
    match error {
        ChainError::Http { status, .. } => (400..500).contains(status),
        ChainError::Decode { .. } => true,
        _ => false,
    }
}

/// An error with its sources, which say why a connection failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_for_ever_does_not_overflow() {
        let now = tokio::time::Instant::now();
        assert!(deadline_after(std::time::Duration::MAX) > now);
        let soon = deadline_after(std::time::Duration::from_secs(5));
        assert!(soon >= now + std::time::Duration::from_secs(5));
    }

    #[test]
    fn urls_are_shown_without_keys() {
        for (url, shown) in [
            ("http://127.0.0.1:3030", "http://127.0.0.1:3030/"),
            (
                "https://rpc.testnet.near.org",
                "https://rpc.testnet.near.org/",
            ),
            ("http://127.0.0.1:3030/rpc", "http://127.0.0.1:3030/rpc"),
            ("https://rpc.x.io/?apiKey=SECRET", "https://rpc.x.io/?…"),
            (
                "https://user:SECRET@rpc.x.io:8443/",
                "https://rpc.x.io:8443/",
            ),
            (
                "https://near-mainnet.x.io/v3/0123456789abcdef0123456789abcdef",
                "https://near-mainnet.x.io/v3/…",
            ),
            ("https://rpc.x.io#SECRET", "https://rpc.x.io/?…"),
            ("https://user:SECRET@", "https:///…"),
            ("not a url?key=SECRET", "not a url/…"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[tokio::test]
    async fn errors_and_the_client_never_show_an_endpoints_key() {
        let url = "http://user:PASSWORD@127.0.0.1:1/?apiKey=SECRET";
        let policy = RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::default()
        };
        let rpc = NearRpc::new(vec![url.into()], policy).unwrap();
        let error = rpc.status().await.unwrap_err();
        let shown = format!("{error} {error:?} {rpc:?}");
        assert!(shown.contains("127.0.0.1:1"), "{shown}");
        for secret in ["SECRET", "PASSWORD", "user"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let invalid = NearRpc::new(
            vec!["ftp://user:PASSWORD@h/?apiKey=SECRET".into()],
            RetryPolicy::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            !invalid.contains("SECRET") && !invalid.contains("PASSWORD"),
            "{invalid}"
        );
    }
}
