//! The adapter: one connection pair to Redis shared by every namespace of a server.
//!
//! Two background tasks own the IO. The subscriber holds the connection in subscribed state,
//! (re)subscribes the channels of every namespace and hands what arrives to the namespaces;
//! the publisher drains a bounded queue into PUBLISH commands. Namespace adapters only queue,
//! so the [`Adapter`] methods never wait.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde_json::{Value, json};

use futures_util::StreamExt;
use rand::Rng;
use redis::aio::ConnectionManager;
use sockeye_adapter::{
    Adapter, AdapterError, BoxFuture, BroadcastOptions, ClusterBroadcast, LocalNamespace,
    MemoryAdapter, RemoteAcks, Room, SocketId, SocketInfo,
};
use tokio::sync::{mpsc, watch};

use crate::cluster::{self, Answer, Expected, Request, Requests, Response};
use crate::wire::request_type;
use crate::{Error, RedisConfig, wire};

/// A namespace served by this adapter: how to reach its sockets, and its room index.
struct Registered {
    local: Weak<dyn LocalNamespace>,
    rooms: Weak<MemoryAdapter>,
}

/// A Redis adapter for a Sockeye server, compatible with Node's `@socket.io/redis-adapter` 8.
///
/// Connect once, then give [`RedisAdapter::factory`] to the server: every namespace gets an
/// adapter that shares this connection. Cheap to clone; the background tasks stop when the
/// last clone and the last namespace using it are dropped.
///
/// ```no_run
/// # async fn run() -> Result<(), sockeye_redis::Error> {
/// use sockeye::Io;
/// use sockeye_redis::RedisAdapter;
///
/// let redis = RedisAdapter::connect("redis://127.0.0.1:6379").await?;
/// let io = Io::builder().adapter(redis.factory()).build();
/// // Reaches the sockets of every node of the cluster.
/// io.emit("news", "hello").ok();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisAdapter {
    handle: Arc<Handle>,
}

/// Dropping it stops the background tasks.
struct Handle {
    state: Arc<State>,
    _stop: watch::Sender<()>,
}

struct State {
    uid: String,
    config: RedisConfig,
    /// The namespaces that use this adapter. Locked only to add one or look one up, never
    /// across an `.await`.
    namespaces: Mutex<HashMap<String, Registered>>,
    /// This node's requests that wait for answers.
    requests: Requests,
    /// Namespaces whose channels the subscriber has still to subscribe.
    subscribe: mpsc::UnboundedSender<String>,
    publish: mpsc::Sender<(String, Vec<u8>)>,
    /// Whether the subscriber is connected; while it is not, cluster operations fail at once.
    connected: AtomicBool,
    /// The last server count Redis gave (nodes subscribed to the request channel of `/`).
    server_count: AtomicUsize,
    commands: ConnectionManager,
}

impl RedisAdapter {
    /// Connects to Redis at `url` (`redis://host:port/db`) with the default
    /// [`RedisConfig`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], or [`Error::Redis`] when Redis cannot be reached now (later
    /// outages are survived: the adapter reconnects).
    pub async fn connect(url: &str) -> Result<RedisAdapter, Error> {
        RedisAdapter::connect_with(url, RedisConfig::default()).await
    }

    /// Connects to Redis at `url` with `config`.
    ///
    /// # Errors
    /// As [`RedisAdapter::connect`].
    pub async fn connect_with(url: &str, config: RedisConfig) -> Result<RedisAdapter, Error> {
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
        let commands = client
            .get_connection_manager_with_config(manager_config)
            .await
            .map_err(|e| Error::redis(&e))?;
        // The subscriber's first connection is made here, so that a bad address fails now.
        let pubsub = client
            .get_async_pubsub()
            .await
            .map_err(|e| Error::redis(&e))?;

        let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
        let (publish, publish_rx) = mpsc::channel(config.publish_queue.max(1));
        let (stop, stop_rx) = watch::channel(());
        let state = Arc::new(State {
            uid: new_uid(),
            config,
            namespaces: Mutex::default(),
            requests: Requests::default(),
            subscribe,
            publish,
            connected: AtomicBool::new(false),
            server_count: AtomicUsize::new(1),
            commands,
        });
        tokio::spawn(subscriber(
            state.clone(),
            client,
            Some(pubsub),
            subscribe_rx,
            stop_rx.clone(),
        ));
        tokio::spawn(publisher(state.clone(), publish_rx, stop_rx));
        Ok(RedisAdapter {
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
                redis: redis.clone(),
            })
        }
    }

    /// This node's id in the cluster (6 characters, as Node's).
    pub fn uid(&self) -> &str {
        &self.handle.state.uid
    }

    /// Whether Redis is reachable now (the subscriber is connected).
    pub fn is_connected(&self) -> bool {
        self.handle.state.connected.load(Ordering::Acquire)
    }

    /// How many nodes serve namespace `nsp`, Node ones included: the subscribers of its
    /// request channel, as Redis counts them now.
    ///
    /// # Errors
    /// [`Error::Unreachable`] while Redis is down, [`Error::Redis`] if it fails the command.
    pub async fn server_count(&self, nsp: &str) -> Result<usize, Error> {
        let state = &self.handle.state;
        let count = state.fetch_server_count(nsp).await?;
        if nsp == "/" {
            state.server_count.store(count, Ordering::Relaxed);
        }
        Ok(count)
    }
}

