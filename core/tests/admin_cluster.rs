//! The admin UI across a cluster, through the Redis adapter, with a Node.js
//! node in it: an oxsio node and a Node.js node (`@socket.io/redis-adapter`
//! and `@socket.io/admin-ui`'s `instrument`) on a redis-server this test
//! starts (`redis-server` is installed by the README test command). An
//! admin client of either node sees both servers' stats and the other
//! node's sockets, and its commands act on the other node's sockets.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use oxsio::adapter::redis::{RedisAdapter, RedisConfig};
use oxsio::admin::AdminUiOptions;
use oxsio::client::{ClientBuilder, ClientSocket, Reconnection};
use oxsio::{Server, Socket, Transport, Value};
use serde_json::json;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Every wait is bounded; generous, as a loaded machine runs these too.
const STEP: Duration = Duration::from_secs(30);

async fn node_js(redis: u16) -> (Child, String) {
    let mut cmd = Command::new("node");
    cmd.arg("redis_node.js")
        .arg(redis.to_string())
        .env("ADMIN_SERVER_ID", "node-b");
    let (child, port) = common::start_peer(cmd).await;
    (child, format!("http://127.0.0.1:{port}"))
}

/// Events of an admin socket.
type Events = mpsc::UnboundedReceiver<(String, Vec<Value>)>;

async fn admin(url: &str) -> (ClientSocket, Events) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut b = ClientBuilder::new(format!("{url}/admin"))
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            enabled: false,
            ..Reconnection::default()
        });
    for name in [
        "server_stats",
        "all_sockets",
        "socket_connected",
        "room_joined",
    ] {
        let tx = tx.clone();
        b = b.on(name, move |ev| {
            let _ = tx.send((ev.name.clone(), ev.args.clone()));
        });
    }
    (b.connect().await.unwrap(), rx)
}

async fn wait(rx: &mut Events, name: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((n, a))) if n == name && pred(&a) => return a,
            Ok(Some(_)) => {}
            Ok(None) => panic!("admin socket closed while waiting for {name}"),
            Err(_) => panic!("no {name} in time"),
        }
    }
}

async fn app_client(url: &str, name: &str) -> ClientSocket {
    ClientBuilder::new(url)
        .transports([Transport::Websocket])
        .auth(json!({"name": name, "rooms": ["blue"]}))
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_ui_spans_an_oxsio_and_a_node_js_node() {
    let redis = oxsio_test_services::RedisServer::start();
    let redis_port = redis.port;
    let factory = RedisAdapter::factory(
        RedisConfig::new(format!("redis://127.0.0.1:{redis_port}"))
            .requests_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let io = Server::builder().adapter(factory).build();
    io.on_connection(|s: Socket| {
        let auth = s.handshake().auth.clone();
        for r in auth["rooms"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                s.join(r);
            }
        }
    });
    io.instrument(
        AdminUiOptions::without_auth()
            .server_id("oxsio-a")
            .stats_interval(Duration::from_millis(500)),
    )
    .unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let url_a = format!("http://{}", handle.local_addr());
    let (mut node, url_b) = node_js(redis_port).await;

    let on_a = app_client(&url_a, "on-a").await;
    let on_b = app_client(&url_b, "on-b").await;
    let (id_a, id_b) = (on_a.id().unwrap(), on_b.id().unwrap());

    // An admin client of the oxsio node: both servers' stats, the Node.js
    // node's socket in all_sockets (fetch_sockets through Redis).
    let (admin_a, mut ev_a) = admin(&url_a).await;
    let all = wait(&mut ev_a, "all_sockets", |_| true).await;
    let listed = all[0].as_array().unwrap();
    let b_seen = listed
        .iter()
        .find(|x| x["id"].as_str() == Some(id_b.as_str()))
        .unwrap_or_else(|| panic!("{id_b} not in {listed:?}"));
    assert_eq!(b_seen["transport"], Value::from("websocket"));
    assert_eq!(
        b_seen["data"],
        Value::from(json!({"name": "on-b", "node": "node"}))
    );
    assert!(
        listed
            .iter()
            .any(|x| x["id"].as_str() == Some(id_a.as_str()))
    );
    for id in ["oxsio-a", "node-b"] {
        wait(&mut ev_a, "server_stats", |a| {
            a[0]["serverId"] == Value::from(id)
        })
        .await;
    }
    // A command on the oxsio node acts on the Node.js node's socket, and
    // the Node.js node's room_joined comes back through Redis.
    admin_a.emit("join", ("/", "vip", id_b.as_str())).unwrap();
    wait(&mut ev_a, "room_joined", |a| {
        a[1] == Value::from("vip") && a[2] == Value::from(id_b.as_str())
    })
    .await;

    // An admin client of the Node.js node sees the oxsio node's stats and
    // its sockets, and its command reaches the oxsio node's socket.
    let (admin_b, mut ev_b) = admin(&url_b).await;
    let all = wait(&mut ev_b, "all_sockets", |_| true).await;
    assert!(
        all[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"].as_str() == Some(id_a.as_str())
                && x["transport"] == Value::from("websocket")),
        "{all:?}"
    );
    wait(&mut ev_b, "server_stats", |a| {
        a[0]["serverId"] == Value::from("oxsio-a")
    })
    .await;
    admin_b.emit("join", ("/", "gold", id_a.as_str())).unwrap();
    wait(&mut ev_b, "room_joined", |a| {
        a[1] == Value::from("gold") && a[2] == Value::from(id_a.as_str())
    })
    .await;
    let rooms: Vec<String> = io
        .of("/")
        .sockets()
        .into_iter()
        .find(|s| s.id().as_str() == id_a)
        .unwrap()
        .rooms()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(rooms.contains(&"gold".to_owned()), "{rooms:?}");
    // A new socket on the oxsio node shows up on the Node.js node's admin.
    let late = app_client(&url_a, "late").await;
    let late_id = late.id().unwrap();
    wait(&mut ev_b, "socket_connected", |a| {
        a[0]["id"] == Value::from(late_id.as_str())
    })
    .await;

    for c in [admin_a, admin_b, on_a, on_b, late] {
        c.disconnect();
    }
    handle.shutdown().await;
    let _ = node.kill().await;
    drop(redis);
}
