//! Rooms and broadcast fan-out behind the [`Adapter`] trait.
//!
//! The in-memory [`MemoryAdapter`] is the default. A multi-node adapter
//! (Redis) implements the same trait: every operation takes serialisable
//! [`BroadcastOptions`], and operations that gather answers from other nodes
//! return futures, so the socket code never changes.

mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use memory::MemoryAdapter;

use crate::Args;
use crate::codec::socketio::Packet;
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
}

/// Creates the adapter of each namespace.
pub type AdapterFactory = Arc<dyn Fn(NsHandle) -> Arc<dyn Adapter> + Send + Sync>;
