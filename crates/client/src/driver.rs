//! The client's task, its only one: it owns the connection (the Engine.IO state machine and,
//! on WebSocket, the socket itself) and every namespace's protocol state, so that no lock is
//! needed to keep packets in order and a packet crosses no channel between tasks.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};
use sockeye_engineio_proto::{Frame, Packet as EioPacket, Str};
use sockeye_socketio_proto::{Args, DEFAULT_MAX_ATTACHMENTS, Decoder, Packet, PacketType, Parser};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

use crate::acks::AckWaits;
use crate::backoff::Backoff;
use crate::client::Inner;
use crate::engine::{CloseReason, Engine, EngineEvent, Next};
use crate::retry::{GaveUp, RetryQueue};
use crate::socket::{Ack, Event};
use crate::{DisconnectReason, Error, Lifecycle};

pub(crate) type AckReply = Result<(Args, Vec<Bytes>), Error>;

/// An emit on its way, encoded by the emitting task (so that the client's task only puts it
/// on the wire), with its ack id when it has one.
pub(crate) struct Outgoing {
    pub(crate) frames: Vec<Frame>,
    pub(crate) id: Option<u64>,
    pub(crate) volatile: bool,
    pub(crate) ack: Option<oneshot::Sender<AckReply>>,
    /// The wait for the acknowledgement (per try for a queued emit), kept by the driver: the
    /// caller's task arms no timer of its own.
    pub(crate) timeout: Option<Duration>,
}

/// An emit in the retry queue: its encoded packet and the caller's wait, if any.
type Retried = (Vec<Frame>, Option<oneshot::Sender<AckReply>>);

/// An acknowledgement of an event the server sent.
pub(crate) struct AckOut {
    pub(crate) namespace: Arc<str>,
    pub(crate) id: u64,
    pub(crate) args: Args,
    pub(crate) attachments: Vec<Bytes>,
}

/// What sockets ask of the driver. Small (the bodies are boxed): tokio's channel allocates
/// its slots 32 at a time, up front, in every client.
pub(crate) enum Command {
    Connect(Arc<str>),
    Disconnect(Arc<str>),
    Emit(Arc<str>, Box<Outgoing>),
    Ack(Box<AckOut>),
    CloseAll,
}

#[derive(Default)]
struct NsState {
    active: bool,
    connected: bool,
    connect_sent: bool,
    pid: Option<String>,
    offset: Option<String>,
    send_buffer: Vec<Vec<Frame>>,
    /// Ack ids of emits still in `send_buffer`: their waits survive a disconnection.
    buffered_acks: Vec<u64>,
    receive_buffer: Vec<Packet>,
    acks: AckWaits<AckReply>,
    retry: RetryQueue<Retried>,
}

pub(crate) struct Driver {
    inner: Arc<Inner>,
    commands: mpsc::UnboundedReceiver<Command>,
    sockets: HashMap<String, NsState>,
    engine: Option<Engine>,
    decoder: Decoder,
    parser: Parser,
    backoff: Backoff,
    reconnecting: bool,
    next_attempt: Option<Instant>,
    /// The task's one timer (reconnection, retries, acknowledgement timeouts), armed for
    /// `timer_at` ([`Driver::arm_timer`]). Boxed and created on first use: a connected
    /// client that sets no timeout has none.
    timer: Option<Pin<Box<Sleep>>>,
    timer_at: Option<Instant>,
    /// Whether `timer` was polled since it was set, so that it wakes the task (whose waker
    /// never changes); after that, only whether it fired is checked.
    timer_polled: bool,
    commands_first: bool,
}

/// What woke the client's task.
enum Wake {
    Command(Option<Command>),
    Engine(Next),
    Timer,
}

/// Commands handled in a row before the connection is polled again: a burst of emits goes
/// out in one write, and a flood of them cannot starve the reads.
const COMMAND_BATCH: usize = 64;

/// Closes `engine` politely; boxed, since closing needs more state than running.
async fn close(engine: Engine) {
    Box::pin(engine.close()).await;
}

