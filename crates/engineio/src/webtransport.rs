//! The WebTransport transport: Engine.IO over HTTP/3, as engine.io 6.5+ serves it.
//!
//! A client opens a WebTransport session at the engine's path, then one bidirectional stream,
//! and writes an open packet on it in the stream framing of [`sockeye_engineio_proto::stream`]:
//! a bare `0` asks for a new session (the server answers with the usual open packet), and
//! `0{"sid":"..."}` offers the stream to that polling session as an upgrade (`2probe`,
//! `3probe`, `5`, as a WebSocket does). Past that first packet, the session task owns the
//! stream, as it owns a WebSocket.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use sockeye_engineio_proto::{Frame, Sid, stream};
use tokio::io::AsyncReadExt;
use wtransport::endpoint::IncomingSession;
use wtransport::endpoint::endpoint_side::Server;
use wtransport::{Connection, Endpoint, Identity, RecvStream, SendStream, ServerConfig, VarInt};

use crate::engine::Engine;
use crate::request::{Handshake, ProtocolVersion, RequestInfo, TransportKind};
use crate::service::open_frame;
use crate::session::{Candidate, Command, Session};
use crate::socket::Shared;
use crate::{EngineService, RequestError};

/// How long a freshly made self-signed certificate is valid. Browsers take a certificate by
/// its hash (`serverCertificateHashes`) only if it is valid for two weeks at most; a day less
/// leaves room for clocks that disagree on the seconds.
pub const SELF_SIGNED_VALIDITY_DAYS: u32 = 13;

/// Bytes asked of the stream at once when no frame says how many it needs.
const READ_CHUNK: usize = 8 * 1024;

/// A read buffer larger than this is given back once it holds nothing, so that a session
/// that received one large frame does not keep its buffer while idle.
const KEEP_READ_BUFFER: usize = 16 * 1024;

/// Frame bodies from this size on go to QUIC as they are, not copied into the write batch.
const DIRECT_WRITE: usize = 4 * 1024;

/// The certificate (chain) and private key the WebTransport endpoint presents.
pub struct WebTransportCertificate {
    identity: Identity,
}

impl WebTransportCertificate {
    /// A new self-signed ECDSA P-256 certificate for `names` (host names or IP addresses),
    /// valid from now for [`SELF_SIGNED_VALIDITY_DAYS`]: what browsers accept through
    /// `serverCertificateHashes` without a CA. Make a new one before it expires.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a name is neither a DNS name nor an IP address.
    pub fn self_signed<S: AsRef<str>>(names: &[S]) -> io::Result<Self> {
        let identity = Identity::self_signed_builder()
            .subject_alt_names(names.iter().map(AsRef::as_ref))
            .from_now_utc()
            .validity_days(SELF_SIGNED_VALIDITY_DAYS)
            .build()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))?;
        Ok(WebTransportCertificate { identity })
    }

    /// A certificate chain and its private key from PEM files.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or holds no certificate or key.
    pub async fn from_pem_files(chain: &Path, key: &Path) -> io::Result<Self> {
        let identity = Identity::load_pemfiles(chain, key)
            .await
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
        Ok(WebTransportCertificate { identity })
    }

    /// The SHA-256 of the leaf certificate, as `serverCertificateHashes` wants it.
    pub fn sha256(&self) -> [u8; 32] {
        self.identity
            .certificate_chain()
            .as_slice()
            .first()
            .map(|certificate| *certificate.hash().as_ref())
            .unwrap_or_default()
    }

    /// The certificate chain in PEM, to save a self-signed certificate (with
    /// [`WebTransportCertificate::private_key_pem`]) and serve it again.
    pub fn certificate_pem(&self) -> String {
        self.identity
            .certificate_chain()
            .as_slice()
            .iter()
            .map(|certificate| certificate.to_pem())
            .collect()
    }

    /// The private key in PEM (PKCS#8). A secret: keep it so.
    pub fn private_key_pem(&self) -> String {
        self.identity.private_key().to_secret_pem()
    }
}

