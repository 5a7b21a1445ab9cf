//! A short soak against an in-process Sockeye server running the bench app: ~300 clients
//! cycle through sessions for ~15 s; no errors, the server's sessions drain to zero, and the
//! process's RSS at the end stays near its value after warm-up.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use sockeye::{AckSender, Data, Event, Io, Socket, Value};
use sockeye_loadgen::{Config, Scenario};

// ---- the bench app (a copy of examples/bench-server.rs's handlers) ----

#[derive(Deserialize)]
struct Fanout {
    room: String,
    payload: Value,
}

async fn on_connection(socket: Socket) {
    socket.on("echo", |event: Event, ack: AckSender| async move {
        let _ = ack.send_raw(event.args, event.attachments);
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            socket.join(room);
            let _ = ack.send(&());
        },
    );
    socket.on(
        "fanout",
        |socket: Socket, Data(fanout): Data<Fanout>, ack: AckSender| async move {
            let _ = socket.ns().to(fanout.room).emit("fan", &fanout.payload);
            let _ = ack.send(&());
        },
    );
}

/// `GET /stats` → `{"sessions":N}`; 404 elsewhere.
#[derive(Clone)]
struct Stats(Io);

impl<B> tower_service::Service<Request<B>> for Stats {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let response = if request.uri().path() == "/stats" {
            let body = format!("{{\"sessions\":{}}}", self.0.engine().session_count());
            Response::new(Full::new(Bytes::from(body)))
        } else {
            let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        };
        std::future::ready(Ok(response))
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_sessions_drain_and_rss_stays_flat() {
    let (layer, io) = Io::builder().build_layer();
    io.on_connection(on_connection);
    let service = tower_layer::Layer::layer(&layer, Stats(io.clone()));
    let listener = sockeye::bind(([127, 0, 0, 1], 0).into())
        .await
        .expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sockeye::serve(listener, service, async {
        let _ = shutdown_rx.await;
    }));

    let mut config = Config::new(format!("http://127.0.0.1:{port}/socket.io/"));
    config.label = "in-process".to_owned();
    config.clients = Some(300);
    config.duration = Duration::from_secs(15);
    config.sample_every = Duration::from_secs(3);
    config.drain = Duration::from_secs(5);
    config.server_pid = Some(std::process::id());
    let report = sockeye_loadgen::run(Scenario::Soak, &config).await;
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(&report)));

    // The server's own count, as well as what /stats said.
    let deadline = Instant::now() + Duration::from_secs(5);
    while io.engine().session_count() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sessions = io.engine().session_count();

    let soak = report.soak.as_ref().expect("a soak summary");
    for s in &soak.samples {
        println!(
            "t={:>5.1}s live={:>4} rss={:>8} KiB sessions={:?} cycles={} errors={}",
            s.secs,
            s.live_clients,
            s.rss_kib.unwrap_or(0),
            s.sessions,
            s.cycles,
            s.errors
        );
    }
    println!(
        "clean leaves {}, abrupt drops {}, echoes {}, fan-outs {}, sessions after {:?} (drained in {:?} s), session_count() {sessions}, errors {:?}",
        soak.clean_leaves,
        soak.abrupt_drops,
        soak.echoes,
        soak.fanouts,
        soak.sessions_after,
        soak.drained_secs,
        soak.error_examples,
    );
    assert!(
        report.failure.is_none(),
        "soak failed: {:?}",
        report.failure
    );
    assert_eq!(report.errors, 0, "errors: {:?}", soak.error_examples);
    assert!(
        report.ops > 300,
        "too few sessions completed: {}",
        report.ops
    );
    assert!(soak.abrupt_drops > 0 && soak.clean_leaves > 0);
    assert!(soak.echoes > 0 && soak.fanouts > 0);
    assert_eq!(soak.sessions_after, Some(0));
    assert_eq!(sessions, 0, "the server still has sessions");

    // RSS: the first sample (after ~3 s of warm-up) against the end.
    let warm = soak.samples.first().and_then(|s| s.rss_kib).expect("rss");
    let end = rss_kib();
    println!("RSS after warm-up {warm} KiB, at the end {end} KiB");
    assert!(
        end <= warm * 2 + 32 * 1024,
        "RSS grew from {warm} KiB to {end} KiB"
    );

    let _ = shutdown_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
}
