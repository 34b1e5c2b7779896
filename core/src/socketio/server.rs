//! The Socket.IO server: options, namespaces, serving and shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};

use tokio::net::ToSocketAddrs;
use tokio::task::JoinHandle;

use super::broadcast::{BroadcastOperator, IntoRooms};
use super::conn::Conn;
use super::error::{BroadcastError, ConnectError};
use super::namespace::{Middleware, Namespace, NsConfig, NsInner};
use super::socket::Socket;
use crate::IntoArgs;
use crate::adapter::{AdapterFactory, MemoryAdapter};
use crate::engineio::http::Body;
use crate::engineio::session::Handler;
use crate::engineio::{
    AllowOrigin, CloseReason, Cors, Engine, EngineConfig, Incoming, RequestInfo, Session, Transport,
};

/// Options shared by every namespace.
pub(crate) struct ServerCommon {
    pub(crate) ack_timeout: Duration,
    pub(crate) max_rooms_per_socket: usize,
    pub(crate) max_pending_acks: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_attachments: usize,
    pub(crate) max_json_depth: usize,
    /// How packets are written: every connection of the server uses it.
    pub(crate) parser: crate::codec::Parser,
    pub(crate) middlewares: RwLock<Vec<Middleware>>,
    pub(crate) adapter: AdapterFactory,
    pub(crate) recovery: Option<super::RecoveryConfig>,
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The admin UI hooks, once [`Server::instrument`] ran.
    pub(crate) admin: OnceLock<Arc<crate::admin::Admin>>,
}

type NsPredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub(crate) struct ServerState {
    pub(crate) common: Arc<ServerCommon>,
    namespaces: RwLock<HashMap<Arc<str>, Namespace>>,
    dynamic: RwLock<Vec<(NsPredicate, Arc<NsConfig>)>>,
}

impl ServerState {
    fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = self
            .namespaces
            .read()
            .ok()
            .and_then(|m| m.get(name.as_str()).cloned())
        {
            return ns;
        }
        let Ok(mut map) = self.namespaces.write() else {
            // A poisoned lock means a panic elsewhere; serve a detached namespace.
            return Namespace(NsInner::new(
                name.into(),
                Arc::default(),
                self.common.clone(),
            ));
        };
        map.entry(Arc::from(name.as_str()))
            .or_insert_with_key(|k| {
                Namespace(NsInner::new(k.clone(), Arc::default(), self.common.clone()))
            })
            .clone()
    }

    /// Every namespace clients can join (dynamic templates aside).
    pub(crate) fn namespace_list(&self) -> Vec<Namespace> {
        self.namespaces
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// An existing namespace, never created by the lookup.
    pub(crate) fn existing(&self, name: &str) -> Option<Namespace> {
        self.namespaces.read().ok()?.get(name).cloned()
    }

    /// The namespace a client asks for: existing, or created by a dynamic
    /// namespace whose predicate accepts the name.
    pub(crate) fn namespace_for(&self, name: &str) -> Option<Arc<NsInner>> {
        if let Some(ns) = self.namespaces.read().ok()?.get(name) {
            return Some(ns.0.clone());
        }
        let config = self
            .dynamic
            .read()
            .ok()?
            .iter()
            .find(|(p, _)| p(name))
            .map(|(_, c)| c.clone())?;
        let mut map = self.namespaces.write().ok()?;
        let ns = map.entry(Arc::from(name)).or_insert_with_key(|k| {
            Namespace(NsInner::new(k.clone(), config, self.common.clone()))
        });
        Some(ns.0.clone())
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

/// The Engine.IO handler of the Socket.IO layer.
pub(crate) struct SioHandler(Arc<ServerState>);

impl Handler for SioHandler {
    type Conn = Conn;

    fn on_open(&self, session: Arc<Session>, req: &RequestInfo) -> Arc<Conn> {
        if let Some(admin) = self.0.common.admin.get() {
            admin.raw_connection();
        }
        let conn = Arc::new(Conn::new(session, self.0.clone(), req.clone()));
        let c = conn.clone();
        let timeout = self.0.common.connect_timeout;
        // Ends at the first join or when the session closes, not only at the deadline.
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {
                    if !c.joined_once() {
                        c.session().close(CloseReason::ForcedServerClose);
                    }
                }
                () = c.joined.wait() => {}
                () = c.session().closed.wait() => {}
            }
        });
        if conn.session().eio3.is_some() {
            conn.connect_main_namespace();
        }
        conn
    }

    fn on_message(&self, conn: &Arc<Conn>, msg: Incoming<'_>) {
        if let Some(admin) = self.0.common.admin.get() {
            admin.packet_in(&msg);
        }
        conn.on_message(msg);
    }

    fn on_close(&self, conn: &Arc<Conn>, reason: CloseReason) {
        conn.on_close(reason);
        if let Some(admin) = self.0.common.admin.get() {
            admin.raw_disconnection(reason);
        }
    }

    fn on_upgrade(&self, conn: &Arc<Conn>) {
        if let Some(admin) = self.0.common.admin.get() {
            admin.upgraded(&conn.sockets_snapshot());
        }
    }
}

