//! What the server knows of a request: its query, headers and peer, and the handshake that
//! opened a session.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// The peer address of a connection, put in each request's extensions by [`crate::serve`].
/// Servers that accept connections themselves insert it too so the handshake can report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The Engine.IO protocol revision of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// Engine.IO v3 (socket.io 2.x clients).
    V3,
    /// Engine.IO v4 (socket.io 3.x and later).
    V4,
}

/// A transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
    /// WebTransport (HTTP/3), with the `webtransport` feature.
    WebTransport,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
            TransportKind::WebTransport => "webtransport",
        }
    }
}

/// A request offered to the `allow_request` hook before it opens a session.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request URI, query included.
    pub uri: &'a Uri,
    /// The peer, when the server that accepted the connection recorded it ([`RemoteAddr`]).
    pub remote_addr: Option<SocketAddr>,
}

impl RequestInfo<'_> {
    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(self.uri, name).map(Cow::into_owned)
    }
}

/// The request that opened a session, kept for the life of the session.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The handshake request's URI and headers, kept compact (see [`Handshake::headers`]).
    request: RequestText,
    /// The peer, when known ([`RemoteAddr`]).
    pub remote_addr: Option<SocketAddr>,
    /// When the session was opened.
    pub issued: SystemTime,
    /// The protocol revision the client asked for.
    pub protocol: ProtocolVersion,
    /// The transport the session started on.
    pub transport: TransportKind,
}

/// A request's URI, then its headers as the text `name:value\n...` (a tab first for a
/// sensitive value), in one buffer, turned into a [`Uri`] and a [`HeaderMap`] only when
/// someone asks: the two cost over half a kilobyte, and most sessions never look at their
/// handshake again after the middlewares.
#[derive(Debug, Clone, Default)]
struct RequestText {
    /// A plain boxed slice: the parsed forms copy from it, rarely, and a shared `Bytes` would
    /// cost every session an extra allocation for its reference count.
    text: Box<[u8]>,
    uri_len: usize,
    uri: OnceLock<Box<Uri>>,
    headers: OnceLock<Box<HeaderMap>>,
}

impl RequestText {
    fn uri(&self) -> &Uri {
        self.uri.get_or_init(|| {
            // It was a valid URI when it was written here.
            Box::new(Uri::try_from(&self.text[..self.uri_len]).unwrap_or_default())
        })
    }

    fn headers(&self) -> &HeaderMap {
        self.headers.get_or_init(|| {
            let lines = self.text[self.uri_len..]
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty());
            let mut map = HeaderMap::with_capacity(lines.clone().count());
            for line in lines {
                // Names have no ':' or tab and values no '\n' (HeaderName and HeaderValue
                // refuse them), so each line splits back into what was written.
                let (sensitive, line) = match line.split_first() {
                    Some((b'\t', rest)) => (true, rest),
                    _ => (false, line),
                };
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                if let (Ok(name), Ok(mut value)) = (
                    HeaderName::from_bytes(&line[..colon]),
                    HeaderValue::from_bytes(&line[colon + 1..]),
                ) {
                    value.set_sensitive(sensitive);
                    map.append(name, value);
                }
            }
            Box::new(map)
        })
    }
}

impl Handshake {
    /// A handshake for a request with these headers and URI, copied into one allocation of
    /// their own.
    ///
    /// hyper parses them as slices of the connection's read buffer (8 KiB or more); kept as
    /// they are for the life of a session, they would pin that whole buffer per connection.
    /// Public so that a cluster adapter can describe a socket of another node.
    pub fn new(
        headers: &HeaderMap,
        uri: &Uri,
        remote_addr: Option<SocketAddr>,
        protocol: ProtocolVersion,
        transport: TransportKind,
    ) -> Handshake {
        let uri_text = uri.to_string();
        let total = uri_text.len()
            + headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 3)
                .sum::<usize>();
        let mut buffer = Vec::with_capacity(total);
        buffer.extend_from_slice(uri_text.as_bytes());
        for (name, value) in headers {
            if value.is_sensitive() {
                buffer.push(b'\t');
            }
            buffer.extend_from_slice(name.as_str().as_bytes());
            buffer.push(b':');
            buffer.extend_from_slice(value.as_bytes());
            buffer.push(b'\n');
        }
        Handshake {
            request: RequestText {
                text: buffer.into_boxed_slice(),
                uri_len: uri_text.len(),
                uri: OnceLock::new(),
                headers: OnceLock::new(),
            },
            remote_addr,
            issued: SystemTime::now(),
            protocol,
            transport,
        }
    }

    /// The handshake request's URI (path and query).
    pub fn uri(&self) -> &Uri {
        self.request.uri()
    }

    /// The handshake request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(self.uri(), name).map(Cow::into_owned)
    }

    /// Every query parameter, percent-decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// `issued` as milliseconds since the Unix epoch, as Node reports it.
    pub fn issued_millis(&self) -> u64 {
        self.issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

pub(crate) fn query_param<'u>(uri: &'u Uri, name: &str) -> Option<Cow<'u, str>> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// The pairs of a query string, decoded as `application/x-www-form-urlencoded` (as
/// `form_urlencoded::parse` does), without copying the pairs that need no decoding: the
/// Engine.IO query of every polling request goes through this.
fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
}

