//! The handle to a session that everyone but the session's own task holds.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use futures_util::task::AtomicWaker;

use sockeye_engineio_proto::{Frame, Sid};
use tokio::sync::Notify;

use crate::request::{Handshake, ProtocolVersion, TransportKind};
use crate::session::Command;
use crate::{CloseReason, SendError};

/// Frames an empty outbox makes room for at least.
const OUTBOX_START: usize = 16;

/// A cheap, cloneable handle to an Engine.IO session.
///
/// Frames sent through it go into the session's bounded outbox; the task that owns the session
/// writes them to whichever transport the client is on.
#[derive(Clone)]
pub struct Socket {
    pub(crate) shared: Arc<Shared>,
}

/// State shared between the session task and its handles.
pub(crate) struct Shared {
    pub(crate) sid: Sid,
    pub(crate) handshake: Handshake,
    pub(crate) capacity: usize,
    pub(crate) max_bytes: usize,
    /// Locked briefly to push or take frames and commands, never across an `.await`.
    pub(crate) state: Mutex<State>,
    /// Wakes the session task when `state` changed (see [`Shared::wake`]).
    waker: AtomicWaker,
    woken: AtomicBool,
    /// The session task is busy and will look at the outbox before it waits again, so a
    /// frame queued now needs no wake-up. Handlers run on the session task and answer from
    /// there (an echo's ack): waking the task that is already running would cost it a
    /// pointless turn of its loop per message. Only the session task writes it; it clears it
    /// while holding `state`'s lock, right as it takes the outbox, and senders read it under
    /// that lock, so a sender that queues after the outbox was taken sees it clear and wakes
    /// the task. (Seeing it set means the task will take the outbox again later.)
    pub(crate) running: AtomicBool,
    /// Woken (all waiters) once the session has closed.
    pub(crate) closed: Notify,
    /// What the layer above keeps with the session; emptied when the session closes, so a
    /// value that holds this socket does not keep it alive.
    pub(crate) attachment: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) outbox: VecDeque<Frame>,
    /// Bytes of the frames in `outbox`.
    pub(crate) queued_bytes: usize,
    /// Frames in the last batch the session took: what an empty outbox makes room for.
    pub(crate) batch: u16,
    pub(crate) commands: VecDeque<Command>,
    pub(crate) close: Option<CloseReason>,
    pub(crate) closed: Option<CloseReason>,
    pub(crate) transport: Option<TransportKind>,
    /// A polling POST is being read (one at a time, as in Node).
    pub(crate) posting: bool,
}

