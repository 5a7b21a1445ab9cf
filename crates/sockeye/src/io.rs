//! The server: its configuration, namespaces and the services that mount it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use sockeye_adapter::{Adapter, MemoryAdapter};
use sockeye_engineio::{EngineConfig, EngineService};
use sockeye_socketio_proto::Parser;

use crate::client::IoHandler;
use crate::layer::{IoLayer, IoService};
use crate::metrics::{IoMetrics, NamespaceMetrics};
use crate::namespace::NamespaceHandlers;
use crate::observer::{Observer, Observers};
use crate::operators::{AckResponses, BroadcastOperator, RemoteSocket};
use crate::recovery::RecoveryConfig;
use crate::rooms::IntoRooms;
use crate::{EmitError, Handler, HandlerError, Namespace};

/// Makes the adapter of each namespace, given its name.
pub type AdapterFactory = Arc<dyn Fn(&str) -> Box<dyn Adapter> + Send + Sync>;

type ErrorHook = Arc<dyn Fn(&HandlerError) + Send + Sync>;
type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The Socket.IO settings on top of the Engine.IO ones.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IoConfig {
    /// The Engine.IO configuration (path, heartbeat, limits, CORS...).
    pub engine: EngineConfig,
    /// How long a connection may go without joining a namespace. Default 45 s, as in Node.
    pub connect_timeout: Duration,
    /// The timeout of `emit_with_ack` calls that set none. Default 10 s.
    pub ack_timeout: Duration,
    /// The most binary attachments one packet may carry. Default 10.
    pub max_attachments: usize,
    /// The most acknowledgements a socket may wait for at once. Default 1 024.
    pub max_pending_acks: usize,
    /// Connection-state recovery; off by default, as in Node.
    pub connection_state_recovery: Option<RecoveryConfig>,
    /// Event names counted one by one (`sockeye_named_events_total`, incoming events). None by
    /// default: clients choose event names, so only the names listed here become labels.
    pub metrics_events: Vec<String>,
    /// How packets are written: npm `socket.io-parser`'s way by default, or
    /// `socket.io-msgpack-parser`'s ([`Parser::MsgPack`]); clients must use the same.
    pub parser: Parser,
}

impl Default for IoConfig {
    fn default() -> Self {
        IoConfig {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(10),
            max_attachments: sockeye_socketio_proto::DEFAULT_MAX_ATTACHMENTS,
            max_pending_acks: 1024,
            connection_state_recovery: None,
            metrics_events: Vec::new(),
            parser: Parser::Default,
        }
    }
}

/// Builds an [`Io`] server.
///
/// ```
/// use std::time::Duration;
/// use sockeye::{EngineConfig, Io};
///
/// let (service, io) = Io::builder()
///     .engine(EngineConfig::default().ping_interval(Duration::from_secs(10)))
///     .connect_timeout(Duration::from_secs(5))
///     .build_service();
/// # drop((service, io));
/// ```
pub struct IoBuilder {
    config: IoConfig,
    adapter: AdapterFactory,
    state: http::Extensions,
}

