//! oxsio-bench: the load benchmark of oxsio against socketioxide, the
//! official Node.js socket.io and python-socketio (and oxsio hosted from
//! Python and from C when those are built).
//!
//! ```text
//! oxsio-bench all [--out BENCHMARKS.md] [--reps 5] [--idle-reps 3] [--profile full|moderate] [--peers a,b] [--scenarios a,b]
//! oxsio-bench smoke                      # every scenario against oxsio, tiny sizes
//! oxsio-bench report                     # re-render BENCHMARKS.md + chart from benches/results
//! oxsio-bench run <scenario> --addr 127.0.0.1:PORT [--pid PID] [sizes…]   # one JSON line
//! oxsio-bench scale --peer oxsio|socketioxide --conns 500000 [--hold-s 300]  # see scale.rs
//! oxsio-bench cluster [--reps 3] [--out BENCHMARKS.md] [--adapters a,b] # the cluster scenarios only
//! ```
//! Scenarios: echo_64, echo_64_msgpack, echo_1k, fanout, connect, polling_echo, idle,
//! and `cluster_fanout` (fanout over the nodes of a cluster, see cluster.rs).

mod cluster;
mod orchestrate;
mod report;
mod scale;
mod scenarios;
mod sys;
mod wire;

use std::collections::HashMap;
use std::time::Duration;

use scenarios::Target;

/// `--key value` flags after the positional arguments.
pub struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: &[String]) -> (Vec<String>, Flags) {
        let mut pos = Vec::new();
        let mut map = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            if let Some(k) = args[i].strip_prefix("--") {
                let v = args.get(i + 1).cloned().unwrap_or_default();
                map.insert(k.to_owned(), v);
                i += 2;
            } else {
                pos.push(args[i].clone());
                i += 1;
            }
        }
        (pos, Flags(map))
    }
    pub fn str(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn num(&self, k: &str, default: u64) -> u64 {
        self.str(k).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
}

const USAGE: &str = "usage:
  oxsio-bench all [--out BENCHMARKS.md] [--reps 5] [--idle-reps 3] [--profile full|moderate]
                  [--peers oxsio,socketioxide,node,python-socketio,oxsio-python,oxsio-c-poll,oxsio-csharp-poll]
                  [--scenarios echo_64,echo_1k,fanout,connect,polling_echo,idle,cluster_fanout]
                  [--adapters none,redis,sharded,postgres]
  oxsio-bench cluster [--reps 3] [--profile full|moderate] [--adapters none,redis,sharded,postgres]
                  [--impls oxsio,node] [--raw benches/results/cluster.jsonl]
                  [--out BENCHMARKS.md]   # the cluster scenarios only; replaces their section
  oxsio-bench smoke [--out FILE.md]
  oxsio-bench report [--raw benches/results/raw.jsonl] [--out BENCHMARKS.md]   # re-render, no measurement
  oxsio-bench run <scenario> --addr HOST:PORT[,HOST:PORT…] [--pid PID[,PID…]] [--clients N] [--per-client M]
                  [--payload BYTES] [--receivers N] [--broadcasts K] [--window W]
                  [--conns C] [--concurrency X] [--hold-s S] [--limit-s L]
  oxsio-bench scale --peer oxsio|socketioxide [--conns 500000] [--hold-s 300] [--per-shard 19000]
                  [--concurrency 64] [--min-free-gib 4] [--limit-s 900]   # not part of `all`";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pos, flags) = Flags::parse(&args);
    let code = match pos.first().map(String::as_str) {
        Some("run") => run(pos.get(1).map(String::as_str).unwrap_or(""), &flags),
        Some("all") => orchestrate::all(&flags),
        Some("smoke") => orchestrate::smoke(&flags),
        Some("cluster") => cluster::main(&flags),
        Some("report") => orchestrate::rerender(&flags),
        Some("scale") => scale::main(&flags),
        Some("scale-load") => scale::load_main(&flags),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// One scenario against a running server; prints one JSON line.
fn run(scenario: &str, f: &Flags) -> i32 {
    sys::raise_nofile();
    // Several addresses (and pids, in the same order) for cluster_fanout.
    let addrs: Option<Vec<std::net::SocketAddr>> = f
        .str("addr")
        .map(|a| a.split(',').map(|x| x.parse().ok()).collect::<Option<_>>())
        .unwrap_or(None);
    let Some(addrs) = addrs.filter(|a| !a.is_empty()) else {
        eprintln!("run: --addr HOST:PORT is required\n{USAGE}");
        return 2;
    };
    let pids: Vec<Option<u32>> = f
        .str("pid")
        .map(|p| p.split(',').map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    let targets: Vec<Target> = addrs
        .iter()
        .enumerate()
        .map(|(i, &addr)| Target {
            addr,
            pid: pids.get(i).copied().flatten(),
            msgpack: scenario == "echo_64_msgpack",
        })
        .collect();
    let t = targets[0].clone();
    let limit = Duration::from_secs(f.num("limit-s", 60));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("run: cannot start the runtime: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    let n = |k: &str, d: u64| f.num(k, d) as usize;
    let out = local.block_on(&rt, async {
        match scenario {
            "echo_64" | "echo_1k" | "echo" => {
                let payload = n("payload", if scenario == "echo_1k" { 1024 } else { 64 });
                Some(
                    scenarios::echo(&t, n("clients", 100), n("per-client", 1000), payload, limit)
                        .await,
                )
            }
            "echo_64_msgpack" => Some(
                scenarios::echo_msgpack(
                    &t,
                    n("clients", 100),
                    n("per-client", 1000),
                    n("payload", 64),
                    limit,
                )
                .await,
            ),
            "fanout" => Some(
                scenarios::fanout(
                    &t,
                    n("receivers", 1000),
                    n("broadcasts", 1000),
                    n("window", 8),
                    limit,
                )
                .await,
            ),
            "cluster_fanout" => Some(
                scenarios::fanout_on(
                    &targets,
                    "cluster_fanout",
                    n("receivers", 1000),
                    n("broadcasts", 1000),
                    n("window", 8),
                    limit,
                )
                .await,
            ),
            "connect" => {
                Some(scenarios::connect(&t, n("conns", 10_000), n("concurrency", 100), limit).await)
            }
            "polling_echo" => Some(
                scenarios::polling_echo(
                    &t,
                    n("clients", 50),
                    n("per-client", 200),
                    n("payload", 64),
                    limit,
                )
                .await,
            ),
            "idle" => Some(
                scenarios::idle(
                    &t,
                    n("conns", 10_000),
                    Duration::from_secs(f.num("hold-s", 60)),
                    limit,
                )
                .await,
            ),
            _ => None,
        }
    });
    match out {
        Some(v) => {
            println!("{v}");
            0
        }
        None => {
            eprintln!("run: unknown scenario {scenario:?}\n{USAGE}");
            2
        }
    }
}
