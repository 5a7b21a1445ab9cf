//! A minimal HTTP/1.1 client: one request per connection.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `addr` on a new connection and reads the whole response.
/// `target` is the path and query (`/socket.io/?EIO=4&transport=polling`).
///
/// # Errors
/// When the connection or the exchange fails.
pub async fn http_request(
    addr: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<HttpResponse, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = Request::builder()
        .method(method)
        .uri(target)
        .header(header::HOST, addr.to_string());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(HttpResponse {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `GET url` (an `http://host:port/path?query` URL).
///
/// # Errors
/// When the URL is not `http://ADDR/...` or the exchange fails.
pub async fn http_get(url: &str) -> Result<HttpResponse, String> {
    let (addr, target) = split_url(url)?;
    http_request(addr, Method::GET, &target, &[], Bytes::new()).await
}

/// `http://127.0.0.1:3000/a?b` (or `ws://`) to the address and `/a?b`.
pub(crate) fn split_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (host, target) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let addr = host
        .parse()
        .map_err(|e| format!("not an address: {host}: {e}"))?;
    Ok((addr, target))
}
