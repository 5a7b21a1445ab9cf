//! Rust values straight to JSON text, binary values as placeholders: no [`serde_json::Value`]
//! tree in between (see [`to_json_into`](super::to_json_into)).

use std::io::{self, Write};

use bytes::Bytes;
use serde_json::ser::Formatter;

/// serde_json's compact output, except that a byte array (`serialize_bytes`) becomes a
/// placeholder and its bytes the next attachment.
pub(super) struct PlaceholderFormatter<'a> {
    pub(super) attachments: &'a mut Vec<Bytes>,
}

impl Formatter for PlaceholderFormatter<'_> {
    fn write_byte_array<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        let num = self.attachments.len();
        self.attachments.push(Bytes::copy_from_slice(value));
        writer.write_all(br#"{"_placeholder":true,"num":"#)?;
        writer.write_all(itoa::Buffer::new().format(num).as_bytes())?;
        writer.write_all(b"}")
    }
}
