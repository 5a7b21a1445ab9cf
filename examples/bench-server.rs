//! The bench app contract (`../shared/bench/CONTRACT.md`, and `bench/run`) with Sockeye: the
//! server that `sockeye bench` and `bench/run` measure, in its default configuration.
//!
//! - `echo`: acknowledged with its one argument unchanged (a binary argument as a binary ack);
//! - `join`: joins the room named by its argument, then acknowledges;
//! - `fanout` `{room, payload}`: emits `fan` with `payload` to every socket in `room`, the
//!   sender included, then acknowledges.
//!
//! ```sh
//! PORT=3000 cargo run --release --example bench-server
//! ```
//! Listens on `127.0.0.1:$PORT` (`HOST` overrides the address); exits on SIGTERM or Ctrl-C.

use serde::Deserialize;
use sockeye::{AckSender, Data, Event, Io, Socket, Value};

#[derive(Deserialize)]
struct Fanout {
    room: String,
    payload: Value,
}

async fn on_connection(socket: Socket) {
    socket.on("echo", |event: Event, ack: AckSender| async move {
        let _ = ack.send_raw(event.args, event.attachments);
    });
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            socket.join(room);
            let _ = ack.send(&());
        },
    );
    socket.on(
        "fanout",
        |socket: Socket, Data(fanout): Data<Fanout>, ack: AckSender| async move {
            let _ = socket.ns().to(fanout.room).emit("fan", &fanout.payload);
            let _ = ack.send(&());
        },
    );
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000u16);
    let host = std::env::var("HOST")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let (service, io) = Io::builder().build_service();
    io.on_connection(on_connection);

    let listener = sockeye::bind((host, port).into()).await?;
    println!("sockeye bench-server on {host}:{port}");
    sockeye::serve(listener, service, async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
    .await
}
