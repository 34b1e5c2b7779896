//! The hostile-input case table. Each case: a class, a name, what is sent,
//! and the expected outcome per transport as the official Node server
//! answers (socket.io 4.8 / engine.io 6.6; PROTOCOL.md, tests/bad_input.rs,
//! tests/engineio.rs). Where oxsio knowingly answers otherwise, `dev`
//! records oxsio's outcome (the one asserted) with the reason.
//!
//! Outcomes:
//! - `Closed`: the Engine.IO session is closed (WebSocket closed; polling:
//!   the next GET gets `1` or HTTP 400).
//! - `WsClose(code)`: the WebSocket is closed with this close code.
//! - `Open`: ignored; the session lives (an echo on it is acked next).
//! - `Left`: the namespace `/` was left, the session lives (re-CONNECT works).
//! - `Reply(p)`: the next message is `p` (exact, or a prefix when `p` ends in
//!   `*`), then the session lives. `Replies(n, p)`: n such messages.
//! - `ReplyClosed(p)`: the next message is `p`, then the session closes.
//! - `Status(s)`: the POST is answered `s` and the session lives;
//!   `StatusClosed(s)`: answered `s` and the session closes.
//! - `Http(status, code)`: the HTTP answer (and Engine.IO error code
//!   `{"code":N,...}`); 200/101 must carry the open packet.
//! - `Scenario(text)`: a multi-step scenario (tests/hostile/scenarios.rs)
//!   checks what the text says.
#![allow(dead_code)]

use std::net::SocketAddr;

use super::common::raw::Eio;
use super::scenarios::Scn;
use super::{Apps, BIG, MAX};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tr {
    Ws,
    Polling,
}

impl Tr {
    pub fn name(self) -> &'static str {
        match self {
            Tr::Ws => "websocket",
            Tr::Polling => "polling",
        }
    }
}

/// What the session has joined before the case's input is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pre {
    /// Engine.IO only: no Socket.IO CONNECT yet.
    None,
    /// Joined `/`.
    Root,
    /// Joined `/` and `/admin`.
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Srv {
    Main,
    Big,
    Short,
}

impl Srv {
    pub fn addr(self, apps: &Apps) -> SocketAddr {
        match self {
            Srv::Main => apps.main(),
            Srv::Big => apps.big(),
            Srv::Short => apps.short(),
        }
    }
}

