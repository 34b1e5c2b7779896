//! An Engine.IO-only server (the counterpart of the `engine.io` package):
//! the same engine the Socket.IO server is built on, with each session and
//! its messages handed to the application as they are.
//!
//! ```no_run
//! use oxsio::engineio::{EngineConfig, EngineServer, EioMessage, EioSocket};
//!
//! # async fn run() -> std::io::Result<()> {
//! let eio = EngineServer::new(EngineConfig {
//!     path: "/engine.io/".into(),
//!     ..EngineConfig::default()
//! });
//! eio.on_connection(|socket: EioSocket| {
//!     // Echo every message back, text or binary.
//!     socket.on_message(|socket: &EioSocket, msg: EioMessage| {
//!         let _ = socket.send(msg);
//!     });
//! });
//! let handle = eio.listen("127.0.0.1:3000").await?;
//! # handle.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use tokio::net::ToSocketAddrs;
use tokio::task::JoinHandle;

use super::http::Body;
use super::session::{Handler, Incoming, Message, SendError, Session};
use super::{CloseReason, Engine, EngineConfig, RequestInfo};
use crate::sid::Sid;

/// One Engine.IO message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EioMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

type MessageFn = Arc<dyn Fn(&EioSocket, EioMessage) + Send + Sync>;
type CloseFn = Arc<dyn Fn(&EioSocket, CloseReason) + Send + Sync>;
type ConnectionFn = Arc<dyn Fn(EioSocket) + Send + Sync>;

struct Inner {
    session: Arc<Session>,
    request: RequestInfo,
    on_message: RwLock<Option<MessageFn>>,
    on_close: RwLock<Option<CloseFn>>,
}

/// One Engine.IO session (the `engine.io` package's `Socket`). Cheap to clone.
#[derive(Clone)]
pub struct EioSocket(Arc<Inner>);

impl std::fmt::Debug for EioSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EioSocket").field("id", &self.id()).finish()
    }
}

impl EioSocket {
    /// The session id.
    pub fn id(&self) -> Sid {
        self.0.session.sid()
    }

    /// The handshake request (headers, query, address).
    pub fn request(&self) -> &RequestInfo {
        &self.0.request
    }

    /// Queues a message for the client.
    ///
    /// # Errors
    /// The queue is full (the client reads too slowly) or the session is closed.
    pub fn send(&self, msg: EioMessage) -> Result<(), SendError> {
        let m = match msg {
            EioMessage::Text(t) => Message::new(format!("4{t}"), Vec::new()),
            // No text packet: the binary frame alone (`b…` on polling).
            EioMessage::Binary(b) => Message::new(String::new(), vec![b]),
        };
        self.0.session.try_send(m)
    }

    /// Sets the message handler (called in order, one at a time per session).
    pub fn on_message(&self, f: impl Fn(&EioSocket, EioMessage) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.on_message.write() {
            *h = Some(Arc::new(f));
        }
    }

    /// Sets the close handler (called once, with the reason).
    pub fn on_close(&self, f: impl Fn(&EioSocket, CloseReason) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.on_close.write() {
            *h = Some(Arc::new(f));
        }
    }

    /// Closes the session ("forced close"): queued messages are flushed
    /// first, then the close packet.
    pub fn close(&self) {
        self.0.session.close(CloseReason::ForcedServerClose);
    }

    /// True once the session has closed.
    pub fn is_closed(&self) -> bool {
        self.0.session.is_closed()
    }
}

/// The engine's layer above: hands sessions and messages to the application.
#[derive(Default)]
pub(crate) struct EioHandler {
    on_connection: RwLock<Option<ConnectionFn>>,
}

impl Handler for EioHandler {
    type Conn = EioSocket;

    fn on_open(&self, session: Arc<Session>, req: &RequestInfo) -> Arc<EioSocket> {
        let socket = EioSocket(Arc::new(Inner {
            session,
            request: req.clone(),
            on_message: RwLock::new(None),
            on_close: RwLock::new(None),
        }));
        let f = self.on_connection.read().ok().and_then(|h| h.clone());
        if let Some(f) = f {
            f(socket.clone());
        }
        Arc::new(socket)
    }

