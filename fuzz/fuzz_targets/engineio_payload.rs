//! HTTP long-polling bodies, v4 (`\x1e`-separated, `b` + base64) and v3 (length-prefixed,
//! string and binary framings): decoding never panics and honours the packet limit.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sockeye_engineio_proto::{payload, v3};

const MAX_PACKETS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    if let Ok(packets) = payload::decode(body.clone(), MAX_PACKETS) {
        assert!(packets.len() <= MAX_PACKETS);
    }
    if let Ok(packets) = v3::payload::decode(body, MAX_PACKETS) {
        assert!(packets.len() <= MAX_PACKETS);
    }
});
