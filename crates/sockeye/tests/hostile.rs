//! Hostile input over real sockets. Each case sends something a well-behaved client never
//! would and checks three things: the offender gets a clean error or close (and its session
//! and socket are gone), two well-behaved clients (WebSocket and polling, see
//! [`Bystanders`]) keep exchanging events and acknowledgements during and after, and the
//! process's RSS stays within a bound.
//!
//! Already covered elsewhere, and not repeated here: Engine.IO-level refusals without a
//! Socket.IO layer (`crates/engineio/tests`: 413 at and over `max_payload`, undecodable
//! POSTs and WebSocket messages, `max_packets_per_payload`, overlapping GETs, unknown sids,
//! `max_sessions`, stalled writers), malformed Socket.IO packets (`api_disconnect.rs`:
//! `4{oops`, `49`, unclosed JSON, `42[]`, reserved names, a namespace not joined by a client
//! that joined `/`, a stray binary message), `max_attachments` at a small limit
//! (`api_setup.rs`), the connect timeout (`api_setup.rs`) and `max_pending_acks` refusing a
//! third ack (`api_events.rs`).
//!
//! The tests of this file run one at a time ([`SERIAL`]) so that RSS figures are per case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile_common;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sockeye::{AckError, DisconnectReason, EngineConfig, Io};
use sockeye_testkit::{
    PacketType, QUIET, TestClient, Transport, WAIT, http_request, packet_args, server_socket,
    within,
};
use tokio::time::Instant;

use hostile_common::{
    BINARY, Bystanders, CONTINUATION, Hostile, MIB, RawWs, RssWatch, SERIAL, TEXT, http_chunk,
    placeholder, raw_http, start_post,
};

/// How much the RSS may grow during one case: the cases hold at most a few MiB of input at
/// once, and the test's own clients and buffers share the process. Measured: under 3 MiB.
const CASE_BOUND: u64 = 16 * MIB;

const BAD_REQUEST: &str = r#"{"code":3,"message":"Bad request"}"#;
const UNKNOWN_SID: &str = r#"{"code":1,"message":"Session ID unknown"}"#;

async fn post(
    hostile: &Hostile,
    sid: &str,
    body: impl Into<Bytes>,
) -> sockeye_testkit::HttpResponse {
    http_request(
        hostile.addr(),
        Method::POST,
        &hostile.polling_target(sid),
        &[],
        body.into(),
    )
    .await
    .expect("the POST failed")
}

/// Checks the end of an offender: its socket disconnected for `reason`, its client saw the
/// connection close, its session is gone, and the others still work.
async fn cut_off(
    hostile: &mut Hostile,
    bystanders: &Bystanders,
    client: &mut TestClient,
    id: &str,
    reason: DisconnectReason,
) {
    assert_eq!(hostile.reason_of(id).await, reason, "socket {id}");
    client.expect_closed(WAIT).await;
    hostile.gone(client.sid()).await;
    bystanders.keep_going().await;
}

