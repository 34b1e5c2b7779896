#![allow(clippy::unwrap_used)]
//! Memory of connection state recovery: abandoned sessions are freed when
//! they expire. Its own test binary, so that RSS is this test's alone.

mod common;

use std::time::{Duration, Instant};

use common::raw;
use oxsio::{RecoveryConfig, Server, Socket};

const T: Duration = Duration::from_secs(10);

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Gives freed heap pages back to the system, so RSS shows what is
/// still allocated rather than what the allocator keeps for reuse.
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn abandon_sessions(addr: std::net::SocketAddr, names: &[String], connections: usize) {
    // All open at once, then all gone at once: the sessions expire together.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let names = names.to_vec();
        tasks.spawn(async move {
            let mut open = Vec::new();
            for _ in 0..connections / 40 {
                let mut c = raw::Client::ws(addr).await;
                for n in &names {
                    c.connect_ns(n, None).await.unwrap();
                }
                open.push(c);
            }
            open
        });
    }
    let mut all = Vec::new();
    while let Some(open) = tasks.join_next().await {
        all.extend(open.unwrap());
    }
    drop(all); // gone without a word: "transport close"
}

/// 10 000 sessions left behind (1 000 connections × 10 namespaces) are
/// all freed once they expire, and RSS comes back to where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_abandoned_sessions_are_freed_after_expiry() {
    let io = Server::builder()
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(4),
            ..RecoveryConfig::default()
        })
        .build();
    let names: Vec<String> = (0..10).map(|i| format!("/n{i}")).collect();
    for n in &names {
        io.of(n).on_connection(|s: Socket| s.join("room"));
    }
    let handle = io.listen("127.0.0.1:0").await.unwrap();
    let addr = handle.local_addr();
    let stats = |io: &Server| -> (usize, usize) {
        names.iter().fold((0, 0), |(s, p), n| {
            let st = io.of(n).recovery_stats();
            (s + st.sessions, p + st.packets)
        })
    };
    let emit_all = |io: &Server| {
        for n in &names {
            io.of(n)
                .to("room")
                .emit("x", "payload kept for replay")
                .unwrap();
        }
    };
    // A warm-up round, so that buffers and pools that stay are in the baseline.
    abandon_sessions(addr, &names, 200).await;
    emit_all(&io);
    let warm = raw::eventually(Duration::from_secs(20), || stats(&io) == (0, 0)).await;
    assert!(warm, "warm-up sessions not freed: {:?}", stats(&io));
    trim();
    let before = rss_kib();

    let started = Instant::now();
    abandon_sessions(addr, &names, 1000).await;
    println!("10 000 sessions opened in {:?}", started.elapsed());
    emit_all(&io);
    let kept = raw::eventually(T, || stats(&io).0 == 10_000).await;
    assert!(kept, "sessions kept: {:?}", stats(&io));
    let peak = rss_kib();
    let freed = raw::eventually(Duration::from_secs(20), || stats(&io) == (0, 0)).await;
    assert!(freed, "not freed: {:?}", stats(&io));
    let after = rss_kib();
    trim();
    let trimmed = rss_kib();
    println!(
        "rss KiB: before {before}, with 10 000 sessions {peak}, after expiry {after} ({trimmed} after malloc_trim)"
    );
    // What stays is allocator fragmentation, not sessions: a leak would keep
    // most of the peak. Allow a tenth of the growth (measured: about 3 %).
    let grown = peak.saturating_sub(before);
    assert!(
        trimmed <= before + grown / 10,
        "RSS after expiry {trimmed} KiB vs {before} KiB before and {peak} KiB at the peak"
    );
    handle.shutdown().await;
}
