//! WebSocket transport: direct handshake, upgrade from polling, and the
//! per-connection task that reads frames, writes queued messages in
//! batches and pings.
//!
//! Frames go through our own codec ([`crate::codec::websocket`]) straight
//! over the `TcpStream` hyper hands back after the upgrade. Reads land in a
//! per-thread scratch buffer and complete text frames are handed up
//! without a copy; writes are encoded into another per-thread buffer and
//! only what the socket does not take is kept. An idle connection holds no
//! read or write buffer at all.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ::http::{HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::http::{Body, ErrorCode, error_response};
use super::session::{
    Eio3, Handler, Queue, STATE_ATTACHED, STATE_POLLING, STATE_UPGRADING, STATE_WEBSOCKET,
};
use super::{CloseReason, Engine, Entry, Message, RequestInfo, Transport};
use crate::codec::deflate;
use crate::codec::websocket::{
    self as frame, FrameError, Opcode, Sender, close_code, parse_close, parse_frame_header, unmask,
};

/// Most queued messages encoded before one write.
const WRITE_BATCH: usize = 64;
/// Most batches written in one turn of a connection's task: a long backlog
/// (a recovered session's replay) then yields between turns, so the other
/// connections on the same thread keep their latency.
const BATCHES_PER_TURN: usize = 4;
/// Connections of an engine that write a replay at the same time; the
/// others wait their turn (first come, first served), so that a wave of
/// recovered clients does not leave the runtime with thousands of busy
/// writers ahead of everyone else.
pub(crate) const REPLAY_SLOTS: usize = 8;

/// Waiting for a turn to write a replay.
type ReplayTurn = Pin<
    Box<
        dyn Future<Output = Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>>
            + Send,
    >,
>;

/// Size of the per-thread read buffer: one read takes up to this much.
const SCRATCH_LEN: usize = 64 * 1024;
/// A per-thread write buffer larger than this is released after use.
const WRITE_SCRATCH_KEEP: usize = 256 * 1024;
/// How long closing a connection may take (flush, close frame, peer's answer).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

thread_local! {
    static READ_SCRATCH: RefCell<Box<[MaybeUninit<u8>]>> =
        RefCell::new(Box::new_uninit_slice(SCRATCH_LEN));
    static WRITE_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The `101 Switching Protocols` answer and the connection's options, or
/// `None` if the request is not a valid upgrade.
fn switching_response<B, H: Handler>(
    req: &Request<B>,
    engine: &Engine<H>,
) -> Option<(Response<Body>, WsOpts)> {
    accept(
        req,
        engine.config.max_payload,
        engine.config.per_message_deflate,
    )
}

/// The `101 Switching Protocols` answer to a valid upgrade request, with
/// permessage-deflate agreed when `per_message_deflate` (the compression
/// threshold) is set and the client offered it.
fn accept<B>(
    req: &Request<B>,
    max_payload: usize,
    per_message_deflate: Option<usize>,
) -> Option<(Response<Body>, WsOpts)> {
    // RFC 6455 4.1: an HTTP/1.1 (or later) GET, and a key that is 16 bytes
    // in base64 (Node's `ws` answers 400 to anything else).
    if req.version() < ::http::Version::HTTP_11 {
        return None;
    }
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY)?;
    if !valid_key(key.as_bytes()) {
        return None;
    }
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
    let mut opts = WsOpts {
        max_payload,
        deflate: None,
    };
    if let Some(threshold) = per_message_deflate {
        let offers = req.headers().get_all(header::SEC_WEBSOCKET_EXTENSIONS);
        if let Some(agreed) = offers
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(deflate::negotiate)
            && let Ok(answer) = HeaderValue::from_str(&agreed.answer)
        {
            h.insert(header::SEC_WEBSOCKET_EXTENSIONS, answer);
            opts.deflate = Some(DeflateUse {
                threshold,
                max_message: agreed.max_message,
            });
        }
    }
    Some((res, opts))
}

/// The WebSocket a foreign host accepted (see [`super::host`]), if the
/// request came from one rather than from hyper.
fn host_stream<B>(req: &Request<B>) -> Option<tokio::io::DuplexStream> {
    req.extensions()
        .get::<super::host::HostUpgrade>()
        .and_then(super::host::HostUpgrade::take)
}

/// A `Sec-WebSocket-Key`: 16 bytes, base64-encoded (24 characters).
fn valid_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
}

