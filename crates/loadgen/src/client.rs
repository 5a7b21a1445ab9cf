//! A raw Socket.IO client: WebSocket and long-polling connections to the main namespace, with
//! just what the scenarios need (no reconnection, no buffering).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sockeye_engineio_proto::{Frame, Packet, Str, payload};
use tokio::io::{AsyncRead as _, AsyncWrite as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::deflate::{self, Deflate, DeflateCounts};

pub(crate) type Error = String;
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Where the server is.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// `host:port` as written in the URL, for the `Host` header.
    pub(crate) authority: String,
    /// The path, ending with `/`.
    pub(crate) path: String,
    /// Local addresses to spread client sockets over.
    pub(crate) sources: Vec<IpAddr>,
}

impl Target {
    pub(crate) async fn resolve(config: &crate::Config) -> Result<Target> {
        Self::resolve_url(config, &config.url).await
    }

    /// The server at `url` (one node of a cluster), with `config`'s source addresses.
    pub(crate) async fn resolve_url(config: &crate::Config, url: &str) -> Result<Target> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
        let host = uri.host().ok_or("the url has no host")?;
        let port = uri.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("no address for {host}"))?;
        let mut path = uri.path().to_owned();
        if path.is_empty() || path == "/" {
            path = "/socket.io/".to_owned();
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        let authority = uri
            .authority()
            .map_or_else(|| addr.to_string(), |a| a.to_string());
        Ok(Target {
            addr,
            authority,
            path,
            sources: config.source_addrs(addr.ip()),
        })
    }

    /// A TCP connection, from source address number `n` (round robin).
    pub(crate) async fn tcp(&self, n: usize) -> Result<TcpStream> {
        let socket = if self.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| format!("socket: {e}"))?;
        if !self.sources.is_empty() {
            let source = self.sources[n % self.sources.len()];
            socket
                .bind(SocketAddr::new(source, 0))
                .map_err(|e| format!("bind {source}: {e}"))?;
        }
        let stream = socket
            .connect(self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

pub(crate) type Ws = WebSocketStream<ScratchRead>;

/// A TCP stream read through one scratch buffer per thread: tungstenite zero-fills its whole
/// read buffer before every read, so its own buffer is kept small (see [`connect_ws`]) while the
/// socket is still read in large chunks; bytes the codec has not taken yet wait in `pending`.
/// With permessage-deflate agreed, every byte goes through [`Deflated`] instead.
pub(crate) struct ScratchRead {
    inner: TcpStream,
    pending: Vec<u8>,
    taken: usize,
    deflate: Option<Box<Deflated>>,
}

/// The extension's rewriting on one connection, and the bytes rewritten but not yet passed on.
struct Deflated {
    state: Deflate,
    read_buf: Vec<u8>,
    /// Rewritten server bytes for tungstenite (from `in_taken`).
    ready_in: Vec<u8>,
    in_taken: usize,
    /// Rewritten client bytes for the socket (from `out_sent`).
    ready_out: Vec<u8>,
    out_sent: usize,
}

/// Written bytes waiting for the socket beyond which writes wait.
const DEFLATE_OUT_MAX: usize = 256 * 1024;

fn invalid(error: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error)
}

impl Deflated {
    /// Writes what is ready to `inner`; `Ready` once all of it is written.
    fn drain(
        &mut self,
        inner: &mut TcpStream,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        while self.out_sent < self.ready_out.len() {
            let n = std::task::ready!(
                std::pin::Pin::new(&mut *inner).poll_write(cx, &self.ready_out[self.out_sent..])
            )?;
            if n == 0 {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.out_sent += n;
        }
        self.ready_out.clear();
        self.out_sent = 0;
        std::task::Poll::Ready(Ok(()))
    }
}

impl ScratchRead {
    /// A stream that, with `deflate`, rewrites every byte for permessage-deflate (from the
    /// handshake on: see [`crate::deflate`]).
    fn new(inner: TcpStream, deflate: Option<Deflate>) -> Self {
        ScratchRead {
            inner,
            pending: Vec::new(),
            taken: 0,
            deflate: deflate.map(|state| {
                Box::new(Deflated {
                    state,
                    read_buf: vec![0; 64 * 1024],
                    ready_in: Vec::new(),
                    in_taken: 0,
                    ready_out: Vec::new(),
                    out_sent: 0,
                })
            }),
        }
    }

