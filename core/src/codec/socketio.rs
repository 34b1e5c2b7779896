//! Socket.IO v5 packets: `<type>[<n>-][<nsp>,][<id>][<json>]`, with binary
//! attachments reassembled by a small state machine ([`Decoder`]).
//!
//! Validation follows the official `socket.io-parser`: anything it throws on
//! is a [`ParseError`] here, and the server closes the connection on it.

use bytes::Bytes;

use super::json;
use super::value::{Args, JsonArgs, Value, write_str};

/// Largest number of attachments accepted in one packet by default.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;
pub use super::json::{
    DEFAULT_MAX_DEPTH as DEFAULT_MAX_JSON_DEPTH, MAX_DEPTH_CAP as MAX_JSON_DEPTH,
};

/// Event names a peer may not emit (reserved by the protocol).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Why a Socket.IO packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Empty packet or a type outside `0`–`6`.
    #[error("unknown packet type")]
    UnknownType,
    /// Malformed `<n>-` attachment count, or more than allowed.
    #[error("illegal attachments")]
    IllegalAttachments,
    /// Malformed or overflowing ack id.
    #[error("illegal id")]
    IllegalId,
    /// JSON missing, unparsable, or of the wrong shape for the packet type.
    #[error("invalid payload")]
    InvalidPayload,
    /// A text packet arrived while attachments were still expected.
    #[error("got plaintext data when reconstructing a packet")]
    UnexpectedText,
    /// A binary frame arrived with no binary packet pending.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedBinary,
    /// The msgpack parser got bytes that are not one msgpack value
    /// (truncated, invalid, or followed by trailing bytes).
    #[error("invalid msgpack: {0}")]
    InvalidMsgPack(String),
    /// The msgpack parser got a packet whose `nsp` is missing or not a string.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The msgpack parser got a text message: its packets are binary only.
    #[error("got plaintext data with the msgpack parser")]
    TextForMsgPack,
}

/// The body of a Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub enum PacketData {
    /// `0`: connect; client→server an optional auth object, server→client `{"sid":…}`.
    Connect(Option<Value>),
    /// `1`: leave the namespace.
    Disconnect,
    /// `2`/`5`: an event with its arguments and an optional ack id.
    Event {
        /// Event name.
        event: String,
        /// Arguments after the name.
        args: Args,
        /// Ack id when the sender wants an acknowledgement.
        id: Option<u64>,
    },
    /// `3`/`6`: an acknowledgement.
    Ack {
        /// Reply arguments.
        args: Args,
        /// The ack id being answered (absent ids are ignored by receivers).
        id: Option<u64>,
    },
    /// `4`: connection refused, `{"message":…, "data"?:…}`.
    ConnectError(Value),
}

/// A Socket.IO packet addressed to a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Namespace, `/` by default.
    pub nsp: String,
    /// What the packet carries.
    pub data: PacketData,
}

impl Packet {
    /// An event packet.
    pub fn event(
        nsp: impl Into<String>,
        event: impl Into<String>,
        args: Args,
        id: Option<u64>,
    ) -> Self {
        Packet {
            nsp: nsp.into(),
            data: PacketData::Event {
                event: event.into(),
                args,
                id,
            },
        }
    }

    /// An acknowledgement packet.
    pub fn ack(nsp: impl Into<String>, args: Args, id: u64) -> Self {
        Packet {
            nsp: nsp.into(),
            data: PacketData::Ack { args, id: Some(id) },
        }
    }

    /// Encodes the packet: header and JSON into `out` (appended), binary
    /// attachments, in placeholder order, into `attachments`.
    ///
    /// Only EVENT and ACK packets carry attachments; like the official
    /// encoder, buffers in a CONNECT or CONNECT_ERROR payload are written
    /// inline as Node.js prints a `Buffer` (`{"type":"Buffer","data":[…]}`).
    ///
    /// ```
    /// use oxsio::codec::socketio::Packet;
    /// use oxsio::Value;
    /// let p = Packet::event("/admin", "bar", vec![Value::from(vec![1u8])], Some(15));
    /// let (mut text, mut att) = (String::new(), Vec::new());
    /// p.encode_into(&mut text, &mut att);
    /// assert_eq!(text, r#"51-/admin,15["bar",{"_placeholder":true,"num":0}]"#);
    /// assert_eq!(att.len(), 1);
    /// ```
    pub fn encode_into(&self, out: &mut String, attachments: &mut Vec<Bytes>) {
        match &self.data {
            PacketData::Event { event, args, id } => {
                encode_event_into(out, attachments, &self.nsp, Some(event), args, *id)
            }
            PacketData::Ack { args, id } => {
                encode_event_into(out, attachments, &self.nsp, None, args, *id)
            }
            PacketData::Connect(v) => {
                out.push('0');
                write_nsp(out, &self.nsp);
                if let Some(v) = v {
                    v.write_json_inline(out);
                }
            }
            PacketData::Disconnect => {
                out.push('1');
                write_nsp(out, &self.nsp);
            }
            PacketData::ConnectError(v) => {
                out.push('4');
                write_nsp(out, &self.nsp);
                // No payload stays no payload (`4`, not `4null`).
                if !v.is_null() {
                    v.write_json_inline(out);
                }
            }
        }
    }

