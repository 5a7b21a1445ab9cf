//! Namespaces: the channels a client connects to, each with its middlewares, connection
//! handler, sockets and adapter.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sockeye_adapter::{
    Adapter, BroadcastOptions, BuildSidHasher, ClusterBroadcast, LocalNamespace, Room, SocketId,
    SocketInfo,
};
use sockeye_socketio_proto::{Args, Packet, Parser, Payload};

use crate::client::Connection;
use crate::extract::{Event, EventContext};
use crate::handler::{self, BoxFuture, ErasedHandler, Handler};
use crate::io::IoInner;
use crate::metrics::NamespaceMetrics;
use crate::observer::Observers;
use crate::operators::{AckResponses, BroadcastOperator, RemoteSocket};
use crate::recovery::{Recovery, RecoveryConfig};
use crate::rooms::IntoRooms;
use crate::{ConnectError, EmitError, Io, Socket};
use sockeye_adapter::{Missed, Restored};

type Middleware =
    Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync + 'static>;
type ServerSideHandler = Arc<dyn Fn(String, Vec<Value>) -> BoxFuture<Value> + Send + Sync>;

/// What a namespace does with connections; shared by the children of a dynamic namespace.
#[derive(Default)]
pub(crate) struct NamespaceHandlers {
    connection: RwLock<Option<ErasedHandler>>,
    middlewares: RwLock<Vec<Middleware>>,
    server_side: RwLock<Option<ServerSideHandler>>,
}

/// A namespace (`/`, `/chat`...). Cheap to clone.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

pub(crate) struct NamespaceInner {
    name: String,
    io: Weak<IoInner>,
    handlers: Arc<NamespaceHandlers>,
    /// The connected sockets. Locked briefly, never across an `.await`, and never while the
    /// adapter's lock is held (the adapter never calls back into the namespace).
    sockets: RwLock<HashMap<SocketId, Socket, BuildSidHasher>>,
    adapter: Box<dyn Adapter>,
    next_ack: AtomicU64,
    recovery: Option<Recovery>,
    metrics: NamespaceMetrics,
    /// The server's parser, kept here for broadcasts, which have no connection at hand.
    parser: Parser,
    observers: Arc<Observers>,
}

impl Namespace {
    pub(crate) fn new(
        name: String,
        io: &Arc<IoInner>,
        handlers: Arc<NamespaceHandlers>,
        adapter: Box<dyn Adapter>,
        recovery: Option<RecoveryConfig>,
        metrics: NamespaceMetrics,
        parser: Parser,
    ) -> Self {
        let recovery = recovery.map(|config| Recovery::new(config, &*adapter));
        let inner = Arc::new(NamespaceInner {
            name,
            io: Arc::downgrade(io),
            handlers,
            sockets: RwLock::default(),
            adapter,
            next_ack: AtomicU64::new(0),
            recovery,
            metrics,
            parser,
            observers: io.observers.clone(),
        });
        let local: Weak<NamespaceInner> = Arc::downgrade(&inner);
        inner.adapter.init(local);
        Namespace(inner)
    }

    pub(crate) fn metrics(&self) -> &NamespaceMetrics {
        &self.0.metrics
    }

    pub(crate) fn observers(&self) -> &Observers {
        &self.0.observers
    }

    /// How this namespace's packets are written (the server's [`crate::IoConfig::parser`]).
    pub(crate) fn parser(&self) -> Parser {
        self.0.parser
    }

    pub(crate) fn handlers(&self) -> &Arc<NamespaceHandlers> {
        &self.0.handlers
    }

    /// The name, starting with `/`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The server.
    ///
    /// # Panics
    /// Never while the server lives; a namespace outlives its server only in a handler that
    /// runs after the server was dropped.
    pub fn io(&self) -> Io {
        match self.0.io.upgrade() {
            Some(inner) => Io(inner),
            None => panic!(
                "the Socket.IO server of namespace {} was dropped",
                self.0.name
            ),
        }
    }

    /// The namespace's adapter.
    pub fn adapter(&self) -> &dyn Adapter {
        &*self.0.adapter
    }

    /// Calls `handler` for every socket that connects (after the middlewares). Its arguments are
    /// extractors: [`Socket`], [`crate::Data`] of the auth payload, [`crate::State`]...
    pub fn on_connection<H: Handler<A>, A>(&self, handler: H) {
        *self
            .0
            .handlers
            .connection
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(handler::erase(handler));
    }

