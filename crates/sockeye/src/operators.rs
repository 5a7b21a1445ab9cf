//! Broadcast operators: `to`, `except`, `local`, `volatile`, `timeout`, then `emit`,
//! `emit_with_ack`, `fetch_sockets`, `join`, `leave` or `disconnect` on the chosen sockets.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sockeye_adapter::{BroadcastOptions, ClusterBroadcast, Room, SocketId, SocketInfo};
use sockeye_engineio::Handshake;

use crate::args::from_args;
use crate::rooms::IntoRooms;
use crate::socket::event_packet;
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
        let recovery = self.ns.recovery().filter(|_| !self.options.volatile);
        if let Some(recovery) = recovery.filter(|r| r.is_broker_ordered() && self.is_clustered()) {
            // The broker numbers the packet, and this node's sockets get it back from it, in
            // the order every node sees.
            let packet = event_packet(self.ns.name(), event, data, None)?;
            for socket in self.sockets() {
                socket.notify_outgoing(&packet);
            }
            let encoded = packet.encode();
            let mut broadcast =
                ClusterBroadcast::new(self.ns.name(), self.cluster_options(), encoded.text);
            broadcast.attachments = encoded.attachments;
            return recovery
                .publish(broadcast)
                .map_err(|e| EmitError::Adapter(e.to_string()));
        }
        let offset = recovery.and_then(|r| r.next_offset());
        let packet = event_packet(self.ns.name(), event, data, offset.as_ref())?;
        let frames = self.ns.parser().frames(&packet);
        if let (Some(recovery), Some((n, _))) = (recovery, offset) {
            let mut options = self.options.clone();
            if let Some(id) = self.except_socket {
                options = options.except(Room::from(id.as_str()));
            }
            recovery.record(n, options, frames.clone());
        }
        let mut sent = 0;
        for socket in self.sockets() {
            socket.notify_outgoing(&packet);
            // A socket that fails is disconnected by `send_frames`; the others still get it.
            sent += usize::from(socket.send_frames(&frames, self.options.volatile).is_ok());
        }
        self.ns.metrics().events_out(sent);
        self.publish(&packet)
    }

    fn publish(&self, packet: &sockeye_socketio_proto::Packet) -> Result<(), EmitError> {
        let adapter = self.ns.adapter();
        if self.options.local || !adapter.is_cluster() {
            return Ok(());
        }
        let encoded = packet.encode();
        let mut broadcast =
            ClusterBroadcast::new(self.ns.name(), self.cluster_options(), encoded.text);
        broadcast.attachments = encoded.attachments;
        adapter
            .publish(&broadcast)
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    /// The options as other nodes see them: the socket left out is one more exception.
    fn cluster_options(&self) -> BroadcastOptions {
        let mut options = self.options.clone();
        if let Some(id) = self.except_socket {
            options = options.except(Room::from(id.as_str()));
        }
        options
    }

    /// Whether the operation goes to the other nodes too.
    fn is_clustered(&self) -> bool {
        !self.options.local && self.ns.adapter().is_cluster()
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
        let mut packet = event_packet(self.ns.name(), event, data, None)?;
        packet.id = Some(self.ns.next_ack_id());
        let id = packet.id.unwrap_or_default();
        let frames = self.ns.parser().frames(&packet);
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
        self.ns.metrics().events_out(pending.len());
        let remote = async {
            if !self.is_clustered() {
                return None;
            }
            let mut cluster_packet = packet.clone();
            // Each node gives the packet an ack id of its own.
            cluster_packet.id = None;
            let encoded = cluster_packet.encode();
            let mut broadcast =
                ClusterBroadcast::new(self.ns.name(), self.cluster_options(), encoded.text);
            broadcast.attachments = encoded.attachments;
            Some(
                self.ns
                    .adapter()
                    .broadcast_with_ack(&broadcast, timeout)
                    .await,
            )
        };
        let local = async {
            let mut responses = Vec::new();
            // All share one deadline, so waiting in turn takes no longer than the timeout.
            for (socket, receiver) in pending {
                let result = match tokio::time::timeout_at(deadline, receiver).await {
                    Ok(Ok(reply)) => {
                        from_args(&reply.args, &reply.attachments).map_err(AckError::Deserialize)
                    }
                    Ok(Err(_)) => Err(AckError::Disconnected),
                    Err(_) => {
                        self.ns.metrics().ack_timeout();
                        socket.forget_ack(id);
                        Err(AckError::Timeout)
                    }
                };
                responses.push((socket.id(), result));
            }
            responses
        };
        let (waited, remote) = tokio::join!(local, remote);
        responses.extend(waited);
        let (remote, remote_missing) = match remote {
            None => (Vec::new(), 0),
            Some(Ok(acks)) => {
                let missing = acks.expected.saturating_sub(acks.acks.len());
                let remote = acks
                    .acks
                    .into_iter()
                    .map(|ack| {
                        serde_json::from_value(ack)
                            .map_err(|e| AckError::Deserialize(e.to_string()))
                    })
                    .collect();
                (
                    remote,
                    if acks.complete {
                        missing
                    } else {
                        missing.max(1)
                    },
                )
            }
            Some(Err(error)) => return Err(EmitError::Adapter(error.to_string())),
        };
        Ok(AckResponses {
            responses,
            remote,
            remote_missing,
        })
    }

    /// The sockets chosen, with their rooms and handshakes: on every node of a cluster, or
    /// only the local ones when the other nodes cannot be asked or do not answer in time
    /// ([`BroadcastOperator::try_fetch_sockets`] reports that instead).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        match self.try_fetch_sockets().await {
            Ok(sockets) => sockets,
            Err(error) => {
                tracing::warn!(nsp = self.ns.name(), %error, "fetch_sockets: local sockets only");
                self.local_sockets()
            }
        }
    }

    /// The sockets chosen on every node of a cluster.
    ///
    /// # Errors
    /// [`EmitError::Adapter`] when the other nodes cannot be asked (the broker is down) or do
    /// not all answer within the adapter's request timeout.
    pub async fn try_fetch_sockets(&self) -> Result<Vec<RemoteSocket>, EmitError> {
        let mut sockets = self.local_sockets();
        if self.is_clustered() {
            let remote = self
                .ns
                .adapter()
                .fetch_remote(&self.cluster_options())
                .await
                .map_err(|e| EmitError::Adapter(e.to_string()))?;
            sockets.extend(
                remote
                    .into_iter()
                    .filter_map(|info| RemoteSocket::remote(&self.ns, info)),
            );
        }
        Ok(sockets)
    }

    fn local_sockets(&self) -> Vec<RemoteSocket> {
        self.sockets()
            .into_iter()
            .map(|socket| RemoteSocket {
                id: socket.id(),
                rooms: socket.rooms(),
                handshake: socket.handshake().clone(),
                data: socket.data::<Value>(),
                target: Target::Local(socket),
            })
            .collect()
    }

    /// Makes the sockets chosen join rooms (on every node of a cluster).
    pub fn join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.sockets() {
            socket.join(rooms.clone());
        }
        if self.is_clustered() {
            if let Err(error) = self
                .ns
                .adapter()
                .remote_join(&self.cluster_options(), &rooms)
            {
                tracing::warn!(nsp = self.ns.name(), %error, "join: local sockets only");
            }
        }
    }

    /// Makes the sockets chosen leave rooms (on every node of a cluster).
    pub fn leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for socket in self.sockets() {
            socket.leave(rooms.clone());
        }
        if self.is_clustered() {
            if let Err(error) = self
                .ns
                .adapter()
                .remote_leave(&self.cluster_options(), &rooms)
            {
                tracing::warn!(nsp = self.ns.name(), %error, "leave: local sockets only");
            }
        }
    }

    /// Disconnects the sockets chosen (closing their connections with `close`), on every
    /// node of a cluster.
    pub fn disconnect(&self, close: bool) {
        for socket in self.sockets() {
            socket.disconnect(close);
        }
        if self.is_clustered() {
            if let Err(error) = self
                .ns
                .adapter()
                .remote_disconnect(&self.cluster_options(), close)
            {
                tracing::warn!(nsp = self.ns.name(), %error, "disconnect: local sockets only");
            }
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
    /// Each local socket's answer, or why there is none.
    pub responses: Vec<(SocketId, Result<R, AckError>)>,
    /// The answers of the sockets of other nodes (their first argument; the other nodes do
    /// not tell which socket answered).
    pub remote: Vec<Result<R, AckError>>,
    /// How many sockets of other nodes did not answer in time (at least 1 when some node did
    /// not even tell how many it reached).
    pub remote_missing: usize,
}

impl<R> AckResponses<R> {
    /// The answers that arrived, from every node.
    pub fn ok(&self) -> impl Iterator<Item = &R> {
        self.responses
            .iter()
            .filter_map(|(_, result)| result.as_ref().ok())
            .chain(self.remote.iter().filter_map(|result| result.as_ref().ok()))
    }

    /// The sockets that did not answer in time, or failed.
    pub fn missing(&self) -> impl Iterator<Item = (&SocketId, &AckError)> {
        self.responses
            .iter()
            .filter_map(|(id, result)| result.as_ref().err().map(|e| (id, e)))
    }

    /// How many sockets answered or were waited for: the local ones, and the answers of other
    /// nodes' sockets.
    pub fn len(&self) -> usize {
        self.responses.len() + self.remote.len()
    }

    /// Whether no socket was reached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A socket found by `fetch_sockets`, on this node or another of the cluster: its id, rooms
/// and handshake, and what can be done to it.
#[derive(Debug, Clone)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: SocketId,
    /// Its rooms when it was fetched.
    pub rooms: Vec<Room>,
    /// The request that opened its connection (for a socket of another node, rebuilt from
    /// its URL, headers and address).
    pub handshake: Handshake,
    /// Its JSON data: Node's `socket.data`, or the [`Value`] kept with a Sockeye socket
    /// ([`Socket::insert_data`]). `None` for a local socket without one; another node sends
    /// `{}` for a socket without data (Node's default, which Sockeye nodes send too).
    pub data: Option<Value>,
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    Local(Socket),
    /// On another node: reached through the adapter, by its own room.
    Remote(Namespace),
}

impl RemoteSocket {
    fn remote(ns: &Namespace, info: SocketInfo) -> Option<RemoteSocket> {
        let Ok(id) = info.id.parse::<SocketId>() else {
            tracing::debug!(
                id = info.id,
                "fetch_sockets: a socket id of another form, left out"
            );
            return None;
        };
        Some(RemoteSocket {
            id,
            rooms: info.rooms,
            handshake: remote_handshake(&info.handshake),
            data: (!info.data.is_null()).then_some(info.data),
            target: Target::Remote(ns.clone()),
        })
    }

    fn operator(ns: &Namespace, id: SocketId) -> BroadcastOperator {
        BroadcastOperator::new(ns.clone()).to(id)
    }

    /// Whether it is connected to this node.
    pub fn is_local(&self) -> bool {
        matches!(self.target, Target::Local(_))
    }

    /// Sends it an event.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        match &self.target {
            Target::Local(socket) => socket.emit(event, data),
            Target::Remote(ns) => Self::operator(ns, self.id).emit(event, data),
        }
    }

    /// Makes it join rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        match &self.target {
            Target::Local(socket) => socket.join(rooms),
            Target::Remote(ns) => Self::operator(ns, self.id).join(rooms),
        }
    }

    /// Makes it leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        match &self.target {
            Target::Local(socket) => socket.leave(rooms),
            Target::Remote(ns) => Self::operator(ns, self.id).leave(rooms),
        }
    }

    /// Disconnects it.
    pub fn disconnect(&self, close: bool) {
        match &self.target {
            Target::Local(socket) => socket.disconnect(close),
            Target::Remote(ns) => Self::operator(ns, self.id).disconnect(close),
        }
    }

    /// The value of type `T` kept with it ([`Socket::insert_data`]); `None` for a socket of
    /// another node (see [`RemoteSocket::data`] for its JSON data).
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        match &self.target {
            Target::Local(socket) => socket.data(),
            Target::Remote(_) => None,
        }
    }
}

/// A handshake from Node's description `{headers, address, issued, url, ...}`.
fn remote_handshake(json: &Value) -> Handshake {
    let mut headers = http::HeaderMap::new();
    if let Some(map) = json["headers"].as_object() {
        for (name, value) in map {
            let (Ok(name), Some(Ok(value))) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(http::HeaderValue::from_str),
            ) else {
                continue;
            };
            headers.append(name, value);
        }
    }
    let uri = json["url"]
        .as_str()
        .and_then(|url| url.parse::<http::Uri>().ok())
        .unwrap_or_else(|| http::Uri::from_static("/"));
    let addr = json["address"]
        .as_str()
        .and_then(|a| a.parse::<std::net::IpAddr>().ok())
        .map(|ip| std::net::SocketAddr::new(ip, 0));
    let mut handshake = Handshake::new(
        &headers,
        &uri,
        addr,
        sockeye_engineio::ProtocolVersion::V4,
        sockeye_engineio::TransportKind::WebSocket,
    );
    if let Some(issued) = json["issued"].as_u64() {
        handshake.issued = std::time::UNIX_EPOCH + Duration::from_millis(issued);
    }
    handshake
}
