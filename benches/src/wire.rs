//! A lean Engine.IO v4 / Socket.IO v5 client for load generation: a
//! hand-rolled WebSocket client (masked frames out, small growable read
//! buffer in, so 20 000 idle connections stay cheap) and a hand-rolled
//! HTTP/1.1 keep-alive client for long-polling.
//!
//! Everything here runs on one current-thread runtime: shared state is `Rc`
//! and `RefCell` (never borrowed across an `.await`). The hot paths avoid
//! per-message allocations, locks and string formatting: frames are parsed
//! in place in the read buffer, several per read when the server sent
//! several, and requests are assembled from bytes prepared once.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use oxsio::codec::engineio::Packet as EioPacket;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

/// Engine.IO pings answered by every connection of this process.
pub static PINGS: AtomicU64 = AtomicU64::new(0);

/// The Socket.IO endpoint.
pub const PATH: &str = "/socket.io/";

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A read buffer grows no further than this for batching alone (a frame
/// larger than that still gets the room it needs).
const BATCH_MAX: usize = 16 * 1024;

/// A read buffer that starts small and grows to fit the largest frame, and
/// (up to [`BATCH_MAX`]) to what the server sends between two reads, so one
/// read syscall takes in everything that is waiting.
pub struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new(cap: usize) -> Self {
        Buf {
            data: vec![0; cap],
            start: 0,
            end: 0,
        }
    }

    fn avail(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads at least one more byte (cancel-safe: nothing is lost if the
    /// future is dropped). What is left unparsed (a partial frame) moves to
    /// the front first, so the read gets all the free room.
    async fn fill<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<()> {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.data.len() {
            let n = self.data.len() * 2;
            self.data.resize(n, 0);
        }
        let room = self.data.len() - self.end;
        let n = r.read(&mut self.data[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        self.end += n;
        // The read filled all the room: more was probably waiting. Grow for
        // the next one (connections that only see heartbeats never do).
        if n == room && self.data.len() < BATCH_MAX {
            let n = self.data.len() * 2;
            self.data.resize(n, 0);
        }
        Ok(())
    }

    /// Makes room for `n` bytes (a whole frame) in the buffer.
    fn reserve(&mut self, n: usize) {
        if self.data.len() < n {
            self.data.resize(n.next_power_of_two(), 0);
        }
    }

    /// Ensures `n` bytes are buffered.
    async fn need<R: AsyncRead + Unpin>(&mut self, r: &mut R, n: usize) -> io::Result<()> {
        self.reserve(n);
        while self.len() < n {
            self.fill(r).await?;
        }
        Ok(())
    }
}

/// Position of the first `c` in `b`, 8 bytes at a time.
fn find_byte(b: &[u8], c: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO * c as u64;
    let mut chunks = b.chunks_exact(8);
    for (k, ch) in (&mut chunks).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        let x = u64::from_le_bytes(w) ^ rep;
        // The lowest flagged byte is the first zero byte of x (a borrow
        // only produces false positives above a true zero byte).
        let t = x.wrapping_sub(LO) & !x & HI;
        if t != 0 {
            return Some(k * 8 + (t.trailing_zeros() / 8) as usize);
        }
    }
    let at = b.len() - chunks.remainder().len();
    chunks
        .remainder()
        .iter()
        .position(|&x| x == c)
        .map(|i| at + i)
}

/// Position of the first `\r\n` in `b`.
fn line_end(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_byte(&b[from..], b'\r') {
        let at = from + i;
        if b.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Position just after the first `\r\n\r\n` in `b`.
fn head_end(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line_end(&b[from..]) {
        let at = from + i;
        if b[at + 2..].starts_with(b"\r\n") {
            return Some(at + 4);
        }
        from = at + 2;
    }
    None
}

/// Opens a TCP connection, from `src` when given (several 127.0.0.x source
/// addresses multiply the ephemeral ports available).
pub async fn tcp_connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<TcpStream> {
    let stream = match src {
        None => TcpStream::connect(addr).await?,
        Some(ip) => {
            let sock = TcpSocket::new_v4()?;
            crate::sys::bind_address_no_port(&sock);
            sock.bind(SocketAddr::new(ip, 0))?;
            sock.connect(addr).await?
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ------------------------------------------------------------- WebSocket

/// The read side of a WebSocket connection.
pub struct WsReader {
    rd: OwnedReadHalf,
    buf: Buf,
    pending: usize,
    frag: Vec<u8>,
    in_frag: bool,
    use_frag: bool,
    frag_op: u8,
    cur: (usize, usize),
}

/// The write side of a WebSocket connection (client frames are masked),
/// shared by the tasks that write on it (`Rc<WsWriter>`). No lock: a frame
/// is encoded into the pending bytes and written at once; only when the
/// socket is full does a writer wait, and whoever writes next sends what
/// is pending in order, so frames never interleave.
pub struct WsWriter {
    wr: OwnedWriteHalf,
    st: RefCell<WriteState>,
}

struct WriteState {
    /// Encoded frames not yet written from `sent` on.
    out: Vec<u8>,
    sent: usize,
    rng: u32,
}

/// XORs `data` with the 4-byte masking `key` (8 bytes at a time).
fn mask(data: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key) as u64;
    let k8 = k | (k << 32);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ k8).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so the key phase is 0.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

impl WriteState {
    fn mask_key(&mut self) -> [u8; 4] {
        // xorshift32: masking keys need not be strong for a load generator.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x.to_le_bytes()
    }

    /// Appends one masked frame to `out`.
    fn encode(&mut self, opcode: u8, payload: &[u8]) {
        let key = self.mask_key();
        let out = &mut self.out;
        out.push(0x80 | opcode);
        let n = payload.len();
        if n < 126 {
            out.push(0x80 | n as u8);
        } else if n < 65536 {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        out.extend_from_slice(&key);
        let at = out.len();
        out.extend_from_slice(payload);
        mask(&mut out[at..], key);
    }
}

impl WsWriter {
    fn new(wr: OwnedWriteHalf, seed: u32) -> Self {
        WsWriter {
            wr,
            st: RefCell::new(WriteState {
                out: Vec::new(),
                sent: 0,
                rng: seed | 1,
            }),
        }
    }

    /// Sends one frame with `opcode` (1 text, 2 binary, 8 close, 10 pong):
    /// returns once it is written to the socket.
    pub async fn send_frame(&self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.st.borrow_mut().encode(opcode, payload);
        self.flush().await
    }

    /// Writes the pending bytes (those of other writers too).
    async fn flush(&self) -> io::Result<()> {
        loop {
            {
                let mut st = self.st.borrow_mut();
                let st = &mut *st;
                if st.sent == st.out.len() {
                    return Ok(());
                }
                match self.wr.try_write(&st.out[st.sent..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        st.sent += n;
                        if st.sent == st.out.len() {
                            st.out.clear();
                            st.sent = 0;
                            if st.out.capacity() > 64 * 1024 {
                                st.out = Vec::new();
                            }
                            return Ok(());
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            self.wr.writable().await?;
        }
    }

    /// Sends an Engine.IO text packet.
    pub async fn send_text(&self, text: &[u8]) -> io::Result<()> {
        self.send_frame(1, text).await
    }
}

/// A frame header parsed from the buffer.
struct Frame {
    fin: bool,
    opcode: u8,
    header: usize,
    len: usize,
    mask: Option<[u8; 4]>,
}

fn parse_header(b: &[u8]) -> Option<Frame> {
    if b.len() < 2 {
        return None;
    }
    let fin = b[0] & 0x80 != 0;
    let opcode = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let len7 = (b[1] & 0x7f) as usize;
    let (mut header, len) = match len7 {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (4, u16::from_be_bytes([b[2], b[3]]) as usize)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (10, u64::from_be_bytes(l) as usize)
        }
        n => (2, n),
    };
    let mask = if masked {
        if b.len() < header + 4 {
            return None;
        }
        let m = [b[header], b[header + 1], b[header + 2], b[header + 3]];
        header += 4;
        Some(m)
    } else {
        None
    };
    Some(Frame {
        fin,
        opcode,
        header,
        len,
        mask,
    })
}

/// What [`WsReader::next_eio`] returns.
pub enum Eio {
    /// An Engine.IO message: the Socket.IO packet text is in [`WsReader::sio`].
    Message,
    /// A binary message.
    Binary,
    /// Anything else (noop, upgrade probes).
    Other,
}

/// What the buffered bytes hold next ([`WsReader::step`]).
enum Step {
    /// A complete data message with this opcode: its payload is in
    /// [`WsReader::payload`].
    Data(u8),
    /// This many bytes must be buffered to parse the next frame.
    Need(usize),
    /// A pong (answer to a WebSocket ping) was queued on the writer.
    Flush,
    /// A control frame or a fragment was consumed.
    Again,
}

/// What an Engine.IO packet in a text message is, for this client.
enum Kind {
    Message,
    Binary,
    Ping { probe: bool },
    Other,
}

impl WsReader {
    /// The payload of the message [`Self::step`] returned.
    pub fn payload(&self) -> &[u8] {
        if self.use_frag {
            &self.frag
        } else {
            &self.buf.data[self.cur.0..self.cur.1]
        }
    }

    /// Drops the message returned last.
    fn release(&mut self) {
        self.buf.consume(self.pending);
        self.pending = 0;
        if self.use_frag {
            self.frag.clear();
            self.use_frag = false;
        }
    }

    /// Parses one frame from the buffered bytes (no read, no await): a
    /// complete data message, or what to do first (`Need`: make room, read
    /// once, then step again). WebSocket pings are
    /// answered (the pong is queued on `w`), a close frame is an error.
    fn step(&mut self, w: &WsWriter) -> io::Result<Step> {
        let avail = self.buf.avail();
        let Some(frame) = parse_header(avail) else {
            return Ok(Step::Need(avail.len() + 1));
        };
        let total = frame.header + frame.len;
        if avail.len() < total {
            return Ok(Step::Need(total));
        }
        let s = self.buf.start + frame.header;
        let e = s + frame.len;
        if let Some(m) = frame.mask {
            mask(&mut self.buf.data[s..e], m);
        }
        Ok(match frame.opcode {
            8 => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "close frame",
                ));
            }
            9 => {
                w.st.borrow_mut().encode(10, &self.buf.data[s..e]);
                self.buf.consume(total);
                Step::Flush
            }
            10 => {
                self.buf.consume(total);
                Step::Again
            }
            0 if self.in_frag => {
                self.frag.extend_from_slice(&self.buf.data[s..e]);
                self.buf.consume(total);
                if frame.fin {
                    self.in_frag = false;
                    self.use_frag = true;
                    Step::Data(self.frag_op)
                } else {
                    Step::Again
                }
            }
            1 | 2 if !frame.fin => {
                self.frag_op = frame.opcode;
                self.in_frag = true;
                self.frag.clear();
                self.frag.extend_from_slice(&self.buf.data[s..e]);
                self.buf.consume(total);
                Step::Again
            }
            1 | 2 => {
                self.pending = total;
                self.cur = (s, e);
                Step::Data(frame.opcode)
            }
            op => return Err(bad(format!("unexpected WebSocket opcode {op}"))),
        })
    }

    /// Next complete WebSocket data message (its opcode; the payload is in
    /// [`Self::payload`]), answering WebSocket pings and reporting a close
    /// frame as an error.
    async fn next_frame(&mut self, w: &WsWriter) -> io::Result<u8> {
        self.release();
        loop {
            match self.step(w)? {
                Step::Data(op) => return Ok(op),
                Step::Need(n) => {
                    self.buf.reserve(n);
                    self.buf.fill(&mut self.rd).await?;
                }
                Step::Flush => w.flush().await?,
                Step::Again => {}
            }
        }
    }

    /// The Engine.IO packet of the data message with opcode `op` just
    /// returned; a close packet is an error.
    fn kind(&self, op: u8) -> io::Result<Kind> {
        if op == 2 {
            return Ok(Kind::Binary);
        }
        let p = self.payload();
        Ok(match p.first() {
            Some(b'4') => Kind::Message,
            Some(b'2') => Kind::Ping { probe: p.len() > 1 },
            Some(b'1') => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "engine.io close",
                ));
            }
            _ => Kind::Other,
        })
    }

    /// Answers an Engine.IO ping (counted in [`PINGS`]).
    async fn pong(w: &WsWriter, probe: bool) -> io::Result<()> {
        PINGS.fetch_add(1, Ordering::Relaxed);
        w.send_text(if probe { b"3probe" } else { b"3" }).await
    }

    /// Next Engine.IO packet that matters: pings are answered here (and
    /// counted in [`PINGS`]), a close packet is an error. A message's
    /// payload (the Socket.IO packet after the `4`) is in [`Self::sio`].
    pub async fn next_eio(&mut self, w: &WsWriter) -> io::Result<Eio> {
        loop {
            let op = self.next_frame(w).await?;
            match self.kind(op)? {
                Kind::Message => return Ok(Eio::Message),
                Kind::Binary => return Ok(Eio::Binary),
                Kind::Ping { probe } => Self::pong(w, probe).await?,
                Kind::Other => return Ok(Eio::Other),
            }
        }
    }

    /// The Socket.IO packet of the last [`Eio::Message`].
    pub fn sio(&self) -> &[u8] {
        self.payload().get(1..).unwrap_or_default()
    }

    /// Next Socket.IO packet text (Engine.IO messages only): as
    /// [`Self::next_eio`] in a loop, flattened so that a message already
    /// buffered costs no nested future.
    pub async fn next_sio(&mut self, w: &WsWriter) -> io::Result<&[u8]> {
        loop {
            self.release();
            match self.step(w)? {
                Step::Data(op) => match self.kind(op)? {
                    Kind::Message => return Ok(self.sio()),
                    Kind::Ping { probe } => Self::pong(w, probe).await?,
                    Kind::Binary | Kind::Other => {}
                },
                Step::Need(n) => {
                    self.buf.reserve(n);
                    self.buf.fill(&mut self.rd).await?;
                }
                Step::Flush => w.flush().await?,
                Step::Again => {}
            }
        }
    }
}

impl WsReader {
    /// Next binary WebSocket message (a msgpack Socket.IO packet), pings
    /// answered on the way; text messages other than pings are skipped.
    pub async fn next_binary(&mut self, w: &WsWriter) -> io::Result<&[u8]> {
        loop {
            self.release();
            match self.step(w)? {
                Step::Data(op) => match self.kind(op)? {
                    Kind::Binary => return Ok(self.payload()),
                    Kind::Ping { probe } => Self::pong(w, probe).await?,
                    Kind::Message | Kind::Other => {}
                },
                Step::Need(n) => {
                    self.buf.reserve(n);
                    self.buf.fill(&mut self.rd).await?;
                }
                Step::Flush => w.flush().await?,
                Step::Again => {}
            }
        }
    }
}

/// As [`ws_connect`] for a server using `socket.io-msgpack-parser`: the
/// CONNECT is the binary `{type: 0, nsp: "/"}`, the answer a binary packet
/// of type 0 (4, CONNECT_ERROR, is a refusal).
pub async fn ws_connect_msgpack(
    addr: SocketAddr,
    src: Option<IpAddr>,
    seed: u32,
    req: &[u8],
) -> io::Result<WsClient> {
    // {"type":0,"nsp":"/"}
    const CONNECT: &[u8] = b"\x82\xa4type\x00\xa3nsp\xa1/";
    const TYPE: &[u8] = b"\xa4type";
    let mut c = ws_connect_raw(addr, src, seed, req).await?;
    c.writer.send_frame(2, CONNECT).await?;
    loop {
        let p = c.reader.next_binary(&c.writer).await?;
        // The reply map's `type` value, wherever the key is.
        let Some(at) = p.windows(TYPE.len()).position(|w| w == TYPE) else {
            continue;
        };
        match p.get(at + TYPE.len()) {
            Some(0) => return Ok(c),
            Some(4) => return Err(bad("connect refused (msgpack CONNECT_ERROR)")),
            _ => {}
        }
    }
}

/// The WebSocket handshake and the Engine.IO open packet, nothing sent yet.
async fn ws_connect_raw(
    addr: SocketAddr,
    src: Option<IpAddr>,
    seed: u32,
    req: &[u8],
) -> io::Result<WsClient> {
    let stream = tcp_connect(addr, src).await?;
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(req).await?;
    let mut buf = Buf::new(512);
    let end = loop {
        if let Some(i) = head_end(buf.avail()) {
            break i;
        }
        if buf.avail().len() > 16 * 1024 {
            return Err(bad("oversized upgrade response"));
        }
        buf.fill(&mut rd).await?;
    };
    if !buf.avail().starts_with(b"HTTP/1.1 101") {
        let head = String::from_utf8_lossy(&buf.avail()[..end]).into_owned();
        return Err(bad(format!("upgrade refused: {head}")));
    }
    buf.consume(end);
    let writer = Rc::new(WsWriter::new(wr, seed));
    let mut reader = WsReader {
        rd,
        buf,
        pending: 0,
        frag: Vec::new(),
        in_frag: false,
        use_frag: false,
        frag_op: 0,
        cur: (0, 0),
    };
    reader.next_frame(&writer).await?;
    let open = parse_open(reader.payload())?;
    Ok(WsClient {
        reader,
        writer,
        open,
    })
}

/// The handshake figures the server sent.
#[derive(Debug, Clone)]
pub struct Open {
    pub sid: String,
    pub ping_interval: u64,
}

/// The fields of the open packet's JSON object this client uses (a typed,
/// borrowing parse: no map, no allocation unless the sid has escapes).
#[derive(serde::Deserialize)]
struct OpenJson<'a> {
    #[serde(borrow, default)]
    sid: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "pingInterval", default)]
    ping_interval: Option<serde_json::Number>,
}

/// `sid` and `pingInterval` of an open packet's JSON in the compact form
/// every server sends (`{"sid":"…",…,"pingInterval":25000,…}`, no
/// escapes): a byte scan. `None` leaves anything else to serde_json.
fn open_fast(json: &str) -> Option<Open> {
    let b = json.as_bytes();
    if b.first() != Some(&b'{') || b.last() != Some(&b'}') || b.contains(&b'\\') {
        return None;
    }
    let find = |key: &[u8]| {
        b.windows(key.len())
            .position(|w| w == key)
            .map(|i| i + key.len())
    };
    let at = find(b"{\"sid\":\"").or_else(|| find(b",\"sid\":\""))?;
    let sid = &json[at..at + find_byte(&b[at..], b'"')?];
    let at = find(b",\"pingInterval\":").or_else(|| find(b"{\"pingInterval\":"))?;
    let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || !matches!(b.get(at + digits), Some(b',' | b'}')) {
        return None;
    }
    Some(Open {
        sid: sid.to_owned(),
        ping_interval: json[at..at + digits].parse().ok()?,
    })
}

fn parse_open(text: &[u8]) -> io::Result<Open> {
    let text = std::str::from_utf8(text).map_err(|_| bad("open packet not UTF-8"))?;
    match EioPacket::decode(text) {
        Ok(EioPacket::Open(json)) => {
            if let Some(open) = open_fast(json) {
                return Ok(open);
            }
            let v: OpenJson =
                serde_json::from_str(json).map_err(|e| bad(format!("open packet: {e}")))?;
            Ok(Open {
                sid: v.sid.map(|s| s.into_owned()).unwrap_or_default(),
                ping_interval: v.ping_interval.and_then(|n| n.as_u64()).unwrap_or(0),
            })
        }
        _ => Err(bad(format!("expected an open packet, got {text:?}"))),
    }
}

/// A connected Socket.IO client over WebSocket (namespace "/").
pub struct WsClient {
    pub reader: WsReader,
    pub writer: Rc<WsWriter>,
    pub open: Open,
}

/// The WebSocket upgrade request every client sends to `addr` (the same
/// bytes for all: build it once).
pub fn ws_upgrade_request(addr: SocketAddr) -> Vec<u8> {
    format!(
        "GET {PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Connects over WebSocket directly (no polling first), then joins the
/// main namespace: returns once `40{"sid":…}` arrived. `req` is
/// [`ws_upgrade_request`] for `addr`.
pub async fn ws_connect(
    addr: SocketAddr,
    src: Option<IpAddr>,
    seed: u32,
    req: &[u8],
) -> io::Result<WsClient> {
    ws_connect_with(addr, src, seed, req, b"40")
        .await
        .map(|(c, _)| c)
}

/// As [`ws_connect`], sending `connect` as the CONNECT packet (e.g.
/// `40{"pid":…,"offset":…}`); also returns the server's CONNECT reply
/// (`0{"sid":…}`).
pub async fn ws_connect_with(
    addr: SocketAddr,
    src: Option<IpAddr>,
    seed: u32,
    req: &[u8],
    connect: &[u8],
) -> io::Result<(WsClient, Vec<u8>)> {
    let WsClient {
        mut reader,
        writer,
        open,
    } = ws_connect_raw(addr, src, seed, req).await?;
    writer.send_text(connect).await?;
    let reply = loop {
        let p = reader.next_sio(&writer).await?;
        if p.starts_with(b"0") {
            break p.to_vec();
        }
        if p.starts_with(b"4") {
            return Err(bad(format!(
                "connect refused: {}",
                String::from_utf8_lossy(p)
            )));
        }
    };
    Ok((
        WsClient {
            reader,
            writer,
            open,
        },
        reply,
    ))
}

// --------------------------------------------------------------- polling

/// An HTTP/1.1 keep-alive connection.
pub struct Http {
    addr: SocketAddr,
    src: Option<IpAddr>,
    /// `addr` as text, for the Host header.
    host: Vec<u8>,
    conn: Option<(TcpStream, Buf)>,
    req: Vec<u8>,
    body: Vec<u8>,
}

/// What a response head says about its body.
struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
    close: bool,
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_usize(b: &[u8], radix: u32) -> Option<usize> {
    usize::from_str_radix(std::str::from_utf8(b).ok()?, radix).ok()
}

/// Parses a response head (status line, headers, final empty line).
fn parse_head(head: &[u8]) -> Option<Head> {
    // The second space-separated token of the status line.
    let sp = find_byte(head, b' ')? + 1;
    let code = &head[sp..];
    let code_len = code
        .iter()
        .position(|&c| c == b' ' || c == b'\r')
        .unwrap_or(code.len());
    let status = std::str::from_utf8(&code[..code_len]).ok()?.parse().ok()?;
    let mut h = Head {
        status,
        length: None,
        chunked: false,
        close: false,
    };
    let mut rest = &head[line_end(head).map_or(head.len(), |i| i + 2)..];
    while !rest.is_empty() {
        let (line, next) = match line_end(rest) {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let Some(colon) = find_byte(line, b':') else {
            continue;
        };
        let (k, v) = (trim(&line[..colon]), trim(&line[colon + 1..]));
        if k.eq_ignore_ascii_case(b"content-length") {
            h.length = parse_usize(v, 10);
        } else if k.eq_ignore_ascii_case(b"transfer-encoding") {
            h.chunked = contains_ignore_case(v, b"chunked");
        } else if k.eq_ignore_ascii_case(b"connection") {
            h.close = contains_ignore_case(v, b"close");
        }
    }
    Some(h)
}

impl Http {
    pub fn new(addr: SocketAddr, src: Option<IpAddr>) -> Self {
        Http {
            addr,
            src,
            host: addr.to_string().into_bytes(),
            conn: None,
            req: Vec::new(),
            body: Vec::new(),
        }
    }

    /// One request; the body of a 200 answer, an error otherwise.
    pub async fn request(&mut self, method: &str, target: &str, body: &[u8]) -> io::Result<&[u8]> {
        if self.conn.is_none() {
            let s = tcp_connect(self.addr, self.src).await?;
            self.conn = Some((s, Buf::new(1024)));
        }
        let req = &mut self.req;
        req.clear();
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(target.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(&self.host);
        req.extend_from_slice(b"\r\n");
        if method == "POST" {
            req.extend_from_slice(b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ");
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut n = body.len();
            loop {
                at -= 1;
                digits[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            req.extend_from_slice(&digits[at..]);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        let Some((stream, buf)) = self.conn.as_mut() else {
            return Err(bad("no connection"));
        };
        stream.write_all(&self.req).await?;
        let head_len = loop {
            if let Some(i) = head_end(buf.avail()) {
                break i;
            }
            if buf.avail().len() > 64 * 1024 {
                return Err(bad("oversized response head"));
            }
            buf.fill(stream).await?;
        };
        let head = parse_head(&buf.avail()[..head_len]).ok_or_else(|| bad("bad status line"))?;
        buf.consume(head_len);
        let mut close = head.close;
        let out = &mut self.body;
        out.clear();
        if head.chunked {
            loop {
                let line = loop {
                    if let Some(i) = line_end(buf.avail()) {
                        break i;
                    }
                    buf.fill(stream).await?;
                };
                let size_txt = &buf.avail()[..line];
                let size_txt = match size_txt.iter().position(|&c| c == b';') {
                    Some(i) => &size_txt[..i],
                    None => size_txt,
                };
                let size = parse_usize(trim(size_txt), 16).ok_or_else(|| bad("bad chunk size"))?;
                buf.consume(line + 2);
                buf.need(stream, size + 2).await?;
                out.extend_from_slice(&buf.avail()[..size]);
                buf.consume(size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = head.length {
            buf.need(stream, n).await?;
            out.extend_from_slice(&buf.avail()[..n]);
            buf.consume(n);
        } else {
            // Body until close.
            loop {
                out.extend_from_slice(buf.avail());
                let n = buf.avail().len();
                buf.consume(n);
                if buf.fill(stream).await.is_err() {
                    break;
                }
            }
            close = true;
        }
        if close {
            self.conn = None;
        }
        if head.status != 200 {
            return Err(bad(format!(
                "HTTP {} for {method} {target}: {}",
                head.status,
                String::from_utf8_lossy(&self.body)
            )));
        }
        if self.body.capacity() > 64 * 1024 && self.body.len() <= 4096 {
            self.body.shrink_to(4096);
        }
        Ok(&self.body)
    }
}

/// A connected Socket.IO client over long-polling: one connection for
/// the GETs, one for the POSTs, as browsers do.
pub struct PollClient {
    pub get: Http,
    pub post: Http,
    pub target: String,
    /// The handshake the server sent.
    #[allow(dead_code)]
    pub open: Open,
    /// Pings seen in the last GET, to answer with the next POST.
    pub pongs_due: usize,
}

/// Splits a polling payload into its records.
pub fn records(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == 0x1e)
}

impl PollClient {
    /// One POST of Engine.IO records (pongs due are prepended).
    pub async fn send(&mut self, packets: &[&[u8]]) -> io::Result<()> {
        let mut body = Vec::new();
        for _ in 0..self.pongs_due {
            if !body.is_empty() {
                body.push(0x1e);
            }
            body.push(b'3');
        }
        self.pongs_due = 0;
        for p in packets {
            if !body.is_empty() {
                body.push(0x1e);
            }
            body.extend_from_slice(p);
        }
        if body.is_empty() {
            return Ok(());
        }
        self.post.request("POST", &self.target, &body).await?;
        Ok(())
    }
}

/// One polling GET on `get`: calls `on_packet` with each Socket.IO packet
/// it carried; pings are counted in `pongs_due` (answer them with the next
/// POST).
pub async fn poll_records(
    get: &mut Http,
    target: &str,
    pongs_due: &mut usize,
    mut on_packet: impl FnMut(&[u8]),
) -> io::Result<()> {
    let body = get.request("GET", target, b"").await?;
    for rec in records(body) {
        match rec.first() {
            Some(b'2') => {
                PINGS.fetch_add(1, Ordering::Relaxed);
                *pongs_due += 1;
            }
            Some(b'4') => on_packet(&rec[1..]),
            Some(b'1') => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "engine.io close",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Connects over long-polling and joins the main namespace.
pub async fn polling_connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<PollClient> {
    let mut get = Http::new(addr, src);
    let body = get
        .request("GET", &format!("{PATH}?EIO=4&transport=polling"), b"")
        .await?;
    let first = records(body).next().unwrap_or_default();
    let open = parse_open(first)?;
    let mut c = PollClient {
        get,
        post: Http::new(addr, src),
        target: format!("{PATH}?EIO=4&transport=polling&sid={}", open.sid),
        open,
        pongs_due: 0,
    };
    c.send(&[b"40"]).await?;
    loop {
        let (mut connected, mut refused) = (false, None);
        let PollClient {
            get,
            target,
            pongs_due,
            ..
        } = &mut c;
        poll_records(get, target, pongs_due, |p| {
            connected |= p.starts_with(b"0");
            if refused.is_none() && p.starts_with(b"4") {
                refused = Some(String::from_utf8_lossy(p).into_owned());
            }
        })
        .await?;
        if connected {
            break;
        }
        if let Some(p) = refused {
            return Err(bad(format!("connect refused: {p}")));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    /// Deterministic byte strings rich in `\r`, `\n`, `:` and spaces.
    fn samples() -> Vec<Vec<u8>> {
        let alphabet = b"\r\n: aZ09";
        let mut x = 0x9e37_79b9u32;
        let mut out = Vec::new();
        for len in 0..70 {
            for _ in 0..40 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        alphabet[(x % alphabet.len() as u32) as usize]
                    })
                    .collect();
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn byte_searches_match_naive_ones() {
        for s in samples() {
            for c in [b'\r', b'\n', b':', b' ', b'x'] {
                assert_eq!(find_byte(&s, c), s.iter().position(|&b| b == c), "{s:?}");
            }
            assert_eq!(line_end(&s), naive_find(&s, b"\r\n"), "{s:?}");
            assert_eq!(
                head_end(&s),
                naive_find(&s, b"\r\n\r\n").map(|i| i + 4),
                "{s:?}"
            );
        }
        // High bytes next to the searched one (no false positive from borrows).
        let s = [0x80u8, 0x0c, 0x0d, 0x0a, 0xff, 0x0d, 0x0a, 0x0d, 0x0a, 0x01];
        assert_eq!(find_byte(&s, b'\r'), Some(2));
        assert_eq!(head_end(&s), Some(9));
    }

    #[test]
    fn masking_matches_bytewise_xor() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut a = data.clone();
            mask(&mut a, key);
            let b: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, &d)| d ^ key[i & 3])
                .collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn response_heads() {
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nContent-Length: 118\r\ndate: x\r\n\r\n",
        )
        .expect("head");
        assert_eq!(
            (h.status, h.length, h.chunked, h.close),
            (200, Some(118), false, false)
        );
        let h = parse_head(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: Chunked\r\nConnection:  Close \r\n\r\n",
        )
        .expect("head");
        assert_eq!(
            (h.status, h.length, h.chunked, h.close),
            (400, None, true, true)
        );
        let h = parse_head(b"HTTP/1.1 200\r\ncontent-length: 2\r\n\r\n").expect("head");
        assert_eq!((h.status, h.length), (200, Some(2)));
        assert!(parse_head(b"garbage\r\n\r\n").is_none());
    }

    #[test]
    fn open_packet() {
        let o = parse_open(
            br#"0{"sid":"ab\"c","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        )
        .expect("open");
        assert_eq!((o.sid.as_str(), o.ping_interval), ("ab\"c", 25000));
        let o = parse_open(br#"0{ "pingInterval" : 300.5 }"#).expect("open");
        assert_eq!((o.sid.as_str(), o.ping_interval), ("", 0));
        assert!(parse_open(br#"0{"sid":"a""#).is_err());
        assert!(parse_open(br#"0{"sid":"a","pingInterval":25000"#).is_err());
        // The byte scan and serde_json agree.
        for json in [
            r#"{"sid":"MCjmltRvJV9wtUo5hL2O","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            r#"{"pingInterval":500,"sid":"x-y_z"}"#,
            r#"{"sid":"","pingInterval":0}"#,
        ] {
            let fast = open_fast(json).expect("fast path");
            let v: serde_json::Value = serde_json::from_str(json).expect("json");
            assert_eq!(fast.sid, v["sid"].as_str().expect("sid"));
            assert_eq!(Some(fast.ping_interval), v["pingInterval"].as_u64());
        }
        for json in [
            r#"{"sid": "a", "pingInterval": 1}"#,
            r#"{"sid":"a\"b","pingInterval":1}"#,
            r#"{"sid":"a","pingInterval":1.5}"#,
            r#"{"sid":"a"}"#,
        ] {
            assert!(open_fast(json).is_none(), "{json}");
        }
        assert!(parse_open(br#"4{"sid":"a"}"#).is_err());
    }
}
