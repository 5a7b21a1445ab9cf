//! Browser tests: `sockeye serve`'s app runs in-process on a loopback port, and Debian's
//! Chromium, driven by playwright-core (`tests/browser/run.mjs`), uses the demo pages with the
//! official client. Screenshots go to `tests/artifacts/` (ignored by git).
//!
//! What they need, which `scripts/test` installs: `/usr/bin/chromium` (`apt-get install
//! chromium`), `tests/browser/node_modules` (`npm ci --prefix tests/browser`) and the client
//! bundle `web/node_modules/socket.io-client` (`npm ci --prefix web`). Without them these tests
//! fail, saying so: they never pass silently.
//!
//! The browser runs one at a time (a lock), so the 2-core machines are not overloaded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sockeye::Parser;
use sockeye_cli::serve::{Config, app};
use sockeye_testkit::run_for_result;

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one scenario may take before it is killed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

static BROWSER: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails, saying how to get it, when something the tests need is missing.
fn check_prerequisites() {
    let root = workspace();
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "{CHROMIUM} (Debian's chromium): apt-get update && apt-get install -y chromium"
        ));
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        missing.push("tests/browser/node_modules: npm ci --prefix tests/browser".to_owned());
    }
    if !root
        .join("web/node_modules/socket.io-client/dist/socket.io.js")
        .is_file()
    {
        missing.push("the socket.io client bundle: npm ci --prefix web".to_owned());
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (20 or newer)".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the browser tests cannot run; scripts/test installs what they need. Missing:\n  - {}",
        missing.join("\n  - ")
    );
}

/// The app on a loopback port, on its own runtime; stopped on drop.
struct Server {
    addr: SocketAddr,
    uploads: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        Server::start_with_static(None)
    }

    /// The app with `--static DIR`.
    fn start_with_static(static_dir: Option<PathBuf>) -> Server {
        Server::start_with(static_dir, Parser::Default)
    }

    /// The app with `--static DIR` and `--parser`.
    fn start_with(static_dir: Option<PathBuf>, parser: Parser) -> Server {
        let uploads = tempfile::tempdir().expect("temp dir");
        let config = Config {
            port: 0,
            uploads_dir: uploads.path().to_owned(),
            client_dir: Some(workspace().join("web/node_modules/socket.io-client/dist")),
            static_dir,
            parser,
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
                let app = app(&config).expect("app");
                let listener = sockeye::bind("127.0.0.1:0".parse().expect("addr"))
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("send addr");
                let _ = sockeye::serve(listener, app.router, async {
                    let _ = stopped.await;
                })
                .await;
                app.io.close();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server starts");
        Server {
            addr,
            uploads,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
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

/// Runs `tests/browser/run.mjs SCENARIO` against `server`, asserts it succeeded, and returns
/// the JSON it printed after `RESULT `.
fn run_scenario(server: &Server, scenario: &str, extra: &[&str]) -> serde_json::Value {
    let root = workspace();
    let mut command = Command::new("node");
    command
        .arg("run.mjs")
        .arg(scenario)
        .args(["--url", &server.url()])
        .arg("--artifacts")
        .arg(root.join("tests/artifacts"))
        .args(extra)
        .current_dir(root.join("tests/browser"));
    run_for_result(
        command,
        &format!("scenario {scenario} {extra:?}"),
        SCENARIO_TIMEOUT,
    )
}

/// Takes the browser lock, checks the prerequisites and starts a server.
fn setup() -> (std::sync::MutexGuard<'static, ()>, Server) {
    let guard = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    check_prerequisites();
    (guard, Server::start())
}

fn seed(transports: &str) {
    let (_guard, server) = setup();
    seed_on(&server, transports);
}

fn seed_on(server: &Server, transports: &str) {
    let result = run_scenario(server, "seed", &["--transports", transports]);
    let ids = &result["ids"];
    for page in ["A", "B", "C"] {
        assert_eq!(
            ids[page].as_str().map(str::len),
            Some(20),
            "{page}: a socket id"
        );
    }
}

/// A user's own app, as a user coming from the seed writes it: the seed's client code in an
/// `index.html` of theirs, and a page named like a demo page.
const OWN_INDEX: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>My app</title></head>
<body>
<h1>My own app</h1>
<p id="motd"></p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const only = new URLSearchParams(location.search).get("transports");
  const socket = io(only ? { transports: [only] } : {});
  window.app = { id: null, motd: null, ack: null, transport: null, upgraded: false };
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    window.app.transport = engine.transport.name;
    engine.on("upgrade", (transport) => {
      window.app.transport = transport.name;
      window.app.upgraded = true;
    });
  });
  socket.on("connect", () => {
    window.app.id = socket.id;
    socket.emit("message", "'ello friends, I am here.");
    socket.emit("important_message", { alias: "Me", message: "The building is on fire" }, (ack) => {
      window.app.ack = ack;
    });
  });
  socket.on("motd", (motd) => {
    window.app.motd = motd;
    document.getElementById("motd").textContent = motd;
  });
</script>
</body>
</html>
"#;

fn own_app(transports: &str) {
    let _guard = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    check_prerequisites();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), OWN_INDEX).expect("write index.html");
    std::fs::write(
        dir.path().join("seed.html"),
        "<!doctype html><h1>My seed page</h1>\n",
    )
    .expect("write seed.html");
    let server = Server::start_with_static(Some(dir.path().to_owned()));
    let result = run_scenario(&server, "own-app", &["--transports", transports]);
    assert_eq!(result["motd"], "Welcome to my server!");
    assert_eq!(result["ack"], "Roger that");
}

