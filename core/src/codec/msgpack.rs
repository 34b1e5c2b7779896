//! Socket.IO packets as MessagePack, compatible with
//! `socket.io-msgpack-parser` 3.x (which encodes with `notepack.io`) and
//! python-socketio's `serializer="msgpack"`.
//!
//! Each packet is one msgpack map `{type, data, nsp, id?}` sent as one
//! binary Engine.IO message: no attachments, buffers are msgpack `bin`
//! values inside the map. Pure functions, no I/O.
//!
//! Decoding follows the JavaScript decoder's checks (`checkPacket`) and
//! makes these choices where the Rust [`Value`] cannot hold what msgpack
//! can say:
//!
//! - `type` is an integer `0`–`4` (an integral float counts, as
//!   `Number.isInteger` says); the binary types `5` and `6` are never sent
//!   by this parser and are refused.
//! - `nsp` must be a string; `id`, when present, an integer `0`..`2^64`.
//! - `data`: CONNECT takes none (absent or nil, as python-socketio sends)
//!   or a map; DISCONNECT none; EVENT a non-empty array whose first
//!   element, the event name, is a string (not a reserved name) or a number;
//!   ACK an array; CONNECT_ERROR a string or a map.
//! - Other keys of the packet map (the JS client's `options`) are ignored;
//!   a repeated key takes the last value, as in JavaScript (each one must
//!   be valid).
//! - Map keys inside `data` must be strings or integers (an integer key
//!   becomes its decimal text, as JavaScript object keys do); any other key
//!   type refuses the packet.
//! - NaN and ±Infinity decode as `null` (what the JSON parser would carry).
//! - The msgpack timestamp extension (type -1, notepack's `Date`) becomes
//!   the ISO-8601 string `Date.toJSON()` gives (`2024-01-02T03:04:05.678Z`);
//!   notepack's legacy `undefined` (fixext 1, type 0, which notepack 3
//!   writes for the `data` of a CONNECT without auth) is an absent key in
//!   the packet map and in any map, and `null` in an array (as
//!   `JSON.stringify` treats it); any other extension type refuses the
//!   packet.
//! - A string that is not UTF-8, trailing bytes after the map, or truncated
//!   msgpack refuse the packet.
//! - Containers nest at most `max_depth` deep inside `data`, counted as the
//!   JSON parser counts them (the `data` array is level 1), so
//!   `max_json_depth` means the same for both parsers.
//!
//! A refused packet is a [`ParseError`]; the server closes the connection
//! on it, as for a malformed JSON packet.
//!
//! Values are read with `rmp`'s readers straight into [`Value`] (no
//! intermediate tree: rmpv's cost about twice the JSON decoder's on small
//! packets); keys the parser ignores are checked by `rmpv`.

use bytes::Bytes;
use rmp::Marker;

use super::json;
use super::socketio::{MAX_JSON_DEPTH, Packet, PacketData, ParseError, RESERVED_EVENTS};
use super::value::{Map, Value};

// ---- encoding -------------------------------------------------------------

// Writing to a `Vec<u8>` cannot fail: the results of rmp's writers are
// dropped below for that reason.

/// Appends `v` as msgpack, encoded as notepack does: the smallest integer
/// type, non-integral or non-finite numbers as float64, strings as
/// fixstr/str8/16/32 by length, buffers as bin, maps in insertion order.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Binary(b) => {
            let _ = rmp::encode::write_bin(out, b);
        }
        Value::Array(a) => {
            let _ = rmp::encode::write_array_len(out, len32(a.len()));
            for x in a {
                write_value(out, x);
            }
        }
        Value::Object(o) => {
            let _ = rmp::encode::write_map_len(out, len32(o.len()));
            for (k, x) in o {
                let _ = rmp::encode::write_str(out, k);
                write_value(out, x);
            }
        }
    }
}

/// Lengths beyond `u32` cannot be written in msgpack (nor in notepack,
/// which throws); no message that large passes any payload limit.
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    if let Some(u) = n.as_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // A JavaScript number: an integral value is an integer to notepack.
        if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            let _ = rmp::encode::write_uint(out, f as u64);
        } else if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            let _ = rmp::encode::write_sint(out, f as i64);
        } else {
            let _ = rmp::encode::write_f64(out, f);
        }
    }
}

