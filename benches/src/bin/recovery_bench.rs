#![allow(clippy::unwrap_used)]
//! The connection state recovery scenario: C clients (the bench's lean
//! WebSocket client, which offers `{pid, offset}` as the official client
//! does) drop their connections for 1 s while P packets are broadcast to
//! them; then they all come back. Measured for the oxsio
//! bench server with recovery on, then off, in the same run:
//! - replay time: from the reconnection wave to the moment every client has
//!   every packet it missed (recovery on only);
//! - the p50/p99 latency of probe broadcasts seen by S clients that stay
//!   connected, while the others come back (replaying or not).
//!
//! Usage: bench-recovery [--clients 1000] [--packets 10000] [--steady 50]
//!                       [--server target/release/bench-server-oxsio]
//! Prints one JSON line per mode and a summary line. Bounded: every wait
//! has a deadline (`--limit-s`, default 120 s per mode).

#[path = "../sys.rs"]
#[allow(dead_code)]
mod sys;
#[path = "../wire.rs"]
#[allow(dead_code)]
mod wire;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxsio::Transport;
use oxsio::client::{ClientBuilder, ClientSocket, Reconnection};
use serde_json::json;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn server_path() -> String {
    arg_str("--server").unwrap_or_else(|| {
        let me = std::env::current_exe().unwrap();
        me.with_file_name("bench-server-oxsio")
            .display()
            .to_string()
    })
}

/// Starts the bench server (on CPU 0 when taskset is there); returns it and its port.
fn start_server(recovery_packets: Option<u64>) -> (Child, u16) {
    let server = server_path();
    let taskset = Command::new("taskset").arg("--version").output().is_ok();
    let mut cmd = if taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", &server]);
        c
    } else {
        Command::new(&server)
    };
    if let Some(n) = recovery_packets {
        cmd.args(["--recovery-packets", &n.to_string()]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {server}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .trim_start_matches("LISTENING ")
        .parse()
        .unwrap();
    (child, port)
}

fn now_ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i] as f64 / 1e6)
}

/// `"pid"` of a CONNECT reply (`0{"sid":…,"pid":…}`).
fn pid_of(reply: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(reply.get(1..)?).ok()?;
    v["pid"].as_str().map(str::to_owned)
}

/// The last string argument of an event packet (the server's offset).
fn offset_of(packet: &[u8]) -> Option<&[u8]> {
    let end = packet.iter().rposition(|&b| b == b'"')?;
    let start = packet[..end].iter().rposition(|&b| b == b'"')?;
    Some(&packet[start + 1..end])
}

async fn connect(url: &str, delay: Duration) -> ClientSocket {
    ClientBuilder::new(url)
        .transports([Transport::Websocket])
        .reconnection(Reconnection {
            delay,
            delay_max: delay,
            randomization_factor: 0.0,
            ..Reconnection::default()
        })
        .connect()
        .await
        .unwrap()
}

/// What the away clients report.
#[derive(Default)]
struct AwayStats {
    /// Clients connected before the cut.
    connected: usize,
    /// Set at the cut: the reconnection wave (1 s later).
    wave: Option<Instant>,
    /// Set at the end: the clients leave.
    stopped: bool,
    /// Reconnections that failed or got no CONNECT reply.
    failed: usize,
    /// Seconds from the wave until a client had every burst packet.
    done: Vec<f64>,
    recovered: usize,
    replayed: usize,
}

