//! Result codes, their messages, and the per-thread detail of the last error.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use oxsio_core::client::ClientError;
use oxsio_core::{AckError, BroadcastError, EmitError, JoinError};

/// The result of every fallible call. `OXSIO_RESULT_OK` (0) is success;
/// other codes are grouped by family (1xx arguments, 2xx handles and
/// modes, 3xx state, 4xx network, 9xx internal) and never renumbered.
/// `oxsio_result_message` gives the text, `oxsio_last_error_message` the
/// detail of the last failure on the calling thread.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 100,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 101,
    /// A JSON argument does not parse, or has the wrong shape (e.g. the
    /// arguments are not a JSON array, or a placeholder names no buffer).
    InvalidJson = 102,
    /// An argument is out of range or meaningless (unknown enum value or flag,
    /// index past the end, undeclared namespace, bad room name).
    InvalidArgument = 103,
    /// The configuration JSON has an unknown key or a bad value.
    InvalidConfig = 104,
    /// The caller's buffer is too small; the needed size was written.
    BufferTooSmall = 105,
    /// The handle is NULL-like, forged, or was already freed.
    InvalidHandle = 200,
    /// The handle is of another type than this function takes.
    WrongHandleType = 201,
    /// Not available in this dispatch mode (e.g. `poll` on a callback-mode
    /// handle, or a callback given to a poll-mode handle).
    WrongMode = 202,
    /// The handle was closed (shut down or disconnected for good).
    Closed = 203,
    /// `poll`: no event is queued (not an error; try again next frame).
    Empty = 300,
    /// A wait ended without the awaited condition.
    Timeout = 301,
    /// The client is not connected and buffering is off.
    NotConnected = 302,
    /// The socket is disconnected; nothing was sent.
    Disconnected = 303,
    /// The peer reads too slowly: its outgoing queue is full.
    QueueFull = 304,
    /// The client's offline buffer is full.
    BufferFull = 305,
    /// The packet is over the peer's `maxPayload`; it was not sent.
    PayloadTooLarge = 306,
    /// The event name is reserved by the protocol (e.g. `connect`).
    ReservedEvent = 307,
    /// The acknowledgement or verdict was already given.
    AlreadyAnswered = 308,
    /// The event asks for no acknowledgement (or is not a connection request).
    NoAck = 309,
    /// A blocking call was made on a library thread (inside a callback)
    /// where it could stall the runtime; call it from your own thread.
    WouldBlock = 310,
    /// Some targets of a broadcast did not get it (their queue was full).
    PartialBroadcast = 311,
    /// Too many acknowledgements are already awaited on this socket; wait
    /// for some replies first.
    TooManyPending = 312,
    /// The socket is in as many rooms as `max_rooms_per_socket` allows.
    TooManyRooms = 313,
    /// An I/O error (e.g. the address cannot be bound).
    Io = 400,
    /// The server could not be reached.
    Connect = 401,
    /// TLS failed (certificate rejected, bad CA PEM).
    Tls = 402,
    /// The peer does not speak Engine.IO v4 / Socket.IO v5.
    Protocol = 403,
    /// The server answered an HTTP error.
    Http = 404,
    /// The server's middleware refused the connection (`connect_error`).
    Refused = 405,
    /// The URL is malformed or uses an unsupported scheme.
    InvalidUrl = 406,
    /// A panic was caught at the boundary (a bug: please report it).
    Panic = 900,
    /// An internal error (a bug: please report it).
    Internal = 901,
}

impl oxsio_result {
    /// The static message of this code.
    pub fn message(self) -> &'static str {
        use oxsio_result as R;
        match self {
            R::Ok => "ok\0",
            R::NullArgument => "a required pointer argument is NULL\0",
            R::InvalidUtf8 => "a string argument is not valid UTF-8\0",
            R::InvalidJson => "invalid JSON argument\0",
            R::InvalidArgument => "invalid argument\0",
            R::InvalidConfig => "invalid configuration\0",
            R::BufferTooSmall => "the output buffer is too small\0",
            R::InvalidHandle => "invalid or freed handle\0",
            R::WrongHandleType => "the handle has the wrong type\0",
            R::WrongMode => "not available in this dispatch mode\0",
            R::Closed => "the handle is closed\0",
            R::Empty => "no event queued\0",
            R::Timeout => "timed out\0",
            R::NotConnected => "not connected\0",
            R::Disconnected => "the socket is disconnected\0",
            R::QueueFull => "the outgoing queue is full\0",
            R::BufferFull => "the offline buffer is full\0",
            R::PayloadTooLarge => "payload exceeds maxPayload\0",
            R::ReservedEvent => "the event name is reserved\0",
            R::AlreadyAnswered => "already answered\0",
            R::NoAck => "no acknowledgement or verdict was requested\0",
            R::WouldBlock => "blocking call on a library thread\0",
            R::PartialBroadcast => "the broadcast did not reach every target\0",
            R::TooManyPending => "too many pending acknowledgements\0",
            R::TooManyRooms => "too many rooms for one socket\0",
            R::Io => "I/O error\0",
            R::Connect => "cannot connect\0",
            R::Tls => "TLS error\0",
            R::Protocol => "protocol error\0",
            R::Http => "HTTP error\0",
            R::Refused => "connection refused by the server\0",
            R::InvalidUrl => "invalid URL\0",
            R::Panic => "a panic was caught at the C boundary\0",
            R::Internal => "internal error\0",
        }
    }

    /// The code for a raw value (unknown values map to `Internal`).
    pub fn from_u32(v: u32) -> Option<oxsio_result> {
        use oxsio_result as R;
        const ALL: [oxsio_result; 34] = [
            R::Ok,
            R::NullArgument,
            R::InvalidUtf8,
            R::InvalidJson,
            R::InvalidArgument,
            R::InvalidConfig,
            R::BufferTooSmall,
            R::InvalidHandle,
            R::WrongHandleType,
            R::WrongMode,
            R::Closed,
            R::Empty,
            R::Timeout,
            R::NotConnected,
            R::Disconnected,
            R::QueueFull,
            R::BufferFull,
            R::PayloadTooLarge,
            R::ReservedEvent,
            R::AlreadyAnswered,
            R::NoAck,
            R::WouldBlock,
            R::PartialBroadcast,
            R::TooManyPending,
            R::TooManyRooms,
            R::Io,
            R::Connect,
            R::Tls,
            R::Protocol,
            R::Http,
            R::Refused,
            R::InvalidUrl,
            R::Panic,
            R::Internal,
        ];
        ALL.into_iter().find(|c| *c as u32 == v)
    }
}

