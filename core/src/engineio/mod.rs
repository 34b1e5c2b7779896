//! Engine.IO v4 server: handshake, long-polling, WebSocket, upgrade and
//! heartbeat. The layer above sees sessions and messages through
//! `session::Handler`, never a transport.

pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod host;
pub(crate) mod http;
pub(crate) mod listener;
mod polling;
pub mod server;
pub mod session;
mod websocket;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use ::http::{Method, Request, Response, StatusCode, header};
use bytes::Bytes;

pub use config::{
    AllowOrigin, AllowRequest, AllowedOrigins, Cors, EngineConfig, OriginPredicate, RequestInfo,
    Transport,
};
pub use server::{EioMessage, EioSocket, EngineServer, EngineServerHandle};
pub use session::{CloseReason, Incoming, Message, SendError, Session};

use self::http::{Body, ErrorCode, apply_cors, error_response, text_response};
use crate::codec::engineio::{OpenPacket, Packet};
use crate::sid::{Sid, SidMap};
use session::{Handler, STATE_POLLING, STATE_WEBSOCKET};

/// A copy of `h` that owns its bytes. hyper's header values are slices of
/// the connection's 8 KiB read buffer; a handshake kept for the life of a
/// connection would keep that whole buffer alive.
fn detached_headers(h: &::http::HeaderMap) -> ::http::HeaderMap {
    let mut out = ::http::HeaderMap::with_capacity(h.len());
    for (name, value) in h {
        if let (Ok(n), Ok(v)) = (
            ::http::HeaderName::from_bytes(name.as_str().as_bytes()),
            ::http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }
    out
}

/// A polling response compressed when it is at least `threshold` bytes and
/// the client accepts gzip or deflate (`httpCompression`).
async fn compressed(res: Response<Body>, threshold: usize, accept: &str) -> Response<Body> {
    use http_body_util::BodyExt;
    let Some(encoding) = http::pick_encoding(accept) else {
        return res;
    };
    let (mut parts, body) = res.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(never) => match never {},
    };
    if bytes.len() < threshold {
        return Response::from_parts(parts, Body::new(bytes));
    }
    match http::compress(encoding, &bytes) {
        Ok(z) => {
            parts.headers.insert(
                header::CONTENT_ENCODING,
                ::http::HeaderValue::from_static(encoding),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::new(Bytes::from(z)))
        }
        Err(_) => Response::from_parts(parts, Body::new(bytes)),
    }
}

/// What the handshake hooks and the layer above see of a request.
fn request_info<B>(req: &Request<B>) -> RequestInfo {
    RequestInfo {
        headers: detached_headers(req.headers()),
        query: req.uri().query().unwrap_or("").to_owned(),
        remote_addr: req.extensions().get::<RemoteAddr>().map(|r| r.0),
        secure: req.extensions().get::<Secure>().is_some(),
        // Re-parsed: hyper's URI shares its read buffer, like the headers.
        uri: req
            .uri()
            .to_string()
            .parse()
            .unwrap_or_else(|_| req.uri().clone()),
    }
}

/// The peer address of a connection, put in request extensions by the
/// standalone server so that handshakes can report it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

/// Marks a request that came over TLS, put in request extensions by the
/// TLS listener; a host that terminates TLS itself and mounts
/// [`service`](crate::Server::service) inserts it too, so that handshakes
/// report `secure` (as Node's `handshake.secure`).
#[derive(Debug, Clone, Copy)]
pub struct Secure;

pub(crate) struct Entry<C> {
    pub(crate) session: Arc<Session>,
    pub(crate) conn: Arc<C>,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Entry {
            session: self.session.clone(),
            conn: self.conn.clone(),
        }
    }
}

/// The Engine.IO server: every open session and the layer above.
pub(crate) struct Engine<H: Handler> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    sessions: RwLock<SidMap<Entry<H::Conn>>>,
    pub(crate) metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Turns to write a replay, first come first served (see
    /// `websocket::REPLAY_SLOTS`).
    pub(crate) replay_slots: Arc<tokio::sync::Semaphore>,
}

