//! `oxsio_event`: one thing that happened (a message, a connection, a
//! disconnection, an acknowledgement, ...), with borrowed views of its data.

use std::ffi::c_char;
use std::sync::{Arc, Mutex, OnceLock};

use oxsio_core::client::ClientAck;
use oxsio_core::{AckSender, Args, ConnectError, Value};
use tokio::sync::oneshot;

use crate::boundary::{
    Entry, bytes_arg, get_event, guard, guard_value, id, need_out, opt_str_arg, ptr, register,
    unregister_if, write_opt, write_out,
};
use crate::dispatch::lock;
use crate::error::{Error, Result, oxsio_result};
use crate::payload::{NulStr, Rendered, buffers, kind_of, oxsio_buf, parse_args, parse_value};
use crate::socket::oxsio_socket;

/// An event handle. Owned when returned by `poll` or `oxsio_event_clone`
/// (release it with `oxsio_event_free`); borrowed inside a callback (valid
/// until the callback returns).
pub struct oxsio_event {
    _private: [u8; 0],
}

/// What an event is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_event_kind {
    /// Not an event (returned for an invalid handle).
    Invalid = 0,
    /// An application event from the peer: name, arguments, maybe an ack request.
    Message = 1,
    /// Client: the namespace is joined (also after each reconnection).
    Connect = 2,
    /// Server: a socket connected; `oxsio_event_socket` gives it.
    Connection = 3,
    /// The socket left; `oxsio_event_message` gives the official reason
    /// (e.g. `"transport close"`, `"io server disconnect"`).
    Disconnect = 4,
    /// Client: a connection attempt failed or the server refused it; the
    /// code says which, the message why, and the arguments hold the
    /// server's `data` when it sent one.
    ConnectError = 5,
    /// The reply to an emit-with-ack: `oxsio_event_id` is the id the emit
    /// returned; the result is `OXSIO_RESULT_OK` with the reply's arguments,
    /// or `OXSIO_RESULT_TIMEOUT` / `OXSIO_RESULT_DISCONNECTED`.
    Ack = 6,
    /// Server: a client asks to join a namespace that has a middleware;
    /// answer with `oxsio_event_accept` or `oxsio_event_refuse` (now or
    /// later, from any thread). Released unanswered, it is refused.
    ConnectionRequest = 7,
    /// Client: a reconnection attempt starts; `oxsio_event_id` is its number.
    ReconnectAttempt = 8,
    /// Client: reconnected after `oxsio_event_id` attempts.
    Reconnect = 9,
    /// Client: a reconnection attempt failed (code and message say why).
    ReconnectError = 10,
    /// Client: the reconnection attempts are exhausted; the client gives up.
    ReconnectFailed = 11,
    /// Server: an event another node sent with `server_side_emit`
    /// (multi-node adapters): name and arguments, no socket; when
    /// `oxsio_event_wants_ack`, `oxsio_event_ack` replies with the first
    /// argument (`null` when none).
    ServerEvent = 12,
}

impl oxsio_event_kind {
    /// The name callbacks are registered under for this lifecycle event.
    pub(crate) fn reserved_name(self) -> &'static str {
        match self {
            oxsio_event_kind::Connect => "connect",
            oxsio_event_kind::Connection => "connection",
            oxsio_event_kind::Disconnect => "disconnect",
            oxsio_event_kind::ConnectError => "connect_error",
            oxsio_event_kind::Ack => "ack",
            oxsio_event_kind::ConnectionRequest => "connection_request",
            oxsio_event_kind::ReconnectAttempt => "reconnect_attempt",
            oxsio_event_kind::Reconnect => "reconnect",
            oxsio_event_kind::ReconnectError => "reconnect_error",
            oxsio_event_kind::ReconnectFailed => "reconnect_failed",
            oxsio_event_kind::Message
            | oxsio_event_kind::ServerEvent
            | oxsio_event_kind::Invalid => "",
        }
    }
}

/// Who answers an acknowledgement request.
pub(crate) enum Acker {
    Server(AckSender),
    Client(ClientAck),
    /// The reply to another node's `server_side_emit` (one value).
    Node(oxsio_core::ServerAck),
}

pub(crate) type Verdict = oneshot::Sender<std::result::Result<(), ConnectError>>;

