//! The Redis adapter across nodes: two oxsio nodes, and an oxsio node with a
//! Node.js node using `@socket.io/redis-adapter`, on a redis-server this test
//! starts on a free port (`redis-server` must be installed: the README test
//! command installs it). Every cluster operation is called on each side.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use oxsio::adapter::redis::{RedisAdapter, RedisConfig};
use oxsio::client::{ClientBuilder, ClientEvent, ClientSocket, Reconnection};
use oxsio::{Server, ServerHandle, Socket, Transport, Value};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    async fn start(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (installed by tests/run-all.sh)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Redis { child, port };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start");
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A node of the cluster, driven the same way whatever it runs.
enum Node {
    Oxsio(Server, ServerHandle),
    Js(Child, ClientSocket, u16),
}

async fn oxsio_node(redis: u16) -> Node {
    let factory = RedisAdapter::factory(
        RedisConfig::new(format!("redis://127.0.0.1:{redis}"))
            .requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let io = Server::builder().adapter(factory).build();
    io.on_connection(|s: Socket| {
        let auth = s.handshake().auth.clone();
        for r in auth["rooms"].as_array().into_iter().flatten() {
            s.join(r.as_str().unwrap());
        }
        s.update_data(|d| {
            if let Value::Object(m) = d {
                m.insert("name".into(), auth["name"].clone());
                m.insert("node".into(), Value::from("oxsio"));
            }
        });
        let _ = s.emit("ready", s.id().as_str());
    });
    io.of("/").on_server_event(|ev| {
        if let Some(ack) = ev.ack {
            ack.send(json!({"node": "oxsio", "args": ev.args.iter().map(Value::to_json).collect::<Vec<_>>()}));
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    Node::Oxsio(io, handle)
}

async fn js_node(redis: u16) -> Node {
    let dir = common::repo_root().join("tests/interop");
    let mut child = Command::new("node")
        .arg(dir.join("redis_node.js"))
        .arg(redis.to_string())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (tests/interop/setup.sh)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let port: u16 = line.strip_prefix("listening ").unwrap().parse().unwrap();
    let control = ClientBuilder::new(format!("http://127.0.0.1:{port}/control"))
        .transports([Transport::Websocket])
        .connect()
        .await
        .unwrap();
    Node::Js(child, control, port)
}

impl Node {
    fn url(&self) -> String {
        match self {
            Node::Oxsio(_, h) => format!("http://{}", h.local_addr()),
            Node::Js(_, _, port) => format!("http://127.0.0.1:{port}"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Node::Oxsio(..) => "oxsio",
            Node::Js(..) => "node",
        }
    }

    /// Runs a cluster operation on this node: `{kind, rooms?, except?, ...}`.
    async fn op(&self, op: serde_json::Value) -> serde_json::Value {
        match self {
            Node::Js(_, control, _) => {
                let r = control
                    .emit_with_ack_timeout("op", Value::from(op.clone()), Duration::from_secs(10))
                    .await
                    .unwrap();
                let r = r[0].to_json();
                assert_eq!(r["ok"], json!(true), "{op}: {r}");
                r
            }
            Node::Oxsio(io, _) => {
                let ns = io.of("/");
                let mut sel = ns.except(Vec::<String>::new());
                if let Some(rooms) = op["rooms"].as_array() {
                    for r in rooms {
                        sel = sel.to(r.as_str().unwrap());
                    }
                }
                if let Some(e) = op["except"].as_str() {
                    sel = sel.except(e);
                }
                let args: Vec<Value> = op["args"]
                    .as_array()
                    .map(|a| a.iter().cloned().map(revive).collect())
                    .unwrap_or_default();
                let event = op["event"].as_str().unwrap_or_default();
                match op["kind"].as_str().unwrap() {
                    "emit" => {
                        sel.emit(event, args).unwrap();
                        json!({"ok": true})
                    }
                    "emit-with-ack" => {
                        let r = sel
                            .timeout(Duration::from_secs(2))
                            .emit_with_ack(event, args)
                            .await
                            .unwrap();
                        json!({"ok": true, "responses": r.iter().map(|a| a[0].to_json()).collect::<Vec<_>>()})
                    }
                    "fetch" => {
                        let s = sel.fetch_sockets().await;
                        let list: Vec<_> = s.iter().map(|s| json!({"id": s.id.as_str(), "rooms": s.rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>(), "auth": s.auth.to_json(), "data": s.data.to_json(), "time": s.handshake["time"].to_json()})).collect();
                        json!({"ok": true, "sockets": list})
                    }
                    "join" => {
                        sel.sockets_join(op["room"].as_str().unwrap());
                        json!({"ok": true})
                    }
                    "leave" => {
                        sel.sockets_leave(op["room"].as_str().unwrap());
                        json!({"ok": true})
                    }
                    "disconnect" => {
                        sel.disconnect_sockets(op["close"].as_bool().unwrap_or(false));
                        json!({"ok": true})
                    }
                    "sse-ack" => {
                        let r = ns
                            .server_side_emit_with_ack(event, args, Duration::from_secs(2))
                            .await
                            .unwrap();
                        json!({"ok": true, "responses": r.iter().map(Value::to_json).collect::<Vec<_>>()})
                    }
                    "count" => json!({"ok": true, "count": ns.server_count().await}),
                    "rooms" => {
                        json!({"ok": true, "rooms": ns.rooms().await.iter().map(|r| r.to_string()).collect::<Vec<_>>()})
                    }
                    other => panic!("unknown op {other}"),
                }
            }
        }
    }

    async fn stop(self) {
        match self {
            Node::Oxsio(_, h) => h.shutdown().await,
            Node::Js(mut c, control, _) => {
                control.disconnect();
                let _ = c.kill().await;
            }
        }
    }
}

/// `{"$bin": "hex"}` → binary, as the Node control script does.
fn revive(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Object(o) if o.get("$bin").is_some_and(serde_json::Value::is_string) => {
            let h = o["$bin"].as_str().unwrap();
            Value::from(
                (0..h.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                    .collect::<Vec<u8>>(),
            )
        }
        serde_json::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, revive(v))).collect())
        }
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(revive).collect()),
        other => Value::from(other),
    }
}

/// A client that records what it receives and answers `ask` with its name.
struct Peer {
    socket: ClientSocket,
    rx: mpsc::UnboundedReceiver<(String, Vec<Value>)>,
    id: String,
}

async fn peer(node: &Node, name: &str, rooms: &[&str]) -> Peer {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let n = name.to_owned();
    let socket = ClientBuilder::new(node.url())
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            enabled: false,
            ..Default::default()
        })
        .auth(json!({"name": name, "rooms": rooms}))
        .build()
        .unwrap();
    socket.on_any(move |ev: &ClientEvent| {
        let _ = tx.send((ev.name.clone(), ev.args.clone()));
    });
    socket.on("ask", move |ev: ClientEvent| {
        let _ = ev.ack.unwrap().send(json!({"from": n}));
    });
    socket.connect().await.unwrap();
    let (ev, args) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(ev, "ready");
    Peer {
        socket,
        rx,
        id: args[0].as_str().unwrap().to_owned(),
    }
}

