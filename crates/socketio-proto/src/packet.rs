//! Socket.IO packets and their text encoding.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::binary::check_placeholders;
use crate::validate::{ack_id_is_valid, namespace_is_valid, payload_is_valid};
use crate::{Args, Error, Payload, Str};

/// The main namespace, which the wire format leaves implicit.
pub const MAIN_NAMESPACE: &str = "/";

/// The type of a Socket.IO packet; the discriminant is the digit that starts its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Connection to a namespace (request from the client, acceptance from the server).
    Connect = 0,
    /// Disconnection from a namespace.
    Disconnect = 1,
    /// An event without binary attachments.
    Event = 2,
    /// An acknowledgement without binary attachments.
    Ack = 3,
    /// The server refuses the connection to a namespace.
    ConnectError = 4,
    /// An event with binary attachments.
    BinaryEvent = 5,
    /// An acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit value (`0`..=`6`).
    ///
    /// ```
    /// use sockeye_socketio_proto::PacketType;
    /// assert_eq!(PacketType::from_u8(5), Some(PacketType::BinaryEvent));
    /// assert_eq!(PacketType::from_u8(7), None);
    /// ```
    pub fn from_u8(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Connect,
            1 => PacketType::Disconnect,
            2 => PacketType::Event,
            3 => PacketType::Ack,
            4 => PacketType::ConnectError,
            5 => PacketType::BinaryEvent,
            6 => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The digit this type is written as.
    pub fn as_char(self) -> char {
        // The discriminants are 0..=6, so this is always an ASCII digit.
        char::from(b'0' + self as u8)
    }

    /// `BINARY_EVENT` or `BINARY_ACK`: the types whose encoding carries an attachment count.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }

    /// `EVENT` or `BINARY_EVENT`.
    pub fn is_event(self) -> bool {
        matches!(self, PacketType::Event | PacketType::BinaryEvent)
    }

    /// `ACK` or `BINARY_ACK`.
    pub fn is_ack(self) -> bool {
        matches!(self, PacketType::Ack | PacketType::BinaryAck)
    }
}

impl TryFrom<u8> for PacketType {
    type Error = Error;

    fn try_from(n: u8) -> Result<Self, Error> {
        PacketType::from_u8(n).ok_or(Error::InvalidPacketType)
    }
}

/// A Socket.IO packet.
///
/// `data` holds JSON with binary values as placeholders `{"_placeholder":true,"num":i}`;
/// `attachments[i]` is the i-th binary value. Use [`crate::to_value`] and
/// [`crate::from_value`] to move between Rust values and this representation.
///
/// The payload is JSON text ([`Payload`]): a decoded packet keeps the text it arrived in, and a
/// packet built from a [`Value`] holds its serialisation, so encoding copies text.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace; `"/"` when absent on the wire. Socket.IO v4 clients append the
    /// connection query to it (`"/admin?token=1"`), see [`crate::v4::split_query`].
    pub nsp: String,
    /// The acknowledgement id.
    pub id: Option<u64>,
    /// The payload, with binary values replaced by placeholders.
    pub data: Option<Payload>,
    /// The binary values the placeholders in `data` refer to.
    pub attachments: Vec<Bytes>,
}

/// A packet ready to send: one Engine.IO text message, then each attachment as one
/// Engine.IO binary message, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The text of the first Engine.IO message.
    pub text: String,
    /// The binary messages to send right after `text`.
    pub attachments: Vec<Bytes>,
}

impl Packet {
    /// A `CONNECT` packet: from a client with its optional auth payload, or from the server
    /// accepting the connection with `{"sid": ...}`.
    ///
    /// ```
    /// use sockeye_socketio_proto::{Packet, Value};
    /// let reply = Packet::connect("/admin", Some(serde_json::json!({"sid": "abc"})));
    /// assert_eq!(reply.encode().text, r#"0/admin,{"sid":"abc"}"#);
    /// ```
    pub fn connect(nsp: &str, auth: Option<Value>) -> Packet {
        Packet::new(
            PacketType::Connect,
            nsp,
            None,
            auth.map(Payload::from),
            Vec::new(),
        )
    }