impl State {
    fn namespaces(&self) -> MutexGuard<'_, HashMap<String, Registered>> {
        // Inserts cannot leave the map half-changed: poisoning is harmless.
        self.namespaces.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn broadcast_channel(&self, nsp: &str) -> String {
        format!("{}#{}#", self.config.key, nsp)
    }

    fn request_channel(&self, nsp: &str) -> String {
        format!("{}-request#{}#", self.config.key, nsp)
    }

    fn response_channel(&self, nsp: &str) -> String {
        format!("{}-response#{}#", self.config.key, nsp)
    }

    fn check_connected(&self) -> Result<(), Error> {
        if self.connected.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::Unreachable)
        }
    }

    async fn fetch_server_count(&self, nsp: &str) -> Result<usize, Error> {
        self.check_connected()?;
        let mut commands = self.commands.clone();
        let reply: (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(self.request_channel(nsp))
            .query_async(&mut commands)
            .await
            .map_err(|e| Error::redis(&e))?;
        Ok(reply.1)
    }

    fn queue(&self, channel: String, message: Vec<u8>) -> Result<(), Error> {
        self.check_connected()?;
        self.publish
            .try_send((channel, message))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    Error::Redis("the publish queue is full".into())
                }
                mpsc::error::TrySendError::Closed(_) => Error::Unreachable,
            })
    }

    /// A message from one of the subscribed channels.
    fn on_message(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let broadcast = channel
            .strip_prefix(self.config.key.as_str())
            .is_some_and(|rest| rest.starts_with('#'));
        if !broadcast {
            self.on_request_or_response(channel, payload);
            return;
        }
        // Our own broadcasts come back too: they are dropped unread.
        if wire::broadcast_uid(payload) == Some(self.uid.as_str()) {
            return;
        }
        let incoming = match wire::decode_broadcast(payload) {
            Ok(incoming) => incoming,
            Err(error) => {
                tracing::debug!(channel, %error, "ignoring a malformed broadcast");
                return;
            }
        };
        if incoming.uid == self.uid {
            return;
        }
        let nsp = &incoming.broadcast.nsp;
        if !channel.starts_with(&self.broadcast_channel(nsp)) {
            tracing::debug!(channel, nsp, "ignoring a broadcast for another namespace");
            return;
        }
        if let Some((local, _)) = self.local(nsp) {
            local.deliver(&incoming.broadcast);
        }
    }

    fn local(&self, nsp: &str) -> Option<(Arc<dyn LocalNamespace>, Arc<MemoryAdapter>)> {
        let namespaces = self.namespaces();
        let registered = namespaces.get(nsp)?;
        Some((registered.local.upgrade()?, registered.rooms.upgrade()?))
    }

    fn on_request_or_response(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        // A broadcast that asks for acks is MessagePack with binary in place: read as such.
        if let Some(request) = wire::decode_ack_request(payload) {
            match request {
                Ok(request) if request.uid != self.uid => self.answer_ack(channel, request),
                Ok(_) => {}
                Err(error) => tracing::debug!(channel, %error, "ignoring a malformed request"),
            }
            return;
        }
        let message = match wire::decode_request(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(channel, %error, "ignoring a malformed request or response");
                return;
            }
        };
        let response_prefix = format!("{}-response#", self.config.key);
        if channel.starts_with(&response_prefix) {
            let Some(id) = message["requestId"].as_str() else {
                return;
            };
            if let Some(response) = response_from_json(&message) {
                let answer = Answer {
                    from: None,
                    response,
                };
                self.requests.answer(id, answer);
            }
            return;
        }
        let request_prefix = format!("{}-request#", self.config.key);
        let Some(nsp) = channel
            .strip_prefix(&request_prefix)
            .and_then(|rest| rest.strip_suffix('#'))
        else {
            return;
        };
        if message["uid"].as_str() == Some(self.uid.as_str()) {
            return;
        }
        self.answer(nsp, &message);
    }

    /// Does what another node asks of this one (the shared `cluster::serve`), and answers
    /// when it waits for an answer.
    fn answer(self: &Arc<Self>, nsp: &str, request: &Value) {
        let Some((local, room_index)) = self.local(nsp) else {
            return;
        };
        let request_id = request["requestId"].as_str().map(str::to_owned);
        let kind = request["type"].as_u64();
        let options = wire::options_from_json(&request["opts"]);
        // The older form names one socket and one room, and is answered (with nothing).
        let one_socket = request["sid"].as_str().map(|sid| {
            let rooms = request["room"]
                .as_str()
                .map(Room::from)
                .into_iter()
                .collect::<Vec<_>>();
            (BroadcastOptions::default().to(sid), rooms)
        });
        let served = match kind {
            Some(request_type::SOCKETS) => {
                let options = wire::json_rooms(&request["rooms"])
                    .into_iter()
                    .fold(BroadcastOptions::default(), BroadcastOptions::to);
                Request::Fetch(options)
            }
            Some(request_type::ALL_ROOMS) => Request::AllRooms,
            Some(kind @ (request_type::REMOTE_JOIN | request_type::REMOTE_LEAVE)) => {
                let (options, rooms) = match &one_socket {
                    Some((options, rooms)) => (options.clone(), rooms.clone()),
                    None => (options, wire::json_rooms(&request["rooms"])),
                };
                if kind == request_type::REMOTE_JOIN {
                    Request::Join(options, rooms)
                } else {
                    Request::Leave(options, rooms)
                }
            }
            Some(request_type::REMOTE_DISCONNECT) => {
                let close = request["close"].as_bool().unwrap_or(false);
                match &one_socket {
                    Some((options, _)) => Request::Disconnect(options.clone(), close),
                    None => Request::Disconnect(options, close),
                }
            }
            Some(request_type::REMOTE_FETCH) => Request::Fetch(options),
            Some(request_type::SERVER_SIDE_EMIT) => {
                let Some(data) = request["data"].as_array().cloned() else {
                    return;
                };
                Request::ServerSideEmit(data)
            }
            other => {
                tracing::debug!(nsp, kind = ?other, "ignoring a request of a type not handled");
                return;
            }
        };
        let respond = self.responder(nsp, kind, request_id.clone());
        cluster::serve(&*local, &room_index, served, respond);
        let one_socket_kinds = [
            Some(request_type::REMOTE_JOIN),
            Some(request_type::REMOTE_LEAVE),
            Some(request_type::REMOTE_DISCONNECT),
        ];
        if let (Some(_), Some(id), true) =
            (&one_socket, request_id, one_socket_kinds.contains(&kind))
        {
            let message = json!({"requestId": id}).to_string().into_bytes();
            if let Err(error) = self.queue(self.response_channel(nsp), message) {
                tracing::debug!(%error, "cannot answer a request");
            }
        }
    }

    /// Publishes each answer to request `request_id` (of type `kind`) of another node on the
    /// response channel, as Node's adapter writes it.
    fn responder(
        self: &Arc<Self>,
        nsp: &str,
        kind: Option<u64>,
        request_id: Option<String>,
    ) -> cluster::Respond {
        let Some(id) = request_id else {
            return Arc::new(|_| {});
        };
        // Weak: a handler that answers late must not keep a stopped adapter alive.
        let state = Arc::downgrade(self);
        let channel = self.response_channel(nsp);
        Arc::new(move |response: Response| {
            let Some(state) = state.upgrade() else { return };
            let message = match response {
                // The older request wants the ids only.
                Response::Sockets(sockets) if kind == Some(request_type::SOCKETS) => {
                    let ids: Vec<String> = sockets.into_iter().map(|s| s.id).collect();
                    json!({"requestId": id, "sockets": ids})
                }
                Response::Sockets(sockets) => {
                    let sockets: Vec<Value> = sockets.iter().map(wire::socket_json).collect();
                    json!({"requestId": id, "sockets": sockets})
                }
                Response::Rooms(rooms) => {
                    let rooms: Vec<&str> = rooms.iter().map(|r| &**r).collect();
                    json!({"requestId": id, "rooms": rooms})
                }
                Response::ServerSideEmit(reply) => json!({
                    "type": request_type::SERVER_SIDE_EMIT,
                    "requestId": id,
                    "data": reply,
                }),
                Response::ClientCount(count) => json!({
                    "type": request_type::BROADCAST_CLIENT_COUNT,
                    "requestId": id,
                    "clientCount": count,
                }),
                // Acks are MessagePack, as Node writes them (they may carry binary).
                Response::Ack(ack) => {
                    let message = wire::encode_ack_response(&id, &ack);
                    let _ = state.queue(channel.clone(), message);
                    return;
                }
            };
            if let Err(error) = state.queue(channel.clone(), message.to_string().into_bytes()) {
                tracing::debug!(%error, "cannot answer a request");
            }
        })
    }

    /// Delivers another node's broadcast that asks for acks, tells it how many sockets it
    /// reached, then forwards each acknowledgement.
    fn answer_ack(self: &Arc<Self>, channel: &str, request: wire::AckRequest) {
        let nsp = request.broadcast.nsp.clone();
        if channel != self.request_channel(&nsp) {
            return;
        }
        let Some((local, room_index)) = self.local(&nsp) else {
            return;
        };
        let respond = self.responder(
            &nsp,
            Some(request_type::BROADCAST),
            Some(request.request_id),
        );
        let timeout = Duration::from_millis(request.timeout_ms.unwrap_or(10_000));
        let served = Request::BroadcastWithAck(request.broadcast, timeout);
        cluster::serve(&*local, &room_index, served, respond);
    }

    /// How many other nodes serve `nsp`, as Redis counts them now.
    async fn others(&self, nsp: &str) -> Result<usize, Error> {
        let count = self.fetch_server_count(nsp).await?;
        Ok(count.saturating_sub(1).min(cluster::MAX_ANSWERS))
    }

    /// Publishes a broadcast that asks for acks and collects what the other nodes answer, until
    /// every node has told its count and every socket counted has answered, or `timeout`.
    async fn broadcast_with_ack(
        &self,
        broadcast: ClusterBroadcast,
        timeout: Duration,
    ) -> Result<RemoteAcks, Error> {
        let others = self.others(&broadcast.nsp).await?;
        if others == 0 {
            let mut result = RemoteAcks::default();
            result.complete = true;
            return Ok(result);
        }
        let waiting = self.requests.open();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let message = wire::encode_ack_request(&self.uid, waiting.id(), &broadcast, timeout_ms)
            .map_err(|e| Error::Redis(e.to_string()))?;
        self.queue(self.request_channel(&broadcast.nsp), message)?;
        Ok(waiting
            .collect_acks(Expected::Answers(others), timeout)
            .await)
    }

    /// Publishes a request that asks nothing back.
    fn tell(&self, nsp: &str, mut request: Value) -> Result<(), Error> {
        request["uid"] = Value::from(self.uid.as_str());
        self.queue(self.request_channel(nsp), request.to_string().into_bytes())
    }

    /// Publishes a request and collects one answer from every other node, within
    /// [`RedisConfig::requests_timeout`].
    async fn ask(&self, nsp: &str, mut request: Value) -> Result<Vec<Response>, Error> {
        let others = self.others(nsp).await?;
        if others == 0 {
            return Ok(Vec::new());
        }
        let waiting = self.requests.open();
        request["uid"] = Value::from(self.uid.as_str());
        request["requestId"] = Value::from(waiting.id());
        self.queue(self.request_channel(nsp), request.to_string().into_bytes())?;
        waiting
            .collect(Expected::Answers(others), self.config.requests_timeout)
            .await
    }
}

