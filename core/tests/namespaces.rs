//! Namespaces, connect middlewares, handshake data and the socket life
//! cycle, as the official server (socket.io 4.8) behaves.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::raw::{Client, Eio, PATH, T, serve};
use oxsio::codec::socketio::PacketData;
use oxsio::{ConnectError, Event, Server, Socket, Value};
use serde_json::json;
use tokio::sync::mpsc;

type Rx<T> = mpsc::UnboundedReceiver<T>;

async fn recv<T>(rx: &mut Rx<T>) -> T {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("nothing reported by the server")
        .unwrap()
}

fn echo(socket: &Socket) {
    socket.on("echo", |ev: Event| {
        if let Some(ack) = ev.ack {
            let _ = ack.send(ev.args);
        }
    });
}

/// Every socket of `nsp` echoes and reports `(nsp, reason)` on disconnect.
fn reporting(io: &Server, nsp: &str, tx: &mpsc::UnboundedSender<(String, String)>) {
    let tx = tx.clone();
    io.of(nsp).on_connection(move |socket: Socket| {
        echo(&socket);
        let tx = tx.clone();
        socket.on_disconnect(move |s, reason| {
            let _ = tx.send((s.ns().to_owned(), reason.as_str().to_owned()));
        });
        socket.on("kick", |ev: Event| ev.socket.disconnect());
        socket.on("kick-all", |ev: Event| ev.socket.disconnect_with(true));
    });
}

async fn echo_ok(c: &mut Client, nsp: &str) {
    c.emit_ack(nsp, "echo", vec![Value::from(nsp)], 9).await;
    let (n, id, args) = c.recv_ack().await;
    assert_eq!((n.as_str(), id, args), (nsp, 9, vec![Value::from(nsp)]));
}

