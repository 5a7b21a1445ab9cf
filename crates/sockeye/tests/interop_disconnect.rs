//! Interop with npm's `socket.io-client` 4.x (`tests/js/sio-disconnect.mjs`): disconnections
//! and their reasons on both sides — the client leaving a namespace, the server disconnecting a
//! socket with and without closing the connection, the client closing its connection, and the
//! client process being killed — and what `disconnecting` handlers and pending acknowledgements
//! see. Over WebSocket, polling, and polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sockeye::{AckSender, Data, Io, Socket, State};

/// How long the server may take to notice a killed client: at worst, a heartbeat.
const KILL_WAIT: Duration = Duration::from_secs(2 + 10 + 10);

async fn on_connection(socket: Socket, State(log): State<Log>) {
    basics(&socket, &log);
    socket.join(format!("room-{}", name(&socket)));
    socket.on(
        "kick",
        |socket: Socket, Data(close): Data<bool>| async move {
            socket.disconnect(close);
        },
    );
    socket.on(
        "start-pending",
        |socket: Socket, State(log): State<Log>, ack: AckSender| async move {
            let pending = socket.clone();
            tokio::spawn(async move {
                let result = pending
                    .timeout(Duration::from_secs(60))
                    .emit_with_ack::<_, Value>("never", &())
                    .await;
                log.push(key("pending", &pending), format!("{:?}", result.err()));
            });
            ack.send(&()).unwrap();
        },
    );
}

fn setup(io: &Io) {
    io.on_connection(on_connection);
    io.of("/admin").on_connection(on_connection);
}

/// Checks the server's records of the disconnection of `client` from `nsp`.
async fn assert_disconnected(log: &Log, client: &str, nsp: &str, reason: &str) {
    let disconnecting = log.wait(&format!("disconnecting {client} {nsp}")).await;
    assert_eq!(
        disconnecting,
        json!({"reason": reason, "rooms": ["$self", format!("room-{client}")]}),
        "{client} {nsp}: the disconnecting handler still sees the rooms"
    );
    let disconnect = log.wait(&format!("disconnect {client} {nsp}")).await;
    assert_eq!(
        disconnect,
        json!({"reason": reason, "rooms": [], "connected": false}),
        "{client} {nsp}"
    );
}

async fn run(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log), setup).await;
    let mut node = Node::spawn("sio-disconnect.mjs", &server.url, mode);
    let result = node.result().await;
    check_transports(&result, mode);
    let got = &result["got"];
    let sessions = &result["sessions"];

    // Each pair of namespaces shared one session; the ids are the server's.
    for client in ["X", "Y", "Z", "W", "V"] {
        for (nsp, id) in sessions[client]["ids"].as_object().unwrap() {
            let connect = log.get(&format!("connect {client} {nsp}")).unwrap();
            assert_eq!(&connect["id"], id, "{client} {nsp}");
            assert_eq!(
                connect["engine"], sessions[client]["engine"],
                "{client} {nsp}"
            );
        }
    }

    // X left /admin: "io client disconnect" / "client namespace disconnect"; / goes on.
    assert_eq!(
        got["X"],
        json!({"admin": "io client disconnect", "rootFence": final_transport(mode), "engine": "open"})
    );
    assert_disconnected(&log, "X", "/admin", "client namespace disconnect").await;

    // The server disconnected Y's /: "io server disconnect" / "server namespace disconnect".
    assert_eq!(
        got["Y"],
        json!({"root": "io server disconnect", "adminFence": final_transport(mode), "engine": "open"})
    );
    assert_disconnected(&log, "Y", "/", "server namespace disconnect").await;

    // disconnect(true) on Z's /admin: both namespaces are told, and the session closes. (Node's
    // server reports "server namespace disconnect" here; Sockeye says "forced server close".)
    assert_eq!(got["Z"]["root"], "io server disconnect");
    assert_eq!(got["Z"]["admin"], "io server disconnect");
    assert_disconnected(&log, "Z", "/", "forced server close").await;
    assert_disconnected(&log, "Z", "/admin", "forced server close").await;
    let z_engine = sessions["Z"]["engine"].as_str().unwrap().to_owned();
    eventually("Z's session closes", || {
        server.io.engine().socket(&z_engine).is_none()
    })
    .await;

    // W closed its connection: "transport close" on the server, and the acknowledgement the
    // server was waiting for fails.
    assert_eq!(
        got["W"],
        json!({"root": "forced close", "admin": "forced close"})
    );
    assert_disconnected(&log, "W", "/", "transport close").await;
    assert_disconnected(&log, "W", "/admin", "transport close").await;
    assert_eq!(log.wait("pending W /").await, "Some(Disconnected)");

    // Nothing else disconnected while the script ran.
    assert_eq!(got["VFence"], final_transport(mode));
    for (client, nsp) in [("X", "/"), ("Y", "/admin"), ("V", "/")] {
        assert_eq!(log.get(&format!("disconnect {client} {nsp}")), None);
    }

    // Killing the process drops its connections: "transport close". (Over polling the server
    // learns it from the pending GET that breaks off; should the client have died with no GET
    // pending, only the heartbeat can tell: "ping timeout", as on Node. Node's server says
    // "transport error" for a GET that breaks off; Sockeye says "transport close".)
    node.kill();
    for (client, nsp) in [("V", "/"), ("X", "/"), ("Y", "/admin")] {
        let key = format!("disconnect {client} {nsp}");
        let reason = log.wait_within(&key, 1, KILL_WAIT).await[0]["reason"].clone();
        let reason = reason.as_str().unwrap();
        if mode == "polling" && reason == "ping timeout" {
            eprintln!("{key}: the client died with no GET pending");
            assert_disconnected(&log, client, nsp, reason).await;
        } else {
            assert_disconnected(&log, client, nsp, "transport close").await;
        }
    }
    eventually("every session closes", || {
        server.io.engine().session_count() == 0
    })
    .await;
}

transport_modes!(run);
