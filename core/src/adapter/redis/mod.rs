//! A Redis adapter speaking the **classic** `@socket.io/redis-adapter`
//! protocol, so oxsio nodes and Node.js nodes form one cluster
//! (the payloads captured between two Node nodes, which the tests replay,
//! are in `core/tests/data/redis-adapter-vectors.md`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oxsio::adapter::redis::{RedisAdapter, RedisConfig};
//! let io = oxsio::Server::builder()
//!     .adapter(RedisAdapter::factory(RedisConfig::new("redis://127.0.0.1:6379"))?)
//!     .build();
//! io.to("room1").emit("chat", "to every node")?;
//! # Ok(()) }
//! ```
//!
//! Robustness: the subscription re-subscribes after every Redis reconnect;
//! while Redis is down broadcasts stay local (an error is logged) and
//! requests to other nodes end at `requests_timeout`; undecodable messages
//! on the channels are logged and ignored.

mod emitter;
mod endpoint;
mod sharded;
mod streams;
mod wire;

pub use emitter::{Emitter, EmitterConfig, EmitterError};
pub use sharded::{ShardedConfig, ShardedRedisAdapter, SubscriptionMode};
pub use streams::{RedisStreamsAdapter, StreamsConfig};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{OnceCell, mpsc};

use super::acks::{self, RemoteReply};
use super::{Adapter, BroadcastOptions, MemoryAdapter, Room};
use crate::codec::socketio::{Packet, PacketData};
use crate::sid::Sid;
use crate::socketio::{AckError, BroadcastError, NsHandle, RemoteSocket, ServerAck};
use crate::{Args, Value};
use wire::{Channels, kind, obj};

/// Redis adapter options.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Redis URL, e.g. `redis://127.0.0.1:6379`.
    pub url: String,
    /// Channel prefix (`key` in Node), default `socket.io`; must match the cluster's.
    pub prefix: String,
    /// How long requests to other nodes wait (default 5 s, as Node).
    pub requests_timeout: Duration,
}

impl RedisConfig {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            prefix: "socket.io".into(),
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the channel prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the request timeout.
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.requests_timeout = d;
        self
    }
}

/// Why the adapter could not be created.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis configuration: {0}")]
pub struct RedisConfigError(String);

/// One Redis client and publisher connection shared by every namespace.
struct Shared {
    client: redis::Client,
    config: RedisConfig,
    publisher: OnceCell<redis::aio::ConnectionManager>,
}

impl Shared {
    async fn conn(&self) -> Option<redis::aio::ConnectionManager> {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(self.config.requests_timeout));
        match self
            .publisher
            .get_or_try_init(|| self.client.get_connection_manager_with_config(cfg))
            .await
        {
            Ok(c) => Some(c.clone()),
            Err(e) => {
                tracing::error!(error = %e, "redis adapter: cannot connect; staying local-only");
                None
            }
        }
    }
}

struct Inner {
    local: MemoryAdapter,
    nsp: String,
    uid: String,
    channels: Channels,
    shared: Arc<Shared>,
    publish_tx: mpsc::UnboundedSender<(String, Vec<u8>)>,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
}

/// The Redis adapter of one namespace. Create it through [`RedisAdapter::factory`].
#[derive(Clone)]
pub struct RedisAdapter(Arc<Inner>);

impl RedisAdapter {
    /// A factory for [`ServerBuilder::adapter`](crate::ServerBuilder::adapter).
    ///
    /// # Errors
    /// The URL is not a valid Redis URL, or the request timeout is zero.
    /// Connecting happens later, in the background.
    pub fn factory(config: RedisConfig) -> Result<super::AdapterFactory, RedisConfigError> {
        if config.requests_timeout.is_zero() {
            return Err(RedisConfigError("requests_timeout must be positive".into()));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RedisConfigError(e.to_string()))?;
        let shared = Arc::new(Shared {
            client,
            config,
            publisher: OnceCell::new(),
        });
        Ok(Arc::new(move |ns: NsHandle| {
            Arc::new(RedisAdapter::new(ns, shared.clone())) as Arc<dyn Adapter>
        }))
    }

