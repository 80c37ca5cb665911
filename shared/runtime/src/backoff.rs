//! Exponential backoff with full jitter, for every reconnecting loop of both binaries.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Exponential backoff with full jitter, 200 ms to 15 s.
#[derive(Debug)]
pub struct Backoff {
    attempt: u32,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { attempt: 0, seed: (crate::clock::now_ms() as u64) | 1 }
    }

    /// The next wait: half the cap, plus a random part of the other half.
    pub fn next_delay(&mut self) -> Duration {
        let cap = (200u64 << self.attempt.min(7)).min(15_000);
        self.attempt += 1;
        // xorshift for the jitter: no need for a cryptographic source here.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        Duration::from_millis(cap / 2 + self.seed % (cap / 2 + 1))
    }

    /// Waits before the next attempt (or until cancelled), saying why.
    pub async fn pause(&mut self, cancel: &CancellationToken, what: &str, error: &str) {
        let wait = self.next_delay();
        tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "{what}");
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    /// Back to the shortest wait (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_reset() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200), "{first:?}");
        for _ in 0..20 {
            let w = b.next_delay();
            assert!(w <= Duration::from_millis(15_000), "{w:?}");
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_millis(7_500), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }
}