    fn poll_read_deflated(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let Some(d) = self.deflate.as_deref_mut() else {
            return std::task::Poll::Ready(Ok(()));
        };
        while d.in_taken == d.ready_in.len() {
            d.ready_in.clear();
            d.in_taken = 0;
            let mut read = tokio::io::ReadBuf::new(&mut d.read_buf);
            std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return std::task::Poll::Ready(Ok(()));
            }
            let filled = read.filled().len();
            d.state
                .incoming(&d.read_buf[..filled], &mut d.ready_in)
                .map_err(invalid)?;
        }
        let n = buf.remaining().min(d.ready_in.len() - d.in_taken);
        buf.put_slice(&d.ready_in[d.in_taken..d.in_taken + n]);
        d.in_taken += n;
        std::task::Poll::Ready(Ok(()))
    }
}

const SCRATCH: usize = 256 * 1024;
/// Reads for which tungstenite offers at least this much go straight into its buffer.
const DIRECT_READ: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl tokio::io::AsyncRead for ScratchRead {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.deflate.is_some() {
            return this.poll_read_deflated(cx, buf);
        }
        if this.taken < this.pending.len() {
            let n = buf.remaining().min(this.pending.len() - this.taken);
            buf.put_slice(&this.pending[this.taken..this.taken + n]);
            this.taken += n;
            if this.taken == this.pending.len() {
                this.pending.clear();
                this.taken = 0;
            }
            return std::task::Poll::Ready(Ok(()));
        }
        // tungstenite offers this much only while it reads a large frame: straight into its
        // buffer, not through the scratch one (a copy of every byte of large messages).
        if buf.remaining() >= DIRECT_READ {
            return std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        SCRATCH_BUF.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < SCRATCH {
                scratch.resize(SCRATCH, 0);
            }
            let mut read = tokio::io::ReadBuf::new(&mut scratch[..]);
            std::task::ready!(std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let data = read.filled();
            let n = buf.remaining().min(data.len());
            buf.put_slice(&data[..n]);
            this.pending.extend_from_slice(&data[n..]);
            std::task::Poll::Ready(Ok(()))
        })
    }
}

impl tokio::io::AsyncWrite for ScratchRead {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let Some(d) = this.deflate.as_deref_mut() else {
            return std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        if d.ready_out.len() - d.out_sent >= DEFLATE_OUT_MAX {
            std::task::ready!(d.drain(&mut this.inner, cx))?;
        }
        d.state.outgoing(buf, &mut d.ready_out).map_err(invalid)?;
        // Written now if the socket takes it, else by the flush that follows.
        if let std::task::Poll::Ready(Err(e)) = d.drain(&mut this.inner, cx) {
            return std::task::Poll::Ready(Err(e));
        }
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some(d) = this.deflate.as_deref_mut() {
            std::task::ready!(d.drain(&mut this.inner, cx))?;
        }
        std::pin::Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What came in on a WebSocket, pings taken care of by the caller.
pub(crate) enum In {
    /// A Socket.IO packet's text (the Engine.IO `4` stripped).
    Text(Utf8Bytes),
    /// An attachment.
    Binary(Bytes),
    /// The server pinged: answer with [`pong`].
    Ping,
}

/// The next message, as an [`In`]. Cancel-safe (it only reads).
pub(crate) async fn recv(ws: &mut Ws) -> Result<In> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match text.as_bytes().first() {
                Some(b'4') => return Ok(In::Text(text)),
                Some(b'2') => return Ok(In::Ping),
                Some(b'1') => return Err("the server closed the session".to_owned()),
                _ => {}
            },
            Some(Ok(Message::Binary(data))) => return Ok(In::Binary(data)),
            Some(Ok(Message::Close(_))) | None => {
                return Err("the server closed the connection".to_owned());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("websocket: {e}")),
        }
    }
}