/// `--static DIR` with the user's own `index.html` and `seed.html`: theirs are served, and the
/// seed's client code in it works over WebSocket only.
#[test]
fn own_app_from_static_dir_websocket_only() {
    own_app("websocket");
}

/// The same over HTTP long-polling only.
#[test]
fn own_app_from_static_dir_polling_only() {
    own_app("polling");
}

/// The same with the default transports: polling, then the upgrade.
#[test]
fn own_app_from_static_dir_upgrade() {
    own_app("auto");
}

/// The bundle's eight files (the msgpack build too, as in Node) with ETag, Cache-Control and
/// 304; the index page links every demo; the ESM build imports in the page.
#[test]
fn client_bundle_is_served_like_node_serve_client() {
    let (_guard, server) = setup();
    let result = run_scenario(&server, "bundle", &[]);
    assert_eq!(result["files"].as_array().map(Vec::len), Some(8));
}

/// The seed with three pages over WebSocket only: motd, "Roger that", exampleRoom,
/// `client_disconnected` with the right id on the others.
#[test]
fn seed_with_three_pages_websocket_only() {
    seed("websocket");
}

/// The same over HTTP long-polling only (never upgraded).
#[test]
fn seed_with_three_pages_polling_only() {
    seed("polling");
}

/// The same with the default transports: polling, then the upgrade to WebSocket.
#[test]
fn seed_with_three_pages_upgrade() {
    seed("auto");
}

/// `sockeye serve --parser msgpack`: the pages load `socket.io.msgpack.min.js`, whose client
/// speaks socket.io-msgpack-parser, and the seed works as with the default parser.
fn seed_with_msgpack(transports: &str) {
    let _guard = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    check_prerequisites();
    let server = Server::start_with(None, Parser::MsgPack);
    seed_on(&server, transports);
}

/// The seed with the msgpack parser over long-polling only: every packet a binary message,
/// base64 with the `b` prefix in the polling payloads (WebSocket is covered with Node's client
/// in crates/sockeye/tests/interop_msgpack.rs).
#[test]
fn seed_with_msgpack_parser_polling_only() {
    seed_with_msgpack("polling");
}

/// Rooms chat with alice, bob and carol: room lists pushed live with counts, typing indicator,
/// a room message reaching only the room, a broadcast reaching everyone but the sender,
/// delivery ticks, leaving and closing.
#[test]
fn chat_rooms_who_receives_what() {
    let (_guard, server) = setup();
    let result = run_scenario(&server, "chat", &[]);
    assert_eq!(
        result["received"],
        serde_json::json!({
            "alice": ["hi alice", "hi all"],
            "bob": ["hello rust", "hi all"],
            "carol": [],
        })
    );
}

