//! The WebSocket transport: the HTTP upgrade, then the stream is handed to a new session or to
//! the polling session that asked to upgrade.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::engine::Engine;
use crate::request::{Handshake, ProtocolVersion, RemoteAddr, TransportKind};
use crate::service::{ResponseBody, open_frame};
use crate::session::{Command, Session};
use crate::socket::Shared;
use crate::{RequestError, Socket};

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

/// Accepts the upgrade; once the connection has switched, the WebSocket opens a new session or,
/// with `existing`, is offered to that session as an upgrade.
pub(crate) fn upgrade<B>(
    engine: Arc<Engine>,
    mut request: Request<B>,
    existing: Option<Socket>,
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
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();

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
            .read_buffer_size(config.websocket_read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(config.max_payload))
            .max_frame_size(Some(config.max_payload));
        let ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config))
                .await;
        let ws = Box::new(ws);
        match existing {
            Some(socket) => {
                if let Err(Command::Upgrade(mut ws)) = socket.shared.command(Command::Upgrade(ws)) {
                    let _ = futures_util::SinkExt::close(&mut ws).await;
                }
            }
            None => {
                let remote_addr = parts.extensions.get::<RemoteAddr>().map(|addr| addr.0);
                let handshake = Handshake {
                    headers: parts.headers,
                    uri: parts.uri,
                    remote_addr,
                    issued: SystemTime::now(),
                    protocol,
                    transport: TransportKind::WebSocket,
                };
                let capacity = config.outbox_capacity;
                let max_bytes = config.outbox_max_bytes;
                let socket = engine.insert(|sid| Shared::new(sid, handshake, capacity, max_bytes));
                let open = open_frame(config, socket.id().as_str(), TransportKind::WebSocket);
                Session::new(engine.clone(), socket, Some(ws))
                    .run(Some(open))
                    .await;
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
    Ok(response)
}