/// Builds a [`Server`]; every option has the official server's default.
///
/// ```
/// use std::time::Duration;
/// let io = oxsio::Server::builder()
///     .ping_interval(Duration::from_secs(10))
///     .max_payload(64 * 1024)
///     .cors_origins(["https://example.com"])
///     .build();
/// # drop(io);
/// ```
pub struct ServerBuilder {
    engine: EngineConfig,
    ack_timeout: Duration,
    max_rooms_per_socket: usize,
    max_pending_acks: usize,
    connect_timeout: Duration,
    max_attachments: usize,
    max_json_depth: usize,
    parser: crate::codec::Parser,
    adapter: AdapterFactory,
    recovery: Option<super::RecoveryConfig>,
    metrics_path: Option<String>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            engine: EngineConfig::default(),
            ack_timeout: Duration::from_secs(5),
            max_rooms_per_socket: 10_000,
            max_pending_acks: 4096,
            connect_timeout: Duration::from_secs(45),
            max_attachments: crate::codec::socketio::DEFAULT_MAX_ATTACHMENTS,
            max_json_depth: crate::codec::socketio::DEFAULT_MAX_JSON_DEPTH,
            parser: crate::codec::Parser::Json,
            adapter: Arc::new(|ns| Arc::new(MemoryAdapter::new(ns))),
            recovery: None,
            metrics_path: None,
        }
    }
}

