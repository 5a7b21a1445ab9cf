//! Event arguments: Rust values to the JSON array of a packet and back.
//!
//! One value is one argument; a tuple is several (`("a", 1)` sends two arguments, `()` none),
//! as a JavaScript `emit(event, ...args)` would. Values serialised as bytes (`bytes::Bytes`,
//! `serde_bytes`) travel as binary attachments.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sockeye_socketio_proto::Args;

/// Serialises `data` as a list of arguments (straight to JSON text), appending binary values
/// to `attachments`.
pub(crate) fn to_args<T: Serialize + ?Sized>(
    data: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<Args, String> {
    Args::from_data(data, attachments).map_err(|e| e.to_string())
}

/// Deserialises arguments: a lone argument is read as `T` itself, several as a tuple or list
/// (see [`Args::deserialize`]).
pub(crate) fn from_args<T: DeserializeOwned>(
    args: &Args,
    attachments: &[Bytes],
) -> Result<T, String> {
    args.deserialize(attachments).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn args<T: Serialize + ?Sized>(data: &T) -> (Vec<Value>, Vec<Bytes>) {
        let mut attachments = Vec::new();
        let args = to_args(data, &mut attachments).unwrap();
        (args.into_values(), attachments)
    }

    fn text<T: Serialize + ?Sized>(data: &T) -> String {
        to_args(data, &mut Vec::new()).unwrap().to_json()
    }

    #[test]
    fn written_as_json_at_once_in_field_order() {
        #[derive(Serialize)]
        struct Move {
            z: u8,
            a: &'static str,
            speed: f32,
            tags: Vec<&'static str>,
            gone: Option<u8>,
        }
        let m = Move {
            z: 1,
            a: "q\"uote",
            speed: 0.1,
            tags: vec!["x"],
            gone: None,
        };
        assert_eq!(
            text(&m),
            r#"[{"z":1,"a":"q\"uote","speed":0.1,"tags":["x"],"gone":null}]"#
        );
        assert_eq!(text(&(1, "two", [3])), r#"[1,"two",[3]]"#);
        assert_eq!(text(&()), "[]");
        assert_eq!(text(&f64::NAN), "[null]");
        assert_eq!(
            text(&json!({"b": 1, "a": [true, null]})),
            r#"[{"b":1,"a":[true,null]}]"#
        );
    }

    #[test]
    fn nested_bytes_become_numbered_placeholders() {
        #[derive(Serialize)]
        struct Files {
            first: Bytes,
            more: Vec<Bytes>,
        }
        let files = Files {
            first: Bytes::from_static(b"a"),
            more: vec![Bytes::from_static(b"b"), Bytes::from_static(b"c")],
        };
        let mut attachments = vec![Bytes::from_static(b"earlier")];
        let args = to_args(&("x", files), &mut attachments).unwrap();
        assert_eq!(
            args.to_json(),
            r#"["x",{"first":{"_placeholder":true,"num":1},"more":[{"_placeholder":true,"num":2},{"_placeholder":true,"num":3}]}]"#
        );
        assert_eq!(attachments.len(), 4);
        assert_eq!(attachments[3], Bytes::from_static(b"c"));
    }

    #[test]
    fn a_failed_serialisation_leaves_no_attachment_behind() {
        use std::collections::BTreeMap;
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], Bytes::from_static(b"x"));
        let mut attachments = vec![Bytes::from_static(b"kept")];
        let before = (Bytes::from_static(b"y"), &bad);
        assert!(to_args(&before, &mut attachments).is_err());
        assert_eq!(attachments, vec![Bytes::from_static(b"kept")]);
    }

    #[test]
    fn one_value_is_one_argument_and_a_tuple_is_several() {
        assert_eq!(args("hi").0, vec![json!("hi")]);
        assert_eq!(args(&vec![1, 2]).0, vec![json!([1, 2])]);
        assert_eq!(
            args(&("a", 2, true)).0,
            vec![json!("a"), json!(2), json!(true)]
        );
        assert_eq!(args(&()).0, Vec::<Value>::new());
        assert_eq!(args(&json!({"k": 1})).0, vec![json!({"k": 1})]);
    }

    #[test]
    fn bytes_become_attachments() {
        let (values, attachments) = args(&("file", Bytes::from_static(b"\x01\x02")));
        assert_eq!(values[1], json!({"_placeholder": true, "num": 0}));
        assert_eq!(attachments, vec![Bytes::from_static(b"\x01\x02")]);
        let back: (String, Bytes) = from_args(&Args::from(values), &attachments).unwrap();
        assert_eq!(back.1, Bytes::from_static(b"\x01\x02"));
    }

    #[test]
    fn a_lone_argument_reads_as_itself() {
        let one: String = from_args(&Args::from(vec![json!("x")]), &[]).unwrap();
        assert_eq!(one, "x");
        let pair: (u8, u8) = from_args(&Args::from(vec![json!(1), json!(2)]), &[]).unwrap();
        assert_eq!(pair, (1, 2));
        let raw = Args::from_json(r#"["not a number"]"#).unwrap();
        assert!(from_args::<u8>(&raw, &[]).is_err());
        let raw = Args::from_json(r#"[1, 2]"#).unwrap();
        assert_eq!(from_args::<(u8, u8)>(&raw, &[]).unwrap(), (1, 2));
    }
}
