//! The byte vectors of the protocol documents, in both directions.

use bytes::Bytes;
use serde_json::json;
use sockeye_socketio_proto::binary::placeholder;
use sockeye_socketio_proto::{Decoder, Packet, PacketType};

/// Encodes `packet`, checks the text and attachments, then decodes them back to `packet`.
fn both_ways(packet: Packet, text: &str, attachments: &[&'static [u8]]) {
    let attachments: Vec<Bytes> = attachments.iter().map(|a| Bytes::from_static(a)).collect();
    let encoded = packet.encode();
    assert_eq!(encoded.text, text);
    assert_eq!(encoded.attachments, attachments);
    assert_eq!(decode(text, &attachments), packet, "decoding {text}");
    assert_eq!(packet.validate(), Ok(()));
}

fn decode(text: &str, attachments: &[Bytes]) -> Packet {
    let mut decoder = Decoder::default();
    let mut out = decoder.feed_text(text).expect("text decodes");
    for a in attachments {
        assert!(out.is_none(), "{text} completed before its attachments");
        out = decoder.feed_binary(a.clone()).expect("attachment accepted");
    }
    assert!(!decoder.is_reconstructing());
    out.expect("packet complete")
}

// v5 document, "Packet encoding" examples.

#[test]
fn connect_main_namespace() {
    both_ways(Packet::connect("/", None), "0", &[]);
}

#[test]
fn connect_custom_namespace_with_sid() {
    both_ways(
        Packet::connect("/admin", Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"}))),
        r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        &[],
    );
}

#[test]
fn connect_error_object() {
    both_ways(
        Packet::connect_error("/", "Not authorized", None),
        r#"4{"message":"Not authorized"}"#,
        &[],
    );
}

#[test]
fn connect_error_with_data_keeps_key_order() {
    let p = Packet::connect_error("/admin", "Not authorized", Some(json!({"z": 1, "a": 2})));
    both_ways(
        p,
        r#"4/admin,{"message":"Not authorized","data":{"z":1,"a":2}}"#,
        &[],
    );
}

#[test]
fn event_main_and_custom_namespace() {
    both_ways(
        Packet::event("/", json!(["foo"]), vec![]),
        r#"2["foo"]"#,
        &[],
    );
    both_ways(
        Packet::event("/admin", json!(["bar"]), vec![]),
        r#"2/admin,["bar"]"#,
        &[],
    );
}

#[test]
fn binary_event_one_attachment() {
    both_ways(
        Packet::event(
            "/",
            json!(["baz", placeholder(0)]),
            vec![Bytes::from_static(&[1, 2, 3, 4])],
        ),
        r#"51-["baz",{"_placeholder":true,"num":0}]"#,
        &[&[1, 2, 3, 4]],
    );
}

#[test]
fn binary_event_two_attachments() {
    both_ways(
        Packet::event(
            "/admin",
            json!(["baz", placeholder(0), placeholder(1)]),
            vec![Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])],
        ),
        r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        &[&[1, 2], &[3, 4]],
    );
}

