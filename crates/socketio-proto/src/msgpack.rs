//! The MessagePack parser, compatible with npm `socket.io-msgpack-parser`.
//!
//! Every packet is one MessagePack map `{type, data, id, nsp}` sent as one Engine.IO binary
//! message: there are no attachments and no `BINARY_*` types, binary values stay MessagePack
//! `bin` inside `data`. `nsp` is always present (the npm decoder refuses a packet without
//! one), `data` and `id` only when the packet has them. Node's encoder is notepack, which
//! writes every value in its shortest form and a JavaScript number that is a whole number as
//! an integer; [`from_json`] and [`write`] do the same, so both sides produce the same bytes.
//!
//! Inside the crate a packet keeps the representation of the default parser (JSON with
//! placeholders, plus attachments), so the rest of a server or client does not care which
//! parser is in use: [`encode`] puts each attachment back in its placeholder's place as a
//! `bin`, and [`decode`] numbers the `bin` values it meets depth first, as the default parser
//! numbers attachments.
//!
//! ```
//! use bytes::Bytes;
//! use sockeye_socketio_proto::{Packet, PacketType, msgpack, to_value};
//!
//! let mut attachments = Vec::new();
//! let data = to_value(&("file", Bytes::from_static(&[1, 2])), &mut attachments)?;
//! let bytes = msgpack::encode(&Packet::event("/", data, attachments));
//! assert_eq!(
//!     bytes,
//!     b"\x83\xa4type\x02\xa4data\x92\xa4file\xc4\x02\x01\x02\xa3nsp\xa1/"
//! );
//!
//! let packet = msgpack::decode(&bytes)?;
//! assert_eq!(packet.kind, PacketType::BinaryEvent);
//! assert_eq!(packet.event_name().as_deref(), Some("file"));
//! assert_eq!(packet.attachments, vec![Bytes::from_static(&[1, 2])]);
//! # Ok::<(), sockeye_socketio_proto::Error>(())
//! ```

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Number, Value};

use crate::binary::{placeholder, placeholder_num};
use crate::{Decoder, Error, Packet, PacketType, Payload};

/// Nesting deeper than this in a received packet is refused rather than recursed into; it
/// stays below serde_json's own limit, which the JSON written for the packet must pass.
pub const MAX_DEPTH: usize = 100;

/// The bytes of `packet` as `socket.io-msgpack-parser` writes them.
///
/// Like [`Packet::encode`] it writes the fields as they are; `BINARY_EVENT` and `BINARY_ACK`
/// are written as `EVENT` and `ACK`, since binary needs no type of its own here.
pub fn encode(packet: &Packet) -> Vec<u8> {
    let kind = match packet.kind {
        PacketType::BinaryEvent => PacketType::Event,
        PacketType::BinaryAck => PacketType::Ack,
        kind => kind,
    };
    let data = packet
        .data
        .as_ref()
        .map(|data| from_json(&data.to_value(), &packet.attachments));
    // The keys in the order Node's server sets them, so that the bytes are Node's too.
    let mut fields = Vec::with_capacity(4);
    if kind == PacketType::Ack {
        fields.push((Mp::from("id"), Mp::from(packet.id.unwrap_or_default())));
    }
    fields.push((Mp::from("type"), Mp::from(kind as u8)));
    if let Some(data) = data {
        fields.push((Mp::from("data"), data));
    }
    if let (PacketType::Event, Some(id)) = (kind, packet.id) {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    fields.push((Mp::from("nsp"), Mp::from(packet.nsp.as_str())));
    write(&Mp::Map(fields))
}

/// Re-encodes a packet the default parser wrote (`text`, without the Engine.IO message type,
/// and its `attachments`), for code that writes packets as text directly.
///
/// # Errors
/// What [`Decoder::feed_text`] refuses in `text`, or missing attachments.
pub fn encode_text(text: &str, attachments: &[Bytes]) -> Result<Vec<u8>, Error> {
    let mut decoder = Decoder::new(attachments.len());
    let mut packet = decoder.feed_text(text)?;
    for attachment in attachments {
        packet = decoder.feed_binary(attachment.clone())?;
    }
    let packet = packet.ok_or(Error::InvalidAttachmentCount)?;
    Ok(encode(&packet))
}

/// Decodes one packet, checked as the npm decoder checks it (type `0`..=`4`, `nsp` a string,
/// `data` of the shape the type needs, `id` a whole number) and as strictly as
/// [`Packet::validate`]. Keys other than these are ignored (the JavaScript client sends
/// `options` too). An event or acknowledgement with `bin` values gets the `BINARY_` type, its
/// bytes as attachments and placeholders in their places.
///
/// # Errors
/// [`Error::InvalidMsgPack`] for bytes that are not one MessagePack map, the errors of
/// [`Packet::validate`] for a packet that breaks the protocol.
pub fn decode(bytes: &[u8]) -> Result<Packet, Error> {
    let value = read(bytes, MAX_DEPTH)?;
    let Mp::Map(fields) = &value else {
        return Err(Error::InvalidMsgPack("a packet is not a map".to_owned()));
    };
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            // notepack's `undefined` (an extension) is a missing key to the npm decoder.
            .filter(|v| !matches!(v, Mp::Ext(..)))
    };
    let kind = field("type")
        .and_then(whole_number)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|n| *n <= PacketType::ConnectError as u8)
        .and_then(PacketType::from_u8)
        .ok_or(Error::InvalidPacketType)?;
    let nsp = match field("nsp") {
        Some(Mp::String(nsp)) => nsp.as_str().ok_or(Error::InvalidNamespace)?.to_owned(),
        _ => return Err(Error::InvalidNamespace),
    };
    let id = match field("id") {
        None => None,
        Some(id) => Some(whole_number(id).ok_or(Error::InvalidAckId)?),
    };
    let mut attachments = Vec::new();
    let data = match field("data") {
        None => None,
        Some(data) => Some(Payload::from(to_json(data, &mut attachments, 1)?)),
    };
    let kind = match kind {
        PacketType::Event if !attachments.is_empty() => PacketType::BinaryEvent,
        PacketType::Ack if !attachments.is_empty() => PacketType::BinaryAck,
        kind => kind,
    };
    let packet = Packet {
        kind,
        nsp,
        id,
        data,
        attachments,
    };
    packet.validate()?;
    Ok(packet)
}

