//! `sockeye bench`: the load generator ([`sockeye_loadgen`]) against any Socket.IO server that
//! implements the bench app contract (`echo`, `join`, `fanout`; see `bench/README.md`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sockeye_loadgen::{Config, Report, Scenario};

/// Measures a Socket.IO server: connect storm, echo, fan-out, long-polling and binary echo.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Scenarios to run, in order: echo, fanout, binary-echo, polling-echo, connect-storm
    /// (default: all of them), or cluster-fanout (with --node) and soak (only when named).
    #[arg(value_name = "SCENARIO", value_parser = parse_scenario)]
    scenarios: Vec<Scenario>,

    /// A scenario to run, as `--scenario soak` (added after the positional ones).
    #[arg(long = "scenario", value_name = "SCENARIO", value_parser = parse_scenario)]
    scenario: Vec<Scenario>,

    /// The server's Socket.IO URL.
    #[arg(long, default_value = "http://127.0.0.1:3000/socket.io/")]
    url: String,

    /// cluster-fanout: the Socket.IO URL of another node of the cluster (repeat for more);
    /// the clients are split over `--url` and these.
    #[arg(long = "node", value_name = "URL")]
    nodes: Vec<String>,

    /// cluster-fanout: the process id of each `--node`, in the same order (the server CPU is
    /// then summed over the cluster).
    #[arg(long = "node-pid", value_name = "PID")]
    node_pids: Vec<u32>,

    /// A name for the server in the results.
    #[arg(long, default_value = "server")]
    label: String,

    /// Seconds each scenario measures.
    #[arg(long, value_name = "SECS", default_value_t = 4.0)]
    duration: f64,

    /// Seconds of traffic before measuring.
    #[arg(long, value_name = "SECS", default_value_t = 0.5)]
    warmup: f64,

    /// Clients (default per scenario: echo, echo-4k and echo-deflate 100, fanout 1000,
    /// binary-echo 10, polling-echo 50,
    /// connect-storm 10000, soak 10000).
    #[arg(long)]
    clients: Option<usize>,

    /// Connect storm: connection counts at which to read the server's RSS, e.g.
    /// 10000,19700 (the last is the total).
    #[arg(long, value_delimiter = ',')]
    steps: Vec<usize>,

    /// Connect storm: handshakes in flight at once.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,

    /// Connect storm: each connection first echoes one binary message of this many bytes, so
    /// the RSS shows what a large message leaves behind in an idle connection (0: none).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    warm_binary: usize,

    /// Fan-out: clients that send (they are room members too).
    #[arg(long, default_value_t = 1)]
    senders: usize,

    /// Fan-out: messages' worth of deliveries outstanding at most (window × room size).
    #[arg(long, default_value_t = 64)]
    window: usize,

    /// Fan-out: padding bytes in each payload.
    #[arg(long, default_value_t = 32)]
    payload: usize,

    /// Binary echo: bytes per message.
    #[arg(long, default_value_t = 64 * 1024)]
    binary_size: usize,

    /// Source addresses 127.0.0.1..N to spread client sockets over (loopback targets).
    #[arg(long, default_value_t = 16)]
    sources: usize,

    /// The server's process id: its RSS per connection and CPU use are reported.
    #[arg(long)]
    pid: Option<u32>,

    /// Soak: seconds between samples of the server's RSS, live clients and sessions.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    sample_every: f64,

    /// Soak: seconds to wait after the clients stop for the server's sessions to reach 0.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    drain: f64,

    /// Appends the JSON lines to this file instead of printing them.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn parse_scenario(name: &str) -> Result<Scenario, String> {
    Scenario::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Scenario::every().map(|s| s.name()).collect();
        format!("unknown scenario {name:?} (one of {})", names.join(", "))
    })
}

/// Runs the scenarios; failure when one could not run (or the JSON file could not be written).
pub(crate) async fn run(args: BenchArgs) -> ExitCode {
    match bench(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sockeye bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let named: Vec<Scenario> = args
        .scenarios
        .iter()
        .chain(&args.scenario)
        .copied()
        .collect();
    let scenarios = if named.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        named
    };
    let mut config = Config::new(args.url);
    config.nodes = args.nodes;
    config.node_pids = args.node_pids;
    config.label = args.label;
    config.duration = Duration::from_secs_f64(args.duration.max(0.1));
    config.warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    config.clients = args.clients;
    config.steps = args.steps;
    config.concurrency = args.concurrency;
    config.warm_binary = args.warm_binary;
    config.senders = args.senders;
    config.window = args.window;
    config.payload = args.payload;
    config.binary_size = args.binary_size;
    config.sources = args.sources;
    config.server_pid = args.pid;
    config.sample_every = Duration::from_secs_f64(args.sample_every.max(0.1));
    config.drain = Duration::from_secs_f64(args.drain.max(0.0));
    config.progress = !args.quiet;

    let mut reports: Vec<Report> = Vec::new();
    for scenario in scenarios {
        // On a runtime of its own with one thread, as `run_blocking` makes it: `bench/run` pins
        // the load generator to one core, where a multi-thread scheduler only adds the cost of
        // waking tasks across threads to every message.
        let config = config.clone();
        let report =
            tokio::task::spawn_blocking(move || sockeye_loadgen::run_blocking(scenario, &config))
                .await?;
        reports.push(report);
    }
    println!("{}", sockeye_loadgen::table(&reports));
    for report in &reports {
        if let Some(soak) = &report.soak {
            print_soak(soak);
        }
    }
    let lines: String = reports.iter().map(|r| r.json_line() + "\n").collect();
    match &args.json {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(lines.as_bytes())?,
        None => print!("{lines}"),
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.scenario.name())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The soak's RSS over time and how its sessions ended.
fn print_soak(soak: &sockeye_loadgen::SoakSummary) {
    println!("soak: server RSS over time");
    println!(
        "{:>8}  {:>8}  {:>12}  {:>8}  {:>9}  errors",
        "secs", "live", "rss KiB", "sessions", "cycles"
    );
    let dash = || "-".to_owned();
    for s in &soak.samples {
        println!(
            "{:>8.1}  {:>8}  {:>12}  {:>8}  {:>9}  {}",
            s.secs,
            s.live_clients,
            s.rss_kib.map_or_else(dash, |v| v.to_string()),
            s.sessions.map_or_else(dash, |v| v.to_string()),
            s.cycles,
            s.errors,
        );
    }
    println!(
        "soak: {} clean leaves, {} abrupt drops, {} echoes, {} fan-outs; sessions after: {}{}",
        soak.clean_leaves,
        soak.abrupt_drops,
        soak.echoes,
        soak.fanouts,
        soak.sessions_after.map_or_else(dash, |v| v.to_string()),
        soak.drained_secs
            .map_or_else(String::new, |s| format!(" (drained in {s:.1}s)")),
    );
    for error in &soak.error_examples {
        println!("soak error: {error}");
    }
}
