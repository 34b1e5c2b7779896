#![allow(clippy::unwrap_used)]
//! A foreign HTTP stack feeding the engine through `Server::host()`: axum
//! parses HTTP and WebSocket frames (tungstenite), oxsio does the rest. The
//! official JS client and python-socketio run the interop scenarios through
//! it on every transport, beside a route of the host app; refused origins
//! get 400 on polling and WebSocket alike.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use oxsio::engineio::host::{Host, WsMessage};
use oxsio::{AllowedOrigins, Server};

/// The host's handler for everything under /socket.io/.
async fn socketio(host: Host, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Ok(upgrade) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        let req = http::Request::from_parts(parts, ());
        return match host.websocket(req).await {
            Err(res) => res.map(Body::from),
            Ok(sock) => upgrade.on_upgrade(move |ws| async move {
                let (mut to_peer, mut from_peer) = ws.split();
                let (mut to_engine, mut from_engine) = sock.split();
                let up = async move {
                    while let Some(Ok(m)) = from_peer.next().await {
                        let m = match m {
                            AxMessage::Text(t) => WsMessage::Text(t.as_str().to_owned()),
                            AxMessage::Binary(b) => WsMessage::Binary(b),
                            AxMessage::Close(c) => {
                                let code = c.map(|c| c.code).unwrap_or(1005);
                                let _ = to_engine.send(WsMessage::Close(code, String::new())).await;
                                return;
                            }
                            _ => continue,
                        };
                        if to_engine.send(m).await.is_err() {
                            return;
                        }
                    }
                    let _ = to_engine.send(WsMessage::Close(1006, String::new())).await;
                };
                let down = async move {
                    while let Some(m) = from_engine.recv().await {
                        let m = match m {
                            WsMessage::Text(t) => AxMessage::Text(t.into()),
                            WsMessage::Binary(b) => AxMessage::Binary(b),
                            WsMessage::Close(code, reason) => {
                                AxMessage::Close(Some(axum::extract::ws::CloseFrame {
                                    code,
                                    reason: reason.into(),
                                }))
                            }
                        };
                        if to_peer.send(m).await.is_err() {
                            break;
                        }
                    }
                    let _ = to_peer.close().await;
                };
                tokio::join!(up, down);
            }),
        };
    }
    let body: Bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return (http::StatusCode::BAD_REQUEST, "bad body").into_response(),
    };
    host.http(http::Request::from_parts(parts, body))
        .await
        .map(Body::from)
}

async fn serve_in_axum(io: &Server) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let host = io.host();
    let app = axum::Router::new()
        .route("/hello", get(|| async { "hello from the host app" }))
        .fallback(move |req: Request| socketio(host.clone(), req));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

async fn run_peer(program: &str, script: &str, transports: &str) {
    let (addr, task) = serve_in_axum(&common::interop_app()).await;
    let hello = common::raw::get(addr, "/hello").await;
    assert_eq!(hello.text(), "hello from the host app");
    common::run_interop_peer(program, script, &format!("http://{addr}"), transports).await;
    task.abort();
}

