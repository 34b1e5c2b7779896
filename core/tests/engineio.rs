//! Engine.IO v4 as the official server (engine.io 6.x) behaves on the wire:
//! handshakes, polling framing, binary, upgrade, heartbeat, close, CORS,
//! admission hook, path, transports and the sticky cookie.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::raw::{self, Client, Eio, Frame, PATH, T, eio_url, serve, ws_connect, ws_recv};
use futures_util::SinkExt;
use oxsio::codec::socketio::PacketData;
use oxsio::{Event, Server, Socket, Transport, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A server whose sockets echo `echo` events and report disconnect reasons.
fn echo_server(io: &Server) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket: Socket| {
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        let tx = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = tx.send(reason.as_str().to_owned());
        });
    });
    rx
}

fn assert_sid(sid: &str) {
    assert_eq!(sid.len(), 20, "{sid}");
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sid} is not URL-safe"
    );
}

fn keys(v: &serde_json::Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

async fn reason(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("no disconnect reason")
        .unwrap()
}

/// Polling handshake: `GET ?EIO=4&transport=polling` → 200, `0{...}` with
/// exactly sid/upgrades/pingInterval/pingTimeout/maxPayload, in that order,
/// upgrades `["websocket"]`, Node's defaults.
#[tokio::test]
async fn handshake_over_polling() {
    let io = Server::new();
    let h = serve(&io).await;
    let res = raw::get(h.local_addr(), &eio_url(PATH, "polling", None)).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let text = res.text();
    assert!(text.starts_with("0{"), "{text}");
    let open: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
    assert_eq!(
        keys(&open),
        [
            "sid",
            "upgrades",
            "pingInterval",
            "pingTimeout",
            "maxPayload"
        ]
    );
    assert_sid(open["sid"].as_str().unwrap());
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 20000);
    assert_eq!(open["maxPayload"], 1_000_000);
    // Every handshake gets its own id.
    let other = Client::polling(h.local_addr()).await;
    assert_ne!(other.sid, open["sid"].as_str().unwrap());
}

/// Direct WebSocket handshake: 101, first frame is the open packet with
/// `upgrades: []`; the builder's intervals and max payload are reported.
#[tokio::test]
async fn handshake_over_websocket() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(1500))
        .ping_timeout(Duration::from_millis(700))
        .max_payload(1234)
        .build();
    let h = serve(&io).await;
    let c = Client::ws(h.local_addr()).await;
    assert_eq!(
        keys(&c.open),
        [
            "sid",
            "upgrades",
            "pingInterval",
            "pingTimeout",
            "maxPayload"
        ]
    );
    assert_sid(&c.sid);
    assert_eq!(c.open["upgrades"], serde_json::json!([]));
    assert_eq!(c.open["pingInterval"], 1500);
    assert_eq!(c.open["pingTimeout"], 700);
    assert_eq!(c.open["maxPayload"], 1234);
}

/// One GET returns **all** queued packets joined by `\x1e`; one POST may
/// carry several packets.
#[tokio::test]
async fn polling_batches_queued_packets() {
    let io = Server::new();
    let _rx = echo_server(&io);
    io.on_connection(|socket: Socket| {
        for name in ["a", "b", "c"] {
            socket.emit(name, ()).unwrap();
        }
    });
    let h = serve(&io).await;
    let addr = h.local_addr();
    let c = Client::polling(addr).await;
    let url = c.polling_url();
    let res = raw::post(addr, &url, b"40").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), "ok");
    // CONNECT answer and the three emits of the connection handler, in one body.
    let res = raw::get(addr, &url).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    let body = res.text();
    let recs: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(recs.len(), 4, "{body:?}");
    assert!(recs[0].starts_with("40{\"sid\":\""), "{body:?}");
    assert_eq!(&recs[1..], [r#"42["a"]"#, r#"42["b"]"#, r#"42["c"]"#]);
    // Two packets in one POST; both answers in the next GET.
    let res = raw::post(
        addr,
        &url,
        "42[\"echo\",1]\x1e42[\"echo\",\"€✓\"]".as_bytes(),
    )
    .await;
    assert_eq!((res.status, res.text().as_str()), (200, "ok"));
    let res = raw::get(addr, &url).await;
    assert_eq!(res.text(), "42[\"echo\",1]\x1e42[\"echo\",\"€✓\"]");
}

/// Binary over polling: `b` + base64 records right after the header, both ways.
#[tokio::test]
async fn polling_binary_is_base64() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket: Socket| {
        let tx = tx.clone();
        socket.on("up", move |ev: Event| {
            let _ = tx.send(ev.args.clone());
        });
        socket
            .emit("down", (Value::from(vec![1u8, 2, 3]), "x"))
            .unwrap();
    });
    let h = serve(&io).await;
    let addr = h.local_addr();
    let c = Client::polling(addr).await;
    let url = c.polling_url();
    raw::post(addr, &url, b"40").await;
    let body = raw::get(addr, &url).await.text();
    let recs: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(
        &recs[1..],
        [r#"451-["down",{"_placeholder":true,"num":0},"x"]"#, "bAQID"]
    );
    let res = raw::post(
        addr,
        &url,
        "451-[\"up\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==".as_bytes(),
    )
    .await;
    assert_eq!(res.status, 200);
    let args = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(args, vec![Value::from(vec![1u8, 2, 3, 4])]);
}