/// Parsed Engine.IO query parameters.
struct Query<'a> {
    eio: Option<Cow<'a, str>>,
    transport: Option<Cow<'a, str>>,
    sid: Option<Cow<'a, str>>,
    b64: Option<Cow<'a, str>>,
}

impl<'a> Query<'a> {
    /// Every request is parsed: plain keys and values are borrowed, only
    /// percent- or plus-encoded ones are decoded.
    fn parse(q: &'a str) -> Query<'a> {
        let mut out = Query {
            eio: None,
            transport: None,
            sid: None,
            b64: None,
        };
        let decode = |s: &'a str| -> Cow<'a, str> {
            if s.bytes().any(|b| b == b'%' || b == b'+') {
                Cow::Owned(http::form_decode(s))
            } else {
                Cow::Borrowed(s)
            }
        };
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match &*decode(k) {
                "EIO" => &mut out.eio,
                "transport" => &mut out.transport,
                // An empty sid is no sid (Node starts a new handshake).
                "sid" if !v.is_empty() => &mut out.sid,
                "b64" => &mut out.b64,
                _ => continue,
            };
            *slot = Some(decode(v));
        }
        out
    }
}

impl<H: Handler> Engine<H> {
    pub(crate) fn new(
        config: EngineConfig,
        handler: H,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Arc<Self> {
        Arc::new(Engine {
            config,
            handler,
            sessions: RwLock::new(SidMap::default()),
            metrics,
            replay_slots: Arc::new(tokio::sync::Semaphore::new(websocket::REPLAY_SLOTS)),
        })
    }

    /// Open sessions on long-polling (upgrading included) and on WebSocket.
    pub(crate) fn transport_counts(&self) -> (usize, usize) {
        let Ok(m) = self.sessions.read() else {
            return (0, 0);
        };
        let ws = m
            .values()
            .filter(|e| e.session.state() == STATE_WEBSOCKET)
            .count();
        (m.len() - ws, ws)
    }

    fn refused(&self, r: crate::metrics::Refusal) {
        if let Some(m) = &self.metrics {
            m.refused(r);
        }
    }

    fn get(&self, sid: &str) -> Option<Entry<H::Conn>> {
        let sid = Sid::parse(sid)?;
        self.sessions.read().ok()?.get(&sid).cloned()
    }

    fn insert(&self, entry: Entry<H::Conn>) {
        if let Ok(mut m) = self.sessions.write() {
            m.insert(entry.session.sid, entry);
        }
    }

    /// Number of open sessions.
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Closes every session with `reason`.
    pub(crate) fn close_all(&self, reason: CloseReason) {
        let all: Vec<_> = self
            .sessions
            .read()
            .map(|m| m.values().map(|e| e.session.clone()).collect())
            .unwrap_or_default();
        for s in all {
            s.close(reason);
        }
    }

    /// Removes a closed session and tells the layer above, exactly once.
    pub(crate) fn teardown(&self, entry: &Entry<H::Conn>) {
        let removed = self
            .sessions
            .write()
            .ok()
            .and_then(|mut m| m.remove(&entry.session.sid))
            .is_some();
        if removed {
            self.handler.on_close(&entry.conn, entry.session.reason());
        }
    }

    /// Handles one incoming text packet from either transport; returns false
    /// if the session must close.
    pub(crate) fn on_text(&self, entry: &Entry<H::Conn>, text: &str) -> bool {
        entry
            .session
            .activity
            .store(true, std::sync::atomic::Ordering::Relaxed);
        match Packet::decode(text) {
            Ok(Packet::Message(m)) => {
                if let Some(metrics) = &self.metrics {
                    metrics.received(crate::metrics::packet_type(m.as_bytes()), m.len());
                }
                self.handler.on_message(&entry.conn, Incoming::Text(m))
            }
            Ok(Packet::Pong(_)) if entry.session.eio3.is_none() => {
                entry.session.pong.notify_one();
            }
            // Protocol 3 reverses the heartbeat: the client pings, the
            // server answers (and counts the ping as a sign of life).
            Ok(Packet::Ping(_)) if entry.session.eio3.is_some() => {
                let _ = entry.session.try_send(Message::control("3"));
                entry.session.pong.notify_one();
            }
            // A heartbeat in the wrong direction: Node closes (transport error).
            Ok(Packet::Pong(_)) => {
                entry.session.close(CloseReason::TransportError);
                return false;
            }
            Ok(Packet::Close) => {
                entry.session.close(CloseReason::TransportClose);
                return false;
            }
            // v4 clients never ping outside an upgrade: the official server closes.
            Ok(Packet::Ping(_)) | Err(_) => {
                entry.session.close(CloseReason::ParseError);
                return false;
            }
            // Node ignores these from a client (an `open` included).
            Ok(Packet::Upgrade) | Ok(Packet::Noop) | Ok(Packet::Open(_)) => {}
        }
        true
    }

    pub(crate) fn on_binary(&self, entry: &Entry<H::Conn>, data: Bytes) {
        entry
            .session
            .activity
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            // The attachment of a binary packet: its bytes, typed apart.
            metrics.received(7, data.len());
        }
        self.handler.on_message(&entry.conn, Incoming::Binary(data));
    }

