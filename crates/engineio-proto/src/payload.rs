//! HTTP long-polling payloads, protocol v4.
//!
//! A payload is the body of a polling request or response: encoded packets
//! joined by the record separator `\x1e`. Binary messages are written as `b`
//! followed by their standard base64 (with padding).
//!
//! The protocol assumes that no text packet contains `\x1e`; one that does
//! is split in two on decoding, so it cannot round-trip. This is a limit of
//! protocol v4 itself, not of this codec.
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_engineio_proto::{payload, Frame, Packet, Str};
//!
//! let frames = [Frame::message("hello"), Frame::binary(vec![1, 2, 3, 4])];
//! let body = payload::encode(&frames);
//! assert_eq!(body, Bytes::from_static(b"4hello\x1ebAQIDBA=="));
//!
//! let packets = payload::decode(body, 16)?;
//! assert_eq!(packets, [
//!     Packet::Message(Str::from("hello")),
//!     Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
//! ]);
//! # Ok::<(), sockeye_engineio_proto::Error>(())
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Error, Frame, Packet, Str, b64};

/// The record separator between packets.
pub const SEPARATOR: u8 = 0x1e;

/// Prefix of a base64-encoded binary message.
const BINARY_PREFIX: u8 = b'b';

/// Joins frames with `\x1e`; a binary frame is written as `b` + standard
/// base64 (with padding).
///
/// An empty slice gives an empty body, which [`decode`] rejects: callers
/// should not send empty payloads.
pub fn encode(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(frames));
    encode_into(frames, &mut out);
    out.freeze()
}

/// Same as [`encode`], appending into a `BytesMut` (lets the caller reuse
/// buffers).
///
/// ```
/// use bytes::BytesMut;
/// use sockeye_engineio_proto::{payload, Frame, Packet};
///
/// let mut buf = BytesMut::new();
/// payload::encode_into(&[Frame::message("hello"), Packet::Ping(Default::default()).encode(), Frame::message("world")], &mut buf);
/// assert_eq!(&buf[..], b"4hello\x1e2\x1e4world");
/// ```
pub fn encode_into(frames: &[Frame], out: &mut BytesMut) {
    out.reserve(encoded_len(frames));
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match frame {
            Frame::Text(text) => out.extend_from_slice(text.as_bytes()),
            Frame::Binary(data) => {
                out.put_u8(BINARY_PREFIX);
                b64::append(out, data);
            }
        }
    }
}

/// Bytes one frame takes in a payload, not counting separators.
///
/// Lets a sender pack frames up to the peer's `maxPayload` without encoding
/// them first.
pub fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(data) => b64::encoded_len(data.len()).saturating_add(1),
    }
}

/// Exact length of [`encode`]`(frames)`.
pub fn encoded_len(frames: &[Frame]) -> usize {
    let separators = frames.len().saturating_sub(1);
    frames
        .iter()
        .map(frame_len)
        .fold(separators, usize::saturating_add)
}

/// Splits a POST body on `\x1e` and decodes each part: a text packet, or `b`
/// + base64 for a binary message.
///
/// Parts share the body's buffer, so text messages are not copied.
///
/// # Errors
///
/// [`Error::Empty`] for an empty body or an empty part,
/// [`Error::TooManyPackets`] for more than `max_packets` parts (checked
/// before decoding anything), [`Error::InvalidBase64`],
/// [`Error::InvalidUtf8`], [`Error::UnknownPacketType`] and
/// [`Error::InvalidOpenPacket`] for malformed parts.
///
/// ```
/// use sockeye_engineio_proto::{payload, Error, Packet, Str};
/// use bytes::Bytes;
///
/// let packets = payload::decode(Bytes::from("4hello\x1e4€"), 16)?;
/// assert_eq!(packets, [Packet::Message(Str::from("hello")), Packet::Message(Str::from("€"))]);
/// assert_eq!(payload::decode(Bytes::from("2\x1e2\x1e2"), 2), Err(Error::TooManyPackets));
/// # Ok::<(), Error>(())
/// ```
pub fn decode(body: Bytes, max_packets: usize) -> Result<Vec<Packet>, Error> {
    if body.is_empty() {
        return Err(Error::Empty);
    }
    let count = body.iter().filter(|&&b| b == SEPARATOR).count() + 1;
    if count > max_packets {
        return Err(Error::TooManyPackets);
    }
    let mut packets = Vec::with_capacity(count);
    let mut rest = body;
    loop {
        match rest.iter().position(|&b| b == SEPARATOR) {
            Some(at) => {
                let part = rest.split_to(at);
                // Drop the separator itself.
                let _ = rest.split_to(1);
                packets.push(decode_part(part)?);
            }
            None => {
                packets.push(decode_part(rest)?);
                return Ok(packets);
            }
        }
    }
}

