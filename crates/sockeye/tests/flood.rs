//! Floods of handshakes over real sockets: thousands of sessions that never poll, never join a
//! namespace, or come past `max_sessions`. Each is answered quickly, reaped by the heartbeat
//! or the connect timeout, and leaves the process's memory where it found it, while two
//! well-behaved clients keep exchanging events and acknowledgements.
//!
//! The tests run one at a time ([`SERIAL`]) so that RSS figures are per case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile_common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use sockeye::{EngineConfig, Io};
use sockeye_testkit::{TestClient, WAIT, http_request, within};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use hostile_common::{Bystanders, Hostile, MIB, RawWs, RssWatch, SERIAL};

const POLLING: usize = 3_000;
const WEBSOCKETS: usize = 500;
/// Handshakes in flight at once.
const CONCURRENCY: usize = 50;

/// Bound on the RSS growth of the flood: 3 500 idle sessions, with the test's clients in the
/// same process. Measured: about 40 MiB (some 11 KiB per polling session, 17 KiB per
/// WebSocket counting both ends, debug build).
const FLOOD_BOUND: u64 = 96 * MIB;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

/// How many engine sessions ended, by close reason ("ping timeout", "forced close"...).
type Endings = Arc<Mutex<BTreeMap<String, usize>>>;

fn ended(endings: &Endings) -> usize {
    endings.lock().unwrap().values().sum()
}

