//! The client-benchmark driver for rust_socketio's async client (see bench/README.md):
//!
//!     bench-rust-socketio-client URL CLIENTS DURATION_S WARMUP_S [echo|burst|idle] [IN_FLIGHT]
//!
//! Connects CLIENTS clients (each its own Engine.IO connection over WebSocket) in this one
//! process, then each emits `echo` with a small payload and waits for the ack (10 s timeout),
//! in a closed loop (`echo`), or in IN_FLIGHT closed loops at once (`burst`, 16 unless given);
//! after the warm-up, for DURATION_S seconds, acks and their latencies are counted.
//! Prints one JSON line: acks, rate, p50/p99 latency, rss_before, rss_connected,
//! rss_per_client (bytes; VmRSS of /proc/self/status), rss_after, rss_after_per_client (after
//! the warm-up's echoes) and cpu_ns_per_ack (CPU time over the measured seconds per ack).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rust_socketio::TransportType;
use rust_socketio::asynchronous::ClientBuilder;
use serde_json::json;
use tokio::sync::mpsc;

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// CPU time this process has used, all threads, in nanoseconds (each thread's
/// `/proc/self/task/*/schedstat`).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let url = url.trim_end_matches("/socket.io/").to_owned();
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let duration: f64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(4.0);
    let warmup: f64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(0.5);
    let mode = args.get(5).map_or("echo", String::as_str);
    let idle = mode == "idle";
    let default_in_flight = if mode == "burst" { 16 } else { 1 };
    let in_flight: usize = args
        .get(6)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default_in_flight);

    let rss_before = rss();
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        let client = ClientBuilder::new(url.clone())
            .transport_type(TransportType::Websocket)
            .connect()
            .await
            .expect("connect");
        sockets.push(client);
    }
    // Let the namespace CONNECTs complete.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = rss();

    // 0: warm-up, 1: measuring, 2: stop.
    let phase = Arc::new(AtomicU8::new(0));
    let mut tasks = Vec::new();
    // Loops that ended on an error or on an ack that did not come within 10 s.
    let stalled = Arc::new(AtomicUsize::new(0));
    let (mut cpu_start, mut cpu_end) = (0, 0);
    // Taken after the warm-up's echoes, before any latency is recorded (100 clients' latency
    // vectors would weigh ~15 KiB per client by the end).
    let mut rss_after = rss_connected;
    if !idle {
        for client in sockets
            .iter()
            .flat_map(|c| std::iter::repeat_n(c, in_flight))
        {
            let client = client.clone();
            let phase = Arc::clone(&phase);
            let stalled = Arc::clone(&stalled);
            tasks.push(tokio::spawn(async move {
                let (tx, mut rx) = mpsc::unbounded_channel::<()>();
                let mut latencies = Vec::new();
                while phase.load(Ordering::Relaxed) < 2 {
                    let tx = tx.clone();
                    let start = Instant::now();
                    let sent = client
                        .emit_with_ack(
                            "echo",
                            json!({"m": "hello"}),
                            Duration::from_secs(10),
                            move |_payload, _client| {
                                let tx = tx.clone();
                                async move {
                                    let _ = tx.send(());
                                }
                                .boxed()
                            },
                        )
                        .await;
                    // rust_socketio calls no callback when the timeout passes: the wait
                    // is bounded here.
                    let acked = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
                    if sent.is_err() || !matches!(acked, Ok(Some(()))) {
                        stalled.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    if phase.load(Ordering::Relaxed) == 1 {
                        latencies.push(start.elapsed().as_secs_f64() * 1e3);
                    }
                }
                latencies
            }));
        }
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
        rss_after = rss();
        phase.store(1, Ordering::Relaxed);
        cpu_start = cpu_ns();
        tokio::time::sleep(Duration::from_secs_f64(duration)).await;
        phase.store(2, Ordering::Relaxed);
        cpu_end = cpu_ns();
    }
    let mut all = Vec::new();
    for task in tasks {
        if let Ok(Ok(latencies)) = tokio::time::timeout(Duration::from_secs(10), task).await {
            all.extend(latencies);
        }
    }
    all.sort_by(f64::total_cmp);
    let acks = all.len();
    println!(
        "{}",
        json!({
            "client": "rust_socketio",
            "clients": clients,
            "in_flight": in_flight,
            "stalled": stalled.load(Ordering::Relaxed),
            "acks": acks,
            "rate": acks as f64 / duration,
            "p50_ms": percentile(&all, 0.5),
            "p99_ms": percentile(&all, 0.99),
            "rss_before": rss_before,
            "rss_connected": rss_connected,
            "rss_per_client": rss_connected.saturating_sub(rss_before) as f64 / clients.max(1) as f64,
        "rss_after": rss_after,
        "rss_after_per_client": rss_after.saturating_sub(rss_before) as f64 / clients.max(1) as f64,
        "cpu_ns_per_ack": cpu_end.saturating_sub(cpu_start) as f64 / acks.max(1) as f64,
        })
    );
    std::process::exit(0);
}
