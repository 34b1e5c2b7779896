#![allow(clippy::unwrap_used)]
//! The msgpack parser on the server: malformed packets and limits close the
//! connection as for JSON, and every server feature works with it
//! (broadcasts, rooms, acks both ways, connection state recovery, the admin
//! UI, the Redis adapter beside a JSON node). The interop with the official
//! peers is in `client.rs` and `interop.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::proxy::Proxy;
use common::raw::{self, Eio};
use oxsio::client::{ClientBuilder, ClientEvent, ClientSocket, Reconnection};
use oxsio::codec::socketio::{Packet, PacketData};
use oxsio::codec::{Parser, msgpack};
use oxsio::{Event, RecoveryConfig, Server, ServerHandle, Socket, Transport, Value};
use serde_json::json;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

fn echo_app(depth: usize) -> Server {
    let io = Server::builder()
        .parser(Parser::MsgPack)
        .max_json_depth(depth)
        .build();
    io.on_connection(|socket: Socket| {
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
    });
    io
}

/// A raw session that joined `/` with a msgpack CONNECT.
async fn raw_joined(addr: std::net::SocketAddr, polling: bool) -> raw::Client {
    let mut c = if polling {
        raw::Client::polling(addr).await
    } else {
        raw::Client::ws(addr).await
    };
    c.send_binary(&msgpack::encode(&Packet {
        nsp: "/".into(),
        data: PacketData::Connect(None),
    }))
    .await;
    match c.recv_eio().await {
        Eio::Binary(b) => {
            let p = msgpack::decode(&b, 128).unwrap();
            assert!(matches!(p.data, PacketData::Connect(Some(_))), "{p:?}");
        }
        other => panic!("expected a msgpack CONNECT, got {other:?}"),
    }
    c
}

