//! The Redis streams adapter without recovery: broadcasts and room changes cross nodes, a
//! Node node on @socket.io/redis-streams-adapter (`tests/js/streams-node.mjs`) counts as a node
//! through its heartbeats, and the requests between Sockeye nodes (fetch sockets, all rooms,
//! server-side emits and broadcasts with acks) are answered, or time out with an error when a
//! node is gone.
//!
//! Needs `redis-server`, and for the last test `node` and `tests/js/node_modules`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Redis;
use common::streams::{Proxy, StreamsNode, StreamsNodeJs};
use serde_json::json;
use sockeye::Io;
use sockeye_redis::{RedisStreamsAdapter, RedisStreamsConfig};
use sockeye_testkit::{TestClient, TestServer, WAIT, server_socket, within};

async fn plain_node(redis: &Redis) -> (TestServer, RedisStreamsAdapter) {
    let config =
        RedisStreamsConfig::default().heartbeat(Duration::from_millis(200), Duration::from_secs(2));
    let adapter = RedisStreamsAdapter::connect_with(&redis.url(), config)
        .await
        .expect("connects to redis");
    let io = Io::builder().adapter(adapter.factory()).build();
    (TestServer::start(io).await, adapter)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn broadcasts_and_room_changes_cross_nodes() {
    let redis = Redis::start();
    let (a, adapter_a) = plain_node(&redis).await;
    let (b, _adapter_b) = plain_node(&redis).await;
    eventually("the nodes count each other", || {
        adapter_a.server_count("/") == 2
    })
    .await;
    let mut client = TestClient::connect(&b.url()).await;
    let sid = client.connect_ns("/", None).await.expect("connects");
    let socket = server_socket(&b.io().of("/"), &sid);

    // Reading starts where the stream was: this broadcast is read by B after it started.
    a.io().emit("hello", &("from a", 1)).unwrap();
    let packet = client.recv_packet(WAIT).await;
    assert_eq!(packet.event_name().as_deref(), Some("hello"));
    assert_eq!(
        packet.args().unwrap().to_values(),
        [serde_json::json!("from a"), serde_json::json!(1)]
    );

    a.io().of("/").sockets_join("joined");
    eventually("B's socket joins", || {
        socket.rooms().iter().any(|r| &**r == "joined")
    })
    .await;
    a.io().to("joined").emit("to-joined", &()).unwrap();
    let packet = client.recv_packet(WAIT).await;
    assert_eq!(packet.event_name().as_deref(), Some("to-joined"));
    a.io().of("/").sockets_leave("joined");
    eventually("B's socket leaves", || {
        !socket.rooms().iter().any(|r| &**r == "joined")
    })
    .await;
    a.io().of("/").disconnect_sockets(false);
    eventually("B's socket is disconnected", || !socket.connected()).await;
}

#[tokio::test]
async fn a_node_js_server_counts_through_its_heartbeats() {
    let redis = Redis::start();
    let (_a, adapter) = plain_node(&redis).await;
    let _node = StreamsNodeJs::start(&redis).await;
    // Node's heartbeat comes every 5 s; its first one, or its answer to ours, comes at once.
    eventually("the Node.js server is counted", || {
        adapter.server_count("/") == 2
    })
    .await;
}

#[tokio::test]
async fn fetch_sockets_and_all_rooms_between_sockeye_nodes() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let b = StreamsNode::start(&redis).await;
    a.wait_for_nodes(2).await;
    b.wait_for_nodes(2).await;
    let (_a1, a1_socket) = a.client().await;
    let (mut b1, b1_socket) = b.client().await;
    a1_socket.join("ra");
    b1_socket.join("rb");
    b1_socket.insert_data(json!({"on": "b"}));

    // A sees B's socket, with its rooms, data and handshake.
    let all = a.io().of("/").fetch_sockets().await;
    assert_eq!(all.len(), 2);
    let in_rb = a.io().to("rb").try_fetch_sockets().await.unwrap();
    assert_eq!(in_rb.len(), 1);
    let remote = &in_rb[0];
    assert_eq!(remote.id, b1_socket.id());
    assert!(!remote.is_local());
    assert_eq!(remote.data, Some(json!({"on": "b"})));
    assert!(remote.rooms.iter().any(|r| &**r == "rb"));
    assert!(remote.handshake.uri().path().starts_with("/socket.io/"));
    let except = a.io().except("rb").try_fetch_sockets().await.unwrap();
    assert_eq!(except.len(), 1);
    assert_eq!(except[0].id, a1_socket.id());

    // And B sees A's.
    let in_ra = b.io().to("ra").try_fetch_sockets().await.unwrap();
    assert_eq!(in_ra.len(), 1);
    assert_eq!(in_ra[0].id, a1_socket.id());
    let rooms = a.io().of("/").all_rooms().await.unwrap();
    for room in ["ra", "rb", b1_socket.id().as_str()] {
        assert!(rooms.iter().any(|r| &**r == room), "{room} in {rooms:?}");
    }

    // What A fetched acts on B's socket.
    remote.emit("to-remote", &1).unwrap();
    let packet = b1.recv_packet(WAIT).await;
    assert_eq!(packet.event_name().as_deref(), Some("to-remote"));
    remote.join("joined-from-a");
    eventually("B's socket joins", || {
        b1_socket.rooms().iter().any(|r| &**r == "joined-from-a")
    })
    .await;
    remote.leave("joined-from-a");
    eventually("B's socket leaves", || {
        !b1_socket.rooms().iter().any(|r| &**r == "joined-from-a")
    })
    .await;
    remote.disconnect(false);
    eventually("B's socket is disconnected", || !b1_socket.connected()).await;
}

