//! The messages of `@socket.io/redis-adapter` 8.x, encoded and decoded without IO.
//!
//! A broadcast travels as the MessagePack array `[uid, packet, opts]`, where `packet` is
//! `{type, data, nsp}` with binary values as MessagePack `bin` (not placeholders) and `opts` is
//! `{rooms, except, flags}`. Node encodes with notepack, which writes every value in its
//! shortest form and a JavaScript number that is a whole number as an integer; the encoder
//! here does the same, so that both sides produce the same bytes for the same message.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::Value;
use sockeye_adapter::{BroadcastOptions, ClusterBroadcast, Room, SocketInfo};
use sockeye_socketio_proto::{Decoder, Packet, PacketType, msgpack};

/// Nesting deeper than this in a message from the broker is refused rather than recursed into.
const MAX_DEPTH: usize = 64;

/// Why a message could not be encoded or decoded. Never fatal: the message is dropped and
/// traced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError(pub(crate) String);

impl WireError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        WireError(message.into())
    }
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A broadcast received from another node.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// The uid of the node that published it.
    pub(crate) uid: String,
    pub(crate) broadcast: ClusterBroadcast,
}

/// Encodes `[uid, packet, opts]` for a broadcast that this node made.
pub(crate) fn encode_broadcast(
    uid: &str,
    broadcast: &ClusterBroadcast,
) -> Result<Vec<u8>, WireError> {
    let message = Mp::Array(vec![
        Mp::from(uid),
        packet_to_mp(broadcast, true)?,
        options_to_mp(&broadcast.options, true),
    ]);
    Ok(encode(&message))
}

/// A broadcast that asks for acknowledgements, as a BROADCAST request (MessagePack, as Node
/// writes it): `{uid, requestId, type, packet, opts: {rooms, except, flags: {timeout}}}`.
pub(crate) fn encode_ack_request(
    uid: &str,
    request_id: &str,
    broadcast: &ClusterBroadcast,
    timeout_ms: u64,
) -> Result<Vec<u8>, WireError> {
    let opts = options_with_timeout(&broadcast.options, timeout_ms);
    let message = Mp::Map(vec![
        (Mp::from("uid"), Mp::from(uid)),
        (Mp::from("requestId"), Mp::from(request_id)),
        (Mp::from("type"), Mp::from(request_type::BROADCAST)),
        // Every node gives the packet an ack id of its own.
        (Mp::from("packet"), packet_to_mp(broadcast, false)?),
        (Mp::from("opts"), opts),
    ]);
    Ok(encode(&message))
}

/// A BROADCAST request of another node.
#[derive(Debug)]
pub(crate) struct AckRequest {
    pub(crate) uid: String,
    pub(crate) request_id: String,
    pub(crate) broadcast: ClusterBroadcast,
    /// `opts.flags.timeout`, in milliseconds.
    pub(crate) timeout_ms: Option<u64>,
}

/// A BROADCAST request, or `None` for a message of another kind.
pub(crate) fn decode_ack_request(bytes: &[u8]) -> Option<Result<AckRequest, WireError>> {
    if bytes.first() == Some(&b'{') {
        return None;
    }
    let value = decode(bytes).ok()?;
    if field(&value, "type").and_then(Mp::as_u64) != Some(request_type::BROADCAST) {
        return None;
    }
    Some((|| {
        let text = |key: &str| {
            field(&value, key)
                .and_then(as_string)
                .ok_or_else(|| WireError::new(format!("no {key}")))
        };
        let (uid, request_id) = (text("uid")?, text("requestId")?);
        let packet = field(&value, "packet").ok_or_else(|| WireError::new("no packet"))?;
        let (nsp, mut packet) = packet_from_mp(packet)?;
        packet.id = None;
        let opts = field(&value, "opts").cloned().unwrap_or(Mp::Nil);
        let options = options_from_mp(&opts)?;
        let timeout_ms = timeout_of_options(&opts);
        let encoded = packet.encode();
        let mut broadcast = ClusterBroadcast::new(&nsp, options, encoded.text);
        broadcast.attachments = encoded.attachments;
        Ok(AckRequest {
            uid,
            request_id,
            broadcast,
            timeout_ms,
        })
    })())
}

