//! Shared helpers of the interop tests (`interop_*.rs`), which drive a Sockeye server with npm's
//! `socket.io-client` 4.x running under Node (`tests/js/sio-*.mjs`).
//!
//! - [`serve`] starts a server in-process on `127.0.0.1:0`, on the test's runtime;
//! - [`Log`] is where the server's handlers record what they observe, for the test to wait for
//!   and check;
//! - [`basics`] gives every socket of the test servers a name, a `fence` event and records of its
//!   connection and disconnection;
//! - [`Node`] runs a script and reads its JSON result.
//!
//! The tests need `node` on PATH and `tests/js/node_modules` (`npm ci --prefix tests/js`);
//! without them they fail, they never pass silently.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use sockeye::{AckSender, EngineConfig, Io, IoBuilder, Socket};
use tokio::sync::{mpsc, watch};

/// How long a test waits for something that should happen. Generous: the tests must pass on a
/// loaded two-core machine; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long a whole script may run.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// Generates one test per transport mode, each calling `$run(mode)` (`#[macro_use] mod common`).
macro_rules! transport_modes {
    ($run:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn over_websocket() {
            $run("websocket").await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn over_polling() {
            $run("polling").await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn over_polling_with_upgrade() {
            $run("upgrade").await;
        }
    };
}

/// The transport a client of `mode` ends on.
pub fn final_transport(mode: &str) -> &'static str {
    if mode == "polling" {
        "polling"
    } else {
        "websocket"
    }
}

/// The transport a client of `mode` opens its connection with.
pub fn first_transport(mode: &str) -> &'static str {
    if mode == "websocket" {
        "websocket"
    } else {
        "polling"
    }
}

// ---- the server ----

/// The server settings of the tests: Node's defaults, with a shorter heartbeat so that pings
/// run during the scenarios (and dead clients are noticed quickly).
pub fn builder(log: &Log) -> IoBuilder {
    Io::builder()
        .engine(
            EngineConfig::default()
                .ping_interval(Duration::from_secs(2))
                .ping_timeout(Duration::from_secs(10)),
        )
        .state(log.clone())
}

/// A server running on a loopback port until the test's runtime ends.
#[derive(Debug)]
pub struct Server {
    pub io: Io,
    pub url: String,
}

/// Starts `builder`'s server on `127.0.0.1:0`; `setup` adds the namespaces and handlers.
pub async fn serve(builder: IoBuilder, setup: impl FnOnce(&Io)) -> Server {
    let (service, io) = builder.build_service();
    setup(&io);
    let listener = sockeye::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(sockeye::serve(listener, service, std::future::pending()));
    Server {
        io,
        url: format!("http://{addr}"),
    }
}

// ---- what the server observed ----

/// What the server's handlers observed, as `(key, value)` records in order. Cheap to clone;
/// handlers get it as `State<Log>`.
#[derive(Clone, Debug)]
pub struct Log {
    entries: Arc<Mutex<Vec<(String, Value)>>>,
    changed: Arc<watch::Sender<usize>>,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            entries: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }
}

impl Log {
    pub fn push(&self, key: impl Into<String>, value: impl Serialize) {
        let value = serde_json::to_value(value).expect("a JSON value");
        let len = {
            let mut entries = self.entries.lock().unwrap();
            entries.push((key.into(), value));
            entries.len()
        };
        self.changed.send_replace(len);
    }

    /// The values recorded under `key`, in order.
    pub fn all(&self, key: &str) -> Vec<Value> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The one value recorded under `key`, if any (two are a failure).
    pub fn get(&self, key: &str) -> Option<Value> {
        let mut all = self.all(key);
        assert!(
            all.len() <= 1,
            "{key} recorded {} times: {all:?}",
            all.len()
        );
        all.pop()
    }

    /// Every key recorded, in order.
    pub fn keys(&self) -> Vec<String> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Waits until `key` is recorded (at most [`WAIT`]) and returns its first value.
    pub async fn wait(&self, key: &str) -> Value {
        self.wait_count(key, 1).await.remove(0)
    }

    /// Waits until `key` is recorded `count` times (at most [`WAIT`]).
    pub async fn wait_count(&self, key: &str, count: usize) -> Vec<Value> {
        self.wait_within(key, count, WAIT).await
    }

    /// Waits until `key` is recorded `count` times (at most `timeout`).
    pub async fn wait_within(&self, key: &str, count: usize, timeout: Duration) -> Vec<Value> {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.all(key);
            if all.len() >= count {
                return all;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                panic!(
                    "the server did not record {key:?} {count} time(s) within {timeout:?}; it \
                     recorded: {:#?}",
                    self.entries.lock().unwrap()
                );
            }
        }
    }
}

/// A test client's name, from its auth payload (`name`) or its query (`who`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(pub String);

/// The name of a socket's client (`?` before [`basics`] ran).
pub fn name(socket: &Socket) -> String {
    socket
        .data::<Name>()
        .map(|n| n.0)
        .unwrap_or_else(|| "?".into())
}

/// The key of a record about `socket`: `"<what> <name> <nsp>"`.
pub fn key(what: &str, socket: &Socket) -> String {
    format!("{what} {} {}", name(socket), socket.ns().name())
}

