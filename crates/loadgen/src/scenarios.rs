//! The scenarios. Each connects its clients first, then measures over a fixed window after a
//! warm-up; every loop is bounded by that window (plus a drain timeout), so a run always ends.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use indicatif::{ProgressBar, ProgressStyle};
use sockeye_engineio_proto::{Frame, Str};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{
    In, Polling, Result, Target, Ws, ack_args, ack_id, call, call_text, connect_ws, echo_text_with,
    pong, recv, recv_burst, within,
};
use crate::deflate::DeflateCounts;
use crate::report::DeflateReport;
use crate::report::group;
use crate::stats::{Counter, CpuMeter, Latencies, Window, rss_kib};
use crate::{Config, Report, Scenario};

const ROOM: &str = "bench-room";

// ---- progress ----

fn bar(config: &Config, len: u64, prefix: &str) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg}")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(len).with_style(style);
    bar.set_prefix(format!("{} {prefix}", config.label));
    bar
}

/// Shows the measurement's progress and its live rate until aborted.
pub(crate) fn ticker(
    config: &Config,
    scenario: Scenario,
    window: Window,
    counter: Counter,
    unit: &'static str,
    scale: f64,
) -> tokio::task::JoinHandle<()> {
    let total_ms = (window.end - Instant::now()).as_millis() as u64;
    let bar = bar(config, total_ms, scenario.name());
    tokio::spawn(async move {
        let mut last = (Instant::now(), counter.get());
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let count = counter.get();
            let rate = (count - last.1) as f64 * scale / (now - last.0).as_secs_f64();
            last = (now, count);
            bar.set_position(
                total_ms
                    .saturating_sub((window.end.saturating_duration_since(now)).as_millis() as u64),
            );
            let phase = if now < window.start {
                "warm-up"
            } else {
                "measuring"
            };
            bar.set_message(format!("{phase} {} {unit}", group(rate)));
            if now >= window.end {
                bar.finish_and_clear();
                return;
            }
        }
    })
}

// ---- connecting ----

/// Opens `count` WebSocket clients (joining the bench room with `join`), `concurrency` at a time;
/// client `n` connects to `targets[n % targets.len()]`.
async fn connect_all(
    targets: &[Target],
    config: &Config,
    count: usize,
    read_buffer: usize,
    join: bool,
    deflate: Option<&Arc<DeflateCounts>>,
) -> Result<Vec<Ws>> {
    let bar = bar(config, count as u64, "connecting");
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut set = JoinSet::new();
    let mut clients = Vec::with_capacity(count);
    let mut failure = None;
    for n in 0..count {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let target = targets[n % targets.len()].clone();
        let timeout = config.timeout;
        let deflate = deflate.cloned();
        set.spawn(async move {
            let result = within(timeout, "connect", async {
                let mut ws = connect_ws(&target, n, read_buffer, deflate.as_ref()).await?;
                if join {
                    call(&mut ws, 1, "join", &format!("\"{ROOM}\"")).await?;
                }
                Ok((n, ws))
            })
            .await;
            drop(permit);
            result
        });
        while let Some(done) = set.try_join_next() {
            collect(done, &mut clients, &mut failure, &bar);
        }
    }
    while let Some(done) = set.join_next().await {
        collect(done, &mut clients, &mut failure, &bar);
    }
    bar.finish_and_clear();
    if let Some(failure) = failure {
        return Err(format!(
            "{failure} ({} of {count} clients connected)",
            clients.len()
        ));
    }
    clients.sort_by_key(|(n, _)| *n);
    Ok(clients.into_iter().map(|(_, ws)| ws).collect())
}

fn collect<T>(
    done: std::result::Result<Result<T>, tokio::task::JoinError>,
    into: &mut Vec<T>,
    failure: &mut Option<String>,
    bar: &ProgressBar,
) {
    match done {
        Ok(Ok(value)) => {
            into.push(value);
            bar.inc(1);
        }
        Ok(Err(error)) => {
            failure.get_or_insert(error);
        }
        Err(error) => {
            failure.get_or_insert(error.to_string());
        }
    }
}