/// Runs a closure when the event is released (retires a socket handle).
pub(crate) struct OnDrop(pub Option<Box<dyn FnOnce() + Send + Sync>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// The data behind an event handle.
pub(crate) struct EventData {
    pub kind: oxsio_event_kind,
    pub name: NulStr,
    pub nsp: NulStr,
    /// The values of the arguments; for an event received as JSON text
    /// (`rendered` holds it), parsed into `parsed` when asked.
    pub args: Args,
    parsed: OnceLock<Args>,
    rendered: OnceLock<Rendered>,
    pub socket: usize,
    pub ack: Mutex<Option<Acker>>,
    pub id: u64,
    pub code: oxsio_result,
    pub message: NulStr,
    pub verdict: Mutex<Option<Verdict>>,
    pub handshake: Option<Arc<NulStr>>,
    pub on_drop: Option<OnDrop>,
    /// A `CONNECT` / `CONNECTION` that recovered the previous session.
    pub recovered: bool,
}

impl EventData {
    pub(crate) fn new(kind: oxsio_event_kind, nsp: &str) -> EventData {
        EventData {
            kind,
            name: NulStr::new(kind.reserved_name()),
            nsp: NulStr::new(nsp),
            args: Vec::new(),
            parsed: OnceLock::new(),
            rendered: OnceLock::new(),
            socket: 0,
            ack: Mutex::new(None),
            id: 0,
            code: oxsio_result::Ok,
            message: NulStr::new(""),
            verdict: Mutex::new(None),
            handshake: None,
            on_drop: None,
            recovered: false,
        }
    }

    pub(crate) fn message(nsp: NulStr, name: NulStr, args: Args, ack: Option<Acker>) -> EventData {
        let mut e = EventData::new(oxsio_event_kind::Message, "");
        // `new` filled in the kind's reserved name; events carry their own.
        e.name = name;
        e.nsp = nsp;
        e.args = args;
        e.ack = Mutex::new(ack);
        e
    }

    /// A message whose arguments stay the JSON text received (`inner`: the
    /// elements, checked): no value is built unless the host asks for one.
    pub(crate) fn message_as_sent(
        nsp: NulStr,
        name: NulStr,
        inner: &str,
        ack: Option<Acker>,
    ) -> EventData {
        let mut e = EventData::message(nsp, name, Vec::new(), ack);
        e.rendered = OnceLock::from(Rendered::as_sent(inner));
        e
    }

    /// The arguments as values.
    pub(crate) fn values(&self) -> &Args {
        match self.rendered.get() {
            // Checked on receipt: one parse, no second check.
            Some(r) if r.is_as_sent() => {
                self.parsed
                    .get_or_init(|| match Value::from_json(r.text()) {
                        Ok(Value::Array(a)) => a,
                        _ => Vec::new(),
                    })
            }
            _ => &self.args,
        }
    }

    pub(crate) fn with_error(mut self, code: oxsio_result, message: &str) -> EventData {
        self.code = code;
        self.message = NulStr::new(message);
        self
    }

    fn rendered(&self) -> &Rendered {
        self.rendered.get_or_init(|| Rendered::new(&self.args))
    }

    fn arg(&self, i: usize) -> Result<&Value> {
        let args = self.values();
        args.get(i).ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                format!("argument {i} of {}", args.len()),
            )
        })
    }
}

impl Drop for EventData {
    fn drop(&mut self) {
        if let Some(v) = lock(&self.verdict).take() {
            let _ = v.send(Err(ConnectError::new("connection refused")));
        }
    }
}

fn ev(e: *const oxsio_event) -> Result<Arc<EventData>> {
    get_event(id(e))
}

fn lend(s: &str, out: *mut *const c_char, out_len: *mut usize) -> Result<()> {
    write_out(out, s.as_ptr().cast(), "out")?;
    write_opt(out_len, s.len());
    Ok(())
}

fn lend_nul(s: &NulStr, out: *mut *const c_char, out_len: *mut usize) -> Result<()> {
    s.lend(out, out_len, "out")
}

/// The kind of an event (`OXSIO_EVENT_KIND_*`), or
/// `OXSIO_EVENT_KIND_INVALID` (0) for an invalid handle.
///
/// Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_get_kind(event: *const oxsio_event) -> oxsio_event_kind {
    guard_value(oxsio_event_kind::Invalid, || {
        ev(event).map_or(oxsio_event_kind::Invalid, |e| e.kind)
    })
}

/// The event name: the application event's name for `OXSIO_EVENT_KIND_MESSAGE`,
/// otherwise the lifecycle name (`"connect"`, `"disconnect"`, ...).
///
/// Borrowing: `*out_name` is NUL-terminated and valid until the event is
/// released. NULL: `event`, `out_name` must not be NULL; `out_len` may be.
/// Returns: `OXSIO_RESULT_OK`, or a handle/argument error.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_name(
    event: *const oxsio_event,
    out_name: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| lend_nul(&ev(event)?.name, out_name, out_len))
}

