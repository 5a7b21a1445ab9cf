//! Protocol v3, for old clients (Socket.IO v1 and v2), kept apart from v4.
//!
//! Text packets are the same as in v4. What differs:
//!
//! - over WebSocket, a binary frame starts with the packet type byte `0x04`
//!   before the message bytes ([`encode_ws`], [`decode_ws`]);
//! - polling payloads are length-prefixed instead of separated
//!   ([`payload`]);
//! - a text packet may also be `b4` + base64 for a binary message.
//!
//! Frames given to the v3 encoders are the ones [`Packet::encode`] produces,
//! so a packet is encoded once whatever the peer's protocol version.
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_engineio_proto::{v3, Frame, Packet};
//!
//! let frame = v3::encode_ws(&Packet::Binary(Bytes::from_static(&[1, 2])).encode());
//! assert_eq!(frame, Frame::Binary(Bytes::from_static(&[4, 1, 2])));
//! assert_eq!(v3::decode_ws(frame)?, Packet::Binary(Bytes::from_static(&[1, 2])));
//! # Ok::<(), sockeye_engineio_proto::Error>(())
//! ```

pub mod payload;

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Error, Frame, Packet, PacketType, Str, b64};

/// Type byte that starts every v3 binary packet: only messages carry binary.
const BINARY_MESSAGE: u8 = PacketType::Message as u8;

/// Prefix of a base64 binary packet in text form (`b4...`).
const BASE64_PREFIX: u8 = b'b';

/// Turns a v4 frame into its v3 WebSocket form: text frames are unchanged,
/// binary frames get the leading `0x04` type byte.
pub fn encode_ws(packet_frame: &Frame) -> Frame {
    match packet_frame {
        Frame::Text(text) => Frame::Text(text.clone()),
        Frame::Binary(data) => {
            let mut out = BytesMut::with_capacity(1 + data.len());
            out.put_u8(BINARY_MESSAGE);
            out.extend_from_slice(data);
            Frame::Binary(out.freeze())
        }
    }
}

/// Decodes a v3 WebSocket frame.
///
/// A binary frame must start with the type byte `4`; the rest is the message.
/// A text frame is decoded as in v4, also accepting `b4` + base64.
///
/// # Errors
///
/// [`Error::Empty`] for an empty frame, [`Error::InvalidBinaryPacket`] for a
/// binary frame not starting with `4`, and the errors of [`Packet::decode`].
pub fn decode_ws(frame: Frame) -> Result<Packet, Error> {
    match frame {
        Frame::Text(text) => decode_text(text),
        Frame::Binary(data) => decode_binary(data),
    }
}

/// Decodes a v3 text packet: a v4 text packet, or `b` + type digit + base64.
pub(crate) fn decode_text(text: Str) -> Result<Packet, Error> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&BASE64_PREFIX) {
        return Packet::decode_str(text);
    }
    match bytes.get(1) {
        None => Err(Error::Empty),
        Some(&digit) if digit == PacketType::Message.digit() => {
            b64::decode(bytes.get(2..).unwrap_or_default()).map(Packet::Binary)
        }
        Some(&other) => Err(Error::InvalidBinaryPacket(other)),
    }
}

/// Decodes a v3 binary packet: type byte `4`, then the message.
pub(crate) fn decode_binary(mut data: Bytes) -> Result<Packet, Error> {
    match data.first() {
        None => Err(Error::Empty),
        Some(&BINARY_MESSAGE) => {
            let _ = data.split_to(1);
            Ok(Packet::Binary(data))
        }
        Some(&other) => Err(Error::InvalidBinaryPacket(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::any_packet;
    use proptest::prelude::*;

    #[test]
    fn text_frames_are_as_in_v4() {
        let frame = Frame::message("hello");
        assert_eq!(encode_ws(&frame), frame);
        assert_eq!(
            decode_ws(frame).unwrap(),
            Packet::Message(Str::from("hello"))
        );
        assert_eq!(
            decode_ws(Frame::Text(Str::from("2probe"))).unwrap(),
            Packet::Ping(Str::from("probe"))
        );
    }

    #[test]
    fn binary_frames_have_a_type_byte() {
        // The v3 document's example: 4|0|1|2|3|4|5.
        let wire = Bytes::from_static(&[4, 0, 1, 2, 3, 4, 5]);
        let packet = Packet::Binary(Bytes::from_static(&[0, 1, 2, 3, 4, 5]));
        assert_eq!(decode_ws(Frame::Binary(wire.clone())).unwrap(), packet);
        assert_eq!(encode_ws(&packet.encode()), Frame::Binary(wire));
        assert_eq!(
            decode_ws(Frame::Binary(Bytes::from_static(&[4]))).unwrap(),
            Packet::Binary(Bytes::new())
        );
    }

    #[test]
    fn base64_text_packets() {
        assert_eq!(
            decode_ws(Frame::Text(Str::from("b4AQIDBA=="))).unwrap(),
            Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        );
    }

    #[test]
    fn malformed_frames() {
        assert_eq!(decode_ws(Frame::Binary(Bytes::new())), Err(Error::Empty));
        assert_eq!(
            decode_ws(Frame::Binary(Bytes::from_static(&[2, 1]))),
            Err(Error::InvalidBinaryPacket(2))
        );
        assert_eq!(decode_ws(Frame::Text(Str::default())), Err(Error::Empty));
        assert_eq!(decode_ws(Frame::Text(Str::from("b"))), Err(Error::Empty));
        assert_eq!(
            decode_ws(Frame::Text(Str::from("b2AQ=="))),
            Err(Error::InvalidBinaryPacket(b'2'))
        );
        assert_eq!(
            decode_ws(Frame::Text(Str::from("b4!!!"))),
            Err(Error::InvalidBase64)
        );
        assert_eq!(
            decode_ws(Frame::Text(Str::from("9"))),
            Err(Error::UnknownPacketType(b'9'))
        );
    }

    proptest! {
        #[test]
        fn ws_round_trip(packet in any_packet()) {
            prop_assert_eq!(decode_ws(encode_ws(&packet.encode())), Ok(packet));
        }

        #[test]
        fn arbitrary_frames_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = String::from_utf8_lossy(&b).into_owned();
            let _ = decode_ws(Frame::Text(Str::from(text)));
            let _ = decode_ws(Frame::Binary(Bytes::from(b)));
        }
    }
}
