//! The stream under a WebSocket's codec (tungstenite): reads without a read buffer per idle
//! connection, and large frames written without a copy.
//!
//! The codec keeps a read buffer in each connection and reads at most that buffer's size per
//! call. [`CodecIo`] reads the socket into one scratch buffer per thread, large enough for big
//! messages in one system call, hands the codec what it asks for, and keeps only the bytes left
//! over (a message read in part) in a buffer of the connection's own, freed as soon as the codec
//! has taken them. So the codec's buffer can stay small (see [`CODEC_READ_BUFFER`]) and an idle
//! connection holds no large buffer at all.
//!
//! The codec's read buffer still grows to the largest frame it reads, and tungstenite never
//! shrinks it, nor gives it back. The session rebuilds the codec around the same stream once
//! the connection has been quiet for a while after a large frame ([`CodecIo::large_frames`],
//! [`CodecIo::wants_rebuild`]). For that `CodecIo` follows the frame boundaries in what it hands
//! the codec ([`FrameCursor`]): a codec rebuilt while it holds bytes it has not parsed, or part
//! of a message, would lose them.
//!
//! On the way out, the session gives every batch of text and binary messages to
//! [`CodecIo::send_direct`], which frames them itself (a server's frames are unmasked: a header
//! of 2 to 10 bytes), gathers small ones in one buffer, writes large ones from their own bytes
//! (shared with the other recipients of a broadcast) and holds back the codec's next writes
//! until they are out. The codec would copy every frame into its write buffer, which then keeps
//! the size of the largest, and its sink costs a broadcast more per recipient than the rest of
//! the delivery. The codec still writes its own frames: pongs and the close.
//!
//! With permessage-deflate agreed ([`CodecIo::with_deflate`]), what the socket gives goes
//! through [`Deflate`]'s inflating side before the codec sees it (compressed messages become
//! ordinary frames), and [`CodecIo::send_direct`] compresses what it writes, per connection
//! (each has its own compressor context).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, OpCode};

use crate::deflate::Deflate;

/// The read buffer each connection's codec starts with: enough for the frames of small
/// messages (chat lines, acks). The codec grows it to the size of the messages it gets, but
/// reads at most this much per call, so it is also the chunk a large message is taken in: 128
/// bytes cost a 64 KiB binary echo a quarter more instructions than 512, for 0.4 KiB less per
/// idle connection.
pub(crate) const CODEC_READ_BUFFER: usize = 512;

/// Frames with at least this much payload grow the codec's buffers enough to be worth a
/// rebuild once the connection is idle: the read buffer to the size of a frame read, the write
/// buffer to the size of a write. Smaller frames leave buffers of the order of what the write
/// buffer gathers of small frames before it writes (16 KiB) anyway, and a rebuild after each of
/// them (a few allocations, a turn of the session loop) would tax messages of a few KiB.
pub(crate) const LARGE_FRAME: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The stream under a WebSocket's codec: reads through the thread's scratch buffer, and writes
/// of large frames without the codec.
#[derive(Debug)]
pub(crate) struct CodecIo<S> {
    inner: S,
    /// Bytes read from the socket that the codec has not taken yet, from `taken` on.
    pending: Vec<u8>,
    taken: usize,
    /// How much to read from the socket at once.
    scratch_size: usize,
    /// Where the bytes handed to the codec stand in the client's frames.
    frames: FrameCursor,
    /// The codec holds none of the bytes it was handed: it asked for more at a frame boundary
    /// and got nothing. (tungstenite reads only once it has parsed every whole frame it holds.)
    codec_drained: bool,
    /// A large frame went through the codec since it was built: its buffers have grown.
    grown: bool,
    /// Large frames read or written so far (wrapping): the session shrinks the codec only
    /// once a while has passed without one.
    large_frames: u32,
    /// The codec may hold bytes it could not write yet: a write blocked or failed.
    unwritten: bool,
    /// Frames going out without the codec, not all written yet.
    direct: Option<Box<DirectWrite>>,
    /// permessage-deflate, when agreed with the client.
    deflate: Option<Box<Deflate>>,
    /// The code the connection is to be closed with, when the session knows better than the
    /// codec's default (none).
    close_code: Option<CloseCode>,
}

/// Frames written by this stream itself rather than by the codec (see
/// [`CodecIo::send_direct`]): their headers and small payloads gathered in one buffer, the
/// payloads of large frames as they are.
#[derive(Debug, Default)]
struct DirectWrite {
    /// What is left to write, in order.
    parts: std::collections::VecDeque<Bytes>,
}

impl<S> CodecIo<S> {
    pub(crate) fn new(inner: S, scratch_size: usize) -> Self {
        CodecIo {
            inner,
            pending: Vec::new(),
            taken: 0,
            scratch_size: scratch_size.max(CODEC_READ_BUFFER),
            frames: FrameCursor::default(),
            codec_drained: false,
            grown: false,
            large_frames: 0,
            unwritten: false,
            direct: None,
            deflate: None,
            close_code: None,
        }
    }

