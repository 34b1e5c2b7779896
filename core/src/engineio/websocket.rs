//! WebSocket transport: direct handshake, upgrade from polling, and the
//! per-connection task that reads, writes (batched) and pings.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ::http::{HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::http::{Body, ErrorCode, error_response};
use super::session::{Handler, STATE_POLLING, STATE_UPGRADING, STATE_WEBSOCKET};
use super::{CloseReason, Engine, Entry, Message, RequestInfo, Transport};

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Most queued messages written before one flush.
const WRITE_BATCH: usize = 64;

fn ws_config<H: Handler>(engine: &Engine<H>) -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    // Small: tungstenite zero-fills this much before each read, and idle
    // connections keep it; large frames grow it on demand.
    c.read_buffer_size = 512;
    c.write_buffer_size = 16 * 1024;
    c.max_message_size = Some(engine.config.max_payload);
    c.max_frame_size = Some(engine.config.max_payload);
    c
}

/// The `101 Switching Protocols` answer, or `None` if the request is not a valid upgrade.
fn switching_response<B>(req: &Request<B>) -> Option<Response<Body>> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY)?;
    let accept = derive_accept_key(key.as_bytes());
    let mut res = Response::new(Body::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).ok()?,
    );
    Some(res)
}

/// A new session over WebSocket, without prior polling.
pub(super) fn handshake<H: Handler, B: Send + 'static>(
    engine: Arc<Engine<H>>,
    mut req: Request<B>,
    info: RequestInfo,
) -> Response<Body> {
    let Some(res) = switching_response(&req) else {
        return error_response(ErrorCode::BadRequest, None);
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws = Ws::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(ws_config(&engine)),
        )
        .await;
        let entry = engine.open(Transport::Websocket, &info);
        let open = engine.open_packet(entry.session.sid, Transport::Websocket);
        if ws.send(WsMessage::text(open)).await.is_err() {
            entry.session.close(CloseReason::TransportError);
        } else {
            let mut rx = entry.session.rx.lock().await;
            run(&engine, &entry, &mut ws, &mut rx, true).await;
        }
        engine.teardown(&entry);
    });
    res
}

/// Upgrade of a polling session: probe, then switch on `5`.
pub(super) fn upgrade<H: Handler, B: Send + 'static>(
    engine: Arc<Engine<H>>,
    mut req: Request<B>,
    entry: Entry<H::Conn>,
) -> Response<Body> {
    if !engine.config.allow_upgrades || entry.session.state() != STATE_POLLING {
        return error_response(ErrorCode::BadRequest, None);
    }
    let Some(res) = switching_response(&req) else {
        return error_response(ErrorCode::BadRequest, None);
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws = Ws::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(ws_config(&engine)),
        )
        .await;
        let deadline = Instant::now() + engine.config.upgrade_timeout;
        let session = &entry.session;
        match tokio::time::timeout_at(deadline, probe(&mut ws, &entry)).await {
            Ok(true) => {}
            _ => {
                // Failed or timed-out upgrade: the session goes on over polling.
                let _ = session.state.compare_exchange(
                    STATE_UPGRADING,
                    STATE_POLLING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                let _ = ws.close(None).await;
                return;
            }
        }
        // Take the queue from the polling side; a pending GET is released with noops.
        let mut rx = loop {
            session.upgrading.notify_waiters();
            if let Ok(rx) =
                tokio::time::timeout(Duration::from_millis(100), session.rx.lock()).await
            {
                break rx;
            }
            if session.is_closed() {
                return;
            }
        };
        session.state.store(STATE_WEBSOCKET, Ordering::Release);
        // The polling-side owner task keeps the heartbeat and the teardown.
        run(&engine, &entry, &mut ws, &mut rx, false).await;
    });
    res
}

