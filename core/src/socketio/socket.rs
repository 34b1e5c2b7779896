//! A server-side socket: one client in one namespace.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::broadcast::{BroadcastOperator, IntoRooms};
use super::conn::Conn;
use super::error::{AckError, DisconnectReason, EmitError, JoinError};
use super::handshake::Handshake;
use super::namespace::NsInner;
use crate::adapter::Room;
use crate::codec::socketio::{
    Packet, PacketData, RESERVED_EVENTS, RawEventPacket, encode_json_event_into,
};
use crate::engineio::{CloseReason, Message, Session};
use crate::sid::{Sid, SidHasher};
use crate::{Args, IntoArgs, JsonArgs, Value};

type EventFn = Arc<dyn Fn(Event) + Send + Sync>;
type RawFn = Arc<dyn Fn(RawEvent<'_>) + Send + Sync>;
type AnyFn = Arc<dyn Fn(&Event) + Send + Sync>;
type OutgoingFn = Arc<dyn Fn(&str, &Args) + Send + Sync>;
type PacketMiddleware = Arc<dyn Fn(&mut Event) -> Result<(), String> + Send + Sync>;
type ReasonFn = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
type ErrorFn = Arc<dyn Fn(&Socket, &str) + Send + Sync>;

#[derive(Clone)]
struct Listener {
    f: EventFn,
    once: bool,
}

#[derive(Default)]
struct Handlers {
    /// By event name, with the sid hasher: only the app inserts names, so a
    /// peer's lookups cannot degrade the map, and SipHash cost ≈ 100
    /// instructions per event.
    events: HashMap<String, Arc<[Listener]>, BuildHasherDefault<SidHasher>>,
    any: Vec<AnyFn>,
    /// Kept as listeners so an event takes them with one reference count.
    unhandled: Arc<[Listener]>,
    unhandled_raw: Option<RawFn>,
    any_outgoing: Vec<OutgoingFn>,
    middlewares: Vec<PacketMiddleware>,
    disconnecting: Vec<ReasonFn>,
    disconnect: Vec<ReasonFn>,
    error: Vec<ErrorFn>,
}

/// Values stored on a socket by type (`Socket::insert`).
pub(crate) type Extensions = HashMap<TypeId, Box<dyn Any + Send + Sync>>;

/// Who a new socket is: a fresh id, or a recovered session's.
pub(crate) struct Identity {
    pub(crate) id: Sid,
    /// Private session id (connection state recovery on).
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) data: Value,
    pub(crate) extensions: Extensions,
}

pub(crate) struct SocketInner {
    id: Sid,
    pid: Option<Arc<str>>,
    recovered: AtomicBool,
    pub(crate) ns: Arc<NsInner>,
    session: Arc<Session>,
    conn: Weak<Conn>,
    handshake: Handshake,
    connected: AtomicBool,
    /// False until the connection handlers have run; packets wait meanwhile.
    ready: AtomicBool,
    pending: Mutex<Vec<Packet>>,
    handlers: Mutex<Handlers>,
    acks: Mutex<HashMap<u64, oneshot::Sender<Args>>>,
    extensions: Mutex<Extensions>,
    /// `socket.data`: serialisable, travels between nodes.
    data: Mutex<Value>,
    /// Some `on_any_outgoing` handler is registered (read per broadcast).
    watches_outgoing: AtomicBool,
}

/// A client connected to a namespace. Cheap to clone; every clone is the
/// same socket.
///
/// ```no_run
/// # use oxsio::{Server, Socket, Event};
/// let io = Server::new();
/// io.of("/").on_connection(|socket: Socket| {
///     socket.join("lobby");
///     socket.on("chat", |ev: Event| {
///         let _ = ev.socket.to("lobby").emit("chat", ev.args.clone());
///         if let Some(ack) = ev.ack { ack.send("delivered"); }
///     });
/// });
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name)
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// An incoming event whose arguments are still the JSON text the client
/// sent (see [`Socket::on_unhandled_raw`]).
#[derive(Debug)]
pub struct RawEvent<'a> {
    /// The socket that sent it.
    pub socket: &'a Socket,
    /// Event name.
    pub name: &'a str,
    /// The arguments after the name, checked as `JSON.parse` would accept
    /// them, as written (`1.50` stays `1.50`).
    pub args: JsonArgs<'a>,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

