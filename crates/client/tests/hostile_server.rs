//! A server that breaks the protocol: the client closes the connection with the reason the
//! JavaScript client gives ("parse error", "transport error"), never panics, never buffers
//! without bound, and reconnects as usual. The server here is raw TCP on loopback, written to
//! misbehave; everything it sends before it misbehaves is a correct Engine.IO v4 exchange.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye_client::{Client, DisconnectReason, Lifecycle, LifecycleReceiver, Transports};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const OPEN: &str = r#"0{"sid":"hostile","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

/// What the WebSocket server sends once the client's namespace is connected.
#[derive(Clone)]
enum Misbehaviour {
    /// A Socket.IO packet that is not one.
    Garbage(&'static str),
    /// A well-formed event of this many bytes.
    Huge(usize),
}

fn huge_event(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 16);
    text.push_str(r#"42["big",""#);
    text.extend(std::iter::repeat_n('x', bytes));
    text.push_str(r#""]"#);
    text
}

/// A WebSocket Engine.IO server that connects namespace `/` properly, then misbehaves, on
/// every connection it accepts. Returns its URL and how many connections it took.
async fn websocket_server(misbehaviour: Misbehaviour) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let misbehaviour = misbehaviour.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                ws.send(Message::text(OPEN)).await.unwrap();
                while let Some(Ok(message)) = ws.next().await {
                    if message.to_text().unwrap_or_default().starts_with("40") {
                        ws.send(Message::text(r#"40{"sid":"s1"}"#)).await.unwrap();
                        let bad = match &misbehaviour {
                            Misbehaviour::Garbage(text) => (*text).to_owned(),
                            Misbehaviour::Huge(bytes) => huge_event(*bytes),
                        };
                        // The client may close before all of it is written.
                        let _ = ws.send(Message::text(bad)).await;
                    }
                }
            });
        }
    });
    (url, connections)
}

async fn next_event(lifecycle: &mut LifecycleReceiver) -> Lifecycle {
    tokio::time::timeout(Duration::from_secs(10), lifecycle.recv())
        .await
        .expect("a lifecycle event within 10 s")
        .expect("the client is alive")
}

