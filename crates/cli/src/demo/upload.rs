//! Uploads, on `/upload`, with [`sockeye_upload`].
//!
//! - `probe` `{name, size}` → ack `{ok, offset}`: how much of an interrupted upload of that file
//!   is on disk (0 when none);
//! - `begin` `{name, size}` → ack `{ok, offset, limit}`: starts the upload, or resumes it; the
//!   client sends from `offset`;
//! - `chunk` (offset, bytes) → ack `{ok, next}` or `{error, next}`: chunks must be contiguous
//!   (one the server has is ignored); the client keeps a few in flight and waits for acks;
//! - `finish` `{sha256}` → ack `{ok, name, size, sha256, matches}` once every byte is there:
//!   the server's SHA-256 of what it wrote, checked against the browser's;
//! - `cancel`: removes the partial file.
//!
//! An upload in progress belongs to the file name and size, not to the socket: after a
//! reconnection `begin` picks it up where it was, whether the old connection is gone yet or
//! not. Chunks are written in the order they arrive: each `chunk` handler first queues on the
//! upload's (fair) async mutex, in packet order, then writes on the blocking pool.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sockeye::{AckSender, Data, DisconnectReason, Io, Socket, SocketId};
use sockeye_upload::{Upload, UploadDir, UploadError, parse_hex, to_hex};

use super::{DemoState, lock, now_ms};

/// The chunk size the pages use: well under the 1 MB message limit, even base64-encoded for
/// long-polling.
pub const CHUNK_SIZE: usize = 512 * 1024;

/// An upload in progress.
#[derive(Debug)]
pub(super) struct Transfer {
    key: String,
    /// `None` until started, and again once finished or cancelled.
    upload: Arc<tokio::sync::Mutex<Option<Upload>>>,
    /// The socket that began or resumed it last; taken only to set or compare.
    owner: Mutex<SocketId>,
    started: Instant,
}

/// The upload a socket is sending.
#[derive(Clone, Debug)]
struct Current(Arc<Transfer>);

/// A finished upload, for `/stats.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FinishedUpload {
    /// The file name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
    /// Whether it matched the browser's.
    pub matches: bool,
    /// When it finished (ms since the epoch).
    pub at: u64,
    /// Seconds from the first `begin` to the end.
    pub seconds: f64,
}

#[derive(Deserialize)]
struct Begin {
    name: String,
    size: u64,
}

#[derive(Deserialize)]
struct Finish {
    sha256: Option<String>,
}

pub(super) fn install(io: &Io, state: DemoState) {
    io.of("/upload").on_connection(move |socket: Socket| {
        let state = state.clone();
        async move { on_connection(socket, state) }
    });
}

fn error_json(error: &UploadError) -> serde_json::Value {
    json!({ "error": error.to_string() })
}

fn on_connection(socket: Socket, state: DemoState) {
    let _ = socket.emit(
        "limits",
        &json!({ "maxSize": state.0.uploads.limit(), "chunkSize": CHUNK_SIZE }),
    );

    let probe_state = state.clone();
    socket.on("probe", move |Data(begin): Data<Begin>, ack: AckSender| {
        let uploads = probe_state.0.uploads.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || {
                uploads.partial_offset(&begin.name, begin.size)
            })
            .await;
            let _ = match result {
                Ok(Ok(offset)) => ack.send(&json!({ "ok": true, "offset": offset.unwrap_or(0) })),
                Ok(Err(error)) => ack.send(&error_json(&error)),
                Err(error) => ack.send(&json!({ "error": error.to_string() })),
            };
        }
    });

    let begin_state = state.clone();
    socket.on(
        "begin",
        move |socket: Socket, Data(begin): Data<Begin>, ack: AckSender| {
            let state = begin_state.clone();
            async move {
                let answer = begin_upload(&socket, &state, begin).await;
                let _ = ack.send(&answer);
            }
        },
    );

    socket.on(
        "chunk",
        |socket: Socket, Data((offset, data)): Data<(u64, Bytes)>, ack: AckSender| async move {
            let Some(Current(transfer)) = socket.data::<Current>() else {
                let _ = ack.send(&json!({ "error": "no upload in progress: send begin first" }));
                return;
            };
            // Queue first (in packet order), then write off the async threads, and acknowledge
            // before the next chunk may go: acknowledgements leave in the order of the writes.
            let guard = transfer.upload.clone().lock_owned().await;
            let written = tokio::task::spawn_blocking(move || {
                let mut guard = guard;
                let result = guard.as_mut().map(|upload| {
                    let result = upload.write_chunk(offset, &data);
                    (result, upload.next_offset())
                });
                (guard, result)
            })
            .await;
            let (answer, guard) = match written {
                Ok((guard, Some((Ok(chunk), _)))) => {
                    (json!({ "ok": true, "next": chunk.next() }), Some(guard))
                }
                Ok((guard, Some((Err(error), next)))) => (
                    json!({ "error": error.to_string(), "next": next }),
                    Some(guard),
                ),
                Ok((guard, None)) => (json!({ "error": "the upload is over" }), Some(guard)),
                Err(error) => (json!({ "error": error.to_string() }), None),
            };
            let _ = ack.send(&answer);
            drop(guard);
        },
    );

    let finish_state = state.clone();
    socket.on(
        "finish",
        move |socket: Socket, Data(finish): Data<Finish>, ack: AckSender| {
            let state = finish_state.clone();
            async move {
                let answer = finish_upload(&socket, &state, finish).await;
                let _ = ack.send(&answer);
            }
        },
    );

    let cancel_state = state.clone();
    socket.on("cancel", move |socket: Socket, ack: AckSender| {
        let state = cancel_state.clone();
        async move {
            if let Some(Current(transfer)) = socket.data::<Current>() {
                forget(&state, &transfer);
                let upload = transfer.upload.lock().await.take();
                if let Some(upload) = upload {
                    let _ = tokio::task::spawn_blocking(move || upload.abort()).await;
                }
            }
            let _ = ack.send(&json!({ "ok": true }));
        }
    });

    socket.on_disconnect(move |socket: Socket, _reason: DisconnectReason| {
        let state = state.clone();
        async move {
            let Some(Current(transfer)) = socket.data::<Current>() else {
                return;
            };
            // Once the chunks being written are done: the owner is only changed under this lock.
            let mut guard = transfer.upload.lock().await;
            // Another connection may have resumed it already; then it is theirs.
            if *lock(&transfer.owner) != socket.id() {
                return;
            }
            // Close the file; the partial file stays for a resume.
            if let Some(upload) = guard.take() {
                tracing::info!(
                    name = upload.name(),
                    next = upload.next_offset(),
                    "upload interrupted"
                );
            }
            forget(&state, &transfer);
        }
    });
}

