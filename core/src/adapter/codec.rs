//! The msgpack (notepack's encoding choices, from [`crate::codec::msgpack`])
//! and JSON codecs that the cluster adapters share. Pure: no I/O.

use crate::Value;

// ---- msgpack (notepack's choices, shared with the msgpack parser) -------

pub(crate) use crate::codec::msgpack::{from_msgpack, to_msgpack};

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