/// Checks that a client is still fully usable: an acknowledged echo with a binary argument.
async fn still_usable(client: &mut TestClient) {
    let blob = Bytes::from_static(b"\x00\x01still here");
    let id = client.emit_with_ack(
        "/",
        "echo",
        json!(["ok", placeholder(0)]),
        vec![blob.clone()],
    );
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!("ok"), placeholder(0)]);
    assert_eq!(ack.attachments, [blob]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_polling_bodies_are_refused_with_413() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("oversize polling bodies");
    let max = hostile.io().config().engine.max_payload;

    // One byte over max_payload, with its Content-Length.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}",
        hostile.polling_target(client.sid()),
        max + 1
    );
    let body = Bytes::from(format!("4{}", "a".repeat(max)));
    let (status, _) = raw_http(hostile.addr(), &head, body, 1).await;
    assert_eq!(status, 413);
    let reason = DisconnectReason::TransportError;
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    // A Content-Length of a terabyte: refused from the headers, without reading the body.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 1000000000000",
        hostile.polling_target(client.sid())
    );
    let (status, _) = raw_http(hostile.addr(), &head, Bytes::from_static(b"4aaaa"), 1).await;
    assert_eq!(status, 413);
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    // 64 MiB streamed without a length: the server stops reading at max_payload.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked",
        hostile.polling_target(client.sid())
    );
    let chunk = http_chunk(&[b'a'; 64 * 1024]);
    let (status, written) = raw_http(hostile.addr(), &head, chunk, 1024).await;
    assert_eq!(status, 413);
    println!("streamed body: {written} bytes written before the 413");
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_websocket_messages_close_the_connection() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("oversize websocket messages");
    let max = hostile.io().config().engine.max_payload;
    let reason = DisconnectReason::TransportError;

    // A text message and a binary message one byte over max_payload.
    let (mut client, id) = hostile.client(Transport::WebSocket).await;
    client.send_text(&format!("4{}", "a".repeat(max)));
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
    let (mut client, id) = hostile.client(Transport::WebSocket).await;
    client.send_binary(vec![7u8; max + 1]);
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    // A frame header announcing 2^62 bytes: refused from the header, nothing is reserved.
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    let id = raw.join().await;
    raw.send_header(BINARY, true, 1 << 62).await;
    within(WAIT, raw.expect_closed(WAIT)).await;
    assert_eq!(hostile.reason_of(&id).await, reason);
    hostile.gone(&raw.sid).await;

    // Fragments each under the limit whose message is over it.
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    let id = raw.join().await;
    let fragment = vec![b'a'; max / 3 + 1];
    raw.send_frame(TEXT, false, b"42[\"shout\",\"").await;
    for _ in 0..3 {
        raw.send_frame(CONTINUATION, false, &fragment).await;
    }
    raw.send_frame(CONTINUATION, true, b"\"]").await;
    raw.expect_closed(WAIT).await;
    assert_eq!(hostile.reason_of(&id).await, reason);
    hostile.gone(&raw.sid).await;

    // The same fragments adding up to less than the limit make one valid message.
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    raw.join().await;
    raw.send_frame(TEXT, false, b"42[\"shout\",\"").await;
    raw.send_frame(CONTINUATION, false, &fragment).await;
    raw.send_frame(CONTINUATION, true, b"\"]").await;
    let heard = raw.expect_text(WAIT).await;
    assert_eq!(heard.len(), fragment.len() + r#"42["heard",""]"#.len());

    // A frame without the mask every client frame must carry.
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    let id = raw.join().await;
    raw.send_unmasked(TEXT, br#"42["shout",1]"#).await;
    raw.expect_closed(WAIT).await;
    assert_eq!(hostile.reason_of(&id).await, reason);
    hostile.gone(&raw.sid).await;

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_claiming_a_million_attachments_is_refused_before_any_arrives() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("a million attachments");
    let max = hostile.io().config().max_attachments;
    assert_eq!(max, 10);

    let claims = [
        "1000000".to_owned(),
        // Past u64: the count saturates, it does not wrap into a small one.
        "184467440737095516160000".to_owned(),
        (max + 1).to_string(),
    ];
    for transport in [Transport::WebSocket, Transport::Polling] {
        for claim in &claims {
            let (mut client, id) = hostile.client(transport).await;
            client.send_text(&format!(r#"45{claim}-["echo",{}]"#, placeholder(0)));
            client.send_binary(vec![1u8; 16]);
            let reason = DisconnectReason::ParseError;
            cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
        }
        // Exactly max_attachments is fine.
        let (mut client, _) = hostile.client(transport).await;
        let args: Vec<Value> = (0..max).map(placeholder).collect();
        let blobs: Vec<Bytes> = (0..max).map(|i| Bytes::from(vec![i as u8; 8])).collect();
        let ack = client.emit_with_ack("/", "echo", Value::Array(args.clone()), blobs.clone());
        let ack = client.expect_ack("/", ack, WAIT).await;
        assert_eq!((packet_args(&ack), ack.attachments), (args, blobs));
    }

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_that_never_arrive_hold_bounded_memory_until_the_connection_ends() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("attachments that never arrive");
    let max = hostile.io().config().max_attachments;
    let announce = |n: usize| {
        let args: Vec<Value> = (0..n).map(placeholder).collect();
        format!(
            "45{n}-[\"echo\",{}]",
            Value::Array(args).to_string().trim_matches(['[', ']'])
        )
    };

    // WebSocket: nine attachments of almost max_payload out of ten, then nothing. The server
    // keeps the partial packet (as Node does): at most max_attachments × max_payload.
    let (mut client, id) = hostile.client(Transport::WebSocket).await;
    let attachment = Bytes::from(vec![9u8; 999_000]);
    client.send_text(&announce(max));
    for _ in 0..max - 1 {
        client.send_binary(attachment.clone());
    }
    client.expect_no_event(QUIET).await;
    let socket = server_socket(&hostile.io().of("/"), &id);
    assert!(socket.connected());
    bystanders.keep_going().await;
    // Text while attachments are awaited is a protocol error: the connection closes and the
    // partial packet goes with it.
    client.send_text(r#"42["shout",1]"#);
    let reason = DisconnectReason::ParseError;
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    // Polling: the same, and then the client goes away.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    // (The test client sends what is queued in one body: three packets under max_payload.)
    let attachment = Bytes::from(vec![9u8; 300_000]);
    client.send_text(&announce(3));
    client.send_binary(attachment.clone());
    client.send_binary(attachment);
    client.expect_no_event(QUIET).await;
    assert!(server_socket(&hostile.io().of("/"), &id).connected());
    let sid = client.sid().to_owned();
    drop(client);
    assert_eq!(
        hostile.reason_of(&id).await,
        DisconnectReason::TransportClose
    );
    hostile.gone(&sid).await;

    bystanders.finish().await;
    // What the partial packet may hold (max_attachments × max_payload) on top of the usual.
    let partial = (max * hostile.io().config().engine.max_payload) as u64 / 1024;
    rss.assert_growth_below(CASE_BOUND + partial);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_base64_in_a_polling_body_is_a_bad_request() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("bad base64");

    let bodies: [&[u8]; 4] = [
        b"b!!!!",
        b"bA",
        b"bAP8=\xff",
        // A good packet first: the whole body is refused, nothing of it delivered.
        b"42[\"shout\",\"lost\"]\x1eb$$$$",
    ];
    for body in bodies {
        let (mut client, id) = hostile.client(Transport::Polling).await;
        let response = post(&hostile, client.sid(), body.to_vec()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(response.text(), BAD_REQUEST);
        let reason = DisconnectReason::TransportError;
        cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
        let heard = client.try_expect_wire(Duration::ZERO, |p| {
            p.event_name().as_deref() == Some("heard")
        });
        assert!(
            heard.await.is_err(),
            "a packet of a refused body was delivered"
        );
    }

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_closes_the_connection() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("invalid UTF-8");
    let reason = DisconnectReason::TransportError;

    // A WebSocket text frame that is not UTF-8.
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    let id = raw.join().await;
    raw.send_frame(TEXT, true, b"42[\"shout\",\"\xff\xfe\"]")
        .await;
    raw.expect_closed(WAIT).await;
    assert_eq!(hostile.reason_of(&id).await, reason);
    hostile.gone(&raw.sid).await;

    // A character cut between two fragments is fine...
    let mut raw = RawWs::connect(hostile.addr(), "/socket.io/").await;
    let id = raw.join().await;
    let euro = "€".as_bytes();
    raw.send_frame(
        TEXT,
        false,
        &[b"42[\"shout\",\"".as_slice(), &euro[..1]].concat(),
    )
    .await;
    raw.send_frame(
        CONTINUATION,
        true,
        &[&euro[1..], b"\"]".as_slice()].concat(),
    )
    .await;
    assert_eq!(raw.expect_text(WAIT).await, r#"42["heard","€"]"#);
    // ...an invalid sequence across fragments is not.
    raw.send_frame(TEXT, false, b"42[\"shout\",\"\xe2\x82")
        .await;
    raw.send_frame(CONTINUATION, true, b"\x28\"]").await;
    raw.expect_closed(WAIT).await;
    assert_eq!(hostile.reason_of(&id).await, reason);
    hostile.gone(&raw.sid).await;

    // A polling body that is not UTF-8.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let response = post(
        &hostile,
        client.sid(),
        b"42[\"shout\",\"\xc3\x28\"]".to_vec(),
    )
    .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_is_a_parse_error() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("bad JSON");

    let deep = format!(
        r#"42["echo",{}{}]"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let texts = [
        // 100 000 levels of nesting: refused by the parser's depth limit, no stack overflow.
        deep.as_str(),
        r#"42["shout","\ud800"]"#,
        r#"42["shout",1e999999]"#,
        r#"42["shout",1]garbage"#,
        r#"42["shout",{"a":1,}]"#,
        "42[\"shout\",\"\u{1}\"]",
    ];
    for transport in [Transport::WebSocket, Transport::Polling] {
        for text in texts {
            let (mut client, id) = hostile.client(transport).await;
            client.send_text(text);
            let reason = DisconnectReason::ParseError;
            cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
        }
        // Bad JSON in the auth payload of a CONNECT: no socket yet, the connection closes.
        let mut client = TestClient::builder(&hostile.url())
            .transport(transport)
            .connect()
            .await;
        client.send_text(r#"40{"token":}"#);
        client.expect_closed(WAIT).await;
        hostile.gone(client.sid()).await;
    }

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_session_ids_are_refused_and_harm_nobody() {
    let _serial = SERIAL.lock().await;
    let hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("unknown sids");

    // The id of a session that just ended.
    let (client, _) = hostile.client(Transport::Polling).await;
    let stale = client.sid().to_owned();
    client.close();
    hostile.gone(&stale).await;

    let long = "A".repeat(8 * 1024);
    let mut sids = vec![stale, long, "%00%ff".to_owned(), "../../etc".to_owned()];
    sids.extend((0..200).map(|i| format!("{i:020}")));
    for sid in &sids {
        let target = hostile.polling_target(sid);
        for method in [Method::GET, Method::POST] {
            let response = http_request(hostile.addr(), method, &target, &[], "42[\"x\"]".into())
                .await
                .unwrap();
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{sid}");
            assert_eq!(response.text(), UNKNOWN_SID);
        }
    }
    for sid in sids.iter().take(20) {
        let failure = TestClient::builder(&format!("{}?sid={sid}", hostile.url()))
            .try_connect()
            .await
            .expect_err("a WebSocket with an unknown sid was accepted");
        let sockeye_testkit::ConnectFailure::Status(status, body) = failure else {
            panic!("not refused with a status: {failure}");
        };
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::BAD_REQUEST, UNKNOWN_SID)
        );
    }
    assert_eq!(hostile.io().engine().session_count(), bystanders.sessions());

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_polls_and_posts_close_the_session() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("concurrent polls");

    // A second GET while the client's own GET waits: as in Node, the session closes. Whichever
    // GET came second gets 400; the first gets the close packet.
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let response = http_request(
        hostile.addr(),
        Method::GET,
        &hostile.polling_target(client.sid()),
        &[],
        Bytes::new(),
    )
    .await
    .unwrap();
    match response.status {
        StatusCode::BAD_REQUEST => assert_eq!(response.text(), BAD_REQUEST),
        StatusCode::OK => assert!(response.text().ends_with('1'), "{}", response.text()),
        other => panic!("unexpected answer {other}: {}", response.text()),
    }
    let reason = DisconnectReason::TransportError;
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;

    // A POST while another is still being read: as in Node, the second gets 400 and the
    // session closes, so that a session never buffers more than one body at a time (else
    // each of a thousand overlapping POSTs could hold almost max_payload).
    let (mut client, id) = hostile.client(Transport::Polling).await;
    let target = hostile.polling_target(client.sid());
    let max = hostile.io().config().engine.max_payload;
    let first = start_post(hostile.addr(), &target, max, max - 1000).await;
    let second = post(&hostile, client.sid(), r#"42["shout",1]"#).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.text(), BAD_REQUEST);
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
    drop(first);

    // POSTs one after the other are all taken, of course.
    let (mut client, _) = hostile.client(Transport::Polling).await;
    for n in 100..110u64 {
        let response = post(&hostile, client.sid(), format!(r#"42{n}["echo",{n}]"#)).await;
        assert_eq!(response.text(), "ok");
    }
    for n in 100..110u64 {
        assert_eq!(
            packet_args(&client.expect_ack("/", n, WAIT).await),
            [json!(n)]
        );
    }
    still_usable(&mut client).await;

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_for_namespaces_never_joined_close_the_connection() {
    let _serial = SERIAL.lock().await;
    let connect_timeout = Duration::from_millis(1500);
    let mut hostile = Hostile::start(Io::builder().connect_timeout(connect_timeout)).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("namespaces never joined");

    // Without any CONNECT: an event, an ack and a DISCONNECT close the connection, as in Node.
    for transport in [Transport::WebSocket, Transport::Polling] {
        for text in [r#"42["echo",1]"#, r#"43/admin,1[]"#, "41/admin,"] {
            let mut client = TestClient::builder(&hostile.url())
                .transport(transport)
                .connect()
                .await;
            client.send_text(text);
            client.expect_closed(WAIT).await;
            hostile.gone(client.sid()).await;
        }
    }
    bystanders.keep_going().await;

    // CONNECTs to namespaces that do not exist are refused one by one; no namespace is
    // created, and a connection that joined one stays usable.
    let namespaces = hostile.io().namespaces().len();
    let (mut client, _) = hostile.client(Transport::WebSocket).await;
    for n in 0..2_000 {
        client.send_connect(&format!("/nope-{n}"), None);
    }
    for n in 0..2_000 {
        let refusal = client
            .expect_connect_answer(&format!("/nope-{n}"), WAIT)
            .await
            .expect_err("an unknown namespace was joined");
        assert_eq!(refusal["message"], "Invalid namespace");
    }
    assert_eq!(hostile.io().namespaces().len(), namespaces);
    still_usable(&mut client).await;

    // A connection that only ever asks for namespaces that do not exist joins none: the
    // connect timeout closes it.
    let started = Instant::now();
    let mut client = TestClient::connect(&hostile.url()).await;
    client.send_connect("/nope", None);
    client
        .expect_connect_answer("/nope", WAIT)
        .await
        .unwrap_err();
    client.expect_closed(WAIT).await;
    let waited = started.elapsed();
    assert!(
        waited >= connect_timeout.mul_f32(0.9),
        "closed after {waited:?}"
    );
    hostile.gone(client.sid()).await;
    // The one that joined is left alone.
    assert!(hostile.reasons.try_next().is_none());

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_for_ids_never_sent_are_ignored() {
    let _serial = SERIAL.lock().await;
    let mut hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("acks never asked for");

    for transport in [Transport::WebSocket, Transport::Polling] {
        let (mut client, id) = hostile.client(transport).await;
        let socket = server_socket(&hostile.io().of("/"), &id);
        for text in [
            "430[]",
            "431[1]",
            r#"4399["x",{"y":2}]"#,
            "43/,5[]",
            "4318446744073709551615[]",
        ] {
            client.send_text(text);
        }
        client.send_text(&format!("461-7[{}]", placeholder(0)));
        client.send_binary(vec![1u8, 2, 3]);
        // Packets are handled in order: once this round trip is done, so are those acks.
        still_usable(&mut client).await;

        // A real acknowledgement, answered twice: the second is ignored.
        let asking = socket.clone();
        let pending = tokio::spawn(async move {
            asking
                .timeout(WAIT)
                .emit_with_ack::<_, String>("question", &())
                .await
        });
        let question = client.expect_event("/", "question", WAIT).await;
        let ack_id = question.id.unwrap();
        client.ack("/", ack_id, json!(["first"]), vec![]);
        client.ack("/", ack_id, json!(["second"]), vec![]);
        assert_eq!(within(WAIT, pending).await.unwrap(), Ok("first".to_owned()));

        still_usable(&mut client).await;
        assert!(socket.connected());
        assert!(hostile.reasons.try_next().is_none());

        // An id past u64 is not a number the protocol allows: a parse error.
        client.send_text("43184467440737095516150[]");
        let reason = DisconnectReason::ParseError;
        cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
    }

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_pings_from_an_eio4_client_are_ignored() {
    let _serial = SERIAL.lock().await;
    let hostile = Hostile::start(Io::builder()).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("client pings");

    for transport in [Transport::WebSocket, Transport::Polling] {
        let (mut client, id) = hostile.client(transport).await;
        // In v4 the server pings; a client's ping gets no pong, an unsolicited pong, a noop
        // or an upgrade on a settled transport change nothing. (The test client reports any
        // Engine.IO packet but a ping as a protocol error, so a pong back would fail below.)
        for text in ["2", "2probe", "3", "3probe", "6", "5"] {
            client.send_text(text);
        }
        for _ in 0..500 {
            client.send_text("2");
        }
        client.expect_no_event(QUIET).await;
        still_usable(&mut client).await;
        assert!(server_socket(&hostile.io().of("/"), &id).connected());
    }

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_packets_per_payload_bounds_a_polling_body() {
    let _serial = SERIAL.lock().await;
    let engine = EngineConfig::default().max_packets_per_payload(3);
    let mut hostile = Hostile::start(Io::builder().engine(engine)).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("max_packets_per_payload");

    let (mut client, id) = hostile.client(Transport::Polling).await;
    let body = |ids: std::ops::Range<u64>| {
        ids.map(|n| format!(r#"42{n}["echo",{n}]"#))
            .collect::<Vec<_>>()
            .join("\u{1e}")
    };
    let response = post(&hostile, client.sid(), body(10..13)).await;
    assert_eq!(response.text(), "ok");
    for n in 10..13 {
        assert_eq!(
            packet_args(&client.expect_ack("/", n, WAIT).await),
            [json!(n)]
        );
    }
    let response = post(&hostile, client.sid(), body(20..24)).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.text(), BAD_REQUEST);
    let reason = DisconnectReason::TransportError;
    cut_off(&mut hostile, &bystanders, &mut client, &id, reason).await;
    // None of the refused body's packets was delivered.
    let acks = client.try_expect_wire(Duration::ZERO, |p| p.kind.is_ack());
    assert!(
        acks.await.is_err(),
        "a packet of a refused body was delivered"
    );

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_acknowledges_holds_at_most_max_pending_acks() {
    let _serial = SERIAL.lock().await;
    let builder = Io::builder().max_pending_acks(4);
    let hostile = Hostile::start(builder).await;
    let bystanders = Bystanders::start(&hostile.url()).await;
    let rss = RssWatch::start("max_pending_acks");

    let (mut client, id) = hostile.client(Transport::WebSocket).await;
    let socket = server_socket(&hostile.io().of("/"), &id);
    let ask = |timeout: Duration| {
        let socket = socket.clone();
        tokio::spawn(async move {
            socket
                .timeout(timeout)
                .emit_with_ack::<_, u32>("q", &())
                .await
        })
    };
    let short = Duration::from_millis(800);
    let mut asked = Vec::new();
    for _ in 0..4 {
        asked.push(ask(short));
        client.expect_event("/", "q", WAIT).await;
    }
    // Past the limit: refused at once, nothing sent.
    for _ in 0..1_000 {
        assert_eq!(
            within(WAIT, ask(WAIT)).await.unwrap(),
            Err(AckError::TooManyPending)
        );
    }
    client.expect_no_event(QUIET).await;
    // The unanswered ones time out and make room again.
    for pending in asked {
        assert_eq!(within(WAIT, pending).await.unwrap(), Err(AckError::Timeout));
    }
    let again = ask(WAIT);
    let question = client.expect_event("/", "q", WAIT).await;
    client.ack("/", question.id.unwrap(), json!([7]), vec![]);
    assert_eq!(within(WAIT, again).await.unwrap(), Ok(7));
    assert_eq!(question.kind, PacketType::Event);
    assert!(socket.connected());

    bystanders.finish().await;
    rss.assert_growth_below(CASE_BOUND);
}
