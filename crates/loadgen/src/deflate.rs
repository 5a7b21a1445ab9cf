//! The client's side of permessage-deflate (RFC 7692) on the load generator's WebSocket.
//!
//! tungstenite knows no extensions (and refuses frames with RSV1), so the extension runs in the
//! stream under it ([`crate::client::ScratchRead`]), from the first byte: the handshake answer
//! passes unchanged up to its blank line, and frames may follow it in the same read (Node's
//! socket.io compresses even the open packet, whatever the threshold), so they are rewritten
//! before tungstenite sees any of them:
//!
//! - **in**: the server's frames are parsed whole; a message whose first frame has RSV1 (and
//!   its continuation frames) is inflated and handed to tungstenite as one ordinary frame;
//!   everything else passes unchanged;
//! - **out**: tungstenite's frames (masked, as a client's are) are parsed whole; a text or
//!   binary message in one frame of at least [`THRESHOLD`] bytes is unmasked, compressed with a
//!   sync flush (its `00 00 ff ff` tail dropped), masked again with the same key and sent with
//!   RSV1, as a browser or Node's `ws` client would.
//!
//! Every message compressed either way is counted in [`DeflateCounts`], so a scenario can tell
//! that compression was not only agreed but used.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// What the load generator offers: what Node's `ws` client offers.
pub(crate) const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Client messages of at least this many bytes go out compressed (Node's `ws` default).
pub(crate) const THRESHOLD: usize = 1024;

/// Level 1, as Sockeye's server uses by default (zlib's 6 would make the load generator the
/// bottleneck sooner).
const LEVEL: u32 = 1;

/// The largest message inflated or frame accepted (the load generator's tungstenite limit).
const MAX_MESSAGE: usize = 64 << 20;

/// The RFC 7692 tail a sync flush leaves, removed on the wire.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Messages compressed each way, over every connection of a scenario.
#[derive(Debug, Default)]
pub(crate) struct DeflateCounts {
    /// Connections whose handshake answer accepted the extension.
    pub(crate) accepted: AtomicU64,
    /// Messages that came compressed (RSV1) from the server.
    pub(crate) compressed_in: AtomicU64,
    /// Their bytes on the wire (payloads), and once inflated.
    pub(crate) wire_in: AtomicU64,
    pub(crate) inflated_in: AtomicU64,
    /// Messages the load generator sent compressed.
    pub(crate) compressed_out: AtomicU64,
}

impl DeflateCounts {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What the server's answer agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// The server starts every compressed message afresh: reset the inflater after each.
    server_no_context_takeover: bool,
    /// The client must start every compressed message afresh.
    client_no_context_takeover: bool,
}

/// The server's `Sec-WebSocket-Extensions` answer to [`OFFER`]: what it agreed to, or why it
/// cannot be used.
pub(crate) fn accepted(answer: Option<&str>) -> Result<Agreed, String> {
    let answer = answer.ok_or("the server declined permessage-deflate (no extension answered)")?;
    // One offer was made, so one extension may be answered.
    let mut params = answer.split(';').map(str::trim);
    if params.next() != Some("permessage-deflate") || answer.contains(',') {
        return Err(format!("unexpected extension answer {answer:?}"));
    }
    let mut agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
    };
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        match (name, value) {
            ("server_no_context_takeover", None) => agreed.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => agreed.client_no_context_takeover = true,
            // The inflater takes any window up to 32 KiB.
            ("server_max_window_bits", Some(_)) => {}
            // The compressor (miniz_oxide) always uses a 32 KiB window.
            ("client_max_window_bits", Some("15")) => {}
            _ => return Err(format!("cannot honour {param:?} in {answer:?}")),
        }
    }
    Ok(agreed)
}

/// One connection's extension state: the two contexts and the bytes being rewritten.
pub(crate) struct Deflate {
    agreed: Agreed,
    /// The server's answer accepted the offer: outgoing messages may be compressed.
    agreed_yet: bool,
    counts: Arc<DeflateCounts>,
    compress: Compress,
    decompress: Decompress,
    /// Bytes from the server not yet a whole frame (or, before `frames`, the handshake answer
    /// not yet read to its blank line).
    raw_in: Vec<u8>,
    /// The handshake answer has passed: what follows is frames.
    frames: bool,
    /// The compressed message being received: its opcode and payload so far.
    message: Option<(u8, Vec<u8>)>,
    /// Bytes from tungstenite not yet a whole frame (or, before `frames_out`, the handshake
    /// request not yet written to its blank line).
    raw_out: Vec<u8>,
    frames_out: bool,
}

