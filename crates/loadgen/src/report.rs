//! What a scenario measured: one [`Report`], printed as a table row or one JSON line.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Config, Scenario};

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest seen.
    pub max_ms: f64,
    /// How many samples.
    pub samples: u64,
}

/// The server's memory with some connections open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RssPoint {
    /// Connections open.
    pub connections: usize,
    /// The server's RSS, KiB.
    pub rss_kib: u64,
    /// Growth per connection since before the first one, KiB.
    pub per_connection_kib: f64,
}

/// permessage-deflate over a scenario's connections (the whole run, warm-up included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeflateReport {
    /// Connections whose handshake answer accepted the extension.
    pub accepted: u64,
    /// Messages that came compressed (RSV1) from the server.
    pub compressed_in: u64,
    /// Messages the load generator sent compressed.
    pub compressed_out: u64,
    /// The compressed messages' bytes on the wire over their bytes inflated.
    pub wire_ratio_in: f64,
}

impl From<&crate::deflate::DeflateCounts> for DeflateReport {
    fn from(counts: &crate::deflate::DeflateCounts) -> Self {
        use crate::deflate::DeflateCounts as C;
        let inflated = C::get(&counts.inflated_in);
        DeflateReport {
            accepted: C::get(&counts.accepted),
            compressed_in: C::get(&counts.compressed_in),
            compressed_out: C::get(&counts.compressed_out),
            wire_ratio_in: if inflated == 0 {
                0.0
            } else {
                C::get(&counts.wire_in) as f64 / inflated as f64
            },
        }
    }
}

/// What one run of a scenario measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario.
    pub scenario: Scenario,
    /// The server's label.
    pub label: String,
    /// Clients (connections) used.
    pub clients: usize,
    /// The measured stretch, seconds.
    pub seconds: f64,
    /// Operations completed in it (acks, deliveries, connections).
    pub ops: u64,
    /// The headline figure: `ops` per second (MiB/s for binary echo).
    pub rate: f64,
    /// What `rate` counts.
    pub unit: String,
    /// Latency of the operations, when measured.
    pub latency: Option<Latency>,
    /// Answers that were wrong (an echo that did not match...).
    pub errors: u64,
    /// Fan-out: deliveries that never arrived.
    pub lost: Option<u64>,
    /// Connect storm: the server's RSS at each step.
    pub rss: Vec<RssPoint>,
    /// The load generator's CPU use, % of one core (near 100: it is the bottleneck).
    pub loadgen_cpu: Option<f64>,
    /// The server's CPU use, % of one core (with its PID).
    pub server_cpu: Option<f64>,
    /// Why the scenario could not run.
    pub failure: Option<String>,
    /// Long-polling: the bytes of the GET bodies on the wire over their decoded bytes (below 1
    /// when the server compressed them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_ratio: Option<f64>,
    /// WebSocket permessage-deflate: what was agreed and compressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deflate: Option<DeflateReport>,
    /// Soak: the samples over time and how the sessions ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<crate::SoakSummary>,
}

impl Report {
    pub(crate) fn new(scenario: Scenario, config: &Config, unit: &str) -> Self {
        Report {
            scenario,
            label: config.label.clone(),
            clients: config.clients(scenario),
            seconds: 0.0,
            ops: 0,
            rate: 0.0,
            unit: unit.to_owned(),
            latency: None,
            errors: 0,
            lost: None,
            rss: Vec::new(),
            loadgen_cpu: None,
            server_cpu: None,
            failure: None,
            wire_ratio: None,
            deflate: None,
            soak: None,
        }
    }

    pub(crate) fn failed(
        scenario: Scenario,
        config: &Config,
        failure: String,
        elapsed: Duration,
    ) -> Self {
        let mut report = Report::new(scenario, config, "");
        report.seconds = elapsed.as_secs_f64();
        report.failure = Some(failure);
        report
    }

    /// The report as one line of JSON.
    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The headline figure as text, `-` when the scenario failed.
    pub fn headline(&self) -> String {
        if self.failure.is_some() {
            return "-".to_owned();
        }
        format!("{} {}", group(self.rate), self.unit)
    }
}

/// A number with thin thousands separators (`49 100`), rounded to an integer above 100.
pub(crate) fn group(value: f64) -> String {
    if value < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The reports as a text table.
pub fn table(reports: &[Report]) -> String {
    let header = [
        "server", "scenario", "clients", "result", "p50 ms", "p99 ms", "p999 ms", "errors", "lost",
        "rss/conn", "lg cpu", "srv cpu",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for r in reports {
        let lat = |f: fn(&Latency) -> f64| {
            r.latency
                .as_ref()
                .map_or_else(|| "-".to_owned(), |l| format!("{:.2}", f(l)))
        };
        let rss = r
            .rss
            .iter()
            .map(|p| format!("{:.1}K@{}", p.per_connection_kib, p.connections))
            .collect::<Vec<_>>()
            .join(" ");
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}%"));
        rows.push(vec![
            r.label.clone(),
            r.scenario.name().to_owned(),
            r.clients.to_string(),
            match &r.failure {
                Some(failure) => format!("FAILED: {failure}"),
                None => r.headline(),
            },
            lat(|l| l.p50_ms),
            lat(|l| l.p99_ms),
            lat(|l| l.p999_ms),
            r.errors.to_string(),
            r.lost.map_or_else(|| "-".to_owned(), |l| l.to_string()),
            if rss.is_empty() { "-".to_owned() } else { rss },
            pct(r.loadgen_cpu),
            pct(r.server_cpu),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "{}", rule.join("  "));
        }
    }
    out
}