    /// The packet text and attachments as new values.
    pub fn encode(&self) -> (String, Vec<Bytes>) {
        let (mut text, mut att) = (String::new(), Vec::new());
        self.encode_into(&mut text, &mut att);
        (text, att)
    }
}

fn write_nsp(out: &mut String, nsp: &str) {
    // Like the official encoder, an empty namespace means the main one.
    if !nsp.is_empty() && nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
}

/// Encodes an event (`event` is `Some`) or an ack (`None`) from borrowed
/// parts, so emitters need not build a [`Packet`].
pub fn encode_event_into(
    out: &mut String,
    attachments: &mut Vec<Bytes>,
    nsp: &str,
    event: Option<&str>,
    args: &[Value],
    id: Option<u64>,
) {
    use std::fmt::Write;
    out.reserve(
        24 + nsp.len()
            + event.map_or(0, str::len)
            + args.iter().map(|a| a.json_len_hint() + 1).sum::<usize>(),
    );
    let n: usize = args.iter().map(count_binary).sum();
    let ty = if event.is_some() { 2 } else { 3 };
    if n > 0 {
        let _ = write!(out, "{}{n}-", ty + 3);
    } else {
        out.push(if ty == 2 { '2' } else { '3' });
    }
    write_nsp(out, nsp);
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
    out.push('[');
    let mut first = true;
    if let Some(event) = event {
        write_str(out, event);
        first = false;
    }
    for a in args {
        if !first {
            out.push(',');
        }
        first = false;
        a.write_json(out, attachments);
    }
    out.push(']');
}

/// Encodes an event whose arguments are JSON text (the elements between
/// the array's brackets, already checked, e.g. by
/// [`JsonArgs`]): `2[nsp,][id]["event",<args>]`.
///
/// ```
/// use oxsio::codec::socketio::encode_json_event_into;
/// let mut out = String::new();
/// encode_json_event_into(&mut out, "/chat", "hi", r#"1,"x""#, Some(7));
/// assert_eq!(out, r#"2/chat,7["hi",1,"x"]"#);
/// ```
pub fn encode_json_event_into(
    out: &mut String,
    nsp: &str,
    event: &str,
    args: &str,
    id: Option<u64>,
) {
    use std::fmt::Write;
    out.push('2');
    write_nsp(out, nsp);
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
    out.push('[');
    write_str(out, event);
    if !args.is_empty() {
        out.push(',');
        out.push_str(args);
    }
    out.push(']');
}

fn count_binary(v: &Value) -> usize {
    match v {
        Value::Binary(_) => 1,
        Value::Array(a) => a.iter().map(count_binary).sum(),
        Value::Object(o) => o.values().map(count_binary).sum(),
        _ => 0,
    }
}

/// Decodes packets from Engine.IO messages, reassembling binary packets
/// from their attachments. One decoder per connection.
///
/// ```
/// use oxsio::codec::socketio::{Decoder, PacketData};
/// let mut d = Decoder::default();
/// // The Engine.IO message was `451-[…]`: its data after the `4` type.
/// assert!(d.decode_text(r#"51-["baz",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
/// let p = d.decode_binary(vec![1u8, 2].into()).unwrap().unwrap();
/// match p.data {
///     PacketData::Event { event, args, .. } => {
///         assert_eq!(event, "baz");
///         assert_eq!(args[0].as_bytes().unwrap().as_ref(), &[1, 2]);
///     }
///     _ => unreachable!(),
/// }
/// ```
#[derive(Debug)]
pub struct Decoder {
    pending: Option<Pending>,
    max_attachments: usize,
    max_depth: usize,
}

