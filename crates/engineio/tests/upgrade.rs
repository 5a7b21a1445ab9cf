//! The upgrade from polling to WebSocket: `2probe`/`3probe`, the pending GET answered with a
//! noop, `5`, and no message lost, duplicated or reordered on the way; failed and refused
//! upgrades.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use sockeye_engineio::{CloseReason, Frame, TransportKind};
use tokio_tungstenite::tungstenite;

const BAD_REQUEST: &str = r#"{"code":3,"message":"Bad request"}"#;

fn upgrade_query(sid: &str) -> String {
    format!("EIO=4&transport=websocket&sid={sid}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_follows_the_protocol() {
    let mut server = start(config()).await;
    let (sid, open) = server.handshake().await;
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    let socket = server.expect_open().await;

    // A GET waits on the polling transport while the client probes the WebSocket.
    let addr = server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished());

    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    // The waiting GET is answered with a noop so the client can pause polling.
    let answered = within(WAIT, pending).await.unwrap();
    assert_eq!(answered.status, StatusCode::OK);
    assert_eq!(answered.text(), "6");
    assert_eq!(socket.transport(), TransportKind::Polling);

    ws_send(&mut ws, "5").await;
    // Messages read after the upgrade packet reach the handler: the switch is done.
    ws_send(&mut ws, "4on websocket").await;
    assert_eq!(server.expect_text(&sid).await, "on websocket");
    assert_eq!(ws_text(&mut ws).await, "4on websocket");
    assert_eq!(socket.transport(), TransportKind::WebSocket);
    // The handshake still says where the session started.
    assert_eq!(socket.handshake().transport, TransportKind::Polling);

    socket.send(Frame::message("from server")).unwrap();
    socket.send(Frame::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(ws_text(&mut ws).await, "4from server");
    assert_eq!(
        ws_next(&mut ws).await,
        Some(tungstenite::Message::Binary(vec![1u8, 2, 3].into()))
    );

    // Polling is over for this session.
    server.poll(&sid).await.assert_refused(400, BAD_REQUEST);
    server
        .post(&sid, "4x")
        .await
        .assert_refused(400, BAD_REQUEST);
    assert!(!socket.is_closed());

    ws_send(&mut ws, "1").await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportClose);
}

