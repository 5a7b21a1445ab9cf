//! The Socket.IO server's metrics, through the `metrics` facade (docs/metrics.md lists them).
//!
//! Each namespace registers its handles once, when it is made, so that counting an event is
//! an increment of a handle it holds: no label is built or looked up per event. The children
//! of a dynamic namespace are labelled with their parent's name, so that a client choosing
//! names cannot make new series. Without a recorder the handles are no-ops.

use metrics::{Counter, Gauge, Histogram};

use crate::DisconnectReason;

const REASONS: [DisconnectReason; 10] = [
    DisconnectReason::TransportClose,
    DisconnectReason::TransportError,
    DisconnectReason::PingTimeout,
    DisconnectReason::ClientNamespaceDisconnect,
    DisconnectReason::ServerNamespaceDisconnect,
    DisconnectReason::ForcedServerClose,
    DisconnectReason::ForcedClose,
    DisconnectReason::ParseError,
    DisconnectReason::ServerShuttingDown,
    DisconnectReason::SlowClient,
];

/// The `namespace` label of a CONNECT to a namespace that does not exist (real names start
/// with `/`, so it names none of them).
const UNKNOWN_NAMESPACE: &str = "unknown";

/// The handles of one namespace (or of every child of a dynamic one).
pub(crate) struct NamespaceMetrics {
    sockets: Gauge,
    connected: Counter,
    refused: Counter,
    disconnects: [Counter; REASONS.len()],
    events_in: Counter,
    events_out: Counter,
    pub(crate) handler_duration: Histogram,
    ack_timeouts: Counter,
    slow_clients: Counter,
    /// The allow-listed events (`IoConfig::metrics_events`), searched in turn: a short list,
    /// and empty unless asked for.
    named: Box<[(Box<str>, Counter)]>,
}

impl NamespaceMetrics {
    pub(crate) fn new(label: &str, named_events: &[String]) -> Self {
        let label = label.to_owned();
        let connects = |result: &'static str| metrics::counter!("sockeye_connects_total", "namespace" => label.clone(), "result" => result);
        let events = |direction: &'static str| metrics::counter!("sockeye_events_total", "namespace" => label.clone(), "direction" => direction);
        NamespaceMetrics {
            sockets: metrics::gauge!("sockeye_sockets", "namespace" => label.clone()),
            connected: connects("ok"),
            refused: connects("refused"),
            disconnects: REASONS.map(|reason| {
                metrics::counter!(
                    "sockeye_disconnects_total",
                    "namespace" => label.clone(),
                    "reason" => reason.as_str()
                )
            }),
            events_in: events("in"),
            events_out: events("out"),
            handler_duration: metrics::histogram!(
                "sockeye_handler_duration_seconds",
                "namespace" => label.clone()
            ),
            ack_timeouts: metrics::counter!("sockeye_ack_timeouts_total", "namespace" => label.clone()),
            // Not by namespace: a slow client is slow on all of its namespaces.
            slow_clients: metrics::counter!("sockeye_slow_client_disconnects_total"),
            named: named_events
                .iter()
                .map(|event| {
                    let counter = metrics::counter!(
                        "sockeye_named_events_total",
                        "namespace" => label.clone(),
                        "event" => event.clone()
                    );
                    (event.as_str().into(), counter)
                })
                .collect(),
        }
    }

    pub(crate) fn connected(&self) {
        self.connected.increment(1);
        self.sockets.increment(1.0);
    }

    pub(crate) fn refused(&self) {
        self.refused.increment(1);
    }

    pub(crate) fn disconnected(&self, reason: DisconnectReason) {
        self.sockets.decrement(1.0);
        let index = REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or_default();
        if let Some(counter) = self.disconnects.get(index) {
            counter.increment(1);
        }
    }

    pub(crate) fn event_in(&self, event: &str) {
        self.events_in.increment(1);
        if let Some((_, counter)) = self.named.iter().find(|(name, _)| **name == *event) {
            counter.increment(1);
        }
    }

    /// Events sent, counted once per socket they were queued for.
    pub(crate) fn events_out(&self, sockets: usize) {
        self.events_out.increment(sockets as u64);
    }

    pub(crate) fn ack_timeout(&self) {
        self.ack_timeouts.increment(1);
    }

    pub(crate) fn slow_client(&self) {
        self.slow_clients.increment(1);
    }
}

/// The server-wide handles.
pub(crate) struct IoMetrics {
    pub(crate) invalid_namespace: Counter,
}

impl IoMetrics {
    pub(crate) fn new() -> Self {
        describe();
        metrics::gauge!("sockeye_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        IoMetrics {
            invalid_namespace: metrics::counter!(
                "sockeye_connects_total",
                "namespace" => UNKNOWN_NAMESPACE,
                "result" => "invalid_namespace"
            ),
        }
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("sockeye_sockets", "Connected sockets, by namespace");
    describe_counter!(
        "sockeye_connects_total",
        "CONNECTs answered, by namespace and result (ok, refused by a middleware, invalid_namespace)"
    );
    describe_counter!(
        "sockeye_disconnects_total",
        "Sockets disconnected, by namespace and reason"
    );
    describe_counter!(
        "sockeye_events_total",
        "Events received (in) and queued for a client (out, once per socket), by namespace"
    );
    describe_counter!(
        "sockeye_named_events_total",
        "Events received, by namespace and name, for the names allow-listed in IoConfig::metrics_events"
    );
    describe_histogram!(
        "sockeye_handler_duration_seconds",
        Unit::Seconds,
        "How long event handlers ran, by namespace"
    );
    describe_counter!(
        "sockeye_ack_timeouts_total",
        "Acknowledgements the server waited for in vain, by namespace"
    );
    describe_counter!(
        "sockeye_slow_client_disconnects_total",
        "Clients disconnected because their outbox was full"
    );
    describe_gauge!(
        "sockeye_build_info",
        "1, labelled with the version of sockeye"
    );
}