/// Waits for a disconnect of `/`, checking that `/` connected first.
async fn disconnect_after_connect(lifecycle: &mut LifecycleReceiver) -> DisconnectReason {
    let mut connected = false;
    loop {
        match next_event(lifecycle).await {
            Lifecycle::Connect { namespace, .. } if namespace == "/" => connected = true,
            Lifecycle::Disconnect { namespace, reason } if namespace == "/" => {
                assert!(connected, "disconnected before connecting");
                return reason;
            }
            Lifecycle::ConnectError { message, .. } => panic!("connect error: {message}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_malformed_packet_closes_the_connection_and_the_client_reconnects() {
    // As the JavaScript client: a Socket.IO packet that does not decode is a "parse error";
    // an Engine.IO packet of no known type is engine.io-parser's error packet, which
    // engine.io-client closes on as a "transport error".
    for (garbage, expected) in [
        (r#"42["event", not json"#, DisconnectReason::ParseError),
        (r#"42{"not":"an array"}"#, DisconnectReason::ParseError),
        (r#"43["ack without an id"]"#, DisconnectReason::ParseError),
        ("4Z", DisconnectReason::ParseError),
        // More attachments than socket.io-parser's decoder accepts (10).
        (
            r#"4511-["file",{"_placeholder":true,"num":0}]"#,
            DisconnectReason::ParseError,
        ),
        ("9nonsense", DisconnectReason::TransportError),
    ] {
        let (url, connections) = websocket_server(Misbehaviour::Garbage(garbage)).await;
        let client = Client::builder(&url)
            .transports(Transports::WebSocket)
            .reconnection_delay(Duration::from_millis(50))
            .reconnection_delay_max(Duration::from_millis(50))
            .build()
            .unwrap();
        let mut lifecycle = client.lifecycle();
        client.socket("/").connect();
        let reason = disconnect_after_connect(&mut lifecycle).await;
        assert_eq!(reason, expected, "for {garbage}");
        // The client carries on: it reconnects, and connects again before the next packet.
        let again = disconnect_after_connect(&mut lifecycle).await;
        assert_eq!(again, expected, "for {garbage}");
        assert!(connections.load(Ordering::SeqCst) >= 2);
        client.close();
    }
}

/// Reads one HTTP/1.1 request, its body (by Content-Length) skipped; returns its request line.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await.ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(request_line)
}

/// An HTTP/1.1 server (keep-alive) answering each request with the 200 OK body `answer` gives
/// for its request line; `None` holds the request open, as a long poll with nothing to say.
async fn http_server(answer: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                while let Some(request_line) = read_request(&mut reader).await {
                    let Some(body) = answer(&request_line) else {
                        return std::future::pending().await;
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if reader
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// A long-polling Engine.IO server: the handshake, `/` connected on the first poll, then a
/// poll answered with a body of `huge` bytes (well-formed packets).
async fn polling_server(huge: usize) -> String {
    let polls = AtomicUsize::new(0);
    http_server(move |request_line| {
        if request_line.starts_with("POST") {
            Some("ok".to_owned())
        } else if !request_line.contains("sid=") {
            Some(OPEN.to_owned())
        } else {
            match polls.fetch_add(1, Ordering::SeqCst) {
                0 => Some(r#"40{"sid":"s1"}"#.to_owned()),
                1 => Some(huge_event(huge)),
                _ => None,
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_handshake_that_is_not_one_is_a_connect_error_and_reconnection_goes_on() {
    for body in ["hello", r#"0{"sid":"#, r#"0{"sid":"x"}"#, "40", ""] {
        let url = http_server(move |_| Some(body.to_owned())).await;
        let client = Client::builder(&url)
            .transports(Transports::Polling)
            .reconnection_delay(Duration::from_millis(20))
            .reconnection_delay_max(Duration::from_millis(20))
            .reconnection_attempts(2)
            .build()
            .unwrap();
        let mut lifecycle = client.lifecycle();
        client.socket("/").connect();
        let (mut errors, mut attempts) = (0, 0);
        loop {
            match next_event(&mut lifecycle).await {
                Lifecycle::ConnectError { message, .. } => {
                    assert!(!message.is_empty(), "for {body:?}");
                    errors += 1;
                }
                Lifecycle::ReconnectAttempt(_) => attempts += 1,
                Lifecycle::ReconnectFailed => break,
                Lifecycle::Connect { .. } => panic!("connected to {body:?}"),
                _ => {}
            }
        }
        assert_eq!(attempts, 2, "for {body:?}");
        assert!(errors >= 1, "for {body:?}");
    }
}

/// What becomes of the server's one large `big` event: delivered (its length), or the
/// connection closed first (why).
async fn big_event(
    url: &str,
    transports: Transports,
    limit: Option<usize>,
) -> Result<usize, DisconnectReason> {
    let mut builder = Client::builder(url)
        .transports(transports)
        .reconnection(false);
    if let Some(limit) = limit {
        builder = builder.max_message_size(limit);
    }
    let client = builder.build().unwrap();
    let (sender, mut delivered) = tokio::sync::mpsc::unbounded_channel();
    let socket = client.socket("/");
    socket.on("big", move |text: String, _| {
        let _ = sender.send(text.len());
    });
    let mut lifecycle = client.lifecycle();
    socket.connect();
    tokio::select! {
        len = delivered.recv() => Ok(len.unwrap()),
        reason = disconnect_after_connect(&mut lifecycle) => {
            assert!(delivered.try_recv().is_err(), "the oversize message was delivered");
            Err(reason)
        }
    }
}

#[tokio::test]
async fn a_websocket_message_over_the_limit_closes_the_connection() {
    let (url, _) = websocket_server(Misbehaviour::Huge(1 << 20)).await;
    let outcome = big_event(&url, Transports::WebSocket, Some(64 << 10)).await;
    assert_eq!(outcome, Err(DisconnectReason::TransportError));
    // The same server with the default limit: the event arrives whole.
    let (url, _) = websocket_server(Misbehaviour::Huge(1 << 20)).await;
    assert_eq!(
        big_event(&url, Transports::WebSocket, None).await,
        Ok(1 << 20)
    );
}

#[tokio::test]
async fn a_polling_body_over_the_limit_closes_the_connection() {
    let outcome = big_event(
        &polling_server(1 << 20).await,
        Transports::Polling,
        Some(64 << 10),
    )
    .await;
    assert_eq!(outcome, Err(DisconnectReason::TransportError));
    assert_eq!(
        big_event(&polling_server(1 << 20).await, Transports::Polling, None).await,
        Ok(1 << 20)
    );
}
