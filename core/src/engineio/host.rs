//! Feeding the engine from a foreign HTTP server (an ASGI, aiohttp or WSGI
//! server, a game engine's HTTP stack): the host parses HTTP and WebSocket
//! framing and moves bytes; Engine.IO and Socket.IO stay here.
//!
//! - A long-polling request (method, URI, headers, body) goes to
//!   [`Host::http`] and gets a whole response back.
//! - A WebSocket request goes to [`Host::websocket`] before the host
//!   accepts it. On success the host accepts the WebSocket and pumps
//!   messages: what its peer sends into [`HostSocket::send`], what
//!   [`HostSocket::recv`] yields out to its peer, until either returns the
//!   end. On refusal the host answers the returned response (or, if it can
//!   only close a WebSocket, closes it).
//!
//! ```no_run
//! # async fn demo(io: oxsio::Server) {
//! use oxsio::engineio::host::WsMessage;
//! let host = io.host();
//! // Long-polling:
//! let req = http::Request::get("/socket.io/?EIO=4&transport=polling")
//!     .body(bytes::Bytes::new())
//!     .unwrap();
//! let res = host.http(req).await;
//! assert_eq!(res.status(), 200);
//! // WebSocket:
//! let req = http::Request::get("/socket.io/?EIO=4&transport=websocket")
//!     .body(())
//!     .unwrap();
//! if let Ok(ws) = host.websocket(req).await {
//!     let (mut tx, mut rx) = ws.split();
//!     while let Some(msg) = rx.recv().await {
//!         // ...write msg to the peer; on WsMessage::Close, close it.
//! #       let _ = (&mut tx, msg);
//!     }
//! }
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use ::http::{HeaderValue, Request, Response, header};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use super::http::Body;
use crate::codec::websocket::Opcode;

/// Bytes in flight between a host's WebSocket and the engine, each way.
const PIPE_CAPACITY: usize = 64 * 1024;

type Serve =
    dyn Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync;

/// The entry point of a foreign HTTP server into an engine; see the
/// [module docs](self). Cheap to clone.
#[derive(Clone)]
pub struct Host {
    serve: Arc<Serve>,
    max_payload: usize,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("max_payload", &self.max_payload)
            .finish()
    }
}

/// The far end of a host's WebSocket, put in the request's extensions in
/// place of hyper's upgrade; the engine takes it once it answers 101.
#[derive(Clone)]
pub(crate) struct HostUpgrade(Arc<Mutex<Option<DuplexStream>>>);

impl HostUpgrade {
    pub(crate) fn take(&self) -> Option<DuplexStream> {
        self.0.lock().ok()?.take()
    }
}

/// One WebSocket message, as hosts see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// The engine closes the WebSocket with this code and reason (in
    /// [`HostReceiver::recv`]); or the peer did (in [`HostSender::send`]).
    Close(u16, String),
}

impl Host {
    /// A host entry into whatever answers `serve` (the engine's HTTP
    /// handler); `max_payload` bounds one message from the peer.
    pub(crate) fn new(
        max_payload: usize,
        serve: impl Fn(Request<Body>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>>
        + Send
        + Sync
        + 'static,
    ) -> Host {
        Host {
            serve: Arc::new(serve),
            max_payload,
        }
    }

    /// Answers a plain HTTP request: a long-polling GET or POST, a CORS
    /// preflight, or an error for anything the engine refuses. Put
    /// [`RemoteAddr`](super::RemoteAddr) and [`Secure`](super::Secure) in
    /// the request's extensions when known; handshakes report them.
    pub async fn http(&self, req: Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = req.into_parts();
        let res = (self.serve)(Request::from_parts(parts, Body::new(body))).await;
        let (parts, body) = res.into_parts();
        let bytes = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(never) => match never {},
        };
        Response::from_parts(parts, bytes)
    }

