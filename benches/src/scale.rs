//! scale: hundreds of thousands of idle WebSocket connections on one
//! machine, held for minutes with each server's default heartbeat.
//!
//! A process here may hold at most RLIMIT_NOFILE descriptors, and the hard
//! limit (20 000 on this machine) cannot be raised without CAP_SYS_RESOURCE,
//! which the bench does not have. So the connections are sharded: shard k is
//! one server process (the peer's bench server, on CPU 0) and one load
//! process (`oxsio-bench scale-load`, on CPU 1) holding `--per-shard`
//! connections, each process with its soft limit raised to the hard one
//! (setrlimit). Load shard k connects from 127.0.k+1.x (bind before connect,
//! `IP_BIND_ADDRESS_NO_PORT`, a new source address every 10 000
//! connections), so no sysctl is needed: every (source, destination) pair
//! stays far below the 28 000 ephemeral ports. Shards connect one after the
//! other, and the next one starts only while MemAvailable stays above
//! `--min-free-gib` plus what one shard took; below it the run stops and
//! reports the ceiling it reached.
//!
//! Figures: server RSS per connection (sum over the server processes, after
//! minus before), heartbeat CPU (utime + stime of every server process over
//! the hold, as % of one core), the connect rate (connections over the
//! wall time of the connect phase), and how many connections were still
//! open at the end of the hold (a load process counts every connection that
//! errored or closed), with the pings the load answered.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Stdio};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use crate::Flags;
use crate::orchestrate::{bin_dir, pinned, repo_root};
use crate::sys;
use crate::wire::{self, PINGS, WsClient};

/// Connections per source address inside one load shard.
const PER_SOURCE: usize = 10_000;

/// The source address of connection `i` of load shard `shard`.
fn source(shard: usize, i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (shard + 1) as u8,
        2 + (i / PER_SOURCE) as u8,
    ))
}

/// A field of /proc/meminfo, in KiB.
fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The TCP line of /proc/net/sockstat (sockets in use, buffer pages).
fn sockstat_tcp() -> String {
    std::fs::read_to_string("/proc/net/sockstat")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("TCP:")).map(str::to_owned))
        .unwrap_or_default()
}

