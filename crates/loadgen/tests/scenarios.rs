//! Each measuring scenario, briefly, against an in-process Sockeye server running the bench
//! app: it measures something, sees no errors, and (fan-out) loses no delivery.

use std::time::Duration;

use sockeye_loadgen::{Config, Report, Scenario};

mod common;

async fn run(scenario: Scenario, clients: usize, tune: impl FnOnce(&mut Config)) -> Report {
    let app = common::BenchApp::start().await;
    let mut config = Config::new(app.url.clone());
    config.clients = Some(clients);
    config.duration = Duration::from_secs(1);
    config.warmup = Duration::from_millis(200);
    config.server_pid = Some(std::process::id());
    tune(&mut config);
    let report = sockeye_loadgen::run(scenario, &config).await;
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(&report)));
    app.stop().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.errors, 0);
    assert!(report.ops > 0 && report.rate > 0.0, "nothing measured");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_everything_with_the_window_kept_full() {
    // A window smaller than the run: the sender must be woken by deliveries many times over.
    let report = run(Scenario::Fanout, 200, |config| config.window = 4).await;
    assert_eq!(report.lost, Some(0));
    assert!(
        report.ops >= 200 * 4 * 10,
        "the window was refilled too rarely: {} deliveries",
        report.ops
    );
    let latency = report.latency.expect("delivery latencies");
    assert_eq!(latency.samples, report.ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_fanout_splits_the_room_over_the_nodes_and_loses_nothing() {
    let redis = common::Redis::start();
    let a = common::BenchApp::start_on_redis(&redis.url).await;
    let b = common::BenchApp::start_on_redis(&redis.url).await;
    let mut config = Config::new(a.url.clone());
    config.nodes = vec![b.url.clone()];
    config.clients = Some(100);
    config.window = 4;
    config.duration = Duration::from_secs(1);
    config.warmup = Duration::from_millis(200);
    let (io_a, io_b) = (a.io.clone(), b.io.clone());
    let run =
        tokio::spawn(async move { sockeye_loadgen::run(Scenario::ClusterFanout, &config).await });
    // Once all are connected (and until the run ends), each node holds half of the room.
    let mut counts = (0, 0);
    while !run.is_finished() && counts.0 + counts.1 < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        counts = (io_a.engine().session_count(), io_b.engine().session_count());
    }
    let report = run.await.expect("the scenario task");
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(&report)));
    a.stop().await;
    b.stop().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(counts, (50, 50));
    assert_eq!(report.errors, 0);
    // Half of every message's deliveries crossed Redis: none may be missing.
    assert_eq!(report.lost, Some(0));
    assert!(report.ops >= 100 * 4 * 4, "{} deliveries", report.ops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_fanout_without_other_nodes_fails() {
    let app = common::BenchApp::start().await;
    let report = sockeye_loadgen::run(Scenario::ClusterFanout, &Config::new(app.url.clone())).await;
    app.stop().await;
    let failure = report.failure.expect("a failure");
    assert!(failure.contains("--node"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_counts_acks() {
    let report = run(Scenario::Echo, 10, |_| {}).await;
    assert!(report.latency.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_echo_counts_bytes() {
    run(Scenario::BinaryEcho, 4, |config| {
        config.binary_size = 8 * 1024
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_echo_counts_acks() {
    run(Scenario::PollingEcho, 5, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_storm_holds_connections_after_a_warm_up_echo() {
    let report = run(Scenario::ConnectStorm, 20, |config| {
        config.warm_binary = 64 * 1024;
        config.concurrency = 5;
        config.settle = Duration::from_millis(50);
    })
    .await;
    assert_eq!(report.ops, 20);
    assert_eq!(report.rss.len(), 1, "one RSS step: {:?}", report.rss);
}
