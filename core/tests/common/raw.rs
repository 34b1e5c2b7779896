//! A raw-protocol test client: hand-rolled HTTP/1.1 for long-polling,
//! tokio-tungstenite for WebSocket, and oxsio's own pure codecs for the
//! Engine.IO / Socket.IO framing. It lets tests send exactly the bytes they
//! want (including malformed ones) and see exactly what the server answers.
//!
//! Every wait is bounded: helpers take a timeout or use [`T`].
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use oxsio::Value;
use oxsio::codec::polling::{self, Record};
use oxsio::codec::socketio::{Decoder, Packet, PacketData};
use oxsio::{Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Default bound of every wait.
pub const T: Duration = Duration::from_secs(5);

/// The default Socket.IO path.
pub const PATH: &str = "/socket.io/";

/// Starts `io` on 127.0.0.1, port 0.
pub async fn serve(io: &Server) -> ServerHandle {
    io.listen("127.0.0.1:0").await.unwrap()
}

/// `<path>?EIO=4&transport=<t>[&sid=<sid>]`.
pub fn eio_url(path: &str, transport: &str, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("{path}?EIO=4&transport={transport}&sid={sid}"),
        None => format!("{path}?EIO=4&transport={transport}"),
    }
}

/// Waits until `f` holds, polling every 10 ms, at most `d`.
pub async fn eventually(d: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- HTTP ---------------------------------------------------------------

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// Asserts an Engine.IO error answer: `status` and `{"code":code,"message":message}`.
    pub fn assert_error(&self, status: u16, code: u64, message: &str) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.json(),
            serde_json::json!({"code": code, "message": message}),
            "body of {self:?}"
        );
    }
}

/// Sends `request` verbatim on a fresh connection and reads the response
/// until the server closes (send `Connection: close`).
pub async fn http_raw(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    tokio::time::timeout(T, http_raw_unbounded(addr, request.to_vec()))
        .await
        .expect("HTTP request timed out")
}

/// [`http_raw`] without its own timeout: for long polls, whose callers
/// bound the wait themselves.
async fn http_raw_unbounded(addr: SocketAddr, request: Vec<u8>) -> HttpResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request).await.unwrap();
    let mut buf = Vec::new();
    // A reset after the full response (server closing early) is fine.
    let _ = s.read_to_end(&mut buf).await;
    parse_response(&buf)
}

/// One HTTP/1.1 request with `Connection: close` and a `Content-Length`.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut req =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    http_raw(addr, &bytes).await
}

/// `GET path_and_query`.
pub async fn get(addr: SocketAddr, path_and_query: &str) -> HttpResponse {
    http(addr, "GET", path_and_query, &[], b"").await
}

/// `POST path_and_query` with a text/plain body.
pub async fn post(addr: SocketAddr, path_and_query: &str, body: &[u8]) -> HttpResponse {
    http(
        addr,
        "POST",
        path_and_query,
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body,
    )
    .await
}

