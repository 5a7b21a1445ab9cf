//! Helpers of the hostile-input, flood and backpressure tests (`hostile.rs`, `flood.rs`,
//! `backpressure.rs`):
//!
//! - [`SERIAL`]: the tests of one file run one at a time, so that the process's RSS measures
//!   one case (each test file is its own process);
//! - [`RssWatch`]: samples the process's resident memory (`VmRSS`) while a case runs;
//! - [`Hostile`]: an echo server that records why each socket disconnected;
//! - [`Bystanders`]: two well-behaved clients (WebSocket and polling) that keep exchanging
//!   events and acknowledgements, binary included, in the background and fail loudly when
//!   they stall;
//! - [`RawWs`]: a hand-written WebSocket client that can send what no library would (invalid
//!   UTF-8, huge frame headers, fragments);
//! - [`raw_http`]: an HTTP/1.1 request written byte by byte.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sockeye::{AckSender, DisconnectReason, Event, Io, IoBuilder, Socket};
use sockeye_testkit::{
    PacketType, Recorder, Records, TestClient, TestServer, Transport, WAIT, eventually,
    packet_args, recorder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Held by every test of a file for its whole run: RSS is a per-process figure.
pub static SERIAL: Mutex<()> = Mutex::const_new(());

pub const KIB: u64 = 1;
pub const MIB: u64 = 1024 * KIB;

// ---- memory ----

/// The process's resident set size in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("no /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("no VmRSS line")
}

