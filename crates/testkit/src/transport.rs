//! The tasks that carry a [`crate::TestClient`]'s Engine.IO packets: one per WebSocket, two
//! (a GET loop and a POST loop) per polling session. They answer pings by themselves, so a test
//! that is busy elsewhere does not time out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Method;
use sockeye_engineio_proto::{Frame, OpenPacket, Packet, Str, payload};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::client::ConnectFailure;
use crate::http::{http_request, split_url};

/// What the transport tasks report.
#[derive(Debug)]
pub(crate) enum DriverEvent {
    /// An Engine.IO packet other than a ping.
    Packet(Packet),
    /// The server pinged (answered already when auto-pong is on).
    Ping(Instant),
    /// The transport is gone, and why.
    Closed(String),
}

/// What the client asks of its transport tasks.
#[derive(Debug)]
pub(crate) enum Command {
    /// Sends frames together, in order (one POST on polling).
    Send(Vec<Frame>),
    /// Closes the transport (a close frame on WebSocket, a close packet on polling).
    Close,
    /// Stops (true) or restarts (false) reading from the server.
    Pause(bool),
}

/// A running transport.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) open: OpenPacket,
    pub(crate) events: mpsc::UnboundedReceiver<DriverEvent>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

/// `url` with the Engine.IO query parameters added.
fn engine_url(url: &str, transport: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}EIO=4&transport={transport}")
}

fn open_of(packet: Packet) -> Result<OpenPacket, ConnectFailure> {
    match packet {
        Packet::Open(open) => Ok(open),
        other => Err(ConnectFailure::Other(format!(
            "expected an open packet, got {other:?}"
        ))),
    }
}

fn to_ws(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::text(text.as_str()),
        Frame::Binary(data) => Message::Binary(data),
    }
}

// ---- WebSocket ----

