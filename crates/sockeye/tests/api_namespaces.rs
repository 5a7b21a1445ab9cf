//! Namespaces and connecting to them: the CONNECT reply, unknown namespaces, static and
//! dynamic namespaces, middlewares (handshake, refusal, order, async), the connection handler
//! and the ordering of handler registration against the next packet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sockeye::{ConnectError, Data, HandlerError, Io, Socket};
use sockeye_testkit::{
    PacketType, QUIET, TestClient, TestServer, Transport, WAIT, recorder, server_socket,
};

async fn server() -> TestServer {
    TestServer::start(Io::builder()).await
}

#[tokio::test]
async fn the_connect_reply_carries_a_socket_id_distinct_from_the_engine_sid() {
    let server = server().await;
    server.io().of("/admin");
    let mut client = TestClient::connect(&server.url()).await;

    client.send_connect("/", None);
    let (packet, text) = client.recv_wire(WAIT).await;
    assert_eq!(packet.kind, PacketType::Connect);
    let sid = packet.data.unwrap().to_value()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(text, format!(r#"0{{"sid":"{sid}"}}"#));
    assert_eq!(sid.len(), 20);
    assert_ne!(sid, client.sid(), "the socket id is not the engine sid");
    assert_eq!(server_socket(&server.io().of("/"), &sid).id().as_str(), sid);

    client.send_connect("/admin", None);
    let (_, text) = client.recv_wire(WAIT).await;
    let admin_sid = server.io().of("/admin").sockets()[0].id();
    assert_eq!(text, format!(r#"0/admin,{{"sid":"{admin_sid}"}}"#));
    assert_ne!(
        admin_sid.as_str(),
        sid,
        "each namespace has its own socket id"
    );
    assert_ne!(admin_sid.as_str(), client.sid());
}

#[tokio::test]
async fn an_unknown_namespace_is_refused_and_the_session_stays_open() {
    let server = server().await;
    server.io().on_connection(|socket: Socket| async move {
        socket.on("ping", |socket: Socket| async move {
            socket.emit("pong", &()).unwrap();
        });
    });
    let mut client = TestClient::connect(&server.url()).await;

    client.send_connect("/nope", None);
    let (packet, text) = client.recv_wire(WAIT).await;
    assert_eq!(packet.kind, PacketType::ConnectError);
    assert_eq!(text, r#"4/nope,{"message":"Invalid namespace"}"#);
    assert!(!server.io().namespaces().contains(&"/nope".to_owned()));

    // The same session goes on to a namespace that exists.
    client.connect_ns("/", None).await.unwrap();
    client.emit("/", "ping", json!([]), vec![]);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, r#"2["pong"]"#);
}

#[tokio::test]
async fn namespaces_are_created_by_of_and_names_get_a_leading_slash() {
    let server = server().await;
    let io = server.io();
    assert_eq!(io.namespaces(), ["/"]);
    let chat = io.of("chat");
    assert_eq!(chat.name(), "/chat");
    assert_eq!(io.of("/chat").name(), "/chat");
    let mut names = io.namespaces();
    names.sort();
    assert_eq!(names, ["/", "/chat"]);

    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/chat", None).await.unwrap();
    assert_eq!(
        io.of("chat")
            .socket(server_socket(&chat, &sid).id())
            .unwrap()
            .id()
            .as_str(),
        sid
    );
    assert!(
        io.of("/").sockets().is_empty(),
        "joining /chat does not join /"
    );
}

#[tokio::test]
async fn one_connection_carries_several_namespaces() {
    let server = server().await;
    for name in ["/", "/admin"] {
        server
            .io()
            .of(name)
            .on_connection(|socket: Socket| async move {
                socket.on("whoami", |socket: Socket| async move {
                    socket.emit("you-are", socket.ns().name()).unwrap();
                });
            });
    }
    let mut client = TestClient::connect(&server.url()).await;
    client.connect_ns("/", None).await.unwrap();
    client.connect_ns("/admin", None).await.unwrap();

    client.emit("/admin", "whoami", json!([]), vec![]);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, r#"2/admin,["you-are","/admin"]"#);
    client.emit("/", "whoami", json!([]), vec![]);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, r#"2["you-are","/"]"#);
}

#[tokio::test]
async fn dynamic_namespaces_are_created_on_demand() {
    let server = server().await;
    let io = server.io();
    let workspaces = io.dynamic(|name| name.starts_with("/workspace-"));
    workspaces.use_middleware(|socket: Socket| async move {
        if socket.ns().name() == "/workspace-forbidden" {
            return Err(ConnectError::new("forbidden"));
        }
        Ok(())
    });
    workspaces.on_connection(|socket: Socket| async move {
        socket.emit("hello", socket.ns().name()).unwrap();
    });
    // A static namespace wins over a dynamic one that would accept the name.
    io.of("/workspace-static")
        .on_connection(|socket: Socket| async move {
            socket.emit("static", &()).unwrap();
        });

    let mut one = TestClient::connect(&server.url()).await;
    one.connect_ns("/workspace-1", None).await.unwrap();
    let hello = one.expect_event("/workspace-1", "hello", WAIT).await;
    assert_eq!(hello.args().unwrap(), [json!("/workspace-1")]);

    let mut two = TestClient::connect(&server.url()).await;
    two.connect_ns("/workspace-2", None).await.unwrap();
    two.expect_event("/workspace-2", "hello", WAIT).await;
    two.connect_ns("/workspace-static", None).await.unwrap();
    two.expect_event("/workspace-static", "static", WAIT).await;

    // Each child is a namespace of its own, with its own sockets and broadcasts.
    assert!(io.namespaces().contains(&"/workspace-1".to_owned()));
    assert_eq!(io.of("/workspace-1").sockets().len(), 1);
    io.of("/workspace-2").emit("news", "for 2").unwrap();
    two.expect_event("/workspace-2", "news", WAIT).await;
    one.expect_no_event(QUIET).await;

    // The parent's middlewares apply to every child; unmatched names are unknown.
    let refused = two
        .connect_ns("/workspace-forbidden", None)
        .await
        .unwrap_err();
    assert_eq!(refused, json!({"message": "forbidden"}));
    let unknown = two.connect_ns("/other", None).await.unwrap_err();
    assert_eq!(unknown, json!({"message": "Invalid namespace"}));
}

#[tokio::test]
async fn middlewares_see_the_handshake_and_the_auth_payload() {
    let server = server().await;
    let (seen, mut records) = recorder();
    server.io().of("/").use_middleware(move |socket: Socket| {
        let seen = seen.clone();
        async move {
            let handshake = socket.handshake();
            seen.record(json!({
                "header": handshake.headers().get("x-token").map(|v| v.to_str().unwrap()),
                "room": handshake.query("room"),
                "path": handshake.uri().path(),
                "loopback": handshake.remote_addr.map(|a| a.ip().is_loopback()),
                "auth": socket.auth_value(),
                "connected": socket.connected(),
                "issued": handshake.issued_millis() > 0,
            }));
            Ok(())
        }
    });

    for transport in [Transport::WebSocket, Transport::Polling] {
        let url = format!("{}?room=blue", server.url());
        let mut client = TestClient::builder(&url)
            .transport(transport)
            .header("x-token", "abc")
            .connect()
            .await;
        client
            .connect_ns("/", Some(json!({"token": "secret"})))
            .await
            .unwrap();
        assert_eq!(
            records.next().await,
            json!({
                "header": "abc",
                "room": "blue",
                "path": "/socket.io/",
                "loopback": true,
                "auth": {"token": "secret"},
                "connected": false,
                "issued": true,
            }),
            "{transport:?}"
        );
    }

    // Without an auth payload, the middleware sees `{}`.
    let mut client = TestClient::connect(&server.url()).await;
    client.connect_ns("/", None).await.unwrap();
    assert_eq!(records.next().await["auth"], json!({}));
}

#[tokio::test]
async fn a_middleware_refuses_with_a_message_and_data() {
    let server = server().await;
    let (connected, mut connections) = recorder();
    let io = server.io();
    io.of("/").use_middleware(|socket: Socket| async move {
        match socket.auth_value()["token"].as_str() {
            Some("good") => Ok(()),
            Some(_) => Err(ConnectError::new("not authorized").with_data(json!({"code": 4001}))),
            None => Err("no token".into()),
        }
    });
    io.of("/").on_connection(move |socket: Socket| {
        let connected = connected.clone();
        async move { connected.record(socket.id()) }
    });
    io.of("/open");

    let mut client = TestClient::connect(&server.url()).await;
    client.send_connect("/", Some(json!({"token": "bad"})));
    let (packet, text) = client.recv_wire(WAIT).await;
    assert_eq!(packet.kind, PacketType::ConnectError);
    assert_eq!(
        text,
        r#"4{"message":"not authorized","data":{"code":4001}}"#
    );
    client.send_connect("/", None);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, r#"4{"message":"no token"}"#);
    connections.expect_none(QUIET).await;
    assert!(io.of("/").sockets().is_empty());

    // The session stays open: another namespace, and then a second try, succeed.
    client.connect_ns("/open", None).await.unwrap();
    let sid = client
        .connect_ns("/", Some(json!({"token": "good"})))
        .await
        .unwrap();
    assert_eq!(connections.next().await.as_str(), sid);
}

#[tokio::test]
async fn middlewares_run_in_order_and_stop_at_the_first_refusal() {
    let server = server().await;
    let (calls, mut records) = recorder();
    let ns = server.io().of("/");
    for step in 1..=3 {
        let calls = calls.clone();
        ns.use_middleware(move |socket: Socket| {
            let calls = calls.clone();
            async move {
                calls.record(step);
                if step == 2 && socket.auth_value()["deny"] == json!(true) {
                    return Err(ConnectError::new("denied at 2"));
                }
                Ok(())
            }
        });
    }

    let mut client = TestClient::connect(&server.url()).await;
    client.connect_ns("/", None).await.unwrap();
    assert_eq!(records.drain(), [1, 2, 3]);

    let mut denied = TestClient::connect(&server.url()).await;
    let error = denied
        .connect_ns("/", Some(json!({"deny": true})))
        .await
        .unwrap_err();
    assert_eq!(error, json!({"message": "denied at 2"}));
    assert_eq!(records.drain(), [1, 2]);
}

#[tokio::test]
async fn an_async_middleware_delays_the_connection() {
    let server = server().await;
    let (events, mut records) = recorder();
    let ns = server.io().of("/");
    let in_middleware = events.clone();
    ns.use_middleware(move |socket: Socket| {
        let events = in_middleware.clone();
        async move {
            events.record("middleware started");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let user = socket.auth_value()["user"]
                .as_str()
                .unwrap_or("?")
                .to_owned();
            socket.insert_data(user);
            events.record("middleware done");
            Ok(())
        }
    });
    ns.on_connection(move |socket: Socket| {
        let events = events.clone();
        async move {
            events.record("connected");
            // What the middleware kept with the socket is there.
            socket.emit("user", &socket.data::<String>()).unwrap();
        }
    });

    let mut client = TestClient::connect(&server.url()).await;
    let started = tokio::time::Instant::now();
    client
        .connect_ns("/", Some(json!({"user": "ada"})))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    let user = client.expect_event("/", "user", WAIT).await;
    assert_eq!(user.args().unwrap(), [json!("ada")]);
    assert_eq!(
        records.drain(),
        ["middleware started", "middleware done", "connected"]
    );
}

#[derive(Debug, Deserialize)]
struct Auth {
    user: String,
}

#[tokio::test]
async fn the_connection_handler_takes_the_auth_payload_as_data() {
    let server = server().await;
    let (errors, mut reported) = recorder::<HandlerError>();
    server
        .io()
        .on_error(move |error| errors.record(error.clone()));
    server
        .io()
        .on_connection(|socket: Socket, Data(auth): Data<Auth>| async move {
            socket.emit("welcome", &auth.user).unwrap();
        });

    let mut client = TestClient::connect(&server.url()).await;
    client
        .connect_ns("/", Some(json!({"user": "ada"})))
        .await
        .unwrap();
    let welcome = client.expect_event("/", "welcome", WAIT).await;
    assert_eq!(welcome.args().unwrap(), [json!("ada")]);

    // An auth payload that does not fit: the socket is connected, but the handler cannot run,
    // and the error hook hears of it.
    let mut other = TestClient::connect(&server.url()).await;
    other
        .connect_ns("/", Some(json!({"name": 1})))
        .await
        .unwrap();
    let error = reported.next().await;
    assert_eq!(
        (error.nsp.as_str(), error.event.as_str()),
        ("/", "connection")
    );
    assert!(error.message.contains("user"), "{}", error.message);
    other.expect_no_event(QUIET).await;
    assert_eq!(server.io().of("/").sockets().len(), 2);
}

/// The client sends CONNECT and an event back to back, without waiting for the reply: the
/// connection handler's `on` must already be in place when the event is read.
async fn events_right_after_connect(transport: Transport) {
    let server = server().await;
    server.io().on_connection(|socket: Socket| async move {
        socket.on("early", |socket: Socket, Data(n): Data<u32>| async move {
            socket.emit("early-reply", &(n * 2)).unwrap();
        });
        // The handler goes on after a wait; what it registered before counts at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        socket.on("late", |socket: Socket| async move {
            socket.emit("late-reply", &()).unwrap();
        });
    });
    let mut client = TestClient::builder(&server.url())
        .transport(transport)
        .connect()
        .await;
    let frames = ["40", r#"42["early",21]"#]
        .iter()
        .map(|text| sockeye_testkit::engineio_proto::Frame::Text((*text).into()))
        .collect();
    client.send_frames(frames);
    client.expect_connect_answer("/", WAIT).await.unwrap();
    let reply = client.expect_event("/", "early-reply", WAIT).await;
    assert_eq!(reply.args().unwrap(), [json!(42)]);
}

#[tokio::test]
async fn handlers_registered_on_connection_see_the_next_packet_websocket() {
    events_right_after_connect(Transport::WebSocket).await;
}

#[tokio::test]
async fn handlers_registered_on_connection_see_the_next_packet_polling() {
    events_right_after_connect(Transport::Polling).await;
}

#[tokio::test]
async fn a_namespace_lists_and_finds_its_sockets() {
    let server = server().await;
    let mut a = TestClient::connect(&server.url()).await;
    let sid_a = a.connect_ns("/", None).await.unwrap();
    let mut b = TestClient::connect(&server.url()).await;
    let sid_b = b.connect_ns("/", None).await.unwrap();

    let ns = server.io().of("/");
    let mut ids: Vec<String> = ns.sockets().iter().map(|s| s.id().to_string()).collect();
    ids.sort();
    let mut expected = vec![sid_a.clone(), sid_b];
    expected.sort();
    assert_eq!(ids, expected);
    let socket = server_socket(&ns, &sid_a);
    assert!(socket.connected());
    assert_eq!(socket.ns().name(), "/");
    assert_eq!(socket.engine().id().as_str(), a.sid());
    assert_eq!(ns.socket(socket.id()).unwrap().id(), socket.id());
    let _: Value = socket.auth_value().clone();
}

#[tokio::test]
async fn a_second_connect_while_middlewares_run_is_ignored() {
    let server = server().await;
    server.io().of("/").use_middleware(|_: Socket| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    let mut client = TestClient::connect(&server.url()).await;
    client.send_connect("/", None);
    client.send_connect("/", None);
    let sid = client.expect_connect_answer("/", WAIT).await.unwrap();
    client.expect_no_event(Duration::from_millis(400)).await;
    let ns = server.io().of("/");
    assert_eq!(ns.sockets().len(), 1);
    assert_eq!(ns.sockets()[0].id().as_str(), sid);
    assert_eq!(ns.rooms().len(), 1, "{:?}", ns.rooms());

    // When the connection goes, nothing of it is left in the namespace.
    drop(client);
    sockeye_testkit::eventually(WAIT, || ns.sockets().is_empty()).await;
    assert!(ns.rooms().is_empty());
}

#[tokio::test]
async fn a_connection_that_closes_while_middlewares_run_leaves_nothing_behind() {
    let server = server().await;
    let (events, mut records) = recorder();
    let middleware_events = events.clone();
    server.io().of("/").use_middleware(move |socket: Socket| {
        let events = middleware_events.clone();
        async move {
            socket.join("pending");
            events.record("middleware waiting");
            // Finishes only once the client has gone.
            let _ = tokio::time::timeout(WAIT, socket.engine().closed()).await;
            Ok(())
        }
    });
    server.io().on_connection(move |_: Socket| {
        let events = events.clone();
        async move { events.record("connected") }
    });
    let client = TestClient::connect(&server.url()).await;
    client.send_connect("/", None);
    assert_eq!(records.next().await, "middleware waiting");
    drop(client);
    let ns = server.io().of("/");
    sockeye_testkit::eventually(WAIT, || ns.rooms().is_empty()).await;
    records.expect_none(QUIET).await;
    assert!(ns.sockets().is_empty());
    assert!(ns.rooms().is_empty(), "{:?}", ns.rooms());
}
