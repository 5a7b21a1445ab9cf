//! Socket.IO protocol v4, spoken by Socket.IO 2.x clients (Engine.IO v3, `EIO=3`).
//!
//! The packet format is the same as v5; what differs is what some packets carry:
//!
//! - `CONNECT` carries no payload, in either direction. The client puts its query in the
//!   namespace (`0/admin?token=1,`), which [`split_query`] takes apart; the server's
//!   reply has no `{"sid": ...}`. The server also sends `CONNECT` for `"/"` unasked, as
//!   the client is implicitly connected to it.
//! - `CONNECT_ERROR` (called `ERROR` in v4) carries a plain string, or the error's data.
//!
//! Decoding needs no variant: [`crate::Decoder`] accepts v4 packets as they are (the
//! namespace keeps its query, `CONNECT_ERROR` may be a string).

use serde_json::Value;

use crate::packet::encode_with;
use crate::{Encoded, Packet, PacketType, Payload};

/// Encodes `packet` for a protocol v4 peer.
///
/// Like [`Packet::encode`], except that a `CONNECT` is written without its payload, and a
/// v5-style `CONNECT_ERROR` payload `{"message": m, "data": d}` is written as `d` when
/// present, else as the string `m`, which is what a Socket.IO 2.x server sends.
///
/// ```
/// use sockeye_socketio_proto::{Packet, v4};
/// let accept = Packet::connect("/admin", Some(serde_json::json!({"sid": "abc"})));
/// assert_eq!(v4::encode(&accept).text, "0/admin,");
/// let refuse = Packet::connect_error("/admin", "Not authorized", None);
/// assert_eq!(v4::encode(&refuse).text, r#"4/admin,"Not authorized""#);
/// ```
pub fn encode(packet: &Packet) -> Encoded {
    match packet.kind {
        PacketType::Connect => encode_with(packet, None),
        PacketType::ConnectError => {
            let payload = packet
                .data
                .as_ref()
                .map(|data| Payload::from(error_payload(&data.to_value())));
            encode_with(packet, payload.as_ref())
        }
        _ => packet.encode(),
    }
}

fn error_payload(data: &Value) -> Value {
    let Value::Object(map) = data else {
        return data.clone();
    };
    match (map.get("data"), map.get("message")) {
        (Some(data), _) => data.clone(),
        (None, Some(message @ Value::String(_))) => message.clone(),
        _ => data.clone(),
    }
}

/// A v4 `CONNECT_ERROR` (`ERROR`) packet, whose payload is the plain string `message`.
///
/// ```
/// use sockeye_socketio_proto::v4;
/// assert_eq!(v4::connect_error("/", "Not authorized").encode().text, r#"4"Not authorized""#);
/// ```
pub fn connect_error(nsp: &str, message: &str) -> Packet {
    Packet {
        kind: PacketType::ConnectError,
        nsp: nsp.to_owned(),
        id: None,
        data: Some(Payload::from(Value::String(message.to_owned()))),
        attachments: Vec::new(),
    }
}

/// Splits a v4 namespace into the namespace proper and its query, without the `?`.
///
/// ```
/// use sockeye_socketio_proto::v4::split_query;
/// assert_eq!(split_query("/admin?token=1&x=2"), ("/admin", Some("token=1&x=2")));
/// assert_eq!(split_query("/admin"), ("/admin", None));
/// ```
pub fn split_query(nsp: &str) -> (&str, Option<&str>) {
    match nsp.split_once('?') {
        Some((nsp, query)) => (nsp, Some(query)),
        None => (nsp, None),
    }
}
