//! `oxsio._native.Server`: the core server, with every socket event sent
//! to a [`Queue`] that the Python facade drains on its own thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use oxsio::codec::socketio::RESERVED_EVENTS;
use oxsio::{
    AckError, AllowOrigin, AllowedOrigins, Args, BroadcastError, ConnectError, Cors,
    DisconnectReason, EmitError, Event, Namespace, ServerHandle, Sid, Socket, Transport,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use tokio::sync::oneshot;

use crate::blocking::{self, SLICE};
use crate::convert::{args_to_py, to_args, to_py};
use crate::errors::{self, Kind};
use crate::host::HostEntry;
use crate::queue::Queue;
use crate::reply::{Ack, ConnectReply, Verdict};

/// What Rust tasks tell the Python side.
pub enum Msg {
    Connect {
        socket: Socket,
        verdict: Verdict,
    },
    Event(Event),
    Disconnect {
        ns: String,
        sid: Sid,
        reason: DisconnectReason,
        /// The session is kept for connection state recovery.
        kept: bool,
    },
    Ack {
        id: u64,
        result: Result<Args, AckError>,
    },
    Mark(u64),
}

/// Event kinds as the facade sees them (first item of each tuple).
const CONNECT: u8 = 0;
const EVENT: u8 = 1;
const DISCONNECT: u8 = 2;
const ACK: u8 = 3;
const MARK: u8 = 6;

/// Emits made while the socket's connect handler runs, sent once it is in.
#[derive(Clone, Default)]
struct Early(Arc<Mutex<EarlyInner>>);

/// `RedisStreamsManager`'s options: stream name, stream count, max length,
/// read count, block time (s), session key prefix, only plaintext, sharded
/// Pub/Sub.
type StreamsOptions = (String, usize, usize, usize, f64, String, bool, bool);

#[derive(Default)]
struct EarlyInner {
    emits: Vec<(String, Args)>,
    flushed: bool,
}

struct Shared {
    queue: Arc<Queue<Msg>>,
    /// Connection state recovery is on.
    recovery: bool,
    /// Events waiting for Python beyond which a sending client is
    /// disconnected (the queue never grows without bound).
    max_pending: usize,
    always_connect: bool,
    connect_timeout: Duration,
    /// Sockets whose connect handler is running, by (namespace, sid).
    pending: Mutex<HashMap<(String, Sid), Socket>>,
    pending_count: AtomicUsize,
}

impl Shared {
    fn pending(&self, ns: &str, sid: Sid) -> Option<Socket> {
        if self.pending_count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(ns.to_owned(), sid)).cloned()
    }

    fn set_pending(&self, key: (String, Sid), socket: Option<Socket>) {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match socket {
            Some(s) => {
                map.insert(key, s);
            }
            None => {
                map.remove(&key);
            }
        }
        self.pending_count.store(map.len(), Ordering::Release);
    }

    /// Routes a namespace's events to the queue (and its connect requests
    /// to the Python `connect` handler).
    fn install(self: &Arc<Self>, ns: &Namespace) {
        if !self.always_connect {
            let sh = self.clone();
            ns.use_middleware_async(move |socket: Socket| {
                let sh = sh.clone();
                async move {
                    let key = (socket.ns().to_owned(), socket.id());
                    socket.insert(Early::default());
                    sh.set_pending(key.clone(), Some(socket.clone()));
                    let (tx, rx) = oneshot::channel();
                    sh.queue.push(Msg::Connect {
                        socket: socket.clone(),
                        verdict: Verdict::Middleware(tx),
                    });
                    let verdict = match tokio::time::timeout(sh.connect_timeout, rx).await {
                        Ok(Ok(v)) => v,
                        Ok(Err(_)) => Err(ConnectError::new("server closed")),
                        Err(_) => Err(ConnectError::new("connect handler timed out")),
                    };
                    sh.set_pending(key, None);
                    if verdict.is_err() {
                        for room in socket.rooms() {
                            socket.leave(&room);
                        }
                    }
                    verdict
                }
            });
        }
        let sh = self.clone();
        ns.on_connection(move |socket: Socket| {
            let tx = sh.queue.tx();
            let max = sh.max_pending;
            // By value: the event moves to the Python thread without a copy.
            socket.on_unhandled(move |ev: Event| {
                if tx.len() >= max {
                    tracing::warn!(
                        sid = %ev.socket.id(),
                        "{max} events wait for the Python handlers: disconnecting the sender"
                    );
                    ev.socket.disconnect();
                    return;
                }
                tx.push(Msg::Event(ev));
            });
            let tx = sh.queue.tx();
            let recovery = sh.recovery;
            socket.on_disconnect(move |s: &Socket, reason| {
                tx.push(Msg::Disconnect {
                    ns: s.ns().to_owned(),
                    sid: s.id(),
                    reason,
                    kept: recovery && reason.is_recoverable(),
                });
            });
            // A recovered socket that skipped the middlewares still tells
            // Python it is back (as with `always_connect`: the handler runs
            // once connected, and refusing disconnects it).
            let skipped = socket.recovered() && socket.get::<Early>().is_none();
            if sh.always_connect || skipped {
                sh.queue.push(Msg::Connect {
                    socket: socket.clone(),
                    verdict: Verdict::Connected(socket.clone()),
                });
            } else if let Some(early) = socket.get::<Early>() {
                let emits = {
                    let mut e = early.0.lock().unwrap_or_else(|e| e.into_inner());
                    e.flushed = true;
                    std::mem::take(&mut e.emits)
                };
                for (event, args) in emits {
                    let _ = socket.emit(&event, args);
                }
                socket.remove::<Early>();
            }
        });
    }
}

