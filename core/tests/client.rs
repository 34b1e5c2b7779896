//! The Rust client against the oxsio server and against the official
//! Node.js server (tests/interop/reference_server.js runs the same app),
//! over WebSocket only, polling only, and polling with upgrade.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxsio::client::{
    Buffering, ClientBuilder, ClientDisconnectReason, ClientError, ClientEvent, ClientOptions,
    ClientSocket, Manager, Reconnection,
};
use oxsio::codec::Parser;
use oxsio::{Transport, Value};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

fn modes() -> [(&'static str, Vec<Transport>); 3] {
    [
        ("websocket", vec![Transport::Websocket]),
        ("polling", vec![Transport::Polling]),
        ("upgrade", vec![Transport::Polling, Transport::Websocket]),
    ]
}

/// The official server running the interop app; killed on drop.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    async fn start(port: u16) -> NodeServer {
        NodeServer::start_with(port, Parser::Json).await
    }

    async fn start_with(port: u16, parser: Parser) -> NodeServer {
        let dir = common::repo_root().join("tests/interop");
        let mut child = Command::new("node")
            .arg(dir.join("reference_server.js"))
            .arg(port.to_string())
            .env("PARSER", parser.name())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node (run tests/interop/setup.sh)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap()
            .parse()
            .unwrap();
        NodeServer { child, port }
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Collects events of one name into a channel.
fn collect(socket: &ClientSocket, event: &str) -> mpsc::UnboundedReceiver<Vec<Value>> {
    let (tx, rx) = mpsc::unbounded_channel();
    socket.on(event, move |ev: ClientEvent| {
        let _ = tx.send(ev.args);
    });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Vec<Value>>) -> Vec<Value> {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("event in time")
        .unwrap()
}

fn opts(transports: &[Transport]) -> ClientOptions {
    opts_with(transports, Parser::Json)
}

fn opts_with(transports: &[Transport], parser: Parser) -> ClientOptions {
    ClientOptions {
        parser,
        transports: transports.to_vec(),
        reconnection: Reconnection {
            delay: Duration::from_millis(100),
            delay_max: Duration::from_millis(300),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Every feature a well-behaved server offers, through one client.
async fn feature_suite(base: &str, mode: &str, transports: &[Transport], parser: Parser) {
    // Connect with auth; a handler registered before connecting sees the welcome.
    let (wtx, mut welcome) = mpsc::unbounded_channel();
    let socket = ClientBuilder::new(base)
        .options(opts_with(transports, parser))
        .auth(json!({"token": "good", "room": "vip"}))
        .on("welcome", move |ev| {
            let _ = wtx.send(ev.args);
        })
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{mode}: connect: {e}"));
    let w = next(&mut welcome).await;
    assert_eq!(
        w[0]["sid"].as_str().map(str::to_owned),
        socket.id(),
        "{mode}"
    );
    assert_eq!(w[0]["auth"]["token"], Value::from("good"));

    // Events both ways with JSON and nested binary.
    let mut echo = collect(&socket, "echo");
    let mut nested = oxsio::Map::new();
    nested.insert("buf".into(), Value::from(vec![1u8, 2, 3]));
    nested.insert(
        "list".into(),
        Value::Array(vec![
            Value::from(&b"xyz"[..]),
            Value::from(json!({"n": 1.5})),
        ]),
    );
    let args = vec![
        Value::from("€✓"),
        Value::Object(nested),
        Value::from(vec![0u8; 0]),
        Value::from(json!([1, null, true])),
    ];
    socket.emit("echo", args.clone()).unwrap();
    assert_eq!(next(&mut echo).await, args, "{mode}: echo");

    // Client ack answered by the server.
    let reply = socket
        .emit_with_ack("echo-ack", ("a", 2, vec![9u8]))
        .await
        .unwrap();
    assert_eq!(
        reply,
        vec![Value::from("a"), Value::from(2), Value::from(vec![9u8])],
        "{mode}"
    );

    // Server ack answered by the client.
    socket.on("question", |ev: ClientEvent| {
        let data = ev.arg(0).clone();
        ev.ack.unwrap().send(("reply", data)).unwrap();
    });
    let mut answer = collect(&socket, "answer");
    socket.emit("ask-client", json!({"q": 42})).unwrap();
    assert_eq!(
        next(&mut answer).await,
        vec![Value::from("reply"), Value::from(json!({"q": 42}))],
        "{mode}"
    );

    // Rooms: the auth room was joined by the server.
    let mut vip = collect(&socket, "vip-msg");
    socket.emit("to-room", ("vip", "vip-msg", 7)).unwrap();
    assert_eq!(next(&mut vip).await, vec![Value::from(7)]);

    // Offline emits are buffered until connected, sent once, in order.
    let manager = Manager::new(base, opts_with(transports, parser)).unwrap();
    let late = manager.socket("/");
    let mut late_echo = collect(&late, "echo");
    late.emit("echo", 1).unwrap();
    late.emit("echo", 2).unwrap();
    late.connect().await.unwrap();
    assert_eq!(next(&mut late_echo).await, vec![Value::from(1)]);
    assert_eq!(next(&mut late_echo).await, vec![Value::from(2)]);
    // A second namespace over the same manager connection.
    let admin = manager.socket("/admin");
    let mut admin_welcome = collect(&admin, "welcome");
    admin.connect().await.unwrap();
    assert_eq!(
        next(&mut admin_welcome).await[0]["nsp"],
        Value::from("/admin")
    );
    let mut admin_echo = collect(&admin, "echo");
    admin.emit("echo", "hi admin").unwrap();
    assert_eq!(next(&mut admin_echo).await, vec![Value::from("hi admin")]);
    // An unknown namespace is refused.
    let nope = manager.socket("/nope");
    match nope.connect().await {
        Err(ClientError::Refused { message, .. }) => assert_eq!(message, "Invalid namespace"),
        other => panic!("{mode}: {other:?}"),
    }
    late.disconnect();
    admin.disconnect();

    // Over maxPayload (100 000): rejected locally with a typed error.
    match socket.emit("size", "x".repeat(200_000)) {
        Err(ClientError::PayloadTooLarge { max: 100_000, .. }) => {}
        other => panic!("{mode}: {other:?}"),
    }
    // A msgpack packet is binary: base64 (4/3 of its size) over polling.
    let fits = if parser == Parser::MsgPack && mode == "polling" {
        70_000
    } else {
        90_000
    };
    assert_eq!(
        socket
            .emit_with_ack("size", "y".repeat(fits))
            .await
            .unwrap(),
        vec![Value::from(fits)]
    );
    // Binary counts as the transport sends it: raw per frame over
    // WebSocket, base64 in the POST over polling (80 000 bytes → 106 668).
    let blob = Value::Binary(bytes::Bytes::from(vec![7u8; 80_000]));
    match mode {
        "websocket" => assert_eq!(
            socket.emit_with_ack("size", blob).await.unwrap(),
            vec![Value::from(80_000)],
            "{mode}"
        ),
        "polling" => match socket.emit("size", blob) {
            Err(ClientError::PayloadTooLarge { max: 100_000, .. }) => {}
            other => panic!("{mode}: {other:?}"),
        },
        _ => {}
    }

    // Server-side disconnect.
    let (dtx, mut dis) = mpsc::unbounded_channel();
    socket.on_disconnect(move |_, reason| {
        let _ = dtx.send(reason);
    });
    socket.emit("disconnect-me", ()).unwrap();
    let reason = tokio::time::timeout(T, dis.recv()).await.unwrap().unwrap();
    assert_eq!(reason, ClientDisconnectReason::IoServerDisconnect, "{mode}");
    assert!(!socket.connected());

    // Refused by the middleware, with the server's data.
    let refused = ClientBuilder::new(base)
        .options(opts_with(transports, parser))
        .auth(json!({"token": "bad"}))
        .connect()
        .await;
    match refused {
        Err(ClientError::Refused { message, data }) => {
            assert_eq!(message, "unauthorized");
            assert_eq!(data, Some(Value::from(json!({"reason": "bad token"}))));
        }
        other => panic!("{mode}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_oxsio_server() {
    let handle = common::start_interop_app().await;
    let base = format!("http://{}", handle.local_addr());
    for (mode, transports) in modes() {
        feature_suite(&base, mode, &transports, Parser::Json).await;
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_against_oxsio_server() {
    let handle = common::start_interop_app_with(Parser::MsgPack).await;
    let base = format!("http://{}", handle.local_addr());
    for (mode, transports) in modes() {
        feature_suite(&base, mode, &transports, Parser::MsgPack).await;
    }
    handle.shutdown().await;
}

/// socket.io-msgpack-parser on the official server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_against_node_server() {
    let node = NodeServer::start_with(0, Parser::MsgPack).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    for (mode, transports) in modes() {
        feature_suite(&base, mode, &transports, Parser::MsgPack).await;
    }
    node.stop().await;
}

/// A client whose parser is not the server's cannot connect, either way
/// round: its first packet is refused and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_parsers_fail_to_connect() {
    for (server, client) in [
        (Parser::MsgPack, Parser::Json),
        (Parser::Json, Parser::MsgPack),
    ] {
        let handle = common::start_interop_app_with(server).await;
        let base = format!("http://{}", handle.local_addr());
        let mut o = opts_with(&[Transport::Websocket], client);
        o.reconnection.enabled = false;
        o.connect_timeout = Duration::from_secs(2);
        let r = ClientBuilder::new(&base).options(o).connect().await;
        assert!(r.is_err(), "{server:?} server, {client:?} client: {r:?}");
        handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_node_server() {
    let node = NodeServer::start(0).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    for (mode, transports) in modes() {
        feature_suite(&base, mode, &transports, Parser::Json).await;
    }
    node.stop().await;
}

/// Stops the server under a connected client, restarts it on the same port:
/// the client reconnects, re-joins every namespace, and the emits queued
/// while offline are delivered once.
async fn reconnect_suite(mode: &str, transports: &[Transport], node: bool) {
    let port: u16;
    let mut node_srv = None;
    let mut oxsio_srv = None;
    if node {
        let s = NodeServer::start(0).await;
        port = s.port;
        node_srv = Some(s);
    } else {
        let h = common::start_interop_app().await;
        port = h.local_addr().port();
        oxsio_srv = Some(h);
    }
    let base = format!("http://127.0.0.1:{port}");
    let manager = Manager::new(&base, opts(transports)).unwrap();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let a = attempts.clone();
    manager.on_reconnect(move |n| a.lock().unwrap().push(n));
    let main = manager.socket("/");
    let admin = manager.socket("/admin");
    let mut main_welcome = collect(&main, "welcome");
    let mut admin_welcome = collect(&admin, "welcome");
    let mut echo = collect(&main, "echo");
    main.connect().await.unwrap();
    admin.connect().await.unwrap();
    next(&mut main_welcome).await;
    next(&mut admin_welcome).await;

    let (dtx, mut dis) = mpsc::unbounded_channel();
    main.on_disconnect(move |_, r| {
        let _ = dtx.send(r);
    });
    if let Some(s) = node_srv.take() {
        s.stop().await;
    }
    if let Some(h) = oxsio_srv.take() {
        h.shutdown().await;
    }
    let reason = tokio::time::timeout(T, dis.recv()).await.unwrap().unwrap();
    assert!(reason.will_reconnect(), "{mode}: {reason:?}");
    // Emitted while the server is down: buffered.
    main.emit("echo", "queued-1").unwrap();
    main.emit("echo", "queued-2").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _keep = if node {
        (Some(NodeServer::start(port).await), None)
    } else {
        (
            None,
            Some(
                common::interop_app()
                    .listen(("127.0.0.1", port))
                    .await
                    .unwrap(),
            ),
        )
    };
    next(&mut main_welcome).await;
    next(&mut admin_welcome).await;
    assert_eq!(
        next(&mut echo).await,
        vec![Value::from("queued-1")],
        "{mode}"
    );
    assert_eq!(
        next(&mut echo).await,
        vec![Value::from("queued-2")],
        "{mode}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(echo.try_recv().is_err(), "{mode}: delivered twice");
    assert!(main.connected() && admin.connected());
    assert!(!attempts.lock().unwrap().is_empty());
    manager.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_to_restarted_oxsio_server() {
    for (mode, transports) in modes() {
        reconnect_suite(mode, &transports, false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_to_restarted_node_server() {
    for (mode, transports) in modes() {
        reconnect_suite(mode, &transports, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_client_from_a_plain_thread() {
    let handle = common::start_interop_app().await;
    let url = format!("http://{}", handle.local_addr());
    let result = tokio::task::spawn_blocking(move || {
        let client =
            oxsio::client::blocking::Client::connect(&url, ClientOptions::default()).unwrap();
        let reply = client
            .emit_with_ack("echo-ack", "from a thread", Duration::from_secs(5))
            .unwrap();
        client.disconnect();
        reply
    })
    .await
    .unwrap();
    assert_eq!(result, vec![Value::from("from a thread")]);
    handle.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_on_a_current_thread_runtime_is_refused_not_deadlocked() {
    let r =
        oxsio::client::blocking::Client::connect("http://127.0.0.1:1", ClientOptions::default());
    assert_eq!(r.unwrap_err(), ClientError::BlockingInAsync);
}

#[tokio::test]
async fn bad_urls_and_unreachable_servers_fail_cleanly() {
    for url in ["not a url", "ftp://127.0.0.1/", "http://", "http://[::1/"] {
        assert!(
            matches!(
                ClientBuilder::new(url).build(),
                Err(ClientError::InvalidUrl(_))
            ),
            "{url}"
        );
    }
    // A closed port: with reconnection off, the error comes back at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let no_retry = ClientOptions {
        reconnection: Reconnection {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let r = ClientBuilder::new(format!("http://127.0.0.1:{port}"))
        .options(no_retry.clone())
        .connect()
        .await;
    assert!(matches!(r, Err(ClientError::Connect(_))), "{r:?}");
    // With buffering off, an offline emit fails with NotConnected.
    let socket = ClientBuilder::new(format!("http://127.0.0.1:{port}"))
        .options(no_retry)
        .buffering(Buffering {
            enabled: false,
            ..Default::default()
        })
        .build()
        .unwrap();
    assert_eq!(socket.emit("x", 1), Err(ClientError::NotConnected));
    // Bounded buffer.
    let small = ClientBuilder::new(format!("http://127.0.0.1:{port}"))
        .buffering(Buffering {
            enabled: true,
            max_packets: 2,
            max_bytes: 1 << 20,
        })
        .build()
        .unwrap();
    small.emit("x", 1).unwrap();
    small.emit("x", 2).unwrap();
    assert_eq!(small.emit("x", 3), Err(ClientError::BufferFull));
    assert_eq!(small.emit_volatile("x", 4), Ok(()));
}

/// A TCP server that answers garbage, one that never answers, and a TLS
/// client against a plain server: each a clean typed error within a bound.
#[tokio::test]
async fn hostile_servers_give_typed_errors() {
    use tokio::io::AsyncWriteExt;
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gaddr = garbage.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = garbage.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot-eio!!")
                .await;
        }
    });
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let saddr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let no_retry = |t: Vec<Transport>| ClientOptions {
        transports: t,
        connect_timeout: Duration::from_millis(500),
        reconnection: Reconnection {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let r = ClientBuilder::new(format!("http://{gaddr}"))
        .options(no_retry(vec![Transport::Polling]))
        .connect()
        .await;
    assert!(matches!(r, Err(ClientError::Protocol(_))), "{r:?}");
    let r = ClientBuilder::new(format!("http://{saddr}"))
        .options(no_retry(vec![Transport::Websocket]))
        .connect()
        .await;
    assert!(matches!(r, Err(ClientError::Timeout)), "{r:?}");
    let handle = common::start_interop_app().await;
    let r = ClientBuilder::new(format!("https://{}", handle.local_addr()))
        .options(no_retry(vec![Transport::Polling]))
        .connect()
        .await;
    assert!(matches!(r, Err(ClientError::Tls(_))), "{r:?}");
    handle.shutdown().await;
}
