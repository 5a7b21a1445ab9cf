//! The Redis streams adapter under test: a TCP proxy that cuts connections, Sockeye nodes with
//! recovery on, a Node node (`tests/js/streams-node.mjs`), npm's socket.io-client
//! (`tests/js/sio-stream-recovery.mjs`), and numbered events from either kind of node.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sockeye::{Io, RecoveryConfig, Socket};
use sockeye_redis::{RedisStreamsAdapter, RedisStreamsConfig};
use sockeye_testkit::{TestClient, TestServer, WAIT, server_socket, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::Redis;

/// A loopback TCP proxy whose target the test changes, and whose connections it cuts.
pub struct Proxy {
    addr: SocketAddr,
    /// Where new connections go; `None` refuses them (closed at once).
    target: Arc<Mutex<Option<SocketAddr>>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(Some(target)));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (target, links) = (target.clone(), links.clone());
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    let Some(to) = *target.lock().unwrap() else {
                        continue;
                    };
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(to).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            addr,
            target,
            links,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy as a Redis URL.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Cuts every connection (both sides see their TCP connection close) and sends new ones to
    /// `target`.
    pub fn cut_and_point_to(&self, target: Option<SocketAddr>) {
        *self.target.lock().unwrap() = target;
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_and_point_to(None);
    }
}

/// A Sockeye node on the streams adapter, recovery on. A new socket joins `r` and gets data.
pub async fn node(redis: &Redis) -> TestServer {
    let adapter = RedisStreamsAdapter::connect(&redis.url())
        .await
        .expect("connects to redis");
    // Short heartbeats: over long-polling, a cut connection is noticed by the server only when
    // the client misses a ping.
    let engine = sockeye::EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300));
    let io = Io::builder()
        .engine(engine)
        .adapter(adapter.factory())
        .connection_state_recovery(
            RecoveryConfig::default().max_disconnection_duration(Duration::from_secs(30)),
        )
        .build();
    io.of("/").on_connection(|socket: Socket| async move {
        if !socket.recovered() {
            socket.join("r");
            socket.insert_data(json!({"user": "ann"}));
        }
    });
    TestServer::start(io).await
}

/// A Sockeye node on the streams adapter without recovery, with quick heartbeats.
pub struct StreamsNode {
    pub adapter: RedisStreamsAdapter,
    pub server: TestServer,
}

impl StreamsNode {
    pub async fn start(redis: &Redis) -> StreamsNode {
        let config = RedisStreamsConfig::default()
            .heartbeat(Duration::from_millis(200), Duration::from_secs(2));
        StreamsNode::start_with(redis, config).await
    }

    pub async fn start_with(redis: &Redis, config: RedisStreamsConfig) -> StreamsNode {
        StreamsNode::start_at(&redis.url(), config).await
    }

