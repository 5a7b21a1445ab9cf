//! The admin namespace with our Rust client acting as the UI, on a loopback server: login,
//! `session`, `config`, `server_stats`, the commands, read-only mode.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use sockeye::{Io, Socket as ServerSocket};
use sockeye_admin::Admin;
use sockeye_client::{Client, DisconnectReason, Lifecycle};
use sockeye_testkit::{TestServer, WAIT, within};
use tokio::sync::{broadcast, mpsc};

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

async fn connected(lifecycle: &mut broadcast::Receiver<Lifecycle>, ns: &str) -> Result<(), String> {
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
async fn demo(url: &str) -> (Client, String, broadcast::Receiver<Lifecycle>) {
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
    assert!(stats["serverId"].is_string() && stats["hostname"].is_string());
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
}
