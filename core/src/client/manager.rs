//! The manager: one Engine.IO connection shared by several namespaces,
//! with reconnection (exponential backoff with jitter, as the JS client).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::engine::{self, EngineClose, EngineEvent, EngineHandle, Target};
use super::error::ClientError;
use super::options::{Auth, ClientOptions};
use super::socket::{ClientDisconnectReason, ClientSocket, Link};
use crate::codec::socketio::{Packet, PacketData};

pub(crate) enum Cmd {
    Connect(String),
    Disconnect,
    Close,
}

type AttemptFn = Arc<dyn Fn(u32) + Send + Sync>;
type ErrFn = Arc<dyn Fn(&ClientError) + Send + Sync>;
type UnitFn = Arc<dyn Fn() + Send + Sync>;

#[derive(Default, Clone)]
struct Handlers {
    reconnect_attempt: Vec<AttemptFn>,
    reconnect: Vec<AttemptFn>,
    reconnect_error: Vec<ErrFn>,
    reconnect_failed: Vec<UnitFn>,
}

pub(crate) struct ManagerInner {
    pub(crate) opts: ClientOptions,
    target: Arc<Target>,
    sockets: Mutex<Vec<std::sync::Weak<super::socket::SocketInner>>>,
    cmd_tx: Mutex<Option<mpsc::UnboundedSender<Cmd>>>,
    link: Mutex<Option<Link>>,
    last_max_payload: Mutex<Option<usize>>,
    handlers: Mutex<Handlers>,
    running: AtomicBool,
}

impl ManagerInner {
    pub(crate) fn link(&self) -> Option<Link> {
        self.link.lock().ok()?.clone()
    }

    pub(crate) fn max_payload(&self) -> Option<usize> {
        *self.last_max_payload.lock().ok()?
    }

    /// The live sockets (a socket whose every handle was dropped is gone).
    fn sockets(&self) -> Vec<ClientSocket> {
        let Ok(mut list) = self.sockets.lock() else {
            return Vec::new();
        };
        list.retain(|w| w.strong_count() > 0);
        list.iter()
            .filter_map(|w| w.upgrade().map(ClientSocket))
            .collect()
    }

    fn handlers(&self) -> Handlers {
        self.handlers.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// Sends a command to the connection task, starting it if needed.
    pub(crate) fn command(self: &Arc<Self>, cmd: Cmd) {
        let Ok(mut guard) = self.cmd_tx.lock() else {
            return;
        };
        let cmd = match guard.as_ref() {
            Some(tx) => match tx.send(cmd) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => cmd,
        };
        *guard = None;
        if matches!(cmd, Cmd::Disconnect | Cmd::Close) {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        *guard = Some(tx);
        drop(guard);
        self.running.store(true, Ordering::Release);
        let me = self.clone();
        crate::runtime::spawn(async move {
            run(me.clone(), rx).await;
            // Our receiver is gone, so our sender reports closed; a newer task's does not.
            if let Ok(mut g) = me.cmd_tx.lock()
                && g.as_ref().is_some_and(mpsc::UnboundedSender::is_closed)
            {
                *g = None;
                me.running.store(false, Ordering::Release);
            }
        });
    }
}

/// A connection to a server, shared by the sockets of several namespaces
/// (`manager.socket("/chat")`).
///
/// ```no_run
/// # async fn run() -> Result<(), oxsio::client::ClientError> {
/// use oxsio::client::Manager;
/// let manager = Manager::new("http://127.0.0.1:3000", Default::default())?;
/// let main = manager.socket("/");
/// let admin = manager.socket_with_auth("/admin", serde_json::json!({"token": "t"}));
/// main.on("chat", |ev| println!("chat: {:?}", ev.args));
/// main.connect().await?;
/// admin.connect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Manager(pub(crate) Arc<ManagerInner>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("host", &self.0.target.host)
            .field("port", &self.0.target.port)
            .finish()
    }
}

