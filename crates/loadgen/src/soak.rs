//! The soak scenario: for `duration`, up to N clients keep cycling through whole sessions
//! (connect, join a room, a few `echo`s with acks, sometimes a `fanout`, leave cleanly or drop
//! the TCP connection), while the server's RSS, the live client count and the server's session
//! count (`GET /stats` → `{"sessions":N}`, when the server has it) are sampled. At the end every
//! client stops and the server's session count must come back to zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::client::{Target, Ws, ack_args, call, call_text, connect_ws, echo_text, get, within};
use crate::report::group;
use crate::scenarios::same_args;
use crate::stats::{Counter, Latencies, rss_kib};
use crate::{Config, Report, Scenario};

/// Rooms the soak clients spread over (`soak-0` ...).
const ROOMS: usize = 64;

/// One sample taken during a soak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoakSample {
    /// Seconds since the soak started.
    pub secs: f64,
    /// Clients connected at that moment (the load generator's count).
    pub live_clients: u64,
    /// The server's RSS, KiB (with its PID).
    pub rss_kib: Option<u64>,
    /// The server's own session count (from `GET /stats`, when it serves that).
    pub sessions: Option<u64>,
    /// Sessions completed so far.
    pub cycles: u64,
    /// Errors so far.
    pub errors: u64,
}

/// What a soak saw, beyond the common report fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakSummary {
    /// The samples, in order; the last one is taken after every client stopped and the
    /// server's sessions drained (or the drain timeout passed).
    pub samples: Vec<SoakSample>,
    /// Sessions that ended with a Socket.IO disconnect and a WebSocket close.
    pub clean_leaves: u64,
    /// Sessions that ended by dropping the TCP connection.
    pub abrupt_drops: u64,
    /// `echo` acks received.
    pub echoes: u64,
    /// `fanout` acks received.
    pub fanouts: u64,
    /// The server's session count after the clients stopped (`None`: no `/stats`).
    pub sessions_after: Option<u64>,
    /// Seconds from the clients stopping to the server's session count reaching zero.
    pub drained_secs: Option<f64>,
    /// The first few errors, as text.
    pub error_examples: Vec<String>,
}

struct Shared {
    target: Target,
    clients: usize,
    deadline: Instant,
    timeout: Duration,
    permits: Semaphore,
    live: AtomicU64,
    cycles: Counter,
    errors: Counter,
    echoes: Counter,
    fanouts: Counter,
    clean: Counter,
    abrupt: Counter,
    latencies: Latencies,
    examples: std::sync::Mutex<Vec<String>>,
}

impl Shared {
    fn error(&self, error: String) {
        self.errors.add(1);
        let mut examples = self.examples.lock().unwrap_or_else(|p| p.into_inner());
        if examples.len() < 10 {
            examples.push(error);
        }
    }
}

/// A small xorshift generator: enough to vary the clients' behaviour.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        Rng((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from + 1))
    }
}

/// A count with thousands separators (integers only, unlike [`group`] below 100).
fn count(n: u64) -> String {
    if n < 100 {
        n.to_string()
    } else {
        group(n as f64)
    }
}

/// The server's session count from `GET /stats`, `None` when it does not serve that.
pub(crate) async fn server_sessions(target: &Target) -> Option<u64> {
    let (status, body) = within(Duration::from_secs(2), "stats", get(target, "/stats"))
        .await
        .ok()?;
    if !status.is_success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    value.get("sessions")?.as_u64()
}

