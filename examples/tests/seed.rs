//! The seed example end to end: its app served on a loopback port and driven by two npm
//! `socket.io-client` clients (`tests/js/seed.mjs`), over WebSocket, polling and the upgrade.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../seed.rs"]
mod seed;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sockeye::Io;

async fn run(mode: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("tests/js/node_modules/socket.io-client").is_dir(),
        "tests/js/node_modules is missing: run `npm ci --prefix tests/js` (scripts/test does)"
    );
    let (service, io) = Io::builder().build_service();
    seed::app(&io);
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sockeye::serve(listener, service, async {
        let _ = stopped.await;
    }));

    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(root.join("tests/js/seed.mjs"))
            .arg(format!("http://{addr}"))
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the seed script timed out")
    .expect("node could not run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "seed scenario failed over {mode}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["ack"], "Roger that");
    assert_eq!(result["rooms"]["exampleRoom"], 2);
    assert_eq!(result["motd"], "Welcome to my server!");
    let a_id = result["aId"].as_str().unwrap();
    assert_eq!(
        result["disconnected"],
        serde_json::json!({ "message": format!("User: {a_id}, disconnected."), "clientID": a_id })
    );
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_over_websocket() {
    run("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_over_polling() {
    run("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_over_polling_with_upgrade() {
    run("upgrade").await;
}
