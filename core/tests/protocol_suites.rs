#![allow(clippy::unwrap_used)]
//! The official Engine.IO v4 and Socket.IO v5 test suites (mocha, from the
//! socket.io repository; see tests/protocol-suites/README.md) against an
//! Engine.IO echo server built on the public `EngineServer` and a Socket.IO
//! app, configured as the suites expect. `SUITE_RUNS=N` runs each N times.

mod common;

use std::process::Stdio;
use std::time::Duration;

use oxsio::engineio::{EioMessage, EioSocket, EngineConfig, EngineServer};
use oxsio::{AllowOrigin, Cors, Event, Server, Socket};
use tokio::process::Command;

fn suite_config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        cors: Some(Cors {
            origins: AllowOrigin::Any,
            credentials: false,
        }),
        ..EngineConfig::default()
    }
}

/// The Engine.IO suite's server: `/engine.io/`, every message echoed.
fn engine_app() -> EngineServer {
    let eio = EngineServer::new(EngineConfig {
        path: "/engine.io/".into(),
        ..suite_config()
    });
    eio.on_connection(|socket: EioSocket| {
        socket.on_message(|socket: &EioSocket, msg: EioMessage| {
            let _ = socket.send(msg);
        });
    });
    eio
}

/// The Socket.IO suite's server (the reference configuration of
/// docs/socket.io-protocol/v5-current.md).
fn socketio_app() -> Server {
    let io = Server::builder()
        .engine_config(suite_config())
        .connect_timeout(Duration::from_millis(1000))
        .build();
    io.of("/").on_connection(|socket: Socket| {
        let _ = socket.emit("auth", socket.handshake().auth.clone());
        socket.on("message", |ev: Event| {
            let _ = ev.socket.emit("message-back", ev.args);
        });
        socket.on("message-with-ack", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
    });
    io.of("/custom").on_connection(|socket: Socket| {
        let _ = socket.emit("auth", socket.handshake().auth.clone());
    });
    io
}

/// Runs mocha on the suite in `dir` against `port`; returns (passing,
/// failing, the suite's number of tests, output).
async fn run_suite(dir: &str, port: u16) -> (u32, u32, u32, String) {
    let root = common::repo_root().join("tests/protocol-suites").join(dir);
    assert!(
        root.join("node_modules/mocha").exists(),
        "run tests/interop/setup.sh (npm ci in tests/protocol-suites/{dir})"
    );
    let original = std::fs::read_to_string(root.join("test-suite.js")).unwrap();
    let patched = original.replace(
        r#"const URL = "http://localhost:3000";"#,
        &format!(r#"const URL = "http://127.0.0.1:{port}";"#),
    );
    assert_ne!(original, patched, "the suite's URL constant moved");
    let tests = u32::try_from(
        original
            .lines()
            .filter(|l| l.trim_start().starts_with("it(\""))
            .count(),
    )
    .unwrap();
    let file = format!(".test-suite-{port}.js");
    std::fs::write(root.join(&file), patched).unwrap();
    let out = Command::new("node")
        .arg(root.join("node_modules/mocha/bin/mocha"))
        .arg(&file)
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .expect("the suite did not finish in 120 s")
        .unwrap();
    let _ = std::fs::remove_file(root.join(&file));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |word: &str| -> u32 {
        // mocha's summary: "  23 passing (3s)", "  2 failing".
        text.lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let n = it.next()?.parse().ok()?;
                (it.next() == Some(word)).then_some(n)
            })
            .unwrap_or(0)
    };
    (count("passing"), count("failing"), tests, text)
}

fn runs() -> usize {
    std::env::var("SUITE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engineio_suite_passes() {
    let eio = engine_app();
    let handle = eio.listen("127.0.0.1:0").await.unwrap();
    let port = handle.local_addr().port();
    for run in 1..=runs() {
        let (pass, fail, tests, text) = run_suite("engine.io", port).await;
        println!("engine.io suite run {run}: {pass}/{tests} passing, {fail} failing");
        assert!(fail == 0 && pass == tests, "run {run}:\n{text}");
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_suite_passes() {
    let io = socketio_app();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let port = handle.local_addr().port();
    for run in 1..=runs() {
        let (pass, fail, tests, text) = run_suite("socket.io", port).await;
        println!("socket.io suite run {run}: {pass}/{tests} passing, {fail} failing");
        assert!(fail == 0 && pass == tests, "run {run}:\n{text}");
    }
    handle.shutdown().await;
}
