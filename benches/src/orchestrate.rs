//! Starts the peers (a fresh server per measurement, pinned to CPU 0),
//! runs each scenario in a load process pinned to CPU 1, interleaves the
//! repetitions and writes the report.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Flags;
use crate::cluster;
use crate::report;
use crate::sys;

/// CPU of the server; the load runs on [`LOAD_CPU`].
pub(crate) const SERVER_CPU: usize = 0;
const LOAD_CPU: usize = 1;

/// All scenarios, in run order.
pub const SCENARIOS: &[&str] = &[
    "echo_64",
    "echo_64_msgpack",
    "echo_1k",
    "fanout",
    "connect",
    "polling_echo",
    "idle",
];

/// A server implementation of the benchmark app.
#[derive(Clone, Debug)]
pub struct Peer {
    pub name: &'static str,
    /// Implementation and version, for the report.
    pub about: String,
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Why it is skipped, when it is.
    pub skip: Option<String>,
}

/// The repository root (benches/..).
pub fn repo_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
}

pub(crate) fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

fn output(program: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("failed");
            Err(last.trim().to_owned())
        }
        Err(e) => Err(format!("{program}: {e}")),
    }
}

fn lock_version(root: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let pat = format!("name = \"{name}\"\nversion = \"");
    lock.find(&pat)
        .and_then(|i| lock[i + pat.len()..].split('"').next())
        .unwrap_or("?")
        .to_owned()
}

fn bin_peer(name: &'static str, about: String, bin: &str) -> Peer {
    let path = bin_dir().join(bin);
    let skip = (!path.exists()).then(|| format!("{} not built", path.display()));
    Peer {
        name,
        about,
        program: path.display().to_string(),
        args: vec![],
        env: vec![],
        skip,
    }
}

/// Finds the peers on this machine (missing ones carry a skip note).
pub fn detect_peers() -> Vec<Peer> {
    let root = repo_root();
    let peers_dir = root.join("benches/peers");
    let mut peers = vec![
        bin_peer(
            "oxsio",
            format!("oxsio {} (Rust, this repo)", lock_version(&root, "oxsio")),
            "bench-server-oxsio",
        ),
        // The same server with Prometheus metrics on: its cost, measured
        // beside the one without (not in the default peer list).
        Peer {
            args: vec!["--metrics".into()],
            ..bin_peer(
                "oxsio-metrics",
                format!(
                    "oxsio {} with Prometheus metrics on (Rust, this repo)",
                    lock_version(&root, "oxsio")
                ),
                "bench-server-oxsio",
            )
        },
        bin_peer(
            "socketioxide",
            format!(
                "socketioxide {} (crates.io, hyper 1 http1)",
                lock_version(&root, "socketioxide")
            ),
            "bench-server-socketioxide",
        ),
    ];

    // Node.js socket.io from tests/interop/node_modules.
    let modules = root.join("tests/interop/node_modules");
    let node = match output("node", &["--version"]) {
        Err(e) => Err(format!("node not found ({e})")),
        Ok(v) => {
            let pkg = std::fs::read_to_string(modules.join("socket.io/package.json"));
            match pkg.ok().and_then(|p| serde_json::from_str::<Value>(&p).ok()) {
                Some(p) => Ok(format!("socket.io {} on Node.js {v}", p["version"].as_str().unwrap_or("?"))),
                None => Err("tests/interop/node_modules has no socket.io: run `bash tests/interop/setup.sh`".into()),
            }
        }
    };
    peers.push(Peer {
        name: "node",
        about: node.clone().unwrap_or_default(),
        program: "node".into(),
        args: vec![peers_dir.join("node_app.js").display().to_string()],
        env: vec![("OXSIO_NODE_MODULES".into(), modules.display().to_string())],
        skip: node.err(),
    });

    // python-socketio + aiohttp from tests/interop/.venv.
    let py = root.join("tests/interop/.venv/bin/python");
    let pyv = if py.exists() {
        output(
            &py.display().to_string(),
            &["-c", "import importlib.metadata as m, socketio, aiohttp, sys; print('python-socketio', m.version('python-socketio'), '+ aiohttp', aiohttp.__version__, 'on Python', sys.version.split()[0])"],
        )
        .map_err(|e| format!("tests/interop/.venv cannot import socketio/aiohttp: {e}"))
    } else {
        Err("tests/interop/.venv missing: run `bash tests/interop/setup.sh`".into())
    };
    peers.push(Peer {
        name: "python-socketio",
        about: pyv.clone().unwrap_or_default(),
        program: py.display().to_string(),
        args: vec![
            peers_dir
                .join("python_socketio_app.py")
                .display()
                .to_string(),
        ],
        env: vec![],
        skip: pyv.err(),
    });

    // oxsio hosted from Python (python/.venv with the oxsio module).
    let py = root.join("python/.venv/bin/python");
    let app = peers_dir.join("oxsio_python_app.py");
    let oxpy = if !app.exists() {
        Err(format!("{} missing", app.display()))
    } else if !py.exists() {
        Err("python/.venv missing (the Python binding is not built on this machine)".to_owned())
    } else {
        output(&py.display().to_string(), &["-c", "import oxsio, sys; print('oxsio (Python binding) on Python', sys.version.split()[0])"])
            .map_err(|e| format!("python/.venv cannot import oxsio: {e}"))
    };
    peers.push(Peer {
        name: "oxsio-python",
        about: oxpy.clone().unwrap_or_default(),
        program: py.display().to_string(),
        args: vec![app.display().to_string()],
        env: vec![],
        skip: oxpy.err(),
    });

    // oxsio hosted from C in poll mode (ffi/ header and library).
    let c = build_c_peer(&root);
    peers.push(Peer {
        name: "oxsio-c-poll",
        about: "oxsio C ABI (ffi/, static library, release), poll mode: benches/peers/oxsio_c_poll_app.c".into(),
        program: c.clone().unwrap_or_default(),
        args: vec![],
        env: vec![],
        skip: c.err(),
    });
    // oxsio hosted from C# in poll mode (dotnet/ binding over liboxsio.so, Mono).
    let cs = build_csharp_peer(&root);
    peers.push(Peer {
        name: "oxsio-csharp-poll",
        about: "oxsio C# binding (dotnet/Runtime over liboxsio.so, release) under Mono, poll mode: benches/peers/OxsioCSharpPollApp.cs".into(),
        program: "mono".into(),
        args: cs.as_ref().map(|(exe, _)| vec![exe.clone()]).unwrap_or_default(),
        env: cs
            .as_ref()
            .map(|(_, lib)| vec![("LD_LIBRARY_PATH".to_owned(), lib.clone())])
            .unwrap_or_default(),
        skip: cs.err(),
    });
    peers
}

