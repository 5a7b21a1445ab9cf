//! The stream entries of `@socket.io/redis-streams-adapter` 0.2, encoded and decoded without IO.
//!
//! Every message of every node is one entry of one stream, with the fields `uid` (the node),
//! `nsp`, `type` (a decimal `MessageType` of `socket.io-adapter`'s `ClusterAdapter`) and, when
//! the message has a body, `data`: its JSON text, or, when it carries binary, the base64 of its
//! MessagePack (Node tells them apart by a leading `{`). A broadcast's body is
//! `{packet: {type, data, nsp}, opts: {rooms, except, flags}}`, and its entry id is the offset
//! that connection-state recovery appends to the packet. The session of a dropped socket is the
//! base64 of the MessagePack `{sid, pid, rooms, data}`, under `<prefix><pid>`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmpv::Value as Mp;
use serde_json::Value;
use sockeye_adapter::{BroadcastOptions, ClusterBroadcast, Room, Session, SocketId};
use sockeye_socketio_proto::{Packet, msgpack};

use crate::cluster::{Request, Response};
use crate::wire::{self, WireError, as_string, field};

/// How long the sockets of a broadcast with acks have to answer when the request does not say.
const DEFAULT_ACK_TIMEOUT_MS: u64 = 10_000;

/// The message types of `socket.io-adapter`'s `ClusterAdapter` that this adapter speaks.
pub(crate) mod message_type {
    pub(crate) const INITIAL_HEARTBEAT: u64 = 1;
    pub(crate) const HEARTBEAT: u64 = 2;
    pub(crate) const BROADCAST: u64 = 3;
    pub(crate) const SOCKETS_JOIN: u64 = 4;
    pub(crate) const SOCKETS_LEAVE: u64 = 5;
    pub(crate) const DISCONNECT_SOCKETS: u64 = 6;
    pub(crate) const FETCH_SOCKETS: u64 = 7;
    pub(crate) const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 9;
    pub(crate) const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub(crate) const BROADCAST_ACK: u64 = 12;
    pub(crate) const ADAPTER_CLOSE: u64 = 13;
}

/// The longest data of a stream entry or session read back (Node's `maxHttpBufferSize`
/// default is 1 MB; a broadcast is at most that, and its base64).
const MAX_DATA: usize = 4 << 20;

/// One entry of the stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) uid: String,
    /// A broadcast that its node delivers to its own sockets when it reads it back (field
    /// `relay`, which Node ignores: it counts the node once, by its uid).
    pub(crate) relay: bool,
    pub(crate) nsp: String,
    pub(crate) kind: u64,
    pub(crate) data: Option<Mp>,
}

/// The fields of an entry, in the order Node writes them. `binary`: the body holds `bin`
/// values, so it travels as base64 MessagePack.
pub(crate) fn encode_entry(
    uid: &str,
    nsp: &str,
    kind: u64,
    data: Option<&Mp>,
    binary: bool,
) -> Result<Vec<(&'static str, String)>, WireError> {
    let mut fields = vec![
        ("uid", uid.to_owned()),
        ("nsp", nsp.to_owned()),
        ("type", kind.to_string()),
    ];
    if let Some(data) = data {
        let text = if binary {
            BASE64.encode(wire::encode(data))
        } else {
            let mut attachments = Vec::new();
            wire::mp_to_json(data, &mut attachments)?.to_string()
        };
        fields.push(("data", text));
    }
    Ok(fields)
}

/// An entry from its fields (in any order; unknown ones are ignored, as Node does).
pub(crate) fn decode_entry(fields: &[(String, String)]) -> Result<Entry, WireError> {
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let uid = get("uid").ok_or_else(|| WireError::new("an entry without uid"))?;
    let nsp = get("nsp").ok_or_else(|| WireError::new("an entry without nsp"))?;
    let kind = get("type")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| WireError::new("an entry without a numeric type"))?;
    let data = get("data").map(|text| decode_data(text)).transpose()?;
    Ok(Entry {
        uid: uid.clone(),
        relay: get("relay").is_some_and(|r| r == "1"),
        nsp: nsp.clone(),
        kind,
        data,
    })
}

