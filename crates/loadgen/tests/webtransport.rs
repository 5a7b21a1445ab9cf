//! `echo-webtransport`, briefly, against the in-process bench app with a WebTransport endpoint:
//! it finds the endpoint through `/webtransport.json`, measures, and sees no errors.

use std::time::Duration;

use sockeye_loadgen::{Config, Scenario};

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_over_webtransport_measures_acks() {
    let app = common::BenchApp::start_with_webtransport().await;
    let mut config = Config::new(app.url.clone());
    config.clients = Some(10);
    config.duration = Duration::from_secs(1);
    config.warmup = Duration::from_millis(200);
    let report = sockeye_loadgen::run(Scenario::EchoWebTransport, &config).await;
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(&report)));
    app.stop().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.errors, 0);
    assert!(report.ops > 0 && report.rate > 0.0, "nothing measured");
    assert_eq!(
        Scenario::from_name("echo-webtransport"),
        Some(Scenario::EchoWebTransport)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_webtransport_is_a_failure_not_a_hang() {
    let app = common::BenchApp::start().await;
    let report =
        sockeye_loadgen::run(Scenario::EchoWebTransport, &Config::new(app.url.clone())).await;
    app.stop().await;
    let failure = report.failure.expect("a failure");
    assert!(failure.contains("webtransport.json"), "{failure}");
}
