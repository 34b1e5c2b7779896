//! The [Socket.IO Admin UI](https://github.com/socketio/socket.io-admin-ui)
//! protocol, as `@socket.io/admin-ui` 0.5's `instrument(io, options)`
//! speaks it: the hosted UI (or the one shipped in the npm package) logs in
//! to [`Server::instrument`]'s namespace and sees this server.
//!
//! What the admin namespace sends, to every admin socket:
//!
//! | event | when | arguments |
//! |---|---|---|
//! | `session` | after a login with the password | a session id, which logs in again in place of the password |
//! | `config` | on connection | `{supportedFeatures}` |
//! | `server_stats` | every 2 s ([`stats_interval`](AdminUiOptions::stats_interval)) | `{serverId, hostname, pid, uptime, clientsCount, pollingClientsCount, aggregatedEvents, namespaces}` |
//! | `all_sockets` | on connection (development) | every socket of every namespace, on every node |
//! | `socket_connected` | development | socket, date |
//! | `socket_updated` | development: data changed, transport upgraded | `{id, nsp, data}` or `{id, nsp, transport}` |
//! | `socket_disconnected` | development | nsp, id, reason, date |
//! | `room_joined`, `room_left` | development | nsp, room, id, date |
//! | `event_received`, `event_sent` | development, other namespaces | nsp, id, `[event, …args]`, date |
//!
//! The commands it takes (none in read-only mode): `emit(nsp, filter, event,
//! …args)`, `join(nsp, room, filter)`, `leave(nsp, room, filter)`,
//! `_disconnect(nsp, close, filter)`, where `filter` is a room (a socket
//! id for one socket) or `null` for the whole namespace. They act through
//! the adapter, so on every node of a cluster; the events above travel
//! through the admin namespace's adapter, so an admin UI connected to one
//! node sees every node (one `serverId` each), as with Node.
//!
//! Differences from Node, on purpose: a command naming a namespace that
//! does not exist is refused (Node would create the namespace); a command
//! with arguments of the wrong types is refused (Node would throw inside
//! the handler); a refused command is answered with `{"error": …}` when it
//! asked for an acknowledgement (the UI never does). `packetsOut` counts
//! Socket.IO packets and their attachments, not Engine.IO `open` packets.
//! `uptime` is the seconds since `instrument` ran.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use indexmap::{IndexMap, IndexSet};

use super::handshake::iso_date_string;
use super::namespace::{Namespace, NsInner};
use super::server::{Server, ServerState, SioHandler};
use super::{DisconnectReason, Event, RemoteSocket, Socket};
use crate::adapter::Room;
use crate::engineio::{CloseReason, Engine, Incoming, Message};
use crate::metrics::Counter;
use crate::sid::Sid;
use crate::{ConnectError, Map, Value};

/// Sessions kept for logins by session id; the oldest goes first.
const MAX_SESSIONS: usize = 1024;
/// bcrypt checks run at once (each takes tens of milliseconds of CPU).
const MAX_VERIFYING: usize = 2;

/// How much the admin UI sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMode {
    /// Server stats and aggregated counts only (`server_stats`): the cheap
    /// mode for production.
    Production,
    /// Also every socket, room change and event (`all_sockets`,
    /// `socket_*`, `room_*`, `event_*`). Node's default when `NODE_ENV` is
    /// unset, and ours.
    #[default]
    Development,
}

impl AdminMode {
    /// `"production"` or `"development"`, as Node spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminMode::Production => "production",
            AdminMode::Development => "development",
        }
    }
}

impl FromStr for AdminMode {
    type Err = InstrumentError;

    fn from_str(s: &str) -> Result<Self, InstrumentError> {
        match s {
            "production" => Ok(AdminMode::Production),
            "development" => Ok(AdminMode::Development),
            _ => Err(InstrumentError::InvalidMode(s.to_owned())),
        }
    }
}

