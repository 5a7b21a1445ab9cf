//! The MessagePack parser ([`Parser::MsgPack`]) with npm's `socket.io-client` 4.x and
//! `socket.io-msgpack-parser` (`tests/js/sio-msgpack.mjs`): events with JSON and binary both
//! ways, acknowledgements both ways, a broadcast to a room, a second namespace, connection
//! refusals (a middleware's message and data, an unknown namespace) and a server-side
//! disconnection. Over WebSocket, polling (binary packets base64 with the `b` prefix) and
//! polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use bytes::Bytes;
use common::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sockeye::{AckSender, ConnectError, Data, Event, Io, Parser, Socket, State};

/// The client's binary acknowledgement, sent back to it as it came.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    answer: String,
    bytes: Bytes,
}

fn bin(bytes: &[u8]) -> Value {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    json!({ "$bin": hex })
}

fn handlers(socket: &Socket) {
    // Echoes what arrived without parsing it (the raw path, re-encoded as MessagePack).
    socket.on("echo", |event: Event, ack: AckSender| async move {
        ack.send_raw(event.args, event.attachments).unwrap();
    });
    socket.on("leave-me", |socket: Socket, ack: AckSender| async move {
        ack.send(&()).unwrap();
        socket.disconnect(false);
    });
}

fn setup(io: &Io) {
    io.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        handlers(&socket);
        socket
            .emit(
                "welcome",
                &(
                    json!({"n": 1, "f": 2.5, "neg": -300, "s": "ü", "list": [null, true]}),
                    Bytes::from_static(&[0xde, 0xad]),
                ),
            )
            .unwrap();
        socket.on(
            "sum",
            |Data((a, b)): Data<(i64, i64)>, ack: AckSender| async move {
                ack.send(&json!({ "sum": a + b })).unwrap();
            },
        );
        socket.on(
            "ask-me",
            |socket: Socket, State(log): State<Log>, ack: AckSender| async move {
                let reply: Answer = socket
                    .emit_with_ack("question", &("why", Bytes::from_static(&[5, 6])))
                    .await
                    .unwrap();
                log.push(key("answer", &socket), bin(&reply.bytes));
                ack.send(&reply).unwrap();
            },
        );
        socket.on(
            "join",
            |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
                socket.join(room);
                ack.send(&rooms(&socket)).unwrap();
            },
        );
        socket.on(
            "shout",
            |socket: Socket, Data((text, data)): Data<(String, Bytes)>, ack: AckSender| async move {
                socket
                    .io()
                    .to("room1")
                    .emit("shouted", &(text, data))
                    .unwrap();
                ack.send(&()).unwrap();
            },
        );
    });
    let admin = io.of("/admin");
    admin.use_middleware(|socket: Socket| async move {
        if socket.auth_value()["token"] == "secret" {
            Ok(())
        } else {
            Err(ConnectError::new("not authorized").with_data(json!({"code": 4031})))
        }
    });
    admin.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        handlers(&socket);
        socket.emit("welcome", &"admin").unwrap();
    });
}

