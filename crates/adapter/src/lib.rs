//! Rooms and broadcasts for Sockeye namespaces.
//!
//! An [`Adapter`] keeps, for one namespace, which sockets are in which rooms, and picks the
//! targets of a broadcast. The [`MemoryAdapter`] serves one process; a cluster adapter (Redis)
//! also forwards broadcasts to the other nodes. The namespace gives its adapter a
//! [`LocalNamespace`] to reach its own sockets, so the adapter never depends on the server
//! crate above it.
//!
//! ```
//! use std::sync::Arc;
//! use sockeye_adapter::{Adapter, BroadcastOptions, MemoryAdapter, SocketId};
//!
//! let adapter = MemoryAdapter::new();
//! let (a, b): (SocketId, SocketId) = (SocketId::random(), SocketId::random());
//! adapter.add_all(a, &["lobby".into()]);
//! adapter.add_all(b, &["lobby".into(), "game".into()]);
//! let targets = adapter.sockets(&BroadcastOptions::default().to("game"));
//! assert_eq!(targets, vec![b]);
//! ```

mod memory;
mod options;
mod recovery;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

pub use memory::MemoryAdapter;
pub use options::BroadcastOptions;
pub use recovery::{MemoryStore, Missed, Restored, Session, SessionStore, reaches};

/// A socket id (20 URL-safe characters, unguessable, like Node's).
pub type SocketId = sockeye_engineio_proto::Sid;

/// The hasher for maps keyed by [`SocketId`] (ids this server drew at random).
pub use sockeye_engineio_proto::BuildSidHasher;

/// An encoded packet as it goes on a transport (what the in-memory store keeps).
pub use sockeye_engineio_proto::Frame;

/// A room name. Every socket is also in the room named by its own id.
pub type Room = Arc<str>;

/// The future of a request to the other nodes of a cluster.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The rooms and membership of one namespace, and how broadcasts find their targets.
///
/// Object-safe: a server picks its adapter at run time (`Box<dyn Adapter>`), so no public type
/// carries it as a type parameter. Every method is quick and non-blocking; cluster adapters
/// forward work to their broker in the background.
pub trait Adapter: Send + Sync + 'static {
    /// Puts a socket in rooms (it is created on first use).
    fn add_all(&self, sid: SocketId, rooms: &[Room]);

    /// Takes a socket out of one room (the room goes when it is empty).
    fn del(&self, sid: SocketId, room: &str);

    /// Takes a socket out of every room (on disconnect).
    fn del_all(&self, sid: SocketId);

    /// The rooms a socket is in, or `None` for an unknown socket.
    fn socket_rooms(&self, sid: SocketId) -> Option<Vec<Room>>;

    /// Every room with at least one socket, sockets' own rooms included.
    fn rooms(&self) -> Vec<Room>;

    /// The local sockets a broadcast with these options reaches: in any of `rooms` (or every
    /// socket when there are none), and in none of `except`.
    fn sockets(&self, options: &BroadcastOptions) -> Vec<SocketId>;

    /// The ids of the sockets in a room.
    fn room_members(&self, room: &str) -> Vec<SocketId> {
        self.sockets(&BroadcastOptions::default().to(room))
    }

    /// Hands a broadcast to the other nodes of a cluster. The caller has delivered it to the
    /// local targets already. The in-memory adapter has no other nodes.
    fn publish(&self, broadcast: &ClusterBroadcast) -> Result<(), AdapterError> {
        let _ = broadcast;
        Ok(())
    }

    /// How many nodes share this namespace (1 without a cluster). A cluster adapter answers
    /// with the last count it learnt from its broker, so this never waits.
    fn server_count(&self) -> usize {
        1
    }

    /// Whether [`Adapter::publish`] sends anything anywhere. A namespace encodes a broadcast
    /// for the cluster only when it does, so a single process pays nothing for the cluster
    /// path.
    fn is_cluster(&self) -> bool {
        false
    }

    /// Makes the sockets of the other nodes that `options` chooses join `rooms`. The caller
    /// has done it for the local sockets.
    fn remote_join(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let _ = (options, rooms);
        Ok(())
    }

    /// Makes the sockets of the other nodes that `options` chooses leave `rooms`.
    fn remote_leave(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let _ = (options, rooms);
        Ok(())
    }

    /// Disconnects the sockets of the other nodes that `options` chooses.
    fn remote_disconnect(
        &self,
        options: &BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        let _ = (options, close);
        Ok(())
    }

    /// The sockets of the other nodes that `options` chooses. Fails with
    /// [`AdapterError::Timeout`] when a node does not answer in time, never hangs.
    fn fetch_remote(
        &self,
        options: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let _ = options;
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// The rooms of the other nodes.
    fn remote_rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Hands a broadcast that asks for acknowledgements to the other nodes, and collects the
    /// acknowledgements of their sockets (the first argument of each) for at most `timeout`.
    /// The caller has delivered it to the local targets already.
    fn broadcast_with_ack(
        &self,
        broadcast: &ClusterBroadcast,
        timeout: std::time::Duration,
    ) -> BoxFuture<Result<RemoteAcks, AdapterError>> {
        let _ = (broadcast, timeout);
        Box::pin(std::future::ready(Ok(RemoteAcks::default())))
    }

    /// Sends `data` (`[event, ...args]`) to the server-side handlers of the other nodes.
    fn server_side_emit(&self, data: &[serde_json::Value]) -> Result<(), AdapterError> {
        let _ = data;
        Ok(())
    }

    /// Sends `data` (`[event, ...args]`) to the server-side handlers of the other nodes and
    /// collects one answer from each. Fails with [`AdapterError::Timeout`] when some node does
    /// not answer in time.
    fn server_side_emit_with_ack(
        &self,
        data: Vec<serde_json::Value>,
    ) -> BoxFuture<Result<Vec<serde_json::Value>, AdapterError>> {
        let _ = data;
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Called once, right after the namespace that owns this adapter is made, with the way to
    /// reach its local sockets. A cluster adapter keeps it to deliver broadcasts that other
    /// nodes publish. It is weak because the namespace owns the adapter.
    fn init(&self, local: Weak<dyn LocalNamespace>) {
        let _ = local;
    }

    /// The store of connection-state recovery for this namespace, asked for once, when the
    /// namespace is made with recovery on. The default keeps everything in this process
    /// ([`MemoryStore`]); a cluster adapter may keep it in its broker, so that a client can
    /// come back on another node.
    fn session_store(
        &self,
        max_disconnection_duration: std::time::Duration,
    ) -> Arc<dyn SessionStore> {
        Arc::new(MemoryStore::new(max_disconnection_duration))
    }
}

/// What an adapter may ask of the namespace it serves, for work that comes from other nodes.
///
/// Implemented by the server crate; an adapter only holds it (weakly, see [`Adapter::init`]).
pub trait LocalNamespace: Send + Sync + 'static {
    /// The namespace's name, starting with `/`.
    fn name(&self) -> &str;

    /// Sends a broadcast that another node published to the local sockets it is for
    /// (`broadcast.options.local` is ignored: it is delivered here and nowhere else).
    fn deliver(&self, broadcast: &ClusterBroadcast);

    /// Makes the local sockets that `options` chooses join `rooms`.
    fn join(&self, options: &BroadcastOptions, rooms: &[Room]);

    /// Makes the local sockets that `options` chooses leave `rooms`.
    fn leave(&self, options: &BroadcastOptions, rooms: &[Room]);

    /// Disconnects the local sockets that `options` chooses (`close`: their whole
    /// connections).
    fn disconnect(&self, options: &BroadcastOptions, close: bool);

    /// The local sockets that `options` chooses, as other nodes see them.
    fn fetch(&self, options: &BroadcastOptions) -> Vec<SocketInfo>;

    /// Sends a broadcast from another node that asks for acknowledgements to the local sockets
    /// it is for, with an ack id of this namespace, and calls `on_ack` with the first argument
    /// of each acknowledgement that arrives within `timeout`. Returns how many sockets it was
    /// sent to.
    fn deliver_with_ack(
        &self,
        broadcast: &ClusterBroadcast,
        timeout: std::time::Duration,
        on_ack: Box<dyn Fn(serde_json::Value) + Send + Sync>,
    ) -> usize;

    /// Gives `data` (`[event, ...args]`), sent by another node's `server_side_emit`, to the
    /// namespace's server-side handler. Returns the handler's answer to come, or `None` when
    /// the namespace has no handler (then, as in Node, nothing is answered).
    fn server_side_event(
        &self,
        data: Vec<serde_json::Value>,
    ) -> Option<BoxFuture<serde_json::Value>>;
}

