//! The transports: a [`Link`] carries Engine.IO packets over WebSocket or over HTTP
//! long-polling. A WebSocket is driven by the client's own task; polling keeps two small
//! tasks, one per pending request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use futures_util::{Sink, SinkExt, Stream as _, StreamExt};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sockeye_engineio_proto::{Frame, OpenPacket, Packet, Str, payload};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes, client::IntoClientRequest};

use crate::config::Config;

/// Most packets a polling response may hold; a peer sending more is broken.
const MAX_PAYLOAD_PACKETS: usize = 100_000;

/// A byte stream: TCP, or TLS over TCP.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Opens a connection to the server, with TLS for `https`/`wss`.
async fn connect_stream(config: &Config) -> Result<Box<dyn Stream>, String> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = &config.tls else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(config.host.clone()).map_err(|e| format!("tls name: {e}"))?;
    let stream = TlsConnector::from(Arc::clone(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    Ok(Box::new(stream))
}

/// Why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkEnd {
    /// The server closed it ("transport close").
    Closed,
    /// It failed ("transport error").
    Error(String),
}

/// What a link brings.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    Packet(Packet),
    End(LinkEnd),
}

/// A running transport, polled by the client's one task ([`Link::poll_next`]).
// Each client holds one link, so the size difference costs little; boxing the WebSocket
// would add an indirection to every packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Link {
    WebSocket(WsLink),
    Polling(PollingLink),
}

impl Link {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Link::WebSocket(_) => "websocket",
            Link::Polling(_) => "polling",
        }
    }

    /// Queues frames to send together (one POST on polling). A WebSocket writes them into
    /// its buffer at once; [`Link::poll_next`] flushes it.
    pub(crate) fn send(&mut self, frames: Vec<Frame>) {
        match self {
            Link::WebSocket(ws) => {
                for frame in frames {
                    ws.send(frame);
                }
            }
            Link::Polling(polling) => polling.send(frames),
        }
    }

    /// The next packet, or the end of the link; nothing is lost by a poll that is not
    /// followed by another.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<LinkEvent> {
        match self {
            Link::WebSocket(ws) => ws.poll_event(cx),
            Link::Polling(polling) => polling
                .incoming
                .poll_recv(cx)
                .map(|event| event.unwrap_or(LinkEvent::End(LinkEnd::Closed))),
        }
    }

    /// Closes the link the polite way: a close packet (polling) or a close frame (WebSocket).
    pub(crate) async fn close(self) {
        match self {
            Link::WebSocket(mut ws) => {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), SinkExt::close(&mut ws.ws)).await;
            }
            Link::Polling(mut polling) => {
                polling.send(vec![Packet::Close.encode()]);
                polling.outgoing = None;
                if let Some(writer) = polling.tasks.pop() {
                    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
                }
            }
        }
    }
}

/// A WebSocket, read and written by the task that owns it: tungstenite buffers what is
/// written, and [`WsLink::poll_event`] flushes before it reads, so neither waits for the other.
pub(crate) struct WsLink {
    ws: Ws,
    /// Written into tungstenite's buffer, not yet flushed to the socket.
    unflushed: bool,
    /// A write failed; the next poll reports it.
    failed: Option<LinkEnd>,
}

impl WsLink {
    fn new(ws: Ws) -> WsLink {
        WsLink {
            ws,
            unflushed: false,
            failed: None,
        }
    }

    fn send(&mut self, frame: Frame) {
        if self.failed.is_some() {
            return;
        }
        let message = match to_ws(frame) {
            Ok(message) => message,
            Err(error) => {
                self.failed = Some(LinkEnd::Error(error));
                return;
            }
        };
        // Buffered only: tungstenite writes to the socket past its write buffer size (128
        // KiB) or on flush, and keeps what a full socket refused for the next flush.
        match Pin::new(&mut self.ws).start_send(message) {
            Ok(()) => self.unflushed = true,
            Err(error) => self.failed = Some(ws_end(error)),
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<LinkEvent> {
        if let Some(end) = self.failed.take() {
            return Poll::Ready(LinkEvent::End(end));
        }
        if self.unflushed {
            // Pending means the socket is full: reading goes on, and the socket's write
            // readiness wakes the task to try again.
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(error)) => return Poll::Ready(LinkEvent::End(ws_end(error))),
                Poll::Pending => {}
            }
        }
        if !self.ws.get_ref().may_read(cx) {
            return Poll::Pending;
        }
        loop {
            let event = match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => LinkEvent::End(LinkEnd::Closed),
                Some(Err(error)) => LinkEvent::End(ws_end(error)),
                Some(Ok(message)) => match decode_ws(message) {
                    Some(Ok(packet)) => LinkEvent::Packet(packet),
                    Some(Err(error)) => LinkEvent::End(LinkEnd::Error(error)),
                    // WebSocket pings and pongs: tungstenite answers them itself.
                    None => continue,
                },
            };
            return Poll::Ready(event);
        }
    }
}

