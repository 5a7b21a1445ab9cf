//! Errors of the Engine.IO server, and the reasons a session ends.

use std::fmt;

/// Why a session ended. The layer above (Socket.IO) reads it to report a disconnect reason.
///
/// The `Display` text is the one Node's engine.io uses, so logs and the Socket.IO `disconnect`
/// reason read the same on both servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed the transport, or sent a close packet.
    TransportClose,
    /// The transport failed: a read or write error, an undecodable packet, an oversize body.
    TransportError,
    /// No pong arrived within `ping_timeout` of a ping.
    PingTimeout,
    /// The server closed the session ([`crate::Socket::close`]).
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// The reason as Node's engine.io spells it (`"transport close"`, `"ping timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message could not be queued for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session's outbox holds `outbox_capacity` frames already: the client is not reading.
    #[error("the session's outbox is full")]
    Full,
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
}

/// Why a request was refused, with the code and message of Node's engine.io.
///
/// These become HTTP 400 (403 for [`RequestError::Forbidden`]) responses with a JSON body such as
/// `{"code":1,"message":"Session ID unknown"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// `transport` is missing, unknown or disabled.
    #[error("Transport unknown")]
    UnknownTransport,
    /// `sid` names no open session.
    #[error("Session ID unknown")]
    UnknownSid,
    /// A handshake with a method other than GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// A request that does not fit the session's state (wrong transport, overlapping polls...).
    #[error("Bad request")]
    BadRequest,
    /// `allow_request` refused the handshake, with its message.
    #[error("{0}")]
    Forbidden(String),
    /// `EIO` is missing or names a version this server does not accept.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
    /// The server is shutting down and opens no new session (HTTP 503).
    #[error("Server shutting down")]
    ShuttingDown,
    /// The server holds `max_sessions` sessions already (HTTP 503).
    #[error("Too many sessions")]
    TooManySessions,
    /// A JSONP polling request (`j` in the query) while [`crate::EngineConfig::jsonp`] is off.
    /// Node has no such refusal; the code is its "Bad request" (3), the message says why.
    #[error("JSONP disabled")]
    JsonpDisabled,
}

impl RequestError {
    /// The numeric code Node's engine.io puts in the error body.
    pub fn code(&self) -> u8 {
        match self {
            RequestError::UnknownTransport => 0,
            RequestError::UnknownSid => 1,
            RequestError::BadHandshakeMethod => 2,
            RequestError::BadRequest => 3,
            RequestError::Forbidden(_) => 4,
            RequestError::UnsupportedProtocolVersion => 5,
            RequestError::ShuttingDown
            | RequestError::TooManySessions
            | RequestError::JsonpDisabled => 3,
        }
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> http::StatusCode {
        match self {
            RequestError::Forbidden(_) => http::StatusCode::FORBIDDEN,
            RequestError::ShuttingDown | RequestError::TooManySessions => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body: `{"code":N,"message":"..."}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.to_string() }).to_string()
    }
}
