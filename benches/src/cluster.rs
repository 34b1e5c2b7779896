//! The cluster scenarios: broadcast deliveries/s in a fanout whose
//! receivers are split evenly across 2 nodes of a cluster (one sender on
//! the first node broadcasts to room "all"; every delivery is checked, as
//! in `fanout`), for each adapter, with oxsio nodes and with Node.js nodes,
//! beside 1 node of each without an adapter, all in the same run.
//!
//! The services (redis-server, a 3-master Redis Cluster, PostgreSQL) are
//! started once per run on loopback and free ports, pinned to the server
//! CPU with the nodes, and stopped by PID at the end ([`crate::services`]).
//!
//! **Adding an adapter kind**: one [`AdapterKind`] variant with its name
//! and its service, one arm in `src/bin/server_oxsio.rs`' `adapter()` and
//! one `ADAPTER=` case in `peers/node_app.js`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Flags;
use crate::orchestrate::{self, Peer, Sizes};
use crate::report;
use crate::sys;
use oxsio_test_services::{self as services, Postgres, RedisCluster, RedisServer as Redis};

/// The scenario name in the raw lines.
pub const SCENARIO: &str = "cluster_fanout";

/// The adapter kinds measured by default, in report order (`none` = one
/// node without an adapter, the baseline of the ratios).
pub const DEFAULT_ADAPTERS: &[&str] = &[
    "none",
    "redis",
    "sharded",
    "streams",
    "streams-cluster",
    "postgres",
];

/// The implementations measured on each adapter.
pub const IMPLS: [&str; 2] = ["oxsio", "node"];

/// A cluster adapter, as both the oxsio bench server (`--adapter`) and
/// `peers/node_app.js` (`ADAPTER=`) name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterKind {
    /// One node, in-memory adapter: the baseline.
    None,
    /// Classic `@socket.io/redis-adapter` on one Redis.
    Redis,
    /// `createShardedAdapter` (dynamic mode) on a 3-master Redis Cluster.
    Sharded,
    /// `@socket.io/postgres-adapter` on PostgreSQL.
    Postgres,
    /// `@socket.io/redis-streams-adapter` on one Redis.
    Streams,
    /// `@socket.io/redis-streams-adapter` on a 3-master Redis Cluster, three
    /// streams, sharded Pub/Sub.
    StreamsCluster,
}

/// The service an adapter kind runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    None,
    Redis,
    RedisCluster,
    Postgres,
}

impl AdapterKind {
    /// From its name (`none`, `redis`, `sharded`, `postgres`, `streams`,
    /// `streams-cluster`).
    pub fn parse(s: &str) -> Option<AdapterKind> {
        Some(match s {
            "none" => AdapterKind::None,
            "redis" => AdapterKind::Redis,
            "sharded" => AdapterKind::Sharded,
            "postgres" => AdapterKind::Postgres,
            "streams" => AdapterKind::Streams,
            "streams-cluster" => AdapterKind::StreamsCluster,
            _ => return None,
        })
    }

    /// Its name, as passed to the servers and written in the raw lines.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::None => "none",
            AdapterKind::Redis => "redis",
            AdapterKind::Sharded => "sharded",
            AdapterKind::Postgres => "postgres",
            AdapterKind::Streams => "streams",
            AdapterKind::StreamsCluster => "streams-cluster",
        }
    }

    /// How the report names it.
    pub fn label(name: &str) -> &'static str {
        match name {
            "none" => "1 node, no adapter (baseline)",
            "redis" => "classic Redis (`createAdapter`)",
            "sharded" => "sharded Redis, 3-master Redis Cluster (`createShardedAdapter`, dynamic)",
            "postgres" => "Postgres (`@socket.io/postgres-adapter`)",
            "streams" => "Redis streams (`@socket.io/redis-streams-adapter`)",
            "streams-cluster" => {
                "Redis streams on a 3-master Redis Cluster (3 streams, `useShardedPubSub`)"
            }
            _ => "?",
        }
    }

    fn service(self) -> Service {
        match self {
            AdapterKind::None => Service::None,
            AdapterKind::Redis | AdapterKind::Streams => Service::Redis,
            AdapterKind::Sharded | AdapterKind::StreamsCluster => Service::RedisCluster,
            AdapterKind::Postgres => Service::Postgres,
        }
    }

    /// Nodes per measurement: 1 without an adapter, else 2.
    pub fn nodes(self) -> usize {
        if self == AdapterKind::None { 1 } else { 2 }
    }
}

