//! The `ClusterAdapter` schema of socket.io-adapter 2.5 (the one Node's
//! sharded Redis adapter, streams adapter and Postgres adapter share):
//! messages `{type, data, uid, nsp}` with `MessageType` 1–13, requests
//! gathered by `requestId`, responses sent to the requester only.
//!
//! This module holds the node logic (what to publish for each operation,
//! how to answer each message); a [`Transport`] carries the messages (Redis
//! sharded Pub/Sub today). Message shapes and key order follow the traffic
//! captured between two Node nodes (`core/tests/data/redis-adapter-vectors.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::acks::{self, RemoteReply};
use super::{
    Adapter, BroadcastFlags, BroadcastOptions, MemoryAdapter, RecoveryStats, Restore, Room,
    SessionState,
};
use crate::codec::socketio::{Packet, PacketData};
use crate::engineio::Message;
use crate::sid::Sid;
use crate::socketio::{AckError, BroadcastError, NsHandle, RemoteSocket, ServerAck};
use crate::{Args, Map, Value};

/// `MessageType` of socket.io-adapter's `ClusterAdapter`.
pub(crate) mod kind {
    pub const INITIAL_HEARTBEAT: u64 = 1;
    pub const HEARTBEAT: u64 = 2;
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
    pub const ADAPTER_CLOSE: u64 = 13;
}

/// Carries cluster messages between the nodes of one namespace.
pub(crate) trait Transport: Send + Sync + 'static {
    /// Sends `{type, data, uid, nsp}` to every node (in the background).
    fn publish(&self, msg: &Value);
    /// Sends a response to the node whose uid is `requester` only.
    fn publish_response(&self, requester: &str, msg: &Value);
    /// Number of nodes serving the namespace, this one included.
    fn server_count(&self) -> BoxFuture<'static, usize>;
    /// The local members of `rooms` changed: a room may have been created or
    /// deleted on this node (per-room subscriptions follow).
    fn rooms_touched(&self, local: &MemoryAdapter, rooms: &[Room]) {
        let _ = (local, rooms);
    }
    /// A socket connected to this namespace on this node.
    fn socket_connected(&self, sid: Sid) {
        let _ = sid;
    }
    /// A socket of this node left the namespace.
    fn socket_gone(&self, sid: Sid) {
        let _ = sid;
    }
    /// The adapter closes: stop listening.
    fn close(&self) {}
    /// Publishes a message that the transport logs (a durable message of
    /// the Redis streams adapter), then calls `logged` with whether it was
    /// logged. The default publishes and reports it not logged.
    fn publish_logged(&self, msg: &Value, logged: Box<dyn FnOnce(bool) + Send>) {
        self.publish(msg);
        logged(false);
    }
    /// Connection state recovery shared by the cluster (Redis streams):
    /// sessions and missed packets live in the transport's store, and
    /// logged broadcasts reach local sockets in log order with their offset
    /// appended (this node's own ones too, when read back). None: recovery
    /// stays per node, with the local adapter.
    fn shared_recovery(&self) -> Option<&dyn SharedRecovery> {
        None
    }
}

/// Recovery kept in a store the whole cluster shares (see
/// [`Transport::shared_recovery`]).
pub(crate) trait SharedRecovery: Send + Sync {
    /// Stores a disconnected socket's session for `ttl`.
    fn persist(&self, session: SessionState, ttl: Duration);
    /// Takes the session of `pid` with the logged packets after `offset`
    /// that it missed.
    fn restore(&self, pid: &str, offset: &str) -> BoxFuture<'static, Option<Restore>>;
    /// Calls `attach` with the packets of `restore` not delivered live to
    /// this node yet, while no logged packet is delivered.
    fn attach(
        &self,
        local: &MemoryAdapter,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool;
}

/// A random 16-hex-character id (`randomBytes(8).toString("hex")`).
pub(crate) fn random_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

pub(crate) fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

pub(crate) fn rooms_from(v: &Value) -> Vec<Room> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(Room::from).collect())
        .unwrap_or_default()
}

