//! The `oxsio` binary against an `oxsio serve` process and the official
//! Node.js server (tests/interop/reference_server.js, the same app), over
//! long-polling and WebSocket: `emit` (with ack and a binary file),
//! `listen` (JSON lines, binary as base64 and into files), `bench` (echo,
//! fan-out, connect); `serve` over TLS and with Redis (two nodes); and the
//! errors a user meets (bad URL, refused, timed out, refused by the server,
//! bad arguments), each with a message and a non-zero exit code.
//!
//! Node peers: `tests/interop/setup.sh` (run here when missing).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oxsio");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs the binary to completion (killed after 60 s).
fn oxsio(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("oxsio {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A background process whose stdout and stderr lines are collected.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        Proc { child, lines: rx }
    }

    /// The next line containing `needle` (others are kept in `seen`).
    fn wait_line(&self, needle: &str, seen: &mut Vec<String>) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(l) => seen.push(l),
                Err(_) => panic!("no line with {needle:?}; saw {seen:?}"),
            }
        }
    }

    /// Waits for the exit (killed after 30 s); the exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

fn node_setup() {
    let dir = root().join("tests/interop");
    if !dir.join("node_modules/socket.io").exists() {
        let st = Command::new("bash")
            .arg(dir.join("setup.sh"))
            .status()
            .unwrap();
        assert!(st.success(), "tests/interop/setup.sh failed");
    }
}

/// `oxsio serve --port 0 [extra]`; the process and its URL.
fn oxsio_server(extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--port", "0"]).args(extra);
    let p = Proc::spawn(cmd);
    let line = p.wait_line("listening on ", &mut Vec::new());
    let url = line
        .trim_start_matches("listening on ")
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    (p, url)
}

