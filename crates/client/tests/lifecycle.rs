//! The lifecycle the JavaScript client goes through, against our own server and Node's
//! socket.io 4.8 (`tests/js/rust-client-lifecycle.mjs`; needs `node` and
//! `npm ci --prefix tests/js`): every disconnect reason, the reconnection events in order,
//! what stops reconnecting, and `retries`. Both servers sit behind a loopback proxy the test
//! controls (silent, refusing, cutting connections), and count the handshakes they accept.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sockeye::{AckSender, Data, EngineConfig, Io, Socket as ServerSocket};
use sockeye_client::{Client, DisconnectReason, Error, Lifecycle, LifecycleReceiver, Transports};
use sockeye_testkit::{QUIET, WAIT, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

mod common;

use common::proxy::{Mode, Proxy};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Own,
    Node,
}

/// A server of either kind with the same events (see the `.mjs` file), pinging every 300 ms
/// and waiting 200 ms for the pong.
struct Server {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    /// The reasons the server gives, in order, as main-namespace sockets disconnect.
    disconnects: mpsc::UnboundedReceiver<String>,
    running: Running,
}

enum Running {
    Own {
        io: Io,
        stop: Option<oneshot::Sender<()>>,
    },
    Node(tokio::process::Child),
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Running::Own { io, stop } = &mut self.running {
            io.close();
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

impl Server {
    async fn start(kind: Kind) -> Server {
        match kind {
            Kind::Own => own_server().await,
            Kind::Node => node_server().await,
        }
    }

    /// Asserts that the server has accepted `n` handshakes (Node reports them on stdout, a
    /// moment after the fact).
    async fn expect_handshakes(&self, n: usize) {
        let count = || self.handshakes.load(Ordering::SeqCst);
        let _ = tokio::time::timeout(WAIT, async {
            while count() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert_eq!(count(), n, "handshakes");
    }

    /// The reason the server gives for the next socket that disconnects.
    async fn next_disconnect(&mut self) -> String {
        within(WAIT, self.disconnects.recv()).await.unwrap()
    }

    fn node_pid(&self) -> u32 {
        match &self.running {
            Running::Node(child) => child.id().unwrap(),
            Running::Own { .. } => panic!("not a process"),
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`) to the Node process.
    async fn signal(&self, signal: &str) {
        let status = tokio::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.node_pid().to_string())
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }
}

#[derive(Default)]
struct RetryLog {
    tries: HashMap<String, u32>,
    order: Vec<String>,
}

async fn own_server() -> Server {
    let handshakes = Arc::new(AtomicUsize::new(0));
    let engine = EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200));
    let io = Io::builder().engine(engine).build();
    let log = Arc::new(Mutex::new(RetryLog::default()));
    let counter = Arc::clone(&handshakes);
    let (disconnected, disconnects) = mpsc::unbounded_channel();
    io.on_connection(move |socket: ServerSocket| {
        counter.fetch_add(1, Ordering::SeqCst);
        let log = Arc::clone(&log);
        let disconnected = disconnected.clone();
        async move {
            socket.on_disconnect(move |_: ServerSocket, reason: sockeye::DisconnectReason| {
                let _ = disconnected.send(reason.to_string());
                async {}
            });
            socket.on("kick_me", |socket: ServerSocket| async move {
                socket.disconnect(false);
            });
            socket.on("drop_me", |socket: ServerSocket| async move {
                socket.engine().close();
            });
            socket.on(
                "retry",
                move |Data((key, ignored)): Data<(String, u32)>, ack: AckSender| {
                    let reply = {
                        let mut log = log.lock().unwrap();
                        log.order.push(key.clone());
                        let tries = log.tries.entry(key).or_default();
                        *tries += 1;
                        let tries = *tries;
                        (tries > ignored).then(|| json!({"tries": tries, "log": log.order}))
                    };
                    async move {
                        if let Some(reply) = reply {
                            ack.send(&reply).unwrap();
                        }
                    }
                },
            );
        }
    });
    let listener = sockeye::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let service = io.engine().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = sockeye::serve(listener, service, async {
            let _ = stopped.await;
        })
        .await;
    });
    Server {
        addr,
        handshakes,
        disconnects,
        running: Running::Own {
            io,
            stop: Some(stop),
        },
    }
}

async fn node_server() -> Server {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    assert!(
        js.join("node_modules/socket.io/package.json").is_file(),
        "run `npm ci --prefix tests/js` first"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(js.join("rust-client-lifecycle.mjs"))
        .current_dir(&js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot run node");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(WAIT, lines.next_line()).await.unwrap().unwrap();
    let port: Value = serde_json::from_str(&line).unwrap();
    let port = u16::try_from(port["port"].as_u64().unwrap()).unwrap();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handshakes);
    let (disconnected, disconnects) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if let Some(n) = value["handshake"].as_u64() {
                    counter.store(usize::try_from(n).unwrap(), Ordering::SeqCst);
                }
                if let Some(reason) = value["disconnect"].as_str() {
                    let _ = disconnected.send(reason.to_owned());
                }
            }
        }
    });
    Server {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        handshakes,
        disconnects,
        running: Running::Node(child),
    }
}

/// A client through `proxy`, reconnecting after a fixed `delay` (no jitter).
fn client(proxy: &Proxy, transports: Transports, delay: Duration) -> sockeye_client::ClientBuilder {
    Client::builder(&proxy.url())
        .transports(transports)
        .reconnection_delay(delay)
        .reconnection_delay_max(delay)
        .randomization_factor(0.0)
}

/// The connection and reconnection events, leaving out handler errors.
fn is_lifecycle(event: &Lifecycle) -> bool {
    !matches!(event, Lifecycle::HandlerError { .. })
}

async fn next(events: &mut LifecycleReceiver) -> Lifecycle {
    common::wait_for(events, is_lifecycle).await
}

/// No lifecycle event at all for a while.
async fn quiet(events: &mut LifecycleReceiver, what: &str) {
    tokio::time::sleep(QUIET * 2).await;
    if let Some(event) = events.try_recv() {
        panic!("{what}: {event:?}");
    }
}

fn disconnect(reason: DisconnectReason) -> Lifecycle {
    Lifecycle::Disconnect {
        namespace: "/".into(),
        reason,
    }
}

fn connect() -> Lifecycle {
    Lifecycle::Connect {
        namespace: "/".into(),
        recovered: false,
    }
}

struct Setup {
    server: Server,
    proxy: Proxy,
    socket: sockeye_client::Socket,
    events: LifecycleReceiver,
}

/// A server of `kind` behind a proxy, and a connected client built from `builder`.
async fn connected(
    kind: Kind,
    transports: Transports,
    build: impl FnOnce(sockeye_client::ClientBuilder) -> sockeye_client::ClientBuilder,
) -> Setup {
    let server = Server::start(kind).await;
    let proxy = Proxy::start(server.addr).await;
    let client = build(client(&proxy, transports, Duration::from_millis(100)))
        .build()
        .unwrap();
    let mut events = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    assert_eq!(next(&mut events).await, connect());
    server.expect_handshakes(1).await;
    Setup {
        server,
        proxy,
        socket,
        events,
    }
}

// ---- disconnect reasons ----

async fn io_server_disconnect(kind: Kind) {
    let Setup {
        server,
        socket,
        mut events,
        proxy: _proxy,
        ..
    } = connected(kind, Transports::WebSocket, |b| b).await;
    socket.emit("kick_me", &()).unwrap();
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::IoServerDisconnect)
    );
    quiet(&mut events, "reconnected after a server disconnect").await;
    server.expect_handshakes(1).await;
    assert!(!socket.connected());
}

#[tokio::test]
async fn io_server_disconnect_own() {
    io_server_disconnect(Kind::Own).await;
}

#[tokio::test]
async fn io_server_disconnect_node() {
    io_server_disconnect(Kind::Node).await;
}

async fn io_client_disconnect(kind: Kind) {
    let Setup {
        server,
        socket,
        mut events,
        proxy: _proxy,
        ..
    } = connected(kind, Transports::WebSocket, |b| b).await;
    socket.disconnect();
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::IoClientDisconnect)
    );
    quiet(&mut events, "reconnected after disconnect()").await;
    server.expect_handshakes(1).await;
}

#[tokio::test]
async fn io_client_disconnect_own() {
    io_client_disconnect(Kind::Own).await;
}

#[tokio::test]
async fn io_client_disconnect_node() {
    io_client_disconnect(Kind::Node).await;
}

/// The proxy goes silent: no ping for longer than 300 + 200 ms.
async fn ping_timeout(kind: Kind, transports: Transports) {
    let Setup {
        server,
        proxy,
        socket,
        mut events,
        ..
    } = connected(kind, transports, |b| b).await;
    proxy.set(Mode::Silent);
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::PingTimeout)
    );
    proxy.set(Mode::Forward);
    assert_eq!(next(&mut events).await, Lifecycle::ReconnectAttempt(1));
    assert_eq!(next(&mut events).await, Lifecycle::Reconnect(1));
    assert_eq!(next(&mut events).await, connect());
    server.expect_handshakes(2).await;
    socket.disconnect();
}

#[tokio::test]
async fn ping_timeout_own_websocket() {
    ping_timeout(Kind::Own, Transports::WebSocket).await;
}

#[tokio::test]
async fn ping_timeout_own_polling() {
    ping_timeout(Kind::Own, Transports::Polling).await;
}

#[tokio::test]
async fn ping_timeout_node_websocket() {
    ping_timeout(Kind::Node, Transports::WebSocket).await;
}

#[tokio::test]
async fn ping_timeout_node_polling() {
    ping_timeout(Kind::Node, Transports::Polling).await;
}

/// The Node process itself stops (SIGSTOP), then goes on (SIGCONT).
#[tokio::test]
async fn ping_timeout_node_stopped() {
    let Setup {
        server,
        socket,
        mut events,
        proxy: _proxy,
        ..
    } = connected(Kind::Node, Transports::WebSocket, |b| b).await;
    server.signal("STOP").await;
    let event = next(&mut events).await;
    server.signal("CONT").await;
    assert_eq!(event, disconnect(DisconnectReason::PingTimeout));
    assert_eq!(next(&mut events).await, Lifecycle::ReconnectAttempt(1));
    assert_eq!(next(&mut events).await, Lifecycle::Reconnect(1));
    assert_eq!(next(&mut events).await, connect());
    socket.disconnect();
}

/// The server closes the connection under the socket.
async fn transport_close(kind: Kind, transports: Transports) {
    let Setup {
        server,
        socket,
        mut events,
        proxy: _proxy,
        ..
    } = connected(kind, transports, |b| b).await;
    socket.emit("drop_me", &()).unwrap();
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::TransportClose)
    );
    assert_eq!(next(&mut events).await, Lifecycle::ReconnectAttempt(1));
    assert_eq!(next(&mut events).await, Lifecycle::Reconnect(1));
    assert_eq!(next(&mut events).await, connect());
    server.expect_handshakes(2).await;
    socket.disconnect();
}

#[tokio::test]
async fn transport_close_own_websocket() {
    transport_close(Kind::Own, Transports::WebSocket).await;
}

#[tokio::test]
async fn transport_close_own_polling() {
    transport_close(Kind::Own, Transports::Polling).await;
}

#[tokio::test]
async fn transport_close_node_websocket() {
    transport_close(Kind::Node, Transports::WebSocket).await;
}

#[tokio::test]
async fn transport_close_node_polling() {
    transport_close(Kind::Node, Transports::Polling).await;
}

/// How [`connection_cut`] breaks the connection.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// TCP closed under it (FIN), without a WebSocket close frame or an Engine.IO close.
    Eof,
    /// TCP reset under it (RST).
    Reset,
}

/// The connection breaks without a close. Long-polling's request fails: "transport error", as
/// socket.io-client says. A WebSocket that ends without a closing handshake is "transport
/// close" in socket.io-client (the browser's and `ws`'s WebSocket fire only `close`, code 1006,
/// for it), and here.
async fn connection_cut(kind: Kind, transports: Transports, how: Cut) -> Lifecycle {
    let Setup {
        proxy,
        socket,
        mut events,
        server,
        ..
    } = connected(kind, transports, |b| b).await;
    match how {
        Cut::Eof => proxy.cut(),
        Cut::Reset => proxy.reset(),
    }
    let event = next(&mut events).await;
    assert_eq!(next(&mut events).await, Lifecycle::ReconnectAttempt(1));
    assert_eq!(next(&mut events).await, Lifecycle::Reconnect(1));
    assert_eq!(next(&mut events).await, connect());
    server.expect_handshakes(2).await;
    socket.disconnect();
    event
}

#[tokio::test]
async fn connection_cut_own_websocket() {
    let event = connection_cut(Kind::Own, Transports::WebSocket, Cut::Eof).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportClose));
}

#[tokio::test]
async fn connection_reset_own_websocket() {
    let event = connection_cut(Kind::Own, Transports::WebSocket, Cut::Reset).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportClose));
}

#[tokio::test]
async fn connection_cut_own_polling() {
    let event = connection_cut(Kind::Own, Transports::Polling, Cut::Eof).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportError));
}

#[tokio::test]
async fn connection_cut_node_websocket() {
    let event = connection_cut(Kind::Node, Transports::WebSocket, Cut::Eof).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportClose));
}

#[tokio::test]
async fn connection_reset_node_websocket() {
    let event = connection_cut(Kind::Node, Transports::WebSocket, Cut::Reset).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportClose));
}

#[tokio::test]
async fn connection_cut_node_polling() {
    let event = connection_cut(Kind::Node, Transports::Polling, Cut::Eof).await;
    assert_eq!(event, disconnect(DisconnectReason::TransportError));
}

/// The Node process is killed: the kernel closes its sockets, and the WebSocket ends without
/// a closing handshake.
#[tokio::test]
async fn node_killed() {
    let Setup {
        server,
        mut events,
        socket,
        proxy: _proxy,
        ..
    } = connected(Kind::Node, Transports::WebSocket, |b| {
        b.reconnection_attempts(1)
    })
    .await;
    server.signal("KILL").await;
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::TransportClose)
    );
    assert_eq!(next(&mut events).await, Lifecycle::ReconnectAttempt(1));
    socket.disconnect();
}

// ---- dropping the client ----

/// Every handle dropped (`connected` keeps only the socket): the client disconnects cleanly,
/// as [`Client::close`] does, and its task ends. The task holds the client's state, the
/// lifecycle's sending side with it: the receiver ending shows the task is gone.
async fn dropped(kind: Kind, transports: Transports) {
    let Setup {
        mut server,
        socket,
        mut events,
        proxy: _proxy,
    } = connected(kind, transports, |b| b).await;
    drop(socket);
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::IoClientDisconnect)
    );
    assert_eq!(within(WAIT, events.recv()).await, None);
    assert_eq!(
        server.next_disconnect().await,
        "client namespace disconnect"
    );
    server.expect_handshakes(1).await;
}

#[tokio::test]
async fn dropped_own_websocket() {
    dropped(Kind::Own, Transports::WebSocket).await;
}

#[tokio::test]
async fn dropped_own_polling() {
    dropped(Kind::Own, Transports::Polling).await;
}

#[tokio::test]
async fn dropped_node_websocket() {
    dropped(Kind::Node, Transports::WebSocket).await;
}

#[tokio::test]
async fn dropped_node_polling() {
    dropped(Kind::Node, Transports::Polling).await;
}

/// A clone kept (here, a socket of another namespace) keeps the connection open.
#[tokio::test]
async fn a_kept_handle_keeps_the_client() {
    let Setup {
        mut server,
        socket,
        mut events,
        proxy: _proxy,
    } = connected(Kind::Own, Transports::WebSocket, |b| b).await;
    let kept = socket.client().clone();
    drop(socket);
    quiet(&mut events, "a handle is still held").await;
    assert!(kept.socket("/").connected());
    kept.close();
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::IoClientDisconnect)
    );
    assert_eq!(
        server.next_disconnect().await,
        "client namespace disconnect"
    );
    drop(kept);
    assert_eq!(within(WAIT, events.recv()).await, None);
}

// ---- reconnection ----

/// connect → disconnect → reconnect_attempt(1..n) with connect_error and reconnect_error
/// after each failed one → reconnect(n) → connect.
async fn reconnection_sequence(kind: Kind) {
    let Setup {
        server,
        proxy,
        socket,
        mut events,
        ..
    } = connected(kind, Transports::WebSocket, |b| b).await;
    proxy.set(Mode::Refuse);
    socket.emit("drop_me", &()).unwrap();
    let mut seen = Vec::new();
    let mut failed = 0;
    loop {
        let event = next(&mut events).await;
        if matches!(event, Lifecycle::ReconnectError(_)) {
            failed += 1;
            if failed == 3 {
                // The fourth attempt starts a reconnection delay (100 ms) from now.
                proxy.set(Mode::Forward);
            }
        }
        let done = event == connect();
        seen.push(event);
        if done {
            break;
        }
    }
    let mut expected = vec![disconnect(DisconnectReason::TransportClose)];
    for n in 1..=3 {
        expected.push(Lifecycle::ReconnectAttempt(n));
        assert!(
            matches!(&seen.get(expected.len()), Some(Lifecycle::ConnectError { namespace, .. }) if namespace == "/"),
            "{seen:#?}"
        );
        expected.push(seen[expected.len()].clone());
        assert!(
            matches!(
                &seen.get(expected.len()),
                Some(Lifecycle::ReconnectError(_))
            ),
            "{seen:#?}"
        );
        expected.push(seen[expected.len()].clone());
    }
    expected.extend([
        Lifecycle::ReconnectAttempt(4),
        Lifecycle::Reconnect(4),
        connect(),
    ]);
    assert_eq!(seen, expected);
    server.expect_handshakes(2).await;
    socket.disconnect();
}

#[tokio::test]
async fn reconnection_sequence_own() {
    reconnection_sequence(Kind::Own).await;
}

#[tokio::test]
async fn reconnection_sequence_node() {
    reconnection_sequence(Kind::Node).await;
}

async fn reconnect_failed(kind: Kind) {
    let Setup {
        server,
        proxy,
        socket,
        mut events,
        ..
    } = connected(kind, Transports::WebSocket, |b| b.reconnection_attempts(2)).await;
    proxy.set(Mode::Refuse);
    socket.emit("drop_me", &()).unwrap();
    let mut seen = Vec::new();
    loop {
        let event = next(&mut events).await;
        let done = event == Lifecycle::ReconnectFailed;
        if !matches!(
            event,
            Lifecycle::ConnectError { .. } | Lifecycle::ReconnectError(_)
        ) {
            seen.push(event);
        }
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            disconnect(DisconnectReason::TransportClose),
            Lifecycle::ReconnectAttempt(1),
            Lifecycle::ReconnectAttempt(2),
            Lifecycle::ReconnectFailed
        ]
    );
    proxy.set(Mode::Forward);
    quiet(&mut events, "an attempt after reconnect_failed").await;
    server.expect_handshakes(1).await;
    assert!(!socket.connected());
}

#[tokio::test]
async fn reconnect_failed_own() {
    reconnect_failed(Kind::Own).await;
}

#[tokio::test]
async fn reconnect_failed_node() {
    reconnect_failed(Kind::Node).await;
}

/// disconnect() while the client waits out its backoff: the server, up all along, sees no
/// other handshake.
async fn disconnect_during_backoff(kind: Kind) {
    let Setup {
        server,
        socket,
        mut events,
        proxy: _proxy,
        ..
    } = connected(kind, Transports::WebSocket, |b| {
        b.reconnection_delay(Duration::from_millis(400))
            .reconnection_delay_max(Duration::from_millis(400))
    })
    .await;
    socket.emit("drop_me", &()).unwrap();
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::TransportClose)
    );
    socket.disconnect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    quiet(&mut events, "reconnecting after disconnect()").await;
    server.expect_handshakes(1).await;
    assert!(!socket.connected());
}

#[tokio::test]
async fn disconnect_during_backoff_own() {
    disconnect_during_backoff(Kind::Own).await;
}

#[tokio::test]
async fn disconnect_during_backoff_node() {
    disconnect_during_backoff(Kind::Node).await;
}

// ---- retries ----

/// The server ignores the first two tries; retries(3) gets the third's reply.
async fn retries_deliver(kind: Kind) {
    let Setup {
        server,
        socket,
        proxy: _proxy,
        ..
    } = connected(kind, Transports::WebSocket, |b| {
        b.retries(3).ack_timeout(Duration::from_millis(200))
    })
    .await;
    let reply: Value = within(WAIT, socket.emit_with_ack("retry", &("a", 2)))
        .await
        .unwrap();
    assert_eq!(reply["tries"], 3, "{reply}");
    assert_eq!(reply["log"], json!(["a", "a", "a"]), "{reply}");
    if let Kind::Node = kind {
        // Node's server shows what came on the wire: one ack id for the three tries.
        let ids = reply["ids"].as_array().unwrap();
        assert_eq!(ids.len(), 3, "{reply}");
        assert!(ids.iter().all(|id| *id == ids[0]), "{reply}");
    }
    server.expect_handshakes(1).await;
}

#[tokio::test]
async fn retries_deliver_own() {
    retries_deliver(Kind::Own).await;
}

#[tokio::test]
async fn retries_deliver_node() {
    retries_deliver(Kind::Node).await;
}

/// retries(1): two tries, both ignored, so the ack fails; the emit queued behind it goes
/// only then, and is answered.
async fn retries_give_up_in_order(kind: Kind) {
    let Setup {
        socket,
        proxy: _proxy,
        server: _server,
        ..
    } = connected(kind, Transports::WebSocket, |b| {
        b.retries(1).ack_timeout(Duration::from_millis(200))
    })
    .await;
    let first = socket.emit_with_ack::<_, Value>("retry", &("a", 2));
    let second = socket.emit_with_ack::<_, Value>("retry", &("b", 0));
    let (first, second) = within(WAIT, async { tokio::join!(first, second) }).await;
    assert_eq!(first, Err(Error::AckTimeout(Duration::from_millis(200))));
    let second = second.unwrap();
    assert_eq!(second["tries"], 1, "{second}");
    assert_eq!(second["log"], json!(["a", "a", "b"]), "{second}");
}

#[tokio::test]
async fn retries_give_up_in_order_own() {
    retries_give_up_in_order(Kind::Own).await;
}

#[tokio::test]
async fn retries_give_up_in_order_node() {
    retries_give_up_in_order(Kind::Node).await;
}

/// A plain emit is queued too, and survives a lost connection: sent again once reconnected.
async fn retries_survive_a_lost_connection(kind: Kind) {
    let Setup {
        proxy,
        socket,
        mut events,
        server: _server,
        ..
    } = connected(kind, Transports::WebSocket, |b| b.retries(2)).await;
    proxy.set(Mode::Silent);
    // No ack timeout: the try ends with the connection.
    let sender = socket.clone();
    let reply = tokio::spawn(async move {
        sender
            .emit_with_ack::<_, Value>("retry", &("lost", 0))
            .await
    });
    assert_eq!(
        next(&mut events).await,
        disconnect(DisconnectReason::PingTimeout)
    );
    proxy.set(Mode::Forward);
    let reply = within(WAIT, reply).await.unwrap().unwrap();
    // The first try was held by the silent proxy and may have reached the server after all.
    let tries = reply["tries"].as_u64().unwrap();
    assert!((1..=2).contains(&tries), "{reply}");
    socket.disconnect();
}

#[tokio::test]
async fn retries_survive_a_lost_connection_own() {
    retries_survive_a_lost_connection(Kind::Own).await;
}

#[tokio::test]
async fn retries_survive_a_lost_connection_node() {
    retries_survive_a_lost_connection(Kind::Node).await;
}

/// A plain emit (no acknowledgement asked for) is queued too: it carries an ack id, is sent
/// again until the server acknowledges it, and what follows waits for it.
async fn retries_queue_plain_emits(kind: Kind) {
    let Setup {
        socket,
        server: _server,
        proxy: _proxy,
        ..
    } = connected(kind, Transports::WebSocket, |b| {
        b.retries(2).ack_timeout(Duration::from_millis(200))
    })
    .await;
    socket.emit("retry", &("plain", 1)).unwrap();
    let reply: Value = within(WAIT, socket.emit_with_ack("retry", &("next", 0)))
        .await
        .unwrap();
    assert_eq!(reply["log"], json!(["plain", "plain", "next"]), "{reply}");

    // socket.timeout() sets one emit's wait per try.
    let short = Duration::from_millis(100);
    let given_up = within(
        WAIT,
        socket
            .timeout(short)
            .emit_with_ack::<_, Value>("retry", &("short", 9)),
    )
    .await;
    assert_eq!(given_up, Err(Error::AckTimeout(short)));
    let reply: Value = within(WAIT, socket.emit_with_ack("retry", &("after", 0)))
        .await
        .unwrap();
    assert_eq!(
        reply["log"],
        json!(["plain", "plain", "next", "short", "short", "short", "after"]),
        "{reply}"
    );
}

#[tokio::test]
async fn retries_queue_plain_emits_own() {
    retries_queue_plain_emits(Kind::Own).await;
}

#[tokio::test]
async fn retries_queue_plain_emits_node() {
    retries_queue_plain_emits(Kind::Node).await;
}