    fn new(ns: NsHandle, shared: Arc<Shared>) -> RedisAdapter {
        let nsp = ns
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "/".into());
        let uid = wire::uid2();
        let channels = Channels::new(&shared.config.prefix, &nsp, &uid);
        let (publish_tx, publish_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            local: MemoryAdapter::new(ns),
            nsp,
            uid,
            channels,
            shared: shared.clone(),
            publish_tx,
            pending: Mutex::new(HashMap::new()),
        });
        crate::runtime::spawn(publisher(shared, publish_rx));
        crate::runtime::spawn(subscriber(Arc::downgrade(&inner)));
        RedisAdapter(inner)
    }

    /// This node's id for this namespace (6 characters).
    pub fn uid(&self) -> &str {
        &self.0.uid
    }
}

/// Publishes in order: whatever is queued goes out as one pipeline (one
/// round trip per batch); on failure the batch is dropped and logged.
///
/// Local deliveries go first: woken by a message, the publisher yields once
/// before it takes the batch, so the tasks already runnable on this node
/// (the writers of this node's own deliveries of that broadcast, and the
/// handlers of further broadcasts read in the same burst) run before Redis
/// and the other nodes are woken. Node's adapter does the same in effect
/// (node-redis writes the PUBLISH on the next tick, after the local
/// broadcast). Without it, each broadcast of a burst left on its own
/// pipeline as soon as it was emitted; where nodes share CPUs, the other
/// node then woke per message and wrote each to its clients separately:
/// in the cluster bench (2 nodes and Redis on one CPU) 4.8 broadcasts per
/// pipeline instead of 7.5, and ~50 % more server CPU per delivery.
async fn publisher(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    const BATCH: usize = 256;
    while let Some(first) = rx.recv().await {
        tokio::task::yield_now().await;
        let mut pipe = redis::pipe();
        pipe.cmd("PUBLISH").arg(&first.0).arg(first.1).ignore();
        let mut n = 1;
        while n < BATCH {
            let Ok((channel, payload)) = rx.try_recv() else {
                break;
            };
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
            n += 1;
        }
        let publish = async {
            let mut conn = shared.conn().await?;
            let r: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
            r.map_err(|e| tracing::error!(error = %e, n, "redis adapter: publish failed; messages stay local")).ok()
        };
        if tokio::time::timeout(shared.config.requests_timeout, publish)
            .await
            .is_err()
        {
            tracing::error!(n, "redis adapter: publish timed out; messages stay local");
        }
    }
}

