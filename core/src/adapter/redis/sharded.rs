//! The **sharded** Redis adapter: `createShardedAdapter` of
//! `@socket.io/redis-adapter` 8.3, over Redis ≥ 7 sharded Pub/Sub
//! (`SPUBLISH`/`SSUBSCRIBE`) on a Redis Cluster. Nodes speak the
//! `ClusterAdapter` schema of socket.io-adapter 2.5, so oxsio nodes and
//! Node.js nodes on `createShardedAdapter` form one cluster.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oxsio::adapter::redis::{ShardedConfig, ShardedRedisAdapter, SubscriptionMode};
//! let config = ShardedConfig::new(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
//!     .subscription_mode(SubscriptionMode::Dynamic);
//! let io = oxsio::Server::builder()
//!     .adapter(ShardedRedisAdapter::factory(config)?)
//!     .build();
//! io.to("room1").emit("chat", "to every node")?;
//! # Ok(()) }
//! ```
//!
//! Channels (prefix `socket.io`, namespace `/`): `socket.io#/#` (every node),
//! `socket.io#/#<uid>#` (responses to one node), and with the dynamic modes
//! `socket.io#/#<room>#` per room that has local members. Every node of a
//! cluster must use the same prefix and the same subscription mode.
//!
//! Limits, as Node's: `rooms()` lists this node's rooms only (there is no
//! all-rooms request in this protocol); connection state recovery stays
//! per node. Requests (fetch_sockets, server-side emit with ack, broadcast
//! with ack) end at their timeout when a node does not answer; while the
//! cluster is unreachable broadcasts stay local and the node counts itself
//! alone. The client re-subscribes by itself after a reconnect or a slot
//! migration.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use tokio::sync::{OnceCell, mpsc};

use super::RedisConfigError;
use super::endpoint::Pipes;
use super::wire;
use crate::Value;
use crate::adapter::cluster::{self, ClusterAdapter, Receiver, Transport};
use crate::adapter::{Adapter, AdapterFactory, MemoryAdapter, Room};
use crate::sid::Sid;
use crate::socketio::NsHandle;

/// Which per-room channels a node subscribes to (`subscriptionMode` in Node).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Only `<prefix>#<nsp>#` and the node's response channel: every
    /// broadcast goes through the namespace channel.
    Static,
    /// Also one channel per public room with local members (Node's
    /// default): a broadcast to exactly one room (not a socket id) reaches
    /// only the nodes that have that room.
    #[default]
    Dynamic,
    /// As `Dynamic`, and one channel per socket too, so `to(socket_id)`
    /// reaches only the socket's node.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// Node's name for the mode: `static`, `dynamic`, `dynamic-private`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionMode::Static => "static",
            SubscriptionMode::Dynamic => "dynamic",
            SubscriptionMode::DynamicPrivate => "dynamic-private",
        }
    }

    /// Parses Node's name of a mode.
    pub fn parse(s: &str) -> Option<SubscriptionMode> {
        match s {
            "static" => Some(SubscriptionMode::Static),
            "dynamic" => Some(SubscriptionMode::Dynamic),
            "dynamic-private" => Some(SubscriptionMode::DynamicPrivate),
            _ => None,
        }
    }
}

/// Sharded Redis adapter options.
#[derive(Debug, Clone)]
pub struct ShardedConfig {
    /// Seed URLs of the Redis Cluster (`redis://host:port`); the other
    /// nodes are discovered from them. At least one.
    pub nodes: Vec<String>,
    /// Channel prefix (`channelPrefix` in Node), default `socket.io`.
    pub channel_prefix: String,
    /// Per-room subscriptions, default [`SubscriptionMode::Dynamic`] as Node.
    pub subscription_mode: SubscriptionMode,
    /// How long `fetch_sockets` waits for the other nodes (default 5 s, as
    /// Node); also bounds each Redis command.
    pub requests_timeout: Duration,
}

impl ShardedConfig {
    /// Options for a cluster reachable at `nodes`, with Node's defaults.
    pub fn new<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ShardedConfig {
            nodes: nodes.into_iter().map(Into::into).collect(),
            channel_prefix: "socket.io".into(),
            subscription_mode: SubscriptionMode::Dynamic,
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the channel prefix.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the subscription mode.
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.subscription_mode = mode;
        self
    }

    /// Sets the request timeout.
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.requests_timeout = d;
        self
    }
}

type Routes = Arc<RwLock<HashMap<String, Weak<dyn Receiver>>>>;

enum Cmd {
    Publish(String, Vec<u8>),
    /// A channel, and whether only this node subscribes to it (a response
    /// channel: the health check asks about those).
    Subscribe(String, bool),
    Unsubscribe(String),
}

