//! One packet of the MessagePack parser from an Engine.IO binary message: decoding never
//! panics, and what decodes is valid and re-encodes to bytes that decode to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockeye_socketio_proto::{Error, msgpack};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(packet) = msgpack::decode(bytes) {
        // Valid, but for maps the peer sent that look like placeholders (left as they are).
        assert!(matches!(
            packet.validate(),
            Ok(()) | Err(Error::PlaceholderOutOfRange { .. } | Error::InvalidPlaceholder)
        ));
        let encoded = msgpack::encode(&packet);
        let again = msgpack::decode(&encoded).expect("what we encode decodes");
        assert_eq!(msgpack::encode(&again), encoded);
    }
});
