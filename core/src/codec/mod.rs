//! Pure codecs: bytes ⇄ packets, no I/O.
//!
//! Every malformed input is an error value, never a panic, so these
//! functions can be fed anything a peer sends.

pub mod deflate;
pub mod engineio;
pub(crate) mod json;
pub mod msgpack;
pub mod polling;
pub mod polling_v3;
pub mod socketio;
pub mod value;
pub mod websocket;

use bytes::Bytes;

use self::socketio::{Packet, ParseError};

/// How Socket.IO packets are written on the wire; both ends of a
/// connection must use the same one.
///
/// - [`Parser::Json`] (the default) is the official `socket.io-parser`:
///   text packets, binary as attachments.
/// - [`Parser::MsgPack`] is `socket.io-msgpack-parser` (and python-socketio's
///   `serializer="msgpack"`): each packet is one binary msgpack map (see
///   [`msgpack`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// The default parser: JSON text with binary attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one msgpack map per packet.
    MsgPack,
}

impl Parser {
    /// The parser called `name`: `"default"` or `"json"`, and `"msgpack"`
    /// (python-socketio's `serializer` values, case-sensitive).
    pub fn from_name(name: &str) -> Option<Parser> {
        match name {
            "default" | "json" => Some(Parser::Json),
            "msgpack" => Some(Parser::MsgPack),
            _ => None,
        }
    }

    /// `"default"` or `"msgpack"`.
    pub fn name(self) -> &'static str {
        match self {
            Parser::Json => "default",
            Parser::MsgPack => "msgpack",
        }
    }

    /// A decoder for one connection with the given limits
    /// (`max_attachments` applies to the JSON parser only: msgpack packets
    /// carry their buffers inline).
    pub fn decoder(self, max_attachments: usize, max_depth: usize) -> PacketDecoder {
        match self {
            Parser::Json => PacketDecoder::Json(
                socketio::Decoder::new(max_attachments).with_max_depth(max_depth),
            ),
            Parser::MsgPack => PacketDecoder::MsgPack(msgpack::Decoder::new(max_depth)),
        }
    }
}

/// The packet decoder of one connection, for either parser.
#[derive(Debug)]
pub enum PacketDecoder {
    /// [`Parser::Json`].
    Json(socketio::Decoder),
    /// [`Parser::MsgPack`].
    MsgPack(msgpack::Decoder),
}

impl PacketDecoder {
    /// True while a JSON binary packet waits for attachments.
    pub fn is_reconstructing(&self) -> bool {
        match self {
            PacketDecoder::Json(d) => d.is_reconstructing(),
            PacketDecoder::MsgPack(_) => false,
        }
    }

    /// Decodes a text message; `Ok(None)` means attachments must follow.
    ///
    /// # Errors
    /// Any [`ParseError`]; the connection should be closed.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        match self {
            PacketDecoder::Json(d) => d.decode_text(text),
            PacketDecoder::MsgPack(d) => d.decode_text(text),
        }
    }

    /// Decodes a binary message.
    ///
    /// # Errors
    /// Any [`ParseError`]; the connection should be closed.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        match self {
            PacketDecoder::Json(d) => d.decode_binary(data),
            PacketDecoder::MsgPack(d) => d.decode_binary(data),
        }
    }

    /// Decodes a binary message borrowed for the call: the msgpack parser
    /// reads it in place, the JSON parser copies the attachment it keeps.
    ///
    /// # Errors
    /// Any [`ParseError`]; the connection should be closed.
    pub fn decode_binary_ref(&mut self, data: &[u8]) -> Result<Option<Packet>, ParseError> {
        match self {
            PacketDecoder::Json(d) => d.decode_binary(Bytes::copy_from_slice(data)),
            PacketDecoder::MsgPack(d) => msgpack::decode(data, d.max_depth()).map(Some),
        }
    }
}
