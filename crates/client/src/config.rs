//! [`ClientBuilder`]: where to connect and how.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};
use serde_json::Value;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::{Client, Error, Parser};

/// Which transports the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transports {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only, from the first request.
    WebSocket,
    /// Long-polling first, then an upgrade to WebSocket when the server offers it: the
    /// JavaScript client's default.
    #[default]
    PollingThenUpgrade,
}

type AuthFuture = Pin<Box<dyn Future<Output = Value> + Send>>;

/// The `auth` payload of each namespace `CONNECT`.
#[derive(Clone, Default)]
pub(crate) enum Auth {
    #[default]
    None,
    Value(Value),
    Fn(Arc<dyn Fn() -> AuthFuture + Send + Sync>),
}

impl Auth {
    pub(crate) async fn resolve(&self) -> Option<Value> {
        match self {
            Auth::None => None,
            Auth::Value(value) => Some(value.clone()),
            Auth::Fn(f) => Some(f().await),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Value(value) => write!(f, "Value({value})"),
            Auth::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

/// Everything the client was built with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The namespace the URL's path names (`/` when it names none).
    pub(crate) namespace: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) auth: Auth,
    pub(crate) transports: Transports,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnection: bool,
    pub(crate) reconnection_attempts: Option<u32>,
    pub(crate) reconnection_delay: Duration,
    pub(crate) reconnection_delay_max: Duration,
    pub(crate) randomization_factor: f64,
    pub(crate) ack_timeout: Option<Duration>,
    /// 0: emits are not queued for retries.
    pub(crate) retries: u32,
    pub(crate) parser: Parser,
    pub(crate) max_message_size: usize,
}

/// What one message from the server may weigh by default: tungstenite's own limit.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

impl Config {
    /// The `Host` header: the port only when it is not the scheme's default.
    pub(crate) fn host_header(&self) -> String {
        let default = if self.secure { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Path and query of an Engine.IO request.
    pub(crate) fn target(&self, transport: &str, sid: Option<&str>) -> String {
        let mut query = form_encode(&[("EIO", "4"), ("transport", transport)]);
        for (name, value) in &self.query {
            query.push('&');
            query.push_str(&form_encode(&[(name, value)]));
        }
        if let Some(sid) = sid {
            query.push('&');
            query.push_str(&form_encode(&[("sid", sid)]));
        }
        format!("{}?{query}", self.path)
    }
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(name, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

/// `%XX` escapes decoded, as JavaScript's `decodeURIComponent` (`+` stays `+`); a broken
/// escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Builds a [`Client`]; see [`Client::builder`]. The defaults are socket.io-client 4.x's.
#[derive(Debug)]
pub struct ClientBuilder {
    url: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    auth: Auth,
    transports: Transports,
    roots: Vec<CertificateDer<'static>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    reconnection: bool,
    reconnection_attempts: Option<u32>,
    reconnection_delay: Duration,
    reconnection_delay_max: Duration,
    randomization_factor: f64,
    ack_timeout: Option<Duration>,
    retries: u32,
    parser: Parser,
    max_message_size: usize,
}

impl ClientBuilder {
    pub(crate) fn new(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            path: "/socket.io/".to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            auth: Auth::None,
            transports: Transports::default(),
            roots: Vec::new(),
            tls: None,
            connect_timeout: Duration::from_secs(20),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            ack_timeout: None,
            retries: 0,
            parser: Parser::Default,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// The server's Engine.IO path; `/socket.io/` by default. A missing trailing slash is
    /// added, as the JavaScript client does.
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.to_owned();
        self
    }

    /// Adds a query parameter to every Engine.IO request.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header to every HTTP request (the WebSocket handshake included).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The `auth` payload sent with each namespace `CONNECT`.
    pub fn auth(mut self, auth: Value) -> Self {
        self.auth = Auth::Value(auth);
        self
    }

    /// Computes the `auth` payload anew for every connection and reconnection (a fresh token,
    /// say).
    pub fn auth_with<F, Fut>(mut self, auth: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        self.auth = Auth::Fn(Arc::new(move || Box::pin(auth())));
        self
    }

    /// The transports; [`Transports::PollingThenUpgrade`] by default.
    pub fn transports(mut self, transports: Transports) -> Self {
        self.transports = transports;
        self
    }

    /// Trusts this certificate authority for `https`/`wss`, instead of the system's roots.
    pub fn tls_root_certificate(mut self, der: impl Into<CertificateDer<'static>>) -> Self {
        self.roots.push(der.into());
        self
    }

    /// The whole rustls configuration for `https`/`wss` (overrides
    /// [`ClientBuilder::tls_root_certificate`]).
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long opening the Engine.IO connection may take; 20 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether to reconnect after losing the connection; on by default.
    pub fn reconnection(mut self, on: bool) -> Self {
        self.reconnection = on;
        self
    }

    /// Gives up after this many reconnection attempts; unbounded by default.
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.reconnection_attempts = Some(attempts);
        self
    }

    /// The first reconnection delay, doubled at each attempt; 1 s by default.
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.reconnection_delay = delay;
        self
    }

    /// The longest reconnection delay; 5 s by default.
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.reconnection_delay_max = delay;
        self
    }

    /// How much each delay varies at random, `0.0..=1.0`; 0.5 by default.
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.randomization_factor = factor.clamp(0.0, 1.0);
        self
    }

