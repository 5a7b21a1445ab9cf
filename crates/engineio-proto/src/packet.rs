//! [`Packet`] and [`PacketType`]: what travels over an Engine.IO session.

use bytes::Bytes;

use crate::{Error, Frame, OpenPacket, Str};

/// The seven Engine.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the server's handshake, carrying an [`OpenPacket`].
    Open = 0,
    /// `1`: the transport can be closed.
    Close = 1,
    /// `2`: heartbeat request (or `2probe` during an upgrade).
    Ping = 2,
    /// `3`: heartbeat answer (or `3probe` during an upgrade).
    Pong = 3,
    /// `4`: application data, text or binary.
    Message = 4,
    /// `5`: the client switches to the new transport.
    Upgrade = 5,
    /// `6`: does nothing; used to end a pending poll during an upgrade.
    Noop = 6,
}

impl PacketType {
    /// The type whose numeric id is `id` (`0..=6`).
    pub const fn from_id(id: u8) -> Option<PacketType> {
        Some(match id {
            0 => PacketType::Open,
            1 => PacketType::Close,
            2 => PacketType::Ping,
            3 => PacketType::Pong,
            4 => PacketType::Message,
            5 => PacketType::Upgrade,
            6 => PacketType::Noop,
            _ => return None,
        })
    }

    /// The type whose ASCII digit is `digit` (`b'0'..=b'6'`), as found at the
    /// start of a text packet.
    pub const fn from_digit(digit: u8) -> Option<PacketType> {
        match digit.checked_sub(b'0') {
            Some(id) => PacketType::from_id(id),
            None => None,
        }
    }

    /// The numeric id (`0..=6`).
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// The ASCII digit that starts a text packet of this type.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

impl TryFrom<u8> for PacketType {
    type Error = Error;

    /// Converts a numeric id (`0..=6`, not an ASCII digit).
    fn try_from(id: u8) -> Result<PacketType, Error> {
        PacketType::from_id(id).ok_or(Error::UnknownPacketType(id))
    }
}

/// A decoded Engine.IO packet.
///
/// ```
/// use sockeye_engineio_proto::{Frame, Packet, Str};
///
/// let frame = Packet::Message(Str::from("hello")).encode();
/// assert_eq!(frame, Frame::Text(Str::from("4hello")));
///
/// let packet = Packet::decode(Frame::Text(Str::from("2probe")))?;
/// assert_eq!(packet, Packet::Ping(Str::from("probe")));
/// # Ok::<(), sockeye_engineio_proto::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// The server's handshake.
    Open(OpenPacket),
    /// The transport can be closed.
    Close,
    /// Heartbeat request; the payload is usually empty or `"probe"`.
    Ping(Str),
    /// Heartbeat answer; the payload echoes the ping's.
    Pong(Str),
    /// A text message.
    Message(Str),
    /// A binary message.
    Binary(Bytes),
    /// The client switches to the new transport.
    Upgrade,
    /// Does nothing.
    Noop,
}

impl Packet {
    /// The packet's type; [`Packet::Binary`] is a [`PacketType::Message`].
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Encodes the packet as one protocol v4 frame.
    ///
    /// Text packets become the type digit followed by their data (an open
    /// packet's data is compact JSON); binary messages are sent as they are.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sockeye_engineio_proto::{Frame, Packet, Str};
    ///
    /// assert_eq!(Packet::Pong(Str::from("probe")).encode(), Frame::Text(Str::from("3probe")));
    /// assert_eq!(Packet::Noop.encode(), Frame::Text(Str::from("6")));
    /// let bin = Bytes::from_static(&[1, 2, 3]);
    /// assert_eq!(Packet::Binary(bin.clone()).encode(), Frame::Binary(bin));
    /// ```
    pub fn encode(&self) -> Frame {
        match self {
            Packet::Open(open) => {
                // Serialising strings and integers cannot fail.
                let json = serde_json::to_string(open).unwrap_or_default();
                Frame::Text(prefixed(PacketType::Open, &json))
            }
            Packet::Close => Frame::Text(Str::from_static("1")),
            Packet::Ping(data) => Frame::Text(prefixed(PacketType::Ping, data)),
            Packet::Pong(data) => Frame::Text(prefixed(PacketType::Pong, data)),
            Packet::Message(data) => Frame::Text(prefixed(PacketType::Message, data)),
            Packet::Binary(data) => Frame::Binary(data.clone()),
            Packet::Upgrade => Frame::Text(Str::from_static("5")),
            Packet::Noop => Frame::Text(Str::from_static("6")),
        }
    }

