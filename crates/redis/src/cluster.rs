//! The cluster logic both adapters share, whatever carries their messages (pub/sub channels or
//! one stream): the requests this node makes of the others (ids, waiting for the answers,
//! timeouts, aggregating broadcast acks) and the local side of what the others ask of it.
//!
//! No IO and no wire format here: a transport decodes its messages into a [`Request`] (to
//! serve) or an [`Answer`] (to one of its own requests), and encodes the [`Response`]s that
//! [`serve`] gives it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use sockeye_adapter::{
    BroadcastOptions, ClusterBroadcast, LocalNamespace, MemoryAdapter, RemoteAcks, Room, SocketInfo,
};
use tokio::sync::mpsc;

use crate::Error;

/// The most answers one request waits for; more nodes than this is a misconfiguration.
pub(crate) const MAX_ANSWERS: usize = 1024;
/// The most acks one broadcast collects from the other nodes.
const MAX_ACKS: usize = 1 << 20;

/// What another node asks of this one.
#[derive(Debug)]
pub(crate) enum Request {
    /// The local sockets that the options choose.
    Fetch(BroadcastOptions),
    /// Local sockets join rooms (answered with nothing).
    Join(BroadcastOptions, Vec<Room>),
    /// Local sockets leave rooms (answered with nothing).
    Leave(BroadcastOptions, Vec<Room>),
    /// Local sockets are disconnected (`close`: their whole connections).
    Disconnect(BroadcastOptions, bool),
    /// Every local room.
    AllRooms,
    /// `[event, ...args]` for the server-side handler; answered with its reply.
    ServerSideEmit(Vec<Value>),
    /// A broadcast that asks for acks, and how long its sockets have to answer: answered with
    /// the number of sockets it reached, then with each ack.
    BroadcastWithAck(ClusterBroadcast, Duration),
}

/// What this node answers to a [`Request`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<Room>),
    ServerSideEmit(Value),
    ClientCount(usize),
    Ack(Value),
}

impl Response {
    /// The sockets of fetch answers, node after node.
    pub(crate) fn sockets(answers: Vec<Response>) -> Vec<SocketInfo> {
        answers
            .into_iter()
            .flat_map(|answer| match answer {
                Response::Sockets(sockets) => sockets,
                _ => Vec::new(),
            })
            .collect()
    }

    /// The replies of server-side emit answers.
    pub(crate) fn server_side_emit_replies(answers: Vec<Response>) -> Vec<Value> {
        answers
            .into_iter()
            .filter_map(|answer| match answer {
                Response::ServerSideEmit(reply) => Some(reply),
                _ => None,
            })
            .collect()
    }
}

/// `rooms` without repeats, in the order first seen (the cluster's rooms, from every node).
pub(crate) fn unique_rooms(rooms: impl IntoIterator<Item = Room>) -> Vec<Room> {
    let mut seen = HashSet::new();
    rooms
        .into_iter()
        .filter(|room| seen.insert(room.clone()))
        .collect()
}

/// The `Adapter` methods that a cluster adapter answers from its in-memory room index
/// (`self.local`, a `MemoryAdapter`): rooms are each node's own state; only broadcasts and
/// requests cross the broker.
macro_rules! local_rooms {
    () => {
        fn add_all(&self, sid: SocketId, rooms: &[Room]) {
            self.local.add_all(sid, rooms);
        }

        fn del(&self, sid: SocketId, room: &str) {
            self.local.del(sid, room);
        }

        fn del_all(&self, sid: SocketId) {
            self.local.del_all(sid);
        }

        fn socket_rooms(&self, sid: SocketId) -> Option<Vec<Room>> {
            self.local.socket_rooms(sid)
        }

        fn rooms(&self) -> Vec<Room> {
            self.local.rooms()
        }

        fn sockets(&self, options: &BroadcastOptions) -> Vec<SocketId> {
            self.local.sockets(options)
        }
    };
}
pub(crate) use local_rooms;

/// Where [`serve`] sends its answers: the transport encodes and sends each one. It may be
/// called later, from another task (a server-side handler that takes its time, acks).
pub(crate) type Respond = Arc<dyn Fn(Response) + Send + Sync>;

