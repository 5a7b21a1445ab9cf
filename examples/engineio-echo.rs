//! An Engine.IO echo server: every message a client sends comes back unchanged.
//!
//! ```sh
//! cargo run --example engineio-echo          # listens on 127.0.0.1:3000, path /engine.io/
//! PORT=4000 cargo run --example engineio-echo
//! ```

use sockeye_engineio::{Cors, EngineConfig, EngineHandler, EngineService, Frame, Message, Socket};

struct Echo;

impl EngineHandler for Echo {
    fn on_message(&self, socket: &Socket, message: Message) {
        let frame = match message {
            Message::Text(text) => Frame::message(&text),
            Message::Binary(data) => Frame::Binary(data),
        };
        if let Err(error) = socket.send(frame) {
            tracing::warn!(sid = %socket.id(), %error, "echo dropped");
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let config = EngineConfig::default()
        .path("/engine.io/")
        .cors(Cors::any());
    let service = EngineService::new(config, Echo);
    let listener = sockeye_engineio::bind(([127, 0, 0, 1], port).into()).await?;
    tracing::info!("engine.io echo on http://127.0.0.1:{port}/engine.io/");
    sockeye_engineio::serve(listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
