//! How sessions end, and the `CloseReason` the handler is given: the client's close packet over
//! polling and WebSocket, a dropped connection, `Socket::close` and `EngineService::close_all`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use sockeye_engineio::{CloseReason, Frame, SendError};
use tokio_tungstenite::tungstenite;

const UNKNOWN_SID: &str = r#"{"code":1,"message":"Session ID unknown"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_packet_over_polling_is_a_transport_close() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let socket = server.expect_open().await;

    let addr = server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = server.post(&sid, "1").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "ok");
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    // As in Node, the waiting GET is answered with a noop.
    let pending = within(WAIT, pending).await.unwrap();
    assert_eq!(pending.status, StatusCode::OK);
    assert_eq!(pending.text(), "6");

    assert!(socket.is_closed());
    assert_eq!(socket.closed().await, CloseReason::TransportClose);
    assert_eq!(socket.send(Frame::message("late")), Err(SendError::Closed));
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
    server
        .post(&sid, "4x")
        .await
        .assert_refused(400, UNKNOWN_SID);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_sent_with_the_close_post_but_arriving_after_it_gets_a_noop() {
    // The client's GET and its POST with the close travel on two connections: the POST may
    // win the race. The GET then gets what it would have got had it come first.
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    let response = server.post(&sid, "1").await;
    assert_eq!(response.text(), "ok");
    let late = server.poll(&sid).await;
    assert_eq!(late.status, StatusCode::OK);
    assert_eq!(late.text(), "6");
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_closed_over_polling_without_a_get_ends_soon_after() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    assert_eq!(server.post(&sid, "1").await.text(), "ok");
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_packet_over_websocket_is_a_transport_close() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws_send(&mut ws, "1").await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    assert!(ws_until_closed(&mut ws).await.is_empty());
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_close_frame_is_a_transport_close() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    ws.close(None).await.unwrap();
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_websocket_connection_is_a_transport_close() {
    let mut server = start(config()).await;
    let (ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    // No close frame: the TCP connection just goes away.
    drop(ws);
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_polling_connection_is_a_transport_close() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;

    let addr = server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Aborting the task drops the connection with the GET still waiting.
    pending.abort();
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_close_answers_a_pending_get_with_the_close_packet() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let socket = server.expect_open().await;

    let addr = server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    socket.close();
    assert_eq!(socket.send(Frame::message("late")), Err(SendError::Closed));
    let response = within(WAIT, pending).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "1");
    assert_eq!(server.expect_close(&sid).await, CloseReason::ForcedClose);
    assert_eq!(socket.closed().await, CloseReason::ForcedClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_close_sends_queued_frames_then_the_close_packet_to_the_next_get() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let socket = server.expect_open().await;

    // No GET is waiting: the frames and the close wait for the client's next one.
    socket.send(Frame::message("last words")).unwrap();
    socket.close();
    socket.close(); // closing twice is harmless
    let response = server.poll(&sid).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.packets(), ["4last words", "1"]);
    assert_eq!(server.expect_close(&sid).await, CloseReason::ForcedClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_close_without_a_get_ends_the_session_after_a_grace_period() {
    let mut server = start(config().ping_timeout(Duration::from_millis(200))).await;
    let (sid, _) = server.handshake().await;
    let socket = server.expect_open().await;
    socket.close();
    assert_eq!(server.expect_close(&sid).await, CloseReason::ForcedClose);
    server.poll(&sid).await.assert_refused(400, UNKNOWN_SID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_close_on_websocket_flushes_then_closes() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    let socket = server.expect_open().await;
    for i in 0..10 {
        socket.send(Frame::message(&format!("bye {i}"))).unwrap();
    }
    socket.close();
    assert_eq!(server.expect_close(&sid).await, CloseReason::ForcedClose);
    let seen = ws_until_closed(&mut ws).await;
    let expected: Vec<_> = (0..10)
        .map(|i| tungstenite::Message::text(format!("4bye {i}")))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_all_shuts_every_session_down() {
    let mut server = start(config()).await;
    let (polling_sid, _) = server.handshake().await;
    let (mut ws, ws_sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    server.expect_open().await;
    assert_eq!(server.service.session_count(), 2);

    let addr = server.addr;
    let path = poll_path(&polling_sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.service.close_all();
    let mut reasons = vec![
        match server.next_event().await {
            common::Event::Close(sid, reason) => (sid.as_str().to_owned(), reason),
            other => panic!("{other:?}"),
        },
        match server.next_event().await {
            common::Event::Close(sid, reason) => (sid.as_str().to_owned(), reason),
            other => panic!("{other:?}"),
        },
    ];
    reasons.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (polling_sid, CloseReason::ServerShutdown),
        (ws_sid, CloseReason::ServerShutdown),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(reasons, expected);
    assert_eq!(within(WAIT, pending).await.unwrap().text(), "1");
    ws_until_closed(&mut ws).await;
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_lives_until_the_session_closes() {
    let mut server = start(config()).await;
    let (mut ws, sid, _) = server.ws_handshake().await;
    let socket = server.expect_open().await;

    let value = std::sync::Arc::new("kept with the session".to_owned());
    socket.attach(value.clone());
    assert_eq!(socket.attached::<String>().as_deref(), Some(&*value));
    assert!(socket.attached::<u32>().is_none());
    // Every handle sees it.
    assert_eq!(
        server.socket(&sid).attached::<String>().as_deref(),
        Some(&*value)
    );
    drop(socket);

    ws_send(&mut ws, "1").await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
    // Dropped once the session has closed.
    eventually("the attachment is dropped", || {
        std::sync::Arc::strong_count(&value) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_session_and_refuses_new_ones() {
    let mut server = start(config()).await;
    let (polling_sid, _) = server.handshake().await;
    let (mut ws, _ws_sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    let websocket = server.expect_open().await;
    let addr = server.addr;
    let path = poll_path(&polling_sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // What is still queued for a client must reach it before its session closes.
    websocket.send(Frame::message("last words")).unwrap();

    let service = server.service.clone();
    let shutdown = tokio::spawn(async move { service.shutdown(Duration::from_secs(5)).await });

    let answer = within(Duration::from_secs(5), pending).await.unwrap();
    assert_eq!(answer.text(), "1");
    assert_eq!(ws_text(&mut ws).await, "4last words");
    assert!(
        ws_until_closed(&mut ws).await.iter().all(|m| !m.is_text()),
        "nothing after the last frame but the close"
    );
    assert_eq!(within(Duration::from_secs(6), shutdown).await.unwrap(), 0);
    assert_eq!(server.service.session_count(), 0);
    for _ in 0..2 {
        match server.next_event().await {
            common::Event::Close(_, reason) => assert_eq!(reason, CloseReason::ServerShutdown),
            other => panic!("{other:?}"),
        }
    }

    let refused = get(server.addr, "/engine.io/?EIO=4&transport=polling").await;
    refused.assert_refused(503, r#"{"code":3,"message":"Server shutting down"}"#);
}