/// `v` as msgpack bytes (see [`write_value`]).
pub fn to_msgpack(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.json_len_hint());
    write_value(&mut out, v);
    out
}

/// Encodes an event (`event` is `Some`) or an ack (`None`) from borrowed
/// parts: `{type: 2|3, data: [event?, ...args], nsp, id?}`.
pub fn encode_event_into(
    out: &mut Vec<u8>,
    nsp: &str,
    event: Option<&str>,
    args: &[Value],
    id: Option<u64>,
) {
    out.reserve(
        24 + nsp.len()
            + event.map_or(0, str::len)
            + args.iter().map(|a| a.json_len_hint() + 1).sum::<usize>(),
    );
    let _ = rmp::encode::write_map_len(out, if id.is_some() { 4 } else { 3 });
    let _ = rmp::encode::write_str(out, "type");
    let _ = rmp::encode::write_uint(out, if event.is_some() { 2 } else { 3 });
    let _ = rmp::encode::write_str(out, "data");
    let _ = rmp::encode::write_array_len(out, len32(args.len() + usize::from(event.is_some())));
    if let Some(event) = event {
        let _ = rmp::encode::write_str(out, event);
    }
    for a in args {
        write_value(out, a);
    }
    let _ = rmp::encode::write_str(out, "nsp");
    let _ = rmp::encode::write_str(out, nsp);
    if let Some(id) = id {
        let _ = rmp::encode::write_str(out, "id");
        let _ = rmp::encode::write_uint(out, id);
    }
}

/// Encodes any packet as one msgpack map.
///
/// ```
/// use oxsio::codec::{msgpack, socketio::Packet};
/// use oxsio::Value;
/// let bytes = msgpack::encode(&Packet::event("/", "hi", vec![Value::from(1)], None));
/// // {"type":2,"data":["hi",1],"nsp":"/"}
/// assert_eq!(bytes, b"\x83\xa4type\x02\xa4data\x92\xa2hi\x01\xa3nsp\xa1/");
/// ```
pub fn encode(packet: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, packet);
    out
}

/// Appends `packet` as one msgpack map to `out`.
pub fn encode_into(out: &mut Vec<u8>, packet: &Packet) {
    let nsp = if packet.nsp.is_empty() {
        "/"
    } else {
        &packet.nsp
    };
    let (ty, data): (u64, Option<&Value>) = match &packet.data {
        PacketData::Event { event, args, id } => {
            return encode_event_into(out, nsp, Some(event), args, *id);
        }
        PacketData::Ack { args, id } => return encode_event_into(out, nsp, None, args, *id),
        PacketData::Connect(v) => (0, v.as_ref()),
        PacketData::Disconnect => (1, None),
        PacketData::ConnectError(v) => (4, (!v.is_null()).then_some(v)),
    };
    let _ = rmp::encode::write_map_len(out, if data.is_some() { 3 } else { 2 });
    let _ = rmp::encode::write_str(out, "type");
    let _ = rmp::encode::write_uint(out, ty);
    if let Some(d) = data {
        let _ = rmp::encode::write_str(out, "data");
        write_value(out, d);
    }
    let _ = rmp::encode::write_str(out, "nsp");
    let _ = rmp::encode::write_str(out, nsp);
}

// ---- decoding -------------------------------------------------------------

