//! The seed, on `/`: what `examples/seed.rs` does, with the messages kept for `/stats.json`.
//!
//! - on connection: `motd`;
//! - `message`: logged;
//! - `important_message`: logged and acknowledged with "Roger that";
//! - `join_room` / `leave_room`: join or leave `exampleRoom`, the room is told;
//! - `room_message`: from a member, to everyone in the room;
//! - `list_rooms`: acknowledged with the rooms and their member counts;
//! - on disconnect: the others get `client_disconnected` with `{message, clientID}`.

use std::collections::BTreeMap;

use serde::Serialize;
use sockeye::{AckSender, Data, DisconnectReason, Io, Socket, SocketId};

use super::{DemoState, SeedMessage};

/// The room of the seed.
pub const ROOM: &str = "exampleRoom";
/// The message of the day.
pub const MOTD: &str = "Welcome to my server!";

#[derive(Serialize)]
struct ClientDisconnected {
    message: String,
    #[serde(rename = "clientID")]
    client_id: String,
}

pub(super) fn install(io: &Io, state: DemoState) {
    io.of("/").on_connection(move |socket: Socket| {
        let state = state.clone();
        async move { on_connection(socket, state) }
    });
}

fn on_connection(socket: Socket, state: DemoState) {
    tracing::info!(id = %socket.id(), "a user connected");
    let messages = state.clone();
    socket.on(
        "message",
        move |socket: Socket, Data(message): Data<serde_json::Value>| {
            let state = messages.clone();
            async move {
                tracing::info!(id = %socket.id(), %message, "message");
                state.push_seed_message(SeedMessage {
                    event: "message".into(),
                    from: socket.id().to_string(),
                    data: message,
                });
            }
        },
    );
    socket.on(
        "important_message",
        move |socket: Socket, Data(message): Data<serde_json::Value>, ack: AckSender| {
            let state = state.clone();
            async move {
                tracing::info!(id = %socket.id(), %message, "important message");
                state.push_seed_message(SeedMessage {
                    event: "important_message".into(),
                    from: socket.id().to_string(),
                    data: message,
                });
                let _ = ack.send("Roger that");
            }
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
    let _ = socket.emit("motd", MOTD);
}
