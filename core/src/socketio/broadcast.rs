//! Broadcast operators: `to`, `except`, `local`, `volatile`, `timeout`,
//! and the server-side operations over a selection of sockets.

use std::sync::Arc;
use std::time::Duration;

use super::error::{AckError, BroadcastError, EmitError};
use super::namespace::NsInner;
use super::socket::RemoteSocket;
use crate::adapter::{BroadcastOptions, Room};
use crate::codec::socketio::{Packet, RESERVED_EVENTS};
use crate::sid::Sid;
use crate::{Args, IntoArgs};

/// One or several room names.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}
impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}
impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}
impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}
impl IntoRooms for Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}
impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}
impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}
impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A selection of sockets in one namespace, built with `to`/`except`/flags,
/// then used to emit or to act on the sockets.
///
/// ```no_run
/// # use oxsio::Server;
/// # let io = Server::new();
/// io.to("game-1").except("spectators").volatile().emit("tick", 42).ok();
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<NsInner>,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsInner>) -> Self {
        BroadcastOperator {
            ns,
            opts: BroadcastOptions::default(),
            timeout: None,
        }
    }

    /// Adds target rooms (union).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Alias of [`to`](Self::to).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Excludes the sockets in `rooms`.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    /// Only this node.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// Drops the message for clients whose queue is full, without error.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// Acknowledgement timeout for [`emit_with_ack`](Self::emit_with_ack).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The selection as serialisable options.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    fn packet(&self, event: &str, args: Args) -> Result<Packet, EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        Ok(Packet::event(self.ns.name.to_string(), event, args, None))
    }

    /// Sends an event to every selected socket; the packet is encoded once.
    ///
    /// # Errors
    /// The sockets that could not take it (full queue, unless volatile).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), BroadcastError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(BroadcastError::ReservedEvent(event.to_owned()));
        }
        let packet = Packet::event(self.ns.name.to_string(), event, args.into_args(), None);
        self.ns.adapter.broadcast(packet, &self.opts)
    }

    /// Sends the `message` event.
    ///
    /// # Errors
    /// As [`emit`](Self::emit).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), BroadcastError> {
        self.emit("message", args)
    }

    /// Sends an event to every selected socket and gathers every reply.
    ///
    /// # Errors
    /// [`AckError::Timeout`] unless every socket answered in time.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Args>, AckError> {
        let packet = self.packet(event, args.into_args())?;
        let timeout = self.timeout.unwrap_or_else(|| self.ns.ack_timeout());
        self.ns
            .adapter
            .broadcast_with_ack(packet, &self.opts, timeout)
            .await
    }

    /// The selected sockets (on every node, with a multi-node adapter).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.ns.adapter.fetch_sockets(&self.opts).await
    }

    /// Makes the selected sockets join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.ns.adapter.add_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Makes the selected sockets leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.ns.adapter.del_sockets(&self.opts, &rooms.into_rooms());
    }

    /// Disconnects the selected sockets; with `close`, their connections too.
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns.adapter.disconnect_sockets(&self.opts, close);
    }
}
