//! The Redis streams adapter: every message of every node is an entry of one Redis stream, in
//! the format of Node's `@socket.io/redis-streams-adapter` (see `streams_wire`).
//!
//! Because one stream orders every broadcast, an entry's id is an offset that every node can
//! read: a client that drops from one node can come back to another and be sent what it
//! missed, from the stream, and sessions of dropped sockets are kept in Redis, so they outlive
//! the node that kept them.
//!
//! Three background tasks own the IO: the reader (`XREAD BLOCK` on a connection of its own)
//! hands each entry to its namespace, the publisher drains a bounded queue into pipelined
//! `XADD`s and `SET`s, and heartbeats tell the other nodes this one is alive. Namespace
//! adapters only queue, so the [`Adapter`] methods never wait.
//!
//! A broadcast that recovery may replay is not delivered locally when it is emitted: it goes
//! into the stream marked `relay`, and the reader delivers it here as it does those of other
//! nodes, with its entry id as offset. Then every socket of every node
//! gets replayable packets in stream order, and a restore can tell exactly which ones a socket
//! already had: it reads the stream up to the reader's position while holding the reader back
//! (`gate`) until the socket is in its rooms again.
//!
//! Requests to the other nodes (fetch sockets, server-side emits, broadcasts with acks) are
//! messages on the stream too, and so are their answers, which carry the request id: every node
//! reads them, and only the one that waits for that id takes them (Node's
//! `ClusterAdapterWithHeartbeat`). The bookkeeping is the shared `cluster` module's; a request
//! waits for every node heard from within the heartbeat timeout.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, MultiplexedConnection};
use rmpv::Value as Mp;
use sockeye_adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, ClusterBroadcast, LocalNamespace,
    MemoryAdapter, Missed, RemoteAcks, Restored, Room, Session, SessionStore, SocketId, SocketInfo,
    reaches,
};
use tokio::sync::{mpsc, watch};

use crate::cluster::{self, Answer, Expected, Requests, Response};
use crate::streams_wire::{self as sw, message_type};
use crate::{Error, RedisStreamsConfig};

/// The uid of the messages of `@socket.io/redis-streams-emitter`, which is no node.
const EMITTER_UID: &str = "emitter";
/// Entries one XRANGE of a restore reads.
const RESTORE_PAGE: usize = 1000;
/// XRANGEs one restore makes at most, as Node bounds it, so that a stream written faster than
/// it is read cannot keep a restore going.
const RESTORE_MAX_PAGES: usize = 100;
/// How long the reader's `XREAD` blocks; short, so that a stop is seen soon.
const READ_BLOCK_MS: u64 = 1000;

/// A Redis adapter for a Sockeye server on one Redis stream, compatible with Node's
/// `@socket.io/redis-streams-adapter` 0.2, with connection-state recovery across nodes.
///
/// Connect once, then give [`RedisStreamsAdapter::factory`] to the server. Cheap to clone; the
/// background tasks stop when the last clone and the last namespace using it are dropped.
///
/// ```no_run
/// # async fn run() -> Result<(), sockeye_redis::Error> {
/// use sockeye::{Io, RecoveryConfig};
/// use sockeye_redis::RedisStreamsAdapter;
///
/// let redis = RedisStreamsAdapter::connect("redis://127.0.0.1:6379").await?;
/// let io = Io::builder()
///     .adapter(redis.factory())
///     // A client that drops may come back to any node of the cluster.
///     .connection_state_recovery(RecoveryConfig::default())
///     .build();
/// io.emit("news", "hello").ok();
/// # Ok(()) }
/// ```
///
/// Socket data that travels with a recovered session is the [`serde_json::Value`] a socket
/// holds (`socket.insert_data(json)`): other types of data stay on the node that had them.
/// Every cross-node operation of Node's streams adapter is served, with Node nodes in the
/// cluster too: broadcasts (with acks), `fetch_sockets`, remote join / leave / disconnect,
/// `server_side_emit` (with acks), and all rooms (asked as a fetch of every socket, since
/// Node's protocol has no message for it).
#[derive(Clone)]
pub struct RedisStreamsAdapter {
    handle: Arc<Handle>,
}

