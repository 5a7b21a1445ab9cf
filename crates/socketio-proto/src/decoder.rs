//! The incremental decoder: Engine.IO messages in, Socket.IO packets out.

use bytes::Bytes;

use crate::parse::parse_text;
use crate::{Error, Packet, Parser, Str, msgpack};

/// The attachment limit of [`Decoder::default`], the reference parser's default.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Incremental decoder: text messages start packets; a `BINARY_*` packet waits for its
/// attachments, which arrive as binary messages.
///
/// Any error means the peer broke the protocol, and the connection should be closed. An
/// error leaves the decoder as it was before the failing call, so a rejected text message
/// does not discard a packet still waiting for attachments; call [`Decoder::reset`] to
/// start over.
///
/// Protocol v4 (Socket.IO 2.x) traffic decodes with this same decoder.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_socketio_proto::{Decoder, PacketType};
///
/// let mut decoder = Decoder::default();
/// let packet = decoder.feed_text(r#"2/admin,456["project:delete",123]"#)?.unwrap();
/// assert_eq!((packet.nsp.as_str(), packet.id), ("/admin", Some(456)));
/// assert_eq!(packet.event_name().as_deref(), Some("project:delete"));
///
/// assert_eq!(decoder.feed_text(r#"51-["hello",{"_placeholder":true,"num":0}]"#)?, None);
/// assert!(decoder.is_reconstructing());
/// let packet = decoder.feed_binary(Bytes::from_static(&[1, 2, 3]))?.unwrap();
/// assert_eq!(packet.kind, PacketType::BinaryEvent);
/// assert_eq!(packet.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    parser: Parser,
    pending: Option<Pending>,
}

/// A `BINARY_*` packet whose attachments are still arriving.
#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
}

impl Decoder {
    /// A decoder refusing packets that announce more than `max_attachments` attachments.
    pub fn new(max_attachments: usize) -> Decoder {
        Decoder {
            max_attachments,
            parser: Parser::Default,
            pending: None,
        }
    }

    /// The same decoder, for packets written by `parser`. With [`Parser::MsgPack`] every
    /// packet is one binary message ([`msgpack::decode`]) and text is
    /// [`Error::UnexpectedText`].
    pub fn with_parser(mut self, parser: Parser) -> Decoder {
        self.parser = parser;
        self
    }

    /// The attachment limit this decoder was created with.
    pub fn max_attachments(&self) -> usize {
        self.max_attachments
    }

    /// Feeds the text of one Engine.IO message.
    ///
    /// Returns the packet when it is complete, or `None` when it is a `BINARY_*` packet
    /// that now waits for its attachments. Text while waiting is
    /// [`Error::UnexpectedText`].
    ///
    /// The packet's payload keeps its text, so this copies `text` once; [`Decoder::feed_str`]
    /// shares a buffer instead.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, Error> {
        self.feed_str(Str::from(text.to_owned()))
    }

    /// Like [`Decoder::feed_text`], but the packet's payload is a slice of `text`, sharing its
    /// buffer (which stays alive as long as the payload, or arguments taken from it, do).
    pub fn feed_str(&mut self, text: Str) -> Result<Option<Packet>, Error> {
        if self.pending.is_some() || self.parser == Parser::MsgPack {
            return Err(Error::UnexpectedText);
        }
        let (packet, expected) = parse_text(&text, self.max_attachments)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Pending { packet, expected });
        Ok(None)
    }

    /// Feeds one Engine.IO binary message, the next attachment of the waiting packet.
    ///
    /// Returns the packet once its last attachment is in. Binary while not waiting is
    /// [`Error::UnexpectedBinary`].
    pub fn feed_binary(&mut self, data: Bytes) -> Result<Option<Packet>, Error> {
        if self.parser == Parser::MsgPack {
            return msgpack::decode(&data).map(Some);
        }
        let Some(pending) = self.pending.as_mut() else {
            return Err(Error::UnexpectedBinary);
        };
        // Grows one attachment at a time: the count was checked against the limit, but
        // memory should follow what actually arrives, not what was announced.
        pending.packet.attachments.push(data);
        if pending.packet.attachments.len() < pending.expected {
            return Ok(None);
        }
        Ok(self.pending.take().map(|pending| pending.packet))
    }

    /// Whether a `BINARY_*` packet is waiting for attachments.
    pub fn is_reconstructing(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops any packet waiting for attachments.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

impl Default for Decoder {
    /// A decoder accepting up to [`DEFAULT_MAX_ATTACHMENTS`] attachments per packet.
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_ATTACHMENTS)
    }
}
