//! Connection-state recovery with the connection cut while the server emits numbered events:
//! after the reconnection the socket is `recovered()` and has every number once, in order.
//! Against Node's socket.io 4.8 (`tests/js/rust-client-server.mjs`, which closes the transport
//! with `socket.conn.close()`) and against our server behind a loopback TCP proxy the test cuts.
//! Node needs `node` and `npm ci --prefix tests/js`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sockeye::{Data, EmitError, EngineConfig, Io, RecoveryConfig, Socket as ServerSocket};
use sockeye_client::{Ack, Client, Lifecycle, Parser, Transports};
use sockeye_testkit::{QUIET, TestServer, WAIT, within};
use tokio::sync::{mpsc, watch};

mod common;

use common::node::node_server;
use common::proxy::Proxy;
use common::wait_for;

/// How many numbers a stream sends, and how often.
const COUNT: u64 = 60;
const EVERY: Duration = Duration::from_millis(10);

/// A client reconnecting quickly, with a handler collecting the numbers of `n` events.
fn client(url: &str, transports: Transports) -> (Client, mpsc::UnboundedReceiver<u64>) {
    client_with(url, transports, Parser::Default)
}

fn client_with(
    url: &str,
    transports: Transports,
    parser: Parser,
) -> (Client, mpsc::UnboundedReceiver<u64>) {
    let client = Client::builder(url)
        .transports(transports)
        .parser(parser)
        .reconnection_delay(Duration::from_millis(50))
        .reconnection_delay_max(Duration::from_millis(200))
        .randomization_factor(0.0)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    client.socket("/").on("n", move |n: u64, _: Ack| {
        let _ = tx.send(n);
    });
    (client, rx)
}

/// Receives numbers up to `last`, then checks that nothing more (a duplicate) follows.
async fn expect_numbers(numbers: &mut mpsc::UnboundedReceiver<u64>, from: u64, last: u64) {
    for expected in from..=last {
        let n = within(WAIT, numbers.recv()).await.unwrap();
        assert_eq!(n, expected, "numbers out of order, missing or repeated");
    }
    tokio::time::sleep(QUIET).await;
    assert!(numbers.try_recv().is_err(), "a number came twice");
}

// ---- Node ----

async fn node_stream(transports: Transports) {
    node_stream_with(transports, Parser::Default).await;
}

async fn node_stream_with(transports: Transports, parser: Parser) {
    let node = node_server(match parser {
        Parser::MsgPack => "msgpack",
        _ => "default",
    })
    .await;
    let (client, mut numbers) = client_with(&node.url, transports, parser);
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    let admin = client.socket("/admin");
    socket.connect();
    admin.connect();
    connected_both(&mut lifecycle, false).await;
    let id = socket.id();
    let admin_id = admin.id();
    // The server cuts the transport after number 20 and goes on emitting.
    socket
        .emit("stream", &(COUNT, EVERY.as_millis() as u64, 20))
        .unwrap();
    let cut = wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert!(
        matches!(&cut, Lifecycle::Disconnect { reason, .. } if reason.reconnects()),
        "{cut:?}"
    );
    connected_both(&mut lifecycle, true).await;
    assert!(socket.recovered() && admin.recovered());
    assert_eq!((socket.id(), admin.id()), (id, admin_id));
    expect_numbers(&mut numbers, 1, COUNT).await;
    client.close();
}

