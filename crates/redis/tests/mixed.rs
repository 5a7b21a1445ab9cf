//! A mixed cluster: two Sockeye nodes and one Node node (socket.io 4.8 with
//! @socket.io/redis-adapter 8, `tests/js/redis-node.mjs`) on a redis-server of the test's
//! own, with clients on each. Broadcasts, room broadcasts, except and binary in both
//! directions; the nodes agree on the server count; a killed node leaves the count.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use serde_json::json;

#[tokio::test]
async fn sockeye_and_node_nodes_share_broadcasts() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;

    let (mut a1, a1_socket) = a.client().await;
    let (mut b1, _b1) = b.client().await;
    let mut n1 = node.client().await;
    let mut n2 = node.client().await;
    assert_eq!(cmd(&mut n1, "serverCount", json!({})).await, json!(3));
    cmd(&mut n1, "join", json!({"room": "red"})).await;
    a1_socket.join("red");

    // From Sockeye to Node (and to the other Sockeye node).
    let io = a.io();
    io.emit("everyone", "hi").unwrap();
    io.to("red").emit("red-only", &()).unwrap();
    io.except("red").emit("not-red", &()).unwrap();
    io.emit("bin", &("x", Bytes::from_static(&[1, 2, 3])))
        .unwrap();
    io.emit("marker", &()).unwrap();
    let n1_events = events_until(&mut n1, "marker").await;
    let names: Vec<&str> = n1_events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["everyone", "red-only", "bin"]);
    assert_eq!(n1_events[0].1.args().unwrap(), [json!("hi")]);
    assert_eq!(n1_events[2].1.attachments, [Bytes::from_static(&[1, 2, 3])]);
    assert_eq!(
        names_until(&mut n2, "marker").await,
        ["everyone", "not-red", "bin"]
    );
    assert_eq!(
        names_until(&mut b1, "marker").await,
        ["everyone", "not-red", "bin"]
    );
    assert_eq!(
        names_until(&mut a1, "marker").await,
        ["everyone", "red-only", "bin"]
    );

    // From Node to Sockeye.
    let emit = |event: &str, more: serde_json::Value| {
        let mut arg = json!({"event": event});
        if let (Some(arg), Some(more)) = (arg.as_object_mut(), more.as_object()) {
            arg.extend(more.clone());
        }
        arg
    };
    cmd(
        &mut n2,
        "emit",
        emit("from-node", json!({"args": ["yo", {"$bin": "0102"}]})),
    )
    .await;
    cmd(&mut n2, "emit", emit("node-red", json!({"to": ["red"]}))).await;
    cmd(
        &mut n2,
        "emit",
        emit("node-not-red", json!({"except": ["red"]})),
    )
    .await;
    cmd(&mut n2, "broadcast", emit("node-broadcast", json!({}))).await;
    cmd(&mut n2, "emit", emit("marker", json!({}))).await;
    let a1_events = events_until(&mut a1, "marker").await;
    let names: Vec<&str> = a1_events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["from-node", "node-red", "node-broadcast"]);
    let (_, from_node) = &a1_events[0];
    assert_eq!(from_node.attachments, [Bytes::from_static(&[1, 2])]);
    let (text, bytes): (String, Bytes) = from_node
        .args()
        .unwrap()
        .deserialize(&from_node.attachments)
        .unwrap();
    assert_eq!((text.as_str(), &bytes[..]), ("yo", &[1u8, 2][..]));
    assert_eq!(
        names_until(&mut b1, "marker").await,
        ["from-node", "node-not-red", "node-broadcast"]
    );
    assert_eq!(
        names_until(&mut n1, "marker").await,
        ["from-node", "node-red", "node-broadcast"]
    );
    assert_eq!(
        names_until(&mut n2, "marker").await,
        ["from-node", "node-not-red"],
        "socket.broadcast leaves out the sender"
    );

    // Node sees a Sockeye socket's own room.
    cmd(
        &mut n2,
        "emit",
        emit("to-a1", json!({"to": [a1_socket.id().as_str()]})),
    )
    .await;
    cmd(&mut n2, "emit", emit("marker", json!({}))).await;
    assert_eq!(names_until(&mut a1, "marker").await, ["to-a1"]);
    assert!(names_until(&mut b1, "marker").await.is_empty());
}

