//! A load generator for Socket.IO servers: the engine behind `sockeye bench` and `bench/run`.
//!
//! It speaks Engine.IO v4 + Socket.IO v5 itself, over WebSocket (tokio-tungstenite) and HTTP
//! long-polling (hyper), answers the server's pings, and drives the small app of the bench
//! contract (`echo`, `join`, `fanout`; see `bench/README.md`). Any server implementing that
//! contract can be measured, whatever its language.
//!
//! ```no_run
//! use sockeye_loadgen::{Config, Scenario, run};
//!
//! # async fn go() {
//! let config = Config::new("http://127.0.0.1:3000/socket.io/");
//! let report = run(Scenario::Echo, &config).await;
//! println!("{}", sockeye_loadgen::table(&[report.clone()]));
//! println!("{}", report.json_line());
//! # }
//! ```
//!
//! Scenarios:
//! - [`Scenario::ConnectStorm`]: WebSocket connections opened as fast as the server takes them
//!   (conns/s); with the server's PID, the server's RSS per idle connection at each step, the
//!   connections being held meanwhile.
//! - [`Scenario::Echo`]: N clients in a closed loop, each sending `echo` and waiting for its ack
//!   (acks/s, latency percentiles).
//! - [`Scenario::Fanout`]: clients join one room; senders `fanout` with a window of deliveries
//!   outstanding (deliveries/s, delivery latency, lost deliveries).
//! - [`Scenario::ClusterFanout`]: the fan-out with its clients split over several nodes of one
//!   cluster ([`Config::url`] and [`Config::nodes`]), the sender on the first: every message
//!   crosses the cluster adapter to reach the other nodes' members.
//! - [`Scenario::Echo4k`]: the echo loop with a 4 KiB text argument (a chat-like update).
//! - [`Scenario::EchoDeflate`]: the same over WebSocket with permessage-deflate offered, which
//!   the server must accept and use (messages of 1 KiB and more go compressed both ways).
//! - [`Scenario::PollingEcho`]: the echo loop over HTTP long-polling.
//! - [`Scenario::PollingGzip`]: the same with 4 KiB arguments and GETs that accept gzip.
//! - [`Scenario::BinaryEcho`]: the echo loop with a binary argument (MiB/s).
//! - [`Scenario::Soak`]: for the whole duration, clients keep connecting, joining a room,
//!   echoing, sometimes fanning out and leaving (cleanly or by dropping the connection); the
//!   server's RSS, the live clients and the server's sessions (`GET /stats`) are sampled, and
//!   the server's sessions must drain to zero at the end. Not part of [`Scenario::ALL`].

mod client;
mod deflate;
mod report;
mod scenarios;
mod soak;
mod stats;
#[cfg(feature = "webtransport")]
mod webtransport;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub use report::{DeflateReport, Latency, Report, RssPoint, table};
pub use soak::{SoakSample, SoakSummary};

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// WebSocket connections per second, and server RSS per idle connection.
    ConnectStorm,
    /// `echo` with an ack over WebSocket, closed loop.
    Echo,
    /// `fanout` to a room, deliveries per second.
    Fanout,
    /// `fanout` to a room whose members are split over the nodes of a cluster.
    ClusterFanout,
    /// `echo` of a 4 KiB text argument over WebSocket: [`Scenario::EchoDeflate`] without
    /// compression.
    #[serde(rename = "echo-4k")]
    Echo4k,
    /// `echo` of a 4 KiB text argument over WebSocket with permessage-deflate: what compressing
    /// every message both ways costs the server.
    EchoDeflate,
    /// `echo` with an ack over HTTP long-polling.
    PollingEcho,
    /// `echo` of a 4 KiB text argument over long-polling, the GETs accepting gzip (as browsers
    /// do): what HTTP compression costs the server and saves on the wire.
    PollingGzip,
    /// `echo` of a binary argument (64 KiB by default).
    BinaryEcho,
    /// `echo` with an ack over WebTransport (HTTP/3), with the `webtransport` feature: the
    /// endpoint's port and certificate hash come from the server's `/webtransport.json`.
    #[serde(rename = "echo-webtransport")]
    EchoWebTransport,
    /// Clients cycling through whole sessions for the duration; RSS and sessions over time.
    Soak,
}

