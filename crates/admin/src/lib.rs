//! The Socket.IO Admin UI protocol (`@socket.io/admin-ui` 0.5) for a sockeye server.
//!
//! [`Admin::builder`] adds the `/admin` namespace that the UI connects to: basic
//! authentication against a bcrypt hash (or none), a `session` id after a login, `config` with
//! the supported features, `server_stats` every 2 s (with `aggregatedEvents`), and the UI's
//! `emit`, `join`, `leave` and `_disconnect` commands (refused in read-only mode). In
//! [`Mode::Development`] the UI also gets `all_sockets` and the live events of every namespace
//! (`socket_connected`, `room_joined`, `event_received`...), through a [`sockeye::Observer`].
//! On a cluster (attached on every node) the UI sees every node's stats, live events and
//! sockets, and its commands reach every node's sockets, through the adapter. See
//! docs/admin-ui.md.
//!
//! ```no_run
//! # let io = sockeye::Io::builder().build();
//! let hash = bcrypt::hash("changeit", 10).unwrap();
//! let _admin = sockeye_admin::Admin::builder()
//!     .auth("admin", hash)
//!     .attach(&io)
//!     .unwrap();
//! ```

mod aggregate;
mod live;
mod sockets;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sockeye::{Event, Io, Namespace, Socket, SocketId, TransportKind};
use tokio::task::JoinHandle;

/// How often `server_stats` goes to the UI, as in Node.
pub const STATS_INTERVAL: Duration = Duration::from_secs(2);

/// The errors of [`AdminBuilder::attach`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The password given to [`AdminBuilder::auth`] is not a bcrypt hash.
    #[error("the password must be a valid bcrypt hash")]
    InvalidHash,
}

/// Builds the admin namespace; see [`Admin::builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdminBuilder {
    namespace: String,
    auth: Option<(String, String)>,
    readonly: bool,
    server_id: Option<String>,
    mode: Mode,
}

/// What the UI is sent, as Node's `mode` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Only `server_stats` (the default here; Node's default follows `NODE_ENV`).
    #[default]
    Production,
    /// Also `all_sockets` when the UI connects, and the live events of every namespace
    /// (`socket_connected`, `room_joined`, `event_received`...), which cost a JSON message to
    /// the UI per event of the server.
    /// Each socket's JSON data gets `_admin: {clientId, transport}`, which the other nodes of a
    /// cluster read in `all_sockets`, as Node's admin server does.
    Development,
}

/// The admin namespace attached to an [`Io`]. Dropping it stops `server_stats`.
#[derive(Debug)]
pub struct Admin {
    stats: JoinHandle<()>,
    /// The observer's switch: it stays with the server, silent once this is cleared.
    active: Arc<AtomicBool>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.stats.abort();
        self.active.store(false, Ordering::Relaxed);
    }
}

impl Admin {
    /// A builder: namespace `/admin`, no authentication, commands allowed.
    pub fn builder() -> AdminBuilder {
        AdminBuilder {
            namespace: "/admin".to_owned(),
            auth: None,
            readonly: false,
            server_id: None,
            mode: Mode::Production,
        }
    }
}