#[tokio::test]
async fn a_killed_node_leaves_the_server_count() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let mut node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 2).await;
    node.kill().await;
    wait_for_nodes(&a.redis, 1).await;
    // Broadcasts go on for the nodes that are left.
    let (mut a1, _a1) = a.client().await;
    a.io().emit("still", &()).unwrap();
    a.io().emit("marker", &()).unwrap();
    assert_eq!(names_until(&mut a1, "marker").await, ["still"]);
}

#[tokio::test]
async fn requests_cross_between_sockeye_and_node() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;
    let (mut a1, a1_socket) = a.client().await;
    let (_b1, b1_socket) = b.client().await;
    let mut n1 = node.client().await;
    let a1 = (&mut a1, &a1_socket);
    cross::requests(&a.io(), &b.io(), a1, &b1_socket, &mut n1, &node, true).await;
}

#[tokio::test]
async fn server_side_emit_with_acks_across_sockeye_and_node() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;
    let mut n1 = node.client().await;
    cross::server_side_emits_with_acks(&a.io(), &b.io(), &mut n1).await;
}

#[tokio::test]
async fn broadcasts_with_acks_cross_sockeye_and_node() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;
    let (mut a1, _a1) = a.client().await;
    let (mut b1, _b1) = b.client().await;
    let mut n1 = node.client().await;
    cross::broadcasts_with_acks(&a.io(), &mut a1, &mut b1, &mut n1).await;
}

/// The `cmd (op, arg)` of `tests/js/redis-node.mjs`, on a Sockeye node.
fn install_cmd(io: &sockeye::Io) {
    use serde_json::Value;
    use sockeye::{AckSender, Data, Socket};

    fn strings(value: &Value) -> Vec<String> {
        value
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn bytes(value: &Value) -> Option<Bytes> {
        let hex = value.get("$bin")?.as_str()?;
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
            .map(Bytes::from)
    }
    fn emit(operator: sockeye::BroadcastOperator, event: &str, arg: &Value) -> bool {
        match bytes(arg) {
            Some(bytes) => operator.emit(event, &bytes).is_ok(),
            None => operator.emit(event, arg).is_ok(),
        }
    }

    io.on_connection(|socket: Socket| async move {
        socket.on(
            "cmd",
            |socket: Socket, Data((op, arg)): Data<(String, Value)>, ack: AckSender| async move {
                let io = socket.io();
                let event = arg["event"].as_str().unwrap_or_default().to_owned();
                let arg0 = arg["args"][0].clone();
                let target = io.to(strings(&arg["to"])).except(strings(&arg["except"]));
                let reply = match op.as_str() {
                    "emit" => json!(emit(target, &event, &arg0)),
                    "broadcast" => json!(emit(socket.broadcast(), &event, &arg0)),
                    "join" => {
                        socket.join(arg["room"].as_str().unwrap_or_default());
                        json!(true)
                    }
                    "emitWithAck" => {
                        let timeout = arg["timeout"].as_u64().unwrap_or(3000);
                        match target
                            .timeout(std::time::Duration::from_millis(timeout))
                            .emit_with_ack::<_, Value>(&event, &arg0)
                            .await
                        {
                            Ok(responses) => json!(responses.ok().cloned().collect::<Vec<_>>()),
                            Err(error) => json!({"error": error.to_string()}),
                        }
                    }
                    "fetchSockets" => {
                        let sockets: Vec<Value> = target
                            .fetch_sockets()
                            .await
                            .iter()
                            .map(|s| json!({"id": s.id.as_str()}))
                            .collect();
                        json!(sockets)
                    }
                    "disconnectSockets" => {
                        target.disconnect(arg["close"].as_bool().unwrap_or(false));
                        json!(true)
                    }
                    other => json!({"error": format!("unknown op {other}")}),
                };
                let _ = ack.send(&reply);
            },
        );
    });
}

#[tokio::test]
async fn npm_socket_io_clients_on_every_node() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    install_cmd(&a.io());
    install_cmd(&b.io());
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;
    let origin = |server: &sockeye_testkit::TestServer| {
        let url = server.url();
        url.trim_end_matches("/socket.io/").to_owned()
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/js/redis-clients.mjs"
    );
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(origin(&a.server))
        .arg(origin(&b.server))
        .arg(format!("http://127.0.0.1:{}", node.port))
        .kill_on_drop(true)
        .output();
    let output = sockeye_testkit::within(std::time::Duration::from_secs(90), output)
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "no result line; stdout {stdout}, stderr {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(result["ok"], true, "{result}");
}