/// `{rooms, except, flags}` as Node's `encodeOptions` writes it.
fn opts_value(opts: &BroadcastOptions, timeout_ms: Option<u64>) -> Value {
    let mut flags = Map::new();
    if opts.flags.volatile {
        flags.insert("volatile".into(), Value::Bool(true));
    }
    if let Some(t) = timeout_ms {
        flags.insert("timeout".into(), Value::from(t));
    }
    obj([
        ("rooms", rooms_value(&opts.rooms)),
        ("except", rooms_value(&opts.except)),
        ("flags", Value::Object(flags)),
    ])
}

pub(crate) fn opts_from(v: &Value) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms_from(&v["rooms"]),
        except: rooms_from(&v["except"]),
        flags: BroadcastFlags {
            volatile: v["flags"]["volatile"].as_bool().unwrap_or(false),
            local: false,
        },
    }
}

/// `[event, ...args]`.
fn event_value(event: &str, args: &Args) -> Value {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args.iter().cloned());
    Value::Array(data)
}

pub(crate) fn event_from(data: &Value) -> Option<(String, Args)> {
    let (first, rest) = data.as_array()?.split_first()?;
    let name = match first {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((name, rest.to_vec()))
}

/// True when a message of this type may carry binary (Node then encodes the
/// whole message as msgpack instead of JSON).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn may_contain_binary(ty: u64) -> bool {
    matches!(
        ty,
        kind::BROADCAST
            | kind::BROADCAST_ACK
            | kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT
            | kind::SERVER_SIDE_EMIT_RESPONSE
    )
}

/// Receives raw messages for one namespace (the transport's dispatcher
/// looks it up by channel).
pub(crate) trait Receiver: Send + Sync {
    /// This node's uid for the namespace.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn uid(&self) -> &str;
    /// A decoded message from a node's broadcast/request channel, or a
    /// response addressed to this node.
    fn on_message(self: Arc<Self>, msg: Value);
    /// A decoded message read from a log at `offset` (Redis streams);
    /// this node's own messages come back too.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn on_logged(self: Arc<Self>, msg: Value, offset: &str);
}

/// `ClusterAdapterWithHeartbeat`: the nodes are known from their messages
/// (a HEARTBEAT 5 s after a node's last publish), and a node unheard of for
/// 10 s, or that sent ADAPTER_CLOSE, is gone.
struct Heartbeat {
    nodes: Mutex<HashMap<String, Instant>>,
    last_publish: Mutex<Instant>,
}

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);

/// One namespace's node state.
pub(crate) struct Core<T: Transport> {
    pub(crate) local: MemoryAdapter,
    pub(crate) nsp: String,
    pub(crate) uid: String,
    pub(crate) transport: T,
    requests_timeout: Duration,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
    heartbeat: Option<Heartbeat>,
    closed: std::sync::atomic::AtomicBool,
}

/// An adapter speaking the `ClusterAdapter` schema over a transport.
pub(crate) struct ClusterAdapter<T: Transport>(pub(crate) Arc<Core<T>>);

