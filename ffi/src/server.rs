//! `oxsio_server`: a Socket.IO server with its namespaces.

use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use oxsio_core::{
    AckError, AllowOrigin, Args, BroadcastOperator, ConnectError, Cors, Namespace, Server,
    ServerHandle, Sid, Socket, Transport, Value,
};
use serde::Deserialize;

use crate::boundary::{
    Entry, copy_text, get_server, guard, id, need_out, opt_str_arg, ptr, register, str_arg,
    unregister_if, write_opt, write_out,
};
use crate::dispatch::{
    Callback, DEFAULT_QUEUE, Dispatch, block_on, call_all, lock, oxsio_dispatch, oxsio_event_cb,
    oxsio_free_cb,
};
use crate::error::{Error, Result, oxsio_result};
use crate::event::{Acker, EventData, oxsio_event, oxsio_event_kind};
use crate::payload::{NameCache, NulStr, oxsio_buf, plain_json};
use crate::socket::{
    SocketHandle, SocketShared, ack_callback, args_of, binary_arg, forget_free, handshake_json,
    next_ack_id, oxsio_socket, poll_once,
};

/// A server handle, made by `oxsio_server_new`, released by `oxsio_server_free`.
pub struct oxsio_server {
    _private: [u8; 0],
}

/// `oxsio_target.flags`: drop the message for clients whose queue is full.
pub const OXSIO_TARGET_VOLATILE: u32 = 1;
/// `oxsio_target.flags`: only the sockets of this node (multi-node adapters).
pub const OXSIO_TARGET_LOCAL: u32 = 2;
/// `flags` of the `*_emit_binary` calls: drop silently when the queue is full.
pub const OXSIO_EMIT_VOLATILE: u32 = 1;

/// An `allow_request` hook (`oxsio_server_allow_request`): `user_data` as
/// registered, the request as NUL-terminated JSON (borrowed for the call),
/// and a buffer of `reason_capacity` bytes for the refusal's text. Returns
/// true to accept the handshake.
pub type oxsio_allow_request_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        request_json: *const c_char,
        reason: *mut c_char,
        reason_capacity: usize,
    ) -> bool,
>;

/// A selection of sockets of one namespace, for broadcasts and
/// server-side room operations. Zero-initialise it, then fill what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct oxsio_target {
    /// Namespace (NULL: `"/"`); it must have been declared (`oxsio_server_of`).
    pub nsp: *const c_char,
    /// Rooms to reach (union); none: every socket of the namespace.
    pub rooms: *const *const c_char,
    /// Number of `rooms`.
    pub room_count: usize,
    /// Rooms whose sockets are left out (a socket id leaves out that socket).
    pub except_rooms: *const *const c_char,
    /// Number of `except_rooms`.
    pub except_count: usize,
    /// `OXSIO_TARGET_VOLATILE` | `OXSIO_TARGET_LOCAL`.
    pub flags: u32,
}

pub(crate) fn emit_flags(flags: u32) -> Result<bool> {
    if flags & !OXSIO_EMIT_VOLATILE != 0 {
        return Err(Error::new(
            oxsio_result::InvalidArgument,
            format!("unknown emit flags {flags:#x}"),
        ));
    }
    Ok(flags & OXSIO_EMIT_VOLATILE != 0)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ServerConfig {
    path: Option<String>,
    transports: Option<Vec<String>>,
    allow_upgrades: Option<bool>,
    ping_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    max_payload: Option<usize>,
    upgrade_timeout_ms: Option<u64>,
    max_buffer_size: Option<usize>,
    connect_timeout_ms: Option<u64>,
    ack_timeout_ms: Option<u64>,
    max_attachments: Option<usize>,
    max_json_depth: Option<usize>,
    parser: Option<String>,
    max_rooms_per_socket: Option<usize>,
    max_pending_acks: Option<usize>,
    max_connections: Option<usize>,
    cors_origins: Option<Vec<String>>,
    cors_credentials: Option<bool>,
    allowed_origins: Option<Vec<String>>,
    http_compression_threshold: Option<i64>,
    per_message_deflate_threshold: Option<i64>,
    allow_eio3: Option<bool>,
    cookie: Option<String>,
    event_queue_capacity: Option<usize>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    adapter: Option<AdapterJson>,
    connection_state_recovery: Option<RecoveryJson>,
    tls: Option<TlsJson>,
    metrics_path: Option<String>,
    admin_ui: Option<AdminUiJson>,
}

/// `adapter` in the server config: which cluster adapter, with Node's
/// option names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterJson {
    /// `"redis"` (classic `createAdapter`), `"redis-sharded"`
    /// (`createShardedAdapter`), `"redis-streams"`
    /// (`@socket.io/redis-streams-adapter`) or `"postgres"`
    /// (`@socket.io/postgres-adapter`).
    kind: String,
    /// Classic: the Redis URL.
    url: Option<String>,
    /// Sharded, and streams on a Redis Cluster: seed URLs of the cluster.
    nodes: Option<Vec<String>>,
    /// Key (classic) or channel (sharded) prefix, "socket.io".
    prefix: Option<String>,
    requests_timeout_ms: Option<u64>,
    /// Sharded: "static", "dynamic" (default) or "dynamic-private".
    subscription_mode: Option<String>,
    /// Postgres: attachments table, "socket_io_attachments".
    table_name: Option<String>,
    /// Postgres: JSON longer than this goes through the table, 8000.
    payload_threshold: Option<usize>,
    /// Postgres: attachments kept this long, 30000.
    cleanup_interval_ms: Option<u64>,
    /// Streams: stream key, "socket.io".
    stream_name: Option<String>,
    /// Streams: number of streams, 1.
    stream_count: Option<usize>,
    /// Streams: approximate stream length kept, 10000.
    max_len: Option<usize>,
    /// Streams: entries per XREAD, 100.
    read_count: Option<usize>,
    /// Streams: how long one XREAD blocks, 5000.
    block_time_ms: Option<u64>,
    /// Streams: key prefix of stored sessions, "sio:session:".
    session_key_prefix: Option<String>,
    /// Streams: every stream entry as JSON, false.
    only_plaintext: Option<bool>,
    /// Streams on a Redis Cluster: requests over sharded Pub/Sub, false.
    use_sharded_pub_sub: Option<bool>,
}

