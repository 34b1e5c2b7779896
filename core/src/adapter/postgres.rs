//! The Postgres adapter, wire-compatible with `@socket.io/postgres-adapter`
//! 0.5: socket.io-adapter's `ClusterAdapterWithHeartbeat` messages over
//! `LISTEN`/`NOTIFY`, so oxsio nodes and Node.js nodes on one PostgreSQL
//! form one cluster.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oxsio::adapter::postgres::{PostgresAdapter, PostgresConfig};
//! let config = PostgresConfig::new("postgres://app:secret@127.0.0.1:5432/app");
//! let io = oxsio::Server::builder()
//!     .adapter(PostgresAdapter::factory(config)?)
//!     .build();
//! io.to("room1").emit("chat", "to every node")?;
//! # Ok(()) }
//! ```
//!
//! Wire: each namespace has the channel `<prefix>#<nsp>` (`socket.io#/`);
//! a message is its JSON text in `pg_notify`, unless it carries binary
//! (broadcasts, acks, server-side emits) or its JSON is over
//! `payload_threshold` bytes (8000, under PostgreSQL's NOTIFY limit): then
//! the message, msgpack-encoded, goes to the attachments table
//! (`socket_io_attachments`: `id bigserial, created_at timestamptz,
//! payload bytea`, created if missing) and the notification carries
//! `{uid, type, attachmentId}`. Attachments older than `cleanup_interval`
//! are deleted. Nodes know each other from heartbeats (every 5 s; a node
//! unheard of for 10 s is gone), which gives the node count.
//!
//! Limits, as Node's: `rooms()` lists this node's rooms only; recovery stays
//! per node; requests end at their timeout when a node does not answer;
//! while PostgreSQL is unreachable broadcasts stay local (logged) and the
//! listener reconnects and listens again by itself.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use crate::Value;
use crate::adapter::cluster::{self, ClusterAdapter, Receiver, Transport};
use crate::adapter::codec;
use crate::adapter::{Adapter, AdapterFactory};
use crate::socketio::NsHandle;

/// Postgres adapter options (Node's names in parentheses).
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// Connection string: a URL (`postgres://user:pass@host:port/db`) or
    /// libpq key=value pairs.
    pub url: String,
    /// Channel prefix (`channelPrefix`), default `socket.io`.
    pub channel_prefix: String,
    /// Attachments table (`tableName`), default `socket_io_attachments`.
    pub table_name: String,
    /// Messages whose JSON is longer go through the table
    /// (`payloadThreshold`), default 8000 bytes.
    pub payload_threshold: usize,
    /// Attachments older than this are deleted (`cleanupInterval`), 30 s.
    pub cleanup_interval: Duration,
    /// How long `fetch_sockets` waits for the other nodes (5 s, as Node);
    /// also bounds each query.
    pub requests_timeout: Duration,
}

impl PostgresConfig {
    /// Options for the database at `url`, with Node's defaults.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            channel_prefix: "socket.io".into(),
            table_name: "socket_io_attachments".into(),
            payload_threshold: 8000,
            cleanup_interval: Duration::from_secs(30),
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// Sets the channel prefix.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the attachments table (letters, digits, `_`, and `.` for a schema).
    pub fn table_name(mut self, name: impl Into<String>) -> Self {
        self.table_name = name.into();
        self
    }

    /// Sets the size from which a message goes through the table.
    pub fn payload_threshold(mut self, bytes: usize) -> Self {
        self.payload_threshold = bytes;
        self
    }

    /// Sets how long attachments are kept.
    pub fn cleanup_interval(mut self, d: Duration) -> Self {
        self.cleanup_interval = d;
        self
    }

    /// Sets the request timeout.
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.requests_timeout = d;
        self
    }
}

/// Why the adapter could not be created.
#[derive(Debug, thiserror::Error)]
#[error("invalid Postgres configuration: {0}")]
pub struct PostgresConfigError(String);

type Routes = RwLock<HashMap<String, Weak<dyn Receiver>>>;

enum Cmd {
    Publish(String, Value),
    Cleanup,
}

struct Shared {
    config: PostgresConfig,
    pg: tokio_postgres::Config,
    routes: Routes,
    cmds: mpsc::UnboundedSender<Cmd>,
    listen: mpsc::UnboundedSender<String>,
    rx: Mutex<
        Option<(
            mpsc::UnboundedReceiver<Cmd>,
            mpsc::UnboundedReceiver<String>,
        )>,
    >,
}

/// A connection whose driver runs on its own task; notifications arrive
/// on the returned receiver, which ends when the connection does.
async fn connect(
    shared: &Shared,
) -> Result<
    (
        tokio_postgres::Client,
        mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    ),
    String,