impl<T: Transport> ClusterAdapter<T> {
    /// With `heartbeat`, the node count comes from heartbeats
    /// (`ClusterAdapterWithHeartbeat`, Postgres); without, from the transport.
    pub(crate) fn new(
        ns: NsHandle,
        nsp: String,
        uid: String,
        transport: T,
        requests_timeout: Duration,
        heartbeat: bool,
    ) -> Self {
        let local = if transport.shared_recovery().is_some() {
            MemoryAdapter::unlogged(ns)
        } else {
            MemoryAdapter::new(ns)
        };
        let core = Arc::new(Core {
            local,
            nsp,
            uid,
            transport,
            requests_timeout,
            pending: Mutex::new(HashMap::new()),
            heartbeat: heartbeat.then(|| Heartbeat {
                nodes: Mutex::new(HashMap::new()),
                last_publish: Mutex::new(Instant::now()),
            }),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        if heartbeat {
            crate::runtime::spawn(heartbeats(Arc::downgrade(&core)));
        }
        ClusterAdapter(core)
    }

    /// Announces this node (INITIAL_HEARTBEAT: every node answers with a
    /// HEARTBEAT, so they all know each other at once).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn init(&self) {
        if self.0.heartbeat.is_some() {
            self.0
                .transport
                .publish(&self.0.bare(kind::INITIAL_HEARTBEAT));
            self.0.touch();
        }
    }
}

/// Sends a HEARTBEAT when the node published nothing for 5 s, and forgets
/// the nodes unheard of for 10 s.
async fn heartbeats<T: Transport>(weak: std::sync::Weak<Core<T>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(core) = weak.upgrade() else { return };
        let Some(hb) = &core.heartbeat else { return };
        if core.closed.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if let Ok(mut nodes) = hb.nodes.lock() {
            nodes.retain(|_, seen| seen.elapsed() <= HEARTBEAT_TIMEOUT);
        }
        let idle = hb
            .last_publish
            .lock()
            .map(|t| t.elapsed() >= HEARTBEAT_INTERVAL)
            .unwrap_or(false);
        if idle {
            core.transport.publish(&core.bare(kind::HEARTBEAT));
            core.touch();
        }
    }
}

impl<T: Transport> Core<T> {
    /// Says goodbye once (ADAPTER_CLOSE, with heartbeats) and stops listening.
    fn close(&self) {
        if self.closed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        if self.heartbeat.is_some() {
            self.transport.publish(&self.bare(kind::ADAPTER_CLOSE));
        }
        self.transport.close();
    }
}

impl<T: Transport> Drop for Core<T> {
    fn drop(&mut self) {
        self.close();
    }
}

/// `{type, data, uid, nsp}`, in Node's key order.
pub(crate) fn envelope(ty: u64, data: Value, uid: &str, nsp: &str) -> Value {
    obj([
        ("type", Value::from(ty)),
        ("data", data),
        ("uid", Value::from(uid)),
        ("nsp", Value::from(nsp)),
    ])
}

/// The `data` of a BROADCAST (`request_id`: acks wanted, with their timeout).
pub(crate) fn broadcast_data(
    event: &str,
    args: &Args,
    opts: &BroadcastOptions,
    ack: Option<(&str, u64)>,
) -> Value {
    let packet = obj([("type", Value::from(2)), ("data", event_value(event, args))]);
    match ack {
        None => obj([("packet", packet), ("opts", opts_value(opts, None))]),
        Some((id, ms)) => obj([
            ("packet", packet),
            ("requestId", Value::from(id)),
            ("opts", opts_value(opts, Some(ms))),
        ]),
    }
}

impl<T: Transport> Core<T> {
    fn message(&self, ty: u64, data: Value) -> Value {
        envelope(ty, data, &self.uid, &self.nsp)
    }

    /// `{type, uid, nsp}`: heartbeats and ADAPTER_CLOSE carry no data.
    fn bare(&self, ty: u64) -> Value {
        obj([
            ("type", Value::from(ty)),
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
        ])
    }

    fn touch(&self) {
        if let Some(hb) = &self.heartbeat
            && let Ok(mut t) = hb.last_publish.lock()
        {
            *t = Instant::now();
        }
    }

    fn publish(&self, ty: u64, data: Value) {
        self.transport.publish(&self.message(ty, data));
        self.touch();
    }

    fn respond(&self, requester: &str, ty: u64, data: Value) {
        self.transport
            .publish_response(requester, &self.message(ty, data));
        self.touch();
    }

