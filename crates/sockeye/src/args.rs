//! Event arguments: Rust values to the JSON array of a packet and back.
//!
//! One value is one argument; a tuple is several (`("a", 1)` sends two arguments, `()` none),
//! as a JavaScript `emit(event, ...args)` would. Values serialised as bytes (`bytes::Bytes`,
//! `serde_bytes`) travel as binary attachments.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Serialize, ser};
use serde_json::Value;
use sockeye_socketio_proto::{Args, binary};

/// Serialises `data` as a list of arguments, appending binary values to `attachments`.
pub(crate) fn to_args<T: Serialize + ?Sized>(
    data: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<Vec<Value>, String> {
    let value = binary::to_value(data, attachments).map_err(|e| e.to_string())?;
    Ok(match (is_tuple(data), value) {
        (true, Value::Array(args)) => args,
        (true, Value::Null) => Vec::new(),
        (_, value) => vec![value],
    })
}

/// Deserialises arguments: a lone argument is read as `T` itself, several as a tuple or list
/// (see [`Args::deserialize`]).
pub(crate) fn from_args<T: DeserializeOwned>(
    args: &Args,
    attachments: &[Bytes],
) -> Result<T, String> {
    args.deserialize(attachments).map_err(|e| e.to_string())
}

/// Whether a value serialises as a tuple (or unit), found by starting to serialise it with a
/// serializer that stops at once.
fn is_tuple<T: Serialize + ?Sized>(data: &T) -> bool {
    matches!(data.serialize(TupleProbe), Err(Probe::Tuple))
}

#[derive(Debug)]
enum Probe {
    Tuple,
    Other,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Probe {}

impl ser::Error for Probe {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Probe::Other
    }
}

struct TupleProbe;

macro_rules! other {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<(), Probe> { Err(Probe::Other) })*
    };
}

impl ser::Serializer for TupleProbe {
    type Ok = ();
    type Error = Probe;
    type SerializeSeq = ser::Impossible<(), Probe>;
    type SerializeTuple = ser::Impossible<(), Probe>;
    type SerializeTupleStruct = ser::Impossible<(), Probe>;
    type SerializeTupleVariant = ser::Impossible<(), Probe>;
    type SerializeMap = ser::Impossible<(), Probe>;
    type SerializeStruct = ser::Impossible<(), Probe>;
    type SerializeStructVariant = ser::Impossible<(), Probe>;

    other! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_unit(self) -> Result<(), Probe> {
        Err(Probe::Tuple)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Probe> {
        Err(Probe::Other)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Probe> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probe> {
        Err(Probe::Other)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Probe> {
        Err(Probe::Other)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Probe> {
        Err(Probe::Tuple)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Probe> {
        Err(Probe::Other)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Probe> {
        Err(Probe::Other)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Probe> {
        Err(Probe::Other)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Probe> {
        Err(Probe::Other)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Probe> {
        Err(Probe::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args<T: Serialize + ?Sized>(data: &T) -> (Vec<Value>, Vec<Bytes>) {
        let mut attachments = Vec::new();
        (to_args(data, &mut attachments).unwrap(), attachments)
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