fn parse_response(buf: &[u8]) -> HttpResponse {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(buf)));
    let head = std::str::from_utf8(&buf[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &buf[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest[..n.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = std::str::from_utf8(&rest[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        let end = (start + size).min(rest.len());
        out.extend_from_slice(&rest[start..end]);
        rest = &rest[(end + 2).min(rest.len())..];
    }
}

// ---- WebSocket ------------------------------------------------------------

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket frame as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame (with its code), or the stream ended / failed (`None`).
    Closed(Option<u16>),
}

/// Opens a WebSocket on `path_and_query` with extra request headers.
///
/// # Errors
/// The handshake failed (e.g. the server answered 400); the error carries
/// the HTTP response.
pub async fn ws_connect(
    addr: SocketAddr,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, Box<WsError>> {
    let mut req = format!("ws://{addr}{path_and_query}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    match tokio::time::timeout(T, tokio_tungstenite::connect_async(req)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(Box::new(e)),
        Err(_) => panic!("WebSocket handshake timed out"),
    }
}

/// The next data or close frame within `d`; `None` on timeout. Pings and
/// pongs are skipped.
pub async fn ws_recv(ws: &mut Ws, d: Duration) -> Option<Frame> {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        return Some(match next {
            Some(Ok(WsMessage::Text(t))) => Frame::Text(t.as_str().to_owned()),
            Some(Ok(WsMessage::Binary(b))) => Frame::Binary(b.to_vec()),
            Some(Ok(WsMessage::Close(c))) => Frame::Closed(c.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Frame::Closed(None),
        });
    }
}

/// Reads frames until the server closes (within `d`) and returns the close
/// code, if the close frame had one. Panics if the socket stays open.
pub async fn ws_close_code(ws: &mut Ws, d: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_recv(ws, left).await {
            Some(Frame::Closed(code)) => return code,
            Some(_) => continue,
            None => panic!("WebSocket still open after {d:?}"),
        }
    }
}

/// Sends a text frame whose payload may be invalid UTF-8.
pub async fn ws_send_raw_text(ws: &mut Ws, payload: Vec<u8>) {
    let frame = WsFrame::message(payload, OpCode::Data(Data::Text), true);
    ws.send(WsMessage::Frame(frame)).await.unwrap();
}

// ---- Engine.IO session ---------------------------------------------------

/// One incoming Engine.IO message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eio {
    /// A text packet, type character included (`4hello`, `2`, `6`…).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The session is over (close packet, close frame, 400, connection lost).
    Closed,
}

/// What [`Client::next`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Recv {
    Packet(Packet),
    Closed,
    Timeout,
}

enum Transport {
    Ws(Box<Ws>),
    Polling {
        /// A long-poll GET running in the background, kept across timeouts.
        pending: Option<JoinHandle<HttpResponse>>,
    },
}

/// A raw Engine.IO + Socket.IO client over WebSocket or long-polling.
pub struct Client {
    pub addr: SocketAddr,
    pub path: String,
    /// Engine.IO session id.
    pub sid: String,
    /// The handshake JSON of the open packet.
    pub open: serde_json::Value,
    /// Answer server pings (`2`) with `3` automatically (default true).
    pub auto_pong: bool,
    /// Number of server pings seen.
    pub pings: usize,
    /// The close code of the WebSocket close frame, once closed.
    pub close_code: Option<u16>,
    /// Engine.IO packets other than message/ping/noop/close seen while reading packets.
    pub other: Vec<String>,
    transport: Transport,
    decoder: Decoder,
    inbox: VecDeque<Eio>,
    backlog: VecDeque<Packet>,
    closed: bool,
}

fn parse_open(text: &str) -> (String, serde_json::Value) {
    let json = text
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("expected an open packet, got {text:?}"));
    let open: serde_json::Value = serde_json::from_str(json).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    (sid, open)
}

impl Client {
    /// A WebSocket session on the default path.
    pub async fn ws(addr: SocketAddr) -> Client {
        Client::ws_at(addr, PATH).await
    }

    /// A WebSocket session on `path`.
    pub async fn ws_at(addr: SocketAddr, path: &str) -> Client {
        Client::ws_with(addr, path, "", &[]).await
    }

    /// A WebSocket session on `path`, with extra query parameters
    /// (`a=1&b=2`, appended) and request headers.
    pub async fn ws_with(
        addr: SocketAddr,
        path: &str,
        extra_query: &str,
        headers: &[(&str, &str)],
    ) -> Client {
        let mut url = eio_url(path, "websocket", None);
        if !extra_query.is_empty() {
            url.push('&');
            url.push_str(extra_query);
        }
        let mut ws = ws_connect(addr, &url, headers)
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake failed: {e}"));
        let Some(Frame::Text(text)) = ws_recv(&mut ws, T).await else {
            panic!("no open packet on the WebSocket");
        };
        let (sid, open) = parse_open(&text);
        Client::new(addr, path, sid, open, Transport::Ws(Box::new(ws)))
    }

    /// A long-polling session on the default path.
    pub async fn polling(addr: SocketAddr) -> Client {
        Client::polling_at(addr, PATH).await
    }

    /// A long-polling session on `path`.
    pub async fn polling_at(addr: SocketAddr, path: &str) -> Client {
        Client::polling_with(addr, path, "", &[]).await
    }