impl Driver {
    pub(crate) fn new(inner: Arc<Inner>, commands: mpsc::UnboundedReceiver<Command>) -> Driver {
        let config = &inner.config;
        let parser = config.parser;
        let backoff = Backoff::new(
            config.reconnection_delay,
            config.reconnection_delay_max,
            config.randomization_factor,
        );
        Driver {
            inner,
            commands,
            sockets: HashMap::new(),
            engine: None,
            decoder: parser.decoder(DEFAULT_MAX_ATTACHMENTS),
            parser,
            backoff,
            reconnecting: false,
            next_attempt: None,
            timer: None,
            timer_at: None,
            timer_polled: false,
            commands_first: false,
        }
    }

    /// The task. Its future holds the driver once (an `async fn` taking `self` would hold
    /// it twice), and every rare, large await (connecting, closing) is boxed, so that each
    /// client's task stays small for as long as it lives.
    #[allow(clippy::manual_async_fn)] // the point: see above
    pub(crate) fn run(mut self) -> impl Future<Output = ()> + Send {
        async move { self.run_loop().await }
    }

    async fn run_loop(&mut self) {
        loop {
            self.arm_timer();
            match std::future::poll_fn(|cx| self.poll_wake(cx)).await {
                Wake::Command(Some(command)) => {
                    self.command(command).await;
                    // What else is queued goes before the next flush, in the same write.
                    for _ in 1..COMMAND_BATCH {
                        let Ok(command) = self.commands.try_recv() else {
                            break;
                        };
                        self.command(command).await;
                    }
                }
                // Every user handle is gone: disconnect cleanly, as `Client::close` does.
                Wake::Command(None) => {
                    self.close_all().await;
                    if let Some(engine) = self.engine.take() {
                        close(engine).await;
                    }
                    return;
                }
                Wake::Engine(Next::Event(EngineEvent::Message(packet))) => {
                    self.message(packet).await;
                }
                Wake::Engine(Next::Event(EngineEvent::Closed(reason))) => self.closed(reason),
                Wake::Engine(Next::Upgrade(ws)) => {
                    if let Some(engine) = self.engine.as_mut() {
                        engine.upgrade(ws).await;
                    }
                }
                Wake::Timer => {
                    let now = Instant::now();
                    if self.next_attempt.is_some_and(|at| at <= now) {
                        self.next_attempt = None;
                        self.attempt().await;
                    }
                    self.retry_expired();
                    self.acks_expired();
                }
            }
        }
    }

