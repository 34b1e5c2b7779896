//! Namespaces: connection handlers, connect middlewares, their sockets.

use crate::sid::SidMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::broadcast::{BroadcastOperator, IntoRooms};
use super::conn::Conn;
use super::error::{BroadcastError, ConnectError};
use super::handshake::Handshake;
use super::server::ServerCommon;
use super::socket::{Extensions, Identity, Socket, guarded};
use crate::adapter::{Adapter, Restore, Room};
use crate::codec::socketio::{Packet, PacketData};
use crate::sid::Sid;
use crate::{IntoArgs, Value};

type ConnectionFn = Arc<dyn Fn(Socket) + Send + Sync>;
type SyncMiddleware = Arc<dyn Fn(&Socket) -> Result<(), ConnectError> + Send + Sync>;
type AsyncMiddleware =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;

/// A connect middleware: sync, or async (awaited before the socket joins).
#[derive(Clone)]
pub(crate) enum Middleware {
    Sync(SyncMiddleware),
    Async(AsyncMiddleware),
}

/// Handlers and middlewares; shared by the children of a dynamic namespace.
#[derive(Default)]
pub(crate) struct NsConfig {
    on_connection: RwLock<Vec<ConnectionFn>>,
    pub(crate) middlewares: RwLock<Vec<Middleware>>,
    server_events: RwLock<Vec<ServerEventFn>>,
}

type ServerEventFn = Arc<dyn Fn(ServerEvent) + Send + Sync>;

/// An event another node sent with `server_side_emit` (multi-node adapters).
pub struct ServerEvent {
    /// Event name.
    pub name: String,
    /// Arguments.
    pub args: crate::Args,
    /// Present when the sender waits for a reply (only the first handler gets it).
    pub ack: Option<ServerAck>,
}

impl std::fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

/// Replies to a server-side emit; one value travels back (as in socket.io).
pub struct ServerAck(Box<dyn FnOnce(Value) + Send>);

impl ServerAck {
    /// Wraps the function that carries the reply back to the sender.
    pub fn new(f: impl FnOnce(Value) + Send + 'static) -> Self {
        ServerAck(Box::new(f))
    }

    /// Sends the reply.
    pub fn send(self, value: impl Into<Value>) {
        (self.0)(value.into());
    }
}

pub(crate) struct NsInner {
    pub(crate) name: Arc<str>,
    pub(crate) config: Arc<NsConfig>,
    sockets: RwLock<SidMap<Socket>>,
    pub(crate) adapter: Arc<dyn Adapter>,
    ack_ids: AtomicU64,
    pub(crate) common: Arc<ServerCommon>,
}

/// What an adapter sees of its namespace: a weak handle, so the adapter
/// never keeps the namespace alive.
#[derive(Clone)]
pub struct NsHandle(Weak<NsInner>, Arc<str>, crate::codec::Parser);

impl NsHandle {
    /// The namespace name. Known while the namespace builds its adapter
    /// (the weak handle cannot be upgraded then): an adapter made for `/chat`
    /// must not take itself for `/`.
    pub fn name(&self) -> Option<Arc<str>> {
        Some(self.1.clone())
    }

    /// The server's packet parser.
    pub fn parser(&self) -> crate::codec::Parser {
        self.2
    }

    /// Encodes a packet once as a message for the server's parser, to
    /// deliver to any socket of this namespace.
    pub fn encode_message(&self, packet: &Packet) -> crate::engineio::Message {
        super::encode_message_with(self.2, packet)
    }

    /// A connected local socket by id.
    pub fn get_socket(&self, sid: Sid) -> Option<Socket> {
        let ns = self.0.upgrade()?;
        let map = ns.sockets.read().ok()?;
        map.get(&sid).cloned()
    }

    /// The connected local sockets among `sids`, looked up under one lock.
    pub fn get_sockets(&self, sids: impl IntoIterator<Item = Sid>) -> Vec<Socket> {
        let Some(ns) = self.0.upgrade() else {
            return Vec::new();
        };
        let Ok(map) = ns.sockets.read() else {
            return Vec::new();
        };
        sids.into_iter()
            .filter_map(|sid| map.get(&sid).cloned())
            .collect()
    }

