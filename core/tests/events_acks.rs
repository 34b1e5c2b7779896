//! Events and acknowledgements: handler registration (`on`, `once`, `off`,
//! `on_any`, `on_any_outgoing`), per-packet middlewares, acks both ways
//! (text and binary), timeouts, reserved names, binary placement, and
//! panicking handlers — checked on the wire as the official server encodes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::raw::{Client, Eio, T, bin, serve, v};
use oxsio::codec::socketio::{Packet, PacketData};
use oxsio::{AckError, BroadcastError, EmitError, Event, Server, Socket, Value};
use serde_json::json;
use tokio::sync::mpsc;

type Tx = mpsc::UnboundedSender<String>;

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("nothing reported by the server")
        .unwrap()
}

/// Every socket acks `sync` with no args: once the ack is back, every
/// packet sent before it has been handled (handlers run in order).
fn sync_handler(socket: &Socket) {
    socket.on("sync", |ev: Event| {
        let _ = ev.ack.unwrap().send(());
    });
}

async fn sync(c: &mut Client, id: u64) {
    c.emit_ack("/", "sync", vec![], id).await;
    let (_, got, args) = c.recv_ack().await;
    assert_eq!((got, args), (id, vec![]));
}

async fn start(io: &Server, polling: bool) -> (oxsio::ServerHandle, Client) {
    let h = serve(io).await;
    let mut c = if polling {
        Client::polling(h.local_addr()).await
    } else {
        Client::ws(h.local_addr()).await
    };
    c.connect().await;
    (h, c)
}

fn report(tx: &Tx, what: impl Into<String>) {
    let _ = tx.send(what.into());
}

/// Several handlers for one event all run, in registration order, with the
/// same arguments.
#[tokio::test]
async fn several_handlers_in_order() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        for name in ["first", "second", "third"] {
            let tx = tx.clone();
            s.on("e", move |ev: Event| {
                report(&tx, format!("{name}:{}", Value::Array(ev.args).to_json()))
            });
        }
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit("/", "e", vec![Value::from(1)]).await;
    for name in ["first", "second", "third"] {
        assert_eq!(recv(&mut rx).await, format!("{name}:[1]"));
    }
}

/// `once` runs for the next event only; `on` handlers of the same event
/// keep running.
#[tokio::test]
async fn once_runs_once() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        let t = tx.clone();
        s.once("e", move |_| report(&t, "once"));
        let t = tx.clone();
        s.on("e", move |_| report(&t, "on"));
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit("/", "e", vec![]).await;
    c.emit("/", "e", vec![]).await;
    sync(&mut c, 1).await;
    let mut got = Vec::new();
    while let Ok(x) = rx.try_recv() {
        got.push(x);
    }
    assert_eq!(got, ["once", "on", "on"]);
}

/// `off` removes every handler of the event.
#[tokio::test]
async fn off_removes_handlers() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        let t = tx.clone();
        s.on("e", move |_| report(&t, "e"));
        s.on("remove", |ev: Event| ev.socket.off("e"));
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit("/", "e", vec![]).await;
    c.emit("/", "remove", vec![]).await;
    c.emit("/", "e", vec![]).await;
    sync(&mut c, 1).await;
    assert_eq!(recv(&mut rx).await, "e");
    assert!(rx.try_recv().is_err());
}

/// `on_any` sees every incoming event (name and args) before its handlers,
/// including events without a handler.
#[tokio::test]
async fn on_any_sees_every_event() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let t = tx.clone();
        s.on_any(move |ev: &Event| {
            report(
                &t,
                format!(
                    "any:{}:{}",
                    ev.name,
                    Value::Array(ev.args.clone()).to_json()
                ),
            )
        });
        let t = tx.clone();
        s.on("known", move |_| report(&t, "known"));
    });
    let (_h, mut c) = start(&io, true).await;
    c.emit("/", "known", vec![Value::from("x")]).await;
    c.emit("/", "unknown", vec![]).await;
    assert_eq!(recv(&mut rx).await, r#"any:known:["x"]"#);
    assert_eq!(recv(&mut rx).await, "known");
    assert_eq!(recv(&mut rx).await, "any:unknown:[]");
}