async fn run(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log).parser(Parser::MsgPack), setup).await;
    let result = run_script("sio-msgpack.mjs", &server.url, mode).await;
    check_transports(&result, mode);
    let got = &result["got"];

    assert_eq!(
        got["refused"],
        json!({
            "D": {"message": "not authorized", "data": {"code": 4031}},
            "E": {"message": "Invalid namespace", "data": {"$undefined": true}},
        })
    );
    // The connection auth arrived as sent.
    assert_eq!(
        log.wait("connect C /admin").await["auth"]["token"],
        "secret"
    );

    assert_eq!(
        got["welcome"],
        json!([
            {"n": 1, "f": 2.5, "neg": -300, "s": "ü", "list": [null, true]},
            bin(&[0xde, 0xad]),
        ])
    );
    assert_eq!(got["adminWelcome"], json!(["admin"]));

    // Raw echo: the client's JSON and binary came back unchanged, in their places.
    assert_eq!(
        got["echo"],
        json!({
            "text": "héllo 🌍", "n": 42, "neg": -7, "big": 4294967296u64, "pi": 3.25,
            "ok": true, "none": null,
        })
    );
    assert_eq!(got["sum"], json!({"sum": 42}));
    assert_eq!(got["adminEcho"], json!("admin"));

    // Server -> client with ack: the client's binary answer reached the server.
    let answer = json!({"answer": "why!", "bytes": bin(&[5, 6, 7])});
    assert_eq!(got["asked"], answer);
    assert_eq!(log.wait("answer A /").await, bin(&[5, 6, 7]));

    // The room broadcast reached A and B, encoded once, and not C on /admin.
    assert_eq!(
        got["joined"],
        json!([["$self", "room1"], ["$self", "room1"]])
    );
    let shouted = json!(["to room1", bin(&[1, 2, 3])]);
    assert_eq!(got["shoutA"], shouted);
    assert_eq!(got["shoutB"], shouted);
    assert_eq!(got["shoutC"], json!([]));

    assert_eq!(got["disconnectC"][0], "io server disconnect");
    assert_eq!(
        log.wait("disconnect C /admin").await["reason"],
        "server namespace disconnect"
    );
}

transport_modes!(run);

/// On the wire over long-polling: the client's CONNECT goes up as one binary message (`b` and
/// base64 in the payload), and the server's CONNECT reply and first event come down the same
/// way, each packet one MessagePack message; a text message is a protocol error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_payloads_carry_each_packet_as_one_base64_binary_message() {
    use sockeye_socketio_proto::{Packet, PacketType, msgpack};
    use sockeye_testkit::engineio_proto::{Frame, Packet as EioPacket, payload};
    use sockeye_testkit::{http_get, http_request};

    let log = Log::default();
    let server = serve(builder(&log).parser(Parser::MsgPack), setup).await;
    let base = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
    let open = http_get(&base).await.unwrap();
    let handshake = payload::decode(open.body, 16).unwrap();
    let [EioPacket::Open(open)] = handshake.as_slice() else {
        panic!("no handshake: {handshake:?}");
    };
    let url = format!("{base}&sid={}", open.sid);
    let (addr, target) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .unwrap();

    let connect = msgpack::encode(&Packet::connect("/", Some(json!({"name": "raw"}))));
    let body = payload::encode(&[Frame::binary(connect)]);
    assert_eq!(body[0], b'b', "{body:?}");
    let posted = http_request(
        addr.parse().unwrap(),
        http::Method::POST,
        &format!("/{target}"),
        &[],
        body,
    )
    .await
    .unwrap();
    assert_eq!(posted.text(), "ok");

    let got = http_get(&url).await.unwrap();
    assert!(got.body.starts_with(b"b"), "{}", got.text());
    let packets = payload::decode(got.body, 16).unwrap();
    let decoded: Vec<Packet> = packets
        .into_iter()
        .map(|packet| match packet {
            EioPacket::Binary(bytes) => msgpack::decode(&bytes).unwrap(),
            other => panic!("not a binary message: {other:?}"),
        })
        .collect();
    assert_eq!(decoded[0].kind, PacketType::Connect);
    let sid = decoded[0].data.as_ref().unwrap().to_value()["sid"].clone();
    assert_eq!(log.wait("connect raw /").await["id"], sid);
    assert_eq!(decoded[1].event_name().as_deref(), Some("welcome"));
    assert_eq!(decoded[1].kind, PacketType::BinaryEvent);
    assert_eq!(decoded[1].attachments, [Bytes::from_static(&[0xde, 0xad])]);

    // Text is not how this parser speaks: the connection is closed.
    let text = payload::encode(&[Frame::message(r#"2["echo"]"#)]);
    let posted = http_request(
        addr.parse().unwrap(),
        http::Method::POST,
        &format!("/{target}"),
        &[],
        text,
    )
    .await
    .unwrap();
    assert_eq!(posted.text(), "ok");
    assert_eq!(log.wait("disconnect raw /").await["reason"], "parse error");
}
