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
///
/// ```
/// use oxsio::codec::polling::{decode, Record};
/// let recs: Vec<_> = decode("4hello\x1ebAQIDBA==").collect();
/// assert_eq!(recs[0], Ok(Record::Text("4hello")));
/// assert_eq!(recs[1], Ok(Record::Binary(vec![1u8, 2, 3, 4].into())));
/// ```
pub fn decode(payload: &str) -> impl Iterator<Item = Result<Record<'_>, DecodeError>> {
    payload
        .split(SEPARATOR)
        .map(|rec| match rec.strip_prefix('b') {
            Some(b64) => STANDARD
                .decode(b64)
                .map(|v| Record::Binary(Bytes::from(v)))
                .map_err(|_| DecodeError::Base64),
            None if rec.is_empty() => Err(DecodeError::Empty),
            None => Ok(Record::Text(rec)),
        })
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

    #[test]
    fn rejects_empty_and_bad_base64() {
        assert_eq!(decode("").next(), Some(Err(DecodeError::Empty)));
        let recs: Vec<_> = decode("4a\x1eb!!!").collect();
        assert_eq!(recs, vec![Ok(Record::Text("4a")), Err(DecodeError::Base64)]);
        assert_eq!(decode("b").next(), Some(Ok(Record::Binary(Bytes::new()))));
    }
}
