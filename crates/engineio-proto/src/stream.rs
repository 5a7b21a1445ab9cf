//! Framing of packets on a byte stream, as WebTransport carries them (engine.io-parser's
//! `createPacketEncoderStream` / `createPacketDecoderStream`).
//!
//! A WebTransport session carries the whole Engine.IO session on one bidirectional stream, so
//! each frame gets a length header in front of it, in the style of a WebSocket frame header:
//!
//! | first byte | then | length |
//! |---|---|---|
//! | `0..=125` | nothing | the first byte |
//! | `126` | 2 bytes, big-endian | 126 up to 65 535 |
//! | `127` | 8 bytes, big-endian | 65 536 and up |
//!
//! The top bit of the first byte says the frame is binary (a binary message, its bytes as they
//! are); without it the frame is a text packet (`"4hello"`, `"2probe"`). Lengths of zero and
//! lengths over the receiver's `maxPayload` are refused, as the reference decoder does, as
//! soon as the header is read: a peer cannot make the receiver buffer more than the limit.
//!
//! ```
//! use bytes::BytesMut;
//! use sockeye_engineio_proto::{stream, Frame};
//!
//! let mut wire = BytesMut::new();
//! stream::encode_into(&Frame::message("hello"), &mut wire);
//! stream::encode_into(&Frame::binary(vec![1, 2, 3]), &mut wire);
//! assert_eq!(&wire[..], b"\x064hello\x83\x01\x02\x03");
//!
//! let mut decoder = stream::Decoder::new(1_000_000);
//! assert_eq!(decoder.decode(&mut wire)?, Some(Frame::message("hello")));
//! assert_eq!(decoder.decode(&mut wire)?, Some(Frame::binary(vec![1, 2, 3])));
//! assert_eq!(decoder.decode(&mut wire)?, None); // needs more bytes
//! # Ok::<(), sockeye_engineio_proto::Error>(())
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::{Error, Frame, Str, b64};

/// The top bit of the first header byte: the frame is binary.
const BINARY_BIT: u8 = 0x80;
/// The first byte of a header followed by a 16-bit length.
const LEN_16: u8 = 126;
/// The first byte of a header followed by a 64-bit length.
const LEN_64: u8 = 127;
/// The longest header: one byte and a 64-bit length.
pub const MAX_HEADER_LEN: usize = 9;

/// The header of a frame of `len` bytes, `binary` or not: 1, 3 or 9 bytes.
///
/// ```
/// use sockeye_engineio_proto::stream::Header;
///
/// assert_eq!(Header::new(5, false).as_bytes(), &[5]);
/// assert_eq!(Header::new(300, true).as_bytes(), &[0x80 | 126, 0x01, 0x2c]);
/// assert_eq!(Header::new(70_000, false).as_bytes(), &[127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl Header {
    /// The header of a frame of `len` bytes.
    pub fn new(len: usize, binary: bool) -> Header {
        let mut bytes = [0; MAX_HEADER_LEN];
        let header_len = if len < usize::from(LEN_16) {
            // Below 126, so it fits in the seven low bits.
            bytes[0] = len as u8;
            1
        } else if let Ok(short) = u16::try_from(len) {
            bytes[0] = LEN_16;
            bytes[1..3].copy_from_slice(&short.to_be_bytes());
            3
        } else {
            bytes[0] = LEN_64;
            bytes[1..9].copy_from_slice(&(len as u64).to_be_bytes());
            9
        };
        if binary {
            bytes[0] |= BINARY_BIT;
        }
        Header {
            bytes,
            len: header_len,
        }
    }

    /// The header's bytes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The header of `frame`, and the bytes that follow it.
///
/// An empty binary frame cannot go as one (a length of zero is refused by every decoder,
/// the browser's included), so it goes as the text packet `"b"`: a binary message of no
/// bytes in base64, which engine.io-parser decodes as an empty binary message.
pub fn split(frame: &Frame) -> (Header, &[u8]) {
    match frame {
        Frame::Binary(data) if data.is_empty() => (Header::new(1, false), b"b"),
        Frame::Binary(data) => (Header::new(data.len(), true), data),
        Frame::Text(text) => (Header::new(text.len(), false), text.as_bytes()),
    }
}

/// Appends `frame`, header first, to `out`.
pub fn encode_into(frame: &Frame, out: &mut BytesMut) {
    let (header, body) = split(frame);
    out.reserve(header.as_bytes().len() + body.len());
    out.put_slice(header.as_bytes());
    out.put_slice(body);
}

/// Bytes `frame` takes on the stream, header included.
pub fn encoded_len(frame: &Frame) -> usize {
    let (header, body) = split(frame);
    header.as_bytes().len() + body.len()
}

