//! The core's `tracing` events for Python `logging`: a process-wide
//! subscriber queues `(level, target, message)` records, and a Python
//! thread takes them (`next_logs`, GIL released) and logs them under
//! `oxsio.*` loggers. Rust never calls Python while logging: the core may
//! log while holding its own locks.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Records kept for Python at most; older ones are dropped (and counted).
const MAX_QUEUED: usize = 10_000;

/// Python `logging` levels.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;
/// Nothing is recorded.
const OFF: u8 = 255;

struct Sink {
    /// Least Python level recorded.
    min: AtomicU8,
    queue: Mutex<VecDeque<(u8, String, String)>>,
    ready: Condvar,
    dropped: AtomicU64,
}

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| Sink {
        min: AtomicU8::new(OFF),
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        dropped: AtomicU64::new(0),
    })
}

fn py_level(l: &Level) -> u8 {
    match *l {
        Level::ERROR => ERROR,
        Level::WARN => WARNING,
        Level::INFO => INFO,
        _ => DEBUG,
    }
}

struct Forward;

struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

impl Subscriber for Forward {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.is_event() && py_level(m.level()) >= sink().min.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, e: &Event<'_>) {
        let m = e.metadata();
        let mut f = Fields(String::new());
        e.record(&mut f);
        let s = sink();
        let Ok(mut q) = s.queue.lock() else { return };
        if q.len() >= MAX_QUEUED {
            q.pop_front();
            s.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back((py_level(m.level()), m.target().to_owned(), f.0));
        s.ready.notify_one();
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Records the core's events of Python level `level` and above (10 debug
/// … 40 error) for `next_logs`; the lowest level asked for wins. False if
/// another tracing subscriber was installed first (nothing is recorded).
#[pyfunction]
pub fn enable_logs(level: u8) -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forward).is_ok());
    if ok {
        let min = &sink().min;
        let _ = min.fetch_min(level.max(DEBUG), Ordering::Relaxed);
        // The callsites' cached interest depends on the level.
        tracing::callsite::rebuild_interest_cache();
    }
    ok
}

/// Waits up to `timeout` seconds (GIL released) for log records and takes
/// them: `[(level, target, message)]`, plus a warning record first if
/// some were dropped because Python did not keep up.
#[pyfunction]
pub fn next_logs(py: Python<'_>, timeout: f64) -> Vec<(u8, String, String)> {
    let wait = Duration::from_secs_f64(timeout.clamp(0.0, 60.0));
    py.detach(|| {
        let s = sink();
        let Ok(q) = s.queue.lock() else {
            return Vec::new();
        };
        let Ok((mut q, _)) = s.ready.wait_timeout_while(q, wait, |q| q.is_empty()) else {
            return Vec::new();
        };
        let mut out: Vec<_> = q.drain(..).collect();
        let dropped = s.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            out.insert(
                0,
                (
                    WARNING,
                    "oxsio".to_owned(),
                    format!("{dropped} log records dropped: Python's logging did not keep up"),
                ),
            );
        }
        out
    })
}