impl AdapterJson {
    fn factory(self) -> Result<oxsio_core::adapter::AdapterFactory> {
        use oxsio_core::adapter::redis as r;
        let bad = |m: String| Error::new(oxsio_result::InvalidConfig, format!("adapter: {m}"));
        let streams_options = self.stream_name.is_some()
            || self.stream_count.is_some()
            || self.max_len.is_some()
            || self.read_count.is_some()
            || self.block_time_ms.is_some()
            || self.session_key_prefix.is_some()
            || self.only_plaintext.is_some()
            || self.use_sharded_pub_sub.is_some();
        if streams_options && self.kind != "redis-streams" {
            return Err(bad(
                "stream_name, stream_count, max_len, read_count, block_time_ms, session_key_prefix, only_plaintext and use_sharded_pub_sub belong to kind \"redis-streams\""
                    .into(),
            ));
        }
        match self.kind.as_str() {
            "redis" | "redis-sharded" | "redis-streams"
                if self.table_name.is_some()
                    || self.payload_threshold.is_some()
                    || self.cleanup_interval_ms.is_some() =>
            {
                Err(bad(
                    "table_name, payload_threshold and cleanup_interval_ms belong to kind \"postgres\""
                        .into(),
                ))
            }
            "postgres" => {
                use oxsio_core::adapter::postgres as p;
                if self.nodes.is_some() || self.subscription_mode.is_some() {
                    return Err(bad(
                        "nodes and subscription_mode belong to kind \"redis-sharded\"".into(),
                    ));
                }
                let url = self.url.ok_or_else(|| bad("kind \"postgres\" needs url".into()))?;
                let mut cfg = p::PostgresConfig::new(url);
                if let Some(x) = self.prefix {
                    cfg = cfg.channel_prefix(x);
                }
                if let Some(x) = self.table_name {
                    cfg = cfg.table_name(x);
                }
                if let Some(x) = self.payload_threshold {
                    cfg = cfg.payload_threshold(x);
                }
                if let Some(x) = self.cleanup_interval_ms {
                    cfg = cfg.cleanup_interval(ms(x));
                }
                if let Some(t) = self.requests_timeout_ms {
                    cfg = cfg.requests_timeout(ms(t));
                }
                p::PostgresAdapter::factory(cfg).map_err(|e| bad(e.to_string()))
            }
            "redis" => {
                if self.nodes.is_some() || self.subscription_mode.is_some() {
                    return Err(bad(
                        "nodes and subscription_mode belong to kind \"redis-sharded\"".into(),
                    ));
                }
                let url = self
                    .url
                    .ok_or_else(|| bad("kind \"redis\" needs url".into()))?;
                let mut cfg = r::RedisConfig::new(url);
                if let Some(p) = self.prefix {
                    cfg = cfg.prefix(p);
                }
                if let Some(t) = self.requests_timeout_ms {
                    cfg = cfg.requests_timeout(ms(t));
                }
                r::RedisAdapter::factory(cfg).map_err(|e| bad(e.to_string()))
            }
            "redis-sharded" => {
                if self.url.is_some() {
                    return Err(bad(
                        "kind \"redis-sharded\" takes nodes (the cluster's seed URLs), not url"
                            .into(),
                    ));
                }
                let nodes = self
                    .nodes
                    .ok_or_else(|| bad("kind \"redis-sharded\" needs nodes".into()))?;
                let mut cfg = r::ShardedConfig::new(nodes);
                if let Some(p) = self.prefix {
                    cfg = cfg.channel_prefix(p);
                }
                if let Some(t) = self.requests_timeout_ms {
                    cfg = cfg.requests_timeout(ms(t));
                }
                if let Some(m) = self.subscription_mode {
                    cfg = cfg.subscription_mode(
                        r::SubscriptionMode::parse(&m)
                            .ok_or_else(|| bad(format!("unknown subscription_mode {m:?}")))?,
                    );
                }
                r::ShardedRedisAdapter::factory(cfg).map_err(|e| bad(e.to_string()))
            }
            "redis-streams" => {
                if self.subscription_mode.is_some() {
                    return Err(bad(
                        "subscription_mode belongs to kind \"redis-sharded\"".into(),
                    ));
                }
                let mut cfg = match (self.url, self.nodes) {
                    (Some(url), None) => r::StreamsConfig::new(url),
                    (None, Some(nodes)) => r::StreamsConfig::cluster(nodes),
                    _ => {
                        return Err(bad(
                            "kind \"redis-streams\" needs url (one Redis) or nodes (a Redis Cluster's seed URLs)"
                                .into(),
                        ));
                    }
                };
                if let Some(x) = self.use_sharded_pub_sub {
                    cfg = cfg.use_sharded_pub_sub(x);
                }
                if let Some(x) = self.prefix {
                    cfg = cfg.channel_prefix(x);
                }
                if let Some(t) = self.requests_timeout_ms {
                    cfg = cfg.requests_timeout(ms(t));
                }
                if let Some(x) = self.stream_name {
                    cfg = cfg.stream_name(x);
                }
                if let Some(x) = self.stream_count {
                    cfg = cfg.stream_count(x);
                }
                if let Some(x) = self.max_len {
                    cfg = cfg.max_len(x);
                }
                if let Some(x) = self.read_count {
                    cfg = cfg.read_count(x);
                }
                if let Some(x) = self.block_time_ms {
                    cfg = cfg.block_time(ms(x));
                }
                if let Some(x) = self.session_key_prefix {
                    cfg = cfg.session_key_prefix(x);
                }
                if let Some(x) = self.only_plaintext {
                    cfg = cfg.only_plaintext(x);
                }
                r::RedisStreamsAdapter::factory(cfg).map_err(|e| bad(e.to_string()))
            }
            other => Err(bad(format!(
                "unknown kind {other:?} (\"redis\", \"redis-sharded\", \"redis-streams\" or \"postgres\")"
            ))),
        }
    }
}

/// `admin_ui` in the server config: the Socket.IO Admin UI protocol
/// (`Server::instrument`), with Node's option names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminUiJson {
    /// `false`, or `{"username", "password": <bcrypt hash>}` (`"type": "basic"` allowed).
    auth: AdminAuthJson,
    namespace: Option<String>,
    read_only: Option<bool>,
    mode: Option<String>,
    server_id: Option<String>,
    stats_interval_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AdminAuthJson {
    Off(bool),
    Basic(BasicAuthJson),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuthJson {
    #[serde(rename = "type")]
    kind: Option<String>,
    username: String,
    password: String,
}

impl AdminUiJson {
    fn options(self) -> Result<oxsio_core::admin::AdminUiOptions> {
        use oxsio_core::admin::{AdminMode, AdminUiOptions};
        let invalid = |m: String| Error::new(oxsio_result::InvalidConfig, format!("admin_ui: {m}"));
        let mut o = match self.auth {
            AdminAuthJson::Off(false) => AdminUiOptions::without_auth(),
            AdminAuthJson::Off(true) => {
                return Err(invalid(
                    "auth is false or {\"username\", \"password\": <bcrypt hash>}".into(),
                ));
            }
            AdminAuthJson::Basic(b) => {
                if b.kind.as_deref().is_some_and(|k| k != "basic") {
                    return Err(invalid(format!("auth type {:?} (basic)", b.kind)));
                }
                AdminUiOptions::with_auth(b.username, b.password)
            }
        };
        if let Some(n) = self.namespace {
            o = o.namespace(n);
        }
        if let Some(r) = self.read_only {
            o = o.read_only(r);
        }
        if let Some(m) = self.mode {
            o = o.mode(m.parse::<AdminMode>().map_err(|e| invalid(e.to_string()))?);
        }
        if let Some(id) = self.server_id {
            o = o.server_id(id);
        }
        if let Some(v) = self.stats_interval_ms {
            o = o.stats_interval(ms(v));
        }
        Ok(o)
    }
}

/// `tls` in the server config: `oxsio_server_listen` serves https / wss.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsJson {
    cert_file: Option<String>,
    cert_pem: Option<String>,
    key_file: Option<String>,
    key_pem: Option<String>,
    client_ca_file: Option<String>,
    client_ca_pem: Option<String>,
    client_auth_optional: Option<bool>,
    handshake_timeout_ms: Option<u64>,
}

impl TlsJson {
    fn config(self) -> Result<oxsio_core::tls::TlsConfig> {
        let invalid = |m: String| Error::new(oxsio_result::InvalidConfig, format!("tls: {m}"));
        let mut b = oxsio_core::tls::TlsConfig::builder();
        b = match (self.cert_file, self.cert_pem) {
            (Some(f), None) => b.cert_chain_file(f),
            (None, Some(p)) => b.cert_chain_pem(p),
            _ => return Err(invalid("give one of cert_file and cert_pem".into())),
        };
        b = match (self.key_file, self.key_pem) {
            (Some(f), None) => b.key_file(f),
            (None, Some(p)) => b.key_pem(p),
            _ => return Err(invalid("give one of key_file and key_pem".into())),
        };
        b = match (self.client_ca_file, self.client_ca_pem) {
            (Some(f), None) => b.client_ca_file(f),
            (None, Some(p)) => b.client_ca_pem(p),
            (None, None) if self.client_auth_optional.is_some() => {
                return Err(invalid(
                    "client_auth_optional needs client_ca_file or client_ca_pem".into(),
                ));
            }
            (None, None) => b,
            _ => {
                return Err(invalid(
                    "give one of client_ca_file and client_ca_pem".into(),
                ));
            }
        };
        b = b.client_auth_optional(self.client_auth_optional.unwrap_or(false));
        if let Some(v) = self.handshake_timeout_ms {
            b = b.handshake_timeout(ms(v));
        }
        b.build().map_err(|e| invalid(e.to_string()))
    }
}

/// `connection_state_recovery` in the server config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoveryJson {
    max_disconnection_duration_ms: Option<u64>,
    skip_middlewares: Option<bool>,
    max_stored_packets: Option<usize>,
    max_packets_per_session: Option<usize>,
    max_sessions: Option<usize>,
}

impl RecoveryJson {
    fn config(self) -> oxsio_core::RecoveryConfig {
        let d = oxsio_core::RecoveryConfig::default();
        oxsio_core::RecoveryConfig {
            max_disconnection_duration: self
                .max_disconnection_duration_ms
                .map_or(d.max_disconnection_duration, ms),
            skip_middlewares: self.skip_middlewares.unwrap_or(d.skip_middlewares),
            max_stored_packets: self.max_stored_packets.unwrap_or(d.max_stored_packets),
            max_packets_per_session: self
                .max_packets_per_session
                .unwrap_or(d.max_packets_per_session),
            max_sessions: self.max_sessions.unwrap_or(d.max_sessions),
        }
    }
}

pub(crate) fn transports(list: &[String]) -> Result<Vec<Transport>> {
    let t: Vec<Transport> = list
        .iter()
        .map(|t| match t.as_str() {
            "polling" => Ok(Transport::Polling),
            "websocket" => Ok(Transport::Websocket),
            other => Err(Error::new(
                oxsio_result::InvalidConfig,
                format!("unknown transport {other:?} (polling, websocket)"),
            )),
        })
        .collect::<Result<_>>()?;
    if t.is_empty() {
        return Err(Error::new(
            oxsio_result::InvalidConfig,
            "transports is empty",
        ));
    }
    Ok(t)
}

