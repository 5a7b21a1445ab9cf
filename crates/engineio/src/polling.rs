//! HTTP long-polling: the handshake GET, data GETs that wait for frames, and POSTs that carry
//! packets (XHR, and JSONP for old clients).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use sockeye_engineio_proto::{Frame, payload, v3};
use tokio::sync::oneshot;

use crate::compression::Compress;
use crate::engine::{Admission, Engine};
use crate::metrics::Direction;
use crate::request::{Handshake, ProtocolVersion, RemoteAddr, TransportKind};
use crate::service::{BoxError, ResponseBody, open_frame};
use crate::session::{Command, PollReply, Session};
use crate::socket::Shared;
use crate::{CloseReason, RequestError, Socket};

/// How a polling client wants its payloads.
#[derive(Debug, Clone)]
pub(crate) struct Encoding {
    pub(crate) protocol: ProtocolVersion,
    /// The JSONP callback index (`j`), when the client polls with script tags.
    pub(crate) jsonp: Option<String>,
    /// `b64=1`: the client cannot take binary bodies (v3 only).
    pub(crate) b64: bool,
    /// How the client's data GETs are compressed, when it accepts it.
    pub(crate) compress: Option<Compress>,
}

/// Opens a session over polling, in the place `admission` holds, and answers with its open
/// packet.
pub(crate) fn handshake<B>(
    engine: &Arc<Engine>,
    admission: Admission,
    request: Request<B>,
    encoding: &Encoding,
) -> Response<ResponseBody> {
    let (parts, _body) = request.into_parts();
    let remote_addr = parts.extensions.get::<RemoteAddr>().map(|addr| addr.0);
    let handshake = Handshake::new(
        &parts.headers,
        &parts.uri,
        remote_addr,
        encoding.protocol,
        TransportKind::Polling,
    );
    let capacity = engine.config.outbox_capacity;
    let max_bytes = engine.config.outbox_max_bytes;
    let socket = admission.insert(|sid| Shared::new(sid, handshake, capacity, max_bytes));
    let open = open_frame(engine, socket.id().as_str(), TransportKind::Polling);
    Session::new(engine.clone(), socket, None).spawn(None);
    let (body, content_type) = payload_body(&[open], encoding);
    let metrics = &engine.metrics;
    metrics.packets(Direction::Out, TransportKind::Polling, 1, body.len());
    body_response(body, content_type)
}

/// A GET: waits until the session has frames for the client.
pub(crate) async fn get(
    engine: &Engine,
    socket: &Socket,
    encoding: &Encoding,
) -> Result<Response<ResponseBody>, RequestError> {
    let (reply, answer) = oneshot::channel();
    socket
        .shared
        .command(Command::Poll(reply))
        .map_err(|_| RequestError::UnknownSid)?;
    match answer.await {
        Ok(PollReply::Frames(frames)) => {
            let (body, content_type) = payload_body(&frames, encoding);
            let metrics = &engine.metrics;
            metrics.packets(
                Direction::Out,
                TransportKind::Polling,
                frames.len(),
                body.len(),
            );
            let mut headers = http::HeaderMap::new();
            let body = match encoding.compress {
                Some(compress) => compress.apply(body, &mut headers).await,
                None => body,
            };
            let mut response = body_response(body, content_type);
            response.headers_mut().extend(headers);
            Ok(response)
        }
        Ok(PollReply::Refused(error)) => Err(error),
        Err(_) => Err(RequestError::UnknownSid),
    }
}

