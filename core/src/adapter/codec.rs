//! The msgpack (notepack's encoding choices) and JSON codecs that the
//! cluster adapters share. Pure: no I/O.

use bytes::Bytes;
use serde_json::Number;

use crate::Value;

// ---- msgpack (notepack's choices) -------------------------------------

/// Our value as msgpack, encoded as notepack does: smallest integer type,
/// non-integral or huge numbers as float64, strings str8 from 32 bytes,
/// buffers as bin, maps in insertion order.
pub(crate) fn to_msgpack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &to_rmpv(v));
    out
}

fn to_rmpv(v: &Value) -> rmpv::Value {
    match v {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => number_to_rmpv(n),
        Value::String(s) => rmpv::Value::String(s.as_str().into()),
        Value::Binary(b) => rmpv::Value::Binary(b.to_vec()),
        Value::Array(a) => rmpv::Value::Array(a.iter().map(to_rmpv).collect()),
        Value::Object(o) => rmpv::Value::Map(
            o.iter()
                .map(|(k, v)| (rmpv::Value::String(k.as_str().into()), to_rmpv(v)))
                .collect(),
        ),
    }
}

fn number_to_rmpv(n: &Number) -> rmpv::Value {
    if let Some(u) = n.as_u64() {
        return rmpv::Value::from(u);
    }
    if let Some(i) = n.as_i64() {
        return rmpv::Value::from(i);
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    // JavaScript numbers: an integral value is an integer to notepack.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        if f >= 0.0 {
            return rmpv::Value::from(f as u64);
        }
        return rmpv::Value::from(f as i64);
    }
    rmpv::Value::F64(f)
}

/// Decodes msgpack into our value (bin → [`Value::Binary`]).
///
/// # Errors
/// Invalid or truncated msgpack.
pub(crate) fn from_msgpack(mut bytes: &[u8]) -> Result<Value, String> {
    let v = rmpv::decode::read_value(&mut bytes).map_err(|e| e.to_string())?;
    Ok(from_rmpv(v))
}

fn from_rmpv(v: rmpv::Value) -> Value {
    match v {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(s)) => Value::from(s),
            _ => Value::Null,
        },
        rmpv::Value::F32(f) => Value::from(f64::from(f)),
        rmpv::Value::F64(f) => Value::from(f),
        rmpv::Value::String(s) => Value::String(s.into_str().unwrap_or_default()),
        rmpv::Value::Binary(b) => Value::Binary(Bytes::from(b)),
        rmpv::Value::Array(a) => Value::Array(a.into_iter().map(from_rmpv).collect()),
        rmpv::Value::Map(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        rmpv::Value::String(s) => s.into_str().unwrap_or_default(),
                        other => other.to_string(),
                    };
                    (key, from_rmpv(v))
                })
                .collect(),
        ),
        rmpv::Value::Ext(..) => Value::Null,
    }
}

/// Decodes a message from any channel: JSON when it starts with `{`, else msgpack.
///
/// # Errors
/// Neither valid JSON nor valid msgpack.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, String> {
    if bytes.first() == Some(&b'{') {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    } else {
        from_msgpack(bytes)
    }
}

/// JSON text of a message (requests and responses without binary).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn to_json(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}
