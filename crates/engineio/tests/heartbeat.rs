//! Heartbeats (protocol v4): the server pings every `ping_interval` after the last pong, a pong
//! keeps the session alive, and no pong within `ping_timeout` closes it.
//!
//! Timings are short but the assertions only use lower bounds that hold by construction (a
//! timer never fires early) and generous upper bounds, so a loaded machine does not fail them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use sockeye_engineio::CloseReason;
use tokio::time::Instant;

/// Slack for clock granularity when comparing a measured delay with a configured one.
const SLACK: Duration = Duration::from_millis(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_ping_comes_after_the_interval_over_websocket() {
    let interval = Duration::from_millis(300);
    let server = start(config().ping_interval(interval).ping_timeout(WAIT)).await;
    let start = Instant::now();
    let (mut ws, _, _) = server.ws_handshake().await;
    assert_eq!(ws_text(&mut ws).await, "2");
    let elapsed = start.elapsed();
    assert!(elapsed + SLACK >= interval, "ping after {elapsed:?}");
    assert!(elapsed < interval + Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pongs_keep_a_websocket_session_alive() {
    let interval = Duration::from_millis(100);
    let timeout = Duration::from_millis(400);
    let mut server = start(config().ping_interval(interval).ping_timeout(timeout)).await;
    let start = Instant::now();
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;

    let mut last = start;
    for _ in 0..10 {
        assert_eq!(ws_text(&mut ws).await, "2");
        // The next ping is due an interval after the pong, so never sooner.
        let spacing = last.elapsed();
        assert!(spacing + SLACK >= interval, "ping after {spacing:?}");
        last = Instant::now();
        ws_send(&mut ws, "3").await;
    }
    // Ten intervals are well past interval + timeout: only the pongs kept it open.
    assert!(start.elapsed() > interval + timeout);
    assert!(!server.socket(&sid).is_closed());
    server.expect_quiet(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pong_over_websocket_is_a_ping_timeout() {
    let interval = Duration::from_millis(100);
    let timeout = Duration::from_millis(150);
    let mut server = start(config().ping_interval(interval).ping_timeout(timeout)).await;
    let start = Instant::now();
    let (mut ws, sid, _) = server.ws_handshake().await;
    server.expect_open().await;
    assert_eq!(ws_text(&mut ws).await, "2");
    // No pong.
    assert_eq!(server.expect_close(&sid).await, CloseReason::PingTimeout);
    let elapsed = start.elapsed();
    assert!(
        elapsed + SLACK >= interval + timeout,
        "closed after {elapsed:?}"
    );
    assert!(ws_until_closed(&mut ws).await.is_empty());
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_over_polling() {
    let interval = Duration::from_millis(200);
    let timeout = Duration::from_millis(600);
    let mut server = start(config().ping_interval(interval).ping_timeout(timeout)).await;
    let start = Instant::now();
    let (sid, _) = server.handshake().await;
    server.expect_open().await;

    // The first GET waits for the first ping: it is not sent at once.
    let response = within(WAIT, server.poll(&sid)).await;
    assert_eq!(response.text(), "2");
    let elapsed = start.elapsed();
    assert!(elapsed + SLACK >= interval, "ping after {elapsed:?}");

    for _ in 0..4 {
        assert_eq!(server.post(&sid, "3").await.text(), "ok");
        let pinged = Instant::now();
        let response = within(WAIT, server.poll(&sid)).await;
        assert_eq!(response.text(), "2");
        assert!(pinged.elapsed() + SLACK >= interval);
    }
    assert!(start.elapsed() > interval + timeout);
    assert!(!server.socket(&sid).is_closed());

    // Now the client stops answering: its waiting GET gets the close packet.
    let addr = server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });
    assert_eq!(server.expect_close(&sid).await, CloseReason::PingTimeout);
    let response = within(WAIT, pending).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "1");
    server
        .poll(&sid)
        .await
        .assert_refused(400, r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_that_never_polls_times_out() {
    let mut server = start(
        config()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100)),
    )
    .await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::PingTimeout);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_the_server_do_not_delay_pings() {
    let interval = Duration::from_millis(200);
    let server = start(config().ping_interval(interval).ping_timeout(WAIT)).await;
    let start = Instant::now();
    let (mut ws, sid, _) = server.ws_handshake().await;
    let socket = server.socket(&sid);
    let sender = tokio::spawn(async move {
        for i in 0..50 {
            if socket
                .send(sockeye_engineio::Frame::message(&i.to_string()))
                .is_err()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    loop {
        if ws_text(&mut ws).await == "2" {
            break;
        }
    }
    assert!(start.elapsed() + SLACK >= interval);
    sender.await.unwrap();
}
