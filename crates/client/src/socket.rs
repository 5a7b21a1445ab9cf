//! [`Socket`]: one namespace of a [`Client`]; events in ([`Event`], [`Ack`]) and out.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sockeye_socketio_proto::{Args, Packet, is_reserved_event};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{AckOut, AckReply, Command, Outgoing};
use crate::{Client, Error};

pub(crate) type Handler = Arc<dyn Fn(Event, Ack) + Send + Sync>;
pub(crate) type AnyHandler = Arc<dyn Fn(&Event) + Send + Sync>;

/// A received event: its name and arguments, binary ones as attachments.
#[derive(Clone)]
pub struct Event {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) args: Args,
    pub(crate) attachments: Vec<Bytes>,
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace it arrived on.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The arguments as `T`: a lone argument as `T` itself, several as a tuple. `Bytes`
    /// fields take the binary attachments.
    ///
    /// # Errors
    /// [`Error::Deserialize`] when they do not fit.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.args
            .deserialize(&self.attachments)
            .map_err(|e| Error::Deserialize(e.to_string()))
    }

    /// The arguments as JSON, binary values as `{"_placeholder":true,"num":i}`.
    pub fn values(&self) -> Vec<Value> {
        self.args.to_values()
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("args", &self.args.to_json())
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

/// The acknowledgement the server asked for with an event, if it asked.
pub struct Ack {
    /// Weak: an acknowledgement kept after every handle of the client is dropped keeps
    /// nothing open, and goes nowhere.
    pub(crate) target: Option<(mpsc::WeakUnboundedSender<Command>, Arc<str>, u64)>,
}

impl Ack {
    /// Whether the server waits for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.target.is_some()
    }

    /// Acknowledges with `data` (a tuple for several arguments, `Bytes` for binary). Does
    /// nothing when none was asked for.
    ///
    /// # Errors
    /// [`Error::Serialize`] when `data` does not serialise.
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), Error> {
        let Some((commands, namespace, id)) = self.target else {
            return Ok(());
        };
        let mut attachments = Vec::new();
        let args = Args::from_data(data, &mut attachments)?;
        let Some(commands) = commands.upgrade() else {
            return Ok(());
        };
        let _ = commands.send(Command::Ack(Box::new(AckOut {
            namespace,
            id,
            args,
            attachments,
        })));
        Ok(())
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("id", &self.target.as_ref().map(|(_, _, id)| id))
            .finish()
    }
}

/// The socket of one namespace. Cheap to clone.
#[derive(Clone)]
pub struct Socket {
    client: Client,
    namespace: Arc<str>,
    /// The namespace's next acknowledgement id.
    ids: Arc<AtomicU64>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("namespace", &&*self.namespace)
            .field("id", &self.id())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(client: Client, namespace: String, ids: Arc<AtomicU64>) -> Socket {
        Socket {
            client,
            namespace: namespace.into(),
            ids,
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The client (the connection) this socket belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The id the server gave this socket; `None` while disconnected.
    pub fn id(&self) -> Option<String> {
        let shared = self.client.inner.shared();
        shared.namespaces.get(&*self.namespace)?.id.clone()
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        let shared = self.client.inner.shared();
        shared
            .namespaces
            .get(&*self.namespace)
            .is_some_and(|ns| ns.connected)
    }

    /// Whether the last connection restored the previous session (connection-state recovery
    /// on the server): the socket kept its id and rooms, and missed events were delivered.
    pub fn recovered(&self) -> bool {
        let shared = self.client.inner.shared();
        shared
            .namespaces
            .get(&*self.namespace)
            .is_some_and(|ns| ns.recovered)
    }

    /// Connects (opening the connection if needed); handlers set before see every event.
    /// Progress shows in [`Client::lifecycle`].
    pub fn connect(&self) {
        self.client
            .command(Command::Connect(Arc::clone(&self.namespace)));
    }

    /// Disconnects from the namespace (and closes the connection when no other socket
    /// uses it). The socket does not reconnect until [`Socket::connect`] again.
    pub fn disconnect(&self) {
        self.client
            .command(Command::Disconnect(Arc::clone(&self.namespace)));
    }

    /// Calls `handler` for each `event`, with its arguments as `T` (see [`Event::data`]) and
    /// the acknowledgement the server may wait for. Replaces an earlier handler of `event`.
    ///
    /// Handlers run one at a time, in the order events arrive, on the client's task: spawn
    /// anything long. Arguments that do not fit `T` are reported as
    /// [`crate::Lifecycle::HandlerError`] instead.
    pub fn on<T, F>(&self, event: &str, handler: F)
    where
        T: DeserializeOwned,
        F: Fn(T, Ack) + Send + Sync + 'static,
    {
        let inner = Arc::downgrade(&self.client.inner);
        let handler: Handler = Arc::new(move |event: Event, ack: Ack| match event.data::<T>() {
            Ok(data) => handler(data, ack),
            Err(error) => {
                if let Some(inner) = inner.upgrade() {
                    inner.emit_lifecycle(crate::Lifecycle::HandlerError {
                        namespace: event.namespace.clone(),
                        event: event.name.clone(),
                        error: error.to_string(),
                    });
                }
            }
        });
        self.set_handler(event, handler);
    }

    /// Like [`Socket::on`], with the whole [`Event`].
    pub fn on_event<F>(&self, event: &str, handler: F)
    where
        F: Fn(Event, Ack) + Send + Sync + 'static,
    {
        self.set_handler(event, Arc::new(handler));
    }

    fn set_handler(&self, event: &str, handler: Handler) {
        let mut shared = self.client.inner.shared();
        let ns = shared
            .namespaces
            .entry(self.namespace.to_string())
            .or_default();
        ns.handlers.insert(event.to_owned(), handler);
    }

    /// Calls `handler` for every event, before the event's own handler.
    pub fn on_any<F>(&self, handler: F)
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        let mut shared = self.client.inner.shared();
        let ns = shared
            .namespaces
            .entry(self.namespace.to_string())
            .or_default();
        ns.any.push(Arc::new(handler));
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        let mut shared = self.client.inner.shared();
        if let Some(ns) = shared.namespaces.get_mut(&*self.namespace) {
            ns.handlers.remove(event);
        }
    }

    fn emitter(&self) -> Emitter<'_> {
        Emitter {
            socket: self,
            volatile: false,
            timeout: None,
        }
    }