/// `on_unhandled` gets, by value and after `on_any`, each event no `on` or
/// `once` listener takes (also once a `once` listener is spent, and after
/// `off`); its ack can be answered.
#[tokio::test]
async fn on_unhandled_gets_events_without_listener() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let t = tx.clone();
        s.on_any(move |ev: &Event| report(&t, format!("any:{}", ev.name)));
        let t = tx.clone();
        s.on("known", move |_| report(&t, "known"));
        let t = tx.clone();
        s.once("one", move |_| report(&t, "once"));
        let t = tx.clone();
        s.on_unhandled(move |ev: Event| {
            report(
                &t,
                format!("unhandled:{}:{}", ev.name, Value::Array(ev.args).to_json()),
            );
            if let Some(ack) = ev.ack {
                let _ = ack.send(vec![Value::from("done")]);
            }
        });
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit("/", "known", vec![]).await;
    c.emit("/", "one", vec![]).await;
    c.emit("/", "one", vec![Value::from(2)]).await;
    c.emit_ack("/", "other", vec![Value::from("x")], 7).await;
    for want in [
        "any:known",
        "known",
        "any:one",
        "once",
        "any:one",
        "unhandled:one:[2]",
        "any:other",
        r#"unhandled:other:["x"]"#,
    ] {
        assert_eq!(recv(&mut rx).await, want);
    }
    let (_, id, args) = c.recv_ack().await;
    assert_eq!((id, args), (7, vec![Value::from("done")]));
}

