//! A redis-server of the test's own, on a free loopback port, and Sockeye nodes using it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cross;
pub mod streams;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sockeye::{Io, Socket};
use sockeye_redis::{RedisAdapter, RedisConfig};
use sockeye_testkit::{Packet, TestClient, TestServer, WAIT, server_socket};

/// A redis-server child process, killed when dropped. Never the machine's 6379.
pub struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        // A port is drawn by binding port 0, then handed to redis-server; another process could
        // take it in between, so a start that fails is tried again on a new port.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|addr| addr.port())
                .expect("a free port");
            let mut redis = Redis { port, child: None };
            if redis.spawn() {
                return redis;
            }
        }
        panic!("cannot start redis-server");
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(self.addr()).is_ok() {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would: SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        assert!(self.spawn(), "redis-server restarts on port {}", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Sockeye server on a free port whose namespaces use a Redis adapter.
pub struct Node {
    pub redis: RedisAdapter,
    pub server: TestServer,
}

impl Node {
    pub async fn start(redis: &Redis) -> Node {
        Node::start_with(redis, RedisConfig::default()).await
    }

    pub async fn start_with(redis: &Redis, config: RedisConfig) -> Node {
        let adapter = RedisAdapter::connect_with(&redis.url(), config)
            .await
            .expect("connects to redis");
        let io = Io::builder().adapter(adapter.factory()).build();
        let server = TestServer::start(io).await;
        Node {
            redis: adapter,
            server,
        }
    }

    pub fn io(&self) -> Io {
        self.server.io().clone()
    }

    /// A client connected to `/`, with its socket on this node.
    pub async fn client(&self) -> (TestClient, Socket) {
        let mut client = TestClient::connect(&self.server.url()).await;
        let sid = client.connect_ns("/", None).await.expect("connects");
        let socket = server_socket(&self.io().of("/"), &sid);
        (client, socket)
    }
}

/// Waits until Redis counts `n` nodes on `/`.
pub async fn wait_for_nodes(redis: &RedisAdapter, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(count) = redis.server_count("/").await {
            if count == n {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Redis never counted {n} nodes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The events a client receives until event `marker`, in order, as `(name, packet)`.
pub async fn events_until(client: &mut TestClient, marker: &str) -> Vec<(String, Packet)> {
    let mut events = Vec::new();
    loop {
        let packet = client.recv_packet(WAIT).await;
        let Some(name) = packet.event_name() else {
            panic!("unexpected packet {packet:?}");
        };
        if &*name == marker {
            return events;
        }
        events.push((name.to_string(), packet));
    }
}

/// The names in [`events_until`].
pub async fn names_until(client: &mut TestClient, marker: &str) -> Vec<String> {
    events_until(client, marker)
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// A Node node of the cluster: `node tests/js/redis-node.mjs <redis url>` (socket.io 4.8 with
/// @socket.io/redis-adapter 8). Killed when dropped. Needs `node` and `tests/js/node_modules`
/// (`npm ci --prefix tests/js`); without them the test fails, it never passes silently.
pub struct NodeJs {
    pub port: u16,
    child: tokio::process::Child,
}

impl NodeJs {
    pub async fn start(redis: &Redis) -> NodeJs {
        NodeJs::start_mode(redis, "pubsub").await
    }

    /// A Node node on @socket.io/redis-streams-adapter instead.
    pub async fn start_streams(redis: &Redis) -> NodeJs {
        NodeJs::start_mode(redis, "streams").await
    }

    async fn start_mode(redis: &Redis, mode: &str) -> NodeJs {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/js/redis-node.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(redis.url())
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = sockeye_testkit::within(WAIT, lines.next_line())
            .await
            .expect("reads the node's output")
            .expect("the Node node prints its port (is tests/js/node_modules installed?)");
        let port: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let port = port["port"].as_u64().expect("a port") as u16;
        NodeJs { port, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/socket.io/", self.port)
    }

    pub async fn client(&self) -> TestClient {
        let mut client = TestClient::connect(&self.url()).await;
        client.connect_ns("/", None).await.expect("connects");
        client
    }

    /// Kills the process (as a crash would).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Runs `cmd (op, arg)` on the node of `client` (a Node node) and returns its result.
pub async fn cmd(client: &mut TestClient, op: &str, arg: serde_json::Value) -> serde_json::Value {
    let id = client.emit_with_ack("/", "cmd", serde_json::json!([op, arg]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    let mut values = ack.data.expect("ack data").to_value();
    let value = values
        .as_array_mut()
        .and_then(|v| v.pop())
        .unwrap_or_default();
    assert!(value.get("error").is_none(), "{op} failed: {value}");
    value
}
