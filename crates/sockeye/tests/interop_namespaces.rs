//! Interop with npm's `socket.io-client` 4.x (`tests/js/sio-namespaces.mjs`): the main namespace,
//! a static one, dynamic ones, several multiplexed on one connection, auth payloads, middleware
//! refusals and unknown namespaces. Over WebSocket, polling, and polling upgraded to WebSocket.
//!
//! Needs `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without them the tests
//! fail, they never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::*;
use serde::Deserialize;
use serde_json::json;
use sockeye::{AckSender, ConnectError, Data, Io, Socket, State};

/// What the `/admin` middleware gives the sockets it lets in.
#[derive(Debug, Clone)]
struct Role(String);

#[derive(Debug, Deserialize)]
struct AdminAuth {
    token: String,
}

async fn whoami(socket: Socket, ack: AckSender) {
    ack.send(&json!({
        "nsp": socket.ns().name(),
        "id": socket.id(),
        "engine": socket.engine().id().as_str(),
        "name": name(&socket),
        "role": socket.data::<Role>().map(|role| role.0),
    }))
    .unwrap();
}

fn setup(io: &Io) {
    let log: Log = io.state().unwrap();
    io.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        socket.on("whoami", whoami);
        socket.on("namespaces", |socket: Socket, ack: AckSender| async move {
            let mut namespaces = socket.io().namespaces();
            namespaces.sort();
            ack.send(&namespaces).unwrap();
        });
    });

    let admin = io.of("admin");
    let middleware_log = log.clone();
    admin.use_middleware(move |socket: Socket| {
        let log = middleware_log.clone();
        async move {
            let auth = socket.auth_value().clone();
            log.push(
                format!("middleware {} /admin", auth["name"].as_str().unwrap_or("?")),
                &auth,
            );
            if auth["token"] == "secret" {
                socket.insert_data(Role("admin".into()));
                Ok(())
            } else {
                Err(ConnectError::new("not authorized")
                    .with_data(json!({"code": 4003, "reason": "bad token ✗"})))
            }
        }
    });
    admin.on_connection(
        |socket: Socket, State(log): State<Log>, Data(auth): Data<AdminAuth>| async move {
            basics(&socket, &log);
            log.push(
                key("admin-auth", &socket),
                json!({"token": auth.token, "role": socket.data::<Role>().map(|r| r.0)}),
            );
            socket.on("whoami", whoami);
            socket.on(
                "admin-only",
                |Data(text): Data<String>, ack: AckSender| async move {
                    ack.send(&format!("admin got {text}")).unwrap();
                },
            );
        },
    );

    let dynamic = io.dynamic(|name| name.starts_with("/dyn-"));
    dynamic.use_middleware(|socket: Socket| async move {
        if socket.ns().name() == "/dyn-locked" {
            Err(ConnectError::new("locked").with_data(json!({"nsp": "/dyn-locked"})))
        } else {
            Ok(())
        }
    });
    dynamic.on_connection(|socket: Socket, State(log): State<Log>| async move {
        basics(&socket, &log);
        socket.on("whoami", whoami);
        socket.on(
            "ns-broadcast",
            |socket: Socket, Data(text): Data<String>, ack: AckSender| async move {
                socket
                    .ns()
                    .emit("ns-news", &(socket.ns().name(), text))
                    .unwrap();
                ack.send(socket.ns().name()).unwrap();
            },
        );
    });
}

