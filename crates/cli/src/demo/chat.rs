//! The rooms chat, on `/chat`.
//!
//! - `nick` (name) → ack `{ok, nick}`: sets the nickname;
//! - `join` / `leave` (room) → ack `{ok, room}`: the room is told (`notice`), and everyone gets
//!   the new room list;
//! - `say` `{id, room, text}` → ack `{ok, id}` at once (one tick), then the other members get
//!   `said` and acknowledge it; the sender gets `delivered` `{id, count, of}` (two ticks);
//! - `shout` `{id, text}`: the same, to every other socket of the namespace;
//! - `typing` `{room, typing}`: the other members get `typing` `{room, nick, typing}` (volatile);
//! - `rooms` is pushed to everyone whenever a room's members change: `[{name, members, nicks}]`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sockeye::{
    AckSender, BroadcastOperator, Data, DisconnectReason, Io, Namespace, Socket, SocketId,
};

use super::now_ms;

/// How long the sender waits for the recipients' acknowledgements.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest nickname, room name and message, in characters.
const MAX_NICK: usize = 24;
const MAX_ROOM: usize = 32;
const MAX_TEXT: usize = 2000;

#[derive(Clone, Debug)]
struct Nick(String);

#[derive(Deserialize)]
struct Say {
    id: String,
    room: String,
    text: String,
}

#[derive(Deserialize)]
struct Shout {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct Typing {
    room: String,
    typing: bool,
}

#[derive(Serialize)]
struct Said<'a> {
    id: &'a str,
    room: Option<&'a str>,
    from: String,
    #[serde(rename = "fromId")]
    from_id: String,
    text: &'a str,
    at: u64,
}

#[derive(Serialize)]
struct RoomInfo {
    name: String,
    members: usize,
    nicks: Vec<String>,
}

pub(super) fn install(io: &Io) {
    io.of("/chat").on_connection(on_connection);
}

async fn on_connection(socket: Socket) {
    let guest = format!("guest-{}", &socket.id().to_string()[..4]);
    socket.insert_data(Nick(guest.clone()));
    let _ = socket.emit(
        "me",
        &json!({ "id": socket.id().to_string(), "nick": guest }),
    );
    let _ = socket.emit("rooms", &room_list(socket.ns()));

    socket.on(
        "nick",
        |socket: Socket, Data(nick): Data<String>, ack: AckSender| async move {
            let nick = nick.trim().to_owned();
            if let Err(error) = check_name(&nick, MAX_NICK, "nickname") {
                let _ = ack.send(&json!({ "error": error }));
                return;
            }
            socket.insert_data(Nick(nick.clone()));
            let _ = ack.send(&json!({ "ok": true, "nick": nick }));
            push_rooms(socket.ns());
        },
    );
    socket.on(
        "join",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            let room = room.trim().to_owned();
            if let Err(error) = check_room(socket.ns(), &room) {
                let _ = ack.send(&json!({ "error": error }));
                return;
            }
            socket.join(room.clone());
            let text = format!("{} joined {room}", nick(&socket));
            let _ = socket
                .to(room.clone())
                .emit("notice", &json!({ "room": room, "text": text }));
            let _ = ack.send(&json!({ "ok": true, "room": room }));
            push_rooms(socket.ns());
        },
    );
    socket.on(
        "leave",
        |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
            socket.leave(room.clone());
            let text = format!("{} left {room}", nick(&socket));
            let _ = socket
                .to(room.clone())
                .emit("notice", &json!({ "room": room, "text": text }));
            let _ = ack.send(&json!({ "ok": true, "room": room }));
            push_rooms(socket.ns());
        },
    );
    socket.on(
        "say",
        |socket: Socket, Data(say): Data<Say>, ack: AckSender| async move {
            if !in_room(&socket, &say.room) {
                let _ = ack.send(&json!({ "error": format!("join {} first", say.room) }));
                return;
            }
            if let Err(error) = check_text(&say.text) {
                let _ = ack.send(&json!({ "error": error }));
                return;
            }
            let _ = ack.send(&json!({ "ok": true, "id": say.id }));
            let message = said(&socket, &say.id, Some(&say.room), &say.text);
            deliver(&socket, socket.to(say.room.clone()), &say.id, &message).await;
        },
    );
    socket.on(
        "shout",
        |socket: Socket, Data(shout): Data<Shout>, ack: AckSender| async move {
            if let Err(error) = check_text(&shout.text) {
                let _ = ack.send(&json!({ "error": error }));
                return;
            }
            let _ = ack.send(&json!({ "ok": true, "id": shout.id }));
            let message = said(&socket, &shout.id, None, &shout.text);
            deliver(&socket, socket.broadcast(), &shout.id, &message).await;
        },
    );
    socket.on(
        "typing",
        |socket: Socket, Data(typing): Data<Typing>| async move {
            if in_room(&socket, &typing.room) {
                let notice =
                    json!({ "room": typing.room, "nick": nick(&socket), "typing": typing.typing });
                let _ = socket.to(typing.room).volatile().emit("typing", &notice);
            }
        },
    );
    socket.on_disconnecting(|socket: Socket, _reason: DisconnectReason| async move {
        let text = format!("{} left", nick(&socket));
        for room in chosen_rooms(&socket) {
            let _ = socket
                .to(room.to_string())
                .emit("notice", &json!({ "room": room.to_string(), "text": text }));
        }
    });
    socket.on_disconnect(|socket: Socket, _reason: DisconnectReason| async move {
        push_rooms(socket.ns());
    });
}

