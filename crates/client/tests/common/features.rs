//! What every transport must carry, against either server (each answers the same events):
//! both namespaces on one Engine.IO session, the transport the server ends on, binary anywhere
//! in the arguments, acks, volatile and buffered emits, `on_any`, `connect_error` with its
//! data, and the auth payload, computed anew at each reconnection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sockeye_client::{Ack, Client, Event, Lifecycle, Transports};
use sockeye_testkit::{WAIT, within};
use tokio::sync::mpsc;

use super::wait_for;

/// The server's `whoami` answer.
#[derive(Debug, Deserialize)]
struct WhoAmI {
    /// The socket id, which the client's `Socket::id` must be.
    id: String,
    sid: String,
    transport: String,
}

/// Binary values at several depths, beside JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Nested {
    name: String,
    file: Bytes,
    parts: Vec<(u32, Bytes)>,
    meta: Value,
}

fn client(url: &str, transports: Transports) -> Client {
    Client::builder(url)
        .transports(transports)
        .reconnection(false)
        .build()
        .unwrap()
}

async fn whoami(socket: &sockeye_client::Socket) -> WhoAmI {
    socket
        .timeout(WAIT)
        .emit_with_ack("whoami", &())
        .await
        .unwrap()
}

/// Runs every check on `transports`.
pub async fn features(url: &str, transports: Transports) {
    one_session(url, transports).await;
    handshake(url, transports).await;
    url_forms(url, transports).await;
    burst(url, transports).await;
    binary_anywhere(url, transports).await;
    binary_acks_both_ways(url, transports).await;
    pending_ack_fails_on_disconnect(url, transports).await;
    buffered_volatile_and_on_any(url, transports).await;
    connect_error(url, transports).await;
    auth_on_each_reconnection(url, transports).await;
}

/// Two namespaces share one Engine.IO session, on the transport asked for: with an upgrade,
/// the server ends on WebSocket.
async fn one_session(url: &str, transports: Transports) {
    let client = client(url, transports);
    let mut lifecycle = client.lifecycle();
    let main = client.socket("/");
    let admin = client.socket("/admin");
    main.connect();
    admin.connect();
    for _ in 0..2 {
        wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Connect { .. })).await;
    }
    let expected = match transports {
        Transports::Polling => "polling",
        _ => "websocket",
    };
    let first = within(WAIT, async {
        loop {
            let me = whoami(&main).await;
            if me.transport == expected {
                return me;
            }
            assert_eq!(me.transport, "polling", "{transports:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(main.id().as_deref(), Some(first.id.as_str()));
    let other = whoami(&admin).await;
    assert_eq!(admin.id().as_deref(), Some(other.id.as_str()));
    assert_ne!(other.id, first.id);
    assert_eq!(
        other.sid, first.sid,
        "two namespaces, one Engine.IO session"
    );
    assert_eq!(other.transport, expected);

    // The server disconnects one namespace: the other stays, on the same session, and the
    // first connects again on it.
    admin.emit("kick_me", &()).unwrap();
    let event = wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::Disconnect { .. })
    })
    .await;
    assert_eq!(
        event,
        Lifecycle::Disconnect {
            namespace: "/admin".into(),
            reason: sockeye_client::DisconnectReason::IoServerDisconnect
        }
    );
    assert!(main.connected() && !admin.connected());
    assert_eq!(whoami(&main).await.sid, first.sid);
    admin.connect();
    wait_for(
        &mut lifecycle,
        |e| matches!(e, Lifecycle::Connect { namespace, .. } if namespace == "/admin"),
    )
    .await;
    assert_eq!(whoami(&admin).await.sid, first.sid);
    client.close();
}