> {
    let t = shared.config.requests_timeout;
    let (client, mut conn) = tokio::time::timeout(t, shared.pg.connect(tokio_postgres::NoTls))
        .await
        .map_err(|_| "connection timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    crate::runtime::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                    let _ = tx.send(n);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "postgres adapter: connection lost");
                    break;
                }
            }
        }
    });
    Ok((client, rx))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Shared {
    fn start(self: &Arc<Self>) {
        let taken = self.rx.lock().ok().and_then(|mut r| r.take());
        if let Some((cmds, listen)) = taken {
            crate::runtime::spawn(publisher(Arc::downgrade(self), cmds));
            crate::runtime::spawn(listener(Arc::downgrade(self), listen));
            let weak = Arc::downgrade(self);
            let every = self.config.cleanup_interval;
            crate::runtime::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(s) = weak.upgrade() else { return };
                    let _ = s.cmds.send(Cmd::Cleanup);
                }
            });
        }
    }

    async fn ensure_table(&self, client: &tokio_postgres::Client) -> Result<(), String> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
            self.config.table_name
        );
        client.batch_execute(&sql).await.map_err(|e| e.to_string())
    }

    /// A message as Node sends it: `Ok(json)`, the notification's payload,
    /// or `Err(msgpack)` when it goes to the attachments table (binary, or
    /// JSON over `payload_threshold`).
    fn payload(&self, msg: &Value) -> Result<String, Vec<u8>> {
        let ty = msg["type"].as_u64().unwrap_or_default();
        let binary = matches!(
            ty,
            cluster::kind::BROADCAST
                | cluster::kind::BROADCAST_ACK
                | cluster::kind::SERVER_SIDE_EMIT
                | cluster::kind::SERVER_SIDE_EMIT_RESPONSE
        ) && msg.has_binary();
        match (!binary).then(|| msg.to_string()) {
            Some(j) if j.len() <= self.config.payload_threshold => Ok(j),
            _ => Err(codec::to_msgpack(msg)),
        }
    }

    /// Sends a message through the attachments table: the msgpack message
    /// in a row, `{uid, type, attachmentId}` in the notification.
    async fn send_attached(
        &self,
        publisher: &Publisher,
        channel: &str,
        msg: &Value,
        bytes: Vec<u8>,
    ) -> Result<(), String> {
        let sql = format!(
            "INSERT INTO {} (payload) VALUES ($1) RETURNING id",
            self.config.table_name
        );
        let row = publisher
            .client
            .query_one(&sql, &[&bytes])
            .await
            .map_err(|e| e.to_string())?;
        let id: i64 = row.get(0);
        // node-pg reads a bigserial as a string: mirror it.
        let mut header = crate::Map::new();
        header.insert("uid".into(), msg["uid"].clone());
        header.insert(
            "type".into(),
            Value::from(msg["type"].as_u64().unwrap_or_default()),
        );
        header.insert("attachmentId".into(), Value::from(id.to_string()));
        let payload = Value::Object(header).to_string();
        publisher
            .client
            .execute(&publisher.notify, &[&channel, &payload])
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The publisher's connection and its prepared `pg_notify` statement.
struct Publisher {
    client: tokio_postgres::Client,
    notify: tokio_postgres::Statement,
}

impl Publisher {
    async fn open(shared: &Shared) -> Result<Publisher, String> {
        let (client, _notifications) = connect(shared).await?;
        shared
            .ensure_table(&client)
            .await
            .map_err(|e| format!("cannot create the attachments table: {e}"))?;
        let notify = client
            .prepare("SELECT pg_notify($1, $2)")
            .await
            .map_err(|e| e.to_string())?;
        Ok(Publisher { client, notify })
    }

    /// Sends notifications in order, pipelined: each is its own statement
    /// (its own transaction, so PostgreSQL never folds two equal ones), all
    /// written before the first reply is awaited (tokio-postgres pipelines
    /// the queries issued concurrently on one client).
    async fn notify_all(&self, batch: &[(String, String)]) -> Result<(), String> {
        let sent = batch.iter().map(|(channel, payload)| {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [channel, payload];
            self.client.execute_raw(&self.notify, params)
        });
        let results = futures_util::future::join_all(sent).await;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(e.to_string()),
            None => Ok(()),
        }
    }
}

/// One step of a publisher batch, run in order.
enum Step {
    /// Consecutive plain notifications, pipelined.
    Notify(Vec<(String, String)>),
    /// A message through the attachments table.
    Attached(String, Value, Vec<u8>),
    Cleanup,
}