/// Upgrade: `2probe` → `3probe` on the WS, the pending GET is released with
/// `6`, `5` switches, packets queued meanwhile are flushed on the WS, and the
/// polling transport is then refused with 400 code 3.
#[tokio::test]
async fn upgrade_polling_to_websocket() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let url = c.polling_url();
    let pending = tokio::spawn(async move { raw::get(addr, &url).await });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&c.sid)), &[])
        .await
        .unwrap();
    ws.send(WsMessage::text("2probe")).await.unwrap();
    assert_eq!(
        ws_recv(&mut ws, T).await,
        Some(Frame::Text("3probe".into()))
    );
    let released = tokio::time::timeout(T, pending).await.unwrap().unwrap();
    assert_eq!((released.status, released.text().as_str()), (200, "6"));

    // Queued while upgrading: must come out on the WebSocket after `5`.
    io.emit("buffered", 1).unwrap();
    ws.send(WsMessage::text("5")).await.unwrap();
    assert_eq!(
        ws_recv(&mut ws, T).await,
        Some(Frame::Text(r#"42["buffered",1]"#.into()))
    );
    ws.send(WsMessage::text(r#"42["echo","over ws"]"#))
        .await
        .unwrap();
    assert_eq!(
        ws_recv(&mut ws, T).await,
        Some(Frame::Text(r#"42["echo","over ws"]"#.into()))
    );

    let url = c.polling_url();
    raw::get(addr, &url)
        .await
        .assert_error(400, 3, "Bad request");
    raw::post(addr, &url, b"42[\"echo\"]")
        .await
        .assert_error(400, 3, "Bad request");
    // A second WebSocket for the same sid is refused too.
    let second = ws_connect(addr, &eio_url(PATH, "websocket", Some(&c.sid)), &[]).await;
    if let Ok(mut second) = second {
        second.send(WsMessage::text("2probe")).await.ok();
        assert!(matches!(
            ws_recv(&mut second, T).await,
            Some(Frame::Closed(_))
        ));
    }
}

/// The raw client's own upgrade helper, then Socket.IO traffic on the WS.
#[tokio::test]
async fn upgraded_session_carries_socketio() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let mut c = Client::polling(h.local_addr()).await;
    c.connect().await;
    c.upgrade().await;
    c.emit("/", "echo", vec![Value::from("hi")]).await;
    let (_, name, args, _) = c.recv_event().await;
    assert_eq!((name.as_str(), args), ("echo", vec![Value::from("hi")]));
}

/// A long-poll GET is held until a packet is queued, then returns it.
#[tokio::test]
async fn long_poll_is_held_until_a_packet() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let url = c.polling_url();
    let mut pending = tokio::spawn(async move { raw::get(addr, &url).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut pending)
            .await
            .is_err(),
        "GET returned with nothing queued"
    );
    io.emit("late", ()).unwrap();
    let res = tokio::time::timeout(T, pending).await.unwrap().unwrap();
    assert_eq!(res.text(), r#"42["late"]"#);
}

/// The `t` cache-buster (and unknown parameters) are ignored.
#[tokio::test]
async fn cache_buster_is_ignored() {
    let io = Server::new();
    let h = serve(&io).await;
    let res = raw::get(
        h.local_addr(),
        &format!("{}&t=PcXzT1a&foo=bar", eio_url(PATH, "polling", None)),
    )
    .await;
    assert_eq!(res.status, 200);
    assert!(res.text().starts_with("0{\"sid\":"));
}

/// A probe WebSocket that sends anything but `2probe`/`5` aborts the
/// upgrade; the session carries on over polling.
#[tokio::test]
async fn failed_probe_keeps_polling() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&c.sid)), &[])
        .await
        .unwrap();
    ws.send(WsMessage::text("2probe")).await.unwrap();
    assert_eq!(
        ws_recv(&mut ws, T).await,
        Some(Frame::Text("3probe".into()))
    );
    ws.send(WsMessage::text(r#"42["echo","on the probe"]"#))
        .await
        .unwrap();
    assert!(matches!(ws_recv(&mut ws, T).await, Some(Frame::Closed(_))));
    c.emit("/", "echo", vec![Value::from("still polling")])
        .await;
    let (_, _, args, _) = c.recv_event().await;
    assert_eq!(args, vec![Value::from("still polling")]);
}

/// No `5` within `upgrade_timeout`: the probe WebSocket is closed and the
/// session carries on over polling.
#[tokio::test]
async fn upgrade_timeout_keeps_polling() {
    let io = Server::builder()
        .upgrade_timeout(Duration::from_millis(200))
        .build();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&c.sid)), &[])
        .await
        .unwrap();
    ws.send(WsMessage::text("2probe")).await.unwrap();
    assert_eq!(
        ws_recv(&mut ws, T).await,
        Some(Frame::Text("3probe".into()))
    );
    assert!(matches!(ws_recv(&mut ws, T).await, Some(Frame::Closed(_))));
    c.emit("/", "echo", vec![Value::from(1)]).await;
    let (_, _, args, _) = c.recv_event().await;
    assert_eq!(args, vec![Value::from(1)]);
}

