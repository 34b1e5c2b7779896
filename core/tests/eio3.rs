//! Socket.IO 2.x clients (Engine.IO protocol 3) against
//! `ServerBuilder::allow_eio3`: the official `socket.io-client` 2.x over
//! polling (binary payloads), WebSocket and polling with upgrade (see
//! tests/interop/v2_client.js for the scenarios); refused without the
//! option; raw protocol 3 framing (text payloads with UTF-16 lengths,
//! `b64=1`, a malformed payload, the heartbeat that the client drives).
//!
//! The JS client is installed by `tests/interop/setup.sh` (the README test command).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::raw;
use oxsio::{ConnectError, Event, Server, ServerHandle, Socket, Value};

fn app(allow: bool) -> Server {
    let io = Server::builder()
        .allow_eio3(allow)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .build();
    io.on_connection(|s: Socket| {
        s.on("whoami", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.socket.id().as_str());
            }
        });
        s.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        s.on("ack", |ev: Event| {
            let n = ev.args.first().and_then(Value::as_f64).unwrap_or(0.0);
            if let Some(ack) = ev.ack {
                let _ = ack.send((n + 1.0, vec![42u8]));
            }
        });
        s.on("ask-me", |ev: Event| {
            let q = ev.args.first().cloned().unwrap_or(Value::Null);
            let asked = ev.socket.emit_with_ack("ask", q);
            tokio::spawn(async move {
                if let (Ok(answer), Some(ack)) = (asked.await, ev.ack) {
                    let _ = ack.send(answer);
                }
            });
        });
        s.on("kick", |ev: Event| ev.socket.disconnect());
    });
    let chat = io.of("/chat");
    chat.use_middleware(|s: &Socket| {
        if s.handshake().auth["token"] == Value::from("abc") {
            Ok(())
        } else {
            Err(ConnectError::new("bad token"))
        }
    });
    chat.on_connection(|s: Socket| {
        let token = s.handshake().auth["token"].clone();
        let _ = s.emit("welcome", token);
        s.on("echo", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
    });
    io.of("/guarded")
        .use_middleware(|_: &Socket| Err(ConnectError::new("bad token")));
    io.of("/data").use_middleware(|_: &Socket| {
        Err(ConnectError::new("refused").with_data(serde_json::json!({"code": 7})))
    });
    io
}

async fn serve(allow: bool) -> ServerHandle {
    app(allow).listen("127.0.0.1:0").await.unwrap()
}

