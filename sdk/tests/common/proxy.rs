//! A JSON-RPC endpoint in front of a real one, for tests of endpoints that lie or fail: each
//! call may be rewritten before it goes on, and its answer passed back or dropped.

use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The URL of an endpoint in front of `upstream` that passes each JSON-RPC call, after `edit`
/// (which may change it), on to `upstream`; it answers with upstream's answer when `edit`
/// returns true, and otherwise hangs up without one (the call still went through).
pub async fn proxy_endpoint(
    upstream: String,
    edit: impl Fn(&mut Value) -> bool + Send + Sync + 'static,
) -> String {
    proxy_endpoint_replying(upstream, move |call| {
        if edit(call) {
            Reply::Upstream
        } else {
            Reply::HangUp
        }
    })
    .await
}

/// What the proxy answers a call with, once upstream has had it.
pub enum Reply {
    /// Upstream's answer.
    Upstream,
    /// None: it hangs up.
    HangUp,
    /// This JSON-RPC error (`error`'s value), in place of upstream's answer.
    Error(Value),
}

/// Like [`proxy_endpoint`], with `edit` choosing the [`Reply`] to each call.
pub async fn proxy_endpoint_replying(
    upstream: String,
    edit: impl Fn(&mut Value) -> Reply + Send + Sync + 'static,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let edit = Arc::new(edit);
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let (http, upstream, edit) = (http.clone(), upstream.clone(), edit.clone());
            tokio::spawn(async move {
                let Some(mut call) = read_call(&mut socket).await else {
                    return;
                };
                let reply = edit(&mut call);
                let answer = http.post(&upstream).json(&call).send().await.unwrap();
                let body = match reply {
                    Reply::Upstream => answer.bytes().await.unwrap().to_vec(),
                    Reply::HangUp => return,
                    Reply::Error(error) => serde_json::to_vec(&serde_json::json!({
                        "jsonrpc": "2.0", "id": call["id"], "error": error,
                    }))
                    .unwrap(),
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    url
}

/// The JSON body of the HTTP request on `socket`; `None` if the client hung up first.
async fn read_call(socket: &mut tokio::net::TcpStream) -> Option<Value> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    let body_at = loop {
        let Ok(n @ 1..) = socket.read(&mut chunk).await else {
            return None;
        };
        received.extend_from_slice(&chunk[..n]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..body_at]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().unwrap());
    while received.len() < body_at + length {
        let Ok(n @ 1..) = socket.read(&mut chunk).await else {
            return None;
        };
        received.extend_from_slice(&chunk[..n]);
    }
    Some(serde_json::from_slice(&received[body_at..body_at + length]).unwrap())
}
