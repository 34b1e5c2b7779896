//! The load scenarios. Each runs on the current-thread runtime of the load
//! process, is bounded in count and time, and returns one JSON object.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout_at;

use crate::sys;
use crate::wire::{self, PINGS, WsClient};

/// The server under load.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// Its pid, for CPU and memory figures from /proc.
    pub pid: Option<u32>,
    /// The server speaks `socket.io-msgpack-parser`: clients join with a
    /// binary msgpack CONNECT (the `echo_64_msgpack` scenario).
    pub msgpack: bool,
}

impl Target {
    fn cpu(&self) -> Option<f64> {
        self.pid.and_then(sys::cpu_seconds)
    }
    fn cpu_split(&self) -> Option<(f64, f64)> {
        self.pid.and_then(sys::cpu_split)
    }
    fn rss(&self) -> Option<u64> {
        self.pid.and_then(sys::rss_kib)
    }
}

/// Connections per source address before moving to the next 127.0.0.x.
const PER_SOURCE: usize = 12_000;

/// The source address of connection `i` out of `total`.
pub fn source(i: usize, total: usize) -> Option<IpAddr> {
    if total <= PER_SOURCE {
        None
    } else {
        Some(IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            2 + (i / PER_SOURCE) as u8,
        )))
    }
}

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Lat(Vec<u32>);

impl Lat {
    /// One sample of `ns` nanoseconds (from [`sys::mono_ns`] readings),
    /// truncated to microseconds as `Duration::as_micros`.
    fn push_ns(&mut self, ns: u64) {
        self.0.push((ns / 1000).min(u32::MAX as u64) as u32);
    }
    fn summary(mut self) -> (Option<u32>, Option<u32>, Option<u32>) {
        if self.0.is_empty() {
            return (None, None, None);
        }
        // Selection instead of a full sort: the same order statistics.
        let idx = |q: f64| ((self.0.len() - 1) as f64 * q).round() as usize;
        let (i50, i99) = (idx(0.5), idx(0.99));
        let max = self.0.iter().copied().max();
        let p99 = *self.0.select_nth_unstable(i99).1;
        let p50 = *self.0[..=i99].select_nth_unstable(i50).1;
        (Some(p50), Some(p99), max)
    }
}

fn cpu_delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

