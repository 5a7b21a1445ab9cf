//! Node's socket.io 4.8 server for the client's tests (`tests/js/rust-client-server.mjs`).
//! Needs `node` and `npm ci --prefix tests/js`.

use std::path::PathBuf;
use std::process::Stdio;

use sockeye_testkit::{WAIT, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running Node server; killed when dropped.
pub struct NodeServer {
    _child: Child,
    pub url: String,
}

/// Node's server with `parser` (`default` or `msgpack`).
pub async fn node_server(parser: &str) -> NodeServer {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    assert!(
        js.join("node_modules/socket.io/package.json").is_file(),
        "run `npm ci --prefix tests/js` first"
    );
    let mut child = Command::new("node")
        .arg(js.join("rust-client-server.mjs"))
        .arg(parser)
        .current_dir(&js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = within(WAIT, lines.next_line()).await.unwrap().unwrap();
    let port: serde_json::Value = serde_json::from_str(&line).unwrap();
    NodeServer {
        _child: child,
        url: format!("http://127.0.0.1:{}", port["port"]),
    }
}
