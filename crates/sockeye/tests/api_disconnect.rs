//! Disconnections: `disconnecting` and `disconnect` handlers and each reason (client namespace
//! disconnect, server namespace disconnect, transport close, ping timeout, parse error, forced
//! server close), `socket.disconnect(true)` closing the whole session, and a slow client that
//! is cut off while the others keep receiving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use sockeye::{DisconnectReason, EmitError, EngineConfig, Io, IoBuilder, Room, Socket};
use sockeye_testkit::{
    QUIET, Recorder, Records, TestClient, TestServer, Transport, WAIT, eventually, recorder,
    server_socket,
};

/// What the disconnect handlers of a socket saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// `disconnecting`: the reason, the rooms then, and whether it was still connected.
    Disconnecting(String, DisconnectReason, Vec<String>),
    /// `disconnect`: the reason, the rooms left, and whether it was still connected.
    Disconnect(String, DisconnectReason, Vec<String>, bool),
}

fn sorted(rooms: Vec<Room>) -> Vec<String> {
    let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    rooms.sort();
    rooms
}

/// Records what every socket's disconnect handlers see; sockets join `room` on connection.
fn watch(io: &Io, nsp: &str, seen: Recorder<Seen>) {
    io.of(nsp).on_connection(move |socket: Socket| {
        let seen = seen.clone();
        async move {
            socket.join("room");
            let disconnecting = seen.clone();
            socket.on_disconnecting(move |socket: Socket, reason| {
                let seen = disconnecting.clone();
                async move {
                    seen.record(Seen::Disconnecting(
                        socket.ns().name().to_owned(),
                        reason,
                        sorted(socket.rooms()),
                    ));
                }
            });
            socket.on_disconnect(move |socket: Socket, reason| {
                let seen = seen.clone();
                async move {
                    seen.record(Seen::Disconnect(
                        socket.ns().name().to_owned(),
                        reason,
                        sorted(socket.rooms()),
                        socket.connected(),
                    ));
                }
            });
        }
    });
}

async fn watched(builder: IoBuilder, namespaces: &[&str]) -> (TestServer, Records<Seen>) {
    let server = TestServer::start(builder).await;
    let (seen, records) = recorder();
    for nsp in namespaces {
        watch(server.io(), nsp, seen.clone());
    }
    (server, records)
}

/// Expects the `disconnecting` then `disconnect` records of one socket.
async fn expect_disconnected(
    records: &mut Records<Seen>,
    nsp: &str,
    sid: &str,
    reason: DisconnectReason,
) {
    let mut rooms = vec!["room".to_owned(), sid.to_owned()];
    rooms.sort();
    assert_eq!(
        records.next().await,
        Seen::Disconnecting(nsp.to_owned(), reason, rooms),
        "disconnecting sees the socket in its rooms"
    );
    assert_eq!(
        records.next().await,
        Seen::Disconnect(nsp.to_owned(), reason, vec![], false),
        "disconnect comes after the socket left its rooms"
    );
}

#[tokio::test]
async fn a_client_leaving_a_namespace() {
    let (server, mut records) = watched(Io::builder(), &["/", "/admin"]).await;
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    client.connect_ns("/admin", None).await.unwrap();

    client.disconnect_ns("/");
    expect_disconnected(
        &mut records,
        "/",
        &sid,
        DisconnectReason::ClientNamespaceDisconnect,
    )
    .await;
    assert_eq!(
        DisconnectReason::ClientNamespaceDisconnect.to_string(),
        "client namespace disconnect"
    );
    // The other namespace and the session go on; `/` can be joined again, as a new socket.
    assert_eq!(server.io().of("/admin").sockets().len(), 1);
    let again = client.connect_ns("/", None).await.unwrap();
    assert_ne!(again, sid);
    records.expect_none(QUIET).await;
    assert!(!client.is_closed());
}

#[tokio::test]
async fn the_server_removing_a_socket_from_its_namespace() {
    let (server, mut records) = watched(Io::builder(), &["/", "/admin"]).await;
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    let admin_sid = client.connect_ns("/admin", None).await.unwrap();

    let socket = server_socket(&server.io().of("/"), &sid);
    socket.disconnect(false);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, "1");
    expect_disconnected(
        &mut records,
        "/",
        &sid,
        DisconnectReason::ServerNamespaceDisconnect,
    )
    .await;
    assert_eq!(socket.emit("late", &()), Err(EmitError::Disconnected));
    // A second call does nothing.
    socket.disconnect(false);

    server_socket(&server.io().of("/admin"), &admin_sid).disconnect(false);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, "1/admin,");
    expect_disconnected(
        &mut records,
        "/admin",
        &admin_sid,
        DisconnectReason::ServerNamespaceDisconnect,
    )
    .await;
    // The session itself stays open.
    client.connect_ns("/", None).await.unwrap();
}

#[tokio::test]
async fn disconnect_with_close_ends_the_session_and_its_other_namespaces() {
    let (server, mut records) = watched(Io::builder(), &["/", "/admin"]).await;
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    let admin_sid = client.connect_ns("/admin", None).await.unwrap();
    let mut other = TestClient::connect(&server.url()).await;
    other.connect_ns("/", None).await.unwrap();

    server_socket(&server.io().of("/admin"), &admin_sid).disconnect(true);
    client.expect_disconnect("/", WAIT).await;
    client.expect_disconnect("/admin", WAIT).await;
    client.expect_closed(WAIT).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(records.next().await);
    }
    for (nsp, id) in [("/", &sid), ("/admin", &admin_sid)] {
        let mut rooms = vec!["room".to_owned(), id.clone()];
        rooms.sort();
        let reason = DisconnectReason::ForcedServerClose;
        assert!(seen.contains(&Seen::Disconnecting(nsp.to_owned(), reason, rooms)));
        assert!(seen.contains(&Seen::Disconnect(nsp.to_owned(), reason, vec![], false)));
    }
    eventually(WAIT, || server.io().engine().session_count() == 1).await;
    // Other connections are not affected.
    other.expect_no_event(QUIET).await;
    assert_eq!(server.io().of("/").sockets().len(), 1);
}

