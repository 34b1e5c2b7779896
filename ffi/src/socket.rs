//! `oxsio_socket`: one client connected to one namespace of a server.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use oxsio_core::{AckError, AckFuture, Args, Event, Handshake, JsonArgs, RawEvent, Socket, Value};

use crate::boundary::{
    copy_text, get_socket, guard, id, opt_str_arg, str_arg, unregister, write_opt, write_out,
};
use crate::dispatch::{Callback, Handlers, call_all, lock, oxsio_event_cb, oxsio_free_cb};
use crate::error::{Error, Result, oxsio_result};
use crate::event::{Acker, EventData, OnDrop, oxsio_event, oxsio_event_kind};
use crate::payload::{NulStr, buffers, oxsio_buf, parse_args, parse_value, plain_json};
use crate::server::ServerShared;

/// A server-side socket. Owned by its server: never free it. Valid from
/// its `CONNECTION` event until its `DISCONNECT` event is released; after
/// that every call returns `OXSIO_RESULT_INVALID_HANDLE`.
pub struct oxsio_socket {
    _private: [u8; 0],
}

/// The handle of a core socket, stored in its extensions.
#[derive(Clone, Copy)]
pub(crate) struct SocketHandle(pub usize);

pub(crate) struct SocketShared {
    pub(crate) socket: Socket,
    pub(crate) server: Weak<ServerShared>,
    pub(crate) handle: AtomicUsize,
    id: NulStr,
    nsp: NulStr,
    auth: NulStr,
    pub(crate) handshake: Arc<NulStr>,
    handlers: Mutex<Handlers>,
    /// `oxsio_socket_on_any_outgoing` callbacks; the core listener is
    /// installed with the first one.
    outgoing: Mutex<Option<Vec<Arc<Callback>>>>,
    /// `oxsio_socket_use` middlewares (the core holds weak references).
    packet_mws: Mutex<Vec<Arc<PacketHook>>>,
}

/// A per-packet middleware (`oxsio_socket_use`).
pub(crate) struct PacketHook {
    cb: unsafe extern "C" fn(*mut c_void, *const oxsio_event, *mut c_char, usize) -> bool,
    user_data: *mut c_void,
    free: oxsio_free_cb,
}

// SAFETY: the host registered `user_data` for calls from library threads and
// its release from any thread (the header says so).
unsafe impl Send for PacketHook {}
// SAFETY: as above; the hook is only called.
unsafe impl Sync for PacketHook {}

impl Drop for PacketHook {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data) }
        }
    }
}

/// A per-packet middleware (`oxsio_socket_use`): `user_data` as registered,
/// the incoming `MESSAGE` event (name and arguments; lent for the call),
/// and a buffer for the refusal's text. Returns true to let the packet
/// through.
pub type oxsio_packet_middleware_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: *const oxsio_event,
        reason: *mut c_char,
        reason_capacity: usize,
    ) -> bool,
>;

/// The handshake as Node's `socket.handshake` object.
pub(crate) fn handshake_json(h: &Handshake) -> String {
    use serde_json::{Map, Value as J};
    let mut headers = Map::new();
    for name in h.headers.keys() {
        let values: Vec<&str> = h
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.as_str().to_owned(), J::from(values.join(", ")));
    }
    let mut query = Map::new();
    for (k, v) in url::form_urlencoded::parse(h.query.as_bytes()) {
        query.insert(k.into_owned(), J::from(v.into_owned()));
    }
    let mut m = Map::new();
    m.insert("headers".into(), J::Object(headers));
    m.insert("time".into(), J::from(format!("{}", h.issued_ms())));
    m.insert(
        "address".into(),
        J::from(
            h.remote_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        ),
    );
    m.insert("xdomain".into(), J::from(h.headers.contains_key("origin")));
    m.insert("secure".into(), J::from(false));
    m.insert("issued".into(), J::from(h.issued_ms()));
    m.insert("url".into(), J::from(h.url.clone()));
    m.insert("query".into(), J::Object(query));
    m.insert("auth".into(), h.auth.to_json());
    J::Object(m).to_string()
}

static ACK_IDS: AtomicU64 = AtomicU64::new(1);

/// A fresh id for an emit-with-ack (unique in the process).
pub(crate) fn next_ack_id() -> u64 {
    ACK_IDS.fetch_add(1, Ordering::Relaxed)
}

