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

/// How the Redis streams adapter behaves, with the defaults of Node's
/// `@socket.io/redis-streams-adapter`; nodes of one cluster must agree on the names.
///
/// ```
/// use std::time::Duration;
/// use sockeye_redis::RedisStreamsConfig;
///
/// let config = RedisStreamsConfig::default().stream_name("my-app").max_len(50_000);
/// assert_eq!(config.session_key_prefix, "sio:session:");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisStreamsConfig {
    /// The stream every message goes through. Default `socket.io`.
    pub stream_name: String,
    /// About how many entries the stream keeps (`XADD MAXLEN ~`). A client that missed more
    /// than this comes back with a new session. Default 10 000.
    pub max_len: u64,
    /// How many entries one `XREAD` takes. Default 100.
    pub read_count: usize,
    /// The prefix of the key of a dropped socket's session. Default `sio:session:`.
    pub session_key_prefix: String,
    /// How often this node tells the others it is alive. Default 5 s.
    pub heartbeat_interval: Duration,
    /// How long a node that is silent still counts. Default 10 s.
    pub heartbeat_timeout: Duration,
    /// The most messages waiting to go to Redis; more fail with an error. Default 4 096.
    pub publish_queue: usize,
    /// The longest wait between two attempts to reach Redis again. Default 2 s.
    pub reconnect_max_delay: Duration,
    /// How long a restore waits for this node to have read the stream up to the offset the
    /// client brings from another node. Default 2 s.
    pub catch_up_timeout: Duration,
    /// How long a request to the other nodes (`fetch_sockets`, `server_side_emit` with acks,
    /// all rooms) waits for their answers. Default 5 s, as in Node.
    pub requests_timeout: Duration,
}

impl Default for RedisStreamsConfig {
    fn default() -> Self {
        RedisStreamsConfig {
            stream_name: "socket.io".to_owned(),
            max_len: 10_000,
            read_count: 100,
            session_key_prefix: "sio:session:".to_owned(),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            publish_queue: 4096,
            reconnect_max_delay: Duration::from_secs(2),
            catch_up_timeout: Duration::from_secs(2),
            requests_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisStreamsConfig {
    /// Sets [`RedisStreamsConfig::stream_name`].
    #[must_use]
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Sets [`RedisStreamsConfig::max_len`] (at least 1).
    #[must_use]
    pub fn max_len(mut self, max_len: u64) -> Self {
        self.max_len = max_len.max(1);
        self
    }

    /// Sets [`RedisStreamsConfig::read_count`] (at least 1).
    #[must_use]
    pub fn read_count(mut self, count: usize) -> Self {
        self.read_count = count.max(1);
        self
    }

    /// Sets [`RedisStreamsConfig::session_key_prefix`].
    #[must_use]
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_key_prefix = prefix.into();
        self
    }

    /// Sets [`RedisStreamsConfig::heartbeat_interval`] and
    /// [`RedisStreamsConfig::heartbeat_timeout`].
    #[must_use]
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets [`RedisStreamsConfig::publish_queue`] (at least 1).
    #[must_use]
    pub fn publish_queue(mut self, size: usize) -> Self {
        self.publish_queue = size.max(1);
        self
    }

    /// Sets [`RedisStreamsConfig::requests_timeout`].
    #[must_use]
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }
}
