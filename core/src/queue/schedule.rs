//! When a deferred message is tried again and when the queue gives up (sans-IO): Postfix's
//! defaults — 5 minutes, doubling up to about 70 minutes between attempts, bounce after 5 days
//! (`minimal_backoff_time`, `maximal_backoff_time`, `maximal_queue_lifetime`) — configurable.

use std::time::Duration;

/// The retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the 1st, 2nd … failed attempt; the last value repeats.
    pub delays: Vec<Duration>,
    /// Age after which a message still deferred is bounced (expired).
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        RetryPolicy {
            delays: vec![min(5), min(10), min(20), min(40), min(70)],
            max_age: Duration::from_secs(5 * 86_400),
        }
    }
}

impl RetryPolicy {
    /// A short schedule for tests: every retry after `d`, give up after `max_age`.
    pub fn every(d: Duration, max_age: Duration) -> Self {
        RetryPolicy { delays: vec![d], max_age }
    }

    /// The wait after the `attempts`-th attempt (1-based) failed.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let i = (attempts.max(1) - 1) as usize;
        self.delays.get(i).or(self.delays.last()).copied().unwrap_or(Duration::from_secs(300))
    }

    /// True when a message created at `created_ms` is too old to retry at `now_ms`.
    pub fn expired(&self, created_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(created_ms) >= self.max_age.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_like_defaults() {
        let p = RetryPolicy::default();
        let mins: Vec<u64> = (1..=7).map(|a| p.delay_after(a).as_secs() / 60).collect();
        assert_eq!(mins, [5, 10, 20, 40, 70, 70, 70]);
        assert!(!p.expired(0, 4 * 86_400_000));
        assert!(p.expired(0, 5 * 86_400_000));
    }
}
