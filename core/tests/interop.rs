#![allow(clippy::unwrap_used)]
//! The official JavaScript client and python-socketio against an oxsio
//! server running the app of tests/interop/APP.md, on every transport.
//! Peers are installed by `tests/interop/setup.sh` (the README test command).

mod common;

async fn run_peer(program: &str, script: &str, transports: &str) {
    let handle = common::start_interop_app().await;
    let url = format!("http://{}", handle.local_addr());
    common::run_interop_peer(program, script, &url, transports).await;
    handle.shutdown().await;
}

fn python() -> String {
    common::interop_python()
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

// ---- socket.io-msgpack-parser / python-socketio serializer="msgpack" ------

async fn run_msgpack_peer(program: &str, script: &str, transports: &str) {
    let handle = common::start_interop_app_with(oxsio::codec::Parser::MsgPack).await;
    let url = format!("http://{}", handle.local_addr());
    let env = [("PARSER", "msgpack"), ("SERIALIZER", "msgpack")];
    common::run_interop_peer_env(program, script, &url, transports, &env).await;
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_msgpack_client_websocket() {
    run_msgpack_peer("node", "client_scenarios.js", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_msgpack_client_polling() {
    run_msgpack_peer("node", "client_scenarios.js", "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_msgpack_client_polling_then_upgrade() {
    run_msgpack_peer("node", "client_scenarios.js", "upgrade").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_msgpack_client_websocket() {
    run_msgpack_peer(&python(), "python_client.py", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_msgpack_client_polling() {
    run_msgpack_peer(&python(), "python_client.py", "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_msgpack_client_polling_then_upgrade() {
    run_msgpack_peer(&python(), "python_client.py", "upgrade").await;
}