#[test]
fn event_with_ack_id() {
    let mut p = Packet::event("/", json!(["foo"]), vec![]);
    p.id = Some(12);
    both_ways(p, r#"212["foo"]"#, &[]);
}

#[test]
fn acks() {
    both_ways(Packet::ack("/", 12, json!([]), vec![]), "312[]", &[]);
    both_ways(
        Packet::ack("/admin", 13, json!(["bar"]), vec![]),
        r#"3/admin,13["bar"]"#,
        &[],
    );
}

#[test]
fn binary_ack() {
    both_ways(
        Packet::ack(
            "/",
            15,
            json!(["bar", placeholder(0)]),
            vec![Bytes::from_static(&[1, 2, 3, 4])],
        ),
        r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
        &[&[1, 2, 3, 4]],
    );
}

#[test]
fn disconnect() {
    both_ways(Packet::disconnect("/"), "1", &[]);
    both_ways(Packet::disconnect("/admin"), "1/admin,", &[]);
}

// v5 document, "Sample session" (without the Engine.IO "4" prefix).

#[test]
fn sample_session() {
    both_ways(
        Packet::connect("/", Some(json!({"sid": "wZX3oN0bSVIhsaknAAAI"}))),
        r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
        &[],
    );
    both_ways(
        Packet::event("/", json!(["hey", "Jude"]), vec![]),
        r#"2["hey","Jude"]"#,
        &[],
    );
    both_ways(Packet::connect("/admin", None), "0/admin,", &[]);
    let mut tellme = Packet::event("/admin", json!(["tellme"]), vec![]);
    tellme.id = Some(1);
    both_ways(tellme, r#"2/admin,1["tellme"]"#, &[]);
    both_ways(
        Packet::ack(
            "/admin",
            1,
            json!([placeholder(0)]),
            vec![Bytes::from_static(b"<binary>")],
        ),
        r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
        &[b"<binary>"],
    );
}

// v4 document examples that are also valid v5.

#[test]
fn v4_document_vectors_decode() {
    let d = |t: &str| Decoder::default().feed_text(t).unwrap().unwrap();

    let p = d(r#"2["hello",1]"#);
    assert_eq!(p, Packet::event("/", json!(["hello", 1]), vec![]));

    let p = d(r#"2/admin,456["project:delete",123]"#);
    assert_eq!(p.kind, PacketType::Event);
    assert_eq!(p.nsp, "/admin");
    assert_eq!(p.id, Some(456));
    assert_eq!(
        p.data.as_ref().map(|d| d.to_value()),
        Some(json!(["project:delete", 123]))
    );

    assert_eq!(
        d("3/admin,456[]"),
        Packet::ack("/admin", 456, json!([]), vec![])
    );
    assert_eq!(
        d(r#"4/admin,{"message":"Not authorized"}"#),
        Packet::connect_error("/admin", "Not authorized", None)
    );
    assert_eq!(d("1/admin,"), Packet::disconnect("/admin"));
}

#[test]
fn v4_binary_vectors_decode() {
    let p = decode(
        r#"51-/admin,456["project:delete",{"_placeholder":true,"num":0}]"#,
        &[Bytes::from_static(&[1, 2, 3])],
    );
    assert_eq!(p.kind, PacketType::BinaryEvent);
    assert_eq!((p.nsp.as_str(), p.id), ("/admin", Some(456)));
    assert_eq!(p.attachments, vec![Bytes::from_static(&[1, 2, 3])]);

    let p = decode(
        r#"61-/admin,456[{"_placeholder":true,"num":0}]"#,
        &[Bytes::from_static(&[3, 2, 1])],
    );
    assert_eq!(
        p,
        Packet::ack(
            "/admin",
            456,
            json!([placeholder(0)]),
            vec![Bytes::from_static(&[3, 2, 1])]
        )
    );
}

// The v5 test suite, with its Engine.IO "4" prefix removed.

#[test]
fn test_suite_connects() {
    let d = |t: &str| Decoder::default().feed_text(t).unwrap().unwrap();
    assert_eq!(d("0"), Packet::connect("/", None));
    assert_eq!(
        d(r#"0{"token":"123"}"#),
        Packet::connect("/", Some(json!({"token": "123"})))
    );
    assert_eq!(d("0/custom,"), Packet::connect("/custom", None));
    assert_eq!(d("0/custom"), Packet::connect("/custom", None));
    assert_eq!(
        d(r#"0/custom,{"token":"abc"}"#),
        Packet::connect("/custom", Some(json!({"token": "abc"})))
    );
    assert_eq!(d("1/custom"), Packet::disconnect("/custom"));
    assert_eq!(
        d(r#"0/admin,{"token":"123"}"#),
        Packet::connect("/admin", Some(json!({"token": "123"})))
    );
}

#[test]
fn test_suite_events() {
    let d = |t: &str| Decoder::default().feed_text(t).unwrap().unwrap();
    let p = d(r#"2["message",1,"2",{"3":[true]}]"#);
    assert_eq!(p.encode().text, r#"2["message",1,"2",{"3":[true]}]"#);
    let p = d(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#);
    assert_eq!(p.id, Some(456));
    let reply = Packet::ack("/", 456, json!([1, "2", {"3": [false]}]), vec![]);
    assert_eq!(reply.encode().text, r#"3456[1,"2",{"3":[false]}]"#);

    let text =
        r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let p = decode(
        text,
        &[
            Bytes::from_static(&[1, 2, 3]),
            Bytes::from_static(&[4, 5, 6]),
        ],
    );
    let reply = Packet::ack(
        "/",
        p.id.unwrap(),
        json!([placeholder(0), placeholder(1)]),
        p.attachments.clone(),
    );
    assert_eq!(
        reply.encode().text,
        r#"62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
}

/// Found by fuzzing: numbers must survive decode → encode unchanged (serde_json's
/// `float_roundtrip`), or an echo would alter what a client sent.
#[test]
fn numbers_round_trip_exactly() {
    for text in [
        r#"2["n",129999999999999999999999993]"#,
        r#"2["n",1.3e26,0.1,-2.5e-308,1.7976931348623157e308,9007199254740993]"#,
    ] {
        let packet = sockeye_socketio_proto::Decoder::default()
            .feed_text(text)
            .unwrap()
            .unwrap();
        let again = sockeye_socketio_proto::Decoder::default()
            .feed_text(&packet.encode().text)
            .unwrap()
            .unwrap();
        assert_eq!(again, packet, "{text}");
    }
}
