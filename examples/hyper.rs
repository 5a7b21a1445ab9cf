//! Sockeye served by a plain hyper accept loop, with its own 404 for other paths: what
//! `sockeye::serve` does, written out for servers that accept connections themselves.
//! Port 3000 (`PORT` overrides).
//!
//! ```sh
//! cargo run --example hyper
//! ```

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use sockeye::{Io, Socket};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().init();
    let (service, io) = Io::builder().build_service();
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("hello", &socket.id());
    });

    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("hyper + sockeye on http://127.0.0.1:{port}/socket.io/");
    loop {
        let (stream, _peer) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // WebSocket needs `with_upgrades`; HTTP/2 is negotiated when the client asks.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}