#[tokio::test]
async fn the_transport_closing() {
    let (server, mut records) = watched(Io::builder(), &["/"]).await;

    // A WebSocket closed cleanly.
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    client.close();
    expect_disconnected(&mut records, "/", &sid, DisconnectReason::TransportClose).await;

    // A connection that drops without a close frame.
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    drop(client);
    expect_disconnected(&mut records, "/", &sid, DisconnectReason::TransportClose).await;

    // A polling client sending the Engine.IO close packet.
    let mut client = TestClient::connect_polling(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    client.close();
    expect_disconnected(&mut records, "/", &sid, DisconnectReason::TransportClose).await;
    assert!(server.io().of("/").sockets().is_empty());
}

#[tokio::test]
async fn a_client_that_stops_answering_pings() {
    let engine = EngineConfig::default()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_secs(1));
    let (server, mut records) = watched(Io::builder().engine(engine), &["/"]).await;
    let mut silent = TestClient::connect(&server.url()).await;
    let sid = silent.connect_ns("/", None).await.unwrap();
    let mut alive = TestClient::connect(&server.url()).await;
    alive.connect_ns("/", None).await.unwrap();

    silent.set_auto_pong(false);
    expect_disconnected(&mut records, "/", &sid, DisconnectReason::PingTimeout).await;
    silent.expect_closed(WAIT).await;
    // The other one answers its pings and stays.
    alive.expect_ping(WAIT).await;
    alive.expect_ping(WAIT).await;
    assert_eq!(server.io().of("/").sockets().len(), 1);
    records.expect_none(Duration::ZERO).await;
}

#[tokio::test]
async fn malformed_input_is_a_parse_error() {
    let (server, mut records) = watched(Io::builder(), &["/"]).await;
    let malformed: [(&str, Option<&[u8]>); 7] = [
        ("4{oops", None),
        ("49", None),
        (r#"42["unclosed"#, None),
        ("42[]", None),
        (r#"42["disconnect"]"#, None),
        (r#"42/not-joined,["x"]"#, None),
        ("", Some(b"\x01\x02")),
    ];
    for (text, binary) in malformed {
        for transport in [Transport::WebSocket, Transport::Polling] {
            let mut client = TestClient::builder(&server.url())
                .transport(transport)
                .connect()
                .await;
            let sid = client.connect_ns("/", None).await.unwrap();
            match binary {
                Some(data) => client.send_binary(data.to_vec()),
                None => client.send_text(text),
            }
            let mut rooms = vec!["room".to_owned(), sid.clone()];
            rooms.sort();
            let reason = DisconnectReason::ParseError;
            assert_eq!(
                records.next().await,
                Seen::Disconnecting("/".into(), reason, rooms),
                "{text:?} {binary:?} over {transport:?}"
            );
            records.next().await;
            client.expect_closed(WAIT).await;
        }
    }
}

#[tokio::test]
async fn a_slow_client_is_cut_off_while_the_others_keep_receiving() {
    let capacity = 8;
    let engine = EngineConfig::default().outbox_capacity(capacity);
    let (server, mut records) = watched(Io::builder().engine(engine), &["/"]).await;
    let mut slow = TestClient::connect(&server.url()).await;
    let slow_sid = slow.connect_ns("/", None).await.unwrap();
    let mut fast = TestClient::connect(&server.url()).await;
    let fast_sid = fast.connect_ns("/", None).await.unwrap();
    let ns = server.io().of("/");
    let slow_socket = server_socket(&ns, &slow_sid);
    let fast_socket = server_socket(&ns, &fast_sid);

    slow.pause_reading();
    let big = "x".repeat(256 * 1024);
    let mut outcome = None;
    for round in 0..2_000u32 {
        if let Err(error) = slow_socket.emit("big", &big) {
            outcome = Some((round, error));
            break;
        }
        // Volatile packets to a client that is behind are dropped, not queued.
        if slow_socket.engine().queued() > 0 {
            slow_socket.volatile().emit("volatile", &round).unwrap();
            assert!(slow_socket.connected());
        }
        // The fast client gets every tick meanwhile (this also paces the loop).
        fast_socket.emit("tick", &round).unwrap();
        let tick = fast.expect_event("/", "tick", WAIT).await;
        assert_eq!(tick.args().unwrap(), [json!(round)]);
    }
    let (round, error) = outcome.expect("the slow client was never cut off");
    assert_eq!(error, EmitError::OutboxFull, "after {round} rounds");
    assert!(slow_socket.engine().queued() <= capacity);

    let mut rooms = vec!["room".to_owned(), slow_sid.clone()];
    rooms.sort();
    assert_eq!(
        records.next().await,
        Seen::Disconnecting("/".into(), DisconnectReason::SlowClient, rooms)
    );
    records.next().await;
    assert!(!slow_socket.connected());
    assert_eq!(slow_socket.emit("big", &()), Err(EmitError::Disconnected));

    // The others are not affected.
    server.io().emit("after", &()).unwrap();
    fast.expect_event("/", "after", WAIT).await;
    assert_eq!(ns.sockets().len(), 1);
    assert_eq!(DisconnectReason::SlowClient.to_string(), "slow client");
}