/// Why [`Server::instrument`] refused its options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// The password is not a bcrypt hash: pass the output of a bcrypt
    /// hasher (`$2a$`, `$2b$` or `$2y$`, cost 4 to 31), never the password.
    #[error("the admin password must be a bcrypt hash ({0})")]
    InvalidHash(String),
    /// The mode is neither `development` nor `production`.
    #[error("invalid admin UI mode {0:?} (development or production)")]
    InvalidMode(String),
    /// The stats interval is zero: give at least a millisecond (Node: 2 s).
    #[error("the admin UI stats interval must not be zero")]
    InvalidInterval,
    /// The server serves the admin UI already: instrument it once.
    #[error("this server is already instrumented for the admin UI")]
    AlreadyInstrumented,
    /// Called outside a tokio runtime: call it from within one (the stats
    /// timer runs on it).
    #[error("instrument must be called within a tokio runtime")]
    NoRuntime,
}

#[derive(Clone)]
struct BasicAuth {
    username: String,
    password_hash: String,
}

/// The admin UI options of [`Server::instrument`] (Node's
/// `InstrumentOptions`). Made with [`with_auth`](Self::with_auth) or
/// [`without_auth`](Self::without_auth): as in Node, leaving the admin
/// namespace open is a choice to spell out.
///
/// ```
/// use std::time::Duration;
/// use oxsio::admin::{AdminMode, AdminUiOptions};
/// let opts = AdminUiOptions::with_auth("admin", "$2b$10$…bcrypt hash…")
///     .namespace("/admin")            // default
///     .mode(AdminMode::Production)    // default Development
///     .read_only(true)                // default false
///     .server_id("eu-1")              // default the host name
///     .stats_interval(Duration::from_secs(2)); // default
/// # drop(opts);
/// ```
#[derive(Clone)]
pub struct AdminUiOptions {
    namespace: String,
    auth: Option<BasicAuth>,
    read_only: bool,
    server_id: Option<String>,
    mode: AdminMode,
    stats_interval: Duration,
}

impl std::fmt::Debug for AdminUiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUiOptions")
            .field("namespace", &self.namespace)
            .field("username", &self.auth.as_ref().map(|a| &a.username))
            .field("read_only", &self.read_only)
            .field("server_id", &self.server_id)
            .field("mode", &self.mode)
            .field("stats_interval", &self.stats_interval)
            .finish()
    }
}

impl AdminUiOptions {
    fn base(auth: Option<BasicAuth>) -> Self {
        AdminUiOptions {
            namespace: "/admin".into(),
            auth,
            read_only: false,
            server_id: None,
            mode: AdminMode::Development,
            stats_interval: Duration::from_secs(2),
        }
    }

    /// Basic authentication: the UI must give `username` and a password
    /// whose bcrypt hash is `bcrypt_hash` (checked by `instrument`). A
    /// login then gets a session id that logs in again without the password.
    pub fn with_auth(username: impl Into<String>, bcrypt_hash: impl Into<String>) -> Self {
        Self::base(Some(BasicAuth {
            username: username.into(),
            password_hash: bcrypt_hash.into(),
        }))
    }

    /// No authentication: anyone who reaches the server may connect to the
    /// admin namespace (Node's `auth: false`).
    pub fn without_auth() -> Self {
        Self::base(None)
    }

    /// The admin namespace (default `/admin`; a leading `/` is added).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        let mut name: String = name.into();
        if !name.starts_with('/') {
            name.insert(0, '/');
        }
        self.namespace = name;
        self
    }

    /// Refuses the commands (`emit`, `join`, `leave`, `_disconnect`) and
    /// advertises none (default false).
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// This server's id in `server_stats` (default: the host name). Give
    /// each node of a cluster its own.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// Production or development (default development, see [`AdminMode`]).
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }

    /// Time between two `server_stats` (default 2 s, Node's fixed value).
    pub fn stats_interval(mut self, every: Duration) -> Self {
        self.stats_interval = every;
        self
    }
}

/// Counts of one second, Node's `EventBuffer`: `(timestamp ms, type, subType)`.
#[derive(Default)]
struct EventBuffer(IndexMap<(u64, &'static str, Option<&'static str>), u64>);

