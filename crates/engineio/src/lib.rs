//! The Engine.IO server of Sockeye.
//!
//! Engine.IO carries messages between a client and the server over HTTP long-polling or
//! WebSocket, upgrades from the first to the second without losing a message, and keeps the
//! session alive with heartbeats. [`EngineService`] is a tower service: mount it in axum or
//! hyper at its path (`/socket.io/` by default), or run it with [`serve`]. Each session is owned
//! by one task; the [`EngineHandler`] you give it learns of sessions and messages, and answers
//! through the [`Socket`] handle's bounded outbox.
//!
//! ```no_run
//! use sockeye_engineio::{EngineConfig, EngineHandler, EngineService, Frame, Message, Socket};
//!
//! struct Echo;
//! impl EngineHandler for Echo {
//!     fn on_message(&self, socket: &Socket, message: Message) {
//!         let frame = match message {
//!             Message::Text(text) => Frame::message(&text),
//!             Message::Binary(data) => Frame::Binary(data),
//!         };
//!         let _ = socket.send(frame);
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let service = EngineService::new(EngineConfig::default(), Echo);
//!     let listener = sockeye_engineio::bind("127.0.0.1:3000".parse().unwrap()).await?;
//!     sockeye_engineio::serve(listener, service, std::future::pending()).await
//! }
//! ```

mod codec_io;
mod compression;
mod config;
mod cors;
mod deflate;
mod engine;
mod error;
mod handler;
mod metrics;
mod polling;
mod request;
mod serve;
mod service;
mod session;
mod socket;
mod websocket;
#[cfg(feature = "webtransport")]
mod webtransport;

pub use compression::HttpCompression;
pub use config::{AllowRequest, EngineConfig, Transports};
pub use cors::{AllowOrigin, Cors};
pub use deflate::PerMessageDeflate;
pub use error::{CloseReason, RequestError, SendError};
pub use handler::{EngineHandler, Message};
pub use request::{Handshake, ProtocolVersion, RemoteAddr, RequestInfo, TransportKind};
pub use serve::{SHUTDOWN_GRACE, bind, serve, serve_with};
pub use service::{BoxError, EngineService, ResponseBody};
pub use socket::Socket;
pub use sockeye_engineio_proto::{Frame, Packet, Sid, Str};
#[cfg(feature = "webtransport")]
pub use webtransport::{
    SELF_SIGNED_VALIDITY_DAYS, WebTransportCertificate, WebTransportListener, bind_webtransport,
    serve_webtransport,
};