/// A raw WebSocket frame.
#[derive(Clone, Debug)]
pub enum RawFrame {
    /// A text frame with arbitrary (possibly invalid UTF-8) bytes.
    Text(Vec<u8>),
    Binary(Vec<u8>),
    /// One message in fragments (`true`: text, `false`: binary).
    Fragments(bool, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame with this raw payload.
    Close(Vec<u8>),
}

#[derive(Clone, Debug)]
pub enum Act {
    /// Engine.IO messages on a new session (one WebSocket frame each, or one
    /// POST joined with `\x1e`).
    Send {
        server: Srv,
        pre: Pre,
        items: Vec<Eio>,
    },
    /// Polling: POST this raw body (with this Content-Type, if any).
    Body {
        pre: Pre,
        body: Vec<u8>,
        content_type: Option<&'static str>,
    },
    /// WebSocket: raw frames.
    Frames {
        pre: Pre,
        frames: Vec<RawFrame>,
    },
    /// A handshake on `path` + `query` (`{T}` stands for the transport):
    /// polling as a plain GET, websocket as an upgrade request.
    Handshake {
        path: String,
        query: String,
        headers: Vec<(&'static str, &'static str)>,
    },
    /// Raw bytes on a fresh TCP connection; the HTTP answer is checked.
    Raw(Vec<u8>),
    Scenario(Scn),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Closed,
    WsClose(u16),
    Open,
    Left,
    Reply(String),
    Replies(usize, String),
    ReplyClosed(String),
    Status(u16),
    StatusClosed(u16),
    Http(u16, Option<u8>),
    Scenario(&'static str),
}

impl Expect {
    pub fn label(&self) -> &'static str {
        match self {
            Expect::Closed => "closed",
            Expect::WsClose(1009) => "ws close 1009",
            Expect::WsClose(1007) => "ws close 1007",
            Expect::WsClose(_) => "ws close",
            Expect::Open => "ignored",
            Expect::Left => "nsp left",
            Expect::Reply(p) if p.starts_with("44") => "connect_error",
            Expect::Reply(p) if p.starts_with("40") => "connected",
            Expect::Reply(_) | Expect::Replies(..) => "answered",
            Expect::ReplyClosed(_) => "answered+closed",
            Expect::Status(413) => "413",
            Expect::Status(_) => "status",
            Expect::StatusClosed(_) => "400+closed",
            Expect::Http(200 | 101, _) => "handshake ok",
            Expect::Http(400, _) => "HTTP 400",
            Expect::Http(404, _) => "HTTP 404",
            Expect::Http(_, _) => "HTTP other",
            Expect::Scenario(_) => "scenario",
        }
    }
}

pub struct Case {
    pub class: &'static str,
    pub name: String,
    pub act: Act,
    ws: Option<Expect>,
    poll: Option<Expect>,
    dev_ws: Option<(Expect, &'static str)>,
    dev_poll: Option<(Expect, &'static str)>,
}

impl Case {
    /// The outcome asserted: oxsio's where a deviation is recorded, else the
    /// official server's.
    pub fn expect(&self, tr: Tr) -> Option<&Expect> {
        let (node, dev) = match tr {
            Tr::Ws => (&self.ws, &self.dev_ws),
            Tr::Polling => (&self.poll, &self.dev_poll),
        };
        node.as_ref()?;
        dev.as_ref().map(|(e, _)| e).or(node.as_ref())
    }

    /// The known deviation on `tr`: what Node does, what oxsio does, why.
    pub fn deviation(&self, tr: Tr) -> Option<String> {
        let (node, dev) = match tr {
            Tr::Ws => (&self.ws, &self.dev_ws),
            Tr::Polling => (&self.poll, &self.dev_poll),
        };
        let (node, (ox, why)) = (node.as_ref()?, dev.as_ref()?);
        let (node, ox) = (
            super::short(&format!("{node:?}")),
            super::short(&format!("{ox:?}")),
        );
        Some(format!("Node: {node}; oxsio: {ox}: {why}"))
    }

    pub fn server(&self) -> Srv {
        match &self.act {
            Act::Send { server, .. } => *server,
            Act::Scenario(s) => s.server(),
            _ => Srv::Main,
        }
    }

    pub fn both(mut self, e: Expect) -> Case {
        self.ws = Some(e.clone());
        self.poll = Some(e);
        self
    }
    pub fn ws(mut self, e: Expect) -> Case {
        self.ws = Some(e);
        self
    }
    pub fn poll(mut self, e: Expect) -> Case {
        self.poll = Some(e);
        self
    }
    /// oxsio answers `e` instead of the official server's outcome, on both.
    pub fn dev(mut self, e: Expect, why: &'static str) -> Case {
        self.dev_ws = Some((e.clone(), why));
        self.dev_poll = Some((e, why));
        self
    }
    pub fn dev_ws(mut self, e: Expect, why: &'static str) -> Case {
        self.dev_ws = Some((e, why));
        self
    }
    pub fn dev_poll(mut self, e: Expect, why: &'static str) -> Case {
        self.dev_poll = Some((e, why));
        self
    }
}

/// A case whose expectations the caller adds (scenarios).
pub fn scenario_case(class: &'static str, name: &str, act: Act) -> Case {
    case(class, name, act)
}

fn case(class: &'static str, name: impl Into<String>, act: Act) -> Case {
    Case {
        class,
        name: name.into(),
        act,
        ws: None,
        poll: None,
        dev_ws: None,
        dev_poll: None,
    }
}

fn t(s: impl Into<String>) -> Eio {
    Eio::Text(s.into())
}

fn b(bytes: &[u8]) -> Eio {
    Eio::Binary(bytes.to_vec())
}

fn send(pre: Pre, items: Vec<Eio>) -> Act {
    Act::Send {
        server: Srv::Main,
        pre,
        items,
    }
}

fn send_big(pre: Pre, items: Vec<Eio>) -> Act {
    Act::Send {
        server: Srv::Big,
        pre,
        items,
    }
}

/// One text message on a session joined to `/`.
fn one(text: impl Into<String>) -> Act {
    send(Pre::Root, vec![t(text)])
}

fn body(pre: Pre, bytes: impl Into<Vec<u8>>) -> Act {
    Act::Body {
        pre,
        body: bytes.into(),
        content_type: Some("text/plain;charset=UTF-8"),
    }
}

fn frames(frames: Vec<RawFrame>) -> Act {
    Act::Frames {
        pre: Pre::Root,
        frames,
    }
}

fn hs(path: &str, query: &str) -> Act {
    Act::Handshake {
        path: path.into(),
        query: query.into(),
        headers: Vec::new(),
    }
}

fn reply(p: impl Into<String>) -> Expect {
    Expect::Reply(p.into())
}

/// `{"_placeholder":true,"num":n}`.
pub fn ph(n: i64) -> String {
    format!(r#"{{"_placeholder":true,"num":{n}}}"#)
}

fn invalid_ns(nsp: &str) -> Expect {
    reply(format!(r#"44{nsp},{{"message":"Invalid namespace"}}"#))
}

const CONNECTED: &str = "40{\"sid\":*";

/// An `echo` (ack id 999) whose whole Engine.IO text is exactly `len` bytes,
/// and its acknowledgement.
fn sized_echo(len: usize, fill: char) -> (String, String) {
    let prefix = "42999[\"echo\",\"";
    let n = (len - prefix.len() - 2) / fill.len_utf8();
    let s: String = std::iter::repeat_n(fill, n).collect();
    let text = format!("{prefix}{s}\"]");
    assert!(text.len() <= len && text.len() + fill.len_utf8() > len);
    (text, format!("43999[\"{s}\"]"))
}

pub fn table() -> Vec<Case> {
    let mut v = Vec::new();
    engineio_packets(&mut v);
    polling_payloads(&mut v);
    max_payload(&mut v);
    socketio_packets(&mut v);
    socketio_state(&mut v);
    attachments(&mut v);
    placeholders(&mut v);
    nesting(&mut v);
    utf8(&mut v);
    huge_names(&mut v);
    query(&mut v);
    http(&mut v);
    super::scenarios::cases(&mut v);
    v
}

// ---- Engine.IO packets ---------------------------------------------------------

fn engineio_packets(v: &mut Vec<Case>) {
    const C: &str = "eio-packet";
    // Not a packet type: engine.io-parser returns its error packet, the
    // session closes ("parse error").
    for (name, text) in [
        ("empty message", ""),
        ("type 7", "7"),
        ("type 8", "8"),
        ("type 9 with data", "9hello"),
        ("type a", "a"),
        ("type B (binary marker is lowercase)", "BAQID"),
        ("type -", "-1"),
        ("leading space", " 4x"),
        ("tab", "\t"),
        ("type €", "€"),
        ("type emoji", "\u{1F600}"),
        ("NUL", "\u{0}"),
        ("BOM before type", "\u{feff}42[\"echo\"]"),
        ("JSON object", "{}"),
        ("JSON array", "[]"),
    ] {
        v.push(case(C, format!("unknown type: {name}"), one(text)).both(Expect::Closed));
    }
    // Client ping: "invalid heartbeat direction" in v4.
    for text in ["2", "2probe", "2 "] {
        v.push(case(C, format!("client ping {text:?}"), one(text)).both(Expect::Closed));
    }
    // Pong, upgrade and noop outside an upgrade: ignored.
    for text in ["3", "3probe", "3garbage", "5", "5probe", "6", "6abc"] {
        v.push(case(C, format!("stray {text:?}"), one(text)).both(Expect::Open));
    }
    v.push(
        case(
            C,
            "fifty unsolicited pongs",
            send(Pre::Root, vec![t("3"); 50]),
        )
        .both(Expect::Open),
    );
    // Client open packet: Node's Socket.onPacket has no case for it (ignored).
    for text in ["0", "0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\"}"] {
        v.push(case(C, format!("client open packet {text:?}"), one(text)).both(Expect::Open));
    }
    // Close: polling closes; Node's WebSocket transport ignores `1`.
    for text in ["1", "1garbage"] {
        v.push(
            case(C, format!("client close {text:?}"), one(text))
                .both(Expect::Closed)
                .ws(Expect::Open)
                .dev_ws(
                    Expect::Closed,
                    "oxsio follows the spec (close); Node's ws transport ignores `1` until the ping timeout",
                ),
        );
    }
    // `4` without data: Node's socket.io hands `undefined` to the parser,
    // which throws; the connection closes.
    v.push(case(C, "empty message 4", one("4")).both(Expect::Closed));
    // Binary messages with nothing pending: "got binary data when not
    // reconstructing a packet".
    v.push(case(C, "empty b record / b text frame", one("b")).both(Expect::Closed));
    v.push(case(C, "b record without header", one("bAQID")).both(Expect::Closed));
    v.push(case(C, "empty binary frame", send(Pre::Root, vec![b(&[])])).both(Expect::Closed));
    v.push(
        case(
            C,
            "EIO3-style binary (0x04 type byte)",
            send(Pre::Root, vec![b(&[4, 1, 2, 3])]),
        )
        .both(Expect::Closed),
    );
    // Raw WebSocket frames.
    v.push(
        case(
            C,
            "fragmented text message",
            frames(vec![RawFrame::Fragments(
                true,
                vec![b"42999[\"ec".to_vec(), b"ho\",".to_vec(), b"1]".to_vec()],
            )]),
        )
        .ws(reply("43999[1]")),
    );
    v.push(
        case(
            C,
            "ping control frame",
            frames(vec![RawFrame::Ping(b"hi".to_vec())]),
        )
        .ws(Expect::Open),
    );
    v.push(
        case(
            C,
            "unsolicited pong control frame",
            frames(vec![RawFrame::Pong(b"hi".to_vec())]),
        )
        .ws(Expect::Open),
    );
    v.push(
        case(
            C,
            "oversized ping control frame (200 bytes)",
            frames(vec![RawFrame::Ping(vec![b'p'; 200])]),
        )
        .ws(Expect::Closed),
    );
    v.push(
        case(
            C,
            "close frame with code 4000",
            frames(vec![RawFrame::Close(vec![0x0f, 0xa0, b'x'])]),
        )
        .ws(Expect::Closed),
    );
    v.push(
        case(
            C,
            "close frame with reserved code 1005",
            frames(vec![RawFrame::Close(vec![0x03, 0xed])]),
        )
        .ws(Expect::Closed),
    );
    v.push(
        case(
            C,
            "close frame with 1-byte payload",
            frames(vec![RawFrame::Close(vec![0x03])]),
        )
        .ws(Expect::Closed),
    );
    v.push(
        case(
            C,
            "continuation frame without a start",
            frames(vec![RawFrame::Fragments(false, vec![])]),
        )
        .ws(Expect::Open),
    );
}

// ---- polling payloads --------------------------------------------------------------

fn polling_payloads(v: &mut Vec<Case>) {
    const C: &str = "polling-payload";
    // decodePayload: an empty record is an error packet → parse error.
    for (name, payload) in [
        ("empty body", ""),
        ("lone separator", "\x1e"),
        ("trailing separator", "42[\"x\"]\x1e"),
        ("leading separator", "\x1e42[\"x\"]"),
        ("double separator", "3\x1e\x1e3"),
        ("separator inside a JSON string", "42[\"echo\",\"a\x1eb\"]"),
    ] {
        v.push(case(C, name, body(Pre::Root, payload)).poll(Expect::Closed));
    }
    v.push(case(C, "pongs and noops", body(Pre::Root, "3\x1e6\x1e5\x1e3")).poll(Expect::Open));
    v.push(
        case(
            C,
            "300 noop records",
            body(Pre::Root, vec!["6"; 300].join("\x1e")),
        )
        .poll(Expect::Open),
    );
    v.push(
        case(
            C,
            "CRLF after a packet (JSON whitespace)",
            body(Pre::Root, "42999[\"echo\",1]\r\n"),
        )
        .poll(reply("43999[1]")),
    );
    v.push(
        case(
            C,
            "binary record with invalid base64 (decoded leniently)",
            body(Pre::Root, format!("451-999[\"echo\",{}]\x1eb!!!", ph(0))),
        )
        .poll(reply(format!("461-999[{}]", ph(0)))),
    );
    v.push(
        case(
            C,
            "binary record with URL-safe base64",
            body(Pre::Root, format!("451-999[\"echo\",{}]\x1eb-_8", ph(0))),
        )
        .poll(reply(format!("461-999[{}]", ph(0)))),
    );
    v.push(
        case(
            C,
            "text records around a pending binary",
            body(
                Pre::Root,
                format!("451-999[\"echo\",{}]\x1e3\x1ebAQID", ph(0)),
            ),
        )
        // `3` is an Engine.IO pong: it never reaches the Socket.IO decoder.
        .poll(reply(format!("461-999[{}]", ph(0)))),
    );
    v.push(case(C, "ping record", body(Pre::Root, "2probe")).poll(Expect::Closed));
    v.push(
        case(
            C,
            "close record then message",
            body(Pre::Root, "1\x1e42999[\"echo\",1]"),
        )
        .poll(Expect::Closed),
    );
    v.push(
        case(
            C,
            "no Content-Type",
            Act::Body {
                pre: Pre::Root,
                body: b"42999[\"echo\",2]".to_vec(),
                content_type: None,
            },
        )
        .poll(reply("43999[2]")),
    );
    v.push(
        case(
            C,
            "Content-Type application/json",
            Act::Body {
                pre: Pre::Root,
                body: b"42999[\"echo\",3]".to_vec(),
                content_type: Some("application/json"),
            },
        )
        .poll(reply("43999[3]")),
    );
    v.push(
        case(
            C,
            "Content-Type application/octet-stream (EIO3 binary payload)",
            Act::Body {
                pre: Pre::Root,
                body: vec![4, 1, 2, 3],
                content_type: Some("application/octet-stream"),
            },
        )
        .poll(Expect::StatusClosed(400)),
    );
    v.push(
        case(
            C,
            "Content-Type application/octet-stream with parameters",
            Act::Body {
                pre: Pre::Root,
                body: b"42999[\"echo\",4]".to_vec(),
                content_type: Some("application/octet-stream; charset=binary"),
            },
        )
        .poll(reply("43999[4]"))
        .dev_poll(
            Expect::StatusClosed(400),
            "engineio/polling.rs post() matches the Content-Type by prefix; Node compares it exactly",
        ),
    );
}

// ---- maxPayload -------------------------------------------------------------------------

fn max_payload(v: &mut Vec<Case>) {
    const C: &str = "max-payload";
    for (name, len) in [("max-1", MAX - 1), ("exactly max", MAX)] {
        let (text, ack) = sized_echo(len, 'y');
        v.push(case(C, format!("text of {name} bytes"), one(text)).both(reply(ack)));
    }
    let (over, _) = sized_echo(MAX + 1, 'y');
    v.push(
        case(C, "text of max+1 bytes", one(over))
            .ws(Expect::WsClose(1009))
            .poll(Expect::Status(413)),
    );
    let (over10, _) = sized_echo(MAX * 10, 'y');
    v.push(
        case(C, "text of 10 x max bytes", one(over10))
            .ws(Expect::WsClose(1009))
            .poll(Expect::Status(413)),
    );
    // Bytes, not characters.
    let (multi_at, ack) = sized_echo(MAX, 'é');
    v.push(case(C, "multibyte text at max bytes", one(multi_at)).both(reply(ack)));
    let multi_over = format!("42999[\"echo\",\"{}\"]", "é".repeat(MAX / 2));
    v.push(
        case(
            C,
            "multibyte text over max bytes, under max chars",
            one(multi_over),
        )
        .ws(Expect::WsClose(1009))
        .poll(Expect::Status(413)),
    );
    // Binary attachment sizes.
    let header = format!("451-999[\"echo\",{}]", ph(0));
    v.push(
        case(
            C,
            "binary attachment of exactly max bytes",
            send(Pre::Root, vec![t(&header), b(&vec![7; MAX])]),
        )
        .ws(reply(format!("461-999[{}]", ph(0))))
        // Base64 inflates the polling body beyond maxPayload.
        .poll(Expect::Status(413)),
    );
    v.push(
        case(
            C,
            "binary attachment of max+1 bytes",
            send(Pre::Root, vec![t(&header), b(&vec![7; MAX + 1])]),
        )
        .ws(Expect::WsClose(1009))
        .poll(Expect::Status(413)),
    );
    // Several packets: the limit is per POST body / per frame.
    let (half, half_ack) = sized_echo(MAX / 2 + 50, 'z');
    v.push(
        case(
            C,
            "two packets of 0.55 x max",
            send(Pre::Root, vec![t(&half), t(&half)]),
        )
        .ws(Expect::Replies(2, half_ack))
        .poll(Expect::Status(413)),
    );
    v.push(
        case(
            C,
            "text message in fragments totalling max+1",
            frames(vec![RawFrame::Fragments(
                true,
                vec![vec![b'3'; MAX / 2], vec![b'x'; MAX / 2 + 1]],
            )]),
        )
        .ws(Expect::WsClose(1009)),
    );
    v.push(
        case(
            C,
            "text message in fragments totalling max",
            frames(vec![RawFrame::Fragments(
                true,
                vec![vec![b'3'; MAX / 2], vec![b'x'; MAX / 2]],
            )]),
        )
        .ws(Expect::Open),
    );
}

// ---- Socket.IO packets ------------------------------------------------------------

fn socketio_packets(v: &mut Vec<Case>) {
    const C: &str = "sio-packet";
    // Type character.
    for text in ["47", "48", "49", "4a", "4-", "4/", "4{}", "4[]"] {
        v.push(case(C, format!("unknown SIO type {text:?}"), one(text)).both(Expect::Closed));
    }
    // Number(" ") is 0: a whitespace type is a CONNECT (here: a second one).
    v.push(case(C, "whitespace type on a joined session", one("4 ")).both(Expect::Closed));
    v.push(
        case(
            C,
            "whitespace type as first packet (CONNECT)",
            send(Pre::None, vec![t("4 ")]),
        )
        .both(reply(CONNECTED)),
    );
    // CONNECT payloads (on a fresh session).
    for (text, e) in [
        ("40{}", reply(CONNECTED)),
        ("40{\"token\":[1,{\"a\":null}]}", reply(CONNECTED)),
        ("401", reply(CONNECTED)),
        ("40 {}", reply(CONNECTED)),
        ("40/,", reply(CONNECTED)),
        ("40[]", Expect::Closed),
        ("40\"token\"", Expect::Closed),
        ("40null", Expect::Closed),
        ("40true", Expect::Closed),
        ("4042", reply(CONNECTED)),
        ("40{", Expect::Closed),
        ("40{}x", Expect::Closed),
        ("40{\"a\":1,}", Expect::Closed),
        ("40/admin", reply("40/admin,{\"sid\":*")),
        ("40/admin,{\"x\":1}", reply("40/admin,{\"sid\":*")),
        ("40/admin,1", reply("40/admin,{\"sid\":*")),
        ("40/admin,[1]", Expect::Closed),
        ("40/nope,", invalid_ns("/nope")),
        ("40/nope", invalid_ns("/nope")),
        ("40//admin,", invalid_ns("//admin")),
        ("40/admin/,", invalid_ns("/admin/")),
        ("40/ADMIN,", invalid_ns("/ADMIN")),
        ("40/admin?x=1,", invalid_ns("/admin?x=1")),
        ("40/ ,", invalid_ns("/ ")),
        ("40/dyn-x,{}", reply("40/dyn-x,{\"sid\":*")),
    ] {
        v.push(
            case(
                C,
                format!("CONNECT {text:?}"),
                send(Pre::None, vec![t(text)]),
            )
            .both(e),
        );
    }
    // DISCONNECT.
    for (text, e) in [
        ("41", Expect::Left),
        ("411", Expect::Left),
        ("41{}", Expect::Closed),
        ("41[]", Expect::Closed),
        ("41\"bye\"", Expect::Closed),
        ("41/admin,", Expect::Closed),
        ("41/nope,", Expect::Closed),
    ] {
        v.push(case(C, format!("DISCONNECT {text:?}"), one(text)).both(e));
    }
    v.push(
        case(
            C,
            "DISCONNECT /admin without comma",
            send(Pre::Admin, vec![t("41/admin")]),
        )
        .both(Expect::Open),
    );
    // EVENT payload shapes.
    for (text, e) in [
        ("42", Expect::Open),
        ("421", Expect::Open),
        ("42[]", Expect::Closed),
        ("42{}", Expect::Closed),
        ("42\"echo\"", Expect::Closed),
        ("421.5[\"echo\"]", Expect::Closed),
        ("42[1]", Expect::Open),
        ("42[1e400]", Expect::Open),
        ("42[-0]", Expect::Open),
        ("42[\"\"]", Expect::Open),
        ("42[\"error\"]", Expect::Open),
        ("42[null]", Expect::Closed),
        ("42[true]", Expect::Closed),
        ("42[[]]", Expect::Closed),
        ("42[{}]", Expect::Closed),
        ("42[\"echo\"", Expect::Closed),
        ("42[\"echo\"]]", Expect::Closed),
        ("42[\"echo\",undefined]", Expect::Closed),
        ("42[\"echo\",NaN]", Expect::Closed),
        ("42[\"echo\",'x']", Expect::Closed),
        ("42[\"echo\",01]", Expect::Closed),
        ("42[\"echo\",1.]", Expect::Closed),
        ("42[\"echo\",.5]", Expect::Closed),
        ("42[\"echo\",\"\\x\"]", Expect::Closed),
        ("42[\"echo\",\"a\u{1}b\"]", Expect::Closed),
        ("42-1[\"echo\"]", Expect::Closed),
    ] {
        v.push(case(C, format!("EVENT {text:?}"), one(text)).both(e));
    }
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        v.push(
            case(
                C,
                format!("reserved event {name}"),
                one(format!("42[\"{name}\"]")),
            )
            .both(Expect::Closed),
        );
    }
    // Values as JavaScript sees them, echoed back.
    for (args, ack) in [
        ("1e400", "null"),
        ("-0", "0"),
        ("1.0", "1"),
        ("1e21", "1e+21"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("{\"a\":1,\"a\":2}", "{\"a\":2}"),
        ("{\"__proto__\":1}", "{\"__proto__\":1}"),
        ("\"\\u0000\"", "\"\\u0000\""),
        ("true,false,null", "true,false,null"),
        ("{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}"),
    ] {
        v.push(
            case(
                C,
                format!("echo of {args}"),
                one(format!("42999[\"echo\",{args}]")),
            )
            .both(reply(format!("43999[{ack}]"))),
        );
    }
    // Ack ids.
    for (text, ack) in [
        ("42 [\"echo\"]", "430[]"),
        ("420[\"echo\"]", "430[]"),
        ("4200[\"echo\"]", "430[]"),
        ("42007[\"echo\"]", "437[]"),
        ("42999 [\"echo\"]", "43999[]"),
        ("42 999[\"echo\"]", "43999[]"),
        ("42999[\"echo\"] ", "43999[]"),
    ] {
        v.push(case(C, format!("ack id in {text:?}"), one(text)).both(reply(ack)));
    }
    v.push(
        case(C, "ack id 2^53+1", one("429007199254740993[\"echo\"]"))
            .both(reply("439007199254740992[]"))
            .dev(
                reply("439007199254740993[]"),
                "oxsio keeps ids exact up to u64::MAX; Node rounds them to a double",
            ),
    );
    v.push(
        case(
            C,
            "ack id beyond u64",
            one("4218446744073709551616[\"echo\"]"),
        )
        .both(reply("4318446744073709552000[]"))
        .dev(
            Expect::Open,
            "oxsio drops ids beyond u64 (no ack); Node acks a rounded id no client can match",
        ),
    );
    v.push(
        case(C, "ack id with inner space (NaN)", one("429 99[\"echo\"]"))
            .both(reply("43NaN[]"))
            .dev(
                Expect::Open,
                "oxsio drops a NaN id (no ack); Node acks `43NaN[]`, which no client can match",
            ),
    );
    // ACK packets.
    for (text, e) in [
        ("43", Expect::Open),
        ("43[]", Expect::Open),
        ("431[]", Expect::Open),
        ("431", Expect::Open),
        ("4399[\"x\",{\"y\":1}]", Expect::Open),
        ("43{}", Expect::Closed),
        ("43\"x\"", Expect::Closed),
        ("43null", Expect::Closed),
        ("43[", Expect::Closed),
        ("43/admin,1[]", Expect::Closed),
    ] {
        v.push(case(C, format!("ACK {text:?}"), one(text)).both(e));
    }
    // CONNECT_ERROR from a client: invalid state.
    for text in ["44", "44{\"message\":\"x\"}", "44\"x\"", "44[]"] {
        v.push(case(C, format!("client CONNECT_ERROR {text:?}"), one(text)).both(Expect::Closed));
    }
    // Namespaces in non-CONNECT packets.
    v.push(
        case(
            C,
            "EVENT with nsp \"/\" and comma",
            one("42/,999[\"echo\"]"),
        )
        .both(reply("43999[]")),
    );
    v.push(
        case(
            C,
            "EVENT on joined /admin",
            send(Pre::Admin, vec![t("42/admin,999[\"echo\",1]")]),
        )
        .both(reply("43/admin,999[1]")),
    );
    v.push(
        case(
            C,
            "EVENT nsp without comma swallows the payload",
            send(Pre::Admin, vec![t("42/admin999[\"echo\"]")]),
        )
        .both(Expect::Closed),
    );
}

// ---- Socket.IO state machine -------------------------------------------------------

fn socketio_state(v: &mut Vec<Case>) {
    const C: &str = "sio-state";
    for (name, pre, items, e) in [
        (
            "EVENT before CONNECT",
            Pre::None,
            vec!["42[\"echo\"]"],
            Expect::Closed,
        ),
        (
            "ACK before CONNECT",
            Pre::None,
            vec!["43[]"],
            Expect::Closed,
        ),
        (
            "DISCONNECT before CONNECT",
            Pre::None,
            vec!["41"],
            Expect::Closed,
        ),
        (
            "CONNECT_ERROR before CONNECT",
            Pre::None,
            vec!["44{}"],
            Expect::Closed,
        ),
        (
            "binary EVENT before CONNECT",
            Pre::None,
            vec!["451-[\"x\",{\"_placeholder\":true,\"num\":0}]", "bAQID"],
            Expect::Closed,
        ),
        ("second CONNECT to /", Pre::Root, vec!["40"], Expect::Closed),
        (
            "second CONNECT to /admin",
            Pre::Admin,
            vec!["40/admin,"],
            Expect::Closed,
        ),
        (
            "EVENT after DISCONNECT",
            Pre::Root,
            vec!["41", "42[\"echo\"]"],
            Expect::Closed,
        ),
        (
            "DISCONNECT twice",
            Pre::Root,
            vec!["41", "41"],
            Expect::Closed,
        ),
        (
            "CONNECT, DISCONNECT, CONNECT",
            Pre::Root,
            vec!["41", "40"],
            reply(CONNECTED),
        ),
        (
            "EVENT on unjoined /admin",
            Pre::Root,
            vec!["42/admin,[\"echo\"]"],
            Expect::Closed,
        ),
        (
            "ACK on unjoined /admin",
            Pre::Root,
            vec!["43/admin,1[]"],
            Expect::Closed,
        ),
        (
            "EVENT on unknown nsp",
            Pre::Root,
            vec!["42/nope,[\"echo\"]"],
            Expect::Closed,
        ),
        (
            "EVENT on / after joining only /admin",
            Pre::None,
            vec!["40/admin,", "42999[\"echo\"]"],
            Expect::ReplyClosed("40/admin,{\"sid\":*".into()),
        ),
        (
            "CONNECT to a refused nsp then EVENT on it",
            Pre::Root,
            vec!["40/nope,", "42/nope,[\"x\"]"],
            Expect::ReplyClosed("44/nope,*".into()),
        ),
        (
            "CONNECT to two namespaces in one batch",
            Pre::None,
            vec!["40", "40/admin,"],
            Expect::Replies(2, "40*".into()),
        ),
    ] {
        let items = items.into_iter().map(t).collect();
        v.push(case(C, name, send(pre, items)).both(e));
    }
}

// ---- binary attachments -------------------------------------------------------------

fn attachments(v: &mut Vec<Case>) {
    const C: &str = "attachments";
    let p0 = ph(0);
    let ok1 = format!("461-999[{p0}]");
    let bin = b(&[1, 2, 3]);
    let with = |header: String, bins: usize| {
        let mut items = vec![t(header)];
        items.extend((0..bins).map(|i| b(&[i as u8; 3])));
        send(Pre::Root, items)
    };
    v.push(
        case(
            C,
            "one attachment",
            with(format!("451-999[\"echo\",{p0}]"), 1),
        )
        .both(reply(&ok1)),
    );
    v.push(
        case(
            C,
            "ten attachments (the limit)",
            with(
                format!(
                    "4510-999[\"echo\",{}]",
                    (0..10).map(ph).collect::<Vec<_>>().join(",")
                ),
                10,
            ),
        )
        .both(reply(format!(
            "4610-999[{}]",
            (0..10).map(ph).collect::<Vec<_>>().join(",")
        ))),
    );
    v.push(
        case(
            C,
            "eleven attachments",
            with(format!("4511-999[\"echo\",{p0}]"), 11),
        )
        .both(Expect::Closed),
    );
    for (count, e) in [
        ("0", Expect::Closed),
        ("-1", Expect::Closed),
        ("1.5", Expect::Closed),
        ("99999999999999999999999", Expect::Closed),
        ("x", Expect::Closed),
        ("", Expect::Closed),
        ("Infinity", Expect::Closed),
        (" 1", reply(&ok1)),
        ("1e0", reply(&ok1)),
        ("0x1", reply(&ok1)),
        ("+1", reply(&ok1)),
        ("01", reply(&ok1)),
    ] {
        v.push(
            case(
                C,
                format!("attachment count {count:?}"),
                with(format!("45{count}-999[\"echo\",{p0}]"), 1),
            )
            .both(e),
        );
    }
    v.push(
        case(
            C,
            "BINARY_EVENT without dash",
            one(format!("451[\"echo\",{p0}]")),
        )
        .both(Expect::Closed),
    );
    v.push(case(C, "BINARY_EVENT without anything", one("45")).both(Expect::Closed));
    v.push(
        case(
            C,
            "count with 500 digits",
            with(format!("45{}-[\"echo\",{p0}]", "1".repeat(500)), 1),
        )
        .both(Expect::Closed),
    );
    // Wrong number of binary messages.
    v.push(
        case(
            C,
            "header, then text instead of the attachment",
            send(
                Pre::Root,
                vec![t(format!("451-[\"echo\",{p0}]")), t("42[\"echo\"]")],
            ),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "two announced, one sent, then text",
            send(
                Pre::Root,
                vec![
                    t(format!("452-[\"echo\",{p0},{}]", ph(1))),
                    bin.clone(),
                    t("42[\"echo\"]"),
                ],
            ),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "one announced, two sent",
            with(format!("451-999[\"echo\",{p0}]"), 2),
        )
        .both(Expect::ReplyClosed(ok1.clone())),
    );
    v.push(
        case(
            C,
            "two announced, one placeholder",
            with(format!("452-999[\"echo\",{p0}]"), 2),
        )
        .both(reply(&ok1)),
    );
    v.push(
        case(
            C,
            "one announced, no placeholder",
            with("451-999[\"echo\"]".into(), 1),
        )
        .both(reply("43999[]")),
    );
    v.push(
        case(
            C,
            "same placeholder twice",
            with(format!("451-999[\"echo\",{p0},{p0}]"), 1),
        )
        .both(reply(format!("462-999[{p0},{}]", ph(1)))),
    );
    v.push(
        case(
            C,
            "placeholder nested in an object",
            with(format!("451-999[\"echo\",{{\"a\":[{p0}]}}]"), 1),
        )
        .both(reply(format!("461-999[{{\"a\":[{p0}]}}]"))),
    );
    v.push(case(C, "BINARY_EVENT without payload", with("451-".into(), 1)).both(Expect::Open));
    v.push(
        case(
            C,
            "BINARY_EVENT with reserved name",
            with(format!("451-[\"connect\",{p0}]"), 1),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "BINARY_EVENT on unjoined nsp",
            with(format!("451-/nope,999[\"echo\",{p0}]"), 1),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "BINARY_ACK with unknown id",
            with(format!("461-5[{p0}]"), 1),
        )
        .both(Expect::Open),
    );
    v.push(case(C, "BINARY_ACK without id", with(format!("461-[{p0}]"), 1)).both(Expect::Open));
    v.push(
        case(
            C,
            "BINARY_ACK with object payload",
            with("461-{}".into(), 1),
        )
        .both(Expect::Closed),
    );
    v.push(case(C, "BINARY_ACK without count", one("46")).both(Expect::Closed));
    v.push(
        case(
            C,
            "binary before any header",
            send(Pre::Root, vec![bin.clone(), t("42[\"echo\"]")]),
        )
        .both(Expect::Closed),
    );
    // Placeholder indexes out of range.
    for (name, placeholder, e) in [
        ("num 1 of 1", ph(1), Expect::Closed),
        ("num -1", ph(-1), Expect::Closed),
        (
            "num \"0\"",
            r#"{"_placeholder":true,"num":"0"}"#.to_owned(),
            Expect::Closed,
        ),
        (
            "num null",
            r#"{"_placeholder":true,"num":null}"#.to_owned(),
            Expect::Closed,
        ),
        (
            "no num",
            r#"{"_placeholder":true}"#.to_owned(),
            Expect::Closed,
        ),
        (
            "num 1e400",
            r#"{"_placeholder":true,"num":1e400}"#.to_owned(),
            Expect::Closed,
        ),
        (
            "num 0.5 (selects nothing)",
            r#"{"_placeholder":true,"num":0.5}"#.to_owned(),
            reply("43999[null]"),
        ),
        (
            "num -0",
            r#"{"_placeholder":true,"num":-0}"#.to_owned(),
            reply(&ok1),
        ),
        (
            "extra keys",
            r#"{"_placeholder":true,"num":0,"x":1}"#.to_owned(),
            reply(&ok1),
        ),
        (
            "_placeholder 1 (not true)",
            r#"{"_placeholder":1,"num":0}"#.to_owned(),
            reply(r#"43999[{"_placeholder":1,"num":0}]"#),
        ),
    ] {
        v.push(
            case(
                C,
                format!("placeholder {name}"),
                with(format!("451-999[\"echo\",{placeholder}]"), 1),
            )
            .both(e),
        );
    }
    v.push(
        case(
            C,
            "attachment as a WebSocket text frame b<base64>",
            send(
                Pre::Root,
                vec![t(format!("451-999[\"echo\",{p0}]")), t("bAQID")],
            ),
        )
        .ws(reply(&ok1)),
    );
}

// ---- placeholder objects in text packets ---------------------------------------------------

fn placeholders(v: &mut Vec<Case>) {
    const C: &str = "placeholder";
    for (name, arg) in [
        ("placeholder 0", ph(0)),
        ("placeholder 5 in an object", format!("{{\"x\":{}}}", ph(5))),
        ("placeholders in an array", format!("[{},{}]", ph(0), ph(1))),
        (
            "placeholder without num",
            r#"{"_placeholder":true}"#.to_owned(),
        ),
        ("placeholder num -1", ph(-1)),
        (
            "keys in other order",
            r#"{"num":0,"_placeholder":true}"#.to_owned(),
        ),
        (
            "thirty placeholders",
            format!("[{}]", (0..30).map(ph).collect::<Vec<_>>().join(",")),
        ),
    ] {
        // A plain EVENT is never reconstructed: the object is just an object.
        v.push(
            case(
                C,
                format!("EVENT with {name}"),
                one(format!("42999[\"echo\",{arg}]")),
            )
            .both(reply(format!("43999[{arg}]"))),
        );
    }
    v.push(case(C, "ACK with placeholder", one(format!("43999[{}]", ph(0)))).both(Expect::Open));
    v.push(
        case(
            C,
            "CONNECT auth with placeholder",
            send(Pre::None, vec![t(format!("40{{\"token\":{}}}", ph(0)))]),
        )
        .both(reply(CONNECTED)),
    );
    v.push(
        case(
            C,
            "placeholder as event name",
            one(format!("42[{}]", ph(0))),
        )
        .both(Expect::Closed),
    );
}

// ---- nesting -------------------------------------------------------------------------------

fn nesting(v: &mut Vec<Case>) {
    const C: &str = "nesting";
    let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    const WHY: &str = "oxsio caps JSON nesting at 128 (codec/json.rs MAX_DEPTH, stack safety); JSON.parse has no cap";
    // Inside `["echo", X]`: depth 1 + depth of X.
    v.push(
        case(
            C,
            "arrays, total depth 128",
            one(format!("42999[\"echo\",{}]", arrays(127))),
        )
        .both(reply(format!("43999[{}]", arrays(127)))),
    );
    v.push(
        case(
            C,
            "objects, total depth 128",
            one(format!("42999[\"echo\",{}]", objects(127))),
        )
        .both(reply(format!("43999[{}]", objects(127)))),
    );
    v.push(
        case(
            C,
            "arrays, total depth 129",
            one(format!("42999[\"echo\",{}]", arrays(128))),
        )
        .both(reply(format!("43999[{}]", arrays(128))))
        .dev(Expect::Closed, WHY),
    );
    v.push(
        case(
            C,
            "objects, total depth 129",
            one(format!("42999[\"echo\",{}]", objects(128))),
        )
        .both(reply(format!("43999[{}]", objects(128))))
        .dev(Expect::Closed, WHY),
    );
    v.push(
        case(
            C,
            "arrays, depth 480 (within maxPayload)",
            one(format!("42999[\"echo\",{}]", arrays(480))),
        )
        .both(reply(format!("43999[{}]", arrays(480))))
        .dev(Expect::Closed, WHY),
    );
    v.push(
        case(
            C,
            "CONNECT auth of depth 129",
            send(Pre::None, vec![t(format!("40{{\"a\":{}}}", objects(128)))]),
        )
        .both(reply(CONNECTED))
        .dev(Expect::Closed, WHY),
    );
    v.push(
        case(
            C,
            "900 unclosed arrays",
            one(format!("42[\"echo\",{}", "[".repeat(900))),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "unbalanced closers",
            one(format!("42[\"echo\"{}", "]".repeat(900))),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "100 000 unclosed arrays (big server)",
            send_big(
                Pre::Root,
                vec![t(format!("42[\"echo\",{}", "[".repeat(100_000)))],
            ),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "20 000 nested arrays (big server)",
            send_big(
                Pre::Root,
                vec![t(format!("42[\"echo\",{}]", arrays(20_000)))],
            ),
        )
        .both(Expect::Open)
        .dev(Expect::Closed, WHY),
    );
    v.push(
        case(
            C,
            "ten siblings of depth 100",
            one(format!(
                "42999[\"echo\",{}]",
                vec![arrays(30); 10].join(",")
            )),
        )
        .both(reply(format!("43999[{}]", vec![arrays(30); 10].join(",")))),
    );
}

// ---- UTF-8 ---------------------------------------------------------------------------------

fn utf8(v: &mut Vec<Case>) {
    const C: &str = "utf8";
    const WHY: &str = "oxsio closes on invalid UTF-8 in a POST body; Node decodes it lossily (U+FFFD) and delivers the event";
    for (name, bad) in [
        ("0xff", &b"\xff"[..]),
        ("lone continuation byte", b"\x80"),
        ("overlong /", b"\xc0\xaf"),
        ("UTF-16 surrogate", b"\xed\xa0\x80"),
        ("5-byte sequence", b"\xf8\x88\x80\x80\x80"),
        ("truncated sequence", b"\xe2\x82"),
        ("beyond U+10FFFF", b"\xf4\x90\x80\x80"),
    ] {
        let mut packet = b"42999[\"echo\",\"".to_vec();
        packet.extend_from_slice(bad);
        packet.extend_from_slice(b"\"]");
        // RFC 6455 / ws: invalid UTF-8 in a text frame → 1007.
        v.push(
            case(
                C,
                format!("invalid UTF-8 text frame: {name}"),
                frames(vec![RawFrame::Text(packet.clone())]),
            )
            .ws(Expect::WsClose(1007)),
        );
        v.push(
            case(
                C,
                format!("invalid UTF-8 POST body: {name}"),
                body(Pre::Root, packet),
            )
            .poll(reply("43999[\"\u{fffd}*"))
            .dev_poll(Expect::Closed, WHY),
        );
    }
    let mut in_name = b"42[\"".to_vec();
    in_name.extend_from_slice(b"\xff\xfe\"]");
    v.push(
        case(
            C,
            "invalid UTF-8 in an event name",
            frames(vec![RawFrame::Text(in_name)]),
        )
        .ws(Expect::WsClose(1007)),
    );
    v.push(
        case(
            C,
            "invalid UTF-8 in a binary frame (fine)",
            send(
                Pre::Root,
                vec![
                    t(format!("451-999[\"echo\",{}]", ph(0))),
                    b(b"\xff\xfe\xc0"),
                ],
            ),
        )
        .both(reply(format!("461-999[{}]", ph(0)))),
    );
    for (name, s) in [
        ("BMP and astral characters", "€✓\u{1F600}"),
        ("line separators", "\u{2028}\u{2029}"),
        ("private use and noncharacters", "\u{e000}\u{fdd0}\u{fffe}"),
        ("combining marks", "e\u{301}\u{301}\u{301}"),
        ("escaped NUL", "\\u0000"),
        ("escaped astral pair", "\\ud83d\\ude00"),
    ] {
        let echoed = match s {
            "\\ud83d\\ude00" => "\u{1F600}",
            other => other,
        };
        v.push(
            case(
                C,
                format!("echo of {name}"),
                one(format!("42999[\"echo\",\"{s}\"]")),
            )
            .both(reply(format!("43999[\"{echoed}\"]"))),
        );
    }
    v.push(
        case(
            C,
            "lone surrogate escape",
            one("42999[\"echo\",\"\\ud800\"]"),
        )
        .both(reply("43999[\"\\ud800\"]"))
        .dev(
            reply("43999[\"\u{fffd}\"]"),
            "a Rust String cannot hold a lone surrogate: oxsio gives U+FFFD (codec/json.rs docs)",
        ),
    );
    v.push(
        case(
            C,
            "raw NUL in a JSON string",
            one("42999[\"echo\",\"a\u{0}b\"]"),
        )
        .both(Expect::Closed),
    );
    v.push(case(C, "emoji event name (no handler)", one("42[\"\u{1F600}\"]")).both(Expect::Open));
    v.push(
        case(
            C,
            "emoji namespace",
            send(Pre::None, vec![t("40/\u{1F600},")]),
        )
        .both(invalid_ns("/\u{1F600}")),
    );
    v.push(
        case(
            C,
            "BOM as SIO type (whitespace: CONNECT)",
            one("4\u{feff}2[\"echo\"]"),
        )
        .both(Expect::Closed),
    );
}

// ---- huge names ---------------------------------------------------------------------------

fn huge_names(v: &mut Vec<Case>) {
    const C: &str = "huge-names";
    let ns900 = format!("/{}", "n".repeat(900));
    v.push(
        case(
            C,
            "900-byte unknown namespace",
            send(Pre::None, vec![t(format!("40{ns900},"))]),
        )
        .both(invalid_ns(&ns900)),
    );
    let ns200k = format!("/{}", "n".repeat(200_000));
    v.push(
        case(
            C,
            "200 KB unknown namespace (big)",
            send_big(Pre::None, vec![t(format!("40{ns200k},"))]),
        )
        .both(invalid_ns(&ns200k)),
    );
    v.push(
        case(
            C,
            "200 KB namespace in DISCONNECT (big)",
            send_big(Pre::Root, vec![t(format!("41{ns200k},"))]),
        )
        .both(Expect::Closed),
    );
    v.push(
        case(
            C,
            "200 KB dynamic namespace (big)",
            send_big(
                Pre::None,
                vec![t(format!("40/dyn-{},", "d".repeat(200_000)))],
            ),
        )
        .both(reply("40/dyn-ddd*")),
    );
    v.push(
        case(
            C,
            "900-byte event name",
            one(format!("42[\"{}\"]", "e".repeat(900))),
        )
        .both(Expect::Open),
    );
    v.push(
        case(
            C,
            "500 KB event name (big)",
            send_big(
                Pre::Root,
                vec![t(format!("42[\"{}\"]", "e".repeat(500_000)))],
            ),
        )
        .both(Expect::Open),
    );
    let s = "s".repeat(500_000);
    v.push(
        case(
            C,
            "500 KB string echoed (big)",
            send_big(Pre::Root, vec![t(format!("42999[\"echo\",\"{s}\"]"))]),
        )
        .both(reply(format!("43999[\"{s}\"]"))),
    );
    v.push(
        case(
            C,
            "200 KB room name (big)",
            send_big(
                Pre::Root,
                vec![t(format!("42999[\"join\",\"{}\"]", "r".repeat(200_000)))],
            ),
        )
        .both(reply("43999[200000]")),
    );
    let joins: Vec<Eio> = (0..200)
        .map(|i| t(format!("42[\"join\",\"room-{i}-{}\"]", "x".repeat(100))))
        .chain([t("42999[\"rooms\"]")])
        .collect();
    // 200 rooms + the socket's own id room.
    v.push(
        case(
            C,
            "200 rooms with 100-byte names (big)",
            send_big(Pre::Root, joins),
        )
        .both(reply("43999[201]")),
    );
    let args = vec!["0"; 100_000].join(",");
    v.push(
        case(
            C,
            "100 000 arguments (big)",
            send_big(Pre::Root, vec![t(format!("42999[\"echo\",{args}]"))]),
        )
        .both(reply(format!("43999[{args}]"))),
    );
    v.push(
        case(
            C,
            "900 KB of JSON whitespace (big)",
            send_big(
                Pre::Root,
                vec![t(format!("42999[\"echo\",{}1]", " ".repeat(900_000)))],
            ),
        )
        .both(reply("43999[1]")),
    );
    v.push(
        case(
            C,
            "ack id of 400 digits",
            one(format!("42{}[\"echo\"]", "9".repeat(400))),
        )
        .both(reply("43Infinity[]"))
        .dev(
            Expect::Open,
            "oxsio drops ids beyond u64 (no ack); Node acks `43Infinity[]`",
        ),
    );
}

// ---- query parameters and handshakes ---------------------------------------------------------

fn query(v: &mut Vec<Case>) {
    const C: &str = "query";
    let p = "/socket.io/";
    let ok = |v: &mut Vec<Case>, name: &str, path: &str, q: &str| {
        v.push(
            case(C, name.to_owned(), hs(path, q))
                .ws(Expect::Http(101, None))
                .poll(Expect::Http(200, None)),
        );
    };
    let err =
        |v: &mut Vec<Case>, name: &str, path: &str, q: &str, status: u16, code: Option<u8>| {
            v.push(case(C, name.to_owned(), hs(path, q)).both(Expect::Http(status, code)));
        };
    err(v, "no query", p, "", 400, Some(0));
    err(v, "EIO only", p, "?EIO=4", 400, Some(0));
    err(v, "empty transport", p, "?EIO=4&transport=", 400, Some(0));
    err(
        v,
        "transport in capitals",
        p,
        "?EIO=4&transport=POLLING",
        400,
        Some(0),
    );
    err(
        v,
        "unknown transport",
        p,
        "?EIO=4&transport=flashsocket",
        400,
        Some(0),
    );
    err(
        v,
        "transport __proto__",
        p,
        "?EIO=4&transport=__proto__",
        400,
        Some(0),
    );
    err(
        v,
        "transport with NUL",
        p,
        "?EIO=4&transport={T}%00",
        400,
        Some(0),
    );
    err(
        v,
        "transport webtransport (not enabled)",
        p,
        "?EIO=4&transport=webtransport",
        400,
        Some(0),
    );
    err(
        v,
        "bad percent-encoding in transport",
        p,
        "?EIO=4&transport=poll%ZZing",
        400,
        Some(0),
    );
    err(
        v,
        "semicolon separator",
        p,
        "?EIO=4;transport={T}",
        400,
        Some(0),
    );
    err(v, "no EIO", p, "?transport={T}", 400, Some(5));
    err(v, "empty EIO", p, "?EIO=&transport={T}", 400, Some(5));
    err(v, "EIO=3", p, "?EIO=3&transport={T}", 400, Some(5));
    err(v, "EIO=5", p, "?EIO=5&transport={T}", 400, Some(5));
    err(v, "EIO=04", p, "?EIO=04&transport={T}", 400, Some(5));
    err(v, "EIO=4.0", p, "?EIO=4.0&transport={T}", 400, Some(5));
    err(
        v,
        "EIO=4+ (4 and a space)",
        p,
        "?EIO=4+&transport={T}",
        400,
        Some(5),
    );
    err(
        v,
        "lowercase eio key",
        p,
        "?eio=4&transport={T}",
        400,
        Some(5),
    );
    err(
        v,
        "EIO=4 then EIO=3",
        p,
        "?EIO=4&transport={T}&EIO=3",
        400,
        Some(5),
    );
    err(
        v,
        "path without trailing slash",
        "/socket.io",
        "?EIO=4&transport={T}",
        404,
        None,
    );
    err(
        v,
        "path in capitals",
        "/SOCKET.IO/",
        "?EIO=4&transport={T}",
        404,
        None,
    );
    err(
        v,
        "other path",
        "/engine.io/",
        "?EIO=4&transport={T}",
        404,
        None,
    );
    ok(v, "percent-encoded EIO", p, "?EIO=%34&transport={T}");
    ok(v, "parameters in other order", p, "?transport={T}&EIO=4");
    ok(
        v,
        "cache buster and unknown parameters",
        p,
        "?EIO=4&transport={T}&t=PcXzT1a&b64=1&j=0&foo=%ZZ",
    );
    ok(
        v,
        "empty and valueless parameters",
        p,
        "?EIO=4&&&transport={T}&=x&y",
    );
    ok(
        v,
        "6 KB junk parameter",
        p,
        &format!("?EIO=4&transport={{T}}&junk={}", "j".repeat(6000)),
    );
    ok(
        v,
        "sub-path under the Socket.IO path",
        "/socket.io/extra/path",
        "?EIO=4&transport={T}",
    );
    v.push(
        case(
            C,
            "percent-encoded transport",
            hs(p, "?EIO=4&transport=%70olling"),
        )
        .poll(Expect::Http(200, None)),
    );
    v.push(
        case(C, "duplicate transport", hs(p, "?EIO=4&transport={T}&transport={T}"))
            .both(Expect::Http(400, Some(0)))
            .ws(Expect::Http(400, Some(0)))
            .dev_ws(Expect::Http(101, None), "oxsio takes the last of repeated query keys (engineio/mod.rs Query::parse); Node's querystring makes an array, which matches no transport")
            .dev_poll(Expect::Http(200, None), "oxsio takes the last of repeated query keys (engineio/mod.rs Query::parse); Node's querystring makes an array, which matches no transport"),
    );
    v.push(
        case(C, "duplicate EIO", hs(p, "?EIO=4&EIO=4&transport={T}"))
            .both(Expect::Http(400, Some(5)))
            .dev_ws(
                Expect::Http(101, None),
                "oxsio takes the last of repeated query keys; Node sees an array, not \"4\"",
            )
            .dev_poll(
                Expect::Http(200, None),
                "oxsio takes the last of repeated query keys; Node sees an array, not \"4\"",
            ),
    );
    v.push(
        case(C, "empty sid", hs(p, "?EIO=4&transport={T}&sid="))
            .ws(Expect::Http(101, None))
            .poll(Expect::Http(200, None)),
    );
    v.push(
        case(
            C,
            "websocket transport on a plain GET",
            hs(p, "?EIO=4&transport=websocket"),
        )
        .poll(Expect::Http(400, Some(3))),
    );
    v.push(
        case(C, "polling transport with Upgrade headers", hs(p, "?EIO=4&transport=polling"))
            .ws(Expect::Http(101, None))
            .dev_ws(Expect::Http(400, Some(3)), "oxsio refuses an upgrade request for the polling transport (400 Bad request); Node answers 101 then closes"),
    );
    // WebSocket handshake headers.
    let wsh = |name: &str, headers: Vec<(&'static str, &'static str)>| {
        case(
            C,
            name.to_owned(),
            Act::Handshake {
                path: p.into(),
                query: "?EIO=4&transport={T}".into(),
                headers,
            },
        )
    };
    v.push(
        wsh("missing Sec-WebSocket-Key", vec![("Sec-WebSocket-Key", "")])
            .ws(Expect::Http(400, None)),
    );
    v.push(
        wsh("Sec-WebSocket-Version 8", vec![("Sec-WebSocket-Version", "8")])
            .ws(Expect::Http(400, None))
            .dev_ws(Expect::Http(101, None), "oxsio does not check Sec-WebSocket-Version (engineio/websocket.rs switching_response); Node's ws answers 400"),
    );
    v.push(
        wsh(
            "Upgrade header in mixed case",
            vec![("Upgrade", "WebSocket")],
        )
        .ws(Expect::Http(101, None)),
    );
}

// ---- HTTP ------------------------------------------------------------------------------------

fn http(v: &mut Vec<Case>) {
    const C: &str = "http";
    let raw = |s: &str| Act::Raw(s.as_bytes().to_vec());
    let ws_ok_poll = |c: Case, e: Expect| c.poll(e);
    for (name, req, e) in [
        (
            "HEAD handshake",
            "HEAD /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Expect::Http(400, None),
        ),
        (
            "PATCH handshake",
            "PATCH /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Expect::Http(400, Some(2)),
        ),
        (
            "DELETE handshake",
            "DELETE /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Expect::Http(400, Some(2)),
        ),
        (
            "OPTIONS preflight",
            "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Expect::Http(204, None),
        ),
        (
            "HTTP/1.0 handshake",
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.0\r\n\r\n",
            Expect::Http(200, None),
        ),
        (
            "absolute-form request target",
            "GET http://127.0.0.1/socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            Expect::Http(200, None),
        ),
        (
            "garbage request line",
            "HELLO\r\n\r\n",
            Expect::Http(400, None),
        ),
        (
            "Content-Length and chunked together",
            "POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
            Expect::Http(400, None),
        ),
        (
            "control character in Origin",
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a\x01b\r\nConnection: close\r\n\r\n",
            Expect::Http(400, None),
        ),
        (
            "Expect: 100-continue handshake",
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            Expect::Http(200, None),
        ),
    ] {
        v.push(ws_ok_poll(case(C, name, raw(req)), e));
    }
    let many_headers: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    v.push(
        case(C, "120 request headers", Act::Raw(format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n{many_headers}Connection: close\r\n\r\n").into_bytes()))
            .poll(Expect::Http(200, None))
            .dev_poll(Expect::Http(431, None), "hyper allows 100 headers; Node allows 2000 (harmless hardening)"),
    );
    v.push(
        case(C, "20 KB Cookie header", Act::Raw(format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nCookie: c={}\r\nConnection: close\r\n\r\n", "c".repeat(20_000)).into_bytes()))
            .poll(Expect::Http(431, None))
            .dev_poll(Expect::Http(200, None), "Node caps headers at 16 KB (431); hyper's read buffer allows ~400 KB"),
    );
    v.push(
        case(C, "pipelined handshakes", Act::Raw(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\nGET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()))
            .poll(Expect::Http(200, None)),
    );
    let _ = BIG;
}