#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    buffers: Vec<Bytes>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// A decoder accepting at most `max_attachments` per packet.
    pub fn new(max_attachments: usize) -> Self {
        Decoder {
            pending: None,
            max_attachments,
            max_depth: DEFAULT_MAX_JSON_DEPTH,
        }
    }

    /// Accepts JSON nested up to `depth` arrays/objects (default
    /// [`DEFAULT_MAX_JSON_DEPTH`], at most [`MAX_JSON_DEPTH`]); a deeper
    /// payload is [`ParseError::InvalidPayload`].
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth.min(MAX_JSON_DEPTH);
        self
    }

    /// True while a binary packet waits for attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Decodes a text message; `Ok(None)` means attachments must follow.
    ///
    /// # Errors
    /// Any [`ParseError`]; the connection should be closed.
    pub fn decode_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        if self.pending.is_some() {
            return Err(ParseError::UnexpectedText);
        }
        let (packet, attachments) = decode_header(text, self.max_attachments, self.max_depth)?;
        if attachments == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Pending {
            packet,
            expected: attachments,
            buffers: Vec::with_capacity(attachments),
        });
        Ok(None)
    }

    /// Feeds one binary attachment; returns the packet when it is complete.
    ///
    /// # Errors
    /// [`ParseError::UnexpectedBinary`] with nothing pending, or
    /// [`ParseError::IllegalAttachments`] for a placeholder out of range.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        let pending = self.pending.as_mut().ok_or(ParseError::UnexpectedBinary)?;
        pending.buffers.push(data);
        if pending.buffers.len() < pending.expected {
            return Ok(None);
        }
        let Some(Pending {
            mut packet,
            buffers,
            ..
        }) = self.pending.take()
        else {
            return Err(ParseError::UnexpectedBinary);
        };
        let args = match &mut packet.data {
            PacketData::Event { args, .. } | PacketData::Ack { args, .. } => args,
            _ => return Err(ParseError::IllegalAttachments),
        };
        for a in args.iter_mut() {
            a.fill_placeholders(&buffers)
                .map_err(|()| ParseError::IllegalAttachments)?;
        }
        Ok(Some(packet))
    }
}

/// Parses a packet's text; returns it with the number of attachments that follow.
///
/// Mirrors `decodeString` of the official `socket.io-parser` (4.2.7),
/// including its JavaScript coercions:
/// - the type is `Number(first char)`: a whitespace character counts as
///   `0` (CONNECT). The empty string is rejected: the official server never
///   hands one to its parser (an empty Engine.IO message has *no* data and
///   makes the server close the connection).
/// - the attachment count is `Number(text up to the first '-')`, so
///   ` 1`, `1.0`, `1e0` or `0x1` are accepted; it must be an integer in
///   `1..=max_attachments`.
/// - the ack id is the run of digits *and whitespace* that follows, read
///   with `Number()`: whitespace alone is id 0, whitespace inside (`1 2`) is
///   `NaN`. Ids JavaScript cannot hold exactly are kept exact up to
///   `u64::MAX`; `NaN` and larger ids (which Node keeps as inexact doubles)
///   become `None`.
/// - the payload is optional for every type. Without one, an ACK has no
///   arguments, a CONNECT_ERROR carries `null`, and an EVENT (which the
///   official server accepts and then ignores, as it has no name) decodes as
///   a [`PacketData::Ack`] without id, which receivers ignore too.
fn decode_header(
    text: &str,
    max_attachments: usize,
    max_depth: usize,
) -> Result<(Packet, usize), ParseError> {
    let Header {
        ty,
        attachments,
        nsp,
        id,
        json: json_text,
    } = parse_header(text, max_attachments)?;
    let (payload, first_number) = if json_text.is_empty() {
        (None, None)
    } else {
        let (v, f) = json::parse_with_first_number(json_text, max_depth)
            .map_err(|_| ParseError::InvalidPayload)?;
        (Some(v), f)
    };
    let data = match (ty, payload) {
        (0, None) => PacketData::Connect(None),
        (0, Some(v @ Value::Object(_))) => PacketData::Connect(Some(v)),
        (1, None) => PacketData::Disconnect,
        (2 | 5, None) => PacketData::Ack {
            args: Vec::new(),
            id: None,
        },
        (2 | 5, Some(Value::Array(mut args))) if !args.is_empty() => {
            let event = match (args.remove(0), first_number) {
                (Value::String(s), _) if !RESERVED_EVENTS.contains(&s.as_str()) => s,
                // JavaScript emits the number; listeners see `String(n)`.
                (_, Some(f)) => json::f64_to_string(f),
                _ => return Err(ParseError::InvalidPayload),
            };
            PacketData::Event { event, args, id }
        }
        (3 | 6, None) => PacketData::Ack {
            args: Vec::new(),
            id,
        },
        (3 | 6, Some(Value::Array(args))) => PacketData::Ack { args, id },
        (4, None) => PacketData::ConnectError(Value::Null),
        (4, Some(v @ (Value::Object(_) | Value::String(_)))) => PacketData::ConnectError(v),
        _ => return Err(ParseError::InvalidPayload),
    };
    Ok((
        Packet {
            nsp: nsp.to_owned(),
            data,
        },
        attachments,
    ))
}

