//! Cross-node scenarios of a mixed cluster (two Sockeye nodes A and B, one Node node) that hold
//! on either Redis adapter: one body each for `mixed.rs` (pub/sub) and `streams_mixed.rs`
//! (streams), which start the cluster their own way and hand over its parts.

use std::time::Duration;

use serde_json::{Value, json};
use sockeye::{Io, Socket};
use sockeye_testkit::{TestClient, WAIT, eventually};

use super::{NodeJs, cmd};

/// Server-side emits with and without acks, asked by Node (`n1` is a client of the Node node)
/// and by Sockeye node `a`; `a` and `b` get handlers that report what they saw.
pub async fn server_side_emits_with_acks(a: &Io, b: &Io, n1: &mut TestClient) {
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    for (name, sockeye) in [("a", a), ("b", b)] {
        let seen = seen.clone();
        sockeye
            .of("/")
            .on_server_side_emit(move |event: String, args: Vec<Value>| {
                let _ = seen.send((name, event.clone(), args.clone()));
                async move { json!({"from": name, "event": event, "args": args}) }
            });
    }

    // Node asks, both Sockeye nodes answer.
    let replies = cmd(
        n1,
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
        n1,
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
    a.of("/").server_side_emit("plain", "q").unwrap();
    let (who, _, args) = seen_rx.recv().await.unwrap();
    assert_eq!((who, args), ("b", vec![json!("q")]));
}

/// Answers the next `ask` event of `client` with `reply`.
pub async fn answer_ask(client: &mut TestClient, reply: &str) {
    let ask = client.expect_event("/", "ask", WAIT).await;
    let id = ask.id.expect("asks for an ack");
    client.ack("/", id, json!([reply]), vec![]);
}

/// Broadcasts with acks to every socket of the cluster, asked by Sockeye node `a` and by Node:
/// `a1`, `b1` and `n1` are clients of A, B and the Node node.
pub async fn broadcasts_with_acks(
    a: &Io,
    a1: &mut TestClient,
    b1: &mut TestClient,
    n1: &mut TestClient,
) {
    // Sockeye asks every socket of the cluster.
    let io = a.clone();
    let asking = tokio::spawn(async move {
        io.timeout(Duration::from_secs(5))
            .emit_with_ack::<_, Value>("ask", "q")
            .await
    });
    answer_ask(a1, "a1").await;
    answer_ask(b1, "b1").await;
    answer_ask(n1, "n1").await;
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
    answer_ask(a1, "a1").await;
    answer_ask(b1, "b1").await;
    answer_ask(n1, "n1").await;
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

/// Waits until the rooms of the Node node's socket `client` do (or do not) hold `room`.
pub async fn wait_for_node_room(client: &mut TestClient, room: &str, present: bool) {
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

/// Fetches, remote joins, leaves and disconnects in both directions. `a1` is a client of
/// Sockeye node `a` with its server-side socket, `b1` a socket of node `b`, `n1` a client of
/// the Node node; `node_all_rooms` says whether Node's adapter can list the cluster's rooms
/// (the streams adapter's cannot).
pub async fn requests(
    a: &Io,
    b: &Io,
    (a1, a1_socket): (&mut TestClient, &Socket),
    b1_socket: &Socket,
    n1: &mut TestClient,
    node: &NodeJs,
    node_all_rooms: bool,
) {
    a1_socket.insert_data(json!({"kind": "sockeye"}));
    a1_socket.join("ra");
    cmd(n1, "join", json!({"room": "rn"})).await;
    let a1_id = a1_socket.id().to_string();

    // Node asks: fetchSockets (and allRooms) see the sockets of both Sockeye nodes.
    let fetched = cmd(n1, "fetchSockets", json!({})).await;
    let fetched = fetched.as_array().unwrap();
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    let a1_seen = fetched.iter().find(|s| s["id"] == a1_id.as_str()).unwrap();
    assert_eq!(a1_seen["data"], json!({"kind": "sockeye"}));
    assert!(a1_seen["rooms"].as_array().unwrap().contains(&json!("ra")));
    assert!(fetched.iter().any(|s| s["id"] == b1_socket.id().as_str()));
    let in_ra = cmd(n1, "fetchSockets", json!({"to": ["ra"]})).await;
    assert_eq!(in_ra.as_array().unwrap().len(), 1, "{in_ra}");
    let not_ra = cmd(n1, "fetchSockets", json!({"except": ["ra"]})).await;
    assert_eq!(not_ra.as_array().unwrap().len(), 2, "{not_ra}");
    if node_all_rooms {
        let rooms = cmd(n1, "allRooms", json!({})).await;
        for room in ["ra", "rn", a1_id.as_str()] {
            assert!(
                rooms.as_array().unwrap().contains(&json!(room)),
                "{room} in {rooms}"
            );
        }
    }

    // Node acts on Sockeye sockets.
    cmd(
        n1,
        "socketsJoin",
        json!({"to": [a1_id], "rooms": ["from-node"]}),
    )
    .await;
    eventually(WAIT, || {
        a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;
    cmd(
        n1,
        "socketsLeave",
        json!({"to": ["ra"], "rooms": ["from-node"]}),
    )
    .await;
    eventually(WAIT, || {
        !a1_socket.rooms().iter().any(|r| &**r == "from-node")
    })
    .await;

    // Sockeye asks: fetch_sockets and all_rooms see the Node socket.
    let all = a.of("/").fetch_sockets().await;
    assert_eq!(all.len(), 3);
    let remote = a.to("rn").try_fetch_sockets().await.unwrap();
    assert_eq!(remote.len(), 1);
    let n1_remote = &remote[0];
    assert!(!n1_remote.is_local());
    assert_eq!(n1_remote.data, Some(json!({"kind": "node", "n": 1})));
    assert!(n1_remote.rooms.iter().any(|r| &**r == "rn"));
    assert!(n1_remote.handshake.uri().path().starts_with("/socket.io/"));
    let rooms = a.of("/").all_rooms().await.unwrap();
    for room in ["rn", "ra", b1_socket.id().as_str()] {
        assert!(rooms.iter().any(|r| &**r == room), "{room} in {rooms:?}");
    }

    // Sockeye acts on the Node socket, through what it fetched and through operators.
    n1_remote.emit("hello-remote", &1).unwrap();
    n1.expect_event("/", "hello-remote", WAIT).await;
    n1_remote.join("from-sockeye");
    wait_for_node_room(n1, "from-sockeye", true).await;
    b.to("rn").leave("from-sockeye");
    wait_for_node_room(n1, "from-sockeye", false).await;
    a.to("rn").disconnect(false);
    n1.expect_disconnect("/", WAIT).await;

    // And Node disconnects a Sockeye socket.
    let mut n2 = node.client().await;
    cmd(&mut n2, "disconnectSockets", json!({"to": ["ra"]})).await;
    a1.expect_disconnect("/", WAIT).await;
}
