//! `oxsio_client`: a client socket (one namespace) over a manager's connection.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxsio_core::client::{
    Auth, Buffering, ClientAckFuture, ClientError, ClientEvent, ClientOptions, ClientSocket,
    Manager, Reconnection, RootCerts, Status, TlsOptions,
};
use oxsio_core::{Args, Value};
use serde::Deserialize;

use crate::boundary::{
    Entry, copy_text, get_client, guard, id, need_out, opt_str_arg, ptr, register, str_arg,
    unregister_if, write_opt, write_out,
};
use crate::dispatch::{
    Callback, DEFAULT_QUEUE, Dispatch, Handlers, block_on, call_all, lock, oxsio_dispatch,
    oxsio_event_cb, oxsio_free_cb,
};
use crate::error::{Error, Result, oxsio_result};
use crate::event::{Acker, EventData, oxsio_event, oxsio_event_kind};
use crate::payload::{NulStr, oxsio_buf, parse_value};
use crate::server::{emit_flags, parse_config, transports};
use crate::socket::{ack_callback, args_of, binary_arg, forget_free, next_ack_id, poll_once};

/// A client handle (one namespace of a connection), made by
/// `oxsio_client_new` / `oxsio_client_connect` / `oxsio_client_of`,
/// released by `oxsio_client_free`.
pub struct oxsio_client {
    _private: [u8; 0],
}

/// Connection state of a client (`oxsio_client_get_state`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_client_state {
    /// Not connected and not trying.
    Disconnected = 0,
    /// Connecting or reconnecting.
    Connecting = 1,
    /// Connected to the namespace.
    Connected = 2,
    /// Refused by the server's middleware (final until `oxsio_client_open`).
    Refused = 3,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ClientConfig {
    path: Option<String>,
    transports: Option<Vec<String>>,
    upgrade: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
    query: Option<BTreeMap<String, String>>,
    auth: Option<serde_json::Value>,
    reconnection: Option<bool>,
    reconnection_attempts: Option<u32>,
    reconnection_delay_ms: Option<u64>,
    reconnection_delay_max_ms: Option<u64>,
    randomization_factor: Option<f64>,
    connect_timeout_ms: Option<u64>,
    ack_timeout_ms: Option<u64>,
    tls_roots: Option<String>,
    tls_ca_pem: Option<String>,
    tls_accept_invalid_certs: Option<bool>,
    buffering: Option<bool>,
    buffer_max_packets: Option<usize>,
    buffer_max_bytes: Option<usize>,
    queue_size: Option<usize>,
    retry_refused: Option<bool>,
    retries: Option<u32>,
    event_queue_capacity: Option<usize>,
    max_attachments: Option<usize>,
    max_json_depth: Option<usize>,
    max_payload: Option<usize>,
    per_message_deflate_threshold: Option<i64>,
    eio3: Option<bool>,
    parser: Option<String>,
}

/// Refuses a callback registration on a poll-mode client with `message`.
fn callback_mode(c: &ClientShared, message: &str) -> Result<()> {
    if c.dispatch.is_poll() {
        return Err(Error::new(oxsio_result::WrongMode, message));
    }
    Ok(())
}

fn bad(msg: String) -> Error {
    Error::new(oxsio_result::InvalidConfig, msg)
}

/// The `parser` of a server or client config: "default" (or "json") and
/// "msgpack".
pub(crate) fn parser(name: &str) -> Result<oxsio_core::codec::Parser> {
    oxsio_core::codec::Parser::from_name(name)
        .ok_or_else(|| bad(format!("parser {name:?} (default, msgpack)")))
}

