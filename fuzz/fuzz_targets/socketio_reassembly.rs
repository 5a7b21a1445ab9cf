//! A stream of text and binary messages through one decoder, as a connection delivers them:
//! binary packets wait for their attachments, the attachment limit holds, nothing panics.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sockeye_socketio_proto::Decoder;

const MAX_ATTACHMENTS: usize = 3;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new(MAX_ATTACHMENTS);
    // Messages are separated by 0xff; a leading 0 byte makes a message binary.
    for message in data.split(|&b| b == 0xff) {
        let result = match message.split_first() {
            Some((0, rest)) => decoder.feed_binary(Bytes::copy_from_slice(rest)),
            _ => match std::str::from_utf8(message) {
                Ok(text) => decoder.feed_text(text),
                Err(_) => continue,
            },
        };
        match result {
            Ok(Some(packet)) => assert!(packet.attachments.len() <= MAX_ATTACHMENTS),
            Ok(None) => {}
            // A connection closes on an error; start afresh as a new one would.
            Err(_) => decoder.reset(),
        }
    }
});
