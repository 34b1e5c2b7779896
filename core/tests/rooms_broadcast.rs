//! Rooms and broadcasts (in-memory adapter): membership, target selection
//! (`to`, unions, `except`, `broadcast`, namespaces), flags (`volatile`,
//! `timeout`), server-side operations on selections (`fetch_sockets`,
//! `sockets_join`/`leave`, `disconnect_sockets`), and slow clients.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::raw::{Client, Eio, T, serve};
use oxsio::codec::socketio::PacketData;
use oxsio::{AckError, BroadcastError, EmitError, Event, Server, Socket, Value};
use serde_json::json;
use tokio::sync::mpsc;

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("nothing reported by the server")
        .unwrap()
}

/// The app: sockets join the rooms listed in `auth.rooms` and expose a few
/// events that broadcast on their behalf.
fn app() -> Server {
    let io = Server::new();
    for nsp in ["/", "/admin"] {
        io.of(nsp).on_connection(|s: Socket| {
            let rooms: Vec<String> = s.handshake().auth["rooms"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            s.join(rooms);
            s.on("rooms", |ev: Event| {
                let mut rooms: Vec<String> =
                    ev.socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.sort();
                let _ = ev.ack.unwrap().send(Value::from(json!(rooms)));
            });
            s.on("join", |ev: Event| {
                ev.socket.join(ev.arg(0).as_str().unwrap());
                let _ = ev.ack.unwrap().send(());
            });
            s.on("leave", |ev: Event| {
                ev.socket.leave(ev.arg(0).as_str().unwrap());
                let _ = ev.ack.unwrap().send(());
            });
            s.on("broadcast", |ev: Event| {
                ev.socket
                    .broadcast()
                    .emit("b", ev.socket.id().as_str())
                    .unwrap();
                let _ = ev.ack.unwrap().send(());
            });
            s.on("to", |ev: Event| {
                let room = ev.arg(0).as_str().unwrap().to_owned();
                ev.socket.to(room).emit("t", ()).unwrap();
                let _ = ev.ack.unwrap().send(());
            });
            s.on("except", |ev: Event| {
                let room = ev.arg(0).as_str().unwrap().to_owned();
                ev.socket.except(room).emit("x", ()).unwrap();
                let _ = ev.ack.unwrap().send(());
            });
        });
    }
    io
}

async fn client(h: &oxsio::ServerHandle, rooms: &[&str]) -> (Client, String) {
    let mut c = Client::ws(h.local_addr()).await;
    let id = c
        .connect_ns("/", Some(json!({ "rooms": rooms })))
        .await
        .unwrap();
    (c, id)
}

/// Calls `event` with an ack and waits for it.
async fn call(c: &mut Client, event: &str, args: Vec<Value>) -> Vec<Value> {
    c.emit_ack("/", event, args, 1).await;
    let (_, id, args) = c.recv_ack().await;
    assert_eq!(id, 1);
    args
}

/// Event names received (namespace-qualified when not `/`) until `end`.
async fn events_until_end(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let (nsp, name, _, _) = c.recv_event().await;
        if name == "end" {
            return out;
        }
        out.push(if nsp == "/" {
            name
        } else {
            format!("{nsp}:{name}")
        });
    }
}

/// `join` (one or several), `leave`, and `rooms()` with the own-id room.
#[tokio::test]
async fn join_leave_rooms() {
    let io = app();
    let h = serve(&io).await;
    let (mut c, id) = client(&h, &["a", "b"]).await;
    let mut expected = vec!["a".to_owned(), "b".to_owned(), id.clone()];
    expected.sort();
    assert_eq!(
        call(&mut c, "rooms", vec![]).await,
        vec![Value::from(json!(expected))]
    );
    call(&mut c, "join", vec![Value::from("c")]).await;
    call(&mut c, "leave", vec![Value::from("a")]).await;
    // Leaving a room one is not in is a no-op.
    call(&mut c, "leave", vec![Value::from("zzz")]).await;
    let mut expected = vec!["b".to_owned(), "c".to_owned(), id.clone()];
    expected.sort();
    assert_eq!(
        call(&mut c, "rooms", vec![]).await,
        vec![Value::from(json!(expected))]
    );
    let mut all: Vec<String> = io
        .of("/")
        .rooms()
        .await
        .iter()
        .map(|r| r.to_string())
        .collect();
    all.sort();
    assert_eq!(all, expected);
}

