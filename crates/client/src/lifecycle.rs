//! [`Lifecycle`]: what happens to the connection and to each namespace's socket.

use serde_json::Value;

/// Why a socket was disconnected: the JavaScript client's reasons, same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server disconnected the socket; the client does not reconnect it.
    IoServerDisconnect,
    /// [`crate::Socket::disconnect`] was called; the client does not reconnect it.
    IoClientDisconnect,
    /// The server went silent for longer than its ping interval and timeout.
    PingTimeout,
    /// The server closed the connection.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent something that is not Socket.IO.
    ParseError,
}

impl DisconnectReason {
    /// The reason as socket.io-client writes it (`"io server disconnect"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
        }
    }

    /// Whether the client will try to reconnect after it.
    pub fn reconnects(self) -> bool {
        !matches!(
            self,
            DisconnectReason::IoServerDisconnect | DisconnectReason::IoClientDisconnect
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle event, as [`crate::Client::lifecycle`] delivers them: the socket events
/// (`connect`, `connect_error`, `disconnect`) with their namespace, and the manager's
/// reconnection events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// The socket of `namespace` is connected (after its buffered events were delivered and
    /// its buffered emits sent).
    Connect {
        /// The namespace.
        namespace: String,
        /// Whether the server restored the session (connection-state recovery).
        recovered: bool,
    },
    /// The connection could not be opened, or the server refused the namespace.
    ConnectError {
        /// The namespace.
        namespace: String,
        /// The server's message, or what failed.
        message: String,
        /// The server's `data`, if it sent any.
        data: Option<Value>,
    },
    /// The socket of `namespace` was disconnected.
    Disconnect {
        /// The namespace.
        namespace: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// Reconnection attempt `n` (from 1) starts.
    ReconnectAttempt(u32),
    /// Reconnected, at attempt `n`.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(String),
    /// The attempts ran out; the client stopped reconnecting.
    ReconnectFailed,
    /// An event's arguments did not fit its handler's type; the handler was not called.
    HandlerError {
        /// The namespace.
        namespace: String,
        /// The event.
        event: String,
        /// What did not fit.
        error: String,
    },
}
