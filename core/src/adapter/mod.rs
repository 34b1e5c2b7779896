//! Rooms and broadcast fan-out behind the [`Adapter`] trait.
//!
//! The in-memory [`MemoryAdapter`] is the default. A multi-node adapter
//! (Redis) implements the same trait: every operation takes serialisable
//! [`BroadcastOptions`], and operations that gather answers from other nodes
//! return futures, so the socket code never changes.

/// The session-recovery methods of [`Adapter`], handed to the node's own
/// `$local` adapter: the cluster adapters keep recovery per node, as Node's
/// Redis and Postgres adapters do. Use: `recovery_by_local_adapter!(this => this.0.local);`.
#[cfg(feature = "redis")]
macro_rules! recovery_by_local_adapter {
    ($this:ident => $local:expr) => {
        fn supports_recovery(&self) -> bool {
            {
                let $this = self;
                &$local
            }
            .supports_recovery()
        }

        fn persist_session(&self, session: crate::adapter::SessionState) {
            {
                let $this = self;
                &$local
            }
            .persist_session(session);
        }

        fn restore_session(
            &self,
            pid: &str,
            offset: Option<&str>,
        ) -> futures_util::future::BoxFuture<'static, Option<crate::adapter::Restore>> {
            {
                let $this = self;
                &$local
            }
            .restore_session(pid, offset)
        }

        fn return_session(&self, restore: crate::adapter::Restore) {
            {
                let $this = self;
                &$local
            }
            .return_session(restore);
        }

        fn attach_session(
            &self,
            pid: &std::sync::Arc<str>,
            restore: Option<&crate::adapter::Restore>,
            attach: &mut dyn FnMut(Vec<crate::engineio::Message>),
        ) -> bool {
            {
                let $this = self;
                &$local
            }
            .attach_session(pid, restore, attach)
        }

        fn forget_session(&self, pid: &str) {
            {
                let $this = self;
                &$local
            }
            .forget_session(pid);
        }

        fn recovery_stats(&self) -> crate::adapter::RecoveryStats {
            {
                let $this = self;
                &$local
            }
            .recovery_stats()
        }
    };
}

#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod acks;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod cluster;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod codec;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
mod recovery;
#[cfg(feature = "redis")]
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use memory::MemoryAdapter;
#[cfg(feature = "redis")]
pub(crate) use recovery::included;
pub use recovery::{RecoveryStats, Restore, SessionExtensions, SessionState};
pub(crate) use recovery::{RecoveryStore, loggable};

use crate::Args;
use crate::codec::socketio::Packet;
use crate::engineio::Message;
use crate::sid::Sid;
use crate::socketio::{AckError, BroadcastError, NsHandle, RemoteSocket};

/// A room name. Every socket is implicitly in the room named by its id.
pub type Room = Arc<str>;

/// Flags of a broadcast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastFlags {
    /// Drop the message for clients that cannot take it now.
    pub volatile: bool,
    /// Only this node (no effect with the in-memory adapter).
    pub local: bool,
}

/// Which sockets an operation targets: in any of `rooms` (all sockets when
/// empty) and in none of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOptions {
    /// Target rooms; empty means the whole namespace.
    pub rooms: Vec<Room>,
    /// Rooms whose sockets are excluded.
    pub except: Vec<Room>,
    /// Flags.
    pub flags: BroadcastFlags,
}

