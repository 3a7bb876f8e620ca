//! What the server answers besides JSON-RPC, as nearcore's does: CORS for any origin (its
//! default), `GET /status` (the `status` result) and `GET /health` (`null`, 503 once the node
//! is stopping); and request bodies read up to a limit.

use super::query;
use super::Server;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

/// Bytes past the limit still read (and dropped) before answering 413: a client still sending
/// its body then reads the answer, where closing at once would reset its connection under it.
const DRAIN_BYTES: usize = 1 << 20;

/// The request body if it holds at most `limit` bytes; otherwise HTTP 413.
pub async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, Response> {
    let mut kept = Vec::new();
    let mut dropped = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if dropped == 0 && kept.len() + data.len() <= limit {
            kept.extend_from_slice(&data);
            continue;
        }
        dropped += data.len();
        if dropped > DRAIN_BYTES {
            break;
        }
    }
    if dropped > 0 {
        let message = format!("request body larger than {limit} bytes");
        return Err((StatusCode::PAYLOAD_TOO_LARGE, message).into_response());
    }
    Ok(kept.into())
}

/// Every answer may be read by a page of any origin.
pub async fn allow_any_origin(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// A CORS preflight: GET and POST with JSON bodies, cached an hour (nearcore's `max_age`).
pub async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, accept, content-type",
            ),
            (ACCESS_CONTROL_MAX_AGE, "3600"),
        ],
    )
        .into_response()
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /status`: the `status` method's result.
pub async fn status(State(server): State<Server>) -> Response {
    match super::blocking(move || Ok(query::status(&server.node, &server.addr))).await {
        Ok(view) => json(StatusCode::OK, view.to_string()),
        Err(error) => json(StatusCode::INTERNAL_SERVER_ERROR, error.0.to_string()),
    }
}

/// `GET /health`: `null` while the node takes transactions, 503 once it is stopping (the
/// server itself stops once the node has closed).
pub async fn health(State(server): State<Server>) -> Response {
    if !server.node.is_accepting() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    json(StatusCode::OK, "null".into())
}