/// Runs publishes and cleanups in order on one connection, reconnecting
/// when it breaks (what cannot be sent meanwhile is dropped and logged).
///
/// Woken by a message, it yields once, then takes everything queued: the
/// tasks already runnable on this node (the writers of this node's own
/// deliveries, the handlers of the rest of a burst) run first, and the
/// burst leaves as one pipeline of `pg_notify` statements (one round trip)
/// instead of one round trip each, which let the other nodes receive,
/// and write to their clients, one broadcast at a time (as the Redis
/// adapter's publisher).
async fn publisher(weak: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    const BATCH: usize = 256;
    let mut conn: Option<Publisher> = None;
    while let Some(first) = rx.recv().await {
        tokio::task::yield_now().await;
        let Some(shared) = weak.upgrade() else { return };
        let mut steps: Vec<Step> = Vec::new();
        let mut next = Some(first);
        let mut n = 0;
        while let Some(cmd) = next.take() {
            n += 1;
            match cmd {
                Cmd::Publish(channel, msg) => match shared.payload(&msg) {
                    Ok(json) => match steps.last_mut() {
                        Some(Step::Notify(batch)) => batch.push((channel, json)),
                        _ => steps.push(Step::Notify(vec![(channel, json)])),
                    },
                    Err(bytes) => steps.push(Step::Attached(channel, msg, bytes)),
                },
                Cmd::Cleanup => steps.push(Step::Cleanup),
            }
            if n < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let t = shared.config.requests_timeout;
        for step in steps {
            if conn.as_ref().is_none_or(|p| p.client.is_closed()) {
                conn = match Publisher::open(&shared).await {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::error!(error = %e, "postgres adapter: cannot connect; messages stay local");
                        None
                    }
                };
            }
            let Some(p) = &conn else { continue };
            let r = match step {
                Step::Notify(batch) => tokio::time::timeout(t, p.notify_all(&batch)).await,
                Step::Attached(channel, msg, bytes) => {
                    tokio::time::timeout(t, shared.send_attached(p, &channel, &msg, bytes)).await
                }
                Step::Cleanup => {
                    let sql = format!(
                        "DELETE FROM {} WHERE created_at < now() - interval '{} milliseconds'",
                        shared.config.table_name,
                        shared.config.cleanup_interval.as_millis()
                    );
                    tokio::time::timeout(t, async {
                        p.client
                            .batch_execute(&sql)
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await
                }
            };
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "postgres adapter: publish failed; the message stays local")
                }
                Err(_) => {
                    tracing::error!("postgres adapter: publish timed out; the message stays local");
                    conn = None;
                }
            }
        }
    }
}

/// LISTENs on every namespace's channel (again after each reconnect) and
/// dispatches notifications, fetching attachments.
async fn listener(weak: Weak<Shared>, mut new_channels: mpsc::UnboundedReceiver<String>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let (client, mut notes) = match connect(&shared).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "postgres adapter: cannot connect the listener; retrying");
                drop(shared);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let channels: Vec<String> = shared
            .routes
            .read()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        let mut ok = true;
        for ch in &channels {
            if let Err(e) = client
                .batch_execute(&format!("LISTEN {}", quote_ident(ch)))
                .await
            {
                tracing::error!(error = %e, "postgres adapter: LISTEN failed");
                ok = false;
            }
        }
        drop(shared);
        if ok {
            loop {
                tokio::select! {
                    n = notes.recv() => {
                        let Some(n) = n else { break };
                        // Let the rest of a burst arrive, then hand it all
                        // to the namespaces before the socket writers run,
                        // so that each writes several packets at once.
                        tokio::task::yield_now().await;
                        let Some(shared) = weak.upgrade() else { return };
                        on_notification(&shared, &client, n.channel(), n.payload()).await;
                        while let Ok(n) = notes.try_recv() {
                            on_notification(&shared, &client, n.channel(), n.payload()).await;
                        }
                    }
                    ch = new_channels.recv() => {
                        let Some(ch) = ch else { return };
                        if let Err(e) = client.batch_execute(&format!("LISTEN {}", quote_ident(&ch))).await {
                            tracing::error!(error = %e, "postgres adapter: LISTEN failed");
                            break;
                        }
                    }
                }
            }
        }
        tracing::warn!("postgres adapter: listener lost; reconnecting");
        tokio::time::sleep(backoff).await;
    }
}

