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
    a1_socket.insert_data(json!({"kind": "sockeye"}));
    a1_socket.join("ra");
    cmd(&mut n1, "join", json!({"room": "rn"})).await;
    let a1_id = a1_socket.id().to_string();

    // Node asks: fetchSockets and allRooms see the Sockeye sockets.
    let fetched = cmd(&mut n1, "fetchSockets", json!({})).await;
    let fetched = fetched.as_array().unwrap();
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let a1_seen = fetched.iter().find(|s| s["id"] == a1_id.as_str()).unwrap();
    assert_eq!(a1_seen["data"], json!({"kind": "sockeye"}));
    assert!(a1_seen["rooms"].as_array().unwrap().contains(&json!("ra")));
    assert!(fetched.iter().any(|s| s["id"] == b1_socket.id().as_str()));
    let in_ra = cmd(&mut n1, "fetchSockets", json!({"to": ["ra"]})).await;
    assert_eq!(in_ra.as_array().unwrap().len(), 1);
    let rooms = cmd(&mut n1, "allRooms", json!({})).await;
    for room in ["ra", "rn", a1_id.as_str()] {
        assert!(
            rooms.as_array().unwrap().contains(&json!(room)),
            "{room} in {rooms}"
        );
    }

    // Node acts on Sockeye sockets.
    cmd(
        &mut n1,
        "socketsJoin",
        json!({"to": [a1_id], "rooms": ["from-node"]}),
    )
    .await;
    sockeye_testkit::eventually(sockeye_testkit::WAIT, || {
        a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;
    cmd(
        &mut n1,
        "socketsLeave",
        json!({"to": ["ra"], "rooms": ["from-node"]}),
    )
    .await;
    sockeye_testkit::eventually(sockeye_testkit::WAIT, || {
        !a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;

    // Sockeye asks: fetch_sockets and all_rooms see the Node socket.
    let io = a.io();
    let all = io
        .to(Vec::<String>::new())
        .try_fetch_sockets()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let remote = io.to("rn").try_fetch_sockets().await.unwrap();
    assert_eq!(remote.len(), 1);
    let n1_remote = &remote[0];
    assert!(!n1_remote.is_local());
    assert_eq!(n1_remote.data, Some(json!({"kind": "node", "n": 1})));
    assert!(n1_remote.rooms.iter().any(|r| &**r == "rn"));
    assert!(n1_remote.handshake.uri().path().starts_with("/socket.io/"));
    let rooms = io.of("/").all_rooms().await.unwrap();
    assert!(rooms.iter().any(|r| &**r == "rn"));
    assert!(rooms.iter().any(|r| &**r == "ra"));

    // Sockeye acts on the Node socket, through what it fetched.
    n1_remote.emit("hello-remote", &1).unwrap();
    n1.expect_event("/", "hello-remote", sockeye_testkit::WAIT)
        .await;
    n1_remote.join("from-sockeye");
    let deadline = tokio::time::Instant::now() + sockeye_testkit::WAIT;
    loop {
        let rooms = cmd(&mut n1, "rooms", json!({})).await;
        if rooms.as_array().unwrap().contains(&json!("from-sockeye")) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never joined: {rooms}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    io.to("rn").disconnect(false);
    n1.expect_disconnect("/", sockeye_testkit::WAIT).await;

    // And Node disconnects a Sockeye socket.
    let mut n2 = node.client().await;
    cmd(&mut n2, "disconnectSockets", json!({"to": ["ra"]})).await;
    a1.expect_disconnect("/", sockeye_testkit::WAIT).await;
}

#[tokio::test]
async fn server_side_emit_with_acks_across_sockeye_and_node() {
    let redis = Redis::start();
    let a = Node::start(&redis).await;
    let b = Node::start(&redis).await;
    let node = NodeJs::start(&redis).await;
    wait_for_nodes(&a.redis, 3).await;
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for (name, sockeye) in [("a", &a), ("b", &b)] {
        let seen = seen.clone();
        sockeye.io().of("/").on_server_side_emit(
            move |event: String, args: Vec<serde_json::Value>| {
                let _ = seen.send((name, event.clone(), args.clone()));
                async move { json!({"from": name, "event": event, "args": args}) }
            },
        );
    }

    // Node asks, both Sockeye nodes answer.
    let mut n1 = node.client().await;
    let replies = cmd(
        &mut n1,
        "serverSideEmitWithAck",
        json!({"event": "serverSideEmit-test", "args": [1, "two"]}),
    )
    .await;
    let mut from: Vec<String> = replies
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].as_str().unwrap().to_owned())
        .collect();
    from.sort();
    assert_eq!(from, ["a", "b"], "{replies}");
    assert_eq!(replies[0]["args"], json!([1, "two"]));
    for _ in 0..2 {
        seen_rx.recv().await.unwrap();
    }

    // Sockeye asks, the other Sockeye node and the Node node answer.
    let replies: Vec<serde_json::Value> = a
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
    got.sort();
    assert_eq!(got, ["a", "b"]);
    a.io().of("/").server_side_emit("plain", "q").unwrap();
    let (who, _, args) = seen_rx.recv().await.unwrap();
    assert_eq!((who, args), ("b", vec![json!("q")]));
}

/// Answers the next `ask` event of `client` with `reply`.
async fn answer_ask(client: &mut sockeye_testkit::TestClient, reply: &str) {
    let ask = client.expect_event("/", "ask", sockeye_testkit::WAIT).await;
    let id = ask.id.expect("asks for an ack");
    client.ack("/", id, json!([reply]), vec![]);
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

    // Sockeye asks every socket of the cluster.
    let io = a.io();
    let asking = tokio::spawn(async move {
        io.timeout(std::time::Duration::from_secs(5))
            .emit_with_ack::<_, serde_json::Value>("ask", "q")
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
    assert_eq!(responses.len(), 3);

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
    let ack = n1.expect_ack("/", id, sockeye_testkit::WAIT).await;
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