/// Decodes one packet from the bytes of a binary Engine.IO message,
/// accepting containers nested up to `max_depth` inside `data` (at most
/// [`MAX_JSON_DEPTH`]).
///
/// ```
/// use oxsio::codec::msgpack;
/// use oxsio::codec::socketio::PacketData;
/// let p = msgpack::decode(b"\x83\xa4type\x02\xa4data\x92\xa2hi\x01\xa3nsp\xa1/", 128).unwrap();
/// assert!(matches!(p.data, PacketData::Event { ref event, .. } if event == "hi"));
/// assert!(msgpack::decode(b"\x83\xa4type", 128).is_err());
/// ```
///
/// # Errors
/// [`ParseError::InvalidMsgPack`] for bytes that are not one msgpack value,
/// else the [`ParseError`] of the rule the packet breaks (see the module
/// documentation).
pub fn decode(bytes: &[u8], max_depth: usize) -> Result<Packet, ParseError> {
    let max_depth = max_depth.min(super::socketio::MAX_JSON_DEPTH);
    let mut rd = bytes;
    match rd.first().map(|b| Marker::from_u8(*b)) {
        Some(Marker::FixMap(_) | Marker::Map16 | Marker::Map32) => {}
        Some(_) => return Err(ParseError::UnknownType),
        None => return Err(ParseError::InvalidMsgPack("empty message".into())),
    }
    let fields = rmp::decode::read_map_len(&mut rd).map_err(invalid)?;
    // Values are read straight into `Value`s with rmp's readers; keys this
    // parser ignores (the JS client's `options`) are checked by rmpv.
    let (mut ty, mut data, mut nsp, mut id) = (None, None, None, None);
    for _ in 0..fields {
        let key: Option<&[u8]> = match rd.first().map(|b| Marker::from_u8(*b)) {
            Some(Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32) => {
                let len = rmp::decode::read_str_len(&mut rd).map_err(invalid)?;
                Some(take(&mut rd, len)?)
            }
            _ => {
                skip(&mut rd)?;
                None
            }
        };
        // notepack writes `undefined` (`data` of a CONNECT without auth) as
        // its legacy extension: the key is as good as absent.
        if rd.starts_with(UNDEFINED) {
            rd = &rd[UNDEFINED.len()..];
            continue;
        }
        match key {
            Some(b"type") => ty = Some(read_value(&mut rd, 0, MAX_JSON_DEPTH)?),
            Some(b"data") => data = Some(read_value(&mut rd, 0, max_depth)?),
            Some(b"nsp") => nsp = Some(read_value(&mut rd, 0, MAX_JSON_DEPTH)?),
            Some(b"id") => id = Some(read_value(&mut rd, 0, MAX_JSON_DEPTH)?),
            _ => skip(&mut rd)?,
        }
    }
    if !rd.is_empty() {
        return Err(ParseError::InvalidMsgPack(format!(
            "{} trailing bytes",
            rd.len()
        )));
    }
    let ty = match ty.as_ref().and_then(integer) {
        Some(Int::U(t)) if t <= 4 => t,
        _ => return Err(ParseError::UnknownType),
    };
    let nsp = match nsp {
        // The empty namespace is the main one, as for the JSON parser.
        Some(Value::String(s)) if s.is_empty() => "/".to_owned(),
        Some(Value::String(s)) => s,
        _ => return Err(ParseError::InvalidNamespace),
    };
    let id = match id {
        None => None,
        Some(v) => match integer(&v) {
            Some(Int::U(id)) => Some(id),
            _ => return Err(ParseError::IllegalId),
        },
    };
    let data = match data {
        None | Some(Value::Null) if ty <= 1 => None,
        None => return Err(ParseError::InvalidPayload),
        Some(v) => Some(v),
    };
    let data = match (ty, data) {
        (0, None) => PacketData::Connect(None),
        (0, Some(v @ Value::Object(_))) => PacketData::Connect(Some(v)),
        (1, None) => PacketData::Disconnect,
        (2, Some(Value::Array(mut args))) if !args.is_empty() => {
            let event = match args.remove(0) {
                Value::String(s) if !RESERVED_EVENTS.contains(&s.as_str()) => s,
                // JavaScript emits the number; listeners see `String(n)`.
                Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => u.to_string(),
                    (_, Some(i)) => i.to_string(),
                    _ => json::f64_to_string(n.as_f64().unwrap_or(0.0)),
                },
                _ => return Err(ParseError::InvalidPayload),
            };
            PacketData::Event { event, args, id }
        }
        (3, Some(Value::Array(args))) => PacketData::Ack { args, id },
        (4, Some(v @ (Value::Object(_) | Value::String(_)))) => PacketData::ConnectError(v),
        _ => return Err(ParseError::InvalidPayload),
    };
    Ok(Packet { nsp, data })
}

/// Most elements reserved ahead for an array or map (more grow as read).
const PREALLOC: usize = 16;

/// notepack's legacy `undefined`: fixext 1, type 0, data 0.
const UNDEFINED: &[u8] = &[0xd4, 0x00, 0x00];

/// rmpv's recursion bound for the values read through it (about two levels
/// per container): finite whatever the input, above any `data` limit.
const RMPV_DEPTH: usize = 2 * super::socketio::MAX_JSON_DEPTH + 12;

fn invalid(e: impl std::fmt::Display) -> ParseError {
    ParseError::InvalidMsgPack(e.to_string())
}

