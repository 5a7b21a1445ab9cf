//! WebTransport stream framing: decoding never panics, honours the length limit, and what
//! decodes encodes back to bytes that decode to the same frames.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockeye_engineio_proto::stream;

const MAX_PAYLOAD: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let decoder = stream::Decoder::new(MAX_PAYLOAD);
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        assert!(frame.len() <= MAX_PAYLOAD);
        frames.push(frame);
    }
    let mut wire = BytesMut::new();
    for frame in &frames {
        stream::encode_into(frame, &mut wire);
    }
    for frame in &frames {
        assert_eq!(decoder.decode(&mut wire).ok().flatten().as_ref(), Some(frame));
    }
});