fn ended_for(endings: &Endings, reason: &str) -> usize {
    endings.lock().unwrap().get(reason).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_handshakes_is_answered_and_reaped() {
    let _serial = SERIAL.lock().await;
    // The heartbeat reaps the polling sessions (about 3.5 s after their handshake) well
    // before the connect timeout would; the WebSockets answer pings, so only the connect
    // timeout can close them.
    let ping_interval = Duration::from_secs(2);
    let ping_timeout = Duration::from_millis(1500);
    let connect_timeout = Duration::from_secs(6);
    let engine = EngineConfig::default()
        .ping_interval(ping_interval)
        .ping_timeout(ping_timeout);
    let builder = Io::builder()
        .engine(engine)
        .connect_timeout(connect_timeout);
    let hostile = Hostile::start(builder).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let engine = hostile.io().engine().clone();
    let rss = RssWatch::start("handshake flood");
    let endings = Endings::default();
    // Counts how a session ends, from its handle.
    macro_rules! watch {
        ($socket:expr) => {{
            let socket = $socket.expect("a session ended before its handshake was answered");
            let endings = endings.clone();
            tokio::spawn(async move {
                let reason = socket.closed().await.to_string();
                *endings.lock().unwrap().entry(reason).or_default() += 1;
            });
        }};
    }
    let peak_sessions = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (engine, peak) = (engine.clone(), peak_sessions.clone());
        tokio::spawn(async move {
            loop {
                peak.fetch_max(engine.session_count(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();

    // 3 000 polling handshakes that never poll.
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut handshakes = JoinSet::new();
    let target = format!(
        "{}?EIO=4&transport=polling",
        hostile.io().config().engine.path
    );
    for _ in 0..POLLING {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (addr, target) = (hostile.addr(), target.clone());
        handshakes.spawn(async move {
            let at = Instant::now();
            let response = http_request(addr, Method::GET, &target, &[], Bytes::new()).await;
            drop(permit);
            (at.elapsed(), response.expect("a handshake failed"))
        });
    }
    let mut polling_latency = Vec::new();
    while let Some(done) = handshakes.join_next().await {
        let (latency, response) = done.unwrap();
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let open: serde_json::Value =
            serde_json::from_str(response.text().strip_prefix('0').expect("no open packet"))
                .unwrap();
        watch!(engine.socket(open["sid"].as_str().unwrap()));
        polling_latency.push(latency);
    }
    let polling_done = started.elapsed();
    let polling_rss = hostile_common::rss_kib();

    // 500 WebSockets that never join a namespace, from a bare client with small buffers (the
    // test kit's takes 128 KiB each, which would hide the server's figures) that answers pings.
    let mut opening = JoinSet::new();
    for _ in 0..WEBSOCKETS {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (addr, path) = (hostile.addr(), hostile.io().config().engine.path.clone());
        opening.spawn(async move {
            let at = Instant::now();
            let client = RawWs::connect(addr, &path).await;
            drop(permit);
            (at.elapsed(), client)
        });
    }
    let mut clients = Vec::new();
    let mut ws_latency = Vec::new();
    while let Some(done) = opening.join_next().await {
        let (latency, client) = done.unwrap();
        watch!(engine.socket(&client.sid));
        ws_latency.push(latency);
        clients.push(client.answer_pings());
    }
    let flood_done = started.elapsed();
    let flood_rss = hostile_common::rss_kib();
    bystanders.keep_going().await;

    polling_latency.sort();
    ws_latency.sort();
    println!(
        "{POLLING} polling handshakes in {polling_done:?}, {WEBSOCKETS} websockets by \
         {flood_done:?}; latency p50/p99/max: polling {:?}/{:?}/{:?}, websocket {:?}/{:?}/{:?}; \
         peak sessions {}; RSS {} KiB before, {polling_rss} KiB after the polling \
         handshakes, {flood_rss} KiB after the websockets",
        percentile(&polling_latency, 0.5),
        percentile(&polling_latency, 0.99),
        polling_latency.last().unwrap(),
        percentile(&ws_latency, 0.5),
        percentile(&ws_latency, 0.99),
        ws_latency.last().unwrap(),
        peak_sessions.load(Ordering::Relaxed),
        rss.base(),
    );
    // "Quickly": no handshake waited anywhere near a timeout, even on a loaded machine.
    assert!(*polling_latency.last().unwrap() < Duration::from_secs(5));
    assert!(*ws_latency.last().unwrap() < Duration::from_secs(5));

    // Everything is reaped: the polling sessions by the heartbeat (no pong), the WebSockets by
    // the connect timeout (before their first ping is due); only the bystanders are left.
    let reap_by = ping_interval + ping_timeout + connect_timeout + WAIT;
    hostile
        .sessions_back_to(bystanders.sessions(), reap_by)
        .await;
    let reaped = started.elapsed();
    for client in clients {
        within(WAIT, client).await.unwrap();
    }
    within(WAIT, async {
        while ended(&endings) < POLLING + WEBSOCKETS {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    println!(
        "all reaped {reaped:?} after the flood started: {:?}",
        endings.lock().unwrap()
    );
    assert_eq!(ended_for(&endings, "ping timeout"), POLLING);
    assert_eq!(ended_for(&endings, "forced close"), WEBSOCKETS);
    sampler.abort();

    bystanders.finish().await;
    hostile.sessions_back_to(0, WAIT).await;
    rss.assert_growth_below(FLOOD_BOUND);
}

// More worker threads than cores: handshakes race each other between the check of the limit
// and the registration of the session (with 2, the scheduler rarely interleaves them).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn handshakes_past_max_sessions_get_503_even_when_they_come_at_once() {
    let _serial = SERIAL.lock().await;
    let max_sessions = 100;
    let engine = EngineConfig::default().max_sessions(max_sessions);
    let hostile = Hostile::start(Io::builder().engine(engine)).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let engine = hostile.io().engine().clone();
    let rss = RssWatch::start("max_sessions");
    let room = max_sessions - bystanders.sessions();

    // Ten times the room left, all at once, three in four of them WebSockets (whose session
    // is registered only after the 101, the widest window for a race).
    let attempts = room * 10;
    let mut handshakes = JoinSet::new();
    let path = hostile.io().config().engine.path.clone();
    for n in 0..attempts {
        let (addr, path) = (hostile.addr(), path.clone());
        handshakes.spawn(async move {
            if n % 4 == 0 {
                let target = format!("{path}?EIO=4&transport=polling");
                let response = http_request(addr, Method::GET, &target, &[], Bytes::new())
                    .await
                    .expect("a handshake failed");
                match response.status {
                    StatusCode::OK => Ok(None),
                    status => Err((status.as_u16(), response.text())),
                }
            } else {
                RawWs::try_connect(addr, &path).await.map(Some)
            }
        });
    }
    let mut accepted = 0;
    let mut websockets = Vec::new();
    let mut refused = 0;
    while let Some(attempt) = handshakes.join_next().await {
        match attempt.unwrap() {
            Ok(websocket) => {
                accepted += 1;
                websockets.extend(websocket);
            }
            Err((status, body)) => {
                assert_eq!(status, 503, "{body}");
                assert_eq!(body, r#"{"code":3,"message":"Too many sessions"}"#);
                refused += 1;
            }
        }
    }
    println!(
        "{attempts} handshakes at once: {accepted} accepted ({} websockets), {refused} refused; \
         {} sessions open (max {max_sessions})",
        websockets.len(),
        engine.session_count()
    );
    assert!(engine.session_count() <= max_sessions);
    assert_eq!(accepted, room);
    bystanders.keep_going().await;

    // A session that ends makes room for one more.
    let leaving = websockets.pop().expect("no WebSocket was accepted");
    let sid = leaving.sid.clone();
    drop(leaving);
    hostile.gone(&sid).await;
    let mut client = TestClient::connect(&hostile.url()).await;
    client.connect_ns("/", None).await.unwrap();
    assert!(
        TestClient::builder(&hostile.url())
            .try_connect()
            .await
            .is_err()
    );

    bystanders.finish().await;
    // Mostly the ~1 000 connections in flight at once, counted on both ends.
    rss.assert_growth_below(64 * MIB);
}