/// A plain EVENT packet (type `2`, no attachments) read without building
/// any value: its arguments stay the JSON text the peer sent.
#[derive(Debug, Clone, Copy)]
pub struct RawEventPacket<'a> {
    /// Namespace, `/` by default.
    pub nsp: &'a str,
    /// Event name.
    pub name: &'a str,
    /// The arguments after the name, checked as `JSON.parse` would.
    pub args: JsonArgs<'a>,
    /// Ack id when the sender wants an acknowledgement.
    pub id: Option<u64>,
}

/// Reads a plain EVENT packet as [`RawEventPacket`], or `None` when
/// [`Decoder::decode_text`] must take it: another packet type, an invalid
/// packet (the decoder then reports why), or an event name it would have
/// to decode (escapes, a number, a reserved name).
///
/// ```
/// use oxsio::codec::socketio::raw_event;
/// let e = raw_event(r#"2/chat,7["say", "hi", {"n": 1}]"#).unwrap();
/// assert_eq!((e.nsp, e.name, e.id), ("/chat", "say", Some(7)));
/// assert_eq!(e.args.inner(), r#""hi", {"n": 1}"#);
/// assert!(raw_event(r#"2["say","hi""#).is_none()); // not JSON: the decoder refuses it
/// ```
pub fn raw_event(text: &str) -> Option<RawEventPacket<'_>> {
    if !text.starts_with('2') {
        return None;
    }
    let h = parse_header(text, 0).ok()?;
    let array = json::validate_array(h.json).ok()?;
    let inner = &h.json[array.inner.clone()];
    let rest = inner.strip_prefix('"')?;
    let end = json::find_escape(rest.as_bytes());
    if rest.as_bytes().get(end) != Some(&b'"') {
        return None;
    }
    let name = &rest[..end];
    if RESERVED_EVENTS.contains(&name) {
        return None;
    }
    // After the name: nothing, or a comma and the other elements (the
    // array was checked whole, so this is all that can follow).
    let after = rest[end + 1..].trim_start_matches([' ', '\t', '\n', '\r']);
    let args_start = match after.strip_prefix(',') {
        Some(a) => a.trim_start_matches([' ', '\t', '\n', '\r']),
        None => after,
    };
    let start = args_start.as_ptr() as usize - h.json.as_ptr() as usize;
    Some(RawEventPacket {
        nsp: h.nsp,
        name,
        args: JsonArgs::from_checked(h.json, start..array.inner.end, array.placeholder_key),
        id: h.id,
    })
}

/// A packet's header fields and the JSON text that follows them.
struct Header<'a> {
    ty: u8,
    attachments: usize,
    nsp: &'a str,
    id: Option<u64>,
    json: &'a str,
}

