//! [`Payload`]: a packet's JSON payload, kept as text.

use std::fmt;

use serde_json::Value;

use crate::json::{Items, Shape, has_escape, shape_of};
use crate::{Args, Error, Str};

/// The JSON payload of a packet, kept as the text it arrived in (or was serialised to).
///
/// A received payload is checked once, as strictly as parsing it into a [`Value`] would, but no
/// tree is built: it stays a slice of the message it came in, and cloning it shares that
/// buffer. Ask for a tree with [`Payload::to_value`], or for an event's name and arguments with
/// [`Payload::args`] and [`Payload::first_string`].
///
/// Two payloads are equal when they hold the same JSON value, however it is written.
///
/// ```
/// use sockeye_socketio_proto::Payload;
/// let payload = Payload::from_json(r#"["chat", {"text": "hi, all"}, 2]"#)?;
/// assert_eq!(payload.first_string().as_deref(), Some("chat"));
/// let args = payload.args(1).unwrap();
/// // Copied as it arrived, in one piece (whitespace included).
/// assert_eq!(args.to_json(), r#"[ {"text": "hi, all"}, 2]"#);
/// assert_eq!(payload, Payload::from(serde_json::json!(["chat", {"text": "hi, all"}, 2])));
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
#[derive(Clone)]
pub struct Payload {
    /// Valid JSON, without whitespace around it.
    text: Str,
    shape: Shape,
}

impl Payload {
    /// Checks that `text` is one JSON value, and keeps it (without copying a [`Str`]).
    ///
    /// # Errors
    /// [`Error::InvalidJson`] when it is not.
    pub fn from_json(text: impl Into<Str>) -> Result<Payload, Error> {
        Payload::checked(text.into())
    }

    pub(crate) fn checked(text: Str) -> Result<Payload, Error> {
        let text = trim(text);
        let shape = shape_of(&text).map_err(|e| Error::InvalidJson(e.to_string()))?;
        Ok(Payload { text, shape })
    }

    /// The payload holding `value`.
    pub fn from_value(value: &Value) -> Payload {
        let shape = match value {
            Value::Array(items) => {
                use crate::json::First;
                Shape::Array(match items.first() {
                    None => First::None,
                    Some(Value::String(name)) => First::Name {
                        reserved: crate::is_reserved_event(name),
                    },
                    Some(Value::Number(_)) => First::Number,
                    Some(_) => First::Other,
                })
            }
            Value::Object(_) => Shape::Object,
            Value::String(_) => Shape::String,
            _ => Shape::Scalar,
        };
        Payload {
            text: Str::from(value.to_string()),
            shape,
        }
    }

    /// An event's payload, `text` being the JSON array `[name, ...]` that the crate wrote.
    pub(crate) fn event(text: Vec<u8>, name: &str) -> Payload {
        use crate::json::First;
        Payload {
            // Written from a `str` and JSON text.
            text: Str::from(String::from_utf8(text).unwrap_or_else(|_| "[]".to_owned())),
            shape: Shape::Array(First::Name {
                reserved: crate::is_reserved_event(name),
            }),
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The JSON text, shared.
    pub fn as_text(&self) -> &Str {
        &self.text
    }

    /// The payload parsed into a tree.
    pub fn to_value(&self) -> Value {
        // The text was checked when the payload was made, so this parse succeeds.
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// Whether the payload is a JSON array.
    pub fn is_array(&self) -> bool {
        matches!(self.shape, Shape::Array(_))
    }

    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// For an array, its items after the first `skip` ones: an event's arguments with
    /// `skip = 1` (after its name), an acknowledgement's with `skip = 0`. `None` when the
    /// payload is not an array.
    pub fn args(&self, skip: usize) -> Option<Args> {
        if !self.is_array() {
            return None;
        }
        let mut items = Items::new(&self.text);
        for _ in 0..skip {
            items.next_span();
        }
        Some(Args::raw(self.text.clone(), items.pos()))
    }

    /// For an array whose first item is a string, that string, decoded (an event's name).
    /// Shares the payload's buffer unless the name holds escapes.
    pub fn first_string(&self) -> Option<Str> {
        if !self.is_array() {
            return None;
        }
        let (start, end) = Items::new(&self.text).next_span()?;
        let item = self.text.get(start..end)?;
        if !item.starts_with('"') {
            return None;
        }
        if has_escape(item) {
            let name: String = serde_json::from_str(item).ok()?;
            return Some(Str::from(name));
        }
        self.text.slice(start + 1..end - 1)
    }
}

/// Drops JSON whitespace around `text`, sharing its buffer.
fn trim(text: Str) -> Str {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    if trimmed.len() == text.len() {
        return text;
    }
    let start = trimmed.as_ptr() as usize - text.as_ptr() as usize;
    text.slice(start..start + trimmed.len()).unwrap_or(text)
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::from_value(&value)
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Payload {
        Payload::from_value(value)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.text == other.text || self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_text_and_shares_the_buffer() {
        let message = Str::from(String::from(r#"  ["a\"b", 1 ]  "#));
        let payload = Payload::checked(message.clone()).unwrap();
        assert_eq!(payload.as_str(), r#"["a\"b", 1 ]"#);
        assert_eq!(payload.first_string().as_deref(), Some("a\"b"));
        assert_eq!(payload.to_value(), json!(["a\"b", 1]));
        assert_eq!(payload, json!(["a\"b", 1]));
    }

    #[test]
    fn event_names() {
        let name = |text: &str| Payload::from_json(text.to_owned()).unwrap().first_string();
        assert_eq!(name(r#"["hello"]"#).as_deref(), Some("hello"));
        assert_eq!(name(r#"["h\u00e9\n"]"#).as_deref(), Some("hé\n"));
        assert_eq!(name(r#"["😀,]",2]"#).as_deref(), Some("😀,]"));
        assert_eq!(name("[1]"), None);
        assert_eq!(name("[]"), None);
        assert_eq!(name(r#"{"a":"b"}"#), None);
        assert_eq!(name(r#""str""#), None);
    }

    #[test]
    fn refuses_malformed_json() {
        for text in [
            "",
            "[",
            "[1,]",
            "{\"a\":}",
            "[\"\\ud83d\"]",
            "[1] [2]",
            "nul",
        ] {
            assert!(
                matches!(
                    Payload::from_json(text.to_owned()),
                    Err(Error::InvalidJson(_))
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn equality_is_by_value() {
        let a = Payload::from_json(r#"{"a": 1, "b": [true]}"#).unwrap();
        let b = Payload::from(json!({"a": 1, "b": [true]}));
        assert_eq!(a, b);
        assert_ne!(a, Payload::from(json!({"a": 2})));
        assert_eq!(format!("{b:?}"), r#"{"a":1,"b":[true]}"#);
    }
}
