//! [`Value`]: any JSON value with binary buffers nested anywhere.
//!
//! Socket.IO sends binary buffers out of band: the JSON text carries
//! `{"_placeholder":true,"num":i}` and the buffers follow as attachments.
//! Users never see placeholders: they build and read a [`Value`] tree where
//! buffers sit where they belong, and the codec swaps them in and out.

use std::fmt;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;

/// Map type of [`Value::Object`]: keeps insertion order, as JavaScript does.
pub type Map = IndexMap<String, Value>;

/// A text [`Value::from_json`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}")]
pub struct JsonError {
    /// Byte offset where the text stopped being valid JSON.
    pub offset: usize,
}

/// Event arguments given as the text of a JSON array, checked once and then
/// sent as written: no [`Value`] is built and the text is copied into the
/// packet (see [`Socket::emit_json`](crate::Socket::emit_json)). For hosts
/// that already hold JSON (the C API, a relay). Binary needs [`Value`]s; an
/// object shaped like a placeholder is sent as a plain object.
///
/// ```
/// use oxsio::JsonArgs;
/// let a = JsonArgs::new(r#" ["hi", {"n": 1}] "#).unwrap();
/// assert_eq!(a.inner(), r#""hi", {"n": 1}"#);
/// assert_eq!(a.to_args().len(), 2);
/// assert!(JsonArgs::new("{}").is_err()); // not an array
/// ```
#[derive(Debug, Clone, Copy)]
pub struct JsonArgs<'a> {
    text: &'a str,
    /// Byte range of the elements within `text`.
    start: usize,
    end: usize,
    placeholder_key: bool,
}

impl<'a> JsonArgs<'a> {
    /// Checks `text`: a JSON array as `JSON.parse` accepts it.
    ///
    /// # Errors
    /// [`JsonError`] where the text stops being JSON or is not an array.
    pub fn new(text: &'a str) -> Result<JsonArgs<'a>, JsonError> {
        let r = super::json::validate_array(text).map_err(|offset| JsonError { offset })?;
        Ok(JsonArgs {
            text,
            start: r.inner.start,
            end: r.inner.end,
            placeholder_key: r.placeholder_key,
        })
    }

    /// Elements `range` of `text`, a JSON array already checked (the
    /// arguments after an event's name in a received packet).
    pub(crate) fn from_checked(
        text: &'a str,
        range: std::ops::Range<usize>,
        placeholder_key: bool,
    ) -> JsonArgs<'a> {
        JsonArgs {
            text,
            start: range.start,
            end: range.end,
            placeholder_key,
        }
    }

    /// The elements' text between the brackets, trimmed (`""` for `[]`).
    pub fn inner(&self) -> &'a str {
        &self.text[self.start..self.end]
    }

    /// True when some object in the arguments has a `_placeholder` key:
    /// the shape of a binary placeholder, which this text cannot fill (a
    /// host that supports binary sends such arguments as [`Value`]s).
    pub fn has_placeholder_key(&self) -> bool {
        self.placeholder_key
    }

    /// True for an empty array.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The arguments as values (parsed now).
    pub fn to_args(&self) -> Args {
        // The text was checked: parsing cannot fail.
        super::json::parse_elements(self.inner()).unwrap_or_default()
    }

    /// Each argument's text, in order (`"hi"` and `{"n": 1}` for
    /// `["hi", {"n": 1}]`).
    ///
    /// ```
    /// let a = oxsio::JsonArgs::new(r#"[ "hi" , {"n": [1, 2]} ]"#).unwrap();
    /// assert_eq!(a.elements(), vec![r#""hi""#, r#"{"n": [1, 2]}"#]);
    /// ```
    pub fn elements(&self) -> Vec<&'a str> {
        let inner = self.inner();
        super::json::element_ranges(inner)
            .into_iter()
            .map(|r| &inner[r])
            .collect()
    }
}