impl std::fmt::Debug for WebTransportCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTransportCertificate")
            .field("sha256", &hex(&self.sha256()))
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTTP/3 endpoint bound to a UDP port, waiting for [`serve_webtransport`].
pub struct WebTransportListener {
    endpoint: Endpoint<Server>,
    local_addr: SocketAddr,
    sha256: [u8; 32],
}

impl std::fmt::Debug for WebTransportListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTransportListener")
            .field("local_addr", &self.local_addr)
            .field("sha256", &hex(&self.sha256))
            .finish_non_exhaustive()
    }
}

impl WebTransportListener {
    /// The UDP address it is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The SHA-256 of the certificate it presents.
    pub fn certificate_sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// Binds an HTTP/3 endpoint for WebTransport on the UDP port `addr`, presenting `certificate`.
/// Must be called within a tokio runtime.
///
/// # Errors
///
/// When the UDP socket cannot be bound.
pub fn bind_webtransport(
    addr: SocketAddr,
    certificate: &WebTransportCertificate,
) -> io::Result<WebTransportListener> {
    let config = ServerConfig::builder()
        .with_bind_address(addr)
        .with_identity(certificate.identity.clone_identity())
        // The Engine.IO heartbeat says when a client is gone; QUIC keeps NATs open meanwhile.
        .keep_alive_interval(Some(Duration::from_secs(10)))
        .build();
    let endpoint = Endpoint::server(config)?;
    let local_addr = endpoint.local_addr()?;
    Ok(WebTransportListener {
        endpoint,
        local_addr,
        sha256: certificate.sha256(),
    })
}

/// Serves `service`'s sessions over WebTransport on `listener` until `shutdown` resolves.
/// While it runs, polling sessions list `webtransport` in their upgrades.
///
/// Sessions go on after `shutdown` (each holds its own connection): close them with
/// [`EngineService::shutdown`] first, as with [`crate::serve`].
///
/// # Errors
///
/// None so far; the `Result` leaves room for endpoint failures.
pub async fn serve_webtransport(
    listener: WebTransportListener,
    service: EngineService,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let engine = service.engine.clone();
    engine.webtransport.fetch_add(1, Ordering::Relaxed);
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            incoming = listener.endpoint.accept() => incoming,
            () = &mut shutdown => break,
        };
        tokio::spawn(accept(engine.clone(), incoming));
    }
    engine.webtransport.fetch_sub(1, Ordering::Relaxed);
    Ok(())
}