fn is_sid(s: &str) -> bool {
    s.len() == 20
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Several namespaces multiplexed over one Engine.IO session: `40/admin,`
/// after `40`, each answered `40<nsp>,{"sid":...}` with its own socket id.
#[tokio::test]
async fn two_namespaces_over_one_connection() {
    let io = Server::new();
    let (tx, _rx) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let (sids_tx, mut sids) = mpsc::unbounded_channel();
    for nsp in ["/", "/admin"] {
        let sids_tx = sids_tx.clone();
        io.of(nsp).on_connection(move |s: Socket| {
            let _ = sids_tx.send((s.id().to_string(), s.transport_sid().to_string()));
        });
    }
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.send_text("40").await;
    let Eio::Text(root) = c.recv_eio().await else {
        panic!()
    };
    assert!(root.starts_with("40{\"sid\":\""), "{root}");
    c.send_text("40/admin,").await;
    let Eio::Text(admin) = c.recv_eio().await else {
        panic!()
    };
    assert!(admin.starts_with("40/admin,{\"sid\":\""), "{admin}");
    let (root_id, root_tsid) = recv(&mut sids).await;
    let (admin_id, admin_tsid) = recv(&mut sids).await;
    assert_ne!(root_id, admin_id);
    assert_eq!(root, format!("40{{\"sid\":\"{root_id}\"}}"));
    assert_eq!(admin, format!("40/admin,{{\"sid\":\"{admin_id}\"}}"));
    assert_eq!(
        (root_tsid.as_str(), admin_tsid.as_str()),
        (c.sid.as_str(), c.sid.as_str())
    );
    assert_eq!(io.connection_count(), 1);
    echo_ok(&mut c, "/admin").await;
    echo_ok(&mut c, "/").await;
    // `40/custom` without the comma is accepted too (clients may omit it).
    let io2 = Server::new();
    reporting(&io2, "/custom", &tx);
    let h2 = serve(&io2).await;
    let mut c2 = Client::ws(h2.local_addr()).await;
    c2.send_text("40/custom").await;
    let Eio::Text(t) = c2.recv_eio().await else {
        panic!()
    };
    assert!(t.starts_with("40/custom,{\"sid\":\""), "{t}");
}

/// `of_dynamic`: a matching name is created on first CONNECT and runs the
/// template's middlewares and handlers; a non-matching one is refused.
#[tokio::test]
async fn dynamic_namespace() {
    let io = Server::new();
    let template = io.of_dynamic(|name| name.starts_with("/dyn-"));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    template.use_middleware(move |s: &Socket| {
        seen2.lock().unwrap().push(s.ns().to_owned());
        Ok(())
    });
    template.on_connection(|socket: Socket| {
        let _ = socket.emit("hello", socket.ns());
    });
    let h = serve(&io).await;
    let mut c = Client::polling(h.local_addr()).await;
    for nsp in ["/dyn-1", "/dyn-2"] {
        c.connect_ns(nsp, None).await.unwrap();
        let (n, name, args, _) = c.recv_event().await;
        assert_eq!((n.as_str(), name.as_str()), (nsp, "hello"));
        assert_eq!(args, vec![Value::from(nsp)]);
    }
    assert_eq!(*seen.lock().unwrap(), ["/dyn-1", "/dyn-2"]);
    let refused = c.connect_ns("/other", None).await.unwrap_err();
    assert_eq!(
        refused,
        Value::from(json!({"message": "Invalid namespace"}))
    );
    // The child is a real namespace now.
    assert_eq!(io.of("/dyn-1").sockets().len(), 1);
    io.of("/dyn-1").emit("bcast", 1).unwrap();
    let (n, name, _, _) = c.recv_event().await;
    assert_eq!((n.as_str(), name.as_str()), ("/dyn-1", "bcast"));
}

/// A server-wide middleware runs for every namespace; a refusal is
/// `44[<nsp>,]{"message":…,"data":…}` and the connection stays open, so
/// the client may retry.
#[tokio::test]
async fn server_middleware_refuses_with_connect_error() {
    let io = Server::new();
    io.use_middleware(|s: &Socket| {
        if s.handshake().auth["token"].as_str() == Some("ok") {
            Ok(())
        } else {
            Err(ConnectError::new("unauthorized").with_data(json!({"reason": "bad token"})))
        }
    });
    let (count_tx, mut count) = mpsc::unbounded_channel();
    for nsp in ["/", "/admin"] {
        let count_tx = count_tx.clone();
        io.of(nsp).on_connection(move |s: Socket| {
            let _ = count_tx.send(s.ns().to_owned());
        });
    }
    let h = serve(&io).await;
    for polling in [false, true] {
        let mut c = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        c.send_text(r#"40{"token":"bad"}"#).await;
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(r#"44{"message":"unauthorized","data":{"reason":"bad token"}}"#.into())
        );
        c.send_text("40/admin,").await;
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(
                r#"44/admin,{"message":"unauthorized","data":{"reason":"bad token"}}"#.into()
            )
        );
        c.connect_ns("/", Some(json!({"token": "ok"})))
            .await
            .unwrap();
        assert_eq!(recv(&mut count).await, "/");
        c.connect_ns("/admin", Some(json!({"token": "ok"})))
            .await
            .unwrap();
        assert_eq!(recv(&mut count).await, "/admin");
    }
    assert!(count.try_recv().is_err(), "a refused socket was connected");
}

/// Per-namespace middlewares, sync and async, run after the server's, in
/// registration order; the first refusal stops the chain. A refusal
/// without data has no `data` key.
#[tokio::test]
async fn namespace_middlewares_sync_and_async() {
    let io = Server::new();
    let order = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let o = order.clone();
    io.use_middleware(move |_| {
        o.lock().unwrap().push("server");
        Ok(())
    });
    let ns = io.of("/ns");
    let o = order.clone();
    ns.use_middleware(move |_| {
        o.lock().unwrap().push("sync");
        Ok(())
    });
    let o = order.clone();
    ns.use_middleware_async(move |s: Socket| {
        let o = o.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            o.lock().unwrap().push("async");
            if s.handshake().auth["pass"].as_str() == Some("yes") {
                Ok(())
            } else {
                Err(ConnectError::new("async says no"))
            }
        }
    });
    ns.on_connection(|s: Socket| echo(&s));
    let strict = io.of("/strict");
    strict.use_middleware(|_| Err(ConnectError::new("never")));
    let o = order.clone();
    strict.use_middleware_async(move |_| {
        let o = o.clone();
        async move {
            o.lock().unwrap().push("after refusal");
            Ok(())
        }
    });
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.send_text("40/ns,").await;
    assert_eq!(
        c.recv_eio().await,
        Eio::Text(r#"44/ns,{"message":"async says no"}"#.into())
    );
    c.connect_ns("/ns", Some(json!({"pass": "yes"})))
        .await
        .unwrap();
    echo_ok(&mut c, "/ns").await;
    c.send_text("40/strict,").await;
    assert_eq!(
        c.recv_eio().await,
        Eio::Text(r#"44/strict,{"message":"never"}"#.into())
    );
    assert_eq!(
        *order.lock().unwrap(),
        [
            "server", "sync", "async", "server", "sync", "async", "server"
        ]
    );
}

/// Packets sent right after CONNECT, while an async middleware is still
/// deciding, are handled once the socket is connected (not dropped).
#[tokio::test]
async fn packets_during_async_middleware_are_kept() {
    let io = Server::new();
    io.of("/").use_middleware_async(|_| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    });
    io.on_connection(|s: Socket| echo(&s));
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.send_batch(&[
        Eio::Text("40".into()),
        Eio::Text(r#"421["echo","early"]"#.into()),
    ])
    .await;
    let p = c.recv_packet().await;
    assert!(matches!(p.data, PacketData::Connect(Some(_))), "{p:?}");
    let (_, id, args) = c.recv_ack().await;
    assert_eq!((id, args), (1, vec![Value::from("early")]));
}

/// `on_connection` sees the handshake: CONNECT auth, headers and query of
/// the first HTTP request, the peer address and the time.
#[tokio::test]
async fn handshake_data_in_on_connection() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let hs = s.handshake();
        let _ = tx.send(json!({
            "auth": hs.auth.to_json(),
            "header": hs.header("x-custom"),
            "foo": hs.query_param("foo"),
            "eio": hs.query_param("EIO"),
            "ip": hs.remote_addr.map(|a| a.ip().to_string()),
            "issued": hs.issued_ms(),
            "url": hs.url,
        }));
    });
    let h = serve(&io).await;
    for polling in [false, true] {
        let q = "foo=bar%20baz";
        let headers = [("X-Custom", "abc")];
        let mut c = if polling {
            Client::polling_with(h.local_addr(), PATH, q, &headers).await
        } else {
            Client::ws_with(h.local_addr(), PATH, q, &headers).await
        };
        c.connect_ns("/", Some(json!({"token": "t1", "n": 1})))
            .await
            .unwrap();
        let got = recv(&mut rx).await;
        assert_eq!(got["auth"], json!({"token": "t1", "n": 1}));
        assert_eq!(got["header"], "abc");
        assert_eq!(got["foo"], "bar baz");
        assert_eq!(got["eio"], "4");
        assert_eq!(got["ip"], "127.0.0.1");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let issued = got["issued"].as_u64().unwrap();
        assert!(issued <= now && now - issued < 10_000, "{issued} vs {now}");
        let url = got["url"].as_str().unwrap();
        assert!(
            url.contains("/socket.io/") && url.contains("foo=bar"),
            "{url}"
        );
        // No auth in CONNECT: `{}` (as Node).
        let mut c = Client::ws(h.local_addr()).await;
        c.connect().await;
        assert_eq!(recv(&mut rx).await["auth"], json!({}));
    }
}

