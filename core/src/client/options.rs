//! Client options, with the JavaScript client's defaults.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::HeaderMap;

use super::tls::TlsOptions;
use crate::Value;
use crate::engineio::Transport;

/// The auth payload sent with each namespace CONNECT: a fixed value, or a
/// provider called before every connection attempt (so tokens can be
/// refreshed on reconnect).
#[derive(Clone, Default)]
pub enum Auth {
    /// No auth payload.
    #[default]
    None,
    /// The same value every time.
    Value(Value),
    /// Called before every attempt.
    Provider(Arc<dyn Fn() -> BoxFuture<'static, Value> + Send + Sync>),
}

impl Auth {
    /// A provider from a synchronous function.
    pub fn from_fn(f: impl Fn() -> Value + Send + Sync + 'static) -> Auth {
        let f = Arc::new(f);
        Auth::Provider(Arc::new(move || {
            let v = f();
            async move { v }.boxed()
        }))
    }

    /// A provider from an async function.
    pub fn from_async<F, Fut>(f: F) -> Auth
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Value> + Send + 'static,
    {
        Auth::Provider(Arc::new(move || f().boxed()))
    }

    pub(crate) async fn resolve(&self) -> Option<Value> {
        match self {
            Auth::None => None,
            Auth::Value(v) => Some(v.clone()),
            Auth::Provider(f) => Some(f().await),
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Auth::Provider(_) => f.write_str("Provider(..)"),
        }
    }
}

impl<T: Into<Value>> From<T> for Auth {
    fn from(v: T) -> Self {
        Auth::Value(v.into())
    }
}

/// Reconnection policy: exponential backoff with jitter, as the JS client.
#[derive(Debug, Clone)]
pub struct Reconnection {
    /// Reconnect automatically (default true).
    pub enabled: bool,
    /// Give up after this many attempts (default: never).
    pub attempts: Option<u32>,
    /// First delay (default 1 s).
    pub delay: Duration,
    /// Largest delay (default 5 s).
    pub delay_max: Duration,
    /// Jitter in 0..=1 (default 0.5).
    pub randomization_factor: f64,
}

impl Default for Reconnection {
    fn default() -> Self {
        Reconnection {
            enabled: true,
            attempts: None,
            delay: Duration::from_secs(1),
            delay_max: Duration::from_secs(5),
            randomization_factor: 0.5,
        }
    }
}

impl Reconnection {
    /// The delay before attempt `attempt` (1-based), as the JS client's `Backoff`.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let base = self.delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let jitter = self.randomization_factor.clamp(0.0, 1.0);
        let ms = if jitter > 0.0 {
            let r: f64 = rand::random();
            let deviation = (r * jitter * base).floor().max(0.0);
            if rand::random::<bool>() {
                base - deviation
            } else {
                base + deviation
            }
        } else {
            base
        };
        Duration::from_secs_f64(ms.max(0.0)).min(self.delay_max)
    }
}

/// Bounds of the offline buffer (emits made while disconnected).
#[derive(Debug, Clone)]
pub struct Buffering {
    /// Queue emits while disconnected (default true); when false, emits
    /// while disconnected fail with `NotConnected`.
    pub enabled: bool,
    /// Most queued packets (default 1024).
    pub max_packets: usize,
    /// Most queued bytes (default 16 MiB).
    pub max_bytes: usize,
}

impl Default for Buffering {
    fn default() -> Self {
        Buffering {
            enabled: true,
            max_packets: 1024,
            max_bytes: 16 << 20,
        }
    }
}

