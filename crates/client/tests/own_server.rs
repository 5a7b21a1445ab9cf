//! The client against our own server, on each transport.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use sockeye::{AckSender, Data, Io, Socket as ServerSocket};
use sockeye_client::Transports;
use sockeye_testkit::TestServer;

mod common;

fn server() -> Io {
    let io = Io::builder().build();
    io.on_connection(|socket: ServerSocket| async move {
        let _ = socket.emit("motd", "Welcome to my server!");
        socket.on(
            "echo",
            |socket: ServerSocket, Data(value): Data<Value>| async move {
                let _ = socket.emit("echoed", &value);
            },
        );
        socket.on(
            "important_message",
            |Data(_message): Data<Value>, ack: AckSender| async move {
                let _ = ack.send("Roger that");
            },
        );
        socket.on(
            "binary",
            |Data((name, data)): Data<(String, Bytes)>, ack: AckSender| async move {
                let _ = ack.send(&(name, data.len(), Bytes::from_static(&[9, 8, 7])));
            },
        );
        socket.on("ask_me", |socket: ServerSocket| async move {
            let reply: Result<String, _> = socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("question", "who?")
                .await;
            let _ = socket.emit("answer_was", &reply.unwrap_or_default());
        });
    });
    io.of("/admin")
        .on_connection(|socket: ServerSocket| async move {
            let _ = socket.emit("hello_admin", "admin here");
        });
    io
}

async fn scenario(transports: Transports) {
    let server = TestServer::start(server()).await;
    common::scenario(&server.base_url(), transports, || {
        // Two namespaces, one Engine.IO session on the server.
        assert_eq!(server.io().engine().session_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn polling() {
    scenario(Transports::Polling).await;
}

#[tokio::test]
async fn websocket() {
    scenario(Transports::WebSocket).await;
}

#[tokio::test]
async fn upgrade() {
    scenario(Transports::PollingThenUpgrade).await;
}