    /// Calls `handler` with the event and arguments that another node of the cluster sends
    /// with `server_side_emit` (Node's `io.serverSideEmit`). What it returns answers an emit
    /// that waits for acknowledgements, and is ignored otherwise.
    ///
    /// ```no_run
    /// # let io = sockeye::Io::builder().build();
    /// io.of("/").on_server_side_emit(|event: String, args: Vec<sockeye::Value>| async move {
    ///     tracing::info!(event, ?args, "from another node");
    ///     sockeye::Value::from("done")
    /// });
    /// ```
    pub fn on_server_side_emit<F, Fut>(&self, handler: F)
    where
        F: Fn(String, Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        let handler: ServerSideHandler =
            Arc::new(move |event, args| Box::pin(handler(event, args)));
        *self
            .0
            .handlers
            .server_side
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(handler);
    }

    /// Sends an event to the server-side handlers of the other nodes of the cluster
    /// ([`Namespace::on_server_side_emit`], or Node's `io.on(event)`); not to clients.
    ///
    /// # Errors
    /// [`EmitError::Serialize`] for data that is not JSON, [`EmitError::Adapter`] when the
    /// broker cannot take it.
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        let data = server_side_data(event, data)?;
        self.0
            .adapter
            .server_side_emit(&data)
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    /// Sends an event to the server-side handlers of the other nodes and collects their
    /// answers, one a node.
    ///
    /// # Errors
    /// As [`Namespace::server_side_emit`]; [`EmitError::Adapter`] also when some node does not
    /// answer within the adapter's request timeout.
    pub async fn server_side_emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<R>, EmitError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let data = server_side_data(event, data)?;
        let answers = self
            .0
            .adapter
            .server_side_emit_with_ack(data)
            .await
            .map_err(|e| EmitError::Adapter(e.to_string()))?;
        answers
            .into_iter()
            .map(|answer| {
                serde_json::from_value(answer).map_err(|e| EmitError::Serialize(e.to_string()))
            })
            .collect()
    }

    /// Adds a middleware that runs, in order, before a socket connects; an `Err` refuses the
    /// connection with CONNECT_ERROR carrying its message and data.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware: Middleware = Arc::new(move |socket| Box::pin(middleware(socket)));
        self.0
            .handlers
            .middlewares
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(middleware);
    }

    /// Every socket connected to this namespace on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.read_sockets().values().cloned().collect()
    }

    /// The socket with this id, if it is connected here.
    pub fn socket(&self, id: SocketId) -> Option<Socket> {
        self.read_sockets().get(&id).cloned()
    }

    /// The sockets with these ids that are connected here, looked up under one lock.
    pub(crate) fn sockets_of(&self, ids: impl IntoIterator<Item = SocketId>) -> Vec<Socket> {
        let ids = ids.into_iter();
        // Sized up front (a filter's lower bound is 0): one allocation for a whole room.
        let mut found = Vec::with_capacity(ids.size_hint().1.unwrap_or(0));
        let sockets = self.read_sockets();
        found.extend(ids.filter_map(|id| sockets.get(&id).cloned()));
        found
    }

    /// Every room with a socket in it (sockets' own rooms included).
    pub fn rooms(&self) -> Vec<Room> {
        self.0.adapter.rooms()
    }

    /// The ids of the sockets in a room.
    pub fn room_members(&self, room: &str) -> Vec<SocketId> {
        self.0.adapter.room_members(room)
    }

    /// A broadcast to the sockets in a room (or several).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).to(rooms)
    }

    /// Same as [`Namespace::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// A broadcast to every socket but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).except(rooms)
    }

    /// A broadcast to this server's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).local()
    }

    /// A broadcast that clients which are not keeping up may miss.
    pub fn volatile(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).volatile()
    }

    /// A broadcast with acknowledgements collected within `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        BroadcastOperator::new(self.clone()).timeout(timeout)
    }

    /// Sends an event to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        BroadcastOperator::new(self.clone()).emit(event, data)
    }

    /// Sends an event to every socket and collects their acknowledgements.
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<AckResponses<R>, EmitError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        BroadcastOperator::new(self.clone())
            .emit_with_ack(event, data)
            .await
    }

    /// Every socket of the namespace, with its id, rooms and handshake (on every node of a
    /// cluster; the local ones only if the other nodes do not answer).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        BroadcastOperator::new(self.clone()).fetch_sockets().await
    }

    /// Every room with a socket in it, on every node of a cluster.
    ///
    /// # Errors
    /// [`EmitError::Adapter`] when the other nodes cannot be asked or do not answer in time.
    pub async fn all_rooms(&self) -> Result<Vec<Room>, EmitError> {
        let mut rooms = self.rooms();
        if self.0.adapter.is_cluster() {
            let remote = self
                .0
                .adapter
                .remote_rooms()
                .await
                .map_err(|e| EmitError::Adapter(e.to_string()))?;
            for room in remote {
                if !rooms.contains(&room) {
                    rooms.push(room);
                }
            }
        }
        Ok(rooms)
    }

    /// Makes every socket join rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        BroadcastOperator::new(self.clone()).join(rooms);
    }

    /// Makes every socket leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        BroadcastOperator::new(self.clone()).leave(rooms);
    }

    /// Disconnects every socket (closing their connections with `close`).
    pub fn disconnect_sockets(&self, close: bool) {
        BroadcastOperator::new(self.clone()).disconnect(close);
    }

    // ---- connections ----

    fn read_sockets(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<SocketId, Socket, BuildSidHasher>> {
        // Inserts and removes cannot leave the map half-changed: poisoning is harmless.
        self.0.sockets.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The recovery store, when connection-state recovery is on.
    pub(crate) fn recovery(&self) -> Option<&Recovery> {
        self.0.recovery.as_ref()
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.0.next_ack.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn remove(&self, id: SocketId) {
        self.0
            .sockets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.0.adapter.del_all(id);
    }

    /// A client asked to connect: restore its session if it asks for one, run the middlewares,
    /// then accept or refuse. The restore may wait for the adapter's store (a broker): the
    /// socket is made once it is done.
    pub(crate) fn connect(&self, conn: &Arc<Connection>, auth: Option<Payload>) {
        let auth = auth.map_or_else(|| Value::Object(Default::default()), |a| a.to_value());
        let restore = self.recovery().and_then(|recovery| {
            let pid = auth.get("pid")?.as_str()?;
            let offset = auth.get("offset")?.as_str()?;
            Some(recovery.restore(pid, offset))
        });
        let Some(restore) = restore else {
            self.connect_restored(conn, auth, None);
            return;
        };
        let ns = self.clone();
        let conn = conn.clone();
        // An in-memory store answers at once: this runs to its end without a task.
        handler::run(async move {
            let restored = restore.await;
            ns.connect_restored(&conn, auth, restored);
        });
    }

    fn connect_restored(&self, conn: &Arc<Connection>, auth: Value, restored: Option<Restored>) {
        let mut restored = restored;
        let socket = Socket::new(self.clone(), conn.clone(), auth, restored.as_mut());
        let skip =
            restored.is_some() && self.recovery().is_some_and(|r| r.config().skip_middlewares);
        let middlewares = self
            .0
            .handlers
            .middlewares
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if middlewares.is_empty() || skip {
            self.accept(socket, restored);
            return;
        }
        let ns = self.clone();
        handler::run(async move {
            for middleware in middlewares {
                if let Err(error) = middleware(socket.clone()).await {
                    ns.metrics().refused();
                    tracing::debug!(
                        nsp = ns.name(),
                        error = %error.message,
                        "a middleware refused a connection"
                    );
                    let packet = Packet::connect_error(ns.name(), &error.message, error.data);
                    let _ = socket.send_packet(&packet, false);
                    socket.discard();
                    return;
                }
            }
            if socket.engine().is_closed() {
                socket.discard();
            } else {
                ns.accept(socket, restored);
            }
        });
    }

    /// Registers a socket and answers its CONNECT; a recovered one (`restored`) gets its rooms
    /// back and then the packets it missed.
    fn accept(&self, socket: Socket, restored: Option<Restored>) {
        let id = socket.id();
        if !socket.0.conn.insert(socket.clone()) {
            tracing::debug!(nsp = %self.name(), "already connected");
            socket.discard();
            return;
        }
        socket.set_connected();
        self.0
            .sockets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, socket.clone());
        self.metrics().connected();
        let _span = socket.span().map(|span| span.enter());
        tracing::debug!(recovered = socket.recovered(), "socket connected");
        // `hold` goes last, when the socket has had what it missed (see `Restored::hold`).
        let (mut rooms, missed, _hold) = match restored {
            Some(r) => (r.session.rooms, r.missed, r.hold),
            None => (Vec::new(), Vec::new(), None),
        };
        if rooms.is_empty() {
            rooms.push(Room::from(id.as_str()));
            if let Some(known) = crate::legacy::client_room(socket.0.conn.protocol, self.name(), id)
            {
                rooms.push(known);
            }
        }
        self.0.adapter.add_all(id, &rooms);
        socket.joined(&[], &rooms);
        self.observers().each(|o| o.socket_connected(&socket));
        // After middlewares, the connection may have closed meanwhile; its sockets were taken
        // before this one was registered, so it is closed here.
        if socket.engine().is_closed() {
            socket.close(crate::DisconnectReason::TransportClose);
            return;
        }
        let reply = match socket.pid() {
            Some(pid) => serde_json::json!({ "sid": id.as_str(), "pid": pid.as_str() }),
            None => serde_json::json!({ "sid": id.as_str() }),
        };
        let _ = socket.send_packet(&Packet::connect(self.name(), Some(reply)), false);
        for missed in missed {
            let frames = match missed {
                Missed::Frames(frames) => frames,
                Missed::Encoded(broadcast) => match self.0.frames_of(&broadcast) {
                    Some(frames) => frames,
                    None => continue,
                },
                _ => continue,
            };
            if socket.send_frames(&frames, false).is_err() {
                break;
            }
        }

        let handler = self
            .0
            .handlers
            .connection
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(handler) = handler {
            let context = EventContext {
                socket: socket.clone(),
                event: Event {
                    name: "connection".into(),
                    args: Args::from_values(vec![socket.auth_value().clone()]),
                    attachments: Vec::new(),
                },
                ack_id: None,
            };
            match handler(context) {
                Ok(future) => handler::run(future),
                Err(message) => socket.report("connection", message, None),
            }
        }
    }
}

/// The packet of an encoded broadcast, with its attachments.
fn decode_broadcast(broadcast: &ClusterBroadcast) -> Option<Packet> {
    let mut decoder = sockeye_socketio_proto::Decoder::new(broadcast.attachments.len());
    let mut packet = decoder.feed_text(&broadcast.text).ok()?;
    for attachment in &broadcast.attachments {
        packet = decoder.feed_binary(attachment.clone()).ok()?;
    }
    packet
}

/// `[event, ...args]`: a tuple's items are the arguments, anything else is one argument.
fn server_side_data<T: Serialize + ?Sized>(event: &str, data: &T) -> Result<Vec<Value>, EmitError> {
    // Binary has no place in the JSON these requests travel in.
    let mut attachments = Vec::new();
    let args = crate::args::to_args(data, &mut attachments).map_err(EmitError::Serialize)?;
    if !attachments.is_empty() {
        return Err(EmitError::Serialize(
            "server_side_emit carries no binary data".into(),
        ));
    }
    let mut values = vec![Value::from(event)];
    values.extend(args.into_values());
    Ok(values)
}

impl NamespaceInner {
    /// The frames of a packet that arrives encoded (from the cluster, or replayed by a broker),
    /// made once for every target, as they are for the default parser.
    fn frames_of(&self, broadcast: &ClusterBroadcast) -> Option<Vec<sockeye_engineio::Frame>> {
        let mut text = Vec::with_capacity(1 + broadcast.text.len());
        text.push(b'4');
        text.extend_from_slice(broadcast.text.as_bytes());
        match self
            .parser
            .frames_from_text(text, broadcast.attachments.clone())
        {
            Ok(frames) => Some(frames),
            Err(error) => {
                tracing::debug!(%error, "undecodable broadcast from the cluster");
                None
            }
        }
    }

    fn chosen(&self, options: &BroadcastOptions) -> Vec<Socket> {
        let ids = self.adapter.sockets(options);
        // Sized up front, as in `Namespace::sockets_of`.
        let mut chosen = Vec::with_capacity(ids.len());
        let sockets = self.sockets.read().unwrap_or_else(|p| p.into_inner());
        chosen.extend(ids.iter().filter_map(|id| sockets.get(id).cloned()));
        chosen
    }
}

/// A socket's handshake as Node describes it to other nodes.
fn handshake_json(socket: &Socket) -> Value {
    let handshake = socket.handshake();
    let mut headers = serde_json::Map::new();
    for (name, value) in handshake.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), Value::String(value));
    }
    let query: serde_json::Map<String, Value> = handshake
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    serde_json::json!({
        "xdomain": headers.contains_key("origin"),
        "headers": headers,
        "time": "",
        "address": handshake.remote_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        "secure": false,
        "issued": handshake.issued_millis(),
        "url": handshake.uri().to_string(),
        "query": query,
        "auth": socket.auth_value(),
    })
}

