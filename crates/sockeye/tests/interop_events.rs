//! Interop with npm's `socket.io-client` 4.x (`tests/js/sio-events.mjs`): events with JSON and
//! binary arguments both ways, acknowledgements both ways (timeouts included), `on_any` and
//! `on_any_outgoing`, packet middlewares, the error hook of arguments that do not deserialise,
//! and per-socket typed data. Over WebSocket, polling, and polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sockeye::{AckError, AckSender, Data, Event, Io, Socket, State};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    tags: Vec<String>,
    nested: Nested,
    score: f64,
    missing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Nested {
    deep: Vec<Option<i64>>,
    flag: bool,
    map: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BinDoc {
    label: String,
    file: Bytes,
    list: (Bytes, String, Deeper),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deeper {
    deeper: Bytes,
}

#[derive(Debug, Clone, Serialize)]
struct WelcomeBin {
    img: Bytes,
    meta: WelcomeMeta,
}

#[derive(Debug, Clone, Serialize)]
struct WelcomeMeta {
    parts: Vec<Bytes>,
    name: String,
}

#[derive(Debug, Serialize)]
struct BinAck {
    len: usize,
    copy: Bytes,
}

#[derive(Debug, Deserialize)]
struct BinReply {
    nested: Bytes,
    note: String,
}

#[derive(Debug, Clone)]
struct Counter(u32);

/// Binary as the scripts encode it: `{"$bin": hex}`.
fn bin(bytes: &[u8]) -> Value {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    json!({ "$bin": hex })
}

fn outcome(result: Result<Value, AckError>) -> Value {
    match result {
        Ok(value) => json!({ "ok": value }),
        Err(error) => json!({ "err": format!("{error:?}") }),
    }
}

fn setup(io: &Io) {
    let log: Log = io.state().unwrap();
    io.on_error(move |error| {
        log.push(
            "hook",
            json!({ "nsp": error.nsp, "event": error.event, "message": error.message }),
        );
    });
    io.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        socket.insert_data(Counter(0));

        let any = log.clone();
        socket.on_any(move |socket, event| {
            let any = any.clone();
            async move {
                if event.name == "mutate" {
                    any.push(key("any-args", &socket), &event.args);
                }
                any.push(key("any", &socket), event.name);
            }
        });
        let outgoing = log.clone();
        socket.on_any_outgoing(move |socket, event, args| {
            outgoing.push(key("out", socket), json!([event, args.len()]));
        });
        socket.use_packet(|_, event| match event.name.as_str() {
            "forbidden" => Err("forbidden by middleware".into()),
            "mutate" => {
                event.args.values_mut().push(json!("added by middleware"));
                Ok(())
            }
            _ => Ok(()),
        });
        let errors = log.clone();
        socket.on_error(move |socket, error| errors.push(key("packet-error", socket), error));

        // JSON and binary from the server: several arguments, none, one array.
        socket
            .emit(
                "welcome",
                &(
                    json!({"msg": "héllo 🌍", "nested": {"list": [1, 2.5, "three", null, {"deep": true}]}}),
                    "second ✓",
                    3,
                ),
            )
            .unwrap();
        let welcome = WelcomeBin {
            img: Bytes::from_static(b"\x89PNG"),
            meta: WelcomeMeta {
                parts: vec![Bytes::from_static(&[1]), Bytes::from_static(&[2, 2])],
                name: "ü".into(),
            },
        };
        socket
            .emit(
                "welcome-bin",
                &(Bytes::from_static(&[0, 1, 2, 255]), welcome),
            )
            .unwrap();
        socket.emit("no-args", &()).unwrap();
        socket.emit("one-array", &vec![1, 2, 3]).unwrap();

        socket.on(
            "json",
            |socket: Socket,
             State(log): State<Log>,
             Data((profile, text, n, list)): Data<(Profile, String, i64, Vec<Value>)>| async move {
                log.push(key("json", &socket), json!([profile, text, n, list]));
                socket.emit("json-back", &(profile, text, n, list)).unwrap();
            },
        );
        socket.on(
            "bin",
            |socket: Socket,
             State(log): State<Log>,
             Data((a, b, c, doc)): Data<(Bytes, Bytes, Bytes, BinDoc)>| async move {
                let (first, text, deeper) = &doc.list;
                log.push(
                    key("bin", &socket),
                    json!([bin(&a), bin(&b), bin(&c), {
                        "label": doc.label,
                        "file": bin(&doc.file),
                        "list": [bin(first), text, {"deeper": bin(&deeper.deeper)}],
                    }]),
                );
                socket.emit("bin-back", &(a, b, c, doc)).unwrap();
            },
        );
        socket.on(
            "bin-edge",
            |socket: Socket,
             State(log): State<Log>,
             ack: AckSender,
             Data((empty, big)): Data<(Bytes, Vec<u8>)>| async move {
                let sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
                log.push(
                    key("bin-edge", &socket),
                    json!([empty.len(), big.len(), sum]),
                );
                ack.send(&(empty, Bytes::from(big))).unwrap();
            },
        );
        socket.on(
            "sum",
            |Data((a, b)): Data<(i64, i64)>, ack: AckSender| async move {
                ack.send(&json!({ "sum": a + b })).unwrap();
            },
        );
        socket.on(
            "multi-ack",
            |Data(text): Data<String>, ack: AckSender| async move {
                ack.send(&("one", 2, json!({"three": [3]}), json!({ "echo": text })))
                    .unwrap();
            },
        );
        socket.on("empty-ack", |ack: AckSender| async move {
            ack.send(&()).unwrap();
        });
        socket.on(
            "bin-ack",
            |Data(data): Data<Bytes>, ack: AckSender| async move {
                let reversed: Vec<u8> = data.iter().rev().copied().collect();
                let copy = BinAck {
                    len: data.len(),
                    copy: data,
                };
                ack.send(&(Bytes::from(reversed), copy)).unwrap();
            },
        );
        socket.on(
            "start-server-acks",
            |socket: Socket, State(log): State<Log>, ack: AckSender| async move {
                let question = socket
                    .emit_with_ack::<_, (String, i64)>("question", &("why?", 21))
                    .await
                    .map(|answer| json!(answer));
                let binary = socket
                    .timeout(WAIT)
                    .emit_with_ack::<_, (Bytes, BinReply)>(
                        "bin-question",
                        &Bytes::from_static(&[1, 2, 3, 4]),
                    )
                    .await
                    .map(|(data, reply)| {
                        json!([bin(&data), {"nested": bin(&reply.nested), "note": reply.note}])
                    });
                let silent = socket
                    .timeout(Duration::from_millis(500))
                    .emit_with_ack::<_, Value>("silent", &"anyone?")
                    .await;
                let summary = json!({
                    "question": outcome(question),
                    "bin": outcome(binary),
                    "silent": outcome(silent),
                });
                log.push(key("server-acks", &socket), &summary);
                ack.send(&summary).unwrap();
            },
        );
        socket.on(
            "never-acks",
            |socket: Socket, State(log): State<Log>, ack: AckSender| async move {
                log.push(key("never-acks", &socket), json!({"expected": ack.expected()}));
            },
        );
        socket.on(
            "forbidden",
            |socket: Socket, State(log): State<Log>| async move {
                log.push(key("forbidden-handler", &socket), true);
            },
        );
        socket.on("mutate", |event: Event, ack: AckSender| async move {
            ack.send(&event.args).unwrap();
        });
        socket.on("typed", |Data(n): Data<u32>, ack: AckSender| async move {
            ack.send(&(n + 1)).unwrap();
        });
        socket.on("count", |socket: Socket, ack: AckSender| async move {
            let count = socket.with_data(|counter: &mut Counter| {
                counter.0 += 1;
                counter.0
            });
            ack.send(&json!({ "count": count, "name": name(&socket) }))
                .unwrap();
        });
    });
}