impl Manager {
    /// A manager for `url` (`http`, `https`, `ws` or `wss`). Nothing
    /// connects until a socket does. The URL's path is ignored here; see
    /// [`ClientBuilder`](super::ClientBuilder) for URL namespaces.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] or [`ClientError::Tls`] (bad CA file).
    pub fn new(url: &str, opts: ClientOptions) -> Result<Manager, ClientError> {
        let (target, _) = super::parse_target(url, &opts)?;
        Ok(Manager(Arc::new(ManagerInner {
            opts,
            target: Arc::new(target),
            sockets: Mutex::new(Vec::new()),
            cmd_tx: Mutex::new(None),
            link: Mutex::new(None),
            last_max_payload: Mutex::new(None),
            handlers: Mutex::new(Handlers::default()),
            running: AtomicBool::new(false),
        })))
    }

    /// The socket of namespace `nsp` (the same one on every call).
    pub fn socket(&self, nsp: &str) -> ClientSocket {
        self.socket_with_auth(nsp, Auth::None)
    }

    /// The socket of `nsp`, created with this auth if it does not exist yet.
    pub fn socket_with_auth(&self, nsp: &str, auth: impl Into<Auth>) -> ClientSocket {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        if let Some(s) = self.0.sockets().into_iter().find(|s| s.nsp() == nsp) {
            return s;
        }
        let s = ClientSocket::new(nsp, auth.into(), self.0.clone());
        if let Ok(mut list) = self.0.sockets.lock() {
            list.push(Arc::downgrade(&s.0));
        }
        s
    }

    /// Called before each reconnection attempt, with its number.
    pub fn on_reconnect_attempt(&self, f: impl Fn(u32) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.handlers.lock() {
            h.reconnect_attempt.push(Arc::new(f));
        }
    }

    /// Called after a successful reconnection, with the number of attempts.
    pub fn on_reconnect(&self, f: impl Fn(u32) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.handlers.lock() {
            h.reconnect.push(Arc::new(f));
        }
    }

    /// Called when a reconnection attempt fails.
    pub fn on_reconnect_error(&self, f: impl Fn(&ClientError) + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.handlers.lock() {
            h.reconnect_error.push(Arc::new(f));
        }
    }

    /// Called when the manager gives up (attempt limit reached).
    pub fn on_reconnect_failed(&self, f: impl Fn() + Send + Sync + 'static) {
        if let Ok(mut h) = self.0.handlers.lock() {
            h.reconnect_failed.push(Arc::new(f));
        }
    }

    /// Closes the connection (every namespace) after flushing queued packets.
    pub fn close(&self) {
        for s in self.0.sockets() {
            s.disconnect();
        }
        self.0.command(Cmd::Close);
    }

    /// True while the connection task runs (connected or reconnecting).
    pub fn is_active(&self) -> bool {
        self.0.running.load(Ordering::Acquire)
    }

    /// Options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.0.opts
    }
}

fn reason_of(close: &EngineClose) -> ClientDisconnectReason {
    match close {
        EngineClose::TransportClose => ClientDisconnectReason::TransportClose,
        EngineClose::TransportError(_) => ClientDisconnectReason::TransportError,
        EngineClose::PingTimeout => ClientDisconnectReason::PingTimeout,
        EngineClose::ParseError => ClientDisconnectReason::ParseError,
        EngineClose::Client => ClientDisconnectReason::IoClientDisconnect,
    }
}

fn any_wanted(inner: &ManagerInner) -> bool {
    inner.sockets().iter().any(ClientSocket::wanted)
}

