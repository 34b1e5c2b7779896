//! The Postgres adapter (`@socket.io/postgres-adapter` 0.5) across nodes,
//! on a PostgreSQL this test starts on a free loopback port in a temporary
//! directory (`initdb` + `postgres`, as the `postgres` user when the test
//! runs as root; the README test command installs the Debian package):
//! an oxsio node and a Node.js node run the whole cross-node matrix in both
//! directions with clients on each transport; payloads over the NOTIFY
//! threshold and binary ones go through the attachments table; garbage
//! notifications are ignored.
#![cfg(all(feature = "redis", feature = "postgres"))]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::cluster::*;
use oxsio::Transport;
use oxsio::adapter::postgres::{PostgresAdapter, PostgresConfig};
use serde_json::json;

/// A PostgreSQL (oxsio_test_services), with async calls that leave the
/// runtime free while it starts or stops (the nodes keep running meanwhile).
struct Postgres {
    inner: Option<oxsio_test_services::Postgres>,
    url: String,
}

impl Postgres {
    async fn start() -> Postgres {
        let inner = tokio::task::spawn_blocking(oxsio_test_services::Postgres::start)
            .await
            .unwrap();
        Postgres {
            url: inner.url(),
            inner: Some(inner),
        }
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    /// Runs SQL with psql; its output, or None when it failed.
    async fn psql(&self, sql: &str) -> Option<String> {
        let url = self.url.clone();
        let sql = sql.to_owned();
        tokio::task::spawn_blocking(move || oxsio_test_services::psql(&url, &sql))
            .await
            .unwrap()
    }

    /// Fast shutdown, by PID; the data directory stays.
    async fn halt(&mut self) {
        off_runtime(&mut self.inner, oxsio_test_services::Postgres::halt).await;
    }

    /// Starts it again on its port and data.
    async fn restart(&mut self) {
        off_runtime(&mut self.inner, oxsio_test_services::Postgres::restart).await;
    }

    /// Fast shutdown, and the data directory removed.
    async fn stop(mut self) {
        let inner = self.inner.take();
        tokio::task::spawn_blocking(move || drop(inner))
            .await
            .unwrap();
    }
}

async fn oxsio_pg(pg: &Postgres) -> Node {
    let factory = PostgresAdapter::factory(
        PostgresConfig::new(pg.url()).requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    oxsio_node_with(factory).await
}

async fn js_pg(pg: &Postgres) -> Node {
    js_node_env(0, &[("ADAPTER", "postgres".into()), ("PG_URL", pg.url())]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_in_one_cluster() {
    let pg = Postgres::start().await;
    let ox = oxsio_pg(&pg).await;
    let js = js_pg(&pg).await;
    ox.until_count(2).await;
    js.until_count(2).await;
    matrix_both_ways(&ox, &js, false).await;
    // Over the NOTIFY threshold: through the attachments table, both ways.
    let big = "x".repeat(20_000);
    for (caller, other) in [(&ox, &js), (&js, &ox)] {
        let mut b = peer(other, "client-B", &["big"], Transport::Websocket).await;
        caller
            .op(json!({"kind": "emit", "rooms": ["big"], "event": "big", "args": [big]}))
            .await;
        assert_eq!(
            b.expect("big").await[0].as_str().map(str::len),
            Some(20_000)
        );
        b.socket.disconnect();
    }
    let rows: u64 = pg
        .psql("SELECT count(*) FROM socket_io_attachments")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(rows >= 2, "attachments: {rows}");
    ox.stop().await;
    js.stop().await;
    pg.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_oxsio_nodes() {
    let pg = Postgres::start().await;
    let n1 = oxsio_pg(&pg).await;
    let n2 = oxsio_pg(&pg).await;
    n1.until_count(2).await;
    n2.until_count(2).await;
    matrix_both_ways(&n1, &n2, false).await;
    // A node that leaves says so (ADAPTER_CLOSE): the other counts one.
    n2.stop().await;
    n1.until_count(1).await;
    n1.stop().await;
    pg.stop().await;
}

/// Garbage notifications on the namespace's channel are ignored, and the
/// node keeps working (never sent where a Node peer listens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_notifications_are_ignored() {
    let pg = Postgres::start().await;
    let ox = oxsio_pg(&pg).await;
    let mut a = peer(&ox, "client-A", &["room1"], Transport::Websocket).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for payload in [
        "not json",
        "{\"type\":",
        "[1,2]",
        "{\"type\":3,\"uid\":\"x\",\"nsp\":\"/\"}",
        "{\"type\":7,\"uid\":\"x\",\"nsp\":\"/\",\"data\":{}}",
        "{\"type\":42,\"uid\":\"x\",\"nsp\":\"/\"}",
        "{\"uid\":\"x\",\"type\":3,\"attachmentId\":\"999999\"}",
        "{\"uid\":\"x\",\"type\":3,\"attachmentId\":\"not a number\"}",
    ] {
        let sql = format!(
            "SELECT pg_notify('socket.io#/', '{}')",
            payload.replace('\'', "''")
        );
        assert!(pg.psql(&sql).await.is_some(), "{sql}");
    }
    // An attachment that is not msgpack.
    let id = pg
        .psql("CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea); INSERT INTO socket_io_attachments (payload) VALUES ('\\xc1c1'::bytea) RETURNING id")
        .await
        .unwrap();
    let id = id.lines().last().unwrap().to_string();
    pg.psql(&format!(
        "SELECT pg_notify('socket.io#/', '{{\"uid\":\"x\",\"type\":3,\"attachmentId\":\"{id}\"}}')"
    ))
    .await
    .unwrap();
    ox.op(json!({"kind": "emit", "rooms": ["room1"], "event": "still-alive", "args": []}))
        .await;
    a.expect("still-alive").await;
    ox.stop().await;
    pg.stop().await;
}

/// PostgreSQL restarts under two nodes: broadcasts stay local meanwhile,
/// a request in flight ends at its timeout, nothing crashes, and the
/// cluster heals by itself (publisher and listener reconnect, LISTEN again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_heals_after_a_postgres_restart() {
    let mut pg = Postgres::start().await;
    let n1 = oxsio_pg(&pg).await;
    let n2 = oxsio_pg(&pg).await;
    n1.until_count(2).await;
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(&n2, "client-B", &["room1"], Transport::Websocket).await;
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "before", "args": []}))
        .await;
    a.expect("before").await;
    b.expect("before").await;

    pg.halt().await;
    works_locally_while_down(&n1, &mut a, Duration::from_secs(4)).await;

    pg.restart().await;
    let healed = heals(&n1, &mut a, &mut b, 100).await;
    assert!(
        healed,
        "the cluster did not heal after the PostgreSQL restart"
    );
    n1.stop().await;
    n2.stop().await;
    pg.stop().await;
}
