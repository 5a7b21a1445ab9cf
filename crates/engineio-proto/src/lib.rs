//! Engine.IO protocol codec, sans-IO: packets, WebSocket frames, HTTP
//! long-polling payloads and handshake data for protocol v4, plus protocol v3
//! for old clients in [`v3`].
//!
//! Nothing here does IO; transports hand bytes in and take bytes out. Every
//! decoder returns an [`Error`] on bad input and never panics.
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_engineio_proto::{payload, Frame, Packet, Str};
//!
//! // Encode a message once, then send the same frame to many sessions.
//! let frame = Frame::message("hello");
//! assert_eq!(Packet::decode(frame.clone())?, Packet::Message(Str::from("hello")));
//!
//! // Polling clients get frames batched into one payload.
//! let body = payload::encode(&[frame, Packet::Ping(Str::default()).encode()]);
//! assert_eq!(body, Bytes::from_static(b"4hello\x1e2"));
//! # Ok::<(), sockeye_engineio_proto::Error>(())
//! ```

mod b64;
mod error;
mod frame;
mod open;
mod packet;
pub mod payload;
mod sid;
mod str;
pub mod stream;
pub mod v3;

pub use crate::error::Error;
pub use crate::frame::Frame;
pub use crate::open::OpenPacket;
pub use crate::packet::{Packet, PacketType};
pub use crate::sid::{BuildSidHasher, Sid, SidHasher};
pub use crate::str::Str;
