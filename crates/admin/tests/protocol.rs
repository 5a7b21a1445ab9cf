//! The admin namespace with our Rust client acting as the UI, on a loopback server: login,
//! `session`, `config`, `server_stats`, the commands, read-only mode.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sockeye::{Io, Socket as ServerSocket};
use sockeye_admin::Admin;
use sockeye_client::{Client, DisconnectReason, Lifecycle, LifecycleReceiver};
use sockeye_testkit::{TestServer, WAIT, within};
use tokio::sync::mpsc;

/// The demo side: sockets of `/` get `hello` events recorded by the test's client.
fn io() -> Io {
    let io = Io::builder().build();
    io.on_connection(|_socket: ServerSocket| async move {});
    io
}

/// A client whose `/admin` socket forwards every event, name and arguments.
fn ui(url: &str, auth: Value) -> (Client, mpsc::UnboundedReceiver<(String, Vec<Value>)>) {
    let client = Client::builder(url)
        .auth(auth)
        .reconnection(false)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let admin = client.socket("/admin");
    admin.on_any(move |event| {
        let _ = tx.send((event.name().to_string(), event.values()));
    });
    admin.connect();
    (client, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(String, Vec<Value>)>, name: &str) -> Vec<Value> {
    within(WAIT, async {
        loop {
            let (event, args) = rx.recv().await.unwrap();
            if event == name {
                return args;
            }
        }
    })
    .await
}

async fn connected(lifecycle: &mut LifecycleReceiver, ns: &str) -> Result<(), String> {
    within(WAIT, async {
        loop {
            match lifecycle.recv().await.unwrap() {
                Lifecycle::Connect { namespace, .. } if namespace == ns => return Ok(()),
                Lifecycle::ConnectError {
                    namespace, message, ..
                } if namespace == ns => return Err(message),
                _ => {}
            }
        }
    })
    .await
}

/// A demo client on `/`, connected; returns its socket id.
async fn demo(url: &str) -> (Client, String, LifecycleReceiver) {
    let client = Client::builder(url).reconnection(false).build().unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    connected(&mut lifecycle, "/").await.unwrap();
    let id = socket.id().unwrap();
    (client, id, lifecycle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_session_config_stats_and_commands() {
    let io = io();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let _admin = Admin::builder().auth("admin", hash).attach(&io).unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();

    let (demo_client, demo_id, mut demo_lifecycle) = demo(&url).await;
    let (tx, mut demo_events) = mpsc::unbounded_channel();
    demo_client.socket("/").on("hello", move |v: Value, _ack| {
        let _ = tx.send(v);
    });

    let (ui_client, mut events) = ui(&url, json!({ "username": "admin", "password": "s3cret" }));
    let session = next(&mut events, "session").await;
    let session = session[0].as_str().unwrap().to_owned();
    assert_eq!(session.len(), 16);
    let config = next(&mut events, "config").await;
    let features = config[0]["supportedFeatures"].as_array().unwrap();
    for f in ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "AGGREGATED_EVENTS"] {
        assert!(features.contains(&json!(f)), "{f} in {features:?}");
    }

    let stats = &next(&mut events, "server_stats").await[0];
    assert_eq!(stats["pid"], json!(std::process::id()));
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    assert_eq!(stats["hostname"], json!(hostname));
    // One node (in memory): the host name, as Node outside a cluster worker.
    assert_eq!(stats["serverId"], json!(hostname));
    assert!(stats["uptime"].is_number());
    assert_eq!(stats["clientsCount"], json!(2));
    assert!(stats["pollingClientsCount"].is_number());
    assert!(stats["aggregatedEvents"].is_array());
    let namespaces = stats["namespaces"].as_array().unwrap();
    assert!(
        namespaces.contains(&json!({ "name": "/", "socketsCount": 1 })),
        "{namespaces:?}"
    );
    assert!(
        namespaces.contains(&json!({ "name": "/admin", "socketsCount": 1 })),
        "{namespaces:?}"
    );

    let admin = ui_client.socket("/admin");
    // emit to the namespace, then to one socket by its id.
    admin
        .emit("emit", &("/", Value::Null, "hello", "everyone"))
        .unwrap();
    assert_eq!(
        within(WAIT, demo_events.recv()).await,
        Some(json!("everyone"))
    );
    admin
        .emit("emit", &("/", &demo_id, "hello", json!({"to": "you"})))
        .unwrap();
    assert_eq!(
        within(WAIT, demo_events.recv()).await,
        Some(json!({"to": "you"}))
    );

    // join by socket id; the server side sees the room.
    admin.emit("join", &("/", "room1", &demo_id)).unwrap();
    admin
        .emit("emit", &("/", "room1", "hello", "room1"))
        .unwrap();
    assert_eq!(within(WAIT, demo_events.recv()).await, Some(json!("room1")));
    let rooms = io.of("/").sockets()[0].rooms();
    assert!(rooms.iter().any(|r| &**r == "room1"), "{rooms:?}");
    admin.emit("leave", &("/", "room1", &demo_id)).unwrap();
    admin
        .emit("emit", &("/", "room1", "hello", "not for you"))
        .unwrap();
    admin
        .emit("emit", &("/", Value::Null, "hello", "after leave"))
        .unwrap();
    assert_eq!(
        within(WAIT, demo_events.recv()).await,
        Some(json!("after leave"))
    );

    // _disconnect by socket id: the demo client sees "io server disconnect".
    admin.emit("_disconnect", &("/", false, &demo_id)).unwrap();
    let reason = within(WAIT, async {
        loop {
            if let Lifecycle::Disconnect { namespace, reason } =
                demo_lifecycle.recv().await.unwrap()
            {
                if namespace == "/" {
                    return reason;
                }
            }
        }
    })
    .await;
    assert_eq!(reason, DisconnectReason::IoServerDisconnect);
}

#[tokio::test]
async fn a_session_id_logs_in_again() {
    let io = io();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let _admin = Admin::builder().auth("admin", hash).attach(&io).unwrap();
    let server = TestServer::start(io).await;
    let url = server.base_url();
    let (_first, mut events) = ui(&url, json!({ "username": "admin", "password": "s3cret" }));
    let session = next(&mut events, "session").await[0]
        .as_str()
        .unwrap()
        .to_owned();
    // A reconnecting UI sends the session id alone.
    let (_again, mut again_events) = ui(&url, json!({ "sessionId": session }));
    let config = next(&mut again_events, "config").await;
    assert!(config[0]["supportedFeatures"].is_array());
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let io = io();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let _admin = Admin::builder().auth("admin", hash).attach(&io).unwrap();
    let server = TestServer::start(io).await;
    for auth in [
        json!({ "username": "admin", "password": "wrong" }),
        json!({ "username": "other", "password": "s3cret" }),
        json!({ "sessionId": "0123456789abcdef" }),
        json!({}),
    ] {
        let client = Client::builder(&server.base_url())
            .auth(auth)
            .reconnection(false)
            .build()
            .unwrap();
        let mut lifecycle = client.lifecycle();
        client.socket("/admin").connect();
        let refused = connected(&mut lifecycle, "/admin").await;
        assert_eq!(refused, Err("invalid credentials".to_owned()));
    }
}

#[test]
fn a_password_that_is_not_a_hash_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let error = Admin::builder()
        .auth("admin", "plain")
        .attach(&io())
        .unwrap_err();
    assert!(error.to_string().contains("bcrypt"));
}

#[tokio::test]
async fn readonly_offers_no_commands_and_ignores_them() {
    let io = io();
    let _admin = Admin::builder().readonly(true).attach(&io).unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();
    let (demo_client, demo_id, _lifecycle) = demo(&url).await;

    let (ui_client, mut events) = ui(&url, json!({}));
    let config = next(&mut events, "config").await;
    assert_eq!(config[0]["supportedFeatures"], json!(["AGGREGATED_EVENTS"]));
    let admin = ui_client.socket("/admin");
    admin.emit("join", &("/", "room1", &demo_id)).unwrap();
    admin.emit("_disconnect", &("/", false, &demo_id)).unwrap();
    // The commands went before the next stats; by then nothing has changed.
    next(&mut events, "server_stats").await;
    next(&mut events, "server_stats").await;
    assert!(demo_client.socket("/").connected());
    let rooms = io.of("/").sockets()[0].rooms();
    assert!(!rooms.iter().any(|r| &**r == "room1"), "{rooms:?}");
}

#[tokio::test]
async fn development_mode_sends_all_sockets() {
    let io = io();
    let _admin = Admin::builder()
        .mode(sockeye_admin::Mode::Development)
        .attach(&io)
        .unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();
    let (_demo, demo_id, _lifecycle) = demo(&url).await;
    io.of("/").sockets()[0].join("room1");
    let (_ui, mut events) = ui(&url, json!({}));
    let config = next(&mut events, "config").await;
    assert!(
        config[0]["supportedFeatures"]
            .as_array()
            .unwrap()
            .contains(&json!("ALL_EVENTS"))
    );
    let all = next(&mut events, "all_sockets").await;
    let sockets = all[0].as_array().unwrap();
    let demo = sockets.iter().find(|s| s["id"] == json!(demo_id)).unwrap();
    assert_eq!(demo["nsp"], json!("/"));
    assert!(demo["rooms"].as_array().unwrap().contains(&json!("room1")));
    assert!(demo["rooms"].as_array().unwrap().contains(&json!(demo_id)));
    assert!(["polling", "websocket"].contains(&demo["transport"].as_str().unwrap()));
    assert_eq!(demo["clientId"].as_str().unwrap().len(), 12);
    assert_eq!(demo["handshake"]["address"], json!("127.0.0.1"));
    // Every field of Node's handshake: the UI's socket page reads them all.
    let handshake = &demo["handshake"];
    assert_eq!(handshake["query"]["EIO"], json!("4"), "{handshake}");
    assert!(handshake["headers"].is_object() && handshake["issued"].is_u64());
    assert!(is_date(&handshake["time"]), "{handshake}");
    assert_eq!(handshake["secure"], json!(false));
    assert_eq!(handshake["xdomain"], json!(false));
    assert!(
        handshake["url"]
            .as_str()
            .unwrap()
            .starts_with("/socket.io/?EIO=4")
    );
}

/// A JavaScript `Date` as JSON: `2026-12-07T05:10:32.123Z`.
fn is_date(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    text.len() == 24 && text.ends_with('Z') && text.as_bytes()[10] == b'T'
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_sends_live_events_and_aggregated_counts() {
    let io = Io::builder().build();
    io.on_connection(|socket: ServerSocket| async move {
        socket.on(
            "ping",
            |socket: ServerSocket, sockeye::Data(n): sockeye::Data<i64>| async move {
                socket.join("room1");
                let _ = socket.emit("pong", &(n + 1));
                socket.leave("room1");
            },
        );
    });
    let _admin = Admin::builder()
        .mode(sockeye_admin::Mode::Development)
        .attach(&io)
        .unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();
    let (ui_client, mut events) = ui(&url, json!({}));
    // aggregatedEvents, summed over every report.
    let totals: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let sums = totals.clone();
    ui_client
        .socket("/admin")
        .on("server_stats", move |stats: Value, _ack| {
            for entry in stats["aggregatedEvents"].as_array().unwrap() {
                assert_eq!(entry["timestamp"].as_u64().unwrap() % 1000, 0, "{entry}");
                let key = match entry["subType"].as_str() {
                    Some(sub) => format!("{}:{sub}", entry["type"].as_str().unwrap()),
                    None => entry["type"].as_str().unwrap().to_owned(),
                };
                *sums.lock().unwrap().entry(key).or_default() += entry["count"].as_u64().unwrap();
            }
        });
    next(&mut events, "all_sockets").await;

    let (demo_client, demo_id, _lifecycle) = demo(&url).await;
    // As in Node, the socket is in its own room before it is announced.
    let joined = next(&mut events, "room_joined").await;
    assert_eq!(joined[..3], [json!("/"), json!(demo_id), json!(demo_id)]);
    assert!(is_date(&joined[3]), "{joined:?}");
    let connected = next(&mut events, "socket_connected").await;
    assert_eq!(connected[0]["id"], json!(demo_id));
    assert_eq!(connected[0]["nsp"], json!("/"));
    assert_eq!(connected[0]["rooms"], json!([demo_id]));
    assert_eq!(connected[0]["clientId"].as_str().unwrap().len(), 12);
    assert_eq!(connected[0]["transport"], json!("polling"));
    assert!(is_date(&connected[1]));

    demo_client.socket("/").emit("ping", &41).unwrap();
    let received = next(&mut events, "event_received").await;
    assert_eq!(
        received[..3],
        [json!("/"), json!(demo_id), json!(["ping", 41])]
    );
    assert!(is_date(&received[3]));
    let joined = next(&mut events, "room_joined").await;
    assert_eq!(joined[..3], [json!("/"), json!("room1"), json!(demo_id)]);
    let sent = next(&mut events, "event_sent").await;
    assert_eq!(sent[..3], [json!("/"), json!(demo_id), json!(["pong", 42])]);
    assert!(is_date(&sent[3]));
    let left = next(&mut events, "room_left").await;
    assert_eq!(left[..3], [json!("/"), json!("room1"), json!(demo_id)]);

    // The client upgrades to WebSocket; the UI hears of it with the next server_stats (of
    // its own socket's upgrade too).
    let updated = within(WAIT, async {
        loop {
            let updated = next(&mut events, "socket_updated").await;
            if updated[0]["id"] == json!(demo_id) {
                return updated;
            }
        }
    })
    .await;
    assert_eq!(
        updated[0],
        json!({ "id": demo_id, "nsp": "/", "transport": "websocket" })
    );

    demo_client.socket("/").disconnect();
    let left = next(&mut events, "room_left").await;
    assert_eq!(left[..3], [json!("/"), json!(demo_id), json!(demo_id)]);
    let gone = next(&mut events, "socket_disconnected").await;
    assert_eq!(
        gone[..3],
        [
            json!("/"),
            json!(demo_id),
            json!("client namespace disconnect")
        ]
    );
    assert!(is_date(&gone[3]));
    drop(demo_client);

    // Until a report has counted the demo's connection closing.
    within(WAIT, async {
        while !totals
            .lock()
            .unwrap()
            .contains_key("rawDisconnection:transport close")
        {
            next(&mut events, "server_stats").await;
        }
    })
    .await;
    let totals = totals.lock().unwrap().clone();
    // The UI's connection and the demo's.
    assert_eq!(totals.get("rawConnection"), Some(&2), "{totals:?}");
    assert_eq!(totals.get("rawDisconnection:transport close"), Some(&1));
    // The demo's CONNECT and ping at least; the UI's CONNECT.
    assert!(totals["packetsIn"] >= 3, "{totals:?}");
    assert!(totals["bytesIn"] > totals["packetsIn"], "{totals:?}");
    // config, all_sockets, the live events, the demo's CONNECT reply and pong...
    assert!(totals["packetsOut"] >= 10, "{totals:?}");
    assert!(totals["bytesOut"] > totals["packetsOut"], "{totals:?}");
    drop(ui_client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_sends_no_live_events() {
    let io = io();
    let _admin = Admin::builder().attach(&io).unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();
    let (_ui, mut events) = ui(&url, json!({}));
    next(&mut events, "config").await;
    let (_demo, _id, _lifecycle) = demo(&url).await;
    // The next report counts the demo's connection, and nothing live came before it.
    let stats = within(WAIT, async {
        loop {
            let (event, args) = events.recv().await.unwrap();
            assert!(
                ["server_stats", "config"].contains(&event.as_str()),
                "{event} {args:?}"
            );
            if event == "server_stats" {
                let aggregated = args[0]["aggregatedEvents"].as_array().unwrap().clone();
                if aggregated
                    .iter()
                    .any(|e| e["type"] == json!("rawConnection"))
                {
                    return aggregated;
                }
            }
        }
    })
    .await;
    assert!(stats.iter().any(|e| e["type"] == json!("packetsIn")));
}

/// The live events are not built while no UI is connected; a UI that connects after another
/// left hears them again.
#[tokio::test]
async fn a_ui_connecting_after_another_left_hears_live_events() {
    let io = io();
    let _admin = Admin::builder()
        .mode(sockeye_admin::Mode::Development)
        .attach(&io)
        .unwrap();
    let server = TestServer::start(io.clone()).await;
    let url = server.base_url();
    let (first, mut first_events) = ui(&url, json!({}));
    next(&mut first_events, "all_sockets").await;
    first.socket("/admin").disconnect();
    // The server has no hook to await for it: its socket list is polled.
    within(WAIT, async {
        while !io.of("/admin").sockets().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    // With no UI: nothing to hear.
    let (_unheard, _unheard_id, _l) = demo(&url).await;
    let (_second, mut events) = ui(&url, json!({}));
    next(&mut events, "all_sockets").await;
    let (_demo, demo_id, _lifecycle) = demo(&url).await;
    let connected = next(&mut events, "socket_connected").await;
    // Its own connection came first; the demo's next.
    let connected = if connected[0]["nsp"] == json!("/admin") {
        next(&mut events, "socket_connected").await
    } else {
        connected
    };
    assert_eq!(connected[0]["id"], json!(demo_id));
}
