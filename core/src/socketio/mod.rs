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

use crate::Value;
use crate::codec::Parser;
use crate::codec::socketio::Packet;
use crate::engineio::Message;

/// Encodes a packet once as an Engine.IO message for the default (JSON)
/// parser: `4` + packet, then the attachments. An adapter should use
/// [`NsHandle::encode_message`], which follows the server's parser.
pub fn encode_message(packet: &Packet) -> Message {
    Message::encode(|text, att| packet.encode_into(text, att))
}

/// Encodes a packet once as an Engine.IO message for `parser`: for
/// [`Parser::MsgPack`], one binary message holding the msgpack map.
pub fn encode_message_with(parser: Parser, packet: &Packet) -> Message {
    match parser {
        Parser::Json => encode_message(packet),
        Parser::MsgPack => Message::binary(crate::codec::msgpack::encode(packet).into()),
    }
}

/// An event (`event` is `Some`) or an ack as a message for `parser`,
/// without building a [`Packet`].
pub(crate) fn encode_event_message(
    parser: Parser,
    nsp: &str,
    event: Option<&str>,
    args: &[Value],
    id: Option<u64>,
) -> Message {
    match parser {
        Parser::Json => Message::encode(|text, att| {
            crate::codec::socketio::encode_event_into(text, att, nsp, event, args, id);
        }),
        Parser::MsgPack => {
            let mut out = Vec::new();
            crate::codec::msgpack::encode_event_into(&mut out, nsp, event, args, id);
            Message::binary(out.into())
        }
    }
}