/// The next `len` bytes.
fn take<'a>(rd: &mut &'a [u8], len: u32) -> Result<&'a [u8], ParseError> {
    let len = len as usize;
    if rd.len() < len {
        return Err(ParseError::InvalidMsgPack("truncated".into()));
    }
    let (head, tail) = rd.split_at(len);
    *rd = tail;
    Ok(head)
}

/// Reads past one value that this parser ignores, checked as msgpack by
/// rmpv.
fn skip(rd: &mut &[u8]) -> Result<(), ParseError> {
    rmpv::decode::read_value_ref_with_max_depth(rd, RMPV_DEPTH)
        .map(drop)
        .map_err(invalid)
}

/// One value (of `data`, or of the envelope), `depth` containers deep
/// already.
fn read_value(rd: &mut &[u8], depth: usize, max_depth: usize) -> Result<Value, ParseError> {
    use rmp::decode as d;
    let Some(&first) = rd.first() else {
        return Err(ParseError::InvalidMsgPack("truncated".into()));
    };
    Ok(match Marker::from_u8(first) {
        Marker::Null => {
            *rd = &rd[1..];
            Value::Null
        }
        Marker::True | Marker::False => Value::Bool(d::read_bool(rd).map_err(invalid)?),
        Marker::FixPos(_) | Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            Value::from(d::read_int::<u64, _>(rd).map_err(invalid)?)
        }
        Marker::FixNeg(_) | Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            Value::from(d::read_int::<i64, _>(rd).map_err(invalid)?)
        }
        // NaN and infinities have no JSON form: null, as JSON.stringify says.
        Marker::F32 => Value::from(f64::from(d::read_f32(rd).map_err(invalid)?)),
        Marker::F64 => Value::from(d::read_f64(rd).map_err(invalid)?),
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let len = d::read_str_len(rd).map_err(invalid)?;
            let s = std::str::from_utf8(take(rd, len)?).map_err(|_| ParseError::InvalidPayload)?;
            Value::String(s.to_owned())
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let len = d::read_bin_len(rd).map_err(invalid)?;
            Value::Binary(Bytes::copy_from_slice(take(rd, len)?))
        }
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
            let depth = enter(depth, max_depth)?;
            let len = d::read_array_len(rd).map_err(invalid)? as usize;
            // The length is the peer's claim: reserve a little and grow
            // with what actually arrives, or nested claims would each
            // reserve up to the whole message (depth × size × 40 B).
            let mut out = Vec::with_capacity(len.min(PREALLOC));
            for _ in 0..len {
                out.push(read_value(rd, depth, max_depth)?);
            }
            Value::Array(out)
        }
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
            let depth = enter(depth, max_depth)?;
            let len = d::read_map_len(rd).map_err(invalid)? as usize;
            let mut out = Map::with_capacity(len.min(PREALLOC));
            for _ in 0..len {
                let key = read_key(rd)?;
                // `{k: undefined}` has no `k` once JSON-encoded either.
                if rd.starts_with(UNDEFINED) {
                    *rd = &rd[UNDEFINED.len()..];
                    continue;
                }
                out.insert(key, read_value(rd, depth, max_depth)?);
            }
            Value::Object(out)
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            let meta = d::read_ext_meta(rd).map_err(invalid)?;
            match (meta.typeid, take(rd, meta.size)?) {
                (-1, body) => timestamp(body).ok_or(ParseError::InvalidPayload)?,
                (0, [0]) => Value::Null,
                _ => return Err(ParseError::InvalidPayload),
            }
        }
        Marker::Reserved => return Err(ParseError::InvalidMsgPack("reserved marker".into())),
    })
}

/// A map key inside `data`: a string, or an integer as its decimal text.
fn read_key(rd: &mut &[u8]) -> Result<String, ParseError> {
    use rmp::decode as d;
    let Some(&first) = rd.first() else {
        return Err(ParseError::InvalidMsgPack("truncated".into()));
    };
    Ok(match Marker::from_u8(first) {
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let len = d::read_str_len(rd).map_err(invalid)?;
            std::str::from_utf8(take(rd, len)?)
                .map_err(|_| ParseError::InvalidPayload)?
                .to_owned()
        }
        Marker::FixPos(_) | Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            d::read_int::<u64, _>(rd).map_err(invalid)?.to_string()
        }
        Marker::FixNeg(_) | Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            d::read_int::<i64, _>(rd).map_err(invalid)?.to_string()
        }
        _ => return Err(ParseError::InvalidPayload),
    })
}

