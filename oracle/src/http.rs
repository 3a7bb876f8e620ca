//! The node's HTTP server: `/metrics` (Prometheus text), `/health` (JSON, `health::HealthReport`:
//! ok, degraded or failed, last block seen, RPC reachable, queue depth, the engine's failures
//! on this machine, the fatal error a failing node stops on), `/jobs`
//! (the journal's jobs, JSON, a page at a time: `?after=<request id>&limit=<n>`) and
//! `/jobs/counts` (jobs by state).

use crate::health::Health;
use crate::journal::Journal;
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
        Ok(Ok(jobs)) => json(&jobs).into_response(),
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
}
