//! [`TestClient`]: a raw Socket.IO client for tests.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;
use sockeye_engineio_proto::{Frame, OpenPacket, Packet as EnginePacket};
use sockeye_socketio_proto::{Decoder, Packet, PacketType};
use tokio::time::Instant;

use crate::transport::{self, Command, Driver, DriverEvent};

/// The Engine.IO transport of a [`TestClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// A WebSocket from the start (`transport=websocket`), as most tests use.
    #[default]
    WebSocket,
    /// HTTP long-polling, without upgrade.
    Polling,
    /// WebTransport from the start, to the server's HTTP/3 endpoint at `addr` (UDP), trusting
    /// the certificate whose SHA-256 is `sha256`; the builder's URL gives the path and query.
    #[cfg(feature = "webtransport")]
    WebTransport {
        /// The endpoint's UDP address.
        addr: std::net::SocketAddr,
        /// The SHA-256 of its certificate.
        sha256: [u8; 32],
    },
}

/// Why a client could not open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// The server answered the handshake with this status and body.
    Status(StatusCode, String),
    /// Anything else (connection refused, bad handshake...).
    Other(String),
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectFailure::Status(status, body) => write!(f, "HTTP {status}: {body}"),
            ConnectFailure::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConnectFailure {}

/// Why nothing was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived in time.
    Timeout,
    /// The transport closed (with what the client saw).
    Closed(String),
    /// The server sent something that is not Socket.IO (the text, or an error).
    Protocol(String),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Timeout => f.write_str("timed out"),
            RecvError::Closed(reason) => write!(f, "closed: {reason}"),
            RecvError::Protocol(message) => write!(f, "protocol error: {message}"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Opens a [`TestClient`] with options: transport, extra headers.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    transport: Transport,
    headers: Vec<(String, String)>,
}

impl ClientBuilder {
    /// Uses HTTP long-polling.
    #[must_use]
    pub fn polling(mut self) -> Self {
        self.transport = Transport::Polling;
        self
    }

    /// Uses this transport.
    #[must_use]
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Adds a header to the handshake request (and, on polling, to every request).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Opens the session.
    ///
    /// # Errors
    /// When the handshake fails.
    pub async fn try_connect(self) -> Result<TestClient, ConnectFailure> {
        let auto_pong = Arc::new(AtomicBool::new(true));
        let driver = match self.transport {
            Transport::WebSocket => {
                transport::websocket(&self.url, &self.headers, auto_pong.clone()).await?
            }
            Transport::Polling => {
                transport::polling(&self.url, &self.headers, auto_pong.clone()).await?
            }
            #[cfg(feature = "webtransport")]
            Transport::WebTransport { addr, sha256 } => {
                let (_, target) =
                    crate::http::split_url(&self.url).map_err(ConnectFailure::Other)?;
                let separator = if target.contains('?') { '&' } else { '?' };
                let path = format!("{target}{separator}EIO=4&transport=webtransport");
                crate::webtransport::driver(addr, &path, sha256, auto_pong.clone()).await?
            }
        };
        Ok(TestClient {
            driver,
            transport: self.transport,
            auto_pong,
            decoder: Decoder::new(usize::MAX),
            pending: VecDeque::new(),
            pings: VecDeque::new(),
            closed: None,
            next_ack: 0,
        })
    }

    /// Opens the session.
    ///
    /// # Panics
    /// When the handshake fails.
    pub async fn connect(self) -> TestClient {
        let url = self.url.clone();
        match crate::within(crate::WAIT, self.try_connect()).await {
            Ok(client) => client,
            Err(error) => panic!("cannot connect to {url}: {error}"),
        }
    }
}

/// A packet as it arrived: decoded, and the text of its first Engine.IO message.
#[derive(Debug, Clone)]
struct Received {
    packet: Packet,
    text: String,
}

