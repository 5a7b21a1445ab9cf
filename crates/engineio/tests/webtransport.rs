//! The WebTransport transport over loopback HTTP/3, with a real WebTransport client
//! (wtransport, trusting the server's self-signed certificate by its hash as a browser does):
//! the handshake on the session's stream, text and binary in every length form, the heartbeat,
//! the upgrade from polling, and frames refused for their length.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use sockeye_engineio::{
    CloseReason, EngineConfig, Frame, Message, TransportKind, WebTransportCertificate,
    bind_webtransport, serve_webtransport,
};
use sockeye_testkit::webtransport::WtClient;
use tokio::sync::oneshot;

/// A test server with a WebTransport endpoint on a loopback UDP port of its own.
struct WtServer {
    server: Server,
    wt_addr: SocketAddr,
    sha256: [u8; 32],
    _stop: oneshot::Sender<()>,
}

async fn start_wt(config: EngineConfig) -> WtServer {
    let server = start(config).await;
    let certificate = WebTransportCertificate::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let listener = bind_webtransport("127.0.0.1:0".parse().unwrap(), &certificate).unwrap();
    let wt_addr = listener.local_addr();
    let sha256 = listener.certificate_sha256();
    assert_eq!(sha256, certificate.sha256());
    let (stop, stopped) = oneshot::channel::<()>();
    let service = server.service.clone();
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        serve_webtransport(listener, service, stop).await.unwrap();
    });
    WtServer {
        server,
        wt_addr,
        sha256,
        _stop: stop,
    }
}

impl WtServer {
    async fn client(&self) -> WtClient {
        let path = format!("{PATH}?EIO=4&transport=webtransport");
        within(WAIT, WtClient::connect(self.wt_addr, &path, self.sha256))
            .await
            .expect("connect")
    }

    /// A new session over WebTransport: its client, sid and open packet.
    async fn open(&self) -> (WtClient, String, serde_json::Value) {
        let mut client = self.client().await;
        client.send_text("0").await.unwrap();
        let open = within(WAIT, client.next_text()).await;
        let json = open_json(&open);
        let sid = json["sid"].as_str().unwrap().to_owned();
        (client, sid, json)
    }
}

async fn next(client: &mut WtClient) -> Option<Frame> {
    within(WAIT, client.next_frame()).await
}

