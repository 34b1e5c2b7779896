//! Errors of the Socket.IO layer, one enum per operation.

use crate::Value;
use crate::engineio::SendError;
use crate::sid::Sid;

/// Why an emit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The client reads too slowly and its queue is full: retry later, slow
    /// down, or send volatile messages that may be dropped.
    #[error("the socket's outgoing queue is full")]
    QueueFull,
    /// The socket is disconnected; the message was not sent.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The event name is reserved by the protocol (e.g. `connect`).
    #[error("event name {0:?} is reserved")]
    ReservedEvent(String),
}

impl From<SendError> for EmitError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Full => EmitError::QueueFull,
            SendError::Closed => EmitError::Disconnected,
        }
    }
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No reply within the timeout.
    #[error("acknowledgement timed out")]
    Timeout,
    /// The packet could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The socket disconnected before replying.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
    /// Too many acknowledgements are already awaited on this socket
    /// (`max_pending_acks`); wait for some replies first.
    #[error("too many pending acknowledgements (max {max})")]
    TooManyPending {
        /// The limit.
        max: usize,
    },
}

/// Why a socket could not join rooms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The socket would be in more rooms than `max_rooms_per_socket`.
    #[error("too many rooms for one socket (max {max})")]
    TooManyRooms {
        /// The limit.
        max: usize,
    },
}

/// Why a broadcast failed or reached only part of its targets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// The event name is reserved by the protocol; nothing was sent.
    #[error("event name {0:?} is reserved")]
    ReservedEvent(String),
    /// These sockets did not get the message (the others did).
    #[error("broadcast failed for {} socket(s)", .0.len())]
    Sockets(Vec<(Sid, EmitError)>),
}

/// A refusal from a connect middleware; the client gets `connect_error`
/// with `message` and, when present, `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// Human-readable message (`err.message` on the JS client).
    pub message: String,
    /// Extra data (`err.data` on the JS client).
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data sent to the client with the refusal.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// The CONNECT_ERROR payload for a Socket.IO 2.x client: the data if
    /// any, else the message, as Node sends it to them.
    pub(crate) fn to_v3_value(&self) -> Value {
        match &self.data {
            Some(d) if !matches!(d, Value::Null) => d.clone(),
            _ => Value::from(self.message.as_str()),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut m = crate::Map::new();
        m.insert("message".into(), Value::from(self.message.as_str()));
        if let Some(d) = &self.data {
            m.insert("data".into(), d.clone());
        }
        Value::Object(m)
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

impl<T: Into<String>> From<T> for ConnectError {
    fn from(m: T) -> Self {
        ConnectError::new(m)
    }
}

/// Why a socket left its namespace, with the official reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The connection was closed (user closed it, or network lost).
    TransportClose,
    /// The connection hit an error (e.g. over-size payload).
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent an invalid packet.
    ParseError,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server removed the socket (`socket.disconnect()` on the server).
    ServerNamespaceDisconnect,
    /// The server closed the whole connection.
    ForcedClose,
    /// The server closed the connection because the client broke the
    /// protocol state machine (or never joined a namespace in time).
    ForcedServerClose,
    /// The server is shutting down.
    ServerShuttingDown,
}

impl DisconnectReason {
    /// True for the reasons after which connection state recovery keeps
    /// the socket's session (Node's `RECOVERABLE_DISCONNECT_REASONS`): the
    /// connection was lost or closed by the server, not left by the client
    /// nor removed from its namespace.
    pub fn is_recoverable(self) -> bool {
        use DisconnectReason as R;
        matches!(
            self,
            R::TransportError
                | R::TransportClose
                | R::ForcedClose
                | R::PingTimeout
                | R::ServerShuttingDown
                | R::ForcedServerClose
        )
    }

    /// The official reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<crate::engineio::CloseReason> for DisconnectReason {
    fn from(r: crate::engineio::CloseReason) -> Self {
        use crate::engineio::CloseReason as C;
        match r {
            C::TransportClose => DisconnectReason::TransportClose,
            C::TransportError => DisconnectReason::TransportError,
            C::PingTimeout => DisconnectReason::PingTimeout,
            C::ParseError => DisconnectReason::ParseError,
            C::ForcedClose => DisconnectReason::ForcedClose,
            C::ForcedServerClose => DisconnectReason::ForcedServerClose,
            C::ServerShutdown => DisconnectReason::ServerShuttingDown,
        }
    }
}
