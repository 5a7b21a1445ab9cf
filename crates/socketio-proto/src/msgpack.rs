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
use rmp::Marker;
use rmpv::Value as Mp;
use serde_json::{Map, Number, Value};

use crate::binary::{placeholder, placeholder_num};
use crate::validate::{ack_id_is_valid, namespace_is_valid, payload_is_valid};
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
        .map(|data| from_json_text(data.as_str(), &packet.attachments));
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
/// [`Packet::validate`] (but a map the peer sent that looks like a placeholder is left as it
/// is: taking the arguments then fails, as with the default parser). Other keys are ignored
/// (the JavaScript client sends `options` too). An event or acknowledgement with `bin` values
/// gets the `BINARY_` type, their bytes as attachments and placeholders in their places.
///
/// # Errors
/// [`Error::InvalidMsgPack`] for bytes that are not one MessagePack map, the errors of
/// [`Packet::validate`] for a packet that breaks the protocol.
pub fn decode(bytes: &[u8]) -> Result<Packet, Error> {
    let mut input = Input(bytes);
    let fields = match Marker::from_u8(input.u8()?) {
        Marker::FixMap(n) => usize::from(n),
        Marker::Map16 => usize::from(input.u16()?),
        Marker::Map32 => input.len32()?,
        _ => return Err(Error::InvalidMsgPack("a packet is not a map".to_owned())),
    };
    // Straight to JSON text, without a tree in between: the payload into `data`, the other
    // fields, small, into `scratch` and then read as JSON values.
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    let mut attachments = Vec::new();
    let mut scratch = Vec::new();
    for _ in 0..fields {
        scratch.clear();
        let key = match to_json_text(&mut input, &mut scratch, &mut Vec::new(), 1)? {
            Written::Value => serde_json::from_slice::<Value>(&scratch).ok(),
            Written::Undefined => None,
        };
        let key = key.as_ref().and_then(Value::as_str);
        if key == Some("data") {
            let mut text = Vec::with_capacity(bytes.len() + 16);
            attachments.clear();
            data = match to_json_text(&mut input, &mut text, &mut attachments, 1)? {
                Written::Value => Some(text),
                Written::Undefined => None,
            };
            continue;
        }
        scratch.clear();
        let written = to_json_text(&mut input, &mut scratch, &mut Vec::new(), 1)?;
        let field = match key {
            Some("type") => &mut kind,
            Some("nsp") => &mut nsp,
            Some("id") => &mut id,
            _ => continue,
        };
        // notepack's `undefined` (an extension) is a missing key to the npm decoder.
        *field = match written {
            Written::Value => serde_json::from_slice::<Value>(&scratch).ok(),
            Written::Undefined => None,
        };
    }
    if !input.0.is_empty() {
        return Err(Error::InvalidMsgPack(
            "bytes after the MessagePack value".to_owned(),
        ));
    }
    let kind = kind
        .as_ref()
        .and_then(whole_number)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|n| *n <= PacketType::ConnectError as u8)
        .and_then(PacketType::from_u8)
        .ok_or(Error::InvalidPacketType)?;
    let Some(Value::String(nsp)) = nsp else {
        return Err(Error::InvalidNamespace);
    };
    let id = match id {
        None => None,
        Some(id) => Some(whole_number(&id).ok_or(Error::InvalidAckId)?),
    };
    let data = match data {
        // Written from UTF-8 text and ASCII: the check cannot fail.
        Some(text) => Some(Payload::from_json(
            String::from_utf8(text).map_err(|e| Error::InvalidJson(e.to_string()))?,
        )?),
        None => None,
    };
    let kind = match kind {
        PacketType::Event if !attachments.is_empty() => PacketType::BinaryEvent,
        PacketType::Ack if !attachments.is_empty() => PacketType::BinaryAck,
        kind => kind,
    };
    // `Packet::validate` but for its placeholder check, which would parse the payload again:
    // the placeholders were written here, one for each attachment.
    if !namespace_is_valid(&nsp) {
        return Err(Error::InvalidNamespace);
    }
    if !ack_id_is_valid(kind, id) {
        return Err(Error::InvalidAckId);
    }
    if !payload_is_valid(kind, data.as_ref().map(Payload::shape)) {
        return Err(Error::InvalidPayload);
    }
    Ok(Packet {
        kind,
        nsp,
        id,
        data,
        attachments,
    })
}

