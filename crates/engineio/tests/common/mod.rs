//! Shared helpers of the integration tests: a server on a loopback port, a handler that
//! records what happens, and small HTTP / WebSocket clients.
//!
//! Every test starts its own server with [`start`] on `127.0.0.1:0`, in the test's runtime.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sockeye_engineio::{
    CloseReason, EngineConfig, EngineHandler, EngineService, Frame, Message, Sid, Socket,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The path every test server answers, as the JavaScript client uses it.
pub const PATH: &str = "/engine.io/";

/// How long a test waits for something that should happen. Generous: the tests must pass on
/// a loaded two-core machine; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// A WebSocket client connection.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The default configuration of the tests: Node's defaults, at [`PATH`].
pub fn config() -> EngineConfig {
    EngineConfig::default().path(PATH)
}

/// Something the recording handler saw.
#[derive(Debug)]
pub enum Event {
    Open(Socket),
    Message(Sid, Message),
    Close(Sid, CloseReason),
}

/// A handler that records opens, messages and closes, and optionally echoes messages back.
#[derive(Debug)]
pub struct Recorder {
    events: mpsc::UnboundedSender<Event>,
    echo: bool,
}

impl Recorder {
    pub fn new(echo: bool) -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (events, receiver) = mpsc::unbounded_channel();
        (Recorder { events, echo }, receiver)
    }
}

impl EngineHandler for Recorder {
    fn on_open(&self, socket: &Socket) {
        let _ = self.events.send(Event::Open(socket.clone()));
    }

    fn on_message(&self, socket: &Socket, message: Message) {
        if self.echo {
            let frame = match &message {
                Message::Text(text) => Frame::message(text),
                Message::Binary(data) => Frame::Binary(data.clone()),
            };
            socket.send(frame).expect("echo failed");
        }
        let _ = self.events.send(Event::Message(socket.id(), message));
    }

    fn on_close(&self, socket: &Socket, reason: CloseReason) {
        let _ = self.events.send(Event::Close(socket.id(), reason));
    }
}

/// A running test server. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub service: EngineService,
    pub events: mpsc::UnboundedReceiver<Event>,
    _shutdown: oneshot::Sender<()>,
}

/// Starts a server with an echoing, recording handler.
pub async fn start(config: EngineConfig) -> Server {
    start_with(config, true).await
}

/// Starts a server with a recording handler that echoes when `echo` is true.
pub async fn start_with(config: EngineConfig, echo: bool) -> Server {
    let (handler, events) = Recorder::new(echo);
    let service = EngineService::new(config, handler);
    let (addr, shutdown) = serve(service.clone()).await;
    Server {
        addr,
        service,
        events,
        _shutdown: shutdown,
    }
}

/// Serves `service` with [`sockeye_engineio::serve`] on a fresh loopback port; the server
/// stops when the returned sender is dropped.
pub async fn serve(service: EngineService) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = sockeye_engineio::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        sockeye_engineio::serve(listener, service, stop)
            .await
            .expect("serve");
    });
    (addr, shutdown)
}

impl Server {
    /// The next handler event; fails the test after [`WAIT`].
    pub async fn next_event(&mut self) -> Event {
        within(WAIT, self.events.recv())
            .await
            .expect("the handler's channel closed")
    }

    /// Waits for the next session to open.
    pub async fn expect_open(&mut self) -> Socket {
        match self.next_event().await {
            Event::Open(socket) => socket,
            other => panic!("expected an open, got {other:?}"),
        }
    }

    /// The next event, which must be a message of session `sid`.
    pub async fn expect_message(&mut self, sid: &str) -> Message {
        match self.next_event().await {
            Event::Message(from, message) if from.as_str() == sid => message,
            other => panic!("expected a message of {sid}, got {other:?}"),
        }
    }

