//! Engine.IO options, with the official server's defaults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

/// A transport a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

impl Transport {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Transport> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::Websocket),
            _ => None,
        }
    }
}

/// What an `allow_request` hook and the handshake see of the HTTP request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// Request headers.
    pub headers: HeaderMap,
    /// The raw query string (without `?`).
    pub query: String,
    /// The peer's address, when the server knows it.
    pub remote_addr: Option<SocketAddr>,
    /// The request came over TLS (see [`Secure`](super::Secure)).
    pub secure: bool,
    /// The request URI.
    pub uri: http::Uri,
}

impl RequestInfo {
    /// The value of query parameter `key`, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        super::http::query_pairs(&self.query)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The `Origin` header, if present and valid UTF-8.
    pub fn origin(&self) -> Option<&str> {
        self.headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
    }
}

/// A hook deciding whether a handshake may proceed; `Err(message)` refuses it
/// with HTTP 403 `{"code":4,"message":<message>}`.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo) -> Result<(), String> + Send + Sync>;

/// Which origins may make cross-origin requests.
#[derive(Clone)]
pub enum AllowOrigin {
    /// Any origin (`*`, or the request's origin when credentials are allowed).
    Any,
    /// Exactly these origins (e.g. `https://example.com`).
    List(Vec<String>),
    /// Origins for which the predicate returns true.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl std::fmt::Debug for AllowOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllowOrigin::Any => f.write_str("Any"),
            AllowOrigin::List(l) => f.debug_tuple("List").field(l).finish(),
            AllowOrigin::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// Which `Origin`s may talk to the server at all: a request (polling or
/// WebSocket) whose `Origin` header is not allowed gets HTTP 400 "Not an
/// accepted origin." — python-socketio's protection against cross-site
/// WebSocket hijacking. Requests without an `Origin` (non-browser clients)
/// are not checked. Unlike [`Cors`], which only adds response headers that
/// browsers enforce on HTTP, this refuses the request itself.
#[derive(Clone)]
pub enum AllowedOrigins {
    /// The server's own origin: `http(s)://` + the `Host` header (and the
    /// `X-Forwarded-Proto` / `X-Forwarded-Host` variant behind a proxy).
    SameOrigin,
    /// Exactly these origins (`"*"` in the list allows any).
    List(Vec<String>),
    /// Origins for which the predicate returns true; it also sees the request.
    Predicate(OriginPredicate),
}

/// Decides whether an `Origin` may make a request; see [`AllowedOrigins`].
pub type OriginPredicate = Arc<dyn Fn(&str, &RequestInfo) -> bool + Send + Sync>;

impl std::fmt::Debug for AllowedOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllowedOrigins::SameOrigin => f.write_str("SameOrigin"),
            AllowedOrigins::List(l) => f.debug_tuple("List").field(l).finish(),
            AllowedOrigins::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

impl AllowedOrigins {
    /// Whether `origin` may make the request `info`.
    pub fn allows(&self, origin: &str, info: &RequestInfo) -> bool {
        self.allows_with(origin, || info)
    }

