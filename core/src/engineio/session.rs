//! One Engine.IO session: its outgoing queue, its state and its close signal.
//!
//! Whichever transport is active owns the receiving end of the queue (a
//! long-poll GET while polling, the WebSocket task after an upgrade); the
//! sending end is shared by every emitter. The queue is bounded: a slow
//! reader makes sends fail instead of growing memory.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::sync::{Mutex, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::sid::Sid;

/// An encoded Engine.IO message ready for any transport: the text packet
/// (type character included) and the binary attachments that follow it.
/// Cloning shares the bytes, so a broadcast is encoded once.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) text: Utf8Bytes,
    pub(crate) attachments: Option<Arc<[Bytes]>>,
}

impl Message {
    /// A message from its text packet (type char included) and attachments.
    pub(crate) fn new(text: String, attachments: Vec<Bytes>) -> Message {
        Message {
            text: Utf8Bytes::from(text),
            attachments: (!attachments.is_empty()).then(|| attachments.into()),
        }
    }

    /// A message written by `write` (which gets the text, starting with
    /// the `4` of an Engine.IO message, and the attachments). The text is
    /// written into a per-thread scratch buffer and copied into one
    /// allocation of its exact size: growing a fresh `String` and turning it
    /// into shared bytes cost three allocations per message.
    pub(crate) fn encode(write: impl FnOnce(&mut String, &mut Vec<Bytes>)) -> Message {
        thread_local! {
            static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let mut att = Vec::new();
        let text = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => {
                s.clear();
                s.push('4');
                write(&mut s, &mut att);
                let text = String::from(s.as_str());
                if s.capacity() > 64 * 1024 {
                    // Keep no large buffer after a large message.
                    *s = String::new();
                }
                text
            }
            // Not reentered in practice; stay correct if it ever is.
            Err(_) => {
                let mut text = String::from("4");
                write(&mut text, &mut att);
                text
            }
        });
        Message::new(text, att)
    }

    /// A message of one binary frame and no text packet (`b…` on polling):
    /// a msgpack Socket.IO packet, or an Engine.IO-only binary message.
    pub(crate) fn binary(data: Bytes) -> Message {
        Message {
            text: Utf8Bytes::from_static(""),
            attachments: Some(Arc::from([data])),
        }
    }

    pub(crate) fn control(text: &'static str) -> Message {
        Message {
            text: Utf8Bytes::from_static(text),
            attachments: None,
        }
    }
}

/// Why a session ended (Engine.IO level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the transport or sent a close packet.
    TransportClose,
    /// A transport error (I/O, over-size frame, protocol misuse).
    TransportError,
    /// No pong within the ping timeout.
    PingTimeout,
    /// The client sent something that could not be decoded.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server closed the session because the client broke the protocol
    /// state machine (e.g. a packet for a namespace it never joined).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// The reason string used by the official server.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ForcedServerClose => "forced server close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

/// Why a send to a session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session's outgoing queue is full: the client reads too slowly.
    /// Retry later, slow down, or drop the message.
    #[error("outgoing queue full")]
    Full,
    /// The session is closed.
    #[error("session closed")]
    Closed,
}

/// A one-shot flag that tasks can wait on.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    set: AtomicBool,
    notify: Notify,
}

impl Signal {
    /// Sets the flag; returns true for the first caller only.
    pub(crate) fn set(&self) -> bool {
        let first = !self.set.swap(true, Ordering::AcqRel);
        if first {
            self.notify.notify_waiters();
        }
        first
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Waits until the flag is set.
    pub(crate) async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_set() {
            return;
        }
        notified.await;
    }
}

pub(crate) const STATE_POLLING: u8 = 0;
/// `2probe` answered; waiting for `5`.
pub(crate) const STATE_UPGRADING: u8 = 1;
pub(crate) const STATE_WEBSOCKET: u8 = 2;
/// Polling, with a WebSocket attached that has not probed yet (a second
/// one is refused, as Node's `upgrading` flag does).
pub(crate) const STATE_ATTACHED: u8 = 3;

/// The outgoing queue: bounded, allocated on first use, one consumer.
///
/// Cheaper than a channel for the common case of one message per wake-up:
/// one uncontended lock per push, and the consumer is woken only when it
/// registered because it found the queue empty (or on close).
#[derive(Debug)]
pub(crate) struct Queue {
    inner: std::sync::Mutex<QueueInner>,
    capacity: usize,
    /// `allowance > 0`, readable without the lock on every writer turn.
    replay: AtomicBool,
}