/// A JSON value that may also hold binary buffers anywhere in the tree.
///
/// ```
/// use oxsio::Value;
/// let v = Value::from(serde_json::json!({"name": "ada"}));
/// let mut obj = v.clone();
/// obj.as_object_mut().unwrap().insert("avatar".into(), Value::from(vec![1u8, 2, 3]));
/// assert!(obj.has_binary());
/// assert_eq!(obj["name"], Value::from("ada"));
/// ```
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// JSON `null`.
    #[default]
    Null,
    /// JSON boolean.
    Bool(bool),
    /// JSON number (integers kept exact).
    Number(Number),
    /// JSON string.
    String(String),
    /// A binary buffer (sent as an attachment).
    Binary(Bytes),
    /// JSON array.
    Array(Vec<Value>),
    /// JSON object, in insertion order.
    Object(Map),
}

static NULL: Value = Value::Null;

/// Where [`Value::write_json_with`] puts binary buffers.
enum Buffers<'a> {
    /// Numbered placeholders; the buffers become attachments.
    Placeholders(&'a mut Vec<Bytes>),
    /// Inline, as `JSON.stringify` prints a Node.js `Buffer`.
    Inline,
}

impl Value {
    /// A cheap guess of this value's JSON length (attachments as placeholders),
    /// for sizing an output buffer once; escapes and long numbers may exceed it.
    ///
    /// ```
    /// let v = oxsio::Value::from("hi");
    /// assert!(v.json_len_hint() >= v.to_json().to_string().len());
    /// ```
    pub fn json_len_hint(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Binary(_) => 26,
            Value::Array(a) => 2 + a.iter().map(|v| v.json_len_hint() + 1).sum::<usize>(),
            Value::Object(o) => {
                2 + o
                    .iter()
                    .map(|(k, v)| k.len() + 4 + v.json_len_hint())
                    .sum::<usize>()
            }
        }
    }

    /// True if a binary buffer sits anywhere in this value.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(o) => o.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The buffer, if this is a binary buffer.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Mutable entries, if this is an object.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Parses a JSON text exactly as `JSON.parse` does (no binary: a
    /// `{"_placeholder":true,...}` object stays an object). Values JSON
    /// cannot hold in a [`Value`] take their `JSON.stringify` form: `1e400`
    /// becomes `null`, a lone surrogate escape U+FFFD.
    ///
    /// ```
    /// use oxsio::Value;
    /// let v = Value::from_json(r#"["hi", {"n": 1}]"#).unwrap();
    /// assert_eq!(v.as_array().map(Vec::len), Some(2));
    /// assert_eq!(Value::from_json("[1,").unwrap_err().offset, 3);
    /// ```
    ///
    /// # Errors
    /// [`JsonError`] with the byte offset where the text stopped being JSON.
    pub fn from_json(text: &str) -> Result<Value, JsonError> {
        super::json::parse_at(text).map_err(|offset| JsonError { offset })
    }

    /// Converts any serializable value (binary fields serialized with
    /// `serde_bytes`-style byte sequences become [`Value::Binary`]).
    ///
    /// # Errors
    /// Fails if `T`'s `Serialize` implementation fails or produces a map with
    /// non-string keys.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
        serde_json::to_value(value).map(Value::from)
    }

    /// Deserializes into any `T` (buffers appear as arrays of bytes).
    ///
    /// # Errors
    /// Fails if the value does not have the shape `T` expects.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.to_json())
    }

    /// Converts to a plain JSON value; buffers become arrays of byte numbers.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Number(n.clone()),
            Value::String(s) => J::String(s.clone()),
            Value::Binary(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(o) => {
                J::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Compact JSON text (as `JSON.stringify`); buffers are written as
    /// placeholders numbered in order and pushed onto `attachments`.
    pub fn write_json(&self, out: &mut String, attachments: &mut Vec<Bytes>) {
        self.write_json_with(out, &mut Buffers::Placeholders(attachments));
    }

    /// Compact JSON text with buffers inline as Node.js prints a `Buffer`
    /// (`{"type":"Buffer","data":[1,2]}`): the official encoder only
    /// extracts attachments from EVENT and ACK packets.
    pub(crate) fn write_json_inline(&self, out: &mut String) {
        self.write_json_with(out, &mut Buffers::Inline);
    }

    fn write_json_with(&self, out: &mut String, buffers: &mut Buffers<'_>) {
        use std::fmt::Write;
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => write_number(out, n),
            Value::String(s) => write_str(out, s),
            Value::Binary(b) => match buffers {
                Buffers::Placeholders(att) => {
                    let _ = write!(out, "{{\"_placeholder\":true,\"num\":{}}}", att.len());
                    att.push(b.clone());
                }
                Buffers::Inline => {
                    out.push_str("{\"type\":\"Buffer\",\"data\":[");
                    for (i, x) in b.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{x}");
                    }
                    out.push_str("]}");
                }
            },
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json_with(out, buffers);
                }
                out.push(']');
            }
            Value::Object(o) => {
                out.push('{');
                let mut first = true;
                let mut member = |k: &str, v: &Value, out: &mut String| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_str(out, k);
                    out.push(':');
                    v.write_json_with(out, buffers);
                };
                // JavaScript objects list integer-like keys ("array
                // indices") first, in numeric order, then the others in
                // insertion order; JSON.stringify and the official
                // parser's placeholder numbering follow that order.
                if o.keys().any(|k| array_index(k).is_some()) {
                    let mut idx: Vec<(u32, &str, &Value)> = o
                        .iter()
                        .filter_map(|(k, v)| array_index(k).map(|i| (i, k.as_str(), v)))
                        .collect();
                    idx.sort_unstable_by_key(|e| e.0);
                    for (_, k, v) in idx {
                        member(k, v, out);
                    }
                    for (k, v) in o.iter().filter(|(k, _)| array_index(k).is_none()) {
                        member(k, v, out);
                    }
                } else {
                    for (k, v) in o {
                        member(k, v, out);
                    }
                }
                out.push('}');
            }
        }
    }

    /// Replaces every placeholder object with the matching attachment.
    ///
    /// Follows the official `reconstructPacket`: an object whose
    /// `_placeholder` is `true` is replaced when `num` is a number with
    /// `0 <= num < attachments.len()`; a fractional `num` in that range
    /// selects nothing (JavaScript's `undefined`: `null` in an array, the
    /// member removed from an object, as `JSON.stringify` shows it).
    ///
    /// # Errors
    /// A placeholder whose `num` is missing, not a number, or out of range
    /// (the official parser's "illegal attachments").
    pub(crate) fn fill_placeholders(&mut self, attachments: &[Bytes]) -> Result<(), ()> {
        if let Some(slot) = self.placeholder(attachments)? {
            *self = slot.map_or(Value::Null, |b| Value::Binary(b.clone()));
            return Ok(());
        }
        match self {
            Value::Array(a) => a
                .iter_mut()
                .try_for_each(|v| v.fill_placeholders(attachments)),
            Value::Object(o) => {
                let mut undefined = Vec::new();
                for (k, v) in o.iter_mut() {
                    match v.placeholder(attachments)? {
                        Some(Some(b)) => *v = Value::Binary(b.clone()),
                        Some(None) => undefined.push(k.clone()),
                        None => v.fill_placeholders(attachments)?,
                    }
                }
                for k in undefined {
                    o.shift_remove(&k);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `None` if this is not a placeholder; `Some(None)` for a placeholder
    /// selecting nothing (fractional index); `Some(Some(buffer))` otherwise.
    fn placeholder<'b>(&self, attachments: &'b [Bytes]) -> Result<Option<Option<&'b Bytes>>, ()> {
        let Value::Object(o) = self else {
            return Ok(None);
        };
        if o.get("_placeholder") != Some(&Value::Bool(true)) {
            return Ok(None);
        }
        let num = o.get("num").and_then(Value::as_f64).ok_or(())?;
        if !(num >= 0.0 && num < attachments.len() as f64) {
            return Err(());
        }
        if num.fract() != 0.0 {
            return Ok(Some(None));
        }
        Ok(Some(attachments.get(num as usize)))
    }
}

/// The index if `k` is a JavaScript array index: a canonical decimal
/// integer below 2^32 - 1.
fn array_index(k: &str) -> Option<u32> {
    let b = k.as_bytes();
    match b {
        [b'0'] => Some(0),
        [b'1'..=b'9', rest @ ..] if rest.len() < 10 && rest.iter().all(u8::is_ascii_digit) => k
            .parse::<u64>()
            .ok()
            .filter(|&n| n < u64::from(u32::MAX))
            .map(|n| n as u32),
        _ => None,
    }
}

fn write_number(out: &mut String, n: &Number) {
    use std::fmt::Write;
    // Integers (kept exact, even beyond 2^53) print as they are; floats
    // as JavaScript prints them (`1` for 1.0, `1e+21`, `1e-7`).
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => {
            let _ = write!(out, "{u}");
        }
        (None, Some(i), _) => {
            let _ = write!(out, "{i}");
        }
        (None, None, Some(f)) => super::json::write_f64(out, f),
        (None, None, None) => out.push_str("null"),
    }
}

