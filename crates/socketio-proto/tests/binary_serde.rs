//! The serde bridge: Rust values to JSON-with-placeholders plus attachments, and back.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sockeye_socketio_proto::binary::{placeholder, placeholder_num};
use sockeye_socketio_proto::{Decoder, Error, Packet, from_value, from_value_ref, to_value};

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Newtype(Bytes),
    Tuple(u8, Bytes),
    Struct { blob: Bytes, label: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outer {
    id: u32,
    blob: Bytes,
    list: Vec<Bytes>,
    map: BTreeMap<String, Bytes>,
    maybe: Option<Bytes>,
    nothing: Option<Bytes>,
    nested: Vec<Option<Vec<Bytes>>>,
    numbers: Vec<u8>,
    shapes: Vec<Shape>,
    tuple: (Bytes, String),
}

fn sample() -> Outer {
    Outer {
        id: 7,
        blob: b(b"top"),
        list: vec![b(b"l0"), b(b""), b(b"l2")],
        map: BTreeMap::from([("k1".to_owned(), b(b"v1")), ("k2".to_owned(), b(b"v2"))]),
        maybe: Some(b(b"maybe")),
        nothing: None,
        nested: vec![None, Some(vec![b(b"n0"), b(b"n1")]), Some(vec![])],
        numbers: vec![1, 2, 3],
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(b(b"nt")),
            Shape::Tuple(9, b(b"tu")),
            Shape::Struct {
                blob: b(b"st"),
                label: "x".to_owned(),
            },
        ],
        tuple: (b(b"t0"), "t1".to_owned()),
    }
}

#[test]
fn nested_bytes_round_trip() {
    let value = sample();
    let mut attachments = Vec::new();
    let json = to_value(&value, &mut attachments).unwrap();
    // Every `Bytes` became an attachment, in serialisation order.
    assert_eq!(attachments.len(), 13);
    assert_eq!(attachments[0], b(b"top"));
    assert_eq!(json["blob"], placeholder(0));
    assert_eq!(json["list"][1], placeholder(2));
    assert_eq!(json["nothing"], Value::Null);
    // `Vec<u8>` is a sequence to serde, so it stays an array of numbers.
    assert_eq!(json["numbers"], json!([1, 2, 3]));
    assert_eq!(json["shapes"][0], json!("Unit"));
    assert_eq!(json["shapes"][2], json!({"Tuple": [9, placeholder(10)]}));

    let back: Outer = from_value(json.clone(), &attachments).unwrap();
    assert_eq!(back, value);
    let back: Outer = from_value_ref(&json, &attachments).unwrap();
    assert_eq!(back, value);
}

#[test]
fn round_trip_through_the_wire() {
    let value = sample();
    let mut attachments = Vec::new();
    let args = to_value(&("update", &value), &mut attachments).unwrap();
    let encoded = Packet::event("/x", args, attachments).encode();

    let mut decoder = Decoder::new(16);
    let mut packet = decoder.feed_text(&encoded.text).unwrap();
    for a in encoded.attachments {
        packet = decoder.feed_binary(a).unwrap();
    }
    let packet = packet.unwrap();
    let (name, back): (String, Outer) = from_value(
        packet.data.as_ref().unwrap().to_value(),
        &packet.attachments,
    )
    .unwrap();
    assert_eq!(name, "update");
    assert_eq!(back, value);
}

#[test]
fn numbering_continues_from_existing_attachments() {
    let mut attachments = vec![b(b"already")];
    let json = to_value(&(b(b"a"), b(b"b")), &mut attachments).unwrap();
    assert_eq!(json, json!([placeholder(1), placeholder(2)]));
    assert_eq!(attachments, vec![b(b"already"), b(b"a"), b(b"b")]);
}

#[test]
fn failed_serialisation_leaves_attachments_alone() {
    let mut map = HashMap::new();
    map.insert(vec![1u8], b(b"x"));
    let mut attachments = vec![b(b"keep")];
    let value = (b(b"pushed first"), map);
    assert!(matches!(
        to_value(&value, &mut attachments),
        Err(Error::Serialize(_))
    ));
    assert_eq!(attachments, vec![b(b"keep")]);
}

#[test]
fn placeholder_into_json_value_stays_object() {
    let json = json!(["a", placeholder(0), {"inner": placeholder(0)}]);
    let attachments = [b(b"x")];
    let back: Value = from_value(json.clone(), &attachments).unwrap();
    assert_eq!(back, json);
    let back: Value = from_value_ref(&json, &attachments).unwrap();
    assert_eq!(back, json);
    let back: (String, Value, Option<Value>) =
        from_value(json!(["a", placeholder(0), placeholder(0)]), &attachments).unwrap();
    assert_eq!(back.1, placeholder(0));
    assert_eq!(back.2, Some(placeholder(0)));
    // Even with no attachment behind it.
    let back: Value = from_value(placeholder(5), &[]).unwrap();
    assert_eq!(back, placeholder(5));
}

#[test]
fn placeholder_out_of_range_is_an_error() {
    let r: Result<Bytes, _> = from_value(placeholder(1), &[b(b"x")]);
    assert_eq!(
        r,
        Err(Error::PlaceholderOutOfRange {
            num: 1,
            attachments: 1
        })
    );
    let json = json!({"_placeholder": true, "num": u64::MAX});
    let r: Result<Bytes, _> = from_value_ref(&json, &[]);
    assert!(matches!(r, Err(Error::PlaceholderOutOfRange { .. })));
    let r: Result<Bytes, _> = from_value(json!({"_placeholder": true, "num": "0"}), &[b(b"x")]);
    assert_eq!(r, Err(Error::InvalidPlaceholder));
    let r: Result<Bytes, _> = from_value(json!({"_placeholder": true}), &[b(b"x")]);
    assert_eq!(r, Err(Error::InvalidPlaceholder));
}