    /// Decodes one protocol v4 frame.
    ///
    /// A text frame is a type digit followed by data; a binary frame is a
    /// binary message. Data after a close, upgrade or noop type is ignored,
    /// as the reference parser does.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] for an empty text frame, [`Error::UnknownPacketType`]
    /// if it does not start with `0`..`6`, [`Error::InvalidOpenPacket`] if an
    /// open packet's JSON does not parse.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sockeye_engineio_proto::{Error, Frame, Packet, Str};
    ///
    /// let bin = Bytes::from_static(&[1, 2, 3]);
    /// assert_eq!(Packet::decode(Frame::Binary(bin.clone()))?, Packet::Binary(bin));
    /// assert_eq!(Packet::decode(Frame::Text(Str::from("9"))), Err(Error::UnknownPacketType(b'9')));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn decode(frame: Frame) -> Result<Packet, Error> {
        match frame {
            Frame::Text(text) => Packet::decode_str(text),
            Frame::Binary(data) => Ok(Packet::Binary(data)),
        }
    }

    /// Decodes one text packet: same as `Packet::decode(Frame::Text(text))`.
    ///
    /// The data of message, ping and pong packets shares `text`'s buffer.
    ///
    /// # Errors
    ///
    /// As [`Packet::decode`].
    ///
    /// ```
    /// use sockeye_engineio_proto::{Packet, Str};
    ///
    /// assert_eq!(Packet::decode_str(Str::from("4hello"))?, Packet::Message(Str::from("hello")));
    /// assert!(Packet::decode_str(Str::from("")).is_err());
    /// # Ok::<(), sockeye_engineio_proto::Error>(())
    /// ```
    pub fn decode_str(text: Str) -> Result<Packet, Error> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(Error::Empty);
        };
        let ty = PacketType::from_digit(first).ok_or(Error::UnknownPacketType(first))?;
        // The type digit is ASCII, so offset 1 is always a char boundary.
        let data = text.slice_from(1).unwrap_or_default();
        Ok(match ty {
            PacketType::Open => Packet::Open(
                serde_json::from_str(data.as_str())
                    .map_err(|e| Error::InvalidOpenPacket(e.to_string()))?,
            ),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data),
            PacketType::Pong => Packet::Pong(data),
            PacketType::Message => Packet::Message(data),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }
}

