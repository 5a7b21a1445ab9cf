//! `sockeye serve --allow-eio3` serves Socket.IO 2.x clients (Engine.IO v3): a v3 handshake is
//! answered with a length-prefixed payload and the session is connected to `/` unasked (a bare
//! `0`, Socket.IO protocol v4). Without the flag a v3 handshake is refused, as in Node.
//! (The clients themselves are tested in crates/sockeye/tests/interop_v2.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockeye_testkit::http_get;

/// `sockeye serve` on a free port; killed on drop.
struct Serve {
    child: Child,
    addr: String,
    /// Its log (stderr), line by line.
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["serve", "--port", "0", "--uploads"])
            .arg(dir.path())
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("running sockeye serve");
        let stderr = child.stderr.take().unwrap();
        let (found, address) = std::sync::mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("open http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = found.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = address
            .recv_timeout(Duration::from_secs(30))
            .expect("sockeye serve did not say where it listens");
        Serve {
            child,
            addr,
            log,
            _dir: dir,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_eio3_serves_a_v3_session_connected_to_the_root_namespace() {
    let serve = Serve::start(&["--allow-eio3"]);
    let base = format!("http://{}/socket.io/?EIO=3&transport=polling", serve.addr);
    let open = http_get(&base).await.unwrap();
    assert_eq!(open.status, 200, "{}", open.text());
    let body = open.text();
    // `<length>:0{...}`: v3 framing, then the open packet.
    let (length, packet) = body.split_once(':').unwrap();
    assert_eq!(length.parse::<usize>().unwrap(), packet.len(), "{body}");
    let open: serde_json::Value = serde_json::from_str(packet.strip_prefix('0').unwrap()).unwrap();
    let sid = open["sid"].as_str().unwrap();

    // The implicit CONNECT of `/`, with no payload (protocol v4).
    let poll = http_get(&format!("{base}&sid={sid}")).await.unwrap();
    assert_eq!(poll.status, 200);
    assert!(poll.text().starts_with("2:40"), "{}", poll.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_eio3_a_v3_handshake_is_refused() {
    let serve = Serve::start(&[]);
    let url = format!("http://{}/socket.io/?EIO=3&transport=polling", serve.addr);
    let response = http_get(&url).await.unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
    // The log says how to serve such clients, once however many retry.
    let again = http_get(&url).await.unwrap();
    assert_eq!(again.status, 400);
    let hint = "turn on allow_eio3 (sockeye serve --allow-eio3)";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !serve.log.lock().unwrap().iter().any(|l| l.contains(hint)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no hint in the log: {:?}",
            serve.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let told = serve
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(hint))
        .count();
    assert_eq!(told, 1);
}