pub(crate) fn parse_config<T: serde::de::DeserializeOwned + Default>(
    json: Option<&str>,
) -> Result<T> {
    match json.filter(|j| !j.trim().is_empty()) {
        None => Ok(T::default()),
        Some(j) => serde_json::from_str(j)
            .map_err(|e| Error::new(oxsio_result::InvalidConfig, format!("config: {e}"))),
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// An `allow_request` hook: the host's function, its user_data and release.
pub(crate) struct AllowHook {
    cb: unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_char, usize) -> bool,
    user_data: *mut c_void,
    free: oxsio_free_cb,
}

// SAFETY: the host registered `user_data` for calls from library threads and
// its release from any thread (the header says so).
unsafe impl Send for AllowHook {}
// SAFETY: as above; the hook is only called, never mutated.
unsafe impl Sync for AllowHook {}

impl Drop for AllowHook {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data) }
        }
    }
}

/// A dynamic namespace's predicate (`oxsio_server_of_dynamic`); its
/// release runs when the server is freed.
pub(crate) struct DynamicHook {
    predicate: unsafe extern "C" fn(*mut c_void, *const c_char) -> bool,
    user_data: *mut c_void,
    free: oxsio_free_cb,
}

// SAFETY: the host registered `user_data` for calls from library threads and
// its release from any thread (the header says so).
unsafe impl Send for DynamicHook {}
// SAFETY: as above; the hook is only called.
unsafe impl Sync for DynamicHook {}

impl Drop for DynamicHook {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data) }
        }
    }
}

/// A namespace predicate (`oxsio_server_of_dynamic`): `user_data` as
/// registered and the name a client asks for (e.g. `"/room-7"`,
/// NUL-terminated, borrowed for the call); true creates that namespace.
pub type oxsio_namespace_predicate_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, nsp: *const c_char) -> bool>;

/// The server's `allow_request` hook, replaceable after `oxsio_server_new`.
type AllowSlot = Arc<Mutex<Option<Arc<AllowHook>>>>;

/// The request an `allow_request` hook sees, as JSON.
fn request_json(r: &oxsio_core::engineio::RequestInfo) -> String {
    let mut headers = serde_json::Map::new();
    for (k, v) in &r.headers {
        if let Ok(v) = v.to_str() {
            headers.insert(
                k.as_str().to_owned(),
                serde_json::Value::String(v.to_owned()),
            );
        }
    }
    serde_json::json!({
        "url": r.uri.to_string(),
        "query": r.query,
        "headers": headers,
        "address": r.remote_addr.map(|a| a.to_string()),
        "secure": r.secure,
    })
    .to_string()
}

fn run_allow_hook(
    slot: &AllowSlot,
    r: &oxsio_core::engineio::RequestInfo,
) -> std::result::Result<(), String> {
    let Some(hook) = lock(slot).clone() else {
        return Ok(());
    };
    let json = std::ffi::CString::new(request_json(r)).unwrap_or_default();
    let mut reason = [0u8; 256];
    // SAFETY: the host's hook with its user_data; the request text lives
    // for the call and `reason` has the capacity passed.
    let allowed = unsafe {
        (hook.cb)(
            hook.user_data,
            json.as_ptr(),
            reason.as_mut_ptr().cast(),
            reason.len(),
        )
    };
    if allowed {
        return Ok(());
    }
    reason[reason.len() - 1] = 0;
    let end = reason.iter().position(|b| *b == 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&reason[..end]).into_owned();
    Err(if text.is_empty() {
        "Forbidden".to_owned()
    } else {
        text
    })
}

impl ServerConfig {
    fn build(
        self,
        allow: AllowSlot,
    ) -> Result<(Server, usize, Duration, Option<oxsio_core::tls::TlsConfig>)> {
        let tls = self.tls.map(TlsJson::config).transpose()?;
        let mut b = Server::builder();
        b = b.allow_request(move |r| run_allow_hook(&allow, r));
        if let Some(p) = self.path {
            b = b.path(p);
        }
        if let Some(t) = self.transports {
            b = b.transports(transports(&t)?);
        }
        if let Some(v) = self.allow_upgrades {
            b = b.allow_upgrades(v);
        }
        if let Some(v) = self.ping_interval_ms {
            b = b.ping_interval(ms(v));
        }
        if let Some(v) = self.ping_timeout_ms {
            b = b.ping_timeout(ms(v));
        }
        if let Some(v) = self.max_payload {
            b = b.max_payload(v);
        }
        if let Some(v) = self.upgrade_timeout_ms {
            b = b.upgrade_timeout(ms(v));
        }
        if let Some(v) = self.max_buffer_size {
            b = b.max_buffer_size(v);
        }
        let connect_timeout = ms(self.connect_timeout_ms.unwrap_or(45_000));
        b = b.connect_timeout(connect_timeout);
        if let Some(v) = self.ack_timeout_ms {
            b = b.ack_timeout(ms(v));
        }
        if let Some(v) = self.max_attachments {
            b = b.max_attachments(v);
        }
        if let Some(v) = self.max_json_depth {
            b = b.max_json_depth(v);
        }
        if let Some(name) = &self.parser {
            b = b.parser(crate::client::parser(name)?);
        }
        if let Some(v) = self.max_rooms_per_socket {
            b = b.max_rooms_per_socket(v);
        }
        if let Some(v) = self.max_pending_acks {
            b = b.max_pending_acks(v);
        }
        if let Some(v) = self.max_connections {
            b = b.max_connections(v);
        }
        if let Some(origins) = self.cors_origins {
            let origins = if origins.iter().any(|o| o == "*") {
                AllowOrigin::Any
            } else {
                AllowOrigin::List(origins)
            };
            b = b.cors(Cors {
                origins,
                credentials: self.cors_credentials.unwrap_or(false),
            });
        }
        if let Some(list) = self.allowed_origins {
            // ["same-origin"]: the server's own origin (Host header).
            b = b.allowed_origins(if list.iter().any(|o| o == "same-origin") {
                oxsio_core::AllowedOrigins::SameOrigin
            } else {
                oxsio_core::AllowedOrigins::List(list)
            });
        }
        if let Some(t) = self.http_compression_threshold {
            b = b.http_compression(usize::try_from(t).ok());
        }
        if let Some(t) = self.per_message_deflate_threshold {
            b = b.per_message_deflate(usize::try_from(t).ok());
        }
        if let Some(a) = self.allow_eio3 {
            b = b.allow_eio3(a);
        }
        if let Some(c) = self.cookie {
            b = b.cookie(c);
        }
        if self.redis_prefix.is_some() && self.redis_url.is_none() {
            return Err(Error::new(
                oxsio_result::InvalidConfig,
                "redis_prefix without redis_url",
            ));
        }
        if let Some(adapter) = self.adapter {
            if self.redis_url.is_some() {
                return Err(Error::new(
                    oxsio_result::InvalidConfig,
                    "give either adapter or redis_url, not both",
                ));
            }
            b = b.adapter(adapter.factory()?);
        }
        if let Some(url) = self.redis_url {
            // Joins a cluster with Node.js nodes using @socket.io/redis-adapter.
            let mut cfg = oxsio_core::adapter::redis::RedisConfig::new(url);
            if let Some(prefix) = self.redis_prefix {
                cfg = cfg.prefix(prefix);
            }
            let factory = oxsio_core::adapter::redis::RedisAdapter::factory(cfg)
                .map_err(|e| Error::new(oxsio_result::InvalidConfig, e.to_string()))?;
            b = b.adapter(factory);
        }
        if let Some(r) = self.connection_state_recovery {
            b = b.connection_state_recovery(r.config());
        }
        if let Some(path) = self.metrics_path {
            if !path.starts_with('/') {
                return Err(Error::new(
                    oxsio_result::InvalidConfig,
                    format!("metrics_path {path:?} must start with '/'"),
                ));
            }
            b = b.metrics(path);
        }
        let admin = self.admin_ui.map(AdminUiJson::options).transpose()?;
        let cap = self.event_queue_capacity.unwrap_or(DEFAULT_QUEUE);
        let io = b.build();
        if let Some(opts) = admin {
            // Its stats timer runs on the shared runtime.
            let rt = oxsio_core::runtime::handle();
            let _in_runtime = rt.enter();
            io.instrument(opts)
                .map_err(|e| Error::new(oxsio_result::InvalidConfig, format!("admin_ui: {e}")))?;
        }
        Ok((io, cap, connect_timeout, tls))
    }
}

