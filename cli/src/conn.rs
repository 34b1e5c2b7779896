//! What `listen`, `emit` and `bench` share: the connection options, the
//! connect with clear errors, and values ⇄ JSON for the terminal.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::ValueEnum;
use oxsio::Value;
use oxsio::client::{
    Auth, ClientBuilder, ClientError, ClientSocket, Reconnection, RootCerts, TlsOptions,
};
use tokio::sync::mpsc;

use crate::Failure;

/// Which transports the client uses.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum TransportArg {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only.
    Websocket,
    /// Long-polling first, then an upgrade to WebSocket (the JS client's default).
    Upgrade,
}

/// Options of every client subcommand.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ConnArgs {
    /// Server URL: http(s)://host:port[/namespace] (ws:// and wss:// too).
    pub url: String,
    /// Namespace to join (default: the URL's path, else "/").
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Transports to use.
    #[arg(long, short = 't', value_enum, default_value_t = TransportArg::Upgrade)]
    pub transport: TransportArg,
    /// Engine.IO path on the server.
    #[arg(long, default_value = "/socket.io/")]
    pub path: String,
    /// Auth payload sent with the namespace CONNECT, as JSON (e.g. '{"token":"abc"}').
    #[arg(long)]
    pub auth: Option<String>,
    /// Extra CA certificate (PEM file) to trust for https / wss.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<std::path::PathBuf>,
    /// Trust the operating system's certificate store instead of the compiled-in Mozilla roots.
    #[arg(long)]
    pub system_roots: bool,
    /// Accept any TLS certificate (development only: no verification at all).
    #[arg(long)]
    pub insecure: bool,
    /// Seconds to wait for the connection (and for acknowledgements).
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
}

