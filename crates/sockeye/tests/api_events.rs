//! Events both ways: extractors (`Data`, `TryData`, `Event`, `AckSender`, `State`), extraction
//! failures, what `emit` puts on the wire (binary, tuples, unit), reserved names,
//! `emit_with_ack` (typed replies, timeout, disconnection), `on_any`, `on_any_outgoing`,
//! `use_packet`, `on_error`, and per-socket data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sockeye::{
    AckError, AckSender, Data, EmitError, Event, HandlerError, Io, IoBuilder, Socket, State,
    TryData,
};
use sockeye_testkit::{
    PacketType, QUIET, TestClient, TestServer, WAIT, packet_args, recorder, server_socket, within,
};

/// A server and a client connected to `/`; returns the client and its server-side socket.
async fn connected(
    builder: IoBuilder,
    setup: impl FnOnce(&Io),
) -> (TestServer, TestClient, Socket) {
    let server = TestServer::start(builder).await;
    setup(server.io());
    let mut client = TestClient::connect(&server.url()).await;
    let sid = client.connect_ns("/", None).await.unwrap();
    let socket = server_socket(&server.io().of("/"), &sid);
    (server, client, socket)
}

fn placeholder(num: usize) -> Value {
    json!({"_placeholder": true, "num": num})
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[tokio::test]
async fn data_takes_one_argument_or_a_tuple_of_several() {
    let (_server, mut client, _) = connected(Io::builder(), |io| {
        io.on_connection(|socket: Socket| async move {
            socket.on(
                "one",
                |Data(text): Data<String>, ack: AckSender| async move {
                    ack.send(&format!("got:{text}")).unwrap();
                },
            );
            socket.on(
                "many",
                |Data((a, b, c)): Data<(String, u32, bool)>, ack: AckSender| async move {
                    ack.send(&(c, b + 1, a)).unwrap();
                },
            );
            socket.on("point", |Data(p): Data<Point>, ack: AckSender| async move {
                ack.send(&Point { x: p.y, y: p.x }).unwrap();
            });
            socket.on(
                "list",
                |Data(list): Data<Vec<u8>>, ack: AckSender| async move {
                    ack.send(&list.len()).unwrap();
                },
            );
        });
    })
    .await;

    let id = client.emit_with_ack("/", "one", json!(["hi"]), vec![]);
    let (_, text) = client
        .try_expect_wire(WAIT, |p| p.id == Some(id))
        .await
        .unwrap();
    assert_eq!(text, format!(r#"3{id}["got:hi"]"#));

    let id = client.emit_with_ack("/", "many", json!(["a", 1, true]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!(true), json!(2), json!("a")]);

    let id = client.emit_with_ack("/", "point", json!([{"x": 1, "y": 2}]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!({"x": 2, "y": 1})]);

    // A lone array argument is one value, not a tuple of arguments.
    let id = client.emit_with_ack("/", "list", json!([[1, 2, 3]]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!(3)]);
}

#[derive(Debug, Deserialize, Serialize)]
struct File {
    name: String,
    content: Bytes,
}

#[tokio::test]
async fn binary_arguments_deserialise_into_bytes() {
    let (_server, mut client, _) = connected(Io::builder(), |io| {
        io.on_connection(|socket: Socket| async move {
            socket.on(
                "pair",
                |Data((name, content)): Data<(String, Bytes)>, ack: AckSender| async move {
                    ack.send(&(name, content.len())).unwrap();
                },
            );
            socket.on(
                "file",
                |Data(file): Data<File>, ack: AckSender| async move {
                    // Echoed back as binary.
                    ack.send(&file).unwrap();
                },
            );
        });
    })
    .await;

    let id = client.emit_with_ack(
        "/",
        "pair",
        json!(["a.bin", placeholder(0)]),
        vec![Bytes::from_static(&[1, 2, 3])],
    );
    let ack = client.expect_ack("/", id, WAIT).await;
    assert_eq!(packet_args(&ack), [json!("a.bin"), json!(3)]);

    let id = client.emit_with_ack(
        "/",
        "file",
        json!([{"name": "b.bin", "content": placeholder(0)}]),
        vec![Bytes::from_static(&[9, 8])],
    );
    let (ack, text) = client
        .try_expect_wire(WAIT, |p| p.id == Some(id))
        .await
        .unwrap();
    assert_eq!(ack.kind, PacketType::BinaryAck);
    assert_eq!(
        text,
        format!(r#"61-{id}[{{"name":"b.bin","content":{{"_placeholder":true,"num":0}}}}]"#)
    );
    assert_eq!(ack.attachments, [Bytes::from_static(&[9, 8])]);
}

#[tokio::test]
async fn try_data_hands_the_error_to_the_handler() {
    let (_server, mut client, _) = connected(Io::builder(), |io| {
        io.on_connection(|socket: Socket| async move {
            socket.on("n", |TryData(n): TryData<u32>, ack: AckSender| async move {
                match n {
                    Ok(n) => ack.send(&json!({"ok": n})).unwrap(),
                    Err(error) => ack.send(&json!({"failed": !error.is_empty()})).unwrap(),
                }
            });
        });
    })
    .await;
    let id = client.emit_with_ack("/", "n", json!([5]), vec![]);
    assert_eq!(
        packet_args(&client.expect_ack("/", id, WAIT).await),
        [json!({"ok": 5})]
    );
    let id = client.emit_with_ack("/", "n", json!(["five"]), vec![]);
    assert_eq!(
        packet_args(&client.expect_ack("/", id, WAIT).await),
        [json!({"failed": true})]
    );
}

#[tokio::test]
async fn the_event_extractor_gives_the_raw_event() {
    let (events, mut records) = recorder::<Event>();
    let (_server, client, _) = connected(Io::builder(), move |io| {
        io.on_connection(move |socket: Socket| {
            let events = events.clone();
            async move {
                socket.on("raw", move |event: Event| {
                    let events = events.clone();
                    async move { events.record(event) }
                });
            }
        });
    })
    .await;
    client.emit(
        "/",
        "raw",
        json!([1, {"blob": placeholder(0)}]),
        vec![Bytes::from_static(b"xy")],
    );
    let event = records.next().await;
    assert_eq!(event.name, "raw");
    assert_eq!(event.args, [json!(1), json!({"blob": placeholder(0)})]);
    assert_eq!(event.attachments, [Bytes::from_static(b"xy")]);
    let (n, blob): (u32, Value) = event.data().unwrap();
    assert_eq!((n, blob), (1, json!({"blob": placeholder(0)})));
}

#[tokio::test]
async fn the_ack_sender_knows_whether_an_ack_is_expected() {
    let (expected, mut records) = recorder();
    let (_server, mut client, _) = connected(Io::builder(), move |io| {
        io.on_connection(move |socket: Socket| {
            let expected = expected.clone();
            async move {
                socket.on("maybe", move |ack: AckSender| {
                    let expected = expected.clone();
                    async move {
                        expected.record(ack.expected());
                        // Sending without a pending ack does nothing; with one, no arguments.
                        ack.send(&()).unwrap();
                    }
                });
            }
        });
    })
    .await;
    client.emit("/", "maybe", json!([]), vec![]);
    assert!(!records.next().await);
    client.expect_no_event(QUIET).await;

    let id = client.emit_with_ack("/", "maybe", json!([]), vec![]);
    assert!(records.next().await);
    let (_, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, format!("3{id}[]"));
}

#[derive(Clone, Debug)]
struct Counter(Arc<AtomicUsize>);

#[tokio::test]
async fn state_given_to_the_builder_reaches_handlers() {
    let counter = Counter(Arc::default());
    let (errors, mut reported) = recorder::<HandlerError>();
    let (server, mut client, _) = connected(Io::builder().state(counter.clone()), move |io| {
        io.on_error(move |error| errors.record(error.clone()));
        io.on_connection(|socket: Socket| async move {
            socket.on(
                "count",
                |State(counter): State<Counter>, ack: AckSender| async move {
                    let n = counter.0.fetch_add(1, Ordering::SeqCst) + 1;
                    ack.send(&n).unwrap();
                },
            );
            socket.on("missing", |State(_): State<String>| async move {});
        });
    })
    .await;

    for n in 1..=2 {
        let id = client.emit_with_ack("/", "count", json!([]), vec![]);
        assert_eq!(
            packet_args(&client.expect_ack("/", id, WAIT).await),
            [json!(n)]
        );
    }
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    assert!(server.io().state::<Counter>().is_some());
    assert!(server.io().state::<String>().is_none());

    client.emit("/", "missing", json!([]), vec![]);
    let error = reported.next().await;
    assert_eq!(error.event, "missing");
    assert!(
        error.message.contains("no state of type"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn an_extraction_failure_goes_to_the_error_hook_and_the_ack() {
    let (errors, mut reported) = recorder::<HandlerError>();
    let (ran, mut runs) = recorder();
    let (_server, mut client, _) = connected(Io::builder(), move |io| {
        io.on_error(move |error| errors.record(error.clone()));
        io.of("/").on_connection(move |socket: Socket| {
            let ran = ran.clone();
            async move {
                socket.on("number", move |Data(n): Data<u32>| {
                    let ran = ran.clone();
                    async move { ran.record(n) }
                });
            }
        });
    })
    .await;

    let id = client.emit_with_ack("/", "number", json!(["not a number"]), vec![]);
    let ack = client.expect_ack("/", id, WAIT).await;
    let args = packet_args(&ack);
    assert_eq!(args.len(), 1);
    let message = args[0]["error"].as_str().unwrap();
    assert!(message.starts_with("invalid arguments"), "{message}");

    let error = reported.next().await;
    assert_eq!((error.nsp.as_str(), error.event.as_str()), ("/", "number"));
    assert_eq!(error.message, message);
    assert_eq!(
        error.to_string(),
        format!("event \"number\" on namespace \"/\": {message}")
    );

    // Without an ack, only the hook hears of it.
    client.emit("/", "number", json!([{}]), vec![]);
    assert_eq!(reported.next().await.event, "number");
    client.expect_no_event(QUIET).await;
    runs.expect_none(Duration::ZERO).await;

    // A good event still runs.
    client.emit("/", "number", json!([7]), vec![]);
    assert_eq!(runs.next().await, 7);
}

#[derive(Serialize)]
struct Upload {
    name: String,
    parts: Vec<Bytes>,
    meta: Meta,
}

#[derive(Serialize)]
struct Meta {
    size: usize,
    thumbnail: Option<Bytes>,
}

#[tokio::test]
async fn emit_sends_binary_nested_in_values_as_attachments() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    let upload = Upload {
        name: "photo".into(),
        parts: vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")],
        meta: Meta {
            size: 6,
            thumbnail: Some(Bytes::from_static(b"t")),
        },
    };
    socket.emit("upload", &upload).unwrap();
    let (packet, text) = client.recv_wire(WAIT).await;
    assert_eq!(packet.kind, PacketType::BinaryEvent);
    assert_eq!(
        text,
        concat!(
            r#"53-["upload",{"name":"photo","parts":[{"_placeholder":true,"num":0},"#,
            r#"{"_placeholder":true,"num":1}],"meta":{"size":6,"thumbnail":"#,
            r#"{"_placeholder":true,"num":2}}}]"#
        )
    );
    assert_eq!(
        packet.attachments,
        [
            Bytes::from_static(b"one"),
            Bytes::from_static(b"two"),
            Bytes::from_static(b"t")
        ]
    );

    // Binary as one of several arguments.
    socket
        .emit("pair", &("x", Bytes::from_static(&[0, 255])))
        .unwrap();
    let (packet, text) = client.recv_wire(WAIT).await;
    assert_eq!(text, r#"51-["pair","x",{"_placeholder":true,"num":0}]"#);
    assert_eq!(packet.attachments, [Bytes::from_static(&[0, 255])]);
}

#[tokio::test]
async fn emit_arguments_follow_the_shape_of_the_value() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    socket.emit("tuple", &("a", 1, true)).unwrap();
    socket.emit("unit", &()).unwrap();
    socket.emit("vec", &vec![1, 2]).unwrap();
    socket.emit("string", "text").unwrap();
    socket.emit("object", &json!({"k": null})).unwrap();
    socket.emit("one-tuple", &(5,)).unwrap();
    socket
        .emit_raw(
            "raw",
            vec![json!(1), placeholder(0)],
            vec![Bytes::from_static(b"r")],
        )
        .unwrap();
    let mut texts = Vec::new();
    for _ in 0..7 {
        texts.push(client.recv_wire(WAIT).await.1);
    }
    assert_eq!(
        texts,
        [
            r#"2["tuple","a",1,true]"#,
            r#"2["unit"]"#,
            r#"2["vec",[1,2]]"#,
            r#"2["string","text"]"#,
            r#"2["object",{"k":null}]"#,
            r#"2["one-tuple",5]"#,
            r#"51-["raw",1,{"_placeholder":true,"num":0}]"#,
        ]
    );
}

#[tokio::test]
async fn reserved_event_names_are_refused() {
    let (server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    let reserved = [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ];
    for name in reserved {
        let refused = EmitError::ReservedEvent(name.to_owned());
        assert_eq!(socket.emit(name, &1), Err(refused.clone()));
        assert_eq!(socket.emit_raw(name, vec![], vec![]), Err(refused.clone()));
        assert_eq!(server.io().emit(name, &1), Err(refused.clone()));
        assert_eq!(socket.broadcast().emit(name, &1), Err(refused.clone()));
        assert_eq!(
            socket
                .emit_with_ack::<_, Value>(name, &1)
                .await
                .unwrap_err(),
            AckError::Emit(refused.clone())
        );
        assert_eq!(
            server
                .io()
                .emit_with_ack::<_, Value>(name, &1)
                .await
                .unwrap_err(),
            refused
        );
    }
    client.expect_no_event(QUIET).await;
    // Names that merely look alike are fine.
    socket.emit("connected", &()).unwrap();
    client.expect_event("/", "connected", WAIT).await;
}

#[tokio::test]
async fn emit_with_ack_returns_the_typed_reply() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;

    let asking = socket.clone();
    let task = tokio::spawn(async move {
        asking
            .emit_with_ack::<_, (String, u32)>("question", &("life", 6))
            .await
    });
    let (question, text) = client.recv_wire(WAIT).await;
    let id = question.id.expect("the event asks for an ack");
    assert_eq!(text, format!(r#"2{id}["question","life",6]"#));
    client.ack("/", id, json!(["answer", 42]), vec![]);
    let reply = within(WAIT, task).await.unwrap();
    assert_eq!(reply, Ok(("answer".to_owned(), 42)));

    // A lone argument reads as itself; binary as Bytes.
    let asking = socket.clone();
    let task = tokio::spawn(async move { asking.emit_with_ack::<_, Bytes>("blob", &()).await });
    let id = client.expect_event("/", "blob", WAIT).await.id.unwrap();
    client.ack(
        "/",
        id,
        json!([placeholder(0)]),
        vec![Bytes::from_static(b"bin")],
    );
    assert_eq!(
        within(WAIT, task).await.unwrap(),
        Ok(Bytes::from_static(b"bin"))
    );

    // A reply of the wrong shape.
    let asking = socket.clone();
    let task = tokio::spawn(async move { asking.emit_with_ack::<_, u32>("n", &()).await });
    let id = client.expect_event("/", "n", WAIT).await.id.unwrap();
    client.ack("/", id, json!(["not a number"]), vec![]);
    assert!(matches!(
        within(WAIT, task).await.unwrap(),
        Err(AckError::Deserialize(_))
    ));
}

#[tokio::test]
async fn emit_with_ack_times_out() {
    let (_server, mut client, socket) = connected(
        Io::builder().ack_timeout(Duration::from_millis(200)),
        |_| {},
    )
    .await;
    // The server's default timeout.
    let started = tokio::time::Instant::now();
    let result = socket.emit_with_ack::<_, Value>("silence", &()).await;
    assert_eq!(result, Err(AckError::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(200));
    let late = client.expect_event("/", "silence", WAIT).await;

    // An explicit one.
    let result = socket
        .timeout(Duration::from_millis(50))
        .emit_with_ack::<_, Value>("silence", &())
        .await;
    assert_eq!(result, Err(AckError::Timeout));
    client.expect_event("/", "silence", WAIT).await;

    // A late acknowledgement is ignored, and the socket goes on.
    client.ack("/", late.id.unwrap(), json!([1]), vec![]);
    let asking = socket.clone();
    let task = tokio::spawn(async move {
        asking
            .timeout(WAIT)
            .emit_with_ack::<_, u32>("again", &())
            .await
    });
    let id = client.expect_event("/", "again", WAIT).await.id.unwrap();
    client.ack("/", id, json!([2]), vec![]);
    assert_eq!(within(WAIT, task).await.unwrap(), Ok(2));
}

#[tokio::test]
async fn emit_with_ack_fails_when_the_socket_disconnects() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    let asking = socket.clone();
    let task = tokio::spawn(async move {
        asking
            .timeout(WAIT * 3)
            .emit_with_ack::<_, Value>("question", &())
            .await
    });
    client.expect_event("/", "question", WAIT).await;
    client.disconnect_ns("/");
    assert_eq!(
        within(WAIT, task).await.unwrap(),
        Err(AckError::Disconnected)
    );
    // Asking a disconnected socket fails at once.
    assert_eq!(
        socket.emit_with_ack::<_, Value>("question", &()).await,
        Err(AckError::Disconnected)
    );
}

#[tokio::test]
async fn on_any_sees_every_incoming_event() {
    let (seen, mut records) = recorder();
    let (_server, client, _) = connected(Io::builder(), move |io| {
        io.on_connection(move |socket: Socket| {
            let seen = seen.clone();
            async move {
                let any = seen.clone();
                socket.on_any(move |_: Socket, event: Event| {
                    let any = any.clone();
                    async move { any.record(format!("any {} {:?}", event.name, event.args)) }
                });
                socket.use_packet(|_, event| {
                    if event.name == "refused" {
                        return Err("refused".into());
                    }
                    Ok(())
                });
                socket.on("handled", move || {
                    let seen = seen.clone();
                    async move { seen.record("handler".to_owned()) }
                });
            }
        });
    })
    .await;
    client.emit("/", "handled", json!([1]), vec![]);
    assert_eq!(records.next().await, "any handled [1]");
    assert_eq!(records.next().await, "handler");
    // Events without a handler, and events a packet middleware refuses, are seen too.
    client.emit("/", "unhandled", json!([]), vec![]);
    assert_eq!(records.next().await, "any unhandled []");
    client.emit("/", "refused", json!([]), vec![]);
    assert_eq!(records.next().await, "any refused []");
    records.expect_none(QUIET).await;
}

#[tokio::test]
async fn on_any_outgoing_sees_what_is_sent_to_the_socket() {
    let (seen, mut records) = recorder();
    let (server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    socket.on_any_outgoing(move |_, event, args| seen.record(format!("{event} {args:?}")));

    socket.emit("direct", &1).unwrap();
    server.io().emit("broadcast", &("a", 2)).unwrap();
    let asking = socket.clone();
    let task = tokio::spawn(async move {
        asking
            .timeout(WAIT)
            .emit_with_ack::<_, Value>("asking", &())
            .await
    });
    assert_eq!(records.next().await, "direct [Number(1)]");
    assert_eq!(
        records.next().await,
        r#"broadcast [String("a"), Number(2)]"#
    );
    assert_eq!(records.next().await, "asking []");
    let id = client.expect_event("/", "asking", WAIT).await.id.unwrap();
    client.ack("/", id, json!([]), vec![]);
    within(WAIT, task).await.unwrap().unwrap();
    // Acknowledgements to the client's events are not events.
    records.expect_none(QUIET).await;
}

#[tokio::test]
async fn packet_middlewares_change_or_refuse_events() {
    let (seen, mut records) = recorder();
    let (_server, client, _) = connected(Io::builder(), move |io| {
        io.on_connection(move |socket: Socket| {
            let seen = seen.clone();
            async move {
                socket.use_packet(|_, event| {
                    if event.name == "forbidden" {
                        return Err(format!("{} is not allowed", event.name));
                    }
                    if let Some(Value::String(text)) = event.args.values_mut().first_mut() {
                        *text = text.to_uppercase();
                    }
                    Ok(())
                });
                let errors = seen.clone();
                socket.on_error(move |_, error| errors.record(format!("error: {error}")));
                let handled = seen.clone();
                socket.on("say", move |Data(text): Data<String>| {
                    let handled = handled.clone();
                    async move { handled.record(text) }
                });
                socket.on("forbidden", move || {
                    let seen = seen.clone();
                    async move { seen.record("forbidden handler ran".to_owned()) }
                });
            }
        });
    })
    .await;
    client.emit("/", "say", json!(["hello"]), vec![]);
    assert_eq!(records.next().await, "HELLO");
    client.emit("/", "forbidden", json!([]), vec![]);
    assert_eq!(records.next().await, "error: forbidden is not allowed");
    records.expect_none(QUIET).await;
}

#[derive(Clone, Debug, PartialEq)]
struct User {
    name: String,
    visits: u32,
}

#[tokio::test]
async fn sockets_keep_typed_data() {
    let (server, mut client, _) = connected(Io::builder(), |io| {
        io.on_connection(|socket: Socket| async move {
            socket.insert_data(User {
                name: "ada".into(),
                visits: 0,
            });
            socket.on("visit", |socket: Socket, ack: AckSender| async move {
                let visits = socket.with_data(|user: &mut User| {
                    user.visits += 1;
                    user.visits
                });
                ack.send(&visits).unwrap();
            });
        });
    })
    .await;
    for n in 1..=2 {
        let id = client.emit_with_ack("/", "visit", json!([]), vec![]);
        assert_eq!(
            packet_args(&client.expect_ack("/", id, WAIT).await),
            [json!(n)]
        );
    }
    let socket = server.io().of("/").sockets().remove(0);
    assert_eq!(
        socket.data::<User>(),
        Some(User {
            name: "ada".into(),
            visits: 2
        })
    );
    assert_eq!(socket.data::<u64>(), None);
    assert_eq!(socket.with_data(|n: &mut u64| *n), None);
    // A second value of the same type replaces the first; other types live beside it.
    socket.insert_data(User {
        name: "bob".into(),
        visits: 0,
    });
    socket.insert_data(7u64);
    assert_eq!(socket.data::<User>().unwrap().name, "bob");
    assert_eq!(socket.data::<u64>(), Some(7));
    // Fetched sockets read it too.
    let fetched = server.io().fetch_sockets().await;
    assert_eq!(fetched[0].data::<u64>(), Some(7));
}

#[tokio::test]
async fn handlers_can_be_replaced_and_removed() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    socket.on(
        "e",
        |ack: AckSender| async move { ack.send("first").unwrap() },
    );
    socket.on(
        "e",
        |ack: AckSender| async move { ack.send("second").unwrap() },
    );
    let id = client.emit_with_ack("/", "e", json!([]), vec![]);
    assert_eq!(
        packet_args(&client.expect_ack("/", id, WAIT).await),
        [json!("second")]
    );
    socket.off("e");
    client.emit_with_ack("/", "e", json!([]), vec![]);
    client.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn handlers_of_successive_events_start_in_order() {
    let (order, mut records) = recorder();
    let (_server, client, _) = connected(Io::builder(), move |io| {
        io.on_connection(move |socket: Socket| {
            let order = order.clone();
            async move {
                socket.on("n", move |Data(n): Data<u32>| {
                    let order = order.clone();
                    async move {
                        order.record(n);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
            }
        });
    })
    .await;
    for n in 0..100 {
        client.emit("/", "n", json!([n]), vec![]);
    }
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.push(records.next().await);
    }
    assert_eq!(seen, (0..100).collect::<Vec<u32>>());
}

#[tokio::test]
async fn a_panicking_handler_does_not_take_the_socket_down() {
    let (_server, mut client, socket) = connected(Io::builder(), |_| {}).await;
    socket.on("boom", || async move {
        panic!("handler panic (expected by the test)")
    });
    socket.on("later-boom", || async move {
        tokio::task::yield_now().await;
        panic!("handler panic after a wait (expected by the test)");
    });
    socket.on(
        "ping",
        |ack: AckSender| async move { ack.send("pong").unwrap() },
    );
    client.emit("/", "boom", json!([]), vec![]);
    client.emit("/", "later-boom", json!([]), vec![]);
    let id = client.emit_with_ack("/", "ping", json!([]), vec![]);
    assert_eq!(
        packet_args(&client.expect_ack("/", id, WAIT).await),
        [json!("pong")]
    );
    assert!(socket.connected());
}

#[tokio::test]
async fn too_many_pending_acks_are_refused() {
    let (_server, mut client, socket) = connected(Io::builder().max_pending_acks(2), |_| {}).await;
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let asking = socket.clone();
        tasks.push(tokio::spawn(async move {
            asking.timeout(WAIT).emit_with_ack::<_, u32>("q", &()).await
        }));
        client.expect_event("/", "q", WAIT).await;
    }
    assert_eq!(
        socket.emit_with_ack::<_, u32>("q", &()).await,
        Err(AckError::TooManyPending)
    );
    client.expect_no_event(QUIET).await;
    drop(client);
    for task in tasks {
        assert_eq!(
            within(WAIT, task).await.unwrap(),
            Err(AckError::Disconnected)
        );
    }
}
