//! A WebTransport client for tests (feature `webtransport`): [`WtClient`] sends and receives
//! Engine.IO frames on the one stream of a session, raw bytes included; it also carries a
//! [`crate::TestClient`] on [`crate::Transport::WebTransport`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use sockeye_engineio_proto::{Frame, Packet, stream};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream, SendStream};

use crate::client::ConnectFailure;
use crate::transport::{Command, Driver, DriverEvent};

/// One WebTransport session and its bidirectional stream, frame by frame.
#[derive(Debug)]
pub struct WtClient {
    connection: Connection,
    send: SendStream,
    recv: RecvStream,
    read: BytesMut,
    decoder: stream::Decoder,
}

impl WtClient {
    /// Opens a session at `https://{addr}{path}` (`path` with its query), trusting only the
    /// certificate whose SHA-256 is `sha256` as a browser does with `serverCertificateHashes`,
    /// and opens the stream. Nothing is sent yet.
    ///
    /// # Errors
    /// When the session or the stream cannot be opened (the server refused it, say).
    pub async fn connect(
        addr: SocketAddr,
        path: &str,
        sha256: [u8; 32],
    ) -> Result<WtClient, ConnectFailure> {
        let failed = |error: &dyn std::fmt::Display| ConnectFailure::Other(error.to_string());
        let config = ClientConfig::builder()
            .with_bind_default()
            .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(sha256)])
            .build();
        let endpoint = Endpoint::client(config).map_err(|e| failed(&e))?;
        let url = format!("https://{addr}{path}");
        let connection = endpoint.connect(&url).await.map_err(|e| failed(&e))?;
        let opening = connection.open_bi().await.map_err(|e| failed(&e))?;
        let (send, recv) = opening.await.map_err(|e| failed(&e))?;
        Ok(WtClient {
            connection,
            send,
            recv,
            read: BytesMut::new(),
            decoder: stream::Decoder::new(usize::MAX),
        })
    }

    /// Sends frames in the stream framing.
    ///
    /// # Errors
    /// When the stream is closed.
    pub async fn send_frames(&mut self, frames: &[Frame]) -> Result<(), String> {
        let mut wire = BytesMut::new();
        for frame in frames {
            stream::encode_into(frame, &mut wire);
        }
        self.send_raw(&wire).await
    }

    /// Sends a text packet (`"4hello"`, `"2probe"`).
    ///
    /// # Errors
    /// When the stream is closed.
    pub async fn send_text(&mut self, text: &str) -> Result<(), String> {
        let frame = Frame::Text(sockeye_engineio_proto::Str::from(text.to_owned()));
        self.send_frames(&[frame]).await
    }

    /// Sends bytes as they are, framing or not.
    ///
    /// # Errors
    /// When the stream is closed.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.send.write_all(bytes).await.map_err(|e| e.to_string())
    }

    /// The next frame from the server; `None` once the stream or the session is closed.
    ///
    /// # Panics
    /// When the server sends bytes that are not frames.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.decoder.decode(&mut self.read) {
                Ok(Some(frame)) => return Some(frame),
                Ok(None) => {}
                Err(error) => panic!("the server sent a bad frame: {error}"),
            }
            self.read.reserve(8 * 1024);
            match self.recv.read_buf(&mut self.read).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next frame as text.
    ///
    /// # Panics
    /// When it is not a text frame or the stream closed.
    pub async fn next_text(&mut self) -> String {
        match self.next_frame().await {
            Some(Frame::Text(text)) => text.as_str().to_owned(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Waits until the server closes the session, and returns the frames it sent meanwhile.
    pub async fn until_closed(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_frame().await {
            frames.push(frame);
        }
        frames
    }

    /// Closes the session (as a browser's `WebTransport.close()` does).
    pub fn close(&self) {
        self.connection.close(wtransport::VarInt::from_u32(0), b"");
    }
}

/// The driver of a [`crate::TestClient`] on WebTransport: opens a new session with a bare
/// open packet and reads the server's open packet.
pub(crate) async fn driver(
    addr: SocketAddr,
    path: &str,
    sha256: [u8; 32],
    auto_pong: Arc<AtomicBool>,
) -> Result<Driver, ConnectFailure> {
    let mut client = WtClient::connect(addr, path, sha256).await?;
    client.send_text("0").await.map_err(ConnectFailure::Other)?;
    let open = match tokio::time::timeout(crate::WAIT, client.next_frame()).await {
        Ok(Some(frame)) => match Packet::decode(frame) {
            Ok(Packet::Open(open)) => open,
            other => return Err(ConnectFailure::Other(format!("no open packet: {other:?}"))),
        },
        other => return Err(ConnectFailure::Other(format!("no open packet: {other:?}"))),
    };
    let (event_tx, events) = mpsc::unbounded_channel();
    let (commands, command_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(client, event_tx, command_rx, auto_pong));
    Ok(Driver {
        open,
        events,
        commands,
        tasks: vec![task],
    })
}

async fn run(
    mut client: WtClient,
    events: mpsc::UnboundedSender<DriverEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    auto_pong: Arc<AtomicBool>,
) {
    let mut paused = false;
    let reason = loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Send(frames)) => {
                    if let Err(error) = client.send_frames(&frames).await {
                        break format!("send failed: {error}");
                    }
                }
                Some(Command::Close) => client.close(),
                Some(Command::Pause(pause)) => paused = pause,
            },
            frame = client.next_frame(), if !paused => match frame.map(Packet::decode) {
                None => break "connection closed".to_owned(),
                Some(Ok(Packet::Ping(data))) => {
                    if auto_pong.load(Ordering::Relaxed) {
                        let pong = Packet::Pong(data).encode();
                        if client.send_frames(&[pong]).await.is_err() {
                            break "pong failed".to_owned();
                        }
                    }
                    let _ = events.send(DriverEvent::Ping(Instant::now()));
                }
                Some(Ok(packet)) => {
                    let _ = events.send(DriverEvent::Packet(packet));
                }
                Some(Err(error)) => break format!("undecodable frame: {error}"),
            },
        }
    };
    let _ = events.send(DriverEvent::Closed(reason));
}

/// A WebTransport endpoint on a loopback UDP port for a server's engine, with a fresh
/// self-signed certificate; it stops accepting when dropped.
#[derive(Debug)]
pub struct WtEndpoint {
    /// Its UDP address.
    pub addr: SocketAddr,
    /// The SHA-256 of its certificate.
    pub sha256: [u8; 32],
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WtEndpoint {
    /// Serves `io`'s engine over WebTransport.
    ///
    /// # Panics
    /// When the certificate cannot be made or the port bound.
    pub fn start(io: &sockeye::Io) -> WtEndpoint {
        use sockeye::webtransport::{
            WebTransportCertificate, bind_webtransport, serve_webtransport,
        };
        let certificate = WebTransportCertificate::self_signed(&["localhost", "127.0.0.1"])
            .expect("self-signed certificate");
        let listener = bind_webtransport(SocketAddr::from(([127, 0, 0, 1], 0)), &certificate)
            .expect("cannot bind a loopback UDP port");
        let addr = listener.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let engine = io.engine().clone();
        tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            let _ = serve_webtransport(listener, engine, stop).await;
        });
        WtEndpoint {
            addr,
            sha256: certificate.sha256(),
            _stop: stop,
        }
    }

    /// The transport of a [`crate::TestClient`] that connects here.
    pub fn transport(&self) -> crate::Transport {
        crate::Transport::WebTransport {
            addr: self.addr,
            sha256: self.sha256,
        }
    }
}