impl ClientConfig {
    fn options(self) -> Result<(ClientOptions, Auth, usize)> {
        let mut o = ClientOptions::default();
        if let Some(p) = self.path {
            o.path = p;
        }
        if let Some(t) = self.transports {
            o.transports = transports(&t)?;
        }
        if let Some(u) = self.upgrade {
            o.upgrade = u;
        }
        for (k, v) in self.headers.unwrap_or_default() {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| bad(format!("header name {k:?}: {e}")))?;
            let value = http::HeaderValue::from_str(&v)
                .map_err(|e| bad(format!("header value of {k:?}: {e}")))?;
            o.headers.append(name, value);
        }
        o.query.extend(self.query.unwrap_or_default());
        let mut r = Reconnection::default();
        if let Some(v) = self.reconnection {
            r.enabled = v;
        }
        r.attempts = self.reconnection_attempts.or(r.attempts);
        if let Some(v) = self.reconnection_delay_ms {
            r.delay = Duration::from_millis(v);
        }
        if let Some(v) = self.reconnection_delay_max_ms {
            r.delay_max = Duration::from_millis(v);
        }
        if let Some(v) = self.randomization_factor {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(format!("randomization_factor {v} is not in 0..=1")));
            }
            r.randomization_factor = v;
        }
        o.reconnection = r;
        if let Some(v) = self.connect_timeout_ms {
            o.connect_timeout = Duration::from_millis(v);
        }
        if let Some(v) = self.ack_timeout_ms {
            o.ack_timeout = Duration::from_millis(v);
        }
        let mut tls = TlsOptions::default();
        match self.tls_roots.as_deref() {
            None | Some("webpki") => {}
            Some("system") => tls.roots = RootCerts::System,
            Some(other) => return Err(bad(format!("tls_roots {other:?} (webpki, system)"))),
        }
        tls.extra_ca_pem = self.tls_ca_pem.map(String::into_bytes);
        tls.accept_invalid_certs = self.tls_accept_invalid_certs.unwrap_or(false);
        o.tls = tls;
        let mut b = Buffering::default();
        if let Some(v) = self.buffering {
            b.enabled = v;
        }
        if let Some(v) = self.buffer_max_packets {
            b.max_packets = v;
        }
        if let Some(v) = self.buffer_max_bytes {
            b.max_bytes = v;
        }
        o.buffering = b;
        if let Some(v) = self.queue_size {
            o.queue_size = v.max(1);
        }
        if let Some(v) = self.retry_refused {
            o.retry_refused = v;
        }
        if let Some(v) = self.retries {
            o.retries = v;
        }
        if let Some(v) = self.max_attachments {
            o.max_attachments = v;
        }
        if let Some(v) = self.max_json_depth {
            o.max_json_depth = v;
        }
        if let Some(v) = self.max_payload {
            o.max_payload = v;
        }
        if let Some(t) = self.per_message_deflate_threshold {
            o.per_message_deflate = usize::try_from(t).ok();
        }
        if let Some(v) = self.eio3 {
            o.eio3 = v;
        }
        if let Some(name) = &self.parser {
            o.parser = parser(name)?;
        }
        let auth = match self.auth {
            Some(v) => Auth::Value(Value::from(v)),
            None => Auth::None,
        };
        Ok((o, auth, self.event_queue_capacity.unwrap_or(DEFAULT_QUEUE)))
    }
}

pub(crate) struct ClientShared {
    manager: Manager,
    socket: ClientSocket,
    auth: AuthSlot,
    dispatch: Arc<Dispatch>,
    handlers: Mutex<Handlers>,
    /// `oxsio_client_on_any_outgoing` callbacks; the core listener is
    /// installed with the first one.
    outgoing: Mutex<Option<Vec<Arc<Callback>>>>,
    closed: AtomicBool,
}

