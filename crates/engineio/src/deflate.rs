//! permessage-deflate (RFC 7692) for the WebSocket transport, as Node's `perMessageDeflate`:
//! the negotiation of the `Sec-WebSocket-Extensions` header, and the per-connection state that
//! compresses outgoing messages and inflates incoming ones. Sans-IO: [`CodecIo`] runs it
//! between the socket and the codec (tungstenite, which knows nothing of extensions).
//!
//! Incoming, [`Inflate`] rewrites the client's frames: a compressed message (RSV1 on its first
//! frame) becomes one ordinary frame, inflated, RSV1 cleared, masked with a zero key (which
//! leaves the payload as it is and keeps the codec's check that clients mask). Everything else
//! goes through unchanged. A message that inflates past the limit becomes a frame header one
//! byte over it, so that the codec refuses it as it refuses any oversized message.
//!
//! Outgoing, [`Deflate::compress`] compresses one message's payload; [`CodecIo::send_direct`]
//! writes it with RSV1 set.
//!
//! The backend (flate2's miniz_oxide) always compresses with a 32 KiB window, so an offer that
//! asks the server for a smaller one (`server_max_window_bits` below 15) is declined; inflating
//! takes any window the client uses, so `client_max_window_bits` needs no answer.
//!
//! [`CodecIo`]: crate::codec_io::CodecIo
//! [`CodecIo::send_direct`]: crate::codec_io::CodecIo::send_direct

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::HeaderMap;
use http::header::{self, HeaderValue};

/// What ends every message compressed with a sync flush: removed by the sender, put back by
/// the receiver (RFC 7692, section 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// permessage-deflate on WebSocket connections, in [`crate::EngineConfig::per_message_deflate`].
///
/// Off by default, as in Node. With it on, a client that offers the extension (browsers and
/// the npm `ws` client do) gets it, and messages of at least [`PerMessageDeflate::threshold`]
/// bytes go out compressed. Each connection that compresses with context takeover keeps a
/// compressor (about 310 KiB) from its first compressed message on, and one that receives
/// compressed messages an inflater (about 40 KiB); see `docs/compression.md`.
///
/// ```
/// use sockeye_engineio::{EngineConfig, PerMessageDeflate};
///
/// let config = EngineConfig::default()
///     .per_message_deflate(Some(PerMessageDeflate::default().threshold(4096)));
/// assert_eq!(config.per_message_deflate.map(|d| d.threshold), Some(4096));
/// assert!(EngineConfig::default().per_message_deflate.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerMessageDeflate {
    /// The smallest message compressed, in bytes. Default 1 024, as in Node.
    pub threshold: usize,
    /// The zlib level, 0 (none) to 9 (smallest). Default 1: with this crate's deflate
    /// (miniz_oxide), level 6 (zlib's default, which Node uses) takes five to nine times the
    /// CPU per message for output 3 to 4 points smaller (`benches/deflate.rs`,
    /// `docs/compression.md`).
    pub level: u32,
    /// Whether the server starts every message it compresses afresh
    /// (`server_no_context_takeover`): a little larger output, and no compressor kept per
    /// connection (one per thread serves them all). Also granted to a client that asks for it.
    /// Default false, as in Node.
    pub server_no_context_takeover: bool,
    /// Whether clients are asked to start every message afresh (`client_no_context_takeover`),
    /// so that no inflater is kept per connection between messages. Also agreed to when a
    /// client offers it. Default false, as in Node.
    pub client_no_context_takeover: bool,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        PerMessageDeflate {
            threshold: 1024,
            level: 1,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
        }
    }
}

impl PerMessageDeflate {
    /// Sets [`PerMessageDeflate::threshold`].
    #[must_use]
    pub fn threshold(mut self, threshold: usize) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets [`PerMessageDeflate::level`] (values above 9 mean 9).
    #[must_use]
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Sets [`PerMessageDeflate::server_no_context_takeover`].
    #[must_use]
    pub fn server_no_context_takeover(mut self, value: bool) -> Self {
        self.server_no_context_takeover = value;
        self
    }

