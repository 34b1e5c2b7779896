//! A client socket: one namespace over a manager's connection.

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::error::ClientError;
use super::manager::{Cmd, ManagerInner};
use super::options::Auth;
use crate::codec::socketio::{Packet, PacketData, RESERVED_EVENTS};
use crate::engineio::Message;
use crate::socketio::EmitError;
use crate::{Args, IntoArgs, Value};

/// Why a client socket disconnected (the JS client's reason strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientDisconnectReason {
    /// The server removed the socket (`socket.disconnect()` on the server).
    IoServerDisconnect,
    /// This side called `disconnect()`.
    IoClientDisconnect,
    /// The server stopped pinging.
    PingTimeout,
    /// The connection was closed.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent an invalid packet.
    ParseError,
}

impl ClientDisconnectReason {
    /// The official reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientDisconnectReason::IoServerDisconnect => "io server disconnect",
            ClientDisconnectReason::IoClientDisconnect => "io client disconnect",
            ClientDisconnectReason::PingTimeout => "ping timeout",
            ClientDisconnectReason::TransportClose => "transport close",
            ClientDisconnectReason::TransportError => "transport error",
            ClientDisconnectReason::ParseError => "parse error",
        }
    }

    /// True when the library reconnects by itself after this reason.
    pub fn will_reconnect(self) -> bool {
        !matches!(
            self,
            ClientDisconnectReason::IoServerDisconnect | ClientDisconnectReason::IoClientDisconnect
        )
    }
}

impl std::fmt::Display for ClientDisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connection status of a client socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not connected and not trying.
    Disconnected,
    /// Trying to connect (or reconnect).
    Connecting,
    /// Connected, with the socket id the server gave.
    Connected(String),
    /// Refused by the server's middleware.
    Refused(ClientError),
}

/// An incoming event on a client socket.
#[derive(Clone)]
pub struct ClientEvent {
    /// The socket it arrived on.
    pub socket: ClientSocket,
    /// Event name.
    pub name: String,
    /// Arguments.
    pub args: Args,
    /// Present when the server asked for an acknowledgement.
    pub ack: Option<ClientAck>,
}

impl ClientEvent {
    /// Argument `i`, or `null`.
    pub fn arg(&self, i: usize) -> &Value {
        static NULL: Value = Value::Null;
        self.args.get(i).unwrap_or(&NULL)
    }
}

impl std::fmt::Debug for ClientEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .finish()
    }
}

/// Answers a server's acknowledgement request; the first `send` wins.
#[derive(Clone)]
pub struct ClientAck {
    socket: ClientSocket,
    id: u64,
    sent: Arc<AtomicBool>,
}

impl ClientAck {
    /// Sends the reply.
    ///
    /// # Errors
    /// Not connected, or the connection's queue is full.
    pub fn send(self, args: impl IntoArgs) -> Result<(), ClientError> {
        if self.sent.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let msg = self.socket.encode(None, &args.into_args(), Some(self.id));
        self.socket.send_now(msg)
    }
}

type EventFn = Arc<dyn Fn(ClientEvent) + Send + Sync>;
type AnyFn = Arc<dyn Fn(&ClientEvent) + Send + Sync>;
type OutFn = Arc<dyn Fn(&str, &Args) + Send + Sync>;
type SocketFn = Arc<dyn Fn(&ClientSocket) + Send + Sync>;
type ReasonFn = Arc<dyn Fn(&ClientSocket, ClientDisconnectReason) + Send + Sync>;
type ErrFn = Arc<dyn Fn(&ClientSocket, &ClientError) + Send + Sync>;

#[derive(Default, Clone)]
struct Handlers {
    events: HashMap<String, Vec<(EventFn, bool)>>,
    any: Vec<AnyFn>,
    any_outgoing: Vec<OutFn>,
    connect: Vec<SocketFn>,
    disconnect: Vec<ReasonFn>,
    connect_error: Vec<ErrFn>,
}

/// The live link to the server, shared by the sockets of a manager.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) tx: mpsc::Sender<Message>,
    pub(crate) max_payload: usize,
    pub(crate) on_websocket: Arc<std::sync::atomic::AtomicBool>,
    /// The Engine.IO session id (a 2.x server's CONNECT does not name the socket).
    pub(crate) engine_sid: Arc<str>,
}