/// An incoming event as handlers see it.
#[derive(Clone)]
pub struct Event {
    /// The socket that sent it.
    pub socket: Socket,
    /// Event name.
    pub name: String,
    /// Arguments (binary buffers in place).
    pub args: Args,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

impl Event {
    /// Argument `i`, or `null`.
    pub fn arg(&self, i: usize) -> &Value {
        static NULL: Value = Value::Null;
        self.args.get(i).unwrap_or(&NULL)
    }
}

/// Answers a client's acknowledgement request. The first `send` wins.
#[derive(Clone)]
pub struct AckSender {
    socket: Socket,
    id: u64,
    sent: Arc<AtomicBool>,
}

impl std::fmt::Debug for AckSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckSender").field("id", &self.id).finish()
    }
}

impl AckSender {
    /// Sends the reply.
    ///
    /// # Errors
    /// The socket is gone or its queue is full. A second send is a no-op.
    pub fn send(self, args: impl IntoArgs) -> Result<(), EmitError> {
        if self.sent.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let inner = &self.socket.0;
        let args = args.into_args();
        self.socket.send_message(super::encode_event_message(
            inner.ns.common.parser,
            &inner.ns.name,
            None,
            &args,
            Some(self.id),
        ))
    }

    /// The ack id.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A future resolving to the client's acknowledgement.
pub type AckFuture = std::pin::Pin<Box<dyn Future<Output = Result<Args, AckError>> + Send>>;

impl Socket {
    pub(crate) fn new(
        ns: Arc<NsInner>,
        session: Arc<Session>,
        conn: Weak<Conn>,
        handshake: Handshake,
        identity: Identity,
    ) -> Socket {
        Socket(Arc::new(SocketInner {
            id: identity.id,
            pid: identity.pid,
            recovered: AtomicBool::new(false),
            ns,
            session,
            conn,
            handshake,
            connected: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            handlers: Mutex::new(Handlers::default()),
            acks: Mutex::new(HashMap::new()),
            extensions: Mutex::new(identity.extensions),
            data: Mutex::new(identity.data),
            watches_outgoing: AtomicBool::new(false),
        }))
    }

    /// The socket's data (Node's `socket.data`): any JSON and binary
    /// value, `{}` at first. Unlike the typed values of
    /// [`insert`](Self::insert), it travels: other nodes see it in
    /// [`fetch_sockets`](BroadcastOperator::fetch_sockets) (as Node's do),
    /// and it comes back with a recovered session.
    pub fn data(&self) -> Value {
        self.0.data.lock().map(|d| d.clone()).unwrap_or(Value::Null)
    }

    /// Replaces the socket's data.
    pub fn set_data(&self, data: impl Into<Value>) {
        let data = data.into();
        if let Ok(mut d) = self.0.data.lock() {
            *d = data;
        }
        self.data_changed();
    }

    /// Tells the admin UI (when it watches) that the data changed.
    fn data_changed(&self) {
        if let Some(admin) = self.0.ns.common.admin.get() {
            admin.data_updated(self);
        }
    }

    /// Changes the data without telling the admin UI (its own bookkeeping).
    pub(crate) fn update_data_quietly(&self, f: impl FnOnce(&mut Value)) {
        if let Ok(mut d) = self.0.data.lock() {
            f(&mut d);
        }
    }

    /// The transport the connection uses now: `polling` or `websocket`.
    pub(crate) fn transport_name(&self) -> &'static str {
        if self.0.session.state() == crate::engineio::session::STATE_WEBSOCKET {
            "websocket"
        } else {
            "polling"
        }
    }

    /// Changes the socket's data in place.
    ///
    /// ```no_run
    /// # fn f(socket: oxsio::Socket) {
    /// socket.update_data(|d| {
    ///     if let oxsio::Value::Object(m) = d {
    ///         m.insert("score".into(), 42.into());
    ///     }
    /// });
    /// # }
    /// ```
    pub fn update_data(&self, f: impl FnOnce(&mut Value)) {
        if let Ok(mut d) = self.0.data.lock() {
            f(&mut d);
        }
        self.data_changed();
    }

    /// True when this socket's state was recovered after a temporary
    /// disconnection (connection state recovery): same id, rooms and data,
    /// and the packets it missed were sent again before any new one.
    pub fn recovered(&self) -> bool {
        self.0.recovered.load(Ordering::Acquire)
    }