/// A new session over WebSocket, without prior polling.
pub(super) fn handshake<H: Handler, B: Send + 'static>(
    engine: Arc<Engine<H>>,
    mut req: Request<B>,
    info: RequestInfo,
    eio3: Option<Eio3>,
) -> Response<Body> {
    let Some((res, max)) = switching_response(&req, &engine) else {
        return error_response(ErrorCode::BadRequest, None);
    };
    if let Some(stream) = host_stream(&req) {
        tokio::spawn(async move {
            direct(&engine, info, WsIo::new(stream, Bytes::new(), max), eio3).await;
        });
        return res;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        // The standalone server's connections are plain TCP: drop hyper's
        // wrapper (and its read buffer). Other embeddings keep the wrapper.
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                direct(
                    &engine,
                    info,
                    WsIo::new(parts.io.into_inner(), parts.read_buf, max),
                    eio3,
                )
                .await
            }
            Err(upgraded) => {
                direct(
                    &engine,
                    info,
                    WsIo::new(TokioIo::new(upgraded), Bytes::new(), max),
                    eio3,
                )
                .await
            }
        }
    });
    res
}

async fn direct<H: Handler, S: Stream>(
    engine: &Engine<H>,
    info: RequestInfo,
    mut io: WsIo<S>,
    eio3: Option<Eio3>,
) {
    let opened = Instant::now();
    let entry = engine.open(Transport::Websocket, &info, eio3);
    // The layer above copied what it keeps.
    drop(info);
    let open = engine.open_packet(entry.session.sid, Transport::Websocket);
    io.queue_frame(Opcode::Text, open.as_bytes());
    {
        let _owner = entry.session.owner.lock().await;
        if eio3.is_some() {
            // The client pings; a watch closes the session if it stops.
            let watch = super::polling::client_heartbeat(&engine.config, &entry.session, opened);
            tokio::join!(run(engine, &entry, &mut io, false), watch);
        } else {
            run(engine, &entry, &mut io, true).await;
        }
    }
    engine.teardown(&entry);
    io.linger().await;
}

/// Upgrade of a polling session: probe, then switch on `5`.
pub(super) fn upgrade<H: Handler, B: Send + 'static>(
    engine: Arc<Engine<H>>,
    mut req: Request<B>,
    entry: Entry<H::Conn>,
) -> Response<Body> {
    if entry.session.is_closed() {
        return error_response(ErrorCode::UnknownSid, None);
    }
    if !engine.config.allow_upgrades {
        return error_response(ErrorCode::BadRequest, None);
    }
    let Some((res, max)) = switching_response(&req, &engine) else {
        return error_response(ErrorCode::BadRequest, None);
    };
    // One WebSocket per session: while another one is attached or after
    // the upgrade, Node accepts the new one and closes it at once.
    if entry
        .session
        .state
        .compare_exchange(
            STATE_POLLING,
            STATE_ATTACHED,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        close_at_once(req);
        return res;
    }
    if let Some(stream) = host_stream(&req) {
        tokio::spawn(async move {
            upgraded_session(&engine, &entry, WsIo::new(stream, Bytes::new(), max)).await;
        });
        return res;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                let io = WsIo::new(parts.io.into_inner(), parts.read_buf, max);
                upgraded_session(&engine, &entry, io).await;
            }
            Err(upgraded) => {
                let io = WsIo::new(TokioIo::new(upgraded), Bytes::new(), max);
                upgraded_session(&engine, &entry, io).await;
            }
        }
    });
    res
}

/// Accepts the WebSocket of `req` and closes it straight away (a close
/// frame without a code, as Node's `socket.close()` on a duplicate).
fn close_at_once<B: Send + 'static>(mut req: Request<B>) {
    if let Some(mut stream) = host_stream(&req) {
        tokio::spawn(async move {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &[0x88, 0x00]).await;
        });
        return;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let mut io = TokioIo::new(upgraded);
            let _ = tokio::io::AsyncWriteExt::write_all(&mut io, &[0x88, 0x00]).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut io).await;
        }
    });
}