/// The type digit followed by `data`, in one allocation.
pub(crate) fn prefixed(ty: PacketType, data: &str) -> Str {
    if data.is_empty() {
        // Bare packets ("2", "3", "4") are common enough to avoid allocating.
        return Str::from_static(match ty {
            PacketType::Open => "0",
            PacketType::Close => "1",
            PacketType::Ping => "2",
            PacketType::Pong => "3",
            PacketType::Message => "4",
            PacketType::Upgrade => "5",
            PacketType::Noop => "6",
        });
    }
    let mut text = String::with_capacity(1 + data.len());
    text.push(char::from(ty.digit()));
    text.push_str(data);
    Str::from(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(Str::from(s))
    }

    /// Any packet, including arbitrary Unicode text and bytes.
    pub(crate) fn any_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            any::<String>().prop_map(|s| Packet::Message(s.into())),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|b| Packet::Binary(Bytes::from(b))),
            any::<String>().prop_map(|s| Packet::Ping(s.into())),
            any::<String>().prop_map(|s| Packet::Pong(s.into())),
            Just(Packet::Close),
            Just(Packet::Upgrade),
            Just(Packet::Noop),
            (
                any::<String>(),
                proptest::collection::vec(any::<String>(), 0..3),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
            )
                .prop_map(
                    |(sid, upgrades, ping_interval, ping_timeout, max_payload)| {
                        Packet::Open(OpenPacket {
                            sid,
                            upgrades,
                            ping_interval,
                            ping_timeout,
                            max_payload,
                        })
                    }
                ),
        ]
    }

    #[test]
    fn packet_type_conversions() {
        for id in 0..=6u8 {
            let ty = PacketType::try_from(id).unwrap();
            assert_eq!(ty.id(), id);
            assert_eq!(PacketType::from_digit(ty.digit()), Some(ty));
        }
        assert_eq!(PacketType::try_from(7), Err(Error::UnknownPacketType(7)));
        assert_eq!(PacketType::from_digit(b'7'), None);
        assert_eq!(PacketType::from_digit(b'/'), None);
        assert_eq!(PacketType::from_digit(0), None);
        assert_eq!(
            Packet::Binary(Bytes::new()).packet_type(),
            PacketType::Message
        );
    }

    #[test]
    fn protocol_document_vectors() {
        assert_eq!(
            Packet::decode(text("4hello")).unwrap(),
            Packet::Message(Str::from("hello"))
        );
        assert_eq!(
            Packet::decode(text("2probe")).unwrap(),
            Packet::Ping(Str::from("probe"))
        );
        assert_eq!(
            Packet::decode(text("3probe")).unwrap(),
            Packet::Pong(Str::from("probe"))
        );
        assert_eq!(
            Packet::decode(text("2")).unwrap(),
            Packet::Ping(Str::default())
        );
        assert_eq!(Packet::decode(text("5")).unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode(text("6")).unwrap(), Packet::Noop);
        assert_eq!(Packet::decode(text("1")).unwrap(), Packet::Close);
        assert_eq!(Packet::Message(Str::from("hello")).encode(), text("4hello"));
        assert_eq!(Packet::Ping(Str::from("probe")).encode(), text("2probe"));
        assert_eq!(Packet::Ping(Str::default()).encode(), text("2"));
        assert_eq!(Packet::Close.encode(), text("1"));
        assert_eq!(Packet::Upgrade.encode(), text("5"));
    }

    #[test]
    fn open_packet_vector() {
        let open = OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1000000,
        };
        let wire = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(Packet::Open(open.clone()).encode(), text(wire));
        assert_eq!(Packet::decode(text(wire)).unwrap(), Packet::Open(open));
    }

    #[test]
    fn binary_frames_are_raw_messages() {
        let bin = Bytes::from_static(&[1, 2, 3, 4]);
        assert_eq!(
            Packet::decode(Frame::Binary(bin.clone())).unwrap(),
            Packet::Binary(bin.clone())
        );
        assert_eq!(Packet::Binary(bin.clone()).encode(), Frame::Binary(bin));
        assert_eq!(
            Packet::decode(Frame::Binary(Bytes::new())).unwrap(),
            Packet::Binary(Bytes::new())
        );
    }

    #[test]
    fn trailing_data_is_ignored_on_bare_types() {
        assert_eq!(Packet::decode(text("1bye")).unwrap(), Packet::Close);
        assert_eq!(Packet::decode(text("5x")).unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode(text("6€")).unwrap(), Packet::Noop);
    }

    #[test]
    fn malformed_text_packets() {
        assert_eq!(Packet::decode(text("")), Err(Error::Empty));
        assert_eq!(
            Packet::decode(text("9")),
            Err(Error::UnknownPacketType(b'9'))
        );
        assert_eq!(
            Packet::decode(text("7x")),
            Err(Error::UnknownPacketType(b'7'))
        );
        assert_eq!(
            Packet::decode(text("€")),
            Err(Error::UnknownPacketType(0xe2))
        );
        // Base64 binary is a polling-payload thing, not a valid v4 frame.
        assert_eq!(
            Packet::decode(text("bAQIDBA==")),
            Err(Error::UnknownPacketType(b'b'))
        );
        assert!(matches!(
            Packet::decode(text("0")),
            Err(Error::InvalidOpenPacket(_))
        ));
        assert!(matches!(
            Packet::decode(text("0{\"sid\":1}")),
            Err(Error::InvalidOpenPacket(_))
        ));
    }

    proptest! {
        #[test]
        fn frame_round_trip(packet in any_packet()) {
            prop_assert_eq!(Packet::decode(packet.encode()), Ok(packet));
        }

        #[test]
        fn decode_str_never_panics(s in any::<String>()) {
            let _ = Packet::decode_str(Str::from(s));
        }

        #[test]
        fn decode_never_panics_on_lossy_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = String::from_utf8_lossy(&b).into_owned();
            let _ = Packet::decode(Frame::Text(Str::from(s)));
            let _ = Packet::decode(Frame::Binary(Bytes::from(b)));
        }

        #[test]
        fn decode_never_panics_on_typed_text(ty in 0u8..10, rest in any::<String>()) {
            let s = format!("{ty}{rest}");
            let _ = Packet::decode_str(Str::from(s));
        }
    }
}
