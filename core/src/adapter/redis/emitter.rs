//! The emitter: publish to a cluster of Socket.IO servers on the classic
//! Redis adapter from a process that is not a server (a worker, a cron
//! job), wire-compatible with `@socket.io/redis-emitter` 5. Node nodes and
//! oxsio nodes both act on what it publishes.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use oxsio::adapter::redis::{Emitter, EmitterConfig};
//! let emitter = Emitter::new(EmitterConfig::new("redis://127.0.0.1:6379"))?;
//! emitter.to("room1").except("room2").emit("news", vec!["hello".into()]).await?;
//! emitter.of("/admin").server_side_emit("reload", vec![]).await?;
//! emitter.in_("room1").sockets_join(["room9"]).await?;
//! emitter.disconnect_sockets(true).await?;
//! # Ok(()) }
//! ```
//!
//! Like Node's emitter: fire and forget (no acknowledgements, no
//! `fetch_sockets`), reserved event names (`connect`, `disconnect`, …) are
//! refused. Unlike it, each call reports whether Redis took the message.
//! The emitter speaks the classic protocol (`PUBLISH`), which servers on the
//! sharded or streams adapters do not hear.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::endpoint::{Conn, Endpoint};
use super::wire::{self, kind, obj};
use crate::adapter::Room;
use crate::{Args, Map, Value};

/// `uid` of every message an emitter publishes (never a node's).
const UID: &str = "emitter";

/// Event names that only Socket.IO itself may emit.
const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Emitter options.
#[derive(Debug, Clone)]
pub struct EmitterConfig {
    /// Redis URL(s): one URL for a single Redis, or the seed nodes of a
    /// Redis Cluster (PUBLISH reaches every node of a cluster).
    pub nodes: Vec<String>,
    /// Treat `nodes` as a Redis Cluster (set by [`EmitterConfig::cluster`]).
    pub cluster: bool,
    /// Key prefix (`key` in Node), default `socket.io`; must match the servers'.
    pub prefix: String,
    /// Bound on connecting and on each publish (default 5 s).
    pub timeout: Duration,
}

impl EmitterConfig {
    /// An emitter publishing to the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        EmitterConfig {
            nodes: vec![url.into()],
            cluster: false,
            prefix: "socket.io".into(),
            timeout: Duration::from_secs(5),
        }
    }

    /// An emitter publishing to the Redis Cluster reachable at `nodes`.
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EmitterConfig {
            nodes: nodes.into_iter().map(Into::into).collect(),
            cluster: true,
            ..EmitterConfig::new("")
        }
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the connect and publish timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
}

/// Why an emitter call failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    /// The configuration is invalid (fix the URL).
    #[error("invalid Redis configuration: {0}")]
    Config(String),
    /// The event name is reserved to Socket.IO; use another name.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// Redis did not take the message (down, or too slow); retry later.
    #[error("Redis publish failed: {0}")]
    Publish(String),
}

struct Inner {
    endpoint: Endpoint,
    config: EmitterConfig,
    conn: OnceCell<Conn>,
}

impl Inner {
    async fn conn(&self) -> Result<Conn, EmitterError> {
        let t = self.config.timeout;
        let connect = self.endpoint.commands(t);
        let init = self.conn.get_or_try_init(|| async {
            match tokio::time::timeout(t, connect).await {
                Ok(r) => r.map_err(|e| EmitterError::Publish(e.to_string())),
                Err(_) => Err(EmitterError::Publish("connection timed out".into())),
            }
        });
        Ok(init.await?.clone())
    }

    async fn publish(&self, channel: String, payload: Vec<u8>) -> Result<(), EmitterError> {
        let mut conn = self.conn().await?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        let call = cmd.query_async::<()>(&mut conn);
        match tokio::time::timeout(self.config.timeout, call).await {
            Ok(r) => r.map_err(|e| EmitterError::Publish(e.to_string())),
            Err(_) => Err(EmitterError::Publish("publish timed out".into())),
        }
    }
}

