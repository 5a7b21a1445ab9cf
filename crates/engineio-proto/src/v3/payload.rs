//! HTTP long-polling payloads, protocol v3.
//!
//! Two framings exist, and [`decode`] accepts both:
//!
//! - **string**: each packet as `<length>:<packet>`, the length counting
//!   UTF-16 code units (JavaScript's `string.length`). Binary messages are
//!   written `b4` + base64. Example: `6:4hello2:4€`.
//! - **binary** (when the client supports binary and some packet is binary):
//!   each packet as a header byte (`0x00` text, `0x01` binary), the length
//!   in bytes written one decimal digit per byte (values 0 to 9), `0xFF`,
//!   then the packet: UTF-8 text, or `0x04` followed by the message bytes
//!   (the length counts that `0x04`).
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_engineio_proto::{v3, Frame, Packet, Str};
//!
//! let frames = [Frame::message("€"), Frame::binary(vec![1, 2, 3, 4])];
//! assert_eq!(v3::payload::encode(&frames, false), Bytes::from("2:4€10:b4AQIDBA=="));
//! assert_eq!(
//!     v3::payload::encode(&frames, true),
//!     Bytes::from_static(b"\x00\x04\xff4\xe2\x82\xac\x01\x05\xff\x04\x01\x02\x03\x04"),
//! );
//!
//! let packets = v3::payload::decode(Bytes::from("6:4hello2:4€"), 16)?;
//! assert_eq!(packets, [Packet::Message(Str::from("hello")), Packet::Message(Str::from("€"))]);
//! # Ok::<(), sockeye_engineio_proto::Error>(())
//! ```
//!
//! JSONP polling uses the string framing and needs nothing special here.

use bytes::{BufMut, Bytes, BytesMut};

use crate::str::utf16_len;
use crate::v3::{BASE64_PREFIX, BINARY_MESSAGE, decode_binary, decode_text};
use crate::{Error, Frame, Packet, PacketType, Str, b64};

/// Header byte of a text packet in the binary framing.
const TEXT_HEADER: u8 = 0x00;
/// Header byte of a binary packet in the binary framing.
const BINARY_HEADER: u8 = 0x01;
/// Ends the length digits in the binary framing.
const LENGTH_END: u8 = 0xFF;
/// Ends the length in the string framing.
const LENGTH_SEPARATOR: u8 = b':';

/// Encodes frames (as produced by [`Packet::encode`]) into a v3 payload.
///
/// Uses the binary framing when `supports_binary` is true and at least one
/// frame is binary, as the reference implementation does; otherwise the
/// string framing, with binary messages as `b4` + base64. An empty slice
/// encodes as `0:`, again like the reference.
pub fn encode(frames: &[Frame], supports_binary: bool) -> Bytes {
    if supports_binary && frames.iter().any(Frame::is_binary) {
        encode_binary(frames)
    } else {
        encode_string(frames)
    }
}

