//! Sockets as the UI sees them (`all_sockets`, `socket_connected`), on this node and on the
//! others of a cluster.
//!
//! A socket of another node is known only by what `fetch_sockets` brings back: its id, rooms,
//! handshake and JSON data. So, as Node's admin server does, each node keeps what else the UI
//! shows (`clientId`, `transport`) in the socket's JSON data under `_admin`, where the node that
//! fetches it finds it, and leaves it out of the `data` the UI is shown. A Node node and a
//! Sockeye node read each other's.

use futures_util::future::join_all;
use serde_json::{Map, Value, json};
use sockeye::{Handshake, Io, Namespace, RemoteSocket, Socket, TransportKind};

/// The key of the socket's JSON data that holds what the admin server keeps of it.
const KEY: &str = "_admin";

pub(crate) fn transport_name(transport: TransportKind) -> &'static str {
    match transport {
        TransportKind::Polling => "polling",
        TransportKind::WebTransport => "webtransport",
        _ => "websocket",
    }
}

/// Puts `{clientId, transport}` into the socket's JSON data under `_admin` (a new object when
/// it has none; data that is not an object is left alone, and the other nodes then show no
/// `clientId`). An application that replaces the data later drops it, with the same effect.
pub(crate) fn tag(socket: &Socket) {
    let engine = socket.engine();
    let admin = json!({
        // 12 characters only, as Node: the whole id would let a reader take over the session.
        "clientId": engine.id().to_string().chars().take(12).collect::<String>(),
        "transport": transport_name(engine.transport()),
    });
    let found = socket.with_data(|data: &mut Value| {
        if let Some(map) = data.as_object_mut() {
            map.insert(KEY.to_owned(), admin.clone());
        }
    });
    if found.is_none() {
        socket.insert_data(json!({ KEY: admin }));
    }
}

/// Records the socket's new transport under `_admin` (after an upgrade).
pub(crate) fn retag_transport(socket: &Socket) {
    let transport = transport_name(socket.engine().transport());
    socket.with_data(|data: &mut Value| {
        if let Some(admin) = data.get_mut(KEY).and_then(Value::as_object_mut) {
            admin.insert("transport".to_owned(), json!(transport));
        }
    });
}

/// The sockets of every namespace of this node, on every node of the cluster: Node's
/// `fetchAllSockets`. The namespaces are asked at once; a namespace whose other nodes do not
/// answer in time gives its local sockets only (see `Namespace::fetch_sockets`).
pub(crate) async fn all(io: &Io) -> Vec<Value> {
    let fetches = io.namespaces().into_iter().map(|name| {
        let ns = io.of(&name);
        async move {
            let sockets = ns.fetch_sockets().await;
            sockets
                .iter()
                .filter_map(|socket| fetched(&ns, socket))
                .collect::<Vec<Value>>()
        }
    });
    join_all(fetches).await.into_iter().flatten().collect()
}

/// A fetched socket: a local one from its `Socket` (which knows its transport now), another
/// node's from what that node sent. `None` for a local one gone meanwhile.
fn fetched(ns: &Namespace, socket: &RemoteSocket) -> Option<Value> {
    if socket.is_local() {
        return ns.socket(socket.id).map(|s| local(&s));
    }
    let data = socket.data.clone().unwrap_or(Value::Null);
    let admin = &data[KEY];
    let client_id = admin["clientId"].as_str().map(str::to_owned);
    let transport = admin["transport"].as_str().map(str::to_owned);
    Some(describe(Described {
        id: socket.id.as_str(),
        nsp: ns.name(),
        client_id,
        transport,
        data: shown_data(data),
        handshake: &socket.handshake,
        rooms: socket.rooms.iter().map(|r| &**r).collect(),
    }))
}

/// A socket of this node.
pub(crate) fn local(socket: &Socket) -> Value {
    let engine = socket.engine();
    let id = socket.id();
    let rooms = socket.rooms();
    describe(Described {
        id: id.as_str(),
        nsp: socket.ns().name(),
        client_id: Some(engine.id().to_string().chars().take(12).collect()),
        transport: Some(transport_name(engine.transport()).to_owned()),
        data: shown_data(socket.data::<Value>().unwrap_or(Value::Null)),
        handshake: engine.handshake(),
        rooms: rooms.iter().map(|r| &**r).collect(),
    })
}

/// The data the UI is shown: the socket's JSON data without `_admin`, `{}` for none.
fn shown_data(data: Value) -> Value {
    match data {
        Value::Object(mut map) => {
            map.remove(KEY);
            Value::Object(map)
        }
        Value::Null => json!({}),
        other => other,
    }
}

struct Described<'a> {
    id: &'a str,
    nsp: &'a str,
    client_id: Option<String>,
    transport: Option<String>,
    data: Value,
    handshake: &'a Handshake,
    rooms: Vec<&'a str>,
}

/// A socket as Node's admin server serialises it.
fn describe(socket: Described<'_>) -> Value {
    let handshake = socket.handshake;
    let headers: Map<String, Value> = handshake
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), json!(v.to_str().ok()?))))
        .collect();
    let query: Map<String, Value> = handshake
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let issued = handshake.issued_millis();
    // As Node: the client's address as a proxy in front tells it, else the peer's.
    let address = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| handshake.remote_addr.map(|a| a.ip().to_string()));
    json!({
        "id": socket.id,
        "clientId": socket.client_id,
        "transport": socket.transport,
        "nsp": socket.nsp,
        "data": socket.data,
        // Every field Node sends: the UI's socket page shows headers and query as tables.
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": issued,
            // TLS ends above the engine, which cannot tell; a proxy's header can.
            "secure": headers.get("x-forwarded-proto").and_then(Value::as_str) == Some("https"),
            "time": crate::live::iso8601(issued),
            "url": handshake.uri().to_string(),
            "xdomain": headers.contains_key("origin"),
        },
        "rooms": socket.rooms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_is_shown_the_data_without_what_the_admin_server_keeps() {
        assert_eq!(
            shown_data(json!({ "user": "ann", "_admin": { "clientId": "abc" } })),
            json!({ "user": "ann" })
        );
        assert_eq!(shown_data(Value::Null), json!({}));
        assert_eq!(shown_data(json!("text")), json!("text"));
    }
}