/// Dropping it stops the background tasks.
struct Handle {
    state: Arc<State>,
    _stop: watch::Sender<()>,
}

/// A namespace served by this adapter.
struct Registered {
    local: Weak<dyn LocalNamespace>,
    rooms: Weak<MemoryAdapter>,
    /// Whether the namespace has recovery on (then replayable packets get their offset).
    recovery: Arc<AtomicBool>,
}

enum Command {
    Add(Vec<(&'static str, String)>),
    Session {
        key: String,
        value: String,
        ttl_ms: u64,
    },
}

struct State {
    /// This node, in every message it writes.
    uid: String,
    config: RedisStreamsConfig,
    /// Locked only to add or look up one, never across an `.await`.
    namespaces: Mutex<HashMap<String, Registered>>,
    /// When each other node (namespace, uid) was last heard of. Locked briefly, never across an
    /// `.await`.
    nodes: Mutex<HashMap<(String, String), Instant>>,
    queue: mpsc::Sender<Command>,
    /// This node's requests that wait for answers.
    requests: Requests,
    /// Whether the reader is connected; while it is not, cluster operations fail at once.
    connected: AtomicBool,
    commands: ConnectionManager,
    /// Held by the reader while it delivers entries, and by a restore until its socket is back
    /// in its rooms. A tokio mutex: a restore holds it across the reads of the stream.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// The id of the last entry the reader handled.
    position: watch::Sender<(u64, u64)>,
}

impl RedisStreamsAdapter {
    /// Connects to Redis at `url` with the default [`RedisStreamsConfig`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], or [`Error::Redis`] when Redis cannot be reached now.
    pub async fn connect(url: &str) -> Result<RedisStreamsAdapter, Error> {
        RedisStreamsAdapter::connect_with(url, RedisStreamsConfig::default()).await
    }

    /// Connects to Redis at `url` with `config`.
    ///
    /// # Errors
    /// As [`RedisStreamsAdapter::connect`].
    pub async fn connect_with(
        url: &str,
        config: RedisStreamsConfig,
    ) -> Result<RedisStreamsAdapter, Error> {
        let client = redis::Client::open(url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(2)
            .set_max_delay(
                config
                    .reconnect_max_delay
                    .as_millis()
                    .try_into()
                    .unwrap_or(u64::MAX),
            );
        let mut commands = client
            .get_connection_manager_with_config(manager_config)
            .await
            .map_err(|e| Error::redis(&e))?;
        let reader_conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| Error::redis(&e))?;
        // Reading starts at the end of the stream as it is now.
        let last: redis::Value = redis::cmd("XREVRANGE")
            .arg(&config.stream_name)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut commands)
            .await
            .map_err(|e| Error::redis(&e))?;
        let start = entries(&last)
            .first()
            .and_then(|(id, _)| sw::parse_id(id))
            .unwrap_or((0, 0));

        let (queue, queue_rx) = mpsc::channel(config.publish_queue.max(1));
        let (stop, stop_rx) = watch::channel(());
        let (position, _) = watch::channel(start);
        let state = Arc::new(State {
            uid: crate::adapter::new_uid(),
            config,
            namespaces: Mutex::default(),
            nodes: Mutex::default(),
            queue,
            requests: Requests::default(),
            connected: AtomicBool::new(true),
            commands,
            gate: Arc::default(),
            position,
        });
        tokio::spawn(reader(
            state.clone(),
            client,
            Some(reader_conn),
            start,
            stop_rx.clone(),
        ));
        tokio::spawn(publisher(state.clone(), queue_rx, stop_rx));
        Ok(RedisStreamsAdapter {
            handle: Arc::new(Handle { state, _stop: stop }),
        })
    }

    /// Makes the adapter of each namespace; give it to [`sockeye::IoBuilder::adapter`].
    ///
    /// [`sockeye::IoBuilder::adapter`]: https://docs.rs/sockeye
    pub fn factory(&self) -> impl Fn(&str) -> Box<dyn Adapter> + Send + Sync + 'static {
        let redis = self.clone();
        move |nsp: &str| -> Box<dyn Adapter> {
            Box::new(NamespaceAdapter {
                nsp: nsp.to_owned(),
                local: Arc::new(MemoryAdapter::new()),
                recovery: Arc::default(),
                redis: redis.clone(),
            })
        }
    }