impl SocketShared {
    pub(crate) fn new(socket: Socket, server: Weak<ServerShared>) -> SocketShared {
        let h = socket.handshake();
        SocketShared {
            id: NulStr::new(socket.id().as_str()),
            nsp: NulStr::shared(socket.ns()),
            auth: NulStr::new(&plain_json(&h.auth)),
            handshake: Arc::new(NulStr::new(&handshake_json(h))),
            socket,
            server,
            handle: AtomicUsize::new(0),
            handlers: Mutex::new(Handlers::default()),
            outgoing: Mutex::new(None),
            packet_mws: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn handle(&self) -> usize {
        self.handle.load(Ordering::Acquire)
    }

    /// Hooks the core socket: its events and its disconnection.
    pub(crate) fn install(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        // By value: the event's name and arguments move to the host's
        // event without a copy (the C layer registers no core listener).
        self.socket.on_unhandled(move |e: Event| {
            let Some(me) = weak.upgrade() else { return };
            let Some(server) = me.server.upgrade() else {
                return;
            };
            let name = server.names.get(&e.name);
            let mut ev = EventData::message(me.nsp.clone(), name, e.args, e.ack.map(Acker::Server));
            ev.socket = me.handle();
            me.deliver_to(&server, ev);
        });
        // Plain text events keep the JSON the peer sent: the host reads it
        // as is (`oxsio_event_args_json`), and values are built only for
        // the calls that need them.
        let weak = Arc::downgrade(self);
        self.socket.on_unhandled_raw(move |e: RawEvent<'_>| {
            let Some(me) = weak.upgrade() else { return };
            let Some(server) = me.server.upgrade() else {
                return;
            };
            let name = server.names.get(e.name);
            let mut ev = EventData::message_as_sent(
                me.nsp.clone(),
                name,
                e.args.inner(),
                e.ack.map(Acker::Server),
            );
            ev.socket = me.handle();
            me.deliver_to(&server, ev);
        });
        let weak = Arc::downgrade(self);
        self.socket.on_disconnect(move |_, reason| {
            let Some(me) = weak.upgrade() else { return };
            let mut ev = EventData::new(oxsio_event_kind::Disconnect, me.nsp.as_str())
                .with_error(oxsio_result::Ok, reason.as_str());
            ev.socket = me.handle();
            let retiring = me.clone();
            ev.on_drop = Some(OnDrop(Some(Box::new(move || retiring.retire()))));
            me.deliver(ev);
        });
    }

    /// Removes every callback (released by the caller, outside the lock).
    pub(crate) fn take_handlers(&self) -> Vec<Arc<Callback>> {
        let mws: Vec<Arc<PacketHook>> = lock(&self.packet_mws).drain(..).collect();
        drop(mws);
        let mut all = lock(&self.handlers).remove(None);
        if let Some(v) = lock(&self.outgoing).as_mut() {
            all.append(v);
        }
        all
    }

    /// Ends the handle: unregistered, handlers released.
    pub(crate) fn retire(&self) {
        let h = self.handle();
        drop(unregister(h));
        if let Some(server) = self.server.upgrade() {
            lock(&server.sockets).remove(&h);
        }
        drop(self.take_handlers());
    }

    /// Hands an event to the host: queued (poll) or to the matching callbacks.
    pub(crate) fn deliver(&self, ev: EventData) {
        if let Some(server) = self.server.upgrade() {
            self.deliver_to(&server, ev);
        }
    }

    fn deliver_to(&self, server: &ServerShared, ev: EventData) {
        if server.dispatch.is_closed() {
            return;
        }
        if server.dispatch.is_poll() {
            server.dispatch.push(ev);
        } else {
            let cbs = lock(&self.handlers).matching(ev.name.as_str());
            call_all(&server.dispatch, &cbs, ev);
        }
    }
}

fn sock(s: *const oxsio_socket) -> Result<Arc<SocketShared>> {
    get_socket(id(s))
}

/// Refuses `call` (a callback registration) unless the socket's server
/// dispatches in callback mode.
fn callback_mode(s: &SocketShared, call: &str) -> Result<()> {
    let server = s
        .server
        .upgrade()
        .ok_or_else(|| Error::from(oxsio_result::Closed))?;
    if server.dispatch.is_poll() {
        return Err(Error::new(
            oxsio_result::WrongMode,
            format!("{call} on a poll-mode server: poll the server instead"),
        ));
    }
    Ok(())
}

pub(crate) fn args_of(json: *const c_char, bufs: *const oxsio_buf, count: usize) -> Result<Args> {
    let json = opt_str_arg(json, "args_json")?;
    let bufs = buffers(bufs, count)?;
    parse_args(json, &bufs)
}

pub(crate) fn binary_arg(data: *const u8, len: usize) -> Result<Args> {
    let b = crate::boundary::bytes_arg(data, len, "data")?;
    Ok(vec![Value::Binary(Bytes::copy_from_slice(b))])
}

/// Polls a just-made ack future once (inside the runtime) so send errors
/// are returned to the caller instead of arriving later.
pub(crate) fn poll_once<T>(
    fut: &mut std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>,
) -> Option<T> {
    let _enter = oxsio_core::runtime::handle().enter();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// The socket id (20 characters; also the name of its own room).
///
/// Borrowing: NUL-terminated, valid as long as the socket handle.
/// NULL: `out_id` must not be NULL; `out_len` may be.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_id(
    socket: *const oxsio_socket,
    out_id: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        s.id.lend(out_id, out_len, "out_id")
    })
}