enum Int {
    U(u64),
    Negative,
}

/// An integer as `Number.isInteger` sees it (integral floats included).
fn integer(v: &Value) -> Option<Int> {
    let Value::Number(n) = v else {
        return None;
    };
    if let Some(u) = n.as_u64() {
        return Some(Int::U(u));
    }
    if n.as_i64().is_some() {
        return Some(Int::Negative);
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f.fract() != 0.0 {
        None
    } else if f < 0.0 {
        Some(Int::Negative)
    } else if f < 18_446_744_073_709_551_616.0 {
        Some(Int::U(f as u64))
    } else {
        // Integral, but beyond what an ack id can be here.
        Some(Int::Negative)
    }
}

fn enter(depth: usize, max_depth: usize) -> Result<usize, ParseError> {
    if depth >= max_depth {
        Err(ParseError::InvalidPayload)
    } else {
        Ok(depth + 1)
    }
}

/// The msgpack timestamp extension as `Date.prototype.toJSON` writes it
/// (milliseconds, UTC), or `null` for a date JavaScript cannot hold.
fn timestamp(body: &[u8]) -> Option<Value> {
    let (secs, nanos): (i64, u32) = match body.len() {
        4 => (i64::from(u32::from_be_bytes(body.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(body.try_into().ok()?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(body.get(4..12)?.try_into().ok()?),
            u32::from_be_bytes(body.get(0..4)?.try_into().ok()?),
        ),
        _ => return None,
    };
    if nanos >= 1_000_000_000 {
        return None;
    }
    // JavaScript dates span ±8.64e15 ms around the epoch.
    const MAX_MS: i128 = 8_640_000_000_000_000;
    let ms = i128::from(secs) * 1000 + i128::from(nanos / 1_000_000);
    if !(-MAX_MS..=MAX_MS).contains(&ms) {
        return Some(Value::Null);
    }
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y < 0 {
        format!("-{:06}", -y)
    } else {
        format!("+{y:06}")
    };
    Some(Value::String(format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Decodes any msgpack value leniently, for trusted peers (cluster
/// messages between nodes): bin → [`Value::Binary`], extensions → `null`,
/// non-string keys as their text.
///
/// # Errors
/// Invalid or truncated msgpack.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn from_msgpack(mut bytes: &[u8]) -> Result<Value, String> {
    let v = rmpv::decode::read_value_ref(&mut bytes).map_err(|e| e.to_string())?;
    Ok(from_rmpv_lenient(v))
}

#[cfg(any(feature = "redis", feature = "postgres"))]
fn from_rmpv_lenient(v: rmpv::ValueRef<'_>) -> Value {
    use rmpv::ValueRef;
    match v {
        ValueRef::Nil | ValueRef::Ext(..) => Value::Null,
        ValueRef::Boolean(b) => Value::Bool(b),
        ValueRef::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(s)) => Value::from(s),
            _ => Value::Null,
        },
        ValueRef::F32(f) => Value::from(f64::from(f)),
        ValueRef::F64(f) => Value::from(f),
        ValueRef::String(s) => Value::String(s.into_str().unwrap_or_default().to_owned()),
        ValueRef::Binary(b) => Value::Binary(Bytes::copy_from_slice(b)),
        ValueRef::Array(a) => Value::Array(a.into_iter().map(from_rmpv_lenient).collect()),
        ValueRef::Map(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        ValueRef::String(s) => s.into_str().unwrap_or_default().to_owned(),
                        other => other.to_string(),
                    };
                    (key, from_rmpv_lenient(v))
                })
                .collect(),
        ),
    }
}

/// Decodes packets of one connection for the msgpack parser: every packet
/// is one binary message, so there is no reassembly state.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_depth: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(super::socketio::DEFAULT_MAX_JSON_DEPTH)
    }
}

impl Decoder {
    /// A decoder accepting `data` nested up to `max_depth` containers.
    pub fn new(max_depth: usize) -> Self {
        Decoder {
            max_depth: max_depth.min(super::socketio::MAX_JSON_DEPTH),
        }
    }

    /// The nesting limit.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// A text message: never valid for this parser.
    ///
    /// # Errors
    /// Always [`ParseError::TextForMsgPack`].
    pub fn decode_text(&mut self, _text: &str) -> Result<Option<Packet>, ParseError> {
        Err(ParseError::TextForMsgPack)
    }

