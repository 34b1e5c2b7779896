//! Two WebSocket echo servers for the Autobahn|Testsuite fuzzing client
//! (`tests/autobahn/run.sh`): oxsio's own server WebSocket
//! (`oxsio::engineio::conformance::serve_echo`, permessage-deflate on from
//! 0 bytes) and tokio-tungstenite's, side by side for comparison.
//!
//! Usage: `cargo run -p oxsio --features conformance --example autobahn_echo -- OXSIO_PORT TUNGSTENITE_PORT`
//! (both on 127.0.0.1; port 0 picks a free one). Prints
//! `oxsio=ADDR tungstenite=ADDR` once both listen, then runs until killed.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest message either server takes: Autobahn's cases 1-7 send up
/// to 64 KiB, 12-13 up to 128 KiB, 9.x up to 16 MiB.
const MAX_PAYLOAD: usize = 16 << 20;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port = |a: Option<String>| a.and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
    let (oxsio_port, tungstenite_port) = (port(args.next()), port(args.next()));
    let oxsio = TcpListener::bind(("127.0.0.1", oxsio_port)).await?;
    let tungstenite = TcpListener::bind(("127.0.0.1", tungstenite_port)).await?;
    println!(
        "oxsio={} tungstenite={}",
        oxsio.local_addr()?,
        tungstenite.local_addr()?
    );
    tokio::spawn(oxsio::engineio::conformance::serve_echo(
        oxsio,
        MAX_PAYLOAD,
        Some(0),
    ));
    loop {
        let (stream, _) = tungstenite.accept().await?;
        tokio::spawn(tungstenite_echo(stream));
    }
}

/// tokio-tungstenite's echo, as in its own Autobahn server example.
async fn tungstenite_echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}
