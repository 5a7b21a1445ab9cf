//! `sockeye serve --webtransport`: the endpoint beside the HTTP server, its certificate (made
//! at start, or given), `/webtransport.json`, the upgrades polling sessions are offered; then
//! Debian's Chromium (fresh profile, driven by playwright-core: `tests/browser/webtransport.mjs`)
//! with the official client over WebTransport, directly and as an upgrade from polling.
//!
//! The browser test needs what `crates/cli/tests/browser.rs` needs (`/usr/bin/chromium`,
//! `npm ci --prefix tests/browser`, `npm ci --prefix web`) and fails, saying so, without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sockeye_cli::serve::{Config, run_on};
use sockeye_cli::webtransport::WebTransportConfig;
use sockeye_testkit::{TestClient, Transport, WAIT, http_get, packet_args, run_for_result};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `sockeye serve` in-process on a loopback port with `--webtransport --wt-port 0`, on its
/// own runtime; stopped on drop.
struct Server {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(webtransport: WebTransportConfig, dir: tempfile::TempDir) -> Server {
        let config = Config {
            port: 0,
            uploads_dir: dir.path().join("uploads"),
            client_dir: Some(workspace().join("web/node_modules/socket.io-client/dist")),
            webtransport: Some(webtransport),
            ..Config::default()
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                run_on(listener, config, async {
                    let _ = stopped.await;
                })
                .await
                .expect("sockeye serve");
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Server {
            addr,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `/webtransport.json`, once the server answers it.
    async fn info(&self) -> Value {
        let url = format!("{}/webtransport.json", self.url());
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            // The HTTP listener is bound before the app is served: early requests may wait.
            if let Ok(response) = http_get(&url).await {
                assert_eq!(response.status, 200);
                return serde_json::from_slice(&response.body).unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no /webtransport.json"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn sha256_of(info: &Value) -> [u8; 32] {
    let bytes: Vec<u8> = serde_json::from_value(info["sha256"].clone()).unwrap();
    bytes.try_into().unwrap()
}

fn any_port() -> WebTransportConfig {
    WebTransportConfig {
        port: Some(0),
        ..WebTransportConfig::default()
    }
}

/// A Socket.IO client on the server's WebTransport endpoint echoes through the demo's
/// `/binary` namespace.
async fn echo_over_webtransport(server: &Server, info: &Value) {
    let addr = SocketAddr::new(server.addr.ip(), info["port"].as_u64().unwrap() as u16);
    let mut client = TestClient::builder(&format!("{}/socket.io/", server.url()))
        .transport(Transport::WebTransport {
            addr,
            sha256: sha256_of(info),
        })
        .connect()
        .await;
    client.connect_ns("/binary", None).await.unwrap();
    let id = client.emit_with_ack("/binary", "echo", json!(["over h3"]), vec![]);
    let ack = client.expect_ack("/binary", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!("over h3")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_made_and_published() {
    let server = Server::start(any_port(), tempfile::tempdir().unwrap());
    let info = server.info().await;
    assert_eq!(info["selfSigned"], true);
    let sha256 = sha256_of(&info);
    let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(info["sha256Hex"], hex);
    assert_ne!(info["port"], 0);

    // Polling sessions are offered the upgrade.
    let handshake = http_get(&format!(
        "{}/socket.io/?EIO=4&transport=polling",
        server.url()
    ))
    .await
    .unwrap();
    let text = String::from_utf8(handshake.body.to_vec()).unwrap();
    let open: Value = serde_json::from_str(text.strip_prefix('0').unwrap()).unwrap();
    assert_eq!(open["upgrades"], json!(["websocket", "webtransport"]));

    // The client checks the certificate as browsers do: pinned by its hash, ECDSA P-256,
    // valid for two weeks at most.
    echo_over_webtransport(&server, &info).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let made = sockeye::webtransport::WebTransportCertificate::self_signed(&["localhost"]).unwrap();
    let cert = dir.path().join("wt-cert.pem");
    let key = dir.path().join("wt-key.pem");
    std::fs::write(&cert, made.certificate_pem()).unwrap();
    std::fs::write(&key, made.private_key_pem()).unwrap();
    let config = WebTransportConfig {
        port: Some(0),
        cert: Some(cert.clone()),
        key: Some(key),
    };
    let server = Server::start(config, dir);
    let info = server.info().await;
    assert_eq!(info["selfSigned"], false);
    assert_eq!(sha256_of(&info), made.sha256());
    // The hash is that of the certificate's DER, as browsers compute it.
    let pem = std::fs::read_to_string(&cert).unwrap();
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, base64).unwrap();
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&der)), made.sha256());
    echo_over_webtransport(&server, &info).await;
}

#[test]
fn chromium_connects_over_webtransport() {
    let root = workspace();
    for (what, present) in [
        ("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists()),
        (
            "tests/browser/node_modules (npm ci --prefix tests/browser)",
            root.join("tests/browser/node_modules/playwright-core")
                .is_dir(),
        ),
        (
            "web/node_modules/socket.io-client (npm ci --prefix web)",
            root.join("web/node_modules/socket.io-client/dist/socket.io.js")
                .is_file(),
        ),
    ] {
        assert!(
            present,
            "the browser test needs {what}; scripts/test installs it"
        );
    }
    let server = Server::start(any_port(), tempfile::tempdir().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(server.info());
    let mut command = Command::new("node");
    command
        .arg("webtransport.mjs")
        .args(["--url", &server.url()])
        .arg("--artifacts")
        .arg(root.join("tests/artifacts"))
        .current_dir(root.join("tests/browser"));
    let result = run_for_result(command, "webtransport.mjs", Duration::from_secs(300));
    for run in ["direct", "upgraded"] {
        assert_eq!(result[run]["transport"], "webtransport", "{run}");
        assert_eq!(result[run]["binaryEchoSame"], true, "{run}");
    }
    assert_eq!(
        result["upgraded"]["history"],
        json!(["open: polling", "upgrade: webtransport"])
    );
}