/// Socket ids: 20 URL-safe characters, distinct from the Engine.IO sid
/// (v5), sent in the CONNECT answer, and the socket's own room.
#[tokio::test]
async fn socket_id_is_not_engine_sid() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let rooms: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
        let _ = tx.send((s.id().to_string(), s.transport_sid().to_string(), rooms));
    });
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    let id = c.connect().await;
    let (server_id, tsid, rooms) = recv(&mut rx).await;
    assert_eq!(id, server_id);
    assert!(is_sid(&id), "{id}");
    assert_ne!(id, c.sid);
    assert_eq!(tsid, c.sid);
    assert_eq!(rooms, vec![id.clone()]);
    assert!(
        io.of("/")
            .get_socket(oxsio::Sid::parse(&id).unwrap())
            .is_some()
    );
}

#[derive(Clone, Debug, PartialEq)]
struct Nick(String);

/// Typed per-socket storage: `insert`, `get`, `remove`.
#[tokio::test]
async fn socket_data_store() {
    let io = Server::new();
    io.on_connection(|s: Socket| {
        s.insert(Nick("ada".into()));
        s.insert(7u32);
        s.on("get", |ev: Event| {
            let nick = ev.socket.get::<Nick>().map(|n| n.0);
            let n = ev.socket.get::<u32>();
            let _ = ev.ack.unwrap().send((
                nick.map_or(Value::Null, Value::from),
                n.map_or(Value::Null, Value::from),
            ));
        });
        s.on("take", |ev: Event| {
            let n = ev.socket.remove::<u32>();
            ev.socket.insert(Nick("grace".into()));
            let _ = ev.ack.unwrap().send(n.map_or(Value::Null, Value::from));
        });
    });
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.emit_ack("/", "get", vec![], 1).await;
    assert_eq!(
        c.recv_ack().await.2,
        vec![Value::from("ada"), Value::from(7)]
    );
    c.emit_ack("/", "take", vec![], 2).await;
    assert_eq!(c.recv_ack().await.2, vec![Value::from(7)]);
    c.emit_ack("/", "get", vec![], 3).await;
    assert_eq!(
        c.recv_ack().await.2,
        vec![Value::from("grace"), Value::Null]
    );
}

