//! The one error type of this crate.

use std::fmt::Display;

/// Everything that can go wrong while decoding, validating or (de)serialising packets.
///
/// Decoding errors mean the peer broke the protocol; the reference server closes the
/// connection on any of them, and so should callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is empty or does not start with a packet type digit `0`..=`6`.
    #[error("invalid packet type")]
    InvalidPacketType,
    /// A `BINARY_*` packet whose attachment count is not a run of digits followed by `-`.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// A `BINARY_*` packet announces more attachments than the decoder accepts.
    #[error("too many attachments: {claimed} announced, at most {max} accepted")]
    TooManyAttachments {
        /// The announced count (saturated at `usize::MAX`).
        claimed: usize,
        /// The decoder's limit.
        max: usize,
    },
    /// A namespace that cannot be written unambiguously (it must start with `/` and hold no `,`).
    #[error("invalid namespace")]
    InvalidNamespace,
    /// An ack id that overflows `u64`, one on a packet type that takes none, or a missing
    /// one on an `ACK`.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The payload is not valid JSON; holds the parser's message.
    #[error("invalid JSON payload: {0}")]
    InvalidJson(String),
    /// The payload is valid JSON but not of the shape the packet type requires.
    #[error("invalid payload for this packet type")]
    InvalidPayload,
    /// A binary message arrived while no `BINARY_*` packet was waiting for attachments.
    #[error("binary message received while not reconstructing a packet")]
    UnexpectedBinary,
    /// A text message arrived while a `BINARY_*` packet was still waiting for attachments.
    #[error("text message received while reconstructing a binary packet")]
    UnexpectedText,
    /// A value could not be serialised to JSON.
    #[error("serialization failed: {0}")]
    Serialize(String),
    /// A value could not be deserialised from JSON.
    #[error("deserialization failed: {0}")]
    Deserialize(String),
    /// A placeholder refers to an attachment that does not exist.
    #[error("placeholder {num} out of range ({attachments} attachments)")]
    PlaceholderOutOfRange {
        /// The placeholder's `num` (saturated at `usize::MAX`).
        num: usize,
        /// How many attachments there are.
        attachments: usize,
    },
    /// A packet of the MessagePack parser that is not one MessagePack map; holds why.
    #[error("invalid MessagePack packet: {0}")]
    InvalidMsgPack(String),
    /// A parser name other than `default` and `msgpack` (see [`crate::Parser`]).
    #[error("unknown parser {0:?} (expected default or msgpack)")]
    UnknownParser(String),
    /// An object with `"_placeholder": true` whose `num` is not a non-negative integer.
    #[error("invalid placeholder")]
    InvalidPlaceholder,
}

impl serde::ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Serialize(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::Deserialize(msg.to_string())
    }
}