/// Compiles benches/peers/OxsioCSharpPollApp.cs with the binding of
/// dotnet/Runtime (mcs) when Mono and the release liboxsio.so are there;
/// returns the program and the directory of the library.
fn build_csharp_peer(root: &Path) -> Result<(String, String), String> {
    let src = root.join("benches/peers/OxsioCSharpPollApp.cs");
    let runtime = root.join("dotnet/Runtime");
    if !src.exists() || !runtime.exists() {
        return Err("dotnet/Runtime or benches/peers/OxsioCSharpPollApp.cs missing".into());
    }
    output("mono", &["--version"])
        .map_err(|e| format!("mono missing ({e}): apt-get install mono-devel"))?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let candidates = [
        bin_dir(),
        target.join("release"),
        root.join("target/release"),
        root.join("target/bench/release"),
    ];
    let Some(lib) = candidates.iter().find(|p| p.join("liboxsio.so").exists()) else {
        return Err("liboxsio.so (release) not built: `cargo build --release -p oxsio-ffi`".into());
    };
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&runtime)
        .map_err(|e| format!("{}: {e}", runtime.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cs"))
        .collect();
    sources.sort();
    sources.push(src);
    let out = bin_dir().join("bench-server-oxsio-csharp-poll.exe");
    let status = Command::new("mcs")
        .args([
            "-langversion:7.2",
            "-optimize+",
            "-r:Mono.Posix.dll",
            "-r:System.Core.dll",
        ])
        .arg(format!("-out:{}", out.display()))
        .args(&sources)
        .status()
        .map_err(|e| format!("mcs: {e}"))?;
    if !status.success() {
        return Err("mcs failed to build the C# bench peer".into());
    }
    Ok((out.display().to_string(), lib.display().to_string()))
}

/// Compiles benches/peers/oxsio_c_poll_app.c against ffi/include/oxsio.h
/// and the built C library, when both exist.
fn build_c_peer(root: &Path) -> Result<String, String> {
    let header = root.join("include/oxsio.h");
    if !header.exists() || !root.join("ffi/Cargo.toml").exists() {
        return Err("include/oxsio.h or ffi/ missing (no C ABI in this checkout)".into());
    }
    let src = root.join("benches/peers/oxsio_c_poll_app.c");
    if !src.exists() {
        return Err("benches/peers/oxsio_c_poll_app.c missing".into());
    }
    // The C library from any target dir of this repo, release preferred.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    // The one built beside this binary first: another target dir may hold a stale one.
    let candidates = [
        bin_dir().join("liboxsio.a"),
        target.join("release/liboxsio.a"),
        root.join("target/release/liboxsio.a"),
        root.join("target/bench/release/liboxsio.a"),
    ];
    let Some(lib) = candidates.iter().find(|p| p.exists()) else {
        return Err("liboxsio.a (release) not built: `cargo build --release -p oxsio-ffi`".into());
    };
    let out = bin_dir().join("bench-server-oxsio-c-poll");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-I")
        .arg(root.join("include"))
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err(format!("cc failed to build {}", src.display()));
    }
    Ok(out.display().to_string())
}

