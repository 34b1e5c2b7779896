//! The log sink: the core's `tracing` events (level, target, message)
//! handed to the host, through a callback on the library's log thread or a
//! bounded queue the host drains (`oxsio_log_poll`). One sink per process.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::boundary::{copy_text, guard, need_out, write_out};
use crate::dispatch::{lock, oxsio_free_cb};
use crate::error::{Error, Result, oxsio_result};

/// Severity of a log record (`oxsio_log_*`), most severe first; a sink
/// set to a level receives that level and the more severe ones.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_log_level {
    /// Nothing (the sink is off).
    Off = 0,
    /// Something failed.
    Error = 1,
    /// Something unexpected, handled.
    Warn = 2,
    /// Notable events.
    Info = 3,
    /// Details for debugging (e.g. why a connection was closed).
    Debug = 4,
    /// Everything.
    Trace = 5,
}

/// A log callback: `user_data` as registered, the record's level
/// (`OXSIO_LOG_LEVEL_*`), its target (the core module, e.g.
/// `"oxsio::socketio::conn"`) and its message with its fields
/// (`"invalid packet, closing sid=… error=…"`), both NUL-terminated and
/// borrowed for the call.
pub type oxsio_log_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The queue's default bound (`oxsio_log_enable_queue` with capacity 0).
const DEFAULT_CAPACITY: usize = 1024;

struct LogRecord {
    level: u32,
    target: String,
    message: String,
}

struct HostCallback {
    cb: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    user_data: *mut c_void,
    free: oxsio_free_cb,
}

// SAFETY: the host registered `user_data` for calls from the log thread and
// its release from any thread (the header says so).
unsafe impl Send for HostCallback {}

impl Drop for HostCallback {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data) }
        }
    }
}

enum Sink {
    Off,
    /// Records go to the log thread, which calls the host (bounded channel).
    Callback(SyncSender<LogRecord>),
    Queue {
        records: VecDeque<LogRecord>,
        capacity: usize,
    },
}

struct State {
    sink: Mutex<Sink>,
    /// The most verbose level delivered (0: off), read on every event.
    max: AtomicU32,
    dropped: AtomicU64,
}

fn state() -> &'static State {
    static S: OnceLock<State> = OnceLock::new();
    S.get_or_init(|| State {
        sink: Mutex::new(Sink::Off),
        max: AtomicU32::new(0),
        dropped: AtomicU64::new(0),
    })
}

fn level_num(l: &Level) -> u32 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The subscriber installed (once) as the process's global default.
struct HostSubscriber;

struct Fields(String, String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.1, " {}={}", field.name(), value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.1, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for HostSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The level can change at any time: ask `enabled` on every event.
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && level_num(metadata.level()) <= state().max.load(Ordering::Relaxed)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let level = level_num(meta.level());
        let st = state();
        if level > st.max.load(Ordering::Relaxed) {
            return;
        }
        let mut f = Fields(String::new(), String::new());
        event.record(&mut f);
        let rec = LogRecord {
            level,
            target: meta.target().to_owned(),
            message: f.0 + &f.1,
        };
        let mut sink = lock(&st.sink);
        match &mut *sink {
            Sink::Off => {}
            Sink::Callback(tx) => match tx.try_send(rec) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    st.dropped.fetch_add(1, Ordering::Relaxed);
                }
            },
            Sink::Queue { records, capacity } => {
                if records.len() >= *capacity {
                    st.dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    records.push_back(rec);
                }
            }
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Installs the subscriber as the process's global default (once).
fn install() -> Result<()> {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ok =
        *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(HostSubscriber).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            oxsio_result::InvalidArgument,
            "another tracing subscriber is already installed in this process",
        ))
    }
}

fn check_level(level: u32) -> Result<u32> {
    if level > oxsio_log_level::Trace as u32 {
        return Err(Error::new(
            oxsio_result::InvalidArgument,
            format!("unknown log level {level}"),
        ));
    }
    Ok(level)
}

/// Replaces the sink, then drops the old one outside the lock (a callback
/// sink's thread ends after the records already sent to it, then releases
/// the host's `user_data`).
fn set_sink(new: Sink, level: u32) {
    let st = state();
    let old = std::mem::replace(&mut *lock(&st.sink), new);
    st.max.store(level, Ordering::Relaxed);
    drop(old);
}

