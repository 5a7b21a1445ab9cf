//! permessage-deflate (RFC 7692) on the WebSocket transport, over real loopback: a raw client
//! written here (its own frame reader and compressor, independent of tungstenite) checks the
//! negotiation, compressed frames both ways, the threshold and the limits; npm's
//! `engine.io-client` (which compresses through the `ws` package) runs through a proxy that
//! records the frames on the wire.
//!
//! The Node tests need `node` and `tests/js/node_modules` (`npm ci --prefix tests/js`); without
//! them they fail, never pass silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use sockeye_engineio::{CloseReason, EngineConfig, PerMessageDeflate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

fn deflate_config() -> EngineConfig {
    config().per_message_deflate(Some(PerMessageDeflate::default()))
}

/// A frame as the server wrote it (unmasked): its first byte (FIN, RSV1, opcode) and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawFrame {
    first: u8,
    payload: Vec<u8>,
}

impl RawFrame {
    fn rsv1(&self) -> bool {
        self.first & 0x40 != 0
    }

    fn opcode(&self) -> u8 {
        self.first & 0x0f
    }
}

/// Parses one frame at the start of `bytes`, masked or not; with the bytes it took.
fn parse_frame(bytes: &[u8]) -> Option<(RawFrame, usize)> {
    let second = *bytes.get(1)?;
    let (length, mut at) = match second & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask: Option<[u8; 4]> = if second & 0x80 != 0 {
        let mask = bytes.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(mask)
    } else {
        None
    };
    let end = at + usize::try_from(length).ok()?;
    let mut payload = bytes.get(at..end)?.to_vec();
    if let Some(mask) = mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
    }
    Some((
        RawFrame {
            first: bytes[0],
            payload,
        },
        end,
    ))
}

/// Every frame in `bytes`.
fn parse_frames(mut bytes: &[u8]) -> Vec<RawFrame> {
    let mut frames = Vec::new();
    while let Some((frame, used)) = parse_frame(bytes) {
        frames.push(frame);
        bytes = &bytes[used..];
    }
    frames
}

