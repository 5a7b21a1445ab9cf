//! The retry queue of [`crate::ClientBuilder::retries`], as socket.io-client 4.x keeps it:
//! every emit of a namespace waits in one queue, only the head is on the wire, and the head
//! is sent again until the server acknowledges it or its tries run out. Delivery is at least
//! once, in order.
//!
//! Sans-IO: the driver passes `now` in, sends what [`RetryQueue::transmit`] hands out, and
//! tells the queue about acknowledgements, timers and lost connections.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// One queued emit: `item` is what the driver sends and answers (the encoded packet and the
/// caller's acknowledgement); `id` is the packet's ack id, the same on every try so that a
/// late acknowledgement of an earlier try still counts.
#[derive(Debug)]
struct Queued<T> {
    item: T,
    id: u64,
    /// Tries after the first: the packet is sent at most `retries + 1` times.
    retries: u32,
    /// Per try; `None` waits for the acknowledgement or a lost connection.
    timeout: Option<Duration>,
    tries: u32,
    /// `Some` while the head is on the wire and waits with a timeout.
    deadline: Option<Instant>,
    in_flight: bool,
}

/// Why a queued emit was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GaveUp {
    /// Its last try got no acknowledgement within this timeout.
    Timeout(Duration),
    /// Its last try was on a connection that was lost.
    Disconnected,
}

#[derive(Debug)]
pub(crate) struct RetryQueue<T> {
    queue: VecDeque<Queued<T>>,
}

impl<T> Default for RetryQueue<T> {
    fn default() -> Self {
        RetryQueue {
            queue: VecDeque::new(),
        }
    }
}

impl<T> RetryQueue<T> {
    pub(crate) fn push(&mut self, item: T, id: u64, retries: u32, timeout: Option<Duration>) {
        self.queue.push_back(Queued {
            item,
            id,
            retries,
            timeout,
            tries: 0,
            deadline: None,
            in_flight: false,
        });
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The head to put on the wire now, if it is not there already; call it whenever the
    /// socket is connected and after every other call.
    pub(crate) fn transmit(&mut self, now: Instant) -> Option<&T> {
        let head = self.queue.front_mut()?;
        if head.in_flight {
            return None;
        }
        head.in_flight = true;
        head.tries = head.tries.saturating_add(1);
        head.deadline = head.timeout.map(|timeout| now + timeout);
        Some(&head.item)
    }

    /// When the head's try times out.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.queue.front().and_then(|head| head.deadline)
    }

    /// An acknowledgement with `id`: the head, done, if it is the head's.
    pub(crate) fn acknowledged(&mut self, id: u64) -> Option<T> {
        if self.queue.front()?.id != id {
            return None;
        }
        self.queue.pop_front().map(|head| head.item)
    }

    /// The head's try is over at `now` if its deadline has passed; the head is given up
    /// when that was its last try.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<(T, GaveUp)> {
        let head = self.queue.front_mut()?;
        let (Some(deadline), Some(timeout)) = (head.deadline, head.timeout) else {
            return None;
        };
        if now < deadline {
            return None;
        }
        self.end_try(GaveUp::Timeout(timeout))
    }

    /// The connection is gone: a try on the wire failed, as socket.io-client counts it; the
    /// rest waits for the next connection.
    pub(crate) fn disconnected(&mut self) -> Option<(T, GaveUp)> {
        if !self.queue.front()?.in_flight {
            return None;
        }
        self.end_try(GaveUp::Disconnected)
    }

    fn end_try(&mut self, why: GaveUp) -> Option<(T, GaveUp)> {
        let head = self.queue.front_mut()?;
        head.in_flight = false;
        head.deadline = None;
        if head.tries <= head.retries {
            return None;
        }
        self.queue.pop_front().map(|head| (head.item, why))
    }

    /// Everything, for a socket that is disconnected for good.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.queue.drain(..).map(|queued| queued.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(100);

    #[test]
    fn only_the_head_is_in_flight_and_an_ack_moves_on() {
        let now = Instant::now();
        let mut queue = RetryQueue::default();
        queue.push("a", 0, 2, Some(T));
        queue.push("b", 1, 2, Some(T));
        assert_eq!(queue.transmit(now), Some(&"a"));
        assert_eq!(queue.transmit(now), None);
        assert_eq!(queue.deadline(), Some(now + T));
        assert_eq!(queue.acknowledged(1), None, "not the head's id");
        assert_eq!(queue.acknowledged(0), Some("a"));
        assert_eq!(queue.transmit(now), Some(&"b"));
        assert_eq!(queue.acknowledged(1), Some("b"));
        assert_eq!(queue.transmit(now), None);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_timed_out_try_is_sent_again_until_the_retries_run_out() {
        let start = Instant::now();
        let mut queue = RetryQueue::default();
        queue.push("a", 7, 2, Some(T));
        queue.push("b", 8, 2, Some(T));
        let mut now = start;
        let mut sent = 0;
        let gave_up = loop {
            if queue.transmit(now).is_some() {
                sent += 1;
            }
            assert_eq!(queue.expire(now + T / 2), None, "before the deadline");
            now += T;
            if let Some(gave_up) = queue.expire(now) {
                break gave_up;
            }
        };
        assert_eq!(sent, 3, "the first try and two retries");
        assert_eq!(gave_up, ("a", GaveUp::Timeout(T)));
        assert_eq!(queue.transmit(now), Some(&"b"), "the next one proceeds");
    }

    #[test]
    fn a_late_ack_of_an_earlier_try_completes_the_packet() {
        let now = Instant::now();
        let mut queue = RetryQueue::default();
        queue.push("a", 4, 3, Some(T));
        queue.transmit(now);
        assert_eq!(queue.expire(now + T), None);
        assert_eq!(queue.transmit(now + T), Some(&"a"));
        assert_eq!(queue.acknowledged(4), Some("a"));
    }

    #[test]
    fn without_a_timeout_only_a_lost_connection_ends_a_try() {
        let now = Instant::now();
        let mut queue = RetryQueue::default();
        queue.push("a", 0, 1, None);
        assert_eq!(queue.disconnected(), None, "not sent yet: nothing to count");
        queue.transmit(now);
        assert_eq!(queue.deadline(), None);
        assert_eq!(queue.expire(now + Duration::from_secs(3600)), None);
        assert_eq!(queue.disconnected(), None, "one retry left");
        assert_eq!(queue.transmit(now), Some(&"a"), "sent again once connected");
        assert_eq!(queue.disconnected(), Some(("a", GaveUp::Disconnected)));
        assert!(queue.is_empty());
    }

    #[test]
    fn drain_hands_everything_back_in_order() {
        let mut queue = RetryQueue::default();
        queue.push(1, 0, 1, None);
        queue.push(2, 1, 1, None);
        queue.transmit(Instant::now());
        assert_eq!(queue.drain().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(queue.transmit(Instant::now()), None);
    }
}
