//! JSON as JavaScript sees it: a `JSON.parse`-compatible parser producing
//! [`Value`]s, JavaScript number formatting (`Number.prototype.toString`,
//! used by `JSON.stringify`) and `Number(string)` for the header fields the
//! official `socket.io-parser` reads with it.
//!
//! Where a JavaScript value has no [`Value`] equivalent the parser picks the
//! value `JSON.stringify` would print for it: `±Infinity` (from literals such
//! as `1e400`) becomes `null`, and a lone UTF-16 surrogate in a `\u` escape
//! (valid for `JSON.parse`, not representable in a Rust `String`) becomes
//! U+FFFD.

use std::fmt::{self, Write as _};

use serde_json::Number;

use super::value::{Map, Value};

/// Deepest array/object nesting accepted by default. `JSON.parse` has no
/// such limit; the codec keeps serde_json's default so recursive walks over
/// a [`Value`] (drop, encode, placeholders) cannot exhaust the stack.
pub const DEFAULT_MAX_DEPTH: usize = 128;
/// The deepest nesting that may be configured (the parser and the walks
/// over a [`Value`] recurse once per level).
pub const MAX_DEPTH_CAP: usize = 512;
#[cfg(test)]
const MAX_DEPTH: usize = DEFAULT_MAX_DEPTH;

/// Why a JSON text was rejected (the official parser's `JSON.parse` throws).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError;

/// Parses `text` exactly as `JSON.parse` does (see the module docs for the
/// two values mapped to their `JSON.stringify` form).
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Result<Value, SyntaxError> {
    parse_with_first_number(text, DEFAULT_MAX_DEPTH).map(|(v, _)| v)
}

/// Parses `text` as [`parse`] does; on failure, the byte offset where the
/// parser stopped (for error messages).
pub(crate) fn parse_at(text: &str) -> Result<Value, usize> {
    Parser::new(text).whole(Parser::value)
}

/// Checks that `text` is a JSON array exactly as [`parse`] would accept it,
/// without building any value; returns the byte range between its brackets
/// with the surrounding whitespace trimmed (empty for `[]`) and whether an
/// object in it has a `_placeholder` key, or the offset where the text
/// stopped being JSON (or being an array).
pub(crate) fn validate_array(text: &str) -> Result<CheckedArray, usize> {
    let mut p = Parser::new(text);
    let (open, close) = p.whole(|p| {
        if p.peek() != Some(b'[') {
            return Err(SyntaxError);
        }
        let open = p.pos;
        p.skip_value()?;
        Ok((open, p.pos - 1))
    })?;
    let inner = text[open + 1..close].trim_matches([' ', '\t', '\n', '\r']);
    let start = inner.as_ptr() as usize - text.as_ptr() as usize;
    Ok(CheckedArray {
        inner: start..start + inner.len(),
        placeholder_key: p.placeholder_key,
    })
}

/// The elements of a checked array's inner text (as `JsonArgs::inner`
/// gives it), parsed.
pub(crate) fn parse_elements(inner: &str) -> Result<Vec<Value>, usize> {
    let mut p = Parser::new(inner);
    // Checked already, maybe under a configured depth above the default.
    p.max_depth = MAX_DEPTH_CAP;
    p.whole(|p| {
        let mut out = Vec::new();
        while p.pos < p.bytes.len() {
            out.push(p.value()?);
            p.skip_ws();
            if p.peek() == Some(b',') {
                p.pos += 1;
                p.skip_ws();
            } else {
                break;
            }
        }
        Ok(out)
    })
}

/// The byte range of each element of a checked array's inner text.
pub(crate) fn element_ranges(inner: &str) -> Vec<std::ops::Range<usize>> {
    let mut p = Parser::new(inner);
    let mut out = Vec::new();
    p.skip_ws();
    while p.pos < p.bytes.len() {
        let start = p.pos;
        if p.skip_value().is_err() {
            break;
        }
        out.push(start..p.pos);
        p.skip_ws();
        if p.peek() != Some(b',') {
            break;
        }
        p.pos += 1;
        p.skip_ws();
    }
    out
}

