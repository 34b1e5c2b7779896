//! The demo chat server: rooms, broadcasts, acknowledgements and binary
//! images on 127.0.0.1:3000 (`PORT` or `--port` overrides; 0 picks a free
//! port). It also serves a chat page for the browser at `/`. Two built-in
//! bots chat for a moment so you can see it work; then any Socket.IO client
//! can join.
//!
//! ```text
//! cargo run --release -p oxsio-demo [-- --client-bundle PATH] [--port N] [--exit-after-demo]
//! cargo run --release -p oxsio-demo --bin chat_client -- alice     # in another terminal
//! ```
//!
//! The page loads the official browser client from
//! `/socket.io/socket.io.min.js`, which this server answers with the file
//! given by `--client-bundle` (`socket.io-client/dist/socket.io.min.js` of the
//! npm package, as the Node server's `serveClient` does). Without it the page
//! says how to get one.
//!
//! Protocol of the app (any client):
//! - `nick` (name, ack) → sets your name; ack(`"ok"`, name)
//! - `join` (room, ack) → leaves your room, joins `room`; ack(`"joined"`, room);
//!   the people of both rooms get a `notice` {text, room}
//! - `chat` (text, ack) → `chat` {from, room, text} to everyone else in your room;
//!   ack(`"delivered"`, number of other people in the room)
//! - `image` ({type, data: binary}, ack) → `image` {from, room, type, data} to
//!   everyone else in your room; ack(`"delivered"`, number of others)
//! - on connect you are in room `lobby` and get `welcome` {id, nick, room, online}.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use oxsio::client::{ClientBuilder, ClientEvent};
use oxsio::engineio::RemoteAddr;
use oxsio::{Event, Map, Server, Socket, Value};
use serde_json::json;
use tokio::net::TcpListener;

/// The browser chat page (HTML, CSS and script in one file).
const CHAT_PAGE: &str = include_str!("chat.html");

/// Largest image the server relays (the page refuses bigger ones first);
/// below the default `maxPayload` of 1 000 000 bytes.
const MAX_IMAGE: usize = 900_000;

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
            json!({"id": socket.id().as_str(), "nick": profile.nick, "room": "lobby", "online": online}),
        );
        println!("  server: {} connected ({} online)", profile.nick, online);

        socket.on("nick", |ev: Event| {
            let Some(mut p) = ev.socket.get::<Profile>() else {
                return;
            };
            p.nick = ev
                .arg(0)
                .as_str()
                .map(str::trim)
                .filter(|n| !n.is_empty())
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
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .unwrap_or("lobby")
                .chars()
                .take(64)
                .collect();
            if room != p.room {
                ev.socket.leave(&p.room);
                let _ = ev.socket.to(p.room.as_str()).emit(
                    "notice",
                    json!({"room": p.room, "text": format!("{} left #{}", p.nick, p.room)}),
                );
                ev.socket.join(room.as_str());
                let _ = ev.socket.to(room.as_str()).emit(
                    "notice",
                    json!({"room": room, "text": format!("{} joined #{}", p.nick, room)}),
                );
                p.room = room.clone();
                ev.socket.insert(p);
            }
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
                let others = others_in_room(&io, &p.room).await;
                if let Some(ack) = ev.ack {
                    let _ = ack.send(("delivered", others));
                }
            }
        });
        let io4 = io2.clone();
        socket.on_async("image", move |ev: Event| {
            let io = io4.clone();
            async move {
                let Some(p) = ev.socket.get::<Profile>() else {
                    return;
                };
                let msg = ev.arg(0);
                let (Some(data), Some(kind)) = (msg["data"].as_bytes(), msg["type"].as_str())
                else {
                    if let Some(ack) = ev.ack {
                        let _ = ack.send(("refused", "expected {type, data: binary}"));
                    }
                    return;
                };
                if data.len() > MAX_IMAGE || !kind.starts_with("image/") {
                    if let Some(ack) = ev.ack {
                        let _ = ack.send(("refused", "not an image of at most 900 KB"));
                    }
                    return;
                }
                let mut out = Map::new();
                out.insert("from".into(), Value::from(p.nick.as_str()));
                out.insert("room".into(), Value::from(p.room.as_str()));
                out.insert("type".into(), Value::from(kind));
                out.insert("data".into(), Value::Binary(data.clone()));
                let _ = ev
                    .socket
                    .to(p.room.as_str())
                    .emit("image", Value::Object(out));
                let others = others_in_room(&io, &p.room).await;
                if let Some(ack) = ev.ack {
                    let _ = ack.send(("delivered", others));
                }
            }
        });
        socket.on_disconnect(|s, reason| {
            let Some(p) = s.get::<Profile>() else {
                return;
            };
            let _ = s.to(p.room.as_str()).emit(
                "notice",
                json!({"room": p.room, "text": format!("{} left", p.nick)}),
            );
            println!("  server: {} left ({reason})", p.nick);
        });
    });
    io
}

