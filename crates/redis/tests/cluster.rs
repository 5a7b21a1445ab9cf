//! Two Sockeye nodes sharing a redis-server of the test's own: broadcasts with rooms, except
//! and binary reach the sockets of the other node, once, and a Redis restart is survived.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use serde_json::json;
use sockeye_testkit::{QUIET, WAIT};

#[tokio::test]
async fn broadcasts_reach_the_other_node_with_rooms_and_except() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    wait_for_nodes(&a.redis, 2).await;
    assert_ne!(a.redis.uid(), b.redis.uid());

    let (mut a1, _a1) = a.client().await;
    let (mut b1, b1_socket) = b.client().await;
    let (mut b2, _b2) = b.client().await;
    b1_socket.join("red");

    let io = a.io();
    io.emit("everyone", "hi").unwrap();
    io.to("red").emit("red-only", &()).unwrap();
    io.except("red").emit("not-red", &()).unwrap();
    io.to(b1_socket.id()).emit("to-b1", &()).unwrap();
    io.to("red")
        .to("blue")
        .except(b1_socket.id())
        .emit("nobody", &())
        .unwrap();
    io.local().emit("local", &()).unwrap();
    io.emit("marker", &()).unwrap();

    assert_eq!(
        names_until(&mut a1, "marker").await,
        ["everyone", "not-red", "local"],
        "the publisher's own messages are not delivered twice"
    );
    let b1_events = events_until(&mut b1, "marker").await;
    let names: Vec<&str> = b1_events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["everyone", "red-only", "to-b1"]);
    assert_eq!(b1_events[0].1.args().unwrap(), [json!("hi")]);
    assert_eq!(
        names_until(&mut b2, "marker").await,
        ["everyone", "not-red"]
    );

    // The other way, from a socket: `broadcast` leaves out the sender on every node.
    let (mut b3, b3_socket) = b.client().await;
    b3_socket.broadcast().emit("from-b3", &1).unwrap();
    b.io().emit("marker", &()).unwrap();
    assert_eq!(names_until(&mut a1, "marker").await, ["from-b3"]);
    assert_eq!(names_until(&mut b1, "marker").await, ["from-b3"]);
    assert!(names_until(&mut b3, "marker").await.is_empty());
}

#[tokio::test]
async fn binary_attachments_cross_nodes() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    wait_for_nodes(&a.redis, 2).await;
    let (mut b1, _b1) = b.client().await;

    let file = Bytes::from_static(&[0, 1, 2, 255]);
    a.io().emit("file", &json!({"name": "a.bin"})).unwrap();
    a.io()
        .emit(
            "bytes",
            &("x", file.clone(), vec![file.clone(), Bytes::new()]),
        )
        .unwrap();
    a.io().emit("marker", &()).unwrap();
    let events = events_until(&mut b1, "marker").await;
    assert_eq!(events.len(), 2);
    let (_, packet) = &events[1];
    assert_eq!(packet.attachments, [file.clone(), file, Bytes::new()]);
    let args: (String, Bytes, Vec<Bytes>) = packet
        .args()
        .unwrap()
        .deserialize(&packet.attachments)
        .unwrap();
    assert_eq!(args.0, "x");
    assert_eq!(args.2.len(), 2);
}

#[tokio::test]
async fn the_server_count_follows_the_nodes() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    wait_for_nodes(&a.redis, 1).await;
    {
        let b = Node::start(&redis).await;
        wait_for_nodes(&a.redis, 2).await;
        wait_for_nodes(&b.redis, 2).await;
    }
    // The dropped node's subscriptions go with its connection.
    wait_for_nodes(&a.redis, 1).await;
    assert!(a.io().of("/").adapter().server_count() >= 1);
}

#[tokio::test]
async fn a_redis_restart_is_survived() {
    let mut redis = Redis::start();
    let config = sockeye_redis::RedisConfig::default()
        .reconnect_max_delay(std::time::Duration::from_millis(200));
    let a = Node::start_with(&redis, config.clone()).await;
    let b = Node::start_with(&redis, config).await;
    wait_for_nodes(&a.redis, 2).await;
    let (mut a1, _a1) = a.client().await;
    let (mut b1, _b1) = b.client().await;

    redis.stop();
    sockeye_testkit::eventually(WAIT, || !a.redis.is_connected()).await;
    // Local delivery goes on; the cluster part fails at once with an error.
    let result = a.io().emit("while-down", &());
    assert!(result.is_err(), "{result:?}");
    assert!(a.redis.server_count("/").await.is_err());
    assert_eq!(
        names_until(&mut a1, "while-down").await,
        Vec::<String>::new()
    );
    b1.expect_no_event(QUIET).await;

    redis.restart();
    sockeye_testkit::eventually(WAIT, || a.redis.is_connected() && b.redis.is_connected()).await;
    wait_for_nodes(&a.redis, 2).await;
    a.io().emit("after", &()).unwrap();
    a.io().emit("marker", &()).unwrap();
    assert_eq!(names_until(&mut b1, "marker").await, ["after"]);
    assert_eq!(names_until(&mut a1, "marker").await, ["after"]);
}

