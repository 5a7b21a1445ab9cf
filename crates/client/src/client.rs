//! [`Client`]: one Engine.IO connection shared by the sockets of its namespaces (the
//! JavaScript client's `Manager`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use crate::config::Config;
use crate::driver::{Command, Driver};
use crate::lifecycle::{LifecycleReceiver, LifecycleSender};
use crate::socket::{AnyHandler, Handler};
use crate::{ClientBuilder, Lifecycle, Socket};

/// A Socket.IO client: one connection to a server, multiplexing a [`Socket`] per namespace.
///
/// Cheap to clone; clones (and the [`Socket`]s) share the connection. When the last of them
/// is dropped, the connection closes as [`Client::close`] closes it, and the client's task
/// ends. A handler that holds a [`Socket`] or a [`Client`] keeps the client alive (it is
/// stored in the client): call [`Client::close`] to end such a client.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// The user handles' senders: the driver sees its channel close when the last is dropped.
    commands: mpsc::UnboundedSender<Command>,
}

pub(crate) struct Inner {
    pub(crate) config: Arc<Config>,
    /// Weak, for what the driver hands out (acks): only user handles keep the client open.
    pub(crate) commands: mpsc::WeakUnboundedSender<Command>,
    pub(crate) lifecycle: LifecycleSender,
    /// Whether the driver task runs: every command after the first skips the lock.
    started: AtomicBool,
    // A std mutex: every critical section is a few map operations, and none awaits.
    shared: Mutex<Shared>,
}

/// What sockets and the driver both see.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) namespaces: HashMap<String, NsShared>,
    /// The driver's command receiver, until the first connection starts it.
    pub(crate) pending_driver: Option<mpsc::UnboundedReceiver<Command>>,
}

#[derive(Default)]
pub(crate) struct NsShared {
    pub(crate) handlers: HashMap<String, Handler>,
    pub(crate) any: Vec<AnyHandler>,
    pub(crate) id: Option<String>,
    pub(crate) connected: bool,
    pub(crate) recovered: bool,
    /// The next acknowledgement id of the namespace's emits, shared with its [`Socket`]s so
    /// that an emit takes one without the lock.
    pub(crate) next_id: Arc<AtomicU64>,
}

impl Inner {
    pub(crate) fn shared(&self) -> MutexGuard<'_, Shared> {
        // A panicking handler runs outside the lock, so poisoning cannot leave it half-updated.
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn emit_lifecycle(&self, event: Lifecycle) {
        self.lifecycle.send(&event);
    }
}

impl Client {
    /// Starts building a client for `url` (`http://`, `https://`, `ws://` or `wss://`). A path
    /// in the URL names the namespace of [`Client::main_socket`]; the query is sent with
    /// every request.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    pub(crate) fn new(config: Config) -> Client {
        let (commands, receiver) = mpsc::unbounded_channel();
        let shared = Shared {
            pending_driver: Some(receiver),
            ..Shared::default()
        };
        Client {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                commands: commands.downgrade(),
                lifecycle: LifecycleSender::default(),
                started: AtomicBool::new(false),
                shared: Mutex::new(shared),
            }),
            commands,
        }
    }

    /// The socket of `namespace` (the same one on every call). It does not connect before
    /// [`Socket::connect`], so that handlers can be set first.
    pub fn socket(&self, namespace: &str) -> Socket {
        let namespace = if namespace.starts_with('/') {
            namespace.to_owned()
        } else {
            format!("/{namespace}")
        };
        let ids = Arc::clone(
            &self
                .inner
                .shared()
                .namespaces
                .entry(namespace.clone())
                .or_default()
                .next_id,
        );
        Socket::new(self.clone(), namespace, ids)
    }

    /// The socket of the namespace the URL names (`/` when it names none).
    pub fn main_socket(&self) -> Socket {
        let namespace = self.inner.config.namespace.clone();
        self.socket(&namespace)
    }

    /// Lifecycle events from now on: connections, disconnections, reconnection attempts. Each
    /// receiver gets every event; one more than 1 024 events behind loses the oldest.
    pub fn lifecycle(&self) -> LifecycleReceiver {
        self.inner.lifecycle.subscribe()
    }

    /// Disconnects every socket and closes the connection; nothing reconnects.
    pub fn close(&self) {
        let _ = self.commands.send(Command::CloseAll);
    }

    /// Sends a command, starting the driver task on first use.
    pub(crate) fn command(&self, command: Command) {
        if !self.inner.started.load(Ordering::Acquire) {
            let receiver = self.inner.shared().pending_driver.take();
            if let Some(receiver) = receiver {
                self.inner.started.store(true, Ordering::Release);
                tokio::spawn(Driver::new(Arc::clone(&self.inner), receiver).run());
            }
        }
        let _ = self.commands.send(command);
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.inner.config.host)
            .field("port", &self.inner.config.port)
            .field("path", &self.inner.config.path)
            .finish_non_exhaustive()
    }
}