/// A BROADCAST_ACK response: `{type, requestId, packet}` in MessagePack, as Node writes it.
pub(crate) fn encode_ack_response(request_id: &str, ack: &Value) -> Vec<u8> {
    encode(&Mp::Map(vec![
        (Mp::from("type"), Mp::from(request_type::BROADCAST_ACK)),
        (Mp::from("requestId"), Mp::from(request_id)),
        (Mp::from("packet"), msgpack::from_json(ack, &[])),
    ]))
}

/// A Node packet object `{type, data, nsp}` (and `id` when `with_id`) for a broadcast.
pub(crate) fn packet_to_mp(broadcast: &ClusterBroadcast, with_id: bool) -> Result<Mp, WireError> {
    let packet = decode_packet(broadcast)?;
    // Node's packets are EVENTs (the BINARY_ type is chosen when a packet is written to a
    // client), and carry no ack id on this channel.
    let kind = if packet.kind.is_ack() { 3 } else { 2 };
    let data = match &packet.data {
        Some(payload) => msgpack::from_json(&payload.to_value(), &packet.attachments),
        None => Mp::Nil,
    };
    let mut fields = vec![
        (Mp::from("type"), Mp::from(kind)),
        (Mp::from("data"), data),
        (Mp::from("nsp"), Mp::from(packet.nsp.as_str())),
    ];
    if let Some(id) = packet.id.filter(|_| with_id) {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    Ok(Mp::Map(fields))
}

/// `{rooms, except, flags}` as Node writes it (`flags` only when `with_flags`).
pub(crate) fn options_to_mp(options: &BroadcastOptions, with_flags: bool) -> Mp {
    let rooms = |rooms: &[Room]| Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect());
    let mut fields = vec![
        (Mp::from("rooms"), rooms(&options.rooms)),
        (Mp::from("except"), rooms(&options.except)),
    ];
    if with_flags {
        let mut flags = Vec::new();
        if options.volatile {
            flags.push((Mp::from("volatile"), Mp::Boolean(true)));
        }
        fields.push((Mp::from("flags"), Mp::Map(flags)));
    }
    Mp::Map(fields)
}

/// `{rooms, except, flags: {timeout}}`: the options of a broadcast with acks, with how long
/// the sockets have to answer.
pub(crate) fn options_with_timeout(options: &BroadcastOptions, timeout_ms: u64) -> Mp {
    let mut opts = options_to_mp(options, true);
    if let Mp::Map(fields) = &mut opts {
        for (key, flags) in fields.iter_mut() {
            if key.as_str() == Some("flags") {
                if let Mp::Map(flags) = flags {
                    flags.push((Mp::from("timeout"), Mp::from(timeout_ms)));
                }
            }
        }
    }
    opts
}

/// `opts.flags.timeout` of a broadcast with acks, in milliseconds.
pub(crate) fn timeout_of_options(opts: &Mp) -> Option<u64> {
    field(opts, "flags")
        .and_then(|flags| field(flags, "timeout"))
        .and_then(Mp::as_u64)
}

/// A socket in a fetch answer, as Node writes it: `{id, handshake, rooms, data}`.
pub(crate) fn socket_json(socket: &SocketInfo) -> Value {
    let rooms: Vec<&str> = socket.rooms.iter().map(|r| &**r).collect();
    serde_json::json!({
        "id": socket.id,
        "handshake": socket.handshake,
        "rooms": rooms,
        "data": socket.data,
    })
}

