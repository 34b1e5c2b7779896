//! The classic `@socket.io/redis-adapter` wire format: channel names,
//! message shapes, and the notepack-compatible msgpack codec. Pure: no I/O.

use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
use crate::{Args, Map, Value};

/// Request types of the classic protocol.
pub(crate) mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// Channel names for one namespace under a key prefix.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    /// `socket.io#<nsp>#`
    pub broadcast: String,
    /// `socket.io-request#<nsp>#`
    pub request: String,
    /// `socket.io-response#<nsp>#`
    pub response: String,
    /// `socket.io-response#<nsp>#<uid>#`
    pub response_own: String,
}

impl Channels {
    pub(crate) fn new(prefix: &str, nsp: &str, uid: &str) -> Channels {
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            response: format!("{prefix}-response#{nsp}#"),
            response_own: format!("{prefix}-response#{nsp}#{uid}#"),
        }
    }

    /// Where a broadcast goes: the room channel for exactly one room.
    pub(crate) fn for_broadcast(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

/// A random 6-character id (`uid2(6)`), never `"emitter"`.
pub(crate) fn uid2() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..6)
        .map(|_| ALPHABET[usize::from(rand::random::<u8>() & 63)] as char)
        .collect()
}

pub(crate) use crate::adapter::codec::{decode, from_msgpack, to_json, to_msgpack};

// ---- message shapes -----------------------------------------------------

/// An object from key/value pairs, in order.
pub(crate) fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

/// `{rooms, except}` (requests carry no flags, except type 7).
pub(crate) fn opts_value(opts: &BroadcastOptions, flags: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("rooms".into(), rooms_value(&opts.rooms));
    m.insert("except".into(), rooms_value(&opts.except));
    if let Some(f) = flags {
        m.insert("flags".into(), f);
    }
    Value::Object(m)
}

/// The flags object of a broadcast (`{}` when none, as Node sends).
pub(crate) fn flags_value(flags: &BroadcastFlags, timeout_ms: Option<u64>) -> Value {
    let mut m = Map::new();
    if flags.volatile {
        m.insert("volatile".into(), Value::Bool(true));
    }
    if let Some(t) = timeout_ms {
        m.insert("timeout".into(), Value::from(t));
    }
    Value::Object(m)
}

/// `{type: 2, data: [event, ...args], nsp}`.
pub(crate) fn packet_value(nsp: &str, event: &str, args: &Args) -> Value {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args.iter().cloned());
    obj([
        ("type", Value::from(2)),
        ("data", Value::Array(data)),
        ("nsp", Value::from(nsp)),
    ])
}

/// A broadcast: `[uid, packet, opts]`, msgpack.
pub(crate) fn encode_broadcast(
    uid: &str,
    nsp: &str,
    event: &str,
    args: &Args,
    opts: &BroadcastOptions,
) -> Vec<u8> {
    let msg = Value::Array(vec![
        Value::from(uid),
        packet_value(nsp, event, args),
        opts_value(opts, Some(flags_value(&opts.flags, None))),
    ]);
    to_msgpack(&msg)
}

/// Reads `{rooms, except, flags?}` back.
pub(crate) fn opts_from(v: &Value) -> BroadcastOptions {
    let rooms = |key: &str| -> Vec<Room> {
        v[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(Room::from).collect())
            .unwrap_or_default()
    };
    BroadcastOptions {
        rooms: rooms("rooms"),
        except: rooms("except"),
        flags: BroadcastFlags {
            volatile: v["flags"]["volatile"].as_bool().unwrap_or(false),
            local: false,
        },
    }
}

/// Splits `data: [event, ...args]` of a packet.
pub(crate) fn event_from(data: &Value) -> Option<(String, Args)> {
    let arr = data.as_array()?;
    let (first, rest) = arr.split_first()?;
    let name = match first {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((name, rest.to_vec()))
}

/// Splits `data: [event, ...args]` of a packet, taking it by value (the
/// arguments are moved, not cloned).
pub(crate) fn take_event(data: Value) -> Option<(String, Args)> {
    let Value::Array(mut arr) = data else {
        return None;
    };
    if arr.is_empty() {
        return None;
    }
    let name = match arr.remove(0) {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some((name, arr))
}

/// The uid at the head of a broadcast message (`[uid, packet, opts]`,
/// msgpack), read without decoding the rest: an array header (fixarray or
/// array 16/32) followed by a string (fixstr or str 8/16). `None` when the
/// message does not start that way (it is then decoded in full).
pub(crate) fn broadcast_uid(payload: &[u8]) -> Option<&[u8]> {
    let rest = match *payload.first()? {
        0x90..=0x9f => &payload[1..],
        0xdc => payload.get(3..)?,
        0xdd => payload.get(5..)?,
        _ => return None,
    };
    let (len, body) = match *rest.first()? {
        b @ 0xa0..=0xbf => (usize::from(b & 0x1f), &rest[1..]),
        0xd9 => (usize::from(*rest.get(1)?), rest.get(2..)?),
        0xda => (
            usize::from(u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?])),
            rest.get(3..)?,
        ),
        _ => return None,
    };
    body.get(..len)
}