    /// A long-polling session on `path`, with extra query parameters and
    /// handshake request headers.
    pub async fn polling_with(
        addr: SocketAddr,
        path: &str,
        extra_query: &str,
        headers: &[(&str, &str)],
    ) -> Client {
        let mut url = eio_url(path, "polling", None);
        if !extra_query.is_empty() {
            url.push('&');
            url.push_str(extra_query);
        }
        let res = http(addr, "GET", &url, headers, b"").await;
        assert_eq!(res.status, 200, "polling handshake: {res:?}");
        let (sid, open) = parse_open(&res.text());
        Client::new(addr, path, sid, open, Transport::Polling { pending: None })
    }

    fn new(
        addr: SocketAddr,
        path: &str,
        sid: String,
        open: serde_json::Value,
        transport: Transport,
    ) -> Client {
        Client {
            addr,
            path: path.to_owned(),
            sid,
            open,
            auto_pong: true,
            pings: 0,
            close_code: None,
            other: Vec::new(),
            transport,
            decoder: Decoder::default(),
            inbox: VecDeque::new(),
            backlog: VecDeque::new(),
            closed: false,
        }
    }

    /// True for a long-polling session.
    pub fn is_polling(&self) -> bool {
        matches!(self.transport, Transport::Polling { .. })
    }

    /// `<path>?EIO=4&transport=polling&sid=<sid>`.
    pub fn polling_url(&self) -> String {
        eio_url(&self.path, "polling", Some(&self.sid))
    }

    /// The WebSocket, for tests that need raw frames.
    pub fn ws_mut(&mut self) -> &mut Ws {
        match &mut self.transport {
            Transport::Ws(ws) => ws,
            Transport::Polling { .. } => panic!("not a WebSocket session"),
        }
    }

    // ---- sending ----

    /// Sends Engine.IO messages: on WebSocket one frame each, on polling all
    /// in one POST (joined with `\x1e`). Returns the POST response status
    /// (101 on WebSocket, by convention).
    pub async fn send_batch(&mut self, items: &[Eio]) -> u16 {
        match &mut self.transport {
            Transport::Ws(ws) => {
                for item in items {
                    let msg = match item {
                        Eio::Text(t) => WsMessage::text(t.clone()),
                        Eio::Binary(b) => WsMessage::binary(b.clone()),
                        Eio::Closed => WsMessage::Close(None),
                    };
                    // A server that closed the socket makes sends fail; tests
                    // observe that through the read side.
                    let _ = tokio::time::timeout(T, ws.send(msg)).await;
                }
                101
            }
            Transport::Polling { .. } => {
                let mut payload = String::new();
                for item in items {
                    match item {
                        Eio::Text(t) => polling::push_text(&mut payload, t),
                        Eio::Binary(b) => polling::push_binary(&mut payload, b),
                        Eio::Closed => polling::push_text(&mut payload, "1"),
                    }
                }
                let url = self.polling_url();
                post(self.addr, &url, payload.as_bytes()).await.status
            }
        }
    }

    /// Sends one Engine.IO text packet (type character included).
    pub async fn send_text(&mut self, packet: &str) -> u16 {
        self.send_batch(&[Eio::Text(packet.to_owned())]).await
    }

    /// Sends one binary Engine.IO message.
    pub async fn send_binary(&mut self, data: &[u8]) -> u16 {
        self.send_batch(&[Eio::Binary(data.to_vec())]).await
    }

    /// Sends a Socket.IO packet with its attachments.
    pub async fn send_packet(&mut self, packet: &Packet) {
        let (text, attachments) = packet.encode();
        let mut items = vec![Eio::Text(format!("4{text}"))];
        items.extend(attachments.into_iter().map(|b| Eio::Binary(b.to_vec())));
        self.send_batch(&items).await;
    }

    /// Emits an event on `nsp`.
    pub async fn emit(&mut self, nsp: &str, event: &str, args: Vec<Value>) {
        self.send_packet(&Packet::event(nsp, event, args, None))
            .await;
    }

    /// Emits an event on `nsp` asking for acknowledgement `id`.
    pub async fn emit_ack(&mut self, nsp: &str, event: &str, args: Vec<Value>, id: u64) {
        self.send_packet(&Packet::event(nsp, event, args, Some(id)))
            .await;
    }