/// The namespace the event belongs to (e.g. `"/"`).
///
/// Borrowing: NUL-terminated, valid until the event is released.
/// NULL: `out_nsp` must not be NULL; `out_len` may be.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_namespace(
    event: *const oxsio_event,
    out_nsp: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| lend_nul(&ev(event)?.nsp, out_nsp, out_len))
}

/// Every argument as one JSON array text; binary buffers appear as
/// `{"_placeholder":true,"num":i}` where `i` indexes `oxsio_event_binary`.
/// A text event a server receives keeps the JSON the peer wrote (checked
/// as `JSON.parse` accepts it; `1.50` stays `1.50`); otherwise the text is
/// rendered once, on the first call.
///
/// Borrowing: NUL-terminated, valid until the event is released.
/// NULL: `out_json` must not be NULL; `out_len` may be.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_args_json(
    event: *const oxsio_event,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let r = e.rendered();
        write_out(out_json, r.json.as_ptr().cast(), "out_json")?;
        write_opt(out_len, r.text().len());
        Ok(())
    })
}

/// The number of arguments.
///
/// NULL: `out_count` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_count(
    event: *const oxsio_event,
    out_count: *mut usize,
) -> oxsio_result {
    guard(|| write_out(out_count, ev(event)?.values().len(), "out_count"))
}

/// The kind (`OXSIO_VALUE_KIND_*`) of argument `index`.
///
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` when `index` is past the end.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_kind(
    event: *const oxsio_event,
    index: usize,
    out_kind: *mut u32,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        write_out(out_kind, kind_of(e.arg(index)?) as u32, "out_kind")
    })
}

/// Argument `index` as JSON text: a slice of `oxsio_event_args_json`, so
/// its placeholders use the event's numbering (pass the event's buffers
/// along when you re-emit it).
///
/// Borrowing: NOT NUL-terminated (use `*out_len`), valid until the event is
/// released. NULL: `out_json` and `out_len` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_json(
    event: *const oxsio_event,
    index: usize,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        need_out(out_len, "out_len")?;
        let e = ev(event)?;
        e.arg(index)?;
        let r = e.rendered();
        let (a, b) = r.range(index);
        lend(&r.text()[a..b], out_json, out_len)
    })
}

/// Argument `index` when it is a string.
///
/// Borrowing: NOT NUL-terminated (use `*out_len`), valid until the event is
/// released. NULL: `out_str` and `out_len` must not be NULL.
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` if it is not a string.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_string(
    event: *const oxsio_event,
    index: usize,
    out_str: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        need_out(out_len, "out_len")?;
        let e = ev(event)?;
        match e.arg(index)? {
            Value::String(s) => lend(s, out_str, out_len),
            v => Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("argument {index} is not a string but {:?}", kind_of(v)),
            )),
        }
    })
}

/// Argument `index` when it is a number.
///
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` if it is not a number.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_number(
    event: *const oxsio_event,
    index: usize,
    out_number: *mut f64,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let n = e.arg(index)?.as_f64().ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                format!("argument {index} is not a number"),
            )
        })?;
        write_out(out_number, n, "out_number")
    })
}

/// Argument `index` when it is a boolean.
///
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` if it is not a boolean.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_bool(
    event: *const oxsio_event,
    index: usize,
    out_bool: *mut bool,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let b = e.arg(index)?.as_bool().ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                format!("argument {index} is not a boolean"),
            )
        })?;
        write_out(out_bool, b, "out_bool")
    })
}

/// Argument `index` when it is a binary buffer, without copy and without
/// rendering any JSON (the raw-binary receive path).
///
/// Borrowing: valid until the event is released. NULL: `out_data` and
/// `out_len` must not be NULL. Returns: `OXSIO_RESULT_INVALID_ARGUMENT` if
/// it is not binary.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_arg_binary(
    event: *const oxsio_event,
    index: usize,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        need_out(out_len, "out_len")?;
        let e = ev(event)?;
        match e.arg(index)? {
            Value::Binary(b) => {
                write_out(out_data, b.as_ptr(), "out_data")?;
                write_opt(out_len, b.len());
                Ok(())
            }
            _ => Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("argument {index} is not binary"),
            )),
        }
    })
}

