#![allow(clippy::unwrap_used)]
//! Connection state recovery against the official peers, with the
//! transport cut at the TCP level by a proxy:
//! - the official JS client (socket.io-client 4.8) → an oxsio server;
//! - the oxsio client → the official Node server with `connectionStateRecovery`.
//!
//! Peers are installed by `tests/interop/setup.sh` (the README test command).

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::proxy::Proxy;
use common::raw;
use oxsio::client::{ClientBuilder, Reconnection};
use oxsio::{RecoveryConfig, Server, Socket, Transport};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const T: Duration = Duration::from_secs(15);

fn node(script: &str, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let dir = common::repo_root().join("tests/interop");
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node (run tests/interop/setup.sh): {e}"));
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// The next stdout line starting with `prefix` (others are skipped but kept in the log).
async fn expect(
    lines: &mut Lines<BufReader<ChildStdout>>,
    prefix: &str,
    log: &mut Vec<String>,
) -> String {
    loop {
        let line = tokio::time::timeout(T, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {prefix:?} line; saw {log:?}"))
            .unwrap()
            .unwrap_or_else(|| panic!("peer exited before {prefix:?}; saw {log:?}"));
        assert!(!line.starts_with("FAIL"), "{line}; saw {log:?}");
        log.push(line.clone());
        if line.starts_with(prefix) {
            return line;
        }
    }
}

async fn js_client_recovers_against_oxsio(transport: &str) {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(400))
        .ping_timeout(Duration::from_millis(400))
        .connection_state_recovery(RecoveryConfig::default())
        .build();
    io.on_connection(|socket: Socket| {
        if !socket.recovered() {
            socket.join("news");
        }
    });
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let proxy = Proxy::start(handle.local_addr()).await;
    let url = format!("http://{}", proxy.addr);
    let (_child, mut lines) = node("recovery_client.js", &[&url, transport]);
    let mut log = Vec::new();
    let first = expect(&mut lines, "connected ", &mut log).await;
    let id = first.split(' ').nth(1).unwrap().to_owned();
    assert!(first.ends_with(" false"), "{first}");
    io.emit("n", 0).unwrap();
    let got = expect(&mut lines, "got ", &mut log).await;
    // The official client hands the offset to the handler as a last argument.
    assert_eq!(got, "got 0 string 2", "offset visible to JS handlers");

    let socket = io.of("/").sockets().pop().unwrap();
    // Cut until the client notices (a polling client may be between two
    // requests, or the cut may hit a connection it no longer uses).
    let mut noticed = false;
    for _ in 0..50 {
        proxy.cut_all(false);
        let wait = expect(&mut lines, "disconnect ", &mut log);
        if tokio::time::timeout(Duration::from_millis(300), wait)
            .await
            .is_ok()
        {
            noticed = true;
            break;
        }
    }
    assert!(noticed, "the client never lost its connection: {log:?}");
    io.to("news").emit("n", 1).unwrap();
    io.emit("n", 2).unwrap();
    io.to(oxsio::Sid::parse(&id).unwrap()).emit("n", 3).unwrap();
    // On the handle of the socket that is away: kept for its replay.
    socket.emit("n", 4).unwrap();
    let again = expect(&mut lines, "connected ", &mut log).await;
    assert_eq!(again, format!("connected {id} true"), "{log:?}");
    io.to("news").emit("n", 5).unwrap();
    let mut seen = Vec::new();
    while seen.last() != Some(&5) {
        let line = expect(&mut lines, "got ", &mut log).await;
        seen.push(line.split(' ').nth(1).unwrap().parse::<i64>().unwrap());
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5], "{log:?}");
    let s = io.of("/").sockets().pop().unwrap();
    assert!(s.recovered() && s.id().as_str() == id);
    io.emit("bye", ()).unwrap();
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_js_client_recovers_over_websocket() {
    js_client_recovers_against_oxsio("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_js_client_recovers_over_polling() {
    js_client_recovers_against_oxsio("polling").await;
}

async fn oxsio_client_recovers_against_node(transport: Transport) {
    let (mut child, mut lines) = node("recovery_server.js", &["0"]);
    let mut log = Vec::new();
    let listening = expect(&mut lines, "listening ", &mut log).await;
    let port: u16 = listening.split(' ').nth(1).unwrap().parse().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let proxy = Proxy::start(([127, 0, 0, 1], port).into()).await;
    let got: Arc<Mutex<Vec<i64>>> = Arc::default();
    let g = got.clone();
    let socket = ClientBuilder::new(format!("http://{}", proxy.addr))
        .transports([transport])
        // Node keeps a session only once it noticed the drop (its heartbeat
        // of 300 + 200 ms for polling): come back after that.
        .reconnection(Reconnection {
            delay: Duration::from_millis(1000),
            delay_max: Duration::from_millis(1000),
            randomization_factor: 0.0,
            ..Reconnection::default()
        })
        .on("n", move |ev| {
            g.lock().unwrap().push(ev.arg(0).as_i64().unwrap())
        })
        .connect()
        .await
        .unwrap();
    let id = socket.id().unwrap();
    let first = expect(&mut lines, "connection ", &mut log).await;
    assert_eq!(first, format!("connection {id} false"));
    stdin.write_all(b"all 0\n").await.unwrap();
    assert!(raw::eventually(T, || got.lock().unwrap().len() == 1).await);

    assert!(proxy.cut_all(false) > 0);
    // Wait until Node noticed, then send while the client is away.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stdin.write_all(b"room 1\nall 2\nsid 3\n").await.unwrap();
    let again = expect(&mut lines, "connection ", &mut log).await;
    assert_eq!(again, format!("connection {id} true"), "{log:?}");
    assert!(raw::eventually(T, || socket.connected()).await);
    assert!(socket.recovered(), "the client reports recovered");
    assert_eq!(socket.id().unwrap(), id);
    stdin.write_all(b"room 4\nrooms\n").await.unwrap();
    let rooms = expect(&mut lines, "rooms ", &mut log).await;
    assert!(rooms.contains("news"), "{rooms}");
    assert!(raw::eventually(T, || got.lock().unwrap().len() >= 5).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(*got.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    socket.disconnect();
    drop(stdin);
    let _ = tokio::time::timeout(T, child.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_client_recovers_against_the_node_server_over_websocket() {
    oxsio_client_recovers_against_node(Transport::Websocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_client_recovers_against_the_node_server_over_polling() {
    oxsio_client_recovers_against_node(Transport::Polling).await;
}