/// What [`validate_array`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedArray {
    /// The elements' text between the brackets, trimmed.
    pub(crate) inner: std::ops::Range<usize>,
    /// Some object has a `_placeholder` key (a binary placeholder's shape).
    pub(crate) placeholder_key: bool,
}

/// Like [`parse`]; when the text is an array whose first element is a
/// number, also returns that number as JavaScript holds it (an `f64`,
/// possibly infinite), for event names such as `[1e400]` → `"Infinity"`.
pub(crate) fn parse_with_first_number(
    text: &str,
    max_depth: usize,
) -> Result<(Value, Option<f64>), SyntaxError> {
    let mut p = Parser::new(text);
    p.max_depth = max_depth.min(MAX_DEPTH_CAP);
    let v = p.whole(Parser::value).map_err(|_| SyntaxError)?;
    Ok((v, p.first_number))
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    first_number: Option<f64>,
    /// Set by the skipping walk when an object has a `_placeholder` key.
    placeholder_key: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            first_number: None,
            placeholder_key: false,
        }
    }

    /// Runs `f` on the whole text (surrounding whitespace allowed); on
    /// failure, the byte offset where parsing stopped.
    fn whole<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, usize> {
        self.skip_ws();
        let v = f(self).map_err(|_| self.pos)?;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.pos);
        }
        Ok(v)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_lit(&mut self, lit: &str, v: Value) -> Result<Value, SyntaxError> {
        if self.bytes[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            Ok(v)
        } else {
            Err(SyntaxError)
        }
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        match self.peek().ok_or(SyntaxError)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Value::String),
            b't' => self.expect_lit("true", Value::Bool(true)),
            b'f' => self.expect_lit("false", Value::Bool(false)),
            b'n' => self.expect_lit("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(|(v, _)| v),
            _ => Err(SyntaxError),
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(SyntaxError);
        }
        self.pos += 1; // the opening bracket
        self.skip_ws();
        Ok(())
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        let top = self.depth == 0;
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            if top && items.is_empty() && matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
                let (v, f) = self.number()?;
                self.first_number = Some(f);
                items.push(v);
            } else {
                items.push(self.value()?);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        let mut map = Map::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(map));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(SyntaxError);
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(SyntaxError);
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value()?;
            // Like JavaScript: a repeated key keeps its first position and
            // takes the last value.
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(SyntaxError),
            }
        }
    }

    /// Like [`value`](Self::value), accepting the same texts, building nothing.
    fn skip_value(&mut self) -> Result<(), SyntaxError> {
        match self.peek().ok_or(SyntaxError)? {
            open @ (b'{' | b'[') => {
                let object = open == b'{';
                let close = if object { b'}' } else { b']' };
                self.enter()?;
                if self.peek() == Some(close) {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    if object {
                        if self.peek() != Some(b'"') {
                            return Err(SyntaxError);
                        }
                        let key = self.pos;
                        self.skip_string()?;
                        let raw = &self.text[key + 1..self.pos - 1];
                        if raw == "_placeholder"
                            || (raw.contains('\\')
                                && Parser::new(&self.text[key..self.pos]).string().as_deref()
                                    == Ok("_placeholder"))
                        {
                            self.placeholder_key = true;
                        }
                        self.skip_ws();
                        if self.peek() != Some(b':') {
                            return Err(SyntaxError);
                        }
                        self.pos += 1;
                        self.skip_ws();
                    }
                    self.skip_value()?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                        }
                        Some(c) if c == close => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Ok(());
                        }
                        _ => return Err(SyntaxError),
                    }
                }
            }
            b'"' => self.skip_string(),
            b't' => self.expect_lit("true", Value::Null).map(drop),
            b'f' => self.expect_lit("false", Value::Null).map(drop),
            b'n' => self.expect_lit("null", Value::Null).map(drop),
            b'-' | b'0'..=b'9' => self.number_literal().map(drop),
            _ => Err(SyntaxError),
        }
    }

    /// Like [`string`](Self::string) without decoding: any `\u` escape of
    /// four hex digits is valid JSON, paired or not.
    fn skip_string(&mut self) -> Result<(), SyntaxError> {
        self.pos += 1;
        loop {
            self.pos += find_escape(&self.bytes[self.pos..]);
            match self.peek().ok_or(SyntaxError)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek().ok_or(SyntaxError)?;
                    self.pos += 1;
                    match esc {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            self.hex4()?;
                        }
                        _ => return Err(SyntaxError),
                    }
                }
                _ => return Err(SyntaxError), // raw control character
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, SyntaxError> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or(SyntaxError)?;
        let mut v = 0u16;
        for &d in digits {
            let n = (d as char).to_digit(16).ok_or(SyntaxError)?;
            v = (v << 4) | n as u16;
        }
        self.pos += 4;
        Ok(v)
    }

    /// A string literal; `pos` is on the opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        self.pos += find_escape(&self.bytes[self.pos..]);
        match self.peek() {
            Some(b'"') => {
                let s = self.text[start..self.pos].to_owned();
                self.pos += 1;
                return Ok(s);
            }
            Some(b'\\') => {}
            _ => return Err(SyntaxError),
        }
        let mut s = String::with_capacity(self.pos - start + 16);
        s.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            self.pos += find_escape(&self.bytes[self.pos..]);
            s.push_str(&self.text[run..self.pos]);
            match self.peek().ok_or(SyntaxError)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(s);
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek().ok_or(SyntaxError)?;
                    self.pos += 1;
                    match esc {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => self.unicode_escape(&mut s)?,
                        _ => return Err(SyntaxError),
                    }
                }
                _ => return Err(SyntaxError), // raw control character
            }
        }
    }

    /// After `\u`: one code unit, or a surrogate pair spelled as two escapes.
    fn unicode_escape(&mut self, s: &mut String) -> Result<(), SyntaxError> {
        let unit = self.hex4()?;
        match unit {
            0xd800..=0xdbff => {
                if self.bytes[self.pos..].starts_with(b"\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xdc00..=0xdfff).contains(&low) {
                        let c = 0x10000
                            + ((u32::from(unit) - 0xd800) << 10)
                            + (u32::from(low) - 0xdc00);
                        s.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                        return Ok(());
                    }
                    // Not a pair: the second escape is decoded on its own.
                    self.pos = save;
                }
                s.push('\u{fffd}');
            }
            0xdc00..=0xdfff => s.push('\u{fffd}'),
            _ => s.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}')),
        }
        Ok(())
    }

    /// A number literal: integers that fit `i64`/`u64` stay exact, the rest
    /// is the correctly rounded `f64` (JavaScript's value), `±Infinity` →
    /// `null`. Also returns the JavaScript value.
    fn number(&mut self) -> Result<(Value, f64), SyntaxError> {
        let (lit, integer) = self.number_literal()?;
        if integer {
            if let Ok(u) = lit.parse::<u64>() {
                return Ok((Value::Number(u.into()), u as f64));
            }
            if let Ok(i) = lit.parse::<i64>() {
                return Ok((Value::Number(i.into()), i as f64));
            }
        }
        let f: f64 = lit.parse().map_err(|_| SyntaxError)?;
        Ok((Number::from_f64(f).map_or(Value::Null, Value::Number), f))
    }

    /// The text of a number literal, and whether it is an integer literal.
    fn number_literal(&mut self) -> Result<(&str, bool), SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(SyntaxError),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok((&self.text[start..self.pos], integer))
    }

    fn digits(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            Err(SyntaxError)
        } else {
            Ok(())
        }
    }
}