/// The socket's namespace (e.g. `"/"`).
///
/// Borrowing: NUL-terminated, valid as long as the socket handle.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_namespace(
    socket: *const oxsio_socket,
    out_nsp: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        s.nsp.lend(out_nsp, out_len, "out_nsp")
    })
}

/// The auth payload the client sent with its CONNECT, as JSON text (`{}`
/// when it sent none).
///
/// Borrowing: NUL-terminated, valid as long as the socket handle.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_auth_json(
    socket: *const oxsio_socket,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        s.auth.lend(out_json, out_len, "out_json")
    })
}

/// The handshake as a JSON object (see `oxsio_event_handshake_json`).
///
/// Borrowing: NUL-terminated, valid as long as the socket handle.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_handshake_json(
    socket: *const oxsio_socket,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        s.handshake.lend(out_json, out_len, "out_json")
    })
}

/// Copies the socket's data (Node's `socket.data`: any JSON value, `{}` at
/// first) as JSON text into `buf` with a terminating NUL, and its length
/// (without NUL) into `*out_len`. Other nodes see it in `fetchSockets`, and
/// it comes back with a recovered session.
///
/// NULL: `buf` may be NULL when `capacity` is 0 (to learn the length);
/// `out_len` may be NULL. Returns `OXSIO_RESULT_BUFFER_TOO_SMALL` (with
/// `*out_len` set) when `capacity` < length + 1. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_data_json(
    socket: *const oxsio_socket,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let text = plain_json(&s.socket.data());
        copy_text(&text, buf, capacity, out_len, "the data")
    })
}

/// Copies the rooms the socket is in (its own id room included, as
/// Node's `socket.rooms`) as a JSON array of strings into `buf` with a
/// terminating NUL, and its length (without NUL) into `*out_len`.
///
/// Ownership: copied (like every `*_json` getter that fills a caller's
/// buffer, because the value can change while the socket lives).
/// NULL: `buf` may be NULL when `capacity` is 0 (to learn the length);
/// `out_len` may be NULL. Returns `OXSIO_RESULT_BUFFER_TOO_SMALL` (with
/// `*out_len` set) when `capacity` < length + 1; a join on another thread
/// may make the next call need more. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_rooms(
    socket: *const oxsio_socket,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let mut rooms: Vec<String> = s.socket.rooms().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let text = serde_json::to_string(&rooms)
            .map_err(|e| Error::new(oxsio_result::Internal, e.to_string()))?;
        copy_text(&text, buf, capacity, out_len, "the rooms")
    })
}

/// Replaces the socket's data with the JSON value `json` (any JSON text).
///
/// Borrowing: `json` is read during the call. Returns
/// `OXSIO_RESULT_INVALID_JSON` for text that is not JSON. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_set_data_json(
    socket: *const oxsio_socket,
    json: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let v = parse_value(str_arg(json, "json")?, &[])?;
        s.socket.set_data(v);
        Ok(())
    })
}

/// True until the socket disconnects.
///
/// NULL: `out_connected` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_connected(
    socket: *const oxsio_socket,
    out_connected: *mut bool,
) -> oxsio_result {
    guard(|| {
        write_out(
            out_connected,
            sock(socket)?.socket.connected(),
            "out_connected",
        )
    })
}

/// Callback mode: calls `callback` for every `event` from this client
/// (`NULL` event: every event), and for `"disconnect"` when it leaves.
/// Register inside the `CONNECTION` callback so no early event is missed.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the registration ends (socket retired, `oxsio_socket_off`, server
/// freed), and only if this returns `OXSIO_RESULT_OK`.
/// Threads: the callback runs on a library thread.
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_on(
    socket: *const oxsio_socket,
    event: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let name = opt_str_arg(event, "event")?;
        callback_mode(&s, "oxsio_socket_on")?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        lock(&s.handlers).add(name, cb);
        Ok(())
    })
}

