//! Connection-state recovery, as socket.io ≥ 4.6 does it: a client that loses its connection
//! and comes back in time gets its socket id, rooms and data again, and every packet it missed.
//!
//! The server gives each socket a private session id (`pid`, in the CONNECT reply) and appends
//! an offset to each event it may have to replay (non-volatile, without acknowledgement). The
//! client keeps the `pid` and the last offset it received and sends both in the auth of its next
//! CONNECT. This store, one per namespace, keeps the replayable packets and the sessions of the
//! sockets that dropped, both for [`RecoveryConfig::max_disconnection_duration`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sockeye_adapter::{BroadcastOptions, Room, SocketId};
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

/// What a socket gets back.
pub(crate) struct Restored {
    pub(crate) sid: SocketId,
    pub(crate) pid: SocketId,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: http::Extensions,
    /// The packets it missed, in the order they were sent, as frames.
    pub(crate) missed: Vec<Vec<Frame>>,
}

/// The recovery store of one namespace.
pub(crate) struct Recovery {
    config: RecoveryConfig,
    /// Offsets are this prefix (random per namespace and process, so that offsets from before a
    /// restart match nothing) and a counter.
    prefix: SocketId,
    next: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Replayable packets, oldest first.
    packets: VecDeque<Stored>,
    /// Sessions of dropped sockets, by pid.
    sessions: HashMap<SocketId, Session>,
    /// The pids of `sessions`, oldest disconnection first, to expire them in order. A pid whose
    /// session was restored meanwhile is skipped.
    expiry: VecDeque<(Instant, SocketId)>,
}

struct Stored {
    offset: u64,
    at: Instant,
    options: BroadcastOptions,
    frames: Vec<Frame>,
}

struct Session {
    sid: SocketId,
    rooms: Vec<Room>,
    data: http::Extensions,
    at: Instant,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig) -> Recovery {
        Recovery {
            config,
            prefix: SocketId::random(),
            next: AtomicU64::new(0),
            state: Mutex::default(),
        }
    }

    pub(crate) fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change is a push or a pop that cannot stop half-way: poisoning is harmless.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new offset, and its text as the last argument of the packet carries it.
    pub(crate) fn next_offset(&self) -> (u64, String) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n, format!("{}-{n}", self.prefix.as_str()))
    }

    /// The counter of an offset this store gave out, or `None`.
    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let (prefix, n) = offset.rsplit_once('-')?;
        (prefix == self.prefix.as_str())
            .then(|| n.parse().ok())
            .flatten()
    }

    /// Keeps a packet sent with `options` (and offset `offset`) for the sockets that dropped.
    pub(crate) fn record(&self, offset: u64, options: BroadcastOptions, frames: Vec<Frame>) {
        let now = Instant::now();
        let mut state = self.state();
        self.expire(&mut state, now);
        state.packets.push_back(Stored {
            offset,
            at: now,
            options,
            frames,
        });
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
        let now = Instant::now();
        let mut state = self.state();
        self.expire(&mut state, now);
        if !state.sessions.contains_key(&pid) {
            return false;
        }
        state.packets.push_back(Stored {
            offset,
            at: now,
            options,
            frames,
        });
        true
    }

    /// Keeps the session of a socket that dropped.
    pub(crate) fn persist(
        &self,
        pid: SocketId,
        sid: SocketId,
        rooms: Vec<Room>,
        data: http::Extensions,
    ) {
        let now = Instant::now();
        let mut state = self.state();
        self.expire(&mut state, now);
        state.sessions.insert(
            pid,
            Session {
                sid,
                rooms,
                data,
                at: now,
            },
        );
        state.expiry.push_back((now, pid));
    }

    /// The session `pid`, with the packets sent after `offset` that were for it; `None` when the
    /// session is unknown or expired, or the offset is not one of the kept packets (the client
    /// then gets a new session, as in Node). A session is restored once.
    pub(crate) fn restore(&self, pid: &str, offset: &str) -> Option<Restored> {
        let pid: SocketId = pid.parse().ok()?;
        let offset = self.parse_offset(offset)?;
        let now = Instant::now();
        let mut state = self.state();
        self.expire(&mut state, now);
        // Concurrent emits may record out of counter order: search, from the newest.
        let index = state
            .packets
            .iter()
            .rposition(|stored| stored.offset == offset)?;
        let session = state.sessions.remove(&pid)?;
        let missed = state
            .packets
            .iter()
            .skip(index + 1)
            .filter(|stored| reaches(&stored.options, &session.rooms))
            .map(|stored| stored.frames.clone())
            .collect();
        Some(Restored {
            sid: session.sid,
            pid,
            rooms: session.rooms,
            data: session.data,
            missed,
        })
    }

    /// Drops the packets and sessions older than the longest disconnection.
    fn expire(&self, state: &mut State, now: Instant) {
        let keep = self.config.max_disconnection_duration;
        let old = |at: Instant| now.saturating_duration_since(at) > keep;
        while state.packets.front().is_some_and(|stored| old(stored.at)) {
            state.packets.pop_front();
        }
        while let Some(&(at, pid)) = state.expiry.front() {
            if !old(at) {
                break;
            }
            state.expiry.pop_front();
            if state.sessions.get(&pid).is_some_and(|s| s.at == at) {
                state.sessions.remove(&pid);
            }
        }
    }
}

