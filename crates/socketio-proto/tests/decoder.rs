//! Decoder strictness and its text/binary state machine.

use bytes::Bytes;
use serde_json::json;
use sockeye_socketio_proto::{Decoder, Error, Packet, PacketType};

fn decode_err(text: &str) -> Error {
    match Decoder::default().feed_text(text) {
        Err(e) => e,
        Ok(p) => panic!("{text:?} decoded as {p:?}"),
    }
}

#[test]
fn invalid_packet_types() {
    for text in ["", "9", "7[]", "a", "-1", " 0", "x2[\"a\"]", "abc", "٣"] {
        assert_eq!(decode_err(text), Error::InvalidPacketType, "{text:?}");
    }
}

#[test]
fn test_suite_invalid_formats() {
    // The v5 test suite's strings, read as Socket.IO text (they carry an Engine.IO "4")...
    assert_eq!(decode_err("abc"), Error::InvalidPacketType);
    assert_eq!(decode_err("2{}"), Error::InvalidPayload);
    assert!(matches!(
        decode_err(r#"2abc["message-with-ack",1,"2",{"3":[false]}]"#),
        Error::InvalidJson(_)
    ));
    // ...and literally, as a `CONNECT_ERROR` (type 4) text.
    assert!(matches!(decode_err("4abc"), Error::InvalidJson(_)));
    assert_eq!(decode_err("42{}"), Error::InvalidAckId);
    assert!(matches!(
        decode_err(r#"42abc["message-with-ack",1,"2",{"3":[false]}]"#),
        Error::InvalidAckId | Error::InvalidJson(_)
    ));
}

#[test]
fn payloads_must_fit_the_type() {
    for text in [
        "2",
        "2[]",
        "2{}",
        "2\"x\"",
        "2[null]",
        "2[[\"a\"]]",
        "2[true]",
        "2[\"connect\"]",
        "2[\"connect_error\"]",
        "2[\"disconnect\"]",
        "2[\"disconnecting\"]",
        "2[\"newListener\"]",
        "2[\"removeListener\"]",
        "0[]",
        "0\"str\"",
        "01",
        "1{}",
        "1[]",
        "1\"x\"",
        "31",
        "31{}",
        "31\"x\"",
        "4",
        "4[]",
        "41",
        "50-",
        "50-{}",
        "61-1{}",
    ] {
        let err = decode_err(text);
        assert!(
            matches!(err, Error::InvalidPayload | Error::InvalidAckId),
            "{text:?}: {err:?}"
        );
    }
}

#[test]
fn payload_edge_cases_that_are_valid() {
    let d = |t: &str| Decoder::default().feed_text(t).unwrap().unwrap();
    // A number as the event name is allowed by the reference parser.
    assert_eq!(d("2[42,\"x\"]").event_name(), None);
    assert_eq!(
        d("2[\"connected\"]").event_name().as_deref(),
        Some("connected")
    );
    assert_eq!(
        d("4\"Not authorized\"").data.map(|d| d.to_value()),
        Some(json!("Not authorized"))
    );
    assert_eq!(d("3/a,0[]").id, Some(0));
    // Whitespace around JSON is fine for JSON.parse, so it is for us.
    assert_eq!(
        d("2 [\"a\"] ").data.map(|d| d.to_value()),
        Some(json!(["a"]))
    );
    // Namespace with a v4-style query.
    assert_eq!(d("0/admin?token=1,").nsp, "/admin?token=1");
}

#[test]
fn ack_ids() {
    assert_eq!(decode_err("3[]"), Error::InvalidAckId);
    assert_eq!(
        decode_err("61-[{\"_placeholder\":true,\"num\":0}]"),
        Error::InvalidAckId
    );
    assert_eq!(decode_err("0/admin,1{}"), Error::InvalidAckId);
    assert_eq!(decode_err("11"), Error::InvalidAckId);
    assert_eq!(
        decode_err("2/a,99999999999999999999999[\"x\"]"),
        Error::InvalidAckId
    );
    let p = Decoder::default()
        .feed_text(&format!("2/a,{}[\"x\"]", u64::MAX))
        .unwrap()
        .unwrap();
    assert_eq!(p.id, Some(u64::MAX));
}

#[test]
fn attachment_counts() {
    for text in [
        "5-[\"a\"]",
        "5[\"a\"]",
        "51[\"a\"]",
        "5x-[\"a\"]",
        "5 1-[\"a\"]",
        "5",
        "51",
        "6",
        "5+1-[\"a\"]",
        "51.0-[\"a\"]",
    ] {
        assert_eq!(decode_err(text), Error::InvalidAttachmentCount, "{text:?}");
    }
    assert_eq!(decode_err("51-"), Error::InvalidPayload);
}

#[test]
fn max_attachments_is_enforced() {
    let mut decoder = Decoder::new(2);
    assert_eq!(
        decoder.feed_text("53-[\"a\"]"),
        Err(Error::TooManyAttachments { claimed: 3, max: 2 })
    );
    assert!(!decoder.is_reconstructing());
    assert_eq!(decoder.feed_text("52-[\"a\"]"), Ok(None));
    assert_eq!(decoder.max_attachments(), 2);

    assert_eq!(
        Decoder::default().feed_text("511-[\"a\"]"),
        Err(Error::TooManyAttachments {
            claimed: 11,
            max: 10
        })
    );
    assert_eq!(Decoder::default().max_attachments(), 10);
}

#[test]
fn million_attachments_rejected_up_front() {
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.feed_text("51000000-[\"a\"]"),
        Err(Error::TooManyAttachments {
            claimed: 1_000_000,
            max: 10
        })
    );
    assert!(!decoder.is_reconstructing());
    // A count past usize saturates rather than wrapping round to something small.
    assert_eq!(
        decoder.feed_text("5184467440737095516160000000000000001-[\"a\"]"),
        Err(Error::TooManyAttachments {
            claimed: usize::MAX,
            max: 10
        })
    );
}

#[test]
fn huge_allowed_claim_allocates_as_attachments_arrive() {
    // With a limit that lets the claim through, nothing is reserved for it: each
    // attachment is stored as it arrives.
    let mut decoder = Decoder::new(usize::MAX);
    assert_eq!(decoder.feed_text("51000000-[\"a\"]"), Ok(None));
    assert_eq!(decoder.feed_binary(Bytes::from_static(b"x")), Ok(None));
    assert!(decoder.is_reconstructing());
    decoder.reset();
    assert!(!decoder.is_reconstructing());
}

#[test]
fn placeholders_are_checked_before_attachments_arrive() {
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.feed_text(r#"51-["a",{"_placeholder":true,"num":1}]"#),
        Err(Error::PlaceholderOutOfRange {
            num: 1,
            attachments: 1
        })
    );
    assert_eq!(
        decoder.feed_text(r#"51-["a",{"_placeholder":true,"num":"0"}]"#),
        Err(Error::InvalidPlaceholder)
    );
    assert_eq!(
        decoder.feed_text(r#"51-["a",{"_placeholder":true,"num":-1}]"#),
        Err(Error::InvalidPlaceholder)
    );
    assert_eq!(
        decoder.feed_text(r#"50-["a",{"_placeholder":true,"num":0}]"#),
        Err(Error::PlaceholderOutOfRange {
            num: 0,
            attachments: 0
        })
    );
    assert!(!decoder.is_reconstructing());
    // Not a placeholder claim: `_placeholder` is not `true`.
    assert!(
        decoder
            .feed_text(r#"50-["a",{"_placeholder":"true","num":7}]"#)
            .unwrap()
            .is_some()
    );
    // A float index that is an integer is what JSON.parse hands the reference parser.
    assert_eq!(
        decoder.feed_text(r#"51-["a",{"_placeholder":true,"num":0.0}]"#),
        Ok(None)
    );
}

#[test]
fn binary_zero_attachments_completes_at_once() {
    let mut decoder = Decoder::default();
    let p = decoder.feed_text(r#"50-["a"]"#).unwrap().unwrap();
    assert_eq!(p.kind, PacketType::BinaryEvent);
    assert!(p.attachments.is_empty());
    assert_eq!(p.encode().text, r#"50-["a"]"#);
    assert!(!decoder.is_reconstructing());
}

#[test]
fn text_while_reconstructing_is_an_error_and_keeps_the_pending_packet() {
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder
            .feed_text(r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        Ok(None)
    );
    assert_eq!(decoder.feed_binary(Bytes::from_static(b"1")), Ok(None));
    assert_eq!(decoder.feed_text(r#"2["b"]"#), Err(Error::UnexpectedText));
    assert!(decoder.is_reconstructing());
    let p = decoder
        .feed_binary(Bytes::from_static(b"2"))
        .unwrap()
        .unwrap();
    assert_eq!(
        p.attachments,
        vec![Bytes::from_static(b"1"), Bytes::from_static(b"2")]
    );
    // Back to text mode.
    assert_eq!(
        decoder.feed_text(r#"2["b"]"#),
        Ok(Some(Packet::event("/", json!(["b"]), vec![])))
    );
}

#[test]
fn binary_while_not_reconstructing_is_an_error() {
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"x")),
        Err(Error::UnexpectedBinary)
    );
    decoder.feed_text(r#"2["a"]"#).unwrap();
    assert_eq!(
        decoder.feed_binary(Bytes::new()),
        Err(Error::UnexpectedBinary)
    );
}

#[test]
fn reset_drops_the_pending_packet() {
    let mut decoder = Decoder::default();
    decoder
        .feed_text(r#"61-/a,1[{"_placeholder":true,"num":0}]"#)
        .unwrap();
    assert!(decoder.is_reconstructing());
    decoder.reset();
    assert!(!decoder.is_reconstructing());
    assert_eq!(
        decoder.feed_binary(Bytes::new()),
        Err(Error::UnexpectedBinary)
    );
}

#[test]
fn namespaces() {
    let d = |t: &str| Decoder::default().feed_text(t).unwrap().unwrap();
    assert_eq!(d("2/,[\"a\"]").nsp, "/");
    assert_eq!(d("2/ünï,[\"a\"]").nsp, "/ünï");
    // Without '/', there is no namespace: the rest must be an id and JSON.
    assert!(matches!(
        decode_err("2admin,[\"a\"]"),
        Error::InvalidJson(_)
    ));
    // The namespace runs to the end when there is no ','.
    assert_eq!(decode_err("2/admin[\"a\"]"), Error::InvalidPayload);
}

#[test]
fn deep_json_is_an_error_not_a_crash() {
    let text = format!("2[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(decode_err(&text), Error::InvalidJson(_)));
}

#[test]
fn errors_display() {
    assert_eq!(
        Error::TooManyAttachments { claimed: 3, max: 2 }.to_string(),
        "too many attachments: 3 announced, at most 2 accepted"
    );
}
