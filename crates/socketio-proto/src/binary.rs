//! The serde bridge between Rust values and JSON-with-placeholders plus attachments.
//!
//! Socket.IO sends binary values out of band: the JSON payload holds a placeholder
//! `{"_placeholder":true,"num":i}` where the value was, and the bytes travel as the i-th
//! attachment. [`to_value`] and [`from_value`] do this replacement for any serde type,
//! keyed on serde's notion of bytes (`serialize_bytes` / `deserialize_bytes`), so
//! `bytes::Bytes` or `serde_bytes::ByteBuf` fields become attachments while a `Vec<u8>`
//! (a sequence, to serde) stays an array of numbers.

/// Forwards each listed `deserialize_*` method to the deserializer's `deserialize_plain`,
/// as serde's `forward_to_deserialize_any!` does to `deserialize_any`; for the methods
/// whose visitor only needs plain JSON.
macro_rules! forward_to_plain {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_plain(visitor)
            }
        )*
    };
}

mod de;
mod de_ref;
mod key;
mod ser;
mod write;

use bytes::Bytes;
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned};
use serde_json::{Map, Value};

use crate::Error;

/// The placeholder for attachment `num`: `{"_placeholder":true,"num":num}`.
///
/// ```
/// use sockeye_socketio_proto::binary::placeholder;
/// assert_eq!(placeholder(2).to_string(), r#"{"_placeholder":true,"num":2}"#);
/// ```
pub fn placeholder(num: usize) -> Value {
    let mut map = Map::new();
    map.insert("_placeholder".to_owned(), Value::Bool(true));
    map.insert("num".to_owned(), Value::from(num));
    Value::Object(map)
}

/// Writes `value` as compact JSON at the end of `out`, each binary value (what serialises as
/// bytes) as a placeholder whose bytes are appended to `attachments`: the text that
/// [`to_value`] then `to_string` would give, without building the tree in between.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_socketio_proto::binary::to_json_into;
///
/// #[derive(serde::Serialize)]
/// struct Upload { name: &'static str, content: Bytes }
///
/// let upload = Upload { name: "a.txt", content: Bytes::from_static(b"hi") };
/// let (mut out, mut attachments) = (Vec::new(), Vec::new());
/// to_json_into(&upload, &mut out, &mut attachments)?;
/// assert_eq!(out, br#"{"name":"a.txt","content":{"_placeholder":true,"num":0}}"#);
/// assert_eq!(attachments, vec![Bytes::from_static(b"hi")]);
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
///
/// # Errors
/// [`Error::Serialize`] when `value`'s `Serialize` fails (a map key that is not a string or a
/// number, say); `out` and `attachments` are then as they were.
pub fn to_json_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
) -> Result<(), Error> {
    let (len, before) = (out.len(), attachments.len());
    let result = {
        let formatter = write::PlaceholderFormatter {
            attachments: &mut *attachments,
        };
        let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
        value.serialize(&mut serializer)
    };
    result.map_err(|error| {
        out.truncate(len);
        attachments.truncate(before);
        Error::Serialize(error.to_string())
    })
}

/// If `value` is a placeholder, the attachment index it refers to.
///
/// Recognises what the reference parser recognises: an object whose `_placeholder` is
/// `true` and whose `num` is a non-negative integer (other keys are ignored, as there).
///
/// ```
/// use sockeye_socketio_proto::binary::{placeholder, placeholder_num};
/// assert_eq!(placeholder_num(&placeholder(3)), Some(3));
/// assert_eq!(placeholder_num(&serde_json::json!({"_placeholder": "yes", "num": 3})), None);
/// ```
pub fn placeholder_num(value: &Value) -> Option<usize> {
    match value {
        Value::Object(map) => placeholder_claim(map)?.ok(),
        _ => None,
    }
}

/// `None` when `map` does not claim to be a placeholder; otherwise its index, or
/// [`Error::InvalidPlaceholder`] when the claim has no usable `num`.
fn placeholder_claim(map: &Map<String, Value>) -> Option<Result<usize, Error>> {
    match map.get("_placeholder") {
        Some(Value::Bool(true)) => {}
        _ => return None,
    }
    Some(
        map.get("num")
            .and_then(index_of)
            .ok_or(Error::InvalidPlaceholder),
    )
}

fn index_of(num: &Value) -> Option<usize> {
    let Value::Number(num) = num else {
        return None;
    };
    if let Some(n) = num.as_u64() {
        // Saturating keeps a huge index out of range rather than wrapping into range.
        return Some(usize::try_from(n).unwrap_or(usize::MAX));
    }
    // `JSON.parse` reads `1.0` as the integer 1, so the reference parser accepts it.
    let f = num.as_f64()?;
    (f >= 0.0 && f.fract() == 0.0).then_some(f as usize)
}