/// One cluster connection (publishing and sharded subscriptions, RESP3)
/// shared by every namespace of a server.
struct Shared {
    client: ClusterClient,
    config: ShardedConfig,
    /// The connection, with its generation (bumped on each new one); reset
    /// when it fails or loses its subscriptions, then made again.
    conn: Mutex<Option<(ClusterConnection, u64)>>,
    connecting: tokio::sync::Mutex<u64>,
    /// Set when a node connection dropped (a Disconnection push): every
    /// subscription is made again (SSUBSCRIBE is idempotent), since a
    /// restarted node forgot them.
    dropped: Arc<std::sync::atomic::AtomicBool>,
    routes: Routes,
    cmds: mpsc::UnboundedSender<Cmd>,
    cmds_rx: Mutex<Option<mpsc::UnboundedReceiver<Cmd>>>,
}

impl Shared {
    fn current(&self) -> Option<(ClusterConnection, u64)> {
        self.conn.lock().ok().and_then(|c| c.clone())
    }

    /// The connection and its generation, connecting when there is none.
    async fn conn_gen(&self) -> Option<(ClusterConnection, u64)> {
        if let Some(c) = self.current() {
            return Some(c);
        }
        let mut generation = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Some(c);
        }
        let connect = tokio::time::timeout(
            self.config.requests_timeout,
            self.client.get_async_connection(),
        )
        .await;
        match connect {
            Ok(Ok(c)) => {
                *generation += 1;
                if let Ok(mut slot) = self.conn.lock() {
                    *slot = Some((c.clone(), *generation));
                }
                Some((c, *generation))
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "sharded redis adapter: cannot connect; staying local-only");
                None
            }
            Err(_) => {
                tracing::error!("sharded redis adapter: connecting timed out; staying local-only");
                None
            }
        }
    }

    async fn conn(&self) -> Option<ClusterConnection> {
        self.conn_gen().await.map(|(c, _)| c)
    }

    /// Drops the connection of generation `generation` (a new one is made
    /// on next use, and every subscription made again on it).
    fn reset(&self, generation: u64) {
        if let Ok(mut slot) = self.conn.lock()
            && slot.as_ref().is_some_and(|(_, g)| *g == generation)
        {
            tracing::warn!("sharded redis adapter: connection lost; reconnecting");
            *slot = None;
        }
    }

    fn send(&self, cmd: Cmd) {
        let _ = self.cmds.send(cmd);
    }

    /// Starts the command worker once (a runtime is running by then).
    fn start(self: &Arc<Self>) {
        let rx = self.cmds_rx.lock().ok().and_then(|mut r| r.take());
        if let Some(rx) = rx {
            crate::runtime::spawn(worker(Arc::downgrade(self), rx));
        }
    }
}

