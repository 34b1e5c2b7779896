#![allow(clippy::unwrap_used)]
//! The standalone listener answers 400 where Node's HTTP parser and `ws`
//! do: a missing `Host` on HTTP/1.1, `Content-Length` with
//! `Transfer-Encoding` (request smuggling), an invalid
//! `Sec-WebSocket-Key`, and a WebSocket upgrade over HTTP/1.0.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use oxsio::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status line of the answer to `request`.
async fn status(addr: SocketAddr, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400() {
    let io = Server::new();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let a = handle.local_addr();
    let poll = "/socket.io/?EIO=4&transport=polling";
    let ws = "/socket.io/?EIO=4&transport=websocket";
    let upgrade = |version: &str, key: &str| {
        format!(
            "GET {ws} HTTP/{version}\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "HTTP/1.1 without Host",
            format!("GET {poll} HTTP/1.1\r\nConnection: close\r\n\r\n"),
            "400",
        ),
        (
            "Content-Length with chunked",
            format!(
                "POST {poll} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            "400",
        ),
        (
            "invalid Sec-WebSocket-Key",
            upgrade("1.1", "not-a-key"),
            "400",
        ),
        (
            "a key of 15 bytes",
            upgrade("1.1", "AAAAAAAAAAAAAAAAAAAA"),
            "400",
        ),
        ("HTTP/1.0 upgrade", upgrade("1.0", KEY), "400"),
        // The same requests done right are served.
        (
            "HTTP/1.1 with Host",
            format!("GET {poll} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "200",
        ),
        (
            "HTTP/1.0 without Host",
            format!("GET {poll} HTTP/1.0\r\n\r\n"),
            "200",
        ),
        ("a valid upgrade", upgrade("1.1", KEY), "101"),
    ];
    for (name, req, want) in cases {
        let line = status(a, &req).await;
        assert!(
            line.split(' ').nth(1) == Some(want),
            "{name}: {line:?}, want {want}"
        );
    }
    // The server keeps serving.
    assert!(
        status(
            a,
            &format!("GET {poll} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        )
        .await
        .contains(" 200 ")
    );
    handle.shutdown().await;
}
