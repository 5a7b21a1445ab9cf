//! The `echo-deflate` scenario: the load generator offers permessage-deflate, the server must
//! accept it and compress, and the load generator compresses its own messages. Against
//! Sockeye in-process and against Node's socket.io (`bench/node/server.js`, whose `ws` is an
//! implementation of the extension independent of ours).

use std::time::Duration;

use sockeye::{EngineConfig, Io, PerMessageDeflate};
use sockeye_loadgen::{Config, Report, Scenario};

mod common;

fn config(url: &str) -> Config {
    let mut config = Config::new(url);
    config.clients = Some(10);
    config.duration = Duration::from_millis(800);
    config.warmup = Duration::from_millis(200);
    config
}

fn assert_compressed_both_ways(report: &Report) {
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(report)));
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.errors, 0, "an echo came back different");
    assert!(report.ops > 0);
    let deflate = report.deflate.expect("deflate counts");
    assert_eq!(deflate.accepted, 10, "every connection agreed");
    // Every 4 KiB echo goes compressed each way (the warm-up's too); the CONNECT and its
    // answer, under the threshold, do not.
    assert!(deflate.compressed_in >= report.ops, "{deflate:?}");
    assert!(deflate.compressed_out >= report.ops, "{deflate:?}");
    assert!(
        deflate.wire_ratio_in > 0.0 && deflate.wire_ratio_in < 0.5,
        "{deflate:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_deflate_against_sockeye_compresses_both_ways() {
    let engine = EngineConfig::default().per_message_deflate(Some(PerMessageDeflate::default()));
    let app = common::BenchApp::start_with(Io::builder().engine(engine)).await;
    let report = sockeye_loadgen::run(Scenario::EchoDeflate, &config(&app.url)).await;
    app.stop().await;
    assert_compressed_both_ways(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_deflate_fails_when_the_server_declines() {
    let app = common::BenchApp::start().await;
    let report = sockeye_loadgen::run(Scenario::EchoDeflate, &config(&app.url)).await;
    // The same echo without the offer works against it.
    let plain = sockeye_loadgen::run(Scenario::Echo4k, &config(&app.url)).await;
    app.stop().await;
    let failure = report.failure.expect("a failure");
    assert!(failure.contains("declined"), "{failure}");
    assert!(plain.failure.is_none(), "{:?}", plain.failure);
    assert_eq!(plain.errors, 0);
    assert!(plain.deflate.is_none());
}

/// Node's socket.io 4.8 with `perMessageDeflate: {threshold: 1024}` (bench/node, `DEFLATE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_deflate_against_node_compresses_both_ways() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut node = std::process::Command::new("node")
        .arg(format!("{root}/bench/node/server.js"))
        .env("PORT", port.to_string())
        .env("DEFLATE", "1024")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (bench/node needs `npm ci`)");
    // It prints its banner once it listens.
    let stdout = node.stdout.take().expect("stdout");
    let banner = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let banner = tokio::time::timeout(Duration::from_secs(20), banner).await;
    let url = format!("http://127.0.0.1:{port}/socket.io/");
    let report = match banner {
        Ok(Ok(Ok(line))) if line.contains("socket.io") => {
            sockeye_loadgen::run(Scenario::EchoDeflate, &config(&url)).await
        }
        other => {
            let _ = node.kill();
            panic!("node did not start: {other:?}");
        }
    };
    let _ = node.kill();
    let _ = node.wait();
    assert_compressed_both_ways(&report);
}