/// Waits for `2probe`, answers `3probe`, then waits for `5`. Returns false on any other packet.
async fn probe<C>(ws: &mut Ws, entry: &Entry<C>) -> bool {
    let session = &entry.session;
    let mut probed = false;
    while let Some(Ok(msg)) = ws.next().await {
        let WsMessage::Text(text) = msg else {
            if matches!(msg, WsMessage::Ping(_) | WsMessage::Pong(_)) {
                continue;
            }
            return false;
        };
        match (probed, text.as_str()) {
            (false, "2probe") => {
                if session
                    .state
                    .compare_exchange(
                        STATE_POLLING,
                        STATE_UPGRADING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_err()
                {
                    return false;
                }
                if ws.send(WsMessage::text("3probe")).await.is_err() {
                    return false;
                }
                session.upgrading.notify_waiters();
                probed = true;
            }
            (true, "5") => return true,
            _ => return false,
        }
    }
    false
}

enum Beat {
    /// Next ping due at the timer.
    Idle,
    /// Ping sent; pong due at the timer. `true` once the deadline was extended.
    AwaitingPong(bool),
}

/// The connection loop: reads frames, writes queued messages in batches,
/// pings when `heartbeat` is set. Returns when the session closes.
async fn run<H: Handler>(
    engine: &Engine<H>,
    entry: &Entry<H::Conn>,
    ws: &mut Ws,
    rx: &mut mpsc::Receiver<Message>,
    heartbeat: bool,
) {
    let session = &entry.session;
    let cfg = &engine.config;
    let far = Duration::from_secs(86400 * 365);
    let mut timer: Pin<Box<Sleep>> = Box::pin(tokio::time::sleep(if heartbeat {
        cfg.ping_interval
    } else {
        far
    }));
    let mut beat = Beat::Idle;
    // Built once: re-arming the close signal every iteration costs two locks.
    let closed = session.closed.wait();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            biased;
            () = &mut closed => break,
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                // A client that stops reading stalls the write; past a heartbeat
                // period it is dead for us too (its queue is bounded meanwhile).
                let write = async {
                    let mut ok = feed(ws, &msg).await;
                    let mut n = 1;
                    while ok && n < WRITE_BATCH {
                        let Ok(more) = rx.try_recv() else { break };
                        ok = feed(ws, &more).await;
                        n += 1;
                    }
                    ok && ws.flush().await.is_ok()
                };
                match tokio::time::timeout(cfg.ping_interval + cfg.ping_timeout, write).await {
                    Ok(true) => {}
                    Ok(false) => session.close(CloseReason::TransportError),
                    Err(_) => {
                        tracing::debug!(sid = %session.sid(), "write stalled; closing");
                        session.close(CloseReason::TransportError);
                        break;
                    }
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    if text.is_empty() {
                        session.close(CloseReason::ParseError);
                    } else if heartbeat && text.as_bytes()[0] == b'3' {
                        beat = Beat::Idle;
                        timer.as_mut().reset(Instant::now() + cfg.ping_interval);
                    } else if let Some(b64) = text.strip_prefix('b') {
                        // Node decodes text frames like polling records: `b…` is binary.
                        engine.on_binary(entry, crate::codec::polling::decode_base64(b64));
                    } else {
                        engine.on_text(entry, &text);
                    }
                }
                Some(Ok(WsMessage::Binary(data))) => engine.on_binary(entry, data),
                Some(Ok(WsMessage::Ping(_))) => {
                    let _ = ws.flush().await;
                }
                Some(Ok(WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => session.close(CloseReason::TransportClose),
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    let frame = CloseFrame { code: CloseCode::Size, reason: "Max payload size exceeded".into() };
                    let _ = ws.send(WsMessage::Close(Some(frame))).await;
                    session.close(CloseReason::TransportError);
                }
                Some(Err(WsError::Utf8(_))) => {
                    let frame = CloseFrame { code: CloseCode::Invalid, reason: "Invalid UTF-8".into() };
                    let _ = ws.send(WsMessage::Close(Some(frame))).await;
                    session.close(CloseReason::TransportError);
                }
                // The peer vanished without a close frame: Node's `ws` reports a close (1006).
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_)))
                | Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    session.close(CloseReason::TransportClose);
                }
                Some(Err(_)) => session.close(CloseReason::TransportError),
            },
            () = timer.as_mut() => match beat {
                Beat::Idle => {
                    session.activity.store(false, Ordering::Relaxed);
                    if ws.send(WsMessage::text("2")).await.is_err() {
                        session.close(CloseReason::TransportError);
                    }
                    beat = Beat::AwaitingPong(false);
                    timer.as_mut().reset(Instant::now() + cfg.ping_timeout);
                }
                Beat::AwaitingPong(false) if session.activity.swap(false, Ordering::Relaxed) => {
                    beat = Beat::AwaitingPong(true);
                    timer.as_mut().reset(Instant::now() + cfg.ping_timeout);
                }
                Beat::AwaitingPong(_) => session.close(CloseReason::PingTimeout),
            },
        }
    }
    // Flush what was queued before the close (e.g. a DISCONNECT packet), then close.
    let reason = session.reason();
    if !matches!(
        reason,
        CloseReason::TransportClose | CloseReason::TransportError
    ) {
        while let Ok(msg) = rx.try_recv() {
            if !feed(ws, &msg).await {
                break;
            }
        }
        let _ = ws.close(None).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// Queues one message's frames on the socket without flushing.
async fn feed(ws: &mut Ws, msg: &Message) -> bool {
    if ws.feed(WsMessage::Text(msg.text.clone())).await.is_err() {
        return false;
    }
    for att in msg.attachments.iter().flat_map(|a| a.iter()) {
        if ws.feed(WsMessage::Binary(Bytes::clone(att))).await.is_err() {
            return false;
        }
    }
    true
}