/// Measures CPU over the window, in the background.
pub(crate) fn cpu_over(
    window: Window,
    pid: Option<u32>,
) -> tokio::task::JoinHandle<(Option<f64>, Option<f64>)> {
    cpu_over_all(window, pid.into_iter().collect())
}

/// Measures the CPU of all of `pids` together over the window, in the background.
fn cpu_over_all(
    window: Window,
    pids: Vec<u32>,
) -> tokio::task::JoinHandle<(Option<f64>, Option<f64>)> {
    tokio::spawn(async move {
        tokio::time::sleep_until(window.start.into()).await;
        let meter = CpuMeter::start_all(pids);
        tokio::time::sleep_until(window.end.into()).await;
        meter.stop()
    })
}

/// Waits for every client task; the first failure fails the scenario.
pub(crate) async fn finish(mut set: JoinSet<Result<()>>) -> Result<()> {
    let mut failure = None;
    while let Some(done) = set.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                failure.get_or_insert(error);
            }
            Err(error) => {
                failure.get_or_insert(error.to_string());
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

// ---- echo (WebSocket, JSON or binary) ----

/// `scenario`: [`Scenario::Echo`], [`Scenario::BinaryEcho`], [`Scenario::Echo4k`] or
/// [`Scenario::EchoDeflate`].
pub(crate) async fn echo(config: &Config, scenario: Scenario) -> Result<Report> {
    let binary = scenario == Scenario::BinaryEcho;
    let msg: Arc<str> = match scenario {
        Scenario::Echo4k | Scenario::EchoDeflate => update_text().into(),
        _ => "hello from sockeye bench".into(),
    };
    let deflate = (scenario == Scenario::EchoDeflate).then(|| Arc::new(DeflateCounts::default()));
    let target = Target::resolve(config).await?;
    let clients = config.clients(scenario);
    // Small messages: a small codec buffer (tungstenite zero-fills what it reads into); 64 KiB
    // messages: one that takes a whole message at once; 4 KiB ones, one that takes it at once.
    let read_buffer = match scenario {
        Scenario::BinaryEcho => 64 * 1024 + 16,
        Scenario::Echo4k | Scenario::EchoDeflate => 8 * 1024,
        _ => 128,
    };
    let conns = connect_all(
        &[target],
        config,
        clients,
        read_buffer,
        false,
        deflate.as_ref(),
    )
    .await?;

    let window = Window::after(config.warmup, config.duration);
    let latencies = Latencies::new();
    let acks = Counter::default();
    let errors = Counter::default();
    let blob = binary.then(|| {
        Bytes::from(
            (0..config.binary_size)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
        )
    });
    let cpu = cpu_over(window, config.server_pid);
    let scale = if binary {
        config.binary_size as f64 / (1024.0 * 1024.0)
    } else {
        1.0
    };
    let unit = if binary { "MiB/s" } else { "acks/s" };
    let ticker = ticker(config, scenario, window, acks.clone(), unit, scale);
    let mut set = JoinSet::new();
    for (n, ws) in conns.into_iter().enumerate() {
        let client = EchoClient {
            n,
            window,
            msg: msg.clone(),
            blob: blob.clone(),
            latencies: latencies.clone(),
            acks: acks.clone(),
            errors: errors.clone(),
            timeout: config.timeout,
        };
        set.spawn(client.run(ws));
    }
    let outcome = finish(set).await;
    ticker.abort();
    outcome?;
    let (loadgen_cpu, server_cpu) = cpu.await.unwrap_or((None, None));

    let mut report = Report::new(scenario, config, unit);
    report.seconds = config.duration.as_secs_f64();
    report.ops = acks.get();
    report.rate = report.ops as f64 * scale / report.seconds;
    report.latency = latencies.summary();
    report.errors = errors.get();
    report.loadgen_cpu = loadgen_cpu;
    report.server_cpu = server_cpu;
    if let Some(counts) = deflate {
        let deflate = DeflateReport::from(&*counts);
        // Agreed is not enough: the server must have compressed its acks (4 KiB, over any
        // threshold up to that).
        if deflate.compressed_in == 0 {
            return Err(format!(
                "permessage-deflate was agreed on {} connections but the server compressed no message",
                deflate.accepted
            ));
        }
        report.deflate = Some(deflate);
    }
    Ok(report)
}

struct EchoClient {
    n: usize,
    window: Window,
    /// The `msg` of each JSON echo.
    msg: Arc<str>,
    blob: Option<Bytes>,
    latencies: Latencies,
    acks: Counter,
    errors: Counter,
    timeout: Duration,
}

impl EchoClient {
    async fn run(self, mut ws: Ws) -> Result<()> {
        let mut batch = self.latencies.batch();
        let mut text = String::with_capacity(128);
        let mut id = 0u64;
        // One timer per client, moved only when it fires early: a timeout per echo would
        // cost the load generator two timer-wheel updates per operation.
        let timer = tokio::time::sleep(self.timeout);
        tokio::pin!(timer);
        loop {
            id += 1;
            let sent = Instant::now();
            if sent >= self.window.end {
                return Ok(());
            }
            let once = self.once(&mut ws, id, &mut text);
            tokio::pin!(once);
            let ok = loop {
                tokio::select! {
                    biased;
                    ok = &mut once => break ok?,
                    () = &mut timer => {
                        if sent.elapsed() >= self.timeout {
                            return Err(format!("echo: no answer within {:?}", self.timeout));
                        }
                        timer.as_mut().reset((sent + self.timeout).into());
                    }
                }
            };
            let done = Instant::now();
            if !ok {
                self.errors.add(1);
            }
            if self.window.contains(done) {
                self.acks.add(1);
                batch.record(done - sent);
            }
        }
    }

    /// One echo and its ack; `false` when the ack did not carry the argument back.
    async fn once(&self, ws: &mut Ws, id: u64, text: &mut String) -> Result<bool> {
        let Some(blob) = &self.blob else {
            let arg = echo_text_with(text, "42", id, self.n, &self.msg);
            let ack = call_text(ws, id, text.clone()).await?;
            return Ok(same_args(ack_args(&ack), &text[arg]));
        };
        binary_echo(ws, id, blob).await
    }
}

/// One `echo` of a binary argument and its ack; `false` when the ack did not carry the same
/// bytes back as binary.
async fn binary_echo(ws: &mut Ws, id: u64, blob: &Bytes) -> Result<bool> {
    // The packet and its attachment in one write.
    let packet = format!(r#"451-{id}["echo",{{"_placeholder":true,"num":0}}]"#);
    ws.feed(Message::text(packet))
        .await
        .map_err(|e| format!("websocket send: {e}"))?;
    ws.send(Message::Binary(blob.clone()))
        .await
        .map_err(|e| format!("websocket send: {e}"))?;
    let mut binary_ack = false;
    loop {
        match recv(ws).await? {
            In::Text(text) if ack_id(&text[1..]) == Some(id) => {
                if !text.starts_with("461-") {
                    // A text ack (`43`): the binary was not sent back as binary.
                    return Ok(false);
                }
                binary_ack = true;
            }
            In::Binary(data) if binary_ack => return Ok(data == *blob),
            In::Ping => pong(ws).await?,
            _ => {}
        }
    }
}

/// Whether an ack's arguments are exactly `[arg]`, by text or else by JSON value.
pub(crate) fn same_args(args: &str, arg: &str) -> bool {
    if args.len() == arg.len() + 2
        && args.starts_with('[')
        && args.ends_with(']')
        && &args[1..args.len() - 1] == arg
    {
        return true;
    }
    let parsed: Option<(serde_json::Value, serde_json::Value)> = (|| {
        Some((
            serde_json::from_str(args).ok()?,
            serde_json::from_str(&format!("[{arg}]")).ok()?,
        ))
    })();
    parsed.is_some_and(|(a, b)| a == b)
}

// ---- fan-out ----

/// The fan-out's flow control counts deliveries, not messages: a sender may send while fewer
/// than `window` messages' worth of deliveries are outstanding. Waiting instead for every member
/// to receive a message before its slot is reused made the run lock-step (the server idle while
/// the load generator read, and the other way round), so it measured the sum of the two rather
/// than the server.
struct FanState {
    members: u64,
    /// Deliveries outstanding at most: `window × members`.
    credit: u64,
    /// Messages sent (each is due `members` deliveries).
    seq: AtomicU64,
    /// Deliveries seen, in the window or not.
    delivered_total: AtomicU64,
    /// The sender sleeps until `delivered_total` reaches this (`u64::MAX`: nobody waits).
    wake_at: AtomicU64,
    wake: Notify,
    stopped: AtomicBool,
    base: Instant,
    window: Window,
    delivered: Counter,
    errors: Counter,
    latencies: Latencies,
    padding: String,
}

impl FanState {
    /// Messages a sender may send now.
    fn sendable(&self) -> u64 {
        let due = self.seq.load(Ordering::Acquire) * self.members;
        let outstanding = due.saturating_sub(self.delivered_total.load(Ordering::Acquire));
        self.credit.saturating_sub(outstanding) / self.members
    }

    /// Waits until a sender may send at least a quarter of the window (sending in batches
    /// costs both sides fewer system calls than one message per delivery freed).
    async fn credit(&self) {
        loop {
            let notified = self.wake.notified();
            if self.stopped.load(Ordering::Acquire) {
                return std::future::pending().await;
            }
            let quarter = (self.credit / self.members / 4).max(1);
            if self.sendable() >= quarter {
                return;
            }
            let due = self.seq.load(Ordering::Acquire) * self.members;
            let goal = (due + quarter * self.members).saturating_sub(self.credit);
            self.wake_at.store(goal, Ordering::Release);
            // A delivery between the check and the store would not have woken us.
            if self.delivered_total.load(Ordering::Acquire) >= goal {
                self.wake_at.store(u64::MAX, Ordering::Release);
                continue;
            }
            notified.await;
        }
    }

    /// `n` more deliveries seen: wakes the sender once they reach what it waits for.
    fn on_deliveries(&self, n: u64) {
        if n == 0 {
            return;
        }
        let total = self.delivered_total.fetch_add(n, Ordering::AcqRel) + n;
        if total >= self.wake_at.load(Ordering::Acquire) {
            self.wake_at.store(u64::MAX, Ordering::Release);
            self.wake.notify_one();
        }
    }
}

/// The fan-out, on one server ([`Scenario::Fanout`]) or with its clients split over the nodes
/// of a cluster ([`Scenario::ClusterFanout`]: client `n` on node `n % nodes`, so the senders,
/// the first clients, sit on the first nodes and every message also crosses the adapter).
pub(crate) async fn fanout(config: &Config, scenario: Scenario) -> Result<Report> {
    let mut targets = vec![Target::resolve(config).await?];
    let mut pids: Vec<u32> = config.server_pid.into_iter().collect();
    if scenario == Scenario::ClusterFanout {
        if config.nodes.is_empty() {
            return Err("cluster-fanout needs the other nodes' URLs (--node URL)".to_owned());
        }
        for url in &config.nodes {
            targets.push(Target::resolve_url(config, url).await?);
        }
        // The servers' CPU is only meaningful for the whole cluster.
        if pids.is_empty() || config.node_pids.len() != config.nodes.len() {
            pids.clear();
        } else {
            pids.extend(&config.node_pids);
        }
    }
    let clients = config.clients(scenario);
    let senders = config.senders.clamp(1, clients);
    let window_size = config.window.max(1) as u64;
    let conns = connect_all(&targets, config, clients, 2 * 1024, true, None).await?;

    let window = Window::after(config.warmup, config.duration);
    let members = clients as u64;
    let state = Arc::new(FanState {
        members,
        credit: window_size * members,
        seq: AtomicU64::new(0),
        delivered_total: AtomicU64::new(0),
        wake_at: AtomicU64::new(u64::MAX),
        wake: Notify::new(),
        stopped: AtomicBool::new(false),
        base: Instant::now(),
        window,
        delivered: Counter::default(),
        errors: Counter::default(),
        latencies: Latencies::new(),
        padding: "x".repeat(config.payload),
    });
    let (done_tx, done_rx) = watch::channel(false);
    let cpu = cpu_over_all(window, pids);
    let ticker = ticker(
        config,
        scenario,
        window,
        state.delivered.clone(),
        "deliveries/s",
        1.0,
    );
    let mut set = JoinSet::new();
    for (n, ws) in conns.into_iter().enumerate() {
        set.spawn(fan_member(ws, n < senders, state.clone(), done_rx.clone()));
    }

    // Senders stop at the end of the window; then the messages in flight get a little time
    // to arrive before the rest count as lost.
    tokio::time::sleep_until(window.end.into()).await;
    state.stopped.store(true, Ordering::Release);
    state.wake.notify_waiters();
    let drain_until = Instant::now() + Duration::from_secs(3);
    let expected = |state: &FanState| state.seq.load(Ordering::Acquire) * state.members;
    while state.delivered_total.load(Ordering::Acquire) < expected(&state)
        && Instant::now() < drain_until
    {
        if set.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = done_tx.send(true);
    let outcome = finish(set).await;
    ticker.abort();
    outcome?;
    let (loadgen_cpu, server_cpu) = cpu.await.unwrap_or((None, None));

    let mut report = Report::new(scenario, config, "deliveries/s");
    report.seconds = config.duration.as_secs_f64();
    report.ops = state.delivered.get();
    report.rate = report.ops as f64 / report.seconds;
    report.latency = state.latencies.summary();
    report.errors = state.errors.get();
    report.lost =
        Some(expected(&state).saturating_sub(state.delivered_total.load(Ordering::Acquire)));
    report.loadgen_cpu = loadgen_cpu;
    report.server_cpu = server_cpu;
    Ok(report)
}

async fn fan_member(
    mut ws: Ws,
    sender: bool,
    state: Arc<FanState>,
    mut done: watch::Receiver<bool>,
) -> Result<()> {
    let mut reader = FanReader {
        state: &state,
        batch: state.latencies.batch(),
    };
    let mut id = 1u64;
    let mut out = String::new();
    // One future for the whole run: a new `changed()` every round would add a waiter to the
    // channel's list and take it off again for every burst.
    let stop = done.changed();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return Ok(()),
            ping = reader.read(&mut ws) => if ping? {
                pong(&mut ws).await?;
            },
            () = state.credit(), if sender => {
                // Its deliveries are counted before anyone can receive it.
                for _ in 0..state.sendable() {
                    let seq = state.seq.fetch_add(1, Ordering::AcqRel);
                    id += 1;
                    let t = state.base.elapsed().as_nanos();
                    out.clear();
                    let _ = write!(
                        out,
                        r#"42{id}["fanout",{{"room":"{ROOM}","payload":{{"t":{t},"s":{seq},"p":"{}"}}}}]"#,
                        state.padding
                    );
                    ws.feed(Message::text(out.as_str()))
                        .await
                        .map_err(|e| format!("websocket send: {e}"))?;
                }
                ws.flush().await.map_err(|e| format!("websocket send: {e}"))?;
            },
        }
    }
}

/// A member's counting of the `fan` messages it receives.
struct FanReader<'a> {
    state: &'a FanState,
    batch: crate::stats::Batch,
}

