//! [`Str`]: shareable UTF-8 text.

use std::fmt;
use std::ops::{Bound, Deref, RangeBounds};

use bytes::Bytes;
use bytestring::ByteString;

use crate::Error;

/// UTF-8 text backed by [`Bytes`]: cheap to clone and share across many outboxes.
///
/// The bytes are checked to be valid UTF-8 once, when a `Str` is built, so reading
/// it back as a `&str` costs nothing. Cloning and slicing never copy the text.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_engineio_proto::Str;
///
/// let s = Str::try_from(Bytes::from_static("4héllo".as_bytes()))?;
/// assert_eq!(s, "4héllo");
/// assert_eq!(s.slice_from(1).as_deref(), Some("héllo"));
/// assert_eq!(s.slice_from(3), None); // inside the two-byte 'é'
/// assert!(Str::try_from(Bytes::from_static(&[0xff])).is_err());
/// # Ok::<(), sockeye_engineio_proto::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Str(ByteString);

impl Str {
    /// Wraps a string literal without copying it.
    pub const fn from_static(s: &'static str) -> Str {
        Str(ByteString::from_static(s))
    }

    /// Checks that `bytes` is UTF-8 and wraps it without copying.
    ///
    /// Same as `Str::try_from(bytes)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUtf8`] if `bytes` is not UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Str, Error> {
        ByteString::try_from(bytes)
            .map(Str)
            .map_err(|_| Error::InvalidUtf8)
    }

    /// The text as a `&str` (no check: it was made when the `Str` was built).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying UTF-8 bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// The underlying UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes (not chars).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text from byte offset `start` to the end, sharing the same buffer.
    ///
    /// Returns `None` if `start` is past the end or not on a char boundary.
    pub fn slice_from(&self, start: usize) -> Option<Str> {
        self.slice(start..)
    }

    /// The text in the byte range `range`, sharing the same buffer.
    ///
    /// Returns `None` if the range is out of bounds, reversed, or either end
    /// is not on a char boundary.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Option<Str> {
        let start = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1)?,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.len(),
        };
        if start > end || end > self.len() {
            return None;
        }
        if !self.is_boundary(start) || !self.is_boundary(end) {
            return None;
        }
        Some(Str(self.0.slice_ref(&self.as_str()[start..end])))
    }

    /// Char-boundary test on the raw bytes, so that slicing does not have to
    /// re-validate the whole text: in valid UTF-8, a position is a boundary
    /// unless it points at a continuation byte (`0b10xx_xxxx`).
    fn is_boundary(&self, index: usize) -> bool {
        match self.as_bytes().get(index) {
            Some(&b) => (b & 0xC0) != 0x80,
            None => index == self.len(),
        }
    }

    /// Length of the text in UTF-16 code units, i.e. JavaScript's `string.length`.
    ///
    /// Engine.IO v3 polling payloads count lengths this way.
    pub fn utf16_len(&self) -> usize {
        utf16_len(self.as_bytes())
    }
}

/// Counts UTF-16 code units straight from UTF-8 bytes: one per char (every
/// non-continuation byte), plus one more for chars outside the BMP (4-byte
/// sequences, whose leading byte is `>= 0xF0`), which need a surrogate pair.
pub(crate) fn utf16_len(utf8: &[u8]) -> usize {
    utf8.iter()
        .map(|&b| usize::from((b & 0xC0) != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

impl TryFrom<Bytes> for Str {
    type Error = Error;

    fn try_from(bytes: Bytes) -> Result<Str, Error> {
        Str::from_utf8(bytes)
    }
}

impl TryFrom<Vec<u8>> for Str {
    type Error = Error;

    fn try_from(bytes: Vec<u8>) -> Result<Str, Error> {
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Str::from(s)),
            Err(_) => Err(Error::InvalidUtf8),
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str(ByteString::from(s))
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Str {
        Str::from_static(s)
    }
}

impl From<Str> for Bytes {
    fn from(s: Str) -> Bytes {
        s.0.into_bytes()
    }
}

impl Deref for Str {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Str {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for Str {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Str> for str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl serde::Serialize for Str {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Str {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Str, D::Error> {
        String::deserialize(deserializer).map(Str::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(
            Str::try_from(Bytes::from_static(b"a\xc3")),
            Err(Error::InvalidUtf8)
        );
        assert_eq!(
            Str::try_from(vec![0xed, 0xa0, 0x80]),
            Err(Error::InvalidUtf8)
        );
    }

    #[test]
    fn conversions_and_comparisons() {
        let s = Str::from(String::from("€uro"));
        assert_eq!(s, "€uro");
        assert_eq!("€uro", s);
        assert_eq!(s, String::from("€uro"));
        assert_eq!(s.len(), 6);
        assert!(!s.is_empty());
        assert!(Str::default().is_empty());
        assert_eq!(s.to_string(), "€uro");
        assert_eq!(format!("{s:?}"), "\"€uro\"");
        assert_eq!(
            Bytes::from(s.clone()),
            Bytes::from_static("€uro".as_bytes())
        );
        assert_eq!(s.into_bytes().len(), 6);
    }

    #[test]
    fn slicing_respects_char_boundaries() {
        let s = Str::from_static("a€b");
        assert_eq!(s.slice_from(0).as_deref(), Some("a€b"));
        assert_eq!(s.slice_from(1).as_deref(), Some("€b"));
        assert_eq!(s.slice_from(2), None);
        assert_eq!(s.slice_from(3), None);
        assert_eq!(s.slice_from(4).as_deref(), Some("b"));
        assert_eq!(s.slice_from(5).as_deref(), Some(""));
        assert_eq!(s.slice_from(6), None);
        assert_eq!(s.slice(1..4).as_deref(), Some("€"));
        assert_eq!(s.slice(1..=3).as_deref(), Some("€"));
        assert_eq!(s.slice(1..3), None);
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = s.slice(4..1);
        assert_eq!(reversed, None);
        assert_eq!(s.slice(..usize::MAX), None);
        assert_eq!(s.slice(..=usize::MAX), None);
        assert_eq!(
            s.slice((Bound::Excluded(usize::MAX), Bound::Unbounded)),
            None
        );
    }

    #[test]
    fn utf16_length_matches_javascript() {
        assert_eq!(Str::from_static("4hello").utf16_len(), 6);
        assert_eq!(Str::from_static("4€").utf16_len(), 2);
        assert_eq!(Str::from_static("😀").utf16_len(), 2);
    }

    #[test]
    fn serializes_as_a_string() {
        let json = serde_json::to_string(&Str::from_static("a\"b")).unwrap();
        assert_eq!(json, r#""a\"b""#);
        let back: Str = serde_json::from_str(&json).unwrap();
        assert_eq!(back, "a\"b");
    }

    proptest! {
        #[test]
        fn slice_matches_str_slicing(s in "\\PC*", start in 0usize..40, end in 0usize..40) {
            let shared = Str::from(s.clone());
            let range = shared.slice(start..end);
            prop_assert_eq!(range.as_deref(), s.get(start..end));
            let tail = shared.slice_from(start);
            prop_assert_eq!(tail.as_deref(), s.get(start..));
        }

        #[test]
        fn utf16_len_matches_encode_utf16(s in any::<String>()) {
            prop_assert_eq!(utf16_len(s.as_bytes()), s.encode_utf16().count());
        }

        #[test]
        fn try_from_agrees_with_std(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ours = Str::try_from(Bytes::from(bytes.clone())).ok();
            let std = std::str::from_utf8(&bytes).ok();
            prop_assert_eq!(ours.as_deref(), std);
        }
    }
}