    /// This node's id in the cluster (6 characters, as Node's).
    pub fn uid(&self) -> &str {
        &self.handle.state.uid
    }

    /// Whether Redis is reachable now (the reader is connected).
    pub fn is_connected(&self) -> bool {
        self.handle.state.connected.load(Ordering::Acquire)
    }

    /// How many nodes serve namespace `nsp`, this one included: those heard from within
    /// [`RedisStreamsConfig::heartbeat_timeout`].
    pub fn server_count(&self, nsp: &str) -> usize {
        self.handle.state.server_count(nsp)
    }
}

impl State {
    fn namespaces(&self) -> MutexGuard<'_, HashMap<String, Registered>> {
        // Inserts cannot leave the map half-changed: poisoning is harmless.
        self.namespaces.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn nodes(&self) -> MutexGuard<'_, HashMap<(String, String), Instant>> {
        // Inserts and removes cannot leave the map half-changed: poisoning is harmless.
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn server_count(&self, nsp: &str) -> usize {
        1 + self.other_nodes(nsp).len()
    }

    /// The uids of the other nodes of namespace `nsp` heard from within the heartbeat timeout.
    fn other_nodes(&self, nsp: &str) -> HashSet<String> {
        let timeout = self.config.heartbeat_timeout;
        let now = Instant::now();
        let mut nodes = self.nodes();
        nodes.retain(|_, seen| now.saturating_duration_since(*seen) <= timeout);
        nodes
            .keys()
            .filter(|(n, _)| n == nsp)
            .map(|(_, uid)| uid.clone())
            .collect()
    }

