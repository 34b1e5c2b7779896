//! What each fuzz target does with one input. Shared by the libFuzzer
//! binaries in `fuzz_targets/` and by `core/tests/fuzz_corpus.rs`, which
//! replays the saved corpus through the same functions without cargo-fuzz.
//!
//! Every function must return normally for any input; the assertions are
//! properties the codecs promise (decode never panics, what the encoder
//! writes the decoder reads back, the reassembly state is consistent).

use bytes::Bytes;
use oxsio::RequestInfo;
use oxsio::Value;
use oxsio::codec::engineio::{self, OpenPacket};
use oxsio::codec::polling::{self, Record};
use oxsio::codec::socketio::{Decoder, PacketData};

/// The fuzz targets, by name (each has `fuzz_targets/<name>.rs` and a
/// corpus in `corpus/<name>/`).
pub const TARGETS: [&str; 9] = [
    "eio_packet",
    "polling_payload",
    "sio_packet",
    "binary_reassembly",
    "handshake",
    "ws_frame",
    "polling_v3",
    "permessage_deflate",
    "msgpack",
];

/// Runs target `name` on `data`.
///
/// # Panics
/// On an unknown target name, or when a property fails.
pub fn run(name: &str, data: &[u8]) {
    match name {
        "eio_packet" => eio_packet(data),
        "polling_payload" => polling_payload(data),
        "sio_packet" => sio_packet(data),
        "binary_reassembly" => binary_reassembly(data),
        "handshake" => handshake(data),
        "ws_frame" => ws_frame(data),
        "polling_v3" => polling_v3(data),
        "permessage_deflate" => permessage_deflate(data),
        "msgpack" => msgpack(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// One Engine.IO text packet (a WebSocket text frame): `Packet::decode`,
/// and the polling record decoder the WebSocket path also uses.
pub fn eio_packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = engineio::Packet::decode(text) {
        let encoded = p.encode();
        assert_eq!(
            engineio::Packet::decode(&encoded),
            Ok(p),
            "{text:?} re-encoded as {encoded:?}"
        );
    }
    let _ = polling::decode_record(text);
}

/// A polling payload (POST body): records split on `\x1e`, `b` records
/// base64-decoded leniently. Re-encoding the records of a valid payload
/// gives a payload that decodes to the same records.
pub fn polling_payload(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut records = Vec::new();
    let mut valid = true;
    for rec in polling::decode(text) {
        match rec {
            Ok(r) => {
                if let Record::Text(t) = &r {
                    let _ = engineio::Packet::decode(t);
                }
                records.push(r);
            }
            Err(_) => {
                valid = false;
                break;
            }
        }
    }
    if valid {
        let mut again = String::new();
        for r in &records {
            match r {
                Record::Text(t) => polling::push_text(&mut again, t),
                Record::Binary(b) => polling::push_binary(&mut again, b),
            }
        }
        let decoded: Vec<_> = polling::decode(&again).collect();
        let expected: Vec<_> = records.into_iter().map(Ok).collect();
        assert_eq!(decoded, expected, "{text:?} re-encoded as {again:?}");
    }
    let _ = polling::decode_base64(text);
}

/// One Socket.IO text packet (without the Engine.IO `4`): whatever decodes
/// re-encodes to text the decoder accepts, and encoding is idempotent.
pub fn sio_packet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut d = Decoder::default();
    match d.decode_text(text) {
        // Known finding (kept in core/tests/corpus/eio-empty-message.txt): a
        // CONNECT_ERROR without payload (`4`) decodes to `ConnectError(Null)`,
        // which encodes as `4null`, which the decoder (like Node's) rejects.
        Ok(Some(p)) if p.data == PacketData::ConnectError(Value::Null) => {}
        Ok(Some(p)) => {
            assert!(!d.is_reconstructing());
            let (encoded, attachments) = p.encode();
            let mut d2 = Decoder::new(usize::MAX);
            let mut again = d2.decode_text(&encoded);
            for a in attachments.iter() {
                if let Ok(None) = again {
                    again = d2.decode_binary(a.clone());
                }
            }
            let Ok(Some(again)) = again else {
                panic!("{text:?} re-encoded as {encoded:?} does not decode: {again:?}");
            };
            let (encoded2, attachments2) = again.encode();
            assert_eq!(encoded2, encoded, "encoding of {text:?} is not stable");
            assert_eq!(attachments2, attachments);
        }
        Ok(None) => assert!(d.is_reconstructing()),
        Err(_) => assert!(!d.is_reconstructing()),
    }
}

/// A sequence of Socket.IO messages fed to one [`Decoder`]: segments split
/// on `\x1e`; a segment starting with `b` is a binary attachment (its other
/// bytes raw), any other a text packet (an Engine.IO `4` prefix is dropped).
/// Errors do not stop the feed: the decoder must stay consistent anyway.
pub fn binary_reassembly(data: &[u8]) {
    let mut d = Decoder::default();
    for seg in data.split(|&b| b == 0x1e) {
        let r = match seg.split_first() {
            Some((b'b', rest)) => d.decode_binary(Bytes::copy_from_slice(rest)),
            _ => match std::str::from_utf8(seg) {
                Ok(t) => d.decode_text(t.strip_prefix('4').unwrap_or(t)),
                Err(_) => continue,
            },
        };
        match r {
            Ok(Some(p)) => {
                assert!(!d.is_reconstructing());
                let _ = p.encode();
            }
            Ok(None) => assert!(d.is_reconstructing()),
            Err(_) => {}
        }
    }
}

/// Handshake parsing on both sides: the client parses the open packet
/// (`0{...}` or bare JSON) into [`OpenPacket`]; the server reads query
/// parameters with [`RequestInfo::query_param`] from arbitrary query
/// strings (raw, and as the query of a parsed request URI).
pub fn handshake(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let json = text.strip_prefix('0').unwrap_or(text);
    if let Ok(open) = serde_json::from_str::<OpenPacket>(json) {
        let encoded = open.encode();
        let back: OpenPacket =
            serde_json::from_str(&encoded[1..]).expect("an encoded open packet parses");
        assert_eq!(back, open);
    }
    let mut info = RequestInfo {
        headers: http::HeaderMap::new(),
        query: text.to_owned(),
        remote_addr: None,
        secure: false,
        uri: http::Uri::default(),
    };
    query_params(&info, text);
    if let Ok(uri) = format!("/socket.io/?{text}").parse::<http::Uri>() {
        info.query = uri.query().unwrap_or("").to_owned();
        info.uri = uri;
        query_params(&info, text);
    }
}

fn query_params(info: &RequestInfo, text: &str) {
    for key in ["EIO", "transport", "sid", "t"] {
        let _ = info.query_param(key);
    }
    // A key taken from the input itself, so that matches happen.
    let key = text.split(['=', '&']).next().unwrap_or("");
    if let Some(v) = info.query_param(key) {
        assert!(
            v.len() <= text.len() * 3,
            "decoded value longer than possible"
        );
    }
}

/// A stream of client WebSocket frames, read as the server reads them:
/// `parse_header` frame after frame (a small `maxPayload` from the first
/// byte, so both limits are reached), `unmask`, `parse_close` on close
/// payloads. No panic; a parsed header lies within the buffer and the
/// limit, and its minimal re-encoding parses to the same frame.
pub fn ws_frame(data: &[u8]) {
    use oxsio::codec::websocket::{Opcode, parse_close, parse_header, unmask};
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let max = 1usize << (first % 20);
    while let Ok(Some(f)) = parse_header(rest, max) {
        assert!((2..=14).contains(&f.header_len) && f.header_len <= rest.len());
        assert!(f.len <= max);
        let mask = f
            .mask
            .unwrap_or_else(|| panic!("a client frame without a mask parsed"));
        // The same header, written minimally, parses to the same frame.
        let bits = match f.opcode {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        };
        let mut h = vec![u8::from(f.fin) << 7 | bits];
        match f.len {
            n @ 0..=125 => h.push(0x80 | n as u8),
            n @ 126..=65_535 => {
                h.push(0x80 | 126);
                h.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                h.push(0x80 | 127);
                h.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        h.extend_from_slice(&mask);
        let again = parse_header(&h, max).ok().flatten();
        assert!(
            again.is_some_and(|g| g.fin == f.fin
                && g.opcode == f.opcode
                && g.len == f.len
                && g.mask == f.mask),
            "{f:?} re-encoded as {h:?}"
        );
        let end = f.header_len + f.len;
        let Some(payload) = rest.get(f.header_len..end) else {
            return; // incomplete: the reader waits for more bytes
        };
        let mut payload = payload.to_vec();
        unmask(&mut payload, mask);
        if f.opcode == Opcode::Close {
            let _ = parse_close(&payload);
        }
        // Unmasking twice restores the bytes.
        let mut twice = payload.clone();
        unmask(&mut twice, mask);
        unmask(&mut twice, mask);
        assert_eq!(twice, payload);
        rest = &rest[end..];
    }
}

/// A protocol 3 polling body (Socket.IO 2.x clients), as text and as the
/// binary framing: `codec::polling_v3::decode_text` / `decode_binary`.
pub fn polling_v3(data: &[u8]) {
    use oxsio::codec::polling_v3::{V3Packet, V3Record, decode_binary, decode_text, encode};
    let roundtrip = |packets: Vec<V3Packet>| {
        let records: Vec<V3Record<'_>> = packets
            .iter()
            .map(|p| match p {
                V3Packet::Text(t) => V3Record::Text(t),
                V3Packet::Binary(b) => V3Record::Binary(b),
            })
            .collect();
        for binary in [false, true] {
            let mut out = Vec::new();
            let as_binary = encode(&records, binary, &mut out);
            let again = if as_binary {
                decode_binary(&Bytes::from(out))
            } else {
                let text = String::from_utf8(out).expect("a text payload is UTF-8");
                if packets.is_empty() {
                    continue; // "0:" stands for no packet
                }
                decode_text(&text)
            };
            // Empty text packets are dropped by the decoder ("0:").
            let kept: Vec<&V3Packet> = packets
                .iter()
                .filter(|p| !matches!(p, V3Packet::Text(t) if t.is_empty()))
                .collect();
            let again = again.unwrap_or_else(|e| panic!("{packets:?} re-encoded: {e}"));
            assert_eq!(
                again.iter().collect::<Vec<_>>(),
                kept,
                "round trip of {packets:?}"
            );
        }
    };
    if let Ok(packets) = decode_binary(&Bytes::copy_from_slice(data)) {
        roundtrip(packets);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(packets) = decode_text(text)
    {
        roundtrip(packets);
    }
}

/// permessage-deflate: the server's negotiation of an offer header and the
/// inflation of a message under a limit (from the first byte);
/// `codec::deflate::{negotiate, check_answer, decompress, compress}`.
pub fn permessage_deflate(data: &[u8]) {
    use oxsio::codec::deflate::{check_answer, compress, decompress, negotiate};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if let Ok(header) = std::str::from_utf8(rest) {
        let _ = negotiate(header);
        let _ = check_answer(Some(header));
    }
    let limit = 1usize << (first % 18);
    if let Ok(out) = decompress(rest, limit) {
        assert!(out.len() <= limit, "inflated past the limit");
        // What inflates re-compresses and inflates to the same bytes.
        let mut again = Vec::new();
        compress(&out, &mut again);
        assert_eq!(decompress(&again, limit).ok(), Some(out));
    }
}
/// One binary message for the msgpack parser: the first byte picks the
/// depth limit (0..=254, and the 512 cap for 255), the rest is the message,
/// decoded by `codec::msgpack::Decoder` as the server does.
///
/// Properties: no panic; a decoded packet re-encodes to msgpack that
/// decodes under the same limit to the same packet, and re-encodes to the
/// same bytes. "The same" compares numbers by value: an integral float64
/// such as `176.0` is written as the integer `176`, as notepack writes
/// every integral JavaScript number.
pub fn msgpack(data: &[u8]) {
    use oxsio::codec::msgpack;
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let depth = if first == 255 {
        512
    } else {
        usize::from(first)
    };
    let mut d = msgpack::Decoder::new(depth);
    let Ok(Some(p)) = d.decode_binary(Bytes::copy_from_slice(rest)) else {
        return;
    };
    let encoded = msgpack::encode(&p);
    let again = msgpack::decode(&encoded, depth)
        .unwrap_or_else(|e| panic!("{p:?} re-encoded as {encoded:02x?} does not decode: {e}"));
    assert_eq!(
        msgpack::encode(&again),
        encoded,
        "encoding of {rest:02x?} is not stable"
    );
    assert!(
        same_packet(&p, &again),
        "round trip of {rest:02x?}: {p:?} became {again:?}"
    );
}

/// Equal, numbers compared by value (`176.0` is `176`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        }
        _ => a == b,
    }
}

fn same_args(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
}

fn same_packet(a: &oxsio::codec::socketio::Packet, b: &oxsio::codec::socketio::Packet) -> bool {
    a.nsp == b.nsp
        && match (&a.data, &b.data) {
            (
                PacketData::Event {
                    event: e1,
                    args: a1,
                    id: i1,
                },
                PacketData::Event {
                    event: e2,
                    args: a2,
                    id: i2,
                },
            ) => e1 == e2 && i1 == i2 && same_args(a1, a2),
            (PacketData::Ack { args: a1, id: i1 }, PacketData::Ack { args: a2, id: i2 }) => {
                i1 == i2 && same_args(a1, a2)
            }
            (PacketData::Connect(None), PacketData::Connect(None)) => true,
            (PacketData::Connect(Some(x)), PacketData::Connect(Some(y))) => same_value(x, y),
            (PacketData::Disconnect, PacketData::Disconnect) => true,
            (PacketData::ConnectError(x), PacketData::ConnectError(y)) => same_value(x, y),
            _ => false,
        }
}