impl ClientShared {
    fn new(
        manager: Manager,
        socket: ClientSocket,
        auth: AuthSlot,
        dispatch: Arc<Dispatch>,
    ) -> Arc<ClientShared> {
        let me = Arc::new(ClientShared {
            manager,
            socket,
            auth,
            dispatch,
            handlers: Mutex::new(Handlers::default()),
            outgoing: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        me.install();
        me
    }

    fn nsp(&self) -> &str {
        self.socket.nsp()
    }

    fn install(self: &Arc<Self>) {
        let w = Arc::downgrade(self);
        self.socket.on_any(move |e: &ClientEvent| {
            if let Some(me) = w.upgrade() {
                let ack = e.ack.clone().map(Acker::Client);
                me.deliver(EventData::message(
                    NulStr::new(me.nsp()),
                    NulStr::new(&e.name),
                    e.args.clone(),
                    ack,
                ));
            }
        });
        let w = Arc::downgrade(self);
        self.socket.on_connect(move |s| {
            if let Some(me) = w.upgrade() {
                let mut ev = EventData::new(oxsio_event_kind::Connect, me.nsp());
                ev.recovered = s.recovered();
                me.deliver(ev);
            }
        });
        let w = Arc::downgrade(self);
        self.socket.on_disconnect(move |_, reason| {
            if let Some(me) = w.upgrade() {
                let ev = EventData::new(oxsio_event_kind::Disconnect, me.nsp())
                    .with_error(oxsio_result::Ok, reason.as_str());
                me.deliver(ev);
            }
        });
        let w = Arc::downgrade(self);
        self.socket.on_connect_error(move |_, err: &ClientError| {
            if let Some(me) = w.upgrade() {
                let mut ev = error_event(oxsio_event_kind::ConnectError, me.nsp(), err);
                if let ClientError::Refused { data: Some(d), .. } = err {
                    ev.args = vec![d.clone()];
                }
                me.deliver(ev);
            }
        });
        let w = Arc::downgrade(self);
        self.manager.on_reconnect_attempt(move |n| {
            if let Some(me) = w.upgrade() {
                let mut ev = EventData::new(oxsio_event_kind::ReconnectAttempt, me.nsp());
                ev.id = n.into();
                me.deliver(ev);
            }
        });
        let w = Arc::downgrade(self);
        self.manager.on_reconnect(move |n| {
            if let Some(me) = w.upgrade() {
                let mut ev = EventData::new(oxsio_event_kind::Reconnect, me.nsp());
                ev.id = n.into();
                me.deliver(ev);
            }
        });
        let w = Arc::downgrade(self);
        self.manager.on_reconnect_error(move |err| {
            if let Some(me) = w.upgrade() {
                me.deliver(error_event(oxsio_event_kind::ReconnectError, me.nsp(), err));
            }
        });
        let w = Arc::downgrade(self);
        self.manager.on_reconnect_failed(move || {
            if let Some(me) = w.upgrade() {
                me.deliver(EventData::new(oxsio_event_kind::ReconnectFailed, me.nsp()));
            }
        });
    }

    fn deliver(&self, ev: EventData) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if self.dispatch.is_poll() {
            self.dispatch.push(ev);
        } else {
            let cbs = lock(&self.handlers).matching(ev.name.as_str());
            call_all(&self.dispatch, &cbs, ev);
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.dispatch.close();
        self.socket.disconnect();
        let released = lock(&self.handlers).remove(None);
        drop(released);
        let outgoing = lock(&self.outgoing).take();
        drop(outgoing);
        let hook = std::mem::replace(&mut *lock(&self.auth), AuthSource::Fixed(None));
        drop(hook);
    }
}

fn error_event(kind: oxsio_event_kind, nsp: &str, err: &ClientError) -> EventData {
    let e = Error::from(err.clone());
    EventData::new(kind, nsp).with_error(e.code, &e.detail)
}

fn cli(c: *const oxsio_client) -> Result<Arc<ClientShared>> {
    get_client(id(c))
}

fn namespace_of(url: &str) -> Result<String> {
    let u = url::Url::parse(url)
        .map_err(|e| Error::new(oxsio_result::InvalidUrl, format!("{url:?}: {e}")))?;
    Ok(match u.path() {
        "" | "/" => "/".to_owned(),
        p => p.trim_end_matches('/').to_owned(),
    })
}

/// A host's auth provider (`oxsio_client_set_auth_provider`).
struct AuthHook {
    cb: unsafe extern "C" fn(*mut c_void, *mut c_char, usize) -> usize,
    user_data: *mut c_void,
    free: oxsio_free_cb,
}

// SAFETY: the host registered `user_data` for calls from library threads and
// its release from any thread (the header says so).
unsafe impl Send for AuthHook {}
// SAFETY: as above; the hook is only called.
unsafe impl Sync for AuthHook {}

impl Drop for AuthHook {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data) }
        }
    }
}

/// Where a client's auth payload comes from, read before every attempt.
enum AuthSource {
    Fixed(Option<Value>),
    Hook(Arc<AuthHook>),
}

type AuthSlot = Arc<Mutex<AuthSource>>;

/// The payload for the next attempt (`Value::Null`: none).
fn resolve_auth(slot: &AuthSlot) -> Value {
    let hook = match &*lock(slot) {
        AuthSource::Fixed(v) => return v.clone().unwrap_or(Value::Null),
        AuthSource::Hook(h) => h.clone(),
    };
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        // SAFETY: the host's provider with its user_data; `buf` has the
        // capacity passed.
        let n = unsafe { (hook.cb)(hook.user_data, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 {
            return Value::Null;
        }
        if n > buf.len() {
            buf.resize(n, 0);
            continue;
        }
        return match std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|j| parse_value(j, &[]).ok())
        {
            Some(v) => v,
            None => {
                tracing::warn!(
                    "the auth provider wrote text that is not JSON: connecting without auth"
                );
                Value::Null
            }
        };
    }
    tracing::warn!("the auth provider kept asking for more room: connecting without auth");
    Value::Null
}

