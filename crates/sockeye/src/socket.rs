//! A socket: one client connected to one namespace.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sockeye_adapter::{BroadcastOptions, Room, SocketId};
use sockeye_engineio::{Frame, Handshake, SendError, Str};
use sockeye_socketio_proto::{Args, Packet, Parser};
use tokio::sync::oneshot;

use crate::args::{from_args, to_args};
use crate::client::Connection;
use crate::extract::{Event, EventContext};
use crate::handler::{self, Handler};
use crate::legacy::Protocol;
use crate::operators::BroadcastOperator;
use crate::recovery;
use crate::rooms::IntoRooms;
use crate::socket_handlers::{Handlers, Hooks};
use crate::{AckError, DisconnectReason, EmitError, HandlerError, Io, Namespace};
use sockeye_adapter::{Restored, Session};

/// An acknowledgement's arguments.
#[derive(Debug)]
pub(crate) struct AckReply {
    pub(crate) args: Args,
    pub(crate) attachments: Vec<Bytes>,
}

/// A client connected to a namespace. Cheap to clone; all clones are the same socket.
///
/// ```no_run
/// use sockeye::{AckSender, Data, Io, Socket};
///
/// let (_service, io) = Io::builder().build_service();
/// io.of("/").on_connection(|socket: Socket| async move {
///     socket.emit("motd", "Welcome!").ok();
///     socket.on("important_message", |Data(text): Data<String>, ack: AckSender| async move {
///         println!("{text}");
///         ack.send("Roger that").ok();
///     });
/// });
/// ```
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

type PendingAcks = HashMap<u64, oneshot::Sender<AckReply>>;

/// The auth payload of a client that sent none, or `{}`.
static EMPTY_AUTH: LazyLock<Value> = LazyLock::new(|| Value::Object(Default::default()));

/// One of these stays for every idle connection: what most sockets never use is allocated
/// only when first used.
pub(crate) struct SocketInner {
    pub(crate) id: SocketId,
    pub(crate) ns: Namespace,
    pub(crate) conn: Arc<Connection>,
    /// `None` for `{}`, which most clients send.
    auth: Option<Box<Value>>,
    /// A mutex, not a read-write lock: it is held only to copy a handler out (never while one
    /// runs), and is smaller and cheaper to take.
    handlers: Mutex<Handlers>,
    /// Pending acknowledgements of this socket's emits, by ack id; allocated by the first.
    acks: Mutex<Option<Box<PendingAcks>>>,
    connected: AtomicBool,
    /// Set once the socket has left its namespace: it sends nothing more.
    closed: AtomicBool,
    /// An outgoing listener was added ([`Socket::on_any_outgoing`]): until then, a broadcast
    /// need not take `handlers`' lock for every recipient to find none.
    watched_out: AtomicBool,
    data: Mutex<http::Extensions>,
    /// The private session id of connection-state recovery, when it is on.
    pid: Option<SocketId>,
    /// Whether this socket took over the session of one that dropped.
    recovered: bool,
    /// The socket's span, only when a subscriber wants it: boxed, so that sockets without
    /// one pay a pointer, not a span.
    span: Option<Box<tracing::Span>>,
}

impl Socket {
    /// A new socket; with `restored`, the one that dropped, with its id, pid and data.
    pub(crate) fn new(
        ns: Namespace,
        conn: Arc<Connection>,
        auth: Value,
        restored: Option<&mut Restored>,
    ) -> Self {
        let (id, pid, data, recovered) = match restored {
            Some(r) => (
                r.session.sid,
                Some(r.session.pid),
                restored_data(&mut r.session),
                true,
            ),
            None => {
                // 2.x clients cannot resume a session: they get no pid.
                let resumable = conn.protocol == Protocol::V5;
                let pid = ns
                    .recovery()
                    .filter(|_| resumable)
                    .map(|_| SocketId::random());
                let id = conn.protocol.socket_id(&conn.engine);
                (id, pid, http::Extensions::new(), false)
            }
        };
        let span = tracing::debug_span!(
            "socket",
            id = %id,
            nsp = ns.name(),
            transport = conn.engine.transport().as_str()
        );
        let span = (!span.is_disabled()).then(|| Box::new(span));
        Socket(Arc::new(SocketInner {
            id,
            ns,
            conn,
            auth: match auth {
                Value::Object(map) if map.is_empty() => None,
                auth => Some(Box::new(auth)),
            },
            handlers: Mutex::default(),
            acks: Mutex::default(),
            connected: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            watched_out: AtomicBool::new(false),
            data: Mutex::new(data),
            pid,
            recovered,
            span,
        }))
    }

