//! What each parser costs per packet: encoding to Engine.IO frames and decoding them back, for
//! an event with a 7-field object and for one with 4 KiB of binary.
//!
//! `cargo run --release -p sockeye-socketio-proto --example parser_cost`

use std::time::Instant;

use bytes::Bytes;
use sockeye_engineio_proto::Frame;
use sockeye_socketio_proto::{Error, Packet, Parser, binary::placeholder};

const ROUNDS: u32 = 200_000;

fn main() -> Result<(), Error> {
    let chat = serde_json::json!(["chat", {
        "user": "alice", "text": "hello there, how are you?", "room": "lobby",
        "ts": 1_733_500_000_123u64, "score": 4.5, "tags": ["a", "b", "c"],
    }]);
    let file = serde_json::json!(["file", {"name": "a.bin", "content": placeholder(0)}]);
    let packets = [
        ("event, 7 fields", Packet::event("/", chat, vec![])),
        (
            "event, 4 KiB bin",
            Packet::event("/", file, vec![Bytes::from(vec![7; 4096])]),
        ),
    ];
    for (label, packet) in &packets {
        for parser in [Parser::Default, Parser::MsgPack] {
            let started = Instant::now();
            for _ in 0..ROUNDS {
                std::hint::black_box(parser.frames(packet));
            }
            let encode = started.elapsed() / ROUNDS;
            let frames = parser.frames(packet);
            let started = Instant::now();
            for _ in 0..ROUNDS {
                let mut decoder = parser.decoder(10);
                for frame in &frames {
                    let decoded = match frame {
                        Frame::Text(text) => {
                            decoder.feed_str(text.slice_from(1).unwrap_or_default())
                        }
                        Frame::Binary(bytes) => decoder.feed_binary(bytes.clone()),
                    };
                    std::hint::black_box(decoded?);
                }
            }
            let decode = started.elapsed() / ROUNDS;
            let wire: usize = frames.iter().map(Frame::len).sum();
            println!(
                "{label:17} {parser:8} encode {:6} ns  decode {:6} ns  {wire} bytes in {} frames",
                encode.as_nanos(),
                decode.as_nanos(),
                frames.len()
            );
        }
    }
    Ok(())
}
