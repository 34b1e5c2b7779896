//! The Redis streams adapter (`@socket.io/redis-streams-adapter` 0.3)
//! across nodes, each test on a redis-server of its own (free loopback
//! port, stopped by PID): the cross-node matrix with a Node.js streams node
//! in both directions and over both transports (connection state recovery
//! on, so every broadcast carries its stream offset), two oxsio nodes,
//! recovery of a client (the oxsio client, and the official JS client) that
//! drops from one node and comes back on another (Node → oxsio, oxsio →
//! Node, oxsio → oxsio), unknown sessions and bad offsets, a Redis restart,
//! and malformed stream entries and Pub/Sub payloads.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::cluster::*;
use common::proxy::Proxy;
use oxsio::adapter::redis::{RedisStreamsAdapter, StreamsConfig};
use oxsio::client::{ClientBuilder, ClientEvent, Reconnection};
use oxsio::{RecoveryConfig, Transport, Value};
use serde_json::json;
use tokio::sync::mpsc;

fn streams_config(redis: u16) -> StreamsConfig {
    StreamsConfig::new(format!("redis://127.0.0.1:{redis}"))
        .requests_timeout(Duration::from_secs(2))
        .block_time(Duration::from_millis(1000))
}

async fn oxsio_streams(redis: u16) -> Node {
    let factory = RedisStreamsAdapter::factory(streams_config(redis)).unwrap();
    oxsio_node_recovery(factory, Some(RecoveryConfig::default())).await
}

async fn js_streams(redis: u16) -> Node {
    js_node_env(redis, &[("ADAPTER", "streams".into())]).await
}

fn addr(node: &Node) -> SocketAddr {
    node.url().strip_prefix("http://").unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js() {
    let redis = Redis::start(free_port()).await;
    let ox = oxsio_streams(redis.port).await;
    let js = js_streams(redis.port).await;
    ox.until_count(2).await;
    js.until_count(2).await;
    matrix_both_ways(&ox, &js, false).await;
    // serverSideEmit without ack, both ways: the "relay" handler shows it
    // to the receiving node's clients.
    for (from, to) in [(&ox, &js), (&js, &ox)] {
        let mut p = peer(to, "relay-watcher", &[], Transport::Websocket).await;
        if let Node::Oxsio(io, _) = from {
            io.of("/")
                .server_side_emit("relay", vec![Value::from("r")])
                .await;
        } else {
            from.op(json!({"kind": "sse", "event": "relay", "args": ["r"]}))
                .await;
        }
        assert_eq!(p.expect("relayed").await, vec![Value::from("r")]);
        p.socket.disconnect();
    }
    // A node that shuts down leaves the count at once (its subscriptions go).
    ox.stop().await;
    js.until_count(1).await;
    js.stop().await;
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oxsio_nodes() {
    let redis = Redis::start(free_port()).await;
    let n1 = oxsio_streams(redis.port).await;
    let n2 = oxsio_streams(redis.port).await;
    n1.until_count(2).await;
    n2.until_count(2).await;
    matrix_both_ways(&n1, &n2, false).await;
    n1.stop().await;
    n2.stop().await;
    redis.stop().await;
}

/// True when a stored session (`sio:session:*`, base64 msgpack) on one of
/// the Redis servers `redis` (a cluster's masters) belongs to socket `sid`.
async fn session_stored_for(redis: &[u16], sid: &str) -> bool {
    for port in redis {
        if session_stored_on(*port, sid).await {
            return true;
        }
    }
    false
}

async fn session_stored_on(redis: u16, sid: &str) -> bool {
    use base64::Engine as _;
    let cli = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("redis-cli")
            .arg("-p")
            .arg(redis.to_string())
            .args(args)
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let keys = cli(vec![
        "--scan".into(),
        "--pattern".into(),
        "sio:session:*".into(),
    ])
    .await;
    for key in keys.lines().filter(|k| !k.is_empty()) {
        let value = cli(vec!["GET".into(), key.to_owned()]).await;
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(value.trim())
            && raw.windows(sid.len()).any(|w| w == sid.as_bytes())
        {
            return true;
        }
    }
    false
}

async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(String, Vec<Value>)>,
    what: &str,
) -> (String, Vec<Value>) {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("nothing received ({what})"))
        .unwrap()
}

