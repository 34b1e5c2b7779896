//! The emitter (`@socket.io/redis-emitter` 5 wire format) publishing from a
//! process that is not a server, observed by an oxsio node and a Node.js
//! node on the classic Redis adapter (redis-server started by the test on a
//! free port), with clients on each transport: rooms, except, binary, the
//! whole namespace, another namespace, serverSideEmit, socketsJoin/Leave
//! and disconnectSockets. Then the same emitter on a Redis Cluster.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::cluster::*;
use oxsio::adapter::redis::{Emitter, EmitterConfig, EmitterError, RedisAdapter, RedisConfig};
use oxsio::{Transport, Value};
use tokio::sync::mpsc;

async fn scenario(emitter: &Emitter, ox: &Node, js: &Node, transport: Transport) {
    let ctx = format!("{transport:?}");
    let mut a = peer(ox, "client-A", &["room1"], transport).await;
    let mut b = peer(js, "client-B", &["room1", "room2"], transport).await;
    let mut c = peer_ns(ox, "/news", "client-C", &[], transport).await;
    let mut d = peer_ns(js, "/news", "client-D", &[], transport).await;

    emitter
        .to("room1")
        .emit("chat", vec!["hi".into(), 1.into()])
        .await
        .unwrap();
    for p in [&mut a, &mut b] {
        assert_eq!(
            p.expect("chat").await,
            vec![Value::from("hi"), Value::from(1)],
            "{ctx}"
        );
    }

    emitter
        .to("room2")
        .emit("bin", vec![Value::from(vec![1u8, 2, 3])])
        .await
        .unwrap();
    assert_eq!(
        b.expect("bin").await,
        vec![Value::from(vec![1u8, 2, 3])],
        "{ctx}"
    );
    a.expect_nothing().await;

    emitter
        .to("room1")
        .except("room2")
        .emit("ex", vec![])
        .await
        .unwrap();
    a.expect("ex").await;
    b.expect_nothing().await;

    emitter.emit("all", vec![]).await.unwrap();
    a.expect("all").await;
    b.expect("all").await;
    c.expect_nothing().await;
    d.expect_nothing().await;

    emitter
        .of("news")
        .emit("headline", vec!["h".into()])
        .await
        .unwrap();
    c.expect("headline").await;
    d.expect("headline").await;
    a.expect_nothing().await;
    b.expect_nothing().await;

    // serverSideEmit reaches each node's `relay` handler, which shows it
    // to that node's clients.
    emitter
        .server_side_emit("relay", vec!["x".into()])
        .await
        .unwrap();
    assert_eq!(a.expect("relayed").await, vec![Value::from("x")], "{ctx}");
    assert_eq!(b.expect("relayed").await, vec![Value::from("x")], "{ctx}");

    emitter.in_("room1").sockets_join(["room7"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emitter.to("room7").emit("r7", vec![]).await.unwrap();
    a.expect("r7").await;
    b.expect("r7").await;
    emitter.in_("room1").sockets_leave(["room7"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    emitter.to("room7").emit("r7", vec![]).await.unwrap();
    a.expect_nothing().await;
    b.expect_nothing().await;

    assert!(matches!(
        emitter.emit("disconnect", vec![]).await,
        Err(EmitterError::Reserved(_))
    ));

    let (tx, mut gone) = mpsc::unbounded_channel();
    for (name, p) in [("B", &b), ("A", &a)] {
        let tx = tx.clone();
        p.socket.on_disconnect(move |_, _| {
            let _ = tx.send(name);
        });
    }
    emitter.in_("room2").disconnect_sockets(true).await.unwrap();
    assert_eq!(
        tokio::time::timeout(T, gone.recv()).await.unwrap(),
        Some("B"),
        "{ctx}"
    );
    assert!(a.socket.connected(), "{ctx}");
    emitter
        .in_(a.id.as_str())
        .disconnect_sockets(false)
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(T, gone.recv()).await.unwrap(),
        Some("A"),
        "{ctx}"
    );
    c.socket.disconnect();
    d.socket.disconnect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitter_observed_by_oxsio_and_node_js() {
    let redis = Redis::start(free_port()).await;
    let ox = oxsio_node(redis.port).await;
    let js = js_node(redis.port).await;
    let emitter = Emitter::new(EmitterConfig::new(format!(
        "redis://127.0.0.1:{}",
        redis.port
    )))
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for transport in [Transport::Websocket, Transport::Polling] {
        scenario(&emitter, &ox, &js, transport).await;
    }
    ox.stop().await;
    js.stop().await;
    redis.stop().await;
}

/// An emitter on a Redis Cluster: PUBLISH on one node reaches servers
/// subscribed on any other node of the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitter_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3).await;
    let mut nodes = Vec::new();
    let mut peers = Vec::new();
    for port in &cluster.ports[1..] {
        let factory = RedisAdapter::factory(
            RedisConfig::new(format!("redis://127.0.0.1:{port}"))
                .requests_timeout(Duration::from_secs(2)),
        )
        .unwrap();
        let node = oxsio_node_with(factory).await;
        peers.push(peer(&node, "client", &["room1"], Transport::Websocket).await);
        nodes.push(node);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let emitter = Emitter::new(EmitterConfig::cluster(cluster.urls())).unwrap();
    emitter
        .to("room1")
        .emit("chat", vec!["via cluster".into()])
        .await
        .unwrap();
    for p in &mut peers {
        assert_eq!(p.expect("chat").await, vec![Value::from("via cluster")]);
    }
    for n in nodes {
        n.stop().await;
    }
    cluster.stop().await;
}

/// With Redis unreachable, each call says so (after the timeout) instead
/// of dropping the message silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_an_error() {
    let port = free_port();
    let emitter = Emitter::new(
        EmitterConfig::new(format!("redis://127.0.0.1:{port}")).timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        emitter.emit("x", vec![]).await,
        Err(EmitterError::Publish(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(matches!(
        Emitter::new(EmitterConfig::new("not a url")),
        Err(EmitterError::Config(_))
    ));
}