/// A socket whose auth comes from a slot the host can change.
fn socket_with_slot(manager: &Manager, nsp: &str, auth: Auth) -> (ClientSocket, AuthSlot) {
    let first = match auth {
        Auth::Value(v) => Some(v),
        _ => None,
    };
    let slot: AuthSlot = Arc::new(Mutex::new(AuthSource::Fixed(first)));
    let s = slot.clone();
    let socket = manager.socket_with_auth(nsp, Auth::from_fn(move || resolve_auth(&s)));
    (socket, slot)
}

fn new_client(
    url: *const c_char,
    config_json: *const c_char,
    dispatch: u32,
) -> Result<Arc<ClientShared>> {
    let url = str_arg(url, "url")?;
    let mode = oxsio_dispatch::from_u32(dispatch)?;
    let config: ClientConfig = parse_config(opt_str_arg(config_json, "config_json")?)?;
    let (opts, auth, cap) = config.options()?;
    let nsp = namespace_of(url)?;
    let manager = Manager::new(url, opts).map_err(Error::from)?;
    let (socket, slot) = socket_with_slot(&manager, &nsp, auth);
    Ok(ClientShared::new(
        manager,
        socket,
        slot,
        Dispatch::new(mode, cap),
    ))
}

/// Creates a client for `url` (`http://`, `https://`, `ws://`, `wss://`;
/// its path names the namespace: `http://host:3000/chat` → `"/chat"`),
/// without connecting: register callbacks, then call `oxsio_client_open`.
///
/// `config_json` (NULL or `""`: defaults) is a JSON object; every key is
/// optional, unknown keys are refused (`OXSIO_RESULT_INVALID_CONFIG`):
/// `path` ("/socket.io/"), `transports` (["polling","websocket"]), `upgrade`
/// (true), `headers` ({"name":"value"}), `query` ({"k":"v"}), `auth` (any
/// JSON, sent with CONNECT), `reconnection` (true), `reconnection_attempts`
/// (unlimited), `reconnection_delay_ms` (1000), `reconnection_delay_max_ms`
/// (5000), `randomization_factor` (0.5), `connect_timeout_ms` (20000),
/// `ack_timeout_ms` (10000), `tls_roots` ("webpki" or "system"),
/// `tls_ca_pem` (extra CA certificates, PEM text), `tls_accept_invalid_certs`
/// (false; development only), `buffering` (true: emits while disconnected
/// are queued), `buffer_max_packets` (1024), `buffer_max_bytes` (16 MiB),
/// `queue_size` (1024 outgoing packets), `retry_refused` (false),
/// `retries` (0: each emit is sent once; above 0, emits are queued, sent
/// one at a time with an acknowledgement request and sent again until
/// acknowledged or `retries` more tries timed out after `ack_timeout_ms`:
/// at-least-once delivery, as the JS client's `retries`),
/// `event_queue_capacity` (4096: poll-mode queue bound),
/// `max_attachments` (10: a received packet with more closes the
/// connection), `max_json_depth` (128, at most 512), `max_payload`
/// (104857600: the largest WebSocket message accepted, after
/// decompression; a larger one closes with 1009),
/// `per_message_deflate_threshold` (absent or -1: not offered; N: offer
/// permessage-deflate and compress messages from N bytes), `eio3`
/// (false; true speaks to a Socket.IO 2.x server: Engine.IO protocol 3)
/// and `parser` ("default"; "msgpack" for a server using
/// `socket.io-msgpack-parser` or python-socketio's `serializer="msgpack"`;
/// the server's parser must match; any other name gives
/// `OXSIO_RESULT_INVALID_CONFIG`).
///
/// Ownership: release `*out_client` with `oxsio_client_free`.
/// Returns: `OXSIO_RESULT_INVALID_URL`, `OXSIO_RESULT_INVALID_CONFIG`,
/// `OXSIO_RESULT_TLS` (bad CA PEM). Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_new(
    url: *const c_char,
    config_json: *const c_char,
    dispatch: u32,
    out_client: *mut *mut oxsio_client,
) -> oxsio_result {
    guard(|| {
        need_out(out_client, "out_client")?;
        let c = new_client(url, config_json, dispatch)?;
        write_out(out_client, ptr(register(Entry::Client(c))), "out_client")
    })
}

