//! [`RedisConfig`]: the adapter's settings and limits.

use std::time::Duration;

/// How the Redis adapter behaves, with Node's defaults where Node has the setting.
///
/// ```
/// use std::time::Duration;
/// use sockeye_redis::RedisConfig;
///
/// let config = RedisConfig::default()
///     .key("my-app")
///     .requests_timeout(Duration::from_secs(2));
/// assert_eq!(config.key, "my-app");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The prefix of every channel (`<key>#<nsp>#`, `<key>-request#<nsp>#`...). Default
    /// `socket.io`, as in Node; nodes of one cluster must agree on it.
    pub key: String,
    /// How long a request to the other nodes waits for their answers. Default 5 s, as in Node.
    pub requests_timeout: Duration,
    /// The most messages waiting to be published. A broadcast that finds the queue full fails
    /// with an error (it was still delivered locally). Default 4 096.
    pub publish_queue: usize,
    /// The longest wait between two attempts to reach Redis again. Default 2 s.
    pub reconnect_max_delay: Duration,
    /// How often the server count is asked of Redis in the background. Default 5 s.
    pub server_count_interval: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_queue: 4096,
            reconnect_max_delay: Duration::from_secs(2),
            server_count_interval: Duration::from_secs(5),
        }
    }
}

impl RedisConfig {
    /// Sets [`RedisConfig::key`].
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets [`RedisConfig::requests_timeout`].
    #[must_use]
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Sets [`RedisConfig::publish_queue`] (at least 1).
    #[must_use]
    pub fn publish_queue(mut self, size: usize) -> Self {
        self.publish_queue = size.max(1);
        self
    }

    /// Sets [`RedisConfig::reconnect_max_delay`].
    #[must_use]
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay;
        self
    }

    /// Sets [`RedisConfig::server_count_interval`].
    #[must_use]
    pub fn server_count_interval(mut self, interval: Duration) -> Self {
        self.server_count_interval = interval;
        self
    }
}