async fn on_notification(
    shared: &Shared,
    client: &tokio_postgres::Client,
    channel: &str,
    payload: &str,
) {
    let receiver = shared
        .routes
        .read()
        .ok()
        .and_then(|r| r.get(channel).and_then(Weak::upgrade));
    let Some(receiver) = receiver else { return };
    let msg = match Value::from_json(payload) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(channel, error = %e, "postgres adapter: ignoring an undecodable notification");
            return;
        }
    };
    let Some(id) = attachment_id(&msg["attachmentId"]) else {
        receiver.on_message(msg);
        return;
    };
    if msg["uid"].as_str() == Some(receiver.uid()) {
        return;
    }
    let sql = format!(
        "SELECT payload FROM {} WHERE id = $1",
        shared.config.table_name
    );
    let fetched = tokio::time::timeout(
        shared.config.requests_timeout,
        client.query_opt(&sql, &[&id]),
    )
    .await;
    let bytes: Vec<u8> = match fetched {
        Ok(Ok(Some(row))) => match row.try_get(0) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "postgres adapter: bad attachment");
                return;
            }
        },
        Ok(Ok(None)) => {
            tracing::warn!(id, "postgres adapter: attachment not found (cleaned up?)");
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "postgres adapter: cannot read an attachment");
            return;
        }
        Err(_) => {
            tracing::warn!("postgres adapter: reading an attachment timed out");
            return;
        }
    };
    match codec::from_msgpack(&bytes) {
        Ok(full) => receiver.on_message(full),
        Err(e) => {
            tracing::warn!(error = %e, "postgres adapter: ignoring an undecodable attachment")
        }
    }
}

/// `attachmentId`: a string (node-pg's bigint) or a number.
fn attachment_id(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// The Postgres adapter. Create it through [`PostgresAdapter::factory`].
pub struct PostgresAdapter;

impl PostgresAdapter {
    /// A factory for [`ServerBuilder::adapter`](crate::ServerBuilder::adapter).
    ///
    /// # Errors
    /// An invalid connection string or table name, or a zero cleanup
    /// interval or request timeout. Connecting happens later, in the
    /// background.
    pub fn factory(config: PostgresConfig) -> Result<AdapterFactory, PostgresConfigError> {
        let pg = tokio_postgres::Config::from_str(&config.url)
            .map_err(|e| PostgresConfigError(e.to_string()))?;
        let valid_table = !config.table_name.is_empty()
            && config
                .table_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !config.table_name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_table {
            return Err(PostgresConfigError(format!(
                "table name {:?}: letters, digits, '_' and '.' only",
                config.table_name
            )));
        }
        // Zero would run the cleanup in a loop, or end every request at once.
        if config.cleanup_interval.is_zero() {
            return Err(PostgresConfigError(
                "cleanup_interval must be positive".into(),
            ));
        }
        if config.requests_timeout.is_zero() {
            return Err(PostgresConfigError(
                "requests_timeout must be positive".into(),
            ));
        }
        let (cmds, cmds_rx) = mpsc::unbounded_channel();
        let (listen, listen_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            pg,
            routes: RwLock::new(HashMap::new()),
            cmds,
            listen,
            rx: Mutex::new(Some((cmds_rx, listen_rx))),
        });
        Ok(Arc::new(move |ns: NsHandle| {
            shared.start();
            let nsp = ns
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "/".into());
            let channel = format!("{}#{nsp}", shared.config.channel_prefix);
            let transport = Notify {
                shared: shared.clone(),
                channel: channel.clone(),
            };
            let adapter = ClusterAdapter::new(
                ns,
                nsp,
                cluster::random_id(),
                transport,
                shared.config.requests_timeout,
                true,
            );
            let weak: Weak<dyn Receiver> = Arc::downgrade(&adapter.0) as Weak<dyn Receiver>;
            if let Ok(mut routes) = shared.routes.write() {
                routes.insert(channel.clone(), weak);
            }
            let _ = shared.listen.send(channel);
            adapter.init();
            Arc::new(adapter) as Arc<dyn Adapter>
        }))
    }
}

/// The NOTIFY transport of one namespace: every message and response goes
/// to the namespace's channel.
pub(crate) struct Notify {
    shared: Arc<Shared>,
    channel: String,
}

impl Transport for Notify {
    fn publish(&self, msg: &Value) {
        let _ = self
            .shared
            .cmds
            .send(Cmd::Publish(self.channel.clone(), msg.clone()));
    }

    fn publish_response(&self, _requester: &str, msg: &Value) {
        self.publish(msg);
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        // Counted from heartbeats by the cluster core.
        Box::pin(async { 1 })
    }

    /// Stops dispatching this namespace's notifications.
    fn close(&self) {
        if let Ok(mut routes) = self.shared.routes.write() {
            routes.remove(&self.channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_ids_as_node_pg_sends_them() {
        assert_eq!(attachment_id(&Value::from("42")), Some(42));
        assert_eq!(attachment_id(&Value::from(7)), Some(7));
        assert_eq!(attachment_id(&Value::Null), None);
        assert_eq!(quote_ident("socket.io#/"), "\"socket.io#/\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(
            PostgresAdapter::factory(PostgresConfig::new("postgres://x@127.0.0.1:1/db")).is_ok()
        );
        assert!(
            PostgresAdapter::factory(
                PostgresConfig::new("postgres://x@127.0.0.1:1/db").table_name("t; DROP TABLE x")
            )
            .is_err()
        );
        assert!(PostgresAdapter::factory(PostgresConfig::new("postgres://x@[::1:bad")).is_err());
    }
}