/// The scenarios run only when named (not part of [`Scenario::ALL`]).
/// The deflate pair needs a server started with permessage-deflate on (`DEFLATE=1024` in
/// `bench/run`), so it is named too.
const NAMED_ONLY: [Scenario; 5] = [
    Scenario::ClusterFanout,
    Scenario::Soak,
    Scenario::Echo4k,
    Scenario::EchoDeflate,
    Scenario::EchoWebTransport,
];

impl Scenario {
    /// Every scenario, in the order `bench/run` runs them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Echo,
        Scenario::Fanout,
        Scenario::BinaryEcho,
        Scenario::PollingEcho,
        Scenario::PollingGzip,
        Scenario::ConnectStorm,
    ];

    /// The scenario's name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ConnectStorm => "connect-storm",
            Scenario::Echo => "echo",
            Scenario::Fanout => "fanout",
            Scenario::ClusterFanout => "cluster-fanout",
            Scenario::Echo4k => "echo-4k",
            Scenario::EchoDeflate => "echo-deflate",
            Scenario::PollingEcho => "polling-echo",
            Scenario::PollingGzip => "polling-gzip",
            Scenario::BinaryEcho => "binary-echo",
            Scenario::Soak => "soak",
            Scenario::EchoWebTransport => "echo-webtransport",
        }
    }

    /// The scenario named `name` (one of [`Scenario::ALL`] or of those run only when named).
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL
            .into_iter()
            .chain(NAMED_ONLY)
            .find(|s| s.name() == name)
    }

    /// Every scenario that has a name: [`Scenario::ALL`], then those run only when named.
    pub fn every() -> impl Iterator<Item = Scenario> {
        Scenario::ALL.into_iter().chain(NAMED_ONLY)
    }

    /// How many clients it uses unless told otherwise.
    pub fn default_clients(self) -> usize {
        match self {
            Scenario::ConnectStorm => 10_000,
            Scenario::Echo
            | Scenario::Echo4k
            | Scenario::EchoDeflate
            | Scenario::EchoWebTransport => 100,
            Scenario::Fanout | Scenario::ClusterFanout => 1_000,
            Scenario::PollingEcho | Scenario::PollingGzip => 50,
            Scenario::BinaryEcho => 10,
            Scenario::Soak => 10_000,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to run a scenario. [`Config::new`] gives the defaults `bench/run` uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's Socket.IO URL, e.g. `http://127.0.0.1:3000/socket.io/`.
    pub url: String,
    /// Cluster fan-out: the Socket.IO URLs of the cluster's other nodes; client `n` connects
    /// to node `n % (1 + nodes.len())`, [`Config::url`] being node 0.
    pub nodes: Vec<String>,
    /// A name for the server in the report.
    pub label: String,
    /// How long the measurement lasts (after connecting and warming up).
    pub duration: Duration,
    /// Traffic before the measurement starts, not counted.
    pub warmup: Duration,
    /// Clients (connections); `None` for the scenario's default.
    pub clients: Option<usize>,
    /// Connect storm: connection counts at which to stop and measure RSS, in increasing order;
    /// the last one is the total. Empty: just `clients`.
    pub steps: Vec<usize>,
    /// Connect storm: handshakes in flight at once.
    pub concurrency: usize,
    /// Connect storm: how long to let the server settle before reading its RSS.
    pub settle: Duration,
    /// Connect storm: bytes of one binary `echo` each connection makes before it is held (0:
    /// none), so that the RSS shows what a large message leaves behind in an idle connection.
    pub warm_binary: usize,
    /// Fan-out: clients that send `fanout` (they are room members too).
    pub senders: usize,
    /// Fan-out: deliveries outstanding at most, in messages (`window` × members); the sender
    /// sends again as soon as a quarter of it is free, so neither side waits for the other.
    pub window: usize,
    /// Fan-out: bytes of padding in each payload (`"p"`).
    pub payload: usize,
    /// Binary echo: bytes per message.
    pub binary_size: usize,
    /// Spread client sockets over this many source addresses, 127.0.0.1 upwards (loopback
    /// targets only); one address runs out of ephemeral ports near 28 000 connections.
    pub sources: usize,
    /// The server's process id, to read its RSS and CPU time from `/proc`.
    pub server_pid: Option<u32>,
    /// Cluster fan-out: the other nodes' process ids; the server CPU reported is the sum over
    /// every node.
    pub node_pids: Vec<u32>,
    /// Draws progress bars on the terminal (stderr).
    pub progress: bool,
    /// Gives up on a handshake or an answer after this long.
    pub timeout: Duration,
    /// Soak: how often to sample the server's RSS, the live clients and its sessions.
    pub sample_every: Duration,
    /// Soak: how long to wait, after the clients stop, for the server's sessions to reach 0.
    pub drain: Duration,
}

impl Config {
    /// The defaults for a server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            url: url.into(),
            nodes: Vec::new(),
            label: "server".to_owned(),
            duration: Duration::from_secs(4),
            warmup: Duration::from_millis(500),
            clients: None,
            steps: Vec::new(),
            concurrency: 100,
            settle: Duration::from_secs(1),
            warm_binary: 0,
            senders: 1,
            window: 64,
            payload: 32,
            binary_size: 64 * 1024,
            sources: 16,
            server_pid: None,
            node_pids: Vec::new(),
            progress: false,
            timeout: Duration::from_secs(10),
            sample_every: Duration::from_secs(5),
            drain: Duration::from_secs(30),
        }
    }

    pub(crate) fn clients(&self, scenario: Scenario) -> usize {
        self.clients
            .unwrap_or_else(|| scenario.default_clients())
            .max(1)
    }

    /// The source addresses client sockets bind to (none for a target off loopback).
    pub(crate) fn source_addrs(&self, target: IpAddr) -> Vec<IpAddr> {
        if !target.is_loopback() || !target.is_ipv4() {
            return Vec::new();
        }
        (1..=self.sources.clamp(1, 250))
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i as u8)))
            .collect()
    }
}

