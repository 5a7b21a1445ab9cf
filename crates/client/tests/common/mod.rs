//! The scenario both servers pass: motd, two namespaces, echo, acks both ways, binary.
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sockeye_client::{Ack, Client, Lifecycle, LifecycleReceiver, Parser, Transports};
use sockeye_testkit::{WAIT, within};
use tokio::sync::mpsc;

pub mod features;
pub mod node;
pub mod proxy;

pub async fn wait_for(
    events: &mut LifecycleReceiver,
    matches: impl Fn(&Lifecycle) -> bool,
) -> Lifecycle {
    within(WAIT, async {
        loop {
            match events.recv().await {
                Some(event) if matches(&event) => return event,
                Some(_) => {}
                None => panic!("lifecycle: the client is gone"),
            }
        }
    })
    .await
}

pub async fn scenario(url: &str, transports: Transports, after_connect: impl FnOnce()) {
    scenario_with(url, transports, Parser::Default, after_connect).await;
}

/// [`scenario`] with the server's `parser`.
pub async fn scenario_with(
    url: &str,
    transports: Transports,
    parser: Parser,
    after_connect: impl FnOnce(),
) {
    let client = Client::builder(url)
        .transports(transports)
        .parser(parser)
        .reconnection(false)
        .build()
        .unwrap();
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    let admin = client.socket("/admin");
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Value)>();
    let t = tx.clone();
    socket.on("motd", move |motd: String, _ack: Ack| {
        let _ = t.send(("motd".into(), json!(motd)));
    });
    let t = tx.clone();
    socket.on("echoed", move |value: Value, _ack: Ack| {
        let _ = t.send(("echoed".into(), value));
    });
    let t = tx.clone();
    socket.on("answer_was", move |value: Value, _ack: Ack| {
        let _ = t.send(("answer_was".into(), value));
    });
    socket.on("question", |_q: String, ack: Ack| {
        assert!(ack.is_requested());
        let _ = ack.send("me");
    });
    let t = tx.clone();
    admin.on("hello_admin", move |value: Value, _ack: Ack| {
        let _ = t.send(("hello_admin".into(), value));
    });
    socket.connect();
    admin.connect();
    wait_for(
        &mut lifecycle,
        |e| matches!(e, Lifecycle::Connect { namespace, .. } if namespace == "/"),
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(within(WAIT, rx.recv()).await.unwrap());
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got[0], ("hello_admin".into(), json!("admin here")));
    assert_eq!(got[1], ("motd".into(), json!("Welcome to my server!")));
    assert!(socket.connected());
    assert!(admin.connected());
    after_connect();

    socket.emit("echo", &json!({"a": [1, 2, "three"]})).unwrap();
    assert_eq!(
        within(WAIT, rx.recv()).await.unwrap(),
        ("echoed".into(), json!({"a": [1, 2, "three"]}))
    );
    let reply: String = socket
        .timeout(WAIT)
        .emit_with_ack(
            "important_message",
            &json!({"alias": "me", "message": "hi"}),
        )
        .await
        .unwrap();
    assert_eq!(reply, "Roger that");
    let (name, len, data): (String, usize, Bytes) = socket
        .timeout(WAIT)
        .emit_with_ack("binary", &("file", Bytes::from_static(&[1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!((name.as_str(), len, &data[..]), ("file", 4, &[9, 8, 7][..]));
    socket.emit("ask_me", &()).unwrap();
    assert_eq!(
        within(WAIT, rx.recv()).await.unwrap(),
        ("answer_was".into(), json!("me"))
    );
    let timed_out = socket
        .timeout(Duration::from_millis(200))
        .emit_with_ack::<_, Value>("nobody_answers", &1)
        .await;
    assert!(matches!(
        timed_out,
        Err(sockeye_client::Error::AckTimeout(_))
    ));

    admin.disconnect();
    socket.disconnect();
    wait_for(&mut lifecycle, |e| matches!(e, Lifecycle::Disconnect { namespace, reason } if namespace == "/" && reason.as_str() == "io client disconnect")).await;
}
