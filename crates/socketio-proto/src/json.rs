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
///
/// The common case goes through a quick byte-level check ([`quick_shape`]); whatever it is not
/// sure of (number exponents, `\u` surrogates, deep nesting, escaped event names, errors) is
/// decided by serde_json, so the verdict is always serde_json's.
pub(crate) fn shape_of(text: &str) -> Result<Shape, serde_json::Error> {
    if let Some(shape) = quick_shape(text.as_bytes()) {
        return Ok(shape);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let shape = de.deserialize_any(ShapeVisitor)?;
    de.end()?;
    Ok(shape)
}

/// The shape of `text` when it is certainly valid JSON as serde_json sees it; `None` when
/// unsure (invalid, or valid in a way this check leaves to serde_json). Never `Some` for text
/// serde_json refuses: it only accepts a strict subset of JSON.
fn quick_shape(b: &[u8]) -> Option<Shape> {
    let start = skip_whitespace(b, 0);
    let shape = match *b.get(start)? {
        b'[' => {
            let first = skip_whitespace(b, start + 1);
            Shape::Array(match *b.get(first)? {
                b']' => First::None,
                b'"' => {
                    let end = quick_string_end(b, first)?;
                    let name = b.get(first + 1..end - 1)?;
                    if name.contains(&b'\\') {
                        return None;
                    }
                    let reserved = crate::RESERVED_EVENTS.iter().any(|r| r.as_bytes() == name);
                    First::Name { reserved }
                }
                b'-' | b'0'..=b'9' => First::Number,
                _ => First::Other,
            })
        }
        b'{' => Shape::Object,
        b'"' => Shape::String,
        _ => Shape::Scalar,
    };
    let end = quick_value_end(b, start)?;
    (skip_whitespace(b, end) == b.len()).then_some(shape)
}

/// serde_json refuses nesting this deep (its recursion limit is 128).
const MAX_DEPTH: u32 = 127;

/// The end of the JSON value at `p`, checked; `None` when unsure. Iterative, with the
/// enclosing containers as bits of `objects` (1 = object), so deep input costs no stack.
fn quick_value_end(b: &[u8], mut p: usize) -> Option<usize> {
    let mut objects: u128 = 0;
    let mut depth: u32 = 0;
    'value: loop {
        // A value starts at `p`.
        p = skip_whitespace(b, p);
        match *b.get(p)? {
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH - 1 {
                    return None;
                }
                objects = (objects << 1) | u128::from(open == b'{');
                depth += 1;
                p = skip_whitespace(b, p + 1);
                match (open, *b.get(p)?) {
                    (b'[', b']') | (b'{', b'}') => {
                        p += 1;
                        objects >>= 1;
                        depth -= 1;
                    }
                    (b'{', _) => {
                        p = quick_key(b, p)?;
                        continue 'value;
                    }
                    _ => continue 'value,
                }
            }
            b'"' => p = quick_string_end(b, p)?,
            b't' => p = literal(b, p, b"true")?,
            b'f' => p = literal(b, p, b"false")?,
            b'n' => p = literal(b, p, b"null")?,
            b'-' | b'0'..=b'9' => p = quick_number_end(b, p)?,
            _ => return None,
        }
        // A value ended at `p`: close containers, or go on to the next item.
        loop {
            if depth == 0 {
                return Some(p);
            }
            p = skip_whitespace(b, p);
            let in_object = objects & 1 == 1;
            match (*b.get(p)?, in_object) {
                (b',', true) => {
                    p = quick_key(b, skip_whitespace(b, p + 1))?;
                    continue 'value;
                }
                (b',', false) => {
                    p += 1;
                    continue 'value;
                }
                (b'}', true) | (b']', false) => {
                    p += 1;
                    objects >>= 1;
                    depth -= 1;
                }
                _ => return None,
            }
        }
    }
}

/// `"key":` at `p`; the position after the colon.
fn quick_key(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) != Some(&b'"') {
        return None;
    }
    let p = skip_whitespace(b, quick_string_end(b, p)?);
    (b.get(p) == Some(&b':')).then_some(p + 1)
}

fn literal(b: &[u8], p: usize, word: &[u8]) -> Option<usize> {
    (b.get(p..p + word.len())? == word).then_some(p + word.len())
}

/// The end of the string opening at `p`: control characters refused, escapes checked,
/// `\u` surrogates (whose pairing rules serde_json enforces) left unsure.
fn quick_string_end(b: &[u8], p: usize) -> Option<usize> {
    let mut p = plain_run_end(b, p + 1);
    loop {
        match *b.get(p)? {
            b'"' => return Some(p + 1),
            b'\\' => match *b.get(p + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => p += 2,
                b'u' => {
                    let hex = b.get(p + 2..p + 6)?;
                    let mut code = 0u32;
                    for &h in hex {
                        code = code * 16 + char::from(h).to_digit(16)?;
                    }
                    if (0xD800..=0xDFFF).contains(&code) {
                        return None;
                    }
                    p += 6;
                }
                _ => return None,
            },
            0..=0x1f => return None,
            _ => p += 1,
        }
    }
}

