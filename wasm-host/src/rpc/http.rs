//! What the server answers besides JSON-RPC, as nearcore's does: CORS for any origin (its
//! default), `GET /status` (the `status` result) and `GET /health` (`null`, 503 once the node
//! has stopped).

use super::query;
use super::Server;
use axum::extract::State;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CONTENT_TYPE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
    let view = query::status(&server.node, &server.addr);
    json(StatusCode::OK, view.to_string())
}

/// `GET /health`: `null` while the node produces blocks, 503 once it has stopped.
pub async fn health(State(server): State<Server>) -> Response {
    if server.node.is_closed() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    json(StatusCode::OK, "null".into())
}
