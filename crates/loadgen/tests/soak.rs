//! A short soak against an in-process Sockeye server running the bench app: ~300 clients
//! cycle through sessions for ~15 s; no errors, the server's sessions drain to zero, and the
//! process's RSS at the end stays near its value after warm-up.

use std::time::{Duration, Instant};

use sockeye_loadgen::{Config, Scenario};

mod common;

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
    let app = common::BenchApp::start().await;
    let io = app.io.clone();

    let mut config = Config::new(app.url.clone());
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

    app.stop().await;
}
