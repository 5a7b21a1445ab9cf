//! Two Sockeye nodes on Redis with the MessagePack parser: a broadcast (with binary) and a
//! broadcast with acknowledgements made on one node reach a Rust client (`Parser::MsgPack`)
//! of the other, where the packet from the broker is re-encoded for this parser. Needs
//! `redis-server` on PATH.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Redis, wait_for_nodes};
use serde_json::{Value, json};
use sockeye::{Io, Parser};
use sockeye_client::{Ack, Client, Lifecycle, Transports};
use sockeye_redis::RedisAdapter;
use sockeye_testkit::{TestServer, WAIT, within};

async fn node(redis: &Redis) -> (RedisAdapter, TestServer) {
    let adapter = RedisAdapter::connect(&redis.url()).await.unwrap();
    let io = Io::builder()
        .adapter(adapter.factory())
        .parser(Parser::MsgPack)
        .build();
    (adapter, TestServer::start(io).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_from_another_node_reach_msgpack_clients() {
    let redis = Redis::start();
    let (a_redis, a) = node(&redis).await;
    let (_b_redis, b) = node(&redis).await;
    wait_for_nodes(&a_redis, 2).await;

    let client = Client::builder(&b.base_url())
        .transports(Transports::WebSocket)
        .parser(Parser::MsgPack)
        .reconnection(false)
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    socket.on("bytes", move |args: (String, Bytes, Value), _ack: Ack| {
        let _ = tx.send(args);
    });
    socket.on("ask", |n: u32, ack: Ack| {
        let _ = ack.send(&(n + 1));
    });
    socket.connect();
    within(WAIT, async {
        while !matches!(
            lifecycle.recv().await.expect("the client is alive"),
            Lifecycle::Connect { .. }
        ) {}
    })
    .await;

    let file = Bytes::from_static(&[0, 1, 2, 255]);
    a.io()
        .emit(
            "bytes",
            &("x", file.clone(), json!({"n": 1.5, "list": [1, -2]})),
        )
        .unwrap();
    let (text, bytes, value) = within(WAIT, rx.recv()).await.unwrap();
    assert_eq!((text.as_str(), bytes), ("x", file));
    assert_eq!(value, json!({"n": 1.5, "list": [1, -2]}));

    let responses = a
        .io()
        .timeout(Duration::from_secs(5))
        .emit_with_ack::<_, u32>("ask", &41)
        .await
        .unwrap();
    assert_eq!(responses.remote.len(), 1, "{:?}", responses.remote);
    assert_eq!(responses.remote[0].as_ref().ok(), Some(&42));
    assert_eq!(responses.remote_missing, 0);
}