/// The query of the URL and of `ClientBuilder::query`, and an extra header, reach the
/// server's handshake.
async fn handshake(url: &str, transports: Transports) {
    // Escapes in the URL are decoded once, as the JavaScript client does; `+` stays `+`.
    let client = Client::builder(&format!("{url}/?from_url=1&both=a%20b+c%2B%zz"))
        .transports(transports)
        .query("from_builder", "x&y=z")
        .header("x-sockeye-test", "yes")
        .reconnection(false)
        .build()
        .unwrap();
    let socket = client.socket("/");
    socket.connect();
    let seen: Value = socket
        .timeout(WAIT)
        .emit_with_ack(
            "handshake",
            &vec!["from_url", "both", "from_builder", "EIO"],
        )
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({
            "query": {"from_url": "1", "both": "a b+c+%zz", "from_builder": "x&y=z", "EIO": "4"},
            "header": "yes",
        })
    );
    client.close();
}

/// The URL's path names the main socket's namespace, and a `ws://` URL serves every transport,
/// as with the JavaScript client.
async fn url_forms(url: &str, transports: Transports) {
    let ws = url.replacen("http://", "ws://", 1);
    for (url, namespace, greeting) in [
        (format!("{url}/admin"), "/admin", "hello_admin"),
        (format!("{ws}/"), "/", "motd"),
    ] {
        let client = client(&url, transports);
        let socket = client.main_socket();
        assert_eq!(socket.namespace(), namespace);
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        socket.on(greeting, move |text: String, _: Ack| {
            let _ = tx.send(text);
        });
        socket.connect();
        assert!(!within(WAIT, rx.recv()).await.unwrap().is_empty());
        client.close();
    }
}

/// A burst of emits both ways (batched into few polling requests) arrives whole and in order.
async fn burst(url: &str, transports: Transports) {
    const N: u64 = 1_000;
    let client = client(url, transports);
    let socket = client.socket("/");
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    socket.on("echoed", move |value: Value, _: Ack| {
        let _ = tx.send(value);
    });
    socket.connect();
    for n in 0..N {
        socket
            .emit("echo", &json!({"n": n, "pad": "x".repeat(40)}))
            .unwrap();
    }
    for n in 0..N {
        let value = within(WAIT, rx.recv()).await.unwrap();
        assert_eq!(value["n"], json!(n));
    }
    client.close();
}

/// Binary values nested in objects and arrays, in an emit and in its ack.
async fn binary_anywhere(url: &str, transports: Transports) {
    let client = client(url, transports);
    let socket = client.socket("/");
    socket.connect();
    let nested = Nested {
        name: "upload".into(),
        file: Bytes::from_static(&[0, 1, 2, 255]),
        parts: vec![(1, Bytes::from_static(b"a")), (2, Bytes::new())],
        // Characters that framing could trip on: multi-byte, the polling separator.
        meta: json!({"deep": [{"x": 1}, null, "text"], "odd": "é 😀 \u{1e} \n"}),
    };
    let (first, echoed, last): (Bytes, Nested, String) = socket
        .timeout(WAIT)
        .emit_with_ack("echo_ack", &(Bytes::from_static(b"lead"), &nested, "tail"))
        .await
        .unwrap();
    assert_eq!(&first[..], b"lead");
    assert_eq!(echoed, nested);
    assert_eq!(last, "tail");
    // A large attachment (base64 in a polling body, a binary frame over WebSocket).
    let big: Bytes = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let back: Bytes = socket
        .timeout(WAIT)
        .emit_with_ack("echo_ack", &big)
        .await
        .unwrap();
    assert_eq!(back, big);
    client.close();
}

/// What the client answers to the server's `give_binary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Given {
    file: Bytes,
    list: Vec<Bytes>,
    text: String,
}

/// The server asks the client with an ack, the client answers with binary inside, and the
/// server acknowledges with that answer: binary in acks both ways.
async fn binary_acks_both_ways(url: &str, transports: Transports) {
    let client = client(url, transports);
    let socket = client.socket("/");
    let given = Given {
        file: Bytes::from_static(&[7; 3]),
        list: vec![Bytes::from_static(b"x"), Bytes::from_static(&[0, 255])],
        text: "answer".into(),
    };
    let answer = given.clone();
    socket.on("give_binary", move |please: String, ack: Ack| {
        assert_eq!(please, "please");
        assert!(ack.is_requested());
        ack.send(&answer).unwrap();
    });
    socket.connect();
    let back: Given = socket
        .timeout(WAIT)
        .emit_with_ack("ask_binary", &())
        .await
        .unwrap();
    assert_eq!(back, given);
    client.close();
}

