//! Multi-step hostile cases: sids (unknown, expired, closed, stolen),
//! overlapping polling requests, chunked and declared payload sizes,
//! CONNECT floods, half-open and slow clients, upgrade abuse. Each entry
//! in [`cases`] carries its expected outcome; [`run`] checks it.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::cases::{Act, Case, Expect, Srv, Tr};
use super::common::raw::{self, Client, Frame, PATH, T, Ws, eio_url, ws_connect, ws_recv};
use super::{Apps, MAX, Seen, expect_alive, expect_closed, expect_reply, next_seen, session};

/// Sids no session has.
const UNKNOWN_SIDS: [&str; 7] = [
    "AAAAAAAAAAAAAAAAAAAA",
    "x",
    "AAAAAAAAAAAAAAAAAAAAA",
    "%00",
    "__proto__",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC",
];

/// Bad packets on a probing WebSocket (after or instead of `2probe`).
const BAD_PROBES: [&str; 6] = ["2PROBE", "2", "3probe", "2probe2", "", "42[\"x\"]"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scn {
    UnknownSid(usize),
    UnknownSidLong,
    ExpiredSid,
    ClosedSid,
    ParseErrorSid,
    StolenPollingPost,
    StolenPollingGet,
    StolenWsSidForPolling,
    StolenWsSidUpgrade,
    TwoGets,
    ThreeGets,
    TwoPosts,
    GetAndPost,
    AbortedGet,
    AbortedPost,
    PostAfterClose,
    ChunkedAtMax,
    ChunkedOverMax,
    DeclaredHuge,
    ChunkedBadSize,
    ManyDynamicNamespaces,
    ManyUnknownNamespaces,
    ConnectDisconnectCycles,
    ManyConnections,
    HandshakesWithoutConnect,
    SlowlorisDoesNotBlock,
    HalfOpenWebSocket,
    UpgradeRequestThenSilence,
    SlowPostBody,
    ForeignProbeHijack,
    ForeignProbeGarbage,
    ForeignProbeTimeout,
    SecondUpgrade,
    ConcurrentProbe,
    UpgradeWithoutProbe,
    DoubleProbe,
    BadProbe(usize),
    BinaryProbe,
    ProbeThenClose,
    ProbeClosedSid,
    PostDuringUpgrade,
    PendingGetReleased,
    UpgradeAsPolling,
}

impl Scn {
    pub fn server(self) -> Srv {
        match self {
            Scn::ExpiredSid
            | Scn::HandshakesWithoutConnect
            | Scn::HalfOpenWebSocket
            | Scn::UpgradeRequestThenSilence
            | Scn::SlowPostBody => Srv::Short,
            Scn::ManyConnections => Srv::Big,
            _ => Srv::Main,
        }
    }
}

fn sc(class: &'static str, name: &str, s: Scn) -> Case {
    super::cases::scenario_case(class, name, Act::Scenario(s))
}

/// The scenario cases with their expected outcomes.
pub fn cases(v: &mut Vec<Case>) {
    use Expect::Scenario as E;
    for (i, sid) in UNKNOWN_SIDS.iter().enumerate() {
        v.push(
            sc("sid", &format!("unknown sid {sid:?}"), Scn::UnknownSid(i))
                .ws(E("upgrade refused: HTTP 400 code 1 \"Session ID unknown\""))
                .poll(E("GET and POST: HTTP 400 code 1 \"Session ID unknown\"")),
        );
    }
    v.push(
        sc("sid", "unknown sid of 2000 bytes", Scn::UnknownSidLong)
            .ws(E("upgrade refused: HTTP 400 code 1"))
            .poll(E("GET and POST: HTTP 400 code 1")),
    );
    v.push(
        sc("sid", "expired sid (ping timeout)", Scn::ExpiredSid)
            .ws(E("WebSocket-born session expires; its sid then gets HTTP 400 code 1 (polling and upgrade)"))
            .poll(E("polling session expires; GET, POST and upgrade get HTTP 400 code 1")),
    );
    v.push(
        sc("sid", "sid of a session the client closed", Scn::ClosedSid)
            .ws(E(
                "after a close frame: polling with the sid gets HTTP 400 code 1",
            ))
            .poll(E("after a close packet: GET and POST get HTTP 400 code 1")),
    );
    v.push(
        sc(
            "sid",
            "sid of a session closed by a parse error",
            Scn::ParseErrorSid,
        )
        .ws(E("upgrade with the sid refused: HTTP 400 code 1"))
        .poll(E("GET and POST get HTTP 400 code 1")),
    );
    v.push(sc("sid", "stolen polling sid: POST from another connection", Scn::StolenPollingPost).poll(E(
        "accepted as the victim (the sid is the bearer credential, as in Node): 200 ok, the ack reaches the victim's GET",
    )));
    v.push(
        sc(
            "sid",
            "stolen polling sid: GET while the victim's GET is pending",
            Scn::StolenPollingGet,
        )
        .poll(E(
            "second GET: HTTP 400; the session closes; the victim's pending GET gets `1`",
        )),
    );
    v.push(
        sc(
            "sid",
            "stolen WebSocket sid used for polling",
            Scn::StolenWsSidForPolling,
        )
        .ws(E(
            "GET and POST: HTTP 400 code 3 (transport mismatch); the WebSocket session carries on",
        )),
    );
    v.push(
        sc("sid", "stolen WebSocket sid used for an upgrade", Scn::StolenWsSidUpgrade)
            .ws(E("Node: 101, then the second WebSocket may probe and take the session over"))
            .dev_ws(
                E("101, then closed at once; the WebSocket session carries on"),
                "oxsio accepts and closes a second WebSocket on a WebSocket-born session, as Node does for an upgraded one (engineio/websocket.rs close_at_once); Node's onWebSocket lets it probe and take the session over",
            ),
    );

    let o = "overlap";
    v.push(sc(o, "two concurrent GETs", Scn::TwoGets).poll(E(
        "second GET: HTTP 400; first GET gets `1`; session closed (code 1 afterwards)",
    )));
    v.push(sc(o, "three concurrent GETs", Scn::ThreeGets).poll(E(
        "later GETs: HTTP 400 (or `1` once closed); first GET gets `1`; session closed",
    )));
    v.push(
        sc(o, "two concurrent POSTs", Scn::TwoPosts)
            .poll(E("second POST: HTTP 400; session closed")),
    );
    v.push(sc(o, "GET pending while POSTing", Scn::GetAndPost).poll(E(
        "allowed: POST 200 ok, the ack arrives on the pending GET",
    )));
    v.push(sc(o, "aborted long poll", Scn::AbortedGet).poll(E(
        "session closed (transport error); sid unknown afterwards",
    )));
    v.push(sc(o, "aborted POST body", Scn::AbortedPost).poll(E(
        "session closed (transport error); sid unknown afterwards",
    )));
    v.push(sc(o, "POST after close packet", Scn::PostAfterClose).poll(E("HTTP 400 code 1")));

    let m = "max-payload";
    v.push(
        sc(m, "chunked POST of exactly max", Scn::ChunkedAtMax).poll(E("200 ok, ack delivered")),
    );
    v.push(sc(m, "chunked POST of max+1", Scn::ChunkedOverMax).poll(E("413, session survives")));
    v.push(
        sc(m, "Content-Length 10^12 without a body", Scn::DeclaredHuge)
            .poll(E("413 at once, session survives")),
    );
    v.push(
        sc(m, "chunked POST with a bad chunk size", Scn::ChunkedBadSize)
            .poll(E("session closed (transport error)")),
    );

    let f = "flood";
    v.push(
        sc(
            f,
            "100 dynamic namespaces on one connection",
            Scn::ManyDynamicNamespaces,
        )
        .ws(E("100 CONNECT answers, then an echo on the last namespace"))
        .poll(E("100 CONNECT answers, then an echo on the last namespace")),
    );
    v.push(
        sc(
            f,
            "200 CONNECTs to unknown namespaces",
            Scn::ManyUnknownNamespaces,
        )
        .ws(E("200 connect_error answers; the session stays open"))
        .poll(E("200 connect_error answers; the session stays open")),
    );
    v.push(
        sc(
            f,
            "100 CONNECT/DISCONNECT cycles",
            Scn::ConnectDisconnectCycles,
        )
        .ws(E("100 CONNECT answers; the session stays open"))
        .poll(E("100 CONNECT answers; the session stays open")),
    );
    v.push(
        sc(f, "100 connections at once", Scn::ManyConnections)
            .ws(E("all 100 connect and echo"))
            .poll(E("all 100 connect and echo")),
    );
    v.push(
        sc(
            f,
            "60 handshakes that never CONNECT",
            Scn::HandshakesWithoutConnect,
        )
        .ws(E("all closed by the connect timeout"))
        .poll(E("all closed by the connect timeout")),
    );

    let s = "slow";
    v.push(
        sc(
            s,
            "fresh clients while slowloris connections are open",
            Scn::SlowlorisDoesNotBlock,
        )
        .ws(E("20 clients connect and echo, each within 3 s"))
        .poll(E("20 clients connect and echo, each within 3 s")),
    );
    v.push(
        sc(
            s,
            "half-open WebSocket (client stops reading)",
            Scn::HalfOpenWebSocket,
        )
        .ws(E("closed by the ping timeout")),
    );
    v.push(
        sc(
            s,
            "WebSocket upgrade then silence",
            Scn::UpgradeRequestThenSilence,
        )
        .ws(E("open packet, pings, then closed by the ping timeout")),
    );
    v.push(
        sc(s, "POST body that never completes", Scn::SlowPostBody)
            .poll(E("Node: the POST is held until requestTimeout (300 s); the session expires meanwhile"))
            .dev_poll(
                E("the stalled POST is ended when its session expires (at most a heartbeat period)"),
                "oxsio bounds a POST body read by ping interval + timeout and by the session's life; Node waits up to requestTimeout (300 s)",
            ),
    );

    let u = "upgrade";
    v.push(sc(u, "probe on a foreign sid, then upgrade", Scn::ForeignProbeHijack).ws(E(
        "3probe, then the session moves to the attacker's WebSocket (the sid is the credential, as in Node); the victim's polling gets 400 code 3",
    )));
    v.push(
        sc(
            u,
            "probe on a foreign sid, then garbage",
            Scn::ForeignProbeGarbage,
        )
        .ws(E(
            "3probe, then the probe WebSocket is closed; the victim goes on polling",
        )),
    );
    v.push(
        sc(
            u,
            "probe on a foreign sid, never finished",
            Scn::ForeignProbeTimeout,
        )
        .ws(E(
            "3probe, closed at the upgrade timeout; the victim goes on polling",
        )),
    );
    v.push(
        sc(u, "second upgrade after an upgrade", Scn::SecondUpgrade).ws(E(
            "refused (HTTP 400 code 3) or closed; the upgraded session carries on",
        )),
    );
    v.push(
        sc(u, "second probe while probing", Scn::ConcurrentProbe).ws(E(
            "second refused (HTTP 400 code 3) or closed; the first upgrade completes",
        )),
    );
    v.push(
        sc(
            u,
            "upgrade packet 5 without probe",
            Scn::UpgradeWithoutProbe,
        )
        .ws(E(
            "Node: the upgrade completes (maybeUpgrade accepts `5` without a probe)",
        ))
        .dev_ws(
            E("the probe WebSocket is closed; the session goes on polling"),
            "engineio/websocket.rs probe() requires `2probe` before `5`",
        ),
    );
    v.push(
        sc(u, "probe twice", Scn::DoubleProbe)
            .ws(E("Node: `3probe` again"))
            .dev_ws(
                E("the probe WebSocket is closed; the session goes on polling"),
                "engineio/websocket.rs probe() aborts on a second `2probe`",
            ),
    );
    for (i, p) in BAD_PROBES.iter().enumerate() {
        v.push(sc(u, &format!("bad probe {p:?}"), Scn::BadProbe(i)).ws(E(
            "the probe WebSocket is closed; the session goes on polling",
        )));
    }
    v.push(sc(u, "binary frame as probe", Scn::BinaryProbe).ws(E(
        "the probe WebSocket is closed; the session goes on polling",
    )));
    v.push(
        sc(u, "probe, then the WebSocket closes", Scn::ProbeThenClose)
            .ws(E("the session goes on polling")),
    );
    v.push(sc(u, "upgrade on a closed sid", Scn::ProbeClosedSid).ws(E("refused: HTTP 400 code 1")));
    v.push(
        sc(u, "POST between probe and upgrade", Scn::PostDuringUpgrade).ws(E(
            "POST 200 ok; its ack comes out on the WebSocket after `5`",
        )),
    );
    v.push(
        sc(u, "pending GET during the probe", Scn::PendingGetReleased).ws(E(
            "the pending GET is answered `6`; after `5`, polling gets 400 code 3",
        )),
    );
    v.push(
        sc(
            u,
            "upgrade request with transport=polling",
            Scn::UpgradeAsPolling,
        )
        .ws(E(
            "rejected: Node answers 101 and closes; oxsio answers HTTP 400 code 3",
        )),
    );
}

// ---- helpers ------------------------------------------------------------------------

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

async fn expect_error(res: raw::HttpResponse, status: u16, code: u64) -> Result<(), String> {
    let json: serde_json::Value = serde_json::from_slice(&res.body).unwrap_or_default();
    ensure(res.status == status && json["code"] == code, || {
        format!(
            "expected {status} code {code}, got {} {:?}",
            res.status,
            res.text()
        )
    })
}

async fn upgrade_refused(addr: std::net::SocketAddr, sid: &str, code: u64) -> Result<(), String> {
    match ws_connect(addr, &eio_url(PATH, "websocket", Some(sid)), &[]).await {
        Ok(_) => Err("upgrade accepted".into()),
        Err(e) => match *e {
            tokio_tungstenite::tungstenite::Error::Http(res) => {
                let body = res.body().clone().unwrap_or_default();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                ensure(res.status() == 400 && json["code"] == code, || {
                    format!("upgrade answered {} {json}", res.status())
                })
            }
            other => Err(format!("upgrade failed oddly: {other}")),
        },
    }
}

/// The upgrade is refused, or accepted and then closed at once.
async fn upgrade_rejected(addr: std::net::SocketAddr, sid: &str) -> Result<(), String> {
    match ws_connect(addr, &eio_url(PATH, "websocket", Some(sid)), &[]).await {
        Err(_) => Ok(()),
        Ok(mut ws) => {
            let _ = ws.send(WsMessage::text("2probe")).await;
            match ws_recv(&mut ws, T).await {
                Some(Frame::Closed(_)) => Ok(()),
                other => Err(format!("second WebSocket answered {other:?}")),
            }
        }
    }
}

async fn probe(addr: std::net::SocketAddr, sid: &str) -> Result<Ws, String> {
    let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(sid)), &[])
        .await
        .map_err(|e| format!("upgrade refused: {e}"))?;
    ws.send(WsMessage::text("2probe"))
        .await
        .map_err(|e| e.to_string())?;
    match ws_recv(&mut ws, T).await {
        Some(Frame::Text(t)) if t == "3probe" => Ok(ws),
        other => Err(format!("probe answered {other:?}")),
    }
}

