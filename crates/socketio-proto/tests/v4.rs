//! Protocol v4 (Socket.IO 2.x clients).

use bytes::Bytes;
use serde_json::json;
use sockeye_socketio_proto::binary::placeholder;
use sockeye_socketio_proto::{Decoder, Packet, PacketType, v4};

#[test]
fn connect_has_no_payload() {
    assert_eq!(v4::encode(&Packet::connect("/", None)).text, "0");
    assert_eq!(
        v4::encode(&Packet::connect("/", Some(json!({"sid": "x"})))).text,
        "0"
    );
    assert_eq!(
        v4::encode(&Packet::connect("/admin", Some(json!({"sid": "x"})))).text,
        "0/admin,"
    );
}

#[test]
fn connect_error_is_a_string() {
    let p = v4::connect_error("/admin", "Not authorized");
    assert_eq!(p.kind, PacketType::ConnectError);
    assert_eq!(
        p.data.as_ref().map(|d| d.to_value()),
        Some(json!("Not authorized"))
    );
    assert_eq!(v4::encode(&p).text, r#"4/admin,"Not authorized""#);
    assert_eq!(p.encode().text, r#"4/admin,"Not authorized""#);
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn v5_connect_error_is_rewritten() {
    let p = Packet::connect_error("/", "Not authorized", None);
    assert_eq!(v4::encode(&p).text, r#"4"Not authorized""#);
    // A 2.x server sends the error's data instead of its message when there is some.
    let p = Packet::connect_error("/", "Not authorized", Some(json!({"code": 3})));
    assert_eq!(v4::encode(&p).text, r#"4{"code":3}"#);
}

#[test]
fn other_packets_as_in_v5() {
    let event = Packet::event(
        "/admin",
        json!(["project:delete", placeholder(0)]),
        vec![Bytes::from_static(&[1, 2, 3])],
    );
    let mut with_id = event.clone();
    with_id.id = Some(456);
    let enc = v4::encode(&with_id);
    assert_eq!(
        enc.text,
        r#"51-/admin,456["project:delete",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(enc.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
    assert_eq!(v4::encode(&with_id), with_id.encode());
    let ack = Packet::ack("/admin", 456, json!([]), vec![]);
    assert_eq!(v4::encode(&ack).text, "3/admin,456[]");
    assert_eq!(v4::encode(&Packet::disconnect("/admin")).text, "1/admin,");
}

#[test]
fn v4_client_packets_decode() {
    let mut decoder = Decoder::default();
    let p = decoder
        .feed_text("0/admin?token=1234&uid=abcd,")
        .unwrap()
        .unwrap();
    assert_eq!(p.kind, PacketType::Connect);
    assert_eq!(
        v4::split_query(&p.nsp),
        ("/admin", Some("token=1234&uid=abcd"))
    );
    let p = decoder
        .feed_text(r#"4/admin,"Not authorized""#)
        .unwrap()
        .unwrap();
    assert_eq!(p, v4::connect_error("/admin", "Not authorized"));
}

#[test]
fn split_query_edges() {
    assert_eq!(v4::split_query("/"), ("/", None));
    assert_eq!(v4::split_query("/?"), ("/", Some("")));
    assert_eq!(v4::split_query("/a?b?c"), ("/a", Some("b?c")));
}
