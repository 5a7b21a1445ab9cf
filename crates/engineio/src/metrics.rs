//! The engine's metrics, through the `metrics` facade (docs/metrics.md lists them).
//!
//! Every handle is registered once, when the server is built, one per label value: counting on
//! the hot path is then an increment of a handle already at hand, with no label to build or
//! look up. Without a recorder installed the handles are no-ops. A recorder installed after
//! the server was built does not see it (the `metrics` facade hands out no-op handles
//! until one is installed).

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::request::TransportKind;
use crate::{CloseReason, RequestError};

/// Which way a packet went.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    In = 0,
    Out = 1,
}

const TRANSPORTS: [TransportKind; 3] = [
    TransportKind::Polling,
    TransportKind::WebSocket,
    TransportKind::WebTransport,
];
const DIRECTIONS: [&str; 2] = ["in", "out"];
const REASONS: [CloseReason; 5] = [
    CloseReason::TransportClose,
    CloseReason::TransportError,
    CloseReason::PingTimeout,
    CloseReason::ForcedClose,
    CloseReason::ServerShutdown,
];
/// Node's error codes (`RequestError::code`), 0 to 5.
const CODES: [&str; 6] = ["0", "1", "2", "3", "4", "5"];

pub(crate) struct EngineMetrics {
    sessions: [Gauge; 3],
    opened: [Counter; 3],
    closed: [[Counter; 5]; 3],
    request_errors: [Counter; 6],
    upgrades: Counter,
    packets: [[Counter; 3]; 2],
    bytes: [[Counter; 3]; 2],
    ping_rtt: Histogram,
}

fn transport_index(transport: TransportKind) -> usize {
    match transport {
        TransportKind::WebSocket => 1,
        TransportKind::WebTransport => 2,
        _ => 0,
    }
}

fn reason_index(reason: CloseReason) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .unwrap_or_default()
}

impl EngineMetrics {
    pub(crate) fn new() -> Self {
        describe();
        let per_direction = |name: &'static str| {
            DIRECTIONS.map(|direction| {
                TRANSPORTS.map(|t| {
                    metrics::counter!(name, "direction" => direction, "transport" => t.as_str())
                })
            })
        };
        EngineMetrics {
            sessions: TRANSPORTS
                .map(|t| metrics::gauge!("sockeye_engine_sessions", "transport" => t.as_str())),
            opened: TRANSPORTS.map(|t| {
                metrics::counter!("sockeye_engine_sessions_opened_total", "transport" => t.as_str())
            }),
            closed: TRANSPORTS.map(|t| {
                REASONS.map(|reason| {
                    metrics::counter!(
                        "sockeye_engine_sessions_closed_total",
                        "transport" => t.as_str(),
                        "reason" => reason.as_str()
                    )
                })
            }),
            request_errors: CODES.map(
                |code| metrics::counter!("sockeye_engine_handshake_errors_total", "code" => code),
            ),
            upgrades: metrics::counter!("sockeye_engine_upgrades_total"),
            packets: per_direction("sockeye_engine_packets_total"),
            bytes: per_direction("sockeye_engine_bytes_total"),
            ping_rtt: metrics::histogram!("sockeye_engine_ping_rtt_seconds"),
        }
    }

    pub(crate) fn opened(&self, transport: TransportKind) {
        let t = transport_index(transport);
        self.opened[t].increment(1);
        self.sessions[t].increment(1.0);
    }

    pub(crate) fn closed(&self, transport: TransportKind, reason: CloseReason) {
        let t = transport_index(transport);
        self.closed[t][reason_index(reason)].increment(1);
        self.sessions[t].decrement(1.0);
    }

    pub(crate) fn upgraded(&self, to: TransportKind) {
        self.upgrades.increment(1);
        self.sessions[0].decrement(1.0);
        self.sessions[transport_index(to)].increment(1.0);
    }

    pub(crate) fn refused(&self, error: &RequestError) {
        if let Some(counter) = self.request_errors.get(usize::from(error.code())) {
            counter.increment(1);
        }
    }

    /// `packets` packets of `bytes` bytes in all went one way on a transport.
    pub(crate) fn packets(
        &self,
        direction: Direction,
        transport: TransportKind,
        packets: usize,
        bytes: usize,
    ) {
        let (d, t) = (direction as usize, transport_index(transport));
        self.packets[d][t].increment(packets as u64);
        self.bytes[d][t].increment(bytes as u64);
    }

    pub(crate) fn ping_rtt(&self, rtt: Duration) {
        self.ping_rtt.record(rtt.as_secs_f64());
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "sockeye_engine_sessions",
        "Open Engine.IO sessions, by current transport"
    );
    describe_counter!(
        "sockeye_engine_sessions_opened_total",
        "Engine.IO sessions opened, by the transport of the handshake"
    );
    describe_counter!(
        "sockeye_engine_sessions_closed_total",
        "Engine.IO sessions closed, by transport at the close and reason"
    );
    describe_counter!(
        "sockeye_engine_handshake_errors_total",
        "Requests refused with an Engine.IO error code (Node's connection_error), by code"
    );
    describe_counter!(
        "sockeye_engine_upgrades_total",
        "Sessions upgraded from polling to WebSocket or WebTransport"
    );
    describe_counter!(
        "sockeye_engine_packets_total",
        "Engine.IO packets, by direction and transport"
    );
    describe_counter!(
        "sockeye_engine_bytes_total",
        Unit::Bytes,
        "Bytes of Engine.IO packets, by direction and transport (polling: the payload)"
    );
    describe_histogram!(
        "sockeye_engine_ping_rtt_seconds",
        Unit::Seconds,
        "From when a ping was due to its pong"
    );
}
