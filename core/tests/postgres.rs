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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::cluster::*;
use oxsio::Transport;
use oxsio::adapter::postgres::{PostgresAdapter, PostgresConfig};
use serde_json::json;
use tokio::process::{Child, Command};

/// PostgreSQL's programs, from PATH or the Debian package's directory.
fn pg_bin(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    for v in ["17", "16", "15", "14", "13"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}"));
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found (apt-get install postgresql; tests/run-all.sh does)");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root); `setpriv` execs, so the PID is PostgreSQL's.
fn as_pg_user(program: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

struct Postgres {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Postgres {
    async fn start() -> Postgres {
        Postgres::start_on(free_port(), true).await
    }

    /// Starts PostgreSQL on `port`; with `init`, in a new data directory,
    /// else again on the one a previous start on that port made.
    async fn start_on(port: u16, init: bool) -> Postgres {
        let dir = std::env::temp_dir().join(format!("oxsio-pg-{}-{port}", std::process::id()));
        if !init {
            return Postgres::run(port, dir).await;
        }
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .await
                .unwrap();
            assert!(st.success());
        }
        let data = dir.join("data");
        let out = as_pg_user(pg_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Postgres::run(port, dir).await
    }

    async fn run(port: u16, dir: PathBuf) -> Postgres {
        let data = dir.join("data");
        let child = as_pg_user(pg_bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pg = Postgres { child, port, dir };
        for _ in 0..400 {
            if pg.psql("SELECT 1").await.is_some() {
                return pg;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postgres did not start");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with psql; its output, or None when it failed.
    async fn psql(&self, sql: &str) -> Option<String> {
        let out = Command::new("psql")
            .arg(self.url())
            .args(["-tA", "-c", sql])
            .output()
            .await
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Fast shutdown (SIGINT), by PID; the data directory stays.
    async fn halt(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
    }

    /// Fast shutdown, and the data directory removed.
    async fn stop(mut self) {
        self.halt().await;
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// Nodes learn of each other from heartbeats (at most 5 s apart).
async fn until_count(node: &Node, n: u64) {
    for _ in 0..150 {
        if node.op(json!({"kind": "count"})).await["count"] == json!(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never counted {n} nodes", node.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_node_js_in_one_cluster() {
    let pg = Postgres::start().await;
    let ox = oxsio_pg(&pg).await;
    let js = js_pg(&pg).await;
    until_count(&ox, 2).await;
    until_count(&js, 2).await;
    for transport in [Transport::Websocket, Transport::Polling] {
        matrix(&ox, &js, transport, false).await;
        matrix(&js, &ox, transport, false).await;
    }
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
    until_count(&n1, 2).await;
    until_count(&n2, 2).await;
    for transport in [Transport::Websocket, Transport::Polling] {
        matrix(&n1, &n2, transport, false).await;
        matrix(&n2, &n1, transport, false).await;
    }
    // A node that leaves says so (ADAPTER_CLOSE): the other counts one.
    n2.stop().await;
    until_count(&n1, 1).await;
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
    let port = pg.port;
    let n1 = oxsio_pg(&pg).await;
    let n2 = oxsio_pg(&pg).await;
    until_count(&n1, 2).await;
    let mut a = peer(&n1, "client-A", &["room1"], Transport::Websocket).await;
    let mut b = peer(&n2, "client-B", &["room1"], Transport::Websocket).await;
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "before", "args": []}))
        .await;
    a.expect("before").await;
    b.expect("before").await;

    pg.halt().await;
    n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "down", "args": []}))
        .await;
    a.expect("down").await;
    let started = std::time::Instant::now();
    let fetched = n1.op(json!({"kind": "fetch"})).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "fetch took {:?}",
        started.elapsed()
    );
    assert!(!fetched["sockets"].as_array().unwrap().is_empty());

    let pg = Postgres::start_on(port, false).await;
    let mut healed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        n1.op(json!({"kind": "emit", "rooms": ["room1"], "event": "after", "args": []}))
            .await;
        a.expect("after").await;
        if let Ok(Some((ev, _))) =
            tokio::time::timeout(Duration::from_millis(200), b.rx.recv()).await
        {
            if ev != "after" {
                continue;
            }
            healed = true;
            break;
        }
    }
    assert!(
        healed,
        "the cluster did not heal after the PostgreSQL restart"
    );
    n1.stop().await;
    n2.stop().await;
    pg.stop().await;
}
