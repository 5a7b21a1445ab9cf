//! A Redis adapter for Sockeye, so that several servers share their rooms and broadcasts.
//!
//! It speaks the classic pub/sub format of Node's `@socket.io/redis-adapter` 8.x, so Sockeye
//! and Node servers can be nodes of one cluster: a broadcast is PUBLISHed as MessagePack
//! `[uid, packet, {rooms, except, flags}]` to `socket.io#<nsp>#` (with `<room>#` appended when
//! it is for exactly one room), and every node PSUBSCRIBEs `socket.io#<nsp>#*`. Nodes are
//! counted as the subscribers of `socket.io-request#<nsp>#`.
//!
//! ```no_run
//! use sockeye::{Io, Socket};
//! use sockeye_redis::RedisAdapter;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let redis = RedisAdapter::connect("redis://127.0.0.1:6379").await?;
//!     let (service, io) = Io::builder().adapter(redis.factory()).build_service();
//!     io.on_connection(|socket: Socket| async move {
//!         // Reaches the "lobby" sockets of every node.
//!         socket.to("lobby").emit("joined", socket.id().as_str()).ok();
//!     });
//!     let listener = sockeye::bind("127.0.0.1:3000".parse()?).await?;
//!     sockeye::serve(listener, service, std::future::pending()).await?;
//!     Ok(())
//! }
//! ```
//!
//! [`RedisStreamsAdapter`] speaks the format of Node's `@socket.io/redis-streams-adapter`
//! instead: every message is an entry of one Redis stream, and the sessions of dropped sockets
//! are kept in Redis, so connection-state recovery works across nodes (docs/cluster.md). Both
//! serve every cross-node operation (fetch sockets, remote join / leave / disconnect,
//! server-side emits and broadcasts with acks, all rooms, server count), with Node nodes in
//! the cluster too; their request bookkeeping is one module, whatever the transport.
//!
//! When Redis goes down, each server keeps serving its own sockets (local delivery does not
//! touch Redis); broadcasts to other nodes fail at once with an error, and the adapter
//! reconnects and subscribes again in the background.

mod adapter;
mod cluster;
mod config;
mod error;
mod streams;
mod streams_wire;
mod wire;

pub use adapter::RedisAdapter;
pub use config::{RedisConfig, RedisStreamsConfig};
pub use error::Error;
pub use streams::RedisStreamsAdapter;