impl ConnArgs {
    pub(crate) fn timeout(&self) -> Result<Duration, Failure> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--timeout {} is not a positive number of seconds",
                    self.timeout
                ))
            })
    }

    /// The URL with the namespace applied.
    pub(crate) fn url(&self) -> Result<String, Failure> {
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| Failure::usage(format!("invalid URL {:?}: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https" | "ws" | "wss") {
            return Err(Failure::usage(format!(
                "invalid URL {:?}: the scheme must be http, https, ws or wss",
                self.url
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Failure::usage(format!(
                "invalid URL {:?}: no host",
                self.url
            )));
        }
        if let Some(ns) = &self.namespace {
            if !ns.starts_with('/') {
                return Err(Failure::usage(format!(
                    "--namespace {ns:?} must start with '/'"
                )));
            }
            url.set_path(ns);
        }
        Ok(url.to_string())
    }

    /// A builder with every option applied (no reconnection: a tool run
    /// either works or says why).
    pub(crate) fn builder(&self) -> Result<ClientBuilder, Failure> {
        let mut b = ClientBuilder::new(self.url()?)
            .path(self.path.clone())
            .reconnection(Reconnection {
                enabled: false,
                ..Default::default()
            })
            .connect_timeout(self.timeout()?)
            .ack_timeout(self.timeout()?)
            .transports(match self.transport {
                TransportArg::Polling => vec![oxsio::Transport::Polling],
                TransportArg::Websocket => vec![oxsio::Transport::Websocket],
                TransportArg::Upgrade => {
                    vec![oxsio::Transport::Polling, oxsio::Transport::Websocket]
                }
            });
        if let Some(auth) = &self.auth {
            let v: serde_json::Value = serde_json::from_str(auth)
                .map_err(|e| Failure::usage(format!("--auth is not JSON: {e}")))?;
            if !v.is_object() {
                return Err(Failure::usage("--auth must be a JSON object"));
            }
            b = b.auth(Auth::Value(Value::from(v)));
        }
        let extra_ca_pem =
            match &self.ca {
                Some(p) => Some(std::fs::read(p).map_err(|e| {
                    Failure::usage(format!("cannot read --ca {}: {e}", p.display()))
                })?),
                None => None,
            };
        b = b.tls(TlsOptions {
            roots: if self.system_roots {
                RootCerts::System
            } else {
                RootCerts::Webpki
            },
            extra_ca_pem,
            accept_invalid_certs: self.insecure,
        });
        Ok(b)
    }
}

/// Connects `b`, failing with the first connect error rather than waiting
/// for the timeout (refused TCP, TLS, HTTP errors, middleware refusals).
pub(crate) async fn connect(args: &ConnArgs, b: ClientBuilder) -> Result<ClientSocket, Failure> {
    connect_built(args, build(b)?).await
}

/// Builds the socket without connecting.
pub(crate) fn build(b: ClientBuilder) -> Result<ClientSocket, Failure> {
    b.build().map_err(|e| match e {
        ClientError::InvalidUrl(m) => Failure::usage(format!("invalid URL: {m}")),
        ClientError::Tls(m) => Failure::usage(format!("TLS settings: {m}")),
        other => Failure::run(other.to_string()),
    })
}

/// Connects a socket made by [`build`], as [`connect`].
pub(crate) async fn connect_built(
    args: &ConnArgs,
    socket: ClientSocket,
) -> Result<ClientSocket, Failure> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    socket.on_connect_error(move |_, e| {
        let _ = tx.send(e.clone());
    });
    let url = args.url.clone();
    let timeout = args.timeout()?;
    let explain = move |e: ClientError| -> Failure {
        match e {
            ClientError::Timeout => Failure::run(format!(
                "cannot connect to {url}: timed out after {:.1} s",
                timeout.as_secs_f64()
            )),
            ClientError::Refused { message, .. } => {
                Failure::run(format!("{url} refused the connection: {message}"))
            }
            ClientError::Connect(m) => Failure::run(format!("cannot connect to {url}: {m}")),
            other => Failure::run(format!("cannot connect to {url}: {other}")),
        }
    };
    tokio::select! {
        r = socket.connect() => r.map_err(&explain)?,
        Some(e) = rx.recv() => {
            socket.disconnect();
            return Err(explain(e));
        }
    }
    Ok(socket)
}

/// A value as JSON for the terminal; binary becomes `{"_binary": base64}`,
/// or goes through `save` (which returns the JSON to print in its place).
pub(crate) fn to_json(
    v: &Value,
    save: &mut dyn FnMut(&[u8]) -> serde_json::Value,
) -> serde_json::Value {
    match v {
        Value::Binary(b) => save(b),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(|x| to_json(x, save)).collect()),
        Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), to_json(x, save)))
                .collect(),
        ),
        other => other.to_json(),
    }
}

/// Binary as base64 in the JSON output.
pub(crate) fn base64_json(b: &[u8]) -> serde_json::Value {
    serde_json::json!({ "_binary": STANDARD.encode(b) })
}

/// An argument from the command line: JSON if it parses, else the string.
pub(crate) fn arg_value(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => Value::from(v),
        Err(_) => Value::from(s),
    }
}

/// A shared, cloneable stop signal (Ctrl-C or SIGTERM).
pub(crate) fn stop_signal() -> Arc<tokio::sync::Notify> {
    let n = Arc::new(tokio::sync::Notify::new());
    let n2 = n.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        n2.notify_waiters();
        n2.notify_one();
    });
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_json_or_strings() {
        assert_eq!(arg_value("1"), Value::from(1));
        assert_eq!(arg_value("hello"), Value::from("hello"));
        assert_eq!(arg_value("\"1\""), Value::from("1"));
        assert_eq!(
            arg_value(r#"{"a":[1,true]}"#),
            Value::from(serde_json::json!({"a":[1,true]}))
        );
    }

    #[test]
    fn binary_nested_anywhere_becomes_base64() {
        let v = Value::Array(vec![
            Value::from(1),
            Value::Object(
                [(
                    "b".to_owned(),
                    Value::Binary(bytes::Bytes::from_static(b"hi")),
                )]
                .into_iter()
                .collect(),
            ),
        ]);
        assert_eq!(
            to_json(&v, &mut |b| base64_json(b)),
            serde_json::json!([1, {"b": {"_binary": "aGk="}}])
        );
    }
}
