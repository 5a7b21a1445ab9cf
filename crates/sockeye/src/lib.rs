//! Socket.IO for Rust.
//!
//! Sockeye speaks the real Socket.IO protocol (v5, over Engine.IO v4), so the official
//! JavaScript client talks to it unchanged. Build an [`Io`] server, give its namespaces
//! connection handlers, and mount its service in hyper or axum. With
//! [`IoBuilder::allow_eio3`] it also serves Socket.IO 2.x clients (protocol v4 over Engine.IO
//! v3) beside them.
//!
//! ```no_run
//! use sockeye::{AckSender, Data, Io, Socket};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let (service, io) = Io::builder().build_service();
//!     io.on_connection(|socket: Socket| async move {
//!         socket.emit("motd", "Welcome!").ok();
//!         socket.on("message", |socket: Socket, Data(text): Data<String>| async move {
//!             socket.broadcast().emit("message", &text).ok();
//!         });
//!         socket.on("important_message", |ack: AckSender| async move {
//!             ack.send("Roger that").ok();
//!         });
//!     });
//!     let listener = sockeye::bind("127.0.0.1:3000".parse().unwrap()).await?;
//!     sockeye::serve(listener, service, std::future::pending()).await
//! }
//! ```
//!
//! The server counts sessions, sockets, connects, disconnects, events and more through the
//! [`metrics`](https://docs.rs/metrics) facade (docs/metrics.md lists them): install a recorder
//! (with `metrics::set_global_recorder`) before building the server, which registers its
//! handles then; without one they cost nothing.
//!
//! ```
//! let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
//! let handle = recorder.handle();
//! let io = metrics::with_local_recorder(&recorder, || sockeye::Io::builder().build());
//! assert!(handle.render().contains(r#"sockeye_connects_total{namespace="/",result="ok"} 0"#));
//! # drop(io);
//! ```

mod args;
mod client;
mod error;
mod extract;
mod handler;
mod io;
mod layer;
mod legacy;
mod metrics;
mod namespace;
mod observer;
mod operators;
mod recovery;
mod rooms;
mod socket;
mod socket_handlers;

pub use error::{AckError, ConnectError, DisconnectReason, EmitError, HandlerError};
pub use extract::{AckSender, Data, Event, EventContext, FromEvent, State, TryData};
pub use handler::Handler;
pub use io::{AdapterFactory, Io, IoBuilder, IoConfig};
pub use layer::{IoLayer, IoService, NotFound};
pub use namespace::Namespace;
pub use observer::Observer;
pub use operators::{AckResponses, BroadcastOperator, RemoteSocket};
pub use recovery::RecoveryConfig;
pub use rooms::IntoRooms;
pub use socket::{Socket, SocketTimeout};

pub use serde_json::Value;
pub use sockeye_adapter::{Adapter, BroadcastOptions, MemoryAdapter, Room, SocketId};
/// An Engine.IO session, as [`Socket::engine`] and the [`Observer`] hooks give it.
pub use sockeye_engineio::Socket as EngineSocket;
pub use sockeye_engineio::{
    AllowOrigin, Cors, EngineConfig, Handshake, PerMessageDeflate, ProtocolVersion, RemoteAddr,
    TransportKind, Transports, bind, serve, serve_with,
};
pub use sockeye_socketio_proto::{Args, Parser, Str};

/// Engine.IO over WebTransport (HTTP/3), beside the HTTP server: bind an endpoint with a
/// certificate, then serve [`Io::engine`] on it.
#[cfg(feature = "webtransport")]
pub mod webtransport {
    pub use sockeye_engineio::{
        SELF_SIGNED_VALIDITY_DAYS, WebTransportCertificate, WebTransportListener,
        bind_webtransport, serve_webtransport,
    };
}
