//! Long-polling: GET drains the queue, POST delivers packets, one of each
//! in flight; plus the heartbeat task that owns a polling-born session.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::http::{Method, Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};

use super::http::{Body, ErrorCode, error_response, text_response};
use super::session::{
    Handler, STATE_ATTACHED, STATE_POLLING, STATE_UPGRADING, STATE_WEBSOCKET, Session,
};
use super::{CloseReason, Engine, Entry};
use crate::codec::polling::{self, Record};
use crate::codec::polling_v3::{self, V3Packet, V3Record};

const PAYLOAD_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";
/// Node's upgrade check interval: a poll during an upgrade waits this long.
const UPGRADE_CHECK: std::time::Duration = std::time::Duration::from_millis(100);
/// How long a client's close waits for a poll it sent at the same moment.
const CLOSE_POLL_GRACE: std::time::Duration = std::time::Duration::from_millis(20);
/// Timers fire on the first millisecond tick at or after their deadline:
/// heartbeat deadlines are set this much earlier so that they are never late.
const TIMER_TICK: std::time::Duration = std::time::Duration::from_millis(1);

pub(super) async fn request<H, B>(
    engine: Arc<Engine<H>>,
    req: Request<B>,
    entry: Entry<H::Conn>,
) -> Response<Body>
where
    H: Handler,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match *req.method() {
        Method::GET => get(&entry.session).await,
        Method::POST => post(&engine, req, &entry).await,
        _ => error_response(ErrorCode::BadRequest, None),
    }
}

/// A long poll: waits for at least one packet, then returns all queued ones.
async fn get(session: &Session) -> Response<Body> {
    // A session the client ended (parse error, transport close, …) is gone
    // for the client even if its teardown has not run yet, as in Node. A
    // server-side close still gives one poll to collect the close packet.
    if session.is_closed()
        && !matches!(
            session.reason(),
            CloseReason::ForcedClose | CloseReason::ForcedServerClose | CloseReason::ServerShutdown
        )
    {
        return error_response(ErrorCode::UnknownSid, None);
    }
    match session.state() {
        STATE_POLLING | STATE_ATTACHED => {}
        STATE_UPGRADING => {
            // As Node: a poll during an upgrade gets a noop from the
            // upgrade's 100 ms check, unless the upgrade completes first
            // (the client sent `5` just before), which ends this transport.
            let _ = tokio::time::timeout(UPGRADE_CHECK, session.upgraded.wait()).await;
            if session.state() == STATE_WEBSOCKET {
                return error_response(ErrorCode::BadRequest, None);
            }
            return noop(session);
        }
        _ => return error_response(ErrorCode::BadRequest, None),
    }
    let Ok(_owner) = session.owner.try_lock() else {
        // A second concurrent GET: the official server fails it and closes.
        session.close(CloseReason::TransportError);
        return error_response(ErrorCode::BadRequest, None);
    };
    // A client that hangs up on a pending poll kills the session, as in Node.
    let mut abort = AbortGuard(Some(session));
    let mut payload = String::new();
    let queue = &session.queue;
    let first = if session.is_closed() {
        queue.pop()
    } else {
        tokio::select! {
            biased;
            m = queue.recv() => Some(m),
            () = session.closed.wait() => queue.pop(),
            () = session.upgrading.notified() => {
                abort.0 = None;
                return noop(session);
            }
        }
    };
    abort.0 = None;
    if session.is_closed() && session.reason() == CloseReason::TransportClose {
        // The client closed: release its pending poll with a noop.
        return noop(session);
    }
    if let Some(eio3) = session.eio3 {
        let mut msgs = Vec::new();
        let mut next = first;
        while let Some(msg) = next {
            msgs.push(msg);
            next = queue.pop();
        }
        let close = session.is_closed();
        if close {
            session.close_delivered.set();
        }
        return v3_response(&msgs, close, eio3.binary);
    }
    let mut next = first;
    while let Some(msg) = next {
        if !msg.text.is_empty() {
            polling::push_text(&mut payload, &msg.text);
        }
        for att in msg.attachments.iter().flat_map(|a| a.iter()) {
            polling::push_binary(&mut payload, att);
        }
        next = queue.pop();
    }
    if session.is_closed() {
        // Whatever was queued before the close goes out first, then the close.
        polling::push_text(&mut payload, "1");
        session.close_delivered.set();
    }
    text_response(StatusCode::OK, payload, PAYLOAD_CONTENT_TYPE)
}

