//! JSON text without a tree: checking a payload and finding its top-level array items.
//!
//! Received payloads stay text (see [`crate::Payload`]); this module is what lets them. The
//! check accepts exactly what parsing into a `serde_json::Value` accepts (it goes through the
//! same `deserialize_any` paths, so strings are decoded, lone surrogates refused, the nesting
//! limit applies) but builds nothing. The scanner then relies on the text being valid.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, MapAccess, SeqAccess, Visitor};

use crate::validate::is_reserved_event;

/// What a payload is, as far as the packet rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An array, described by its first item.
    Array(First),
    Object,
    String,
    /// `null`, a boolean or a number.
    Scalar,
}

/// The first item of an array payload: the event name of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum First {
    /// The array is empty.
    None,
    /// A string; `reserved` when it is one of the reserved event names.
    Name {
        reserved: bool,
    },
    Number,
    /// Anything else (array, object, boolean, null).
    Other,
}

/// Checks that `text` is one JSON value (whitespace around it allowed) and says what it is.
pub(crate) fn shape_of(text: &str) -> Result<Shape, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let shape = de.deserialize_any(ShapeVisitor)?;
    de.end()?;
    Ok(shape)
}

/// Any JSON value, checked as `Value` would parse it, and dropped.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Valid, D::Error> {
        deserializer.deserialize_any(ValidVisitor)
    }
}

struct ValidVisitor;

impl<'de> Visitor<'de> for ValidVisitor {
    type Value = Valid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        // Keys go through `deserialize_any` too, so their escapes are checked like values'.
        while map.next_key::<Valid>()?.is_some() {
            map.next_value::<Valid>()?;
        }
        Ok(Valid)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::String)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        let first = seq
            .next_element::<FirstItem>()?
            .map_or(First::None, |f| f.0);
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Shape::Array(first))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
        ValidVisitor.visit_map(map)?;
        Ok(Shape::Object)
    }
}

/// The first item of an array, checked and classified.
struct FirstItem(First);

impl<'de> Deserialize<'de> for FirstItem {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<FirstItem, D::Error> {
        deserializer.deserialize_any(FirstVisitor)
    }
}

struct FirstVisitor;