    /// [`allows`](Self::allows), getting the request only when the policy
    /// looks at it (a list does not).
    pub(crate) fn allows_with<R: std::borrow::Borrow<RequestInfo>>(
        &self,
        origin: &str,
        info: impl FnOnce() -> R,
    ) -> bool {
        match self {
            AllowedOrigins::List(l) => l.iter().any(|x| x == "*" || x == origin),
            AllowedOrigins::Predicate(p) => p(origin, info().borrow()),
            AllowedOrigins::SameOrigin => same_origin(origin, info().borrow()),
        }
    }
}

/// `origin` is the server's own: scheme and `Host` of the request, or the
/// `X-Forwarded-Proto` / `X-Forwarded-Host` variant behind a proxy.
fn same_origin(origin: &str, info: &RequestInfo) -> bool {
    let h = |name: &str| {
        info.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let scheme = if info.secure { "https" } else { "http" };
    let Some(host) = h("host").or(info.uri.authority().map(|a| a.as_str())) else {
        return false;
    };
    if origin == format!("{scheme}://{host}") {
        return true;
    }
    let (fproto, fhost) = (h("x-forwarded-proto"), h("x-forwarded-host"));
    (fproto.is_some() || fhost.is_some())
        && origin == format!("{}://{}", fproto.unwrap_or(scheme), fhost.unwrap_or(host))
}

/// Cross-origin resource sharing; off unless configured.
#[derive(Debug, Clone)]
pub struct Cors {
    /// Allowed origins.
    pub origins: AllowOrigin,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub(crate) fn allow(&self, origin: Option<&str>) -> Option<String> {
        match (&self.origins, origin) {
            (AllowOrigin::Any, Some(o)) if self.credentials => Some(o.to_owned()),
            (AllowOrigin::Any, _) => Some("*".to_owned()),
            (AllowOrigin::List(l), Some(o)) => l.iter().any(|x| x == o).then(|| o.to_owned()),
            (AllowOrigin::Predicate(p), Some(o)) => p(o).then(|| o.to_owned()),
            (_, None) => None,
        }
    }
}

/// Engine.IO server options. Defaults are the official server's.
#[derive(Clone)]
pub struct EngineConfig {
    /// Path the server answers on (default `/socket.io/`).
    pub path: String,
    /// Allowed transports (default polling and websocket).
    pub transports: Vec<Transport>,
    /// Whether polling sessions may upgrade to WebSocket (default true).
    pub allow_upgrades: bool,
    /// Time between server pings (default 25 s).
    pub ping_interval: Duration,
    /// Time to wait for a pong (default 20 s).
    pub ping_timeout: Duration,
    /// Largest payload a client may send in one POST or frame (default 1 000 000 bytes).
    pub max_payload: usize,
    /// Time a client has to finish an upgrade (default 10 s).
    pub upgrade_timeout: Duration,
    /// Packets queued per session before sends fail (default 256).
    pub max_buffer_size: usize,
    /// CORS; `None` (default) sends no CORS headers.
    pub cors: Option<Cors>,
    /// Admission hook run on every handshake.
    pub allow_request: Option<AllowRequest>,
    /// Name of the sticky-session cookie set on handshake, if any (e.g. `io`).
    pub cookie: Option<String>,
    /// Most open sessions; further handshakes get HTTP 503 (default 250 000).
    pub max_connections: usize,
    /// Compress long-polling responses of at least this many bytes with
    /// gzip or deflate when the client accepts it (default `Some(1024)`, as
    /// Node's `httpCompression`); `None` turns it off.
    pub http_compression: Option<usize>,
    /// Agree on permessage-deflate with WebSocket clients that offer it,
    /// and compress messages of at least this many bytes (`None`, the
    /// default, as Node's `perMessageDeflate: false`). Each message is
    /// compressed on its own (no context takeover), so a connection keeps
    /// no compression state; a compressed message is refused once it
    /// inflates past `max_payload`.
    pub per_message_deflate: Option<usize>,
    /// Serve Engine.IO protocol 3 clients (Socket.IO 2.x) too, as Node's
    /// `allowEIO3` (default false: they get HTTP 400).
    pub allow_eio3: bool,
    /// Origins allowed to make requests at all (see [`AllowedOrigins`]);
    /// `None` (default, as Node) checks nothing.
    pub allowed_origins: Option<AllowedOrigins>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".into(),
            transports: vec![Transport::Polling, Transport::Websocket],
            allow_upgrades: true,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_secs(10),
            max_buffer_size: 256,
            cors: None,
            allow_request: None,
            cookie: None,
            max_connections: 250_000,
            allowed_origins: None,
            http_compression: Some(1024),
            per_message_deflate: None,
            allow_eio3: false,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_buffer_size", &self.max_buffer_size)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("cookie", &self.cookie)
            .field("max_connections", &self.max_connections)
            .field("allowed_origins", &self.allowed_origins)
            .field("http_compression", &self.http_compression)
            .field("per_message_deflate", &self.per_message_deflate)
            .field("allow_eio3", &self.allow_eio3)
            .finish()
    }
}