    /// Answers server acknowledgement `id`.
    pub async fn ack(&mut self, nsp: &str, id: u64, args: Vec<Value>) {
        self.send_packet(&Packet::ack(nsp, args, id)).await;
    }

    /// Sends CONNECT for `nsp` (with optional auth) and waits for the
    /// answer: `Ok(socket id)` or `Err(connect_error payload)`. Other
    /// packets arriving meanwhile are kept for [`recv_packet`](Self::recv_packet).
    pub async fn connect_ns(
        &mut self,
        nsp: &str,
        auth: Option<serde_json::Value>,
    ) -> Result<String, Value> {
        let mut text = String::from("40");
        if nsp != "/" {
            text.push_str(nsp);
            text.push(',');
        }
        if let Some(auth) = auth {
            text.push_str(&auth.to_string());
        }
        self.send_text(&text).await;
        let mut skipped = VecDeque::new();
        let result = loop {
            let p = match self.next_raw(T).await {
                Recv::Packet(p) => p,
                other => panic!("no answer to CONNECT {nsp}: {other:?}"),
            };
            match (&p.nsp, &p.data) {
                (n, PacketData::Connect(Some(v))) if n == nsp => {
                    break Ok(v["sid"].as_str().unwrap().to_owned());
                }
                (n, PacketData::ConnectError(v)) if n == nsp => break Err(v.clone()),
                _ => skipped.push_back(p),
            }
        };
        self.backlog.extend(skipped);
        result
    }

    /// CONNECT to the main namespace; panics if refused.
    pub async fn connect(&mut self) -> String {
        self.connect_ns("/", None).await.unwrap()
    }

    // ---- receiving ----