/// How many sockets besides the sender are in `room`.
async fn others_in_room(io: &Server, room: &str) -> usize {
    io.to(room).fetch_sockets().await.len().saturating_sub(1)
}

/// The HTTP side: the page at `/`, the client bundle, and Socket.IO under
/// `/socket.io/`.
#[derive(Clone)]
struct Site {
    io: Server,
    bundle: Option<Bytes>,
    bundle_map: Option<Bytes>,
}

impl Site {
    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        match req.uri().path() {
            "/" | "/index.html" if get => file(CHAT_PAGE.into(), "text/html; charset=utf-8"),
            "/socket.io/socket.io.min.js" if get => match &self.bundle {
                Some(js) => file(js.clone(), "application/javascript; charset=utf-8"),
                None => not_found(),
            },
            "/socket.io/socket.io.min.js.map" if get => match &self.bundle_map {
                Some(map) => file(map.clone(), "application/json"),
                None => not_found(),
            },
            _ => self.io.handle(req).await,
        }
    }
}

fn file(body: Bytes, kind: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    res.headers_mut()
        .insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(kind));
    res.headers_mut().insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    res
}

fn not_found() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"Not Found")));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// Accepts connections until the task is aborted.
async fn serve(listener: TcpListener, site: Site) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let site = site.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(RemoteAddr(peer));
                let site = site.clone();
                async move { Ok::<_, Infallible>(site.answer(req).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
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

struct Options {
    port: u16,
    exit_after_demo: bool,
    client_bundle: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        port: match std::env::var("PORT") {
            Ok(p) => p.parse().map_err(|_| format!("PORT={p}: not a port"))?,
            Err(_) => 3000,
        },
        exit_after_demo: false,
        client_bundle: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exit-after-demo" => opts.exit_after_demo = true,
            "--client-bundle" => {
                opts.client_bundle =
                    Some(args.next().ok_or("--client-bundle needs a path")?.into());
            }
            "--port" => {
                let p = args.next().ok_or("--port needs a number")?;
                opts.port = p.parse().map_err(|_| format!("--port {p}: not a port"))?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: oxsio-demo [--port N] [--client-bundle PATH] [--exit-after-demo]\n\
                     \n  --port N              listen on 127.0.0.1:N (default 3000, or PORT; 0 = any free port)\
                     \n  --client-bundle PATH  serve this socket.io.min.js (npm socket.io-client, dist/) to the page\
                     \n  --exit-after-demo     stop after the bots' exchange"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(opts)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = options()?;
    let (bundle, bundle_map) = match &opts.client_bundle {
        Some(path) => {
            let js = std::fs::read(path)
                .map_err(|e| format!("--client-bundle {}: {e}", path.display()))?;
            let mut map_path = path.clone().into_os_string();
            map_path.push(".map");
            let map = std::fs::read(&map_path).ok().map(Bytes::from);
            (Some(Bytes::from(js)), map)
        }
        None => (None, None),
    };
    let io = chat_server();
    let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let site = Site {
        io: io.clone(),
        bundle,
        bundle_map,
    };
    let server = tokio::spawn(serve(listener, site.clone()));
    let url = format!("http://{addr}");
    println!("oxsio chat server on {url}");
    println!("live exchange between two demo bots:");
    demo(&url).await?;
    if opts.exit_after_demo {
        io.shutdown().await;
        server.abort();
        println!("demo ok");
        return Ok(());
    }
    println!("\nready for clients:");
    match &site.bundle {
        Some(_) => println!("  open {url}/ in two browser tabs (the chat page)"),
        None => println!(
            "  the chat page at {url}/ needs the official browser client: restart with\n  \
             --client-bundle node_modules/socket.io-client/dist/socket.io.min.js (npm install socket.io-client)"
        ),
    }
    println!(
        "  or `cargo run --release -p oxsio-demo --bin chat_client -- alice`. Ctrl-C stops the server."
    );
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    io.shutdown().await;
    server.abort();
    Ok(())
}
