//! Long-polling payloads: packets joined by the record separator `\x1e`;
//! binary messages as `b` + base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::engineio::DecodeError;

/// The record separator between packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// One record of a polling payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A text packet (type character included), to decode with
    /// [`Packet::decode`](super::engineio::Packet::decode).
    Text(&'a str),
    /// A binary message, decoded from base64.
    Binary(Bytes),
}

/// Splits a payload into records.
///
/// Each item is decoded lazily, so a bad record yields an error after the
/// good ones before it (the official server processes those, then closes).
/// The only bad record is an empty one: like the official parser, binary
/// records accept any base64 (see [`decode_base64`]).
///
/// ```
/// use oxsio::codec::polling::{decode, Record};
/// let recs: Vec<_> = decode("4hello\x1ebAQIDBA==").collect();
/// assert_eq!(recs[0], Ok(Record::Text("4hello")));
/// assert_eq!(recs[1], Ok(Record::Binary(vec![1u8, 2, 3, 4].into())));
/// ```
pub fn decode(payload: &str) -> impl Iterator<Item = Result<Record<'_>, DecodeError>> {
    payload.split(SEPARATOR).map(decode_record)
}

/// Decodes one record (or one WebSocket text frame: the official server
/// decodes those with the same function, so a text frame `bAQID` is a
/// binary message there too).
///
/// # Errors
/// [`DecodeError::Empty`] for an empty record.
pub fn decode_record(rec: &str) -> Result<Record<'_>, DecodeError> {
    match rec.strip_prefix('b') {
        Some(b64) => Ok(Record::Binary(decode_base64(b64))),
        None if rec.is_empty() => Err(DecodeError::Empty),
        None => Ok(Record::Text(rec)),
    }
}

