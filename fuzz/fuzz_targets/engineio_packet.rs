//! One Engine.IO packet from a WebSocket frame (text or binary, v4 and v3): decoding never
//! panics, and what decodes re-encodes to something that decodes to the same packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sockeye_engineio_proto::{Frame, Packet, Str, v3};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let bytes = Bytes::copy_from_slice(rest);
    let frame = if selector & 1 == 0 {
        match Str::try_from(bytes) {
            Ok(text) => Frame::Text(text),
            Err(_) => return,
        }
    } else {
        Frame::Binary(bytes)
    };
    let decoded = if selector & 2 == 0 { Packet::decode(frame) } else { v3::decode_ws(frame) };
    if let Ok(packet) = decoded {
        if selector & 2 == 0 {
            assert_eq!(Packet::decode(packet.encode()).ok(), Some(packet));
        }
    }
});
