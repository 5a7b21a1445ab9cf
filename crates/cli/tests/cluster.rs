//! `sockeye serve --adapter redis://...` (and `redis-streams://...`): two servers on one
//! redis-server (the test's own, on a free port) share the demo's broadcasts; a bad adapter URL
//! is refused at start; two `sockeye serve --admin-ui` processes on one host are two servers
//! in the admin UI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sockeye_cli::serve::{Config, run_on};
use sockeye_testkit::{TestClient, WAIT};

/// A redis-server on a free loopback port, killed when dropped.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start() -> Redis {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Redis { port, child };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("cannot start redis-server");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(
    redis: &Redis,
    scheme: &str,
    dir: &std::path::Path,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let config = Config {
        port: 0,
        uploads_dir: dir.join("uploads"),
        adapter: Some(format!("{scheme}://127.0.0.1:{}", redis.port)),
        recovery: Some(Duration::from_secs(30)),
        ..Config::default()
    };
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run_on(listener, config, async {
        let _ = stopped.await;
    }));
    (format!("http://{addr}/socket.io/"), stop)
}

#[tokio::test]
async fn two_servers_share_the_demos_broadcasts() {
    two_servers_share_broadcasts("redis").await;
}

#[tokio::test]
async fn two_servers_on_a_redis_stream_share_the_demos_broadcasts() {
    two_servers_share_broadcasts("redis-streams").await;
}

async fn two_servers_share_broadcasts(scheme: &str) {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let (url1, _stop1) = serve(&redis, scheme, dir.path()).await;
    let (url2, _stop2) = serve(&redis, scheme, dir.path()).await;
    let mut c1 = TestClient::connect(&url1).await;
    let sid1 = c1.connect_ns("/", None).await.unwrap();
    let mut c2 = TestClient::connect(&url2).await;
    c2.connect_ns("/", None).await.unwrap();
    // The servers subscribe in the background, so a disconnection on the first one may go
    // before the second listens: clients of the first come and go until one is heard of.
    let deadline = Instant::now() + WAIT;
    let mut gone = sid1;
    c1.close();
    loop {
        let heard = c2
            .try_expect_wire(Duration::from_millis(300), |p| {
                p.event_name().as_deref() == Some("client_disconnected")
            })
            .await;
        if let Ok((packet, _)) = heard {
            let args = packet.args().unwrap().to_values();
            if args[0]["clientID"] == gone.as_str() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no broadcast crossed the servers"
        );
        let mut c = TestClient::connect(&url1).await;
        gone = c.connect_ns("/", None).await.unwrap();
        c.close();
    }
}

#[tokio::test]
async fn an_unsupported_adapter_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        port: 0,
        uploads_dir: dir.path().join("uploads"),
        adapter: Some("mongodb://127.0.0.1".into()),
        ..Config::default()
    };
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let error = run_on(listener, config, std::future::pending())
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("redis://"), "{error:#}");
}

/// `sockeye serve --admin-ui --adapter redis://...` in a child process (its own pid), killed on
/// drop, and the URL it says it listens on.
struct ServeProcess {
    child: Child,
    url: String,
}

impl ServeProcess {
    fn start(redis: &Redis, uploads: &std::path::Path, extra: &[&str]) -> ServeProcess {
        use std::io::{BufRead, BufReader};
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--uploads"])
            .arg(uploads)
            .args(["--adapter", &format!("redis://127.0.0.1:{}", redis.port)])
            .arg("--admin-ui")
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sockeye serve runs");
        // The log goes to standard error; read on a thread so that the child never blocks.
        let log = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                println!("[serve] {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("sockeye serve did not say where it listens (are web/node_modules there?)");
            };
            if let Some(rest) = line.split("sockeye serve: open ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                break url.trim_end_matches('/').to_owned();
            }
        };
        ServeProcess { child, url }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two processes on one host and one Redis: without `--admin-server-id` a node is
/// `hostname#pid` (the host name alone would make the UI merge the two), with it the id given.
#[tokio::test]
async fn two_serve_processes_are_two_servers_in_the_admin_ui() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let first = ServeProcess::start(&redis, dir.path(), &[]);
    let _second = ServeProcess::start(&redis, dir.path(), &["--admin-server-id", "edge-2"]);
    let first_pid = first.child.id();

    let mut ui = TestClient::connect(&format!("{}/socket.io/", first.url)).await;
    ui.connect_ns("/admin", None).await.unwrap();
    let mut ids = std::collections::BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while ids.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let (packet, _) = ui
            .try_expect_wire(left, |p| p.event_name().as_deref() == Some("server_stats"))
            .await
            .unwrap_or_else(|e| panic!("server_stats of both processes; got {ids:?}: {e}"));
        let stats = packet.args().unwrap().to_values();
        let id = stats[0]["serverId"].as_str().unwrap().to_owned();
        ids.insert(id, (stats[0]["hostname"].clone(), stats[0]["pid"].clone()));
    }
    let (hostname, pid) = ids
        .iter()
        .find(|(id, _)| *id != "edge-2")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(pid, serde_json::json!(first_pid), "{ids:?}");
    let hostname = hostname.as_str().unwrap();
    assert!(
        ids.contains_key(&format!("{hostname}#{first_pid}")),
        "{ids:?}"
    );
    assert!(ids.contains_key("edge-2"), "{ids:?}");
}