/// Does what another node asks of this one, on its namespace `local` whose room index is
/// `rooms`, and gives each answer to `respond`.
pub(crate) fn serve(
    local: &dyn LocalNamespace,
    rooms: &MemoryAdapter,
    request: Request,
    respond: Respond,
) {
    match request {
        Request::Fetch(options) => respond(Response::Sockets(local.fetch(&options))),
        Request::Join(options, rooms) => local.join(&options, &rooms),
        Request::Leave(options, rooms) => local.leave(&options, &rooms),
        Request::Disconnect(options, close) => local.disconnect(&options, close),
        Request::AllRooms => {
            use sockeye_adapter::Adapter as _;
            respond(Response::Rooms(rooms.rooms()));
        }
        Request::ServerSideEmit(data) => {
            // The handler may take its time: it runs apart, and is answered when it is done.
            // Without a handler nothing is answered, as in Node.
            if let Some(reply) = local.server_side_event(data) {
                tokio::spawn(async move { respond(Response::ServerSideEmit(reply.await)) });
            }
        }
        Request::BroadcastWithAck(broadcast, timeout) => {
            let on_ack = {
                let respond = respond.clone();
                Box::new(move |ack: Value| respond(Response::Ack(ack)))
            };
            let count = local.deliver_with_ack(&broadcast, timeout, on_ack);
            respond(Response::ClientCount(count));
        }
    }
}

/// An answer to one of this node's requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// The uid of the node that answers, when the transport tells it.
    pub(crate) from: Option<String>,
    pub(crate) response: Response,
}

enum Event {
    Answer(Answer),
    /// A node left the cluster: nothing more is waited for from it.
    Gone(String),
}

/// Whom a request waits for.
#[derive(Debug, Clone)]
pub(crate) enum Expected {
    /// This many answers, from whoever (pub/sub: Redis counts the nodes, not their uids).
    Answers(usize),
    /// One answer from each of these nodes (the streams adapter knows them by their
    /// heartbeats). An answer of another node counts too, but waits for no one.
    Nodes(HashSet<String>),
}

impl Expected {
    fn is_empty(&self) -> bool {
        match self {
            Expected::Answers(n) => *n == 0,
            Expected::Nodes(nodes) => nodes.is_empty(),
        }
    }

    /// One answer came from `from`.
    fn tick(&mut self, from: Option<&str>) {
        match self {
            Expected::Answers(n) => *n = n.saturating_sub(1),
            Expected::Nodes(nodes) => {
                if let Some(from) = from {
                    nodes.remove(from);
                }
            }
        }
    }

    fn gone(&mut self, uid: &str) {
        if let Expected::Nodes(nodes) = self {
            nodes.remove(uid);
        }
    }
}

/// The requests of this node that wait for answers, by request id.
#[derive(Default)]
pub(crate) struct Requests {
    /// Locked only to add, find or remove one, never across an `.await`.
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
}

impl Requests {
    fn pending(&self) -> MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Event>>> {
        // Inserts and removes cannot leave the map half-changed: poisoning is harmless.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new request, with an id of its own; it is forgotten when the [`Waiting`] drops.
    pub(crate) fn open(&self) -> Waiting<'_> {
        let id = request_id();
        let (sender, answers) = mpsc::unbounded_channel();
        self.pending().insert(id.clone(), sender);
        Waiting {
            requests: self,
            id,
            answers,
        }
    }

    /// Hands an answer to the request `request_id`; one of a request no longer waiting (or of
    /// another node) is dropped.
    pub(crate) fn answer(&self, request_id: &str, answer: Answer) {
        let waiting = self.pending().get(request_id).cloned();
        if let Some(waiting) = waiting {
            let _ = waiting.send(Event::Answer(answer));
        }
    }

    /// Node `uid` left: no request waits for it any more.
    pub(crate) fn node_gone(&self, uid: &str) {
        let waiting: Vec<_> = self.pending().values().cloned().collect();
        for waiting in waiting {
            let _ = waiting.send(Event::Gone(uid.to_owned()));
        }
    }
}

/// A request that waits for its answers. Dropping it forgets the request, however it ends
/// (answers, timeout, or the caller giving up).
pub(crate) struct Waiting<'a> {
    requests: &'a Requests,
    id: String,
    answers: mpsc::UnboundedReceiver<Event>,
}