    /// A `DISCONNECT` packet.
    pub fn disconnect(nsp: &str) -> Packet {
        Packet::new(PacketType::Disconnect, nsp, None, None, Vec::new())
    }

    /// An event; `data` should be an array `[name, ...args]`. The type is `BINARY_EVENT`
    /// exactly when there are attachments.
    ///
    /// ```
    /// use sockeye_socketio_proto::Packet;
    /// let p = Packet::event("/", serde_json::json!(["hey", "Jude"]), vec![]);
    /// assert_eq!(p.encode().text, r#"2["hey","Jude"]"#);
    /// assert_eq!(p.event_name().as_deref(), Some("hey"));
    /// ```
    pub fn event(nsp: &str, data: Value, attachments: Vec<Bytes>) -> Packet {
        let kind = if attachments.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        Packet::new(kind, nsp, None, Some(Payload::from(data)), attachments)
    }

    /// An acknowledgement of event `id`; `data` is the array of arguments. The type is
    /// `BINARY_ACK` exactly when there are attachments.
    pub fn ack(nsp: &str, id: u64, data: Value, attachments: Vec<Bytes>) -> Packet {
        let kind = if attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        Packet::new(kind, nsp, Some(id), Some(Payload::from(data)), attachments)
    }

    /// A `CONNECT_ERROR` with payload `{"message": message, "data": data}`, the `data` key
    /// present only when `data` is `Some`. For protocol v4 clients use
    /// [`crate::v4::connect_error`].
    ///
    /// ```
    /// use sockeye_socketio_proto::Packet;
    /// let p = Packet::connect_error("/", "Not authorized", None);
    /// assert_eq!(p.encode().text, r#"4{"message":"Not authorized"}"#);
    /// ```
    pub fn connect_error(nsp: &str, message: &str, data: Option<Value>) -> Packet {
        let mut payload = Map::new();
        payload.insert("message".to_owned(), Value::String(message.to_owned()));
        if let Some(data) = data {
            payload.insert("data".to_owned(), data);
        }
        Packet::new(
            PacketType::ConnectError,
            nsp,
            None,
            Some(Payload::from(Value::Object(payload))),
            Vec::new(),
        )
    }

