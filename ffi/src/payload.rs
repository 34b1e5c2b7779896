//! Payloads: arguments cross as JSON text plus binary buffers.
//!
//! Outgoing, the caller gives a JSON array (one element per argument) and an
//! array of [`oxsio_buf`]; wherever the JSON holds
//! `{"_placeholder":true,"num":i}` the buffer `i` is put in its place (the
//! Socket.IO convention). Buffers no placeholder names are ignored.
//! Incoming, an event renders its arguments the same way, once, on demand.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use oxsio_core::{Args, JsonArgs, Value};

use crate::boundary::bytes_arg;
use crate::dispatch::lock;
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
    // core's parser: `JSON.parse` semantics, and no serde visitor per value.
    let mut v =
        Value::from_json(json).map_err(|e| Error::new(oxsio_result::InvalidJson, e.to_string()))?;
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
    /// Byte range of each argument within `json` when there are several
    /// (one argument spans the text between the brackets: no allocation);
    /// found on demand in a text received as written.
    ranges: OnceLock<Vec<(usize, usize)>>,
    /// `json` is the text the peer sent, not rendered from values.
    as_sent: bool,
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
        let several = args.len() > 1;
        let mut ranges = Vec::with_capacity(if several { args.len() } else { 0 });
        json.push('[');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let start = json.len();
            a.write_json(&mut json, &mut bins);
            if several {
                ranges.push((start, json.len()));
            }
        }
        json.push(']');
        let len = json.len();
        json.push('\0');
        json.truncate(len + 1);
        let ranges = if several {
            OnceLock::from(ranges)
        } else {
            OnceLock::new()
        };
        Rendered {
            json,
            ranges,
            as_sent: false,
            bins,
        }
    }

    /// The arguments' text as received (`inner`: the elements, checked as
    /// JSON), bracketed: no value is built or printed.
    pub(crate) fn as_sent(inner: &str) -> Rendered {
        let mut json = String::with_capacity(inner.len() + 3);
        json.push('[');
        json.push_str(inner);
        json.push_str("]\0");
        Rendered {
            json,
            ranges: OnceLock::new(),
            as_sent: true,
            bins: Vec::new(),
        }
    }

    /// The text is the peer's, as received.
    pub(crate) fn is_as_sent(&self) -> bool {
        self.as_sent
    }

    /// The byte range of argument `i` (which exists) in the text.
    pub(crate) fn range(&self, i: usize) -> (usize, usize) {
        if self.as_sent {
            let ranges = self.ranges.get_or_init(|| {
                let text = self.text();
                JsonArgs::new(text)
                    .map(|a| {
                        a.elements()
                            .iter()
                            .map(|e| {
                                let start = e.as_ptr() as usize - text.as_ptr() as usize;
                                (start, start + e.len())
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            });
            return ranges.get(i).copied().unwrap_or((1, 1));
        }
        match self.ranges.get().and_then(|r| r.get(i)) {
            Some(&r) => r,
            None => (1, self.text().len() - 1),
        }
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
#[derive(Debug, Clone)]
pub(crate) struct NulStr(Repr);

/// The text, NUL included.
#[derive(Debug, Clone)]
enum Repr {
    Static(&'static str),
    Owned(String),
    Shared(Arc<str>),
}

impl Default for NulStr {
    fn default() -> NulStr {
        NulStr(Repr::Static("\0"))
    }
}

impl NulStr {
    pub(crate) fn new(s: &str) -> NulStr {
        // The common values need no allocation (an event is built per message).
        match s {
            "" => return NulStr::default(),
            "/" => return NulStr(Repr::Static("/\0")),
            _ => {}
        }
        let mut v = String::with_capacity(s.len() + 1);
        v.push_str(s);
        v.push('\0');
        NulStr(Repr::Owned(v))
    }

    /// A copy whose clones share one buffer.
    pub(crate) fn shared(s: &str) -> NulStr {
        match NulStr::new(s) {
            NulStr(Repr::Owned(v)) => NulStr(Repr::Shared(v.into())),
            n => n,
        }
    }

    fn full(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Owned(s) => s,
            Repr::Shared(s) => s,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        let f = self.full();
        &f[..f.len().saturating_sub(1)]
    }

    pub(crate) fn ptr(&self) -> *const std::ffi::c_char {
        self.full().as_ptr().cast()
    }

    pub(crate) fn len(&self) -> usize {
        self.full().len().saturating_sub(1)
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

/// The event names a server saw last, shared by the events that carry them:
/// an event is built per message and most apps use a handful of names, so
/// this saves an allocation (and a free on the host's thread) per event.
#[derive(Default)]
pub(crate) struct NameCache(Mutex<Vec<NulStr>>);

impl NameCache {
    /// Names kept; a new name replaces the oldest.
    const KEEP: usize = 16;
    /// Longer names are not kept (rare, and would cost memory).
    const LONGEST: usize = 64;

    pub(crate) fn get(&self, name: &str) -> NulStr {
        if name.len() > Self::LONGEST {
            return NulStr::new(name);
        }
        let mut names = lock(&self.0);
        if let Some(n) = names.iter().find(|n| n.as_str() == name) {
            return n.clone();
        }
        let n = NulStr::shared(name);
        if names.len() == Self::KEEP {
            names.remove(0);
        }
        names.push(n.clone());
        n
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
        let (a, b) = r.range(0);
        assert_eq!(&r.text()[a..b], "1");
        let (a, b) = r.range(2);
        assert_eq!(&r.text()[a..b], r#"{"_placeholder":true,"num":1}"#);
        let one = Rendered::new(&[Value::from("x")]);
        assert_eq!(one.range(0), (1, 4));
        assert!(parse_args(Some(r#"[{"_placeholder":true,"num":5}]"#), &bufs).is_err());
        assert!(parse_args(Some("{}"), &bufs).is_err());
        assert!(parse_args(Some("[1,"), &bufs).is_err());
        assert!(parse_args(None, &bufs).unwrap().is_empty());
    }

    #[test]
    fn names_are_shared_and_bounded() {
        let c = NameCache::default();
        let a = c.get("echo");
        let b = c.get("echo");
        assert_eq!((a.as_str(), a.len()), ("echo", 4));
        assert_eq!(a.ptr(), b.ptr());
        for i in 0..NameCache::KEEP {
            c.get(&format!("n{i}"));
        }
        let again = c.get("echo");
        assert_ne!(again.ptr(), a.ptr(), "the oldest name was replaced");
        assert_eq!(lock(&c.0).len(), NameCache::KEEP);
        let long = "x".repeat(NameCache::LONGEST + 1);
        assert_eq!(c.get(&long).as_str(), long);
        assert_eq!(NulStr::shared("/").as_str(), "/");
        // SAFETY: ptr() points at len() bytes followed by a NUL.
        assert_eq!(unsafe { *a.ptr().add(4) }, 0);
    }
}
