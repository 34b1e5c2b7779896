//! The benchmark app on oxsio: on connect join room "all"; "echo" → emit
//! back to the sender; "broadcast" → emit to room "all", sender included.
//!
//! Prints `LISTENING <port>` once bound (127.0.0.1, port from `--port`,
//! default 0) and serves until SIGTERM / SIGINT. `--ping-interval-ms` and
//! `--ping-timeout-ms` override the default heartbeat (used by the smoke run).
//! `--recovery-packets N` turns connection state recovery on, replaying at
//! most N packets per session (the recovery scenario).
//! `--metrics` turns the Prometheus metrics on (served at `/metrics`).
//! `--parser msgpack` serves with `socket.io-msgpack-parser`'s packets.
//! `--adapter KIND --adapter-url URL` joins a cluster (the cluster scenarios):
//! `redis` (classic `@socket.io/redis-adapter`, URL of one Redis), `sharded`
//! (`createShardedAdapter`, default `dynamic` mode; URL = the Redis Cluster
//! nodes' URLs, comma-separated) or `postgres` (`@socket.io/postgres-adapter`,
//! a PostgreSQL URL). Without it the server is alone (in-memory adapter).

use std::time::Duration;

use oxsio::adapter::AdapterFactory;
use oxsio::adapter::postgres::{PostgresAdapter, PostgresConfig};
use oxsio::adapter::redis::{
    RedisAdapter, RedisConfig, RedisStreamsAdapter, ShardedConfig, ShardedRedisAdapter,
    StreamsConfig,
};
use oxsio::{Event, Server, Socket};
use tokio::signal::unix::{SignalKind, signal};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn str_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// The adapter of `--adapter KIND --adapter-url URL`. Adding a kind is one
/// more arm here and in `benches/src/cluster.rs`' `AdapterKind`.
fn adapter(kind: &str, url: &str) -> Result<AdapterFactory, String> {
    match kind {
        "redis" => RedisAdapter::factory(RedisConfig::new(url)).map_err(|e| e.to_string()),
        "sharded" => ShardedRedisAdapter::factory(ShardedConfig::new(url.split(',')))
            .map_err(|e| e.to_string()),
        "streams" => {
            RedisStreamsAdapter::factory(StreamsConfig::new(url)).map_err(|e| e.to_string())
        }
        "streams-cluster" => RedisStreamsAdapter::factory(
            StreamsConfig::cluster(url.split(','))
                .stream_count(3)
                .use_sharded_pub_sub(true),
        )
        .map_err(|e| e.to_string()),
        "postgres" => PostgresAdapter::factory(PostgresConfig::new(url)).map_err(|e| e.to_string()),
        _ => Err(format!(
            "unknown adapter {kind:?}: redis, sharded, streams, streams-cluster or postgres"
        )),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut builder = Server::builder();
    if let Some(ms) = arg("--ping-interval-ms") {
        builder = builder.ping_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = arg("--ping-timeout-ms") {
        builder = builder.ping_timeout(Duration::from_millis(ms));
    }
    if let Some(n) = arg("--recovery-packets") {
        builder = builder.connection_state_recovery(oxsio::RecoveryConfig {
            max_packets_per_session: n as usize,
            max_stored_packets: (n as usize).max(100_000),
            ..oxsio::RecoveryConfig::default()
        });
    }
    if std::env::args().any(|a| a == "--metrics") {
        builder = builder.metrics("/metrics");
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--parser") {
        let name = args.get(i + 1).map(String::as_str).unwrap_or_default();
        let Some(parser) = oxsio::codec::Parser::from_name(name) else {
            eprintln!("--parser {name:?}: default or msgpack");
            std::process::exit(2);
        };
        builder = builder.parser(parser);
    }
    if let Some(kind) = str_arg("--adapter") {
        let url = str_arg("--adapter-url").unwrap_or_default();
        match adapter(&kind, &url) {
            Ok(factory) => builder = builder.adapter(factory),
            Err(e) => {
                eprintln!("--adapter {kind}: {e}");
                std::process::exit(2);
            }
        }
    }
    let io = builder.build();
    let root = io.of("/");
    let all = root.clone();
    root.on_connection(move |socket: Socket| {
        if !socket.recovered() {
            socket.join("all");
        }
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        let all = all.clone();
        socket.on("broadcast", move |ev: Event| {
            let _ = all.to("all").emit("broadcast", ev.args);
        });
    });
    let port = arg("--port").unwrap_or(0);
    let handle = io.listen(("127.0.0.1", port as u16)).await?;
    println!("LISTENING {}", handle.local_addr().port());
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    handle.shutdown().await;
    Ok(())
}