/// The sockets of a fetch answer's `sockets`; entries without an id are skipped.
pub(crate) fn sockets_from_json(sockets: &Value) -> Vec<SocketInfo> {
    let Some(list) = sockets.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|socket| {
            let id = socket["id"].as_str()?;
            Some(SocketInfo::new(
                id,
                json_rooms(&socket["rooms"]),
                socket["data"].clone(),
                socket["handshake"].clone(),
            ))
        })
        .collect()
}

/// The uid of a broadcast `[uid, ...]`, read without decoding the rest: every node receives its
/// own broadcasts back from Redis, and decoding them only to drop them was a tenth of the
/// sending node's CPU in a cluster fan-out to 200 sockets. `None` when the bytes do not start
/// that way (`decode_broadcast` then says why).
pub(crate) fn broadcast_uid(bytes: &[u8]) -> Option<&str> {
    let rest = match *bytes.first()? {
        0x90..=0x9f => &bytes[1..],
        0xdc => bytes.get(3..)?,
        0xdd => bytes.get(5..)?,
        _ => return None,
    };
    let (len, rest) = match *rest.first()? {
        marker @ 0xa0..=0xbf => (usize::from(marker & 0x1f), &rest[1..]),
        0xd9 => (usize::from(*rest.get(1)?), rest.get(2..)?),
        0xda => (
            usize::from(u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?])),
            rest.get(3..)?,
        ),
        0xdb => (
            usize::try_from(u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?)).ok()?,
            rest.get(5..)?,
        ),
        _ => return None,
    };
    std::str::from_utf8(rest.get(..len)?).ok()
}

/// Decodes `[uid, packet, opts]`.
pub(crate) fn decode_broadcast(bytes: &[u8]) -> Result<Incoming, WireError> {
    let value = decode(bytes)?;
    let Mp::Array(items) = value else {
        return Err(WireError::new("a broadcast is not an array"));
    };
    let [uid, packet, opts]: [Mp; 3] = items
        .try_into()
        .map_err(|_| WireError::new("a broadcast is not [uid, packet, opts]"))?;
    let uid = as_string(&uid).ok_or_else(|| WireError::new("the uid is not a string"))?;
    let (nsp, packet) = packet_from_mp(&packet)?;
    let options = options_from_mp(&opts)?;
    let encoded = packet.encode();
    let mut broadcast = ClusterBroadcast::new(&nsp, options, encoded.text);
    broadcast.attachments = encoded.attachments;
    Ok(Incoming { uid, broadcast })
}

/// A Node packet object `{type, data, nsp, id?}` as a Socket.IO packet, with its namespace.
pub(crate) fn packet_from_mp(packet: &Mp) -> Result<(String, Packet), WireError> {
    let kind = field(packet, "type")
        .and_then(Mp::as_u64)
        .and_then(|n| u8::try_from(n).ok())
        .and_then(PacketType::from_u8)
        .ok_or_else(|| WireError::new("the packet has no known type"))?;
    let nsp = match field(packet, "nsp") {
        None | Some(Mp::Nil) => "/".to_owned(),
        Some(nsp) => {
            as_string(nsp).ok_or_else(|| WireError::new("the namespace is not a string"))?
        }
    };
    let id = field(packet, "id").and_then(Mp::as_u64);
    let mut attachments = Vec::new();
    let data = match field(packet, "data") {
        Some(data) => mp_to_json(data, &mut attachments)?,
        None => Value::Null,
    };
    let packet = match kind {
        PacketType::Event | PacketType::BinaryEvent => {
            let mut packet = Packet::event(&nsp, data, attachments);
            packet.id = id;
            packet
        }
        PacketType::Ack | PacketType::BinaryAck => {
            let id = id.ok_or_else(|| WireError::new("an ack without id"))?;
            Packet::ack(&nsp, id, data, attachments)
        }
        _ => return Err(WireError::new("only events and acks are broadcast")),
    };
    Ok((nsp, packet))
}