    /// Offers a WebSocket request (a new session, or the upgrade of a
    /// polling one) to the engine before the host accepts it. The host
    /// has checked the WebSocket handshake itself; the request's body is
    /// ignored. `Err` is the answer to give instead of accepting.
    ///
    /// # Errors
    /// The engine refuses the request (unknown sid, refused origin,
    /// transport not allowed, …): the response says why.
    pub async fn websocket(&self, req: Request<()>) -> Result<HostSocket, Response<Bytes>> {
        let (mut parts, ()) = req.into_parts();
        let h = &mut parts.headers;
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        // The host answered the handshake; the engine's 101 is not sent.
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        let (ours, engines) = tokio::io::duplex(PIPE_CAPACITY);
        let slot = HostUpgrade(Arc::new(Mutex::new(Some(engines))));
        parts.extensions.insert(slot.clone());
        let res = self.http(Request::from_parts(parts, Bytes::new())).await;
        if res.status() != ::http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(res);
        }
        let (read, write) = tokio::io::split(ours);
        Ok(HostSocket {
            tx: HostSender {
                io: write,
                frame: Vec::new(),
                closed: false,
            },
            rx: HostReceiver {
                io: read,
                buf: BytesMut::new(),
                frag: None,
                done: false,
                max_payload: self.max_payload,
            },
        })
    }
}

/// An accepted WebSocket between a host and the engine.
#[derive(Debug)]
pub struct HostSocket {
    tx: HostSender,
    rx: HostReceiver,
}

impl HostSocket {
    /// The two directions, to pump them from two tasks.
    pub fn split(self) -> (HostSender, HostReceiver) {
        (self.tx, self.rx)
    }

    /// Hands a message from the host's peer to the engine.
    ///
    /// # Errors
    /// The engine has closed this WebSocket.
    pub async fn send(&mut self, msg: WsMessage) -> io::Result<()> {
        self.tx.send(msg).await
    }

    /// The next message the engine sends to the host's peer; `None` once
    /// the engine is done with this WebSocket.
    pub async fn recv(&mut self) -> Option<WsMessage> {
        self.rx.recv().await
    }
}

/// Messages from the host's peer into the engine.
#[derive(Debug)]
pub struct HostSender {
    io: WriteHalf<DuplexStream>,
    frame: Vec<u8>,
    closed: bool,
}

impl HostSender {
    /// Hands a message from the host's peer to the engine. Waits while the
    /// engine is behind (bounded buffering). A [`WsMessage::Close`] says the
    /// peer closed; nothing may follow it.
    ///
    /// # Errors
    /// The engine has closed this WebSocket, or a message follows a close.
    pub async fn send(&mut self, msg: WsMessage) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"));
        }
        self.frame.clear();
        match &msg {
            WsMessage::Text(t) => masked_frame(&mut self.frame, Opcode::Text, t.as_bytes()),
            WsMessage::Binary(b) => masked_frame(&mut self.frame, Opcode::Binary, b),
            WsMessage::Close(code, _) => {
                self.closed = true;
                // 1005/1006 are never sent on the wire: an empty close.
                let payload = if matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                    code.to_be_bytes().to_vec()
                } else {
                    Vec::new()
                };
                masked_frame(&mut self.frame, Opcode::Close, &payload);
            }
        }
        self.io.write_all(&self.frame).await?;
        if self.closed {
            let _ = self.io.shutdown().await;
        }
        Ok(())
    }
}

/// Messages from the engine out to the host's peer.
#[derive(Debug)]
pub struct HostReceiver {
    io: ReadHalf<DuplexStream>,
    buf: BytesMut,
    frag: Option<(Opcode, Vec<u8>)>,
    done: bool,
    max_payload: usize,
}

impl HostReceiver {
    /// The next message for the host's peer; `None` once the engine is
    /// done (after a [`WsMessage::Close`], or if it went away).
    pub async fn recv(&mut self) -> Option<WsMessage> {
        while !self.done {
            match self.next_frame() {
                Some(Ok(Some(msg))) => return Some(msg),
                Some(Ok(None)) => continue,
                Some(Err(())) => {
                    self.done = true;
                    return Some(WsMessage::Close(1011, String::new()));
                }
                None => {
                    let n = self.io.read_buf(&mut self.buf).await.unwrap_or(0);
                    if n == 0 {
                        self.done = true;
                    }
                }
            }
        }
        None
    }

