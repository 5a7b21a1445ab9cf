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
use common::{NodeJs, Redis, cmd};
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

/// Waits until the rooms of the Node node's socket `client` do (or do not) hold `room`.
async fn wait_for_node_room(client: &mut TestClient, room: &str, present: bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rooms = cmd(client, "rooms", json!({})).await;
        if rooms.as_array().unwrap().contains(&json!(room)) == present {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{room}: {rooms}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Answers the next `ask` event of `client` with `reply`.
async fn answer_ask(client: &mut TestClient, reply: &str) {
    let ask = client.expect_event("/", "ask", WAIT).await;
    let id = ask.id.expect("asks for an ack");
    client.ack("/", id, json!([reply]), vec![]);
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
    a1_socket.insert_data(json!({"kind": "sockeye"}));
    a1_socket.join("ra");
    cmd(&mut n1, "join", json!({"room": "rn"})).await;
    let a1_id = a1_socket.id().to_string();

    // Node asks: fetchSockets sees the sockets of both Sockeye nodes.
    let fetched = cmd(&mut n1, "fetchSockets", json!({})).await;
    let fetched = fetched.as_array().unwrap();
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let a1_seen = fetched.iter().find(|s| s["id"] == a1_id.as_str()).unwrap();
    assert_eq!(a1_seen["data"], json!({"kind": "sockeye"}));
    assert!(a1_seen["rooms"].as_array().unwrap().contains(&json!("ra")));
    assert!(fetched.iter().any(|s| s["id"] == b1_socket.id().as_str()));
    let in_ra = cmd(&mut n1, "fetchSockets", json!({"to": ["ra"]})).await;
    assert_eq!(in_ra.as_array().unwrap().len(), 1, "{in_ra}");
    let not_ra = cmd(&mut n1, "fetchSockets", json!({"except": ["ra"]})).await;
    assert_eq!(not_ra.as_array().unwrap().len(), 2, "{not_ra}");

    // Node acts on Sockeye sockets.
    cmd(
        &mut n1,
        "socketsJoin",
        json!({"to": [a1_id], "rooms": ["from-node"]}),
    )
    .await;
    eventually(WAIT, || {
        a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;
    cmd(
        &mut n1,
        "socketsLeave",
        json!({"to": ["ra"], "rooms": ["from-node"]}),
    )
    .await;
    eventually(WAIT, || {
        !a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;

    // Sockeye asks: fetch_sockets and all_rooms see the Node socket.
    let io = a.io();
    let all = io.of("/").fetch_sockets().await;
    assert_eq!(all.len(), 3);
    let remote = io.to("rn").try_fetch_sockets().await.unwrap();
    assert_eq!(remote.len(), 1);
    let n1_remote = &remote[0];
    assert!(!n1_remote.is_local());
    assert_eq!(n1_remote.data, Some(json!({"kind": "node", "n": 1})));
    assert!(n1_remote.rooms.iter().any(|r| &**r == "rn"));
    assert!(n1_remote.handshake.uri().path().starts_with("/socket.io/"));
    let rooms = io.of("/").all_rooms().await.unwrap();
    for room in ["rn", "ra", b1_socket.id().as_str()] {
        assert!(rooms.iter().any(|r| &**r == room), "{room} in {rooms:?}");
    }

    // Sockeye acts on the Node socket, through what it fetched.
    n1_remote.emit("hello-remote", &1).unwrap();
    n1.expect_event("/", "hello-remote", WAIT).await;
    n1_remote.join("from-sockeye");
    wait_for_node_room(&mut n1, "from-sockeye", true).await;
    b.io().to("rn").leave("from-sockeye");
    wait_for_node_room(&mut n1, "from-sockeye", false).await;
    io.to("rn").disconnect(false);
    n1.expect_disconnect("/", WAIT).await;

    // And Node disconnects a Sockeye socket.
    let mut n2 = node.client().await;
    cmd(&mut n2, "disconnectSockets", json!({"to": ["ra"]})).await;
    a1.expect_disconnect("/", WAIT).await;
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
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for (name, sockeye) in [("a", &a), ("b", &b)] {
        let seen = seen.clone();
        sockeye
            .io()
            .of("/")
            .on_server_side_emit(move |event: String, args: Vec<Value>| {
                let _ = seen.send((name, event.clone(), args.clone()));
                async move { json!({"from": name, "event": event, "args": args}) }
            });
    }

    // Node asks, both Sockeye nodes answer.
    let replies = cmd(
        &mut n1,
        "serverSideEmitWithAck",
        json!({"event": "serverSideEmit-test", "args": [1, "two"]}),
    )
    .await;
    let mut from: Vec<&str> = replies
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].as_str().unwrap())
        .collect();
    from.sort_unstable();
    assert_eq!(from, ["a", "b"], "{replies}");
    assert_eq!(replies[0]["args"], json!([1, "two"]));
    for _ in 0..2 {
        seen_rx.recv().await.unwrap();
    }

    // Sockeye asks, the other Sockeye node and the Node node answer.
    let replies: Vec<Value> = a
        .io()
        .of("/")
        .server_side_emit_with_ack("serverSideEmit-test", &("x", 3))
        .await
        .unwrap();
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies.contains(&json!({"from": "node", "got": ["x", 3]})),
        "{replies:?}"
    );
    assert!(replies.iter().any(|r| r["from"] == "b"));
    let (who, event, args) = seen_rx.recv().await.unwrap();
    assert_eq!(
        (who, event.as_str(), args),
        ("b", "serverSideEmit-test", vec![json!("x"), json!(3)])
    );

    // Without acknowledgement: only the handlers of the other nodes run.
    cmd(
        &mut n1,
        "serverSideEmit",
        json!({"event": "plain", "args": ["p"]}),
    )
    .await;
    let mut got: Vec<&str> = Vec::new();
    for _ in 0..2 {
        let (who, event, args) = seen_rx.recv().await.unwrap();
        assert_eq!((event.as_str(), args), ("plain", vec![json!("p")]));
        got.push(who);
    }
    got.sort_unstable();
    assert_eq!(got, ["a", "b"]);
    a.io().of("/").server_side_emit("plain", "q").unwrap();
    let (who, _, args) = seen_rx.recv().await.unwrap();
    assert_eq!((who, args), ("b", vec![json!("q")]));
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

    // Sockeye asks every socket of the cluster.
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(Duration::from_secs(5))
            .emit_with_ack::<_, Value>("ask", "q")
            .await
    });
    answer_ask(&mut a1, "a1").await;
    answer_ask(&mut b1, "b1").await;
    answer_ask(&mut n1, "n1").await;
    let responses = asking.await.unwrap().unwrap();
    assert_eq!(responses.responses.len(), 1);
    let mut remote: Vec<String> = responses
        .remote
        .iter()
        .map(|r| r.as_ref().unwrap().as_str().unwrap().to_owned())
        .collect();
    remote.sort();
    assert_eq!(remote, ["b1", "n1"]);
    assert_eq!(responses.remote_missing, 0);

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

    // Node asks every socket of the cluster: the Sockeye nodes tell their counts and forward
    // their sockets' acks, so Node's emitWithAck completes.
    let id = n1.emit_with_ack(
        "/",
        "cmd",
        json!(["emitWithAck", {"event": "ask", "args": ["q"], "timeout": 5000}]),
        vec![],
    );
    answer_ask(&mut a1, "a1").await;
    answer_ask(&mut b1, "b1").await;
    answer_ask(&mut n1, "n1").await;
    let ack = n1.expect_ack("/", id, WAIT).await;
    let replies = ack.data.unwrap().to_value();
    let mut replies: Vec<String> = replies[0]
        .as_array()
        .unwrap_or_else(|| panic!("{replies}"))
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    replies.sort();
    assert_eq!(replies, ["a1", "b1", "n1"]);
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
    answer_ask(&mut a1, "a1").await;
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