impl AdminBuilder {
    /// The namespace the UI connects to (default `/admin`).
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = name.into();
        self
    }

    /// Basic authentication: the UI's `username` must be `username` and its `password` must
    /// match `bcrypt_hash` (`$2a$`/`$2b$`/`$2y$`, as Node's bcryptjs makes).
    pub fn auth(mut self, username: impl Into<String>, bcrypt_hash: impl Into<String>) -> Self {
        self.auth = Some((username.into(), bcrypt_hash.into()));
        self
    }

    /// Read-only: the UI's commands are not offered and are ignored if sent.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// [`Mode::Development`] also sends `all_sockets` and the live events.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The id the UI shows for this server, which tells the nodes of a cluster apart. Default:
    /// the host name, and `hostname#pid` when the admin namespace is on a cluster adapter (as
    /// Node's admin server does in a cluster worker), so that the nodes of one host differ.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// Adds the namespace to `io` and starts `server_stats`. Needs a tokio runtime.
    ///
    /// # Errors
    /// [`AdminError::InvalidHash`] when the password is not a bcrypt hash.
    pub fn attach(self, io: &Io) -> Result<Admin, AdminError> {
        if let Some((_, hash)) = &self.auth {
            hash.parse::<bcrypt::HashParts>()
                .map_err(|_| AdminError::InvalidHash)?;
        }
        let hostname = gethostname::gethostname().to_string_lossy().into_owned();
        let admin = io.of(&self.namespace);
        let cluster = admin.adapter().is_cluster();
        let server_id = self
            .server_id
            .unwrap_or_else(|| default_server_id(&hostname, cluster));
        let shared = Arc::new(Shared {
            auth: self.auth,
            sessions: Mutex::new(HashSet::new()),
            new_sessions: Mutex::new(HashMap::new()),
            features: features(self.readonly, self.mode),
            server_id,
            hostname,
            started: Instant::now(),
            aggregate: Arc::default(),
        });
        let active = Arc::new(AtomicBool::new(true));
        let live = Arc::new(live::Live {
            admin: admin.clone(),
            development: self.mode == Mode::Development,
            aggregate: shared.aggregate.clone(),
            active: active.clone(),
            polling: Mutex::default(),
            uis: Default::default(),
            cluster,
        });
        io.observe(live.clone());
        if shared.auth.is_some() {
            let shared = shared.clone();
            admin.use_middleware(move |socket| {
                let shared = shared.clone();
                async move { shared.authenticate(socket).await }
            });
        }
        let readonly = self.readonly;
        let on_connect = shared.clone();
        admin.on_connection(move |socket: Socket| {
            let shared = on_connect.clone();
            async move { shared.connected(&socket, readonly).await }
        });
        let stats = tokio::spawn(stats_loop(io.clone(), admin, shared, live));
        Ok(Admin { stats, active })
    }
}

/// The server id when none is given: the host name alone cannot tell apart the nodes of a
/// cluster that run on one host, whose `server_stats` the UI would merge, so a node on a
/// cluster adapter adds its process id, as Node's admin server does in a cluster worker.
fn default_server_id(hostname: &str, cluster: bool) -> String {
    if cluster {
        format!("{hostname}#{}", std::process::id())
    } else {
        hostname.to_owned()
    }
}

/// What the namespace's handlers share.
#[derive(Debug)]
struct Shared {
    auth: Option<(String, String)>,
    /// Session ids handed out after a login; a reconnecting UI sends one instead of the
    /// password. Held briefly, never across `.await`.
    sessions: Mutex<HashSet<String>>,
    /// The session id made for a socket in the middleware, sent once it has connected (a
    /// socket cannot be sent to before). Held briefly, never across `.await`.
    new_sessions: Mutex<HashMap<SocketId, String>>,
    features: Vec<&'static str>,
    server_id: String,
    hostname: String,
    started: Instant,
    aggregate: Arc<aggregate::Aggregate>,
}

