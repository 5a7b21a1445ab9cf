//! Building and mounting the server: `Io::builder()` and its settings, `build_service`,
//! `build_layer` in an axum router, `IoService` in a hand-written hyper server, both
//! transports, the connect timeout, and `Io::close`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use sockeye::{DisconnectReason, EngineConfig, Io, Socket};
use sockeye_testkit::{
    ConnectFailure, QUIET, TestClient, TestServer, WAIT, http_get, recorder, server_socket,
};
use tokio::time::Instant;

/// Every connected socket gets `hello` with its id.
fn greet(io: &Io) {
    io.on_connection(|socket: Socket| async move {
        socket.emit("hello", socket.id().as_str()).unwrap();
    });
}

/// Joins `/` and checks the greeting.
async fn join_and_check(client: &mut TestClient) {
    let sid = client.connect_ns("/", None).await.expect("refused");
    let hello = client.expect_event("/", "hello", WAIT).await;
    assert_eq!(hello.args().unwrap(), [json!(sid)]);
}

#[tokio::test]
async fn a_builder_is_served_on_the_default_path_over_both_transports() {
    let server = TestServer::start(Io::builder()).await;
    greet(server.io());
    assert!(server.url().ends_with("/socket.io/"));

    let mut ws = TestClient::connect(&server.url()).await;
    let open = ws.open_packet().clone();
    assert_eq!(open.ping_interval, 25_000);
    assert_eq!(open.ping_timeout, 20_000);
    assert_eq!(open.max_payload, 1_000_000);
    assert!(
        open.upgrades.is_empty(),
        "nothing to upgrade to from websocket"
    );
    join_and_check(&mut ws).await;

    let mut polling = TestClient::connect_polling(&server.url()).await;
    assert_eq!(polling.open_packet().upgrades, ["websocket"]);
    join_and_check(&mut polling).await;

    assert_eq!(server.io().of("/").sockets().len(), 2);
    assert_eq!(server.io().engine().session_count(), 2);
}

#[tokio::test]
async fn the_engine_config_is_taken_whole() {
    let engine = EngineConfig::default()
        .path("/custom")
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_secs(5))
        .max_payload(5_000);
    let server = TestServer::start(Io::builder().engine(engine)).await;
    greet(server.io());
    assert_eq!(server.io().config().engine.path, "/custom/");

    // The custom path answers, the default one does not.
    assert!(server.url().ends_with("/custom/"));
    let mut client = TestClient::connect(&server.url()).await;
    join_and_check(&mut client).await;
    let default_path = format!("{}/socket.io/", server.base_url());
    match TestClient::builder(&default_path).try_connect().await {
        Err(ConnectFailure::Status(status, _)) => assert_eq!(status, 404),
        other => panic!("the default path answered: {other:?}"),
    }
    let polling = http_get(&format!("{default_path}?EIO=4&transport=polling"))
        .await
        .unwrap();
    assert_eq!(polling.status, 404);

    // The timings and limits are announced, and the pings come at the interval.
    let open = client.open_packet().clone();
    assert_eq!((open.ping_interval, open.ping_timeout), (200, 5_000));
    assert_eq!(open.max_payload, 5_000);
    let first = client.expect_ping(WAIT).await;
    let second = client.expect_ping(WAIT).await;
    let gap = second - first;
    assert!(
        gap >= Duration::from_millis(190) && gap < Duration::from_secs(4),
        "pings {gap:?} apart"
    );
    // The client answered them, so it is still connected.
    client.emit("/", "still-here", json!([]), vec![]);
    client.expect_no_event(QUIET).await;
    assert_eq!(server.io().of("/").sockets().len(), 1);
}

#[tokio::test]
async fn build_layer_mounts_socketio_in_front_of_an_axum_router() {
    let (layer, io) = Io::builder().build_layer();
    greet(&io);
    let stats = io.clone();
    let app = Router::new()
        .route("/hello", get(|| async { "hello from axum" }))
        .route(
            "/count",
            get(move || async move { stats.of("/").sockets().len().to_string() }),
        )
        .layer(layer);
    let server = TestServer::serve_io(app, io).await;

    let hello = http_get(&format!("{}/hello", server.base_url()))
        .await
        .unwrap();
    assert_eq!(
        (hello.status.as_u16(), hello.text().as_str()),
        (200, "hello from axum")
    );
    let missing = http_get(&format!("{}/nothing-here", server.base_url()))
        .await
        .unwrap();
    assert_eq!(missing.status, 404);

    let mut ws = TestClient::connect(&server.url()).await;
    join_and_check(&mut ws).await;
    let mut polling = TestClient::connect_polling(&server.url()).await;
    join_and_check(&mut polling).await;

    // The router's handler sees the same server.
    let count = http_get(&format!("{}/count", server.base_url()))
        .await
        .unwrap();
    assert_eq!(count.text(), "2");
}