/// Decodes one part of a payload.
fn decode_part(part: Bytes) -> Result<Packet, Error> {
    match part.first() {
        None => Err(Error::Empty),
        Some(&BINARY_PREFIX) => b64::decode(part.get(1..).unwrap_or_default()).map(Packet::Binary),
        Some(_) => Packet::decode_str(Str::try_from(part)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::any_packet;
    use proptest::prelude::*;

    fn body(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[test]
    fn protocol_document_vectors() {
        assert_eq!(
            decode(body(b"4hello\x1e2\x1e4world"), 10).unwrap(),
            [
                Packet::Message(Str::from("hello")),
                Packet::Ping(Str::default()),
                Packet::Message(Str::from("world")),
            ]
        );
        assert_eq!(
            decode(body("4hello\x1e4€".as_bytes()), 10).unwrap(),
            [
                Packet::Message(Str::from("hello")),
                Packet::Message(Str::from("€"))
            ]
        );
        let mixed = [
            Packet::Message(Str::from("hello")),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        assert_eq!(decode(body(b"4hello\x1ebAQIDBA=="), 10).unwrap(), mixed);
        let frames: Vec<Frame> = mixed.iter().map(Packet::encode).collect();
        assert_eq!(encode(&frames), body(b"4hello\x1ebAQIDBA=="));
    }

    #[test]
    fn single_binary_packet() {
        let frames = [Frame::binary(vec![1, 2, 3, 4])];
        assert_eq!(encode(&frames), body(b"bAQIDBA=="));
        assert_eq!(
            decode(body(b"bAQIDBA=="), 1).unwrap(),
            [Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))]
        );
        // An empty binary message is just the prefix.
        assert_eq!(encode(&[Frame::binary(Bytes::new())]), body(b"b"));
        assert_eq!(
            decode(body(b"b"), 1).unwrap(),
            [Packet::Binary(Bytes::new())]
        );
    }

    #[test]
    fn encode_into_appends() {
        let mut buf = BytesMut::from(&b"xx"[..]);
        encode_into(&[Frame::message("a")], &mut buf);
        assert_eq!(&buf[..], b"xx4a");
        assert_eq!(encode(&[]), Bytes::new());
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(decode(body(b""), 10), Err(Error::Empty));
        assert_eq!(decode(body(b"9"), 10), Err(Error::UnknownPacketType(b'9')));
        assert_eq!(decode(body(b"b!!!"), 10), Err(Error::InvalidBase64));
        assert_eq!(decode(body(b"4\xff"), 10), Err(Error::InvalidUtf8));
        assert_eq!(decode(body(b"\xff"), 10), Err(Error::InvalidUtf8));
        assert_eq!(decode(body(b"\x1e\x1e"), 10), Err(Error::Empty));
        assert_eq!(decode(body(b"4a\x1e"), 10), Err(Error::Empty));
        assert_eq!(decode(body(b"\x1e4a"), 10), Err(Error::Empty));
        assert_eq!(decode(body(b"4a\x1e\x1e4b"), 10), Err(Error::Empty));
        assert_eq!(decode(body(b"4a\x1e4b"), 1), Err(Error::TooManyPackets));
        assert_eq!(decode(body(b"4a"), 0), Err(Error::TooManyPackets));
        assert!(matches!(
            decode(body(b"0{}"), 10),
            Err(Error::InvalidOpenPacket(_))
        ));
    }

    #[test]
    fn encoded_len_is_exact() {
        let frames = [
            Frame::message("héllo"),
            Frame::binary(vec![1, 2, 3, 4, 5]),
            Frame::message(""),
        ];
        assert_eq!(encoded_len(&frames), encode(&frames).len());
        assert_eq!(encoded_len(&[]), 0);
    }

    /// Packets that survive a v4 payload: no text may contain the separator.
    fn payload_packet() -> impl Strategy<Value = Packet> {
        any_packet().prop_filter("text containing \\x1e cannot be framed in v4", |p| {
            !p.encode().as_bytes().contains(&SEPARATOR) || matches!(p, Packet::Binary(_))
        })
    }

    proptest! {
        #[test]
        fn round_trip(packets in proptest::collection::vec(payload_packet(), 1..20)) {
            let frames: Vec<Frame> = packets.iter().map(Packet::encode).collect();
            let body = encode(&frames);
            prop_assert_eq!(body.len(), encoded_len(&frames));
            prop_assert_eq!(decode(body, packets.len()), Ok(packets));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(b), 64);
        }

        #[test]
        fn plausible_bytes_never_panic(
            b in proptest::collection::vec(
                prop_oneof![
                    Just(SEPARATOR), Just(b'b'), Just(b'0'), Just(b'4'), Just(b'='),
                    Just(b'A'), Just(0xe2), Just(0x82), Just(0xac), any::<u8>(),
                ],
                0..64,
            )
        ) {
            let _ = decode(Bytes::from(b), 64);
        }
    }
}