impl ServerBuilder {
    /// HTTP path (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.ends_with('/') {
            p.push('/');
        }
        self.engine.path = p;
        self
    }
    /// Allowed transports (default polling and websocket).
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.engine.transports = transports.into_iter().collect();
        self
    }
    /// Whether polling clients may upgrade to WebSocket (default true).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.engine.allow_upgrades = allow;
        self
    }
    /// Interval between server pings (default 25 s).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine.ping_interval = d;
        self
    }
    /// Time to wait for a pong (default 20 s).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine.ping_timeout = d;
        self
    }
    /// Largest payload per POST or frame (default 1 000 000 bytes).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine.max_payload = bytes;
        self
    }
    /// Time allowed for an upgrade (default 10 s).
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine.upgrade_timeout = d;
        self
    }
    /// Packets queued per connection before emits fail with `QueueFull` (default 256).
    pub fn max_buffer_size(mut self, packets: usize) -> Self {
        self.engine.max_buffer_size = packets;
        self
    }
    /// Time a client has to join a namespace after connecting (default 45 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Default acknowledgement timeout of `emit_with_ack` (default 5 s).
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.ack_timeout = d;
        self
    }
    /// Most rooms one socket may be in, its own id room aside (default 10 000).
    pub fn max_rooms_per_socket(mut self, n: usize) -> Self {
        self.max_rooms_per_socket = n;
        self
    }
    /// Most acknowledgements awaited at once per socket (default 4096);
    /// beyond, `emit_with_ack` fails with `AckError::TooManyPending`.
    pub fn max_pending_acks(mut self, n: usize) -> Self {
        self.max_pending_acks = n;
        self
    }
    /// Most open connections (default 250 000); further handshakes get HTTP
    /// 503 `{"code":4,"message":"Too many connections"}`.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.engine.max_connections = n;
        self
    }
    /// Most binary attachments per packet (default 10).
    pub fn max_attachments(mut self, n: usize) -> Self {
        self.max_attachments = n;
        self
    }
    /// Deepest JSON nesting (arrays and objects) accepted in a packet
    /// (default 128, at most 512: the codec's walks recurse once per
    /// level). A deeper packet is a parse error: its connection closes, as
    /// for any malformed packet. With [`Parser::MsgPack`](crate::codec::Parser)
    /// the same limit applies to the arrays and maps of a packet's `data`.
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.max_json_depth = depth.min(crate::codec::socketio::MAX_JSON_DEPTH);
        self
    }
    /// The packet parser every client of this server must use (default
    /// [`Parser::Json`](crate::codec::Parser::Json), the official
    /// `socket.io-parser`). [`Parser::MsgPack`](crate::codec::Parser::MsgPack)
    /// speaks `socket.io-msgpack-parser` (JS clients created with
    /// `parser: require("socket.io-msgpack-parser")`, python-socketio with
    /// `serializer="msgpack"`): each packet is one binary message, so
    /// [`max_attachments`](Self::max_attachments) does not apply, while
    /// [`max_json_depth`](Self::max_json_depth) and the Engine.IO
    /// `max_payload` do. A client with the other parser fails to connect
    /// (its first packet is refused and the connection closed), as with Node.
    ///
    /// ```
    /// use oxsio::{Server, codec::Parser};
    /// let io = Server::builder().parser(Parser::MsgPack).build();
    /// # drop(io);
    /// ```
    pub fn parser(mut self, parser: crate::codec::Parser) -> Self {
        self.parser = parser;
        self
    }
    /// Enables CORS for these origins.
    pub fn cors_origins<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Self {
        let list = origins.into_iter().map(Into::into).collect();
        self.engine.cors = Some(Cors {
            origins: AllowOrigin::List(list),
            credentials: false,
        });
        self
    }
    /// Sets CORS in full (origins list, any, or predicate; credentials).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.engine.cors = Some(cors);
        self
    }
    /// Refuses requests from other origins with HTTP 400, polling and
    /// WebSocket alike (off by default, as in Node; python-socketio's
    /// default is [`AllowedOrigins::SameOrigin`](crate::AllowedOrigins)).
    /// Browsers enforce CORS on HTTP only, so without this a page on any
    /// site can open a WebSocket to the server with its user's cookies.
    ///
    /// ```
    /// use oxsio::{AllowedOrigins, Server};
    /// let io = Server::builder()
    ///     .allowed_origins(AllowedOrigins::List(vec!["https://app.example".into()]))
    ///     .build();
    /// ```
    pub fn allowed_origins(mut self, origins: crate::AllowedOrigins) -> Self {
        self.engine.allowed_origins = Some(origins);
        self
    }
    /// Compresses long-polling responses of at least `threshold` bytes
    /// (gzip, else deflate, per the request's `Accept-Encoding`); `None`
    /// turns it off. Default `Some(1024)`, as Node's `httpCompression`.
    pub fn http_compression(mut self, threshold: Option<usize>) -> Self {
        self.engine.http_compression = threshold;
        self
    }
    /// Agrees on permessage-deflate with WebSocket clients that offer it
    /// and compresses messages of at least `threshold` bytes (Node's
    /// `perMessageDeflate: { threshold }`; its default threshold is 1024).
    /// `None`, the default, declines the extension, as Node does.
    ///
    /// Each message is compressed on its own (oxsio always agrees on no
    /// context takeover), so a connection keeps no compression state
    /// between messages. A compressed message that inflates past
    /// `max_payload` closes the connection with 1009.
    ///
    /// ```
    /// let io = oxsio::Server::builder().per_message_deflate(Some(1024)).build();
    /// ```
    pub fn per_message_deflate(mut self, threshold: Option<usize>) -> Self {
        self.engine.per_message_deflate = threshold;
        self
    }
    /// Serves Socket.IO 2.x clients (Engine.IO protocol 3, Socket.IO
    /// protocol 4) beside current ones, as Node's `allowEIO3` (default
    /// false: they get HTTP 400 "Unsupported protocol version").
    ///
    /// Such a client is connected to the main namespace as soon as its
    /// session opens (running its middlewares), gets a CONNECT without a
    /// payload, and a refusal as the error's message (or its data) alone.
    /// Its heartbeat runs the other way round (the client pings), its
    /// polling payloads are framed with lengths (`<len>:<packet>`, or the
    /// binary framing), and its binary WebSocket frames start with the
    /// type byte `4`. Its socket id in the main namespace is its
    /// Engine.IO id, as the 2.x client assumes; in other namespaces the
    /// 2.x client thinks its id is `<nsp>#<engine id>`, while oxsio gives
    /// the socket an id of its own (ids are 20-character session ids).
    /// Connection state recovery does not apply to them (2.x clients do
    /// not offer it).
    ///
    /// ```
    /// let io = oxsio::Server::builder().allow_eio3(true).build();
    /// ```
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine.allow_eio3 = allow;
        self
    }
    /// A hook run on every handshake; `Err(message)` answers 403.
    pub fn allow_request(
        mut self,
        f: impl Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.engine.allow_request = Some(Arc::new(f));
        self
    }
    /// Sets a sticky-session cookie with this name on handshake (HttpOnly, SameSite=Lax).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.engine.cookie = Some(name.into());
        self
    }
    /// The adapter each namespace uses (default in-memory).
    pub fn adapter(mut self, factory: AdapterFactory) -> Self {
        self.adapter = factory;
        self
    }
    /// Engine.IO options in full.
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// Turns on connection state recovery (off by default, as in Node):
    /// a client that lost its connection comes back with its id, rooms and
    /// data, and gets the packets it missed. See [`RecoveryConfig`](super::RecoveryConfig)
    /// for the limits (session lifetime, packets kept, sessions kept). The
    /// in-memory adapter supports it, and the Redis adapter per node.
    pub fn connection_state_recovery(mut self, config: super::RecoveryConfig) -> Self {
        self.recovery = Some(config);
        self
    }

    /// Turns on Prometheus metrics (off by default), served in the text
    /// format at `path` (e.g. `"/metrics"`) by the server's own listener and
    /// by [`service`](Server::service) / [`handle`](Server::handle); a host
    /// with its own router calls [`Server::metrics`]. Counters are sharded
    /// relaxed atomics, summed only when scraped. The metrics: Engine.IO
    /// connections by transport and opened, handshake refusals by reason,
    /// sockets by namespace, packets and bytes in and out by packet type,
    /// broadcasts and their deliveries, queue-full and volatile drops, ack
    /// timeouts, recovery hits and misses, adapter requests and their
    /// latency (a histogram) by operation; see the README for the names.
    pub fn metrics(mut self, path: impl Into<String>) -> Self {
        let mut p: String = path.into();
        if !p.starts_with('/') {
            p.insert(0, '/');
        }
        self.metrics_path = Some(p);
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let metrics = self
            .metrics_path
            .as_ref()
            .map(|_| Arc::new(crate::metrics::Metrics::default()));
        let adapter = match &metrics {
            None => self.adapter,
            Some(m) => {
                let (inner, m) = (self.adapter, m.clone());
                let metered: AdapterFactory = Arc::new(move |ns| {
                    Arc::new(crate::metrics::MeteredAdapter {
                        inner: inner(ns),
                        metrics: m.clone(),
                    })
                });
                metered
            }
        };
        let common = Arc::new(ServerCommon {
            ack_timeout: self.ack_timeout,
            max_rooms_per_socket: self.max_rooms_per_socket,
            max_pending_acks: self.max_pending_acks,
            connect_timeout: self.connect_timeout,
            max_attachments: self.max_attachments,
            max_json_depth: self.max_json_depth,
            parser: self.parser,
            middlewares: RwLock::new(Vec::new()),
            adapter,
            recovery: self.recovery,
            metrics: metrics.clone(),
            admin: OnceLock::new(),
        });
        let state = Arc::new(ServerState {
            common,
            namespaces: RwLock::default(),
            dynamic: RwLock::default(),
        });
        // The main namespace always exists, as in socket.io.
        state.of("/");
        Server {
            engine: Engine::new(self.engine, SioHandler(state), metrics),
            metrics_path: self.metrics_path.map(Arc::from),
        }
    }
}