    /// The next Engine.IO message within `d` (`None` on timeout). Server
    /// pings are answered when `auto_pong` is set but still returned.
    pub async fn recv_eio_timeout(&mut self, d: Duration) -> Option<Eio> {
        if let Some(item) = self.inbox.pop_front() {
            return Some(self.observe(item).await);
        }
        if self.closed {
            return Some(Eio::Closed);
        }
        let deadline = tokio::time::Instant::now() + d;
        let item = match &mut self.transport {
            Transport::Ws(ws) => match ws_recv(ws, d).await? {
                Frame::Text(t) => Eio::Text(t),
                Frame::Binary(b) => Eio::Binary(b),
                Frame::Closed(code) => {
                    self.close_code = code;
                    Eio::Closed
                }
            },
            Transport::Polling { pending } => {
                let addr = self.addr;
                let url = eio_url(&self.path, "polling", Some(&self.sid));
                let request =
                    format!("GET {url} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                let handle = pending.get_or_insert_with(|| {
                    tokio::spawn(http_raw_unbounded(addr, request.into_bytes()))
                });
                let res = match tokio::time::timeout_at(deadline, handle).await {
                    Err(_) => return None,
                    Ok(r) => {
                        *pending = None;
                        r
                    }
                };
                match res {
                    Ok(res) if res.status == 200 => {
                        let text = res.text();
                        for rec in polling::decode(&text) {
                            match rec {
                                Ok(Record::Text(t)) => self.inbox.push_back(Eio::Text(t.into())),
                                Ok(Record::Binary(b)) => {
                                    self.inbox.push_back(Eio::Binary(b.to_vec()))
                                }
                                Err(e) => panic!("server sent a bad payload {text:?}: {e}"),
                            }
                        }
                        match self.inbox.pop_front() {
                            Some(item) => item,
                            None => panic!("empty long-poll answer"),
                        }
                    }
                    _ => Eio::Closed,
                }
            }
        };
        Some(self.observe(item).await)
    }

    async fn observe(&mut self, item: Eio) -> Eio {
        match &item {
            Eio::Closed => self.closed = true,
            Eio::Text(t) if t == "1" => self.closed = true,
            Eio::Text(t) if t == "2" => {
                self.pings += 1;
                if self.auto_pong {
                    self.send_text("3").await;
                }
            }
            _ => {}
        }
        item
    }

    /// The next Engine.IO message; panics after [`T`].
    pub async fn recv_eio(&mut self) -> Eio {
        self.recv_eio_timeout(T)
            .await
            .expect("no Engine.IO message within the timeout")
    }

    async fn next_raw(&mut self, d: Duration) -> Recv {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(item) = self.recv_eio_timeout(left).await else {
                return Recv::Timeout;
            };
            let decoded = match item {
                Eio::Closed => return Recv::Closed,
                Eio::Text(t) => match t.as_bytes().first() {
                    Some(b'4') => self.decoder.decode_text(&t[1..]),
                    Some(b'1') => return Recv::Closed,
                    Some(b'2' | b'6') => continue,
                    _ => {
                        self.other.push(t);
                        continue;
                    }
                },
                Eio::Binary(b) => self.decoder.decode_binary(b.into()),
            };
            match decoded {
                Ok(Some(p)) => return Recv::Packet(p),
                Ok(None) => continue,
                Err(e) => panic!("server sent an invalid Socket.IO packet: {e}"),
            }
        }
    }

    /// The next Socket.IO packet, the session closing, or a timeout after `d`.
    pub async fn next(&mut self, d: Duration) -> Recv {
        if let Some(p) = self.backlog.pop_front() {
            return Recv::Packet(p);
        }
        self.next_raw(d).await
    }

    /// The next Socket.IO packet; panics on close or after [`T`].
    pub async fn recv_packet(&mut self) -> Packet {
        match self.next(T).await {
            Recv::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// The next packet, which must be an event: (nsp, name, args, ack id).
    pub async fn recv_event(&mut self) -> (String, String, Vec<Value>, Option<u64>) {
        let p = self.recv_packet().await;
        match p.data {
            PacketData::Event { event, args, id } => (p.nsp, event, args, id),
            other => panic!("expected an event, got {other:?} on {}", p.nsp),
        }
    }

    /// The next packet, which must be an ack: (nsp, id, args).
    pub async fn recv_ack(&mut self) -> (String, u64, Vec<Value>) {
        let p = self.recv_packet().await;
        match p.data {
            PacketData::Ack { args, id } => (p.nsp, id.expect("ack without id"), args),
            other => panic!("expected an ack, got {other:?} on {}", p.nsp),
        }
    }

    /// Waits (at most [`T`]) for the session to close; packets are skipped.
    pub async fn expect_closed(&mut self) {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_eio_timeout(left).await {
                Some(Eio::Closed) => return,
                Some(Eio::Text(t)) if t == "1" => return,
                Some(_) => continue,
                None => panic!("session {} still open after {T:?}", self.sid),
            }
        }
    }

    /// Asserts that no Socket.IO packet arrives and the session stays open for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        match self.next(d).await {
            Recv::Timeout => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }

    /// Upgrades a polling session to WebSocket (`2probe`, `3probe`, `5`).
    pub async fn upgrade(&mut self) {
        let url = eio_url(&self.path, "websocket", Some(&self.sid));
        let mut ws = ws_connect(self.addr, &url, &[]).await.unwrap();
        ws.send(WsMessage::text("2probe")).await.unwrap();
        assert_eq!(
            ws_recv(&mut ws, T).await,
            Some(Frame::Text("3probe".into()))
        );
        // Release our own pending long-poll, if any: the server answers `6`.
        if let Transport::Polling {
            pending: Some(handle),
        } = &mut self.transport
        {
            let res = tokio::time::timeout(T, handle).await.unwrap().unwrap();
            for rec in polling::decode(&res.text()).flatten() {
                match rec {
                    Record::Text("6") => {}
                    Record::Text(t) => self.inbox.push_back(Eio::Text(t.into())),
                    Record::Binary(b) => self.inbox.push_back(Eio::Binary(b.to_vec())),
                }
            }
        }
        ws.send(WsMessage::text("5")).await.unwrap();
        self.transport = Transport::Ws(Box::new(ws));
    }
}

/// Base64 of `data`, as polling `b` records carry it.
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// The compact JSON text of a [`Value`] (placeholders for binaries).
pub fn json_text(v: &Value) -> String {
    let mut out = String::new();
    let mut att = Vec::new();
    v.write_json(&mut out, &mut att);
    out
}

/// `Value` from a `serde_json::Value`.
pub fn v(j: serde_json::Value) -> Value {
    Value::from(j)
}

/// A binary `Value`.
pub fn bin(b: &[u8]) -> Value {
    Value::from(b.to_vec())
}
