//! `sockeye serve --admin-ui --admin-auth USER:HASH`, the real command, with the official
//! Socket.IO Admin UI in Debian's Chromium (driven by playwright-core, `tests/browser/admin.mjs`)
//! and demo clients of the npm socket.io-client: log in, see the clients and their rooms,
//! disconnect one from the UI, which it hears as `io server disconnect`. Screenshots go to
//! `tests/artifacts/admin-*.png` (ignored by git; the ones in docs/images come from here).
//!
//! What it needs, which `scripts/test` installs: `/usr/bin/chromium`, `tests/browser/
//! node_modules` (`npm ci --prefix tests/browser`) and `web/node_modules` with
//! `@socket.io/admin-ui` and `socket.io-client` (`npm ci --prefix web`). Without them it fails,
//! saying so.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sockeye_testkit::run_for_result;

/// The password of the test's log-in, and its hash as Node's bcryptjs made it
/// (`bcryptjs.hashSync("s3cret", 10)`), so that a `$2a$` hash from Node is what is checked.
const PASSWORD: &str = "s3cret";
const HASH: &str = "$2a$10$CNiK60O3P2oYcLN7.6XNMeiG0HN.4/.gTJwYz6kLA5knzDAY6QCZy";

const CHROMIUM: &str = "/usr/bin/chromium";
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check_prerequisites() {
    let root = workspace();
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "{CHROMIUM} (Debian's chromium): apt-get install -y chromium"
        ));
    }
    for (path, how) in [
        (
            "tests/browser/node_modules/playwright-core",
            "npm ci --prefix tests/browser",
        ),
        (
            "tests/browser/node_modules/@mdi/font",
            "npm ci --prefix tests/browser",
        ),
        (
            "web/node_modules/@socket.io/admin-ui/ui/dist/index.html",
            "npm ci --prefix web",
        ),
        ("web/node_modules/socket.io-client", "npm ci --prefix web"),
    ] {
        if !root.join(path).exists() {
            missing.push(format!("{path}: {how}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the admin UI browser test cannot run; scripts/test installs what it needs. Missing:\n  - {}",
        missing.join("\n  - ")
    );
}

/// `sockeye serve` in a child process, killed on drop.
struct Serve {
    child: Child,
    url: String,
    admin_line: String,
}

impl Serve {
    fn start(uploads: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--uploads"])
            .arg(uploads)
            .args(["--admin-ui", "--admin-auth", &format!("admin:{HASH}")])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .current_dir(workspace())
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sockeye serve runs");
        // The log goes to standard error.
        let log = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(log).lines().map_while(Result::ok) {
                println!("[serve] {line}");
                let _ = tx.send(line);
            }
        });
        let mut admin_line = String::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    panic!("sockeye serve did not say where it listens");
                }
            };
            if line.contains("admin UI at ") {
                admin_line = line.clone();
            }
            if let Some(rest) = line.split("sockeye serve: open ").nth(1) {
                let url = rest.split_whitespace().next().unwrap_or_default();
                break url.trim_end_matches('/').to_owned();
            }
        };
        Serve {
            child,
            url,
            admin_line,
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_admin_scenario(url: &str) -> serde_json::Value {
    let root = workspace();
    let mut command = Command::new("node");
    command
        .arg("admin.mjs")
        .args(["--url", url, "--user", "admin", "--password", PASSWORD])
        .arg("--artifacts")
        .arg(root.join("tests/artifacts"))
        .current_dir(root.join("tests/browser"));
    run_for_result(command, "admin.mjs", SCENARIO_TIMEOUT)
}

/// A plain GET, for the routes around the UI.
fn get(url: &str) -> (u16, String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    use std::io::Write;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn the_admin_ui_logs_in_sees_clients_and_rooms_and_disconnects_one() {
    check_prerequisites();
    let uploads = tempfile::tempdir().expect("temp dir");
    let serve = Serve::start(uploads.path());
    assert!(
        serve.admin_line.contains(&format!("{}/admin/", serve.url)),
        "the server says where the UI is: {}",
        serve.admin_line
    );

    // The UI's files at /admin/, /admin sent there, nothing outside the folder.
    let (status, head, body) = get(&format!("{}/admin/", serve.url));
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(body.contains("<title>Socket.IO Admin UI</title>"));
    let (status, head, _) = get(&format!("{}/admin", serve.url));
    assert_eq!(status, 308);
    assert!(head.contains("location: /admin/"), "{head}");
    let (status, _, _) = get(&format!("{}/admin/%2e%2e/package.json", serve.url));
    assert_eq!(status, 404);

    let result = run_admin_scenario(&serve.url);
    assert_eq!(
        result["bobReasons"],
        serde_json::json!(["io server disconnect"])
    );
    for who in ["alice", "bob", "carol"] {
        assert_eq!(
            result[who].as_str().map(str::len),
            Some(20),
            "{who}: a socket id"
        );
    }
}