/// The connection task: connect, serve, and reconnect with backoff.
async fn run(inner: Arc<ManagerInner>, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut attempt: u32 = 0;
    loop {
        if !any_wanted(&inner) {
            return;
        }
        let connected = tokio::time::timeout(
            inner.opts.connect_timeout,
            engine::connect(inner.target.clone(), inner.opts.queue_size),
        )
        .await;
        let failure = match connected {
            Ok(Ok((handle, events))) => {
                if attempt > 0 {
                    for f in inner.handlers().reconnect {
                        f(attempt);
                    }
                }
                attempt = 0;
                let close = serve(&inner, handle, events, &mut cmds).await;
                if let Ok(mut l) = inner.link.lock() {
                    *l = None;
                }
                let reason = reason_of(&close);
                for s in inner.sockets() {
                    s.on_link_lost(reason);
                }
                if close == EngineClose::Client || !inner.opts.reconnection.enabled {
                    if !inner.opts.reconnection.enabled {
                        for s in inner.sockets() {
                            if s.wanted() {
                                s.disconnect();
                            }
                        }
                    }
                    return;
                }
                None
            }
            Ok(Err(e)) => Some(e),
            Err(_) => Some(ClientError::Timeout),
        };
        if let Some(err) = failure {
            if attempt == 0 {
                for s in inner.sockets().into_iter().filter(ClientSocket::wanted) {
                    s.fail_connect(err.clone(), !inner.opts.reconnection.enabled);
                }
            } else {
                for f in inner.handlers().reconnect_error {
                    f(&err);
                }
            }
            if !inner.opts.reconnection.enabled {
                return;
            }
        }
        attempt += 1;
        if inner
            .opts
            .reconnection
            .attempts
            .is_some_and(|max| attempt > max)
        {
            for f in inner.handlers().reconnect_failed {
                f();
            }
            for s in inner.sockets().into_iter().filter(ClientSocket::wanted) {
                s.fail_connect(ClientError::Timeout, true);
            }
            return;
        }
        for f in inner.handlers().reconnect_attempt {
            f(attempt);
        }
        let delay = tokio::time::sleep(inner.opts.reconnection.delay_for(attempt));
        tokio::pin!(delay);
        loop {
            tokio::select! {
                () = &mut delay => break,
                cmd = cmds.recv() => match cmd {
                    None | Some(Cmd::Close) => return,
                    Some(Cmd::Disconnect) if !any_wanted(&inner) => return,
                    Some(_) => {}
                },
            }
        }
    }
}

async fn send_connect(handle: &EngineHandle, socket: &ClientSocket) {
    let auth = socket.0.auth.resolve().await;
    if auth
        .as_ref()
        .is_some_and(|a| !matches!(a, crate::Value::Object(_) | crate::Value::Null))
    {
        // The protocol only allows an object; the server would drop the connection.
        socket.fail_connect(
            ClientError::Protocol("the auth payload must be a JSON object".into()),
            true,
        );
        return;
    }
    let mut auth = auth.filter(|a| !a.is_null());
    if socket.0.manager.opts.eio3 {
        // A 2.x server joins `/` itself; other namespaces carry the auth as
        // their query (`/chat?token=abc`), string values as they are.
        if socket.nsp() == "/" {
            return;
        }
        let mut nsp = socket.nsp().to_owned();
        if let Some(crate::Value::Object(a)) = &auth {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in a {
                match v {
                    crate::Value::String(s) => q.append_pair(k, s),
                    other => q.append_pair(k, &other.to_json().to_string()),
                };
            }
            let q = q.finish();
            if !q.is_empty() {
                nsp.push('?');
                nsp.push_str(&q);
            }
        }
        let packet = Packet {
            nsp,
            data: PacketData::Connect(None),
        };
        let _ = handle
            .tx
            .send(crate::socketio::encode_message(&packet))
            .await;
        return;
    }
    if let Some((pid, offset)) = socket.recovery_offer() {
        // As the official client: `{pid, offset, ...auth}` (the app's keys win).
        let mut offer = crate::Map::new();
        offer.insert("pid".into(), crate::Value::from(pid));
        if let Some(o) = offset {
            offer.insert("offset".into(), crate::Value::from(o));
        }
        if let Some(crate::Value::Object(a)) = auth.take() {
            for (k, v) in a {
                offer.insert(k, v);
            }
        }
        auth = Some(crate::Value::Object(offer));
    }
    let packet = Packet {
        nsp: socket.nsp().to_owned(),
        data: PacketData::Connect(auth),
    };
    let _ = handle
        .tx
        .send(crate::socketio::encode_message_with(
            socket.0.manager.opts.parser,
            &packet,
        ))
        .await;
}