impl Waiting<'_> {
    /// The request id that its answers carry.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Collects one answer from each node `expected`, for at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] when some did not answer in time, as Node does.
    pub(crate) async fn collect(
        mut self,
        mut expected: Expected,
        timeout: Duration,
    ) -> Result<Vec<Response>, Error> {
        let collect = async {
            let mut collected = Vec::new();
            while !expected.is_empty() && collected.len() < MAX_ANSWERS {
                match self.answers.recv().await {
                    Some(Event::Answer(answer)) => {
                        expected.tick(answer.from.as_deref());
                        collected.push(answer.response);
                    }
                    Some(Event::Gone(uid)) => expected.gone(&uid),
                    None => break,
                }
            }
            collected
        };
        tokio::time::timeout(timeout, collect)
            .await
            .map_err(|_| Error::Timeout)
    }

    /// Collects the answers to a broadcast with acks: each node `expected` tells how many
    /// sockets it reached, then forwards their acks. Ends when every node told and every
    /// socket counted answered, or at `timeout` with what came (`complete` false then).
    pub(crate) async fn collect_acks(
        mut self,
        mut expected: Expected,
        timeout: Duration,
    ) -> RemoteAcks {
        let mut result = RemoteAcks::default();
        let deadline = tokio::time::Instant::now() + timeout;
        while !expected.is_empty() || result.acks.len() < result.expected {
            let event = match tokio::time::timeout_at(deadline, self.answers.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => return result,
            };
            match event {
                Event::Answer(Answer {
                    from,
                    response: Response::ClientCount(count),
                }) => {
                    expected.tick(from.as_deref());
                    result.expected = result.expected.saturating_add(count);
                }
                Event::Answer(Answer {
                    response: Response::Ack(ack),
                    ..
                }) => {
                    if result.acks.len() < MAX_ACKS {
                        result.acks.push(ack);
                    }
                }
                Event::Answer(_) => {}
                Event::Gone(uid) => expected.gone(&uid),
            }
        }
        result.complete = true;
        result
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.requests.pending().remove(&self.id);
    }
}

/// A request id like Node's: 16 hex digits.
fn request_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(from: &str, response: Response) -> Answer {
        Answer {
            from: Some(from.to_owned()),
            response,
        }
    }

    fn nodes(uids: &[&str]) -> Expected {
        Expected::Nodes(uids.iter().map(|u| (*u).to_owned()).collect())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_ends_when_every_node_answered() {
        let requests = Requests::default();
        let waiting = requests.open();
        let id = waiting.id().to_owned();
        requests.answer(&id, answer("a", Response::Rooms(vec!["r".into()])));
        requests.answer("another", answer("b", Response::Rooms(Vec::new())));
        requests.answer(&id, answer("b", Response::Rooms(vec!["s".into()])));
        let got = waiting
            .collect(nodes(&["a", "b"]), Duration::from_secs(5))
            .await
            .expect("both answered");
        assert_eq!(
            got,
            [
                Response::Rooms(vec!["r".into()]),
                Response::Rooms(vec!["s".into()])
            ]
        );
        assert!(requests.pending().is_empty(), "forgotten once answered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_node_is_a_timeout_and_a_gone_one_is_not_waited_for() {
        let requests = Requests::default();
        let waiting = requests.open();
        let id = waiting.id().to_owned();
        requests.answer(&id, answer("a", Response::Sockets(Vec::new())));
        let result = waiting
            .collect(nodes(&["a", "b"]), Duration::from_secs(5))
            .await;
        assert_eq!(result, Err(Error::Timeout));
        assert!(requests.pending().is_empty(), "forgotten after the timeout");

        let waiting = requests.open();
        let id = waiting.id().to_owned();
        requests.answer(&id, answer("a", Response::Sockets(Vec::new())));
        requests.node_gone("b");
        let got = waiting
            .collect(nodes(&["a", "b"]), Duration::from_secs(5))
            .await
            .expect("b left");
        assert_eq!(got.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn counted_answers_need_no_uid() {
        let requests = Requests::default();
        let waiting = requests.open();
        let id = waiting.id().to_owned();
        for _ in 0..2 {
            let response = Response::ServerSideEmit(Value::from(1));
            requests.answer(
                &id,
                Answer {
                    from: None,
                    response,
                },
            );
        }
        let got = waiting
            .collect(Expected::Answers(2), Duration::from_secs(5))
            .await
            .expect("two answers");
        assert_eq!(got.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn acks_end_when_every_counted_socket_answered() {
        let requests = Requests::default();
        let waiting = requests.open();
        let id = waiting.id().to_owned();
        requests.answer(&id, answer("a", Response::ClientCount(2)));
        requests.answer(&id, answer("a", Response::Ack(Value::from("x"))));
        requests.answer(&id, answer("b", Response::ClientCount(0)));
        requests.answer(&id, answer("a", Response::Ack(Value::from("y"))));
        let acks = waiting
            .collect_acks(nodes(&["a", "b"]), Duration::from_secs(5))
            .await;
        assert!(acks.complete);
        assert_eq!((acks.expected, acks.acks.len()), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn acks_that_time_out_return_what_came() {
        let requests = Requests::default();
        let waiting = requests.open();
        let id = waiting.id().to_owned();
        requests.answer(&id, answer("a", Response::ClientCount(3)));
        requests.answer(&id, answer("a", Response::Ack(Value::from(1))));
        let acks = waiting
            .collect_acks(nodes(&["a", "b"]), Duration::from_secs(5))
            .await;
        assert!(!acks.complete);
        assert_eq!((acks.expected, acks.acks), (3, vec![Value::from(1)]));
    }
}
