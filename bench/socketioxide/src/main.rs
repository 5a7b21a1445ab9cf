//! The bench app contract with socketioxide: `PORT=3000 target/release/bench-socketioxide`.
//! This process is the server; default configuration. With `ADAPTER=redis://host:port`, it is a
//! node of a cluster on socketioxide-redis (`bench/run`'s `cluster-fanout`).

use std::fmt;

use bytes::Bytes;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use socketioxide::SocketIo;
use socketioxide::adapter::{Emitter, LocalAdapter};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide_redis::drivers::redis::redis_client;
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};

/// The `echo` argument: a binary blob, or any JSON value.
enum Arg {
    Bin(Bytes),
    Json(serde_json::Value),
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Arg::Bin(b) => s.serialize_bytes(b),
            Arg::Json(v) => v.serialize(s),
        }
    }
}

struct ArgVisitor;

impl<'de> Visitor<'de> for ArgVisitor {
    type Value = Arg;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value or binary")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Arg, E> {
        Ok(Arg::Bin(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Arg, E> {
        Ok(Arg::Bin(Bytes::from(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Arg, E> {
        Ok(Arg::Json(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Arg, E> {
        Ok(Arg::Json(serde_json::Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Arg, E> {
        Ok(Arg::Json(serde_json::Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Arg, A::Error> {
        serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Arg::Json)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Arg, A::Error> {
        serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Arg::Json)
    }
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Arg, D::Error> {
        d.deserialize_any(ArgVisitor)
    }
}

#[derive(Deserialize)]
struct Fanout {
    room: String,
    payload: serde_json::Value,
}

/// The contract's handlers on namespace `/`, for the adapter type `$a` (the in-memory one, or
/// Redis with `ADAPTER=redis://...`); a macro, as `SocketIo::ns` asks for a trait bound
/// (`DefinedAdapter`) that socketioxide does not export.
macro_rules! handlers {
    ($io:expr, $a:ty) => {{
        let io2 = $io.clone();
        $io.ns("/", async move |s: SocketRef<$a>| {
            s.on("echo", async |Data(arg): Data<Arg>, ack: AckSender<$a>| {
                let _ = ack.send(&arg);
            });
            s.on(
                "join",
                async |s: SocketRef<$a>, Data(room): Data<String>, ack: AckSender<$a>| {
                    s.join(room);
                    let _ = ack.send(&());
                },
            );
            let io = io2.clone();
            s.on(
                "fanout",
                async move |Data(msg): Data<Fanout>, ack: AckSender<$a>| {
                    let _ = io.to(msg.room).emit("fan", &msg.payload).await;
                    let _ = ack.send(&());
                },
            );
        })
    }};
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    // Same accept backlog as the other servers measured (tokio's default of 128 overflows in a
    // connect storm and only measures the kernel's retry timer).
    let addr: std::net::SocketAddr = format!("{host}:{port}").parse().expect("HOST:PORT");
    let app = match std::env::var("ADAPTER").ok().filter(|url| !url.is_empty()) {
        Some(url) => {
            // socketioxide-redis's drivers speak RESP3 (its push messages carry the pub/sub).
            let url = if url.contains("protocol=") {
                url
            } else {
                format!(
                    "{url}{}protocol=resp3",
                    if url.contains('?') { '&' } else { '?' }
                )
            };
            let client = redis_client::Client::open(url).map_err(std::io::Error::other)?;
            let adapter = RedisAdapterCtr::new_with_redis(&client)
                .await
                .map_err(std::io::Error::other)?;
            let (layer, io) = SocketIo::builder()
                .with_adapter::<RedisAdapter<_>>(adapter)
                .build_layer();
            handlers!(io, RedisAdapter<Emitter>)
                .await
                .map_err(std::io::Error::other)?;
            axum::Router::new().layer(layer)
        }
        None => {
            let (layer, io) = SocketIo::new_layer();
            handlers!(io, LocalAdapter);
            axum::Router::new().layer(layer)
        }
    };
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // TCP_NODELAY, as the other servers measured set it (axum leaves Nagle's algorithm on, which
    // holds small writes back until the peer's delayed ACK).
    let listener = axum::serve::ListenerExt::tap_io(socket.listen(1024)?, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("socketioxide 0.18 on {addr}");
    tokio::spawn(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        std::process::exit(0);
    });
    axum::serve(listener, app).await
}
