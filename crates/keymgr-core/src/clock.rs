//! Where the key manager's time comes from.

use std::sync::Mutex;

use keymgr_model::UtcTime;

/// A source of the current instant. Every decision by time asks the clock, so tests can walk
/// through years.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> UtcTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UtcTime {
        UtcTime::now()
    }
}

/// A clock that stands still until moved, for tests and drills.
#[derive(Debug)]
pub struct ManualClock(Mutex<UtcTime>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: UtcTime) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: UtcTime) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now.plus(d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UtcTime {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