    /// As [`Self::on_binary`] with the bytes borrowed from the transport
    /// (a WebSocket frame): the layer above copies them only if it keeps
    /// them (a JSON attachment does, a msgpack packet does not).
    pub(crate) fn on_binary_ref(&self, entry: &Entry<H::Conn>, data: &[u8]) {
        entry
            .session
            .activity
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.received(7, data.len());
        }
        self.handler
            .on_message(&entry.conn, Incoming::BinaryRef(data));
    }

    fn open_packet(&self, sid: Sid, transport: Transport) -> String {
        let upgrades = if transport == Transport::Polling
            && self.config.allow_upgrades
            && self.config.transports.contains(&Transport::Websocket)
        {
            vec!["websocket".to_owned()]
        } else {
            vec![]
        };
        OpenPacket {
            sid: sid.to_string(),
            upgrades,
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload as u64,
        }
        .encode()
    }

    /// Creates a session and tells the layer above.
    fn open(
        &self,
        transport: Transport,
        info: &RequestInfo,
        eio3: Option<session::Eio3>,
    ) -> Entry<H::Conn> {
        let state = if transport == Transport::Polling {
            STATE_POLLING
        } else {
            STATE_WEBSOCKET
        };
        let mut session = Session::new(Sid::random(), self.config.max_buffer_size, state);
        session.eio3 = eio3;
        if let Some(m) = &self.metrics {
            m.opened.inc();
            session.metrics = Some(m.clone());
        }
        let session = Arc::new(session);
        let conn = self.handler.on_open(session.clone(), info);
        let entry = Entry { session, conn };
        self.insert(entry.clone());
        entry
    }

    /// Answers one HTTP request addressed to the Engine.IO path.
    pub(crate) async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let (Some(allowed), Some(o)) = (&self.config.allowed_origins, origin.as_deref())
            // Every request is checked: the request is copied only for a
            // policy that looks at it.
            && !allowed.allows_with(o, || request_info(&req))
        {
            tracing::info!(origin = o, "refused: not an accepted origin");
            self.refused(crate::metrics::Refusal::BadOrigin);
            return error_response(ErrorCode::BadRequest, Some("Not an accepted origin."));
        }
        let accept_encoding = req
            .headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let method = req.method().clone();
        let is_preflight = method == Method::OPTIONS;
        let mut res = if is_preflight {
            text_response(StatusCode::NO_CONTENT, Bytes::new(), "text/plain")
        } else {
            self.clone().route(req).await
        };
        if let (Some(threshold), Some(accept)) =
            (self.config.http_compression, accept_encoding.as_deref())
            && method == Method::GET
            && res.status() == StatusCode::OK
        {
            res = compressed(res, threshold, accept).await;
        }
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            apply_cors(
                self.config.cors.as_ref(),
                origin.as_deref(),
                is_preflight,
                &mut res,
            );
        }
        res
    }

    async fn route<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // Heartbeat deadlines count from here, not from when the session's
        // task first runs (after the answer may already have reached the client).
        let arrived = tokio::time::Instant::now();
        let query = Query::parse(req.uri().query().unwrap_or(""));
        let is_ws_upgrade = req
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        use crate::metrics::Refusal;
        let transport = match query.transport.as_deref().and_then(Transport::parse) {
            Some(t) if self.config.transports.contains(&t) => t,
            _ => {
                self.refused(Refusal::UnknownTransport);
                return error_response(ErrorCode::UnknownTransport, None);
            }
        };
        if let Some(o) = req.headers().get(header::ORIGIN)
            && o.as_bytes()
                .iter()
                .any(|b| *b == b'\r' || *b == b'\n' || *b == 0)
        {
            self.refused(Refusal::BadRequest);
            return error_response(ErrorCode::BadRequest, None);
        }
        if let Some(sid) = &query.sid {
            let Some(entry) = self.get(sid) else {
                self.refused(Refusal::UnknownSid);
                return error_response(ErrorCode::UnknownSid, None);
            };
            return match (transport, is_ws_upgrade) {
                (Transport::Websocket, true) => websocket::upgrade(self, req, entry),
                (Transport::Polling, false) => polling::request(self, req, entry).await,
                _ => error_response(ErrorCode::BadRequest, None),
            };
        }
        // Handshake.
        if req.method() != Method::GET {
            self.refused(Refusal::BadHandshakeMethod);
            return error_response(ErrorCode::BadHandshakeMethod, None);
        }
        // A WebSocket handshake must say so, and an upgrade request must ask for
        // the WebSocket transport (a polling session would be left dangling).
        if (transport == Transport::Websocket) != is_ws_upgrade {
            self.refused(Refusal::BadRequest);
            return error_response(ErrorCode::BadRequest, None);
        }
        let info = request_info(&req);
        if let Some(allow) = &self.config.allow_request
            && let Err(message) = allow(&info)
        {
            self.refused(Refusal::Forbidden);
            return error_response(ErrorCode::Forbidden, Some(&message));
        }
        // Node takes any EIO other than 4 as protocol 3.
        let eio3 = match query.eio.as_deref() {
            Some("4") => None,
            _ if self.config.allow_eio3 => Some(session::Eio3 {
                binary: query.b64.is_none(),
            }),
            _ => {
                self.refused(Refusal::UnsupportedProtocolVersion);
                return error_response(ErrorCode::UnsupportedProtocolVersion, None);
            }
        };
        if self.session_count() >= self.config.max_connections {
            self.refused(Refusal::TooManyConnections);
            let mut res = error_response(ErrorCode::Forbidden, Some("Too many connections"));
            *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return res;
        }
        match transport {
            Transport::Websocket => websocket::handshake(self, req, info, eio3),
            Transport::Polling => {
                let entry = self.open(Transport::Polling, &info, eio3);
                tokio::spawn(polling::owner(self.clone(), entry.clone(), arrived));
                let open = self.open_packet(entry.session.sid, Transport::Polling);
                let open = match eio3 {
                    Some(_) => polling::v3_text(&open),
                    None => open,
                };
                let mut res = text_response(StatusCode::OK, open, "text/plain; charset=UTF-8");
                self.set_cookie(&mut res, entry.session.sid);
                res
            }
        }
    }

    fn set_cookie(&self, res: &mut Response<Body>, sid: Sid) {
        if let Some(name) = &self.config.cookie {
            let value = format!("{name}={sid}; Path=/; HttpOnly; SameSite=Lax");
            if let Ok(v) = ::http::HeaderValue::from_str(&value) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
    }
}
