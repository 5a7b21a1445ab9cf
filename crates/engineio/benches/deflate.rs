//! CPU cost of permessage-deflate per message, on the server's own code (`src/deflate.rs`,
//! compiled in here as it is): compressing an outgoing message, and inflating an incoming one
//! through the frame rewriter the WebSocket reads through, for JSON messages of 1, 16 and
//! 64 KiB, with and without context takeover.
//!
//!     cargo bench -p sockeye-engineio --bench deflate
//!
//! Prints, per case, the CPU time per message (of this thread, from
//! `/proc/thread-self/schedstat`, so that other processes on a busy machine do not count) to
//! compress and to inflate, and the compressed size; then the memory a connection keeps
//! between messages once it has compressed and inflated one.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../src/deflate.rs"]
mod deflate;

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::time::{Duration, Instant};

/// Counts allocations, to measure what a connection keeps.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// This thread's CPU time so far; wall time where Linux's schedstat is not there.
fn cpu_now() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| START.get_or_init(Instant::now).elapsed())
}

use deflate::{Agreed, Deflate, PerMessageDeflate};

/// A chat-like JSON event of `len` bytes, different for each `seed`.
fn json(len: usize, seed: usize) -> Vec<u8> {
    let mut text = String::from("42[\"messages\",[");
    let mut i = seed * 1000;
    while text.len() < len {
        text.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"room\":\"room-{}\",\"text\":\"message number {} of the day\",\"at\":{}}},",
            i % 97,
            i % 13,
            i * 7,
            1_700_000_000_000u64 + (i as u64) * 1234
        ));
        i += 1;
    }
    text.truncate(len - 2);
    text.push_str("]]");
    text.into_bytes()
}

/// A client's frame: FIN, RSV1, text, masked.
fn client_frame(payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0xc1];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn run(len: usize, no_context_takeover: bool, level: u32) {
    let config = PerMessageDeflate::default()
        .level(level)
        .server_no_context_takeover(no_context_takeover)
        .client_no_context_takeover(no_context_takeover);
    let agreed = Agreed {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
    };
    let messages: Vec<Vec<u8>> = (0..64).map(|seed| json(len, seed)).collect();
    // About 0.5 s of work a case on this machine.
    let count = (16_000_000 / len).clamp(200, 10_000);

    // Outgoing: the server's compressor, message after message.
    let mut server = Deflate::new(&config, agreed, 1_000_000);
    let mut compressed_bytes = 0;
    let started = cpu_now();
    for i in 0..count {
        let out = server.compress(black_box(&messages[i % messages.len()]));
        compressed_bytes += out.len();
    }
    let compress = cpu_now() - started;

    // Incoming: frames a client compressed (with its own context), through the rewriter.
    let mut client = Deflate::new(&config, agreed, 1_000_000);
    let frames: Vec<Vec<u8>> = (0..count)
        .map(|i| {
            let compressed = client.compress(&messages[i % messages.len()]);
            client_frame(&compressed, [1, 2, 3, (i % 251) as u8])
        })
        .collect();
    let mut reader = Deflate::new(&config, agreed, 1_000_000);
    let mut out = Vec::new();
    let started = cpu_now();
    for frame in &frames {
        // As the WebSocket reads: in 64 KiB reads at most.
        for read in frame.chunks(64 * 1024) {
            reader.inflate.feed(black_box(read), &mut out);
        }
        assert!(!reader.inflate.refused());
        black_box(&out);
        out.clear();
    }
    let inflate = cpu_now() - started;

    let per = |total: Duration| total.as_secs_f64() * 1e6 / count as f64;
    println!(
        "| {:>6} | {:>5} | {:<19} | {:>11.1} | {:>10.1} | {:>7.1} | {:>8.1} % |",
        format!("{} KiB", len / 1024),
        level,
        if no_context_takeover {
            "no context takeover"
        } else {
            "context takeover"
        },
        per(compress),
        per(inflate),
        per(compress + inflate),
        100.0 * compressed_bytes as f64 / (count * len) as f64,
    );
}

/// Bytes one connection keeps after a message each way, by mode.
fn kept(no_context_takeover: bool) -> usize {
    let config = PerMessageDeflate::default()
        .server_no_context_takeover(no_context_takeover)
        .client_no_context_takeover(no_context_takeover);
    let agreed = Agreed {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
    };
    let message = json(16 * 1024, 0);
    let mut client = Deflate::new(&config, agreed, 1_000_000);
    let frame = client_frame(&client.compress(&message), [1, 2, 3, 4]);
    // The thread's shared compressor, made once, is not the connection's.
    let warm = Deflate::new(&config, agreed, 1_000_000).compress(&message);
    drop(warm);
    let region = Region::new(GLOBAL);
    let mut connection = Deflate::new(&config, agreed, 1_000_000);
    drop(connection.compress(&message));
    let mut out = Vec::new();
    connection.inflate.feed(&frame, &mut out);
    drop(out);
    let change = region.change();
    // stats_alloc counts a reallocation in both of these already.
    let kept = change
        .bytes_allocated
        .saturating_sub(change.bytes_deallocated);
    drop(connection);
    kept
}

fn main() {
    println!(
        "| size   | level | mode                | compress µs | inflate µs | both µs | size after |"
    );
    println!(
        "|--------|-------|---------------------|-------------|------------|---------|------------|"
    );
    for len in [1024, 16 * 1024, 64 * 1024] {
        for (no_context_takeover, level) in [(false, 1), (true, 1), (false, 6), (true, 6)] {
            run(len, no_context_takeover, level);
        }
    }
    for no_context_takeover in [false, true] {
        println!(
            "kept per connection between messages ({}): {} KiB",
            if no_context_takeover {
                "no context takeover"
            } else {
                "context takeover"
            },
            kept(no_context_takeover) / 1024
        );
    }
}
