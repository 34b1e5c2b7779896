//! permessage-deflate (RFC 7692): the extension negotiation and the
//! compression of one message.
//!
//! oxsio always agrees on `server_no_context_takeover` and
//! `client_no_context_takeover`: each message is compressed on its own, so
//! a connection keeps no zlib state between messages. A compression context
//! kept per connection would cost hundreds of KiB on each one (zlib's
//! window and hash tables); here the compressor and decompressor belong to
//! the thread and are reset for every message. Messages are also only
//! compressed from a size threshold, where a shared window matters least.
//!
//! ```
//! use oxsio::codec::deflate::{compress, decompress, negotiate};
//!
//! // The offer of Node's `ws` client, and what the server answers.
//! let agreed = negotiate("permessage-deflate; client_max_window_bits").unwrap();
//! assert_eq!(
//!     agreed.answer,
//!     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
//! );
//!
//! let text = "hello ".repeat(100);
//! let mut wire = Vec::new();
//! compress(text.as_bytes(), &mut wire);
//! assert!(wire.len() < 40);
//! assert_eq!(decompress(&wire, 10_000).unwrap(), text.as_bytes());
//! // A message that inflates past the limit is refused, however small it is.
//! assert!(decompress(&wire, 100).is_err());
//! ```

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::websocket::FrameError;

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const NAME: &str = "permessage-deflate";

/// What the server answers to an offer it accepts.
const ANSWER: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// What a client offers (and requires of the server's answer).
pub const CLIENT_OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The four bytes a sync flush ends with, removed on the wire (RFC 7692 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

thread_local! {
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// One extension offer: its name and parameters, as sent.
fn parse_offers(header: &str) -> impl Iterator<Item = (&str, Vec<(&str, Option<&str>)>)> {
    header.split(',').map(|offer| {
        let mut parts = offer.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let params = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                None => (p, None),
            })
            .collect();
        (name, params)
    })
}

/// A window size parameter's value: 8 to 15.
fn window_bits(v: &str) -> Option<u8> {
    v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

/// Whether the server can honour one permessage-deflate offer (known
/// parameters, each at most once, with valid values): the window the
/// client allows the server (`server_max_window_bits`, 15 when absent).
fn acceptable(params: &[(&str, Option<&str>)]) -> Option<u8> {
    let mut seen: Vec<&str> = Vec::new();
    let mut server_bits = 15;
    for &(key, value) in params {
        if seen.contains(&key) {
            return None;
        }
        seen.push(key);
        match key {
            "server_no_context_takeover" | "client_no_context_takeover" if value.is_none() => {}
            "server_max_window_bits" => server_bits = value.and_then(window_bits)?,
            // Our decompressor takes any window the client uses.
            "client_max_window_bits" if value.is_none_or(|v| window_bits(v).is_some()) => {}
            _ => return None,
        }
    }
    Some(server_bits)
}

/// What the server agreed to with one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The `Sec-WebSocket-Extensions` answer.
    pub answer: String,
    /// The largest message the server may compress: a client that allows
    /// the server a window of 2^N bytes (`server_max_window_bits=N`, N < 15)
    /// gets messages of at most 2^N bytes compressed, larger ones plain.
    /// Each message is compressed on its own, so no back-reference can
    /// then reach past the client's window (our compressor's window is
    /// 32 KiB and cannot be made smaller). `usize::MAX` otherwise.
    pub max_message: usize,
}

/// The server's answer to a client's offers, or `None` when none of them
/// is a permessage-deflate the server accepts (the connection then goes
/// on uncompressed).
pub fn negotiate(offers: &str) -> Option<Agreement> {
    parse_offers(offers).find_map(|(name, params)| {
        if !name.eq_ignore_ascii_case(NAME) {
            return None;
        }
        Some(match acceptable(&params)? {
            15 => Agreement {
                answer: ANSWER.to_owned(),
                max_message: usize::MAX,
            },
            bits => Agreement {
                answer: format!("{ANSWER}; server_max_window_bits={bits}"),
                max_message: 1 << bits,
            },
        })
    })
}

