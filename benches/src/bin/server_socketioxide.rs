//! The benchmark app on socketioxide (crates.io): on connect join room
//! "all"; "echo" → emit back to the sender; "broadcast" → emit to room
//! "all", sender included. Served by hyper's HTTP/1 connection API, as in
//! socketioxide's own hyper example.
//!
//! Prints `LISTENING <port>` once bound and serves until SIGTERM / SIGINT.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut builder = SocketIo::builder();
    if let Some(ms) = arg("--ping-interval-ms") {
        builder = builder.ping_interval(Duration::from_millis(ms));
    }
    if let Some(ms) = arg("--ping-timeout-ms") {
        builder = builder.ping_timeout(Duration::from_millis(ms));
    }
    let (svc, io) = builder.build_svc();
    io.ns("/", async |s: SocketRef| {
        s.join("all");
        s.on("echo", async |s: SocketRef, Data::<Value>(v)| {
            let _ = s.emit("echo", &v);
        });
        s.on("broadcast", async |io: SocketIo, Data::<Value>(v)| {
            let _ = io.to("all").emit("broadcast", &v).await;
        });
    });
    let port = arg("--port").unwrap_or(0) as u16;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("LISTENING {}", listener.local_addr()?.port());
    let mut term = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let svc = svc.clone();
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
