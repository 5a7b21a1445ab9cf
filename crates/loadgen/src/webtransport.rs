//! `echo-webtransport`: the echo scenario over WebTransport (HTTP/3), feature `webtransport`.
//! The server says where its endpoint is and which certificate to trust at
//! `/webtransport.json` (`{"port": N, "sha256": [32 bytes]}`), as `sockeye serve
//! --webtransport` and the Sockeye bench server with `WEBTRANSPORT=1` do.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use sockeye_engineio_proto::{Frame, Str, stream};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;
use wtransport::{ClientConfig, Connection, Endpoint, RecvStream, SendStream};

use crate::client::{Result, Target, ack_args, ack_id, echo_text, get, within};
use crate::scenarios::{cpu_over, finish, same_args, ticker};
use crate::stats::{Counter, Latencies, Window};
use crate::{Config, Report, Scenario};

/// One WebTransport session and its stream, connected to namespace `/`.
struct WtConn {
    _connection: Connection,
    send: SendStream,
    recv: RecvStream,
    read: BytesMut,
    write: BytesMut,
    decoder: stream::Decoder,
}

/// What came in, pings taken care of by the caller.
enum In {
    /// A Socket.IO packet's text (after the Engine.IO `4`).
    Text(Str),
    Ping,
    Other,
}

impl WtConn {
    async fn connect(addr: SocketAddr, path: &str, sha256: [u8; 32]) -> Result<WtConn> {
        let config = ClientConfig::builder()
            .with_bind_default()
            .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(sha256)])
            .build();
        let endpoint = Endpoint::client(config).map_err(|e| format!("endpoint: {e}"))?;
        let url = format!("https://{addr}{path}?EIO=4&transport=webtransport");
        let connection = endpoint
            .connect(&url)
            .await
            .map_err(|e| format!("webtransport connect: {e}"))?;
        let opening = connection
            .open_bi()
            .await
            .map_err(|e| format!("open stream: {e}"))?;
        let (send, recv) = opening.await.map_err(|e| format!("open stream: {e}"))?;
        let mut conn = WtConn {
            _connection: connection,
            send,
            recv,
            read: BytesMut::new(),
            write: BytesMut::new(),
            decoder: stream::Decoder::new(64 << 20),
        };
        conn.send_text("0").await?;
        match conn.next_frame().await? {
            Frame::Text(text) if text.starts_with('0') => {}
            other => return Err(format!("expected an open packet, got {other:?}")),
        }
        conn.send_text("40").await?;
        loop {
            match conn.recv().await? {
                In::Text(text) if text.starts_with("0") => return Ok(conn),
                In::Text(text) if text.starts_with("4") => {
                    return Err(format!("connection refused: {text}"));
                }
                In::Ping => conn.send_text("3").await?,
                _ => {}
            }
        }
    }

    async fn send_text(&mut self, text: &str) -> Result<()> {
        self.write.clear();
        self.write
            .extend_from_slice(stream::Header::new(text.len(), false).as_bytes());
        self.write.extend_from_slice(text.as_bytes());
        self.send
            .write_all(&self.write)
            .await
            .map_err(|e| format!("webtransport send: {e}"))
    }

    async fn next_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.read)
                .map_err(|e| format!("bad frame: {e}"))?
            {
                return Ok(frame);
            }
            self.read.reserve(16 * 1024);
            match self.recv.read_buf(&mut self.read).await {
                Ok(0) => return Err("the server closed the stream".to_owned()),
                Ok(_) => {}
                Err(e) => return Err(format!("webtransport read: {e}")),
            }
        }
    }

    async fn recv(&mut self) -> Result<In> {
        Ok(match self.next_frame().await? {
            Frame::Text(text) => match text.as_bytes().first() {
                Some(b'4') => In::Text(text.slice_from(1).unwrap_or_default()),
                Some(b'2') => In::Ping,
                Some(b'1') => return Err("the server closed the session".to_owned()),
                _ => In::Other,
            },
            Frame::Binary(_) => In::Other,
        })
    }

    /// Sends an event's text (ack id `id`), then waits for that ack (answering pings).
    async fn call_text(&mut self, id: u64, text: &str) -> Result<Str> {
        self.send_text(text).await?;
        loop {
            match self.recv().await? {
                In::Text(text) if ack_id(&text) == Some(id) => return Ok(text),
                In::Ping => self.send_text("3").await?,
                _ => {}
            }
        }
    }
}

/// The echo scenario, over WebTransport.
pub(crate) async fn echo(config: &Config) -> Result<Report> {
    let scenario = Scenario::EchoWebTransport;
    let target = Target::resolve(config).await?;
    let (status, body) = get(&target, "/webtransport.json").await?;
    if !status.is_success() {
        return Err(format!(
            "GET /webtransport.json: {status} (is the server's WebTransport on?)"
        ));
    }
    let info: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("/webtransport.json: {e}"))?;
    let port = info["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("/webtransport.json has no port")?;
    let sha256: [u8; 32] = serde_json::from_value::<Vec<u8>>(info["sha256"].clone())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("/webtransport.json has no sha256")?;
    let addr = SocketAddr::new(target.addr.ip(), port);

    let clients = config.clients(scenario);
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let connect = WtConn::connect(addr, &target.path, sha256);
        conns.push(within(config.timeout, "connect", connect).await?);
    }

    let window = Window::after(config.warmup, config.duration);
    let latencies = Latencies::new();
    let acks = Counter::default();
    let errors = Counter::default();
    let cpu = cpu_over(window, config.server_pid);
    let ticker = ticker(config, scenario, window, acks.clone(), "acks/s", 1.0);
    let mut set = JoinSet::new();
    for (n, mut conn) in conns.into_iter().enumerate() {
        let (latencies, acks, errors) = (latencies.clone(), acks.clone(), errors.clone());
        let timeout = config.timeout;
        set.spawn(async move {
            let mut batch = latencies.batch();
            let mut text = String::with_capacity(128);
            let mut id = 0u64;
            loop {
                id += 1;
                let sent = Instant::now();
                if sent >= window.end {
                    return Ok(());
                }
                let arg = echo_text(&mut text, "42", id, n);
                let ack = within(timeout, "echo", conn.call_text(id, &text)).await?;
                let done = Instant::now();
                if !same_args(ack_args(&ack), &text[arg]) {
                    errors.add(1);
                }
                if window.contains(done) {
                    acks.add(1);
                    batch.record(done - sent);
                }
            }
        });
    }
    let outcome = finish(set).await;
    ticker.abort();
    outcome?;
    let (loadgen_cpu, server_cpu) = cpu.await.unwrap_or((None, None));
    let mut report = Report::new(scenario, config, "acks/s");
    report.seconds = config.duration.as_secs_f64();
    report.ops = acks.get();
    report.rate = report.ops as f64 / report.seconds;
    report.latency = latencies.summary();
    report.errors = errors.get();
    report.loadgen_cpu = loadgen_cpu;
    report.server_cpu = server_cpu;
    Ok(report)
}
