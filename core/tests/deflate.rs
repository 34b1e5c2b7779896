//! permessage-deflate on the server (`ServerBuilder::per_message_deflate`):
//! negotiated with the official JS client (Node's `ws`, which offers it),
//! compressed both ways, declined when off; and on raw frames a
//! decompression bomb (1009), data that does not inflate (1007), RSV1
//! where it is not allowed (1002), and a compressed message in fragments.
//!
//! The JS client is installed by `tests/interop/setup.sh` (the README test command).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use oxsio::codec::deflate;
use oxsio::codec::websocket::{self as ws, Opcode, Sender};
use oxsio::{Event, Server, ServerHandle, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

async fn echo_server(deflate: Option<usize>, max_payload: usize) -> ServerHandle {
    let io = Server::builder()
        .per_message_deflate(deflate)
        .max_payload(max_payload)
        .build();
    io.on_connection(|s: Socket| {
        s.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
    });
    io.listen("127.0.0.1:0").await.unwrap()
}

/// Runs deflate_client.js; its `ok` line's fields.
async fn js_client(addr: SocketAddr) -> (String, u64, u64) {
    let dir = common::repo_root().join("tests/interop");
    let out = tokio::process::Command::new("node")
        .arg(dir.join("deflate_client.js"))
        .arg(format!("http://{addr}"))
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("node did not finish")
        .expect("cannot start node (run tests/interop/setup.sh)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().find(|l| l.starts_with("ok ")).unwrap();
    let field = |key: &str| -> u64 {
        line.split(' ')
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    let ext = line
        .trim_start_matches("ok ")
        .split(" read=")
        .next()
        .unwrap()
        .to_owned();
    (ext, field("read="), field("written="))
}

/// The echo carries 200 kB of text and 100 kB of binary each way.
const PAYLOAD: u64 = 300_000;

#[tokio::test]
async fn the_js_client_compresses_both_ways_when_enabled() {
    let h = echo_server(Some(1024), 1_000_000).await;
    let (ext, read, written) = js_client(h.local_addr()).await;
    assert_eq!(ext, "permessage-deflate");
    // Both payloads are highly compressible: each way moves a few kB.
    assert!(
        read < PAYLOAD / 10,
        "the server did not compress: read {read}"
    );
    assert!(
        written < PAYLOAD / 10,
        "the client did not compress: wrote {written}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn the_extension_is_declined_when_off() {
    let h = echo_server(None, 1_000_000).await;
    let (ext, read, written) = js_client(h.local_addr()).await;
    assert_eq!(ext, "-");
    assert!(read > PAYLOAD && written > PAYLOAD, "{read} {written}");
    h.shutdown().await;
}

/// A raw WebSocket: its stream, the bytes read past the handshake, and
/// whether the server agreed on permessage-deflate.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    deflate: bool,
    /// The answer's `Sec-WebSocket-Extensions` (lowercase), if any.
    extensions: Option<String>,
    /// Whether the last data frame from the server was compressed.
    last_compressed: bool,
}

impl Raw {
    async fn connect(addr: SocketAddr, offer: Option<&str>) -> Raw {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let ext = offer
            .map(|o| format!("Sec-WebSocket-Extensions: {o}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{ext}\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(T, stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 101"), "{head}");
        let deflate = head.contains("sec-websocket-extensions: permessage-deflate");
        let extensions = head
            .lines()
            .find_map(|l| l.strip_prefix("sec-websocket-extensions: "))
            .map(str::to_owned);
        let mut raw = Raw {
            stream,
            buf: buf.split_off(end),
            deflate,
            extensions,
            last_compressed: false,
        };
        let (op, open) = raw.recv().await.unwrap();
        assert_eq!((op, open.first()), (Opcode::Text, Some(&b'0')));
        raw
    }

    /// Sends one frame, masked, with RSV1 as given.
    async fn send(&mut self, opcode: Opcode, fin: bool, rsv1: bool, payload: &[u8]) {
        let mask = [1, 2, 3, 4];
        let mut out = Vec::new();
        ws::write_header_with(&mut out, opcode, payload.len(), rsv1, Some(mask));
        if !fin {
            out[0] &= 0x7f;
        }
        let mut body = payload.to_vec();
        ws::unmask(&mut body, mask);
        out.extend_from_slice(&body);
        self.stream.write_all(&out).await.unwrap();
    }

    /// The next data or close frame's opcode and payload (inflated if
    /// compressed); `None` once the connection ends.
    async fn recv(&mut self) -> Option<(Opcode, Vec<u8>)> {
        loop {
            if let Some(f) =
                ws::parse_frame_header(&self.buf, usize::MAX >> 1, Sender::Server, self.deflate)
                    .unwrap()
                && self.buf.len() >= f.header_len + f.len
            {
                let payload = self.buf[f.header_len..f.header_len + f.len].to_vec();
                self.buf.drain(..f.header_len + f.len);
                if !f.opcode.is_control() {
                    self.last_compressed = f.compressed;
                }
                let payload = if f.compressed {
                    deflate::decompress(&payload, 10 << 20).unwrap()
                } else {
                    payload
                };
                if matches!(f.opcode, Opcode::Ping | Opcode::Pong) {
                    continue;
                }
                return Some((f.opcode, payload));
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(T, self.stream.read(&mut chunk))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The code of the close frame the server sends.
    async fn close_code(&mut self) -> u16 {
        loop {
            match self.recv().await {
                Some((Opcode::Close, p)) => return u16::from_be_bytes([p[0], p[1]]),
                Some(_) => {}
                None => panic!("no close frame"),
            }
        }
    }
}

fn compressed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    deflate::compress(data, &mut out);
    out
}

#[tokio::test]
async fn raw_compressed_frames_both_ways() {
    let h = echo_server(Some(0), 1_000_000).await;
    let offer = "permessage-deflate; client_max_window_bits";
    let mut c = Raw::connect(h.local_addr(), Some(offer)).await;
    assert!(c.deflate);
    // A compressed CONNECT, answered compressed (threshold 0).
    c.send(Opcode::Text, true, true, &compressed(b"40")).await;
    let (_, reply) = c.recv().await.unwrap();
    assert!(reply.starts_with(b"40{\"sid\":"), "{reply:?}");
    // A compressed message in two fragments: RSV1 on the first only.
    let event = compressed(br#"42["echo","fragmented"]"#);
    let (a, b) = event.split_at(event.len() / 2);
    c.send(Opcode::Text, false, true, a).await;
    c.send(Opcode::Continuation, true, false, b).await;
    let (_, reply) = c.recv().await.unwrap();
    assert_eq!(reply, br#"42["echo","fragmented"]"#);
    // Uncompressed messages stay allowed.
    c.send(Opcode::Text, true, false, br#"42["echo","plain"]"#)
        .await;
    assert_eq!(c.recv().await.unwrap().1, br#"42["echo","plain"]"#);
    h.shutdown().await;
}

#[tokio::test]
async fn offers_the_server_cannot_honour_are_declined() {
    let h = echo_server(Some(0), 1_000_000).await;
    for bad in [
        "server_max_window_bits=7",
        "unknown_param",
        "server_no_context_takeover=1",
    ] {
        let offer = format!("permessage-deflate; {bad}");
        let c = Raw::connect(h.local_addr(), Some(&offer)).await;
        assert!(!c.deflate, "{bad}");
    }
    let c = Raw::connect(h.local_addr(), None).await;
    assert!(!c.deflate);
    h.shutdown().await;
}

/// A client that allows the server a 512-byte window
/// (`server_max_window_bits=9`, Autobahn 13.3 and 13.5) gets messages of
/// at most 512 bytes compressed and larger ones plain.
#[tokio::test]
async fn a_small_server_window_bounds_what_is_compressed() {
    let h = echo_server(Some(0), 1_000_000).await;
    let offer = "permessage-deflate; server_max_window_bits=9";
    let mut c = Raw::connect(h.local_addr(), Some(offer)).await;
    assert!(c.deflate);
    let ext = c.extensions.clone().unwrap();
    assert!(ext.contains("server_max_window_bits=9"), "{ext}");
    c.send(Opcode::Text, true, false, b"40").await;
    c.recv().await.unwrap();
    assert!(c.last_compressed);
    for (len, compressed) in [(400, true), (2000, false)] {
        let event = format!("42[\"echo\",\"{}\"]", "a".repeat(len));
        c.send(Opcode::Text, true, false, event.as_bytes()).await;
        assert_eq!(c.recv().await.unwrap().1, event.as_bytes());
        assert_eq!(c.last_compressed, compressed, "{len}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_at_max_payload() {
    let h = echo_server(Some(1024), 100_000).await;
    let mut c = Raw::connect(h.local_addr(), Some("permessage-deflate")).await;
    c.send(Opcode::Text, true, true, &compressed(b"40")).await;
    c.recv().await.unwrap();
    // 50 MB of one character: about 50 kB on the wire, under max_payload.
    let mut bomb = br#"42["echo",""#.to_vec();
    bomb.resize(50_000_000, b'a');
    bomb.extend_from_slice(br#""]"#);
    let wire = compressed(&bomb);
    assert!(wire.len() < 100_000);
    c.send(Opcode::Text, true, true, &wire).await;
    assert_eq!(c.close_code().await, 1009);
    h.shutdown().await;
}

#[tokio::test]
async fn bad_compressed_frames_close_the_connection() {
    let h = echo_server(Some(1024), 1_000_000).await;
    // Data that does not inflate: 1007, as Node's ws.
    let mut c = Raw::connect(h.local_addr(), Some("permessage-deflate")).await;
    c.send(Opcode::Text, true, true, &[0xff, 0xff, 0xff, 0xff])
        .await;
    assert_eq!(c.close_code().await, 1007);
    // RSV1 on a continuation frame.
    let mut c = Raw::connect(h.local_addr(), Some("permessage-deflate")).await;
    c.send(Opcode::Text, false, true, &compressed(b"4")).await;
    c.send(Opcode::Continuation, true, true, &compressed(b"0"))
        .await;
    assert_eq!(c.close_code().await, 1002);
    // RSV1 on a control frame.
    let mut c = Raw::connect(h.local_addr(), Some("permessage-deflate")).await;
    c.send(Opcode::Ping, true, true, b"").await;
    assert_eq!(c.close_code().await, 1002);
    // RSV1 without the extension.
    let mut c = Raw::connect(h.local_addr(), None).await;
    c.send(Opcode::Text, true, true, &compressed(b"40")).await;
    assert_eq!(c.close_code().await, 1002);
    h.shutdown().await;
}

/// RFC 6455 8.1 (Autobahn 6.4.1 and 6.4.2): a fragmented text message is
/// refused with 1007 at the first fragment that cannot be UTF-8, not at
/// its end; a character cut between two fragments is fine.
#[tokio::test]
async fn a_fragmented_text_fails_fast_on_invalid_utf8() {
    let h = echo_server(None, 1_000_000).await;
    let mut c = Raw::connect(h.local_addr(), None).await;
    c.send(Opcode::Text, true, false, b"40").await;
    c.recv().await.unwrap();
    // "é" (C3 A9) cut between two fragments.
    c.send(Opcode::Text, false, false, b"42[\"echo\",\"\xc3")
        .await;
    c.send(Opcode::Continuation, true, false, b"\xa9\"]").await;
    assert_eq!(
        c.recv().await.unwrap().1,
        "42[\"echo\",\"\u{e9}\"]".as_bytes()
    );
    // Valid, then invalid: refused with no final fragment sent.
    c.send(Opcode::Text, false, false, b"42[\"echo\",\"").await;
    c.send(Opcode::Continuation, false, false, b"\xf4\x90\x80\x80")
        .await;
    assert_eq!(c.close_code().await, 1007);
    h.shutdown().await;
}

fn big_args() -> Vec<oxsio::Value> {
    vec![
        oxsio::Value::from("oxsio ".repeat(30_000)),
        oxsio::Value::from(vec![7u8; 100_000]),
    ]
}

/// Connects the Rust client, echoes [`big_args`] and returns the socket.
async fn rust_client_echo(
    url: &str,
    transports: Vec<oxsio::Transport>,
    deflate: Option<usize>,
) -> oxsio::client::ClientSocket {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let socket = oxsio::client::ClientBuilder::new(url)
        .transports(transports)
        .per_message_deflate(deflate)
        .on("echo", move |ev: oxsio::client::ClientEvent| {
            let _ = tx.send(ev.args);
        })
        .connect()
        .await
        .unwrap();
    // After an upgrade, the echo must travel over the WebSocket.
    let ws = common::raw::eventually(T, || {
        socket.transport() == Some(oxsio::Transport::Websocket)
    });
    assert!(ws.await, "not on WebSocket");
    socket.emit("echo", big_args()).unwrap();
    let back = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(back, big_args());
    socket
}

#[tokio::test]
async fn the_rust_client_compresses_with_the_node_server() {
    use oxsio::Transport::{Polling, Websocket};
    let (mut node, port) = common::start_node_peer("deflate_server.js").await;
    let url = format!("http://127.0.0.1:{port}");
    for transports in [vec![Websocket], vec![Polling, Websocket]] {
        let socket = rust_client_echo(&url, transports.clone(), Some(1024)).await;
        let stats = socket.emit_with_ack("stats", ()).await.unwrap();
        assert_eq!(
            stats[0]["ext"],
            oxsio::Value::from("permessage-deflate"),
            "{transports:?}"
        );
        let read = stats[0]["read"].as_f64().unwrap();
        assert!(
            read < (PAYLOAD / 10) as f64,
            "the client did not compress: {read}"
        );
        socket.disconnect();
    }
    // Without the option the client offers nothing.
    let socket = rust_client_echo(&url, vec![Websocket], None).await;
    let stats = socket.emit_with_ack("stats", ()).await.unwrap();
    assert_eq!(stats[0]["ext"], oxsio::Value::from("-"));
    socket.disconnect();
    let _ = node.kill().await;
}

#[tokio::test]
async fn the_rust_client_and_server_compress_together() {
    use oxsio::Transport::{Polling, Websocket};
    let h = echo_server(Some(1024), 1_000_000).await;
    let url = format!("http://{}", h.local_addr());
    for transports in [vec![Websocket], vec![Polling, Websocket]] {
        rust_client_echo(&url, transports, Some(1024))
            .await
            .disconnect();
    }
    // A client that offers it, against a server that declines.
    let off = echo_server(None, 1_000_000).await;
    rust_client_echo(
        &format!("http://{}", off.local_addr()),
        vec![Websocket],
        Some(0),
    )
    .await
    .disconnect();
    h.shutdown().await;
    off.shutdown().await;
}

/// A hostile server: answers the upgrade with permessage-deflate, sends
/// the open packet, then a compressed message that inflates to 10 MB.
/// Returns the close code the client answered with.
async fn bomb_server(listener: tokio::net::TcpListener) -> Option<u16> {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut req = Vec::new();
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut b = [0u8; 1024];
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0);
        req.extend_from_slice(&b[..n]);
    }
    let req = String::from_utf8_lossy(&req).into_owned();
    assert!(req.contains("permessage-deflate"), "{req}");
    let key = req
        .lines()
        .find_map(|l| {
            l.strip_prefix("sec-websocket-key: ")
                .or(l.strip_prefix("Sec-WebSocket-Key: "))
        })
        .unwrap()
        .trim();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
    );
    let mut out = head.into_bytes();
    ws::write_frame(
        &mut out,
        Opcode::Text,
        br#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
    );
    let mut bomb = b"4".to_vec();
    bomb.resize(10_000_000, b'a');
    let wire = compressed(&bomb);
    ws::write_header_with(&mut out, Opcode::Text, wire.len(), true, None);
    out.extend_from_slice(&wire);
    s.write_all(&out).await.unwrap();
    // The client's answer: a masked close frame.
    let mut buf = Vec::new();
    loop {
        if let Ok(Some(f)) = ws::parse_header(&buf, 1 << 20)
            && buf.len() >= f.header_len + f.len
        {
            let mut p = buf[f.header_len..f.header_len + f.len].to_vec();
            ws::unmask(&mut p, f.mask.unwrap());
            buf.drain(..f.header_len + f.len);
            if f.opcode == Opcode::Close {
                return Some(u16::from_be_bytes([p[0], p[1]]));
            }
            continue;
        }
        let mut b = [0u8; 4096];
        let n = tokio::time::timeout(T, s.read(&mut b)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
}

#[tokio::test]
async fn the_rust_client_refuses_a_bomb_at_its_max_payload() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(bomb_server(listener));
    let socket = oxsio::client::ClientBuilder::new(format!("http://{addr}"))
        .transports([oxsio::Transport::Websocket])
        .per_message_deflate(Some(1024))
        .max_payload(100_000)
        .reconnection(oxsio::client::Reconnection {
            enabled: false,
            ..Default::default()
        })
        .build()
        .unwrap();
    // The engine opens, then the bomb ends the connection (the Socket.IO
    // CONNECT never gets an answer, so connect() itself fails).
    let _ = socket.connect_timeout(Duration::from_secs(3)).await;
    assert_eq!(
        tokio::time::timeout(T, server).await.unwrap().unwrap(),
        Some(1009)
    );
}
