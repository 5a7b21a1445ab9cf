//! Reconnection against our own server stopped and started again on the same port; what
//! does not reconnect (a server's DISCONNECT, the client's disconnect()).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use sockeye::{Data, Io, Socket as ServerSocket};
use sockeye_client::{Ack, Client, DisconnectReason, Lifecycle, Transports};
use sockeye_testkit::{QUIET, WAIT, within};
use tokio::sync::{mpsc, oneshot};

mod common;

struct Running {
    io: Io,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        self.io.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
        let _ = self.task.await;
    }
}

fn app(events: mpsc::UnboundedSender<String>) -> Io {
    let io = Io::builder().build();
    io.on_connection(move |socket: ServerSocket| {
        let events = events.clone();
        async move {
            socket.on("note", move |Data(text): Data<String>| {
                let events = events.clone();
                async move {
                    let _ = events.send(text);
                }
            });
            socket.on("kick_me", |socket: ServerSocket| async move {
                socket.disconnect(false);
            });
        }
    });
    io
}

async fn start(addr: SocketAddr, events: mpsc::UnboundedSender<String>) -> (SocketAddr, Running) {
    let listener = sockeye::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let io = app(events);
    let service = io.engine().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = sockeye::serve(listener, service, async {
            let _ = stopped.await;
        })
        .await;
    });
    (
        addr,
        Running {
            io,
            stop: Some(stop),
            task,
        },
    )
}

async fn restart(transports: Transports) {
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    let (addr, running) = start(SocketAddr::from(([127, 0, 0, 1], 0)), notes_tx.clone()).await;
    let client = Client::builder(&format!("http://{addr}"))
        .transports(transports)
        .reconnection_delay(Duration::from_millis(50))
        .reconnection_delay_max(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.on("unused", |_: Value, _: Ack| {});
    socket.connect();
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    socket.emit("note", "one").unwrap();
    assert_eq!(within(WAIT, notes.recv()).await.unwrap(), "one");

    running.stop().await;
    let event = common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert!(
        matches!(event, Lifecycle::Disconnect { reason, .. } if reason.reconnects()),
        "{event:?}"
    );
    common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::ReconnectAttempt(1))
    })
    .await;
    // Offline: buffered, sent in order once connected again.
    socket.emit("note", "two").unwrap();
    socket.emit("note", "three").unwrap();
    socket.volatile().emit("note", "dropped").unwrap();

    let (_, running) = start(addr, notes_tx).await;
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Reconnect(_))).await;
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    assert_eq!(within(WAIT, notes.recv()).await.unwrap(), "two");
    assert_eq!(within(WAIT, notes.recv()).await.unwrap(), "three");

    // A server's DISCONNECT is final.
    socket.emit("kick_me", &()).unwrap();
    let event = common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert_eq!(
        event,
        Lifecycle::Disconnect {
            namespace: "/".into(),
            reason: DisconnectReason::IoServerDisconnect
        }
    );
    tokio::time::sleep(QUIET).await;
    while let Some(event) = lifecycle.try_recv() {
        assert!(
            !matches!(
                event,
                Lifecycle::ReconnectAttempt(_) | Lifecycle::Connect { .. }
            ),
            "reconnected after a server disconnect: {event:?}"
        );
    }
    assert!(!socket.connected());
    running.stop().await;
}

#[tokio::test]
async fn restart_polling() {
    restart(Transports::Polling).await;
}

#[tokio::test]
async fn restart_websocket() {
    restart(Transports::WebSocket).await;
}

#[tokio::test]
async fn client_disconnect_stops_reconnection() {
    let (notes_tx, _notes) = mpsc::unbounded_channel();
    let (addr, running) = start(SocketAddr::from(([127, 0, 0, 1], 0)), notes_tx).await;
    let client = Client::builder(&format!("http://{addr}"))
        .reconnection_delay(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    socket.connect();
    common::wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    running.stop().await;
    common::wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::ReconnectAttempt(_))
    })
    .await;
    socket.disconnect();
    // Let any attempt in flight finish, then nothing more.
    tokio::time::sleep(QUIET).await;
    while lifecycle.try_recv().is_some() {}
    tokio::time::sleep(QUIET).await;
    assert!(
        !matches!(lifecycle.try_recv(), Some(Lifecycle::ReconnectAttempt(_))),
        "still reconnecting after disconnect()"
    );
}