/// Takes one WebTransport session from its QUIC handshake to the Engine.IO session it opens
/// or upgrades.
async fn accept(engine: Arc<Engine>, incoming: IncomingSession) {
    let request = match incoming.await {
        Ok(request) => request,
        Err(error) => {
            tracing::debug!(%error, "webtransport connection failed");
            return;
        }
    };
    let config = &engine.config;
    let Ok(uri) = Uri::try_from(request.path()) else {
        request.not_found().await;
        return;
    };
    let path = uri.path();
    if !(path.starts_with(config.path.as_str()) || path == config.path.trim_end_matches('/')) {
        request.not_found().await;
        return;
    }
    let headers = header_map(request.headers(), request.authority());
    let remote_addr = request.remote_address();
    let connection = match request.accept().await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(%error, "webtransport session failed");
            return;
        }
    };
    // The client opens its stream and writes its first packet at once; one that does not
    // within the upgrade timeout is not an Engine.IO client.
    let first = tokio::time::timeout(config.upgrade_timeout, async {
        let (send, recv) = connection.accept_bi().await.ok()?;
        let mut stream = WtStream::new(connection.clone(), send, recv, config.max_payload);
        match stream.next_frame().await {
            Some(Ok(frame)) => Some((stream, frame)),
            _ => None,
        }
    })
    .await;
    let Ok(Some((stream, first))) = first else {
        tracing::debug!("webtransport client sent no open packet");
        connection.close(VarInt::from_u32(0), b"");
        return;
    };
    let stream = Box::new(stream);
    match open_request(&first) {
        Some(None) => {
            let info = RequestInfo {
                headers: &headers,
                uri: &uri,
                remote_addr: Some(remote_addr),
            };
            if let Err(error) = admit(&engine, &info) {
                engine.metrics.refused(&error);
                tracing::debug!(code = error.code(), %error, "webtransport session refused");
                stream.close().await;
                return;
            }
            let Some(admission) = engine.admit() else {
                engine.metrics.refused(&RequestError::TooManySessions);
                stream.close().await;
                return;
            };
            let handshake = Handshake::new(
                &headers,
                &uri,
                Some(remote_addr),
                ProtocolVersion::V4,
                TransportKind::WebTransport,
            );
            let capacity = config.outbox_capacity;
            let max_bytes = config.outbox_max_bytes;
            let socket = admission.insert(|sid| Shared::new(sid, handshake, capacity, max_bytes));
            let open = open_frame(&engine, socket.id().as_str(), TransportKind::WebTransport);
            Session::with_webtransport(engine.clone(), socket, stream).spawn(Some(open));
        }
        Some(Some(sid)) => {
            let Some(shared) = engine.get(sid.as_str()) else {
                tracing::debug!(%sid, "webtransport upgrade for an unknown session");
                stream.close().await;
                return;
            };
            if let Err(Command::Upgrade(candidate)) =
                shared.command(Command::Upgrade(Candidate::WebTransport(stream)))
            {
                candidate.close().await;
            }
        }
        None => {
            tracing::debug!("webtransport client's first packet is not an open packet");
            stream.close().await;
        }
    }
}

/// The checks a new session's handshake passes over polling or WebSocket, that apply here.
fn admit(engine: &Engine, info: &RequestInfo<'_>) -> Result<(), RequestError> {
    if engine.is_shutting_down() {
        return Err(RequestError::ShuttingDown);
    }
    if let Some(allow) = &engine.config.allow_request {
        allow(info).map_err(RequestError::Forbidden)?;
    }
    Ok(())
}

/// What the client's first packet asks: `Some(None)` a new session (`0`), `Some(Some(sid))`
/// an upgrade of that session (`0{"sid":"..."}`), `None` anything else.
fn open_request(frame: &Frame) -> Option<Option<Sid>> {
    let Frame::Text(text) = frame else {
        return None;
    };
    let data = text.as_str().strip_prefix('0')?;
    if data.is_empty() {
        return Some(None);
    }
    let upgrade: serde_json::Value = serde_json::from_str(data).ok()?;
    upgrade.get("sid")?.as_str()?.parse().ok().map(Some)
}

