//! A Socket.IO client (protocol v5 over Engine.IO v4) on tokio: long-polling, WebSocket, or
//! polling then an upgrade (the JavaScript client's default); a [`Socket`] per namespace on
//! one connection; events with serde-typed arguments and binary attachments anywhere inside;
//! acknowledgements both ways; reconnection with the JavaScript client's backoff; emits
//! buffered while offline; at-least-once, in-order emits with
//! [`ClientBuilder::retries`]; connection-state recovery.
//!
//! A [`Client`] and its [`Socket`]s are handles on one task that owns the connection: dropping
//! the last of them disconnects every socket cleanly (the server sees "client namespace
//! disconnect") and ends the task. [`Client::lifecycle`] reports what happens to the
//! connection with the JavaScript client's words: a WebSocket that ends without a closing
//! handshake (EOF, reset) is "transport close", as in socket.io-client.
//!
//! ```no_run
//! use std::time::Duration;
//! use sockeye_client::{Ack, Client};
//!
//! # async fn run() -> Result<(), sockeye_client::Error> {
//! let client = Client::builder("http://localhost:8080").build()?;
//! let socket = client.socket("/");
//! socket.on("motd", |motd: String, _ack: Ack| println!("motd: {motd}"));
//! socket.connect();
//! socket.emit("message", "'ello friends, I am here.")?;
//! let reply: String = socket
//!     .timeout(Duration::from_secs(5))
//!     .emit_with_ack("important_message", &serde_json::json!({"alias": "me", "message": "hi"}))
//!     .await?;
//! println!("ack: {reply}");
//! socket.disconnect();
//! # Ok(())
//! # }
//! ```

mod acks;
mod backoff;
mod client;
mod config;
mod driver;
mod engine;
mod error;
mod lifecycle;
mod retry;
mod socket;
mod transport;

pub use crate::client::Client;
pub use crate::config::{ClientBuilder, Transports};
pub use crate::error::Error;
pub use crate::lifecycle::{DisconnectReason, Lifecycle, LifecycleReceiver};
pub use crate::socket::{Ack, Emitter, Event, Socket};
pub use bytes::Bytes;
pub use sockeye_socketio_proto::Parser;