/// The official Node.js server with the same app; the process and its URL.
fn node_server() -> (Proc, String) {
    node_setup();
    let dir = root().join("tests/interop");
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("reference_server.js"))
        .arg("0")
        .current_dir(&dir);
    let p = Proc::spawn(cmd);
    let line = p.wait_line("listening ", &mut Vec::new());
    let port = line.trim().trim_start_matches("listening ");
    (p, format!("http://127.0.0.1:{port}"))
}

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("oxsio-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// emit, listen and bench against one server, over one transport.
fn scenario(url: &str, transport: &str, dir: &Path) {
    let file = dir.join("blob.bin");
    std::fs::write(&file, b"hello").unwrap();
    let at_file = format!("@{}", file.display());

    // emit with an acknowledgement and a binary argument.
    let o = oxsio(&[
        "emit",
        url,
        "echo-ack",
        r#"{"a":[1,true]}"#,
        "text",
        "--binary",
        &at_file,
        "--ack",
        "-t",
        transport,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        r#"[{"a":[1,true]},"text",{"_binary":"aGVsbG8="}]"#
    );

    // listen: JSON lines, binary as base64, then into files.
    for binary_dir in [None, Some(dir.join(format!("files-{transport}")))] {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "listen", url, "-t", transport, "--event", "news", "--count", "2",
        ]);
        if let Some(d) = &binary_dir {
            cmd.arg("--binary-dir").arg(d);
        }
        let mut listener = Proc::spawn(cmd);
        let mut seen = Vec::new();
        listener.wait_line("oxsio: listening on", &mut seen);
        for extra in [vec![r#"{"x":1}"#], vec!["--binary", &at_file]] {
            let mut args = vec!["emit", url, "broadcast", "news", "-t", transport];
            args.extend(extra);
            let o = oxsio(&args);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        }
        let first = listener.wait_line(r#"{"event":"news""#, &mut seen);
        assert_eq!(first, r#"{"event":"news","args":[{"x":1}]}"#);
        let second = listener.wait_line(r#"{"event":"news""#, &mut seen);
        match &binary_dir {
            None => assert_eq!(
                second,
                r#"{"event":"news","args":[{"_binary":"aGVsbG8="}]}"#
            ),
            Some(d) => {
                let v: serde_json::Value = serde_json::from_str(&second).unwrap();
                let path = v["args"][0]["_file"].as_str().unwrap();
                assert!(Path::new(path).starts_with(d), "{path}");
                assert_eq!(std::fs::read(path).unwrap(), b"hello");
            }
        }
        assert_eq!(listener.exit_code(), Some(0), "{seen:?}");
    }

    // bench: the three scenarios, a summary row each, no errors.
    let o = oxsio(&["bench", url, "-t", transport, "-c", "3", "-d", "0.5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    for name in ["echo", "fanout", "connect"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], transport, "{row}");
        let ops: u64 = cells[3].parse().unwrap();
        assert!(ops > 0, "{row}");
        assert_eq!(*cells.last().unwrap(), "0", "errors: {row}");
    }
    // With acknowledgements.
    let o = oxsio(&[
        "bench", url, "-t", transport, "-c", "2", "-d", "0.3", "-s", "echo", "--ack",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("msg/s"), "{}", stdout(&o));
}

#[test]
fn every_subcommand_against_oxsio_serve() {
    let (_server, url) = oxsio_server(&["--metrics", "/metrics"]);
    let dir = tmp_dir("oxsio");
    for transport in ["polling", "websocket"] {
        scenario(&url, transport, &dir);
    }
    // The traffic above shows in the server's metrics.
    let mut s = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let opened: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("oxsio_engine_connections_opened_total "))
        .unwrap_or_else(|| panic!("{text}"))
        .parse()
        .unwrap();
    assert!(opened > 10, "{opened}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_subcommand_against_the_node_server() {
    let (_server, url) = node_server();
    let dir = tmp_dir("node");
    for transport in ["polling", "websocket"] {
        scenario(&url, transport, &dir);
    }
    // Refused by the server's middleware: its message, exit code 1.
    let o = oxsio(&["emit", &url, "x", "--auth", r#"{"token":"bad"}"#]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused the connection: unauthorized"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_over_tls() {
    let dir = tmp_dir("tls");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
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
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    std::fs::write(p("ca.pem"), ca.pem()).unwrap();
    std::fs::write(p("cert.pem"), cert.pem()).unwrap();
    std::fs::write(p("key.pem"), key.serialize_pem()).unwrap();

    let (_server, url) = oxsio_server(&["--tls-cert", &p("cert.pem"), "--tls-key", &p("key.pem")]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let url = url.replace("127.0.0.1", "localhost");
    for transport in ["polling", "websocket"] {
        let o = oxsio(&[
            "emit",
            &url,
            "echo-ack",
            "1",
            "--ack",
            "--ca",
            &p("ca.pem"),
            "-t",
            transport,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "[1]");
    }
    // Without the CA the certificate is refused.
    let o = oxsio(&["emit", &url, "echo-ack", "1", "--ack"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("TLS"), "{}", stderr(&o));
    // A key file that does not exist: a usage error naming it.
    let o = oxsio(&[
        "serve",
        "--port",
        "0",
        "--tls-cert",
        &p("cert.pem"),
        "--tls-key",
        &p("nope.pem"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.pem"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_have_a_message_and_an_exit_code() {
    // Bad URL: usage error.
    for bad in ["not a url", "ftp://127.0.0.1:1", "http://"] {
        let o = oxsio(&["emit", bad, "x"]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("invalid URL"), "{bad}: {}", stderr(&o));
    }
    // Connection refused: a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    for sub in [
        vec!["emit", &url, "x"],
        vec!["listen", &url],
        vec!["bench", &url, "-d", "0.2"],
    ] {
        let o = oxsio(&sub);
        assert_eq!(o.status.code(), Some(1), "{sub:?}");
        assert!(
            stderr(&o).contains("Connection refused"),
            "{sub:?}: {}",
            stderr(&o)
        );
    }
    // A server that accepts and never answers: timed out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let started = Instant::now();
    let o = oxsio(&["emit", &url, "x", "--timeout", "1", "-t", "websocket"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(silent);

    // Against a live server: no acknowledgement, bad arguments.
    let (_server, url) = oxsio_server(&[]);
    let o = oxsio(&["emit", &url, "nobody-answers", "--ack", "--timeout", "0.5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no acknowledgement"), "{}", stderr(&o));
    for bad in [
        vec!["emit", &url, "x", "--auth", "{not json"],
        vec!["emit", &url, "x", "--auth", "[1]"],
        vec!["emit", &url, "x", "--binary", "no-at-sign"],
        vec!["emit", &url, "x", "--binary", "@/nonexistent/oxsio-file"],
        vec!["emit", &url, "x", "--namespace", "no-slash"],
        vec!["emit", &url, "x", "--timeout", "-1"],
        vec!["bench", &url, "--clients", "0"],
        vec!["bench", &url, "--duration", "0"],
        vec!["listen", &url, "--transport", "carrier-pigeon"],
    ] {
        let o = oxsio(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!stderr(&o).trim().is_empty(), "{bad:?}");
    }
    // An unknown namespace: the server's refusal.
    let o = oxsio(&["emit", &url, "x", "--namespace", "/nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Invalid namespace"), "{}", stderr(&o));
    let mut s = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    let _ = std::io::Write::write_all(&mut s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 12];
    let _ = s.read(&mut buf);
    assert!(buf.starts_with(b"HTTP/1.1 404"));
}

/// Two `oxsio serve` nodes joined by the adapter `args` name: an event
/// broadcast through one reaches a listener on the other; the event as
/// the listener printed it.
fn spans_two_nodes(args: &[&str]) -> serde_json::Value {
    let (_a, url_a) = oxsio_server(args);
    let (_b, url_b) = oxsio_server(args);
    let mut listener = Proc::spawn({
        let mut c = Command::new(BIN);
        c.args(["listen", &url_a, "--event", "news", "--count", "1"]);
        c
    });
    let mut seen = Vec::new();
    listener.wait_line("oxsio: listening on", &mut seen);
    // The adapter subscribes in the background: retry until it is through.
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        let o = oxsio(&["emit", &url_b, "broadcast", "news", r#""across""#]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        if let Ok(l) = listener.lines.recv_timeout(Duration::from_millis(500)) {
            if l.contains("\"news\"") {
                break l;
            }
            seen.push(l);
        }
        assert!(
            Instant::now() < deadline,
            "{args:?}: nothing crossed; saw {seen:?}"
        );
    };
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["args"][0], "across", "{line}");
    assert_eq!(listener.exit_code(), Some(0));
    line
}

#[test]
fn serve_with_redis_spans_two_nodes() {
    let redis = oxsio_test_services::RedisServer::start();
    let url = redis.url();
    let prefix = format!("oxsio-cli-{}", std::process::id());
    let line = spans_two_nodes(&["--redis", &url, "--redis-prefix", &prefix]);
    assert_eq!(line["args"].as_array().unwrap().len(), 1, "{line}");
}

#[test]
fn serve_with_the_sharded_adapter_spans_two_nodes() {
    let cluster = oxsio_test_services::RedisCluster::start(3);
    let urls = cluster.urls();
    let mut args = Vec::new();
    for u in &urls {
        args.extend(["--redis-sharded", u.as_str()]);
    }
    args.extend([
        "--subscription-mode",
        "static",
        "--adapter-timeout-ms",
        "2000",
    ]);
    spans_two_nodes(&args);
}

#[test]
fn serve_with_the_postgres_adapter_spans_two_nodes() {
    let pg = oxsio_test_services::Postgres::start();
    let url = pg.url();
    spans_two_nodes(&[
        "--postgres",
        &url,
        "--postgres-table",
        "cli_attachments",
        "--postgres-payload-threshold",
        "4000",
        "--postgres-cleanup-ms",
        "60000",
        "--adapter-prefix",
        "cli",
    ]);
}

#[test]
fn serve_with_the_streams_adapter_spans_two_nodes() {
    let redis = oxsio_test_services::RedisServer::start();
    let url = redis.url();
    let line = spans_two_nodes(&[
        "--redis-streams",
        &url,
        "--stream-name",
        "cli-stream",
        "--stream-count",
        "2",
        "--stream-max-len",
        "500",
        "--stream-read-count",
        "50",
        "--stream-block-ms",
        "1000",
        "--session-key-prefix",
        "cli:session:",
        "--recovery",
        "5000",
    ]);
    // With recovery, each event carries its stream entry id as a last
    // argument (the offset a client offers back), as with Node's adapter.
    let offset = line["args"][1].as_str().unwrap_or_default().to_owned();
    let (ms, seq) = offset.split_once('-').unwrap_or_default();
    assert!(
        ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok(),
        "{line}"
    );
    // --stream-name and --stream-count name the streams: `<name>-<i>`.
    let keys = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "--raw",
            "KEYS",
            "cli-stream*",
        ])
        .output()
        .unwrap();
    let keys = String::from_utf8_lossy(&keys.stdout).to_string();
    assert!(
        keys.lines()
            .any(|k| k == "cli-stream-0" || k == "cli-stream-1"),
        "{keys}"
    );
}

#[test]
fn serve_with_the_streams_adapter_on_a_redis_cluster_spans_two_nodes() {
    let cluster = oxsio_test_services::RedisCluster::start(3);
    let urls = cluster.urls();
    let mut args = Vec::new();
    for u in &urls {
        args.extend(["--redis-streams", u.as_str()]);
    }
    args.extend([
        "--redis-cluster",
        "--sharded-pub-sub",
        "--stream-count",
        "3",
        "--adapter-timeout-ms",
        "2000",
    ]);
    spans_two_nodes(&args);
}

/// One HTTP/1.1 request to `url` (http://host:port) with `body` (POST) or
/// without (GET); the response body.
fn http(url: &str, path: &str, body: Option<&str>) -> String {
    use std::io::Write;
    let host = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = match body {
        Some(b) => format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        ),
        None => format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    };
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// The CONNECT answer of `/` over long-polling, e.g. `40{"sid":"…"}`.
fn connect_answer(url: &str) -> String {
    let open = http(url, "/socket.io/?EIO=4&transport=polling", None);
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(url, &path, Some("40")), "ok");
    http(url, &path, None)
}

/// `serve --recovery MS` turns connection state recovery on: the CONNECT
/// answer carries a session id (`pid`) to recover; without it, none.
#[test]
fn serve_recovery_flag() {
    let (_on, url_on) = oxsio_server(&["--recovery", "5000"]);
    let answer = connect_answer(&url_on);
    assert!(
        answer.starts_with("40{") && answer.contains("\"pid\":\""),
        "{answer}"
    );
    let (_off, url_off) = oxsio_server(&[]);
    let answer = connect_answer(&url_off);
    assert!(
        answer.starts_with("40{") && !answer.contains("\"pid\""),
        "{answer}"
    );
    let o = oxsio(&["serve", "--port", "0", "--recovery", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--recovery"), "{}", stderr(&o));
}

/// Adapter flags that cannot go together, or lack what they refine, are
/// usage errors (exit code 2) naming the flag.
#[test]
fn adapter_flags_are_checked() {
    for (bad, needle) in [
        (
            vec![
                "--redis",
                "redis://127.0.0.1:1",
                "--postgres",
                "postgres://x@127.0.0.1:1/x",
            ],
            "--postgres",
        ),
        (vec!["--subscription-mode", "static"], "--redis-sharded"),
        (vec!["--postgres-table", "t"], "--postgres"),
        (vec!["--stream-count", "2"], "--redis-streams"),
        (
            vec![
                "--redis-streams",
                "redis://127.0.0.1:1",
                "--stream-count",
                "0",
            ],
            "stream_count",
        ),
        (
            vec![
                "--redis-streams",
                "redis://127.0.0.1:1",
                "--redis",
                "redis://127.0.0.1:1",
            ],
            "--redis",
        ),
        (
            vec![
                "--redis-streams",
                "redis://127.0.0.1:1",
                "--redis-streams",
                "redis://127.0.0.1:2",
            ],
            "--redis-cluster",
        ),
        (
            vec![
                "--redis-streams",
                "redis://127.0.0.1:1",
                "--sharded-pub-sub",
            ],
            "--redis-cluster",
        ),
        (vec!["--redis-cluster"], "--redis-streams"),
        (vec!["--stream-read-count", "5"], "--redis-streams"),
        (
            vec![
                "--redis-streams",
                "redis://127.0.0.1:1",
                "--stream-block-ms",
                "0",
            ],
            "block_time",
        ),
        (
            vec![
                "--postgres",
                "postgres://x@127.0.0.1:1/x",
                "--postgres-cleanup-ms",
                "0",
            ],
            "cleanup_interval",
        ),
        (
            vec![
                "--redis",
                "redis://127.0.0.1:1",
                "--adapter-timeout-ms",
                "0",
            ],
            "requests_timeout",
        ),
        (vec!["--adapter-prefix", "p"], "adapter"),
        (vec!["--redis", "not a url"], "--redis"),
        (vec!["--postgres", "mysql://nope"], "--postgres"),
        (
            vec![
                "--redis-sharded",
                "redis://127.0.0.1:1",
                "--subscription-mode",
                "sometimes",
            ],
            "sometimes",
        ),
    ] {
        let mut args = vec!["serve", "--port", "0"];
        args.extend(&bad);
        let o = oxsio(&args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{bad:?}: {}", stderr(&o));
    }
}

/// `serve --path --cors --transport`: each option changes what clients see.
#[test]
fn serve_options_path_cors_transport() {
    let (_server, url) = oxsio_server(&[
        "--path",
        "/rt/",
        "--cors",
        "https://a.example",
        "--transport",
        "websocket",
    ]);
    // The path: found there, not at the default.
    let o = oxsio(&[
        "emit",
        &url,
        "echo-ack",
        "1",
        "--ack",
        "--path",
        "/rt/",
        "-t",
        "websocket",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "[1]");
    let o = oxsio(&["emit", &url, "x", "-t", "websocket", "--timeout", "2"]);
    assert_eq!(o.status.code(), Some(1));
    // WebSocket only: long-polling is refused with the server's answer.
    let o = oxsio(&[
        "emit",
        &url,
        "x",
        "--path",
        "/rt/",
        "-t",
        "polling",
        "--timeout",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
    // CORS: the allowed origin is echoed, another is not.
    let addr = url.trim_start_matches("http://").to_owned();
    let cors = |origin: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let req = format!(
            "OPTIONS /rt/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        );
        std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.to_ascii_lowercase()
    };
    assert!(cors("https://a.example").contains("access-control-allow-origin: https://a.example"));
    assert!(!cors("https://b.example").contains("access-control-allow-origin"));
}

/// `serve --admin-ui`: the admin namespace takes the password of the bcrypt
/// hash and sends `server_stats` with the server id; read-only refuses a
/// command; a wrong password is refused; bad admin options are usage errors.
#[test]
fn serve_with_the_admin_ui() {
    // bcrypt("changeit"), from bcryptjs.
    const HASH: &str = "$2a$10$O4m1Ix7Sz4l5lSLNxJCYieROyJNFa7mNFipGn6o/48bxhduDmUvyq";
    const LOGIN: &str = r#"{"username":"admin","password":"changeit"}"#;
    let (_server, url) = oxsio_server(&[
        "--admin-ui",
        "/admin",
        "--admin-user",
        "admin",
        "--admin-password-hash",
        HASH,
        "--admin-read-only",
        "--admin-mode",
        "production",
        "--admin-server-id",
        "cli-test",
    ]);
    let o = oxsio(&[
        "listen",
        &url,
        "-n",
        "/admin",
        "--auth",
        LOGIN,
        "-e",
        "config",
        "-e",
        "server_stats",
        "--count",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(r#""serverId":"cli-test""#), "{out}");
    // Read-only and production: no command, no ALL_EVENTS.
    assert!(
        out.contains(r#"{"supportedFeatures":["AGGREGATED_EVENTS"]}"#),
        "{out}"
    );
    let o = oxsio(&[
        "emit", &url, "join", r#""/""#, r#""vip""#, "-n", "/admin", "--auth", LOGIN, "--ack",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(r#"[{"error":"read-only"}]"#),
        "{}",
        stdout(&o)
    );
    let o = oxsio(&[
        "emit",
        &url,
        "x",
        "-n",
        "/admin",
        "--auth",
        r#"{"username":"admin","password":"wrong"}"#,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid credentials"), "{}", stderr(&o));
    for bad in [
        vec!["serve", "--port", "0", "--admin-ui", "/admin"],
        vec![
            "serve",
            "--port",
            "0",
            "--admin-ui",
            "/admin",
            "--admin-user",
            "a",
            "--admin-password-hash",
            "changeit",
        ],
        vec!["serve", "--port", "0", "--admin-read-only"],
        vec!["serve", "--port", "0", "--cors", "*", "--cors-credentials"],
    ] {
        let o = oxsio(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!stderr(&o).trim().is_empty(), "{bad:?}");
    }
}