/// The number of binary buffers anywhere in the arguments (the
/// placeholders of `oxsio_event_args_json`).
///
/// NULL: `out_count` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_binary_count(
    event: *const oxsio_event,
    out_count: *mut usize,
) -> oxsio_result {
    guard(|| write_out(out_count, ev(event)?.rendered().bins.len(), "out_count"))
}

/// Buffer `index` (placeholder `num` `index`), without copy.
///
/// Borrowing: valid until the event is released. NULL: `out_data` and
/// `out_len` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_binary(
    event: *const oxsio_event,
    index: usize,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        need_out(out_len, "out_len")?;
        let e = ev(event)?;
        let b = e.rendered().bins.get(index).ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                format!("buffer {index} does not exist"),
            )
        })?;
        write_out(out_data, b.as_ptr(), "out_data")?;
        write_opt(out_len, b.len());
        Ok(())
    })
}

/// The server-side socket of a server event (`MESSAGE`, `CONNECTION`,
/// `DISCONNECT`, `ACK`).
///
/// Borrowing: the socket handle is owned by the server (never free it); it
/// stays valid until that socket's `DISCONNECT` event is released.
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` for an event without socket.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_socket(
    event: *const oxsio_event,
    out_socket: *mut *mut oxsio_socket,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        if e.socket == 0 {
            return Err(Error::new(
                oxsio_result::InvalidArgument,
                "this event has no socket",
            ));
        }
        write_out(out_socket, ptr(e.socket), "out_socket")
    })
}

/// A number carried by the event: the ack id for `OXSIO_EVENT_KIND_ACK` (as
/// returned by the emit), the attempt count for `RECONNECT_ATTEMPT` and
/// `RECONNECT`; 0 otherwise.
///
/// NULL: `out_id` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_id(event: *const oxsio_event, out_id: *mut u64) -> oxsio_result {
    guard(|| write_out(out_id, ev(event)?.id, "out_id"))
}

/// True for a `CONNECT` (client) or `CONNECTION` (server) event whose
/// socket recovered its previous session (connection state recovery):
/// same id and rooms, and the events sent while it was away come right
/// after this one. False for every other event.
///
/// NULL: `out_recovered` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_recovered(
    event: *const oxsio_event,
    out_recovered: *mut bool,
) -> oxsio_result {
    guard(|| write_out(out_recovered, ev(event)?.recovered, "out_recovered"))
}

/// The outcome an event reports: `OXSIO_RESULT_OK` for most events; the
/// failure code for `CONNECT_ERROR`, `RECONNECT_ERROR` and a failed `ACK`.
///
/// NULL: `out_result` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_result(
    event: *const oxsio_event,
    out_result: *mut oxsio_result,
) -> oxsio_result {
    guard(|| write_out(out_result, ev(event)?.code, "out_result"))
}

/// The event's text: the reason of a `DISCONNECT`, the error message of a
/// `CONNECT_ERROR`, `RECONNECT_ERROR` or failed `ACK`; `""` otherwise.
///
/// Borrowing: NUL-terminated, valid until the event is released.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_message(
    event: *const oxsio_event,
    out_message: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| lend_nul(&ev(event)?.message, out_message, out_len))
}

/// The handshake of a `CONNECTION` or `CONNECTION_REQUEST` event as a JSON
/// object, as Node's `socket.handshake`: `{"headers":{..},"time":..,
/// "address":..,"xdomain":..,"secure":false,"issued":ms,"url":..,
/// "query":{..},"auth":..}`.
///
/// Borrowing: NUL-terminated, valid until the event is released.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_handshake_json(
    event: *const oxsio_event,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let h = e.handshake.as_ref().ok_or_else(|| {
            Error::new(
                oxsio_result::InvalidArgument,
                "this event carries no handshake",
            )
        })?;
        lend_nul(h, out_json, out_len)
    })
}

/// True when the peer asked for an acknowledgement that was not sent yet.
///
/// NULL: `out_wants` must not be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_wants_ack(
    event: *const oxsio_event,
    out_wants: *mut bool,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let wants = lock(&e.ack).is_some();
        write_out(out_wants, wants, "out_wants")
    })
}

fn take_ack(e: &EventData) -> Result<Acker> {
    lock(&e.ack).take().ok_or_else(|| {
        Error::new(
            oxsio_result::NoAck,
            "no acknowledgement requested, or already sent",
        )
    })
}

fn send_ack(acker: Acker, args: Args) -> Result<()> {
    match acker {
        Acker::Server(a) => a.send(args).map_err(Error::from),
        Acker::Client(a) => a.send(args).map_err(Error::from),
        Acker::Node(a) => {
            a.send(args.into_iter().next().unwrap_or(Value::Null));
            Ok(())
        }
    }
}

