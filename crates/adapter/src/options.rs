//! Whom a broadcast is for.

use crate::Room;

/// The targets and flags of a broadcast, as the broadcast operators build them.
///
/// ```
/// use sockeye_adapter::BroadcastOptions;
///
/// let options = BroadcastOptions::default().to("room1").to("room2").except("muted");
/// assert_eq!(options.rooms.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Sockets in any of these rooms; every socket of the namespace when empty.
    pub rooms: Vec<Room>,
    /// Sockets in any of these rooms are left out.
    pub except: Vec<Room>,
    /// Only this node's sockets, even in a cluster.
    pub local: bool,
    /// The message may be dropped for clients that are not ready for it.
    pub volatile: bool,
}

impl BroadcastOptions {
    /// Adds a target room.
    #[must_use]
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        let room = room.into();
        if !self.rooms.contains(&room) {
            self.rooms.push(room);
        }
        self
    }

    /// Adds a room whose sockets are left out.
    #[must_use]
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        let room = room.into();
        if !self.except.contains(&room) {
            self.except.push(room);
        }
        self
    }

    /// Sets [`BroadcastOptions::local`].
    #[must_use]
    pub fn local(mut self, local: bool) -> Self {
        self.local = local;
        self
    }

    /// Sets [`BroadcastOptions::volatile`].
    #[must_use]
    pub fn volatile(mut self, volatile: bool) -> Self {
        self.volatile = volatile;
        self
    }
}
