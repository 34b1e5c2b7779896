//! The C and C++ programs, compiled against `include/oxsio.h` /
//! `include/oxsio.hpp` and the freshly built `liboxsio.so`, run against live
//! servers: the examples (C with `-std=c11 -Wall -Wextra -Werror -pedantic`,
//! C++ with `-std=c++17 -Wall -Wextra -Werror`, both with AddressSanitizer
//! and UndefinedBehaviorSanitizer), a C-hosted server against the official
//! JavaScript client, the C client against the official Node server, the
//! misuse program, and the same programs under valgrind memcheck.
//!
//! Needs gcc, g++, node (and `bash tests/interop/setup.sh`, run here when
//! needed) and valgrind.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use oxsio_test_services::{RedisCluster, RedisServer};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the library (as this test run's profile) and returns its directory
/// (target/debug or target/release), where liboxsio.so is.
fn lib_dir() -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let exe = std::env::current_exe().unwrap();
        let lib = exe.parent().unwrap().parent().unwrap().join("liboxsio.so");
        if is_fresh(&lib) {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "oxsio-ffi", "--lib"]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let st = cmd.current_dir(root()).status().expect("cargo build");
        assert!(st.success(), "cargo build -p oxsio-ffi failed");
    });
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("liboxsio.so").exists(),
        "{} has no liboxsio.so",
        dir.display()
    );
    soname_link(&dir);
    dir
}

/// The SONAME the build gives liboxsio.so (ffi/build.rs): `liboxsio.so.0.<minor>`
/// before 1.0, `liboxsio.so.<major>` after.
fn soname() -> String {
    let (major, minor) = (
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
    );
    if major == "0" {
        format!("liboxsio.so.0.{minor}")
    } else {
        format!("liboxsio.so.{major}")
    }
}

/// Programs linked with `-loxsio` need the library under its SONAME: links
/// `<dir>/liboxsio.so.<abi>` to the `liboxsio.so` cargo wrote (what
/// `ffi/install.sh` does in a prefix).
fn soname_link(dir: &Path) {
    let link = dir.join(soname());
    if std::fs::read_link(&link).is_ok_and(|t| t == Path::new("liboxsio.so")) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink("liboxsio.so", &link) {
        // Another test process made it in between.
        assert!(link.exists(), "symlink {}: {e}", link.display());
    }
}

/// True when `lib` is newer than every source of the ffi and core crates
/// (then `cargo build`, which may wait on other cargo runs, is skipped).
fn is_fresh(lib: &Path) -> bool {
    fn newest(dir: &Path) -> std::time::SystemTime {
        let mut t = std::time::UNIX_EPOCH;
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                let m = if p.is_dir() {
                    newest(&p)
                } else {
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH)
                };
                t = t.max(m);
            }
        }
        t
    }
    let Ok(built) = std::fs::metadata(lib).and_then(|m| m.modified()) else {
        return false;
    };
    let root = root();
    [
        "ffi/src",
        "ffi/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "Cargo.lock",
    ]
    .iter()
    .all(|p| {
        let p = root.join(p);
        let t = if p.is_dir() {
            newest(&p)
        } else {
            std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH)
        };
        t <= built
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    /// -fsanitize=address,undefined
    Sanitized,
    /// Plain -O0 -g, for valgrind.
    Plain,
}

/// Compiles one program (once per test run).
fn build(src: &str, flavor: Flavor) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, bool), PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let key = (src.to_owned(), flavor == Flavor::Sanitized);
    if let Some(p) = built.get(&key) {
        return p.clone();
    }
    let root = root();
    let lib = lib_dir();
    let out_dir = lib.join("c-programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let path = root.join(src);
    let cpp = src.ends_with(".cpp");
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let name = format!(
        "{stem}{}{}",
        if cpp { "_cpp" } else { "" },
        if flavor == Flavor::Sanitized {
            "-asan"
        } else {
            ""
        }
    );
    let out = out_dir.join(&name);
    let mut cmd = Command::new(if cpp { "g++" } else { "gcc" });
    if cpp {
        cmd.args(["-std=c++17", "-Wall", "-Wextra", "-Werror"]);
    } else {
        cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
    }
    cmd.arg("-g");
    match flavor {
        Flavor::Sanitized => {
            cmd.args([
                "-O1",
                "-fno-omit-frame-pointer",
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=all",
            ]);
        }
        Flavor::Plain => {
            cmd.arg("-O0");
        }
    }
    cmd.arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("examples/c").display()))
        .arg(&path)
        .arg(format!("-L{}", lib.display()))
        .arg("-loxsio")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out);
    let o = cmd.output().expect("gcc/g++");
    assert!(
        o.status.success(),
        "compiling {src} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    built.insert(key, out.clone());
    out
}

fn sanitizer_env(cmd: &mut Command) {
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
}

fn valgrind(exe: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.env("OXSIO_TIMEOUT_SCALE", "4")
        .args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ])
        .arg(exe);
    cmd
}