impl Shared {
    pub(crate) fn new(sid: Sid, handshake: Handshake, capacity: usize, max_bytes: usize) -> Self {
        let transport = Some(handshake.transport);
        Shared {
            sid,
            handshake,
            capacity,
            max_bytes,
            state: Mutex::new(State {
                transport,
                ..State::default()
            }),
            waker: AtomicWaker::new(),
            woken: AtomicBool::new(false),
            running: AtomicBool::new(false),
            closed: Notify::new(),
            attachment: Mutex::new(None),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held leaves the queues themselves consistent (every
        // critical section is a push or a take), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes the session task: its next [`Shared::woken`] resolves, even if it starts waiting
    /// only after this call. Only the session task waits, so one waker is enough (the session
    /// future saves the room a `Notify` waiter takes).
    pub(crate) fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Makes the next [`Shared::woken`] resolve at once, without waking the task: for the
    /// session task itself, which will wait next.
    pub(crate) fn set_woken(&self) {
        self.woken.store(true, Ordering::Release);
    }

    /// Resolves once [`Shared::wake`] was called since it last resolved.
    pub(crate) fn woken(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            if self.woken.swap(false, Ordering::Acquire) {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            // A wake between the check and the registration found no waker: look again.
            if self.woken.swap(false, Ordering::AcqRel) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Queues a command for the session task; gives it back when the session is closed.
    pub(crate) fn command(&self, command: Command) -> Result<(), Command> {
        {
            let mut state = self.lock();
            if state.closed.is_some() {
                return Err(command);
            }
            state.commands.push_back(command);
        }
        self.wake();
        Ok(())
    }
}

impl Socket {
    /// The session id.
    pub fn id(&self) -> Sid {
        self.shared.sid
    }

    /// The request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.shared.handshake
    }

    /// The protocol revision of the session.
    pub fn protocol(&self) -> ProtocolVersion {
        self.shared.handshake.protocol
    }

    /// The transport the client is on now (it changes once, on upgrade).
    pub fn transport(&self) -> TransportKind {
        self.shared
            .lock()
            .transport
            .unwrap_or(TransportKind::Polling)
    }

    /// Queues one encoded packet for the client.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        self.send_all(std::slice::from_ref(&frame))
    }

    /// Queues several packets that must reach the client together and in order (a Socket.IO
    /// packet and its attachments): all are queued, or none.
    pub fn send_all(&self, frames: &[Frame]) -> Result<(), SendError> {
        let running = {
            let mut state = self.shared.lock();
            if state.closed.is_some() || state.close.is_some() {
                return Err(SendError::Closed);
            }
            let bytes: usize = frames.iter().map(Frame::len).sum();
            // An empty outbox takes any one packet, however large: the limits bound a backlog,
            // not the size of a message (max_payload does that).
            let over = state.outbox.len() + frames.len() > self.shared.capacity
                || state.queued_bytes + bytes > self.shared.max_bytes;
            if over && !state.outbox.is_empty() {
                return Err(SendError::Full);
            }
            state.queued_bytes += bytes;
            if state.outbox.capacity() == 0 {
                // The session takes the outbox's buffer with its frames, so every batch starts
                // from none: growing it 1, 4, 8, 16 frames at a time cost a broadcast a
                // reallocation every few recipients' messages. Room for as many as the last
                // batch had (a busy session's batches are alike), within the outbox's bound.
                let room = usize::from(state.batch)
                    .max(OUTBOX_START)
                    .min(self.shared.capacity);
                state.outbox.reserve(room.max(frames.len()));
            }
            for frame in frames {
                state.outbox.push_back(frame.clone());
            }
            self.shared.running.load(Ordering::Relaxed)
        };
        if !running {
            self.shared.wake();
        }
        Ok(())
    }

    /// Frames queued and not yet written to the transport.
    pub fn queued(&self) -> usize {
        self.shared.lock().outbox.len()
    }

    /// Closes the session once the frames already queued are written (reason
    /// [`CloseReason::ForcedClose`]).
    pub fn close(&self) {
        self.close_with(CloseReason::ForcedClose);
    }

    pub(crate) fn close_with(&self, reason: CloseReason) {
        {
            let mut state = self.shared.lock();
            if state.closed.is_some() || state.close.is_some() {
                return;
            }
            state.close = Some(reason);
        }
        self.shared.wake();
    }

    /// Keeps a value with the session for the layer above (one per session; a second call
    /// replaces the first). It is dropped when the session closes, after
    /// [`crate::EngineHandler::on_close`].
    pub fn attach<T: Any + Send + Sync>(&self, value: Arc<T>) {
        *self
            .shared
            .attachment
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(value);
    }

    /// The value given to [`Socket::attach`], if it is a `T` and the session is open.
    pub fn attached<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let attachment = self
            .shared
            .attachment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        attachment?.downcast::<T>().ok()
    }

    /// Whether the session has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Waits until the session has closed, and tells why.
    pub async fn closed(&self) -> CloseReason {
        loop {
            let notified = self.shared.closed.notified();
            if let Some(reason) = self.shared.lock().closed {
                return reason;
            }
            notified.await;
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("sid", &self.shared.sid)
            .field("protocol", &self.shared.handshake.protocol)
            .finish_non_exhaustive()
    }
}
