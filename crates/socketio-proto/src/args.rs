//! [`Args`]: the arguments of an event or acknowledgement, as received JSON text or as values.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::json::Items;
use crate::{Error, Payload, Str, binary};

/// The arguments of an event (after its name) or of an acknowledgement, binary values being
/// placeholders into the packet's attachments.
///
/// Received arguments stay the JSON text they arrived in, sharing the message's buffer: cloning
/// them is cheap, sending them back ([`Args::write_json`], [`crate::Packet::encode_ack_into`])
/// copies the text of each argument, and [`Args::deserialize`] reads straight from it. Code that
/// wants trees gets them with [`Args::to_values`], or changes them in place with
/// [`Args::values_mut`] (after which they are held as values).
///
/// Equality compares the JSON values, however they are written.
///
/// ```
/// use sockeye_socketio_proto::Args;
/// use serde_json::json;
///
/// let mut args = Args::from_json(r#"[{"n": 1}, "a,b"]"#)?;
/// assert_eq!(args.len(), 2);
/// let (n, text): (serde_json::Value, String) = args.deserialize(&[])?;
/// assert_eq!((n, text.as_str()), (json!({"n": 1}), "a,b"));
/// // Copied as it arrived, in one piece.
/// assert_eq!(args.to_json(), r#"[{"n": 1}, "a,b"]"#);
///
/// args.values_mut().push(json!(3));
/// assert_eq!(args, [json!({"n": 1}), json!("a,b"), json!(3)]);
/// # Ok::<(), sockeye_socketio_proto::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Args {
    /// When set, the arguments (and `values` is empty).
    raw: Option<Raw>,
    values: Vec<Value>,
}

/// Arguments as text: the items of `text`, a checked JSON array, from byte `start` on.
#[derive(Clone)]
struct Raw {
    text: Str,
    start: usize,
}

impl Args {
    /// No arguments.
    pub fn new() -> Args {
        Args::default()
    }

    /// The items of JSON array `text` from byte `start` on; `text` must have been checked.
    pub(crate) fn raw(text: Str, start: usize) -> Args {
        Args {
            raw: Some(Raw { text, start }),
            values: Vec::new(),
        }
    }

    /// Arguments from the text of a JSON array, checked as a received packet is.
    ///
    /// # Errors
    /// [`Error::InvalidJson`] if it is not JSON, [`Error::InvalidPayload`] if not an array.
    pub fn from_json(text: impl Into<Str>) -> Result<Args, Error> {
        let payload = Payload::checked(text.into())?;
        payload.args(0).ok_or(Error::InvalidPayload)
    }

    /// The arguments `data` serialises to, written as JSON at once: binary values become
    /// placeholders into `attachments` (see [`binary::to_json_into`]), and no tree is built.
    /// With `spread`, `data` holds the arguments (a tuple, serialised as an array, or `null`
    /// for none); otherwise it is the one argument.
    ///
    /// ```
    /// use sockeye_socketio_proto::Args;
    /// let mut attachments = Vec::new();
    /// let one = Args::from_serialize(&[1, 2], false, &mut attachments)?;
    /// assert_eq!(one.to_json(), "[[1,2]]");
    /// let two = Args::from_serialize(&("a", 2), true, &mut attachments)?;
    /// assert_eq!(two.to_json(), r#"["a",2]"#);
    /// let none = Args::from_serialize(&(), true, &mut attachments)?;
    /// assert!(none.is_empty());
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Serialize`] when `data` cannot be serialised.
    pub fn from_serialize<T: Serialize + ?Sized>(
        data: &T,
        spread: bool,
        attachments: &mut Vec<Bytes>,
    ) -> Result<Args, Error> {
        let mut text = Vec::with_capacity(64);
        write_arg_items(&mut text, data, spread, attachments)?;
        // `,a,b` becomes `[a,b]`; nothing, `[]`.
        match text.first_mut() {
            Some(first) => *first = b'[',
            None => text.push(b'['),
        }
        text.push(b']');
        // serde_json writes UTF-8.
        let text = String::from_utf8(text).map_err(|e| Error::Serialize(e.to_string()))?;
        Ok(Args::raw(Str::from(text), 1))
    }

    /// Serialises the data of an emit as arguments: a tuple is several (`("a", 1)` two, `()`
    /// none), any other value one, as a JavaScript `emit(event, ...args)` would send them.
    ///
    /// ```
    /// use sockeye_socketio_proto::Args;
    /// let mut attachments = Vec::new();
    /// assert_eq!(Args::from_data(&("a", 1), &mut attachments)?.to_json(), r#"["a",1]"#);
    /// assert_eq!(Args::from_data(&vec![1, 2], &mut attachments)?.to_json(), "[[1,2]]");
    /// # Ok::<(), sockeye_socketio_proto::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Serialize`] when `data` cannot be serialised.
    pub fn from_data<T: Serialize + ?Sized>(
        data: &T,
        attachments: &mut Vec<Bytes>,
    ) -> Result<Args, Error> {
        Args::from_serialize(data, crate::tuple::is_tuple(data), attachments)
    }