/// Skips, eight bytes at a time, the bytes from `p` on that need no look inside a string:
/// neither `"`, `\\` nor a control character. Most string content is such bytes.
fn plain_run_end(b: &[u8], mut p: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `word` is zero, or below 0x20 (Mycroft's bit tricks; a byte with its
    // high bit set, part of a multi-byte character, never counts).
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH != 0;
    let has_control = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    while let Some(chunk) = b.get(p..p + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_le_bytes(bytes);
        if has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
            || has_control(word)
        {
            break;
        }
        p += 8;
    }
    p
}

/// The end of the number at `p` in JSON's grammar; exponents and very long numbers (which may
/// overflow `f64`, an error for serde_json) are left unsure.
fn quick_number_end(b: &[u8], p: usize) -> Option<usize> {
    let start = p;
    let mut p = p + usize::from(b.get(p) == Some(&b'-'));
    match *b.get(p)? {
        b'0' => p += 1,
        b'1'..=b'9' => p = skip_digits(b, p),
        _ => return None,
    }
    if b.get(p) == Some(&b'.') {
        let end = skip_digits(b, p + 1);
        if end == p + 1 {
            return None;
        }
        p = end;
    }
    if matches!(b.get(p), Some(b'e' | b'E')) || p - start > 300 {
        return None;
    }
    Some(p)
}

fn skip_digits(b: &[u8], mut p: usize) -> usize {
    while b.get(p).is_some_and(u8::is_ascii_digit) {
        p += 1;
    }
    p
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

    /// The quick check never accepts what serde_json refuses, and agrees on what it accepts.
    #[test]
    fn quick_check_agrees_with_serde_json() {
        let cases = [
            r#"["echo",{"n":1,"msg":"hi"}]"#,
            r#"[]"#,
            r#"[1]"#,
            r#"[-0.5,0,10,-3]"#,
            r#"["a\n\"\\\/\b\f\r\t\u00e9"]"#,
            r#"["\ud83d\ude00"]"#,
            r#"["\ud83d"]"#,
            r#"["\ude00"]"#,
            r#"["\u12"]"#,
            r#"["\x"]"#,
            r#"[1e5]"#,
            r#"[1e400]"#,
            r#"[01]"#,
            r#"[1.]"#,
            r#"[.5]"#,
            r#"[-]"#,
            r#"[--1]"#,
            r#"[1,]"#,
            r#"[,1]"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            r#"{"a":1 "b":2}"#,
            r#"[true,false,null]"#,
            r#"[tru]"#,
            r#"[nulll]"#,
            r#"[True]"#,
            "[\"\u{1}\"]",
            "[\"\u{7f}é😀\"]",
            r#"{"a":{"b":[{"c":[]}],"d":{}}}"#,
            r#"[[]]"#,
            r#"[[],[[]]]"#,
            r#"["disconnect"]"#,
            r#"["connec\u0074"]"#,
            r#"[1] x"#,
            r#"[1]]"#,
            r#"[1}"#,
            r#"{"a":1]"#,
            r#"["a"   ,  {  "b"  :  [ 1 , 2 ]  }  ]"#,
            "\"str\"",
            "{}",
            "12",
            "-",
            "",
            "   ",
            "[\"a\"",
            "{\"a\"",
            "[1 2]",
            "[\"a\":1]",
            "{\"a\":}",
        ];
        for text in cases {
            let serde = serde_json::from_str::<serde_json::Value>(text).is_ok();
            if let Some(shape) = quick_shape(text.as_bytes()) {
                assert!(serde, "quick accepted {text:?}, serde_json refuses it");
                let mut de = serde_json::Deserializer::from_str(text);
                let slow = de.deserialize_any(ShapeVisitor).ok();
                assert_eq!(Some(shape), slow, "{text:?}");
            }
            assert_eq!(shape_of(text).is_ok(), serde, "{text:?}");
        }
        assert!(quick_shape(br#"["echo",{"n":1,"msg":"hi"}]"#).is_some());
        for depth in [126, 127, 128, 129] {
            let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let serde = serde_json::from_str::<serde_json::Value>(&deep).is_ok();
            assert_eq!(shape_of(&deep).is_ok(), serde, "depth {depth}");
            if quick_shape(deep.as_bytes()).is_some() {
                assert!(serde, "depth {depth}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn quick_check_never_accepts_what_serde_json_refuses(
            text in "[\\[\\]{}\",:0-9.eE+\\-tfnrulase\\\\ \u{1}é]{0,24}"
        ) {
            let serde = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            if quick_shape(text.as_bytes()).is_some() {
                proptest::prop_assert!(serde, "{:?}", text);
            }
            proptest::prop_assert_eq!(shape_of(&text).is_ok(), serde);
        }
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
    fn string_ends_are_found_wherever_the_special_byte_sits() {
        // A quote, a backslash or a control byte at every offset, so that each lands in every
        // lane of the eight-byte scan and in the bytes after the last whole word.
        for len in 0..24 {
            for (special, valid) in [("\"", false), ("\\n", true), ("\u{1}", false)] {
                for at in 0..=len {
                    let body: String = (0..len)
                        .map(|i| if i == at { special } else { "é" })
                        .collect();
                    let text = format!("\"{body}\"");
                    let serde = serde_json::from_str::<String>(&text)
                        .ok()
                        .map(|_| text.len());
                    let quick = quick_string_end(text.as_bytes(), 0);
                    if valid || at == len {
                        assert_eq!(quick, serde, "{text:?}");
                    } else {
                        // Unsure or early end: never a longer string than serde_json reads.
                        assert!(quick.is_none() || quick < Some(text.len()), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn truncated_text_stops_without_panicking() {
        for text in ["[\"abc", "[[1,2", "[1,", "[\"a\\"] {
            let _ = Items::new(text).count();
        }
    }
}