    /// Sets [`PerMessageDeflate::client_no_context_takeover`].
    #[must_use]
    pub fn client_no_context_takeover(mut self, value: bool) -> Self {
        self.client_no_context_takeover = value;
        self
    }
}

/// What was agreed with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
}

/// One `permessage-deflate` offer's parameters; `None` when the offer is malformed (a
/// parameter unknown, repeated, or with a bad value), which RFC 7692 says to decline.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Offer {
    fn parse<'a>(params: impl Iterator<Item = &'a str>) -> Option<Offer> {
        let mut offer = Offer::default();
        for param in params {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (param.trim(), None),
            };
            let bits = |value: Option<&str>| -> Option<u8> {
                let bits: u8 = value?.parse().ok()?;
                (8..=15).contains(&bits).then_some(bits)
            };
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    if std::mem::replace(&mut offer.server_no_context_takeover, true) {
                        return None;
                    }
                }
                "client_no_context_takeover" if value.is_none() => {
                    if std::mem::replace(&mut offer.client_no_context_takeover, true) {
                        return None;
                    }
                }
                "server_max_window_bits" => {
                    if offer.server_max_window_bits.replace(bits(value)?).is_some() {
                        return None;
                    }
                }
                "client_max_window_bits" => {
                    let bits = match value {
                        None => None,
                        value => Some(bits(value)?),
                    };
                    if offer.client_max_window_bits.replace(bits).is_some() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
        Some(offer)
    }
}

/// Picks the first `permessage-deflate` offer in the request that the server can honour, and
/// the `Sec-WebSocket-Extensions` value that accepts it. `None`: the connection goes
/// uncompressed, which every client must accept.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    config: &PerMessageDeflate,
) -> Option<(Agreed, HeaderValue)> {
    let offers = headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for offer in offers {
        let mut parts = offer.split(';');
        let name = parts.next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("permessage-deflate") {
            continue;
        }
        let Some(offer) = Offer::parse(parts.filter(|part| !part.trim().is_empty())) else {
            continue;
        };
        // The compressor's window is 32 KiB, always.
        if offer.server_max_window_bits.is_some_and(|bits| bits < 15) {
            continue;
        }
        let agreed = Agreed {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
        };
        let mut answer = String::from("permessage-deflate");
        if agreed.server_no_context_takeover {
            answer.push_str("; server_no_context_takeover");
        }
        if agreed.client_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        if offer.server_max_window_bits.is_some() {
            answer.push_str("; server_max_window_bits=15");
        }
        let value = HeaderValue::from_str(&answer).ok()?;
        return Some((agreed, value));
    }
    None
}

thread_local! {
    /// The compressor of connections without context takeover, reset after each message:
    /// they need none of their own between messages.
    static SHARED_COMPRESSOR: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
}

/// One connection's permessage-deflate state.
#[derive(Debug)]
pub(crate) struct Deflate {
    threshold: usize,
    level: u32,
    agreed: Agreed,
    /// With context takeover: made with the first compressed message, kept from then on.
    compressor: Option<Box<Compress>>,
    pub(crate) inflate: Inflate,
}

impl Deflate {
    /// The state for a connection that agreed to `agreed`, accepting messages of up to
    /// `max_message` bytes once inflated.
    pub(crate) fn new(config: &PerMessageDeflate, agreed: Agreed, max_message: usize) -> Self {
        Deflate {
            threshold: config.threshold,
            level: config.level,
            agreed,
            compressor: None,
            inflate: Inflate::new(agreed.client_no_context_takeover, max_message),
        }
    }

