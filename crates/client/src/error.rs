//! The crate's error type.

use std::time::Duration;

/// What can go wrong when building a client, emitting, or waiting for an acknowledgement.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not an `http`, `https`, `ws` or `wss` URL with a host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// An extra header whose name or value HTTP does not allow.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The data of an emit or an acknowledgement could not be serialised.
    #[error("cannot serialise: {0}")]
    Serialize(String),
    /// The reply (or event arguments) did not fit the type asked for.
    #[error("cannot deserialise: {0}")]
    Deserialize(String),
    /// No acknowledgement came within the timeout.
    #[error("no acknowledgement within {0:?}")]
    AckTimeout(Duration),
    /// The socket was disconnected while the acknowledgement was awaited.
    #[error("socket has been disconnected")]
    Disconnected,
    /// The client is gone (every handle dropped), so nothing can be sent.
    #[error("client closed")]
    Closed,
    /// An event name the protocol reserves (`connect`, `disconnect`, ...).
    #[error("reserved event name: {0}")]
    ReservedEvent(String),
}

impl From<sockeye_socketio_proto::Error> for Error {
    fn from(error: sockeye_socketio_proto::Error) -> Self {
        match error {
            sockeye_socketio_proto::Error::Serialize(message) => Error::Serialize(message),
            other => Error::Deserialize(other.to_string()),
        }
    }
}
