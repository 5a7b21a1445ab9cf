//! The reconnection delays of the JavaScript client: exponential, capped, with jitter.

use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Backoff {
    min: f64,
    max: f64,
    jitter: f64,
    /// Delays handed out since the last reset: the number of the attempt to come.
    pub(crate) attempts: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, jitter: f64) -> Backoff {
        Backoff {
            min: min.as_millis() as f64,
            max: max.as_millis() as f64,
            jitter,
            attempts: 0,
        }
    }

    /// The next delay: `min * 2^attempts`, moved up or down by up to `jitter` of itself,
    /// then capped at `max` (the order socket.io-client applies them in).
    pub(crate) fn duration(&mut self) -> Duration {
        let mut ms = self.min * 2f64.powi(self.attempts.min(64) as i32);
        self.attempts = self.attempts.saturating_add(1);
        if self.jitter > 0.0 {
            let rand: f64 = rand::random();
            let deviation = (rand * self.jitter * ms).floor();
            ms = if ((rand * 10.0).floor() as u64) & 1 == 0 {
                ms - deviation
            } else {
                ms + deviation
            };
        }
        Duration::from_millis(ms.min(self.max).max(0.0) as u64)
    }

    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_without_jitter() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 0.0);
        let delays: Vec<u64> = (0..5)
            .map(|_| backoff.duration().as_millis() as u64)
            .collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        assert_eq!(backoff.attempts, 5);
        backoff.reset();
        assert_eq!(backoff.duration(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_its_factor() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 0.5);
        for _ in 0..100 {
            backoff.reset();
            let delay = backoff.duration().as_millis();
            assert!((500..=1500).contains(&delay), "{delay}");
        }
    }
}
