//! [`Sid`]: session identifiers.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use crate::Error;

/// Number of characters in a session id.
const LEN: usize = 20;

/// The URL-safe base64 alphabet (RFC 4648 §5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// An Engine.IO session id: 20 URL-safe base64 characters from 15 bytes of a
/// CSPRNG, so it is unguessable.
///
/// It is `Copy` and 20 bytes big because it is used as a map key everywhere.
///
/// ```
/// use sockeye_engineio_proto::Sid;
///
/// let sid = Sid::random();
/// assert_eq!(sid.as_str().len(), 20);
/// assert_eq!(sid.as_str().parse::<Sid>()?, sid);
/// assert!("too-short".parse::<Sid>().is_err());
/// # Ok::<(), sockeye_engineio_proto::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; LEN]);

impl Sid {
    /// A fresh session id from the thread-local CSPRNG.
    pub fn random() -> Sid {
        // ThreadRng is a CSPRNG periodically reseeded from the OS, and much
        // cheaper than a syscall per session.
        let raw: [u8; 15] = rand::random();
        let mut out = [0u8; LEN];
        // 15 bytes are exactly 5 groups of 3 bytes, i.e. 20 base64 chars with
        // no padding, so a fixed-size loop does the whole encoding.
        for (group, chars) in raw.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
            let n = group.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            for (i, c) in chars.iter_mut().enumerate() {
                let shift = 18 - 6 * i;
                *c = ALPHABET[((n >> shift) & 63) as usize];
            }
        }
        Sid(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphabet bytes are ever stored (checked by `random` and
        // `from_str`), so the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// A hasher for maps keyed by [`Sid`]: a few multiplications instead of SipHash.
///
/// SipHash protects maps whose keys an attacker chooses; a map keyed by sids holds only ids
/// this server drew from a CSPRNG, which are uniform already, and looking up a forged id
/// costs no more than any other lookup. Broadcasts look up every target's id, so this is on
/// the fan-out path.
///
/// ```
/// use std::collections::HashMap;
/// use sockeye_engineio_proto::{BuildSidHasher, Sid};
///
/// let mut sessions: HashMap<Sid, u32, BuildSidHasher> = HashMap::default();
/// let sid = Sid::random();
/// sessions.insert(sid, 1);
/// assert_eq!(sessions.get(&sid), Some(&1));
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct SidHasher(u64);

impl SidHasher {
    /// FxHash's step: rotate, mix in, multiply by a large odd constant.
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Whole words at once: a sid is hashed for every recipient of a broadcast.
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`SidHasher`]s, for `HashMap<Sid, V, BuildSidHasher>`.
pub type BuildSidHasher = BuildHasherDefault<SidHasher>;

impl FromStr for Sid {
    type Err = Error;

    /// Accepts exactly 20 characters of `[A-Za-z0-9_-]`.
    fn from_str(s: &str) -> Result<Sid, Error> {
        let bytes: [u8; LEN] = s.as_bytes().try_into().map_err(|_| Error::InvalidSid)?;
        if bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(Sid(bytes))
        } else {
            Err(Error::InvalidSid)
        }
    }
}

impl TryFrom<&str> for Sid {
    type Error = Error;

    fn try_from(s: &str) -> Result<Sid, Error> {
        s.parse()
    }
}

impl AsRef<str> for Sid {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sid").field(&self.as_str()).finish()
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Sid, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Sid;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 20-character Engine.IO session id")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Sid, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let ids: std::collections::HashSet<Sid> = (0..1000).map(|_| Sid::random()).collect();
        assert_eq!(ids.len(), 1000);
        for sid in ids {
            assert_eq!(sid.as_str().parse::<Sid>(), Ok(sid));
            // The hand-rolled encoder must agree with a real base64url decoder.
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sid.as_str())
                .unwrap();
            assert_eq!(raw.len(), 15);
        }
    }

    #[test]
    fn parses_the_protocol_example() {
        let sid: Sid = "lv_VI97HAXpY6yYWAAAC".parse().unwrap();
        assert_eq!(sid.to_string(), "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(format!("{sid:?}"), "Sid(\"lv_VI97HAXpY6yYWAAAC\")");
    }

    #[test]
    fn rejects_wrong_length_or_characters() {
        for bad in [
            "",
            "lv_VI97HAXpY6yYWAAA",
            "lv_VI97HAXpY6yYWAAACC",
            "lv_VI97HAXpY6yYWAAA=",
            "lv_VI97HAXpY6yYWAA+/",
            "lv_VI97HAXpY6yYWAA é",
            "lv_VI97HAXpY6yYWAAA\0",
            "lv VI97HAXpY6yYWAAAC",
        ] {
            assert_eq!(bad.parse::<Sid>(), Err(Error::InvalidSid), "{bad:?}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let sid = Sid::random();
        let json = serde_json::to_string(&sid).unwrap();
        assert_eq!(json, format!("\"{sid}\""));
        assert_eq!(serde_json::from_str::<Sid>(&json).unwrap(), sid);
        assert!(serde_json::from_str::<Sid>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = s.parse::<Sid>();
        }

        #[test]
        fn parse_accepts_exactly_the_alphabet(s in "[A-Za-z0-9_-]{20}") {
            prop_assert_eq!(s.parse::<Sid>().map(|sid| sid.to_string()), Ok(s));
        }
    }
}