/// A POST: reads at most `max_payload` bytes, decodes them and hands the packets over.
pub(crate) async fn post<B>(
    engine: &Arc<Engine>,
    socket: &Socket,
    request: Request<B>,
    encoding: &Encoding,
) -> Result<Response<ResponseBody>, RequestError>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let config = &engine.config;
    // As in Node, a POST that overlaps another is refused and closes the session: a session
    // buffers one body at a time, at most max_payload.
    let Some(_posting) = Posting::start(socket) else {
        tracing::debug!(sid = %socket.id(), "overlapping posts");
        socket.close_with(CloseReason::TransportError);
        return Err(RequestError::BadRequest);
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.max_payload as u64) {
        return Ok(too_large(socket));
    }
    let body = match Limited::new(request.into_body(), config.max_payload)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Ok(too_large(socket));
        }
        Err(_) => {
            socket.close_with(CloseReason::TransportError);
            return Err(RequestError::BadRequest);
        }
    };
    let body = match &encoding.jsonp {
        Some(_) => jsonp_body(&body).ok_or(RequestError::BadRequest)?,
        None => body,
    };
    let max_packets = config.max_packets_per_payload;
    let body_len = body.len();
    let decoded = match encoding.protocol {
        ProtocolVersion::V3 => v3::payload::decode(body, max_packets),
        _ => payload::decode(body, max_packets),
    };
    let Ok(packets) = decoded else {
        tracing::debug!(sid = %socket.id(), "undecodable polling payload");
        socket.close_with(CloseReason::TransportError);
        return Err(RequestError::BadRequest);
    };
    let metrics = &engine.metrics;
    metrics.packets(
        Direction::In,
        TransportKind::Polling,
        packets.len(),
        body_len,
    );
    let (reply, answer) = oneshot::channel();
    socket
        .shared
        .command(Command::Post(packets, reply))
        .map_err(|_| RequestError::UnknownSid)?;
    match answer.await {
        Ok(Ok(())) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            );
            Ok(response)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Err(RequestError::UnknownSid),
    }
}

/// Marks a session as reading a POST until dropped.
struct Posting<'a>(&'a Socket);

impl<'a> Posting<'a> {
    /// `None` when the session is reading another POST already.
    fn start(socket: &'a Socket) -> Option<Self> {
        let mut state = socket.shared.lock();
        if state.posting {
            return None;
        }
        state.posting = true;
        Some(Posting(socket))
    }
}

impl Drop for Posting<'_> {
    fn drop(&mut self) {
        self.0.shared.lock().posting = false;
    }
}

fn too_large(socket: &Socket) -> Response<ResponseBody> {
    tracing::debug!(sid = %socket.id(), "polling body over max_payload");
    socket.close_with(CloseReason::TransportError);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// Frames as a polling body in the client's encoding, and its content type.
fn payload_body(frames: &[Frame], encoding: &Encoding) -> (Bytes, &'static str) {
    let (body, content_type) = match encoding.protocol {
        ProtocolVersion::V3 => {
            let binary = encoding.jsonp.is_none()
                && !encoding.b64
                && frames.iter().any(|frame| matches!(frame, Frame::Binary(_)));
            let body = v3::payload::encode(frames, binary);
            (
                body,
                if binary {
                    "application/octet-stream"
                } else {
                    "text/plain; charset=UTF-8"
                },
            )
        }
        _ => (payload::encode(frames), "text/plain; charset=UTF-8"),
    };
    match &encoding.jsonp {
        Some(index) => (jsonp_wrap(index, &body), "text/javascript; charset=UTF-8"),
        None => (body, content_type),
    }
}

fn body_response(body: Bytes, content_type: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `___eio[j]("payload");`: the payload as a JavaScript string literal for a script tag.
fn jsonp_wrap(index: &str, body: &Bytes) -> Bytes {
    let index: String = index.chars().filter(char::is_ascii_digit).collect();
    let text = String::from_utf8_lossy(body);
    let literal = serde_json::Value::String(text.into_owned())
        .to_string()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    Bytes::from(format!("___eio[{index}]({literal});"))
}

/// A JSONP POST is a form with the payload in `d`, where old clients escaped newlines.
fn jsonp_body(body: &[u8]) -> Option<Bytes> {
    let data = form_urlencoded::parse(body).find(|(key, _)| key == "d")?.1;
    let mut out = String::with_capacity(data.len());
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    out.push_str("\\\\");
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonp_wraps_the_payload_as_a_string_literal() {
        let wrapped = jsonp_wrap("3x", &Bytes::from_static("4a\"b\u{2028}".as_bytes()));
        assert_eq!(
            wrapped,
            Bytes::from_static(b"___eio[3](\"4a\\\"b\\u2028\");")
        );
    }

    #[test]
    fn jsonp_bodies_unescape_newlines() {
        let body = jsonp_body(b"d=4a%5Cnb%5C%5Cnc").unwrap();
        assert_eq!(body, Bytes::from_static(b"4a\nb\\\\nc"));
        assert!(jsonp_body(b"x=1").is_none());
    }
}
