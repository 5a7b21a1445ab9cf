//! The demo app: what the pages talk to, one namespace each.
//!
//! | namespace | page | what |
//! |---|---|---|
//! | `/` | `/seed.html` | the seed: `motd`, `message`, `important_message` acked "Roger that", `exampleRoom`, `client_disconnected` |
//! | `/chat` | `/chat.html` | rooms chat: nicknames, rooms with live member counts, typing, delivery ticks |
//! | `/upload` | `/upload.html` | chunked uploads with acks, flow control, SHA-256 and resume ([`sockeye_upload`]) |
//! | `/binary` | `/binary.html` | binary round-trips: echo, digests, server-made bytes |

mod binary;
mod chat;
mod seed;
mod upload;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sockeye::Io;
use sockeye_upload::UploadDir;

pub use upload::FinishedUpload;

/// How many seed messages and finished uploads `/stats.json` remembers.
const KEEP: usize = 50;

/// What the demo handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DemoState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    uploads: UploadDir,
    /// The last messages the seed got (`message` and `important_message`). Each of these std
    /// mutexes is taken only to push or copy, never across an `.await`.
    seed_messages: Mutex<VecDeque<SeedMessage>>,
    /// Uploads in progress, by file name and size.
    transfers: Mutex<HashMap<String, Arc<upload::Transfer>>>,
    finished: Mutex<VecDeque<FinishedUpload>>,
}

/// A message the seed received.
#[derive(Debug, Clone, Serialize)]
pub struct SeedMessage {
    /// `message` or `important_message`.
    pub event: String,
    /// The sender.
    pub from: String,
    /// What it sent.
    pub data: serde_json::Value,
}

impl DemoState {
    /// State that writes uploads to `uploads`.
    pub fn new(uploads: UploadDir) -> Self {
        DemoState(Arc::new(Inner {
            uploads,
            seed_messages: Mutex::default(),
            transfers: Mutex::default(),
            finished: Mutex::default(),
        }))
    }

    fn push_seed_message(&self, message: SeedMessage) {
        push_bounded(&self.0.seed_messages, message);
    }

    fn push_finished(&self, upload: FinishedUpload) {
        push_bounded(&self.0.finished, upload);
    }

    /// What `/stats.json` shows: sockets per namespace, the seed's last messages, the uploads
    /// finished.
    pub fn stats(&self, io: &Io) -> serde_json::Value {
        let namespaces: BTreeMap<String, usize> = io
            .namespaces()
            .into_iter()
            .map(|name| {
                let count = io.of(&name).sockets().len();
                (name, count)
            })
            .collect();
        let seed: Vec<SeedMessage> = lock(&self.0.seed_messages).iter().cloned().collect();
        let finished: Vec<FinishedUpload> = lock(&self.0.finished).iter().cloned().collect();
        let in_progress = lock(&self.0.transfers).len();
        serde_json::json!({
            "namespaces": namespaces,
            "seed_messages": seed,
            "uploads": { "finished": finished, "in_progress": in_progress },
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn push_bounded<T>(list: &Mutex<VecDeque<T>>, item: T) {
    let mut list = lock(list);
    if list.len() == KEEP {
        list.pop_front();
    }
    list.push_back(item);
}

/// Gives each namespace its handlers.
pub fn install(io: &Io, state: DemoState) {
    seed::install(io, state.clone());
    chat::install(io);
    upload::install(io, state);
    binary::install(io);
}

/// Milliseconds since the Unix epoch, for timestamps the pages show.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