/// Writes `s` as a JSON string literal, escaped exactly as `JSON.stringify`.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        let i = start + super::json::find_escape(&bytes[start..]);
        let Some(&b) = bytes.get(i) else { break };
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Binary(b) => write!(f, "<binary {} bytes>", b.len()),
            Value::Array(a) => f.debug_list().entries(a).finish(),
            Value::Object(o) => f.debug_map().entries(o).finish(),
        }
    }
}

impl fmt::Display for Value {
    /// Compact JSON, buffers shown as placeholders.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_json(&mut s, &mut Vec::new());
        f.write_str(&s)
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The member `key` of an object, or `null`.
    fn index(&self, key: &str) -> &Value {
        self.as_object().and_then(|o| o.get(key)).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    /// Element `i` of an array, or `null`.
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => Value::Number(n),
            J::String(s) => Value::String(s),
            J::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            J::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Binary(Bytes::from(b))
    }
}
impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Binary(Bytes::copy_from_slice(b))
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}
impl From<Map> for Value {
    fn from(o: Map) -> Self {
        Value::Object(o)
    }
}
impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::Null
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self { Value::Number(Number::from(n)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

impl Serialize for Value {
    /// Buffers serialize as byte strings (`serialize_bytes`); in JSON they are arrays of numbers.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::Binary(b) => s.serialize_bytes(b),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Binary(Bytes::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(e) = seq.next_element()? {
            v.push(e);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut o = Map::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            o.insert(k, v);
        }
        Ok(Value::Object(o))
    }
}