/// Runs one scenario against the server and reports what it measured. A scenario that could
/// not run (server unreachable, protocol error) has [`Report::failure`] set.
pub async fn run(scenario: Scenario, config: &Config) -> Report {
    let started = std::time::Instant::now();
    let result = match scenario {
        Scenario::ConnectStorm => scenarios::connect_storm(config).await,
        Scenario::Echo | Scenario::BinaryEcho | Scenario::Echo4k | Scenario::EchoDeflate => {
            scenarios::echo(config, scenario).await
        }
        Scenario::Fanout => scenarios::fanout(config, Scenario::Fanout).await,
        Scenario::ClusterFanout => scenarios::fanout(config, Scenario::ClusterFanout).await,
        Scenario::PollingEcho => scenarios::polling_echo(config, false).await,
        Scenario::PollingGzip => scenarios::polling_echo(config, true).await,
        Scenario::Soak => soak::soak(config).await,
        #[cfg(feature = "webtransport")]
        Scenario::EchoWebTransport => webtransport::echo(config).await,
        #[cfg(not(feature = "webtransport"))]
        Scenario::EchoWebTransport => Err("built without the webtransport feature".to_owned()),
    };
    match result {
        Ok(report) => report,
        Err(error) => Report::failed(scenario, config, error, started.elapsed()),
    }
}

/// Runs a scenario on a runtime of its own (one worker thread: pin the process to a core and
/// the load generator uses exactly that core).
pub fn run_blocking(scenario: Scenario, config: &Config) -> Report {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(scenario, config)),
        Err(error) => Report::failed(
            scenario,
            config,
            format!("cannot start a runtime: {error}"),
            Duration::ZERO,
        ),
    }
}
