//! Admission control: a budget of requests and of request-body bytes in flight, and the
//! bounded queue in front of Argon2. Refusals are immediate (503 or 429), never a wait that
//! holds memory: a flood of large bodies is turned away before its bytes are read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{ApiError, Limits};

/// Bytes are budgeted in units of this many bytes (semaphore permits are counted in `u32`).
const UNIT: usize = 1024;

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// The in-flight budgets of requests and of body bytes.
pub(crate) struct Admission {
    requests: Arc<Semaphore>,
    max_requests: usize,
    byte_units: Arc<Semaphore>,
    total_units: usize,
}

/// A request admitted; its place is given back on drop.
pub(crate) struct Admitted {
    _place: OwnedSemaphorePermit,
}

/// Body bytes reserved for one request; given back on drop.
pub(crate) struct BytesHeld {
    permit: Option<OwnedSemaphorePermit>,
    units: usize,
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Self {
        let total_units = units(limits.max_in_flight_bytes).max(1);
        Self {
            requests: Arc::new(Semaphore::new(limits.max_in_flight_requests.max(1))),
            max_requests: limits.max_in_flight_requests.max(1),
            byte_units: Arc::new(Semaphore::new(total_units)),
            total_units,
        }
    }

    /// A place for one more request, or 503 at once.
    pub(crate) fn admit(&self) -> Result<Admitted, ApiError> {
        Arc::clone(&self.requests)
            .try_acquire_owned()
            .map(|place| Admitted { _place: place })
            .map_err(|_| ApiError::Busy("too many requests in flight".into()))
    }

    /// Reserves `bytes` of body budget, or 503 at once.
    pub(crate) fn reserve_bytes(&self, bytes: usize) -> Result<BytesHeld, ApiError> {
        let mut held = BytesHeld { permit: None, units: 0 };
        held.grow_to(self, bytes)?;
        Ok(held)
    }

    /// Requests in flight and body bytes reserved, for the metrics.
    pub(crate) fn in_use(&self) -> (usize, usize) {
        (
            self.max_requests - self.requests.available_permits(),
            (self.total_units - self.byte_units.available_permits()) * UNIT,
        )
    }
}

impl BytesHeld {
    /// Grows the reservation to cover `bytes`, or 503 at once.
    pub(crate) fn grow_to(&mut self, admission: &Admission, bytes: usize) -> Result<(), ApiError> {
        let wanted = units(bytes);
        if wanted <= self.units {
            return Ok(());
        }
        // Reserve ahead in steps of 64 KiB so that a streamed body takes few semaphore trips.
        let step = wanted.max(self.units + 64).min(admission.total_units);
        let more = step.saturating_sub(self.units);
        let busy = || ApiError::Busy("too many request bytes in flight".into());
        let extra = u32::try_from(more).map_err(|_| busy())?;
        let permit = Arc::clone(&admission.byte_units).try_acquire_many_owned(extra).map_err(|_| busy())?;
        match &mut self.permit {
            Some(p) => p.merge(permit),
            None => self.permit = Some(permit),
        }
        self.units = step;
        if wanted > step { Err(busy()) } else { Ok(()) }
    }
}

/// The gate in front of Argon2: `running` hashes at once, at most `max_waiting` waiting for a
/// slot; a waiter whose request times out leaves the queue and its hash never runs.
pub(crate) struct HashGate {
    running: Arc<Semaphore>,
    slots: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// One place in the queue, left on drop (also when the waiting future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashGate {
    pub(crate) fn new(running: usize, max_waiting: usize) -> Self {
        let slots = running.max(1);
        Self { running: Arc::new(Semaphore::new(slots)), slots, waiting: AtomicUsize::new(0), max_waiting }
    }

    /// A slot to hash in: at once if one is free, else after a wait in the queue, or 429 when
    /// the queue is full.
    pub(crate) async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(slot) = Arc::clone(&self.running).try_acquire_owned() {
            return Ok(slot);
        }
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _place = Waiting(&self.waiting);
        if before >= self.max_waiting {
            return Err(ApiError::TooManyRequests("too many Argon2 hashes waiting".into()));
        }
        Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("the Argon2 gate is closed".into()))
    }

    /// Hashes running and hashes waiting, for the metrics.
    pub(crate) fn load(&self) -> (usize, usize) {
        (self.slots - self.running.available_permits(), self.waiting.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(requests: usize, bytes: usize) -> Limits {
        Limits { max_in_flight_requests: requests, max_in_flight_bytes: bytes, ..Limits::default() }
    }

    #[test]
    fn requests_over_the_budget_are_refused_and_places_come_back() {
        let a = Admission::new(&limits(2, 1 << 20));
        let one = a.admit().unwrap();
        let _two = a.admit().unwrap();
        assert!(matches!(a.admit(), Err(ApiError::Busy(_))));
        drop(one);
        assert!(a.admit().is_ok());
    }

    #[test]
    fn bytes_over_the_budget_are_refused_and_come_back() {
        let a = Admission::new(&limits(10, 1 << 20));
        let big = a.reserve_bytes(700 * 1024).unwrap();
        assert!(matches!(a.reserve_bytes(400 * 1024), Err(ApiError::Busy(_))));
        let mut streamed = a.reserve_bytes(0).unwrap();
        streamed.grow_to(&a, 200 * 1024).unwrap();
        assert!(matches!(streamed.grow_to(&a, 400 * 1024), Err(ApiError::Busy(_))));
        drop(big);
        drop(streamed);
        assert_eq!(a.in_use().1, 0);
        assert!(a.reserve_bytes(1 << 20).is_ok());
    }

    #[tokio::test]
    async fn the_hash_queue_is_bounded_and_a_dropped_waiter_leaves_it() {
        let gate = Arc::new(HashGate::new(1, 1));
        let running = gate.enter().await.unwrap();
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter().await.map(drop) });
        while gate.load().1 == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.enter().await, Err(ApiError::TooManyRequests(_))), "queue full");
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(gate.load(), (1, 0), "the aborted waiter left the queue");
        drop(running);
        assert_eq!(gate.load(), (0, 0));
    }
}