    pub(crate) fn set_recovered(&self, yes: bool) {
        self.0.recovered.store(yes, Ordering::Release);
    }

    /// The private session id (connection state recovery on).
    pub(crate) fn pid(&self) -> Option<&Arc<str>> {
        self.0.pid.as_ref()
    }

    /// The socket id (20 URL-safe characters; also the name of its own room).
    pub fn id(&self) -> Sid {
        self.0.id
    }

    /// The namespace name.
    pub fn ns(&self) -> &str {
        &self.0.ns.name
    }

    /// The handshake: auth, headers, query, address, time.
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// True until the socket disconnects.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    /// The transport the connection is on now: polling until an upgrade to
    /// WebSocket completes (as python-socketio's `transport(sid)`).
    pub fn transport(&self) -> crate::Transport {
        if self.0.session.state() == crate::engineio::session::STATE_WEBSOCKET {
            crate::Transport::Websocket
        } else {
            crate::Transport::Polling
        }
    }

    /// The Engine.IO session id of the underlying connection.
    pub fn transport_sid(&self) -> Sid {
        self.0.session.sid()
    }

    // ---- handlers -------------------------------------------------------

    fn handlers(&self) -> std::sync::MutexGuard<'_, Handlers> {
        self.0.handlers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_listener(&self, event: &str, f: EventFn, once: bool) {
        let mut h = self.handlers();
        let mut list: Vec<Listener> = h.events.get(event).map(|l| l.to_vec()).unwrap_or_default();
        list.push(Listener { f, once });
        h.events.insert(event.to_owned(), list.into());
    }

    /// Calls `handler` for every `event` from the client. Several handlers
    /// per event run in registration order.
    pub fn on(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) {
        self.add_listener(event, Arc::new(handler), false);
    }

