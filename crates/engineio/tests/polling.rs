//! HTTP long-polling: GETs that wait for the outbox, payload encoding, POSTs, overlapping polls,
//! body limits, the outbox bound and JSONP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode, header};
use sockeye_engineio::{CloseReason, Frame, Message, SendError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_waits_for_frames() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let socket = server.socket(&sid);

    let addr = server.addr;
    let path = poll_path(&sid);
    let poll = tokio::spawn(async move { get(addr, &path).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !poll.is_finished(),
        "the GET must wait while the outbox is empty"
    );

    // Queued together so that they are answered together.
    socket
        .send_all(&[
            Frame::message("hello"),
            Frame::binary(vec![0u8, 1, 2, 255]),
            Frame::message("wörld €"),
        ])
        .unwrap();
    let response = within(WAIT, poll).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "text/plain; charset=UTF-8"
    );
    assert_eq!(response.text(), "4hello\u{1e}bAAEC/w==\u{1e}4wörld €");
    assert_eq!(socket.queued(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_before_the_get_come_in_one_payload_in_order() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let socket = server.socket(&sid);
    for i in 0..1000 {
        socket.send(Frame::message(&format!("m{i}"))).unwrap();
    }
    socket.send(Frame::binary(vec![1u8, 2, 3])).unwrap();
    assert_eq!(socket.queued(), 1001);

    let response = server.poll(&sid).await;
    assert_eq!(response.status, StatusCode::OK);
    let packets = response.packets();
    assert_eq!(packets.len(), 1001);
    for (i, packet) in packets[..1000].iter().enumerate() {
        assert_eq!(packet, &format!("4m{i}"));
    }
    assert_eq!(packets[1000], "bAQID");
    assert_eq!(socket.queued(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answers_ok_and_delivers_its_packets_in_order() {
    let mut server = start_with(config(), false).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;

    let response = server
        .post(&sid, "4one\u{1e}bAQID\u{1e}4twö 😀\u{1e}2\u{1e}6")
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "ok");
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "text/html; charset=UTF-8"
    );

    assert_eq!(server.expect_text(&sid).await, "one");
    assert_eq!(
        server.expect_message(&sid).await,
        Message::Binary(Bytes::from_static(&[1, 2, 3]))
    );
    assert_eq!(server.expect_text(&sid).await, "twö 😀");
    // A ping or noop from the client is no message.
    server.expect_quiet(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_echo_over_polling() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    assert_eq!(server.post(&sid, "4hi\u{1e}bAP8=").await.text(), "ok");
    let mut packets = Vec::new();
    while packets.len() < 2 {
        packets.extend(within(WAIT, server.poll(&sid)).await.packets());
    }
    assert_eq!(packets, ["4hi", "bAP8="]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_get_closes_the_session() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;

    let addr = server.addr;
    let path = poll_path(&sid);
    let first = tokio::spawn(async move { get(addr, &path).await });
    // Long enough for the first GET to be waiting in the session.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!first.is_finished());

    let second = server.poll(&sid).await;
    second.assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    let first = within(WAIT, first).await.unwrap();
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.text(), "1");

    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_refused(400, r#"{"code":1,"message":"Session ID unknown"}"#);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_over_max_payload_is_refused_with_413_and_closes_the_session() {
    let mut server = start_with(config().max_payload(1000), false).await;

    // Exactly at the limit is fine.
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    let body = format!("4{}", "a".repeat(999));
    assert_eq!(server.post(&sid, body).await.text(), "ok");
    assert_eq!(server.expect_text(&sid).await.len(), 999);

    // One byte more, with a Content-Length.
    let body = format!("4{}", "a".repeat(1000));
    let response = server.post(&sid, body).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_refused(400, r#"{"code":1,"message":"Session ID unknown"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_post_over_max_payload_is_refused_with_413() {
    let mut server = start_with(config().max_payload(1000), false).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;

    // No Content-Length: the limit is found while reading.
    let chunks = (0..5)
        .map(|i| Bytes::from(format!("{}", i).repeat(300)))
        .collect();
    let request = Request::builder()
        .method(Method::POST)
        .uri(poll_path(&sid))
        .body(chunked(chunks))
        .unwrap();
    let response = send(server.addr, request).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
    assert_eq!(server.service.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_post_closes_the_session() {
    let mut server = start(config()).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    server
        .post(&sid, "x-not-a-packet")
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_with_too_many_packets_closes_the_session() {
    let mut server = start(config().max_packets_per_payload(3)).await;
    let (sid, _) = server.handshake().await;
    server.expect_open().await;
    server
        .post(&sid, "4a\u{1e}4b\u{1e}4c\u{1e}4d")
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_on_a_session_are_bad_requests() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    send(server.addr, request(Method::PUT, &poll_path(&sid), "4x"))
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_is_bounded() {
    let server = start(config().outbox_capacity(4)).await;
    let (sid, _) = server.handshake().await;
    let socket = server.socket(&sid);

    for i in 0..3 {
        socket.send(Frame::message(&i.to_string())).unwrap();
    }
    // Several frames go in together or not at all.
    assert_eq!(
        socket.send_all(&[Frame::message("x"), Frame::message("y")]),
        Err(SendError::Full)
    );
    assert_eq!(socket.queued(), 3);
    socket.send(Frame::message("3")).unwrap();
    assert_eq!(socket.send(Frame::message("4")), Err(SendError::Full));
    assert_eq!(socket.queued(), 4);

    // The client reads; there is room again.
    assert_eq!(server.poll(&sid).await.packets(), ["40", "41", "42", "43"]);
    assert_eq!(socket.queued(), 0);
    socket
        .send_all(&[Frame::message("x"), Frame::message("y")])
        .unwrap();
    assert_eq!(server.poll(&sid).await.packets(), ["4x", "4y"]);
}

/// `___eio[j]("...");` → the payload inside the JavaScript string literal.
fn unwrap_jsonp(body: &str, index: u32) -> String {
    let prefix = format!("___eio[{index}](");
    let literal = body
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a JSONP answer: {body}"));
    serde_json::from_str(literal).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonp_polling() {
    let mut server = start(config()).await;
    let response = get(server.addr, "/engine.io/?EIO=4&transport=polling&j=0").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        "text/javascript; charset=UTF-8"
    );
    assert!(response.text().starts_with("___eio[0](\"0{"));
    let open = open_json(&unwrap_jsonp(response.text(), 0));
    let sid = open["sid"].as_str().unwrap().to_owned();
    server.expect_open().await;

    // A POST is a form whose `d` field carries the payload.
    let path = format!("{}&j=0", poll_path(&sid));
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("d", "4hi \"there\"\u{1e}4two")
        .finish();
    let mut request = request(Method::POST, &path, form);
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let response = send(server.addr, request).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "ok");
    assert_eq!(server.expect_text(&sid).await, "hi \"there\"");
    assert_eq!(server.expect_text(&sid).await, "two");

    // The echoes come back wrapped.
    let mut payload = Vec::new();
    while payload.len() < 2 {
        let response = within(WAIT, get(server.addr, &path)).await;
        assert_eq!(response.status, StatusCode::OK);
        payload.extend(split_payload(&unwrap_jsonp(response.text(), 0)));
    }
    assert_eq!(payload, ["4hi \"there\"", "4two"]);

    // Exactly the JavaScript the client evaluates.
    server.socket(&sid).send(Frame::message("a\"b")).unwrap();
    let response = within(WAIT, get(server.addr, &path)).await;
    assert_eq!(response.text(), r#"___eio[0]("4a\"b");"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonp_post_without_data_is_a_bad_request() {
    let server = start(config()).await;
    let response = get(server.addr, "/engine.io/?EIO=4&transport=polling&j=3").await;
    let open = open_json(&unwrap_jsonp(response.text(), 3));
    let sid = open["sid"].as_str().unwrap();
    let path = format!("{}&j=3", poll_path(sid));
    send(server.addr, request(Method::POST, &path, "x=1"))
        .await
        .assert_refused(400, r#"{"code":3,"message":"Bad request"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonp_can_be_turned_off() {
    let refused = r#"{"code":3,"message":"JSONP disabled"}"#;
    let server = start(config().jsonp(false)).await;
    get(server.addr, "/engine.io/?EIO=4&transport=polling&j=0")
        .await
        .assert_refused(400, refused);
    // A session opened over XHR polling cannot switch to JSONP either.
    let (sid, _) = server.handshake().await;
    let path = format!("{}&j=0", poll_path(&sid));
    get(server.addr, &path).await.assert_refused(400, refused);
    // XHR polling still works.
    server.socket(&sid).send(Frame::message("still")).unwrap();
    assert_eq!(server.poll(&sid).await.packets(), ["4still"]);
}

/// A data GET with `Accept-Encoding: accept` once `text` is queued.
async fn poll_accepting(server: &Server, sid: &str, text: &str, accept: Option<&str>) -> Response {
    server.socket(sid).send(Frame::message(text)).unwrap();
    let mut request = request(Method::GET, &poll_path(sid), Bytes::new());
    if let Some(accept) = accept {
        request
            .headers_mut()
            .insert(header::ACCEPT_ENCODING, accept.parse().unwrap());
    }
    send(server.addr, request).await
}

fn inflate(response: &Response) -> String {
    use std::io::Read;
    let mut out = String::new();
    match response.header(header::CONTENT_ENCODING) {
        "gzip" => flate2::read::GzDecoder::new(&response.body[..])
            .read_to_string(&mut out)
            .unwrap(),
        "deflate" => flate2::read::ZlibDecoder::new(&response.body[..])
            .read_to_string(&mut out)
            .unwrap(),
        other => panic!("not compressed: {other:?}"),
    };
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_are_compressed_for_clients_that_accept_it() {
    let server = start(config()).await;
    let (sid, _) = server.handshake().await;
    let large = "the quick brown fox jumps over the lazy dog; ".repeat(100);

    let gzip = poll_accepting(&server, &sid, &large, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(gzip.status, StatusCode::OK);
    assert_eq!(gzip.header(header::CONTENT_ENCODING), "gzip");
    assert_eq!(
        gzip.header(header::CONTENT_TYPE),
        "text/plain; charset=UTF-8"
    );
    assert!(
        gzip.body.len() < large.len() / 4,
        "{} bytes",
        gzip.body.len()
    );
    assert_eq!(inflate(&gzip), format!("4{large}"));

    let deflate = poll_accepting(&server, &sid, &large, Some("deflate")).await;
    assert_eq!(deflate.header(header::CONTENT_ENCODING), "deflate");
    assert_eq!(inflate(&deflate), format!("4{large}"));

    // Below the threshold (1 024 bytes), or for a client that does not ask: as it is.
    let small = poll_accepting(&server, &sid, "hello", Some("gzip")).await;
    assert_eq!(small.header(header::CONTENT_ENCODING), "");
    assert_eq!(small.text(), "4hello");
    let plain = poll_accepting(&server, &sid, &large, None).await;
    assert_eq!(plain.header(header::CONTENT_ENCODING), "");
    assert_eq!(plain.text(), format!("4{large}"));
    let refused = poll_accepting(&server, &sid, &large, Some("gzip;q=0, br")).await;
    assert_eq!(refused.header(header::CONTENT_ENCODING), "");
    assert_eq!(refused.text(), format!("4{large}"));

    // Larger than a runtime thread should spend on it: compressed on the blocking pool.
    let huge = "0123456789abcdef".repeat(40_000);
    let response = poll_accepting(&server, &sid, &huge, Some("gzip")).await;
    assert_eq!(inflate(&response), format!("4{huge}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_can_be_turned_off_or_given_a_threshold() {
    let large = "x".repeat(5000);
    let off = start(config().http_compression(None)).await;
    let (sid, _) = off.handshake().await;
    let response = poll_accepting(&off, &sid, &large, Some("gzip")).await;
    assert_eq!(response.header(header::CONTENT_ENCODING), "");
    assert_eq!(response.text(), format!("4{large}"));

    let low = sockeye_engineio::HttpCompression::default().threshold(4);
    let eager = start(config().http_compression(Some(low))).await;
    let (sid, _) = eager.handshake().await;
    let response = poll_accepting(&eager, &sid, "hello", Some("gzip")).await;
    assert_eq!(inflate(&response), "4hello");
}