impl EventBuffer {
    fn push(&mut self, at_ms: u64, ty: &'static str, sub: Option<&'static str>, n: u64) {
        if n > 0 {
            *self.0.entry((at_ms / 1000 * 1000, ty, sub)).or_insert(0) += n;
        }
    }

    fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|((at, ty, sub), count)| {
                let mut m = Map::new();
                m.insert("timestamp".into(), Value::from(at));
                m.insert("type".into(), Value::from(ty));
                if let Some(sub) = sub {
                    m.insert("subType".into(), Value::from(sub));
                }
                m.insert("count".into(), Value::from(count));
                Value::Object(m)
            })
            .collect()
    }
}

const PACKETS_IN: usize = 0;
const BYTES_IN: usize = 1;
const PACKETS_OUT: usize = 2;
const BYTES_OUT: usize = 3;
const COUNTED: [&str; 4] = ["packetsIn", "bytesIn", "packetsOut", "bytesOut"];

/// A disconnecting socket: namespace and id.
type Leaving = (Arc<str>, Sid);

/// The admin UI state of one instrumented server; its hooks are called
/// by the Socket.IO layer and the adapter.
pub(crate) struct Admin {
    ns: Weak<NsInner>,
    ns_name: Arc<str>,
    state: Weak<ServerState>,
    engine: Weak<Engine<SioHandler>>,
    dev: bool,
    read_only: bool,
    auth: Option<BasicAuth>,
    server_id: String,
    hostname: String,
    started: Instant,
    /// Hot-path counts (sharded), turned into per-second buckets each second.
    counters: [Counter; 4],
    sampled: Mutex<([u64; 4], SystemTime)>,
    buffer: Mutex<EventBuffer>,
    sessions: Mutex<IndexSet<String>>,
    verifying: tokio::sync::Semaphore,
    /// Rooms a disconnecting socket left, told after `socket_disconnected`
    /// (Node defers `room_left` to the next tick).
    leaving: Mutex<HashMap<Leaving, Vec<Room>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_value() -> Value {
    Value::from(iso_date_string(SystemTime::now()))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The first 12 characters of the Engine.IO id (Node: "quite sensitive").
fn client_id(socket: &Socket) -> String {
    let sid = socket.transport_sid();
    sid.as_str().chars().take(12).collect()
}

pub(crate) fn instrument(io: &Server, opts: AdminUiOptions) -> Result<(), InstrumentError> {
    let rt = tokio::runtime::Handle::try_current().map_err(|_| InstrumentError::NoRuntime)?;
    if opts.stats_interval.is_zero() {
        return Err(InstrumentError::InvalidInterval);
    }
    if let Some(auth) = &opts.auth {
        bcrypt::HashParts::from_str(&auth.password_hash)
            .map_err(|e| InstrumentError::InvalidHash(e.to_string()))?;
    }
    let state = io.state();
    if state.common.admin.get().is_some() {
        return Err(InstrumentError::AlreadyInstrumented);
    }
    let ns = io.of(&opts.namespace);
    let hostname = hostname();
    let admin = Arc::new(Admin {
        ns: Arc::downgrade(&ns.0),
        ns_name: ns.0.name.clone(),
        state: Arc::downgrade(state),
        engine: io.engine_weak(),
        dev: opts.mode == AdminMode::Development,
        read_only: opts.read_only,
        auth: opts.auth,
        server_id: opts.server_id.unwrap_or_else(|| hostname.clone()),
        hostname,
        started: Instant::now(),
        counters: Default::default(),
        sampled: Mutex::new(([0; 4], SystemTime::now())),
        buffer: Mutex::default(),
        sessions: Mutex::default(),
        verifying: tokio::sync::Semaphore::new(MAX_VERIFYING),
        leaving: Mutex::default(),
    });
    state
        .common
        .admin
        .set(admin.clone())
        .map_err(|_| InstrumentError::AlreadyInstrumented)?;

    if admin.auth.is_some() {
        let a = Arc::downgrade(&admin);
        ns.use_middleware_async(move |socket: Socket| {
            let a = a.clone();
            async move {
                match a.upgrade() {
                    Some(a) => a.authenticate(&socket).await,
                    None => Err(ConnectError::new("invalid credentials")),
                }
            }
        });
    }
    let a = Arc::downgrade(&admin);
    ns.on_connection(move |socket: Socket| {
        if let Some(a) = a.upgrade() {
            a.admin_connected(&socket);
        }
    });
    let a = Arc::downgrade(&admin);
    let every = opts.stats_interval;
    rt.spawn(async move {
        let mut sample = tokio::time::interval(Duration::from_secs(1));
        let mut stats = tokio::time::interval(every);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let emit = tokio::select! {
                _ = sample.tick() => false,
                _ = stats.tick() => true,
            };
            let Some(a) = a.upgrade() else { break };
            a.sample();
            if emit && !a.emit_stats() {
                break;
            }
        }
    });
    Ok(())
}

/// The login session id a socket got from the middleware, sent on connection.
#[derive(Clone)]
struct NewSession(String);

impl Admin {
    fn namespace(&self) -> Option<Namespace> {
        self.ns.upgrade().map(Namespace)
    }