    /// One binary message: one whole packet.
    ///
    /// # Errors
    /// See [`decode`].
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        decode(&data, self.max_depth).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_what_the_js_client_sends() {
        // socket.io-client 4.8 + socket.io-msgpack-parser 3.0.2:
        // {type:2, data:["echo",1,Buffer[1]], options:{compress:true}, nsp:"/"}
        let bytes = unhex(
            "84a47479706502a46461746193a46563686f01c40101a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12f",
        );
        let p = decode(&bytes, 128).unwrap();
        assert_eq!(
            p,
            Packet::event(
                "/",
                "echo",
                vec![Value::from(1), Value::from(vec![1u8])],
                None
            )
        );
        // {type:0, data:undefined, nsp:"/"}: a CONNECT without auth.
        let p = decode(&unhex("83a47479706500a464617461d40000a36e7370a12f"), 128).unwrap();
        assert_eq!(p.data, PacketData::Connect(None));
    }

    /// Builds msgpack with rmpv (independent of our writer).
    fn mp(v: rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    fn s(x: &str) -> rmpv::Value {
        rmpv::Value::from(x)
    }

    fn packet(fields: Vec<(&str, rmpv::Value)>) -> Vec<u8> {
        mp(rmpv::Value::Map(
            fields.into_iter().map(|(k, v)| (s(k), v)).collect(),
        ))
    }

    fn event(data: rmpv::Value) -> Vec<u8> {
        packet(vec![("type", 2.into()), ("data", data), ("nsp", s("/"))])
    }

    fn arr(items: Vec<rmpv::Value>) -> rmpv::Value {
        rmpv::Value::Array(items)
    }

    #[test]
    fn every_packet_round_trips() {
        let mut obj = Map::new();
        obj.insert("sid".into(), Value::from("abc"));
        obj.insert("n".into(), Value::from(-3));
        let packets = [
            Packet::event("/chat", "x", vec![Value::from(1.5), Value::Null], Some(7)),
            Packet::event("/", "bin", vec![Value::from(vec![0u8, 255])], None),
            Packet::ack("/", vec![Value::from("ok"), Value::Object(obj.clone())], 0),
            Packet {
                nsp: "/".into(),
                data: PacketData::Connect(Some(Value::Object(obj.clone()))),
            },
            Packet {
                nsp: "/a".into(),
                data: PacketData::Connect(None),
            },
            Packet {
                nsp: "/a".into(),
                data: PacketData::Disconnect,
            },
            Packet {
                nsp: "/".into(),
                data: PacketData::ConnectError(Value::Object(obj)),
            },
            Packet {
                nsp: "/".into(),
                data: PacketData::ConnectError(Value::from("nope")),
            },
        ];
        for p in packets {
            assert_eq!(decode(&encode(&p), 128).unwrap(), p);
        }
    }

    #[test]
    fn encodes_as_notepack_does() {
        // node -e 'require("notepack.io").encode({type:3,data:["a",300,-200,1.5,
        //   Buffer.from([1])],nsp:"/x",id:70000})'
        let p = Packet::ack(
            "/x",
            vec![
                Value::from("a"),
                Value::from(300),
                Value::from(-200),
                Value::from(1.5),
                Value::from(vec![1u8]),
            ],
            70_000,
        );
        let hex: String = encode(&p).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "84a47479706503a46461746195a161cd012cd1ff38cb3ff8000000000000c40101a36e7370a22f78a26964ce00011170"
        );
    }

