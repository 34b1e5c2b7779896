//! Echo load generator on the Rust client (so the load costs little next to
//! the server measured): C sockets over WebSocket, each keeping W "echo"
//! events in flight; counts the echoes received during D seconds after a
//! 1 s warm-up and prints `{"msgs_per_sec": N, "count": N, "secs": F}`.
//!
//! With `LOAD_MODE=fanout`, the first socket keeps W "fan" events in
//! flight instead; the server broadcasts each as "fanout" to every socket,
//! and the deliveries to all sockets are counted.
//!
//! Usage: oxsio-echo-load URL C W D

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oxsio::Value;
use oxsio::client::{ClientBuilder, ClientEvent};
use oxsio::engineio::Transport;

fn payload() -> Value {
    Value::from(serde_json::json!({"text": "hello", "n": 42, "list": [1, 2, 3]}))
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> T {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: oxsio-echo-load URL CLIENTS WINDOW SECONDS ({name} missing or invalid)");
        std::process::exit(2)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url: String = arg(&args, 1, "URL");
    let clients: usize = arg(&args, 2, "CLIENTS");
    let window: usize = arg(&args, 3, "WINDOW");
    let secs: u64 = arg(&args, 4, "SECONDS");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async move {
        let counting = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let mut sockets = Vec::new();
        let fanout = std::env::var("LOAD_MODE").is_ok_and(|m| m == "fanout");
        for i in 0..clients {
            let (counting, count) = (counting.clone(), count.clone());
            let builder = ClientBuilder::new(url.clone()).transports([Transport::Websocket]);
            let builder = if fanout {
                builder.on("fanout", move |ev: ClientEvent| {
                    if counting.load(Ordering::Relaxed) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    if i == 0 {
                        let _ = ev.socket.emit("fan", payload());
                    }
                })
            } else {
                builder.on("echo", move |ev: ClientEvent| {
                    if counting.load(Ordering::Relaxed) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = ev.socket.emit("echo", payload());
                })
            };
            let socket =
                match tokio::time::timeout(Duration::from_secs(10), builder.connect()).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        println!("FAIL connect: {e}");
                        std::process::exit(1);
                    }
                    Err(_) => {
                        println!("FAIL connect: timed out");
                        std::process::exit(1);
                    }
                };
            sockets.push(socket);
        }
        if fanout {
            for _ in 0..window {
                let _ = sockets[0].emit("fan", payload());
            }
        } else {
            for s in &sockets {
                for _ in 0..window {
                    let _ = s.emit("echo", payload());
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        counting.store(true, Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let n = count.load(Ordering::Relaxed);
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "{{\"msgs_per_sec\": {}, \"count\": {n}, \"secs\": {elapsed:.3}}}",
            (n as f64 / elapsed).round() as u64
        );
        std::process::exit(0);
    });
}
