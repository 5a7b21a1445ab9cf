//! Socket.IO protocol v4, spoken by Socket.IO 2.x clients over Engine.IO v3, when
//! [`crate::IoBuilder::allow_eio3`] lets them in (as Node's `allowEIO3`).
//!
//! Events, acks and binary attachments are written as in v5; what differs is kept here, so
//! that the rest of the server asks one question ([`Protocol`]) and never tests versions:
//!
//! - the client is connected to `/` without asking; the server says so with a bare `0`;
//! - a `CONNECT` carries the client's query in its namespace (`0/chat?token=1,`), which
//!   becomes the socket's auth payload (an object of strings), as in Node;
//! - the server's `CONNECT` has no payload and its `CONNECT_ERROR` a plain string;
//! - a socket's id is its Engine.IO session id, which 2.x clients take as their own
//!   (`/chat#<sid>` outside `/`: [`client_id`], also a room of the socket: [`client_room`]).

use serde_json::{Map, Value};
use sockeye_adapter::{Room, SocketId};
use sockeye_engineio::{Frame, ProtocolVersion};
use sockeye_socketio_proto::{Packet, PacketType, Parser, Payload, v4};

/// The Socket.IO protocol of a connection, settled by its Engine.IO version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Socket.IO v5 over Engine.IO v4: the current clients.
    V5,
    /// Socket.IO v4 over Engine.IO v3: the 2.x clients.
    V4,
}

impl Protocol {
    pub(crate) fn of(engine: &sockeye_engineio::Socket) -> Protocol {
        match engine.protocol() {
            ProtocolVersion::V3 => Protocol::V4,
            _ => Protocol::V5,
        }
    }

    /// The frames of `packet`, written for this protocol.
    pub(crate) fn frames(self, parser: Parser, packet: &Packet) -> Vec<Frame> {
        let differs = matches!(packet.kind, PacketType::Connect | PacketType::ConnectError);
        // 2.x clients are served with the default parser only (their msgpack parser is not
        // npm `socket.io-msgpack-parser` 3.x's): its text is what differs.
        if self == Protocol::V5 || !differs || parser != Parser::Default {
            return parser.frames(packet);
        }
        let encoded = v4::encode(packet);
        let mut text = Vec::with_capacity(1 + encoded.text.len());
        text.push(b'4');
        text.extend_from_slice(encoded.text.as_bytes());
        // The default parser frames any text: this never fails.
        parser
            .frames_from_text(text, encoded.attachments)
            .unwrap_or_default()
    }

    /// The auth payload a `CONNECT` brings: in v4, the query written after the namespace,
    /// which is taken off the namespace's name.
    pub(crate) fn connect_auth(self, packet: &mut Packet) -> Option<Payload> {
        if self == Protocol::V5 {
            return packet.data.take();
        }
        let (nsp, query) = v4::split_query(&packet.nsp);
        let auth = query.map(|query| {
            let map: Map<String, Value> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Payload::from(Value::Object(map))
        });
        if query.is_some() {
            packet.nsp = nsp.to_owned();
        }
        auth
    }

    /// Whether the client is connected to `/` as soon as its session opens.
    pub(crate) fn implicit_root(self) -> bool {
        self == Protocol::V4
    }

    /// The id of a new socket of `engine`: a random one (the session id is kept secret from
    /// other clients, as in Node), or for a 2.x client the session id, which it knows.
    pub(crate) fn socket_id(self, engine: &sockeye_engineio::Socket) -> SocketId {
        match self {
            Protocol::V5 => SocketId::random(),
            Protocol::V4 => engine.id(),
        }
    }
}

/// The id a client knows its socket by: a 2.x client calls its socket of `/chat` `/chat#<id>`.
pub(crate) fn client_id(protocol: Protocol, nsp: &str, id: SocketId) -> String {
    if protocol == Protocol::V4 && nsp != "/" {
        format!("{nsp}#{id}")
    } else {
        id.as_str().to_owned()
    }
}

/// The room a 2.x client's socket outside `/` is also in: its [`client_id`], the id Node gives
/// such a socket and so its own room there. A 2.x client that tells its id (`socket.id`) is
/// reached with it, as with Node, and so is a socket of a Node node sharing a cluster.
pub(crate) fn client_room(protocol: Protocol, nsp: &str, id: SocketId) -> Option<Room> {
    (protocol == Protocol::V4 && nsp != "/").then(|| Room::from(client_id(protocol, nsp, id)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn texts(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|frame| match frame {
                Frame::Text(text) => text.to_string(),
                Frame::Binary(data) => format!("<{} bytes>", data.len()),
            })
            .collect()
    }

    #[test]
    fn v4_connect_and_error_are_written_bare() {
        let accept = Packet::connect("/", Some(serde_json::json!({"sid": "x"})));
        assert_eq!(
            texts(&Protocol::V4.frames(Parser::Default, &accept)),
            ["40"]
        );
        assert_eq!(
            texts(&Protocol::V5.frames(Parser::Default, &accept)),
            [r#"40{"sid":"x"}"#]
        );
        let accept = Packet::connect("/chat", Some(serde_json::json!({"sid": "x"})));
        assert_eq!(
            texts(&Protocol::V4.frames(Parser::Default, &accept)),
            ["40/chat,"]
        );
        let refuse = Packet::connect_error("/chat", "Not authorized", None);
        assert_eq!(
            texts(&Protocol::V4.frames(Parser::Default, &refuse)),
            [r#"44/chat,"Not authorized""#]
        );
    }

    #[test]
    fn v4_connect_query_becomes_the_auth_payload() {
        let mut packet = Packet::connect("/chat?token=a%20b&x=2", None);
        let auth = Protocol::V4.connect_auth(&mut packet).unwrap();
        assert_eq!(packet.nsp, "/chat");
        assert_eq!(
            auth.to_value(),
            serde_json::json!({"token": "a b", "x": "2"})
        );
        let mut packet = Packet::connect("/chat", None);
        assert!(Protocol::V4.connect_auth(&mut packet).is_none());
        assert_eq!(packet.nsp, "/chat");
        // v5 keeps `?` in a namespace name, as Node does.
        let mut packet = Packet::connect("/chat?x", Some(serde_json::json!({"a": 1})));
        assert_eq!(
            Protocol::V5.connect_auth(&mut packet).unwrap().to_value(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(packet.nsp, "/chat?x");
    }

    #[test]
    fn client_ids_carry_the_namespace_for_2x_clients() {
        let id = SocketId::random();
        assert_eq!(client_id(Protocol::V4, "/", id), id.as_str());
        assert_eq!(client_id(Protocol::V4, "/chat", id), format!("/chat#{id}"));
        assert_eq!(client_id(Protocol::V5, "/chat", id), id.as_str());
        assert_eq!(
            client_room(Protocol::V4, "/chat", id).as_deref(),
            Some(format!("/chat#{id}").as_str())
        );
        assert!(client_room(Protocol::V4, "/", id).is_none());
        assert!(client_room(Protocol::V5, "/chat", id).is_none());
    }
}
