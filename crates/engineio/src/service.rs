//! The tower `Service` that answers Engine.IO requests: it checks each request, then hands it to
//! the polling or WebSocket transport.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use sockeye_engineio_proto::Frame;

use crate::compression::Compress;
use crate::engine::Engine;
use crate::handler::EngineHandler;
use crate::request::{EngineQuery, ProtocolVersion, RemoteAddr, RequestInfo, TransportKind};
use crate::{CloseReason, EngineConfig, RequestError, Socket, polling, websocket};

/// The body of every response the Engine.IO server sends.
pub type ResponseBody = Full<Bytes>;

/// The boxed error type request bodies may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An Engine.IO server as a tower [`Service`](tower_service::Service): mount it at its path in
/// axum or hyper, or run it with [`crate::serve`]. Cloning is cheap; all clones share sessions.
///
/// ```no_run
/// use sockeye_engineio::{EngineConfig, EngineHandler, EngineService, Message, Socket};
///
/// struct Echo;
/// impl EngineHandler for Echo {
///     fn on_message(&self, socket: &Socket, message: Message) {
///         let _ = socket.send(match message {
///             Message::Text(text) => sockeye_engineio::Frame::message(&text),
///             Message::Binary(data) => sockeye_engineio::Frame::Binary(data),
///         });
///     }
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let service = EngineService::new(EngineConfig::default().path("/engine.io/"), Echo);
/// let listener = sockeye_engineio::bind("127.0.0.1:3000".parse().unwrap()).await?;
/// sockeye_engineio::serve(listener, service, std::future::pending()).await
/// # }
/// ```
#[derive(Clone)]
pub struct EngineService {
    pub(crate) engine: Arc<Engine>,
}

impl EngineService {
    /// A server with this configuration, handing sessions to `handler`.
    pub fn new(config: EngineConfig, handler: impl EngineHandler) -> Self {
        Self::with_handler(config, Arc::new(handler))
    }

    /// Same as [`EngineService::new`] for a handler that is already shared.
    pub fn with_handler(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Self {
        EngineService {
            engine: Arc::new(Engine::new(config, handler)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.engine.config
    }

    /// Whether a request path belongs to this server.
    pub fn matches(&self, path: &str) -> bool {
        let prefix = &self.engine.config.path;
        path.starts_with(prefix.as_str()) || path == prefix.trim_end_matches('/')
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.engine.len()
    }

    /// Every open session.
    pub fn sockets(&self) -> Vec<Socket> {
        self.engine.sockets()
    }

    /// The open session with this id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.engine.get(sid).map(|shared| Socket { shared })
    }

    /// Closes every session with reason [`CloseReason::ServerShutdown`].
    pub fn close_all(&self) {
        self.engine.close_all(CloseReason::ServerShutdown);
    }

    /// Shuts down gracefully: new handshakes are refused (HTTP 503), every session is closed
    /// once its queued frames are written (polling clients get a close packet, WebSocket
    /// clients a close frame), and this returns when all are closed or `grace` has passed.
    /// Returns how many sessions were still open at the deadline.
    pub async fn shutdown(&self, grace: std::time::Duration) -> usize {
        self.engine.start_shutdown();
        let sockets = self.engine.sockets();
        self.engine.close_all(CloseReason::ServerShutdown);
        let all_closed = async {
            for socket in &sockets {
                socket.closed().await;
            }
        };
        let _ = tokio::time::timeout(grace, all_closed).await;
        self.engine.len()
    }

    /// Answers one request.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<ResponseBody>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let config = &self.engine.config;
        if !self.matches(request.uri().path()) {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        }
        // Only CORS needs the request's headers once the request is handed on.
        let request_headers = config.cors.as_ref().map(|_| request.headers().clone());
        let mut response = if request.method() == Method::OPTIONS && config.cors.is_some() {
            let mut response = plain(StatusCode::NO_CONTENT, "");
            if let (Some(cors), Some(headers)) = (&config.cors, &request_headers) {
                cors.apply_preflight(headers, response.headers_mut());
            }
            return response;
        } else {
            match self.route(request).await {
                Ok(response) => response,
                Err(error) => {
                    self.engine.metrics.refused(&error);
                    tracing::debug!(code = error.code(), %error, "request refused");
                    refuse(&error)
                }
            }
        };
        if let (Some(cors), Some(headers)) = (&config.cors, &request_headers) {
            if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                cors.apply(headers, response.headers_mut());
            }
        }
        response
    }

    async fn route<B>(&self, request: Request<B>) -> Result<Response<ResponseBody>, RequestError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let config = &self.engine.config;
        let query = EngineQuery::parse(request.uri());
        let transport = match query.transport.as_deref() {
            Some("polling") if config.transports.polling => TransportKind::Polling,
            Some("websocket") if config.transports.websocket => TransportKind::WebSocket,
            _ => return Err(RequestError::UnknownTransport),
        };
        // Refused before the handshake or the session lookup, so that the client learns why.
        if transport == TransportKind::Polling && query.jsonp.is_some() && !config.jsonp {
            return Err(RequestError::JsonpDisabled);
        }
        let upgrade = websocket::is_upgrade(&request);

