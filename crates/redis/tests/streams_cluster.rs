//! The Redis streams adapter without recovery: broadcasts and room changes cross nodes, and a
//! Node node on @socket.io/redis-streams-adapter (`tests/js/streams-node.mjs`) counts as a node
//! through its heartbeats.
//!
//! Needs `redis-server`, and for the last test `node` and `tests/js/node_modules`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Redis;
use common::streams::StreamsNodeJs;
use sockeye::Io;
use sockeye_redis::{RedisStreamsAdapter, RedisStreamsConfig};
use sockeye_testkit::{TestClient, TestServer, WAIT, server_socket};

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