    /// Like [`on`](Self::on) with an async handler, spawned on the runtime.
    pub fn on_async<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on(event, move |ev| {
            tokio::spawn(handler(ev));
        });
    }

    /// Calls `handler` for the next `event` only.
    pub fn once(&self, event: &str, handler: impl Fn(Event) + Send + Sync + 'static) {
        self.add_listener(event, Arc::new(handler), true);
    }

    /// Removes every handler of `event`.
    pub fn off(&self, event: &str) {
        self.handlers().events.remove(event);
    }

    /// Calls `handler` for every incoming event, before the event's own handlers.
    pub fn on_any(&self, handler: impl Fn(&Event) + Send + Sync + 'static) {
        self.handlers().any.push(Arc::new(handler));
    }

    /// Calls `handler` with each event no [`on`](Self::on) or
    /// [`once`](Self::once) listener takes, by value, after the
    /// [`on_any`](Self::on_any) handlers: a default handler, e.g. to hand
    /// every event to another thread without copying its arguments.
    ///
    /// ```no_run
    /// # fn f(socket: oxsio::Socket) {
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// socket.on_unhandled(move |ev| {
    ///     let _ = tx.send((ev.name, ev.args));
    /// });
    /// # drop(rx);
    /// # }
    /// ```
    pub fn on_unhandled(&self, handler: impl Fn(Event) + Send + Sync + 'static) {
        let mut h = self.handlers();
        let mut list = h.unhandled.to_vec();
        list.push(Listener {
            f: Arc::new(handler),
            once: false,
        });
        h.unhandled = list.into();
    }

    /// Like [`on_unhandled`](Self::on_unhandled), with the arguments as the
    /// JSON text the client sent, for hosts that want JSON anyway (the C
    /// API): no [`Value`] is built. It takes the plain text events that no
    /// listener takes, while the socket has no [`on_any`](Self::on_any)
    /// handler and no middleware; the other events (binary ones, names
    /// written with escapes) still go to `on_unhandled`. One handler: a
    /// second call replaces the first.
    ///
    /// ```no_run
    /// # fn f(socket: oxsio::Socket) {
    /// socket.on_unhandled_raw(|ev| {
    ///     let _ = ev.socket.emit_json(ev.name, ev.args); // echo, as received
    /// });
    /// # }
    /// ```
    pub fn on_unhandled_raw(&self, handler: impl Fn(RawEvent<'_>) + Send + Sync + 'static) {
        self.handlers().unhandled_raw = Some(Arc::new(handler));
        if let Some(conn) = self.0.conn.upgrade() {
            conn.takes_raw_events();
        }
    }

    /// Calls `handler` for every event this socket emits, and every
    /// broadcast that reaches it (as Node's `onAnyOutgoing`).
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        self.handlers().any_outgoing.push(Arc::new(handler));
        self.0.watches_outgoing.store(true, Ordering::Release);
    }

    /// True when an `on_any_outgoing` handler is registered.
    pub(crate) fn watches_outgoing(&self) -> bool {
        self.0.watches_outgoing.load(Ordering::Acquire)
    }

    /// Shows a broadcast event to the `on_any_outgoing` handlers (one
    /// atomic load when there are none).
    pub(crate) fn notify_outgoing(&self, packet: &Packet) {
        if !self.0.watches_outgoing.load(Ordering::Acquire) {
            return;
        }
        if let PacketData::Event { event, args, .. } = &packet.data {
            let outgoing = self.handlers().any_outgoing.clone();
            for f in outgoing {
                guarded(|| f(event, args));
            }
        }
    }

    /// Adds a per-packet middleware: it may change the event, or refuse it
    /// with `Err(message)` — then the event is dropped and the `error`
    /// handlers ([`on_error`](Self::on_error)) get the message.
    pub fn use_middleware(
        &self,
        mw: impl Fn(&mut Event) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.handlers().middlewares.push(Arc::new(mw));
    }

    /// Called with the message of a refused packet.
    pub fn on_error(&self, handler: impl Fn(&Socket, &str) + Send + Sync + 'static) {
        self.handlers().error.push(Arc::new(handler));
    }

    /// Called when the socket is about to leave (its rooms are still readable).
    pub fn on_disconnecting(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.handlers().disconnecting.push(Arc::new(handler));
    }

    /// Called once the socket has left, with the reason.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.handlers().disconnect.push(Arc::new(handler));
    }

    // ---- data -----------------------------------------------------------

    /// Stores a value of type `T` on the socket, replacing any previous one.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) {
        if let Ok(mut e) = self.0.extensions.lock() {
            e.insert(TypeId::of::<T>(), Box::new(value));
        }
    }

    /// A clone of the stored value of type `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        let e = self.0.extensions.lock().ok()?;
        e.get(&TypeId::of::<T>())?.downcast_ref::<T>().cloned()
    }

    /// Removes and returns the stored value of type `T`.
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<T> {
        let mut e = self.0.extensions.lock().ok()?;
        e.remove(&TypeId::of::<T>())?
            .downcast::<T>()
            .ok()
            .map(|b| *b)
    }

    // ---- emitting -------------------------------------------------------

    pub(crate) fn send_message(&self, msg: Message) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        if let Some(admin) = self.0.ns.common.admin.get() {
            admin.packet_out(&msg);
        }
        self.0.session.try_send(msg).map_err(EmitError::from)
    }

    /// Refuses protocol event names and shows the event to the
    /// [`on_any_outgoing`](Self::on_any_outgoing) handlers (`args` is only
    /// made when there are some).
    fn outgoing<'a>(
        &self,
        event: &str,
        args: impl FnOnce() -> Cow<'a, Args>,
    ) -> Result<(), EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let outgoing = self.handlers().any_outgoing.clone();
        if !outgoing.is_empty() {
            let args = args();
            for f in outgoing {
                guarded(|| f(event, &args));
            }
        }
        Ok(())
    }

    fn encode(&self, event: &str, args: &Args, id: Option<u64>) -> Result<Message, EmitError> {
        self.outgoing(event, || Cow::Borrowed(args))?;
        Ok(super::encode_event_message(
            self.0.ns.common.parser,
            &self.0.ns.name,
            Some(event),
            args,
            id,
        ))
    }

    /// Sends an event to this client.
    ///
    /// # Errors
    /// [`EmitError::QueueFull`] when the client reads too slowly,
    /// [`EmitError::Disconnected`] after disconnect,
    /// [`EmitError::ReservedEvent`] for protocol event names.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let args = args.into_args();
        if self.0.pid.is_some() {
            return self.emit_recoverable(event, args);
        }
        let msg = self.encode(event, &args, None)?;
        self.send_message(msg)
    }

    /// With recovery on, an emit is a broadcast to the socket's own room,
    /// so the adapter logs it for replay (as Node does): an emit while the
    /// client is away reaches it when it recovers.
    fn emit_recoverable(&self, event: &str, args: Args) -> Result<(), EmitError> {
        // The adapter's delivery shows it to the `on_any_outgoing` handlers.
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let packet = Packet::event(self.0.ns.name.to_string(), event, args, None);
        let opts = crate::adapter::BroadcastOptions {
            rooms: vec![Room::from(self.0.id.as_str())],
            ..Default::default()
        };
        match self.0.ns.adapter.broadcast(packet, &opts) {
            Ok(()) => Ok(()),
            Err(super::BroadcastError::Sockets(mut failed)) => match failed.pop() {
                Some((_, e)) => Err(e),
                None => Ok(()),
            },
            Err(super::BroadcastError::ReservedEvent(e)) => Err(EmitError::ReservedEvent(e)),
        }
    }

    /// Sends an event whose arguments are JSON text, copied into the packet
    /// as written (no [`Value`] is built; see [`JsonArgs`]). The
    /// [`on_any_outgoing`](Self::on_any_outgoing) handlers still see the
    /// arguments as values.
    ///
    /// ```no_run
    /// # fn f(socket: oxsio::Socket) -> Result<(), Box<dyn std::error::Error>> {
    /// socket.emit_json("score", oxsio::JsonArgs::new(r#"[{"team":"red","points":3}]"#)?)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn emit_json(&self, event: &str, args: JsonArgs<'_>) -> Result<(), EmitError> {
        if self.0.pid.is_some() {
            // The offset is appended as a value: go through the general path.
            return self.emit_recoverable(event, args.to_args());
        }
        if self.0.ns.common.parser != crate::codec::Parser::Json {
            // No JSON text on this wire: the values are encoded.
            return self.emit(event, args.to_args());
        }
        self.outgoing(event, || Cow::Owned(args.to_args()))?;
        self.send_message(Message::encode(|text, _| {
            encode_json_event_into(text, &self.0.ns.name, event, args.inner(), None);
        }))
    }

    /// Sends the `message` event.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Sends an event and resolves with the client's acknowledgement, or
    /// fails after the server's ack timeout (see [`timeout`](Self::timeout)).
    /// The packet is queued before this returns.
    pub fn emit_with_ack(&self, event: &str, args: impl IntoArgs) -> AckFuture {
        let timeout = self.0.ns.ack_timeout();
        self.emit_with_ack_timeout(event, args.into_args(), timeout)
    }

    fn emit_with_ack_timeout(&self, event: &str, args: Args, timeout: Duration) -> AckFuture {
        let max = self.0.ns.common.max_pending_acks;
        if self.0.acks.lock().map(|a| a.len()).unwrap_or(0) >= max {
            return Box::pin(async move { Err(AckError::TooManyPending { max }) });
        }
        let id = self.0.ns.next_ack_id();
        let rx = self.register_ack(id);
        let sent = self
            .encode(event, &args, Some(id))
            .and_then(|m| self.send_message(m));
        if let Err(e) = sent {
            self.cancel_ack(id);
            return Box::pin(async move { Err(AckError::Emit(e)) });
        }
        let socket = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    socket.cancel_ack(id);
                    if let Some(m) = &socket.0.ns.common.metrics {
                        m.ack_timeouts.inc();
                    }
                    Err(AckError::Timeout)
                }
            }
        })
    }

    /// Emits with a specific acknowledgement timeout.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: Some(timeout),
            volatile: false,
        }
    }

    /// Emits that are dropped when the client's queue is full, without error.
    pub fn volatile(&self) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: None,
            volatile: true,
        }
    }

    pub(crate) fn register_ack(&self, id: u64) -> oneshot::Receiver<Args> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut acks) = self.0.acks.lock() {
            acks.insert(id, tx);
        }
        rx
    }

    pub(crate) fn cancel_ack(&self, id: u64) {
        if let Ok(mut acks) = self.0.acks.lock() {
            acks.remove(&id);
        }
    }

    // ---- rooms and broadcasting ------------------------------------------

    /// Joins one or several rooms. Past the server's `max_rooms_per_socket`
    /// the extra rooms are not joined (logged); use [`try_join`](Self::try_join)
    /// to get the error.
    pub fn join(&self, rooms: impl IntoRooms) {
        if let Err(e) = self.try_join(rooms) {
            tracing::warn!(sid = %self.0.id, error = %e, "join refused");
        }
    }

    /// Joins rooms, or fails without joining any when the socket would be in
    /// more than `max_rooms_per_socket` rooms.
    ///
    /// # Errors
    /// [`JoinError::TooManyRooms`].
    pub fn try_join(&self, rooms: impl IntoRooms) -> Result<(), JoinError> {
        let rooms = rooms.into_rooms();
        let max = self.0.ns.common.max_rooms_per_socket;
        let current = self.0.ns.adapter.socket_rooms(self.0.id);
        let new = rooms.iter().filter(|r| !current.contains(r)).count();
        // The own-id room does not count.
        if current.len() - 1 + new > max {
            return Err(JoinError::TooManyRooms { max });
        }
        self.0.ns.adapter.add_all(self.0.id, &rooms);
        Ok(())
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.0.ns.adapter.del(self.0.id, room);
    }

    /// The rooms this socket is in, including its own id room.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter.socket_rooms(self.0.id)
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except(self.0.id)
    }

    /// Targets the sockets in `rooms`, except this one.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().to(rooms)
    }

    /// Alias of [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace except this one and those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.operator().except(rooms)
    }

    /// Targets every socket of the namespace except this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.operator()
    }

    // ---- disconnecting ---------------------------------------------------

    /// Removes the socket from its namespace: the client gets a DISCONNECT
    /// packet and reason `io server disconnect`. The connection stays open
    /// for the client's other namespaces.
    pub fn disconnect(&self) {
        self.disconnect_with(false);
    }

    /// Like [`disconnect`](Self::disconnect), and also closes the underlying
    /// connection (all namespaces) when `close` is true.
    pub fn disconnect_with(&self, close: bool) {
        if !self.connected() {
            return;
        }
        if close {
            // Every namespace of the connection leaves, then it closes (as Node).
            match self.0.conn.upgrade() {
                Some(conn) => conn.disconnect_all(),
                None => self.0.session.close(CloseReason::ForcedClose),
            }
            return;
        }
        let packet = Packet {
            nsp: self.0.ns.name.to_string(),
            data: PacketData::Disconnect,
        };
        let _ = self.send_message(super::encode_message_with(self.0.ns.common.parser, &packet));
        if let Some(conn) = self.0.conn.upgrade() {
            conn.forget(&self.0.ns.name);
        }
        self.close(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Tears the socket down: `disconnecting`, leave rooms, `disconnect`.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.0.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        let (disconnecting, disconnect) = {
            let h = self.handlers();
            (h.disconnecting.clone(), h.disconnect.clone())
        };
        for f in &disconnecting {
            guarded(|| f(self, reason));
        }
        let adapter = &self.0.ns.adapter;
        // Rooms as they were, for a session kept for recovery (Node persists
        // after `disconnecting`, before the socket leaves its rooms).
        let keep = self
            .0
            .pid
            .as_ref()
            .filter(|_| reason.is_recoverable())
            .map(|_| adapter.socket_rooms(self.0.id));
        adapter.del_all(self.0.id);
        self.0.ns.remove_socket(self.0.id);
        if let Ok(mut acks) = self.0.acks.lock() {
            acks.clear();
        }
        for f in &disconnect {
            guarded(|| f(self, reason));
        }
        if let Some(admin) = self.0.ns.common.admin.get() {
            admin.socket_disconnected(self, reason);
        }
        // Break reference cycles through closures capturing the socket.
        *self.handlers() = Handlers::default();
        let (data, extensions) = self.take_data();
        if let Some(pid) = &self.0.pid {
            match keep {
                Some(rooms) => adapter.persist_session(crate::adapter::SessionState {
                    sid: self.0.id,
                    pid: pid.clone(),
                    rooms,
                    data,
                    extensions: crate::adapter::SessionExtensions(extensions),
                }),
                None => adapter.forget_session(pid),
            }
        }
    }

    /// A new connection recovered this socket's session while its old one
    /// looked alive: it leaves the old connection as if the transport closed.
    pub(crate) fn close_taken_over(&self) {
        if let Some(conn) = self.0.conn.upgrade() {
            conn.forget(&self.0.ns.name);
        }
        self.close(DisconnectReason::TransportClose);
    }

    /// A packet kept for replay did not fit in the full outgoing queue: the
    /// connection closes (`transport error`, a recoverable reason) so the
    /// client comes back and gets it, instead of silently missing it.
    pub(crate) fn close_overflowed(&self) {
        tracing::debug!(sid = %self.0.id, "outgoing queue full with recovery on: closing for a replay");
        self.0.session.close(CloseReason::TransportError);
    }

    /// Takes the socket's data and typed values (a restored session refused).
    pub(crate) fn take_data(&self) -> (Value, Extensions) {
        let data = self
            .0
            .data
            .lock()
            .map(|mut d| std::mem::replace(&mut *d, Value::Null))
            .unwrap_or(Value::Null);
        let ext = self
            .0
            .extensions
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default();
        (data, ext)
    }

    pub(crate) fn mark_connected(&self) {
        self.0.connected.store(true, Ordering::Release);
    }

    /// Runs queued packets once the connection handlers are done.
    pub(crate) fn mark_ready(&self) {
        loop {
            let batch = {
                let mut p = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
                if p.is_empty() {
                    self.0.ready.store(true, Ordering::Release);
                    return;
                }
                std::mem::take(&mut *p)
            };
            for packet in batch {
                self.dispatch(packet);
            }
        }
    }

    // ---- incoming --------------------------------------------------------

    /// Handles a packet for this socket's namespace.
    pub(crate) fn on_packet(&self, packet: Packet) {
        if !self.0.ready.load(Ordering::Acquire) {
            let mut p = self.0.pending.lock().unwrap_or_else(|e| e.into_inner());
            if !self.0.ready.load(Ordering::Acquire) {
                p.push(packet);
                return;
            }
        }
        self.dispatch(packet);
    }

    /// Hands a plain text event to the raw handler; false when the event
    /// must be decoded and dispatched the general way.
    pub(crate) fn on_raw_event(&self, packet: RawEventPacket<'_>) -> bool {
        if !self.0.ready.load(Ordering::Acquire) {
            return false;
        }
        let raw = {
            let h = self.handlers();
            match &h.unhandled_raw {
                Some(f)
                    if h.any.is_empty()
                        && h.middlewares.is_empty()
                        && !h.events.contains_key(packet.name) =>
                {
                    f.clone()
                }
                _ => return false,
            }
        };
        let ack = packet.id.map(|id| AckSender {
            socket: self.clone(),
            id,
            sent: Arc::new(AtomicBool::new(false)),
        });
        guarded(|| {
            raw(RawEvent {
                socket: self,
                name: packet.name,
                args: packet.args,
                ack,
            })
        });
        true
    }

    fn dispatch(&self, packet: Packet) {
        match packet.data {
            PacketData::Event { event, args, id } => self.on_event(event, args, id),
            PacketData::Ack { args, id: Some(id) } => {
                let tx = self.0.acks.lock().ok().and_then(|mut a| a.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send(args);
                }
            }
            _ => {}
        }
    }

    fn on_event(&self, name: String, args: Args, id: Option<u64>) {
        let ack = id.map(|id| AckSender {
            socket: self.clone(),
            id,
            sent: Arc::new(AtomicBool::new(false)),
        });
        let mut ev = Event {
            socket: self.clone(),
            name,
            args,
            ack,
        };
        let (middlewares, any, listeners, errors) = {
            let mut h = self.handlers();
            let listeners: Option<Arc<[Listener]>> = match h.events.get(&ev.name) {
                Some(l) => Some(l.clone()),
                None if h.unhandled.is_empty() => None,
                None => Some(h.unhandled.clone()),
            };
            if let Some(l) = &listeners
                && l.iter().any(|l| l.once)
            {
                let keep: Vec<Listener> = l.iter().filter(|l| !l.once).cloned().collect();
                if keep.is_empty() {
                    h.events.remove(&ev.name);
                } else {
                    h.events.insert(ev.name.clone(), keep.into());
                }
            }
            let mws = if h.middlewares.is_empty() {
                Vec::new()
            } else {
                h.middlewares.clone()
            };
            let any = if h.any.is_empty() {
                Vec::new()
            } else {
                h.any.clone()
            };
            let errors = if mws.is_empty() {
                Vec::new()
            } else {
                h.error.clone()
            };
            (mws, any, listeners, errors)
        };
        for mw in &middlewares {
            let verdict = catch_unwind(AssertUnwindSafe(|| mw(&mut ev)))
                .unwrap_or_else(|_| Err("middleware panicked".into()));
            if let Err(msg) = verdict {
                for f in &errors {
                    guarded(|| f(self, &msg));
                }
                return;
            }
        }
        for f in &any {
            guarded(|| f(&ev));
        }
        let Some(listeners) = listeners else { return };
        let (last, rest) = match listeners.split_last() {
            Some(x) => x,
            None => return,
        };
        for l in rest {
            let ev = ev.clone();
            guarded(|| (l.f)(ev));
        }
        guarded(|| (last.f)(ev));
    }
}