/// The request headers as an [`HeaderMap`], without HTTP/3's pseudo-headers and with `host`
/// from the authority, as an HTTP/1.1 handshake would have them.
fn header_map(headers: &std::collections::HashMap<String, String>, authority: &str) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    if let Ok(host) = HeaderValue::from_str(authority) {
        map.insert(http::header::HOST, host);
    }
    for (name, value) in headers {
        if name.starts_with(':') {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Why reading a stream stopped.
#[derive(Debug)]
pub(crate) enum WtReadError {
    /// The connection or stream went away.
    Closed,
    /// The peer sent bytes that are not frames (a length of zero or over `max_payload`, say).
    Invalid(sockeye_engineio_proto::Error),
}

/// The one bidirectional stream of a WebTransport session, with its framing.
pub(crate) struct WtStream {
    connection: Connection,
    send: SendStream,
    recv: RecvStream,
    decoder: stream::Decoder,
    read: BytesMut,
}

impl WtStream {
    fn new(connection: Connection, send: SendStream, recv: RecvStream, max_payload: usize) -> Self {
        WtStream {
            connection,
            send,
            recv,
            decoder: stream::Decoder::new(max_payload),
            read: BytesMut::new(),
        }
    }

    /// The next frame from the client; `None` once it finished the stream. Cancel-safe: bytes
    /// read stay in the buffer for the next call.
    pub(crate) async fn next_frame(&mut self) -> Option<Result<Frame, WtReadError>> {
        loop {
            match self.decoder.decode(&mut self.read) {
                Ok(Some(frame)) => {
                    if self.read.is_empty() && self.read.capacity() > KEEP_READ_BUFFER {
                        self.read = BytesMut::new();
                    }
                    return Some(Ok(frame));
                }
                Ok(None) => {}
                Err(error) => return Some(Err(WtReadError::Invalid(error))),
            }
            // A frame whose header is in gets room for all of it at once.
            let needed = match self.decoder.frame_len(&self.read) {
                Ok(Some(len)) => len.saturating_sub(self.read.len()),
                _ => READ_CHUNK,
            };
            self.read.reserve(needed.max(READ_CHUNK));
            match self.recv.read_buf(&mut self.read).await {
                Ok(0) if self.read.is_empty() => return None,
                // Finished in the middle of a frame.
                Ok(0) | Err(_) => return Some(Err(WtReadError::Closed)),
                Ok(_) => {}
            }
        }
    }

    /// Writes `frames` in the stream framing. Not cancel-safe: a write that is dropped half
    /// done leaves the stream unusable, which only a session that is ending does.
    pub(crate) async fn write_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<(), ()> {
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut batch = BytesMut::new();
        for frame in frames {
            let (header, body) = stream::split(&frame);
            if body.len() >= DIRECT_WRITE {
                batch.extend_from_slice(header.as_bytes());
                chunks.push(batch.split().freeze());
                chunks.push(match frame {
                    Frame::Text(text) => text.into_bytes(),
                    Frame::Binary(data) => data,
                });
            } else {
                stream::encode_into(&frame, &mut batch);
            }
        }
        if !batch.is_empty() {
            chunks.push(batch.freeze());
        }
        self.send
            .quic_stream_mut()
            .write_all_chunks(&mut chunks)
            .await
            .map_err(|_| ())
    }

    /// Ends the session: what was written is delivered first (for a second at most), then
    /// the connection is closed.
    pub(crate) async fn close(mut self: Box<Self>) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.send.finish()).await;
        self.connection.close(VarInt::from_u32(0), b"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_engineio_proto::Str;

    #[test]
    fn first_packets() {
        let text = |s: &'static str| Frame::Text(Str::from(s));
        assert_eq!(open_request(&text("0")), Some(None));
        let sid = "AAAAAAAAAAAAAAAAAAAA";
        let upgrade = format!("0{{\"sid\":\"{sid}\"}}");
        let upgrade = Frame::Text(Str::from_utf8(Bytes::from(upgrade)).unwrap());
        assert_eq!(
            open_request(&upgrade).flatten().map(|s| s.to_string()),
            Some(sid.to_owned())
        );
        assert_eq!(open_request(&text("0{\"sid\":\"short\"}")), None);
        assert_eq!(open_request(&text("0{")), None);
        assert_eq!(open_request(&text("4hello")), None);
        assert_eq!(open_request(&Frame::binary(vec![b'0'])), None);
    }

    #[test]
    fn headers_drop_pseudo_headers_and_gain_host() {
        let mut headers = std::collections::HashMap::new();
        headers.insert(":path".to_owned(), "/socket.io/".to_owned());
        headers.insert("origin".to_owned(), "https://example.com".to_owned());
        let map = header_map(&headers, "localhost:3000");
        assert_eq!(map.len(), 2);
        assert_eq!(map["host"], "localhost:3000");
        assert_eq!(map["origin"], "https://example.com");
    }
}