/// `["echo", <levels nested arrays>]`: `data` is nested `levels + 1` deep.
fn nested_event(levels: usize) -> Vec<u8> {
    let mut v = Value::Array(vec![]);
    for _ in 1..levels {
        v = Value::Array(vec![v]);
    }
    msgpack::encode(&Packet::event("/", "echo", vec![v], None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_close_the_connection() {
    let handle = raw::serve(&echo_app(8)).await;
    let addr = handle.local_addr();
    let good = msgpack::encode(&Packet::event("/", "echo", vec![Value::from(1)], None));
    let mut trailing = good.clone();
    trailing.push(0xc0);
    let bad: Vec<(&str, Eio)> = vec![
        ("text packet", Eio::Text("42[\"echo\",1]".into())),
        ("not msgpack", Eio::Binary(vec![0xc1])),
        ("truncated", Eio::Binary(good[..good.len() - 2].to_vec())),
        ("trailing bytes", Eio::Binary(trailing)),
        ("not a map", Eio::Binary(vec![0x92, 0x02, 0xa1, b'/'])),
        // {type: 2, data: ["echo", ext 5], nsp: "/"}
        (
            "unknown extension",
            Eio::Binary(b"\x83\xa4type\x02\xa4data\x92\xa4echo\xd4\x05\x00\xa3nsp\xa1/".to_vec()),
        ),
        // data nested 9 deep (its array, then 8) with max_json_depth 8.
        ("too deep", Eio::Binary(nested_event(8))),
        // A namespace never joined.
        (
            "unknown namespace",
            Eio::Binary(msgpack::encode(&Packet::event("/x", "echo", vec![], None))),
        ),
    ];
    for polling in [false, true] {
        for (what, msg) in &bad {
            let mut c = raw_joined(addr, polling).await;
            // The limit is inclusive: data nested 8 deep is echoed.
            c.send_binary(&nested_event(7)).await;
            match c.recv_eio().await {
                Eio::Binary(b) => assert!(msgpack::decode(&b, 128).is_ok()),
                other => panic!("{what}: no echo: {other:?}"),
            }
            c.send_batch(std::slice::from_ref(msg)).await;
            c.expect_closed().await;
            // The server side closes too (its socket leaves `/`).
            let io = handle.server().clone();
            assert!(
                raw::eventually(T, || io.of("/").sockets().is_empty()).await,
                "{what} (polling: {polling})"
            );
        }
    }
    handle.shutdown().await;
}

fn no_reconnection() -> Reconnection {
    Reconnection {
        enabled: false,
        ..Reconnection::default()
    }
}

async fn client(url: &str, auth: serde_json::Value) -> ClientSocket {
    ClientBuilder::new(url)
        .parser(Parser::MsgPack)
        .transports([Transport::Websocket])
        .reconnection(no_reconnection())
        .auth(auth)
        .connect()
        .await
        .unwrap()
}

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

/// Broadcasts to all, to rooms with exceptions, and with acks, encoded
/// once for every receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_rooms_and_broadcast_acks() {
    let io = Server::builder().parser(Parser::MsgPack).build();
    io.on_connection(|socket: Socket| {
        if let Some(room) = socket.handshake().auth["room"].as_str() {
            socket.join(room);
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", handle.local_addr());
    let a = client(&url, json!({"room": "red"})).await;
    let b = client(&url, json!({"room": "blue"})).await;
    for s in [&a, &b] {
        s.on("q", |ev: ClientEvent| {
            let n = ev.arg(0).as_i64().unwrap();
            ev.ack.unwrap().send(n * 2).unwrap();
        });
    }
    let (mut na, mut nb) = (collect(&a, "n"), collect(&b, "n"));
    let blob = Value::from(vec![1u8, 2, 3]);
    io.emit("n", ("all", blob.clone())).unwrap();
    assert_eq!(next(&mut na).await, vec![Value::from("all"), blob.clone()]);
    assert_eq!(next(&mut nb).await, vec![Value::from("all"), blob]);
    io.to("red").emit("n", "red only").unwrap();
    io.to(["red", "blue"])
        .except("red")
        .emit("n", "blue")
        .unwrap();
    assert_eq!(next(&mut na).await, vec![Value::from("red only")]);
    assert_eq!(next(&mut nb).await, vec![Value::from("blue")]);
    let mut replies = io.timeout(T).emit_with_ack("q", 21).await.unwrap();
    replies.sort_by_key(|r| r[0].as_i64());
    assert_eq!(replies, vec![vec![Value::from(42)], vec![Value::from(42)]]);
    handle.shutdown().await;
}

/// Offsets ride in the msgpack packets: a cut client gets what it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_state_recovery_replays_missed_packets() {
    let io = Server::builder()
        .parser(Parser::MsgPack)
        .ping_interval(Duration::from_millis(400))
        .ping_timeout(Duration::from_millis(400))
        .connection_state_recovery(RecoveryConfig::default())
        .build();
    io.on_connection(|socket: Socket| {
        if !socket.recovered() {
            socket.join("news");
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let proxy = Proxy::start(handle.local_addr()).await;
    let got: Arc<Mutex<Vec<i64>>> = Arc::default();
    let g = got.clone();
    let socket = ClientBuilder::new(format!("http://{}", proxy.addr))
        .parser(Parser::MsgPack)
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            delay: Duration::from_millis(100),
            delay_max: Duration::from_millis(100),
            randomization_factor: 0.0,
            ..Reconnection::default()
        })
        .on("n", move |ev| {
            g.lock().unwrap().push(ev.arg(0).as_i64().unwrap_or(-1));
        })
        .connect()
        .await
        .unwrap();
    let id = socket.id().unwrap();
    io.to("news").emit("n", 0).unwrap();
    assert!(raw::eventually(T, || got.lock().unwrap().len() == 1).await);
    assert!(proxy.cut_all(false) > 0);
    io.to("news").emit("n", 1).unwrap();
    io.emit("n", 2).unwrap();
    assert!(
        raw::eventually(T, || socket.connected() && socket.recovered()).await,
        "not recovered"
    );
    assert_eq!(socket.id().unwrap(), id);
    io.to("news").emit("n", 3).unwrap();
    assert!(raw::eventually(T, || got.lock().unwrap().len() >= 4).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(*got.lock().unwrap(), vec![0, 1, 2, 3]);
    socket.disconnect();
    handle.shutdown().await;
}

/// The admin UI's namespace speaks the server's parser too (the UI offers
/// the msgpack parser in its connection form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ui_over_msgpack() {
    use oxsio::admin::AdminUiOptions;
    let io = Server::builder().parser(Parser::MsgPack).build();
    io.on_connection(|socket: Socket| {
        socket.join("lobby");
    });
    let hash = bcrypt::hash("pw", 4).unwrap();
    io.instrument(
        AdminUiOptions::with_auth("admin", hash).stats_interval(Duration::from_millis(200)),
    )
    .unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", handle.local_addr());
    let app = client(&url, json!({})).await;
    let app_id = app.id().unwrap();
    let (tx, mut all) = mpsc::unbounded_channel();
    let admin = ClientBuilder::new(format!("{url}/admin"))
        .parser(Parser::MsgPack)
        .reconnection(no_reconnection())
        .auth(json!({"username": "admin", "password": "pw"}))
        .on("all_sockets", move |ev| {
            let _ = tx.send(ev.args);
        })
        .connect()
        .await
        .unwrap();
    let sockets = next(&mut all).await;
    let entry = sockets[0]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some(app_id.as_str()))
        .cloned()
        .expect("the app socket is listed");
    assert!(format!("{:?}", entry["rooms"]).contains("lobby"));
    // An admin operation: make every socket join a room.
    admin.emit("join", ("/", "vip", app_id.as_str())).unwrap();
    assert!(
        raw::eventually(T, || io
            .of("/")
            .sockets()
            .iter()
            .any(|s| s.rooms().iter().any(|r| &**r == "vip")))
        .await
    );
    handle.shutdown().await;
}

async fn serve(io: &Server) -> ServerHandle {
    io.listen("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_and_upgrade_carry_binary_packets() {
    let handle = serve(&echo_app(128)).await;
    let url = format!("http://{}", handle.local_addr());
    for transports in [
        vec![Transport::Polling],
        vec![Transport::Polling, Transport::Websocket],
    ] {
        let s = ClientBuilder::new(&url)
            .parser(Parser::MsgPack)
            .transports(transports.clone())
            .reconnection(no_reconnection())
            .connect()
            .await
            .unwrap();
        let mut echo = collect(&s, "echo");
        let args = vec![
            Value::from(vec![0u8, 1, 255]),
            Value::from(json!({"a": [1.5, null, "x"]})),
        ];
        for _ in 0..3 {
            s.emit("echo", args.clone()).unwrap();
        }
        for _ in 0..3 {
            assert_eq!(next(&mut echo).await, args, "{transports:?}");
        }
        s.disconnect();
    }
    handle.shutdown().await;
}

/// Cluster messages do not depend on the client parser: a msgpack node and
/// a JSON node share broadcasts (binary included) and broadcast acks.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_of_a_msgpack_node_and_a_json_node() {
    use oxsio::adapter::redis::{RedisAdapter, RedisConfig};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = tokio::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server");
    assert!(
        raw::eventually(T, || std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok())
        .await
    );
    let node = |parser: Parser| {
        let factory =
            RedisAdapter::factory(RedisConfig::new(format!("redis://127.0.0.1:{port}"))).unwrap();
        let io = Server::builder().parser(parser).adapter(factory).build();
        io.on_connection(|s: Socket| {
            s.join("r");
        });
        io
    };
    let (a, b) = (node(Parser::MsgPack), node(Parser::Json));
    let (ha, hb) = (serve(&a).await, serve(&b).await);
    let ca = client(&format!("http://{}", ha.local_addr()), json!({})).await;
    let cb = ClientBuilder::new(format!("http://{}", hb.local_addr()))
        .transports([Transport::Websocket])
        .reconnection(no_reconnection())
        .connect()
        .await
        .unwrap();
    for s in [&ca, &cb] {
        s.on("q", |ev: ClientEvent| {
            let _ = ev.ack.unwrap().send(ev.args);
        });
    }
    let (mut na, mut nb) = (collect(&ca, "n"), collect(&cb, "n"));
    // Subscriptions settle before the first cross-node broadcast.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let args = vec![Value::from("x"), Value::from(vec![9u8, 8])];
    for (from, what) in [(&a, "from msgpack"), (&b, "from json")] {
        from.to("r").emit("n", (what, args.clone())).unwrap();
        let want = vec![Value::from(what), Value::Array(args.clone())];
        assert_eq!(next(&mut na).await, want);
        assert_eq!(next(&mut nb).await, want);
    }
    let replies = b.timeout(T).emit_with_ack("q", 5).await.unwrap();
    assert_eq!(replies, vec![vec![Value::from(5)], vec![Value::from(5)]]);
    ha.shutdown().await;
    hb.shutdown().await;
    let _ = redis.kill().await;
}