async fn v2_client(url: &str, mode: &str) -> String {
    let dir = common::repo_root().join("tests/interop");
    let out = tokio::process::Command::new("node")
        .arg(dir.join("v2_client.js"))
        .arg(url)
        .arg(mode)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("v2_client.js did not finish")
        .expect("cannot start node (run tests/interop/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{mode}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2x_client_over_every_transport() {
    let h = serve(true).await;
    let url = format!("http://{}", h.local_addr());
    for mode in ["polling", "websocket", "upgrade"] {
        let out = v2_client(&url, mode).await;
        let passed = out.lines().filter(|l| l.starts_with("ok ")).count();
        assert!(passed >= 11, "{mode}: only {passed} scenarios\n{out}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn the_2x_client_is_refused_without_allow_eio3() {
    let h = serve(false).await;
    let out = v2_client(&format!("http://{}", h.local_addr()), "refused").await;
    assert!(out.contains("ok refused"), "{out}");
    // The answer itself, as Node's.
    let res = raw::get(h.local_addr(), "/socket.io/?EIO=3&transport=polling").await;
    res.assert_error(400, 5, "Unsupported protocol version");
    h.shutdown().await;
}

/// Packets as a protocol 3 text payload.
fn v3(packets: &[&str]) -> Vec<u8> {
    let records: Vec<_> = packets
        .iter()
        .map(|p| oxsio::codec::polling_v3::V3Record::Text(p))
        .collect();
    let mut out = Vec::new();
    oxsio::codec::polling_v3::encode(&records, false, &mut out);
    out
}

/// Splits a protocol 3 text payload into its packets, checking lengths.
fn v3_packets(body: &str) -> Vec<String> {
    oxsio::codec::polling_v3::decode_text(body)
        .unwrap()
        .into_iter()
        .map(|p| match p {
            oxsio::codec::polling_v3::V3Packet::Text(t) => t,
            oxsio::codec::polling_v3::V3Packet::Binary(b) => format!("<{} bytes>", b.len()),
        })
        .collect()
}

/// A protocol 3 polling handshake (with `extra` in the query); the
/// session's request path. Checks that the answer is the open packet.
async fn v3_handshake(addr: std::net::SocketAddr, extra: &str) -> String {
    let open = raw::get(
        addr,
        &format!("/socket.io/?EIO=3&transport=polling&{extra}"),
    )
    .await;
    let packets = v3_packets(&open.text());
    assert!(packets[0].starts_with("0{\"sid\":"), "{packets:?}");
    let sid = serde_json::from_str::<serde_json::Value>(&packets[0][1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("/socket.io/?EIO=3&transport=polling&{extra}&sid={sid}")
}

#[tokio::test]
async fn raw_polling_framing_and_the_client_driven_heartbeat() {
    let h = serve(true).await;
    let addr = h.local_addr();
    let q = v3_handshake(addr, "b64=1").await;
    // Connected to `/` at once, without a payload.
    assert_eq!(v3_packets(&raw::get(addr, &q).await.text()), ["40"]);
    // A ping (the client's job in protocol 3) is answered with a pong; a
    // packet with characters outside the BMP counts UTF-16 units.
    let body = v3(&["2", "42[\"echo\",\"😀\"]"]);
    assert!(String::from_utf8_lossy(&body).starts_with("1:215:42"));
    assert_eq!(raw::post(addr, &q, &body).await.text(), "ok");
    let got = v3_packets(&raw::get(addr, &q).await.text());
    assert!(got.contains(&"3".to_owned()), "{got:?}");
    if !got.iter().any(|p| p.contains('😀')) {
        let more = v3_packets(&raw::get(addr, &q).await.text());
        assert_eq!(more, ["42[\"echo\",\"😀\"]"]);
    }
    // Binary from the server goes as base64 (`b4…`) with b64=1.
    let ack = v3(&["4210[\"ack\",41]"]);
    assert_eq!(raw::post(addr, &q, &ack).await.text(), "ok");
    let res = raw::get(addr, &q).await;
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let reply = res.text();
    assert!(reply.contains(":b4Kg=="), "{reply}");
    // Without pings, the session ends after pingInterval + pingTimeout.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let gone = raw::get(addr, &q).await;
    assert_eq!(gone.status, 400, "{}", gone.text());
    h.shutdown().await;
}

#[tokio::test]
async fn a_malformed_v3_payload_closes_the_session() {
    let h = serve(true).await;
    let addr = h.local_addr();
    let q = v3_handshake(addr, "t=x").await;
    // A length past the end.
    raw::post(addr, &q, b"9:42").await;
    let res = raw::get(addr, &q).await;
    assert_eq!(res.status, 400, "{}", res.text());
    h.shutdown().await;
}

/// The Rust client with `eio3` against a 2.x server over `transports`.
async fn rust_client_scenarios(url: &str, transports: Vec<oxsio::Transport>) {
    use oxsio::client::{ClientBuilder, ClientError, ClientEvent, Manager, Reconnection};
    let mode = format!("{transports:?}");
    let opts = oxsio::client::ClientOptions {
        transports: transports.clone(),
        eio3: true,
        reconnection: Reconnection {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let (etx, mut echo) = tokio::sync::mpsc::unbounded_channel();
    let socket = ClientBuilder::new(url)
        .options(opts.clone())
        .on("echo", move |ev: ClientEvent| {
            let _ = etx.send(ev.args);
        })
        .on("ask", |ev: ClientEvent| {
            let q = ev.args.first().and_then(Value::as_f64).unwrap_or(0.0);
            if let Some(ack) = ev.ack {
                let _ = ack.send(q * 2.0);
            }
        })
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{mode}: connect: {e}"));
    let id = socket.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(id[0].as_str(), socket.id().as_deref(), "{mode}: id");
    let args = vec![Value::from("héllo €😀"), Value::from(vec![1u8, 2, 3, 250])];
    socket.emit("echo", args.clone()).unwrap();
    let back = tokio::time::timeout(Duration::from_secs(5), echo.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, args, "{mode}: echo");
    let reply = socket.emit_with_ack("ack", 41).await.unwrap();
    assert_eq!(
        reply,
        vec![Value::from(42), Value::from(vec![42u8])],
        "{mode}"
    );
    let answer = socket.emit_with_ack("ask-me", 21).await.unwrap();
    assert_eq!(answer[0].as_f64(), Some(42.0), "{mode}: server ack");
    // The server drops a client that does not ping within 500 ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(socket.connected(), "{mode}: dropped (pings?)");
    if transports.len() == 2 {
        assert_eq!(
            socket.transport(),
            Some(oxsio::Transport::Websocket),
            "{mode}"
        );
    }
    // Namespaces over the same connection, auth as query.
    let manager = Manager::new(url, opts).unwrap();
    let (wtx, mut welcome) = tokio::sync::mpsc::unbounded_channel();
    let chat = manager.socket_with_auth("/chat", serde_json::json!({"token": "abc"}));
    chat.on("welcome", move |ev: ClientEvent| {
        let _ = wtx.send(ev.args);
    });
    chat.connect()
        .await
        .unwrap_or_else(|e| panic!("{mode}: /chat: {e}"));
    let w = tokio::time::timeout(Duration::from_secs(5), welcome.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w, vec![Value::from("abc")], "{mode}");
    assert!(chat.id().unwrap().starts_with("/chat#"), "{mode}");
    let back = chat.emit_with_ack("echo", "in chat").await.unwrap();
    assert_eq!(back, vec![Value::from("in chat")]);
    match manager.socket("/guarded").connect().await {
        Err(ClientError::Refused { message, .. }) => assert_eq!(message, "bad token", "{mode}"),
        other => panic!("{mode}: /guarded: {other:?}"),
    }
    match manager.socket("/data").connect().await {
        Err(ClientError::Refused { data, .. }) => {
            assert_eq!(
                data,
                Some(Value::from(serde_json::json!({"code": 7}))),
                "{mode}"
            )
        }
        other => panic!("{mode}: /data: {other:?}"),
    }
    manager.close();
    socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_speaks_eio3_to_a_2x_server() {
    use oxsio::Transport::{Polling, Websocket};
    let (mut node, port) = common::start_node_peer("v2_server.js").await;
    let url = format!("http://127.0.0.1:{port}");
    for transports in [vec![Polling], vec![Websocket], vec![Polling, Websocket]] {
        rust_client_scenarios(&url, transports).await;
    }
    let _ = node.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_speaks_eio3_to_oxsio() {
    use oxsio::Transport::{Polling, Websocket};
    let h = serve(true).await;
    let url = format!("http://{}", h.local_addr());
    for transports in [vec![Polling], vec![Websocket], vec![Polling, Websocket]] {
        rust_client_scenarios(&url, transports).await;
    }
    h.shutdown().await;
}
