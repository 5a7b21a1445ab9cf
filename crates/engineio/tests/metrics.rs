//! The engine's metrics over a real polling session, recorded by the Prometheus recorder:
//! exact packet and byte counts each way (the open packet, a message and its echo, a ping and
//! its pong, the client's close), one ping round trip, the close by reason, a refused request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use metrics_exporter_prometheus::PrometheusBuilder;
use sockeye_engineio::{CloseReason, EngineService};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_session_is_counted_packet_by_packet() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let (handler, mut events) = Recorder::new(true);
    let config = config().ping_interval(Duration::from_millis(200));
    // The engine registers its handles when it is built: with this recorder.
    let service = metrics::with_local_recorder(&recorder, || EngineService::new(config, handler));
    let (addr, _stop) = serve(service).await;

    let open = get(addr, &format!("{PATH}?EIO=4&transport=polling")).await;
    let sid = open_json(open.text())["sid"].as_str().unwrap().to_owned();
    let path = poll_path(&sid);
    assert_eq!(post(addr, &path, "4hello").await.text(), "ok");
    assert_eq!(get(addr, &path).await.text(), "4hello");
    // The next answer is the ping, one ping interval after the handshake.
    assert_eq!(get(addr, &path).await.text(), "2");
    assert_eq!(post(addr, &path, "3").await.text(), "ok");
    assert_eq!(post(addr, &path, "1").await.text(), "ok");
    loop {
        if let Event::Close(_, reason) = within(WAIT, events.recv()).await.unwrap() {
            assert_eq!(reason, CloseReason::TransportClose);
            break;
        }
    }
    get(addr, &path)
        .await
        .assert_refused(400, r#"{"code":1,"message":"Session ID unknown"}"#);

    let text = recorder.handle().render();
    let out_bytes = open.body.len() + "4hello".len() + "2".len();
    for line in [
        r#"sockeye_engine_sessions_opened_total{transport="polling"} 1"#.to_owned(),
        r#"sockeye_engine_sessions{transport="polling"} 0"#.to_owned(),
        r#"sockeye_engine_sessions_closed_total{transport="polling",reason="transport close"} 1"#
            .to_owned(),
        r#"sockeye_engine_packets_total{direction="in",transport="polling"} 3"#.to_owned(),
        r#"sockeye_engine_bytes_total{direction="in",transport="polling"} 8"#.to_owned(),
        r#"sockeye_engine_packets_total{direction="out",transport="polling"} 3"#.to_owned(),
        format!(r#"sockeye_engine_bytes_total{{direction="out",transport="polling"}} {out_bytes}"#),
        r#"sockeye_engine_ping_rtt_seconds_count 1"#.to_owned(),
        r#"sockeye_engine_handshake_errors_total{code="1"} 1"#.to_owned(),
        r#"sockeye_engine_upgrades_total 0"#.to_owned(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line} in:\n{text}"
        );
    }
}