/// `io.to(room)` reaches the room only; several rooms are a union without
/// duplicates; `except` removes; `io.except` alone targets everyone else.
#[tokio::test]
async fn to_union_except() {
    let io = app();
    let h = serve(&io).await;
    let (mut a, _) = client(&h, &["r1"]).await;
    let (mut b, _) = client(&h, &["r1", "r2"]).await;
    let (mut c, c_id) = client(&h, &["r2"]).await;
    io.to("r1").emit("to-r1", ()).unwrap();
    io.to(["r1", "r2"]).emit("union", ()).unwrap();
    io.to("r1").to("r2").emit("chained-union", ()).unwrap();
    io.to("r2").except("r1").emit("r2-not-r1", ()).unwrap();
    io.except("r1").emit("not-r1", ()).unwrap();
    io.to(c_id.as_str()).emit("to-id", ()).unwrap();
    io.within("r1").emit("within", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(
        events_until_end(&mut a).await,
        ["to-r1", "union", "chained-union", "within"]
    );
    assert_eq!(
        events_until_end(&mut b).await,
        ["to-r1", "union", "chained-union", "within"]
    );
    assert_eq!(
        events_until_end(&mut c).await,
        ["union", "chained-union", "r2-not-r1", "not-r1", "to-id"]
    );
    // An empty room reaches nobody, without error.
    io.to("nobody").emit("x", ()).unwrap();
}

/// `socket.broadcast()`, `socket.to(room)` and `socket.except(room)`
/// exclude the sender, even when it is in the room.
#[tokio::test]
async fn socket_broadcasts_exclude_sender() {
    let io = app();
    let (tx, mut sockets) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let _ = tx.send(s);
    });
    let h = serve(&io).await;
    let (mut a, a_id) = client(&h, &["r1"]).await;
    let sa = recv(&mut sockets).await;
    let (mut b, _) = client(&h, &["r1", "r2"]).await;
    let sb = recv(&mut sockets).await;
    let (mut c, _) = client(&h, &["r2"]).await;
    sa.broadcast().emit("from-a", sa.id().as_str()).unwrap();
    sb.to("r1").emit("b-to-r1", ()).unwrap();
    sb.within("r2").emit("b-within-r2", ()).unwrap();
    sa.except("r1").emit("a-except-r1", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(events_until_end(&mut a).await, ["b-to-r1"]);
    let (_, name, args, _) = b.recv_event().await;
    assert_eq!(
        (name.as_str(), args),
        ("from-a", vec![Value::from(a_id.as_str())])
    );
    assert_eq!(events_until_end(&mut b).await, Vec::<String>::new());
    assert_eq!(
        events_until_end(&mut c).await,
        ["from-a", "b-within-r2", "a-except-r1"]
    );
    // The same through events handled on behalf of the client.
    call(&mut a, "broadcast", vec![]).await;
    assert_eq!(b.recv_event().await.1, "b");
    assert_eq!(c.recv_event().await.1, "b");
}