/// `on_unhandled_raw` takes plain text events nobody listens to, with the
/// arguments as written; listeners, binary events and escaped names still
/// go their usual way, and an `on_any` handler turns it off.
#[tokio::test]
async fn on_unhandled_raw_gets_json_as_written() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let t = tx.clone();
        s.on("known", move |_| report(&t, "known"));
        let t = tx.clone();
        s.on_unhandled(move |ev: Event| {
            report(
                &t,
                format!("unhandled:{}:{}", ev.name, Value::Array(ev.args).to_json()),
            );
        });
        let t = tx.clone();
        s.on_unhandled_raw(move |ev| {
            report(&t, format!("raw:{}:[{}]", ev.name, ev.args.inner()));
            assert_eq!(
                Value::Array(ev.args.to_args()).to_json(),
                Value::from_json(&format!("[{}]", ev.args.inner()))
                    .unwrap()
                    .to_json()
            );
            if let Some(ack) = ev.ack {
                let _ = ack.send(vec![Value::from(ev.args.elements().len() as u64)]);
            }
        });
        let t = tx.clone();
        s.on("stop-raw", move |ev: Event| {
            let t = t.clone();
            ev.socket.on_any(move |_| report(&t, "any"));
        });
    });
    let (h, mut c) = start(&io, false).await;
    // Invalid JSON is refused as before: the connection closes.
    let mut broken = Client::ws(h.local_addr()).await;
    broken.connect().await;
    broken.send_text(r#"42["broken",1"#).await;
    assert_eq!(broken.recv_eio().await, Eio::Closed);
    c.send_text(r#"42["known",1]"#).await;
    c.send_text(r#"42[ "free" , 1.50, {"a": [true, null]} , "\u0041" ]"#)
        .await;
    c.send_text(r#"42["none"]"#).await;
    c.send_text(r#"427["counted","x",2]"#).await;
    c.send_text(r#"42["esc\u0061ped",1]"#).await;
    c.emit("/", "bin", vec![bin(b"ab")]).await;
    for want in [
        "known",
        r#"raw:free:[1.50, {"a": [true, null]} , "\u0041"]"#,
        "raw:none:[]",
        r#"raw:counted:["x",2]"#,
        "unhandled:escaped:[1]",
    ] {
        assert_eq!(recv(&mut rx).await, want);
    }
    let (_, id, args) = c.recv_ack().await;
    assert_eq!((id, args), (7, vec![Value::from(2)]));
    let got = recv(&mut rx).await;
    assert!(got.starts_with("unhandled:bin:"), "{got}");
    c.emit("/", "stop-raw", vec![]).await;
    c.send_text(r#"42["after",1]"#).await;
    assert_eq!(recv(&mut rx).await, "any");
    assert_eq!(recv(&mut rx).await, "unhandled:after:[1]");
}

/// `on_any_outgoing` sees every event the socket emits.
#[tokio::test]
async fn on_any_outgoing_sees_emits() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let t = tx.clone();
        s.on_any_outgoing(move |name, args| report(&t, format!("{name}:{}", args.len())));
        s.emit("hello", (1, 2)).unwrap();
        s.send("msg").unwrap();
    });
    let (_h, mut c) = start(&io, false).await;
    assert_eq!(recv(&mut rx).await, "hello:2");
    assert_eq!(recv(&mut rx).await, "message:1");
    assert_eq!(c.recv_eio().await, Eio::Text(r#"42["hello",1,2]"#.into()));
    // `send` is `emit("message", …)`.
    assert_eq!(
        c.recv_eio().await,
        Eio::Text(r#"42["message","msg"]"#.into())
    );
}

/// `on_any_outgoing` also sees the broadcasts that reach the socket (as
/// Node's adapter notifies outgoing listeners), and, with connection state
/// recovery on, a handler that emits again is called with no lock held
/// (an emit is then a broadcast into the replay log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_outgoing_sees_broadcasts_and_may_emit() {
    let io = Server::builder()
        .connection_state_recovery(oxsio::RecoveryConfig::default())
        .build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let t = tx.clone();
        let me = s.clone();
        s.on_any_outgoing(move |name, _| {
            report(&t, name.to_owned());
            if name == "news" {
                let _ = me.emit("echoed", ());
            }
        });
        let _ = s.emit("ready", ());
    });
    let (_h, mut c) = start(&io, false).await;
    assert_eq!(recv(&mut rx).await, "ready");
    io.emit("news", 1).unwrap();
    assert_eq!(
        tokio::time::timeout(T, recv(&mut rx)).await.unwrap(),
        "news"
    );
    assert_eq!(
        tokio::time::timeout(T, recv(&mut rx)).await.unwrap(),
        "echoed"
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        if let Eio::Text(t) = c.recv_eio().await {
            seen.push(t);
        }
    }
    assert!(
        seen.iter().any(|t| t.starts_with(r#"42["news",1"#)),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|t| t.starts_with(r#"42["echoed""#)),
        "{seen:?}"
    );
}

/// Per-packet middlewares may rewrite an event or refuse it: a refused
/// event reaches no handler, `on_error` gets the message, the client
/// gets nothing and stays connected.
#[tokio::test]
async fn packet_middleware_modifies_and_refuses() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        s.use_middleware(|ev: &mut Event| {
            if ev.name == "forbidden" {
                return Err("not allowed".into());
            }
            ev.args.push(Value::from("added"));
            Ok(())
        });
        let t = tx.clone();
        s.on_error(move |_, msg| report(&t, format!("error:{msg}")));
        let t = tx.clone();
        s.on("forbidden", move |_| report(&t, "forbidden ran"));
        s.on("echo", |ev: Event| {
            let _ = ev.ack.unwrap().send(ev.args);
        });
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit_ack("/", "echo", vec![Value::from(1)], 4).await;
    assert_eq!(c.recv_eio().await, Eio::Text(r#"434[1,"added"]"#.into()));
    c.emit("/", "forbidden", vec![]).await;
    assert_eq!(recv(&mut rx).await, "error:not allowed");
    sync(&mut c, 5).await;
    assert!(rx.try_recv().is_err(), "a refused event reached a handler");
}

/// A handler answers the client's ack: `43<id>[...]`, on a namespace
/// `43/admin,<id>[...]`; with a buffer `461-<id>[{placeholder}]` + the
/// attachment. Only the first answer is sent.
#[tokio::test]
async fn handler_answers_client_ack() {
    let io = Server::new();
    for nsp in ["/", "/admin"] {
        io.of(nsp).on_connection(|s: Socket| {
            s.on("echo-ack", |ev: Event| {
                let ack = ev.ack.unwrap();
                ack.clone().send(ev.args).unwrap();
                ack.send("second answer ignored").unwrap();
            });
            s.on("bin-ack", |ev: Event| {
                let _ = ev.ack.unwrap().send(("x", Value::from(vec![1u8, 2, 3])));
            });
            s.on("no-args", |ev: Event| {
                let _ = ev.ack.unwrap().send(());
            });
        });
    }
    for polling in [false, true] {
        let (_h, mut c) = start(&io, polling).await;
        c.connect_ns("/admin", None).await.unwrap();
        c.send_text(r#"421["echo-ack","a",{"b":[1,2.5,null]}]"#)
            .await;
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(r#"431["a",{"b":[1,2.5,null]}]"#.into())
        );
        c.send_text(r#"42/admin,77["echo-ack","z"]"#).await;
        assert_eq!(c.recv_eio().await, Eio::Text(r#"43/admin,77["z"]"#.into()));
        c.send_text(r#"4212["no-args"]"#).await;
        assert_eq!(c.recv_eio().await, Eio::Text("4312[]".into()));
        c.send_text(r#"42/admin,3["bin-ack"]"#).await;
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(r#"461-/admin,3["x",{"_placeholder":true,"num":0}]"#.into())
        );
        assert_eq!(c.recv_eio().await, Eio::Binary(vec![1, 2, 3]));
        // The second `send` on the same ack produced nothing.
        c.send_text(r#"4213["no-args"]"#).await;
        assert_eq!(c.recv_eio().await, Eio::Text("4313[]".into()));
    }
}

/// Server `emit_with_ack`: ids start at 0 per namespace; a text or binary
/// answer resolves the future; an unknown ack id is ignored.
#[tokio::test]
async fn server_emit_with_ack_answered() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let tx = tx.clone();
        s.on_async("ask", move |ev: Event| {
            let tx = tx.clone();
            async move {
                let r = ev.socket.emit_with_ack("question", ev.args).await;
                let _ = tx.send(r);
            }
        });
    });
    for polling in [false, true] {
        let (_h, mut c) = start(&io, polling).await;
        // A stray ack id first: ignored.
        c.ack("/", 999, vec![Value::from("stray")]).await;
        c.emit("/", "ask", vec![Value::from(1)]).await;
        let (_, name, args, id) = c.recv_event().await;
        assert_eq!((name.as_str(), args), ("question", vec![Value::from(1)]));
        let id = id.expect("no ack id");
        c.ack("/", id, vec![Value::from("answer"), Value::from(2)])
            .await;
        assert_eq!(
            recv(&mut rx).await,
            Ok(vec![Value::from("answer"), Value::from(2)])
        );
        // Binary answer: `461-<id>[{placeholder}]` + attachment.
        c.emit("/", "ask", vec![]).await;
        let (_, _, _, id2) = c.recv_event().await;
        let id2 = id2.unwrap();
        assert_eq!(id2, id + 1);
        c.send_batch(&[
            Eio::Text(format!(r#"461-{id2}[{{"_placeholder":true,"num":0}}]"#)),
            Eio::Binary(vec![9, 8]),
        ])
        .await;
        assert_eq!(recv(&mut rx).await, Ok(vec![Value::from(vec![9u8, 8])]));
    }
}

/// The first ack id of a namespace is 0, as Node's per-namespace counter.
#[tokio::test]
async fn first_ack_id_is_zero() {
    let io = Server::new();
    io.on_connection(|s: Socket| {
        tokio::spawn(s.emit_with_ack("q", ()));
    });
    let (_h, mut c) = start(&io, false).await;
    assert_eq!(c.recv_eio().await, Eio::Text(r#"420["q"]"#.into()));
}

/// No answer within the timeout → `AckError::Timeout`; a late answer is
/// ignored; a disconnect first → `AckError::Disconnected`.
#[tokio::test]
async fn server_emit_with_ack_timeout_and_disconnect() {
    let io = Server::builder()
        .ack_timeout(Duration::from_millis(150))
        .build();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        let t = tx.clone();
        s.on_async("ask-short", move |ev: Event| {
            let t = t.clone();
            async move {
                let r = ev
                    .socket
                    .timeout(Duration::from_millis(100))
                    .emit_with_ack("q", ())
                    .await;
                let _ = t.send(r);
            }
        });
        let t = tx.clone();
        s.on_async("ask-default", move |ev: Event| {
            let t = t.clone();
            async move {
                let _ = t.send(ev.socket.emit_with_ack("q", ()).await);
            }
        });
        let t = tx.clone();
        s.on_async("ask-long", move |ev: Event| {
            let t = t.clone();
            async move {
                let r = ev
                    .socket
                    .timeout(Duration::from_secs(4))
                    .emit_with_ack("q", ())
                    .await;
                let _ = t.send(r);
            }
        });
    });
    let (_h, mut c) = start(&io, false).await;
    let started = tokio::time::Instant::now();
    c.emit("/", "ask-short", vec![]).await;
    let (_, _, _, id) = c.recv_event().await;
    assert_eq!(recv(&mut rx).await, Err(AckError::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(90));
    // Late answer: ignored, the connection lives on.
    c.ack("/", id.unwrap(), vec![]).await;
    sync(&mut c, 100).await;
    // The builder's default ack timeout applies to a plain emit_with_ack.
    let started = tokio::time::Instant::now();
    c.emit("/", "ask-default", vec![]).await;
    c.recv_event().await;
    assert_eq!(recv(&mut rx).await, Err(AckError::Timeout));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(140) && took < Duration::from_secs(2),
        "{took:?}"
    );
    c.emit("/", "ask-long", vec![]).await;
    c.recv_event().await;
    c.send_text("41").await;
    assert_eq!(recv(&mut rx).await, Err(AckError::Disconnected));
}

/// Emits on a disconnected socket fail with `Disconnected`.
#[tokio::test]
async fn emit_after_disconnect_fails() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let tx = tx.clone();
        s.on_disconnect(move |s, _| {
            let _ = tx.send(s.clone());
        });
    });
    let (_h, mut c) = start(&io, false).await;
    c.send_text("41").await;
    let s = recv(&mut rx).await;
    assert!(!s.connected());
    assert_eq!(s.emit("x", ()), Err(EmitError::Disconnected));
    assert_eq!(
        s.emit_with_ack("x", ()).await,
        Err(AckError::Emit(EmitError::Disconnected))
    );
}

/// Reserved event names cannot be emitted (socket, broadcast, with ack).
#[tokio::test]
async fn reserved_event_names() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let _ = tx.send(s);
    });
    let (_h, mut c) = start(&io, false).await;
    let s = recv(&mut rx).await;
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert_eq!(s.emit(name, ()), Err(EmitError::ReservedEvent(name.into())));
        assert_eq!(
            io.emit(name, ()),
            Err(BroadcastError::ReservedEvent(name.into()))
        );
        assert_eq!(
            s.broadcast().emit(name, ()),
            Err(BroadcastError::ReservedEvent(name.into()))
        );
        assert!(matches!(
            s.emit_with_ack(name, ()).await,
            Err(AckError::Emit(EmitError::ReservedEvent(_)))
        ));
        assert!(io.timeout(T).emit_with_ack(name, ()).await.is_err());
    }
    // Nothing reached the client.
    s.emit("ok", ()).unwrap();
    assert_eq!(c.recv_eio().await, Eio::Text(r#"42["ok"]"#.into()));
}

fn nested_with_binaries() -> Vec<Value> {
    let mut obj = oxsio::Map::new();
    obj.insert(
        "a".into(),
        Value::Array(vec![bin(b"one"), v(json!({"keep": true}))]),
    );
    let mut inner = oxsio::Map::new();
    inner.insert(
        "deep".into(),
        Value::Array(vec![Value::Array(vec![bin(b"two")])]),
    );
    obj.insert("b".into(), Value::Object(inner));
    obj.insert("c".into(), Value::from("text"));
    vec![Value::Object(obj), bin(b"three"), Value::from(4)]
}

/// Binary anywhere in the arguments: the server numbers placeholders in
/// depth-first order and sends the attachments in that order.
#[tokio::test]
async fn nested_binary_server_to_client() {
    let io = Server::new();
    io.on_connection(|s: Socket| {
        s.emit("nested", nested_with_binaries()).unwrap();
    });
    for polling in [false, true] {
        let (_h, mut c) = start(&io, polling).await;
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(
                concat!(
                    r#"453-["nested",{"a":[{"_placeholder":true,"num":0},{"keep":true}],"#,
                    r#""b":{"deep":[[{"_placeholder":true,"num":1}]]},"c":"text"},"#,
                    r#"{"_placeholder":true,"num":2},4]"#
                )
                .into()
            )
        );
        for expected in [&b"one"[..], b"two", b"three"] {
            assert_eq!(c.recv_eio().await, Eio::Binary(expected.to_vec()));
        }
    }
}

/// Binary anywhere in a client's event reaches the handler in place, even
/// with placeholders referenced out of order; echoing it back round-trips.
#[tokio::test]
async fn nested_binary_client_to_server() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let tx = tx.clone();
        s.on("nested", move |ev: Event| {
            let _ = tx.send(ev.args.clone());
            let _ = ev.ack.unwrap().send(ev.args);
        });
    });
    for polling in [false, true] {
        let (_h, mut c) = start(&io, polling).await;
        c.send_batch(&[
            Eio::Text(
                r#"452-7["nested",{"x":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0}]"#
                    .into(),
            ),
            Eio::Binary(b"zero".to_vec()),
            Eio::Binary(b"one".to_vec()),
        ])
        .await;
        let args = recv(&mut rx).await;
        let mut x = oxsio::Map::new();
        x.insert("x".into(), Value::Array(vec![bin(b"one")]));
        assert_eq!(args, vec![Value::Object(x), bin(b"zero")]);
        // The ack re-encodes in depth-first order.
        assert_eq!(
            c.recv_eio().await,
            Eio::Text(
                r#"462-7[{"x":[{"_placeholder":true,"num":0}]},{"_placeholder":true,"num":1}]"#
                    .into()
            )
        );
        assert_eq!(c.recv_eio().await, Eio::Binary(b"one".to_vec()));
        assert_eq!(c.recv_eio().await, Eio::Binary(b"zero".to_vec()));
        // Through the codec helper, the full tree round-trips.
        c.send_packet(&Packet::event(
            "/",
            "nested",
            nested_with_binaries(),
            Some(8),
        ))
        .await;
        assert_eq!(recv(&mut rx).await, nested_with_binaries());
        let p = c.recv_packet().await;
        assert_eq!(
            p.data,
            PacketData::Ack {
                args: nested_with_binaries(),
                id: Some(8)
            }
        );
    }
}

/// A panicking handler (event, `on_any`, connection) does not kill the
/// connection or the server.
#[tokio::test]
async fn panicking_handler_keeps_connection() {
    let io = Server::new();
    let (tx, mut reasons) = mpsc::unbounded_channel();
    io.on_connection(|_| panic!("connection handler panicked (expected by the test)"));
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        s.on("boom", |_| {
            panic!("event handler panicked (expected by the test)")
        });
        s.on_any(|ev: &Event| {
            if ev.name == "boom-any" {
                panic!("on_any panicked (expected by the test)");
            }
        });
        let tx = tx.clone();
        s.on_disconnect(move |_, r| {
            let _ = tx.send(r.as_str().to_owned());
        });
    });
    let (_h, mut c) = start(&io, false).await;
    c.emit("/", "boom", vec![]).await;
    c.emit("/", "boom-any", vec![]).await;
    sync(&mut c, 1).await;
    c.emit_ack("/", "boom", vec![], 2).await;
    sync(&mut c, 3).await;
    assert!(reasons.try_recv().is_err(), "socket was disconnected");
}

/// A numeric event name (`2[1,"x"]`) is valid: it is the event `"1"`. An
/// ACK without id is ignored.
#[tokio::test]
async fn numeric_event_name_and_ack_without_id() {
    let io = Server::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        sync_handler(&s);
        let tx = tx.clone();
        s.on("1", move |ev: Event| {
            report(&tx, format!("one:{}", ev.args.len()))
        });
    });
    let (_h, mut c) = start(&io, false).await;
    c.send_text(r#"42[1,"x"]"#).await;
    assert_eq!(recv(&mut rx).await, "one:1");
    c.send_text(r#"43["no id"]"#).await;
    sync(&mut c, 2).await;
}
