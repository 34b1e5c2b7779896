//! Payloads: arguments cross as JSON text plus binary buffers.
//!
//! Outgoing, the caller gives a JSON array (one element per argument) and an
//! array of [`oxsio_buf`]; wherever the JSON holds
//! `{"_placeholder":true,"num":i}` the buffer `i` is put in its place (the
//! Socket.IO convention). Buffers no placeholder names are ignored.
//! Incoming, an event renders its arguments the same way, once, on demand.

use std::borrow::Cow;

use bytes::Bytes;
use oxsio_core::{Args, Value};

use crate::boundary::bytes_arg;
use crate::error::{Error, Result, oxsio_result};

/// A borrowed byte buffer: `len` bytes at `data` (`data` may be NULL when
/// `len` is 0).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct oxsio_buf {
    /// First byte.
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

/// Kind of one argument (`oxsio_event_arg_kind`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_value_kind {
    /// JSON `null` (also: an index past the last argument).
    Null = 0,
    /// `true` or `false`.
    Bool = 1,
    /// A number.
    Number = 2,
    /// A string.
    String = 3,
    /// A binary buffer.
    Binary = 4,
    /// An array.
    Array = 5,
    /// An object.
    Object = 6,
}

pub(crate) fn kind_of(v: &Value) -> oxsio_value_kind {
    match v {
        Value::Null => oxsio_value_kind::Null,
        Value::Bool(_) => oxsio_value_kind::Bool,
        Value::Number(_) => oxsio_value_kind::Number,
        Value::String(_) => oxsio_value_kind::String,
        Value::Binary(_) => oxsio_value_kind::Binary,
        Value::Array(_) => oxsio_value_kind::Array,
        Value::Object(_) => oxsio_value_kind::Object,
    }
}

/// The borrowed buffers of a call.
pub(crate) fn buffers(bufs: *const oxsio_buf, count: usize) -> Result<Vec<Bytes>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if bufs.is_null() {
        return Err(Error::new(
            oxsio_result::NullArgument,
            "buffers is NULL with a non-zero count",
        ));
    }
    if count > 1 << 20 {
        return Err(Error::new(
            oxsio_result::InvalidArgument,
            "too many buffers",
        ));
    }
    // SAFETY: the caller passes `count` readable `oxsio_buf`s for the call.
    let list = unsafe { std::slice::from_raw_parts(bufs, count) };
    list.iter()
        .enumerate()
        .map(|(i, b)| {
            bytes_arg(b.data, b.len, &format!("buffers[{i}]")).map(Bytes::copy_from_slice)
        })
        .collect()
}

/// Parses any JSON value, replacing placeholders by buffers.
pub(crate) fn parse_value(json: &str, bufs: &[Bytes]) -> Result<Value> {
    let mut v: Value = serde_json::from_str(json)
        .map_err(|e| Error::new(oxsio_result::InvalidJson, format!("invalid JSON: {e}")))?;
    fill(&mut v, bufs)?;
    Ok(v)
}

/// Parses an argument list: a JSON array (NULL or empty text: no argument).
pub(crate) fn parse_args(json: Option<&str>, bufs: &[Bytes]) -> Result<Args> {
    let Some(json) = json.filter(|j| !j.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    match parse_value(json, bufs)? {
        Value::Array(a) => Ok(a),
        _ => Err(Error::new(
            oxsio_result::InvalidJson,
            "the arguments must be a JSON array (one element per argument)",
        )),
    }
}

fn fill(v: &mut Value, bufs: &[Bytes]) -> Result<()> {
    match v {
        Value::Array(a) => a.iter_mut().try_for_each(|x| fill(x, bufs)),
        Value::Object(o) => {
            if o.get("_placeholder") == Some(&Value::Bool(true)) {
                let i = o
                    .get("num")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        Error::new(
                            oxsio_result::InvalidJson,
                            "a placeholder has no valid \"num\"",
                        )
                    })?;
                let b = bufs.get(i).ok_or_else(|| {
                    Error::new(
                        oxsio_result::InvalidJson,
                        format!("placeholder {i} but only {} buffer(s)", bufs.len()),
                    )
                })?;
                *v = Value::Binary(b.clone());
                Ok(())
            } else {
                o.values_mut().try_for_each(|x| fill(x, bufs))
            }
        }
        _ => Ok(()),
    }
}