impl<'de> Visitor<'de> for FirstVisitor {
    type Value = FirstItem;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Other))
    }
    fn visit_i64<E>(self, _: i64) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Number))
    }
    fn visit_u64<E>(self, _: u64) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Number))
    }
    fn visit_f64<E>(self, _: f64) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Number))
    }
    fn visit_str<E>(self, name: &str) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Name {
            reserved: is_reserved_event(name),
        }))
    }
    fn visit_unit<E>(self) -> Result<FirstItem, E> {
        Ok(FirstItem(First::Other))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FirstItem, A::Error> {
        ValidVisitor.visit_seq(seq)?;
        Ok(FirstItem(First::Other))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FirstItem, A::Error> {
        ValidVisitor.visit_map(map)?;
        Ok(FirstItem(First::Other))
    }
}

/// The top-level items of a JSON array, as text, each without surrounding whitespace.
///
/// Only ever given text that [`shape_of`] accepted as an array, and a position right after
/// its `[` or right after one of its items. On anything else it stops early rather than panic.
#[derive(Debug, Clone)]
pub(crate) struct Items<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Items<'a> {
    /// The items of `array` (a whole JSON array text, starting with `[`).
    pub(crate) fn new(array: &'a str) -> Items<'a> {
        Items::from(array, 1)
    }

    /// The items of `array` from byte `pos` on.
    pub(crate) fn from(array: &'a str, pos: usize) -> Items<'a> {
        Items { text: array, pos }
    }

    /// Where the next item (or the closing `]`) is looked for.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The next item and its byte range in the array text.
    pub(crate) fn next_span(&mut self) -> Option<(usize, usize)> {
        let bytes = self.text.as_bytes();
        let mut pos = skip_whitespace(bytes, self.pos);
        if bytes.get(pos) == Some(&b',') {
            pos = skip_whitespace(bytes, pos + 1);
        }
        match bytes.get(pos) {
            None | Some(b']') => {
                self.pos = pos;
                None
            }
            Some(_) => {
                let end = skip_value(bytes, pos)?;
                self.pos = end;
                Some((pos, end))
            }
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = self.next_span()?;
        // Both ends sit next to ASCII bytes, hence on char boundaries.
        self.text.get(start..end)
    }
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The end of the (valid) JSON value starting at `pos`; `None` if the text ends first.
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    match bytes.get(pos)? {
        b'"' => skip_string(bytes, pos),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut pos = pos;
            loop {
                match bytes.get(pos)? {
                    b'"' => {
                        pos = skip_string(bytes, pos)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(pos + 1);
                        }
                    }
                    _ => {}
                }
                pos += 1;
            }
        }
        // A number, `true`, `false` or `null`: it runs to the next delimiter.
        _ => {
            let mut pos = pos;
            while !matches!(
                bytes.get(pos),
                None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                pos += 1;
            }
            Some(pos)
        }
    }
}

/// The end of the string whose opening quote is at `pos`.
fn skip_string(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut pos = pos + 1;
    loop {
        match bytes.get(pos)? {
            b'"' => return Some(pos + 1),
            // Whatever follows a backslash (a quote, say) is part of the escape.
            b'\\' => pos += 2,
            _ => pos += 1,
        }
    }
}

/// Whether the JSON text of a string item needs decoding (it holds an escape).
pub(crate) fn has_escape(item: &str) -> bool {
    item.as_bytes().contains(&b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<&str> {
        assert!(matches!(shape_of(text), Ok(Shape::Array(_))), "{text}");
        Items::new(text).collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(shape_of("{}").ok(), Some(Shape::Object));
        assert_eq!(shape_of(" \"x\" ").ok(), Some(Shape::String));
        assert_eq!(shape_of("1").ok(), Some(Shape::Scalar));
        assert_eq!(shape_of("[]").ok(), Some(Shape::Array(First::None)));
        assert_eq!(
            shape_of(r#"["a\u0062"]"#).ok(),
            Some(Shape::Array(First::Name { reserved: false }))
        );
        assert_eq!(
            shape_of(r#"["connec\u0074",1]"#).ok(),
            Some(Shape::Array(First::Name { reserved: true }))
        );
        assert_eq!(shape_of("[1.5]").ok(), Some(Shape::Array(First::Number)));
        assert_eq!(shape_of("[[1],2]").ok(), Some(Shape::Array(First::Other)));
    }

    #[test]
    fn refuses_what_value_refuses() {
        for text in [
            "",
            "[",
            "[1,]",
            "[1 2]",
            "{\"a\"}",
            "[\"\\ud800\"]",
            "{\"\\ud800\":1}",
            "[\"\u{1}\"]",
            "[1] x",
            "[1e400]",
            "[01]",
            "[\"\\x\"]",
        ] {
            assert!(shape_of(text).is_err(), "{text:?}");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "{text:?}"
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(shape_of(&deep).is_err());
        assert!(shape_of("[1,{\"a\":[\"b\"]}]").is_ok());
    }

    #[test]
    fn splits_top_level_items() {
        assert_eq!(items("[]"), Vec::<&str>::new());
        assert_eq!(items("[ ]"), Vec::<&str>::new());
        assert_eq!(items("[1]"), ["1"]);
        assert_eq!(
            items(r#"["a,b",[1,[2,"]"]],{"k":"}","l":{"m":[]}},null,true,-1.5e3]"#),
            [
                r#""a,b""#,
                r#"[1,[2,"]"]]"#,
                r#"{"k":"}","l":{"m":[]}}"#,
                "null",
                "true",
                "-1.5e3"
            ]
        );
        assert_eq!(
            items("[ \"q\\\"x\\\\\" ,\n\t{ \"a\" : 1 } , 2 ]"),
            ["\"q\\\"x\\\\\"", "{ \"a\" : 1 }", "2"]
        );
        assert_eq!(
            items(r#"["é😀",{"ü":"€,]"}]"#),
            [r#""é😀""#, r#"{"ü":"€,]"}"#]
        );
    }

    #[test]
    fn resumes_after_an_item() {
        let text = r#"["name",1,"two"]"#;
        let mut all = Items::new(text);
        assert_eq!(all.next(), Some(r#""name""#));
        let rest: Vec<_> = Items::from(text, all.pos()).collect();
        assert_eq!(rest, ["1", r#""two""#]);
        assert!(has_escape(r#""a\"b""#));
        assert!(!has_escape(r#""ab""#));
    }

    #[test]
    fn truncated_text_stops_without_panicking() {
        for text in ["[\"abc", "[[1,2", "[1,", "[\"a\\"] {
            let _ = Items::new(text).count();
        }
    }
}