    /// A node that reaches Redis at `url` (through a [`Proxy`], to cut it off as a crash
    /// would: it can say nothing more).
    pub async fn start_at(url: &str, config: RedisStreamsConfig) -> StreamsNode {
        let adapter = RedisStreamsAdapter::connect_with(url, config)
            .await
            .expect("connects to redis");
        let io = Io::builder().adapter(adapter.factory()).build();
        StreamsNode {
            adapter,
            server: TestServer::start(io).await,
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

    /// Waits until this node counts `n` nodes on `/`.
    pub async fn wait_for_nodes(&self, n: usize) {
        let adapter = self.adapter.clone();
        sockeye_testkit::eventually(WAIT, move || adapter.server_count("/") == n).await;
    }
}

/// The JS client, and its output lines.
pub struct JsClient {
    _child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl JsClient {
    pub fn start(url: &str, mode: &str) -> JsClient {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/js/sio-stream-recovery.mjs"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(url)
            .arg(mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdout = child.stdout.take().expect("piped");
        JsClient {
            _child: child,
            lines: tokio::io::BufReader::new(stdout).lines(),
        }
    }

    pub async fn line(&mut self) -> Value {
        let line = within(WAIT, self.lines.next_line())
            .await
            .expect("reads the client's output")
            .expect("the client prints a line (is tests/js/node_modules installed?)");
        serde_json::from_str(&line).expect("a JSON line")
    }
}

/// A node that emits: a Sockeye one, or the Node one (through its stdin).
#[derive(Clone)]
pub enum Emitter {
    Rust(Io),
    Node(Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>),
}

impl Emitter {
    pub async fn emit(&self, event: &str, arg: u64, to: Option<&str>) {
        match self {
            Emitter::Rust(io) => match to {
                Some(room) => io.to(room).emit(event, &arg).unwrap(),
                None => io.emit(event, &arg).unwrap(),
            },
            Emitter::Node(stdin) => {
                let line = json!({"emit": event, "arg": arg, "to": to});
                let mut stdin = stdin.lock().await;
                stdin
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .unwrap();
                stdin.flush().await.unwrap();
            }
        }
    }
}

/// Emits `count` events `n` numbered from `from`, alternately from `a` and `b` (to room `r`,
/// and to everyone), with `x` events to a room the client is not in between.
pub async fn emit_numbers(a: &Emitter, b: &Emitter, from: u64, count: u64) {
    for i in from..from + count {
        let node = if i % 2 == 0 { a } else { b };
        let to = if i % 3 == 0 { None } else { Some("r") };
        node.emit("n", i, to).await;
        node.emit("x", i, Some("elsewhere")).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// As [`emit_numbers`] without the `x` events, and as fast as the nodes take them (a pause
/// every 100), so that the nodes read the stream behind what is in it.
pub async fn emit_burst(a: &Emitter, b: &Emitter, from: u64, count: u64) {
    for i in from..from + count {
        let node = if i % 2 == 0 { a } else { b };
        let to = if i % 3 == 0 { None } else { Some("r") };
        node.emit("n", i, to).await;
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Checks what the client got: every number once, each node's numbers in the order it sent
/// them (two nodes write the stream concurrently, so only their own order is theirs to keep).
/// With `offsets`, every event must carry its offset (Node replays missed packets without).
pub fn check_numbers(done: &Value, total: u64, offsets: bool) {
    let got: Vec<u64> = done["n"]
        .as_array()
        .expect("numbers")
        .iter()
        .map(|n| n.as_u64().expect("a number"))
        .collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..total).collect::<Vec<_>>(),
        "every number once: {got:?}"
    );
    for parity in 0..2 {
        let mine: Vec<u64> = got.iter().copied().filter(|n| n % 2 == parity).collect();
        assert!(mine.is_sorted(), "in order: {mine:?}");
    }
    if offsets {
        assert_eq!(
            done["offsets"],
            json!(total),
            "every event carries an offset"
        );
    }
    assert_eq!(done["x"], json!(0), "nothing for other rooms");
}

/// Waits until the events `n` numbered `total - 2` and `total - 1` (one from each node) are in
/// the stream, so that an event emitted next comes after every number.
pub async fn wait_for_the_last_numbers(redis: &Redis, total: u64) {
    for n in [total - 2, total - 1] {
        wait_for_in_stream(redis, &format!(r#"["n",{n}]"#)).await;
    }
}

/// Waits until Redis holds `n` sessions.
pub async fn wait_for_sessions(redis: &Redis, n: usize) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("sio:session:*")
            .query_async(&mut conn)
            .await
            .unwrap();
        if keys.len() == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} sessions never came: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until one of the last entries of the stream holds `needle`.
pub async fn wait_for_in_stream(redis: &Redis, needle: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
            .arg("socket.io")
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        if last
            .iter()
            .any(|(_, fields)| fields.iter().any(|f| f.contains(needle)))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{needle} never reached the stream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Node node on the streams adapter (`tests/js/streams-node.mjs`), killed when dropped.
pub struct StreamsNodeJs {
    pub port: u16,
    stdin: Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    _child: tokio::process::Child,
}

impl StreamsNodeJs {
    pub async fn start(redis: &Redis) -> StreamsNodeJs {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/js/streams-node.mjs"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(redis.url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = within(WAIT, lines.next_line())
            .await
            .expect("reads the node's output")
            .expect("the Node node prints its port (is tests/js/node_modules installed?)");
        let port: Value = serde_json::from_str(&line).expect("a JSON line");
        let port = u16::try_from(port["port"].as_u64().expect("a port")).expect("a port");
        StreamsNodeJs {
            port,
            stdin: Arc::new(tokio::sync::Mutex::new(stdin)),
            lines,
            _child: child,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn emitter(&self) -> Emitter {
        Emitter::Node(self.stdin.clone())
    }

    /// The rooms and data of socket `id` on this node (`rooms: null` when it is not here).
    pub async fn whois(&mut self, id: &str) -> Value {
        let line = json!({ "whois": id });
        {
            let mut stdin = self.stdin.lock().await;
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
            stdin.flush().await.unwrap();
        }
        loop {
            let line = within(WAIT, self.lines.next_line())
                .await
                .expect("reads the node's output")
                .expect("the Node node answers");
            let answer: Value = serde_json::from_str(&line).expect("a JSON line");
            if answer["whois"] == json!(id) {
                return answer;
            }
        }
    }
}