/// Waits for the `Connect` of both `/` and `/admin` (one connection carries both), each
/// `recovered` or not.
async fn connected_both(lifecycle: &mut sockeye_client::LifecycleReceiver, recovered: bool) {
    let mut namespaces = Vec::new();
    for _ in 0..2 {
        let event = wait_for(lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
        let Lifecycle::Connect {
            namespace,
            recovered: was,
        } = event
        else {
            unreachable!()
        };
        assert_eq!(was, recovered, "{namespace}");
        namespaces.push(namespace);
    }
    namespaces.sort();
    assert_eq!(namespaces, ["/", "/admin"]);
}

#[tokio::test]
async fn node_polling() {
    node_stream(Transports::Polling).await;
}

#[tokio::test]
async fn node_websocket() {
    node_stream(Transports::WebSocket).await;
}

#[tokio::test]
async fn node_upgrade() {
    node_stream(Transports::PollingThenUpgrade).await;
}

/// The offsets travel inside MessagePack packets too.
#[tokio::test]
async fn node_msgpack_polling() {
    node_stream_with(Transports::Polling, Parser::MsgPack).await;
}

#[tokio::test]
async fn node_msgpack_websocket() {
    node_stream_with(Transports::WebSocket, Parser::MsgPack).await;
}

// ---- our server ----

/// The server's side of a test: the socket of the client (the recovered one once it is back),
/// and the reasons its sockets disconnected.
struct Ours {
    server: TestServer,
    current: watch::Receiver<(usize, Option<ServerSocket>)>,
    disconnects: mpsc::UnboundedReceiver<String>,
    /// Emits the stream made to a socket that had dropped and that were kept for it.
    kept: Arc<AtomicUsize>,
    /// The texts of the client's `note` events.
    notes: mpsc::UnboundedReceiver<String>,
}

async fn ours() -> Ours {
    ours_with(RecoveryConfig::default(), Parser::Default).await
}

async fn ours_with(recovery: RecoveryConfig, parser: Parser) -> Ours {
    // Short pings, so that a long-polling session whose connection was cut ends soon.
    let engine = EngineConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300));
    let io = Io::builder()
        .engine(engine)
        .connection_state_recovery(recovery)
        .parser(parser)
        .build();
    let (disconnect_tx, disconnects) = mpsc::unbounded_channel();
    let admin_disconnects = disconnect_tx.clone();
    io.of("/admin").on_connection(move |socket: ServerSocket| {
        let disconnect_tx = admin_disconnects.clone();
        async move {
            // Recovery needs the offset of an event received (as in Node): this is one.
            let _ = socket.emit("hello_admin", "admin here");
            socket.on_disconnect(move |_: ServerSocket, reason: sockeye::DisconnectReason| {
                let _ = disconnect_tx.send(reason.to_string());
                async {}
            });
        }
    });
    let (current_tx, current) = watch::channel((0usize, None::<ServerSocket>));
    let current_tx = Arc::new(current_tx);
    let kept = Arc::new(AtomicUsize::new(0));
    let kept_count = kept.clone();
    let (notes_tx, notes) = mpsc::unbounded_channel();
    io.on_connection(move |socket: ServerSocket| {
        let current_tx = current_tx.clone();
        let disconnect_tx = disconnect_tx.clone();
        let kept = kept_count.clone();
        let notes_tx = notes_tx.clone();
        async move {
            socket.on("note", move |Data(text): Data<String>| {
                let _ = notes_tx.send(text);
                async {}
            });
            current_tx.send_modify(|(generation, current)| {
                *generation += 1;
                *current = Some(socket.clone());
            });
            socket.on_disconnect(move |_: ServerSocket, reason: sockeye::DisconnectReason| {
                let _ = disconnect_tx.send(reason.to_string());
                async {}
            });
            let stream_tx = current_tx.clone();
            socket.on("stream", move |Data(count): Data<u64>| {
                let current = stream_tx.subscribe();
                let kept = kept.clone();
                async move {
                    tokio::spawn(stream(current, count, kept));
                }
            });
        }
    });
    let server = TestServer::start(io).await;
    Ours {
        server,
        current,
        disconnects,
        kept,
        notes,
    }
}

