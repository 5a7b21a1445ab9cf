//! Interop with npm's `socket.io-client` 4.x (`tests/js/sio-rooms.mjs`): rooms, every broadcast
//! operator, broadcasts with acknowledgements, `fetch_sockets` and what can be done with fetched
//! sockets, `sockets_join`/`sockets_leave`/`disconnect_sockets`, and room listings. Over
//! WebSocket, polling, and polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sockeye::{AckSender, Data, Io, Namespace, Socket, SocketId, State};

/// The room names in `arg[field]`.
fn room_list(arg: &Value, field: &str) -> Vec<String> {
    arg[field]
        .as_array()
        .map(|rooms| {
            rooms
                .iter()
                .filter_map(|room| room.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The name of the client of a socket id (`#<name>` for a socket's own room).
fn name_of(ns: &Namespace, id: &str) -> Option<String> {
    let id: SocketId = id.parse().ok()?;
    ns.socket(id).map(|socket| name(&socket))
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// `cmd (op, arg)`: one server operation, acknowledged once done.
async fn cmd(
    socket: Socket,
    State(log): State<Log>,
    Data((op, arg)): Data<(String, Value)>,
    ack: AckSender,
) {
    let io = socket.io();
    let ns = socket.ns().clone();
    let label = arg["label"].as_str().unwrap_or_default().to_owned();
    let rooms = room_list(&arg, "rooms");
    let reply = match op.as_str() {
        "to" => json!(io.to(rooms).emit("bcast", &label).is_ok()),
        "except" => json!(io.except(rooms).emit("bcast", &label).is_ok()),
        "to_except" => json!(
            io.to(room_list(&arg, "to"))
                .except(room_list(&arg, "except"))
                .emit("bcast", &label)
                .is_ok()
        ),
        "broadcast" => json!(socket.broadcast().emit("bcast", &label).is_ok()),
        "socket_to" => json!(socket.to(rooms).emit("bcast", &label).is_ok()),
        "socket_except" => json!(socket.except(rooms).emit("bcast", &label).is_ok()),
        "local" => json!(io.local().emit("bcast", &label).is_ok()),
        "emit" => json!(io.emit("bcast", &label).is_ok()),
        "volatile" => json!(socket.volatile().emit("bcast", &label).is_ok()),
        "ack" => {
            let timeout = Duration::from_millis(arg["timeout_ms"].as_u64().unwrap());
            let responses = io
                .to(rooms)
                .timeout(timeout)
                .emit_with_ack::<_, Value>("ask", &label)
                .await
                .unwrap();
            let mut answered = serde_json::Map::new();
            for (id, result) in &responses.responses {
                let who = name_of(&ns, id.as_str()).unwrap();
                let value = match result {
                    Ok(value) => json!({ "ok": value }),
                    Err(error) => json!({ "err": format!("{error:?}") }),
                };
                answered.insert(who, value);
            }
            let ok: Vec<Value> = responses.ok().cloned().collect();
            let missing: Vec<String> = responses
                .missing()
                .map(|(id, _)| name_of(&ns, id.as_str()).unwrap())
                .collect();
            json!({ "responses": answered, "ok": ok, "missing": missing, "len": responses.len() })
        }
        "room_info" => {
            let room = arg["room"].as_str().unwrap();
            let rooms = ns
                .rooms()
                .iter()
                .map(|room| match name_of(&ns, room) {
                    Some(name) => format!("#{name}"),
                    None => room.to_string(),
                })
                .collect();
            let members = ns
                .room_members(room)
                .iter()
                .map(|id| name_of(&ns, id.as_str()).unwrap())
                .collect();
            json!({ "rooms": sorted(rooms), "members": sorted(members) })
        }
        "fetch" => {
            let mut all: Vec<Value> = io
                .fetch_sockets()
                .await
                .into_iter()
                .map(|remote| {
                    let mut rooms: Vec<String> = remote
                        .rooms
                        .iter()
                        .map(|room| {
                            if &**room == remote.id.as_str() {
                                "$self".to_owned()
                            } else {
                                room.to_string()
                            }
                        })
                        .collect();
                    rooms.sort();
                    json!({
                        "id": remote.id,
                        "name": remote.data::<Name>().map(|n| n.0),
                        "rooms": rooms,
                        "who": remote.handshake.query("who"),
                        "transport": remote.handshake.transport.as_str(),
                    })
                })
                .collect();
            all.sort_by_key(|socket| socket["name"].as_str().map(str::to_owned));
            let names = |sockets: Vec<sockeye::RemoteSocket>| {
                sorted(
                    sockets
                        .iter()
                        .map(|remote| remote.data::<Name>().unwrap().0)
                        .collect(),
                )
            };
            json!({
                "all": all,
                "r1": names(io.to("r1").fetch_sockets().await),
                "r2 except r1": names(io.to("r2").except("r1").fetch_sockets().await),
                "other": names(io.of("/other").fetch_sockets().await),
            })
        }
        "fetched_ops" => {
            for remote in io.fetch_sockets().await {
                match remote.data::<Name>().unwrap().0.as_str() {
                    "B" => remote.leave("r2"),
                    "C" => remote.emit("direct", "hello C").unwrap(),
                    "D" => remote.join("fetched-room"),
                    _ => {}
                }
            }
            let mut rooms_of = serde_json::Map::new();
            for socket in ns.sockets() {
                rooms_of.insert(name(&socket), json!(common::rooms(&socket)));
            }
            Value::Object(rooms_of)
        }
        "fetched_disconnect" => {
            let target = arg["name"].as_str().unwrap();
            for remote in io.fetch_sockets().await {
                if remote.data::<Name>().unwrap().0 == target {
                    remote.disconnect(false);
                }
            }
            json!(null)
        }
        "sockets_join" => {
            io.sockets_join(rooms.clone());
            json!(sorted(
                ns.room_members(&rooms[0])
                    .iter()
                    .map(|id| name_of(&ns, id.as_str()).unwrap())
                    .collect()
            ))
        }
        "sockets_leave" => {
            io.sockets_leave(rooms.clone());
            json!(ns.room_members(&rooms[0]).len())
        }
        "join_op" => {
            io.to(room_list(&arg, "to")).join(rooms);
            json!(null)
        }
        "disconnect_sockets" => {
            io.disconnect_sockets(false);
            json!(null)
        }
        other => panic!("unknown command {other}"),
    };
    log.push(format!("cmd {label}"), &reply);
    let _ = ack.send(&reply);
}

/// `join [rooms]` and `leave [rooms]`, acknowledged with the socket's rooms.
fn rooms_handlers(socket: &Socket) {
    socket.on(
        "join",
        |socket: Socket, Data(rooms): Data<Vec<String>>, ack: AckSender| async move {
            socket.join(rooms);
            ack.send(&common::rooms(&socket)).unwrap();
        },
    );
    socket.on(
        "leave",
        |socket: Socket, Data(rooms): Data<Vec<String>>, ack: AckSender| async move {
            socket.leave(rooms);
            ack.send(&common::rooms(&socket)).unwrap();
        },
    );
}

fn setup(io: &Io) {
    io.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        rooms_handlers(&socket);
        socket.on("cmd", cmd);
    });
    io.of("/other")
        .on_connection(|socket: Socket, State(log): State<Log>| async move {
            basics(&socket, &log);
            rooms_handlers(&socket);
        });
}

const CLIENTS: [&str; 5] = ["A", "B", "C", "D", "E"];

/// Checks that during step `label` exactly the clients `to` received `["bcast", label]`, once.
fn assert_broadcast(got: &Value, label: &str, to: &[&str]) {
    let step = &got["steps"][label];
    for client in CLIENTS {
        let expected = if to.contains(&client) {
            json!([["bcast", label]])
        } else {
            json!([])
        };
        assert_eq!(
            step["received"][client], expected,
            "step {label:?}, client {client}: {step}"
        );
    }
}

/// Checks that nobody received anything during step `label`, and returns its reply.
fn quiet_step<'a>(got: &'a Value, label: &str) -> &'a Value {
    let step = &got["steps"][label];
    for client in CLIENTS {
        assert_eq!(
            step["received"][client],
            json!([]),
            "step {label:?}: {step}"
        );
    }
    &step["reply"]
}

async fn run(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log), setup).await;
    let result = run_script("sio-rooms.mjs", &server.url, mode).await;
    check_transports(&result, mode);
    let got = &result["got"];
    let ids = &result["ids"];

    // Every client was on the mode's transport before the disconnections.
    let before = got["transportsBefore"].as_object().unwrap();
    assert_eq!(before.len(), 5, "{before:?}");
    for (client, transport) in before {
        assert_eq!(transport, final_transport(mode), "{client}");
    }

    // socket.rooms(): the rooms joined and the socket's own.
    assert_eq!(got["joined"]["A"], json!(["$self", "r1"]));
    assert_eq!(got["joined"]["B"], json!(["$self", "r1", "r2"]));
    assert_eq!(got["joined"]["C"], json!(["$self", "r2"]));
    assert_eq!(got["joined"]["D"], json!(["$self"]));
    assert_eq!(got["joined"]["E"], json!(["$self", "r1", "r2"]));

    // The operators (E, on /other, never gets a broadcast of /).
    assert_broadcast(got, "to r1", &["A", "B"]);
    assert_broadcast(got, "to r1 r2", &["A", "B", "C"]);
    assert_broadcast(got, "except r1", &["C", "D"]);
    assert_broadcast(got, "to r2 except r1", &["C"]);
    assert_broadcast(got, "A broadcast", &["B", "C", "D"]);
    assert_broadcast(got, "A to r1", &["B"]);
    assert_broadcast(got, "B to r1 r2", &["A", "C"]);
    assert_broadcast(got, "A except r2", &["D"]);
    assert_broadcast(got, "local", &["A", "B", "C", "D"]);
    assert_broadcast(got, "emit", &["A", "B", "C", "D"]);

    // Volatile: delivered to the reading client, and to nobody else.
    let attempts = got["volatile"]["attempts"].as_u64().unwrap();
    for attempt in 1..=attempts {
        let label = format!("volatile {attempt}");
        let step = &got["steps"][label.as_str()];
        for client in ["A", "B", "C", "E"] {
            assert_eq!(step["received"][client], json!([]), "{label}: {step}");
        }
        if attempt == attempts {
            assert_eq!(step["received"]["D"], json!([["bcast", label]]), "{step}");
        }
    }

    // A broadcast with acknowledgements: B answered, silent C is reported missing.
    let ask = &got["steps"]["ask r2"];
    for client in CLIENTS {
        let expected = if ["B", "C"].contains(&client) {
            json!([["ask", "ask r2", {"$ack": true}]])
        } else {
            json!([])
        };
        assert_eq!(ask["received"][client], expected, "{client}: {ask}");
    }
    let acks = json!({
        "responses": {"B": {"ok": {"from": "B", "label": "ask r2"}}, "C": {"err": "Timeout"}},
        "ok": [{"from": "B", "label": "ask r2"}],
        "missing": ["C"],
        "len": 2,
    });
    assert_eq!(log.get("cmd ask r2").unwrap(), acks);
    assert_eq!(ask["reply"], acks);

    // Room listings.
    let info = quiet_step(got, "room info");
    assert_eq!(
        info,
        &json!({"rooms": ["#A", "#B", "#C", "#D", "r1", "r2"], "members": ["A", "B"]})
    );

    // fetch_sockets: ids, data, rooms and handshakes.
    let fetched = quiet_step(got, "fetch");
    let expected_rooms = [
        ("A", json!(["$self", "r1"])),
        ("B", json!(["$self", "r1", "r2"])),
        ("C", json!(["$self", "r2"])),
        ("D", json!(["$self"])),
    ];
    let all = fetched["all"].as_array().unwrap();
    assert_eq!(all.len(), 4, "{fetched}");
    for (socket, (client, rooms)) in all.iter().zip(expected_rooms) {
        assert_eq!(socket["name"], client, "{socket}");
        assert_eq!(socket["id"], ids[client], "{socket}");
        assert_eq!(socket["rooms"], rooms, "{socket}");
        assert_eq!(socket["who"], client, "{socket}");
        assert_eq!(socket["transport"], first_transport(mode), "{socket}");
    }
    assert_eq!(fetched["r1"], json!(["A", "B"]));
    assert_eq!(fetched["r2 except r1"], json!(["C"]));
    assert_eq!(fetched["other"], json!(["E"]));

    // What was done to fetched sockets: an emit to C, D joined a room, B left one.
    let ops = &got["steps"]["fetched ops"];
    for client in CLIENTS {
        let expected = if client == "C" {
            json!([["direct", "hello C"]])
        } else {
            json!([])
        };
        assert_eq!(ops["received"][client], expected, "{client}: {ops}");
    }
    assert_eq!(
        ops["reply"],
        json!({
            "A": ["$self", "r1"], "B": ["$self", "r1"], "C": ["$self", "r2"],
            "D": ["$self", "fetched-room"],
        })
    );
    assert_broadcast(got, "to fetched-room", &["D"]);
    assert_broadcast(got, "to r2 after fetched leave", &["C"]);

    // A left r1.
    assert_eq!(got["leftA"], json!(["$self"]));
    assert_broadcast(got, "to r1 after A left", &["B"]);

    // sockets_join / BroadcastOperator::join / sockets_leave.
    assert_eq!(
        quiet_step(got, "sockets_join everyone"),
        &json!(["A", "B", "C", "D"])
    );
    assert_broadcast(got, "to everyone", &["A", "B", "C", "D"]);
    quiet_step(got, "r2 join r2-plus");
    assert_broadcast(got, "to r2-plus", &["C"]);
    assert_eq!(quiet_step(got, "sockets_leave everyone"), &json!(0));
    assert_broadcast(got, "to everyone after leave", &[]);

    // Disconnections from the server: a fetched socket, then every socket of `/`.
    assert_eq!(got["disconnectD"], "io server disconnect");
    assert_eq!(
        got["disconnect"],
        json!({"A": "io server disconnect", "B": "io server disconnect", "C": "io server disconnect"})
    );
    for client in ["A", "B", "C", "D"] {
        let key = format!("disconnect {client} /");
        let disconnect = log.wait(&key).await;
        assert_eq!(disconnect["reason"], "server namespace disconnect", "{key}");
        assert_eq!(disconnect["rooms"], json!([]), "{key}");
    }
    // E, on /other, was not touched.
    assert_eq!(got["EStillConnected"], true);
    assert_eq!(got["EFence"], final_transport(mode));
    let namespace = server.io.of("/");
    assert!(namespace.sockets().is_empty());
    assert!(namespace.rooms().is_empty(), "{:?}", namespace.rooms());
}

transport_modes!(run);
