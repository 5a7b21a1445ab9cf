//! Heap held by idle WebSocket connections, counted by the global allocator: a connection that
//! carried a 64 KiB message holds, once idle, about what one that never did holds.
//!
//! One test in this binary: every allocation of the process is counted, so nothing else may
//! run beside it. The clients keep only their sockets while idle (their codecs are taken apart
//! between messages), so what grows with the connections is the server's and those sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use sockeye_engineio::{EngineHandler, EngineService, Frame, Message, Socket};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::{WebSocketStream, tungstenite};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CONNECTIONS: usize = 50;
const LARGE: usize = 64 * 1024;
/// What an idle connection may hold after a large message.
const IDLE_LIMIT: usize = 16 * 1024;

/// Bytes allocated and not yet freed, by the whole process (reallocations are counted in
/// both).
fn live_bytes() -> isize {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// Echoes, and keeps nothing.
struct Echo;

impl EngineHandler for Echo {
    fn on_message(&self, socket: &Socket, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::Binary(data),
        };
        socket.send(frame).expect("echo failed");
    }
}

/// A client connection at rest: only its socket.
type Idle = RawWs;

/// Sends `message` on a connection at rest and checks that it comes back as sent.
async fn echo(idle: Idle, message: tungstenite::Message) -> Idle {
    let mut ws = WebSocketStream::from_raw_socket(idle, Role::Client, None).await;
    ws.send(message.clone()).await.expect("websocket send");
    match within(WAIT, ws.next()).await {
        Some(Ok(echoed)) => assert!(echoed == message, "the echo differs from the message"),
        other => panic!("expected the echo, got {other:?}"),
    }
    ws.into_inner()
}

fn large_message(connection: usize, round: u8) -> tungstenite::Message {
    let data: Vec<u8> = (0..LARGE)
        .map(|i| (i as u8).wrapping_mul(31) ^ (connection as u8) ^ round.wrapping_mul(101))
        .collect();
    tungstenite::Message::Binary(data.into())
}

/// Heap per connection over `base`, once it has stopped moving (the sessions have gone idle)
/// or fallen to `goal`, looked at from `quiet` on.
async fn settled_per_connection(base: isize, goal: usize, quiet: Duration) -> usize {
    tokio::time::sleep(quiet).await;
    let per_connection = || ((live_bytes() - base).max(0) as usize) / CONNECTIONS;
    let mut last = per_connection();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = per_connection();
        if now <= goal || now == last {
            return now;
        }
        last = now;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_drop_the_buffers_of_a_large_message() {
    let config = config().ping_interval(Duration::from_secs(60));
    let (addr, _shutdown) = serve(EngineService::new(config, Echo)).await;
    // What the first connections allocate once (the scratch buffer of each thread, say) is
    // not theirs: warm up with a few, gone before counting.
    for _ in 0..4 {
        let idle = open_raw_ws(addr).await;
        let idle = echo(idle, large_message(0, 0)).await;
        drop(idle);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = live_bytes();

    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        let idle = open_raw_ws(addr).await;
        connections.push(echo(idle, tungstenite::Message::text("4small")).await);
    }
    let fresh = settled_per_connection(base, 0, Duration::ZERO).await;

    for round in 1..=2 {
        let mut echoed = Vec::new();
        for (i, idle) in connections.into_iter().enumerate() {
            echoed.push(echo(idle, large_message(i, round)).await);
        }
        connections = echoed;
        // A session shrinks its codec a tenth of a second after the last large frame.
        let after = settled_per_connection(base, fresh, Duration::from_millis(500)).await;
        eprintln!(
            "live heap per idle connection: {fresh} bytes fresh, {after} bytes after 64 KiB \
             echo #{round}"
        );
        assert!(
            after < IDLE_LIMIT,
            "an idle connection holds {after} bytes after a 64 KiB echo ({fresh} before any)"
        );
    }
    drop(connections);
}