#[test]
fn placeholder_through_deserialize_any() {
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        Blob { data: Bytes },
    }
    let json = json!([{"data": placeholder(0)}, "hi"]);
    let attachments = [b(b"bin")];
    let back: Vec<Either> = from_value(json.clone(), &attachments).unwrap();
    assert_eq!(
        back,
        vec![Either::Blob { data: b(b"bin") }, Either::Text("hi".into())]
    );
    let back: Vec<Either> = from_value_ref(&json, &attachments).unwrap();
    assert_eq!(back[0], Either::Blob { data: b(b"bin") });

    #[derive(Debug, PartialEq, Deserialize)]
    struct Flat {
        name: String,
        #[serde(flatten)]
        rest: Inner,
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Inner {
        blob: Bytes,
    }
    let back: Flat =
        from_value(json!({"name": "n", "blob": placeholder(0)}), &attachments).unwrap();
    assert_eq!(back.rest.blob, b(b"bin"));
}

#[test]
fn placeholder_into_vec_u8_and_borrowed_slices() {
    let attachments = [b(b"\x01\x02")];
    let v: Vec<u8> = from_value(placeholder(0), &attachments).unwrap();
    assert_eq!(v, vec![1, 2]);
    let json = placeholder(0);
    let s: &[u8] = from_value_ref(&json, &attachments).unwrap();
    assert_eq!(s, &[1, 2]);
    let json = json!({"name": "borrowed"});
    #[derive(Deserialize)]
    struct Borrowing<'a> {
        name: &'a str,
    }
    let back: Borrowing<'_> = from_value_ref(&json, &[]).unwrap();
    assert_eq!(back.name, "borrowed");
}

#[test]
fn bytes_from_plain_json_like_serde_json() {
    // serde_json lets bytes come from strings and number arrays; so do we.
    let v: Bytes = from_value(json!("abc"), &[]).unwrap();
    assert_eq!(v, b(b"abc"));
    let v: Bytes = from_value(json!([1, 2]), &[]).unwrap();
    assert_eq!(v, b(b"\x01\x02"));
    let r: Result<Bytes, _> = from_value(json!({"not": "a placeholder"}), &[]);
    assert!(matches!(r, Err(Error::Deserialize(_))));
}

#[test]
fn plain_json_behaves_like_serde_json() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Plain {
        a: i64,
        b: f64,
        c: Option<String>,
        d: HashMap<u32, bool>,
        e: (),
        f: char,
        g: i128,
        h: u128,
    }
    let value = Plain {
        a: -5,
        b: 1.5,
        c: None,
        d: HashMap::from([(3, true)]),
        e: (),
        f: 'z',
        g: -7,
        h: u128::from(u64::MAX),
    };
    let mut attachments = Vec::new();
    let json = to_value(&value, &mut attachments).unwrap();
    assert!(attachments.is_empty());
    assert_eq!(json, serde_json::to_value(&value).unwrap());
    let back: Plain = from_value(json.clone(), &[]).unwrap();
    assert_eq!(back, value);
    let back: Plain = from_value_ref(&json, &[]).unwrap();
    assert_eq!(back, value);
    // Non-finite floats become null, as in serde_json and JSON.stringify.
    assert_eq!(to_value(&f64::NAN, &mut attachments).unwrap(), Value::Null);
    // Too large for JSON numbers.
    assert!(matches!(
        to_value(&u128::MAX, &mut attachments),
        Err(Error::Serialize(_))
    ));
}

#[test]
fn deserialise_errors_are_errors() {
    let r: Result<(String, u8), _> = from_value(json!(["a", 300]), &[]);
    assert!(matches!(r, Err(Error::Deserialize(_))));
    let r: Result<(String,), _> = from_value(json!(["a", "b"]), &[]);
    assert!(matches!(r, Err(Error::Deserialize(_))));
    let r: Result<Shape, _> = from_value(json!({"Newtype": 1, "Unit": null}), &[]);
    assert!(matches!(r, Err(Error::Deserialize(_))));
    let r: Result<u8, _> = from_value(placeholder(0), &[b(b"x")]);
    assert!(matches!(r, Err(Error::Deserialize(_))));
}

#[test]
fn placeholder_num_shapes() {
    assert_eq!(placeholder_num(&placeholder(0)), Some(0));
    assert_eq!(
        placeholder_num(&json!({"_placeholder": true, "num": 4, "extra": 1})),
        Some(4)
    );
    assert_eq!(
        placeholder_num(&json!({"_placeholder": true, "num": 2.0})),
        Some(2)
    );
    assert_eq!(
        placeholder_num(&json!({"_placeholder": true, "num": 2.5})),
        None
    );
    assert_eq!(placeholder_num(&json!({"_placeholder": 1, "num": 2})), None);
    assert_eq!(placeholder_num(&json!({"num": 2})), None);
    assert_eq!(placeholder_num(&json!([true, 2])), None);
}

#[test]
fn serde_json_value_with_placeholders_serialises_as_is() {
    let mut attachments = Vec::new();
    let json = json!({"x": placeholder(3)});
    assert_eq!(to_value(&json, &mut attachments).unwrap(), json);
    assert!(attachments.is_empty());
}