/// Reads the header of a packet's text (see [`decode_header`]).
fn parse_header(text: &str, max_attachments: usize) -> Result<Header<'_>, ParseError> {
    let first = text.chars().next().ok_or(ParseError::UnknownType)?;
    let ty = match first {
        '0'..='6' => first as u8 - b'0',
        c if json::is_js_whitespace(c) => 0,
        _ => return Err(ParseError::UnknownType),
    };
    let mut pos = first.len_utf8();
    let mut attachments = 0;
    if ty == 5 || ty == 6 {
        let dash = text[pos..]
            .find('-')
            .ok_or(ParseError::IllegalAttachments)?;
        let n =
            json::string_to_number(&text[pos..pos + dash]).ok_or(ParseError::IllegalAttachments)?;
        if !(n.fract() == 0.0 && n >= 1.0 && n <= max_attachments as f64) {
            return Err(ParseError::IllegalAttachments);
        }
        attachments = n as usize;
        pos += dash + 1;
    }
    let rest = &text[pos..];
    let nsp = if rest.starts_with('/') {
        match rest.find(',') {
            Some(comma) => {
                pos += comma + 1;
                &rest[..comma]
            }
            None => {
                pos = text.len();
                rest
            }
        }
    } else {
        "/"
    };
    let rest = &text[pos..];
    let run = rest
        .find(|c: char| !(c.is_ascii_digit() || json::is_js_whitespace(c)))
        .unwrap_or(rest.len());
    let id = if run == 0 {
        None
    } else {
        let digits = rest[..run].trim_matches(json::is_js_whitespace);
        if digits.is_empty() {
            Some(0)
        } else {
            // All digits or NaN; beyond u64 Node has an inexact double.
            digits.parse::<u64>().ok()
        }
    };
    Ok(Header {
        ty,
        attachments,
        nsp,
        id,
        json: &rest[run..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::Map;
    use serde_json::json;

    fn one(text: &str) -> Result<Packet, ParseError> {
        let mut d = Decoder::default();
        d.decode_text(text).map(|p| p.expect("complete packet"))
    }

    fn v(j: serde_json::Value) -> Value {
        Value::from(j)
    }

    fn pk(nsp: &str, data: PacketData) -> Packet {
        Packet {
            nsp: nsp.into(),
            data,
        }
    }

    fn ack(nsp: &str, args: Args, id: Option<u64>) -> Packet {
        pk(nsp, PacketData::Ack { args, id })
    }

    /// Every text example of the v5 spec (socket.io-protocol Readme.md,
    /// "Packet encoding" and "Sample session") and of PROTOCOL.md: decodes
    /// to the packet, and the packet encodes back to the same text.
    #[test]
    fn spec_text_examples_round_trip() {
        let cases = [
            ("0", pk("/", PacketData::Connect(None))),
            (
                r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
                pk(
                    "/",
                    PacketData::Connect(Some(v(json!({"sid": "wZX3oN0bSVIhsaknAAAI"})))),
                ),
            ),
            ("0/admin,", pk("/admin", PacketData::Connect(None))),
            (
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
                pk(
                    "/admin",
                    PacketData::Connect(Some(v(json!({"sid": "oSO0OpakMV_3jnilAAAA"})))),
                ),
            ),
            (
                r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
                pk(
                    "/admin",
                    PacketData::Connect(Some(v(json!({"sid": "-G5j-67EZFp-q59rADQM"})))),
                ),
            ),
            (
                r#"0{"token":"123"}"#,
                pk("/", PacketData::Connect(Some(v(json!({"token": "123"}))))),
            ),
            (
                r#"4{"message":"Not authorized"}"#,
                pk(
                    "/",
                    PacketData::ConnectError(v(json!({"message": "Not authorized"}))),
                ),
            ),
            (
                r#"4/random,{"message":"Invalid namespace"}"#,
                pk(
                    "/random",
                    PacketData::ConnectError(v(json!({"message": "Invalid namespace"}))),
                ),
            ),
            (r#"2["foo"]"#, Packet::event("/", "foo", vec![], None)),
            (
                r#"2/admin,["bar"]"#,
                Packet::event("/admin", "bar", vec![], None),
            ),
            (
                r#"2["hey","Jude"]"#,
                Packet::event("/", "hey", vec![Value::from("Jude")], None),
            ),
            (r#"212["foo"]"#, Packet::event("/", "foo", vec![], Some(12))),
            ("312[]", Packet::ack("/", vec![], 12)),
            (
                r#"2/admin,13["foo"]"#,
                Packet::event("/admin", "foo", vec![], Some(13)),
            ),
            (
                r#"3/admin,13["bar"]"#,
                Packet::ack("/admin", vec![Value::from("bar")], 13),
            ),
            (
                r#"314["bar"]"#,
                Packet::ack("/", vec![Value::from("bar")], 14),
            ),
            (r#"215["foo"]"#, Packet::event("/", "foo", vec![], Some(15))),
            (
                r#"2/admin,1["tellme"]"#,
                Packet::event("/admin", "tellme", vec![], Some(1)),
            ),
            ("1", pk("/", PacketData::Disconnect)),
            ("1/admin,", pk("/admin", PacketData::Disconnect)),
        ];
        for (text, packet) in cases {
            assert_eq!(one(text).as_ref(), Ok(&packet), "decode {text}");
            let (enc, att) = packet.encode();
            assert_eq!(enc, text, "encode {packet:?}");
            assert!(att.is_empty());
        }
    }

    /// The binary examples of the spec: header + attachments, both ways.
    #[test]
    fn spec_binary_examples_round_trip() {
        let b1234 = Value::from(vec![1u8, 2, 3, 4]);
        let cases = [
            (
                r#"51-["baz",{"_placeholder":true,"num":0}]"#,
                vec![&[1u8, 2, 3, 4][..]],
                Packet::event("/", "baz", vec![b1234.clone()], None),
            ),
            (
                r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                vec![&[1u8, 2][..], &[3, 4]],
                Packet::event(
                    "/admin",
                    "baz",
                    vec![Value::from(vec![1u8, 2]), Value::from(vec![3u8, 4])],
                    None,
                ),
            ),
            (
                r#"51-14["foo",{"_placeholder":true,"num":0}]"#,
                vec![&[1u8, 2, 3, 4][..]],
                Packet::event("/", "foo", vec![b1234.clone()], Some(14)),
            ),
            (
                r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
                vec![&[1u8, 2, 3, 4][..]],
                Packet::ack("/", vec![Value::from("bar"), b1234.clone()], 15),
            ),
            (
                r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
                vec![&[1u8, 2, 3, 4][..]],
                Packet::ack("/admin", vec![b1234.clone()], 1),
            ),
            (
                r#"51-["message-back",{"_placeholder":true,"num":0},"x"]"#,
                vec![&[1u8, 2, 3][..]],
                Packet::event(
                    "/",
                    "message-back",
                    vec![Value::from(vec![1u8, 2, 3]), Value::from("x")],
                    None,
                ),
            ),
        ];
        for (text, buffers, packet) in cases {
            let mut d = Decoder::default();
            assert_eq!(d.decode_text(text), Ok(None), "{text}");
            let mut got = None;
            for (i, b) in buffers.iter().enumerate() {
                assert!(got.is_none(), "{text}: complete before attachment {i}");
                got = d.decode_binary(Bytes::copy_from_slice(b)).unwrap();
            }
            assert_eq!(got.as_ref(), Some(&packet), "{text}");
            assert!(!d.is_reconstructing());
            let (enc, att) = packet.encode();
            assert_eq!(enc, text);
            assert_eq!(att, buffers);
        }
    }

    #[test]
    fn binary_state_machine_errors() {
        let mut d = Decoder::default();
        assert_eq!(
            d.decode_text(r#"61-15["bar",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        assert!(d.is_reconstructing());
        assert_eq!(d.decode_text("2[\"x\"]"), Err(ParseError::UnexpectedText));
        let mut d = Decoder::default();
        d.decode_text(r#"52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#)
            .unwrap();
        assert_eq!(d.decode_binary(Bytes::from_static(b"x")), Ok(None));
        let p = d.decode_binary(Bytes::from_static(b"y")).unwrap().unwrap();
        assert_eq!(
            p,
            Packet::event(
                "/",
                "a",
                vec![Value::from(&b"y"[..]), Value::from(&b"x"[..])],
                None
            )
        );
        assert!(!d.is_reconstructing());
        assert_eq!(
            d.decode_binary(Bytes::new()),
            Err(ParseError::UnexpectedBinary)
        );
        // A bad placeholder fails the packet and resets the decoder.
        for bad in [
            r#"51-["a",{"_placeholder":true,"num":1}]"#,
            r#"51-["a",{"_placeholder":true,"num":-1}]"#,
            r#"51-["a",{"_placeholder":true,"num":1.0}]"#,
            r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
            r#"51-["a",{"_placeholder":true}]"#,
            r#"51-["a",[{"x":{"_placeholder":true,"num":1e400}}]]"#,
        ] {
            let mut d = Decoder::default();
            assert_eq!(d.decode_text(bad), Ok(None), "{bad}");
            assert_eq!(
                d.decode_binary(Bytes::new()),
                Err(ParseError::IllegalAttachments),
                "{bad}"
            );
            assert!(!d.is_reconstructing());
        }
    }

    /// Inputs the official parser (socket.io-parser 4.2.7) accepts although
    /// they look malformed; expected results are what Node decoded.
    #[test]
    fn accepts_what_node_accepts() {
        let a = || vec![];
        let cases: Vec<(&str, Packet)> = vec![
            // Number(" ") === 0: whitespace is a CONNECT type, and an id.
            (" ", pk("/", PacketData::Connect(None))),
            ("\t", pk("/", PacketData::Connect(None))),
            ("\u{3000}/admin,", pk("/admin", PacketData::Connect(None))),
            (
                " {\"a\":1}",
                pk("/", PacketData::Connect(Some(v(json!({"a": 1}))))),
            ),
            ("0\u{2028}", pk("/", PacketData::Connect(None))),
            ("2 [\"a\"]", Packet::event("/", "a", a(), Some(0))),
            ("2 12 [\"a\"]", Packet::event("/", "a", a(), Some(12))),
            (
                "2/admin,\u{feff}7\n[\"a\"]",
                Packet::event("/admin", "a", a(), Some(7)),
            ),
            // Number("1 2") is NaN; Node keeps id NaN. Not representable.
            ("21 2[\"a\"]", Packet::event("/", "a", a(), None)),
            // Beyond u64 Node has an inexact double (1e+23).
            (
                "299999999999999999999999[\"a\"]",
                Packet::event("/", "a", a(), None),
            ),
            // Kept exact where Node rounds to 9007199254740992.
            (
                "29007199254740993[\"a\"]",
                Packet::event("/", "a", a(), Some(9007199254740993)),
            ),
            // No payload: accepted for every type (EVENT is then ignored).
            ("2", ack("/", a(), None)),
            ("212", ack("/", a(), None)),
            ("2/admin,", ack("/admin", a(), None)),
            ("3", ack("/", a(), None)),
            ("312", ack("/", a(), Some(12))),
            ("4", pk("/", PacketData::ConnectError(Value::Null))),
            (
                "4\"refused\"",
                pk("/", PacketData::ConnectError(Value::from("refused"))),
            ),
            ("41", pk("/", PacketData::ConnectError(Value::Null))),
            // Namespace runs to the first comma or the end.
            ("0/admin", pk("/admin", PacketData::Connect(None))),
            ("0/", pk("/", PacketData::Connect(None))),
            (
                "0/admin,12{}",
                pk("/admin", PacketData::Connect(Some(v(json!({}))))),
            ),
            ("1/admin,12", pk("/admin", PacketData::Disconnect)),
            ("1/a b€,", pk("/a b€", PacketData::Disconnect)),
            // JSON.parse details.
            ("2[\"a\"] ", Packet::event("/", "a", a(), None)),
            ("2[\"a\"]\r\n\t", Packet::event("/", "a", a(), None)),
            ("2[1]", Packet::event("/", "1", a(), None)),
            ("2[-0]", Packet::event("/", "0", a(), None)),
            ("2[1.0]", Packet::event("/", "1", a(), None)),
            ("2[1e21]", Packet::event("/", "1e+21", a(), None)),
            ("2[1e400]", Packet::event("/", "Infinity", a(), None)),
            ("2[-1e400]", Packet::event("/", "-Infinity", a(), None)),
            (
                "2[9007199254740993]",
                Packet::event("/", "9007199254740992", a(), None),
            ),
            (
                "2[0.1,2]",
                Packet::event("/", "0.1", vec![Value::from(2)], None),
            ),
            (
                "2[\"a\",1e400]",
                Packet::event("/", "a", vec![Value::Null], None),
            ),
            ("2[\"\\ud800\"]", Packet::event("/", "\u{fffd}", a(), None)),
            ("2[\"Connect\"]", Packet::event("/", "Connect", a(), None)),
            (
                "2[\"a\",{\"b\":1,\"b\":2}]",
                Packet::event("/", "a", vec![v(json!({"b": 2}))], None),
            ),
        ];
        for (text, packet) in cases {
            assert_eq!(one(text).as_ref(), Ok(&packet), "{text:?}");
        }
    }

    #[test]
    fn attachment_count_is_read_with_number() {
        for text in [
            "51-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "5 1 -[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "5\u{3000}1-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "51e0-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "51.0-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "5+1-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "50x1-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "50b1-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "500001-[\"a\",{\"_placeholder\":true,\"num\":0}]",
            "5.1e1-[\"a\",{\"_placeholder\":true,\"num\":0}]",
        ] {
            let mut d = Decoder::default();
            assert_eq!(d.decode_text(text), Ok(None), "{text:?}");
            let p = d.decode_binary(Bytes::from_static(&[9])).unwrap();
            assert_eq!(
                p,
                Some(Packet::event("/", "a", vec![Value::from(vec![9u8])], None)),
                "{text:?}"
            );
        }
        // No payload: the attachments are still consumed, then ignored.
        let mut d = Decoder::default();
        assert_eq!(d.decode_text("51-12"), Ok(None));
        assert_eq!(
            d.decode_binary(Bytes::new()),
            Ok(Some(ack("/", vec![], None)))
        );
        assert_eq!(d.decode_text("61-/x,3"), Ok(None));
        assert_eq!(
            d.decode_binary(Bytes::new()),
            Ok(Some(ack("/x", vec![], Some(3))))
        );
        // The limit is configurable.
        let mut d = Decoder::new(2);
        assert_eq!(
            d.decode_text(r#"53-["a"]"#),
            Err(ParseError::IllegalAttachments)
        );
        assert_eq!(d.decode_text(r#"52-["a"]"#), Ok(None));
    }

    #[test]
    fn placeholder_with_fractional_index_is_undefined() {
        // Node: buffers[0.5] is undefined (null in an array, absent member).
        let mut d = Decoder::default();
        d.decode_text(
            r#"51-["a",{"_placeholder":true,"num":0.5},{"x":{"_placeholder":true,"num":0.5},"y":1},{"_placeholder":true,"num":-0.0}]"#,
        )
        .unwrap();
        let p = d.decode_binary(Bytes::from_static(&[1])).unwrap().unwrap();
        assert_eq!(
            p,
            Packet::event(
                "/",
                "a",
                vec![Value::Null, v(json!({"y": 1})), Value::from(vec![1u8])],
                None
            )
        );
    }

    /// Rejected by Node too (`socket.io-parser` throws), incl. its own test cases.
    #[test]
    fn invalid_packets_are_rejected_like_node() {
        use ParseError::*;
        let bad = [
            ("", UnknownType),
            ("7", UnknownType),
            ("999", UnknownType),
            ("x", UnknownType),
            ("\u{85}", UnknownType),
            ("\u{200b}", UnknownType),
            ("\u{1F600}", UnknownType),
            ("0\"str\"", InvalidPayload),
            ("0/admin,\"invalid\"", InvalidPayload),
            ("0[]", InvalidPayload),
            ("0null", InvalidPayload),
            ("1{}", InvalidPayload),
            ("1/admin,{}", InvalidPayload),
            ("2[]", InvalidPayload),
            ("2{}", InvalidPayload),
            ("2/admin,{}", InvalidPayload),
            ("2/admin,\"invalid", InvalidPayload),
            ("2[null]", InvalidPayload),
            ("2[null,\"bar\"]", InvalidPayload),
            ("2[true,\"foo\"]", InvalidPayload),
            ("2[{\"toString\":\"foo\"}]", InvalidPayload),
            ("2[[\"a\"]]", InvalidPayload),
            (r#"2["connect"]"#, InvalidPayload),
            (r#"2["connect_error"]"#, InvalidPayload),
            (r#"2["disconnect","123"]"#, InvalidPayload),
            (r#"2["disconnecting"]"#, InvalidPayload),
            (r#"2["newListener"]"#, InvalidPayload),
            (r#"2["removeListener"]"#, InvalidPayload),
            (r#"2["a"]x"#, InvalidPayload),
            (r#"2["a"]["b"]"#, InvalidPayload),
            (r#"2["a",]"#, InvalidPayload),
            (r#"2['a']"#, InvalidPayload),
            (r#"2["a\x"]"#, InvalidPayload),
            ("2[\"a\u{1}\"]", InvalidPayload),
            (r#"2["a",NaN]"#, InvalidPayload),
            (r#"2["a",01]"#, InvalidPayload),
            (r#"442["some","data""#, InvalidPayload),
            (r#"2/a,b,["x"]"#, InvalidPayload),
            ("3{}", InvalidPayload),
            ("3\"a\"", InvalidPayload),
            ("4[]", InvalidPayload),
            ("4true", InvalidPayload),
            ("5", IllegalAttachments),
            ("51", IllegalAttachments),
            ("50-", IllegalAttachments),
            ("5-[\"a\"]", IllegalAttachments),
            ("5 -[\"a\"]", IllegalAttachments),
            ("5a-", IllegalAttachments),
            ("51.23-", IllegalAttachments),
            ("5Infinity-[\"a\"]", IllegalAttachments),
            ("51e400-[\"a\"]", IllegalAttachments),
            (r#"5["a"]"#, IllegalAttachments),
            (r#"5x-["a"]"#, IllegalAttachments),
            (r#"511-["a"]"#, IllegalAttachments),
            (r#"599999999999999999999999-["a"]"#, IllegalAttachments),
            ("6/admin,1-[]", IllegalAttachments),
            (r#"51-{}"#, InvalidPayload),
            (r#"61-{}"#, InvalidPayload),
        ];
        for (text, err) in bad {
            assert_eq!(Decoder::default().decode_text(text), Err(err), "{text:?}");
        }
        let deep = format!("2[\"a\",{}{}]", "[".repeat(200), "]".repeat(200));
        assert_eq!(Decoder::default().decode_text(&deep), Err(InvalidPayload));
    }

    #[test]
    fn placeholder_in_text_packet_stays_an_object() {
        let p = one(r#"2["a",{"_placeholder":true,"num":0}]"#).unwrap();
        let PacketData::Event { args, .. } = p.data else {
            panic!()
        };
        assert_eq!(args[0], v(json!({"_placeholder": true, "num": 0})));
    }

    #[test]
    fn encodes_like_the_official_encoder() {
        // An empty namespace is the main one (`obj.nsp && "/" !== obj.nsp`).
        assert_eq!(Packet::event("", "a", vec![], None).encode().0, r#"2["a"]"#);
        assert_eq!(pk("", PacketData::Disconnect).encode().0, "1");
        // Binary anywhere turns EVENT/ACK into BINARY_*; placeholders are
        // numbered in JSON.stringify order (integer-like keys first).
        let mut o = Map::new();
        o.insert("b".into(), Value::from(vec![2u8]));
        o.insert("1".into(), Value::from(vec![1u8]));
        let p = Packet::ack("/", vec![Value::Object(o)], 0);
        let (text, att) = p.encode();
        assert_eq!(
            text,
            r#"62-0[{"1":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}]"#
        );
        assert_eq!(
            att,
            vec![Bytes::from_static(&[1]), Bytes::from_static(&[2])]
        );
        let mut d = Decoder::default();
        assert_eq!(d.decode_text(&text), Ok(None));
        assert_eq!(d.decode_binary(att[0].clone()), Ok(None));
        assert_eq!(d.decode_binary(att[1].clone()), Ok(Some(p)));
        // CONNECT / CONNECT_ERROR never have attachments.
        let mut o = Map::new();
        o.insert("k".into(), Value::from(vec![1u8, 255]));
        for (p, text) in [
            (
                pk("/", PacketData::Connect(Some(Value::Object(o.clone())))),
                r#"0{"k":{"type":"Buffer","data":[1,255]}}"#,
            ),
            (
                pk("/a", PacketData::ConnectError(Value::Object(o))),
                r#"4/a,{"k":{"type":"Buffer","data":[1,255]}}"#,
            ),
        ] {
            assert_eq!(p.encode(), (text.to_owned(), vec![]));
        }
    }
}
