//! WebSocket frames (RFC 6455), for both sides: masked client frames,
//! unmasked server frames. The only extension is permessage-deflate
//! ([`super::deflate`]), whose RSV1 bit is allowed where it was negotiated;
//! any other reserved bit is a protocol error.
//!
//! ```
//! use oxsio::codec::websocket::{Frame, Opcode, parse_header, unmask, write_header};
//!
//! // A masked client text frame "hi".
//! let mut wire = vec![0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
//! let frame = parse_header(&wire, 1000).unwrap().unwrap();
//! assert_eq!(frame.opcode, Opcode::Text);
//! let payload = &mut wire[frame.header_len..frame.header_len + frame.len];
//! unmask(payload, frame.mask.unwrap());
//! assert_eq!(payload, b"hi");
//!
//! let mut out = Vec::new();
//! write_header(&mut out, Opcode::Text, 2);
//! assert_eq!(out, [0x81, 2]);
//! ```

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// The next fragment of a message.
    Continuation,
    /// A text message (or its first fragment).
    Text,
    /// A binary message (or its first fragment).
    Binary,
    /// Close, with an optional code and reason.
    Close,
    /// Ping: answered with a pong carrying the same payload.
    Ping,
    /// Pong.
    Pong,
}

impl Opcode {
    pub(crate) fn from_bits(b: u8) -> Option<Opcode> {
        Some(match b {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    pub(crate) fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Last fragment of its message.
    pub fin: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key (client frames carry one).
    pub mask: Option<[u8; 4]>,
    /// Header length in bytes; the payload starts there.
    pub header_len: usize,
    /// Payload length in bytes.
    pub len: usize,
    /// RSV1: the message is compressed (permessage-deflate).
    pub compressed: bool,
}

/// Who sent the frames being parsed: client frames must be masked, server
/// frames must not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Frames from a client (parsed by a server).
    Client,
    /// Frames from a server (parsed by a client).
    Server,
}

/// Close codes used by the server (RFC 6455 §7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// Invalid payload data (e.g. text that is not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// Message too big.
    pub const TOO_BIG: u16 = 1009;
}

/// Why a frame header is refused; each maps to a close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The payload is over the limit (1009).
    #[error("Max payload size exceeded")]
    TooBig,
    /// A text message that is not UTF-8 (1007).
    #[error("Invalid UTF-8")]
    InvalidUtf8,
    /// Reserved bits, unknown opcode, a fragmented or long control frame,
    /// or an unmasked client frame (1002).
    #[error("{0}")]
    Protocol(&'static str),
    /// A compressed message that does not inflate (1007, as Node's `ws`).
    #[error("Invalid compressed data")]
    Compression,
}

impl FrameError {
    /// The close code to send.
    pub fn close_code(self) -> u16 {
        match self {
            FrameError::TooBig => close_code::TOO_BIG,
            FrameError::InvalidUtf8 | FrameError::Compression => close_code::INVALID_DATA,
            FrameError::Protocol(_) => close_code::PROTOCOL,
        }
    }
}

/// Parses a client frame header from the start of `buf`.
///
/// `Ok(None)` when more bytes are needed for the header. The payload may
/// still be incomplete: check `header_len + len` against what you have.
///
/// # Errors
/// [`FrameError`] for a header the server must refuse.
pub fn parse_header(buf: &[u8], max_payload: usize) -> Result<Option<Frame>, FrameError> {
    parse_frame_header(buf, max_payload, Sender::Client, false)
}

/// Parses a frame header sent by `sender`, with RSV1 allowed when
/// `deflate` was negotiated (whether it may be set on this frame, the
/// first of a data message, is the caller's check).
///
/// # Errors
/// [`FrameError`] for a header that must be refused.
pub fn parse_frame_header(
    buf: &[u8],
    max_payload: usize,
    sender: Sender,
    deflate: bool,
) -> Result<Option<Frame>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let reserved = if deflate { 0x30 } else { 0x70 };
    if b0 & reserved != 0 {
        return Err(FrameError::Protocol("Invalid frame: reserved bits set"));
    }
    let fin = b0 & 0x80 != 0;
    let compressed = b0 & 0x40 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0f).ok_or(FrameError::Protocol("Invalid opcode"))?;
    let masked = b1 & 0x80 != 0;
    match sender {
        Sender::Client if !masked => {
            return Err(FrameError::Protocol("Invalid frame: MASK must be set"));
        }
        Sender::Server if masked => {
            return Err(FrameError::Protocol("Invalid frame: MASK must be clear"));
        }
        _ => {}
    }
    if compressed && opcode.is_control() {
        return Err(FrameError::Protocol(
            "Invalid frame: RSV1 on a control frame",
        ));
    }
    let (len, mut pos) = match b1 & 0x7f {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            let n = u64::from_be_bytes(a);
            if n >> 63 != 0 {
                return Err(FrameError::Protocol("Invalid frame: length MSB set"));
            }
            (n, 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::Protocol("Invalid control frame"));
    }
    if len > max_payload as u64 {
        return Err(FrameError::TooBig);
    }
    let mask = if masked {
        let Some(m) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        pos += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    Ok(Some(Frame {
        fin,
        opcode,
        mask,
        header_len: pos,
        // Fits: bounded by max_payload, a usize.
        len: len as usize,
        compressed,
    }))
}

