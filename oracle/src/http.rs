//! The node's HTTP server: `/metrics` (Prometheus text), `/health` (JSON, `health::HealthReport`:
//! ok, degraded or failed, last block seen, RPC reachable, queue depth, the engine's failures
//! on this machine, the node's standing with the oracle, the fatal error a failing node stops
//! on), `/jobs`
//! (the journal's jobs, JSON, a page at a time: `?after=<request id>&limit=<n>`; results not
//! revealed yet hidden) and
//! `/jobs/counts` (jobs by state).

use crate::health::Health;
use crate::journal::{Job, Journal};
use crate::metrics::Metrics;
use crate::pipeline::Stop;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What the handlers read.
#[derive(Clone)]
pub struct Shared {
    pub account_id: String,
    pub journal: Arc<Journal>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    /// The node's stop signal, whose fatal error `/health` reports.
    pub stop: Stop,
}

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/jobs", get(jobs))
        .route("/jobs/counts", get(job_counts))
        .with_state(shared)
}

/// Binds `addr` (port 0: any free port) and returns the bound address and the server, which
/// runs until `shutdown` resolves.
pub async fn bind(
    addr: &str,
    shared: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let server = axum::serve(listener, router(shared)).with_graceful_shutdown(shutdown);
    Ok((bound, async move { server.await }))
}

async fn metrics(State(shared): State<Shared>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(&shared.journal, &shared.health),
    )
}

/// The report, with HTTP 200 when the node is ok and 503 when it is degraded or failed (same
/// JSON body), so a plain HTTP check alerts without reading it.
async fn health(State(shared): State<Shared>) -> impl IntoResponse {
    let report = shared
        .health
        .report(&shared.account_id, shared.stop.failure());
    let code = if report.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, json(&report))
}

/// Jobs per `/jobs` page unless `limit` says otherwise, and the most it may say.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// A `/jobs` page: request ids above `after`, at most `limit` of them.
#[derive(Debug, PartialEq, Eq)]
struct Page {
    after: Option<u64>,
    limit: usize,
}

impl Page {
    /// Reads `after=<u64>&limit=<n>` (both optional).
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut page = Page {
            after: None,
            limit: DEFAULT_PAGE,
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |what: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{what} must be a whole number, got `{value}`"))
            };
            match key {
                "after" => page.after = Some(number("after")?),
                "limit" => page.limit = (number("limit")? as usize).clamp(1, MAX_PAGE),
                other => return Err(format!("unknown parameter `{other}` (after, limit)")),
            }
        }
        Ok(page)
    }
}

async fn jobs(State(shared): State<Shared>, RawQuery(query): RawQuery) -> impl IntoResponse {
    let page = match Page::parse(query.as_deref()) {
        Ok(page) => page,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let journal = shared.journal.clone();
    let read = tokio::task::spawn_blocking(move || journal.jobs_page(page.after, page.limit));
    match read.await {
        Ok(Ok(jobs)) => {
            let jobs: Vec<Job> = jobs.into_iter().map(Job::without_secrets).collect();
            json(&jobs).into_response()
        }
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn job_counts(State(shared): State<Shared>) -> impl IntoResponse {
    match shared.journal.counts() {
        Ok(counts) => json(&counts).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn json(value: &impl serde::Serialize) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("views serialise"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_pages_are_read_from_the_query() {
        assert_eq!(
            Page::parse(None),
            Ok(Page {
                after: None,
                limit: DEFAULT_PAGE
            })
        );
        assert_eq!(
            Page::parse(Some("after=41&limit=5")),
            Ok(Page {
                after: Some(41),
                limit: 5
            })
        );
        assert_eq!(Page::parse(Some("limit=999999")).unwrap().limit, MAX_PAGE);
        assert!(Page::parse(Some("after=x")).unwrap_err().contains("after"));
        assert!(Page::parse(Some("from=3")).unwrap_err().contains("from"));
    }

    /// `GET path` from the server at `addr`: status code and body.
    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.0\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    #[tokio::test]
    async fn jobs_are_served_a_bounded_page_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(Journal::open(&dir.path().join("journal.redb")).unwrap());
        for request_id in 1..=5 {
            assert!(journal.accept(request_id, "model").unwrap());
        }
        let shared = Shared {
            account_id: "node0.test".into(),
            journal: journal.clone(),
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::default()),
            stop: Stop::default(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, server) = bind("127.0.0.1:0", shared, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        let server = tokio::spawn(server);
        let ids = |body: &str| -> Vec<u64> {
            let jobs: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
            jobs.iter()
                .map(|job| job["request_id"].as_u64().unwrap())
                .collect()
        };

        let (status, body) = get(addr, "/jobs").await;
        assert_eq!((status, ids(&body)), (200, vec![1, 2, 3, 4, 5]));
        let (status, body) = get(addr, "/jobs?after=2&limit=2").await;
        assert_eq!((status, ids(&body)), (200, vec![3, 4]));
        let (status, body) = get(addr, "/jobs?limit=0").await;
        assert_eq!((status, ids(&body)), (200, vec![1]), "at least one a page");
        let (status, body) = get(addr, "/jobs?limit=-1").await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("limit must be a whole number"), "{body}");
        let (status, body) = get(addr, "/jobs?page=2").await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = get(addr, "/jobs/counts").await;
        assert_eq!(status, 200);
        let counts: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(counts["accepted"], 5, "{counts}");

        // A result not revealed yet is nobody's business: another node could commit to it.
        let computed = crate::journal::Computed {
            output: "Paris".into(),
            result_digest: "ab".repeat(32),
            output_hash: "cd".repeat(32),
        };
        journal.record_computed(1, computed.clone()).unwrap();
        journal.record_computed(2, computed.clone()).unwrap();
        journal.record_committed(2).unwrap();
        // Nor the digest of one that ended without revealing while others may still commit.
        journal.record_computed(3, computed.clone()).unwrap();
        let missed = crate::journal::Finished::Missed("its output is too long".into());
        journal.record_finished(3, missed).unwrap();
        let (status, body) = get(addr, "/jobs?limit=3").await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("Paris") && !body.contains("abab") && !body.contains("cdcd"),
            "{body}"
        );
        let jobs: Vec<Job> = serde_json::from_str(&body).unwrap();
        assert_eq!(jobs[0].state.name(), "computed");
        assert_eq!(jobs[1].state.name(), "committed");
        assert!(body.contains(crate::journal::HIDDEN), "{body}");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
