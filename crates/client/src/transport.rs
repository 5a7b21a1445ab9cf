//! The transports: a [`Link`] carries Engine.IO packets over WebSocket or over HTTP
//! long-polling, with tasks of its own so that reading never waits for writing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use sockeye_engineio_proto::{Frame, OpenPacket, Packet, Str, payload};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

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

/// What a link's tasks report.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    Packet(Packet),
    End(LinkEnd),
}

/// A running transport. Dropping it stops its tasks.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) name: &'static str,
    pub(crate) incoming: mpsc::UnboundedReceiver<LinkEvent>,
    pub(crate) outgoing: Option<mpsc::UnboundedSender<Vec<Frame>>>,
    stop_polling: Option<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Link {
    /// Queues frames to send together (one POST on polling). False when the link is gone.
    pub(crate) fn send(&self, frames: Vec<Frame>) -> bool {
        self.outgoing
            .as_ref()
            .is_some_and(|outgoing| outgoing.send(frames).is_ok())
    }

    /// Stops a polling link for an upgrade: the GET in flight ends (the server answers it
    /// with a noop once it has seen the probe), what it brought is still delivered, and queued
    /// POSTs go out; then the tasks end. Waits at most `limit`.
    pub(crate) async fn pause(&mut self, limit: Duration) {
        if let Some(stop) = &self.stop_polling {
            let _ = stop.send(true);
        }
        self.outgoing = None;
        let tasks = std::mem::take(&mut self.tasks);
        let all = futures_util::future::join_all(tasks);
        let _ = tokio::time::timeout(limit, all).await;
    }

    /// Closes the link the polite way: a close packet (polling) or a close frame (WebSocket).
    pub(crate) async fn close(mut self) {
        if self.name == "polling" {
            self.send(vec![Packet::Close.encode()]);
        }
        self.outgoing = None;
        if let Some(writer) = self.tasks.pop() {
            let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        }
    }
}

fn apply_headers(config: &Config, headers: &mut http::HeaderMap) {
    for (name, value) in &config.headers {
        headers.append(name.clone(), value.clone());
    }
}

// ---- WebSocket ----

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn Stream>>;

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
    let stream = connect_stream(config).await?;
    // tungstenite's default read buffer is 128 KiB, zero-filled before each read: that much
    // RSS per connection. 4 KiB holds a small message; larger ones grow it as needed.
    let ws_config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
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

fn decode_ws(message: Message) -> Option<Result<Packet, String>> {
    match message {
        Message::Text(text) => Some(
            Packet::decode_str(Str::from(text.as_str().to_owned()))
                .map_err(|e| format!("undecodable frame: {e}")),
        ),
        Message::Binary(data) => Some(Ok(Packet::Binary(data))),
        _ => None,
    }
}

fn to_ws(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::text(text.as_str()),
        Frame::Binary(data) => Message::Binary(data),
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
    Ok((open, ws_link(ws)))
}

/// Opens a WebSocket for session `sid` and probes it (`2probe` / `3probe`), for an upgrade.
pub(crate) async fn websocket_probe(config: &Config, sid: &str) -> Result<Link, String> {
    let mut ws = ws_connect(config, Some(sid)).await?;
    ws.send(to_ws(Packet::Ping(Str::from_static("probe")).encode()))
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
    Ok(ws_link(ws))
}

fn ws_link(ws: Ws) -> Link {
    let (mut sink, mut stream) = ws.split();
    let (events, incoming) = mpsc::unbounded_channel();
    let (outgoing, mut frames) = mpsc::unbounded_channel::<Vec<Frame>>();
    let reader_events = events.clone();
    let reader = tokio::spawn(async move {
        let end = loop {
            match stream.next().await {
                None => break LinkEnd::Closed,
                Some(Err(error)) => break LinkEnd::Error(error.to_string()),
                Some(Ok(Message::Close(_))) => break LinkEnd::Closed,
                Some(Ok(message)) => match decode_ws(message) {
                    Some(Ok(packet)) => {
                        let _ = reader_events.send(LinkEvent::Packet(packet));
                    }
                    Some(Err(error)) => break LinkEnd::Error(error),
                    None => {}
                },
            }
        };
        let _ = reader_events.send(LinkEvent::End(end));
    });
    let writer = tokio::spawn(async move {
        while let Some(batch) = frames.recv().await {
            for frame in batch {
                if let Err(error) = sink.feed(to_ws(frame)).await {
                    let _ = events.send(LinkEvent::End(LinkEnd::Error(error.to_string())));
                    return;
                }
            }
            if let Err(error) = sink.flush().await {
                let _ = events.send(LinkEvent::End(LinkEnd::Error(error.to_string())));
                return;
            }
        }
        let _ = sink.close().await;
    });
    Link {
        name: "websocket",
        incoming,
        outgoing: Some(outgoing),
        stop_polling: None,
        tasks: vec![reader, writer],
    }
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
        let body = response
            .into_body()
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
        Link {
            name: "polling",
            incoming,
            outgoing: Some(outgoing),
            stop_polling: Some(stop),
            tasks: vec![reader, writer],
        },
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
    while let Some(mut batch) = frames.recv().await {
        // What else is waiting goes in the same body, as the JavaScript client batches it.
        while let Ok(more) = frames.try_recv() {
            batch.extend(more);
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