    fn on_message(&self, conn: &Arc<EioSocket>, msg: Incoming<'_>) {
        let f = conn.0.on_message.read().ok().and_then(|h| h.clone());
        if let Some(f) = f {
            let msg = match msg {
                Incoming::Text(t) => EioMessage::Text(t.to_owned()),
                Incoming::Binary(b) => EioMessage::Binary(b),
                Incoming::BinaryRef(b) => EioMessage::Binary(Bytes::copy_from_slice(b)),
            };
            f(conn, msg);
        }
    }

    fn on_close(&self, conn: &Arc<EioSocket>, reason: CloseReason) {
        let f = conn.0.on_close.read().ok().and_then(|h| h.clone());
        if let Some(f) = f {
            f(conn, reason);
        }
    }
}

/// An Engine.IO-only server; see the [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct EngineServer {
    engine: Arc<Engine<EioHandler>>,
}

impl std::fmt::Debug for EngineServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineServer")
            .field("config", &self.engine.config)
            .finish()
    }
}

impl EngineServer {
    /// A server with `config` (paths, transports, heartbeats, limits, CORS,
    /// origins, compression: the same options as the Socket.IO server's).
    pub fn new(config: EngineConfig) -> EngineServer {
        EngineServer {
            engine: Engine::new(config, EioHandler::default(), None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }

    /// Sets the handler of new sessions; set the session's own handlers
    /// (`on_message`, `on_close`) inside it, before its first message.
    pub fn on_connection(&self, f: impl Fn(EioSocket) + Send + Sync + 'static) {
        if let Ok(mut h) = self.engine.handler.on_connection.write() {
            *h = Some(Arc::new(f));
        }
    }

    /// Open sessions.
    pub fn clients_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Answers one HTTP request (any path; others than the server's get 404),
    /// to mount in a hyper or tower stack.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !req
            .uri()
            .path()
            .starts_with(self.engine.config.path.as_str())
        {
            let mut res = Response::new(Body::from("Not Found"));
            *res.status_mut() = StatusCode::NOT_FOUND;
            return res;
        }
        self.engine.clone().handle(req).await
    }

    /// The entry for a foreign HTTP stack; see [`host`](super::host).
    pub fn host(&self) -> super::host::Host {
        let server = self.clone();
        super::host::Host::new(self.engine.config.max_payload, move |req| {
            let server = server.clone();
            Box::pin(async move { server.handle(req).await })
        })
    }

    /// Serves on `addr` (port 0 picks a free port) until shutdown.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> std::io::Result<EngineServerHandle> {
        self.listen_with(addr, None).await
    }

    /// Serves https / wss on `addr`; see [`Server::listen_tls`](crate::Server::listen_tls).
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn listen_tls(
        &self,
        addr: impl ToSocketAddrs,
        tls: crate::tls::TlsConfig,
    ) -> std::io::Result<EngineServerHandle> {
        self.listen_with(addr, Some(tls)).await
    }

    async fn listen_with(
        &self,
        addr: impl ToSocketAddrs,
        tls: Option<crate::tls::TlsConfig>,
    ) -> std::io::Result<EngineServerHandle> {
        let server = self.clone();
        let l = super::listener::listen(addr, tls, move |req| {
            let server = server.clone();
            async move { server.handle(req).await }
        })
        .await?;
        Ok(EngineServerHandle {
            local_addr: l.local_addr,
            server: self.clone(),
            stop: l.stop,
            task: Some(l.task),
        })
    }

    /// Closes every session and waits (at most 2 s) for them to go.
    pub async fn shutdown(&self) {
        self.engine.close_all(CloseReason::ServerShutdown);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.engine.session_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A running [`EngineServer`] listener.
#[derive(Debug)]
pub struct EngineServerHandle {
    local_addr: SocketAddr,
    server: EngineServer,
    stop: Arc<tokio::sync::Notify>,
    task: Option<JoinHandle<()>>,
}

impl EngineServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes every session.
    pub async fn shutdown(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.server.shutdown().await;
    }
}

impl Drop for EngineServerHandle {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}