fn said<'a>(socket: &Socket, id: &'a str, room: Option<&'a str>, text: &'a str) -> Said<'a> {
    Said {
        id,
        room,
        from: nick(socket),
        from_id: socket.id().to_string(),
        text,
        at: now_ms(),
    }
}

/// Sends `message` to the recipients, waits for their acknowledgements, and tells the sender
/// how many arrived.
async fn deliver(socket: &Socket, to: BroadcastOperator, id: &str, message: &Said<'_>) {
    let responses = to
        .timeout(DELIVERY_TIMEOUT)
        .emit_with_ack::<_, serde_json::Value>("said", message)
        .await;
    let (count, of) = match responses {
        Ok(responses) => (responses.ok().count(), responses.len()),
        Err(error) => {
            tracing::warn!(%error, "chat broadcast failed");
            (0, 0)
        }
    };
    let _ = socket.emit("delivered", &json!({ "id": id, "count": count, "of": of }));
}

fn nick(socket: &Socket) -> String {
    socket
        .data::<Nick>()
        .map(|n| n.0)
        .unwrap_or_else(|| socket.id().to_string())
}

fn in_room(socket: &Socket, room: &str) -> bool {
    socket.rooms().iter().any(|r| &**r == room)
}

/// The rooms a socket joined (not its own).
fn chosen_rooms(socket: &Socket) -> Vec<sockeye::Room> {
    let own = socket.id().to_string();
    socket.rooms().into_iter().filter(|r| **r != *own).collect()
}

fn is_socket_room(ns: &Namespace, room: &str) -> bool {
    room.parse::<SocketId>()
        .ok()
        .and_then(|id| ns.socket(id))
        .is_some()
}

fn room_list(ns: &Namespace) -> Vec<RoomInfo> {
    let mut rooms: Vec<RoomInfo> = ns
        .rooms()
        .into_iter()
        .filter(|room| !is_socket_room(ns, room))
        .map(|room| {
            let members = ns.room_members(&room);
            let mut nicks: Vec<String> = members
                .iter()
                .filter_map(|id| ns.socket(*id))
                .map(|s| nick(&s))
                .collect();
            nicks.sort();
            RoomInfo {
                name: room.to_string(),
                members: members.len(),
                nicks,
            }
        })
        .collect();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    rooms
}

fn push_rooms(ns: &Namespace) {
    let _ = ns.emit("rooms", &room_list(ns));
}

fn check_name(name: &str, max: usize, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if name.chars().count() > max {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the {what} holds control characters"));
    }
    Ok(())
}

fn check_room(ns: &Namespace, room: &str) -> Result<(), String> {
    check_name(room, MAX_ROOM, "room name")?;
    if is_socket_room(ns, room) {
        return Err("that room is a socket's own".into());
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the message is empty".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("the message is longer than {MAX_TEXT} characters"));
    }
    Ok(())
}
