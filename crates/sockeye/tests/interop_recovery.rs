//! Connection-state recovery with npm's `socket.io-client` 4.x (`tests/js/sio-recovery.mjs`):
//! a client whose connection is cut comes back with its id, rooms and data, and gets every event
//! it missed, in order, none twice, nothing that was not for it; it skips the middlewares. With
//! a session kept too briefly, it gets a new socket instead. Over WebSocket, polling, and polling
//! upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sockeye::{AckSender, Data, Io, RecoveryConfig, Socket, SocketId, State};

#[derive(Clone)]
struct Joined(u32);

fn app(io: &Io) {
    let ns = io.of("/");
    ns.use_middleware(|socket: Socket| async move {
        let log = socket.io().state::<Log>().unwrap();
        log.push(
            format!("middleware {}", socket.auth_value()["name"]),
            json!(null),
        );
        Ok(())
    });
    ns.on_connection(|socket: Socket, State(log): State<Log>| async move {
        let recovered = socket.recovered();
        if !recovered {
            basics(&socket, &log);
        } else {
            // Handlers are the application's to set again; the data came back.
            log.push(key("recovered", &socket), json!(socket.id().as_str()));
            socket.on("fence", |socket: Socket, ack: AckSender| async move {
                let _ = ack.send(socket.engine().transport().as_str());
            });
        }
        socket.on("join", |socket: Socket, ack: AckSender| async move {
            socket.join("r");
            socket.insert_data(Joined(7));
            let _ = ack.send("ok");
            let _ = socket.io().to("r").emit("tick", &1);
        });
        socket.on("whoami", |socket: Socket, ack: AckSender| async move {
            let _ = ack.send(&json!({
                "rooms": rooms(&socket),
                "joined": socket.data::<Joined>().map(|j| j.0),
                "name": name(&socket),
                "recovered": socket.recovered(),
            }));
        });
        socket.on(
            "burst",
            |socket: Socket, Data(away): Data<String>, ack: AckSender| async move {
                let io = socket.io();
                let away: SocketId = away.parse().unwrap();
                // The socket that was cut is gone before the others emit (no event may be
                // sent on the dead connection and be lost).
                eventually("the cut socket leaves", || {
                    io.of("/").socket(away).is_none()
                })
                .await;
                io.to("r").emit("tick", &2).unwrap();
                io.to("other")
                    .emit("tick", "not for A: another room")
                    .unwrap();
                io.emit("all", "x").unwrap();
                io.except("r").emit("tick", "not for A: except r").unwrap();
                io.volatile().emit("tick", "not for A: volatile").unwrap();
                io.to(away.as_str()).emit("direct", &1).unwrap();
                io.to("r").emit("tick", &3).unwrap();
                let _ = ack.send("sent");
            },
        );
        socket.on(
            "room",
            |socket: Socket, Data(n): Data<u32>, ack: AckSender| async move {
                socket.io().to("r").emit("tick", &n).unwrap();
                let _ = ack.send("ok");
            },
        );
    });
}

/// The events of `missed` as `[event, first argument]`, after checking that each carries an
/// offset as its last argument.
fn events(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let entry = entry.as_array().unwrap();
            assert_eq!(entry.len(), 3, "[event, argument, offset]: {entry:?}");
            assert!(entry[2].is_string(), "the offset is a string: {entry:?}");
            json!([entry[0], entry[1]])
        })
        .collect()
}

async fn recovers(mode: &str) {
    let log = Log::default();
    let server = serve(
        builder(&log).connection_state_recovery(RecoveryConfig::default()),
        app,
    )
    .await;
    let mut node = Node::spawn("sio-recovery.mjs", &server.url, mode);
    let result = node.result().await;

    assert_eq!(result["firstRecovered"], false);
    // A lost connection, not a client's decision: the client reconnects.
    assert_ne!(result["disconnectReason"], "io client disconnect");
    assert_eq!(result["recovered"], true, "{result}");
    assert_eq!(result["secondId"], result["firstId"], "the same socket id");
    assert_eq!(
        events(&result["missed"]),
        [
            json!(["tick", 2]),
            json!(["all", "x"]),
            json!(["direct", 1]),
            json!(["tick", 3])
        ],
        "every missed event, in order, once, and only those for A"
    );
    assert_eq!(
        result["whoami"],
        json!({ "rooms": ["$self", "r"], "joined": 7, "name": "A", "recovered": true })
    );
    assert_eq!(events(&result["after"]), [json!(["tick", 4])]);
    // The recovered socket skipped the middlewares.
    assert_eq!(log.all("middleware \"A\"").len(), 1);
    assert_eq!(log.all("recovered A /").len(), 1);
}

async fn expires(mode: &str) {
    let log = Log::default();
    let recovery = RecoveryConfig::default()
        .max_disconnection_duration(Duration::from_millis(300))
        .skip_middlewares(false);
    let server = serve(builder(&log).connection_state_recovery(recovery), app).await;
    let mut node = Node::spawn("sio-recovery.mjs", &server.url, mode);
    let result = node.result().await;

    assert_eq!(result["recovered"], false, "{result}");
    assert_ne!(result["secondId"], result["firstId"], "a new socket");
    assert_eq!(events(&result["missed"]), Vec::<Value>::new());
    assert_eq!(
        result["whoami"],
        json!({ "rooms": ["$self"], "joined": null, "name": "A", "recovered": false })
    );
    assert_eq!(events(&result["after"]), Vec::<Value>::new());
    assert_eq!(log.all("middleware \"A\"").len(), 2);
}

mod recovered {
    use super::*;
    transport_modes!(recovers);
}

mod expired {
    use super::*;
    transport_modes!(expires);
}