/// Emits 1..=count to the client's socket. A socket that dropped takes emits while its session
/// waits for the client; once the client is back, its new socket does.
async fn stream(
    mut current: watch::Receiver<(usize, Option<ServerSocket>)>,
    count: u64,
    kept: Arc<AtomicUsize>,
) {
    for n in 1..=count {
        loop {
            let (generation, socket) = current.borrow_and_update().clone();
            let Some(socket) = socket else { return };
            let was_connected = socket.connected();
            match socket.emit("n", &n) {
                Ok(()) => {
                    if !was_connected {
                        kept.fetch_add(1, Ordering::SeqCst);
                    }
                    break;
                }
                // Refused only once the session was restored: the new socket takes it.
                Err(EmitError::Disconnected) => {
                    let changed = current.wait_for(|(g, _)| *g != generation);
                    if within(WAIT, changed).await.is_err() {
                        return;
                    }
                }
                Err(error) => panic!("emit {n}: {error}"),
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

async fn ours_stream(transports: Transports) {
    ours_stream_with(transports, Parser::Default).await;
}

async fn ours_stream_with(transports: Transports, parser: Parser) {
    let mut ours = ours_with(RecoveryConfig::default(), parser).await;
    let proxy = Proxy::start(ours.server.addr()).await;
    let (client, mut numbers) = client_with(&proxy.url(), transports, parser);
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    let admin = client.socket("/admin");
    socket.connect();
    admin.connect();
    connected_both(&mut lifecycle, false).await;
    let (id, admin_id) = (socket.id(), admin.id());
    socket.emit("stream", &COUNT).unwrap();
    for expected in 1..=10 {
        assert_eq!(within(WAIT, numbers.recv()).await.unwrap(), expected);
    }
    // The network goes; the client stays away until the server has seen its socket drop, so
    // that the stream goes on into a socket awaiting recovery.
    proxy.set_open(false);
    proxy.cut();
    let cut = wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert!(
        matches!(&cut, Lifecycle::Disconnect { reason, .. } if reason.reconnects()),
        "{cut:?}"
    );
    // `/` and `/admin` both drop.
    within(WAIT, ours.disconnects.recv()).await.unwrap();
    let reason = within(WAIT, ours.disconnects.recv()).await.unwrap();
    assert!(
        reason == "transport close" || reason == "transport error" || reason == "ping timeout",
        "{reason}"
    );
    // Emitted while away: buffered, and sent once the session is back.
    socket.emit("note", "while away").unwrap();
    socket.emit("note", "still away").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.set_open(true);
    connected_both(&mut lifecycle, true).await;
    assert_eq!(within(WAIT, ours.notes.recv()).await.unwrap(), "while away");
    assert_eq!(within(WAIT, ours.notes.recv()).await.unwrap(), "still away");
    assert!(socket.recovered() && admin.recovered());
    assert_eq!((socket.id(), admin.id()), (id, admin_id));
    expect_numbers(&mut numbers, 11, COUNT).await;
    assert!(
        ours.kept.load(Ordering::SeqCst) > 0,
        "no emit went to the dropped socket: the cut was too short to test it"
    );
    assert!(ours.current.borrow().1.as_ref().unwrap().recovered());
    client.close();
}

#[tokio::test]
async fn ours_polling() {
    ours_stream(Transports::Polling).await;
}

#[tokio::test]
async fn ours_websocket() {
    ours_stream(Transports::WebSocket).await;
}

#[tokio::test]
async fn ours_upgrade() {
    ours_stream(Transports::PollingThenUpgrade).await;
}

#[tokio::test]
async fn ours_msgpack_polling() {
    ours_stream_with(Transports::Polling, Parser::MsgPack).await;
}

#[tokio::test]
async fn ours_msgpack_websocket() {
    ours_stream_with(Transports::WebSocket, Parser::MsgPack).await;
}

/// The server bug this file found: `Socket::emit` on the handle of a socket that dropped (its
/// session kept for recovery) failed before recording the packet, so the client never got it.
/// Now it is kept and replayed; once the session is restored, the stale handle refuses.
#[tokio::test]
async fn emit_to_a_dropped_socket_reaches_the_recovered_client() {
    let mut ours = ours().await;
    let proxy = Proxy::start(ours.server.addr()).await;
    let (client, mut numbers) = client(&proxy.url(), Transports::WebSocket);
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    let stale = ours.current.borrow().1.clone().unwrap();
    stale.emit("n", &1u64).unwrap();
    assert_eq!(within(WAIT, numbers.recv()).await.unwrap(), 1);

    proxy.set_open(false);
    proxy.cut();
    within(WAIT, ours.disconnects.recv()).await.unwrap();
    assert!(!stale.connected());
    for n in 2..=4u64 {
        stale.emit("n", &n).unwrap();
    }
    proxy.set_open(true);
    let back = wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert!(matches!(
        back,
        Lifecycle::Connect {
            recovered: true,
            ..
        }
    ));
    expect_numbers(&mut numbers, 2, 4).await;
    // The session now belongs to the new socket: the old handle sends nothing more.
    assert_eq!(stale.emit("n", &5u64), Err(EmitError::Disconnected));
    client.close();
}

/// A client away for longer than the server keeps its session gets a new socket (not
/// `recovered()`, a new id); its next cut is recovered with that new session.
#[tokio::test]
async fn expired_session_gives_a_new_socket_and_the_next_cut_recovers() {
    let mut ours = ours_with(
        RecoveryConfig::default().max_disconnection_duration(Duration::from_millis(1_000)),
        Parser::Default,
    )
    .await;
    let proxy = Proxy::start(ours.server.addr()).await;
    let (client, mut numbers) = client(&proxy.url(), Transports::WebSocket);
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    let first = socket.id();
    let server_socket = ours.current.borrow().1.clone().unwrap();
    server_socket.emit("n", &1u64).unwrap();
    assert_eq!(within(WAIT, numbers.recv()).await.unwrap(), 1);

    proxy.set_open(false);
    proxy.cut();
    within(WAIT, ours.disconnects.recv()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // Expired: kept no more, so refused.
    assert_eq!(server_socket.emit("n", &2u64), Err(EmitError::Disconnected));
    proxy.set_open(true);
    let back = wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert!(
        matches!(
            back,
            Lifecycle::Connect {
                recovered: false,
                ..
            }
        ),
        "{back:?}"
    );
    assert!(!socket.recovered());
    let second = socket.id();
    assert!(second.is_some() && second != first);

    // The new session recovers.
    let server_socket = ours.current.borrow().1.clone().unwrap();
    server_socket.emit("n", &3u64).unwrap();
    assert_eq!(within(WAIT, numbers.recv()).await.unwrap(), 3);
    proxy.set_open(false);
    proxy.cut();
    within(WAIT, ours.disconnects.recv()).await.unwrap();
    server_socket.emit("n", &4u64).unwrap();
    proxy.set_open(true);
    let back = wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert!(
        matches!(
            back,
            Lifecycle::Connect {
                recovered: true,
                ..
            }
        ),
        "{back:?}"
    );
    assert_eq!(socket.id(), second);
    expect_numbers(&mut numbers, 4, 4).await;
    client.close();
}

/// A network gone silent (nothing through, nothing closed): the client notices by the missing
/// pings ("ping timeout"), the server by the missing pongs, and the client comes back with its
/// session and the events emitted meanwhile.
async fn silent_network(transports: Transports) {
    let mut ours = ours().await;
    let proxy = Proxy::start(ours.server.addr()).await;
    let (client, mut numbers) = client(&proxy.url(), transports);
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    let id = socket.id();
    let server_socket = ours.current.borrow().1.clone().unwrap();
    server_socket.emit("n", &1u64).unwrap();
    assert_eq!(within(WAIT, numbers.recv()).await.unwrap(), 1);

    proxy.set_open(false);
    proxy.freeze();
    let event = wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert_eq!(
        event,
        Lifecycle::Disconnect {
            namespace: "/".into(),
            reason: sockeye_client::DisconnectReason::PingTimeout
        }
    );
    assert_eq!(
        within(WAIT, ours.disconnects.recv()).await.unwrap(),
        "ping timeout"
    );
    server_socket.emit("n", &2u64).unwrap();
    proxy.cut();
    proxy.set_open(true);
    let back = wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert!(
        matches!(
            back,
            Lifecycle::Connect {
                recovered: true,
                ..
            }
        ),
        "{back:?}"
    );
    assert_eq!(socket.id(), id);
    expect_numbers(&mut numbers, 2, 2).await;
    client.close();
}

#[tokio::test]
async fn silent_network_polling() {
    silent_network(Transports::Polling).await;
}

#[tokio::test]
async fn silent_network_websocket() {
    silent_network(Transports::WebSocket).await;
}
