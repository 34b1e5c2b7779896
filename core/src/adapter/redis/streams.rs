//! The Redis **streams** adapter: `@socket.io/redis-streams-adapter` 0.3,
//! with connection state recovery across nodes. Nodes speak the
//! `ClusterAdapter` schema of socket.io-adapter 2.5, so oxsio nodes and
//! Node.js nodes on the streams adapter form one cluster, and a client cut
//! off from one node is recovered by any other (Node or oxsio).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oxsio::adapter::redis::{RedisStreamsAdapter, StreamsConfig};
//! let io = oxsio::Server::builder()
//!     .adapter(RedisStreamsAdapter::factory(StreamsConfig::new("redis://127.0.0.1:6379"))?)
//!     .connection_state_recovery(oxsio::RecoveryConfig::default())
//!     .build();
//! io.to("room1").emit("chat", "to every node")?;
//! # Ok(()) }
//! ```
//!
//! Wire, as Node's:
//! - Durable messages (broadcasts without ack, sockets join/leave,
//!   disconnect) are stream entries: `XADD <stream> MAXLEN ~ <maxLen> *
//!   uid <uid> nsp <nsp> type <n> data <d>`, `d` JSON text, or base64 of
//!   msgpack when a message that may carry binary does. Each node reads
//!   every stream with `XREAD BLOCK COUNT` from where it started (and, after
//!   a Redis outage, from the last entry it read). With `stream_count > 1`,
//!   namespace `nsp` uses stream `<stream_name>-<hashCode(nsp) % n>`.
//! - Requests (broadcasts with ack, fetch sockets, server-side emits) and
//!   every response: the whole message as msgpack, `PUBLISH
//!   <prefix>#<nsp>#` and `<prefix>#<nsp>#<uid>#` (the requester's). The
//!   node count is `PUBSUB NUMSUB <prefix>#<nsp>#`.
//! - Recovery: a disconnected socket's session is `SET
//!   <sessionKeyPrefix><pid> base64(msgpack {sid, pid, rooms, data}) PX
//!   <maxDisconnectionDuration>`; every replayable broadcast reaches its
//!   sockets with its entry id appended as the offset; a client offering
//!   `{pid, offset}` gets its session (`MULTI GET DEL`) if the offset entry
//!   is still in the stream, and the broadcasts of its namespace after it
//!   (up to 100 `XRANGE` rounds) that targeted its rooms.
//!
//! One Redis, or a Redis Cluster ([`StreamsConfig::cluster`], as Node's
//! adapter on a `createCluster` client): there each stream is one key, a
//! batch of commands goes as one pipeline per key, requests go over
//! Pub/Sub (or sharded Pub/Sub, Node's `useShardedPubSub`) and the node
//! count is summed over the cluster's nodes. `rooms()` lists this node's
//! rooms.
//! While Redis is unreachable, broadcasts stay local (without offsets) and
//! requests end at their timeout; reading resumes after the last entry read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::{OnceCell, mpsc};

use super::RedisConfigError;
use super::endpoint::{Conn, Endpoint, Pipes};
use super::wire;
use crate::Value;
use crate::adapter::cluster::{
    self, ClusterAdapter, Receiver, SharedRecovery, Transport, event_from, kind, obj, opts_from,
    rooms_from, rooms_value,
};
use crate::adapter::{
    Adapter, AdapterFactory, MemoryAdapter, Restore, SessionExtensions, SessionState, included,
};
use crate::codec::socketio::Packet;
use crate::engineio::Message;
use crate::sid::Sid;
use crate::socketio::NsHandle;

/// Node's `RESTORE_SESSION_MAX_XRANGE_CALLS`.
const RESTORE_MAX_XRANGE_CALLS: usize = 100;

/// Streams adapter options, named as Node's.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// Redis URL, e.g. `redis://127.0.0.1:6379` (empty with
    /// [`cluster_nodes`](Self::cluster_nodes)).
    pub url: String,
    /// Seed URLs of a Redis Cluster, in place of `url` (see
    /// [`StreamsConfig::cluster`]); empty for one Redis.
    pub cluster_nodes: Vec<String>,
    /// Requests and responses over sharded Pub/Sub (`SPUBLISH` /
    /// `SSUBSCRIBE`, counted with `PUBSUB SHARDNUMSUB`), as Node's
    /// `useShardedPubSub`; default false. Redis Cluster only.
    pub use_sharded_pub_sub: bool,
    /// Stream key (`streamName`), default `socket.io`.
    pub stream_name: String,
    /// Number of streams (`streamCount`), default 1. With more, stream
    /// `<stream_name>-<i>` carries the namespaces whose hash gives `i`.
    pub stream_count: usize,
    /// Pub/Sub channel prefix (`channelPrefix`), default `socket.io`.
    pub channel_prefix: String,
    /// Approximate stream length kept (`maxLen`, `MAXLEN ~`), default 10 000.
    pub max_len: usize,
    /// Entries per `XREAD` (`readCount`), default 100.
    pub read_count: usize,
    /// How long one `XREAD` blocks (`blockTimeInMs`), default 5 s.
    pub block_time: Duration,
    /// Key prefix of stored sessions (`sessionKeyPrefix`), default `sio:session:`.
    pub session_key_prefix: String,
    /// Send every stream entry as JSON, binary included (`onlyPlaintext`), default false.
    pub only_plaintext: bool,
    /// How long requests to other nodes wait (default 5 s, as Node); also
    /// bounds each Redis command.
    pub requests_timeout: Duration,
}

