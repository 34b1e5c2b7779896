//! Engine.IO v3 long-polling payloads (Socket.IO 2.x clients), as
//! `engine.io-parser` 2.x frames them, in two encodings:
//!
//! - **text**: each packet as `<length>:<packet>`, the length counted in
//!   UTF-16 code units (JavaScript's `string.length`); a binary message as
//!   `b4` + base64. Used when the client cannot take binary (`b64=1`) or
//!   when no packet is binary.
//! - **binary**: each packet as a kind byte (0 text, 1 binary), the length
//!   in decimal digits one per byte, `0xff`, then the packet: text as
//!   UTF-8 (its length in bytes), binary as the type byte `4` and the data.
//!
//! ```
//! use oxsio::codec::polling_v3::{decode_text, encode, V3Record};
//!
//! let mut out = Vec::new();
//! let binary = encode(&[V3Record::Text("40"), V3Record::Binary(&[1, 2])], true, &mut out);
//! assert!(binary);
//! assert_eq!(out, [0, 2, 0xff, b'4', b'0', 1, 3, 0xff, 4, 1, 2]);
//!
//! let recs = decode_text("2:402:2é").unwrap();
//! assert_eq!(recs.len(), 2);
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::polling::decode_base64;

/// One packet to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V3Record<'a> {
    /// A text packet, type character included.
    Text(&'a str),
    /// A binary message (its type is `4`, message).
    Binary(&'a [u8]),
}

/// One decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V3Packet {
    /// A text packet, type character included.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// Why a v3 payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum V3Error {
    /// A length that is missing, not a number, or past the end.
    #[error("bad length")]
    Length,
    /// A text packet that is not UTF-8.
    #[error("not UTF-8")]
    Utf8,
    /// An empty payload or packet.
    #[error("empty packet")]
    Empty,
}

/// Encodes `records` into `out`; returns true when the binary encoding was
/// used (send it as `application/octet-stream`), false for text
/// (`text/plain; charset=UTF-8`). Binary is used only when the client
/// takes it (`binary`) and some record is binary, as the official server.
pub fn encode(records: &[V3Record<'_>], binary: bool, out: &mut Vec<u8>) -> bool {
    let as_binary = binary && records.iter().any(|r| matches!(r, V3Record::Binary(_)));
    if as_binary {
        for r in records {
            let (kind, body_len) = match r {
                V3Record::Text(t) => (0u8, t.len()),
                V3Record::Binary(b) => (1u8, b.len() + 1),
            };
            out.push(kind);
            out.extend(body_len.to_string().bytes().map(|d| d - b'0'));
            out.push(0xff);
            match r {
                V3Record::Text(t) => out.extend_from_slice(t.as_bytes()),
                V3Record::Binary(b) => {
                    out.push(4);
                    out.extend_from_slice(b);
                }
            }
        }
        return true;
    }
    if records.is_empty() {
        out.extend_from_slice(b"0:");
    }
    let mut packet = String::new();
    for r in records {
        let text: &str = match r {
            V3Record::Text(t) => t,
            V3Record::Binary(b) => {
                packet.clear();
                packet.push_str("b4");
                STANDARD.encode_string(b, &mut packet);
                &packet
            }
        };
        let units = text.encode_utf16().count();
        out.extend_from_slice(units.to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(text.as_bytes());
    }
    false
}

/// Decodes a text payload (`<length>:<packet>…`).
///
/// # Errors
/// [`V3Error`] for a malformed payload (the official server closes the
/// session with a parse error).
pub fn decode_text(payload: &str) -> Result<Vec<V3Packet>, V3Error> {
    if payload.is_empty() {
        return Err(V3Error::Empty);
    }
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(':').ok_or(V3Error::Length)?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(V3Error::Length);
        }
        let units: usize = len.parse().map_err(|_| V3Error::Length)?;
        // The packet ends after `units` UTF-16 code units.
        let mut seen = 0;
        let mut end = 0;
        for c in tail.chars() {
            if seen == units {
                break;
            }
            seen += c.len_utf16();
            end += c.len_utf8();
        }
        if seen != units {
            return Err(V3Error::Length);
        }
        let (packet, next) = tail.split_at(end);
        if !packet.is_empty() {
            out.push(record(packet));
        }
        rest = next;
    }
    Ok(out)
}