/// Room index and fan-out for one namespace.
///
/// Implementations must not call user code and must not block on I/O in
/// the synchronous methods (publish in the background instead).
pub trait Adapter: Send + Sync + 'static {
    /// Adds a socket to rooms.
    fn add_all(&self, sid: Sid, rooms: &[Room]);
    /// Removes a socket from a room.
    fn del(&self, sid: Sid, room: &str);
    /// A socket joined the namespace on this node (it is in its own id
    /// room from now until [`del_all`](Adapter::del_all)). An adapter that
    /// subscribes per room (Redis sharded, `dynamic-private`) starts here.
    fn socket_connected(&self, sid: Sid) {
        let _ = sid;
    }
    /// Removes a socket from every room (on disconnect).
    fn del_all(&self, sid: Sid);
    /// The rooms a local socket is in, its own id room included.
    fn socket_rooms(&self, sid: Sid) -> Vec<Room>;
    /// Sends a packet to every targeted socket; encodes it once.
    ///
    /// # Errors
    /// The local sockets that could not take the message.
    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError>;
    /// Sends a packet asking for acknowledgements and gathers every reply.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Args>, AckError>>;
    /// The sockets targeted by `opts`, on every node.
    fn fetch_sockets(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<RemoteSocket>>;
    /// Makes the targeted sockets join `rooms`.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Makes the targeted sockets leave `rooms`.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the targeted sockets (and their connection when `close`).
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    /// Every room with at least one socket, on every node.
    fn rooms(&self) -> BoxFuture<'static, Vec<Room>>;
    /// Sends an event to the other nodes' server-side handlers
    /// ([`Namespace::on_server_event`](crate::Namespace::on_server_event)).
    /// With `ack`, gathers one reply per other node within the timeout.
    /// A single node has no peers: the default sends nothing.
    fn server_side_emit(
        &self,
        event: &str,
        args: Args,
        ack: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<crate::Value>, AckError>> {
        let _ = (event, args, ack);
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Number of nodes serving this namespace, this one included.
    fn server_count(&self) -> BoxFuture<'static, usize> {
        Box::pin(async { 1 })
    }
    /// The server shuts down (Node's `adapter.close()`): a multi-node
    /// adapter tells the other nodes it leaves and stops listening.
    fn close(&self) {}

    // ---- connection state recovery ([`RecoveryConfig`](crate::RecoveryConfig)) ----
    //
    // An adapter that supports recovery logs every packet [`loggable`] in
    // `broadcast` (appending its offset as the last argument), keeps the
    // sessions given to `persist_session`, and replays through
    // `attach_session`. The defaults support nothing: no session is kept and
    // every reconnecting client is a new socket.

    /// True when this adapter keeps sessions and replays packets.
    fn supports_recovery(&self) -> bool {
        false
    }
    /// Keeps the session of a socket that lost its connection.
    fn persist_session(&self, session: SessionState) {
        let _ = session;
    }
    /// Takes the session of `pid` when it can be recovered from `offset`
    /// (`None`: the client got no packet since its session began). A
    /// future, since a cluster adapter may ask its store (Redis streams);
    /// an adapter that answers at once returns a ready future, and the
    /// socket then connects without leaving the connection's task.
    fn restore_session(
        &self,
        pid: &str,
        offset: Option<&str>,
    ) -> BoxFuture<'static, Option<Restore>> {
        let _ = (pid, offset);
        Box::pin(std::future::ready(None))
    }
    /// Gives back a session taken by `restore_session` that was not used
    /// (a middleware refused the socket).
    fn return_session(&self, restore: Restore) {
        let _ = restore;
    }
    /// Registers a connecting socket's `pid` and calls `attach` exactly once
    /// with the packets its session missed (empty for a new session).
    /// While `attach` runs for a restore, no packet of this namespace is
    /// delivered, so that the socket `attach` registers gets each packet
    /// exactly once. Returns whether the session was recovered.
    fn attach_session(
        &self,
        pid: &Arc<str>,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        let _ = (pid, restore);
        attach(Vec::new());
        false
    }
    /// A connected socket left for a reason that keeps no session.
    fn forget_session(&self, pid: &str) {
        let _ = pid;
    }
    /// Sessions and packets kept for recovery on this node.
    fn recovery_stats(&self) -> RecoveryStats {
        RecoveryStats::default()
    }
}

/// Creates the adapter of each namespace.
pub type AdapterFactory = Arc<dyn Fn(NsHandle) -> Arc<dyn Adapter> + Send + Sync>;
