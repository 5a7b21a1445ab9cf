//! Rooms and broadcasts: join and leave, the operators (`to`, `except`, `broadcast`, socket
//! `to`, `local`, `volatile`, `timeout(..).emit_with_ack`), `fetch_sockets` and what can be
//! done to fetched sockets, bulk `sockets_join` / `sockets_leave` / `disconnect_sockets`, and
//! the namespace's view of its rooms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use serde_json::json;
use sockeye::{AckError, BroadcastOperator, Io, Room, Socket, SocketId};
use sockeye_testkit::{QUIET, TestClient, TestServer, WAIT, eventually, server_socket, within};

/// `n` clients connected to `/`, each with its server-side socket.
async fn clients(server: &TestServer, n: usize) -> (Vec<TestClient>, Vec<Socket>) {
    let mut clients = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..n {
        let mut client = TestClient::connect(&server.url()).await;
        let sid = client.connect_ns("/", None).await.unwrap();
        sockets.push(server_socket(&server.io().of("/"), &sid));
        clients.push(client);
    }
    (clients, sockets)
}

fn set<T: Ord, I: IntoIterator<Item = T>>(items: I) -> BTreeSet<T> {
    items.into_iter().collect()
}

fn names(rooms: Vec<Room>) -> BTreeSet<String> {
    rooms.iter().map(|room| room.to_string()).collect()
}

fn ids(sockets: &[&Socket]) -> BTreeSet<SocketId> {
    sockets.iter().map(|socket| socket.id()).collect()
}

#[tokio::test]
async fn sockets_join_and_leave_one_or_many_rooms() {
    let server = TestServer::start(Io::builder()).await;
    let (_clients, sockets) = clients(&server, 1).await;
    let socket = &sockets[0];
    let id = socket.id().to_string();
    assert_eq!(names(socket.rooms()), set([id.clone()]), "its own room");

    socket.join("a");
    socket.join(["b", "c"]);
    socket.join(vec!["d".to_owned()]);
    socket.join("a");
    assert_eq!(
        names(socket.rooms()),
        set(["a", "b", "c", "d", &id].map(String::from))
    );

    socket.leave("a");
    socket.leave(vec!["b", "c"]);
    socket.leave("never-joined");
    assert_eq!(names(socket.rooms()), set(["d".to_owned(), id.clone()]));
    let ns = server.io().of("/");
    assert_eq!(names(ns.rooms()), set(["d".to_owned(), id]));
    assert_eq!(ns.room_members("d"), [socket.id()]);
    assert!(ns.room_members("a").is_empty());
}

/// Sends `marker` to every client, then returns, per client, the events that arrived before
/// it: a client's packets arrive in order, so this sees every event of the broadcast before.
async fn delivered(io: &Io, clients: &mut [TestClient]) -> Vec<Vec<String>> {
    io.emit("marker", &()).unwrap();
    let mut all = Vec::new();
    for client in clients.iter_mut() {
        let mut events = Vec::new();
        loop {
            let packet = client.recv_packet(WAIT).await;
            match packet.event_name().as_deref() {
                Some("marker") => break,
                Some(name) => events.push(name.to_owned()),
                None => panic!("unexpected packet {packet:?}"),
            }
        }
        all.push(events);
    }
    all
}

#[tokio::test]
async fn broadcast_operators_choose_their_targets() {
    let server = TestServer::start(Io::builder()).await;
    let io = server.io().clone();
    io.of("/other");
    let (mut clients, sockets) = clients(&server, 4).await;
    // c0 in r1; c1 in r1 and r2; c2 in r2; c3 in none.
    sockets[0].join("r1");
    sockets[1].join(["r1", "r2"]);
    sockets[2].join("r2");

    let cases: Vec<(&str, BroadcastOperator, [bool; 4])> = vec![
        ("to r1", io.to("r1"), [true, true, false, false]),
        // A socket in several of the rooms gets the event once.
        ("to r1 r2", io.to(["r1", "r2"]), [true, true, true, false]),
        (
            "to r1 to r2",
            io.to("r1").to("r2"),
            [true, true, true, false],
        ),
        ("within r2", io.within("r2"), [false, true, true, false]),
        ("except r2", io.except("r2"), [true, false, false, true]),
        (
            "to r1 r2 except r2",
            io.to(["r1", "r2"]).except("r2"),
            [true, false, false, false],
        ),
        (
            "to a socket id",
            io.to(sockets[3].id()),
            [false, false, false, true],
        ),
        ("to an empty room", io.to("nobody"), [false; 4]),
        ("local", io.local(), [true; 4]),
        ("volatile", io.volatile(), [true; 4]),
        ("namespace", io.of("/").to("r2"), [false, true, true, false]),
        // From a socket: never to itself.
        (
            "broadcast",
            sockets[1].broadcast(),
            [true, false, true, true],
        ),
        (
            "socket to r2",
            sockets[1].to("r2"),
            [false, false, true, false],
        ),
        (
            "socket within r1",
            sockets[0].within("r1"),
            [false, true, false, false],
        ),
        (
            "socket except r1",
            sockets[1].except("r1"),
            [false, false, true, true],
        ),
        (
            "socket volatile",
            sockets[2].volatile(),
            [false, false, true, false],
        ),
    ];
    for (name, operator, expected) in cases {
        operator.emit(name, &()).unwrap();
        let got = delivered(&io, &mut clients).await;
        for (i, events) in got.iter().enumerate() {
            let want: Vec<String> = if expected[i] {
                vec![name.to_owned()]
            } else {
                vec![]
            };
            assert_eq!(events, &want, "case {name:?}, client {i}");
        }
    }

    // Another namespace's broadcast reaches none of them, and the namespace-level emit all.
    io.of("/other").emit("elsewhere", &()).unwrap();
    io.of("/").emit("everyone", &()).unwrap();
    let got = delivered(&io, &mut clients).await;
    assert!(got.iter().all(|events| events == &["everyone"]), "{got:?}");
}