/// The services of one run; each started only when an adapter needs it.
#[derive(Default)]
struct Services {
    redis: Option<Result<Redis, String>>,
    cluster: Option<Result<RedisCluster, String>>,
    pg: Option<Result<Postgres, String>>,
}

impl Services {
    fn start(kinds: &[AdapterKind], pin: Option<usize>) -> Services {
        let mut s = Services::default();
        let needs = |x: Service| kinds.iter().any(|k| k.service() == x);
        let have_redis = || {
            if services::on_path("redis-server") && services::on_path("redis-cli") {
                Ok(())
            } else {
                Err(
                    "redis-server / redis-cli not installed (tests/run-all.sh installs them)"
                        .to_owned(),
                )
            }
        };
        if needs(Service::Redis) {
            s.redis = Some(have_redis().and_then(|()| Redis::try_start(pin)));
        }
        if needs(Service::RedisCluster) {
            s.cluster = Some(have_redis().and_then(|()| RedisCluster::try_start(3, pin)));
        }
        if needs(Service::Postgres) {
            s.pg = Some(if Postgres::available() {
                Postgres::try_start(pin)
            } else {
                Err(
                    "PostgreSQL not installed (apt-get install postgresql; tests/run-all.sh does)"
                        .into(),
                )
            });
        }
        for (what, r) in [
            (
                "redis-server",
                s.redis.as_ref().map(|r| r.as_ref().map(|x| x.url())),
            ),
            (
                "Redis Cluster",
                s.cluster
                    .as_ref()
                    .map(|r| r.as_ref().map(|c| c.urls().join(","))),
            ),
            (
                "PostgreSQL",
                s.pg.as_ref().map(|r| r.as_ref().map(|p| p.url())),
            ),
        ] {
            match r {
                Some(Ok(url)) => eprintln!("cluster: {what} at {url}"),
                Some(Err(e)) => eprintln!("cluster: {what}: {e}"),
                None => {}
            }
        }
        s
    }

    /// The adapter URL for `kind`, or why it cannot run.
    fn url(&self, kind: AdapterKind) -> Result<String, String> {
        let missing = || "service not started".to_owned();
        match kind.service() {
            Service::None => Ok(String::new()),
            Service::Redis => match &self.redis {
                Some(Ok(r)) => Ok(r.url()),
                Some(Err(e)) => Err(e.clone()),
                None => Err(missing()),
            },
            Service::RedisCluster => match &self.cluster {
                Some(Ok(c)) => Ok(c.urls().join(",")),
                Some(Err(e)) => Err(e.clone()),
                None => Err(missing()),
            },
            Service::Postgres => match &self.pg {
                Some(Ok(p)) => Ok(p.url()),
                Some(Err(e)) => Err(e.clone()),
                None => Err(missing()),
            },
        }
    }

    fn stop(&mut self) {
        if let Some(Ok(r)) = self.redis.as_mut() {
            r.stop();
        }
        if let Some(Ok(c)) = self.cluster.as_mut() {
            c.stop();
        }
        if let Some(Ok(p)) = self.pg.as_mut() {
            p.stop();
        }
    }
}

/// One configuration: an implementation on an adapter kind.
struct Config {
    peer: Peer,
    kind: AdapterKind,
    url: String,
}

/// A cluster bench: its services and the configurations that can run.
pub struct Bench {
    services: Services,
    configs: Vec<Config>,
    /// (configuration, why it is skipped).
    pub skipped: Vec<(String, String)>,
}