/// Callback mode: as `oxsio_socket_on`, for the first matching event only
/// (Node's `socket.once`): the registration ends after that call, and its
/// `user_data_free` runs then.
///
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_once(
    socket: *const oxsio_socket,
    event: *const c_char,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let name = opt_str_arg(event, "event")?;
        callback_mode(&s, "oxsio_socket_once")?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        lock(&s.handlers).add_once(name, cb);
        Ok(())
    })
}

/// Callback mode: calls `callback` with every event this socket sends
/// (Node's `socket.onAnyOutgoing`): a `MESSAGE` event with the name and
/// arguments, lent for the call, on the thread that emits (inside the
/// emit call, or a library thread for a broadcast). Do not emit to this
/// socket from it.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the registration ends (`oxsio_socket_off_any_outgoing`, socket retired,
/// server freed), only if this returns `OXSIO_RESULT_OK`.
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_on_any_outgoing(
    socket: *const oxsio_socket,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        callback_mode(&s, "oxsio_socket_on_any_outgoing")?;
        let cb = Callback::new(callback, user_data, user_data_free)?;
        let mut out = lock(&s.outgoing);
        if out.is_none() {
            let weak = Arc::downgrade(&s);
            s.socket.on_any_outgoing(move |name: &str, args: &Args| {
                let Some(me) = weak.upgrade() else { return };
                let cbs: Vec<Arc<Callback>> = lock(&me.outgoing).clone().unwrap_or_default();
                if cbs.is_empty() {
                    return;
                }
                let Some(server) = me.server.upgrade() else {
                    return;
                };
                let mut ev =
                    EventData::message(me.nsp.clone(), server.names.get(name), args.clone(), None);
                ev.socket = me.handle();
                call_all(&server.dispatch, &cbs, ev);
            });
        }
        out.get_or_insert_with(Vec::new).push(cb);
        Ok(())
    })
}

/// Callback mode: adds a per-packet middleware (Node's `socket.use`): every
/// event this client sends passes through `callback` first, on a library
/// thread, before any handler; returning false drops it, and the socket's
/// handlers get an `"error"` `MESSAGE` event whose argument is the
/// NUL-terminated text written into `reason` (empty: `"refused"`).
/// Middlewares run in the order added; the event cannot be changed.
///
/// Ownership: `user_data_free` (may be NULL) is called exactly once when
/// the socket is retired or the server freed, only if this returns
/// `OXSIO_RESULT_OK`. NULL: `callback` must not be NULL.
/// Returns: `OXSIO_RESULT_WRONG_MODE` on a poll-mode server.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_use(
    socket: *const oxsio_socket,
    callback: oxsio_packet_middleware_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let server = s
            .server
            .upgrade()
            .ok_or_else(|| Error::from(oxsio_result::Closed))?;
        if server.dispatch.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "oxsio_socket_use on a poll-mode server",
            ));
        }
        let cb =
            callback.ok_or_else(|| Error::new(oxsio_result::NullArgument, "callback is NULL"))?;
        let hook = Arc::new(PacketHook {
            cb,
            user_data,
            free: user_data_free,
        });
        let first = {
            let mut mws = lock(&s.packet_mws);
            mws.push(hook.clone());
            mws.len() == 1
        };
        let weak_hook = Arc::downgrade(&hook);
        let weak = Arc::downgrade(&s);
        s.socket.use_middleware(move |e: &mut Event| {
            let (Some(h), Some(me)) = (weak_hook.upgrade(), weak.upgrade()) else {
                return Ok(());
            };
            let Some(server) = me.server.upgrade() else {
                return Ok(());
            };
            let mut ev = EventData::message(
                me.nsp.clone(),
                server.names.get(&e.name),
                e.args.clone(),
                None,
            );
            ev.socket = me.handle();
            let eh = crate::boundary::register(crate::boundary::Entry::Event(Arc::new(ev)));
            let mut reason = [0u8; 256];
            // SAFETY: the host's middleware with its user_data; the event
            // handle and `reason` live for the call.
            let ok = unsafe {
                (h.cb)(
                    h.user_data,
                    crate::boundary::ptr::<oxsio_event>(eh).cast_const(),
                    reason.as_mut_ptr().cast(),
                    reason.len(),
                )
            };
            drop(unregister(eh));
            if ok {
                return Ok(());
            }
            reason[reason.len() - 1] = 0;
            let end = reason.iter().position(|b| *b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&reason[..end]).into_owned();
            Err(if text.is_empty() {
                "refused".to_owned()
            } else {
                text
            })
        });
        if first {
            let weak = Arc::downgrade(&s);
            s.socket.on_error(move |_, message: &str| {
                let Some(me) = weak.upgrade() else { return };
                let Some(server) = me.server.upgrade() else {
                    return;
                };
                let mut ev = EventData::message(
                    me.nsp.clone(),
                    server.names.get("error"),
                    vec![Value::String(message.to_owned())],
                    None,
                );
                ev.socket = me.handle();
                me.deliver_to(&server, ev);
            });
        }
        Ok(())
    })
}