/// A polling session: one task keeps a GET pending, another POSTs what is sent, so that
/// neither request waits for the other.
pub(crate) struct PollingLink {
    incoming: mpsc::UnboundedReceiver<LinkEvent>,
    outgoing: Option<mpsc::UnboundedSender<Vec<Frame>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for PollingLink {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PollingLink {
    fn send(&mut self, frames: Vec<Frame>) {
        if let Some(outgoing) = &self.outgoing {
            let _ = outgoing.send(frames);
        }
    }

    /// Stops polling for an upgrade: the GET in flight ends (the server answers it with a
    /// noop once it has seen the probe), what it brought stays in `incoming`, and queued
    /// POSTs go out; then the tasks end. Waits at most `limit`.
    pub(crate) async fn pause(&mut self, limit: Duration) {
        let _ = self.stop.send(true);
        self.outgoing = None;
        let tasks = std::mem::take(&mut self.tasks);
        let all = futures_util::future::join_all(tasks);
        let _ = tokio::time::timeout(limit, all).await;
    }

    /// A packet the paused link still holds.
    pub(crate) fn try_next(&mut self) -> Option<Packet> {
        loop {
            match self.incoming.try_recv().ok()? {
                LinkEvent::Packet(packet) => return Some(packet),
                LinkEvent::End(_) => {}
            }
        }
    }
}

fn apply_headers(config: &Config, headers: &mut http::HeaderMap) {
    for (name, value) in &config.headers {
        headers.append(name.clone(), value.clone());
    }
}

// ---- WebSocket ----

type Ws = tokio_tungstenite::WebSocketStream<Gated>;

/// Woken by the byte stream when a read that found nothing may now find something.
#[derive(Default)]
struct ReadGate {
    woken: AtomicBool,
    /// The task to wake then.
    task: AtomicWaker,
}

impl Wake for ReadGate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// The byte stream under tungstenite, which remembers whether its last read found nothing
/// and whether the stream has woken it since. tungstenite zero-fills up to its whole read
/// buffer (4 KiB) before every read attempt; the client's task is woken about three times
/// per echo (the ack, the emit, the write), and only one of those wake-ups has anything to
/// read: [`Gated::may_read`] lets [`WsLink::poll_event`] skip the others.
struct Gated {
    inner: Box<dyn Stream>,
    gate: Arc<ReadGate>,
    /// Wakes `gate`; handed to the stream in place of the caller's waker.
    waker: Waker,
    /// The last read was pending, so the stream holds `waker` for its readiness.
    blocked: bool,
}

impl Gated {
    fn new(inner: Box<dyn Stream>) -> Gated {
        let gate = Arc::new(ReadGate::default());
        Gated {
            inner,
            waker: Waker::from(Arc::clone(&gate)),
            gate,
            blocked: false,
        }
    }

    /// False when a read would surely find nothing; then `cx` is woken when it may.
    fn may_read(&self, cx: &mut Context<'_>) -> bool {
        if !self.blocked || self.gate.woken.load(Ordering::Acquire) {
            return true;
        }
        self.gate.task.register(cx.waker());
        // A wake between the check and the registration went to the old waker.
        self.gate.woken.load(Ordering::Acquire)
    }
}

impl AsyncRead for Gated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.gate.task.register(cx.waker());
        this.gate.woken.store(false, Ordering::Release);
        let mut gated = Context::from_waker(&this.waker);
        let result = Pin::new(&mut this.inner).poll_read(&mut gated, buf);
        this.blocked = result.is_pending();
        result
    }
}

