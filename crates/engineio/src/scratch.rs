//! Reading WebSockets without a read buffer per idle connection.
//!
//! The WebSocket codec (tungstenite) keeps a read buffer in each connection and reads at most
//! that buffer's size per call. [`ScratchRead`] sits under it: it reads the socket into one
//! scratch buffer per thread, large enough for big messages in one system call, hands the codec
//! what it asks for, and keeps only the bytes left over (a message read in part) in a buffer of
//! the connection's own, freed as soon as the codec has taken them. So the codec's buffer can
//! stay small (see [`CODEC_READ_BUFFER`]) and an idle connection holds no large buffer at all.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read buffer each connection's codec starts with: enough for the frames of small
/// messages (chat lines, acks). The codec grows it to the size of the messages it gets, but
/// reads at most this much per call, so it is also the chunk a large message is taken in: 128
/// bytes cost a 64 KiB binary echo a quarter more instructions than 512, for 0.4 KiB less per
/// idle connection.
pub(crate) const CODEC_READ_BUFFER: usize = 512;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A stream whose reads go through the thread's scratch buffer.
#[derive(Debug)]
pub(crate) struct ScratchRead<S> {
    inner: S,
    /// Bytes read from the socket that the codec has not taken yet, from `taken` on.
    pending: Vec<u8>,
    taken: usize,
    /// How much to read from the socket at once.
    scratch_size: usize,
}

impl<S> ScratchRead<S> {
    pub(crate) fn new(inner: S, scratch_size: usize) -> Self {
        ScratchRead {
            inner,
            pending: Vec::new(),
            taken: 0,
            scratch_size: scratch_size.max(CODEC_READ_BUFFER),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ScratchRead<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.taken < this.pending.len() {
            let n = buf.remaining().min(this.pending.len() - this.taken);
            buf.put_slice(&this.pending[this.taken..this.taken + n]);
            this.taken += n;
            if this.taken == this.pending.len() {
                this.pending = Vec::new();
                this.taken = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= this.scratch_size {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            if scratch.len() < this.scratch_size {
                scratch.resize(this.scratch_size, 0);
            }
            let mut read = ReadBuf::new(&mut scratch[..this.scratch_size]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let data = read.filled();
            let n = buf.remaining().min(data.len());
            buf.put_slice(&data[..n]);
            if n < data.len() {
                this.pending = data[n..].to_vec();
                this.taken = 0;
            }
            Poll::Ready(Ok(()))
        })
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ScratchRead<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        let mut reader = ScratchRead::new(server, 64 * 1024);
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
        let mut reader = ScratchRead::new(server, 1024);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"hello");
    }
}
