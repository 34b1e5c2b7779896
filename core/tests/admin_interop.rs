#![allow(clippy::unwrap_used)]
//! Node's `instrument` (@socket.io/admin-ui) and oxsio's, compared:
//! tests/interop/admin_compare.js runs one scenario with socket.io-client
//! against a Node server it starts and against the oxsio server below (the
//! same app), and compares what each admin namespace emits. Peers are
//! installed by `tests/interop/setup.sh` (the README test command).

mod common;

use std::process::Stdio;
use std::time::Duration;

use oxsio::admin::{AdminMode, AdminUiOptions};
use oxsio::{Event, Server, Socket, Value};
use tokio::process::Command;

/// The app of admin_compare.js.
fn app() -> Server {
    let io = Server::new();
    io.on_connection(|socket: Socket| {
        socket.on("join", |ev: Event| {
            if let Some(room) = ev.arg(0).as_str() {
                ev.socket.join(room);
            }
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
        socket.on("leave", |ev: Event| {
            if let Some(room) = ev.arg(0).as_str() {
                ev.socket.leave(room);
            }
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
        socket.on("ping", |ev: Event| {
            let _ = ev.socket.emit("pong", ev.args);
        });
        socket.on("set-score", |ev: Event| {
            let n = ev.arg(0).clone();
            ev.socket.update_data(|d| {
                if let Value::Object(m) = d {
                    m.insert("score".into(), n);
                }
            });
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
    });
    io
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_oxsio_admin_namespaces_emit_the_same() {
    let io = app();
    io.instrument(
        AdminUiOptions::with_auth("admin", bcrypt::hash("s3cret", 4).unwrap())
            .mode(AdminMode::Development)
            .server_id("oxsio"),
    )
    .unwrap();
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", handle.local_addr());
    let dir = common::repo_root().join("tests/interop");
    let child = Command::new("node")
        .arg(dir.join("admin_compare.js"))
        .arg(&url)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node (run tests/interop/setup.sh): {e}"));
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("admin_compare.js did not finish in 180 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    handle.shutdown().await;
    println!("{stdout}");
    assert!(
        out.status.success(),
        "admin_compare.js failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        7,
        "{stdout}"
    );
}