/// An answer on a response channel, by its type or, for those without, by what it holds.
fn response_from_json(message: &Value) -> Option<Response> {
    match message["type"].as_u64() {
        Some(request_type::BROADCAST_CLIENT_COUNT) => {
            let count = message["clientCount"].as_u64().unwrap_or(0);
            Some(Response::ClientCount(
                usize::try_from(count).unwrap_or(usize::MAX),
            ))
        }
        Some(request_type::BROADCAST_ACK) => Some(Response::Ack(message["packet"].clone())),
        Some(request_type::SERVER_SIDE_EMIT) => {
            Some(Response::ServerSideEmit(message["data"].clone()))
        }
        _ if message.get("sockets").is_some() => Some(Response::Sockets(wire::sockets_from_json(
            &message["sockets"],
        ))),
        _ if message.get("rooms").is_some() => {
            Some(Response::Rooms(wire::json_rooms(&message["rooms"])))
        }
        _ => None,
    }
}

/// A uid like Node's `uid2(6)`: six random alphanumerics.
pub(crate) fn new_uid() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Subscribes the channels of namespace `nsp`.
async fn subscribe_namespace(
    state: &State,
    sink: &mut redis::aio::PubSubSink,
    nsp: &str,
) -> redis::RedisResult<()> {
    sink.psubscribe(format!("{}*", state.broadcast_channel(nsp)))
        .await?;
    // Node counts servers by the subscribers of the request channel, so this node subscribes
    // it to be counted, and the response channels to be answered.
    let response = state.response_channel(nsp);
    sink.subscribe(&[
        state.request_channel(nsp),
        format!("{response}{}#", state.uid),
        response,
    ])
    .await
}