/// An acknowledgement still awaited when the connection drops fails with `Disconnected`, as
/// socket.io-client rejects it, instead of waiting for ever; the client reconnecting (and, on
/// Node, recovering) changes nothing to that.
async fn pending_ack_fails_on_disconnect(url: &str, transports: Transports) {
    let client = Client::builder(url)
        .transports(transports)
        .reconnection_delay(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let socket = client.socket("/");
    socket.connect();
    let waiting = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<_, Value>("nobody_answers", &1).await })
    };
    socket.emit("drop_me", &()).unwrap();
    let result = within(WAIT, waiting).await.unwrap();
    assert_eq!(result, Err(sockeye_client::Error::Disconnected));
    client.close();
}

/// Emits before the socket is connected wait for it, except volatile ones, which are dropped;
/// `on_any` sees every event before its handler.
async fn buffered_volatile_and_on_any(url: &str, transports: Transports) {
    let client = client(url, transports);
    let socket = client.socket("/");
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    socket.on("echoed", move |value: Value, _: Ack| {
        let _ = tx.send(value);
    });
    let (any_tx, mut any) = mpsc::unbounded_channel::<String>();
    socket.on_any(move |event: &Event| {
        let _ = any_tx.send(event.name().to_owned());
    });
    socket.volatile().emit("echo", "volatile, offline").unwrap();
    socket.emit("echo", "buffered").unwrap();
    socket.connect();
    assert_eq!(within(WAIT, rx.recv()).await.unwrap(), json!("buffered"));
    socket.volatile().emit("echo", "volatile, online").unwrap();
    assert_eq!(
        within(WAIT, rx.recv()).await.unwrap(),
        json!("volatile, online")
    );
    let mut names = Vec::new();
    while let Ok(name) = any.try_recv() {
        names.push(name);
    }
    assert_eq!(names, ["motd", "echoed", "echoed"]);
    client.close();
}

/// A middleware's refusal reaches the client with its message and data.
async fn connect_error(url: &str, transports: Transports) {
    let client = Client::builder(url)
        .transports(transports)
        .reconnection(false)
        .auth(json!({"token": "bad"}))
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/private");
    socket.connect();
    let event = wait_for(&mut lifecycle, |e| {
        matches!(e, Lifecycle::ConnectError { .. })
    })
    .await;
    assert_eq!(
        event,
        Lifecycle::ConnectError {
            namespace: "/private".into(),
            message: "not authorized".into(),
            data: Some(json!({"token": "bad"})),
        }
    );
    assert!(!socket.connected());
    client.close();
}

/// A fixed auth payload reaches the server; an auth closure runs again at each reconnection,
/// and the server sees its new value.
async fn auth_on_each_reconnection(url: &str, transports: Transports) {
    let fixed = Client::builder(url)
        .transports(transports)
        .reconnection(false)
        .auth(json!({"token": "good", "fixed": true}))
        .build()
        .unwrap();
    let socket = fixed.socket("/private");
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    socket.on("auth_was", move |auth: Value, _: Ack| {
        let _ = tx.send(auth);
    });
    socket.connect();
    let auth = within(WAIT, rx.recv()).await.unwrap();
    assert_eq!(
        (&auth["token"], &auth["fixed"]),
        (&json!("good"), &json!(true))
    );
    fixed.close();

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let client = Client::builder(url)
        .transports(transports)
        .reconnection_delay(std::time::Duration::from_millis(50))
        .auth_with(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move { json!({"token": "good", "n": n}) }
        })
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/private");
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    socket.on("auth_was", move |auth: Value, _: Ack| {
        let _ = tx.send(auth);
    });
    socket.connect();
    assert_eq!(within(WAIT, rx.recv()).await.unwrap()["n"], json!(1));
    // The server closes the transport; the client reconnects by itself.
    socket.emit("drop_me", &()).unwrap();
    wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Reconnect(_))).await;
    assert_eq!(within(WAIT, rx.recv()).await.unwrap()["n"], json!(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    client.close();
}