/// Reads every message that has already arrived (waiting for the first), handing each
/// Socket.IO packet's text (Engine.IO `4` included, as [`In::Text`]) to `on_text`; `true` when
/// it stopped at a ping, which the caller answers with [`pong`]. One wake-up thus serves a
/// burst of messages rather than one `select!` round each. Cancel-safe: what it took from the
/// socket has been handed over by the time it yields.
pub(crate) async fn recv_burst(ws: &mut Ws, on_text: &mut impl FnMut(&str)) -> Result<bool> {
    let mut seen = false;
    std::future::poll_fn(|cx| {
        loop {
            let message = match ws.poll_next_unpin(cx) {
                std::task::Poll::Pending if seen => return std::task::Poll::Ready(Ok(false)),
                std::task::Poll::Pending => return std::task::Poll::Pending,
                std::task::Poll::Ready(message) => message,
            };
            seen = true;
            let outcome = match message {
                Some(Ok(Message::Text(text))) => match text.as_bytes().first() {
                    Some(b'4') => {
                        on_text(&text);
                        continue;
                    }
                    Some(b'2') => Ok(true),
                    Some(b'1') => Err("the server closed the session".to_owned()),
                    _ => continue,
                },
                Some(Ok(Message::Close(_))) | None => {
                    Err("the server closed the connection".to_owned())
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => Err(format!("websocket: {e}")),
            };
            return std::task::Poll::Ready(outcome);
        }
    })
    .await
}

/// Answers a ping.
pub(crate) async fn pong(ws: &mut Ws) -> Result<()> {
    ws.send(Message::text("3"))
        .await
        .map_err(|e| format!("websocket send: {e}"))
}

pub(crate) async fn send_text(ws: &mut Ws, text: String) -> Result<()> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("websocket send: {e}"))
}

/// Opens a WebSocket session straight away (no polling first) and connects to namespace `/`.
/// `read_buffer` is tungstenite's own buffer, the most it takes from the scratch buffer at once.
/// With `deflate`, permessage-deflate is offered, must be accepted, and is counted there.
pub(crate) async fn connect_ws(
    target: &Target,
    n: usize,
    read_buffer: usize,
    deflate: Option<&Arc<DeflateCounts>>,
) -> Result<Ws> {
    let stream = ScratchRead::new(
        target.tcp(n).await?,
        deflate.map(|counts| Deflate::new(counts.clone())),
    );
    let url = format!(
        "ws://{}{}?EIO=4&transport=websocket",
        target.authority, target.path
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("request: {e}"))?;
    if deflate.is_some() {
        request.headers_mut().insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            http::HeaderValue::from_static(deflate::OFFER),
        );
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        // `send` flushes each frame at once; frames fed before it go out in the same write.
        .write_buffer_size(256 * 1024)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (mut ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| format!("websocket handshake: {e}"))?;
    if let Some(state) = ws.get_mut().deflate.as_deref_mut() {
        let answer = response.headers().get(header::SEC_WEBSOCKET_EXTENSIONS);
        let answer = answer.map(|v| v.to_str().unwrap_or("(not text)"));
        state.state.agree(deflate::accepted(answer)?);
    }
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.starts_with('0') => {}
        other => return Err(format!("expected an open packet, got {other:?}")),
    }
    send_text(&mut ws, "40".to_owned()).await?;
    loop {
        match recv(&mut ws).await? {
            In::Text(text) if text.starts_with("40") => return Ok(ws),
            In::Text(text) if text.starts_with("44") => {
                return Err(format!("connection refused: {text}"));
            }
            In::Ping => pong(&mut ws).await?,
            _ => {}
        }
    }
}

/// Emits `event` with one argument and an ack id, then waits for that ack (answering pings).
/// The ack's text after the id is returned.
pub(crate) async fn call(ws: &mut Ws, id: u64, event: &str, arg: &str) -> Result<Utf8Bytes> {
    call_text(ws, id, format!("42{id}[\"{event}\",{arg}]")).await
}

/// Sends an event's whole text (ack id `id`), then waits for that ack (answering pings).
pub(crate) async fn call_text(ws: &mut Ws, id: u64, text: String) -> Result<Utf8Bytes> {
    send_text(ws, text).await?;
    loop {
        match recv(ws).await? {
            In::Text(text) if ack_id(&text[1..]) == Some(id) => return Ok(text),
            In::Ping => pong(ws).await?,
            _ => {}
        }
    }
}