/// JavaScript's `StrWhiteSpaceChar` (WhiteSpace or LineTerminator), which
/// `Number(string)` trims. Differs from [`char::is_whitespace`]: U+FEFF is
/// included, U+0085 is not.
/// Index of the first byte a JSON string cannot hold raw (`"`, `\\` or a
/// control character), or `b.len()`. Eight bytes at a time: the lowest
/// flagged byte of each SWAR test is exact, so the lowest of all is the
/// first match.
#[inline]
pub(crate) fn find_escape(b: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        let x = u64::from_le_bytes(a);
        let quote = x ^ (LO * u64::from(b'"'));
        let backslash = x ^ (LO * u64::from(b'\\'));
        let hits = (quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (x.wrapping_sub(LO * 0x20) & !x);
        let hits = hits & HI;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    b.len()
}

pub(crate) fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript's `Number(s)` for a string; `None` where it gives `NaN`.
///
/// Trims JavaScript whitespace; the empty string is `0`; accepts decimal
/// literals with sign, fraction and exponent, `Infinity`, and unsigned
/// `0x`/`0o`/`0b` integers.
pub(crate) fn string_to_number(s: &str) -> Option<f64> {
    let s = s.trim_matches(is_js_whitespace);
    if s.is_empty() {
        return Some(0.0);
    }
    let b = s.as_bytes();
    if b.len() > 2 && b[0] == b'0' {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            let mut v = 0f64;
            for &d in &b[2..] {
                v = v * f64::from(radix) + f64::from((d as char).to_digit(radix)?);
            }
            return Some(v);
        }
    }
    let (neg, body) = match b[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body == "Infinity" {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // StrUnsignedDecimalLiteral: digits [. digits] | . digits, then [e[+-]digits].
    let bb = body.as_bytes();
    let mut i = 0;
    let int_digits = count_digits(&bb[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if bb.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&bb[i..]);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = bb.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = bb.get(i) {
            i += 1;
        }
        let n = count_digits(&bb[i..]);
        if n == 0 {
            return None;
        }
        i += n;
    }
    if i != bb.len() {
        return None;
    }
    // The grammar checked above is a subset of what Rust's parser accepts.
    let v: f64 = body.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// A small stack buffer for formatting floats without allocating.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `f` as JavaScript's `Number.prototype.toString` prints it
/// (`1e+21`, `1e-7`, `0.000001`, `100000000000000000000`, `-0` → `0`).
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-Infinity" } else { "Infinity" });
        return;
    }
    if f == 0.0 {
        out.push('0');
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    // JavaScript prints the shortest digits that round-trip and, among
    // those, the closest to the exact value. serde_json's float output
    // (ryu) picks the same digits (Rust's `{:e}` does not always pick the
    // closest); only the layout differs, so take the digits from there.
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    let Some(n) = Number::from_f64(f.abs()) else {
        return;
    };
    if write!(sb, "{n}").is_err() {
        return;
    }
    let Ok(text) = std::str::from_utf8(&sb.buf[..sb.len]) else {
        return;
    };
    // `text` is like 245492955852508.62, 100000.0, 0.00012, 1e+21 or
    // 1.2345678901234568e+20: digits with a decimal point, then an exponent.
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut point = int.len() as i32 + exp;
    let mut digits = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    for &d in int.as_bytes().iter().chain(frac.as_bytes()) {
        if d == b'0' && digits.len == 0 {
            point -= 1; // leading zero
        } else if digits.len < digits.buf.len() {
            digits.buf[digits.len] = d;
            digits.len += 1;
        }
    }
    while digits.len > 1 && digits.buf[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    let Ok(d) = std::str::from_utf8(&digits.buf[..digits.len]) else {
        return;
    };
    let k = d.len() as i32; // significant digits
    let n = point; // the value is 0.d × 10^n
    if k <= n && n <= 21 {
        out.push_str(d);
        for _ in 0..n - k {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        out.push_str(&d[..n as usize]);
        out.push('.');
        out.push_str(&d[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..-n {
            out.push('0');
        }
        out.push_str(d);
    } else {
        out.push_str(&d[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if n >= 1 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

/// `f` as JavaScript's `String(f)`.
pub(crate) fn f64_to_string(f: f64) -> String {
    let mut s = String::new();
    write_f64(&mut s, f);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(f: f64) -> String {
        f64_to_string(f)
    }

    #[test]
    fn numbers_print_like_javascript() {
        // Expected strings taken from Node 20 (`String(x)` / `JSON.stringify`).
        let cases: [(f64, &str); 30] = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e19, "10000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (-1e-7, "-1e-7"),
            (1.5e-7, "1.5e-7"),
            (1.23e-18, "1.23e-18"),
            (0.000001, "0.000001"),
            (1.2345e-6, "0.0000012345"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e300, "1e+300"),
            (9007199254740994.0, "9007199254740994"),
            (2f64.powi(64), "18446744073709552000"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (1.0 / 3.0, "0.3333333333333333"),
            // Two 17-digit strings round-trip; JavaScript takes the closest.
            (245492955852508.62, "245492955852508.62"),
            (-1657887725578390.2, "-1657887725578390.2"),
            (100000.0, "100000"),
            (0.00012, "0.00012"),
            (1e16, "10000000000000000"),
            (1.2345678901234568e20, "123456789012345680000"),
        ];
        for (f, s) in cases {
            assert_eq!(js(f), s, "{f:e}");
        }
    }

    #[test]
    fn find_escape_matches_a_bytewise_scan() {
        let special = [
            b'"', b'\\', 0, 0x1f, 0x20, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff,
        ];
        for len in 0..24 {
            for at in 0..len {
                for &c in &special {
                    let mut v = vec![b'a'; len];
                    v[at] = c;
                    // A second special byte later must not matter.
                    if at + 2 < len {
                        v[at + 2] = b'"';
                    }
                    let slow = v
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                        .unwrap_or(len);
                    assert_eq!(find_escape(&v), slow, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn string_to_number_matches_javascript() {
        let cases: [(&str, Option<f64>); 30] = [
            ("", Some(0.0)),
            (" ", Some(0.0)),
            ("\u{3000}1\u{feff}", Some(1.0)),
            ("\u{85}1", None),
            ("1", Some(1.0)),
            ("00001", Some(1.0)),
            ("+1", Some(1.0)),
            ("-1", Some(-1.0)),
            ("1.", Some(1.0)),
            (".1e1", Some(1.0)),
            ("1e0", Some(1.0)),
            ("1E+1", Some(10.0)),
            ("+.5", Some(0.5)),
            ("-.5e1", Some(-5.0)),
            ("0x1", Some(1.0)),
            ("0X1f", Some(31.0)),
            ("0o17", Some(15.0)),
            ("0b101", Some(5.0)),
            ("+0x1", None),
            ("0x", None),
            ("0xg", None),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("infinity", None),
            ("1_0", None),
            ("1e", None),
            ("e1", None),
            (".", None),
            ("1 2", None),
            ("\u{661}", None),
        ];
        for (s, v) in cases {
            assert_eq!(string_to_number(s), v, "{s:?}");
        }
    }

    #[test]
    fn parses_like_json_parse() {
        let ok = [
            ("[1,2.5,-0,1e2,\"x\"]", r#"[1,2.5,0,100,"x"]"#),
            (
                " {\"a\" : [ true , false , null ] } ",
                r#"{"a":[true,false,null]}"#,
            ),
            ("[1e400,-1e400,1e-400]", "[null,null,0]"),
            (
                r#"["\ud83d\ude00","\ud800","\udc00x","\ud800\ud800\udc00"]"#,
                "[\"😀\",\"\u{fffd}\",\"\u{fffd}x\",\"\u{fffd}𐀀\"]",
            ),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"a":3,"b":2}"#),
            (r#""\"\\\/\b\f\n\r\t\u0041""#, r#""\"\\/\b\f\n\r\tA""#),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("18446744073709551616", "18446744073709552000"),
        ];
        for (text, printed) in ok {
            let v = parse(text).unwrap_or_else(|_| panic!("{text}"));
            assert_eq!(v.to_string(), printed, "{text}");
        }
        let bad = [
            "",
            " ",
            "[",
            "]",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "NaN",
            "Infinity",
            "'a'",
            "\"\u{1}\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "[1]x",
            "{a:1}",
            "tru",
            "nul",
            "[1 2]",
            "{\"a\" 1}",
            "\"abc",
        ];
        for text in bad {
            assert_eq!(parse(text), Err(SyntaxError), "{text:?}");
        }
    }

    /// `validate_array` accepts exactly the arrays `parse` accepts, and
    /// returns the trimmed text between the brackets.
    #[test]
    fn validate_array_agrees_with_parse() {
        let texts = [
            "[1,2.5,-0,1e2,\"x\"]",
            " [ {\"a\" : [ true , false , null ] } ] ",
            "[1e400]",
            r#"["\ud83d\ude00","\ud800","\udc00x"]"#,
            r#"[{"a":1,"b":2,"a":3}]"#,
            r#"["\"\\\/\b\f\n\r\t\u0041"]"#,
            "[]",
            " [ ] ",
            "{}",
            "1",
            "\"a\"",
            "[1,]",
            "[{\"a\":1,}]",
            "[01]",
            "[-]",
            "[1.]",
            "[\"\u{1}\"]",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "[1]x",
            "[{a:1}]",
            "[tru]",
            "[1 2]",
            "[\"abc]",
            "[[[]]",
            "[",
            "",
        ];
        for text in texts {
            let parsed = matches!(parse(text), Ok(Value::Array(_)));
            let checked = validate_array(text);
            assert_eq!(checked.is_ok(), parsed, "{text:?}");
            if let Ok(r) = checked {
                let inner = &text[r.inner];
                let again = parse(&format!("[{inner}]")).expect("inner elements");
                assert_eq!(Ok(again), parse(text), "{text:?}");
                assert_eq!(inner.trim(), inner);
            }
        }
        assert!(validate_array(" [ ] ").is_ok_and(|r| r.inner.is_empty()));
        let keys = [
            (r#"[{"_placeholder":true,"num":0}]"#, true),
            (r#"[1,[{"a":{"\u005fplaceholder":1}}]]"#, true),
            (
                r#"["_placeholder",{"_placeholderx":1,"x":"_placeholder"}]"#,
                false,
            ),
        ];
        for (text, found) in keys {
            assert_eq!(
                validate_array(text).map(|r| r.placeholder_key),
                Ok(found),
                "{text}"
            );
        }
        assert_eq!(validate_array("[1,]"), Err(3));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(validate_array(&deep).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(validate_array(&ok).is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep), Err(SyntaxError));
        let very_deep = "[{\"a\":".repeat(100_000);
        assert_eq!(parse(&very_deep), Err(SyntaxError));
    }

    #[test]
    fn first_number_is_the_javascript_value() {
        assert_eq!(
            parse_with_first_number("[1e400]", MAX_DEPTH).unwrap().1,
            Some(f64::INFINITY)
        );
        assert_eq!(
            parse_with_first_number("[-0,1]", MAX_DEPTH).unwrap().1,
            Some(-0.0)
        );
        assert_eq!(
            parse_with_first_number("[9007199254740993]", MAX_DEPTH)
                .unwrap()
                .1,
            Some(9007199254740992.0)
        );
        assert_eq!(
            parse_with_first_number("[\"a\",1]", MAX_DEPTH).unwrap().1,
            None
        );
        assert_eq!(parse_with_first_number("[[1]]", MAX_DEPTH).unwrap().1, None);
        assert_eq!(
            parse_with_first_number("{\"a\":1}", MAX_DEPTH).unwrap().1,
            None
        );
    }
}
