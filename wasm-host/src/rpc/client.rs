//! A JSON-RPC client over plain HTTP/1.1 with one kept-alive connection: what tests, the
//! benchmark and local tools use to talk to a node.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::net::SocketAddr;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// A call that did not return a result.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("connection to {addr}: {message}")]
    Transport { addr: SocketAddr, message: String },
    #[error("HTTP {status}: {body}")]
    Http { status: StatusCode, body: String },
    #[error("answer is not JSON-RPC: {0}")]
    Malformed(String),
    /// The server's `error` object.
    #[error("RPC error: {0}")]
    Rpc(Value),
}

/// A client of one node.
pub struct RpcClient {
    addr: SocketAddr,
    connection: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl RpcClient {
    /// A client of the node at `addr` (connects on first use).
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            connection: Mutex::new(None),
        }
    }

    fn transport(&self, error: impl ToString) -> ClientError {
        ClientError::Transport {
            addr: self.addr,
            message: error.to_string(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| self.transport(e))?;
        stream.set_nodelay(true).map_err(|e| self.transport(e))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.transport(e))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// POSTs `body` to `/` and returns the HTTP status and body.
    pub async fn post(&self, body: Vec<u8>) -> Result<(StatusCode, Bytes), ClientError> {
        let mut connection = self.connection.lock().await;
        let mut sender = match connection.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        sender.ready().await.map_err(|e| self.transport(e))?;
        let request = Request::post("/")
            .header(HOST, self.addr.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| self.transport(e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| self.transport(e))?
            .to_bytes();
        *connection = Some(sender);
        Ok((status, body))
    }

    /// Calls `method` with `params`; returns the whole JSON-RPC answer.
    pub async fn call_raw(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let request =
            json!({"jsonrpc": "2.0", "id": "dontcare", "method": method, "params": params});
        let (status, body) = self.post(request.to_string().into_bytes()).await?;
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body).into_owned();
            return Err(ClientError::Http { status, body });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    /// Calls `method` with `params`; returns its `result`, or its `error` as
    /// [`ClientError::Rpc`].
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let mut answer = self.call_raw(method, params).await?;
        if let Some(error) = answer.get_mut("error") {
            return Err(ClientError::Rpc(error.take()));
        }
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(ClientError::Malformed(answer.to_string())),
        }
    }
}