/// Decodes base64 as Node.js's `Buffer.from(s, "base64")` does, which the
/// official server uses for `b` records: it never fails. Both the standard
/// and the URL-safe alphabet are accepted, other characters are skipped
/// (for a non-ASCII character, the low byte of each UTF-16 code unit is
/// what counts), decoding stops at the first `=`, and a final group of 2 or
/// 3 characters gives 1 or 2 bytes (a lone character gives none).
///
/// ```
/// use oxsio::codec::polling::decode_base64;
/// assert_eq!(decode_base64("AQIDBA=="), [1, 2, 3, 4][..]);
/// assert_eq!(decode_base64("AQIDBA"), [1, 2, 3, 4][..]);
/// assert_eq!(decode_base64("AQ ID\nBA==AQID"), [1, 2, 3, 4][..]);
/// assert_eq!(decode_base64("-_8"), [251, 255][..]);
/// assert!(decode_base64("!!!").is_empty());
/// ```
pub fn decode_base64(b64: &str) -> Bytes {
    // Canonical input (what every compliant peer sends) decodes the same
    // either way; the strict decoder is just faster.
    if let Ok(v) = STANDARD.decode(b64) {
        return Bytes::from(v);
    }
    let mut out = Vec::with_capacity(b64.len() / 4 * 3 + 2);
    let (mut acc, mut n) = (0u32, 0u8);
    for unit in b64.encode_utf16() {
        let c = unit as u8;
        let v = match c {
            b'=' => break,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, n) = (0, 0);
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    Bytes::from(out)
}

/// Appends one record to a payload being built, adding the separator.
pub fn push_text(payload: &mut String, packet: &str) {
    if !payload.is_empty() {
        payload.push(SEPARATOR);
    }
    payload.push_str(packet);
}

/// Appends one binary message (`b` + base64) to a payload being built.
pub fn push_binary(payload: &mut String, data: &[u8]) {
    if !payload.is_empty() {
        payload.push(SEPARATOR);
    }
    payload.push('b');
    STANDARD.encode_string(data, payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_mixed_payload() {
        let mut p = String::new();
        push_text(&mut p, "4hello");
        push_text(&mut p, "2");
        push_binary(&mut p, &[1, 2, 3, 4]);
        push_text(&mut p, "4world");
        assert_eq!(p, "4hello\x1e2\x1ebAQIDBA==\x1e4world");
        let recs: Vec<_> = decode(&p).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            recs,
            vec![
                Record::Text("4hello"),
                Record::Text("2"),
                Record::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                Record::Text("4world")
            ]
        );
    }

    /// Payload examples of the v4 spec and PROTOCOL.md.
    #[test]
    fn spec_payload_examples() {
        let cases: [(&str, Vec<Record<'_>>); 4] = [
            (
                "4hello\x1e2\x1e4world",
                vec![
                    Record::Text("4hello"),
                    Record::Text("2"),
                    Record::Text("4world"),
                ],
            ),
            (
                "4hello\x1ebAQIDBA==",
                vec![
                    Record::Text("4hello"),
                    Record::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                ],
            ),
            (
                "42[\"hello\"]\x1e42[\"world\"]",
                vec![Record::Text("42[\"hello\"]"), Record::Text("42[\"world\"]")],
            ),
            (
                "451-[\"message-back\",{\"_placeholder\":true,\"num\":0},\"x\"]\x1ebAQID",
                vec![
                    Record::Text("451-[\"message-back\",{\"_placeholder\":true,\"num\":0},\"x\"]"),
                    Record::Binary(Bytes::from_static(&[1, 2, 3])),
                ],
            ),
        ];
        for (payload, records) in cases {
            let got: Vec<_> = decode(payload).collect::<Result<_, _>>().unwrap();
            assert_eq!(got, records, "{payload:?}");
            let mut built = String::new();
            for r in &records {
                match r {
                    Record::Text(t) => push_text(&mut built, t),
                    Record::Binary(b) => push_binary(&mut built, b),
                }
            }
            assert_eq!(built, payload);
        }
        // A WebSocket text frame starting with `b` is binary in Node too.
        assert_eq!(
            decode_record("bAQID"),
            Ok(Record::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(decode_record(""), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_empty_records_only() {
        assert_eq!(decode("").next(), Some(Err(DecodeError::Empty)));
        let recs: Vec<_> = decode("4a\x1e\x1e4b").collect();
        assert_eq!(
            recs,
            vec![
                Ok(Record::Text("4a")),
                Err(DecodeError::Empty),
                Ok(Record::Text("4b"))
            ]
        );
        // Like Node's Buffer.from(s, "base64"): garbage decodes, never fails.
        let recs: Vec<_> = decode("4a\x1eb!!!").collect();
        assert_eq!(
            recs,
            vec![Ok(Record::Text("4a")), Ok(Record::Binary(Bytes::new()))]
        );
        assert_eq!(decode("b").next(), Some(Ok(Record::Binary(Bytes::new()))));
    }

    #[test]
    fn base64_is_as_lenient_as_node() {
        // Expected bytes printed by Node 20: [...Buffer.from(s, "base64")].
        let cases: [(&str, &[u8]); 26] = [
            ("", &[]),
            ("AQIDBA==", &[1, 2, 3, 4]),
            ("AQIDBA", &[1, 2, 3, 4]),
            ("AQIDBA=", &[1, 2, 3, 4]),
            ("AQID BA==", &[1, 2, 3, 4]),
            ("AQI\nDBA==", &[1, 2, 3, 4]),
            ("!!!", &[]),
            ("AQ==AQ==", &[1]),
            ("AQ=AQ", &[1]),
            ("A", &[]),
            ("AB", &[0]),
            ("ABC", &[0, 16]),
            ("AQIDB", &[1, 2, 3]),
            ("-_8", &[251, 255]),
            ("+/8", &[251, 255]),
            ("AQ==\0", &[1]),
            ("AQIDBA==AQID", &[1, 2, 3, 4]),
            ("====", &[]),
            ("=AQID", &[]),
            ("AR==", &[1]),
            ("A===", &[]),
            ("AQID=BA", &[1, 2, 3]),
            ("QUJD\u{e9}REVG", &[65, 66, 67, 68, 69, 70]),
            ("QUJD\u{141}\u{141}\u{141}\u{141}", &[65, 66, 67, 0, 0, 0]),
            ("QUJD\u{20ac}AAAA", &[65, 66, 67, 0, 0, 0]),
            ("QUJD\u{1F600}AAAA", &[65, 66, 67]),
        ];
        for (b64, bytes) in cases {
            assert_eq!(decode_base64(b64), bytes, "{b64:?}");
        }
    }
}
