//! What the admin namespace hears through its [`Observer`]: the counts of `aggregatedEvents`
//! always, and in development mode the live events Node's admin server sends (`socket_connected`,
//! `socket_updated`, `socket_disconnected`, `room_joined`, `room_left`, `event_received`,
//! `event_sent`), with Node's arguments and a date as its JSON (`2026-12-07T05:10:32.000Z`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sockeye::{DisconnectReason, Event, Namespace, Observer, Socket, TransportKind};

use crate::aggregate::Aggregate;

/// The admin namespace's observer of the whole server.
pub(crate) struct Live {
    pub(crate) admin: Namespace,
    pub(crate) development: bool,
    pub(crate) aggregate: Arc<Aggregate>,
    /// Cleared when the [`crate::Admin`] is dropped: an observer cannot be removed, so it falls
    /// silent instead.
    pub(crate) active: Arc<AtomicBool>,
    /// Sockets still on long-polling, which may upgrade: [`Live::upgrades`] looks at them.
    /// Held briefly, never across `.await`.
    pub(crate) polling: Mutex<Vec<Socket>>,
    /// The UIs connected to this node's admin namespace.
    pub(crate) uis: AtomicUsize,
    /// Whether the admin namespace is on a cluster adapter, whose other nodes may have UIs.
    pub(crate) cluster: bool,
}

impl Live {
    fn on(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether the live events are sent for `socket`.
    fn live(&self, _socket: &Socket) -> bool {
        self.development && self.on()
    }

    /// Whether a live event may have a listener: a UI on this node, or on another node of a
    /// cluster. With none, the events are not built: a development server without a UI open
    /// costs what a production one does, and the admin server's connection bookkeeping.
    fn heard(&self) -> bool {
        self.cluster || self.uis.load(Ordering::Relaxed) > 0
    }

    fn is_admin(&self, socket: &Socket) -> bool {
        socket.ns().name() == self.admin.name()
    }

    fn send<T: serde::Serialize + ?Sized>(&self, event: &str, args: &T) {
        let _ = self.admin.emit(event, args);
    }

    /// `socket_updated` for the sockets that left long-polling since the last look (Engine.IO
    /// has no upgrade hook above it, so this runs with `server_stats`).
    pub(crate) fn upgrades(&self) {
        let upgraded: Vec<Socket> = {
            let mut polling = crate::lock(&self.polling);
            let mut upgraded = Vec::new();
            polling.retain(|socket| {
                if !socket.connected() {
                    return false;
                }
                if socket.engine().transport() == TransportKind::Polling {
                    return true;
                }
                upgraded.push(socket.clone());
                false
            });
            upgraded
        };
        for socket in upgraded {
            crate::sockets::retag_transport(&socket);
            self.send(
                "socket_updated",
                &json!({
                    "id": socket.id().as_str(),
                    "nsp": socket.ns().name(),
                    "transport": crate::sockets::transport_name(socket.engine().transport()),
                }),
            );
        }
    }
}

impl Observer for Live {
    fn connection_opened(&self, _engine: &sockeye::EngineSocket) {
        if self.on() {
            self.aggregate.push("rawConnection", None, 1);
        }
    }

    fn connection_closed(&self, _engine: &sockeye::EngineSocket, reason: DisconnectReason) {
        if self.on() {
            self.aggregate
                .push("rawDisconnection", Some(reason.as_str()), 1);
        }
    }

    fn message_received(&self, _engine: &sockeye::EngineSocket, bytes: usize) {
        if self.on() {
            self.aggregate.message(true, 1, bytes as u64);
        }
    }

    fn messages_sent(&self, _socket: &Socket, messages: usize, bytes: usize) {
        if self.on() {
            self.aggregate.message(false, messages as u64, bytes as u64);
        }
    }

    fn socket_connected(&self, socket: &Socket) {
        if self.is_admin(socket) {
            self.uis.fetch_add(1, Ordering::Relaxed);
        }
        if !self.live(socket) {
            return;
        }
        if socket.engine().transport() == TransportKind::Polling {
            crate::lock(&self.polling).push(socket.clone());
        }
        // Before the connection handler, as Node: what the node keeps for the UI is in the
        // socket's data before the application sees it.
        crate::sockets::tag(socket);
        if !self.heard() {
            return;
        }
        self.send("socket_connected", &(crate::sockets::local(socket), now()));
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        if self.is_admin(socket) {
            let _ = self
                .uis
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        if !self.live(socket) {
            return;
        }
        crate::lock(&self.polling).retain(|s| s.id() != socket.id());
        if !self.heard() {
            return;
        }
        let nsp = socket.ns().name();
        let id = socket.id();
        self.send(
            "socket_disconnected",
            &(nsp, id.as_str(), reason.as_str(), now()),
        );
    }

    fn room_joined(&self, socket: &Socket, room: &str) {
        if self.live(socket) && self.heard() {
            let id = socket.id();
            self.send(
                "room_joined",
                &(socket.ns().name(), room, id.as_str(), now()),
            );
        }
    }

    fn room_left(&self, socket: &Socket, room: &str) {
        if self.live(socket) && self.heard() {
            let id = socket.id();
            self.send("room_left", &(socket.ns().name(), room, id.as_str(), now()));
        }
    }

    fn event_received(&self, socket: &Socket, event: &Event) {
        // The UI's own commands are not shown to it, as in Node.
        if self.live(socket) && !self.is_admin(socket) && self.heard() {
            let mut args = vec![Value::from(event.name.as_str())];
            args.extend(event.args.to_values());
            let id = socket.id();
            self.send(
                "event_received",
                &(socket.ns().name(), id.as_str(), args, now()),
            );
        }
    }

    fn event_sent(&self, socket: &Socket, event: &str, args: &[Value]) {
        // Nor what it is sent itself, which would feed on itself.
        if self.live(socket) && !self.is_admin(socket) && self.heard() {
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(Value::from(event));
            all.extend_from_slice(args);
            let id = socket.id();
            self.send("event_sent", &(socket.ns().name(), id.as_str(), all, now()));
        }
    }
}

/// Now as JavaScript's `Date` serialises to JSON.
fn now() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    iso8601(millis)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of milliseconds since the epoch (proleptic Gregorian, UTC).
pub(crate) fn iso8601(millis: u64) -> String {
    let (days, ms_of_day) = (millis / 86_400_000, millis % 86_400_000);
    // Days to a civil date, after Howard Hinnant's `civil_from_days`, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let (h, m, s, ms) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn dates_are_written_as_javascript_does() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // new Date(951782400123).toJSON(): a leap day.
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        // new Date(1796620232000).toJSON()
        assert_eq!(iso8601(1_796_620_232_000), "2026-12-07T05:10:32.000Z");
        assert_eq!(iso8601(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }
}
