//! The node's HTTP server: `/metrics` (Prometheus text), `/health` (JSON: ok or degraded, last
//! block seen, RPC reachable, queue depth, the fatal error a failing node stops on) and `/jobs` (the journal, JSON).

use crate::journal::Journal;
use crate::metrics::{Health, Metrics};
use crate::pipeline::Stop;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
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

async fn health(State(shared): State<Shared>) -> impl IntoResponse {
    json(
        &shared
            .health
            .report(&shared.account_id, shared.stop.failure()),
    )
}

async fn jobs(State(shared): State<Shared>) -> impl IntoResponse {
    match shared.journal.jobs() {
        Ok(jobs) => json(&jobs).into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn json(value: &impl serde::Serialize) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).expect("views serialise"),
    )
}
