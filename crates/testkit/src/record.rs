//! [`recorder`]: a channel that handlers on the server write to and the test reads from.

use std::fmt;
use std::time::Duration;

use tokio::sync::mpsc;

/// A channel for what server-side handlers observe: clone the [`Recorder`] into handlers, read
/// the [`Records`] in the test.
///
/// ```
/// # async fn run() {
/// let (recorder, mut records) = sockeye_testkit::recorder::<&str>();
/// recorder.record("connected");
/// assert_eq!(records.next().await, "connected");
/// # }
/// ```
pub fn recorder<T>() -> (Recorder<T>, Records<T>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Recorder(sender), Records(receiver))
}

/// The writing end of [`recorder`]. Cheap to clone.
pub struct Recorder<T>(mpsc::UnboundedSender<T>);

impl<T> Clone for Recorder<T> {
    fn clone(&self) -> Self {
        Recorder(self.0.clone())
    }
}

impl<T> Recorder<T> {
    /// Records a value (dropped silently once the test is gone).
    pub fn record(&self, value: T) {
        let _ = self.0.send(value);
    }
}

impl<T> fmt::Debug for Recorder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recorder")
    }
}

/// The reading end of [`recorder`].
pub struct Records<T>(mpsc::UnboundedReceiver<T>);

impl<T> Records<T> {
    /// The next value, waiting up to [`crate::WAIT`].
    ///
    /// # Panics
    /// When nothing is recorded in time.
    pub async fn next(&mut self) -> T {
        match self.next_within(crate::WAIT).await {
            Some(value) => value,
            None => panic!("nothing recorded within {:?}", crate::WAIT),
        }
    }

    /// The next value, or `None` when nothing comes within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<T> {
        tokio::time::timeout(timeout, self.0.recv())
            .await
            .ok()
            .flatten()
    }

    /// A value already recorded, without waiting.
    pub fn try_next(&mut self) -> Option<T> {
        self.0.try_recv().ok()
    }

    /// Every value already recorded.
    pub fn drain(&mut self) -> Vec<T> {
        std::iter::from_fn(|| self.try_next()).collect()
    }
}

impl<T: fmt::Debug> Records<T> {
    /// Checks that nothing is recorded for `timeout`.
    ///
    /// # Panics
    /// When something is.
    pub async fn expect_none(&mut self, timeout: Duration) {
        if let Some(value) = self.next_within(timeout).await {
            panic!("unexpected record: {value:?}");
        }
    }
}

impl<T> fmt::Debug for Records<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Records")
    }
}
