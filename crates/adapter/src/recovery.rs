//! The store of connection-state recovery: the packets a dropped socket may have missed, and the
//! sessions of the sockets that dropped.
//!
//! A namespace asks its adapter for a store ([`crate::Adapter::session_store`]). The default,
//! [`MemoryStore`], keeps both in this process: offsets are `<random prefix>-<counter>` that only
//! this process can read, and session data is kept as the server holds it. A cluster store
//! (Redis streams) keeps both in the broker, so that a client may come back on another node;
//! there, session data must be JSON ([`Session::data`]).

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sockeye_engineio_proto::Frame;

use crate::{AdapterError, BoxFuture, BroadcastOptions, ClusterBroadcast, Room, SocketId};

/// The session of a socket that dropped, or that comes back.
#[non_exhaustive]
pub struct Session {
    /// The socket id, which the socket keeps when it comes back.
    pub sid: SocketId,
    /// The private session id the client sends back (`pid` in its CONNECT auth).
    pub pid: SocketId,
    /// Its rooms, its own included.
    pub rooms: Vec<Room>,
    /// Its application data as JSON (the `serde_json::Value` the socket holds), `null` when it
    /// has none. This is all of its data that travels between nodes.
    pub data: serde_json::Value,
    /// Its data as the server holds it (any type), for a store in this process. A store that
    /// keeps sessions elsewhere drops it.
    pub local: Option<Box<dyn Any + Send + Sync>>,
}