/// A client of `addr` that reconnects every 300 ms and records its events.
fn recording_client(
    addr: SocketAddr,
    transport: Transport,
    auth: serde_json::Value,
) -> (
    oxsio::client::ClientSocket,
    mpsc::UnboundedReceiver<(String, Vec<Value>)>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let socket = ClientBuilder::new(format!("http://{addr}"))
        .transports([transport])
        .reconnection(Reconnection {
            delay: Duration::from_millis(300),
            delay_max: Duration::from_millis(300),
            randomization_factor: 0.0,
            ..Reconnection::default()
        })
        .auth(auth)
        .build()
        .unwrap();
    socket.on_any(move |ev: &ClientEvent| {
        let _ = tx.send((ev.name.clone(), ev.args.clone()));
    });
    (socket, rx)
}

/// Cuts the proxy's clients off (reconnecting fails until it is
/// retargeted) and waits until the node stored socket `id`'s session.
async fn cut_until_stored(proxy: &Proxy, redis: &[u16], id: &str, ctx: &str) {
    let dead: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    proxy.retarget(dead);
    assert!(proxy.cut_all(false) > 0, "{ctx}");
    for _ in 0..600 {
        if session_stored_for(redis, id).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{ctx}: the node never stored the session");
}

/// A client on node `a` (through a proxy) in room1 and, by a cluster
/// operation, in "extra", cut off; while it is away, events are sent from
/// both nodes; it comes back on node `b` with its pid and offset, is
/// recovered there with the same id and rooms, and gets the missed events
/// once each, in stream order, before its "ready".
async fn recovers_across(a: &Node, b: &Node, redis: &[u16], transport: Transport) {
    let ctx = format!("{} -> {} ({transport:?})", a.name(), b.name());
    let proxy = Proxy::start(addr(a)).await;
    let (socket, mut rx) = recording_client(
        proxy.addr,
        transport,
        json!({"name": "roamer", "rooms": ["room1"]}),
    );
    socket.connect().await.unwrap();
    let (ev, args) = next_event(&mut rx, "ready").await;
    assert_eq!(ev, "ready", "{ctx}");
    let id = args[0].as_str().unwrap().to_owned();
    assert_eq!(args[1], Value::Bool(false), "{ctx}");

    // Joined "extra" from the other node; seen once n=0 arrives through it.
    b.op(json!({"kind": "join", "rooms": [id.clone()], "room": "extra"}))
        .await;
    let mut got: Vec<(i64, String)> = Vec::new();
    for _ in 0..100 {
        b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [0]}))
            .await;
        if let Ok(Some((ev, args))) =
            tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
        {
            assert_eq!(ev, "n", "{ctx}");
            assert!(is_offset(args.last().unwrap()), "{ctx}: {args:?}");
            got.push((
                args[0].as_i64().unwrap(),
                args.last().unwrap().as_str().unwrap().to_owned(),
            ));
            break;
        }
    }
    assert_eq!(got.len(), 1, "{ctx}: never joined extra");
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok((ev, args)) = rx.try_recv() {
        // Late copies of the probe.
        assert_eq!(ev, "n", "{ctx}");
        got.push((
            args[0].as_i64().unwrap(),
            args.last().unwrap().as_str().unwrap().to_owned(),
        ));
    }
    got.retain(|(n, _)| *n != 0);

    // Cut: reconnecting fails until the proxy points at node b.
    cut_until_stored(&proxy, redis, &id, &ctx).await;

    a.op(json!({"kind": "emit", "rooms": ["room1"], "event": "n", "args": [1]}))
        .await;
    b.op(json!({"kind": "emit", "event": "n", "args": [2]}))
        .await;
    b.op(json!({"kind": "emit", "rooms": ["room2"], "event": "n", "args": [99]}))
        .await;
    a.op(json!({"kind": "emit", "rooms": [id.clone()], "event": "n", "args": [3]}))
        .await;
    b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [4]}))
        .await;
    a.op(
        json!({"kind": "emit", "rooms": ["room1"], "except": "extra", "event": "n", "args": [98]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    proxy.retarget(addr(b));
    let mut replayed: Vec<(i64, String)> = Vec::new();
    let ready = loop {
        let (ev, args) = next_event(&mut rx, "replay and ready").await;
        match ev.as_str() {
            "n" => replayed.push((
                args[0].as_i64().unwrap(),
                args.last().unwrap().as_str().unwrap().to_owned(),
            )),
            "ready" => break args,
            other => panic!("{ctx}: unexpected {other}"),
        }
    };
    assert_eq!(ready[0].as_str(), Some(id.as_str()), "{ctx}: same id");
    assert_eq!(ready[1], Value::Bool(true), "{ctx}: recovered on b");
    assert!(socket.recovered(), "{ctx}: the client reports recovered");
    assert_eq!(socket.id().as_deref(), Some(id.as_str()), "{ctx}");

    // Rooms kept: "extra" was only ever joined by a cluster operation.
    b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [5]}))
        .await;
    let mut live = Vec::new();
    while !live.iter().any(|(n, _)| *n == 5) {
        let (ev, args) = next_event(&mut rx, "n=5 after recovery").await;
        assert_eq!(ev, "n", "{ctx}");
        live.push((
            args[0].as_i64().unwrap(),
            args.last().unwrap().as_str().unwrap().to_owned(),
        ));
    }
    got.extend(replayed.iter().cloned());
    got.extend(live);
    let mut ns: Vec<i64> = got.iter().map(|(n, _)| *n).collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        [1, 2, 3, 4, 5],
        "{ctx}: {got:?} (replayed {replayed:?})"
    );
    assert!(!replayed.is_empty(), "{ctx}: nothing replayed");
    // Offsets grow in the order the client got the events.
    let ids: Vec<(u64, u64)> = got
        .iter()
        .map(|(_, o)| {
            let (a, b) = o.split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ctx}: {got:?}");
    socket.disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn recovery_case(a_js: bool, b_js: bool) {
    let redis = Redis::start(free_port()).await;
    let make = |js: bool| async move {
        if js {
            js_streams(redis.port).await
        } else {
            oxsio_streams(redis.port).await
        }
    };
    let a = make(a_js).await;
    let b = make(b_js).await;
    a.until_count(2).await;
    b.until_count(2).await;
    for transport in [Transport::Websocket, Transport::Polling] {
        recovers_across(&a, &b, &[redis.port], transport).await;
    }
    a.stop().await;
    b.stop().await;
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_from_node_js_to_oxsio() {
    recovery_case(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_from_oxsio_to_node_js() {
    recovery_case(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_from_oxsio_to_oxsio() {
    recovery_case(false, false).await;
}

/// On a Redis Cluster of three masters (Node's streams adapter on a
/// `createCluster` client), with three streams spread over the masters and
/// requests over Pub/Sub, or over sharded Pub/Sub (`useShardedPubSub`):
/// the matrix both ways, recovery across nodes both ways, and the node
/// count summed over the masters.
async fn on_a_redis_cluster(sharded: bool) {
    let cluster = RedisCluster::start(3).await;
    let config = StreamsConfig::cluster(cluster.urls())
        .stream_count(3)
        .use_sharded_pub_sub(sharded)
        .requests_timeout(Duration::from_secs(2))
        .block_time(Duration::from_millis(1000));
    let factory = RedisStreamsAdapter::factory(config).unwrap();
    let ox = oxsio_node_recovery(factory, Some(RecoveryConfig::default())).await;
    let mut env = vec![
        ("ADAPTER", "streams".to_owned()),
        ("REDIS_CLUSTER", cluster.port_list()),
        ("STREAM_COUNT", "3".to_owned()),
    ];
    if sharded {
        env.push(("USE_SHARDED_PUBSUB", "1".to_owned()));
    }
    let js = js_node_env(cluster.ports[0], &env).await;
    ox.until_count(2).await;
    js.until_count(2).await;
    matrix_both_ways(&ox, &js, false).await;
    two_channels_in_one_batch(&ox, &js).await;
    recovers_across(&js, &ox, &cluster.ports, Transport::Websocket).await;
    recovers_across(&ox, &js, &cluster.ports, Transport::Polling).await;
    // The namespaces' streams, as Node names them, hold the entries.
    let mut filled = 0;
    for stream in ["socket.io-0", "socket.io-1", "socket.io-2"] {
        for port in &cluster.ports {
            let r = resp(*port, &[b"XLEN", stream.as_bytes()]).await;
            if r.starts_with(b":") && !r.starts_with(b":0") {
                filled += 1;
            }
        }
    }
    assert!(filled >= 1, "no stream entries on any master");
    ox.stop().await;
    js.until_count(1).await;
    js.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_with_node_js() {
    on_a_redis_cluster(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_with_sharded_pub_sub() {
    on_a_redis_cluster(true).await;
}

/// A client offering an unknown pid, an offset in the wrong format, or an
/// offset no longer in the stream gets a new session (not recovered), on
/// an oxsio node and on a Node node alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sessions_and_bad_offsets_give_new_sessions() {
    let redis = Redis::start(free_port()).await;
    let ox = oxsio_streams(redis.port).await;
    let js = js_streams(redis.port).await;
    ox.until_count(2).await;
    // A real session, stored by hand as Node stores it, so that only the
    // offset is wrong in the last offers.
    for node in [&ox, &js] {
        for auth in [
            json!({"pid": "nope", "offset": "1-0"}),
            json!({"pid": "nope", "offset": "not-an-offset"}),
            json!({"pid": "nope", "offset": 12}),
            json!({"pid": 5, "offset": "1-0"}),
            json!({"pid": "stored", "offset": "1-0"}),
        ] {
            // msgpack {sid, pid, rooms: [], data: {}} with a 20-char sid.
            let mut bytes = b"\x84\xa3sid\xb4AAAAAAAAAAAAAAAAAAAA".to_vec();
            bytes.extend_from_slice(b"\xa3pid\xa6stored\xa5rooms\x90\xa4data\x80");
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            resp(
                redis.port,
                &[
                    b"SET",
                    b"sio:session:stored",
                    b64.as_bytes(),
                    b"PX",
                    b"60000",
                ],
            )
            .await;
            let (tx, mut rx) = mpsc::unbounded_channel();
            let socket = ClientBuilder::new(node.url())
                .transports([Transport::Websocket])
                .reconnection(Reconnection {
                    enabled: false,
                    ..Reconnection::default()
                })
                .auth(auth.clone())
                .build()
                .unwrap();
            socket.on_any(move |ev: &ClientEvent| {
                let _ = tx.send((ev.name.clone(), ev.args.clone()));
            });
            socket.connect().await.unwrap();
            let (ev, args) = next_event(&mut rx, "ready").await;
            assert_eq!(ev, "ready");
            assert_eq!(args[1], Value::Bool(false), "{}: {auth}", node.name());
            assert_ne!(args[0].as_str(), Some("AAAAAAAAAAAAAAAAAAAA"));
            socket.disconnect();
        }
    }
    // Both nodes still serve.
    let mut p = peer(&js, "after", &["room1"], Transport::Websocket).await;
    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still", "args": []}))
        .await;
    p.expect("still").await;
    ox.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// Redis stopped under two oxsio nodes and a Node node: each keeps serving
/// its own clients, requests end within their bound, nothing crashes; once
/// Redis is back on the same port, reading and subscriptions resume and
/// the cluster works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_heals_after_a_redis_restart() {
    let port = free_port();
    let redis = Redis::start(port).await;
    let n1 = oxsio_streams(port).await;
    let n2 = oxsio_streams(port).await;
    let js = js_streams(port).await;
    n1.until_count(3).await;
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(&n2, "client-B", &["room1"], Transport::Websocket).await;
    let mut c = peer(&js, "client-C", &["room1"], Transport::Websocket).await;

    redis.stop().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Local delivery goes on.
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "local", "args": [1]}))
        .await;
    assert_eq!(a.expect("local").await, vec![Value::from(1)]);
    // Requests end within their bound.
    for op in [
        json!({"kind": "fetch"}),
        json!({"kind": "sse-ack", "event": "peer-ping", "args": []}),
        json!({"kind": "count"}),
    ] {
        let Node::Oxsio(io, _) = &n1 else {
            unreachable!()
        };
        let ns = io.of("/");
        let bounded = tokio::time::timeout(Duration::from_secs(10), async {
            match op["kind"].as_str().unwrap() {
                "fetch" => {
                    let _ = ns.fetch_sockets().await;
                }
                "sse-ack" => {
                    let _ = ns
                        .server_side_emit_with_ack(
                            "peer-ping",
                            Vec::<Value>::new(),
                            Duration::from_secs(2),
                        )
                        .await;
                }
                _ => {
                    let _ = ns.server_count().await;
                }
            }
        })
        .await;
        assert!(bounded.is_ok(), "{op} did not end while Redis was down");
    }

    let redis = Redis::start(port).await;
    // Healed: a broadcast from each node reaches the others' clients.
    for (from, name) in [(&n1, "from-n1"), (&n2, "from-n2"), (&js, "from-js")] {
        let mut through = false;
        for _ in 0..150 {
            from.op(json!({"kind": "emit", "rooms": ["room1"], "event": name, "args": []}))
                .await;
            let mut seen = [false; 3];
            for (i, p) in [&mut a, &mut b, &mut c].into_iter().enumerate() {
                let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
                while let Ok(Some((ev, _))) = tokio::time::timeout_at(deadline, p.rx.recv()).await {
                    if ev == name {
                        seen[i] = true;
                        break;
                    }
                }
            }
            if seen.iter().all(|s| *s) {
                through = true;
                break;
            }
        }
        assert!(
            through,
            "{name} does not reach every node after the restart"
        );
    }
    n1.until_count(3).await;
    let fetched = n2.op(json!({"kind": "fetch"})).await;
    assert_eq!(fetched["sockets"].as_array().unwrap().len(), 3, "{fetched}");
    n1.stop().await;
    n2.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// Malformed stream entries and Pub/Sub payloads are ignored and the node
/// keeps working (sent with no Node node listening: a malformed entry can
/// crash a Node process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_and_messages_are_ignored() {
    let redis = Redis::start(free_port()).await;
    let ox = oxsio_streams(redis.port).await;
    let mut a = peer(&ox, "client-A", &["room1"], Transport::Websocket).await;
    ox.until_count(1).await;
    // Reading from the stream has started once a broadcast comes back.
    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "warm", "args": []}))
        .await;
    a.expect("warm").await;
    let entries: [&[&[u8]]; 12] = [
        &[b"nsp", b"/", b"type", b"3"],
        &[b"uid", b"x", b"type", b"3", b"data", b"{}"],
        &[b"uid", b"x", b"nsp", b"/", b"data", b"{}"],
        &[
            b"uid", b"x", b"nsp", b"/", b"type", b"three", b"data", b"{}",
        ],
        &[
            b"uid",
            b"x",
            b"nsp",
            b"/",
            b"type",
            b"3",
            b"data",
            b"{\"packet\":",
        ],
        &[
            b"uid",
            b"x",
            b"nsp",
            b"/",
            b"type",
            b"3",
            b"data",
            b"!!not base64!!",
        ],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"3", b"data", b"wcEA"],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"42", b"data", b"{}"],
        &[
            b"uid",
            b"x",
            b"nsp",
            b"/",
            b"type",
            b"3",
            b"data",
            b"{\"packet\":{\"data\":7}}",
        ],
        &[
            b"uid",
            b"x",
            b"nsp",
            b"/",
            b"type",
            b"4",
            b"data",
            b"{\"opts\":null}",
        ],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"6", b"data", b"[1,2]"],
        &[
            b"uid",
            b"\xff\xfe",
            b"nsp",
            b"/",
            b"type",
            b"3",
            b"data",
            b"{}",
        ],
    ];
    for fields in entries {
        let mut cmd: Vec<&[u8]> = vec![b"XADD", b"socket.io", b"*"];
        cmd.extend_from_slice(fields);
        resp(redis.port, &cmd).await;
    }
    let payloads: [&[u8]; 6] = [
        b"\xc1\xff",
        b"{\"type\":3}",
        b"\x93\xa1x",
        // msgpack {type: 7, uid: "x", nsp: "/"}: a fetch without requestId.
        b"\x83\xa4type\x07\xa3uid\xa1x\xa3nsp\xa1/",
        // msgpack {type: 9, uid: "x", nsp: "/", data: {packet: []}}.
        b"\x84\xa4type\x09\xa3uid\xa1x\xa3nsp\xa1/\xa4data\x81\xa6packet\x90",
        b"",
    ];
    for payload in payloads {
        resp(redis.port, &[b"PUBLISH", b"socket.io#/#", payload]).await;
    }
    // A session that is not base64 msgpack is refused, not a crash.
    resp(
        redis.port,
        &[b"SET", b"sio:session:junk", b"%%%", b"PX", b"60000"],
    )
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let top = resp(
        redis.port,
        &[b"XREVRANGE", b"socket.io", b"+", b"-", b"COUNT", b"1"],
    )
    .await;
    let text = String::from_utf8_lossy(&top).to_string();
    let offset = text
        .split("\r\n")
        .find(|l| is_offset(&Value::from(*l)))
        .unwrap()
        .to_owned();
    let junk = ClientBuilder::new(ox.url())
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            enabled: false,
            ..Reconnection::default()
        })
        .auth(json!({"pid": "junk", "offset": offset}))
        .build()
        .unwrap();
    junk.on_any(move |ev: &ClientEvent| {
        let _ = tx.send((ev.name.clone(), ev.args.clone()));
    });
    junk.connect().await.unwrap();
    let (ev, args) = next_event(&mut rx, "ready").await;
    assert_eq!(ev, "ready");
    assert_eq!(args[1], Value::Bool(false));
    junk.disconnect();

    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still-alive", "args": []}))
        .await;
    a.expect("still-alive").await;
    assert_eq!(ox.op(json!({"kind": "count"})).await["count"], json!(1));
    ox.stop().await;
    redis.stop().await;
}