/// A raw Socket.IO client: it sends and receives packets, and leaves everything else (which
/// namespaces to join, when to acknowledge) to the test.
///
/// Packets that a wait skips (`expect_event` looking for another event, say) are kept, in
/// order, for the next receive. Engine.IO pings are answered automatically (see
/// [`TestClient::set_auto_pong`]). Dropping the client drops its connection without a close
/// frame, as a lost network would.
pub struct TestClient {
    driver: Driver,
    transport: Transport,
    auto_pong: Arc<AtomicBool>,
    decoder: Decoder,
    pending: VecDeque<Received>,
    pings: VecDeque<Instant>,
    closed: Option<String>,
    next_ack: u64,
}

impl TestClient {
    /// A builder, to choose the transport or add headers. `url` is the server's Socket.IO
    /// endpoint (`http://127.0.0.1:PORT/socket.io/`), optionally with a query of its own
    /// (`...?token=abc`); the Engine.IO parameters are added to it.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            transport: Transport::WebSocket,
            headers: Vec::new(),
        }
    }

    /// Opens a WebSocket session (`?EIO=4&transport=websocket`) and reads its open packet.
    ///
    /// # Panics
    /// When the handshake fails.
    pub async fn connect(url: &str) -> TestClient {
        TestClient::builder(url).connect().await
    }

    /// Opens an HTTP long-polling session.
    ///
    /// # Panics
    /// When the handshake fails.
    pub async fn connect_polling(url: &str) -> TestClient {
        TestClient::builder(url).polling().connect().await
    }

    /// The Engine.IO open packet (sid, ping interval and timeout...).
    pub fn open_packet(&self) -> &OpenPacket {
        &self.driver.open
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.driver.open.sid
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether pings are answered automatically (the default). Turn it off to let the server's
    /// ping timeout expire.
    pub fn set_auto_pong(&self, on: bool) {
        self.auto_pong.store(on, Ordering::Relaxed);
    }

    /// Stops reading from the server: its frames pile up in the network buffers and then in
    /// the server's outbox, as with a client that cannot keep up. Pings go unanswered.
    pub fn pause_reading(&self) {
        let _ = self.driver.commands.send(Command::Pause(true));
    }

    /// Reads from the server again after [`TestClient::pause_reading`].
    pub fn resume_reading(&self) {
        let _ = self.driver.commands.send(Command::Pause(false));
    }

    // ---- sending ----

    /// Sends Engine.IO frames as they are (one WebSocket message each; one POST on polling).
    pub fn send_frames(&self, frames: Vec<Frame>) {
        let _ = self.driver.commands.send(Command::Send(frames));
    }

    /// Sends one raw Engine.IO text frame, exactly as given: `"4"` followed by a Socket.IO
    /// packet is a message, so `send_text("42[\"hi\"]")` emits `hi` on `/`, and
    /// `send_text("4{oops")` sends a malformed Socket.IO packet.
    pub fn send_text(&self, text: &str) {
        self.send_frames(vec![Frame::Text(text.to_owned().into())]);
    }

    /// Sends one Engine.IO binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) {
        self.send_frames(vec![Frame::Binary(data.into())]);
    }

    /// Sends a Socket.IO packet: its text message, then one binary message per attachment.
    pub fn send_packet(&self, packet: &Packet) {
        let encoded = packet.encode();
        let mut frames = vec![Frame::message(&encoded.text)];
        frames.extend(encoded.attachments.into_iter().map(Frame::Binary));
        self.send_frames(frames);
    }

    /// Sends CONNECT for `nsp` without waiting for the answer.
    pub fn send_connect(&self, nsp: &str, auth: Option<Value>) {
        self.send_packet(&Packet::connect(nsp, auth));
    }

    /// Joins namespace `nsp`: sends CONNECT and waits for the answer. `Ok` holds the socket id
    /// the server gave, `Err` the CONNECT_ERROR payload (`{"message": ..., "data": ...}`).
    /// Other packets arriving meanwhile are kept for later.
    ///
    /// # Panics
    /// When no answer comes within [`crate::WAIT`].
    pub async fn connect_ns(&mut self, nsp: &str, auth: Option<Value>) -> Result<String, Value> {
        self.send_connect(nsp, auth);
        self.expect_connect_answer(nsp, crate::WAIT).await
    }

    /// Waits for the answer to a CONNECT sent with [`TestClient::send_connect`].
    ///
    /// # Panics
    /// When no answer comes in time.
    pub async fn expect_connect_answer(
        &mut self,
        nsp: &str,
        timeout: Duration,
    ) -> Result<String, Value> {
        let packet = self
            .expect_packet(timeout, |p| {
                p.nsp == nsp && matches!(p.kind, PacketType::Connect | PacketType::ConnectError)
            })
            .await;
        let data = packet.data.map_or(Value::Null, |data| data.to_value());
        match packet.kind {
            PacketType::Connect => Ok(data["sid"]
                .as_str()
                .unwrap_or_else(|| panic!("CONNECT reply without a sid: {data}"))
                .to_owned()),
            _ => Err(data),
        }
    }

    /// Emits `event` on `nsp`. `args` is the JSON array of arguments, binary ones as
    /// placeholders (`{"_placeholder":true,"num":0}`) into `attachments`.
    ///
    /// # Panics
    /// When `args` is not an array.
    pub fn emit(&self, nsp: &str, event: &str, args: Value, attachments: Vec<Bytes>) {
        self.send_packet(&event_packet(nsp, event, args, attachments, None));
    }

    /// Emits `event` asking for an acknowledgement; returns the ack id to wait for with
    /// [`TestClient::expect_ack`].
    ///
    /// # Panics
    /// When `args` is not an array.
    pub fn emit_with_ack(
        &mut self,
        nsp: &str,
        event: &str,
        args: Value,
        attachments: Vec<Bytes>,
    ) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_packet(&event_packet(nsp, event, args, attachments, Some(id)));
        id
    }

    /// Acknowledges the server's event `id` with `args` (a JSON array).
    ///
    /// # Panics
    /// When `args` is not an array.
    pub fn ack(&self, nsp: &str, id: u64, args: Value, attachments: Vec<Bytes>) {
        assert!(args.is_array(), "ack arguments must be an array: {args}");
        self.send_packet(&Packet::ack(nsp, id, args, attachments));
    }

    /// Leaves `nsp` (sends DISCONNECT).
    pub fn disconnect_ns(&self, nsp: &str) {
        self.send_packet(&Packet::disconnect(nsp));
    }

    /// Closes the transport cleanly: a WebSocket close frame, or a close packet on polling.
    pub fn close(&self) {
        let _ = self.driver.commands.send(Command::Close);
    }

    // ---- receiving ----

    /// Whether the transport has closed (as far as what was received tells).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The next Engine.IO event from the transport tasks, within `deadline`.
    async fn next_event(&mut self, deadline: Instant) -> Result<DriverEvent, RecvError> {
        if let Some(reason) = &self.closed {
            return Err(RecvError::Closed(reason.clone()));
        }
        match tokio::time::timeout_at(deadline, self.driver.events.recv()).await {
            Err(_) => Err(RecvError::Timeout),
            Ok(None) => {
                let reason = "transport task ended".to_owned();
                self.closed = Some(reason.clone());
                Err(RecvError::Closed(reason))
            }
            Ok(Some(DriverEvent::Closed(reason))) => {
                self.closed = Some(reason.clone());
                Err(RecvError::Closed(reason))
            }
            Ok(Some(event)) => Ok(event),
        }
    }

    /// Reads from the transport until a whole Socket.IO packet is in (pings are recorded).
    async fn read_packet(&mut self, deadline: Instant) -> Result<Received, RecvError> {
        loop {
            if let Some(received) = self.read_packet_or_ping(deadline).await? {
                return Ok(received);
            }
        }
    }

    /// Reads from the transport until a whole Socket.IO packet is in (`Some`) or a ping
    /// arrives (`None`, the ping being recorded).
    async fn read_packet_or_ping(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Received>, RecvError> {
        let mut text = None;
        loop {
            let decoded = match self.next_event(deadline).await? {
                DriverEvent::Ping(at) => {
                    self.pings.push_back(at);
                    return Ok(None);
                }
                DriverEvent::Closed(_) => unreachable!("handled by next_event"),
                DriverEvent::Packet(EnginePacket::Message(message)) => {
                    let decoded = self.decoder.feed_text(message.as_str());
                    text = Some(message.as_str().to_owned());
                    decoded
                }
                DriverEvent::Packet(EnginePacket::Binary(data)) => self.decoder.feed_binary(data),
                DriverEvent::Packet(other) => {
                    return Err(RecvError::Protocol(format!(
                        "unexpected Engine.IO packet {other:?}"
                    )));
                }
            };
            match decoded {
                Ok(Some(packet)) => {
                    return Ok(Some(Received {
                        packet,
                        text: text.unwrap_or_default(),
                    }));
                }
                Ok(None) => {}
                Err(error) => return Err(RecvError::Protocol(format!("{error} ({text:?})"))),
            }
        }
    }

    /// The next packet and the text of its first Engine.IO message (the exact wire text,
    /// without the Engine.IO `4` prefix), or why there is none.
    ///
    /// # Errors
    /// On timeout, when the transport closes, or on a packet the decoder refuses.
    pub async fn try_recv_wire(
        &mut self,
        timeout: Duration,
    ) -> Result<(Packet, String), RecvError> {
        if let Some(received) = self.pending.pop_front() {
            return Ok((received.packet, received.text));
        }
        let received = self.read_packet(Instant::now() + timeout).await?;
        Ok((received.packet, received.text))
    }

    /// The next packet, or why there is none.
    ///
    /// # Errors
    /// On timeout, when the transport closes, or on a packet the decoder refuses.
    pub async fn try_recv_packet(&mut self, timeout: Duration) -> Result<Packet, RecvError> {
        self.try_recv_wire(timeout).await.map(|(packet, _)| packet)
    }

    /// The next packet.
    ///
    /// # Panics
    /// When none arrives within `timeout`.
    pub async fn recv_packet(&mut self, timeout: Duration) -> Packet {
        match self.try_recv_packet(timeout).await {
            Ok(packet) => packet,
            Err(error) => panic!("no packet received: {error}"),
        }
    }

    /// The next packet and its wire text (see [`TestClient::try_recv_wire`]).
    ///
    /// # Panics
    /// When none arrives within `timeout`.
    pub async fn recv_wire(&mut self, timeout: Duration) -> (Packet, String) {
        match self.try_recv_wire(timeout).await {
            Ok(received) => received,
            Err(error) => panic!("no packet received: {error}"),
        }
    }

    /// The first packet (kept or arriving) that `matches`, with its wire text; the others stay
    /// queued, in order.
    ///
    /// # Errors
    /// On timeout or when the transport closes first.
    pub async fn try_expect_wire(
        &mut self,
        timeout: Duration,
        mut matches: impl FnMut(&Packet) -> bool,
    ) -> Result<(Packet, String), RecvError> {
        if let Some(at) = self.pending.iter().position(|r| matches(&r.packet)) {
            let received = self.pending.remove(at).expect("position is in range");
            return Ok((received.packet, received.text));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.read_packet(deadline).await?;
            if matches(&received.packet) {
                return Ok((received.packet, received.text));
            }
            self.pending.push_back(received);
        }
    }

    /// The first packet that `matches` (see [`TestClient::try_expect_wire`]).
    ///
    /// # Panics
    /// When none arrives within `timeout`.
    pub async fn expect_packet(
        &mut self,
        timeout: Duration,
        matches: impl FnMut(&Packet) -> bool,
    ) -> Packet {
        match self.try_expect_wire(timeout, matches).await {
            Ok((packet, _)) => packet,
            Err(error) => panic!(
                "expected packet not received: {error}; received meanwhile: {:?}",
                self.pending.iter().map(|r| &r.text).collect::<Vec<_>>()
            ),
        }
    }

    /// The first event `name` on `nsp` (EVENT or BINARY_EVENT); use
    /// [`Packet::args`] for its arguments.
    ///
    /// # Panics
    /// When it does not arrive within `timeout`.
    pub async fn expect_event(&mut self, nsp: &str, name: &str, timeout: Duration) -> Packet {
        self.expect_packet(timeout, |p| {
            p.nsp == nsp && p.event_name().as_deref() == Some(name)
        })
        .await
    }

    /// The acknowledgement of this client's event `id` on `nsp` (ACK or BINARY_ACK); its
    /// `data` is the array of arguments.
    ///
    /// # Panics
    /// When it does not arrive within `timeout`.
    pub async fn expect_ack(&mut self, nsp: &str, id: u64, timeout: Duration) -> Packet {
        self.expect_packet(timeout, |p| {
            p.nsp == nsp && p.kind.is_ack() && p.id == Some(id)
        })
        .await
    }

    /// The server's DISCONNECT for `nsp`.
    ///
    /// # Panics
    /// When it does not arrive within `timeout`.
    pub async fn expect_disconnect(&mut self, nsp: &str, timeout: Duration) {
        self.expect_packet(timeout, |p| {
            p.nsp == nsp && p.kind == PacketType::Disconnect
        })
        .await;
    }

    /// Checks that no Socket.IO packet at all arrives for `timeout` (nor is kept from before).
    ///
    /// # Panics
    /// When one does.
    pub async fn expect_no_event(&mut self, timeout: Duration) {
        if let Some(received) = self.pending.front() {
            panic!("unexpected packet: {}", received.text);
        }
        match self.read_packet(Instant::now() + timeout).await {
            Err(RecvError::Timeout) => {}
            Ok(received) => panic!("unexpected packet: {}", received.text),
            Err(error) => panic!("unexpected end while watching for packets: {error}"),
        }
    }

    /// Waits until the transport closes; packets arriving meanwhile are kept. Returns what the
    /// client saw.
    ///
    /// # Panics
    /// When it is still open after `timeout`.
    pub async fn expect_closed(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_packet(deadline).await {
                Ok(received) => self.pending.push_back(received),
                Err(RecvError::Closed(reason)) => return reason,
                Err(RecvError::Protocol(_)) => {}
                Err(RecvError::Timeout) => panic!("the connection is still open after {timeout:?}"),
            }
        }
    }

    /// The time the next server ping arrived (recorded while receiving anything).
    ///
    /// # Panics
    /// When none arrives within `timeout`.
    pub async fn expect_ping(&mut self, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.pings.pop_front() {
                return at;
            }
            match self.read_packet_or_ping(deadline).await {
                Ok(Some(received)) => self.pending.push_back(received),
                Ok(None) => {}
                Err(error) => panic!("no ping received: {error}"),
            }
        }
    }
}

impl fmt::Debug for TestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("sid", &self.driver.open.sid)
            .field("transport", &self.transport)
            .field("pending", &self.pending.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for task in &self.driver.tasks {
            task.abort();
        }
    }
}

fn event_packet(
    nsp: &str,
    event: &str,
    args: Value,
    attachments: Vec<Bytes>,
    id: Option<u64>,
) -> Packet {
    let Value::Array(args) = args else {
        panic!("event arguments must be an array: {args}");
    };
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::String(event.to_owned()));
    data.extend(args);
    let mut packet = Packet::event(nsp, Value::Array(data), attachments);
    packet.id = id;
    packet
}

/// The arguments of an event (after its name) or of an acknowledgement; empty for other
/// packets.
pub fn packet_args(packet: &Packet) -> Vec<Value> {
    packet
        .args()
        .map(|args| args.into_values())
        .unwrap_or_default()
}