/// Keeps a subscribed connection, reconnecting with backoff, and dispatches its messages.
async fn subscriber(
    state: Arc<State>,
    client: redis::Client,
    mut first: Option<redis::aio::PubSub>,
    mut subscribe_rx: mpsc::UnboundedReceiver<String>,
    mut stop: watch::Receiver<()>,
) {
    let mut delay = Duration::from_millis(50);
    loop {
        let pubsub = match first.take() {
            Some(pubsub) => Ok(pubsub),
            None => client.get_async_pubsub().await,
        };
        match pubsub {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                let names: Vec<String> = state.namespaces().keys().cloned().collect();
                let mut ok = true;
                for nsp in &names {
                    if let Err(error) = subscribe_namespace(&state, &mut sink, nsp).await {
                        tracing::warn!(%error, nsp, "cannot subscribe");
                        ok = false;
                        break;
                    }
                }
                if ok {
                    state.connected.store(true, Ordering::Release);
                    if !names.is_empty() {
                        tracing::info!(uid = %state.uid, "subscribed to Redis");
                    }
                    delay = Duration::from_millis(50);
                    loop {
                        tokio::select! {
                            changed = stop.changed() => {
                                if changed.is_err() {
                                    state.connected.store(false, Ordering::Release);
                                    return;
                                }
                            }
                            Some(nsp) = subscribe_rx.recv() => {
                                if let Err(error) = subscribe_namespace(&state, &mut sink, &nsp).await {
                                    tracing::warn!(%error, nsp, "cannot subscribe");
                                    break;
                                }
                            }
                            message = stream.next() => match message {
                                Some(message) => {
                                    state.on_message(message.get_channel_name(), message.get_payload_bytes());
                                }
                                None => break,
                            }
                        }
                    }
                }
                state.connected.store(false, Ordering::Release);
                tracing::warn!(uid = %state.uid, "lost the Redis subscription; reconnecting");
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

/// Publishes what the namespaces queue, in order, and refreshes the server count.
async fn publisher(
    state: Arc<State>,
    mut queue: mpsc::Receiver<(String, Vec<u8>)>,
    mut stop: watch::Receiver<()>,
) {
    let mut commands = state.commands.clone();
    let mut tick = tokio::time::interval(state.config.server_count_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => if changed.is_err() { return },
            _ = tick.tick() => {
                if let Ok(count) = state.fetch_server_count("/").await {
                    state.server_count.store(count, Ordering::Relaxed);
                }
            }
            first = queue.recv() => {
                let Some(first) = first else { return };
                // What is queued already goes in one pipeline: one round trip for a burst.
                let mut pipe = redis::pipe();
                let mut next = Some(first);
                let mut count = 0;
                while let Some((channel, message)) = next {
                    pipe.cmd("PUBLISH").arg(channel).arg(message).ignore();
                    count += 1;
                    next = if count < 256 { queue.try_recv().ok() } else { None };
                }
                if let Err(error) = pipe.query_async::<()>(&mut commands).await {
                    tracing::warn!(%error, count, "cannot publish to Redis; messages lost");
                }
            }
        }
    }
}

/// The adapter of one namespace: rooms in memory, broadcasts through Redis.
struct NamespaceAdapter {
    nsp: String,
    local: Arc<MemoryAdapter>,
    redis: RedisAdapter,
}

impl NamespaceAdapter {
    fn state(&self) -> &State {
        &self.redis.handle.state
    }
}

impl Adapter for NamespaceAdapter {
    cluster::local_rooms!();

    fn publish(&self, broadcast: &ClusterBroadcast) -> Result<(), AdapterError> {
        let state = self.state();
        let message = wire::encode_broadcast(&state.uid, broadcast)
            .map_err(|e| AdapterError::Broker(e.to_string()))?;
        let mut channel = state.broadcast_channel(&self.nsp);
        // Node publishes a broadcast to one room on a channel of its own, so that nodes
        // without that room can skip it unread.
        if let [room] = broadcast.options.rooms.as_slice() {
            channel.push_str(room);
            channel.push('#');
        }
        state.queue(channel, message).map_err(AdapterError::from)
    }

    fn server_count(&self) -> usize {
        self.state().server_count.load(Ordering::Relaxed).max(1)
    }

    fn is_cluster(&self) -> bool {
        true
    }

    fn remote_join(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        let request = json!({
            "type": request_type::REMOTE_JOIN,
            "opts": wire::options_json(options),
            "rooms": rooms,
        });
        Ok(self.state().tell(&self.nsp, request)?)
    }

    fn remote_leave(&self, options: &BroadcastOptions, rooms: &[Room]) -> Result<(), AdapterError> {
        let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
        let request = json!({
            "type": request_type::REMOTE_LEAVE,
            "opts": wire::options_json(options),
            "rooms": rooms,
        });
        Ok(self.state().tell(&self.nsp, request)?)
    }

    fn remote_disconnect(
        &self,
        options: &BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        let request = json!({
            "type": request_type::REMOTE_DISCONNECT,
            "opts": wire::options_json(options),
            "close": close,
        });
        Ok(self.state().tell(&self.nsp, request)?)
    }

    fn broadcast_with_ack(
        &self,
        broadcast: &ClusterBroadcast,
        timeout: Duration,
    ) -> BoxFuture<Result<RemoteAcks, AdapterError>> {
        let state = self.redis.handle.state.clone();
        let broadcast = broadcast.clone();
        Box::pin(async move { Ok(state.broadcast_with_ack(broadcast, timeout).await?) })
    }

    fn server_side_emit(&self, data: &[Value]) -> Result<(), AdapterError> {
        let request = json!({"type": request_type::SERVER_SIDE_EMIT, "data": data});
        Ok(self.state().tell(&self.nsp, request)?)
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        let state = self.redis.handle.state.clone();
        let nsp = self.nsp.clone();
        Box::pin(async move {
            let request = json!({"type": request_type::SERVER_SIDE_EMIT, "data": data});
            let answers = state.ask(&nsp, request).await?;
            Ok(Response::server_side_emit_replies(answers))
        })
    }

    fn fetch_remote(
        &self,
        options: &BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let state = self.redis.handle.state.clone();
        let nsp = self.nsp.clone();
        let request = json!({
            "type": request_type::REMOTE_FETCH,
            "opts": wire::options_json(options),
        });
        Box::pin(async move {
            let answers = state.ask(&nsp, request).await?;
            Ok(Response::sockets(answers))
        })
    }

    fn remote_rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        let state = self.redis.handle.state.clone();
        let nsp = self.nsp.clone();
        Box::pin(async move {
            let answers = state
                .ask(&nsp, json!({"type": request_type::ALL_ROOMS}))
                .await?;
            Ok(cluster::unique_rooms(answers.into_iter().flat_map(
                |answer| match answer {
                    Response::Rooms(rooms) => rooms,
                    _ => Vec::new(),
                },
            )))
        })
    }

    fn init(&self, local: Weak<dyn LocalNamespace>) {
        let state = self.state();
        let rooms = Arc::downgrade(&self.local);
        state
            .namespaces()
            .insert(self.nsp.clone(), Registered { local, rooms });
        let _ = state.subscribe.send(self.nsp.clone());
    }
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = &self.handle.state;
        f.debug_struct("RedisAdapter")
            .field("uid", &state.uid)
            .field("key", &state.config.key)
            .field("connected", &state.connected.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NamespaceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceAdapter")
            .field("nsp", &self.nsp)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}