    /// The socket's span, when a subscriber is interested.
    pub(crate) fn span(&self) -> Option<&tracing::Span> {
        self.0.span.as_deref()
    }

    /// Counts an event queued for the client.
    fn counted(&self, sent: Result<(), EmitError>) -> Result<(), EmitError> {
        if sent.is_ok() {
            self.ns().metrics().events_out(1);
        }
        sent
    }

    /// Whether this socket is a client's earlier one, recovered after a lost connection with
    /// its id, rooms and data, and the events it missed (see
    /// [`crate::IoBuilder::connection_state_recovery`]).
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    pub(crate) fn pid(&self) -> Option<SocketId> {
        self.0.pid
    }

    /// The socket id (distinct from the Engine.IO session id, as in Node).
    pub fn id(&self) -> SocketId {
        self.0.id
    }

    /// The id the client knows this socket by: [`Socket::id`], except for Socket.IO 2.x
    /// clients (see [`crate::IoBuilder::allow_eio3`]) outside `/`, which call it
    /// `<namespace>#<id>` (`/chat#<id>`).
    pub fn client_id(&self) -> String {
        crate::legacy::client_id(self.0.conn.protocol, self.0.ns.name(), self.0.id)
    }

    /// The namespace.
    pub fn ns(&self) -> &Namespace {
        &self.0.ns
    }

    /// The server.
    pub fn io(&self) -> Io {
        self.0.ns.io()
    }

    /// The HTTP request that opened the connection: headers, query, address, time, URL.
    pub fn handshake(&self) -> &Handshake {
        self.0.conn.engine.handshake()
    }

    /// The auth payload of the client's CONNECT (`{}` when it sent none).
    pub fn auth_value(&self) -> &Value {
        self.0.auth.as_deref().unwrap_or(&EMPTY_AUTH)
    }