/// Deliveries in a burst that share one reading of the clock (they were read together: the
/// later ones' latency is over-counted by the time it takes to count the earlier ones).
const CLOCK_EVERY: u32 = 32;

impl FanReader<'_> {
    /// Counts the burst of messages that has arrived (see [`recv_burst`]); `true` for a ping.
    /// The shared counters are added to once per burst, not once per delivery.
    async fn read(&mut self, ws: &mut Ws) -> Result<bool> {
        let state = self.state;
        let batch = &mut self.batch;
        let (mut counted, mut total) = (0u64, 0u64);
        let mut now = state.base;
        let mut clock_uses = 0u32;
        let mut on_text = |text: &str| {
            if !text.starts_with("42[\"fan\"") {
                return;
            }
            let Some(t) = field_u64(text, b"\"t\":") else {
                state.errors.add(1);
                return;
            };
            if clock_uses == 0 {
                now = Instant::now();
            }
            clock_uses = (clock_uses + 1) % CLOCK_EVERY;
            total += 1;
            if state.window.contains(now) {
                counted += 1;
                let elapsed = now.duration_since(state.base).as_nanos() as u64;
                batch.record(Duration::from_nanos(elapsed.saturating_sub(t)));
            }
        };
        let ping = recv_burst(ws, &mut on_text).await;
        state.delivered.add(counted);
        state.on_deliveries(total);
        ping
    }
}