/// The ack id of a Socket.IO ACK (`3<id>...`) or BINARY_ACK (`6<n>-<id>...`) text (without
/// the Engine.IO `4`), main namespace.
pub(crate) fn ack_id(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let rest = match bytes.first()? {
        b'3' => &bytes[1..],
        b'6' => {
            let dash = bytes.iter().position(|&b| b == b'-')?;
            &bytes[dash + 1..]
        }
        _ => return None,
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Appends `n` in decimal (what `format!` would write, without its machinery: the load
/// generator builds a message per operation).
pub(crate) fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Writes `<prefix><id>["echo",{"n":<id>,"c":<client>,"msg":"..."}]` into `out` (cleared
/// first); returns the byte range of the argument, which the ack must carry back.
pub(crate) fn echo_text(
    out: &mut String,
    prefix: &str,
    id: u64,
    client: usize,
) -> std::ops::Range<usize> {
    echo_text_with(out, prefix, id, client, "hello from sockeye bench")
}

/// [`echo_text`] with `msg` (JSON string content, no escapes needed) as the message.
pub(crate) fn echo_text_with(
    out: &mut String,
    prefix: &str,
    id: u64,
    client: usize,
    msg: &str,
) -> std::ops::Range<usize> {
    out.clear();
    out.push_str(prefix);
    push_u64(out, id);
    out.push_str("[\"echo\",");
    let start = out.len();
    out.push_str("{\"n\":");
    push_u64(out, id);
    out.push_str(",\"c\":");
    push_u64(out, client as u64);
    out.push_str(",\"msg\":\"");
    out.push_str(msg);
    out.push_str("\"}");
    let end = out.len();
    out.push(']');
    start..end
}

/// The text after an ack's id: its arguments array.
pub(crate) fn ack_args(text: &str) -> &str {
    let start = text.find('[').unwrap_or(text.len());
    &text[start..]
}

// ---- long-polling ----

/// One HTTP/1.1 connection, kept alive.
struct HttpConn {
    sender: http1::SendRequest<Full<Bytes>>,
    /// Whether requests accept gzip (and responses are decoded).
    gzip: bool,
    /// Response body bytes as they came, and once decoded.
    wire: u64,
    decoded: u64,
}

impl HttpConn {
    async fn open(target: &Target, n: usize, gzip: bool) -> Result<HttpConn> {
        let stream = target.tcp(n).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(HttpConn {
            sender,
            gzip,
            wire: 0,
            decoded: 0,
        })
    }

    async fn request(
        &mut self,
        target: &Target,
        method: Method,
        query: &str,
        body: Bytes,
    ) -> Result<Bytes> {
        let uri = format!("{}?{query}", target.path);
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, target.authority.as_str());
        if !body.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "text/plain;charset=UTF-8");
        }
        if self.gzip {
            builder = builder.header(header::ACCEPT_ENCODING, "gzip, deflate");
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        self.sender
            .ready()
            .await
            .map_err(|e| format!("http: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("http: {e}"))?;
        let status = response.status();
        let coding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.as_bytes().to_ascii_lowercase());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("http body: {e}"))?
            .to_bytes();
        self.wire += body.len() as u64;
        let body = match coding.as_deref() {
            None => body,
            Some(b"gzip") => inflate(flate2::read::GzDecoder::new(&body[..]))?,
            Some(b"deflate") => inflate(flate2::read::ZlibDecoder::new(&body[..]))?,
            Some(other) => {
                return Err(format!(
                    "unknown content encoding {}",
                    String::from_utf8_lossy(other)
                ));
            }
        };
        self.decoded += body.len() as u64;
        if !status.is_success() {
            return Err(format!("http {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }
}

fn inflate(mut decoder: impl std::io::Read) -> Result<Bytes> {
    let mut out = Vec::new();
    decoder
        .read_to_end(&mut out)
        .map_err(|e| format!("compressed body: {e}"))?;
    Ok(Bytes::from(out))
}

/// A long-polling session: one connection for GETs, one for POSTs (as a browser would).
pub(crate) struct Polling {
    target: Target,
    query: String,
    get: HttpConn,
    post: HttpConn,
    /// Pings seen, to answer with the next POST.
    pongs: usize,
}

impl Polling {
    /// Handshakes over polling and connects to namespace `/`.
    pub(crate) async fn connect(target: &Target, n: usize, gzip: bool) -> Result<Polling> {
        let mut get = HttpConn::open(target, n, gzip).await?;
        let body = get
            .request(target, Method::GET, "EIO=4&transport=polling", Bytes::new())
            .await?;
        let packets = decode(body)?;
        let sid = match packets.first() {
            Some(Packet::Open(open)) => open.sid.clone(),
            other => return Err(format!("expected an open packet, got {other:?}")),
        };
        let post = HttpConn::open(target, n + 1, gzip).await?;
        let mut polling = Polling {
            target: target.clone(),
            query: format!("EIO=4&transport=polling&sid={sid}"),
            get,
            post,
            pongs: 0,
        };
        let body = polling.body(&[Frame::message("0")]);
        polling
            .post
            .request(&polling.target, Method::POST, &polling.query, body)
            .await?;
        loop {
            for text in polling.poll().await? {
                if text.starts_with('0') {
                    return Ok(polling);
                }
                if text.starts_with('4') {
                    return Err(format!("connection refused: {text}"));
                }
            }
        }
    }

    /// The POST body for `frames`, with any pongs owed first.
    fn body(&mut self, frames: &[Frame]) -> Bytes {
        let mut all = Vec::with_capacity(frames.len() + self.pongs);
        all.extend((0..self.pongs).map(|_| Packet::Pong(Str::default()).encode()));
        self.pongs = 0;
        all.extend_from_slice(frames);
        payload::encode(&all)
    }

    /// POSTs `frames` while a GET is pending, as a client with a poll always open does; the
    /// Socket.IO texts that GET brought.
    pub(crate) async fn exchange(&mut self, frames: &[Frame]) -> Result<Vec<Str>> {
        let body = self.body(frames);
        let Polling {
            target,
            query,
            get,
            post,
            pongs,
        } = self;
        let (got, posted) = tokio::join!(
            get.request(target, Method::GET, query, Bytes::new()),
            post.request(target, Method::POST, query, body),
        );
        posted?;
        texts(got?, pongs)
    }

    /// The bytes of the GET bodies on the wire, and decoded.
    pub(crate) fn get_bytes(&self) -> (u64, u64) {
        (self.get.wire, self.get.decoded)
    }

    /// One GET: the Socket.IO texts it carried.
    pub(crate) async fn poll(&mut self) -> Result<Vec<Str>> {
        let body = self
            .get
            .request(&self.target, Method::GET, &self.query, Bytes::new())
            .await?;
        texts(body, &mut self.pongs)
    }
}

/// The Socket.IO texts of a polling body; pings are counted in `pongs`.
fn texts(body: Bytes, pongs: &mut usize) -> Result<Vec<Str>> {
    let mut texts = Vec::new();
    for packet in decode(body)? {
        match packet {
            Packet::Message(text) => texts.push(text),
            Packet::Ping(_) => *pongs += 1,
            Packet::Close => return Err("the server closed the session".to_owned()),
            _ => {}
        }
    }
    Ok(texts)
}

fn decode(body: Bytes) -> Result<Vec<Packet>> {
    payload::decode(body, 100_000).map_err(|e| format!("bad polling payload: {e}"))
}

/// Runs `future` with a deadline.
pub(crate) async fn within<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result,
        Err(_) => Err(format!("{what}: no answer within {timeout:?}")),
    }
}

/// `GET <path>` on the server's address (a new connection each time): the status and body.
pub(crate) async fn get(target: &Target, path: &str) -> Result<(http::StatusCode, Bytes)> {
    let stream = target.tcp(0).await?;
    let (mut sender, connection) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| format!("http handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, target.authority.as_str())
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("request: {e}"))?;
    let result = async {
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
        Ok((status, body))
    }
    .await;
    driver.abort();
    result
}
