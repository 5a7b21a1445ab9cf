//! Recovery across a mixed cluster on one Redis stream: a Sockeye node and a Node node
//! (socket.io 4.8 with @socket.io/redis-streams-adapter, `tests/js/streams-node.mjs`). npm's
//! socket.io-client is cut in the middle of numbered events from both nodes and sent to the
//! other kind of node, which must restore the session the first one kept in Redis and replay
//! what the client missed from the stream, once each.
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

use common::Redis;
use common::streams::{
    Emitter, JsClient, Proxy, StreamsNodeJs, check_numbers, emit_numbers, node, wait_for_sessions,
    wait_for_the_last_numbers,
};
use serde_json::{Value, json};

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