/// Removes every `oxsio_socket_on_any_outgoing` callback of the socket.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_off_any_outgoing(socket: *const oxsio_socket) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let removed: Vec<Arc<Callback>> = lock(&s.outgoing)
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        drop(removed);
        Ok(())
    })
}

/// Removes the callbacks of `event` (`NULL`: every callback of the socket).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_off(
    socket: *const oxsio_socket,
    event: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let name = opt_str_arg(event, "event")?;
        let removed = lock(&s.handlers).remove(name);
        drop(removed);
        Ok(())
    })
}

/// Sends an event to this client. `args_json` is a JSON array, one element
/// per argument, with `{"_placeholder":true,"num":i}` for `buffers[i]`.
/// Without placeholders the text is checked and copied into the packet as
/// written (no conversion), so re-emitting an event's
/// `oxsio_event_args_json` costs one copy.
///
/// Borrowing: every argument is copied during the call.
/// NULL: `args_json` NULL means no argument; `buffers` may be NULL when
/// `buffer_count` is 0. Threads: any. Never blocks.
/// Returns: `OXSIO_RESULT_QUEUE_FULL` (client too slow),
/// `OXSIO_RESULT_DISCONNECTED`, `OXSIO_RESULT_RESERVED_EVENT`, argument errors.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_emit(
    socket: *const oxsio_socket,
    event: *const c_char,
    args_json: *const c_char,
    buffers_: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let name = str_arg(event, "event")?;
        if buffer_count == 0
            && let Some(json) = plain_json_args(args_json)?
        {
            return s.socket.emit_json(name, json).map_err(Error::from);
        }
        let args = args_of(args_json, buffers_, buffer_count)?;
        s.socket.emit(name, args).map_err(Error::from)
    })
}

/// `args_json` when it can be sent as written: a JSON array without
/// placeholders (those need buffers, or fail as `parse_args` says).
/// `None` sends it the general way.
pub(crate) fn plain_json_args<'a>(args_json: *const c_char) -> Result<Option<JsonArgs<'a>>> {
    let Some(json) = opt_str_arg(args_json, "args_json")? else {
        return Ok(None);
    };
    if json.trim().is_empty() {
        return Ok(None);
    }
    let args = JsonArgs::new(json).map_err(|e| {
        // The general path's wording for a valid non-array.
        match oxsio_core::Value::from_json(json) {
            Ok(_) => Error::new(
                oxsio_result::InvalidJson,
                "the arguments must be a JSON array (one element per argument)",
            ),
            Err(_) => Error::new(oxsio_result::InvalidJson, e.to_string()),
        }
    })?;
    Ok((!args.has_placeholder_key()).then_some(args))
}

/// Sends an event with one binary argument, without any JSON (game state).
/// With `OXSIO_EMIT_VOLATILE` in `flags`, a full queue drops it silently.
///
/// Borrowing: `data` is copied during the call. NULL: `data` may be NULL
/// when `len` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_emit_binary(
    socket: *const oxsio_socket,
    event: *const c_char,
    data: *const u8,
    len: usize,
    flags: u32,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let name = str_arg(event, "event")?;
        let volatile = crate::server::emit_flags(flags)?;
        let args = binary_arg(data, len)?;
        let r = if volatile {
            s.socket.volatile().emit(name, args)
        } else {
            s.socket.emit(name, args)
        };
        r.map_err(Error::from)
    })
}