/// Serves one live connection until it closes.
async fn serve(
    inner: &Arc<ManagerInner>,
    handle: EngineHandle,
    mut events: mpsc::Receiver<EngineEvent>,
    cmds: &mut mpsc::UnboundedReceiver<Cmd>,
) -> EngineClose {
    let link = Link {
        tx: handle.tx.clone(),
        max_payload: handle.open.max_payload,
        on_websocket: handle.open.on_websocket.clone(),
        engine_sid: handle.open.sid.as_str().into(),
    };
    if let Ok(mut l) = inner.link.lock() {
        *l = Some(link);
    }
    if let Ok(mut m) = inner.last_max_payload.lock() {
        *m = Some(handle.open.max_payload);
    }
    // Namespaces whose CONNECT is on this link and not yet answered: a queued
    // `Connect` command for them must not send a second one (servers refuse it).
    let mut awaiting: std::collections::HashSet<String> = std::collections::HashSet::new();
    for s in inner.sockets().into_iter().filter(ClientSocket::wanted) {
        send_connect(&handle, &s).await;
        awaiting.insert(s.nsp().to_owned());
    }
    let mut decoder = inner
        .opts
        .parser
        .decoder(inner.opts.max_attachments, inner.opts.max_json_depth);
    let mut closing = false;
    loop {
        tokio::select! {
            ev = events.recv() => {
                if !closing && inner.sockets().is_empty() {
                    // Every socket handle was dropped: nobody is listening.
                    closing = true;
                    handle.close.set();
                }
                let decoded = match ev {
                    Some(EngineEvent::Text(t)) => decoder.decode_text(&t),
                    Some(EngineEvent::Binary(b)) => decoder.decode_binary(b),
                    Some(EngineEvent::Closed(why)) => return if closing { EngineClose::Client } else { why },
                    None => return EngineClose::TransportClose,
                };
                match decoded {
                    Ok(Some(packet)) => {
                        if matches!(packet.data, PacketData::Connect(_) | PacketData::ConnectError(_) | PacketData::Disconnect) {
                            awaiting.remove(&packet.nsp);
                        }
                        let socket = inner.sockets().into_iter().find(|s| s.nsp() == packet.nsp);
                        if let Some(s) = socket {
                            s.on_packet(packet);
                        }
                        // The server removed or refused the last namespace in use:
                        // close the connection, as the JS manager does.
                        if !closing && !any_wanted(inner) {
                            closing = true;
                            handle.close.set();
                        }
                    }
                    Ok(None) => {}
                    Err(_) if inner.sockets().is_empty() => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "invalid packet from the server");
                        handle.close.set();
                        return EngineClose::ParseError;
                    }
                }
            }
            cmd = cmds.recv(), if !closing => match cmd {
                Some(Cmd::Connect(nsp)) => {
                    if let Some(s) = inner.sockets().into_iter().find(|s| s.nsp() == nsp)
                        && !s.connected()
                        && !awaiting.contains(&nsp)
                    {
                        send_connect(&handle, &s).await;
                        awaiting.insert(nsp);
                    }
                }
                Some(Cmd::Disconnect) => {
                    if !any_wanted(inner) {
                        closing = true;
                        handle.close.set();
                    }
                }
                Some(Cmd::Close) | None => {
                    closing = true;
                    handle.close.set();
                }
            },
        }
    }
}