    /// Every connected local socket.
    pub fn sockets(&self) -> Vec<Socket> {
        self.0
            .upgrade()
            .and_then(|ns| {
                ns.sockets
                    .read()
                    .ok()
                    .map(|m| m.values().cloned().collect())
            })
            .unwrap_or_default()
    }

    /// A fresh acknowledgement id for this namespace.
    pub fn next_ack_id(&self) -> u64 {
        self.0.upgrade().map_or(0, |ns| ns.next_ack_id())
    }

    /// The admin UI's view of room changes, when it wants them.
    pub(crate) fn room_watch(&self) -> Option<crate::admin::RoomWatch> {
        crate::admin::RoomWatch::of(self.0.upgrade()?)
    }

    pub(crate) fn upgrade(&self) -> Option<Arc<NsInner>> {
        self.0.upgrade()
    }

    /// Runs the namespace's server-event handlers (an event from another node).
    pub fn dispatch_server_event(&self, name: String, args: crate::Args, ack: Option<ServerAck>) {
        let Some(ns) = self.0.upgrade() else { return };
        let handlers = ns
            .config
            .server_events
            .read()
            .map(|h| h.clone())
            .unwrap_or_default();
        let mut ack = ack;
        for h in handlers {
            let ev = ServerEvent {
                name: name.clone(),
                args: args.clone(),
                ack: ack.take(),
            };
            guarded(|| h(ev));
        }
    }
}

impl NsInner {
    /// Connected sockets of this namespace on this node (for the metrics).
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.read().map(|m| m.len()).unwrap_or(0)
    }
}

impl NsInner {
    pub(crate) fn new(
        name: Arc<str>,
        config: Arc<NsConfig>,
        common: Arc<ServerCommon>,
    ) -> Arc<NsInner> {
        Arc::new_cyclic(|weak: &Weak<NsInner>| {
            let adapter = (common.adapter)(NsHandle(weak.clone(), name.clone(), common.parser));
            NsInner {
                name,
                config,
                sockets: RwLock::new(SidMap::default()),
                adapter,
                ack_ids: AtomicU64::new(0),
                common,
            }
        })
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn ack_timeout(&self) -> Duration {
        self.common.ack_timeout
    }

    pub(crate) fn remove_socket(&self, sid: Sid) {
        if let Ok(mut m) = self.sockets.write() {
            m.remove(&sid);
        }
    }

    /// The session a reconnecting client offers (`pid`, `offset` in its
    /// auth), taken from the adapter when it can be recovered. A socket of
    /// that session still connected here is taken over first. None when
    /// the auth offers no session.
    fn restore_for(&self, auth: &Value) -> Option<BoxFuture<'static, Option<Restore>>> {
        let pid = auth["pid"].as_str()?;
        let offset = match &auth["offset"] {
            Value::String(o) => Some(o.as_str()),
            Value::Null => None,
            // A wrong offset type is a new session, as in Node.
            _ => return None,
        };
        let live = self.sockets.read().ok().and_then(|m| {
            m.values()
                .find(|s| s.pid().is_some_and(|p| &**p == pid))
                .cloned()
        });
        if let Some(old) = live {
            old.close_taken_over();
        }
        Some(self.adapter.restore_session(pid, offset))
    }

