//! Binary round-trips, on `/binary`.
//!
//! - `echo` (anything) → ack with the same arguments, binary parts included, untouched;
//! - `digest` (anything) → ack `[{size, sha256}]`, one per binary part, in order;
//! - `generate` `{size}` → ack `(bytes, sha256)`: random bytes made by the server (at most
//!   512 KiB) and their hash, so the page checks what it receives.

use bytes::Bytes;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sockeye::{AckSender, Data, Event, Io, Socket};
use sockeye_upload::to_hex;

/// The most bytes `generate` makes.
const MAX_GENERATE: usize = 512 * 1024;

#[derive(Deserialize)]
struct Generate {
    size: usize,
}

pub(super) fn install(io: &Io) {
    io.of("/binary").on_connection(on_connection);
}

fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data).into())
}

async fn on_connection(socket: Socket) {
    socket.on("echo", |event: Event, ack: AckSender| async move {
        let _ = ack.send_raw(event.args, event.attachments);
    });
    socket.on("digest", |event: Event, ack: AckSender| async move {
        let digests: Vec<_> = event
            .attachments
            .iter()
            .map(|part| json!({ "size": part.len(), "sha256": sha256_hex(part) }))
            .collect();
        let _ = ack.send(&digests);
    });
    socket.on(
        "generate",
        |Data(request): Data<Generate>, ack: AckSender| async move {
            if request.size > MAX_GENERATE {
                let _ = ack.send(&json!({ "error": format!("at most {MAX_GENERATE} bytes") }));
                return;
            }
            let mut data = vec![0u8; request.size];
            rand::rng().fill_bytes(&mut data);
            let hash = sha256_hex(&data);
            let _ = ack.send(&(Bytes::from(data), hash));
        },
    );
}