/// The unsigned integer right after `key` in `text`.
fn field_u64<const N: usize>(text: &str, key: &[u8; N]) -> Option<u64> {
    // A plain scan with a key of known length: the key sits near the start, where building a
    // substring searcher for every message would cost more than the search itself.
    let hay = text.as_bytes();
    let at = hay.windows(N).position(|w| w == key)?;
    let mut digits = hay[at + N..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .peekable();
    digits.peek()?;
    digits.try_fold(0u64, |n, &b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

// ---- long-polling echo ----

/// A 4 KiB message like a chat or dashboard update, as compressible as such text is.
fn update_text() -> String {
    let mut text = String::with_capacity(4200);
    let mut n = 0u32;
    while text.len() < 4096 {
        n += 1;
        text.push_str(&format!(
            "user {} moved to ({},{}) in room lobby-{}; ",
            n * 7919 % 1000,
            n * 31 % 640,
            n * 17 % 480,
            n % 8
        ));
    }
    text
}

pub(crate) async fn polling_echo(config: &Config, gzip: bool) -> Result<Report> {
    let scenario = if gzip {
        Scenario::PollingGzip
    } else {
        Scenario::PollingEcho
    };
    let msg: Arc<str> = if gzip {
        update_text().into()
    } else {
        "hello from sockeye bench".into()
    };
    let target = Target::resolve(config).await?;
    let clients = config.clients(scenario);
    let bar = bar(config, clients as u64, "connecting");
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut set = JoinSet::new();
    for n in 0..clients {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let target = target.clone();
        let timeout = config.timeout;
        set.spawn(async move {
            let result = within(
                timeout,
                "polling connect",
                Polling::connect(&target, n * 2, gzip),
            )
            .await;
            drop(permit);
            result
        });
    }
    let mut conns = Vec::with_capacity(clients);
    let mut failure = None;
    while let Some(done) = set.join_next().await {
        collect(done, &mut conns, &mut failure, &bar);
    }
    bar.finish_and_clear();
    if let Some(failure) = failure {
        return Err(failure);
    }

    let window = Window::after(config.warmup, config.duration);
    let latencies = Latencies::new();
    let acks = Counter::default();
    let errors = Counter::default();
    let (wire, decoded) = (Counter::default(), Counter::default());
    let cpu = cpu_over(window, config.server_pid);
    let ticker = ticker(config, scenario, window, acks.clone(), "acks/s", 1.0);
    let mut set = JoinSet::new();
    for (n, conn) in conns.into_iter().enumerate() {
        let (latencies, acks, errors) = (latencies.clone(), acks.clone(), errors.clone());
        let (wire, decoded, msg) = (wire.clone(), decoded.clone(), msg.clone());
        let timeout = config.timeout;
        set.spawn(async move {
            let mut conn = conn;
            let mut batch = latencies.batch();
            let mut text = String::with_capacity(128 + msg.len());
            let mut id = 0u64;
            loop {
                id += 1;
                let sent = Instant::now();
                if sent >= window.end {
                    let (w, d) = conn.get_bytes();
                    wire.add(w);
                    decoded.add(d);
                    return Ok(());
                }
                // The Engine.IO `4` included: this is the frame's text.
                let arg = echo_text_with(&mut text, "42", id, n, &msg);
                let frame = Frame::Text(Str::from(text.clone()));
                let arg = &text[arg];
                let ok = within(timeout, "polling echo", async {
                    let mut texts = conn.exchange(&[frame]).await?;
                    loop {
                        if let Some(ack) = texts.iter().find(|t| ack_id(t) == Some(id)) {
                            return Ok(same_args(ack_args(ack), arg));
                        }
                        texts = conn.poll().await?;
                    }
                })
                .await?;
                let done = Instant::now();
                if !ok {
                    errors.add(1);
                }
                if window.contains(done) {
                    acks.add(1);
                    batch.record(done - sent);
                }
            }
        });
    }
    let outcome = finish(set).await;
    ticker.abort();
    outcome?;
    let (loadgen_cpu, server_cpu) = cpu.await.unwrap_or((None, None));

    let mut report = Report::new(scenario, config, "acks/s");
    if decoded.get() > 0 {
        report.wire_ratio = Some(wire.get() as f64 / decoded.get() as f64);
    }
    report.seconds = config.duration.as_secs_f64();
    report.ops = acks.get();
    report.rate = report.ops as f64 / report.seconds;
    report.latency = latencies.summary();
    report.errors = errors.get();
    report.loadgen_cpu = loadgen_cpu;
    report.server_cpu = server_cpu;
    Ok(report)
}

// ---- connect storm ----

pub(crate) async fn connect_storm(config: &Config) -> Result<Report> {
    let target = Target::resolve(config).await?;
    let mut steps = config.steps.clone();
    if steps.is_empty() {
        steps.push(config.clients(Scenario::ConnectStorm));
    }
    steps.sort_unstable();
    steps.dedup();
    let total = steps.last().copied().unwrap_or(0);
    let pid = config.server_pid;
    let before = pid.and_then(rss_kib);
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let bar = bar(config, total as u64, "connect-storm");
    let failures = Counter::default();
    let mut first_failure: Option<String> = None;
    let mut holders = JoinSet::new();
    let mut connected = 0usize;
    let mut attempted = 0usize;
    let mut connecting = Duration::ZERO;
    let mut rss = Vec::new();
    let cpu = CpuMeter::start(pid);
    let warm = (config.warm_binary > 0).then(|| {
        Bytes::from(
            (0..config.warm_binary)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
        )
    });

    for step in steps {
        let started = Instant::now();
        let mut set = JoinSet::new();
        while attempted < step {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let target = target.clone();
            let timeout = config.timeout;
            let n = attempted;
            let warm = warm.clone();
            set.spawn(async move {
                let result = within(timeout, "connect", async {
                    let mut ws = connect_ws(&target, n, 1024, None).await?;
                    if let Some(blob) = &warm
                        && !binary_echo(&mut ws, 1, blob).await?
                    {
                        return Err("the warm-up echo came back different".to_owned());
                    }
                    Ok(ws)
                })
                .await;
                drop(permit);
                result
            });
            attempted += 1;
            while let Some(done) = set.try_join_next() {
                hold(
                    done,
                    &mut holders,
                    &stop_rx,
                    &mut connected,
                    &failures,
                    &mut first_failure,
                    &bar,
                );
            }
        }
        while let Some(done) = set.join_next().await {
            hold(
                done,
                &mut holders,
                &stop_rx,
                &mut connected,
                &failures,
                &mut first_failure,
                &bar,
            );
        }
        connecting += started.elapsed();
        if let (Some(pid), Some(before)) = (pid, before) {
            tokio::time::sleep(config.settle).await;
            if let Some(after) = rss_kib(pid) {
                rss.push(crate::RssPoint {
                    connections: connected,
                    rss_kib: after,
                    per_connection_kib: after.saturating_sub(before) as f64
                        / connected.max(1) as f64,
                });
            }
        }
    }
    bar.finish_and_clear();
    let (loadgen_cpu, server_cpu) = cpu.stop();
    let _ = stop_tx.send(true);
    while holders.join_next().await.is_some() {}
    if connected == 0 {
        return Err(first_failure.unwrap_or_else(|| "no connection".to_owned()));
    }

    let mut report = Report::new(Scenario::ConnectStorm, config, "conns/s");
    report.clients = total;
    report.seconds = connecting.as_secs_f64();
    report.ops = connected as u64;
    report.rate = connected as f64 / report.seconds.max(1e-9);
    report.errors = failures.get();
    report.rss = rss;
    report.loadgen_cpu = loadgen_cpu;
    report.server_cpu = server_cpu;
    Ok(report)
}

/// Keeps a connection that the storm opened, answering pings, until the storm ends.
fn hold(
    done: std::result::Result<Result<Ws>, tokio::task::JoinError>,
    holders: &mut JoinSet<()>,
    stop: &watch::Receiver<bool>,
    connected: &mut usize,
    failures: &Counter,
    first_failure: &mut Option<String>,
    bar: &ProgressBar,
) {
    match done {
        Ok(Ok(mut ws)) => {
            *connected += 1;
            bar.inc(1);
            let mut stop = stop.clone();
            holders.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        incoming = recv(&mut ws) => match incoming {
                            Ok(In::Ping) => {
                                if pong(&mut ws).await.is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        },
                    }
                }
            });
        }
        Ok(Err(error)) => {
            failures.add(1);
            first_failure.get_or_insert(error);
        }
        Err(error) => {
            failures.add(1);
            first_failure.get_or_insert(error.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::echo_text;

    #[test]
    fn reads_fields_and_compares_args() {
        let text = r#"42["fan",{"t":12345,"s":7,"p":"xx"}]"#;
        assert_eq!(field_u64(text, b"\"t\":"), Some(12345));
        assert_eq!(field_u64(text, b"\"s\":"), Some(7));
        assert_eq!(field_u64(text, b"\"q\":"), None);
        assert_eq!(field_u64(r#"{"t":"x"}"#, b"\"t\":"), None);
        assert_eq!(field_u64(r#"{"t":99999999999999999999}"#, b"\"t\":"), None);
        assert_eq!(field_u64(r#"{"t":0}"#, b"\"t\":"), Some(0));
        assert!(same_args(r#"[{"a":1,"b":2}]"#, r#"{"a":1,"b":2}"#));
        assert!(same_args(r#"[{"b":2,"a":1}]"#, r#"{"a":1,"b":2}"#));
        assert!(!same_args(r#"[{"a":1}]"#, r#"{"a":1,"b":2}"#));
        assert_eq!(ack_id("3123[1]"), Some(123));
        assert_eq!(ack_id("61-45[{}]"), Some(45));
        assert_eq!(ack_id("2[\"x\"]"), None);
    }

    #[test]
    fn echo_texts_match_format() {
        let mut text = String::new();
        for (id, client) in [(0u64, 0usize), (7, 12), (u64::MAX, 999)] {
            let arg = echo_text(&mut text, "42", id, client);
            let expected_arg =
                format!(r#"{{"n":{id},"c":{client},"msg":"hello from sockeye bench"}}"#);
            assert_eq!(&text[arg], expected_arg);
            assert_eq!(text, format!(r#"42{id}["echo",{expected_arg}]"#));
        }
    }
}
