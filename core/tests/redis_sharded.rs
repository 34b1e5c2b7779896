//! The sharded Redis adapter (`createShardedAdapter` of
//! `@socket.io/redis-adapter` 8.3) across nodes, on a Redis Cluster of three
//! masters that the test starts on free loopback ports (redis-server with
//! `--cluster-enabled yes`, then `redis-cli --cluster create`): an oxsio
//! node and a Node.js node run the whole cross-node matrix in both
//! directions, with clients on each transport, in each subscription mode.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use common::cluster::*;
use oxsio::Transport;
use oxsio::adapter::redis::{ShardedConfig, ShardedRedisAdapter, SubscriptionMode};
use serde_json::json;

async fn oxsio_sharded(cluster: &RedisCluster, mode: SubscriptionMode) -> Node {
    let factory = ShardedRedisAdapter::factory(
        ShardedConfig::new(cluster.urls())
            .subscription_mode(mode)
            .requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    oxsio_node_with(factory).await
}

async fn js_sharded(cluster: &RedisCluster, mode: SubscriptionMode) -> Node {
    js_node_env(
        cluster.ports[0],
        &[
            ("ADAPTER", "sharded".into()),
            ("REDIS_CLUSTER", cluster.port_list()),
            ("SUBSCRIPTION_MODE", mode.as_str().into()),
        ],
    )
    .await
}

async fn oxsio_with_node_js(mode: SubscriptionMode) {
    let cluster = RedisCluster::start(3).await;
    let ox = oxsio_sharded(&cluster, mode).await;
    let js = js_sharded(&cluster, mode).await;
    ox.until_count(2).await;
    js.until_count(2).await;
    matrix_both_ways(&ox, &js, false).await;
    two_channels_in_one_batch(&ox, &js).await;
    ox.stop().await;
    js.stop().await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_dynamic() {
    oxsio_with_node_js(SubscriptionMode::Dynamic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_static() {
    oxsio_with_node_js(SubscriptionMode::Static).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_dynamic_private() {
    oxsio_with_node_js(SubscriptionMode::DynamicPrivate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oxsio_nodes() {
    let cluster = RedisCluster::start(3).await;
    let n1 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let n2 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    n1.until_count(2).await;
    n2.until_count(2).await;
    matrix_both_ways(&n1, &n2, false).await;
    n1.stop().await;
    n2.stop().await;
    cluster.stop().await;
}

/// In the dynamic mode a room broadcast travels on the room's own channel,
/// which only nodes with that room subscribe to: the channel has a
/// subscriber while the room has a member, and none once it is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_mode_subscribes_per_room() {
    let cluster = RedisCluster::start(3).await;
    let ox = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let a = peer(&ox, "client-A", &["lobby"], Transport::Websocket).await;
    let channel = "socket.io#/#lobby#";
    // SHARDNUMSUB answers for the node that owns the channel's slot: ask each.
    let count_all = || async {
        let mut total = 0;
        for p in &cluster.ports {
            let out = tokio::process::Command::new("redis-cli")
                .args(["-p", &p.to_string(), "pubsub", "shardnumsub", channel])
                .output()
                .await
                .unwrap();
            total += String::from_utf8_lossy(&out.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
        total
    };
    let mut seen = 0;
    for _ in 0..100 {
        seen = count_all().await;
        if seen == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 1, "no subscription for the room channel");
    a.socket.disconnect();
    for _ in 0..100 {
        seen = count_all().await;
        if seen == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 0, "the empty room's channel is still subscribed");
    ox.stop().await;
    cluster.stop().await;
}

/// Garbage on every sharded channel the node listens on is ignored, and
/// the node keeps working (never sent where a Node peer listens: a
/// malformed request can crash a Node process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_ignored() {
    let cluster = RedisCluster::start(3).await;
    let ox = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let mut a = peer(&ox, "client-A", &["room1"], Transport::Websocket).await;
    ox.until_count(1).await;
    let garbage: [(&str, &[u8]); 10] = [
        ("socket.io#/#", b"\xc1\xff"),
        ("socket.io#/#", b"{\"type\":"),
        ("socket.io#/#", b"{\"type\":42,\"uid\":\"x\",\"nsp\":\"/\"}"),
        ("socket.io#/#", b"{\"type\":3,\"uid\":\"x\",\"nsp\":\"/\"}"),
        (
            "socket.io#/#",
            b"{\"type\":7,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{}}",
        ),
        (
            "socket.io#/#",
            b"{\"type\":9,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{\"packet\":[]}}",
        ),
        (
            "socket.io#/#",
            b"{\"type\":4,\"uid\":\"x\",\"nsp\":\"/\",\"data\":null}",
        ),
        ("socket.io#/#room1#", b"\x93\xa1x"),
        (
            "socket.io#/#room1#",
            b"{\"type\":3,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{\"packet\":{\"data\":7}}}",
        ),
        ("socket.io#/#", b"[1,2,3]"),
    ];
    for (channel, payload) in garbage {
        let out = tokio::process::Command::new("redis-cli")
            .args([
                "-c",
                "-p",
                &cluster.ports[0].to_string(),
                "spublish",
                channel,
            ])
            .arg(std::ffi::OsStr::from_bytes(payload))
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
    }
    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still-alive", "args": []}))
        .await;
    a.expect("still-alive").await;
    assert_eq!(ox.op(json!({"kind": "count"})).await["count"], json!(1));
    ox.stop().await;
    cluster.stop().await;
}
