//! What a socket's handlers know about how it connected.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::HeaderMap;

use crate::Value;

/// The handshake of a socket: auth payload, HTTP headers and query of the
/// first request, remote address and time.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The auth payload of the CONNECT packet (`null` when absent).
    pub auth: Value,
    /// Headers of the request that opened the connection.
    pub headers: HeaderMap,
    /// Query string of that request (without `?`).
    pub query: String,
    /// The client's address, when known.
    pub remote_addr: Option<SocketAddr>,
    /// When the connection was opened.
    pub issued: SystemTime,
    /// The request URI.
    pub url: String,
    /// The connection came over TLS (https / wss).
    pub secure: bool,
}

impl Handshake {
    /// A query parameter, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        crate::engineio::http::query_pairs(&self.query)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Milliseconds since the Unix epoch at `issued` (as Node's `handshake.issued`).
    pub fn issued_ms(&self) -> u64 {
        self.issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

impl Handshake {
    /// The handshake as socket.io sends it in a `fetchSockets` answer
    /// between nodes (`headers`, `time`, `address`, `xdomain`, `secure`,
    /// `issued`, `url`, `query`, `auth`).
    pub fn to_node_value(&self) -> Value {
        let mut headers = crate::Map::new();
        for (k, v) in &self.headers {
            if let Ok(v) = v.to_str() {
                headers.insert(k.as_str().to_owned(), Value::from(v));
            }
        }
        let mut query = crate::Map::new();
        for (k, v) in crate::engineio::http::query_pairs(&self.query) {
            query.insert(k, Value::from(v));
        }
        let mut m = crate::Map::new();
        m.insert("headers".into(), Value::Object(headers));
        m.insert("time".into(), Value::from(node_date_string(self.issued)));
        m.insert(
            "address".into(),
            Value::from(self.remote_addr.map(|a| a.ip().to_string())),
        );
        m.insert(
            "xdomain".into(),
            Value::Bool(self.header("origin").is_some()),
        );
        m.insert("secure".into(), Value::Bool(self.secure));
        m.insert("issued".into(), Value::from(self.issued_ms()));
        m.insert("url".into(), Value::from(self.url.as_str()));
        m.insert("query".into(), Value::Object(query));
        m.insert("auth".into(), self.auth.clone());
        Value::Object(m)
    }
}

/// `time` as Node's `new Date().toString()` writes it, in UTC:
/// `Tue Nov 24 2026 18:43:54 GMT+0000 (Coordinated Universal Time)`.
pub fn node_date_string(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4) % 7) as usize];
    format!(
        "{weekday} {} {day:02} {year} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `t` as JavaScript's `Date.prototype.toJSON` writes it (what a `Date`
/// argument becomes on the wire): `2026-11-24T18:43:54.093Z`.
pub(crate) fn iso_date_string(t: SystemTime) -> String {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let secs = (ms / 1000) as u64;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn node_date_strings() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(
            node_date_string(at(0)),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // The time captured from a Node node (redis-adapter vectors): issued 1795545834093.
        assert_eq!(
            node_date_string(at(1_795_545_834)),
            "Tue Nov 24 2026 18:43:54 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            iso_date_string(SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_545_834_093)),
            "2026-11-24T18:43:54.093Z"
        );
        assert_eq!(
            node_date_string(at(951_782_400)),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }
}