impl Link {
    /// Checks `m` against the server's `maxPayload` as the transport in use
    /// sends it.
    fn check(&self, m: &Message) -> Result<(), ClientError> {
        let ws = self.on_websocket.load(std::sync::atomic::Ordering::Acquire);
        ClientSocket::size_check(m, self.max_payload, ws)
    }
}

struct State {
    link: Option<Link>,
    id: Option<String>,
    /// The application wants this socket connected.
    wanted: bool,
    buffer: VecDeque<Message>,
    buffered_bytes: usize,
    /// Private session id from the server (connection state recovery).
    pid: Option<String>,
    /// Last string the server appended to an event (its offset).
    last_offset: Option<String>,
    recovered: bool,
    /// Events that arrived before the CONNECT reply (a Node server sends a
    /// recovered session's missed packets first), delivered after it.
    early: Vec<(String, Args, Option<u64>)>,
    /// Emits waiting for an acknowledgement (`retries`), oldest first.
    queue: VecDeque<Queued>,
    queue_seq: u64,
}

/// Most events kept while waiting for a CONNECT reply.
const MAX_EARLY_EVENTS: usize = 100_000;

/// An emit in the retry queue.
struct Queued {
    seq: u64,
    event: String,
    args: Args,
    tries: u32,
    pending: bool,
    reply: Option<oneshot::Sender<Result<Args, ClientError>>>,
}

pub(crate) struct SocketInner {
    pub(crate) nsp: String,
    pub(crate) auth: Auth,
    pub(crate) manager: Arc<ManagerInner>,
    state: Mutex<State>,
    status: watch::Sender<Status>,
    handlers: Mutex<Handlers>,
    acks: Mutex<HashMap<u64, oneshot::Sender<Args>>>,
    ack_ids: AtomicU64,
}

/// A client socket: one namespace of a [`Manager`](super::Manager)'s
/// connection. Cheap to clone, safe to use from any thread; handlers run on
/// the manager's task and never while a library lock is held.
#[derive(Clone)]
pub struct ClientSocket(pub(crate) Arc<SocketInner>);

impl std::fmt::Debug for ClientSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSocket")
            .field("nsp", &self.0.nsp)
            .field("status", &*self.0.status.borrow())
            .finish()
    }
}

fn guarded(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a client handler panicked; the connection continues");
    }
}

/// A future resolving to the server's acknowledgement.
pub type ClientAckFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Args, ClientError>> + Send>>;