/// XORs `data` with the masking key (in place; applying it twice restores the data).
pub fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let word = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(a) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// Appends an unmasked, final server frame header for a payload of `len` bytes.
pub fn write_header(out: &mut Vec<u8>, opcode: Opcode, len: usize) {
    write_header_with(out, opcode, len, false, None);
}

/// Appends a final frame header: RSV1 set when `compressed`, and the
/// masking key when given (a client's frames; mask the payload with
/// [`unmask`]).
pub fn write_header_with(
    out: &mut Vec<u8>,
    opcode: Opcode,
    len: usize,
    compressed: bool,
    mask: Option<[u8; 4]>,
) {
    let b0 = 0x80 | if compressed { 0x40 } else { 0 } | opcode.bits();
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.extend_from_slice(&[b0, m | len as u8]);
    } else if let Ok(n) = u16::try_from(len) {
        let l = n.to_be_bytes();
        out.extend_from_slice(&[b0, m | 126, l[0], l[1]]);
    } else {
        out.extend_from_slice(&[b0, m | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends a whole server frame.
pub fn write_frame(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    write_header(out, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// Appends a close frame with `code` and `reason` (at most 123 bytes are kept).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    write_header(out, Opcode::Close, 2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
}

/// The code of a close frame's payload, `None` if it has none.
///
/// # Errors
/// A one-byte payload, a code the RFC forbids on the wire, or a reason
/// that is not UTF-8.
pub fn parse_close(payload: &[u8]) -> Result<Option<u16>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::Protocol("Invalid close frame")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid || std::str::from_utf8(reason).is_err() {
                return Err(FrameError::Protocol("Invalid close frame"));
            }
            Ok(Some(code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        let len = payload.len();
        if len < 126 {
            out.extend_from_slice(&[b0, 0x80 | len as u8]);
        } else if len <= 0xffff {
            out.extend_from_slice(&[b0, 0x80 | 126]);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.extend_from_slice(&[b0, 0x80 | 127]);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        unmask(&mut p, mask);
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn lengths_round_trip_at_every_boundary() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut wire = client_frame(0x82, &payload, [9, 8, 7, 6]);
            let f = parse_header(&wire, 1 << 20).unwrap().unwrap();
            assert_eq!((f.fin, f.opcode, f.len), (true, Opcode::Binary, len));
            let p = &mut wire[f.header_len..];
            unmask(p, f.mask.unwrap());
            assert_eq!(p, &payload[..]);
            // Every strict prefix of the header asks for more bytes.
            for cut in 0..f.header_len {
                assert_eq!(parse_header(&wire[..cut], 1 << 20), Ok(None));
            }
            let mut out = Vec::new();
            write_header(&mut out, Opcode::Binary, len);
            let expect_hdr = if len < 126 {
                2
            } else if len <= 0xffff {
                4
            } else {
                10
            };
            assert_eq!(out.len(), expect_hdr);
        }
    }

    #[test]
    fn refusals() {
        let m = [1, 2, 3, 4];
        let big = client_frame(0x81, &[b'a'; 200], m);
        assert_eq!(parse_header(&big, 100), Err(FrameError::TooBig));
        assert_eq!(FrameError::TooBig.close_code(), 1009);
        for (b0, why) in [(0xc1, "rsv1"), (0x83, "opcode 3"), (0x8b, "opcode 11")] {
            let f = client_frame(b0, b"x", m);
            assert!(
                matches!(parse_header(&f, 100), Err(FrameError::Protocol(_))),
                "{why}"
            );
        }
        // Unmasked client frame.
        assert!(parse_header(&[0x81, 0x01, b'x'], 100).is_err());
        // Fragmented or long control frames.
        assert!(parse_header(&client_frame(0x09, b"", m), 100).is_err());
        assert!(parse_header(&client_frame(0x89, &[0; 126], m), 1000).is_err());
        // 64-bit length with the top bit set.
        let mut w = vec![0x82, 0xff];
        w.extend_from_slice(&u64::MAX.to_be_bytes());
        w.extend_from_slice(&m);
        assert!(parse_header(&w, usize::MAX).is_err());
    }

    #[test]
    fn unmask_matches_bytewise_for_every_length_and_offset() {
        let mask = [0xde, 0xad, 0xbe, 0xef];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut fast = data.clone();
            unmask(&mut fast, mask);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn close_frames() {
        let mut out = Vec::new();
        write_close(&mut out, 1009, "Max payload size exceeded");
        assert_eq!(&out[..4], &[0x88, 27, 0x03, 0xf1]);
        assert_eq!(parse_close(&out[2..]), Ok(Some(1009)));
        assert_eq!(parse_close(&[]), Ok(None));
        assert!(parse_close(&[3]).is_err());
        assert!(parse_close(&1005u16.to_be_bytes()).is_err());
        assert!(parse_close(&[0x03, 0xe8, 0xff]).is_err());
        // Reasons are cut to fit a control frame, on a char boundary.
        out.clear();
        write_close(&mut out, 1000, &"é".repeat(100));
        assert!(out.len() - 2 <= 125);
        assert!(parse_close(&out[2..]).is_ok());
    }
}