/// `oxsio_client_new` then `oxsio_client_open`: convenient in poll mode
/// (in callback mode, events before your `oxsio_client_on` calls are lost).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_connect(
    url: *const c_char,
    config_json: *const c_char,
    dispatch: u32,
    out_client: *mut *mut oxsio_client,
) -> oxsio_result {
    guard(|| {
        need_out(out_client, "out_client")?;
        let c = new_client(url, config_json, dispatch)?;
        c.socket.open();
        write_out(out_client, ptr(register(Entry::Client(c))), "out_client")
    })
}

/// Another namespace (`nsp`, e.g. `"/admin"`) over the same connection, as
/// `io(url + nsp)` in JavaScript, with the same dispatch mode and queue
/// bound, and its own event queue and callbacks; `auth_json` (may be NULL) is its auth
/// payload. Not connected yet: call `oxsio_client_open`.
///
/// Ownership: release `*out_client` with `oxsio_client_free`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_of(
    client: *const oxsio_client,
    nsp: *const c_char,
    auth_json: *const c_char,
    out_client: *mut *mut oxsio_client,
) -> oxsio_result {
    guard(|| {
        need_out(out_client, "out_client")?;
        let c = cli(client)?;
        let nsp = str_arg(nsp, "nsp")?;
        let auth = match opt_str_arg(auth_json, "auth_json")? {
            Some(j) => Auth::Value(parse_value(j, &[])?),
            None => Auth::None,
        };
        let (socket, slot) = socket_with_slot(&c.manager, nsp, auth);
        let other = ClientShared::new(
            c.manager.clone(),
            socket,
            slot,
            Dispatch::new(c.dispatch.mode, c.dispatch.capacity),
        );
        write_out(
            out_client,
            ptr(register(Entry::Client(other))),
            "out_client",
        )
    })
}

/// Starts connecting (or reconnecting after `oxsio_client_disconnect`);
/// returns at once. `OXSIO_EVENT_KIND_CONNECT` or `OXSIO_EVENT_KIND_CONNECT_ERROR`
/// follows.
///
/// Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_open(client: *const oxsio_client) -> oxsio_result {
    guard(|| {
        cli(client)?.socket.open();
        Ok(())
    })
}

/// Waits until the client is connected, at most `timeout_ms`.
///
/// Threads: any thread but a library thread. Returns: `OXSIO_RESULT_OK`,
/// `OXSIO_RESULT_TIMEOUT`, `OXSIO_RESULT_REFUSED`, `OXSIO_RESULT_WOULD_BLOCK`
/// inside a callback.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_wait_connected(
    client: *const oxsio_client,
    timeout_ms: u32,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let d = Duration::from_millis(timeout_ms.into());
        let mut rx = c.socket.watch_status();
        let fut = async move {
            let wait = async {
                loop {
                    match &*rx.borrow_and_update() {
                        Status::Connected(_) => return Ok(()),
                        Status::Refused(e) => return Err(Error::from(e.clone())),
                        _ => {}
                    }
                    if rx.changed().await.is_err() {
                        return Err(Error::from(oxsio_result::Closed));
                    }
                }
            };
            tokio::time::timeout(d, wait)
                .await
                .unwrap_or_else(|_| Err(Error::from(oxsio_result::Timeout)))
        };
        block_on(fut, d + Duration::from_millis(100))?
    })
}

/// Callback mode: calls `callback` for every `event` from the server
/// (`NULL`: every event), or for a lifecycle event by its name:
/// `"connect"`, `"disconnect"`, `"connect_error"`, `"reconnect_attempt"`,
/// `"reconnect"`, `"reconnect_error"`, `"reconnect_failed"` (check
/// `oxsio_event_get_kind` if the server also sends events with those names).
///
/// Ownership: `user_data_free` is called exactly once when the
/// registration ends (`oxsio_client_off`, `oxsio_client_free`), only if
/// this returns `OXSIO_RESULT_OK`. Threads: the callback runs on a library
/// thread (`oxsio_client_disconnect` runs `"disconnect"` on the caller's).
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode client.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_on(
    client: *const oxsio_client,
    event: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let name = opt_str_arg(event, "event")?;
        callback_mode(
            &c,
            "oxsio_client_on on a poll-mode client: use oxsio_client_poll",
        )?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        lock(&c.handlers).add(name, cb);
        Ok(())
    })
}

/// Callback mode: as `oxsio_client_on`, for the first matching event only
/// (Node's `socket.once`): the registration ends after that call, and its
/// `user_data_free` runs then.
///
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode client.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_once(
    client: *const oxsio_client,
    event: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let name = opt_str_arg(event, "event")?;
        callback_mode(
            &c,
            "oxsio_client_once on a poll-mode client: use oxsio_client_poll",
        )?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        lock(&c.handlers).add_once(name, cb);
        Ok(())
    })
}

