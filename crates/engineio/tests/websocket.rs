//! The WebSocket transport: text and raw binary frames, order, the message size limit and bad
//! input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use http::{Method, header};
use sockeye_engineio::{CloseReason, Frame, Message};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_binary_messages_echo() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;

    ws_send(&mut ws, "4hello").await;
    assert_eq!(ws_text(&mut ws).await, "4hello");
    assert_eq!(server.expect_text(&sid).await, "hello");

    ws_send(&mut ws, "4héllo wörld € 😀 日本語").await;
    assert_eq!(ws_text(&mut ws).await, "4héllo wörld € 😀 日本語");
    assert_eq!(server.expect_text(&sid).await, "héllo wörld € 😀 日本語");

    ws_send(&mut ws, "4").await;
    assert_eq!(ws_text(&mut ws).await, "4");
    assert_eq!(server.expect_text(&sid).await, "");

    // Binary frames are the message bytes themselves: no type digit, no base64.
    let data: Vec<u8> = (0..=255).collect();
    ws_send_binary(&mut ws, data.clone()).await;
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(Bytes::from(data.clone())))
    );
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(Bytes::from(data))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_binary_frames_raw() {
    let server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    let socket = server.socket(&sid);
    socket.send(Frame::binary(vec![4u8, 0, 255])).unwrap();
    socket.send(Frame::binary(Vec::<u8>::new())).unwrap();
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(Bytes::from_static(&[
            4, 0, 255
        ])))
    );
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(Bytes::new()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_arrive_in_order() {
    let server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    let socket = server.socket(&sid);
    let sender = tokio::spawn(async move {
        for i in 0..2000 {
            socket.send(Frame::message(&i.to_string())).unwrap();
            if i % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    for i in 0..2000 {
        assert_eq!(ws_text(&mut ws).await, format!("4{i}"));
    }
    sender.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_at_max_payload_is_accepted() {
    let mut server = start_with(config().max_payload(1000), false).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws_send(&mut ws, &format!("4{}", "a".repeat(999))).await;
    assert_eq!(server.expect_text(&sid).await.len(), 999);
    ws_send_binary(&mut ws, vec![7u8; 1000]).await;
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(Bytes::from(vec![7u8; 1000]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_message_over_max_payload_closes_the_session() {
    let mut server = start_with(config().max_payload(1000), false).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws_send(&mut ws, &format!("4{}", "a".repeat(1000))).await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    assert!(ws_until_closed(&mut ws).await.is_empty());
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_message_over_max_payload_closes_the_session() {
    let mut server = start_with(config().max_payload(1000), false).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws_send_binary(&mut ws, vec![7u8; 5000]).await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    assert!(ws_until_closed(&mut ws).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_packet_closes_the_session() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws_send(&mut ws, "x-not-a-packet").await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    ws_until_closed(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_control_frames_are_not_messages() {
    use futures_util::SinkExt;
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws.send(tungstenite::Message::Ping(Bytes::from_static(b"x")))
        .await
        .unwrap();
    ws_send(&mut ws, "4after").await;
    assert_eq!(server.expect_text(&sid).await, "after");
    assert_eq!(ws_text(&mut ws).await, "4after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_request_without_upgrade_headers_is_a_bad_request() {
    let server = start(config()).await;
    get(server.addr, "/engine.io/?EIO=4&transport=websocket")
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);

    // An upgrade with a WebSocket version other than 13.
    let mut request = request(Method::GET, "/engine.io/?EIO=4&transport=websocket", "");
    let headers = request.headers_mut();
    headers.insert(header::UPGRADE, "websocket".parse().unwrap());
    headers.insert(header::CONNECTION, "Upgrade".parse().unwrap());
    headers.insert(
        header::SEC_WEBSOCKET_KEY,
        "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
    );
    headers.insert(header::SEC_WEBSOCKET_VERSION, "8".parse().unwrap());
    let response = send(server.addr, request).await;
    response.assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_requests_on_a_websocket_session_are_bad_requests() {
    let server = start(config()).await;
    let (_ws, sid, _) = server.ws_handshake().await;
    server
        .poll(&sid)
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    server
        .post(&sid, "4x")
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    // The session is not harmed.
    assert!(!server.socket(&sid).is_closed());
    assert_eq!(
        server.socket(&sid).transport(),
        sockeye_engineio::TransportKind::WebSocket
    );
}

/// Fills a non-reading client's socket buffers and outbox; gives up after a bounded effort.
async fn flood_until_full(socket: &sockeye_engineio::Socket) {
    let chunk = Bytes::from(vec![7u8; 256 * 1024]);
    for _ in 0..4_000 {
        match socket.send(Frame::Binary(chunk.clone())) {
            Ok(()) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
            Err(sockeye_engineio::SendError::Full) => return,
            Err(error) => panic!("unexpected send error: {error}"),
        }
    }
    panic!("the outbox never filled up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_on_request() {
    let config = config()
        .ping_interval(std::time::Duration::from_secs(30))
        .outbox_max_bytes(1 << 20);
    let mut server = start(config).await;
    // The client never reads again: the server's writes stall once the TCP buffers are full.
    let (_ws, sid, _) = server.ws_handshake().await;
    let socket = server.expect_open().await;
    flood_until_full(&socket).await;

    socket.close();
    assert_eq!(server.expect_close(&sid).await, CloseReason::ForcedClose);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_times_out() {
    let config = config()
        .ping_interval(std::time::Duration::from_millis(200))
        .ping_timeout(std::time::Duration::from_millis(200))
        .outbox_max_bytes(1 << 20);
    let mut server = start(config).await;
    let (_ws, sid, _) = server.ws_handshake().await;
    let socket = server.expect_open().await;
    flood_until_full(&socket).await;

    assert_eq!(server.expect_close(&sid).await, CloseReason::PingTimeout);
}

/// A client frame (masked), built by hand so that it can be written in any pieces.
fn client_frame(opcode: OpCode, is_final: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [0xa1, 0x07, 0x5c, 0xe3];
    let header = FrameHeader {
        is_final,
        opcode,
        mask: Some(mask),
        ..FrameHeader::default()
    };
    let mut frame = Vec::new();
    header.format(payload.len() as u64, &mut frame).unwrap();
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, byte)| byte ^ mask[i % 4]),
    );
    frame
}

/// Large messages grow the server's WebSocket codec, which it rebuilds with small buffers once
/// the connection is idle: whatever the client sends around that (frames of a message apart,
/// pings within a message, frames cut into many reads or several in one) still arrives whole,
/// in order, and is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_pieces_around_large_ones_arrive_whole() {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tungstenite::Message as Ws;

    const BINARY: OpCode = OpCode::Data(Data::Binary);
    const TEXT: OpCode = OpCode::Data(Data::Text);
    const CONTINUE: OpCode = OpCode::Data(Data::Continue);
    const PING: OpCode = OpCode::Control(Control::Ping);

    let mut server = start(config().ping_interval(std::time::Duration::from_secs(60))).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    if let tokio_tungstenite::MaybeTlsStream::Plain(stream) = ws.get_ref() {
        stream.set_nodelay(true).unwrap();
    }

    for round in 0..3u8 {
        let data = |len: usize, seed: u8| -> Vec<u8> {
            (0..len)
                .map(|i| (i as u8).wrapping_mul(29) ^ seed ^ round)
                .collect()
        };
        let large = data(64 * 1024, 1);
        let parts = [data(20_000, 2), data(20_000, 3), data(5_000, 4)];
        let pieces = [
            client_frame(BINARY, true, &large),
            client_frame(TEXT, true, b"4hello"),
            client_frame(BINARY, false, &parts[0]),
            client_frame(PING, true, b"p"),
            client_frame(CONTINUE, false, &parts[1]),
            client_frame(CONTINUE, true, &parts[2]),
            client_frame(TEXT, false, b"4fr"),
            client_frame(CONTINUE, true, b"ag"),
            [
                client_frame(TEXT, true, b"4a"),
                client_frame(TEXT, true, b"4b"),
            ]
            .concat(),
            client_frame(PING, true, b"q"),
        ];
        // Each piece in writes of many sizes, a pause after each: many reads on the server,
        // some ending within a header, a payload or a message, some on a frame's end.
        let sizes = [1, 3, 7, 50, 500, 4_000, 9_000];
        let mut sizes = sizes.into_iter().cycle();
        for piece in pieces {
            let mut at = 0;
            while at < piece.len() {
                let end = (at + sizes.next().unwrap()).min(piece.len());
                ws.get_mut().write_all(&piece[at..end]).await.unwrap();
                at = end;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }

        let expected = [
            Ws::Binary(large.clone().into()),
            Ws::text("4hello"),
            Ws::Pong(Bytes::from_static(b"p")),
            Ws::Binary(parts.concat().into()),
            Ws::text("4frag"),
            Ws::text("4a"),
            Ws::text("4b"),
            Ws::Pong(Bytes::from_static(b"q")),
        ];
        for (i, expected) in expected.into_iter().enumerate() {
            let got = within(WAIT, ws.next()).await.unwrap().unwrap();
            assert!(got == expected, "round {round}, answer {i}: {:.60?}", got);
        }
        assert_eq!(
            server.expect_message(&sid).await,
            Message::Binary(large.into())
        );
        assert_eq!(server.expect_text(&sid).await, "hello");
        let whole = Message::Binary(parts.concat().into());
        assert_eq!(server.expect_message(&sid).await, whole);
        for text in ["frag", "a", "b"] {
            assert_eq!(server.expect_text(&sid).await, text);
        }
    }

    // The close handshake, too.
    use futures_util::SinkExt;
    ws.send(Ws::Close(None)).await.unwrap();
    assert!(matches!(
        within(WAIT, ws.next()).await,
        Some(Ok(Ws::Close(_)))
    ));
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
}
