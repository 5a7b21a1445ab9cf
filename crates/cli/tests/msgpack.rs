//! `sockeye serve --parser msgpack`: the msgpack client bundle is served, the demo pages load
//! it, and the demo app speaks socket.io-msgpack-parser (to the Rust client with
//! `Parser::MsgPack`, over polling). Needs `npm ci --prefix web` for the bundle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use sockeye::Parser;
use sockeye_cli::serve::{Config, run_on};
use sockeye_client::{Ack, Client, Transports};
use sockeye_testkit::{WAIT, http_get, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_msgpack_parser() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../web/node_modules/socket.io-client/dist");
    let bundle = std::fs::read(dist.join("socket.io.msgpack.min.js"))
        .expect("the socket.io-client bundle: run `npm ci --prefix web` first");
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        port: 0,
        uploads_dir: dir.path().join("uploads"),
        client_dir: Some(dist),
        parser: Parser::MsgPack,
        ..Config::default()
    };
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(run_on(listener, config, std::future::pending()));

    let served = http_get(&format!("{url}/socket.io/socket.io.msgpack.min.js"))
        .await
        .unwrap();
    assert_eq!(served.status, 200);
    assert_eq!(
        served.headers["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(served.body, bundle);
    let map = http_get(&format!("{url}/socket.io/socket.io.msgpack.min.js.map"))
        .await
        .unwrap();
    assert_eq!(map.status, 200);

    let seed = http_get(&format!("{url}/seed.html")).await.unwrap().text();
    assert!(
        seed.contains(r#"<script src="/socket.io/socket.io.msgpack.min.js"></script>"#),
        "{seed}"
    );
    assert!(!seed.contains("socket.io/socket.io.js"));

    // The seed's motd and "Roger that", in MessagePack.
    let client = Client::builder(&url)
        .transports(Transports::Polling)
        .parser(Parser::MsgPack)
        .reconnection(false)
        .build()
        .unwrap();
    let socket = client.socket("/");
    let (motd_tx, mut motd) = tokio::sync::mpsc::unbounded_channel();
    socket.on("motd", move |text: String, _ack: Ack| {
        let _ = motd_tx.send(text);
    });
    socket.connect();
    assert_eq!(
        within(WAIT, motd.recv()).await.unwrap(),
        "Welcome to my server!"
    );
    let reply: String = socket
        .timeout(WAIT)
        .emit_with_ack("important_message", &serde_json::json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(reply, "Roger that");
}
