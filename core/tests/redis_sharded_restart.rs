//! The sharded Redis adapter, and the streams adapter on a Redis Cluster,
//! when the whole Redis Cluster restarts (their own test binary, one test
//! at a time: a restart frees the cluster's ports for a while, and tests
//! running beside it could take them).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::cluster::*;
use oxsio::adapter::redis::{
    RedisStreamsAdapter, ShardedConfig, ShardedRedisAdapter, StreamsConfig, SubscriptionMode,
};
use oxsio::{RecoveryConfig, Transport};
use serde_json::json;

/// One restart at a time.
static RESTARTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn oxsio_sharded(cluster: &RedisCluster, mode: SubscriptionMode) -> Node {
    let factory = ShardedRedisAdapter::factory(
        ShardedConfig::new(cluster.urls())
            .subscription_mode(mode)
            .requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    oxsio_node_with(factory).await
}

/// The whole Redis Cluster restarts under two nodes: broadcasts stay local
/// meanwhile, requests end within their bound, nothing crashes, and the
/// cluster heals by itself (the client reconnects and subscribes again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_heals_after_a_redis_cluster_restart() {
    let _one = RESTARTS.lock().await;
    let mut cluster = RedisCluster::start(3).await;
    let n1 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let n2 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let (a, b) = restarted_under(&mut cluster, &n1, &n2).await;
    a.socket.disconnect();
    b.socket.disconnect();
    n1.stop().await;
    n2.stop().await;
    cluster.stop().await;
}

/// The same under two streams nodes (three streams, sharded Pub/Sub,
/// recovery on); after it the requests heal too: each node's
/// subscriptions are made again, so both count two nodes and a fetch sees
/// the other node's socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_heal_after_a_redis_cluster_restart() {
    let _one = RESTARTS.lock().await;
    let mut cluster = RedisCluster::start(3).await;
    let streams = || {
        let config = StreamsConfig::cluster(cluster.urls())
            .stream_count(3)
            .use_sharded_pub_sub(true)
            .requests_timeout(Duration::from_secs(2))
            .block_time(Duration::from_millis(1000));
        oxsio_node_recovery(
            RedisStreamsAdapter::factory(config).unwrap(),
            Some(RecoveryConfig::default()),
        )
    };
    let n1 = streams().await;
    let n2 = streams().await;
    let (a, b) = restarted_under(&mut cluster, &n1, &n2).await;
    n1.until_count(2).await;
    n2.until_count(2).await;
    let mut seen = Vec::new();
    for _ in 0..50 {
        let fetched = n1.op(json!({"kind": "fetch", "rooms": ["room1"]})).await;
        seen = fetched["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        if seen.contains(&b.id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen.contains(&a.id) && seen.contains(&b.id),
        "fetch_sockets does not reach the other node: {seen:?}"
    );
    a.socket.disconnect();
    b.socket.disconnect();
    n1.stop().await;
    n2.stop().await;
    cluster.stop().await;
}

/// A broadcast crosses from `n1` to `n2`; the whole cluster stops (local
/// work goes on) and starts again; broadcasts cross again by themselves.
/// Returns the two clients (on `n1`, on `n2`), still connected.
async fn restarted_under(cluster: &mut RedisCluster, n1: &Node, n2: &Node) -> (Peer, Peer) {
    n1.until_count(2).await;
    let mut a = peer(n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(n2, "client-B", &["room1"], Transport::Websocket).await;
    let mut through = false;
    for _ in 0..100 {
        n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "before", "args": []}))
            .await;
        a.expect("before").await;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), b.rx.recv()).await {
            through = true;
            break;
        }
    }
    assert!(through);

    cluster.halt().await;
    works_locally_while_down(n1, &mut a, Duration::from_secs(7)).await;

    cluster.restart().await;
    let healed = heals(n1, &mut a, &mut b, 150).await;
    assert!(
        healed,
        "the cluster did not heal after the Redis Cluster restart"
    );
    (a, b)
}