/// Subscribes (and re-subscribes after every disconnect) and dispatches.
async fn subscriber(weak: Weak<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let client = inner.shared.client.clone();
        let ch = inner.channels.clone();
        drop(inner);
        let subscribed = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.psubscribe(format!("{}*", ch.broadcast)).await?;
            ps.subscribe(&ch.request).await?;
            ps.subscribe(&ch.response).await?;
            ps.subscribe(&ch.response_own).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        match tokio::time::timeout(Duration::from_secs(5), subscribed).await {
            Ok(Ok(ps)) => {
                backoff = Duration::from_millis(100);
                let mut stream = ps.into_on_message();
                while let Some(msg) = stream.next().await {
                    // Let the rest of a burst arrive (the other tasks run
                    // and the connection is read first), then hand every
                    // message ready to the namespace before this node's
                    // socket writers run: each then writes several
                    // packets per syscall, as with one node.
                    tokio::task::yield_now().await;
                    let Some(inner) = weak.upgrade() else { return };
                    inner.on_message(msg.get_channel_name(), msg.get_payload_bytes());
                    while let Some(Some(msg)) = stream.next().now_or_never() {
                        inner.on_message(msg.get_channel_name(), msg.get_payload_bytes());
                    }
                }
                tracing::warn!("redis adapter: subscription lost; re-subscribing");
            }
            Ok(Err(e)) => tracing::error!(error = %e, "redis adapter: cannot subscribe; retrying"),
            Err(_) => tracing::error!("redis adapter: subscribe timed out; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

impl Inner {
    fn publish(&self, channel: String, payload: Vec<u8>) {
        let _ = self.publish_tx.send((channel, payload));
    }

    fn publish_request(&self, msg: &Value) {
        self.publish(self.channels.request.clone(), wire::to_json(msg));
    }

    fn respond_json(&self, msg: &Value) {
        self.publish(self.channels.response.clone(), wire::to_json(msg));
    }

    /// Number of nodes (subscribers of the request channel), 1 when Redis is unreachable.
    async fn node_count(&self) -> usize {
        let query = async {
            let mut conn = self.shared.conn().await?;
            let r: redis::RedisResult<(String, usize)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&self.channels.request)
                .query_async(&mut conn)
                .await;
            r.map_err(|e| tracing::error!(error = %e, "redis adapter: NUMSUB failed; assuming a single node")).ok()
        };
        match tokio::time::timeout(self.shared.config.requests_timeout, query).await {
            Ok(Some((_, n))) => n.max(1),
            Ok(None) => 1,
            Err(_) => {
                tracing::error!("redis adapter: NUMSUB timed out; assuming a single node");
                1
            }
        }
    }

    /// Registers a request and returns its id and the stream of its responses.
    fn register(&self) -> (String, mpsc::UnboundedReceiver<Value>) {
        let id = wire::uid2();
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

    /// Publishes a request and gathers `expected` responses (or what came in time).
    async fn gather(
        self: &Arc<Self>,
        build: impl FnOnce(&str) -> Value,
        expected: usize,
    ) -> (Vec<Value>, bool) {
        let (id, mut rx) = self.register();
        self.publish_request(&build(&id));
        let timeout = self.shared.config.requests_timeout;
        let mut got = Vec::new();
        let complete = tokio::time::timeout(timeout, async {
            while got.len() < expected {
                match rx.recv().await {
                    Some(v) => got.push(v),
                    None => break,
                }
            }
        })
        .await
        .is_ok();
        self.forget(&id);
        let complete = complete && got.len() >= expected;
        (got, complete)
    }

    fn on_message(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let result = if channel == self.channels.request {
            self.on_request(payload)
        } else if channel == self.channels.response || channel == self.channels.response_own {
            self.on_response(payload)
        } else if channel.starts_with(&self.channels.broadcast) {
            self.on_broadcast(payload)
        } else {
            Ok(())
        };
        if let Err(e) = result {
            tracing::warn!(channel, error = %e, "redis adapter: ignoring a malformed message");
        }
    }

    fn on_broadcast(&self, payload: &[u8]) -> Result<(), String> {
        // Our own broadcasts come back through the pattern subscription:
        // recognised from the uid at the head of the message, not decoded.
        if wire::broadcast_uid(payload) == Some(self.uid.as_bytes()) {
            return Ok(());
        }
        let msg = wire::from_msgpack(payload)?;
        let Value::Array(mut parts) = msg else {
            return Err("broadcast is not an array".into());
        };
        if parts.first().and_then(Value::as_str) == Some(self.uid.as_str()) {
            return Ok(());
        }
        let packet = parts.get_mut(1).ok_or("broadcast without packet")?;
        let nsp = packet["nsp"].as_str().unwrap_or("/");
        if nsp != self.nsp {
            return Ok(());
        }
        // The arguments are moved out of the decoded message, not copied.
        let data = packet
            .as_object_mut()
            .and_then(|m| m.swap_remove("data"))
            .unwrap_or(Value::Null);
        let (event, args) = wire::take_event(data).ok_or("broadcast without event")?;
        let opts = wire::opts_from(parts.get(2).unwrap_or(&Value::Null));
        let _ = self
            .local
            .broadcast(Packet::event(self.nsp.clone(), event, args, None), &opts);
        Ok(())
    }

    fn on_response(&self, payload: &[u8]) -> Result<(), String> {
        let msg = wire::decode(payload)?;
        let Some(id) = msg["requestId"].as_str() else {
            return Ok(());
        };
        let tx = self.pending.lock().ok().and_then(|p| p.get(id).cloned());
        if let Some(tx) = tx {
            let _ = tx.send(msg);
        }
        Ok(())
    }

    fn on_request(self: &Arc<Self>, payload: &[u8]) -> Result<(), String> {
        let msg = wire::decode(payload)?;
        if msg["uid"].as_str() == Some(self.uid.as_str()) {
            return Ok(());
        }
        let ty = msg["type"].as_u64().ok_or("request without type")?;
        let request_id = msg["requestId"].as_str().map(str::to_owned);
        match ty {
            kind::SOCKETS => {
                let opts = BroadcastOptions {
                    rooms: wire::opts_from(&msg).rooms,
                    ..Default::default()
                };
                let ids: Vec<Value> = self
                    .local
                    .local_targets(&opts)
                    .iter()
                    .map(|s| Value::from(s.id().as_str()))
                    .collect();
                self.respond_json(&obj([
                    ("requestId", Value::from(request_id)),
                    ("sockets", Value::Array(ids)),
                ]));
            }
            kind::ALL_ROOMS => {
                let rooms = self.local.rooms().now_or_never().unwrap_or_default();
                self.respond_json(&obj([
                    ("requestId", Value::from(request_id)),
                    ("rooms", rooms_value(&rooms)),
                ]));
            }
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
                let rooms: Vec<Room> = match (&msg["rooms"], msg["room"].as_str()) {
                    (Value::Array(a), _) => {
                        a.iter().filter_map(Value::as_str).map(Room::from).collect()
                    }
                    (_, Some(r)) => vec![Room::from(r)],
                    _ => Vec::new(),
                };
                // Legacy form: one socket by id.
                let opts = match msg["sid"].as_str() {
                    Some(sid) => BroadcastOptions {
                        rooms: vec![Room::from(sid)],
                        ..Default::default()
                    },
                    None => wire::opts_from(&msg["opts"]),
                };
                if ty == kind::REMOTE_JOIN {
                    self.local.add_sockets(&opts, &rooms);
                } else {
                    self.local.del_sockets(&opts, &rooms);
                }
                if let Some(id) = request_id {
                    self.respond_json(&obj([("requestId", Value::from(id))]));
                }
            }
            kind::REMOTE_DISCONNECT => {
                let opts = wire::opts_from(&msg["opts"]);
                self.local
                    .disconnect_sockets(&opts, msg["close"].as_bool().unwrap_or(false));
            }
            kind::REMOTE_FETCH => {
                let opts = wire::opts_from(&msg["opts"]);
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
                self.respond_json(&obj([
                    ("requestId", Value::from(request_id)),
                    ("sockets", Value::Array(sockets)),
                ]));
            }
            kind::SERVER_SIDE_EMIT => {
                let (event, args) =
                    wire::event_from(&msg["data"]).ok_or("server-side emit without event")?;
                let ack = request_id.map(|id| {
                    let me = self.clone();
                    ServerAck::new(move |reply: Value| {
                        me.respond_json(&obj([
                            ("type", Value::from(kind::SERVER_SIDE_EMIT)),
                            ("requestId", Value::from(id)),
                            ("data", reply),
                        ]));
                    })
                });
                self.local.ns().dispatch_server_event(event, args, ack);
            }
            kind::BROADCAST => {
                let id = request_id.ok_or("broadcast request without requestId")?;
                let (event, args) = wire::event_from(&msg["packet"]["data"])
                    .ok_or("broadcast request without event")?;
                let opts = wire::opts_from(&msg["opts"]);
                let timeout =
                    Duration::from_millis(msg["opts"]["flags"]["timeout"].as_u64().unwrap_or(5000));
                let waiters = self
                    .local
                    .send_with_acks(Packet::event(self.nsp.clone(), event, args, None), &opts);
                self.respond_json(&obj([
                    ("type", Value::from(kind::BROADCAST_CLIENT_COUNT)),
                    ("requestId", Value::from(id.as_str())),
                    ("clientCount", Value::from(waiters.len())),
                ]));
                for rx in waiters {
                    let (me, id) = (self.clone(), id.clone());
                    crate::runtime::spawn(async move {
                        if let Ok(Ok(args)) = tokio::time::timeout(timeout, rx).await {
                            let first = args.into_iter().next().unwrap_or(Value::Null);
                            let reply = obj([
                                ("type", Value::from(kind::BROADCAST_ACK)),
                                ("requestId", Value::from(id)),
                                ("packet", first),
                            ]);
                            me.publish(me.channels.response.clone(), wire::to_msgpack(&reply));
                        }
                    });
                }
            }
            other => return Err(format!("unknown request type {other}")),
        }
        Ok(())
    }

    fn remote_socket(&self, v: &Value) -> Option<RemoteSocket> {
        let id = Sid::parse(v["id"].as_str()?)?;
        let rooms = v["rooms"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(Room::from).collect())
            .unwrap_or_default();
        Some(RemoteSocket::remote(
            id,
            self.nsp.clone(),
            rooms,
            v["handshake"].clone(),
            v["data"].clone(),
            self.local.ns(),
        ))
    }
}

impl Adapter for RedisAdapter {
    // Recovery is per node: the local adapter keeps this node's sessions.
    recovery_by_local_adapter!(this => this.0.local);

    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        self.0.local.add_all(sid, rooms);
    }

    fn del(&self, sid: Sid, room: &str) {
        self.0.local.del(sid, room);
    }

    fn del_all(&self, sid: Sid) {
        self.0.local.del_all(sid);
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.0.local.socket_rooms(sid)
    }

    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        if let (false, PacketData::Event { event, args, .. }) = (opts.flags.local, &packet.data) {
            let bytes = wire::encode_broadcast(&self.0.uid, &self.0.nsp, event, args, opts);
            self.0.publish(self.0.channels.for_broadcast(opts), bytes);
        }
        self.0.local.broadcast(packet, opts)
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Args>, AckError>> {
        let inner = self.0.clone();
        let opts = opts.clone();
        async move {
            let (event, args) = match &packet.data {
                PacketData::Event { event, args, .. } => (event.clone(), args.clone()),
                _ => return Ok(Vec::new()),
            };
            let remote_nodes = if opts.flags.local {
                0
            } else {
                inner.node_count().await.saturating_sub(1)
            };
            let mut rx = None;
            if remote_nodes > 0 {
                let (id, r) = inner.register();
                let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                let req = obj([
                    ("uid", Value::from(inner.uid.as_str())),
                    ("requestId", Value::from(id.as_str())),
                    ("type", Value::from(kind::BROADCAST)),
                    ("packet", wire::packet_value(&inner.nsp, &event, &args)),
                    (
                        "opts",
                        wire::opts_value(&opts, Some(wire::flags_value(&opts.flags, Some(ms)))),
                    ),
                ]);
                inner.publish(inner.channels.request.clone(), wire::to_msgpack(&req));
                rx = Some((id, r));
            }
            let local = inner.local.send_with_acks(packet, &opts);
            let remote = rx.as_mut().map(|(_, r)| (remote_nodes, r));
            let result = acks::gather(local, remote, timeout, |msg| match msg["type"].as_u64() {
                Some(kind::BROADCAST_CLIENT_COUNT) => Some(RemoteReply::Count(
                    msg["clientCount"].as_u64().unwrap_or(0) as usize,
                )),
                Some(kind::BROADCAST_ACK) => Some(RemoteReply::Ack(msg["packet"].clone())),
                _ => None,
            })
            .await;
            if let Some((id, _)) = rx {
                inner.forget(&id);
            }
            result
        }
        .boxed()
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<RemoteSocket>> {
        let inner = self.0.clone();
        let opts = opts.clone();
        async move {
            let mut all: Vec<RemoteSocket> = inner.local.fetch_sockets(&opts).await;
            if opts.flags.local {
                return all;
            }
            let others = inner.node_count().await.saturating_sub(1);
            if others == 0 {
                return all;
            }
            let (answers, complete) = inner
                .gather(
                    |id| {
                        obj([
                            ("uid", Value::from(inner.uid.as_str())),
                            ("requestId", Value::from(id)),
                            ("type", Value::from(kind::REMOTE_FETCH)),
                            ("opts", wire::opts_value(&opts, None)),
                        ])
                    },
                    others,
                )
                .await;
            if !complete {
                tracing::warn!(
                    "redis adapter: timeout reached while waiting for fetchSockets response"
                );
            }
            for a in &answers {
                for s in a["sockets"].as_array().into_iter().flatten() {
                    all.extend(inner.remote_socket(s));
                }
            }
            all
        }
        .boxed()
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.local.add_sockets(opts, rooms);
        if !opts.flags.local {
            let uid = Value::from(self.0.uid.as_str());
            let req = obj([
                ("uid", uid),
                ("type", Value::from(kind::REMOTE_JOIN)),
                ("opts", wire::opts_value(opts, None)),
                ("rooms", rooms_value(rooms)),
            ]);
            self.0.publish_request(&req);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.0.local.del_sockets(opts, rooms);
        if !opts.flags.local {
            let uid = Value::from(self.0.uid.as_str());
            let req = obj([
                ("uid", uid),
                ("type", Value::from(kind::REMOTE_LEAVE)),
                ("opts", wire::opts_value(opts, None)),
                ("rooms", rooms_value(rooms)),
            ]);
            self.0.publish_request(&req);
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.0.local.disconnect_sockets(opts, close);
        if !opts.flags.local {
            let uid = Value::from(self.0.uid.as_str());
            let req = obj([
                ("uid", uid),
                ("type", Value::from(kind::REMOTE_DISCONNECT)),
                ("opts", wire::opts_value(opts, None)),
                ("close", Value::Bool(close)),
            ]);
            self.0.publish_request(&req);
        }
    }

    fn rooms(&self) -> BoxFuture<'static, Vec<Room>> {
        let inner = self.0.clone();
        async move {
            let mut rooms = inner.local.rooms().await;
            let others = inner.node_count().await.saturating_sub(1);
            if others > 0 {
                let uid = inner.uid.clone();
                let (answers, _) = inner
                    .gather(
                        |id| {
                            obj([
                                ("uid", Value::from(uid.as_str())),
                                ("requestId", Value::from(id)),
                                ("type", Value::from(kind::ALL_ROOMS)),
                            ])
                        },
                        others,
                    )
                    .await;
                for a in &answers {
                    rooms.extend(
                        a["rooms"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(Room::from),
                    );
                }
            }
            rooms.sort();
            rooms.dedup();
            rooms
        }
        .boxed()
    }

    fn server_side_emit(
        &self,
        event: &str,
        args: Args,
        ack: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, AckError>> {
        let inner = self.0.clone();
        let mut data = vec![Value::from(event)];
        data.extend(args);
        async move {
            let uid = Value::from(inner.uid.as_str());
            let Some(timeout) = ack else {
                inner.publish_request(&obj([
                    ("uid", uid),
                    ("type", Value::from(kind::SERVER_SIDE_EMIT)),
                    ("data", Value::Array(data)),
                ]));
                return Ok(Vec::new());
            };
            let others = inner.node_count().await.saturating_sub(1);
            let (id, mut rx) = inner.register();
            inner.publish_request(&obj([
                ("uid", uid),
                ("requestId", Value::from(id.as_str())),
                ("type", Value::from(kind::SERVER_SIDE_EMIT)),
                ("data", Value::Array(data)),
            ]));
            let mut replies = Vec::new();
            let done = tokio::time::timeout(timeout, async {
                while replies.len() < others {
                    match rx.recv().await {
                        Some(msg) => replies.push(msg["data"].clone()),
                        None => break,
                    }
                }
            })
            .await
            .is_ok();
            inner.forget(&id);
            if done {
                Ok(replies)
            } else {
                Err(AckError::Timeout)
            }
        }
        .boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        let inner = self.0.clone();
        async move { inner.node_count().await }.boxed()
    }
}