async fn ws_closes(ws: &mut Ws) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_recv(ws, left).await {
            Some(Frame::Closed(_)) => return Ok(()),
            Some(_) => continue,
            None => return Err("probe WebSocket still open".into()),
        }
    }
}

/// An echo over a raw WebSocket, answering pings.
async fn ws_echo(ws: &mut Ws, nsp_prefix: &str) -> Result<(), String> {
    ws.send(WsMessage::text(format!(
        "42{nsp_prefix}999[\"echo\",\"ws\"]"
    )))
    .await
    .map_err(|e| e.to_string())?;
    let want = format!("43{nsp_prefix}999[\"ws\"]");
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws_recv(ws, left).await {
            Some(Frame::Text(t)) if t == want => return Ok(()),
            Some(Frame::Text(t)) if t == "2" => {
                let _ = ws.send(WsMessage::text("3")).await;
            }
            Some(Frame::Text(t)) if t == "6" => {}
            other => return Err(format!("echo over the WebSocket answered {other:?}")),
        }
    }
}

/// A polling session joined to `/`.
async fn polling_victim(addr: std::net::SocketAddr) -> Client {
    session(addr, Tr::Polling, super::cases::Pre::Root).await
}

/// Sends `head` then waits, without ever finishing the body.
async fn partial_post(
    addr: std::net::SocketAddr,
    url: &str,
    declared: usize,
    sent: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {url} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {declared}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s
}

