//! `sockeye connect URL --ns --auth --transport`, the built binary against our server on a
//! loopback port: events the server sends come out as JSON lines on standard output, lines
//! typed on standard input (`event [json args]`) arrive at the server as events, and a bad line
//! gives an error line on standard error while the client goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use sockeye::{Event, Io, Socket};
use sockeye_testkit::{TestServer, WAIT, eventually, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStderr, ChildStdout, Command};
use tokio::sync::{mpsc, watch};

struct App {
    server: TestServer,
    /// Every event the server's `/x` sockets got: name and arguments.
    events: mpsc::UnboundedReceiver<(String, Value)>,
    /// The `/x` socket of the client, once it is connected.
    socket: watch::Receiver<Option<Socket>>,
}

async fn app() -> App {
    let io = Io::builder().build();
    let (events_tx, events) = mpsc::unbounded_channel();
    let (socket_tx, socket) = watch::channel(None);
    io.of("/x").on_connection(move |socket: Socket| {
        let events_tx = events_tx.clone();
        let _ = socket_tx.send(Some(socket.clone()));
        async move {
            let _ = socket.emit(
                "hello",
                &(json!({"auth": socket.auth_value()}), 42, "three"),
            );
            socket.on_any(move |_: Socket, event: Event| {
                let events_tx = events_tx.clone();
                async move {
                    let args = Value::Array(event.args.to_values());
                    let _ = events_tx.send((event.name.to_string(), args));
                }
            });
        }
    });
    App {
        server: TestServer::start(io).await,
        events,
        socket,
    }
}

/// Reads JSON lines until one matches, and returns it.
async fn line_where(lines: &mut Lines<BufReader<ChildStdout>>, matches: impl Fn(&Value) -> bool) {
    within(WAIT, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("sockeye connect ended");
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line: {line:?}: {e}"));
            if matches(&value) {
                return;
            }
        }
    })
    .await;
}

async fn error_line(errors: &mut Lines<BufReader<ChildStderr>>) -> String {
    within(WAIT, errors.next_line())
        .await
        .unwrap()
        .expect("no error line")
}

async fn connect(transport: &str) {
    let mut app = app().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["connect", &app.server.base_url(), "--ns", "/x"])
        .args(["--auth", r#"{"token":"t0k"}"#, "--transport", transport])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("running sockeye connect");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();

    // The server's greeting, with the auth it got, printed as a JSON line.
    line_where(&mut stdout, |line| {
        *line == json!({"event": "hello", "args": [{"auth": {"token": "t0k"}}, 42, "three"]})
    })
    .await;

    stdin
        .write_all(b"note {\"a\":[1,2]}\npair [1, \"two\", null]\nbare\n")
        .await
        .unwrap();
    for expected in [
        ("note", json!([{"a": [1, 2]}])),
        ("pair", json!([1, "two", null])),
        ("bare", json!([])),
    ] {
        let got = within(WAIT, app.events.recv()).await.unwrap();
        assert_eq!((got.0.as_str(), &got.1), (expected.0, &expected.1));
    }

    // Bad lines: an error line each, and the client goes on.
    stdin.write_all(b"oops {not json\n").await.unwrap();
    let error = error_line(&mut stderr).await;
    assert!(error.starts_with("not JSON"), "{error}");
    stdin.write_all(b"connect [1]\n").await.unwrap();
    let error = error_line(&mut stderr).await;
    assert!(error.contains("reserved event name: connect"), "{error}");
    stdin.write_all(b"after [\"still here\"]\n").await.unwrap();
    let got = within(WAIT, app.events.recv()).await.unwrap();
    assert_eq!(got, ("after".to_owned(), json!(["still here"])));

    // On the transport asked for (the upgrade ends on WebSocket).
    let socket = app.socket.borrow().clone().expect("no /x socket");
    let expected = if transport == "polling" {
        "polling"
    } else {
        "websocket"
    };
    eventually(WAIT, || socket.engine().transport().as_str() == expected).await;

    // The end of its input disconnects it, and it exits cleanly.
    drop(stdin);
    let status = within(WAIT, child.wait()).await.unwrap();
    assert!(status.success(), "{status}");
    eventually(WAIT, || !socket.connected()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(app.server.io().engine().session_count(), 0);
}

#[tokio::test]
async fn polling() {
    connect("polling").await;
}

#[tokio::test]
async fn websocket() {
    connect("websocket").await;
}

#[tokio::test]
async fn upgrade() {
    connect("upgrade").await;
}

/// A refused namespace prints the server's `connect_error` message and data.
#[tokio::test]
async fn connect_error_is_printed() {
    let io = Io::builder().build();
    io.of("/x").use_middleware(|socket: Socket| async move {
        let token = socket.auth_value()["token"].clone();
        Err(sockeye::ConnectError::new("not authorized").with_data(json!({"token": token})))
    });
    let server = TestServer::start(io).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["connect", &server.base_url(), "--ns", "/x"])
        .args(["--auth", r#"{"token":"bad"}"#, "--transport", "websocket"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("running sockeye connect");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    line_where(&mut stdout, |line| {
        *line
            == json!({
                "lifecycle": "connect_error", "namespace": "/x",
                "message": "not authorized", "data": {"token": "bad"},
            })
    })
    .await;
}

/// Bad arguments: a clear message and a failing exit status, no panic.
#[tokio::test]
async fn bad_arguments() {
    for (args, expected) in [
        (
            vec!["--transport", "carrier-pigeon"],
            "unknown transport \"carrier-pigeon\"",
        ),
        (vec!["--auth", "{not json"], "--auth is not JSON"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["connect", "http://127.0.0.1:9"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