/// A frame's header, parsed.
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// Header bytes, mask included.
    len: usize,
    payload: usize,
}

fn header(bytes: &[u8]) -> Result<Option<Header>, String> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    let (payload, mut len) = match second & 0x7f {
        126 => match bytes.get(2..4) {
            Some(b) => (u16::from_be_bytes([b[0], b[1]]) as u64, 4),
            None => return Ok(None),
        },
        127 => match bytes.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload > MAX_MESSAGE as u64 {
        return Err(format!("a frame of {payload} bytes"));
    }
    let mask = if second & 0x80 != 0 {
        let Some(key) = bytes.get(len..len + 4) else {
            return Ok(None);
        };
        len += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    Ok(Some(Header {
        fin: first & 0x80 != 0,
        rsv1: first & 0x40 != 0,
        opcode: first & 0x0f,
        mask,
        len,
        payload: payload as usize,
    }))
}

/// Moves an HTTP head (up to its blank line) from `raw` to `out`; whether it was whole.
fn pass_head(raw: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<bool, String> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        if raw.len() > 64 * 1024 {
            return Err("a handshake over 64 KiB".to_owned());
        }
        return Ok(false);
    };
    out.extend(raw.drain(..end + 4));
    Ok(true)
}

/// Appends a frame header: `first` byte, the length, and the mask key if any.
fn push_header(out: &mut Vec<u8>, first: u8, len: usize, mask: Option<[u8; 4]>) {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(first);
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

fn apply_mask(bytes: &mut [u8], key: [u8; 4]) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

impl Deflate {
    /// The state for a connection that offers the extension: until [`Deflate::agree`], nothing
    /// is compressed (but compressed frames, which only an agreeing server sends, are inflated).
    pub(crate) fn new(counts: Arc<DeflateCounts>) -> Self {
        Deflate {
            agreed: Agreed {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
            },
            agreed_yet: false,
            counts,
            frames: false,
            compress: Compress::new(Compression::new(LEVEL), false),
            decompress: Decompress::new(false),
            raw_in: Vec::new(),
            message: None,
            raw_out: Vec::new(),
            frames_out: false,
        }
    }

    /// The server's answer accepted the offer with these parameters.
    pub(crate) fn agree(&mut self, agreed: Agreed) {
        self.agreed = agreed;
        self.agreed_yet = true;
        self.counts.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes bytes read from the server; appends to `out` what tungstenite is to read.
    pub(crate) fn incoming(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.raw_in.extend_from_slice(input);
        if !self.frames && !pass_head(&mut self.raw_in, out)? {
            return Ok(());
        }
        self.frames = true;
        let mut at = 0;
        while let Some(head) = header(&self.raw_in[at..])? {
            let end = at + head.len + head.payload;
            if self.raw_in.len() < end {
                break;
            }
            let payload = &self.raw_in[at + head.len..end];
            let control = head.opcode & 0x08 != 0;
            match &mut self.message {
                // Control frames may come between the frames of a message.
                _ if control => out.extend_from_slice(&self.raw_in[at..end]),
                Some((_, compressed)) if head.opcode == 0 => {
                    if compressed.len() + payload.len() > MAX_MESSAGE {
                        return Err("a compressed message over 64 MiB".to_owned());
                    }
                    compressed.extend_from_slice(payload);
                }
                Some(_) => return Err("a new message inside a compressed one".to_owned()),
                None if head.rsv1 && (head.opcode == 1 || head.opcode == 2) => {
                    self.message = Some((head.opcode, payload.to_vec()));
                }
                None => out.extend_from_slice(&self.raw_in[at..end]),
            }
            if head.fin && !control {
                if let Some((opcode, compressed)) = self.message.take() {
                    self.inflate(opcode, compressed, out)?;
                }
            }
            at = end;
        }
        self.raw_in.drain(..at);
        Ok(())
    }

    fn inflate(
        &mut self,
        opcode: u8,
        mut compressed: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let wire = compressed.len();
        compressed.extend_from_slice(&TAIL);
        let mut inflated = Vec::with_capacity(wire * 4 + 64);
        let start = self.decompress.total_in();
        loop {
            let taken = (self.decompress.total_in() - start) as usize;
            let produced = inflated.len();
            self.decompress
                .decompress_vec(&compressed[taken..], &mut inflated, FlushDecompress::Sync)
                .map_err(|e| format!("bad compressed message: {e}"))?;
            let taken_now = (self.decompress.total_in() - start) as usize;
            if taken_now == compressed.len() && inflated.len() < inflated.capacity() {
                break;
            }
            if inflated.len() > MAX_MESSAGE {
                return Err("a message inflating past 64 MiB".to_owned());
            }
            if taken_now == taken
                && inflated.len() == produced
                && inflated.len() < inflated.capacity()
            {
                return Err("a compressed message that does not inflate".to_owned());
            }
            inflated.reserve(inflated.capacity().max(1024));
        }
        if self.agreed.server_no_context_takeover {
            self.decompress.reset(false);
        }
        push_header(out, 0x80 | opcode, inflated.len(), None);
        out.extend_from_slice(&inflated);
        let counts = &self.counts;
        counts.compressed_in.fetch_add(1, Ordering::Relaxed);
        counts.wire_in.fetch_add(wire as u64, Ordering::Relaxed);
        counts
            .inflated_in
            .fetch_add(inflated.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Takes bytes tungstenite wrote; appends to `out` what goes to the server.
    pub(crate) fn outgoing(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.raw_out.extend_from_slice(input);
        if !self.frames_out && !pass_head(&mut self.raw_out, out)? {
            return Ok(());
        }
        self.frames_out = true;
        let mut at = 0;
        while let Some(head) = header(&self.raw_out[at..])? {
            let end = at + head.len + head.payload;
            if self.raw_out.len() < end {
                break;
            }
            let whole_data = head.fin && !head.rsv1 && (head.opcode == 1 || head.opcode == 2);
            match head.mask {
                Some(key) if self.agreed_yet && whole_data && head.payload >= THRESHOLD => {
                    let mut payload = self.raw_out[at + head.len..end].to_vec();
                    apply_mask(&mut payload, key);
                    let mut compressed = self.compress(&payload)?;
                    apply_mask(&mut compressed, key);
                    push_header(out, 0xc0 | head.opcode, compressed.len(), Some(key));
                    out.extend_from_slice(&compressed);
                    self.counts.compressed_out.fetch_add(1, Ordering::Relaxed);
                }
                _ => out.extend_from_slice(&self.raw_out[at..end]),
            }
            at = end;
        }
        self.raw_out.drain(..at);
        Ok(())
    }

    fn compress(&mut self, payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut compressed = Vec::with_capacity(payload.len() / 2 + 64);
        let start = self.compress.total_in();
        loop {
            let taken = (self.compress.total_in() - start) as usize;
            self.compress
                .compress_vec(&payload[taken..], &mut compressed, FlushCompress::Sync)
                .map_err(|e| format!("compress: {e}"))?;
            let taken = (self.compress.total_in() - start) as usize;
            if taken == payload.len() && compressed.len() < compressed.capacity() {
                break;
            }
            compressed.reserve(compressed.capacity().max(64));
        }
        if compressed.ends_with(&TAIL) {
            compressed.truncate(compressed.len() - TAIL.len());
        }
        if self.agreed.client_no_context_takeover {
            self.compress.reset();
        }
        Ok(compressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Arc<DeflateCounts> {
        Arc::new(DeflateCounts::default())
    }

    #[test]
    fn reads_the_answer() {
        let plain = accepted(Some("permessage-deflate")).unwrap();
        assert!(!plain.server_no_context_takeover && !plain.client_no_context_takeover);
        let both = accepted(Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=15",
        ))
        .unwrap();
        assert!(both.server_no_context_takeover && both.client_no_context_takeover);
        assert!(accepted(None).is_err());
        assert!(accepted(Some("permessage-deflate; client_max_window_bits=10")).is_err());
        assert!(accepted(Some("x-webkit-deflate-frame")).is_err());
        assert!(accepted(Some("permessage-deflate; bogus")).is_err());
    }

    /// What the client sends compressed, a peer's inflater reads back; what a peer's deflater
    /// sends, the client hands tungstenite as a plain frame; small frames pass unchanged.
    #[test]
    fn rewrites_frames_both_ways() {
        let agreed = accepted(Some("permessage-deflate")).unwrap();
        let counts = counts();
        let mut client = Deflate::new(counts.clone());
        // The handshake answer passes as it is, a compressed frame right after it is inflated
        // (below); nothing is compressed before the answer is read.
        let mut read = Vec::new();
        let answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        client.incoming(&answer[..20], &mut read).unwrap();
        assert!(read.is_empty());
        client.incoming(&answer[20..], &mut read).unwrap();
        assert_eq!(&read[..], &answer[..]);
        read.clear();
        let request =
            b"GET /socket.io/ HTTP/1.1\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        let mut written = Vec::new();
        client.outgoing(request, &mut written).unwrap();
        assert_eq!(&written[..], &request[..]);
        client.agree(agreed);
        let message = "4{\"chat\":\"hello hello hello\"}".repeat(100).into_bytes();
        let key = [1, 2, 3, 4];

        // Out: a masked text frame above the threshold comes out compressed, RSV1 set.
        let mut frame = Vec::new();
        push_header(&mut frame, 0x81, message.len(), Some(key));
        let mut masked = message.clone();
        apply_mask(&mut masked, key);
        frame.extend_from_slice(&masked);
        let mut small = Vec::new();
        push_header(&mut small, 0x81, 1, Some(key));
        small.push(b'3' ^ key[0]);
        let mut wire = Vec::new();
        // Cut in two, as writes may come.
        let both = [frame.clone(), small.clone()].concat();
        client.outgoing(&both[..7], &mut wire).unwrap();
        client.outgoing(&both[7..], &mut wire).unwrap();
        let head = header(&wire).unwrap().unwrap();
        assert!(head.rsv1 && head.fin && head.opcode == 1);
        assert!(head.payload < message.len() / 4);
        let mut payload = wire[head.len..head.len + head.payload].to_vec();
        apply_mask(&mut payload, head.mask.unwrap());
        payload.extend_from_slice(&TAIL);
        let mut peer = Decompress::new(false);
        let mut inflated = Vec::with_capacity(message.len() + 64);
        peer.decompress_vec(&payload, &mut inflated, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(inflated, message);
        assert_eq!(&wire[head.len + head.payload..], &small[..]);
        assert_eq!(DeflateCounts::get(&counts.compressed_out), 1);

        // In: a compressed message in two frames, a ping between them, then a plain frame.
        let mut peer = Compress::new(Compression::new(6), false);
        let mut compressed = Vec::with_capacity(message.len() + 64);
        peer.compress_vec(&message, &mut compressed, FlushCompress::Sync)
            .unwrap();
        compressed.truncate(compressed.len() - TAIL.len());
        let (a, b) = compressed.split_at(compressed.len() / 2);
        let mut input = Vec::new();
        push_header(&mut input, 0x41, a.len(), None);
        input.extend_from_slice(a);
        input.extend_from_slice(&[0x89, 0]);
        push_header(&mut input, 0x80, b.len(), None);
        input.extend_from_slice(b);
        input.extend_from_slice(&[0x81, 1, b'2']);
        for chunk in input.chunks(5) {
            client.incoming(chunk, &mut read).unwrap();
        }
        assert_eq!(&read[..2], &[0x89, 0]);
        let head = header(&read[2..]).unwrap().unwrap();
        assert!(!head.rsv1 && head.fin && head.opcode == 1 && head.mask.is_none());
        assert_eq!(
            &read[2 + head.len..2 + head.len + head.payload],
            &message[..]
        );
        assert_eq!(&read[2 + head.len + head.payload..], &[0x81, 1, b'2']);
        assert_eq!(DeflateCounts::get(&counts.compressed_in), 1);
        assert_eq!(
            DeflateCounts::get(&counts.inflated_in),
            message.len() as u64
        );
    }

    #[test]
    fn refuses_garbage() {
        let mut client = Deflate::new(counts());
        let mut read = Vec::new();
        client
            .incoming(b"HTTP/1.1 101 OK\r\n\r\n", &mut read)
            .unwrap();
        assert!(
            client
                .incoming(&[0xc1, 4, 0xff, 0xff, 0xff, 0xff], &mut read)
                .is_err()
        );
    }
}
