//! A token bucket: at most `per_minute` events in any burst, refilled evenly over a minute.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// A token bucket that admits `per_minute` events a minute, all of them at once after a quiet
/// minute. Real time (`Instant`), not the key manager's clock: it limits work, not validity.
pub struct TokenBucket {
    per_minute: u32,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, state: Mutex::new((f64::from(per_minute), Instant::now())) }
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *state;
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(f64::from(self.per_minute));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_admitted_then_refused_until_refilled() {
        let bucket = TokenBucket::new(3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.try_take_at(t0)), "the burst");
        assert!(!bucket.try_take_at(t0), "the fourth");
        assert!(!bucket.try_take_at(t0 + Duration::from_secs(19)), "not yet a token");
        assert!(bucket.try_take_at(t0 + Duration::from_secs(21)), "one token after 20 s");
        assert!(!bucket.try_take_at(t0 + Duration::from_secs(21)));
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| bucket.try_take_at(later)), "full again, never more");
        assert!(!bucket.try_take_at(later));
    }

    #[test]
    fn zero_per_minute_admits_nothing() {
        let bucket = TokenBucket::new(0);
        assert!(!bucket.try_take());
    }
}
