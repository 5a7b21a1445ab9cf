//! Interop with the official JavaScript client: `tests/js/engineio-echo.mjs` runs npm's
//! `engine.io-client` 6.x under Node against an echo server, over polling, over WebSocket, and
//! with an upgrade from the first to the second.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the
//! tests fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use sockeye_engineio::CloseReason;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The script's folder, after checking that its dependencies are installed.
fn js_dir() -> PathBuf {
    let dir = repo_root().join("tests/js");
    let client = dir.join("node_modules/engine.io-client/package.json");
    assert!(
        client.is_file(),
        "{} is missing: the JavaScript interop tests need their npm packages; \
         run `npm ci --prefix tests/js` at the repository root first",
        client.display()
    );
    dir
}

async fn run(mode: &'static str) {
    let dir = js_dir();
    let mut server = start(config()).await;
    let url = format!("http://{}", server.addr);
    let script = dir.join("engineio-echo.mjs");

    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .arg(&url)
            .arg(mode)
            .current_dir(&dir)
            .output()
    });
    let output = within(Duration::from_secs(60), output)
        .await
        .unwrap()
        .unwrap_or_else(|error| {
            panic!("could not run `node` (is Node.js installed and on PATH?): {error}")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "engine.io-client ({mode}) failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    eprintln!("engine.io-client ({mode}): {line}");
    let result: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|_| panic!("no JSON result line: {stdout}\nstderr: {stderr}"));
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["messages"], 10, "{result}");
    let expected_transport = if mode == "polling" {
        "polling"
    } else {
        "websocket"
    };
    assert_eq!(result["transport"], expected_transport, "{result}");
    assert_eq!(result["upgraded"], mode == "upgrade", "{result}");

    // The server saw one session, with every message, closed by the client.
    let socket = server.expect_open().await;
    let sid = socket.id();
    let mut messages = 0;
    loop {
        match server.next_event().await {
            Event::Message(from, _) => {
                assert_eq!(from, sid);
                messages += 1;
            }
            Event::Close(from, reason) => {
                assert_eq!(from, sid);
                assert_eq!(reason, CloseReason::TransportClose);
                break;
            }
            Event::Open(other) => panic!("a second session opened: {other:?}"),
        }
    }
    assert_eq!(messages, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_over_polling() {
    run("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_over_websocket() {
    run("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_upgrading_from_polling_to_websocket() {
    run("upgrade").await;
}
