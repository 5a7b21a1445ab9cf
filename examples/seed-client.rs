//! The seed's client in Rust, for the seed server (`cargo run --example seed`): connects,
//! prints the `motd`, sends `message`, sends `important_message` and prints the server's
//! acknowledgement, then disconnects. `URL` overrides `http://localhost:8080`.
//!
//! ```sh
//! cargo run --example seed-client
//! ```

use std::time::Duration;

use serde::Serialize;
use sockeye_client::{Ack, Client, Lifecycle};

#[derive(Serialize)]
struct ImportantMessage {
    alias: &'static str,
    message: &'static str,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("URL").unwrap_or_else(|_| "http://localhost:8080".to_owned());
    let client = Client::builder(&url).reconnection(false).build()?;
    let mut lifecycle = client.lifecycle();
    let socket = client.socket("/");
    let (motd_tx, motd) = tokio::sync::oneshot::channel();
    let motd_tx = std::sync::Mutex::new(Some(motd_tx));
    socket.on("motd", move |motd: String, _ack: Ack| {
        if let Some(tx) = motd_tx.lock().ok().and_then(|mut tx| tx.take()) {
            let _ = tx.send(motd);
        }
    });
    socket.connect();
    loop {
        match lifecycle.recv().await.ok_or("the client closed")? {
            Lifecycle::Connect { .. } => break,
            Lifecycle::ConnectError { message, .. } => return Err(message.into()),
            _ => {}
        }
    }
    println!("connected as {}", socket.id().unwrap_or_default());
    println!(
        "motd: {}",
        tokio::time::timeout(Duration::from_secs(5), motd).await??
    );
    socket.emit("message", "'ello friends, I am here.")?;
    let reply: String = socket
        .timeout(Duration::from_secs(5))
        .emit_with_ack(
            "important_message",
            &ImportantMessage {
                alias: "seed-client",
                message: "the building is on fire",
            },
        )
        .await?;
    println!("important_message acknowledged: {reply}");
    socket.disconnect();
    Ok(())
}