impl Bench {
    /// Starts the services the `adapters` need (pinned to `pin`) and
    /// lists the configurations: each of `impls` (`oxsio`, `node`) on each
    /// adapter.
    pub fn start(adapters: &[String], pin: Option<usize>, impls: &[&str]) -> Bench {
        let mut kinds = Vec::new();
        let mut skipped = Vec::new();
        for a in adapters {
            match AdapterKind::parse(a) {
                Some(k) if !kinds.contains(&k) => kinds.push(k),
                Some(_) => {}
                None => skipped.push((a.clone(), "unknown adapter kind".to_owned())),
            }
        }
        let services = Services::start(&kinds, pin);
        let peers = orchestrate::detect_peers();
        let mut configs = Vec::new();
        for &kind in &kinds {
            for &name in impls {
                let id = format!("{name} {} × {}", kind.nodes(), kind.name());
                let Some(peer) = peers.iter().find(|p| p.name == name) else {
                    continue;
                };
                if let Some(why) = &peer.skip {
                    skipped.push((id, why.clone()));
                    continue;
                }
                match services.url(kind) {
                    Ok(url) => configs.push(Config {
                        peer: peer.clone(),
                        kind,
                        url,
                    }),
                    Err(e) => skipped.push((id, e)),
                }
            }
        }
        for (id, why) in &skipped {
            eprintln!("cluster: {id}: skipped: {why}");
        }
        Bench {
            services,
            configs,
            skipped,
        }
    }

    /// Repetition `rep`: every configuration once, in a rotated order;
    /// each measurement goes to `sink`.
    pub fn rep(
        &self,
        rep: usize,
        reps: usize,
        sizes: &Sizes,
        pins: (Option<usize>, Option<usize>),
        sink: &mut dyn FnMut(Value),
    ) {
        let idx: Vec<usize> = (0..self.configs.len()).collect();
        for i in orchestrate::peer_order(&idx, rep) {
            let c = &self.configs[i];
            let t = Instant::now();
            let mut v = measure(c, sizes, pins);
            v["peer"] = json!(c.peer.name);
            v["adapter"] = json!(c.kind.name());
            v["nodes"] = json!(c.kind.nodes());
            v["rep"] = json!(rep);
            v["scenario"] = json!(SCENARIO);
            eprintln!(
                "[rep {}/{reps}] {SCENARIO} {:<6} {} × {:<9} {:>6.1}s {}",
                rep + 1,
                c.peer.name,
                c.kind.nodes(),
                c.kind.name(),
                t.elapsed().as_secs_f64(),
                report::headline(&v)
            );
            sink(v);
        }
    }

    /// Stops the services by PID.
    pub fn stop(mut self) {
        self.services.stop();
    }
}

/// One measurement: fresh nodes on the adapter, the cluster fanout, nodes
/// stopped.
fn measure(c: &Config, sizes: &Sizes, pins: (Option<usize>, Option<usize>)) -> Value {
    let mut peer = c.peer.clone();
    let mut extra = Vec::new();
    if c.kind != AdapterKind::None {
        if peer.name == "oxsio" {
            extra = vec![
                "--adapter".to_owned(),
                c.kind.name().to_owned(),
                "--adapter-url".to_owned(),
                c.url.clone(),
            ];
        } else {
            peer.env.push(("ADAPTER".into(), c.kind.name().into()));
            peer.env.push(("ADAPTER_URL".into(), c.url.clone()));
        }
    }
    let log = orchestrate::log_path().join(format!("cluster-{}-{}.log", peer.name, c.kind.name()));
    let mut nodes = Vec::new();
    for _ in 0..c.kind.nodes() {
        match orchestrate::start(&peer, pins.0, &extra, &log) {
            Ok(r) => nodes.push(r),
            Err(e) => {
                nodes.into_iter().for_each(orchestrate::Running::stop);
                return json!({"scenario": SCENARIO, "ok": false, "error": e});
            }
        }
    }
    // Let interpreters finish starting and adapters subscribe.
    std::thread::sleep(Duration::from_millis(if nodes.len() > 1 {
        1000
    } else {
        300
    }));
    let ports: Vec<u16> = nodes.iter().map(|r| r.port).collect();
    let pids: Vec<u32> = nodes.iter().map(|r| r.pid).collect();
    let r = orchestrate::load(SCENARIO, &ports, &pids, sizes, pins.1);
    let alive = nodes
        .iter_mut()
        .all(|n| !matches!(n.child.try_wait(), Ok(Some(_))));
    nodes.into_iter().for_each(orchestrate::Running::stop);
    match r {
        Ok(mut v) => {
            if !alive {
                v["server_died"] = json!(true);
            }
            v
        }
        Err(e) => json!({"scenario": SCENARIO, "ok": false, "error": e}),
    }
}