/// One away client: connects, reads until the cut, then at `wave`
/// reconnects offering its session (as the official client) and counts the
/// burst packets replayed to it; it then reads on until `stop`.
#[allow(clippy::too_many_arguments)]
async fn away_client(
    addr: std::net::SocketAddr,
    seed: u32,
    cut: Arc<tokio::sync::Notify>,
    stop: Arc<tokio::sync::Notify>,
    packets: usize,
    deadline: Instant,
    stats: Arc<Mutex<AwayStats>>,
) {
    let req = wire::ws_upgrade_request(addr);
    let Ok((mut c, reply)) = wire::ws_connect_with(addr, None, seed, &req, b"40").await else {
        return;
    };
    let pid = pid_of(&reply);
    let mut offset: Option<Vec<u8>> = None;
    stats.lock().unwrap().connected += 1;
    loop {
        let notified = cut.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if stats.lock().unwrap().wave.is_some() {
            break;
        }
        tokio::select! {
            p = c.reader.next_sio(&c.writer) => {
                let Ok(p) = p else { return };
                if p.starts_with(b"2") && let Some(o) = offset_of(p) {
                    offset = Some(o.to_vec());
                }
            }
            () = notified => break,
        }
    }
    drop(c); // the connection is gone (the server sees "transport close")
    let Some(wave) = stats.lock().unwrap().wave else {
        return;
    };
    tokio::time::sleep_until(wave.into()).await;
    let connect = match (&pid, &offset) {
        (Some(pid), Some(o)) => format!(
            "40{{\"pid\":\"{pid}\",\"offset\":\"{}\"}}",
            String::from_utf8_lossy(o)
        ),
        _ => "40".to_owned(),
    };
    let again = tokio::time::timeout_at(
        deadline.into(),
        wire::ws_connect_with(addr, None, seed, &req, connect.as_bytes()),
    )
    .await;
    let Ok(Ok((mut c, reply))) = again else {
        stats.lock().unwrap().failed += 1;
        return;
    };
    let recovered = pid.is_some() && pid_of(&reply) == pid;
    let mut got = 0;
    if !recovered {
        stats
            .lock()
            .unwrap()
            .done
            .push(wave.elapsed().as_secs_f64());
    } else {
        stats.lock().unwrap().recovered += 1;
    }
    loop {
        let notified = stop.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if stats.lock().unwrap().stopped {
            return;
        }
        tokio::select! {
            p = tokio::time::timeout_at(deadline.into(), c.reader.next_sio(&c.writer)) => {
                let Ok(Ok(p)) = p else { return };
                if recovered && got < packets && p.starts_with(b"2[\"broadcast\",\"m\"") {
                    got += 1;
                    let mut s = stats.lock().unwrap();
                    s.replayed += 1;
                    if got == packets {
                        s.done.push(wave.elapsed().as_secs_f64());
                    }
                }
            }
            () = notified => return,
        }
    }
}

