//! The seed's server in Rust: what a first Socket.IO server does, on port 8080 (`PORT`
//! overrides), path `/socket.io/`, open CORS so a page from anywhere can connect.
//!
//! - on connection: logs it and sends `motd`;
//! - `message`: logged;
//! - `important_message`: logged and acknowledged with "Roger that";
//! - `join_room` / `leave_room`: join or leave `exampleRoom`; a member's `room_message` is
//!   broadcast to the room (`room_message` back to everyone in it);
//! - `list_rooms`: acknowledged with the rooms and how many sockets each holds;
//! - on disconnect: the others get `client_disconnected` with `{message, clientID}`.
//!
//! ```sh
//! cargo run --example seed
//! ```

use std::collections::BTreeMap;

use serde::Serialize;
use sockeye::{AckSender, Cors, Data, DisconnectReason, EngineConfig, Io, Socket, SocketId};

const ROOM: &str = "exampleRoom";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClientDisconnected {
    message: String,
    #[serde(rename = "clientID")]
    client_id: String,
}

/// Installs the seed's handlers on `io` (its end-to-end test serves the same app).
pub fn app(io: &Io) {
    io.on_connection(on_connection);
}

async fn on_connection(socket: Socket) {
    tracing::info!(id = %socket.id(), "a user connected");
    socket.on(
        "message",
        |socket: Socket, Data(message): Data<serde_json::Value>| async move {
            tracing::info!(id = %socket.id(), %message, "message");
        },
    );
    socket.on(
        "important_message",
        |socket: Socket, Data(message): Data<serde_json::Value>, ack: AckSender| async move {
            tracing::info!(id = %socket.id(), %message, "important message");
            let _ = ack.send("Roger that");
        },
    );
    socket.on("join_room", |socket: Socket, ack: AckSender| async move {
        socket.join(ROOM);
        let _ = socket
            .to(ROOM)
            .emit("room_message", &format!("{} joined {ROOM}", socket.id()));
        let _ = ack.send(ROOM);
    });
    socket.on("leave_room", |socket: Socket, ack: AckSender| async move {
        socket.leave(ROOM);
        let _ = socket
            .to(ROOM)
            .emit("room_message", &format!("{} left {ROOM}", socket.id()));
        let _ = ack.send(ROOM);
    });
    socket.on(
        "room_message",
        |socket: Socket, Data(text): Data<String>| async move {
            if socket.rooms().iter().any(|room| &**room == ROOM) {
                let _ = socket.ns().to(ROOM).emit("room_message", &text);
            }
        },
    );
    socket.on("list_rooms", |socket: Socket, ack: AckSender| async move {
        let ns = socket.ns();
        let rooms: BTreeMap<String, usize> = ns
            .rooms()
            .into_iter()
            // Every socket has a room of its own; the list shows the rooms people chose.
            .filter(|room| {
                room.parse::<SocketId>()
                    .ok()
                    .and_then(|id| ns.socket(id))
                    .is_none()
            })
            .map(|room| (room.to_string(), ns.room_members(&room).len()))
            .collect();
        let _ = ack.send(&rooms);
    });
    socket.on_disconnect(|socket: Socket, reason: DisconnectReason| async move {
        tracing::info!(id = %socket.id(), %reason, "a user disconnected");
        let notice = ClientDisconnected {
            message: format!("User: {}, disconnected.", socket.id()),
            client_id: socket.id().to_string(),
        };
        let _ = socket.ns().emit("client_disconnected", &notice);
    });
    let _ = socket.emit("motd", "Welcome to my server!");
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
        .unwrap_or(8080u16);
    let (service, io) = Io::builder()
        .engine(EngineConfig::default().cors(Cors::any()))
        .build_service();
    io.on_connection(on_connection);

    let listener = sockeye::bind(([0, 0, 0, 0], port).into()).await?;
    tracing::info!("seed server on http://localhost:{port}/socket.io/");
    sockeye::serve(listener, service, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