/// The MessagePack bytes still to read.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.0.len() {
            return Err(Error::InvalidMsgPack("truncated".to_owned()));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Error> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, Error> {
        self.array().map(u64::from_be_bytes)
    }

    fn len32(&mut self) -> Result<usize, Error> {
        usize::try_from(self.u32()?).map_err(|_| Error::InvalidMsgPack("too long".to_owned()))
    }
}

/// Whether [`to_json_text`] wrote a value, or met an extension (notepack's `undefined`),
/// which the caller writes as `null` in an array and leaves out of a map.
enum Written {
    Value,
    Undefined,
}

/// Reads one MessagePack value from `input` and appends it to `out` as JSON text, as
/// [`to_json`] converts it: each `bin` a placeholder, its bytes pushed to `attachments`.
fn to_json_text(
    input: &mut Input<'_>,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
    depth: usize,
) -> Result<Written, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::InvalidMsgPack("nested too deeply".to_owned()));
    }
    let mut digits = itoa::Buffer::new();
    let integer = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
    match Marker::from_u8(input.u8()?) {
        Marker::Null => out.extend_from_slice(b"null"),
        Marker::True => out.extend_from_slice(b"true"),
        Marker::False => out.extend_from_slice(b"false"),
        Marker::FixPos(n) => integer(out, digits.format(n)),
        Marker::FixNeg(n) => integer(out, digits.format(n)),
        Marker::U8 => integer(out, digits.format(input.u8()?)),
        Marker::U16 => integer(out, digits.format(input.u16()?)),
        Marker::U32 => integer(out, digits.format(input.u32()?)),
        Marker::U64 => integer(out, digits.format(input.u64()?)),
        Marker::I8 => integer(out, digits.format(i8::from_be_bytes(input.array()?))),
        Marker::I16 => integer(out, digits.format(i16::from_be_bytes(input.array()?))),
        Marker::I32 => integer(out, digits.format(i32::from_be_bytes(input.array()?))),
        Marker::I64 => integer(out, digits.format(i64::from_be_bytes(input.array()?))),
        Marker::F32 => write_float(out, f64::from(f32::from_bits(input.u32()?))),
        Marker::F64 => write_float(out, f64::from_bits(input.u64()?)),
        marker @ (Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32) => {
            let len = match marker {
                Marker::FixStr(n) => usize::from(n),
                Marker::Str8 => usize::from(input.u8()?),
                Marker::Str16 => usize::from(input.u16()?),
                _ => input.len32()?,
            };
            let text = String::from_utf8_lossy(input.take(len)?);
            // Writing a `str` to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, &*text);
        }
        marker @ (Marker::Bin8 | Marker::Bin16 | Marker::Bin32) => {
            let len = match marker {
                Marker::Bin8 => usize::from(input.u8()?),
                Marker::Bin16 => usize::from(input.u16()?),
                _ => input.len32()?,
            };
            attachments.push(Bytes::copy_from_slice(input.take(len)?));
            out.extend_from_slice(br#"{"_placeholder":true,"num":"#);
            integer(out, digits.format(attachments.len() - 1));
            out.push(b'}');
        }
        marker @ (Marker::FixArray(_) | Marker::Array16 | Marker::Array32) => {
            let len = match marker {
                Marker::FixArray(n) => usize::from(n),
                Marker::Array16 => usize::from(input.u16()?),
                _ => input.len32()?,
            };
            out.push(b'[');
            for i in 0..len {
                if i > 0 {
                    out.push(b',');
                }
                if let Written::Undefined = to_json_text(input, out, attachments, depth + 1)? {
                    out.extend_from_slice(b"null");
                }
            }
            out.push(b']');
        }
        marker @ (Marker::FixMap(_) | Marker::Map16 | Marker::Map32) => {
            let len = match marker {
                Marker::FixMap(n) => usize::from(n),
                Marker::Map16 => usize::from(input.u16()?),
                _ => input.len32()?,
            };
            out.push(b'{');
            let mut first = true;
            for _ in 0..len {
                let start = out.len();
                if !first {
                    out.push(b',');
                }
                let counted = attachments.len();
                let kept = write_key(input, out, depth)?;
                out.push(b':');
                // A value that JSON leaves out (`undefined`), or one under a key JSON cannot
                // name, goes with its key, and so does any binary in it.
                let written = to_json_text(input, out, attachments, depth + 1)?;
                if kept && matches!(written, Written::Value) {
                    first = false;
                } else {
                    out.truncate(start);
                    attachments.truncate(counted);
                }
            }
            out.push(b'}');
        }
        marker @ (Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32) => {
            let len = match marker {
                Marker::FixExt1 => 1,
                Marker::FixExt2 => 2,
                Marker::FixExt4 => 4,
                Marker::FixExt8 => 8,
                Marker::FixExt16 => 16,
                Marker::Ext8 => usize::from(input.u8()?),
                Marker::Ext16 => usize::from(input.u16()?),
                _ => input.len32()?,
            };
            // The type byte, then the data.
            input.take(1)?;
            input.take(len)?;
            return Ok(Written::Undefined);
        }
        Marker::Reserved => return Err(Error::InvalidMsgPack("reserved byte 0xc1".to_owned())),
    }
    Ok(Written::Value)
}

