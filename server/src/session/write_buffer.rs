//! The buffer between a session's websocket and its TCP connection, which
//! gives its memory back whenever it has been written out.
//!
//! tungstenite keeps its own write buffer at the largest size it ever
//! reached, for as long as the connection lasts: with 10,000 idle
//! connections that was 11.6 KB each, most of their memory (PERFORMANCE.md).
//! tungstenite here writes every frame straight through (its
//! `write_buffer_size` is 0) into this buffer, which collects the frames of
//! a batch, so the serve loop still writes many frames per system call, and
//! frees the batch once it is on the connection.

use std::{
    io,
    pin::Pin,
    task::{ready, Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes collected before a write waits for the connection to take some.
const HIGH_WATER: usize = 64 * 1024;

pub struct WriteBuffer<T> {
    inner: T,
    out: Vec<u8>,
    /// How much of `out` is already on the connection.
    written: usize,
}

impl<T> WriteBuffer<T> {
    pub fn new(inner: T) -> Self {
        Self { inner, out: Vec::new(), written: 0 }
    }
}

impl<T: AsyncWrite + Unpin> WriteBuffer<T> {
    /// Writes out what is collected, then frees it.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteBuffer<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.out.len() >= HIGH_WATER {
            ready!(self.poll_write_out(cx))?;
        }
        self.out.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteBuffer<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn collects_until_flushed_then_frees_the_batch() {
        let (mut near, far) = tokio::io::duplex(1 << 20);
        let mut buffer = WriteBuffer::new(far);
        buffer.write_all(b"one ").await.unwrap();
        buffer.write_all(b"two").await.unwrap();
        assert_eq!(buffer.out, b"one two", "nothing is written before the flush");
        buffer.flush().await.unwrap();
        assert_eq!(buffer.out.capacity(), 0, "the written batch is freed");
        let mut got = [0; 7];
        tokio::io::AsyncReadExt::read_exact(&mut near, &mut got).await.unwrap();
        assert_eq!(&got, b"one two");
    }

    #[tokio::test]
    async fn past_the_high_water_a_write_waits_for_the_connection() {
        let (_near, far) = tokio::io::duplex(1024);
        let mut buffer = WriteBuffer::new(far);
        buffer.write_all(&vec![7; HIGH_WATER]).await.unwrap();
        let more = futures_util::FutureExt::now_or_never(buffer.write_all(b"more"));
        assert!(more.is_none(), "the connection has taken only 1 KiB: the write waits");
    }
}
