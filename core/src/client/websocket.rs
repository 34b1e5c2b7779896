//! The client's WebSocket: the upgrade request over hyper, then frames
//! through our own codec ([`crate::codec::websocket`]): masked out,
//! unmasked in, with permessage-deflate ([`crate::codec::deflate`]) when
//! the client offers it and the server agrees.
//!
//! Every method that waits is cancel-safe (it is used in `select!`): bytes
//! read or written so far are kept in the struct.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::engine::Target;
use super::error::ClientError;
use super::tls::dial;
use crate::codec::deflate;
use crate::codec::websocket::{
    self as frame, FrameError, Opcode, Sender, parse_close, parse_frame_header, unmask,
};

/// A data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WsData {
    Text(String),
    Binary(Bytes),
}

/// A client WebSocket connection.
pub(crate) struct ClientWs {
    io: TokioIo<Upgraded>,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    frag: Option<(Opcode, bool, Vec<u8>)>,
    /// permessage-deflate was agreed: messages from this size are compressed.
    deflate: Option<usize>,
    max_payload: usize,
    close_sent: bool,
    /// Engine.IO protocol 3: binary messages carry the type byte `4`.
    pub(crate) eio3: bool,
}

fn connect_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::Connect(e.to_string())
}

impl ClientWs {
    /// Dials `target` and upgrades the request for `uri` (path and query).
    pub(crate) async fn connect(target: &Target, uri: &str) -> Result<ClientWs, ClientError> {
        let io = dial(&target.host, target.port, target.tls.as_ref()).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(connect_error)?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        let key_bytes: [u8; 16] = rand::random();
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key_bytes);
        let mut req = Request::builder()
            .method("GET")
            .uri(uri)
            .header(header::HOST, target.host_header())
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, &key)
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::InvalidUrl(e.to_string()))?;
        if target.deflate.is_some() {
            req.headers_mut().insert(
                header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_static(deflate::CLIENT_OFFER),
            );
        }
        for (k, v) in &target.headers {
            req.headers_mut().append(k, v.clone());
        }
        let mut res = sender.send_request(req).await.map_err(connect_error)?;
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = res.status().as_u16();
            let body = tokio::time::timeout(Duration::from_secs(5), res.body_mut().collect())
                .await
                .ok()
                .and_then(Result::ok)
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            return Err(ClientError::Http(status, body));
        }
        let h = res.headers();
        let accept_ok = h
            .get(header::SEC_WEBSOCKET_ACCEPT)
            .is_some_and(|a| a.as_bytes() == derive_accept_key(key.as_bytes()).as_bytes());
        if !accept_ok {
            return Err(ClientError::Protocol(
                "the WebSocket upgrade answer has a wrong Sec-WebSocket-Accept".into(),
            ));
        }
        let answer = h
            .get(header::SEC_WEBSOCKET_EXTENSIONS)
            .map(|v| v.to_str().unwrap_or("?"));
        let agreed = match (target.deflate, deflate::check_answer(answer)) {
            (_, Err(why)) => {
                return Err(ClientError::Protocol(format!(
                    "the server's Sec-WebSocket-Extensions answer is refused: {why}"
                )));
            }
            (None, Ok(true)) => {
                return Err(ClientError::Protocol(
                    "the server agreed on an extension that was not offered".into(),
                ));
            }
            (threshold, Ok(true)) => threshold,
            (_, Ok(false)) => None,
        };
        let upgraded = hyper::upgrade::on(res).await.map_err(connect_error)?;
        Ok(ClientWs {
            io: TokioIo::new(upgraded),
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            frag: None,
            deflate: agreed,
            max_payload: target.max_payload,
            close_sent: false,
            eio3: target.eio3,
        })
    }

    /// Queues one frame (masked), compressed when agreed and large enough.
    fn queue_frame(&mut self, opcode: Opcode, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        let mask: [u8; 4] = rand::random();
        let packed;
        let (payload, compressed) = match self.deflate {
            Some(threshold) if !opcode.is_control() && payload.len() >= threshold => {
                let mut out = Vec::new();
                deflate::compress(payload, &mut out);
                packed = out;
                (&packed[..], true)
            }
            _ => (payload, false),
        };
        frame::write_header_with(
            &mut self.wbuf,
            opcode,
            payload.len(),
            compressed,
            Some(mask),
        );
        let start = self.wbuf.len();
        self.wbuf.extend_from_slice(payload);
        unmask(&mut self.wbuf[start..], mask);
    }

    /// Queues a text message (sent by [`flush`](Self::flush)).
    pub(crate) fn feed_text(&mut self, text: &str) {
        self.queue_frame(Opcode::Text, text.as_bytes());
    }

    /// Queues a binary message (sent by [`flush`](Self::flush)).
    pub(crate) fn feed_binary(&mut self, data: &[u8]) {
        if self.eio3 {
            let mut framed = Vec::with_capacity(data.len() + 1);
            framed.push(4);
            framed.extend_from_slice(data);
            self.queue_frame(Opcode::Binary, &framed);
        } else {
            self.queue_frame(Opcode::Binary, data);
        }
    }

    /// Writes what is queued.
    pub(crate) async fn flush(&mut self) -> Result<(), ClientError> {
        while self.wpos < self.wbuf.len() {
            let n = self
                .io
                .write(&self.wbuf[self.wpos..])
                .await
                .map_err(connect_error)?;
            if n == 0 {
                return Err(ClientError::Connect("connection closed".into()));
            }
            self.wpos += n;
        }
        self.wbuf.clear();
        self.wpos = 0;
        self.io.flush().await.map_err(connect_error)
    }

    /// Sends a text message now.
    pub(crate) async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.feed_text(text);
        self.flush().await
    }

    /// Queues a close frame with `code`; nothing may follow it.
    fn queue_close(&mut self, code: Option<u16>) {
        let payload = code.map(u16::to_be_bytes);
        self.queue_frame(Opcode::Close, payload.as_ref().map_or(&[][..], |p| &p[..]));
        self.close_sent = true;
    }

    /// Sends a close frame (within a second) and shuts the write side.
    pub(crate) async fn close(&mut self) {
        self.queue_close(Some(1000));
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = self.flush().await;
            let _ = self.io.shutdown().await;
        })
        .await;
    }

    /// The next data message; `None` once the server closed the
    /// connection or the link failed, an error when the server broke the
    /// protocol (the connection is then closed with the matching code).
    pub(crate) async fn next(&mut self) -> Option<Result<WsData, ClientError>> {
        loop {
            let end = match self.parse_one() {
                Ok(Some(data)) => return Some(Ok(data)),
                Ok(None) => None,
                Err(end) => Some(end),
            };
            // Pongs and close frames go out before anything else happens.
            if !self.wbuf.is_empty() {
                let flushed = tokio::time::timeout(Duration::from_secs(1), self.flush()).await;
                if end.is_none() && !matches!(flushed, Ok(Ok(()))) {
                    return None;
                }
            }
            match end {
                None => {}
                Some(End::PeerClosed) => return None,
                Some(End::Refused(e)) => {
                    return Some(Err(ClientError::Protocol(format!("WebSocket: {e}"))));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.rbuf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Handles the frames at the start of `rbuf` up to the first data message.
    fn parse_one(&mut self) -> Result<Option<WsData>, End> {
        loop {
            let header = parse_frame_header(
                &self.rbuf,
                self.max_payload,
                Sender::Server,
                self.deflate.is_some(),
            );
            let f = match header {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.refuse(e)),
            };
            let total = f.header_len + f.len;
            if self.rbuf.len() < total {
                return Ok(None);
            }
            let payload = self.rbuf[f.header_len..total].to_vec();
            self.rbuf.drain(..total);
            match f.opcode {
                Opcode::Text | Opcode::Binary => {
                    if self.frag.is_some() {
                        let e = FrameError::Protocol("Invalid frame: expected a continuation");
                        return Err(self.refuse(e));
                    }
                    if !f.fin {
                        self.frag = Some((f.opcode, f.compressed, payload));
                        continue;
                    }
                    return self.message(f.opcode, f.compressed, payload).map(Some);
                }
                Opcode::Continuation => {
                    let Some((opcode, compressed, mut data)) = self.frag.take() else {
                        let e = FrameError::Protocol("Invalid frame: unexpected continuation");
                        return Err(self.refuse(e));
                    };
                    if f.compressed {
                        let e = FrameError::Protocol("Invalid frame: RSV1 on a continuation");
                        return Err(self.refuse(e));
                    }
                    if data.len() + payload.len() > self.max_payload {
                        return Err(self.refuse(FrameError::TooBig));
                    }
                    data.extend_from_slice(&payload);
                    if !f.fin {
                        self.frag = Some((opcode, compressed, data));
                        continue;
                    }
                    return self.message(opcode, compressed, data).map(Some);
                }
                Opcode::Ping => self.queue_frame(Opcode::Pong, &payload),
                Opcode::Pong => {}
                Opcode::Close => {
                    return match parse_close(&payload) {
                        Ok(code) => {
                            self.queue_close(code);
                            Err(End::PeerClosed)
                        }
                        Err(e) => Err(self.refuse(e)),
                    };
                }
            }
        }
    }

    /// A complete message, inflated if compressed; text must be UTF-8.
    fn message(&mut self, opcode: Opcode, compressed: bool, data: Vec<u8>) -> Result<WsData, End> {
        let data = if compressed {
            deflate::decompress(&data, self.max_payload).map_err(|e| self.refuse(e))?
        } else {
            data
        };
        if opcode == Opcode::Binary {
            let data = Bytes::from(data);
            return match (self.eio3, data.first()) {
                (false, _) => Ok(WsData::Binary(data)),
                // Protocol 3: the type byte of a message comes first.
                (true, Some(4)) => Ok(WsData::Binary(data.slice(1..))),
                (true, _) => {
                    Err(self.refuse(FrameError::Protocol("a binary frame that is not a message")))
                }
            };
        }
        let text = String::from_utf8(data).map_err(|_| self.refuse(FrameError::InvalidUtf8))?;
        // Binary as base64 text (`b4…` in protocol 3, `b…` in 4).
        let b64 = if self.eio3 {
            text.strip_prefix("b4")
        } else {
            text.strip_prefix('b')
        };
        match b64 {
            Some(b64) => Ok(WsData::Binary(crate::codec::polling::decode_base64(b64))),
            None => Ok(WsData::Text(text)),
        }
    }

    /// Queues the close frame for a protocol error.
    fn refuse(&mut self, e: FrameError) -> End {
        self.queue_close(Some(e.close_code()));
        End::Refused(e)
    }
}

/// Why reading ended.
enum End {
    /// The server sent a close frame (answered).
    PeerClosed,
    /// The server broke the protocol (a close frame with the code is queued).
    Refused(FrameError),
}
