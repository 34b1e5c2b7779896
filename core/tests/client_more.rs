//! More of the client: TLS (custom CA, accept-invalid switch, refusal),
//! python-socketio as the server, a server that stops pinging, auth
//! refreshed on reconnect, reconnection events, graceful flush, catch-alls.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxsio::client::{
    Auth, ClientBuilder, ClientDisconnectReason, ClientError, ClientEvent, ClientOptions, Manager,
    Reconnection, RootCerts, TlsOptions,
};
use oxsio::{Event, Server, Socket, Transport, Value};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("in time")
        .unwrap()
}

fn fast_retry() -> Reconnection {
    Reconnection {
        delay: Duration::from_millis(50),
        delay_max: Duration::from_millis(200),
        ..Default::default()
    }
}

/// Serves `io` over TLS with a fresh self-signed certificate for localhost;
/// returns the port and the certificate in PEM.
async fn tls_server(io: Server) -> (u16, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = ck.cert.pem();
    let cert = rustls_pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls_pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, io) = (acceptor.clone(), io.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = io.service();
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (port, pem)
}

fn echo_server() -> Server {
    let io = Server::new();
    io.on_connection(|s: Socket| {
        s.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
    });
    io
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_custom_ca_accept_invalid_and_refusal() {
    let (port, pem) = tls_server(echo_server()).await;
    for transports in [
        vec![Transport::Websocket],
        vec![Transport::Polling, Transport::Websocket],
    ] {
        for url in [
            format!("https://localhost:{port}"),
            format!("wss://localhost:{port}"),
        ] {
            let tls = TlsOptions {
                extra_ca_pem: Some(pem.clone().into_bytes()),
                ..Default::default()
            };
            let (tx, mut rx) = mpsc::unbounded_channel();
            let socket = ClientBuilder::new(&url)
                .transports(transports.clone())
                .tls(tls)
                .on("echo", move |ev| {
                    let _ = tx.send(ev.args);
                })
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            socket.emit("echo", "over tls").unwrap();
            assert_eq!(recv(&mut rx).await, vec![Value::from("over tls")]);
            socket.disconnect();
        }
    }
    // The development switch accepts the unknown certificate.
    let insecure = TlsOptions {
        accept_invalid_certs: true,
        ..Default::default()
    };
    let s = ClientBuilder::new(format!("https://localhost:{port}"))
        .tls(insecure)
        .connect()
        .await
        .unwrap();
    s.disconnect();
    // Default roots refuse it, with a typed error and no retry loop.
    for roots in [RootCerts::Webpki, RootCerts::System] {
        let no_retry = ClientOptions {
            tls: TlsOptions {
                roots,
                ..Default::default()
            },
            reconnection: Reconnection {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let r = ClientBuilder::new(format!("https://localhost:{port}"))
            .options(no_retry)
            .connect()
            .await;
        assert!(matches!(r, Err(ClientError::Tls(_))), "{r:?}");
    }
    // A CA file that is not PEM is refused when building.
    let bad = TlsOptions {
        extra_ca_pem: Some(b"not a pem".to_vec()),
        ..Default::default()
    };
    assert!(matches!(
        ClientBuilder::new("https://localhost:1").tls(bad).build(),
        Err(ClientError::Tls(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_server() {
    let mut cmd = tokio::process::Command::new(common::interop_python());
    cmd.arg("python_server.py").arg("0");
    let (mut child, port) = common::start_peer(cmd).await;
    for transports in [
        vec![Transport::Websocket],
        vec![Transport::Polling],
        vec![Transport::Polling, Transport::Websocket],
    ] {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Vec<Value>)>();
        let (t1, t2) = (tx.clone(), tx.clone());
        let socket = ClientBuilder::new(format!("http://127.0.0.1:{port}"))
            .transports(transports.clone())
            .auth(json!({"token": "py"}))
            .on("welcome", move |ev| {
                let _ = t1.send(("welcome".into(), ev.args));
            })
            .on("echo", move |ev| {
                let _ = t2.send(("echo".into(), ev.args));
            })
            .on("answer", move |ev| {
                let _ = tx.send(("answer".into(), ev.args));
            })
            .connect()
            .await
            .unwrap();
        let (name, args) = recv(&mut rx).await;
        assert_eq!(name, "welcome");
        assert_eq!(args[0]["auth"]["token"], Value::from("py"));
        socket.emit("echo", json!({"n": [1, 2]})).unwrap();
        assert_eq!(
            recv(&mut rx).await,
            ("echo".into(), vec![Value::from(json!({"n": [1, 2]}))])
        );
        socket.emit("echo", vec![7u8, 8]).unwrap();
        assert_eq!(
            recv(&mut rx).await,
            ("echo".into(), vec![Value::from(vec![7u8, 8])])
        );
        let acked = socket.emit_with_ack("echo-ack", ("a", 1)).await.unwrap();
        assert_eq!(
            acked,
            vec![Value::from("a"), Value::from(1)],
            "{transports:?}"
        );
        // python-socketio's `call` answered by a Rust handler.
        socket.on("question", |ev: ClientEvent| {
            let q = ev.arg(0).as_i64().unwrap();
            ev.ack.unwrap().send(q * 2).unwrap();
        });
        socket.emit("ask", 21).unwrap();
        assert_eq!(
            recv(&mut rx).await,
            ("answer".into(), vec![Value::from(42)])
        );
        socket.disconnect();
    }
    let _ = child.kill().await;
}

/// A server that completes the handshake and then goes silent: the client
/// declares it dead after pingInterval + pingTimeout and reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_is_detected_and_client_reconnects() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            use futures_util::{SinkExt, StreamExt};
            ws.send(r#"0{"sid":"aaaaaaaaaaaaaaaaaaaa","upgrades":[],"pingInterval":100,"pingTimeout":100,"maxPayload":1000}"#.into()).await.unwrap();
            // Accept the namespace, then never ping again.
            if let Some(Ok(_)) = ws.next().await {
                ws.send(r#"40{"sid":"bbbbbbbbbbbbbbbbbbbb"}"#.into())
                    .await
                    .unwrap();
            }
            held.push(ws);
        }
    });
    let socket = ClientBuilder::new(format!("ws://127.0.0.1:{port}"))
        .transports([Transport::Websocket])
        .reconnection(fast_retry())
        .connect()
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    socket.on_disconnect(move |_, r| {
        let _ = tx.send(r);
    });
    assert_eq!(recv(&mut rx).await, ClientDisconnectReason::PingTimeout);
    tokio::time::timeout(T, async {
        while accepted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("reconnected after the ping timeout");
    socket.disconnect();
}

/// The auth provider runs before every attempt, so a refreshed token reaches
/// the server after a restart; reconnection events fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_provider_refreshes_on_reconnect() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let make = |seen: Arc<Mutex<Vec<Value>>>| {
        let io = Server::new();
        io.on_connection(move |s: Socket| {
            seen.lock()
                .unwrap()
                .push(s.handshake().auth["token"].clone())
        });
        io
    };
    let h = make(seen.clone()).listen("127.0.0.1:0").await.unwrap();
    let port = h.local_addr().port();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let auth = Auth::from_fn(move || {
        Value::from(json!({"token": format!("token-{}", n2.fetch_add(1, Ordering::SeqCst))}))
    });
    let manager = Manager::new(
        &format!("http://127.0.0.1:{port}"),
        ClientOptions {
            reconnection: fast_retry(),
            ..Default::default()
        },
    )
    .unwrap();
    let (etx, mut events) = mpsc::unbounded_channel::<String>();
    let (e1, e2) = (etx.clone(), etx.clone());
    manager.on_reconnect_attempt(move |a| {
        let _ = e1.send(format!("attempt {a}"));
    });
    manager.on_reconnect(move |a| {
        let _ = e2.send(format!("reconnect {a}"));
    });
    // A non-object auth is refused locally, with a clear error.
    let bad = manager.socket_with_auth("/bad", Auth::from_fn(|| Value::from("just a string")));
    assert!(matches!(bad.connect().await, Err(ClientError::Protocol(_))));
    let socket = manager.socket_with_auth("/", auth);
    socket.connect().await.unwrap();
    h.shutdown().await;
    assert!(recv(&mut events).await.starts_with("attempt"));
    let _h2 = make(seen.clone())
        .listen(("127.0.0.1", port))
        .await
        .unwrap();
    loop {
        if recv(&mut events).await.starts_with("reconnect") {
            break;
        }
    }
    socket.connect_timeout(T).await.unwrap();
    let tokens = seen.lock().unwrap().clone();
    assert_eq!(tokens.first(), Some(&Value::from("token-0")));
    assert!(
        tokens.len() >= 2 && tokens.last() != tokens.first(),
        "{tokens:?}"
    );
    manager.close();
}

#[tokio::test]
async fn gives_up_after_the_attempt_limit() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let opts = ClientOptions {
        reconnection: Reconnection {
            attempts: Some(2),
            ..fast_retry()
        },
        ..Default::default()
    };
    let manager = Manager::new(&format!("http://127.0.0.1:{port}"), opts).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t2 = tx.clone();
    manager.on_reconnect_attempt(move |a| {
        let _ = tx.send(a);
    });
    manager.on_reconnect_failed(move || {
        let _ = t2.send(0);
    });
    let socket = manager.socket("/");
    socket.open();
    assert_eq!(recv(&mut rx).await, 1);
    assert_eq!(recv(&mut rx).await, 2);
    assert_eq!(recv(&mut rx).await, 0, "gave up");
    tokio::time::timeout(T, async {
        while manager.is_active() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
}

/// `disconnect` flushes what was queued first; catch-alls see both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_disconnect_flushes_and_catch_alls_fire() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let io = Server::new();
    let g = got.clone();
    io.on_connection(move |s: Socket| {
        let g = g.clone();
        s.on("n", move |ev: Event| {
            g.lock().unwrap().push(ev.arg(0).as_i64().unwrap())
        });
        let _ = s.emit("hello", 1);
    });
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", h.local_addr());
    for transports in [vec![Transport::Websocket], vec![Transport::Polling]] {
        got.lock().unwrap().clear();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let t2 = tx.clone();
        let socket = ClientBuilder::new(&url)
            .transports(transports.clone())
            .build()
            .unwrap();
        socket.on_any(move |ev| {
            let _ = tx.send(format!("in:{}", ev.name));
        });
        socket.on_any_outgoing(move |name, _| {
            let _ = t2.send(format!("out:{name}"));
        });
        socket.connect().await.unwrap();
        assert_eq!(recv(&mut rx).await, "in:hello");
        for i in 0..200 {
            socket.emit("n", i).unwrap();
        }
        socket.disconnect();
        assert_eq!(recv(&mut rx).await, "out:n");
        tokio::time::timeout(T, async {
            while got.lock().unwrap().len() < 200 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{transports:?}: only {} of 200 arrived",
                got.lock().unwrap().len()
            )
        });
        assert_eq!(*got.lock().unwrap(), (0..200).collect::<Vec<_>>());
    }
    h.shutdown().await;
    let _ = tokio::io::sink().write_all(b"").await;
}

/// Several namespaces opened before the connection is up: one CONNECT each
/// (the server closes a connection that sends a duplicate). When the server
/// then removes the last namespace in use, the connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_opened_together_connect_once_and_close_with_the_last() {
    let io = Server::new();
    io.of("/admin").on_connection(|_s: Socket| {});
    io.on_connection(|s: Socket| {
        s.on("kick", |ev: Event| ev.socket.disconnect());
    });
    let h = io.listen("127.0.0.1:0").await.unwrap();
    for transports in [vec![Transport::Websocket], vec![Transport::Polling]] {
        let manager = Manager::new(
            &format!("http://{}", h.local_addr()),
            ClientOptions {
                transports: transports.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        let (main, admin) = (manager.socket("/"), manager.socket("/admin"));
        main.open();
        admin.open();
        let (a, b) = tokio::join!(main.connect_timeout(T), admin.connect_timeout(T));
        a.unwrap();
        b.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            main.connected() && admin.connected(),
            "{transports:?}: a duplicate CONNECT broke the connection"
        );
        admin.disconnect();
        main.emit("kick", ()).unwrap();
        tokio::time::timeout(T, async {
            while manager.is_active() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!("{transports:?}: connection kept open after the last namespace left")
        });
    }
    h.shutdown().await;
}
