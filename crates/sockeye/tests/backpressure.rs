//! Backpressure over real sockets: a client that never reads its WebSocket while others
//! receive a broadcast at full rate. The others keep their rate, the stalled client is
//! disconnected ([`DisconnectReason::SlowClient`]) and the process's memory stays bounded
//! by the outbox limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockeye::{DisconnectReason, Io, Socket};
use sockeye_testkit::{RecvError, TestClient, Transport, WAIT, server_socket, within};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use hostile_common::{Hostile, MIB, RssWatch, SERIAL};

/// Well-behaved clients receiving the broadcast.
const READERS: usize = 3;
/// The size of each broadcast event's payload.
const PAYLOAD: usize = 16 * 1024;
/// How many frames the broadcaster lets pile up for a well-behaved client before it waits:
/// enough to keep every pipe full, few enough that they never come near the outbox limits.
const AHEAD: usize = 64;

/// A well-behaved client that reads every `tick` and checks that none is lost or reordered.
struct Reader {
    received: Arc<AtomicU64>,
    task: JoinHandle<Result<(), String>>,
}

impl Reader {
    fn start(mut client: TestClient, stop: Arc<AtomicBool>) -> Reader {
        let received = Arc::new(AtomicU64::new(0));
        let counted = received.clone();
        let task = tokio::spawn(async move {
            let mut expected: Option<u64> = None;
            while !stop.load(Ordering::Relaxed) {
                let packet = match client.try_recv_packet(Duration::from_millis(100)).await {
                    Ok(packet) => packet,
                    Err(RecvError::Timeout) => continue,
                    Err(error) => return Err(format!("reader failed: {error}")),
                };
                let args = packet.args().map(|args| args.into_values());
                let Some([seq, _]) = args.as_deref() else {
                    return Err(format!("unexpected packet {packet:?}"));
                };
                let seq = seq.as_u64().unwrap();
                if expected.is_some_and(|expected| seq != expected) {
                    return Err(format!("tick {seq} arrived, {expected:?} expected"));
                }
                expected = Some(seq + 1);
                counted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        Reader { received, task }
    }
}

/// Ticks per second each reader received over `window` from now (the slowest reader's).
async fn rate(readers: &[Reader], window: Duration) -> f64 {
    let before: Vec<u64> = readers
        .iter()
        .map(|r| r.received.load(Ordering::Relaxed))
        .collect();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    slowest(readers, &before, started)
}

fn slowest(readers: &[Reader], before: &[u64], since: Instant) -> f64 {
    let elapsed = since.elapsed().as_secs_f64();
    readers
        .iter()
        .zip(before)
        .map(|(reader, before)| (reader.received.load(Ordering::Relaxed) - before) as f64)
        .fold(f64::INFINITY, f64::min)
        / elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_cut_off_and_the_others_keep_their_rate() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let io = hostile.io().clone();
    let config = io.config().engine.clone();
    let stop = Arc::new(AtomicBool::new(false));

    let mut readers = Vec::new();
    let mut reader_sockets: Vec<Socket> = Vec::new();
    for _ in 0..READERS {
        let (client, id) = hostile.client(Transport::WebSocket).await;
        reader_sockets.push(server_socket(&io.of("/"), &id));
        readers.push(Reader::start(client, stop.clone()));
    }

    // The broadcast runs as fast as the well-behaved clients take it: it waits only when one
    // of them has AHEAD frames queued. It never looks at the stalled client.
    let broadcasts = Arc::new(AtomicU64::new(0));
    let broadcaster = {
        let (io, stop, broadcasts) = (io.clone(), stop.clone(), broadcasts.clone());
        let payload = "x".repeat(PAYLOAD);
        tokio::spawn(async move {
            let mut seq: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                io.emit("tick", &(seq, &payload)).unwrap();
                seq += 1;
                broadcasts.store(seq, Ordering::Relaxed);
                while !stop.load(Ordering::Relaxed)
                    && reader_sockets
                        .iter()
                        .any(|socket| socket.engine().queued() >= AHEAD)
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    // The rate without the stalled client.
    rate(&readers, Duration::from_millis(500)).await;
    let alone = rate(&readers, Duration::from_secs(3)).await;
    let rss = RssWatch::start("stalled reader");

    // A client joins and never reads again.
    let (stalled, stalled_id) = hostile.client(Transport::WebSocket).await;
    stalled.pause_reading();
    let stalled_socket = server_socket(&io.of("/"), &stalled_id);
    let before: Vec<u64> = readers
        .iter()
        .map(|r| r.received.load(Ordering::Relaxed))
        .collect();
    let joined = Instant::now();
    let peak_queued = Arc::new(Mutex::new((0usize, 0u64)));
    let watcher = {
        let (socket, peak) = (stalled_socket.clone(), peak_queued.clone());
        let sent_at_join = broadcasts.load(Ordering::Relaxed);
        let broadcasts = broadcasts.clone();
        tokio::spawn(async move {
            loop {
                let queued = socket.engine().queued();
                {
                    let mut peak = peak.lock().unwrap();
                    if queued > peak.0 {
                        *peak = (queued, broadcasts.load(Ordering::Relaxed) - sent_at_join);
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let reason = within(Duration::from_secs(120), hostile.reason_of(&stalled_id)).await;
    let cut_after = joined.elapsed();
    let with_stalled = slowest(&readers, &before, joined);
    watcher.abort();
    assert_eq!(reason, DisconnectReason::SlowClient);
    assert!(!stalled_socket.connected());
    let (peak_frames, sent_meanwhile) = *peak_queued.lock().unwrap();

    // The rate after it is gone.
    let after = rate(&readers, Duration::from_secs(3)).await;
    let peak_growth = rss.growth();
    println!(
        "ticks of {PAYLOAD} bytes per second per reader: {alone:.0} alone, {with_stalled:.0} \
         with the stalled client ({cut_after:?} until it was cut off, its outbox peaking at \
         {peak_frames} frames after {sent_meanwhile} broadcasts), {after:.0} after; RSS +{} \
         KiB at the peak",
        peak_growth
    );
    // A generous factor: the machine is shared, and the rates move with its load.
    assert!(
        with_stalled >= alone / 4.0 && after >= alone / 4.0,
        "the readers slowed down: {alone:.0}/s alone, {with_stalled:.0}/s with a stalled \
         client, {after:.0}/s after"
    );
    // What a stalled client may hold: the outbox (outbox_max_bytes) and the frames its stuck
    // write took from it (at most as much again), plus the test's own buffers.
    let bound = 2 * config.outbox_max_bytes as u64 / 1024 + 32 * MIB;
    rss.assert_growth_below(bound);

    // The stalled client, once it reads again, finds its connection closed.
    let mut stalled = stalled;
    stalled.resume_reading();
    within(
        Duration::from_secs(60),
        stalled.expect_closed(Duration::from_secs(60)),
    )
    .await;

    // The readers are all still there, and none lost or reordered a tick.
    assert_eq!(io.of("/").sockets().len(), READERS);
    stop.store(true, Ordering::Relaxed);
    within(WAIT, broadcaster).await.unwrap();
    for reader in readers {
        within(WAIT, reader.task).await.unwrap().unwrap();
    }
}