impl StreamsConfig {
    /// Options for one Redis at `url`, with Node's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        StreamsConfig {
            url: url.into(),
            cluster_nodes: Vec::new(),
            use_sharded_pub_sub: false,
            stream_name: "socket.io".into(),
            stream_count: 1,
            channel_prefix: "socket.io".into(),
            max_len: 10_000,
            read_count: 100,
            block_time: Duration::from_millis(5000),
            session_key_prefix: "sio:session:".into(),
            only_plaintext: false,
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// Options for a Redis Cluster reached through the seed URLs `nodes`,
    /// with Node's defaults (Node's streams adapter on a `createCluster`
    /// client). Each stream is one key, so with `stream_count > 1` the
    /// streams spread over the masters; requests go over Pub/Sub, which a
    /// cluster carries to every node (or over sharded Pub/Sub with
    /// [`use_sharded_pub_sub`](Self::use_sharded_pub_sub)).
    ///
    /// ```no_run
    /// # fn f() -> Result<(), oxsio::adapter::redis::RedisConfigError> {
    /// use oxsio::adapter::redis::{RedisStreamsAdapter, StreamsConfig};
    /// let config = StreamsConfig::cluster(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
    ///     .stream_count(3)
    ///     .use_sharded_pub_sub(true);
    /// let io = oxsio::Server::builder().adapter(RedisStreamsAdapter::factory(config)?).build();
    /// # Ok(()) }
    /// ```
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StreamsConfig {
            cluster_nodes: nodes.into_iter().map(Into::into).collect(),
            ..StreamsConfig::new("")
        }
    }

    /// Sends requests and responses over sharded Pub/Sub (Redis Cluster only).
    pub fn use_sharded_pub_sub(mut self, on: bool) -> Self {
        self.use_sharded_pub_sub = on;
        self
    }

    /// Sets the stream name.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets the number of streams (at least 1).
    pub fn stream_count(mut self, n: usize) -> Self {
        self.stream_count = n;
        self
    }

    /// Sets the channel prefix.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the approximate stream length kept.
    pub fn max_len(mut self, n: usize) -> Self {
        self.max_len = n;
        self
    }

    /// Sets the entries per read.
    pub fn read_count(mut self, n: usize) -> Self {
        self.read_count = n;
        self
    }

    /// Sets how long one read blocks.
    pub fn block_time(mut self, d: Duration) -> Self {
        self.block_time = d;
        self
    }

    /// Sets the session key prefix.
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_key_prefix = prefix.into();
        self
    }

    /// Sends every stream entry as JSON.
    pub fn only_plaintext(mut self, on: bool) -> Self {
        self.only_plaintext = on;
        self
    }

    /// Sets the request timeout.
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.requests_timeout = d;
        self
    }

    fn check(&self) -> Result<(), RedisConfigError> {
        let bad = |what: &str| Err(RedisConfigError(what.to_owned()));
        if self.stream_name.is_empty() {
            return bad("stream_name is empty");
        }
        if self.stream_count == 0 || i32::try_from(self.stream_count).is_err() {
            return bad("stream_count must be between 1 and 2^31-1");
        }
        if self.read_count == 0 {
            return bad("read_count must be at least 1");
        }
        if self.block_time.is_zero() {
            return bad("block_time must be positive (0 blocks forever)");
        }
        if self.requests_timeout.is_zero() {
            return bad("requests_timeout must be positive");
        }
        if !self.cluster_nodes.is_empty() && !self.url.is_empty() {
            return bad("give url (one Redis) or cluster_nodes (a Redis Cluster), not both");
        }
        if self.use_sharded_pub_sub && self.cluster_nodes.is_empty() {
            return bad("use_sharded_pub_sub needs a Redis Cluster (cluster_nodes)");
        }
        Ok(())
    }
}

/// Java's `String.hashCode` over UTF-16 units, as Node's `hashCode`.
fn hash_code(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Node's `computeStreamName`: `%` keeps the sign of the hash.
fn stream_for(config: &StreamsConfig, nsp: &str) -> String {
    if config.stream_count <= 1 {
        return config.stream_name.clone();
    }
    let n = i32::try_from(config.stream_count).unwrap_or(i32::MAX);
    format!("{}-{}", config.stream_name, hash_code(nsp) % n)
}

/// A stream entry id `<ms>-<seq>`.
type EntryId = (u64, u64);

fn parse_id(s: &str) -> Option<EntryId> {
    let (ms, seq) = s.split_once('-')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Node's `nextOffset` (exclusive ranges need Redis 6.2).
fn next_id((ms, seq): EntryId) -> String {
    match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms.saturating_add(1)),
    }
}

/// One stream's reader position: entries up to `read` reached this node's
/// sockets (a restore replays only those; later ones arrive live).
#[derive(Default)]
struct Progress {
    read: Option<EntryId>,
    /// The last BROADCAST entries read, for a restore whose `XRANGE`
    /// ended before `read` (the entries in between reached the sockets
    /// before the restored one registered).
    recent: std::collections::VecDeque<(EntryId, HashMap<String, Vec<u8>>)>,
}

/// Broadcast entries kept in [`Progress::recent`].
const RECENT: usize = 1000;

/// Node's replay test for one entry: a BROADCAST of namespace `nsp` that
/// targeted one of `rooms`, as the event packet to replay (offset appended).
fn replay_packet(
    id: &str,
    fields: &HashMap<String, Vec<u8>>,
    nsp: &str,
    rooms: &[crate::adapter::Room],
) -> Option<Packet> {
    if fields.get("nsp").map(Vec::as_slice) != Some(nsp.as_bytes())
        || fields.get("type").map(Vec::as_slice) != Some(b"3".as_slice())
    {
        return None;
    }
    let msg = decode_entry(fields).ok()?;
    let data = &msg["data"];
    let (event, mut args) = event_from(&data["packet"]["data"])?;
    let opts = opts_from(&data["opts"]);
    if !included(rooms, &opts.rooms, &opts.except) {
        return None;
    }
    args.push(Value::from(id));
    Some(Packet::event(nsp.to_owned(), event, args, None))
}

struct StreamState {
    name: String,
    progress: Mutex<Progress>,
}