/// A non-negative whole number, written as an integer or (as JavaScript may) as a float.
fn whole_number(value: &Mp) -> Option<u64> {
    match value {
        Mp::Integer(n) => n.as_u64(),
        Mp::F64(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 9.007_199_254_740_992e15 =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(*f as u64)
        }
        _ => None,
    }
}

/// JSON with placeholders as MessagePack with `bin` values in their places, numbers as
/// notepack writes a JavaScript number.
pub fn from_json(value: &Value, attachments: &[Bytes]) -> Mp {
    match value {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => number_to_mp(n),
        Value::String(s) => Mp::from(s.as_str()),
        Value::Array(items) => Mp::Array(items.iter().map(|v| from_json(v, attachments)).collect()),
        Value::Object(map) => {
            if let Some(bytes) = placeholder_num(value).and_then(|num| attachments.get(num)) {
                return Mp::Binary(bytes.to_vec());
            }
            Mp::Map(
                map.iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), from_json(v, attachments)))
                    .collect(),
            )
        }
    }
}

/// JavaScript has one number type: notepack writes a whole number as the shortest integer,
/// anything else as a float64.
fn number_to_mp(n: &Number) -> Mp {
    if let Some(u) = n.as_u64() {
        return Mp::from(u);
    }
    if let Some(i) = n.as_i64() {
        return Mp::from(i);
    }
    let f = n.as_f64().unwrap_or(0.0);
    // Below 2^63 in magnitude the cast is exact for a whole number.
    if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_776e18 {
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i64;
        return if i >= 0 {
            Mp::from(i.unsigned_abs())
        } else {
            Mp::from(i)
        };
    }
    Mp::F64(f)
}