fn python() -> String {
    common::interop_python()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_websocket_through_a_host() {
    run_peer("node", "client_scenarios.js", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_polling_through_a_host() {
    run_peer("node", "client_scenarios.js", "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_upgrade_through_a_host() {
    run_peer("node", "client_scenarios.js", "upgrade").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_upgrade_through_a_host() {
    run_peer(&python(), "python_client.py", "upgrade").await;
}

/// A host whose peer vanishes mid-session: the engine sees the close and
/// the socket disconnects with "transport close"; a message after the
/// engine is gone is an error, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_socket_ends_both_ways() {
    let io = Server::builder().build();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    io.on_connection(move |s: oxsio::Socket| {
        let tx = tx.clone();
        s.on_disconnect(move |_s, reason| {
            let _ = tx.send(reason.as_str().to_owned());
        });
    });
    let host = io.host();
    let req = http::Request::get("/socket.io/?EIO=4&transport=websocket")
        .body(())
        .unwrap();
    let (mut tx_e, mut rx_e) = host.websocket(req).await.unwrap().split();
    let open = rx_e.recv().await.unwrap();
    assert!(
        matches!(&open, WsMessage::Text(t) if t.starts_with("0{\"sid\"")),
        "{open:?}"
    );
    tx_e.send(WsMessage::Text("40".into())).await.unwrap();
    let connected = rx_e.recv().await.unwrap();
    assert!(matches!(&connected, WsMessage::Text(t) if t.starts_with("40{\"sid\"")));
    tx_e.send(WsMessage::Close(1001, String::new()))
        .await
        .unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reason, "transport close");
    assert!(tx_e.send(WsMessage::Text("3".into())).await.is_err());
    // The engine answers the peer's close and is done.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        let mut n = 0;
        while rx_e.recv().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .unwrap();
    assert!(rest <= 1);
    // An unknown sid is refused before the host accepts anything.
    let req = http::Request::get("/socket.io/?EIO=4&transport=websocket&sid=nope")
        .body(())
        .unwrap();
    let res = host.websocket(req).await.unwrap_err();
    assert_eq!(res.status(), 400);
}

/// The status of the answer to `request` (the connection may stay open).
async fn status_line(addr: SocketAddr, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before a response");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap()
}

/// `allowed_origins` refuses other origins with 400 on polling and on the
/// WebSocket upgrade, through the host and on the server's own listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_origins_get_400_everywhere() {
    for policy in [
        AllowedOrigins::List(vec!["http://good.example".into()]),
        AllowedOrigins::SameOrigin,
    ] {
        let io = Server::builder().allowed_origins(policy.clone()).build();
        let (addr, task) = serve_in_axum(&io).await;
        let handle = io.listen("127.0.0.1:0").await.unwrap();
        for target in [addr, handle.local_addr()] {
            let good = match &policy {
                AllowedOrigins::SameOrigin => format!("http://{target}"),
                _ => "http://good.example".to_owned(),
            };
            for (origin, ok) in [
                (Some("http://evil.example"), false),
                (Some(good.as_str()), true),
                (None, true),
            ] {
                let origin_header = origin
                    .map(|o| format!("Origin: {o}\r\n"))
                    .unwrap_or_default();
                let req = format!(
                    "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {target}\r\n{origin_header}Connection: close\r\n\r\n"
                );
                let res = common::raw::http_raw(target, req.as_bytes()).await;
                assert_eq!(
                    res.status == 200,
                    ok,
                    "{origin:?} on {target}: {}",
                    res.status
                );
                if !ok {
                    res.assert_error(400, 3, "Not an accepted origin.");
                }
                let req = format!(
                    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {target}\r\n{origin_header}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                );
                let status = status_line(target, req.as_bytes()).await;
                assert_eq!(status == 101, ok, "ws {origin:?} on {target}: {status}");
            }
        }
        handle.shutdown().await;
        task.abort();
    }
}

/// Long-polling responses of 1 024 bytes or more are gzip- or
/// deflate-compressed for clients that accept it (Node's
/// `httpCompression`), and sent as they are with compression off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_responses_are_compressed_above_the_threshold() {
    use std::io::Read;
    for (threshold, encoding) in [
        (Some(1024), "gzip"),
        (Some(1024), "deflate"),
        (None, "gzip"),
    ] {
        let io = Server::builder().http_compression(threshold).build();
        io.on_connection(|s: oxsio::Socket| {
            s.emit("big", "x".repeat(5000)).unwrap();
        });
        let host = io.host();
        let get = |q: String| {
            http::Request::get(format!("/socket.io/?EIO=4&transport=polling{q}"))
                .header("accept-encoding", encoding)
                .body(Bytes::new())
                .unwrap()
        };
        let open = host.http(get(String::new())).await;
        assert!(
            open.headers().get("content-encoding").is_none(),
            "small: as it is"
        );
        let text = String::from_utf8(open.body().to_vec()).unwrap();
        let sid = text.split('"').nth(3).unwrap().to_owned();
        let post = http::Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
            .body(Bytes::from_static(b"40"))
            .unwrap();
        assert_eq!(host.http(post).await.status(), 200);
        let mut body = String::new();
        while !body.contains("big") {
            let res = host.http(get(format!("&sid={sid}"))).await;
            let ce = res
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            let raw = res.into_body();
            let chunk = match ce.as_deref() {
                Some("gzip") => {
                    let mut s = String::new();
                    flate2::read::GzDecoder::new(&raw[..])
                        .read_to_string(&mut s)
                        .unwrap();
                    s
                }
                Some("deflate") => {
                    let mut s = String::new();
                    flate2::read::ZlibDecoder::new(&raw[..])
                        .read_to_string(&mut s)
                        .unwrap();
                    s
                }
                None => String::from_utf8(raw.to_vec()).unwrap(),
                Some(other) => panic!("unexpected encoding {other}"),
            };
            if chunk.contains("big") {
                assert_eq!(ce.is_some(), threshold.is_some(), "{chunk:.40}");
                if let Some(e) = &ce {
                    assert_eq!(e, encoding);
                }
            }
            body.push_str(&chunk);
        }
        assert!(body.contains(&"x".repeat(5000)));
    }
}