/// After an upgrade the heartbeat goes on over the WebSocket: pings keep
/// coming, pongs keep the session, missing pongs end it.
#[tokio::test]
async fn heartbeat_after_upgrade() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100))
        .build();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let mut c = Client::polling(h.local_addr()).await;
    c.connect().await;
    c.upgrade().await;
    let before = c.pings;
    c.expect_silence(Duration::from_millis(500)).await;
    assert!(c.pings >= before + 3, "{} pings", c.pings - before);
    assert!(!c.is_polling());
    c.auto_pong = false;
    assert_eq!(reason(&mut reasons).await, "ping timeout");
    c.expect_closed().await;
}

/// Node decodes a WebSocket text frame with the same `decodePacket` as a
/// polling record, so a text frame `b<base64>` is a binary message.
#[tokio::test]

async fn websocket_text_frame_b_prefix_is_binary() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |socket: Socket| {
        let tx = tx.clone();
        socket.on("up", move |ev: Event| {
            let _ = tx.send(ev.args.clone());
        });
    });
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.send_text(r#"451-["up",{"_placeholder":true,"num":0}]"#)
        .await;
    c.send_text("bAQID").await;
    let args = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(args, vec![Value::from(vec![1u8, 2, 3])]);
}

/// Heartbeat: the server pings (`2`) every pingInterval; with pongs the
/// session lives on.
#[tokio::test]
async fn server_pings_and_pongs_keep_session_alive() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100))
        .build();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    for polling in [false, true] {
        let mut c = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        c.connect().await;
        c.expect_silence(Duration::from_millis(700)).await;
        assert!(c.pings >= 3, "only {} pings (polling: {polling})", c.pings);
        c.emit("/", "echo", vec![Value::from(1)]).await;
        assert_eq!(c.recv_event().await.1, "echo");
    }
}

/// No pong within pingTimeout → session closed, socket reason `ping timeout`.
#[tokio::test]
async fn missing_pong_closes_with_ping_timeout() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100))
        .build();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    for polling in [false, true] {
        let mut c = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        c.auto_pong = false;
        c.connect().await;
        let started = tokio::time::Instant::now();
        assert_eq!(c.recv_eio().await, Eio::Text("2".into()));
        assert_eq!(reason(&mut reasons).await, "ping timeout");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
        c.expect_closed().await;
    }
}