/// The python-socketio reason string of a server-side disconnect (matched
/// on the official strings, so reasons the core adds map to a sane default).
/// Asks the user's `cors_allowed_origins` callable about `origin`, with a
/// WSGI-style environ of the request as python-engineio passes it when the
/// callable takes two arguments. An exception refuses.
fn origin_allowed(py: Python<'_>, f: &Py<PyAny>, origin: &str, info: &oxsio::RequestInfo) -> bool {
    let environ = PyDict::new(py);
    let fill = || -> PyResult<()> {
        for (k, v) in &info.headers {
            let key = format!("HTTP_{}", k.as_str().to_ascii_uppercase().replace('-', "_"));
            environ.set_item(key, String::from_utf8_lossy(v.as_bytes()))?;
        }
        environ.set_item("PATH_INFO", info.uri.path())?;
        environ.set_item("QUERY_STRING", &info.query)?;
        environ.set_item(
            "wsgi.url_scheme",
            if info.secure { "https" } else { "http" },
        )?;
        if let Some(a) = info.remote_addr {
            environ.set_item("REMOTE_ADDR", a.ip().to_string())?;
        }
        Ok(())
    };
    let out = fill().and_then(|()| {
        let takes_two = py
            .import("inspect")
            .and_then(|m| m.getattr("signature"))
            .and_then(|sig| sig.call1((f.bind(py),)))
            .and_then(|s| s.getattr("parameters"))
            .and_then(|p| p.len())
            .map(|n| n >= 2)
            .unwrap_or(false);
        let r = if takes_two {
            f.call1(py, (origin, environ))
        } else {
            f.call1(py, (origin,))
        }?;
        r.bind(py).is_truthy()
    });
    match out {
        Ok(ok) => ok,
        Err(e) => {
            e.write_unraisable(py, Some(f.bind(py)));
            false
        }
    }
}

fn reason_str(r: DisconnectReason) -> &'static str {
    match r.as_str() {
        "client namespace disconnect" => "client disconnect",
        "ping timeout" => "ping timeout",
        "transport close" => "transport close",
        "transport error" | "parse error" => "transport error",
        _ => "server disconnect",
    }
}

fn parse_transports(list: Option<Vec<String>>) -> PyResult<Option<Vec<Transport>>> {
    let Some(list) = list else { return Ok(None) };
    let mut out = Vec::new();
    for t in list {
        out.push(match t.as_str() {
            "polling" => Transport::Polling,
            "websocket" => Transport::Websocket,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown transport {other:?} (use 'polling' or 'websocket')"
                )));
            }
        });
    }
    if out.is_empty() {
        return Err(PyValueError::new_err("at least one transport is needed"));
    }
    Ok(Some(out))
}

fn check_event(event: &str) -> PyResult<()> {
    if RESERVED_EVENTS.contains(&event) {
        Err(PyValueError::new_err(format!(
            "event name {event:?} is reserved"
        )))
    } else {
        Ok(())
    }
}

/// A WSGI-style environ of the request that opened the connection.
fn environ<'py>(py: Python<'py>, socket: &Socket) -> PyResult<Bound<'py, PyDict>> {
    let hs = socket.handshake();
    let d = PyDict::new(py);
    let path = hs
        .url
        .parse::<http::Uri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    d.set_item("REQUEST_METHOD", "GET")?;
    d.set_item("PATH_INFO", path)?;
    d.set_item("QUERY_STRING", &hs.query)?;
    d.set_item("SERVER_PROTOCOL", "HTTP/1.1")?;
    d.set_item("wsgi.url_scheme", "http")?;
    if let Some(addr) = hs.remote_addr {
        d.set_item("REMOTE_ADDR", addr.ip().to_string())?;
        d.set_item("REMOTE_PORT", addr.port().to_string())?;
    }
    for (name, value) in &hs.headers {
        let upper = name.as_str().to_ascii_uppercase().replace('-', "_");
        let key = match upper.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
            _ => format!("HTTP_{upper}"),
        };
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let joined = match d.get_item(&key)? {
            Some(prev) => format!("{},{value}", prev.extract::<String>()?),
            None => value,
        };
        d.set_item(key, joined)?;
    }
    Ok(d)
}

fn msg_to_py<'py>(py: Python<'py>, msg: Msg) -> PyResult<Bound<'py, PyTuple>> {
    match msg {
        Msg::Event(ev) => {
            let ack = match ev.ack {
                Some(a) => Bound::new(py, Ack::server(a))?.into_any(),
                None => py.None().into_bound(py),
            };
            PyTuple::new(
                py,
                [
                    EVENT.into_pyobject(py)?.into_any(),
                    ev.socket.ns().into_pyobject(py)?.into_any(),
                    ev.socket.id().as_str().into_pyobject(py)?.into_any(),
                    ev.name.into_pyobject(py)?.into_any(),
                    args_to_py(py, &ev.args)?.into_any(),
                    ack,
                ],
            )
        }
        Msg::Connect { socket, verdict } => {
            let auth = &socket.handshake().auth;
            let auth = match auth.as_object() {
                Some(o) if o.is_empty() => py.None().into_bound(py),
                _ => to_py(py, auth)?,
            };
            PyTuple::new(
                py,
                [
                    CONNECT.into_pyobject(py)?.into_any(),
                    socket.ns().into_pyobject(py)?.into_any(),
                    socket.id().as_str().into_pyobject(py)?.into_any(),
                    environ(py, &socket)?.into_any(),
                    auth,
                    Bound::new(py, ConnectReply::new(verdict))?.into_any(),
                    PyBool::new(py, socket.recovered()).to_owned().into_any(),
                ],
            )
        }
        Msg::Disconnect {
            ns,
            sid,
            reason,
            kept,
        } => PyTuple::new(
            py,
            [
                DISCONNECT.into_pyobject(py)?.into_any(),
                ns.into_pyobject(py)?.into_any(),
                sid.as_str().into_pyobject(py)?.into_any(),
                reason_str(reason).into_pyobject(py)?.into_any(),
                PyBool::new(py, kept).to_owned().into_any(),
            ],
        ),
        Msg::Mark(id) => PyTuple::new(
            py,
            [
                MARK.into_pyobject(py)?.into_any(),
                id.into_pyobject(py)?.into_any(),
            ],
        ),
        Msg::Ack { id, result } => {
            let (args, err) = match result {
                Ok(args) => (args_to_py(py, &args)?.into_any(), py.None().into_bound(py)),
                Err(e) => (
                    py.None().into_bound(py),
                    errors::ack_error(e)
                        .into_value(py)
                        .into_bound(py)
                        .into_any(),
                ),
            };
            PyTuple::new(
                py,
                [
                    ACK.into_pyobject(py)?.into_any(),
                    id.into_pyobject(py)?.into_any(),
                    args,
                    err,
                ],
            )
        }
    }
}

