//! Observers: code that watches what happens on every namespace of a server (connections,
//! rooms, events) without owning any of it, as the admin UI does.
//!
//! The server keeps one list of observers, shared by its namespaces and connections. Each hook
//! starts with one atomic load of "is anyone watching": a server nobody observes pays that and
//! nothing else (no allocation, no lock, no parsing of arguments).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::{DisconnectReason, Event, Socket};

/// Watches a server, added with [`crate::Io::observe`]. Every method has an empty default.
///
/// The methods run on the task where the thing happened, in the order it happened there, and
/// must return quickly (spawn a task for slow work). They may emit, join and leave — an
/// observer that emits should not count what it sends as what it watches (check
/// [`Socket::ns`]).
pub trait Observer: Send + Sync + 'static {
    /// An Engine.IO connection opened (before any namespace is joined on it).
    fn connection_opened(&self, engine: &crate::EngineSocket) {
        let _ = engine;
    }

    /// An Engine.IO connection closed, for `reason`.
    fn connection_closed(&self, engine: &crate::EngineSocket, reason: DisconnectReason) {
        let _ = (engine, reason);
    }

    /// A message of `bytes` bytes arrived on a connection (a Socket.IO packet or one of its
    /// binary attachments).
    fn message_received(&self, engine: &crate::EngineSocket, bytes: usize) {
        let _ = (engine, bytes);
    }

    /// `messages` messages of `bytes` bytes in all were queued for `socket`'s client (a packet
    /// and its attachments; a broadcast counts once per socket).
    fn messages_sent(&self, socket: &Socket, messages: usize, bytes: usize) {
        let _ = (socket, messages, bytes);
    }

    /// A socket connected to its namespace (after the middlewares, before the connection
    /// handler), already in its own room.
    fn socket_connected(&self, socket: &Socket) {
        let _ = socket;
    }

    /// A socket left its namespace, for `reason`, and has left its rooms.
    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        let _ = (socket, reason);
    }

    /// A socket joined a room it was not in (its own room too, when it connects).
    fn room_joined(&self, socket: &Socket, room: &str) {
        let _ = (socket, room);
    }

    /// A socket left a room it was in (each of them, when it disconnects).
    fn room_left(&self, socket: &Socket, room: &str) {
        let _ = (socket, room);
    }

    /// An event arrived from the client, as it arrived (before the packet middlewares).
    fn event_received(&self, socket: &Socket, event: &Event) {
        let _ = (socket, event);
    }

    /// An event is about to be sent to this socket, by [`Socket::emit`] or by a broadcast of
    /// this node (once per socket it reaches), as [`Socket::on_any_outgoing`] sees it.
    fn event_sent(&self, socket: &Socket, event: &str, args: &[Value]) {
        let _ = (socket, event, args);
    }
}

type List = Arc<[Arc<dyn Observer>]>;

/// The observers of one server.
pub(crate) struct Observers {
    /// Set once the first observer is added: the hooks' only cost before that.
    any: AtomicBool,
    /// Replaced whole when one is added, so that a hook copies the list out and calls the
    /// observers without the lock (an observer may emit, and so reach a hook again).
    list: RwLock<List>,
}

impl Default for Observers {
    fn default() -> Self {
        Observers {
            any: AtomicBool::new(false),
            list: RwLock::new(Arc::new([])),
        }
    }
}

impl Observers {
    pub(crate) fn add(&self, observer: Arc<dyn Observer>) {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let mut grown = list.to_vec();
        grown.push(observer);
        *list = grown.into();
        self.any.store(true, Ordering::Release);
    }

    /// Whether anyone watches: hooks that need work to describe what happened check it first.
    #[inline]
    pub(crate) fn watched(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Calls `f` with each observer.
    #[inline]
    pub(crate) fn each(&self, f: impl FnMut(&dyn Observer)) {
        if self.watched() {
            self.call(f);
        }
    }

    #[cold]
    fn call(&self, mut f: impl FnMut(&dyn Observer)) {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner()).clone();
        for observer in list.iter() {
            f(&**observer);
        }
    }
}