/// Pages of TCP buffer memory in use (the `mem` field of the TCP line).
fn tcp_mem_pages() -> u64 {
    let line = sockstat_tcp();
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "mem" {
            return words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    0
}

fn conntrack_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// `oxsio-bench scale-load`: opens `--conns` WebSocket connections to
/// `--addr` as shard `--shard`, prints `CONNECTED <ok> <failed> <secs>
/// <first error>`, holds them (answering pings) until its stdin closes, then
/// prints `HELD <alive> <dropped> <pings>` and exits.
pub fn load_main(f: &Flags) -> i32 {
    let nofile = sys::raise_nofile();
    let Some(addr) = f.str("addr").and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("scale-load: --addr HOST:PORT is required");
        return 2;
    };
    let conns = f.num("conns", 1000) as usize;
    let shard = f.num("shard", 0) as usize;
    let concurrency = f.num("concurrency", 64) as usize;
    let limit = Duration::from_secs(f.num("limit-s", 120));
    if conns + 100 > nofile as usize {
        eprintln!(
            "scale-load: {conns} connections need more than the {nofile} descriptors allowed"
        );
        return 2;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scale-load: runtime: {e}");
            return 1;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let deadline = tokio::time::Instant::now() + limit;
        let req: Rc<[u8]> = wire::ws_upgrade_request(addr).into();
        let start = Instant::now();
        let next = Rc::new(Cell::new(0usize));
        // A connection is held (its pings answered) from the moment it is
        // open, so a slow connect phase cannot time out the first ones; one
        // that errors or closes is counted as dropped at once, with the
        // first drop's time (seconds after open) and reason.
        let dropped = Rc::new(Cell::new(0usize));
        let first_drop: Rc<Cell<Option<(f64, String)>>> = Rc::new(Cell::new(None));
        let mut openers = JoinSet::new();
        for _ in 0..concurrency.clamp(1, conns.max(1)) {
            let (next, req) = (next.clone(), req.clone());
            let (dropped, first_drop) = (dropped.clone(), first_drop.clone());
            openers.spawn_local(async move {
                let (mut ok, mut failed) = (0usize, 0usize);
                let mut err: Option<String> = None;
                loop {
                    let i = next.get();
                    if i >= conns {
                        break;
                    }
                    next.set(i + 1);
                    let r = tokio::time::timeout_at(
                        deadline,
                        wire::ws_connect(addr, Some(source(shard, i)), i as u32 + 1, &req),
                    )
                    .await;
                    match r {
                        Ok(Ok(c)) => {
                            ok += 1;
                            hold(c, dropped.clone(), first_drop.clone());
                        }
                        Ok(Err(e)) => {
                            failed += 1;
                            err.get_or_insert(e.to_string());
                        }
                        Err(_) => {
                            failed += 1;
                            err.get_or_insert("connect timed out".into());
                        }
                    }
                }
                (ok, failed, err)
            });
        }
        let (mut ok, mut failed, mut first_err) = (0, 0, None);
        while let Some(Ok((o, f, e))) = openers.join_next().await {
            ok += o;
            failed += f;
            if first_err.is_none() {
                first_err = e;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "CONNECTED {ok} {failed} {secs:.3} {}",
            first_err.unwrap_or_else(|| "-".into()).replace('\n', " ")
        );
        let _ = std::io::stdout().flush();

        // Until the orchestrator closes our stdin.
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        let d = dropped.get();
        let why = match first_drop.take() {
            Some((t, e)) => format!("{t:.1} {}", e.replace('\n', " ")),
            None => "-".into(),
        };
        println!(
            "HELD {} {d} {} {why}",
            ok - d,
            PINGS.load(Ordering::Relaxed)
        );
        let _ = std::io::stdout().flush();
    });
    0
}

/// Answers the pings of one connection until it errors or closes (then
/// counts it in `dropped`, noting the first drop).
fn hold(mut c: WsClient, dropped: Rc<Cell<usize>>, first_drop: Rc<Cell<Option<(f64, String)>>>) {
    let opened = Instant::now();
    tokio::task::spawn_local(async move {
        loop {
            if let Err(e) = c.reader.next_eio(&c.writer).await {
                dropped.set(dropped.get() + 1);
                let prev = first_drop.take();
                first_drop.set(prev.or_else(|| {
                    Some((
                        opened.elapsed().as_secs_f64(),
                        format!("{:?}: {e}", e.kind()),
                    ))
                }));
                break;
            }
        }
    });
}

/// One server process and its load process.
struct Shard {
    server: Child,
    server_pid: u32,
    port: u16,
    rss_before: u64,
    load: Option<Child>,
    load_in: Option<ChildStdin>,
    load_out: Option<mpsc::Receiver<String>>,
}

fn kill_wait(child: &mut Child, grace: Duration) {
    sys::terminate(child.id());
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Lines of a child's stdout, through a channel (so waits can be bounded).
fn lines_of(child: &mut Child) -> Option<mpsc::Receiver<String>> {
    let out = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Some(rx)
}

fn start_server(program: &str) -> Result<Shard, String> {
    let mut server = pinned(Some(0), program)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let rx = lines_of(&mut server).ok_or("no stdout")?;
    let port = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(p) = line.trim().strip_prefix("LISTENING ") {
                    break p.trim().parse::<u16>().map_err(|e| e.to_string())?;
                }
            }
            Err(_) => {
                kill_wait(&mut server, Duration::from_secs(1));
                return Err(format!("{program} did not print LISTENING <port>"));
            }
        }
    };
    // taskset execs the server: the child's pid is the server's.
    let server_pid = server.id();
    std::thread::sleep(Duration::from_millis(200));
    Ok(Shard {
        server,
        server_pid,
        port,
        rss_before: sys::rss_kib(server_pid).unwrap_or(0),
        load: None,
        load_in: None,
        load_out: None,
    })
}

