//! Refused requests, with the status and exact JSON body of Node's engine.io: unknown session,
//! unknown transport, unsupported protocol version, bad handshake method, and the
//! `allow_request` hook.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::{Method, StatusCode, header};
use sockeye_engineio::Transports;

const UNKNOWN_SID: &str = r#"{"code":1,"message":"Session ID unknown"}"#;
const UNKNOWN_TRANSPORT: &str = r#"{"code":0,"message":"Transport unknown"}"#;
const BAD_HANDSHAKE_METHOD: &str = r#"{"code":2,"message":"Bad handshake method"}"#;
const UNSUPPORTED_VERSION: &str = r#"{"code":5,"message":"Unsupported protocol version"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_session_id_is_refused() {
    let server = start(config()).await;
    for sid in ["AAAAAAAAAAAAAAAAAAAA", "short", "", "%00%01"] {
        let path = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        get(server.addr, &path)
            .await
            .assert_refused(400, UNKNOWN_SID);
        post(server.addr, &path, "4x")
            .await
            .assert_refused(400, UNKNOWN_SID);
    }
    let (status, body) = ws_refused(
        server.addr,
        "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, UNKNOWN_SID);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_transport_is_refused() {
    let server = start(config()).await;
    for query in [
        "EIO=4",
        "EIO=4&transport=",
        "EIO=4&transport=foo",
        "EIO=4&transport=Polling",
        "EIO=4&transport=flashsocket",
    ] {
        get(server.addr, &format!("{PATH}?{query}"))
            .await
            .assert_refused(400, UNKNOWN_TRANSPORT);
    }
    // Also with a session id, before the session is looked at.
    let (sid, _) = server.handshake().await;
    get(
        server.addr,
        &format!("{PATH}?EIO=4&transport=foo&sid={sid}"),
    )
    .await
    .assert_refused(400, UNKNOWN_TRANSPORT);
    assert!(!server.socket(&sid).is_closed());

    // A disabled transport is unknown.
    let only_polling = Transports {
        polling: true,
        websocket: false,
    };
    let server = start(config().transports(only_polling)).await;
    let (status, body) = ws_refused(server.addr, "EIO=4&transport=websocket").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, UNKNOWN_TRANSPORT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unsupported_protocol_version_is_refused() {
    let server = start(config()).await;
    for query in [
        "transport=polling",
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "EIO=&transport=polling",
        "EIO=four&transport=polling",
    ] {
        get(server.addr, &format!("{PATH}?{query}"))
            .await
            .assert_refused(400, UNSUPPORTED_VERSION);
    }
    let (status, body) = ws_refused(server.addr, "EIO=3&transport=websocket").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, UNSUPPORTED_VERSION);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_must_be_a_get() {
    let server = start(config()).await;
    post(server.addr, "/engine.io/?EIO=4&transport=polling", "4x")
        .await
        .assert_refused(400, BAD_HANDSHAKE_METHOD);
    send(
        server.addr,
        request(Method::PUT, "/engine.io/?EIO=4&transport=polling", ""),
    )
    .await
    .assert_refused(400, BAD_HANDSHAKE_METHOD);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_is_not_found() {
    let server = start(config()).await;
    let response = get(server.addr, "/elsewhere?EIO=4&transport=polling").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_request_can_refuse_by_header_and_query() {
    let seen: Arc<Mutex<Vec<Option<SocketAddr>>>> = Arc::default();
    let config = config().allow_request({
        let seen = seen.clone();
        move |info| {
            seen.lock().unwrap().push(info.remote_addr);
            if info.query("name").as_deref() == Some("mallory") {
                return Err("Mallory is not welcome".to_owned());
            }
            match info.headers.get("x-token") {
                Some(token) if token == "secret" => Ok(()),
                _ => Err("bad token".to_owned()),
            }
        }
    });
    let mut server = start(config).await;

    // Refused by header.
    let response = get(server.addr, "/engine.io/?EIO=4&transport=polling").await;
    response.assert_refused(403, r#"{"code":4,"message":"bad token"}"#);
    assert_eq!(seen.lock().unwrap().as_slice(), [Some(response.local_addr)]);

    let with_token = |path: &str| {
        let mut request = request(Method::GET, path, "");
        request
            .headers_mut()
            .insert("x-token", header::HeaderValue::from_static("secret"));
        request
    };
    // Refused by query, even with the right header.
    let response = send(
        server.addr,
        with_token("/engine.io/?EIO=4&transport=polling&name=mallory"),
    )
    .await;
    response.assert_refused(403, r#"{"code":4,"message":"Mallory is not welcome"}"#);

    // Accepted; the hook saw every request's remote address.
    let response = send(
        server.addr,
        with_token("/engine.io/?EIO=4&transport=polling&name=alice"),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    let socket = server.expect_open().await;
    assert_eq!(socket.handshake().remote_addr, Some(response.local_addr));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2], Some(response.local_addr));
        assert!(seen.iter().all(|addr| addr.unwrap().ip().is_loopback()));
    }

    // A WebSocket handshake is checked too.
    let (status, body) = ws_refused(server.addr, "EIO=4&transport=websocket").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, r#"{"code":4,"message":"bad token"}"#);

    // Requests of an open session are not handshakes: the hook is not asked again.
    assert_eq!(seen.lock().unwrap().len(), 4);
    let sid = socket.id();
    assert_eq!(server.post(sid.as_str(), "4x").await.text(), "ok");
    assert_eq!(seen.lock().unwrap().len(), 4);
    server.expect_text(sid.as_str()).await;
    assert_eq!(server.service.session_count(), 1);
    server.expect_quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_past_max_sessions_are_refused() {
    let mut server = start(config().max_sessions(2)).await;
    let (first, _) = server.handshake().await;
    let (_ws, _, _) = server.ws_handshake().await;
    server.expect_open().await;
    server.expect_open().await;

    let refused = get(server.addr, "/engine.io/?EIO=4&transport=polling").await;
    refused.assert_refused(503, r#"{"code":3,"message":"Too many sessions"}"#);
    let (status, _) = ws_refused(server.addr, "EIO=4&transport=websocket").await;
    assert_eq!(status, 503);

    // A session that ends makes room for a new one.
    server.socket(&first).close();
    server.expect_close(&first).await;
    server.handshake().await;
}