enum Cmd {
    Xadd {
        stream: String,
        fields: Vec<(&'static str, Vec<u8>)>,
        logged: Option<Box<dyn FnOnce(bool) + Send>>,
    },
    Publish(String, Vec<u8>),
    Set(String, String, u64),
}

/// What every namespace adapter of one server shares: the command
/// connection, the stream readers and the namespaces they dispatch to.
struct Shared {
    endpoint: Endpoint,
    config: StreamsConfig,
    conn: OnceCell<Conn>,
    streams: Vec<Arc<StreamState>>,
    routes: RwLock<HashMap<String, Weak<dyn Receiver>>>,
    cmds: mpsc::UnboundedSender<Cmd>,
    cmds_rx: Mutex<Option<mpsc::UnboundedReceiver<Cmd>>>,
    /// How many stream readers know where they start.
    started: tokio::sync::watch::Sender<usize>,
    /// Namespace adapters not closed yet; when the last closes (the server
    /// shut down), the readers stop, as Node's `controller.abort()`.
    open: std::sync::atomic::AtomicUsize,
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    async fn conn(&self) -> Option<Conn> {
        match self
            .conn
            .get_or_try_init(|| self.endpoint.commands(self.config.requests_timeout))
            .await
        {
            Ok(c) => Some(c.clone()),
            Err(e) => {
                tracing::error!(error = %e, "redis streams adapter: cannot connect; staying local-only");
                None
            }
        }
    }

