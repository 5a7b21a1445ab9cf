//! `sockeye serve --adapter redis://...` (and `redis-streams://...`): two servers on one
//! redis-server (the test's own, on a free port) share the demo's broadcasts; a bad adapter URL
//! is refused at start.

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