/// A body: JSON when it starts with `{`, base64 MessagePack otherwise.
fn decode_data(text: &str) -> Result<Mp, WireError> {
    if text.len() > MAX_DATA {
        return Err(WireError::new("an entry's data is too long"));
    }
    if text.starts_with('{') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| WireError::new(format!("bad JSON: {e}")))?;
        return Ok(msgpack::from_json(&value, &[]));
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|e| WireError::new(format!("bad base64: {e}")))?;
    wire::decode(&bytes)
}

/// The body of a BROADCAST, and whether it carries binary.
pub(crate) fn broadcast_data(broadcast: &ClusterBroadcast) -> Result<(Mp, bool), WireError> {
    let data = Mp::Map(vec![
        (Mp::from("packet"), wire::packet_to_mp(broadcast, false)?),
        (
            Mp::from("opts"),
            wire::options_to_mp(&broadcast.options, true),
        ),
    ]);
    Ok((data, !broadcast.attachments.is_empty()))
}

/// The packet of a broadcast of namespace `nsp` (the entry's). Node's streams adapter writes
/// the packet before its namespace is set on it, so the entry's is the one to go by.
fn packet_of(data: &Mp, nsp: &str) -> Result<Packet, WireError> {
    let packet =
        field(data, "packet").ok_or_else(|| WireError::new("a broadcast without packet"))?;
    let (_, mut packet) = wire::packet_from_mp(packet)?;
    nsp.clone_into(&mut packet.nsp);
    Ok(packet)
}

/// A broadcast of another node, or of this one through the stream, on namespace `nsp`; `None`
/// for one that asks for acknowledgements (a request: see [`request_from_data`]). With
/// `offset`, a replayable event (no ack id, not volatile) gets it as its last argument.
pub(crate) fn broadcast_from_data(
    data: &Mp,
    nsp: &str,
    offset: Option<&str>,
) -> Result<Option<ClusterBroadcast>, WireError> {
    if field(data, "requestId").is_some() {
        return Ok(None);
    }
    let mut packet = packet_of(data, nsp)?;
    let options = match field(data, "opts") {
        Some(opts) => wire::options_from_mp(opts)?,
        None => BroadcastOptions::default(),
    };
    if let Some(offset) = offset.filter(|_| is_replayable(&packet, &options)) {
        let mut args = packet
            .data
            .as_ref()
            .map(|d| d.to_value())
            .unwrap_or_default();
        if let Value::Array(items) = &mut args {
            items.push(Value::from(offset));
            let attachments = std::mem::take(&mut packet.attachments);
            packet = Packet::event(nsp, args, attachments);
        }
    }
    let encoded = packet.encode();
    let mut broadcast = ClusterBroadcast::new(nsp, options, encoded.text);
    broadcast.attachments = encoded.attachments;
    Ok(Some(broadcast))
}

/// Whether recovery replays a packet: an event without ack id, not volatile (Node's
/// `addOffsetIfNecessary`).
pub(crate) fn is_replayable(packet: &Packet, options: &BroadcastOptions) -> bool {
    packet.kind.is_event() && packet.id.is_none() && !options.volatile
}

/// The body of SOCKETS_JOIN / SOCKETS_LEAVE: `{opts: {rooms, except}, rooms}`.
pub(crate) fn rooms_data(options: &BroadcastOptions, rooms: &[Room]) -> Mp {
    Mp::Map(vec![
        (Mp::from("opts"), wire::options_to_mp(options, true)),
        (Mp::from("rooms"), room_array(rooms)),
    ])
}

/// The body of DISCONNECT_SOCKETS: `{opts, close}`.
pub(crate) fn disconnect_data(options: &BroadcastOptions, close: bool) -> Mp {
    Mp::Map(vec![
        (Mp::from("opts"), wire::options_to_mp(options, true)),
        (Mp::from("close"), Mp::Boolean(close)),
    ])
}