/// A running server.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) port: u16,
}

impl Running {
    pub(crate) fn stop(mut self) {
        sys::terminate(self.pid);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) use oxsio_test_services::pinned;

pub(crate) fn start(
    peer: &Peer,
    pin: Option<usize>,
    extra: &[String],
    log: &Path,
) -> Result<Running, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("log {}: {e}", log.display()))?;
    let mut child = pinned(pin, &peer.program)
        .args(&peer.args)
        .args(extra)
        .envs(peer.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", peer.program))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        for line in lines.by_ref().map_while(Result::ok) {
            if !sent && let Some(p) = line.trim().strip_prefix("LISTENING ") {
                let _ = tx.send(p.trim().parse::<u16>().ok());
                sent = true;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(port)) => Ok(Running { child, pid, port }),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("{} did not print LISTENING <port>", peer.name))
        }
    }
}

/// Sizes of every scenario.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Sizes {
    pub profile: String,
    pub echo_clients: u64,
    pub echo_per_client: u64,
    pub fanout_receivers: u64,
    pub fanout_broadcasts: u64,
    pub fanout_window: u64,
    pub connect_conns: u64,
    pub connect_concurrency: u64,
    pub poll_clients: u64,
    pub poll_per_client: u64,
    pub idle_conns: u64,
    pub idle_hold_s: u64,
    pub limit_s: u64,
    /// Server heartbeat override (smoke only; None = each server's default).
    pub ping_interval_ms: Option<u64>,
}

impl Sizes {
    pub(crate) fn profile(name: &str, nofile: u64) -> Sizes {
        // Each idle connection costs one fd in the server and one here.
        let idle_cap = nofile.saturating_sub(500).max(100);
        match name {
            "smoke" => Sizes {
                profile: "smoke".into(),
                echo_clients: 4,
                echo_per_client: 20,
                fanout_receivers: 10,
                fanout_broadcasts: 20,
                fanout_window: 4,
                connect_conns: 50,
                connect_concurrency: 10,
                poll_clients: 4,
                poll_per_client: 10,
                idle_conns: 20,
                idle_hold_s: 2,
                limit_s: 20,
                ping_interval_ms: Some(500),
            },
            "moderate" => Sizes {
                profile: "moderate".into(),
                echo_clients: 100,
                echo_per_client: 1000,
                fanout_receivers: 1000,
                fanout_broadcasts: 200,
                fanout_window: 8,
                connect_conns: 10_000,
                connect_concurrency: 100,
                poll_clients: 50,
                poll_per_client: 100,
                idle_conns: 10_000.min(idle_cap),
                idle_hold_s: 30,
                limit_s: 25,
                ping_interval_ms: None,
            },
            _ => Sizes {
                profile: "full".into(),
                echo_clients: 100,
                echo_per_client: 1000,
                fanout_receivers: 1000,
                fanout_broadcasts: 1000,
                fanout_window: 8,
                connect_conns: 10_000,
                connect_concurrency: 100,
                poll_clients: 100,
                poll_per_client: 200,
                idle_conns: 100_000.min(idle_cap),
                idle_hold_s: 60,
                limit_s: 60,
                ping_interval_ms: None,
            },
        }
    }

