//! `sockeye serve --tls-cert --tls-key`: the cli app runs in-process over TLS (a self-signed
//! certificate for `localhost` and 127.0.0.1, made with rcgen) and the official Node client
//! (`tests/js/tls.mjs`, trusting that certificate as its CA) connects over `https` long-polling,
//! over `wss`, and with an upgrade from one to the other, and gets the seed's "Roger that".
//!
//! What they need: node and `tests/js/node_modules` (`npm ci --prefix tests/js`). Without them
//! these tests fail, saying so.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sockeye_cli::serve::{Config, run_on};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check_prerequisites() {
    let root = workspace();
    assert!(
        root.join("tests/js/node_modules/socket.io-client").is_dir(),
        "the TLS tests need tests/js/node_modules: npm ci --prefix tests/js"
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "the TLS tests need node (20 or newer) on the PATH"
    );
}

/// The cli app over TLS on a loopback port, on its own runtime; stopped on drop.
struct Server {
    addr: SocketAddr,
    ca: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("writing cert.pem");
        std::fs::write(&key, certified.key_pair.serialize_pem()).expect("writing key.pem");
        let config = Config {
            port: 0,
            uploads_dir: dir.path().join("uploads"),
            tls_cert: Some(cert.clone()),
            tls_key: Some(key),
            ..Config::default()
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = sockeye::bind("127.0.0.1:0".parse()?).await?;
                addr_tx.send(listener.local_addr()?)?;
                run_on(listener, config, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not start");
        Server {
            addr,
            ca: cert,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) if !std::thread::panicking() => {
                    panic!("the server failed: {error:#}")
                }
                Ok(Err(_)) => {}
                Err(_) if !std::thread::panicking() => panic!("the server thread panicked"),
                Err(_) => {}
            }
        }
    }
}

fn run_client(mode: &str) {
    check_prerequisites();
    let server = Server::start();
    let url = format!("https://localhost:{}", server.addr.port());
    let output = Command::new("node")
        .arg(workspace().join("tests/js/tls.mjs"))
        .arg(&url)
        .arg(mode)
        .arg(&server.ca)
        .current_dir(workspace().join("tests/js"))
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node tls.mjs {url} {mode} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}\nstderr: {stderr}"));
    assert_eq!(result["ack"], "Roger that", "{result}");
    let expected = if mode == "polling" {
        "polling"
    } else {
        "websocket"
    };
    assert_eq!(result["transport"], expected, "{result}");
    drop(server);
}

#[test]
fn tls_polling() {
    run_client("polling");
}

#[test]
fn tls_websocket() {
    run_client("websocket");
}

#[test]
fn tls_upgrade() {
    run_client("upgrade");
}

/// Only one of the two flags, or files that are not PEM, are errors before anything is served.
#[test]
fn tls_config_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        tls_cert: Some(dir.path().join("cert.pem")),
        ..Config::default()
    };
    let error = sockeye_cli::serve::tls_config(&config).expect_err("a cert without a key");
    assert!(error.to_string().contains("--tls-key"), "{error:#}");

    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("writing junk");
    let config = Config {
        tls_cert: Some(junk.clone()),
        tls_key: Some(junk),
        ..Config::default()
    };
    assert!(sockeye_cli::serve::tls_config(&config).is_err());
}