/// The options and rooms of a SOCKETS_JOIN / SOCKETS_LEAVE body.
pub(crate) fn rooms_from_data(data: &Mp) -> Result<(BroadcastOptions, Vec<Room>), WireError> {
    let options = match field(data, "opts") {
        Some(opts) => wire::options_from_mp(opts)?,
        None => BroadcastOptions::default(),
    };
    let mut attachments = Vec::new();
    let rooms = match field(data, "rooms") {
        Some(rooms) => wire::json_rooms(&wire::mp_to_json(rooms, &mut attachments)?),
        None => Vec::new(),
    };
    Ok((options, rooms))
}

/// The options and `close` of a DISCONNECT_SOCKETS body.
pub(crate) fn disconnect_from_data(data: &Mp) -> Result<(BroadcastOptions, bool), WireError> {
    let options = match field(data, "opts") {
        Some(opts) => wire::options_from_mp(opts)?,
        None => BroadcastOptions::default(),
    };
    let close = field(data, "close").and_then(Mp::as_bool).unwrap_or(false);
    Ok((options, close))
}

/// The body of FETCH_SOCKETS: `{opts, requestId}`.
pub(crate) fn fetch_data(request_id: &str, options: &BroadcastOptions) -> Mp {
    Mp::Map(vec![
        (Mp::from("opts"), wire::options_to_mp(options, true)),
        (Mp::from("requestId"), Mp::from(request_id)),
    ])
}

/// The body of SERVER_SIDE_EMIT: `{requestId?, packet: [event, ...args]}`; with a request id,
/// every other node answers.
pub(crate) fn server_side_emit_data(data: &[Value], request_id: Option<&str>) -> Mp {
    let mut fields = Vec::with_capacity(2);
    if let Some(id) = request_id {
        fields.push((Mp::from("requestId"), Mp::from(id)));
    }
    let packet = Mp::Array(data.iter().map(|v| msgpack::from_json(v, &[])).collect());
    fields.push((Mp::from("packet"), packet));
    Mp::Map(fields)
}

/// The body of a BROADCAST that asks for acks, and whether it carries binary:
/// `{packet, requestId, opts: {rooms, except, flags: {timeout}}}`.
pub(crate) fn ack_broadcast_data(
    request_id: &str,
    broadcast: &ClusterBroadcast,
    timeout_ms: u64,
) -> Result<(Mp, bool), WireError> {
    let data = Mp::Map(vec![
        (Mp::from("packet"), wire::packet_to_mp(broadcast, false)?),
        (Mp::from("requestId"), Mp::from(request_id)),
        (
            Mp::from("opts"),
            wire::options_with_timeout(&broadcast.options, timeout_ms),
        ),
    ]);
    Ok((data, !broadcast.attachments.is_empty()))
}

/// What a message of another node asks of this one, and the request id to answer with (none
/// when it waits for no answer). `None` for a message that is no request (a broadcast
/// without acks, a response, a heartbeat).
pub(crate) fn request_from_data(
    kind: u64,
    nsp: &str,
    data: &Mp,
) -> Result<Option<(Option<String>, Request)>, WireError> {
    let request_id = field(data, "requestId").and_then(as_string);
    let options = || match field(data, "opts") {
        Some(opts) => wire::options_from_mp(opts),
        None => Ok(BroadcastOptions::default()),
    };
    let request = match kind {
        message_type::BROADCAST => {
            if request_id.is_none() {
                return Ok(None);
            }
            let mut packet = packet_of(data, nsp)?;
            // Every node gives the packet an ack id of its own.
            packet.id = None;
            let timeout = field(data, "opts")
                .and_then(wire::timeout_of_options)
                .unwrap_or(DEFAULT_ACK_TIMEOUT_MS);
            let encoded = packet.encode();
            let mut broadcast = ClusterBroadcast::new(nsp, options()?, encoded.text);
            broadcast.attachments = encoded.attachments;
            Request::BroadcastWithAck(broadcast, Duration::from_millis(timeout))
        }
        message_type::SOCKETS_JOIN => {
            let (options, rooms) = rooms_from_data(data)?;
            Request::Join(options, rooms)
        }
        message_type::SOCKETS_LEAVE => {
            let (options, rooms) = rooms_from_data(data)?;
            Request::Leave(options, rooms)
        }
        message_type::DISCONNECT_SOCKETS => {
            let (options, close) = disconnect_from_data(data)?;
            Request::Disconnect(options, close)
        }
        message_type::FETCH_SOCKETS => Request::Fetch(options()?),
        message_type::SERVER_SIDE_EMIT => {
            let mut attachments = Vec::new();
            let packet = field(data, "packet")
                .map(|packet| wire::mp_to_json(packet, &mut attachments))
                .transpose()?;
            let Some(Value::Array(packet)) = packet else {
                return Err(WireError::new("a server-side emit without packet array"));
            };
            Request::ServerSideEmit(packet)
        }
        _ => return Ok(None),
    };
    // Join, leave and disconnect are answered with nothing, whatever they carry.
    Ok(Some((request_id, request)))
}