/// Sends an event and asks the client for an acknowledgement within
/// `timeout_ms` (0: the server's ack timeout). The reply arrives as an
/// `OXSIO_EVENT_KIND_ACK` event whose id is `*out_ack_id`: to `callback` in
/// callback mode (NULL: the reply is ignored), or from `oxsio_server_poll`
/// in poll mode (where `callback` must be NULL).
///
/// Ownership: `user_data_free` is called once after the reply was handled
/// (only if this returns `OXSIO_RESULT_OK`). NULL: `out_ack_id` may be NULL.
/// Threads: any. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_emit_with_ack(
    socket: *const oxsio_socket,
    event: *const c_char,
    args_json: *const c_char,
    buffers_: *const oxsio_buf,
    buffer_count: usize,
    timeout_ms: u32,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
    out_ack_id: *mut u64,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let server = s
            .server
            .upgrade()
            .ok_or_else(|| Error::from(oxsio_result::Closed))?;
        let name = str_arg(event, "event")?;
        let args = args_of(args_json, buffers_, buffer_count)?;
        let cb = ack_callback(
            server.dispatch.is_poll(),
            callback,
            user_data,
            user_data_free,
        )?;
        let mut fut: AckFuture = if timeout_ms == 0 {
            s.socket.emit_with_ack(name, args)
        } else {
            s.socket
                .timeout(Duration::from_millis(timeout_ms.into()))
                .emit_with_ack(name, args)
        };
        let first = poll_once(&mut fut);
        if let Some(Err(e)) = &first
            && !matches!(e, AckError::Timeout | AckError::Disconnected)
        {
            // Not sent: report now; the callback registration is dropped
            // without calling user_data_free (the call failed).
            if let Some(cb) = cb {
                forget_free(cb);
            }
            return Err(e.clone().into());
        }
        let ack_id = next_ack_id();
        write_opt(out_ack_id, ack_id);
        let weak = Arc::downgrade(&s);
        let nsp = s.nsp.as_str().to_owned();
        let socket_h = s.handle();
        let finish = move |r: std::result::Result<Args, AckError>| {
            let mut ev = EventData::new(oxsio_event_kind::Ack, &nsp);
            ev.id = ack_id;
            ev.socket = socket_h;
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
            deliver_ack(weak.upgrade(), cb, ev);
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

/// Checks an ack callback against the dispatch mode.
pub(crate) fn ack_callback(
    poll: bool,
    callback: oxsio_event_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> Result<Option<Arc<Callback>>> {
    match (poll, callback) {
        (true, Some(_)) => Err(Error::new(
            oxsio_result::WrongMode,
            "a callback on a poll-mode handle: the reply arrives from poll",
        )),
        (true, None) => Ok(None),
        (false, None) => Ok(None),
        (false, Some(_)) => Callback::new(callback, user_data, user_data_free).map(Some),
    }
}

/// Drops a registration without calling its `user_data_free` (used when
/// the registering call fails: ownership stays with the caller).
pub(crate) fn forget_free(cb: Arc<Callback>) {
    if let Ok(mut cb) = Arc::try_unwrap(cb) {
        cb.forget_free();
    }
}

fn deliver_ack(s: Option<Arc<SocketShared>>, cb: Option<Arc<Callback>>, ev: EventData) {
    match cb {
        Some(cb) => {
            if let Some(server) = s.and_then(|s| s.server.upgrade()) {
                call_all(&server.dispatch, &[cb], ev);
            }
        }
        None => {
            if let Some(server) = s.and_then(|s| s.server.upgrade())
                && server.dispatch.is_poll()
            {
                server.dispatch.push(ev);
            }
        }
    }
}

/// Makes the socket join `room`.
///
/// Borrowing: `room` is copied. Threads: any. Returns:
/// `OXSIO_RESULT_TOO_MANY_ROOMS` past the server's `max_rooms_per_socket`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_join(
    socket: *const oxsio_socket,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let room = str_arg(room, "room")?;
        s.socket.try_join(room).map_err(Error::from)
    })
}

/// Makes the socket leave `room`.
///
/// Borrowing: `room` is copied. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_leave(
    socket: *const oxsio_socket,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        let room = str_arg(room, "room")?;
        s.socket.leave(room);
        Ok(())
    })
}

/// Removes the socket from its namespace (the client sees
/// `"io server disconnect"`); with `close`, closes the whole connection.
/// The `DISCONNECT` event follows (in callback mode, before this returns).
///
/// Threads: any. Never blocks on the network.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_socket_disconnect(
    socket: *const oxsio_socket,
    close: bool,
) -> oxsio_result {
    guard(|| {
        let s = sock(socket)?;
        s.socket.disconnect_with(close);
        Ok(())
    })
}
