//! The cluster test harness: a redis-server or a Redis Cluster started on
//! free loopback ports (stopped by PID), oxsio and Node nodes driven the
//! same way, clients that record what they receive, and the cross-node
//! matrix every adapter runs in both directions.
#![cfg(feature = "redis")]

use std::process::Stdio;
use std::time::Duration;

use oxsio::adapter::AdapterFactory;
use oxsio::adapter::redis::{RedisAdapter, RedisConfig};
use oxsio::client::{ClientBuilder, ClientEvent, ClientSocket, Reconnection};
use oxsio::{Server, ServerHandle, Socket, Transport, Value};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const T: Duration = Duration::from_secs(5);

// Not every test binary that includes this module uses them.
#[allow(unused_imports)]
pub use oxsio_test_services::{free_cluster_port, free_port};

/// A redis-server (oxsio_test_services), with the async calls the tests use.
pub struct Redis {
    _server: oxsio_test_services::RedisServer,
    pub port: u16,
}

impl Redis {
    pub async fn start(port: u16) -> Redis {
        let server =
            tokio::task::spawn_blocking(move || oxsio_test_services::RedisServer::start_on(port))
                .await
                .unwrap();
        Redis {
            port: server.port,
            _server: server,
        }
    }

    /// Stops it by PID.
    pub async fn stop(self) {
        tokio::task::spawn_blocking(move || drop(self))
            .await
            .unwrap();
    }
}

/// A node of the cluster, driven the same way whatever it runs.
pub enum Node {
    Oxsio(Server, ServerHandle),
    Js(Child, ClientSocket, u16),
}

