//! Hostile input: a table of cases (tests/hostile/cases.rs), each run over
//! WebSocket and over long-polling where that applies, each with its
//! expected outcome written beside it: what the official Node server
//! (socket.io 4.8 / engine.io 6.6, see PROTOCOL.md) answers, and, for the
//! few known deviations, what oxsio answers instead and why.
//!
//! After every case a fresh, well-behaved client must still connect and get
//! its echo acknowledged. Half-open TCP connections and slowloris requests
//! stay open during the whole run (they must not block anyone) and must be
//! gone, with their tasks, at the end. A summary table
//! `class × transport → count, outcomes, deviations, crashes` is printed.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "hostile/cases.rs"]
mod cases;
mod common;
#[path = "hostile/scenarios.rs"]
mod scenarios;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cases::{Act, Case, Expect, Pre, RawFrame, Tr};
use common::raw::{self, Client, Eio, T};
use futures_util::{SinkExt, StreamExt};
use oxsio::{Event, Server, ServerHandle, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame as WsFrame, FrameHeader};

/// maxPayload of the main server (small, so limits are cheap to reach).
pub const MAX: usize = 1000;
/// maxPayload of the server for huge names and bodies.
pub const BIG: usize = 2_000_000;

/// Connect timeout of the main and big servers: each connection keeps a
/// timer task this long, even after it closed (see the report).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The servers every case runs against.
pub struct Apps {
    /// maxPayload 1000, pings every 2 s, upgrade timeout 800 ms.
    pub main: ServerHandle,
    /// maxPayload 2 000 000.
    pub big: ServerHandle,
    /// Pings every 200 ms (200 ms timeout), connect timeout 600 ms: sessions
    /// that stop answering expire fast.
    pub short: ServerHandle,
}

impl Apps {
    pub fn main(&self) -> SocketAddr {
        self.main.local_addr()
    }
    pub fn big(&self) -> SocketAddr {
        self.big.local_addr()
    }
    pub fn short(&self) -> SocketAddr {
        self.short.local_addr()
    }
}

/// A server whose sockets, on every namespace: ack `echo` with its
/// arguments, `join` a room (ack: the name's length), ack `rooms` with
/// their room count.
fn app(max_payload: usize, ping: Duration, connect_timeout: Duration) -> Server {
    let io = Server::builder()
        .max_payload(max_payload)
        .ping_interval(ping)
        .ping_timeout(ping)
        .upgrade_timeout(Duration::from_millis(800))
        .connect_timeout(connect_timeout)
        .build();
    let handlers = |socket: Socket| {
        socket.on("echo", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
        socket.on("join", |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default().to_owned();
            ev.socket.join(room.as_str());
            if let Some(ack) = ev.ack {
                let _ = ack.send(room.len());
            }
        });
        socket.on("rooms", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.socket.rooms().len());
            }
        });
    };
    io.on_connection(handlers);
    io.of("/admin").on_connection(handlers);
    io.of_dynamic(|name| name.starts_with("/dyn-"))
        .on_connection(handlers);
    io
}

// ---- reading and checking -------------------------------------------------

/// What the client saw next (pings are answered and skipped, noops and
/// binary attachments skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Text(String),
    Closed(Option<u16>),
}

/// The next meaningful Engine.IO message within `d`.
pub async fn next_seen(c: &mut Client, d: Duration) -> Result<Seen, String> {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.recv_eio_timeout(left).await {
            None => return Err(format!("nothing within {d:?}")),
            Some(Eio::Closed) => return Ok(Seen::Closed(c.close_code)),
            Some(Eio::Text(t)) if t == "1" => return Ok(Seen::Closed(None)),
            Some(Eio::Text(t)) if t == "2" || t == "6" => continue,
            Some(Eio::Binary(_)) => continue,
            Some(Eio::Text(t)) => return Ok(Seen::Text(t)),
        }
    }
}

/// `pattern` matches `text`: exactly, or as a prefix when it ends in `*`.
pub fn matches(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => pattern == text,
    }
}

