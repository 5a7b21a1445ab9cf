//! The server the official Engine.IO and Socket.IO protocol test suites run against
//! (`../shared/conformance/CONTRACT.md`): an Engine.IO echo at `/engine.io/` and, with the
//! Socket.IO layer, the suite's namespaces at `/socket.io/`, on `PORT` (default 3000).
//!
//! ```sh
//! cargo run --release --example conformance-server
//! ```

use std::time::Duration;

use sockeye_engineio::{Cors, EngineConfig, EngineHandler, EngineService, Frame, Message, Socket};

/// Echoes every message back on the same session, text as text and binary as binary.
struct Echo;

impl EngineHandler for Echo {
    fn on_message(&self, socket: &Socket, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::Binary(data),
        };
        let _ = socket.send(frame);
    }
}

fn timings(config: EngineConfig) -> EngineConfig {
    config
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(Cors::any())
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
    let engine = EngineService::new(timings(EngineConfig::default().path("/engine.io/")), Echo);
    let listener = sockeye_engineio::bind(([0, 0, 0, 0], port).into()).await?;
    eprintln!("conformance server on http://localhost:{port} (/engine.io/)");
    sockeye_engineio::serve(listener, engine, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
