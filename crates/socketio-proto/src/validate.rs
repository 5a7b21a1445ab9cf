//! Which payloads and ack ids each packet type admits.
//!
//! Shared by the decoder (to reject what the peer sends) and [`Packet::validate`]
//! (to check what we are about to send), so both sides agree on one rule set.
//!
//! [`Packet::validate`]: crate::Packet::validate

use crate::PacketType;
use crate::json::{First, Shape};

/// Event names the reference implementation refuses on the wire, because its
/// `EventEmitter`s give them a local meaning.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Is `name` one of the [`RESERVED_EVENTS`]?
///
/// ```
/// use sockeye_socketio_proto::is_reserved_event;
/// assert!(is_reserved_event("disconnect"));
/// assert!(!is_reserved_event("chat"));
/// ```
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// Whether a payload of shape `data` is acceptable for a packet of type `kind`.
///
/// Stricter than the reference parser in one respect: an `EVENT`, `ACK` or
/// `CONNECT_ERROR` without payload is refused, as the protocol document makes their
/// payload mandatory (the reference parser accepts them and then misbehaves).
pub(crate) fn payload_is_valid(kind: PacketType, data: Option<Shape>) -> bool {
    use PacketType::*;
    match (kind, data) {
        (Connect, None | Some(Shape::Object)) => true,
        (Disconnect, None) => true,
        (ConnectError, Some(Shape::Object | Shape::String)) => true,
        (Event | BinaryEvent, Some(Shape::Array(first))) => match first {
            First::Name { reserved } => !reserved,
            First::Number => true,
            First::None | First::Other => false,
        },
        (Ack | BinaryAck, Some(Shape::Array(_))) => true,
        _ => false,
    }
}

/// Whether a packet of type `kind` may carry `id`: events optionally, acks always,
/// everything else never (an id there has no meaning, and refusing it is what makes
/// `42{}`-style garbage an error rather than a `CONNECT_ERROR`).
pub(crate) fn ack_id_is_valid(kind: PacketType, id: Option<u64>) -> bool {
    use PacketType::*;
    match kind {
        Event | BinaryEvent => true,
        Ack | BinaryAck => id.is_some(),
        Connect | Disconnect | ConnectError => id.is_none(),
    }
}

/// Whether `nsp` can be written on the wire and read back unchanged.
pub(crate) fn namespace_is_valid(nsp: &str) -> bool {
    nsp.starts_with('/') && !nsp.contains(',')
}