#[tokio::test]
async fn broadcast_acks_are_collected_and_silent_sockets_reported() {
    let server = TestServer::start(Io::builder()).await;
    let (mut clients, sockets) = clients(&server, 3).await;
    let io = server.io().clone();
    let task = tokio::spawn(async move {
        io.timeout(std::time::Duration::from_secs(3))
            .emit_with_ack::<_, u32>("count", &"please")
            .await
    });
    for (i, client) in clients.iter_mut().enumerate() {
        let event = client.expect_event("/", "count", WAIT).await;
        assert_eq!(event.args().unwrap(), [json!("please")]);
        // The last one stays silent.
        if i < 2 {
            client.ack("/", event.id.unwrap(), json!([i]), vec![]);
        }
    }
    let responses = within(WAIT, task).await.unwrap().unwrap();
    assert_eq!(responses.len(), 3);
    assert_eq!(set(responses.ok().copied()), set([0, 1]));
    let missing: Vec<_> = responses.missing().collect();
    assert_eq!(missing, [(&sockets[2].id(), &AckError::Timeout)]);

    // Broadcast acks from a socket, to a room, leave that socket out.
    sockets[1].join("r");
    sockets[2].join("r");
    let asking = sockets[2].clone();
    let task = tokio::spawn(async move {
        asking
            .to("r")
            .timeout(WAIT)
            .emit_with_ack::<_, String>("who", &())
            .await
    });
    let event = clients[1].expect_event("/", "who", WAIT).await;
    clients[1].ack("/", event.id.unwrap(), json!(["one"]), vec![]);
    let responses = within(WAIT, task).await.unwrap().unwrap();
    assert_eq!(responses.responses.len(), 1);
    assert_eq!(responses.responses[0].0, sockets[1].id());
    assert_eq!(responses.ok().collect::<Vec<_>>(), ["one"]);
    clients[0].expect_no_event(QUIET).await;
    clients[2].expect_no_event(QUIET).await;

    // Nobody to ask: no responses.
    let responses = server
        .io()
        .to("nobody")
        .emit_with_ack::<_, u32>("count", &())
        .await
        .unwrap();
    assert!(responses.is_empty());
}

