//! The Socket.IO v5 server: namespaces, sockets, events, acknowledgements,
//! rooms and broadcasts, on top of [`engineio`](crate::engineio).

pub mod admin;
mod broadcast;
mod conn;
mod error;
mod handshake;
mod namespace;
mod recovery;
mod server;
mod socket;

pub use broadcast::{BroadcastOperator, IntoRooms};
pub use error::{AckError, BroadcastError, ConnectError, DisconnectReason, EmitError, JoinError};
pub use handshake::Handshake;
pub use namespace::{Namespace, NsHandle, ServerAck, ServerEvent};
pub use recovery::RecoveryConfig;
pub use server::{Server, ServerBuilder, ServerHandle, SocketIoService};
pub(crate) use socket::Extensions;
pub use socket::{AckFuture, AckSender, Event, RawEvent, RemoteSocket, Socket, SocketEmitter};

use crate::codec::socketio::Packet;
use crate::engineio::Message;

/// Encodes a packet once as an Engine.IO message (`4` + packet, attachments).
pub fn encode_message(packet: &Packet) -> Message {
    Message::encode(|text, att| packet.encode_into(text, att))
}
