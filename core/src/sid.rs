//! Session and socket ids: 20 URL-safe characters (15 random bytes in
//! base64url), as the official server's `base64id`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A session or socket id: 20 URL-safe characters, `Copy` and cheap to hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

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