async fn run(mode: &str) {
    let log = Log::default();
    let server = serve(builder(&log), setup).await;
    let result = run_script("sio-namespaces.mjs", &server.url, mode).await;
    check_transports(&result, mode);
    let got = &result["got"];

    // M's three namespaces share one Engine.IO session, each with a socket id of its own.
    let engine = &got["M"]["engine"];
    assert!(engine.is_string(), "{result}");
    let mut ids = Vec::new();
    for nsp in ["/", "/admin", "/dyn-1"] {
        let connect = log.get(&format!("connect M {nsp}")).unwrap();
        assert_eq!(&connect["engine"], engine, "{nsp}: {connect}");
        assert_eq!(connect["id"], got["M"]["ids"][nsp], "{nsp}: {connect}");
        assert_eq!(connect["who"], "M");
        assert_eq!(connect["transport"], first_transport(mode));
        let whoami = &got["M"]["whoami"][nsp];
        assert_eq!(whoami["nsp"], nsp);
        assert_eq!(whoami["id"], connect["id"]);
        assert_eq!(&whoami["engine"], engine);
        assert_eq!(whoami["name"], "M");
        let role = if nsp == "/admin" {
            json!("admin")
        } else {
            json!(null)
        };
        assert_eq!(whoami["role"], role, "{nsp}");
        ids.push(connect["id"].clone());
    }
    let distinct: std::collections::HashSet<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(distinct.len(), 3, "{ids:?}");
    // The other clients have sessions of their own.
    for client in ["R", "D1", "D2"] {
        assert_ne!(&result["engines"][client], engine, "{client}");
    }

    // The auth payloads of the CONNECT packets, as sent.
    assert_eq!(
        log.get("connect M /").unwrap()["auth"],
        json!({"name": "M", "token": "t", "nested": {"list": [1, "two", null], "unicode": "ü 日本 🚀"}})
    );
    assert_eq!(
        log.get("middleware M /admin").unwrap(),
        json!({"name": "M", "token": "secret"})
    );
    assert_eq!(
        log.get("admin-auth M /admin").unwrap(),
        json!({"token": "secret", "role": "admin"})
    );

    // Handlers are per namespace.
    assert_eq!(
        got["adminOnly"],
        json!({"admin": "admin got from admin", "root": {"error": "operation has timed out"}})
    );

    // A middleware refusal: connect_error with message and data; the connection lives on.
    assert_eq!(
        got["refused"],
        json!({"message": "not authorized", "data": {"code": 4003, "reason": "bad token ✗"}, "connected": false})
    );
    assert_eq!(
        log.get("middleware R /admin").unwrap(),
        json!({"name": "R", "token": "wrong"})
    );
    assert_eq!(log.get("connect R /admin"), None);
    assert_eq!(log.get("connect R /").unwrap()["id"], result["ids"]["R"]);
    assert_eq!(got["refusedRootFence"], final_transport(mode));
    assert_eq!(
        got["locked"],
        json!({"message": "locked", "data": {"nsp": "/dyn-locked"}, "connected": false})
    );
    assert_eq!(log.get("connect L /dyn-locked"), None);

    // A namespace that does not exist.
    assert_eq!(
        got["unknown"],
        json!({"message": "Invalid namespace", "data": {"$undefined": true}, "connected": false})
    );
    assert!(!log.keys().iter().any(|k| k.contains("/nope")));

    // Dynamic namespaces: each child is a namespace of its own.
    assert_eq!(got["whoamiD2"]["nsp"], "/dyn-2");
    assert_eq!(
        log.get("connect D1 /dyn-1").unwrap()["id"],
        result["ids"]["D1"]
    );
    assert_eq!(got["nsBroadcast"], "/dyn-1");
    let news = json!([["ns-news", "/dyn-1", "hello dyn-1"]]);
    assert_eq!(
        got["nsNews"],
        json!({
            "M /": [], "M /admin": [], "M /dyn-1": news, "R /": [], "D1 /dyn-1": news,
            "D2 /dyn-2": [],
        })
    );
    assert_eq!(
        got["namespaces"],
        json!(["/", "/admin", "/dyn-1", "/dyn-2", "/dyn-locked"])
    );
    // Every socket that connected is still connected at the end.
    for (client, connected) in result["connected"].as_object().unwrap() {
        let refused = ["R /admin", "L /dyn-locked", "U /nope"].contains(&client.as_str());
        assert_eq!(connected, &json!(!refused), "{client}");
    }
}

transport_modes!(run);