    /// The next event, which must be a text message of session `sid`.
    pub async fn expect_text(&mut self, sid: &str) -> String {
        match self.expect_message(sid).await {
            Message::Text(text) => text.as_str().to_owned(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Skips events until session `sid` closes, and tells why.
    pub async fn expect_close(&mut self, sid: &str) -> CloseReason {
        loop {
            if let Event::Close(closed, reason) = self.next_event().await {
                if closed.as_str() == sid {
                    return reason;
                }
            }
        }
    }

    /// Asserts that the handler sees nothing for `duration`.
    pub async fn expect_quiet(&mut self, duration: Duration) {
        if let Ok(event) = tokio::time::timeout(duration, self.events.recv()).await {
            panic!("expected no event, got {event:?}");
        }
    }

    /// The live session `sid`.
    pub fn socket(&self, sid: &str) -> Socket {
        self.service.socket(sid).expect("no such session")
    }

    /// Opens a v4 polling session; returns its sid and the open packet's JSON.
    pub async fn handshake(&self) -> (String, serde_json::Value) {
        handshake(self.addr).await
    }

    /// Opens a v4 WebSocket session directly; returns the connection, sid and open JSON.
    pub async fn ws_handshake(&self) -> (Ws, String, serde_json::Value) {
        let mut ws = ws_connect(self.addr, "EIO=4&transport=websocket").await;
        let open = ws_text(&mut ws).await;
        let json = open_json(&open);
        let sid = json["sid"].as_str().unwrap().to_owned();
        (ws, sid, json)
    }

    /// GET on a session's polling transport (v4).
    pub async fn poll(&self, sid: &str) -> Response {
        get(self.addr, &poll_path(sid)).await
    }

    /// POST of a v4 payload on a session's polling transport.
    pub async fn post(&self, sid: &str, body: impl Into<Bytes>) -> Response {
        post(self.addr, &poll_path(sid), body).await
    }
}

/// Fails the test when `future` takes longer than `duration`.
pub async fn within<F: Future>(duration: Duration, future: F) -> F::Output {
    match tokio::time::timeout(duration, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {duration:?}"),
    }
}

/// `/engine.io/?EIO=4&transport=polling&sid=...`.
pub fn poll_path(sid: &str) -> String {
    format!("{PATH}?EIO=4&transport=polling&sid={sid}")
}

/// An HTTP response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The client's end of the connection that carried the request.
    pub local_addr: SocketAddr,
}

impl Response {
    /// The body as UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is not UTF-8")
    }

    /// A header's value as text ("" when missing).
    pub fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or("")
    }

    /// The body split into v4 packets.
    pub fn packets(&self) -> Vec<String> {
        split_payload(self.text())
    }

    /// Asserts a refusal with this status and exact JSON body.
    #[track_caller]
    pub fn assert_refused(&self, status: u16, body: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.text(), body);
        assert_eq!(self.header(header::CONTENT_TYPE), "application/json");
    }
}

/// Sends one request on a new connection and reads the whole response.
pub async fn send<B>(addr: SocketAddr, mut request: Request<B>) -> Response
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.expect("connect");
    let local_addr = stream.local_addr().unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    request.headers_mut().insert(
        header::HOST,
        header::HeaderValue::from_str(&addr.to_string()).unwrap(),
    );
    let response = sender.send_request(request).await.expect("request failed");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Response {
        status: parts.status,
        headers: parts.headers,
        body,
        local_addr,
    }
}

/// A request with a whole body.
pub fn request(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Full::new(body.into()))
        .unwrap()
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    send(addr, request(Method::GET, path, Bytes::new())).await
}

