//! Admission control: a budget of requests and of request-body bytes in flight, and the
//! bounded queue in front of Argon2. Refusals are immediate (503 or 429), never a wait that
//! holds memory: a flood of large bodies is turned away before its bytes are read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{ApiError, Limits};

/// Bytes are budgeted in units of this many bytes (semaphore permits are counted in `u32`).
const UNIT: usize = 1024;

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// The in-flight budgets of requests (overall and per caller) and of body bytes.
pub(crate) struct Admission {
    requests: Arc<Semaphore>,
    max_requests: usize,
    per_caller: Arc<Mutex<HashMap<String, usize>>>,
    max_per_caller: usize,
    byte_units: Arc<Semaphore>,
    total_units: usize,
}

/// A request admitted; its places are given back on drop.
pub(crate) struct Admitted {
    _place: OwnedSemaphorePermit,
    caller: String,
    per_caller: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.per_caller.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.caller) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.caller);
            }
        }
    }
}

/// Body bytes reserved for one request; given back on drop.
pub(crate) struct BytesHeld {
    permit: Option<OwnedSemaphorePermit>,
    units: usize,
}

/// What a request holds of the budgets, shared by the work on the blocking pool and the
/// answer on its way out, and given back when both are done: a request that timed out keeps
/// its share while its work still runs.
pub(crate) struct Ticket {
    _admitted: Admitted,
    _bytes: BytesHeld,
}

impl Ticket {
    pub(crate) fn new(admitted: Admitted, bytes: BytesHeld) -> Arc<Self> {
        Arc::new(Self { _admitted: admitted, _bytes: bytes })
    }
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Self {
        let total_units = units(limits.max_in_flight_bytes).max(1);
        Self {
            requests: Arc::new(Semaphore::new(limits.max_in_flight_requests.max(1))),
            max_requests: limits.max_in_flight_requests.max(1),
            per_caller: Arc::new(Mutex::new(HashMap::new())),
            max_per_caller: limits.max_in_flight_per_caller.max(1),
            byte_units: Arc::new(Semaphore::new(total_units)),
            total_units,
        }
    }

    /// A place for one more request of `caller`, or 503 at once: over the overall budget, or
    /// over the caller's share of it (one token cannot take every place).
    pub(crate) fn admit(&self, caller: &str) -> Result<Admitted, ApiError> {
        let busy = |why: &str| ApiError::Busy(why.into());
        let place = Arc::clone(&self.requests)
            .try_acquire_owned()
            .map_err(|_| busy("too many requests in flight"))?;
        let mut counts = self.per_caller.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(caller.to_owned()).or_insert(0);
        if *n >= self.max_per_caller {
            return Err(busy("too many requests in flight for this caller"));
        }
        *n += 1;
        drop(counts);
        Ok(Admitted { _place: place, caller: caller.to_owned(), per_caller: Arc::clone(&self.per_caller) })
    }

    /// Refuses at once (503) a body of `declared` bytes that cannot fit the byte budget now;
    /// nothing is reserved until bytes arrive.
    pub(crate) fn check_declared(&self, declared: usize) -> Result<(), ApiError> {
        if units(declared) > self.byte_units.available_permits() {
            return Err(ApiError::Busy("too many request bytes in flight".into()));
        }
        Ok(())
    }

    /// An empty reservation, grown with [`BytesHeld::grow_to`] as bytes arrive.
    pub(crate) fn no_bytes(&self) -> BytesHeld {
        BytesHeld { permit: None, units: 0 }
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
        let permit = Arc::clone(&admission.byte_units).try_acquire_many_owned(extra).or_else(|_| {
            // Near the end of the budget: take exactly what is needed.
            let exact = u32::try_from(wanted - self.units).map_err(|_| busy())?;
            Arc::clone(&admission.byte_units).try_acquire_many_owned(exact).map_err(|_| busy())
        })?;
        let got = permit.num_permits();
        match &mut self.permit {
            Some(p) => p.merge(permit),
            None => self.permit = Some(permit),
        }
        self.units += got;
        if wanted > self.units { Err(busy()) } else { Ok(()) }
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
        let one = a.admit("a").unwrap();
        let _two = a.admit("b").unwrap();
        assert!(matches!(a.admit("c"), Err(ApiError::Busy(_))));
        drop(one);
        assert!(a.admit("c").is_ok());
    }

    #[test]
    fn one_caller_cannot_take_every_place() {
        let a = Admission::new(&Limits { max_in_flight_per_caller: 2, ..limits(10, 1 << 20) });
        let first = a.admit("mallory").unwrap();
        let _second = a.admit("mallory").unwrap();
        assert!(matches!(a.admit("mallory"), Err(ApiError::Busy(_))), "over the caller's share");
        assert!(a.admit("regproc").is_ok(), "others still get in");
        drop(first);
        assert!(a.admit("mallory").is_ok());
    }

    #[test]
    fn bytes_are_reserved_as_they_arrive_and_come_back() {
        let a = Admission::new(&limits(10, 1 << 20));
        a.check_declared(1 << 20).unwrap();
        assert!(matches!(a.check_declared((1 << 20) + 1), Err(ApiError::Busy(_))));
        let mut big = a.no_bytes();
        big.grow_to(&a, 700 * 1024).unwrap();
        assert!(matches!(a.check_declared(400 * 1024), Err(ApiError::Busy(_))), "declared, not yet sent");
        let mut streamed = a.no_bytes();
        streamed.grow_to(&a, 200 * 1024).unwrap();
        assert!(matches!(streamed.grow_to(&a, 400 * 1024), Err(ApiError::Busy(_))));
        drop(big);
        drop(streamed);
        assert_eq!(a.in_use().1, 0);
        let mut all = a.no_bytes();
        all.grow_to(&a, 1 << 20).unwrap();
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