    /// Decodes one server frame from the buffer: `None` if incomplete,
    /// `Some(Ok(None))` for a frame that completes no message.
    fn next_frame(&mut self) -> Option<Result<Option<WsMessage>, ()>> {
        let (fin, opcode, header, len) = parse_server_header(&self.buf)?;
        if len > self.max_payload.max(PIPE_CAPACITY) * 2 {
            return Some(Err(()));
        }
        if self.buf.len() < header + len {
            self.buf.reserve(header + len - self.buf.len());
            return None;
        }
        self.buf.advance(header);
        let payload = self.buf.split_to(len).freeze();
        let Some(opcode) = opcode else {
            return Some(Err(()));
        };
        let msg = match opcode {
            Opcode::Continuation => {
                let (op, mut data) = self.frag.take()?;
                data.extend_from_slice(&payload);
                if !fin {
                    self.frag = Some((op, data));
                    return Some(Ok(None));
                }
                message(op, Bytes::from(data))
            }
            Opcode::Text | Opcode::Binary if !fin => {
                self.frag = Some((opcode, payload.to_vec()));
                return Some(Ok(None));
            }
            Opcode::Close => {
                self.done = true;
                let code = payload
                    .get(..2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .unwrap_or(1005);
                let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or(&[])).into();
                return Some(Ok(Some(WsMessage::Close(code, reason))));
            }
            // The engine pings with Engine.IO packets, not frames; a pong
            // answers nothing the host must pass on.
            Opcode::Ping | Opcode::Pong => return Some(Ok(None)),
            op => message(op, payload),
        };
        Some(msg.map(Some))
    }
}

fn message(op: Opcode, data: Bytes) -> Result<WsMessage, ()> {
    match op {
        Opcode::Text => String::from_utf8(data.to_vec())
            .map(WsMessage::Text)
            .map_err(|_| ()),
        _ => Ok(WsMessage::Binary(data)),
    }
}

/// `(fin, opcode, header length, payload length)` of an unmasked server
/// frame at the start of `buf`, `None` until the header is complete.
fn parse_server_header(buf: &[u8]) -> Option<(bool, Option<Opcode>, usize, usize)> {
    let [b0, b1, ..] = *buf else { return None };
    let fin = b0 & 0x80 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0f);
    let (len, header) = match b1 & 0x7f {
        126 => {
            let b = buf.get(2..4)?;
            (usize::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let b = buf.get(2..10)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            (
                usize::try_from(u64::from_be_bytes(a)).unwrap_or(usize::MAX),
                10,
            )
        }
        n => (usize::from(n), 2),
    };
    Some((fin, opcode, header, len))
}

/// A final client frame with an all-zero mask (XOR with zero: the payload
/// goes as it is).
fn masked_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    let b0 = 0x80 | opcode.bits();
    let len = payload.len();
    if len < 126 {
        out.extend_from_slice(&[b0, 0x80 | len as u8]);
    } else if let Ok(n) = u16::try_from(len) {
        let l = n.to_be_bytes();
        out.extend_from_slice(&[b0, 0x80 | 126, l[0], l[1]]);
    } else {
        out.extend_from_slice(&[b0, 0x80 | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::websocket::{parse_header, write_frame};

    #[test]
    fn masked_frames_parse_as_client_frames() {
        for len in [0, 5, 125, 126, 65_535, 65_536] {
            let payload = vec![b'x'; len];
            let mut out = Vec::new();
            masked_frame(&mut out, Opcode::Text, &payload);
            let f = parse_header(&out, 1 << 20).unwrap().unwrap();
            assert_eq!((f.fin, f.opcode, f.len), (true, Opcode::Text, len));
            assert_eq!(&out[f.header_len..], &payload[..]);
        }
    }

    #[test]
    fn server_frames_parse() {
        for len in [0, 5, 125, 126, 65_535, 65_536] {
            let payload = vec![1u8; len];
            let mut out = Vec::new();
            write_frame(&mut out, Opcode::Binary, &payload);
            let (fin, op, header, n) = parse_server_header(&out).unwrap();
            assert_eq!((fin, op, n), (true, Some(Opcode::Binary), len));
            assert_eq!(header + n, out.len());
        }
    }
}
