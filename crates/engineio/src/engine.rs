//! The state every request of one server shares: configuration, handler and the session
//! registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sockeye_engineio_proto::{BuildSidHasher, Sid};

use crate::handler::EngineHandler;
use crate::metrics::EngineMetrics;
use crate::socket::Shared;
use crate::{CloseReason, EngineConfig, Socket};

pub(crate) struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) handler: Arc<dyn EngineHandler>,
    pub(crate) metrics: EngineMetrics,
    /// The open sessions. Locked briefly to look up, insert or remove one; never held across
    /// an `.await`, and never while a session's own lock is held.
    sessions: Mutex<HashMap<Sid, Arc<Shared>, BuildSidHasher>>,
    /// Places among `max_sessions` held by handshakes whose session is not registered yet (a
    /// WebSocket between its 101 and its open packet). Changed only while `sessions` is locked,
    /// so that the check and the hold are one step.
    admitting: AtomicUsize,
    /// Set by a shutdown: no new session opens.
    shutting_down: AtomicBool,
    /// Set once an Engine.IO v3 client was refused and the log said how to serve it: said once,
    /// as every such client retries.
    pub(crate) told_eio3: AtomicBool,
    /// How many WebTransport endpoints serve this engine now: while one does, polling
    /// sessions list `webtransport` among their upgrades.
    pub(crate) webtransport: AtomicUsize,
}

impl Engine {
    pub(crate) fn new(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Self {
        Engine {
            config,
            handler,
            metrics: EngineMetrics::new(),
            sessions: Mutex::new(HashMap::default()),
            admitting: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            told_eio3: AtomicBool::new(false),
            webtransport: AtomicUsize::new(0),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<Sid, Arc<Shared>, BuildSidHasher>> {
        // Inserts and removes cannot leave the map half-changed, so poisoning is harmless.
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Shared>> {
        let sid: Sid = sid.parse().ok()?;
        self.sessions().get(&sid).cloned()
    }

    /// Holds a place for a new session, or `None` when `max_sessions` are open or held.
    /// Concurrent handshakes cannot overshoot the limit: each checks and holds in one step.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Admission> {
        let sessions = self.sessions();
        if sessions.len() + self.admitting.load(Ordering::Relaxed) >= self.config.max_sessions {
            return None;
        }
        self.admitting.fetch_add(1, Ordering::Relaxed);
        drop(sessions);
        Some(Admission {
            engine: self.clone(),
            held: true,
        })
    }

    pub(crate) fn remove(&self, sid: Sid) {
        self.sessions().remove(&sid);
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions().len()
    }

    pub(crate) fn sockets(&self) -> Vec<Socket> {
        self.sessions()
            .values()
            .map(|shared| Socket {
                shared: shared.clone(),
            })
            .collect()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn start_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    pub(crate) fn close_all(&self, reason: CloseReason) {
        for socket in self.sockets() {
            socket.close_with(reason);
        }
    }
}

/// A place among `max_sessions` held for a handshake; given back when dropped, unless the
/// session was registered in it.
pub(crate) struct Admission {
    engine: Arc<Engine>,
    held: bool,
}

impl Admission {
    /// Registers the new session under a fresh id, in the place held.
    pub(crate) fn insert(mut self, make: impl FnOnce(Sid) -> Shared) -> Socket {
        let mut sessions = self.engine.sessions();
        let mut sid = Sid::random();
        while sessions.contains_key(&sid) {
            sid = Sid::random();
        }
        let shared = Arc::new(make(sid));
        sessions.insert(sid, shared.clone());
        self.engine.admitting.fetch_sub(1, Ordering::Relaxed);
        self.held = false;
        Socket { shared }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.held {
            let _sessions = self.engine.sessions();
            self.engine.admitting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