/// An oxsio node on the classic adapter.
pub async fn oxsio_node(redis: u16) -> Node {
    let factory = RedisAdapter::factory(
        RedisConfig::new(format!("redis://127.0.0.1:{redis}"))
            .requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    oxsio_node_with(factory).await
}

/// An oxsio node running the test app on any adapter.
pub async fn oxsio_node_with(factory: AdapterFactory) -> Node {
    oxsio_node_recovery(factory, None).await
}

/// An oxsio node running the test app, with connection state recovery
/// when `recovery` is given.
pub async fn oxsio_node_recovery(
    factory: AdapterFactory,
    recovery: Option<oxsio::RecoveryConfig>,
) -> Node {
    let mut builder = Server::builder().adapter(factory);
    if let Some(r) = recovery {
        builder = builder.connection_state_recovery(r);
    }
    let io = builder.build();
    let app = |s: Socket| {
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
        let _ = s.emit("ready", (s.id().as_str(), s.recovered()));
    };
    io.on_connection(app);
    io.of("/news").on_connection(app);
    let root = io.of("/");
    io.of("/").on_server_event(move |ev| {
        if ev.name == "relay" {
            // Shown to this node's clients, so tests can see it arrived.
            let _ = root.local().emit("relayed", ev.args.clone());
            return;
        }
        if let Some(ack) = ev.ack {
            ack.send(json!({"node": "oxsio", "args": ev.args.iter().map(Value::to_json).collect::<Vec<_>>()}));
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    Node::Oxsio(io, handle)
}

/// A Node node on the classic adapter.
pub async fn js_node(redis: u16) -> Node {
    js_node_env(redis, &[]).await
}

/// A Node node (tests/interop/redis_node.js) with extra environment
/// (`ADAPTER`, `REDIS_CLUSTER`, `SUBSCRIPTION_MODE`).
pub async fn js_node_env(redis: u16, env: &[(&str, String)]) -> Node {
    let dir = super::repo_root().join("tests/interop");
    let mut child = Command::new("node")
        .arg(dir.join("redis_node.js"))
        .arg(redis.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
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
    pub fn url(&self) -> String {
        match self {
            Node::Oxsio(_, h) => format!("http://{}", h.local_addr()),
            Node::Js(_, _, port) => format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Node::Oxsio(..) => "oxsio",
            Node::Js(..) => "node",
        }
    }

    /// Runs a cluster operation on this node: `{kind, rooms?, except?, ...}`.
    pub async fn op(&self, op: serde_json::Value) -> serde_json::Value {
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
                    "burst" => {
                        for i in 0..op["count"].as_u64().unwrap() {
                            sel.emit(event, i).unwrap();
                        }
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

    pub async fn stop(self) {
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
pub fn revive(v: serde_json::Value) -> Value {
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
pub struct Peer {
    pub socket: ClientSocket,
    pub rx: mpsc::UnboundedReceiver<(String, Vec<Value>)>,
    pub id: String,
}

pub async fn peer(node: &Node, name: &str, rooms: &[&str], transport: Transport) -> Peer {
    peer_ns(node, "/", name, rooms, transport).await
}

/// A recording client on namespace `nsp`.
pub async fn peer_ns(
    node: &Node,
    nsp: &str,
    name: &str,
    rooms: &[&str],
    transport: Transport,
) -> Peer {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let n = name.to_owned();
    let url = if nsp == "/" {
        node.url()
    } else {
        format!("{}{nsp}", node.url())
    };
    let socket = ClientBuilder::new(url)
        .transports([transport])
        .reconnection(Reconnection {
            enabled: false,
            ..Default::default()
        })
        .auth(json!({"name": name, "rooms": rooms}))
        .build()
        .unwrap();
    socket.on_any(move |ev: &ClientEvent| {
        let _ = tx.send((ev.name.clone(), without_offset(&ev.args)));
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

/// True for a Redis stream entry id (`<ms>-<seq>`), the offset the streams
/// adapter appends to events when connection state recovery is on.
pub fn is_offset(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.split_once('-').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    })
}

/// An event's arguments without a trailing recovery offset (the matrix
/// compares what the application sent).
pub fn without_offset(args: &[Value]) -> Vec<Value> {
    match args.split_last() {
        Some((last, rest)) if is_offset(last) => rest.to_vec(),
        _ => args.to_vec(),
    }
}

impl Peer {
    /// The next event (late "probe"s of the matrix's warm-up skipped).
    pub async fn expect(&mut self, event: &str) -> Vec<Value> {
        loop {
            let (ev, args) = tokio::time::timeout(T, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {event}"))
                .unwrap();
            if ev == "probe" && event != "probe" {
                continue;
            }
            assert_eq!(ev, event);
            return args;
        }
    }

    pub async fn expect_nothing(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(got)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            if got.0 != "probe" {
                panic!("unexpected {got:?}");
            }
        }
    }
}

impl Node {
    /// Waits (15 s at most) until this node counts `n` nodes in the
    /// cluster, that is until every node's subscriptions are in place.
    pub async fn until_count(&self, n: u64) {
        let until = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < until {
            if self.op(json!({"kind": "count"})).await["count"] == json!(n) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} never counted {n} nodes", self.name());
    }
}

/// While the cluster's service is down: a room broadcast from `node` still
/// reaches its own client `a`, and fetch_sockets answers with the local
/// sockets within `bound` (requests to other nodes end at their timeout).
pub async fn works_locally_while_down(node: &Node, a: &mut Peer, bound: Duration) {
    node.op(json!({"kind": "emit", "rooms": ["room1"], "event": "down", "args": []}))
        .await;
    a.expect("down").await;
    let started = std::time::Instant::now();
    let fetched = node.op(json!({"kind": "fetch"})).await;
    assert!(
        started.elapsed() < bound,
        "fetch took {:?}",
        started.elapsed()
    );
    assert!(!fetched["sockets"].as_array().unwrap().is_empty());
}

/// After the service is back: room broadcasts from `node` (each also seen
/// by its own client `a`) every 200 ms until `b`, on another node, gets
/// one; whether it did within `tries`.
pub async fn heals(node: &Node, a: &mut Peer, b: &mut Peer, tries: usize) -> bool {
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(200)).await;
        node.op(json!({"kind": "emit", "rooms": ["room1"], "event": "after", "args": []}))
            .await;
        a.expect("after").await;
        // Broadcasts published while the service was down may arrive late.
        while let Ok(Some((ev, _))) =
            tokio::time::timeout(Duration::from_millis(150), b.rx.recv()).await
        {
            if ev == "after" {
                return true;
            }
        }
    }
    false
}

/// Server-side emits of two namespaces from the oxsio node `ox` leave in
/// one batch, on two channels (two slots of a Redis Cluster): both go out,
/// and `js` relays the root namespace's to its clients.
pub async fn two_channels_in_one_batch(ox: &Node, js: &Node) {
    let Node::Oxsio(io, _) = ox else {
        panic!(
            "two_channels_in_one_batch: {} is not an oxsio node",
            ox.name()
        );
    };
    let mut w = peer(js, "relay-watcher", &[], Transport::Websocket).await;
    let (root, news) = (io.of("/"), io.of("/news"));
    tokio::join!(
        root.server_side_emit("relay", vec![Value::from("two channels")]),
        news.server_side_emit("relay", vec![Value::from("news")]),
    );
    assert_eq!(w.expect("relayed").await, vec![Value::from("two channels")]);
    w.socket.disconnect();
}

/// The matrix in both directions, over WebSocket then long-polling.
pub async fn matrix_both_ways(a: &Node, b: &Node, all_rooms: bool) {
    for transport in [Transport::Websocket, Transport::Polling] {
        matrix(a, b, transport, all_rooms).await;
        matrix(b, a, transport, all_rooms).await;
    }
}

/// Every cluster operation called on `caller`, observed on both nodes.
/// Client A sits on `caller` in room1; client B on `other` in room1 and
/// room2; both clients use `transport`. `all_rooms`: the adapter has a
/// cluster-wide all-rooms request (the classic one).
pub async fn matrix(caller: &Node, other: &Node, transport: Transport, all_rooms: bool) {
    let ctx = format!("{} -> {} ({transport:?})", caller.name(), other.name());
    let mut a = peer(caller, "client-A", &["room1"], transport).await;
    let mut b = peer(other, "client-B", &["room1", "room2"], transport).await;
    // Per-room (and per-socket) subscriptions are made in the background
    // when a socket joins, in Node as in oxsio: wait until a probe through
    // each channel the matrix uses gets across.
    for room in ["room1", "room2", b.id.as_str()] {
        let mut through = false;
        for _ in 0..100 {
            caller
                .op(json!({"kind": "emit", "rooms": [room], "event": "probe", "args": []}))
                .await;
            if let Ok(Some((ev, _))) =
                tokio::time::timeout(Duration::from_millis(100), b.rx.recv()).await
                && ev == "probe"
            {
                through = true;
                break;
            }
        }
        assert!(through, "{ctx}: nothing reaches {room} on the other node");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while a.rx.try_recv().is_ok() {}
    while b.rx.try_recv().is_ok() {}

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

    // To one socket by id (its own room): in the sharded adapter's
    // dynamic-private mode this travels on the socket's own channel.
    caller
        .op(json!({"kind": "emit", "rooms": [b.id.clone()], "event": "direct", "args": ["b"]}))
        .await;
    assert_eq!(b.expect("direct").await, vec![Value::from("b")], "{ctx}");
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
    if all_rooms {
        let rooms = caller.op(json!({"kind": "rooms"})).await;
        assert!(
            rooms["rooms"].as_array().unwrap().contains(&json!("room9")),
            "{ctx}: {rooms}"
        );
    }

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

/// A Redis Cluster of `n` masters (no replicas) on free loopback ports,
/// each redis-server in its own temporary directory.
/// Runs `f` on the service in `slot` on a blocking thread, so that the
/// runtime (the nodes under test) keeps running while a service stops or
/// starts.
pub async fn off_runtime<T: Send + 'static>(slot: &mut Option<T>, f: fn(&mut T)) {
    let mut service = slot.take().unwrap();
    let service = tokio::task::spawn_blocking(move || {
        f(&mut service);
        service
    })
    .await
    .unwrap();
    *slot = Some(service);
}

/// A Redis Cluster (oxsio_test_services), with async calls that leave the
/// runtime free while the nodes start or stop (the adapters under test keep
/// running meanwhile).
pub struct RedisCluster {
    inner: Option<oxsio_test_services::RedisCluster>,
    pub ports: Vec<u16>,
}

impl RedisCluster {
    pub async fn start(n: usize) -> RedisCluster {
        let inner =
            tokio::task::spawn_blocking(move || oxsio_test_services::RedisCluster::start(n))
                .await
                .unwrap();
        RedisCluster {
            ports: inner.ports.clone(),
            inner: Some(inner),
        }
    }

    fn get(&self) -> &oxsio_test_services::RedisCluster {
        self.inner.as_ref().unwrap()
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.get().urls()
    }

    /// `p1,p2,p3` for the Node peer's REDIS_CLUSTER.
    pub fn port_list(&self) -> String {
        self.get().port_list()
    }

    pub async fn stop(mut self) {
        let inner = self.inner.take();
        tokio::task::spawn_blocking(move || drop(inner))
            .await
            .unwrap();
    }

    /// Kills every node (by PID); their directories (nodes.conf) stay.
    pub async fn halt(&mut self) {
        off_runtime(&mut self.inner, oxsio_test_services::RedisCluster::halt).await;
    }

    /// Starts the nodes again on the same ports and directories.
    pub async fn restart(&mut self) {
        off_runtime(&mut self.inner, oxsio_test_services::RedisCluster::restart).await;
    }
}

/// One Redis command over raw RESP (so tests do not depend on a client
/// library); returns the first bytes of the reply.
pub async fn resp(port: u16, args: &[&[u8]]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut cmd = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        cmd.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        cmd.extend_from_slice(a);
        cmd.extend_from_slice(b"\r\n");
    }
    c.write_all(&cmd).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = c.read(&mut buf).await.unwrap();
    buf.truncate(n);
    buf
}
