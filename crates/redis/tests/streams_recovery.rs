//! Connection-state recovery across a cluster on the Redis streams adapter: npm's
//! socket.io-client (`tests/js/sio-stream-recovery.mjs`) goes through a TCP proxy of the test
//! to node A; the proxy cuts it in the middle of a stream of numbered events and sends it to
//! node B, which must give it back its id, rooms and data, and every event it missed, once and
//! in order. Then the same with node A gone for good after the cut.
//!
//! Needs `redis-server`, `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Redis;
use serde_json::{Value, json};
use sockeye::{Io, RecoveryConfig, Socket};
use sockeye_redis::RedisStreamsAdapter;
use sockeye_testkit::{TestServer, WAIT, within};
use tokio::io::AsyncBufReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A loopback TCP proxy whose target the test changes, and whose connections it cuts.
struct Proxy {
    addr: SocketAddr,
    /// Where new connections go; `None` refuses them (closed at once).
    target: Arc<Mutex<Option<SocketAddr>>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
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

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts every connection (both sides see their TCP connection close) and sends new ones to
    /// `target`.
    fn cut_and_point_to(&self, target: Option<SocketAddr>) {
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
async fn node(redis: &Redis) -> TestServer {
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

/// The JS client, and its output lines.
struct JsClient {
    _child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl JsClient {
    fn start(url: &str, mode: &str) -> JsClient {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/js/sio-stream-recovery.mjs"
        );
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(url)
            .arg(mode)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdout = child.stdout.take().expect("piped");
        JsClient {
            _child: child,
            lines: tokio::io::BufReader::new(stdout).lines(),
        }
    }

    async fn line(&mut self) -> Value {
        let line = within(WAIT, self.lines.next_line())
            .await
            .expect("reads the client's output")
            .expect("the client prints a line (is tests/js/node_modules installed?)");
        serde_json::from_str(&line).expect("a JSON line")
    }
}

/// Emits `n` events numbered from `from`, alternately from `a` and `b` (to room `r`, and to
/// everyone), with `x` events to a room the client is not in between.
async fn emit_numbers(a: &Io, b: &Io, from: u64, count: u64) {
    for i in from..from + count {
        let io = if i % 2 == 0 { a } else { b };
        if i % 3 == 0 {
            io.emit("n", &i).unwrap();
        } else {
            io.to("r").emit("n", &i).unwrap();
        }
        io.to("elsewhere").emit("x", &i).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Checks what the client got: every number once, each node's numbers in the order it sent
/// them (two nodes write the stream concurrently, so only their own order is theirs to keep).
fn check_numbers(done: &Value, total: u64) {
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
    assert_eq!(
        done["offsets"],
        json!(total),
        "every event carries an offset"
    );
    assert_eq!(done["x"], json!(0), "nothing for other rooms");
}

async fn cut_and_recover_on_the_other_node(mode: &str, crash_a: bool) {
    let redis = Redis::start();
    let a = node(&redis).await;
    let b = node(&redis).await;
    let (io_a, io_b) = (a.io().clone(), b.io().clone());
    let proxy = Proxy::start(a.addr()).await;
    let mut client = JsClient::start(&proxy.url(), mode);
    let first = client.line().await;
    assert_eq!(first["event"], "connect");
    assert_eq!(first["recovered"], false);
    let id = first["id"].as_str().expect("an id").to_owned();

    emit_numbers(&io_a, &io_b, 0, 60).await;
    if crash_a {
        proxy.cut_and_point_to(None);
        // The session is in Redis once A saw the connection close; then A goes away.
        wait_for_sessions(&redis, 1).await;
        emit_numbers(&io_a, &io_b, 60, 30).await;
        // What A emitted went to Redis before it goes (a crash loses only what it had not
        // written yet, as in Node).
        wait_for_in_stream(&redis, r#"["x",88]"#).await;
        drop(a);
        drop(io_a);
        emit_numbers(&io_b, &io_b, 90, 30).await;
        proxy.cut_and_point_to(Some(b.addr()));
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
        emit_numbers(&io_b, &io_b, 120, 30).await;
    } else if mode == "polling" {
        // A keeps the session until the client misses a ping; the client is kept away until
        // then (or it would come back before there is anything to recover, as with Node).
        proxy.cut_and_point_to(None);
        emit_numbers(&io_a, &io_b, 60, 30).await;
        wait_for_sessions(&redis, 1).await;
        emit_numbers(&io_a, &io_b, 90, 30).await;
        proxy.cut_and_point_to(Some(b.addr()));
        emit_numbers(&io_a, &io_b, 120, 30).await;
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
    } else {
        proxy.cut_and_point_to(Some(b.addr()));
        // The client is away (and then back on B) while both nodes go on emitting.
        emit_numbers(&io_a, &io_b, 60, 90).await;
        let second = client.line().await;
        assert_eq!(second["event"], "connect");
        assert_eq!(second["recovered"], true, "{second}");
        assert_eq!(second["id"], json!(id));
    }
    let total = 150;
    let socket = io_b
        .of("/")
        .sockets()
        .into_iter()
        .find(|s| s.id().as_str() == id)
        .expect("the recovered socket is on B");
    assert!(
        socket.rooms().iter().any(|r| &**r == "r"),
        "its rooms are back"
    );
    assert_eq!(socket.data::<Value>(), Some(json!({"user": "ann"})));
    io_b.emit("done", &()).unwrap();
    let done = client.line().await;
    assert_eq!(done["event"], "done", "{done}");
    check_numbers(&done, total);
    assert_eq!(done["ids"], json!([id, id]));
}

/// Waits until Redis holds `n` sessions.
async fn wait_for_sessions(redis: &Redis, n: usize) {
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
async fn wait_for_in_stream(redis: &Redis, needle: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
            .arg("socket.io")
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(100)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_node_a_recovers_on_node_b_over_websocket() {
    cut_and_recover_on_the_other_node("websocket", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_from_node_a_recovers_on_node_b_over_polling() {
    cut_and_recover_on_the_other_node("polling", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outlives_node_a() {
    cut_and_recover_on_the_other_node("websocket", true).await;
}