/// The user-space share of the server's CPU time between two samples.
fn user_share(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> Option<f64> {
    let ((u0, s0), (u1, s1)) = (a?, b?);
    let total = (u1 - u0) + (s1 - s0);
    (total > 0.0).then(|| round((u1 - u0) / total, 3))
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

fn per(cpu: Option<f64>, n: u64) -> Value {
    match cpu {
        Some(c) if n > 0 => json!(round(c * 1e6 / n as f64, 3)),
        _ => Value::Null,
    }
}

/// Opens `n` WebSocket clients, at most `concurrency` handshakes at once,
/// until `deadline`. Returns the clients, the number of failures, the first
/// error and the time until the last one connected.
///
/// `concurrency` worker tasks take the next connection number as soon as
/// their previous handshake ended (so exactly as many are in flight as
/// with a semaphore and a task per connection, without spawning one task,
/// one timer and one permit per connection).
async fn open_all(
    t: &Target,
    n: usize,
    concurrency: usize,
    deadline: tokio::time::Instant,
) -> (Vec<WsClient>, usize, Option<String>, Duration) {
    struct Opening {
        next: usize,
        clients: Vec<WsClient>,
        failed: usize,
        first_err: Option<String>,
        last: Instant,
    }
    let start = Instant::now();
    let st = Rc::new(RefCell::new(Opening {
        next: 0,
        clients: Vec::with_capacity(n),
        failed: 0,
        first_err: None,
        last: start,
    }));
    let req: Rc<[u8]> = wire::ws_upgrade_request(t.addr).into();
    let addr = t.addr;
    let msgpack = t.msgpack;
    let mut set = JoinSet::new();
    for _ in 0..concurrency.max(1).min(n) {
        let (st, req) = (st.clone(), req.clone());
        set.spawn_local(async move {
            loop {
                let i = {
                    let mut s = st.borrow_mut();
                    if s.next >= n {
                        break;
                    }
                    s.next += 1;
                    if tokio::time::Instant::now() >= deadline {
                        // Not started before the time limit.
                        s.failed += 1;
                        continue;
                    }
                    s.next - 1
                };
                let r = timeout_at(deadline, async {
                    if msgpack {
                        wire::ws_connect_msgpack(addr, source(i, n), i as u32 + 1, &req).await
                    } else {
                        wire::ws_connect(addr, source(i, n), i as u32 + 1, &req).await
                    }
                })
                .await;
                let mut s = st.borrow_mut();
                match r {
                    Ok(Ok(c)) => {
                        s.clients.push(c);
                        s.last = Instant::now();
                    }
                    Ok(Err(e)) => {
                        s.failed += 1;
                        s.first_err.get_or_insert(e.to_string());
                    }
                    Err(_) => {
                        s.failed += 1;
                        s.first_err.get_or_insert("connect timed out".into());
                    }
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    let mut s = st.borrow_mut();
    let clients = std::mem::take(&mut s.clients);
    (clients, s.failed, s.first_err.take(), s.last - start)
}

/// Keeps clients alive (answering heartbeats) until `stop` is notified.
fn hold(clients: Vec<WsClient>, stop: Rc<Notify>) -> JoinSet<u32> {
    let mut set = JoinSet::new();
    for mut c in clients {
        let stop = stop.clone();
        set.spawn_local(async move {
            let mut dropped = 0;
            let stopped = stop.notified();
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    r = c.reader.next_eio(&c.writer) => {
                        if r.is_err() {
                            dropped = 1;
                            break;
                        }
                    }
                }
            }
            dropped
        });
    }
    set
}

/// The decimal sequence number at the start of `b` (`None` without digits
/// or on overflow), as `str::parse::<usize>` of the leading digits.
fn parse_seq(b: &[u8]) -> Option<usize> {
    let digits = b.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    b[..digits].iter().try_fold(0usize, |n, &d| {
        n.checked_mul(10)?.checked_add((d - b'0') as usize)
    })
}

fn echo_frame(event: &str, payload: usize) -> Vec<u8> {
    let pad = "x".repeat(payload);
    format!("42[\"{event}\",\"{pad}\"]").into_bytes()
}

/// What an echo client sends, and how it knows the server's echo.
#[derive(Clone)]
enum EchoWire {
    /// A JSON `echo` event as a text frame; the echo is the `echo` event
    /// of the same length.
    Json {
        frame: Rc<Vec<u8>>,
        expect_len: usize,
    },
    /// A `socket.io-msgpack-parser` packet as a binary frame; the echo is
    /// the same bytes.
    Msgpack { frame: Rc<Vec<u8>>, head: Rc<[u8]> },
}

impl EchoWire {
    /// One round trip on `c`: whether the echo was the expected one.
    async fn round_trip(&self, c: &mut WsClient) -> std::io::Result<bool> {
        match self {
            EchoWire::Json { frame, expect_len } => {
                c.writer.send_text(frame).await?;
                loop {
                    let p = c.reader.next_sio(&c.writer).await?;
                    if p.starts_with(b"2[\"echo\"") {
                        return Ok(p.len() == *expect_len);
                    }
                }
            }
            EchoWire::Msgpack { frame, head } => {
                c.writer.send_frame(2, frame).await?;
                loop {
                    let p = c.reader.next_binary(&c.writer).await?;
                    if p.starts_with(head) {
                        return Ok(p == frame.as_slice());
                    }
                }
            }
        }
    }
}

/// `clients` WebSocket clients × `per_client` round trips of `wire`,
/// closed loop (one event in flight per client); the scenario's JSON line
/// without its name.
async fn echo_run(
    t: &Target,
    clients: usize,
    per_client: usize,
    payload: usize,
    limit: Duration,
    wire: EchoWire,
) -> serde_json::Map<String, Value> {
    let deadline = tokio::time::Instant::now() + limit;
    let (conns, failed, err, _) = open_all(t, clients, 64, deadline).await;
    let (cpu0, split0, t0) = (t.cpu(), t.cpu_split(), Instant::now());
    let mut set = JoinSet::new();
    for mut c in conns {
        let wire = wire.clone();
        set.spawn_local(async move {
            let mut lat = Lat::default();
            let mut errors = 0u64;
            let run = async {
                for _ in 0..per_client {
                    let sent = sys::mono_ns();
                    if !wire.round_trip(&mut c).await? {
                        errors += 1;
                    }
                    lat.push_ns(sys::mono_ns().saturating_sub(sent));
                }
                Ok::<_, std::io::Error>(())
            };
            let r = timeout_at(deadline, run).await;
            let broken = !matches!(r, Ok(Ok(())));
            (lat, errors, broken)
        });
    }
    let mut lat = Lat::default();
    let (mut errors, mut broken) = (0u64, 0u64);
    while let Some(Ok((l, e, b))) = set.join_next().await {
        lat.0.extend(l.0);
        errors += e;
        broken += b as u64;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_delta(cpu0, t.cpu());
    let user_share = user_share(split0, t.cpu_split());
    let msgs = lat.0.len() as u64;
    let (p50, p99, max) = lat.summary();
    let expected = (clients * per_client) as u64;
    let line = json!({
        "transport": "websocket",
        "clients": clients, "per_client": per_client, "payload_bytes": payload,
        "connect_failures": failed, "first_error": err,
        "msgs": msgs, "expected": expected, "complete": msgs == expected,
        "bad_replies": errors, "broken_clients": broken,
        "elapsed_s": round(elapsed, 3),
        "msgs_per_s": round(msgs as f64 / elapsed, 1),
        "p50_us": p50, "p99_us": p99, "max_us": max,
        "server_cpu_s": cpu.map(|c| round(c, 3)),
        "cpu_us_per_msg": per(cpu, msgs),
        "server_user_share": user_share,
        "server_busy": cpu.map(|c| round(c / elapsed, 3)),
        "ok": msgs == expected && errors == 0 && failed == 0,
    });
    match line {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `fields` after `first` (the scenario's name and tags, first in the line).
fn line(first: Value, fields: serde_json::Map<String, Value>) -> Value {
    let mut m = match first {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    m.extend(fields);
    Value::Object(m)
}

/// echo: `clients` WebSocket clients × `per_client` round trips, closed
/// loop (one event in flight per client).
pub async fn echo(
    t: &Target,
    clients: usize,
    per_client: usize,
    payload: usize,
    limit: Duration,
) -> Value {
    let frame = Rc::new(echo_frame("echo", payload));
    let expect_len = frame.len() - 1;
    let wire = EchoWire::Json { frame, expect_len };
    let fields = echo_run(t, clients, per_client, payload, limit, wire).await;
    let name = if payload >= 1024 {
        "echo_1k"
    } else {
        "echo_64"
    };
    line(json!({ "scenario": name }), fields)
}

/// echo_64_msgpack: as [`echo`], with `socket.io-msgpack-parser` packets
/// (`{type: 2, data: ["echo", <payload>], nsp: "/"}` as one binary
/// WebSocket frame each way) against a server started with that parser.
pub async fn echo_msgpack(
    t: &Target,
    clients: usize,
    per_client: usize,
    payload: usize,
    limit: Duration,
) -> Value {
    use oxsio::codec::{msgpack, socketio::Packet};
    let frame = msgpack::encode(&Packet::event(
        "/",
        "echo",
        vec![oxsio::Value::from("x".repeat(payload))],
        None,
    ));
    // The server's echo is the same packet, byte for byte.
    let head: Rc<[u8]> = frame[..frame.len().min(16)].into();
    let wire = EchoWire::Msgpack {
        frame: Rc::new(frame),
        head,
    };
    let fields = echo_run(t, clients, per_client, payload, limit, wire).await;
    line(
        json!({ "scenario": "echo_64_msgpack", "parser": "msgpack" }),
        fields,
    )
}

/// fanout: `receivers` clients in room "all"; client 0 sends `broadcasts`
/// broadcasts with at most `window` not yet delivered to every receiver.
pub async fn fanout(
    t: &Target,
    receivers: usize,
    broadcasts: usize,
    window: usize,
    limit: Duration,
) -> Value {
    fanout_on(
        std::slice::from_ref(t),
        "fanout",
        receivers,
        broadcasts,
        window,
        limit,
    )
    .await
}

/// The sum of the servers' CPU seconds (None unless every one is known).
fn cpu_sum(ts: &[Target]) -> Option<f64> {
    ts.iter().map(Target::cpu).sum()
}

/// The sums of the servers' (user, system) CPU seconds.
fn cpu_split_sum(ts: &[Target]) -> Option<(f64, f64)> {
    ts.iter()
        .map(Target::cpu_split)
        .try_fold((0.0, 0.0), |(u, s), x| x.map(|(a, b)| (u + a, s + b)))
}

/// fanout over the nodes of a cluster (or one server): the receivers are
/// split evenly across `ts` (receiver i on node i mod k), the sender is
/// receiver 0 (on the first node); every delivery is checked as in
/// [`fanout`]. Server CPU is the sum over the nodes.
pub async fn fanout_on(
    ts: &[Target],
    name: &str,
    receivers: usize,
    broadcasts: usize,
    window: usize,
    limit: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    let k = ts.len().max(1);
    let mut per_node: Vec<Vec<WsClient>> = Vec::with_capacity(k);
    let (mut failed, mut err) = (0, None);
    for (j, t) in ts.iter().enumerate() {
        let want = receivers / k + usize::from(j < receivers % k);
        let (c, f, e, _) = open_all(t, want, 64, deadline).await;
        failed += f;
        if err.is_none() {
            err = e;
        }
        per_node.push(c);
    }
    let receivers_per_node: Vec<usize> = per_node.iter().map(Vec::len).collect();
    // Interleave: receiver i on node i mod k, so the sender is on node 0.
    let mut conns = Vec::with_capacity(receivers);
    let mut iters: Vec<_> = per_node.into_iter().map(Vec::into_iter).collect();
    loop {
        let before = conns.len();
        for it in &mut iters {
            conns.extend(it.next());
        }
        if conns.len() == before {
            break;
        }
    }
    let n = conns.len();
    if n == 0 || (k > 1 && receivers_per_node.contains(&0)) {
        return json!({"scenario": name, "ok": false, "first_error": err, "connect_failures": failed, "receivers_per_node": receivers_per_node});
    }
    // Let every socket settle in the room before the first broadcast; in a
    // cluster, adapters may subscribe to a room's channel in the
    // background (the sharded adapter's dynamic mode, in Node too).
    let settle = if k > 1 { 1000 } else { 200 };
    tokio::time::sleep(Duration::from_millis(settle)).await;
    struct Shared {
        /// `sys::mono_ns` at each send.
        sent_at: Vec<Option<u64>>,
        count: Vec<u32>,
        completed: usize,
        lat: Lat,
        duplicates: u64,
        bad: u64,
        last: u64,
    }
    let sh = Rc::new(RefCell::new(Shared {
        sent_at: vec![None; broadcasts],
        count: vec![0; broadcasts],
        completed: 0,
        lat: Lat(Vec::with_capacity(n * broadcasts)),
        duplicates: 0,
        bad: 0,
        last: sys::mono_ns(),
    }));
    let progress = Rc::new(Notify::new());
    let sender_writer = conns[0].writer.clone();
    let (cpu0, split0, t0) = (cpu_sum(ts), cpu_split_sum(ts), sys::mono_ns());
    let mut set = JoinSet::new();
    for mut c in conns.drain(..) {
        let (sh, progress) = (sh.clone(), progress.clone());
        set.spawn_local(async move {
            let mut seen = vec![false; broadcasts];
            let mut got = 0usize;
            let run = async {
                while got < broadcasts {
                    let p = c.reader.next_sio(&c.writer).await?;
                    let Some(rest) = p.strip_prefix(b"2[\"broadcast\",\"") else {
                        continue;
                    };
                    let seq = parse_seq(rest);
                    let mut s = sh.borrow_mut();
                    let Some(seq) = seq.filter(|&q| q < broadcasts) else {
                        s.bad += 1;
                        continue;
                    };
                    if seen[seq] {
                        s.duplicates += 1;
                        continue;
                    }
                    seen[seq] = true;
                    got += 1;
                    let now = sys::mono_ns();
                    if let Some(at) = s.sent_at[seq] {
                        s.lat.push_ns(now.saturating_sub(at));
                    }
                    s.last = now;
                    s.count[seq] += 1;
                    if s.count[seq] as usize == n {
                        s.completed += 1;
                        progress.notify_one();
                    }
                }
                Ok::<_, std::io::Error>(())
            };
            let r = timeout_at(deadline, run).await;
            // Keep the connection open until every receiver is done so no
            // disconnect disturbs the broadcasts still in flight.
            (c, matches!(r, Ok(Ok(()))))
        });
    }
    let pad = "x".repeat(48);
    let send = async {
        for seq in 0..broadcasts {
            loop {
                let done = sh.borrow().completed;
                if seq - done < window {
                    break;
                }
                progress.notified().await;
            }
            let frame = format!("42[\"broadcast\",\"{seq}:{pad}\"]");
            sh.borrow_mut().sent_at[seq] = Some(sys::mono_ns());
            if sender_writer.send_text(frame.as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = timeout_at(deadline, send).await;
    let mut held = Vec::new();
    let mut finished = 0;
    while let Some(Ok((c, ok))) = set.join_next().await {
        finished += ok as usize;
        held.push(c);
    }
    let s = Rc::try_unwrap(sh).ok().map(RefCell::into_inner);
    let Some(s) = s else {
        return json!({"scenario": name, "ok": false, "first_error": "internal"});
    };
    let end = s.last;
    let elapsed = (end.saturating_sub(t0) as f64 / 1e9).max(1e-6);
    let cpu = cpu_delta(cpu0, cpu_sum(ts));
    let user_share = user_share(split0, cpu_split_sum(ts));
    drop(held);
    let deliveries = s.lat.0.len() as u64;
    let sent = s.sent_at.iter().filter(|x| x.is_some()).count();
    let missing = (sent * n) as u64 - deliveries;
    let complete = sent == broadcasts && finished == n;
    // Missing deliveries are losses only if every receiver had its time;
    // at the time limit they are merely undelivered yet.
    let lost = if complete {
        json!(missing)
    } else {
        Value::Null
    };
    let (p50, p99, max) = s.lat.summary();
    json!({
        "scenario": name, "transport": "websocket",
        "receivers": n, "broadcasts": broadcasts, "window": window,
        "nodes": k, "receivers_per_node": receivers_per_node,
        "connect_failures": failed, "first_error": err,
        "sent": sent, "deliveries": deliveries, "expected": (broadcasts * n) as u64,
        "lost": lost, "undelivered_at_limit": if complete { 0 } else { missing },
        "duplicates": s.duplicates, "bad": s.bad,
        "receivers_complete": finished,
        "complete": complete && missing == 0,
        "elapsed_s": round(elapsed, 3),
        "deliveries_per_s": round(deliveries as f64 / elapsed, 1),
        "p50_us": p50, "p99_us": p99, "max_us": max,
        "server_cpu_s": cpu.map(|c| round(c, 3)),
        "cpu_us_per_msg": per(cpu, deliveries),
        "server_user_share": user_share,
        "server_busy": cpu.map(|c| round(c / elapsed, 3)),
        "ok": complete && missing == 0 && s.duplicates == 0 && failed == 0,
    })
}

/// connect: opens `conns` WebSocket connections (`concurrency` handshakes
/// at once), holds them and reports the server's memory per connection.
pub async fn connect(t: &Target, conns: usize, concurrency: usize, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    let rss0 = t.rss();
    let cpu0 = t.cpu();
    let (clients, failed, err, took) = open_all(t, conns, concurrency, deadline).await;
    let cpu = cpu_delta(cpu0, t.cpu());
    let ok = clients.len();
    let stop = Rc::new(Notify::new());
    let mut holders = hold(clients, stop.clone());
    // Let the server settle (and garbage-collected peers collect).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = t.rss();
    stop.notify_waiters();
    let mut dropped = 0;
    while let Some(Ok(d)) = holders.join_next().await {
        dropped += d;
    }
    let secs = took.as_secs_f64().max(1e-6);
    let mem = match (rss0, rss1) {
        (Some(a), Some(b)) if ok > 0 => json!(round((b as f64 - a as f64) / ok as f64, 2)),
        _ => Value::Null,
    };
    json!({
        "scenario": "connect", "transport": "websocket",
        "conns": conns, "concurrency": concurrency,
        "connected": ok, "connect_failures": failed, "first_error": err,
        "dropped_while_held": dropped,
        "elapsed_s": round(secs, 3),
        "conns_per_s": round(ok as f64 / secs, 1),
        "rss_before_kib": rss0, "rss_after_kib": rss1,
        "kib_per_conn": mem,
        "server_cpu_s": cpu.map(|c| round(c, 3)),
        "cpu_us_per_conn": per(cpu, ok as u64),
        "ok": ok == conns && failed == 0,
    })
}

/// polling echo: like echo, on the long-polling transport only (a GET
/// kept pending beside each POST, two keep-alive connections per client).
pub async fn polling_echo(
    t: &Target,
    clients: usize,
    per_client: usize,
    payload: usize,
    limit: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    let sem = std::sync::Arc::new(Semaphore::new(32));
    let mut set = JoinSet::new();
    for i in 0..clients {
        let (addr, src, sem) = (t.addr, source(i, clients), sem.clone());
        set.spawn_local(async move {
            let _p = sem.acquire_owned().await;
            timeout_at(deadline, wire::polling_connect(addr, src)).await
        });
    }
    let mut conns = Vec::new();
    let (mut failed, mut err) = (0usize, None);
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(Ok(c))) => conns.push(c),
            Ok(Ok(Err(e))) => {
                failed += 1;
                err.get_or_insert(e.to_string());
            }
            _ => {
                failed += 1;
                err.get_or_insert("connect timed out".to_owned());
            }
        }
    }
    let frame = Rc::new(echo_frame("echo", payload));
    let (cpu0, split0, t0) = (t.cpu(), t.cpu_split(), Instant::now());
    let mut set = JoinSet::new();
    for mut c in conns {
        let frame = frame.clone();
        set.spawn_local(async move {
            let mut lat = Lat::default();
            let mut body = Vec::with_capacity(frame.len() + 8);
            let run = async {
                for _ in 0..per_client {
                    let sent = sys::mono_ns();
                    let wire::PollClient {
                        get,
                        post,
                        target,
                        pongs_due,
                        ..
                    } = &mut c;
                    body.clear();
                    for _ in 0..std::mem::take(pongs_due) {
                        body.extend_from_slice(b"3\x1e");
                    }
                    body.extend_from_slice(&frame);
                    let post_fut = post.request("POST", target, &body);
                    let get_fut = async {
                        loop {
                            let mut echoed = false;
                            wire::poll_records(get, target, pongs_due, |p| {
                                echoed |= p.starts_with(b"2[\"echo\"");
                            })
                            .await?;
                            if echoed {
                                return Ok::<_, std::io::Error>(());
                            }
                        }
                    };
                    let (a, b) = tokio::join!(post_fut, get_fut);
                    a?;
                    b?;
                    lat.push_ns(sys::mono_ns().saturating_sub(sent));
                }
                Ok::<_, std::io::Error>(())
            };
            let r = timeout_at(deadline, run).await;
            (lat, !matches!(r, Ok(Ok(()))))
        });
    }
    let mut lat = Lat::default();
    let mut broken = 0u64;
    while let Some(Ok((l, b))) = set.join_next().await {
        lat.0.extend(l.0);
        broken += b as u64;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_delta(cpu0, t.cpu());
    let user_share = user_share(split0, t.cpu_split());
    let msgs = lat.0.len() as u64;
    let (p50, p99, max) = lat.summary();
    let expected = (clients * per_client) as u64;
    json!({
        "scenario": "polling_echo", "transport": "polling",
        "clients": clients, "per_client": per_client, "payload_bytes": payload,
        "connect_failures": failed, "first_error": err,
        "msgs": msgs, "expected": expected, "complete": msgs == expected,
        "broken_clients": broken,
        "elapsed_s": round(elapsed, 3),
        "msgs_per_s": round(msgs as f64 / elapsed, 1),
        "p50_us": p50, "p99_us": p99, "max_us": max,
        "server_cpu_s": cpu.map(|c| round(c, 3)),
        "cpu_us_per_msg": per(cpu, msgs),
        "server_user_share": user_share,
        "server_busy": cpu.map(|c| round(c / elapsed, 3)),
        "ok": msgs == expected && failed == 0,
    })
}

/// idle: `conns` WebSocket connections held for `hold_for` with the
/// server's default heartbeat; reports the server's CPU use meanwhile.
pub async fn idle(t: &Target, conns: usize, hold_for: Duration, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    let (clients, failed, err, took) = open_all(t, conns, 128, deadline).await;
    let ok = clients.len();
    let ping_interval = clients.first().map(|c| c.open.ping_interval);
    let stop = Rc::new(Notify::new());
    let mut holders = hold(clients, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pings0 = PINGS.load(Ordering::Relaxed);
    let (cpu0, t0) = (t.cpu(), Instant::now());
    tokio::time::sleep(hold_for).await;
    let cpu = cpu_delta(cpu0, t.cpu());
    let secs = t0.elapsed().as_secs_f64();
    let pings = PINGS.load(Ordering::Relaxed) - pings0;
    let rss = t.rss();
    stop.notify_waiters();
    let mut dropped = 0;
    while let Some(Ok(d)) = holders.join_next().await {
        dropped += d;
    }
    let pct = cpu.map(|c| round(c / secs * 100.0, 3));
    json!({
        "scenario": "idle", "transport": "websocket",
        "conns": conns, "connected": ok, "connect_failures": failed, "first_error": err,
        "connect_s": round(took.as_secs_f64(), 3),
        "held_s": round(secs, 3), "ping_interval_ms": ping_interval,
        "pings_answered": pings, "dropped_while_held": dropped,
        "server_cpu_s": cpu.map(|c| round(c, 3)),
        "cpu_pct": pct,
        "cpu_pct_per_100k": match (cpu, ok) { (Some(c), n) if n > 0 => json!(round(c / secs * 100.0 * 100_000.0 / n as f64, 3)), _ => Value::Null },
        "rss_kib": rss,
        "ok": ok == conns && dropped == 0 && pings > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_equals_sorted_order_statistics() {
        let mut x = 12345u32;
        for len in 1..300 {
            let v: Vec<u32> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x % 1000
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let p = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
            let want = (Some(p(0.5)), Some(p(0.99)), sorted.last().copied());
            assert_eq!(Lat(v).summary(), want);
        }
        assert_eq!(Lat::default().summary(), (None, None, None));
    }

    #[test]
    fn sequence_numbers() {
        assert_eq!(parse_seq(b"0:xx"), Some(0));
        assert_eq!(parse_seq(b"123:xx"), Some(123));
        assert_eq!(parse_seq(b":1"), None);
        assert_eq!(parse_seq(b""), None);
        assert_eq!(parse_seq(b"99999999999999999999999:"), None);
        assert_eq!(parse_seq(b"007"), Some(7));
    }
}