    /// Number of nodes, this one included.
    fn node_count(&self) -> BoxFuture<'static, usize> {
        match &self.heartbeat {
            Some(hb) => {
                let n = hb.nodes.lock().map(|n| n.len()).unwrap_or(0);
                Box::pin(async move { n + 1 })
            }
            None => self.transport.server_count(),
        }
    }

    fn register(&self) -> (String, mpsc::UnboundedReceiver<Value>) {
        let id = random_id();
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id.clone(), tx);
        }
        (id, rx)
    }

    fn forget(&self, id: &str) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(id);
        }
    }

    async fn others(&self) -> usize {
        self.node_count().await.saturating_sub(1)
    }

    fn on_response(&self, msg: Value) {
        let Some(id) = msg["data"]["requestId"].as_str() else {
            return;
        };
        let tx = self.pending.lock().ok().and_then(|p| p.get(id).cloned());
        if let Some(tx) = tx {
            let _ = tx.send(msg);
        }
    }

    /// The shared recovery store, when the transport has one and recovery is on.
    fn shared_recovery(&self) -> Option<&dyn SharedRecovery> {
        let rec = self.transport.shared_recovery()?;
        self.local.recovery_config().is_some().then_some(rec)
    }

    /// A logged BROADCAST read back from the log at `offset`: delivered
    /// locally, with its offset appended when recovery is on and the packet
    /// is replayable (not volatile). This node's own broadcasts are
    /// delivered here only then (otherwise they were when sent).
    ///
    /// # Errors
    /// The message has no event.
    fn deliver_logged(&self, data: &Value, offset: &str, own: bool) -> Result<(), String> {
        let (event, mut args) =
            event_from(&data["packet"]["data"]).ok_or("broadcast without event")?;
        let opts = opts_from(&data["opts"]);
        let replayable = !opts.flags.volatile && self.shared_recovery().is_some();
        if own && !replayable {
            // Delivered when it was sent.
            return Ok(());
        }
        if replayable {
            args.push(Value::from(offset));
        }
        let packet = Packet::event(self.nsp.clone(), event, args, None);
        let _ = self.local.broadcast(packet, &opts);
        Ok(())
    }

    fn handle(self: &Arc<Self>, msg: Value, offset: Option<&str>) -> Result<(), String> {
        if msg["nsp"].as_str() != Some(self.nsp.as_str()) {
            return Ok(());
        }
        let ty = msg["type"].as_u64().ok_or("message without type")?;
        if let (kind::BROADCAST, Some(offset)) = (ty, offset)
            && msg["data"]["requestId"].is_null()
        {
            let own = msg["uid"].as_str() == Some(self.uid.as_str());
            return self.deliver_logged(&msg["data"], offset, own);
        }
        if msg["uid"].as_str() == Some(self.uid.as_str()) {
            return Ok(());
        }
        if let Some(hb) = &self.heartbeat
            && let Some(uid) = msg["uid"]
                .as_str()
                .filter(|u| !u.is_empty() && *u != "emitter")
            && let Ok(mut nodes) = hb.nodes.lock()
        {
            if ty == kind::ADAPTER_CLOSE {
                nodes.remove(uid);
                return Ok(());
            }
            nodes.insert(uid.to_owned(), Instant::now());
            drop(nodes);
            if ty == kind::INITIAL_HEARTBEAT {
                self.transport.publish(&self.bare(kind::HEARTBEAT));
                self.touch();
                return Ok(());
            }
        }
        let requester = msg["uid"].as_str().unwrap_or_default().to_owned();
        let data = &msg["data"];
        match ty {
            kind::BROADCAST => {
                let (event, args) =
                    event_from(&data["packet"]["data"]).ok_or("broadcast without event")?;
                let opts = opts_from(&data["opts"]);
                let packet = Packet::event(self.nsp.clone(), event, args, None);
                let Some(id) = data["requestId"].as_str() else {
                    let _ = self.local.broadcast(packet, &opts);
                    return Ok(());
                };
                let timeout = data["opts"]["flags"]["timeout"]
                    .as_u64()
                    .map_or(self.requests_timeout, Duration::from_millis);
                let waiters = self.local.send_with_acks(packet, &opts);
                self.respond(
                    &requester,
                    kind::BROADCAST_CLIENT_COUNT,
                    obj([
                        ("requestId", Value::from(id)),
                        ("clientCount", Value::from(waiters.len())),
                    ]),
                );
                for rx in waiters {
                    let (me, id, requester) = (self.clone(), id.to_owned(), requester.clone());
                    crate::runtime::spawn(async move {
                        if let Ok(Ok(args)) = tokio::time::timeout(timeout, rx).await {
                            let first = args.into_iter().next().unwrap_or(Value::Null);
                            me.respond(
                                &requester,
                                kind::BROADCAST_ACK,
                                obj([("requestId", Value::from(id)), ("packet", first)]),
                            );
                        }
                    });
                }
            }
            kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE => {
                let opts = opts_from(&data["opts"]);
                let rooms = rooms_from(&data["rooms"]);
                if ty == kind::SOCKETS_JOIN {
                    self.local.add_sockets(&opts, &rooms);
                } else {
                    self.local.del_sockets(&opts, &rooms);
                }
                self.transport.rooms_touched(&self.local, &rooms);
            }
            kind::DISCONNECT_SOCKETS => {
                let opts = opts_from(&data["opts"]);
                self.local
                    .disconnect_sockets(&opts, data["close"].as_bool().unwrap_or(false));
            }
            kind::FETCH_SOCKETS => {
                let id = data["requestId"]
                    .as_str()
                    .ok_or("fetch request without requestId")?;
                let opts = opts_from(&data["opts"]);
                let sockets: Vec<Value> = self
                    .local
                    .local_targets(&opts)
                    .iter()
                    .map(|s| {
                        obj([
                            ("id", Value::from(s.id().as_str())),
                            ("handshake", s.handshake().to_node_value()),
                            ("rooms", rooms_value(&s.rooms())),
                            ("data", s.data()),
                        ])
                    })
                    .collect();
                self.respond(
                    &requester,
                    kind::FETCH_SOCKETS_RESPONSE,
                    obj([
                        ("requestId", Value::from(id)),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }
            kind::SERVER_SIDE_EMIT => {
                let (event, args) =
                    event_from(&data["packet"]).ok_or("server-side emit without event")?;
                let ack = data["requestId"].as_str().map(|id| {
                    let (me, id) = (self.clone(), id.to_owned());
                    ServerAck::new(move |reply: Value| {
                        me.respond(
                            &requester,
                            kind::SERVER_SIDE_EMIT_RESPONSE,
                            obj([("requestId", Value::from(id)), ("packet", reply)]),
                        );
                    })
                });
                self.local.ns().dispatch_server_event(event, args, ack);
            }
            kind::BROADCAST_CLIENT_COUNT
            | kind::BROADCAST_ACK
            | kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT_RESPONSE => self.on_response(msg),
            // Heartbeats belong to ClusterAdapterWithHeartbeat, which the
            // sharded adapter does not use: nothing to track.
            kind::INITIAL_HEARTBEAT | kind::HEARTBEAT | kind::ADAPTER_CLOSE => {}
            other => return Err(format!("unknown message type {other}")),
        }
        Ok(())
    }

    fn remote_socket(&self, v: &Value) -> Option<RemoteSocket> {
        let id = Sid::parse(v["id"].as_str()?)?;
        Some(RemoteSocket::remote(
            id,
            self.nsp.clone(),
            rooms_from(&v["rooms"]),
            v["handshake"].clone(),
            v["data"].clone(),
            self.local.ns(),
        ))
    }
}

impl<T: Transport> Receiver for Core<T> {
    fn uid(&self) -> &str {
        &self.uid
    }

    fn on_message(self: Arc<Self>, msg: Value) {
        if let Err(e) = self.handle(msg, None) {
            tracing::warn!(nsp = %self.nsp, error = %e, "cluster adapter: ignoring a malformed message");
        }
    }

    fn on_logged(self: Arc<Self>, msg: Value, offset: &str) {
        if let Err(e) = self.handle(msg, Some(offset)) {
            tracing::warn!(nsp = %self.nsp, error = %e, "cluster adapter: ignoring a malformed message");
        }
    }
}

impl<T: Transport> Adapter for ClusterAdapter<T> {
    // Recovery is per node (the local adapter keeps this node's sessions,
    // as Node's sharded and Postgres adapters) unless the transport keeps
    // it for the whole cluster (Redis streams).
    fn supports_recovery(&self) -> bool {
        match self.0.transport.shared_recovery() {
            Some(_) => self.0.shared_recovery().is_some(),
            None => self.0.local.supports_recovery(),
        }
    }

    fn persist_session(&self, session: SessionState) {
        if self.0.transport.shared_recovery().is_none() {
            self.0.local.persist_session(session);
            return;
        }
        if let (Some(rec), Some(cfg)) = (self.0.shared_recovery(), self.0.local.recovery_config()) {
            rec.persist(session, cfg.max_disconnection_duration);
        }
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: Option<&str>,
    ) -> BoxFuture<'static, Option<Restore>> {
        if self.0.transport.shared_recovery().is_none() {
            return self.0.local.restore_session(pid, offset);
        }
        // As Node: a session is only restored from a logged offset.
        match (self.0.shared_recovery(), offset) {
            (Some(rec), Some(offset)) => {
                let most = self
                    .0
                    .local
                    .recovery_config()
                    .map(|c| c.max_packets_per_session);
                let restore = rec.restore(pid, offset);
                async move {
                    let r = restore.await?;
                    // As the node's own store: a client that missed more
                    // than that is connected as a new socket instead.
                    if most.is_some_and(|most| r.replay.len() > most) {
                        tracing::debug!(
                            missed = r.replay.len(),
                            "session not recovered: more missed packets than max_packets_per_session"
                        );
                        return None;
                    }
                    Some(r)
                }
                .boxed()
            }
            _ => Box::pin(std::future::ready(None)),
        }
    }

    fn return_session(&self, restore: Restore) {
        if self.0.transport.shared_recovery().is_none() {
            self.0.local.return_session(restore);
            return;
        }
        self.persist_session(restore.session);
    }

    fn attach_session(
        &self,
        pid: &Arc<str>,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        if self.0.transport.shared_recovery().is_none() {
            return self.0.local.attach_session(pid, restore, attach);
        }
        match self.0.shared_recovery() {
            Some(rec) => rec.attach(&self.0.local, restore, attach),
            None => {
                attach(Vec::new());
                false
            }
        }
    }

    fn forget_session(&self, pid: &str) {
        self.0.local.forget_session(pid);
    }

    fn recovery_stats(&self) -> RecoveryStats {
        self.0.local.recovery_stats()
    }

    fn socket_connected(&self, sid: Sid) {
        self.0.transport.socket_connected(sid);
    }

    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        self.0.local.add_all(sid, rooms);
        self.0.transport.rooms_touched(&self.0.local, rooms);
    }

    fn del(&self, sid: Sid, room: &str) {
        self.0.local.del(sid, room);
        self.0
            .transport
            .rooms_touched(&self.0.local, &[Room::from(room)]);
    }

    fn del_all(&self, sid: Sid) {
        let rooms = self.0.local.socket_rooms(sid);
        self.0.local.del_all(sid);
        self.0.transport.rooms_touched(&self.0.local, &rooms);
        self.0.transport.socket_gone(sid);
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.0.local.socket_rooms(sid)
    }

    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        if let (false, PacketData::Event { event, args, .. }) = (opts.flags.local, &packet.data) {
            let data = obj([("type", Value::from(2)), ("data", event_value(event, args))]);
            let data = obj([("packet", data), ("opts", opts_value(opts, None))]);
            // Not volatile: read back and delivered by `deliver_logged`.
            if self.0.shared_recovery().is_some() && !opts.flags.volatile {
                // As Node's ClusterAdapter: local sockets get the packet
                // with its offset once it is logged (read back from the
                // log, in log order); without the log, at once without one.
                let msg = self.0.message(kind::BROADCAST, data);
                let (core, opts) = (self.0.clone(), opts.clone());
                self.0.transport.publish_logged(
                    &msg,
                    Box::new(move |logged| {
                        if !logged {
                            let _ = core.local.broadcast(packet, &opts);
                        }
                    }),
                );
                return Ok(());
            }
            self.0.publish(kind::BROADCAST, data);
        }
        self.0.local.broadcast(packet, opts)
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Args>, AckError>> {
        let core = self.0.clone();
        let opts = opts.clone();
        async move {
            let (event, args) = match &packet.data {
                PacketData::Event { event, args, .. } => (event.clone(), args.clone()),
                _ => return Ok(Vec::new()),
            };
            let remote_nodes = if opts.flags.local {
                0
            } else {
                core.others().await
            };
            let mut rx = None;
            if remote_nodes > 0 {
                let (id, r) = core.register();
                let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                core.publish(
                    kind::BROADCAST,
                    broadcast_data(&event, &args, &opts, Some((&id, ms))),
                );
                rx = Some((id, r));
            }
            let local = core.local.send_with_acks(packet, &opts);
            let remote = rx.as_mut().map(|(_, r)| (remote_nodes, r));
            let result = acks::gather(local, remote, timeout, |msg| match msg["type"].as_u64() {
                Some(kind::BROADCAST_CLIENT_COUNT) => Some(RemoteReply::Count(
                    msg["data"]["clientCount"].as_u64().unwrap_or(0) as usize,
                )),
                Some(kind::BROADCAST_ACK) => Some(RemoteReply::Ack(msg["data"]["packet"].clone())),
                _ => None,
            })
            .await;
            if let Some((id, _)) = rx {
                core.forget(&id);
            }
            result
        }
        .boxed()
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<RemoteSocket>> {
        let core = self.0.clone();
        let opts = opts.clone();
        async move {
            let mut all = core.local.fetch_sockets(&opts).await;
            if opts.flags.local {
                return all;
            }
            let others = core.others().await;
            if others == 0 {
                return all;
            }
            let (id, mut rx) = core.register();
            core.publish(
                kind::FETCH_SOCKETS,
                obj([
                    ("opts", opts_value(&opts, None)),
                    ("requestId", Value::from(id.as_str())),
                ]),
            );
            let mut answers = 0;
            let gathered = tokio::time::timeout(core.requests_timeout, async {
                while answers < others {
                    let Some(msg) = rx.recv().await else { break };
                    if msg["type"].as_u64() != Some(kind::FETCH_SOCKETS_RESPONSE) {
                        continue;
                    }
                    answers += 1;
                    for s in msg["data"]["sockets"].as_array().into_iter().flatten() {
                        all.extend(core.remote_socket(s));
                    }
                }
            })
            .await;
            core.forget(&id);
            if gathered.is_err() {
                tracing::warn!(
                    "cluster adapter: timeout reached: only {answers} responses received out of {others}"
                );
            }
            all
        }
        .boxed()
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.0.publish(
                kind::SOCKETS_JOIN,
                obj([
                    ("opts", opts_value(opts, None)),
                    ("rooms", rooms_value(rooms)),
                ]),
            );
        }
        self.0.local.add_sockets(opts, rooms);
        self.0.transport.rooms_touched(&self.0.local, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.flags.local {
            self.0.publish(
                kind::SOCKETS_LEAVE,
                obj([
                    ("opts", opts_value(opts, None)),
                    ("rooms", rooms_value(rooms)),
                ]),
            );
        }
        self.0.local.del_sockets(opts, rooms);
        self.0.transport.rooms_touched(&self.0.local, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.flags.local {
            self.0.publish(
                kind::DISCONNECT_SOCKETS,
                obj([
                    ("opts", opts_value(opts, None)),
                    ("close", Value::Bool(close)),
                ]),
            );
        }
        self.0.local.disconnect_sockets(opts, close);
    }

    /// This node's rooms only: the `ClusterAdapter` schema has no all-rooms
    /// request (Node's `allRooms()` is not supported by these adapters).
    fn rooms(&self) -> BoxFuture<'static, Vec<Room>> {
        self.0.local.rooms()
    }

    fn server_side_emit(
        &self,
        event: &str,
        args: Args,
        ack: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, AckError>> {
        let core = self.0.clone();
        let packet = event_value(event, &args);
        async move {
            let Some(timeout) = ack else {
                core.publish(kind::SERVER_SIDE_EMIT, obj([("packet", packet)]));
                return Ok(Vec::new());
            };
            let others = core.others().await;
            if others == 0 {
                return Ok(Vec::new());
            }
            let (id, mut rx) = core.register();
            core.publish(
                kind::SERVER_SIDE_EMIT,
                obj([("requestId", Value::from(id.as_str())), ("packet", packet)]),
            );
            let mut replies = Vec::new();
            let done = tokio::time::timeout(timeout, async {
                while replies.len() < others {
                    let Some(msg) = rx.recv().await else { break };
                    if msg["type"].as_u64() == Some(kind::SERVER_SIDE_EMIT_RESPONSE) {
                        replies.push(msg["data"]["packet"].clone());
                    }
                }
            })
            .await
            .is_ok();
            core.forget(&id);
            if done {
                Ok(replies)
            } else {
                Err(AckError::Timeout)
            }
        }
        .boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        self.0.node_count()
    }

    fn close(&self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_messages_have_node_key_order() {
        let opts = BroadcastOptions {
            rooms: vec![Room::from("room1")],
            ..Default::default()
        };
        assert_eq!(
            opts_value(&opts, Some(1000)).to_string(),
            r#"{"rooms":["room1"],"except":[],"flags":{"timeout":1000}}"#
        );
        let id = random_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(may_contain_binary(kind::BROADCAST));
        assert!(!may_contain_binary(kind::SOCKETS_JOIN));
    }

    /// Byte-exact with what two Node nodes exchanged on the sharded adapter
    /// (core/tests/data/redis-adapter-vectors.md, "sharded: ...").
    #[test]
    fn messages_match_the_captured_sharded_vectors() {
        let uid = "7729b7a62213a757";
        let room1 = BroadcastOptions {
            rooms: vec![Room::from("room1")],
            ..Default::default()
        };
        let chat = envelope(
            kind::BROADCAST,
            broadcast_data(
                "chat",
                &vec![Value::from("hello"), Value::from(42)],
                &room1,
                None,
            ),
            uid,
            "/",
        );
        assert_eq!(
            chat.to_string(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["chat","hello",42]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"7729b7a62213a757","nsp":"/"}"#
        );
        let ask = envelope(
            kind::BROADCAST,
            broadcast_data(
                "ask",
                &vec![Value::from("q")],
                &room1,
                Some(("451bd2925add4d21", 1000)),
            ),
            uid,
            "/",
        );
        assert_eq!(
            ask.to_string(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ask","q"]},"requestId":"451bd2925add4d21","opts":{"rooms":["room1"],"except":[],"flags":{"timeout":1000}}},"uid":"7729b7a62213a757","nsp":"/"}"#
        );
        let fetch = envelope(
            kind::FETCH_SOCKETS,
            obj([
                (
                    "opts",
                    opts_value(
                        &BroadcastOptions {
                            rooms: vec![Room::from("room2")],
                            ..Default::default()
                        },
                        None,
                    ),
                ),
                ("requestId", Value::from("9985fd43c5409739")),
            ]),
            uid,
            "/",
        );
        assert_eq!(
            fetch.to_string(),
            r#"{"type":7,"data":{"opts":{"rooms":["room2"],"except":[],"flags":{}},"requestId":"9985fd43c5409739"},"uid":"7729b7a62213a757","nsp":"/"}"#
        );
        let join = envelope(
            kind::SOCKETS_JOIN,
            obj([
                ("opts", opts_value(&room1, None)),
                ("rooms", rooms_value(&[Room::from("room9")])),
            ]),
            uid,
            "/",
        );
        assert_eq!(
            join.to_string(),
            r#"{"type":4,"data":{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room9"]},"uid":"7729b7a62213a757","nsp":"/"}"#
        );
        let sse = envelope(
            kind::SERVER_SIDE_EMIT,
            obj([
                ("requestId", Value::from("ce9d6e5df05006e4")),
                ("packet", event_value("peer-ping", &vec![Value::from("hi")])),
            ]),
            uid,
            "/",
        );
        assert_eq!(
            sse.to_string(),
            r#"{"type":9,"data":{"requestId":"ce9d6e5df05006e4","packet":["peer-ping","hi"]},"uid":"7729b7a62213a757","nsp":"/"}"#
        );
    }
}