/// Client DISCONNECT (`41/admin,`, or without comma): reason `client
/// namespace disconnect`, no reply, the Engine.IO session stays open for
/// the other namespaces, and the client may join again.
#[tokio::test]
async fn client_namespace_disconnect() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let h = serve(&io).await;
    // Clients are kept until the end: dropping one would report its own reasons.
    let mut keep = Vec::new();
    for packet in ["41/admin,", "41/admin"] {
        let mut c = Client::ws(h.local_addr()).await;
        c.connect().await;
        c.connect_ns("/admin", None).await.unwrap();
        c.send_text(packet).await;
        assert_eq!(
            recv(&mut reasons).await,
            ("/admin".into(), "client namespace disconnect".into())
        );
        echo_ok(&mut c, "/").await;
        assert_eq!(io.of("/admin").sockets().len(), keep.len());
        c.connect_ns("/admin", None).await.unwrap();
        echo_ok(&mut c, "/admin").await;
        keep.push(c);
    }
    // Leaving the last namespace does not close the connection either.
    let mut c = Client::polling(h.local_addr()).await;
    c.connect().await;
    c.send_text("41").await;
    assert_eq!(
        recv(&mut reasons).await,
        ("/".into(), "client namespace disconnect".into())
    );
    c.connect().await;
    echo_ok(&mut c, "/").await;
}

