//! Engine.IO v4 packets: one type character and optional data.
//!
//! Text packets only: in v4 a binary WebSocket frame (or a polling `b…`
//! record) is always a message and carries no type byte.

use serde::{Deserialize, Serialize};

/// Why an Engine.IO packet or payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet was empty (no type character).
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type `0`–`6`.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A polling record started with `b` but was not valid base64.
    ///
    /// No longer produced: like the official parser, the codec decodes any
    /// base64 leniently (see [`decode_base64`](super::polling::decode_base64)).
    #[error("invalid base64 in binary record")]
    Base64,
}

/// A decoded text packet, borrowing its data from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0` + handshake JSON (server → client).
    Open(&'a str),
    /// `1`: close the session.
    Close,
    /// `2` + optional data (`probe` during an upgrade).
    Ping(&'a str),
    /// `3` + optional data (`probe` during an upgrade).
    Pong(&'a str),
    /// `4` + text message.
    Message(&'a str),
    /// `5`: completes an upgrade.
    Upgrade,
    /// `6`: no operation.
    Noop,
}

impl<'a> Packet<'a> {
    /// Decodes one text packet.
    ///
    /// # Errors
    /// [`DecodeError::Empty`] or [`DecodeError::UnknownType`]; the official
    /// server closes the session on either ("parse error").
    ///
    /// ```
    /// use oxsio::codec::engineio::Packet;
    /// assert_eq!(Packet::decode("4hello"), Ok(Packet::Message("hello")));
    /// assert_eq!(Packet::decode("2probe"), Ok(Packet::Ping("probe")));
    /// assert!(Packet::decode("9").is_err());
    /// ```
    pub fn decode(text: &'a str) -> Result<Self, DecodeError> {
        let mut chars = text.chars();
        let ty = chars.next().ok_or(DecodeError::Empty)?;
        let data = chars.as_str();
        Ok(match ty {
            '0' => Packet::Open(data),
            '1' => Packet::Close,
            '2' => Packet::Ping(data),
            '3' => Packet::Pong(data),
            '4' => Packet::Message(data),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Appends the encoded packet to `out`.
    pub fn encode_into(&self, out: &mut String) {
        let (ty, data) = match *self {
            Packet::Open(d) => ('0', d),
            Packet::Close => ('1', ""),
            Packet::Ping(d) => ('2', d),
            Packet::Pong(d) => ('3', d),
            Packet::Message(d) => ('4', d),
            Packet::Upgrade => ('5', ""),
            Packet::Noop => ('6', ""),
        };
        out.push(ty);
        out.push_str(data);
    }

    /// The encoded packet as a new string.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.encode_into(&mut s);
        s
    }
}

/// The handshake sent in the `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// Session id.
    pub sid: String,
    /// Transports the session may upgrade to.
    pub upgrades: Vec<String>,
    /// Milliseconds between server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Largest payload the client may send in one request or frame.
    /// Protocol 3 servers (Socket.IO 2.x) do not send it: their default
    /// `maxHttpBufferSize`, 100 000 000 bytes, is assumed.
    #[serde(default = "v3_max_payload")]
    pub max_payload: u64,
}

fn v3_max_payload() -> u64 {
    100_000_000
}

impl OpenPacket {
    /// `0{...}` with the keys in the official order.
    pub fn encode(&self) -> String {
        let mut s = String::from("0");
        // Serializing a plain struct of strings and integers cannot fail.
        s.push_str(&serde_json::to_string(self).unwrap_or_default());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        let cases = [
            ("0{}", Packet::Open("{}")),
            ("1", Packet::Close),
            ("2", Packet::Ping("")),
            ("2probe", Packet::Ping("probe")),
            ("3probe", Packet::Pong("probe")),
            ("4", Packet::Message("")),
            ("4€✓", Packet::Message("€✓")),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (text, packet) in cases {
            assert_eq!(Packet::decode(text), Ok(packet), "{text}");
        }
        assert_eq!(Packet::decode(""), Err(DecodeError::Empty));
        assert_eq!(Packet::decode("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(Packet::decode("é"), Err(DecodeError::UnknownType('é')));
    }

    /// Examples of the v4 spec (engine.io-protocol README.md) and PROTOCOL.md,
    /// and what engine.io-parser 5.2.3 `decodePacket` makes of odd inputs.
    #[test]
    fn spec_examples_round_trip() {
        let cases = [
            ("2probe", Packet::Ping("probe")),
            ("3probe", Packet::Pong("probe")),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
            ("1", Packet::Close),
            ("2", Packet::Ping("")),
            ("3", Packet::Pong("")),
            ("4hello", Packet::Message("hello")),
            ("4HelloWorld", Packet::Message("HelloWorld")),
            ("4€✓", Packet::Message("€✓")),
            ("42[\"foo\"]", Packet::Message("2[\"foo\"]")),
            (
                r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
                Packet::Open(
                    r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
                ),
            ),
        ];
        for (text, packet) in cases {
            assert_eq!(Packet::decode(text), Ok(packet), "{text}");
            assert_eq!(packet.encode(), text);
        }
        // Node keeps data after 1/5/6 ({type:"close",data:"x"}); it has no meaning.
        assert_eq!(Packet::decode("1x"), Ok(Packet::Close));
        assert_eq!(Packet::decode("5probe"), Ok(Packet::Upgrade));
        assert_eq!(Packet::decode("6x"), Ok(Packet::Noop));
        // Not a type: the official parser returns its error packet.
        for bad in ["", "7", "b", "bAQID", " 4", "\u{1F600}"] {
            assert!(Packet::decode(bad).is_err(), "{bad:?}");
        }
        // The handshake decodes with serde into the struct.
        let Ok(Packet::Open(json)) = Packet::decode(cases[11].0) else {
            panic!()
        };
        let open: OpenPacket = serde_json::from_str(json).unwrap();
        assert_eq!(open.encode(), cases[11].0);
    }

    #[test]
    fn encodes_handshake_like_node() {
        let open = OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        };
        assert_eq!(
            open.encode(),
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }
}