impl AsyncWrite for Gated {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn ws_connect(config: &Config, sid: Option<&str>) -> Result<Ws, String> {
    let scheme = if config.secure { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://{}{}",
        config.host_header(),
        config.target("websocket", sid)
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("websocket request: {e}"))?;
    apply_headers(config, request.headers_mut());
    let stream = Gated::new(connect_stream(config).await?);
    // tungstenite's default read buffer is 128 KiB, zero-filled before each read: that much
    // RSS per connection. 4 KiB holds a small message; larger ones grow it as needed.
    let ws_config = tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    match tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            Err(format!(
                "websocket refused: {} {}",
                response.status(),
                String::from_utf8_lossy(&body)
            ))
        }
        Err(error) => Err(format!("websocket: {error}")),
    }
}

/// How a WebSocket error ends the link. A connection that ends without a closing handshake
/// (EOF, reset) is closed, not failed: the browser's and `ws`'s WebSocket fire only `close`
/// (code 1006) then, which socket.io-client reports as "transport close"; `error`, and so
/// "transport error", is for a connection that could not work (a protocol violation).
fn ws_end(error: tungstenite::Error) -> LinkEnd {
    use std::io::ErrorKind;
    use tungstenite::error::ProtocolError;
    match &error {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            LinkEnd::Closed
        }
        tungstenite::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            ) =>
        {
            LinkEnd::Closed
        }
        _ => LinkEnd::Error(error.to_string()),
    }
}

fn decode_ws(message: Message) -> Option<Result<Packet, String>> {
    match message {
        // The text shares tungstenite's read buffer: no copy.
        Message::Text(text) => Some(
            Str::from_utf8(Bytes::from(text))
                .and_then(Packet::decode_str)
                .map_err(|e| format!("undecodable frame: {e}")),
        ),
        Message::Binary(data) => Some(Ok(Packet::Binary(data))),
        _ => None,
    }
}

fn to_ws(frame: Frame) -> Result<Message, String> {
    match frame {
        // A `Str` is UTF-8 already; the check is tungstenite's price for taking the bytes
        // without a copy.
        Frame::Text(text) => Utf8Bytes::try_from(text.into_bytes())
            .map(Message::Text)
            .map_err(|e| format!("text frame: {e}")),
        Frame::Binary(data) => Ok(Message::Binary(data)),
    }
}

/// Opens a WebSocket-only session: the first message is the handshake.
pub(crate) async fn websocket_open(config: &Config) -> Result<(OpenPacket, Link), String> {
    let mut ws = ws_connect(config, None).await?;
    let open = loop {
        match ws.next().await {
            Some(Ok(message)) => match decode_ws(message) {
                Some(Ok(Packet::Open(open))) => break open,
                Some(Ok(other)) => return Err(format!("expected an open packet, got {other:?}")),
                Some(Err(error)) => return Err(error),
                None => {}
            },
            Some(Err(error)) => return Err(format!("websocket: {error}")),
            None => return Err("websocket closed before the handshake".to_owned()),
        }
    };
    Ok((open, Link::WebSocket(WsLink::new(ws))))
}

/// Opens a WebSocket for session `sid` and probes it (`2probe` / `3probe`), for an upgrade.
pub(crate) async fn websocket_probe(config: &Config, sid: &str) -> Result<Link, String> {
    let mut ws = ws_connect(config, Some(sid)).await?;
    ws.send(to_ws(Packet::Ping(Str::from_static("probe")).encode())?)
        .await
        .map_err(|e| format!("probe: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(message)) => match decode_ws(message) {
                Some(Ok(Packet::Pong(data))) if data == "probe" => break,
                Some(Ok(other)) => return Err(format!("unexpected probe answer {other:?}")),
                Some(Err(error)) => return Err(error),
                None => {}
            },
            Some(Err(error)) => return Err(format!("probe: {error}")),
            None => return Err("websocket closed during the probe".to_owned()),
        }
    }
    Ok(Link::WebSocket(WsLink::new(ws)))
}

// ---- polling ----