#[tokio::test]
async fn requests_between_sockeye_nodes_and_their_timeout() {
    let redis = Redis::start();
    let config = sockeye_redis::RedisConfig::default()
        .requests_timeout(std::time::Duration::from_millis(500));
    let a = Node::start_with(&redis, config.clone()).await;
    let b = Node::start_with(&redis, config).await;
    wait_for_nodes(&a.redis, 2).await;
    let (_a1, a1_socket) = a.client().await;
    let (mut b1, b1_socket) = b.client().await;
    b1_socket.join("blue");

    let fetched = a.io().to("blue").try_fetch_sockets().await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].id, b1_socket.id());
    let rooms = a.io().of("/").all_rooms().await.unwrap();
    assert!(rooms.iter().any(|r| &**r == "blue"));
    assert!(rooms.iter().any(|r| &**r == a1_socket.id().as_str()));

    a.io().to("blue").join("green");
    sockeye_testkit::eventually(WAIT, || b1_socket.rooms().iter().any(|r| &**r == "green")).await;
    a.io().to("green").leave("blue");
    sockeye_testkit::eventually(WAIT, || !b1_socket.rooms().iter().any(|r| &**r == "blue")).await;
    fetched[0].emit("direct", &()).unwrap();
    b1.expect_event("/", "direct", WAIT).await;
    fetched[0].disconnect(false);
    b1.expect_disconnect("/", WAIT).await;

    // A node that is counted but never answers: the request fails, it does not hang.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut silent = client.get_async_pubsub().await.unwrap();
    silent.subscribe("socket.io-request#/#").await.unwrap();
    wait_for_nodes(&a.redis, 3).await;
    let result = a.io().to("blue").try_fetch_sockets().await;
    assert!(result.is_err(), "{result:?}");
    assert!(a.io().of("/").all_rooms().await.is_err());
    // The plain `fetch_sockets` falls back to this node's sockets.
    assert_eq!(a.io().fetch_sockets().await.len(), 1);
}

#[tokio::test]
async fn broadcast_acks_from_another_node_and_those_missing() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    wait_for_nodes(&a.redis, 2).await;
    let (mut b1, _b1) = b.client().await;
    let (mut b2, _b2) = b.client().await;
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(std::time::Duration::from_millis(700))
            .emit_with_ack::<_, String>("ask", &())
            .await
    });
    let ask = b1.expect_event("/", "ask", WAIT).await;
    b1.ack("/", ask.id.unwrap(), json!(["yes"]), vec![]);
    // b2 never answers.
    b2.expect_event("/", "ask", WAIT).await;
    let responses = asking.await.unwrap().unwrap();
    assert!(responses.responses.is_empty());
    assert_eq!(responses.remote.len(), 1);
    assert_eq!(responses.remote[0].as_deref(), Ok("yes"));
    assert_eq!(responses.remote_missing, 1);
}

#[tokio::test]
async fn redis_killed_and_restarted_mid_traffic() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let mut redis = Redis::start();
    let config = sockeye_redis::RedisConfig::default()
        .reconnect_max_delay(std::time::Duration::from_millis(200));
    let a = Node::start_with(&redis, config.clone()).await;
    let b = Node::start_with(&redis, config).await;
    wait_for_nodes(&a.redis, 2).await;
    let (mut a1, _a1) = a.client().await;
    let (mut b1, _b1) = b.client().await;

    let (stop, sent, failed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let traffic = {
        let (io, stop, sent, failed) = (a.io(), stop.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if io.emit("tick", &n).is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // Ticks after `after` arrive at `client`.
    async fn tick_after(client: &mut sockeye_testkit::TestClient, after: u64) {
        loop {
            let packet = client.expect_event("/", "tick", WAIT).await;
            let n: u64 = packet.args().unwrap().deserialize(&[]).unwrap();
            if n > after {
                return;
            }
        }
    }
    tick_after(&mut b1, 0).await;

    redis.stop();
    sockeye_testkit::eventually(WAIT, || !a.redis.is_connected()).await;
    // Local delivery goes on; what needs the other nodes fails at once.
    tick_after(&mut a1, sent.load(Ordering::Relaxed)).await;
    let fetched = sockeye_testkit::within(WAIT, a.io().to("x").try_fetch_sockets()).await;
    assert!(fetched.is_err());
    assert!(a.io().of("/").server_side_emit("e", &()).is_err());
    let with_ack = a
        .io()
        .timeout(std::time::Duration::from_secs(1))
        .emit_with_ack::<_, u8>("ask", &())
        .await;
    assert!(with_ack.is_err(), "{with_ack:?}");
    sockeye_testkit::eventually(WAIT, || failed.load(Ordering::Relaxed) > 0).await;

    redis.restart();
    sockeye_testkit::eventually(WAIT, || a.redis.is_connected() && b.redis.is_connected()).await;
    wait_for_nodes(&a.redis, 2).await;
    tick_after(&mut b1, sent.load(Ordering::Relaxed)).await;
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
}