/// Sends the library's log records of `max_level` (`OXSIO_LOG_LEVEL_*`)
/// and more severe ones to `callback`, on the library's log thread (one
/// record at a time, in order; never on a thread of yours, never inside an
/// `oxsio_*` call). Replaces any earlier sink (a callback's `user_data_free`
/// runs once its last record was delivered). Records that come faster than
/// the callback returns wait in a queue of 1024; past it they are dropped
/// and counted (`oxsio_log_dropped`).
///
/// The sink is process-wide. Ownership: `user_data_free` (may be NULL) is
/// called exactly once, when the sink is replaced or turned off, only if
/// this returns `OXSIO_RESULT_OK`. NULL: `callback` must not be NULL.
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` for an unknown level, or when
/// another `tracing` subscriber owns the process (a Rust host's).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_log_set_callback(
    max_level: u32,
    callback: oxsio_log_cb,
    user_data: *mut c_void,
    user_data_free: oxsio_free_cb,
) -> oxsio_result {
    guard(|| {
        let cb =
            callback.ok_or_else(|| Error::new(oxsio_result::NullArgument, "callback is NULL"))?;
        let level = check_level(max_level)?;
        install()?;
        let host = HostCallback {
            cb,
            user_data,
            free: user_data_free,
        };
        let (tx, rx) = sync_channel::<LogRecord>(DEFAULT_CAPACITY);
        let spawned = std::thread::Builder::new()
            .name("oxsio-log".into())
            .spawn(move || {
                let host = host;
                for rec in rx {
                    let target = cstring(rec.target);
                    let message = cstring(rec.message);
                    // SAFETY: the host's callback with its user_data; the
                    // strings live for the call.
                    unsafe {
                        (host.cb)(host.user_data, rec.level, target.as_ptr(), message.as_ptr())
                    };
                }
                drop(host);
            });
        if let Err(e) = spawned {
            return Err(Error::new(oxsio_result::Io, format!("log thread: {e}")));
        }
        set_sink(Sink::Callback(tx), level);
        Ok(())
    })
}

fn cstring(s: String) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// Poll mode for logs: the library's records of `max_level` and more
/// severe ones wait in a queue of `capacity` records (0: 1024; past it new
/// records are dropped and counted) until the host takes them with
/// `oxsio_log_poll`; the library never runs host code for them. Replaces
/// any earlier sink.
///
/// Returns: `OXSIO_RESULT_INVALID_ARGUMENT` for an unknown level, or when
/// another `tracing` subscriber owns the process.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_log_enable_queue(max_level: u32, capacity: usize) -> oxsio_result {
    guard(|| {
        let level = check_level(max_level)?;
        install()?;
        let capacity = if capacity == 0 {
            DEFAULT_CAPACITY
        } else {
            capacity
        };
        set_sink(
            Sink::Queue {
                records: VecDeque::new(),
                capacity,
            },
            level,
        );
        Ok(())
    })
}

/// Turns the log sink off: no record is made any more; queued records are
/// dropped; a callback sink ends after the records already handed to its
/// thread and its `user_data_free` runs. Idempotent.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_log_off() -> oxsio_result {
    guard(|| {
        set_sink(Sink::Off, 0);
        Ok(())
    })
}

/// Queue mode: takes the oldest record, never blocking. Writes its level,
/// and copies its target and message, NUL-terminated, into the buffers
/// (`*_len` get their lengths without NUL).
///
/// NULL: `out_level` must not be NULL; `out_target_len` and
/// `out_message_len` may be NULL. Returns: `OXSIO_RESULT_EMPTY` when no
/// record waits, `OXSIO_RESULT_BUFFER_TOO_SMALL` (lengths written, the
/// record stays queued) when a buffer is too small,
/// `OXSIO_RESULT_WRONG_MODE` when the sink is not a queue.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_log_poll(
    out_level: *mut u32,
    target: *mut c_char,
    target_capacity: usize,
    out_target_len: *mut usize,
    message: *mut c_char,
    message_capacity: usize,
    out_message_len: *mut usize,
) -> oxsio_result {
    guard(|| {
        need_out(out_level, "out_level")?;
        let st = state();
        let mut sink = lock(&st.sink);
        let Sink::Queue { records, .. } = &mut *sink else {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "oxsio_log_poll without oxsio_log_enable_queue",
            ));
        };
        let Some(rec) = records.front() else {
            return Err(Error::from(oxsio_result::Empty));
        };
        let t = copy_text(
            &rec.target,
            target,
            target_capacity,
            out_target_len,
            "the target",
        );
        let m = copy_text(
            &rec.message,
            message,
            message_capacity,
            out_message_len,
            "the message",
        );
        t?;
        m?;
        write_out(out_level, rec.level, "out_level")?;
        records.pop_front();
        Ok(())
    })
}

/// How many records the sink dropped so far (queue or callback backlog full).
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_log_dropped(out_count: *mut u64) -> oxsio_result {
    guard(|| {
        write_out(
            out_count,
            state().dropped.load(Ordering::Relaxed),
            "out_count",
        )
    })
}