/// An error on its way to C: a code and a detailed message.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub code: oxsio_result,
    pub detail: String,
}

impl Error {
    pub(crate) fn new(code: oxsio_result, detail: impl Into<String>) -> Error {
        Error {
            code,
            detail: detail.into(),
        }
    }
}

impl From<oxsio_result> for Error {
    fn from(code: oxsio_result) -> Self {
        let m = code.message();
        Error::new(code, &m[..m.len() - 1])
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

thread_local! {
    static LAST: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the detail of a failure for `oxsio_last_error_message`.
pub(crate) fn set_last(detail: &str) {
    let c = CString::new(detail.replace('\0', " ")).unwrap_or_default();
    LAST.with(|l| *l.borrow_mut() = c);
}

/// Turns a result into a code, recording the detail of a failure.
pub(crate) fn finish(r: Result<()>) -> oxsio_result {
    match r {
        Ok(()) => oxsio_result::Ok,
        Err(e) => {
            set_last(&e.detail);
            e.code
        }
    }
}

impl From<EmitError> for Error {
    fn from(e: EmitError) -> Self {
        let code = match e {
            EmitError::QueueFull => oxsio_result::QueueFull,
            EmitError::Disconnected => oxsio_result::Disconnected,
            EmitError::ReservedEvent(_) => oxsio_result::ReservedEvent,
        };
        Error::new(code, e.to_string())
    }
}

impl From<AckError> for Error {
    fn from(e: AckError) -> Self {
        match e {
            AckError::Timeout => Error::new(oxsio_result::Timeout, e.to_string()),
            AckError::Emit(e) => e.into(),
            AckError::Disconnected => Error::new(oxsio_result::Disconnected, e.to_string()),
            AckError::TooManyPending { .. } => {
                Error::new(oxsio_result::TooManyPending, e.to_string())
            }
        }
    }
}

impl From<JoinError> for Error {
    fn from(e: JoinError) -> Self {
        match e {
            JoinError::TooManyRooms { .. } => Error::new(oxsio_result::TooManyRooms, e.to_string()),
        }
    }
}

impl From<BroadcastError> for Error {
    fn from(e: BroadcastError) -> Self {
        let code = match e {
            BroadcastError::ReservedEvent(_) => oxsio_result::ReservedEvent,
            BroadcastError::Sockets(_) => oxsio_result::PartialBroadcast,
        };
        Error::new(code, e.to_string())
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        use oxsio_result as R;
        let code = match &e {
            ClientError::InvalidUrl(_) => R::InvalidUrl,
            ClientError::Connect(_) => R::Connect,
            ClientError::Tls(_) => R::Tls,
            ClientError::Protocol(_) => R::Protocol,
            ClientError::Http(..) => R::Http,
            ClientError::Timeout => R::Timeout,
            ClientError::Refused { .. } => R::Refused,
            ClientError::PayloadTooLarge { .. } => R::PayloadTooLarge,
            ClientError::BufferFull => R::BufferFull,
            ClientError::NotConnected => R::NotConnected,
            ClientError::Emit(e) => return e.clone().into(),
            ClientError::BlockingInAsync => R::WouldBlock,
            ClientError::Closed => R::Closed,
        };
        // A refusal carries the server's message unchanged, as `err.message`
        // in the JS client and the Rust client's `message`: the code already
        // says it was a refusal.
        if let ClientError::Refused { message, .. } = &e {
            return Error::new(code, message.clone());
        }
        Error::new(code, e.to_string())
    }
}

/// The static, NUL-terminated message of a result code (unknown codes get
/// `"unknown result code"`).
///
/// Ownership: static, never free it. NULL: never returned. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_result_message(result: u32) -> *const c_char {
    let m = oxsio_result::from_u32(result).map_or("unknown result code\0", oxsio_result::message);
    m.as_ptr().cast()
}

/// The detailed message of the last failed call made on the calling thread
/// (e.g. where a JSON argument stopped parsing), NUL-terminated; `""` if none.
///
/// Borrowing: valid until the next failing `oxsio_*` call on this thread.
/// NULL: never returned. Threads: per thread.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_last_error_message() -> *const c_char {
    std::panic::catch_unwind(|| LAST.with(|l| l.borrow().as_ptr())).unwrap_or(c"".as_ptr())
}
