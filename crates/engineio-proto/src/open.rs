//! [`OpenPacket`]: the handshake data.

use serde::{Deserialize, Serialize};

/// The data of an open packet (`0{...}`), sent by the server to start a session.
///
/// Serialised as compact JSON with exactly these keys, in this order:
/// `sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`.
/// Durations are in milliseconds, `maxPayload` in bytes.
///
/// ```
/// use sockeye_engineio_proto::OpenPacket;
///
/// let open = OpenPacket {
///     sid: "lv_VI97HAXpY6yYWAAAC".into(),
///     upgrades: vec!["websocket".into()],
///     ping_interval: 25000,
///     ping_timeout: 20000,
///     max_payload: 1000000,
/// };
/// assert_eq!(
///     serde_json::to_string(&open)?,
///     r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// The session id the client must send back in the `sid` query parameter.
    pub sid: String,
    /// Transports the client may upgrade to, e.g. `["websocket"]`.
    pub upgrades: Vec<String>,
    /// How often the server pings, in milliseconds.
    pub ping_interval: u64,
    /// How long the server waits for a pong, in milliseconds.
    pub ping_timeout: u64,
    /// Largest polling payload the client should send, in bytes.
    // v3 servers do not send this key, so it must be optional when decoding.
    #[serde(default)]
    pub max_payload: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_protocol_example() {
        let json = r#"{
          "sid": "lv_VI97HAXpY6yYWAAAC",
          "upgrades": ["websocket"],
          "pingInterval": 25000,
          "pingTimeout": 20000,
          "maxPayload": 1000000
        }"#;
        let open: OpenPacket = serde_json::from_str(json).unwrap();
        assert_eq!(open.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(open.upgrades, ["websocket"]);
        assert_eq!(open.ping_interval, 25000);
        assert_eq!(open.ping_timeout, 20000);
        assert_eq!(open.max_payload, 1000000);
    }

    #[test]
    fn max_payload_is_optional_for_v3_servers() {
        let json = r#"{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#;
        let open: OpenPacket = serde_json::from_str(json).unwrap();
        assert_eq!(open.max_payload, 0);
    }

    #[test]
    fn other_fields_are_required() {
        let json = r#"{"sid":"abc","upgrades":[],"pingInterval":25000}"#;
        assert!(serde_json::from_str::<OpenPacket>(json).is_err());
    }
}