/// `{rooms, except, flags}`; missing parts are empty.
pub(crate) fn options_from_mp(opts: &Mp) -> Result<BroadcastOptions, WireError> {
    let mut options = BroadcastOptions::default();
    for room in room_list(field(opts, "rooms"))? {
        options = options.to(room);
    }
    for room in room_list(field(opts, "except"))? {
        options = options.except(room);
    }
    let volatile = field(opts, "flags")
        .and_then(|flags| field(flags, "volatile"))
        .and_then(Mp::as_bool)
        .unwrap_or(false);
    Ok(options.volatile(volatile))
}

fn room_list(value: Option<&Mp>) -> Result<Vec<Room>, WireError> {
    match value {
        None | Some(Mp::Nil) => Ok(Vec::new()),
        Some(Mp::Array(rooms)) => rooms
            .iter()
            .map(|room| room_name(room).ok_or_else(|| WireError::new("a room is not a string")))
            .collect(),
        Some(_) => Err(WireError::new("rooms are not an array")),
    }
}

/// Node allows numbers as room names; they travel as numbers and name the same room as
/// their decimal text.
fn room_name(value: &Mp) -> Option<Room> {
    match value {
        Mp::Integer(n) => Some(Room::from(n.to_string())),
        Mp::F64(n) => Some(Room::from(n.to_string())),
        other => as_string(other).map(Room::from),
    }
}

/// The value of `key` in a MessagePack map.
pub(crate) fn field<'a>(map: &'a Mp, key: &str) -> Option<&'a Mp> {
    match map {
        Mp::Map(fields) => fields
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

pub(crate) fn as_string(value: &Mp) -> Option<String> {
    match value {
        Mp::String(s) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The text and attachments of an encoded broadcast, decoded back into one packet.
fn decode_packet(broadcast: &ClusterBroadcast) -> Result<Packet, WireError> {
    let error = |e: sockeye_socketio_proto::Error| WireError::new(format!("bad packet: {e}"));
    let mut decoder = Decoder::new(broadcast.attachments.len());
    let mut packet = decoder.feed_text(&broadcast.text).map_err(error)?;
    for attachment in &broadcast.attachments {
        packet = decoder.feed_binary(attachment.clone()).map_err(error)?;
    }
    packet.ok_or_else(|| WireError::new("a packet is missing attachments"))
}

/// MessagePack bytes of a value, every value in its shortest form (as notepack writes it).
pub(crate) fn encode(value: &Mp) -> Vec<u8> {
    msgpack::write(value)
}

/// One MessagePack value that must span all of `bytes`.
pub(crate) fn decode(bytes: &[u8]) -> Result<Mp, WireError> {
    msgpack::read(bytes, MAX_DEPTH).map_err(|e| WireError::new(e.to_string()))
}

/// MessagePack as JSON, each `bin` a placeholder into `attachments`.
pub(crate) fn mp_to_json(value: &Mp, attachments: &mut Vec<Bytes>) -> Result<Value, WireError> {
    msgpack::to_json(value, attachments, 0).map_err(|e| WireError::new(e.to_string()))
}

/// The request types of `@socket.io/redis-adapter` (its `RequestType` enum).
pub(crate) mod request_type {
    pub(crate) const SOCKETS: u64 = 0;
    pub(crate) const ALL_ROOMS: u64 = 1;
    pub(crate) const REMOTE_JOIN: u64 = 2;
    pub(crate) const REMOTE_LEAVE: u64 = 3;
    pub(crate) const REMOTE_DISCONNECT: u64 = 4;
    pub(crate) const REMOTE_FETCH: u64 = 5;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 6;
    pub(crate) const BROADCAST: u64 = 7;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub(crate) const BROADCAST_ACK: u64 = 9;
}

/// A request or response: JSON when it starts with `{`, MessagePack otherwise (Node writes
/// those that carry binary in MessagePack), both read as JSON.
pub(crate) fn decode_request(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).map_err(|e| WireError::new(format!("bad JSON: {e}")));
    }
    let value = decode(bytes)?;
    let mut attachments = Vec::new();
    mp_to_json(&value, &mut attachments)
}

/// `{rooms, except}` of a request, as JSON.
pub(crate) fn options_json(options: &BroadcastOptions) -> Value {
    let rooms = |rooms: &[Room]| Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect());
    serde_json::json!({"rooms": rooms(&options.rooms), "except": rooms(&options.except)})
}