/// Reads the subscriber count out of `PUBSUB NUMSUB <channel>` or
/// `SHARDNUMSUB` (an array `[channel, n]`, or a map once summed across
/// cluster nodes).
pub(super) fn numsub(v: &redis::Value) -> Option<usize> {
    use redis::Value as R;
    let int = |v: &R| match v {
        R::Int(n) => usize::try_from(*n).ok(),
        R::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        R::SimpleString(s) => s.parse().ok(),
        _ => None,
    };
    match v {
        R::Array(a) => a.get(1).and_then(int),
        R::Map(m) => m.first().and_then(|(_, n)| int(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_uid_of_a_broadcast_without_decoding_it() {
        let bytes = encode_broadcast(
            "UuHwrx",
            "/",
            "chat",
            &vec![Value::from("hello")],
            &BroadcastOptions::default(),
        );
        assert_eq!(broadcast_uid(&bytes), Some(&b"UuHwrx"[..]));
        // The emitter's uid, with a str 8 header and an array 16 header.
        let mut long = vec![0xdc, 0, 3, 0xd9, 7];
        long.extend_from_slice(b"emitter");
        assert_eq!(broadcast_uid(&long), Some(&b"emitter"[..]));
        for bad in [
            &[][..],
            &[0x93][..],
            &[0x93, 0xa6, b'U'][..],
            &[0x81, 0xa1, b'a'][..],
            b"{}",
        ] {
            assert_eq!(broadcast_uid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn takes_the_event_and_its_arguments_by_value() {
        let data = Value::Array(vec![Value::from("chat"), Value::from(1), Value::from("x")]);
        assert_eq!(take_event(data.clone()), event_from(&data),);
        assert_eq!(take_event(Value::Array(vec![])), None);
        assert_eq!(take_event(Value::Array(vec![Value::Null])), None);
        assert_eq!(take_event(Value::Null), None);
    }

    #[test]
    fn encodes_the_worked_example_byte_exact() {
        let opts = BroadcastOptions {
            rooms: vec![Room::from("room1")],
            ..Default::default()
        };
        let bytes = encode_broadcast(
            "UuHwrx",
            "/",
            "chat",
            &vec![Value::from("hello"), Value::from(42)],
            &opts,
        );
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "93a655754877727883a47479706502a46461746193a463686174a568656c6c6f2aa36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"
        );
    }

    #[test]
    fn numbers_follow_notepack() {
        let cases: [(Value, &str); 6] = [
            (Value::from(1000), "cd03e8"),
            (Value::from(-1), "ff"),
            (Value::from(-200), "d1ff38"),
            (Value::from(1.5), "cb3ff8000000000000"),
            (Value::from(2.0), "02"),
            (Value::from(300_000u64), "ce000493e0"),
        ];
        for (v, hex) in cases {
            let got: String = to_msgpack(&v).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "{v:?}");
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Every payload captured between two Node nodes (the capture is kept in
    /// core/tests/data/redis-adapter-vectors.md) decodes, and re-encodes to
    /// the identical bytes (msgpack) or text (JSON).
    #[test]
    fn every_captured_vector_round_trips_byte_exact() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/redis-adapter-vectors.md");
        let doc =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut checked = 0;
        for block in doc.split("```text\n").skip(1) {
            let Some(end) = block.find("```") else {
                continue;
            };
            let raw: String = block[..end].split_whitespace().collect();
            if raw.is_empty()
                || !raw.len().is_multiple_of(2)
                || !raw.chars().all(|c| c.is_ascii_hexdigit())
            {
                continue;
            }
            let bytes: Vec<u8> = (0..raw.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&raw[i..i + 2], 16).unwrap())
                .collect();
            let value = decode(&bytes).unwrap_or_else(|e| panic!("{raw}: {e}"));
            if bytes[0] == b'{' {
                assert_eq!(
                    String::from_utf8(to_json(&value)).unwrap(),
                    String::from_utf8(bytes.clone()).unwrap()
                );
            } else {
                assert_eq!(hex(&to_msgpack(&value)), raw);
            }
            checked += 1;
        }
        assert!(checked >= 50, "only {checked} vectors found");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"\xd9").is_err());
        assert!(decode(b"{not json").is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"\x93\xa6").is_err());
    }

    #[test]
    fn numsub_reads_arrays_and_maps() {
        use redis::Value as R;
        let arr = R::Array(vec![R::BulkString(b"socket.io#/#".to_vec()), R::Int(3)]);
        assert_eq!(numsub(&arr), Some(3));
        let map = R::Map(vec![(R::BulkString(b"socket.io#/#".to_vec()), R::Int(2))]);
        assert_eq!(numsub(&map), Some(2));
        assert_eq!(numsub(&R::Nil), None);
    }
}
