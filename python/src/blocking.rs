//! Waiting from Python threads: the GIL is released while Rust waits, and
//! the wait wakes every [`SLICE`] to run signal handlers, so Ctrl-C
//! interrupts it (with `KeyboardInterrupt`) on the main thread.

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How often a blocked call wakes to check for signals.
pub const SLICE: Duration = Duration::from_millis(50);

/// Waits on `rx` for at most `timeout` (forever when `None`), with the GIL
/// released. `Ok(None)` on timeout or when the sender is gone.
///
/// # Errors
/// The exception raised by a signal handler (e.g. `KeyboardInterrupt`).
pub fn recv<T: Send>(
    py: Python<'_>,
    mut rx: mpsc::Receiver<T>,
    timeout: Option<Duration>,
) -> PyResult<Option<T>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let slice = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            None => SLICE,
        };
        // The receiver moves in and out: it is Send but not Sync.
        let (got, back) = py.detach(move || (rx.recv_timeout(slice), rx));
        rx = back;
        match got {
            Ok(v) => return Ok(Some(v)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {}
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}

/// Runs `fut` on the shared runtime and waits for its output (GIL released,
/// signals checked). `Ok(None)` when `timeout` passes first; the future is
/// then dropped.
///
/// # Errors
/// The exception raised by a signal handler.
pub fn run<F>(py: Python<'_>, fut: F, timeout: Option<Duration>) -> PyResult<Option<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let task = oxsio::runtime::shared().spawn(async move {
        let _ = tx.send(fut.await);
    });
    let out = recv(py, rx, timeout);
    if !matches!(out, Ok(Some(_))) {
        task.abort();
    }
    out
}

/// Seconds from Python (`None` = no bound).
///
/// # Errors
/// `ValueError` for negative, NaN or infinite values.
pub fn duration(secs: Option<f64>) -> PyResult<Option<Duration>> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "invalid duration: {s} seconds"
        ))),
    }
}
