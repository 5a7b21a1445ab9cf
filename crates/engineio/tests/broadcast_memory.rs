//! Heap allocated to send one large binary message to many WebSocket sessions: the sessions
//! write the message's own bytes, shared, so it is not copied once per recipient (nor does
//! each connection's write buffer grow to its size).
//!
//! One test in this binary: every allocation of the process is counted, so nothing else may
//! run beside it. The clients read raw bytes into one buffer of their own, allocated before
//! counting, so what is counted is the server's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use futures_util::SinkExt;
use sockeye_engineio::{CloseReason, EngineHandler, EngineService, Frame, Message, Socket};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::{WebSocketStream, tungstenite};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CONNECTIONS: usize = 50;
const LARGE: usize = 256 * 1024;

fn bytes_allocated() -> usize {
    GLOBAL.stats().bytes_allocated
}

/// Sends `payload` to every open session when any of them says "go".
struct Broadcast {
    /// The sessions open.
    sockets: Arc<Mutex<Vec<Socket>>>,
    payload: Bytes,
}

impl EngineHandler for Broadcast {
    fn on_open(&self, socket: &Socket) {
        self.sockets.lock().unwrap().push(socket.clone());
    }

    fn on_close(&self, socket: &Socket, _reason: CloseReason) {
        self.sockets
            .lock()
            .unwrap()
            .retain(|open| open.id() != socket.id());
    }

    fn on_message(&self, _socket: &Socket, message: Message) {
        if message == Message::Text("go".into()) {
            for socket in self.sockets.lock().unwrap().iter() {
                socket.send(Frame::Binary(self.payload.clone())).unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_message_to_many_sessions_is_not_copied_per_session() {
    let payload: Bytes = (0..LARGE)
        .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
        .collect::<Vec<u8>>()
        .into();
    let sockets = Arc::new(Mutex::new(Vec::new()));
    let handler = Broadcast {
        sockets: sockets.clone(),
        payload: payload.clone(),
    };
    let config = config().ping_interval(std::time::Duration::from_secs(60));
    let (addr, _shutdown) = serve(EngineService::new(config, handler)).await;
    // What a server frame of LARGE bytes looks like: FIN and binary, a 64-bit length.
    let mut expected = vec![0x82, 127];
    expected.extend_from_slice(&(LARGE as u64).to_be_bytes());
    expected.extend_from_slice(&payload);
    let mut buffer = vec![0u8; 64 * 1024];

    // A first round to other sessions, gone before counting: what the first large write
    // allocates once per thread (the read scratch buffer, say) is not per session. Then the
    // counted round, to sessions that never wrote a large message: a copy into each one's
    // write buffer would show there (after that, the grown buffers would hide it).
    let mut rounds = Vec::new();
    for sessions in [4, CONNECTIONS] {
        let mut connections = Vec::new();
        for _ in 0..sessions {
            connections.push(open_raw_ws(addr).await);
        }
        let mut go =
            WebSocketStream::from_raw_socket(connections.remove(0), Role::Client, None).await;
        let before = bytes_allocated();
        go.send(tungstenite::Message::text("4go")).await.unwrap();
        for (n, connection) in std::iter::once(go.get_mut())
            .chain(connections.iter_mut())
            .enumerate()
        {
            let mut at = 0;
            while at < expected.len() {
                let want = (expected.len() - at).min(buffer.len());
                let read = within(WAIT, connection.read(&mut buffer[..want]))
                    .await
                    .unwrap();
                assert!(read > 0, "connection {n} closed at byte {at}");
                assert!(
                    buffer[..read] == expected[at..at + read],
                    "connection {n} got other bytes from byte {at} on: {:?}",
                    &buffer[..read.min(16)]
                );
                at += read;
            }
        }
        rounds.push(bytes_allocated() - before);
        drop(go);
        drop(connections);
        within(WAIT, async {
            while !sockets.lock().unwrap().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    let allocated = rounds[1];
    eprintln!(
        "allocated to send {LARGE} bytes to {CONNECTIONS} sessions: {allocated} bytes \
         (to the first 4: {})",
        rounds[0]
    );
    // A copy per recipient would be CONNECTIONS * LARGE (12.5 MiB); this allows a few hundred
    // bytes per session, and one WebSocket read scratch buffer: each worker thread makes its
    // own the first time it reads, and which threads read in the first round is up to the
    // scheduler (the second one's then falls in this round, 64 KiB, in some runs).
    let scratch = sockeye_engineio::EngineConfig::default().websocket_read_buffer;
    assert!(
        allocated < CONNECTIONS * 1024 + scratch,
        "{allocated} bytes allocated to send one {LARGE}-byte message to {CONNECTIONS} sessions"
    );
}
