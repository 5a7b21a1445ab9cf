//! `sockeye serve` shuts down gracefully when its shutdown signal fires: every client is
//! disconnected ("server shutting down" on the server side), the server stops within its grace
//! period, and nothing listens afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sockeye_cli::serve::{Config, run_on};
use sockeye_testkit::TestClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_signal_closes_every_connection_then_stops() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        port: 0,
        uploads_dir: dir.path().join("uploads"),
        ..Config::default()
    };
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run_on(listener, config, async {
        let _ = stopped.await;
    }));

    let url = format!("http://{addr}/socket.io/");
    let mut websocket = TestClient::connect(&url).await;
    websocket.connect_ns("/", None).await.unwrap();
    let mut polling = TestClient::connect_polling(&url).await;
    polling.connect_ns("/", None).await.unwrap();

    let started = Instant::now();
    stop.send(()).unwrap();
    let ws_reason = websocket.expect_closed(Duration::from_secs(10)).await;
    let polling_reason = polling.expect_closed(Duration::from_secs(10)).await;
    // A graceful close tells a polling client with a close packet; a server that merely stops
    // resets its connection instead.
    assert_eq!(polling_reason, "close packet", "websocket saw: {ws_reason}");
    let result = tokio::time::timeout(Duration::from_secs(20), server).await;
    result.expect("the server did not stop").unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}
