//! The client for plain threads: no async, no runtime to manage. Calls that
//! wait (connect, acknowledgements) block the calling thread with a bound;
//! everything runs on the shared runtime ([`crate::runtime`]).
//!
//! ```no_run
//! use oxsio::client::blocking::Client;
//! use std::time::Duration;
//! let client = Client::connect("http://127.0.0.1:3000", Default::default()).unwrap();
//! client.socket().on("chat", |ev| println!("{:?}", ev.args));
//! client.emit("chat", "hello from a thread").unwrap();
//! let reply = client.emit_with_ack("echo-ack", "ping", Duration::from_secs(5)).unwrap();
//! client.disconnect();
//! ```

use std::future::Future;
use std::time::Duration;

use super::{ClientBuilder, ClientError, ClientOptions, ClientSocket};
use crate::{Args, IntoArgs};

/// Runs `f` on the shared runtime and waits for it on this thread.
///
/// Every future passed here is bounded by its own timeout. Blocking the only
/// thread of a current-thread runtime would deadlock it, so that is refused.
fn block_on<F>(f: F) -> Result<F::Output, ClientError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if crate::runtime::on_current_thread_runtime() {
        return Err(ClientError::BlockingInAsync);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    crate::runtime::shared().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().map_err(|_| ClientError::Closed)
}

/// A blocking client socket. Safe to share between threads.
#[derive(Clone, Debug)]
pub struct Client {
    socket: ClientSocket,
}

impl Client {
    /// Connects to `url` (its path names the namespace) and waits until joined.
    ///
    /// # Errors
    /// Invalid URL, refusal, timeout, or called from an async context.
    pub fn connect(url: &str, opts: ClientOptions) -> Result<Client, ClientError> {
        Self::connect_with(ClientBuilder::new(url).options(opts))
    }

    /// Connects with a prepared builder (auth, handlers registered before connecting).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_with(builder: ClientBuilder) -> Result<Client, ClientError> {
        let socket = builder.build()?;
        let s = socket.clone();
        block_on(async move { s.connect().await })??;
        Ok(Client { socket })
    }

    /// Wraps a socket (e.g. from a [`Manager`](super::Manager)).
    pub fn from_socket(socket: ClientSocket) -> Client {
        Client { socket }
    }

    /// The underlying socket (handlers, status).
    pub fn socket(&self) -> &ClientSocket {
        &self.socket
    }

    /// Sends an event (never blocks; buffered while disconnected).
    ///
    /// # Errors
    /// See [`ClientSocket::emit`].
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), ClientError> {
        self.socket.emit(event, args)
    }

    /// Sends the `message` event.
    ///
    /// # Errors
    /// See [`ClientSocket::emit`].
    pub fn send(&self, args: impl IntoArgs) -> Result<(), ClientError> {
        self.socket.send(args)
    }

    /// Sends an event and blocks until the acknowledgement or `timeout`.
    ///
    /// # Errors
    /// [`ClientError::Timeout`], send errors, or called from an async context.
    pub fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Args, ClientError> {
        block_on(self.socket.emit_with_ack_timeout(event, args, timeout))?
    }

    /// Blocks until the socket is connected again or `timeout` passes.
    ///
    /// # Errors
    /// Refusal, timeout, or called from an async context.
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), ClientError> {
        let s = self.socket.clone();
        block_on(async move { s.connect_timeout(timeout).await })?
    }

    /// True while connected.
    pub fn connected(&self) -> bool {
        self.socket.connected()
    }

    /// True when the last connection recovered the previous session
    /// (see [`ClientSocket::recovered`](super::ClientSocket::recovered)).
    pub fn recovered(&self) -> bool {
        self.socket.recovered()
    }

    /// Leaves the namespace and closes the connection when unused (never blocks).
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }
}
