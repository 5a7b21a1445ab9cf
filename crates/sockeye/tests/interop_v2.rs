//! Interop with npm's `socket.io-client` 2.x (Engine.IO v3, Socket.IO protocol v4; npm alias
//! `socket.io-client-v2`) beside a 4.x client, with [`sockeye::IoBuilder::allow_eio3`]
//! (`tests/js/sio-v2.mjs`): the implicit connection to `/`, socket ids as 2.x clients compute
//! them, events, acknowledgements both ways, binary, a namespace with a query and its refusals,
//! rooms and broadcasts (with acknowledgements) mixing both versions, the client-driven
//! heartbeat; and a 2.x client refused
//! when `allow_eio3` is off. Over WebSocket, polling, and polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use serde_json::{Value, json};
use sockeye::{AckSender, ConnectError, Data, Event, Io, Socket, State};

fn bin(bytes: &[u8]) -> Value {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    json!({ "$bin": hex })
}

/// The handlers every socket of the test server has.
fn handlers(socket: &Socket) {
    socket.on("echo", |event: Event, ack: AckSender| async move {
        ack.send_raw(event.args.clone(), event.attachments.clone())
            .unwrap();
    });
    socket.on("whoami", |socket: Socket, ack: AckSender| async move {
        let reply = json!({
            "id": socket.id().as_str(),
            "client_id": socket.client_id(),
            "nsp": socket.ns().name(),
            "auth": socket.auth_value(),
            "protocol": format!("{:?}", socket.engine().protocol()),
        });
        ack.send(&reply).unwrap();
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            socket.join(room);
            ack.send(&rooms(&socket)).unwrap();
        },
    );
    socket.on(
        "to-room",
        |socket: Socket, Data((room, text)): Data<(String, String)>, ack: AckSender| async move {
            ack.send(&socket.io().to(room).emit("bcast", &text).is_ok())
                .unwrap();
        },
    );
    socket.on(
        "others-in-room",
        |socket: Socket, Data((room, text)): Data<(String, String)>, ack: AckSender| async move {
            ack.send(&socket.to(room).emit("bcast", &text).is_ok())
                .unwrap();
        },
    );
    socket.on(
        "to-room-bin",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            let sent = socket
                .io()
                .to(room)
                .emit("bcast", &("bin", Bytes::from_static(&[7, 8, 9])))
                .is_ok();
            ack.send(&sent).unwrap();
        },
    );
    socket.on(
        "to-id",
        |socket: Socket, Data((id, text)): Data<(String, String)>, ack: AckSender| async move {
            ack.send(&socket.ns().to(id).emit("direct", &text).is_ok())
                .unwrap();
        },
    );
    socket.on(
        "everyone",
        |socket: Socket, Data(text): Data<String>, ack: AckSender| async move {
            ack.send(&socket.io().emit("bcast", &text).is_ok()).unwrap();
        },
    );
    socket.on(
        "poll-room",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            let responses = socket
                .io()
                .to(room)
                .timeout(Duration::from_secs(5))
                .emit_with_ack::<_, String>("poll", "lunch?")
                .await
                .unwrap();
            let mut answers: Vec<String> = responses.ok().cloned().collect();
            answers.sort();
            ack.send(&answers).unwrap();
        },
    );
    socket.on("send-bin", |socket: Socket, ack: AckSender| async move {
        let doc = json!({ "label": "pushed" });
        let sent = socket
            .emit("bin-push", &(Bytes::from_static(b"\x89PNG"), doc))
            .is_ok();
        ack.send(&sent).unwrap();
    });
    socket.on(
        "ask-me",
        |socket: Socket, Data(text): Data<String>, ack: AckSender| async move {
            let answer: Result<(String, Bytes), _> = socket.emit_with_ack("question", &text).await;
            let (answer, data) = answer.unwrap();
            ack.send(&(answer, data)).unwrap();
        },
    );
}

async fn v2_server() -> Server {
    let log = Log::default();
    let builder = builder(&log).allow_eio3(true);
    serve(builder, |io: &Io| {
        io.on_connection(|socket: Socket, State(log): State<Log>| async move {
            basics(&socket, &log);
            handlers(&socket);
            socket.on_disconnect(|socket: Socket, reason| async move {
                let _ = socket.io().emit("left", &(name(&socket), reason.as_str()));
            });
            socket
                .emit("welcome", &("hi", socket.id().as_str()))
                .unwrap();
        });
        io.of("/").use_middleware(|socket: Socket| async move {
            if socket.handshake().query("who").as_deref() == Some("banned") {
                Err(ConnectError::new("Banned").with_data(json!({ "reason": "banned" })))
            } else {
                Ok(())
            }
        });
        let chat = io.of("/chat");
        chat.use_middleware(|socket: Socket| async move {
            if socket.auth_value()["token"] == "secret" {
                Ok(())
            } else {
                Err(ConnectError::new("Not authorized"))
            }
        });
        chat.on_connection(|socket: Socket, State(log): State<Log>| async move {
            basics(&socket, &log);
            handlers(&socket);
        });
    })
    .await
}

