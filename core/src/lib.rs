//! oxsio: Socket.IO v5 over Engine.IO v4, speaking the official wire
//! protocol so the JavaScript, Python and other compliant peers interoperate.
//!
//! ```no_run
//! use oxsio::{Server, Socket, Event};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = Server::new();
//!     io.on_connection(|socket: Socket| {
//!         socket.join("lobby");
//!         socket.on("chat", |ev: Event| {
//!             // Everyone in the lobby but the sender.
//!             let _ = ev.socket.to("lobby").emit("chat", ev.args.clone());
//!             if let Some(ack) = ev.ack {
//!                 let _ = ack.send("delivered");
//!             }
//!         });
//!     });
//!     let handle = io.listen("127.0.0.1:3000").await?;
//!     tokio::signal::ctrl_c().await?;
//!     handle.shutdown().await;
//!     Ok(())
//! }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod adapter;
pub mod client;
pub mod codec;
pub mod engineio;
pub(crate) mod metrics;
pub mod runtime;
pub mod sid;
pub mod socketio;
pub mod tls;

pub use codec::value::{Args, IntoArgs, JsonArgs, JsonError, Map, Value};
pub use engineio::{AllowOrigin, AllowedOrigins, Cors, EngineConfig, RequestInfo, Transport};
pub use sid::Sid;
pub use socketio::admin;
pub use socketio::{
    AckError, AckFuture, AckSender, BroadcastError, BroadcastOperator, ConnectError,
    DisconnectReason, EmitError, Event, Handshake, IntoRooms, JoinError, Namespace, RawEvent,
    RecoveryConfig, RemoteSocket, Server, ServerAck, ServerBuilder, ServerEvent, ServerHandle,
    Socket, SocketIoService,
};