    fn check_connected(&self) -> Result<(), Error> {
        if self.connected.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::Unreachable)
        }
    }

    fn push(&self, command: Command) -> Result<(), Error> {
        self.check_connected()?;
        self.queue.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Error::Redis("the publish queue is full".into()),
            mpsc::error::TrySendError::Closed(_) => Error::Unreachable,
        })
    }

    /// Queues a message of this node for the stream.
    fn send(&self, nsp: &str, kind: u64, data: Option<(&Mp, bool)>) -> Result<(), Error> {
        self.send_entry(nsp, kind, data, false)
    }

    fn send_entry(
        &self,
        nsp: &str,
        kind: u64,
        data: Option<(&Mp, bool)>,
        relay: bool,
    ) -> Result<(), Error> {
        let (data, binary) = match data {
            Some((data, binary)) => (Some(data), binary),
            None => (None, false),
        };
        let mut fields = sw::encode_entry(&self.uid, nsp, kind, data, binary)
            .map_err(|e| Error::Redis(e.to_string()))?;
        if relay {
            fields.push(("relay", "1".to_owned()));
        }
        self.push(Command::Add(fields))
    }

    /// Queues a broadcast; `relay`: this node's reader delivers it here too (see the module's
    /// notes).
    fn send_broadcast(&self, broadcast: &ClusterBroadcast, relay: bool) -> Result<(), Error> {
        let (data, binary) =
            sw::broadcast_data(broadcast).map_err(|e| Error::Redis(e.to_string()))?;
        self.send_entry(
            &broadcast.nsp,
            message_type::BROADCAST,
            Some((&data, binary)),
            relay,
        )
    }

    /// Writes a request for the other nodes of `nsp`, and collects one answer from each,
    /// within [`RedisStreamsConfig::requests_timeout`].
    async fn ask(
        &self,
        nsp: &str,
        kind: u64,
        data: impl FnOnce(&str) -> Mp,
    ) -> Result<Vec<Response>, Error> {
        self.check_connected()?;
        let others = self.other_nodes(nsp);
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let waiting = self.requests.open();
        self.send(nsp, kind, Some((&data(waiting.id()), false)))?;
        waiting
            .collect(Expected::Nodes(others), self.config.requests_timeout)
            .await
    }

    /// Writes a broadcast that asks for acks and collects the other nodes' counts and acks.
    async fn broadcast_with_ack(
        &self,
        broadcast: ClusterBroadcast,
        timeout: Duration,
    ) -> Result<RemoteAcks, Error> {
        self.check_connected()?;
        let others = self.other_nodes(&broadcast.nsp);
        if others.is_empty() {
            let mut acks = RemoteAcks::default();
            acks.complete = true;
            return Ok(acks);
        }
        let waiting = self.requests.open();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let (data, binary) = sw::ack_broadcast_data(waiting.id(), &broadcast, timeout_ms)
            .map_err(|e| Error::Redis(e.to_string()))?;
        self.send(
            &broadcast.nsp,
            message_type::BROADCAST,
            Some((&data, binary)),
        )?;
        Ok(waiting.collect_acks(Expected::Nodes(others), timeout).await)
    }

    /// Sends each answer to request `request_id` of another node as a message on the stream.
    fn responder(self: &Arc<Self>, nsp: &str, request_id: Option<String>) -> cluster::Respond {
        let Some(request_id) = request_id else {
            return Arc::new(|_| {});
        };
        // Weak: a handler that answers late must not keep a stopped adapter alive.
        let state = Arc::downgrade(self);
        let nsp = nsp.to_owned();
        Arc::new(move |response: Response| {
            let Some(state) = state.upgrade() else { return };
            let Some((kind, data)) = sw::response_data(&request_id, &response) else {
                return;
            };
            if let Err(error) = state.send(&nsp, kind, Some((&data, false))) {
                tracing::debug!(%error, "cannot answer a request of another node");
            }
        })
    }

    fn local(&self, nsp: &str) -> Option<(Arc<dyn LocalNamespace>, Arc<MemoryAdapter>, bool)> {
        let namespaces = self.namespaces();
        let registered = namespaces.get(nsp)?;
        let local = registered.local.upgrade()?;
        let rooms = registered.rooms.upgrade()?;
        Some((local, rooms, registered.recovery.load(Ordering::Acquire)))
    }

    /// An entry the reader took from the stream.
    fn on_entry(self: &Arc<Self>, id: &str, fields: &[(String, String)]) {
        let entry = match sw::decode_entry(fields) {
            Ok(entry) => entry,
            Err(error) => {
                tracing::debug!(id, %error, "ignoring a malformed stream entry");
                return;
            }
        };
        if entry.uid == self.uid && !entry.relay {
            return;
        }
        // Any message tells its node is alive, as in Node (which sends heartbeats only when it
        // has been quiet); the emitter package's messages come from no node.
        if entry.uid != self.uid && entry.uid != EMITTER_UID {
            self.nodes()
                .insert((entry.nsp.clone(), entry.uid.clone()), Instant::now());
        }
        match entry.kind {
            message_type::INITIAL_HEARTBEAT | message_type::HEARTBEAT => {
                // A node that starts asks who is there, as Node's do.
                if entry.kind == message_type::INITIAL_HEARTBEAT
                    && self.namespaces().contains_key(&entry.nsp)
                {
                    let _ = self.send(&entry.nsp, message_type::HEARTBEAT, None);
                }
                return;
            }
            message_type::ADAPTER_CLOSE => {
                self.nodes().remove(&(entry.nsp, entry.uid.clone()));
                self.requests.node_gone(&entry.uid);
                return;
            }
            _ => {}
        }
        let Some(data) = &entry.data else {
            return;
        };
        match sw::response_from_data(entry.kind, data) {
            Ok(Some((request_id, response))) => {
                let answer = Answer {
                    from: Some(entry.uid),
                    response,
                };
                self.requests.answer(&request_id, answer);
                return;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(id, %error, "ignoring a malformed response");
                return;
            }
        }
        let Some((local, rooms, recovery)) = self.local(&entry.nsp) else {
            return;
        };
        let done = match sw::request_from_data(entry.kind, &entry.nsp, data) {
            Ok(Some((request_id, request))) => {
                let respond = self.responder(&entry.nsp, request_id);
                cluster::serve(&*local, &rooms, request, respond);
                Ok(())
            }
            Ok(None) if entry.kind == message_type::BROADCAST => {
                sw::broadcast_from_data(data, &entry.nsp, recovery.then_some(id)).map(|broadcast| {
                    if let Some(broadcast) = broadcast {
                        local.deliver(&broadcast);
                    }
                })
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = done {
            tracing::debug!(id, %error, "ignoring a malformed message");
        }
    }

    /// The session `pid` and what it missed after `offset` (see the module's notes).
    async fn restore(
        self: Arc<Self>,
        nsp: String,
        pid: String,
        offset: String,
    ) -> Option<Restored> {
        let from = sw::parse_id(&offset)?;
        // A pid is 20 characters: anything much longer is not one.
        if pid.len() > 64 {
            return None;
        }
        let stream = self.config.stream_name.clone();
        let key = format!("{}{pid}", self.config.session_key_prefix);
        let mut commands = self.commands.clone();
        let found: redis::RedisResult<(Option<String>, redis::Value)> = redis::pipe()
            .cmd("GETDEL")
            .arg(&key)
            .cmd("XRANGE")
            .arg(&stream)
            .arg(&offset)
            .arg(&offset)
            .query_async(&mut commands)
            .await;
        let (raw, at_offset) = match found {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "cannot restore a session from Redis");
                return None;
            }
        };
        // A trimmed stream lost the offset: what came after it may be gone too.
        if entries(&at_offset).is_empty() {
            return None;
        }
        let session = match sw::decode_session(&raw?) {
            Ok(session) => session,
            Err(error) => {
                tracing::debug!(%error, "ignoring a malformed session");
                return None;
            }
        };
        // The client may come from a node that is ahead: this one first reads that far.
        let mut position = self.position.subscribe();
        let _ = tokio::time::timeout(
            self.config.catch_up_timeout,
            position.wait_for(|at| *at >= from),
        )
        .await;
        let hold = self.gate.clone().lock_owned().await;
        let upto = *self.position.borrow();
        let mut missed = Vec::new();
        let mut start = sw::after(from);
        for _ in 0..RESTORE_MAX_PAGES {
            if start > upto {
                break;
            }
            let page: redis::Value = match redis::cmd("XRANGE")
                .arg(&stream)
                .arg(sw::id_text(start))
                .arg(sw::id_text(upto))
                .arg("COUNT")
                .arg(RESTORE_PAGE)
                .query_async(&mut commands)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the missed packets from Redis");
                    return None;
                }
            };
            let page = entries(&page);
            for (id, fields) in &page {
                if let Some(at) = sw::parse_id(id) {
                    start = sw::after(at);
                }
                let Ok(entry) = sw::decode_entry(fields) else {
                    continue;
                };
                if entry.nsp != nsp || entry.kind != message_type::BROADCAST {
                    continue;
                }
                let Some(data) = &entry.data else { continue };
                if let Ok(Some(broadcast)) = sw::broadcast_from_data(data, &nsp, Some(id)) {
                    if !broadcast.options.volatile && reaches(&broadcast.options, &session.rooms) {
                        missed.push(Missed::Encoded(broadcast));
                    }
                }
            }
            if page.len() < RESTORE_PAGE {
                break;
            }
        }
        let mut restored = Restored::new(session, missed);
        restored.hold = Some(Box::new(hold));
        Some(restored)
    }
}

