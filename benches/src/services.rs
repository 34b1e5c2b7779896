//! The services the cluster scenarios run on, started by the bench itself
//! on loopback and free ports and stopped by PID: one redis-server (the
//! classic adapter, and the streams adapter later), a Redis Cluster of 3
//! masters (the sharded adapter) and a PostgreSQL (the Postgres adapter).
//!
//! The same recipes as the cluster tests (`core/tests/common/cluster.rs`,
//! `core/tests/postgres.rs`), written again here because the bench cannot
//! use a test crate's module: blocking `std::process`, every wait bounded.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::orchestrate::pinned;
use crate::sys;

/// A free loopback port (bound, then released).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A free port for a Redis Cluster node: its cluster bus listens 10 000
/// above it, so the port must be at most 55 535 and that one free too.
fn free_cluster_port() -> Result<u16, String> {
    for _ in 0..1000 {
        let port = free_port()?;
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port pair for a Redis Cluster node".into())
}

fn wait_for_port(port: u16, what: &str) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("{what} on port {port} did not start within 10 s"))
}

/// A unique scratch directory under the system temp directory.
fn scratch(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "oxsio-bench-{kind}-{}-{}",
        std::process::id(),
        sys::mono_ns()
    ))
}

/// Stops a child by PID: SIGTERM (or `signal`), at most 10 s, then SIGKILL.
fn stop_child(child: &mut Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Is `program` on PATH?
pub fn on_path(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

fn redis_server(port: u16, dir: &Path, cluster: bool, pin: Option<usize>) -> Result<Child, String> {
    let mut cmd = pinned(pin, "redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    if cluster {
        cmd.args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", "2000"]);
    }
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e} (tests/run-all.sh installs it)"))
}

/// One redis-server on a free loopback port, no persistence.
pub struct Redis {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts it (pinned to `pin` when given) and waits until it accepts
    /// connections.
    pub fn start(pin: Option<usize>) -> Result<Redis, String> {
        let port = free_port()?;
        let dir = scratch("redis");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let child = Some(redis_server(port, &dir, false, pin)?);
        let mut r = Redis { child, port, dir };
        if let Err(e) = wait_for_port(port, "redis-server") {
            r.stop();
            return Err(e);
        }
        Ok(r)
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it by PID (once) and removes its directory.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of 3 masters (no replicas) on free loopback ports.
pub struct RedisCluster {
    children: Vec<Child>,
    /// The nodes' ports on 127.0.0.1.
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts 3 nodes, joins them with `redis-cli --cluster create` and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start(pin: Option<usize>) -> Result<RedisCluster, String> {
        const MASTERS: usize = 3;
        let dir = scratch("redis-cluster");
        let mut c = RedisCluster {
            children: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        let started = (|| {
            for _ in 0..MASTERS {
                let port = free_cluster_port()?;
                let node_dir = c.dir.join(port.to_string());
                std::fs::create_dir_all(&node_dir)
                    .map_err(|e| format!("{}: {e}", node_dir.display()))?;
                c.children.push(redis_server(port, &node_dir, true, pin)?);
                c.ports.push(port);
            }
            for &p in &c.ports {
                wait_for_port(p, "redis-server (cluster node)")?;
            }
            let mut create = Command::new("redis-cli");
            create.args(["--cluster", "create"]);
            for p in &c.ports {
                create.arg(format!("127.0.0.1:{p}"));
            }
            let out = create
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("redis-cli: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "redis-cli --cluster create failed: {}",
                    String::from_utf8_lossy(&out.stdout).trim()
                ));
            }
            for &p in &c.ports {
                let until = Instant::now() + Duration::from_secs(20);
                loop {
                    let info = Command::new("redis-cli")
                        .args(["-p", &p.to_string(), "cluster", "info"])
                        .stdin(Stdio::null())
                        .output()
                        .map_err(|e| format!("redis-cli: {e}"))?;
                    let text = String::from_utf8_lossy(&info.stdout);
                    if text.contains("cluster_state:ok")
                        && text.contains(&format!("cluster_known_nodes:{MASTERS}"))
                    {
                        break;
                    }
                    if Instant::now() > until {
                        return Err(format!("Redis Cluster node {p} not ready within 20 s"));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Ok(())
        })();
        match started {
            Ok(()) => Ok(c),
            Err(e) => {
                c.stop();
                Err(e)
            }
        }
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// Stops every node by PID (once) and removes their directories.
    pub fn stop(&mut self) {
        for mut c in self.children.drain(..) {
            stop_child(&mut c, libc::SIGTERM);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PostgreSQL's programs, from PATH or the Debian package's directory.
fn pg_bin(name: &str) -> Option<PathBuf> {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    ["17", "16", "15", "14", "13"]
        .iter()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}")))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `program` run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root); `setpriv` execs, so the PID is PostgreSQL's.
/// Pinned to `pin` when given (taskset execs too).
fn as_pg_user(program: &Path, pin: Option<usize>) -> Command {
    let program = program.display().to_string();
    if is_root() {
        let mut c = pinned(pin, "setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        pinned(pin, &program)
    }
}

/// A PostgreSQL in a fresh data directory on a free loopback port, trust
/// authentication, fsync off.
pub struct Postgres {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Postgres {
    /// Whether initdb and postgres are installed (Debian `postgresql`).
    pub fn available() -> bool {
        pg_bin("initdb").is_some() && pg_bin("postgres").is_some()
    }

    /// initdb, then postgres; waits until it accepts a query (psql), at
    /// most 20 s.
    pub fn start(pin: Option<usize>) -> Result<Postgres, String> {
        let initdb = pg_bin("initdb").ok_or("initdb not found (apt-get install postgresql)")?;
        let postgres =
            pg_bin("postgres").ok_or("postgres not found (apt-get install postgresql)")?;
        let port = free_port()?;
        let dir = scratch("pg");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                let _ = std::fs::remove_dir_all(&dir);
                return Err("chown of the PostgreSQL directory to postgres failed".into());
            }
        }
        let data = dir.join("data");
        let out = as_pg_user(&initdb, None)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let child = as_pg_user(&postgres, pin)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        let mut pg = Postgres {
            child: Some(child),
            port,
            dir,
        };
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            let ok = Command::new("psql")
                .arg(pg.url())
                .args(["-tAc", "SELECT 1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(pg);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        pg.stop();
        Err("PostgreSQL did not accept a query within 20 s".into())
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Fast shutdown (SIGINT) by PID (once), then the data directory removed.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGINT);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