async fn next_text(client: &mut WtClient) -> String {
    within(WAIT, client.next_text()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_open_packet_opens_a_session() {
    let mut wt = start_wt(config()).await;
    let (_client, sid, open) = wt.open().await;
    assert_eq!(open["upgrades"], serde_json::json!([]));
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 20_000);
    assert_eq!(open["maxPayload"], 1_000_000);
    let socket = wt.server.expect_open().await;
    assert_eq!(socket.id().as_str(), sid);
    assert_eq!(socket.transport(), TransportKind::WebTransport);
    let handshake = socket.handshake();
    assert_eq!(handshake.transport, TransportKind::WebTransport);
    assert_eq!(
        handshake.query("transport").as_deref(),
        Some("webtransport")
    );
    assert_eq!(handshake.headers()["host"], wt.wt_addr.to_string());
    assert!(
        handshake
            .remote_addr
            .is_some_and(|addr| addr.ip().is_loopback())
    );
    // The sid is not one a polling request can use.
    wt.server
        .poll(&sid)
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_binary_messages_of_every_length_form_go_both_ways() {
    let mut wt = start_wt(config()).await;
    let (mut client, sid, _) = wt.open().await;
    wt.server.expect_open().await;

    client.send_text("4hello €").await.unwrap();
    assert_eq!(wt.server.expect_text(&sid).await, "hello €");
    assert_eq!(next_text(&mut client).await, "4hello €");

    // 1-, 3- and 9-byte headers, binary and text.
    for len in [3usize, 125, 126, 65_535, 65_536, 300_000] {
        let data = Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        client
            .send_frames(&[Frame::Binary(data.clone())])
            .await
            .unwrap();
        match wt.server.expect_message(&sid).await {
            Message::Binary(got) => assert_eq!(got, data, "{len}"),
            other => panic!("expected binary, got {other:?}"),
        }
        assert_eq!(next(&mut client).await, Some(Frame::Binary(data)), "{len}");

        let text = "x".repeat(len);
        client.send_text(&format!("4{text}")).await.unwrap();
        assert_eq!(wt.server.expect_text(&sid).await, text);
        assert_eq!(next_text(&mut client).await, format!("4{text}"));
    }

    // An empty binary message goes as the text "b" both ways (a length of zero is refused).
    client.send_text("b").await.unwrap();
    match wt.server.expect_message(&sid).await {
        Message::Binary(got) => assert!(got.is_empty()),
        other => panic!("expected binary, got {other:?}"),
    }
    assert_eq!(next(&mut client).await, Some(Frame::Binary(Bytes::new())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_together_arrive_in_order() {
    let mut wt = start_wt(config()).await;
    let (mut client, _sid, _) = wt.open().await;
    let socket = wt.server.expect_open().await;
    let big = Bytes::from(vec![7u8; 10_000]);
    socket
        .send_all(&[
            Frame::message("one"),
            Frame::Binary(big.clone()),
            Frame::message("two"),
        ])
        .unwrap();
    assert_eq!(next_text(&mut client).await, "4one");
    assert_eq!(next(&mut client).await, Some(Frame::Binary(big)));
    assert_eq!(next_text(&mut client).await, "4two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_answered_keep_the_session_and_unanswered_end_it() {
    let quick = config()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(300));
    let mut wt = start_wt(quick).await;
    let (mut client, sid, _) = wt.open().await;
    wt.server.expect_open().await;
    for _ in 0..3 {
        assert_eq!(next_text(&mut client).await, "2");
        client.send_text("3").await.unwrap();
    }
    assert!(!wt.server.socket(&sid).is_closed());
    // No pong this time.
    assert_eq!(next_text(&mut client).await, "2");
    assert_eq!(wt.server.expect_close(&sid).await, CloseReason::PingTimeout);
    within(WAIT, client.until_closed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sessions_upgrade_to_webtransport() {
    let mut wt = start_wt(config()).await;
    let (sid, open) = wt.server.handshake().await;
    assert_eq!(
        open["upgrades"],
        serde_json::json!(["websocket", "webtransport"])
    );
    let socket = wt.server.expect_open().await;

    // A GET waits on polling while the client probes.
    let addr = wt.server.addr;
    let path = poll_path(&sid);
    let pending = tokio::spawn(async move { get(addr, &path).await });

    let mut client = wt.client().await;
    client
        .send_text(&format!("0{{\"sid\":\"{sid}\"}}"))
        .await
        .unwrap();
    client.send_text("2probe").await.unwrap();
    assert_eq!(next_text(&mut client).await, "3probe");
    let answered = within(WAIT, pending).await.unwrap();
    assert_eq!(answered.status, StatusCode::OK);
    assert_eq!(answered.text(), "6");
    assert_eq!(socket.transport(), TransportKind::Polling);

    client.send_text("5").await.unwrap();
    client.send_text("4on webtransport").await.unwrap();
    assert_eq!(wt.server.expect_text(&sid).await, "on webtransport");
    assert_eq!(next_text(&mut client).await, "4on webtransport");
    assert_eq!(socket.transport(), TransportKind::WebTransport);
    assert_eq!(socket.handshake().transport, TransportKind::Polling);
    socket.send(Frame::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(
        next(&mut client).await,
        Some(Frame::binary(vec![1u8, 2, 3]))
    );
    // Polling is over for this session.
    assert_eq!(wt.server.poll(&sid).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_of_unknown_sessions_are_closed() {
    let mut wt = start_wt(config()).await;
    let mut client = wt.client().await;
    client
        .send_text(r#"0{"sid":"AAAAAAAAAAAAAAAAAAAA"}"#)
        .await
        .unwrap();
    assert_eq!(within(WAIT, client.until_closed()).await, vec![]);
    wt.server.expect_quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_packet_that_is_not_an_open_packet_is_closed() {
    let mut wt = start_wt(config()).await;
    let mut client = wt.client().await;
    client.send_text("4hello").await.unwrap();
    assert_eq!(within(WAIT, client.until_closed()).await, vec![]);
    wt.server.expect_quiet(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_max_payload_end_the_session() {
    let mut wt = start_wt(config().max_payload(1_000)).await;
    let (mut client, sid, open) = wt.open().await;
    assert_eq!(open["maxPayload"], 1_000);
    wt.server.expect_open().await;
    // At the limit is fine.
    client
        .send_frames(&[Frame::binary(vec![1u8; 1_000])])
        .await
        .unwrap();
    assert!(matches!(
        wt.server.expect_message(&sid).await,
        Message::Binary(data) if data.len() == 1_000
    ));
    assert!(next(&mut client).await.is_some());
    // One byte over: refused from the header alone, the body never sent.
    client.send_raw(&[0x80 | 126, 0x03, 0xe9]).await.unwrap();
    assert_eq!(
        wt.server.expect_close(&sid).await,
        CloseReason::TransportError
    );
    within(WAIT, client.until_closed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_lengths_end_the_session() {
    for header in [&[0x00u8][..], &[0x80], &[126, 0, 0]] {
        let mut wt = start_wt(config()).await;
        let (mut client, sid, _) = wt.open().await;
        wt.server.expect_open().await;
        client.send_raw(header).await.unwrap();
        assert_eq!(
            wt.server.expect_close(&sid).await,
            CloseReason::TransportError,
            "{header:?}"
        );
        within(WAIT, client.until_closed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_bit_length_past_any_limit_is_refused() {
    let mut wt = start_wt(config()).await;
    let (mut client, sid, _) = wt.open().await;
    wt.server.expect_open().await;
    client
        .send_raw(&[127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_eq!(
        wt.server.expect_close(&sid).await,
        CloseReason::TransportError
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_from_either_side() {
    let mut wt = start_wt(config()).await;
    let (client, sid, _) = wt.open().await;
    wt.server.expect_open().await;
    client.close();
    assert_eq!(
        wt.server.expect_close(&sid).await,
        CloseReason::TransportClose
    );

    let (mut client, sid, _) = wt.open().await;
    let socket = wt.server.expect_open().await;
    socket.send(Frame::message("last words")).unwrap();
    socket.close();
    assert_eq!(wt.server.expect_close(&sid).await, CloseReason::ForcedClose);
    // What was queued before the close is delivered before the session ends.
    let frames = within(WAIT, client.until_closed()).await;
    assert_eq!(frames.first(), Some(&Frame::message("last words")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_off_the_engine_path_are_refused() {
    let wt = start_wt(config()).await;
    let refused = WtClient::connect(wt.wt_addr, "/elsewhere/?EIO=4", wt.sha256).await;
    assert!(refused.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_with_another_hash_is_not_trusted() {
    let wt = start_wt(config()).await;
    let mut wrong = wt.sha256;
    wrong[0] ^= 1;
    let path = format!("{PATH}?EIO=4&transport=webtransport");
    assert!(WtClient::connect(wt.wt_addr, &path, wrong).await.is_err());
}