/// Cuts frames off the front of a stream's bytes, refusing lengths of zero or over
/// `max_payload`.
///
/// It keeps no state but the limit: [`Decoder::decode`] looks at the bytes buffered so far
/// and takes a frame only once all of it is there, so bytes may arrive in any pieces.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    max_payload: usize,
}

impl Decoder {
    /// A decoder that refuses frames of more than `max_payload` bytes (header not counted).
    pub fn new(max_payload: usize) -> Decoder {
        Decoder { max_payload }
    }

    /// The next frame at the front of `buf`, removed from it; `Ok(None)` when `buf` does not
    /// hold a whole frame yet (nothing is removed then). A text frame that starts with `b`
    /// is a binary message in base64, as engine.io-parser reads it.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] for a length of zero, [`Error::FrameTooLarge`] for a length over the
    /// limit (both as soon as the header is there), [`Error::InvalidUtf8`] for a text frame
    /// that is not UTF-8, [`Error::InvalidBase64`] for a bad `b` frame. The stream cannot be
    /// read further after an error: where the next frame starts is unknown.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let Some((header_len, len, binary)) = self.check(buf)? else {
            return Ok(None);
        };
        // `check` saw the whole frame in `buf`, and `len` is at most `max_payload`.
        buf.advance(header_len);
        let body = buf.split_to(len).freeze();
        decode_body(body, binary).map(Some)
    }

    /// How many bytes the frame at the front of `buf` needs in all, header included, once its
    /// header is there (`None` before): lets a reader size its buffer once for a large frame.
    ///
    /// # Errors
    ///
    /// As [`Decoder::decode`], for the header.
    pub fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, Error> {
        Ok(self
            .header(buf)?
            .map(|(header_len, len, _)| header_len + len))
    }

    /// The header's length, the body's length and whether it is binary, once the whole frame
    /// is in `buf`.
    fn check(&self, buf: &[u8]) -> Result<Option<(usize, usize, bool)>, Error> {
        Ok(self
            .header(buf)?
            .filter(|(header_len, len, _)| buf.len() - header_len >= *len))
    }

    /// The header's length, the body's length and whether it is binary, once the header is
    /// in `buf`; the length is checked against the limits.
    fn header(&self, buf: &[u8]) -> Result<Option<(usize, usize, bool)>, Error> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let binary = first & BINARY_BIT != 0;
        let (header_len, len) = match first & !BINARY_BIT {
            LEN_16 => match buf.get(1..3) {
                Some(&[high, low]) => (3, u64::from(u16::from_be_bytes([high, low]))),
                _ => return Ok(None),
            },
            LEN_64 => match buf.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(bytes) => (9, u64::from_be_bytes(bytes)),
                None => return Ok(None),
            },
            short => (1, u64::from(short)),
        };
        if len == 0 {
            return Err(Error::Empty);
        }
        match usize::try_from(len) {
            Ok(len) if len <= self.max_payload => Ok(Some((header_len, len, binary))),
            _ => Err(Error::FrameTooLarge(len)),
        }
    }
}