async fn v2_scenario(mode: &str) {
    let server = v2_server().await;
    let got = run_script("sio-v2.mjs", &server.url, mode).await;
    let log = server.io.state::<Log>().unwrap();

    // Connected to `/` without asking, with the session id as socket id, as 2.x clients expect.
    let engine = got["A"]["engine"].as_str().unwrap();
    assert_eq!(got["A"]["id"], engine, "{got}");
    assert_eq!(got["A"]["transport"], final_transport(mode));
    assert_eq!(got["welcome"], json!(["hi", engine]));
    let connect = log.wait("connect A /").await;
    assert_eq!(connect["id"], engine);
    assert_eq!(connect["auth"], json!({}));

    // Events, acks and binary.
    assert_eq!(
        got["echo"],
        json!(["hello", 42, { "nested": [1, null, true] }])
    );
    assert_eq!(got["whoami"][0]["protocol"], "V3");
    assert_eq!(got["whoami"][0]["client_id"], engine);
    assert_eq!(
        got["binEcho"],
        json!([bin(&[0, 1, 2, 255]), { "file": bin(b"bytes"), "label": "doc" }])
    );
    assert_eq!(got["binSent"], json!([true]));
    assert_eq!(
        got["binPush"],
        json!([bin(b"\x89PNG"), { "label": "pushed" }])
    );
    assert_eq!(got["asked"], json!(["answer to life", bin(&[9, 9])]));

    // A namespace: the query is the auth payload; the id is `/chat#<session id>`.
    let chat_engine = got["C"]["engine"].as_str().unwrap();
    assert_eq!(got["C"]["id"], format!("/chat#{chat_engine}"));
    let whoami = &got["chatWhoami"][0];
    assert_eq!(whoami["client_id"], got["C"]["id"]);
    assert_eq!(whoami["id"], chat_engine);
    assert_eq!(whoami["nsp"], "/chat");
    assert_eq!(whoami["auth"]["token"], "secret");
    assert_eq!(whoami["auth"]["who"], "C");
    // The id the client knows is a room of its socket, as in Node.
    assert_eq!(got["direct"], json!(["to my own id"]));
    assert_eq!(got["directSent"], json!([true]));
    // Refusals arrive as the plain strings of protocol v4.
    assert_eq!(got["badToken"], "Not authorized");
    assert_eq!(got["invalidNsp"], "Invalid namespace");
    // The implicit connection to `/` runs the middlewares of `/`; a refusal with data sends it.
    assert_eq!(got["rootRefused"], json!({ "reason": "banned" }));
    assert!(log.get("connect banned /").is_none());

    // Rooms and broadcasts mixing v2 (A, C) and v4 (B) clients.
    assert_eq!(got["joinA"], json!([["$self", "r1"]]));
    assert_eq!(got["joinB"], json!([["$self", "r1"]]));
    let bcast = &got["bcast"];
    let binary = json!(["bin", bin(&[7, 8, 9])]);
    assert_eq!(
        bcast["A"],
        json!([["from B to r1"], binary, ["from C to all of /"]])
    );
    assert_eq!(
        bcast["B"],
        json!([
            ["from B to r1"],
            ["from A to others"],
            binary,
            ["from C to all of /"]
        ])
    );
    // C is on `/chat`: broadcasts on `/` are not for it.
    assert_eq!(bcast["C"], json!([]));
    assert_eq!(got["poll"], json!([["A: lunch?", "B: lunch?"]]));

    // The client's pings were answered, and nobody was dropped meanwhile.
    assert!(got["pongLatency"].is_number(), "{got}");
    assert_eq!(got["stillConnected"], true);

    // A left `/` by closing: both versions hear of it.
    assert_eq!(got["left"], json!(["A", "client namespace disconnect"]));
    let disconnect = log.wait("disconnect A /").await;
    assert_eq!(disconnect["reason"], "client namespace disconnect");
    log.wait("disconnect C /chat").await;
    assert!(log.get("connect D /chat").is_none());
}

transport_modes!(v2_scenario);

/// Without `allow_eio3`, as in Node, a 2.x client is refused at its handshake with HTTP 400.
async fn refused(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log), |io: &Io| {
        io.on_connection(|socket: Socket, State(log): State<Log>| async move {
            basics(&socket, &log);
        });
    })
    .await;
    let got = run_script("sio-v2.mjs", &server.url, &format!("refused-{mode}")).await;
    let expected = if mode == "polling" {
        "xhr poll error"
    } else {
        "websocket error"
    };
    assert_eq!(got["error"]["message"], expected, "{got}");
    if mode == "polling" {
        assert_eq!(got["error"]["description"], 400, "{got}");
    }
    assert!(log.keys().is_empty(), "{:?}", log.keys());
    // What the client was told, which its error does not show.
    let response = reqwest_like_get(&server.url, "/socket.io/?EIO=3&transport=polling").await;
    assert_eq!(
        response,
        (
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#.to_owned()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_refused_without_allow_eio3_over_polling() {
    refused("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_client_refused_without_allow_eio3_over_websocket() {
    refused("websocket").await;
}

/// One GET over a plain TCP connection: the status and body.
async fn reqwest_like_get(url: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}
