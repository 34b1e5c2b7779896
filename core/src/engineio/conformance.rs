//! The server's WebSocket as a plain echo endpoint, for conformance
//! suites such as the Autobahn|Testsuite (`tests/autobahn/run.sh`).
//!
//! An Engine.IO connection reads its text messages as Engine.IO packets,
//! which a WebSocket test suite does not speak. [`serve_echo`] runs the
//! very same connection code (frame parsing and checks, fragments, control
//! frames, the close handshake, limits, permessage-deflate) with an echo
//! in place of the engine: every message comes back as it arrived.
//!
//! Only built with the `conformance` feature; not meant for applications.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! // Messages up to 16 MiB, permessage-deflate from 0 bytes when offered.
//! oxsio::engineio::conformance::serve_echo(listener, 16 << 20, Some(0)).await
//! # }
//! ```

use std::convert::Infallible;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// Accepts WebSocket connections on `listener` and echoes each message
/// back. Messages (and frames) larger than `max_payload` bytes are refused
/// with close code 1009, as an Engine.IO connection refuses them past its
/// `maxPayload`. `per_message_deflate` is the compression threshold when
/// the extension is on (as `ServerBuilder::per_message_deflate`), `None`
/// to decline it. Any request that is not a WebSocket upgrade gets 400.
///
/// # Errors
/// Only when accepting a connection fails; runs until then.
pub async fn serve_echo(
    listener: TcpListener,
    max_payload: usize,
    per_message_deflate: Option<usize>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| async move {
                Ok::<_, Infallible>(super::websocket::echo_upgrade(
                    req,
                    max_payload,
                    per_message_deflate,
                ))
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            let _ = conn.await;
        });
    }
}
