//! Errors of the Socket.IO server, and the reasons a socket disconnects.

use std::fmt;

use sockeye_engineio::CloseReason;

/// Why a socket disconnected, as Node's socket.io names it (the text of `Display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed the connection, or it was lost.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server removed the socket from its namespace ([`crate::Socket::disconnect`] without
    /// closing the connection).
    ServerNamespaceDisconnect,
    /// The server closed the whole connection ([`crate::Socket::disconnect`] with
    /// `close_underlying`).
    ForcedServerClose,
    /// The engine session was closed by the server.
    ForcedClose,
    /// The client sent something that is not Socket.IO.
    ParseError,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client did not keep up with what the server sent (its outbox filled up).
    SlowClient,
}

impl DisconnectReason {
    /// The reason as Node spells it (`"transport close"`, `"client namespace disconnect"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::SlowClient => "slow client",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShutdown => DisconnectReason::ServerShuttingDown,
            _ => DisconnectReason::TransportError,
        }
    }
}

/// An emit could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The data could not be serialised to JSON.
    #[error("cannot serialise the event data: {0}")]
    Serialize(String),
    /// The event name is one Socket.IO reserves (`connect`, `disconnect`...).
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The client is not reading fast enough; it has been disconnected (reason
    /// [`DisconnectReason::SlowClient`]).
    #[error("the client's outbox is full")]
    OutboxFull,
    /// The cluster adapter failed to forward the broadcast.
    #[error("adapter: {0}")]
    Adapter(String),
}

/// An acknowledgement did not arrive as expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The emit itself failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// No acknowledgement within the timeout.
    #[error("no acknowledgement within the timeout")]
    Timeout,
    /// The socket disconnected before acknowledging.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
    /// The acknowledgement's arguments did not deserialise into the requested type.
    #[error("cannot deserialise the acknowledgement: {0}")]
    Deserialize(String),
    /// The socket has too many acknowledgements pending.
    #[error("too many acknowledgements pending")]
    TooManyPending,
}

/// A handler's arguments could not be extracted from an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event \"{event}\" on namespace \"{nsp}\": {message}")]
#[non_exhaustive]
pub struct HandlerError {
    /// The namespace.
    pub nsp: String,
    /// The event (`connection` for the connection handler).
    pub event: String,
    /// What went wrong.
    pub message: String,
}

/// A refusal of a connection by a namespace middleware, sent to the client as CONNECT_ERROR.
///
/// ```
/// use sockeye::ConnectError;
/// let error = ConnectError::new("not authorized").with_data(serde_json::json!({"retry": false}));
/// assert_eq!(error.message, "not authorized");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectError {
    /// The `message` the client's `connect_error` handler sees.
    pub message: String,
    /// The optional `data` the client sees beside it.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data for the client.
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

impl From<&str> for ConnectError {
    fn from(message: &str) -> Self {
        ConnectError::new(message)
    }
}

impl From<String> for ConnectError {
    fn from(message: String) -> Self {
        ConnectError::new(message)
    }
}
