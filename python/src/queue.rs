//! The channel from Rust tasks to Python: tasks push plain Rust messages
//! (never Python objects); a Python thread takes them in batches, with the
//! GIL released while it waits, and converts them to Python there.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::blocking::SLICE;

/// An unbounded multi-producer queue with a batch-taking consumer.
pub struct Queue<T> {
    tx: Tx<T>,
    rx: Mutex<Rx<T>>,
    closed: AtomicBool,
}

/// The consumer side: the channel, and messages taken off it by `prefetch`
/// but not handed to Python yet.
struct Rx<T> {
    rx: mpsc::Receiver<Option<T>>,
    staged: Vec<T>,
}

impl<T> Rx<T> {
    /// Receives into `staged`: waits up to `slice` for a first message
    /// (when none is staged), then takes what waits, up to `max` staged.
    /// Returns true when the end-of-stream marker was seen.
    fn fill(&mut self, slice: Duration, max: usize) -> bool {
        let mut closed_seen = false;
        if self.staged.is_empty() {
            let first = if slice.is_zero() {
                self.rx.try_recv().map_err(|e| match e {
                    TryRecvError::Empty => RecvTimeoutError::Timeout,
                    TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                self.rx.recv_timeout(slice)
            };
            match first {
                Ok(Some(m)) => self.staged.push(m),
                Ok(None) | Err(RecvTimeoutError::Disconnected) => closed_seen = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        while self.staged.len() < max {
            match self.rx.try_recv() {
                Ok(Some(m)) => self.staged.push(m),
                Ok(None) | Err(TryRecvError::Disconnected) => closed_seen = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        closed_seen
    }
}

/// The producer side, for Rust callbacks.
pub struct Tx<T> {
    tx: mpsc::Sender<Option<T>>,
    /// Messages queued and not taken yet.
    len: Arc<AtomicUsize>,
    wake: Arc<Wake>,
}

/// Wakes an event loop that watches a descriptor (`loop.add_reader`)
/// instead of a thread that waits: no GIL is taken to wake it.
struct Wake {
    pair: std::sync::OnceLock<(UnixStream, UnixStream)>,
    /// A wake-up byte is in flight (cleared by `rearm`).
    woken: AtomicBool,
}

impl Wake {
    fn notify(&self) {
        if let Some((tx, _)) = self.pair.get()
            && !self.woken.swap(true, Ordering::SeqCst)
        {
            // Full pipe: a wake-up is pending anyway.
            let _ = (&*tx).write(&[1]);
        }
    }
}

impl<T> Clone for Tx<T> {
    fn clone(&self) -> Self {
        Tx {
            tx: self.tx.clone(),
            len: self.len.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<T> Tx<T> {
    /// Queues a message (dropped if the queue is gone).
    pub fn push(&self, msg: T) {
        if self.tx.send(Some(msg)).is_ok() {
            self.len.fetch_add(1, Ordering::AcqRel);
            self.wake.notify();
        }
    }

    /// Messages waiting to be taken.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

impl<T: Send> Queue<T> {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        Arc::new(Queue {
            tx: Tx {
                tx,
                len: Arc::new(AtomicUsize::new(0)),
                wake: Arc::new(Wake {
                    pair: std::sync::OnceLock::new(),
                    woken: AtomicBool::new(false),
                }),
            },
            rx: Mutex::new(Rx {
                rx,
                staged: Vec::new(),
            }),
            closed: AtomicBool::new(false),
        })
    }

    pub fn tx(&self) -> Tx<T> {
        self.tx.clone()
    }

    pub fn push(&self, msg: T) {
        self.tx.push(msg);
    }

    /// No more messages will matter: wakes the consumer, which gets `None`
    /// once the queue is drained.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.tx.tx.send(None);
        self.tx.wake.notify();
    }

    /// A descriptor that becomes readable when messages wait, for an event
    /// loop to watch; call [`rearm`](Self::rearm) before each `take`.
    pub fn wake_fd(&self) -> std::io::Result<i32> {
        if self.tx.wake.pair.get().is_none() {
            let (a, b) = UnixStream::pair()?;
            a.set_nonblocking(true)?;
            b.set_nonblocking(true)?;
            let _ = self.tx.wake.pair.set((a, b));
            // Messages queued before the loop watched: wake it for them.
            if self.tx.len() > 0 {
                self.tx.wake.notify();
            }
        }
        Ok(self.tx.wake.pair.get().map_or(-1, |(_, rx)| rx.as_raw_fd()))
    }

    /// Drains the wake-up bytes and re-arms the descriptor; a push after
    /// this writes a new one, a push before it is taken by the next `take`.
    pub fn rearm(&self) {
        if let Some((_, rx)) = self.tx.wake.pair.get() {
            let mut sink = [0u8; 64];
            while matches!((&*rx).read(&mut sink), Ok(n) if n > 0) {}
            self.tx.wake.woken.store(false, Ordering::SeqCst);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` (0 = don't wait, `None` = forever) for a first
    /// message, then takes every waiting message up to `max`. `Ok(None)`
    /// when the queue is closed and drained.
    ///
    /// # Errors
    /// The exception of a signal handler (main thread only).
    pub fn take(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
        max: usize,
    ) -> PyResult<Option<Vec<T>>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let max = max.max(1);
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            let (batch, closed_seen) = py.detach(|| {
                let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
                let closed_seen = rx.fill(slice, max);
                (std::mem::take(&mut rx.staged), closed_seen)
            });
            if !batch.is_empty() {
                self.tx.len.fetch_sub(batch.len(), Ordering::AcqRel);
                return Ok(Some(batch));
            }
            if closed_seen || self.is_closed() {
                return Ok(None);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(Vec::new()));
            }
        }
    }

    /// Waits (GIL released) up to `timeout` for messages and stages them
    /// without handing them out: true when some wait for `take`, false on
    /// timeout, `None` once closed and drained. Lets a thread wake another
    /// (an event loop) that then takes and converts the messages itself.
    ///
    /// # Errors
    /// The exception of a signal handler (main thread only).
    pub fn prefetch(
        &self,
        py: Python<'_>,
        timeout: Option<Duration>,
        max: usize,
    ) -> PyResult<Option<bool>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let slice = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
                None => SLICE,
            };
            let (ready, closed_seen) = py.detach(|| {
                let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
                let closed_seen = rx.fill(slice, max.max(1));
                (!rx.staged.is_empty(), closed_seen)
            });
            if ready {
                return Ok(Some(true));
            }
            if closed_seen || self.is_closed() {
                return Ok(None);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(false));
            }
        }
    }
}