    /// Sends `event` with `data`: one value is one argument, a tuple several, `()` none;
    /// `Bytes` anywhere inside travel as binary attachments. While disconnected, the emit
    /// waits in a buffer and is sent, in order, once connected.
    ///
    /// # Errors
    /// [`Error::Serialize`], or [`Error::ReservedEvent`].
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), Error> {
        self.emitter().emit(event, data)
    }

    /// Sends `event` and waits for the server's acknowledgement, read as `R` (a tuple for
    /// several arguments). Waits without limit, unless the client has an
    /// [`crate::ClientBuilder::ack_timeout`]; see [`Socket::timeout`]. With
    /// [`crate::ClientBuilder::retries`] that timeout is per try, and the reply is the first
    /// acknowledgement of any try.
    ///
    /// # Errors
    /// [`Error::AckTimeout`], [`Error::Disconnected`], [`Error::Deserialize`] for a reply
    /// that does not fit `R`, and as [`Socket::emit`].
    pub async fn emit_with_ack<T, R>(&self, event: &str, data: &T) -> Result<R, Error>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.emitter().emit_with_ack(event, data).await
    }

    /// The next emit is dropped unless the socket is connected.
    pub fn volatile(&self) -> Emitter<'_> {
        Emitter {
            volatile: true,
            ..self.emitter()
        }
    }

    /// The next [`Emitter::emit_with_ack`] fails with [`Error::AckTimeout`] after `timeout`.
    /// The client's task keeps the time (one timer for all its waits), so a handler that
    /// blocks that task delays the timeout too.
    pub fn timeout(&self, timeout: Duration) -> Emitter<'_> {
        Emitter {
            timeout: Some(timeout),
            ..self.emitter()
        }
    }
}

/// An emit with flags: [`Socket::volatile`], [`Socket::timeout`].
#[derive(Debug)]
pub struct Emitter<'a> {
    socket: &'a Socket,
    volatile: bool,
    timeout: Option<Duration>,
}

impl Emitter<'_> {
    /// Drops the emit unless the socket is connected.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Gives up waiting for the acknowledgement after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The emit, encoded here rather than on the client's task: the caller's task pays for
    /// its own emits, and the client's task only writes them.
    fn outgoing<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
        ack: Option<oneshot::Sender<AckReply>>,
    ) -> Result<Outgoing, Error> {
        if is_reserved_event(event) {
            return Err(Error::ReservedEvent(event.to_owned()));
        }
        let inner = &self.socket.client.inner;
        // An emit in the retry queue needs an id for its acknowledgement even when the caller
        // waits for none, as in socket.io-client.
        let id = (ack.is_some() || (inner.config.retries > 0 && !self.volatile))
            .then(|| self.socket.ids.fetch_add(1, Ordering::Relaxed));
        let mut text = Vec::with_capacity(event.len() + 64);
        text.push(b'4');
        let mut attachments = Vec::new();
        Packet::encode_event_data_into(
            &mut text,
            &self.socket.namespace,
            id,
            event,
            data,
            &mut attachments,
        )?;
        let frames = inner
            .config
            .parser
            .frames_from_text(text, attachments)
            .map_err(|e| Error::Serialize(e.to_string()))?;
        Ok(Outgoing {
            frames,
            id,
            volatile: self.volatile,
            ack,
            timeout: self.timeout.or(self.socket.client.inner.config.ack_timeout),
        })
    }

    /// As [`Socket::emit`].
    ///
    /// # Errors
    /// As [`Socket::emit`].
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, data: &T) -> Result<(), Error> {
        let outgoing = self.outgoing(event, data, None)?;
        self.socket.client.command(Command::Emit(
            Arc::clone(&self.socket.namespace),
            Box::new(outgoing),
        ));
        Ok(())
    }

    /// As [`Socket::emit_with_ack`].
    ///
    /// # Errors
    /// As [`Socket::emit_with_ack`].
    pub async fn emit_with_ack<T, R>(self, event: &str, data: &T) -> Result<R, Error>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let (sender, receiver) = oneshot::channel();
        let outgoing = self.outgoing(event, data, Some(sender))?;
        // The timeout is the driver's (per try for a queued emit): it answers
        // `Error::AckTimeout` when the wait, or the last try, runs out.
        self.socket.client.command(Command::Emit(
            Arc::clone(&self.socket.namespace),
            Box::new(outgoing),
        ));
        let (args, attachments) = receiver.await.map_err(|_| Error::Closed)??;
        args.deserialize(&attachments)
            .map_err(|e| Error::Deserialize(e.to_string()))
    }
}
