#![allow(clippy::unwrap_used)]
//! The Socket.IO Admin UI protocol (`Server::instrument`) seen by a client
//! of the admin namespace: login, config, stats, sockets, rooms, events,
//! commands, and the bad input (wrong password, read-only, malformed
//! commands). The comparison with Node's `instrument` is `admin_interop.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use oxsio::admin::{AdminMode, AdminUiOptions, InstrumentError};
use oxsio::client::{ClientBuilder, ClientError, ClientSocket, Reconnection};
use oxsio::{Event, Server, ServerHandle, Socket, Transport, Value};
use serde_json::json;
use tokio::sync::mpsc;

/// Every wait is bounded; generous, as a loaded machine runs these too.
const STEP: Duration = Duration::from_secs(30);
const USER: &str = "admin";
const PASSWORD: &str = "s3cret";

/// The admin UI's events, as the UI registers them.
const ADMIN_EVENTS: [&str; 11] = [
    "session",
    "config",
    "server_stats",
    "all_sockets",
    "socket_connected",
    "socket_updated",
    "socket_disconnected",
    "room_joined",
    "room_left",
    "event_received",
    "event_sent",
];

fn no_reconnection() -> Reconnection {
    Reconnection {
        enabled: false,
        ..Reconnection::default()
    }
}

fn hash() -> String {
    bcrypt::hash(PASSWORD, 4).unwrap()
}