/// Client close packet `1` over polling: reason `transport close`, a pending
/// GET is answered (Node: `6`), later requests get 400 "Session ID unknown".
#[tokio::test]
async fn client_close_packet_over_polling() {
    let io = Server::new();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let url = c.polling_url();
    let pending = tokio::spawn({
        let url = url.clone();
        async move { raw::get(addr, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(raw::post(addr, &url, b"1").await.status, 200);
    assert_eq!(reason(&mut reasons).await, "transport close");
    let released = tokio::time::timeout(T, pending).await.unwrap().unwrap();
    assert_eq!(released.status, 200);
    let body = released.text();
    assert!(
        body == "6" || body == "1" || body == "6\x1e1",
        "pending GET after client close: {body:?}"
    );
    assert!(
        raw::eventually(T, || io.connection_count() == 0).await,
        "session not removed"
    );
    raw::get(addr, &url)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

/// Strictly as Node: the pending GET released by a client close gets a
/// noop `6` (Polling.onClose sends noop when writable), not a close `1`.
#[tokio::test]

async fn client_close_releases_pending_get_with_noop() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let url = c.polling_url();
    let pending = tokio::spawn({
        let url = url.clone();
        async move { raw::get(addr, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    raw::post(addr, &url, b"1").await;
    let released = tokio::time::timeout(T, pending).await.unwrap().unwrap();
    assert_eq!(released.text(), "6");
}

/// Client close packet `1` over WebSocket: the session ends with
/// `transport close` (Node may instead wait for the ping timeout; the spec
/// says close — oxsio closes).
#[tokio::test]
async fn client_close_packet_over_websocket() {
    let io = Server::new();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.send_text("1").await;
    assert_eq!(reason(&mut reasons).await, "transport close");
    c.expect_closed().await;
}

/// Closing the WebSocket itself: reason `transport close`.
#[tokio::test]
async fn websocket_close_frame_is_transport_close() {
    let io = Server::new();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.ws_mut().close(None).await.unwrap();
    assert_eq!(reason(&mut reasons).await, "transport close");
}

/// A WebSocket that just goes away (TCP closed, no close frame — a killed
/// tab, a lost network) is `transport close` in Node: `ws` emits only
/// `close` (code 1006), no `error`.
#[tokio::test]

async fn websocket_dropped_without_close_frame_is_transport_close() {
    let io = Server::new();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    drop(c);
    assert_eq!(reason(&mut reasons).await, "transport close");
}

/// A client aborting its pending long-poll GET kills the session in Node
/// (`poll connection closed prematurely` → `transport error`).
#[tokio::test]

async fn aborted_long_poll_closes_session() {
    use tokio::io::AsyncWriteExt;
    let io = Server::new();
    let mut reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    let mut c = Client::polling(addr).await;
    c.connect().await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", c.polling_url());
    tcp.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(tcp);
    assert_eq!(reason(&mut reasons).await, "transport error");
}

/// CORS is off by default: no `Access-Control-Allow-Origin` at all.
#[tokio::test]
async fn cors_off_by_default() {
    let io = Server::new();
    let h = serve(&io).await;
    let res = raw::http(
        h.local_addr(),
        "GET",
        &eio_url(PATH, "polling", None),
        &[("Origin", "http://a.test")],
        b"",
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

/// `cors_origins`: an allowed origin is echoed (with `Vary: Origin`), any
/// other gets no CORS header; OPTIONS preflight → 204 with the methods.
#[tokio::test]
async fn cors_with_origin_list() {
    let io = Server::builder().cors_origins(["http://a.test"]).build();
    let h = serve(&io).await;
    let addr = h.local_addr();
    let url = eio_url(PATH, "polling", None);
    let res = raw::http(addr, "GET", &url, &[("Origin", "http://a.test")], b"").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://a.test")
    );
    assert_eq!(res.header("vary"), Some("Origin"));

    let res = raw::http(addr, "GET", &url, &[("Origin", "http://b.test")], b"").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), None);

    let res = raw::http(
        addr,
        "OPTIONS",
        &url,
        &[
            ("Origin", "http://a.test"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(res.status, 204);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://a.test")
    );
    let methods = res.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    // Error answers carry the CORS headers too (the browser must read them).
    let res = raw::http(
        addr,
        "GET",
        &eio_url(PATH, "bogus", None),
        &[("Origin", "http://a.test")],
        b"",
    )
    .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("http://a.test")
    );
}

/// `allow_request` refusing → 403 `{"code":4,"message":<msg>}`, on both
/// transports; accepted requests go through.
#[tokio::test]
async fn allow_request_refuses_with_403() {
    let io = Server::builder()
        .allow_request(|req| {
            if req.query_param("token").as_deref() == Some("ok") {
                Ok(())
            } else {
                Err("go away".into())
            }
        })
        .build();
    let h = serve(&io).await;
    let addr = h.local_addr();
    raw::get(addr, &eio_url(PATH, "polling", None))
        .await
        .assert_error(403, 4, "go away");
    let ok = raw::get(
        addr,
        &format!("{}&token=ok", eio_url(PATH, "polling", None)),
    )
    .await;
    assert_eq!(ok.status, 200);
    let refused = ws_connect(addr, &eio_url(PATH, "websocket", None), &[]).await;
    match refused {
        Err(e) => match *e {
            tokio_tungstenite::tungstenite::Error::Http(res) => assert_eq!(res.status(), 403),
            other => panic!("unexpected error {other}"),
        },
        Ok(_) => panic!("WebSocket handshake should be refused"),
    }
}

/// `path("/custom/")`: served there, 404 on the default path.
#[tokio::test]
async fn custom_path() {
    let io = Server::builder().path("/custom/").build();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    let addr = h.local_addr();
    assert_eq!(
        raw::get(addr, &eio_url(PATH, "polling", None)).await.status,
        404
    );
    let mut c = Client::polling_at(addr, "/custom/").await;
    c.connect().await;
    let mut w = Client::ws_at(addr, "/custom/").await;
    w.connect().await;
    w.emit("/", "echo", vec![Value::from(2)]).await;
    assert_eq!(w.recv_event().await.2, vec![Value::from(2)]);
}

/// `transports([Websocket])`: a polling handshake is "Transport unknown".
#[tokio::test]
async fn websocket_only_refuses_polling() {
    let io = Server::builder().transports([Transport::Websocket]).build();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    raw::get(h.local_addr(), &eio_url(PATH, "polling", None))
        .await
        .assert_error(400, 0, "Transport unknown");
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
}

/// `transports([Polling])`: no upgrade offered, WebSocket refused.
#[tokio::test]
async fn polling_only_offers_no_upgrade() {
    let io = Server::builder().transports([Transport::Polling]).build();
    let h = serve(&io).await;
    let c = Client::polling(h.local_addr()).await;
    assert_eq!(c.open["upgrades"], serde_json::json!([]));
    assert!(
        ws_connect(h.local_addr(), &eio_url(PATH, "websocket", None), &[])
            .await
            .is_err()
    );
}

/// `cookie("io")`: `Set-Cookie: io=<sid>; Path=/; HttpOnly; SameSite=Lax` on
/// the handshake; no cookie without the option.
#[tokio::test]
async fn cookie_option_sets_sticky_cookie() {
    let io = Server::builder().cookie("io").build();
    let h = serve(&io).await;
    let res = raw::get(h.local_addr(), &eio_url(PATH, "polling", None)).await;
    let sid = serde_json::from_str::<serde_json::Value>(&res.text()[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        res.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    // Later requests of the session do not set it again.
    let url = eio_url(PATH, "polling", Some(&sid));
    assert_eq!(
        raw::post(h.local_addr(), &url, b"40")
            .await
            .header("set-cookie"),
        None
    );

    let plain = Server::new();
    let h2 = serve(&plain).await;
    let res = raw::get(h2.local_addr(), &eio_url(PATH, "polling", None)).await;
    assert_eq!(res.header("set-cookie"), None);
}

/// Text is UTF-8 byte-exact on both transports (`4€✓` echoed); client
/// `5`/`6` outside an upgrade are ignored.
#[tokio::test]
async fn utf8_and_empty_messages() {
    let io = Server::new();
    let _reasons = echo_server(&io);
    let h = serve(&io).await;
    for polling in [false, true] {
        let mut c = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        c.connect().await;
        c.emit("/", "echo", vec![Value::from("€✓ \u{1F600}")]).await;
        let (_, _, args, _) = c.recv_event().await;
        assert_eq!(args, vec![Value::from("€✓ \u{1F600}")]);
        // Client `5`/`6` outside an upgrade are ignored.
        c.send_text("6").await;
        c.send_text("5").await;
        c.emit("/", "echo", vec![]).await;
        let p = c.recv_packet().await;
        assert!(matches!(p.data, PacketData::Event { .. }), "{p:?}");
    }
}

/// A client that sends its first frames in the same segment as the upgrade
/// request (bytes hyper read past the request head) is served in order.
#[tokio::test]
async fn frames_pipelined_behind_the_upgrade_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let io = Server::new();
    let _rx = echo_server(&io);
    let h = serve(&io).await;
    let mut tcp = tokio::net::TcpStream::connect(h.local_addr())
        .await
        .unwrap();
    let mut bytes = format!(
        "GET {PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes();
    // Masked text frames "40" (connect to /) and `42["echo","hi"]`.
    let mask = [7u8, 1, 9, 3];
    for text in [&b"40"[..], &br#"42["echo","hi"]"#[..]] {
        bytes.extend_from_slice(&[0x81, 0x80 | text.len() as u8]);
        bytes.extend_from_slice(&mask);
        bytes.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }
    tcp.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(r#"42["echo","hi"]"#) {
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut buf))
            .await
            .expect("echo in time")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // Open packet, CONNECT answer, then the echo, in that order.
    let open = text.find(r#"0{"sid""#).unwrap();
    let connected = text.find(r#"40{"sid""#).unwrap();
    assert!(open < connected && connected < text.find("42[").unwrap());
}
