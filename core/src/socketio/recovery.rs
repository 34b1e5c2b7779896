//! Connection state recovery: the options, as the official server's
//! `connectionStateRecovery`.

use std::time::Duration;

/// Options of connection state recovery.
///
/// With recovery on, the server gives each socket a private session id
/// (`pid`, in the CONNECT reply beside `sid`) and appends an offset (a
/// string) as the last argument of every event it may have to replay:
/// events without an acknowledgement and not volatile, sent to a socket, a
/// room or the namespace. A client that loses its connection offers
/// `{pid, offset}` in its next CONNECT; if the session is known and still
/// within [`max_disconnection_duration`](RecoveryConfig::max_disconnection_duration),
/// the socket comes back with its id, rooms and data, gets every packet it
/// missed in order and exactly once, and reports
/// [`Socket::recovered`](crate::Socket::recovered). Otherwise it connects as
/// a new socket: recovery never fails with an error.
///
/// A packet kept for replay that a slow client's full outgoing queue
/// cannot take closes that client's connection (`transport error`) instead
/// of being dropped: the client comes back and gets it in its replay.
///
/// Beyond Node's behaviour:
/// - a client that comes back while the server still thinks its old
///   connection is alive (a silent network drop not yet noticed by the
///   heartbeat) takes its session over: the old socket closes with
///   `transport close` and the new one is recovered;
/// - a client that never received an offset (no event since it connected)
///   is recovered from the moment its session began.
///
/// ```
/// use std::time::Duration;
/// use oxsio::RecoveryConfig;
/// let io = oxsio::Server::builder()
///     .connection_state_recovery(RecoveryConfig {
///         max_disconnection_duration: Duration::from_secs(30),
///         ..RecoveryConfig::default()
///     })
///     .build();
/// # drop(io);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's session is kept, and how long a
    /// sent packet stays replayable (default 2 minutes, as Node).
    pub max_disconnection_duration: Duration,
    /// A recovered socket skips the connect middlewares (default true, as
    /// Node). When false, the middlewares run again and may refuse it; the
    /// session is then kept for another try.
    pub skip_middlewares: bool,
    /// Most packets kept for replay per namespace on this node (default
    /// 100 000). The oldest go first; a client that missed a packet no
    /// longer kept is not recovered. With the Redis streams adapter the
    /// packets are the stream's entries, bounded by its `max_len` instead.
    pub max_stored_packets: usize,
    /// Most packets replayed to one session (default 10 000): a client that
    /// missed more is connected as a new socket instead.
    pub max_packets_per_session: usize,
    /// Most disconnected sessions kept per namespace on this node (default
    /// 100 000); past it the oldest session is forgotten. With the Redis
    /// streams adapter sessions are Redis keys that expire after
    /// `max_disconnection_duration`, and this bound does not apply.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_stored_packets: 100_000,
            max_packets_per_session: 10_000,
            max_sessions: 100_000,
        }
    }
}