/// An app on `/`: `join` (room, ack), `leave` (room, ack), `ping` → `pong`,
/// `set-score` (n) stores it in the socket's data.
fn app() -> Server {
    let io = Server::new();
    io.on_connection(|socket: Socket| {
        socket.on("join", |ev: Event| {
            ev.socket.join(ev.arg(0).as_str().unwrap_or("x"));
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
        socket.on("leave", |ev: Event| {
            ev.socket.leave(ev.arg(0).as_str().unwrap_or("x"));
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
        socket.on("ping", |ev: Event| {
            let _ = ev.socket.emit("pong", ev.args);
        });
        socket.on("set-score", |ev: Event| {
            let n = ev.arg(0).clone();
            ev.socket.update_data(|d| {
                if let Value::Object(m) = d {
                    m.insert("score".into(), n);
                }
            });
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
    });
    io
}

async fn start(opts: AdminUiOptions) -> (Server, ServerHandle, String) {
    let io = app();
    io.instrument(opts).unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", handle.local_addr());
    (io, handle, url)
}

fn dev_opts() -> AdminUiOptions {
    AdminUiOptions::with_auth(USER, hash())
        .server_id("node-a")
        .stats_interval(Duration::from_millis(300))
}

/// Everything an admin socket receives, in order.
struct Recorder {
    rx: mpsc::UnboundedReceiver<(String, Vec<Value>)>,
    seen: Vec<(String, Vec<Value>)>,
}

impl Recorder {
    /// Waits for the next `event` whose arguments pass `pred`.
    async fn wait(&mut self, event: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        if let Some(i) = self.seen.iter().position(|(n, a)| n == event && pred(a)) {
            return self.seen.remove(i).1;
        }
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let next = tokio::time::timeout_at(deadline, self.rx.recv()).await;
            match next {
                Ok(Some((n, a))) if n == event && pred(&a) => return a,
                Ok(Some(other)) => self.seen.push(other),
                Ok(None) => panic!("admin socket closed while waiting for {event}"),
                Err(_) => panic!(
                    "no {event} in time; got {:?}",
                    self.seen
                        .iter()
                        .map(|(n, a)| format!("{n} {}", Value::Array(a.clone()).to_json()))
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Takes the `server_stats` in the order they came until `done` holds
    /// over all those taken; returns them.
    async fn stats_until(&mut self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut taken = Vec::new();
        let deadline = tokio::time::Instant::now() + STEP;
        while tokio::time::Instant::now() < deadline {
            let s = self.wait("server_stats", |_| true).await;
            taken.push(s[0].clone());
            if done(&taken) {
                return taken;
            }
        }
        panic!(
            "the stats never showed it; got {}",
            Value::Array(taken).to_json()
        );
    }

    /// Forgets what arrived so far (the next wait sees newer events only).
    fn clear(&mut self) {
        self.seen.clear();
        while self.rx.try_recv().is_ok() {}
    }

    /// True when no `event` passing `pred` arrives within `d`.
    async fn none_within(
        &mut self,
        d: Duration,
        event: &str,
        pred: impl Fn(&[Value]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.seen.push(e);
        }
        !self.seen.iter().any(|(n, a)| n == event && pred(a))
    }
}

async fn admin_client(
    url: &str,
    auth: serde_json::Value,
) -> Result<(ClientSocket, Recorder), ClientError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut b = ClientBuilder::new(format!("{url}/admin"))
        .auth(auth)
        .reconnection(no_reconnection())
        .connect_timeout(STEP);
    for name in ADMIN_EVENTS {
        let tx = tx.clone();
        b = b.on(name, move |ev| {
            let _ = tx.send((ev.name.clone(), ev.args.clone()));
        });
    }
    let socket = b.connect().await?;
    Ok((
        socket,
        Recorder {
            rx,
            seen: Vec::new(),
        },
    ))
}

async fn login(url: &str) -> (ClientSocket, Recorder) {
    admin_client(url, json!({"username": USER, "password": PASSWORD}))
        .await
        .unwrap()
}

async fn app_client(url: &str, transports: &[Transport]) -> ClientSocket {
    ClientBuilder::new(url)
        .transports(transports.iter().copied())
        .reconnection(no_reconnection())
        .connect()
        .await
        .unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn is_iso_date(v: &Value) -> bool {
    let t = s(v);
    t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T'
}

fn features(config: &[Value]) -> Vec<String> {
    config[0]["supportedFeatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(f).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_then_sockets_rooms_events_and_stats() {
    let (io, handle, url) = start(dev_opts()).await;
    // A socket connected before the admin UI.
    let early = app_client(&url, &[Transport::Websocket]).await;
    early.emit_with_ack("join", "early-room").await.unwrap();
    let early_id = early.id().unwrap();

    let (_admin, mut rec) = login(&url).await;
    let session = rec.wait("session", |_| true).await;
    assert_eq!(s(&session[0]).len(), 16, "{session:?}");
    let config = rec.wait("config", |_| true).await;
    assert_eq!(
        features(&config),
        [
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
            "AGGREGATED_EVENTS",
            "ALL_EVENTS"
        ]
    );
    let all = rec.wait("all_sockets", |_| true).await;
    let all = all[0].as_array().unwrap();
    let early_seen = all
        .iter()
        .find(|x| s(&x["id"]) == early_id)
        .expect("the early socket in all_sockets");
    assert_eq!(early_seen["nsp"], Value::from("/"));
    assert_eq!(early_seen["transport"], Value::from("websocket"));
    assert_eq!(s(&early_seen["clientId"]).len(), 12);
    let rooms: Vec<&str> = early_seen["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(rooms[0], early_id, "own room first");
    assert!(rooms.contains(&"early-room"), "{rooms:?}");
    let hs = &early_seen["handshake"];
    for key in [
        "address", "headers", "query", "issued", "secure", "time", "url", "xdomain",
    ] {
        assert!(hs.as_object().unwrap().contains_key(key), "{key} in {hs:?}");
    }
    assert_eq!(hs["address"], Value::from("127.0.0.1"));
    assert!(
        all.iter().any(|x| x["nsp"] == Value::from("/admin")),
        "the admin socket itself is listed"
    );

    // A new socket: room_joined (own room), socket_connected.
    let c = app_client(&url, &[Transport::Websocket]).await;
    let cid = c.id().unwrap();
    let joined = rec
        .wait("room_joined", |a| s(&a[1]) == cid && s(&a[2]) == cid)
        .await;
    assert_eq!(joined[0], Value::from("/"));
    assert!(is_iso_date(&joined[3]), "{joined:?}");
    let connected = rec
        .wait("socket_connected", |a| s(&a[0]["id"]) == cid)
        .await;
    assert!(is_iso_date(&connected[1]));
    assert_eq!(connected[0]["data"], Value::from(json!({})));

    // Its events, both ways, and a room.
    c.emit_with_ack("join", "lobby").await.unwrap();
    let received = rec
        .wait("event_received", |a| {
            s(&a[1]) == cid && a[2][0] == Value::from("join")
        })
        .await;
    assert_eq!(received[0], Value::from("/"));
    assert_eq!(received[2], Value::from(json!(["join", "lobby"])));
    rec.wait("room_joined", |a| s(&a[1]) == "lobby" && s(&a[2]) == cid)
        .await;
    c.emit("ping", (1, "two")).unwrap();
    let sent = rec
        .wait("event_sent", |a| {
            s(&a[1]) == cid && a[2][0] == Value::from("pong")
        })
        .await;
    assert_eq!(sent[2], Value::from(json!(["pong", 1, "two"])));
    c.emit_with_ack("leave", "lobby").await.unwrap();
    rec.wait("room_left", |a| s(&a[1]) == "lobby" && s(&a[2]) == cid)
        .await;

    // Data changes.
    c.emit_with_ack("set-score", 42).await.unwrap();
    let updated = rec
        .wait("socket_updated", |a| {
            s(&a[0]["id"]) == cid && !a[0]["data"].is_null()
        })
        .await;
    assert_eq!(updated[0]["data"], Value::from(json!({"score": 42})));
    assert_eq!(updated[0]["nsp"], Value::from("/"));

    // Stats.
    // Stats once both app sockets and the admin socket are in (earlier ones
    // may still be queued), and packets counted in.
    let all_in = |st: &Value| {
        st["clientsCount"] == Value::from(3u64)
            && st["namespaces"].as_array().is_some_and(|n| {
                n.iter().any(|x| {
                    x["name"] == Value::from("/") && x["socketsCount"] == Value::from(2u64)
                })
            })
    };
    let has = |st: &Value, ty: &str| {
        st["aggregatedEvents"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["type"] == Value::from(ty)))
    };
    let taken = rec
        .stats_until(|t| t.iter().any(all_in) && t.iter().any(|x| has(x, "packetsIn")))
        .await;
    let st = taken.iter().find(|x| all_in(x)).unwrap();
    assert_eq!(st["serverId"], Value::from("node-a"));
    assert_eq!(st["pid"], Value::from(std::process::id()));
    assert!(!s(&st["hostname"]).is_empty());
    assert!(st["uptime"].as_f64().unwrap() >= 0.0);
    assert_eq!(st["clientsCount"], Value::from(3u64));
    let namespaces = st["namespaces"].as_array().unwrap();
    let count_of = |name: &str| {
        namespaces
            .iter()
            .find(|n| n["name"] == Value::from(name))
            .map(|n| n["socketsCount"].clone())
    };
    assert_eq!(count_of("/"), Some(Value::from(2u64)));
    assert_eq!(count_of("/admin"), Some(Value::from(1u64)));

    // Disconnection: socket_disconnected, then the rooms it left.
    c.emit_with_ack("join", "last-room").await.unwrap();
    c.disconnect();
    let gone = rec.wait("socket_disconnected", |a| s(&a[1]) == cid).await;
    assert_eq!(gone[0], Value::from("/"));
    assert_eq!(gone[2], Value::from("client namespace disconnect"));
    rec.wait("room_left", |a| s(&a[1]) == cid && s(&a[2]) == cid)
        .await;
    rec.wait("room_left", |a| s(&a[1]) == "last-room" && s(&a[2]) == cid)
        .await;
    // Aggregated connection events arrive with a stats message.
    rec.wait("server_stats", |a| {
        a[0]["aggregatedEvents"].as_array().is_some_and(|e| {
            e.iter().any(|x| {
                x["type"] == Value::from("rawDisconnection")
                    && x["subType"] == Value::from("transport close")
            })
        })
    })
    .await;
    drop(early);
    drop(io);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_upgrade_is_a_socket_update() {
    let (_io, handle, url) = start(dev_opts()).await;
    let (_admin, mut rec) = login(&url).await;
    let c = app_client(&url, &[Transport::Polling, Transport::Websocket]).await;
    let cid = c.id().unwrap();
    let up = rec
        .wait("socket_updated", |a| {
            s(&a[0]["id"]) == cid && a[0]["transport"] == Value::from("websocket")
        })
        .await;
    assert_eq!(up[0]["nsp"], Value::from("/"));
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_and_the_server_keeps_serving() {
    let (_io, handle, url) = start(dev_opts()).await;
    for auth in [
        json!({"username": USER, "password": "wrong"}),
        json!({"username": "root", "password": PASSWORD}),
        json!({}),
        json!({"username": USER, "password": 12345}),
        json!({"username": ["admin"], "password": {"p": PASSWORD}}),
        json!({"sessionId": "0123456789abcdef"}),
        json!({"username": USER, "password": "x".repeat(100_000)}),
    ] {
        match admin_client(&url, auth.clone()).await {
            Err(ClientError::Refused { message, .. }) => {
                assert_eq!(message, "invalid credentials", "{auth}")
            }
            Err(e) => panic!("{auth}: {e}"),
            Ok(_) => panic!("{auth} was let in"),
        }
    }
    // The app and the admin namespace still serve.
    let c = app_client(&url, &[Transport::Websocket]).await;
    c.emit_with_ack("join", "r").await.unwrap();
    let (_admin, mut rec) = login(&url).await;
    let session = rec.wait("session", |_| true).await;
    // The session id logs in again without the password.
    let (_again, mut rec2) = admin_client(&url, json!({"sessionId": s(&session[0])}))
        .await
        .unwrap();
    rec2.wait("config", |_| true).await;
    assert!(
        rec2.none_within(Duration::from_millis(300), "session", |_| true)
            .await,
        "no new session for a session login"
    );
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_anyone_connects() {
    let (_io, handle, url) = start(AdminUiOptions::without_auth()).await;
    let (_admin, mut rec) = admin_client(&url, json!({})).await.unwrap();
    rec.wait("config", |_| true).await;
    assert!(
        rec.none_within(Duration::from_millis(200), "session", |_| true)
            .await
    );
    handle.shutdown().await;
}

/// Rooms a socket of `/` is in, seen from the server.
fn rooms_of(io: &Server, id: &str) -> Vec<String> {
    io.of("/")
        .sockets()
        .into_iter()
        .find(|x| x.id().as_str() == id)
        .map(|x| x.rooms().iter().map(|r| r.to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_join_leave_emit_disconnect() {
    let (io, handle, url) = start(dev_opts()).await;
    let (admin, mut rec) = login(&url).await;
    rec.wait("config", |_| true).await;
    let (tx, mut got) = mpsc::unbounded_channel();
    let c = ClientBuilder::new(url.as_str())
        .transports([Transport::Websocket])
        .reconnection(no_reconnection())
        .on("news", move |ev| {
            let _ = tx.send(ev.args.clone());
        })
        .connect()
        .await
        .unwrap();
    let cid = c.id().unwrap();

    // join one socket (filter = its id), as the UI's socket page does.
    let r = admin
        .emit_with_ack("join", ("/", "vip", cid.as_str()))
        .await
        .unwrap();
    assert_eq!(r, Vec::<Value>::new());
    assert!(rooms_of(&io, &cid).contains(&"vip".to_owned()));
    rec.wait("room_joined", |a| s(&a[1]) == "vip" && s(&a[2]) == cid)
        .await;
    // emit to a room (filter), then to the namespace (null filter).
    admin
        .emit_with_ack("emit", ("/", "vip", "news", "for vip"))
        .await
        .unwrap();
    let news = tokio::time::timeout(STEP, got.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(news, vec![Value::from("for vip")]);
    // A broadcast is an outgoing event of each socket it reaches (as Node's adapter).
    let sent = rec
        .wait("event_sent", |a| {
            s(&a[1]) == cid && a[2][0] == Value::from("news")
        })
        .await;
    assert_eq!(sent[2], Value::from(json!(["news", "for vip"])));
    admin
        .emit_with_ack("emit", ("/", Value::Null, "news", 1, 2))
        .await
        .unwrap();
    let news = tokio::time::timeout(STEP, got.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(news, vec![Value::from(1), Value::from(2)]);
    // leave the whole namespace out of a room (no filter).
    admin
        .emit_with_ack("leave", ("/", "vip", Value::Null))
        .await
        .unwrap();
    assert!(!rooms_of(&io, &cid).contains(&"vip".to_owned()));
    rec.wait("room_left", |a| s(&a[1]) == "vip" && s(&a[2]) == cid)
        .await;
    // _disconnect that socket, keeping its connection.
    admin
        .emit_with_ack("_disconnect", ("/", false, cid.as_str()))
        .await
        .unwrap();
    let gone = rec.wait("socket_disconnected", |a| s(&a[1]) == cid).await;
    assert_eq!(gone[2], Value::from("server namespace disconnect"));
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_command() {
    let (io, handle, url) = start(dev_opts().read_only(true)).await;
    let (admin, mut rec) = login(&url).await;
    let config = rec.wait("config", |_| true).await;
    assert_eq!(features(&config), ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    let c = app_client(&url, &[Transport::Websocket]).await;
    let cid = c.id().unwrap();
    for (event, args) in [
        ("join", vec![json!("/"), json!("vip"), json!(cid)]),
        ("leave", vec![json!("/"), json!(cid), json!(cid)]),
        (
            "emit",
            vec![json!("/"), json!(null), json!("news"), json!(1)],
        ),
        ("_disconnect", vec![json!("/"), json!(true), json!(null)]),
    ] {
        let args: Vec<Value> = args.into_iter().map(Value::from).collect();
        let r = admin.emit_with_ack(event, args).await.unwrap();
        assert_eq!(
            r,
            vec![Value::from(json!({"error": "read-only"}))],
            "{event}"
        );
    }
    // Without an ack as well (the UI never asks for one): no effect.
    admin.emit("join", ("/", "vip", cid.as_str())).unwrap();
    admin.emit("_disconnect", ("/", true, Value::Null)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!rooms_of(&io, &cid).contains(&"vip".to_owned()));
    assert!(c.connected());
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_commands_are_refused_and_the_server_keeps_serving() {
    let (io, handle, url) = start(dev_opts()).await;
    let (admin, mut rec) = login(&url).await;
    rec.wait("config", |_| true).await;
    let c = app_client(&url, &[Transport::Websocket]).await;
    let cid = c.id().unwrap();
    let bad: Vec<(&str, serde_json::Value)> = vec![
        ("join", json!([])),
        ("join", json!([42, "vip", null])),
        ("join", json!(["/", {"room": "vip"}, null])),
        ("join", json!(["/", "", null])),
        ("join", json!(["/", "vip", 7])),
        ("join", json!(["/nope", "vip", null])),
        ("leave", json!(["/", null, null])),
        ("_disconnect", json!(["/", "yes", null])),
        ("_disconnect", json!(["/", null])),
        ("_disconnect", json!([null, true, null])),
        ("emit", json!(["/", null, 42])),
        ("emit", json!(["/", ["a"], "news"])),
        ("emit", json!(["/", null, "connect"])),
        ("emit", json!(["/", null, "disconnect", 1])),
    ];
    for (event, args) in &bad {
        let args: Vec<Value> = args
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(Value::from)
            .collect();
        let r = admin.emit_with_ack(event, args.clone()).await.unwrap();
        assert!(
            r.len() == 1 && r[0]["error"].as_str().is_some(),
            "{event} {args:?}: {r:?}"
        );
    }
    // Nothing happened: no room, no namespace created, the socket is there.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rooms_of(&io, &cid), vec![cid.clone()]);
    assert!(c.connected());
    rec.clear();
    let stats = rec.wait("server_stats", |_| true).await;
    assert!(
        !stats[0]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == Value::from("/nope")),
        "a command created a namespace"
    );
    // The admin socket and the app still work.
    assert_eq!(
        admin
            .emit_with_ack("join", ("/", "vip", cid.as_str()))
            .await
            .unwrap(),
        Vec::<Value>::new()
    );
    c.emit_with_ack("join", "other").await.unwrap();
    assert!(admin.connected());
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_sends_stats_and_no_socket_events() {
    let (_io, handle, url) = start(dev_opts().mode(AdminMode::Production)).await;
    let (_admin, mut rec) = login(&url).await;
    let config = rec.wait("config", |_| true).await;
    assert!(!features(&config).contains(&"ALL_EVENTS".to_owned()));
    let c = app_client(&url, &[Transport::Websocket]).await;
    c.emit_with_ack("join", "lobby").await.unwrap();
    c.emit("ping", "x").unwrap();
    // The app's connection counted (the admin's own may be flushed before
    // its socket joins the admin namespace), and its client seen.
    let raw = |t: &[Value]| -> u64 {
        t.iter()
            .flat_map(|st| {
                st["aggregatedEvents"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|e| e["type"] == Value::from("rawConnection"))
            .map(|e| e["count"].as_u64().unwrap_or(0))
            .sum()
    };
    rec.stats_until(|t| raw(t) >= 1 && t.iter().any(|st| st["clientsCount"] == Value::from(2u64)))
        .await;
    for ev in [
        "all_sockets",
        "socket_connected",
        "room_joined",
        "event_received",
        "event_sent",
    ] {
        assert!(
            rec.none_within(Duration::from_millis(50), ev, |_| true)
                .await,
            "{ev} in production mode"
        );
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused() {
    let io = Server::new();
    assert!(matches!(
        io.instrument(AdminUiOptions::with_auth(USER, PASSWORD)),
        Err(InstrumentError::InvalidHash(_))
    ));
    assert!(matches!(
        io.instrument(AdminUiOptions::without_auth().stats_interval(Duration::ZERO)),
        Err(InstrumentError::InvalidInterval)
    ));
    io.instrument(AdminUiOptions::with_auth(USER, hash()))
        .unwrap();
    assert!(matches!(
        io.instrument(AdminUiOptions::without_auth()),
        Err(InstrumentError::AlreadyInstrumented)
    ));
    let outside = Arc::new(Server::new());
    let r = std::thread::spawn(move || outside.instrument(AdminUiOptions::without_auth()))
        .join()
        .unwrap();
    assert!(matches!(r, Err(InstrumentError::NoRuntime)));
}

/// An admin socket in a room of its own namespace, recovered after a cut
/// (connection state recovery on): it gets its rooms back while the
/// namespace's replay log is held, and the admin UI's room_joined for them
/// must not wait on that lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_admin_socket_gets_its_rooms_back() {
    let io = Server::builder()
        .connection_state_recovery(oxsio::RecoveryConfig::default())
        .build();
    io.instrument(AdminUiOptions::without_auth().stats_interval(Duration::from_millis(300)))
        .unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let proxy = common::proxy::Proxy::start(handle.local_addr()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let admin = ClientBuilder::new(format!("http://{}/admin", proxy.addr))
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            delay: Duration::from_millis(100),
            delay_max: Duration::from_millis(200),
            ..Reconnection::default()
        })
        .on("room_joined", move |ev| {
            let _ = tx.send(ev.args.clone());
        })
        .connect()
        .await
        .unwrap();
    let id = admin.id().unwrap();
    admin
        .emit_with_ack("join", ("/admin", "ops", id.as_str()))
        .await
        .unwrap();
    assert!(proxy.cut_all(false) > 0);
    let deadline = tokio::time::Instant::now() + STEP;
    while !(admin.connected() && admin.recovered()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the admin socket did not come back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(admin.id().unwrap(), id);
    let rooms: Vec<String> = io
        .of("/admin")
        .sockets()
        .iter()
        .flat_map(|s| s.rooms())
        .map(|r| r.to_string())
        .collect();
    assert!(rooms.contains(&"ops".to_owned()), "{rooms:?}");
    // The server goes on: a command answered, room_joined told (once on
    // the command, once on the recovery).
    let r = admin
        .emit_with_ack("join", ("/admin", "ops2", id.as_str()))
        .await
        .unwrap();
    assert_eq!(r, Vec::<Value>::new());
    let mut ops = 0;
    while let Ok(Some(a)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
        if a[1] == Value::from("ops") {
            ops += 1;
        }
        if a[1] == Value::from("ops2") && ops >= 2 {
            break;
        }
    }
    assert!(ops >= 2, "room_joined for ops: {ops}");
    drop(admin);
    handle.shutdown().await;
}
