//! `aggregatedEvents` of `server_stats`: counts by type (and sub-type) per second, as Node's
//! admin server buffers them between two reports.

use std::sync::Mutex;
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

/// The counts since the last report. Held briefly, never across `.await`.
#[derive(Debug, Default)]
pub(crate) struct Aggregate {
    entries: Mutex<Vec<Entry>>,
}

impl Aggregate {
    /// Adds `count` to the current second's count of `kind` / `sub`.
    pub(crate) fn push(&self, kind: &'static str, sub: Option<&'static str>, count: u64) {
        self.push_at(now_second(), kind, sub, count);
    }

    fn push_at(&self, second: u64, kind: &'static str, sub: Option<&'static str>, count: u64) {
        let mut entries = crate::lock(&self.entries);
        // Between two reports there are a few seconds of a few kinds: the newest are at the end.
        let found = entries
            .iter_mut()
            .rev()
            .take_while(|e| e.second == second)
            .find(|e| e.kind == kind && e.sub == sub);
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

    /// The counts as the UI reads them (`{timestamp, type, subType, count}`), emptied.
    pub(crate) fn take(&self) -> Vec<Value> {
        let entries = std::mem::take(&mut *crate::lock(&self.entries));
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
}