    /// The default acknowledgement timeout of [`crate::Socket::emit_with_ack`]; none by
    /// default (it waits until the reply or a disconnection). With
    /// [`ClientBuilder::retries`] it is the wait of each try instead, for every emit.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = Some(timeout);
        self
    }

    /// Delivers every emit at least once, in order, as socket.io-client 4.x's `retries`
    /// option does: each socket queues its emits (volatile ones excepted), sends only the
    /// first, asks the server to acknowledge it, and sends it again, under the same ack id,
    /// when no acknowledgement comes within the try's timeout ([`ClientBuilder::ack_timeout`],
    /// or [`crate::Socket::timeout`] for one emit) or the connection is lost. After
    /// `retries` tries more than the first the emit is dropped, and
    /// [`crate::Socket::emit_with_ack`] fails with [`Error::AckTimeout`] (or
    /// [`Error::Disconnected`] when the last try was lost with the connection); the next
    /// emit then goes. 0, the default, turns the queue off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sockeye_client::Client;
    /// let client = Client::builder("http://localhost:3000")
    ///     .retries(3)
    ///     .ack_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), sockeye_client::Error>(())
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// How packets are written, which must be the server's choice: npm `socket.io-parser`'s
    /// way by default, or `socket.io-msgpack-parser`'s ([`Parser::MsgPack`]).
    ///
    /// ```
    /// use sockeye_client::{Client, Parser};
    /// let client = Client::builder("http://localhost:3000").parser(Parser::MsgPack).build()?;
    /// # drop(client);
    /// # Ok::<(), sockeye_client::Error>(())
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// The most bytes the client takes from the server at once: one WebSocket message, or one
    /// long-polling response body (all the packets it carries); 64 MiB by default. A server
    /// that sends more gets its connection closed, as a "transport error" (then reconnection
    /// applies), rather than the client buffering without bound.
    ///
    /// ```
    /// use sockeye_client::Client;
    /// let client = Client::builder("http://localhost:3000")
    ///     .max_message_size(1 << 20)
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), sockeye_client::Error>(())
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }

    /// Builds the client. Nothing connects until a socket's [`crate::Socket::connect`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::InvalidHeader`].
    pub fn build(self) -> Result<Client, Error> {
        let uri: Uri = self
            .url
            .parse()
            .map_err(|e| Error::InvalidUrl(format!("{}: {e}", self.url)))?;
        let secure = match uri.scheme_str() {
            Some("http" | "ws") => false,
            Some("https" | "wss") => true,
            _ => return Err(Error::InvalidUrl(self.url.clone())),
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::InvalidUrl(self.url.clone()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let namespace = match uri.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        let mut query = Vec::new();
        if let Some(q) = uri.query() {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                // Decoded here, since every request encodes them again.
                query.push((percent_decode(name), percent_decode(value)));
            }
        }
        query.extend(self.query);
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| Error::InvalidHeader(format!("{name}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| Error::InvalidHeader(format!("{name}: {e}")))?;
            headers.push((name, value));
        }
        let tls = if secure {
            Some(match self.tls {
                Some(tls) => tls,
                None => Arc::new(tls_config(self.roots)),
            })
        } else {
            None
        };
        let mut path = self.path;
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        // As engine.io-client's `addTrailingSlash`: Node's server matches `/socket.io/` as a
        // prefix and never answers `/socket.io?EIO=4...`.
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Client::new(Config {
            secure,
            host,
            port,
            namespace,
            path,
            query,
            headers,
            auth: self.auth,
            transports: self.transports,
            tls,
            connect_timeout: self.connect_timeout,
            reconnection: self.reconnection,
            reconnection_attempts: self.reconnection_attempts,
            reconnection_delay: self.reconnection_delay,
            reconnection_delay_max: self.reconnection_delay_max,
            randomization_factor: self.randomization_factor,
            ack_timeout: self.ack_timeout,
            retries: self.retries,
            parser: self.parser,
            max_message_size: self.max_message_size,
        }))
    }
}

/// A rustls configuration trusting `roots`, or the system's roots when there are none.
fn tls_config(roots: Vec<CertificateDer<'static>>) -> rustls::ClientConfig {
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    let mut store = rustls::RootCertStore::empty();
    if roots.is_empty() {
        // The system bundle where Debian, Ubuntu and Alpine keep it; a missing file leaves
        // the store empty, and every handshake then fails with a clear certificate error.
        if let Ok(certs) = CertificateDer::pem_file_iter("/etc/ssl/certs/ca-certificates.crt") {
            for cert in certs.flatten() {
                let _ = store.add(cert);
            }
        }
    } else {
        for cert in roots {
            let _ = store.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| rustls::ClientConfig::builder());
    builder.with_root_certificates(store).with_no_client_auth()
}
