//! Base64 for binary packets in polling payloads.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::{Bytes, BytesMut};

use crate::Error;

/// Standard alphabet with padding, as the reference implementation writes it.
/// Decoding is lenient about padding and trailing bits because the reference
/// (Node's `Buffer.from(s, "base64")`) is, and clients are not all canonical.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Appends the base64 of `data` to `out`, encoding in place.
pub(crate) fn append(out: &mut BytesMut, data: &[u8]) {
    let start = out.len();
    if let Some(len) = base64::encoded_len(data.len(), true) {
        out.resize(start + len, 0);
        if let Some(tail) = out.get_mut(start..) {
            if let Ok(written) = ENGINE.encode_slice(data, tail) {
                out.truncate(start + written);
                return;
            }
        }
    }
    // Unreachable (the buffer is sized by `encoded_len`), but cheaper to
    // handle than to prove to the compiler.
    out.truncate(start);
    out.extend_from_slice(ENGINE.encode(data).as_bytes());
}

/// The base64 length of `len` bytes, with padding.
pub(crate) fn encoded_len(len: usize) -> usize {
    base64::encoded_len(len, true).unwrap_or(usize::MAX)
}

/// Decodes base64 text into bytes.
pub(crate) fn decode(text: &[u8]) -> Result<Bytes, Error> {
    ENGINE
        .decode(text)
        .map(Bytes::from)
        .map_err(|_| Error::InvalidBase64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn protocol_vector() {
        let mut out = BytesMut::new();
        append(&mut out, &[1, 2, 3, 4]);
        assert_eq!(&out[..], b"AQIDBA==");
        assert_eq!(encoded_len(4), 8);
        assert_eq!(
            decode(b"AQIDBA==").unwrap(),
            Bytes::from_static(&[1, 2, 3, 4])
        );
    }

    #[test]
    fn lenient_about_padding() {
        assert_eq!(
            decode(b"AQIDBA").unwrap(),
            Bytes::from_static(&[1, 2, 3, 4])
        );
        assert_eq!(decode(b"").unwrap(), Bytes::new());
        assert_eq!(decode(b"!!!"), Err(Error::InvalidBase64));
        assert_eq!(decode(b"A"), Err(Error::InvalidBase64));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut out = BytesMut::from(&b"prefix"[..]);
            append(&mut out, &data);
            prop_assert_eq!(out.len(), 6 + encoded_len(data.len()));
            prop_assert_eq!(decode(&out[6..]).unwrap(), Bytes::from(data));
        }
    }
}