/// Runs commands in order: publishes go out as pipelines (one per batch),
/// subscriptions are kept in a set and all made again on each new
/// connection and after a node connection dropped. Every 5 s of quiet, a
/// health check asks how many subscribe to each of our response channels:
/// none (the cluster restarted and forgot us) or an error means a new
/// connection.
async fn worker(weak: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    const BATCH: usize = 256;
    const HEALTH: Duration = Duration::from_secs(5);
    let mut wanted: HashSet<String> = HashSet::new();
    let mut own: HashSet<String> = HashSet::new();
    let mut synced: u64 = 0;
    let mut backoff = Duration::from_millis(100);
    loop {
        let wait = if wanted.is_empty() {
            Duration::from_secs(3600)
        } else if synced == 0 {
            backoff
        } else {
            HEALTH
        };
        let first = match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => return,
            Err(_) => None,
        };
        // Local deliveries first, then one pipeline for the whole burst: see
        // the classic adapter's `publisher` (super::publisher).
        if first.is_some() {
            tokio::task::yield_now().await;
        }
        let Some(shared) = weak.upgrade() else { return };
        let mut batch = Vec::new();
        batch.extend(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let timeout = shared.config.requests_timeout;
        let Some((mut conn, generation)) = shared.conn_gen().await else {
            for c in batch {
                match c {
                    Cmd::Subscribe(ch, private) => {
                        if private {
                            own.insert(ch.clone());
                        }
                        wanted.insert(ch);
                    }
                    Cmd::Unsubscribe(ch) => {
                        own.remove(&ch);
                        wanted.remove(&ch);
                    }
                    Cmd::Publish(..) => {}
                }
            }
            synced = 0;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            continue;
        };
        backoff = Duration::from_millis(100);
        let mut failed = false;
        if shared
            .dropped
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            synced = 0;
        }
        if synced != generation {
            for ch in &wanted {
                if let Err(e) = ssubscribe(&mut conn, ch, true, timeout).await {
                    tracing::error!(channel = %ch, error = %e, "sharded redis adapter: SSUBSCRIBE failed");
                    failed = true;
                }
            }
            synced = generation;
        } else if batch.is_empty() {
            for probe in &own {
                let r = tokio::time::timeout(
                    timeout,
                    redis::cmd("PUBSUB")
                        .arg("SHARDNUMSUB")
                        .arg(probe)
                        .query_async::<redis::Value>(&mut conn),
                )
                .await;
                if !matches!(r, Ok(Ok(ref v)) if wire::numsub(v).is_some_and(|n| n > 0)) {
                    failed = true;
                    break;
                }
            }
        }
        // A cluster pipeline stays within one slot: one per channel.
        let mut pipes = Pipes::new(true);
        for c in batch {
            match c {
                Cmd::Publish(channel, payload) => {
                    let (_, pipe) = pipes.for_key(&channel);
                    pipe.cmd("SPUBLISH").arg(channel).arg(payload).ignore();
                }
                other => {
                    let ready = std::mem::replace(&mut pipes, Pipes::new(true));
                    failed |= !flush(&conn, ready, timeout).await;
                    let (ch, on) = match other {
                        Cmd::Subscribe(ch, private) => {
                            if private {
                                own.insert(ch.clone());
                            }
                            (ch, true)
                        }
                        Cmd::Unsubscribe(ch) => {
                            own.remove(&ch);
                            (ch, false)
                        }
                        Cmd::Publish(..) => continue,
                    };
                    if on {
                        wanted.insert(ch.clone());
                    } else {
                        wanted.remove(&ch);
                    }
                    if let Err(e) = ssubscribe(&mut conn, &ch, on, timeout).await {
                        tracing::error!(channel = %ch, error = %e, "sharded redis adapter: (un)subscribe failed");
                        failed = true;
                    }
                }
            }
        }
        failed |= !flush(&conn, pipes, timeout).await;
        if failed {
            shared.reset(generation);
            synced = 0;
        }
    }
}

async fn ssubscribe(
    conn: &mut ClusterConnection,
    channel: &str,
    on: bool,
    timeout: Duration,
) -> Result<(), String> {
    let call = async {
        if on {
            conn.ssubscribe(channel).await
        } else {
            conn.sunsubscribe(channel).await
        }
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Sends the pipelined publishes; false when they failed.
async fn flush(conn: &ClusterConnection, pipes: Pipes, timeout: Duration) -> bool {
    if pipes.is_empty() {
        return true;
    }
    match tokio::time::timeout(timeout, pipes.run(conn)).await {
        Ok(results) => {
            let mut ok = true;
            for e in results.into_iter().filter_map(Result::err) {
                tracing::error!(error = %e, "sharded redis adapter: publish failed; messages stay local");
                ok = false;
            }
            ok
        }
        Err(_) => {
            tracing::error!("sharded redis adapter: publish timed out; messages stay local");
            false
        }
    }
}

/// The sharded adapter. Create it through [`ShardedRedisAdapter::factory`].
pub struct ShardedRedisAdapter;

impl ShardedRedisAdapter {
    /// A factory for [`ServerBuilder::adapter`](crate::ServerBuilder::adapter).
    ///
    /// # Errors
    /// No node URL, a URL that is not a Redis URL, or a zero request
    /// timeout. Connecting happens later, in the background.
    pub fn factory(config: ShardedConfig) -> Result<AdapterFactory, RedisConfigError> {
        if config.nodes.is_empty() {
            return Err(RedisConfigError("no Redis Cluster node given".into()));
        }
        if config.requests_timeout.is_zero() {
            return Err(RedisConfigError("requests_timeout must be positive".into()));
        }
        let routes: Routes = Arc::new(RwLock::new(HashMap::new()));
        let dispatch = routes.clone();
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen_drop = dropped.clone();
        let client = redis::cluster::ClusterClientBuilder::new(config.nodes.clone())
            .use_protocol(redis::ProtocolVersion::RESP3)
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(config.requests_timeout)
            .push_sender(move |info: redis::PushInfo| {
                if info.kind == redis::PushKind::Disconnection {
                    seen_drop.store(true, std::sync::atomic::Ordering::Release);
                }
                on_push(&dispatch, info);
                Ok::<(), redis::aio::SendError>(())
            })
            .build()
            .map_err(|e| RedisConfigError(e.to_string()))?;
        let (cmds, cmds_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client,
            config,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(0),
            dropped,
            routes,
            cmds,
            cmds_rx: Mutex::new(Some(cmds_rx)),
        });
        Ok(Arc::new(move |ns: NsHandle| {
            shared.start();
            Arc::new(new_adapter(ns, shared.clone())) as Arc<dyn Adapter>
        }))
    }
}

fn on_push(routes: &Routes, info: redis::PushInfo) {
    if info.kind != redis::PushKind::SMessage {
        return;
    }
    let (Some(redis::Value::BulkString(channel)), Some(redis::Value::BulkString(payload))) =
        (info.data.first(), info.data.get(1))
    else {
        return;
    };
    let Ok(channel) = std::str::from_utf8(channel) else {
        return;
    };
    let receiver = routes
        .read()
        .ok()
        .and_then(|r| r.get(channel).and_then(Weak::upgrade));
    let Some(receiver) = receiver else { return };
    match wire::decode(payload) {
        Ok(msg) => receiver.on_message(msg),
        Err(e) => {
            tracing::warn!(channel, error = %e, "sharded redis adapter: ignoring an undecodable message");
        }
    }
}

fn new_adapter(ns: NsHandle, shared: Arc<Shared>) -> ClusterAdapter<Sharded> {
    let nsp = ns
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "/".into());
    let uid = cluster::random_id();
    let channel = format!("{}#{nsp}#", shared.config.channel_prefix);
    let response_channel = format!("{channel}{uid}#");
    let transport = Sharded {
        mode: shared.config.subscription_mode,
        shared: shared.clone(),
        channel: channel.clone(),
        response_channel: response_channel.clone(),
        receiver: OnceCell::new(),
        ns: ns.clone(),
        rooms: Mutex::new(HashSet::new()),
    };
    let adapter = ClusterAdapter::new(
        ns,
        nsp,
        uid,
        transport,
        shared.config.requests_timeout,
        false,
    );
    let weak: Weak<dyn Receiver> = Arc::downgrade(&adapter.0) as Weak<dyn Receiver>;
    let _ = adapter.0.transport.receiver.set(weak);
    adapter.0.transport.subscribe(channel);
    adapter.0.transport.subscribe(response_channel);
    adapter
}

