//! The in-memory adapter: rooms of one process.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

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
    rooms: HashMap<Room, HashSet<SocketId>>,
    sockets: HashMap<SocketId, HashSet<Room>>,
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
            if joined.insert(room.clone()) {
                by_room.entry(room.clone()).or_default().insert(sid);
            }
        }
    }

    fn del(&self, sid: SocketId, room: &str) {
        let mut index = self.write();
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
        for room in joined {
            if let Some(members) = index.rooms.get_mut(&room) {
                members.remove(&sid);
                if members.is_empty() {
                    index.rooms.remove(&room);
                }
            }
        }
    }

    fn socket_rooms(&self, sid: SocketId) -> Option<Vec<Room>> {
        self.read()
            .sockets
            .get(&sid)
            .map(|rooms| rooms.iter().cloned().collect())
    }

    fn rooms(&self) -> Vec<Room> {
        self.read().rooms.keys().cloned().collect()
    }

    fn sockets(&self, options: &BroadcastOptions) -> Vec<SocketId> {
        let index = self.read();
        let excluded = |sid: &SocketId| {
            options.except.iter().any(|room| {
                index
                    .rooms
                    .get(room)
                    .is_some_and(|members| members.contains(sid))
            })
        };
        match options.rooms.as_slice() {
            [] => index
                .sockets
                .keys()
                .filter(|sid| !excluded(sid))
                .copied()
                .collect(),
            [room] => index
                .rooms
                .get(room)
                .map(|members| {
                    members
                        .iter()
                        .filter(|sid| !excluded(sid))
                        .copied()
                        .collect()
                })
                .unwrap_or_default(),
            rooms => {
                let mut seen = HashSet::new();
                rooms
                    .iter()
                    .filter_map(|room| index.rooms.get(room))
                    .flatten()
                    .filter(|sid| seen.insert(**sid) && !excluded(sid))
                    .copied()
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