        if let Some(sid) = query.sid.as_deref() {
            let shared = self.engine.get(sid).ok_or(RequestError::UnknownSid)?;
            let current = shared.lock().transport.unwrap_or(TransportKind::Polling);
            let socket = Socket { shared };
            let protocol = socket.protocol();
            return match (transport, upgrade) {
                // Like Node, a WebSocket that cannot take over (upgrades off, or the session
                // already upgraded) is accepted and then closed by the session.
                (TransportKind::WebSocket, true) => {
                    let target = websocket::Target::Upgrade(socket);
                    websocket::upgrade(self.engine.clone(), request, target, protocol)
                }
                (TransportKind::Polling, false) if current == TransportKind::Polling => {
                    // As in Node, whether a v3 client takes binary bodies is settled by the
                    // handshake's `b64`, which later requests do not repeat.
                    let b64 = query.b64
                        || (protocol == ProtocolVersion::V3
                            && EngineQuery::parse(socket.handshake().uri()).b64);
                    let encoding = polling::Encoding {
                        protocol,
                        jsonp: query.jsonp.as_deref().map(str::to_owned),
                        b64,
                        compress: Compress::negotiate(config.http_compression, request.headers()),
                    };
                    match *request.method() {
                        Method::GET => polling::get(&self.engine, &socket, &encoding).await,
                        Method::POST => {
                            polling::post(&self.engine, &socket, request, &encoding).await
                        }
                        _ => Err(RequestError::BadRequest),
                    }
                }
                _ => Err(RequestError::BadRequest),
            };
        }

        if request.method() != Method::GET {
            return Err(RequestError::BadHandshakeMethod);
        }
        if self.engine.is_shutting_down() {
            return Err(RequestError::ShuttingDown);
        }
        // Held until the session is registered; given back if the handshake fails below.
        let admission = self.engine.admit().ok_or(RequestError::TooManySessions)?;
        if transport == TransportKind::WebSocket && !upgrade {
            return Err(RequestError::BadRequest);
        }
        let remote_addr = request.extensions().get::<RemoteAddr>().map(|addr| addr.0);
        if let Some(allow) = &config.allow_request {
            let info = RequestInfo {
                headers: request.headers(),
                uri: request.uri(),
                remote_addr,
            };
            allow(&info).map_err(RequestError::Forbidden)?;
        }
        let protocol = match query.eio.as_deref() {
            Some("4") => ProtocolVersion::V4,
            Some("3") | None if config.allow_eio3 => ProtocolVersion::V3,
            Some("3") => {
                // The client only sees a failed poll or WebSocket: the server's log says why.
                if !self.engine.told_eio3.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "refused an Engine.IO v3 (Socket.IO 2.x) client: turn on allow_eio3 \
                         (sockeye serve --allow-eio3) to serve such clients; said once"
                    );
                }
                return Err(RequestError::UnsupportedProtocolVersion);
            }
            _ => return Err(RequestError::UnsupportedProtocolVersion),
        };
        match transport {
            TransportKind::Polling => {
                let encoding = polling::Encoding {
                    protocol,
                    jsonp: query.jsonp.as_deref().map(str::to_owned),
                    b64: query.b64,
                    // The open packet is small: never compressed.
                    compress: None,
                };
                Ok(polling::handshake(
                    &self.engine,
                    admission,
                    request,
                    &encoding,
                ))
            }
            TransportKind::WebSocket => {
                let target = websocket::Target::New(admission);
                websocket::upgrade(self.engine.clone(), request, target, protocol)
            }
            // Never chosen above: WebTransport comes over HTTP/3, not through this service.
            TransportKind::WebTransport => Err(RequestError::UnknownTransport),
        }
    }
}

impl fmt::Debug for EngineService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineService")
            .field("config", &self.engine.config)
            .field("sessions", &self.engine.len())
            .finish()
    }
}

impl<B> tower_service::Service<Request<B>> for EngineService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.handle(request).await) })
    }
}

/// The open packet of a new session, as the client expects it.
pub(crate) fn open_frame(engine: &Engine, sid: &str, transport: TransportKind) -> Frame {
    let config = &engine.config;
    let mut upgrades = Vec::new();
    if transport == TransportKind::Polling && config.allow_upgrades {
        if config.transports.websocket {
            upgrades.push("websocket".to_owned());
        }
        // Only while a WebTransport endpoint serves this engine (`serve_webtransport`).
        if engine.webtransport.load(Ordering::Relaxed) > 0 {
            upgrades.push("webtransport".to_owned());
        }
    }
    sockeye_engineio_proto::Packet::Open(sockeye_engineio_proto::OpenPacket {
        sid: sid.to_owned(),
        upgrades,
        ping_interval: millis(config.ping_interval),
        ping_timeout: millis(config.ping_timeout),
        max_payload: config.max_payload as u64,
    })
    .encode()
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn plain(status: StatusCode, body: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

pub(crate) fn refuse(error: &RequestError) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(error.body())));
    *response.status_mut() = error.status();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