impl IoBuilder {
    /// Sets the whole Engine.IO configuration.
    #[must_use]
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.config.engine = engine;
        self
    }

    /// Sets [`IoConfig::connect_timeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sets [`IoConfig::ack_timeout`].
    #[must_use]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.config.ack_timeout = timeout;
        self
    }

    /// Sets [`IoConfig::max_attachments`].
    #[must_use]
    pub fn max_attachments(mut self, max: usize) -> Self {
        self.config.max_attachments = max;
        self
    }

    /// Lets Socket.IO 2.x clients in (Engine.IO v3 and Socket.IO protocol v4), beside the
    /// current ones, as Node's `allowEIO3`. Off by default: they are refused with HTTP 400
    /// `Unsupported protocol version`. Set it after [`IoBuilder::engine`], which replaces it.
    /// docs/old-clients.md tells what such clients get.
    ///
    /// ```
    /// let (service, io) = sockeye::Io::builder().allow_eio3(true).build_service();
    /// assert!(io.config().engine.allow_eio3);
    /// # drop(service);
    /// ```
    #[must_use]
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.config.engine.allow_eio3 = allow;
        self
    }

    /// Sets [`IoConfig::parser`]: clients must use the same one (in JavaScript,
    /// `io({ parser: require("socket.io-msgpack-parser") })`).
    ///
    /// ```
    /// use sockeye::{Io, Parser};
    ///
    /// let (service, io) = Io::builder().parser(Parser::MsgPack).build_service();
    /// assert_eq!(io.config().parser, Parser::MsgPack);
    /// # drop(service);
    /// ```
    #[must_use]
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// Sets [`IoConfig::max_pending_acks`].
    #[must_use]
    pub fn max_pending_acks(mut self, max: usize) -> Self {
        self.config.max_pending_acks = max;
        self
    }

    /// Turns on connection-state recovery: a client that comes back within
    /// [`RecoveryConfig::max_disconnection_duration`] gets its socket id, rooms and data, and
    /// the events it missed ([`crate::Socket::recovered`] tells). Every replayable event then
    /// carries an offset as its last argument, as in Node.
    ///
    /// The adapter keeps what recovery needs ([`sockeye_adapter::Adapter::session_store`]):
    /// in this process by default, so the client must come back to this server; a cluster
    /// adapter that keeps it in its broker (`sockeye_redis::RedisStreamsAdapter`) lets it come
    /// back to any node, and then only the socket's data of type `serde_json::Value` travels.
    #[must_use]
    pub fn connection_state_recovery(mut self, config: RecoveryConfig) -> Self {
        self.config.connection_state_recovery = Some(config);
        self
    }

    /// Sets [`IoConfig::metrics_events`]: the events counted by name.
    #[must_use]
    pub fn metrics_events<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.config.metrics_events = names.into_iter().map(Into::into).collect();
        self
    }

    /// Chooses the adapter (the in-memory one by default).
    #[must_use]
    pub fn adapter(
        mut self,
        factory: impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static,
    ) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// Adds application state, which handlers take with [`crate::State`].
    #[must_use]
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, state: T) -> Self {
        self.state.insert(state);
        self
    }

    /// Builds the server and its Engine.IO service.
    pub fn build(self) -> Io {
        let inner = Arc::new_cyclic(|weak| {
            let handler = Arc::new(IoHandler { io: weak.clone() });
            let engine = EngineService::with_handler(self.config.engine.clone(), handler);
            IoInner {
                config: self.config,
                adapter: self.adapter,
                state: self.state,
                engine,
                namespaces: RwLock::default(),
                dynamic: RwLock::default(),
                error_hook: OnceLock::new(),
                metrics: IoMetrics::new(),
                observers: Arc::default(),
            }
        });
        let io = Io(inner);
        io.of("/");
        io
    }

    /// Builds the server and a tower service that answers its path (404 elsewhere).
    pub fn build_service(self) -> (IoService, Io) {
        let io = self.build();
        (IoService::new(io.clone()), io)
    }

    /// Builds the server and a tower layer that answers its path and passes other requests to
    /// the service it wraps (an axum router, say).
    pub fn build_layer(self) -> (IoLayer, Io) {
        let io = self.build();
        (IoLayer::new(io.clone()), io)
    }
}

impl fmt::Debug for IoBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A Socket.IO server. Cheap to clone; all clones are the same server.
///
/// ```no_run
/// use sockeye::{Io, Socket};
///
/// # async fn run() -> std::io::Result<()> {
/// let (service, io) = Io::builder().build_service();
/// io.of("/").on_connection(|socket: Socket| async move {
///     socket.join("lobby");
///     socket.to("lobby").emit("joined", &socket.id()).ok();
/// });
/// let listener = sockeye::bind("127.0.0.1:3000".parse().unwrap()).await?;
/// sockeye::serve(listener, service, std::future::pending()).await
/// # }
/// ```
#[derive(Clone)]
pub struct Io(pub(crate) Arc<IoInner>);

pub(crate) struct IoInner {
    pub(crate) config: IoConfig,
    adapter: AdapterFactory,
    state: http::Extensions,
    pub(crate) engine: EngineService,
    /// Static namespaces and the children of dynamic ones. Locked briefly.
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(Matcher, Namespace)>>,
    error_hook: OnceLock<ErrorHook>,
    pub(crate) metrics: IoMetrics,
    /// Shared with every namespace, so that their hooks need not reach the server.
    pub(crate) observers: Arc<Observers>,
}

impl Io {
    /// A builder with the defaults.
    pub fn builder() -> IoBuilder {
        IoBuilder {
            config: IoConfig::default(),
            adapter: Arc::new(|_| Box::new(MemoryAdapter::new())),
            state: http::Extensions::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IoConfig {
        &self.0.config
    }

    /// The Engine.IO server underneath.
    pub fn engine(&self) -> &EngineService {
        &self.0.engine
    }

    /// The namespace `name`, created if it does not exist (`"chat"` and `"/chat"` are the same).
    pub fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = self
            .0
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&name)
        {
            return ns.clone();
        }
        let mut namespaces = self.0.namespaces.write().unwrap_or_else(|p| p.into_inner());
        namespaces
            .entry(name.clone())
            .or_insert_with(|| self.new_namespace(name.clone(), Arc::default(), &name))
            .clone()
    }

    /// Namespaces created on demand: a client may connect to any name `accepts` approves, like
    /// Node's `io.of(/regex/)` or `io.of(fn)`. Handlers and middlewares set on the returned
    /// namespace apply to every such child namespace.
    ///
    /// ```
    /// use sockeye::{Io, Socket};
    ///
    /// let io = Io::builder().build();
    /// io.dynamic(|name| name.starts_with("/workspace-")).on_connection(|socket: Socket| async move {
    ///     let _ = socket.emit("hello", socket.ns().name());
    /// });
    /// ```
    pub fn dynamic(&self, accepts: impl Fn(&str) -> bool + Send + Sync + 'static) -> Namespace {
        let mut dynamic = self.0.dynamic.write().unwrap_or_else(|p| p.into_inner());
        let name = format!("/_{}", dynamic.len());
        let parent = self.new_namespace(name.clone(), Arc::default(), &name);
        dynamic.push((Arc::new(accepts), parent.clone()));
        parent
    }