#[tokio::test]
async fn io_service_serves_a_hand_written_hyper_server() {
    let (service, io) = Io::builder().build_service();
    greet(&io);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let url = format!("http://{addr}/socket.io/");

    let mut ws = TestClient::connect(&url).await;
    let sid = ws.connect_ns("/", None).await.unwrap();
    ws.expect_event("/", "hello", WAIT).await;
    let mut polling = TestClient::connect_polling(&url).await;
    join_and_check(&mut polling).await;

    // Other paths get the service's own 404.
    let other = http_get(&format!("http://{addr}/elsewhere")).await.unwrap();
    assert_eq!(
        (other.status.as_u16(), other.text().as_str()),
        (404, "Not Found")
    );
    // This server records no peer address, so the handshake has none.
    assert_eq!(
        server_socket(&io.of("/"), &sid).handshake().remote_addr,
        None
    );
    accept.abort();
}

#[tokio::test]
async fn an_io_already_built_can_be_served() {
    let io = Io::builder().build();
    greet(&io);
    let server = TestServer::start(io.clone()).await;
    let mut client = TestClient::connect(&server.url()).await;
    join_and_check(&mut client).await;
    assert_eq!(io.of("/").sockets().len(), 1);
}

#[tokio::test]
async fn the_connect_timeout_closes_a_session_that_joins_no_namespace() {
    let server = TestServer::start(Io::builder().connect_timeout(Duration::from_millis(300))).await;
    greet(server.io());
    let started = Instant::now();
    let mut idle = TestClient::connect(&server.url()).await;
    let mut joined = TestClient::connect(&server.url()).await;
    join_and_check(&mut joined).await;

    idle.expect_closed(WAIT).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The one that joined a namespace in time is left alone.
    joined.expect_no_event(Duration::from_millis(500)).await;
    assert!(!joined.is_closed());
    assert_eq!(server.io().engine().session_count(), 1);
}

#[tokio::test]
async fn io_close_disconnects_every_socket() {
    let server = TestServer::start(Io::builder()).await;
    let (reasons, mut seen) = recorder();
    server.io().on_connection(move |socket: Socket| {
        let reasons = reasons.clone();
        async move {
            socket.on_disconnect(move |_: Socket, reason: DisconnectReason| {
                let reasons = reasons.clone();
                async move { reasons.record(reason) }
            });
        }
    });
    let mut a = TestClient::connect(&server.url()).await;
    a.connect_ns("/", None).await.unwrap();
    let mut b = TestClient::connect_polling(&server.url()).await;
    b.connect_ns("/", None).await.unwrap();

    server.io().close();
    assert_eq!(seen.next().await, DisconnectReason::ServerShuttingDown);
    assert_eq!(seen.next().await, DisconnectReason::ServerShuttingDown);
    a.expect_closed(WAIT).await;
    b.expect_closed(WAIT).await;
    assert!(server.io().of("/").sockets().is_empty());
}

#[tokio::test]
async fn max_attachments_limits_incoming_packets() {
    let server = TestServer::start(Io::builder().max_attachments(2)).await;
    let (events, mut seen) = recorder();
    server.io().on_connection(move |socket: Socket| {
        let events = events.clone();
        async move {
            let on_event = events.clone();
            socket.on("files", move |event: sockeye::Event| {
                let events = on_event.clone();
                async move { events.record(format!("files {}", event.attachments.len())) }
            });
            socket.on_disconnect(move |_: Socket, reason: DisconnectReason| {
                let events = events.clone();
                async move { events.record(reason.to_string()) }
            });
        }
    });
    let mut client = TestClient::connect(&server.url()).await;
    client.connect_ns("/", None).await.unwrap();

    let placeholders = |n: usize| {
        (0..n)
            .map(|i| json!({"_placeholder": true, "num": i}))
            .collect::<Vec<_>>()
    };
    client.emit(
        "/",
        "files",
        json!(placeholders(2)),
        vec![vec![1u8].into(), vec![2u8].into()],
    );
    assert_eq!(seen.next().await, "files 2");
    client.emit(
        "/",
        "files",
        json!(placeholders(3)),
        vec![vec![1u8].into(), vec![2u8].into(), vec![3u8].into()],
    );
    assert_eq!(seen.next().await, "parse error");
    client.expect_closed(WAIT).await;
}