    fn args(&self, scenario: &str) -> Vec<String> {
        let kv: Vec<(&str, u64)> = match scenario {
            "echo_64" | "echo_64_msgpack" | "echo_1k" => vec![
                ("clients", self.echo_clients),
                ("per-client", self.echo_per_client),
            ],
            "fanout" | "cluster_fanout" => vec![
                ("receivers", self.fanout_receivers),
                ("broadcasts", self.fanout_broadcasts),
                ("window", self.fanout_window),
            ],
            "connect" => vec![
                ("conns", self.connect_conns),
                ("concurrency", self.connect_concurrency),
            ],
            "polling_echo" => vec![
                ("clients", self.poll_clients),
                ("per-client", self.poll_per_client),
            ],
            "idle" => vec![("conns", self.idle_conns), ("hold-s", self.idle_hold_s)],
            _ => vec![],
        };
        let mut out: Vec<String> = kv
            .into_iter()
            .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
            .collect();
        // The connect phase of idle is not part of its hold time.
        let limit = if scenario == "idle" {
            self.limit_s + self.idle_hold_s
        } else {
            self.limit_s
        };
        out.extend(["--limit-s".into(), limit.to_string()]);
        out
    }

    /// One line per scenario, for the report.
    pub fn describe(&self) -> Vec<(String, String)> {
        vec![
            (
                "echo_64".into(),
                format!(
                    "{} clients × {} events, 64 B string, closed loop, WebSocket",
                    self.echo_clients, self.echo_per_client
                ),
            ),
            (
                "echo_64_msgpack".into(),
                "as echo_64 with socket.io-msgpack-parser packets (binary frames), oxsio servers only"
                    .to_owned(),
            ),
            (
                "echo_1k".into(),
                format!(
                    "{} clients × {} events, 1 KiB string, closed loop, WebSocket",
                    self.echo_clients, self.echo_per_client
                ),
            ),
            (
                "fanout".into(),
                format!(
                    "{} receivers in room \"all\", {} broadcasts, window {}",
                    self.fanout_receivers, self.fanout_broadcasts, self.fanout_window
                ),
            ),
            (
                "connect".into(),
                format!(
                    "{} WebSocket connections ({} handshakes in flight), held 2 s",
                    self.connect_conns, self.connect_concurrency
                ),
            ),
            (
                "polling_echo".into(),
                format!(
                    "{} clients × {} events, 64 B, long-polling only",
                    self.poll_clients, self.poll_per_client
                ),
            ),
            (
                "idle".into(),
                format!(
                    "{} WebSocket connections held {} s, default heartbeat",
                    self.idle_conns, self.idle_hold_s
                ),
            ),
            (
                cluster::SCENARIO.into(),
                format!(
                    "as fanout, {} receivers split across 2 nodes on each adapter (1 node without): see \"Cluster\" below",
                    self.fanout_receivers
                ),
            ),
        ]
    }
}

/// Runs one scenario in a pinned load process against the servers on
/// `ports` (whose pids are `pids`, in the same order); its JSON line.
pub(crate) fn load(
    scenario: &str,
    ports: &[u16],
    pids: &[u32],
    sizes: &Sizes,
    pin: Option<usize>,
) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let join = |v: Vec<String>| v.join(",");
    let mut args = vec![
        "run".to_owned(),
        scenario.to_owned(),
        "--addr".into(),
        join(ports.iter().map(|p| format!("127.0.0.1:{p}")).collect()),
        "--pid".into(),
        join(pids.iter().map(u32::to_string).collect()),
    ];
    args.extend(sizes.args(scenario));
    let mut child = pinned(pin, &exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    let budget = Duration::from_secs(sizes.limit_s * 2 + sizes.idle_hold_s + 30);
    let until = Instant::now() + budget;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("load process exceeded {} s", budget.as_secs()));
            }
        }
    }
    let lines = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or("load process printed no JSON line")?;
    serde_json::from_str(line).map_err(|e| format!("bad JSON line: {e}"))
}

