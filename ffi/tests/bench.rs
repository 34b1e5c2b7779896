//! Echo round trips per second through the C ABI, in poll mode and in
//! callback mode, beside the same loop in pure Rust, against one in-process
//! oxsio echo server, measured in one run. A benchmark, not a test:
//!
//! ```sh
//! cargo test -p oxsio-ffi --release --test bench -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use oxsio_core::client::ClientBuilder;
use oxsio_core::{Event, Server, Socket, Transport, Value};

const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 5;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn build_c() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "oxsio-ffi", "--lib"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    assert!(cmd.current_dir(root()).status().unwrap().success());
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        lib.join("liboxsio.so").exists(),
        "no liboxsio.so in {}",
        lib.display()
    );
    // The program records the library's SONAME (ffi/build.rs): liboxsio.so.0.<minor>.
    let soname = if env!("CARGO_PKG_VERSION_MAJOR") == "0" {
        format!("liboxsio.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("liboxsio.so.{}", env!("CARGO_PKG_VERSION_MAJOR"))
    };
    let link = lib.join(soname);
    if std::fs::read_link(&link).is_err() {
        let _ = std::os::unix::fs::symlink("liboxsio.so", &link);
    }
    let out = lib.join("c-programs/bench_echo");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let root = root();
    let st = Command::new("gcc")
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(format!("-I{}", root.join("examples/c").display()))
        .arg(root.join("ffi/tests/c/bench_echo.c"))
        .arg(format!("-L{}", lib.display()))
        .arg("-loxsio")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    out
}

fn c_round(exe: &PathBuf, url: &str, mode: &str) -> f64 {
    let out = Command::new(exe)
        .arg(url)
        .arg(mode)
        .arg(ROUND.as_millis().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{mode}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "roundtrips N in T ms: R/s"
    let words: Vec<&str> = text.split_whitespace().collect();
    let n: f64 = words[1].parse().unwrap();
    let ms: f64 = words[3].parse().unwrap();
    n * 1000.0 / ms
}

fn rust_round(url: &str) -> f64 {
    oxsio_core::runtime::shared().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let socket = ClientBuilder::new(url)
            .transports([Transport::Websocket])
            .on("echo", move |_| {
                let _ = tx.send(());
            })
            .connect()
            .await
            .unwrap();
        let payload: Value =
            serde_json::from_str(r#"{"seq":1,"pos":[1.5,-2.25],"name":"player"}"#).unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < ROUND {
            socket.emit("echo", payload.clone()).unwrap();
            rx.recv().await.unwrap();
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        socket.disconnect();
        rate
    })
}

/// Pure Rust, the next emit made from inside the event handler (as the C
/// callback mode does).
fn rust_handler_round(url: &str) -> f64 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    oxsio_core::runtime::shared().block_on(async {
        let payload: Value =
            serde_json::from_str(r#"{"seq":1,"pos":[1.5,-2.25],"name":"player"}"#).unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st, p) = (count.clone(), stop.clone(), payload.clone());
        let socket = ClientBuilder::new(url)
            .transports([Transport::Websocket])
            .on("echo", move |ev| {
                c.fetch_add(1, Ordering::Relaxed);
                if !st.load(Ordering::Relaxed) {
                    let _ = ev.socket.emit("echo", p.clone());
                }
            })
            .connect()
            .await
            .unwrap();
        let start = Instant::now();
        socket.emit("echo", payload).unwrap();
        tokio::time::sleep(ROUND).await;
        stop.store(true, Ordering::Relaxed);
        let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        socket.disconnect();
        rate
    })
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn echo_round_trips() {
    let exe = build_c();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.block_on(async {
        let io = Server::new();
        io.on_connection(|socket: Socket| {
            socket.on("echo", |ev: Event| {
                let _ = ev.socket.emit("echo", ev.args);
            });
        });
        io.listen("127.0.0.1:0").await.unwrap()
    });
    let url = format!("http://127.0.0.1:{}/", handle.local_addr().port());
    let (mut poll, mut callback, mut rust) = (Vec::new(), Vec::new(), Vec::new());
    let mut rust_handler = Vec::new();
    for _ in 0..ROUNDS {
        rust.push(rust_round(&url));
        rust_handler.push(rust_handler_round(&url));
        poll.push(c_round(&exe, &url, "poll"));
        callback.push(c_round(&exe, &url, "callback"));
    }
    // Best of the rounds: the machine is shared, slow rounds measure the
    // neighbours. The medians are printed too.
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (r, rh, p, c) = (
        best(&rust),
        best(&rust_handler),
        best(&poll),
        best(&callback),
    );
    let vs = |x: f64, base: f64| (x / base - 1.0) * 100.0;
    println!(
        "echo round trips/s (best of {ROUNDS} rounds of {ROUND:?}, one WebSocket client, server in-process):"
    );
    println!(
        "  medians: Rust app task {:.0}, poll {:.0} ({:+.1}%), Rust handler {:.0}, callback {:.0} ({:+.1}%)",
        median(&rust),
        median(&poll),
        vs(median(&poll), median(&rust)),
        median(&rust_handler),
        median(&callback),
        vs(median(&callback), median(&rust_handler))
    );
    println!("  Rust, wait on the app task       {r:>9.0}   rounds {rust:.0?}");
    println!(
        "  C API, poll mode                 {p:>9.0}   ({:+.1}% vs Rust app task)   rounds {poll:.0?}",
        vs(p, r)
    );
    println!("  Rust, emit from the handler      {rh:>9.0}   rounds {rust_handler:.0?}");
    println!(
        "  C API, callback mode             {c:>9.0}   ({:+.1}% vs Rust handler)   rounds {callback:.0?}",
        vs(c, rh)
    );
    rt.block_on(handle.shutdown());
}