    /// Runs the middlewares for a new socket, then connects it or refuses
    /// it. When the adapter must ask its store for the offered session
    /// (Redis streams), the rest happens once it answered.
    pub(crate) fn connect(self: &Arc<Self>, conn: &Arc<Conn>, auth: Option<Value>) {
        let auth = auth.unwrap_or_else(|| Value::Object(crate::Map::new()));
        let eio3 = conn.session().eio3.is_some();
        // Socket.IO 2.x clients cannot recover a session.
        let recovery = self.common.recovery.as_ref().filter(|_| !eio3);
        let Some(mut pending) = recovery.and_then(|_| self.restore_for(&auth)) else {
            self.connect_restored(conn, auth, None);
            return;
        };
        if let Some(restore) = (&mut pending).now_or_never() {
            self.connect_restored(conn, auth, restore);
            return;
        }
        let ns = self.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            let restore = pending.await;
            ns.connect_restored(&conn, auth, restore);
        });
    }

    fn connect_restored(self: &Arc<Self>, conn: &Arc<Conn>, auth: Value, restore: Option<Restore>) {
        let info = conn.info();
        let eio3 = conn.session().eio3.is_some();
        let recovery = self.common.recovery.as_ref().filter(|_| !eio3);
        let mut restore = restore;
        let identity = match &mut restore {
            Some(r) => Identity {
                id: r.session.sid,
                pid: Some(r.session.pid.clone()),
                data: std::mem::take(&mut r.session.data),
                extensions: std::mem::take(&mut r.session.extensions.0),
            },
            None => Identity {
                // A 2.x client takes its Engine.IO id as its id in `/`.
                id: if eio3 && &*self.name == "/" {
                    conn.session().sid
                } else {
                    Sid::random()
                },
                pid: recovery.map(|_| Arc::from(Sid::random().as_str())),
                data: Value::Object(crate::Map::new()),
                extensions: Extensions::default(),
            },
        };
        let handshake = Handshake {
            auth,
            headers: info.headers.clone(),
            query: info.query.clone(),
            remote_addr: info.remote_addr,
            issued: SystemTime::now(),
            url: info.uri.to_string(),
            secure: info.secure,
        };
        let socket = Socket::new(
            self.clone(),
            conn.session().clone(),
            Arc::downgrade(conn),
            handshake,
            identity,
        );
        conn.track(self.name.clone(), socket.clone());
        let skip = restore.is_some() && recovery.is_some_and(|r| r.skip_middlewares);
        let mut mws: Vec<Middleware> = Vec::new();
        if !skip {
            mws.extend(
                self.common
                    .middlewares
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default(),
            );
            mws.extend(
                self.config
                    .middlewares
                    .read()
                    .map(|m| m.clone())
                    .unwrap_or_default(),
            );
        }
        if mws.iter().all(|m| matches!(m, Middleware::Sync(_))) {
            let verdict = mws.iter().try_for_each(|m| match m {
                Middleware::Sync(f) => run_sync(f.as_ref(), &socket),
                Middleware::Async(_) => Ok(()),
            });
            self.finish(conn, socket, verdict, restore);
            return;
        }
        let ns = self.clone();
        let conn = conn.clone();
        tokio::spawn(async move {
            let mut verdict = Ok(());
            for m in &mws {
                verdict = match m {
                    Middleware::Sync(f) => run_sync(f.as_ref(), &socket),
                    Middleware::Async(f) => std::panic::AssertUnwindSafe(f(socket.clone()))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| Err(ConnectError::new("middleware panicked"))),
                };
                if verdict.is_err() {
                    break;
                }
            }
            ns.finish(&conn, socket, verdict, restore);
        });
    }

    fn finish(
        self: &Arc<Self>,
        conn: &Arc<Conn>,
        socket: Socket,
        verdict: Result<(), ConnectError>,
        restore: Option<Restore>,
    ) {
        let nsp = self.name.to_string();
        let refused = match verdict {
            Err(err) => Some(err),
            Ok(()) if conn.session().is_closed() => None,
            Ok(()) => {
                self.join(conn, &socket, restore);
                return;
            }
        };
        conn.forget(&self.name);
        if let Some(mut r) = restore {
            // Not used: the session stays recoverable.
            let (data, extensions) = socket.take_data();
            r.session.data = data;
            r.session.extensions.0 = extensions;
            self.adapter.return_session(r);
        }
        if let Some(err) = refused {
            if let Some(m) = &self.common.metrics {
                m.refused(crate::metrics::Refusal::Middleware);
            }
            let data = if conn.session().eio3.is_some() {
                err.to_v3_value()
            } else {
                err.to_value()
            };
            let packet = Packet {
                nsp,
                data: PacketData::ConnectError(data),
            };
            let msg = super::encode_message_with(self.common.parser, &packet);
            if let Some(admin) = self.common.admin.get() {
                admin.packet_out(&msg);
            }
            let _ = conn.session().try_send(msg);
        }
    }

    /// Registers an accepted socket, answers its CONNECT (with the packets
    /// a recovered session missed right behind it) and runs the
    /// connection handlers.
    fn join(self: &Arc<Self>, conn: &Arc<Conn>, socket: &Socket, restore: Option<Restore>) {
        let register = |missed: Vec<crate::engineio::Message>| {
            if let Ok(mut m) = self.sockets.write() {
                m.insert(socket.id(), socket.clone());
            }
            self.adapter.socket_connected(socket.id());
            if let Some(r) = &restore {
                let own = socket.id();
                let rooms: Vec<Room> = r
                    .session
                    .rooms
                    .iter()
                    .filter(|room| Sid::parse(room) != Some(own))
                    .cloned()
                    .collect();
                if !rooms.is_empty() {
                    self.adapter.add_all(own, &rooms);
                }
            }
            socket.mark_connected();
            conn.mark_joined();
            let mut reply = crate::Map::new();
            reply.insert("sid".into(), Value::from(socket.id().as_str()));
            if let Some(pid) = socket.pid() {
                reply.insert("pid".into(), Value::from(&**pid));
            }
            // Socket.IO 2.x clients get a CONNECT without payload.
            let reply = (conn.session().eio3.is_none()).then_some(Value::Object(reply));
            let packet = Packet {
                nsp: self.name.to_string(),
                data: PacketData::Connect(reply),
            };
            let msg = super::encode_message_with(self.common.parser, &packet);
            if let Some(admin) = self.common.admin.get() {
                admin.packet_out(&msg);
                for m in &missed {
                    admin.packet_out(m);
                }
            }
            let _ = conn.session().send_replay(msg, missed);
        };
        match socket.pid().cloned() {
            Some(pid) => {
                let mut register = Some(register);
                let recovered =
                    self.adapter
                        .attach_session(&pid, restore.as_ref(), &mut |missed| {
                            if let Some(f) = register.take() {
                                f(missed);
                            }
                        });
                socket.set_recovered(recovered);
            }
            None => register(Vec::new()),
        }
        if let Some(admin) = self.common.admin.get() {
            admin.socket_connected(self, socket);
        }
        let handlers = self
            .config
            .on_connection
            .read()
            .map(|h| h.clone())
            .unwrap_or_default();
        for h in handlers {
            let s = socket.clone();
            guarded(|| h(s));
        }
        socket.mark_ready();
    }
}