    fn new(
        kind: PacketType,
        nsp: &str,
        id: Option<u64>,
        data: Option<Payload>,
        attachments: Vec<Bytes>,
    ) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id,
            data,
            attachments,
        }
    }

    /// Encodes to the text of an Engine.IO message plus the attachments to send after it,
    /// each as one binary message.
    ///
    /// Encoding never fails; it writes the fields as they are. Call [`Packet::validate`]
    /// first if the packet may be malformed. Two adjustments keep the output decodable:
    /// an `EVENT`/`ACK` with attachments is written as `BINARY_EVENT`/`BINARY_ACK`, and
    /// attachments on other types are dropped, since their encoding has no attachment count.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sockeye_socketio_proto::{Packet, binary::placeholder};
    /// let data = serde_json::json!(["baz", placeholder(0)]);
    /// let enc = Packet::event("/", data, vec![Bytes::from_static(&[1, 2, 3, 4])]).encode();
    /// assert_eq!(enc.text, r#"51-["baz",{"_placeholder":true,"num":0}]"#);
    /// assert_eq!(enc.attachments, vec![Bytes::from_static(&[1, 2, 3, 4])]);
    /// ```
    pub fn encode(&self) -> Encoded {
        encode_with(self, self.data.as_ref())
    }

    /// Appends the text [`Packet::encode`] makes to `out`, and returns the attachments to send
    /// after it: for a caller that frames the text itself (after an Engine.IO prefix, say), so
    /// that the packet is written once, straight into its final buffer.
    ///
    /// ```
    /// use sockeye_socketio_proto::Packet;
    /// let p = Packet::ack("/", 7, serde_json::json!(["ok"]), vec![]);
    /// let mut out = b"4".to_vec();
    /// assert!(p.encode_into(&mut out).is_empty());
    /// assert_eq!(out, br#"437["ok"]"#);
    /// ```
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Vec<Bytes> {
        write_packet(self, self.data.as_ref(), out)
    }

    /// For an event packet, the event name (`data[0]` as a string, decoded), if any. It shares
    /// the packet's buffer unless it holds escapes.
    pub fn event_name(&self) -> Option<Str> {
        if !self.kind.is_event() {
            return None;
        }
        self.data.as_ref()?.first_string()
    }

    /// The arguments of an event (after its name, `data[1..]`) or of an acknowledgement
    /// (`data`); `None` for other packets.
    ///
    /// ```
    /// use sockeye_socketio_proto::Decoder;
    /// let packet = Decoder::default().feed_text(r#"2["chat","hi",{"to":"all"}]"#)?.unwrap();
    /// assert_eq!(packet.args().unwrap().to_json(), r#"["hi",{"to":"all"}]"#);
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    pub fn args(&self) -> Option<Args> {
        let skip = match self.kind {
            kind if kind.is_event() => 1,
            kind if kind.is_ack() => 0,
            _ => return None,
        };
        self.data.as_ref()?.args(skip)
    }

    /// Appends the text of an event `[name, ...args]` to `out`, as [`Packet::encode_into`]
    /// would write it, without building the packet: the text of each received argument is
    /// copied as it is. With `attachments > 0` it is a `BINARY_EVENT` announcing that many.
    ///
    /// ```
    /// use sockeye_socketio_proto::{Args, Packet};
    /// let args = Args::from_json(r#"[1,{"a":"b"}]"#)?;
    /// let mut out = Vec::new();
    /// Packet::encode_event_into(&mut out, "/chat", Some(3), "news", &args, 0);
    /// assert_eq!(out, br#"2/chat,3["news",1,{"a":"b"}]"#);
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    pub fn encode_event_into(
        out: &mut Vec<u8>,
        nsp: &str,
        id: Option<u64>,
        name: &str,
        args: &Args,
        attachments: usize,
    ) {
        let kind = if attachments > 0 {
            PacketType::BinaryEvent
        } else {
            PacketType::Event
        };
        write_header(out, kind, nsp, id, attachments);
        write_event_array(out, name, args);
    }

    /// Appends the text of an event `[name, ...args]` with `data` serialised straight into
    /// `out`, as [`Args::from_data`] then [`Packet::encode_event_into`] would write it (a tuple
    /// is several arguments, `()` none, any other value one), without the arguments' own
    /// buffer. `Bytes` inside `data` become placeholders and join `attachments`; with any, it
    /// is a `BINARY_EVENT` announcing them.
    ///
    /// ```
    /// use sockeye_socketio_proto::Packet;
    /// let (mut out, mut attachments) = (Vec::new(), Vec::new());
    /// Packet::encode_event_data_into(&mut out, "/chat", Some(3), "news", &(1, "a"), &mut attachments)?;
    /// assert_eq!(out, br#"2/chat,3["news",1,"a"]"#);
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Serialize`] when `data` cannot be serialised (`out` is then left as it was).
    pub fn encode_event_data_into<T: serde::Serialize + ?Sized>(
        out: &mut Vec<u8>,
        nsp: &str,
        id: Option<u64>,
        name: &str,
        data: &T,
        attachments: &mut Vec<Bytes>,
    ) -> Result<(), Error> {
        let (header, before) = (out.len(), attachments.len());
        // Written as a plain EVENT; made a BINARY_EVENT below once the attachments are known.
        write_header(out, PacketType::Event, nsp, id, 0);
        out.push(b'[');
        // Serialising a `str` to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, name);
        let spread = crate::tuple::is_tuple(data);
        if let Err(error) = crate::args::write_arg_items(out, data, spread, attachments) {
            out.truncate(header);
            attachments.truncate(before);
            return Err(error);
        }
        out.push(b']');
        let count = attachments.len() - before;
        if count > 0 {
            out[header] = b'0' + PacketType::BinaryEvent as u8;
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(count);
            let at = header + 1;
            out.splice(at..at, digits.bytes().chain(std::iter::once(b'-')));
        }
        Ok(())
    }

    /// An event named `name` carrying `args`, whose placeholders refer to `attachments`: like
    /// [`Packet::event`], from arguments already JSON (see [`Args::from_serialize`]).
    ///
    /// ```
    /// use sockeye_socketio_proto::{Args, Packet};
    /// let args = Args::from_serialize(&("Jude", 1), true, &mut Vec::new())?;
    /// let p = Packet::event_with_args("/", "hey", &args, vec![]);
    /// assert_eq!(p.encode().text, r#"2["hey","Jude",1]"#);
    /// assert_eq!(p.event_name().as_deref(), Some("hey"));
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    pub fn event_with_args(nsp: &str, name: &str, args: &Args, attachments: Vec<Bytes>) -> Packet {
        let kind = if attachments.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        let mut text = Vec::with_capacity(name.len() + 64);
        write_event_array(&mut text, name, args);
        let payload = Payload::event(text, name);
        Packet::new(kind, nsp, None, Some(payload), attachments)
    }

    /// Appends the text of an acknowledgement of event `id` carrying `args` to `out`, like
    /// [`Packet::encode_event_into`].
    ///
    /// ```
    /// use sockeye_socketio_proto::{Args, Packet};
    /// let args = Args::from_json(r#"[{"n":1,"msg":"hi"}]"#)?;
    /// let mut out = b"4".to_vec();
    /// Packet::encode_ack_into(&mut out, "/", 7, &args, 0);
    /// assert_eq!(out, br#"437[{"n":1,"msg":"hi"}]"#);
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    pub fn encode_ack_into(out: &mut Vec<u8>, nsp: &str, id: u64, args: &Args, attachments: usize) {
        let kind = if attachments > 0 {
            PacketType::BinaryAck
        } else {
            PacketType::Ack
        };
        write_header(out, kind, nsp, Some(id), attachments);
        args.write_json(out);
    }

    /// Checks that the packet follows the rules the decoder enforces on received packets:
    /// namespace starts with `/` and holds no `,`; ack id present on acks, absent on
    /// connect/disconnect/connect-error; payload shape fits the type; attachments only on
    /// event/ack types, and every placeholder in range.
    ///
    /// ```
    /// use sockeye_socketio_proto::{Error, Packet};
    /// let reserved = Packet::event("/", serde_json::json!(["disconnect"]), vec![]);
    /// assert_eq!(reserved.validate(), Err(Error::InvalidPayload));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !namespace_is_valid(&self.nsp) {
            return Err(Error::InvalidNamespace);
        }
        if !ack_id_is_valid(self.kind, self.id) {
            return Err(Error::InvalidAckId);
        }
        if !payload_is_valid(self.kind, self.data.as_ref().map(Payload::shape)) {
            return Err(Error::InvalidPayload);
        }
        let takes_attachments = self.kind.is_event() || self.kind.is_ack();
        if !self.attachments.is_empty() && !takes_attachments {
            return Err(Error::InvalidPayload);
        }
        if let Some(data) = &self.data {
            check_placeholders(&data.to_value(), self.attachments.len())?;
        }
        Ok(())
    }
}

