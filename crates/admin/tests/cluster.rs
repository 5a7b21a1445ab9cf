//! The admin namespace across a cluster: two Sockeye nodes on loopback sharing a redis-server
//! of the test's own through the Redis pub/sub adapter, our Rust client acting as the UI on
//! node A, ordinary clients on node B. The UI hears both nodes' `server_stats` and node B's
//! live events, lists node B's sockets in `all_sockets`, and its commands act on them; likewise
//! on the Redis streams adapter, and with a Node node running Node's admin
//! server (`tests/js/admin-node.mjs`) in the cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../redis/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Node, Redis};
use serde_json::{Value, json};
use sockeye::{Io, Socket as ServerSocket};
use sockeye_admin::{Admin, Mode};
use sockeye_client::{Client, DisconnectReason, Lifecycle, LifecycleReceiver};
use sockeye_redis::{RedisAdapter, RedisStreamsAdapter, RedisStreamsConfig};
use sockeye_testkit::{TestServer, WAIT, server_socket, within};
use tokio::sync::mpsc;

type Events = mpsc::UnboundedReceiver<(String, Vec<Value>)>;

/// A client whose `/admin` socket forwards every event, name and arguments.
fn ui(url: &str) -> (Client, Events) {
    let client = Client::builder(url).reconnection(false).build().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let admin = client.socket("/admin");
    admin.on_any(move |event| {
        let _ = tx.send((event.name().to_string(), event.values()));
    });
    admin.connect();
    (client, rx)
}

/// The arguments of the next event `name` for which `matches` holds.
async fn next_where(
    events: &mut Events,
    name: &str,
    matches: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    within(WAIT, async {
        loop {
            let (event, args) = events.recv().await.expect("the UI is connected");
            if event == name && matches(&args) {
                return args;
            }
        }
    })
    .await
}

async fn next(events: &mut Events, name: &str) -> Vec<Value> {
    next_where(events, name, |_| true).await
}

/// A client of `/` on `url`, connected, and its socket id.
async fn demo(url: &str) -> (Client, String, LifecycleReceiver) {
    let client = Client::builder(url).reconnection(false).build().unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    within(WAIT, async {
        loop {
            if let Lifecycle::Connect { namespace, .. } = lifecycle.recv().await.unwrap() {
                if namespace == "/" {
                    return;
                }
            }
        }
    })
    .await;
    let id = socket.id().unwrap();
    (client, id, lifecycle)
}

async fn disconnect_reason(lifecycle: &mut LifecycleReceiver) -> DisconnectReason {
    within(WAIT, async {
        loop {
            if let Lifecycle::Disconnect { namespace, reason } = lifecycle.recv().await.unwrap() {
                if namespace == "/" {
                    return reason;
                }
            }
        }
    })
    .await
}