pub(crate) struct ServerShared {
    io: Server,
    allow: AllowSlot,
    /// The dynamic namespaces' predicates (the core holds weak references).
    dynamic: Mutex<Vec<Arc<DynamicHook>>>,
    /// `oxsio_server_on_server_event` callbacks by namespace; a namespace
    /// in the map has its core listener.
    server_events: Mutex<HashMap<String, Vec<Arc<Callback>>>>,
    pub(crate) dispatch: Arc<Dispatch>,
    running: Mutex<Option<ServerHandle>>,
    port: AtomicU16,
    connection: Mutex<HashMap<String, Vec<Arc<Callback>>>>,
    middlewares: Mutex<Vec<Arc<Callback>>>,
    namespaces: Mutex<HashSet<String>>,
    pub(crate) sockets: Mutex<HashSet<usize>>,
    /// Event names shared by the message events that carry them.
    pub(crate) names: NameCache,
    handle: AtomicUsize,
    request_timeout: Duration,
    tls: Option<oxsio_core::tls::TlsConfig>,
}

fn normalize(nsp: Option<&str>) -> String {
    match nsp {
        None | Some("") => "/".to_owned(),
        Some(n) if n.starts_with('/') => n.to_owned(),
        Some(n) => format!("/{n}"),
    }
}

impl ServerShared {
    /// Declares a namespace: hooks its connections (once).
    fn declare(self: &Arc<Self>, nsp: &str) -> Namespace {
        let ns = self.io.of(nsp);
        if lock(&self.namespaces).insert(nsp.to_owned()) {
            let weak = Arc::downgrade(self);
            ns.on_connection(move |socket: Socket| {
                if let Some(me) = weak.upgrade() {
                    me.on_connection(socket);
                }
            });
        }
        ns
    }

    fn namespace(&self, nsp: Option<&str>) -> Result<Namespace> {
        let name = normalize(nsp);
        if !lock(&self.namespaces).contains(&name) {
            return Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("namespace {name:?} was not declared with oxsio_server_of"),
            ));
        }
        Ok(self.io.of(&name))
    }

    fn on_connection(self: &Arc<Self>, socket: Socket) {
        if self.dispatch.is_closed() {
            return;
        }
        let shared = Arc::new(SocketShared::new(socket.clone(), Arc::downgrade(self)));
        let h = register(Entry::Socket(shared.clone()));
        shared.handle.store(h, Ordering::Release);
        lock(&self.sockets).insert(h);
        socket.insert(SocketHandle(h));
        shared.install();
        let mut ev = EventData::new(oxsio_event_kind::Connection, socket.ns());
        ev.recovered = socket.recovered();
        ev.socket = h;
        ev.handshake = Some(shared.handshake.clone());
        if self.dispatch.is_poll() {
            self.dispatch.push(ev);
        } else {
            let cbs = lock(&self.connection)
                .get(socket.ns())
                .cloned()
                .unwrap_or_default();
            call_all(&self.dispatch, &cbs, ev);
        }
    }

    fn add_middleware(self: &Arc<Self>, nsp: &str, cb: Option<Arc<Callback>>) {
        let ns = self.declare(nsp);
        if let Some(cb) = &cb {
            lock(&self.middlewares).push(cb.clone());
        }
        let weak: Weak<ServerShared> = Arc::downgrade(self);
        let cb = cb.map(|c| Arc::downgrade(&c));
        let timeout = self.request_timeout;
        ns.use_middleware_async(move |socket: Socket| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let me = weak.upgrade().filter(|m| !m.dispatch.is_closed());
            if let Some(me) = me {
                let mut ev = EventData::new(oxsio_event_kind::ConnectionRequest, socket.ns());
                ev.handshake = Some(Arc::new(NulStr::new(&handshake_json(socket.handshake()))));
                *crate::dispatch::lock(&ev.verdict) = Some(tx);
                if me.dispatch.is_poll() {
                    me.dispatch.push(ev);
                } else if let Some(cb) = cb.as_ref().and_then(Weak::upgrade) {
                    call_all(&me.dispatch, &[cb], ev);
                }
            }
            async move {
                match tokio::time::timeout(timeout, rx).await {
                    Ok(Ok(verdict)) => verdict,
                    Ok(Err(_)) => Err(ConnectError::new("server closed")),
                    Err(_) => Err(ConnectError::new("middleware timed out")),
                }
            }
        });
    }

    /// Closes the handle: no more events, sockets retired, handlers released,
    /// the listener shut down in the background.
    fn close(&self) {
        self.dispatch.close();
        let running = lock(&self.running).take();
        if let Some(h) = running {
            oxsio_core::runtime::spawn(async move { h.shutdown().await });
        }
        let sockets: Vec<usize> = lock(&self.sockets).drain().collect();
        for h in sockets {
            if let Some(Entry::Socket(s)) = crate::boundary::unregister(h) {
                let released = s.take_handlers();
                drop(released);
            }
        }
        let conn: Vec<Arc<Callback>> = lock(&self.connection)
            .drain()
            .flat_map(|(_, v)| v)
            .collect();
        drop(conn);
        let mws: Vec<Arc<Callback>> = lock(&self.middlewares).drain(..).collect();
        drop(mws);
        let hook = lock(&self.allow).take();
        drop(hook);
        let dynamic: Vec<Arc<DynamicHook>> = lock(&self.dynamic).drain(..).collect();
        drop(dynamic);
        let server_events: Vec<Arc<Callback>> = lock(&self.server_events)
            .drain()
            .flat_map(|(_, v)| v)
            .collect();
        drop(server_events);
    }

    fn target(&self, t: *const oxsio_target) -> Result<BroadcastOperator> {
        if t.is_null() {
            return Ok(self.namespace(None)?.except(Vec::<String>::new()));
        }
        // SAFETY: the caller passes a readable oxsio_target for the call.
        let t = unsafe { &*t };
        let ns = self.namespace(opt_str_arg(t.nsp, "target.nsp")?)?;
        let rooms = str_list(t.rooms, t.room_count, "target.rooms")?;
        let except = str_list(t.except_rooms, t.except_count, "target.except_rooms")?;
        if t.flags & !(OXSIO_TARGET_VOLATILE | OXSIO_TARGET_LOCAL) != 0 {
            return Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("unknown target flags {:#x}", t.flags),
            ));
        }
        let mut op = ns.except(except);
        if !rooms.is_empty() {
            op = op.to(rooms);
        }
        if t.flags & OXSIO_TARGET_VOLATILE != 0 {
            op = op.volatile();
        }
        if t.flags & OXSIO_TARGET_LOCAL != 0 {
            op = op.local();
        }
        Ok(op)
    }
}

pub(crate) fn str_list(p: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::new(
            oxsio_result::NullArgument,
            format!("{what} is NULL with a non-zero count"),
        ));
    }
    // SAFETY: the caller passes `n` readable string pointers for the call.
    let list = unsafe { std::slice::from_raw_parts(p, n) };
    list.iter()
        .enumerate()
        .map(|(i, s)| str_arg(*s, &format!("{what}[{i}]")).map(str::to_owned))
        .collect()
}

fn srv(s: *const oxsio_server) -> Result<Arc<ServerShared>> {
    get_server(id(s))
}