/// Options of a client connection (a manager and its sockets).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// HTTP path (default `/socket.io/`).
    pub path: String,
    /// Extra query parameters.
    pub query: Vec<(String, String)>,
    /// Extra HTTP headers (handshake and every polling request).
    pub headers: HeaderMap,
    /// Transports in order of use (default polling, then upgrade to websocket).
    pub transports: Vec<Transport>,
    /// Upgrade from polling to WebSocket when possible (default true).
    pub upgrade: bool,
    /// Time allowed for a connection attempt (default 20 s).
    pub connect_timeout: Duration,
    /// Reconnection policy.
    pub reconnection: Reconnection,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Offline buffer bounds.
    pub buffering: Buffering,
    /// Default acknowledgement timeout (default 10 s); with `retries`, the
    /// time each try waits for the server's acknowledgement.
    pub ack_timeout: Duration,
    /// Retries of each emit (the JS client's `retries`; default 0: off).
    /// When above 0, every emit that is not volatile goes through a queue:
    /// packets are sent one at a time, each with an acknowledgement
    /// request, and sent again (also after a reconnection) until the server
    /// acknowledges it or `retries` more tries have failed. Delivery is
    /// then at least once: a packet whose acknowledgement was lost is sent
    /// again, so the server may see it twice. The server must acknowledge
    /// every event (its handler calls the ack), or each one is retried.
    /// The queue holds at most [`Buffering::max_packets`] packets.
    pub retries: u32,
    /// Retry namespaces refused by the server's middleware at each
    /// reconnection (default false: a refusal is final until `connect()`).
    pub retry_refused: bool,
    /// Outgoing queue size of the connection (default 1024 packets).
    pub queue_size: usize,
    /// Most binary attachments in one received packet (default 10, as the
    /// server); a packet with more closes the connection as a parse error.
    pub max_attachments: usize,
    /// Deepest JSON nesting accepted in a received packet (default 128, at
    /// most 512); a deeper packet closes the connection as a parse error.
    /// With [`Parser::MsgPack`](crate::codec::Parser::MsgPack) it bounds
    /// the arrays and maps of a packet's `data` the same way.
    pub max_json_depth: usize,
    /// Largest WebSocket message accepted from the server, counted after
    /// decompression (default 100 MiB, as Node's `ws`); a larger one
    /// closes the connection with 1009. The server's own `maxPayload`,
    /// which bounds what the client sends, comes in its handshake.
    pub max_payload: usize,
    /// Offer permessage-deflate on WebSocket and compress messages of at
    /// least this many bytes once the server agrees (default `None`: not
    /// offered; the JS client offers it with a threshold of 1024). Each
    /// message is compressed on its own (no context takeover), so the
    /// connection keeps no compression state between messages.
    pub per_message_deflate: Option<usize>,
    /// Speak the protocol of Socket.IO 2.x servers (Engine.IO 3, Socket.IO
    /// protocol 4) instead of the current one (default false). The main
    /// namespace is then joined by the server itself, the `auth` of other
    /// namespaces goes as their query (string values), the client sends
    /// the pings, and polling payloads use base64 for binary (`b64=1`).
    pub eio3: bool,
    /// The packet parser (default [`Parser::Json`](crate::codec::Parser::Json));
    /// it must be the server's. [`Parser::MsgPack`](crate::codec::Parser::MsgPack)
    /// speaks to a Node server created with
    /// `parser: require("socket.io-msgpack-parser")` or python-socketio with
    /// `serializer="msgpack"`; `max_attachments` does not apply to it.
    pub parser: crate::codec::Parser,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            path: "/socket.io/".into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            transports: vec![Transport::Polling, Transport::Websocket],
            upgrade: true,
            connect_timeout: Duration::from_secs(20),
            reconnection: Reconnection::default(),
            tls: TlsOptions::default(),
            buffering: Buffering::default(),
            ack_timeout: Duration::from_secs(10),
            retries: 0,
            retry_refused: false,
            queue_size: 1024,
            max_attachments: crate::codec::socketio::DEFAULT_MAX_ATTACHMENTS,
            max_json_depth: crate::codec::socketio::DEFAULT_MAX_JSON_DEPTH,
            max_payload: 100 << 20,
            per_message_deflate: None,
            eio3: false,
            parser: crate::codec::Parser::Json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = Reconnection {
            randomization_factor: 0.0,
            ..Default::default()
        };
        assert_eq!(r.delay_for(1), Duration::from_secs(1));
        assert_eq!(r.delay_for(2), Duration::from_secs(2));
        assert_eq!(r.delay_for(3), Duration::from_secs(4));
        assert_eq!(r.delay_for(4), Duration::from_secs(5));
        assert_eq!(r.delay_for(100), Duration::from_secs(5));
        let j = Reconnection::default();
        for _ in 0..100 {
            let d = j.delay_for(1);
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(1500),
                "{d:?}"
            );
        }
    }
}