async fn tcp_closed_within(s: &mut TcpStream, d: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + d;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Sends Engine.IO texts in POSTs of at most `MAX` bytes (polling) or one
/// frame each (WebSocket).
async fn send_many(c: &mut Client, texts: &[String]) -> Result<(), String> {
    if !c.is_polling() {
        for t in texts {
            c.send_text(t).await;
        }
        return Ok(());
    }
    let mut batch: Vec<raw::Eio> = Vec::new();
    let mut size = 0;
    for t in texts {
        if size + t.len() + 1 > MAX && !batch.is_empty() {
            let status = c.send_batch(&batch).await;
            ensure(status == 200, || format!("POST answered {status}"))?;
            batch.clear();
            size = 0;
        }
        size += t.len() + 1;
        batch.push(raw::Eio::Text(t.clone()));
    }
    if !batch.is_empty() {
        let status = c.send_batch(&batch).await;
        ensure(status == 200, || format!("POST answered {status}"))?;
    }
    Ok(())
}

// ---- the scenarios ----------------------------------------------------------------------

pub async fn run(apps: &Apps, s: Scn, tr: Tr) -> Result<(), String> {
    let addr = s.server().addr(apps);
    match s {
        Scn::UnknownSid(i) => unknown_sid(addr, UNKNOWN_SIDS[i], tr).await,
        Scn::UnknownSidLong => unknown_sid(addr, &"A".repeat(2000), tr).await,
        Scn::ExpiredSid => {
            let mut c = super::client(addr, tr).await;
            c.auto_pong = false;
            let sid = c.sid.clone();
            // Pings every 200 ms, 200 ms timeout: gone well within 1.5 s.
            if tr == Tr::Ws {
                expect_closed(&mut c).await?;
            } else {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            let url = eio_url(PATH, "polling", Some(&sid));
            expect_error(raw::get(addr, &url).await, 400, 1).await?;
            expect_error(raw::post(addr, &url, b"40").await, 400, 1).await?;
            upgrade_refused(addr, &sid, 1).await
        }
        Scn::ClosedSid => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            let sid = c.sid.clone();
            match tr {
                Tr::Polling => {
                    c.send_text("1").await;
                }
                Tr::Ws => {
                    let _ = c.ws_mut().close(None).await;
                }
            }
            let url = eio_url(PATH, "polling", Some(&sid));
            sid_gone(addr, &url).await?;
            expect_error(raw::get(addr, &url).await, 400, 1).await
        }
        Scn::ParseErrorSid => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            let sid = c.sid.clone();
            c.send_text("9").await;
            expect_closed(&mut c).await?;
            let url = eio_url(PATH, "polling", Some(&sid));
            match tr {
                Tr::Polling => {
                    expect_error(raw::get(addr, &url).await, 400, 1).await?;
                    expect_error(raw::post(addr, &url, b"40").await, 400, 1).await
                }
                Tr::Ws => upgrade_refused(addr, &sid, 1).await,
            }
        }
        Scn::StolenPollingPost => {
            let mut victim = polling_victim(addr).await;
            let res = raw::post(addr, &victim.polling_url(), b"42999[\"echo\",\"stolen\"]").await;
            ensure(res.status == 200, || {
                format!("attacker POST answered {}", res.status)
            })?;
            expect_reply(&mut victim, "43999[\"stolen\"]").await?;
            expect_alive(&mut victim, true).await
        }
        Scn::StolenWsSidForPolling => {
            let mut c = session(addr, Tr::Ws, super::cases::Pre::Root).await;
            let url = eio_url(PATH, "polling", Some(&c.sid));
            expect_error(raw::get(addr, &url).await, 400, 3).await?;
            expect_error(raw::post(addr, &url, b"42[\"x\"]").await, 400, 3).await?;
            expect_alive(&mut c, true).await
        }
        Scn::StolenWsSidUpgrade => {
            let mut c = session(addr, Tr::Ws, super::cases::Pre::Root).await;
            upgrade_rejected(addr, &c.sid).await?;
            expect_alive(&mut c, true).await
        }
        Scn::StolenPollingGet | Scn::TwoGets => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let first = tokio::spawn({
                let url = url.clone();
                async move { raw::get(addr, &url).await }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Node answers the overlapping GET 400 with an empty body; oxsio
            // adds {"code":3}: only the status is compared.
            let second = raw::get(addr, &url).await;
            ensure(second.status == 400, || {
                format!("second GET answered {}", second.status)
            })?;
            let first = tokio::time::timeout(T, first)
                .await
                .map_err(|_| "first GET never answered")?
                .map_err(|e| e.to_string())?;
            ensure(
                first.status == 200 && first.text().split('\x1e').any(|r| r == "1"),
                || format!("first GET: {} {:?}", first.status, first.text()),
            )?;
            sid_gone(addr, &url).await
        }
        Scn::ThreeGets => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let first = tokio::spawn({
                let url = url.clone();
                async move { raw::get(addr, &url).await }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (a, b) = tokio::join!(raw::get(addr, &url), raw::get(addr, &url));
            // One of them overlaps the pending GET (400); the other either
            // overlaps too or finds the session closed (400, or its `1`).
            let late_ok = |r: &raw::HttpResponse| {
                r.status == 400 || (r.status == 200 && r.text().split('\x1e').any(|x| x == "1"))
            };
            ensure(
                (a.status == 400 || b.status == 400) && late_ok(&a) && late_ok(&b),
                || {
                    format!(
                        "later GETs: {} {:?}, {} {:?}",
                        a.status,
                        a.text(),
                        b.status,
                        b.text()
                    )
                },
            )?;
            let first = tokio::time::timeout(T, first)
                .await
                .map_err(|_| "first GET never answered")?
                .map_err(|e| e.to_string())?;
            ensure(first.text().split('\x1e').any(|r| r == "1"), || {
                format!("first GET: {:?}", first.text())
            })?;
            sid_gone(addr, &url).await
        }
        Scn::TwoPosts => {
            let mut victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let _slow = partial_post(addr, &url, 20, b"42").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let second = raw::post(addr, &url, b"42[\"x\"]").await;
            ensure(second.status == 400, || {
                format!("second POST answered {}", second.status)
            })?;
            expect_closed(&mut victim).await.map(|_| ())
        }
        Scn::GetAndPost => {
            let mut victim = polling_victim(addr).await;
            // Start the long poll, then POST on another connection.
            let _ = victim.recv_eio_timeout(Duration::from_millis(50)).await;
            let res = raw::post(addr, &victim.polling_url(), b"42999[\"echo\",\"both\"]").await;
            ensure(res.status == 200, || {
                format!("POST answered {}", res.status)
            })?;
            expect_reply(&mut victim, "43999[\"both\"]").await
        }
        Scn::AbortedGet => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(tcp);
            sid_gone(addr, &url).await
        }
        Scn::AbortedPost => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let tcp = partial_post(addr, &url, 50, b"42[\"ec").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(tcp);
            sid_gone(addr, &url).await
        }
        Scn::PostAfterClose => {
            let mut victim = polling_victim(addr).await;
            victim.send_text("1").await;
            let url = victim.polling_url();
            sid_gone(addr, &url).await?;
            expect_error(raw::post(addr, &url, b"42[\"x\"]").await, 400, 1).await
        }
        Scn::ChunkedAtMax | Scn::ChunkedOverMax => {
            let mut victim = polling_victim(addr).await;
            let len = if s == Scn::ChunkedAtMax { MAX } else { MAX + 1 };
            let prefix = "42999[\"echo\",\"";
            let fill = "c".repeat(len - prefix.len() - 2);
            let body = format!("{prefix}{fill}\"]");
            let half = body.len() / 2;
            let req = format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                victim.polling_url(),
                half,
                &body[..half],
                body.len() - half,
                &body[half..]
            );
            let res = raw::http_raw(addr, req.as_bytes()).await;
            if s == Scn::ChunkedAtMax {
                ensure(res.status == 200, || {
                    format!("POST answered {}", res.status)
                })?;
                expect_reply(&mut victim, &format!("43999[\"{fill}\"]")).await?;
            } else {
                ensure(res.status == 413, || {
                    format!("POST answered {}", res.status)
                })?;
            }
            expect_alive(&mut victim, true).await
        }
        Scn::DeclaredHuge => {
            let mut victim = polling_victim(addr).await;
            let req = format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 1000000000000\r\n\r\n",
                victim.polling_url()
            );
            let (status, _) = super::exchange(addr, req.as_bytes()).await?;
            ensure(status == 413, || format!("POST answered {status}"))?;
            expect_alive(&mut victim, true).await
        }
        Scn::ChunkedBadSize => {
            let mut victim = polling_victim(addr).await;
            let req = format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n42\r\n0\r\n\r\n",
                victim.polling_url()
            );
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(req.as_bytes()).await.unwrap();
            let _ = tcp_closed_within(&mut tcp, T).await;
            expect_closed(&mut victim).await.map(|_| ())
        }
        Scn::ManyDynamicNamespaces => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            let texts: Vec<String> = (0..100).map(|i| format!("40/dyn-{i},")).collect();
            send_many(&mut c, &texts).await?;
            for i in 0..100 {
                expect_reply(&mut c, &format!("40/dyn-{i},{{\"sid\":*")).await?;
            }
            c.send_text("42/dyn-99,999[\"echo\",\"ws\"]").await;
            expect_reply(&mut c, "43/dyn-99,999[\"ws\"]").await?;
            expect_alive(&mut c, true).await
        }
        Scn::ManyUnknownNamespaces => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            let texts: Vec<String> = (0..200).map(|i| format!("40/x{i},")).collect();
            send_many(&mut c, &texts).await?;
            for i in 0..200 {
                expect_reply(
                    &mut c,
                    &format!("44/x{i},{{\"message\":\"Invalid namespace\"}}"),
                )
                .await?;
            }
            expect_alive(&mut c, true).await
        }
        Scn::ConnectDisconnectCycles => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            let texts: Vec<String> = (0..100)
                .flat_map(|_| ["40/admin,".to_owned(), "41/admin,".to_owned()])
                .collect();
            send_many(&mut c, &texts).await?;
            for _ in 0..100 {
                expect_reply(&mut c, "40/admin,{\"sid\":*").await?;
            }
            expect_alive(&mut c, true).await
        }
        Scn::ManyConnections => {
            let tasks: Vec<_> = (0..100)
                .map(|_| tokio::spawn(async move { super::healthy(addr, tr).await }))
                .collect();
            for t in tasks {
                t.await.map_err(|e| e.to_string())??;
            }
            Ok(())
        }
        Scn::HandshakesWithoutConnect => {
            let mut clients = Vec::new();
            for _ in 0..60 {
                let mut c = super::client(addr, tr).await;
                c.auto_pong = true;
                clients.push(c);
            }
            // connect timeout 600 ms.
            for mut c in clients {
                expect_closed(&mut c).await?;
            }
            Ok(())
        }
        Scn::SlowlorisDoesNotBlock => {
            for i in 0..20 {
                let started = tokio::time::Instant::now();
                super::healthy(addr, tr).await?;
                let took = started.elapsed();
                ensure(took < Duration::from_secs(3), || {
                    format!("client {i} took {took:?}")
                })?;
            }
            Ok(())
        }
        Scn::HalfOpenWebSocket => {
            let mut c = session(addr, tr, super::cases::Pre::Root).await;
            // Stop reading and answering: just wait, then look.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            c.auto_pong = false;
            expect_closed(&mut c).await.map(|_| ())
        }
        Scn::UpgradeRequestThenSilence => {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(&super::ws_request(&eio_url(PATH, "websocket", None), &[]))
                .await
                .unwrap();
            ensure(tcp_closed_within(&mut tcp, T).await, || {
                "silent WebSocket not closed".into()
            })
        }
        Scn::SlowPostBody => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let mut slow = partial_post(addr, &url, 100, b"42[\"ec").await;
            // The session expires (no GET, no pong) within ~1 s.
            sid_gone(addr, &url).await?;
            let closed = tcp_closed_within(&mut slow, Duration::from_millis(1500)).await;
            ensure(closed, || "a stalled POST body outlived its session".into())
        }
        Scn::ForeignProbeHijack => {
            let victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            ws.send(WsMessage::text("5"))
                .await
                .map_err(|e| e.to_string())?;
            ws_echo(&mut ws, "").await?;
            expect_error(raw::get(addr, &victim.polling_url()).await, 400, 3).await
        }
        Scn::ForeignProbeGarbage => {
            let mut victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            let _ = ws.send(WsMessage::text("42[\"echo\"]")).await;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::ForeignProbeTimeout => {
            let mut victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            // upgrade timeout 800 ms; keep the victim polling meanwhile.
            expect_alive(&mut victim, true).await?;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::SecondUpgrade => {
            let mut c = polling_victim(addr).await;
            c.upgrade().await;
            upgrade_rejected(addr, &c.sid).await?;
            expect_alive(&mut c, true).await
        }
        Scn::ConcurrentProbe => {
            let victim = polling_victim(addr).await;
            let mut first = probe(addr, &victim.sid).await?;
            upgrade_rejected(addr, &victim.sid).await?;
            first
                .send(WsMessage::text("5"))
                .await
                .map_err(|e| e.to_string())?;
            ws_echo(&mut first, "").await
        }
        Scn::UpgradeWithoutProbe => {
            let mut victim = polling_victim(addr).await;
            let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&victim.sid)), &[])
                .await
                .map_err(|e| e.to_string())?;
            let _ = ws.send(WsMessage::text("5")).await;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::DoubleProbe => {
            let mut victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            let _ = ws.send(WsMessage::text("2probe")).await;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::BadProbe(i) => {
            let mut victim = polling_victim(addr).await;
            let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&victim.sid)), &[])
                .await
                .map_err(|e| e.to_string())?;
            let _ = ws.send(WsMessage::text(BAD_PROBES[i])).await;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::BinaryProbe => {
            let mut victim = polling_victim(addr).await;
            let mut ws = ws_connect(addr, &eio_url(PATH, "websocket", Some(&victim.sid)), &[])
                .await
                .map_err(|e| e.to_string())?;
            let _ = ws.send(WsMessage::binary(b"2probe".to_vec())).await;
            ws_closes(&mut ws).await?;
            expect_alive(&mut victim, true).await
        }
        Scn::ProbeThenClose => {
            let mut victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            let _ = ws.close(None).await;
            drop(ws);
            tokio::time::sleep(Duration::from_millis(50)).await;
            expect_alive(&mut victim, true).await
        }
        Scn::ProbeClosedSid => {
            let mut victim = polling_victim(addr).await;
            victim.send_text("1").await;
            let url = victim.polling_url();
            sid_gone(addr, &url).await?;
            upgrade_refused(addr, &victim.sid, 1).await
        }
        Scn::PostDuringUpgrade => {
            let victim = polling_victim(addr).await;
            let mut ws = probe(addr, &victim.sid).await?;
            let res = raw::post(addr, &victim.polling_url(), b"42999[\"echo\",\"mid\"]").await;
            ensure(res.status == 200, || {
                format!("POST answered {}", res.status)
            })?;
            ws.send(WsMessage::text("5"))
                .await
                .map_err(|e| e.to_string())?;
            match ws_recv(&mut ws, T).await {
                Some(Frame::Text(t)) if t == "43999[\"mid\"]" => ws_echo(&mut ws, "").await,
                other => Err(format!("after `5` the WebSocket got {other:?}")),
            }
        }
        Scn::PendingGetReleased => {
            let victim = polling_victim(addr).await;
            let url = victim.polling_url();
            let pending = tokio::spawn({
                let url = url.clone();
                async move { raw::get(addr, &url).await }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut ws = probe(addr, &victim.sid).await?;
            let released = tokio::time::timeout(T, pending)
                .await
                .map_err(|_| "pending GET not released")?
                .map_err(|e| e.to_string())?;
            ensure(released.text() == "6", || {
                format!("pending GET got {:?}", released.text())
            })?;
            ws.send(WsMessage::text("5"))
                .await
                .map_err(|e| e.to_string())?;
            ws_echo(&mut ws, "").await?;
            expect_error(raw::get(addr, &url).await, 400, 3).await
        }
        Scn::UpgradeAsPolling => {
            let victim = polling_victim(addr).await;
            let target = eio_url(PATH, "polling", Some(&victim.sid));
            let (status, body) = super::exchange(addr, &super::ws_request(&target, &[])).await?;
            super::check_http(&Expect::Http(400, Some(3)), status, &body)
        }
    }
}

async fn unknown_sid(addr: std::net::SocketAddr, sid: &str, tr: Tr) -> Result<(), String> {
    match tr {
        Tr::Polling => {
            let url = eio_url(PATH, "polling", Some(sid));
            expect_error(raw::get(addr, &url).await, 400, 1).await?;
            expect_error(raw::post(addr, &url, b"40").await, 400, 1).await
        }
        Tr::Ws => upgrade_refused(addr, sid, 1).await,
    }
}

/// Waits (at most [`T`]) until `url`'s sid is unknown: HTTP 400 code 1.
async fn sid_gone(addr: std::net::SocketAddr, url: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        // A noop POST: answered at once whether the session lives or not.
        let res = raw::post(addr, url, b"6").await;
        if res.status == 400
            && serde_json::from_slice::<serde_json::Value>(&res.body)
                .ok()
                .is_some_and(|j| j["code"] == 1)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("sid still known: {} {:?}", res.status, res.text()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[allow(unused)]
fn _unused(_: Seen) {
    let _ = next_seen;
}