/// Appends `[name, ...args]`.
fn write_event_array(out: &mut Vec<u8>, name: &str, args: &Args) {
    out.push(b'[');
    // Serialising a `str` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, name);
    let start = out.len();
    args.write_json(out);
    // The arguments' own array continues the one opened before the name: `[a,b]` becomes
    // `,a,b]`, and `[]` becomes `]`.
    if out.len() - start == 2 {
        out.truncate(start);
        out.push(b']');
    } else if let Some(open) = out.get_mut(start) {
        *open = b',';
    }
}

/// Encodes `packet` with `data` standing in for its payload; lets protocol v4 rewrite the
/// payload without cloning the packet.
pub(crate) fn encode_with(packet: &Packet, data: Option<&Payload>) -> Encoded {
    let mut out = Vec::new();
    let attachments = write_packet(packet, data, &mut out);
    // Everything written is UTF-8 (ASCII digits and separators, the namespace, JSON text).
    let text = String::from_utf8(out)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    Encoded { text, attachments }
}

/// Writes `packet`'s text, with `data` standing in for its payload, to `out`; returns the
/// attachments that go after it.
fn write_packet(packet: &Packet, data: Option<&Payload>, out: &mut Vec<u8>) -> Vec<Bytes> {
    let kind = wire_kind(packet);
    write_header(out, kind, &packet.nsp, packet.id, packet.attachments.len());
    if let Some(data) = data {
        out.extend_from_slice(data.as_str().as_bytes());
    }
    if kind.is_binary() {
        packet.attachments.clone()
    } else {
        Vec::new()
    }
}

