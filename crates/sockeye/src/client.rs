//! One Engine.IO connection seen from Socket.IO: it decodes packets, routes them to the
//! namespace sockets multiplexed on it, and closes them together.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use sockeye_engineio::{CloseReason, EngineHandler, Message};
use sockeye_socketio_proto::{Decoder, Packet, PacketType, Parser};
use tokio::task::AbortHandle;

use crate::io::IoInner;
use crate::legacy::Protocol;
use crate::{DisconnectReason, Io, Socket};

/// The Socket.IO state of one Engine.IO session. One stays for every idle connection, so it
/// keeps only what every connection uses.
pub(crate) struct Connection {
    pub(crate) engine: sockeye_engineio::Socket,
    /// The server's parser, which writes and reads every packet of this connection.
    pub(crate) parser: Parser,
    /// The Socket.IO protocol of the client (v4 for 2.x clients).
    pub(crate) protocol: Protocol,
    /// A `BINARY_*` packet waiting for its attachments; text packets decode without it. Only
    /// the session's task feeds it, so the lock is never contended.
    reconstructing: Mutex<Option<Box<Decoder>>>,
    /// The sockets of this connection, one per namespace. A list, searched by namespace name:
    /// most connections join one namespace, a few several, and comparing a few names costs
    /// less than hashing the one sought.
    sockets: Mutex<Vec<Socket>>,
    /// The connect timeout's task, ended when the first socket connects (so an idle
    /// connection keeps no task and timer for it).
    connect_timeout: Mutex<Option<AbortHandle>>,
}

impl Connection {
    /// The frames of `packet`, as this connection's client reads them.
    pub(crate) fn frames(&self, packet: &Packet) -> Vec<sockeye_engineio::Frame> {
        self.protocol.frames(self.parser, packet)
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<Socket>> {
        // Inserts and removes cannot leave the list half-changed: poisoning is harmless.
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a socket; `false` when the connection has one in its namespace already (a
    /// second CONNECT sent while middlewares ran).
    pub(crate) fn insert(&self, socket: Socket) -> bool {
        let mut sockets = self.sockets();
        if sockets.iter().any(|s| s.ns().name() == socket.ns().name()) {
            return false;
        }
        // Most connections never have a second socket: no room is kept for one.
        sockets.reserve_exact(1);
        sockets.push(socket);
        drop(sockets);
        let timeout = self
            .connect_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(timeout) = timeout {
            timeout.abort();
        }
        true
    }

    pub(crate) fn remove(&self, socket: &Socket) {
        let mut sockets = self.sockets();
        if let Some(index) = sockets.iter().position(|s| Arc::ptr_eq(&s.0, &socket.0)) {
            sockets.swap_remove(index);
        }
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.sockets()
            .iter()
            .find(|socket| socket.ns().name() == nsp)
            .cloned()
    }

    fn take_sockets(&self) -> Vec<Socket> {
        std::mem::take(&mut *self.sockets())
    }

    /// Disconnects every socket for `reason` and closes the connection.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        for socket in self.take_sockets() {
            socket.close(reason);
        }
        self.engine.close();
    }

    /// `socket.disconnect(true)`: each namespace is told, then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        for socket in self.take_sockets() {
            let _ = socket.send_packet(&Packet::disconnect(socket.ns().name()), false);
            socket.close(DisconnectReason::ForcedServerClose);
        }
        self.engine.close();
    }

    fn on_message(self: &Arc<Self>, io: &Io, message: Message) {
        let decoded = {
            let mut reconstructing = self
                .reconstructing
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // A decoder waiting for nothing holds no state: a fresh one stands in for it, and
            // is kept only while a packet waits for its attachments.
            let mut fresh = self.parser.decoder(io.config().max_attachments);
            let decoder = reconstructing.as_deref_mut().unwrap_or(&mut fresh);
            let decoded = match message {
                Message::Text(text) => decoder.feed_str(text),
                Message::Binary(data) => decoder.feed_binary(data),
            };
            if !decoder.is_reconstructing() {
                *reconstructing = None;
            } else if reconstructing.is_none() {
                *reconstructing = Some(Box::new(fresh));
            }
            decoded
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(io, packet),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(sid = %self.engine.id(), %error, "undecodable packet: closing");
                self.close(DisconnectReason::ParseError);
            }
        }
    }

    fn on_packet(self: &Arc<Self>, io: &Io, mut packet: Packet) {
        match packet.kind {
            PacketType::Connect => {
                let auth = self.protocol.connect_auth(&mut packet);
                if self.socket(&packet.nsp).is_some() {
                    tracing::debug!(nsp = %packet.nsp, "already connected");
                    return;
                }
                match io.namespace_for_connect(&packet.nsp) {
                    Some(ns) => ns.connect(self, auth),
                    None => {
                        io.0.metrics.invalid_namespace.increment(1);
                        tracing::debug!(nsp = %packet.nsp, "CONNECT to an unknown namespace");
                        let refusal = Packet::connect_error(&packet.nsp, "Invalid namespace", None);
                        let _ = self.engine.send_all(&self.frames(&refusal));
                    }
                }
            }
            kind => {
                let Some(socket) = self.socket(&packet.nsp) else {
                    // Node closes a connection that talks on a namespace it did not join.
                    tracing::debug!(nsp = %packet.nsp, ?kind, "packet for a namespace not joined");
                    self.close(DisconnectReason::ParseError);
                    return;
                };
                match kind {
                    PacketType::Disconnect => {
                        socket.close(DisconnectReason::ClientNamespaceDisconnect);
                    }
                    PacketType::Event | PacketType::BinaryEvent => socket.on_event(packet),
                    PacketType::Ack | PacketType::BinaryAck => socket.on_ack(packet),
                    _ => self.close(DisconnectReason::ParseError),
                }
            }
        }
    }
}