/// Creates a server (not listening yet) with the namespace `"/"` declared.
///
/// `config_json` (NULL or `""`: defaults) is a JSON object; every key is
/// optional, unknown keys are refused (`OXSIO_RESULT_INVALID_CONFIG`):
/// `path` ("/socket.io/"), `transports` (["polling","websocket"]),
/// `allow_upgrades` (true), `ping_interval_ms` (25000), `ping_timeout_ms`
/// (20000), `max_payload` (1000000 bytes), `upgrade_timeout_ms` (10000),
/// `max_buffer_size` (256 packets queued per client), `connect_timeout_ms`
/// (45000; also bounds a middleware's answer), `ack_timeout_ms` (5000),
/// `max_attachments` (10), `max_json_depth` (128, at most 512: deeper
/// JSON in a packet closes its connection; with the msgpack parser it
/// bounds the arrays and maps of a packet the same way), `parser`
/// ("default", the official JSON parser; "msgpack": the one of
/// `socket.io-msgpack-parser` and python-socketio's `serializer="msgpack"`,
/// one binary message per packet, which every client must use too; any
/// other name gives `OXSIO_RESULT_INVALID_CONFIG`), `max_rooms_per_socket` (10000),
/// `max_pending_acks` (4096 per socket), `max_connections` (250000; more
/// get HTTP 503), `cors_origins` (["https://a.example"] or
/// ["*"]; CORS off when absent), `cors_credentials` (false),
/// `allowed_origins` (absent: no check, as Node; a list refuses requests
/// whose `Origin` is not in it with HTTP 400, polling and WebSocket alike;
/// ["same-origin"] allows the server's own origin only),
/// `http_compression_threshold` (1024: gzip/deflate long-polling responses
/// from this size; -1 turns it off), `per_message_deflate_threshold`
/// (absent or -1: off, as Node; N: agree on WebSocket permessage-deflate
/// and compress messages from N bytes), `allow_eio3` (false: serve
/// Socket.IO 2.x clients too, as Node's `allowEIO3`), `cookie`
/// (sticky-session cookie name), `event_queue_capacity` (4096: poll-mode
/// queue bound, see `oxsio_server_poll`), `redis_url` (e.g.
/// "redis://127.0.0.1:6379": join a cluster of oxsio and Node.js nodes
/// speaking `@socket.io/redis-adapter`; absent: single node),
/// `redis_prefix` ("socket.io"; only with `redis_url`), `adapter` (absent:
/// single node, or `redis_url`; an object picks the cluster adapter, with
/// `kind` "redis" (classic `createAdapter`: `url`, `prefix` "socket.io",
/// `requests_timeout_ms` 5000) or "redis-sharded" (`createShardedAdapter`
/// on a Redis Cluster: `nodes` (seed URLs), `prefix` "socket.io",
/// `subscription_mode` "static", "dynamic" (default) or
/// "dynamic-private", `requests_timeout_ms` 5000: how long fetch_sockets
/// waits for the other nodes) or "redis-streams"
/// (`@socket.io/redis-streams-adapter` 0.3, with connection state recovery
/// across nodes: `url` (one Redis) or `nodes` (a Redis Cluster's seed
/// URLs), `use_sharded_pub_sub` false (Redis Cluster only), `prefix` "socket.io" (Pub/Sub
/// channels), `stream_name` "socket.io", `stream_count` 1, `max_len`
/// 10000, `read_count` 100, `block_time_ms` 5000, `session_key_prefix`
/// "sio:session:", `only_plaintext` false, `requests_timeout_ms` 5000) or
/// "postgres" (`@socket.io/postgres-adapter`:
/// `url` (connection string), `prefix` "socket.io", `table_name`
/// "socket_io_attachments", `payload_threshold` 8000, `cleanup_interval_ms`
/// 30000, `requests_timeout_ms` 5000); every node of a cluster must use the
/// same kind, prefix and mode; not with `redis_url`), and
/// `connection_state_recovery` (absent:
/// off; an object turns it on, with optional keys
/// `max_disconnection_duration_ms` (120000), `skip_middlewares` (true),
/// `max_stored_packets` (100000 per namespace), `max_packets_per_session`
/// (10000) and `max_sessions` (100000 per namespace); a reconnecting
/// client gets back its id, rooms and missed events, and its `CONNECTION`
/// event reports `oxsio_event_recovered`), and `tls` (absent: plain
/// HTTP; an object makes `oxsio_server_listen` serve https / wss, with
/// `cert_file` or `cert_pem` (the chain, leaf first, PEM), `key_file` or
/// `key_pem` (PEM), optionally `client_ca_file` or `client_ca_pem` (verify
/// client certificates against these CAs; required unless
/// `client_auth_optional` is true) and `handshake_timeout_ms` (10000);
/// files are read here, and a missing file, bad PEM or a key that does not
/// match gives `OXSIO_RESULT_INVALID_CONFIG`), and `metrics_path` (absent:
/// no metrics; e.g. "/metrics": Prometheus metrics counted and served there
/// by `oxsio_server_listen`; `oxsio_server_metrics` renders them for a host
/// with its own HTTP server), and `admin_ui` (absent: off; an object serves
/// the Socket.IO Admin UI protocol, `@socket.io/admin-ui` 0.5, with
/// `auth` (required: `false`, or `{"username": "admin", "password":
/// "<bcrypt hash of the password>"}`), `namespace` ("/admin"), `read_only`
/// (false: the UI may join, leave, emit and disconnect), `mode`
/// ("development": every socket, room and event; "production": stats
/// only), `server_id` (the host name) and `stats_interval_ms` (2000); a
/// password that is not a bcrypt hash gives `OXSIO_RESULT_INVALID_CONFIG`).
///
/// `dispatch` is `OXSIO_DISPATCH_CALLBACK` or `OXSIO_DISPATCH_POLL`.
///
/// Ownership: release `*out_server` with `oxsio_server_free`.
/// Borrowing: `config_json` is read during the call. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_new(
    config_json: *const c_char,
    dispatch: u32,
    out_server: *mut *mut oxsio_server,
) -> oxsio_result {
    guard(|| {
        need_out(out_server, "out_server")?;
        let mode = oxsio_dispatch::from_u32(dispatch)?;
        let config: ServerConfig = parse_config(opt_str_arg(config_json, "config_json")?)?;
        let allow: AllowSlot = Arc::default();
        let (io, cap, request_timeout, tls) = config.build(allow.clone())?;
        let shared = Arc::new(ServerShared {
            io,
            allow,
            dynamic: Mutex::new(Vec::new()),
            server_events: Mutex::new(HashMap::new()),
            dispatch: Dispatch::new(mode, cap),
            running: Mutex::new(None),
            port: AtomicU16::new(0),
            connection: Mutex::new(HashMap::new()),
            middlewares: Mutex::new(Vec::new()),
            namespaces: Mutex::new(HashSet::new()),
            sockets: Mutex::new(HashSet::new()),
            names: NameCache::default(),
            handle: AtomicUsize::new(0),
            request_timeout,
            tls,
        });
        shared.declare("/");
        let h = register(Entry::Server(shared.clone()));
        shared.handle.store(h, Ordering::Release);
        write_out(out_server, ptr(h), "out_server")
    })
}

/// Starts serving on `address` (e.g. `"127.0.0.1:0"`; port 0 picks a free
/// port) and writes the bound port; https / wss when the config has `tls`.
///
/// NULL: `out_port` may be NULL. Threads: any thread but a library thread
/// (binding waits at most 10 s). Returns: `OXSIO_RESULT_IO` when the
/// address cannot be bound, `OXSIO_RESULT_INVALID_ARGUMENT` when already
/// listening, `OXSIO_RESULT_WOULD_BLOCK` inside a callback.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_listen(
    server: *const oxsio_server,
    address: *const c_char,
    out_port: *mut u16,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let addr = str_arg(address, "address")?.to_owned();
        if lock(&s.running).is_some() {
            return Err(Error::new(
                oxsio_result::InvalidArgument,
                "the server is already listening",
            ));
        }
        let io = s.io.clone();
        let tls = s.tls.clone();
        let handle = block_on(
            async move {
                match tls {
                    Some(tls) => io.listen_tls(addr, tls).await,
                    None => io.listen(addr).await,
                }
            },
            Duration::from_secs(10),
        )?
        .map_err(|e| Error::new(oxsio_result::Io, format!("cannot listen: {e}")))?;
        let port = handle.local_addr().port();
        if s.dispatch.is_closed() {
            return Err(Error::from(oxsio_result::Closed));
        }
        *lock(&s.running) = Some(handle);
        s.port.store(port, Ordering::Release);
        crate::boundary::write_opt(out_port, port);
        Ok(())
    })
}

/// Copies the Prometheus metrics (text format 0.0.4) into `buf` with a
/// terminating NUL, and their length (without NUL) into `*out_len`.
/// Their names are in the README ("Prometheus metrics").
///
/// NULL: `buf` may be NULL when `capacity` is 0 (to learn the length);
/// `out_len` may be NULL. Threads: any. Returns:
/// `OXSIO_RESULT_INVALID_ARGUMENT` when the config had no `metrics_path`,
/// `OXSIO_RESULT_BUFFER_TOO_SMALL` (with `*out_len` set) when `capacity` <
/// length + 1 (the text grows with traffic: leave room).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_metrics(
    server: *const oxsio_server,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let text = s.io.metrics().ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                "metrics are off: set metrics_path in the server config",
            )
        })?;
        crate::boundary::write_opt(out_len, text.len());
        if capacity < text.len() + 1 || buf.is_null() {
            return Err(Error::new(
                oxsio_result::BufferTooSmall,
                format!("the metrics need {} bytes", text.len() + 1),
            ));
        }
        // SAFETY: the caller passes `capacity` writable bytes at `buf`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            buf.add(text.len()).write(0);
        }
        Ok(())
    })
}

/// The bound port (0 when not listening).
///
/// NULL: `out_port` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_port(
    server: *const oxsio_server,
    out_port: *mut u16,
) -> oxsio_result {
    guard(|| {
        write_out(
            out_port,
            srv(server)?.port.load(Ordering::Acquire),
            "out_port",
        )
    })
}

/// Declares the namespace `nsp` (e.g. `"/admin"`; idempotent). Clients can
/// only join declared namespaces; the others get `"Invalid namespace"`.
///
/// Borrowing: `nsp` is copied.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_of(server: *const oxsio_server, nsp: *const c_char) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let nsp = normalize(Some(str_arg(nsp, "nsp")?));
        s.declare(&nsp);
        Ok(())
    })
}

