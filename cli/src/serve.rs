//! `oxsio serve`: an echo / chat server. On `/` it answers the events of
//! tests/interop/APP.md that a terminal user wants (so `listen`, `emit` and
//! `bench` behave the same against it and against the Node reference app):
//!
//! - on connection: joins room `all` (and `auth.room` if given), emits
//!   `welcome` `{"sid", "auth"}`;
//! - `echo` (…args) → `echo` back to the sender; `echo-ack` (…args, ack) → ack(…args);
//! - `join` / `leave` (room, ack) → ack("joined"/"left", room);
//! - `to-room` (room, event, data) → that room gets `event(data)`;
//! - `broadcast` (event, data) → everyone else gets `event(data)`;
//! - `chat` (text) → everyone else gets `chat` `{"from": sid, "text"}`.

use std::time::Duration;

use oxsio::{Event, Server, Socket, Value};

use crate::Failure;
use crate::conn::stop_signal;

/// `oxsio serve` options.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 picks a free one; the bound port is printed).
    #[arg(long, short = 'p', default_value_t = 3000)]
    port: u16,
    /// Engine.IO path.
    #[arg(long, default_value = "/socket.io/")]
    path: String,
    /// Allow cross-origin requests from this origin (repeatable; "*" for any).
    #[arg(long, value_name = "ORIGIN")]
    cors: Vec<String>,
    /// Let those origins send credentials (Access-Control-Allow-Credentials),
    /// as the admin UI's page does; needs --cors with origins, not "*".
    #[arg(long, requires = "cors")]
    cors_credentials: bool,
    /// Allowed transports (repeatable; default both).
    #[arg(long, value_enum)]
    transport: Vec<ServeTransport>,
    /// Ping interval in milliseconds.
    #[arg(long, default_value_t = 25_000)]
    ping_interval_ms: u64,
    /// Ping timeout in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    ping_timeout_ms: u64,
    /// Serve https / wss with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by these CAs (PEM); needs --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<std::path::PathBuf>,
    /// Join a cluster through one Redis (@socket.io/redis-adapter `createAdapter`),
    /// e.g. redis://127.0.0.1:6379.
    #[arg(long, value_name = "URL", group = "adapter")]
    redis: Option<String>,
    /// Join a cluster through a Redis 7 Cluster with sharded Pub/Sub
    /// (@socket.io/redis-adapter `createShardedAdapter`); repeat for more seed nodes.
    #[arg(long, value_name = "URL", group = "adapter")]
    redis_sharded: Vec<String>,
    /// Subscription mode of --redis-sharded; every node of the cluster must use the same.
    #[arg(long, value_enum, requires = "redis_sharded")]
    subscription_mode: Option<SubscriptionModeArg>,
    /// Join a cluster through Redis streams (@socket.io/redis-streams-adapter),
    /// which also recovers sessions across nodes with --recovery. With
    /// --redis-cluster, the seed URLs of a Redis Cluster (repeat for more).
    #[arg(long, value_name = "URL", group = "adapter")]
    redis_streams: Vec<String>,
    /// The --redis-streams URLs are seeds of a Redis Cluster.
    #[arg(long, requires = "redis_streams")]
    redis_cluster: bool,
    /// Requests and responses of --redis-streams over sharded Pub/Sub
    /// (Node's useShardedPubSub); needs --redis-cluster.
    #[arg(long, requires = "redis_cluster")]
    sharded_pub_sub: bool,
    /// Stream key of --redis-streams (default socket.io).
    #[arg(long, value_name = "NAME", requires = "redis_streams")]
    stream_name: Option<String>,
    /// Number of streams of --redis-streams (default 1); the same on every node.
    #[arg(long, value_name = "N", requires = "redis_streams")]
    stream_count: Option<usize>,
    /// Approximate length each stream keeps (MAXLEN ~; default 10000): it
    /// bounds how far back a session can be recovered.
    #[arg(long, value_name = "N", requires = "redis_streams")]
    stream_max_len: Option<usize>,
    /// Entries per XREAD of --redis-streams (default 100).
    #[arg(long, value_name = "N", requires = "redis_streams")]
    stream_read_count: Option<usize>,
    /// How long one XREAD of --redis-streams blocks, in milliseconds (default 5000).
    #[arg(long, value_name = "MS", requires = "redis_streams")]
    stream_block_ms: Option<u64>,
    /// Key prefix of the sessions --redis-streams stores for recovery (default sio:session:).
    #[arg(long, value_name = "PREFIX", requires = "redis_streams")]
    session_key_prefix: Option<String>,
    /// Every stream entry of --redis-streams as JSON, binary included (Node's onlyPlaintext).
    #[arg(long, requires = "redis_streams")]
    stream_only_plaintext: bool,
    /// Join a cluster through PostgreSQL LISTEN/NOTIFY (@socket.io/postgres-adapter),
    /// e.g. postgres://user@127.0.0.1:5432/db.
    #[arg(long, value_name = "URL", group = "adapter")]
    postgres: Option<String>,
    /// Table of the Postgres adapter's attachments (payloads with binary or over the NOTIFY limit).
    #[arg(long, value_name = "NAME", requires = "postgres")]
    postgres_table: Option<String>,
    /// Messages of --postgres whose JSON is longer than this many bytes go
    /// through the attachments table (default 8000, under NOTIFY's limit).
    #[arg(long, value_name = "BYTES", requires = "postgres")]
    postgres_payload_threshold: Option<usize>,
    /// Attachments of --postgres older than this are deleted, in milliseconds (default 30000).
    #[arg(long, value_name = "MS", requires = "postgres")]
    postgres_cleanup_ms: Option<u64>,
    /// Key / channel prefix of the adapter (default socket.io, as Node's adapters).
    #[arg(
        long,
        alias = "redis-prefix",
        value_name = "PREFIX",
        requires = "adapter"
    )]
    adapter_prefix: Option<String>,
    /// How long a cluster request (fetchSockets, serverSideEmit with ack, …) waits
    /// for the other nodes, in milliseconds (default 5000).
    #[arg(long, value_name = "MS", requires = "adapter")]
    adapter_timeout_ms: Option<u64>,
    /// Connection state recovery: a client that lost its connection for at
    /// most this many milliseconds gets its id, rooms and missed events back
    /// (Node's connectionStateRecovery.maxDisconnectionDuration; 120000 is
    /// Node's default). Off without it.
    #[arg(long, value_name = "MS")]
    recovery: Option<u64>,
    /// Serve Prometheus metrics at this path (e.g. /metrics).
    #[arg(long, value_name = "PATH")]
    metrics: Option<String>,
    /// Serve the Socket.IO Admin UI protocol on this namespace (e.g. /admin);
    /// needs --admin-user and --admin-password-hash, or --admin-no-auth.
    #[arg(long, value_name = "NAMESPACE")]
    admin_ui: Option<String>,
    /// Admin UI login name.
    #[arg(long, value_name = "NAME", requires_all = ["admin_ui", "admin_password_hash"])]
    admin_user: Option<String>,
    /// bcrypt hash of the admin UI password (e.g. `htpasswd -nbBC 10 "" PASSWORD`, without the leading colon).
    #[arg(long, value_name = "HASH", requires = "admin_user")]
    admin_password_hash: Option<String>,
    /// Admin UI without a login: anyone who reaches the server may connect to it.
    #[arg(long, requires = "admin_ui", conflicts_with = "admin_user")]
    admin_no_auth: bool,
    /// Admin UI in read-only mode (no join, leave, emit, disconnect commands).
    #[arg(long, requires = "admin_ui")]
    admin_read_only: bool,
    /// Admin UI mode: production sends stats only; development also every socket, room and event.
    #[arg(long, value_enum, default_value = "development", requires = "admin_ui")]
    admin_mode: AdminModeArg,
    /// This server's id in the admin UI (default: the host name).
    #[arg(long, value_name = "ID", requires = "admin_ui")]
    admin_server_id: Option<String>,
    /// Print connections and disconnections on stderr.
    #[arg(long, short = 'v')]
    verbose: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