/// Writes a file of `size` pseudo-random bytes and returns its SHA-256 (hex).
fn generate_file(path: &Path, size: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ size as u64;
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let take = (size - data.len()).min(8);
        data.extend_from_slice(&word.to_le_bytes()[..take]);
    }
    std::fs::write(path, &data).expect("write the file");
    sockeye_upload::to_hex(&Sha256::digest(&data).into())
}

fn sha256_of_file(path: &Path) -> String {
    let data = std::fs::read(path).expect("read the upload");
    sockeye_upload::to_hex(&Sha256::digest(&data).into())
}

fn upload(size: usize, transports: &str) {
    let (_guard, server) = setup();
    let source = tempfile::tempdir().expect("temp dir");
    let name = format!("upload-{}-{transports}.bin", size / 1_000_000);
    let path = source.path().join(&name);
    let expected = generate_file(&path, size);
    let file = path.to_str().expect("utf-8 path");
    let result = run_scenario(
        &server,
        "upload",
        &["--file", file, "--interrupt", "--transports", transports],
    );
    let on_disk = server.uploads.path().join(&name);
    assert_eq!(
        std::fs::metadata(&on_disk)
            .expect("the uploaded file")
            .len(),
        size as u64
    );
    let actual = sha256_of_file(&on_disk);
    assert_eq!(actual, expected, "the file on disk is byte-exact");
    assert_eq!(
        result["browserHash"],
        expected.as_str(),
        "the browser's hash"
    );
    assert_eq!(result["serverHash"], expected.as_str(), "the server's hash");
    let resumes = result["resumes"].as_array().expect("resumes");
    assert!(
        !resumes.is_empty() && resumes[0].as_u64() > Some(0),
        "resumed after the interruption: {result}"
    );
    let left: Vec<_> = std::fs::read_dir(server.uploads.path())
        .expect("uploads")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        left,
        [std::ffi::OsString::from(&name)],
        "no partial file left"
    );
    println!(
        "upload of {size} bytes over {transports}: {:.1} MiB/s in the browser ({} s), resumed at {}",
        result["mbPerSecond"].as_f64().unwrap_or_default(),
        result["seconds"],
        result["resumes"]
    );
}

/// A 50 MB file in 512 KiB chunks with acks and a window of 4, the connection cut at 30%,
/// resumed from the offset the server gives; the file on disk is checked byte for byte with
/// SHA-256 here, and against the hashes the browser and the server computed.
#[test]
fn upload_50_mb_with_interruption_and_resume() {
    upload(50_000_000, "auto");
}

/// A smaller upload over long-polling only (binary chunks travel base64-encoded).
#[test]
fn upload_over_polling_with_interruption_and_resume() {
    upload(8_000_000, "polling");
}

fn binary(transports: &str) {
    let (_guard, server) = setup();
    let result = run_scenario(&server, "binary", &["--transports", transports]);
    let runs = result["runs"].as_array().expect("runs");
    let types: Vec<_> = runs.iter().map(|r| r["binaryType"].clone()).collect();
    assert_eq!(types, ["arraybuffer", "blob", "arraybuffer"]);
    if transports == "polling" {
        assert!(result["compressed"].as_u64() > Some(0), "{result}");
    }
}

/// ArrayBuffer, typed arrays, Blob, nested binary, server digests and server-made bytes with
/// binaryType arraybuffer, then blob, then arraybuffer again, after the upgrade to WebSocket.
#[test]
fn binary_round_trips_both_binary_types_upgrade() {
    binary("auto");
}

/// The same over WebSocket only.
#[test]
fn binary_round_trips_both_binary_types_websocket_only() {
    binary("websocket");
}

/// The same over long-polling only.
#[test]
fn binary_round_trips_both_binary_types_polling_only() {
    binary("polling");
}
