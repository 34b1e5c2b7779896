//! oxsio mounted inside an existing axum application: the Socket.IO
//! service answers under `/socket.io/`, axum routes everything else.
//!
//! ```text
//! cargo run --example axum            # serves on 127.0.0.1:3001 until Ctrl-C
//! cargo run --example axum -- --check # connects a client through axum, then exits
//! ```

use axum::Router;
use axum::routing::get;
use oxsio::client::ClientBuilder;
use oxsio::{Event, Server, Socket};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let io = Server::new();
    io.on_connection(|socket: Socket| {
        socket.on("ping", |ev: Event| {
            if let Some(ack) = ev.ack {
                let _ = ack.send("pong from inside axum");
            }
        });
    });
    let app = Router::new()
        .route(
            "/",
            get(|| async { "hello from axum; Socket.IO lives at /socket.io/" }),
        )
        .route_service("/socket.io/", io.service());

    let check = std::env::args().any(|a| a == "--check");
    let listener = tokio::net::TcpListener::bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3001"
    })
    .await?;
    let addr = listener.local_addr()?;
    println!("axum + oxsio on http://{addr}");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    if check {
        let socket = ClientBuilder::new(format!("http://{addr}"))
            .connect()
            .await?;
        let reply = socket.emit_with_ack("ping", ()).await?;
        println!("ack: {}", reply[0]);
        socket.disconnect();
        server.abort();
        return Ok(());
    }
    tokio::signal::ctrl_c().await?;
    io.shutdown().await;
    Ok(())
}
