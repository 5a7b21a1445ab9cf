//! The crate's error.

use sockeye_adapter::AdapterError;

/// What went wrong talking to Redis or to the other nodes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Redis URL is not one the client understands.
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    /// Redis could not be reached, or refused a command.
    #[error("Redis: {0}")]
    Redis(String),
    /// Redis is down: the adapter is reconnecting, and cluster operations fail until it is back.
    #[error("Redis is unreachable (reconnecting)")]
    Unreachable,
    /// The other nodes did not answer within [`crate::RedisConfig::requests_timeout`].
    #[error("the other nodes did not answer in time")]
    Timeout,
}

impl Error {
    pub(crate) fn redis(error: &redis::RedisError) -> Self {
        Error::Redis(error.to_string())
    }
}

impl From<Error> for AdapterError {
    fn from(error: Error) -> Self {
        match error {
            Error::Timeout => AdapterError::Timeout,
            other => AdapterError::Broker(other.to_string()),
        }
    }
}
