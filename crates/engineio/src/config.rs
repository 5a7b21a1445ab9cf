//! Engine configuration: every limit and timing, with Node's defaults.

use crate::{HttpCompression, PerMessageDeflate};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cors::Cors;
use crate::request::RequestInfo;

/// Decides whether a handshake may open a session, from its headers, query and remote address.
/// `Err(message)` refuses it with HTTP 403 and that message.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo<'_>) -> Result<(), String> + Send + Sync>;

/// The transports a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling.
    pub polling: bool,
    /// WebSocket, directly or as an upgrade from polling.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// The Engine.IO server's configuration.
///
/// Build it from [`EngineConfig::default`] and chained setters:
///
/// ```
/// use std::time::Duration;
/// use sockeye_engineio::EngineConfig;
///
/// let config = EngineConfig::default()
///     .path("/engine.io/")
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200));
/// assert_eq!(config.max_payload, 1_000_000);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The request path the server answers, with a trailing slash. Default `/socket.io/`.
    pub path: String,
    /// Time between two server pings. Default 25 s.
    pub ping_interval: Duration,
    /// How long a ping waits for its pong before the session is closed. Default 20 s.
    pub ping_timeout: Duration,
    /// How long a WebSocket may take to finish an upgrade (`2probe` … `5`). Default 10 s.
    pub upgrade_timeout: Duration,
    /// The largest POST body, WebSocket message and attachment accepted, in bytes
    /// (Node's `maxHttpBufferSize`). Larger input closes the session. Default 1 000 000.
    pub max_payload: usize,
    /// The largest number of packets one polling body may carry. Default 10 000.
    pub max_packets_per_payload: usize,
    /// Frames a session may hold for a client that is not reading; past it a send fails with
    /// [`crate::SendError::Full`]. Default 4 096.
    pub outbox_capacity: usize,
    /// Bytes a session may hold for a client that is not reading; past it a send fails with
    /// [`crate::SendError::Full`] (one packet is always accepted into an empty outbox, whatever
    /// its size). Default 16 MiB.
    pub outbox_max_bytes: usize,
    /// Accepted transports. Default both.
    pub transports: Transports,
    /// Whether polling sessions may upgrade to WebSocket. Default true.
    pub allow_upgrades: bool,
    /// Whether Engine.IO protocol v3 (socket.io 2.x clients) is accepted. Default false, as in
    /// Node: with it on, a request without `EIO` is read as v3.
    pub allow_eio3: bool,
    /// Cross-origin rules for browsers; `None` sends no CORS headers. Default `None`.
    pub cors: Option<Cors>,
    /// A hook that can refuse a handshake. Default none.
    pub allow_request: Option<AllowRequest>,
    /// Bytes read from a WebSocket at once, in bytes. Default 65 536. The read goes into a
    /// scratch buffer shared by the connections of a thread; a connection keeps only the bytes
    /// of a message it has read in part, so idle connections hold no read buffer.
    pub websocket_read_buffer: usize,
    /// The most sessions open at once; further handshakes get HTTP 503. Default 100 000.
    pub max_sessions: usize,
    /// Compression of long-polling responses for clients that accept it (Node's
    /// `httpCompression`); `None` turns it off. Default on, at 1 024 bytes and up, as in Node.
    pub http_compression: Option<HttpCompression>,
    /// Whether long-polling answers JSONP requests (a `j` query parameter: script tags for
    /// browsers without XHR, used by socket.io 2.x clients with `forceJSONP`). Default true:
    /// Node's engine.io 6 answers them whenever polling is on and has no switch. With it off
    /// such a request gets [`crate::RequestError::JsonpDisabled`].
    pub jsonp: bool,
    /// permessage-deflate on WebSocket connections whose client offers it (Node's
    /// `perMessageDeflate`); `None` turns it off. Default off, as in Node.
    pub per_message_deflate: Option<PerMessageDeflate>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            max_packets_per_payload: 10_000,
            outbox_capacity: 4_096,
            outbox_max_bytes: 16 << 20,
            transports: Transports::default(),
            allow_upgrades: true,
            allow_eio3: false,
            cors: None,
            allow_request: None,
            websocket_read_buffer: 64 * 1024,
            max_sessions: 100_000,
            http_compression: Some(HttpCompression::default()),
            jsonp: true,
            per_message_deflate: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        impl EngineConfig {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$name = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`EngineConfig::ping_interval`].
    ping_interval: Duration,
    /// Sets [`EngineConfig::ping_timeout`].
    ping_timeout: Duration,
    /// Sets [`EngineConfig::upgrade_timeout`].
    upgrade_timeout: Duration,
    /// Sets [`EngineConfig::max_payload`].
    max_payload: usize,
    /// Sets [`EngineConfig::max_packets_per_payload`].
    max_packets_per_payload: usize,
    /// Sets [`EngineConfig::outbox_capacity`].
    outbox_capacity: usize,
    /// Sets [`EngineConfig::outbox_max_bytes`].
    outbox_max_bytes: usize,
    /// Sets [`EngineConfig::transports`].
    transports: Transports,
    /// Sets [`EngineConfig::allow_upgrades`].
    allow_upgrades: bool,
    /// Sets [`EngineConfig::allow_eio3`].
    allow_eio3: bool,
    /// Sets [`EngineConfig::websocket_read_buffer`].
    websocket_read_buffer: usize,
    /// Sets [`EngineConfig::max_sessions`].
    max_sessions: usize,
    /// Sets [`EngineConfig::http_compression`].
    http_compression: Option<HttpCompression>,
    /// Sets [`EngineConfig::jsonp`].
    jsonp: bool,
    /// Sets [`EngineConfig::per_message_deflate`].
    per_message_deflate: Option<PerMessageDeflate>,
}

impl EngineConfig {
    /// Sets [`EngineConfig::path`]; a trailing slash is added when missing.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.path = path;
        self
    }

    /// Sets [`EngineConfig::cors`].
    #[must_use]
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Sets [`EngineConfig::allow_request`].
    #[must_use]
    pub fn allow_request(
        mut self,
        hook: impl Fn(&RequestInfo<'_>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.allow_request = Some(Arc::new(hook));
        self
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_payload", &self.max_payload)
            .field("max_packets_per_payload", &self.max_packets_per_payload)
            .field("outbox_capacity", &self.outbox_capacity)
            .field("outbox_max_bytes", &self.outbox_max_bytes)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("allow_eio3", &self.allow_eio3)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("websocket_read_buffer", &self.websocket_read_buffer)
            .field("max_sessions", &self.max_sessions)
            .field("http_compression", &self.http_compression)
            .field("jsonp", &self.jsonp)
            .field("per_message_deflate", &self.per_message_deflate)
            .finish()
    }
}
