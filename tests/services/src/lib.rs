//! The services the tests and the load bench start for themselves: a
//! `redis-server`, a Redis Cluster of N masters and a PostgreSQL, each on
//! free loopback ports, in its own temporary directory, and stopped by its
//! PID when dropped (or by [`RedisCluster::halt`] / [`Postgres::halt`] for
//! restart tests).
//!
//! The programs come from the Debian packages `redis-server` and
//! `postgresql`, which `tests/run-all.sh` installs. Starting panics with a
//! message naming the missing program: this crate is for tests.
//!
//! ```no_run
//! let redis = oxsio_test_services::RedisServer::start();
//! println!("{}", redis.url()); // redis://127.0.0.1:<port>
//! ```
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; bind it soon).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port for a Redis Cluster node: its cluster bus listens 10 000
/// above it, so the port must be at most 55 535 and that one free too
/// (a port above 55 535 makes `redis-server` refuse to start).
pub fn free_cluster_port() -> u16 {
    for _ in 0..1000 {
        let port = free_port();
        if port <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a Redis Cluster node");
}

/// A directory under the system temp dir that no other run uses.
fn unique_dir(tag: &str) -> PathBuf {
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

/// Whether something accepts TCP connections on `port` within 10 s.
fn port_up(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    true
}

/// Stops a child by its PID and reaps it.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One `redis-server` on a loopback port, without persistence.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    /// Starts one on `port` (to restart a server where it was).
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (installed by tests/run-all.sh)");
        let s = RedisServer { child, port };
        assert!(port_up(port), "redis-server on {port} did not start");
        s
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

fn spawn_cluster_node(port: u16, dir: &Path) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-config-file", "nodes.conf"])
        .args(["--cluster-node-timeout", "2000"])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (installed by tests/run-all.sh)")
}

/// A Redis Cluster of masters without replicas, each node in its own
/// directory (for `nodes.conf`), made with `redis-cli --cluster create`.
pub struct RedisCluster {
    children: Vec<Child>,
    /// The nodes' ports on 127.0.0.1.
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts `n` masters (3 at least, Redis's minimum) and waits until
    /// every node reports `cluster_state:ok` and knows all the others.
    pub fn start(n: usize) -> RedisCluster {
        let dir = unique_dir("redis-cluster");
        let mut cluster = RedisCluster {
            children: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for _ in 0..n {
            let port = free_cluster_port();
            let node_dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            cluster.children.push(spawn_cluster_node(port, &node_dir));
            cluster.ports.push(port);
        }
        for &port in &cluster.ports {
            assert!(
                port_up(port),
                "redis-server (cluster node) on {port} did not start"
            );
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for p in &cluster.ports {
            create.arg(format!("127.0.0.1:{p}"));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli (installed with redis-server)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_ok();
        cluster
    }

    fn wait_ok(&self) {
        for &port in &self.ports {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli");
                let text = String::from_utf8_lossy(&info.stdout);
                if text.contains("cluster_state:ok")
                    && text.contains(&format!("cluster_known_nodes:{}", self.ports.len()))
                {
                    break;
                }
                assert!(Instant::now() < deadline, "cluster node {port} not ready");
                std::thread::sleep(Duration::from_millis(50));
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
        for c in &mut self.children {
            kill(c);
        }
        self.children.clear();
    }

    /// Starts the nodes again on the same ports and directories; they find
    /// each other from `nodes.conf`.
    pub fn restart(&mut self) {
        for &port in &self.ports {
            let child = spawn_cluster_node(port, &self.dir.join(port.to_string()));
            self.children.push(child);
        }
        for &port in &self.ports {
            assert!(
                port_up(port),
                "redis-server (cluster node) on {port} did not start"
            );
        }
        self.wait_ok();
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL's programs, from PATH or the Debian package's directory.
fn pg_bin(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    for v in ["18", "17", "16", "15", "14", "13"] {
        let p = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin/{name}"));
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found (apt-get install postgresql; tests/run-all.sh does)");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root); `setpriv` execs, so the PID is PostgreSQL's.
fn as_pg_user(program: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Runs SQL with `psql` on the database at `url`; its unaligned output,
/// or None when it failed.
pub fn psql(url: &str, sql: &str) -> Option<String> {
    let out = Command::new(pg_bin("psql"))
        .arg(url)
        .args(["-tA", "-c", sql])
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
}

impl Postgres {
    /// `initdb`, then starts it on a free port.
    pub fn start() -> Postgres {
        let dir = unique_dir("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(st.success(), "chown postgres {}", dir.display());
        }
        let out = as_pg_user(pg_bin("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            child: None,
            port: free_port(),
            dir,
        };
        pg.restart();
        pg
    }

    /// Starts the server again on its port and data (after [`halt`](Self::halt)),
    /// and waits until it answers queries.
    pub fn restart(&mut self) {
        let child = as_pg_user(pg_bin("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.psql("SELECT 1").is_none() {
            assert!(Instant::now() < deadline, "postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
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
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            kill(&mut child);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