/// The sharded Pub/Sub transport of one namespace.
pub(crate) struct Sharded {
    mode: SubscriptionMode,
    shared: Arc<Shared>,
    /// `<prefix>#<nsp>#`
    channel: String,
    /// `<prefix>#<nsp>#<uid>#`
    response_channel: String,
    receiver: OnceCell<Weak<dyn Receiver>>,
    ns: NsHandle,
    /// Rooms (and, in dynamic-private, socket ids) with a channel subscribed.
    rooms: Mutex<HashSet<Room>>,
}

impl Sharded {
    fn subscribe(&self, channel: String) {
        let private = channel == self.response_channel;
        if let (Some(r), Ok(mut routes)) = (self.receiver.get(), self.shared.routes.write()) {
            routes.insert(channel.clone(), r.clone());
        }
        self.shared.send(Cmd::Subscribe(channel, private));
    }

    fn unsubscribe(&self, channel: String) {
        if let Ok(mut routes) = self.shared.routes.write() {
            routes.remove(&channel);
        }
        self.shared.send(Cmd::Unsubscribe(channel));
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Node's `computeChannel`: a broadcast without ack to exactly one room
    /// goes to that room's channel in the dynamic modes (not for a socket
    /// id, 20 characters, in `dynamic`).
    fn channel_for(&self, msg: &Value) -> String {
        let data = &msg["data"];
        if msg["type"].as_u64() == Some(cluster::kind::BROADCAST)
            && data["requestId"].is_null()
            && let Some([Value::String(room)]) = data["opts"]["rooms"].as_array().map(Vec::as_slice)
        {
            let dynamic = match self.mode {
                SubscriptionMode::Static => false,
                SubscriptionMode::Dynamic => room.chars().count() != 20,
                SubscriptionMode::DynamicPrivate => true,
            };
            if dynamic {
                return self.room_channel(room);
            }
        }
        self.channel.clone()
    }

    fn encode(msg: &Value) -> Vec<u8> {
        let ty = msg["type"].as_u64().unwrap_or_default();
        if cluster::may_contain_binary(ty) && msg["data"].has_binary() {
            wire::to_msgpack(msg)
        } else {
            wire::to_json(msg)
        }
    }

    fn is_local_socket(&self, room: &str) -> bool {
        Sid::parse(room).is_some_and(|sid| self.ns.get_socket(sid).is_some())
    }
}

impl Transport for Sharded {
    fn publish(&self, msg: &Value) {
        let channel = self.channel_for(msg);
        self.shared
            .send(Cmd::Publish(channel, Sharded::encode(msg)));
    }

