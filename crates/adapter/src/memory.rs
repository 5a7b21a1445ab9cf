//! The in-memory adapter: rooms of one process.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use sockeye_engineio_proto::BuildSidHasher;

use crate::{Adapter, BroadcastOptions, Room, SocketId};

/// Rooms kept in memory, for a server of one process. The default adapter.
#[derive(Default)]
pub struct MemoryAdapter {
    /// The room index. One lock, held only while reading or changing the maps, never across an
    /// `.await` (no method is async).
    index: RwLock<Index>,
}

#[derive(Default)]
struct Index {
    /// The members of each room. A socket in its own room (the room named by its id) is not
    /// listed here but flagged in `sockets`: most sockets are in no other room, and a set per
    /// socket for its own room would cost every connection a few hundred bytes.
    rooms: HashMap<Room, HashSet<SocketId, BuildSidHasher>>,
    sockets: HashMap<SocketId, Joined, BuildSidHasher>,
}

/// The rooms of one socket.
#[derive(Default)]
struct Joined {
    /// In the room named by its own id.
    own: bool,
    /// Its other rooms; boxed, so that the many sockets in none keep only a pointer (this
    /// entry is per connection, and a set is 48 bytes even when empty).
    #[allow(clippy::box_collection)]
    rooms: Option<Box<HashSet<Room>>>,
}

impl Joined {
    /// Adds `room`; `false` when the socket was in it already.
    fn insert(&mut self, room: &Room) -> bool {
        self.rooms.get_or_insert_default().insert(room.clone())
    }

    fn remove(&mut self, room: &str) {
        if let Some(rooms) = &mut self.rooms {
            rooms.remove(room);
            if rooms.is_empty() {
                self.rooms = None;
            }
        }
    }

    fn rooms(&self) -> impl Iterator<Item = &Room> {
        self.rooms.iter().flat_map(|rooms| rooms.iter())
    }
}

/// Whether `room` is the room named by `sid`.
fn is_own(sid: &SocketId, room: &str) -> bool {
    room == sid.as_str()
}

impl Index {
    /// Whether `sid` is in `room`.
    fn contains(&self, sid: &SocketId, room: &str) -> bool {
        if is_own(sid, room) && self.sockets.get(sid).is_some_and(|joined| joined.own) {
            return true;
        }
        self.rooms
            .get(room)
            .is_some_and(|members| members.contains(sid))
    }

    /// The socket whose own room `room` is, if it is in it.
    fn owner(&self, room: &str) -> Option<SocketId> {
        let sid: SocketId = room.parse().ok()?;
        self.sockets
            .get(&sid)
            .is_some_and(|joined| joined.own)
            .then_some(sid)
    }

    /// Every member of `room`.
    fn members<'a>(&'a self, room: &str) -> impl Iterator<Item = SocketId> + 'a {
        let owner = self.owner(room);
        let others = self.rooms.get(room).into_iter().flatten().copied();
        owner
            .into_iter()
            .chain(others.filter(move |sid| Some(*sid) != owner))
    }
}

impl MemoryAdapter {
    /// An empty adapter.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // Every write leaves both maps consistent before it can panic, so poisoning is harmless.
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: SocketId, rooms: &[Room]) {
        let mut index = self.write();
        let Index {
            rooms: by_room,
            sockets,
        } = &mut *index;
        let joined = sockets.entry(sid).or_default();
        for room in rooms {
            if is_own(&sid, room) {
                joined.own = true;
            } else if joined.insert(room) {
                by_room.entry(room.clone()).or_default().insert(sid);
            }
        }
    }

    fn del(&self, sid: SocketId, room: &str) {
        let mut index = self.write();
        if is_own(&sid, room) {
            if let Some(joined) = index.sockets.get_mut(&sid) {
                joined.own = false;
            }
            return;
        }
        if let Some(joined) = index.sockets.get_mut(&sid) {
            joined.remove(room);
        }
        if let Some(members) = index.rooms.get_mut(room) {
            members.remove(&sid);
            if members.is_empty() {
                index.rooms.remove(room);
            }
        }
    }

    fn del_all(&self, sid: SocketId) {
        let mut index = self.write();
        let Some(joined) = index.sockets.remove(&sid) else {
            return;
        };
        for room in joined.rooms.into_iter().flat_map(|rooms| *rooms) {
            if let Some(members) = index.rooms.get_mut(&room) {
                members.remove(&sid);
                if members.is_empty() {
                    index.rooms.remove(&room);
                }
            }
        }
    }

    fn socket_rooms(&self, sid: SocketId) -> Option<Vec<Room>> {
        let index = self.read();
        let joined = index.sockets.get(&sid)?;
        let own = joined.own.then(|| Room::from(sid.as_str()));
        Some(own.into_iter().chain(joined.rooms().cloned()).collect())
    }

    fn rooms(&self) -> Vec<Room> {
        let index = self.read();
        let own = index
            .sockets
            .iter()
            .filter(|(sid, joined)| joined.own && !index.rooms.contains_key(sid.as_str()))
            .map(|(sid, _)| Room::from(sid.as_str()));
        index.rooms.keys().cloned().chain(own).collect()
    }

    fn sockets(&self, options: &BroadcastOptions) -> Vec<SocketId> {
        let index = self.read();
        let excluded = |sid: &SocketId| options.except.iter().any(|room| index.contains(sid, room));
        match options.rooms.as_slice() {
            [] => index
                .sockets
                .keys()
                .filter(|sid| !excluded(sid))
                .copied()
                .collect(),
            [room] => {
                // Sized up front: a broadcast to a large room would grow the list step by step.
                let members = index.rooms.get(&**room).map_or(0, HashSet::len);
                let mut ids = Vec::with_capacity(members + 1);
                match (options.except.is_empty(), index.owner(room)) {
                    // The common broadcast, to a room that is no socket's own: its members
                    // as they are, without a test for each.
                    (true, None) => ids.extend(index.rooms.get(&**room).into_iter().flatten()),
                    _ => ids.extend(index.members(room).filter(|sid| !excluded(sid))),
                }
                ids
            }
            rooms => {
                let mut seen = HashSet::with_hasher(BuildSidHasher::default());
                rooms
                    .iter()
                    .flat_map(|room| index.members(room))
                    .filter(|sid| seen.insert(*sid) && !excluded(sid))
                    .collect()
            }
        }
    }
}

