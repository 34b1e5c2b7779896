#![allow(clippy::unwrap_used)]
//! The official JavaScript client and python-socketio against an oxsio
//! server running the app of tests/interop/APP.md, on every transport.
//! Peers are installed by `tests/interop/setup.sh` (the README test command).

mod common;

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

async fn run_peer(program: &str, script: &str, transports: &str) {
    let handle = common::start_interop_app().await;
    let url = format!("http://{}", handle.local_addr());
    let dir = common::repo_root().join("tests/interop");
    let child = Command::new(program)
        .arg(dir.join(script))
        .arg(&url)
        .arg(transports)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} (run tests/interop/setup.sh): {e}"));
    let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("peer did not finish in 90 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    handle.shutdown().await;
    assert!(
        out.status.success(),
        "{script} {transports} failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 7,
        "too few scenarios ran:\n{stdout}"
    );
}

fn python() -> String {
    common::repo_root()
        .join("tests/interop/.venv/bin/python")
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_websocket() {
    run_peer("node", "client_scenarios.js", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_polling() {
    run_peer("node", "client_scenarios.js", "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_polling_then_upgrade() {
    run_peer("node", "client_scenarios.js", "upgrade").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_websocket() {
    run_peer(&python(), "python_client.py", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_polling() {
    run_peer(&python(), "python_client.py", "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_polling_then_upgrade() {
    run_peer(&python(), "python_client.py", "upgrade").await;
}