impl LocalNamespace for NamespaceInner {
    fn name(&self) -> &str {
        &self.name
    }

    fn join(&self, options: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.chosen(options) {
            socket.join(rooms.to_vec());
        }
    }

    fn leave(&self, options: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.chosen(options) {
            socket.leave(rooms.to_vec());
        }
    }

    fn disconnect(&self, options: &BroadcastOptions, close: bool) {
        for socket in self.chosen(options) {
            socket.disconnect(close);
        }
    }

    fn deliver_with_ack(
        &self,
        broadcast: &ClusterBroadcast,
        timeout: Duration,
        on_ack: Box<dyn Fn(Value) + Send + Sync>,
    ) -> usize {
        let Some(mut packet) = decode_broadcast(broadcast) else {
            return 0;
        };
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        packet.id = Some(id);
        let frames = self.parser.frames(&packet);
        let mut pending = Vec::new();
        for socket in self.chosen(&broadcast.options) {
            let Ok(receiver) = socket.expect_ack(id) else {
                continue;
            };
            if socket
                .send_frames(&frames, broadcast.options.volatile)
                .is_ok()
            {
                pending.push((socket, receiver));
            } else {
                socket.forget_ack(id);
            }
        }
        let count = pending.len();
        self.metrics.events_out(count);
        let deadline = tokio::time::Instant::now() + timeout;
        let on_ack: Arc<dyn Fn(Value) + Send + Sync> = Arc::from(on_ack);
        // Each ack is forwarded as soon as it comes: the other node counts them as they do.
        for (socket, receiver) in pending {
            let on_ack = on_ack.clone();
            tokio::spawn(async move {
                match tokio::time::timeout_at(deadline, receiver).await {
                    Ok(Ok(reply)) => {
                        on_ack(
                            reply
                                .args
                                .into_values()
                                .into_iter()
                                .next()
                                .unwrap_or_default(),
                        );
                    }
                    Ok(Err(_)) => {}
                    Err(_) => {
                        socket.ns().metrics().ack_timeout();
                        socket.forget_ack(id);
                    }
                }
            });
        }
        count
    }

