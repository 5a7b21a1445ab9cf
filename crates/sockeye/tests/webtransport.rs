//! Socket.IO over WebTransport: namespaces, events both ways, binary attachments and acks
//! both ways, with the testkit's client on a real HTTP/3 connection over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::json;
use sockeye::{AckSender, Data, Io, Socket, TransportKind};
use sockeye_testkit::webtransport::WtEndpoint;
use sockeye_testkit::{PacketType, TestClient, TestServer, WAIT, packet_args, server_socket};

fn placeholder(num: usize) -> serde_json::Value {
    json!({"_placeholder": true, "num": num})
}

async fn connected() -> (TestServer, WtEndpoint, TestClient, Socket) {
    let io = Io::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.emit("welcome", &"over webtransport").unwrap();
        socket.on(
            "echo",
            |Data(text): Data<String>, ack: AckSender| async move {
                ack.send(&format!("echo:{text}")).unwrap();
            },
        );
        socket.on(
            "file",
            |Data((name, content)): Data<(String, Bytes)>, ack: AckSender| async move {
                ack.send(&(name, content)).unwrap();
            },
        );
        socket.on("ask me", |socket: Socket| async move {
            let answer: Result<String, _> = socket.emit_with_ack("question", &"6*7?").await;
            let reply = answer.unwrap_or_else(|e| e.to_string());
            socket.emit("answered", &reply).unwrap();
        });
    });
    let server = TestServer::start(io).await;
    let endpoint = WtEndpoint::start(server.io());
    let mut client = TestClient::builder(&server.url())
        .transport(endpoint.transport())
        .connect()
        .await;
    let sid = client.connect_ns("/", None).await.unwrap();
    let socket = server_socket(&server.io().of("/"), &sid);
    (server, endpoint, client, socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_acks_go_both_ways() {
    let (_server, _endpoint, mut client, socket) = connected().await;
    assert_eq!(socket.engine().transport(), TransportKind::WebTransport);
    let welcome = client.expect_event("/", "welcome", WAIT).await;
    assert_eq!(packet_args(&welcome), [json!("over webtransport")]);

    let id = client.emit_with_ack("/", "echo", json!(["hi"]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!("echo:hi")]);

    client.emit("/", "ask me", json!([]), vec![]);
    let question = client.expect_event("/", "question", WAIT).await;
    assert_eq!(packet_args(&question), [json!("6*7?")]);
    client.ack("/", question.id.unwrap(), json!(["42"]), vec![]);
    let answered = client.expect_event("/", "answered", WAIT).await;
    assert_eq!(packet_args(&answered), [json!("42")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_attachments_go_both_ways() {
    let (_server, _endpoint, mut client, socket) = connected().await;
    let content = Bytes::from(vec![0u8, 1, 2, 255]);
    let id = client.emit_with_ack(
        "/",
        "file",
        json!(["a.bin", placeholder(0)]),
        vec![content.clone()],
    );
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(ack.kind, PacketType::BinaryAck);
    assert_eq!(packet_args(&ack), [json!("a.bin"), placeholder(0)]);
    assert_eq!(ack.attachments, [content]);

    // Large enough for the 9-byte length header, and an empty one (sent as base64 text).
    let large = Bytes::from(vec![7u8; 100_000]);
    socket
        .emit("blobs", &(large.clone(), Bytes::new()))
        .unwrap();
    let blobs = client.expect_event("/", "blobs", WAIT).await;
    assert_eq!(blobs.attachments, [large, Bytes::new()]);
}
