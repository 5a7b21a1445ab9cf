//! Connection-state recovery across a cluster on the Redis streams adapter: npm's
//! socket.io-client (`tests/js/sio-stream-recovery.mjs`) goes through a TCP proxy of the test
//! to node A; the proxy cuts it in the middle of a stream of numbered events and sends it to
//! node B, which must give it back its id, rooms and data, and every event it missed, once and
//! in order. Then the same with node A gone for good after the cut.
//!
//! Needs `redis-server`, `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Redis;
use common::streams::{
    Emitter, JsClient, Proxy, check_numbers, emit_burst, emit_numbers, node, wait_for_in_stream,
    wait_for_sessions, wait_for_the_last_numbers,
};
use serde_json::{Value, json};

async fn cut_and_recover_on_the_other_node(mode: &str, crash_a: bool) {
    let redis = Redis::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let io_b = b.io().clone();
    let (io_a, em_b) = (Emitter::Rust(a.io().clone()), Emitter::Rust(io_b.clone()));
    let proxy = Proxy::start(a.addr()).await;
    let mut client = JsClient::start(&proxy.url(), mode);
    let first = client.line().await;
    assert_eq!(first["event"], "connect");
    assert_eq!(first["recovered"], false);
    let id = first["id"].as_str().expect("an id").to_owned();

    emit_numbers(&io_a, &em_b, 0, 60).await;
    if crash_a {
        proxy.cut_and_point_to(None);
        // The session is in Redis once A saw the connection close; then A goes away.
        wait_for_sessions(&redis, 1).await;
        emit_numbers(&io_a, &em_b, 60, 30).await;
        // What A emitted went to Redis before it goes (a crash loses only what it had not
        // written yet, as in Node).
        wait_for_in_stream(&redis, r#"["x",88]"#).await;
        drop(a);
        drop(io_a);
        emit_numbers(&em_b, &em_b, 90, 30).await;
        proxy.cut_and_point_to(Some(b.addr()));
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
        emit_numbers(&em_b, &em_b, 120, 30).await;
    } else if mode == "polling" {
        // A keeps the session until the client misses a ping; the client is kept away until
        // then (or it would come back before there is anything to recover, as with Node).
        proxy.cut_and_point_to(None);
        emit_numbers(&io_a, &em_b, 60, 30).await;
        wait_for_sessions(&redis, 1).await;
        emit_numbers(&io_a, &em_b, 90, 30).await;
        proxy.cut_and_point_to(Some(b.addr()));
        emit_numbers(&io_a, &em_b, 120, 30).await;
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
    } else {
        proxy.cut_and_point_to(Some(b.addr()));
        // The client is away (and then back on B) while both nodes go on emitting.
        emit_numbers(&io_a, &em_b, 60, 90).await;
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
    }
    let total = 150;
    let socket = io_b
        .of("/")
        .sockets()
        .into_iter()
        .find(|s| s.id().as_str() == id)
        .expect("the recovered socket is on B");
    assert!(
        socket.rooms().iter().any(|r| &**r == "r"),
        "its rooms are back"
    );
    assert_eq!(socket.data::<Value>(), Some(json!({"user": "ann"})));
    wait_for_the_last_numbers(&redis, total).await;
    io_b.emit("done", &()).unwrap();
    let done = client.line().await;
    assert_eq!(done["event"], "done", "{done}");
    check_numbers(&done, total, true);
    assert_eq!(done["ids"], json!([id, id]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_node_a_recovers_on_node_b_over_websocket() {
    cut_and_recover_on_the_other_node("websocket", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_node_a_recovers_on_node_b_over_polling() {
    cut_and_recover_on_the_other_node("polling", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outlives_node_a() {
    cut_and_recover_on_the_other_node("websocket", true).await;
}

/// The client comes back to B while both nodes write the stream as fast as they can, so B's
/// reader is behind the stream when it restores: what it replays and what it then delivers
/// live must meet exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recovers_while_the_stream_is_busy() {
    let redis = Redis::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let io_b = b.io().clone();
    let (em_a, em_b) = (Emitter::Rust(a.io().clone()), Emitter::Rust(io_b.clone()));
    let proxy = Proxy::start(a.addr()).await;
    let mut client = JsClient::start(&proxy.url(), "websocket");
    let first = client.line().await;
    let id = first["id"].as_str().expect("an id").to_owned();
    emit_numbers(&em_a, &em_b, 0, 20).await;
    proxy.cut_and_point_to(Some(b.addr()));
    let burst = tokio::spawn({
        let (em_a, em_b) = (em_a.clone(), em_b.clone());
        async move { emit_burst(&em_a, &em_b, 20, 3000).await }
    });
    let second = client.line().await;
    assert_eq!(second["recovered"], true, "{second}");
    assert_eq!(second["id"], json!(id));
    burst.await.unwrap();
    wait_for_the_last_numbers(&redis, 3020).await;
    io_b.emit("done", &()).unwrap();
    let done = client.line().await;
    assert_eq!(done["event"], "done", "{done}");
    check_numbers(&done, 3020, true);
}
