//! `aggregatedEvents` of `server_stats`: counts by type (and sub-type) per second, as Node's
//! admin server buffers them between two reports.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// One count: `count` things of `kind` (`rawConnection`, `bytesIn`...) in the second that
/// starts at `second` (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    second: u64,
    kind: &'static str,
    sub: Option<&'static str>,
    count: u64,
}

/// The kinds counted for every message, in [`Aggregate::hot`]'s order.
const HOT: [&str; 4] = ["packetsIn", "bytesIn", "packetsOut", "bytesOut"];

/// The counts since the last report.
#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    /// Held briefly, never across `.await`.
    entries: Mutex<Vec<Entry>>,
    /// The second the hot counters count for; a message in a later one moves them into
    /// `entries` first.
    second: AtomicU64,
    /// The counts of [`HOT`] in the current second, added to without the lock: one message
    /// costs two atomic additions, not two lock round trips. A message counted while the second
    /// turns may fall in the next one; none is lost.
    hot: [AtomicU64; 4],
}

impl Aggregate {
    /// Counts a message of `bytes` bytes: received, or sent.
    pub(crate) fn message(&self, received: bool, messages: u64, bytes: u64) {
        let second = now_second();
        if self.second.load(Ordering::Relaxed) != second {
            self.roll(second);
        }
        let first = if received { 0 } else { 2 };
        self.hot[first].fetch_add(messages, Ordering::Relaxed);
        self.hot[first + 1].fetch_add(bytes, Ordering::Relaxed);
    }

    /// Moves the hot counts into `entries`, for the second they were counted in, and starts
    /// counting for `second`.
    fn roll(&self, second: u64) {
        let mut entries = crate::lock(&self.entries);
        let counted = self.second.swap(second, Ordering::Relaxed);
        if counted == second {
            return;
        }
        self.flush(&mut entries, counted);
    }

    fn flush(&self, entries: &mut Vec<Entry>, second: u64) {
        for (kind, count) in HOT.iter().zip(&self.hot) {
            let count = count.swap(0, Ordering::Relaxed);
            if count > 0 {
                add(entries, second, kind, None, count);
            }
        }
    }

    /// Adds `count` to the current second's count of `kind` / `sub`.
    pub(crate) fn push(&self, kind: &'static str, sub: Option<&'static str>, count: u64) {
        self.push_at(now_second(), kind, sub, count);
    }

    fn push_at(&self, second: u64, kind: &'static str, sub: Option<&'static str>, count: u64) {
        add(&mut crate::lock(&self.entries), second, kind, sub, count);
    }

    /// The counts as the UI reads them (`{timestamp, type, subType, count}`), emptied.
    pub(crate) fn take(&self) -> Vec<Value> {
        let entries = {
            let mut entries = crate::lock(&self.entries);
            let second = self.second.load(Ordering::Relaxed);
            self.flush(&mut entries, second);
            std::mem::take(&mut *entries)
        };
        entries
            .into_iter()
            .map(|e| {
                let mut value = json!({ "timestamp": e.second, "type": e.kind, "count": e.count });
                if let Some(sub) = e.sub {
                    value["subType"] = json!(sub);
                }
                value
            })
            .collect()
    }
}

fn add(
    entries: &mut Vec<Entry>,
    second: u64,
    kind: &'static str,
    sub: Option<&'static str>,
    count: u64,
) {
    // Between two reports there are a few seconds of a few kinds: a short list.
    let found = entries
        .iter_mut()
        .find(|e| e.second == second && e.kind == kind && e.sub == sub);
    match found {
        Some(entry) => entry.count += count,
        None => entries.push(Entry {
            second,
            kind,
            sub,
            count,
        }),
    }
}

fn now_second() -> u64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    millis - millis % 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_second_kind_and_sub_type() {
        let aggregate = Aggregate::default();
        aggregate.push_at(1000, "bytesIn", None, 10);
        aggregate.push_at(1000, "packetsIn", None, 1);
        aggregate.push_at(1000, "bytesIn", None, 5);
        aggregate.push_at(2000, "bytesIn", None, 7);
        aggregate.push_at(2000, "rawDisconnection", Some("ping timeout"), 1);
        aggregate.push_at(2000, "rawDisconnection", Some("transport close"), 1);
        aggregate.push_at(2000, "rawDisconnection", Some("ping timeout"), 1);
        assert_eq!(
            aggregate.take(),
            vec![
                json!({ "timestamp": 1000, "type": "bytesIn", "count": 15 }),
                json!({ "timestamp": 1000, "type": "packetsIn", "count": 1 }),
                json!({ "timestamp": 2000, "type": "bytesIn", "count": 7 }),
                json!({ "timestamp": 2000, "type": "rawDisconnection", "subType": "ping timeout", "count": 2 }),
                json!({ "timestamp": 2000, "type": "rawDisconnection", "subType": "transport close", "count": 1 }),
            ]
        );
        assert!(aggregate.take().is_empty());
    }

    #[test]
    fn messages_are_counted_without_the_lock_and_reported() {
        let aggregate = Aggregate::default();
        aggregate.message(true, 1, 10);
        aggregate.message(true, 1, 5);
        aggregate.message(false, 3, 100);
        let second = aggregate.second.load(Ordering::Relaxed);
        assert_eq!(second % 1000, 0);
        let mut taken = aggregate.take();
        // Counted across a turn of the second, the messages would be in two; none is lost.
        let total = |kind: &str| -> u64 {
            taken
                .iter()
                .filter(|e| e["type"] == kind)
                .map(|e| e["count"].as_u64().unwrap_or(0))
                .sum()
        };
        assert_eq!(
            [
                total("packetsIn"),
                total("bytesIn"),
                total("packetsOut"),
                total("bytesOut")
            ],
            [2, 15, 3, 100]
        );
        taken.retain(|e| e["timestamp"].as_u64().is_none_or(|t| t % 1000 != 0));
        assert!(taken.is_empty(), "{taken:?}");
        assert!(aggregate.take().is_empty());
    }
}
