//! The server the official Engine.IO and Socket.IO protocol test suites run against
//! (`../shared/conformance/CONTRACT.md`), on `PORT` (default 3000):
//!
//! - `/engine.io/`: an Engine.IO server that echoes every message, text and binary;
//! - `/socket.io/`: a Socket.IO server with namespaces `/` and `/custom`. Each socket is sent
//!   `auth` with its auth payload on connection; on `/`, `message` is answered with
//!   `message-back` and the same arguments, and `message-with-ack` is acknowledged with them.
//!
//! Both use pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000 and open CORS; a
//! Socket.IO session that joins no namespace is closed after 1 s. With `EIO3=1`, `/engine.io/`
//! also accepts Engine.IO v3 clients (for the v3 suite; a request without `EIO` is then read as
//! v3, so one v4 test fails by design, as with Node's `allowEIO3`).
//!
//! ```sh
//! cargo run --release --example conformance-server
//! ```

use std::time::Duration;

use sockeye::{AckSender, Cors, EngineConfig, Event, Io, Socket};
use sockeye_engineio::{EngineHandler, EngineService, Frame, Message};

/// Echoes every message back on the same session, text as text and binary as binary.
struct Echo;

impl EngineHandler for Echo {
    fn on_message(&self, socket: &sockeye_engineio::Socket, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::Binary(data),
        };
        let _ = socket.send(frame);
    }
}

fn timings(path: &str) -> EngineConfig {
    EngineConfig::default()
        .path(path)
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::any())
}

async fn send_auth(socket: Socket) {
    let _ = socket.emit("auth", socket.auth_value());
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);

    let (layer, io) = Io::builder()
        .engine(timings("/socket.io/"))
        .connect_timeout(Duration::from_secs(1))
        .build_layer();
    io.of("/").on_connection(|socket: Socket| async move {
        socket.on("message", |socket: Socket, event: Event| async move {
            let _ = socket.emit_raw("message-back", event.args, event.attachments);
        });
        socket.on(
            "message-with-ack",
            |event: Event, ack: AckSender| async move {
                let _ = ack.send_raw(event.args, event.attachments);
            },
        );
        send_auth(socket).await;
    });
    io.of("/custom").on_connection(send_auth);

    let eio3 = std::env::var("EIO3").is_ok_and(|v| v == "1");
    let engine = EngineService::new(timings("/engine.io/").allow_eio3(eio3), Echo);
    let service = tower_layer::Layer::layer(&layer, engine);
    let listener = sockeye::bind(([0, 0, 0, 0], port).into()).await?;
    eprintln!("conformance server on http://localhost:{port} (/engine.io/ and /socket.io/)");
    sockeye::serve(listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