impl Peer {
    async fn expect(&mut self, event: &str) -> Vec<Value> {
        let (ev, args) = tokio::time::timeout(T, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {event}"))
            .unwrap();
        assert_eq!(ev, event);
        args
    }

    async fn expect_nothing(&mut self) {
        if let Ok(Some(got)) =
            tokio::time::timeout(Duration::from_millis(300), self.rx.recv()).await
        {
            panic!("unexpected {got:?}");
        }
    }
}

/// Every cluster operation called on `caller`, observed on both nodes.
/// Client A sits on `caller` in room1; client B on `other` in room1 and room2.
async fn matrix(caller: &Node, other: &Node) {
    let ctx = format!("{} -> {}", caller.name(), other.name());
    let mut a = peer(caller, "client-A", &["room1"]).await;
    let mut b = peer(other, "client-B", &["room1", "room2"]).await;

    assert_eq!(
        caller.op(json!({"kind": "count"})).await["count"],
        json!(2),
        "{ctx}"
    );

    caller
        .op(json!({"kind": "emit", "rooms": ["room1"], "event": "chat", "args": ["hello", 42]}))
        .await;
    assert_eq!(
        a.expect("chat").await,
        vec![Value::from("hello"), Value::from(42)],
        "{ctx}"
    );
    assert_eq!(
        b.expect("chat").await,
        vec![Value::from("hello"), Value::from(42)],
        "{ctx}"
    );

    caller.op(json!({"kind": "emit", "rooms": ["room2"], "event": "bin", "args": [{"$bin": "010203"}, {"nested": {"$bin": "ff"}}]})).await;
    let got = b.expect("bin").await;
    assert_eq!(got[0], Value::from(vec![1u8, 2, 3]), "{ctx}");
    assert_eq!(got[1]["nested"], Value::from(vec![255u8]), "{ctx}");
    a.expect_nothing().await;

    caller.op(json!({"kind": "emit", "rooms": ["room1"], "except": "room2", "event": "ex", "args": []})).await;
    a.expect("ex").await;
    b.expect_nothing().await;

    let fetched = caller
        .op(json!({"kind": "fetch", "rooms": ["room2"]}))
        .await;
    let sockets = fetched["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 1, "{ctx}: {fetched}");
    assert_eq!(sockets[0]["id"], json!(b.id), "{ctx}");
    assert_eq!(sockets[0]["auth"]["name"], json!("client-B"), "{ctx}");
    // socket.data and the handshake time travel in both directions.
    assert_eq!(
        sockets[0]["data"]["name"],
        json!("client-B"),
        "{ctx}: {fetched}"
    );
    let time = sockets[0]["time"].as_str().unwrap_or_default();
    assert!(
        time.ends_with("GMT+0000 (Coordinated Universal Time)"),
        "{ctx}: handshake.time {time:?}"
    );
    assert!(
        sockets[0]["rooms"]
            .as_array()
            .unwrap()
            .contains(&json!("room2")),
        "{ctx}"
    );
    assert_eq!(
        caller.op(json!({"kind": "fetch"})).await["sockets"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{ctx}"
    );

    let sse = caller
        .op(json!({"kind": "sse-ack", "event": "peer-ping", "args": ["hi"]}))
        .await;
    assert_eq!(
        sse["responses"].as_array().unwrap().len(),
        1,
        "{ctx}: {sse}"
    );
    assert_eq!(sse["responses"][0]["node"], json!(other.name()), "{ctx}");

    let acks = caller
        .op(json!({"kind": "emit-with-ack", "rooms": ["room1"], "event": "ask", "args": ["q"]}))
        .await;
    let mut froms: Vec<_> = acks["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].as_str().unwrap().to_owned())
        .collect();
    froms.sort();
    assert_eq!(froms, ["client-A", "client-B"], "{ctx}");
    a.expect("ask").await;
    b.expect("ask").await;

    caller
        .op(json!({"kind": "join", "rooms": ["room1"], "room": "room9"}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    other
        .op(json!({"kind": "emit", "rooms": ["room9"], "event": "r9", "args": []}))
        .await;
    a.expect("r9").await;
    b.expect("r9").await;
    let rooms = caller.op(json!({"kind": "rooms"})).await;
    assert!(
        rooms["rooms"].as_array().unwrap().contains(&json!("room9")),
        "{ctx}: {rooms}"
    );

    caller
        .op(json!({"kind": "leave", "rooms": ["room1"], "room": "room9"}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    other
        .op(json!({"kind": "emit", "rooms": ["room9"], "event": "r9", "args": []}))
        .await;
    a.expect_nothing().await;
    b.expect_nothing().await;

    let (dtx, mut dis) = mpsc::unbounded_channel();
    b.socket.on_disconnect(move |_, r| {
        let _ = dtx.send(r);
    });
    caller
        .op(json!({"kind": "disconnect", "rooms": ["room2"], "close": true}))
        .await;
    tokio::time::timeout(T, dis.recv())
        .await
        .unwrap_or_else(|_| panic!("{ctx}: B not disconnected"))
        .unwrap();
    assert!(a.socket.connected(), "{ctx}");
    a.socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oxsio_nodes() {
    let redis = Redis::start(free_port()).await;
    let (n1, n2) = (oxsio_node(redis.port).await, oxsio_node(redis.port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    matrix(&n1, &n2).await;
    matrix(&n2, &n1).await;
    n1.stop().await;
    n2.stop().await;
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_in_one_cluster() {
    let redis = Redis::start(free_port()).await;
    let (ox, js) = (oxsio_node(redis.port).await, js_node(redis.port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    matrix(&ox, &js).await;
    matrix(&js, &ox).await;
    ox.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// Redis restarts under two nodes: broadcasts stay local meanwhile, and the
/// cluster recovers by itself (re-subscription) once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_recovers_after_a_redis_restart() {
    let port = free_port();
    let redis = Redis::start(port).await;
    let (n1, n2) = (oxsio_node(port).await, oxsio_node(port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a = peer(&n1, "client-A", &["room1"]).await;
    let mut b = peer(&n2, "client-B", &["room1"]).await;
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "before", "args": []}))
        .await;
    b.expect("before").await;
    a.expect("before").await;

    redis.stop().await;
    // Redis is down: a local broadcast still reaches local clients; requests end at the bound.
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "down", "args": []}))
        .await;
    a.expect("down").await;
    let started = std::time::Instant::now();
    let fetched = n1.op(json!({"kind": "fetch"})).await;
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(!fetched["sockets"].as_array().unwrap().is_empty());

    let redis = Redis::start(port).await;
    let mut recovered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "after", "args": []}))
            .await;
        a.expect("after").await;
        // A broadcast published while Redis was down may arrive late; skip it.
        if let Ok(Some((ev, _))) =
            tokio::time::timeout(Duration::from_millis(100), b.rx.recv()).await
        {
            if ev == "down" {
                continue;
            }
            assert_eq!(ev, "after");
            recovered = true;
            break;
        }
    }
    assert!(
        recovered,
        "the cluster did not recover after the Redis restart"
    );
    n1.stop().await;
    n2.stop().await;
    redis.stop().await;
}

/// Garbage on the cluster's channels is ignored; the node keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_ignored() {
    let redis = Redis::start(free_port()).await;
    let n1 = oxsio_node(redis.port).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut a = peer(&n1, "client-A", &["room1"]).await;
    let client = redis_raw(redis.port).await;
    for (channel, payload) in [
        ("socket.io#/#", &b"\xc1\xff"[..]),
        ("socket.io#/#room1#", b"\x93\xa1x"),
        ("socket.io-request#/#", b"{\"type\":"),
        ("socket.io-request#/#", b"{\"type\":42}"),
        ("socket.io-request#/#", b"{\"uid\":\"zzz\",\"type\":5}"),
        ("socket.io-response#/#", b"\x00"),
        ("socket.io#/#", b"\x93\xa6emitter\x80\x80"),
    ] {
        publish(&client, channel, payload).await;
    }
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still-alive", "args": []}))
        .await;
    a.expect("still-alive").await;
    n1.stop().await;
    redis.stop().await;
}

async fn redis_raw(port: u16) -> tokio::sync::Mutex<tokio::net::TcpStream> {
    tokio::sync::Mutex::new(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap(),
    )
}

/// PUBLISH over raw RESP (so the test does not depend on a client library).
async fn publish(conn: &tokio::sync::Mutex<tokio::net::TcpStream>, channel: &str, payload: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cmd = format!(
        "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{channel}\r\n${}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes();
    cmd.extend_from_slice(payload);
    cmd.extend_from_slice(b"\r\n");
    let mut c = conn.lock().await;
    c.write_all(&cmd).await.unwrap();
    let mut buf = [0u8; 64];
    let _ = c.read(&mut buf).await.unwrap();
}

/// Figure for the notes, not a pass/fail test: broadcast deliveries/s with
/// 200 clients on one node vs 100 + 100 on two nodes over Redis.
/// `cargo test -p oxsio --features redis --release --test redis -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn broadcast_throughput_one_vs_two_nodes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CLIENTS: usize = 200;
    const BROADCASTS: usize = 2000;
    async fn measure(nodes: &[&Node]) -> f64 {
        let got = Arc::new(AtomicUsize::new(0));
        let mut sockets = Vec::new();
        for i in 0..CLIENTS {
            let node = nodes[i % nodes.len()];
            let g = got.clone();
            let s = ClientBuilder::new(node.url())
                .transports([Transport::Websocket])
                .auth(json!({"rooms": ["all"]}))
                .on("tick", move |_| {
                    g.fetch_add(1, Ordering::Relaxed);
                })
                .connect()
                .await
                .unwrap();
            sockets.push(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Node::Oxsio(io, _) = nodes[0] else {
            unreachable!()
        };
        let start = std::time::Instant::now();
        let expected = CLIENTS * BROADCASTS;
        for i in 0..BROADCASTS {
            let _ = io.to("all").emit("tick", i);
            if i % 50 == 0 {
                // Bounded in flight: wait until most of the previous ones arrived.
                while got.load(Ordering::Relaxed) + CLIENTS * 100 < CLIENTS * i {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while got.load(Ordering::Relaxed) < expected && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rate = got.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        for s in sockets {
            s.disconnect();
        }
        rate
    }
    let redis = Redis::start(free_port()).await;
    let (n1, n2) = (oxsio_node(redis.port).await, oxsio_node(redis.port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let one = measure(&[&n1]).await;
    let two = measure(&[&n1, &n2]).await;
    eprintln!(
        "broadcast deliveries/s: one node {one:.0}, two nodes over Redis {two:.0} ({:.2}x)",
        two / one
    );
    n1.stop().await;
    n2.stop().await;
    redis.stop().await;
}

/// A namespace other than `/` has its own channel: its broadcasts reach that
/// namespace on the other node and never `/` (its adapter used to be made
/// before the namespace's name could be read, and took itself for `/`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_other_than_root_has_its_own_channel() {
    let redis = Redis::start(free_port()).await;
    let a = oxsio_node(redis.port).await;
    let b = oxsio_node(redis.port).await;
    let (Node::Oxsio(io_a, _), Node::Oxsio(io_b, _)) = (&a, &b) else {
        unreachable!()
    };
    let chat_a = io_a.of("/chat");
    io_b.of("/chat");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut clients = Vec::new();
    for nsp in ["/", "/chat"] {
        let tx = tx.clone();
        let c = ClientBuilder::new(format!("{}{nsp}", b.url()))
            .transports([Transport::Websocket])
            .on("news", move |ev: ClientEvent| {
                let _ = tx.send((nsp, ev.args.clone()));
            })
            .connect()
            .await
            .unwrap();
        clients.push(c);
    }
    // The subscriptions are in place once the node count says two.
    for _ in 0..100 {
        if chat_a.server_count().await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    chat_a.emit("news", "for chat").unwrap();
    let (nsp, args) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!((nsp, args), ("/chat", vec![Value::from("for chat")]));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), rx.recv())
            .await
            .is_err(),
        "a /chat broadcast reached /"
    );
    for c in clients {
        c.disconnect();
    }
    redis.stop().await;
}
