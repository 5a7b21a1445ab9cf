//! The Socket.IO server's metrics, recorded by the Prometheus recorder over real loopback
//! clients: dynamic namespaces labelled by their parent, middleware refusals, a broadcast
//! counted once per socket it reached, and an acknowledgement that never came.
//!
//! One test in this file: it installs the process-wide recorder, as a server does, before the
//! `Io` is built (dynamic namespaces make their children, and register them, later).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use sockeye::{ConnectError, Io, Socket};
use sockeye_testkit::{TestClient, TestServer, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_count_connects_events_and_ack_timeouts() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap();

    let io = Io::builder().metrics_events(["answer"]).build();
    io.dynamic(|name| name.starts_with("/room-"))
        .on_connection(|_socket: Socket| async {});
    io.of("/guarded")
        .use_middleware(|_socket: Socket| async { Err(ConnectError::new("no entry")) });
    io.of("/quiz").on_connection(|socket: Socket| async move {
        let answer = socket
            .timeout(Duration::from_millis(50))
            .emit_with_ack::<_, String>("question", "?")
            .await;
        assert!(answer.is_err());
        let _ = socket.emit("timed_out", &());
    });
    let server = TestServer::start(io.clone()).await;

    let mut clients = Vec::new();
    for room in ["/room-1", "/room-2", "/room-3"] {
        let mut client = TestClient::connect(&server.url()).await;
        client.connect_ns(room, None).await.unwrap();
        clients.push(client);
    }
    io.of("/room-1").emit("hello", "you").unwrap();
    clients[0].expect_event("/room-1", "hello", WAIT).await;

    let mut refused = TestClient::connect(&server.url()).await;
    assert!(refused.connect_ns("/guarded", None).await.is_err());

    let mut quiz = TestClient::connect(&server.url()).await;
    quiz.connect_ns("/quiz", None).await.unwrap();
    quiz.expect_event("/quiz", "question", WAIT).await;
    quiz.expect_event("/quiz", "timed_out", WAIT).await;
    quiz.emit("/quiz", "answer", serde_json::json!([42]), vec![]);
    quiz.emit("/quiz", "chatter", serde_json::json!([]), vec![]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !handle
        .render()
        .contains(r#"sockeye_events_total{namespace="/quiz",direction="in"} 2"#)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            handle.render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let text = handle.render();
    let has = |line: &str| text.lines().any(|l| l == line);
    for line in [
        r#"sockeye_connects_total{namespace="/_0",result="ok"} 3"#,
        r#"sockeye_sockets{namespace="/_0"} 3"#,
        r#"sockeye_events_total{namespace="/_0",direction="out"} 1"#,
        r#"sockeye_connects_total{namespace="/guarded",result="refused"} 1"#,
        r#"sockeye_connects_total{namespace="/guarded",result="ok"} 0"#,
        r#"sockeye_connects_total{namespace="/quiz",result="ok"} 1"#,
        r#"sockeye_events_total{namespace="/quiz",direction="out"} 2"#,
        r#"sockeye_ack_timeouts_total{namespace="/quiz"} 1"#,
        r#"sockeye_named_events_total{namespace="/quiz",event="answer"} 1"#,
        r#"sockeye_engine_sessions{transport="websocket"} 5"#,
        r#"sockeye_engine_sessions_opened_total{transport="websocket"} 5"#,
    ] {
        assert!(has(line), "missing {line} in:\n{text}");
    }
    // A client's choice of name makes no series of its own.
    assert!(!text.contains("/room-1"), "{text}");
    assert!(!text.contains("chatter"), "{text}");
}