/// Replaces the auth payload sent with the next connection attempts
/// (reconnections included; `NULL`: none), e.g. a refreshed token set on
/// `OXSIO_EVENT_KIND_RECONNECT_ATTEMPT`. Replaces an auth provider (its
/// `user_data_free` runs).
///
/// Borrowing: `auth_json` is copied. Threads: any (poll mode included).
/// Returns: `OXSIO_RESULT_INVALID_JSON`, `OXSIO_RESULT_INVALID_ARGUMENT`
/// when it is not a JSON object.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_set_auth(
    client: *const oxsio_client,
    auth_json: *const c_char,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let v = match opt_str_arg(auth_json, "auth_json")? {
            Some(j) => {
                let v = parse_value(j, &[])?;
                if !matches!(v, Value::Object(_)) {
                    return Err(Error::new(
                        oxsio_result::InvalidArgument,
                        "the auth payload must be a JSON object",
                    ));
                }
                Some(v)
            }
            None => None,
        };
        let old = std::mem::replace(&mut *lock(&c.auth), AuthSource::Fixed(v));
        drop(old);
        Ok(())
    })
}

/// Callback mode: `callback` makes the auth payload before every
/// connection attempt (the first, each reconnection, each
/// `oxsio_client_open`), on a library thread, as the JS client's
/// `auth: (cb) => cb({...})`. It writes JSON text (an object) into `json`
/// (`capacity` bytes, no NUL needed) and returns its length; 0 means no
/// auth; a length above `capacity` makes the library call it again with
/// that much room. Text that is not JSON sends no auth and logs a warning.
/// NULL `callback` goes back to no auth. Replaces `auth` from the config
/// or `oxsio_client_set_auth`.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the provider is replaced or the client freed, only if this returns
/// `OXSIO_RESULT_OK`. Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode
/// client (use `oxsio_client_set_auth`).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_set_auth_provider(
    client: *const oxsio_client,
    callback: oxsio_auth_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        callback_mode(
            &c,
            "oxsio_client_set_auth_provider on a poll-mode client: use oxsio_client_set_auth",
        )?;
        let source = match callback {
            Some(cb) => AuthSource::Hook(Arc::new(AuthHook {
                cb,
                user_data,
                free: user_data_free,
            })),
            None => AuthSource::Fixed(None),
        };
        let old = std::mem::replace(&mut *lock(&c.auth), source);
        drop(old);
        Ok(())
    })
}

/// An auth provider (`oxsio_client_set_auth_provider`): `user_data` as
/// registered and a buffer of `capacity` bytes for the JSON text; returns
/// the text's length (0: no auth).
pub type oxsio_auth_cb = Option<
    unsafe extern "C" fn(user_data: *mut c_void, json: *mut c_char, capacity: usize) -> usize,
>;

/// Callback mode: calls `callback` with every event this client sends
/// (the JS client's `socket.onAnyOutgoing`): a `MESSAGE` event with the
/// name and arguments, lent for the call, on the thread that emits (inside
/// the emit call; a library thread for emits buffered while offline). Do
/// not emit from it.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the registration ends (`oxsio_client_off_any_outgoing`,
/// `oxsio_client_free`), only if this returns `OXSIO_RESULT_OK`.
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode client.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_on_any_outgoing(
    client: *const oxsio_client,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        callback_mode(&c, "oxsio_client_on_any_outgoing on a poll-mode client")?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        let mut out = lock(&c.outgoing);
        if out.is_none() {
            let weak = Arc::downgrade(&c);
            c.socket.on_any_outgoing(move |name: &str, args: &Args| {
                let Some(me) = weak.upgrade() else { return };
                if me.closed.load(Ordering::Acquire) {
                    return;
                }
                let cbs: Vec<Arc<Callback>> = lock(&me.outgoing).clone().unwrap_or_default();
                if cbs.is_empty() {
                    return;
                }
                let ev = EventData::message(
                    NulStr::new(me.nsp()),
                    NulStr::new(name),
                    args.clone(),
                    None,
                );
                call_all(&me.dispatch, &cbs, ev);
            });
        }
        out.get_or_insert_with(Vec::new).push(cb);
        Ok(())
    })
}

