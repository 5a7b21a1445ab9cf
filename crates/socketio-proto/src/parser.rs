//! [`Parser`]: how packets are written in Engine.IO messages, chosen by both ends.

use std::fmt;
use std::str::FromStr;

use sockeye_engineio_proto::Frame;

use crate::{Decoder, Error, Packet, msgpack};

/// The packet codec, which both ends must agree on (Node's `parser` option).
///
/// ```
/// use sockeye_socketio_proto::{Packet, Parser};
/// use sockeye_engineio_proto::Frame;
///
/// let packet = Packet::disconnect("/admin");
/// assert_eq!(Parser::Default.frames(&packet), vec![Frame::message("1/admin,")]);
/// assert_eq!(
///     Parser::MsgPack.frames(&packet),
///     vec![Frame::binary(&b"\x82\xa4type\x01\xa3nsp\xa6/admin"[..])]
/// );
/// assert_eq!("msgpack".parse::<Parser>(), Ok(Parser::MsgPack));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parser {
    /// npm `socket.io-parser`: a packet is one text message, then one binary message per
    /// binary value (attachment).
    #[default]
    Default,
    /// npm `socket.io-msgpack-parser`: a packet is one binary message, MessagePack, binary
    /// values inside it. See [`crate::msgpack`].
    MsgPack,
}

impl Parser {
    /// The Engine.IO messages of `packet`, encoded once (for as many recipients as needed).
    pub fn frames(self, packet: &Packet) -> Vec<Frame> {
        match self {
            Parser::Default => {
                let mut text = Vec::with_capacity(64);
                text.push(b'4');
                let attachments = packet.encode_into(&mut text);
                default_frames(text, attachments)
            }
            Parser::MsgPack => vec![Frame::binary(msgpack::encode(packet))],
        }
    }

    /// The Engine.IO messages of a packet the default parser wrote: `text` (an Engine.IO
    /// message, starting with its type `4`) and its `attachments`. For code that writes a
    /// packet's text directly, as echoes do.
    ///
    /// # Errors
    /// For the MessagePack parser, a `text` that does not decode (see
    /// [`msgpack::encode_text`]).
    pub fn frames_from_text(
        self,
        text: Vec<u8>,
        attachments: Vec<bytes::Bytes>,
    ) -> Result<Vec<Frame>, Error> {
        match self {
            Parser::Default => Ok(default_frames(text, attachments)),
            Parser::MsgPack => {
                let text = std::str::from_utf8(text.get(1..).unwrap_or_default())
                    .map_err(|_| Error::InvalidPacketType)?;
                Ok(vec![Frame::binary(msgpack::encode_text(
                    text,
                    &attachments,
                )?)])
            }
        }
    }

    /// A decoder for packets this parser writes, refusing more than `max_attachments`
    /// attachments for the default parser (the MessagePack parser has none: its binary is
    /// inside one message, which the Engine.IO size limit bounds).
    pub fn decoder(self, max_attachments: usize) -> Decoder {
        Decoder::new(max_attachments).with_parser(self)
    }

    /// The name [`FromStr`] reads: `default` or `msgpack`.
    pub fn as_str(self) -> &'static str {
        match self {
            Parser::Default => "default",
            Parser::MsgPack => "msgpack",
        }
    }
}

fn default_frames(text: Vec<u8>, attachments: Vec<bytes::Bytes>) -> Vec<Frame> {
    let mut frames = Vec::with_capacity(1 + attachments.len());
    // Packets are written from `str`s and JSON text: UTF-8.
    let text = String::from_utf8(text)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    frames.push(Frame::Text(text.into()));
    frames.extend(attachments.into_iter().map(Frame::Binary));
    frames
}

impl fmt::Display for Parser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Parser {
    type Err = Error;

    fn from_str(name: &str) -> Result<Parser, Error> {
        match name {
            "default" => Ok(Parser::Default),
            "msgpack" => Ok(Parser::MsgPack),
            other => Err(Error::UnknownParser(other.to_owned())),
        }
    }
}