/// Removes a transfer from the uploads in progress, if it is still there.
fn forget(state: &DemoState, transfer: &Arc<Transfer>) {
    let mut transfers = lock(&state.0.transfers);
    if transfers
        .get(&transfer.key)
        .is_some_and(|t| Arc::ptr_eq(t, transfer))
    {
        transfers.remove(&transfer.key);
    }
}

async fn begin_upload(socket: &Socket, state: &DemoState, begin: Begin) -> serde_json::Value {
    let uploads: UploadDir = state.0.uploads.clone();
    // Names and sizes are checked before anything is kept.
    if let Err(error) = uploads.partial_offset(&begin.name, begin.size) {
        return error_json(&error);
    }
    let key = format!("{}/{}", begin.size, begin.name);
    let transfer = {
        let mut transfers = lock(&state.0.transfers);
        transfers
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Transfer {
                    key,
                    upload: Arc::default(),
                    owner: Mutex::new(socket.id()),
                    started: Instant::now(),
                })
            })
            .clone()
    };
    socket.insert_data(Current(transfer.clone()));
    let mut guard = transfer.upload.clone().lock_owned().await;
    *lock(&transfer.owner) = socket.id();
    // The old connection's disconnection may have dropped it from the list meanwhile.
    lock(&state.0.transfers)
        .entry(transfer.key.clone())
        .or_insert_with(|| transfer.clone());
    let resumed_live = guard.is_some();
    if guard.is_none() {
        let (name, size) = (begin.name.clone(), begin.size);
        let started = tokio::task::spawn_blocking(move || uploads.start(&name, size)).await;
        match started {
            Ok(Ok(upload)) => *guard = Some(upload),
            Ok(Err(error)) => {
                drop(guard);
                forget(state, &transfer);
                return error_json(&error);
            }
            Err(error) => {
                drop(guard);
                forget(state, &transfer);
                return json!({ "error": error.to_string() });
            }
        }
    }
    let offset = guard.as_ref().map_or(0, Upload::next_offset);
    tracing::info!(
        name = begin.name,
        size = begin.size,
        offset,
        resumed_live,
        "upload begins"
    );
    json!({ "ok": true, "offset": offset, "limit": state.0.uploads.limit() })
}

async fn finish_upload(socket: &Socket, state: &DemoState, finish: Finish) -> serde_json::Value {
    let Some(Current(transfer)) = socket.data::<Current>() else {
        return json!({ "error": "no upload in progress" });
    };
    let expected = match finish.sha256.as_deref().map(parse_hex) {
        Some(None) => return json!({ "error": "sha256 is not 64 hex digits" }),
        Some(Some(digest)) => Some(digest),
        None => None,
    };
    let upload = transfer.upload.lock().await.take();
    let Some(upload) = upload else {
        return json!({ "error": "the upload is over" });
    };
    if !upload.is_complete() {
        let answer = json!({
            "error": format!("incomplete: {} of {} bytes", upload.next_offset(), upload.size()),
            "next": upload.next_offset(),
        });
        *transfer.upload.lock().await = Some(upload);
        return answer;
    }
    forget(state, &transfer);
    let name = upload.name().to_owned();
    let finished = tokio::task::spawn_blocking(move || upload.finish(expected.as_ref())).await;
    let seconds = transfer.started.elapsed().as_secs_f64();
    match finished {
        Ok(Ok(done)) => {
            let sha256 = to_hex(&done.sha256);
            tracing::info!(name, size = done.size, sha256, seconds, path = %done.path.display(), "upload finished");
            state.push_finished(FinishedUpload {
                name: name.clone(),
                size: done.size,
                sha256: sha256.clone(),
                matches: expected.is_some(),
                at: now_ms(),
                seconds,
            });
            json!({
                "ok": true,
                "name": name,
                "size": done.size,
                "sha256": sha256,
                "matches": expected.is_some(),
            })
        }
        Ok(Err(UploadError::HashMismatch { expected, actual })) => {
            tracing::warn!(name, expected, actual, "upload hash mismatch");
            json!({
                "error": "SHA-256 mismatch: the file was removed",
                "sha256": actual,
                "expected": expected,
                "matches": false,
            })
        }
        Ok(Err(error)) => error_json(&error),
        Err(error) => json!({ "error": error.to_string() }),
    }
}