/// Runs user code; a panic is logged and contained so the connection lives on.
pub(crate) fn guarded(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a socket handler panicked; the connection continues");
    }
}

/// Emit options for one socket (`socket.timeout(d)`, `socket.volatile()`).
#[derive(Clone)]
pub struct SocketEmitter {
    socket: Socket,
    timeout: Option<Duration>,
    volatile: bool,
}

impl SocketEmitter {
    /// Sets the acknowledgement timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Drops the message silently when the client's queue is full.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Sends an event.
    ///
    /// # Errors
    /// As [`Socket::emit`], except that a full queue is not an error when volatile.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let _counted_as = crate::metrics::VolatileScope::enter(self.volatile);
        match self.socket.emit(event, args) {
            Err(EmitError::QueueFull) if self.volatile => Ok(()),
            r => r,
        }
    }

    /// Sends an event and awaits the acknowledgement.
    pub fn emit_with_ack(&self, event: &str, args: impl IntoArgs) -> AckFuture {
        let timeout = self
            .timeout
            .unwrap_or_else(|| self.socket.0.ns.ack_timeout());
        self.socket
            .emit_with_ack_timeout(event, args.into_args(), timeout)
    }
}

/// A socket found by [`fetch_sockets`](BroadcastOperator::fetch_sockets), on
/// this node or (with a multi-node adapter) another. Operations on it go
/// through the adapter, so they work wherever the socket lives.
#[derive(Clone)]
pub struct RemoteSocket {
    /// Socket id.
    pub id: Sid,
    /// Namespace name.
    pub nsp: String,
    /// Rooms, own id room included.
    pub rooms: Vec<Room>,
    /// Auth payload of the handshake.
    pub auth: Value,
    /// Its data ([`Socket::data`]).
    pub data: Value,
    /// The whole handshake as Node sends it between nodes (`headers`,
    /// `time`, `address`, `xdomain`, `secure`, `issued`, `url`, `query`,
    /// `auth`; see [`Handshake::to_node_value`](super::Handshake::to_node_value)).
    pub handshake: Value,
    /// The socket itself when it lives on this node.
    pub local: Option<Socket>,
    pub(crate) ns: Option<Arc<NsInner>>,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.id)
            .field("nsp", &self.nsp)
            .field("rooms", &self.rooms)
            .finish()
    }
}