/// The string framing: `<UTF-16 length>:<packet>` for each packet.
fn encode_string(frames: &[Frame]) -> Bytes {
    if frames.is_empty() {
        return Bytes::from_static(b"0:");
    }
    let mut out = BytesMut::new();
    for frame in frames {
        match frame {
            Frame::Text(text) => {
                put_decimal(&mut out, utf16_len(text.as_bytes()), b'0');
                out.put_u8(LENGTH_SEPARATOR);
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Binary(data) => {
                // Base64 is ASCII, so its UTF-16 length is its byte length.
                put_decimal(
                    &mut out,
                    b64::encoded_len(data.len()).saturating_add(2),
                    b'0',
                );
                out.put_u8(LENGTH_SEPARATOR);
                out.put_u8(BASE64_PREFIX);
                out.put_u8(PacketType::Message.digit());
                b64::append(&mut out, data);
            }
        }
    }
    out.freeze()
}

/// The binary framing: header byte, length digits as byte values, `0xFF`,
/// packet.
fn encode_binary(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::new();
    for frame in frames {
        match frame {
            Frame::Text(text) => {
                out.put_u8(TEXT_HEADER);
                put_decimal(&mut out, text.len(), 0);
                out.put_u8(LENGTH_END);
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Binary(data) => {
                out.put_u8(BINARY_HEADER);
                put_decimal(&mut out, 1 + data.len(), 0);
                out.put_u8(LENGTH_END);
                out.put_u8(BINARY_MESSAGE);
                out.extend_from_slice(data);
            }
        }
    }
    out.freeze()
}

/// Writes `n` in decimal, most significant digit first, each digit as
/// `zero + digit` (`b'0'` for text, `0` for the binary framing's raw digits).
fn put_decimal(out: &mut BytesMut, mut n: usize, zero: u8) {
    // usize::MAX has at most 20 decimal digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = zero + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends one decimal digit to a length, refusing lengths that overflow
/// (they could never be satisfied by a body held in memory anyway).
fn push_digit(n: usize, digit: u8) -> Result<usize, Error> {
    n.checked_mul(10)
        .and_then(|n| n.checked_add(usize::from(digit)))
        .ok_or(Error::InvalidLength)
}

/// Decodes a v3 payload in either framing.
///
/// The binary framing is recognised by a first byte of `0x00` or `0x01`
/// (the string framing always starts with a digit). In the string framing,
/// zero-length parts (`0:`) are skipped as the reference does, so `0:`
/// decodes to no packets.
///
/// # Errors
///
/// [`Error::Empty`] for an empty body or packet, [`Error::InvalidLength`]
/// for a missing, non-decimal or overflowing length or one that splits a
/// character, [`Error::Truncated`] when the body ends early,
/// [`Error::InvalidFraming`], [`Error::TooManyPackets`] beyond
/// `max_packets`, and the errors of the packets themselves.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_engineio_proto::{v3, Error, Packet};
///
/// let body = Bytes::from_static(b"\x00\x06\xff4hello\x01\x05\xff\x04\x01\x02\x03\x04");
/// assert_eq!(v3::payload::decode(body, 16)?.len(), 2);
/// assert_eq!(v3::payload::decode(Bytes::from("6:4hel"), 16), Err(Error::Truncated));
/// # Ok::<(), Error>(())
/// ```
pub fn decode(body: Bytes, max_packets: usize) -> Result<Vec<Packet>, Error> {
    match body.first() {
        None => Err(Error::Empty),
        Some(&(TEXT_HEADER | BINARY_HEADER)) => decode_binary_framing(body, max_packets),
        Some(_) => decode_string_framing(Str::try_from(body)?, max_packets),
    }
}

/// Pushes a decoded packet, enforcing `max_packets`.
fn push(packets: &mut Vec<Packet>, packet: Packet, max_packets: usize) -> Result<(), Error> {
    if packets.len() >= max_packets {
        return Err(Error::TooManyPackets);
    }
    packets.push(packet);
    Ok(())
}

fn decode_string_framing(text: Str, max_packets: usize) -> Result<Vec<Packet>, Error> {
    let bytes = text.as_bytes();
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || rest.get(digits) != Some(&LENGTH_SEPARATOR) {
            return Err(Error::InvalidLength);
        }
        let units = rest
            .iter()
            .take(digits)
            .try_fold(0, |n, &d| push_digit(n, d - b'0'))?;
        let start = pos + digits + 1;
        let end = start + utf16_prefix_len(bytes.get(start..).unwrap_or_default(), units)?;
        if end > start {
            // Both ends are char boundaries by construction of
            // `utf16_prefix_len`, so slicing cannot fail.
            let part = text.slice(start..end).ok_or(Error::InvalidLength)?;
            push(&mut packets, decode_text(part)?, max_packets)?;
        }
        pos = end;
    }
    Ok(packets)
}

/// Byte length of the first `units` UTF-16 code units of `utf8`.
///
/// Fails if the text is shorter, or if the count ends between the two
/// halves of a surrogate pair (no UTF-8 boundary exists there).
fn utf16_prefix_len(utf8: &[u8], units: usize) -> Result<usize, Error> {
    let mut seen = 0usize;
    for (i, &b) in utf8.iter().enumerate() {
        if (b & 0xC0) == 0x80 {
            continue;
        }
        if seen == units {
            return Ok(i);
        }
        seen += if b >= 0xF0 { 2 } else { 1 };
        if seen > units {
            return Err(Error::InvalidLength);
        }
    }
    if seen == units {
        Ok(utf8.len())
    } else {
        Err(Error::Truncated)
    }
}

fn decode_binary_framing(mut rest: Bytes, max_packets: usize) -> Result<Vec<Packet>, Error> {
    let mut packets = Vec::new();
    while let Some(&header) = rest.first() {
        if header != TEXT_HEADER && header != BINARY_HEADER {
            return Err(Error::InvalidFraming(header));
        }
        let mut len = 0usize;
        let mut digits = 0usize;
        loop {
            match rest.get(1 + digits) {
                None => return Err(Error::Truncated),
                Some(&LENGTH_END) => break,
                Some(&d) if d <= 9 => len = push_digit(len, d)?,
                Some(_) => return Err(Error::InvalidLength),
            }
            digits += 1;
        }
        if digits == 0 {
            return Err(Error::InvalidLength);
        }
        // Header byte, digits, 0xFF.
        let _ = rest.split_to(digits + 2);
        if rest.len() < len {
            return Err(Error::Truncated);
        }
        let part = rest.split_to(len);
        let packet = if header == TEXT_HEADER {
            decode_text(Str::try_from(part)?)?
        } else {
            decode_binary(part)?
        };
        push(&mut packets, packet, max_packets)?;
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::any_packet;
    use proptest::prelude::*;

    fn hello_and_bytes() -> Vec<Packet> {
        vec![
            Packet::Message(Str::from("hello")),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ]
    }

    fn frames(packets: &[Packet]) -> Vec<Frame> {
        packets.iter().map(Packet::encode).collect()
    }

    #[test]
    fn string_framing_vectors() {
        let packets = vec![
            Packet::Message(Str::from("hello")),
            Packet::Message(Str::from("€")),
        ];
        let wire = Bytes::from("6:4hello2:4€");
        assert_eq!(encode(&frames(&packets), false), wire);
        assert_eq!(encode(&frames(&packets), true), wire);
        assert_eq!(decode(wire, 10).unwrap(), packets);
    }

    #[test]
    fn base64_vectors() {
        let packets = vec![
            Packet::Message(Str::from("€")),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        let wire = Bytes::from("2:4€10:b4AQIDBA==");
        assert_eq!(encode(&frames(&packets), false), wire);
        assert_eq!(decode(wire, 10).unwrap(), packets);
        assert_eq!(
            decode(Bytes::from("10:b4AQIDBA=="), 10).unwrap(),
            [Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))]
        );
    }

    #[test]
    fn binary_framing_vectors() {
        let wire = Bytes::from_static(b"\x00\x06\xff4hello\x01\x05\xff\x04\x01\x02\x03\x04");
        assert_eq!(encode(&frames(&hello_and_bytes()), true), wire);
        assert_eq!(decode(wire, 10).unwrap(), hello_and_bytes());
        // The text part of the v3 document's example: the length counts
        // UTF-8 bytes, not characters.
        assert_eq!(
            decode(Bytes::from_static(b"\x00\x04\xff4\xe2\x82\xac"), 10).unwrap(),
            [Packet::Message(Str::from("€"))]
        );
    }

    #[test]
    fn long_lengths_use_several_digits() {
        let text = "x".repeat(1234);
        let frames = [Frame::message(&text), Frame::binary(vec![7; 99])];
        let binary = encode(&frames, true);
        assert_eq!(&binary[..7], b"\x00\x01\x02\x03\x05\xff4");
        assert_eq!(&binary[7 + 1234..7 + 1234 + 5], b"\x01\x01\x00\x00\xff");
        let string = encode(&frames, false);
        assert!(string.starts_with(b"1235:4xx"));
        for body in [binary, string] {
            assert_eq!(
                decode(body, 10).unwrap(),
                [
                    Packet::Message(Str::from(text.clone())),
                    Packet::Binary(Bytes::from(vec![7; 99]))
                ]
            );
        }
    }

    #[test]
    fn lengths_count_utf16_code_units() {
        // U+1F600 is one char, four UTF-8 bytes, two UTF-16 code units.
        let wire = Bytes::from("3:4😀");
        assert_eq!(encode(&[Frame::message("😀")], false), wire);
        assert_eq!(decode(wire, 1).unwrap(), [Packet::Message(Str::from("😀"))]);
        // A length ending inside the surrogate pair has no byte boundary.
        assert_eq!(decode(Bytes::from("2:4😀"), 1), Err(Error::InvalidLength));
    }

    #[test]
    fn empty_payloads() {
        assert_eq!(encode(&[], false), Bytes::from_static(b"0:"));
        assert_eq!(encode(&[], true), Bytes::from_static(b"0:"));
        assert_eq!(decode(Bytes::from_static(b"0:"), 10).unwrap(), []);
        assert_eq!(
            decode(Bytes::from_static(b"0:1:2"), 10).unwrap(),
            [Packet::Ping(Str::default())]
        );
    }

    #[test]
    fn malformed_string_framing() {
        let cases: &[(&[u8], Error)] = &[
            (b"", Error::Empty),
            (b"9", Error::InvalidLength),
            (b"1", Error::InvalidLength),
            (b":4a", Error::InvalidLength),
            (b"x:4a", Error::InvalidLength),
            (b"1:9", Error::UnknownPacketType(b'9')),
            (b"2:4a1", Error::InvalidLength),
            (b"3:4a", Error::Truncated),
            (b"99999999999999999999:4a", Error::InvalidLength),
            (b"999999999999:4a", Error::Truncated),
            (b"5:b4!!!", Error::InvalidBase64),
            (b"4:b!!!", Error::InvalidBinaryPacket(b'!')),
            (b"4:b2AQ", Error::InvalidBinaryPacket(b'2')),
            (b"1:b", Error::Empty),
            (b"2:4\xff", Error::InvalidUtf8),
            (b"\x1e\x1e", Error::InvalidLength),
            (b"2:4a2:4b", Error::TooManyPackets),
        ];
        for (body, error) in cases {
            assert_eq!(
                decode(Bytes::from_static(body), 1).as_ref(),
                Err(error),
                "{body:?}"
            );
        }
    }

    #[test]
    fn malformed_binary_framing() {
        let cases: &[(&[u8], Error)] = &[
            (b"\x00", Error::Truncated),
            (b"\x00\x06", Error::Truncated),
            (b"\x00\xff", Error::InvalidLength),
            (b"\x00\x06\xff4hel", Error::Truncated),
            (b"\x01\x05\xff\x04\x01", Error::Truncated),
            (b"\x00\x0a\xff", Error::InvalidLength),
            (b"\x00\x01\xff4\x02", Error::InvalidFraming(2)),
            (b"\x00\x00\xff", Error::Empty),
            (b"\x01\x00\xff", Error::Empty),
            (b"\x01\x01\xff\x02", Error::InvalidBinaryPacket(2)),
            (b"\x00\x02\xff4\xff", Error::InvalidUtf8),
            (b"\x00\x01\xff9", Error::UnknownPacketType(b'9')),
            (
                b"\x00\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff4",
                Error::InvalidLength,
            ),
            (b"\x00\x01\xff4\x00\x01\xff4", Error::TooManyPackets),
        ];
        for (body, error) in cases {
            assert_eq!(
                decode(Bytes::from_static(body), 1).as_ref(),
                Err(error),
                "{body:?}"
            );
        }
    }

    #[test]
    fn put_decimal_writes_all_digits() {
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (usize::MAX, "18446744073709551615"),
        ] {
            let mut out = BytesMut::new();
            put_decimal(&mut out, n, b'0');
            if usize::BITS == 64 || n != usize::MAX {
                assert_eq!(&out[..], text.as_bytes());
            }
        }
    }

    proptest! {
        #[test]
        fn string_round_trip(packets in proptest::collection::vec(any_packet(), 0..20)) {
            let body = encode(&frames(&packets), false);
            prop_assert!(body.first().is_some_and(u8::is_ascii_digit));
            prop_assert_eq!(decode(body, 20), Ok(packets));
        }

        #[test]
        fn binary_round_trip(
            mut packets in proptest::collection::vec(any_packet(), 0..20),
            data in proptest::collection::vec(any::<u8>(), 0..32),
            at in any::<proptest::sample::Index>(),
        ) {
            // Force at least one binary packet so the binary framing is used.
            packets.insert(at.index(packets.len() + 1), Packet::Binary(Bytes::from(data)));
            let body = encode(&frames(&packets), true);
            prop_assert!(matches!(body.first(), Some(0 | 1)));
            prop_assert_eq!(decode(body, 21), Ok(packets));
        }

        #[test]
        fn mixed_round_trip(packets in proptest::collection::vec(any_packet(), 0..20)) {
            prop_assert_eq!(decode(encode(&frames(&packets), true), 20), Ok(packets));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(b), 64);
        }

        #[test]
        fn plausible_bytes_never_panic(
            b in proptest::collection::vec(
                prop_oneof![
                    0u8..=10, Just(0xff), Just(b':'), Just(b'b'), b'0'..=b'9',
                    Just(0xf0), Just(0x9f), Just(0xe2), Just(0x82), any::<u8>(),
                ],
                0..64,
            )
        ) {
            let _ = decode(Bytes::from(b), 64);
        }

        #[test]
        fn plausible_text_never_panics(s in "([0-9]{1,3}:)?([0-9]{1,3}:[0-9b]?.{0,8}){0,6}") {
            let _ = decode(Bytes::from(s), 64);
        }
    }
}