/// Answers the peer's acknowledgement request of a `MESSAGE` event with
/// arguments (a JSON array plus buffers, see the header's preamble). Only
/// the first answer is sent; later ones return `OXSIO_RESULT_NO_ACK`.
/// Works on a borrowed event inside a callback or on an owned one later.
///
/// Borrowing: every argument is borrowed for the call only.
/// NULL: `args_json` NULL means no argument; `buffers` may be NULL when
/// `buffer_count` is 0. Threads: any.
/// Returns: `OXSIO_RESULT_NO_ACK`, `OXSIO_RESULT_INVALID_JSON`, or a send error.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_ack(
    event: *const oxsio_event,
    args_json: *const c_char,
    buffers_: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let json = opt_str_arg(args_json, "args_json")?;
        let bufs = buffers(buffers_, buffer_count)?;
        let args = parse_args(json, &bufs)?;
        send_ack(take_ack(&e)?, args)
    })
}

/// Answers an acknowledgement request with one binary argument, without JSON.
///
/// Borrowing: `data` is copied during the call. NULL: `data` may be NULL
/// when `len` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_ack_binary(
    event: *const oxsio_event,
    data: *const u8,
    len: usize,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let bytes = bytes::Bytes::copy_from_slice(bytes_arg(data, len, "data")?);
        send_ack(take_ack(&e)?, vec![Value::Binary(bytes)])
    })
}

fn take_verdict(e: &EventData) -> Result<Verdict> {
    if e.kind != oxsio_event_kind::ConnectionRequest {
        return Err(Error::new(
            oxsio_result::NoAck,
            "not a CONNECTION_REQUEST event",
        ));
    }
    lock(&e.verdict)
        .take()
        .ok_or_else(|| Error::new(oxsio_result::AlreadyAnswered, "already accepted or refused"))
}

/// Accepts a `CONNECTION_REQUEST`: the socket joins its namespace (and the
/// next middleware, if any, runs).
///
/// Threads: any; may be called after the callback returned, on a clone.
/// Returns: `OXSIO_RESULT_ALREADY_ANSWERED` after a first verdict,
/// `OXSIO_RESULT_NO_ACK` for another kind of event.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_accept(event: *const oxsio_event) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let _ = take_verdict(&e)?.send(Ok(()));
        Ok(())
    })
}

/// Refuses a `CONNECTION_REQUEST`: the client gets `connect_error` with
/// `message` and, when given, `data_json` (any JSON value; `err.data` on
/// the JS client).
///
/// Borrowing: strings are copied during the call. NULL: `message` NULL
/// means `"connection refused"`; `data_json` may be NULL.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_refuse(
    event: *const oxsio_event,
    message: *const c_char,
    data_json: *const c_char,
) -> oxsio_result {
    guard(|| {
        let e = ev(event)?;
        let message = opt_str_arg(message, "message")?.unwrap_or("connection refused");
        let mut err = ConnectError::new(message);
        if let Some(d) = opt_str_arg(data_json, "data_json")? {
            err = err.with_data(parse_value(d, &[])?);
        }
        let _ = take_verdict(&e)?.send(Err(err));
        Ok(())
    })
}

/// A new owned handle to the same event, e.g. to keep an event received in
/// a callback, or to answer its ack later from another thread.
///
/// Ownership: release `*out_event` with `oxsio_event_free`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_clone(
    event: *const oxsio_event,
    out_event: *mut *mut oxsio_event,
) -> oxsio_result {
    guard(|| {
        need_out(out_event, "out_event")?;
        let e = ev(event)?;
        let h = register(Entry::Event(e));
        write_out(out_event, ptr(h), "out_event")
    })
}

/// Releases an event handle. NULL is accepted (no-op). Releasing a borrowed
/// event inside its callback is allowed and only ends the borrow early.
///
/// Threads: any. Never blocks.
/// Returns: `OXSIO_RESULT_OK`, `OXSIO_RESULT_INVALID_HANDLE` for a handle
/// already released, `OXSIO_RESULT_WRONG_HANDLE_TYPE` for another handle type.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_event_free(event: *mut oxsio_event) -> oxsio_result {
    guard(|| {
        if event.is_null() {
            return Ok(());
        }
        let e = unregister_if(id(event), |e| matches!(e, Entry::Event(_)))?;
        drop(e);
        Ok(())
    })
}