impl RemoteSocket {
    pub(crate) fn from_local(s: &Socket) -> RemoteSocket {
        RemoteSocket {
            id: s.id(),
            nsp: s.ns().to_owned(),
            rooms: s.rooms(),
            auth: s.handshake().auth.clone(),
            data: s.data(),
            handshake: s.handshake().to_node_value(),
            local: Some(s.clone()),
            ns: Some(s.0.ns.clone()),
        }
    }

    /// A socket described by another node.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn remote(
        id: Sid,
        nsp: String,
        rooms: Vec<Room>,
        handshake: Value,
        data: Value,
        ns: &super::NsHandle,
    ) -> RemoteSocket {
        RemoteSocket {
            id,
            nsp,
            rooms,
            auth: handshake["auth"].clone(),
            data,
            handshake,
            local: ns.get_socket(id),
            ns: ns.upgrade(),
        }
    }

    fn op(&self) -> Option<BroadcastOperator> {
        Some(BroadcastOperator::new(self.ns.clone()?).to(self.id))
    }

    /// Emits to this socket.
    ///
    /// # Errors
    /// As a broadcast to its id room.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), super::BroadcastError> {
        self.op().map_or(Ok(()), |op| op.emit(event, args))
    }

    /// Makes the socket join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        if let Some(op) = self.op() {
            op.sockets_join(rooms);
        }
    }

    /// Makes the socket leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        if let Some(op) = self.op() {
            op.sockets_leave(rooms);
        }
    }

    /// Disconnects the socket.
    pub fn disconnect(&self, close: bool) {
        if let Some(op) = self.op() {
            op.disconnect_sockets(close);
        }
    }
}