/// One measurement: fresh server, one scenario, server stopped.
fn measure(
    peer: &Peer,
    scenario: &str,
    sizes: &Sizes,
    pins: (Option<usize>, Option<usize>),
    log: &Path,
) -> Value {
    let mut extra = vec![];
    if let Some(ms) = sizes.ping_interval_ms {
        extra = vec![
            "--ping-interval-ms".into(),
            ms.to_string(),
            "--ping-timeout-ms".into(),
            (ms * 2).to_string(),
        ];
    }
    if scenario == "echo_64_msgpack" {
        extra.extend(["--parser".to_owned(), "msgpack".to_owned()]);
    }
    // One retry: a peer being reinstalled at that moment (another session
    // rebuilding a venv, say) should not cost the measurement.
    let started = start(peer, pins.0, &extra, log).or_else(|_| {
        std::thread::sleep(Duration::from_secs(5));
        start(peer, pins.0, &extra, log)
    });
    let mut server = match started {
        Ok(s) => s,
        Err(e) => return json!({"scenario": scenario, "ok": false, "error": e}),
    };
    // Let interpreters and JITs finish starting before the clock runs.
    std::thread::sleep(Duration::from_millis(300));
    let r = load(scenario, &[server.port], &[server.pid], sizes, pins.1);
    let alive = !matches!(server.child.try_wait(), Ok(Some(_)));
    server.stop();
    match r {
        Ok(mut v) => {
            if !alive {
                v["server_died"] = json!(true);
            }
            v
        }
        Err(e) => json!({"scenario": scenario, "ok": false, "error": e}),
    }
}

pub(crate) fn list(f: &Flags, key: &str, all: &[&str]) -> Vec<String> {
    match f.str(key) {
        Some(s) => s
            .split(',')
            .map(|x| x.trim().to_owned())
            .filter(|x| !x.is_empty())
            .collect(),
        None => all.iter().map(|s| s.to_string()).collect(),
    }
}

/// Pins: server on CPU 0 and load on CPU 1, when there are two CPUs and
/// taskset is there.
pub(crate) fn pins() -> ((Option<usize>, Option<usize>), String) {
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if sys::cpus() >= 2 && taskset {
        sys::pin_self(LOAD_CPU);
        (
            (Some(SERVER_CPU), Some(LOAD_CPU)),
            format!(
                "server pinned to CPU {SERVER_CPU}, load (and this orchestrator) to CPU {LOAD_CPU} (taskset)"
            ),
        )
    } else {
        (
            (None, None),
            "not pinned (fewer than 2 CPUs or no taskset): figures are less comparable".into(),
        )
    }
}