    /// This stream with permessage-deflate, as agreed in the handshake.
    pub(crate) fn with_deflate(mut self, deflate: Option<Deflate>) -> Self {
        self.deflate = deflate.map(Box::new);
        self
    }

    /// Says which close code to end the connection with.
    pub(crate) fn set_close_code(&mut self, code: CloseCode) {
        self.close_code = Some(code);
    }

    /// The close code the session chose, if any.
    pub(crate) fn close_code(&self) -> Option<CloseCode> {
        self.close_code
    }

    /// Whether the codec above has grown its buffers and can be rebuilt around this stream
    /// without losing anything: it holds no byte it was handed, no part of a message, and no
    /// write that blocked or failed. Meaningful when the codec's read has just come back
    /// pending. A pong the codec queued but has not tried to write yet is not seen here: flush
    /// the codec before rebuilding it.
    pub(crate) fn wants_rebuild(&self) -> bool {
        self.grown
            && self.codec_drained
            && !self.frames.fragmented
            && !self.unwritten
            && self.direct.is_none()
    }

    /// Writes `frames` (text or binary payloads) itself, large payloads from their own bytes:
    /// they skip the codec's framing and its write buffer (and that buffer's growth). Only once
    /// the codec has flushed, so that they go out after the frames it took before; writes that
    /// follow, through the codec or not, wait for these to be written whole. With
    /// permessage-deflate, payloads from the threshold on go out compressed (RSV1 set), in
    /// order, as the compressor's context needs. `size_hint` is about the bytes of the small
    /// payloads, so that their headers and copies are gathered in one allocation.
    pub(crate) fn send_direct(
        &mut self,
        frames: impl IntoIterator<Item = (OpCode, Bytes)>,
        size_hint: usize,
    ) {
        let direct = self.direct.get_or_insert_with(Box::default);
        let mut head = BytesMut::with_capacity(size_hint);
        for (opcode, mut payload) in frames {
            let mut rsv1 = false;
            if let Some(deflate) = &mut self.deflate {
                if deflate.compresses(payload.len()) {
                    payload = deflate.compress(&payload);
                    rsv1 = true;
                }
            }
            put_header(&mut head, opcode, rsv1, payload.len());
            if payload.len() >= LARGE_FRAME {
                if !head.is_empty() {
                    direct.parts.push_back(head.split().freeze());
                }
                direct.parts.push_back(payload);
            } else {
                head.extend_from_slice(&payload);
            }
        }
        if !head.is_empty() {
            direct.parts.push_back(head.freeze());
        }
    }

    /// How many large frames went through so far (a count that wraps): unchanged over a
    /// while, the connection has gone quiet.
    pub(crate) fn large_frames(&self) -> u32 {
        self.large_frames
    }

    /// The codec above was rebuilt with small buffers.
    fn rebuilt(&mut self) {
        self.grown = false;
    }

    /// The codec could not be flushed for a rebuild: none until a write goes through whole,
    /// or [`CodecIo::wants_rebuild`] would say yes at every read again.
    pub(crate) fn defer_rebuild(&mut self) {
        self.unwritten = true;
    }

    /// Notes a large frame, read or written: the codec's buffers have grown to it.
    fn large_frame(&mut self) {
        self.grown = true;
        self.large_frames = self.large_frames.wrapping_add(1);
    }

    /// Notes a write of `len` bytes, which tungstenite makes of its whole write buffer.
    fn wrote(&mut self, len: usize, written: &Poll<io::Result<usize>>) {
        if len >= LARGE_FRAME {
            self.large_frame();
        }
        self.unwritten = !matches!(written, Poll::Ready(Ok(n)) if *n == len);
    }
}