    /// The arguments held as values.
    pub fn from_values(values: Vec<Value>) -> Args {
        Args { raw: None, values }
    }

    /// The raw items, when the arguments are held as text.
    fn items(&self) -> Option<Items<'_>> {
        self.raw
            .as_ref()
            .map(|raw| Items::from(&raw.text, raw.start))
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        match self.items() {
            Some(items) => items.count(),
            None => self.values.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        match self.items() {
            Some(mut items) => items.next().is_none(),
            None => self.values.is_empty(),
        }
    }

    /// Each argument's JSON text: borrowed when held as text, serialised otherwise.
    pub fn json_items(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        let raw = self.items().into_iter().flatten().map(Cow::Borrowed);
        raw.chain(self.values.iter().map(|v| Cow::Owned(v.to_string())))
    }

    /// The arguments as trees.
    pub fn to_values(&self) -> Vec<Value> {
        match self.items() {
            // Checked text: each item parses.
            Some(items) => items
                .map(|item| serde_json::from_str(item).unwrap_or(Value::Null))
                .collect(),
            None => self.values.clone(),
        }
    }

    /// The arguments as trees, without cloning them when they are held as values.
    pub fn into_values(self) -> Vec<Value> {
        match self.raw {
            Some(_) => self.to_values(),
            None => self.values,
        }
    }

    /// The arguments as trees to change; from then on they are held as values.
    pub fn values_mut(&mut self) -> &mut Vec<Value> {
        if self.raw.is_some() {
            self.values = self.to_values();
            self.raw = None;
        }
        &mut self.values
    }

    /// Appends the arguments as a JSON array. Received arguments are copied as they arrived,
    /// in one piece (so whitespace between them, which the official clients never send, is
    /// kept); values are written compact.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.raw {
            Some(raw) => {
                // From the first argument to the array's closing `]`, the end of the text.
                let rest = raw.text.get(raw.start..).unwrap_or("]");
                let rest = rest.trim_start_matches([' ', '\t', '\n', '\r']);
                let rest = rest.strip_prefix(',').unwrap_or(rest);
                out.push(b'[');
                out.extend_from_slice(rest.as_bytes());
            }
            // Serialising values into a Vec cannot fail.
            None => {
                let _ = serde_json::to_writer(out, &self.values);
            }
        }
    }

    /// The arguments as the text of a JSON array.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        // JSON written from `str`s and `Value`s is UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Deserialises the arguments as `T`: a lone argument as `T` itself, several (or none) as a
    /// tuple or sequence. Placeholders resolve to `attachments` as [`crate::from_value`] does.
    ///
    /// Without attachments, received arguments are read straight from their text.
    ///
    /// # Errors
    /// [`Error::Deserialize`] when they do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self, attachments: &[Bytes]) -> Result<T, Error> {
        if let (Some(mut items), true) = (self.items(), attachments.is_empty()) {
            let result = match (items.next(), items.next()) {
                (Some(one), None) => serde_json::from_str(one),
                _ => serde_json::from_str(&self.to_json()),
            };
            return result.map_err(|e| Error::Deserialize(strip_position(e)));
        }
        let values: Cow<'_, [Value]> = match self.raw {
            Some(_) => Cow::Owned(self.to_values()),
            None => Cow::Borrowed(&self.values),
        };
        match &*values {
            [one] => binary::from_value_ref(one, attachments),
            many => binary::from_value(Value::Array(many.to_vec()), attachments),
        }
    }
}

/// Appends `data` as the items of an arguments array, each after a comma (`,a,b`, nothing for
/// none), to continue an array already open: with `spread` (a tuple) its items, `()` none;
/// any other value is one argument, as a JavaScript `emit(event, ...args)` would send them.
pub(crate) fn write_arg_items<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    data: &T,
    spread: bool,
    attachments: &mut Vec<Bytes>,
) -> Result<(), Error> {
    let start = out.len();
    if !spread {
        out.push(b',');
        return binary::to_json_into(data, out, attachments);
    }
    binary::to_json_into(data, out, attachments)?;
    match &out[start..] {
        b"null" | b"[]" => out.truncate(start),
        // The tuple's own array: `[a,b]` becomes `,a,b`.
        [b'[', ..] => {
            out[start] = b',';
            out.pop();
        }
        // Not an array after all: the one argument.
        _ => out.insert(start, b','),
    }
    Ok(())
}