/// Decodes a binary payload (a POST sent as `application/octet-stream`).
///
/// # Errors
/// [`V3Error`] for a malformed payload.
pub fn decode_binary(payload: &Bytes) -> Result<Vec<V3Packet>, V3Error> {
    if payload.is_empty() {
        return Err(V3Error::Empty);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < payload.len() {
        let is_text = match payload[pos] {
            0 => true,
            1 => false,
            _ => return Err(V3Error::Length),
        };
        pos += 1;
        let mut len: usize = 0;
        let mut digits = 0;
        loop {
            let d = *payload.get(pos).ok_or(V3Error::Length)?;
            pos += 1;
            if d == 0xff {
                break;
            }
            // The official parser refuses more than 310 digits; 20 already
            // exceed any payload.
            if d > 9 || digits == 20 {
                return Err(V3Error::Length);
            }
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(d)))
                .ok_or(V3Error::Length)?;
            digits += 1;
        }
        if digits == 0 || len == 0 {
            return Err(V3Error::Length);
        }
        let end = pos.checked_add(len).filter(|&e| e <= payload.len());
        let end = end.ok_or(V3Error::Length)?;
        let body = payload.slice(pos..end);
        pos = end;
        if is_text {
            let text = std::str::from_utf8(&body).map_err(|_| V3Error::Utf8)?;
            out.push(record(text));
        } else if body[0] == 4 {
            out.push(V3Packet::Binary(body.slice(1..)));
        } else {
            // Another packet type as binary: only messages carry data.
            return Err(V3Error::Length);
        }
    }
    Ok(out)
}

/// A text record (`b4…` is a base64 binary message).
fn record(packet: &str) -> V3Packet {
    match packet.strip_prefix("b4") {
        Some(b64) => V3Packet::Binary(decode_base64(b64)),
        None => V3Packet::Text(packet.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payloads_count_utf16_units() {
        let mut out = Vec::new();
        let binary = encode(
            &[V3Record::Text("4é€😀"), V3Record::Text("2")],
            false,
            &mut out,
        );
        assert!(!binary);
        // é and € are one unit each, 😀 two.
        assert_eq!(String::from_utf8(out.clone()).unwrap(), "5:4é€😀1:2");
        let back = decode_text(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(
            back,
            [V3Packet::Text("4é€😀".into()), V3Packet::Text("2".into())]
        );
    }

    #[test]
    fn binary_goes_base64_without_binary_support() {
        let mut out = Vec::new();
        assert!(!encode(
            &[V3Record::Text("451-[\"a\"]"), V3Record::Binary(&[1, 2, 3])],
            false,
            &mut out
        ));
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "9:451-[\"a\"]6:b4AQID");
        let back = decode_text(&s).unwrap();
        assert_eq!(back[1], V3Packet::Binary(Bytes::from_static(&[1, 2, 3])));
    }

    #[test]
    fn binary_payloads_round_trip() {
        let data = vec![9u8; 300];
        let mut out = Vec::new();
        assert!(encode(
            &[V3Record::Text("4héllo"), V3Record::Binary(&data)],
            true,
            &mut out
        ));
        // "4héllo" is 7 bytes of UTF-8; the binary packet 301 bytes with its type.
        assert_eq!(&out[..3], &[0, 7, 0xff]);
        assert_eq!(&out[10..15], &[1, 3, 0, 1, 0xff]);
        let back = decode_binary(&Bytes::from(out)).unwrap();
        assert_eq!(
            back,
            [
                V3Packet::Text("4héllo".into()),
                V3Packet::Binary(data.into())
            ]
        );
    }

    #[test]
    fn empty_payloads() {
        let mut out = Vec::new();
        encode(&[], false, &mut out);
        assert_eq!(out, b"0:");
        assert_eq!(decode_text(""), Err(V3Error::Empty));
        assert_eq!(decode_binary(&Bytes::new()), Err(V3Error::Empty));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            "4",
            ":4",
            "x:4",
            "5:4",
            "2:4",
            "-1:4",
            "99999999999999999999999:4",
        ] {
            assert!(decode_text(bad).is_err(), "{bad}");
        }
        for bad in [
            &[0u8, 5, 0xff, b'4'][..],
            &[2, 1, 0xff, b'4'],
            &[0, 1],
            &[0, 0xff, b'4'],
            &[0, 0, 0xff],
            &[1, 1, 0xff, 3],
            &[0, 1, 0xff, 0xc3],
            &[0, 10, 0xff, b'4'],
        ] {
            assert!(
                decode_binary(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
