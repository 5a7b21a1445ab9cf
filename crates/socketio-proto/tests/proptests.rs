//! Property tests: encode/decode round trips, and no input makes the decoder panic.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sockeye_socketio_proto::binary::placeholder;
use sockeye_socketio_proto::{
    Decoder, Packet, PacketType, from_value, from_value_ref, is_reserved_event, to_value,
};

fn nsp() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["/", "/admin", "/a/b", "/ünï", "/x?y=1"]).prop_map(str::to_owned)
}

/// JSON without floats that may not survive text (serde_json's default float parsing is
/// not exact) and without accidental placeholders.
fn json() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![0.5, -1.25, 1e10, 3.0e-5]).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{0,6}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec(("[a-zA-Z]{0,6}", json()), 0..4)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
}

fn event_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z:_ -]{0,12}"
            .prop_filter("reserved", |n| !is_reserved_event(n))
            .prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
    ]
}

fn attachments() -> impl Strategy<Value = Vec<Bytes>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..4)
        .prop_map(|v| v.into_iter().map(Bytes::from).collect())
}

/// Puts a placeholder for each attachment somewhere in `args`, from index `first` on,
/// sometimes wrapped in an object.
fn with_placeholders(mut args: Vec<Value>, first: usize, spots: &[(usize, bool)]) -> Vec<Value> {
    for (num, &(spot, wrap)) in spots.iter().enumerate() {
        let at = first + spot % (args.len() + 1 - first);
        let mut value = placeholder(num);
        if wrap {
            let mut map = Map::new();
            map.insert("file".to_owned(), value);
            value = Value::Object(map);
        }
        args.insert(at, value);
    }
    args
}

fn packet() -> impl Strategy<Value = Packet> {
    let args = prop::collection::vec(json(), 0..4);
    let spots = prop::collection::vec((any::<usize>(), any::<bool>()), 4);
    prop_oneof![
        (nsp(), prop::option::of(object())).prop_map(|(nsp, auth)| Packet::connect(&nsp, auth)),
        nsp().prop_map(|nsp| Packet::disconnect(&nsp)),
        (
            nsp(),
            prop_oneof![object(), any::<String>().prop_map(Value::String)]
        )
            .prop_map(|(nsp, data)| Packet {
                kind: PacketType::ConnectError,
                nsp,
                id: None,
                data: Some(data.into()),
                attachments: Vec::new(),
            }),
        (
            nsp(),
            prop::option::of(any::<u64>()),
            event_name(),
            args.clone(),
            attachments(),
            spots.clone(),
            any::<bool>()
        )
            .prop_map(|(nsp, id, name, args, attachments, spots, binary)| {
                let mut items = vec![name];
                items.extend(args);
                let items = with_placeholders(items, 1, &spots[..attachments.len()]);
                let mut p = Packet::event(&nsp, Value::Array(items), attachments);
                p.id = id;
                // Also BINARY_EVENT with no attachments, which is legal.
                if binary {
                    p.kind = PacketType::BinaryEvent;
                }
                p
            }),
        (
            nsp(),
            any::<u64>(),
            args,
            attachments(),
            spots,
            any::<bool>()
        )
            .prop_map(|(nsp, id, args, attachments, spots, binary)| {
                let items = with_placeholders(args, 0, &spots[..attachments.len()]);
                let mut p = Packet::ack(&nsp, id, Value::Array(items), attachments);
                if binary {
                    p.kind = PacketType::BinaryAck;
                }
                p
            }),
    ]
}

fn decode(text: &str, attachments: &[Bytes]) -> Packet {
    // Generous: the serde round trip produces more attachments than the default limit.
    let mut decoder = Decoder::new(64);
    let mut out = decoder.feed_text(text).expect("text decodes");
    for a in attachments {
        assert!(out.is_none());
        out = decoder.feed_binary(a.clone()).expect("attachment accepted");
    }
    out.expect("packet complete")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Leaf {
    tag: String,
    blob: Bytes,
    maybe: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    leaves: Vec<Leaf>,
    by_key: BTreeMap<String, Vec<Bytes>>,
    optional: Option<Vec<Option<Bytes>>>,
    numbers: Vec<u8>,
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from)
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (any::<String>(), bytes(), prop::option::of(bytes()))
        .prop_map(|(tag, blob, maybe)| Leaf { tag, blob, maybe });
    (
        prop::collection::vec(leaf, 0..4),
        prop::collection::btree_map("[a-z]{0,4}", prop::collection::vec(bytes(), 0..3), 0..3),
        prop::option::of(prop::collection::vec(prop::option::of(bytes()), 0..3)),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(leaves, by_key, optional, numbers)| Tree {
            leaves,
            by_key,
            optional,
            numbers,
        })
}

/// Text that looks enough like packets to get past the first checks.
fn packetish() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "", "0", "1", "2", "3", "4", "5", "6", "51-", "62-/a,", "2/a,",
        ]),
        // No '.', 'e' or 'E': floats may not survive a text round trip with serde_json's
        // default float parsing, and this test compares re-decoded packets.
        "[0-9/,\\-\\[\\]{}\":a-df-z_ ü]{0,40}",
    )
        .prop_map(|(head, tail)| format!("{head}{tail}"))
}

