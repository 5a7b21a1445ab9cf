//! `sockeye serve --metrics`: the Prometheus recorder of the library's metrics, and the
//! `/metrics` route that renders them as Prometheus text (docs/metrics.md).

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The path the metrics are served at.
pub const PATH: &str = "/metrics";

/// Buckets of the `_seconds` histograms: from a fast echo handler on loopback (50 µs) to a
/// ping answered by a client on a slow mobile link (10 s).
const SECONDS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder drops what it no longer needs (histogram samples already folded in).
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the whole process. It must come before the server is
/// built: handles registered earlier are no-ops for good.
///
/// # Errors
/// When a recorder is installed already (a process has one).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .context("histogram buckets")?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|_| anyhow::anyhow!("a metrics recorder is installed already"))?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// A router that answers `GET /metrics` with the Prometheus text format.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        PATH,
        get(move || {
            let body = handle.render();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    )
}
