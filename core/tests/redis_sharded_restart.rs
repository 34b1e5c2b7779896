//! The sharded Redis adapter when the whole Redis Cluster restarts (its
//! own test binary: the restart frees the cluster's ports for a while, and
//! tests running beside it could take them).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

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

/// The whole Redis Cluster restarts under two nodes: broadcasts stay local
/// meanwhile, requests end within their bound, nothing crashes, and the
/// cluster heals by itself (the client reconnects and subscribes again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_heals_after_a_redis_cluster_restart() {
    let mut cluster = RedisCluster::start(3).await;
    let n1 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    let n2 = oxsio_sharded(&cluster, SubscriptionMode::Dynamic).await;
    n1.until_count(2).await;
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(&n2, "client-B", &["room1"], Transport::Websocket).await;
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
    works_locally_while_down(&n1, &mut a, Duration::from_secs(7)).await;

    cluster.restart().await;
    let healed = heals(&n1, &mut a, &mut b, 150).await;
    assert!(
        healed,
        "the cluster did not heal after the Redis Cluster restart"
    );
    n1.stop().await;
    n2.stop().await;
    cluster.stop().await;
}
