//! Sockeye mounted in an axum application as a tower layer: axum serves its routes, Sockeye
//! answers `/socket.io/`. Port 3000 (`PORT` overrides).
//!
//! ```sh
//! cargo run --example axum
//! curl http://localhost:3000/            # axum
//! curl 'http://localhost:3000/socket.io/?EIO=4&transport=polling'   # Sockeye
//! ```

use axum::Router;
use axum::routing::get;
use sockeye::{Data, Io, Socket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let (layer, io) = Io::builder().build_layer();
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "echo",
            |socket: Socket, Data(value): Data<serde_json::Value>| async move {
                let _ = socket.emit("echo", &value);
            },
        );
    });

    let stats = io.clone();
    let app = Router::new()
        .route(
            "/",
            get(|| async { "Hello from axum; Socket.IO is at /socket.io/" }),
        )
        .route(
            "/stats",
            get(move || async move { format!("{} sockets on /", stats.of("/").sockets().len()) }),
        )
        .layer(layer);

    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("axum + sockeye on http://127.0.0.1:{port}/");
    axum::serve(listener, app).await
}