/// Checks the server's answer to [`CLIENT_OFFER`]: `Ok(true)` when it
/// agreed on permessage-deflate, `Ok(false)` when it declined (no header).
///
/// # Errors
/// An answer the client did not offer: another extension, several, an
/// unknown parameter, or one that keeps a compression context.
pub fn check_answer(answer: Option<&str>) -> Result<bool, &'static str> {
    let Some(answer) = answer.filter(|a| !a.trim().is_empty()) else {
        return Ok(false);
    };
    let mut offers = parse_offers(answer);
    let (Some((name, params)), None) = (offers.next(), offers.next()) else {
        return Err("several extensions in the answer");
    };
    if !name.eq_ignore_ascii_case(NAME) {
        return Err("an extension that was not offered");
    }
    if acceptable(&params).is_none() {
        return Err("invalid permessage-deflate parameters");
    }
    // We did not offer client_max_window_bits: the server may not bound
    // our window (RFC 7692 7.1.2.2).
    if params.iter().any(|(k, _)| *k == "client_max_window_bits") {
        return Err("client_max_window_bits that was not offered");
    }
    // We offered no context takeover on either side; the server must agree
    // to the server side (the client side is ours to keep).
    if !params
        .iter()
        .any(|(k, _)| *k == "server_no_context_takeover")
    {
        return Err("the server keeps a compression context");
    }
    Ok(true)
}

/// Appends `input`, compressed as one message (without the trailing
/// `00 00 ff ff`), to `out`.
pub fn compress(input: &[u8], out: &mut Vec<u8>) {
    DEFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut c) => compress_with(&mut c, input, out),
        Err(_) => compress_with(
            &mut Compress::new(Compression::default(), false),
            input,
            out,
        ),
    })
}

fn compress_with(c: &mut Compress, input: &[u8], out: &mut Vec<u8>) {
    c.reset();
    let base = c.total_in();
    let taken = |c: &Compress| usize::try_from(c.total_in() - base).unwrap_or(usize::MAX);
    let start = out.len();
    // Room for the whole message (above zlib's compressBound): the
    // compressor then has no reason to hold output back.
    out.reserve(input.len() + input.len() / 16 + 64);
    loop {
        let rest = input.get(taken(c)..).unwrap_or(&[]);
        let before = (c.total_in(), c.total_out());
        // Compression into a Vec cannot fail: errors are for invalid streams.
        if c.compress_vec(rest, out, FlushCompress::Sync).is_err() {
            break;
        }
        // The flush is complete once the input is taken and the sync
        // block's empty stored block (the tail) ends the output, with room
        // left. Room alone is not enough: a call that only hands out what
        // the compressor held back returns before it compresses the rest
        // of its input and flushes (Autobahn 12.2.9 lost a message's last
        // 247 bytes so).
        let room = out.len() < out.capacity();
        if taken(c) >= input.len() && room && out[start..].ends_with(&TAIL) {
            break;
        }
        if room && before == (c.total_in(), c.total_out()) {
            // No progress with room to spare: nothing more will come.
            break;
        }
        out.reserve(input.len() / 2 + 64);
    }
    if out[start..].ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
}

/// Inflates one compressed message.
///
/// # Errors
/// [`FrameError::TooBig`] once the output passes `limit` bytes (a
/// decompression bomb stops there), [`FrameError::Protocol`] for data that
/// is not deflate (close code 1007 in Node's `ws`, see
/// [`FrameError::close_code`]).
pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
    INFLATE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut d) => decompress_with(&mut d, input, limit),
        Err(_) => decompress_with(&mut Decompress::new(false), input, limit),
    })
}

