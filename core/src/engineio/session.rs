//! One Engine.IO session: its outgoing queue, its state and its close signal.
//!
//! Whichever transport is active owns the receiving end of the queue (a
//! long-poll GET while polling, the WebSocket task after an upgrade); the
//! sending end is shared by every emitter. The queue is bounded: a slow
//! reader makes sends fail instead of growing memory.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::{Mutex, Notify, mpsc};
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
pub(crate) const STATE_UPGRADING: u8 = 1;
pub(crate) const STATE_WEBSOCKET: u8 = 2;

/// An Engine.IO session.
pub struct Session {
    pub(crate) sid: Sid,
    tx: mpsc::Sender<Message>,
    /// Held by the transport currently delivering to the client.
    pub(crate) rx: Mutex<mpsc::Receiver<Message>>,
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
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Session {
            sid,
            tx,
            rx: Mutex::new(rx),
            state: AtomicU8::new(state),
            post_busy: AtomicBool::new(false),
            closed: Signal::default(),
            close_reason: OnceLock::new(),
            upgrading: Notify::new(),
            pong: Notify::new(),
            activity: AtomicBool::new(false),
            close_delivered: Signal::default(),
        }
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
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Full,
            mpsc::error::TrySendError::Closed(_) => SendError::Closed,
        })
    }

    /// Free slots in the outgoing queue.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }

    /// Closes the session; the owner task tears it down and reports `reason`.
    /// Later calls are no-ops.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.close_reason.set(reason);
        self.closed.set();
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
}