impl ClientSocket {
    pub(crate) fn new(nsp: String, auth: Auth, manager: Arc<ManagerInner>) -> ClientSocket {
        ClientSocket(Arc::new(SocketInner {
            nsp,
            auth,
            manager,
            state: Mutex::new(State {
                link: None,
                id: None,
                wanted: false,
                buffer: VecDeque::new(),
                buffered_bytes: 0,
                pid: None,
                last_offset: None,
                recovered: false,
                early: Vec::new(),
                queue: VecDeque::new(),
                queue_seq: 0,
            }),
            status: watch::channel(Status::Disconnected).0,
            handlers: Mutex::new(Handlers::default()),
            acks: Mutex::new(HashMap::new()),
            ack_ids: AtomicU64::new(0),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handlers(&self) -> std::sync::MutexGuard<'_, Handlers> {
        self.0.handlers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.0.nsp
    }

    /// The socket id given by the server, while connected.
    pub fn id(&self) -> Option<String> {
        self.state().id.clone()
    }

    /// True while connected.
    pub fn connected(&self) -> bool {
        matches!(*self.0.status.borrow(), Status::Connected(_))
    }

    /// The transport of the connection while connected: polling until an
    /// upgrade, WebSocket after it (the JS client's
    /// `socket.io.engine.transport.name`).
    pub fn transport(&self) -> Option<crate::Transport> {
        let st = self.state();
        let link = st.link.as_ref()?;
        Some(
            if link.on_websocket.load(std::sync::atomic::Ordering::Acquire) {
                crate::Transport::Websocket
            } else {
                crate::Transport::Polling
            },
        )
    }

    /// True when the last connection recovered the previous session
    /// (connection state recovery on the server): same id and rooms, and
    /// the events sent meanwhile were delivered before `connect` handlers ran.
    ///
    /// As the official client, this client offers the session on every
    /// reconnection and takes the last string argument of each event as
    /// the server's offset. That argument stays in the event's `args`:
    /// the official client leaves it there too, and only the server knows
    /// which events carry one.
    pub fn recovered(&self) -> bool {
        self.state().recovered
    }

    /// The `pid` and `offset` to offer in the CONNECT auth, if any.
    pub(crate) fn recovery_offer(&self) -> Option<(String, Option<String>)> {
        let st = self.state();
        st.pid.clone().map(|p| (p, st.last_offset.clone()))
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.0.status.borrow().clone()
    }

    /// A receiver of status changes (for waiting on connect/disconnect).
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.0.status.subscribe()
    }

    // ---- handlers -------------------------------------------------------

    /// Calls `handler` for every `event` from the server.
    pub fn on(&self, event: &str, handler: impl Fn(ClientEvent) + Send + Sync + 'static) {
        self.handlers()
            .events
            .entry(event.to_owned())
            .or_default()
            .push((Arc::new(handler), false));
    }

    /// Calls `handler` for the next `event` only.
    pub fn once(&self, event: &str, handler: impl Fn(ClientEvent) + Send + Sync + 'static) {
        self.handlers()
            .events
            .entry(event.to_owned())
            .or_default()
            .push((Arc::new(handler), true));
    }

    /// Removes every handler of `event`.
    pub fn off(&self, event: &str) {
        self.handlers().events.remove(event);
    }

    /// Calls `handler` for every incoming event.
    pub fn on_any(&self, handler: impl Fn(&ClientEvent) + Send + Sync + 'static) {
        self.handlers().any.push(Arc::new(handler));
    }

    /// Calls `handler` for every outgoing event.
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        self.handlers().any_outgoing.push(Arc::new(handler));
    }

    /// Called on every (re)connection of this namespace.
    pub fn on_connect(&self, handler: impl Fn(&ClientSocket) + Send + Sync + 'static) {
        self.handlers().connect.push(Arc::new(handler));
    }

    /// Called on every disconnection, with the reason.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(&ClientSocket, ClientDisconnectReason) + Send + Sync + 'static,
    ) {
        self.handlers().disconnect.push(Arc::new(handler));
    }

    /// Called when a connection attempt fails or the server refuses the namespace.
    pub fn on_connect_error(
        &self,
        handler: impl Fn(&ClientSocket, &ClientError) + Send + Sync + 'static,
    ) {
        self.handlers().connect_error.push(Arc::new(handler));
    }

    // ---- connecting -----------------------------------------------------

    /// Asks for the connection without waiting (it is retried in the background).
    pub fn open(&self) {
        self.state().wanted = true;
        let _ = self.0.status.send_if_modified(|s| {
            if matches!(s, Status::Connected(_)) {
                false
            } else {
                *s = Status::Connecting;
                true
            }
        });
        if let Some(m) = Some(&self.0.manager) {
            m.command(Cmd::Connect(self.0.nsp.clone()));
        }
    }

    /// Connects and waits until the namespace is joined.
    ///
    /// # Errors
    /// [`ClientError::Refused`] when the server's middleware refuses,
    /// [`ClientError::Timeout`] when not connected within the connect
    /// timeout (attempts go on in the background unless `disconnect` is called).
    pub async fn connect(&self) -> Result<(), ClientError> {
        let timeout =
            Some(&self.0.manager).map_or(Duration::from_secs(20), |m| m.opts.connect_timeout);
        self.connect_timeout(timeout).await
    }