    /// What is ready: commands and the connection take turns at going first, so that
    /// neither a flood of emits nor one of packets starves the other. Hand-polled rather
    /// than a `select!`: this runs at every wake-up of the task.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        self.commands_first = !self.commands_first;
        if self.commands_first {
            if let Poll::Ready(command) = self.commands.poll_recv(cx) {
                return Poll::Ready(Wake::Command(command));
            }
        }
        if let Some(engine) = self.engine.as_mut() {
            if let Poll::Ready(next) = engine.poll_next(cx) {
                return Poll::Ready(Wake::Engine(next));
            }
        }
        if !self.commands_first {
            if let Poll::Ready(command) = self.commands.poll_recv(cx) {
                return Poll::Ready(Wake::Command(command));
            }
        }
        if let (Some(_), Some(timer)) = (self.timer_at, self.timer.as_mut()) {
            let fired = if self.timer_polled {
                timer.is_elapsed()
            } else {
                self.timer_polled = true;
                // Unconstrained: a poll refused for the task's budget would register nothing.
                let timer = tokio::task::unconstrained(timer.as_mut());
                std::pin::pin!(timer).poll(cx).is_ready()
            };
            if fired {
                self.timer_at = None;
                return Poll::Ready(Wake::Timer);
            }
        }
        Poll::Pending
    }

    /// Makes sure the timer fires by the earliest of the reconnection attempt, the retry
    /// queues' and the acknowledgement waits' deadlines. It is moved only to an earlier
    /// time: one that fires for a deadline gone (an answered wait, a try acknowledged) only
    /// costs a wake-up, and this way an emit never resets it.
    fn arm_timer(&mut self) {
        let mut deadline = self.next_attempt;
        for state in self.sockets.values() {
            for at in [state.retry.deadline(), state.acks.next_deadline()] {
                deadline = match (deadline, at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        let Some(deadline) = deadline else {
            return;
        };
        if self.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        self.timer_at = Some(deadline);
        self.timer_polled = false;
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    /// Fails the acknowledgement waits whose timeout passed.
    fn acks_expired(&mut self) {
        let now = Instant::now();
        for state in self.sockets.values_mut() {
            for (waiter, timeout) in state.acks.expire(now) {
                let _ = waiter.send(Err(Error::AckTimeout(timeout)));
            }
        }
    }

    fn any_active(&self) -> bool {
        self.sockets.values().any(|ns| ns.active)
    }

    fn update_shared(&self, namespace: &str) {
        let Some(state) = self.sockets.get(namespace) else {
            return;
        };
        let mut shared = self.inner.shared();
        let ns = shared.namespaces.entry(namespace.to_owned()).or_default();
        ns.connected = state.connected;
        if !state.connected {
            ns.id = None;
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Connect(namespace) => {
                let state = self.sockets.entry(namespace.to_string()).or_default();
                state.active = true;
                if self.engine.is_some() {
                    self.send_connect(&namespace).await;
                } else if !self.reconnecting && self.next_attempt.is_none() {
                    self.next_attempt = Some(Instant::now());
                }
            }
            Command::Disconnect(namespace) => self.disconnect(&namespace).await,
            Command::CloseAll => self.close_all().await,
            Command::Emit(namespace, outgoing) => self.emit(&namespace, *outgoing),
            Command::Ack(ack) => {
                let AckOut {
                    namespace,
                    id,
                    args,
                    attachments,
                } = *ack;
                let connected = self.sockets.get(&*namespace).is_some_and(|s| s.connected);
                if let (true, Some(engine)) = (connected, &mut self.engine) {
                    let data = Value::Array(args.into_values());
                    engine.send(self.parser.frames(&Packet::ack(
                        &namespace,
                        id,
                        data,
                        attachments,
                    )));
                }
            }
        }
    }

    async fn close_all(&mut self) {
        let names: Vec<String> = self.sockets.keys().cloned().collect();
        for namespace in names {
            self.disconnect(&namespace).await;
        }
    }

    fn emit(&mut self, namespace: &str, outgoing: Outgoing) {
        // One lookup for the common case (the namespace is known), without allocating its
        // name; the entry API would take an owned key every time.
        let state = match self.sockets.get_mut(namespace) {
            Some(state) => state,
            None => self.sockets.entry(namespace.to_owned()).or_default(),
        };
        let sendable = state.connected && self.engine.is_some();
        if outgoing.volatile && !sendable {
            return;
        }
        let Outgoing {
            frames, id, ack, ..
        } = outgoing;
        let retries = self.inner.config.retries;
        if let (true, Some(id)) = (retries > 0 && !outgoing.volatile, id) {
            state
                .retry
                .push((frames, ack), id, retries, outgoing.timeout);
            self.retry_transmit(namespace);
            return;
        }
        if let (Some(ack), Some(id)) = (ack, id) {
            state.acks.insert(id, ack, outgoing.timeout, Instant::now());
            if !sendable {
                state.buffered_acks.push(id);
            }
        }
        match (&mut self.engine, sendable) {
            (Some(engine), true) => engine.send(frames),
            _ => state.send_buffer.push(frames),
        }
    }

    async fn disconnect(&mut self, namespace: &str) {
        let Some(state) = self.sockets.get_mut(namespace) else {
            return;
        };
        let was_connected = state.connected;
        state.active = false;
        state.connected = false;
        state.connect_sent = false;
        state.pid = None;
        state.offset = None;
        state.send_buffer.clear();
        fail_queued(&mut state.retry);
        if let (true, Some(engine)) = (was_connected, &mut self.engine) {
            engine.send(self.parser.frames(&Packet::disconnect(namespace)));
        }
        self.fail_acks(namespace);
        self.update_shared(namespace);
        if was_connected {
            self.inner.emit_lifecycle(Lifecycle::Disconnect {
                namespace: namespace.to_owned(),
                reason: DisconnectReason::IoClientDisconnect,
            });
        }
        self.close_if_unused().await;
    }

    /// As the JavaScript manager does: the connection closes once no socket uses it.
    async fn close_if_unused(&mut self) {
        if self.any_active() {
            return;
        }
        self.next_attempt = None;
        self.reconnecting = false;
        self.backoff.reset();
        if let Some(engine) = self.engine.take() {
            close(engine).await;
        }
    }

    /// Fails the acknowledgement waits of emits already sent (socket.io-client 4.x: "socket
    /// has been disconnected"); those still buffered wait for the next connection.
    fn fail_acks(&mut self, namespace: &str) {
        let Some(state) = self.sockets.get_mut(namespace) else {
            return;
        };
        let buffered = std::mem::take(&mut state.buffered_acks);
        let acks: Vec<_> = state.acks.drain().collect();
        for (id, sender) in acks {
            if buffered.contains(&id) && state.active {
                state.acks.restore(id, sender);
            } else {
                let _ = sender.send(Err(Error::Disconnected));
            }
        }
        if state.active {
            state.buffered_acks = buffered;
        }
    }

    async fn attempt(&mut self) {
        if !self.any_active() {
            self.reconnecting = false;
            return;
        }
        if self.reconnecting {
            self.inner
                .emit_lifecycle(Lifecycle::ReconnectAttempt(self.backoff.attempts));
        }
        let config = Arc::clone(&self.inner.config);
        let limit = config.connect_timeout;
        // Boxed: connecting (TCP, TLS, HTTP or WebSocket handshakes) needs far more state than
        // running, and an inline future would keep that much in every client's task for good.
        let result = match tokio::time::timeout(limit, Box::pin(Engine::open(config))).await {
            Ok(result) => result,
            Err(_) => Err("timeout".to_owned()),
        };
        match result {
            Ok(engine) => {
                self.engine = Some(engine);
                self.decoder.reset();
                if self.reconnecting {
                    let attempt = self.backoff.attempts;
                    self.reconnecting = false;
                    self.backoff.reset();
                    self.inner.emit_lifecycle(Lifecycle::Reconnect(attempt));
                }
                let names: Vec<String> = self
                    .sockets
                    .iter()
                    .filter(|(_, s)| s.active)
                    .map(|(n, _)| n.clone())
                    .collect();
                for namespace in names {
                    self.send_connect(&namespace).await;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "connection failed");
                for (namespace, state) in &self.sockets {
                    if state.active {
                        self.inner.emit_lifecycle(Lifecycle::ConnectError {
                            namespace: namespace.clone(),
                            message: error.clone(),
                            data: None,
                        });
                    }
                }
                if self.reconnecting {
                    self.inner.emit_lifecycle(Lifecycle::ReconnectError(error));
                }
                self.schedule_reconnect();
            }
        }
    }

    fn schedule_reconnect(&mut self) {
        if !self.inner.config.reconnection || !self.any_active() {
            self.reconnecting = false;
            return;
        }
        if let Some(max) = self.inner.config.reconnection_attempts {
            if self.backoff.attempts >= max {
                self.backoff.reset();
                self.reconnecting = false;
                self.inner.emit_lifecycle(Lifecycle::ReconnectFailed);
                return;
            }
        }
        let delay = self.backoff.duration();
        self.reconnecting = true;
        self.next_attempt = Some(Instant::now() + delay);
    }

    async fn send_connect(&mut self, namespace: &str) {
        let Some(state) = self.sockets.get(namespace) else {
            return;
        };
        if state.connect_sent || state.connected {
            return;
        }
        let mut auth = self.inner.config.auth.resolve().await;
        let Some(state) = self.sockets.get_mut(namespace) else {
            return;
        };
        if let Some(pid) = &state.pid {
            // Recovery: the server looks the session up by pid and replays what came after
            // offset; the caller's own auth keys win, as in socket.io-client.
            let mut object = Map::new();
            object.insert("pid".to_owned(), Value::String(pid.clone()));
            if let Some(offset) = &state.offset {
                object.insert("offset".to_owned(), Value::String(offset.clone()));
            }
            if let Some(Value::Object(own)) = auth.take() {
                object.extend(own);
            }
            auth = Some(Value::Object(object));
        }
        state.connect_sent = true;
        if let Some(engine) = &mut self.engine {
            engine.send(self.parser.frames(&Packet::connect(namespace, auth)));
        }
    }

    fn closed(&mut self, reason: CloseReason) {
        self.engine = None;
        self.decoder.reset();
        let reason = match reason {
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError(_) => DisconnectReason::TransportError,
        };
        self.lost(reason);
    }

    /// The connection is gone: every socket is disconnected, and may reconnect.
    fn lost(&mut self, reason: DisconnectReason) {
        let names: Vec<String> = self.sockets.keys().cloned().collect();
        for namespace in names {
            let Some(state) = self.sockets.get_mut(&namespace) else {
                continue;
            };
            let was_connected = state.connected;
            state.connected = false;
            state.connect_sent = false;
            if was_connected {
                if let Some(((_, Some(ack)), why)) = state.retry.disconnected() {
                    let _ = ack.send(Err(why.into()));
                }
                self.fail_acks(&namespace);
                self.update_shared(&namespace);
                self.inner.emit_lifecycle(Lifecycle::Disconnect {
                    namespace: namespace.clone(),
                    reason,
                });
            }
        }
        self.backoff.reset();
        self.schedule_reconnect();
    }

    async fn message(&mut self, message: EioPacket) {
        let decoded = match message {
            EioPacket::Message(text) => self.decoder.feed_str(text),
            EioPacket::Binary(data) => self.decoder.feed_binary(data),
            _ => return,
        };
        match decoded {
            Ok(Some(packet)) => self.packet(packet).await,
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "undecodable packet; closing");
                if let Some(engine) = self.engine.take() {
                    close(engine).await;
                }
                self.decoder.reset();
                self.lost(DisconnectReason::ParseError);
            }
        }
    }

    async fn packet(&mut self, mut packet: Packet) {
        // Taken: the namespace travels as `namespace` from here on.
        let namespace = std::mem::take(&mut packet.nsp);
        let Some(state) = self.sockets.get_mut(&namespace) else {
            return;
        };
        match packet.kind {
            PacketType::Connect => {
                let data = packet.data.as_ref().map(|d| d.to_value());
                let field = |name: &str| {
                    data.as_ref()
                        .and_then(|d| d.get(name))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                let (sid, pid) = (field("sid"), field("pid"));
                let recovered = pid.is_some() && state.pid == pid;
                state.pid = pid;
                state.connected = true;
                state.connect_sent = false;
                {
                    let mut shared = self.inner.shared();
                    let ns = shared.namespaces.entry(namespace.clone()).or_default();
                    ns.id = sid;
                    ns.connected = true;
                    ns.recovered = recovered;
                }
                // socket.io-client's order: events that came early, then buffered emits,
                // then the connect event.
                let received = std::mem::take(&mut state.receive_buffer);
                let buffered = std::mem::take(&mut state.send_buffer);
                state.buffered_acks.clear();
                for packet in received {
                    self.dispatch(&namespace, packet);
                }
                if let Some(engine) = &mut self.engine {
                    for frames in buffered {
                        engine.send(frames);
                    }
                }
                self.retry_transmit(&namespace);
                self.inner.emit_lifecycle(Lifecycle::Connect {
                    namespace,
                    recovered,
                });
            }
            PacketType::Disconnect => {
                state.active = false;
                state.connected = false;
                state.connect_sent = false;
                state.pid = None;
                state.send_buffer.clear();
                fail_queued(&mut state.retry);
                self.fail_acks(&namespace);
                self.update_shared(&namespace);
                self.inner.emit_lifecycle(Lifecycle::Disconnect {
                    namespace,
                    reason: DisconnectReason::IoServerDisconnect,
                });
                self.close_if_unused().await;
            }
            PacketType::ConnectError => {
                state.active = false;
                state.connect_sent = false;
                let data = packet.data.as_ref().map(|d| d.to_value());
                let (message, data) = match data {
                    Some(Value::Object(mut object)) => (
                        object
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        object.remove("data"),
                    ),
                    Some(Value::String(message)) => (message, None),
                    _ => (String::new(), None),
                };
                self.inner.emit_lifecycle(Lifecycle::ConnectError {
                    namespace,
                    message,
                    data,
                });
                self.close_if_unused().await;
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if state.connected {
                    self.dispatch(&namespace, packet);
                } else {
                    state.receive_buffer.push(packet);
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if let Some((_, waiter)) = packet.id.and_then(|id| state.retry.acknowledged(id)) {
                    if let (Some(waiter), Some(args)) = (waiter, packet.args()) {
                        let _ = waiter.send(Ok((args, packet.attachments)));
                    }
                    self.retry_transmit(&namespace);
                    return;
                }
                let waiter = packet.id.and_then(|id| state.acks.take(id));
                if let (Some(waiter), Some(args)) = (waiter, packet.args()) {
                    let _ = waiter.send(Ok((args, packet.attachments)));
                }
            }
        }
    }

    /// Puts the head of `namespace`'s retry queue on the wire if it is not there yet.
    fn retry_transmit(&mut self, namespace: &str) {
        let (Some(state), Some(engine)) = (self.sockets.get_mut(namespace), &mut self.engine)
        else {
            return;
        };
        if !state.connected {
            return;
        }
        if let Some((frames, _)) = state.retry.transmit(Instant::now()) {
            engine.send(frames.clone());
        }
    }

    /// Ends the tries whose timeout passed: sent again, or given up.
    fn retry_expired(&mut self) {
        let now = Instant::now();
        let names: Vec<String> = self.sockets.keys().cloned().collect();
        for namespace in names {
            let Some(state) = self.sockets.get_mut(&namespace) else {
                continue;
            };
            if let Some(((_, Some(ack)), why)) = state.retry.expire(now) {
                let _ = ack.send(Err(why.into()));
            }
            self.retry_transmit(&namespace);
        }
    }

    fn dispatch(&mut self, namespace: &str, packet: Packet) {
        let (Some(name), Some(mut args)) = (packet.event_name(), packet.args()) else {
            return;
        };
        let Some(state) = self.sockets.get_mut(namespace) else {
            return;
        };
        if state.pid.is_some() && packet.id.is_none() {
            // With connection-state recovery the server appends each event's offset as a
            // last argument; it is the client's bookmark, not the application's data.
            let mut values = args.into_values();
            if let Some(Value::String(offset)) = values.last() {
                state.offset = Some(offset.clone());
                values.pop();
            }
            args = Args::from_values(values);
        }
        let event = Event {
            namespace: namespace.to_owned(),
            name: Str::as_str(&name).to_owned(),
            args,
            attachments: packet.attachments,
        };
        let ack = Ack {
            target: packet
                .id
                .map(|id| (self.inner.commands.clone(), Arc::from(namespace), id)),
        };
        let (any, handler) = {
            let shared = self.inner.shared();
            match shared.namespaces.get(namespace) {
                Some(ns) => (ns.any.clone(), ns.handlers.get(&event.name).cloned()),
                None => (Vec::new(), None),
            }
        };
        for any in any {
            any(&event);
        }
        if let Some(handler) = handler {
            handler(event, ack);
        }
    }
}

/// A socket disconnected for good drops its retry queue, as it drops its send buffer.
fn fail_queued(queue: &mut RetryQueue<Retried>) {
    for (_, ack) in queue.drain() {
        if let Some(ack) = ack {
            let _ = ack.send(Err(Error::Disconnected));
        }
    }
}

impl From<GaveUp> for Error {
    fn from(why: GaveUp) -> Error {
        match why {
            GaveUp::Timeout(timeout) => Error::AckTimeout(timeout),
            GaveUp::Disconnected => Error::Disconnected,
        }
    }
}