fn decode_body(body: Bytes, binary: bool) -> Result<Frame, Error> {
    if binary {
        return Ok(Frame::Binary(body));
    }
    if body.first() == Some(&b'b') {
        return b64::decode(&body[1..]).map(Frame::Binary);
    }
    Str::from_utf8(body).map(Frame::Text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Packet;
    use proptest::prelude::*;

    fn decode_all(decoder: &Decoder, wire: &[u8]) -> Result<Vec<Frame>, Error> {
        let mut buf = BytesMut::from(wire);
        let mut frames = Vec::new();
        while let Some(frame) = decoder.decode(&mut buf)? {
            frames.push(frame);
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        Ok(frames)
    }

    #[test]
    fn headers_switch_length_forms_at_126_and_65536() {
        assert_eq!(Header::new(1, false).as_bytes(), &[1]);
        assert_eq!(Header::new(125, false).as_bytes(), &[125]);
        assert_eq!(Header::new(125, true).as_bytes(), &[0x80 | 125]);
        assert_eq!(Header::new(126, false).as_bytes(), &[126, 0, 126]);
        assert_eq!(Header::new(65_535, true).as_bytes(), &[0xfe, 0xff, 0xff]);
        assert_eq!(
            Header::new(65_536, false).as_bytes(),
            &[127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn bytes_as_the_reference_encoder_writes_them() {
        // engine.io-parser's encoder for { type: "message", data: "hello" }, then for
        // Uint8Array([1, 2, 3]), then for { type: "ping", data: "probe" }.
        let mut wire = BytesMut::new();
        encode_into(&Frame::message("hello"), &mut wire);
        encode_into(&Frame::binary(vec![1, 2, 3]), &mut wire);
        encode_into(&Packet::Ping(Str::from("probe")).encode(), &mut wire);
        assert_eq!(&wire[..], b"\x064hello\x83\x01\x02\x03\x062probe");
    }

    #[test]
    fn frames_of_every_length_form_round_trip() {
        let decoder = Decoder::new(1 << 20);
        for len in [1, 125, 126, 127, 65_535, 65_536, 200_000] {
            let text = Frame::Text(Str::from_utf8(Bytes::from("4".repeat(len))).unwrap());
            let binary = Frame::binary(vec![7u8; len]);
            let mut wire = BytesMut::new();
            encode_into(&text, &mut wire);
            encode_into(&binary, &mut wire);
            assert_eq!(wire.len(), encoded_len(&text) + encoded_len(&binary));
            assert_eq!(decode_all(&decoder, &wire), Ok(vec![text, binary]), "{len}");
        }
    }

    #[test]
    fn an_empty_binary_frame_goes_as_base64_text() {
        let mut wire = BytesMut::new();
        encode_into(&Frame::binary(Bytes::new()), &mut wire);
        assert_eq!(&wire[..], b"\x01b");
        let decoder = Decoder::new(100);
        assert_eq!(
            decode_all(&decoder, &wire),
            Ok(vec![Frame::binary(Bytes::new())])
        );
        assert_eq!(
            decode_all(&decoder, b"\x05bAQI="),
            Ok(vec![Frame::binary(vec![1, 2])])
        );
    }

    #[test]
    fn incomplete_frames_wait_for_more_bytes() {
        let decoder = Decoder::new(1 << 20);
        let mut whole = BytesMut::new();
        encode_into(&Frame::binary(vec![9u8; 70_000]), &mut whole);
        for cut in [0, 1, 5, 8, 9, 100, whole.len() - 1] {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(decoder.decode(&mut buf), Ok(None), "{cut}");
            assert_eq!(buf.len(), cut, "nothing taken at {cut}");
        }
        assert_eq!(decoder.frame_len(&whole[..8]), Ok(None));
        assert_eq!(decoder.frame_len(&whole[..9]), Ok(Some(whole.len())));
    }

    #[test]
    fn zero_lengths_are_refused_in_every_form() {
        let decoder = Decoder::new(100);
        for wire in [
            &[0u8][..],
            &[0x80],
            &[126, 0, 0],
            &[127, 0, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let mut buf = BytesMut::from(wire);
            assert_eq!(decoder.decode(&mut buf), Err(Error::Empty), "{wire:?}");
        }
    }

    #[test]
    fn lengths_over_the_limit_are_refused_before_the_body_arrives() {
        let decoder = Decoder::new(100);
        let mut buf = BytesMut::from(&[101u8][..]);
        assert_eq!(decoder.decode(&mut buf), Err(Error::FrameTooLarge(101)));
        let mut buf = BytesMut::from(&[0xfe, 0xff, 0xff][..]);
        assert_eq!(decoder.decode(&mut buf), Err(Error::FrameTooLarge(65_535)));
        let mut buf = BytesMut::from(&[127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(Error::FrameTooLarge(u64::MAX))
        );
        // At the limit is fine.
        let mut wire = BytesMut::new();
        encode_into(&Frame::binary(vec![1u8; 100]), &mut wire);
        assert!(decoder.decode(&mut wire).is_ok_and(|frame| frame.is_some()));
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        let decoder = Decoder::new(100);
        let mut buf = BytesMut::from(&[2, b'4', 0xff][..]);
        assert_eq!(decoder.decode(&mut buf), Err(Error::InvalidUtf8));
        let mut buf = BytesMut::from(&b"\x03b!!"[..]);
        assert_eq!(decoder.decode(&mut buf), Err(Error::InvalidBase64));
    }

    proptest! {
        #[test]
        fn any_frames_round_trip_in_any_pieces(
            frames in proptest::collection::vec(
                prop_oneof![
                    ".{0,300}".prop_map(|s| Frame::message(&s)),
                    proptest::collection::vec(any::<u8>(), 0..300).prop_map(Frame::binary),
                ],
                0..8,
            ),
            piece in 1usize..64,
        ) {
            let mut wire = BytesMut::new();
            for frame in &frames {
                encode_into(frame, &mut wire);
            }
            let decoder = Decoder::new(1 << 20);
            let mut buf = BytesMut::new();
            let mut decoded = Vec::new();
            for chunk in wire.chunks(piece) {
                buf.extend_from_slice(chunk);
                while let Some(frame) = decoder.decode(&mut buf)? {
                    decoded.push(frame);
                }
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(decoded, frames);
        }

        #[test]
        fn any_bytes_decode_without_panicking(wire in proptest::collection::vec(any::<u8>(), 0..64)) {
            let decoder = Decoder::new(32);
            let mut buf = BytesMut::from(&wire[..]);
            while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                prop_assert!(frame.len() <= 32);
            }
        }
    }
}