/// `socket.disconnect()`: the client gets `41<nsp>,`, the handler reason
/// is `server namespace disconnect`, other namespaces keep working.
#[tokio::test]
async fn server_namespace_disconnect() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let h = serve(&io).await;
    let mut keep = Vec::new();
    for polling in [false, true] {
        let mut c = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        c.connect().await;
        c.connect_ns("/admin", None).await.unwrap();
        c.emit("/admin", "kick", vec![]).await;
        assert_eq!(c.recv_eio().await, Eio::Text("41/admin,".into()));
        assert_eq!(
            recv(&mut reasons).await,
            ("/admin".into(), "server namespace disconnect".into())
        );
        echo_ok(&mut c, "/").await;
        c.emit("/", "kick", vec![]).await;
        assert_eq!(c.recv_eio().await, Eio::Text("41".into()));
        assert_eq!(
            recv(&mut reasons).await,
            ("/".into(), "server namespace disconnect".into())
        );
        // The session itself is still there.
        c.connect().await;
        echo_ok(&mut c, "/").await;
        keep.push(c);
    }
}

/// `disconnect_with(true)` closes the whole connection: the kicked socket
/// gets `41<nsp>,` and `server namespace disconnect`, every other socket of
/// the connection is disconnected too, and the transport closes.
#[tokio::test]
async fn disconnect_with_close_closes_connection() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let h = serve(&io).await;
    // WebSocket; polling: see `disconnect_with_close_over_polling_flushes_first`.
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.connect_ns("/admin", None).await.unwrap();
    c.emit("/admin", "kick-all", vec![]).await;
    let mut got = [recv(&mut reasons).await, recv(&mut reasons).await];
    got.sort();
    assert_eq!(
        got[1],
        ("/admin".into(), "server namespace disconnect".into())
    );
    assert_eq!(got[0].0, "/");
    let packets = drain_until_closed(&mut c).await;
    assert!(packets.contains(&"41/admin,".to_owned()), "{packets:?}");
    assert!(raw_eventually_closed(&io).await, "connection still counted");
}

/// Over polling too, packets queued before a server-side close reach the
/// client: Node's `socket.close()` waits for the write buffer to drain
/// (next GET), then sends `1`. Without the DISCONNECT packet the official
/// client reports `transport close`/`transport error` instead of
/// `io server disconnect` and reconnects.
#[tokio::test]

async fn disconnect_with_close_over_polling_flushes_first() {
    let io = Server::new();
    let (tx, _reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    let h = serve(&io).await;
    let mut c = Client::polling(h.local_addr()).await;
    c.connect().await;
    c.emit("/", "kick-all", vec![]).await;
    let packets = drain_until_closed(&mut c).await;
    assert_eq!(packets, ["41"]);
}

/// As Node's `client._disconnect()`: **every** socket of the connection is
/// disconnected like `socket.disconnect()` — a DISCONNECT packet each and
/// reason `server namespace disconnect` — before the transport closes.
#[tokio::test]

async fn disconnect_with_close_disconnects_every_namespace_like_node() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.connect_ns("/admin", None).await.unwrap();
    c.emit("/admin", "kick-all", vec![]).await;
    let mut got = [recv(&mut reasons).await, recv(&mut reasons).await];
    got.sort();
    assert_eq!(
        got,
        [
            ("/".to_owned(), "server namespace disconnect".to_owned()),
            (
                "/admin".to_owned(),
                "server namespace disconnect".to_owned()
            )
        ]
    );
    let packets = drain_until_closed(&mut c).await;
    assert!(packets.contains(&"41".to_owned()), "{packets:?}");
    assert!(packets.contains(&"41/admin,".to_owned()), "{packets:?}");
}

async fn drain_until_closed(c: &mut Client) -> Vec<String> {
    let mut packets = Vec::new();
    loop {
        match c.recv_eio().await {
            Eio::Closed => return packets,
            Eio::Text(t) if t == "1" => return packets,
            Eio::Text(t) => packets.push(t),
            other => panic!("{other:?}"),
        }
    }
}

async fn raw_eventually_closed(io: &Server) -> bool {
    common::raw::eventually(T, || io.connection_count() == 0).await
}

