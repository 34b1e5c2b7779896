//! Socket.IO v5 packets: `<type>[<n>-][<nsp>,][<id>][<json>]`, with binary
//! attachments reassembled by a small state machine ([`Decoder`]).
//!
//! Validation follows the official `socket.io-parser`: anything it throws on
//! is a [`ParseError`] here, and the server closes the connection on it.

use bytes::Bytes;

use super::value::{Args, Value, write_str};

/// Largest number of attachments accepted in one packet by default.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

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
        use std::fmt::Write;
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
                    v.write_json(out, attachments);
                }
            }
            PacketData::Disconnect => {
                out.push('1');
                write_nsp(out, &self.nsp);
            }
            PacketData::ConnectError(v) => {
                let _ = write!(out, "4");
                write_nsp(out, &self.nsp);
                v.write_json(out, attachments);
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
    if nsp != "/" {
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
/// assert!(d.decode_text(r#"451-["baz",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
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
        }
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
        let (packet, attachments) = decode_header(text, self.max_attachments)?;
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
fn decode_header(text: &str, max_attachments: usize) -> Result<(Packet, usize), ParseError> {
    let bytes = text.as_bytes();
    let ty = match bytes.first() {
        Some(c @ b'0'..=b'6') => c - b'0',
        _ => return Err(ParseError::UnknownType),
    };
    let mut i = 1;
    let mut attachments = 0;
    if ty == 5 || ty == 6 {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || bytes.get(i) != Some(&b'-') {
            return Err(ParseError::IllegalAttachments);
        }
        attachments = text[start..i]
            .parse::<usize>()
            .map_err(|_| ParseError::IllegalAttachments)?;
        if attachments > max_attachments {
            return Err(ParseError::IllegalAttachments);
        }
        i += 1;
    }
    let nsp = if bytes.get(i) == Some(&b'/') {
        let start = i;
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        let nsp = &text[start..i];
        if i < bytes.len() {
            i += 1; // the comma
        }
        nsp
    } else {
        "/"
    };
    let mut id = None;
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        id = Some(
            text[start..i]
                .parse::<u64>()
                .map_err(|_| ParseError::IllegalId)?,
        );
    }
    let json = &text[i..];
    let payload: Option<Value> = if json.is_empty() {
        None
    } else {
        Some(serde_json::from_str(json).map_err(|_| ParseError::InvalidPayload)?)
    };
    let data = match (ty, payload) {
        (0, None) => PacketData::Connect(None),
        (0, Some(v @ Value::Object(_))) => PacketData::Connect(Some(v)),
        (1, None) => PacketData::Disconnect,
        (2 | 5, Some(Value::Array(mut args))) if !args.is_empty() => {
            let event = match args.remove(0) {
                Value::String(s) if !RESERVED_EVENTS.contains(&s.as_str()) => s,
                Value::Number(n) => n.to_string(),
                _ => return Err(ParseError::InvalidPayload),
            };
            PacketData::Event { event, args, id }
        }
        (3 | 6, Some(Value::Array(args))) => PacketData::Ack { args, id },
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Result<Packet, ParseError> {
        let mut d = Decoder::default();
        d.decode_text(text).map(|p| p.expect("complete packet"))
    }

    #[test]
    fn protocol_examples_decode() {
        assert_eq!(
            one("0").unwrap(),
            Packet {
                nsp: "/".into(),
                data: PacketData::Connect(None)
            }
        );
        assert_eq!(
            one(r#"0{"token":"123"}"#).unwrap().data,
            PacketData::Connect(Some(Value::from(json!({"token": "123"}))))
        );
        assert_eq!(one(r#"0/admin,{"sid":"oSO0"}"#).unwrap().nsp, "/admin");
        assert_eq!(one("0/custom").unwrap().nsp, "/custom");
        assert_eq!(
            one("1/custom").unwrap(),
            Packet {
                nsp: "/custom".into(),
                data: PacketData::Disconnect
            }
        );
        assert_eq!(one("1/admin,").unwrap().data, PacketData::Disconnect);
        assert_eq!(
            one(r#"4{"message":"Not authorized"}"#).unwrap().data,
            PacketData::ConnectError(Value::from(json!({"message": "Not authorized"})))
        );
        assert_eq!(
            one(r#"2["foo"]"#).unwrap(),
            Packet::event("/", "foo", vec![], None)
        );
        assert_eq!(
            one(r#"2/admin,["bar"]"#).unwrap(),
            Packet::event("/admin", "bar", vec![], None)
        );
        assert_eq!(
            one(r#"212["foo"]"#).unwrap(),
            Packet::event("/", "foo", vec![], Some(12))
        );
        assert_eq!(
            one(r#"3/admin,13["bar"]"#).unwrap(),
            Packet::ack("/admin", vec![Value::from("bar")], 13)
        );
        assert_eq!(
            one("3[]").unwrap().data,
            PacketData::Ack {
                args: vec![],
                id: None
            }
        );
        assert_eq!(one("2[1]").unwrap(), Packet::event("/", "1", vec![], None));
    }

    #[test]
    fn binary_examples_reassemble() {
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
    }

    #[test]
    fn invalid_packets_are_rejected_like_node() {
        let bad = [
            ("", ParseError::UnknownType),
            ("7", ParseError::UnknownType),
            ("x", ParseError::UnknownType),
            ("0\"str\"", ParseError::InvalidPayload),
            ("0[]", ParseError::InvalidPayload),
            ("1{}", ParseError::InvalidPayload),
            ("2", ParseError::InvalidPayload),
            ("2[]", ParseError::InvalidPayload),
            ("2{}", ParseError::InvalidPayload),
            ("2[null]", ParseError::InvalidPayload),
            (r#"2["connect"]"#, ParseError::InvalidPayload),
            (r#"2["disconnecting"]"#, ParseError::InvalidPayload),
            (r#"2["a"]x"#, ParseError::InvalidPayload),
            ("3", ParseError::InvalidPayload),
            ("3{}", ParseError::InvalidPayload),
            ("4", ParseError::InvalidPayload),
            ("4[]", ParseError::InvalidPayload),
            (r#"5["a"]"#, ParseError::IllegalAttachments),
            (r#"5x-["a"]"#, ParseError::IllegalAttachments),
            (r#"511-["a"]"#, ParseError::IllegalAttachments),
            (r#"299999999999999999999999["a"]"#, ParseError::IllegalId),
        ];
        for (text, err) in bad {
            assert_eq!(Decoder::default().decode_text(text), Err(err), "{text:?}");
        }
        let mut d = Decoder::default();
        d.decode_text(r#"51-["a",{"_placeholder":true,"num":1}]"#)
            .unwrap();
        assert_eq!(
            d.decode_binary(Bytes::new()),
            Err(ParseError::IllegalAttachments)
        );
    }

    #[test]
    fn placeholder_in_text_packet_stays_an_object() {
        let p = one(r#"2["a",{"_placeholder":true,"num":0}]"#).unwrap();
        let PacketData::Event { args, .. } = p.data else {
            panic!()
        };
        assert_eq!(
            args[0],
            Value::from(json!({"_placeholder": true, "num": 0}))
        );
    }

    #[test]
    fn zero_attachment_binary_packet_is_complete() {
        assert_eq!(
            one(r#"50-["a"]"#).unwrap(),
            Packet::event("/", "a", vec![], None)
        );
    }

    #[test]
    fn encodes_protocol_examples() {
        let cases = [
            (
                Packet {
                    nsp: "/".into(),
                    data: PacketData::Connect(None),
                },
                "0",
            ),
            (
                Packet {
                    nsp: "/admin".into(),
                    data: PacketData::Connect(Some(Value::from(json!({"sid": "oSO0"})))),
                },
                r#"0/admin,{"sid":"oSO0"}"#,
            ),
            (
                Packet {
                    nsp: "/admin".into(),
                    data: PacketData::Disconnect,
                },
                "1/admin,",
            ),
            (Packet::event("/", "foo", vec![], None), r#"2["foo"]"#),
            (Packet::event("/", "foo", vec![], Some(12)), r#"212["foo"]"#),
            (
                Packet::ack("/admin", vec![Value::from("bar")], 13),
                r#"3/admin,13["bar"]"#,
            ),
            (
                Packet {
                    nsp: "/".into(),
                    data: PacketData::ConnectError(Value::from(
                        json!({"message": "Not authorized"}),
                    )),
                },
                r#"4{"message":"Not authorized"}"#,
            ),
        ];
        for (p, text) in cases {
            assert_eq!(p.encode().0, text);
        }
    }
}