    fn server_side_event(&self, mut data: Vec<Value>) -> Option<sockeye_adapter::BoxFuture<Value>> {
        let handler = self
            .handlers
            .server_side
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        if data.is_empty() {
            return None;
        }
        let event = match data.remove(0) {
            Value::String(event) => event,
            other => other.to_string(),
        };
        Some(handler(event, data))
    }

    fn fetch(&self, options: &BroadcastOptions) -> Vec<SocketInfo> {
        self.chosen(options)
            .iter()
            .map(|socket| {
                // Node's `socket.data` is JSON; here it is the `Value` kept with the socket.
                // None is `{}`, Node's default: Node's admin server in development mode
                // destructures it and throws on `null`.
                let data = socket
                    .data::<Value>()
                    .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
                SocketInfo::new(
                    socket.id().as_str(),
                    socket.rooms(),
                    data,
                    handshake_json(socket),
                )
            })
            .collect()
    }

    fn deliver(&self, broadcast: &ClusterBroadcast) {
        let Some(frames) = self.frames_of(broadcast) else {
            return;
        };
        let mut sent = 0;
        for socket in self.chosen(&broadcast.options) {
            // A socket that fails is disconnected by `send_frames`; the others still get it.
            sent += usize::from(
                socket
                    .send_frames(&frames, broadcast.options.volatile)
                    .is_ok(),
            );
        }
        self.metrics.events_out(sent);
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.0.name)
            .field("sockets", &self.read_sockets().len())
            .finish_non_exhaustive()
    }
}
