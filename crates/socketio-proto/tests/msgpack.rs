//! The MessagePack parser against the bytes npm `socket.io-msgpack-parser` writes
//! (`msgpack_vectors.txt`, made by `tests/js/msgpack-vectors.mjs`): our encoder writes the
//! same bytes for the same packet, and our decoder reads Node's.

use bytes::Bytes;
use serde_json::json;
use sockeye_socketio_proto::binary::placeholder;
use sockeye_socketio_proto::{Packet, PacketType, Parser, msgpack};

/// `(name, length, hex)`: the whole packet's hex, or for a long one only its start.
fn vectors() -> Vec<(&'static str, usize, &'static str)> {
    include_str!("msgpack_vectors.txt")
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts[..] {
                [name, hex] => (name, hex.len() / 2, hex),
                [name, length, hex] => (name, length.parse().unwrap_or(0), hex),
                _ => panic!("bad vector line {line}"),
            }
        })
        .collect()
}

fn vector(name: &str) -> (usize, Vec<u8>) {
    let (_, length, hex) = vectors()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no vector {name}"));
    (length, unhex(hex))
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex")))
        .collect()
}

/// The packets our side writes, by vector name.
fn our_packets() -> Vec<(&'static str, Packet)> {
    let bin = |bytes: &[u8]| Bytes::copy_from_slice(bytes);
    let mut with_id = Packet::event("/chat", json!(["chat", "hi"]), vec![]);
    with_id.id = Some(7);
    vec![
        (
            "numbers",
            Packet::event(
                "/",
                json!([
                    "n",
                    0,
                    1,
                    127,
                    128,
                    255,
                    256,
                    65535,
                    65536,
                    4294967295u64,
                    4294967296u64,
                    9007199254740991u64,
                    -1,
                    -32,
                    -33,
                    -128,
                    -129,
                    -32768,
                    -32769,
                    -2147483648i64,
                    -2147483649i64,
                    -9007199254740991i64,
                    1.5,
                    -0.25,
                    1e-300,
                    0.1
                ]),
                vec![],
            ),
        ),
        (
            "strings",
            Packet::event(
                "/",
                json!([
                    "s",
                    "",
                    "x".repeat(31),
                    "x".repeat(32),
                    "x".repeat(255),
                    "x".repeat(256),
                    "h\u{e9}\u{1F600}"
                ]),
                vec![],
            ),
        ),
        (
            "scalars",
            Packet::event("/", json!(["v", true, false, null, [], {}]), vec![]),
        ),
        (
            "containers",
            Packet::event(
                "/",
                json!([
                    "c",
                    (0..16).collect::<Vec<u32>>(),
                    (0..16).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>(),
                    {"b": 1, "a": [2]}
                ]),
                vec![],
            ),
        ),
        ("event_with_id", with_id),
        (
            "binary",
            Packet::event(
                "/",
                json!(["bin", placeholder(0), {"deep": placeholder(1)}]),
                vec![bin(&[1, 2, 3]), bin(&[9; 300])],
            ),
        ),
        (
            "long_string",
            Packet::event("/", json!(["s", "x".repeat(65536)]), vec![]),
        ),
        (
            "big_binary",
            Packet::event("/", json!(["bin", placeholder(0)]), vec![bin(&[1; 70000])]),
        ),
        ("ack", Packet::ack("/", 300, json!([{"ok": true}]), vec![])),
        (
            "binary_ack",
            Packet::ack("/files", 1, json!([placeholder(0)]), vec![bin(b"ok")]),
        ),
        (
            "connect",
            Packet::connect("/", Some(json!({"sid": "abc", "pid": "p1"}))),
        ),
        (
            "connect_error",
            Packet::connect_error("/admin", "Not authorized", Some(json!({"code": 42}))),
        ),
        (
            "connect_error_no_data",
            Packet::connect_error("/nope", "Invalid namespace", None),
        ),
        ("disconnect", Packet::disconnect("/")),
    ]
}

#[test]
fn we_write_the_bytes_node_writes() {
    for (name, packet) in our_packets() {
        let (length, expected) = vector(name);
        let ours = msgpack::encode(&packet);
        assert_eq!(ours.len(), length, "{name}: length");
        assert_eq!(&ours[..expected.len()], &expected[..], "{name}: bytes");
        // A long packet's vector holds its start; the rest is the repeated byte, then
        // `nsp: "/"`.
        if expected.len() < length {
            let fill = *expected.last().unwrap();
            let (middle, end) = ours[expected.len()..].split_at(length - expected.len() - 6);
            assert!(middle.iter().all(|b| *b == fill), "{name}");
            assert_eq!(end, b"\xa3nsp\xa1/", "{name}");
        }
        assert_eq!(
            Parser::MsgPack.frames(&packet),
            vec![sockeye_engineio_proto::Frame::binary(ours)],
            "{name}: one binary frame"
        );
    }
}

#[test]
fn we_read_the_packets_node_writes() {
    for (name, expected) in our_packets() {
        let (length, bytes) = vector(name);
        if bytes.len() < length {
            continue;
        }
        let packet = msgpack::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(packet, expected, "{name}");
    }
}

#[test]
fn we_read_what_the_javascript_client_sends() {
    let decode = |name: &str| msgpack::decode(&vector(name).1).unwrap();

    let event = decode("client_event");
    assert_eq!(
        (event.kind, event.nsp.as_str(), event.id),
        (PacketType::Event, "/", Some(0))
    );
    assert_eq!(event.event_name().as_deref(), Some("hello"));
    assert_eq!(event.args().unwrap().to_json(), "[1]");

    let connect = decode("client_connect");
    assert_eq!(
        (connect.kind, connect.nsp.as_str(), connect.data),
        (PacketType::Connect, "/admin", None)
    );

    let auth = decode("client_connect_auth");
    assert_eq!(auth.data.unwrap().to_value(), json!({"token": "abc"}));
}

#[test]
fn the_decoder_takes_binary_messages_only() {
    let mut decoder = Parser::MsgPack.decoder(10);
    let packet = decoder
        .feed_binary(Bytes::from(vector("binary").1))
        .unwrap();
    assert_eq!(packet.unwrap().attachments.len(), 2);
    assert!(!decoder.is_reconstructing());
    assert!(decoder.feed_text(r#"2["a"]"#).is_err());
    assert!(decoder.feed_binary(Bytes::from_static(b"\x93")).is_err());
}