/// A noop answer to a poll, framed for the session's protocol.
fn noop(session: &Session) -> Response<Body> {
    let body = if session.eio3.is_some() { "1:6" } else { "6" };
    text_response(StatusCode::OK, body, PAYLOAD_CONTENT_TYPE)
}

/// One text packet as a protocol 3 text payload (`<len>:<packet>`).
pub(super) fn v3_text(packet: &str) -> String {
    let mut out = Vec::new();
    polling_v3::encode(&[V3Record::Text(packet)], false, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// A poll's answer to a protocol 3 client: `msgs`, then the close packet.
fn v3_response(msgs: &[super::Message], close: bool, binary: bool) -> Response<Body> {
    let mut records = Vec::new();
    for msg in msgs {
        if !msg.text.is_empty() {
            records.push(V3Record::Text(msg.text.as_str()));
        }
        for att in msg.attachments.iter().flat_map(|a| a.iter()) {
            records.push(V3Record::Binary(att));
        }
    }
    if close {
        records.push(V3Record::Text("1"));
    }
    let mut out = Vec::new();
    let content_type = if polling_v3::encode(&records, binary, &mut out) {
        "application/octet-stream"
    } else {
        PAYLOAD_CONTENT_TYPE
    };
    text_response(StatusCode::OK, out, content_type)
}

/// Closes the session if a long poll is dropped before it answers.
struct AbortGuard<'a>(Option<&'a Session>);

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.close(CloseReason::TransportError);
        }
    }
}

async fn post<H, B>(engine: &Engine<H>, req: Request<B>, entry: &Entry<H::Conn>) -> Response<Body>
where
    H: Handler,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let session = &entry.session;
    if session.is_closed() {
        return error_response(ErrorCode::UnknownSid, None);
    }
    if !matches!(
        session.state(),
        STATE_POLLING | STATE_ATTACHED | STATE_UPGRADING
    ) {
        return error_response(ErrorCode::BadRequest, None);
    }
    let is_binary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
    if is_binary && session.eio3.is_none() {
        session.close(CloseReason::TransportError);
        return error_response(ErrorCode::BadRequest, None);
    }
    let max = engine.config.max_payload;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return text_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            "text/plain",
        );
    }
    if session.post_busy.swap(true, Ordering::AcqRel) {
        session.close(CloseReason::TransportError);
        return error_response(ErrorCode::BadRequest, None);
    }
    let _busy = PostGuard(session);
    // A body that dribbles in is cut off after a heartbeat period (or when
    // the session ends), so a slow client cannot hold a task forever.
    let deadline = engine.config.ping_interval + engine.config.ping_timeout;
    let read = tokio::select! {
        r = tokio::time::timeout(deadline, Limited::new(req.into_body(), max).collect()) => r,
        () = session.closed.wait() => return error_response(ErrorCode::BadRequest, None),
    };
    let Ok(read) = read else {
        session.close(CloseReason::TransportError);
        return error_response(ErrorCode::BadRequest, None);
    };
    let bytes = match read {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return text_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Payload Too Large",
                "text/plain",
            );
        }
        Err(_) => {
            session.close(CloseReason::TransportError);
            return error_response(ErrorCode::BadRequest, None);
        }
    };
    if session.eio3.is_some() {
        v3_post(engine, entry, &bytes, is_binary);
        return text_response(StatusCode::OK, "ok", "text/html");
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        session.close(CloseReason::ParseError);
        return text_response(StatusCode::OK, "ok", "text/html");
    };
    for record in polling::decode(text) {
        let keep_going = match record {
            Ok(Record::Text("1")) => {
                // A client closing as it polls sends both at once; Node,
                // reading in arrival order, answers the poll (a noop)
                // before the close. Give a poll on its way that moment.
                let wait_for_poll = async {
                    while session.owner.try_lock().is_ok() {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                };
                let _ = tokio::time::timeout(CLOSE_POLL_GRACE, wait_for_poll).await;
                engine.on_text(entry, "1")
            }
            Ok(Record::Text(t)) => engine.on_text(entry, t),
            Ok(Record::Binary(b)) => {
                engine.on_binary(entry, b);
                true
            }
            Err(_) => {
                session.close(CloseReason::ParseError);
                false
            }
        };
        if !keep_going || session.is_closed() {
            break;
        }
    }
    text_response(StatusCode::OK, "ok", "text/html")
}