    /// The auth payload deserialised as `T`.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.auth_value().clone()).map_err(|e| e.to_string())
    }

    /// The Engine.IO session this socket runs on.
    pub fn engine(&self) -> &sockeye_engineio::Socket {
        &self.0.conn.engine
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.0.connected.load(Ordering::Acquire)
    }

    fn handlers(&self) -> MutexGuard<'_, Handlers> {
        // Handler tables are replaced whole, never left half-written: poisoning is harmless.
        self.0.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acks(&self) -> MutexGuard<'_, Option<Box<PendingAcks>>> {
        self.0.acks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles event `event` with `handler` (replacing an earlier one).
    pub fn on<H: Handler<A>, A>(&self, event: impl Into<String>, handler: H) {
        self.handlers().on(event.into(), handler);
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        self.handlers().off(event);
    }

    /// Calls `handler` for every incoming event, before its own handler and, as in Node, before
    /// the packet middlewares ([`Socket::use_packet`]): it sees events they refuse, unchanged.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers()
            .hooks_mut()
            .any
            .push(Arc::new(move |socket, event| {
                Box::pin(handler(socket, event))
            }));
    }

    /// Calls `handler` for every event emitted to this socket (name and arguments).
    pub fn on_any_outgoing(
        &self,
        handler: impl Fn(&Socket, &str, &[Value]) + Send + Sync + 'static,
    ) {
        self.handlers().hooks_mut().outgoing.push(Arc::new(handler));
        self.0.watched_out.store(true, Ordering::Release);
    }

    /// Adds a middleware that sees (and may change) every incoming event before the handlers;
    /// an `Err` stops the event and goes to the [`Socket::on_error`] handlers.
    pub fn use_packet(
        &self,
        middleware: impl Fn(&Socket, &mut Event) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.handlers()
            .hooks_mut()
            .middlewares
            .push(Arc::new(middleware));
    }

    /// Calls `handler` with the errors of packet middlewares.
    pub fn on_error(&self, handler: impl Fn(&Socket, &str) + Send + Sync + 'static) {
        self.handlers().hooks_mut().errors.push(Arc::new(handler));
    }

    /// Calls `handler` when the socket is about to disconnect, while it is still in its rooms.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Hooks::disconnect_handler(handler);
        self.handlers().hooks_mut().disconnecting.push(handler);
    }

    /// Calls `handler` once the socket has disconnected, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Hooks::disconnect_handler(handler);
        self.handlers().hooks_mut().disconnect.push(handler);
    }

    /// Sends event `event` to this client. `data` is one argument; a tuple is several, `()` none;
    /// `bytes::Bytes` values anywhere inside travel as binary.
    ///
    /// With connection-state recovery, a socket that dropped still takes emits while its
    /// session is kept: they reach the client when it recovers. Once the session is restored
    /// (on a new socket, whose handle then takes the emits) or expired, this fails with
    /// [`EmitError::Disconnected`].
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        if self.ns().recovery().is_some_and(|r| r.is_broker_ordered()) {
            let packet = event_packet(self.ns().name(), event, data, None)?;
            self.check_open()?;
            self.notify_outgoing(&packet);
            let encoded = packet.encode();
            return self.publish_ordered(encoded.text, encoded.attachments);
        }
        let offset = self.ns().recovery().and_then(|r| r.next_offset());
        let packet = event_packet(self.ns().name(), event, data, offset.as_ref())?;
        // Without recovery, a closed socket refuses at once; with it, see `send_recorded`.
        let open = self.check_open();
        if offset.is_none() {
            open.clone()?;
        }
        // As in Node, the listeners hear what is sent, not what is kept for a dropped socket.
        if open.is_ok() {
            self.notify_outgoing(&packet);
        }
        let frames = self.parser().frames(&packet);
        match offset {
            Some((n, _)) => self.send_recorded(n, frames),
            None => self.counted(self.send_frames(&frames, false)),
        }
    }

    /// Sends an event whose arguments are already JSON, with binary values as placeholders
    /// into `attachments` (as an [`Event`] carries them): echoes and proxies use it. Received
    /// arguments are copied as text, without being parsed again.
    pub fn emit_raw(
        &self,
        event: &str,
        args: impl Into<Args>,
        attachments: Vec<Bytes>,
    ) -> Result<(), EmitError> {
        let args = args.into();
        if sockeye_socketio_proto::is_reserved_event(event) {
            return Err(EmitError::ReservedEvent(event.to_owned()));
        }
        let broker_ordered = self.ns().recovery().is_some_and(|r| r.is_broker_ordered());
        let offset = self.ns().recovery().and_then(|r| r.next_offset());
        // Without recovery (or with a broker that numbers packets), a closed socket refuses at
        // once; with it, see `send_recorded`.
        let open = self.check_open();
        if offset.is_none() {
            open.clone()?;
        }
        let mut args = args;
        if let Some((_, text)) = &offset {
            args.values_mut().push(Value::String(text.clone()));
        }
        if open.is_ok() {
            self.notify_outgoing_raw(event, &args);
        }
        let mut text = frame_buffer();
        Packet::encode_event_into(
            &mut text,
            self.ns().name(),
            None,
            event,
            &args,
            attachments.len(),
        );
        if broker_ordered {
            let text = String::from_utf8(text.split_off(1))
                .map_err(|e| EmitError::Serialize(e.to_string()))?;
            return self.publish_ordered(text, attachments);
        }
        if let Some((n, _)) = offset {
            let frames = self
                .parser()
                .frames_from_text(text, attachments)
                .map_err(|e| EmitError::Serialize(e.to_string()))?;
            return self.send_recorded(n, frames);
        }
        self.counted(self.send_text_and(text, attachments))
    }

    /// Hands an event for this socket (`text`: the packet without its Engine.IO type) to a
    /// store whose broker numbers packets: the packet comes back with its offset, in the
    /// broker's order, as broadcasts do.
    fn publish_ordered(&self, text: String, attachments: Vec<Bytes>) -> Result<(), EmitError> {
        let Some(recovery) = self.ns().recovery() else {
            return Ok(());
        };
        let options = BroadcastOptions::default().to(Room::from(self.id().as_str()));
        let mut broadcast = sockeye_adapter::ClusterBroadcast::new(self.ns().name(), options, text);
        broadcast.attachments = attachments;
        recovery
            .publish(broadcast)
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    /// Sends an event and waits for the client's acknowledgement, within the server's default
    /// acknowledgement timeout ([`crate::IoBuilder::ack_timeout`]).
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let timeout = self.io().config().ack_timeout;
        self.timeout(timeout).emit_with_ack(event, data).await
    }

    /// Sets the acknowledgement timeout of the next emit: `socket.timeout(d).emit_with_ack(..)`.
    pub fn timeout(&self, timeout: Duration) -> SocketTimeout<'_> {
        SocketTimeout {
            socket: self,
            timeout,
        }
    }

    /// Joins one room or several.
    pub fn join(&self, rooms: impl IntoRooms) {
        // As in Node, a socket that has left its namespace joins nothing: its rooms would
        // never be cleaned up. Checked again after joining, for a disconnection meanwhile.
        if self.0.closed.load(Ordering::Acquire) {
            return;
        }
        let rooms = rooms.into_rooms();
        // Only an observer needs to know which rooms are new.
        let before = self.ns().observers().watched().then(|| self.rooms());
        self.0.ns.adapter().add_all(self.id(), &rooms);
        if self.0.closed.load(Ordering::Acquire) {
            self.0.ns.adapter().del_all(self.id());
            return;
        }
        if let Some(before) = before {
            self.joined(&before, &rooms);
        }
    }

    /// Tells the observers of the rooms in `rooms` that were not in `before`.
    pub(crate) fn joined(&self, before: &[Room], rooms: &[Room]) {
        self.ns().observers().each(|o| {
            for (i, room) in rooms.iter().enumerate() {
                if !before.contains(room) && !rooms[..i].contains(room) {
                    o.room_joined(self, room);
                }
            }
        });
    }

    /// Leaves one room or several.
    pub fn leave(&self, rooms: impl IntoRooms) {
        let before = self.ns().observers().watched().then(|| self.rooms());
        for room in rooms.into_rooms() {
            self.0.ns.adapter().del(self.id(), &room);
            if before.as_ref().is_some_and(|b| b.contains(&room)) {
                self.ns().observers().each(|o| o.room_left(self, &room));
            }
        }
    }

    /// The rooms the socket is in, its own room (its id) included.
    pub fn rooms(&self) -> Vec<Room> {
        self.0
            .ns
            .adapter()
            .socket_rooms(self.id())
            .unwrap_or_default()
    }

    /// A broadcast to a room (or several) that leaves this socket out.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Socket::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// A broadcast to every socket of the namespace but rooms `rooms` and this one.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// A broadcast to every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone()).except_socket(self.id())
    }

    /// An emit to this socket that may be dropped when the client is not keeping up.
    pub fn volatile(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.0.ns.clone())
            .to(self.id())
            .volatile()
    }

    /// Leaves the namespace: the client is told (DISCONNECT). With `close_underlying`, the whole
    /// connection closes, and with it the client's other namespaces.
    pub fn disconnect(&self, close_underlying: bool) {
        if close_underlying {
            self.0.conn.disconnect_all();
        } else if self.connected() {
            let _ = self.send_packet(&Packet::disconnect(self.ns().name()), false);
            self.close(DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    /// Keeps a value of type `T` with the socket (replacing an earlier `T`).
    pub fn insert_data<T: Clone + Send + Sync + 'static>(&self, value: T) {
        self.0
            .data
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(value);
    }

    /// The value of type `T` kept with the socket.
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0
            .data
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get::<T>()
            .cloned()
    }

    /// Changes the value of type `T` kept with the socket, if there is one.
    pub fn with_data<T: Send + Sync + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.0
            .data
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut::<T>()
            .map(f)
    }

    // ---- what the server does with the socket ----

    /// A socket that has left its namespace must not send on the connection it shared: the
    /// client may still be connected to other namespaces, or join this one again.
    fn check_open(&self) -> Result<(), EmitError> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(EmitError::Disconnected);
        }
        Ok(())
    }

    /// Sends an event that has recovery offset `n`, keeping it for the client's return. As in
    /// Node, a socket that dropped with its session kept takes emits still: they are kept, and
    /// the client gets them when it recovers the session. Once the session is restored or
    /// expired, emits to this (stale) socket fail with [`EmitError::Disconnected`].
    fn send_recorded(&self, n: u64, frames: Vec<Frame>) -> Result<(), EmitError> {
        let Some(recovery) = self.ns().recovery() else {
            return self.counted(self.send_frames(&frames, false));
        };
        let options = BroadcastOptions::default().to(Room::from(self.id().as_str()));
        if self.check_open().is_err() {
            // Checked and kept under one lock: an emit racing the restore is either among the
            // missed packets or refused, never kept for nobody.
            let kept = self
                .0
                .pid
                .is_some_and(|pid| recovery.record_for_session(pid, n, options, frames));
            return if kept {
                Ok(())
            } else {
                Err(EmitError::Disconnected)
            };
        }
        recovery.record(n, options, frames.clone());
        match self.send_frames(&frames, false) {
            // The connection went before the socket was told: the packet is kept, and reaches
            // the client if it recovers, as one queued on a dying connection would.
            Err(EmitError::Disconnected) => Ok(()),
            sent => self.counted(sent),
        }
    }

    /// Drops a socket that never connected (refused by a middleware, or whose connection went
    /// first): it leaves the rooms a middleware made it join, and sends nothing more.
    pub(crate) fn discard(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.ns.adapter().del_all(self.id());
    }

    pub(crate) fn set_connected(&self) {
        self.0.connected.store(true, Ordering::Release);
    }

    pub(crate) fn send_packet(&self, packet: &Packet, volatile: bool) -> Result<(), EmitError> {
        self.send_frames(&self.0.conn.frames(packet), volatile)
    }

    /// Queues encoded frames; a client whose outbox is full loses volatile packets, and is
    /// disconnected for anything else, so that it cannot grow the server's memory.
    /// How this socket's packets are written (the server's [`crate::IoConfig::parser`]).
    pub(crate) fn parser(&self) -> Parser {
        self.0.conn.parser
    }

    pub(crate) fn send_frames(&self, frames: &[Frame], volatile: bool) -> Result<(), EmitError> {
        let engine = &self.0.conn.engine;
        if volatile && engine.queued() > 0 {
            return Ok(());
        }
        match engine.send_all(frames) {
            Ok(()) => {
                self.ns().observers().each(|o| {
                    let bytes = frames.iter().map(Frame::len).sum();
                    o.messages_sent(self, frames.len(), bytes);
                });
                Ok(())
            }
            Err(SendError::Full) if volatile => Ok(()),
            Err(SendError::Full) => {
                tracing::warn!(sid = %self.id(), "outbox full: disconnecting a slow client");
                self.ns().metrics().slow_client();
                self.0.conn.close(DisconnectReason::SlowClient);
                Err(EmitError::OutboxFull)
            }
            Err(_) => Err(EmitError::Disconnected),
        }
    }

    /// Tells the outgoing listeners of an event packet about to be sent. Inline, the check
    /// that there are none: a broadcast makes it for every recipient.
    #[inline]
    pub(crate) fn notify_outgoing(&self, packet: &Packet) {
        if self.0.watched_out.load(Ordering::Acquire) || self.ns().observers().watched() {
            self.notify_outgoing_listeners(packet);
        }
    }

    #[cold]
    fn notify_outgoing_listeners(&self, packet: &Packet) {
        let outgoing = self.outgoing();
        let (Some(event), Some(args)) = (packet.event_name(), packet.args()) else {
            return;
        };
        let args = args.into_values();
        self.ns()
            .observers()
            .each(|o| o.event_sent(self, &event, &args));
        for handler in outgoing {
            handler(self, &event, &args);
        }
    }

    fn outgoing(&self) -> Vec<crate::socket_handlers::OutgoingHandler> {
        if !self.0.watched_out.load(Ordering::Acquire) {
            return Vec::new();
        }
        match self.handlers().hooks() {
            Some(hooks) => hooks.outgoing.clone(),
            None => Vec::new(),
        }
    }

    /// Tells the outgoing listeners of an event with raw arguments about to be sent; the
    /// arguments are parsed only if there are listeners.
    fn notify_outgoing_raw(&self, event: &str, args: &Args) {
        let outgoing = self.outgoing();
        if outgoing.is_empty() && !self.ns().observers().watched() {
            return;
        }
        let args = args.to_values();
        self.ns()
            .observers()
            .each(|o| o.event_sent(self, event, &args));
        for handler in outgoing {
            handler(self, event, &args);
        }
    }

    /// Queues a packet's text (after the Engine.IO message type) and its attachments.
    fn send_text_and(&self, text: Vec<u8>, attachments: Vec<Bytes>) -> Result<(), EmitError> {
        if self.parser() != Parser::Default {
            let frames = self
                .parser()
                .frames_from_text(text, attachments)
                .map_err(|e| EmitError::Serialize(e.to_string()))?;
            return self.send_frames(&frames, false);
        }
        let text = Frame::Text(Str::try_from(text).unwrap_or_default());
        if attachments.is_empty() {
            return self.send_frames(std::slice::from_ref(&text), false);
        }
        let mut frames = Vec::with_capacity(1 + attachments.len());
        frames.push(text);
        frames.extend(attachments.into_iter().map(Frame::Binary));
        self.send_frames(&frames, false)
    }

    pub(crate) fn send_ack<T: Serialize + ?Sized>(
        &self,
        id: u64,
        data: &T,
    ) -> Result<(), EmitError> {
        let mut attachments = Vec::new();
        let args = to_args(data, &mut attachments).map_err(EmitError::Serialize)?;
        self.send_raw_ack(id, &args, attachments)
    }

    pub(crate) fn send_raw_ack(
        &self,
        id: u64,
        args: &Args,
        attachments: Vec<Bytes>,
    ) -> Result<(), EmitError> {
        self.check_open()?;
        let mut text = frame_buffer();
        Packet::encode_ack_into(&mut text, self.ns().name(), id, args, attachments.len());
        self.send_text_and(text, attachments)
    }

    /// Registers a pending acknowledgement; the sender is dropped if the socket disconnects.
    pub(crate) fn expect_ack(&self, id: u64) -> Result<oneshot::Receiver<AckReply>, AckError> {
        let (sender, receiver) = oneshot::channel();
        let mut acks = self.acks();
        let acks = acks.get_or_insert_with(Box::default);
        if acks.len() >= self.io().config().max_pending_acks {
            return Err(AckError::TooManyPending);
        }
        if !self.connected() {
            return Err(AckError::Disconnected);
        }
        acks.insert(id, sender);
        Ok(receiver)
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.take_ack(id);
    }

    fn take_ack(&self, id: u64) -> Option<oneshot::Sender<AckReply>> {
        self.acks().as_mut()?.remove(&id)
    }

    /// An EVENT or BINARY_EVENT from the client.
    pub(crate) fn on_event(&self, packet: Packet) {
        let Some(payload) = &packet.data else {
            return;
        };
        // The decoder admits only a string or a number as the name; as in Node, a number
        // becomes its text.
        let name = match payload.first_string() {
            Some(name) => name,
            None => match payload.to_value() {
                Value::Array(items) => match items.first() {
                    Some(first) => Str::from(first.to_string()),
                    None => return,
                },
                _ => return,
            },
        };
        let Some(args) = payload.args(1) else {
            return;
        };
        self.ns().metrics().event_in(name.as_str());
        let _span = self.span().map(|span| span.enter());
        tracing::debug!(event = %name, ack = packet.id, "event");
        let mut event = Event {
            name,
            args,
            attachments: packet.attachments,
        };
        self.ns()
            .observers()
            .each(|o| o.event_received(self, &event));
        // As in Node, the catch-all listeners see every event as it arrived, before the packet
        // middlewares (which may change or refuse it).
        let hooks = self
            .handlers()
            .hooks()
            .map(|hooks| (hooks.any.clone(), hooks.middlewares.clone()));
        if let Some((any, middlewares)) = hooks {
            for handler in any {
                handler::run(handler(self.clone(), event.clone()));
            }
            for middleware in middlewares {
                if let Err(error) = middleware(self, &mut event) {
                    self.middleware_error(&error);
                    return;
                }
            }
        }
        let Some(handler) = self.handlers().event(event.name.as_str()) else {
            tracing::trace!(sid = %self.id(), event = %event.name, "no handler");
            return;
        };
        let ack_id = packet.id;
        let name = event.name.clone();
        let context = EventContext {
            socket: self.clone(),
            event,
            ack_id,
        };
        match handler.call(context) {
            Ok(future) => handler::run_timed(future, &self.ns().metrics().handler_duration),
            Err(message) => self.report(&name, message, ack_id),
        }
    }

    /// A packet middleware refused an event: the error handlers hear of it.
    fn middleware_error(&self, error: &str) {
        let errors = self
            .handlers()
            .hooks()
            .map(|hooks| hooks.errors.clone())
            .unwrap_or_default();
        if errors.is_empty() {
            tracing::debug!(sid = %self.id(), %error, "packet middleware refused an event");
        }
        for handler in errors {
            handler(self, error);
        }
    }

    /// A handler could not run: the error hook and the log hear of it, and the client too if it
    /// waits for an acknowledgement.
    pub(crate) fn report(&self, event: &str, message: String, ack_id: Option<u64>) {
        let error = HandlerError {
            nsp: self.ns().name().to_owned(),
            event: event.to_owned(),
            message,
        };
        tracing::warn!(sid = %self.id(), %error, "handler not run");
        if let Some(id) = ack_id {
            let _ = self.send_ack(id, &serde_json::json!({ "error": error.message }));
        }
        self.io().report(&error);
    }

    /// An ACK or BINARY_ACK from the client.
    pub(crate) fn on_ack(&self, packet: Packet) {
        let Some(id) = packet.id else { return };
        let _span = self.span().map(|span| span.enter());
        let Some(sender) = self.take_ack(id) else {
            tracing::debug!(sid = %self.id(), id, "acknowledgement of nothing pending");
            return;
        };
        let args = packet.args().unwrap_or_default();
        let _ = sender.send(AckReply {
            args,
            attachments: packet.attachments,
        });
    }

    /// Disconnects the socket from its namespace (no packet is sent).
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.0.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        self.ns().metrics().disconnected(reason);
        let _span = self.span().map(|span| span.enter());
        tracing::debug!(%reason, "socket disconnected");
        let disconnecting = self
            .handlers()
            .hooks()
            .map(|hooks| hooks.disconnecting.clone())
            .unwrap_or_default();
        for handler in disconnecting {
            handler::run(handler(self.clone(), reason));
        }
        // The session is kept before the socket counts as closed, so that an emit racing this
        // close is either sent or kept for the recovering client, never refused and lost.
        if let (Some(recovery), Some(pid)) = (self.ns().recovery(), self.0.pid) {
            if recovery::is_recoverable(reason) {
                // A copy: the `disconnect` handlers still see the data.
                let data = self
                    .0
                    .data
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                // Only a `Value` travels to other nodes: the whole of it stays for this one.
                let json = data.get::<Value>().cloned().unwrap_or(Value::Null);
                let mut session = Session::new(self.id(), pid, self.rooms(), json);
                session.local = Some(Box::new(data));
                recovery.persist(session);
            }
        }
        let rooms = self.ns().observers().watched().then(|| self.rooms());
        // As in Node, `disconnecting` handlers may still emit to the socket; after them, no more.
        self.0.closed.store(true, Ordering::Release);
        self.0.ns.remove(self.id());
        self.0.conn.remove(self);
        self.ns().observers().each(|o| {
            for room in rooms.iter().flatten() {
                o.room_left(self, room);
            }
            o.socket_disconnected(self, reason);
        });
        // Dropping the senders tells the waiting emits.
        self.acks().take();
        // Handlers often hold a clone of their socket: dropping them frees the socket.
        let handlers = std::mem::take(&mut *self.handlers());
        for handler in handlers.into_disconnect() {
            handler::run(handler(self.clone(), reason));
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name())
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

