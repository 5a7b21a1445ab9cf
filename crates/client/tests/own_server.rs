//! The client against our own server, on each transport.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use sockeye::{AckSender, Data, Io, Socket as ServerSocket};
use sockeye_client::{Parser, Transports};
use sockeye_testkit::TestServer;

mod common;

fn server(parser: Parser) -> Io {
    let io = Io::builder().parser(parser).build();
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
    scenario_with(transports, Parser::Default).await;
}

async fn scenario_with(transports: Transports, parser: Parser) {
    let server = TestServer::start(server(parser)).await;
    common::scenario_with(&server.base_url(), transports, parser, || {
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

#[tokio::test]
async fn msgpack_polling() {
    scenario_with(Transports::Polling, Parser::MsgPack).await;
}

#[tokio::test]
async fn msgpack_websocket() {
    scenario_with(Transports::WebSocket, Parser::MsgPack).await;
}

#[tokio::test]
async fn msgpack_upgrade() {
    scenario_with(Transports::PollingThenUpgrade, Parser::MsgPack).await;
}
