//! The handshake: the open packet over polling and directly over WebSocket, session ids, the
//! path, and what the session remembers of its handshake request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use http::{Method, StatusCode, header};
use sockeye_engineio::{ProtocolVersion, TransportKind, Transports};

const OPEN_KEYS: [&str; 5] = [
    "sid",
    "upgrades",
    "pingInterval",
    "pingTimeout",
    "maxPayload",
];

fn keys(open: &serde_json::Value) -> Vec<&str> {
    open.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_sid(sid: &str) {
    assert_eq!(sid.len(), 20, "{sid:?}");
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sid:?} is not URL-safe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_handshake_sends_the_open_packet() {
    let mut server = start(config()).await;
    let response = get(server.addr, "/engine.io/?EIO=4&transport=polling&t=abc").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "text/plain; charset=UTF-8"
    );
    let body = response.text();
    assert!(body.starts_with("0{"), "{body}");
    assert!(!body.contains('\u{1e}'), "one packet only: {body}");
    let open = open_json(body);
    assert_eq!(keys(&open), OPEN_KEYS, "exact keys, in order: {body}");
    let sid = open["sid"].as_str().unwrap();
    assert_sid(sid);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 20_000);
    assert_eq!(open["maxPayload"], 1_000_000);

    let socket = server.expect_open().await;
    assert_eq!(socket.id().as_str(), sid);
    assert_eq!(socket.protocol(), ProtocolVersion::V4);
    assert_eq!(socket.transport(), TransportKind::Polling);
    assert_eq!(server.service.session_count(), 1);
    assert!(server.service.socket(sid).is_some());
    assert_eq!(server.service.sockets().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_packet_reports_the_configuration() {
    let config = config()
        .ping_interval(Duration::from_millis(1234))
        .ping_timeout(Duration::from_millis(567))
        .max_payload(4321);
    let server = start(config).await;
    let (_, open) = server.handshake().await;
    assert_eq!(open["pingInterval"], 1234);
    assert_eq!(open["pingTimeout"], 567);
    assert_eq!(open["maxPayload"], 4321);

    let (_, _, open) = server.ws_handshake().await;
    assert_eq!(open["pingInterval"], 1234);
    assert_eq!(open["pingTimeout"], 567);
    assert_eq!(open["maxPayload"], 4321);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshake_sends_the_open_packet_with_no_upgrades() {
    let mut server = start(config()).await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket").await;
    let packet = ws_text(&mut ws).await;
    let open = open_json(&packet);
    assert_eq!(keys(&open), OPEN_KEYS, "exact keys, in order: {packet}");
    let sid = open["sid"].as_str().unwrap();
    assert_sid(sid);
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 20_000);
    assert_eq!(open["maxPayload"], 1_000_000);

    let socket = server.expect_open().await;
    assert_eq!(socket.id().as_str(), sid);
    assert_eq!(socket.transport(), TransportKind::WebSocket);
    assert_eq!(socket.handshake().transport, TransportKind::WebSocket);

    // The session works: an echo comes back.
    ws_send(&mut ws, "4hello").await;
    assert_eq!(ws_text(&mut ws).await, "4hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_upgrades_are_offered_when_upgrades_or_websocket_are_off() {
    let server = start(config().allow_upgrades(false)).await;
    let (_, open) = server.handshake().await;
    assert_eq!(open["upgrades"], serde_json::json!([]));

    let only_polling = Transports {
        polling: true,
        websocket: false,
    };
    let server = start(config().transports(only_polling)).await;
    let (_, open) = server.handshake().await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_are_unique_and_20_characters() {
    let server = start(config()).await;
    let mut sids = HashSet::new();
    for _ in 0..40 {
        let (sid, _) = server.handshake().await;
        assert_sid(&sid);
        assert!(sids.insert(sid), "duplicate sid");
    }
    let mut connections = Vec::new();
    for _ in 0..10 {
        let (ws, sid, _) = server.ws_handshake().await;
        assert_sid(&sid);
        assert!(sids.insert(sid), "duplicate sid");
        connections.push(ws);
    }
    assert_eq!(server.service.session_count(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_keeps_its_handshake_request() {
    let mut server = start(config()).await;
    let mut request = request(
        Method::GET,
        "/engine.io/?EIO=4&transport=polling&token=a%20b&room=1",
        "",
    );
    request
        .headers_mut()
        .insert("x-custom", header::HeaderValue::from_static("custom value"));
    let response = send(server.addr, request).await;
    assert_eq!(response.status, StatusCode::OK);
    let sid = open_json(response.text())["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let socket = server.expect_open().await;
    assert_eq!(socket.id().as_str(), sid);
    let handshake = socket.handshake();
    assert_eq!(handshake.query("token").as_deref(), Some("a b"));
    assert_eq!(handshake.query("EIO").as_deref(), Some("4"));
    assert_eq!(handshake.query("missing"), None);
    assert_eq!(handshake.headers()["x-custom"], "custom value");
    assert_eq!(handshake.remote_addr, Some(response.local_addr));
    assert_eq!(handshake.protocol, ProtocolVersion::V4);
    assert_eq!(handshake.transport, TransportKind::Polling);
    assert!(handshake.issued_millis() > 0);
    assert!(
        handshake
            .query_pairs()
            .contains(&("room".to_owned(), "1".to_owned()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_paths_are_not_found_and_the_path_without_slash_is_served() {
    let server = start(config()).await;
    let response = get(server.addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let response = get(server.addr, "/engine.iox/?EIO=4&transport=polling").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);

    let response = get(server.addr, "/engine.io?EIO=4&transport=polling").await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.text().starts_with("0{"));
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_only_server_refuses_polling() {
    let only_websocket = Transports {
        polling: false,
        websocket: true,
    };
    let server = start(config().transports(only_websocket)).await;
    get(server.addr, "/engine.io/?EIO=4&transport=polling")
        .await
        .assert_refused(400, r#"{"code":0,"message":"Transport unknown"}"#);
    let (_ws, _, open) = server.ws_handshake().await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
}
