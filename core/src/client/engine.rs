//! The Engine.IO v4 client: handshake over polling or WebSocket, the
//! polling→WebSocket upgrade, and the heartbeat watch (a server that stops
//! pinging is declared dead after pingInterval + pingTimeout).
//!
//! One task per connection owns the transport; the layer above talks to it
//! through a bounded queue of outgoing messages and a queue of events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::ClientError;
use super::tls::dial;
use super::websocket::{ClientWs, WsData};
use crate::codec::engineio::{OpenPacket, Packet};
use crate::codec::polling::{self, Record};
use crate::codec::polling_v3::{self, V3Packet, V3Record};
use crate::engineio::session::Signal;
use crate::engineio::{Message, Transport};

type Ws = ClientWs;

/// Where and how to connect.
pub(crate) struct Target {
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    /// Extra query, already encoded (`a=1&b=2`), may be empty.
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) transports: Vec<Transport>,
    pub(crate) upgrade: bool,
    /// Offer permessage-deflate; compress messages from this size.
    pub(crate) deflate: Option<usize>,
    /// Largest WebSocket message accepted from the server (inflated size).
    pub(crate) max_payload: usize,
    /// Engine.IO protocol 3 (a Socket.IO 2.x server).
    pub(crate) eio3: bool,
}

impl Target {
    fn uri(&self, transport: Transport, sid: Option<&str>, ws: bool) -> String {
        let scheme = match (ws, self.tls.is_some()) {
            (true, true) => "wss",
            (true, false) => "ws",
            (false, true) => "https",
            (false, false) => "http",
        };
        let mut s = format!(
            "{scheme}://{}:{}{}?EIO={}&transport={}",
            self.host,
            self.port,
            self.path,
            if self.eio3 { 3 } else { 4 },
            transport.as_str()
        );
        // Protocol 3 polling carries binary as base64 text both ways.
        if self.eio3 && transport == Transport::Polling {
            s.push_str("&b64=1");
        }
        if let Some(sid) = sid {
            s.push_str("&sid=");
            s.extend(form_urlencoded::byte_serialize(sid.as_bytes()));
        }
        if !self.query.is_empty() {
            s.push('&');
            s.push_str(&self.query);
        }
        s
    }

    /// The path and query of a request (`/socket.io/?EIO=4&…`).
    fn path_query(&self, transport: Transport, sid: Option<&str>) -> String {
        let uri = self.uri(transport, sid, false);
        uri.splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_else(|| "/".into())
    }