/// One HTTP/1.1 connection, opened again when the server closed it.
struct HttpConn {
    config: Arc<Config>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl HttpConn {
    fn new(config: Arc<Config>) -> HttpConn {
        HttpConn {
            config,
            sender: None,
        }
    }

    async fn request(
        &mut self,
        method: Method,
        target: &str,
        body: Bytes,
    ) -> Result<Bytes, String> {
        let sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                let stream = connect_stream(&self.config).await?;
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| format!("http: {e}"))?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                sender
            }
        };
        let mut sender = sender;
        sender.ready().await.map_err(|e| format!("http: {e}"))?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(target)
            .header(header::HOST, self.config.host_header());
        if method == Method::POST {
            request = request.header(header::CONTENT_TYPE, "text/plain;charset=UTF-8");
        }
        let mut request = request
            .body(Full::new(body))
            .map_err(|e| format!("http request: {e}"))?;
        apply_headers(&self.config, request.headers_mut());
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("http: {e}"))?;
        let status = response.status();
        // Bounded, so that a server cannot make the client buffer without end.
        let body = http_body_util::Limited::new(response.into_body(), self.config.max_message_size)
            .collect()
            .await
            .map_err(|e| format!("http body: {e}"))?
            .to_bytes();
        self.sender = Some(sender);
        if !status.is_success() {
            return Err(format!(
                "{method} refused: {status} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}

/// Opens a polling session: the first GET answers with the handshake.
pub(crate) async fn polling_open(config: Arc<Config>) -> Result<(OpenPacket, Link), String> {
    let mut conn = HttpConn::new(Arc::clone(&config));
    let body = conn
        .request(Method::GET, &config.target("polling", None), Bytes::new())
        .await?;
    let mut packets =
        payload::decode(body, MAX_PAYLOAD_PACKETS).map_err(|e| format!("handshake: {e}"))?;
    let open = match packets.first() {
        Some(Packet::Open(_)) => match packets.remove(0) {
            Packet::Open(open) => open,
            _ => return Err("no open packet".to_owned()),
        },
        other => return Err(format!("expected an open packet, got {other:?}")),
    };
    let target = config.target("polling", Some(&open.sid));
    let (events, incoming) = mpsc::unbounded_channel();
    for packet in packets {
        let _ = events.send(LinkEvent::Packet(packet));
    }
    let (outgoing, frames) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let reader = tokio::spawn(poll_loop(conn, target.clone(), events.clone(), stopped));
    let writer = tokio::spawn(post_loop(
        HttpConn::new(Arc::clone(&config)),
        target,
        events,
        frames,
    ));
    Ok((
        open,
        Link::Polling(PollingLink {
            incoming,
            outgoing: Some(outgoing),
            stop,
            tasks: vec![reader, writer],
        }),
    ))
}

async fn poll_loop(
    mut conn: HttpConn,
    target: String,
    events: mpsc::UnboundedSender<LinkEvent>,
    stopped: watch::Receiver<bool>,
) {
    while !*stopped.borrow() {
        let body = match conn.request(Method::GET, &target, Bytes::new()).await {
            Ok(body) => body,
            Err(error) => {
                let _ = events.send(LinkEvent::End(LinkEnd::Error(error)));
                return;
            }
        };
        let packets = match payload::decode(body, MAX_PAYLOAD_PACKETS) {
            Ok(packets) => packets,
            Err(error) => {
                let end = LinkEnd::Error(format!("undecodable payload: {error}"));
                let _ = events.send(LinkEvent::End(end));
                return;
            }
        };
        for packet in packets {
            if packet == Packet::Close {
                let _ = events.send(LinkEvent::End(LinkEnd::Closed));
                return;
            }
            let _ = events.send(LinkEvent::Packet(packet));
        }
    }
}

async fn post_loop(
    mut conn: HttpConn,
    target: String,
    events: mpsc::UnboundedSender<LinkEvent>,
    mut frames: mpsc::UnboundedReceiver<Vec<Frame>>,
) {
    let close = vec![Packet::Close.encode()];
    let mut next = None;
    while let Some(mut batch) = match next.take() {
        Some(batch) => Some(batch),
        None => frames.recv().await,
    } {
        // What else is waiting goes in the same body, as the JavaScript client batches it;
        // but a close goes alone, after what came before it was sent (the JavaScript client
        // waits for its buffer to drain): a server may act on the close before the packets
        // that share its body (Node handles Socket.IO packets on the next tick), and a
        // DISCONNECT would read as "transport close".
        if batch != close {
            while let Ok(more) = frames.try_recv() {
                if more == close {
                    next = Some(more);
                    break;
                }
                batch.extend(more);
            }
        }
        if batch.is_empty() {
            continue;
        }
        let body = payload::encode(&batch);
        if let Err(error) = conn.request(Method::POST, &target, body).await {
            let _ = events.send(LinkEvent::End(LinkEnd::Error(error)));
            return;
        }
    }
}
