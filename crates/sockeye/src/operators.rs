//! Broadcast operators: `to`, `except`, `local`, `volatile`, `timeout`, then `emit`,
//! `emit_with_ack`, `fetch_sockets`, `join`, `leave` or `disconnect` on the chosen sockets.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sockeye_adapter::{BroadcastOptions, ClusterBroadcast, Room, SocketId};
use sockeye_engineio::Handshake;

use crate::args::from_args;
use crate::rooms::IntoRooms;
use crate::socket::{event_packet, frames};
use crate::{AckError, EmitError, Namespace, Socket};

/// Chooses sockets of a namespace, then acts on all of them. Each call returns a new operator,
/// so one can be kept and reused.
///
/// ```no_run
/// # use sockeye::Io;
/// # let io = Io::builder().build();
/// io.to("room1").to("room2").except("muted").emit("news", "hello").ok();
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    options: BroadcastOptions,
    except_socket: Option<SocketId>,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace) -> Self {
        BroadcastOperator {
            ns,
            options: BroadcastOptions::default(),
            except_socket: None,
            timeout: None,
        }
    }

    pub(crate) fn except_socket(mut self, id: SocketId) -> Self {
        self.except_socket = Some(id);
        self
    }

    /// Adds target rooms (sockets in any of them are reached).
    #[must_use]
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            self.options = self.options.to(room);
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    #[must_use]
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in these rooms.
    #[must_use]
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            self.options = self.options.except(room);
        }
        self
    }

    /// Only this server's sockets, even with a cluster adapter.
    #[must_use]
    pub fn local(mut self) -> Self {
        self.options = self.options.local(true);
        self
    }

    /// Clients that are not keeping up may miss the message.
    #[must_use]
    pub fn volatile(mut self) -> Self {
        self.options = self.options.volatile(true);
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits for acknowledgements.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The local sockets chosen.
    pub fn sockets(&self) -> Vec<Socket> {
        let ids = self.ns.adapter().sockets(&self.options);
        self.ns
            .sockets_of(ids.into_iter().filter(|id| Some(*id) != self.except_socket))
    }

    /// Sends an event to every socket chosen. The packet is encoded once for all of them.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        let packet = event_packet(self.ns.name(), event, data)?;
        let frames = frames(&packet);
        for socket in self.sockets() {
            socket.notify_outgoing(&packet);
            // A socket that fails is disconnected by `send_frames`; the others still get it.
            let _ = socket.send_frames(&frames, self.options.volatile);
        }
        self.publish(&packet)
    }

    fn publish(&self, packet: &sockeye_socketio_proto::Packet) -> Result<(), EmitError> {
        let adapter = self.ns.adapter();
        if self.options.local || !adapter.is_cluster() {
            return Ok(());
        }
        let encoded = packet.encode();
        let mut options = self.options.clone();
        if let Some(id) = self.except_socket {
            options = options.except(Room::from(id.as_str()));
        }
        let mut broadcast = ClusterBroadcast::new(self.ns.name(), options, encoded.text);
        broadcast.attachments = encoded.attachments;
        adapter
            .publish(&broadcast)
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    /// Sends an event to every socket chosen and waits for each acknowledgement, until the
    /// operator's timeout (or the server's `ack_timeout`). Sockets that do not answer in time
    /// are reported with [`AckError::Timeout`].
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<AckResponses<R>, EmitError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let timeout = self.timeout.unwrap_or(self.ns.io().config().ack_timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut packet = event_packet(self.ns.name(), event, data)?;
        packet.id = Some(self.ns.next_ack_id());
        let id = packet.id.unwrap_or_default();
        let frames = frames(&packet);
        let mut pending = Vec::new();
        let mut responses = Vec::new();
        for socket in self.sockets() {
            match socket.expect_ack(id) {
                Ok(receiver) => {
                    socket.notify_outgoing(&packet);
                    match socket.send_frames(&frames, self.options.volatile) {
                        Ok(()) => pending.push((socket, receiver)),
                        Err(error) => {
                            socket.forget_ack(id);
                            responses.push((socket.id(), Err(AckError::Emit(error))));
                        }
                    }
                }
                Err(error) => responses.push((socket.id(), Err(error))),
            }
        }
        // All share one deadline, so waiting for them in turn takes no longer than the timeout.
        for (socket, receiver) in pending {
            let result = match tokio::time::timeout_at(deadline, receiver).await {
                Ok(Ok(reply)) => {
                    from_args(&reply.args, &reply.attachments).map_err(AckError::Deserialize)
                }
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    socket.forget_ack(id);
                    Err(AckError::Timeout)
                }
            };
            responses.push((socket.id(), result));
        }
        Ok(AckResponses { responses })
    }

    /// The sockets chosen, with their rooms and handshakes.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.sockets()
            .into_iter()
            .map(|socket| RemoteSocket {
                id: socket.id(),
                rooms: socket.rooms(),
                handshake: socket.handshake().clone(),
                socket,
            })
            .collect()
    }

    /// Makes the sockets chosen join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.sockets() {
            socket.join(rooms.clone());
        }
    }

    /// Makes the sockets chosen leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.sockets() {
            socket.leave(rooms.clone());
        }
    }

    /// Disconnects the sockets chosen (closing their connections with `close`).
    pub fn disconnect(&self, close: bool) {
        for socket in self.sockets() {
            socket.disconnect(close);
        }
    }
}

impl fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.ns.name())
            .field("options", &self.options)
            .field("except_socket", &self.except_socket)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The acknowledgements of a broadcast, one per socket reached.
#[derive(Debug)]
pub struct AckResponses<R> {
    /// Each socket's answer, or why there is none.
    pub responses: Vec<(SocketId, Result<R, AckError>)>,
}

impl<R> AckResponses<R> {
    /// The answers that arrived.
    pub fn ok(&self) -> impl Iterator<Item = &R> {
        self.responses
            .iter()
            .filter_map(|(_, result)| result.as_ref().ok())
    }

    /// The sockets that did not answer in time, or failed.
    pub fn missing(&self) -> impl Iterator<Item = (&SocketId, &AckError)> {
        self.responses
            .iter()
            .filter_map(|(id, result)| result.as_ref().err().map(|e| (id, e)))
    }

    /// How many sockets were reached.
    pub fn len(&self) -> usize {
        self.responses.len()
    }

    /// Whether no socket was reached.
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }
}

/// A socket found by `fetch_sockets`: its id, rooms and handshake, and what can be done to it.
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: SocketId,
    /// Its rooms when it was fetched.
    pub rooms: Vec<Room>,
    /// The request that opened its connection.
    pub handshake: Handshake,
    socket: Socket,
}

impl RemoteSocket {
    /// Sends it an event.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        self.socket.emit(event, data)
    }

    /// Makes it join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.socket.join(rooms);
    }

    /// Makes it leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.socket.leave(rooms);
    }

    /// Disconnects it.
    pub fn disconnect(&self, close: bool) {
        self.socket.disconnect(close);
    }

    /// The value of type `T` kept with it ([`Socket::insert_data`]).
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.socket.data()
    }
}