/// Where a cluster-only run keeps its raw lines (unless `--raw` says
/// otherwise) and, beside them, its meta ([`meta_path`]).
pub fn raw_path() -> PathBuf {
    orchestrate::repo_root().join("benches/results/cluster.jsonl")
}

/// The meta file beside raw lines `raw`: `cluster.jsonl` → `cluster_meta.json`.
fn meta_path(raw: &Path) -> PathBuf {
    let stem = raw
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("cluster");
    raw.with_file_name(format!("{stem}_meta.json"))
}

/// The report section of a cluster-only run (when the main raw lines have
/// no cluster rows), for `report` and `all`.
pub fn saved() -> Option<(Vec<Value>, report::Meta)> {
    let rows: Vec<Value> = std::fs::read_to_string(raw_path())
        .ok()?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let meta = serde_json::from_str(&std::fs::read_to_string(meta_path(&raw_path())).ok()?).ok()?;
    Some((rows, meta))
}

/// Replaces the cluster section of the report at `out` (between its
/// markers), or appends it when the report has none.
fn splice(out: &Path, section: &str) -> std::io::Result<()> {
    let md = std::fs::read_to_string(out).unwrap_or_default();
    let new = match (md.find(report::CLUSTER_BEGIN), md.find(report::CLUSTER_END)) {
        (Some(a), Some(b)) if b > a => format!(
            "{}{section}{}",
            &md[..a],
            &md[b + report::CLUSTER_END.len()..].trim_start_matches('\n')
        ),
        _ => format!("{}\n{section}", md.trim_end()),
    };
    std::fs::write(out, new)
}

/// `cluster`: the cluster scenarios only, `--reps` interleaved repetitions
/// (3 by default); raw lines in `benches/results/cluster.jsonl` (or
/// `--raw FILE`, for trial runs), and the cluster section of `--out`
/// (BENCHMARKS.md) replaced (the rest of it, and `raw.jsonl`, are left as
/// they are).
pub fn main(f: &Flags) -> i32 {
    let nofile = sys::raise_nofile();
    let sizes = Sizes::profile(f.str("profile").unwrap_or("full"), nofile);
    let reps = f.num("reps", 3).max(1) as usize;
    let adapters = orchestrate::list(f, "adapters", DEFAULT_ADAPTERS);
    let out = f
        .str("out")
        .map(PathBuf::from)
        .unwrap_or_else(|| orchestrate::repo_root().join("BENCHMARKS.md"));
    let (pins, pin_note) = orchestrate::pins();
    let load_before = sys::loadavg();
    let started = Instant::now();
    let impls = orchestrate::list(f, "impls", &IMPLS);
    let impls: Vec<&str> = impls.iter().map(String::as_str).collect();
    let bench = Bench::start(&adapters, pins.0, &impls);
    let raw_file = f.str("raw").map(PathBuf::from).unwrap_or_else(raw_path);
    let _ = std::fs::create_dir_all(raw_file.parent().unwrap_or(Path::new(".")));
    let mut raw = std::fs::File::create(&raw_file).ok();
    let mut rows = Vec::new();
    for rep in 0..reps {
        bench.rep(rep, reps, &sizes, pins, &mut |v| {
            if let Some(fh) = raw.as_mut() {
                let _ = writeln!(fh, "{v}");
            }
            rows.push(v);
        });
    }
    let skipped = bench.skipped.clone();
    bench.stop();
    let meta = report::Meta {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        sizes,
        reps,
        idle_reps: None,
        pin_note,
        peer_notes: skipped,
        revision: report::revision(),
        load_before,
        load_after: sys::loadavg(),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        nofile,
    };
    let _ = std::fs::write(
        meta_path(&raw_file),
        serde_json::to_string_pretty(&meta).unwrap_or_default(),
    );
    let section = report::cluster_section(&rows, Some(&meta));
    if let Err(e) = splice(&out, &section) {
        eprintln!("cannot write {}: {e}", out.display());
        return 1;
    }
    eprintln!("wrote {} and {}", out.display(), raw_file.display());
    let ok = rows.iter().all(|r| r["ok"] == Value::Bool(true));
    if ok && !rows.is_empty() { 0 } else { 1 }
}