/// serde_json's message without the " at line L column C" it adds: the position in one
/// argument's text means little to whoever reads the error.
fn strip_position(error: serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) if error.line() > 0 => message[..at].to_owned(),
        _ => message,
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args::from_values(values)
    }
}

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.raw {
            // Through values: a serializer other than serde_json's would not understand raw JSON.
            Some(_) => self.to_values().serialize(serializer),
            None => self.values.serialize(serializer),
        }
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        if let (Some(a), Some(b)) = (&self.raw, &other.raw) {
            if a.text.get(a.start..) == b.text.get(b.start..) {
                return true;
            }
        }
        self.to_values() == other.to_values()
    }
}

impl PartialEq<[Value]> for Args {
    fn eq(&self, other: &[Value]) -> bool {
        self.to_values() == other
    }
}

impl PartialEq<Vec<Value>> for Args {
    fn eq(&self, other: &Vec<Value>) -> bool {
        self.to_values() == *other
    }
}

impl<const N: usize> PartialEq<[Value; N]> for Args {
    fn eq(&self, other: &[Value; N]) -> bool {
        self.to_values() == other
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl fmt::Display for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_args(text: &str) -> Args {
        Payload::from_json(text.to_owned())
            .unwrap()
            .args(1)
            .unwrap()
    }

    #[test]
    fn spans_of_tricky_arguments() {
        let args = event_args(
            r#"["ev","a,]b",[1,["x]"]],{"k":"v}","n":{"m":[1,2]}},"q\"u",-2.5e-3,null]"#,
        );
        assert_eq!(args.len(), 6);
        assert_eq!(
            args.json_items().collect::<Vec<_>>(),
            [
                r#""a,]b""#,
                r#"[1,["x]"]]"#,
                r#"{"k":"v}","n":{"m":[1,2]}}"#,
                r#""q\"u""#,
                "-2.5e-3",
                "null"
            ]
        );
        assert_eq!(
            args.to_values(),
            [
                json!("a,]b"),
                json!([1, ["x]"]]),
                json!({"k": "v}", "n": {"m": [1, 2]}}),
                json!("q\"u"),
                json!(-2.5e-3),
                json!(null)
            ]
        );
    }

    #[test]
    fn unicode_and_whitespace() {
        let args = event_args("[ \"é\" , \"😀\" ,\n{ \"ü\" : \"€\" } ]");
        // Copied in one piece, whitespace between arguments included.
        assert_eq!(args.to_json(), "[ \"😀\" ,\n{ \"ü\" : \"€\" } ]");
        let (smile, obj): (String, Value) = args.deserialize(&[]).unwrap();
        assert_eq!((smile.as_str(), obj), ("😀", json!({"ü": "€"})));
    }

    #[test]
    fn lone_argument_reads_as_itself_and_several_as_a_tuple() {
        let one = event_args(r#"["e",{"n":1,"msg":"hi"}]"#);
        assert_eq!(
            one.deserialize::<Value>(&[]).unwrap(),
            json!({"n": 1, "msg": "hi"})
        );
        let two = event_args(r#"["e",1,"x"]"#);
        assert_eq!(
            two.deserialize::<(u8, String)>(&[]).unwrap(),
            (1, "x".to_owned())
        );
        let none = event_args(r#"["e"]"#);
        assert!(none.is_empty());
        assert_eq!(none.deserialize::<Vec<u8>>(&[]).unwrap(), Vec::<u8>::new());
        let error = one.deserialize::<u8>(&[]).unwrap_err();
        assert!(
            matches!(error, Error::Deserialize(ref m) if !m.contains("line")),
            "{error:?}"
        );
    }

    #[test]
    fn placeholders_resolve_with_attachments() {
        let args = event_args(r#"["e","f",{"_placeholder":true,"num":0}]"#);
        let attachments = [Bytes::from_static(b"\x01\x02")];
        let (name, data): (String, Bytes) = args.deserialize(&attachments).unwrap();
        assert_eq!((name.as_str(), &data[..]), ("f", &[1u8, 2][..]));
    }

    #[test]
    fn acknowledgement_arguments_and_values() {
        let mut args = Args::from_json(r#"[1, "two"]"#).unwrap();
        assert_eq!(args, Args::from(vec![json!(1), json!("two")]));
        args.values_mut()[0] = json!("one");
        assert_eq!(args.to_json(), r#"["one","two"]"#);
        assert_eq!(format!("{args:?}"), r#"["one","two"]"#);
        assert!(matches!(Args::from_json("{}"), Err(Error::InvalidPayload)));
        assert!(matches!(Args::from_json("[1,"), Err(Error::InvalidJson(_))));
        assert_eq!(
            serde_json::to_string(&event_args(r#"["e", 1 ]"#)).unwrap(),
            "[1]"
        );
    }
}