impl de::IntoDeserializer<'_, serde_json::Error> for Value {
    type Deserializer = serde_json::Value;
    fn into_deserializer(self) -> serde_json::Value {
        self.to_json()
    }
}

/// Arguments of an event or an acknowledgement.
pub type Args = Vec<Value>;

/// Things that can be sent as the arguments of an emit: `()`, one value, a
/// `Vec<Value>`, or a tuple of up to six values.
///
/// A single `serde_json::Value` or [`Value`] is **one** argument, even when it
/// is an array; pass a `Vec<Value>` for several.
pub trait IntoArgs {
    /// The argument list.
    fn into_args(self) -> Args;
}

impl IntoArgs for () {
    fn into_args(self) -> Args {
        Vec::new()
    }
}
impl IntoArgs for Vec<Value> {
    fn into_args(self) -> Args {
        self
    }
}
impl IntoArgs for Value {
    fn into_args(self) -> Args {
        vec![self]
    }
}
impl IntoArgs for serde_json::Value {
    fn into_args(self) -> Args {
        vec![Value::from(self)]
    }
}
impl IntoArgs for &str {
    fn into_args(self) -> Args {
        vec![Value::from(self)]
    }
}
impl IntoArgs for String {
    fn into_args(self) -> Args {
        vec![Value::from(self)]
    }
}
impl IntoArgs for Bytes {
    fn into_args(self) -> Args {
        vec![Value::Binary(self)]
    }
}
macro_rules! scalar_args {
    ($($t:ty),*) => {$(
        impl IntoArgs for $t {
            fn into_args(self) -> Args { vec![Value::from(self)] }
        }
    )*};
}
scalar_args!(bool, i32, i64, u32, u64, usize, f64, Vec<u8>);