fn decode_component(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    decoded.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => decoded.push(b'%'),
            },
            b => decoded.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&decoded).into_owned())
}

/// The Engine.IO parameters of a request's query.
#[derive(Debug, Default)]
pub(crate) struct EngineQuery<'u> {
    pub eio: Option<Cow<'u, str>>,
    pub transport: Option<Cow<'u, str>>,
    pub sid: Option<Cow<'u, str>>,
    pub jsonp: Option<Cow<'u, str>>,
    pub b64: bool,
}

impl<'u> EngineQuery<'u> {
    pub(crate) fn parse(uri: &'u Uri) -> Self {
        let mut query = EngineQuery::default();
        for (key, value) in query_pairs(uri.query().unwrap_or("")) {
            let slot = match key.as_ref() {
                "EIO" => &mut query.eio,
                "transport" => &mut query.transport,
                "sid" => &mut query.sid,
                "j" => &mut query.jsonp,
                "b64" => {
                    query.b64 = !value.is_empty() && value != "0" && value != "false";
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_parameters() {
        let uri: Uri = "/socket.io/?EIO=4&transport=polling&t=N8hyd6w&sid=abc%2Dd&b64=1"
            .parse()
            .unwrap();
        let query = EngineQuery::parse(&uri);
        assert_eq!(query.eio.as_deref(), Some("4"));
        assert_eq!(query.transport.as_deref(), Some("polling"));
        assert_eq!(query.sid.as_deref(), Some("abc-d"));
        assert!(query.b64);
        assert!(query.jsonp.is_none());
    }

    #[test]
    fn handshakes_keep_every_header_and_the_uri() {
        let uri: Uri = "/socket.io/?EIO=4&transport=websocket".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        let mut secret = HeaderValue::from_static("s3cret");
        secret.set_sensitive(true);
        headers.insert("authorization", secret);
        headers.append("x-empty", HeaderValue::from_static(""));
        headers.append("x-colon", HeaderValue::from_static("a:b: c"));
        let handshake = Handshake::new(
            &headers,
            &uri,
            None,
            ProtocolVersion::V4,
            TransportKind::WebSocket,
        );
        assert_eq!(handshake.headers(), &headers);
        assert!(handshake.headers()["authorization"].is_sensitive());
        assert!(!handshake.headers()["host"].is_sensitive());
        assert_eq!(handshake.uri(), &uri);
        assert_eq!(handshake.uri().query(), Some("EIO=4&transport=websocket"));
        assert_eq!(handshake.query("EIO").as_deref(), Some("4"));
        let copy = handshake.clone();
        assert_eq!(copy.headers(), &headers);
    }

    #[test]
    fn query_pairs_decode_as_form_urlencoded_does() {
        for query in [
            "EIO=4&transport=polling&sid=abc",
            "a=%41%2b+b&&c&=d&e=%E2%82%AC&f=%ff&g==h&%zz=1&i=%41=b&j=%4&k=%",
            "",
            "&&",
        ] {
            let ours: Vec<(String, String)> = query_pairs(query)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let reference: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(ours, reference, "{query}");
        }
    }

    #[test]
    fn a_missing_query_is_empty() {
        let uri: Uri = "/socket.io/".parse().unwrap();
        let query = EngineQuery::parse(&uri);
        assert!(query.eio.is_none() && query.transport.is_none() && query.sid.is_none());
    }
}