pub fn short(s: &str) -> String {
    if s.len() <= 120 {
        format!("{s:?}")
    } else {
        let mut end = 100;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{:?}…({} bytes)", &s[..end], s.len())
    }
}

/// Expects the next message to match `pattern`.
pub async fn expect_reply(c: &mut Client, pattern: &str) -> Result<(), String> {
    match next_seen(c, T).await? {
        Seen::Text(t) if matches(pattern, &t) => Ok(()),
        other => Err(format!("expected {}, got {other:?}", short(pattern))),
    }
}

/// Expects the session to be closed within [`T`] (messages before the close
/// are allowed).
pub async fn expect_closed(c: &mut Client) -> Result<Option<u16>, String> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_seen(c, left).await {
            Ok(Seen::Closed(code)) => return Ok(code),
            Ok(Seen::Text(_)) => continue,
            Err(e) => return Err(format!("session still open: {e}")),
        }
    }
}

/// The session is alive: (re)joins `/` when `joined` is false, then an
/// `echo` with ack id 999 comes back as the very next message.
pub async fn expect_alive(c: &mut Client, joined: bool) -> Result<(), String> {
    if !joined {
        c.send_text("40").await;
        match next_seen(c, T).await? {
            Seen::Text(t) if t.starts_with("40{\"sid\":") => {}
            other => return Err(format!("re-CONNECT answered {other:?}")),
        }
    }
    c.send_text(r#"42999["echo","alive"]"#).await;
    match next_seen(c, T).await? {
        Seen::Text(t) if t == r#"43999["alive"]"# => Ok(()),
        other => Err(format!("session not alive: echo answered {other:?}")),
    }
}

/// A fresh client on `tr` connects to `/` and gets its echo acked.
pub async fn healthy(addr: SocketAddr, tr: Tr) -> Result<(), String> {
    let mut c = client(addr, tr).await;
    expect_alive(&mut c, false).await
}

/// A new session on `tr` (WebSocket or polling).
pub async fn client(addr: SocketAddr, tr: Tr) -> Client {
    match tr {
        Tr::Ws => Client::ws(addr).await,
        Tr::Polling => Client::polling(addr).await,
    }
}

/// A new session on `tr`, joined as `pre` says.
pub async fn session(addr: SocketAddr, tr: Tr, pre: Pre) -> Client {
    let mut c = client(addr, tr).await;
    match pre {
        Pre::None => {}
        Pre::Root => {
            c.connect().await;
        }
        Pre::Admin => {
            c.connect().await;
            c.connect_ns("/admin", None).await.unwrap();
        }
    }
    c
}

// ---- raw HTTP -----------------------------------------------------------------

/// A raw HTTP exchange: writes `request`, reads the head, then the body
/// (Content-Length) or, after a 101, the first WebSocket frame's payload.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Result<(u16, Vec<u8>), String> {
    tokio::time::timeout(T, async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        s.write_all(request).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(format!(
                    "connection closed before a response head: {:?}",
                    String::from_utf8_lossy(&buf)
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad head {head:?}"))?;
        let mut rest = buf[head_end..].to_vec();
        if status == 101 {
            // First frame: server frames are unmasked.
            while rest.len() < 2 {
                let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Ok((status, Vec::new()));
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            let (len, start) = match rest[1] & 0x7f {
                126 => {
                    while rest.len() < 4 {
                        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                        if n == 0 {
                            return Ok((status, Vec::new()));
                        }
                        rest.extend_from_slice(&chunk[..n]);
                    }
                    (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4)
                }
                n => (usize::from(n), 2),
            };
            while rest.len() < start + len {
                let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            let end = (start + len).min(rest.len());
            let mut frame = vec![rest[0]];
            frame.extend_from_slice(&rest[start..end]);
            return Ok((status, frame));
        }
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while rest.len() < len {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        Ok((status, rest))
    })
    .await
    .map_err(|_| "no HTTP response in time".to_owned())?
}

/// A WebSocket handshake request for `target`, with the standard headers
/// unless overridden or removed (`("Sec-WebSocket-Key", "")` removes it).
pub fn ws_request(target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut std_headers = vec![
        ("Host", "127.0.0.1"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    for (k, v) in headers {
        match std_headers
            .iter()
            .position(|(sk, _)| sk.eq_ignore_ascii_case(k))
        {
            Some(i) if v.is_empty() => {
                std_headers.remove(i);
            }
            Some(i) => std_headers[i].1 = v,
            None => std_headers.push((k, v)),
        }
    }
    let mut req = format!("GET {target} HTTP/1.1\r\n");
    for (k, v) in std_headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Checks an HTTP answer against `Expect::Http(status, code)`: the status,
/// the Engine.IO error code of a JSON body, an open packet for 200/101.
pub fn check_http(expect: &Expect, status: u16, body: &[u8]) -> Result<(), String> {
    let Expect::Http(want, code) = expect else {
        return Err(format!("not an HTTP expectation: {expect:?}"));
    };
    if status != *want {
        return Err(format!(
            "HTTP {status} {:?}, expected {want}",
            String::from_utf8_lossy(body)
        ));
    }
    match (status, code) {
        (200, _) if !body.starts_with(b"0{\"sid\":") => Err(format!(
            "200 without an open packet: {:?}",
            String::from_utf8_lossy(body)
        )),
        // 0x81 = final text frame; the payload follows.
        (101, _) if !body.starts_with(b"\x810{\"sid\":") => Err(format!(
            "101 without an open packet: {:?}",
            String::from_utf8_lossy(body)
        )),
        (_, Some(code)) => {
            let json: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
                format!(
                    "error body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(body)
                )
            })?;
            if json["code"] != *code {
                return Err(format!("error body {json}, expected code {code}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

// ---- running one case ---------------------------------------------------------

/// A raw control frame (any payload, even an invalid one).
fn control(op: Control, payload: &[u8]) -> WsMessage {
    let header = FrameHeader {
        opcode: OpCode::Control(op),
        ..FrameHeader::default()
    };
    WsMessage::Frame(WsFrame::from_payload(header, payload.to_vec().into()))
}

async fn send_frames(c: &mut Client, frames: &[RawFrame]) {
    let ws = c.ws_mut();
    for f in frames {
        let msg = match f {
            RawFrame::Text(b) => {
                WsMessage::Frame(WsFrame::message(b.clone(), OpCode::Data(Data::Text), true))
            }
            RawFrame::Binary(b) => WsMessage::binary(b.clone()),
            RawFrame::Fragments(first, parts) => {
                let op = if *first {
                    OpCode::Data(Data::Text)
                } else {
                    OpCode::Data(Data::Binary)
                };
                for (i, p) in parts.iter().enumerate() {
                    let op = if i == 0 {
                        op
                    } else {
                        OpCode::Data(Data::Continue)
                    };
                    let fin = i + 1 == parts.len();
                    let frame = WsFrame::message(p.clone(), op, fin);
                    let _ = tokio::time::timeout(T, ws.send(WsMessage::Frame(frame))).await;
                }
                continue;
            }
            RawFrame::Ping(b) => control(Control::Ping, b),
            RawFrame::Pong(b) => control(Control::Pong, b),
            RawFrame::Close(b) => control(Control::Close, b),
        };
        let _ = tokio::time::timeout(T, ws.send(msg)).await;
    }
}

/// After the case's input was sent: checks the session against `expect`.
async fn check_session(
    c: &mut Client,
    expect: &Expect,
    joined: bool,
    post: Option<u16>,
) -> Result<(), String> {
    if let Some(status) = post {
        let want = match expect {
            Expect::Status(s) | Expect::StatusClosed(s) => *s,
            _ => 200,
        };
        if status != want {
            return Err(format!("POST answered {status}, expected {want}"));
        }
    }
    match expect {
        Expect::Closed | Expect::StatusClosed(_) => expect_closed(c).await.map(|_| ()),
        Expect::WsClose(code) => match expect_closed(c).await? {
            Some(got) if got == *code => Ok(()),
            got => Err(format!("close code {got:?}, expected {code}")),
        },
        Expect::Open | Expect::Status(_) => expect_alive(c, joined).await,
        Expect::Left => expect_alive(c, false).await,
        Expect::Reply(p) => {
            expect_reply(c, p).await?;
            let joined = joined || p.starts_with("40{");
            expect_alive(c, joined).await
        }
        Expect::Replies(n, p) => {
            for i in 0..*n {
                expect_reply(c, p)
                    .await
                    .map_err(|e| format!("reply {i}: {e}"))?;
            }
            expect_alive(c, joined || p.starts_with("40")).await
        }
        Expect::ReplyClosed(p) => {
            expect_reply(c, p).await?;
            expect_closed(c).await.map(|_| ())
        }
        Expect::Http(..) | Expect::Scenario(_) => {
            Err(format!("{expect:?} does not apply to a session"))
        }
    }
}

async fn run_case(apps: &Apps, case: &Case, tr: Tr, expect: &Expect) -> Result<(), String> {
    match &case.act {
        Act::Send { server, pre, items } => {
            let mut c = session(server.addr(apps), tr, *pre).await;
            let status = c.send_batch(items).await;
            let post = (tr == Tr::Polling).then_some(status);
            check_session(&mut c, expect, *pre != Pre::None, post).await
        }
        Act::Body {
            pre,
            body,
            content_type,
        } => {
            let mut c = session(apps.main(), tr, *pre).await;
            let mut headers = Vec::new();
            if let Some(ct) = content_type {
                headers.push(("Content-Type", *ct));
            }
            let res = raw::http(apps.main(), "POST", &c.polling_url(), &headers, body).await;
            check_session(&mut c, expect, *pre != Pre::None, Some(res.status)).await
        }
        Act::Frames { pre, frames } => {
            let mut c = session(apps.main(), tr, *pre).await;
            send_frames(&mut c, frames).await;
            check_session(&mut c, expect, *pre != Pre::None, None).await
        }
        Act::Handshake {
            path,
            query,
            headers,
        } => {
            let target = format!("{path}{}", query.replace("{T}", tr.name()));
            let request = match tr {
                Tr::Polling => {
                    let mut req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
                    for (k, v) in headers {
                        req.push_str(&format!("{k}: {v}\r\n"));
                    }
                    req.push_str("Connection: close\r\n\r\n");
                    req.into_bytes()
                }
                Tr::Ws => ws_request(&target, headers),
            };
            let (status, body) = exchange(apps.main(), &request).await?;
            check_http(expect, status, &body)
        }
        Act::Raw(bytes) => {
            let (status, body) = exchange(apps.main(), bytes).await?;
            check_http(expect, status, &body)
        }
        Act::Scenario(s) => scenarios::run(apps, *s, tr).await,
    }
}

// ---- half-open and slowloris connections ------------------------------------

/// Connections that never finish a request, opened before the cases run.
struct Loris {
    conns: Vec<TcpStream>,
    dribblers: Vec<tokio::task::JoinHandle<bool>>,
    opened: tokio::time::Instant,
}

const IDLE: usize = 30;
const PARTIAL: usize = 30;
const DRIBBLE: usize = 20;

async fn open_loris(addr: SocketAddr) -> Loris {
    let mut conns = Vec::new();
    for i in 0..IDLE + PARTIAL {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i >= IDLE {
            // A request line and half a header: never finished.
            s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0")
                .await
                .unwrap();
        }
        conns.push(s);
    }
    let dribblers = (0..DRIBBLE)
        .map(|_| {
            tokio::spawn(async move {
                // One header byte every 250 ms, forever (bounded: 60 s). Returns
                // true when the server closed the connection.
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.write_all(b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nX-Slow: ")
                    .await
                    .unwrap();
                let mut buf = [0u8; 1024];
                for _ in 0..240 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    if s.write_all(b"a").await.is_err() {
                        return true;
                    }
                    if let Ok(r) =
                        tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
                    {
                        // EOF or reset (hyper may answer 408 first).
                        if matches!(r, Ok(0) | Err(_)) {
                            return true;
                        }
                    }
                }
                false
            })
        })
        .collect();
    Loris {
        conns,
        dribblers,
        opened: tokio::time::Instant::now(),
    }
}

/// Waits for the header read timeout (10 s) to have passed, then counts the
/// connections the server closed.
async fn close_loris(loris: Loris) -> (usize, usize) {
    let due = loris.opened + Duration::from_millis(10_500);
    tokio::time::sleep_until(due).await;
    let mut closed = 0;
    let mut buf = [0u8; 1024];
    let total = loris.conns.len() + loris.dribblers.len();
    for mut s in loris.conns {
        // Closed: EOF (possibly after a 408 answer) or a reset.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => continue,
                Err(_) => break,
            }
        }
    }
    for d in loris.dribblers {
        if tokio::time::timeout(Duration::from_secs(5), d)
            .await
            .is_ok_and(|r| r.unwrap_or(false))
        {
            closed += 1;
        }
    }
    (closed, total)
}

// ---- the test ---------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    count: usize,
    outcomes: BTreeMap<&'static str, usize>,
    deviations: usize,
    failures: usize,
    crashes: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_suite() {
    let started = std::time::Instant::now();
    let metrics = tokio::runtime::Handle::current().metrics();
    let apps = Arc::new(Apps {
        main: raw::serve(&app(MAX, Duration::from_secs(2), CONNECT_TIMEOUT)).await,
        big: raw::serve(&app(BIG, Duration::from_secs(2), CONNECT_TIMEOUT)).await,
        short: raw::serve(&app(
            MAX,
            Duration::from_millis(200),
            Duration::from_millis(600),
        ))
        .await,
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let baseline_tasks = metrics.num_alive_tasks();

    // Half-open and slowloris connections stay open during every case.
    let loris = open_loris(apps.main()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let loris_tasks = metrics.num_alive_tasks();

    let table = cases::table();
    let mut names = std::collections::HashSet::new();
    for c in &table {
        assert!(names.insert(c.name.clone()), "duplicate case {}", c.name);
    }
    let distinct = table.len();
    let mut jobs = Vec::new();
    for case in table {
        let case = Arc::new(case);
        for tr in [Tr::Ws, Tr::Polling] {
            let Some(expect) = case.expect(tr) else {
                continue;
            };
            jobs.push((case.clone(), tr, expect.clone()));
        }
    }
    let runs = jobs.len();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .map(|(case, tr, expect)| {
            let apps = apps.clone();
            async move {
                let handle = tokio::spawn({
                    let apps = apps.clone();
                    let case = case.clone();
                    let expect = expect.clone();
                    async move {
                        tokio::time::timeout(
                            Duration::from_secs(20),
                            run_case(&apps, &case, tr, &expect),
                        )
                        .await
                        .unwrap_or_else(|_| Err("case timed out".into()))
                    }
                });
                let outcome = match handle.await {
                    Ok(r) => r,
                    Err(e) => Err(format!("case panicked: {e}")),
                };
                // After every case, a fresh well-behaved client on the same
                // server and transport connects and echoes.
                let addr = case.server().addr(&apps);
                let health = tokio::spawn(async move {
                    tokio::time::timeout(Duration::from_secs(10), healthy(addr, tr))
                        .await
                        .unwrap_or_else(|_| Err("health check timed out".into()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("health check panicked: {e}")));
                (case, tr, expect, outcome, health)
            }
        })
        .buffer_unordered(6)
        .collect()
        .await;

    let mut tally: BTreeMap<(&'static str, &'static str), Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, tr, expect, outcome, health) in &results {
        let t = tally.entry((case.class, tr.name())).or_default();
        t.count += 1;
        *t.outcomes.entry(expect.label()).or_default() += 1;
        if case.deviation(*tr).is_some() {
            t.deviations += 1;
        }
        if let Err(e) = outcome {
            t.failures += 1;
            failures.push(format!(
                "[{}] {} over {}: expected {:?}: {e}",
                case.class,
                case.name,
                tr.name(),
                expect
            ));
        }
        if let Err(e) = health {
            t.crashes += 1;
            failures.push(format!(
                "[{}] {} over {}: server no longer serves a fresh client: {e}",
                case.class,
                case.name,
                tr.name()
            ));
        }
    }

    // Slowloris and half-open connections: closed by the header read
    // timeout, their tasks gone.
    let (loris_closed, loris_total) = close_loris(loris).await;
    let t = tally.entry(("slow", "tcp")).or_default();
    t.count += 1;
    *t.outcomes.entry("closed by server").or_default() += 1;
    if loris_closed != loris_total {
        t.failures += 1;
        failures.push(format!(
            "[slow] only {loris_closed} of {loris_total} half-open/slowloris connections were closed by the server"
        ));
    }
    drop(results);
    let settled = raw::eventually(Duration::from_secs(8), || {
        metrics.num_alive_tasks() <= baseline_tasks + 8
    })
    .await;
    let end_tasks = metrics.num_alive_tasks();
    if !settled {
        failures.push(format!(
            "tasks did not settle: {end_tasks} alive at the end, {baseline_tasks} at the start"
        ));
    }

    // Task accounting on a quiet runtime: 50 connections that join and
    // close. Their connection tasks end at once; each leaves its
    // connect-timeout timer task until the connect timeout passes.
    let quiet = metrics.num_alive_tasks();
    for _ in 0..50 {
        let mut c = Client::ws(apps.main()).await;
        c.connect().await;
        let _ = c.ws_mut().close(None).await;
    }
    let gone = raw::eventually(T, || apps.main.server().connection_count() == 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_close = metrics.num_alive_tasks();
    tokio::time::sleep(CONNECT_TIMEOUT).await;
    let after_timeout = metrics.num_alive_tasks();
    if !gone || after_timeout > quiet + 4 {
        failures.push(format!(
            "50 closed connections: tasks {quiet} → {after_close} → {after_timeout} after the connect timeout"
        ));
    }

    eprintln!();
    eprintln!(
        "tasks after 50 connections joined and closed: {quiet} before, {after_close} once closed (connect-timeout timers), {after_timeout} after the connect timeout"
    );
    eprintln!(
        "hostile input: {distinct} distinct cases, {runs} runs + {loris_total} half-open/slowloris connections, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "tasks: {baseline_tasks} at start, {loris_tasks} with the slowloris connections open, {end_tasks} at the end"
    );
    eprintln!(
        "{:<16} {:<10} {:>5}  {:<76} {:>4} {:>5} {:>7}",
        "class", "transport", "count", "outcomes", "dev", "fail", "crashes"
    );
    for ((class, tr), t) in &tally {
        let outcomes = t
            .outcomes
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!(
            "{class:<16} {tr:<10} {:>5}  {outcomes:<76} {:>4} {:>5} {:>7}",
            t.count, t.deviations, t.failures, t.crashes
        );
    }
    let total: usize = tally.values().map(|t| t.count).sum();
    let crashes: usize = tally.values().map(|t| t.crashes).sum();
    let devs: usize = tally.values().map(|t| t.deviations).sum();
    eprintln!("total {total} runs, {devs} known deviations, crashes {crashes}");
    eprintln!("known deviations from the official server:");
    for case in cases::table() {
        for tr in [Tr::Ws, Tr::Polling] {
            if let Some(note) = case.deviation(tr) {
                eprintln!("  [{}] {} ({}): {note}", case.class, case.name, tr.name());
            }
        }
    }
    assert!(distinct >= 150, "only {distinct} distinct cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