/// A Socket.IO server. Cheap to clone; every clone is the same server.
///
/// ```no_run
/// use oxsio::{Server, Socket, Event};
/// # async fn run() -> std::io::Result<()> {
/// let io = Server::new();
/// io.of("/").on_connection(|socket: Socket| {
///     socket.on("echo", |ev: Event| { let _ = ev.socket.emit("echo", ev.args); });
/// });
/// let handle = io.listen("127.0.0.1:3000").await?;
/// println!("listening on {}", handle.local_addr());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Server {
    engine: Arc<Engine<SioHandler>>,
    metrics_path: Option<Arc<str>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.engine.config)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server with default options.
    pub fn new() -> Server {
        ServerBuilder::default().build()
    }

    /// Options for a new server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub(crate) fn state(&self) -> &Arc<ServerState> {
        &self.engine.handler.0
    }

    /// The engine, without keeping it alive (the admin UI's stats task).
    pub(crate) fn engine_weak(&self) -> Weak<Engine<SioHandler>> {
        Arc::downgrade(&self.engine)
    }

    /// Serves the [Socket.IO Admin UI](https://admin.socket.io) protocol
    /// (`@socket.io/admin-ui` 0.5, Node's `instrument(io, opts)`) on the
    /// namespace of `options` (default `/admin`): basic auth against a
    /// bcrypt hash, `server_stats` every 2 s, and in development mode every
    /// socket, room and event; the `emit`, `join`, `leave` and
    /// `_disconnect` commands unless read-only. See
    /// [`AdminUiOptions`](crate::admin::AdminUiOptions). Works across
    /// nodes through the adapter, as Node's does. Call it from within a
    /// tokio runtime (it starts the stats timer), once per server.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), oxsio::admin::InstrumentError> {
    /// use oxsio::admin::{AdminMode, AdminUiOptions};
    /// let io = oxsio::Server::new();
    /// // bcrypt("changeit"), e.g. from node: require("bcryptjs").hashSync("changeit", 10)
    /// let hash = "$2a$10$O4m1Ix7Sz4l5lSLNxJCYieROyJNFa7mNFipGn6o/48bxhduDmUvyq";
    /// io.instrument(AdminUiOptions::with_auth("admin", hash).mode(AdminMode::Production))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// See [`InstrumentError`](crate::admin::InstrumentError).
    pub fn instrument(
        &self,
        options: crate::admin::AdminUiOptions,
    ) -> Result<(), crate::admin::InstrumentError> {
        crate::admin::instrument(self, options)
    }

    /// The Engine.IO options in force.
    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }

    /// The namespace `name` (created on first use).
    pub fn of(&self, name: &str) -> Namespace {
        self.state().of(name)
    }

    /// A dynamic namespace: clients may connect to any name the predicate
    /// accepts; each such namespace is created on first use and shares the
    /// handlers and middlewares registered on the returned template.
    ///
    /// ```no_run
    /// # let io = oxsio::Server::new();
    /// let rooms = io.of_dynamic(|name| name.starts_with("/room-"));
    /// rooms.on_connection(|socket| { let _ = socket.emit("hello", socket.ns()); });
    /// ```
    pub fn of_dynamic(
        &self,
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Namespace {
        let config = Arc::new(NsConfig::default());
        let template = Namespace(NsInner::new(
            "/*dynamic*".into(),
            config.clone(),
            self.state().common.clone(),
        ));
        if let Ok(mut d) = self.state().dynamic.write() {
            d.push((Arc::new(predicate), config));
        }
        template
    }

    /// Adds a connect middleware run for every namespace, before the
    /// namespace's own (`io.of("/").use_middleware` is Node's `io.use`).
    pub fn use_middleware(
        &self,
        mw: impl Fn(&Socket) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) {
        if let Ok(mut m) = self.state().common.middlewares.write() {
            m.push(Middleware::Sync(Arc::new(mw)));
        }
    }

    /// Shorthand for `of("/").on_connection`.
    pub fn on_connection(&self, handler: impl Fn(Socket) + Send + Sync + 'static) {
        self.of("/").on_connection(handler);
    }

    /// Targets rooms of the main namespace.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Alias of [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Every socket of the main namespace except those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// Only this node.
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Messages that may be dropped for slow clients.
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").volatile()
    }

    /// Acknowledgement timeout for a broadcast `emit_with_ack`.
    pub fn timeout(&self, d: Duration) -> BroadcastOperator {
        self.of("/").timeout(d)
    }

    /// Sends an event to every socket of the main namespace.
    ///
    /// # Errors
    /// See [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), BroadcastError> {
        self.of("/").emit(event, args)
    }

    /// Number of open Engine.IO connections.
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    /// The metrics in the Prometheus text format, when turned on with
    /// [`ServerBuilder::metrics`] (for a host that serves them itself).
    pub fn metrics(&self) -> Option<String> {
        let m = self.engine.metrics.as_ref()?;
        let (polling, websocket) = self.engine.transport_counts();
        let mut sockets: Vec<(String, usize)> = self
            .state()
            .namespaces
            .read()
            .map(|map| {
                map.iter()
                    .map(|(name, ns)| (name.to_string(), ns.0.socket_count()))
                    .collect()
            })
            .unwrap_or_default();
        sockets.sort();
        Some(m.render(&crate::metrics::Gauges {
            polling,
            websocket,
            sockets,
        }))
    }

    /// Answers one HTTP request (any path; non-Socket.IO paths get 404,
    /// the metrics path its text when turned on).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Some(path) = &self.metrics_path
            && req.uri().path() == &**path
        {
            return self.metrics_response(req.method());
        }
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

    fn metrics_response(&self, method: &http::Method) -> Response<Body> {
        if method != http::Method::GET && method != http::Method::HEAD {
            let mut res = Response::new(Body::from("Method Not Allowed"));
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            return res;
        }
        let text = self.metrics().unwrap_or_default();
        let mut res = Response::new(Body::from(text));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        res
    }

    /// A hyper/tower service answering on the server's path, to mount in
    /// an existing HTTP server (see the axum example).
    pub fn service(&self) -> SocketIoService {
        SocketIoService {
            server: self.clone(),
        }
    }

    /// The entry point for a foreign HTTP server (ASGI, aiohttp, WSGI, a
    /// game engine's stack) that parses HTTP and WebSocket frames itself and
    /// hands requests and messages to this server; see
    /// [`engineio::host`](crate::engineio::host).
    pub fn host(&self) -> crate::engineio::host::Host {
        let server = self.clone();
        crate::engineio::host::Host::new(self.engine.config.max_payload, move |req| {
            let server = server.clone();
            Box::pin(async move { server.handle(req).await })
        })
    }

    /// Serves on `addr` (port 0 picks a free port) until shutdown.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> std::io::Result<ServerHandle> {
        self.listen_with(addr, None).await
    }

    /// Serves https / wss on `addr` until shutdown: the same as
    /// [`listen`](Self::listen) behind a TLS handshake (rustls; see
    /// [`TlsConfig`](crate::tls::TlsConfig) for the certificate, the key and
    /// client-certificate verification). A plain-HTTP request on this port
    /// gets `400` saying to use TLS; other non-TLS bytes, a failed handshake
    /// or one slower than the handshake timeout close that connection only.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn listen_tls(
        &self,
        addr: impl ToSocketAddrs,
        tls: crate::tls::TlsConfig,
    ) -> std::io::Result<ServerHandle> {
        self.listen_with(addr, Some(tls)).await
    }

    async fn listen_with(
        &self,
        addr: impl ToSocketAddrs,
        tls: Option<crate::tls::TlsConfig>,
    ) -> std::io::Result<ServerHandle> {
        let server = self.clone();
        let l = crate::engineio::listener::listen(addr, tls, move |req| {
            let server = server.clone();
            async move { server.handle(req).await }
        })
        .await?;
        Ok(ServerHandle {
            local_addr: l.local_addr,
            server: self.clone(),
            stop: l.stop,
            task: Some(l.task),
        })
    }

    /// Disconnects every socket with reason `server shutting down` and
    /// closes every connection; waits (at most 2 s) for them to go.
    pub async fn shutdown(&self) {
        self.engine.close_all(CloseReason::ServerShutdown);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.engine.session_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // As Node's `io.close()`: each namespace's adapter leaves the cluster.
        for ns in self.state().namespace_list() {
            ns.0.adapter.close();
        }
    }
}

/// A running standalone server.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    server: Server,
    stop: Arc<tokio::sync::Notify>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Stops accepting, disconnects every socket ("server shutting down")
    /// and closes every connection.
    pub async fn shutdown(mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.server.shutdown().await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The server as a hyper / tower service.
#[derive(Clone, Debug)]
pub struct SocketIoService {
    server: Server,
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<B> tower_service::Service<Request<B>> for SocketIoService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let server = self.server.clone();
        Box::pin(async move { Ok(server.handle(req).await) })
    }
}

impl<B> hyper::service::Service<Request<B>> for SocketIoService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<B>) -> Self::Future {
        let server = self.server.clone();
        Box::pin(async move { Ok(server.handle(req).await) })
    }
}