    pub(crate) fn host_header(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The server's handshake.
#[derive(Debug, Clone)]
pub(crate) struct OpenInfo {
    pub(crate) sid: String,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_payload: usize,
    upgrades: Vec<String>,
    /// The connection is on WebSocket now (from the start, or upgraded):
    /// `maxPayload` then bounds each frame, binary counted raw.
    pub(crate) on_websocket: Arc<std::sync::atomic::AtomicBool>,
}

fn parse_open(text: &str) -> Result<OpenInfo, ClientError> {
    match Packet::decode(text) {
        Ok(Packet::Open(json)) => {
            let o: OpenPacket = serde_json::from_str(json)
                .map_err(|e| ClientError::Protocol(format!("bad handshake: {e}")))?;
            Ok(OpenInfo {
                sid: o.sid,
                ping_interval: Duration::from_millis(o.ping_interval),
                ping_timeout: Duration::from_millis(o.ping_timeout),
                max_payload: usize::try_from(o.max_payload).unwrap_or(usize::MAX),
                upgrades: o.upgrades,
                on_websocket: Arc::default(),
            })
        }
        _ => Err(ClientError::Protocol(format!(
            "expected an open packet, got {:?}",
            truncate(text)
        ))),
    }
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Why an Engine.IO connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineClose {
    /// The server closed the connection.
    TransportClose,
    /// I/O or HTTP error.
    TransportError(String),
    /// No ping from the server in time.
    PingTimeout,
    /// The server sent something undecodable.
    ParseError,
    /// We closed it.
    Client,
}

/// What the engine reports upward.
#[derive(Debug)]
pub(crate) enum EngineEvent {
    Text(String),
    Binary(Bytes),
    Closed(EngineClose),
}

/// The upper layer's side of a live connection.
pub(crate) struct EngineHandle {
    pub(crate) tx: mpsc::Sender<Message>,
    pub(crate) open: OpenInfo,
    pub(crate) close: Arc<Signal>,
}

/// Opens a connection; the returned receiver yields events until `Closed`.
pub(crate) async fn connect(
    target: Arc<Target>,
    capacity: usize,
) -> Result<(EngineHandle, mpsc::Receiver<EngineEvent>), ClientError> {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let close = Arc::new(Signal::default());
    let first = *target
        .transports
        .first()
        .ok_or_else(|| ClientError::InvalidUrl("no transport allowed".into()))?;
    let open = match first {
        Transport::Websocket => {
            let (mut ws, open) = ws_handshake(&target, None).await?;
            open.on_websocket
                .store(true, std::sync::atomic::Ordering::Release);
            let (open2, close2) = (open.clone(), close.clone());
            tokio::spawn(async move {
                let mut rx = rx;
                let why = ws_loop(&mut ws, &mut rx, &ev_tx, &open2, &close2, Instant::now()).await;
                let _ = ev_tx.send(EngineEvent::Closed(why)).await;
            });
            open
        }
        Transport::Polling => {
            let mut lanes = Lanes::default();
            let (status, body) = lanes
                .get
                .request(
                    &target,
                    Method::GET,
                    target.uri(Transport::Polling, None, false),
                    Bytes::new(),
                )
                .await?;
            if status != StatusCode::OK {
                return Err(ClientError::Http(
                    status.as_u16(),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
            }
            let text = std::str::from_utf8(&body)
                .map_err(|_| ClientError::Protocol("handshake is not UTF-8".into()))?;
            let records: Vec<String> = if target.eio3 {
                polling_v3::decode_text(text)
                    .map_err(|e| ClientError::Protocol(format!("bad handshake payload: {e}")))?
                    .into_iter()
                    .filter_map(|p| match p {
                        V3Packet::Text(t) => Some(t),
                        V3Packet::Binary(_) => None,
                    })
                    .collect()
            } else {
                text.split(polling::SEPARATOR).map(str::to_owned).collect()
            };
            let mut records = records.into_iter();
            let open = parse_open(&records.next().unwrap_or_default())?;
            // Packets the server sent with the handshake go up first.
            for rest in records {
                if let Ok(Packet::Message(m)) = Packet::decode(&rest) {
                    let _ = ev_tx.send(EngineEvent::Text(m.to_owned())).await;
                }
            }
            let (open2, close2) = (open.clone(), close.clone());
            tokio::spawn(async move {
                let mut rx = rx;
                let why = polling_loop(target, lanes, &mut rx, &ev_tx, &open2, &close2).await;
                let _ = ev_tx.send(EngineEvent::Closed(why)).await;
            });
            open
        }
    };
    Ok((EngineHandle { tx, open, close }, ev_rx))
}

async fn ws_open(target: &Target, sid: Option<&str>) -> Result<Ws, ClientError> {
    ClientWs::connect(target, &target.path_query(Transport::Websocket, sid)).await
}

async fn ws_handshake(target: &Target, sid: Option<&str>) -> Result<(Ws, OpenInfo), ClientError> {
    let mut ws = ws_open(target, sid).await?;
    match ws.next().await {
        Some(Ok(WsData::Text(t))) => Ok((ws, parse_open(&t)?)),
        Some(Ok(WsData::Binary(_))) => Err(ClientError::Protocol(
            "expected an open packet, got a binary message".into(),
        )),
        Some(Err(e)) => Err(e),
        None => Err(ClientError::Connect(
            "connection closed during handshake".into(),
        )),
    }
}

/// Reads and writes a WebSocket connection until it ends.
async fn ws_loop(
    ws: &mut Ws,
    rx: &mut mpsc::Receiver<Message>,
    events: &mpsc::Sender<EngineEvent>,
    open: &OpenInfo,
    close: &Signal,
    last_ping: Instant,
) -> EngineClose {
    let dead_after = open.ping_interval + open.ping_timeout;
    let watchdog = tokio::time::sleep_until(last_ping + dead_after);
    tokio::pin!(watchdog);
    let eio3 = ws.eio3;
    let pinger = tokio::time::sleep(open.ping_interval);
    tokio::pin!(pinger);
    loop {
        tokio::select! {
            biased;
            () = close.wait() => {
                while let Ok(m) = rx.try_recv() {
                    feed(ws, &m);
                }
                ws.feed_text("1");
                ws.close().await;
                return EngineClose::Client;
            }
            m = rx.recv() => {
                let Some(m) = m else { return EngineClose::Client };
                feed(ws, &m);
                let mut n = 1;
                while n < 64 {
                    let Ok(more) = rx.try_recv() else { break };
                    feed(ws, &more);
                    n += 1;
                }
                if ws.flush().await.is_err() {
                    return EngineClose::TransportError("write failed".into());
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(WsData::Text(t))) => match Packet::decode(&t) {
                    // Protocol 3: the server answers our pings.
                    Ok(Packet::Pong(_)) if eio3 => {
                        watchdog.as_mut().reset(Instant::now() + dead_after);
                    }
                    Ok(Packet::Ping(_)) if !eio3 => {
                        watchdog.as_mut().reset(Instant::now() + dead_after);
                        if ws.send_text("3").await.is_err() {
                            return EngineClose::TransportError("write failed".into());
                        }
                    }
                    Ok(Packet::Message(m)) => {
                        if events.send(EngineEvent::Text(m.to_owned())).await.is_err() {
                            return EngineClose::Client;
                        }
                    }
                    Ok(Packet::Close) => return EngineClose::TransportClose,
                    Ok(Packet::Noop | Packet::Ping(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Open(_)) => {}
                    Err(_) => return EngineClose::ParseError,
                },
                Some(Ok(WsData::Binary(b))) => {
                    if events.send(EngineEvent::Binary(b)).await.is_err() {
                        return EngineClose::Client;
                    }
                }
                None => return EngineClose::TransportClose,
                Some(Err(e)) => return EngineClose::TransportError(e.to_string()),
            },
            () = &mut pinger, if eio3 => {
                if ws.send_text("2").await.is_err() {
                    return EngineClose::TransportError("write failed".into());
                }
                pinger.as_mut().reset(Instant::now() + open.ping_interval);
            }
            () = &mut watchdog => return EngineClose::PingTimeout,
        }
    }
}

/// Queues one message's frames: its text packet (a msgpack packet has
/// none: its binary frame alone), then its attachments.
fn feed(ws: &mut Ws, m: &Message) {
    if !m.text.is_empty() {
        ws.feed_text(m.text.as_str());
    }
    for a in m.attachments.iter().flat_map(|a| a.iter()) {
        ws.feed_binary(a);
    }
}

/// One HTTP/1.1 keep-alive connection, re-dialed when it drops.
#[derive(Default)]
struct Lane {
    conn: Option<SendRequest<Full<Bytes>>>,
}

#[derive(Default)]
struct Lanes {
    get: Lane,
    post: Lane,
}

impl Lane {
    async fn request(
        &mut self,
        target: &Target,
        method: Method,
        uri: String,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let reusable = match self.conn.take() {
            Some(mut c) => c.ready().await.is_ok().then_some(c),
            None => None,
        };
        let conn = match reusable {
            Some(c) => c,
            None => {
                let io = dial(&target.host, target.port, target.tls.as_ref()).await?;
                let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(io))
                    .await
                    .map_err(|e| ClientError::Connect(e.to_string()))?;
                tokio::spawn(driver);
                sender
            }
        };
        let mut conn = conn;
        let path_and_query = uri
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_else(|| "/".into());
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, target.host_header())
            .body(Full::new(body.clone()))
            .map_err(|e| ClientError::InvalidUrl(e.to_string()))?;
        for (k, v) in &target.headers {
            req.headers_mut().append(k, v.clone());
        }
        if !body.is_empty() {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain;charset=UTF-8"),
            );
        }
        let res = conn
            .send_request(req)
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?
            .to_bytes();
        self.conn = Some(conn);
        Ok((status, bytes))
    }
}

type Pending<T> = Option<BoxFuture<'static, T>>;

/// A finished request: the lane back (for reuse) and the answer.
type Reply = (Lane, Result<(StatusCode, Bytes), ClientError>);

async fn maybe<T>(f: &mut Pending<T>) -> T {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

fn start_get(target: &Arc<Target>, mut lane: Lane, sid: &str) -> BoxFuture<'static, Reply> {
    let (target, uri) = (
        target.clone(),
        target.uri(Transport::Polling, Some(sid), false),
    );
    async move {
        let r = lane.request(&target, Method::GET, uri, Bytes::new()).await;
        (lane, r)
    }
    .boxed()
}

fn start_post(
    target: &Arc<Target>,
    mut lane: Lane,
    sid: &str,
    body: String,
) -> BoxFuture<'static, Reply> {
    let (target, uri) = (
        target.clone(),
        target.uri(Transport::Polling, Some(sid), false),
    );
    async move {
        let r = lane
            .request(&target, Method::POST, uri, Bytes::from(body))
            .await;
        (lane, r)
    }
    .boxed()
}

/// Probes a WebSocket for the upgrade: `2probe` → `3probe`.
async fn probe(target: Arc<Target>, sid: String) -> Result<Ws, ClientError> {
    let mut ws = ws_open(&target, Some(&sid)).await?;
    ws.send_text("2probe").await?;
    match ws.next().await {
        Some(Ok(WsData::Text(t))) if t == "3probe" => Ok(ws),
        _ => Err(ClientError::Protocol("upgrade probe failed".into())),
    }
}

/// Builds one POST body: control packets, then queued messages up to `max` bytes.
fn take_batch(
    control: &mut Vec<&'static str>,
    outbox: &mut VecDeque<Message>,
    max: usize,
    eio3: bool,
) -> String {
    if eio3 {
        return take_batch_v3(control, outbox, max);
    }
    let mut body = String::new();
    for c in control.drain(..) {
        polling::push_text(&mut body, c);
    }
    while let Some(m) = outbox.front() {
        let size = m.text.len()
            + m.attachments
                .as_ref()
                .map_or(0, |a| a.iter().map(|b| b.len().div_ceil(3) * 4 + 2).sum());
        if !body.is_empty() && body.len() + size + 1 > max {
            break;
        }
        let Some(m) = outbox.pop_front() else { break };
        if !m.text.is_empty() {
            polling::push_text(&mut body, &m.text);
        }
        for a in m.attachments.iter().flat_map(|a| a.iter()) {
            polling::push_binary(&mut body, a);
        }
    }
    body
}

/// [`take_batch`] for protocol 3: length-prefixed packets, binary as `b4` + base64.
fn take_batch_v3(
    control: &mut Vec<&'static str>,
    outbox: &mut VecDeque<Message>,
    max: usize,
) -> String {
    let mut taken: Vec<Message> = Vec::new();
    let mut size = 0;
    while let Some(m) = outbox.front() {
        let len = m.text.len()
            + m.attachments
                .as_ref()
                .map_or(0, |a| a.iter().map(|b| b.len().div_ceil(3) * 4 + 8).sum());
        if !taken.is_empty() && size + len + 8 > max {
            break;
        }
        let Some(m) = outbox.pop_front() else { break };
        size += len + 8;
        taken.push(m);
    }
    let mut records: Vec<V3Record<'_>> = control.iter().map(|c| V3Record::Text(c)).collect();
    for m in &taken {
        if !m.text.is_empty() {
            records.push(V3Record::Text(m.text.as_str()));
        }
        for a in m.attachments.iter().flat_map(|a| a.iter()) {
            records.push(V3Record::Binary(a));
        }
    }
    let mut out = Vec::new();
    if !records.is_empty() {
        polling_v3::encode(&records, false, &mut out);
    }
    control.clear();
    String::from_utf8(out).unwrap_or_default()
}

/// The packets of a poll's answer: Engine.IO text packets and binary messages.
fn poll_records(body: &Bytes, eio3: bool) -> Result<Vec<V3Packet>, EngineClose> {
    let text = std::str::from_utf8(body).map_err(|_| EngineClose::ParseError)?;
    if eio3 {
        return polling_v3::decode_text(text).map_err(|_| EngineClose::ParseError);
    }
    polling::decode(text)
        .map(|r| match r {
            Ok(Record::Text(t)) => Ok(V3Packet::Text(t.to_owned())),
            Ok(Record::Binary(b)) => Ok(V3Packet::Binary(b)),
            Err(_) => Err(EngineClose::ParseError),
        })
        .collect()
}

/// Long-polling until closed, or until upgraded (then WebSocket until closed).
async fn polling_loop(
    target: Arc<Target>,
    lanes: Lanes,
    rx: &mut mpsc::Receiver<Message>,
    events: &mpsc::Sender<EngineEvent>,
    open: &OpenInfo,
    close: &Signal,
) -> EngineClose {
    let sid = open.sid.clone();
    let dead_after = open.ping_interval + open.ping_timeout;
    let pinger = tokio::time::sleep(open.ping_interval);
    tokio::pin!(pinger);
    let watchdog = tokio::time::sleep(dead_after);
    tokio::pin!(watchdog);
    let mut last_ping = Instant::now();
    let Lanes {
        get: get_lane,
        post: post_lane,
    } = lanes;
    let mut get: Pending<Reply> = Some(start_get(&target, get_lane, &sid));
    let mut post: Pending<Reply> = None;
    let mut post_lane = Some(post_lane);
    let mut control: Vec<&'static str> = Vec::new();
    let mut outbox: VecDeque<Message> = VecDeque::new();
    let can_upgrade = target.upgrade
        && target.transports.contains(&Transport::Websocket)
        && open.upgrades.iter().any(|u| u == "websocket");
    let mut upgrade: Pending<Result<Ws, ClientError>> =
        can_upgrade.then(|| probe(target.clone(), sid.clone()).boxed());
    let mut upgraded: Option<Ws> = None;
    loop {
        if let Some(ws) = upgraded.as_mut() {
            if get.is_none() && post.is_none() {
                let mut ws = upgraded.take().unwrap_or_else(|| unreachable!());
                // Whatever polling had not sent yet goes first, in order.
                ws.feed_text("5");
                for m in outbox.drain(..) {
                    feed(&mut ws, &m);
                }
                if ws.flush().await.is_err() {
                    return EngineClose::TransportError("upgrade failed".into());
                }
                return ws_loop(&mut ws, rx, events, open, close, last_ping).await;
            }
            let _ = ws;
        }
        let post_idle = post.is_none() && upgraded.is_none();
        let has_output = !control.is_empty() || !outbox.is_empty();
        tokio::select! {
            biased;
            () = close.wait() => {
                // Graceful: what is queued goes out first, then the close packet.
                let flush = async {
                    if let Some(in_flight) = post.take() {
                        post_lane = Some(in_flight.await.0);
                    }
                    while let Ok(m) = rx.try_recv() {
                        outbox.push_back(m);
                    }
                    let Some(lane) = post_lane.as_mut() else { return };
                    loop {
                        let mut body = take_batch(&mut control, &mut outbox, open.max_payload, target.eio3);
                        let last = outbox.is_empty();
                        if last && target.eio3 {
                            body.push_str("1:1");
                        } else if last {
                            polling::push_text(&mut body, "1");
                        }
                        let uri = target.uri(Transport::Polling, Some(&sid), false);
                        if lane.request(&target, Method::POST, uri, Bytes::from(body)).await.is_err() || last {
                            return;
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), flush).await;
                return EngineClose::Client;
            }
            (lane, r) = maybe(&mut get) => {
                get = None;
                let body = match r {
                    Ok((StatusCode::OK, body)) => body,
                    Ok((status, body)) => return EngineClose::TransportError(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => return EngineClose::TransportError(e.to_string()),
                };
                let records = match poll_records(&body, target.eio3) {
                    Ok(r) => r,
                    Err(why) => return why,
                };
                for record in records {
                    let event = match record {
                        V3Packet::Text(t) => match Packet::decode(&t) {
                            Ok(Packet::Ping(_)) if !target.eio3 => {
                                last_ping = Instant::now();
                                watchdog.as_mut().reset(last_ping + dead_after);
                                control.push("3");
                                continue;
                            }
                            // Protocol 3: the server answers our pings.
                            Ok(Packet::Pong(_)) if target.eio3 => {
                                last_ping = Instant::now();
                                watchdog.as_mut().reset(last_ping + dead_after);
                                continue;
                            }
                            Ok(Packet::Message(m)) => EngineEvent::Text(m.to_owned()),
                            Ok(Packet::Close) => return EngineClose::TransportClose,
                            Ok(_) => continue,
                            Err(_) => return EngineClose::ParseError,
                        },
                        V3Packet::Binary(b) => EngineEvent::Binary(b),
                    };
                    if events.send(event).await.is_err() {
                        return EngineClose::Client;
                    }
                }
                if upgraded.is_none() {
                    get = Some(start_get(&target, lane, &sid));
                }
            }
            (lane, r) = maybe(&mut post) => {
                post = None;
                post_lane = Some(lane);
                match r {
                    Ok((StatusCode::OK, _)) => {}
                    Ok((status, body)) => return EngineClose::TransportError(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => return EngineClose::TransportError(e.to_string()),
                }
            }
            m = rx.recv(), if upgraded.is_none() && outbox.len() < 1024 => {
                let Some(m) = m else { return EngineClose::Client };
                outbox.push_back(m);
                while outbox.len() < 1024 {
                    let Ok(m) = rx.try_recv() else { break };
                    outbox.push_back(m);
                }
            }
            () = &mut pinger, if target.eio3 && upgraded.is_none() => {
                // Protocol 3: the client pings every interval.
                control.push("2");
                pinger.as_mut().reset(Instant::now() + open.ping_interval);
            }
            () = std::future::ready(()), if post_idle && has_output => {
                let body = take_batch(&mut control, &mut outbox, open.max_payload, target.eio3);
                if let Some(lane) = post_lane.take() {
                    post = Some(start_post(&target, lane, &sid, body));
                }
            }
            r = maybe(&mut upgrade) => {
                upgrade = None;
                if let Ok(ws) = r {
                    open.on_websocket
                        .store(true, std::sync::atomic::Ordering::Release);
                    upgraded = Some(ws);
                }
            }
            () = &mut watchdog => return EngineClose::PingTimeout,
        }
    }
}
