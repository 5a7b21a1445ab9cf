//! The acknowledgement waits of one namespace, with their timeouts kept here rather than as a
//! timer per emit: the driver arms one timer at the oldest deadline and calls
//! [`AckWaits::expire`] when it fires; an answered wait leaves the deadline queue as soon as
//! it reaches its front, so a connection whose acks come in order keeps only what is in
//! flight.
//!
//! Sans-IO: the caller passes `now` in.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// A wait, answered with `T`.
type Waiter<T> = oneshot::Sender<T>;

/// Hashes an ack id with one multiplication. The ids are the client's own, consecutive, so
/// nobody chooses the keys of the map; SipHash's resistance to chosen keys buys nothing
/// here and was a tenth of an echo's instructions (an id is hashed three times per echo).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        // Times an odd constant: the low bits, which pick the bucket, stay distinct for
        // consecutive ids, and the top seven, hashbrown's control byte, depend on all.
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Debug)]
pub(crate) struct AckWaits<T> {
    waits: HashMap<u64, Waiter<T>, BuildHasherDefault<IdHasher>>,
    /// `(deadline, id, timeout)`, oldest deadline first. Entries whose wait was answered,
    /// failed or dropped stay until they reach the front (or a compaction).
    deadlines: VecDeque<(Instant, u64, Duration)>,
    /// `waits` is swept of dropped waiters when it reaches this size, so that an emit costs
    /// no scan of every wait.
    sweep_at: usize,
}

impl<T> Default for AckWaits<T> {
    fn default() -> Self {
        AckWaits {
            waits: HashMap::default(),
            deadlines: VecDeque::new(),
            sweep_at: 0,
        }
    }
}

impl<T> AckWaits<T> {
    /// Waits for the acknowledgement `id`, until `now + timeout` when there is a timeout.
    pub(crate) fn insert(
        &mut self,
        id: u64,
        waiter: Waiter<T>,
        timeout: Option<Duration>,
        now: Instant,
    ) {
        // A caller that stopped waiting leaves a closed sender behind.
        if self.waits.len() >= self.sweep_at {
            self.waits.retain(|_, waiter| !waiter.is_closed());
            self.sweep_at = (self.waits.len() * 2).max(16);
        }
        self.waits.insert(id, waiter);
        let Some(timeout) = timeout else {
            return;
        };
        let deadline = now + timeout;
        // Emits mostly share one timeout, so the new deadline is mostly the latest.
        let at = self.deadlines.partition_point(|&(d, _, _)| d <= deadline);
        self.deadlines.insert(at, (deadline, id, timeout));
        // Out-of-order answers keep entries behind a front that waits; bound them by what
        // still waits.
        if self.deadlines.len() > 2 * self.waits.len() + 64 {
            let waits = &self.waits;
            self.deadlines.retain(|(_, id, _)| waits.contains_key(id));
        }
    }

    /// The wait of acknowledgement `id`, which has come.
    pub(crate) fn take(&mut self, id: u64) -> Option<Waiter<T>> {
        let waiter = self.waits.remove(&id)?;
        self.pop_answered();
        Some(waiter)
    }

    /// The oldest deadline: when [`AckWaits::expire`] has something to do, or a front entry
    /// to drop.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(deadline, _, _)| deadline)
    }

    /// Ends the waits whose deadline passed at `now`, with their timeout.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Waiter<T>, Duration)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id, timeout)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(waiter) = self.waits.remove(&id) {
                expired.push((waiter, timeout));
            }
        }
        self.pop_answered();
        expired
    }

    /// Every wait, for a disconnection; the caller puts back those that survive it.
    pub(crate) fn drain(&mut self) -> std::collections::hash_map::IntoIter<u64, Waiter<T>> {
        std::mem::take(&mut self.waits).into_iter()
    }

    /// Puts back a wait taken by [`AckWaits::drain`]; its deadline, if any, still holds.
    pub(crate) fn restore(&mut self, id: u64, waiter: Waiter<T>) {
        self.waits.insert(id, waiter);
    }

    fn pop_answered(&mut self) {
        while let Some(&(_, id, _)) = self.deadlines.front() {
            if self.waits.contains_key(&id) {
                break;
            }
            self.deadlines.pop_front();
        }
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.deadlines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn answered_in_order_leave_the_queue_at_once() {
        let now = Instant::now();
        let mut waits = AckWaits::default();
        let mut receivers = Vec::new();
        for id in 0..1000 {
            let (tx, rx) = oneshot::channel::<u32>();
            receivers.push(rx);
            waits.insert(id, tx, Some(SECOND), now);
            if id >= 4 {
                assert!(waits.take(id - 4).is_some());
            }
        }
        assert_eq!(waits.queued(), 4);
        assert_eq!(waits.next_deadline(), Some(now + SECOND));
        assert!(waits.expire(now + SECOND / 2).is_empty());
        let expired = waits.expire(now + SECOND);
        assert_eq!(expired.len(), 4);
        assert!(expired.iter().all(|(_, timeout)| *timeout == SECOND));
        assert_eq!(waits.next_deadline(), None);
    }

    #[test]
    fn a_stuck_wait_expires_alone_and_the_queue_stays_bounded() {
        let now = Instant::now();
        let mut waits = AckWaits::default();
        let (stuck, _stuck_rx) = oneshot::channel::<u32>();
        waits.insert(0, stuck, Some(SECOND), now);
        let mut receivers = Vec::new();
        for id in 1..10_000 {
            let (tx, rx) = oneshot::channel::<u32>();
            receivers.push(rx);
            waits.insert(id, tx, Some(SECOND), now + Duration::from_micros(id));
            assert!(waits.take(id).is_some());
        }
        assert!(waits.queued() <= 2 * 2 + 64, "{}", waits.queued());
        let expired = waits.expire(now + 2 * SECOND);
        assert_eq!(expired.len(), 1);
        assert_eq!(waits.queued(), 0);
    }

    #[test]
    fn deadlines_stay_sorted_with_mixed_timeouts() {
        let now = Instant::now();
        let mut waits = AckWaits::default();
        let mut receivers = Vec::new();
        for (id, secs) in [(0, 5), (1, 1), (2, 3), (3, 1)] {
            let (tx, rx) = oneshot::channel::<u32>();
            receivers.push(rx);
            waits.insert(id, tx, Some(Duration::from_secs(secs)), now);
        }
        assert_eq!(waits.next_deadline(), Some(now + SECOND));
        assert_eq!(waits.expire(now + SECOND).len(), 2);
        assert_eq!(waits.next_deadline(), Some(now + 3 * SECOND));
        assert!(waits.take(2).is_some());
        assert_eq!(waits.next_deadline(), Some(now + 5 * SECOND));
    }

    #[test]
    fn without_timeout_nothing_is_queued() {
        let now = Instant::now();
        let mut waits = AckWaits::default();
        let (tx, _rx) = oneshot::channel::<u32>();
        waits.insert(7, tx, None, now);
        assert_eq!(waits.next_deadline(), None);
        assert!(waits.take(7).is_some());
        assert!(waits.take(7).is_none());
    }
}