/// The arguments of an event, rendered as JSON with placeholders.
pub(crate) struct Rendered {
    /// The JSON array text, NUL-terminated (the NUL is not part of `len`).
    pub json: String,
    /// Byte range of each argument within `json`.
    pub ranges: Vec<(usize, usize)>,
    /// The buffers, in placeholder order.
    pub bins: Vec<Bytes>,
}

impl Rendered {
    pub(crate) fn new(args: &[Value]) -> Rendered {
        // Sized once: growing it (two or three reallocations per event) was
        // a visible part of the C path's cost per message.
        let mut json =
            String::with_capacity(2 + args.iter().map(|a| a.json_len_hint() + 1).sum::<usize>());
        let mut bins = Vec::new();
        let mut ranges = Vec::with_capacity(args.len());
        json.push('[');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let start = json.len();
            a.write_json(&mut json, &mut bins);
            ranges.push((start, json.len()));
        }
        json.push(']');
        let len = json.len();
        json.push('\0');
        json.truncate(len + 1);
        Rendered { json, ranges, bins }
    }

    /// The JSON text without its NUL.
    pub(crate) fn text(&self) -> &str {
        &self.json[..self.json.len() - 1]
    }
}

/// Plain JSON text of a value (buffers as arrays of byte numbers).
pub(crate) fn plain_json(v: &Value) -> String {
    v.to_json().to_string()
}

/// A NUL-terminated string whose pointer can be lent to C.
#[derive(Debug, Clone, Default)]
pub(crate) struct NulStr(Cow<'static, str>);

impl NulStr {
    pub(crate) fn new(s: &str) -> NulStr {
        // The common values need no allocation (an event is built per message).
        match s {
            "" => return NulStr(Cow::Borrowed("\0")),
            "/" => return NulStr(Cow::Borrowed("/\0")),
            _ => {}
        }
        let mut v = String::with_capacity(s.len() + 1);
        v.push_str(s);
        v.push('\0');
        NulStr(Cow::Owned(v))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0[..self.0.len().saturating_sub(1)]
    }

    pub(crate) fn ptr(&self) -> *const std::ffi::c_char {
        self.0.as_ptr().cast()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len().saturating_sub(1)
    }

    /// Lends the string to C: pointer into `out` (named `what` in the
    /// NULL-argument error), length into `out_len` when it is not NULL.
    pub(crate) fn lend(
        &self,
        out: *mut *const std::ffi::c_char,
        out_len: *mut usize,
        what: &str,
    ) -> Result<()> {
        crate::boundary::write_out(out, self.ptr(), what)?;
        crate::boundary::write_opt(out_len, self.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_round_trip() {
        let bufs = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"c")];
        let args = parse_args(
            Some(r#"[1,{"x":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]"#),
            &bufs,
        )
        .unwrap();
        assert_eq!(args[2], Value::Binary(Bytes::from_static(b"ab")));
        let r = Rendered::new(&args);
        assert_eq!(
            r.text(),
            r#"[1,{"x":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(
            r.bins,
            vec![Bytes::from_static(b"c"), Bytes::from_static(b"ab")]
        );
        assert_eq!(&r.text()[r.ranges[0].0..r.ranges[0].1], "1");
        assert!(parse_args(Some(r#"[{"_placeholder":true,"num":5}]"#), &bufs).is_err());
        assert!(parse_args(Some("{}"), &bufs).is_err());
        assert!(parse_args(Some("[1,"), &bufs).is_err());
        assert!(parse_args(None, &bufs).unwrap().is_empty());
    }
}