/// An emit to one socket with an acknowledgement timeout, from [`Socket::timeout`].
#[derive(Debug)]
pub struct SocketTimeout<'a> {
    socket: &'a Socket,
    timeout: Duration,
}

impl SocketTimeout<'_> {
    /// Sends an event and waits for its acknowledgement, deserialised as `R` (a lone argument as
    /// `R` itself, several as a tuple).
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, AckError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let socket = self.socket;
        let mut packet = event_packet(socket.ns().name(), event, data, None)?;
        let id = socket.ns().next_ack_id();
        packet.id = Some(id);
        let receiver = socket.expect_ack(id)?;
        socket.notify_outgoing(&packet);
        if let Err(error) =
            socket.counted(socket.send_frames(&socket.parser().frames(&packet), false))
        {
            socket.forget_ack(id);
            return Err(error.into());
        }
        match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok(reply)) => {
                from_args(&reply.args, &reply.attachments).map_err(AckError::Deserialize)
            }
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                socket.ns().metrics().ack_timeout();
                socket.forget_ack(id);
                Err(AckError::Timeout)
            }
        }
    }
}

/// The data of a restored session: as this process kept it, or the JSON that came from
/// another node.
fn restored_data(session: &mut Session) -> http::Extensions {
    if let Some(local) = session.local.take() {
        if let Ok(data) = local.downcast::<http::Extensions>() {
            return *data;
        }
    }
    let mut data = http::Extensions::new();
    if !session.data.is_null() {
        data.insert(std::mem::take(&mut session.data));
    }
    data
}

/// Builds an EVENT packet, with a recovery offset as its last argument when given one.
pub(crate) fn event_packet<T: Serialize + ?Sized>(
    nsp: &str,
    event: &str,
    data: &T,
    offset: Option<&(u64, String)>,
) -> Result<Packet, EmitError> {
    if sockeye_socketio_proto::is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    let mut attachments = Vec::new();
    let mut args = to_args(data, &mut attachments).map_err(EmitError::Serialize)?;
    if let Some((_, text)) = offset {
        args.values_mut().push(Value::String(text.clone()));
    }
    Ok(Packet::event_with_args(nsp, event, &args, attachments))
}

/// A buffer for a packet's text, which starts with the Engine.IO message type, so that the
/// packet is written once, straight into its final frame.
fn frame_buffer() -> Vec<u8> {
    let mut text = Vec::with_capacity(64);
    text.push(b'4');
    text
}
