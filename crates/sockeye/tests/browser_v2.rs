//! A Socket.IO 2.x client in a real browser on JSONP polling (`forceJSONP: true`), with
//! [`sockeye::IoBuilder::allow_eio3`]: Debian's Chromium driven by playwright-core
//! (`tests/browser/v2-jsonp.mjs`) loads the 2.x bundle (npm `socket.io-client@2`, alias
//! `socket.io-client-v2`) from a page this test serves; events, acks both ways and binary
//! (base64, as JSONP carries no binary) go through `<script>` reads and form posts. With JSONP
//! turned off ([`sockeye::EngineConfig::jsonp`]) the client is refused.
//!
//! Needs `/usr/bin/chromium`, `tests/browser/node_modules` (`npm ci --prefix tests/browser`)
//! and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests fail, they
//! never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Its `transport_modes!` is for the Node tests: JSONP is one transport.
#[allow(unused_macros)]
mod common;

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use bytes::Bytes;
use common::*;
use serde_json::json;
use sockeye::{AckSender, Data, EngineConfig, Event, Io, Socket, State};

/// One browser at a time: two Chromiums on a loaded two-core machine time out.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>socket.io-client 2.x on JSONP</title>
<script src="/v2/socket.io.js"></script></head>
<body><p>socket.io-client 2.x</p></body></html>"#;

fn check_prerequisites() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: apt-get install chromium"
    );
    let playwright = repo_root().join("tests/browser/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `npm ci --prefix tests/browser`",
        playwright.display()
    );
}

/// The 2.x browser bundle, from the npm package.
fn bundle() -> Vec<u8> {
    let path = js_dir().join("node_modules/socket.io-client-v2/dist/socket.io.js");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `npm ci --prefix tests/js`", path.display()))
}

/// Serves the page, the bundle and Socket.IO with `engine`, on `127.0.0.1:0`.
async fn serve_page(engine: EngineConfig, log: &Log) -> (String, Io) {
    let (layer, io) = Io::builder()
        .engine(engine)
        .allow_eio3(true)
        .state(log.clone())
        .build_layer();
    io.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        log.push(
            "jsonp",
            json!({ "j": socket.handshake().query("j"), "protocol": format!("{:?}", socket.engine().protocol()) }),
        );
        socket.on("echo", |event: Event, ack: AckSender| async move {
            ack.send_raw(event.args.clone(), event.attachments.clone())
                .unwrap();
        });
        socket.on("ask-me", |socket: Socket, Data(text): Data<String>, ack: AckSender| async move {
            let answer: Result<String, _> = socket.emit_with_ack("question", &text).await;
            ack.send(&answer.unwrap()).unwrap();
        });
        let _ = socket.emit("welcome", &("hi", Bytes::from_static(&[1, 2, 3])));
    });
    let script = bundle();
    let app = Router::new()
        .route("/v2.html", get(|| async { Html(PAGE) }))
        .route(
            "/v2/socket.io.js",
            get(move || {
                let script = script.clone();
                async move { ([("content-type", "application/javascript")], script) }
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), io)
}

fn engine() -> EngineConfig {
    EngineConfig::default()
        .ping_interval(Duration::from_secs(2))
        .ping_timeout(Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_browser_client_on_jsonp_polling() {
    check_prerequisites();
    let _guard = BROWSER.lock().await;
    let log = Log::default();
    let (url, _io) = serve_page(engine(), &log).await;
    let got = run_script("../browser/v2-jsonp.mjs", &url, "accepted").await;

    // Connected to `/` on JSONP polling, with the session id as socket id.
    assert_eq!(got["transport"], "polling", "{got}");
    assert!(got["jsonpIndex"].is_number(), "{got}");
    assert_eq!(got["forms"], 1, "{got}");
    assert_eq!(got["id"], got["engine"]);
    let jsonp = log.wait("jsonp").await;
    assert_eq!(jsonp["protocol"], "V3");
    assert_eq!(jsonp["j"], got["jsonpIndex"].to_string());

    // Events, acks both ways, and binary both ways (base64 inside JSONP).
    // The 2.x client hands received binary to the page as an ArrayBuffer.
    assert_eq!(got["welcome"], json!(["hi", { "$bin": "010203" }]));
    assert_eq!(got["echo"], json!(["héllo", { "n": 1 }]));
    assert_eq!(
        got["binEcho"],
        json!([{ "$bin": "000102ff" }, { "label": "doc" }])
    );
    assert_eq!(got["asked"], json!(["answer to life"]));
    log.wait("disconnect ? /").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_browser_client_refused_when_jsonp_is_off() {
    check_prerequisites();
    let _guard = BROWSER.lock().await;
    let log = Log::default();
    let (url, _io) = serve_page(engine().jsonp(false), &log).await;
    let got = run_script("../browser/v2-jsonp.mjs", &url, "refused").await;
    assert_eq!(got["error"], "jsonp poll error", "{got}");
    assert!(log.keys().is_empty(), "{:?}", log.keys());
}