/// The type and body of the message that answers request `request_id` with `response`, as
/// Node's `ClusterAdapter` writes them; `None` for an answer Node's protocol has no message
/// for.
pub(crate) fn response_data(request_id: &str, response: &Response) -> Option<(u64, Mp)> {
    let id = (Mp::from("requestId"), Mp::from(request_id));
    let (kind, field) = match response {
        Response::Sockets(sockets) => {
            let sockets: Vec<Value> = sockets.iter().map(wire::socket_json).collect();
            (
                message_type::FETCH_SOCKETS_RESPONSE,
                (
                    Mp::from("sockets"),
                    msgpack::from_json(&Value::from(sockets), &[]),
                ),
            )
        }
        Response::ServerSideEmit(reply) => (
            message_type::SERVER_SIDE_EMIT_RESPONSE,
            (Mp::from("packet"), msgpack::from_json(reply, &[])),
        ),
        Response::ClientCount(count) => (
            message_type::BROADCAST_CLIENT_COUNT,
            (
                Mp::from("clientCount"),
                Mp::from(u64::try_from(*count).unwrap_or(u64::MAX)),
            ),
        ),
        Response::Ack(ack) => (
            message_type::BROADCAST_ACK,
            (Mp::from("packet"), msgpack::from_json(ack, &[])),
        ),
        Response::Rooms(_) => return None,
    };
    Some((kind, Mp::Map(vec![id, field])))
}

/// The request id and answer of a response message; `None` for a message that is none.
pub(crate) fn response_from_data(
    kind: u64,
    data: &Mp,
) -> Result<Option<(String, Response)>, WireError> {
    let response_kinds = [
        message_type::FETCH_SOCKETS_RESPONSE,
        message_type::SERVER_SIDE_EMIT_RESPONSE,
        message_type::BROADCAST_CLIENT_COUNT,
        message_type::BROADCAST_ACK,
    ];
    if !response_kinds.contains(&kind) {
        return Ok(None);
    }
    let request_id = field(data, "requestId")
        .and_then(as_string)
        .ok_or_else(|| WireError::new("a response without requestId"))?;
    let mut attachments = Vec::new();
    let mut json = |name: &str| -> Result<Value, WireError> {
        field(data, name)
            .map(|value| wire::mp_to_json(value, &mut attachments))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let response = match kind {
        message_type::FETCH_SOCKETS_RESPONSE => {
            Response::Sockets(wire::sockets_from_json(&json("sockets")?))
        }
        message_type::SERVER_SIDE_EMIT_RESPONSE => Response::ServerSideEmit(json("packet")?),
        message_type::BROADCAST_CLIENT_COUNT => {
            let count = json("clientCount")?.as_u64().unwrap_or(0);
            Response::ClientCount(usize::try_from(count).unwrap_or(usize::MAX))
        }
        _ => Response::Ack(json("packet")?),
    };
    Ok(Some((request_id, response)))
}

fn room_array(rooms: &[Room]) -> Mp {
    Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect())
}