/// Publishes events and cluster operations for Socket.IO servers on the
/// classic Redis adapter. Cheap to clone; every builder method returns a
/// new emitter with the selection narrowed.
#[derive(Clone)]
pub struct Emitter {
    inner: Arc<Inner>,
    nsp: String,
    rooms: Vec<Room>,
    except: Vec<Room>,
    flags: Map,
}

impl Emitter {
    /// An emitter for namespace `/`.
    ///
    /// # Errors
    /// A URL is not a Redis URL, or no URL is given. Connecting happens on
    /// the first publish.
    pub fn new(config: EmitterConfig) -> Result<Emitter, EmitterError> {
        let endpoint = if config.cluster {
            Endpoint::cluster(&config.nodes)
        } else {
            let url = config
                .nodes
                .first()
                .ok_or_else(|| EmitterError::Config("no Redis URL given".into()))?;
            Endpoint::single(url)
        }
        .map_err(|e| EmitterError::Config(e.0))?;
        Ok(Emitter {
            inner: Arc::new(Inner {
                endpoint,
                config,
                conn: OnceCell::new(),
            }),
            nsp: "/".into(),
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Map::new(),
        })
    }

    /// An emitter for another namespace (a missing leading `/` is added),
    /// with no room selected.
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            inner: self.inner.clone(),
            nsp,
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Map::new(),
        }
    }

    /// The namespace this emitter targets.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    /// Targets the sockets in `room` (cumulative; a socket id is a room).
    pub fn to(&self, room: impl Into<Room>) -> Emitter {
        let mut e = self.clone();
        let room = room.into();
        if !e.rooms.contains(&room) {
            e.rooms.push(room);
        }
        e
    }

    /// Same as [`to`](Emitter::to).
    pub fn in_(&self, room: impl Into<Room>) -> Emitter {
        self.to(room)
    }

    /// Excludes the sockets in `room` (cumulative).
    pub fn except(&self, room: impl Into<Room>) -> Emitter {
        let mut e = self.clone();
        let room = room.into();
        if !e.except.contains(&room) {
            e.except.push(room);
        }
        e
    }

    /// Drops the event for clients that cannot take it now.
    pub fn volatile(&self) -> Emitter {
        let mut e = self.clone();
        e.flags.insert("volatile".into(), Value::Bool(true));
        e
    }

    /// Sets the compress flag the servers pass on to their transports.
    pub fn compress(&self, compress: bool) -> Emitter {
        let mut e = self.clone();
        e.flags.insert("compress".into(), Value::Bool(compress));
        e
    }

    fn rooms_value(rooms: &[Room]) -> Value {
        Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
    }

    fn request_opts(&self) -> Value {
        obj([
            ("rooms", Self::rooms_value(&self.rooms)),
            ("except", Self::rooms_value(&self.except)),
        ])
    }

    fn request_channel(&self) -> String {
        format!("{}-request#{}#", self.inner.config.prefix, self.nsp)
    }

    /// The broadcast as Node's emitter encodes it:
    /// `["emitter", {type: 2, data, nsp}, {rooms, flags, except}]`, msgpack,
    /// and the channel it goes to (the room's own for exactly one room).
    fn broadcast_message(&self, event: &str, args: &Args) -> (String, Vec<u8>) {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::from(event));
        data.extend(args.iter().cloned());
        let packet = obj([
            ("type", Value::from(2)),
            ("data", Value::Array(data)),
            ("nsp", Value::from(self.nsp.as_str())),
        ]);
        let opts = obj([
            ("rooms", Self::rooms_value(&self.rooms)),
            ("flags", Value::Object(self.flags.clone())),
            ("except", Self::rooms_value(&self.except)),
        ]);
        let bytes = wire::to_msgpack(&Value::Array(vec![Value::from(UID), packet, opts]));
        let mut channel = format!("{}#{}#", self.inner.config.prefix, self.nsp);
        if let [room] = self.rooms.as_slice() {
            channel.push_str(room);
            channel.push('#');
        }
        (channel, bytes)
    }

    /// Emits `event` to the selected sockets on every server.
    ///
    /// # Errors
    /// A reserved event name, or Redis did not take the message.
    pub async fn emit(&self, event: &str, args: Args) -> Result<(), EmitterError> {
        if RESERVED.contains(&event) {
            return Err(EmitterError::Reserved(event.to_owned()));
        }
        let (channel, bytes) = self.broadcast_message(event, &args);
        self.inner.publish(channel, bytes).await
    }

    /// Makes the selected sockets join `rooms`, on every server.
    ///
    /// # Errors
    /// Redis did not take the request.
    pub async fn sockets_join<I, R>(&self, rooms: I) -> Result<(), EmitterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.join_leave(kind::REMOTE_JOIN, rooms).await
    }

    /// Makes the selected sockets leave `rooms`, on every server.
    ///
    /// # Errors
    /// Redis did not take the request.
    pub async fn sockets_leave<I, R>(&self, rooms: I) -> Result<(), EmitterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.join_leave(kind::REMOTE_LEAVE, rooms).await
    }

    async fn join_leave<I, R>(&self, ty: u64, rooms: I) -> Result<(), EmitterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        let req = obj([
            ("type", Value::from(ty)),
            ("opts", self.request_opts()),
            ("rooms", Self::rooms_value(&rooms)),
        ]);
        self.inner
            .publish(self.request_channel(), wire::to_json(&req))
            .await
    }

    /// Disconnects the selected sockets on every server (and closes their
    /// connections when `close`).
    ///
    /// # Errors
    /// Redis did not take the request.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        let req = obj([
            ("type", Value::from(kind::REMOTE_DISCONNECT)),
            ("opts", self.request_opts()),
            ("close", Value::Bool(close)),
        ]);
        self.inner
            .publish(self.request_channel(), wire::to_json(&req))
            .await
    }

    /// Sends `event` to the server-side handlers of every server of the
    /// namespace (`io.on(event)` in Node,
    /// [`Namespace::on_server_event`](crate::Namespace::on_server_event) in
    /// oxsio). No acknowledgement, as Node's emitter.
    ///
    /// # Errors
    /// Redis did not take the request.
    pub async fn server_side_emit(&self, event: &str, args: Args) -> Result<(), EmitterError> {
        let mut data = vec![Value::from(event)];
        data.extend(args);
        let req = obj([
            ("uid", Value::from(UID)),
            ("type", Value::from(kind::SERVER_SIDE_EMIT)),
            ("data", Value::Array(data)),
        ]);
        self.inner
            .publish(self.request_channel(), wire::to_json(&req))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Byte-exact with notepack encoding of what `@socket.io/redis-emitter`
    /// 5.1 builds for `emitter.to("room1").emit("chat", "hi")`.
    #[test]
    fn broadcast_is_what_node_emitter_publishes() {
        let e = Emitter::new(EmitterConfig::new("redis://127.0.0.1:1")).unwrap();
        let (channel, bytes) = e
            .to("room1")
            .broadcast_message("chat", &vec![Value::from("hi")]);
        assert_eq!(channel, "socket.io#/#room1#");
        // ["emitter", {type:2, data:["chat","hi"], nsp:"/"}, {rooms:["room1"], flags:{}, except:[]}]
        assert_eq!(
            hex(&bytes),
            "93a7656d697474657283a47479706502a46461746192a463686174a26869a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490"
        );
        let (channel, _) = e.of("admin").broadcast_message("x", &vec![]);
        assert_eq!(channel, "socket.io#/admin#");
    }

    #[test]
    fn requests_are_what_node_emitter_publishes() {
        let e = Emitter::new(EmitterConfig::new("redis://127.0.0.1:1")).unwrap();
        let t = e.to("room1");
        let req = obj([
            ("type", Value::from(kind::REMOTE_JOIN)),
            ("opts", t.request_opts()),
            ("rooms", Emitter::rooms_value(&[Room::from("room9")])),
        ]);
        assert_eq!(
            String::from_utf8(wire::to_json(&req)).unwrap(),
            r#"{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room9"]}"#
        );
        assert_eq!(t.request_channel(), "socket.io-request#/#");
    }
}