pub(crate) fn log_path() -> PathBuf {
    let dir = std::env::temp_dir().join("oxsio-bench-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The peers in the order of repetition `rep`: rotated each repetition so
/// that no peer always runs first, and reversed every other one so that no
/// peer always runs right after the same one (a heavy peer's exit, or a
/// disturbance of the machine, then falls on different peers).
pub(crate) fn peer_order<T: Copy>(live: &[T], rep: usize) -> Vec<T> {
    let n = live.len().max(1);
    let mut order: Vec<T> = (0..live.len()).map(|k| live[(k + rep) % n]).collect();
    if rep % 2 == 1 {
        order.reverse();
    }
    order
}

/// `all`: every scenario × every available peer × repetitions.
pub fn all(f: &Flags) -> i32 {
    let nofile = sys::raise_nofile();
    let sizes = Sizes::profile(f.str("profile").unwrap_or("full"), nofile);
    let reps = f.num("reps", 5).max(1) as usize;
    // The idle scenario holds every peer for a minute per repetition and is
    // the steadiest figure: three repetitions of it unless told otherwise.
    let idle_reps = (f.num("idle-reps", reps.min(3) as u64) as usize).clamp(1, reps);
    let want_peers = list(
        f,
        "peers",
        &[
            "oxsio",
            "socketioxide",
            "node",
            "python-socketio",
            "oxsio-python",
            "oxsio-c-poll",
            "oxsio-csharp-poll",
        ],
    );
    let default_scenarios: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .chain([cluster::SCENARIO])
        .collect();
    let scenarios = list(f, "scenarios", &default_scenarios);
    let root = repo_root();
    let out = f
        .str("out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("BENCHMARKS.md"));
    let results_dir = root.join("benches/results");
    let _ = std::fs::create_dir_all(&results_dir);
    let chart = f
        .str("chart")
        .map(PathBuf::from)
        .unwrap_or_else(|| results_dir.join("ratios.png"));
    let raw = results_dir.join("raw.jsonl");
    let (pins, pin_note) = pins();
    let peers: Vec<Peer> = detect_peers()
        .into_iter()
        .filter(|p| want_peers.iter().any(|w| w == p.name))
        .collect();
    for p in &peers {
        match &p.skip {
            Some(why) => eprintln!("peer {}: skipped: {why}", p.name),
            None => eprintln!("peer {}: {}", p.name, p.about),
        }
    }
    let logs = log_path();
    let load_before = sys::loadavg();
    let revision = report::revision();
    let started = Instant::now();
    let mut rows: Vec<Value> = Vec::new();
    let mut raw_file = std::fs::File::create(&raw).ok();
    let live: Vec<&Peer> = peers.iter().filter(|p| p.skip.is_none()).collect();
    // The cluster scenarios' services run for the whole run.
    let cluster_bench = scenarios.iter().any(|s| s == cluster::SCENARIO).then(|| {
        cluster::Bench::start(
            &list(f, "adapters", cluster::DEFAULT_ADAPTERS),
            pins.0,
            &cluster::IMPLS,
        )
    });
    for rep in 0..reps {
        for scenario in &scenarios {
            if scenario == "idle" && rep >= idle_reps {
                continue;
            }
            if scenario == cluster::SCENARIO {
                if let Some(b) = &cluster_bench {
                    b.rep(rep, reps, &sizes, pins, &mut |v| {
                        if let Some(fh) = raw_file.as_mut() {
                            let _ = writeln!(fh, "{v}");
                        }
                        rows.push(v);
                    });
                }
                continue;
            }
            for peer in peer_order(&live, rep) {
                if scenario == "echo_64_msgpack" && !peer.program.ends_with("bench-server-oxsio") {
                    // Only the Rust oxsio server takes `--parser msgpack`.
                    continue;
                }
                let t = Instant::now();
                let mut v = measure(
                    peer,
                    scenario,
                    &sizes,
                    pins,
                    &logs.join(format!("{}.log", peer.name)),
                );
                v["peer"] = json!(peer.name);
                v["rep"] = json!(rep);
                v["scenario"] = json!(scenario);
                eprintln!(
                    "[rep {}/{reps}] {scenario:<13} {:<16} {:>6.1}s {}",
                    rep + 1,
                    peer.name,
                    t.elapsed().as_secs_f64(),
                    report::headline(&v)
                );
                if let Some(fh) = raw_file.as_mut() {
                    let _ = writeln!(fh, "{v}");
                }
                rows.push(v);
            }
        }
    }
    let mut peer_notes = report::peer_notes(&peers);
    if let Some(b) = cluster_bench {
        for (what, why) in &b.skipped {
            peer_notes.push((format!("cluster: {what}"), format!("skipped: {why}")));
        }
        b.stop();
    }
    let meta = report::Meta {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        sizes: sizes.clone(),
        reps,
        idle_reps: Some(idle_reps),
        pin_note,
        peer_notes,
        revision,
        load_before,
        load_after: sys::loadavg(),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        nofile,
    };
    let md = report::markdown(&meta, &rows, &scenarios, &out, &chart);
    if let Err(e) = std::fs::write(&out, md) {
        eprintln!("cannot write {}: {e}", out.display());
        return 1;
    }
    let _ = std::fs::write(
        results_dir.join("meta.json"),
        serde_json::to_string_pretty(&meta).unwrap_or_default(),
    );
    let names: Vec<String> = live.iter().map(|p| p.name.to_owned()).collect();
    if let Err(e) = report::chart(&rows, &scenarios, &names, &chart) {
        eprintln!("chart: {e}");
    }
    eprintln!(
        "wrote {}, {} and {}",
        out.display(),
        chart.display(),
        raw.display()
    );
    0
}

/// `smoke`: every scenario against oxsio only, tiny sizes; exit 1 unless
/// every scenario completed.
pub fn smoke(f: &Flags) -> i32 {
    let nofile = sys::raise_nofile();
    let sizes = Sizes::profile("smoke", nofile);
    let peers = detect_peers();
    let Some(oxsio) = peers.iter().find(|p| p.name == "oxsio") else {
        return 1;
    };
    if let Some(why) = &oxsio.skip {
        eprintln!("smoke: oxsio server: {why}");
        return 1;
    }
    let logs = log_path();
    let mut failed = 0;
    let mut rows = Vec::new();
    for scenario in SCENARIOS {
        let mut v = measure(
            oxsio,
            scenario,
            &sizes,
            (None, None),
            &logs.join("smoke-oxsio.log"),
        );
        v["peer"] = json!("oxsio");
        v["rep"] = json!(0);
        println!("{v}");
        if v["ok"] != json!(true) {
            failed += 1;
        }
        rows.push(v);
    }
    // The cluster scenario on the classic adapter (2 oxsio nodes on a
    // redis-server the run starts), when redis-server is installed.
    let mut total = SCENARIOS.len();
    if oxsio_test_services::on_path("redis-server") {
        let bench = cluster::Bench::start(&["redis".to_owned()], None, &["oxsio"]);
        bench.rep(0, 1, &sizes, (None, None), &mut |v| {
            println!("{v}");
            if v["ok"] != json!(true) {
                failed += 1;
            }
            rows.push(v);
            total += 1;
        });
        if !bench.skipped.is_empty() {
            failed += 1;
            total += 1;
        }
        bench.stop();
    } else {
        eprintln!(
            "smoke: {} skipped: redis-server is not installed (tests/run-all.sh installs it)",
            cluster::SCENARIO
        );
    }
    if let Some(out) = f.str("out") {
        let meta = report::Meta {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            sizes,
            reps: 1,
            idle_reps: None,
            pin_note: "not pinned (smoke)".into(),
            peer_notes: report::peer_notes(std::slice::from_ref(oxsio)),
            revision: report::revision(),
            load_before: None,
            load_after: sys::loadavg(),
            minutes: 0.0,
            nofile,
        };
        let scen: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
        let out = PathBuf::from(out);
        let chart = out.with_extension("png");
        let _ = std::fs::write(&out, report::markdown(&meta, &rows, &scen, &out, &chart));
        if let Err(e) = report::chart(&rows, &scen, &["oxsio".to_owned()], &chart) {
            eprintln!("chart: {e}");
            failed += 1;
        }
    }
    eprintln!(
        "smoke: {} of {total} scenarios completed",
        total - failed.min(total),
    );
    if failed == 0 { 0 } else { 1 }
}

/// `report`: renders the markdown and the chart again from the raw lines
/// and meta.json of an earlier `all` run (no measurement).
pub fn rerender(f: &Flags) -> i32 {
    let root = repo_root();
    let results_dir = root.join("benches/results");
    let raw = f
        .str("raw")
        .map(PathBuf::from)
        .unwrap_or_else(|| results_dir.join("raw.jsonl"));
    let meta_path = raw.with_file_name("meta.json");
    let out = f
        .str("out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("BENCHMARKS.md"));
    let chart = f
        .str("chart")
        .map(PathBuf::from)
        .unwrap_or_else(|| results_dir.join("ratios.png"));
    let rows: Vec<Value> = match std::fs::read_to_string(&raw) {
        Ok(t) => t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        Err(e) => {
            eprintln!("report: {}: {e}", raw.display());
            return 1;
        }
    };
    let meta: report::Meta = match std::fs::read_to_string(&meta_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("report: {}: {e}", meta_path.display());
            return 1;
        }
    };
    let mut scenarios: Vec<String> = Vec::new();
    for r in &rows {
        if let Some(s) = r["scenario"].as_str()
            && !scenarios.iter().any(|x| x == s)
        {
            scenarios.push(s.to_owned());
        }
    }
    if let Err(e) = std::fs::write(
        &out,
        report::markdown(&meta, &rows, &scenarios, &out, &chart),
    ) {
        eprintln!("report: {}: {e}", out.display());
        return 1;
    }
    if let Err(e) = report::chart(&rows, &scenarios, &report::peer_names(&rows), &chart) {
        eprintln!("chart: {e}");
    }
    eprintln!("wrote {} and {}", out.display(), chart.display());
    0
}

#[cfg(test)]
mod tests {
    use super::peer_order;

    #[test]
    fn every_repetition_runs_every_peer_and_predecessors_vary() {
        let peers = [0, 1, 2, 3, 4, 5];
        let orders: Vec<Vec<i32>> = (0..5).map(|r| peer_order(&peers, r)).collect();
        for o in &orders {
            let mut sorted = o.clone();
            sorted.sort();
            assert_eq!(sorted, peers);
        }
        // No peer always runs first, and each follows more than one peer.
        let firsts: std::collections::BTreeSet<i32> = orders.iter().map(|o| o[0]).collect();
        assert!(firsts.len() > 1);
        for p in peers {
            let before: std::collections::BTreeSet<Option<i32>> = orders
                .iter()
                .map(|o| {
                    let i = o.iter().position(|x| *x == p).unwrap_or(0);
                    i.checked_sub(1).map(|j| o[j])
                })
                .collect();
            assert!(before.len() > 1, "peer {p} always follows {before:?}");
        }
    }
}
