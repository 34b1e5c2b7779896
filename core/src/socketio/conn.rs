//! Per-connection state: the packet decoder and the namespaces joined over
//! one Engine.IO session, and the official server's state machine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::error::DisconnectReason;
use super::server::ServerState;
use super::socket::Socket;
use crate::Value;
use crate::codec::PacketDecoder;
use crate::codec::socketio::{Packet, PacketData};
use crate::engineio::session::Signal;
use crate::engineio::{CloseReason, Incoming, RequestInfo, Session};

pub(crate) struct Conn {
    session: Arc<Session>,
    state: Arc<ServerState>,
    info: RequestInfo,
    decoder: Mutex<PacketDecoder>,
    /// Namespaces joined or joining, with their socket.
    sockets: Mutex<Vec<(Arc<str>, Socket)>>,
    pub(crate) joined: Signal,
    /// Some socket of this connection takes events as JSON text.
    raw: AtomicBool,
}

impl Conn {
    pub(crate) fn new(session: Arc<Session>, state: Arc<ServerState>, info: RequestInfo) -> Conn {
        let common = &state.common;
        let decoder = common
            .parser
            .decoder(common.max_attachments, common.max_json_depth);
        Conn {
            session,
            state,
            info,
            decoder: Mutex::new(decoder),
            sockets: Mutex::new(Vec::new()),
            joined: Signal::default(),
            raw: AtomicBool::new(false),
        }
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub(crate) fn info(&self) -> &RequestInfo {
        &self.info
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<str>, Socket)>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn track(&self, nsp: Arc<str>, socket: Socket) {
        self.sockets().push((nsp, socket));
    }

    pub(crate) fn forget(&self, nsp: &str) {
        self.sockets().retain(|(n, _)| &**n != nsp);
    }

    /// The sockets of this connection, one per namespace joined or joining.
    pub(crate) fn sockets_snapshot(&self) -> Vec<Socket> {
        self.sockets().iter().map(|(_, s)| s.clone()).collect()
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.sockets()
            .iter()
            .find(|(n, _)| &**n == nsp)
            .map(|(_, s)| s.clone())
    }

    /// Closes the whole connection after a protocol state violation.
    fn reject(&self) {
        self.session.close(CloseReason::ForcedServerClose);
    }

    /// Disconnects every namespace (each client socket gets its DISCONNECT),
    /// then closes the connection: Node's `client._disconnect()`.
    pub(crate) fn disconnect_all(&self) {
        let sockets: Vec<Socket> = self.sockets().iter().map(|(_, s)| s.clone()).collect();
        for s in sockets {
            s.disconnect();
        }
        self.session.close(CloseReason::ForcedClose);
    }

    /// True once any namespace was joined (the connect timer no longer applies).
    pub(crate) fn joined_once(&self) -> bool {
        self.joined.is_set()
    }

    pub(crate) fn mark_joined(&self) {
        self.joined.set();
    }

    /// A socket of this connection registered a raw event handler.
    pub(crate) fn takes_raw_events(&self) {
        self.raw.store(true, Ordering::Relaxed);
    }

    pub(crate) fn on_message(self: &Arc<Self>, msg: Incoming<'_>) {
        if let Incoming::Text(t) = &msg
            && self.raw.load(Ordering::Relaxed)
            && self.on_raw(t)
        {
            return;
        }
        let decoded = {
            let mut d = self.decoder.lock().unwrap_or_else(|e| e.into_inner());
            match msg {
                Incoming::Text(t) => d.decode_text(t),
                Incoming::Binary(b) => d.decode_binary(b),
                Incoming::BinaryRef(b) => d.decode_binary_ref(b),
            }
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(sid = %self.session.sid(), error = %e, "invalid packet, closing");
                self.session.close(CloseReason::ForcedClose);
            }
        }
    }

    /// A plain EVENT for a socket with a raw handler, delivered without
    /// building values; false when the general path must take it.
    fn on_raw(&self, text: &str) -> bool {
        if !text.starts_with('2') {
            return false;
        }
        // A text message while attachments are due is an error for the decoder.
        if self
            .decoder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_reconstructing()
        {
            return false;
        }
        let Some(packet) = crate::codec::socketio::raw_event(text) else {
            return false;
        };
        match self.socket(packet.nsp) {
            Some(socket) => socket.on_raw_event(packet),
            None => false,
        }
    }

    fn on_packet(self: &Arc<Self>, packet: Packet) {
        match packet.data {
            PacketData::Connect(_) if self.session.eio3.is_some() => {
                // A 2.x client puts its query in the namespace: `/chat?token=1`.
                let (nsp, auth) = v3_namespace(&packet.nsp);
                self.on_connect(nsp, Some(auth));
            }
            PacketData::Connect(auth) => self.on_connect(packet.nsp, auth),
            PacketData::ConnectError(_) => self.reject(),
            PacketData::Disconnect => match self.socket(&packet.nsp) {
                Some(socket) => {
                    self.forget(&packet.nsp);
                    socket.close(DisconnectReason::ClientNamespaceDisconnect);
                }
                None => self.reject(),
            },
            PacketData::Event { .. } | PacketData::Ack { .. } => match self.socket(&packet.nsp) {
                Some(socket) => socket.on_packet(packet),
                None => self.reject(),
            },
        }
    }

    /// Connects a Socket.IO 2.x client to the main namespace, as Node does
    /// as soon as its session opens.
    pub(crate) fn connect_main_namespace(self: &Arc<Self>) {
        self.on_connect("/".to_owned(), None);
    }

    fn on_connect(self: &Arc<Self>, nsp: String, auth: Option<Value>) {
        if self.socket(&nsp).is_some() {
            self.reject();
            return;
        }
        match self.state.namespace_for(&nsp) {
            Some(ns) => ns.connect(self, auth),
            None => {
                if let Some(m) = &self.state.common.metrics {
                    m.refused(crate::metrics::Refusal::InvalidNamespace);
                }
                let mut err = crate::Map::new();
                err.insert("message".into(), Value::from("Invalid namespace"));
                let packet = Packet {
                    nsp,
                    data: PacketData::ConnectError(Value::Object(err)),
                };
                let msg = super::encode_message_with(self.state.common.parser, &packet);
                if let Some(admin) = self.state.common.admin.get() {
                    admin.packet_out(&msg);
                }
                let _ = self.session.try_send(msg);
            }
        }
    }

    pub(crate) fn on_close(&self, reason: CloseReason) {
        let sockets = std::mem::take(&mut *self.sockets());
        for (_, socket) in sockets {
            socket.close(DisconnectReason::from(reason));
        }
    }
}

/// A 2.x client's CONNECT namespace split as Node does (`new URL(nsp,
/// base)`): the path, and the query's parameters as the auth object.
fn v3_namespace(nsp: &str) -> (String, Value) {
    let mut auth = crate::Map::new();
    let Some((path, query)) = nsp.split_once('?') else {
        return (nsp.to_owned(), Value::Object(auth));
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        auth.insert(k.into_owned(), Value::from(v.into_owned()));
    }
    (path.to_owned(), Value::Object(auth))
}
