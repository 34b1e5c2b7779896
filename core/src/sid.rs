//! Session and socket ids: 20 URL-safe characters (15 random bytes in
//! base64url), as the official server's `base64id`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A session or socket id: 20 URL-safe characters, `Copy` and cheap to hash.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Hash for Sid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let b = &self.0;
        state.write_u64(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]));
        state.write_u64(u64::from_le_bytes([
            b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15],
        ]));
        state.write_u32(u32::from_le_bytes([b[16], b[17], b[18], b[19]]));
    }
}

/// A hasher for maps keyed by [`Sid`]: a multiply-rotate per word (as
/// rustc's FxHash). Stored sids are random and made by the server, so no
/// peer can choose keys that collide, and SipHash (a fifth of the CPU of a
/// 1000-socket broadcast) buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct SidHasher(u64);

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut a = [0u8; 8];
            a[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(a));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high half into the low bits hashbrown indexes with.
        self.0 ^ (self.0 >> 29)
    }
}

/// A map keyed by sids.
pub(crate) type SidMap<V> = HashMap<Sid, V, BuildHasherDefault<SidHasher>>;
/// A set of sids.
pub(crate) type SidSet = HashSet<Sid, BuildHasherDefault<SidHasher>>;

impl Sid {
    /// A fresh random id.
    pub fn random() -> Sid {
        let raw: [u8; 15] = rand::random();
        let mut out = [0u8; 20];
        // 15 bytes always encode to exactly 20 base64 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(raw, &mut out);
        Sid(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only base64url characters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Parses an id received from a peer; `None` unless it has the exact shape.
    pub fn parse(s: &str) -> Option<Sid> {
        let bytes: [u8; 20] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Sid(bytes))
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl std::str::FromStr for Sid {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Sid::parse(s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_20_url_safe_chars_and_parse_back() {
        let a = Sid::random();
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(Sid::parse(a.as_str()), Some(a));
        assert_ne!(a, Sid::random());
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa="), None);
    }
}