/// Callback mode: calls `callback` with an `OXSIO_EVENT_KIND_CONNECTION` event
/// for each socket joining `nsp` (NULL: `"/"`; declared if needed). Inside
/// it, register the socket's handlers with `oxsio_socket_on`: its packets
/// wait until this callback returns.
///
/// Ownership: `user_data_free` is called once when the server is freed,
/// only if this returns `OXSIO_RESULT_OK`. Threads: the callback runs on a
/// library thread. Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_on_connection(
    server: *const oxsio_server,
    nsp: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let nsp = normalize(opt_str_arg(nsp, "nsp")?);
        if s.dispatch.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "poll-mode server: CONNECTION events arrive from oxsio_server_poll",
            ));
        }
        let cb = Callback::new(callback, user_data, user_data_free)?;
        s.declare(&nsp);
        lock(&s.connection).entry(nsp).or_default().push(cb);
        Ok(())
    })
}

/// Callback mode: dynamic namespaces (Node's `io.of(regex or function)`).
/// A client asking for a namespace that was not declared is let in when
/// `predicate` returns true for its name (on a library thread; answer
/// quickly); the namespace is then created, declared (targets and
/// `oxsio_server_socket_count` accept it) and keeps existing. Each socket
/// joining such a namespace comes to `on_connection` (may be NULL) as a
/// `CONNECTION` event, like `oxsio_server_on_connection`. Several
/// predicates are tried in order; declared namespaces never ask them.
///
/// Ownership: `user_data` is passed to both callbacks; `user_data_free`
/// (may be NULL) is called exactly once when the server is freed, only if
/// this returns `OXSIO_RESULT_OK`. NULL: `predicate` must not be NULL.
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server (the library
/// runs no host code there: declare namespaces with `oxsio_server_of`).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_of_dynamic(
    server: *const oxsio_server,
    predicate: oxsio_namespace_predicate_cb,
    on_connection: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        if s.dispatch.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "oxsio_server_of_dynamic on a poll-mode server: declare namespaces with oxsio_server_of",
            ));
        }
        let predicate =
            predicate.ok_or_else(|| Error::new(oxsio_result::NullArgument, "predicate is NULL"))?;
        let conn = match on_connection {
            Some(_) => Some(Callback::new(on_connection, user_data, None)?),
            None => None,
        };
        let hook = Arc::new(DynamicHook {
            predicate,
            user_data,
            free: user_data_free,
        });
        let weak_hook = Arc::downgrade(&hook);
        lock(&s.dynamic).push(hook);
        let template = s.io.of_dynamic(move |name: &str| {
            let Some(h) = weak_hook.upgrade() else {
                return false;
            };
            let Ok(c) = std::ffi::CString::new(name) else {
                return false;
            };
            // SAFETY: the host's predicate with its user_data; the name
            // lives for the call.
            unsafe { (h.predicate)(h.user_data, c.as_ptr()) }
        });
        let weak = Arc::downgrade(&s);
        template.on_connection(move |socket: Socket| {
            let Some(me) = weak.upgrade() else { return };
            let ns = socket.ns().to_owned();
            lock(&me.namespaces).insert(ns.clone());
            if let Some(cb) = &conn {
                let mut map = lock(&me.connection);
                let list = map.entry(ns).or_default();
                if !list.iter().any(|c| Arc::ptr_eq(c, cb)) {
                    list.push(cb.clone());
                }
            }
            me.on_connection(socket);
        });
        Ok(())
    })
}

/// Callback mode: `callback` decides on every Engine.IO handshake before a
/// session exists (Node's `allowRequest`), on a library thread; the
/// handshake waits for it, so answer quickly. It gets the request as JSON
/// (`{"url":..,"query":"raw query","headers":{..},"address":"ip:port",
/// "secure":false}`) and returns true to let it in; false answers HTTP
/// 403 with the NUL-terminated text it wrote into `reason` (at most
/// `reason_capacity` bytes; empty: `"Forbidden"`), which the client sees
/// as a connect error. NULL `callback` removes the hook. Replaces an
/// earlier hook.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the hook is replaced or removed or the server freed, only if this
/// returns `OXSIO_RESULT_OK`. Returns: `OXSIO_RESULT_WRONG_MODE` on a
/// poll-mode server (the library runs no host code there).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_allow_request(
    server: *const oxsio_server,
    callback: oxsio_allow_request_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        if s.dispatch.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "oxsio_server_allow_request on a poll-mode server",
            ));
        }
        let hook = callback.map(|cb| {
            Arc::new(AllowHook {
                cb,
                user_data,
                free: user_data_free,
            })
        });
        let old = std::mem::replace(&mut *lock(&s.allow), hook);
        drop(old);
        Ok(())
    })
}

/// Adds a connect middleware to `nsp` (NULL: `"/"`): each client joining it
/// first produces an `OXSIO_EVENT_KIND_CONNECTION_REQUEST`, answered with
/// `oxsio_event_accept` / `oxsio_event_refuse` (at once or later, from any
/// thread; unanswered within `connect_timeout_ms`, or released unanswered,
/// it is refused). Callback mode: `callback` receives the request. Poll
/// mode: `callback` must be NULL; requests arrive from `oxsio_server_poll`.
///
/// Ownership: `user_data_free` as for `oxsio_server_on_connection`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_use(
    server: *const oxsio_server,
    nsp: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let nsp = normalize(opt_str_arg(nsp, "nsp")?);
        let cb =
            crate::socket::ack_callback(s.dispatch.is_poll(), callback, user_data, user_data_free)?;
        if !s.dispatch.is_poll() && cb.is_none() {
            return Err(Error::new(oxsio_result::NullArgument, "callback is NULL"));
        }
        s.add_middleware(&nsp, cb);
        Ok(())
    })
}

/// Sends an event to the sockets `target` selects (NULL: every socket of
/// `"/"`); the packet is encoded once. Arguments as for `oxsio_socket_emit`.
///
/// Threads: any. Never blocks. Returns: `OXSIO_RESULT_PARTIAL_BROADCAST`
/// when some sockets' queues were full (the others got it).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_emit(
    server: *const oxsio_server,
    target: *const oxsio_target,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let op = s.target(target)?;
        let name = str_arg(event, "event")?;
        let args = args_of(args_json, buffers, buffer_count)?;
        op.emit(name, args).map_err(Error::from)
    })
}

/// Broadcasts an event with one binary argument, without JSON.
///
/// Borrowing: `data` is copied. NULL: `data` may be NULL when `len` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_emit_binary(
    server: *const oxsio_server,
    target: *const oxsio_target,
    event: *const c_char,
    data: *const u8,
    len: usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let op = s.target(target)?;
        let name = str_arg(event, "event")?;
        op.emit(name, binary_arg(data, len)?).map_err(Error::from)
    })
}

/// Makes the selected sockets join `room`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_sockets_join(
    server: *const oxsio_server,
    target: *const oxsio_target,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let op = s.target(target)?;
        op.sockets_join(str_arg(room, "room")?);
        Ok(())
    })
}

/// Makes the selected sockets leave `room`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_sockets_leave(
    server: *const oxsio_server,
    target: *const oxsio_target,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let op = s.target(target)?;
        op.sockets_leave(str_arg(room, "room")?);
        Ok(())
    })
}

/// Disconnects the selected sockets; with `close`, their connections too.
///
/// Threads: any. Never blocks on the network.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_disconnect_sockets(
    server: *const oxsio_server,
    target: *const oxsio_target,
    close: bool,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        s.target(target)?.disconnect_sockets(close);
        Ok(())
    })
}

