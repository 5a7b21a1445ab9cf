//! Two Sockeye nodes sharing one Redis: a message sent to either node reaches the clients of
//! both.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run -p sockeye-examples --example cluster -- redis://127.0.0.1:6379
//! ```
//!
//! Then connect Socket.IO clients to http://127.0.0.1:3001 and http://127.0.0.1:3002 and emit
//! `message`: every client of both nodes gets `message` back. Node servers with
//! `@socket.io/redis-adapter` 8 on the same Redis join the same cluster.

use sockeye::{Data, Io, Socket};
use sockeye_redis::RedisAdapter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let mut nodes = Vec::new();
    for port in [3001u16, 3002] {
        // One connection pair to Redis per node, as two processes would have.
        let redis = RedisAdapter::connect(&url).await?;
        let (service, io) = Io::builder().adapter(redis.factory()).build_service();
        io.on_connection(move |socket: Socket| async move {
            socket.on(
                "message",
                move |socket: Socket, Data(text): Data<String>| async move {
                    let message = format!("{text} (via node {port})");
                    // To every client of every node, this one included.
                    if let Err(error) = socket.ns().emit("message", &message) {
                        tracing::warn!(%error, "the other nodes missed a message");
                    }
                },
            );
        });
        let listener = sockeye::bind(([127, 0, 0, 1], port).into()).await?;
        tracing::info!(port, uid = redis.uid(), "node listening");
        nodes.push(tokio::spawn(sockeye::serve(
            listener,
            service,
            std::future::pending(),
        )));
    }
    for node in nodes {
        node.await??;
    }
    Ok(())
}
