//! The Redis adapter across nodes: two oxsio nodes, and an oxsio node with a
//! Node.js node using `@socket.io/redis-adapter`, on a redis-server this test
//! starts on a free port (`redis-server` must be installed: the README test
//! command installs it). Every cluster operation is called on each side,
//! with clients on each transport.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::cluster::*;
use oxsio::Transport;
use oxsio::Value;
use oxsio::client::{ClientBuilder, ClientEvent};
use serde_json::json;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oxsio_nodes() {
    let redis = Redis::start(free_port()).await;
    let (n1, n2) = (oxsio_node(redis.port).await, oxsio_node(redis.port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    matrix_both_ways(&n1, &n2, true).await;
    n1.stop().await;
    n2.stop().await;
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_in_one_cluster() {
    let redis = Redis::start(free_port()).await;
    let (ox, js) = (oxsio_node(redis.port).await, js_node(redis.port).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    matrix_both_ways(&ox, &js, true).await;
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
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(&n2, "client-B", &["room1"], Transport::Websocket).await;
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
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    for (channel, payload) in [
        ("socket.io#/#", &b"\xc1\xff"[..]),
        ("socket.io#/#room1#", b"\x93\xa1x"),
        ("socket.io-request#/#", b"{\"type\":"),
        ("socket.io-request#/#", b"{\"type\":42}"),
        ("socket.io-request#/#", b"{\"uid\":\"zzz\",\"type\":5}"),
        ("socket.io-response#/#", b"\x00"),
        ("socket.io#/#", b"\x93\xa6emitter\x80\x80"),
    ] {
        resp(redis.port, &[b"PUBLISH", channel.as_bytes(), payload]).await;
    }
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still-alive", "args": []}))
        .await;
    a.expect("still-alive").await;
    n1.stop().await;
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
