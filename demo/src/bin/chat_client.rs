//! A chat client for the demo server (`cargo run --release -p oxsio-demo`):
//! lines you type are sent to your room; `/join <room>` changes room.
//!
//! ```text
//! cargo run --release -p oxsio-demo --bin chat_client -- alice [http://127.0.0.1:3000]
//! ```

use oxsio::client::{ClientBuilder, ClientEvent};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let nick = args.next().unwrap_or_else(|| "rustacean".into());
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let socket = ClientBuilder::new(&url)
        .on("welcome", |ev: ClientEvent| {
            println!("* connected, {} online", ev.arg(0)["online"])
        })
        .on("chat", |ev: ClientEvent| {
            let m = ev.arg(0);
            println!(
                "[{}] {}: {}",
                m["room"].as_str().unwrap_or("?"),
                m["from"].as_str().unwrap_or("?"),
                m["text"]
            );
        })
        .on("image", |ev: ClientEvent| {
            let m = ev.arg(0);
            println!(
                "[{}] {} sent an image ({}, {} bytes)",
                m["room"].as_str().unwrap_or("?"),
                m["from"].as_str().unwrap_or("?"),
                m["type"].as_str().unwrap_or("?"),
                m["data"].as_bytes().map_or(0, |b| b.len())
            );
        })
        .on("notice", |ev: ClientEvent| {
            println!("* {}", ev.arg(0)["text"].as_str().unwrap_or("?"))
        })
        .connect()
        .await?;
    socket.on_disconnect(|_, reason| {
        println!("* disconnected: {reason} (reconnecting if the server comes back)")
    });
    socket.emit_with_ack("nick", nick.as_str()).await?;
    println!("* you are {nick}; type a message, /join <room>, or Ctrl-D to quit");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if let Some(room) = line.strip_prefix("/join ") {
            let ack = socket.emit_with_ack("join", room.trim()).await?;
            println!("* {} {}", ack[0], ack[1]);
        } else if !line.is_empty() {
            match socket.emit_with_ack("chat", line).await {
                Ok(ack) => println!("* {} to {} other(s)", ack[0], ack[1]),
                Err(e) => println!("* not sent: {e}"),
            }
        }
    }
    socket.disconnect();
    Ok(())
}