/// Writes a map key as a JSON string: a string as it is, an integer as its decimal text (as
/// JavaScript names a property); `false` (nothing written that is kept) for any other key.
fn write_key(input: &mut Input<'_>, out: &mut Vec<u8>, depth: usize) -> Result<bool, Error> {
    let start = out.len();
    let written = to_json_text(input, out, &mut Vec::new(), depth + 1)?;
    let key = out.get(start..).unwrap_or_default();
    Ok(match (written, key.first()) {
        (Written::Value, Some(b'"')) => true,
        (Written::Value, Some(first))
            if (first.is_ascii_digit() || *first == b'-')
                && key.iter().skip(1).all(u8::is_ascii_digit) =>
        {
            out.insert(start, b'"');
            out.push(b'"');
            true
        }
        _ => false,
    })
}

/// A float as JSON writes it; NaN and the infinities, which JSON cannot hold, as `null` (as
/// `JSON.stringify` does).
fn write_float(out: &mut Vec<u8>, f: f64) {
    match Number::from_f64(f) {
        // Writing a number to a Vec cannot fail.
        Some(n) => {
            let _ = serde_json::to_writer(&mut *out, &n);
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A non-negative whole number, written as an integer or (as JavaScript may) as a float.
fn whole_number(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    if f.fract() == 0.0 && (0.0..9.007_199_254_740_992e15).contains(&f) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some(f as u64);
    }
    None
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

/// [`from_json`] of the JSON `text`, read straight into MessagePack values (without a
/// [`Value`] in between); `nil` for text that is not JSON, which a [`Payload`] never holds.
fn from_json_text(text: &str, attachments: &[Bytes]) -> Mp {
    use serde::de::DeserializeSeed;
    let mut reader = serde_json::Deserializer::from_str(text);
    ToMp(attachments)
        .deserialize(&mut reader)
        .unwrap_or(Mp::Nil)
}

/// Reads one JSON value as MessagePack, placeholders replaced by their attachments.
#[derive(Clone, Copy)]
struct ToMp<'a>(&'a [Bytes]);

impl<'de> serde::de::DeserializeSeed<'de> for ToMp<'_> {
    type Value = Mp;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Mp, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ToMp<'_> {
    type Value = Mp;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E>(self) -> Result<Mp, E> {
        Ok(Mp::Nil)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Mp, E> {
        Ok(Mp::Boolean(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Mp, E> {
        Ok(Mp::from(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Mp, E> {
        Ok(Mp::from(n))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Mp, E> {
        Ok(Number::from_f64(f).map_or(Mp::Nil, |n| number_to_mp(&n)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Mp, E> {
        Ok(Mp::from(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Mp, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Mp::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Mp, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            // A repeated key is written again (the last one wins when read, as in JSON);
            // looking for repeats would make a large map cost its size squared.
            fields.push((Mp::from(&*key), map.next_value_seed(self)?));
        }
        if let Some(bytes) = placeholder_of(&fields).and_then(|num| self.0.get(num)) {
            return Ok(Mp::Binary(bytes.to_vec()));
        }
        Ok(Mp::Map(fields))
    }
}

/// The attachment a map stands for, as [`placeholder_num`] recognises it: `_placeholder`
/// `true` and a whole, non-negative `num` (other keys allowed).
fn placeholder_of(fields: &[(Mp, Mp)]) -> Option<usize> {
    let field = |name: &str| fields.iter().find(|(k, _)| k.as_str() == Some(name));
    if !matches!(field("_placeholder"), Some((_, Mp::Boolean(true)))) {
        return None;
    }
    match field("num") {
        Some((_, Mp::Integer(n))) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
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