async fn run_mode(
    recovery: bool,
    clients: usize,
    packets: usize,
    steady: usize,
    window: Option<Duration>,
    limit: Duration,
) -> serde_json::Value {
    let (mut server, port) = start_server(recovery.then_some(packets as u64 + 20_000));
    let direct = format!("http://127.0.0.1:{port}");
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let t0 = Instant::now();
    let deadline = Instant::now() + limit;

    // Clients that stay, and the sender, on a thread and runtime of their
    // own, so that the away clients' work in this process does not delay
    // their reading. Phases: 1 warm-up packet, 2 burst, 3 probes, 4 stop.
    let lat: Arc<Mutex<Vec<u64>>> = Arc::default();
    let steady_got = Arc::new(AtomicUsize::new(0));
    let phase = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<f64>();
    let stay = {
        let (lat, steady_got, phase) = (lat.clone(), steady_got.clone(), phase.clone());
        let direct = direct.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let wait_phase = |n: u64| {
                    let phase = phase.clone();
                    async move {
                        while phase.load(Ordering::Acquire) < n && Instant::now() < deadline {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                };
                let mut stay = Vec::new();
                for _ in 0..steady {
                    let socket = connect(&direct, Duration::from_secs(1)).await;
                    let (lat, got) = (lat.clone(), steady_got.clone());
                    socket.on("broadcast", move |ev| match ev.arg(0).as_str() {
                        Some("p") => {
                            if let Some(sent) = ev.arg(1).as_u64() {
                                lat.lock().unwrap().push(now_ns(t0).saturating_sub(sent));
                            }
                        }
                        Some(_) => {
                            got.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    });
                    stay.push(socket);
                }
                let sender = connect(&direct, Duration::from_secs(1)).await;
                let _ = ready_tx.send(0.0);
                let paced = |from: usize, to: usize, kind: &'static str| {
                    let (sender, got) = (sender.clone(), steady_got.clone());
                    async move {
                        // Chunks of 100, each sent once the staying clients
                        // had the previous one, so no queue overflows.
                        for i in from..to {
                            let _ = sender.emit("broadcast", (kind, i as u64));
                            if (i + 1) % 100 == 0 || i + 1 == to {
                                while got.load(Ordering::Relaxed) < (i + 1) * steady
                                    && Instant::now() < deadline
                                {
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                }
                            }
                        }
                    }
                };
                wait_phase(1).await;
                paced(0, 1, "w").await;
                let _ = ready_tx.send(0.0);
                wait_phase(2).await;
                let started = Instant::now();
                paced(1, packets + 1, "m").await;
                let _ = ready_tx.send(started.elapsed().as_secs_f64());
                wait_phase(3).await;
                lat.lock().unwrap().clear();
                let mut seq = 0u64;
                while phase.load(Ordering::Acquire) < 4 && Instant::now() < deadline {
                    let _ = sender.emit("broadcast", ("p", now_ns(t0), seq));
                    seq += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                for s in &stay {
                    s.disconnect();
                }
                sender.disconnect();
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
        })
    };
    let _ = ready_rx.recv_timeout(limit);

    // The away clients, on this thread.
    let cut = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(tokio::sync::Notify::new());
    let stats: Arc<Mutex<AwayStats>> = Arc::default();
    // The away clients on a thread of their own at a lower priority (nice
    // 10), so that their replay reading does not take the CPU from the
    // staying clients, whose latency is what this measures of the server.
    let away = {
        let (cut, stop, stats) = (cut.clone(), stop.clone(), stats.clone());
        std::thread::spawn(move || {
            // SAFETY: setpriority on the calling thread (who = 0) has no
            // memory preconditions.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let mut away = tokio::task::JoinSet::new();
                for i in 0..clients {
                    away.spawn_local(away_client(
                        addr,
                        i as u32 + 1,
                        cut.clone(),
                        stop.clone(),
                        packets,
                        deadline,
                        stats.clone(),
                    ));
                }
                while away.join_next().await.is_some() {}
            });
        })
    };
    while stats.lock().unwrap().connected < clients && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // One packet gives every client an offset; then they all drop, and
    // come back 1 s later.
    phase.store(1, Ordering::Release);
    let _ = ready_rx.recv_timeout(limit);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cut_at = Instant::now();
    let wave = cut_at + Duration::from_secs(1);
    stats.lock().unwrap().wave = Some(wave);
    cut.notify_waiters();
    tokio::time::sleep(Duration::from_millis(100)).await;
    phase.store(2, Ordering::Release);
    let mut burst_s = 0.0;
    while Instant::now() < deadline {
        match ready_rx.try_recv() {
            Ok(s) => {
                burst_s = s;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    if Instant::now() < wave {
        tokio::time::sleep_until(wave.into()).await;
    }
    phase.store(3, Ordering::Release);
    let mut replay_s = None;
    while Instant::now() < deadline {
        if stats.lock().unwrap().done.len() >= clients {
            replay_s = Some(wave.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Probe for the same window in both modes.
    if let Some(w) = window {
        let end = wave + w;
        if Instant::now() < end {
            tokio::time::sleep_until(end.into()).await;
        }
    }
    let probed_s = wave.elapsed().as_secs_f64();
    phase.store(4, Ordering::Release);
    let _ = tokio::task::spawn_blocking(move || stay.join()).await;
    stats.lock().unwrap().stopped = true;
    stop.notify_waiters();
    let _ = tokio::task::spawn_blocking(move || away.join()).await;
    let mut l = std::mem::take(&mut *lat.lock().unwrap());
    l.sort_unstable();
    let st = std::mem::take(&mut *stats.lock().unwrap());
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
    let ms = |s: f64| (s * 1000.0).round() / 1000.0;
    json!({
        "scenario": "recovery",
        "recovery": recovery,
        "clients": clients,
        "packets": packets,
        "steady": steady,
        "burst_s": ms(burst_s),
        "replay_s": replay_s.map(ms),
        "probe_window_s": ms(probed_s),
        "recovered": st.recovered,
        "reconnect_failed": st.failed,
        "replayed_packets": st.replayed,
        "lost": if recovery { (clients * packets).saturating_sub(st.replayed) } else { 0 },
        "probe_samples": l.len(),
        "p50_ms": percentile(&l, 0.50),
        "p99_ms": percentile(&l, 0.99),
        "ok": replay_s.is_some(),
    })
}

fn main() {
    let clients = arg("--clients", 1000) as usize;
    let packets = arg("--packets", 10_000) as usize;
    let steady = arg("--steady", 50) as usize;
    let limit = Duration::from_secs(arg("--limit-s", 120));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let on = run_mode(true, clients, packets, steady, None, limit).await;
        println!("{on}");
        let window = on["probe_window_s"].as_f64().map(Duration::from_secs_f64);
        let off = run_mode(false, clients, packets, steady, window, limit).await;
        println!("{off}");
        let ratio = match (on["p99_ms"].as_f64(), off["p99_ms"].as_f64()) {
            (Some(a), Some(b)) if b > 0.0 => Some((a / b * 100.0).round() / 100.0),
            _ => None,
        };
        println!(
            "{}",
            json!({
                "summary": "recovery",
                "replay_s": on["replay_s"],
                "replayed_packets": on["replayed_packets"],
                "lost": on["lost"],
                "p99_ms_with_replay": on["p99_ms"],
                "p99_ms_without_recovery": off["p99_ms"],
                "p99_ratio": ratio,
                "goal": "p99 ratio <= 2",
                "met": ratio.map(|r| r <= 2.0),
            })
        );
    });
}