/// The entries of an XRANGE / XREVRANGE reply: `(id, fields)`. Anything else is no entry.
fn entries(value: &redis::Value) -> Vec<(String, Vec<(String, String)>)> {
    match value {
        redis::Value::Array(items) => items.iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

/// The entries of an XREAD reply (`[[stream, [entry...]]...]`, or nil when none came).
fn read_entries(value: &redis::Value) -> Vec<(String, Vec<(String, String)>)> {
    let redis::Value::Array(streams) = value else {
        return Vec::new();
    };
    streams
        .iter()
        .filter_map(|stream| match stream {
            redis::Value::Array(parts) => parts.get(1).map(entries),
            _ => None,
        })
        .flatten()
        .collect()
}

/// `[id, [field, value...]]`.
fn entry(value: &redis::Value) -> Option<(String, Vec<(String, String)>)> {
    use redis::Value as V;
    let text = |v: &V| match v {
        V::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        V::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let V::Array(parts) = value else { return None };
    let [id, V::Array(flat)] = parts.as_slice() else {
        return None;
    };
    let fields = flat
        .chunks_exact(2)
        .filter_map(|pair| Some((text(&pair[0])?, text(&pair[1])?)))
        .collect();
    Some((text(id)?, fields))
}

/// Reads the stream from `last` on, reconnecting with backoff, and hands each entry to its
/// namespace, in order.
async fn reader(
    state: Arc<State>,
    client: redis::Client,
    mut first: Option<MultiplexedConnection>,
    mut last: (u64, u64),
    mut stop: watch::Receiver<()>,
) {
    let mut delay = Duration::from_millis(50);
    loop {
        let conn = match first.take() {
            Some(conn) => Ok(conn),
            None => client.get_multiplexed_async_connection().await,
        };
        match conn {
            Ok(mut conn) => {
                state.connected.store(true, Ordering::Release);
                delay = Duration::from_millis(50);
                loop {
                    let mut read = redis::cmd("XREAD");
                    read.arg("COUNT")
                        .arg(state.config.read_count)
                        .arg("BLOCK")
                        .arg(READ_BLOCK_MS)
                        .arg("STREAMS")
                        .arg(&state.config.stream_name)
                        .arg(sw::id_text(last));
                    let reply = tokio::select! {
                        changed = stop.changed() => {
                            if changed.is_err() {
                                state.connected.store(false, Ordering::Release);
                                return;
                            }
                            continue;
                        }
                        reply = read.query_async::<redis::Value>(&mut conn) => reply,
                    };
                    match reply {
                        Ok(reply) => {
                            let batch = read_entries(&reply);
                            if batch.is_empty() {
                                continue;
                            }
                            let _gate = state.gate.lock().await;
                            for (id, fields) in &batch {
                                let Some(at) = sw::parse_id(id) else { continue };
                                last = at;
                                state.on_entry(id, fields);
                                state.position.send_replace(at);
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "lost the Redis stream; reconnecting");
                            break;
                        }
                    }
                }
                state.connected.store(false, Ordering::Release);
            }
            Err(error) => tracing::debug!(%error, "cannot reach Redis"),
        }
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(state.config.reconnect_max_delay);
    }
}

/// Writes what the namespaces queue, in order, and the heartbeats.
async fn publisher(
    state: Arc<State>,
    mut queue: mpsc::Receiver<Command>,
    mut stop: watch::Receiver<()>,
) {
    let mut commands = state.commands.clone();
    let mut tick = tokio::time::interval(state.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = state.config.stream_name.clone();
    let max_len = state.config.max_len;
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() {
                say_goodbye(&state, &mut commands).await;
                return;
            },
            _ = tick.tick() => {
                let names: Vec<String> = state.namespaces().keys().cloned().collect();
                for nsp in names {
                    let _ = state.send(&nsp, message_type::HEARTBEAT, None);
                }
            }
            first = queue.recv() => {
                let Some(first) = first else { return };
                // What is queued already goes in one pipeline: one round trip for a burst.
                let mut pipe = redis::pipe();
                let mut next = Some(first);
                let mut count = 0;
                while let Some(command) = next {
                    match command {
                        Command::Add(fields) => {
                            let cmd = pipe.cmd("XADD").arg(&stream).arg("MAXLEN").arg("~").arg(max_len).arg("*");
                            for (name, value) in fields {
                                cmd.arg(name).arg(value);
                            }
                            cmd.ignore();
                        }
                        Command::Session { key, value, ttl_ms } => {
                            pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(ttl_ms).ignore();
                        }
                    }
                    count += 1;
                    next = if count < 256 { queue.try_recv().ok() } else { None };
                }
                if let Err(error) = pipe.query_async::<()>(&mut commands).await {
                    tracing::warn!(%error, count, "cannot write to Redis; messages lost");
                }
            }
        }
    }
}

/// Tells the other nodes that this one closes (ADAPTER_CLOSE for each namespace, as Node's
/// `close()` does), so that they stop counting it and waiting for its answers at once. A node
/// that crashes says nothing: the others count it until its heartbeats are late.
async fn say_goodbye(state: &State, commands: &mut ConnectionManager) {
    let names: Vec<String> = state.namespaces().keys().cloned().collect();
    if names.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    for nsp in &names {
        let Ok(fields) =
            sw::encode_entry(&state.uid, nsp, message_type::ADAPTER_CLOSE, None, false)
        else {
            continue;
        };
        let cmd = pipe
            .cmd("XADD")
            .arg(&state.config.stream_name)
            .arg("MAXLEN")
            .arg("~")
            .arg(state.config.max_len)
            .arg("*");
        for (name, value) in fields {
            cmd.arg(name).arg(value);
        }
        cmd.ignore();
    }
    let sent = tokio::time::timeout(Duration::from_secs(1), pipe.query_async::<()>(commands));
    if !matches!(sent.await, Ok(Ok(()))) {
        tracing::debug!("cannot tell the other nodes that this one closes");
    }
}

/// The adapter of one namespace: rooms in memory, messages through the stream.
struct NamespaceAdapter {
    nsp: String,
    local: Arc<MemoryAdapter>,
    recovery: Arc<AtomicBool>,
    redis: RedisStreamsAdapter,
}

impl NamespaceAdapter {
    fn state(&self) -> &Arc<State> {
        &self.redis.handle.state
    }

    fn send(&self, kind: u64, data: &Mp) -> Result<(), AdapterError> {
        Ok(self.state().send(&self.nsp, kind, Some((data, false)))?)
    }
}

impl Adapter for NamespaceAdapter {
    cluster::local_rooms!();

    fn publish(&self, broadcast: &ClusterBroadcast) -> Result<(), AdapterError> {
        Ok(self.state().send_broadcast(broadcast, false)?)
    }

    fn server_count(&self) -> usize {
        self.state().server_count(&self.nsp)
    }

    fn is_cluster(&self) -> bool {
        true
    }

    fn remote_join(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.send(message_type::SOCKETS_JOIN, &sw::rooms_data(options, rooms))
    }

    fn remote_leave(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        self.send(message_type::SOCKETS_LEAVE, &sw::rooms_data(options, rooms))
    }

    fn remote_disconnect(
        &self,
        options: &BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        self.send(
            message_type::DISCONNECT_SOCKETS,
            &sw::disconnect_data(options, close),
        )
    }

    fn fetch_remote(
        &self,
        options: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let state = self.state().clone();
        let nsp = self.nsp.clone();
        let options = options.clone();
        Box::pin(async move {
            let answers = state
                .ask(&nsp, message_type::FETCH_SOCKETS, |id| {
                    sw::fetch_data(id, &options)
                })
                .await?;
            Ok(Response::sockets(answers))
        })
    }

    fn remote_rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        // Node's protocol has no message for the rooms: a room is where some socket is, so the
        // rooms are those of every socket of the other nodes.
        let sockets = self.fetch_remote(&BroadcastOptions::default());
        Box::pin(async move {
            let sockets = sockets.await?;
            Ok(cluster::unique_rooms(
                sockets.into_iter().flat_map(|socket| socket.rooms),
            ))
        })
    }

    fn broadcast_with_ack(
        &self,
        broadcast: &ClusterBroadcast,
        timeout: Duration,
    ) -> BoxFuture<Result<RemoteAcks, AdapterError>> {
        let state = self.state().clone();
        let broadcast = broadcast.clone();
        Box::pin(async move { Ok(state.broadcast_with_ack(broadcast, timeout).await?) })
    }

    fn server_side_emit(&self, data: &[serde_json::Value]) -> Result<(), AdapterError> {
        self.send(
            message_type::SERVER_SIDE_EMIT,
            &sw::server_side_emit_data(data, None),
        )
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<serde_json::Value>,
    ) -> BoxFuture<Result<Vec<serde_json::Value>, AdapterError>> {
        let state = self.state().clone();
        let nsp = self.nsp.clone();
        Box::pin(async move {
            let answers = state
                .ask(&nsp, message_type::SERVER_SIDE_EMIT, |id| {
                    sw::server_side_emit_data(&data, Some(id))
                })
                .await?;
            Ok(Response::server_side_emit_replies(answers))
        })
    }

    fn init(&self, local: Weak<dyn LocalNamespace>) {
        let state = self.state();
        state.namespaces().insert(
            self.nsp.clone(),
            Registered {
                local,
                rooms: Arc::downgrade(&self.local),
                recovery: self.recovery.clone(),
            },
        );
        let _ = state.send(&self.nsp, message_type::INITIAL_HEARTBEAT, None);
    }

    fn session_store(&self, max_disconnection_duration: Duration) -> Arc<dyn SessionStore> {
        self.recovery.store(true, Ordering::Release);
        Arc::new(StreamStore {
            nsp: self.nsp.clone(),
            ttl_ms: u64::try_from(max_disconnection_duration.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            redis: self.redis.clone(),
        })
    }
}

/// The recovery store of one namespace: sessions under their key, packets in the stream.
struct StreamStore {
    nsp: String,
    ttl_ms: u64,
    redis: RedisStreamsAdapter,
}

impl SessionStore for StreamStore {
    fn is_broker_ordered(&self) -> bool {
        true
    }

    fn next_offset(&self) -> Option<(u64, String)> {
        None
    }

    fn record(
        &self,
        _offset: u64,
        _options: BroadcastOptions,
        _frames: Vec<sockeye_adapter::Frame>,
    ) {
    }

    // Never called: with a broker-ordered store, an emit on a dropped socket's handle is
    // refused (the packet would have no offset until the stream gives it one).
    fn record_for_session(
        &self,
        _pid: sockeye_adapter::SocketId,
        _offset: u64,
        _options: BroadcastOptions,
        _frames: Vec<sockeye_adapter::Frame>,
    ) -> bool {
        false
    }

    fn persist(&self, session: Session) {
        let state = &self.redis.handle.state;
        let command = Command::Session {
            key: format!(
                "{}{}",
                state.config.session_key_prefix,
                session.pid.as_str()
            ),
            value: sw::encode_session(&session),
            ttl_ms: self.ttl_ms,
        };
        if let Err(error) = state.push(command) {
            tracing::warn!(%error, "cannot keep a session in Redis");
        }
    }

    fn restore(&self, pid: &str, offset: &str) -> BoxFuture<Option<Restored>> {
        let state = self.redis.handle.state.clone();
        Box::pin(state.restore(self.nsp.clone(), pid.to_owned(), offset.to_owned()))
    }

    fn publish(&self, broadcast: ClusterBroadcast) -> Result<(), AdapterError> {
        Ok(self.redis.handle.state.send_broadcast(&broadcast, true)?)
    }
}

impl fmt::Debug for RedisStreamsAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = &self.handle.state;
        f.debug_struct("RedisStreamsAdapter")
            .field("uid", &state.uid)
            .field("stream", &state.config.stream_name)
            .field("connected", &state.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NamespaceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceAdapter")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}