fn run_sync(
    f: &(dyn Fn(&Socket) -> Result<(), ConnectError> + Send + Sync),
    socket: &Socket,
) -> Result<(), ConnectError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(socket)))
        .unwrap_or_else(|_| Err(ConnectError::new("middleware panicked")))
}

/// A namespace: a channel of its own over the shared connection, with its
/// handlers, middlewares, sockets and rooms.
///
/// ```no_run
/// # use oxsio::{Server, ConnectError};
/// let io = Server::new();
/// let admin = io.of("/admin");
/// admin.use_middleware(|socket| {
///     if socket.handshake().auth["token"].as_str() == Some("secret") { Ok(()) }
///     else { Err(ConnectError::new("unauthorized")) }
/// });
/// admin.on_connection(|socket| { let _ = socket.emit("hello", "admin"); });
/// ```
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NsInner>);

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Namespace").field(&self.0.name).finish()
    }
}

impl Namespace {
    /// The namespace name (e.g. `/` or `/chat`).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Calls `handler` with each socket that connects (after the middlewares).
    pub fn on_connection(&self, handler: impl Fn(Socket) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.config.on_connection.write() {
            h.push(Arc::new(handler));
        }
    }

    /// Adds a connect middleware; `Err` refuses the socket with `connect_error`.
    pub fn use_middleware(
        &self,
        mw: impl Fn(&Socket) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) {
        if let Ok(mut m) = self.0.config.middlewares.write() {
            m.push(Middleware::Sync(Arc::new(mw)));
        }
    }