/// A session as Node keeps it: base64 of the MessagePack `{sid, pid, rooms, data}`.
pub(crate) fn encode_session(session: &Session) -> String {
    let value = Mp::Map(vec![
        (Mp::from("sid"), Mp::from(session.sid.as_str())),
        (Mp::from("pid"), Mp::from(session.pid.as_str())),
        (Mp::from("rooms"), room_array(&session.rooms)),
        (Mp::from("data"), msgpack::from_json(&session.data, &[])),
    ]);
    BASE64.encode(wire::encode(&value))
}

/// A session Node or this adapter kept. Binary values in its data are dropped (JSON data
/// only: see [`Session::data`]).
pub(crate) fn decode_session(text: &str) -> Result<Session, WireError> {
    if text.len() > MAX_DATA {
        return Err(WireError::new("a session is too long"));
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|e| WireError::new(format!("bad base64: {e}")))?;
    let value = wire::decode(&bytes)?;
    let id = |name: &str| -> Result<SocketId, WireError> {
        field(&value, name)
            .and_then(as_string)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| WireError::new(format!("a session without a valid {name}")))
    };
    let (sid, pid) = (id("sid")?, id("pid")?);
    let mut attachments = Vec::new();
    let rooms = match field(&value, "rooms") {
        Some(rooms) => wire::json_rooms(&wire::mp_to_json(rooms, &mut attachments)?),
        None => Vec::new(),
    };
    let data = match field(&value, "data") {
        Some(data) => wire::mp_to_json(data, &mut attachments)?,
        None => Value::Null,
    };
    Ok(Session::new(sid, pid, rooms, data))
}

/// A stream id `<ms>-<seq>`, as numbers that order like the stream does.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(seq) {
        return None;
    }
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The text of a stream id.
pub(crate) fn id_text((ms, seq): (u64, u64)) -> String {
    format!("{ms}-{seq}")
}