/// A process whose stdout lines are collected as they come.
struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    new_line: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stdin: Option<std::process::ChildStdin>,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null());
        Proc::spawn_with(name, cmd)
    }

    /// As `spawn`, with a pipe to its stdin (`send_line`).
    fn spawn_stdin(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::piped());
        Proc::spawn_with(name, cmd)
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("spawned with spawn_stdin");
        std::io::Write::write_all(stdin, format!("{line}\n").as_bytes()).unwrap();
    }

    fn spawn_with(name: &str, mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let e = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            *e.lock().unwrap() = s;
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
            new_line: rx,
            stderr,
            stdin,
        }
    }

    /// Waits for a stdout line containing `needle`.
    fn wait_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(l) = self
            .lines
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(needle))
        {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.new_line.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "{}: no line with {needle:?} within {timeout:?}; output:\n{}\nstderr:\n{}",
                    self.name,
                    self.lines.lock().unwrap().join("\n"),
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Waits for exit (killing it after `timeout`); returns status and stdout.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let s = self.child.wait().unwrap();
                panic!(
                    "{} did not finish within {timeout:?} (killed: {s}); output:\n{}\nstderr:\n{}",
                    self.name,
                    self.lines.lock().unwrap().join("\n"),
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader threads drain the pipes.
        std::thread::sleep(Duration::from_millis(50));
        let out = self.lines.lock().unwrap().join("\n");
        let err = self.stderr.lock().unwrap().clone();
        assert!(
            status.success(),
            "{} exited with {status}; output:\n{out}\nstderr:\n{err}",
            self.name
        );
        (status, out)
    }

    /// Waits for exit (killing it after `timeout`); returns the exit code.
    fn exit_code(mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM, then `finish`.
    fn stop(self, timeout: Duration) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.finish(timeout).1
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn cmd(exe: &Path, flavor: Flavor) -> Command {
    match flavor {
        Flavor::Sanitized => {
            let mut c = Command::new(exe);
            sanitizer_env(&mut c);
            c
        }
        Flavor::Plain => valgrind(exe),
    }
}

fn start_server(name: &str, exe: &Path, flavor: Flavor) -> (Proc, u16) {
    let mut c = cmd(exe, flavor);
    c.arg("0");
    let p = Proc::spawn(name, c);
    let line = p.wait_line("listening ", Duration::from_secs(60));
    let port = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    (p, port)
}

fn assert_has(out: &str, needle: &str, who: &str) {
    assert!(
        out.contains(needle),
        "{who}: expected {needle:?} in:\n{out}"
    );
}

/// Two chat clients and two binary-state peers against a chat server.
fn chat_scenario(server: &str, client: &str, binary: &str, flavor: Flavor) {
    let t = if flavor == Flavor::Plain { 120 } else { 30 };
    let t = Duration::from_secs(t);
    let (srv, port) = start_server(server, &build(server, flavor), flavor);
    let url = format!("http://127.0.0.1:{port}/");
    let client_exe = build(client, flavor);

    let mut c = cmd(&client_exe, flavor);
    c.args([&url, "bob", "game", "--expect", "2"]);
    let bob = Proc::spawn("bob", c);
    bob.wait_line("join ack [\"joined\",\"game\"]", t);
    let mut c = cmd(&client_exe, flavor);
    c.args([&url, "alice", "game", "hello bob", "how are you?"]);
    let (_, alice) = Proc::spawn("alice", c).finish(t);
    assert_has(&alice, "welcome to lobby", "alice");
    assert_has(&alice, "answered ready?", "alice");
    assert_has(&alice, "chat ack [\"delivered\",", "alice");
    assert_has(&alice, "done after", "alice");
    assert_has(&alice, "2 delivered", "alice");
    let (_, bob) = bob.finish(t);
    assert_has(&bob, "chat from alice: hello bob", "bob");
    assert_has(&bob, "chat from alice: how are you?", "bob");
    assert_has(&bob, "2 received", "bob");

    // A client without a name is refused by the middleware.
    let mut c = cmd(&client_exe, flavor);
    c.args([&url, "", "game", "hi"]);
    let refused = Proc::spawn("refused", c);
    refused.wait_line("connect_error: name required", t);
    assert_eq!(
        refused.exit_code(t),
        Some(1),
        "a refused client exits with 1"
    );

    if flavor == Flavor::Sanitized {
        let bin_exe = build(binary, flavor);
        let mut c1 = cmd(&bin_exe, flavor);
        c1.args([&url, "p1", "arena"]);
        let mut c2 = cmd(&bin_exe, flavor);
        c2.args([&url, "p2", "arena"]);
        let p1 = Proc::spawn("p1", c1);
        let p2 = Proc::spawn("p2", c2);
        let (_, o1) = p1.finish(t);
        let (_, o2) = p2.finish(t);
        for (o, who) in [(o1, "p1"), (o2, "p2")] {
            assert_has(&o, "peer state #", who);
            assert_has(&o, "done: sent", who);
        }
    }

    let out = srv.stop(t);
    assert_has(&out, "connected alice", server);
    assert_has(&out, "join bob game", server);
    assert_has(&out, "[\"ready\"]", server);
    assert_has(&out, "chat alice@game: hello bob", server);
    // "client namespace disconnect", or "transport close" when the client
    // process exited before its DISCONNECT packet left (free never waits).
    assert_has(&out, "disconnected alice (", server);
    assert_has(&out, "stopped after 2 chats", server);
}

#[test]
fn c_examples_against_the_c_server() {
    chat_scenario(
        "examples/c/chat_server.c",
        "examples/c/chat_client.c",
        "examples/c/binary_state.c",
        Flavor::Sanitized,
    );
}

#[test]
fn cpp_examples_against_the_cpp_server() {
    chat_scenario(
        "examples/cpp/chat_server.cpp",
        "examples/cpp/chat_client.cpp",
        "examples/cpp/binary_state.cpp",
        Flavor::Sanitized,
    );
}

/// Runs one self-contained program (under ASan/UBSan) and checks its last line.
fn self_check(src: &str, ok_line: &str) {
    let exe = build(src, Flavor::Sanitized);
    let (status, out) =
        Proc::spawn(src, cmd(&exe, Flavor::Sanitized)).finish(Duration::from_secs(60));
    assert_has(&out, ok_line, src);
    assert!(status.success(), "{src}: {status}\n{out}");
}

/// `per_message_deflate_threshold` on a C server and client, and the
/// client's `max_payload`, `max_json_depth` and `max_attachments` keys.
#[test]
fn deflate_and_client_limits_from_c() {
    self_check("ffi/tests/c/deflate.c", "deflate: ok");
}

#[test]
fn parity_socket_rooms_fetch_sockets_and_refusal_message() {
    self_check("ffi/tests/c/parity.c", "parity: ok");
}

#[test]
fn parity_once_and_broadcast_ack_in_callback_mode() {
    self_check("ffi/tests/c/parity_cb.c", "parity_cb: ok");
}

/// A redis-server on a free port, stopped on drop.
fn redis_server() -> (RedisServer, u16) {
    let server = RedisServer::start();
    let port = server.port;
    (server, port)
}

#[test]
fn server_side_emit_between_two_c_servers_over_redis() {
    let (_redis, port) = redis_server();
    let exe = build("ffi/tests/c/cluster.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(port.to_string());
    let (status, out) = Proc::spawn("cluster", c).finish(Duration::from_secs(60));
    assert_has(&out, "cluster: ok", "cluster.c");
    assert!(status.success(), "cluster.c: {status}\n{out}");
}

/// The same two C servers with the streams adapter
/// (`"kind": "redis-streams"`, connection state recovery on).
#[test]
fn server_side_emit_between_two_c_servers_over_the_streams_adapter() {
    let (_redis, port) = redis_server();
    let config = serde_json::json!({
        "adapter": {
            "kind": "redis-streams",
            "url": format!("redis://127.0.0.1:{port}"),
            "block_time_ms": 1000,
            "requests_timeout_ms": 2000
        },
        "connection_state_recovery": {}
    })
    .to_string();
    let exe = build("ffi/tests/c/cluster.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(port.to_string()).arg(&config);
    let (status, out) = Proc::spawn("cluster", c).finish(Duration::from_secs(60));
    assert_has(&out, "cluster: ok", "cluster.c (streams)");
    assert!(status.success(), "cluster.c: {status}\n{out}");
}

/// A client that records every event it gets, and its disconnection.
fn recording_client(
    rt: &tokio::runtime::Runtime,
    url: String,
    rooms: &[&str],
) -> (
    oxsio_core::client::ClientSocket,
    mpsc::Receiver<(String, Vec<oxsio_core::Value>)>,
) {
    use oxsio_core::client::{ClientBuilder, ClientEvent, Reconnection};
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let socket = ClientBuilder::new(url)
        .transports([oxsio_core::Transport::Websocket])
        .reconnection(Reconnection {
            enabled: false,
            ..Default::default()
        })
        .auth(serde_json::json!({ "rooms": rooms }))
        .build()
        .unwrap();
    socket.on_any(move |ev: &ClientEvent| {
        let _ = tx.send((ev.name.clone(), ev.args.clone()));
    });
    socket.on_disconnect(move |_, _| {
        let _ = tx2.send(("(disconnected)".into(), Vec::new()));
    });
    rt.block_on(socket.connect()).unwrap();
    let (ev, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(ev, "ready");
    (socket, rx)
}

fn expect_event(
    rx: &mpsc::Receiver<(String, Vec<oxsio_core::Value>)>,
    who: &str,
) -> (String, Vec<oxsio_core::Value>) {
    rx.recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{who}: no event"))
}

/// The emitter of the C ABI (ffi/tests/c/emitter.c) publishes; an oxsio
/// node and a Node.js node on the classic Redis adapter deliver to their
/// clients: rooms, binary, except, another namespace, serverSideEmit,
/// socketsJoin/Leave and disconnectSockets.
#[test]
fn emitter_from_c_observed_by_oxsio_and_node_js() {
    use oxsio_core::Value;
    interop_setup();
    let (_redis, redis_port) = redis_server();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let io = {
        let _g = rt.enter();
        let factory = oxsio_core::adapter::redis::RedisAdapter::factory(
            oxsio_core::adapter::redis::RedisConfig::new(format!("redis://127.0.0.1:{redis_port}")),
        )
        .unwrap();
        oxsio_core::Server::builder().adapter(factory).build()
    };
    let app = |s: oxsio_core::Socket| {
        let auth = s.handshake().auth.clone();
        for r in auth["rooms"].as_array().into_iter().flatten() {
            s.join(r.as_str().unwrap());
        }
        let _ = s.emit("ready", s.id().as_str());
    };
    io.on_connection(app);
    io.of("/news").on_connection(app);
    let root_ns = io.of("/");
    io.of("/").on_server_event(move |ev| {
        if ev.name == "relay" {
            let _ = root_ns.local().emit("relayed", ev.args.clone());
        }
    });
    let handle = rt.block_on(io.listen("127.0.0.1:0")).unwrap();
    let ox_url = format!("http://{}", handle.local_addr());

    let dir = root().join("tests/interop");
    let mut node = Command::new("node");
    node.arg(dir.join("redis_node.js"))
        .arg(redis_port.to_string())
        .current_dir(&dir);
    let js = Proc::spawn("redis_node.js", node);
    let line = js.wait_line("listening ", Duration::from_secs(30));
    let js_url = format!(
        "http://127.0.0.1:{}",
        line.trim().trim_start_matches("listening ")
    );

    let (_a, a) = recording_client(&rt, ox_url.clone(), &["room1"]);
    let (_b, b) = recording_client(&rt, js_url.clone(), &["room1", "room2"]);
    let (_c, c) = recording_client(&rt, format!("{ox_url}/news"), &[]);
    let (_d, d) = recording_client(&rt, format!("{js_url}/news"), &[]);
    std::thread::sleep(Duration::from_millis(300));

    let exe = build("ffi/tests/c/emitter.c", Flavor::Sanitized);
    let mut cmd = cmd(&exe, Flavor::Sanitized);
    cmd.arg(redis_port.to_string());
    let mut em = Proc::spawn_stdin("emitter", cmd);
    let quiet = |rx: &mpsc::Receiver<(String, Vec<Value>)>, who: &str| {
        if let Ok(got) = rx.recv_timeout(Duration::from_millis(300)) {
            panic!("{who}: unexpected {got:?}");
        }
    };

    em.wait_line("step 1", Duration::from_secs(30));
    for (rx, who) in [(&a, "A"), (&b, "B")] {
        assert_eq!(
            expect_event(rx, who),
            ("chat".into(), vec![Value::from("from C"), Value::from(1)])
        );
    }
    em.send_line("next");
    em.wait_line("step 2", Duration::from_secs(10));
    assert_eq!(
        expect_event(&b, "B"),
        ("bin".into(), vec![Value::from(vec![1u8, 2, 3])])
    );
    quiet(&a, "A");
    em.send_line("next");
    em.wait_line("step 3", Duration::from_secs(10));
    assert_eq!(expect_event(&a, "A").0, "ex");
    quiet(&b, "B");
    em.send_line("next");
    em.wait_line("step 4", Duration::from_secs(10));
    assert_eq!(expect_event(&c, "C").0, "headline");
    assert_eq!(expect_event(&d, "D").0, "headline");
    quiet(&a, "A");
    em.send_line("next");
    em.wait_line("step 5", Duration::from_secs(10));
    for (rx, who) in [(&a, "A"), (&b, "B")] {
        assert_eq!(
            expect_event(rx, who),
            ("relayed".into(), vec![Value::from("x")])
        );
    }
    em.send_line("next");
    em.wait_line("step 6", Duration::from_secs(10));
    assert_eq!(expect_event(&a, "A").0, "r7");
    assert_eq!(expect_event(&b, "B").0, "r7");
    em.send_line("next");
    em.wait_line("step 7", Duration::from_secs(10));
    quiet(&a, "A");
    quiet(&b, "B");
    em.send_line("next");
    em.wait_line("step 8", Duration::from_secs(10));
    assert_eq!(expect_event(&b, "B").0, "(disconnected)");
    quiet(&a, "A");
    em.send_line("next");
    let (_, out) = em.finish(Duration::from_secs(30));
    assert_has(&out, "emitter: ok", "emitter.c");
    drop(js);
    rt.block_on(handle.shutdown());
}

/// The same two C servers with `adapter` in their config: the sharded
/// adapter on a Redis Cluster (static subscription mode); and the config
/// errors of the `adapter` object.
#[test]
fn server_side_emit_between_two_c_servers_over_the_sharded_adapter() {
    let cluster = RedisCluster::start(3);
    let nodes = cluster.urls();
    let config = serde_json::json!({
        "adapter": {
            "kind": "redis-sharded",
            "nodes": nodes,
            "subscription_mode": "static",
            "requests_timeout_ms": 2000
        }
    })
    .to_string();
    let exe = build("ffi/tests/c/cluster.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(cluster.ports[0].to_string()).arg(&config);
    let (status, out) = Proc::spawn("cluster", c).finish(Duration::from_secs(60));
    assert_has(&out, "cluster: ok", "cluster.c (sharded)");
    assert!(status.success(), "cluster.c: {status}\n{out}");
}

/// The same two C servers on the Postgres adapter (`"kind": "postgres"`),
/// on a PostgreSQL this test starts.
#[test]
fn server_side_emit_between_two_c_servers_over_the_postgres_adapter() {
    let pg = oxsio_test_services::Postgres::start();
    let config = serde_json::json!({
        "adapter": {
            "kind": "postgres",
            "url": pg.url(),
            "table_name": "c_attachments",
            "requests_timeout_ms": 2000
        }
    })
    .to_string();
    let exe = build("ffi/tests/c/cluster.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(pg.port.to_string()).arg(&config);
    let (status, out) = Proc::spawn("cluster", c).finish(Duration::from_secs(60));
    assert_has(&out, "cluster: ok", "cluster.c (postgres)");
    assert!(status.success(), "cluster.c: {status}\n{out}");
}

/// An Xvfb server on a display it picks (`-displayfd`), killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "320x240x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (installed by tests/run-all.sh)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line.trim().parse().expect("Xvfb printed no display number");
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    /// The screen as (width, height, RGB bytes), through ImageMagick's `import`.
    fn screenshot(&self, save_png: Option<&Path>) -> (usize, usize, Vec<u8>) {
        let out = Command::new("import")
            .args([
                "-display",
                &self.display,
                "-window",
                "root",
                "-depth",
                "8",
                "ppm:-",
            ])
            .output()
            .expect("import (ImageMagick)");
        assert!(out.status.success(), "import failed");
        if let Some(p) = save_png {
            let st = Command::new("import")
                .args(["-display", &self.display, "-window", "root"])
                .arg(p)
                .status()
                .unwrap();
            assert!(st.success());
        }
        // P6 <w> <h> <max> <rgb...>
        let data = out.stdout;
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while data[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while !data[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
        }
        assert_eq!(fields[0], "P6");
        assert_eq!(fields[3], "255");
        let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        (w, h, data[i + 1..].to_vec())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pixel(shot: &(usize, usize, Vec<u8>), x: usize, y: usize) -> [u8; 3] {
    let i = (y * shot.0 + x) * 3;
    [shot.2[i], shot.2[i + 1], shot.2[i + 2]]
}

/// The SDL2 arena (examples/c/arena.c): a server and two clients in poll
/// mode, each client under its own Xvfb; each screenshot must show the
/// other player's square at the position it sent, in its color, and the
/// chat acks must come back.
#[test]
fn sdl2_arena_two_clients_under_xvfb() {
    let root = root();
    let lib = lib_dir();
    let exe = lib.join("c-programs/arena-asan");
    let sdl = |arg: &str| -> Vec<String> {
        let o = Command::new("sdl2-config")
            .arg(arg)
            .output()
            .expect("sdl2-config (libsdl2-dev, installed by tests/run-all.sh)");
        String::from_utf8(o.stdout)
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let o = Command::new("gcc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O1",
        ])
        .args([
            "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
        ])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("examples/c").display()))
        .args(sdl("--cflags"))
        .arg(root.join("examples/c/arena.c"))
        .arg(format!("-L{}", lib.display()))
        .arg("-loxsio")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(sdl("--libs"))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "arena.c: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let (server, port) = start_server_cmd(&exe);
    let url = format!("http://127.0.0.1:{port}/");
    let players = [
        ("alice", 40, 50, [255u8, 0, 0]),
        ("bob", 200, 120, [0u8, 255, 0]),
    ];
    let mut clients = Vec::new();
    for (name, x, y, rgb) in players {
        let x11 = Xvfb::start();
        let mut c = Command::new(&exe);
        sanitizer_env(&mut c);
        // SDL's X11 and D-Bus backends keep allocations for the life of
        // the process: leak detection stays on for the server, AddressSanitizer
        // and UBSan for everyone.
        c.env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
            .env("DISPLAY", &x11.display)
            .env("SDL_AUDIODRIVER", "dummy")
            .args(["client", &url, name, &x.to_string(), &y.to_string()])
            .arg(format!("{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]));
        clients.push((Proc::spawn(name, c), x11));
    }
    let t = Duration::from_secs(30);
    for (p, _) in &clients {
        p.wait_line("ready", t);
    }
    std::thread::sleep(Duration::from_millis(300));
    let png = root.join("target/arena-screenshot.png");
    for (i, (_, x11)) in clients.iter().enumerate() {
        let shot = x11.screenshot(if i == 1 { Some(&png) } else { None });
        let (me, other) = (players[i], players[1 - i]);
        for (who, (_, x, y, rgb)) in [("the other player", other), ("itself", me)] {
            let (cx, cy) = (x as usize + 10, y as usize + 10);
            assert_eq!(
                pixel(&shot, cx, cy),
                rgb,
                "{}'s window shows {who} at {cx},{cy}",
                players[i].0
            );
        }
        assert_eq!(pixel(&shot, 5, 230), [16, 16, 24], "background");
    }
    let mut outs = Vec::new();
    for (p, x11) in clients {
        // SIGTERM ends the game loop; the client exits 0 when it was ready.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(p.child.id().to_string())
            .status();
        let (status, out) = p.finish(t);
        assert!(status.success(), "client: {status}\n{out}");
        drop(x11);
        outs.push(out);
    }
    assert_has(&outs[0], "peer ", "alice");
    assert_has(&outs[0], " at 200,120", "alice");
    assert_has(&outs[1], " at 40,50", "bob");
    for o in &outs {
        assert_has(o, "chat ack ", "client");
        assert_has(
            o,
            "chat [{\"from\":\"alice\",\"text\":\"hello from alice\"}]",
            "client",
        );
        assert_has(
            o,
            "chat [{\"from\":\"bob\",\"text\":\"hello from bob\"}]",
            "client",
        );
    }
    let out = server.stop(t);
    assert_has(&out, "stopped after 2 chats", "arena server");
}

fn start_server_cmd(exe: &Path) -> (Proc, u16) {
    let mut c = Command::new(exe);
    sanitizer_env(&mut c);
    c.args(["server", "0"]);
    let p = Proc::spawn("arena server", c);
    let line = p.wait_line("listening ", Duration::from_secs(60));
    let port = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    (p, port)
}

#[test]
fn cpp_wrappers_of_every_header_function() {
    self_check("ffi/tests/c/wrappers.cpp", "wrappers: ok");
}

/// One HTTP/1.1 request on a fresh connection; the whole answer.
fn http(port: u16, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut s, request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// Opens an Engine.IO polling session and sends it a Socket.IO packet of an
/// unknown type (the server logs "invalid packet, closing" at DEBUG).
fn send_invalid_packet(port: u16) {
    let open = http(
        port,
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open}"));
    let answer = http(
        port,
        &format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\nConnection: close\r\n\r\n49"
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
}

#[test]
fn log_sink_queue_and_callback() {
    let exe = build("ffi/tests/c/log.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut port = 0u16;
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(p) = line.strip_prefix("listening ") {
            port = p.trim().parse().unwrap();
        } else if line == "trigger" {
            send_invalid_packet(port);
            std::io::Write::write_all(&mut stdin, b"sent\n").unwrap();
        }
        seen.push(line);
    }
    let status = child.wait().unwrap();
    let out = seen.join("\n");
    assert_has(&out, "log: ok", "log.c");
    assert!(status.success(), "log.c: {status}\n{out}");
}

#[test]
fn lifecycle_overflow_reconnection_and_ack_timeout() {
    let exe = build("ffi/tests/c/lifecycle.c", Flavor::Sanitized);
    let (_, out) =
        Proc::spawn("lifecycle", cmd(&exe, Flavor::Sanitized)).finish(Duration::from_secs(60));
    assert_has(&out, "lifecycle: ok", "lifecycle");
}

#[test]
fn misuse_is_answered_with_error_codes() {
    let exe = build("ffi/tests/c/misuse.c", Flavor::Sanitized);
    let (_, out) =
        Proc::spawn("misuse", cmd(&exe, Flavor::Sanitized)).finish(Duration::from_secs(60));
    assert_has(&out, "checks ok", "misuse");
}

fn interop_setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let dir = root().join("tests/interop");
        if dir.join("node_modules/socket.io-client").exists()
            && dir.join("node_modules/socket.io").exists()
        {
            return;
        }
        let st = Command::new("bash")
            .arg(dir.join("setup.sh"))
            .status()
            .expect("bash tests/interop/setup.sh");
        assert!(st.success(), "tests/interop/setup.sh failed");
    });
}

#[test]
fn official_js_client_against_a_c_server() {
    interop_setup();
    let (srv, port) = start_server(
        "interop_server",
        &build("ffi/tests/c/interop_server.c", Flavor::Sanitized),
        Flavor::Sanitized,
    );
    let dir = root().join("tests/interop");
    for mode in ["websocket", "polling", "upgrade"] {
        let mut c = Command::new("node");
        c.arg(dir.join("client_scenarios.js"))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(mode)
            .current_dir(&dir);
        let (_, out) =
            Proc::spawn(&format!("client_scenarios.js {mode}"), c).finish(Duration::from_secs(120));
        assert!(!out.contains("FAIL"), "{mode}:\n{out}");
        for s in [
            "ok binary-echo",
            "ok server-ack",
            "ok rooms",
            "ok auth-rejected",
        ] {
            assert_has(&out, s, mode);
        }
    }
    let out = srv.stop(Duration::from_secs(30));
    assert_has(&out, "stopped after", "interop_server");
}

/// The C server with `tls` in its config, against the official JS client
/// over https and wss with a private CA; a key file that does not exist is
/// refused by `oxsio_server_new` with a message naming it.
#[test]
fn official_js_client_against_a_c_server_over_tls() {
    interop_setup();
    let exe = build("ffi/tests/c/interop_server.c", Flavor::Sanitized);
    let dir = std::env::temp_dir().join(format!("oxsio-c-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Not rcgen's default name, which the leaf has: OpenSSL would take the
    // leaf for self-signed.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "oxsio test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let path = |n: &str| dir.join(n).to_string_lossy().into_owned();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();

    let mut c = cmd(&exe, Flavor::Sanitized);
    c.args(["0", "300", &path("cert.pem"), &path("missing-key.pem")]);
    let p = Proc::spawn("interop_server (missing key)", c);
    assert_eq!(p.exit_code(Duration::from_secs(30)), Some(1));

    let mut c = cmd(&exe, Flavor::Sanitized);
    c.args(["0", "300", &path("cert.pem"), &path("key.pem")]);
    let srv = Proc::spawn("interop_server (tls)", c);
    let line = srv.wait_line("listening ", Duration::from_secs(60));
    let port: u16 = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    let interop = root().join("tests/interop");
    for transport in ["polling", "websocket"] {
        let mut c = Command::new("node");
        c.arg(interop.join("tls_client.js"))
            .args([
                &format!("https://localhost:{port}"),
                transport,
                &path("ca.pem"),
            ])
            .current_dir(&interop);
        let (_, out) = Proc::spawn("tls_client.js", c).finish(Duration::from_secs(30));
        assert_eq!(out.trim(), format!("ok {transport} over tls"));
    }
    // Plain HTTP on the TLS port is refused with a 400 that says why.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let out = srv.stop(Duration::from_secs(30));
    assert_has(&out, "stopped after", "interop_server");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The admin UI config key and protocol through the C ABI (`admin_ui.c`).
#[test]
fn admin_ui_from_c() {
    let exe = build("ffi/tests/c/admin_ui.c", Flavor::Sanitized);
    let (_, out) =
        Proc::spawn("admin_ui", cmd(&exe, Flavor::Sanitized)).finish(Duration::from_secs(60));
    assert_has(&out, "admin_ui: ok", "admin_ui");
}

/// Metrics through the C ABI: `metrics.c` checks `oxsio_server_metrics`,
/// then this scrapes the `/metrics` its listener serves.
#[test]
fn metrics_from_c() {
    let exe = build("ffi/tests/c/metrics.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.stdin(Stdio::piped());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("metrics.c: {line}"))
        .parse()
        .unwrap();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        answer.contains("\noxsio_packets_received_total{type=\"event\"} 3\n"),
        "{answer}"
    );
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"done\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success() && rest.contains("metrics: ok"), "{rest}");
}

/// `allowed_origins` in the C config: `origins.c` serves; other origins
/// get 400 on polling and on the WebSocket upgrade, the listed one 200;
/// `per_message_deflate_threshold`: the upgrade agrees on
/// permessage-deflate when the client offers it; and `allow_eio3`.
#[test]
fn allowed_origins_from_c() {
    let exe = build("ffi/tests/c/origins.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.stdin(Stdio::piped());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("origins.c: {line}"))
        .parse()
        .unwrap();
    let status = |origin: &str, websocket: bool| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (transport, extra) = if websocket {
            (
                "websocket",
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
            )
        } else {
            ("polling", "Connection: close\r\n")
        };
        let req = format!(
            "GET /socket.io/?EIO=4&transport={transport} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\n{extra}\r\n"
        );
        std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 512];
        let n = std::io::Read::read(&mut s, &mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    for ws in [false, true] {
        let refused = status("http://evil.example", ws);
        assert!(refused.starts_with("HTTP/1.1 400 "), "{refused}");
        let ok = status("http://ok.example", ws);
        let want = if ws { "HTTP/1.1 101 " } else { "HTTP/1.1 200 " };
        assert!(ok.starts_with(want), "{ok}");
        if ws {
            let agreed = ok.to_ascii_lowercase().contains(
                "sec-websocket-extensions: permessage-deflate; server_no_context_takeover",
            );
            assert!(agreed, "permessage-deflate not agreed: {ok}");
        }
    }
    // allow_eio3: a Socket.IO 2.x handshake is served, framed as protocol 3.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = "GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://ok.example\r\nConnection: close\r\n\r\n";
    std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
    let mut eio3 = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = std::io::Read::read_to_string(&mut s, &mut eio3);
    assert!(eio3.starts_with("HTTP/1.1 200 "), "{eio3}");
    assert!(
        eio3.contains(":0{\"sid\":"),
        "not a protocol 3 payload: {eio3}"
    );
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"done\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success() && rest.contains("origins: ok"), "{rest}");
}

fn node_reference_server() -> (Proc, u16) {
    interop_setup();
    let dir = root().join("tests/interop");
    let mut c = Command::new("node");
    c.arg(dir.join("reference_server.js"))
        .arg("0")
        .current_dir(&dir);
    let p = Proc::spawn("reference_server.js", c);
    let line = p.wait_line("listening ", Duration::from_secs(30));
    let port = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    (p, port)
}

#[test]
fn c_client_against_the_official_node_server() {
    let (node, port) = node_reference_server();
    let exe = build("ffi/tests/c/interop_client.c", Flavor::Sanitized);
    for mode in ["websocket", "polling", "upgrade"] {
        let mut c = cmd(&exe, Flavor::Sanitized);
        c.arg(format!("http://127.0.0.1:{port}")).arg(mode);
        let (_, out) =
            Proc::spawn(&format!("interop_client {mode}"), c).finish(Duration::from_secs(60));
        assert_has(&out, "all ok: 0 failure(s)", mode);
        for s in [
            "ok welcome-and-echo",
            "ok acks-both-ways",
            "ok rooms",
            "ok refused",
        ] {
            assert_has(&out, s, mode);
        }
    }
    drop(node);
}

/// `"parser": "msgpack"` in the C server and client configs: the official
/// JS client with `socket.io-msgpack-parser` against the C server, and the
/// C client against the official Node server using that parser.
#[test]
fn msgpack_parser_in_the_c_server_and_client() {
    interop_setup();
    let exe = build("ffi/tests/c/interop_server.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg("0").env("OXSIO_PARSER", "msgpack");
    let srv = Proc::spawn("interop_server (msgpack)", c);
    let line = srv.wait_line("listening ", Duration::from_secs(60));
    let port: u16 = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    let dir = root().join("tests/interop");
    for mode in ["websocket", "polling", "upgrade"] {
        let mut c = Command::new("node");
        c.arg(dir.join("client_scenarios.js"))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(mode)
            .env("PARSER", "msgpack")
            .current_dir(&dir);
        let (_, out) = Proc::spawn(&format!("client_scenarios.js msgpack {mode}"), c)
            .finish(Duration::from_secs(120));
        assert!(!out.contains("FAIL"), "{mode}:\n{out}");
        for s in [
            "ok binary-echo",
            "ok client-ack",
            "ok server-ack",
            "ok namespaces",
        ] {
            assert_has(&out, s, mode);
        }
    }
    let out = srv.stop(Duration::from_secs(30));
    assert_has(&out, "stopped after", "interop_server");

    let mut c = Command::new("node");
    c.arg(dir.join("reference_server.js"))
        .arg("0")
        .env("PARSER", "msgpack")
        .current_dir(&dir);
    let node = Proc::spawn("reference_server.js (msgpack)", c);
    let line = node.wait_line("listening ", Duration::from_secs(30));
    let port: u16 = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    let exe = build("ffi/tests/c/interop_client.c", Flavor::Sanitized);
    for mode in ["websocket", "polling", "upgrade"] {
        let mut c = cmd(&exe, Flavor::Sanitized);
        c.arg(format!("http://127.0.0.1:{port}"))
            .arg(mode)
            .env("OXSIO_PARSER", "msgpack");
        let (_, out) = Proc::spawn(&format!("interop_client msgpack {mode}"), c)
            .finish(Duration::from_secs(60));
        assert_has(&out, "all ok: 0 failure(s)", mode);
        for s in ["ok welcome-and-echo", "ok acks-both-ways", "ok rooms"] {
            assert_has(&out, s, mode);
        }
    }
    drop(node);
}

#[test]
fn valgrind_memcheck() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        panic!("valgrind is not installed");
    }
    // Misuse: every error path, frees from callbacks, frees while connecting.
    let exe = build("ffi/tests/c/misuse.c", Flavor::Plain);
    let (_, out) =
        Proc::spawn("misuse (valgrind)", valgrind(&exe)).finish(Duration::from_secs(300));
    assert_has(&out, "checks ok", "misuse under valgrind");
    let exe = build("ffi/tests/c/lifecycle.c", Flavor::Plain);
    let (_, out) =
        Proc::spawn("lifecycle (valgrind)", valgrind(&exe)).finish(Duration::from_secs(300));
    assert_has(&out, "lifecycle: ok", "lifecycle under valgrind");
    // The C chat server and clients, all under valgrind.
    chat_scenario(
        "examples/c/chat_server.c",
        "examples/c/chat_client.c",
        "examples/c/binary_state.c",
        Flavor::Plain,
    );
    // The C interop client against the C interop server (the APP.md app),
    // with a 5 s heartbeat: APP.md's 300/200 ms one is too tight for a
    // client slowed down by valgrind (the Node server has that one; the
    // sanitized test above runs the client against it).
    let mut c = cmd(
        &build("ffi/tests/c/interop_server.c", Flavor::Sanitized),
        Flavor::Sanitized,
    );
    c.args(["0", "5000"]);
    let srv = Proc::spawn("interop_server", c);
    let line = srv.wait_line("listening ", Duration::from_secs(60));
    let port: u16 = line
        .trim()
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    let exe = build("ffi/tests/c/interop_client.c", Flavor::Plain);
    for mode in ["websocket", "polling"] {
        let mut c = valgrind(&exe);
        c.arg(format!("http://127.0.0.1:{port}")).arg(mode);
        let (_, out) = Proc::spawn(&format!("interop_client {mode} (valgrind)"), c)
            .finish(Duration::from_secs(300));
        assert_has(
            &out,
            "all ok: 0 failure(s)",
            "interop_client under valgrind",
        );
    }
    srv.stop(Duration::from_secs(30));
}

#[path = "../../core/tests/common/proxy.rs"]
#[allow(dead_code)]
mod proxy;

/// A C client (poll mode) behind a proxy that cuts its connection: its
/// second CONNECT reports `oxsio_event_recovered`, the events sent while it
/// was away arrive once and in order, and a `retries` emit that the server
/// acknowledges only at its second delivery is acknowledged.
#[test]
fn c_client_recovers_its_session_and_retries() {
    use oxsio_core::{Event, RecoveryConfig, Server, Socket};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let io = Server::builder()
        .connection_state_recovery(RecoveryConfig::default())
        .build();
    let tasks = Arc::new(Mutex::new(0));
    let t2 = tasks.clone();
    io.on_connection(move |socket: Socket| {
        if !socket.recovered() {
            socket.join("news");
        }
        let t = t2.clone();
        socket.on("task", move |ev: Event| {
            let n = {
                let mut n = t.lock().unwrap();
                *n += 1;
                *n
            };
            if n >= 2
                && let Some(ack) = ev.ack
            {
                let _ = ack.send("ok");
            }
        });
    });
    let (handle, proxy) = rt.block_on(async {
        let handle = io.listen("127.0.0.1:0").await.unwrap();
        let proxy = proxy::Proxy::start(handle.local_addr()).await;
        (handle, proxy)
    });
    let exe = build("ffi/tests/c/recovery_client.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(format!("http://{}", proxy.addr));
    let p = Proc::spawn("recovery_client", c);
    let first = p.wait_line("connect recovered=0", Duration::from_secs(20));
    p.wait_line("task acked", Duration::from_secs(20));
    io.emit("n", 0).unwrap();
    p.wait_line("got 0", Duration::from_secs(20));
    let socket = io.of("/").sockets().pop().unwrap();
    let _guard = rt.enter();
    assert!(proxy.cut_all(false) > 0);
    io.to("news").emit("n", 1).unwrap();
    io.emit("n", 2).unwrap();
    socket.emit("n", 3).unwrap();
    let again = p.wait_line("connect recovered=1", Duration::from_secs(20));
    assert_eq!(
        again.replace("recovered=1", ""),
        first.replace("recovered=0", ""),
        "same id"
    );
    io.emit("n", 4).unwrap();
    let (_, out) = p.finish(Duration::from_secs(30));
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("got ")).collect();
    assert_eq!(got, ["got 0", "got 1", "got 2", "got 3", "got 4"], "{out}");
    assert_eq!(*tasks.lock().unwrap(), 2, "one retry");
    drop(_guard);
    rt.block_on(handle.shutdown());
}

/// The same C client against the official Node server with
/// `connectionStateRecovery` (tests/interop/recovery_server.js).
#[test]
fn c_client_recovers_against_the_node_server() {
    use std::io::Write;
    interop_setup();
    let dir = root().join("tests/interop");
    let mut node = Command::new("node")
        .arg(dir.join("recovery_server.js"))
        .arg("0")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| -> String {
        loop {
            let l = lines.next().expect("node exited").unwrap();
            if l.starts_with(prefix) {
                return l;
            }
        }
    };
    let port: u16 = next("listening ")
        .trim_start_matches("listening ")
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(proxy::Proxy::start(([127, 0, 0, 1], port).into()));
    let exe = build("ffi/tests/c/recovery_client.c", Flavor::Sanitized);
    let mut c = cmd(&exe, Flavor::Sanitized);
    c.arg(format!("http://{}", proxy.addr)).arg("no-task");
    let p = Proc::spawn("recovery_client (Node)", c);
    let first = p.wait_line("connect recovered=0", Duration::from_secs(20));
    let id = first.rsplit("id=").next().unwrap().to_owned();
    assert_eq!(next("connection "), format!("connection {id} false"));
    stdin.write_all(b"all 0\n").unwrap();
    p.wait_line("got 0", Duration::from_secs(20));
    assert!(proxy.cut_all(false) > 0);
    // Node notices a reset WebSocket at once; these wait for the client.
    stdin.write_all(b"room 1\nall 2\nsid 3\n").unwrap();
    assert_eq!(next("connection "), format!("connection {id} true"));
    let again = p.wait_line("connect recovered=1", Duration::from_secs(20));
    assert!(again.ends_with(&format!("id={id}")), "{again}");
    stdin.write_all(b"all 4\n").unwrap();
    let (_, out) = p.finish(Duration::from_secs(30));
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with("got ")).collect();
    assert_eq!(got, ["got 0", "got 1", "got 2", "got 3", "got 4"], "{out}");
    drop(stdin);
    let _ = node.kill();
    let _ = node.wait();
}
