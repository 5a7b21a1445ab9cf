//! Counting: a latency histogram shared by the client tasks, and what `/proc` says about a
//! process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::report::Latency;

/// Latencies in microseconds, shared by every client; each client batches its samples.
#[derive(Clone)]
pub(crate) struct Latencies(Arc<Mutex<Histogram<u64>>>);

impl Latencies {
    pub(crate) fn new() -> Self {
        // 1 µs to 60 s, 3 significant digits.
        let histogram =
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        Latencies(Arc::new(Mutex::new(histogram)))
    }

    pub(crate) fn batch(&self) -> Batch {
        Batch {
            shared: self.clone(),
            samples: Vec::with_capacity(Batch::SIZE),
        }
    }

    pub(crate) fn summary(&self) -> Option<Latency> {
        let histogram = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if histogram.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Latency {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
            samples: histogram.len(),
        })
    }
}

/// One client's samples not yet added to the shared histogram.
pub(crate) struct Batch {
    shared: Latencies,
    samples: Vec<u64>,
}

impl Batch {
    const SIZE: usize = 256;

    pub(crate) fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.samples.push(us.clamp(1, 60_000_000));
        if self.samples.len() >= Self::SIZE {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if self.samples.is_empty() {
            return;
        }
        let mut histogram = self.shared.0.lock().unwrap_or_else(|p| p.into_inner());
        for &us in &self.samples {
            let _ = histogram.record(us);
        }
        self.samples.clear();
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The measurement window: operations count only when they complete inside it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

impl Window {
    pub(crate) fn after(warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now() + warmup;
        Window {
            start,
            end: start + duration,
        }
    }

    pub(crate) fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }
}

/// A counter the progress bar can read while the clients add to it.
#[derive(Clone, Default)]
pub(crate) struct Counter(Arc<AtomicU64>);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A process's resident memory in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A process's CPU time so far (user + system), from `/proc/<pid>/stat`.
pub(crate) fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start with field 3, the state.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 1/100 s on Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU use of the load generator and of the server over a stretch of time.
pub(crate) struct CpuMeter {
    at: Instant,
    own: Option<Duration>,
    server: Option<Duration>,
    pids: Vec<u32>,
}

/// The CPU time of all of `pids` (none if any cannot be read, or there are none).
fn servers_cpu_time(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| cpu_time(Some(pid))).sum()
}

impl CpuMeter {
    pub(crate) fn start(pid: Option<u32>) -> Self {
        Self::start_all(pid.into_iter().collect())
    }

    /// The servers' CPU is the sum over `pids` (the nodes of a cluster).
    pub(crate) fn start_all(pids: Vec<u32>) -> Self {
        CpuMeter {
            at: Instant::now(),
            own: cpu_time(None),
            server: servers_cpu_time(&pids),
            pids,
        }
    }

    /// (load generator %, server %) of one core since `start`.
    pub(crate) fn stop(&self) -> (Option<f64>, Option<f64>) {
        let wall = self.at.elapsed().as_secs_f64();
        let percent = |before: Option<Duration>, after: Option<Duration>| {
            let used = after?.checked_sub(before?)?;
            (wall > 0.0).then(|| 100.0 * used.as_secs_f64() / wall)
        };
        (
            percent(self.own, cpu_time(None)),
            percent(self.server, servers_cpu_time(&self.pids)),
        )
    }
}