/// MessagePack as JSON: each `bin` becomes a placeholder, its bytes appended to
/// `attachments` in the order the default parser numbers them (depth first). `depth` is how
/// deep `value` already is; deeper than [`MAX_DEPTH`] is an error.
///
/// What JSON cannot hold becomes what `JSON.stringify` makes of it: a NaN or infinite float
/// `null`, an extension (notepack's `undefined`, a `Date`) `null` in an array and a missing
/// key in a map; integer map keys become their decimal text, other non-string keys are left
/// out.
///
/// # Errors
/// [`Error::InvalidMsgPack`] when nested too deeply.
pub fn to_json(value: &Mp, attachments: &mut Vec<Bytes>, depth: usize) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::InvalidMsgPack("nested too deeply".to_owned()));
    }
    Ok(match value {
        Mp::Nil | Mp::Ext(..) => Value::Null,
        Mp::Boolean(b) => Value::Bool(*b),
        Mp::Integer(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::from(u),
            (None, Some(i)) => Value::from(i),
            (None, None) => Value::Null,
        },
        Mp::F32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Mp::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(s.as_str().map_or_else(
            || String::from_utf8_lossy(s.as_bytes()).into_owned(),
            str::to_owned,
        )),
        Mp::Binary(bytes) => {
            attachments.push(Bytes::copy_from_slice(bytes));
            placeholder(attachments.len() - 1)
        }
        Mp::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| to_json(item, attachments, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(fields) => {
            let mut map = Map::new();
            for (key, value) in fields {
                if matches!(value, Mp::Ext(..)) {
                    continue;
                }
                let key = match key {
                    Mp::String(s) => s.as_str().map_or_else(
                        || String::from_utf8_lossy(s.as_bytes()).into_owned(),
                        str::to_owned,
                    ),
                    Mp::Integer(n) => n.to_string(),
                    _ => continue,
                };
                map.insert(key, to_json(value, attachments, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

/// The MessagePack bytes of `value`, every value in its shortest form (as notepack writes).
pub fn write(value: &Mp) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// One MessagePack value that must span all of `bytes`, nested at most `max_depth` deep.
///
/// # Errors
/// [`Error::InvalidMsgPack`] for anything else.
pub fn read(bytes: &[u8], max_depth: usize) -> Result<Mp, Error> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, max_depth)
        .map_err(|e| Error::InvalidMsgPack(e.to_string()))?;
    if !reader.is_empty() {
        return Err(Error::InvalidMsgPack(
            "bytes after the MessagePack value".to_owned(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_what_the_npm_decoder_refuses() {
        let packet = |fields: Vec<(&str, Mp)>| {
            write(&Mp::Map(
                fields.into_iter().map(|(k, v)| (Mp::from(k), v)).collect(),
            ))
        };
        let event = || Mp::Array(vec![Mp::from("a")]);
        let nsp = || Mp::from("/");
        for (bytes, error) in [
            (write(&Mp::from(1)), "a packet is not a map"),
            (packet(vec![("data", event()), ("nsp", nsp())]), "type"),
            (packet(vec![("type", Mp::from(5)), ("nsp", nsp())]), "type"),
            (
                packet(vec![("type", Mp::from(2)), ("data", event())]),
                "namespace",
            ),
            (
                packet(vec![("type", Mp::from(2)), ("nsp", nsp())]),
                "payload",
            ),
            (
                packet(vec![
                    ("type", Mp::from(1)),
                    ("data", event()),
                    ("nsp", nsp()),
                ]),
                "payload",
            ),
            (
                packet(vec![
                    ("type", Mp::from(2)),
                    ("data", event()),
                    ("id", Mp::from(-1)),
                    ("nsp", nsp()),
                ]),
                "ack id",
            ),
            (
                packet(vec![
                    ("type", Mp::from(3)),
                    ("data", event()),
                    ("nsp", nsp()),
                ]),
                "ack id",
            ),
        ] {
            let message = decode(&bytes).unwrap_err().to_string();
            assert!(message.contains(error), "{message} for {bytes:x?}");
        }
    }

    #[test]
    fn keys_it_does_not_know_and_undefined_values_are_ignored() {
        let bytes = write(&Mp::Map(vec![
            (Mp::from("type"), Mp::from(0)),
            (Mp::from("data"), Mp::Ext(0, vec![0])),
            (Mp::from("options"), Mp::Map(vec![])),
            (Mp::from("nsp"), Mp::from("/admin")),
        ]));
        let packet = decode(&bytes).unwrap();
        assert_eq!(
            (packet.kind, packet.nsp.as_str()),
            (PacketType::Connect, "/admin")
        );
        assert_eq!(packet.data, None);
    }

    #[test]
    fn binary_round_trips_in_place() {
        let data = json!(["up", {"a": placeholder(1)}, [placeholder(0)]]);
        let attachments = vec![Bytes::from_static(b"zero"), Bytes::from_static(b"one")];
        let packet = Packet::ack("/x", 9, data, attachments);
        let decoded = decode(&encode(&packet)).unwrap();
        // Renumbered depth first, as the default parser numbers them.
        assert_eq!(
            decoded.data.unwrap().to_value(),
            json!(["up", {"a": placeholder(0)}, [placeholder(1)]])
        );
        assert_eq!(
            decoded.attachments,
            vec![Bytes::from_static(b"one"), Bytes::from_static(b"zero")]
        );
        assert_eq!(decoded.kind, PacketType::BinaryAck);
    }

    #[test]
    fn text_packets_are_re_encoded() {
        let text = r#"51-/chat,4["b",{"_placeholder":true,"num":0}]"#;
        let bytes = encode_text(text, &[Bytes::from_static(&[7])]).unwrap();
        let packet = decode(&bytes).unwrap();
        assert_eq!((packet.nsp.as_str(), packet.id), ("/chat", Some(4)));
        assert_eq!(packet.attachments, vec![Bytes::from_static(&[7])]);
        assert!(encode_text(text, &[]).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let mut value = Mp::Nil;
        for _ in 0..MAX_DEPTH + 5 {
            value = Mp::Array(vec![value]);
        }
        let bytes = write(&Mp::Map(vec![
            (Mp::from("type"), Mp::from(2)),
            (Mp::from("data"), Mp::Array(vec![Mp::from("a"), value])),
            (Mp::from("nsp"), Mp::from("/")),
        ]));
        assert!(matches!(decode(&bytes), Err(Error::InvalidMsgPack(_))));
    }
}