pub(crate) async fn websocket(
    url: &str,
    headers: &[(String, String)],
    auto_pong: Arc<AtomicBool>,
) -> Result<Driver, ConnectFailure> {
    let url = engine_url(url, "websocket").replacen("http://", "ws://", 1);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectFailure::Other(e.to_string()))?;
    for (name, value) in headers {
        let name = http::HeaderName::try_from(name.as_str())
            .map_err(|e| ConnectFailure::Other(e.to_string()))?;
        let value = http::HeaderValue::try_from(value.as_str())
            .map_err(|e| ConnectFailure::Other(e.to_string()))?;
        request.headers_mut().append(name, value);
    }
    let (mut ws, _) = match tokio_tungstenite::connect_async(request).await {
        Ok(connected) => connected,
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            return Err(ConnectFailure::Status(
                response.status(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        Err(error) => return Err(ConnectFailure::Other(error.to_string())),
    };
    let open = match tokio::time::timeout(crate::WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => {
            let packet = Packet::decode_str(Str::from(text.as_str().to_owned()))
                .map_err(|e| ConnectFailure::Other(e.to_string()))?;
            open_of(packet)?
        }
        other => {
            return Err(ConnectFailure::Other(format!("no open packet: {other:?}")));
        }
    };
    let (event_tx, events) = mpsc::unbounded_channel();
    let (commands, command_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_websocket(ws, event_tx, command_rx, auto_pong));
    Ok(Driver {
        open,
        events,
        commands,
        tasks: vec![task],
    })
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn run_websocket(
    mut ws: Ws,
    events: mpsc::UnboundedSender<DriverEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    auto_pong: Arc<AtomicBool>,
) {
    let mut paused = false;
    let reason = loop {
        tokio::select! {
            command = commands.recv() => match command {
                // The client was dropped: the connection goes away without a close frame.
                None => return,
                Some(Command::Send(frames)) => {
                    for frame in frames {
                        if let Err(error) = ws.feed(to_ws(frame)).await {
                            break_with(&events, format!("send failed: {error}"));
                            return;
                        }
                    }
                    if let Err(error) = ws.flush().await {
                        break_with(&events, format!("send failed: {error}"));
                        return;
                    }
                }
                Some(Command::Close) => {
                    let _ = ws.close(None).await;
                }
                Some(Command::Pause(pause)) => paused = pause,
            },
            message = ws.next(), if !paused => match message {
                None => break "connection closed".to_owned(),
                Some(Err(error)) => break format!("connection failed: {error}"),
                Some(Ok(Message::Text(text))) => {
                    match Packet::decode_str(Str::from(text.as_str().to_owned())) {
                        Ok(Packet::Ping(data)) => {
                            if auto_pong.load(Ordering::Relaxed) {
                                let pong = to_ws(Packet::Pong(data).encode());
                                if ws.send(pong).await.is_err() {
                                    break "pong failed".to_owned();
                                }
                            }
                            let _ = events.send(DriverEvent::Ping(Instant::now()));
                        }
                        Ok(packet) => {
                            let _ = events.send(DriverEvent::Packet(packet));
                        }
                        Err(error) => break format!("undecodable frame {text:?}: {error}"),
                    }
                }
                Some(Ok(Message::Binary(data))) => {
                    let _ = events.send(DriverEvent::Packet(Packet::Binary(data)));
                }
                Some(Ok(Message::Close(frame))) => {
                    tracing::trace!(?frame, "server closed the websocket");
                }
                Some(Ok(_)) => {}
            },
        }
    };
    break_with(&events, reason);
}

fn break_with(events: &mpsc::UnboundedSender<DriverEvent>, reason: String) {
    let _ = events.send(DriverEvent::Closed(reason));
}

// ---- polling ----

pub(crate) async fn polling(
    url: &str,
    headers: &[(String, String)],
    auto_pong: Arc<AtomicBool>,
) -> Result<Driver, ConnectFailure> {
    let (addr, target) = split_url(&engine_url(url, "polling")).map_err(ConnectFailure::Other)?;
    let headers = headers.to_vec();
    let response = http_request(addr, Method::GET, &target, &headers, Bytes::new())
        .await
        .map_err(ConnectFailure::Other)?;
    if !response.status.is_success() {
        return Err(ConnectFailure::Status(response.status, response.text()));
    }
    let mut packets = payload::decode(response.body, 16)
        .map_err(|e| ConnectFailure::Other(format!("bad handshake body: {e}")))?;
    let open = open_of(packets.remove(0))?;
    let target = format!("{target}&sid={}", open.sid);

    let (event_tx, events) = mpsc::unbounded_channel();
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (pause_tx, pause_rx) = watch::channel(false);
    let reader = tokio::spawn(poll_loop(
        addr,
        target.clone(),
        headers.clone(),
        event_tx.clone(),
        commands.clone(),
        pause_rx,
        auto_pong,
    ));
    let writer = tokio::spawn(post_loop(
        addr, target, headers, event_tx, command_rx, pause_tx,
    ));
    Ok(Driver {
        open,
        events,
        commands,
        tasks: vec![reader, writer],
    })
}

async fn poll_loop(
    addr: std::net::SocketAddr,
    target: String,
    headers: Vec<(String, String)>,
    events: mpsc::UnboundedSender<DriverEvent>,
    commands: mpsc::UnboundedSender<Command>,
    mut paused: watch::Receiver<bool>,
    auto_pong: Arc<AtomicBool>,
) {
    loop {
        if paused.wait_for(|paused| !paused).await.is_err() {
            return;
        }
        let response = match http_request(addr, Method::GET, &target, &headers, Bytes::new()).await
        {
            Ok(response) if response.status.is_success() => response,
            Ok(response) => {
                let reason = format!("poll refused: {} {}", response.status, response.text());
                return break_with(&events, reason);
            }
            Err(error) => return break_with(&events, format!("poll failed: {error}")),
        };
        let packets = match payload::decode(response.body, usize::MAX) {
            Ok(packets) => packets,
            Err(error) => return break_with(&events, format!("undecodable payload: {error}")),
        };
        for packet in packets {
            match packet {
                Packet::Ping(data) => {
                    if auto_pong.load(Ordering::Relaxed) {
                        let _ = commands.send(Command::Send(vec![Packet::Pong(data).encode()]));
                    }
                    let _ = events.send(DriverEvent::Ping(Instant::now()));
                }
                Packet::Close => return break_with(&events, "close packet".to_owned()),
                Packet::Noop => {}
                packet => {
                    let _ = events.send(DriverEvent::Packet(packet));
                }
            }
        }
    }
}

async fn post_loop(
    addr: std::net::SocketAddr,
    target: String,
    headers: Vec<(String, String)>,
    events: mpsc::UnboundedSender<DriverEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    pause: watch::Sender<bool>,
) {
    let mut stashed = None;
    loop {
        let command = match stashed.take() {
            Some(command) => command,
            None => match commands.recv().await {
                Some(command) => command,
                None => return,
            },
        };
        let mut frames = match command {
            Command::Send(frames) => frames,
            Command::Close => vec![Packet::Close.encode()],
            Command::Pause(paused) => {
                let _ = pause.send(paused);
                continue;
            }
        };
        // What else is waiting goes in the same body, as the JavaScript client batches it.
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Send(more) => frames.extend(more),
                other => {
                    stashed = Some(other);
                    break;
                }
            }
        }
        let body = payload::encode(&frames);
        match http_request(addr, Method::POST, &target, &headers, body).await {
            Ok(response) if response.status.is_success() => {}
            Ok(response) => {
                let reason = format!("post refused: {} {}", response.status, response.text());
                return break_with(&events, reason);
            }
            Err(error) => return break_with(&events, format!("post failed: {error}")),
        }
    }
}
