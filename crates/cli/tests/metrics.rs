//! `sockeye serve --metrics`: the real binary, a scripted run, then `/metrics` scraped over HTTP
//! and its Prometheus text checked value by value.
//!
//! The run: the seed scenario with two npm `socket.io-client` clients that upgrade from polling
//! to WebSocket (`tests/js/seed.mjs upgrade`: events, acks, a room, two disconnects), a raw
//! client that stops answering pings (ping timeout, with `--ping-interval 300 --ping-timeout
//! 300`), one that waits for a ping and answers it, one that asks for a namespace that does not
//! exist, and three refused requests. Needs node and `tests/js/node_modules`
//! (`npm ci --prefix tests/js`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sockeye_testkit::{TestClient, WAIT, http_get};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `sockeye serve` as a child process on a free port; killed on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
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
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("open http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = found.send(addr);
                }
                eprintln!("serve: {line}");
            }
        });
        let addr = address
            .recv_timeout(Duration::from_secs(30))
            .expect("sockeye serve did not say where it listens");
        Serve {
            child,
            addr: addr.parse().expect("an address"),
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/socket.io/", self.addr)
    }

    async fn scrape(&self) -> Metrics {
        let response = http_get(&format!("http://{}/metrics", self.addr))
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        let content_type = response.headers.get("content-type").unwrap();
        assert!(content_type.to_str().unwrap().starts_with("text/plain"));
        Metrics::parse(&response.text())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The samples of a Prometheus text exposition, keyed by name and sorted labels.
#[derive(Debug)]
struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut labels: Vec<&str> = labels.split("\",").filter(|l| !l.is_empty()).collect();
            labels.sort_unstable();
            let labels: Vec<String> = labels
                .iter()
                .map(|l| l.trim_end_matches('"').to_owned())
                .collect();
            samples.insert(key(name, &labels), value);
        }
        Metrics(samples)
    }

    /// The value of a series; 0 for one that is not there.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}")).collect();
        labels.sort_unstable();
        self.0.get(&key(name, &labels)).copied().unwrap_or(0.0)
    }
}

fn key(name: &str, labels: &[String]) -> String {
    format!("{name}{{{}}}", labels.join(","))
}