/// A socket's rooms, sorted, its own room written `$self`.
pub fn rooms(socket: &Socket) -> Vec<String> {
    let mut rooms: Vec<String> = socket
        .rooms()
        .iter()
        .map(|room| {
            if &**room == socket.id().as_str() {
                "$self".to_owned()
            } else {
                room.to_string()
            }
        })
        .collect();
    rooms.sort();
    rooms
}

/// What every socket of the test servers does on connection:
///
/// - keeps its client's name ([`Name`], from the auth payload or query);
/// - records `connect <name> <nsp>` with its id, engine session id, auth payload, handshake
///   query `who` and first transport;
/// - answers `fence` with the transport the server sees it on;
/// - records `disconnecting` (with the rooms it is still in) and `disconnect` (with the reason,
///   and its rooms after).
pub fn basics(socket: &Socket, log: &Log) {
    let name = socket.auth_value()["name"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| socket.handshake().query("who"))
        .unwrap_or_else(|| "?".into());
    socket.insert_data(Name(name));
    log.push(
        key("connect", socket),
        json!({
            "id": socket.id().as_str(),
            "engine": socket.engine().id().as_str(),
            "auth": socket.auth_value(),
            "who": socket.handshake().query("who"),
            "transport": socket.handshake().transport.as_str(),
        }),
    );
    socket.on("fence", |socket: Socket, ack: AckSender| async move {
        let _ = ack.send(socket.engine().transport().as_str());
    });
    let on_disconnecting = log.clone();
    socket.on_disconnecting(move |socket, reason| {
        let log = on_disconnecting.clone();
        async move {
            log.push(
                key("disconnecting", &socket),
                json!({ "reason": reason.as_str(), "rooms": rooms(&socket) }),
            );
        }
    });
    let on_disconnect = log.clone();
    socket.on_disconnect(move |socket, reason| {
        let log = on_disconnect.clone();
        async move {
            log.push(
                key("disconnect", &socket),
                json!({
                    "reason": reason.as_str(),
                    "rooms": rooms(&socket),
                    "connected": socket.connected(),
                }),
            );
        }
    });
}

/// Waits until `condition` holds, checking every 20 ms, for at most [`WAIT`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still not true after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- the JavaScript client ----

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// `tests/js`, after checking that its npm packages are installed.
pub fn js_dir() -> PathBuf {
    let dir = repo_root().join("tests/js");
    let client = dir.join("node_modules/socket.io-client/package.json");
    assert!(
        client.is_file(),
        "{} is missing: the JavaScript interop tests need their npm packages; run \
         `npm ci --prefix tests/js` at the repository root first",
        client.display()
    );
    dir
}

/// A running `node tests/js/<script> <url> <mode>`. Killed when dropped.
#[derive(Debug)]
pub struct Node {
    label: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// Starts the script.
    pub fn spawn(script: &str, url: &str, mode: &str) -> Node {
        let dir = js_dir();
        let label = format!("{script} ({mode})");
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .arg(url)
            .arg(mode)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("could not run `node` (is Node.js installed and on PATH?): {error}")
            });
        let (sender, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Node {
            label,
            child,
            lines,
            stdout: Vec::new(),
            stderr,
        }
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits for the script's JSON result line and checks that it reports success.
    pub async fn result(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + SCRIPT_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.stdout.push(line.clone());
                    let Ok(result) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if result.get("ok").is_none() {
                        continue;
                    }
                    assert_eq!(
                        result["ok"],
                        true,
                        "{} failed: {}\n{}",
                        self.label,
                        result["error"].as_str().unwrap_or_default(),
                        self.output()
                    );
                    eprintln!("{}: {line}", self.label);
                    return result;
                }
                Ok(None) => {
                    let status = self.child.wait();
                    panic!(
                        "{} ended without a result ({status:?})\n{}",
                        self.label,
                        self.output()
                    );
                }
                Err(_) => panic!(
                    "{} gave no result within {SCRIPT_TIMEOUT:?}\n{}",
                    self.label,
                    self.output()
                ),
            }
        }
    }

    /// Waits for the script to exit, and checks that it succeeded.
    pub async fn exit(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{} exited with {status}\n{}",
                    self.label,
                    self.output()
                );
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not exit within {WAIT:?} of its result\n{}",
                self.label,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process (SIGKILL): its connections drop without a goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Runs a script to its end: its JSON result, once it has exited successfully.
pub async fn run_script(script: &str, url: &str, mode: &str) -> Value {
    let mut node = Node::spawn(script, url, mode);
    let result = node.result().await;
    node.exit().await;
    result
}

/// Checks that every client of the JSON result ended on the transport of `mode`.
pub fn check_transports(result: &Value, mode: &str) {
    let transports = result["transports"]
        .as_object()
        .expect("the result lists the clients' transports");
    assert!(!transports.is_empty(), "{result}");
    for (client, transport) in transports {
        // Clients that were disconnected (or refused) have no transport left to report.
        if transport.is_null() {
            continue;
        }
        assert_eq!(
            transport,
            final_transport(mode),
            "client {client} in mode {mode}: {result}"
        );
    }
}