/// The native server. Used through `oxsio.Server` / `oxsio.AsyncServer`.
#[pyclass(module = "oxsio._native", frozen)]
pub struct Server {
    io: oxsio::Server,
    shared: Arc<Shared>,
    namespaces: RwLock<HashMap<String, Namespace>>,
    any_namespace: Mutex<Option<Namespace>>,
    /// The core always has "/"; it admits clients only once served here.
    root_served: Arc<std::sync::atomic::AtomicBool>,
    handle: Mutex<Option<ServerHandle>>,
    stopped: Arc<(Mutex<bool>, Condvar)>,
    /// Results and messages for an asyncio host (see `host`).
    hub: std::sync::OnceLock<Arc<crate::host::Hub>>,
}

impl Server {
    pub(crate) fn hub(&self) -> PyResult<Arc<crate::host::Hub>> {
        if let Some(h) = self.hub.get() {
            return Ok(h.clone());
        }
        let h = crate::host::Hub::new()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot create the host hub: {e}")))?;
        Ok(self.hub.get_or_init(|| h).clone())
    }

    fn namespace(&self, name: &str) -> Option<Namespace> {
        let map = self.namespaces.read().unwrap_or_else(|e| e.into_inner());
        if let Some(ns) = map.get(name) {
            return Some(ns.clone());
        }
        drop(map);
        // Namespaces created by a dynamic ('*') namespace.
        let any = self
            .any_namespace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        any.then(|| self.io.of(name))
    }