    /// Whether a message of `len` bytes goes out compressed.
    pub(crate) fn compresses(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// One message's payload compressed, the tail of the sync flush removed.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Bytes {
        let level = Compression::new(self.level);
        if self.agreed.server_no_context_takeover {
            return SHARED_COMPRESSOR.with(|shared| {
                let mut shared = shared.borrow_mut();
                let compressor = match &mut *shared {
                    Some((made_at, compressor)) if *made_at == self.level => compressor,
                    slot => &mut slot.insert((self.level, Compress::new(level, false))).1,
                };
                let out = deflate_message(compressor, payload);
                compressor.reset();
                out
            });
        }
        let compressor = self
            .compressor
            .get_or_insert_with(|| Box::new(Compress::new(level, false)));
        deflate_message(compressor, payload)
    }
}

/// Compresses `payload` and flushes it to a byte boundary (a sync flush), without the tail.
fn deflate_message(compressor: &mut Compress, payload: &[u8]) -> Bytes {
    // Enough for most messages at once; incompressible ones take another turn or two.
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let start_in = compressor.total_in();
    loop {
        let consumed = (compressor.total_in() - start_in) as usize;
        if out.len() == out.capacity() {
            out.reserve(payload.len() / 4 + 64);
        }
        // Writing into memory does not fail: a stream error would be a bug in the backend.
        if compressor
            .compress_vec(&payload[consumed..], &mut out, FlushCompress::Sync)
            .is_err()
        {
            break;
        }
        let done = (compressor.total_in() - start_in) as usize == payload.len();
        // Room left after the call: the flush is complete.
        if done && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Bytes::from(out)
}

/// Why the client's frames were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A message inflates (or arrives compressed) past the limit.
    TooLarge,
    /// Bad compressed data, RSV1 where it has no meaning, a message begun inside another.
    Invalid,
}

/// The inflating side: rewrites the client's frames for the codec (see the module's doc).
#[derive(Debug)]
pub(crate) struct Inflate {
    max_message: usize,
    /// The client starts every message afresh: no inflater is kept between messages.
    no_context_takeover: bool,
    inflater: Option<Box<Decompress>>,
    /// The header being read, `head_len` bytes of it so far.
    head: [u8; 14],
    head_len: u8,
    /// Payload bytes of the current frame still to come.
    left: u64,
    /// What to do with the current frame's payload.
    payload: Payload,
    /// The opcode of the compressed message being read (its first frame's), if one is.
    message_opcode: Option<u8>,
    /// The compressed message inflated so far.
    message: Vec<u8>,
    /// Compressed bytes of the current message so far.
    compressed: usize,
    /// Frames were refused: nothing more goes to the codec.
    refused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Copied as it is.
    Through,
    /// Unmasked with this key (from this offset in it) and inflated; `fin` ends the message.
    Inflate { mask: [u8; 4], at: usize, fin: bool },
}

impl Inflate {
    fn new(no_context_takeover: bool, max_message: usize) -> Self {
        Inflate {
            max_message,
            no_context_takeover,
            inflater: None,
            head: [0; 14],
            head_len: 0,
            left: 0,
            payload: Payload::Through,
            message_opcode: None,
            message: Vec::new(),
            compressed: 0,
            refused: false,
        }
    }