/// The options of a request's `opts` (`{rooms, except}`).
pub(crate) fn options_from_json(opts: &Value) -> BroadcastOptions {
    let mut options = BroadcastOptions::default();
    for room in json_rooms(&opts["rooms"]) {
        options = options.to(room);
    }
    for room in json_rooms(&opts["except"]) {
        options = options.except(room);
    }
    options
}

/// Room names in a JSON array; numbers name the room of their decimal text, as in Node.
pub(crate) fn json_rooms(value: &Value) -> Vec<Room> {
    value
        .as_array()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|room| match room {
                    Value::String(s) => Some(Room::from(s.as_str())),
                    Value::Number(n) => Some(Room::from(n.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_socketio_proto::binary::placeholder;

    #[test]
    fn the_uid_is_read_without_decoding_the_rest() {
        let b = broadcast(r#"2["fan",{"s":1}]"#, vec![], BroadcastOptions::default());
        let message = encode_broadcast("uid-1", &b).expect("encodes");
        assert_eq!(broadcast_uid(&message), Some("uid-1"));
        // A long uid takes a str8, str16 or str32 header; the array an array16 header.
        for len in [31, 32, 255, 256, 70_000] {
            let uid = "u".repeat(len);
            let message = encode(&Mp::Array(vec![Mp::from(uid.as_str()), Mp::Nil, Mp::Nil]));
            assert_eq!(
                broadcast_uid(&message),
                Some(uid.as_str()),
                "uid of {len} bytes"
            );
        }
        let items: Vec<Mp> = std::iter::once(Mp::from("many"))
            .chain((0..20).map(Mp::from))
            .collect();
        assert_eq!(broadcast_uid(&encode(&Mp::Array(items))), Some("many"));
        // Not an array, a uid that is not a string, or cut short: not read.
        assert_eq!(broadcast_uid(&encode(&Mp::from("uid-1"))), None);
        assert_eq!(broadcast_uid(&encode(&Mp::Array(vec![Mp::from(7)]))), None);
        assert_eq!(broadcast_uid(&message[..3]), None);
        assert_eq!(broadcast_uid(&[]), None);
        assert_eq!(broadcast_uid(&[0x93, 0xa3, 0xff, 0xfe, 0xfd]), None);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn broadcast(
        text: &str,
        attachments: Vec<Bytes>,
        options: BroadcastOptions,
    ) -> ClusterBroadcast {
        let mut broadcast = ClusterBroadcast::new("/", options, text.to_owned());
        broadcast.attachments = attachments;
        broadcast
    }

    // The expected bytes were written by notepack.io 3.0 (the encoder of
    // @socket.io/redis-adapter 8.3), from tests/js:
    //   node -e 'const m=require("notepack.io");
    //     console.log(m.encode(["abc123",{type:2,data:["hello","world",1,-5,1.5,300,null,true],nsp:"/"},
    //       {rooms:[],except:[],flags:{}}]).toString("hex"))'
    #[test]
    fn a_broadcast_is_written_as_notepack_writes_it() {
        let b = broadcast(
            r#"2["hello","world",1,-5,1.5,300,null,true]"#,
            vec![],
            BroadcastOptions::default(),
        );
        let bytes = encode_broadcast("abc123", &b).expect("encodes");
        assert_eq!(
            hex(&bytes),
            "93a6616263313233\
             83a47479706502a46461746198a568656c6c6fa5776f726c6401fbcb3ff8000000000000cd012cc0c3a36e7370a12f\
             83a5726f6f6d7390a665786365707490a5666c61677380"
        );
    }

    //   node -e 'const m=require("notepack.io");
    //     console.log(m.encode(["abc123",{type:2,data:["file",{name:"a",content:Buffer.from([1,2,3])}],nsp:"/"},
    //       {rooms:["r1"],except:["x"],flags:{volatile:true}}]).toString("hex"))'
    #[test]
    fn binary_travels_as_bin_and_options_as_node_writes_them() {
        let options = BroadcastOptions::default()
            .to("r1")
            .except("x")
            .volatile(true);
        let b = broadcast(
            r#"51-["file",{"name":"a","content":{"_placeholder":true,"num":0}}]"#,
            vec![Bytes::from_static(&[1, 2, 3])],
            options.clone(),
        );
        let bytes = encode_broadcast("abc123", &b).expect("encodes");
        assert_eq!(
            hex(&bytes),
            "93a6616263313233\
             83a47479706502a46461746192a466696c6582a46e616d65a161a7636f6e74656e74c403010203a36e7370a12f\
             83a5726f6f6d7391a27231a665786365707491a178a5666c61677381a8766f6c6174696c65c3"
        );
        let incoming = decode_broadcast(&bytes).expect("decodes");
        assert_eq!(incoming.uid, "abc123");
        assert_eq!(incoming.broadcast.options, options);
        assert_eq!(incoming.broadcast.text, b.text);
        assert_eq!(incoming.broadcast.attachments, b.attachments);
    }

    //   node -e 'console.log(require("notepack.io").encode([2.0,1e3,2**40,-(2**40),2**53+2]).toString("hex"))'
    #[test]
    fn numbers_take_notepacks_shortest_forms() {
        let value: Value =
            serde_json::from_str("[2.0,1e3,1099511627776,-1099511627776,9007199254740994]")
                .expect("json");
        assert_eq!(
            hex(&encode(&msgpack::from_json(&value, &[]))),
            "9502cd03e8cf0000010000000000d3ffffff0000000000cf0020000000000002"
        );
    }

    #[test]
    fn a_namespace_and_whole_floats_are_kept() {
        let mut b = broadcast(
            r#"2/chat,["n",2.0,-1e3]"#,
            vec![],
            BroadcastOptions::default(),
        );
        b.nsp = "/chat".into();
        let bytes = encode_broadcast("u", &b).expect("encodes");
        let incoming = decode_broadcast(&bytes).expect("decodes");
        assert_eq!(incoming.broadcast.nsp, "/chat");
        assert_eq!(incoming.broadcast.text, r#"2/chat,["n",2,-1000]"#);
    }

    //   node -e 'const m=require("notepack.io");
    //     console.log(m.encode({uid:"abc123",requestId:"req001",type:7,
    //       packet:{type:2,data:["ask","q"],nsp:"/"},
    //       opts:{rooms:["r"],except:[],flags:{timeout:5000}}}).toString("hex"));
    //     console.log(m.encode({type:9,requestId:"req001",packet:"yes"}).toString("hex"))'
    #[test]
    fn broadcasts_with_acks_are_written_as_notepack_writes_them() {
        let b = broadcast(
            r#"212["ask","q"]"#,
            vec![],
            BroadcastOptions::default().to("r"),
        );
        let bytes = encode_ack_request("abc123", "req001", &b, 5000).expect("encodes");
        assert_eq!(
            hex(&bytes),
            "85a3756964a6616263313233a9726571756573744964a6726571303031a47479706507\
             a67061636b657483a47479706502a46461746192a361736ba171a36e7370a12f\
             a46f70747383a5726f6f6d7391a172a665786365707490a5666c61677381a774696d656f7574cd1388"
        );
        let request = decode_ack_request(&bytes)
            .expect("a request")
            .expect("decodes");
        assert_eq!(
            (request.uid.as_str(), request.request_id.as_str()),
            ("abc123", "req001")
        );
        assert_eq!(request.timeout_ms, Some(5000));
        assert_eq!(request.broadcast.text, r#"2["ask","q"]"#);
        assert_eq!(request.broadcast.options.rooms, [Room::from("r")]);
        assert_eq!(
            hex(&encode_ack_response("req001", &Value::from("yes"))),
            "83a47479706509a9726571756573744964a6726571303031a67061636b6574a3796573"
        );
        assert!(decode_ack_request(br#"{"type":7}"#).is_none());
    }

    #[test]
    fn requests_are_json_or_messagepack() {
        let json = decode_request(br#"{"uid":"abc","type":1,"requestId":"r"}"#).expect("json");
        assert_eq!(json["type"], 1);
        // node -e 'console.log(require("notepack.io").encode({uid:"abc",type:5}).toString("hex"))'
        let bytes = [
            0x82, 0xa3, b'u', b'i', b'd', 0xa3, b'a', b'b', b'c', 0xa4, b't', b'y', b'p', b'e',
            0x05,
        ];
        assert_eq!(
            decode_request(&bytes).expect("msgpack"),
            serde_json::json!({"uid": "abc", "type": 5})
        );
        assert!(decode_request(b"{not json").is_err());
        let options = options_from_json(&serde_json::json!({"rooms": ["a", 7], "except": ["b"]}));
        assert_eq!(
            options,
            BroadcastOptions::default().to("a").to("7").except("b")
        );
        assert_eq!(
            options_json(&options),
            serde_json::json!({"rooms": ["a", "7"], "except": ["b"]})
        );
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xc1],
            vec![0x93],
            vec![0xdd, 0xff, 0xff, 0xff, 0xff],
            vec![0x93, 0xa1, b'u', 0x80, 0x80],
            vec![0x93, 0x01, 0x80, 0x80],
            [vec![0x91; 200], vec![0xc0]].concat(),
            vec![
                0x93, 0xa1, b'u', 0x81, 0xa4, b't', b'y', b'p', b'e', 0x02, 0x81, 0xa5, b'r', b'o',
                b'o', b'm', b's', 0x07,
            ],
        ];
        for case in cases {
            assert!(decode_broadcast(&case).is_err(), "{}", hex(&case));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_broadcast(&bytes);
            let _ = broadcast_uid(&bytes);
            let _ = decode_request(&bytes);
            let _ = decode_ack_request(&bytes);
        }

        #[test]
        fn broadcasts_round_trip(
            words in proptest::collection::vec("[a-z\\u{e9}\"]{0,40}", 1..5),
            numbers in proptest::collection::vec(proptest::num::i64::ANY, 0..4),
            blob in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            rooms in proptest::collection::vec("[a-z0-9]{1,8}", 0..3),
            volatile in proptest::bool::ANY,
        ) {
            let mut data: Vec<Value> = words.into_iter().map(Value::from).collect();
            data.extend(numbers.into_iter().map(Value::from));
            data.push(placeholder(0));
            let packet = Packet::event("/", Value::Array(data), vec![Bytes::from(blob)]);
            let encoded = packet.encode();
            let mut options = BroadcastOptions::default().volatile(volatile);
            for room in &rooms {
                options = options.to(room.as_str());
            }
            let b = broadcast(&encoded.text, encoded.attachments.clone(), options.clone());
            let incoming = decode_broadcast(&encode_broadcast("u", &b).expect("encodes")).expect("decodes");
            proptest::prop_assert_eq!(incoming.broadcast.text, encoded.text);
            proptest::prop_assert_eq!(incoming.broadcast.attachments, encoded.attachments);
            proptest::prop_assert_eq!(incoming.broadcast.options, options);
        }
    }
}