/// Removes every `oxsio_client_on_any_outgoing` callback of the client.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_off_any_outgoing(client: *const oxsio_client) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let removed: Vec<Arc<Callback>> = lock(&c.outgoing)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        drop(removed);
        Ok(())
    })
}

/// Removes the callbacks of `event` (`NULL`: every callback).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_off(
    client: *const oxsio_client,
    event: *const c_char,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let name = opt_str_arg(event, "event")?;
        let removed = lock(&c.handlers).remove(name);
        drop(removed);
        Ok(())
    })
}

/// Sends an event. `args_json` is a JSON array (one element per argument)
/// with `{"_placeholder":true,"num":i}` for `buffers[i]`. While
/// disconnected it is buffered and sent after the next connection.
///
/// Borrowing: every argument is copied during the call. NULL: `args_json`
/// NULL means no argument; `buffers` may be NULL when `buffer_count` is 0.
/// Threads: any. Never blocks.
/// Returns: `OXSIO_RESULT_PAYLOAD_TOO_LARGE`, `OXSIO_RESULT_BUFFER_FULL`,
/// `OXSIO_RESULT_NOT_CONNECTED`, `OXSIO_RESULT_QUEUE_FULL`,
/// `OXSIO_RESULT_RESERVED_EVENT`, argument errors.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_emit(
    client: *const oxsio_client,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let name = str_arg(event, "event")?;
        let args = args_of(args_json, buffers, buffer_count)?;
        c.socket.emit(name, args).map_err(Error::from)
    })
}

/// Sends the `message` event (`socket.send` in JavaScript).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_send(
    client: *const oxsio_client,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let args = args_of(args_json, buffers, buffer_count)?;
        c.socket.send(args).map_err(Error::from)
    })
}

/// Sends an event with one binary argument, without any JSON: the path for
/// game state. With `OXSIO_EMIT_VOLATILE` in `flags` it is dropped
/// silently while disconnected or congested.
///
/// Borrowing: `data` is copied during the call. NULL: `data` may be NULL
/// when `len` is 0. Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_emit_binary(
    client: *const oxsio_client,
    event: *const c_char,
    data: *const u8,
    len: usize,
    flags: u32,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let name = str_arg(event, "event")?;
        let volatile = emit_flags(flags)?;
        let args = binary_arg(data, len)?;
        let r = if volatile {
            c.socket.emit_volatile(name, args)
        } else {
            c.socket.emit(name, args)
        };
        r.map_err(Error::from)
    })
}

/// Sends an event and asks the server for an acknowledgement within
/// `timeout_ms` (0: the client's `ack_timeout_ms`). The reply arrives as an
/// `OXSIO_EVENT_KIND_ACK` whose id is `*out_ack_id`: to `callback` in callback
/// mode (NULL: the reply is ignored), or from `oxsio_client_poll` in poll
/// mode (where `callback` must be NULL). A timeout or disconnection
/// arrives the same way, with its result code.
///
/// Ownership: `user_data_free` is called once after the reply was handled,
/// only if this returns `OXSIO_RESULT_OK`. NULL: `out_ack_id` may be NULL.
/// Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_emit_with_ack(
    client: *const oxsio_client,
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
        let c = cli(client)?;
        let name = str_arg(event, "event")?;
        let args = args_of(args_json, buffers, buffer_count)?;
        let cb = ack_callback(c.dispatch.is_poll(), callback, user_data, user_data_free)?;
        let mut fut: ClientAckFuture = if timeout_ms == 0 {
            c.socket.emit_with_ack(name, args)
        } else {
            c.socket
                .emit_with_ack_timeout(name, args, Duration::from_millis(timeout_ms.into()))
        };
        let first = poll_once(&mut fut);
        if let Some(Err(e)) = &first
            && !matches!(e, ClientError::Timeout | ClientError::Closed)
        {
            if let Some(cb) = cb {
                forget_free(cb);
            }
            return Err(Error::from(e.clone()));
        }
        let ack_id = next_ack_id();
        write_opt(out_ack_id, ack_id);
        let weak = Arc::downgrade(&c);
        let nsp = c.nsp().to_owned();
        let finish = move |r: std::result::Result<Args, ClientError>| {
            let mut ev = EventData::new(oxsio_event_kind::Ack, &nsp);
            ev.id = ack_id;
            let ev = match r {
                Ok(args) => {
                    ev.args = args;
                    ev
                }
                Err(e) => {
                    let e = Error::from(e);
                    ev.with_error(e.code, &e.detail)
                }
            };
            let Some(me) = weak.upgrade() else { return };
            if me.closed.load(Ordering::Acquire) {
                return;
            }
            match cb {
                Some(cb) => call_all(&me.dispatch, &[cb], ev),
                None if me.dispatch.is_poll() => me.dispatch.push(ev),
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

/// Leaves the namespace (the server sees `"client namespace disconnect"`);
/// the connection closes when no other namespace uses it. No automatic
/// reconnection follows; `oxsio_client_open` connects again.
/// `OXSIO_EVENT_KIND_DISCONNECT` follows (in callback mode, before this returns).
///
/// Threads: any. Never blocks on the network.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_disconnect(client: *const oxsio_client) -> oxsio_result {
    guard(|| {
        cli(client)?.socket.disconnect();
        Ok(())
    })
}

/// The connection state (`OXSIO_CLIENT_STATE_*`).
///
/// NULL: `out_state` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_get_state(
    client: *const oxsio_client,
    out_state: *mut u32,
) -> oxsio_result {
    guard(|| {
        let st = match cli(client)?.socket.status() {
            Status::Disconnected => oxsio_client_state::Disconnected,
            Status::Connecting => oxsio_client_state::Connecting,
            Status::Connected(_) => oxsio_client_state::Connected,
            Status::Refused(_) => oxsio_client_state::Refused,
        };
        write_out(out_state, st as u32, "out_state")
    })
}

