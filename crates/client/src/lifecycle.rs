//! [`Lifecycle`]: what happens to the connection and to each namespace's socket.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use serde_json::Value;
use tokio::sync::Notify;

/// Why a socket was disconnected: the JavaScript client's reasons, same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server disconnected the socket; the client does not reconnect it.
    IoServerDisconnect,
    /// [`crate::Socket::disconnect`] was called; the client does not reconnect it.
    IoClientDisconnect,
    /// The server went silent for longer than its ping interval and timeout.
    PingTimeout,
    /// The server closed the connection.
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The server sent something that is not Socket.IO.
    ParseError,
}

impl DisconnectReason {
    /// The reason as socket.io-client writes it (`"io server disconnect"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::IoServerDisconnect => "io server disconnect",
            DisconnectReason::IoClientDisconnect => "io client disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
        }
    }

    /// Whether the client will try to reconnect after it.
    pub fn reconnects(self) -> bool {
        !matches!(
            self,
            DisconnectReason::IoServerDisconnect | DisconnectReason::IoClientDisconnect
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle event, as [`crate::Client::lifecycle`] delivers them: the socket events
/// (`connect`, `connect_error`, `disconnect`) with their namespace, and the manager's
/// reconnection events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// The socket of `namespace` is connected (after its buffered events were delivered and
    /// its buffered emits sent).
    Connect {
        /// The namespace.
        namespace: String,
        /// Whether the server restored the session (connection-state recovery).
        recovered: bool,
    },
    /// The connection could not be opened, or the server refused the namespace.
    ConnectError {
        /// The namespace.
        namespace: String,
        /// The server's message, or what failed.
        message: String,
        /// The server's `data`, if it sent any.
        data: Option<Value>,
    },
    /// The socket of `namespace` was disconnected.
    Disconnect {
        /// The namespace.
        namespace: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// Reconnection attempt `n` (from 1) starts.
    ReconnectAttempt(u32),
    /// Reconnected, at attempt `n`.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(String),
    /// The attempts ran out; the client stopped reconnecting.
    ReconnectFailed,
    /// An event's arguments did not fit its handler's type; the handler was not called.
    HandlerError {
        /// The namespace.
        namespace: String,
        /// The event.
        event: String,
        /// What did not fit.
        error: String,
    },
}

/// Most events a [`LifecycleReceiver`] holds; past it the oldest are dropped. Far more than a
/// receiver that reads now and then falls behind by (connections and reconnection attempts
/// come at most one per backoff delay); only handler errors can come faster.
const RECEIVER_LIMIT: usize = 1024;

/// One receiver's queue: empty, it holds no memory, and it grows only as events wait in it.
#[derive(Default)]
struct Queue {
    // A std mutex: pushing and popping are its only critical sections, and neither awaits.
    state: Mutex<QueueState>,
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    events: VecDeque<Lifecycle>,
    /// The client is gone: no event will come after those in `events`.
    closed: bool,
}

impl Queue {
    fn state(&self) -> MutexGuard<'_, QueueState> {
        // Nothing panics while the lock is held, so a poisoned queue is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The lifecycle events of a [`crate::Client`], from [`crate::Client::lifecycle`]: every
/// event from the call on, in order, each receiver its own copy. Unlike a broadcast channel's
/// ring of slots allocated up front, a receiver's queue allocates only as events wait in it,
/// so a client whose receivers keep up costs nothing for them.
pub struct LifecycleReceiver {
    queue: Arc<Queue>,
}

impl LifecycleReceiver {
    /// The next event; `None` once the client is gone (every handle dropped and its task
    /// ended) and the events before are read.
    pub async fn recv(&mut self) -> Option<Lifecycle> {
        loop {
            {
                let mut state = self.queue.state();
                if let Some(event) = state.events.pop_front() {
                    return Some(event);
                }
                if state.closed {
                    return None;
                }
            }
            // A push between the check and this wait leaves a permit: no wake-up is lost.
            self.queue.ready.notified().await;
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Lifecycle> {
        self.queue.state().events.pop_front()
    }
}

impl std::fmt::Debug for LifecycleReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleReceiver")
            .field("waiting", &self.queue.state().events.len())
            .finish()
    }
}

/// The sending side: one queue per live receiver. Dropped with the client, it closes them.
#[derive(Default)]
pub(crate) struct LifecycleSender {
    // A std mutex: subscribing and sending walk a short list and await nothing. Lock order:
    // this list, then a queue.
    receivers: Mutex<Vec<Weak<Queue>>>,
}

impl LifecycleSender {
    fn receivers(&self) -> MutexGuard<'_, Vec<Weak<Queue>>> {
        self.receivers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self) -> LifecycleReceiver {
        let queue = Arc::new(Queue::default());
        let mut receivers = self.receivers();
        receivers.retain(|r| r.strong_count() > 0);
        receivers.push(Arc::downgrade(&queue));
        LifecycleReceiver { queue }
    }

    pub(crate) fn send(&self, event: &Lifecycle) {
        let mut receivers = self.receivers();
        receivers.retain(|receiver| {
            let Some(queue) = receiver.upgrade() else {
                return false;
            };
            {
                let mut state = queue.state();
                if state.events.len() >= RECEIVER_LIMIT {
                    state.events.pop_front();
                }
                state.events.push_back(event.clone());
            }
            queue.ready.notify_one();
            true
        });
        if receivers.is_empty() {
            // The last receiver went away: give back the list's memory too.
            *receivers = Vec::new();
        }
    }
}

impl Drop for LifecycleSender {
    fn drop(&mut self) {
        for queue in self.receivers().drain(..).filter_map(|r| r.upgrade()) {
            queue.state().closed = true;
            queue.ready.notify_one();
        }
    }
}