/// The attachment a placeholder object refers to; `None` if `map` is no placeholder.
fn resolve<'a>(
    map: &Map<String, Value>,
    attachments: &'a [Bytes],
) -> Option<Result<&'a Bytes, Error>> {
    Some(placeholder_claim(map)?.and_then(|num| {
        attachments.get(num).ok_or(Error::PlaceholderOutOfRange {
            num,
            attachments: attachments.len(),
        })
    }))
}

/// Checks every placeholder in `value` refers to one of `attachments` attachments, the
/// way the reference parser does when it reconstructs a binary packet.
pub(crate) fn check_placeholders(value: &Value, attachments: usize) -> Result<(), Error> {
    // An explicit stack: the value may come from a caller and be arbitrarily deep.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => match placeholder_claim(map) {
                Some(num) => {
                    let num = num?;
                    if num >= attachments {
                        return Err(Error::PlaceholderOutOfRange { num, attachments });
                    }
                }
                None => stack.extend(map.values()),
            },
            _ => {}
        }
    }
    Ok(())
}

/// Serialises any `T: Serialize` to a JSON value, turning every value serialised with
/// `serialize_bytes` (e.g. `bytes::Bytes`, `serde_bytes::ByteBuf`) into a placeholder and
/// appending its bytes to `attachments`.
///
/// Placeholder numbers continue from `attachments.len()`, so several values can share one
/// attachment list (e.g. the arguments of one event). On error `attachments` is left as it
/// was. A `Vec<u8>` is a sequence to serde and stays an array of numbers. The bytes are
/// copied, as serde only lends them out.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_socketio_proto::binary::to_value;
///
/// #[derive(serde::Serialize)]
/// struct Upload { name: String, content: Bytes }
///
/// let mut attachments = Vec::new();
/// let upload = Upload { name: "a.txt".into(), content: Bytes::from_static(b"hi") };
/// let json = to_value(&upload, &mut attachments)?;
/// assert_eq!(json.to_string(), r#"{"name":"a.txt","content":{"_placeholder":true,"num":0}}"#);
/// assert_eq!(attachments, vec![Bytes::from_static(b"hi")]);
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(
    value: &T,
    attachments: &mut Vec<Bytes>,
) -> Result<Value, Error> {
    let before = attachments.len();
    let result = value.serialize(ser::Serializer { attachments });
    if result.is_err() {
        attachments.truncate(before);
    }
    result
}

/// Deserialises `T` from a JSON value whose placeholders refer to `attachments`.
///
/// When `T` asks for bytes (`deserialize_bytes` / `deserialize_byte_buf`, as `bytes::Bytes`
/// and `serde_bytes::ByteBuf` do), a placeholder yields its attachment. So does a
/// placeholder reached through `deserialize_any` (untagged enums, flattened structs), except
/// when deserialising a `serde_json::Value`, where the placeholder stays the placeholder
/// object. A placeholder read as a sequence (e.g. into `Vec<u8>`) yields its bytes as
/// numbers. A placeholder whose `num` is out of range is an error.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_socketio_proto::binary::from_value;
///
/// #[derive(serde::Deserialize)]
/// struct Upload { name: String, content: Bytes }
///
/// let json = serde_json::json!({"name": "a.txt", "content": {"_placeholder": true, "num": 0}});
/// let upload: Upload = from_value(json, &[Bytes::from_static(b"hi")])?;
/// assert_eq!(upload.name, "a.txt");
/// assert_eq!(upload.content, Bytes::from_static(b"hi"));
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value, attachments: &[Bytes]) -> Result<T, Error> {
    T::deserialize(de::ValueDeserializer::new(value, attachments))
}

/// Like [`from_value`], but borrows from `value` and `attachments`, so `T` may hold `&str`
/// and `&[u8]` pointing into them.
///
/// ```
/// use bytes::Bytes;
/// use sockeye_socketio_proto::binary::from_value_ref;
///
/// let json = serde_json::json!(["file", {"_placeholder": true, "num": 0}]);
/// let attachments = [Bytes::from_static(b"hi")];
/// let (name, content): (&str, &[u8]) = from_value_ref(&json, &attachments)?;
/// assert_eq!((name, content), ("file", &b"hi"[..]));
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
pub fn from_value_ref<'de, T: Deserialize<'de>>(
    value: &'de Value,
    attachments: &'de [Bytes],
) -> Result<T, Error> {
    T::deserialize(de_ref::RefDeserializer::new(value, attachments))
}

/// Whether `V` is `serde_json::Value`'s own visitor, which cannot take bytes and should see
/// a placeholder as the plain object it is.
///
/// serde offers no way to ask a visitor what it is, so this relies on the visitor's type
/// name; the test `placeholder_into_json_value_stays_object` guards against a rename.
fn is_json_value_visitor<V>() -> bool {
    let name = std::any::type_name::<V>();
    // Today: "serde_json::value::de::<impl Deserialize<'_> for Value>::deserialize::ValueVisitor".
    (name.starts_with("serde_json::") || name.starts_with("<serde_json::"))
        && name.ends_with("::ValueVisitor")
}