/// Copies the socket id the server gave (while connected) into `buf` with
/// a terminating NUL, and its length (without NUL) into `*out_len`.
///
/// NULL: `buf` may be NULL when `capacity` is 0 (to learn the length);
/// `out_len` may be NULL. Returns: `OXSIO_RESULT_NOT_CONNECTED` when there
/// is no id, `OXSIO_RESULT_BUFFER_TOO_SMALL` (with `*out_len` set) when
/// `capacity` < length + 1.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_id(
    client: *const oxsio_client,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let c = cli(client)?;
        let id = c
            .socket
            .id()
            .ok_or_else(|| Error::from(oxsio_result::NotConnected))?;
        copy_text(&id, buf, capacity, out_len, "the id")
    })
}

/// Poll mode: takes the next queued event, never blocking.
/// `while (oxsio_client_poll(c, &ev) == OXSIO_RESULT_OK) { ...; oxsio_event_free(ev); }`
///
/// The queue holds at most `event_queue_capacity` events; when full, new
/// `OXSIO_EVENT_KIND_MESSAGE` events are dropped and counted
/// (`oxsio_client_dropped_events`); lifecycle and ack events are always queued.
///
/// Ownership: release `*out_event` with `oxsio_event_free`.
/// Returns: `OXSIO_RESULT_EMPTY` when nothing is queued,
/// `OXSIO_RESULT_WRONG_MODE` on a callback-mode client.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_poll(
    client: *const oxsio_client,
    out_event: *mut *mut oxsio_event,
) -> oxsio_result {
    guard(|| {
        need_out(out_event, "out_event")?;
        let h = cli(client)?.dispatch.poll()?;
        write_out(out_event, ptr(h), "out_event")
    })
}

/// Poll mode: waits until an event is queued, at most `timeout_ms`.
///
/// Threads: any; blocks the caller only. Returns: `OXSIO_RESULT_OK` when
/// an event is ready, `OXSIO_RESULT_TIMEOUT` otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_wait(client: *const oxsio_client, timeout_ms: u32) -> oxsio_result {
    guard(|| {
        let d = cli(client)?.dispatch.clone();
        d.wait(Duration::from_millis(timeout_ms.into()))
    })
}

/// Poll mode: how many `MESSAGE` events the overflow policy dropped so far.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_dropped_events(
    client: *const oxsio_client,
    out_count: *mut u64,
) -> oxsio_result {
    guard(|| write_out(out_count, cli(client)?.dispatch.dropped(), "out_count"))
}

/// Releases the client: no event or callback after this returns (except
/// one already running on another thread), queued events are dropped,
/// registered `user_data_free`s run, and the namespace is left (the
/// connection closes in the background when no other namespace uses it).
/// Safe while connecting and inside the client's own callbacks. NULL is
/// accepted.
///
/// Threads: any. Never blocks on the network.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_client_free(client: *mut oxsio_client) -> oxsio_result {
    guard(|| {
        if client.is_null() {
            return Ok(());
        }
        let entry = unregister_if(id(client), |e| matches!(e, Entry::Client(_)))?;
        if let Entry::Client(c) = entry {
            c.close();
        }
        Ok(())
    })
}