impl fmt::Debug for MemoryAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = self.read();
        f.debug_struct("MemoryAdapter")
            .field("rooms", &index.rooms.len())
            .field("sockets", &index.sockets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut ids: Vec<SocketId>) -> Vec<SocketId> {
        ids.sort();
        ids
    }

    #[test]
    fn broadcasts_pick_rooms_and_leave_out_exceptions() {
        let adapter = MemoryAdapter::new();
        let [a, b, c] = [SocketId::random(), SocketId::random(), SocketId::random()];
        adapter.add_all(a, &["r1".into(), "r2".into()]);
        adapter.add_all(b, &["r2".into()]);
        adapter.add_all(c, &["r3".into()]);

        let all = BroadcastOptions::default();
        assert_eq!(sorted(adapter.sockets(&all)), sorted(vec![a, b, c]));
        let r1_r2 = BroadcastOptions::default().to("r1").to("r2");
        assert_eq!(sorted(adapter.sockets(&r1_r2)), sorted(vec![a, b]));
        let except = BroadcastOptions::default().to("r2").except("r1");
        assert_eq!(adapter.sockets(&except), vec![b]);
        let none = BroadcastOptions::default().to("nowhere");
        assert!(adapter.sockets(&none).is_empty());
    }

    #[test]
    fn own_rooms_behave_as_any_room() {
        let adapter = MemoryAdapter::new();
        let [a, b] = [SocketId::random(), SocketId::random()];
        let own_a = Room::from(a.as_str());
        adapter.add_all(a, std::slice::from_ref(&own_a));
        adapter.add_all(b, &[Room::from(b.as_str()), "lobby".into()]);
        assert_eq!(adapter.socket_rooms(a), Some(vec![own_a.clone()]));
        assert_eq!(adapter.room_members(a.as_str()), vec![a]);
        let mut rooms = adapter.rooms();
        rooms.sort();
        let mut expected = vec![own_a.clone(), Room::from(b.as_str()), "lobby".into()];
        expected.sort();
        assert_eq!(rooms, expected);
        // Another socket may join a socket's own room; both are then in it.
        adapter.add_all(b, std::slice::from_ref(&own_a));
        assert_eq!(sorted(adapter.room_members(a.as_str())), sorted(vec![a, b]));
        assert_eq!(adapter.rooms().iter().filter(|r| **r == own_a).count(), 1);
        let except_a = BroadcastOptions::default().to("lobby").except(a.as_str());
        assert!(adapter.sockets(&except_a).is_empty());
        let everyone_but_b = BroadcastOptions::default().except(b.as_str());
        assert_eq!(adapter.sockets(&everyone_but_b), vec![a]);
        // Leaving one's own room.
        adapter.del(a, a.as_str());
        assert_eq!(adapter.socket_rooms(a), Some(vec![]));
        assert_eq!(adapter.room_members(a.as_str()), vec![b]);
        adapter.del_all(b);
        assert!(adapter.room_members(a.as_str()).is_empty());
        assert_eq!(adapter.rooms(), Vec::<Room>::new());
    }

    #[test]
    fn leaving_removes_empty_rooms() {
        let adapter = MemoryAdapter::new();
        let a = SocketId::random();
        adapter.add_all(a, &["r1".into(), "r2".into()]);
        adapter.del(a, "r1");
        assert_eq!(adapter.socket_rooms(a), Some(vec![Room::from("r2")]));
        assert_eq!(adapter.rooms(), vec![Room::from("r2")]);
        adapter.del_all(a);
        assert!(adapter.rooms().is_empty());
        assert_eq!(adapter.socket_rooms(a), None);
        assert!(adapter.sockets(&BroadcastOptions::default()).is_empty());
    }
}
