//! Shared fixtures: the interop app of tests/interop/APP.md, servers on
//! port 0, and paths to the peer programs.
#![allow(dead_code, clippy::unwrap_used)]

#[cfg(feature = "redis")]
pub mod cluster;
pub mod proxy;
pub mod raw;

use std::path::PathBuf;
use std::time::Duration;

use oxsio::{ConnectError, Event, Server, ServerHandle, Socket, Value};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The app every interop script expects (tests/interop/APP.md).
pub fn interop_app() -> Server {
    interop_app_with(oxsio::codec::Parser::Json)
}

/// The interop app with the given packet parser.
pub fn interop_app_with(parser: oxsio::codec::Parser) -> Server {
    let io = Server::builder()
        .parser(parser)
        .max_payload(100_000)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .build();
    let root = io.of("/");
    root.use_middleware(|socket| {
        if socket.handshake().auth["token"].as_str() == Some("bad") {
            return Err(ConnectError::new("unauthorized")
                .with_data(serde_json::json!({"reason": "bad token"})));
        }
        Ok(())
    });
    let ns = root.clone();
    root.on_connection(move |socket: Socket| {
        socket.join("all");
        if let Some(room) = socket.handshake().auth["room"].as_str() {
            socket.join(room);
        }
        let mut welcome = oxsio::Map::new();
        welcome.insert("sid".into(), Value::from(socket.id().as_str()));
        welcome.insert("auth".into(), socket.handshake().auth.clone());
        socket.emit("welcome", Value::Object(welcome)).unwrap();

        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
        socket.on("echo-ack", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send(ev.args);
            }
        });
        socket.on_async("ask-client", |ev: Event| async move {
            let reply = ev
                .socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("question", ev.args)
                .await;
            let _ = match reply {
                Ok(args) => ev.socket.emit("answer", args),
                Err(e) => ev.socket.emit("answer-error", e.to_string()),
            };
        });
        socket.on("join", |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default().to_owned();
            ev.socket.join(room.as_str());
            if let Some(ack) = ev.ack {
                let _ = ack.send(("joined", room));
            }
        });
        socket.on("leave", |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default().to_owned();
            ev.socket.leave(&room);
            if let Some(ack) = ev.ack {
                let _ = ack.send(("left", room));
            }
        });
        let io_ns = ns.clone();
        socket.on("to-room", move |ev: Event| {
            let (room, event) = (
                ev.arg(0).as_str().unwrap_or_default(),
                ev.arg(1).as_str().unwrap_or_default(),
            );
            let _ = io_ns.to(room).emit(event, ev.arg(2).clone());
        });
        let io_ns = ns.clone();
        socket.on("to-room-except", move |ev: Event| {
            let room = ev.arg(0).as_str().unwrap_or_default();
            let except = ev.arg(1).as_str().unwrap_or_default();
            let event = ev.arg(2).as_str().unwrap_or_default();
            let _ = io_ns.to(room).except(except).emit(event, ev.arg(3).clone());
        });
        socket.on("broadcast", |ev: Event| {
            let event = ev.arg(0).as_str().unwrap_or_default();
            let _ = ev.socket.broadcast().emit(event, ev.arg(1).clone());
        });
        socket.on("disconnect-me", |ev: Event| ev.socket.disconnect());
        socket.on("observe", |ev: Event| {
            ev.socket.join("observers");
            if let Some(ack) = ev.ack {
                let _ = ack.send(());
            }
        });
        socket.on("size", |ev: Event| {
            let n = match ev.arg(0) {
                Value::String(s) => s.len(),
                Value::Binary(b) => b.len(),
                _ => 0,
            };
            if let Some(ack) = ev.ack {
                let _ = ack.send(n);
            }
        });
        let io_ns = ns.clone();
        socket.on_disconnect(move |s, reason| {
            let mut m = oxsio::Map::new();
            m.insert("sid".into(), Value::from(s.id().as_str()));
            m.insert("reason".into(), Value::from(reason.as_str()));
            let _ = io_ns
                .to("observers")
                .emit("peer-disconnect", Value::Object(m));
        });
    });
    let admin = io.of("/admin");
    admin.on_connection(|socket: Socket| {
        socket.join("admins");
        let _ = socket.emit(
            "welcome",
            serde_json::json!({"sid": socket.id().as_str(), "nsp": "/admin"}),
        );
        socket.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
    });
    io
}

/// Starts the interop app on 127.0.0.1, port 0.
pub async fn start_interop_app() -> ServerHandle {
    interop_app().listen("127.0.0.1:0").await.unwrap()
}

/// Starts the interop app with `parser` on 127.0.0.1, port 0.
pub async fn start_interop_app_with(parser: oxsio::codec::Parser) -> ServerHandle {
    interop_app_with(parser)
        .listen("127.0.0.1:0")
        .await
        .unwrap()
}

/// Runs the interop `script` of tests/interop with `program` (node or
/// the venv's python) against `url` in `transports` mode, and checks that
/// it passed at least 7 scenarios and none failed.
pub async fn run_interop_peer(program: &str, script: &str, url: &str, transports: &str) {
    run_interop_peer_env(program, script, url, transports, &[]).await;
}

/// [`run_interop_peer`] with extra environment variables (e.g. `PARSER`).
pub async fn run_interop_peer_env(
    program: &str,
    script: &str,
    url: &str,
    transports: &str,
    env: &[(&str, &str)],
) {
    let dir = repo_root().join("tests/interop");
    let child = tokio::process::Command::new(program)
        .arg(dir.join(script))
        .arg(url)
        .arg(transports)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} (run tests/interop/setup.sh): {e}"));
    let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("peer did not finish in 90 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
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

/// The interop venv's python (python-socketio's client).
pub fn interop_python() -> String {
    repo_root()
        .join("tests/interop/.venv/bin/python")
        .display()
        .to_string()
}

/// Starts a peer server (`cmd`, run from tests/interop) that prints
/// `listening <port>` first; returns it (killed on drop) and its port.
pub async fn start_peer(mut cmd: tokio::process::Command) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = cmd
        .current_dir(repo_root().join("tests/interop"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start the peer (run tests/interop/setup.sh)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the peer did not start in 30 s")
        .unwrap()
        .expect("the peer exited before listening");
    let port = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("peer said {line:?}"))
        .parse()
        .unwrap();
    (child, port)
}

/// [`start_peer`] for a Node.js script of tests/interop.
pub async fn start_node_peer(script: &str) -> (tokio::process::Child, u16) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(repo_root().join("tests/interop").join(script));
    start_peer(cmd).await
}