pub(crate) async fn soak(config: &Config) -> crate::client::Result<Report> {
    let target = Target::resolve(config).await?;
    let clients = config.clients(Scenario::Soak);
    let started = Instant::now();
    let shared = Arc::new(Shared {
        target: target.clone(),
        clients,
        deadline: started + config.duration,
        timeout: config.timeout,
        permits: Semaphore::new(config.concurrency.max(1)),
        live: AtomicU64::new(0),
        cycles: Counter::default(),
        errors: Counter::default(),
        echoes: Counter::default(),
        fanouts: Counter::default(),
        clean: Counter::default(),
        abrupt: Counter::default(),
        latencies: Latencies::new(),
        examples: std::sync::Mutex::new(Vec::new()),
    });
    let stats_served = server_sessions(&target).await.is_some();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut set = JoinSet::new();
    for slot in 0..clients {
        set.spawn(client(slot, shared.clone(), stop_rx.clone()));
    }

    let sample = |samples: &mut Vec<SoakSample>, sessions: Option<u64>| {
        let point = SoakSample {
            secs: started.elapsed().as_secs_f64(),
            live_clients: shared.live.load(Ordering::Relaxed),
            rss_kib: config.server_pid.and_then(rss_kib),
            sessions,
            cycles: shared.cycles.get(),
            errors: shared.errors.get(),
        };
        eprintln!(
            "{} soak {:>6.0}s  live {:>7}  rss {:>10}  sessions {:>7}  cycles {:>9}  errors {}",
            config.label,
            point.secs,
            count(point.live_clients),
            point
                .rss_kib
                .map_or_else(|| "-".to_owned(), |k| format!("{} KiB", count(k))),
            point.sessions.map_or_else(|| "-".to_owned(), count),
            count(point.cycles),
            point.errors,
        );
        samples.push(point);
    };

    let every = config.sample_every.max(Duration::from_millis(100));
    let mut samples = Vec::new();
    let mut next = started + every;
    while next < shared.deadline {
        tokio::time::sleep_until(next.into()).await;
        let sessions = if stats_served {
            server_sessions(&target).await
        } else {
            None
        };
        sample(&mut samples, sessions);
        next += every;
    }
    tokio::time::sleep_until(shared.deadline.into()).await;

    // Stop: every client leaves (each leave is bounded by the timeout).
    let _ = stop_tx.send(true);
    let stopped = Instant::now();
    let limit = stopped + config.timeout * 2 + Duration::from_secs(5);
    while let Ok(Some(done)) = tokio::time::timeout_at(limit.into(), set.join_next()).await {
        if let Err(error) = done {
            shared.error(format!("client task: {error}"));
        }
    }
    if !set.is_empty() {
        shared.error(format!("{} clients did not stop in time", set.len()));
        set.abort_all();
    }
    let cycle_secs = stopped.duration_since(started).as_secs_f64();

    // Wait for the server to drop every session.
    let mut sessions_after = None;
    let mut drained_secs = None;
    if stats_served {
        let drain_end = Instant::now() + config.drain;
        loop {
            let now = server_sessions(&target).await;
            sessions_after = now.or(sessions_after);
            if now == Some(0) {
                drained_secs = Some(stopped.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() >= drain_end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sample(&mut samples, sessions_after);

    let mut report = Report::new(Scenario::Soak, config, "sessions/s");
    report.seconds = cycle_secs;
    report.ops = shared.cycles.get();
    report.rate = report.ops as f64 / cycle_secs.max(0.001);
    report.latency = shared.latencies.summary();
    report.errors = shared.errors.get();
    if let Some(n) = sessions_after.filter(|&n| n != 0) {
        report.failure = Some(format!(
            "the server still had {n} sessions {:.0?} after the clients stopped",
            config.drain
        ));
    }
    report.soak = Some(SoakSummary {
        samples,
        clean_leaves: shared.clean.get(),
        abrupt_drops: shared.abrupt.get(),
        echoes: shared.echoes.get(),
        fanouts: shared.fanouts.get(),
        sessions_after,
        drained_secs,
        error_examples: shared
            .examples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
    });
    Ok(report)
}

/// One client slot: sessions one after another until the deadline or the stop signal.
async fn client(slot: usize, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut rng = Rng::new(slot as u64 + 1);
    // Spread the first connections over the first seconds instead of one storm.
    let ramp = (shared.clients as u64 / 2).clamp(1, 5_000);
    tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        () = tokio::time::sleep(Duration::from_millis(rng.below(ramp))) => {}
    }
    let mut cycle = 0usize;
    while Instant::now() < shared.deadline && !*stop.borrow() {
        cycle += 1;
        let source = slot + cycle * shared.clients;
        let connected = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            connected = async {
                let _permit = shared.permits.acquire().await;
                within(shared.timeout, "connect", connect_ws(&shared.target, source, 512, None)).await
            } => connected,
        };
        let mut ws = match connected {
            Ok(ws) => ws,
            Err(error) => {
                shared.error(error);
                tokio::time::sleep(rng.millis(200, 1_000)).await;
                continue;
            }
        };
        shared.live.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::select! {
            _ = stop.wait_for(|s| *s) => Ok(()),
            outcome = session(&mut ws, slot, &mut rng, &shared) => outcome,
        };
        let failed = outcome.is_err();
        if let Err(error) = outcome {
            shared.error(error);
        }
        // Leave: a quarter of the sessions (and every failed one) just drop the connection.
        if failed || rng.below(4) == 0 {
            drop(ws);
            shared.abrupt.add(1);
        } else {
            let closed = within(shared.timeout, "leave", async {
                crate::client::send_text(&mut ws, "41".to_owned()).await?;
                ws.close(None)
                    .await
                    .map_err(|e| format!("websocket close: {e}"))
            })
            .await;
            match closed {
                Ok(()) => shared.clean.add(1),
                Err(error) => shared.error(error),
            }
        }
        shared.live.fetch_sub(1, Ordering::Relaxed);
        if !failed {
            shared.cycles.add(1);
        }
    }
}

/// One session's traffic after connecting: join, a few echoes, sometimes a fan-out, a pause.
async fn session(
    ws: &mut Ws,
    slot: usize,
    rng: &mut Rng,
    shared: &Shared,
) -> crate::client::Result<()> {
    let room = format!("\"soak-{}\"", slot % ROOMS);
    within(shared.timeout, "join", call(ws, 1, "join", &room)).await?;
    let mut text = String::with_capacity(128);
    let mut batch = shared.latencies.batch();
    let echoes = 2 + rng.below(4);
    let fanout_at = (rng.below(4) == 0).then(|| 2 + rng.below(echoes));
    for id in 2..2 + echoes {
        tokio::time::sleep(rng.millis(50, 300)).await;
        let arg = echo_text(&mut text, "42", id, slot);
        let sent = Instant::now();
        let ack = within(shared.timeout, "echo", call_text(ws, id, text.clone())).await?;
        batch.record(sent.elapsed());
        if !same_args(ack_args(&ack), &text[arg]) {
            return Err(format!("echo ack mismatch: {ack}"));
        }
        shared.echoes.add(1);
        if fanout_at == Some(id) {
            let fid = 100 + id;
            let arg =
                format!("{{\"room\":{room},\"payload\":{{\"t\":0,\"s\":{slot},\"p\":\"soak\"}}}}");
            within(shared.timeout, "fanout", call(ws, fid, "fanout", &arg)).await?;
            shared.fanouts.add(1);
        }
    }
    batch.flush();
    tokio::time::sleep(rng.millis(0, 1_500)).await;
    Ok(())
}