fn decompress_with(d: &mut Decompress, input: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
    d.reset(false);
    let cap = input.len().saturating_mul(3).max(64);
    let mut out = Vec::with_capacity(cap.min(limit.saturating_add(1)));
    for chunk in [input, &TAIL[..]] {
        let base = d.total_in();
        loop {
            let used = usize::try_from(d.total_in() - base).unwrap_or(usize::MAX);
            let rest = chunk.get(used..).unwrap_or(&[]);
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(FrameError::TooBig);
                }
                let room = out.len().max(64).min(limit + 1 - out.len());
                out.reserve_exact(room);
            }
            let before = (d.total_in(), out.len());
            let status = d
                .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                .map_err(|_| FrameError::Compression)?;
            if out.len() > limit {
                return Err(FrameError::TooBig);
            }
            match status {
                // A final block: whatever follows (the tail) is ignored.
                Status::StreamEnd => return Ok(out),
                // Done with this chunk once a call makes no progress with
                // room left: one that only hands out output held back
                // returns before it decodes the rest (see `compress_with`).
                _ if out.len() < out.capacity() && before == (d.total_in(), out.len()) => break,
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_of_real_clients_are_accepted() {
        for offer in [
            // Node's ws, Chrome, Firefox.
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=15",
            "permessage-deflate",
            "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=15; client_no_context_takeover",
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=15",
        ] {
            let agreed = negotiate(offer).unwrap();
            assert_eq!(
                (agreed.answer.as_str(), agreed.max_message),
                (ANSWER, usize::MAX),
                "{offer}"
            );
        }
    }

    #[test]
    fn a_smaller_server_window_bounds_what_is_compressed() {
        let agreed = negotiate("permessage-deflate; server_max_window_bits=9").unwrap();
        assert_eq!(agreed.answer, format!("{ANSWER}; server_max_window_bits=9"));
        assert_eq!(agreed.max_message, 512);
        // The first acceptable offer wins.
        let agreed = negotiate("permessage-deflate; server_max_window_bits=10, permessage-deflate");
        assert_eq!(agreed.unwrap().max_message, 1024);
    }

    #[test]
    fn offers_we_cannot_honour_are_declined() {
        for offer in [
            "",
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown",
        ] {
            assert_eq!(negotiate(offer), None, "{offer}");
        }
    }

    #[test]
    fn answers_are_checked() {
        assert_eq!(check_answer(None), Ok(false));
        assert_eq!(check_answer(Some(ANSWER)), Ok(true));
        assert_eq!(
            check_answer(Some("permessage-deflate; server_no_context_takeover")),
            Ok(true)
        );
        assert!(check_answer(Some("permessage-deflate")).is_err());
        let bounded = format!("{ANSWER}; client_max_window_bits=10");
        assert!(check_answer(Some(&bounded)).is_err());
        assert!(check_answer(Some("foo")).is_err());
        assert!(check_answer(Some(&format!("{ANSWER}, {ANSWER}"))).is_err());
    }

    #[test]
    fn round_trips_at_many_sizes() {
        for len in [0, 1, 100, 1024, 70_000, 1 << 20] {
            let data: Vec<u8> = (0..len)
                .map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8)
                .collect();
            let mut wire = Vec::new();
            compress(&data, &mut wire);
            assert!(!wire.ends_with(&TAIL) || wire.is_empty());
            assert_eq!(decompress(&wire, len).unwrap(), data, "{len}");
            if len > 0 {
                assert_eq!(decompress(&wire, len - 1), Err(FrameError::TooBig));
            }
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 50 << 20];
        let mut wire = Vec::new();
        compress(&zeros, &mut wire);
        assert!(wire.len() < 100_000);
        assert_eq!(decompress(&wire, 1_000_000), Err(FrameError::TooBig));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(
            decompress(&[0xff, 0xff, 0xff], 1000),
            Err(FrameError::Compression)
        );
    }

    #[test]
    fn a_final_block_from_the_peer_is_accepted() {
        // Compressed with BFINAL (as some clients end a message).
        let mut c = Compress::new(Compression::default(), false);
        let mut wire = Vec::with_capacity(100);
        c.compress_vec(b"hello", &mut wire, FlushCompress::Finish)
            .unwrap();
        assert_eq!(decompress(&wire, 100).unwrap(), b"hello");
    }
}
