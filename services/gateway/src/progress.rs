//! How far a forwarded request body has got. The upstream timeout for an upload counts from
//! the last body bytes the upstream took, not from the start of forwarding, since a slow
//! client's body takes minutes to pass through; and when forwarding fails, whether the
//! client's body was to blame tells a client fault (400, 408) from the service's (502, 504).

use std::{
    pin::{Pin, pin},
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt as _};
use tokio::time::Instant;

use crate::error::ClientFault;

/// Shared by the body stream handed to the upstream client and the wait for its answer.
#[derive(Clone)]
pub struct Progress(Arc<Mutex<State>>);

struct State {
    /// When the upstream last took a body chunk (or the body's end), or forwarding began.
    last: Instant,
    /// The upstream asked for the next chunk and the client has not sent it yet.
    waiting_on_client: bool,
    /// The client's body broke off unreadable (malformed chunked framing, a reset).
    client_failed: bool,
}

impl Progress {
    pub fn starting_now() -> Self {
        Self(Arc::new(Mutex::new(State {
            last: Instant::now(),
            waiting_on_client: false,
            client_failed: false,
        })))
    }

    /// `body`, noting each chunk the upstream takes and each wait for the client.
    pub fn watch<S: Stream + Unpin>(&self, body: S) -> Watched<S> {
        Watched {
            inner: body,
            progress: self.clone(),
        }
    }

    /// When the upstream counts as stalled if nothing changes. While the client is the one
    /// not sending, that keeps moving: a stalled client is the gateway's own deadline's to
    /// end (a 408, `platform::http::allow_while_receiving`), not a 504 blaming the service.
    fn stalled_at(&self, stall: Duration) -> Instant {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.waiting_on_client {
            Instant::now() + stall
        } else {
            state.last + stall
        }
    }

    /// Whether the client's body explains a failed exchange: it broke, or the service was
    /// still waiting for it when the exchange ended.
    pub fn client_fault(&self) -> Option<ClientFault> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.client_failed {
            Some(ClientFault::BrokenBody)
        } else if state.waiting_on_client {
            Some(ClientFault::StalledBody)
        } else {
            None
        }
    }

    /// `sending`'s output, or `None` once the upstream has made no progress for `stall`:
    /// neither taken a body chunk it was offered nor answered after the whole body.
    pub async fn unless_stalled<F: Future>(
        &self,
        sending: F,
        stall: Duration,
    ) -> Option<F::Output> {
        let mut sending = pin!(sending);
        loop {
            let at = self.stalled_at(stall);
            match tokio::time::timeout_at(at, &mut sending).await {
                Ok(output) => return Some(output),
                Err(_) if self.stalled_at(stall) > at => continue,
                Err(_) => return None,
            }
        }
    }
}

/// See [`Progress::watch`].
pub struct Watched<S> {
    inner: S,
    progress: Progress,
}

impl<S, T, E> Stream for Watched<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        let mut state = self
            .progress
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting_on_client = polled.is_pending();
        if polled.is_ready() {
            state.last = Instant::now();
        }
        if let Poll::Ready(Some(Err(_))) = polled {
            state.client_failed = true;
        }
        drop(state);
        polled
    }
}