/// Delivers the packets of a protocol 3 client's POST; a malformed
/// payload closes the session (parse error), as Node.
fn v3_post<H: Handler>(engine: &Engine<H>, entry: &Entry<H::Conn>, bytes: &Bytes, binary: bool) {
    let session = &entry.session;
    let packets = if binary {
        polling_v3::decode_binary(bytes)
    } else {
        match std::str::from_utf8(bytes) {
            Ok(text) => polling_v3::decode_text(text),
            Err(_) => Err(polling_v3::V3Error::Utf8),
        }
    };
    let Ok(packets) = packets else {
        session.close(CloseReason::ParseError);
        return;
    };
    for p in packets {
        let keep_going = match p {
            V3Packet::Text(t) => engine.on_text(entry, &t),
            V3Packet::Binary(b) => {
                engine.on_binary(entry, b);
                true
            }
        };
        if !keep_going || session.is_closed() {
            break;
        }
    }
}

struct PostGuard<'a>(&'a Session);

impl Drop for PostGuard<'_> {
    fn drop(&mut self) {
        self.0.post_busy.store(false, Ordering::Release);
    }
}

/// Owns a polling-born session (also after an upgrade): sends pings, waits
/// for pongs, and tears the session down when it closes.
pub(super) async fn owner<H: Handler>(
    engine: Arc<Engine<H>>,
    entry: Entry<H::Conn>,
    opened: tokio::time::Instant,
) {
    let session = entry.session.clone();
    tokio::select! {
        () = heartbeat(&engine, &session, opened) => {}
        () = session.closed.wait() => {}
    }
    // A server-side close over polling: give the client one long poll to
    // collect what was queued and the close packet (Node drains first too).
    let server_side = matches!(
        session.reason(),
        CloseReason::ForcedClose | CloseReason::ForcedServerClose | CloseReason::ServerShutdown
    );
    if server_side && session.state() != super::session::STATE_WEBSOCKET {
        let grace = engine
            .config
            .ping_timeout
            .min(std::time::Duration::from_secs(2));
        let _ = tokio::time::timeout(grace, session.close_delivered.wait()).await;
    } else {
        tokio::task::yield_now().await;
    }
    engine.teardown(&entry);
}

/// Pings every interval, the first one an interval after `opened` (when the
/// handshake request arrived, as Node's timer starts before it answers);
/// closes the session if no pong comes in time.
pub(super) async fn heartbeat<H: Handler>(
    engine: &Engine<H>,
    session: &Session,
    opened: tokio::time::Instant,
) {
    let cfg = &engine.config;
    if session.eio3.is_some() {
        return client_heartbeat(cfg, session, opened).await;
    }
    let mut ping_at = opened + cfg.ping_interval;
    loop {
        tokio::time::sleep_until(ping_at.checked_sub(TIMER_TICK).unwrap_or(ping_at)).await;
        session.activity.store(false, Ordering::Relaxed);
        // A full queue means the client is not reading: the ping is skipped
        // and the missing pong ends the session.
        let _ = session.try_send(super::Message::control("2"));
        let mut deadline = ping_at + cfg.ping_timeout;
        let mut extended = false;
        loop {
            let early = deadline.checked_sub(TIMER_TICK).unwrap_or(deadline);
            match tokio::time::timeout_at(early, session.pong.notified()).await {
                Ok(()) => {
                    ping_at = tokio::time::Instant::now() + cfg.ping_interval;
                    break;
                }
                // The official server extends the deadline once when other packets arrived.
                Err(_) if !extended && session.activity.swap(false, Ordering::Relaxed) => {
                    extended = true;
                    deadline += cfg.ping_timeout;
                }
                Err(_) => {
                    session.close(CloseReason::PingTimeout);
                    return;
                }
            }
        }
    }
}

/// Protocol 3: the client pings (each one notifies `session.pong`); no
/// ping for `ping_interval + ping_timeout` closes the session, as Node.
pub(super) async fn client_heartbeat(
    cfg: &super::EngineConfig,
    session: &Session,
    opened: tokio::time::Instant,
) {
    let period = cfg.ping_interval + cfg.ping_timeout;
    let mut deadline = opened + period;
    loop {
        let early = deadline.checked_sub(TIMER_TICK).unwrap_or(deadline);
        tokio::select! {
            r = tokio::time::timeout_at(early, session.pong.notified()) => match r {
                Ok(()) => deadline = tokio::time::Instant::now() + period,
                Err(_) => {
                    session.close(CloseReason::PingTimeout);
                    return;
                }
            },
            () = session.closed.wait() => return,
        }
    }
}