#[derive(Debug, Clone)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        packetish().prop_map(Message::Text),
        any::<String>().prop_map(Message::Text),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Message::Binary),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_round_trip(p in packet()) {
        prop_assert_eq!(p.validate(), Ok(()));
        let encoded = p.encode();
        prop_assert_eq!(&encoded.attachments, &p.attachments);
        let back = decode(&encoded.text, &encoded.attachments);
        prop_assert_eq!(back, p);
    }

    #[test]
    fn decoder_never_panics_on_text(text in any::<String>()) {
        let _ = Decoder::default().feed_text(&text);
    }

    #[test]
    fn decoder_never_panics_on_packetish_text(text in packetish()) {
        let mut decoder = Decoder::new(3);
        if let Ok(Some(p)) = decoder.feed_text(&text) {
            // Whatever decodes is valid and re-encodes to something that decodes the same.
            prop_assert_eq!(p.validate(), Ok(()));
            let again = Decoder::new(3).feed_text(&p.encode().text);
            prop_assert_eq!(again, Ok(Some(p)));
        }
    }

    #[test]
    fn decoder_never_panics_on_message_sequences(
        messages in prop::collection::vec(message(), 0..12),
        max in 0usize..4,
    ) {
        let mut decoder = Decoder::new(max);
        for m in messages {
            let _ = match m {
                Message::Text(t) => decoder.feed_text(&t),
                Message::Binary(b) => decoder.feed_binary(Bytes::from(b)),
            };
        }
    }

    #[test]
    fn serde_bridge_round_trip(t in tree(), already in 0usize..3) {
        let mut attachments = vec![Bytes::from_static(b"pre"); already];
        let json = to_value(&t, &mut attachments).unwrap();
        let back: Tree = from_value(json.clone(), &attachments).unwrap();
        prop_assert_eq!(&back, &t);
        let back: Tree = from_value_ref(&json, &attachments).unwrap();
        prop_assert_eq!(&back, &t);
        // And across the wire, as the arguments of an event.
        let data = Value::Array(vec![Value::from("tree"), json]);
        let encoded = Packet::event("/", data, attachments).encode();
        let p = decode(&encoded.text, &encoded.attachments);
        let (_, back): (String, Tree) = from_value(p.data.unwrap().to_value(), &p.attachments).unwrap();
        prop_assert_eq!(back, t);
    }

    #[test]
    fn from_value_never_panics(v in json(), n in 0usize..3) {
        let attachments = vec![Bytes::from_static(b"a"); n];
        let _ = from_value::<Tree>(v.clone(), &attachments);
        let _ = from_value_ref::<Tree>(&v, &attachments);
        let _ = from_value::<(String, Bytes, Option<Vec<u8>>)>(v, &attachments);
    }
}

/// JSON text for `value` with whitespace sprinkled where JSON allows it.
fn spaced(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a Value serialises")
}