fn features(readonly: bool, mode: Mode) -> Vec<&'static str> {
    let mut features = if readonly {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    if mode == Mode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

impl Shared {
    async fn authenticate(&self, socket: Socket) -> Result<(), sockeye::ConnectError> {
        let refused = || sockeye::ConnectError::new("invalid credentials");
        let auth = socket.auth_value();
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str) {
            if lock(&self.sessions).contains(id) {
                return Ok(());
            }
        }
        let Some((username, hash)) = &self.auth else {
            return Ok(());
        };
        let given_user = auth.get("username").and_then(Value::as_str);
        let Some(password) = auth.get("password").and_then(Value::as_str) else {
            return Err(refused());
        };
        if given_user != Some(username.as_str()) {
            return Err(refused());
        }
        // bcrypt is slow on purpose: off the runtime's threads.
        let (password, hash) = (password.to_owned(), hash.clone());
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if !matches {
            return Err(refused());
        }
        let id = format!("{:016x}", rand::random::<u64>());
        lock(&self.sessions).insert(id.clone());
        lock(&self.new_sessions).insert(socket.id(), id);
        Ok(())
    }

    async fn connected(&self, socket: &Socket, readonly: bool) {
        if let Some(id) = lock(&self.new_sessions).remove(&socket.id()) {
            let _ = socket.emit("session", &id);
        }
        if !readonly {
            register_commands(socket);
        }
        let _ = socket.emit("config", &json!({ "supportedFeatures": self.features }));
        if self.features.contains(&"ALL_EVENTS") {
            // Every node's sockets: the UI's lists are of the whole cluster.
            let all = sockets::all(&socket.io()).await;
            let _ = socket.emit("all_sockets", &all);
        }
    }

    fn stats(&self, io: &Io) -> Value {
        let engine = io.engine();
        let polling = engine
            .sockets()
            .iter()
            .filter(|s| s.transport() == TransportKind::Polling)
            .count();
        let namespaces: Vec<Value> = io
            .namespaces()
            .iter()
            .map(|name| json!({ "name": name, "socketsCount": io.of(name).sockets().len() }))
            .collect();
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": engine.session_count(),
            "pollingClientsCount": polling,
            "aggregatedEvents": self.aggregate.take(),
            "namespaces": namespaces,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

async fn stats_loop(io: Io, admin: Namespace, shared: Arc<Shared>, live: Arc<live::Live>) {
    let mut interval = tokio::time::interval(STATS_INTERVAL);
    loop {
        interval.tick().await;
        if live.development {
            live.upgrades();
        }
        let _ = admin.emit("server_stats", &shared.stats(&io));
    }
}

/// The namespace a command names in its first argument, if it exists: the UI never creates one.
fn command_namespace(socket: &Socket, args: &[Value]) -> Option<Namespace> {
    let name = args.first().and_then(Value::as_str)?;
    let io = socket.io();
    io.namespaces()
        .iter()
        .any(|n| n == name)
        .then(|| io.of(name))
}

/// A room filter from the UI: a string, or nothing (`null` / absent) for every socket.
fn filter(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

fn register_commands(socket: &Socket) {
    // emit(nsp, filter, event, ...args)
    socket.on("emit", |socket: Socket, event: Event| async move {
        let args = event.args.to_values();
        let (Some(ns), Some(name)) = (
            command_namespace(&socket, &args),
            args.get(2).and_then(Value::as_str),
        ) else {
            return;
        };
        let op = match filter(args.get(1)) {
            Some(room) => ns.to(room),
            None => ns.except(Vec::<String>::new()),
        };
        let rest = &args[3..];
        let sent = match rest {
            [] => op.emit(name, &()),
            [a] => op.emit(name, a),
            [a, b] => op.emit(name, &(a, b)),
            [a, b, c] => op.emit(name, &(a, b, c)),
            [a, b, c, d, ..] => op.emit(name, &(a, b, c, d)),
        };
        if let Err(error) = sent {
            tracing::debug!(%error, "admin emit refused");
        }
    });
    // join(nsp, room, filter) / leave(nsp, room, filter)
    for (command, join) in [("join", true), ("leave", false)] {
        socket.on(command, move |socket: Socket, event: Event| async move {
            let args = event.args.to_values();
            let (Some(ns), Some(room)) = (
                command_namespace(&socket, &args),
                args.get(1).and_then(Value::as_str),
            ) else {
                return;
            };
            match (filter(args.get(2)), join) {
                (Some(f), true) => ns.to(f).join(room),
                (Some(f), false) => ns.to(f).leave(room),
                (None, true) => ns.sockets_join(room),
                (None, false) => ns.sockets_leave(room),
            }
        });
    }
    // _disconnect(nsp, close, filter)
    socket.on("_disconnect", |socket: Socket, event: Event| async move {
        let args = event.args.to_values();
        let Some(ns) = command_namespace(&socket, &args) else {
            return;
        };
        let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
        match filter(args.get(2)) {
            Some(f) => ns.to(f).disconnect(close),
            None => ns.disconnect_sockets(close),
        }
    });
}
