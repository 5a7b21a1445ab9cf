//! Connection-state recovery, as socket.io ≥ 4.6 does it: a client that loses its connection
//! and comes back in time gets its socket id, rooms and data again, and every packet it missed.
//!
//! The server gives each socket a private session id (`pid`, in the CONNECT reply) and appends
//! an offset to each event it may have to replay (non-volatile, without acknowledgement). The
//! client keeps the `pid` and the last offset it received and sends both in the auth of its next
//! CONNECT. The namespace's adapter gives the store that keeps the replayable packets and the
//! sessions of the sockets that dropped, both for [`RecoveryConfig::max_disconnection_duration`].

use std::sync::Arc;
use std::time::Duration;

use sockeye_adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, ClusterBroadcast, Restored, Session,
    SessionStore, SocketId,
};
use sockeye_engineio::Frame;

/// How connection-state recovery works, given to [`crate::IoBuilder::connection_state_recovery`].
///
/// ```
/// use std::time::Duration;
/// use sockeye::{Io, RecoveryConfig};
///
/// let io = Io::builder()
///     .connection_state_recovery(
///         RecoveryConfig::default().max_disconnection_duration(Duration::from_secs(30)),
///     )
///     .build();
/// # drop(io);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecoveryConfig {
    /// How long a dropped socket's session, and the packets it may miss, are kept. Default
    /// 2 minutes, as in Node.
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middlewares. Default `true`, as in Node.
    pub skip_middlewares: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
        }
    }
}

impl RecoveryConfig {
    /// Sets [`RecoveryConfig::max_disconnection_duration`].
    #[must_use]
    pub fn max_disconnection_duration(mut self, duration: Duration) -> Self {
        self.max_disconnection_duration = duration;
        self
    }

    /// Sets [`RecoveryConfig::skip_middlewares`].
    #[must_use]
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.skip_middlewares = skip;
        self
    }
}

/// The disconnections a client may come back from (Node's list): the others are the client's
/// or the server's decision, or a client that broke the protocol or could not keep up.
pub(crate) fn is_recoverable(reason: crate::DisconnectReason) -> bool {
    use crate::DisconnectReason::*;
    matches!(
        reason,
        TransportClose
            | TransportError
            | PingTimeout
            | ForcedClose
            | ForcedServerClose
            | ServerShuttingDown
    )
}

/// Connection-state recovery of one namespace: its settings, and the store its adapter gave
/// ([`sockeye_adapter::Adapter::session_store`]; in memory unless the adapter keeps it in a
/// broker).
pub(crate) struct Recovery {
    config: RecoveryConfig,
    store: Arc<dyn SessionStore>,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig, adapter: &dyn Adapter) -> Recovery {
        let store = adapter.session_store(config.max_disconnection_duration);
        Recovery { config, store }
    }

    pub(crate) fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// A new offset, and its text as the last argument of the packet carries it; `None` when
    /// the broker numbers packets (then replayable broadcasts go through
    /// [`Recovery::publish`]).
    pub(crate) fn next_offset(&self) -> Option<(u64, String)> {
        self.store.next_offset()
    }

    /// Whether the broker numbers packets: replayable broadcasts then go through it, and this
    /// node's sockets get them back from it.
    pub(crate) fn is_broker_ordered(&self) -> bool {
        self.store.is_broker_ordered()
    }

    /// Keeps a packet sent with `options` (and offset `offset`) for the sockets that dropped.
    pub(crate) fn record(&self, offset: u64, options: BroadcastOptions, frames: Vec<Frame>) {
        self.store.record(offset, options, frames);
    }

    /// [`Recovery::record`], only while the session `pid` is kept (not yet restored nor
    /// expired); whether it was.
    pub(crate) fn record_for_session(
        &self,
        pid: SocketId,
        offset: u64,
        options: BroadcastOptions,
        frames: Vec<Frame>,
    ) -> bool {
        self.store.record_for_session(pid, offset, options, frames)
    }

    /// Keeps the session of a socket that dropped.
    pub(crate) fn persist(&self, session: Session) {
        self.store.persist(session);
    }

    /// The session `pid`, with the packets sent after `offset` that were for it.
    pub(crate) fn restore(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        self.store.restore(pid, offset)
    }

    /// Hands a replayable broadcast to the broker, which delivers it here too.
    pub(crate) fn publish(&self, broadcast: ClusterBroadcast) -> Result<(), AdapterError> {
        self.store.publish(broadcast)
    }
}
