//! The services the tests and the load bench start for themselves: a
//! `redis-server`, a Redis Cluster of N masters and a PostgreSQL, each on
//! free loopback ports, in its own temporary directory, and stopped by its
//! PID when dropped (or by `stop` / `halt`, with `restart` for restart
//! tests).
//!
//! The programs come from the Debian packages `redis-server` and
//! `postgresql`, which `tests/run-all.sh` installs. `try_start` returns an
//! error naming what is missing or what failed (the bench skips that
//! scenario); `start` panics with it (a test fails with it). `try_start`
//! takes a CPU to pin the service to (`taskset`), or None.
//!
//! ```no_run
//! let redis = oxsio_test_services::RedisServer::start();
//! println!("{}", redis.url()); // redis://127.0.0.1:<port>
//! ```

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
///
/// # Panics
/// When the system has no free port.
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|e| panic!("{e}"))
}

fn try_free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A free port for a Redis Cluster node: its cluster bus listens 10 000
/// above it, so the port must be at most 55 535 and that one free too
/// (a port above 55 535 makes `redis-server` refuse to start).
///
/// # Panics
/// When no such pair is found in 1 000 tries.
pub fn free_cluster_port() -> u16 {
    try_free_cluster_port().unwrap_or_else(|e| panic!("{e}"))
}

