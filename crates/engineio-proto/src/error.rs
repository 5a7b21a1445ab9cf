//! The crate's single error type.

/// Everything that can go wrong while decoding Engine.IO data.
///
/// Decoders never panic: any input they cannot make sense of ends up as one
/// of these variants. More variants may be added, hence `#[non_exhaustive]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A packet, frame or payload body with nothing in it (not even a packet type).
    #[error("empty packet or payload")]
    Empty,
    /// The packet type is not one of the seven Engine.IO types (`'0'..='6'`);
    /// holds the offending byte.
    #[error("unknown packet type byte {0:#04x}")]
    UnknownPacketType(u8),
    /// Text that is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A `b`-prefixed binary packet whose base64 does not decode.
    #[error("invalid base64")]
    InvalidBase64,
    /// An open packet whose data is not the expected handshake JSON.
    #[error("invalid open packet: {0}")]
    InvalidOpenPacket(String),
    /// A session id that is not exactly 20 characters of `[A-Za-z0-9_-]`.
    #[error("invalid session id")]
    InvalidSid,
    /// A payload with more packets than the caller allowed.
    #[error("too many packets in payload")]
    TooManyPackets,
    /// A v3 length prefix that is missing, not decimal, too large for memory,
    /// or ends in the middle of a character.
    #[error("invalid length prefix")]
    InvalidLength,
    /// A v3 payload that ends before the length it announced.
    #[error("truncated payload")]
    Truncated,
    /// A v3 binary payload part whose header byte is neither `0x00` (text)
    /// nor `0x01` (binary); holds the offending byte.
    #[error("invalid payload framing byte {0:#04x}")]
    InvalidFraming(u8),
    /// A v3 binary packet whose leading type byte is not `4` (message); holds
    /// the offending byte. Only messages can carry binary data.
    #[error("binary packet with unsupported type byte {0:#04x}")]
    InvalidBinaryPacket(u8),
    /// A stream frame (WebTransport) whose header announces more bytes than the receiver
    /// takes; holds the announced length.
    #[error("stream frame of {0} bytes is over the limit")]
    FrameTooLarge(u64),
}