pub async fn post(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Response {
    let mut request = request(Method::POST, path, body);
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    send(addr, request).await
}

/// Opens a v4 polling session; returns its sid and the open packet's JSON.
pub async fn handshake(addr: SocketAddr) -> (String, serde_json::Value) {
    let response = get(addr, &format!("{PATH}?EIO=4&transport=polling")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = open_json(response.text());
    let sid = json["sid"].as_str().unwrap().to_owned();
    (sid, json)
}

/// The JSON of an open packet `0{...}`.
pub fn open_json(packet: &str) -> serde_json::Value {
    let data = packet
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("not an open packet: {packet:?}"));
    serde_json::from_str(data).expect("open packet JSON")
}

/// Splits a v4 polling payload into its packets.
pub fn split_payload(body: &str) -> Vec<String> {
    body.split('\u{1e}').map(str::to_owned).collect()
}

/// Opens a WebSocket to the server with this query.
pub async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let url = format!("ws://{addr}{PATH}?{query}");
    let (ws, response) = within(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("websocket connect");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

/// Tries to open a WebSocket and returns the HTTP refusal.
pub async fn ws_refused(addr: SocketAddr, query: &str) -> (StatusCode, String) {
    let url = format!("ws://{addr}{PATH}?{query}");
    match within(WAIT, tokio_tungstenite::connect_async(url)).await {
        Ok(_) => panic!("the websocket was accepted"),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status();
            let body = response
                .into_body()
                .map(|body| String::from_utf8(body).unwrap())
                .unwrap_or_default();
            (status, body)
        }
        Err(error) => panic!("unexpected error: {error}"),
    }
}

/// The next data message (text or binary), skipping control frames; `None` once the
/// connection has closed. Fails the test after [`WAIT`].
pub async fn ws_next(ws: &mut Ws) -> Option<tungstenite::Message> {
    use futures_util::StreamExt;
    loop {
        match within(WAIT, ws.next()).await {
            Some(Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_))) => {}
            Some(Ok(tungstenite::Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(message)) => return Some(message),
        }
    }
}

/// The next text message.
pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(tungstenite::Message::Text(text)) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Sends a text message.
pub async fn ws_send(ws: &mut Ws, text: &str) {
    use futures_util::SinkExt;
    ws.send(tungstenite::Message::text(text))
        .await
        .expect("websocket send");
}

/// Sends a binary message.
pub async fn ws_send_binary(ws: &mut Ws, data: impl Into<Bytes>) {
    use futures_util::SinkExt;
    ws.send(tungstenite::Message::Binary(data.into()))
        .await
        .expect("websocket send");
}

/// Waits until the server ends the connection (close frame, reset or end of stream),
/// skipping data; returns the data messages read meanwhile.
pub async fn ws_until_closed(ws: &mut Ws) -> Vec<tungstenite::Message> {
    let mut seen = Vec::new();
    while let Some(message) = ws_next(ws).await {
        seen.push(message);
    }
    seen
}

/// Polls `condition` every few milliseconds until it holds; fails after [`WAIT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A body sent in chunks with no `Content-Length`, to test limits on streamed bodies.
pub fn chunked(
    chunks: Vec<Bytes>,
) -> http_body_util::StreamBody<
    impl futures_util::Stream<Item = Result<hyper::body::Frame<Bytes>, Infallible>>,
> {
    http_body_util::StreamBody::new(futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| Ok(hyper::body::Frame::data(chunk))),
    ))
}

/// A client WebSocket at rest: only its socket (wrap it in a `WebSocketStream` to use it).
pub type RawWs = MaybeTlsStream<TcpStream>;

/// Opens a WebSocket session with a handshake of its own and reads the open packet: the
/// client's handshake of `tokio-tungstenite` leaves allocations behind that tests counting
/// the server's would count.
pub async fn open_raw_ws(addr: SocketAddr) -> RawWs {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // A byte at a time, so as not to read past the response.
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(within(WAIT, stream.read_u8()).await.expect("response"));
    }
    assert!(response.starts_with(b"HTTP/1.1 101 "), "refused");
    let mut ws = WebSocketStream::from_raw_socket(
        MaybeTlsStream::Plain(stream),
        tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    open_json(&ws_text(&mut ws).await);
    // Nothing else is on its way until the server's first ping.
    ws.into_inner()
}