#[tokio::test]
async fn fetched_sockets_can_be_acted_on() {
    let server = TestServer::start(Io::builder()).await;
    let (mut clients, sockets) = clients(&server, 3).await;
    let io = server.io();
    sockets[0].join("r1");
    sockets[1].join("r1");

    let fetched = io.to("r1").fetch_sockets().await;
    assert_eq!(
        set(fetched.iter().map(|s| s.id)),
        ids(&[&sockets[0], &sockets[1]])
    );
    for remote in &fetched {
        assert_eq!(
            names(remote.rooms.clone()),
            set(["r1".to_owned(), remote.id.to_string()])
        );
        assert_eq!(remote.handshake.uri().path(), "/socket.io/");
    }
    assert_eq!(io.fetch_sockets().await.len(), 3);
    assert_eq!(io.of("/").fetch_sockets().await.len(), 3);

    let first = fetched.iter().find(|s| s.id == sockets[0].id()).unwrap();
    first.emit("direct", &1).unwrap();
    let (_, text) = clients[0].recv_wire(WAIT).await;
    assert_eq!(text, r#"2["direct",1]"#);
    first.join("x");
    first.leave("r1");
    assert_eq!(io.of("/").room_members("x"), [sockets[0].id()]);
    assert_eq!(io.of("/").room_members("r1"), [sockets[1].id()]);

    let second = fetched.iter().find(|s| s.id == sockets[1].id()).unwrap();
    second.disconnect(false);
    clients[1].expect_disconnect("/", WAIT).await;
    assert!(!sockets[1].connected());
    clients[2].expect_no_event(QUIET).await;
}

#[tokio::test]
async fn bulk_join_leave_and_disconnect() {
    let server = TestServer::start(Io::builder()).await;
    let (mut clients, sockets) = clients(&server, 3).await;
    let io = server.io();
    let ns = io.of("/");

    io.sockets_join("all");
    assert_eq!(
        set(ns.room_members("all")),
        ids(&sockets.iter().collect::<Vec<_>>())
    );
    sockets[0].join("r1");
    io.to("r1").join(["x", "y"]);
    assert_eq!(ns.room_members("x"), [sockets[0].id()]);
    assert_eq!(ns.room_members("y"), [sockets[0].id()]);
    io.sockets_leave("all");
    assert!(ns.room_members("all").is_empty());
    ns.sockets_join(["p", "q"]);
    io.except("r1").leave("p");
    assert_eq!(ns.room_members("p"), [sockets[0].id()]);
    ns.sockets_leave("q");
    assert!(ns.room_members("q").is_empty());

    // Disconnecting a room's sockets, the namespace left open...
    sockets[1].join("kick");
    io.to("kick").disconnect(false);
    clients[1].expect_disconnect("/", WAIT).await;
    assert!(!clients[1].is_closed());
    clients[0].expect_no_event(QUIET).await;

    // ...then everybody's, connections closed.
    io.disconnect_sockets(true);
    for i in [0, 2] {
        clients[i].expect_disconnect("/", WAIT).await;
        clients[i].expect_closed(WAIT).await;
    }
    assert!(ns.sockets().is_empty());
    eventually(WAIT, || io.engine().session_count() == 1).await;
}

#[tokio::test]
async fn the_namespace_lists_its_rooms_and_their_members() {
    let server = TestServer::start(Io::builder()).await;
    let (_clients, sockets) = clients(&server, 2).await;
    let ns = server.io().of("/");
    sockets[0].join(["r1", "r2"]);
    sockets[1].join("r2");
    let own: Vec<String> = sockets.iter().map(|s| s.id().to_string()).collect();
    assert_eq!(
        names(ns.rooms()),
        set([
            "r1".to_owned(),
            "r2".to_owned(),
            own[0].clone(),
            own[1].clone()
        ])
    );
    assert_eq!(ns.room_members("r1"), [sockets[0].id()]);
    assert_eq!(set(ns.room_members("r2")), ids(&[&sockets[0], &sockets[1]]));
    assert_eq!(ns.room_members(&own[1]), [sockets[1].id()]);
    assert!(ns.room_members("none").is_empty());
}

#[tokio::test]
async fn a_disconnected_socket_leaves_every_room() {
    let server = TestServer::start(Io::builder()).await;
    let (mut clients, sockets) = clients(&server, 2).await;
    let ns = server.io().of("/");
    sockets[0].join(["r1", "r2"]);
    sockets[1].join("r2");

    clients[0].disconnect_ns("/");
    eventually(WAIT, || !sockets[0].connected()).await;
    assert!(sockets[0].rooms().is_empty());
    assert!(ns.room_members("r1").is_empty());
    assert_eq!(ns.room_members("r2"), [sockets[1].id()]);
    assert_eq!(
        names(ns.rooms()),
        set(["r2".to_owned(), sockets[1].id().to_string()])
    );

    // The same when the connection drops.
    clients.remove(1);
    eventually(WAIT, || ns.rooms().is_empty()).await;
    assert!(ns.sockets().is_empty());
}

#[tokio::test]
async fn a_socket_that_left_joins_nothing() {
    let server = TestServer::start(Io::builder()).await;
    let (clients, sockets) = clients(&server, 1).await;
    clients[0].disconnect_ns("/");
    eventually(WAIT, || !sockets[0].connected()).await;
    // A handler that finishes after the disconnection (say, after a database call).
    sockets[0].join("late");
    assert!(sockets[0].rooms().is_empty());
    assert!(server.io().of("/").rooms().is_empty());
}

#[tokio::test]
async fn rooms_joined_by_a_refusing_middleware_are_left() {
    let server = TestServer::start(Io::builder()).await;
    server
        .io()
        .of("/")
        .use_middleware(|socket: Socket| async move {
            socket.join("pending");
            if socket.auth_value()["ok"] == json!(true) {
                Ok(())
            } else {
                Err(sockeye::ConnectError::new("refused"))
            }
        });
    let mut client = TestClient::connect(&server.url()).await;
    client.connect_ns("/", None).await.unwrap_err();
    let ns = server.io().of("/");
    assert!(ns.rooms().is_empty(), "{:?}", ns.rooms());
    // An accepted socket keeps what the middleware joined.
    let sid = client
        .connect_ns("/", Some(json!({"ok": true})))
        .await
        .unwrap();
    assert_eq!(
        names(
            ns.room_members("pending")
                .into_iter()
                .map(|id| Room::from(id.as_str()))
                .collect()
        ),
        set([sid])
    );
}