    /// Sends an event to every admin socket (on every node).
    fn emit(&self, event: &str, args: Vec<Value>) {
        if let Some(ns) = self.namespace()
            && let Err(e) = ns.emit(event, args)
        {
            tracing::debug!(error = %e, event, "admin UI event not delivered to every admin socket");
        }
    }

    // ---- authentication ---------------------------------------------------

    async fn authenticate(self: Arc<Self>, socket: &Socket) -> Result<(), ConnectError> {
        let refused = || ConnectError::new("invalid credentials");
        let Some(auth) = &self.auth else {
            return Ok(());
        };
        let given = socket.handshake().auth.clone();
        if let Some(id) = given["sessionId"].as_str()
            && self
                .sessions
                .lock()
                .map(|s| s.contains(id))
                .unwrap_or(false)
        {
            return Ok(());
        }
        let (Some(user), Some(password)) = (given["username"].as_str(), given["password"].as_str())
        else {
            return Err(refused());
        };
        if user != auth.username {
            return Err(refused());
        }
        let Ok(_permit) = self.verifying.acquire().await else {
            return Err(refused());
        };
        let (password, hash) = (password.to_owned(), auth.password_hash.clone());
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !ok {
            return Err(refused());
        }
        // Node: 8 random bytes in hex.
        let id: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        if let Ok(mut s) = self.sessions.lock() {
            if s.len() >= MAX_SESSIONS {
                s.shift_remove_index(0);
            }
            s.insert(id.clone());
        }
        socket.insert(NewSession(id));
        Ok(())
    }

    // ---- the admin namespace ------------------------------------------------