    /// As [`connect`](Self::connect) with an explicit wait bound.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_timeout(&self, timeout: Duration) -> Result<(), ClientError> {
        let mut rx = self.watch_status();
        self.open();
        let wait = async {
            loop {
                match &*rx.borrow_and_update() {
                    Status::Connected(_) => return Ok(()),
                    Status::Refused(e) => return Err(e.clone()),
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(ClientError::Closed);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(ClientError::Timeout))
    }

    /// Leaves the namespace: queued packets are flushed, the server gets a
    /// DISCONNECT, and the connection closes if no other namespace uses it.
    pub fn disconnect(&self) {
        let (was_connected, link) = {
            let mut st = self.state();
            st.wanted = false;
            st.id = None;
            st.buffer.clear();
            st.buffered_bytes = 0;
            (st.link.is_some(), st.link.take())
        };
        if let Some(link) = link {
            let packet = Packet {
                nsp: self.0.nsp.clone(),
                data: PacketData::Disconnect,
            };
            let parser = self.0.manager.opts.parser;
            let _ = link
                .tx
                .try_send(crate::socketio::encode_message_with(parser, &packet));
        }
        self.0.status.send_replace(Status::Disconnected);
        if was_connected {
            self.fire_disconnect(ClientDisconnectReason::IoClientDisconnect);
        }
        if let Some(m) = Some(&self.0.manager) {
            m.command(Cmd::Disconnect);
        }
    }

    // ---- emitting -------------------------------------------------------

    fn encode(&self, event: Option<&str>, args: &Args, id: Option<u64>) -> Message {
        crate::socketio::encode_event_message(
            self.0.manager.opts.parser,
            &self.0.nsp,
            event,
            args,
            id,
        )
    }

    /// Over WebSocket the server bounds each frame (the text packet, each
    /// attachment raw, as Node's `ws` does); over long-polling, the whole
    /// POST, where binary goes base64-encoded (`b` + 4/3 of its size).
    fn size_check(m: &Message, max: usize, websocket: bool) -> Result<(), ClientError> {
        let text = m.text.len();
        let atts = m.attachments.iter().flat_map(|a| a.iter());
        let size = if websocket {
            atts.map(bytes::Bytes::len).fold(text, usize::max)
        } else {
            text + atts.map(|b| b.len().div_ceil(3) * 4 + 2).sum::<usize>()
        };
        if size > max {
            Err(ClientError::PayloadTooLarge { size, max })
        } else {
            Ok(())
        }
    }

    /// Sends now if connected (used by acks, which are meaningless later).
    fn send_now(&self, msg: Message) -> Result<(), ClientError> {
        let link = self.state().link.clone().ok_or(ClientError::NotConnected)?;
        link.check(&msg)?;
        link.tx
            .try_send(msg)
            .map_err(|_| ClientError::Emit(EmitError::QueueFull))
    }

    fn send_or_buffer(&self, msg: Message, volatile: bool) -> Result<(), ClientError> {
        let max_known = Some(&self.0.manager).map(|m| m.max_payload());
        let mut st = self.state();
        if let Some(link) = &st.link {
            link.check(&msg)?;
            return match link.tx.try_send(msg) {
                Ok(()) => Ok(()),
                Err(_) if volatile => Ok(()),
                Err(_) => Err(ClientError::Emit(EmitError::QueueFull)),
            };
        }
        if volatile {
            return Ok(());
        }
        if let Some(Some(max)) = max_known {
            // Sent after the next connection opens, on its first transport.
            let ws = self.0.manager.opts.transports.first() == Some(&crate::Transport::Websocket);
            Self::size_check(&msg, max, ws)?;
        }
        let opts = Some(&self.0.manager)
            .map(|m| m.opts.buffering.clone())
            .unwrap_or_default();
        if !opts.enabled {
            return Err(ClientError::NotConnected);
        }
        let size = msg.text.len()
            + msg
                .attachments
                .as_ref()
                .map_or(0, |a| a.iter().map(|b| b.len()).sum());
        if st.buffer.len() >= opts.max_packets || st.buffered_bytes + size > opts.max_bytes {
            return Err(ClientError::BufferFull);
        }
        st.buffered_bytes += size;
        st.buffer.push_back(msg);
        Ok(())
    }

    fn outgoing(&self, event: &str, args: &Args) -> Result<(), ClientError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(ClientError::Emit(EmitError::ReservedEvent(
                event.to_owned(),
            )));
        }
        let out = self.handlers().any_outgoing.clone();
        for f in out {
            guarded(|| f(event, args));
        }
        Ok(())
    }

    /// Sends an event. While disconnected it is buffered (see `Buffering`)
    /// and sent, in order, after the next connection.
    ///
    /// # Errors
    /// [`ClientError::PayloadTooLarge`] over the server's `maxPayload`,
    /// [`ClientError::BufferFull`] / [`ClientError::NotConnected`] offline,
    /// a reserved event name, or a full outgoing queue.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), ClientError> {
        let args = args.into_args();
        if self.retries() > 0 {
            if RESERVED_EVENTS.contains(&event) {
                return Err(ClientError::Emit(EmitError::ReservedEvent(
                    event.to_owned(),
                )));
            }
            return self.enqueue(event, args, None);
        }
        self.outgoing(event, &args)?;
        self.send_or_buffer(self.encode(Some(event), &args, None), false)
    }

    /// Sends an event that is dropped, without error, while disconnected or congested.
    ///
    /// # Errors
    /// Payload too large or a reserved event name.
    pub fn emit_volatile(&self, event: &str, args: impl IntoArgs) -> Result<(), ClientError> {
        let args = args.into_args();
        self.outgoing(event, &args)?;
        self.send_or_buffer(self.encode(Some(event), &args, None), true)
    }

    /// Sends the `message` event.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), ClientError> {
        self.emit("message", args)
    }

    /// Sends an event and resolves with the server's acknowledgement within
    /// the default ack timeout.
    ///
    /// With [`retries`](super::ClientOptions::retries), the packet goes
    /// through the retry queue and the future resolves with the first
    /// acknowledgement, or [`ClientError::Timeout`] once every try timed out.
    pub fn emit_with_ack(&self, event: &str, args: impl IntoArgs) -> ClientAckFuture {
        if self.retries() > 0 {
            let args = args.into_args();
            if RESERVED_EVENTS.contains(&event) {
                let e = ClientError::Emit(EmitError::ReservedEvent(event.to_owned()));
                return Box::pin(async move { Err(e) });
            }
            let (tx, rx) = oneshot::channel();
            if let Err(e) = self.enqueue(event, args, Some(tx)) {
                return Box::pin(async move { Err(e) });
            }
            return Box::pin(async move { rx.await.unwrap_or(Err(ClientError::Closed)) });
        }
        let timeout = Some(&self.0.manager).map_or(Duration::from_secs(10), |m| m.opts.ack_timeout);
        self.emit_with_ack_timeout(event, args, timeout)
    }

    fn retries(&self) -> u32 {
        self.0.manager.opts.retries
    }

    // ---- the retry queue (the JS client's `_addToQueue` / `_drainQueue`) ----

    fn enqueue(
        &self,
        event: &str,
        args: Args,
        reply: Option<oneshot::Sender<Result<Args, ClientError>>>,
    ) -> Result<(), ClientError> {
        {
            let mut st = self.state();
            if st.queue.len() >= self.0.manager.opts.buffering.max_packets {
                return Err(ClientError::BufferFull);
            }
            let seq = st.queue_seq;
            st.queue_seq += 1;
            st.queue.push_back(Queued {
                seq,
                event: event.to_owned(),
                args,
                tries: 0,
                pending: false,
                reply,
            });
        }
        self.drain_queue();
        Ok(())
    }

    /// Sends the head of the queue if connected and not already waiting
    /// for its acknowledgement.
    fn drain_queue(&self) {
        let (link, event, args, seq, attempt) = {
            let mut st = self.state();
            let Some(link) = st.link.clone() else { return };
            let Some(head) = st.queue.front_mut() else {
                return;
            };
            if head.pending {
                return;
            }
            head.pending = true;
            head.tries += 1;
            (
                link,
                head.event.clone(),
                head.args.clone(),
                head.seq,
                head.tries,
            )
        };
        if let Err(e) = self.outgoing(&event, &args) {
            self.queue_result(seq, attempt, Err(e));
            return;
        }
        let id = self.0.ack_ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut a) = self.0.acks.lock() {
            a.insert(id, tx);
        }
        let msg = self.encode(Some(&event), &args, Some(id));
        if let Err(e) = link.check(&msg) {
            self.cancel_ack(id);
            // Too large for this server: no try can succeed.
            self.fail_head(seq, e);
            return;
        }
        // A full outgoing queue counts as a lost try: the timeout retries it.
        let _ = link.tx.try_send(msg);
        let me = self.clone();
        let timeout = self.0.manager.opts.ack_timeout;
        // Host threads (C, Python) emit too: the current or shared runtime.
        crate::runtime::spawn(async move {
            let res = match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(_)) => Err(ClientError::Closed),
                Err(_) => {
                    me.cancel_ack(id);
                    Err(ClientError::Timeout)
                }
            };
            me.queue_result(seq, attempt, res);
        });
    }

    fn fail_head(&self, seq: u64, err: ClientError) {
        let done = {
            let mut st = self.state();
            match st.queue.front() {
                Some(h) if h.seq == seq => st.queue.pop_front(),
                _ => None,
            }
        };
        if let Some(q) = done
            && let Some(tx) = q.reply
        {
            let _ = tx.send(Err(err));
        }
        self.drain_queue();
    }

    /// The outcome of try `attempt` of queued packet `seq`.
    fn queue_result(&self, seq: u64, attempt: u32, res: Result<Args, ClientError>) {
        let done = {
            let mut st = self.state();
            let retries = self.retries();
            let Some(head) = st.queue.front_mut() else {
                return;
            };
            // Acknowledged already, or a later try is in flight.
            if head.seq != seq || head.tries != attempt {
                return;
            }
            head.pending = false;
            match &res {
                Ok(_) => st.queue.pop_front(),
                Err(_) if head.tries > retries => st.queue.pop_front(),
                Err(_) => None,
            }
        };
        if let Some(q) = done
            && let Some(tx) = q.reply
        {
            let _ = tx.send(res);
        }
        self.drain_queue();
    }

    /// Sends an event and resolves with the acknowledgement within `timeout`.
    pub fn emit_with_ack_timeout(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> ClientAckFuture {
        let args = args.into_args();
        if let Err(e) = self.outgoing(event, &args) {
            return Box::pin(async move { Err(e) });
        }
        let id = self.0.ack_ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut a) = self.0.acks.lock() {
            a.insert(id, tx);
        }
        if let Err(e) = self.send_or_buffer(self.encode(Some(event), &args, Some(id)), false) {
            self.cancel_ack(id);
            return Box::pin(async move { Err(e) });
        }
        let me = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(args)) => Ok(args),
                Ok(Err(_)) => Err(ClientError::Closed),
                Err(_) => {
                    me.cancel_ack(id);
                    Err(ClientError::Timeout)
                }
            }
        })
    }

    fn cancel_ack(&self, id: u64) {
        if let Ok(mut a) = self.0.acks.lock() {
            a.remove(&id);
        }
    }

    // ---- called by the manager -----------------------------------------

    pub(crate) fn wanted(&self) -> bool {
        self.state().wanted
    }

    pub(crate) fn on_connected(&self, id: String, pid: Option<String>, link: Link) {
        let early = {
            let mut st = self.state();
            if !st.wanted {
                return;
            }
            // Buffered emits go out first, in order, before anything new.
            while let Some(m) = st.buffer.pop_front() {
                if link.check(&m).is_err() {
                    tracing::warn!(nsp = %self.0.nsp, "dropping a buffered packet over the server's maxPayload");
                    continue;
                }
                if link.tx.try_send(m).is_err() {
                    tracing::warn!(nsp = %self.0.nsp, "outgoing queue full while flushing the offline buffer");
                }
            }
            st.buffered_bytes = 0;
            st.id = Some(id.clone());
            st.link = Some(link);
            // As the official client: recovered when the server gave back
            // the private id we offered.
            st.recovered = pid.is_some() && st.pid == pid;
            st.pid = pid;
            // A try in flight on the lost connection is sent again now.
            if let Some(head) = st.queue.front_mut() {
                head.pending = false;
            }
            std::mem::take(&mut st.early)
        };
        self.0.status.send_replace(Status::Connected(id));
        for (name, args, ack) in early {
            self.on_event(name, args, ack);
        }
        self.drain_queue();
        let handlers = self.handlers().connect.clone();
        for f in handlers {
            guarded(|| f(self));
        }
    }

    pub(crate) fn on_link_lost(&self, reason: ClientDisconnectReason) {
        let was_connected = {
            let mut st = self.state();
            st.id = None;
            st.early.clear();
            if matches!(reason, ClientDisconnectReason::IoServerDisconnect) {
                st.wanted = false;
            }
            st.link.take().is_some()
        };
        let next = if self.wanted() {
            Status::Connecting
        } else {
            Status::Disconnected
        };
        // A refusal stays visible until the application connects again.
        self.0.status.send_if_modified(|s| {
            if matches!(s, Status::Refused(_)) {
                false
            } else {
                *s = next;
                true
            }
        });
        if was_connected {
            self.fire_disconnect(reason);
        }
    }

    fn fire_disconnect(&self, reason: ClientDisconnectReason) {
        let handlers = self.handlers().disconnect.clone();
        for f in handlers {
            guarded(|| f(self, reason));
        }
    }

    pub(crate) fn fail_connect(&self, err: ClientError, final_refusal: bool) {
        if final_refusal {
            self.state().wanted = false;
            self.0.status.send_replace(Status::Refused(err.clone()));
        }
        let handlers = self.handlers().connect_error.clone();
        for f in handlers {
            guarded(|| f(self, &err));
        }
    }

    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.data {
            PacketData::Connect(v) => {
                let field = |k: &str| v.as_ref().and_then(|v| v[k].as_str()).map(str::to_owned);
                if let Some(link) = Some(&self.0.manager).and_then(|m| m.link()) {
                    // A 2.x server names no socket: the id is the Engine.IO
                    // id, prefixed by the namespace outside `/` (as the 2.x client).
                    let id = field("sid").unwrap_or_else(|| match self.nsp() {
                        "/" => link.engine_sid.to_string(),
                        nsp => format!("{nsp}#{}", link.engine_sid),
                    });
                    self.on_connected(id, field("pid"), link);
                }
            }
            PacketData::ConnectError(v) => {
                let message = v["message"]
                    .as_str()
                    .or(v.as_str())
                    .unwrap_or("connection refused")
                    .to_owned();
                // A 2.x server sends the error's data alone.
                let data = match v.as_object() {
                    Some(o) if o.contains_key("message") => o.get("data").cloned(),
                    Some(_) => Some(v.clone()),
                    None => None,
                };
                let retry = Some(&self.0.manager).is_some_and(|m| m.opts.retry_refused);
                self.state().early.clear();
                self.fail_connect(ClientError::Refused { message, data }, !retry);
            }
            PacketData::Disconnect => self.on_link_lost(ClientDisconnectReason::IoServerDisconnect),
            PacketData::Event { event, args, id } => self.on_event(event, args, id),
            PacketData::Ack { args, id: Some(id) } => {
                let tx = self.0.acks.lock().ok().and_then(|mut a| a.remove(&id));
                if let Some(tx) = tx {
                    let _ = tx.send(args);
                }
            }
            PacketData::Ack { id: None, .. } => {}
        }
    }

    fn on_event(&self, name: String, args: Args, id: Option<u64>) {
        {
            let mut st = self.state();
            if st.link.is_none() {
                // Before the CONNECT reply: held until it comes.
                if st.early.len() < MAX_EARLY_EVENTS {
                    st.early.push((name, args, id));
                } else {
                    tracing::warn!(nsp = %self.0.nsp, "too many events before CONNECT; dropping one");
                }
                return;
            }
            if st.pid.is_some()
                && let Some(Value::String(offset)) = args.last()
            {
                st.last_offset = Some(offset.clone());
            }
        }
        let ack = id.map(|id| ClientAck {
            socket: self.clone(),
            id,
            sent: Arc::new(AtomicBool::new(false)),
        });
        let ev = ClientEvent {
            socket: self.clone(),
            name,
            args,
            ack,
        };
        let (any, listeners) = {
            let mut h = self.handlers();
            let listeners = h.events.get(&ev.name).cloned().unwrap_or_default();
            if listeners.iter().any(|(_, once)| *once)
                && let Some(l) = h.events.get_mut(&ev.name)
            {
                l.retain(|(_, once)| !*once);
            }
            (h.any.clone(), listeners)
        };
        for f in any {
            guarded(|| f(&ev));
        }
        for (f, _) in listeners {
            let ev = ev.clone();
            guarded(|| f(ev));
        }
    }
}
