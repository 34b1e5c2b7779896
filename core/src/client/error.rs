//! Client errors, one enum for every fallible client call.

use crate::socketio::EmitError;

/// Why a client operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The URL is malformed or uses an unsupported scheme; fix the URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The server could not be reached (refused, unreachable, DNS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// TLS failed (certificate rejected, handshake error, bad CA file).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server answered something that is not Engine.IO v4 / Socket.IO v5.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered an HTTP error (status and body).
    #[error("HTTP {0}: {1}")]
    Http(u16, String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The server's middleware refused the namespace (`connect_error`).
    #[error("connection refused by the server: {message}")]
    Refused {
        /// The server's message.
        message: String,
        /// The server's data, if any.
        data: Option<crate::Value>,
    },
    /// The payload is over the server's `maxPayload`; it was not sent.
    #[error("payload of {size} bytes exceeds the server's maxPayload of {max}")]
    PayloadTooLarge {
        /// Encoded size.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// The offline buffer is full (count or bytes); the emit was not queued.
    #[error("offline buffer full")]
    BufferFull,
    /// The socket is disconnected and buffering is off.
    #[error("not connected")]
    NotConnected,
    /// The emit failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// A blocking call was made from inside an async runtime thread.
    #[error("blocking call inside an async context; use the async API")]
    BlockingInAsync,
    /// The client was closed.
    #[error("client closed")]
    Closed,
}