/// `disconnecting` runs while the socket is still in its rooms;
/// `disconnect` runs after it left them.
#[tokio::test]
async fn disconnecting_can_read_rooms() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        s.join(["room-a", "room-b"]);
        let tx1 = tx.clone();
        s.on_disconnecting(move |s, reason| {
            let mut rooms: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let _ = tx1.send(("disconnecting", reason.as_str(), rooms, s.id().to_string()));
        });
        let tx2 = tx.clone();
        s.on_disconnect(move |s, reason| {
            let rooms: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
            let _ = tx2.send(("disconnect", reason.as_str(), rooms, s.id().to_string()));
        });
    });
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    let id = c.connect().await;
    c.send_text("41").await;
    let (what, reason, rooms, sid) = recv(&mut rx).await;
    assert_eq!(
        (what, reason),
        ("disconnecting", "client namespace disconnect")
    );
    let mut expected = vec!["room-a".to_owned(), "room-b".to_owned(), id.clone()];
    expected.sort();
    assert_eq!(rooms, expected);
    assert_eq!(sid, id);
    let (what, _, rooms, _) = recv(&mut rx).await;
    assert_eq!(what, "disconnect");
    assert!(
        !rooms.iter().any(|r| r.starts_with("room-")),
        "still in rooms after disconnect: {rooms:?}"
    );
    let all_rooms = io.of("/").rooms().await;
    assert!(all_rooms.is_empty(), "{all_rooms:?}");
}

/// Server shutdown: every socket's reason is `server shutting down` and
/// every connection is closed.
#[tokio::test]
async fn shutdown_disconnects_everyone() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    reporting(&io, "/", &tx);
    reporting(&io, "/admin", &tx);
    let h = serve(&io).await;
    let mut ws = Client::ws(h.local_addr()).await;
    ws.connect().await;
    ws.connect_ns("/admin", None).await.unwrap();
    let mut polling = Client::polling(h.local_addr()).await;
    polling.connect().await;
    tokio::time::timeout(T, h.shutdown()).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(recv(&mut reasons).await);
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("/".to_owned(), "server shutting down".to_owned()),
            ("/".to_owned(), "server shutting down".to_owned()),
            ("/admin".to_owned(), "server shutting down".to_owned()),
        ]
    );
    ws.expect_closed().await;
    polling.expect_closed().await;
    assert_eq!(io.connection_count(), 0);
}

/// No CONNECT within `connect_timeout` → the connection is closed; a
/// client that joined in time is left alone.
#[tokio::test]
async fn connect_timeout_closes_idle_sessions() {
    let io = Server::builder()
        .connect_timeout(Duration::from_millis(200))
        .build();
    io.on_connection(|s: Socket| echo(&s));
    let h = serve(&io).await;
    for polling in [false, true] {
        let start = tokio::time::Instant::now();
        let mut idle = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        let mut joined = if polling {
            Client::polling(h.local_addr()).await
        } else {
            Client::ws(h.local_addr()).await
        };
        joined.connect().await;
        idle.expect_closed().await;
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        joined.expect_silence(Duration::from_millis(300)).await;
        echo_ok(&mut joined, "/").await;
    }
}

/// Node clears the connect timer once a namespace is joined: a client that
/// joined and left again before the deadline is not closed by it.
#[tokio::test]

async fn connect_timeout_cleared_once_joined() {
    let io = Server::builder()
        .connect_timeout(Duration::from_millis(200))
        .build();
    io.on_connection(|s: Socket| echo(&s));
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect().await;
    c.send_text("41").await;
    c.expect_silence(Duration::from_millis(400)).await;
    c.connect().await;
    echo_ok(&mut c, "/").await;
}

/// `of("admin")` and `of("/admin")` are the same namespace.
#[tokio::test]
async fn namespace_names_are_normalized() {
    let io = Server::new();
    assert_eq!(io.of("admin").name(), "/admin");
    let (tx, _rx) = mpsc::unbounded_channel();
    reporting(&io, "admin", &tx);
    let h = serve(&io).await;
    let mut c = Client::ws(h.local_addr()).await;
    c.connect_ns("/admin", None).await.unwrap();
    echo_ok(&mut c, "/admin").await;
}