enum AdminModeArg {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
enum SubscriptionModeArg {
    Static,
    Dynamic,
    DynamicPrivate,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
enum ServeTransport {
    Polling,
    Websocket,
}

/// The adapter the flags ask for, if any.
fn adapter(a: &Args) -> Result<Option<oxsio::adapter::AdapterFactory>, Failure> {
    use oxsio::adapter::{postgres, redis};
    let timeout = a.adapter_timeout_ms.map(Duration::from_millis);
    if let Some(url) = &a.redis {
        let mut cfg = redis::RedisConfig::new(url.clone());
        if let Some(p) = &a.adapter_prefix {
            cfg = cfg.prefix(p.clone());
        }
        if let Some(t) = timeout {
            cfg = cfg.requests_timeout(t);
        }
        return redis::RedisAdapter::factory(cfg)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--redis {url}: {e}")));
    }
    if !a.redis_sharded.is_empty() {
        let mut cfg = redis::ShardedConfig::new(a.redis_sharded.iter().cloned());
        if let Some(p) = &a.adapter_prefix {
            cfg = cfg.channel_prefix(p.clone());
        }
        if let Some(t) = timeout {
            cfg = cfg.requests_timeout(t);
        }
        if let Some(m) = a.subscription_mode {
            cfg = cfg.subscription_mode(match m {
                SubscriptionModeArg::Static => redis::SubscriptionMode::Static,
                SubscriptionModeArg::Dynamic => redis::SubscriptionMode::Dynamic,
                SubscriptionModeArg::DynamicPrivate => redis::SubscriptionMode::DynamicPrivate,
            });
        }
        return redis::ShardedRedisAdapter::factory(cfg)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--redis-sharded: {e}")));
    }
    if !a.redis_streams.is_empty() {
        let mut cfg = match (a.redis_cluster, a.redis_streams.as_slice()) {
            (true, nodes) => redis::StreamsConfig::cluster(nodes.iter().cloned())
                .use_sharded_pub_sub(a.sharded_pub_sub),
            (false, [url]) => redis::StreamsConfig::new(url.clone()),
            (false, _) => {
                return Err(Failure::usage(
                    "several --redis-streams URLs are the seeds of a Redis Cluster: add --redis-cluster"
                        .to_owned(),
                ));
            }
        };
        if let Some(p) = &a.adapter_prefix {
            cfg = cfg.channel_prefix(p.clone());
        }
        if let Some(t) = timeout {
            cfg = cfg.requests_timeout(t);
        }
        if let Some(n) = &a.stream_name {
            cfg = cfg.stream_name(n.clone());
        }
        if let Some(n) = a.stream_count {
            cfg = cfg.stream_count(n);
        }
        if let Some(n) = a.stream_max_len {
            cfg = cfg.max_len(n);
        }
        if let Some(n) = a.stream_read_count {
            cfg = cfg.read_count(n);
        }
        if let Some(ms) = a.stream_block_ms {
            cfg = cfg.block_time(Duration::from_millis(ms));
        }
        if let Some(p) = &a.session_key_prefix {
            cfg = cfg.session_key_prefix(p.clone());
        }
        cfg = cfg.only_plaintext(a.stream_only_plaintext);
        return redis::RedisStreamsAdapter::factory(cfg)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--redis-streams: {e}")));
    }
    if let Some(url) = &a.postgres {
        let mut cfg = postgres::PostgresConfig::new(url.clone());
        if let Some(p) = &a.adapter_prefix {
            cfg = cfg.channel_prefix(p.clone());
        }
        if let Some(t) = timeout {
            cfg = cfg.requests_timeout(t);
        }
        if let Some(table) = &a.postgres_table {
            cfg = cfg.table_name(table.clone());
        }
        if let Some(n) = a.postgres_payload_threshold {
            cfg = cfg.payload_threshold(n);
        }
        if let Some(ms) = a.postgres_cleanup_ms {
            cfg = cfg.cleanup_interval(Duration::from_millis(ms));
        }
        return postgres::PostgresAdapter::factory(cfg)
            .map(Some)
            .map_err(|e| Failure::usage(format!("--postgres: {e}")));
    }
    Ok(None)
}

pub(crate) async fn run(a: Args) -> Result<(), Failure> {
    let mut b = Server::builder()
        .path(a.path.clone())
        .ping_interval(Duration::from_millis(a.ping_interval_ms.max(1)))
        .ping_timeout(Duration::from_millis(a.ping_timeout_ms.max(1)));
    if !a.transport.is_empty() {
        b = b.transports(a.transport.iter().map(|t| match t {
            ServeTransport::Polling => oxsio::Transport::Polling,
            ServeTransport::Websocket => oxsio::Transport::Websocket,
        }));
    }
    if !a.cors.is_empty() {
        let origins = if a.cors.iter().any(|o| o == "*") {
            oxsio::AllowOrigin::Any
        } else {
            oxsio::AllowOrigin::List(a.cors.clone())
        };
        if a.cors_credentials && matches!(origins, oxsio::AllowOrigin::Any) {
            return Err(Failure::usage(
                "--cors-credentials needs --cors with origins, not \"*\"",
            ));
        }
        b = b.cors(oxsio::Cors {
            origins,
            credentials: a.cors_credentials,
        });
    }
    if let Some(factory) = adapter(&a)? {
        b = b.adapter(factory);
    }
    if let Some(ms) = a.recovery {
        if ms == 0 {
            return Err(Failure::usage("--recovery must be at least 1 ms"));
        }
        b = b.connection_state_recovery(oxsio::RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(ms),
            ..oxsio::RecoveryConfig::default()
        });
    }
    if let Some(path) = &a.metrics {
        if !path.starts_with('/') {
            return Err(Failure::usage(format!(
                "--metrics {path:?} must start with '/'"
            )));
        }
        b = b.metrics(path.clone());
    }
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            let mut t = oxsio::tls::TlsConfig::builder()
                .cert_chain_file(cert)
                .key_file(key);
            if let Some(ca) = &a.tls_client_ca {
                t = t.client_ca_file(ca);
            }
            Some(t.build().map_err(|e| Failure::usage(format!("TLS: {e}")))?)
        }
        _ => None,
    };
    let io = b.build();
    install(&io, a.verbose);
    if let Some(ns) = &a.admin_ui {
        let opts = match (&a.admin_user, &a.admin_password_hash) {
            (Some(user), Some(hash)) => oxsio::admin::AdminUiOptions::with_auth(user, hash),
            _ if a.admin_no_auth => oxsio::admin::AdminUiOptions::without_auth(),
            _ => {
                return Err(Failure::usage(
                    "--admin-ui needs --admin-user and --admin-password-hash, or --admin-no-auth",
                ));
            }
        };
        let mut opts = opts
            .namespace(ns.clone())
            .read_only(a.admin_read_only)
            .mode(match a.admin_mode {
                AdminModeArg::Development => oxsio::admin::AdminMode::Development,
                AdminModeArg::Production => oxsio::admin::AdminMode::Production,
            });
        if let Some(id) = &a.admin_server_id {
            opts = opts.server_id(id.clone());
        }
        io.instrument(opts)
            .map_err(|e| Failure::usage(format!("--admin-ui: {e}")))?;
    }
    let addr = (a.host.as_str(), a.port);
    let handle = match &tls {
        Some(t) => io.listen_tls(addr, t.clone()).await,
        None => io.listen(addr).await,
    }
    .map_err(|e| Failure::run(format!("cannot listen on {}:{}: {e}", a.host, a.port)))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "listening on {scheme}://{} (path {})",
        handle.local_addr(),
        io.config().path
    );
    stop_signal().notified().await;
    eprintln!("oxsio: shutting down");
    handle.shutdown().await;
    Ok(())
}