    #[test]
    fn envelope_rules_follow_check_packet() {
        let ok = |b: Vec<u8>| decode(&b, 128).unwrap();
        let err = |b: Vec<u8>| decode(&b, 128).unwrap_err();
        // An integral float type and id count (Number.isInteger).
        let p = ok(packet(vec![
            ("type", rmpv::Value::F64(2.0)),
            ("data", arr(vec![s("e")])),
            ("nsp", s("/")),
            ("id", rmpv::Value::F32(5.0)),
        ]));
        assert_eq!(p, Packet::event("/", "e", vec![], Some(5)));
        // Types outside 0..=4 (the binary types included), or missing.
        for t in [5, 6, 7] {
            assert_eq!(
                err(packet(vec![
                    ("type", t.into()),
                    ("data", arr(vec![s("e")])),
                    ("nsp", s("/"))
                ])),
                ParseError::UnknownType
            );
        }
        assert_eq!(err(packet(vec![("nsp", s("/"))])), ParseError::UnknownType);
        assert_eq!(err(mp(arr(vec![2.into()]))), ParseError::UnknownType);
        // nsp must be a string.
        assert_eq!(
            err(packet(vec![("type", 1.into()), ("nsp", 1.into())])),
            ParseError::InvalidNamespace
        );
        assert_eq!(
            err(packet(vec![("type", 1.into())])),
            ParseError::InvalidNamespace
        );
        // id: a non-negative integer, never nil, negative or fractional.
        for id in [rmpv::Value::Nil, (-1).into(), rmpv::Value::F64(1.5), s("1")] {
            assert_eq!(
                err(packet(vec![
                    ("type", 3.into()),
                    ("data", arr(vec![])),
                    ("nsp", s("/")),
                    ("id", id)
                ])),
                ParseError::IllegalId
            );
        }
        // data per type.
        let bad = [
            (0, arr(vec![])),
            (1, arr(vec![])),
            (2, arr(vec![])),
            (2, arr(vec![rmpv::Value::Nil])),
            (2, arr(vec![s("disconnect")])),
            (2, s("e")),
            (3, rmpv::Value::Nil),
            (4, rmpv::Value::Nil),
            (4, arr(vec![])),
        ];
        for (t, d) in bad {
            assert_eq!(
                err(packet(vec![
                    ("type", t.into()),
                    ("data", d),
                    ("nsp", s("/"))
                ])),
                ParseError::InvalidPayload,
                "type {t}"
            );
        }
        // EVENT and ACK need data; CONNECT and DISCONNECT take nil as none.
        assert_eq!(
            err(packet(vec![("type", 2.into()), ("nsp", s("/"))])),
            ParseError::InvalidPayload
        );
        let p = ok(packet(vec![
            ("type", 0.into()),
            ("data", rmpv::Value::Nil),
            ("nsp", s("/")),
        ]));
        assert_eq!(p.data, PacketData::Connect(None));
        let p = ok(packet(vec![
            ("type", 1.into()),
            ("data", rmpv::Value::Nil),
            ("nsp", s("/a")),
        ]));
        assert_eq!(p.data, PacketData::Disconnect);
        // A numeric event name is its text; unknown keys are ignored; the
        // last of two equal keys wins.
        let p = ok(packet(vec![
            ("type", 2.into()),
            ("data", arr(vec![42.into(), s("x")])),
            (
                "options",
                rmpv::Value::Map(vec![(s("compress"), true.into())]),
            ),
            ("nsp", s("/a")),
            ("nsp", s("/b")),
        ]));
        assert_eq!(p, Packet::event("/b", "42", vec![Value::from("x")], None));
    }

