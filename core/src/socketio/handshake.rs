//! What a socket's handlers know about how it connected.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::HeaderMap;

use crate::Value;

/// The handshake of a socket: auth payload, HTTP headers and query of the
/// first request, remote address and time.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The auth payload of the CONNECT packet (`null` when absent).
    pub auth: Value,
    /// Headers of the request that opened the connection.
    pub headers: HeaderMap,
    /// Query string of that request (without `?`).
    pub query: String,
    /// The client's address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the connection was opened.
    pub issued: SystemTime,
    /// The request URI.
    pub url: String,
}

impl Handshake {
    /// A query parameter, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        crate::engineio::http::query_pairs(&self.query)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Milliseconds since the Unix epoch at `issued` (as Node's `handshake.issued`).
    pub fn issued_ms(&self) -> u64 {
        self.issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}