    fn publish_response(&self, requester: &str, msg: &Value) {
        let channel = format!("{}{requester}#", self.channel);
        self.shared
            .send(Cmd::Publish(channel, Sharded::encode(msg)));
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        let shared = self.shared.clone();
        let channel = self.channel.clone();
        async move {
            let query = async {
                let mut conn = shared.conn().await?;
                let r: redis::RedisResult<redis::Value> = redis::cmd("PUBSUB")
                    .arg("SHARDNUMSUB")
                    .arg(&channel)
                    .query_async(&mut conn)
                    .await;
                match r {
                    Ok(v) => wire::numsub(&v),
                    Err(e) => {
                        tracing::error!(error = %e, "sharded redis adapter: SHARDNUMSUB failed; assuming a single node");
                        None
                    }
                }
            };
            match tokio::time::timeout(shared.config.requests_timeout, query).await {
                Ok(Some(n)) => n.max(1),
                _ => 1,
            }
        }
        .boxed()
    }

    fn rooms_touched(&self, local: &MemoryAdapter, rooms: &[Room]) {
        if self.mode == SubscriptionMode::Static {
            return;
        }
        let Ok(mut subscribed) = self.rooms.lock() else {
            return;
        };
        for room in rooms {
            let live = local.has_room(room)
                && (self.mode == SubscriptionMode::DynamicPrivate || !self.is_local_socket(room));
            if live && subscribed.insert(room.clone()) {
                self.subscribe(self.room_channel(room));
            } else if !live && !self.is_local_socket(room) && subscribed.remove(room) {
                self.unsubscribe(self.room_channel(room));
            }
        }
    }

    fn socket_connected(&self, sid: Sid) {
        if self.mode != SubscriptionMode::DynamicPrivate {
            return;
        }
        if let Ok(mut subscribed) = self.rooms.lock()
            && subscribed.insert(Room::from(sid.as_str()))
        {
            self.subscribe(self.room_channel(sid.as_str()));
        }
    }

    fn close(&self) {
        self.unsubscribe_all();
    }

    fn socket_gone(&self, sid: Sid) {
        if self.mode != SubscriptionMode::DynamicPrivate {
            return;
        }
        if let Ok(mut subscribed) = self.rooms.lock()
            && subscribed.remove(sid.as_str())
        {
            self.unsubscribe(self.room_channel(sid.as_str()));
        }
    }
}

impl Sharded {
    /// Node's `close()`: SUNSUBSCRIBE from every channel of the namespace.
    fn unsubscribe_all(&self) {
        let mut channels = vec![self.channel.clone(), self.response_channel.clone()];
        if let Ok(mut rooms) = self.rooms.lock() {
            channels.extend(rooms.drain().map(|r| self.room_channel(&r)));
        }
        for c in channels {
            self.unsubscribe(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broadcast with binary is the whole message as notepack msgpack,
    /// byte-exact with the capture ("sharded: binary-broadcast"); without
    /// binary it is JSON.
    #[test]
    fn binary_messages_are_msgpack_byte_exact() {
        use crate::adapter::BroadcastOptions;
        let opts = BroadcastOptions {
            rooms: vec![Room::from("room1")],
            ..Default::default()
        };
        let mut nested = crate::Map::new();
        nested.insert("nested".into(), Value::from(vec![255u8]));
        let msg = cluster::envelope(
            cluster::kind::BROADCAST,
            cluster::broadcast_data(
                "bin",
                &vec![Value::from(vec![1u8, 2, 3]), Value::Object(nested)],
                &opts,
                None,
            ),
            "7729b7a62213a757",
            "/",
        );
        let hex: String = Sharded::encode(&msg)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "84a47479706503a46461746182a67061636b657482a47479706502a46461746193a362696ec40301020381a66e6573746564c401ffa46f70747383a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380a3756964b037373239623761363232313361373537a36e7370a12f"
        );
        let plain = cluster::envelope(
            cluster::kind::BROADCAST,
            cluster::broadcast_data("chat", &vec![Value::from("x")], &opts, None),
            "u",
            "/",
        );
        assert_eq!(Sharded::encode(&plain)[0], b'{');
    }

    #[test]
    fn modes_parse_as_node_names_them() {
        for m in [
            SubscriptionMode::Static,
            SubscriptionMode::Dynamic,
            SubscriptionMode::DynamicPrivate,
        ] {
            assert_eq!(SubscriptionMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(SubscriptionMode::parse("Dynamic"), None);
    }
}