/// Waits until Redis counts `n` nodes on each of `namespaces`.
async fn wait_for_nodes(redis: &RedisAdapter, namespaces: &[&str], n: usize) {
    within(WAIT, async {
        for nsp in namespaces {
            while redis.server_count(nsp).await.ok() != Some(n) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
}

/// Two nodes on one Redis, each with the admin namespace (`node-a`, `node-b`).
async fn cluster(redis: &Redis, readonly: bool) -> ((Node, Admin), (Node, Admin)) {
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b"] {
        let node = Node::start(redis).await;
        let io: Io = node.io();
        io.on_connection(|_socket: ServerSocket| async move {});
        // The application's own data, which the UI shows.
        io.of("/")
            .use_middleware(|socket: ServerSocket| async move {
                socket.insert_data(json!({ "user": "bob" }));
                Ok(())
            });
        let admin = Admin::builder()
            .server_id(id)
            .mode(Mode::Development)
            .readonly(readonly)
            .attach(&io)
            .unwrap();
        nodes.push((node, admin));
    }
    wait_for_nodes(&nodes[0].0.redis, &["/", "/admin"], 2).await;
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    (a, b)
}

fn rooms(socket: &Value) -> Vec<&str> {
    socket["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Node B's socket `b_id` in an `all_sockets` event, checked as the UI shows it: on `/`, in its
/// own room and `room-b`, with a client id and a transport.
fn socket_in_room_b<'a>(all: &'a [Value], b_id: &str) -> &'a Value {
    let sockets = all[0].as_array().unwrap();
    let on_b = sockets
        .iter()
        .find(|s| s["id"] == json!(b_id))
        .unwrap_or_else(|| panic!("node B's socket {b_id} in {sockets:?}"));
    assert_eq!(on_b["nsp"], json!("/"));
    let mut b_rooms = rooms(on_b);
    b_rooms.sort_unstable();
    let mut expected = vec![b_id, "room-b"];
    expected.sort_unstable();
    assert_eq!(b_rooms, expected);
    assert_eq!(on_b["clientId"].as_str().unwrap().len(), 12, "{on_b}");
    assert!(
        ["polling", "websocket"].contains(&on_b["transport"].as_str().unwrap()),
        "{on_b}"
    );
    on_b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_on_one_node_sees_and_commands_the_other() {
    let redis = Redis::start();
    let ((a, _admin_a), (b, _admin_b)) = cluster(&redis, false).await;
    let b_url = b.server.base_url();
    let (b_client, b_id, mut b_lifecycle) = demo(&b_url).await;
    let (tx, mut b_hellos) = mpsc::unbounded_channel();
    b_client.socket("/").on("hello", move |v: Value, _ack| {
        let _ = tx.send(v);
    });
    server_socket(&b.io().of("/"), &b_id).join("room-b");

    let (ui_client, mut events) = ui(&a.server.base_url());
    let config = next(&mut events, "config").await;
    assert!(
        config[0]["supportedFeatures"]
            .as_array()
            .unwrap()
            .contains(&json!("ALL_EVENTS"))
    );

    // all_sockets: node B's socket, with its rooms and what node B keeps of it for the UI.
    let all = next(&mut events, "all_sockets").await;
    let on_b = socket_in_room_b(&all, &b_id);
    // The application's data, without what the admin server keeps in it.
    assert_eq!(on_b["data"], json!({ "user": "bob" }));
    assert_eq!(on_b["handshake"]["address"], json!("127.0.0.1"));
    assert!(
        on_b["handshake"]["url"]
            .as_str()
            .unwrap()
            .starts_with("/socket.io/?EIO=4"),
        "{on_b}"
    );
    // The UI's own socket, on node A, is listed too.
    let sockets = all[0].as_array().unwrap();
    assert!(sockets.iter().any(|s| s["nsp"] == json!("/admin")));

    // server_stats of both nodes reach the UI on node A.
    let mut seen = Vec::new();
    within(WAIT, async {
        while seen.len() < 2 {
            let stats = next(&mut events, "server_stats").await;
            let id = stats[0]["serverId"].as_str().unwrap().to_owned();
            if id == "node-b" {
                let namespaces = stats[0]["namespaces"].as_array().unwrap();
                assert!(
                    namespaces.contains(&json!({ "name": "/", "socketsCount": 1 })),
                    "{namespaces:?}"
                );
            }
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
    })
    .await;
    seen.sort();
    assert_eq!(seen, ["node-a", "node-b"]);

    // Live events of node B: a socket connecting there.
    let (_b2_client, b2_id, _b2_lifecycle) = demo(&b_url).await;
    let connected = next_where(&mut events, "socket_connected", |args| {
        args[0]["id"] == json!(b2_id)
    })
    .await;
    assert_eq!(connected[0]["clientId"].as_str().unwrap().len(), 12);

    let admin = ui_client.socket("/admin");
    // join of node B's socket: node B reports it, and has it in the room.
    admin.emit("join", &("/", "room-x", &b_id)).unwrap();
    next_where(&mut events, "room_joined", |args| {
        args[..3] == [json!("/"), json!("room-x"), json!(b_id)]
    })
    .await;
    let joined = server_socket(&b.io().of("/"), &b_id).rooms();
    assert!(joined.iter().any(|r| &**r == "room-x"), "{joined:?}");
    // emit to that room reaches it.
    admin.emit("emit", &("/", "room-x", "hello", "x")).unwrap();
    assert_eq!(within(WAIT, b_hellos.recv()).await, Some(json!("x")));
    // emit to the socket by its id.
    admin
        .emit("emit", &("/", &b_id, "hello", json!({ "to": "you" })))
        .unwrap();
    assert_eq!(
        within(WAIT, b_hellos.recv()).await,
        Some(json!({ "to": "you" }))
    );
    // leave.
    admin.emit("leave", &("/", "room-x", &b_id)).unwrap();
    next_where(&mut events, "room_left", |args| {
        args[..3] == [json!("/"), json!("room-x"), json!(b_id)]
    })
    .await;
    let left = server_socket(&b.io().of("/"), &b_id).rooms();
    assert!(!left.iter().any(|r| &**r == "room-x"), "{left:?}");

    // _disconnect of node B's socket: its client sees "io server disconnect".
    admin.emit("_disconnect", &("/", false, &b_id)).unwrap();
    assert_eq!(
        disconnect_reason(&mut b_lifecycle).await,
        DisconnectReason::IoServerDisconnect
    );
    next_where(&mut events, "socket_disconnected", |args| {
        args[..2] == [json!("/"), json!(b_id)]
    })
    .await;

    // A UI that connects now lists node B's second socket, not the one disconnected.
    let (_again, mut again_events) = ui(&a.server.base_url());
    let all = next(&mut again_events, "all_sockets").await;
    let ids: Vec<&Value> = all[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert!(ids.contains(&&json!(b2_id)), "{ids:?}");
    assert!(!ids.contains(&&json!(b_id)), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_refuses_commands_for_the_other_nodes_sockets() {
    let redis = Redis::start();
    let ((a, _admin_a), (b, _admin_b)) = cluster(&redis, true).await;
    let (b_client, b_id, _b_lifecycle) = demo(&b.server.base_url()).await;

    let (ui_client, mut events) = ui(&a.server.base_url());
    let config = next(&mut events, "config").await;
    assert_eq!(
        config[0]["supportedFeatures"],
        json!(["AGGREGATED_EVENTS", "ALL_EVENTS"])
    );
    // Node B's socket is listed: the UI can see it, not act on it.
    let all = next(&mut events, "all_sockets").await;
    assert!(
        all[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == json!(b_id)),
        "{all:?}"
    );
    let admin = ui_client.socket("/admin");
    admin.emit("join", &("/", "room-x", &b_id)).unwrap();
    admin.emit("_disconnect", &("/", false, &b_id)).unwrap();
    // The commands went before node A's next two stats (2 s apart); had they run, node B would
    // have heard of them through Redis long before.
    let from_a = |args: &[Value]| args[0]["serverId"] == json!("node-a");
    next_where(&mut events, "server_stats", from_a).await;
    next_where(&mut events, "server_stats", from_a).await;
    assert!(b_client.socket("/").connected());
    let rooms = server_socket(&b.io().of("/"), &b_id).rooms();
    assert!(!rooms.iter().any(|r| &**r == "room-x"), "{rooms:?}");
}

/// The Redis streams adapter carries the fetches, the broadcasts and the room and disconnect
/// commands: the UI lists node B's sockets, hears every node's stats and live events, and its
/// commands act on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_streams_adapter_stats_events_and_commands_cross_nodes() {
    let redis = Redis::start();
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b"] {
        let config = RedisStreamsConfig::default()
            .heartbeat(Duration::from_millis(200), Duration::from_secs(2));
        let adapter = RedisStreamsAdapter::connect_with(&redis.url(), config)
            .await
            .unwrap();
        let io = Io::builder().adapter(adapter.factory()).build();
        io.on_connection(|_socket: ServerSocket| async move {});
        let admin = Admin::builder()
            .server_id(id)
            .mode(Mode::Development)
            .attach(&io)
            .unwrap();
        nodes.push((TestServer::start(io).await, adapter, admin));
    }
    within(WAIT, async {
        while nodes
            .iter()
            .any(|(_, adapter, _)| adapter.server_count("/admin") != 2)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let (a, b) = (&nodes[0].0, &nodes[1].0);
    let (_b_client, b_id, mut b_lifecycle) = demo(&b.base_url()).await;
    server_socket(&b.io().of("/"), &b_id).join("room-b");

    let (ui_client, mut events) = ui(&a.base_url());
    // all_sockets: node B's socket, fetched through the streams, with its rooms and what node B
    // keeps of it for the UI.
    let all = next(&mut events, "all_sockets").await;
    let on_b = socket_in_room_b(&all, &b_id);
    assert_eq!(on_b["data"], json!({}), "{on_b}");
    assert_eq!(on_b["handshake"]["address"], json!("127.0.0.1"), "{on_b}");
    next_where(&mut events, "server_stats", |args| {
        args[0]["serverId"] == json!("node-b")
    })
    .await;
    let admin = ui_client.socket("/admin");
    admin.emit("join", &("/", "room-x", &b_id)).unwrap();
    next_where(&mut events, "room_joined", |args| {
        args[..3] == [json!("/"), json!("room-x"), json!(b_id)]
    })
    .await;
    let joined = server_socket(&b.io().of("/"), &b_id).rooms();
    assert!(joined.iter().any(|r| &**r == "room-x"), "{joined:?}");
    admin.emit("_disconnect", &("/", false, &b_id)).unwrap();
    assert_eq!(
        disconnect_reason(&mut b_lifecycle).await,
        DisconnectReason::IoServerDisconnect
    );
}

/// A Node node with Node's admin server (`tests/js/admin-node.mjs`), killed when dropped.
/// Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the
/// test fails, it never passes silently.
struct NodeJsAdmin {
    port: u16,
    _child: tokio::process::Child,
}

impl NodeJsAdmin {
    async fn start(redis: &Redis) -> NodeJsAdmin {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/admin-node.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(redis.url())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = within(WAIT, lines.next_line())
            .await
            .expect("reads the node's output")
            .expect("the Node node prints its port (is tests/js/node_modules installed?)");
        let port: Value = serde_json::from_str(&line).expect("a JSON line");
        let port = port["port"].as_u64().expect("a port") as u16;
        NodeJsAdmin {
            port,
            _child: child,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A mixed cluster: two Sockeye nodes and a Node node with Node's admin server. Each admin
/// server lists the other's sockets with the `clientId` and `transport` the other keeps in
/// `_admin`, the UI on the Sockeye node hears Node's stats and disconnects a Node socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockeye_and_node_admin_servers_read_each_others_sockets() {
    let redis = Redis::start();
    let ((rs, _admin), (_other, _other_admin)) = cluster(&redis, false).await;
    let js = NodeJsAdmin::start(&redis).await;
    wait_for_nodes(&rs.redis, &["/", "/admin"], 3).await;

    let (rs_client, rs_id, _rs_lifecycle) = demo(&rs.server.base_url()).await;
    server_socket(&rs.io().of("/"), &rs_id).join("room-rs");
    let js_client = Client::builder(&js.url())
        .auth(json!({ "room": "room-js" }))
        .reconnection(false)
        .build()
        .unwrap();
    let mut js_lifecycle = js_client.lifecycle();
    js_client.socket("/").connect();
    within(WAIT, async {
        loop {
            if let Lifecycle::Connect { namespace, .. } = js_lifecycle.recv().await.unwrap() {
                if namespace == "/" {
                    return;
                }
            }
        }
    })
    .await;
    let js_id = js_client.socket("/").id().unwrap();

    // The UI on the Sockeye node: the Node socket, with what Node's admin server keeps of it.
    let (ui_client, mut events) = ui(&rs.server.base_url());
    let all = next(&mut events, "all_sockets").await;
    let sockets = all[0].as_array().unwrap();
    let on_js = sockets
        .iter()
        .find(|s| s["id"] == json!(js_id))
        .unwrap_or_else(|| panic!("the Node socket {js_id} in {sockets:?}"));
    assert!(rooms(on_js).contains(&"room-js"), "{on_js}");
    assert_eq!(on_js["clientId"].as_str().unwrap().len(), 12, "{on_js}");
    assert!(on_js["transport"].is_string(), "{on_js}");
    assert_eq!(on_js["data"], json!({}), "{on_js}");
    next_where(&mut events, "server_stats", |args| {
        args[0]["serverId"] == json!("node-js")
    })
    .await;

    // The UI on the Node node: the Sockeye socket, likewise.
    let (_js_ui, mut js_events) = ui(&js.url());
    let all = next(&mut js_events, "all_sockets").await;
    let sockets = all[0].as_array().unwrap();
    let on_rs = sockets
        .iter()
        .find(|s| s["id"] == json!(rs_id))
        .unwrap_or_else(|| panic!("the Sockeye socket {rs_id} in {sockets:?}"));
    assert!(rooms(on_rs).contains(&"room-rs"), "{on_rs}");
    assert_eq!(on_rs["clientId"].as_str().unwrap().len(), 12, "{on_rs}");
    assert!(on_rs["transport"].is_string(), "{on_rs}");
    assert_eq!(on_rs["data"], json!({ "user": "bob" }), "{on_rs}");
    assert_eq!(on_rs["handshake"]["address"], json!("127.0.0.1"), "{on_rs}");
    assert!(rs_client.socket("/").connected());

    // A command from the Sockeye node's UI reaches the Node socket.
    ui_client
        .socket("/admin")
        .emit("_disconnect", &("/", false, &js_id))
        .unwrap();
    assert_eq!(
        disconnect_reason(&mut js_lifecycle).await,
        DisconnectReason::IoServerDisconnect
    );
}

/// A Sockeye node without the admin namespace (so its sockets have no data) in a cluster with
/// a Node node in development mode: Node's admin server takes `_admin` out of each fetched
/// socket's data by destructuring it, which throws on `null` (and the unhandled rejection ends
/// the Node process). Sockeye answers `{}` for a socket without data, as Node's `socket.data`
/// defaults to, so Node's UI lists the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_in_development_mode_lists_a_sockeye_socket_without_data() {
    let redis = Redis::start();
    let plain = Node::start(&redis).await;
    plain
        .io()
        .on_connection(|_socket: ServerSocket| async move {});
    let js = NodeJsAdmin::start(&redis).await;
    wait_for_nodes(&plain.redis, &["/"], 2).await;
    let (_client, id, _lifecycle) = demo(&plain.server.base_url()).await;
    assert!(
        server_socket(&plain.io().of("/"), &id)
            .data::<Value>()
            .is_none()
    );

    let (_js_ui, mut js_events) = ui(&js.url());
    let all = next(&mut js_events, "all_sockets").await;
    let sockets = all[0].as_array().unwrap();
    let listed = sockets
        .iter()
        .find(|s| s["id"] == json!(id))
        .unwrap_or_else(|| panic!("the Sockeye socket {id} in {sockets:?}"));
    assert_eq!(listed["data"], json!({}), "{listed}");
    assert_eq!(listed["nsp"], json!("/"), "{listed}");
    assert!(rooms(listed).contains(&id.as_str()), "{listed}");
    // No admin server on the Sockeye node kept a `clientId` for it.
    assert!(listed.get("clientId").is_none(), "{listed}");
}

/// Without a `server_id`, a node on a cluster adapter is `hostname#pid`, as a Node cluster
/// worker: the nodes of one host differ in the UI (here, the two processes of the cluster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_default_server_id_is_the_host_name_and_pid() {
    let redis = Redis::start();
    let node = Node::start(&redis).await;
    let _admin = Admin::builder().attach(&node.io()).unwrap();
    let js = NodeJsAdmin::start(&redis).await;
    wait_for_nodes(&node.redis, &["/admin"], 2).await;

    // The UI on the Node node hears our node's stats through Redis.
    let (_js_ui, mut js_events) = ui(&js.url());
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let pid = std::process::id();
    let stats = next_where(&mut js_events, "server_stats", |args| {
        args[0]["serverId"] != json!("node-js")
    })
    .await;
    assert_eq!(stats[0]["serverId"], json!(format!("{hostname}#{pid}")));
    assert_eq!(stats[0]["hostname"], json!(hostname));
    assert_eq!(stats[0]["pid"], json!(pid));
}