/// The official JS client (socket.io-client 4.8, tests/interop/recovery_client.js)
/// on node `a` through a proxy, cut off, events sent meanwhile from both
/// nodes, back on node `b`: recovered there with the same id, the missed
/// events once each and in order.
async fn official_client_recovers_across(a: &Node, b: &Node, redis: &[u16], transport: &str) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let ctx = format!("{} -> {} ({transport})", a.name(), b.name());
    let proxy = Proxy::start(addr(a)).await;
    let dir = common::repo_root().join("tests/interop");
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("recovery_client.js"))
        .arg(format!("http://{}", proxy.addr))
        .arg(transport)
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (tests/interop/setup.sh)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = Vec::new();
    let mut expect = async |prefix: &str| -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("{ctx}: no {prefix:?} line; saw {log:?}"))
                .unwrap()
                .unwrap_or_else(|| panic!("{ctx}: client exited; saw {log:?}"));
            assert!(!line.starts_with("FAIL"), "{ctx}: {line}");
            log.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
    };
    let first = expect("connected ").await;
    let id = first.split(' ').nth(1).unwrap().to_owned();
    assert!(first.ends_with(" false"), "{ctx}: {first}");
    b.op(json!({"kind": "join", "rooms": [id.clone()], "room": "extra"}))
        .await;
    // In "extra" once n=0 sent there comes through (with its offset).
    b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [0]}))
        .await;
    let mut got0 = String::new();
    for _ in 0..50 {
        let wait = expect("got ");
        match tokio::time::timeout(Duration::from_millis(200), wait).await {
            Ok(line) => {
                got0 = line;
                break;
            }
            Err(_) => {
                b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [0]}))
                    .await;
            }
        }
    }
    assert_eq!(
        got0, "got 0 string 2",
        "{ctx}: the offset is the last argument"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let dead: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    proxy.retarget(dead);
    let mut stored = false;
    for _ in 0..300 {
        proxy.cut_all(false);
        // Earlier clients of this test left sessions too: this one's.
        if session_stored_for(redis, &id).await {
            stored = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored, "{ctx}: node a never stored the session");
    a.op(json!({"kind": "emit", "event": "n", "args": [1]}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [2]}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.op(json!({"kind": "emit", "rooms": [id.clone()], "event": "n", "args": [3]}))
        .await;
    b.op(json!({"kind": "emit", "rooms": ["room2"], "event": "n", "args": [99]}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.retarget(addr(b));
    let again = expect("connected ").await;
    assert_eq!(again, format!("connected {id} true"), "{ctx}");
    b.op(json!({"kind": "emit", "rooms": ["extra"], "event": "n", "args": [4]}))
        .await;
    while expect("got ").await != "got 4 string 2" {}
    // socket.io-client hands buffered events (a Node server's replay
    // comes before its CONNECT) to the handlers before "connect": count
    // every event line since the cut. Late copies of the n=0 probe are fine.
    let seen: Vec<i64> = log
        .iter()
        .skip_while(|l| !l.starts_with("disconnect "))
        .filter_map(|l| l.strip_prefix("got "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .filter(|n| *n != 0)
        .collect();
    assert_eq!(seen, vec![1, 2, 3, 4], "{ctx}: {log:?}");
    assert!(
        log.iter()
            .filter(|l| l.starts_with("got "))
            .all(|l| l.ends_with(" string 2")),
        "{ctx}: every event carries its offset: {log:?}"
    );
    let _ = child.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_js_client_recovers_across_nodes() {
    let redis = Redis::start(free_port()).await;
    let ox = oxsio_streams(redis.port).await;
    let js = js_streams(redis.port).await;
    ox.until_count(2).await;
    js.until_count(2).await;
    for transport in ["websocket", "polling"] {
        official_client_recovers_across(&ox, &js, &[redis.port], transport).await;
        official_client_recovers_across(&js, &ox, &[redis.port], transport).await;
    }
    ox.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// `streamCount: 3` on both sides: each namespace goes to the stream Node's
/// `hashCode(nsp) % 3` picks, and the nodes still hear each other there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_count_picks_the_streams_node_picks() {
    let redis = Redis::start(free_port()).await;
    let factory = RedisStreamsAdapter::factory(streams_config(redis.port).stream_count(3)).unwrap();
    let ox = oxsio_node_recovery(factory, Some(RecoveryConfig::default())).await;
    let js = js_node_env(
        redis.port,
        &[("ADAPTER", "streams".into()), ("STREAM_COUNT", "3".into())],
    )
    .await;
    ox.until_count(2).await;
    js.until_count(2).await;
    let mut on_js = peer(&js, "js-root", &["room1"], Transport::Websocket).await;
    let mut on_js_news = peer_ns(&js, "/news", "js-news", &[], Transport::Websocket).await;
    let mut on_ox = peer(&ox, "ox-root", &["room1"], Transport::Websocket).await;
    let Node::Oxsio(io, _) = &ox else {
        unreachable!()
    };
    let mut through = false;
    for _ in 0..50 {
        io.of("/news").emit("headline", "h").unwrap();
        if let Ok(Some((ev, _))) =
            tokio::time::timeout(Duration::from_millis(200), on_js_news.rx.recv()).await
        {
            assert_eq!(ev, "headline");
            through = true;
            break;
        }
    }
    assert!(through, "/news from oxsio never reached the Node node");
    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "chat", "args": [1]}))
        .await;
    assert_eq!(on_js.expect("chat").await, vec![Value::from(1)]);
    assert_eq!(on_ox.expect("chat").await, vec![Value::from(1)]);
    js.op(json!({"kind": "emit", "rooms": ["room1"], "event": "chat", "args": [2]}))
        .await;
    assert_eq!(on_ox.expect("chat").await, vec![Value::from(2)]);
    // hashCode("/") % 3 == 2, hashCode("/news") % 3 == 0 (Node's function).
    let xlen = async |key: &[u8]| {
        let r = resp(redis.port, &[b"XLEN", key]).await;
        String::from_utf8_lossy(&r)
            .trim_start_matches(':')
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert!(xlen(b"socket.io-2").await >= 2, "/ not in socket.io-2");
    assert!(xlen(b"socket.io-0").await >= 1, "/news not in socket.io-0");
    assert_eq!(xlen(b"socket.io").await, 0);
    assert_eq!(xlen(b"socket.io-1").await, 0);
    ox.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// `RecoveryConfig::max_packets_per_session` holds on the streams adapter
/// too: a client that missed more packets than that gets a new socket; one
/// that missed that many is recovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_packets_per_session_bounds_the_replay() {
    let redis = Redis::start(free_port()).await;
    let factory = RedisStreamsAdapter::factory(streams_config(redis.port)).unwrap();
    let recovery = RecoveryConfig {
        max_packets_per_session: 2,
        ..RecoveryConfig::default()
    };
    let node = oxsio_node_recovery(factory, Some(recovery)).await;
    node.until_count(1).await;
    for (missed, recovered) in [(3, false), (2, true)] {
        let proxy = Proxy::start(addr(&node)).await;
        let (socket, mut rx) = recording_client(
            proxy.addr,
            Transport::Websocket,
            json!({"name": "counted", "rooms": ["counted"]}),
        );
        socket.connect().await.unwrap();
        let (_, args) = next_event(&mut rx, "ready").await;
        let id = args[0].as_str().unwrap().to_owned();
        // One event first, so the client has an offset to offer.
        node.op(json!({"kind": "emit", "rooms": ["counted"], "event": "n", "args": [0]}))
            .await;
        assert_eq!(next_event(&mut rx, "n=0").await.0, "n");

        cut_until_stored(&proxy, &[redis.port], &id, "max_packets_per_session").await;
        for n in 1..=missed {
            node.op(json!({"kind": "emit", "rooms": ["counted"], "event": "n", "args": [n]}))
                .await;
        }
        proxy.retarget(addr(&node));
        let mut replayed = 0;
        let ready = loop {
            let (ev, args) = next_event(&mut rx, "replay and ready").await;
            match ev.as_str() {
                "n" => replayed += 1,
                "ready" => break args,
                other => panic!("unexpected {other}"),
            }
        };
        assert_eq!(ready[1], Value::Bool(recovered), "missed {missed}");
        assert_eq!(socket.recovered(), recovered, "missed {missed}");
        if recovered {
            assert_eq!(ready[0].as_str(), Some(id.as_str()));
            assert_eq!(replayed, missed);
        } else {
            assert_ne!(ready[0].as_str(), Some(id.as_str()));
            assert_eq!(replayed, 0);
        }
        socket.disconnect();
    }
    node.stop().await;
    redis.stop().await;
}