/// Hands Engine.IO sessions to the Socket.IO server.
pub(crate) struct IoHandler {
    pub(crate) io: Weak<IoInner>,
}

impl EngineHandler for IoHandler {
    fn on_open(&self, engine: &sockeye_engineio::Socket) {
        let Some(io) = self.io.upgrade() else {
            engine.close();
            return;
        };
        let connection = Arc::new(Connection {
            engine: engine.clone(),
            parser: io.config.parser,
            protocol: Protocol::of(engine),
            reconstructing: Mutex::default(),
            sockets: Mutex::default(),
            connect_timeout: Mutex::default(),
        });
        engine.attach(connection.clone());
        io.observers.each(|o| o.connection_opened(engine));

        // A session that joins no namespace in time is closed, as Node's connectTimeout does.
        let timeout = io.config.connect_timeout;
        let engine = engine.clone();
        let weak = Arc::downgrade(&connection);
        let task = tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {
                    if weak.upgrade().is_some_and(|c| c.sockets().is_empty()) {
                        tracing::debug!(sid = %engine.id(), "no namespace joined in time");
                        engine.close();
                    }
                }
                _ = engine.closed() => {}
            }
        });
        // CONNECT packets are handled after `on_open`, so no socket connected yet; and if one
        // had, the task would only wait for its timeout and find it.
        *connection
            .connect_timeout
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());

        // A 2.x client never asks for `/`: it is connected there as its session opens, as
        // Node does. With the timeout armed first, a middleware's refusal still ends in time.
        if connection.protocol.implicit_root() {
            Io(io).of("/").connect(&connection, None);
        }
    }

    fn on_message(&self, engine: &sockeye_engineio::Socket, message: Message) {
        let (Some(io), Some(connection)) = (self.io.upgrade(), engine.attached::<Connection>())
        else {
            return;
        };
        io.observers.each(|o| {
            let bytes = match &message {
                Message::Text(text) => text.len(),
                Message::Binary(data) => data.len(),
            };
            o.message_received(engine, bytes);
        });
        connection.on_message(&Io(io), message);
    }

    fn on_close(&self, engine: &sockeye_engineio::Socket, reason: CloseReason) {
        if let Some(connection) = engine.attached::<Connection>() {
            for socket in connection.take_sockets() {
                socket.close(reason.into());
            }
        }
        if let Some(io) = self.io.upgrade() {
            io.observers
                .each(|o| o.connection_closed(engine, reason.into()));
        }
    }
}
