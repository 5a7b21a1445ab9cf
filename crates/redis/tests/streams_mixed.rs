//! A mixed cluster on one Redis stream: Sockeye nodes and a Node node (socket.io 4.8 with
//! @socket.io/redis-streams-adapter).
//!
//! Cross-node operations (`tests/js/redis-node.mjs streams`, driven by its clients' `cmd`
//! events): fetch sockets, remote join / leave / disconnect, server-side emits and broadcasts
//! with acks, server count, in both directions; a killed node makes requests time out with an
//! error on both kinds of node.
//!
//! Recovery (`tests/js/streams-node.mjs`): npm's socket.io-client is cut in the middle of
//! numbered events from both nodes and sent to the other kind of node, which must restore the
//! session the first one kept in Redis and replay what the client missed from the stream, once
//! each.
//!
//! Node's streams adapter has two races of its own that Sockeye's does not: it delivers its own
//! broadcasts when XADD answers, not in stream order (so the last offset a client has may be
//! older than an event it got), and its restore reads the stream to its end without holding
//! back its reader (so an event emitted while it restores may come twice, or not at all). The
//! tests keep Node from emitting at those two moments; Sockeye's side is tested at them in
//! `streams_recovery.rs`.
//!
//! Needs `redis-server`, `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::streams::{
    Emitter, JsClient, Proxy, StreamsNode, StreamsNodeJs, check_numbers, emit_numbers, node,
    wait_for_sessions, wait_for_the_last_numbers,
};
use common::{NodeJs, Redis, cmd, cross};
use serde_json::{Value, json};
use sockeye_redis::RedisStreamsConfig;
use sockeye_testkit::{TestClient, WAIT, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_sockeye_recovers_on_node() {
    let redis = Redis::start();
    let sockeye = node(&redis).await;
    let mut nodejs = StreamsNodeJs::start(&redis).await;
    let (rust, js) = (Emitter::Rust(sockeye.io().clone()), nodejs.emitter());
    let proxy = Proxy::start(sockeye.addr()).await;
    let mut client = JsClient::start(&proxy.url(), "websocket");
    let first = client.line().await;
    assert_eq!(first["recovered"], false, "{first}");
    let id = first["id"].as_str().expect("an id").to_owned();

    emit_numbers(&rust, &js, 0, 60).await;
    proxy.cut_and_point_to(None);
    wait_for_sessions(&redis, 1).await;
    emit_numbers(&rust, &js, 60, 60).await;
    proxy.cut_and_point_to(Some(nodejs.addr()));
    let second = client.line().await;
    assert_eq!(second["event"], "connect");
    assert_eq!(second["recovered"], true, "{second}");
    assert_eq!(second["id"], json!(id));
    emit_numbers(&rust, &js, 120, 30).await;

    let whois = nodejs.whois(&id).await;
    assert!(
        whois["rooms"]
            .as_array()
            .expect("the socket is on the Node node")
            .contains(&json!("r")),
        "{whois}"
    );
    assert_eq!(whois["data"], json!({"user": "ann"}));
    wait_for_the_last_numbers(&redis, 150).await;
    js.emit("done", 0, None).await;
    let done = client.line().await;
    assert_eq!(done["event"], "done", "{done}");
    // Node replays what was missed without its offset, as it does between Node nodes.
    check_numbers(&done, 150, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_node_recovers_on_sockeye() {
    let redis = Redis::start();
    let sockeye = node(&redis).await;
    let mut nodejs = StreamsNodeJs::start(&redis).await;
    let io = sockeye.io().clone();
    let (rust, js) = (Emitter::Rust(io.clone()), nodejs.emitter());
    let proxy = Proxy::start(nodejs.addr()).await;
    let mut client = JsClient::start(&proxy.url(), "websocket");
    let first = client.line().await;
    assert_eq!(first["recovered"], false, "{first}");
    let id = first["id"].as_str().expect("an id").to_owned();

    emit_numbers(&rust, &js, 0, 40).await;
    // Node has taken its emits (it answers commands in order) before Sockeye alone goes on.
    nodejs.whois("fence").await;
    // The last events before the cut come through the stream, so the client's offset is theirs.
    emit_numbers(&rust, &rust, 40, 20).await;
    proxy.cut_and_point_to(None);
    wait_for_sessions(&redis, 1).await;
    emit_numbers(&rust, &js, 60, 60).await;
    proxy.cut_and_point_to(Some(sockeye.addr()));
    emit_numbers(&rust, &js, 120, 30).await;
    let second = client.line().await;
    assert_eq!(second["event"], "connect");
    assert_eq!(second["recovered"], true, "{second}");
    assert_eq!(second["id"], json!(id));

    let socket = io
        .of("/")
        .sockets()
        .into_iter()
        .find(|s| s.id().as_str() == id)
        .expect("the recovered socket is on the Sockeye node");
    assert!(socket.rooms().iter().any(|r| &**r == "r"));
    assert_eq!(socket.data::<Value>(), Some(json!({"user": "ann"})));
    wait_for_the_last_numbers(&redis, 150).await;
    rust.emit("done", 0, None).await;
    let done = client.line().await;
    assert_eq!(done["event"], "done", "{done}");
    // Before the cut, Node gave offsets; after it, Sockeye replays with them too.
    check_numbers(&done, 150, true);
}

/// Waits until the Node node of `client` counts `n` nodes.
async fn wait_for_node_count(client: &mut TestClient, n: u64) {
    wait_for_node_count_of(client, "/", n).await;
}

/// Waits until the Node node of `client` counts `n` nodes on namespace `nsp`.
async fn wait_for_node_count_of(client: &mut TestClient, nsp: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if cmd(client, "serverCount", json!({"nsp": nsp})).await == json!(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Node never counted {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn requests_cross_between_sockeye_and_node_on_streams() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let b = StreamsNode::start(&redis).await;
    let node = NodeJs::start_streams(&redis).await;
    a.wait_for_nodes(3).await;
    b.wait_for_nodes(3).await;
    let (mut a1, a1_socket) = a.client().await;
    let (_b1, b1_socket) = b.client().await;
    let mut n1 = node.client().await;
    wait_for_node_count(&mut n1, 3).await;
    let a1 = (&mut a1, &a1_socket);
    cross::requests(&a.io(), &b.io(), a1, &b1_socket, &mut n1, &node, false).await;
}

#[tokio::test]
async fn server_side_emits_with_acks_cross_sockeye_and_node_on_streams() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let b = StreamsNode::start(&redis).await;
    let node = NodeJs::start_streams(&redis).await;
    a.wait_for_nodes(3).await;
    b.wait_for_nodes(3).await;
    let mut n1 = node.client().await;
    wait_for_node_count(&mut n1, 3).await;
    cross::server_side_emits_with_acks(&a.io(), &b.io(), &mut n1).await;
}

#[tokio::test]
async fn broadcasts_with_acks_cross_sockeye_and_node_on_streams() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let b = StreamsNode::start(&redis).await;
    let node = NodeJs::start_streams(&redis).await;
    a.wait_for_nodes(3).await;
    b.wait_for_nodes(3).await;
    let (mut a1, _a1) = a.client().await;
    let (mut b1, _b1) = b.client().await;
    let mut n1 = node.client().await;
    wait_for_node_count(&mut n1, 3).await;
    cross::broadcasts_with_acks(&a.io(), &mut a1, &mut b1, &mut n1).await;

    // With binary: the request goes as base64 MessagePack, and Node's socket gets the bytes.
    cmd(&mut n1, "join", json!({"room": "r-bin"})).await;
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.to("r-bin")
            .timeout(Duration::from_secs(5))
            .emit_with_ack::<_, Value>("ask", &bytes::Bytes::from_static(&[7, 8]))
            .await
    });
    let ask = n1.expect_event("/", "ask", WAIT).await;
    assert_eq!(ask.attachments, [bytes::Bytes::from_static(&[7, 8])]);
    n1.ack(
        "/",
        ask.id.expect("asks for an ack"),
        json!(["bin"]),
        vec![],
    );
    let responses = asking.await.unwrap().unwrap();
    assert_eq!(responses.remote.len(), 1);
    assert_eq!(responses.remote[0].as_ref().unwrap(), &json!("bin"));
}

#[tokio::test]
async fn a_killed_node_makes_requests_time_out_with_an_error_on_streams() {
    let redis = Redis::start();
    let config = RedisStreamsConfig::default()
        .heartbeat(Duration::from_millis(200), Duration::from_secs(30))
        .requests_timeout(Duration::from_millis(800));
    let a = StreamsNode::start_with(&redis, config.clone()).await;
    let proxy = Proxy::start(redis.addr()).await;
    let _b = StreamsNode::start_at(&proxy.redis_url(), config).await;
    let mut node = NodeJs::start_streams(&redis).await;
    a.wait_for_nodes(3).await;
    let mut n1 = node.client().await;
    wait_for_node_count(&mut n1, 3).await;

    // A Sockeye node is cut off from Redis (as if it had crashed: it says nothing more):
    // Node's fetchSockets fails with its timeout.
    proxy.cut_and_point_to(None);
    let id = n1.emit_with_ack(
        "/",
        "cmd",
        json!(["fetchSockets", {"timeout": 800}]),
        vec![],
    );
    let ack = n1.expect_ack("/", id, WAIT).await;
    let reply = ack.data.unwrap().to_value();
    let error = reply[0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"));
    assert!(error.contains("timeout reached"), "{error}");

    // The Node node is killed: Sockeye's requests fail with an error, not a hang.
    drop(n1);
    node.kill().await;
    let started = tokio::time::Instant::now();
    let fetched = a.io().of("/").to("x").try_fetch_sockets().await;
    let error = fetched.expect_err("no answer").to_string();
    assert!(error.contains("timed out"), "{error}");
    let replies = a
        .io()
        .of("/")
        .server_side_emit_with_ack::<_, Value>("ping", &())
        .await;
    assert!(replies.is_err(), "{replies:?}");
    let (mut a1, _) = a.client().await;
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(Duration::from_millis(800))
            .emit_with_ack::<_, Value>("ask", "q")
            .await
    });
    cross::answer_ask(&mut a1, "a1").await;
    let responses = asking.await.unwrap().unwrap();
    assert_eq!(responses.responses.len(), 1);
    assert!(
        responses.remote_missing >= 1,
        "the silent nodes are missing"
    );
    assert!(started.elapsed() < WAIT);
}

