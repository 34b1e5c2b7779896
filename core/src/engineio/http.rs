//! HTTP helpers: the official error bodies, query parsing, CORS headers.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use super::config::Cors;

/// Response body type of the Engine.IO service.
pub type Body = Full<Bytes>;

/// Engine.IO error codes, as the official server numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

/// `400`/`403` with `{"code":N,"message":"…"}`, as the official server answers.
pub(crate) fn error_response(code: ErrorCode, message: Option<&str>) -> Response<Body> {
    let status = if code == ErrorCode::Forbidden {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut body = format!("{{\"code\":{},\"message\":", code as u8);
    crate::codec::value::write_str(&mut body, message.unwrap_or(code.message()));
    body.push('}');
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A response with a status and a plain text body.
pub(crate) fn text_response(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<Body> {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// The encoding to compress a response with, from `Accept-Encoding`:
/// gzip first, then deflate (Node's preference); `q=0` refuses one.
pub(crate) fn pick_encoding(accept: &str) -> Option<&'static str> {
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    ["gzip", "deflate"].into_iter().find(|n| accepts(n))
}

/// `body` compressed with `encoding` (`gzip` or `deflate`, zlib-wrapped as
/// Node's `zlib.createDeflate`).
pub(crate) fn compress(encoding: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let level = flate2::Compression::default();
    if encoding == "gzip" {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        e.write_all(body)?;
        e.finish()
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        e.write_all(body)?;
        e.finish()
    }
}

/// Percent-decoded query pairs.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte (invalid escapes stay as they are), bytes that are
/// not UTF-8 become U+FFFD — as `form_urlencoded` and Node's `querystring`.
pub(crate) fn form_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds CORS headers to a response when the origin is allowed.
pub(crate) fn apply_cors(
    cors: Option<&Cors>,
    origin: Option<&str>,
    preflight: bool,
    res: &mut Response<Body>,
) {
    let Some(cors) = cors else { return };
    let Some(allow) = cors.allow(origin) else {
        return;
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if allow != "*" {
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if cors.credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodings_are_picked_as_node() {
        assert_eq!(super::pick_encoding("gzip, deflate, br"), Some("gzip"));
        assert_eq!(super::pick_encoding("deflate"), Some("deflate"));
        assert_eq!(super::pick_encoding("gzip;q=0, deflate"), Some("deflate"));
        assert_eq!(super::pick_encoding("br"), None);
        assert_eq!(super::pick_encoding("*"), Some("gzip"));
    }

    #[test]
    fn form_decode_matches_form_urlencoded() {
        for s in [
            "a+b", "%41%42", "%4", "%zz", "%", "x%3Dy", "%C3%A9", "%FF", "plain", "",
        ] {
            let expect: String = form_urlencoded::parse(format!("k={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert_eq!(super::form_decode(s), expect, "{s}");
        }
    }
}
