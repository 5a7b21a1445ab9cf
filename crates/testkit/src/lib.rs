//! Test helpers for Sockeye: a server on a loopback port and a raw Socket.IO client.
//!
//! - [`TestServer`] serves an [`sockeye::Io`] (or any tower service) on `127.0.0.1:0` in the
//!   current tokio runtime, and stops when dropped.
//! - [`TestClient`] speaks Socket.IO v5 over Engine.IO v4, on WebSocket or HTTP long-polling,
//!   packet by packet: the tests see exactly what the server sent, and can send anything,
//!   malformed input included. It is built on the protocol crates (`sockeye-engineio-proto`,
//!   `sockeye-socketio-proto`), and answers the server's pings by itself.
//!
//! ```no_run
//! use serde_json::json;
//! use sockeye::{Data, Io, Socket};
//! use sockeye_testkit::{TestClient, TestServer, WAIT};
//!
//! # async fn run() {
//! let io = Io::builder().build();
//! io.on_connection(|socket: Socket| async move {
//!     socket.on("ping", |socket: Socket, Data(n): Data<u32>| async move {
//!         socket.emit("pong", &(n + 1)).ok();
//!     });
//! });
//! let server = TestServer::start(io).await;
//! let mut client = TestClient::connect(&server.url()).await;
//! client.connect_ns("/", None).await.expect("refused");
//! client.emit("/", "ping", json!([1]), vec![]);
//! let pong = client.expect_event("/", "pong", WAIT).await;
//! assert_eq!(pong.args().unwrap(), [json!(2)]);
//! # }
//! ```

mod client;
mod http;
mod record;
mod script;
mod server;
mod transport;
#[cfg(feature = "webtransport")]
pub mod webtransport;

use std::time::Duration;

pub use client::{ClientBuilder, ConnectFailure, RecvError, TestClient, Transport, packet_args};
pub use http::{HttpResponse, http_get, http_request};
pub use record::{Recorder, Records, recorder};
pub use script::run_for_result;
pub use server::{ServerInput, TestServer};

pub use sockeye_engineio_proto as engineio_proto;
pub use sockeye_socketio_proto as socketio_proto;
pub use sockeye_socketio_proto::{Packet, PacketType};

/// How long a test waits for something that should happen. Generous, so that tests pass on a
/// loaded two-core machine; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long a test watches for something that should not happen.
pub const QUIET: Duration = Duration::from_millis(300);

/// Fails the test when `future` takes longer than `duration`.
///
/// # Panics
/// When the future does not finish in time.
pub async fn within<F: std::future::Future>(duration: Duration, future: F) -> F::Output {
    match tokio::time::timeout(duration, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {duration:?}"),
    }
}

/// Waits until `condition` holds, checking every few milliseconds, for at most `duration`.
///
/// # Panics
/// When the condition still does not hold after `duration`.
pub async fn eventually(duration: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + duration;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition still false after {duration:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The server's socket with id `sid` on namespace `ns` (the id a client's
/// [`TestClient::connect_ns`] returned).
///
/// # Panics
/// When no such socket is connected.
pub fn server_socket(ns: &sockeye::Namespace, sid: &str) -> sockeye::Socket {
    ns.sockets()
        .into_iter()
        .find(|socket| socket.id().as_str() == sid)
        .unwrap_or_else(|| panic!("no socket {sid} on {}", ns.name()))
}