#[tokio::test]
async fn server_side_emits_and_broadcast_acks_between_sockeye_nodes() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let b = StreamsNode::start(&redis).await;
    let c = StreamsNode::start(&redis).await;
    for node in [&a, &b, &c] {
        node.wait_for_nodes(3).await;
    }
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for (name, node) in [("a", &a), ("b", &b), ("c", &c)] {
        let seen = seen.clone();
        node.io().of("/").on_server_side_emit(
            move |event: String, args: Vec<serde_json::Value>| {
                let _ = seen.send((name, event.clone()));
                async move { json!({"from": name, "event": event, "args": args}) }
            },
        );
    }
    let replies: Vec<serde_json::Value> = a
        .io()
        .of("/")
        .server_side_emit_with_ack("ping", &("x", 2))
        .await
        .unwrap();
    let mut from: Vec<&str> = replies
        .iter()
        .map(|r| r["from"].as_str().unwrap())
        .collect();
    from.sort_unstable();
    assert_eq!(from, ["b", "c"], "{replies:?}");
    assert_eq!(replies[0]["args"], json!(["x", 2]));
    a.io().of("/").server_side_emit("plain", &()).unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seen_rx.recv().await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ("b", "ping".into()),
            ("b", "plain".into()),
            ("c", "ping".into()),
            ("c", "plain".into())
        ]
    );

    // A broadcast with acks: counts, then the acks of the sockets of B and C.
    let (mut a1, _) = a.client().await;
    let (mut b1, _) = b.client().await;
    let (mut c1, _) = c.client().await;
    let (mut c2, _) = c.client().await;
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(Duration::from_secs(5))
            .emit_with_ack::<_, serde_json::Value>("ask", "q")
            .await
    });
    for (client, reply) in [
        (&mut a1, "a1"),
        (&mut b1, "b1"),
        (&mut c1, "c1"),
        (&mut c2, "c2"),
    ] {
        answer_ask(client, reply).await;
    }
    let responses = asking.await.unwrap().unwrap();
    assert_eq!(responses.responses.len(), 1);
    let mut remote: Vec<String> = responses
        .remote
        .iter()
        .map(|r| r.as_ref().unwrap().as_str().unwrap().to_owned())
        .collect();
    remote.sort();
    assert_eq!(remote, ["b1", "c1", "c2"]);
    assert_eq!(responses.remote_missing, 0);

    // A socket that does not answer: the timeout returns what came, and says one is missing.
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(Duration::from_millis(500))
            .emit_with_ack::<_, serde_json::Value>("ask", "q")
            .await
    });
    answer_ask(&mut a1, "a1").await;
    answer_ask(&mut b1, "b1").await;
    answer_ask(&mut c1, "c1").await;
    let _ = c2.recv_packet(WAIT).await;
    let responses = asking.await.unwrap().unwrap();
    assert_eq!(responses.remote.len(), 2);
    assert_eq!(responses.remote_missing, 1);
}

#[tokio::test]
async fn a_node_that_stops_answering_makes_requests_time_out_with_an_error() {
    let redis = Redis::start();
    let config = RedisStreamsConfig::default()
        .heartbeat(Duration::from_millis(200), Duration::from_secs(3))
        .requests_timeout(Duration::from_millis(500));
    let a = StreamsNode::start_with(&redis, config.clone()).await;
    // B reaches Redis through a proxy: cutting it leaves B unable to say anything, as if it
    // had crashed.
    let proxy = Proxy::start(redis.addr()).await;
    let b = StreamsNode::start_at(&proxy.redis_url(), config).await;
    a.wait_for_nodes(2).await;
    let (_b1, _) = b.client().await;
    assert_eq!(a.io().of("/").fetch_sockets().await.len(), 1);
    proxy.cut_and_point_to(None);
    // A still counts B for a while, and its requests fail instead of waiting.
    let started = tokio::time::Instant::now();
    let fetched = a.io().to("anything").try_fetch_sockets().await;
    let error = fetched.expect_err("B does not answer").to_string();
    assert!(error.contains("timed out"), "{error}");
    assert!(started.elapsed() < WAIT, "an error, not a hang");
    let replies = a
        .io()
        .of("/")
        .server_side_emit_with_ack::<_, serde_json::Value>("ping", &())
        .await;
    assert!(replies.is_err(), "{replies:?}");
    assert!(a.io().of("/").all_rooms().await.is_err());
    // Once its heartbeats are missed, B is not counted, and requests need no answer of it.
    a.wait_for_nodes(1).await;
    assert!(
        a.io()
            .to("anything")
            .try_fetch_sockets()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_node_that_closes_says_so() {
    let redis = Redis::start();
    // Heartbeats that would take a minute to be missed: only B's goodbye can make A stop
    // counting it within the test.
    let config = RedisStreamsConfig::default()
        .heartbeat(Duration::from_millis(200), Duration::from_secs(60))
        .requests_timeout(Duration::from_secs(30));
    let a = StreamsNode::start_with(&redis, config).await;
    let b = StreamsNode::start(&redis).await;
    a.wait_for_nodes(2).await;
    drop(b);
    a.wait_for_nodes(1).await;
    let fetched = within(WAIT, a.io().to("anything").try_fetch_sockets()).await;
    assert!(fetched.unwrap().is_empty());
}

/// Answers the next `ask` event of `client` with `reply`.
async fn answer_ask(client: &mut TestClient, reply: &str) {
    let ask = client.expect_event("/", "ask", WAIT).await;
    let id = ask.id.expect("asks for an ack");
    client.ack("/", id, json!([reply]), vec![]);
}