/// The id right after `id`: XRANGE from there leaves `id` out, on Redis before 6.2 too.
pub(crate) fn after((ms, seq): (u64, u64)) -> (u64, u64) {
    match seq.checked_add(1) {
        Some(seq) => (ms, seq),
        None => (ms.saturating_add(1), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sockeye_adapter::SocketInfo;

    fn broadcast(
        text: &str,
        attachments: Vec<Bytes>,
        options: BroadcastOptions,
    ) -> ClusterBroadcast {
        let mut broadcast = ClusterBroadcast::new("/", options, text.to_owned());
        broadcast.attachments = attachments;
        broadcast
    }

    #[test]
    fn a_broadcast_is_json_as_node_writes_it() {
        let b = broadcast(
            r#"2["tick",1]"#,
            Vec::new(),
            BroadcastOptions::default().to("r").except("x"),
        );
        let (data, binary) = broadcast_data(&b).expect("encodes");
        let fields = encode_entry("abc123", "/", message_type::BROADCAST, Some(&data), binary)
            .expect("encodes");
        assert_eq!(
            fields,
            [
                ("uid", "abc123".to_owned()),
                ("nsp", "/".to_owned()),
                ("type", "3".to_owned()),
                (
                    "data",
                    r#"{"packet":{"type":2,"data":["tick",1],"nsp":"/"},"opts":{"rooms":["r"],"except":["x"],"flags":{}}}"#
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_broadcast_reads_back_with_its_offset_binary_included() {
        let b = broadcast(
            r#"51-["file",{"_placeholder":true,"num":0}]"#,
            vec![Bytes::from_static(&[1, 2, 3])],
            BroadcastOptions::default(),
        );
        let (data, binary) = broadcast_data(&b).expect("encodes");
        assert!(binary);
        let fields = encode_entry("abc123", "/", message_type::BROADCAST, Some(&data), binary)
            .expect("encodes");
        assert!(!fields[3].1.starts_with('{'));
        let owned: Vec<(String, String)> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let entry = decode_entry(&owned).expect("decodes");
        assert_eq!(
            (entry.uid.as_str(), entry.kind),
            ("abc123", message_type::BROADCAST)
        );
        let back = broadcast_from_data(&entry.data.expect("data"), "/", Some("17-2"))
            .expect("decodes")
            .expect("a broadcast");
        assert_eq!(
            back.text,
            r#"51-["file",{"_placeholder":true,"num":0},"17-2"]"#
        );
        assert_eq!(back.attachments, [Bytes::from_static(&[1, 2, 3])]);
    }

    #[test]
    fn volatile_and_ack_broadcasts_get_no_offset() {
        let b = broadcast(
            r#"2["v"]"#,
            Vec::new(),
            BroadcastOptions::default().volatile(true),
        );
        let (data, _) = broadcast_data(&b).expect("encodes");
        let back = broadcast_from_data(&data, "/", Some("1-0"))
            .expect("ok")
            .expect("some");
        assert_eq!(back.text, r#"2["v"]"#);
        let with_ack = Mp::Map(vec![
            (Mp::from("requestId"), Mp::from("x")),
            (Mp::from("packet"), Mp::Nil),
        ]);
        assert!(
            broadcast_from_data(&with_ack, "/", Some("1-0"))
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn sessions_round_trip_and_bad_ones_are_refused() {
        let (sid, pid) = (SocketId::random(), SocketId::random());
        let session = Session::new(
            sid,
            pid,
            vec![Room::from(sid.as_str()), Room::from("r")],
            serde_json::json!({"n": 1}),
        );
        let back = decode_session(&encode_session(&session)).expect("decodes");
        assert_eq!(
            (back.sid, back.pid, back.rooms.clone(), back.data.clone()),
            (sid, pid, session.rooms.clone(), session.data.clone())
        );
        assert!(decode_session("not base64!").is_err());
        assert!(decode_session(&BASE64.encode(wire::encode(&Mp::from(1)))).is_err());
    }

    #[test]
    fn ids_parse_and_order() {
        assert_eq!(parse_id("1700000000000-3"), Some((1_700_000_000_000, 3)));
        assert_eq!(parse_id("1-"), None);
        assert_eq!(parse_id("a-1"), None);
        assert_eq!(parse_id("+1-1"), None);
        assert_eq!(parse_id("abc"), None);
        assert_eq!(after((5, u64::MAX)), (6, 0));
        assert_eq!(id_text(after((5, 1))), "5-2");
        assert!(parse_id("10-0") > parse_id("9-99"));
    }

    fn owned(fields: Vec<(&'static str, String)>) -> Vec<(String, String)> {
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn node_entry(kind: u64, data: &str) -> Entry {
        let fields = [
            ("uid", "n0de"),
            ("nsp", "/"),
            ("type", &kind.to_string()),
            ("data", data),
        ];
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        decode_entry(&fields).expect("decodes")
    }

    #[test]
    fn requests_are_written_as_node_writes_them() {
        let options = BroadcastOptions::default().to("r");
        let fields = encode_entry(
            "abc123",
            "/",
            message_type::FETCH_SOCKETS,
            Some(&fetch_data("42", &options)),
            false,
        )
        .expect("encodes");
        assert_eq!(
            fields[3].1,
            r#"{"opts":{"rooms":["r"],"except":[],"flags":{}},"requestId":"42"}"#
        );
        let emit = server_side_emit_data(&[Value::from("ev"), Value::from(1)], Some("7"));
        let fields = encode_entry(
            "abc123",
            "/",
            message_type::SERVER_SIDE_EMIT,
            Some(&emit),
            false,
        )
        .expect("encodes");
        assert_eq!(fields[3].1, r#"{"requestId":"7","packet":["ev",1]}"#);
        let b = broadcast(r#"2["ask","q"]"#, Vec::new(), BroadcastOptions::default());
        let (data, binary) = ack_broadcast_data("9", &b, 5000).expect("encodes");
        let fields = encode_entry("abc123", "/", message_type::BROADCAST, Some(&data), binary)
            .expect("encodes");
        assert_eq!(
            fields[3].1,
            r#"{"packet":{"type":2,"data":["ask","q"],"nsp":"/"},"requestId":"9","opts":{"rooms":[],"except":[],"flags":{"timeout":5000}}}"#
        );
    }

    #[test]
    fn node_requests_are_read() {
        let entry = node_entry(
            message_type::BROADCAST,
            r#"{"packet":{"type":2,"data":["ask","q"]},"requestId":"r1","opts":{"rooms":["a"],"except":[],"flags":{"timeout":3000}}}"#,
        );
        let data = entry.data.expect("data");
        assert!(
            broadcast_from_data(&data, "/chat", None)
                .expect("ok")
                .is_none()
        );
        let Some((Some(id), Request::BroadcastWithAck(b, timeout))) =
            request_from_data(entry.kind, "/chat", &data).expect("decodes")
        else {
            panic!("a broadcast with acks");
        };
        assert_eq!((id.as_str(), timeout), ("r1", Duration::from_millis(3000)));
        assert_eq!(
            (b.nsp.as_str(), b.text.as_str()),
            ("/chat", r#"2/chat,["ask","q"]"#)
        );
        assert_eq!(b.options.rooms, [Room::from("a")]);

        let entry = node_entry(
            message_type::SERVER_SIDE_EMIT,
            r#"{"packet":["ev",{"x":1}]}"#,
        );
        let request = request_from_data(entry.kind, "/", &entry.data.expect("data"));
        let Ok(Some((None, Request::ServerSideEmit(packet)))) = request else {
            panic!("a server-side emit without ack: {request:?}");
        };
        assert_eq!(packet, [Value::from("ev"), serde_json::json!({"x": 1})]);

        let entry = node_entry(message_type::SERVER_SIDE_EMIT, r#"{"packet":"no"}"#);
        assert!(request_from_data(entry.kind, "/", &entry.data.expect("data")).is_err());
        let entry = node_entry(message_type::HEARTBEAT, "{}");
        assert!(matches!(
            request_from_data(entry.kind, "/", &entry.data.expect("data")),
            Ok(None)
        ));
    }

    #[test]
    fn responses_round_trip_and_read_node_ones() {
        let socket = SocketInfo::new(
            "s1",
            vec![Room::from("s1"), Room::from("r")],
            serde_json::json!({"n": 1}),
            serde_json::json!({"url": "/socket.io/"}),
        );
        for response in [
            Response::Sockets(vec![socket]),
            Response::ServerSideEmit(serde_json::json!({"ok": true})),
            Response::ClientCount(3),
            Response::Ack(Value::from("a")),
        ] {
            let (kind, data) = response_data("id", &response).expect("has a message");
            let fields = encode_entry("abc123", "/", kind, Some(&data), false).expect("encodes");
            let entry = decode_entry(&owned(fields)).expect("decodes");
            let back = response_from_data(entry.kind, &entry.data.expect("data"))
                .expect("decodes")
                .expect("a response");
            assert_eq!(back, ("id".to_owned(), response));
        }
        assert!(response_data("id", &Response::Rooms(Vec::new())).is_none());
        let entry = node_entry(
            message_type::BROADCAST_CLIENT_COUNT,
            r#"{"requestId":"q","clientCount":2}"#,
        );
        assert_eq!(
            response_from_data(entry.kind, &entry.data.expect("data")).expect("decodes"),
            Some(("q".to_owned(), Response::ClientCount(2)))
        );
        let entry = node_entry(message_type::BROADCAST_ACK, r#"{"packet":1}"#);
        assert!(response_from_data(entry.kind, &entry.data.expect("data")).is_err());
    }

    #[test]
    fn entries_without_their_fields_are_refused() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(decode_entry(&fields(&[("nsp", "/"), ("type", "3")])).is_err());
        assert!(decode_entry(&fields(&[("uid", "a"), ("nsp", "/"), ("type", "x")])).is_err());
        assert!(
            decode_entry(&fields(&[
                ("uid", "a"),
                ("nsp", "/"),
                ("type", "3"),
                ("data", "{bad")
            ]))
            .is_err()
        );
        let entry = decode_entry(&fields(&[
            ("uid", "a"),
            ("nsp", "/"),
            ("type", "2"),
            ("extra", "1"),
        ]))
        .expect("decodes");
        assert_eq!(entry.data, None);
    }
}