/// The connected socket `sid` of namespace `nsp` (NULL: `"/"`).
///
/// Borrowing: the handle is owned by the server (see `oxsio_socket`).
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` when no such socket is connected.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_socket(
    server: *const oxsio_server,
    nsp: *const c_char,
    sid: *const c_char,
    out_socket: *mut *mut oxsio_socket,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let ns = s.namespace(opt_str_arg(nsp, "nsp")?)?;
        let sid = str_arg(sid, "sid")?;
        let found = Sid::parse(sid)
            .and_then(|sid| ns.get_socket(sid))
            .and_then(|sock| sock.get::<SocketHandle>());
        match found {
            Some(SocketHandle(h)) => write_out(out_socket, ptr(h), "out_socket"),
            None => Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("no socket {sid:?} connected"),
            )),
        }
    })
}

/// Sends an event to the sockets `target` selects (NULL: every socket of
/// `"/"`), each asked for an acknowledgement, and gathers their replies
/// (Node's `io.timeout(ms).emit(event, ..., (err, replies) => ...)`): one
/// `OXSIO_EVENT_KIND_ACK` whose id is `*out_ack_id` and whose arguments
/// are the replies, one JSON array per socket that answered
/// (`[[reply of a], [reply of b]]`, in no set order; buffers numbered over
/// the whole event), or `OXSIO_RESULT_TIMEOUT` when some did not answer
/// within `timeout_ms` (0: the server's `ack_timeout_ms`). No socket
/// selected: the reply comes at once with no argument. The event has no
/// socket (`oxsio_event_socket` gives `OXSIO_RESULT_INVALID_ARGUMENT`).
/// Callback mode: to `callback` (NULL: ignored). Poll mode: from
/// `oxsio_server_poll` (`callback` must be NULL).
///
/// Ownership: `user_data_free` is called once after the reply was handled,
/// only if this returns `OXSIO_RESULT_OK`. NULL: `out_ack_id` may be NULL.
/// Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_emit_with_ack(
    server: *const oxsio_server,
    target: *const oxsio_target,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
    timeout_ms: u32,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
    out_ack_id: *mut u64,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let mut op = s.target(target)?;
        if timeout_ms > 0 {
            op = op.timeout(Duration::from_millis(timeout_ms.into()));
        }
        let name = str_arg(event, "event")?.to_owned();
        let args = args_of(args_json, buffers, buffer_count)?;
        let nsp = normalize(if target.is_null() {
            None
        } else {
            // SAFETY: the caller passes a readable oxsio_target for the call.
            let t = unsafe { &*target };
            opt_str_arg(t.nsp, "target.nsp")?
        });
        let cb = ack_callback(s.dispatch.is_poll(), callback, user_data, user_data_free)?;
        let mut fut: std::pin::Pin<
            Box<dyn std::future::Future<Output = std::result::Result<Vec<Args>, AckError>> + Send>,
        > = Box::pin(async move { op.emit_with_ack(&name, args).await });
        let first = poll_once(&mut fut);
        if let Some(Err(e)) = &first
            && !matches!(e, AckError::Timeout | AckError::Disconnected)
        {
            if let Some(cb) = cb {
                forget_free(cb);
            }
            return Err(e.clone().into());
        }
        let ack_id = next_ack_id();
        write_opt(out_ack_id, ack_id);
        let weak = Arc::downgrade(&s);
        let finish = move |r: std::result::Result<Vec<Args>, AckError>| {
            let mut ev = EventData::new(oxsio_event_kind::Ack, &nsp);
            ev.id = ack_id;
            let ev = match r {
                Ok(replies) => {
                    ev.args = replies.into_iter().map(Value::Array).collect();
                    ev
                }
                Err(e) => {
                    let e = Error::from(e);
                    ev.with_error(e.code, &e.detail)
                }
            };
            let Some(server) = weak.upgrade() else {
                return;
            };
            match cb {
                Some(cb) => call_all(&server.dispatch, &[cb], ev),
                None if server.dispatch.is_poll() => server.dispatch.push(ev),
                None => {}
            }
        };
        match first {
            Some(r) => finish(r),
            None => {
                oxsio_core::runtime::spawn(async move { finish(fut.await) });
            }
        }
        Ok(())
    })
}

/// Receives the events other nodes send to namespace `nsp` (NULL: `"/"`;
/// declared if needed) with `server_side_emit` (Node's
/// `io.on("event", ...)` / `io.serverSideEmit`), as
/// `OXSIO_EVENT_KIND_SERVER_EVENT` events: name, arguments, no socket;
/// answer with `oxsio_event_ack` when `oxsio_event_wants_ack` (the first
/// argument is the node's reply). Callback mode: to `callback`, on a
/// library thread. Poll mode: `callback` must be NULL and the events come
/// from `oxsio_server_poll` once this was called for the namespace.
/// With a single node (no `redis_url`) no such event ever comes.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the server is freed, only if this returns `OXSIO_RESULT_OK`.
/// Returns: `OXSIO_RESULT_WRONG_MODE` for a callback on a poll-mode server
/// or none on a callback-mode one.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_on_server_event(
    server: *const oxsio_server,
    nsp: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let name = normalize(opt_str_arg(nsp, "nsp")?);
        let cb = match (s.dispatch.is_poll(), callback) {
            (true, None) => None,
            (false, Some(_)) => Some(Callback::new(callback, user_data, user_data_free)?),
            (true, Some(_)) => {
                return Err(Error::new(
                    oxsio_result::WrongMode,
                    "a callback on a poll-mode server: server events arrive from oxsio_server_poll",
                ));
            }
            (false, None) => {
                return Err(Error::new(oxsio_result::NullArgument, "callback is NULL"));
            }
        };
        let ns = s.declare(&name);
        let mut map = lock(&s.server_events);
        let listen = !map.contains_key(&name);
        let list = map.entry(name.clone()).or_default();
        if let Some(cb) = cb {
            list.push(cb);
        }
        drop(map);
        if listen {
            let weak = Arc::downgrade(&s);
            ns.on_server_event(move |e: oxsio_core::ServerEvent| {
                let Some(me) = weak.upgrade() else { return };
                if me.dispatch.is_closed() {
                    return;
                }
                let mut ev = EventData::message(
                    NulStr::new(&name),
                    me.names.get(&e.name),
                    e.args,
                    e.ack.map(Acker::Node),
                );
                ev.kind = oxsio_event_kind::ServerEvent;
                if me.dispatch.is_poll() {
                    me.dispatch.push(ev);
                } else {
                    let cbs = lock(&me.server_events)
                        .get(&name)
                        .cloned()
                        .unwrap_or_default();
                    call_all(&me.dispatch, &cbs, ev);
                }
            });
        }
        Ok(())
    })
}

/// Sends an event to the server-side handlers of every other node of the
/// cluster (Node's `io.serverSideEmit`), in namespace `nsp` (NULL: `"/"`;
/// declared). Fire and forget; with a single node nothing is sent.
///
/// Borrowing: every argument is copied. Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_server_side_emit(
    server: *const oxsio_server,
    nsp: *const c_char,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let ns = s.namespace(opt_str_arg(nsp, "nsp")?)?;
        let name = str_arg(event, "event")?.to_owned();
        let args = args_of(args_json, buffers, buffer_count)?;
        oxsio_core::runtime::spawn(async move { ns.server_side_emit(&name, args).await });
        Ok(())
    })
}

/// As `oxsio_server_server_side_emit`, gathering one reply per other node
/// within `timeout_ms` (0: 5000): an `OXSIO_EVENT_KIND_ACK` whose id is
/// `*out_ack_id`, whose arguments are the replies (one value per node, in
/// no set order), or `OXSIO_RESULT_TIMEOUT` when a node did not answer in
/// time. The event has no socket. Callback mode: to `callback` (NULL:
/// ignored). Poll mode: from `oxsio_server_poll` (`callback` must be NULL).
///
/// Ownership: `user_data_free` is called once after the reply was handled,
/// only if this returns `OXSIO_RESULT_OK`. NULL: `out_ack_id` may be NULL.
/// Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_server_side_emit_with_ack(
    server: *const oxsio_server,
    nsp: *const c_char,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
    timeout_ms: u32,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
    out_ack_id: *mut u64,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let nsp_name = normalize(opt_str_arg(nsp, "nsp")?);
        let ns = s.namespace(Some(&nsp_name))?;
        let name = str_arg(event, "event")?.to_owned();
        let args = args_of(args_json, buffers, buffer_count)?;
        let cb = ack_callback(s.dispatch.is_poll(), callback, user_data, user_data_free)?;
        let timeout = Duration::from_millis(if timeout_ms == 0 {
            5000
        } else {
            timeout_ms.into()
        });
        let ack_id = next_ack_id();
        write_opt(out_ack_id, ack_id);
        let weak = Arc::downgrade(&s);
        oxsio_core::runtime::spawn(async move {
            let r = ns.server_side_emit_with_ack(&name, args, timeout).await;
            let mut ev = EventData::new(oxsio_event_kind::Ack, &nsp_name);
            ev.id = ack_id;
            let ev = match r {
                Ok(replies) => {
                    ev.args = replies;
                    ev
                }
                Err(e) => {
                    let e = Error::from(e);
                    ev.with_error(e.code, &e.detail)
                }
            };
            let Some(server) = weak.upgrade() else {
                return;
            };
            match cb {
                Some(cb) => call_all(&server.dispatch, &[cb], ev),
                None if server.dispatch.is_poll() => server.dispatch.push(ev),
                None => {}
            }
        });
        Ok(())
    })
}

/// Copies the sockets `target` selects (NULL: every socket of `"/"`), on
/// every node with a multi-node adapter (Node's `fetchSockets()`), as a
/// JSON array into `buf` with a terminating NUL, and its length (without
/// NUL) into `*out_len`. Each element is
/// `{"id":..,"nsp":..,"rooms":[..],"handshake":{..},"data":..}`: rooms
/// sorted, own id room included; the handshake as
/// `oxsio_event_handshake_json` gives it; `data` as
/// `oxsio_socket_data_json`.
///
/// Ownership: copied into your buffer. NULL: `buf` may be NULL when
/// `capacity` is 0 (to learn the length); `out_len` may be NULL.
/// Threads: any thread but a library thread (other nodes are asked and
/// waited for, at most `timeout_ms`; 0 means 5000).
/// Returns: `OXSIO_RESULT_BUFFER_TOO_SMALL` (with `*out_len` set) when
/// `capacity` < length + 1 (each call fetches again: sockets may have come
/// or gone, so leave room), `OXSIO_RESULT_TIMEOUT`,
/// `OXSIO_RESULT_WOULD_BLOCK` inside a callback.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_fetch_sockets(
    server: *const oxsio_server,
    target: *const oxsio_target,
    timeout_ms: u32,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let op = s.target(target)?;
        let timeout = if timeout_ms == 0 { 5000 } else { timeout_ms };
        let found = block_on(
            async move { op.fetch_sockets().await },
            Duration::from_millis(timeout.into()),
        )?;
        let mut text = String::from("[");
        for (i, rs) in found.iter().enumerate() {
            let mut rooms: Vec<String> = rs.rooms.iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let rooms = serde_json::to_string(&rooms)
                .map_err(|e| Error::new(oxsio_result::Internal, e.to_string()))?;
            let id = serde_json::to_string(&rs.id.to_string())
                .map_err(|e| Error::new(oxsio_result::Internal, e.to_string()))?;
            let nsp = serde_json::to_string(&rs.nsp)
                .map_err(|e| Error::new(oxsio_result::Internal, e.to_string()))?;
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!(
                "{{\"id\":{id},\"nsp\":{nsp},\"rooms\":{rooms},\"handshake\":{},\"data\":{}}}",
                plain_json(&rs.handshake),
                plain_json(&rs.data)
            ));
        }
        text.push(']');
        copy_text(&text, buf, capacity, out_len, "the sockets")
    })
}

/// The number of sockets connected to namespace `nsp` (NULL: `"/"`) on this node.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_socket_count(
    server: *const oxsio_server,
    nsp: *const c_char,
    out_count: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let ns = s.namespace(opt_str_arg(nsp, "nsp")?)?;
        write_out(out_count, ns.sockets().len(), "out_count")
    })
}

/// Poll mode: takes the next queued event, never blocking.
/// `while (oxsio_server_poll(s, &ev) == OXSIO_RESULT_OK) { ...; oxsio_event_free(ev); }`
///
/// The queue holds at most `event_queue_capacity` events; when it is full,
/// new `OXSIO_EVENT_KIND_MESSAGE` events are dropped (and counted, see
/// `oxsio_server_dropped_events`); connection, disconnection, ack and
/// request events are always queued.
///
/// Ownership: release `*out_event` with `oxsio_event_free`.
/// Threads: any (typically the host's main loop).
/// Returns: `OXSIO_RESULT_EMPTY` when nothing is queued,
/// `OXSIO_RESULT_WRONG_MODE` on a callback-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_poll(
    server: *const oxsio_server,
    out_event: *mut *mut oxsio_event,
) -> oxsio_result {
    guard(|| {
        need_out(out_event, "out_event")?;
        let h = srv(server)?.dispatch.poll()?;
        write_out(out_event, ptr(h), "out_event")
    })
}

/// Poll mode: waits until an event is queued, at most `timeout_ms`.
///
/// Threads: any; blocks the caller only. Returns: `OXSIO_RESULT_OK` when
/// an event is ready, `OXSIO_RESULT_TIMEOUT` otherwise,
/// `OXSIO_RESULT_CLOSED` once the server is freed.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_wait(server: *const oxsio_server, timeout_ms: u32) -> oxsio_result {
    guard(|| {
        let d = srv(server)?.dispatch.clone();
        d.wait(Duration::from_millis(timeout_ms.into()))
    })
}

/// Poll mode: how many `MESSAGE` events the overflow policy dropped so far.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_dropped_events(
    server: *const oxsio_server,
    out_count: *mut u64,
) -> oxsio_result {
    guard(|| write_out(out_count, srv(server)?.dispatch.dropped(), "out_count"))
}

/// Stops accepting, disconnects every socket (`"server shutting down"`)
/// and closes every connection, waiting at most `timeout_ms` (the events
/// of those disconnections still arrive). Inside a callback it starts the
/// shutdown without waiting.
///
/// Threads: any. Returns: `OXSIO_RESULT_TIMEOUT` when connections were
/// still closing after `timeout_ms` (the shutdown goes on in the background).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_shutdown(
    server: *const oxsio_server,
    timeout_ms: u32,
) -> oxsio_result {
    guard(|| {
        let s = srv(server)?;
        let running = lock(&s.running).take();
        let io = s.io.clone();
        let fut = async move {
            match running {
                Some(h) => h.shutdown().await,
                None => io.shutdown().await,
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            oxsio_core::runtime::spawn(fut);
            return Ok(());
        }
        block_on(fut, Duration::from_millis(timeout_ms.into()))
    })
}

/// Releases the server: no event or callback after this returns (except a
/// callback already running on another thread), queued events are
/// dropped, socket handles become invalid, registered `user_data_free`s
/// run, and connections are closed in the background. NULL is accepted.
///
/// Threads: any, including inside one of this server's callbacks.
/// Never blocks on the network.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_server_free(server: *mut oxsio_server) -> oxsio_result {
    guard(|| {
        if server.is_null() {
            return Ok(());
        }
        let entry = unregister_if(id(server), |e| matches!(e, Entry::Server(_)))?;
        if let Entry::Server(s) = entry {
            s.close();
        }
        Ok(())
    })
}

#[cfg(test)]
mod adapter_config_tests {
    use super::*;

    fn code(config: &str) -> oxsio_result {
        let c = std::ffi::CString::new(config).unwrap();
        let mut out: *mut oxsio_server = std::ptr::null_mut();
        let r = oxsio_server_new(c.as_ptr(), oxsio_dispatch::Poll as u32, &mut out);
        if r == oxsio_result::Ok {
            oxsio_server_free(out);
        }
        r
    }

    #[test]
    fn the_adapter_object_is_checked() {
        let bad = [
            r#"{"adapter": {"kind": "mongo", "url": "redis://127.0.0.1:1"}}"#,
            r#"{"adapter": {"kind": "redis"}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "nodes": []}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "url": "redis://127.0.0.1:1"}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "nodes": []}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "nodes": ["redis://127.0.0.1:1"], "subscription_mode": "Dynamic"}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "keyPrefix": "x"}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1"}, "redis_url": "redis://127.0.0.1:1"}"#,
            r#"{"redis_prefix": "x"}"#,
            r#"{"adapter": {"kind": "postgres"}}"#,
            r#"{"adapter": {"kind": "postgres", "url": "postgres://u@127.0.0.1:1/db", "table_name": "x; drop"}}"#,
            r#"{"adapter": {"kind": "postgres", "url": "postgres://u@127.0.0.1:1/db", "subscription_mode": "static"}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "table_name": "t"}}"#,
            r#"{"adapter": {"kind": "redis-streams"}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "stream_count": 0}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "read_count": 0}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "block_time_ms": 0}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "stream_name": ""}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "nodes": ["redis://127.0.0.1:1"]}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "use_sharded_pub_sub": true}}"#,
            r#"{"adapter": {"kind": "redis-streams", "nodes": []}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "requests_timeout_ms": 0}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "nodes": ["redis://127.0.0.1:1"], "requests_timeout_ms": 0}}"#,
            r#"{"adapter": {"kind": "postgres", "url": "postgres://x@127.0.0.1:1/x", "cleanup_interval_ms": 0}}"#,
            r#"{"adapter": {"kind": "postgres", "url": "postgres://x@127.0.0.1:1/x", "requests_timeout_ms": 0}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "use_sharded_pub_sub": true}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "subscription_mode": "static"}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "table_name": "t"}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "streamName": "s"}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "nope://x"}}"#,
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "stream_count": 2}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "nodes": ["redis://127.0.0.1:1"], "max_len": 5}}"#,
        ];
        for c in bad {
            assert_eq!(code(c), oxsio_result::InvalidConfig, "{c}");
        }
        let good = [
            r#"{"adapter": {"kind": "redis", "url": "redis://127.0.0.1:1", "prefix": "p", "requests_timeout_ms": 100}}"#,
            r#"{"adapter": {"kind": "redis-sharded", "nodes": ["redis://127.0.0.1:1"], "subscription_mode": "dynamic-private"}}"#,
            r#"{"adapter": {"kind": "postgres", "url": "postgres://u@127.0.0.1:1/db", "payload_threshold": 100, "cleanup_interval_ms": 1000}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1"}}"#,
            r#"{"adapter": {"kind": "redis-streams", "nodes": ["redis://127.0.0.1:1", "redis://127.0.0.1:2"], "use_sharded_pub_sub": true, "stream_count": 3}}"#,
            r#"{"adapter": {"kind": "redis-streams", "url": "redis://127.0.0.1:1", "prefix": "p", "stream_name": "s", "stream_count": 3, "max_len": 100, "read_count": 10, "block_time_ms": 1000, "session_key_prefix": "k:", "only_plaintext": true, "requests_timeout_ms": 100}, "connection_state_recovery": {}}"#,
        ];
        for c in good {
            assert_eq!(code(c), oxsio_result::Ok, "{c}");
        }
    }
}
