//! The Socket.IO client: a [`Manager`] per server connection, a
//! [`ClientSocket`] per namespace, reconnection, acknowledgements and an
//! offline buffer; plus a [`blocking`] flavour for plain threads.
//!
//! ```no_run
//! # async fn run() -> Result<(), oxsio::client::ClientError> {
//! use oxsio::client::ClientBuilder;
//! let socket = ClientBuilder::new("http://127.0.0.1:3000")
//!     .auth(serde_json::json!({"token": "abc"}))
//!     .on("chat", |ev| println!("chat: {:?}", ev.args))
//!     .connect()
//!     .await?;
//! socket.emit("chat", "hello")?;
//! let reply = socket.emit_with_ack("echo-ack", "ping").await?;
//! println!("ack: {reply:?}");
//! socket.disconnect();
//! # Ok(()) }
//! ```

pub mod blocking;
mod engine;
mod error;
mod manager;
mod options;
mod socket;
mod tls;
mod websocket;

use std::time::Duration;

pub use error::ClientError;
pub use manager::Manager;
pub use options::{Auth, Buffering, ClientOptions, Reconnection};
pub use socket::{
    ClientAck, ClientAckFuture, ClientDisconnectReason, ClientEvent, ClientSocket, Status,
};
pub use tls::{RootCerts, TlsOptions};

use crate::engineio::Transport;

/// Parses a server URL; returns the engine target and the namespace in its path.
pub(crate) fn parse_target(
    url: &str,
    opts: &ClientOptions,
) -> Result<(engine::Target, String), ClientError> {
    let parsed =
        url::Url::parse(url).map_err(|e| ClientError::InvalidUrl(format!("{url:?}: {e}")))?;
    let tls = match parsed.scheme() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        other => {
            return Err(ClientError::InvalidUrl(format!(
                "unsupported scheme {other:?}"
            )));
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ClientError::InvalidUrl(format!("{url:?} has no host")))?
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| ClientError::InvalidUrl(format!("{url:?} has no port")))?;
    let nsp = match parsed.path() {
        "" | "/" => "/".to_owned(),
        p => p.trim_end_matches('/').to_owned(),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in parsed.query_pairs() {
        query.append_pair(&k, &v);
    }
    for (k, v) in &opts.query {
        query.append_pair(k, v);
    }
    let mut path = opts.path.clone();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    if opts.transports.is_empty() {
        return Err(ClientError::InvalidUrl("no transport allowed".into()));
    }
    let target = engine::Target {
        tls: if tls {
            Some(opts.tls.client_config()?)
        } else {
            None
        },
        host,
        port,
        path,
        query: query.finish(),
        headers: opts.headers.clone(),
        transports: opts.transports.clone(),
        upgrade: opts.upgrade,
        deflate: opts.per_message_deflate,
        max_payload: opts.max_payload,
        eio3: opts.eio3,
    };
    Ok((target, nsp))
}

type PendingHandler = Box<dyn FnOnce(&ClientSocket) + Send>;

/// Builds a client socket for a URL whose path names the namespace
/// (`http://host:3000/chat` → namespace `/chat`), as `io(url)` in JS.
pub struct ClientBuilder {
    url: String,
    opts: ClientOptions,
    auth: Auth,
    handlers: Vec<PendingHandler>,
}

impl ClientBuilder {
    /// A builder for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            opts: ClientOptions::default(),
            auth: Auth::None,
            handlers: Vec::new(),
        }
    }

    /// All options at once.
    pub fn options(mut self, opts: ClientOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The auth payload (a value, or [`Auth::from_fn`] / [`Auth::from_async`]).
    pub fn auth(mut self, auth: impl Into<Auth>) -> Self {
        self.auth = auth.into();
        self
    }

    /// HTTP path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.opts.path = path.into();
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.opts.query.push((key.into(), value.into()));
        self
    }

    /// Adds an HTTP header; invalid names or values are ignored.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            self.opts.headers.append(n, v);
        }
        self
    }

    /// Transports in order (default polling then WebSocket upgrade).
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.opts.transports = transports.into_iter().collect();
        self
    }

    /// Reconnection policy.
    pub fn reconnection(mut self, r: Reconnection) -> Self {
        self.opts.reconnection = r;
        self
    }

    /// Connect timeout (default 20 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.opts.connect_timeout = d;
        self
    }

    /// Default acknowledgement timeout (default 10 s).
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.opts.ack_timeout = d;
        self
    }

    /// Retries of each emit until acknowledged (see [`ClientOptions::retries`]).
    pub fn retries(mut self, n: u32) -> Self {
        self.opts.retries = n;
        self
    }

    /// TLS settings.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.opts.tls = tls;
        self
    }

    /// The packet parser, which must be the server's (default
    /// [`Parser::Json`](crate::codec::Parser::Json); see
    /// [`ClientOptions::parser`]).
    pub fn parser(mut self, parser: crate::codec::Parser) -> Self {
        self.opts.parser = parser;
        self
    }

    /// Offline buffer bounds.
    pub fn buffering(mut self, b: Buffering) -> Self {
        self.opts.buffering = b;
        self
    }
    /// Offers permessage-deflate on WebSocket, compressing messages of at
    /// least `threshold` bytes once the server agrees (see
    /// [`ClientOptions::per_message_deflate`]).
    ///
    /// ```
    /// let socket = oxsio::client::ClientBuilder::new("http://127.0.0.1:3000")
    ///     .per_message_deflate(Some(1024))
    ///     .build();
    /// ```
    pub fn per_message_deflate(mut self, threshold: Option<usize>) -> Self {
        self.opts.per_message_deflate = threshold;
        self
    }
    /// Speaks to a Socket.IO 2.x server (see [`ClientOptions::eio3`]).
    pub fn eio3(mut self, on: bool) -> Self {
        self.opts.eio3 = on;
        self
    }
    /// Largest WebSocket message accepted from the server (see
    /// [`ClientOptions::max_payload`]).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.opts.max_payload = bytes;
        self
    }

    /// Registers an event handler before connecting, so no early event is missed.
    pub fn on(
        mut self,
        event: &str,
        handler: impl Fn(ClientEvent) + Send + Sync + 'static,
    ) -> Self {
        let event = event.to_owned();
        self.handlers
            .push(Box::new(move |s: &ClientSocket| s.on(&event, handler)));
        self
    }

    /// The socket, not connected yet (call [`ClientSocket::connect`] or `open`).
    ///
    /// # Errors
    /// Invalid URL or TLS settings.
    pub fn build(self) -> Result<ClientSocket, ClientError> {
        let (_, nsp) = parse_target(&self.url, &self.opts)?;
        let manager = Manager::new(&self.url, self.opts)?;
        let socket = manager.socket_with_auth(&nsp, self.auth);
        for h in self.handlers {
            h(&socket);
        }
        Ok(socket)
    }

    /// Builds and connects, waiting until the namespace is joined.
    ///
    /// # Errors
    /// Invalid URL, refused by the server, or not connected within the connect timeout.
    pub async fn connect(self) -> Result<ClientSocket, ClientError> {
        let socket = self.build()?;
        socket.connect().await?;
        Ok(socket)
    }
}