#[derive(Debug, Default)]
struct QueueInner {
    items: VecDeque<Message>,
    waker: Option<Waker>,
    /// A message was pushed from outside the runtime (a C or Python host
    /// thread) since the last drain: its sender already batched, so the
    /// writer need not wait a turn for more (see [`Queue::deferrable`]).
    from_host: bool,
    /// Room beyond the capacity for a replay pushed at once: until the
    /// queue is empty again it may hold `capacity` + the replay, so the
    /// packets that arrive while a long replay is written queue behind it
    /// (the client is catching up, not slow).
    allowance: usize,
}

impl QueueInner {
    /// After messages were taken; true when a replay was just written out.
    fn took(&mut self) -> bool {
        if self.items.is_empty() && self.allowance > 0 {
            self.allowance = 0;
            return true;
        }
        false
    }
}

impl QueueInner {
    fn set_waker(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }
}

impl Queue {
    fn new(capacity: usize) -> Queue {
        Queue {
            inner: std::sync::Mutex::new(QueueInner::default()),
            capacity: capacity.max(1),
            replay: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueInner> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, msg: Message) -> Result<(), SendError> {
        // Outside any task: a host thread (one TLS read; no handle clone).
        let from_host = tokio::task::try_id().is_none();
        let mut q = self.lock();
        if q.items.len() >= self.capacity + q.allowance {
            return Err(SendError::Full);
        }
        q.items.push_back(msg);
        q.from_host |= from_host;
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Appends `msgs` in order whatever the capacity (a bounded replay).
    fn push_all(&self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let mut q = self.lock();
        q.allowance += msgs.len();
        q.items.extend(msgs);
        self.replay.store(true, Ordering::Release);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes the consumer (used on close).
    fn wake(&self) {
        let waker = self.lock().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Takes the next message without waiting.
    pub(crate) fn pop(&self) -> Option<Message> {
        let mut q = self.lock();
        let m = q.items.pop_front();
        if q.took() {
            self.replay.store(false, Ordering::Release);
        }
        if q.items.is_empty() && q.items.capacity() > 16 {
            // A burst is over: give the memory back.
            q.items = VecDeque::new();
        }
        m
    }

    /// Forgets the registered consumer: its own pushes (a handler answering
    /// while the consumer task reads) must not schedule it again, as it
    /// drains the queue before it sleeps anyway.
    pub(crate) fn unregister(&self) {
        self.lock().waker = None;
    }

    /// Registers `cx` to be woken by the next push or close.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.lock().set_waker(cx);
    }

    /// Calls `f` on up to `max` queued messages in order; registers `cx`
    /// when the queue is found empty. Returns how many were taken.
    pub(crate) fn drain(&self, cx: &Context<'_>, max: usize, mut f: impl FnMut(&Message)) -> usize {
        let mut q = self.lock();
        let n = q.items.len().min(max);
        for m in q.items.drain(..n) {
            f(&m);
        }
        if q.took() {
            self.replay.store(false, Ordering::Release);
        }
        q.from_host = false;
        if q.items.is_empty() {
            if q.items.capacity() > 16 {
                q.items = VecDeque::new();
            }
            q.set_waker(cx);
        }
        n
    }

    fn poll_pop(&self, cx: &Context<'_>) -> Poll<Message> {
        let mut q = self.lock();
        match q.items.pop_front() {
            Some(m) => {
                if q.took() {
                    self.replay.store(false, Ordering::Release);
                }
                Poll::Ready(m)
            }
            None => {
                q.set_waker(cx);
                Poll::Pending
            }
        }
    }

    /// Waits for the next message.
    pub(crate) async fn recv(&self) -> Message {
        poll_fn(|cx| self.poll_pop(cx)).await
    }

    /// A replay pushed with [`Session::send_replay`] is still being written
    /// (the queue was not empty since).
    pub(crate) fn replaying(&self) -> bool {
        self.replay.load(Ordering::Acquire)
    }

    /// Messages wait, all pushed by tasks of the runtime: the writer may
    /// let the scheduler run once so that broadcasts still being read on
    /// other connections join them in one write.
    pub(crate) fn deferrable(&self) -> bool {
        let q = self.lock();
        !q.items.is_empty() && !q.from_host
    }

    fn len(&self) -> usize {
        self.lock().items.len()
    }
}

/// An Engine.IO session.
pub struct Session {
    pub(crate) sid: Sid,
    pub(crate) queue: Queue,
    /// Held by the transport currently delivering to the client.
    pub(crate) owner: Mutex<()>,
    pub(crate) state: AtomicU8,
    pub(crate) post_busy: AtomicBool,
    pub(crate) closed: Signal,
    pub(crate) close_reason: OnceLock<CloseReason>,
    /// Wakes a pending long-poll GET when an upgrade starts.
    pub(crate) upgrading: Notify,
    pub(crate) pong: Notify,
    /// Set when any packet arrives while a pong is awaited (Node extends the deadline once).
    pub(crate) activity: AtomicBool,
    /// Set once a long poll has carried the close packet to the client.
    pub(crate) close_delivered: Signal,
    /// Set once an upgrade to WebSocket completed.
    pub(crate) upgraded: Signal,
    /// The server's counters, when metrics are on.
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Set for a client on Engine.IO protocol 3 (Socket.IO 2.x).
    pub(crate) eio3: Option<Eio3>,
}

/// How a protocol 3 client is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eio3 {
    /// The client takes binary (no `b64=1`): binary polling payloads and
    /// binary WebSocket frames rather than base64.
    pub(crate) binary: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(sid: Sid, capacity: usize, state: u8) -> Session {
        Session {
            sid,
            queue: Queue::new(capacity),
            owner: Mutex::new(()),
            state: AtomicU8::new(state),
            post_busy: AtomicBool::new(false),
            closed: Signal::default(),
            close_reason: OnceLock::new(),
            upgrading: Notify::new(),
            pong: Notify::new(),
            activity: AtomicBool::new(false),
            close_delivered: Signal::default(),
            upgraded: Signal::default(),
            metrics: None,
            eio3: None,
        }
    }

    /// The metrics label and size of a message.
    #[inline]
    fn measure(msg: &Message) -> (usize, usize) {
        let bytes = msg.text.len()
            + msg
                .attachments
                .as_deref()
                .map_or(0, |a| a.iter().map(Bytes::len).sum());
        // The text is the Engine.IO message: `4`, then the Socket.IO packet.
        let text = msg.text.as_bytes();
        (
            crate::metrics::packet_type(text.get(1..).unwrap_or_default()),
            bytes,
        )
    }

    /// The session id.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// Queues a message without waiting.
    ///
    /// # Errors
    /// [`SendError::Full`] when the queue is full, [`SendError::Closed`] after close.
    pub fn try_send(&self, msg: Message) -> Result<(), SendError> {
        if self.closed.is_set() {
            return Err(SendError::Closed);
        }
        let Some(m) = &self.metrics else {
            return self.queue.push(msg);
        };
        let (ty, bytes) = Self::measure(&msg);
        let r = self.queue.push(msg);
        m.sent(ty, bytes, r.is_ok());
        r
    }

    /// Queues `first` then `rest`, in order, past the queue's capacity if
    /// need be: a recovered socket's CONNECT and missed packets, whose
    /// number the recovery options bound.
    ///
    /// # Errors
    /// [`SendError::Closed`] after close.
    pub(crate) fn send_replay(&self, first: Message, rest: Vec<Message>) -> Result<(), SendError> {
        if self.closed.is_set() {
            return Err(SendError::Closed);
        }
        let mut all = Vec::with_capacity(rest.len() + 1);
        all.push(first);
        all.extend(rest);
        if let Some(m) = &self.metrics {
            for msg in &all {
                let (ty, bytes) = Self::measure(msg);
                m.sent(ty, bytes, true);
            }
        }
        self.queue.push_all(all);
        Ok(())
    }

    /// Free slots in the outgoing queue.
    pub fn capacity(&self) -> usize {
        self.queue.capacity.saturating_sub(self.queue.len())
    }

    /// Closes the session; the owner task tears it down and reports `reason`.
    /// Later calls are no-ops.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.close_reason.set(reason);
        if self.closed.set() {
            self.queue.wake();
        }
    }

    /// True once the session is closing or closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_set()
    }

    pub(crate) fn reason(&self) -> CloseReason {
        self.close_reason
            .get()
            .copied()
            .unwrap_or(CloseReason::ForcedClose)
    }

    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

/// An incoming message handed to the layer above.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A text message (without the `4` type char).
    Text(&'a str),
    /// A binary message.
    Binary(Bytes),
    /// A binary message borrowed from the transport's read buffer (a
    /// WebSocket frame) for this call only: copy it to keep it.
    BinaryRef(&'a [u8]),
}

/// The layer above Engine.IO (Socket.IO) as the engine sees it.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Per-session state of the layer above.
    type Conn: Send + Sync + 'static;
    /// A session opened.
    fn on_open(&self, session: Arc<Session>, req: &super::RequestInfo) -> Arc<Self::Conn>;
    /// A message arrived; called from one task at a time per session.
    fn on_message(&self, conn: &Arc<Self::Conn>, msg: Incoming<'_>);
    /// The session closed; called exactly once.
    fn on_close(&self, conn: &Arc<Self::Conn>, reason: CloseReason);
    /// The session moved from long-polling to WebSocket.
    fn on_upgrade(&self, conn: &Arc<Self::Conn>) {
        let _ = conn;
    }
}