async fn run(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log), setup).await;
    let result = run_script("sio-events.mjs", &server.url, mode).await;
    check_transports(&result, mode);
    let sent = &result["sent"];
    let got = &result["got"];

    // Connections: the ids the client sees are the server's; the transports are the mode's.
    for client in ["A", "B"] {
        let connect = log.get(&format!("connect {client} /")).unwrap();
        assert_eq!(connect["id"], result["ids"][client], "{connect}");
        assert_eq!(connect["engine"], result["engines"][client], "{connect}");
        assert_ne!(
            connect["id"], connect["engine"],
            "socket id and session id differ"
        );
        assert_eq!(connect["auth"], json!({ "name": client }));
        assert_eq!(connect["who"], client);
        assert_eq!(connect["transport"], first_transport(mode));
        assert_eq!(got["fence"][client], final_transport(mode));
    }

    // What the server sent on connection.
    assert_eq!(
        got["welcome"],
        json!([
            {"msg": "héllo 🌍", "nested": {"list": [1, 2.5, "three", null, {"deep": true}]}},
            "second ✓",
            3
        ])
    );
    assert_eq!(
        got["welcome-bin"],
        json!([
            bin(&[0, 1, 2, 255]),
            {"img": bin(b"\x89PNG"), "meta": {"parts": [bin(&[1]), bin(&[2, 2])], "name": "ü"}}
        ])
    );
    assert_eq!(got["no-args"], json!([]));
    assert_eq!(got["one-array"], json!([[1, 2, 3]]));

    // JSON both ways, through typed Rust values.
    assert_eq!(sent["json"][0]["name"], "Zoë 🚀");
    assert_eq!(log.get("json A /").unwrap(), sent["json"]);
    assert_eq!(got["json"], sent["json"]);
    assert_eq!(log.get("json B /").unwrap(), sent["jsonB"]);
    assert_eq!(got["jsonB"], sent["jsonB"]);

    // Binary both ways: every kind of binary value, nested ones, several attachments.
    assert_eq!(sent["bin"][1], bin(&[4, 5]), "an ArrayBuffer");
    assert_eq!(sent["bin"][3]["file"], bin("héllo".as_bytes()));
    assert_eq!(log.get("bin A /").unwrap(), sent["bin"]);
    assert_eq!(got["bin"], sent["bin"]);
    let sum: u64 = (0..200_000u64).map(|i| (i * 31 + 5) & 0xff).sum();
    assert_eq!(log.get("bin-edge A /").unwrap(), json!([0, 200_000, sum]));
    assert_eq!(
        got["binEdge"],
        json!({"emptyLength": 0, "bigLength": 200_000, "bigSame": true})
    );

    // Client to server acknowledgements.
    assert_eq!(got["sum"], json!({"sum": 5}));
    assert_eq!(
        got["multiAck"],
        json!(["one", 2, {"three": [3]}, {"echo": "x"}])
    );
    assert_eq!(got["emptyAck"], json!([]));
    assert_eq!(
        got["binAck"],
        json!([bin(&[3, 2, 1]), {"len": 3, "copy": bin(&[1, 2, 3])}])
    );

    // Server to client acknowledgements: answered, answered with binary, timed out.
    let server_acks = json!({
        "question": {"ok": ["answer to why?", 42]},
        "bin": {"ok": [bin(&[4, 3, 2, 1]), {"nested": bin(&[7, 7]), "note": "ü"}]},
        "silent": {"err": "Timeout"},
    });
    assert_eq!(log.get("server-acks A /").unwrap(), server_acks);
    assert_eq!(got["serverAcks"], server_acks);

    // A client-side timeout: the server got the event, with an ack id it never answered.
    assert_eq!(
        got["clientTimeout"],
        json!({"error": "operation has timed out", "rest": 0})
    );
    assert_eq!(
        log.get("never-acks A /").unwrap(),
        json!({"expected": true})
    );

    // Packet middlewares.
    assert_eq!(
        got["forbidden"],
        json!({"error": "operation has timed out"})
    );
    assert_eq!(log.get("forbidden-handler A /"), None);
    assert_eq!(
        log.all("packet-error A /"),
        vec![json!("forbidden by middleware")]
    );
    assert_eq!(got["mutate"], json!(["original", "added by middleware"]));

    // Arguments that do not deserialise: the hook hears of both, the ack gets the error.
    let hooks = log.wait_count("hook", 2).await;
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    for hook in &hooks {
        assert_eq!(hook["nsp"], "/");
        assert_eq!(hook["event"], "typed");
        let message = hook["message"].as_str().unwrap();
        assert!(message.starts_with("invalid arguments"), "{message}");
    }
    assert_eq!(got["typedBad"], json!({"error": hooks[0]["message"]}));
    assert_eq!(got["typedGood"], 42);

    // Per-socket data.
    assert_eq!(
        got["counts"],
        json!({
            "A": [{"count": 1, "name": "A"}, {"count": 2, "name": "A"}, {"count": 3, "name": "A"}],
            "B": [{"count": 1, "name": "B"}],
        })
    );

    // on_any saw every event, handled or not, refused by a middleware or not, in order, as it
    // arrived (before the middlewares changed it), as Node's onAny does.
    let any: Vec<Value> = log.all("any A /");
    assert_eq!(
        any,
        json!([
            "json",
            "bin",
            "bin-edge",
            "sum",
            "multi-ack",
            "empty-ack",
            "bin-ack",
            "start-server-acks",
            "never-acks",
            "forbidden",
            "mutate",
            "typed",
            "typed",
            "typed",
            "unhandled-event",
            "count",
            "count",
            "count",
            "fence"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    assert_eq!(log.all("any-args A /"), vec![json!(["original"])]);
    assert_eq!(
        log.all("any B /"),
        json!(["json", "count", "fence"])
            .as_array()
            .unwrap()
            .clone()
    );
    // on_any_outgoing saw every event the server emitted to A (not acknowledgements).
    assert_eq!(
        log.all("out A /"),
        json!([
            ["welcome", 3],
            ["welcome-bin", 2],
            ["no-args", 0],
            ["one-array", 1],
            ["json-back", 4],
            ["bin-back", 4],
            ["question", 2],
            ["bin-question", 1],
            ["silent", 1]
        ])
        .as_array()
        .unwrap()
        .clone()
    );

    // Who received what: each client got only its own events.
    assert_eq!(
        result["events"]["A"],
        json!([
            "welcome",
            "welcome-bin",
            "no-args",
            "one-array",
            "json-back",
            "bin-back",
            "question",
            "bin-question",
            "silent"
        ])
    );
    assert_eq!(
        result["events"]["B"],
        json!([
            "welcome",
            "welcome-bin",
            "no-args",
            "one-array",
            "json-back"
        ])
    );

    // The clients left when the script ended.
    for client in ["A", "B"] {
        let disconnect = log.wait(&format!("disconnect {client} /")).await;
        assert_eq!(disconnect["reason"], "transport close", "{disconnect}");
    }
}

transport_modes!(run);
