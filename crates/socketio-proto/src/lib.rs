//! The Socket.IO protocol (v5, and v4 for Socket.IO 2.x clients): packets, binary
//! attachments and an incremental decoder. Sans-IO: it turns Engine.IO messages into
//! packets and back, and leaves transport to the caller.
//!
//! A packet travels as one Engine.IO text message, followed, for `BINARY_EVENT` and
//! `BINARY_ACK`, by one Engine.IO binary message per attachment.
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_socketio_proto::{Decoder, Packet, to_value};
//!
//! // Sending: Rust values to JSON with placeholders plus attachments, then to messages.
//! let mut attachments = Vec::new();
//! let data = to_value(&("upload", "a.bin", Bytes::from_static(&[1, 2, 3])), &mut attachments)?;
//! let encoded = Packet::event("/files", data, attachments).encode();
//! assert_eq!(
//!     encoded.text,
//!     r#"51-/files,["upload","a.bin",{"_placeholder":true,"num":0}]"#
//! );
//!
//! // Receiving: messages to a packet, then to Rust values.
//! let mut decoder = Decoder::default();
//! assert!(decoder.feed_text(&encoded.text)?.is_none());
//! let packet = decoder.feed_binary(encoded.attachments[0].clone())?.unwrap();
//! assert_eq!(packet.event_name().as_deref(), Some("upload"));
//! let (file, content): (String, Bytes) =
//!     packet.args().unwrap().deserialize(&packet.attachments)?;
//! assert_eq!((file.as_str(), &content[..]), ("a.bin", &[1, 2, 3][..]));
//! # Ok::<(), sockeye_socketio_proto::Error>(())
//! ```

mod args;
pub mod binary;
mod decoder;
mod error;
mod json;
pub mod msgpack;
mod packet;
mod parse;
mod parser;
mod payload;
mod tuple;
pub mod v4;
mod validate;

pub use args::Args;
pub use binary::{from_value, from_value_ref, to_value};
pub use decoder::{DEFAULT_MAX_ATTACHMENTS, Decoder};
pub use error::Error;
pub use packet::{Encoded, MAIN_NAMESPACE, Packet, PacketType};
pub use parser::Parser;
pub use payload::Payload;
pub use serde_json::Value;
pub use sockeye_engineio_proto::Str;
pub use validate::{RESERVED_EVENTS, is_reserved_event};
