//! Lingering close: when the server closes a connection, it first stops writing, then reads
//! and discards what the client still sends, for a bounded time, before letting go.
//!
//! A service may answer before it has read a request's body (413 for an upload that is too
//! large, 401 before an upload). [`crate::unread_body`] drains such a body before answering,
//! but only up to its limits; beyond them hyper can only close the connection with bytes of
//! the request still unread, and a TCP close with unread data sends a reset instead of a
//! FIN. A client still writing its body (the gateway streams every body it forwards) then
//! sees the reset and loses the answer that was already on its way: the gateway answered 502
//! instead of the service's 413 to about one upload in five over 40 MiB. Web servers close
//! this way for the same reason (nginx's `lingering_close`, Apache's lingering close).

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

/// How long a closed connection keeps discarding the client's bytes: enough to drain a
/// large upload from a neighbour (the gateway, a load balancer), short enough that a client
/// which neither sends nor closes costs the server little.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// Reads per poll while discarding, so a fast sender cannot hold a runtime worker.
const READS_PER_POLL: usize = 16;

/// A connection whose shutdown lingers (see the module docs); reads and writes pass through.
pub struct Lingering<S> {
    inner: S,
    /// Set once the write side is shut down: until then the deadline is not running.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> Lingering<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            deadline: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lingering<S> {
    /// Discards what the client sends until it closes (or the connection fails), or until
    /// the deadline.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [0u8; 16 * 1024];
        for _ in 0..READS_PER_POLL {
            let mut buffer = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buffer) {
                Poll::Ready(Ok(())) if buffer.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => break,
            }
        }
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(());
        }
        // Still more to read: come back after other tasks had their turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.deadline.is_none() {
            // The FIN goes out after the answer: the client reads it whole, then the end.
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.deadline = Some(Box::pin(tokio::time::sleep(LINGER_TIME)));
        }
        ready!(this.poll_discard(cx));
        Poll::Ready(Ok(()))
    }
}