proptest! {
    /// Received arguments kept as text give back the values that were sent, relay
    /// byte-for-byte as the tree path would encode them, and deserialise as the tree does.
    #[test]
    fn raw_args_round_trip(
        nsp in nsp(),
        name in "[a-zA-Z:_ ,\\]\\[\"\\\\é-]{0,12}".prop_filter("reserved", |n| !is_reserved_event(n)),
        args in prop::collection::vec(json(), 0..4),
        id in any::<u64>(),
        pretty in any::<bool>(),
    ) {
        let mut items = vec![Value::String(name.clone())];
        items.extend(args.iter().cloned());
        let text = if pretty {
            let mut text = Packet::event(&nsp, Value::Null, vec![]).encode().text;
            text.truncate(text.len() - "null".len());
            text + &spaced(&Value::Array(items.clone()))
        } else {
            Packet::event(&nsp, Value::Array(items.clone()), vec![]).encode().text
        };
        let packet = Decoder::default().feed_text(&text).expect("decodes").expect("complete");
        let decoded_name = packet.event_name();
        prop_assert_eq!(decoded_name.as_deref(), Some(name.as_str()));
        let raw = packet.args().expect("an event has arguments");
        prop_assert_eq!(raw.len(), args.len());
        prop_assert_eq!(raw.to_values(), args.clone());

        // Relaying: the same bytes as encoding the tree (compact input), and always the same
        // values.
        let mut relayed = Vec::new();
        Packet::encode_event_into(&mut relayed, &nsp, None, &name, &raw, 0);
        let expected = Packet::event(&nsp, Value::Array(items), vec![]).encode().text;
        if !pretty {
            prop_assert_eq!(std::str::from_utf8(&relayed).unwrap(), expected.as_str());
        }
        let again = Decoder::default()
            .feed_text(std::str::from_utf8(&relayed).unwrap())
            .unwrap()
            .unwrap();
        prop_assert_eq!(again.args().unwrap().to_values(), args.clone());

        let mut acked = Vec::new();
        Packet::encode_ack_into(&mut acked, &nsp, id, &raw, 0);
        let ack = Packet::ack(&nsp, id, Value::Array(args.clone()), vec![]);
        if !pretty {
            let expected = ack.encode().text;
            prop_assert_eq!(std::str::from_utf8(&acked).unwrap(), expected.as_str());
        }

        // Deserialising from text agrees with the tree path.
        let from_text: Result<Value, _> = raw.deserialize(&[]);
        let from_tree: Result<Value, _> =
            sockeye_socketio_proto::Args::from(args.clone()).deserialize(&[]);
        prop_assert_eq!(from_text.ok(), from_tree.ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The MessagePack parser: what it writes reads back as the same packet (the same bytes
    /// once written again: binary goes inline, so placeholder numbers do not matter).
    #[test]
    fn msgpack_round_trip(p in packet()) {
        let bytes = sockeye_socketio_proto::msgpack::encode(&p);
        let back = sockeye_socketio_proto::msgpack::decode(&bytes).expect("decodes");
        prop_assert_eq!(&back.nsp, &p.nsp);
        prop_assert_eq!(back.id, p.id);
        prop_assert_eq!(back.attachments.len(), p.attachments.len());
        prop_assert_eq!(back.kind.is_event(), p.kind.is_event());
        prop_assert_eq!(sockeye_socketio_proto::msgpack::encode(&back), bytes);
    }

    /// No bytes make the MessagePack decoder panic; a packet it accepts is valid.
    #[test]
    fn msgpack_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(packet) = sockeye_socketio_proto::msgpack::decode(&bytes) {
            prop_assert!(valid_but_for_literal_placeholders(&packet), "{:?}", packet);
        }
    }

    /// Nor do mutations of valid packets, which reach deeper than random bytes.
    #[test]
    fn msgpack_decode_of_mutated_packets_never_panics(
        p in packet(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = sockeye_socketio_proto::msgpack::encode(&p);
        for (at, byte) in flips {
            let len = bytes.len();
            bytes[at % len] = byte;
        }
        if let Ok(packet) = sockeye_socketio_proto::msgpack::decode(&bytes) {
            prop_assert!(valid_but_for_literal_placeholders(&packet), "{:?}", packet);
        }
    }
}

/// Any MessagePack value, extensions and non-string keys included.
fn msgpack_value() -> impl Strategy<Value = rmpv::Value> {
    use rmpv::Value as Mp;
    let leaf = prop_oneof![
        Just(Mp::Nil),
        any::<bool>().prop_map(Mp::Boolean),
        any::<u64>().prop_map(Mp::from),
        any::<i64>().prop_map(Mp::from),
        any::<f64>().prop_map(Mp::F64),
        any::<f32>().prop_map(Mp::F32),
        any::<String>().prop_map(Mp::from),
        // Strings that may not be UTF-8, as read off the wire.
        prop::collection::vec(any::<u8>(), 0..8).prop_map(|text| {
            let mut bytes = vec![0xa0 | text.len() as u8];
            bytes.extend(text);
            rmpv::decode::read_value(&mut &bytes[..]).unwrap_or(rmpv::Value::Nil)
        }),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Mp::Binary),
        (any::<i8>(), prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(t, d)| Mp::Ext(t, d)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Mp::Array),
            prop::collection::vec((inner.clone(), inner), 0..6).prop_map(Mp::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The decoder writes JSON text straight from the bytes; it gives what converting through
    /// trees (`msgpack::to_json`) gives.
    #[test]
    fn msgpack_decode_matches_the_tree_conversion(value in msgpack_value()) {
        use rmpv::Value as Mp;
        use sockeye_socketio_proto::msgpack;
        let packet = Mp::Map(vec![
            (Mp::from("type"), Mp::from(3)),
            (Mp::from("id"), Mp::from(1)),
            (Mp::from("data"), Mp::Array(vec![value.clone()])),
            (Mp::from("nsp"), Mp::from("/")),
        ]);
        let bytes = msgpack::write(&packet);
        let decoded = msgpack::decode(&bytes).expect("decodes");
        // The value as it travels (rmpv writes a string that is not UTF-8 as `bin`).
        let sent = msgpack::read(&msgpack::write(&value), 64).unwrap();
        let mut attachments = Vec::new();
        let tree = msgpack::to_json(&Mp::Array(vec![sent]), &mut attachments, 1).unwrap();
        prop_assert_eq!(decoded.data.unwrap().to_value(), tree);
        prop_assert_eq!(decoded.attachments, attachments);
    }
}

/// A packet the MessagePack decoder accepts passes `validate`, unless the peer sent a map that
/// looks like a placeholder (left as it is, as the default parser leaves it).
fn valid_but_for_literal_placeholders(packet: &Packet) -> bool {
    use sockeye_socketio_proto::Error;
    match packet.validate() {
        Ok(()) => true,
        Err(Error::PlaceholderOutOfRange { .. } | Error::InvalidPlaceholder) => true,
        Err(_) => false,
    }
}