/// `oxsio-bench scale --peer oxsio|socketioxide --conns N [--hold-s 300]
/// [--per-shard 19000] [--concurrency 64] [--min-free-gib 4] [--limit-s 900]`:
/// prints one JSON line and appends it to benches/results/scale.jsonl.
pub fn main(f: &Flags) -> i32 {
    sys::raise_nofile();
    let peer = f.str("peer").unwrap_or("oxsio").to_owned();
    let program = bin_dir().join(match peer.as_str() {
        "oxsio" => "bench-server-oxsio",
        "socketioxide" => "bench-server-socketioxide",
        other => {
            eprintln!("scale: unknown peer {other:?} (oxsio or socketioxide)");
            return 2;
        }
    });
    let program = program.display().to_string();
    let load_program = bin_dir().join("oxsio-bench").display().to_string();
    let conns = f.num("conns", 500_000) as usize;
    let per_shard = f.num("per-shard", 19_000) as usize;
    let hold = Duration::from_secs(f.num("hold-s", 300));
    let concurrency = f.num("concurrency", 64);
    let min_free_kib = f.num("min-free-gib", 4) * 1024 * 1024;
    let limit = Duration::from_secs(f.num("limit-s", 900));
    let started = Instant::now();
    let deadline = started + limit;
    let shards_wanted = conns.div_ceil(per_shard);
    let nofile = sys::raise_nofile();
    eprintln!(
        "scale: {peer}, {conns} connections in {shards_wanted} shards of ≤ {per_shard} \
         (open-files limit {nofile} per process), hold {}s, stop below {} GiB available",
        hold.as_secs(),
        min_free_kib / 1024 / 1024
    );

    let mem0 = meminfo("MemAvailable:").unwrap_or(0);
    let slab0 = meminfo("Slab:").unwrap_or(0);
    let mut shards: Vec<Shard> = Vec::new();
    let mut stop_reason: Option<String> = None;
    let (mut connected, mut failed) = (0usize, 0usize);
    let mut first_err: Option<String> = None;
    let connect_start = Instant::now();
    let mut connect_secs = 0.0;
    let mut shard_need_kib = 0u64;
    let mut max_tcp_pages = 0u64;

    for k in 0..shards_wanted {
        let n = per_shard.min(conns - k * per_shard);
        let avail = meminfo("MemAvailable:").unwrap_or(0);
        if avail < min_free_kib + shard_need_kib {
            stop_reason = Some(format!(
                "memory: {} MiB available before shard {k}, one shard takes ≈ {} MiB, floor {} MiB",
                avail / 1024,
                shard_need_kib / 1024,
                min_free_kib / 1024
            ));
            break;
        }
        if Instant::now() >= deadline {
            stop_reason = Some("time limit during the connect phase".into());
            break;
        }
        let mut shard = match start_server(&program) {
            Ok(s) => s,
            Err(e) => {
                stop_reason = Some(format!("server of shard {k}: {e}"));
                break;
            }
        };
        let t0 = Instant::now();
        let mut load = match pinned(Some(1), &load_program)
            .args(["scale-load", "--addr"])
            .arg(format!("127.0.0.1:{}", shard.port))
            .args(["--conns", &n.to_string(), "--shard", &k.to_string()])
            .args([
                "--concurrency",
                &concurrency.to_string(),
                "--limit-s",
                "120",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                stop_reason = Some(format!("load of shard {k}: {e}"));
                kill_wait(&mut shard.server, Duration::from_secs(3));
                break;
            }
        };
        shard.load_in = load.stdin.take();
        let rx = lines_of(&mut load);
        shard.load = Some(load);
        // Wait for CONNECTED, watching memory.
        let mut line = None;
        let mut low_memory = false;
        while let Some(rx) = &rx {
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(l) if l.starts_with("CONNECTED ") => {
                    line = Some(l);
                    break;
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    max_tcp_pages = max_tcp_pages.max(tcp_mem_pages());
                    if meminfo("MemAvailable:").unwrap_or(0) < min_free_kib {
                        low_memory = true;
                        break;
                    }
                    if t0.elapsed() > Duration::from_secs(150) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        shard.load_out = rx;
        shards.push(shard);
        let Some(line) = line else {
            stop_reason = Some(if low_memory {
                format!("memory: below the floor while shard {k} connected")
            } else {
                format!("load of shard {k} did not report")
            });
            break;
        };
        connect_secs = connect_start.elapsed().as_secs_f64();
        let mut parts = line.splitn(5, ' ').skip(1);
        let ok: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let bad: usize = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let _secs = parts.next();
        if let Some(e) = parts.next().filter(|e| *e != "-") {
            first_err.get_or_insert(e.to_owned());
        }
        connected += ok;
        failed += bad;
        let used = mem0.saturating_sub(meminfo("MemAvailable:").unwrap_or(0));
        shard_need_kib = used / (k as u64 + 1);
        eprintln!(
            "scale: shard {k}: {ok} connected ({bad} failed) in {:.1}s; total {connected}, \
             {} MiB available",
            t0.elapsed().as_secs_f64(),
            meminfo("MemAvailable:").unwrap_or(0) / 1024
        );
        if bad > 0 {
            stop_reason = Some(format!("connect failures in shard {k}"));
            break;
        }
    }

    // Settle, then hold with the default heartbeat.
    std::thread::sleep(Duration::from_secs(5));
    let server_rss = |shards: &[Shard]| -> u64 {
        shards
            .iter()
            .map(|s| sys::rss_kib(s.server_pid).unwrap_or(0))
            .sum()
    };
    let server_cpu = |shards: &[Shard]| -> (f64, f64) {
        shards
            .iter()
            .filter_map(|s| sys::cpu_split(s.server_pid))
            .fold((0.0, 0.0), |(u, k), (du, dk)| (u + du, k + dk))
    };
    let rss_before: u64 = shards.iter().map(|s| s.rss_before).sum();
    let rss_after = server_rss(&shards);
    let load_rss: u64 = shards
        .iter()
        .filter_map(|s| s.load.as_ref().and_then(|l| sys::rss_kib(l.id())))
        .sum();
    let slab1 = meminfo("Slab:").unwrap_or(0);
    let mem1 = meminfo("MemAvailable:").unwrap_or(0);
    let sockstat1 = sockstat_tcp();
    let conntrack1 = conntrack_count();
    eprintln!(
        "scale: holding {connected} connections for {}s (server RSS {} MiB, {} MiB available)",
        hold.as_secs(),
        rss_after / 1024,
        mem1 / 1024
    );
    let cpu0 = server_cpu(&shards);
    let t0 = Instant::now();
    let hold_end = (t0 + hold).min(deadline);
    let mut min_avail = mem1;
    let mut hold_cut = None;
    while Instant::now() < hold_end {
        std::thread::sleep(Duration::from_secs(1));
        let avail = meminfo("MemAvailable:").unwrap_or(0);
        min_avail = min_avail.min(avail);
        max_tcp_pages = max_tcp_pages.max(tcp_mem_pages());
        if avail < min_free_kib {
            hold_cut = Some(format!(
                "memory below the floor after {:.0}s of hold",
                t0.elapsed().as_secs_f64()
            ));
            break;
        }
    }
    let held_s = t0.elapsed().as_secs_f64();
    let cpu1 = server_cpu(&shards);
    let (user, kernel) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let cpu = user + kernel;
    let rss_end = server_rss(&shards);

    // End of the hold: every load reports how many are still open.
    let (mut alive, mut dropped, mut pings) = (0usize, 0usize, 0u64);
    // Per shard with drops: "shard <port>: <seconds the connection had been open> <why>".
    let mut drops: Vec<String> = Vec::new();
    for s in &mut shards {
        drop(s.load_in.take());
    }
    for s in &mut shards {
        let Some(rx) = &s.load_out else { continue };
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(l) if l.starts_with("HELD ") => {
                    let mut parts = l[5..].splitn(4, ' ');
                    let mut num = || parts.next().and_then(|x| x.parse::<u64>().ok());
                    if let (Some(a), Some(d), Some(p)) = (num(), num(), num()) {
                        alive += a as usize;
                        dropped += d as usize;
                        pings += p;
                    }
                    if let Some(why) = parts.next().filter(|w| *w != "-") {
                        drops.push(format!("shard {}: {why}", s.port));
                    }
                    break;
                }
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    for s in &mut shards {
        if let Some(l) = &mut s.load {
            kill_wait(l, Duration::from_secs(20));
        }
    }
    for s in &mut shards {
        kill_wait(&mut s.server, Duration::from_secs(10));
    }

    let per_conn = |kib: f64| {
        if connected > 0 {
            json!(round(kib / connected as f64, 2))
        } else {
            Value::Null
        }
    };
    let expected_pings = connected as f64 * (held_s / 25.0).floor();
    let out = json!({
        "scenario": "scale", "peer": peer, "transport": "websocket",
        "conns_wanted": conns, "per_shard": per_shard,
        "shards": shards.len(), "open_files_limit": nofile,
        "connected": connected, "connect_failures": failed, "first_error": first_err,
        "connect_s": round(connect_secs, 3),
        "conns_per_s": if connect_secs > 0.0 { json!(round(connected as f64 / connect_secs, 1)) } else { Value::Null },
        "server_rss_before_kib": rss_before, "server_rss_after_kib": rss_after,
        "server_rss_end_kib": rss_end,
        "server_kib_per_conn": per_conn(rss_after as f64 - rss_before as f64),
        "server_kib_per_conn_end": per_conn(rss_end as f64 - rss_before as f64),
        "load_rss_kib": load_rss,
        "kernel_slab_kib_per_conn": per_conn(slab1 as f64 - slab0 as f64),
        "machine_kib_per_conn": per_conn(mem0 as f64 - mem1 as f64),
        "mem_available_min_kib": min_avail,
        "sockstat_tcp": sockstat1, "nf_conntrack_count": conntrack1,
        "tcp_mem_pages_max": max_tcp_pages,
        "tcp_mem_sysctl": std::fs::read_to_string("/proc/sys/net/ipv4/tcp_mem").ok().map(|s| s.trim().replace('\t', " ")),
        "held_s": round(held_s, 1), "server_cpu_s": round(cpu, 3),
        "server_user_s": round(user, 3), "server_kernel_s": round(kernel, 3),
        "heartbeat_cpu_pct": if held_s > 0.0 { json!(round(cpu / held_s * 100.0, 3)) } else { Value::Null },
        "pings_answered": pings, "pings_expected_at_least": expected_pings,
        "alive_at_end": alive, "dropped_while_held": dropped,
        "first_drop_per_shard": drops,
        "stopped_early": stop_reason.clone().or(hold_cut.clone()),
        "loadavg_end": sys::loadavg(),
        "ok": connected == conns && alive == connected && dropped == 0 && hold_cut.is_none() && stop_reason.is_none(),
        "elapsed_s": round(started.elapsed().as_secs_f64(), 1),
    });
    println!("{out}");
    let path = repo_root().join("benches/results/scale.jsonl");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(file, "{out}");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_loopback_and_change_every_10k() {
        assert_eq!(source(0, 0), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2)));
        assert_eq!(source(0, 9_999), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2)));
        assert_eq!(source(0, 10_000), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 3)));
        assert_eq!(source(26, 18_999), IpAddr::V4(Ipv4Addr::new(127, 0, 27, 3)));
        assert!(matches!(source(30, 19_000), IpAddr::V4(v) if v.is_loopback()));
    }
}
