//! The client against our own server, on each transport.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use serde_json::json;
use sockeye::{AckSender, ConnectError, Data, Event, Io, Socket as ServerSocket};
use sockeye_client::{Parser, Transports};
use sockeye_testkit::TestServer;

mod common;

/// What the client answers to `give_binary`: binary inside an object and an array.
#[derive(serde::Serialize, serde::Deserialize)]
struct Given {
    file: Bytes,
    list: Vec<Bytes>,
    text: String,
}

/// The Engine.IO session and transport under a socket, as `tests/js/rust-client-server.mjs`
/// answers `whoami`.
fn whoami(socket: &ServerSocket) -> serde_json::Value {
    json!({
        "id": socket.id().as_str(),
        "sid": socket.engine().id().as_str(),
        "transport": socket.engine().transport().as_str(),
    })
}

fn server(parser: Parser) -> Io {
    let io = Io::builder().parser(parser).build();
    io.on_connection(|socket: ServerSocket| async move {
        let _ = socket.emit("motd", "Welcome to my server!");
        socket.on(
            "whoami",
            |socket: ServerSocket, ack: AckSender| async move {
                let _ = ack.send(&whoami(&socket));
            },
        );
        socket.on(
            "handshake",
            |socket: ServerSocket, Data(names): Data<Vec<String>>, ack: AckSender| async move {
                let handshake = socket.handshake();
                let query: serde_json::Map<String, serde_json::Value> = names
                    .iter()
                    .map(|name| (name.clone(), json!(handshake.query(name))))
                    .collect();
                let header = handshake
                    .headers()
                    .get("x-sockeye-test")
                    .and_then(|v| v.to_str().ok());
                let _ = ack.send(&json!({"query": query, "header": header}));
            },
        );
        socket.on("echo_ack", |event: Event, ack: AckSender| async move {
            let _ = ack.send_raw(event.args, event.attachments);
        });
        // Closes the transport under the socket, as Node's `socket.conn.close()`.
        socket.on("drop_me", |socket: ServerSocket| async move {
            socket.engine().close();
        });
        socket.on(
            "ask_binary",
            |socket: ServerSocket, ack: AckSender| async move {
                let given: Result<Given, _> = socket
                    .timeout(Duration::from_secs(5))
                    .emit_with_ack("give_binary", "please")
                    .await;
                if let Ok(given) = given {
                    let _ = ack.send(&given);
                }
            },
        );
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
            socket.on(
                "whoami",
                |socket: ServerSocket, ack: AckSender| async move {
                    let _ = ack.send(&whoami(&socket));
                },
            );
            socket.on("kick_me", |socket: ServerSocket| async move {
                socket.disconnect(false);
            });
            let _ = socket.emit("hello_admin", "admin here");
        });
    let private = io.of("/private");
    private.use_middleware(|socket: ServerSocket| async move {
        let token = socket.auth_value()["token"].clone();
        if token == "good" {
            return Ok(());
        }
        Err(ConnectError::new("not authorized").with_data(json!({"token": token})))
    });
    private.on_connection(|socket: ServerSocket| async move {
        // Closes the transport under the socket, as Node's `socket.conn.close()`.
        socket.on("drop_me", |socket: ServerSocket| async move {
            socket.engine().close();
        });
        let _ = socket.emit("auth_was", socket.auth_value());
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
    // The last namespace disconnected closes the connection.
    sockeye_testkit::eventually(sockeye_testkit::WAIT, || {
        server.io().engine().session_count() == 0
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

async fn features(transports: Transports) {
    let server = TestServer::start(server(Parser::Default)).await;
    common::features::features(&server.base_url(), transports).await;
}

#[tokio::test]
async fn polling_features() {
    features(Transports::Polling).await;
}

#[tokio::test]
async fn websocket_features() {
    features(Transports::WebSocket).await;
}

#[tokio::test]
async fn upgrade_features() {
    features(Transports::PollingThenUpgrade).await;
}

/// A client without reconnection, its `/` socket connected to `server`.
async fn connected(
    server: &TestServer,
    transports: Transports,
) -> (sockeye_client::Client, sockeye_client::Socket) {
    let client = sockeye_client::Client::builder(&server.base_url())
        .transports(transports)
        .reconnection(false)
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    common::wait_for(
        &mut lifecycle,
        |e| matches!(e, sockeye_client::Lifecycle::Connect { namespace, .. } if namespace == "/"),
    )
    .await;
    (client, socket)
}

/// Many emits with ack in flight on one connection at once, each with a timeout: every one gets
/// its own answer (ack ids never mixed up), in batches the client's task writes together.
async fn acks_in_flight(transports: Transports) {
    let server = TestServer::start(server(Parser::Default)).await;
    let (_client, socket) = connected(&server, transports).await;
    let loops: Vec<_> = (0..32u64)
        .map(|n| {
            let socket = socket.clone();
            tokio::spawn(async move {
                for i in 0..20u64 {
                    let sent = json!({"loop": n, "i": i});
                    let reply: Value = socket
                        .timeout(sockeye_testkit::WAIT)
                        .emit_with_ack("echo_ack", &sent)
                        .await
                        .unwrap();
                    assert_eq!(reply, sent);
                }
            })
        })
        .collect();
    for one in loops {
        sockeye_testkit::within(sockeye_testkit::WAIT, one)
            .await
            .unwrap();
    }
    socket.disconnect();
}

#[tokio::test]
async fn websocket_acks_in_flight() {
    acks_in_flight(Transports::WebSocket).await;
}

#[tokio::test]
async fn polling_acks_in_flight() {
    acks_in_flight(Transports::Polling).await;
}

/// A wait that is never answered times out on time while answered ones keep coming: the
/// client's one ack timer, armed at the oldest deadline, fires for answered waits first.
#[tokio::test]
async fn ack_timeout_among_answered_acks() {
    let server = TestServer::start(server(Parser::Default)).await;
    let (_client, socket) = connected(&server, Transports::WebSocket).await;
    let busy = {
        let socket = socket.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            while start.elapsed() < Duration::from_millis(600) {
                let reply: Value = socket
                    .timeout(Duration::from_millis(200))
                    .emit_with_ack("echo_ack", &1)
                    .await
                    .unwrap();
                assert_eq!(reply, json!(1));
            }
        })
    };
    let short = Duration::from_millis(300);
    let start = tokio::time::Instant::now();
    let timed_out = socket
        .timeout(short)
        .emit_with_ack::<_, Value>("nobody_answers", &1)
        .await;
    let waited = start.elapsed();
    assert_eq!(timed_out, Err(sockeye_client::Error::AckTimeout(short)));
    assert!(
        waited >= short && waited < short + Duration::from_secs(2),
        "{waited:?}"
    );
    sockeye_testkit::within(sockeye_testkit::WAIT, busy)
        .await
        .unwrap();
    socket.disconnect();
}