impl Session {
    /// A session with JSON data only.
    pub fn new(sid: SocketId, pid: SocketId, rooms: Vec<Room>, data: serde_json::Value) -> Self {
        Session {
            sid,
            pid,
            rooms,
            data,
            local: None,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("rooms", &self.rooms)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// A packet a returning socket missed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Missed {
    /// Framed by this process, as it was sent.
    Frames(Vec<Frame>),
    /// Encoded in the default format (its offset as its last argument), as another node or the
    /// broker holds it; the namespace frames it.
    Encoded(ClusterBroadcast),
}

/// What a returning socket gets back.
#[derive(Debug)]
#[non_exhaustive]
pub struct Restored {
    /// Its session.
    pub session: Session,
    /// The packets sent for it after the offset it last received, oldest first.
    pub missed: Vec<Missed>,
    /// Dropped by the namespace once the socket is back in its rooms and has been sent
    /// `missed`. A store whose packets reach this node's sockets in the background puts a
    /// guard here that holds them back meanwhile, so that none is lost or sent twice.
    pub hold: Option<Box<dyn Any + Send>>,
}

impl Restored {
    /// A session with the packets it missed.
    pub fn new(session: Session, missed: Vec<Missed>) -> Self {
        Restored {
            session,
            missed,
            hold: None,
        }
    }
}

/// Where a namespace keeps what connection-state recovery needs.
///
/// There are two ways to number packets. A store in this process hands out offsets before a
/// packet is sent ([`SessionStore::next_offset`]) and keeps the packets it is given
/// ([`SessionStore::record`]). A store in a broker learns a packet's offset only when the broker
/// takes it: its `next_offset` is `None`, and replayable broadcasts go through
/// [`SessionStore::publish`], which delivers them to this node's sockets too, offset included.
pub trait SessionStore: Send + Sync + 'static {
    /// Whether the broker numbers packets; then `next_offset` is `None` and replayable
    /// broadcasts go through [`SessionStore::publish`].
    fn is_broker_ordered(&self) -> bool {
        false
    }

    /// A new offset (its number, and its text as the packet's last argument), or `None` when
    /// the broker numbers packets.
    fn next_offset(&self) -> Option<(u64, String)>;

    /// Keeps a packet sent with `options` under offset `offset` (from `next_offset`).
    fn record(&self, offset: u64, options: BroadcastOptions, frames: Vec<Frame>);

    /// [`SessionStore::record`] for one dropped socket (an emit on its stale handle), only
    /// while its session `pid` is kept (not yet restored nor expired), checked and kept at
    /// once so that an emit racing the restore is either missed-and-replayed or refused;
    /// whether it was kept.
    fn record_for_session(
        &self,
        pid: SocketId,
        offset: u64,
        options: BroadcastOptions,
        frames: Vec<Frame>,
    ) -> bool;

    /// Keeps the session of a socket that dropped, for the longest disconnection.
    fn persist(&self, session: Session);

    /// The session `pid` with the packets sent after `offset` that were for it; `None` when the
    /// session is unknown or expired or the offset unknown (the client then gets a new
    /// session). A session is restored once.
    fn restore(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>>;

    /// Sends a replayable broadcast (an event without ack, not volatile, not local) to every
    /// node, this one included, once the broker has given it its offset. Only called when
    /// `next_offset` is `None`.
    fn publish(&self, broadcast: ClusterBroadcast) -> Result<(), AdapterError> {
        let _ = broadcast;
        Err(AdapterError::Broker(
            "this store numbers packets itself".into(),
        ))
    }
}

/// The in-memory store of one namespace (the default).
pub struct MemoryStore {
    max_disconnection_duration: Duration,
    /// Offsets are this prefix (random per namespace and process, so that offsets from before a
    /// restart match nothing) and a counter.
    prefix: SocketId,
    next: AtomicU64,
    /// Locked briefly, for a push, a pop or a search; never across an `.await` (there is none).
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Replayable packets, oldest first.
    packets: VecDeque<Stored>,
    /// Sessions of dropped sockets, by pid.
    sessions: HashMap<SocketId, (Instant, Session)>,
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

impl MemoryStore {
    /// A store that keeps packets and sessions for `max_disconnection_duration`.
    pub fn new(max_disconnection_duration: Duration) -> MemoryStore {
        MemoryStore {
            max_disconnection_duration,
            prefix: SocketId::random(),
            next: AtomicU64::new(0),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change is a push or a pop that cannot stop half-way: poisoning is harmless.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counter of an offset this store gave out, or `None`.
    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let (prefix, n) = offset.rsplit_once('-')?;
        (prefix == self.prefix.as_str())
            .then(|| n.parse().ok())
            .flatten()
    }

    fn restore_now(&self, pid: &str, offset: &str) -> Option<Restored> {
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
        let (_, session) = state.sessions.remove(&pid)?;
        let missed = state
            .packets
            .iter()
            .skip(index + 1)
            .filter(|stored| reaches(&stored.options, &session.rooms))
            .map(|stored| Missed::Frames(stored.frames.clone()))
            .collect();
        Some(Restored::new(session, missed))
    }

    /// Drops the packets and sessions older than the longest disconnection.
    fn expire(&self, state: &mut State, now: Instant) {
        let keep = self.max_disconnection_duration;
        let old = |at: Instant| now.saturating_duration_since(at) > keep;
        while state.packets.front().is_some_and(|stored| old(stored.at)) {
            state.packets.pop_front();
        }
        while let Some(&(at, pid)) = state.expiry.front() {
            if !old(at) {
                break;
            }
            state.expiry.pop_front();
            if state
                .sessions
                .get(&pid)
                .is_some_and(|(kept, _)| *kept == at)
            {
                state.sessions.remove(&pid);
            }
        }
    }
}

impl SessionStore for MemoryStore {
    fn next_offset(&self) -> Option<(u64, String)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Some((n, format!("{}-{n}", self.prefix.as_str())))
    }

    fn record(&self, offset: u64, options: BroadcastOptions, frames: Vec<Frame>) {
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

    fn record_for_session(
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

    fn persist(&self, session: Session) {
        let now = Instant::now();
        let mut state = self.state();
        self.expire(&mut state, now);
        let pid = session.pid;
        state.sessions.insert(pid, (now, session));
        state.expiry.push_back((now, pid));
    }

    fn restore(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        Box::pin(std::future::ready(self.restore_now(pid, offset)))
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field(
                "max_disconnection_duration",
                &self.max_disconnection_duration,
            )
            .finish_non_exhaustive()
    }
}

/// Whether a packet sent with `options` was for a socket in `rooms` (Node's
/// `shouldIncludePacket`).
pub fn reaches(options: &BroadcastOptions, rooms: &[Room]) -> bool {
    let in_rooms = options.rooms.is_empty() || options.rooms.iter().any(|r| rooms.contains(r));
    in_rooms && !options.except.iter().any(|r| rooms.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Vec<Frame> {
        vec![Frame::message(text)]
    }

    fn text(missed: &Missed) -> String {
        match missed {
            Missed::Frames(frames) => match &frames[0] {
                Frame::Text(text) => text[1..].to_owned(),
                Frame::Binary(_) => "binary".to_owned(),
            },
            Missed::Encoded(broadcast) => broadcast.text.clone(),
        }
    }

    fn restore(store: &MemoryStore, pid: &str, offset: &str) -> Option<Restored> {
        store.restore_now(pid, offset)
    }

    #[test]
    fn restores_what_was_for_the_socket_after_its_offset_once() {
        let store = MemoryStore::new(Duration::from_secs(120));
        let (sid, pid) = (SocketId::random(), SocketId::random());
        let own = Room::from(sid.as_str());
        let rooms = vec![own.clone(), Room::from("game")];
        let (first, first_text) = store.next_offset().expect("an offset");
        store.record(first, BroadcastOptions::default(), frame("seen"));
        let mut session = Session::new(sid, pid, rooms.clone(), serde_json::json!({"n": 1}));
        session.local = Some(Box::new(7_u32));
        store.persist(session);
        for (options, text) in [
            (BroadcastOptions::default(), "all"),
            (BroadcastOptions::default().to("game"), "game"),
            (BroadcastOptions::default().to("lobby"), "lobby"),
            (BroadcastOptions::default().except("game"), "except game"),
            (BroadcastOptions::default().to(own.clone()), "own"),
        ] {
            let (n, _) = store.next_offset().expect("an offset");
            store.record(n, options, frame(text));
        }
        let restored = restore(&store, pid.as_str(), &first_text).expect("restored");
        assert_eq!(restored.session.sid, sid);
        assert_eq!(restored.session.rooms, rooms);
        assert_eq!(restored.session.data, serde_json::json!({"n": 1}));
        let local = restored.session.local.expect("local data");
        assert_eq!(local.downcast_ref::<u32>(), Some(&7));
        let missed: Vec<String> = restored.missed.iter().map(text).collect();
        assert_eq!(missed, ["all", "game", "own"]);
        assert!(restore(&store, pid.as_str(), &first_text).is_none());
    }

    #[test]
    fn unknown_offsets_pids_and_expired_sessions_restore_nothing() {
        let store = MemoryStore::new(Duration::from_millis(20));
        let (sid, pid) = (SocketId::random(), SocketId::random());
        let (n, offset) = store.next_offset().expect("an offset");
        store.record(n, BroadcastOptions::default(), frame("a"));
        store.persist(Session::new(sid, pid, Vec::new(), serde_json::Value::Null));
        assert!(restore(&store, pid.as_str(), "nope-1").is_none());
        assert!(restore(&store, pid.as_str(), "").is_none());
        assert!(restore(&store, SocketId::random().as_str(), &offset).is_none());
        assert!(restore(&store, "not a pid", &offset).is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(restore(&store, pid.as_str(), &offset).is_none());
        assert!(store.state().sessions.is_empty());
        assert!(store.state().packets.is_empty());
    }

    #[test]
    fn reaches_follows_rooms_and_exceptions() {
        let rooms = [Room::from("a"), Room::from("b")];
        assert!(reaches(&BroadcastOptions::default(), &rooms));
        assert!(reaches(&BroadcastOptions::default().to("b"), &rooms));
        assert!(!reaches(&BroadcastOptions::default().to("c"), &rooms));
        assert!(!reaches(&BroadcastOptions::default().except("a"), &rooms));
        assert!(!reaches(
            &BroadcastOptions::default().to("a").except("b"),
            &rooms
        ));
    }
}
