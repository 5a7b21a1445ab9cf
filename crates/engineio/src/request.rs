//! What the server knows of a request: its query, headers and peer, and the handshake that
//! opened a session.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::SystemTime;

use http::{HeaderMap, Uri};

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
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
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
    /// The handshake request's headers.
    pub headers: HeaderMap,
    /// The handshake request's URI (path and query).
    pub uri: Uri,
    /// The peer, when known ([`RemoteAddr`]).
    pub remote_addr: Option<SocketAddr>,
    /// When the session was opened.
    pub issued: SystemTime,
    /// The protocol revision the client asked for.
    pub protocol: ProtocolVersion,
    /// The transport the session started on.
    pub transport: TransportKind,
}

impl Handshake {
    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(&self.uri, name).map(Cow::into_owned)
    }

    /// Every query parameter, percent-decoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
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
        for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
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
    fn a_missing_query_is_empty() {
        let uri: Uri = "/socket.io/".parse().unwrap();
        let query = EngineQuery::parse(&uri);
        assert!(query.eio.is_none() && query.transport.is_none() && query.sid.is_none());
    }
}