    /// Whether frames were refused: the codec has been handed what makes it fail, and
    /// nothing after it.
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    /// Takes the next bytes from the client and appends to `out` what the codec gets of them.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() && !self.refused {
            if self.left > 0 {
                let n =
                    usize::try_from(self.left).map_or(input.len(), |left| left.min(input.len()));
                let (chunk, rest) = input.split_at(n);
                input = rest;
                self.left -= n as u64;
                if let Err(refusal) = self.payload(chunk, out) {
                    self.refuse(refusal, out);
                    return;
                }
                if self.left == 0 {
                    if let Err(refusal) = self.frame_end(out) {
                        self.refuse(refusal, out);
                    }
                }
                continue;
            }
            // A header, a byte at a time until its length is known, then the rest at once.
            let need = header_len(&self.head[..usize::from(self.head_len)]);
            let n = (need - usize::from(self.head_len)).min(input.len());
            let at = usize::from(self.head_len);
            self.head[at..at + n].copy_from_slice(&input[..n]);
            self.head_len += n as u8;
            input = &input[n..];
            if usize::from(self.head_len) == header_len(&self.head[..usize::from(self.head_len)]) {
                if let Err(refusal) = self.header(out) {
                    self.refuse(refusal, out);
                }
            }
        }
    }

    /// A whole header is in `head`: decides what becomes of its frame.
    fn header(&mut self, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let len = usize::from(self.head_len);
        self.head_len = 0;
        let head = self.head;
        let head = &head[..len];
        let (first, second) = (head[0], head[1]);
        let fin = first & 0x80 != 0;
        let rsv1 = first & 0x40 != 0;
        let opcode = first & 0x0f;
        let masked = second & 0x80 != 0;
        let length = match second & 0x7f {
            126 => u64::from(u16::from_be_bytes([head[2], head[3]])),
            127 => u64::from_be_bytes([
                head[2], head[3], head[4], head[5], head[6], head[7], head[8], head[9],
            ]),
            length => u64::from(length),
        };
        let is_data = opcode == 1 || opcode == 2;
        let compressed_start = rsv1 && is_data && masked && self.message_opcode.is_none();
        let continues_compressed = opcode == 0 && !rsv1 && self.message_opcode.is_some();
        if !(compressed_start || continues_compressed) {
            if is_data && self.message_opcode.is_some() {
                // A new message inside a compressed one.
                return Err(Refusal::Invalid);
            }
            // The codec refuses the frames that are wrong here (RSV1 on a control or
            // continuation frame, an unmasked frame, a reserved opcode).
            out.extend_from_slice(head);
            self.payload = Payload::Through;
            self.left = length;
            return Ok(());
        }
        if compressed_start {
            self.message_opcode = Some(opcode);
            self.compressed = 0;
        }
        // Compressed data a little larger than the limit may still inflate within it (stored
        // blocks add 5 bytes in 65 535), but not much larger.
        let max_compressed = self.max_message.saturating_add(self.max_message / 256 + 64);
        let total = (self.compressed as u64).saturating_add(length);
        if total > max_compressed as u64 {
            return Err(Refusal::TooLarge);
        }
        self.compressed = total as usize;
        let mask = if masked {
            [head[len - 4], head[len - 3], head[len - 2], head[len - 1]]
        } else {
            // Unmasked continuation: left for the codec to refuse.
            return Err(Refusal::Invalid);
        };
        self.payload = Payload::Inflate { mask, at: 0, fin };
        self.left = length;
        if length == 0 {
            self.frame_end(out)?;
        }
        Ok(())
    }

    /// Part of the current frame's payload.
    fn payload(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Refusal> {
        let Payload::Inflate { mask, at, .. } = &mut self.payload else {
            out.extend_from_slice(chunk);
            return Ok(());
        };
        let mask = *mask;
        let mut buf = [0u8; 4096];
        for piece in chunk.chunks(buf.len()) {
            let buf = &mut buf[..piece.len()];
            for (i, (out, byte)) in buf.iter_mut().zip(piece).enumerate() {
                *out = byte ^ mask[(*at + i) % 4];
            }
            *at = (*at + piece.len()) % 4;
            inflate_into(&mut self.inflater, buf, &mut self.message, self.max_message)?;
        }
        Ok(())
    }

    /// The current frame's payload is all there: a compressed message that it ends goes to
    /// the codec.
    fn frame_end(&mut self, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let Payload::Inflate { fin: true, .. } = self.payload else {
            return Ok(());
        };
        self.payload = Payload::Through;
        let ended = inflate_into(
            &mut self.inflater,
            &TAIL,
            &mut self.message,
            self.max_message,
        )?;
        if ended || self.no_context_takeover {
            // A stream that ended (a final block) starts again with the next message.
            self.inflater = None;
        }
        let opcode = self.message_opcode.take().unwrap_or(2);
        let message = std::mem::take(&mut self.message);
        out.reserve(14 + message.len());
        out.push(0x80 | opcode);
        let len = message.len();
        // Masked, with a key of zeros: the payload stays as it is.
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(0x80 | 126);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&message);
        Ok(())
    }

    /// Hands the codec what makes it fail as it would for the same fault without the
    /// extension, then nothing more.
    fn refuse(&mut self, refusal: Refusal, out: &mut Vec<u8>) {
        self.refused = true;
        self.inflater = None;
        self.message = Vec::new();
        match refusal {
            // A binary frame one byte over the limit, masked: the codec stops at its header.
            Refusal::TooLarge => {
                out.extend_from_slice(&[0x82, 0x80 | 127]);
                out.extend_from_slice(&(self.max_message as u64 + 1).to_be_bytes());
                out.extend_from_slice(&[0; 4]);
            }
            // An empty binary frame with RSV1 set: "reserved bits are non-zero".
            Refusal::Invalid => out.extend_from_slice(&[0xc2, 0x80, 0, 0, 0, 0]),
        }
    }
}