    /// Adds an async connect middleware.
    pub fn use_middleware_async<F, Fut>(&self, mw: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        if let Ok(mut m) = self.0.config.middlewares.write() {
            m.push(Middleware::Async(Arc::new(move |s| mw(s).boxed())));
        }
    }

    /// Sessions and packets kept for connection state recovery on this node.
    pub fn recovery_stats(&self) -> crate::adapter::RecoveryStats {
        self.0.adapter.recovery_stats()
    }

    /// The connected sockets of this node.
    pub fn sockets(&self) -> Vec<Socket> {
        NsHandle(
            Arc::downgrade(&self.0),
            self.0.name.clone(),
            self.0.common.parser,
        )
        .sockets()
    }

    /// A connected socket by id.
    pub fn get_socket(&self, sid: Sid) -> Option<Socket> {
        NsHandle(
            Arc::downgrade(&self.0),
            self.0.name.clone(),
            self.0.common.parser,
        )
        .get_socket(sid)
    }

    pub(crate) fn op(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.clone())
    }

    /// Targets the sockets in `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.op().to(rooms)
    }

    /// Alias of [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.op().to(rooms)
    }

    /// Targets every socket except those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.op().except(rooms)
    }

    /// Only this node.
    pub fn local(&self) -> BroadcastOperator {
        self.op().local()
    }

    /// Messages may be dropped for slow clients.
    pub fn volatile(&self) -> BroadcastOperator {
        self.op().volatile()
    }

    /// Acknowledgement timeout for a broadcast `emit_with_ack`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.op().timeout(timeout)
    }

    /// Sends an event to every socket of the namespace.
    ///
    /// # Errors
    /// See [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), BroadcastError> {
        self.op().emit(event, args)
    }

    /// Sends the `message` event to every socket.
    ///
    /// # Errors
    /// See [`BroadcastOperator::emit`].
    pub fn send(&self, args: impl IntoArgs) -> Result<(), BroadcastError> {
        self.op().send(args)
    }

    /// Every socket of the namespace (see [`BroadcastOperator::fetch_sockets`]).
    pub async fn fetch_sockets(&self) -> Vec<super::RemoteSocket> {
        self.op().fetch_sockets().await
    }

    /// Every socket joins `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.op().sockets_join(rooms)
    }

    /// Every socket leaves `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.op().sockets_leave(rooms)
    }

    /// Disconnects every socket of the namespace.
    pub fn disconnect_sockets(&self, close: bool) {
        self.op().disconnect_sockets(close)
    }

    /// Every non-empty room (own-id rooms included).
    pub async fn rooms(&self) -> Vec<Room> {
        self.0.adapter.rooms().await
    }

    /// Calls `handler` for events other nodes send with `server_side_emit`.
    pub fn on_server_event(&self, handler: impl Fn(ServerEvent) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.config.server_events.write() {
            h.push(Arc::new(handler));
        }
    }

    /// Sends an event to the server-side handlers of every other node.
    pub async fn server_side_emit(&self, event: &str, args: impl IntoArgs) {
        let _ = self
            .0
            .adapter
            .server_side_emit(event, args.into_args(), None)
            .await;
    }

    /// Sends an event to every other node and gathers one reply per node.
    ///
    /// # Errors
    /// [`AckError::Timeout`](super::AckError::Timeout) unless every node answered in time.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Vec<Value>, super::AckError> {
        self.0
            .adapter
            .server_side_emit(event, args.into_args(), Some(timeout))
            .await
    }

    /// Number of nodes serving this namespace (1 with the in-memory adapter).
    pub async fn server_count(&self) -> usize {
        self.0.adapter.server_count().await
    }

    /// The adapter behind this namespace.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.0.adapter
    }
}