    fn features(&self) -> Vec<Value> {
        let mut f: Vec<&str> = Vec::new();
        if !self.read_only {
            f.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        f.push("AGGREGATED_EVENTS");
        if self.dev {
            f.push("ALL_EVENTS");
        }
        f.into_iter().map(Value::from).collect()
    }

    fn admin_connected(self: &Arc<Self>, socket: &Socket) {
        for (name, cmd) in [
            ("emit", Command::Emit),
            ("join", Command::Join),
            ("leave", Command::Leave),
            ("_disconnect", Command::Disconnect),
        ] {
            let a = Arc::downgrade(self);
            socket.on(name, move |ev: Event| {
                if let Some(a) = a.upgrade() {
                    a.command(cmd, ev);
                }
            });
        }
        let mut config = Map::new();
        config.insert("supportedFeatures".into(), Value::Array(self.features()));
        let _ = socket.emit("config", Value::Object(config));
        if self.dev {
            let (a, socket) = (self.clone(), socket.clone());
            crate::runtime::spawn(async move {
                let sockets = a.all_sockets().await;
                let _ = socket.emit("all_sockets", Value::Array(sockets));
            });
        }
    }

    /// Every socket of every namespace, on every node (fetch_sockets).
    async fn all_sockets(&self) -> Vec<Value> {
        let Some(state) = self.state.upgrade() else {
            return Vec::new();
        };
        let mut namespaces = state.namespace_list();
        namespaces.sort_by(|a, b| a.name().cmp(b.name()));
        drop(state);
        let fetches = namespaces.iter().map(|ns| ns.fetch_sockets());
        futures_util::future::join_all(fetches)
            .await
            .into_iter()
            .flatten()
            .map(|rs| serialize(&rs))
            .collect()
    }

    fn command(&self, cmd: Command, ev: Event) {
        let verdict = if self.read_only {
            Err("read-only".to_owned())
        } else {
            self.run_command(cmd, &ev.args)
        };
        if let Err(e) = verdict {
            tracing::debug!(command = %ev.name, error = %e, "admin UI command refused");
            if let Some(ack) = ev.ack {
                let mut m = Map::new();
                m.insert("error".into(), Value::from(e));
                let _ = ack.send(Value::Object(m));
            }
        } else if let Some(ack) = ev.ack {
            let _ = ack.send(());
        }
    }

    fn run_command(&self, cmd: Command, args: &[Value]) -> Result<(), String> {
        let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
        let nsp = arg(0)
            .as_str()
            .ok_or("the namespace (argument 1) must be a string")?;
        let ns = self
            .state
            .upgrade()
            .and_then(|s| s.existing(nsp))
            .ok_or_else(|| format!("no namespace {nsp:?}"))?;
        // `filter`: a room (or a socket id), or none for the whole namespace.
        let filter_at = match cmd {
            Command::Emit => 1,
            _ => 2,
        };
        let op = match arg(filter_at) {
            Value::Null => ns.op(),
            Value::String(s) if s.is_empty() => ns.op(),
            Value::String(room) => ns.to(room.as_str()),
            _ => {
                return Err(format!(
                    "the filter (argument {}) must be a room name or null",
                    filter_at + 1
                ));
            }
        };
        match cmd {
            Command::Emit => {
                let event = arg(2)
                    .as_str()
                    .ok_or("the event name (argument 3) must be a string")?;
                let rest: Vec<Value> = args.iter().skip(3).cloned().collect();
                op.emit(event, rest).map_err(|e| e.to_string())
            }
            Command::Join | Command::Leave => {
                let room = arg(1)
                    .as_str()
                    .filter(|r| !r.is_empty())
                    .ok_or("the room (argument 2) must be a non-empty string")?;
                if cmd == Command::Join {
                    op.sockets_join(room);
                } else {
                    op.sockets_leave(room);
                }
                Ok(())
            }
            Command::Disconnect => {
                let close = arg(1)
                    .as_bool()
                    .ok_or("`close` (argument 2) must be a boolean")?;
                op.disconnect_sockets(close);
                Ok(())
            }
        }
    }

    // ---- stats --------------------------------------------------------------

    /// Moves the hot-path counts of the last second into the buffer.
    fn sample(&self) {
        let now: [u64; 4] = std::array::from_fn(|i| self.counters[i].get());
        let (delta, since) = {
            let Ok(mut s) = self.sampled.lock() else {
                return;
            };
            let delta: [u64; 4] = std::array::from_fn(|i| now[i].wrapping_sub(s.0[i]));
            let since = s.1;
            *s = (now, SystemTime::now());
            (delta, since)
        };
        let at = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        if let Ok(mut b) = self.buffer.lock() {
            for (i, ty) in COUNTED.iter().enumerate() {
                b.push(at, ty, None, delta[i]);
            }
        }
    }

    /// Sends `server_stats`; false once the server is gone.
    fn emit_stats(&self) -> bool {
        let (Some(state), Some(engine)) = (self.state.upgrade(), self.engine.upgrade()) else {
            return false;
        };
        let (polling, websocket) = engine.transport_counts();
        drop(engine);
        let mut namespaces: Vec<(String, usize)> = state
            .namespace_list()
            .iter()
            .map(|ns| (ns.name().to_owned(), ns.0.socket_count()))
            .collect();
        drop(state);
        namespaces.sort();
        let events = self.buffer.lock().map(|mut b| b.take()).unwrap_or_default();
        let mut m = Map::new();
        m.insert("serverId".into(), Value::from(self.server_id.as_str()));
        m.insert("hostname".into(), Value::from(self.hostname.as_str()));
        m.insert("pid".into(), Value::from(std::process::id()));
        m.insert(
            "uptime".into(),
            Value::from(self.started.elapsed().as_secs_f64()),
        );
        m.insert("clientsCount".into(), Value::from(polling + websocket));
        m.insert("pollingClientsCount".into(), Value::from(polling));
        m.insert("aggregatedEvents".into(), Value::Array(events));
        m.insert(
            "namespaces".into(),
            Value::Array(
                namespaces
                    .into_iter()
                    .map(|(name, n)| {
                        let mut d = Map::new();
                        d.insert("name".into(), Value::from(name));
                        d.insert("socketsCount".into(), Value::from(n));
                        Value::Object(d)
                    })
                    .collect(),
            ),
        );
        self.emit("server_stats", vec![Value::Object(m)]);
        true
    }

    // ---- hooks of the Socket.IO layer -----------------------------------------

    pub(crate) fn raw_connection(&self) {
        if let Ok(mut b) = self.buffer.lock() {
            b.push(now_ms(), "rawConnection", None, 1);
        }
    }

    pub(crate) fn raw_disconnection(&self, reason: CloseReason) {
        if let Ok(mut b) = self.buffer.lock() {
            b.push(now_ms(), "rawDisconnection", Some(reason.as_str()), 1);
        }
    }

    #[inline]
    pub(crate) fn packet_in(&self, msg: &Incoming<'_>) {
        self.counters[PACKETS_IN].inc();
        let n = match msg {
            Incoming::Text(t) => t.len(),
            Incoming::Binary(b) => b.len(),
            Incoming::BinaryRef(b) => b.len(),
        };
        self.counters[BYTES_IN].add(n as u64);
    }

    /// A message queued for a client: its packet and each attachment are
    /// Engine.IO packets; bytes without the `4` type character (Node's
    /// `packetCreate` data).
    #[inline]
    pub(crate) fn packet_out(&self, msg: &Message) {
        let att = msg.attachments.as_deref().unwrap_or_default();
        let bytes = msg.text.len().saturating_sub(1) + att.iter().map(|b| b.len()).sum::<usize>();
        // A msgpack packet is one binary message with no text packet.
        let text_packets = u64::from(!msg.text.is_empty());
        self.counters[PACKETS_OUT].add(text_packets + att.len() as u64);
        self.counters[BYTES_OUT].add(bytes as u64);
    }

    pub(crate) fn socket_connected(&self, ns: &Arc<NsInner>, socket: &Socket) {
        if Arc::ptr_eq(&ns.name, &self.ns_name)
            && let Some(NewSession(id)) = socket.remove::<NewSession>()
        {
            let _ = socket.emit("session", id);
        }
        if !self.dev {
            return;
        }
        let (cid, transport) = (client_id(socket), socket.transport_name());
        socket.update_data_quietly(|d| {
            if let Value::Object(m) = d {
                let mut a = Map::new();
                a.insert("clientId".into(), Value::from(cid));
                a.insert("transport".into(), Value::from(transport));
                m.insert("_admin".into(), Value::Object(a));
            }
        });
        let (nsp, id) = (Value::from(&*ns.name), Value::from(socket.id().as_str()));
        self.emit(
            "room_joined",
            vec![nsp.clone(), id.clone(), id.clone(), now_value()],
        );
        self.emit(
            "socket_connected",
            vec![serialize(&RemoteSocket::from_local(socket)), now_value()],
        );
        if Arc::ptr_eq(&ns.name, &self.ns_name) {
            return;
        }
        let a = self.ns.clone();
        let (n, i) = (nsp.clone(), id.clone());
        socket.on_any(move |ev: &Event| {
            let Some(admin) = a.upgrade() else { return };
            let mut args = Vec::with_capacity(ev.args.len() + 1);
            args.push(Value::from(ev.name.as_str()));
            args.extend(ev.args.iter().cloned());
            let _ = Namespace(admin).emit(
                "event_received",
                vec![n.clone(), i.clone(), Value::Array(args), now_value()],
            );
        });
        let a = self.ns.clone();
        socket.on_any_outgoing(move |event: &str, sent: &crate::Args| {
            let Some(admin) = a.upgrade() else { return };
            let mut args = Vec::with_capacity(sent.len() + 1);
            args.push(Value::from(event));
            args.extend(sent.iter().cloned());
            let _ = Namespace(admin).emit(
                "event_sent",
                vec![nsp.clone(), id.clone(), Value::Array(args), now_value()],
            );
        });
    }

    pub(crate) fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        let nsp: Arc<str> = Arc::from(socket.ns());
        let left = self
            .leaving
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&(nsp.clone(), socket.id())))
            .unwrap_or_default();
        if !self.dev {
            return;
        }
        let (n, id) = (Value::from(&*nsp), Value::from(socket.id().as_str()));
        self.emit(
            "socket_disconnected",
            vec![
                n.clone(),
                id.clone(),
                Value::from(reason.as_str()),
                now_value(),
            ],
        );
        let own = Room::from(socket.id().as_str());
        for room in std::iter::once(own).chain(left) {
            self.emit(
                "room_left",
                vec![n.clone(), Value::from(&*room), id.clone(), now_value()],
            );
        }
    }

    pub(crate) fn data_updated(&self, socket: &Socket) {
        if !self.dev || !socket.connected() {
            return;
        }
        let mut m = Map::new();
        m.insert("id".into(), Value::from(socket.id().as_str()));
        m.insert("nsp".into(), Value::from(socket.ns()));
        m.insert("data".into(), without_admin(&socket.data()));
        self.emit("socket_updated", vec![Value::Object(m)]);
    }

    pub(crate) fn upgraded(&self, sockets: &[Socket]) {
        if !self.dev {
            return;
        }
        for socket in sockets.iter().filter(|s| s.connected()) {
            socket.update_data_quietly(|d| {
                if let Some(Value::Object(a)) = d.as_object_mut().and_then(|m| m.get_mut("_admin"))
                {
                    a.insert("transport".into(), Value::from("websocket"));
                }
            });
            let mut m = Map::new();
            m.insert("id".into(), Value::from(socket.id().as_str()));
            m.insert("nsp".into(), Value::from(socket.ns()));
            m.insert("transport".into(), Value::from("websocket"));
            self.emit("socket_updated", vec![Value::Object(m)]);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Emit,
    Join,
    Leave,
    Disconnect,
}

/// Room changes of one namespace, told by its adapter (Node's `join-room`
/// and `leave-room` adapter events), when the admin UI is in development mode.
pub(crate) struct RoomWatch {
    ns: Arc<NsInner>,
    admin: Arc<Admin>,
}

impl RoomWatch {
    pub(crate) fn of(ns: Arc<NsInner>) -> Option<RoomWatch> {
        let admin = ns.common.admin.get().filter(|a| a.dev)?.clone();
        Some(RoomWatch { ns, admin })
    }

    pub(crate) fn joined(&self, sid: Sid, rooms: &[Room]) {
        if rooms.is_empty() {
            return;
        }
        let (nsp, id) = (Value::from(&*self.ns.name), Value::from(sid.as_str()));
        let events: Vec<Vec<Value>> = rooms
            .iter()
            .map(|room| vec![nsp.clone(), Value::from(&**room), id.clone(), now_value()])
            .collect();
        if Arc::ptr_eq(&self.ns.name, &self.admin.ns_name) {
            // Rooms of the admin namespace itself: told from a task, since
            // this namespace may be locked here (a recovered session being
            // attached holds its replay log while it joins its rooms).
            let admin = self.admin.clone();
            crate::runtime::spawn(async move {
                for e in events {
                    admin.emit("room_joined", e);
                }
            });
            return;
        }
        for e in events {
            self.admin.emit("room_joined", e);
        }
    }

    pub(crate) fn left(&self, sid: Sid, rooms: &[Room]) {
        if rooms.is_empty() {
            return;
        }
        // A disconnecting socket: told after `socket_disconnected`.
        let closing = Namespace(self.ns.clone())
            .get_socket(sid)
            .is_some_and(|s| !s.connected());
        if closing {
            if let Ok(mut m) = self.admin.leaving.lock() {
                m.entry((self.ns.name.clone(), sid))
                    .or_default()
                    .extend(rooms.iter().cloned());
            }
            return;
        }
        let (nsp, id) = (Value::from(&*self.ns.name), Value::from(sid.as_str()));
        for room in rooms {
            self.admin.emit(
                "room_left",
                vec![nsp.clone(), Value::from(&**room), id.clone(), now_value()],
            );
        }
    }
}

/// `socket.data` without the admin UI's own `_admin` entry.
fn without_admin(data: &Value) -> Value {
    match data {
        Value::Object(m) if m.contains_key("_admin") => {
            let mut m = m.clone();
            m.shift_remove("_admin");
            Value::Object(m)
        }
        other => other.clone(),
    }
}

/// A socket as the UI reads it (Node's `serialize`): `{id, clientId,
/// transport, nsp, data, handshake, rooms}`.
fn serialize(rs: &RemoteSocket) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(rs.id.as_str()));
    let tag = &rs.data["_admin"];
    let (cid, transport) = match &rs.local {
        Some(s) => (Value::from(client_id(s)), Value::from(s.transport_name())),
        None => (tag["clientId"].clone(), tag["transport"].clone()),
    };
    // Node leaves out what it does not know (`undefined`).
    if !cid.is_null() {
        m.insert("clientId".into(), cid);
    }
    if !transport.is_null() {
        m.insert("transport".into(), transport);
    }
    m.insert("nsp".into(), Value::from(rs.nsp.as_str()));
    m.insert("data".into(), without_admin(&rs.data));
    let h = &rs.handshake;
    let headers = &h["headers"];
    let address = [
        &headers["cf-connecting-ip"],
        &headers["x-forwarded-for"],
        &h["address"],
    ]
    .into_iter()
    .find(|v| !v.is_null())
    .cloned()
    .unwrap_or(Value::Null);
    let mut hs = Map::new();
    hs.insert("address".into(), address);
    for key in [
        "headers", "query", "issued", "secure", "time", "url", "xdomain",
    ] {
        hs.insert(key.into(), h[key].clone());
    }
    m.insert("handshake".into(), Value::Object(hs));
    m.insert(
        "rooms".into(),
        Value::Array(rs.rooms.iter().map(|r| Value::from(&**r)).collect()),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_node_spells_them() {
        assert_eq!(
            "production".parse::<AdminMode>().unwrap(),
            AdminMode::Production
        );
        assert_eq!(
            "development".parse::<AdminMode>().unwrap(),
            AdminMode::Development
        );
        assert!(matches!(
            "prod".parse::<AdminMode>(),
            Err(InstrumentError::InvalidMode(_))
        ));
    }

    #[test]
    fn event_buffer_groups_by_second_type_and_subtype() {
        let mut b = EventBuffer::default();
        b.push(1_000_100, "rawConnection", None, 1);
        b.push(1_000_900, "rawConnection", None, 2);
        b.push(1_001_000, "rawConnection", None, 1);
        b.push(1_000_500, "rawDisconnection", Some("ping timeout"), 1);
        b.push(1_000_500, "bytesIn", None, 0);
        let out = b.take();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["timestamp"], Value::from(1_000_000u64));
        assert_eq!(out[0]["count"], Value::from(3u64));
        assert!(out[0].as_object().unwrap().get("subType").is_none());
        assert_eq!(out[2]["subType"], Value::from("ping timeout"));
        assert!(b.take().is_empty());
    }

    #[test]
    fn admin_entry_is_stripped_from_data() {
        let v: Value = serde_json::json!({"_admin": {"clientId": "x"}, "score": 3}).into();
        assert_eq!(
            without_admin(&v),
            Value::from(serde_json::json!({"score": 3}))
        );
        assert_eq!(without_admin(&Value::from(5)), Value::from(5));
    }
}