/// The size of the header `head` begins, as far as its bytes tell: 2 until the second byte
/// is there.
fn header_len(head: &[u8]) -> usize {
    let Some(&second) = head.get(1) else {
        return 2;
    };
    let length = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 == 0 { 0 } else { 4 };
    2 + length + mask
}

/// Inflates `input` onto `out`, never past `max + 1` bytes: more is a refusal. True if the
/// deflate stream ended (a final block).
fn inflate_into(
    inflater: &mut Option<Box<Decompress>>,
    mut input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<bool, Refusal> {
    let inflater = inflater.get_or_insert_with(|| Box::new(Decompress::new(false)));
    loop {
        if out.len() > max {
            return Err(Refusal::TooLarge);
        }
        if out.len() == out.capacity() {
            let room = (max + 1 - out.len()).min(out.len().max(4096));
            out.reserve_exact(room);
        }
        let before = inflater.total_in();
        let status = inflater
            .decompress_vec(input, out, FlushDecompress::Sync)
            .map_err(|_| Refusal::Invalid)?;
        let consumed = (inflater.total_in() - before) as usize;
        input = &input[consumed..];
        if status == Status::StreamEnd {
            // A final block: what follows it in the message (the tail appended, at least)
            // is ignored, as zlib does.
            return if out.len() > max {
                Err(Refusal::TooLarge)
            } else {
                Ok(true)
            };
        }
        if out.len() > max {
            return Err(Refusal::TooLarge);
        }
        // All taken, and room left: nothing is held back for want of space.
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(value: &str) -> Option<(Agreed, String)> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_str(value).unwrap(),
        );
        negotiate(&headers, &PerMessageDeflate::default())
            .map(|(agreed, value)| (agreed, value.to_str().unwrap().to_owned()))
    }

    const TAKEOVER: Agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };

    #[test]
    fn offers_are_answered_with_what_the_server_honours() {
        // What `ws` and browsers send.
        assert_eq!(
            offer("permessage-deflate; client_max_window_bits"),
            Some((TAKEOVER, "permessage-deflate".to_owned()))
        );
        assert_eq!(
            offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            Some((
                Agreed {
                    server_no_context_takeover: true,
                    client_no_context_takeover: true,
                },
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
                    .to_owned()
            ))
        );
        assert_eq!(
            offer("permessage-deflate; server_max_window_bits=\"15\""),
            Some((
                TAKEOVER,
                "permessage-deflate; server_max_window_bits=15".to_owned()
            ))
        );
        // A smaller window for the server: declined, the next offer taken.
        assert_eq!(
            offer(
                "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits=12"
            ),
            Some((TAKEOVER, "permessage-deflate".to_owned()))
        );
        assert_eq!(offer("permessage-deflate; server_max_window_bits=10"), None);
        // Malformed offers are declined.
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; x_webkit",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(offer(bad), None, "{bad}");
        }
        assert!(negotiate(&HeaderMap::new(), &PerMessageDeflate::default()).is_none());
    }

    #[test]
    fn the_server_can_ask_for_no_context_takeover() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static("permessage-deflate"),
        );
        let config = PerMessageDeflate::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true);
        let (_, value) = negotiate(&headers, &config).unwrap();
        assert_eq!(
            value,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    /// A client's frame: masked, RSV1 as given.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut out = vec![first];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    /// The frames the codec gets: (first byte, payload unmasked).
    fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let len = header_len(bytes);
            let head = &bytes[..len];
            let length = match head[1] & 0x7f {
                126 => u16::from_be_bytes([head[2], head[3]]) as usize,
                127 => u64::from_be_bytes(head[2..10].try_into().unwrap()) as usize,
                n => n as usize,
            };
            let mask: [u8; 4] = head[len - 4..].try_into().unwrap();
            let payload = bytes[len..len + length]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            frames.push((head[0], payload));
            bytes = &bytes[len + length..];
        }
        frames
    }

    fn deflate(agreed: Agreed) -> Deflate {
        Deflate::new(&PerMessageDeflate::default(), agreed, 1_000_000)
    }

    fn json(len: usize) -> Vec<u8> {
        let mut text = String::from("42[\"chat\",[");
        let mut i = 0;
        while text.len() < len - 2 {
            text.push_str(&format!("{{\"id\":{i},\"name\":\"user{i}\"}},"));
            i += 1;
        }
        text.truncate(len - 2);
        text.push_str("]]");
        text.into_bytes()
    }

    #[test]
    fn compressed_messages_round_trip_however_cut() {
        for agreed in [
            TAKEOVER,
            Agreed {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
            },
        ] {
            let mut sender = deflate(agreed);
            let messages = [json(2000), json(70_000), vec![7u8; 300_000], json(1024)];
            let mut stream = Vec::new();
            for message in &messages {
                let compressed = sender.compress(message);
                assert!(compressed.len() < message.len());
                // Text, RSV1, one frame.
                stream.extend(frame(0xc1, &compressed));
                // Again (compressed again: with context takeover it depends on the first),
                // in three frames with a ping between.
                let compressed = sender.compress(message);
                let third = compressed.len() / 3;
                stream.extend(frame(0x41, &compressed[..third]));
                stream.extend(frame(0x89, b"ping"));
                stream.extend(frame(0x00, &compressed[third..2 * third]));
                stream.extend(frame(0x80, &compressed[2 * third..]));
                // Uncompressed messages pass through.
                stream.extend(frame(0x82, b"plain"));
            }
            for cut in [1, 7, 500, 4096, stream.len()] {
                let mut inflate = Inflate::new(agreed.client_no_context_takeover, 1_000_000);
                let mut out = Vec::new();
                for piece in stream.chunks(cut) {
                    inflate.feed(piece, &mut out);
                }
                assert!(!inflate.refused());
                let got = frames(&out);
                let mut expected = Vec::new();
                for message in &messages {
                    expected.push((0x81, message.clone()));
                    expected.push((0x89, b"ping".to_vec()));
                    expected.push((0x81, message.clone()));
                    expected.push((0x82, b"plain".to_vec()));
                }
                assert_eq!(got.len(), expected.len());
                assert!(got == expected, "cut {cut}");
            }
        }
    }

    fn feed_all(inflate: &mut Inflate, stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in stream.chunks(1000) {
            inflate.feed(piece, &mut out);
        }
        out
    }

    #[test]
    fn a_zip_bomb_is_refused_as_too_large() {
        let mut sender = deflate(TAKEOVER);
        // 10 MB of zeros: a few tens of KB compressed, ten times the limit inflated.
        let bomb = sender.compress(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        let mut inflate = Inflate::new(false, 1_000_000);
        let mut stream = frame(0x82, b"before");
        stream.extend(frame(0xc2, &bomb));
        stream.extend(frame(0x82, b"after"));
        let out = feed_all(&mut inflate, &stream);
        assert!(inflate.refused());
        // The frame before, then a header announcing one byte over the limit; nothing after.
        let before = frame(0x82, b"before");
        assert_eq!(&out[..before.len()], &before[..]);
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&1_000_001u64.to_be_bytes());
        header.extend_from_slice(&[0; 4]);
        assert_eq!(&out[before.len()..], &header[..]);
        // What it inflated so far was given back.
        assert_eq!(inflate.message.capacity(), 0);
    }

    #[test]
    fn a_message_just_within_the_limit_is_taken() {
        let mut sender = deflate(TAKEOVER);
        let mut inflate = Inflate::new(false, 100_000);
        let stream = frame(0xc2, &sender.compress(&vec![1u8; 100_000]));
        let out = feed_all(&mut inflate, &stream);
        assert!(!inflate.refused());
        assert_eq!(frames(&out), [(0x82, vec![1u8; 100_000])]);
        let stream = frame(0xc2, &sender.compress(&vec![1u8; 100_001]));
        feed_all(&mut inflate, &stream);
        assert!(inflate.refused());
    }

    #[test]
    fn misuse_of_the_extension_is_refused() {
        let invalid = vec![0xc2, 0x80, 0, 0, 0, 0];
        let mut sender = deflate(TAKEOVER);
        let part = sender.compress(&json(3000));
        let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
            ("garbage", frame(0xc1, &[0xff; 40]), invalid.clone()),
            (
                "a message inside a compressed one",
                [frame(0x41, &part[..10]), frame(0x81, b"x")].concat(),
                invalid.clone(),
            ),
            // Left for the codec to refuse: passed through, RSV1 and all.
            ("RSV1 on a ping", frame(0xc9, b"p"), frame(0xc9, b"p")),
            (
                "RSV1 on a continuation",
                [frame(0x02, b"ab"), frame(0xc0, b"c")].concat(),
                [frame(0x02, b"ab"), frame(0xc0, b"c")].concat(),
            ),
        ];
        for (name, stream, expected) in cases {
            let mut inflate = Inflate::new(false, 1_000_000);
            let out = feed_all(&mut inflate, &stream);
            assert_eq!(out, expected, "{name}");
        }
        // An unmasked compressed frame goes to the codec as it is: it refuses it.
        let mut unmasked = vec![0xc2, 3];
        unmasked.extend_from_slice(b"abc");
        let mut inflate = Inflate::new(false, 1_000_000);
        assert_eq!(feed_all(&mut inflate, &unmasked), unmasked);
    }

    #[test]
    fn empty_and_final_block_messages_inflate() {
        let mut inflate = Inflate::new(false, 1000);
        // An empty message compressed is a single 0x00 byte (RFC 7692, section 7.2.3.6); a
        // message ending in a final block starts a new stream after it (section 7.2.3.3).
        let mut fin = Compress::new(Compression::default(), false);
        let mut whole = Vec::with_capacity(100);
        fin.compress_vec(b"hello", &mut whole, FlushCompress::Finish)
            .unwrap();
        let stream = [
            frame(0xc1, &[0x00]),
            frame(0xc1, &whole),
            frame(0xc1, &deflate(TAKEOVER).compress(b"again")),
        ]
        .concat();
        let out = feed_all(&mut inflate, &stream);
        assert!(!inflate.refused());
        assert_eq!(
            frames(&out),
            [
                (0x81, Vec::new()),
                (0x81, b"hello".to_vec()),
                (0x81, b"again".to_vec())
            ]
        );
    }
}