macro_rules! tuple_args {
    ($($name:ident),+) => {
        impl<$($name: Into<Value>),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Args {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_compact_json_with_placeholders() {
        let mut v = Value::from(json!({"a": [1, 2.5, "x\"\n"], "b": null, "c": 1.0}));
        v.as_object_mut()
            .unwrap()
            .insert("bin".into(), Value::from(vec![1u8]));
        let mut out = String::new();
        let mut att = Vec::new();
        v.write_json(&mut out, &mut att);
        assert_eq!(
            out,
            r#"{"a":[1,2.5,"x\"\n"],"b":null,"c":1,"bin":{"_placeholder":true,"num":0}}"#
        );
        assert_eq!(att, vec![Bytes::from_static(&[1])]);
    }

    fn stringify(v: &Value) -> String {
        let mut out = String::new();
        v.write_json(&mut out, &mut Vec::new());
        out
    }

    /// Expected strings printed by Node 20's `JSON.stringify`.
    #[test]
    fn numbers_match_json_stringify() {
        let cases: [(Value, &str); 16] = [
            (Value::from(1e21), "1e+21"),
            (Value::from(1e20), "100000000000000000000"),
            (Value::from(1e19), "10000000000000000000"),
            (Value::from(-1e19), "-10000000000000000000"),
            (Value::from(1e-7), "1e-7"),
            (Value::from(1.5e-7), "1.5e-7"),
            (Value::from(0.000001), "0.000001"),
            (Value::from(-0.0), "0"),
            (Value::from(1.0), "1"),
            (Value::from(2.5), "2.5"),
            (
                Value::from(1.7976931348623157e308),
                "1.7976931348623157e+308",
            ),
            (Value::from(5e-324), "5e-324"),
            (Value::from(f64::NAN), "null"),
            (Value::from(f64::INFINITY), "null"),
            (Value::from(u64::MAX), "18446744073709551615"),
            (Value::from(i64::MIN), "-9223372036854775808"),
        ];
        for (v, s) in cases {
            assert_eq!(stringify(&v), s, "{v:?}");
        }
    }

    #[test]
    fn strings_match_json_stringify() {
        // JSON.stringify escapes only '"', '\\' and C0 controls (short forms
        // for \b \f \n \r \t, else lowercase \u00xx); U+2028, U+2029,
        // DEL and '/' go out raw.
        let s = "\u{2028}\u{2029}\u{7f}\u{0}\u{1f}\u{8}\u{c}\n\r\t\"\\/é😀\u{1b}";
        assert_eq!(
            stringify(&Value::from(s)),
            "\"\u{2028}\u{2029}\u{7f}\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/é😀\\u001b\""
        );
    }

    #[test]
    fn keys_are_ordered_like_javascript_objects() {
        // JSON.stringify({b:1,"2":2,"1":3,"4294967295":4,"4294967294":5,"01":6,"-1":7,"1.5":8})
        let v = Value::from(json!({
            "b": 1, "2": 2, "1": 3, "4294967295": 4, "4294967294": 5, "01": 6, "-1": 7, "1.5": 8
        }));
        assert_eq!(
            stringify(&v),
            r#"{"1":3,"2":2,"4294967294":5,"b":1,"4294967295":4,"01":6,"-1":7,"1.5":8}"#
        );
        assert_eq!(
            stringify(&Value::from(json!({"z": 1, "a": 2}))),
            r#"{"z":1,"a":2}"#
        );
    }

    #[test]
    fn placeholders_fill_and_reject_out_of_range() {
        let mut v: Value = serde_json::from_str(
            r#"[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
        )
        .unwrap();
        let att = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        v.fill_placeholders(&att).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![Value::from(&b"b"[..]), Value::from(&b"a"[..])])
        );
        let mut bad: Value = serde_json::from_str(r#"{"_placeholder":true,"num":2}"#).unwrap();
        assert!(bad.fill_placeholders(&att).is_err());
        let mut neg: Value = serde_json::from_str(r#"{"_placeholder":true,"num":-1}"#).unwrap();
        assert!(neg.fill_placeholders(&att).is_err());
        // A top-level placeholder is replaced too; other objects are walked.
        let mut top: Value = serde_json::from_str(r#"{"_placeholder":true,"num":1}"#).unwrap();
        top.fill_placeholders(&att).unwrap();
        assert_eq!(top, Value::from(&b"b"[..]));
        let mut not: Value = serde_json::from_str(
            r#"{"_placeholder":false,"num":9,"x":{"_placeholder":true,"num":0}}"#,
        )
        .unwrap();
        not.fill_placeholders(&att).unwrap();
        assert_eq!(not["x"], Value::from(&b"a"[..]));
        assert_eq!(not["num"], Value::from(9));
    }

    #[test]
    fn tuples_become_args() {
        assert_eq!(("a", 1, true).into_args().len(), 3);
        assert_eq!(json!([1, 2]).into_args().len(), 1);
        assert!(().into_args().is_empty());
    }
}
