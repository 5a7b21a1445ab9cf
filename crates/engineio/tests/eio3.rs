//! Engine.IO protocol v3 (socket.io 2.x clients) with `allow_eio3`: length-prefixed polling
//! payloads, binary polling bodies, `b4` base64, `0x04`-prefixed WebSocket binary frames and
//! client-driven heartbeats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{StatusCode, header};
use sockeye_engineio::{CloseReason, Frame, Message, ProtocolVersion, TransportKind};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

fn v3_path(sid: &str) -> String {
    format!("{PATH}?EIO=3&transport=polling&sid={sid}")
}

/// Splits a v3 string payload (`<length>:<packet>...`, lengths in UTF-16 units).
fn split_v3(body: &str) -> Vec<String> {
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (length, tail) = rest.split_once(':').expect("length prefix");
        let length: usize = length.parse().expect("length");
        let mut units = 0;
        let end = tail
            .char_indices()
            .find(|(_, c)| {
                let done = units >= length;
                units += c.len_utf16();
                done
            })
            .map_or(tail.len(), |(i, _)| i);
        packets.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    packets
}

async fn v3_handshake(server: &Server, query: &str) -> String {
    let response = get(server.addr, &format!("{PATH}?{query}")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "text/plain; charset=UTF-8"
    );
    let body = response.text();
    let packets = split_v3(body);
    assert_eq!(packets.len(), 1, "{body}");
    let prefix = format!("{}:", packets[0].encode_utf16().count());
    assert!(body.starts_with(&prefix), "{body}");
    let open = open_json(&packets[0]);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    open["sid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_is_accepted_only_when_allowed() {
    let server = start(config()).await;
    get(server.addr, "/engine.io/?EIO=3&transport=polling")
        .await
        .assert_refused(
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        );

    let mut server = start(config().allow_eio3(true)).await;
    v3_handshake(&server, "EIO=3&transport=polling").await;
    assert_eq!(server.expect_open().await.protocol(), ProtocolVersion::V3);
    // Without EIO, as in Node, the client is taken for v3.
    v3_handshake(&server, "transport=polling").await;
    assert_eq!(server.expect_open().await.protocol(), ProtocolVersion::V3);
    // v4 still works.
    let (_, open) = server.handshake().await;
    assert_eq!(open["maxPayload"], 1_000_000);
    assert_eq!(server.expect_open().await.protocol(), ProtocolVersion::V4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_polling_payloads_are_length_prefixed() {
    let mut server = start(config().allow_eio3(true)).await;
    let sid = v3_handshake(&server, "EIO=3&transport=polling").await;
    server.expect_open().await;

    let response = post(
        server.addr,
        &v3_path(&sid),
        "6:4hello2:4€3:4😀10:b4AQIDBA==",
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "ok");
    assert_eq!(server.expect_text(&sid).await, "hello");
    assert_eq!(server.expect_text(&sid).await, "€");
    assert_eq!(server.expect_text(&sid).await, "😀");
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))
    );

    // The echoes: all text, because this client asked for base64...
    let path = format!("{}&b64=1", v3_path(&sid));
    let mut body = String::new();
    while split_v3(&body).len() < 4 {
        body.push_str(within(WAIT, get(server.addr, &path)).await.text());
    }
    assert_eq!(body, "6:4hello2:4€3:4😀10:b4AQIDBA==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_binary_goes_in_a_binary_body_when_the_client_takes_binary() {
    let server = start(config().allow_eio3(true)).await;
    let sid = v3_handshake(&server, "EIO=3&transport=polling").await;
    server
        .socket(&sid)
        .send_all(&[Frame::message("€"), Frame::binary(vec![1u8, 2, 3, 4])])
        .unwrap();
    let response = get(server.addr, &v3_path(&sid)).await;
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "application/octet-stream"
    );
    assert_eq!(
        response.body,
        Bytes::from_static(b"\x00\x04\xff4\xe2\x82\xac\x01\x05\xff\x04\x01\x02\x03\x04")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_clients_ping_and_the_server_pongs() {
    let interval = Duration::from_millis(150);
    let timeout = Duration::from_millis(400);
    let mut server = start(
        config()
            .allow_eio3(true)
            .ping_interval(interval)
            .ping_timeout(timeout),
    )
    .await;
    let start = Instant::now();
    let sid = v3_handshake(&server, "EIO=3&transport=polling").await;
    server.expect_open().await;

    // The client pings; each ping is answered and keeps the session alive.
    let mut last_ping = Instant::now();
    for _ in 0..6 {
        last_ping = Instant::now();
        assert_eq!(post(server.addr, &v3_path(&sid), "2:2x").await.text(), "ok");
        let response = within(WAIT, get(server.addr, &v3_path(&sid))).await;
        assert_eq!(response.text(), "2:3x");
        tokio::time::sleep(interval).await;
    }
    assert!(start.elapsed() > interval + timeout);
    assert!(!server.socket(&sid).is_closed());

    // A v3 client that stops pinging times out interval + timeout after its last ping.
    assert_eq!(server.expect_close(&sid).await, CloseReason::PingTimeout);
    let silence = last_ping.elapsed();
    assert!(
        silence + Duration::from_millis(5) >= interval + timeout,
        "closed {silence:?} after the last ping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_websocket_binary_frames_carry_the_type_byte() {
    let mut server = start(config().allow_eio3(true)).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket").await;
    let open = open_json(&ws_text(&mut ws).await);
    assert_eq!(open["upgrades"], serde_json::json!([]));
    let sid = open["sid"].as_str().unwrap().to_owned();
    let socket = server.expect_open().await;
    assert_eq!(socket.protocol(), ProtocolVersion::V3);

    ws_send_binary(&mut ws, vec![4u8, 9, 8, 7]).await;
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(Bytes::from_static(&[9, 8, 7]))
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(Bytes::from_static(&[
            4, 9, 8, 7
        ])))
    );
    // A large one, which the session writes without the codec's buffer: the type byte too.
    let large: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    ws_send_binary(&mut ws, [&[4u8][..], &large].concat()).await;
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(large.clone().into())
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(
            [&[4u8][..], &large].concat().into()
        ))
    );
    ws_send(&mut ws, "4text").await;
    assert_eq!(ws_text(&mut ws).await, "4text");
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    assert_eq!(server.expect_text(&sid).await, "text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_sessions_upgrade() {
    let mut server = start(config().allow_eio3(true)).await;
    let sid = v3_handshake(&server, "EIO=3&transport=polling").await;
    let socket = server.expect_open().await;

    let addr = server.addr;
    let path = v3_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut ws = ws_connect(server.addr, &format!("EIO=3&transport=websocket&sid={sid}")).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    assert_eq!(within(WAIT, pending).await.unwrap().text(), "1:6");
    ws_send(&mut ws, "5").await;
    ws_send(&mut ws, "4over ws").await;
    assert_eq!(server.expect_text(&sid).await, "over ws");
    assert_eq!(socket.transport(), TransportKind::WebSocket);
    socket.send(Frame::binary(vec![1u8])).unwrap();
    // The echo first, then the binary frame with its type byte.
    assert_eq!(ws_text(&mut ws).await, "4over ws");
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(Bytes::from_static(&[4, 1])))
    );
}