/// Writes everything before the payload: type, attachment count, namespace, ack id.
fn write_header(
    out: &mut Vec<u8>,
    kind: PacketType,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
) {
    out.push(b'0' + kind as u8);
    if kind.is_binary() {
        write_decimal(out, attachments as u64);
        out.push(b'-');
    }
    // The reference encoder leaves out an empty namespace too, which then reads back as "/".
    if !nsp.is_empty() && nsp != MAIN_NAMESPACE {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        write_decimal(out, id);
    }
}

/// Writes `n` in decimal, without the formatting machinery (which costs more than the rest
/// of an acknowledgement's header).
fn write_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn wire_kind(packet: &Packet) -> PacketType {
    match packet.kind {
        PacketType::Event if !packet.attachments.is_empty() => PacketType::BinaryEvent,
        PacketType::Ack if !packet.attachments.is_empty() => PacketType::BinaryAck,
        kind => kind,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde::Serialize;

    use super::*;

    /// The two ways of writing an emit: the arguments first in a buffer of their own, then
    /// after the header; and straight after the header.
    fn both<T: Serialize + ?Sized>(nsp: &str, id: Option<u64>, data: &T) -> [(String, usize); 2] {
        let mut attachments = Vec::new();
        let args = Args::from_data(data, &mut attachments).unwrap();
        let mut old = b"4".to_vec();
        Packet::encode_event_into(&mut old, nsp, id, "ev", &args, attachments.len());
        let old_count = attachments.len();
        let mut new = b"4".to_vec();
        let mut attachments = Vec::new();
        Packet::encode_event_data_into(&mut new, nsp, id, "ev", data, &mut attachments).unwrap();
        [
            (String::from_utf8(old).unwrap(), old_count),
            (String::from_utf8(new).unwrap(), attachments.len()),
        ]
    }

    #[derive(Serialize)]
    struct File {
        name: &'static str,
        content: Bytes,
    }

    #[test]
    fn event_data_is_written_as_args_then_event_would_write_it() {
        let bin = || Bytes::from_static(&[1, 2, 3]);
        for (nsp, id) in [("/", None), ("/chat", Some(12)), ("/", Some(0))] {
            let cases = [
                both(nsp, id, &()),
                both(nsp, id, &("a", 1)),
                both(nsp, id, &(1,)),
                both(nsp, id, &"one"),
                both(nsp, id, &vec![1, 2]),
                both(nsp, id, &Vec::<u8>::new()),
                both(nsp, id, &serde_json::json!({"m": "hello"})),
                both(nsp, id, &serde_json::Value::Null),
                both(nsp, id, &bin()),
                both(nsp, id, &(bin(), "x", bin())),
                both(
                    nsp,
                    id,
                    &File {
                        name: "f",
                        content: bin(),
                    },
                ),
                both(nsp, id, &vec![bin(); 12]),
                both(nsp, id, &Some(3)),
            ];
            for [old, new] in cases {
                assert_eq!(old, new);
            }
        }
    }

    #[test]
    fn event_data_that_cannot_be_serialised_leaves_the_buffer_as_it_was() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let (mut out, mut attachments) = (b"4".to_vec(), vec![Bytes::from_static(b"x")]);
        let result =
            Packet::encode_event_data_into(&mut out, "/", Some(1), "ev", &map, &mut attachments);
        assert!(matches!(result, Err(Error::Serialize(_))));
        assert_eq!(out, b"4");
        assert_eq!(attachments.len(), 1);
    }
}
