//! One Socket.IO packet from an Engine.IO text message: decoding never panics, and what
//! decodes re-encodes to a packet that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockeye_socketio_proto::{Decoder, PacketType};

fuzz_target!(|text: &str| {
    let mut decoder = Decoder::new(4);
    if let Ok(Some(packet)) = decoder.feed_text(text) {
        if !matches!(packet.kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
            let encoded = packet.encode();
            let again = Decoder::new(4).feed_text(&encoded.text);
            assert_eq!(again.ok().flatten(), Some(packet));
        }
    }
});