/// A namespace's `emit` reaches that namespace only, with its name on the wire.
#[tokio::test]
async fn namespace_emit() {
    let io = app();
    let h = serve(&io).await;
    let (mut a, _) = client(&h, &[]).await;
    a.connect_ns("/admin", None).await.unwrap();
    let (mut b, _) = client(&h, &[]).await;
    io.of("/admin").emit("admins", 1).unwrap();
    io.emit("everyone", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(
        a.recv_eio().await,
        Eio::Text(r#"42/admin,["admins",1]"#.into())
    );
    assert_eq!(events_until_end(&mut a).await, ["everyone"]);
    assert_eq!(events_until_end(&mut b).await, ["everyone"]);
}

/// `volatile` broadcasts are delivered normally when there is room.
#[tokio::test]
async fn volatile_delivers_when_possible() {
    let io = app();
    let h = serve(&io).await;
    let (mut a, _) = client(&h, &["r1"]).await;
    io.volatile().emit("v1", ()).unwrap();
    io.to("r1").volatile().emit("v2", ()).unwrap();
    io.local().emit("v3", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(events_until_end(&mut a).await, ["v1", "v2", "v3"]);
}

/// Answers every event that asks for an ack with `name`, unless `silent`.
fn answerer(mut c: Client, name: &'static str, silent: bool) -> tokio::task::JoinHandle<Client> {
    tokio::spawn(async move {
        let (_, event, _, id) = c.recv_event().await;
        assert_eq!(event, "poll");
        if !silent {
            c.ack("/", id.unwrap(), vec![Value::from(name)]).await;
        }
        c
    })
}

/// `timeout(d).emit_with_ack` gathers one reply per targeted client; if one
/// never answers the result is `Timeout`; no target → empty list.
#[tokio::test]
async fn broadcast_with_ack() {
    let io = app();
    let h = serve(&io).await;
    let (a, _) = client(&h, &["r1"]).await;
    let (b, _) = client(&h, &["r1"]).await;
    let (c, _) = client(&h, &["r2"]).await;
    let tasks = [
        answerer(a, "a", false),
        answerer(b, "b", false),
        answerer(c, "c", false),
    ];
    let replies = io
        .timeout(Duration::from_secs(3))
        .emit_with_ack("poll", ())
        .await
        .unwrap();
    let mut names: Vec<String> = replies
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(tokio::time::timeout(T, t).await.unwrap().unwrap());
    }
    let c = clients.pop().unwrap();
    let b = clients.pop().unwrap();
    let a = clients.pop().unwrap();

    // Only the room, one silent: Timeout.
    let tasks = [answerer(a, "a", false), answerer(b, "b", true)];
    let started = tokio::time::Instant::now();
    let r = io
        .to("r1")
        .timeout(Duration::from_millis(200))
        .emit_with_ack("poll", ())
        .await;
    assert_eq!(r, Err(AckError::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(190));
    for t in tasks {
        tokio::time::timeout(T, t).await.unwrap().unwrap();
    }
    drop(c);

    let r = io
        .to("nobody")
        .timeout(Duration::from_secs(3))
        .emit_with_ack("poll", ())
        .await;
    assert_eq!(r, Ok(vec![]));
}

/// `fetch_sockets`: ids, rooms and auth of the selection; the handles can
/// emit, join, leave and disconnect.
#[tokio::test]
async fn fetch_sockets_and_remote_operations() {
    let io = app();
    let h = serve(&io).await;
    let (mut a, a_id) = client(&h, &["r1"]).await;
    let (mut b, b_id) = client(&h, &["r1", "r2"]).await;
    let (_c, c_id) = client(&h, &["r2"]).await;
    let mut all: Vec<String> = io
        .of("/")
        .fetch_sockets()
        .await
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    all.sort();
    let mut expected = vec![a_id.clone(), b_id.clone(), c_id.clone()];
    expected.sort();
    assert_eq!(all, expected);

    let mut r1 = io.to("r1").fetch_sockets().await;
    r1.sort_by_key(|s| s.id.to_string());
    let mut ids: Vec<String> = r1.iter().map(|s| s.id.to_string()).collect();
    let mut want = vec![a_id.clone(), b_id.clone()];
    want.sort();
    ids.sort();
    assert_eq!(ids, want);
    let rb = r1.iter().find(|s| s.id.as_str() == b_id).unwrap();
    let mut rooms: Vec<String> = rb.rooms.iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut want_rooms = vec!["r1".to_owned(), "r2".to_owned(), b_id.clone()];
    want_rooms.sort();
    assert_eq!(rooms, want_rooms);
    assert_eq!(rb.nsp, "/");
    assert_eq!(rb.auth["rooms"], Value::from(json!(["r1", "r2"])));
    assert!(rb.local.is_some());

    let ra = r1.iter().find(|s| s.id.as_str() == a_id).unwrap();
    ra.emit("direct", 1).unwrap();
    ra.join("r9");
    io.to("r9").emit("r9", ()).unwrap();
    ra.leave("r9");
    io.to("r9").emit("r9-after-leave", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(events_until_end(&mut a).await, ["direct", "r9"]);
    assert_eq!(events_until_end(&mut b).await, Vec::<String>::new());

    ra.disconnect(false);
    assert_eq!(a.recv_eio().await, Eio::Text("41".into()));
    assert_eq!(io.of("/").fetch_sockets().await.len(), 2);
}

/// `sockets_join` / `sockets_leave` act on the selection.
#[tokio::test]
async fn sockets_join_and_leave() {
    let io = app();
    let h = serve(&io).await;
    let (mut a, _) = client(&h, &["r1"]).await;
    let (mut b, _) = client(&h, &["r1", "r2"]).await;
    let (mut c, _) = client(&h, &["r2"]).await;
    io.to("r1").sockets_join("r3");
    io.to("r3").emit("r3", ()).unwrap();
    io.of("/").sockets_leave("r3");
    io.to("r3").emit("r3-after", ()).unwrap();
    io.to("r2").sockets_join(["r4", "r5"]);
    io.to("r5").except("r1").emit("r5-not-r1", ()).unwrap();
    io.to("r2").sockets_leave(["r4"]);
    io.to("r4").emit("r4", ()).unwrap();
    io.emit("end", ()).unwrap();
    assert_eq!(events_until_end(&mut a).await, ["r3"]);
    assert_eq!(events_until_end(&mut b).await, ["r3"]);
    assert_eq!(events_until_end(&mut c).await, ["r5-not-r1"]);
}

/// `disconnect_sockets(false)`: the selection gets `41`, reason `server
/// namespace disconnect`, connections stay; with `true` they close.
#[tokio::test]
async fn disconnect_sockets() {
    let io = app();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let tx = tx.clone();
        s.on_disconnect(move |s, r| {
            let _ = tx.send((s.id().to_string(), r.as_str().to_owned()));
        });
    });
    let h = serve(&io).await;
    let (mut a, a_id) = client(&h, &["r1"]).await;
    let (mut b, b_id) = client(&h, &["r1", "r2"]).await;
    let (mut c, c_id) = client(&h, &["r2"]).await;
    io.to("r1").disconnect_sockets(false);
    let mut got = vec![recv(&mut reasons).await, recv(&mut reasons).await];
    got.sort();
    let mut want = vec![
        (a_id.clone(), "server namespace disconnect".to_owned()),
        (b_id.clone(), "server namespace disconnect".to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(a.recv_eio().await, Eio::Text("41".into()));
    assert_eq!(b.recv_eio().await, Eio::Text("41".into()));
    assert_eq!(io.connection_count(), 3);
    // Still connected at the Engine.IO level: they may join again.
    a.connect().await;

    // b's socket is gone, so r2 now holds c only.
    io.to("r2").disconnect_sockets(true);
    assert_eq!(
        recv(&mut reasons).await,
        (c_id.clone(), "server namespace disconnect".to_owned())
    );
    c.expect_closed().await;
    assert!(common::raw::eventually(T, || io.connection_count() == 2).await);
    b.expect_silence(Duration::from_millis(100)).await;
    assert!(reasons.try_recv().is_err());
}

/// A client whose queue is full (a polling client that stopped polling,
/// `max_buffer_size(4)`): a broadcast reports `BroadcastError::Sockets`
/// naming it while the others still receive; volatile broadcasts and
/// emits skip it without error; once it polls again it gets what was queued.
#[tokio::test]
async fn full_queue_fails_only_that_socket() {
    let io = Server::builder().max_buffer_size(4).build();
    let (tx, mut sockets) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let _ = tx.send(s);
    });
    let h = serve(&io).await;
    let mut slow = Client::polling(h.local_addr()).await;
    let slow_id = slow.connect().await;
    let slow_socket = recv(&mut sockets).await;
    let mut fast = Client::ws(h.local_addr()).await;
    fast.connect().await;
    let _fast_socket = recv(&mut sockets).await;

    // The fast client reads each packet before the next broadcast, so only
    // the slow one fills up.
    let mut fast_got = 0;
    for i in 0..4 {
        io.emit("fill", i).unwrap();
        assert_eq!(fast.recv_event().await.2, vec![Value::from(i)]);
        fast_got += 1;
    }
    for i in 4..7 {
        let r = io.emit("fill", i);
        assert_eq!(fast.recv_event().await.2, vec![Value::from(i)]);
        fast_got += 1;
        match r {
            Err(BroadcastError::Sockets(failed)) => {
                assert_eq!(failed.len(), 1, "{failed:?}");
                assert_eq!(failed[0].0.as_str(), slow_id);
                assert_eq!(failed[0].1, EmitError::QueueFull);
            }
            other => panic!("expected a partial failure, got {other:?}"),
        }
    }
    io.volatile().emit("fill", 7).unwrap();
    assert_eq!(slow_socket.emit("direct", ()), Err(EmitError::QueueFull));
    slow_socket.volatile().emit("direct", ()).unwrap();
    for i in fast_got..8 {
        let (_, name, args, _) = fast.recv_event().await;
        assert_eq!((name.as_str(), args), ("fill", vec![Value::from(i)]));
    }
    // The slow client polls: exactly the four queued packets, in order.
    let mut got = Vec::new();
    for _ in 0..4 {
        let p = slow.recv_packet().await;
        let PacketData::Event { args, .. } = p.data else {
            panic!("{p:?}")
        };
        got.push(args[0].clone());
    }
    assert_eq!(got, (0..4).map(Value::from).collect::<Vec<_>>());
    io.emit("after", ()).unwrap();
    assert_eq!(slow.recv_event().await.1, "after");
}