fn node_seed(url: &str) {
    assert!(
        workspace()
            .join("tests/js/node_modules/socket.io-client")
            .is_dir(),
        "this test needs tests/js/node_modules: npm ci --prefix tests/js"
    );
    let output = Command::new("node")
        .arg(workspace().join("tests/js/seed.mjs"))
        .arg(url)
        .arg("upgrade")
        .current_dir(workspace().join("tests/js"))
        .output()
        .expect("running node (20 or newer) on the PATH");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node seed.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["ack"], "Roger that", "{result}");
    assert_eq!(result["transport"], "websocket", "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_run_shows_in_the_metrics_exactly() {
    let serve = Serve::start(&[
        "--metrics",
        "--ping-interval",
        "300",
        "--ping-timeout",
        "300",
    ]);
    let url = serve.url();

    let base = format!("http://{}", serve.addr);
    tokio::task::spawn_blocking(move || node_seed(&base))
        .await
        .unwrap();

    // Stops answering pings: the server closes it (ping timeout).
    let mut silent = TestClient::connect(&url).await;
    silent.set_auto_pong(false);
    silent.connect_ns("/", None).await.unwrap();
    let reason = silent.expect_closed(WAIT).await;
    assert!(!reason.is_empty());

    // Answers a ping, then an ack that comes after the pong proves the server has read it.
    let mut pinged = TestClient::connect(&url).await;
    pinged.connect_ns("/", None).await.unwrap();
    pinged.expect_ping(WAIT).await;
    let id = pinged.emit_with_ack("/", "important_message", json!(["ping seen"]), vec![]);
    pinged.expect_ack("/", id, WAIT).await;
    pinged.disconnect_ns("/");
    pinged.close();
    pinged.expect_closed(WAIT).await;

    let mut lost = TestClient::connect(&url).await;
    assert!(lost.connect_ns("/nowhere", None).await.is_err());
    lost.close();
    lost.expect_closed(WAIT).await;

    for (query, code) in [
        ("EIO=4&transport=polling&sid=unknown", 400),
        ("EIO=5&transport=polling", 400),
        ("EIO=4&transport=carrier-pigeon", 400),
    ] {
        let response = http_get(&format!("{url}?{query}")).await.unwrap();
        assert_eq!(response.status, code, "{query}");
    }

    // The last closes are counted once the server has seen them.
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let metrics = serve.scrape().await;
        let closed = ["polling", "websocket"]
            .iter()
            .flat_map(|t| {
                ["transport close", "ping timeout"].map(|reason| {
                    metrics.get(
                        "sockeye_engine_sessions_closed_total",
                        &[("transport", t), ("reason", reason)],
                    )
                })
            })
            .sum::<f64>();
        if closed >= 5.0 || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let m = |name: &str, labels: &[(&str, &str)]| metrics.get(name, labels);
    let all = format!("{metrics:#?}");

    // The engine: 2 npm clients on polling then upgraded, 3 raw ones on WebSocket.
    let opened = "sockeye_engine_sessions_opened_total";
    assert_eq!(m(opened, &[("transport", "polling")]), 2.0, "{all}");
    assert_eq!(m(opened, &[("transport", "websocket")]), 3.0, "{all}");
    assert_eq!(m("sockeye_engine_upgrades_total", &[]), 2.0, "{all}");
    let closed = "sockeye_engine_sessions_closed_total";
    let ws_closed = |reason| m(closed, &[("transport", "websocket"), ("reason", reason)]);
    assert_eq!(ws_closed("transport close"), 4.0, "{all}");
    assert_eq!(ws_closed("ping timeout"), 1.0, "{all}");
    assert_eq!(ws_closed("transport error"), 0.0, "{all}");
    for reason in ["transport close", "ping timeout"] {
        let polling = m(closed, &[("transport", "polling"), ("reason", reason)]);
        assert_eq!(polling, 0.0, "{all}");
    }
    for transport in ["polling", "websocket"] {
        let open = m("sockeye_engine_sessions", &[("transport", transport)]);
        assert_eq!(open, 0.0, "{all}");
    }
    let errors = "sockeye_engine_handshake_errors_total";
    for (code, count) in [("0", 1.0), ("1", 1.0), ("2", 0.0), ("3", 0.0), ("5", 1.0)] {
        assert_eq!(m(errors, &[("code", code)]), count, "code {code}: {all}");
    }
    let rtts = m("sockeye_engine_ping_rtt_seconds_count", &[]);
    assert!(rtts >= 1.0, "{all}");
    for direction in ["in", "out"] {
        for transport in ["polling", "websocket"] {
            let labels = [("direction", direction), ("transport", transport)];
            assert!(m("sockeye_engine_packets_total", &labels) > 0.0, "{all}");
            assert!(m("sockeye_engine_bytes_total", &labels) > 0.0, "{all}");
        }
    }

    // Socket.IO on `/`: the seed (6 events in: message, important_message, join_room twice,
    // room_message, list_rooms; 6 out: 2 motd, 1 "joined", the room message to 2 members,
    // 1 client_disconnected), then 1 motd to each raw client and 1 event from the pinged one.
    let nsp = ("namespace", "/");
    assert_eq!(
        m("sockeye_connects_total", &[nsp, ("result", "ok")]),
        4.0,
        "{all}"
    );
    assert_eq!(
        m("sockeye_connects_total", &[nsp, ("result", "refused")]),
        0.0,
        "{all}"
    );
    let invalid = [("namespace", "unknown"), ("result", "invalid_namespace")];
    assert_eq!(m("sockeye_connects_total", &invalid), 1.0, "{all}");
    let disconnects = |reason| m("sockeye_disconnects_total", &[nsp, ("reason", reason)]);
    assert_eq!(disconnects("client namespace disconnect"), 3.0, "{all}");
    assert_eq!(disconnects("ping timeout"), 1.0, "{all}");
    assert_eq!(disconnects("transport close"), 0.0, "{all}");
    assert_eq!(m("sockeye_sockets", &[nsp]), 0.0, "{all}");
    assert_eq!(
        m("sockeye_events_total", &[nsp, ("direction", "in")]),
        7.0,
        "{all}"
    );
    assert_eq!(
        m("sockeye_events_total", &[nsp, ("direction", "out")]),
        8.0,
        "{all}"
    );
    let handled = m("sockeye_handler_duration_seconds_count", &[nsp]);
    assert_eq!(handled, 7.0, "{all}");
    assert_eq!(m("sockeye_ack_timeouts_total", &[nsp]), 0.0, "{all}");
    assert_eq!(
        m("sockeye_slow_client_disconnects_total", &[]),
        0.0,
        "{all}"
    );
    // The demo's other namespaces are there, untouched.
    let chat = ("namespace", "/chat");
    assert_eq!(
        m("sockeye_connects_total", &[chat, ("result", "ok")]),
        0.0,
        "{all}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        m("sockeye_build_info", &[("version", version)]),
        1.0,
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_serves_them_apart_from_the_app() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = probe.local_addr().unwrap();
    drop(probe);
    let serve = Serve::start(&["--metrics-addr", &metrics_addr.to_string()]);

    let mut client = TestClient::connect(&serve.url()).await;
    client.connect_ns("/", None).await.unwrap();
    let response = http_get(&format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let metrics = Metrics::parse(&response.text());
    let ok = [("namespace", "/"), ("result", "ok")];
    assert_eq!(
        metrics.get("sockeye_connects_total", &ok),
        1.0,
        "{metrics:#?}"
    );
    let sockets = metrics.get("sockeye_sockets", &[("namespace", "/")]);
    assert_eq!(sockets, 1.0, "{metrics:#?}");

    // Not on the app's listener.
    let app = http_get(&format!("http://{}/metrics", serve.addr))
        .await
        .unwrap();
    assert_eq!(app.status, 404);
}

#[test]
fn without_the_flag_there_is_no_metrics_route() {
    let serve = Serve::start(&[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime
        .block_on(http_get(&format!("http://{}/metrics", serve.addr)))
        .unwrap();
    assert_eq!(response.status, 404);
}
