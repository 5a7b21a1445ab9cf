//! The client against Node's socket.io 4.8 server (`tests/js/rust-client-server.mjs`), on
//! each transport. Needs `node` and `npm ci --prefix tests/js`.
#![allow(clippy::unwrap_used)]

use sockeye_client::{Parser, Transports};
use sockeye_testkit::{WAIT, within};

mod common;

use common::node::{NodeServer, node_server as node_server_with};

async fn node_server() -> NodeServer {
    node_server_with("default").await
}

#[tokio::test]
async fn polling() {
    let node = node_server().await;
    common::scenario(&node.url, Transports::Polling, || {}).await;
}

#[tokio::test]
async fn websocket() {
    let node = node_server().await;
    common::scenario(&node.url, Transports::WebSocket, || {}).await;
}

#[tokio::test]
async fn upgrade() {
    let node = node_server().await;
    common::scenario(&node.url, Transports::PollingThenUpgrade, || {}).await;
}

#[tokio::test]
async fn polling_features() {
    let node = node_server().await;
    common::features::features(&node.url, Transports::Polling).await;
}

#[tokio::test]
async fn websocket_features() {
    let node = node_server().await;
    common::features::features(&node.url, Transports::WebSocket).await;
}

#[tokio::test]
async fn upgrade_features() {
    let node = node_server().await;
    common::features::features(&node.url, Transports::PollingThenUpgrade).await;
}

#[tokio::test]
async fn connection_state_recovery() {
    use sockeye_client::{Client, Lifecycle};
    use std::time::Duration;
    let node = node_server().await;
    let client = Client::builder(&node.url)
        .transports(Transports::WebSocket)
        .reconnection_delay(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert!(!socket.recovered());
    let id = socket.id();
    socket.emit("drop_me", &()).unwrap();
    let reason = common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert!(matches!(reason, Lifecycle::Disconnect { reason, .. } if reason.reconnects()));
    let connect =
        common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert_eq!(
        connect,
        Lifecycle::Connect {
            namespace: "/".into(),
            recovered: true
        }
    );
    assert!(socket.recovered());
    assert_eq!(socket.id(), id);
    socket.disconnect();
}

#[tokio::test]
async fn auth_and_connect_error() {
    use serde_json::{Value, json};
    use sockeye_client::{Ack, Client, Lifecycle};
    let node = node_server().await;
    let refused = Client::builder(&node.url)
        .auth(json!({"token": "bad"}))
        .build()
        .unwrap();
    let mut lifecycle = refused.lifecycle();
    refused.socket("/private").connect();
    let event = common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::ConnectError { .. })
    })
    .await;
    assert_eq!(
        event,
        Lifecycle::ConnectError {
            namespace: "/private".into(),
            message: "not authorized".into(),
            data: Some(json!({"token": "bad"})),
        }
    );

    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let client = Client::builder(&node.url)
        .auth_with(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { json!({"token": "good"}) }
        })
        .build()
        .unwrap();
    let socket = client.socket("/private");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    socket.on("auth_was", move |auth: Value, _: Ack| {
        let _ = tx.send(auth);
    });
    socket.connect();
    assert_eq!(
        within(WAIT, rx.recv()).await.unwrap(),
        json!({"token": "good"})
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    socket.disconnect();
}

#[tokio::test]
async fn msgpack_polling() {
    let node = node_server_with("msgpack").await;
    common::scenario_with(&node.url, Transports::Polling, Parser::MsgPack, || {}).await;
}

#[tokio::test]
async fn msgpack_websocket() {
    let node = node_server_with("msgpack").await;
    common::scenario_with(&node.url, Transports::WebSocket, Parser::MsgPack, || {}).await;
}

#[tokio::test]
async fn msgpack_upgrade() {
    let node = node_server_with("msgpack").await;
    common::scenario_with(
        &node.url,
        Transports::PollingThenUpgrade,
        Parser::MsgPack,
        || {},
    )
    .await;
}

/// A path written without its trailing slash (`/socket.io`, as JavaScript users often write
/// it) reaches Node's server, which matches `/socket.io/` as a prefix: the client adds the
/// slash, as engine.io-client's `addTrailingSlash` does by default.
#[tokio::test]
async fn path_without_trailing_slash() {
    use sockeye_client::{Client, Lifecycle};
    let node = node_server().await;
    for transports in [Transports::Polling, Transports::WebSocket] {
        let client = Client::builder(&node.url)
            .path("/socket.io")
            .transports(transports)
            .reconnection(false)
            .build()
            .unwrap();
        let mut lifecycle = client.lifecycle();
        client.socket("/").connect();
        let event = common::wait_for(&mut lifecycle, |e| {
            matches!(
                e,
                Lifecycle::Connect { .. } | Lifecycle::ConnectError { .. }
            )
        })
        .await;
        assert!(
            matches!(event, Lifecycle::Connect { .. }),
            "{transports:?}: {event:?}"
        );
        client.close();
    }
}