    /// A namespace whose metrics carry `label` (its own name, or its dynamic parent's).
    fn new_namespace(
        &self,
        name: String,
        handlers: Arc<NamespaceHandlers>,
        label: &str,
    ) -> Namespace {
        let adapter = (self.0.adapter)(&name);
        let recovery = self.0.config.connection_state_recovery.clone();
        let metrics = NamespaceMetrics::new(label, &self.0.config.metrics_events);
        let parser = self.0.config.parser;
        Namespace::new(name, &self.0, handlers, adapter, recovery, metrics, parser)
    }

    /// The namespace a CONNECT asks for: a static one, or a new child of a dynamic one.
    pub(crate) fn namespace_for_connect(&self, name: &str) -> Option<Namespace> {
        if let Some(ns) = self
            .0
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Some(ns.clone());
        }
        let parent = {
            let dynamic = self.0.dynamic.read().unwrap_or_else(|p| p.into_inner());
            dynamic
                .iter()
                .find(|(accepts, _)| accepts(name))
                .map(|(_, parent)| parent.clone())
        }?;
        let mut namespaces = self.0.namespaces.write().unwrap_or_else(|p| p.into_inner());
        let child = namespaces.entry(name.to_owned()).or_insert_with(|| {
            let handlers = parent.handlers().clone();
            self.new_namespace(name.to_owned(), handlers, parent.name())
        });
        Some(child.clone())
    }

    /// The names of the namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        self.0
            .namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The application state of type `T` given to [`IoBuilder::state`].
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.0.state.get::<T>().cloned()
    }

    /// Sets the hook that hears of handlers that could not run (arguments that did not
    /// deserialise...). Only the first call takes effect.
    pub fn on_error(&self, hook: impl Fn(&HandlerError) + Send + Sync + 'static) {
        let _ = self.0.error_hook.set(Arc::new(hook));
    }

    /// Adds an observer, which hears of the connections, sockets, rooms and events of every
    /// namespace from now on (see [`Observer`]). A server without one pays an atomic load per
    /// hook. Keep a clone of the `Arc` to reach the observer's state.
    pub fn observe(&self, observer: Arc<dyn Observer>) {
        self.0.observers.add(observer);
    }

    pub(crate) fn report(&self, error: &HandlerError) {
        if let Some(hook) = self.0.error_hook.get() {
            hook(error);
        }
    }

    /// Calls `handler` for each socket connecting to `/`.
    pub fn on_connection<H: Handler<A>, A>(&self, handler: H) {
        self.of("/").on_connection(handler);
    }

    /// A broadcast on `/` to a room or several.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Same as [`Io::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// A broadcast on `/` to every socket but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// A broadcast on `/` to this server's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// A volatile broadcast on `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").volatile()
    }

    /// A broadcast on `/` that collects acknowledgements within `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.of("/").timeout(timeout)
    }

    /// Sends an event to every socket of `/`.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.of("/").emit(event, data)
    }

    /// Sends an event to every socket of `/` and collects the acknowledgements.
    pub async fn emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<AckResponses<R>, EmitError>
    where
        T: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        self.of("/").emit_with_ack(event, data).await
    }

    /// Every socket of `/`.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.of("/").fetch_sockets().await
    }

    /// Makes every socket of `/` join rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.of("/").sockets_join(rooms);
    }

    /// Makes every socket of `/` leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.of("/").sockets_leave(rooms);
    }

    /// Disconnects every socket of `/`.
    pub fn disconnect_sockets(&self, close: bool) {
        self.of("/").disconnect_sockets(close);
    }

    /// Closes every connection (reason "server shutting down").
    pub fn close(&self) {
        self.0.engine.close_all();
    }

    /// Shuts down gracefully: refuses new connections, disconnects every socket (reason
    /// "server shutting down") once what was queued for it is written, and returns when all
    /// connections are closed or `grace` has passed, with how many were still open.
    ///
    /// ```no_run
    /// # async fn run(io: sockeye::Io, service: sockeye::IoService, listener: tokio::net::TcpListener) {
    /// use std::time::Duration;
    /// sockeye::serve(listener, service, async move {
    ///     let _ = tokio::signal::ctrl_c().await;
    ///     io.shutdown(Duration::from_secs(5)).await;
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub async fn shutdown(&self, grace: Duration) -> usize {
        self.0.engine.shutdown(grace).await
    }
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io")
            .field("config", &self.0.config)
            .field("namespaces", &self.namespaces())
            .finish_non_exhaustive()
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}
