//! The WebSocket transport: the HTTP upgrade, then the stream is handed to a new session or to
//! the polling session that asked to upgrade.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::codec_io::{CODEC_READ_BUFFER, CodecIo};
use crate::deflate::{self, Deflate};
use crate::engine::{Admission, Engine};
use crate::request::{Handshake, ProtocolVersion, RemoteAddr, TransportKind};
use crate::service::{ResponseBody, open_frame};
use crate::session::{Candidate, Command, Session};
use crate::socket::Shared;
use crate::{RequestError, Socket};

/// Bytes of frames gathered before a write to the socket; `flush` writes what is left.
const WRITE_BATCH: usize = 16 * 1024;

/// Whether a request asks for a WebSocket.
pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .map(|value| {
                    value
                        .split(',')
                        .any(|part| part.trim().eq_ignore_ascii_case(token))
                })
                .unwrap_or(false)
        })
    };
    request.method() == Method::GET
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
}

/// What a WebSocket is for.
pub(crate) enum Target {
    /// To take over this polling session.
    Upgrade(Socket),
    /// To open a new session, in the place held among `max_sessions`.
    New(Admission),
}

/// Accepts the upgrade; once the connection has switched, the WebSocket opens a new session or
/// is offered to an existing one as an upgrade.
pub(crate) fn upgrade<B>(
    engine: Arc<Engine>,
    mut request: Request<B>,
    target: Target,
    protocol: ProtocolVersion,
) -> Result<Response<ResponseBody>, RequestError> {
    let headers = request.headers();
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(RequestError::BadRequest)?;
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version != "13")
    {
        return Err(RequestError::BadRequest);
    }
    let accept = derive_accept_key(key.as_bytes());
    let deflate = engine.config.per_message_deflate.and_then(|config| {
        deflate::negotiate(headers, &config).map(|(agreed, answer)| {
            let state = Deflate::new(&config, agreed, engine.config.max_payload);
            (state, answer)
        })
    });
    let (deflate, extensions) = deflate.unzip();
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();
    // Only what the session keeps leaves this function: `parts` pins hyper's read buffer.
    let remote_addr = parts.extensions.get::<RemoteAddr>().map(|addr| addr.0);
    let handshake = matches!(target, Target::New(_)).then(|| {
        Handshake::new(
            &parts.headers,
            &parts.uri,
            remote_addr,
            protocol,
            TransportKind::WebSocket,
        )
    });
    drop(parts);

    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "websocket upgrade failed");
                return;
            }
        };
        let config = &engine.config;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(CODEC_READ_BUFFER)
            // Frames queued together go out in one write: the session feeds every frame of
            // its outbox and flushes once (0 would cost one syscall per frame).
            .write_buffer_size(WRITE_BATCH)
            .max_message_size(Some(config.max_payload))
            .max_frame_size(Some(config.max_payload));
        let io = CodecIo::new(TokioIo::new(upgraded), config.websocket_read_buffer)
            .with_deflate(deflate);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config)).await;
        let ws = Box::new(ws);
        match target {
            Target::Upgrade(socket) => {
                let candidate = Candidate::WebSocket(ws);
                if let Err(Command::Upgrade(candidate)) =
                    socket.shared.command(Command::Upgrade(candidate))
                {
                    candidate.close().await;
                }
            }
            Target::New(admission) => {
                let Some(handshake) = handshake else {
                    return;
                };
                let capacity = config.outbox_capacity;
                let max_bytes = config.outbox_max_bytes;
                let socket =
                    admission.insert(|sid| Shared::new(sid, handshake, capacity, max_bytes));
                let open = open_frame(&engine, socket.id().as_str(), TransportKind::WebSocket);
                // A task of its own: this one (and its state) ends with the handshake.
                Session::new(engine.clone(), socket, Some(ws)).spawn(Some(open));
            }
        }
    });

    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(extensions) = extensions {
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
    }
    Ok(response)
}