/// A client's frame: FIN, the RSV1 bit as asked, masked.
fn client_frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [0xa1, 0x5b, 0x07, 0xe2];
    let mut out = vec![0x80 | if rsv1 { 0x40 } else { 0 } | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A WebSocket client over a bare TCP stream, with its own permessage-deflate contexts.
struct RawClient {
    stream: TcpStream,
    read: Vec<u8>,
    compress: Compress,
    decompress: Decompress,
}

impl RawClient {
    /// Upgrades at the test path, offering `extensions` if given; returns the client and the
    /// response's head.
    async fn connect(addr: SocketAddr, extensions: Option<&str>) -> (RawClient, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let offer = extensions
            .map(|value| format!("Sec-WebSocket-Extensions: {value}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             {offer}\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut read = Vec::new();
        let head_end = loop {
            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = within(WAIT, stream.read(&mut chunk)).await.unwrap();
            assert!(n > 0, "closed during the handshake");
            read.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(read[..head_end].to_vec()).unwrap();
        read.drain(..head_end);
        let client = RawClient {
            stream,
            read,
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
        };
        (client, head)
    }

    /// The next frame from the server; `None` once the connection is closed.
    async fn frame(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.read) {
                self.read.drain(..used);
                return Some(frame);
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let n = within(WAIT, self.stream.read(&mut chunk)).await.ok()?;
            if n == 0 {
                return None;
            }
            self.read.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next data frame, past the server's pings.
    async fn data_frame(&mut self) -> RawFrame {
        loop {
            let frame = self.frame().await.expect("connection closed");
            if frame.opcode() != 0x9 {
                return frame;
            }
        }
    }

    /// A frame's payload as the application sees it: inflated when RSV1 is set.
    fn payload(&mut self, frame: &RawFrame) -> Vec<u8> {
        if !frame.rsv1() {
            return frame.payload.clone();
        }
        let input = [&frame.payload[..], &TAIL].concat();
        let mut out = Vec::with_capacity(input.len() * 20 + 1024);
        let start = self.decompress.total_in();
        loop {
            let at = (self.decompress.total_in() - start) as usize;
            if out.len() == out.capacity() {
                out.reserve(out.len());
            }
            self.decompress
                .decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
                .unwrap();
            // All taken, and room left: nothing held back.
            let taken = (self.decompress.total_in() - start) as usize == input.len();
            if taken && out.len() < out.capacity() {
                return out;
            }
        }
    }

    /// `payload` compressed with the client's context, the tail removed.
    fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 1024);
        self.compress
            .compress_vec(payload, &mut out, FlushCompress::Sync)
            .unwrap();
        assert!(out.len() < out.capacity(), "output buffer too small");
        assert!(out.ends_with(&TAIL));
        out.truncate(out.len() - 4);
        out
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends a text message, compressed.
    async fn send_compressed(&mut self, text: &str) {
        let compressed = self.compress(text.as_bytes());
        self.send(&client_frame(0x1, true, &compressed)).await;
    }
}

/// An Engine.IO message of about `len` bytes of JSON, as a chat app sends.
fn json_message(len: usize) -> String {
    let mut text = String::from("4[");
    let mut i = 0;
    while text.len() < len - 1 {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"text\":\"hello there\"}},",
            i % 7
        ));
        i += 1;
    }
    text.truncate(len - 1);
    text.push(']');
    text
}

#[tokio::test]
async fn deflate_is_off_by_default() {
    let mut server = start(config()).await;
    let (mut client, head) = RawClient::connect(
        server.addr,
        Some("permessage-deflate; client_max_window_bits"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    let open = client.data_frame().await;
    let sid = open_json(std::str::from_utf8(&open.payload).unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    server.expect_open().await;
    // Large messages go out as they are.
    let large = json_message(16 * 1024);
    client
        .send(&client_frame(0x1, false, large.as_bytes()))
        .await;
    assert_eq!(server.expect_text(&sid).await, large[1..]);
    let echo = client.data_frame().await;
    assert!(!echo.rsv1());
    assert_eq!(echo.payload, large.as_bytes());
    // A compressed frame without the extension: refused.
    client.send_compressed(&large).await;
    assert_eq!(server.expect_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test]
async fn large_messages_go_both_ways_compressed_small_ones_do_not() {
    let mut server = start(deflate_config()).await;
    let (mut client, head) = RawClient::connect(
        server.addr,
        Some("permessage-deflate; client_max_window_bits"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-extensions: permessage-deflate\r\n"),
        "{head}"
    );
    let open = client.data_frame().await;
    assert!(!open.rsv1(), "the open packet is below the threshold");
    let sid = open_json(std::str::from_utf8(&open.payload).unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    server.expect_open().await;

    // Each size several times, to exercise both contexts across messages.
    for len in [1024, 16 * 1024, 64 * 1024, 200 * 1024, 1024, 5000] {
        let text = json_message(len);
        client.send_compressed(&text).await;
        assert_eq!(server.expect_text(&sid).await, text[1..]);
        let echo = client.data_frame().await;
        assert!(echo.rsv1(), "{len}: the echo is compressed");
        assert_eq!(echo.opcode(), 0x1);
        assert!(
            echo.payload.len() < len / 3,
            "{len}: {}",
            echo.payload.len()
        );
        assert_eq!(client.payload(&echo), text.as_bytes(), "{len}");
    }
    // Just below the threshold: uncompressed both ways; the client may still compress.
    let small = json_message(1023);
    client
        .send(&client_frame(0x1, false, small.as_bytes()))
        .await;
    assert_eq!(server.expect_text(&sid).await, small[1..]);
    let echo = client.data_frame().await;
    assert!(!echo.rsv1());
    assert_eq!(echo.payload, small.as_bytes());
    client.send_compressed("4hi").await;
    assert_eq!(server.expect_text(&sid).await, "hi");
    let echo = client.data_frame().await;
    assert!(!echo.rsv1());
    assert_eq!(echo.payload, b"4hi");
    // Binary too: a large binary message goes out compressed, as a binary frame.
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 13) as u8).collect();
    let compressed = client.compress(&data);
    client.send(&client_frame(0x2, true, &compressed)).await;
    let echo = client.data_frame().await;
    assert!(echo.rsv1());
    assert_eq!(echo.opcode(), 0x2);
    assert_eq!(client.payload(&echo), data);
}

#[tokio::test]
async fn no_context_takeover_is_granted_when_asked() {
    let mut server = start(deflate_config()).await;
    let (mut client, head) = RawClient::connect(
        server.addr,
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    )
    .await;
    assert!(
        head.contains(
            "sec-websocket-extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\n"
        ),
        "{head}"
    );
    let open = client.data_frame().await;
    let sid = open_json(std::str::from_utf8(&open.payload).unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    server.expect_open().await;
    let text = json_message(8000);
    for _ in 0..3 {
        // Each message on its own: a fresh compressor per message, on both sides.
        client.compress.reset();
        client.send_compressed(&text).await;
        assert_eq!(server.expect_text(&sid).await, text[1..]);
        let echo = client.data_frame().await;
        assert!(echo.rsv1());
        // Decodable by a fresh inflater: the server kept no context.
        client.decompress = Decompress::new(false);
        assert_eq!(client.payload(&echo), text.as_bytes());
    }
}

#[tokio::test]
async fn an_offer_the_server_cannot_honour_is_declined() {
    let mut server = start(deflate_config()).await;
    let (mut client, head) = RawClient::connect(
        server.addr,
        Some("permessage-deflate; server_max_window_bits=10"),
    )
    .await;
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("sec-websocket-extensions"),
        "{head}"
    );
    client.data_frame().await;
    let socket = server.expect_open().await;
    let large = json_message(4096);
    client
        .send(&client_frame(0x1, false, large.as_bytes()))
        .await;
    assert_eq!(server.expect_text(socket.id().as_str()).await, large[1..]);
    assert!(!client.data_frame().await.rsv1());
}

/// Waits for the server's close frame; its status code.
async fn close_code(client: &mut RawClient) -> u16 {
    loop {
        let frame = client.frame().await.expect("closed without a close frame");
        if frame.opcode() == 0x8 {
            assert!(frame.payload.len() >= 2, "{frame:?}");
            return u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
        }
    }
}

#[tokio::test]
async fn a_zip_bomb_closes_the_connection_with_1009() {
    let mut server = start(deflate_config().max_payload(100_000)).await;
    let (mut client, _) = RawClient::connect(server.addr, Some("permessage-deflate")).await;
    client.data_frame().await;
    let socket = server.expect_open().await;
    // 50 MB of one letter: about 50 KB compressed, within the limit; 500 times it inflated.
    let mut bomb = String::from("4");
    bomb.push_str(&"a".repeat(50_000_000));
    let compressed = {
        let mut out = Vec::with_capacity(bomb.len() / 500);
        client
            .compress
            .compress_vec(bomb.as_bytes(), &mut out, FlushCompress::Sync)
            .unwrap();
        out.truncate(out.len() - 4);
        out
    };
    assert!(compressed.len() < 100_000, "{}", compressed.len());
    client.send(&client_frame(0x1, true, &compressed)).await;
    assert_eq!(close_code(&mut client).await, 1009);
    assert_eq!(
        server.expect_close(socket.id().as_str()).await,
        CloseReason::TransportError
    );
    // Nothing reached the handler.
    server.expect_quiet(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_plain_message_over_the_limit_closes_with_1009_too() {
    let mut server = start(config().max_payload(10_000)).await;
    let (mut client, _) = RawClient::connect(server.addr, None).await;
    client.data_frame().await;
    let socket = server.expect_open().await;
    let large = json_message(10_002);
    client
        .send(&client_frame(0x1, false, large.as_bytes()))
        .await;
    assert_eq!(close_code(&mut client).await, 1009);
    assert_eq!(
        server.expect_close(socket.id().as_str()).await,
        CloseReason::TransportError
    );
}

#[tokio::test]
async fn corrupt_compressed_data_is_a_protocol_error() {
    let mut server = start(deflate_config()).await;
    let (mut client, _) = RawClient::connect(server.addr, Some("permessage-deflate")).await;
    client.data_frame().await;
    let socket = server.expect_open().await;
    client.send(&client_frame(0x1, true, &[0xff; 64])).await;
    assert_eq!(
        server.expect_close(socket.id().as_str()).await,
        CloseReason::TransportError
    );
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The bytes that went each way through one proxied connection.
#[derive(Debug, Default)]
struct Recorded {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

/// A TCP proxy in front of `target` that records every connection's bytes.
async fn recording_proxy(
    target: SocketAddr,
) -> (SocketAddr, Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections: Arc<Mutex<Vec<Arc<Mutex<Recorded>>>>> = Arc::default();
    let all = connections.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = Arc::new(Mutex::new(Recorded::default()));
            all.lock().unwrap().push(record.clone());
            tokio::spawn(async move {
                let server = TcpStream::connect(target).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = {
                    let record = record.clone();
                    async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                            record
                                .lock()
                                .unwrap()
                                .to_server
                                .extend_from_slice(&buf[..n]);
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                        record
                            .lock()
                            .unwrap()
                            .to_client
                            .extend_from_slice(&buf[..n]);
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, connections)
}

/// The frames after the HTTP head of one direction of a WebSocket connection.
fn frames_after_head(bytes: &[u8]) -> Vec<RawFrame> {
    let at = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    parse_frames(&bytes[at + 4..])
}

/// npm's engine.io-client (the `ws` package under Node, which offers permessage-deflate with
/// a threshold of 1 024 bytes) echoes text and binary messages, 100 KB ones among them, with
/// our server; the proxy shows compressed frames both ways, and small ones uncompressed.
async fn node_client_through_proxy(mode: &'static str) {
    let dir = repo_root().join("tests/js");
    let client = dir.join("node_modules/engine.io-client/package.json");
    assert!(
        client.is_file(),
        "{} is missing: run `npm ci --prefix tests/js` first",
        client.display()
    );
    let mut server = start(deflate_config()).await;
    let (proxy, connections) = recording_proxy(server.addr).await;
    let url = format!("http://{proxy}");
    let script = dir.join("engineio-echo.mjs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .arg(&url)
            .arg(mode)
            .current_dir(&dir)
            .output()
    });
    let output = within(Duration::from_secs(60), output)
        .await
        .unwrap()
        .expect("could not run `node`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "engine.io-client failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let socket = server.expect_open().await;
    assert_eq!(
        server.expect_close(socket.id().as_str()).await,
        CloseReason::TransportClose
    );

    let connections = connections.lock().unwrap();
    let ws: Vec<_> = connections
        .iter()
        .map(|record| record.lock().unwrap())
        .filter(|record| record.to_client.starts_with(b"HTTP/1.1 101"))
        .collect();
    assert_eq!(ws.len(), 1, "one WebSocket connection");
    let record = &ws[0];
    let request = String::from_utf8_lossy(&record.to_server).to_ascii_lowercase();
    assert!(
        request.contains("sec-websocket-extensions: permessage-deflate"),
        "the client offers it"
    );
    let response = String::from_utf8_lossy(&record.to_client).to_ascii_lowercase();
    let head = &response[..response.find("\r\n\r\n").unwrap()];
    assert!(
        head.contains("sec-websocket-extensions: permessage-deflate"),
        "{head}"
    );
    for (direction, frames) in [
        ("client to server", frames_after_head(&record.to_server)),
        ("server to client", frames_after_head(&record.to_client)),
    ] {
        let data: Vec<_> = frames
            .iter()
            .filter(|frame| matches!(frame.opcode(), 0x1 | 0x2))
            .collect();
        // The 100 KB text and binary messages, compressed to a fraction.
        let large: Vec<_> = data
            .iter()
            .filter(|frame| frame.payload.len() >= 1024)
            .collect();
        assert!(
            large.is_empty(),
            "{direction}: a large frame went uncompressed"
        );
        let compressed: Vec<_> = data.iter().filter(|frame| frame.rsv1()).collect();
        let big: Vec<_> = compressed
            .iter()
            .filter(|frame| frame.payload.len() > 200)
            .collect();
        assert_eq!(big.len(), 2, "{direction}");
        assert!(big.iter().all(|frame| frame.payload.len() < 20_000));
        if direction == "server to client" {
            // Nothing below the threshold: the open packet, "3probe", the small echoes.
            assert_eq!(compressed.len(), 2, "{direction}");
        } else {
            // engine.io-client skips compression below its threshold for strings and
            // Buffers, not for an ArrayBuffer (it has no `length`): the 64-byte one goes
            // compressed too.
            assert!(compressed.len() <= 3, "{direction}");
        }
        assert!(data.len() >= 7, "{direction}: {}", data.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_compresses_over_websocket() {
    node_client_through_proxy("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_compresses_after_an_upgrade() {
    node_client_through_proxy("upgrade").await;
}