    #[test]
    fn value_choices() {
        let args = |b: Vec<u8>| match decode(&b, 128) {
            Ok(Packet {
                data: PacketData::Event { args, .. },
                ..
            }) => Ok(args),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        // NaN and infinities are null; f32 widens.
        let got = args(event(arr(vec![
            s("e"),
            rmpv::Value::F64(f64::NAN),
            rmpv::Value::F64(f64::INFINITY),
            rmpv::Value::F32(0.5),
            rmpv::Value::from(u64::MAX),
            rmpv::Value::from(i64::MIN),
        ])))
        .unwrap();
        assert_eq!(
            got,
            vec![
                Value::Null,
                Value::Null,
                Value::from(0.5),
                Value::from(u64::MAX),
                Value::from(i64::MIN)
            ]
        );
        // Integer keys become their text; other key types refuse the packet.
        let got = args(event(arr(vec![
            s("e"),
            rmpv::Value::Map(vec![(7.into(), s("seven")), ((-1).into(), s("neg"))]),
        ])))
        .unwrap();
        assert_eq!(got[0]["7"], Value::from("seven"));
        assert_eq!(got[0]["-1"], Value::from("neg"));
        for key in [
            rmpv::Value::Nil,
            true.into(),
            rmpv::Value::F64(1.5),
            rmpv::Value::Binary(vec![1]),
            arr(vec![]),
        ] {
            assert_eq!(
                args(event(arr(vec![
                    s("e"),
                    rmpv::Value::Map(vec![(key.clone(), 1.into())])
                ]))),
                Err(ParseError::InvalidPayload),
                "{key:?}"
            );
        }
        // Timestamps are Date.toJSON() strings; `undefined` is null in an
        // array and absent in a map; other extensions refuse the packet.
        let ts32 = rmpv::Value::Ext(-1, 1_700_000_000u32.to_be_bytes().to_vec());
        let ns = 5_000_000u64; // 5 ms
        let ts64 = rmpv::Value::Ext(-1, ((ns << 34) | 1_700_000_000).to_be_bytes().to_vec());
        let mut b96 = 0u32.to_be_bytes().to_vec();
        b96.extend_from_slice(&(-86_400i64).to_be_bytes());
        let ts96 = rmpv::Value::Ext(-1, b96);
        let undef = rmpv::Value::Ext(0, vec![0]);
        let got = args(event(arr(vec![
            s("e"),
            ts32,
            ts64,
            ts96,
            undef.clone(),
            rmpv::Value::Map(vec![(s("a"), undef), (s("b"), 1.into())]),
        ])))
        .unwrap();
        assert_eq!(got[0], Value::from("2023-11-14T22:13:20.000Z"));
        assert_eq!(got[1], Value::from("2023-11-14T22:13:20.005Z"));
        assert_eq!(got[2], Value::from("1969-12-31T00:00:00.000Z"));
        assert_eq!(got[3], Value::Null);
        assert_eq!(got[4].as_object().unwrap().len(), 1);
        for ext in [
            rmpv::Value::Ext(1, vec![0]),
            rmpv::Value::Ext(-1, vec![0; 5]),
            rmpv::Value::Ext(0, vec![1]),
        ] {
            assert_eq!(
                args(event(arr(vec![s("e"), ext.clone()]))),
                Err(ParseError::InvalidPayload),
                "{ext:?}"
            );
        }
        // Strings must be UTF-8.
        let mut bad = event(arr(vec![s("e"), s("ab")]));
        let n = bad.len();
        bad[n - 7] = 0xff; // inside "ab", before the nsp key
        assert!(decode(&bad, 128).is_err());
    }

    #[test]
    fn depth_is_counted_as_the_json_parser_counts_it() {
        // data = [name, [[...[]...]]]: the data array is level 1.
        let nested = |levels: usize| {
            let mut v = arr(vec![]);
            for _ in 1..levels {
                v = arr(vec![v]);
            }
            event(arr(vec![s("e"), v]))
        };
        assert!(decode(&nested(9), 10).is_ok());
        assert_eq!(
            decode(&nested(10), 10).unwrap_err(),
            ParseError::InvalidPayload
        );
        assert!(decode(&nested(127), 128).is_ok());
        assert!(decode(&nested(128), 128).is_err());
        // The cap holds whatever is asked; deep input never overflows the stack.
        assert!(decode(&nested(511), 100_000).is_ok());
        assert!(decode(&nested(512), 100_000).is_err());
        // [2-key map … data: [[[[…]]]]] 100 000 deep, written by hand (a
        // value that deep cannot even be built and dropped recursively).
        let mut deep = event(arr(vec![s("e")]));
        let at = deep.len() - 6; // before the nsp key
        deep[at - 3] = 0x92; // data: ["e", <deep>]
        let tail = deep.split_off(at);
        deep.extend(std::iter::repeat_n(0x91, 100_000));
        deep.push(0x90);
        deep.extend(tail);
        assert!(decode(&deep, 100_000).is_err());
        let mut deep_maps = [0x81, 0xa1, b'k'].repeat(50_000);
        deep_maps.push(0xc0);
        assert!(decode(&deep_maps, 512).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = event(arr(vec![s("e")]));
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode(&trailing, 128),
            Err(ParseError::InvalidMsgPack(_))
        ));
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], 128).is_err(), "{cut}");
        }
        // A header claiming 2^32 - 1 elements with none following.
        assert!(decode(b"\xdd\xff\xff\xff\xff", 128).is_err());
        assert!(decode(b"\xdf\xff\xff\xff\xff", 128).is_err());
        assert!(decode(b"\xc1", 128).is_err());
        let mut d = Decoder::default();
        assert_eq!(d.decode_text("2[\"e\"]"), Err(ParseError::TextForMsgPack));
    }
}
