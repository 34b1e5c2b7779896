//! The demo chat server: rooms, broadcasts and acknowledgements on
//! 127.0.0.1:3000 (`PORT` overrides). Two built-in bots chat for a moment so
//! you can see it work; then any Socket.IO client can join.
//!
//! ```text
//! cargo run --release --example chat
//! cargo run --release --example chat_client -- alice     # in another terminal
//! ```
//!
//! Protocol of the app (any client):
//! - `nick` (name, ack) → sets your name; ack(`"ok"`, name)
//! - `join` (room, ack) → leaves your room, joins `room`; ack(`"joined"`, room)
//! - `chat` (text, ack) → `chat` {from, room, text} to everyone else in your room;
//!   ack(`"delivered"`, number of other people in the room)
//! - on connect you are in room `lobby` and get `welcome` {id, room, online}.

use std::time::Duration;

use oxsio::client::{ClientBuilder, ClientEvent};
use oxsio::{Event, Server, Socket, Value};
use serde_json::json;

#[derive(Clone)]
struct Profile {
    nick: String,
    room: String,
}

fn chat_server() -> Server {
    let io = Server::new();
    let io2 = io.clone();
    io.on_connection(move |socket: Socket| {
        let profile = Profile {
            nick: format!("guest-{}", &socket.id().as_str()[..4]),
            room: "lobby".into(),
        };
        socket.join("lobby");
        socket.insert(profile.clone());
        let online = io2.of("/").sockets().len();
        let _ = socket.emit(
            "welcome",
            json!({"id": socket.id().as_str(), "room": "lobby", "online": online}),
        );
        println!("  server: {} connected ({} online)", profile.nick, online);

        socket.on("nick", |ev: Event| {
            let Some(mut p) = ev.socket.get::<Profile>() else {
                return;
            };
            p.nick = ev
                .arg(0)
                .as_str()
                .unwrap_or("anonymous")
                .chars()
                .take(32)
                .collect();
            ev.socket.insert(p.clone());
            if let Some(ack) = ev.ack {
                let _ = ack.send(("ok", p.nick));
            }
        });
        socket.on("join", |ev: Event| {
            let Some(mut p) = ev.socket.get::<Profile>() else {
                return;
            };
            let room: String = ev
                .arg(0)
                .as_str()
                .unwrap_or("lobby")
                .chars()
                .take(64)
                .collect();
            ev.socket.leave(&p.room);
            ev.socket.join(room.as_str());
            p.room = room.clone();
            ev.socket.insert(p);
            if let Some(ack) = ev.ack {
                let _ = ack.send(("joined", room));
            }
        });
        let io3 = io2.clone();
        socket.on_async("chat", move |ev: Event| {
            let io = io3.clone();
            async move {
                let Some(p) = ev.socket.get::<Profile>() else {
                    return;
                };
                let text = ev.arg(0).clone();
                let _ = ev.socket.to(p.room.as_str()).emit(
                    "chat",
                    json!({"from": p.nick, "room": p.room, "text": text.to_json()}),
                );
                let others = io
                    .to(p.room.as_str())
                    .fetch_sockets()
                    .await
                    .len()
                    .saturating_sub(1);
                if let Some(ack) = ev.ack {
                    let _ = ack.send(("delivered", others));
                }
            }
        });
        socket.on_disconnect(|s, reason| {
            let nick = s.get::<Profile>().map(|p| p.nick).unwrap_or_default();
            println!("  server: {nick} left ({reason})");
        });
    });
    io
}

/// Two bots that say hello to each other through the server, with acks.
async fn demo(url: &str) -> Result<(), oxsio::client::ClientError> {
    let print = |who: &'static str| {
        move |ev: ClientEvent| {
            let m = ev.arg(0);
            println!(
                "  {who} got chat from {}: {}",
                m["from"].as_str().unwrap_or("?"),
                m["text"].as_str().unwrap_or("?")
            );
        }
    };
    let ada = ClientBuilder::new(url)
        .on("chat", print("ada"))
        .connect()
        .await?;
    let bob = ClientBuilder::new(url)
        .on("chat", print("bob"))
        .connect()
        .await?;
    ada.emit_with_ack("nick", "ada").await?;
    bob.emit_with_ack("nick", "bob").await?;
    for (who, socket, line) in [
        ("ada", &ada, "hello bob!"),
        ("bob", &bob, "hi ada, the server works"),
        ("ada", &ada, "bye for now"),
    ] {
        println!("  {who} says: {line}");
        let ack = socket.emit_with_ack("chat", line).await?;
        println!(
            "  {who}'s message acknowledged: {} to {} other(s)",
            ack[0].as_str().unwrap_or("?"),
            ack.get(1).cloned().unwrap_or(Value::Null)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ada.disconnect();
    bob.disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let exit_after_demo = std::env::args().any(|a| a == "--exit-after-demo");
    let handle = chat_server().listen(("127.0.0.1", port)).await?;
    let url = format!("http://{}", handle.local_addr());
    println!("oxsio chat server on {url}");
    println!("live exchange between two demo bots:");
    demo(&url).await?;
    if exit_after_demo {
        handle.shutdown().await;
        println!("demo ok");
        return Ok(());
    }
    println!("\nready for clients — e.g. `cargo run --release --example chat_client -- alice`,");
    println!("or the JS client: io(\"{url}\").emit(\"chat\", \"hi\"). Ctrl-C stops the server.");
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    handle.shutdown().await;
    Ok(())
}
