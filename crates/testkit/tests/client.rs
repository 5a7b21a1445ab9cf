//! The test client against a real server, on both transports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use serde_json::json;
use sockeye::{AckSender, Event, Io, Socket};
use sockeye_testkit::{
    PacketType, QUIET, TestClient, TestServer, Transport, WAIT, packet_args, recorder,
};

fn echo(io: &Io) {
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |socket: Socket, event: Event| async move {
            socket
                .emit_raw("echo", event.args, event.attachments)
                .unwrap();
        });
        socket.on("ack", |event: Event, ack: AckSender| async move {
            ack.send_raw(event.args, event.attachments).unwrap();
        });
    });
}

#[tokio::test]
async fn events_acks_and_binary_travel_on_both_transports() {
    let server = TestServer::start(Io::builder()).await;
    echo(server.io());
    for transport in [Transport::WebSocket, Transport::Polling] {
        let mut client = TestClient::builder(&server.url())
            .transport(transport)
            .connect()
            .await;
        assert_eq!(client.transport(), transport);
        let sid = client.connect_ns("/", None).await.unwrap();
        assert_ne!(sid, client.sid());

        let blob = Bytes::from_static(&[0, 1, 2]);
        client.emit(
            "/",
            "echo",
            json!(["x", {"_placeholder": true, "num": 0}]),
            vec![blob.clone()],
        );
        let (packet, text) = client.recv_wire(WAIT).await;
        assert_eq!(packet.kind, PacketType::BinaryEvent);
        assert_eq!(text, r#"51-["echo","x",{"_placeholder":true,"num":0}]"#);
        assert_eq!(packet.attachments, [blob]);

        let id = client.emit_with_ack("/", "ack", json!([1, 2]), vec![]);
        let ack = client.expect_ack("/", id, WAIT).await;
        assert_eq!(packet_args(&ack), [json!(1), json!(2)]);

        client.close();
        client.expect_closed(WAIT).await;
        assert!(client.is_closed());
    }
}

#[tokio::test]
async fn packets_skipped_by_a_wait_are_kept_in_order() {
    let server = TestServer::start(Io::builder()).await;
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    let socket = sockeye_testkit::server_socket(&server.io().of("/"), &sid);
    for name in ["a", "b", "c"] {
        socket.emit(name, &()).unwrap();
    }
    client.expect_event("/", "c", WAIT).await;
    assert_eq!(
        client.recv_packet(WAIT).await.event_name().as_deref(),
        Some("a")
    );
    assert_eq!(
        client.recv_packet(WAIT).await.event_name().as_deref(),
        Some("b")
    );
    client.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn a_connect_error_is_returned() {
    let server = TestServer::start(Io::builder()).await;
    let mut client = TestClient::connect(&server.url()).await;
    let error = client.connect_ns("/missing", None).await.unwrap_err();
    assert_eq!(error, json!({"message": "Invalid namespace"}));
    let (seen, mut records) = recorder();
    seen.record(1);
    assert_eq!(records.next().await, 1);
    records.expect_none(QUIET).await;
}
