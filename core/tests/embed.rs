//! Embedding: the server as a hyper service (`io.service()`) mounted in an
//! HTTP server of the application's own, next to its other routes. Clients
//! must work through it on both transports, upgrades included.
#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use common::raw::{self, Client, T};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use oxsio::engineio::RemoteAddr;
use oxsio::{Event, Server, Socket, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An application server: `/socket.io/…` goes to oxsio, anything else to
/// a handler answering `hello`. With `tag_peer`, the peer address is passed
/// to oxsio in the request extensions.
async fn app_server(io: &Server, tag_peer: bool) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = io.service();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let svc = svc.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    let svc = svc.clone();
                    async move {
                        if req.uri().path().starts_with("/socket.io/") {
                            if tag_peer {
                                req.extensions_mut().insert(RemoteAddr(peer));
                            }
                            hyper::service::Service::call(&svc, req).await
                        } else {
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"hello",
                            ))))
                        }
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, task)
}

fn echo_app() -> (Server, mpsc::UnboundedReceiver<Option<SocketAddr>>) {
    let io = Server::new();
    let (tx, rx) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        let _ = tx.send(s.handshake().remote_addr);
        s.on("echo", |ev: Event| {
            let _ = ev.ack.unwrap().send(ev.args);
        });
    });
    (io, rx)
}

async fn echo_ok(c: &mut Client) {
    c.emit_ack("/", "echo", vec![Value::from("through hyper")], 1)
        .await;
    assert_eq!(
        c.recv_ack().await,
        ("/".to_owned(), 1, vec![Value::from("through hyper")])
    );
}

/// The application's own routes keep working next to the mounted service.
#[tokio::test]
async fn other_routes_still_served() {
    let (io, _rx) = echo_app();
    let (addr, _task) = app_server(&io, false).await;
    for path in ["/", "/health", "/socket.io"] {
        let res = raw::get(addr, path).await;
        assert_eq!((res.status, res.text().as_str()), (200, "hello"), "{path}");
    }
}

/// WebSocket clients connect through the embedding server.
#[tokio::test]
async fn websocket_through_embedding_server() {
    let (io, mut rx) = echo_app();
    let (addr, _task) = app_server(&io, false).await;
    let mut c = Client::ws(addr).await;
    assert_eq!(c.open["upgrades"], serde_json::json!([]));
    c.connect().await;
    // Without the RemoteAddr extension the address is unknown.
    assert_eq!(
        tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap(),
        None
    );
    echo_ok(&mut c).await;
}

/// Polling clients connect through it, and upgrade to WebSocket.
#[tokio::test]
async fn polling_and_upgrade_through_embedding_server() {
    let (io, mut rx) = echo_app();
    let (addr, _task) = app_server(&io, true).await;
    let mut c = Client::polling(addr).await;
    assert_eq!(c.open["upgrades"], serde_json::json!(["websocket"]));
    c.connect().await;
    let peer = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(peer.map(|p| p.ip().to_string()), Some("127.0.0.1".into()));
    echo_ok(&mut c).await;
    c.upgrade().await;
    echo_ok(&mut c).await;
    assert_eq!(io.connection_count(), 1);
}

/// `Server::handle` answers 404 outside its path, and Engine.IO errors
/// inside it, when called directly.
#[tokio::test]
async fn handle_directly() {
    let io = Server::new();
    let req = Request::get("/elsewhere")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(io.handle(req).await.status(), 404);
    let req = Request::get("/socket.io/?EIO=4&transport=nope")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = io.handle(req).await;
    assert_eq!(res.status(), 400);
    let req = Request::get("/socket.io/?EIO=4&transport=polling")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = io.handle(req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(io.connection_count(), 1);
}