/// Samples the RSS every few milliseconds from its creation: the baseline, the peak and now.
pub struct RssWatch {
    what: String,
    base: u64,
    peak: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RssWatch {
    pub fn start(what: &str) -> RssWatch {
        let base = rss_kib();
        let peak = Arc::new(AtomicU64::new(base));
        let sampled = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                sampled.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        RssWatch {
            what: what.to_owned(),
            base,
            peak,
            task,
        }
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn peak(&self) -> u64 {
        self.peak
            .fetch_max(rss_kib(), Ordering::Relaxed)
            .max(rss_kib())
    }

    /// Peak minus baseline, in KiB.
    pub fn growth(&self) -> u64 {
        self.peak().saturating_sub(self.base)
    }

    /// Prints the figures and checks that the peak is less than `bound` KiB above the
    /// baseline.
    pub fn assert_growth_below(&self, bound: u64) {
        let (peak, now) = (self.peak(), rss_kib());
        let growth = peak.saturating_sub(self.base);
        println!(
            "RSS [{}]: baseline {} KiB, peak {} KiB (+{} KiB), now {} KiB; bound +{} KiB",
            self.what, self.base, peak, growth, now, bound
        );
        assert!(
            growth < bound,
            "[{}] RSS grew by {growth} KiB (baseline {} KiB, peak {peak} KiB), bound {bound} KiB",
            self.what,
            self.base
        );
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---- the server ----

/// A server whose sockets answer `echo` with an acknowledgement carrying the same arguments
/// (binary included) and `shout` with a `heard` event, and record why they disconnect.
pub struct Hostile {
    pub server: TestServer,
    pub reasons: Records<(String, DisconnectReason)>,
    stash: Vec<(String, DisconnectReason)>,
}

/// The handlers of [`Hostile`], for tests that build their own server.
pub fn echo(io: &Io, reasons: Recorder<(String, DisconnectReason)>) {
    io.on_connection(move |socket: Socket| {
        let reasons = reasons.clone();
        async move {
            socket.on("echo", |event: Event, ack: AckSender| async move {
                let _ = ack.send_raw(event.args, event.attachments);
            });
            socket.on("shout", |socket: Socket, event: Event| async move {
                let _ = socket.emit_raw("heard", event.args, event.attachments);
            });
            socket.on_disconnect(move |socket: Socket, reason: DisconnectReason| {
                let reasons = reasons.clone();
                async move { reasons.record((socket.id().as_str().to_owned(), reason)) }
            });
        }
    });
}

impl Hostile {
    pub async fn start(builder: IoBuilder) -> Hostile {
        let io = builder.build();
        let (reasons, records) = recorder();
        echo(&io, reasons);
        Hostile {
            server: TestServer::start(io).await,
            reasons: records,
            stash: Vec::new(),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn io(&self) -> &Io {
        self.server.io()
    }

    /// The target of a polling request on session `sid`.
    pub fn polling_target(&self, sid: &str) -> String {
        format!(
            "{}?EIO=4&transport=polling&sid={sid}",
            self.io().config().engine.path
        )
    }

    /// A client on `transport` that has joined `/`, and its socket id.
    pub async fn client(&self, transport: Transport) -> (TestClient, String) {
        let mut client = TestClient::builder(&self.url())
            .transport(transport)
            .connect()
            .await;
        let id = client.connect_ns("/", None).await.expect("refused");
        (client, id)
    }

    /// Why socket `id` disconnected (waits for it; other records are kept for later).
    pub async fn reason_of(&mut self, id: &str) -> DisconnectReason {
        if let Some(at) = self.stash.iter().position(|(sid, _)| sid == id) {
            return self.stash.remove(at).1;
        }
        loop {
            let (sid, reason) = self.reasons.next().await;
            if sid == id {
                return reason;
            }
            self.stash.push((sid, reason));
        }
    }

    /// Waits until the engine session `sid` is gone from the registry.
    pub async fn gone(&self, sid: &str) {
        let engine = self.io().engine().clone();
        eventually(WAIT, || engine.socket(sid).is_none()).await;
    }

    /// Waits until exactly `n` sessions are open.
    pub async fn sessions_back_to(&self, n: usize, within: Duration) {
        let engine = self.io().engine().clone();
        let deadline = Instant::now() + within;
        while engine.session_count() != n {
            assert!(
                Instant::now() < deadline,
                "{} sessions open after {within:?}, expected {n}",
                engine.session_count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

// ---- well-behaved clients ----

/// A placeholder for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    json!({"_placeholder": true, "num": num})
}

/// One well-behaved client exchanging with the server in a loop; see [`Bystanders`].
struct Bystander {
    transport: Transport,
    rounds: Arc<AtomicU64>,
    task: JoinHandle<Result<u64, String>>,
}

/// Two well-behaved clients, one on WebSocket and one on polling, that keep doing round
/// trips with the server in the background: an `echo` with a binary argument and its
/// acknowledgement, then a `shout` and the `heard` event back, each checked.
pub struct Bystanders {
    clients: Vec<Bystander>,
    stop: Arc<AtomicBool>,
}

async fn exchange(
    url: String,
    transport: Transport,
    rounds: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    joined: tokio::sync::oneshot::Sender<()>,
) -> Result<u64, String> {
    let mut client = TestClient::builder(&url)
        .transport(transport)
        .connect()
        .await;
    client
        .connect_ns("/", None)
        .await
        .map_err(|e| format!("refused: {e}"))?;
    let _ = joined.send(());
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let blob = Bytes::from(n.to_le_bytes().to_vec());
        let id = client.emit_with_ack("/", "echo", json!([n, placeholder(0)]), vec![blob.clone()]);
        let (ack, _) = client
            .try_expect_wire(WAIT, |p| p.kind.is_ack() && p.id == Some(id))
            .await
            .map_err(|e| format!("{transport:?} round {n}: no acknowledgement: {e}"))?;
        if packet_args(&ack) != [json!(n), placeholder(0)] || ack.attachments != [blob] {
            return Err(format!(
                "{transport:?} round {n}: wrong acknowledgement {ack:?}"
            ));
        }
        client.emit("/", "shout", json!([n]), vec![]);
        let (heard, _) = client
            .try_expect_wire(WAIT, |p| {
                p.kind == PacketType::Event && p.event_name().as_deref() == Some("heard")
            })
            .await
            .map_err(|e| format!("{transport:?} round {n}: no event: {e}"))?;
        if packet_args(&heard) != [json!(n)] {
            return Err(format!("{transport:?} round {n}: wrong event {heard:?}"));
        }
        n += 1;
        rounds.store(n, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(n)
}

impl Bystanders {
    /// Starts both clients and waits until each has joined `/`.
    pub async fn start(url: &str) -> Bystanders {
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for transport in [Transport::WebSocket, Transport::Polling] {
            let rounds = Arc::new(AtomicU64::new(0));
            let (joined, has_joined) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(exchange(
                url.to_owned(),
                transport,
                rounds.clone(),
                stop.clone(),
                joined,
            ));
            sockeye_testkit::within(WAIT, has_joined)
                .await
                .expect("a bystander failed to join");
            clients.push(Bystander {
                transport,
                rounds,
                task,
            });
        }
        Bystanders { clients, stop }
    }

    /// How many sessions the bystanders hold.
    pub fn sessions(&self) -> usize {
        self.clients.len()
    }

    /// Checks that every client completes a few more round trips from now.
    pub async fn keep_going(&self) {
        for client in &self.clients {
            let from = client.rounds.load(Ordering::Relaxed);
            let deadline = Instant::now() + WAIT;
            while client.rounds.load(Ordering::Relaxed) < from + 3 {
                assert!(
                    !client.task.is_finished(),
                    "the {:?} bystander stopped",
                    client.transport
                );
                assert!(
                    Instant::now() < deadline,
                    "the {:?} bystander stalled at round {from}",
                    client.transport
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    /// Checks that they still work, stops them and checks that neither failed; returns the
    /// round trips each made.
    pub async fn finish(self) -> Vec<u64> {
        self.keep_going().await;
        self.stop.store(true, Ordering::Relaxed);
        let mut rounds = Vec::new();
        for client in self.clients {
            let outcome = sockeye_testkit::within(WAIT, client.task)
                .await
                .expect("a bystander panicked");
            match outcome {
                Ok(n) => rounds.push(n),
                Err(error) => panic!("a bystander failed: {error}"),
            }
        }
        rounds
    }
}

// ---- raw WebSocket ----

/// WebSocket opcodes.
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONTINUATION: u8 = 0x0;

/// A WebSocket client written by hand: it sends frames exactly as told.
pub struct RawWs {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// The Engine.IO session id from the open packet.
    pub sid: String,
}

impl RawWs {
    /// Opens `path?EIO=4&transport=websocket` and reads the open packet.
    pub async fn connect(addr: SocketAddr, path: &str) -> RawWs {
        match RawWs::try_connect(addr, path).await {
            Ok(ws) => ws,
            Err((status, body)) => panic!("WebSocket refused: {status} {body}"),
        }
    }

    /// Same as [`RawWs::connect`]; a refusal gives the status and body.
    pub async fn try_connect(addr: SocketAddr, path: &str) -> Result<RawWs, (u16, String)> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut ws = RawWs {
            stream,
            buffer: Vec::new(),
            sid: String::new(),
        };
        let head = ws.read_head().await;
        if !head.starts_with("HTTP/1.1 101") {
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while ws.buffer.len() < length {
                let mut chunk = [0u8; 4096];
                match sockeye_testkit::within(WAIT, ws.stream.read(&mut chunk)).await {
                    Ok(n) if n > 0 => ws.buffer.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            return Err((status, String::from_utf8_lossy(&ws.buffer).into_owned()));
        }
        let open = ws.expect_text(WAIT).await;
        let open: Value = serde_json::from_str(open.strip_prefix('0').expect("no open packet"))
            .expect("bad open packet");
        ws.sid = open["sid"].as_str().unwrap().to_owned();
        Ok(ws)
    }

    async fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 4);
                return head;
            }
            let mut chunk = [0u8; 4096];
            let n = sockeye_testkit::within(WAIT, self.stream.read(&mut chunk))
                .await
                .unwrap();
            assert!(n > 0, "connection closed during the handshake");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Writes one frame header (masked, as a client must) for a payload of `len` bytes.
    pub async fn send_header(&mut self, opcode: u8, fin: bool, len: u64) {
        let mut header = vec![if fin { 0x80 } else { 0 } | opcode];
        if len < 126 {
            header.push(0x80 | len as u8);
        } else if len <= u64::from(u16::MAX) {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
        header.extend_from_slice(&MASK);
        let _ = self.stream.write_all(&header).await;
    }

    /// Writes one whole frame; errors (the server having closed) are ignored.
    pub async fn send_frame(&mut self, opcode: u8, fin: bool, payload: &[u8]) {
        self.send_header(opcode, fin, payload.len() as u64).await;
        let masked: Vec<u8> = payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ MASK[i % 4])
            .collect();
        let _ = self.stream.write_all(&masked).await;
    }

    /// Writes a frame without the mask bit, which a server must refuse.
    pub async fn send_unmasked(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode, payload.len() as u8];
        frame.extend_from_slice(payload);
        let _ = self.stream.write_all(&frame).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(TEXT, true, text.as_bytes()).await;
    }

    /// Joins `/` and returns the socket id.
    pub async fn join(&mut self) -> String {
        self.send_text("40").await;
        let reply = self.expect_text(WAIT).await;
        let data: Value = serde_json::from_str(reply.strip_prefix("40").expect("no CONNECT"))
            .expect("bad CONNECT reply");
        data["sid"].as_str().unwrap().to_owned()
    }

    /// The next frame (opcode, payload), `None` once the connection is closed.
    async fn read_frame(&mut self, deadline: Instant) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buffer) {
                self.buffer.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("nothing received in time");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next text frame (pings from the server included).
    pub async fn expect_text(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_frame(deadline).await {
                Some((TEXT, payload)) => return String::from_utf8(payload).unwrap(),
                Some(_) => {}
                None => panic!("closed while waiting for a text frame"),
            }
        }
    }

    /// Answers the server's pings in the background and does nothing else; the task ends
    /// when the server closes the connection (within two minutes).
    pub fn answer_pings(mut self) -> JoinHandle<()> {
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                match self.read_frame(deadline).await {
                    None | Some((0x8, _)) => return,
                    Some((TEXT, payload)) if payload == b"2" => self.send_text("3").await,
                    Some(_) => {}
                }
            }
        })
    }

    /// Reads until the server closes (a close frame or the end of the stream); returns the
    /// text frames received meanwhile.
    pub async fn expect_closed(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut texts = Vec::new();
        loop {
            match self.read_frame(deadline).await {
                None | Some((0x8, _)) => return texts,
                Some((TEXT, payload)) => texts.push(String::from_utf8_lossy(&payload).into()),
                Some(_) => {}
            }
        }
    }
}

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Parses one unmasked server frame from the front of `buffer`: (opcode, payload) and the
/// bytes it took.
fn parse_frame(buffer: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    let (&first, &second) = (buffer.first()?, buffer.get(1)?);
    let opcode = first & 0x0f;
    let (len, mut at) = match second & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buffer.get(2)?, *buffer.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = buffer.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(bytes), 10)
        }
        n => (u64::from(n), 2),
    };
    if second & 0x80 != 0 {
        at += 4;
    }
    let end = at + usize::try_from(len).ok()?;
    let payload = buffer.get(at..end)?.to_vec();
    Some(((opcode, payload), end))
}

// ---- raw HTTP ----

/// Sends `head` (a request line and headers, without the blank line), then `chunk` `repeat`
/// times as fast as the server takes it, until all is written or the server stops reading;
/// returns the status of the response and how many body bytes were written by then.
pub async fn raw_http(addr: SocketAddr, head: &str, chunk: Bytes, repeat: usize) -> (u16, u64) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(format!("{head}\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let counted = written.clone();
    let feeder = tokio::spawn(async move {
        for _ in 0..repeat {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
            counted.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = writer.flush().await;
        // Keep the write side open until the response is read.
        tokio::time::sleep(WAIT).await;
    });
    let mut response = Vec::new();
    let status = loop {
        let mut buffer = [0u8; 4096];
        let n = sockeye_testkit::within(WAIT, reader.read(&mut buffer))
            .await
            .expect("no response");
        assert!(n > 0, "connection closed without a response");
        response.extend_from_slice(&buffer[..n]);
        if let Some(line_end) = response.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&response[..line_end]).into_owned();
            break line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {line}"));
        }
    };
    feeder.abort();
    (status, written.load(Ordering::Relaxed))
}

/// A chunk of a `Transfer-Encoding: chunked` body.
pub fn http_chunk(data: &[u8]) -> Bytes {
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    Bytes::from(chunk)
}

/// Starts a POST of `length` bytes with `Expect: 100-continue`, waits for the server's
/// `100 Continue` (it has started reading the body), writes the first `sent` bytes of the
/// body and returns the connection, still open, with the rest unsent.
pub async fn start_post(addr: SocketAddr, target: &str, length: usize, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 1024];
        let n = sockeye_testkit::within(WAIT, stream.read(&mut chunk))
            .await
            .unwrap();
        assert!(n > 0, "closed before 100 Continue");
        response.extend_from_slice(&chunk[..n]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 100"), "{response}");
    let mut body = vec![b'a'; sent];
    if let Some(first) = body.first_mut() {
        *first = b'4';
    }
    stream.write_all(&body).await.unwrap();
    stream
}
