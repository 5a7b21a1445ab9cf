//! [`Frame`]: an encoded packet.

use bytes::Bytes;

use crate::packet::prefixed;
use crate::{PacketType, Str};

/// An encoded packet ready to go on a transport: a WebSocket text frame
/// (`"4hello"`, `"2probe"`, `"0{...}"`) or a binary frame (in protocol v4, the
/// raw bytes of a binary message).
///
/// Cheap to clone: encode once, send to many.
///
/// ```
/// use sockeye_engineio_proto::{Frame, Packet, Str};
///
/// let frame = Frame::message("hello");
/// assert_eq!(frame, Frame::Text(Str::from("4hello")));
/// assert_eq!(frame.len(), 6);
/// assert_eq!(Packet::decode(frame)?, Packet::Message(Str::from("hello")));
/// # Ok::<(), sockeye_engineio_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: type digit followed by data.
    Text(Str),
    /// A binary frame.
    Binary(Bytes),
}

impl Frame {
    /// Frames a text message (`"4"` + text) once, for broadcasting the same
    /// bytes to many sessions.
    pub fn message(text: &str) -> Frame {
        Frame::Text(prefixed(PacketType::Message, text))
    }

    /// Frames a binary message; in protocol v4 that is the bytes themselves.
    pub fn binary(data: impl Into<Bytes>) -> Frame {
        Frame::Binary(data.into())
    }

    /// Bytes on the wire (for WebSocket; polling payloads add separators and
    /// base64).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the frame has no bytes at all (never true for an encoded text
    /// packet, which always has a type digit).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a binary frame.
    pub fn is_binary(&self) -> bool {
        matches!(self, Frame::Binary(_))
    }

    /// The bytes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Frame::Text(text) => text.as_bytes(),
            Frame::Binary(data) => data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_frames() {
        assert_eq!(Frame::message("€"), Frame::Text(Str::from("4€")));
        assert_eq!(Frame::message("€").len(), 4);
        assert_eq!(Frame::message(""), Frame::Text(Str::from("4")));
        assert!(!Frame::message("").is_empty());
        assert!(!Frame::message("").is_binary());
    }

    #[test]
    fn binary_frames() {
        let frame = Frame::binary(vec![1, 2, 3]);
        assert!(frame.is_binary());
        assert_eq!(frame.len(), 3);
        assert_eq!(frame.as_bytes(), &[1, 2, 3]);
        assert!(Frame::binary(Bytes::new()).is_empty());
    }
}
