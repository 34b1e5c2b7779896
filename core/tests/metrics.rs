//! Prometheus metrics (`ServerBuilder::metrics`): every family moves with
//! the traffic that should move it, `/metrics` is served by the listener
//! and by `service()`, scraping 100 times a second during load keeps the
//! server serving, and a server without metrics has no endpoint.
//! (The Python test parses the same output with `prometheus_client`.)
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::proxy::Proxy;
use common::raw::{self, Client};
use oxsio::client::{ClientBuilder, Reconnection};
use oxsio::{ConnectError, Event, RecoveryConfig, Server, Socket, Transport, Value};

const T: Duration = Duration::from_secs(10);

/// `name{labels}` → value, from the text format.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        out.insert(key.to_owned(), value.parse::<f64>().unwrap());
    }
    out
}

async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let res = raw::get(addr, "/metrics").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&res.text())
}

fn get(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", m.keys().collect::<Vec<_>>()))
}

/// The test app; with `recovery`, connection state recovery is on (then
/// every socket emit goes through the adapter to be logged, and counts as a
/// broadcast of one delivery).
fn app(recovery: bool) -> Server {
    let mut b = Server::builder()
        .metrics("/metrics")
        .max_buffer_size(8)
        .ping_interval(Duration::from_millis(400))
        .ping_timeout(Duration::from_millis(400));
    if recovery {
        b = b.connection_state_recovery(RecoveryConfig::default());
    }
    let io = b.build();
    io.use_middleware(|s: &Socket| {
        if s.handshake().auth["token"].as_str() == Some("bad") {
            return Err(ConnectError::new("unauthorized"));
        }
        Ok(())
    });
    let root = io.of("/");
    io.on_connection(move |socket: Socket| {
        socket.join("all");
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        socket.on("echo-ack", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
        let ns = root.clone();
        socket.on("shout", move |ev: Event| {
            let _ = ns.to("all").emit("shout", ev.args);
        });
        // Floods its own queue (8 packets): the rest are refused. Enough
        // that the writer, draining on another thread, cannot keep up.
        socket.on("flood", |ev: Event| {
            for i in 0..1000 {
                let _ = ev.socket.emit("flood", i);
            }
            for i in 0..1000 {
                let _ = ev.socket.volatile().emit("flood-volatile", i);
            }
        });
        socket.on_async("ask", |ev: Event| async move {
            let _ = ev
                .socket
                .timeout(Duration::from_millis(100))
                .emit_with_ack("unanswered", ())
                .await;
        });
    });
    io
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_moves_with_traffic() {
    let io = app(false);
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let addr = h.local_addr();
    let before = scrape(addr).await;
    assert_eq!(get(&before, "oxsio_engine_connections_opened_total"), 0.0);
    assert_eq!(get(&before, r#"oxsio_sockets{namespace="/"}"#), 0.0);

    // One WebSocket and one polling client.
    let mut ws = Client::ws(addr).await;
    ws.connect().await;
    let mut poll = Client::polling(addr).await;
    poll.connect().await;
    let m = scrape(addr).await;
    assert_eq!(
        get(&m, r#"oxsio_engine_connections{transport="websocket"}"#),
        1.0
    );
    assert_eq!(
        get(&m, r#"oxsio_engine_connections{transport="polling"}"#),
        1.0
    );
    assert_eq!(get(&m, "oxsio_engine_connections_opened_total"), 2.0);
    assert_eq!(get(&m, r#"oxsio_sockets{namespace="/"}"#), 2.0);
    assert_eq!(
        get(&m, r#"oxsio_packets_received_total{type="connect"}"#),
        2.0
    );
    assert_eq!(get(&m, r#"oxsio_packets_sent_total{type="connect"}"#), 2.0);

    // Events in and out, a binary one, an ack.
    ws.emit("/", "echo", vec![Value::from("hello")]).await;
    assert_eq!(ws.recv_event().await.1, "echo");
    ws.emit("/", "echo", vec![raw::bin(b"12345")]).await;
    assert_eq!(ws.recv_event().await.1, "echo");
    ws.emit_ack("/", "echo-ack", vec![Value::from(1)], 7).await;
    ws.recv_ack().await;
    let m2 = scrape(addr).await;
    assert_eq!(
        get(&m2, r#"oxsio_packets_received_total{type="event"}"#),
        2.0
    );
    assert_eq!(
        get(&m2, r#"oxsio_packets_received_total{type="binary_event"}"#),
        1.0
    );
    assert_eq!(
        get(&m2, r#"oxsio_packets_received_total{type="attachment"}"#),
        1.0
    );
    assert_eq!(get(&m2, r#"oxsio_packets_sent_total{type="event"}"#), 1.0);
    assert_eq!(
        get(&m2, r#"oxsio_packets_sent_total{type="binary_event"}"#),
        1.0
    );
    assert_eq!(get(&m2, r#"oxsio_packets_sent_total{type="ack"}"#), 1.0);
    assert!(get(&m2, "oxsio_received_bytes_total") > get(&m, "oxsio_received_bytes_total"));
    assert!(get(&m2, "oxsio_sent_bytes_total") > get(&m, "oxsio_sent_bytes_total"));

    // A broadcast to both: one broadcast, two deliveries.
    ws.emit("/", "shout", vec![Value::from("all")]).await;
    assert_eq!(ws.recv_event().await.1, "shout");
    assert_eq!(poll.recv_event().await.1, "shout");
    let m3 = scrape(addr).await;
    assert_eq!(
        get(&m3, "oxsio_broadcasts_total") - get(&m2, "oxsio_broadcasts_total"),
        1.0
    );
    assert_eq!(
        get(&m3, "oxsio_broadcast_deliveries_total") - get(&m2, "oxsio_broadcast_deliveries_total"),
        2.0
    );

    // Queue full and volatile drops.
    ws.emit("/", "flood", vec![]).await;
    // The handler runs its 80 emits after the packet is read: wait for it.
    assert!(
        raw::eventually(T, || {
            let m = parse(&io.metrics().unwrap());
            m["oxsio_queue_full_drops_total"] >= 1.0 && m["oxsio_volatile_drops_total"] >= 1.0
        })
        .await,
        "{:?}",
        parse(&io.metrics().unwrap())
    );
    let m4 = scrape(addr).await;
    assert!(get(&m4, "oxsio_queue_full_drops_total") >= 1.0, "{m4:?}");
    assert!(get(&m4, "oxsio_volatile_drops_total") >= 1.0, "{m4:?}");

    // An ack that never comes.
    ws.emit("/", "ask", vec![]).await;
    assert!(
        raw::eventually(T, || {
            let io = io.clone();
            parse(&io.metrics().unwrap())["oxsio_ack_timeouts_total"] >= 1.0
        })
        .await
    );

    // Refusals: unknown transport, unknown sid, bad version, a namespace
    // that does not exist, a middleware.
    raw::get(addr, "/socket.io/?EIO=4&transport=carrier").await;
    raw::get(addr, "/socket.io/?EIO=4&transport=polling&sid=nope").await;
    raw::get(addr, "/socket.io/?EIO=3&transport=polling").await;
    let mut c = Client::ws(addr).await;
    c.send_text("40/nope,").await;
    c.recv_packet().await;
    let mut c = Client::ws(addr).await;
    c.send_text(r#"40{"token":"bad"}"#).await;
    c.recv_packet().await;
    let m5 = scrape(addr).await;
    for reason in [
        "unknown_transport",
        "unknown_sid",
        "unsupported_protocol_version",
        "invalid_namespace",
        "middleware",
    ] {
        assert_eq!(
            get(
                &m5,
                &format!(r#"oxsio_handshake_refusals_total{{reason="{reason}"}}"#)
            ),
            1.0,
            "{reason}"
        );
    }

    // Adapter requests and their latency.
    io.of("/").fetch_sockets().await;
    io.of("/").to("all").sockets_join("more");
    let m7 = scrape(addr).await;
    assert_eq!(
        get(&m7, r#"oxsio_adapter_requests_total{op="fetch_sockets"}"#),
        1.0
    );
    assert_eq!(
        get(&m7, r#"oxsio_adapter_requests_total{op="add_sockets"}"#),
        1.0
    );
    assert_eq!(
        get(
            &m7,
            r#"oxsio_adapter_request_duration_seconds_count{op="fetch_sockets"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m7,
            r#"oxsio_adapter_request_duration_seconds_bucket{op="fetch_sockets",le="+Inf"}"#
        ),
        1.0
    );
    // Not GET: refused; the service() mount serves it too.
    let res = raw::post(addr, "/metrics", b"x").await;
    assert_eq!(res.status, 405);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_hits_and_misses_are_counted() {
    let io = app(true);
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let proxy = Proxy::start(h.local_addr()).await;
    let socket = ClientBuilder::new(format!("http://{}", proxy.addr))
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            delay: Duration::from_millis(50),
            delay_max: Duration::from_millis(50),
            randomization_factor: 0.0,
            ..Reconnection::default()
        })
        .connect()
        .await
        .unwrap();
    io.emit("shout", "before").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.cut_all(false);
    assert!(raw::eventually(T, || socket.connected() && socket.recovered()).await);
    let m = parse(&io.metrics().unwrap());
    assert_eq!(m["oxsio_recovery_hits_total"], 1.0);
    assert_eq!(m["oxsio_recovery_misses_total"], 0.0);
    // A miss: a session id nobody knows.
    let mut c = Client::ws(h.local_addr()).await;
    c.send_text(r#"40{"pid":"unknown","offset":"0-0"}"#).await;
    c.recv_packet().await;
    let m = parse(&io.metrics().unwrap());
    assert_eq!(m["oxsio_recovery_misses_total"], 1.0);
    socket.disconnect();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraping_100_times_a_second_during_load() {
    let io = app(false);
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let addr = h.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let scraper = tokio::spawn(async move {
        let mut n = 0u32;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while !s.load(Ordering::Relaxed) {
            tick.tick().await;
            let m = scrape(addr).await;
            assert!(m.contains_key("oxsio_packets_received_total{type=\"event\"}"));
            n += 1;
        }
        n
    });
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut c = Client::ws(addr).await;
        c.connect().await;
        clients.push(c);
    }
    let started = std::time::Instant::now();
    let mut echoes = 0;
    while started.elapsed() < Duration::from_secs(2) {
        for c in &mut clients {
            c.emit("/", "echo", vec![Value::from("x")]).await;
            assert_eq!(c.recv_event().await.1, "echo");
            echoes += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let scrapes = scraper.await.unwrap();
    assert!(scrapes >= 100, "{scrapes} scrapes in 2 s");
    let m = scrape(addr).await;
    assert_eq!(
        get(&m, r#"oxsio_packets_received_total{type="event"}"#),
        echoes as f64
    );
    h.shutdown().await;
}

#[tokio::test]
async fn without_metrics_there_is_no_endpoint() {
    let io = Server::new();
    assert!(io.metrics().is_none());
    let h = io.listen("127.0.0.1:0").await.unwrap();
    assert_eq!(raw::get(h.local_addr(), "/metrics").await.status, 404);
    h.shutdown().await;
}