    fn stream(&self, name: &str) -> Option<&Arc<StreamState>> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Starts the command worker and the stream readers once (a runtime is
    /// running by then).
    fn start(self: &Arc<Self>) {
        let rx = self.cmds_rx.lock().ok().and_then(|mut r| r.take());
        if let Some(rx) = rx {
            crate::runtime::spawn(worker(Arc::downgrade(self), rx));
            for s in &self.streams {
                crate::runtime::spawn(reader(Arc::downgrade(self), s.clone()));
            }
        }
    }

    fn dispatch(&self, id: &str, fields: &HashMap<String, Vec<u8>>) {
        // As Node: an entry without nsp is skipped.
        let Some(nsp) = fields.get("nsp").and_then(|n| std::str::from_utf8(n).ok()) else {
            return;
        };
        if nsp.is_empty() {
            return;
        }
        let receiver = self
            .routes
            .read()
            .ok()
            .and_then(|r| r.get(nsp).and_then(Weak::upgrade));
        let Some(receiver) = receiver else { return };
        match decode_entry(fields) {
            Ok(msg) => receiver.on_logged(msg, id),
            Err(e) => {
                tracing::warn!(id, error = %e, "redis streams adapter: ignoring a malformed stream entry");
            }
        }
    }
}

/// Node's `RedisStreamsAdapter.decode`: `{uid, nsp, type, data}`.
fn decode_entry(fields: &HashMap<String, Vec<u8>>) -> Result<Value, String> {
    let text = |k: &str| -> Result<&str, String> {
        let v = fields.get(k).ok_or_else(|| format!("no {k}"))?;
        std::str::from_utf8(v).map_err(|_| format!("{k} is not UTF-8"))
    };
    let uid = text("uid")?;
    let nsp = text("nsp")?;
    let ty: u64 = text("type")?
        .parse()
        .map_err(|_| "type is not a number".to_owned())?;
    let data = match fields.get("data") {
        None => Value::Null,
        Some(d) if d.is_empty() => Value::Null,
        Some(d) if d.first() == Some(&b'{') => {
            serde_json::from_slice(d).map_err(|e| format!("data: {e}"))?
        }
        Some(d) => {
            let raw = BASE64.decode(d).map_err(|e| format!("data: {e}"))?;
            wire::from_msgpack(&raw)?
        }
    };
    Ok(obj([
        ("type", Value::from(ty)),
        ("data", data),
        ("uid", Value::from(uid)),
        ("nsp", Value::from(nsp)),
    ]))
}

/// Node's `encode`: the stream entry fields of a durable message.
fn encode_entry(msg: &Value, only_plaintext: bool) -> Vec<(&'static str, Vec<u8>)> {
    let ty = msg["type"].as_u64().unwrap_or_default();
    let mut fields = vec![
        (
            "uid",
            msg["uid"].as_str().unwrap_or_default().as_bytes().to_vec(),
        ),
        (
            "nsp",
            msg["nsp"].as_str().unwrap_or_default().as_bytes().to_vec(),
        ),
        ("type", ty.to_string().into_bytes()),
    ];
    let data = &msg["data"];
    if !data.is_null() {
        let d = if !only_plaintext && cluster::may_contain_binary(ty) && data.has_binary() {
            BASE64.encode(wire::to_msgpack(data)).into_bytes()
        } else {
            wire::to_json(data)
        };
        fields.push(("data", d));
    }
    fields
}

/// Node's `isEphemeral`: requests go over Pub/Sub, the rest to the stream.
fn is_ephemeral(msg: &Value) -> bool {
    match msg["type"].as_u64() {
        Some(kind::BROADCAST) => !msg["data"]["requestId"].is_null(),
        Some(kind::SERVER_SIDE_EMIT | kind::FETCH_SOCKETS) => true,
        _ => false,
    }
}

/// Runs commands in order, pipelined per batch; reports to each logged
/// XADD whether it went through.
async fn worker(weak: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    const BATCH: usize = 256;
    // This node's own broadcasts reach its sockets when its readers read
    // them back: let the readers find their start first (bounded), so that
    // the first entries are after it.
    if let Some(shared) = weak.upgrade() {
        let mut started = shared.started.subscribe();
        let n = shared.streams.len();
        let timeout = shared.config.requests_timeout;
        drop(shared);
        let _ = tokio::time::timeout(timeout, started.wait_for(|s| *s >= n)).await;
    }
    while let Some(first) = rx.recv().await {
        // Local deliveries first, then the whole burst as one pipeline (as
        // the classic adapter's publisher): without this yield each
        // broadcast of a burst left alone, and the other nodes' readers
        // woke, and their sockets were written to, once per broadcast.
        tokio::task::yield_now().await;
        let Some(shared) = weak.upgrade() else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut pipes = Pipes::new(shared.endpoint.is_cluster());
        let mut waiting = Vec::new();
        for c in batch {
            match c {
                Cmd::Xadd {
                    stream,
                    fields,
                    logged,
                } => {
                    let (group, pipe) = pipes.for_key(&stream);
                    let stream_name = stream.clone();
                    let cmd = pipe
                        .cmd("XADD")
                        .arg(stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(shared.config.max_len)
                        .arg("*");
                    for (k, v) in fields {
                        cmd.arg(k).arg(v);
                    }
                    cmd.ignore();
                    // A stream nobody reads back yet: deliver it here.
                    let read_back = shared
                        .stream(&stream_name)
                        .is_some_and(|s| s.progress.lock().is_ok_and(|p| p.read.is_some()));
                    waiting.extend(logged.map(|l| (l, group, read_back)));
                }
                Cmd::Publish(channel, payload) => {
                    // The cluster client routes (S)PUBLISH by its channel's slot.
                    let (_, pipe) = pipes.for_key(&channel);
                    let cmd = if shared.config.use_sharded_pub_sub {
                        "SPUBLISH"
                    } else {
                        "PUBLISH"
                    };
                    pipe.cmd(cmd).arg(channel).arg(payload).ignore();
                }
                Cmd::Set(key, value, ttl_ms) => {
                    let (_, pipe) = pipes.for_key(&key);
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(value)
                        .arg("PX")
                        .arg(ttl_ms.max(1))
                        .ignore();
                }
            }
        }
        let run = async {
            let conn = shared.conn().await?;
            let results = pipes.run(&conn).await;
            Some(
                results
                    .into_iter()
                    .map(|r| {
                        r.map_err(|e| tracing::error!(error = %e, "redis streams adapter: publish failed; messages stay local"))
                            .is_ok()
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let ok = match tokio::time::timeout(shared.config.requests_timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                tracing::error!("redis streams adapter: publish timed out; messages stay local");
                None
            }
        };
        for (logged, group, read_back) in waiting {
            let went = ok.as_ref().is_some_and(|ok| ok.get(group) == Some(&true));
            logged(went && read_back);
        }
    }
}

/// Reads one stream from where this node started (its last entry then),
/// on a connection of its own, and dispatches each entry by namespace;
/// after an error, reconnects and resumes after the last entry read.
async fn reader(weak: Weak<Shared>, stream: Arc<StreamState>) {
    let Some(mut stopped) = weak.upgrade().map(|s| s.stopped.subscribe()) else {
        return;
    };
    tokio::select! {
        () = read_stream(weak, stream) => {}
        _ = stopped.wait_for(|s| *s) => {}
    }
}

async fn read_stream(weak: Weak<Shared>, stream: Arc<StreamState>) {
    let mut backoff = Duration::from_millis(100);
    let mut last: Option<String> = None;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let endpoint = shared.endpoint.clone();
        let (block, count) = (shared.config.block_time, shared.config.read_count);
        let timeout = shared.config.requests_timeout;
        drop(shared);
        let connect = endpoint.dedicated(block + timeout);
        let mut conn = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "redis streams adapter: cannot connect the stream reader; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
            Err(_) => {
                tracing::error!(
                    "redis streams adapter: connecting the stream reader timed out; retrying"
                );
                continue;
            }
        };
        if last.is_none() {
            // `$`, made explicit so that this node knows where it started.
            let top: redis::RedisResult<redis::Value> = redis::cmd("XREVRANGE")
                .arg(&stream.name)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await;
            match top {
                Ok(v) => {
                    let start = entries(&v)
                        .into_iter()
                        .next()
                        .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                    if let Ok(mut p) = stream.progress.lock() {
                        p.read = parse_id(&start);
                    }
                    last = Some(start);
                    if let Some(shared) = weak.upgrade() {
                        shared.started.send_modify(|n| *n += 1);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "redis streams adapter: cannot read the stream; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
        }
        loop {
            let from = last.clone().unwrap_or_else(|| "0-0".to_owned());
            let r: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
                .arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(&stream.name)
                .arg(&from)
                .query_async(&mut conn)
                .await;
            let mut read = match r {
                Ok(v) => read_reply(&v),
                Err(e) => {
                    tracing::warn!(error = %e, "redis streams adapter: reading the stream failed; reconnecting");
                    break;
                }
            };
            backoff = Duration::from_millis(100);
            // A blocked XREAD returns as soon as the first entry of a
            // burst is added (Redis serves blocked readers after each
            // command, before the rest of the writer's pipeline). Read what
            // the rest of the burst added without blocking before
            // delivering, so that the sockets get the whole burst at once
            // instead of its first broadcast alone.
            if let Some((top, _)) = read.last().filter(|_| read.len() < count) {
                let more: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(count - read.len())
                    .arg("STREAMS")
                    .arg(&stream.name)
                    .arg(top)
                    .query_async(&mut conn)
                    .await;
                match more {
                    Ok(v) => read.extend(read_reply(&v)),
                    Err(e) => {
                        // Deliver what was read; the next read resumes after it.
                        tracing::warn!(error = %e, "redis streams adapter: reading the stream failed");
                    }
                }
            }
            let Some(shared) = weak.upgrade() else { return };
            for (id, fields) in read {
                let mut p = stream.progress.lock().unwrap_or_else(|e| e.into_inner());
                shared.dispatch(&id, &fields);
                if let Some(parsed) = parse_id(&id) {
                    p.read = Some(parsed);
                    if fields.get("type").map(Vec::as_slice) == Some(b"3".as_slice()) {
                        p.recent.push_back((parsed, fields));
                        if p.recent.len() > RECENT {
                            p.recent.pop_front();
                        }
                    }
                }
                drop(p);
                last = Some(id);
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn bytes_of(v: &redis::Value) -> Option<Vec<u8>> {
    match v {
        redis::Value::BulkString(b) => Some(b.clone()),
        redis::Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        redis::Value::VerbatimString { text, .. } => Some(text.as_bytes().to_vec()),
        redis::Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// The entries of an `XRANGE` reply: `[[id, [field, value, ...]], ...]`.
/// Malformed entries are skipped.
fn entries(v: &redis::Value) -> Vec<(String, HashMap<String, Vec<u8>>)> {
    let redis::Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let redis::Value::Array(pair) = item else {
                return None;
            };
            let id = String::from_utf8(bytes_of(pair.first()?)?).ok()?;
            let mut fields = HashMap::new();
            if let Some(redis::Value::Array(kv)) = pair.get(1) {
                for chunk in kv.chunks(2) {
                    if let [k, v] = chunk
                        && let (Some(k), Some(v)) = (bytes_of(k), bytes_of(v))
                        && let Ok(k) = String::from_utf8(k)
                    {
                        fields.insert(k, v);
                    }
                }
            }
            Some((id, fields))
        })
        .collect()
}

/// The entries of an `XREAD` reply for one stream (nil: none).
fn read_reply(v: &redis::Value) -> Vec<(String, HashMap<String, Vec<u8>>)> {
    match v {
        redis::Value::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                redis::Value::Array(pair) => pair.get(1).map(entries),
                _ => None,
            })
            .flatten()
            .collect(),
        redis::Value::Map(streams) => streams.iter().flat_map(|(_, e)| entries(e)).collect(),
        _ => Vec::new(),
    }
}

/// The streams adapter. Create it through [`RedisStreamsAdapter::factory`].
pub struct RedisStreamsAdapter;

impl RedisStreamsAdapter {
    /// A factory for [`ServerBuilder::adapter`](crate::ServerBuilder::adapter).
    ///
    /// # Errors
    /// A URL that is not a Redis URL, or an option out of range (no stream
    /// name, no stream, zero read count, block time or timeout).
    /// Connecting happens later, in the background.
    pub fn factory(config: StreamsConfig) -> Result<AdapterFactory, RedisConfigError> {
        config.check()?;
        let endpoint = if config.cluster_nodes.is_empty() {
            Endpoint::single(&config.url)?
        } else {
            Endpoint::cluster(&config.cluster_nodes)?
        };
        let names: Vec<String> = if config.stream_count <= 1 {
            vec![config.stream_name.clone()]
        } else {
            (0..config.stream_count)
                .map(|i| format!("{}-{i}", config.stream_name))
                .collect()
        };
        let (cmds, cmds_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            endpoint,
            config,
            conn: OnceCell::new(),
            streams: names
                .into_iter()
                .map(|name| {
                    Arc::new(StreamState {
                        name,
                        progress: Mutex::new(Progress::default()),
                    })
                })
                .collect(),
            routes: RwLock::new(HashMap::new()),
            cmds,
            cmds_rx: Mutex::new(Some(cmds_rx)),
            started: tokio::sync::watch::channel(0).0,
            open: std::sync::atomic::AtomicUsize::new(0),
            stopped: tokio::sync::watch::channel(false).0,
        });
        Ok(Arc::new(move |ns: NsHandle| {
            shared.start();
            Arc::new(new_adapter(ns, shared.clone())) as Arc<dyn Adapter>
        }))
    }
}

fn new_adapter(ns: NsHandle, shared: Arc<Shared>) -> ClusterAdapter<Streams> {
    let nsp = ns
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "/".into());
    let uid = cluster::random_id();
    let channel = format!("{}#{nsp}#", shared.config.channel_prefix);
    let response_channel = format!("{channel}{uid}#");
    let stream = stream_for(&shared.config, &nsp);
    shared
        .open
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let transport = Streams {
        shared: shared.clone(),
        nsp: nsp.clone(),
        stream,
        channel,
        response_channel,
        closed: tokio::sync::watch::channel(false).0,
    };
    let adapter = ClusterAdapter::new(
        ns,
        nsp.clone(),
        uid,
        transport,
        shared.config.requests_timeout,
        false,
    );
    let weak: Weak<dyn Receiver> = Arc::downgrade(&adapter.0) as Weak<dyn Receiver>;
    if let Ok(mut routes) = shared.routes.write() {
        routes.insert(nsp, weak.clone());
    }
    let t = &adapter.0.transport;
    let subscription = Subscription {
        endpoint: shared.endpoint.clone(),
        channels: [t.channel.clone(), t.response_channel.clone()],
        sharded: shared.config.use_sharded_pub_sub,
        timeout: shared.config.requests_timeout,
        weak,
    };
    let closed = t.closed.subscribe();
    crate::runtime::spawn(async move {
        match subscription.endpoint {
            Endpoint::Single(ref client) => {
                let client = client.clone();
                subscriber(client, subscription, closed).await;
            }
            Endpoint::Cluster(_) => cluster_subscriber(subscription, closed).await,
        }
    });
    adapter
}

/// One namespace's subscription: its channel and this node's response
/// channel, whose msgpack messages go to the namespace adapter.
struct Subscription {
    endpoint: Endpoint,
    channels: [String; 2],
    /// `SSUBSCRIBE` (Node's `useShardedPubSub`) instead of `SUBSCRIBE`.
    sharded: bool,
    timeout: Duration,
    weak: Weak<dyn Receiver>,
}

impl Subscription {
    /// Hands one message to the namespace; false once it is gone.
    fn deliver(&self, payload: &[u8]) -> bool {
        let Some(receiver) = self.weak.upgrade() else {
            return false;
        };
        // Node sends every Pub/Sub message as msgpack.
        match wire::from_msgpack(payload) {
            Ok(v @ Value::Object(_)) => receiver.on_message(v),
            Ok(_) => tracing::warn!("redis streams adapter: ignoring a message that is not a map"),
            Err(e) => {
                tracing::warn!(error = %e, "redis streams adapter: ignoring an undecodable message")
            }
        }
        true
    }

    fn over(&self, closed: &tokio::sync::watch::Receiver<bool>) -> bool {
        *closed.borrow() || self.weak.strong_count() == 0
    }
}

/// Subscribes on one Redis (again after every disconnect) and dispatches.
async fn subscriber(
    client: redis::Client,
    sub: Subscription,
    mut closed: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if sub.over(&closed) {
            return;
        }
        let subscribed = async {
            let mut ps = client.get_async_pubsub().await?;
            for ch in &sub.channels {
                ps.subscribe(ch).await?;
            }
            Ok::<_, redis::RedisError>(ps)
        };
        match tokio::time::timeout(Duration::from_secs(5), subscribed).await {
            Ok(Ok(ps)) => {
                backoff = Duration::from_millis(100);
                let mut stream = ps.into_on_message();
                loop {
                    // On close the connection goes, so that the node
                    // stops counting in `PUBSUB NUMSUB` at once.
                    let msg = tokio::select! {
                        m = stream.next() => m,
                        _ = closed.wait_for(|c| *c) => return,
                    };
                    let Some(msg) = msg else { break };
                    if !sub.deliver(msg.get_payload_bytes()) {
                        return;
                    }
                }
                tracing::warn!("redis streams adapter: subscription lost; re-subscribing");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "redis streams adapter: cannot subscribe; retrying");
            }
            Err(_) => tracing::error!("redis streams adapter: subscribe timed out; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// How often a cluster subscription checks that the cluster still counts
/// it (a restarted cluster forgets its subscribers).
const SUBSCRIPTION_CHECK: Duration = Duration::from_secs(5);

/// Subscribes on a Redis Cluster over a RESP3 connection of its own and
/// dispatches its pushes. The connection subscribes again after a node
/// reconnects; every few seconds the response channel's subscriber count
/// is checked as well, and a new connection made when the cluster no
/// longer counts it.
async fn cluster_subscriber(sub: Subscription, mut closed: tokio::sync::watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(100);
    let want = if sub.sharded {
        redis::PushKind::SMessage
    } else {
        redis::PushKind::Message
    };
    loop {
        if sub.over(&closed) {
            return;
        }
        let (tx, mut pushes) = mpsc::unbounded_channel();
        let subscribed = async {
            let mut conn = match sub.endpoint.cluster_pubsub(sub.timeout, tx).await? {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "redis streams adapter: cannot connect to the cluster to subscribe; retrying");
                    return None;
                }
            };
            for ch in &sub.channels {
                let r = if sub.sharded {
                    conn.ssubscribe(ch).await
                } else {
                    conn.subscribe(ch).await
                };
                if let Err(e) = r {
                    tracing::error!(channel = %ch, error = %e, "redis streams adapter: cannot subscribe; retrying");
                    return None;
                }
            }
            Some(conn)
        };
        let conn = tokio::time::timeout(sub.timeout, subscribed)
            .await
            .ok()
            .flatten();
        if let Some(mut conn) = conn {
            backoff = Duration::from_millis(100);
            let mut check = tokio::time::interval(SUBSCRIPTION_CHECK);
            check.reset();
            loop {
                tokio::select! {
                    push = pushes.recv() => {
                        let Some(push) = push else { break };
                        if push.kind != want {
                            continue;
                        }
                        if let Some(redis::Value::BulkString(payload)) = push.data.get(1)
                            && !sub.deliver(payload)
                        {
                            return;
                        }
                    }
                    _ = check.tick() => {
                        if !counted(&mut conn, &sub).await {
                            break;
                        }
                    }
                    // (Not the guard itself: it would be held across the check.)
                    () = async { let _ = closed.wait_for(|c| *c).await; } => return,
                }
            }
            tracing::warn!("redis streams adapter: cluster subscription lost; re-subscribing");
        } else {
            tracing::error!("redis streams adapter: cannot subscribe on the cluster; retrying");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// False when the cluster answers that nobody subscribes to this node's
/// response channel (which only this node subscribes to): it forgot the
/// subscription. An error or a timeout (a node unreachable for now) is not
/// taken for that.
async fn counted(conn: &mut redis::cluster_async::ClusterConnection, sub: &Subscription) -> bool {
    let r = tokio::time::timeout(
        sub.timeout,
        numsub_cmd(sub.sharded, &sub.channels[1]).query_async::<redis::Value>(conn),
    )
    .await;
    match r {
        Ok(Ok(v)) => wire::numsub(&v) != Some(0),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "redis streams adapter: cannot count the cluster's subscribers");
            true
        }
        Err(_) => true,
    }
}

/// `PUBSUB NUMSUB` (or `SHARDNUMSUB`) of `channel`; on a cluster it goes to
/// every node and the counts are summed, as Node does.
fn numsub_cmd(sharded: bool, channel: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("PUBSUB");
    cmd.arg(if sharded { "SHARDNUMSUB" } else { "NUMSUB" })
        .arg(channel);
    cmd
}

/// The streams transport of one namespace.
pub(crate) struct Streams {
    shared: Arc<Shared>,
    nsp: String,
    /// The stream this namespace's durable messages go to.
    stream: String,
    /// `<prefix>#<nsp>#`
    channel: String,
    /// `<prefix>#<nsp>#<uid>#`
    response_channel: String,
    /// Set on close: the subscriber leaves.
    closed: tokio::sync::watch::Sender<bool>,
}

impl Streams {
    fn xadd(&self, msg: &Value, logged: Option<Box<dyn FnOnce(bool) + Send>>) {
        let cmd = Cmd::Xadd {
            stream: self.stream.clone(),
            fields: encode_entry(msg, self.shared.config.only_plaintext),
            logged,
        };
        if let Err(mpsc::error::SendError(Cmd::Xadd {
            logged: Some(logged),
            ..
        })) = self.shared.cmds.send(cmd)
        {
            logged(false);
        }
    }
}

impl Transport for Streams {
    fn publish(&self, msg: &Value) {
        if is_ephemeral(msg) {
            let _ = self
                .shared
                .cmds
                .send(Cmd::Publish(self.channel.clone(), wire::to_msgpack(msg)));
        } else {
            self.xadd(msg, None);
        }
    }

    fn publish_response(&self, requester: &str, msg: &Value) {
        let channel = format!("{}{requester}#", self.channel);
        let _ = self
            .shared
            .cmds
            .send(Cmd::Publish(channel, wire::to_msgpack(msg)));
    }

    fn publish_logged(&self, msg: &Value, logged: Box<dyn FnOnce(bool) + Send>) {
        self.xadd(msg, Some(logged));
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        let shared = self.shared.clone();
        let channel = self.channel.clone();
        async move {
            let query = async {
                let mut conn = shared.conn().await?;
                let r: redis::RedisResult<redis::Value> =
                    numsub_cmd(shared.config.use_sharded_pub_sub, &channel)
                        .query_async(&mut conn)
                        .await;
                r.map_err(|e| tracing::error!(error = %e, "redis streams adapter: NUMSUB failed; assuming a single node")).ok()
            };
            match tokio::time::timeout(shared.config.requests_timeout, query).await {
                Ok(Some(v)) => wire::numsub(&v).unwrap_or(1).max(1),
                _ => 1,
            }
        }
        .boxed()
    }

    fn shared_recovery(&self) -> Option<&dyn SharedRecovery> {
        Some(self)
    }

    fn close(&self) {
        self.closed.send_replace(true);
        if self
            .shared
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.shared.stopped.send_replace(true);
        }
        if let Ok(mut routes) = self.shared.routes.write()
            && routes.get(&self.nsp).is_some_and(|w| w.strong_count() == 0)
        {
            routes.remove(&self.nsp);
        }
    }
}

/// The session object Node stores: `{sid, pid, rooms, data}`.
fn session_value(s: &SessionState) -> Value {
    obj([
        ("sid", Value::from(s.sid.as_str())),
        ("pid", Value::from(&*s.pid)),
        ("rooms", rooms_value(&s.rooms)),
        ("data", s.data.clone()),
    ])
}

fn session_from(v: &Value) -> Option<SessionState> {
    Some(SessionState {
        sid: Sid::parse(v["sid"].as_str()?)?,
        pid: Arc::from(v["pid"].as_str()?),
        rooms: rooms_from(&v["rooms"]),
        data: v["data"].clone(),
        extensions: SessionExtensions::default(),
    })
}

impl SharedRecovery for Streams {
    fn persist(&self, session: SessionState, ttl: Duration) {
        let key = format!("{}{}", self.shared.config.session_key_prefix, session.pid);
        let value = BASE64.encode(wire::to_msgpack(&session_value(&session)));
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let _ = self.shared.cmds.send(Cmd::Set(key, value, ttl_ms));
    }

    fn restore(&self, pid: &str, offset: &str) -> BoxFuture<'static, Option<Restore>> {
        let shared = self.shared.clone();
        let key = format!("{}{pid}", shared.config.session_key_prefix);
        let (stream, nsp, offset) = (self.stream.clone(), self.nsp.clone(), offset.to_owned());
        async move {
            let start = parse_id(&offset)?;
            let timeout = shared.config.requests_timeout;
            let mut conn = shared.conn().await?;
            let (raw, exists) = tokio::time::timeout(timeout, async {
                let taken: redis::RedisResult<(Option<String>,)> = redis::pipe()
                    .atomic()
                    .get(&key)
                    .del(&key)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                let found: redis::RedisResult<redis::Value> = redis::cmd("XRANGE")
                    .arg(&stream)
                    .arg(&offset)
                    .arg(&offset)
                    .query_async(&mut conn)
                    .await;
                (taken, found)
            })
            .await
            .map_err(|_| tracing::warn!("redis streams adapter: restoring a session timed out"))
            .ok()?;
            let raw = raw
                .map_err(|e| tracing::warn!(error = %e, "redis streams adapter: cannot read a session"))
                .ok()?
                .0?;
            let exists = exists.map(|v| !entries(&v).is_empty()).unwrap_or(false);
            if !exists {
                return None;
            }
            let decoded = BASE64
                .decode(raw.as_bytes())
                .map_err(|e| e.to_string())
                .and_then(|b| wire::from_msgpack(&b));
            let session = match decoded.as_ref().ok().and_then(session_from) {
                Some(s) => s,
                None => {
                    tracing::warn!(pid = %key, "redis streams adapter: ignoring an undecodable session");
                    return None;
                }
            };
            let mut replay = Vec::new();
            let mut from = start;
            for _ in 0..RESTORE_MAX_XRANGE_CALLS {
                let r: redis::RedisResult<redis::Value> = tokio::time::timeout(
                    timeout,
                    redis::cmd("XRANGE")
                        .arg(&stream)
                        .arg(next_id(from))
                        .arg("+")
                        .query_async(&mut conn),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "XRANGE timed out",
                    )))
                });
                let got = match r {
                    Ok(v) => entries(&v),
                    Err(e) => {
                        tracing::warn!(error = %e, "redis streams adapter: cannot read missed packets");
                        return None;
                    }
                };
                if got.is_empty() {
                    break;
                }
                for (id, fields) in got {
                    let Some(parsed) = parse_id(&id) else { continue };
                    from = parsed;
                    if let Some(packet) = replay_packet(&id, &fields, &nsp, &session.rooms) {
                        replay.push((id, packet));
                    }
                }
            }
            Some(Restore {
                session,
                // The last entry read: later ones come from the reader.
                resume: format!("{}-{}", from.0, from.1),
                replay,
            })
        }
        .boxed()
    }

    fn attach(
        &self,
        local: &MemoryAdapter,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        let Some(restore) = restore else {
            attach(Vec::new());
            return false;
        };
        let Some(stream) = self.shared.stream(&self.stream) else {
            attach(Vec::new());
            return false;
        };
        // No logged packet reaches the sockets while this one registers:
        // those read so far come from the replay, later ones live.
        let p = stream.progress.lock().unwrap_or_else(|e| e.into_inner());
        let mut missed: Vec<Message> = restore
            .replay
            .iter()
            .filter(|(id, _)| match (parse_id(id), p.read) {
                (Some(id), Some(read)) => id <= read,
                _ => true,
            })
            .map(|(_, packet)| local.ns().encode_message(packet))
            .collect();
        // Read and delivered here after the restore's last XRANGE.
        if let (Some(scanned), Some(read)) = (parse_id(&restore.resume), p.read)
            && read > scanned
        {
            if p.recent.front().is_some_and(|(first, _)| *first > scanned)
                && p.recent.len() >= RECENT
            {
                tracing::warn!(
                    "redis streams adapter: a restored socket may miss broadcasts read meanwhile"
                );
            }
            for (id, fields) in p.recent.iter().filter(|(id, _)| *id > scanned) {
                let id = format!("{}-{}", id.0, id.1);
                if let Some(packet) = replay_packet(&id, fields, &self.nsp, &restore.session.rooms)
                {
                    missed.push(local.ns().encode_message(&packet));
                }
            }
        }
        attach(missed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_redis_or_a_cluster_and_sharded_pub_sub_only_on_a_cluster() {
        let err = |c: StreamsConfig| RedisStreamsAdapter::factory(c).err().map(|e| e.0);
        assert!(err(StreamsConfig::new("redis://127.0.0.1:1")).is_none());
        assert!(err(StreamsConfig::cluster(["redis://127.0.0.1:1"])).is_none());
        let both = StreamsConfig {
            url: "redis://127.0.0.1:1".into(),
            ..StreamsConfig::cluster(["redis://127.0.0.1:2"])
        };
        assert!(err(both).unwrap().contains("not both"));
        assert!(err(StreamsConfig::cluster(Vec::<String>::new())).is_some());
        assert!(err(StreamsConfig::cluster(["nope://x"])).is_some());
        let single_sharded = StreamsConfig::new("redis://127.0.0.1:1").use_sharded_pub_sub(true);
        assert!(err(single_sharded).unwrap().contains("Redis Cluster"));
        assert!(
            err(StreamsConfig::cluster(["redis://127.0.0.1:1"]).use_sharded_pub_sub(true))
                .is_none()
        );
    }

    #[test]
    fn stream_names_follow_node_hash_code() {
        // Values from Node's hashCode (redis-streams-adapter's util.js).
        assert_eq!(hash_code("/"), 47);
        assert_eq!(hash_code("/chat"), 46_457_863);
        assert_eq!(hash_code("/notifications"), -1_014_064_871);
        assert_eq!(hash_code("/x\u{1F600}y"), 101_940_397);
        let c = StreamsConfig::new("redis://x").stream_count(3);
        assert_eq!(stream_for(&c, "/"), "socket.io-2");
        // JS `%` keeps the sign.
        assert_eq!(stream_for(&c, "/notifications"), "socket.io--2");
        assert_eq!(
            stream_for(&StreamsConfig::new("redis://x"), "/x"),
            "socket.io"
        );
    }

    #[test]
    fn entries_encode_and_decode_as_node() {
        let msg = cluster::envelope(
            kind::SOCKETS_JOIN,
            obj([
                ("opts", Value::Null),
                ("rooms", Value::Array(vec![Value::from("r")])),
            ]),
            "aaaaaaaaaaaaaaaa",
            "/",
        );
        let fields = encode_entry(&msg, false);
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["uid", "nsp", "type", "data"]);
        assert_eq!(fields[2].1, b"4");
        assert_eq!(fields[3].1, br#"{"opts":null,"rooms":["r"]}"#);
        let map: HashMap<String, Vec<u8>> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(decode_entry(&map).ok(), Some(msg));
        let bin = cluster::envelope(
            kind::BROADCAST,
            obj([("packet", Value::Binary(vec![1, 2, 3].into()))]),
            "u",
            "/",
        );
        let fields = encode_entry(&bin, false);
        assert!(!fields[3].1.starts_with(b"{"));
        let map: HashMap<String, Vec<u8>> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(decode_entry(&map).ok(), Some(bin));
        for bad in [
            vec![("nsp", "/"), ("type", "3")],
            vec![("uid", "u"), ("nsp", "/"), ("type", "x")],
            vec![("uid", "u"), ("nsp", "/"), ("type", "3"), ("data", "{nope")],
            vec![("uid", "u"), ("nsp", "/"), ("type", "3"), ("data", "!!!")],
            vec![("uid", "u"), ("nsp", "/"), ("type", "3"), ("data", "kw==")],
        ] {
            let map: HashMap<String, Vec<u8>> = bad
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.as_bytes().to_vec()))
                .collect();
            assert!(decode_entry(&map).is_err(), "{map:?}");
        }
    }

    #[test]
    fn offsets_and_ephemeral_messages() {
        assert_eq!(parse_id("1700000000000-3"), Some((1_700_000_000_000, 3)));
        assert_eq!(parse_id("17-"), None);
        assert_eq!(parse_id("a-1"), None);
        assert_eq!(parse_id("+1-1"), None);
        assert_eq!(next_id((5, 1)), "5-2");
        let ask = cluster::envelope(
            kind::BROADCAST,
            obj([("requestId", Value::from("x"))]),
            "u",
            "/",
        );
        assert!(is_ephemeral(&ask));
        let plain = cluster::envelope(kind::BROADCAST, obj([("opts", Value::Null)]), "u", "/");
        assert!(!is_ephemeral(&plain));
        let fetch = cluster::envelope(kind::FETCH_SOCKETS, Value::Null, "u", "/");
        assert!(is_ephemeral(&fetch));
    }
}