fn try_free_cluster_port() -> Result<u16, String> {
    for _ in 0..1000 {
        let port = try_free_port()?;
        if port <= 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port pair for a Redis Cluster node".into())
}

/// Runs a service start up to 3 times. Ports are picked free but not
/// reserved, so a test running beside this one may take one first; each
/// try picks new ports.
fn retried<T>(mut start: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let mut last = String::new();
    for _ in 0..3 {
        match start() {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Waits until `port` answers, then checks that `child` is still running:
/// a server that could not bind its port exited, and the port may answer
/// for another process.
fn listening(child: &mut Child, port: u16, what: &str) -> Result<(), String> {
    wait_for_port(port, what)?;
    match child.try_wait() {
        Ok(Some(status)) => Err(format!(
            "{what} on port {port} exited ({status}): a test beside this one took a port it needs"
        )),
        _ => Ok(()),
    }
}

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

/// `program`, pinned to `cpu` with `taskset` when given (taskset execs, so
/// the PID is the program's).
pub fn pinned(cpu: Option<usize>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A directory under the system temp dir that no other run uses.
fn scratch(tag: &str) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    std::env::temp_dir().join(format!(
        "oxsio-{tag}-{}-{:x}",
        std::process::id(),
        h.finish()
    ))
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Waits (10 s at most) until something accepts TCP connections on `port`.
fn wait_for_port(port: u16, what: &str) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            return Err(format!("{what} on port {port} did not start within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

/// Stops a child by its PID: `signal` (TERM, INT…), at most 10 s, then
/// SIGKILL; reaps it.
fn stop_child(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
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

fn redis_server(port: u16, dir: &Path, cluster: bool, cpu: Option<usize>) -> Result<Child, String> {
    let mut cmd = pinned(cpu, "redis-server");
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

/// One `redis-server` on a loopback port, without persistence.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one on a free port.
    ///
    /// # Panics
    /// When it cannot start (the message says why).
    pub fn start() -> RedisServer {
        RedisServer::try_start(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one on `port` (to restart a server where it was).
    ///
    /// # Panics
    /// When it cannot start (the message says why).
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer::try_start_on(Some(port), None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one on a free port, pinned to `cpu` when given (3 tries).
    pub fn try_start(cpu: Option<usize>) -> Result<RedisServer, String> {
        retried(|| RedisServer::try_start_on(None, cpu))
    }

    fn try_start_on(port: Option<u16>, cpu: Option<usize>) -> Result<RedisServer, String> {
        let port = match port {
            Some(p) => p,
            None => try_free_port()?,
        };
        let dir = scratch("redis");
        mkdir(&dir)?;
        let mut s = RedisServer {
            child: None,
            port,
            dir,
        };
        s.child = Some(redis_server(port, &s.dir, false, cpu)?);
        if let Some(child) = s.child.as_mut() {
            listening(child, port, "redis-server")?;
        }
        Ok(s)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it by PID (once) and removes its directory.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, "TERM");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of masters without replicas, each node in its own
/// directory (for `nodes.conf`), made with `redis-cli --cluster create`.
pub struct RedisCluster {
    children: Vec<Child>,
    /// The nodes' ports on 127.0.0.1.
    pub ports: Vec<u16>,
    dir: PathBuf,
    cpu: Option<usize>,
}

impl RedisCluster {
    /// Starts `n` masters (3 at least, Redis's minimum).
    ///
    /// # Panics
    /// When it cannot start (the message says why).
    pub fn start(n: usize) -> RedisCluster {
        RedisCluster::try_start(n, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `n` masters pinned to `cpu` when given, joins them, and waits
    /// until every node reports `cluster_state:ok` and knows all the others.
    /// A start that fails (a test beside this one took a node's port or
    /// bus port first) is made again on new ports (3 tries).
    pub fn try_start(n: usize, cpu: Option<usize>) -> Result<RedisCluster, String> {
        retried(|| RedisCluster::start_once(n, cpu))
    }

    fn start_once(n: usize, cpu: Option<usize>) -> Result<RedisCluster, String> {
        let mut c = RedisCluster {
            children: Vec::new(),
            ports: Vec::new(),
            dir: scratch("redis-cluster"),
            cpu,
        };
        for _ in 0..n {
            let port = try_free_cluster_port()?;
            let node_dir = c.dir.join(port.to_string());
            mkdir(&node_dir)?;
            c.children.push(redis_server(port, &node_dir, true, cpu)?);
            c.ports.push(port);
        }
        for (child, &p) in c.children.iter_mut().zip(&c.ports) {
            listening(child, p, "redis-server (cluster node)")?;
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
            .map_err(|e| format!("redis-cli: {e} (installed with redis-server)"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        }
        c.wait_ok()?;
        Ok(c)
    }

    fn wait_ok(&self) -> Result<(), String> {
        for &port in &self.ports {
            let until = Instant::now() + Duration::from_secs(20);
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("redis-cli: {e}"))?;
                let text = String::from_utf8_lossy(&info.stdout);
                if text.contains("cluster_state:ok")
                    && text.contains(&format!("cluster_known_nodes:{}", self.ports.len()))
                {
                    break;
                }
                if Instant::now() > until {
                    return Err(format!("Redis Cluster node {port} not ready within 20 s"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// `p1,p2,p3` (the Node peers' `REDIS_CLUSTER`).
    pub fn port_list(&self) -> String {
        self.ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills every node (by PID); their `nodes.conf` stay for [`restart`](Self::restart).
    pub fn halt(&mut self) {
        for mut c in self.children.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the nodes again on the same ports and directories; they find
    /// each other from `nodes.conf`.
    ///
    /// # Panics
    /// When the cluster does not come back (the message says why).
    pub fn restart(&mut self) {
        let restarted = (|| {
            for &port in &self.ports {
                let dir = self.dir.join(port.to_string());
                self.children
                    .push(redis_server(port, &dir, true, self.cpu)?);
            }
            for &port in &self.ports {
                wait_for_port(port, "redis-server (cluster node)")?;
            }
            self.wait_ok()
        })();
        restarted.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stops every node by PID (SIGTERM, once) and removes their directories.
    pub fn stop(&mut self) {
        for mut c in self.children.drain(..) {
            stop_child(&mut c, "TERM");
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
    ["18", "17", "16", "15", "14", "13"]
        .iter()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}")))
        .find(|p| p.is_file())
}

fn need_pg_bin(name: &str) -> Result<PathBuf, String> {
    pg_bin(name).ok_or_else(|| {
        format!("{name} not found (apt-get install postgresql; tests/run-all.sh does)")
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

/// `program` run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root), pinned to `cpu` when given; `setpriv` and
/// `taskset` exec, so the PID is PostgreSQL's.
fn as_pg_user(program: &Path, cpu: Option<usize>) -> Command {
    if is_root() {
        let mut c = pinned(cpu, "setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        pinned(cpu, program)
    }
}

/// Runs SQL with `psql` on the database at `url`; its unaligned output,
/// or None when it failed.
pub fn psql(url: &str, sql: &str) -> Option<String> {
    let out = Command::new(pg_bin("psql")?)
        .arg(url)
        .args(["-tA", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A PostgreSQL cluster (`initdb` in a temporary directory, trust
/// authentication, user `postgres`, fsync off) on a loopback port.
pub struct Postgres {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    cpu: Option<usize>,
}

impl Postgres {
    /// Whether `initdb`, `postgres` and `psql` are installed (Debian `postgresql`).
    pub fn available() -> bool {
        ["initdb", "postgres", "psql"]
            .iter()
            .all(|p| pg_bin(p).is_some())
    }

    /// `initdb`, then starts it on a free port.
    ///
    /// # Panics
    /// When it cannot start (the message says why).
    pub fn start() -> Postgres {
        Postgres::try_start(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `initdb`, then starts it on a free port, pinned to `cpu` when given;
    /// waits (20 s at most) until it answers a query. 3 tries, each on a
    /// new port.
    pub fn try_start(cpu: Option<usize>) -> Result<Postgres, String> {
        retried(|| Postgres::start_once(cpu))
    }

    fn start_once(cpu: Option<usize>) -> Result<Postgres, String> {
        let initdb = need_pg_bin("initdb")?;
        need_pg_bin("psql")?;
        let mut pg = Postgres {
            child: None,
            port: try_free_port()?,
            dir: scratch("pg"),
            cpu,
        };
        mkdir(&pg.dir)?;
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err("chown of the PostgreSQL directory to postgres failed".into());
            }
        }
        let out = as_pg_user(&initdb, None)
            .arg("-D")
            .arg(pg.dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        pg.run()?;
        Ok(pg)
    }

    fn run(&mut self) -> Result<(), String> {
        let child = as_pg_user(&need_pg_bin("postgres")?, self.cpu)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while self.psql("SELECT 1").is_none() {
            if Instant::now() > until {
                return Err("PostgreSQL did not answer a query within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Starts the server again on its port and data (after [`halt`](Self::halt)).
    ///
    /// # Panics
    /// When it does not come back (the message says why).
    pub fn restart(&mut self) {
        self.run().unwrap_or_else(|e| panic!("{e}"));
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with `psql`; its unaligned output, or None when it failed.
    pub fn psql(&self, sql: &str) -> Option<String> {
        psql(&self.url(), sql)
    }

    /// Fast shutdown (SIGINT to its PID); the data stays for [`restart`](Self::restart).
    pub fn halt(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, "INT");
        }
    }

    /// Fast shutdown, and the data directory removed.
    pub fn stop(&mut self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