/// Server messages sent before, during and after the switch arrive exactly once and in order;
/// so do the client's, half over polling and half over WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_lost_or_reordered_while_upgrading() {
    const TOTAL: usize = 200;
    let mut server = start_with(config(), false).await;
    let (sid, _) = server.handshake().await;
    let socket = server.expect_open().await;
    let mut received = Vec::new();

    // Before: queued, then read by a GET.
    for i in 0..40 {
        socket.send(Frame::message(&i.to_string())).unwrap();
    }
    received.extend(server.poll(&sid).await.packets());
    assert_eq!(received.len(), 40);

    // During: a task keeps sending while the client polls and probes (40..120), while the
    // client has paused polling and not yet sent "5" (120..160), and while the server
    // switches transports (160..200).
    let (paused_tx, paused) = tokio::sync::oneshot::channel::<()>();
    let (queued_tx, queued) = tokio::sync::oneshot::channel::<()>();
    let (upgrading_tx, upgrading) = tokio::sync::oneshot::channel::<()>();
    let sender = {
        let socket = socket.clone();
        tokio::spawn(async move {
            let send = |i: usize| socket.send(Frame::message(&i.to_string())).unwrap();
            for i in 40..120 {
                send(i);
                if i % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            paused.await.unwrap();
            (120..160).for_each(send);
            queued_tx.send(()).unwrap();
            upgrading.await.unwrap();
            for i in 160..TOTAL {
                send(i);
                tokio::task::yield_now().await;
            }
        })
    };
    // The polling loop of a client, until it is told to pause.
    let pause = Arc::new(AtomicBool::new(false));
    let polling = {
        let pause = pause.clone();
        let addr = server.addr;
        let path = poll_path(&sid);
        tokio::spawn(async move {
            let mut packets = Vec::new();
            while !pause.load(Ordering::SeqCst) {
                let response = within(WAIT, get(addr, &path)).await;
                assert_eq!(response.status, StatusCode::OK, "{}", response.text());
                packets.extend(response.packets());
            }
            packets
        })
    };
    // The client's messages go over polling first.
    for i in 0..20 {
        assert_eq!(server.post(&sid, format!("4c{i}")).await.text(), "ok");
    }

    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    // Pause polling: wait for the GET in flight to come back.
    pause.store(true, Ordering::SeqCst);
    let polled = within(WAIT, polling).await.unwrap();
    received.extend(polled.into_iter().filter(|packet| packet != "6"));
    paused_tx.send(()).unwrap();
    within(WAIT, queued).await.unwrap();
    // Neither transport can take these now: they wait in the outbox.
    assert!(socket.queued() >= 40, "{}", socket.queued());
    ws_send(&mut ws, "5").await;
    upgrading_tx.send(()).unwrap();
    for i in 20..40 {
        ws_send(&mut ws, &format!("4c{i}")).await;
    }

    // After: everything left comes over the WebSocket.
    while received.len() < TOTAL {
        received.push(ws_text(&mut ws).await);
    }
    sender.await.unwrap();
    let expected: Vec<String> = (0..TOTAL).map(|i| format!("4{i}")).collect();
    assert_eq!(received, expected);
    assert_eq!(socket.queued(), 0);
    assert_eq!(socket.transport(), TransportKind::WebSocket);

    for i in 0..40 {
        assert_eq!(server.expect_text(&sid).await, format!("c{i}"));
    }
    // Nothing more arrives, on either side.
    server.expect_quiet(Duration::from_millis(200)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), ws_next(&mut ws))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_during_the_upgrade_is_answered_at_once() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    // No GET was waiting; one that comes now does not hang.
    let response = within(WAIT, server.poll(&sid)).await;
    assert_eq!(response.text(), "6");
    ws_send(&mut ws, "5").await;
    server.socket(&sid).send(Frame::message("hi")).unwrap();
    assert_eq!(ws_text(&mut ws).await, "4hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_upgrade_times_out_and_polling_goes_on() {
    let mut server = start(config().upgrade_timeout(Duration::from_millis(300))).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    // The client never sends "5": the server gives up the probe.
    assert!(ws_until_closed(&mut ws).await.is_empty());

    assert_eq!(server.socket(&sid).transport(), TransportKind::Polling);
    assert_eq!(server.post(&sid, "4still polling").await.text(), "ok");
    assert_eq!(server.expect_text(&sid).await, "still polling");
    assert_eq!(
        within(WAIT, server.poll(&sid)).await.text(),
        "4still polling"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_probe_leaves_the_session_on_polling() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "4not a probe").await;
    assert!(ws_until_closed(&mut ws).await.is_empty());

    // The session is unharmed and can still upgrade.
    assert_eq!(server.post(&sid, "4x").await.text(), "ok");
    assert_eq!(server.expect_text(&sid).await, "x");
    assert_eq!(within(WAIT, server.poll(&sid)).await.text(), "4x");
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    ws_send(&mut ws, "5").await;
    ws_send(&mut ws, "4y").await;
    assert_eq!(ws_text(&mut ws).await, "4y");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_refused_when_disabled() {
    let mut server = start(config().allow_upgrades(false)).await;
    let (sid, open) = server.handshake().await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    server.expect_open().await;
    // As in Node, the WebSocket is accepted and then closed.
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert!(ws_until_closed(&mut ws).await.is_empty());

    assert_eq!(server.socket(&sid).transport(), TransportKind::Polling);
    assert_eq!(server.post(&sid, "4x").await.text(), "ok");
    assert_eq!(server.expect_text(&sid).await, "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upgrade_is_refused() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let mut ws = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    ws_send(&mut ws, "5").await;
    ws_send(&mut ws, "4a").await;
    assert_eq!(ws_text(&mut ws).await, "4a");

    let mut second = ws_connect(server.addr, &upgrade_query(&sid)).await;
    ws_send(&mut second, "2probe").await;
    assert!(ws_until_closed(&mut second).await.is_empty());
    // The first WebSocket is still the session's.
    ws_send(&mut ws, "4b").await;
    assert_eq!(ws_text(&mut ws).await, "4b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_for_an_unknown_session_is_refused() {
    let server = start(config()).await;
    let (status, body) = ws_refused(
        server.addr,
        "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, r#"{"code":1,"message":"Session ID unknown"}"#);
}