#[tokio::test]
async fn a_sockeye_node_with_recovery_counts_once_on_node() {
    let redis = Redis::start();
    // Its replayable broadcasts come back to it through the stream (marked `relay`), under its
    // one uid: Node must not take them for another node.
    let a = node(&redis).await;
    let nodejs = NodeJs::start_streams(&redis).await;
    let mut n1 = nodejs.client().await;
    wait_for_node_count(&mut n1, 2).await;
    a.io().emit("replayable", &1).unwrap();
    let event = n1.expect_event("/", "replayable", WAIT).await;
    assert_eq!(event.args().unwrap().to_values()[0], json!(1));
    assert_eq!(cmd(&mut n1, "serverCount", json!({})).await, json!(2));
    let fetched = cmd(&mut n1, "fetchSockets", json!({"timeout": 2000})).await;
    assert_eq!(fetched.as_array().unwrap().len(), 1, "{fetched}");
}

#[tokio::test]
async fn a_namespace_other_than_the_root_crosses_on_streams() {
    let redis = Redis::start();
    let a = StreamsNode::start(&redis).await;
    let chat = a.io().of("/chat");
    let node = NodeJs::start_streams(&redis).await;
    let mut n1 = node.client().await;
    let mut a1 = TestClient::connect(&a.server.url()).await;
    let sid = a1.connect_ns("/chat", None).await.expect("connects");
    let a1_socket = sockeye_testkit::server_socket(&chat, &sid);
    a1_socket.join("room");
    // Node makes its /chat namespace on the first command for it, and then learns of A's.
    wait_for_node_count_of(&mut n1, "/chat", 2).await;
    let chat_nodes = a.adapter.clone();
    eventually(WAIT, move || chat_nodes.server_count("/chat") == 2).await;

    // Node writes a broadcast's packet without its namespace: it is the entry's.
    cmd(
        &mut n1,
        "emit",
        json!({"nsp": "/chat", "to": ["room"], "event": "in-chat", "args": [1]}),
    )
    .await;
    let event = a1.expect_event("/chat", "in-chat", WAIT).await;
    assert_eq!(event.args().unwrap().to_values(), [json!(1)]);
    let fetched = cmd(&mut n1, "fetchSockets", json!({"nsp": "/chat"})).await;
    assert_eq!(fetched[0]["id"], json!(sid), "{fetched}");

    let id = n1.emit_with_ack(
        "/",
        "cmd",
        json!(["emitWithAck", {"nsp": "/chat", "event": "ask", "args": ["q"], "timeout": 5000}]),
        vec![],
    );
    let ask = a1.expect_event("/chat", "ask", WAIT).await;
    a1.ack(
        "/chat",
        ask.id.expect("asks for an ack"),
        json!(["a1"]),
        vec![],
    );
    let ack = n1.expect_ack("/", id, WAIT).await;
    assert_eq!(ack.data.unwrap().to_value(), json!([["a1"]]));

    // Sockeye's requests on /chat reach Node's /chat, and nothing else.
    assert_eq!(chat.fetch_sockets().await.len(), 1);
    let root = a
        .io()
        .to(Vec::<String>::new())
        .try_fetch_sockets()
        .await
        .unwrap();
    assert_eq!(root.len(), 1, "n1 is on Node's /");
}