    /// The sockets of `ns` in `to` (all when None) and in none of `skip`.
    fn select(
        &self,
        ns: &str,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> Option<oxsio::BroadcastOperator> {
        let n = self.namespace(ns)?;
        let mut op = match to {
            Some(rooms) if rooms.is_empty() => return None,
            Some(rooms) => n.to(rooms),
            None => n.except(Vec::<String>::new()),
        };
        if let Some(skip) = skip {
            op = op.except(skip);
        }
        Some(op)
    }

    /// A connected socket, or one whose connect handler is running.
    fn socket(&self, ns: &str, sid: &str) -> Option<Socket> {
        let sid = Sid::parse(sid)?;
        self.namespace(ns)
            .and_then(|n| n.get_socket(sid))
            .or_else(|| self.shared.pending(ns, sid))
    }
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        *,
        path = "/socket.io/",
        ping_interval = 25.0,
        ping_timeout = 20.0,
        max_http_buffer_size = 1_000_000,
        transports = None,
        cors_allowed_origins = None,
        cors_credentials = false,
        always_connect = false,
        connect_timeout = 45.0,
        max_queue = 256,
        cookie = None,
        max_pending_events = 100_000,
        redis_url = None,
        redis_prefix = None,
        sharded_nodes = None,
        subscription_mode = None,
        requests_timeout = None,
        postgres_url = None,
        postgres_options = None,
        streams_url = None,
        streams_nodes = None,
        streams_options = None,
        recovery = None,
        metrics_path = None,
        origin_policy = "none",
        origin_check = None,
        max_attachments = 10,
        max_json_depth = 128,
        allow_upgrades = true,
        http_compression = false,
        compression_threshold = 1024,
        per_message_deflate = None,
        allow_eio3 = false,
        serializer = "default",
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: &str,
        ping_interval: f64,
        ping_timeout: f64,
        max_http_buffer_size: usize,
        transports: Option<Vec<String>>,
        cors_allowed_origins: Option<Vec<String>>,
        cors_credentials: bool,
        always_connect: bool,
        connect_timeout: f64,
        max_queue: usize,
        cookie: Option<String>,
        max_pending_events: usize,
        redis_url: Option<String>,
        redis_prefix: Option<String>,
        sharded_nodes: Option<Vec<String>>,
        subscription_mode: Option<String>,
        requests_timeout: Option<f64>,
        postgres_url: Option<String>,
        postgres_options: Option<(String, usize, f64)>,
        streams_url: Option<String>,
        streams_nodes: Option<Vec<String>>,
        streams_options: Option<StreamsOptions>,
        recovery: Option<(f64, bool, usize, usize, usize)>,
        metrics_path: Option<String>,
        origin_policy: &str,
        origin_check: Option<Py<PyAny>>,
        max_attachments: usize,
        max_json_depth: usize,
        allow_upgrades: bool,
        http_compression: bool,
        compression_threshold: usize,
        per_message_deflate: Option<usize>,
        allow_eio3: bool,
        serializer: &str,
    ) -> PyResult<Self> {
        let secs = |v: f64, what: &str| {
            blocking::duration(Some(v))?
                .filter(|d| !d.is_zero())
                .ok_or_else(|| PyValueError::new_err(format!("{what} must be positive")))
        };
        let mut b = oxsio::Server::builder()
            .path(path)
            .ping_interval(secs(ping_interval, "ping_interval")?)
            .ping_timeout(secs(ping_timeout, "ping_timeout")?)
            .max_payload(max_http_buffer_size)
            .connect_timeout(secs(connect_timeout, "connect_timeout")?)
            .max_buffer_size(max_queue.max(1))
            .max_attachments(max_attachments)
            .max_json_depth(max_json_depth)
            .parser(crate::client::parser(serializer)?)
            .allow_upgrades(allow_upgrades)
            .http_compression(http_compression.then_some(compression_threshold))
            .per_message_deflate(per_message_deflate)
            .allow_eio3(allow_eio3);
        if let Some(t) = parse_transports(transports)? {
            b = b.transports(t);
        }
        if let Some(origins) = cors_allowed_origins.clone() {
            let any = origins.iter().any(|o| o == "*");
            b = b.cors(Cors {
                origins: if any {
                    AllowOrigin::Any
                } else {
                    AllowOrigin::List(origins)
                },
                credentials: cors_credentials,
            });
        }
        // python-socketio refuses other origins itself (HTTP 400), where
        // Node only sends CORS headers.
        b = match (origin_policy, origin_check) {
            ("none", None) => b,
            ("same", None) => b.allowed_origins(AllowedOrigins::SameOrigin),
            ("list", None) => b.allowed_origins(AllowedOrigins::List(
                cors_allowed_origins.clone().unwrap_or_default(),
            )),
            ("callable", Some(f)) => b.allowed_origins(AllowedOrigins::Predicate(Arc::new(
                move |origin: &str, info: &oxsio::RequestInfo| {
                    Python::attach(|py| origin_allowed(py, &f, origin, info))
                },
            ))),
            (p, _) => {
                return Err(PyValueError::new_err(format!("bad origin policy {p:?}")));
            }
        };
        if let Some(c) = cookie {
            b = b.cookie(c);
        }
        let requests_timeout = match requests_timeout {
            Some(t) => Some(secs(t, "requests_timeout")?),
            None => None,
        };
        if streams_url.is_some() && streams_nodes.is_some() {
            return Err(PyValueError::new_err(
                "streams_url (one Redis) or streams_nodes (a Redis Cluster), not both",
            ));
        }
        let streams_config = match (streams_url, streams_nodes) {
            (Some(url), None) => Some(oxsio::adapter::redis::StreamsConfig::new(url)),
            (None, Some(nodes)) => Some(oxsio::adapter::redis::StreamsConfig::cluster(nodes)),
            _ => None,
        };
        if streams_options.is_some() && streams_config.is_none() {
            return Err(PyValueError::new_err("streams_options without streams_url"));
        }
        if streams_config.is_some()
            && (redis_url.is_some()
                || sharded_nodes.is_some()
                || subscription_mode.is_some()
                || postgres_url.is_some())
        {
            return Err(PyValueError::new_err(
                "streams_url goes with no other adapter option",
            ));
        }
        let streams = streams_config.is_some();
        if let Some(mut cfg) = streams_config {
            // Joins a cluster with Node.js nodes using @socket.io/redis-streams-adapter.
            if let Some(prefix) = redis_prefix.clone() {
                cfg = cfg.channel_prefix(prefix);
            }
            if let Some(t) = requests_timeout {
                cfg = cfg.requests_timeout(t);
            }
            if let Some((name, count, max_len, read_count, block, key_prefix, plaintext, sharded)) =
                streams_options
            {
                cfg = cfg
                    .stream_name(name)
                    .stream_count(count)
                    .max_len(max_len)
                    .read_count(read_count)
                    .block_time(secs(block, "block_time")?)
                    .session_key_prefix(key_prefix)
                    .only_plaintext(plaintext)
                    .use_sharded_pub_sub(sharded);
            }
            let factory = oxsio::adapter::redis::RedisStreamsAdapter::factory(cfg)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            b = b.adapter(factory);
        } else if postgres_url.is_some()
            && (redis_url.is_some() || sharded_nodes.is_some() || subscription_mode.is_some())
        {
            return Err(PyValueError::new_err(
                "postgres_url goes with no Redis option",
            ));
        }
        if postgres_options.is_some() && postgres_url.is_none() {
            return Err(PyValueError::new_err(
                "postgres_options without postgres_url",
            ));
        }
        if let Some(url) = postgres_url {
            // Joins a cluster with Node.js nodes using @socket.io/postgres-adapter.
            let mut cfg = oxsio::adapter::postgres::PostgresConfig::new(url);
            if let Some(prefix) = redis_prefix.clone() {
                cfg = cfg.channel_prefix(prefix);
            }
            if let Some(t) = requests_timeout {
                cfg = cfg.requests_timeout(t);
            }
            if let Some((table, threshold, cleanup)) = postgres_options {
                cfg = cfg
                    .table_name(table)
                    .payload_threshold(threshold)
                    .cleanup_interval(secs(cleanup, "cleanup_interval")?);
            }
            let factory = oxsio::adapter::postgres::PostgresAdapter::factory(cfg)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            b = b.adapter(factory);
        } else {
            match (redis_url, sharded_nodes) {
                (Some(_), Some(_)) => {
                    return Err(PyValueError::new_err(
                        "give either redis_url or sharded_nodes, not both",
                    ));
                }
                (Some(url), None) => {
                    if subscription_mode.is_some() {
                        return Err(PyValueError::new_err(
                            "subscription_mode belongs to the sharded adapter (sharded_nodes)",
                        ));
                    }
                    // Joins a cluster with Node.js nodes using @socket.io/redis-adapter.
                    let mut cfg = oxsio::adapter::redis::RedisConfig::new(url);
                    if let Some(prefix) = redis_prefix {
                        cfg = cfg.prefix(prefix);
                    }
                    if let Some(t) = requests_timeout {
                        cfg = cfg.requests_timeout(t);
                    }
                    let factory = oxsio::adapter::redis::RedisAdapter::factory(cfg)
                        .map_err(|e| PyValueError::new_err(e.to_string()))?;
                    b = b.adapter(factory);
                }
                (None, Some(nodes)) => {
                    // Joins a cluster with Node.js nodes using createShardedAdapter.
                    let mut cfg = oxsio::adapter::redis::ShardedConfig::new(nodes);
                    if let Some(prefix) = redis_prefix {
                        cfg = cfg.channel_prefix(prefix);
                    }
                    if let Some(t) = requests_timeout {
                        cfg = cfg.requests_timeout(t);
                    }
                    if let Some(m) = subscription_mode {
                        let mode = oxsio::adapter::redis::SubscriptionMode::parse(&m).ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "subscription_mode must be 'static', 'dynamic' or 'dynamic-private', not {m:?}"
                        ))
                    })?;
                        cfg = cfg.subscription_mode(mode);
                    }
                    let factory = oxsio::adapter::redis::ShardedRedisAdapter::factory(cfg)
                        .map_err(|e| PyValueError::new_err(e.to_string()))?;
                    b = b.adapter(factory);
                }
                (None, None) => {
                    if !streams
                        && (redis_prefix.is_some()
                            || subscription_mode.is_some()
                            || requests_timeout.is_some())
                    {
                        return Err(PyValueError::new_err(
                            "redis_prefix, subscription_mode and requests_timeout need an adapter (redis_url, sharded_nodes or postgres_url)",
                        ));
                    }
                }
            }
        }
        if let Some((duration, skip, packets, per_session, sessions)) = recovery {
            b = b.connection_state_recovery(oxsio::RecoveryConfig {
                max_disconnection_duration: secs(duration, "max_disconnection_duration")?,
                skip_middlewares: skip,
                max_stored_packets: packets,
                max_packets_per_session: per_session,
                max_sessions: sessions,
            });
        }
        if let Some(path) = metrics_path {
            if !path.starts_with('/') {
                return Err(PyValueError::new_err(format!(
                    "metrics_path {path:?} must start with '/'"
                )));
            }
            b = b.metrics(path);
        }
        let shared = Arc::new(Shared {
            recovery: recovery.is_some(),
            queue: Queue::new(),
            max_pending: max_pending_events.max(1),
            always_connect,
            connect_timeout: secs(connect_timeout, "connect_timeout")?,
            pending: Mutex::default(),
            pending_count: AtomicUsize::new(0),
        });
        let io = b.build();
        let root_served = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = root_served.clone();
        io.of("/").use_middleware(move |_| {
            if flag.load(Ordering::Acquire) {
                Ok(())
            } else {
                Err(ConnectError::new("Invalid namespace"))
            }
        });
        Ok(Server {
            io,
            root_served,
            shared,
            namespaces: RwLock::default(),
            any_namespace: Mutex::default(),
            handle: Mutex::default(),
            stopped: Arc::new((Mutex::new(false), Condvar::new())),
            hub: std::sync::OnceLock::new(),
        })
    }

    /// Serves namespace `name` (idempotent): clients may join it, and its
    /// events reach `next_events`.
    fn add_namespace(&self, name: &str) -> PyResult<()> {
        if !name.starts_with('/') {
            return Err(PyValueError::new_err(format!(
                "namespace {name:?} must start with '/'"
            )));
        }
        let mut map = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(name) {
            let ns = self.io.of(name);
            self.shared.install(&ns);
            map.insert(name.to_owned(), ns);
        }
        if name == "/" {
            self.root_served.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Serves every namespace a client asks for (idempotent).
    fn add_any_namespace(&self) -> PyResult<()> {
        // "/" always exists in the core, so the dynamic namespace never sees it.
        self.add_namespace("/")?;
        let mut any = self.any_namespace.lock().unwrap_or_else(|e| e.into_inner());
        if any.is_none() {
            let ns = self.io.of_dynamic(|_| true);
            self.shared.install(&ns);
            *any = Some(ns);
        }
        Ok(())
    }

    /// Binds `host:port` (0 = any free port) and serves in the background;
    /// returns the bound port. With `certfile` and `keyfile` (PEM), serves
    /// https / wss; `ca_certs` (PEM) verifies client certificates, required
    /// unless `client_cert_optional`.
    #[pyo3(signature = (host, port, certfile=None, keyfile=None, ca_certs=None, client_cert_optional=false))]
    #[allow(clippy::too_many_arguments)]
    fn listen(
        &self,
        py: Python<'_>,
        host: String,
        port: u16,
        certfile: Option<std::path::PathBuf>,
        keyfile: Option<std::path::PathBuf>,
        ca_certs: Option<std::path::PathBuf>,
        client_cert_optional: bool,
    ) -> PyResult<u16> {
        let tls = match (certfile, keyfile) {
            (None, None) if ca_certs.is_some() || client_cert_optional => {
                return Err(PyValueError::new_err(
                    "ca_certs and client_cert_optional need certfile and keyfile",
                ));
            }
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let mut b = oxsio::tls::TlsConfig::builder()
                    .cert_chain_file(cert)
                    .key_file(key)
                    .client_auth_optional(client_cert_optional);
                if let Some(ca) = ca_certs {
                    b = b.client_ca_file(ca);
                } else if client_cert_optional {
                    return Err(PyValueError::new_err("client_cert_optional needs ca_certs"));
                }
                Some(
                    b.build()
                        .map_err(|e| PyValueError::new_err(e.to_string()))?,
                )
            }
            _ => {
                return Err(PyValueError::new_err("TLS needs both certfile and keyfile"));
            }
        };
        let mut slot = self.handle.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return Err(PyRuntimeError::new_err("the server is already listening"));
        }
        let io = self.io.clone();
        let listen = async move {
            match tls {
                Some(tls) => io.listen_tls((host, port), tls).await,
                None => io.listen((host, port)).await,
            }
        };
        let handle = blocking::run(py, listen, None)?
            .ok_or_else(|| errors::err(Kind::Runtime, "the runtime stopped"))??;
        let port = handle.local_addr().port();
        *slot = Some(handle);
        *self.stopped.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
        Ok(port)
    }

    /// The Prometheus metrics (text format), or None when the server was
    /// made without `metrics_path`.
    fn metrics(&self) -> Option<String> {
        self.io.metrics()
    }

    /// Serves the Socket.IO Admin UI protocol (`oxsio::Server::instrument`):
    /// a login (`username`, bcrypt `password_hash`) or none (both None).
    #[allow(clippy::too_many_arguments)]
    fn instrument(
        &self,
        username: Option<String>,
        password_hash: Option<String>,
        namespace: &str,
        read_only: bool,
        mode: &str,
        server_id: Option<String>,
        stats_interval: f64,
    ) -> PyResult<()> {
        use oxsio::admin::{AdminMode, AdminUiOptions, InstrumentError};
        let value_error = |e: InstrumentError| PyValueError::new_err(e.to_string());
        let mut opts = match (username, password_hash) {
            (Some(user), Some(hash)) => AdminUiOptions::with_auth(user, hash),
            (None, None) => AdminUiOptions::without_auth(),
            _ => {
                return Err(PyValueError::new_err(
                    "give both a username and a password hash, or neither",
                ));
            }
        };
        let every = blocking::duration(Some(stats_interval))?
            .filter(|d| !d.is_zero())
            .ok_or_else(|| PyValueError::new_err("server_stats_interval must be positive"))?;
        opts = opts
            .namespace(namespace)
            .read_only(read_only)
            .mode(mode.parse::<AdminMode>().map_err(value_error)?)
            .stats_interval(every);
        if let Some(id) = server_id {
            opts = opts.server_id(id);
        }
        // The stats timer runs on the shared runtime.
        let rt = oxsio::runtime::handle();
        let _in_runtime = rt.enter();
        self.io.instrument(opts).map_err(|e| match e {
            InstrumentError::AlreadyInstrumented => PyRuntimeError::new_err(e.to_string()),
            e => value_error(e),
        })
    }

    /// The bound port, while listening.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|h| h.local_addr().port())
    }

    /// Stops listening and disconnects every client (their `disconnect`
    /// events are still delivered). Waits at most about 2 s.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        let io = self.io.clone();
        blocking::run(
            py,
            async move {
                match handle {
                    Some(h) => h.shutdown().await,
                    None => io.shutdown().await,
                }
            },
            Some(Duration::from_secs(5)),
        )?;
        let (lock, cv) = &*self.stopped;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        Ok(())
    }

    /// Ends the event stream: `next_events` returns None once drained.
    fn close(&self) {
        self.shared.queue.close();
    }

    /// Waits (GIL released) up to `timeout` seconds for events without
    /// taking them: True when `next_events` has some, False on timeout,
    /// None once closed and drained.
    #[pyo3(signature = (timeout=None, max=1024))]
    fn prefetch(&self, py: Python<'_>, timeout: Option<f64>, max: usize) -> PyResult<Option<bool>> {
        self.shared
            .queue
            .prefetch(py, blocking::duration(timeout)?, max)
    }

    /// Queues `(6, id)` behind every event queued so far (lets the caller
    /// wait until the handlers of those events have run).
    fn mark(&self, id: u64) {
        self.shared.queue.push(Msg::Mark(id));
    }

    /// Blocks until `shutdown` (True) or `timeout` seconds (False). The GIL
    /// is released; Ctrl-C raises KeyboardInterrupt.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = blocking::duration(timeout)?.map(|t| std::time::Instant::now() + t);
        let (lock, cv) = &*self.stopped;
        loop {
            let done = py.detach(|| {
                let g = lock.lock().unwrap_or_else(|e| e.into_inner());
                let (g, _) = cv.wait_timeout(g, SLICE).unwrap_or_else(|e| e.into_inner());
                *g
            });
            if done {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    /// Takes the waiting events (blocking up to `timeout` seconds for the
    /// first; 0 polls, None waits forever), at most `max`. Returns None once
    /// the server is closed and every event was taken.
    #[pyo3(signature = (timeout=None, max=1024))]
    fn next_events<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        max: usize,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let Some(batch) = self
            .shared
            .queue
            .take(py, blocking::duration(timeout)?, max)?
        else {
            return Ok(None);
        };
        let items = batch
            .into_iter()
            .map(|m| msg_to_py(py, m))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Some(PyList::new(py, items)?))
    }

    /// Emits to the sockets of namespace `ns` in any of `to` (all when
    /// None) and in none of `skip`. Returns the sids whose outgoing queue
    /// was full (they did not get it).
    #[pyo3(signature = (ns, event, args, to=None, skip=None, volatile=false, local=false))]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        ns: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
        volatile: bool,
        local: bool,
    ) -> PyResult<Vec<String>> {
        check_event(event)?;
        let args = to_args(args)?;
        // A socket whose connect handler runs now gets the emit once it is in.
        if let Some([room]) = to.as_deref()
            && let Some(sid) = Sid::parse(room)
            && let Some(socket) = self.shared.pending(ns, sid)
            && let Some(early) = socket.get::<Early>()
        {
            let mut e = early.0.lock().unwrap_or_else(|e| e.into_inner());
            if !e.flushed {
                e.emits.push((event.to_owned(), args));
                return Ok(Vec::new());
            }
            drop(e);
            return match socket.emit(event, args) {
                Ok(()) | Err(EmitError::Disconnected) => Ok(Vec::new()),
                Err(EmitError::QueueFull) => Ok(vec![room.clone()]),
                Err(e) => Err(errors::emit_error(e)),
            };
        }
        // One connected socket by its sid: emit on it directly (the room of
        // a sid holds only that socket), skipping the room lookup.
        if skip.is_none()
            && let Some([room]) = to.as_deref()
            && let Some(sid) = Sid::parse(room)
            && let Some(socket) = self.namespace(ns).and_then(|n| n.get_socket(sid))
        {
            let sent = if volatile {
                socket.volatile().emit(event, args)
            } else {
                socket.emit(event, args)
            };
            return match sent {
                Ok(()) | Err(EmitError::Disconnected) => Ok(Vec::new()),
                Err(EmitError::QueueFull) => Ok(vec![room.clone()]),
                Err(e) => Err(errors::emit_error(e)),
            };
        }
        let Some(mut op) = self.select(ns, to, skip) else {
            return Ok(Vec::new());
        };
        if volatile {
            op = op.volatile();
        }
        if local {
            // python-socketio's ignore_queue: this node's clients only,
            // not through the adapter (message queue).
            op = op.local();
        }
        match op.emit(event, args) {
            Ok(()) => Ok(Vec::new()),
            Err(BroadcastError::Sockets(failed)) => Ok(failed
                .into_iter()
                .filter(|(_, e)| *e == EmitError::QueueFull)
                .map(|(sid, _)| sid.as_str().to_owned())
                .collect()),
            // A reserved name (checked above) or a failure the core adds later.
            Err(other) => Err(PyValueError::new_err(other.to_string())),
        }
    }

    /// Emits to one socket asking for an acknowledgement; its result comes
    /// back through `next_events` as `(3, id, args, error)`. Returns False
    /// (and never reports) when the socket is unknown.
    #[pyo3(signature = (ns, event, args, sid, timeout, id))]
    fn emit_with_ack(
        &self,
        ns: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        sid: &str,
        timeout: f64,
        id: u64,
    ) -> PyResult<bool> {
        check_event(event)?;
        let args = to_args(args)?;
        let timeout = blocking::duration(Some(timeout))?.unwrap_or_default();
        let Some(socket) = self.socket(ns, sid) else {
            return Ok(false);
        };
        let fut = socket.timeout(timeout).emit_with_ack(event, args);
        let tx = self.shared.queue.tx();
        oxsio::runtime::spawn(async move {
            let result = fut.await;
            tx.push(Msg::Ack { id, result });
        });
        Ok(true)
    }

    /// Emits to one socket and blocks (GIL released) until it acknowledges;
    /// returns the acknowledgement's arguments.
    #[pyo3(signature = (ns, event, args, sid, timeout))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        ns: &str,
        event: &str,
        args: &Bound<'py, PyAny>,
        sid: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        check_event(event)?;
        let args = to_args(args)?;
        let timeout = blocking::duration(Some(timeout))?.unwrap_or_default();
        let socket = self
            .socket(ns, sid)
            .ok_or_else(|| errors::err(Kind::Disconnected, format!("no socket {sid} in {ns}")))?;
        let fut = socket.timeout(timeout).emit_with_ack(event, args);
        match blocking::run(py, fut, Some(timeout + Duration::from_secs(1)))? {
            Some(Ok(args)) => args_to_py(py, &args),
            Some(Err(e)) => Err(errors::ack_error(e)),
            None => Err(errors::err(Kind::Timeout, "acknowledgement timed out")),
        }
    }

    /// Adds socket `sid` of `ns` to `room` (no-op for unknown sockets).
    fn enter_room(&self, ns: &str, sid: &str, room: &str) {
        if let Some(s) = self.socket(ns, sid) {
            s.join(room);
        }
    }

    /// Removes socket `sid` of `ns` from `room`.
    fn leave_room(&self, ns: &str, sid: &str, room: &str) {
        if let Some(s) = self.socket(ns, sid) {
            s.leave(room);
        }
    }

    /// Removes every socket from `room`.
    fn close_room(&self, ns: &str, room: &str) {
        if let Some(n) = self.namespace(ns) {
            n.to(room).sockets_leave(room);
        }
    }

    /// The rooms of socket `sid` (its own id room included); empty when unknown.
    fn rooms(&self, ns: &str, sid: &str) -> Vec<String> {
        self.socket(ns, sid)
            .map(|s| s.rooms().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    /// The socket's data (Node's `socket.data`); KeyError for unknown sids.
    fn socket_data<'py>(
        &self,
        py: Python<'py>,
        ns: &str,
        sid: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = self
            .socket(ns, sid)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(sid.to_owned()))?;
        to_py(py, &s.data())
    }

    /// Replaces the socket's data; KeyError for unknown sids.
    fn set_socket_data(&self, ns: &str, sid: &str, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let s = self
            .socket(ns, sid)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(sid.to_owned()))?;
        s.set_data(crate::convert::to_value(data)?);
        Ok(())
    }

    /// The sids of the connected sockets of `ns`, optionally only those in `room`.
    #[pyo3(signature = (ns, room=None))]
    fn sockets(&self, ns: &str, room: Option<&str>) -> Vec<String> {
        let Some(n) = self.namespace(ns) else {
            return Vec::new();
        };
        n.sockets()
            .into_iter()
            .filter(|s| room.is_none_or(|r| s.rooms().iter().any(|x| &**x == r)))
            .map(|s| s.id().as_str().to_owned())
            .collect()
    }

    /// "polling" or "websocket": the transport of socket `sid` now; None
    /// if it is not connected.
    fn transport(&self, ns: &str, sid: &str) -> Option<&'static str> {
        Sid::parse(sid)
            .and_then(|sid| self.namespace(ns)?.get_socket(sid))
            .map(|s| s.transport().as_str())
    }

    /// True while socket `sid` is connected to `ns`.
    fn is_connected(&self, ns: &str, sid: &str) -> bool {
        Sid::parse(sid)
            .and_then(|sid| self.namespace(ns)?.get_socket(sid))
            .is_some_and(|s| s.connected())
    }

    /// Disconnects socket `sid` from `ns` (its `disconnect` event follows).
    fn disconnect(&self, ns: &str, sid: &str) {
        if let Some(s) = self.socket(ns, sid) {
            s.disconnect();
        }
    }

    /// Makes the sockets of `ns` in `to` (all when None) and not in
    /// `skip` join `rooms`.
    #[pyo3(signature = (ns, rooms, to=None, skip=None))]
    fn sockets_join(
        &self,
        ns: &str,
        rooms: Vec<String>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) {
        if let Some(op) = self.select(ns, to, skip) {
            op.sockets_join(rooms);
        }
    }

    /// Makes the selected sockets leave `rooms`.
    #[pyo3(signature = (ns, rooms, to=None, skip=None))]
    fn sockets_leave(
        &self,
        ns: &str,
        rooms: Vec<String>,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) {
        if let Some(op) = self.select(ns, to, skip) {
            op.sockets_leave(rooms);
        }
    }

    /// Disconnects the selected sockets (with `close`, their connections too).
    #[pyo3(signature = (ns, to=None, skip=None, close=false))]
    fn disconnect_sockets(
        &self,
        ns: &str,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
        close: bool,
    ) {
        if let Some(op) = self.select(ns, to, skip) {
            op.disconnect_sockets(close);
        }
    }

    /// The sids of the selected sockets.
    #[pyo3(signature = (ns, to=None, skip=None))]
    fn fetch_sockets(
        &self,
        py: Python<'_>,
        ns: &str,
        to: Option<Vec<String>>,
        skip: Option<Vec<String>>,
    ) -> PyResult<Vec<String>> {
        let Some(op) = self.select(ns, to, skip) else {
            return Ok(Vec::new());
        };
        let found = blocking::run(
            py,
            async move { op.fetch_sockets().await },
            Some(Duration::from_secs(5)),
        )?
        .unwrap_or_default();
        Ok(found.iter().map(|s| s.id.as_str().to_owned()).collect())
    }

    /// A polling (or other plain HTTP) request from an asyncio host: its
    /// response `(status, headers, body)` comes through the hub
    /// (`hub_take`) under the returned id.
    #[allow(clippy::too_many_arguments)]
    fn host_http(
        &self,
        method: String,
        target: String,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: &[u8],
        remote: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<u64> {
        HostEntry(self.io.host()).http(
            &self.hub()?,
            (method, target, headers, remote, secure),
            body,
        )
    }

    /// A descriptor readable when events wait, for an event loop to watch
    /// (`loop.add_reader`) instead of a thread; call `events_ready` in its
    /// callback, then `next_events(0)`.
    fn events_fd(&self) -> PyResult<i32> {
        self.shared
            .queue
            .wake_fd()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot create the wake-up pair: {e}")))
    }

    /// Re-arms `events_fd` (drains its wake-up bytes); call it before
    /// taking the events it announced.
    fn events_ready(&self) {
        self.shared.queue.rearm();
    }

    /// The descriptor an asyncio host watches (`loop.add_reader`): readable
    /// when `hub_take` has something.
    fn hub_fd(&self) -> PyResult<i32> {
        Ok(self.hub()?.fd())
    }

    /// Everything ready for the asyncio host: `(id, kind, value)` with kind
    /// 0 a response, 1 an accepted `HostWs`, 2 a refused WebSocket's
    /// response, 3 a message `(kind, data)` for the peer, 4 the end of a
    /// WebSocket.
    fn hub_take<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.hub()?.take(py)
    }

    /// `host_http` that waits for the response (GIL released).
    #[allow(clippy::too_many_arguments)]
    fn host_http_blocking(
        &self,
        py: Python<'_>,
        method: String,
        target: String,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: &[u8],
        remote: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<crate::host::PyResponse> {
        HostEntry(self.io.host()).http_blocking(py, (method, target, headers, remote, secure), body)
    }

    /// A WebSocket request from an asyncio host, before it accepts it: the
    /// answer (an accepted `HostWs` or a refusal) and then the messages for
    /// the peer come through the hub under the returned id.
    fn host_websocket(
        &self,
        target: String,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        remote: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<u64> {
        HostEntry(self.io.host()).websocket(
            &self.hub()?,
            ("GET".into(), target, headers, remote, secure),
        )
    }

    /// `host_websocket` that waits for the answer (GIL released).
    fn host_websocket_blocking(
        &self,
        py: Python<'_>,
        target: String,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        remote: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<Py<PyAny>> {
        HostEntry(self.io.host())
            .websocket_blocking(py, ("GET".into(), target, headers, remote, secure))
    }

    /// Number of open Engine.IO connections.
    #[getter]
    fn connection_count(&self) -> usize {
        self.io.connection_count()
    }
}