/// The header of a final, unmasked (server) frame of `len` bytes (RFC 6455, section 5.2): FIN,
/// RSV1 and the opcode, then the length in 7 bits, or 126 and 16 bits, or 127 and 64 bits.
/// Written here rather than by tungstenite's `FrameHeader::format` (an `io::Write` per header):
/// a broadcast frames its message once per recipient.
fn put_header(buf: &mut BytesMut, opcode: OpCode, rsv1: bool, len: usize) {
    let first = 0x80 | if rsv1 { 0x40 } else { 0 } | u8::from(opcode);
    if len < 126 {
        // In range: checked just above.
        buf.put_slice(&[first, len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        buf.put_slice(&[first, 126]);
        buf.put_u16(len);
    } else {
        buf.put_slice(&[first, 127]);
        buf.put_u64(len as u64);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CodecIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let start = buf.filled().len();
        let read = this.read_into(cx, buf);
        let handed = &buf.filled()[start..];
        this.codec_drained = handed.is_empty() && this.frames.at_boundary();
        if !handed.is_empty() && this.frames.advance(handed) {
            this.large_frame();
        }
        read
    }
}

impl<S: AsyncRead + Unpin> CodecIo<S> {
    fn read_into(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.taken < self.pending.len() {
            self.hand_pending(buf);
            return Poll::Ready(Ok(()));
        }
        if self.deflate.is_some() {
            return self.read_inflating(cx, buf);
        }
        if buf.remaining() >= self.scratch_size {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < self.scratch_size {
                scratch.resize(self.scratch_size, 0);
            }
            let mut read = ReadBuf::new(&mut scratch[..self.scratch_size]);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
            let data = read.filled();
            let n = buf.remaining().min(data.len());
            buf.put_slice(&data[..n]);
            if n < data.len() {
                self.pending = data[n..].to_vec();
                self.taken = 0;
            }
            Poll::Ready(Ok(()))
        })
    }
}

impl<S: AsyncRead + Unpin> CodecIo<S> {
    /// Hands the codec what it can take of the bytes kept for it.
    fn hand_pending(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.pending.len() - self.taken);
        buf.put_slice(&self.pending[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.pending.len() {
            self.pending = Vec::new();
            self.taken = 0;
        }
    }

    /// Reads the socket through permessage-deflate's inflating side, until it gives the codec
    /// something (a compressed message read in part gives nothing yet) or the socket is done.
    /// Once frames were refused, the codec has been handed what makes it fail: it gets the end
    /// of the stream after it.
    fn read_inflating(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let Some(deflate) = &mut self.deflate else {
                return Poll::Ready(Ok(()));
            };
            if deflate.inflate.refused() {
                return Poll::Ready(Ok(()));
            }
            let ended = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                if scratch.len() < self.scratch_size {
                    scratch.resize(self.scratch_size, 0);
                }
                let mut read = ReadBuf::new(&mut scratch[..self.scratch_size]);
                ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
                let data = read.filled();
                deflate.inflate.feed(data, &mut self.pending);
                Poll::Ready(io::Result::Ok(data.is_empty()))
            });
            let ended = ready!(ended)?;
            if !self.pending.is_empty() {
                self.hand_pending(buf);
                return Poll::Ready(Ok(()));
            }
            if ended {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> CodecIo<S> {
    /// Writes what is left of the frames given to [`CodecIo::send_direct`].
    fn poll_direct(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(direct) = &mut self.direct {
            let mut slices = [io::IoSlice::new(&[]); 16];
            let count = direct.parts.len().min(slices.len());
            for (slice, part) in slices.iter_mut().zip(&direct.parts) {
                *slice = io::IoSlice::new(part);
            }
            let written = match Pin::new(&mut self.inner).poll_write_vectored(cx, &slices[..count])
            {
                Poll::Ready(Ok(0)) if count > 0 => Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(result) => result,
                Poll::Pending => return Poll::Pending,
            };
            let mut written = written.inspect_err(|_| self.unwritten = true)?;
            while let Some(part) = direct.parts.front_mut() {
                if written < part.len() {
                    part.advance(written);
                    break;
                }
                written -= part.len();
                direct.parts.pop_front();
            }
            if direct.parts.is_empty() {
                self.direct = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CodecIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_direct(cx))?;
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(buf.len(), &written);
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_direct(cx))?;
        let flushed = Pin::new(&mut this.inner).poll_flush(cx);
        if !matches!(flushed, Poll::Ready(Ok(()))) {
            this.unwritten = true;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_direct(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_direct(cx))?;
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(bufs.iter().map(|buf| buf.len()).sum(), &written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The same server WebSocket with a new codec: the buffers that large frames grew in the old
/// one (tungstenite never shrinks them) go with it. Only once [`CodecIo::wants_rebuild`]
/// said so and the codec was flushed since: the new one starts with nothing read or to write.
pub(crate) async fn rebuild<S>(
    ws: Box<WebSocketStream<CodecIo<S>>>,
) -> Box<WebSocketStream<CodecIo<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = *ws.get_config();
    let mut io = ws.into_inner();
    io.rebuilt();
    Box::new(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
}

/// Follows the frame boundaries in a stream of WebSocket frames (RFC 6455, section 5.2): a
/// header of 2 to 14 bytes (FIN bit and opcode; mask bit and a 7-bit payload length, then 16 or
/// 64 bits of length when it says 126 or 127; the masking key when masked), then the payload.
/// Headers are read whole where a read holds them whole, else a byte at a time, so a frame may
/// be cut anywhere and several may come at once; payloads are only counted. A frame tungstenite
/// would refuse is followed like any other: the connection ends at it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct FrameCursor {
    /// Bytes of the current header seen; 0 at a frame boundary and within a payload.
    seen: u8,
    /// The header's size, known from its second byte.
    header_len: u8,
    /// Where the extended payload length ends in the header.
    length_end: u8,
    /// The header's first byte: FIN bit and opcode.
    first: u8,
    /// Within a header, the payload length read so far; after it, the payload still to come.
    left: u64,
    /// A data message of several frames has begun and not ended.
    fragmented: bool,
}

impl FrameCursor {
    fn at_boundary(&self) -> bool {
        self.seen == 0 && self.left == 0
    }

    /// Follows `data`, the next bytes of the stream; true if it ended the header of a frame
    /// with [`LARGE_FRAME`] or more of payload.
    #[inline]
    fn advance(&mut self, data: &[u8]) -> bool {
        let len = data.len() as u64;
        if self.seen == 0 {
            // A large message comes in many reads within one payload: those cost a
            // subtraction.
            if len <= self.left {
                self.left -= len;
                return false;
            }
            // A small message mostly comes in a read of its own: one header to look at.
            if let (0, [first, second, ..]) = (self.left, data) {
                let (length, length_end, header_len) = header_layout(*second);
                if length_end == 2 && length as usize + header_len == data.len() {
                    self.first = *first;
                    return self.header_read();
                }
            }
        }
        self.advance_frames(data)
    }

    fn advance_frames(&mut self, mut data: &[u8]) -> bool {
        let mut large = false;
        loop {
            if self.seen == 0 {
                let skip =
                    usize::try_from(self.left).map_or(data.len(), |left| left.min(data.len()));
                self.left -= skip as u64;
                data = &data[skip..];
                if data.is_empty() {
                    return large;
                }
                // Most headers come whole: read at once, not a byte at a time.
                if let Some((left, header_len)) = whole_header(data) {
                    self.first = data[0];
                    self.left = left;
                    large |= self.header_read();
                    data = &data[header_len..];
                    continue;
                }
            }
            let Some((&byte, rest)) = data.split_first() else {
                return large;
            };
            data = rest;
            large |= self.header_byte(byte);
        }
    }

    /// Takes the next byte of a header cut by the end of a read; true if it ended the header
    /// of a large frame.
    #[cold]
    fn header_byte(&mut self, byte: u8) -> bool {
        match self.seen {
            0 => self.first = byte,
            1 => {
                let (length, length_end, header_len) = header_layout(byte);
                self.left = length;
                self.length_end = length_end as u8;
                self.header_len = header_len as u8;
            }
            seen if seen < self.length_end => self.left = (self.left << 8) | u64::from(byte),
            // The masking key.
            _ => {}
        }
        self.seen += 1;
        // Before the second byte, `header_len` is the previous frame's.
        if self.seen < 2 || self.seen < self.header_len {
            return false;
        }
        self.seen = 0;
        self.header_read()
    }

    /// A header has been read, its first byte in `first` and its payload length in `left`;
    /// true if its frame is large.
    fn header_read(&mut self) -> bool {
        // Control frames (opcodes 8 and up) may come between the frames of a message.
        if self.first & 0x0f < 8 {
            self.fragmented = self.first & 0x80 == 0;
        }
        self.left >= LARGE_FRAME as u64
    }
}

/// The payload length and the size of the header `data` starts with, if all of it is there.
fn whole_header(data: &[u8]) -> Option<(u64, usize)> {
    let (length, length_end, header_len) = header_layout(*data.get(1)?);
    let header = data.get(..header_len)?;
    let length = match header[2..length_end] {
        [] => length,
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c, d, e, f, g, h] => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => return None,
    };
    Some((length, header_len))
}

/// What a header's second byte says of it: the payload length if it fits in 7 bits (else 0),
/// where the payload length ends in the header (after 16 or 64 more bits when it does not
/// fit), and where the header ends (after the masking key, when masked).
fn header_layout(second: u8) -> (u64, usize, usize) {
    let (length, length_end) = match second & 0x7f {
        126 => (0, 4),
        127 => (0, 10),
        length => (u64::from(length), 2),
    };
    let mask = if second & 0x80 == 0 { 0 } else { 4 };
    (length, length_end, length_end + mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    const BINARY: OpCode = OpCode::Data(Data::Binary);
    const TEXT: OpCode = OpCode::Data(Data::Text);
    const CONTINUE: OpCode = OpCode::Data(Data::Continue);
    const PING: OpCode = OpCode::Control(Control::Ping);
    const PONG: OpCode = OpCode::Control(Control::Pong);
    const CLOSE: OpCode = OpCode::Control(Control::Close);

    /// A frame as a client sends it: masked.
    fn frame(opcode: OpCode, is_final: bool, payload: &[u8]) -> Vec<u8> {
        frame_with(opcode, is_final, Some([0x37, 0xfa, 0x21, 0x3d]), payload)
    }

    /// Our headers are tungstenite's, at every length boundary, with and without RSV1.
    #[test]
    fn headers_match_tungstenites() {
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 33] {
            for (opcode, rsv1) in [(TEXT, false), (BINARY, false), (TEXT, true)] {
                let mut ours = BytesMut::new();
                put_header(&mut ours, opcode, rsv1, len);
                let header = FrameHeader {
                    opcode,
                    rsv1,
                    ..FrameHeader::default()
                };
                let mut theirs = Vec::new();
                header.format(len as u64, &mut theirs).unwrap();
                assert_eq!(&ours[..], &theirs[..], "len {len}, rsv1 {rsv1}");
            }
        }
    }

    fn frame_with(
        opcode: OpCode,
        is_final: bool,
        mask: Option<[u8; 4]>,
        payload: &[u8],
    ) -> Vec<u8> {
        let header = FrameHeader {
            is_final,
            opcode,
            mask,
            ..FrameHeader::default()
        };
        let mut out = Vec::new();
        header.format(payload.len() as u64, &mut out).unwrap();
        let mask = mask.unwrap_or_default();
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, byte)| byte ^ mask[i % 4]),
        );
        out
    }

    fn payload(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    /// Deterministic chunk sizes (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Feeds `stream` to a cursor in chunks of the sizes `next_size` gives, checking after each
    /// chunk that the cursor is at a boundary exactly where a frame ends.
    fn follow(stream: &[u8], ends: &[usize], mut next_size: impl FnMut() -> usize) -> FrameCursor {
        let mut cursor = FrameCursor::default();
        let mut at = 0;
        while at < stream.len() {
            let end = (at + next_size().max(1)).min(stream.len());
            cursor.advance(&stream[at..end]);
            at = end;
            assert_eq!(cursor.at_boundary(), ends.contains(&at), "at byte {at}");
        }
        cursor
    }

    #[test]
    fn frame_ends_are_found_however_the_stream_is_cut() {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        // 7-bit lengths up to 125, 16-bit from 126, 64-bit from 65 536; masked or not.
        for (i, len) in [0, 1, 5, 125, 126, 127, 300, 65_535, 65_536, 70_000]
            .into_iter()
            .enumerate()
        {
            for mask in [Some([1, 2, 3, (i as u8) << 4]), None] {
                let opcode = if len <= 125 && i % 2 == 0 {
                    PING
                } else {
                    BINARY
                };
                stream.extend(frame_with(opcode, true, mask, &payload(len, i as u8)));
                ends.push(stream.len());
            }
        }
        for size in [1, 2, 3, 5, 13, 512, 64 * 1024, stream.len()] {
            let cursor = follow(&stream, &ends, || size);
            assert!(cursor.at_boundary() && !cursor.fragmented);
        }
        // A frame per read, then two.
        for step in [1, 2] {
            let mut at = 0;
            let mut next = ends.iter().skip(step - 1).step_by(step);
            follow(&stream, &ends, || {
                let end = next.next().copied().unwrap_or(stream.len());
                std::mem::replace(&mut at, end).abs_diff(end)
            });
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20 {
            follow(&stream, &ends, || rng.below(40));
            follow(&stream, &ends, || rng.below(4000));
        }
    }

    /// Any bytes at all, garbage included: however they are cut, the cursor ends where it
    /// ends when given them at once, and notices the same large frames.
    #[test]
    fn any_bytes_are_followed_the_same_however_cut() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..500 {
            let len = rng.below(3000);
            // Small lengths mostly, so that many headers fit in the bytes.
            let bytes: Vec<u8> = (0..len)
                .map(|_| match rng.below(4) {
                    0 => 126 + rng.below(2) as u8,
                    1 => rng.below(256) as u8,
                    _ => rng.below(20) as u8 | (rng.below(2) as u8) << 7,
                })
                .collect();
            let mut whole = FrameCursor::default();
            let large = whole.advance(&bytes);
            let mut cut = FrameCursor::default();
            let mut noticed = false;
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + 1 + rng.below(20)).min(bytes.len());
                noticed |= cut.advance(&bytes[at..end]);
                at = end;
            }
            let state = |c: &FrameCursor| (c.seen, c.left, c.fragmented, c.at_boundary());
            assert_eq!(state(&cut), state(&whole), "{bytes:?}");
            assert_eq!(noticed, large);
        }
    }

    #[test]
    fn headers_of_each_length_format_are_read_whole() {
        // (payload length, header length masked)
        for (len, header_len) in [(125, 6), (126, 8), (65_535, 8), (65_536, 14), (1 << 40, 14)] {
            let mut header = Vec::new();
            let masked = FrameHeader {
                opcode: BINARY,
                mask: Some([9, 8, 7, 6]),
                ..FrameHeader::default()
            };
            masked.format(len, &mut header).unwrap();
            assert_eq!(header.len(), header_len);
            let mut cursor = FrameCursor::default();
            for (i, &byte) in header.iter().enumerate() {
                cursor.advance(&[byte]);
                let done = i + 1 == header_len;
                assert_eq!(cursor.seen == 0, done, "{len}: byte {i}");
                assert!(!cursor.at_boundary());
            }
            assert_eq!(cursor.left, len);
            // The payload, cut in two.
            let (first, rest) = (len / 3, len - len / 3);
            if let Ok(first) = usize::try_from(first) {
                if first < 1 << 20 {
                    cursor.advance(&vec![0; first]);
                    assert_eq!(cursor.left, rest);
                }
            }
        }
    }

    #[test]
    fn a_header_cut_anywhere_is_followed() {
        let whole = [
            frame(BINARY, true, &payload(70_000, 1)),
            frame(TEXT, true, b"4hi"),
        ]
        .concat();
        let end = whole.len() - frame(TEXT, true, b"4hi").len();
        for cut in 1..20 {
            let mut cursor = FrameCursor::default();
            cursor.advance(&whole[..cut]);
            assert!(!cursor.at_boundary());
            cursor.advance(&whole[cut..end]);
            assert!(cursor.at_boundary());
            cursor.advance(&whole[end..]);
            assert!(cursor.at_boundary());
        }
    }

    #[test]
    fn large_frames_are_noticed_when_their_header_ends() {
        let mut cursor = FrameCursor::default();
        let small = frame(BINARY, true, &payload(LARGE_FRAME - 1, 0));
        assert!(!cursor.advance(&small));
        let large = frame(BINARY, true, &payload(LARGE_FRAME, 0));
        let noticed: Vec<bool> = large[..8]
            .iter()
            .map(|&byte| cursor.advance(&[byte]))
            .collect();
        assert_eq!(
            noticed,
            [false, false, false, false, false, false, false, true]
        );
        assert!(!cursor.advance(&large[8..]));
        assert!(cursor.at_boundary());
    }

    #[test]
    fn messages_of_several_frames_are_followed() {
        let mut cursor = FrameCursor::default();
        let steps = [
            (frame(TEXT, false, b"4fr"), true),
            // Control frames come between the frames of a message.
            (frame(PING, true, b"p"), true),
            (frame(CONTINUE, false, b"ag"), true),
            (frame(PONG, true, b""), true),
            (frame(CONTINUE, true, b"ment"), false),
            (frame(BINARY, true, b"whole"), false),
            (frame(BINARY, false, b""), true),
            (frame(CONTINUE, true, b""), false),
        ];
        for (bytes, fragmented) in steps {
            cursor.advance(&bytes);
            assert!(cursor.at_boundary());
            assert_eq!(cursor.fragmented, fragmented);
        }
    }

    type ServerWs = Box<WebSocketStream<CodecIo<DuplexStream>>>;

    async fn server(io: DuplexStream) -> ServerWs {
        let config = WebSocketConfig::default()
            .read_buffer_size(CODEC_READ_BUFFER)
            .write_buffer_size(16 * 1024);
        let io = CodecIo::new(io, 64 * 1024);
        Box::new(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
    }

    /// Polls the server's read once; true if it is pending.
    async fn read_pending(ws: &mut ServerWs) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(ws.poll_next_unpin(cx).is_pending())).await
    }

    async fn next(ws: &mut ServerWs) -> Message {
        ws.next().await.unwrap().unwrap()
    }

    /// The frames in what the server wrote: (opcode, payload).
    fn server_frames(mut bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let mut cursor = std::io::Cursor::new(bytes);
            let (header, len) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            let start = cursor.position() as usize;
            let end = start + len as usize;
            frames.push((header.opcode, bytes[start..end].to_vec()));
            bytes = &bytes[end..];
        }
        frames
    }

    #[tokio::test]
    async fn no_rebuild_within_a_frame_or_a_message() {
        let (mut client, io) = tokio::io::duplex(1 << 20);
        let mut ws = server(io).await;

        client
            .write_all(&frame(TEXT, true, b"4small"))
            .await
            .unwrap();
        assert_eq!(next(&mut ws).await, Message::text("4small"));
        assert!(read_pending(&mut ws).await);
        // Nothing large went through.
        assert!(!ws.get_ref().wants_rebuild());

        let first = frame(BINARY, false, &payload(20_000, 3));
        client.write_all(&first[..1]).await.unwrap();
        assert!(read_pending(&mut ws).await);
        assert!(!ws.get_ref().wants_rebuild(), "within a header");
        client.write_all(&first[1..10_000]).await.unwrap();
        assert!(read_pending(&mut ws).await);
        assert!(!ws.get_ref().wants_rebuild(), "within a payload");
        client.write_all(&first[10_000..]).await.unwrap();
        assert!(read_pending(&mut ws).await);
        assert!(!ws.get_ref().wants_rebuild(), "within a message");
        client.write_all(&frame(PING, true, b"p")).await.unwrap();
        assert_eq!(next(&mut ws).await, Message::Ping("p".into()));
        assert!(read_pending(&mut ws).await);
        assert!(
            !ws.get_ref().wants_rebuild(),
            "within a message, after a ping"
        );

        // The last frame and the next message's first bytes come in one read.
        let last = frame(CONTINUE, true, b"end");
        let next_message = frame(TEXT, true, b"4after");
        client
            .write_all(&[&last[..], &next_message[..3]].concat())
            .await
            .unwrap();
        let mut expected = payload(20_000, 3);
        expected.extend_from_slice(b"end");
        assert_eq!(next(&mut ws).await, Message::Binary(expected.into()));
        assert!(read_pending(&mut ws).await);
        assert!(
            !ws.get_ref().wants_rebuild(),
            "the codec holds part of a frame"
        );
        client.write_all(&next_message[3..]).await.unwrap();
        assert_eq!(next(&mut ws).await, Message::text("4after"));
        assert!(read_pending(&mut ws).await);
        assert!(ws.get_ref().wants_rebuild());

        let mut ws = rebuild(ws).await;
        assert!(!ws.get_ref().wants_rebuild());
        client
            .write_all(&frame(TEXT, true, b"4rebuilt"))
            .await
            .unwrap();
        assert_eq!(next(&mut ws).await, Message::text("4rebuilt"));
        drop(ws);
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.unwrap();
        assert_eq!(server_frames(&written), [(PONG, b"p".to_vec())]);
    }

    #[tokio::test]
    async fn a_write_that_blocks_defers_the_rebuild() {
        let (mut client, io) = tokio::io::duplex(4096);
        let mut ws = server(io).await;
        let data = payload(20_000, 5);
        ws.feed(Message::Binary(data.clone().into())).await.unwrap();
        let flushed = std::future::poll_fn(|cx| Poll::Ready(ws.poll_flush_unpin(cx))).await;
        assert!(flushed.is_pending());
        assert!(read_pending(&mut ws).await);
        assert!(!ws.get_ref().wants_rebuild());

        let mut read = vec![0; 4 + data.len()];
        let reader = tokio::spawn(async move {
            client.read_exact(&mut read).await.unwrap();
            (client, read)
        });
        ws.flush().await.unwrap();
        let (mut client, read) = reader.await.unwrap();
        assert_eq!(server_frames(&read), [(BINARY, data)]);
        assert!(read_pending(&mut ws).await);
        assert!(ws.get_ref().wants_rebuild());

        let mut ws = rebuild(ws).await;
        client
            .write_all(&frame(BINARY, true, b"go on"))
            .await
            .unwrap();
        assert_eq!(next(&mut ws).await, Message::Binary("go on".into()));
    }

    /// Messages of all kinds, cut into reads of every size, with the codec rebuilt whenever it
    /// asks: every message arrives whole and in order, and every ping gets its pong.
    #[tokio::test]
    async fn rebuilds_lose_nothing() {
        let mut script: Vec<(Vec<u8>, Option<Message>)> = Vec::new();
        let mut pings = Vec::new();
        for round in 0..4u8 {
            let big = payload(64 * 1024, round);
            script.push((frame(BINARY, true, &big), Some(Message::Binary(big.into()))));
            script.push((frame(TEXT, true, b"4hello"), Some(Message::text("4hello"))));
            let parts = [payload(20_000, 1), payload(20_000, 2), payload(5_000, 3)];
            let ping = vec![b'p', round];
            // Each frame of a message ends a write, and so may end a read.
            script.push((frame(BINARY, false, &parts[0]), None));
            script.push((
                frame(PING, true, &ping),
                Some(Message::Ping(ping.clone().into())),
            ));
            pings.push(ping);
            script.push((frame(CONTINUE, false, &parts[1]), None));
            let whole = Message::Binary(parts.concat().into());
            script.push((frame(CONTINUE, true, &parts[2]), Some(whole)));
            script.push((frame(TEXT, false, b"4fr"), None));
            script.push((frame(CONTINUE, true, b"ag"), Some(Message::text("4frag"))));
            script.push((
                frame(BINARY, true, b""),
                Some(Message::Binary(Vec::new().into())),
            ));
            script.push((frame(PONG, true, b"u"), Some(Message::Pong("u".into()))));
            let exact = payload(LARGE_FRAME, 7);
            script.push((
                frame(BINARY, true, &exact),
                Some(Message::Binary(exact.into())),
            ));
            let long = "4".repeat(300);
            script.push((
                frame(TEXT, true, long.as_bytes()),
                Some(Message::text(long)),
            ));
            // Several frames in one read.
            let several = [frame(TEXT, true, b"4a"), frame(TEXT, true, b"4b")].concat();
            script.push((several, Some(Message::text("4a"))));
            script.push((Vec::new(), Some(Message::text("4b"))));
        }
        let bytes: Vec<Vec<u8>> = script.iter().map(|(bytes, _)| bytes.clone()).collect();
        let expected: Vec<Message> = script
            .into_iter()
            .filter_map(|(_, message)| message)
            .collect();

        let (mut client, io) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            let mut rng = Rng(0x2545_f491_4f6c_dd1d);
            for piece in bytes {
                // Each piece in writes of random sizes.
                let mut at = 0;
                while at < piece.len() {
                    let size = [1, 7, 100, 3000, 70_000][rng.below(5)];
                    let end = (at + 1 + rng.below(size)).min(piece.len());
                    client.write_all(&piece[at..end]).await.unwrap();
                    at = end;
                    tokio::task::yield_now().await;
                }
            }
            client.write_all(&frame(CLOSE, true, b"")).await.unwrap();
            let mut written = Vec::new();
            client.read_to_end(&mut written).await.unwrap();
            written
        });

        let mut ws = server(io).await;
        let mut rebuilds = 0;
        let mut received = Vec::new();
        loop {
            let message = std::future::poll_fn(|cx| match ws.poll_next_unpin(cx) {
                Poll::Ready(message) => Poll::Ready(Some(message)),
                Poll::Pending if ws.get_ref().wants_rebuild() => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            })
            .await;
            match message {
                Some(Some(Ok(Message::Close(_)))) => break,
                Some(message) => received.push(message.unwrap().unwrap()),
                None => {
                    ws.flush().await.unwrap();
                    ws = rebuild(ws).await;
                    rebuilds += 1;
                }
            }
        }
        // The close's answer goes out with the next read, which then ends.
        assert!(ws.next().await.is_none());
        drop(ws);
        assert_eq!(received, expected);
        // At least once a round: after its 64 KiB message.
        assert!(rebuilds >= 4, "{rebuilds} rebuilds");
        let written = server_frames(&writer.await.unwrap());
        let mut answers: Vec<(OpCode, Vec<u8>)> =
            pings.into_iter().map(|ping| (PONG, ping)).collect();
        answers.push((CLOSE, Vec::new()));
        assert_eq!(written, answers);
    }

    /// Frames written directly go out whole, in order with those the codec writes before and
    /// after them, through a pipe small enough that every write stops part way.
    #[tokio::test]
    async fn direct_frames_keep_their_place() {
        let (mut client, io) = tokio::io::duplex(3000);
        let reader = tokio::spawn(async move {
            let mut written = Vec::new();
            client.read_to_end(&mut written).await.unwrap();
            written
        });
        let mut ws = server(io).await;
        let large = payload(70_000, 9);
        let exact = payload(LARGE_FRAME, 4);
        let medium = payload(300, 2);
        let text = "4é".repeat(20_000).into_bytes();

        ws.feed(Message::text("4before")).await.unwrap();
        ws.flush().await.unwrap();
        ws.get_mut().send_direct(
            [
                (TEXT, Bytes::from_static(b"451-1[...]")),
                (BINARY, Bytes::from(large.clone())),
                (BINARY, Bytes::from(medium.clone())),
                (BINARY, Bytes::from(exact.clone())),
                (TEXT, Bytes::new()),
                (TEXT, Bytes::from(text.clone())),
            ],
            0,
        );
        assert!(!ws.get_ref().wants_rebuild(), "frames left to write");
        // Through the codec: waits for the direct frames.
        ws.send(Message::text("4after")).await.unwrap();
        assert!(ws.get_ref().direct.is_none());
        drop(ws);

        let expected = [
            (TEXT, b"4before".to_vec()),
            (TEXT, b"451-1[...]".to_vec()),
            (BINARY, large),
            (BINARY, medium),
            (BINARY, exact),
            (TEXT, Vec::new()),
            (TEXT, text),
            (TEXT, b"4after".to_vec()),
        ];
        assert_eq!(server_frames(&reader.await.unwrap()), expected);
    }

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let data = data.clone();
            tokio::spawn(async move {
                client.write_all(&data).await.unwrap();
            })
        };
        let mut reader = CodecIo::new(server, 64 * 1024);
        let mut got = Vec::new();
        let mut chunk = [0u8; 100];
        while got.len() < data.len() {
            let n = reader.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got, data);
        assert!(reader.pending.is_empty() && reader.pending.capacity() == 0);
    }

    #[tokio::test]
    async fn reads_to_the_end() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        client.write_all(b"hello").await.unwrap();
        drop(client);
        let mut reader = CodecIo::new(server, 1024);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"hello");
    }
}