/// Whether a packet sent with `options` was for a socket in `rooms`.
fn reaches(options: &BroadcastOptions, rooms: &[Room]) -> bool {
    let in_rooms = options.rooms.is_empty() || options.rooms.iter().any(|r| rooms.contains(r));
    in_rooms && !options.except.iter().any(|r| rooms.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Vec<Frame> {
        vec![Frame::Text(sockeye_engineio::Str::from(text.to_owned()))]
    }

    fn text(frames: &[Frame]) -> &str {
        match &frames[0] {
            Frame::Text(text) => text,
            Frame::Binary(_) => "binary",
        }
    }

    #[test]
    fn restores_what_was_for_the_socket_after_its_offset_once() {
        let recovery = Recovery::new(RecoveryConfig::default());
        let (sid, pid) = (SocketId::random(), SocketId::random());
        let own = Room::from(sid.as_str());
        let rooms = vec![own.clone(), Room::from("game")];
        let (first, first_text) = recovery.next_offset();
        recovery.record(first, BroadcastOptions::default(), frame("seen"));
        recovery.persist(pid, sid, rooms.clone(), http::Extensions::new());
        for (options, text) in [
            (BroadcastOptions::default(), "all"),
            (BroadcastOptions::default().to("game"), "game"),
            (BroadcastOptions::default().to("lobby"), "lobby"),
            (BroadcastOptions::default().except("game"), "except game"),
            (BroadcastOptions::default().to(own.clone()), "own"),
        ] {
            let (n, _) = recovery.next_offset();
            recovery.record(n, options, frame(text));
        }
        let restored = recovery
            .restore(pid.as_str(), &first_text)
            .expect("restored");
        assert_eq!(restored.sid, sid);
        assert_eq!(restored.rooms, rooms);
        let missed: Vec<&str> = restored.missed.iter().map(|f| text(f)).collect();
        assert_eq!(missed, ["all", "game", "own"]);
        assert!(recovery.restore(pid.as_str(), &first_text).is_none());
    }

    #[test]
    fn unknown_offsets_pids_and_expired_sessions_restore_nothing() {
        let recovery = Recovery::new(
            RecoveryConfig::default().max_disconnection_duration(Duration::from_millis(20)),
        );
        let (sid, pid) = (SocketId::random(), SocketId::random());
        let (n, offset) = recovery.next_offset();
        recovery.record(n, BroadcastOptions::default(), frame("a"));
        recovery.persist(pid, sid, Vec::new(), http::Extensions::new());
        assert!(recovery.restore(pid.as_str(), "nope-1").is_none());
        assert!(recovery.restore(pid.as_str(), "").is_none());
        assert!(
            recovery
                .restore(SocketId::random().as_str(), &offset)
                .is_none()
        );
        assert!(recovery.restore("not a pid", &offset).is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(recovery.restore(pid.as_str(), &offset).is_none());
        assert!(recovery.state().sessions.is_empty());
        assert!(recovery.state().packets.is_empty());
    }
}