/// The acknowledgements that the sockets of other nodes sent for a broadcast.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RemoteAcks {
    /// The first argument of each acknowledgement.
    pub acks: Vec<serde_json::Value>,
    /// Whether every node told how many sockets it reached and all of them answered in time.
    pub complete: bool,
    /// How many sockets the nodes that told reached.
    pub expected: usize,
}

/// A socket as the nodes of a cluster describe it to each other (Node's `fetchSockets`
/// answer): plain data, with the handshake as Node writes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The socket id.
    pub id: String,
    /// Its rooms, its own included.
    pub rooms: Vec<Room>,
    /// Its application data (Node's `socket.data`); a Sockeye socket without JSON data is
    /// described with `{}`, as Node's `socket.data` defaults to.
    pub data: serde_json::Value,
    /// `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
    pub handshake: serde_json::Value,
}

impl SocketInfo {
    /// A socket's description.
    pub fn new(
        id: impl Into<String>,
        rooms: Vec<Room>,
        data: serde_json::Value,
        handshake: serde_json::Value,
    ) -> Self {
        SocketInfo {
            id: id.into(),
            rooms,
            data,
            handshake,
        }
    }
}

/// A broadcast as it travels between the nodes of a cluster.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterBroadcast {
    /// The namespace.
    pub nsp: String,
    /// Whom it is for.
    pub options: BroadcastOptions,
    /// The encoded Socket.IO packet text.
    pub text: String,
    /// Its binary attachments.
    pub attachments: Vec<bytes::Bytes>,
}

impl ClusterBroadcast {
    /// A broadcast of an encoded packet without attachments.
    pub fn new(nsp: &str, options: BroadcastOptions, text: String) -> Self {
        ClusterBroadcast {
            nsp: nsp.to_owned(),
            options,
            text,
            attachments: Vec::new(),
        }
    }
}

/// An adapter could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The broker could not be reached or refused the request.
    #[error("cluster broker: {0}")]
    Broker(String),
    /// Other nodes did not answer in time.
    #[error("cluster request timed out")]
    Timeout,
}