async fn upgraded_session<H: Handler, S: Stream>(
    engine: &Engine<H>,
    entry: &Entry<H::Conn>,
    mut io: WsIo<S>,
) {
    let deadline = Instant::now() + engine.config.upgrade_timeout;
    let session = &entry.session;
    if !matches!(
        tokio::time::timeout_at(deadline, probe(&mut io, entry)).await,
        Ok(true)
    ) {
        // Failed or timed-out upgrade: the session goes on over polling.
        for from in [STATE_UPGRADING, STATE_ATTACHED] {
            let _ = session.state.compare_exchange(
                from,
                STATE_POLLING,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        io.finish(None, Some((close_code::NORMAL, ""))).await;
        io.linger().await;
        return;
    }
    // Take the queue from the polling side; a pending GET is released with noops.
    let _owner = loop {
        session.upgrading.notify_waiters();
        if let Ok(owner) =
            tokio::time::timeout(Duration::from_millis(100), session.owner.lock()).await
        {
            break owner;
        }
        if session.is_closed() {
            return;
        }
    };
    session.state.store(STATE_WEBSOCKET, Ordering::Release);
    session.upgraded.set();
    engine.handler.on_upgrade(&entry.conn);
    // The polling-side owner task keeps the heartbeat and the teardown.
    run(engine, entry, &mut io, false).await;
    io.linger().await;
}

/// Waits for `2probe`, answers `3probe`, then waits for `5`. Returns false on any other packet.
async fn probe<C, S: Stream>(io: &mut WsIo<S>, entry: &Entry<C>) -> bool {
    let session = &entry.session;
    let mut probed = false;
    while let Some(Some(text)) = io.next_message().await {
        match (probed, text.as_str()) {
            (false, "2probe") => {
                if session
                    .state
                    .compare_exchange(
                        STATE_ATTACHED,
                        STATE_UPGRADING,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_err()
                {
                    return false;
                }
                io.queue_frame(Opcode::Text, b"3probe");
                if poll_fn(|cx| io.poll_write_pending(cx)).await.is_err() {
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

/// What one run of the connection's poll loop asks for.
enum Turn {
    /// Let the scheduler run once before writing (see `may_defer`).
    Defer,
    /// The loop is over.
    Exit(Exit),
}

/// How the connection loop ended.
enum Exit {
    /// The session was closed (by the server, a handler or a packet).
    Closed,
    /// The peer sent a close frame (answered) or hung up.
    PeerGone,
    /// The peer broke the WebSocket protocol; the close frame is queued.
    Refused,
    /// The socket failed or stopped taking writes.
    Broken,
}

/// The connection loop: reads frames, writes queued messages in batches,
/// pings when `heartbeat` is set. Returns when the session closes.
async fn run<H: Handler, S: Stream>(
    engine: &Engine<H>,
    entry: &Entry<H::Conn>,
    io: &mut WsIo<S>,
    heartbeat: bool,
) {
    let session = &entry.session;
    let cfg = &engine.config;
    io.eio3 = session.eio3;
    let mut timer: Option<Pin<Box<Sleep>>> =
        heartbeat.then(|| Box::pin(tokio::time::sleep_until(next_ping(cfg.ping_interval))));
    let mut beat = Beat::Idle;
    let mut stall: Option<Pin<Box<Sleep>>> = None;
    // Messages pushed by other tasks (broadcasts) wait for one turn of the
    // scheduler before they are written: the broadcasts still being read
    // elsewhere join them, and one write carries several.
    let mut may_defer = true;
    let mut slot: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut waiting: Option<ReplayTurn> = None;
    let exit = loop {
        let step = poll_fn(|cx| {
            loop {
                if session.is_closed() {
                    return Poll::Ready(Turn::Exit(Exit::Closed));
                }
                let mut read_any = false;
                // Re-registered by the drain below (or on a full socket).
                session.queue.unregister();
                let end = io.poll_read_frames(cx, |event| {
                    read_any = true;
                    match event {
                        Event::Text(text) => {
                            if text.is_empty() {
                                session.close(CloseReason::ParseError);
                            } else if heartbeat && text.as_bytes()[0] == b'3' {
                                beat = Beat::Idle;
                                if let Some(t) = timer.as_mut() {
                                    t.as_mut().reset(next_ping(cfg.ping_interval));
                                }
                            } else if let Some(b64) = text.strip_prefix('b') {
                                // Node decodes text frames like polling records: `b…` is
                                // binary (`b4…` in protocol 3, the type included).
                                let b64 = match session.eio3 {
                                    Some(_) => b64.strip_prefix('4').unwrap_or(b64),
                                    None => b64,
                                };
                                engine.on_binary(entry, crate::codec::polling::decode_base64(b64));
                            } else {
                                engine.on_text(entry, text);
                            }
                        }
                        Event::Binary(data) => match (session.eio3, data.split_first()) {
                            // Protocol 3 frames start with the packet type: a message.
                            (Some(_), Some((4, rest))) => engine.on_binary_ref(entry, rest),
                            (Some(_), _) => session.close(CloseReason::ParseError),
                            (None, _) => engine.on_binary_ref(entry, data),
                        },
                    }
                    !session.is_closed()
                });
                match end {
                    ReadEnd::Pending | ReadEnd::Stopped => {}
                    ReadEnd::PeerClosed | ReadEnd::Failed => {
                        // The peer vanished or closed: Node's `ws` reports a close.
                        session.close(CloseReason::TransportClose);
                        return Poll::Ready(Turn::Exit(Exit::PeerGone));
                    }
                    ReadEnd::Refused(e) => {
                        io.queue_close(Some(e.close_code()), &e.to_string());
                        session.close(CloseReason::TransportError);
                        return Poll::Ready(Turn::Exit(Exit::Refused));
                    }
                }
                if session.is_closed() {
                    return Poll::Ready(Turn::Exit(Exit::Closed));
                }
                if may_defer && !read_any && io.wbuf.is_empty() && session.queue.deferrable() {
                    may_defer = false;
                    return Poll::Ready(Turn::Defer);
                }
                // A replay is written only with one of the engine's slots.
                let mut hold = false;
                if session.queue.replaying() {
                    if slot.is_none() {
                        let turn = waiting.get_or_insert_with(|| {
                            Box::pin(engine.replay_slots.clone().acquire_owned())
                        });
                        match turn.as_mut().poll(cx) {
                            Poll::Ready(got) => {
                                waiting = None;
                                slot = got.ok();
                            }
                            Poll::Pending => {
                                hold = true;
                                // Pings and other control frames still go out.
                                if let Poll::Ready(Err(_)) = io.poll_write_pending(cx) {
                                    session.close(CloseReason::TransportError);
                                    return Poll::Ready(Turn::Exit(Exit::Broken));
                                }
                            }
                        }
                    }
                } else {
                    slot = None;
                    waiting = None;
                }
                let written = if hold {
                    Poll::Pending
                } else {
                    io.poll_write_queue(cx, &session.queue)
                };
                match written {
                    Poll::Ready(Ok(true)) => {
                        stall = None;
                        may_defer = true;
                        // Written out: the slot goes back before this task sleeps.
                        if slot.is_some() && !session.queue.replaying() {
                            slot = None;
                        }
                    }
                    Poll::Ready(Ok(false)) => {
                        // Its share for this turn is written; more waits.
                        stall = None;
                        may_defer = false;
                        return Poll::Ready(Turn::Defer);
                    }
                    Poll::Ready(Err(_)) => {
                        session.close(CloseReason::TransportError);
                        return Poll::Ready(Turn::Exit(Exit::Broken));
                    }
                    Poll::Pending if hold => {}
                    Poll::Pending => {
                        // A slow reader keeps no replay slot from the others.
                        slot = None;
                        // A client that stops reading stalls the write; past a heartbeat
                        // period it is dead for us too (its queue is bounded meanwhile).
                        session.queue.register(cx);
                        let s = stall.get_or_insert_with(|| {
                            Box::pin(tokio::time::sleep(cfg.ping_interval + cfg.ping_timeout))
                        });
                        if s.as_mut().poll(cx).is_ready() {
                            tracing::debug!(sid = %session.sid(), "write stalled; closing");
                            session.close(CloseReason::TransportError);
                            return Poll::Ready(Turn::Exit(Exit::Broken));
                        }
                    }
                }
                let Some(t) = timer.as_mut() else {
                    return Poll::Pending;
                };
                if t.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                match beat {
                    Beat::Idle => {
                        session.activity.store(false, Ordering::Relaxed);
                        io.queue_frame(Opcode::Text, b"2");
                        beat = Beat::AwaitingPong(false);
                        t.as_mut().reset(Instant::now() + cfg.ping_timeout);
                    }
                    Beat::AwaitingPong(false)
                        if session.activity.swap(false, Ordering::Relaxed) =>
                    {
                        beat = Beat::AwaitingPong(true);
                        t.as_mut().reset(Instant::now() + cfg.ping_timeout);
                    }
                    Beat::AwaitingPong(_) => session.close(CloseReason::PingTimeout),
                }
            }
        })
        .await;
        match step {
            Turn::Defer => tokio::task::yield_now().await,
            Turn::Exit(e) => break e,
        }
    };
    match exit {
        Exit::Closed => {
            // Flush what was queued before the close (e.g. a DISCONNECT packet), then close.
            let flush = !matches!(
                session.reason(),
                CloseReason::TransportClose | CloseReason::TransportError
            );
            io.finish(
                flush.then_some(&session.queue),
                Some((close_code::NORMAL, "")),
            )
            .await;
        }
        Exit::PeerGone | Exit::Refused => io.finish(None, None).await,
        Exit::Broken => {}
    }
}

/// Ping deadlines fall on this grid, so that pings leave (and pongs come
/// back) in bursts: one timer tick and one `epoll_wait` serve many
/// connections, and a peer handling many connections is woken once per
/// burst. Deadlines are rounded down: a ping may leave early, never late
/// (a peer counts on it within the interval).
const PING_GRID: Duration = Duration::from_millis(50);

/// `interval` from now, rounded down to the grid (the smaller of
/// [`PING_GRID`] and an eighth of the interval).
fn next_ping(interval: Duration) -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    let due = Instant::now() + interval;
    let grid = PING_GRID.min(interval / 8).as_nanos().max(1);
    let since = due.saturating_duration_since(base).as_nanos();
    let rounded = since / grid * grid;
    base + Duration::from_nanos(u64::try_from(rounded).unwrap_or(u64::MAX))
}

/// What an I/O object must offer to carry a WebSocket.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A complete data message, borrowed from the read buffer.
enum Event<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// Why reading stopped.
enum ReadEnd {
    /// No more bytes for now; the task is woken when there are.
    Pending,
    /// The callback asked to stop; unread frames stay buffered.
    Stopped,
    /// The peer sent a close frame (answered in the write buffer).
    PeerClosed,
    /// End of stream or an I/O error.
    Failed,
    /// The peer broke the protocol; the caller sends this close.
    Refused(FrameError),
}

/// One frame's outcome inside [`WsIo::process`].
enum Step {
    Continue,
    Stop,
    End(ReadEnd),
}

/// What a connection's frames are held to.
#[derive(Debug, Clone, Copy)]
struct WsOpts {
    max_payload: usize,
    /// permessage-deflate was agreed.
    deflate: Option<DeflateUse>,
}

/// permessage-deflate as agreed with one client.
#[derive(Debug, Clone, Copy)]
struct DeflateUse {
    /// Messages from this size are compressed…
    threshold: usize,
    /// …up to this size (the window the client allows the server).
    max_message: usize,
}

impl DeflateUse {
    fn compresses(self, len: usize) -> bool {
        (self.threshold..=self.max_message).contains(&len)
    }
}

/// A message being assembled from fragments.
struct Fragments {
    opcode: Opcode,
    compressed: bool,
    data: Vec<u8>,
    /// How much of `data` (an uncompressed text message) is checked UTF-8.
    checked: usize,
}

impl Fragments {
    /// Fails fast on a fragmented text message, as RFC 6455 8.1 asks: the
    /// fragments so far must be valid UTF-8 up to a character cut at their
    /// end. Compressed and binary messages are checked once complete.
    fn utf8_so_far(&mut self) -> Result<(), FrameError> {
        if self.opcode != Opcode::Text || self.compressed {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.checked..]) {
            Ok(_) => self.checked = self.data.len(),
            Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
            Err(_) => return Err(FrameError::InvalidUtf8),
        }
        Ok(())
    }
}

/// A server-side WebSocket over `S`.
struct WsIo<S> {
    stream: S,
    /// Bytes of frames not complete yet (or not processed after a stop).
    /// Unallocated when empty.
    rbuf: Vec<u8>,
    /// `rbuf` may hold complete frames (pre-read bytes, or left after a stop).
    rbuf_ready: bool,
    /// A fragmented message being assembled.
    frag: Option<Fragments>,
    /// Bytes the socket has not taken yet, from `wpos`. Unallocated when empty.
    wbuf: Vec<u8>,
    wpos: usize,
    max_payload: usize,
    deflate: Option<DeflateUse>,
    /// A protocol 3 client: binary messages carry the type byte `4`.
    eio3: Option<Eio3>,
    /// A close frame was queued: nothing may follow it.
    close_sent: bool,
}

impl<S: Stream> WsIo<S> {
    fn new(stream: S, pre_read: Bytes, opts: WsOpts) -> WsIo<S> {
        WsIo {
            stream,
            rbuf_ready: !pre_read.is_empty(),
            rbuf: pre_read.to_vec(),
            frag: None,
            wbuf: Vec::new(),
            wpos: 0,
            max_payload: opts.max_payload,
            deflate: opts.deflate,
            eio3: None,
            close_sent: false,
        }
    }

    fn queue_frame(&mut self, opcode: Opcode, payload: &[u8]) {
        if !self.close_sent {
            frame::write_frame(&mut self.wbuf, opcode, payload);
        }
    }

    /// Queues a close frame (with no payload when `code` is `None`); only the first counts.
    fn queue_close(&mut self, code: Option<u16>, reason: &str) {
        if !self.close_sent {
            match code {
                Some(c) => frame::write_close(&mut self.wbuf, c, reason),
                None => frame::write_frame(&mut self.wbuf, Opcode::Close, &[]),
            }
            self.close_sent = true;
        }
    }

    /// Reads and handles frames until the socket has nothing more, `on`
    /// returns false, or the connection ends.
    fn poll_read_frames(
        &mut self,
        cx: &mut Context<'_>,
        mut on: impl FnMut(Event<'_>) -> bool,
    ) -> ReadEnd {
        if std::mem::take(&mut self.rbuf_ready)
            && let Some(end) = self.process_rbuf(&mut on)
        {
            return end;
        }
        loop {
            let step = if self.rbuf.is_empty() {
                self.read_scratch(cx, &mut on)
            } else {
                None
            };
            let step = match step {
                Some(s) => s,
                None => self.read_rbuf(cx, &mut on),
            };
            if let Some(end) = step {
                return end;
            }
        }
    }

    /// One read into the thread's scratch buffer, frames handled in place.
    /// `None` inside the outer `Option` means "go on reading"; an outer
    /// `None` means the scratch buffer is busy (re-entered): use `rbuf`.
    fn read_scratch(
        &mut self,
        cx: &mut Context<'_>,
        on: &mut impl FnMut(Event<'_>) -> bool,
    ) -> Option<Option<ReadEnd>> {
        READ_SCRATCH.with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            let mut buf = ReadBuf::uninit(&mut scratch[..]);
            Some(match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                Poll::Pending => Some(ReadEnd::Pending),
                Poll::Ready(Err(_)) => Some(ReadEnd::Failed),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => Some(ReadEnd::Failed),
                Poll::Ready(Ok(())) => {
                    let data = buf.filled_mut();
                    let (used, end) = self.process(data, on);
                    if used < data.len() {
                        self.rbuf.extend_from_slice(&data[used..]);
                        self.rbuf_ready = matches!(end, Some(ReadEnd::Stopped));
                    }
                    end
                }
            })
        })
    }

    /// One read appended to `rbuf` (a frame is partial), then its complete frames.
    fn read_rbuf(
        &mut self,
        cx: &mut Context<'_>,
        on: &mut impl FnMut(Event<'_>) -> bool,
    ) -> Option<ReadEnd> {
        let len = self.rbuf.len();
        // Enough for the rest of the pending frame (bounded by maxPayload), at least 4 KiB.
        let want = match self.parse_header(&self.rbuf) {
            Ok(Some(f)) => (f.header_len + f.len).saturating_sub(len),
            _ => 0,
        }
        .clamp(4096, SCRATCH_LEN);
        self.rbuf.resize(len + want, 0);
        let mut buf = ReadBuf::new(&mut self.rbuf[len..]);
        let read = Pin::new(&mut self.stream).poll_read(cx, &mut buf);
        let n = buf.filled().len();
        self.rbuf.truncate(len + n);
        match read {
            Poll::Pending => return Some(ReadEnd::Pending),
            Poll::Ready(Err(_)) => return Some(ReadEnd::Failed),
            Poll::Ready(Ok(())) if n == 0 => return Some(ReadEnd::Failed),
            Poll::Ready(Ok(())) => {}
        }
        self.process_rbuf(on)
    }

    /// Handles the complete frames in `rbuf`, keeping the rest.
    fn process_rbuf(&mut self, on: &mut impl FnMut(Event<'_>) -> bool) -> Option<ReadEnd> {
        let mut buf = std::mem::take(&mut self.rbuf);
        let (used, end) = self.process(&mut buf, on);
        buf.drain(..used);
        if !buf.is_empty() {
            self.rbuf = buf;
            self.rbuf_ready = matches!(end, Some(ReadEnd::Stopped));
        }
        end
    }

    /// Handles every complete frame at the start of `buf`; returns the bytes used.
    fn process(
        &mut self,
        buf: &mut [u8],
        on: &mut impl FnMut(Event<'_>) -> bool,
    ) -> (usize, Option<ReadEnd>) {
        let mut pos = 0;
        loop {
            let f = match self.parse_header(&buf[pos..]) {
                Ok(Some(f)) => f,
                Ok(None) => return (pos, None),
                Err(e) => return (pos, Some(ReadEnd::Refused(e))),
            };
            if f.opcode == Opcode::Continuation
                && let Some(frag) = &self.frag
                && frag.data.len() + f.len > self.max_payload
            {
                return (pos, Some(ReadEnd::Refused(FrameError::TooBig)));
            }
            let end = pos + f.header_len + f.len;
            if end > buf.len() {
                return (pos, None);
            }
            let payload = &mut buf[pos + f.header_len..end];
            if let Some(mask) = f.mask {
                unmask(payload, mask);
            }
            pos = end;
            match self.on_frame(f, payload, on) {
                Step::Continue => {}
                Step::Stop => return (pos, Some(ReadEnd::Stopped)),
                Step::End(e) => return (pos, Some(e)),
            }
        }
    }

    fn parse_header(&self, buf: &[u8]) -> Result<Option<frame::Frame>, FrameError> {
        parse_frame_header(
            buf,
            self.max_payload,
            Sender::Client,
            self.deflate.is_some(),
        )
    }

    fn on_frame(
        &mut self,
        f: frame::Frame,
        payload: &[u8],
        on: &mut impl FnMut(Event<'_>) -> bool,
    ) -> Step {
        match f.opcode {
            Opcode::Text | Opcode::Binary => {
                if self.frag.is_some() {
                    return Step::End(ReadEnd::Refused(FrameError::Protocol(
                        "Invalid frame: expected a continuation",
                    )));
                }
                if !f.fin {
                    let mut frag = Fragments {
                        opcode: f.opcode,
                        compressed: f.compressed,
                        data: payload.to_vec(),
                        checked: 0,
                    };
                    if let Err(e) = frag.utf8_so_far() {
                        return Step::End(ReadEnd::Refused(e));
                    }
                    self.frag = Some(frag);
                    return Step::Continue;
                }
                self.deliver(f.opcode, f.compressed, payload, on)
            }
            Opcode::Continuation => {
                if f.compressed {
                    return Step::End(ReadEnd::Refused(FrameError::Protocol(
                        "Invalid frame: RSV1 on a continuation",
                    )));
                }
                let Some(mut frag) = self.frag.take() else {
                    return Step::End(ReadEnd::Refused(FrameError::Protocol(
                        "Invalid frame: unexpected continuation",
                    )));
                };
                frag.data.extend_from_slice(payload);
                if !f.fin {
                    if let Err(e) = frag.utf8_so_far() {
                        return Step::End(ReadEnd::Refused(e));
                    }
                    self.frag = Some(frag);
                    return Step::Continue;
                }
                self.deliver(frag.opcode, frag.compressed, &frag.data, on)
            }
            Opcode::Ping => {
                self.queue_frame(Opcode::Pong, payload);
                Step::Continue
            }
            Opcode::Pong => Step::Continue,
            Opcode::Close => match parse_close(payload) {
                Ok(code) => {
                    // Answer with the same code, as RFC 6455 and Node's `ws` do.
                    self.queue_close(code, "");
                    Step::End(ReadEnd::PeerClosed)
                }
                Err(e) => Step::End(ReadEnd::Refused(e)),
            },
        }
    }

    /// A complete message to the callback, inflated first if compressed.
    fn deliver(
        &self,
        opcode: Opcode,
        compressed: bool,
        payload: &[u8],
        on: &mut impl FnMut(Event<'_>) -> bool,
    ) -> Step {
        if !compressed {
            return deliver(opcode, payload, on);
        }
        match deflate::decompress(payload, self.max_payload) {
            Ok(data) => deliver(opcode, &data, on),
            Err(e) => Step::End(ReadEnd::Refused(e)),
        }
    }

    /// Writes `wbuf` out; ready once it is empty (and then released).
    fn poll_write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.wbuf.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.wbuf[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        if self.wpos > 0 {
            self.wbuf = Vec::new();
            self.wpos = 0;
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes pending bytes, then queued messages in batches, until the
    /// queue is empty (ready with true; the task is registered for the next
    /// push), [`BATCHES_PER_TURN`] batches were written (ready with false:
    /// yield, then call again) or the socket is full (pending).
    fn poll_write_queue(&mut self, cx: &mut Context<'_>, queue: &Queue) -> Poll<io::Result<bool>> {
        let mut batches = 0;
        loop {
            ready!(self.poll_write_pending(cx))?;
            if self.close_sent {
                return Poll::Ready(Ok(true));
            }
            if batches == BATCHES_PER_TURN {
                return Poll::Ready(Ok(false));
            }
            batches += 1;
            let (deflate, eio3) = (self.deflate, self.eio3);
            let wrote = WRITE_SCRATCH.with(|cell| {
                let mut own = Vec::new();
                let mut borrowed = cell.try_borrow_mut();
                let out = match &mut borrowed {
                    Ok(b) => &mut **b,
                    Err(_) => &mut own,
                };
                out.clear();
                let n = queue.drain(cx, WRITE_BATCH, |m| encode(out, m, deflate, eio3));
                let mut pos = 0;
                let mut result = Ok(n > 0);
                while pos < out.len() {
                    match Pin::new(&mut self.stream).poll_write(cx, &out[pos..]) {
                        Poll::Ready(Ok(0)) => {
                            result = Err(io::ErrorKind::WriteZero.into());
                            break;
                        }
                        Poll::Ready(Ok(k)) => pos += k,
                        Poll::Ready(Err(e)) => {
                            result = Err(e);
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                if pos < out.len() {
                    self.wbuf.extend_from_slice(&out[pos..]);
                    self.wpos = 0;
                }
                out.clear();
                if out.capacity() > WRITE_SCRATCH_KEEP {
                    *out = Vec::new();
                }
                result
            })?;
            if !wrote {
                ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
                return Poll::Ready(Ok(true));
            }
        }
    }

    /// Reads up to the next data message, answering control frames.
    /// `None` when the connection ends; `Some(None)` for a binary message.
    async fn next_message(&mut self) -> Option<Option<String>> {
        let mut got = None;
        poll_fn(|cx| {
            let end = self.poll_read_frames(cx, |event| {
                got = Some(match event {
                    Event::Text(t) => Some(t.to_owned()),
                    Event::Binary(_) => None,
                });
                false
            });
            // Pongs for the peer's pings.
            let _ = self.poll_write_pending(cx);
            match end {
                ReadEnd::Stopped => Poll::Ready(got.take()),
                ReadEnd::Pending => Poll::Pending,
                ReadEnd::PeerClosed | ReadEnd::Failed | ReadEnd::Refused(_) => Poll::Ready(None),
            }
        })
        .await
    }

    /// Ends the connection within [`CLOSE_GRACE`]: writes what `flush`
    /// holds and a close frame (unless one was sent), then shuts the write
    /// side.
    async fn finish(&mut self, flush: Option<&Queue>, close: Option<(u16, &str)>) {
        let work = async {
            if let Some(queue) = flush
                && !self.close_sent
            {
                while let Some(m) = queue.pop() {
                    encode(&mut self.wbuf, &m, self.deflate, self.eio3);
                }
            }
            if let Some((code, reason)) = close {
                self.queue_close(Some(code), reason);
            }
            poll_fn(|cx| self.poll_write_pending(cx)).await?;
            poll_fn(|cx| Pin::new(&mut self.stream).poll_shutdown(cx)).await
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, work).await;
    }

    /// Discards input until the peer hangs up (within [`CLOSE_GRACE`]), so
    /// that no reset cuts what was sent last.
    async fn linger(&mut self) {
        let work = async {
            let mut sink = [0u8; 512];
            loop {
                let mut buf = ReadBuf::new(&mut sink);
                poll_fn(|cx| Pin::new(&mut self.stream).poll_read(cx, &mut buf)).await?;
                if buf.filled().is_empty() {
                    return Ok::<(), io::Error>(());
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, work).await;
    }
}

/// A complete message to the callback; text must be UTF-8 (else 1007).
fn deliver(opcode: Opcode, payload: &[u8], on: &mut impl FnMut(Event<'_>) -> bool) -> Step {
    let event = if opcode == Opcode::Text {
        match std::str::from_utf8(payload) {
            Ok(t) => Event::Text(t),
            Err(_) => {
                return Step::End(ReadEnd::Refused(FrameError::InvalidUtf8));
            }
        }
    } else {
        Event::Binary(payload)
    };
    if on(event) {
        Step::Continue
    } else {
        Step::Stop
    }
}

/// Appends one message's frames: its text packet, then its attachments,
/// each compressed from the `deflate` threshold when that was agreed.
/// For a protocol 3 client, binary frames start with the type byte `4`
/// (or go as `b4` + base64 text to a client without binary support).
fn encode(out: &mut Vec<u8>, msg: &Message, deflate: Option<DeflateUse>, eio3: Option<Eio3>) {
    // An Engine.IO-only binary message has no text packet.
    if !msg.text.is_empty() {
        write_data(out, Opcode::Text, msg.text.as_bytes(), deflate);
    }
    for att in msg.attachments.iter().flat_map(|a| a.iter()) {
        match eio3 {
            None => write_data(out, Opcode::Binary, att, deflate),
            Some(Eio3 { binary: true }) => {
                let mut framed = Vec::with_capacity(att.len() + 1);
                framed.push(4);
                framed.extend_from_slice(att);
                write_data(out, Opcode::Binary, &framed, deflate);
            }
            Some(Eio3 { binary: false }) => {
                use base64::Engine as _;
                let mut text = String::from("b4");
                base64::engine::general_purpose::STANDARD.encode_string(att, &mut text);
                write_data(out, Opcode::Text, text.as_bytes(), deflate);
            }
        }
    }
}

fn write_data(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8], deflate: Option<DeflateUse>) {
    match deflate {
        Some(d) if d.compresses(payload.len()) => {
            let mut packed = Vec::new();
            deflate::compress(payload, &mut packed);
            frame::write_header_with(out, opcode, packed.len(), true, None);
            out.extend_from_slice(&packed);
        }
        _ => frame::write_frame(out, opcode, payload),
    }
}

/// Answers the upgrade of `req` and echoes every message of the
/// connection back, through the same [`WsIo`] as an Engine.IO connection:
/// the same frame checks, limits, close handshake and permessage-deflate.
/// For conformance suites only (see [`super::conformance`]).
#[cfg(feature = "conformance")]
pub(super) fn echo_upgrade<B: Send + 'static>(
    mut req: Request<B>,
    max_payload: usize,
    per_message_deflate: Option<usize>,
) -> Response<Body> {
    let Some((res, opts)) = accept(&req, max_payload, per_message_deflate) else {
        return error_response(ErrorCode::BadRequest, None);
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => echo(WsIo::new(parts.io.into_inner(), parts.read_buf, opts)).await,
            Err(upgraded) => echo(WsIo::new(TokioIo::new(upgraded), Bytes::new(), opts)).await,
        }
    });
    res
}

/// The echo loop of [`echo_upgrade`]; ends as an Engine.IO connection does.
#[cfg(feature = "conformance")]
async fn echo<S: Stream>(mut io: WsIo<S>) {
    let mut echoed: Vec<(Opcode, Vec<u8>)> = Vec::new();
    let end = poll_fn(|cx| {
        loop {
            let end = io.poll_read_frames(cx, |event| {
                echoed.push(match event {
                    Event::Text(t) => (Opcode::Text, t.as_bytes().to_vec()),
                    Event::Binary(b) => (Opcode::Binary, b.to_vec()),
                });
                true
            });
            for (opcode, payload) in echoed.drain(..) {
                if !io.close_sent {
                    write_data(&mut io.wbuf, opcode, &payload, io.deflate);
                }
            }
            let refused = match end {
                ReadEnd::Pending => None,
                ReadEnd::Stopped => continue,
                ReadEnd::PeerClosed | ReadEnd::Failed => return Poll::Ready(None),
                ReadEnd::Refused(e) => Some(e),
            };
            if let Some(e) = refused {
                return Poll::Ready(Some(e));
            }
            return match io.poll_write_pending(cx) {
                Poll::Ready(Err(_)) => Poll::Ready(None),
                Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
            };
        }
    })
    .await;
    if let Some(e) = end {
        io.queue_close(Some(e.close_code()), &e.to_string());
    }
    io.finish(None, None).await;
    io.linger().await;
}