fn install(io: &Server, verbose: bool) {
    let root = io.of("/");
    io.on_connection(move |socket: Socket| {
        socket.join("all");
        let auth = socket.handshake().auth.clone();
        if let Some(room) = auth["room"].as_str() {
            socket.join(room);
        }
        if verbose {
            eprintln!("connect {}", socket.id());
            socket.on_disconnect(|s: &Socket, reason| {
                eprintln!("disconnect {} ({})", s.id(), reason.as_str());
            });
        }
        let mut welcome = oxsio::Map::new();
        welcome.insert("sid".into(), Value::from(socket.id().as_str()));
        welcome.insert("auth".into(), auth);
        let _ = socket.emit("welcome", Value::Object(welcome));
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        socket.on("echo-ack", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
        socket.on("join", |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default().to_owned();
            if !room.is_empty() {
                ev.socket.join(room.as_str());
            }
            if let Some(ack) = ev.ack {
                let _ = ack.send(("joined", room));
            }
        });
        socket.on("leave", |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default().to_owned();
            ev.socket.leave(&room);
            if let Some(ack) = ev.ack {
                let _ = ack.send(("left", room));
            }
        });
        let ns = root.clone();
        socket.on("to-room", move |ev: Event| {
            // The whole room, the sender included when in it.
            if let (Some(room), Some(event)) = (ev.arg(0).as_str(), ev.arg(1).as_str()) {
                let _ = ns.to(room).emit(event, ev.arg(2).clone());
            }
        });
        socket.on("broadcast", |ev: Event| {
            if let Some(event) = ev.arg(0).as_str() {
                let _ = ev.socket.broadcast().emit(event, ev.arg(1).clone());
            }
        });
        socket.on("chat", |ev: Event| {
            let mut m = oxsio::Map::new();
            m.insert("from".into(), Value::from(ev.socket.id().as_str()));
            m.insert("text".into(), ev.arg(0).clone());
            let _ = ev.socket.broadcast().emit("chat", Value::Object(m));
        });
    });
}
