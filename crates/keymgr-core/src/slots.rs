//! A counting semaphore for blocking threads: at most `n` holders at once (the Argon2 slots
//! of the key manager, whose callers are not async).

/// A counting semaphore for blocking threads: at most `n` holders at once.
pub(crate) struct Slots {
    free: std::sync::Mutex<usize>,
    released: std::sync::Condvar,
}

/// A held slot, given back on drop.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    pub(crate) fn new(n: usize) -> Self {
        Self { free: std::sync::Mutex::new(n.max(1)), released: std::sync::Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn slots_bound_how_many_hold_at_once() {
        let slots = Arc::new(Slots::new(2));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (slots, now, most) = (Arc::clone(&slots), Arc::clone(&now), Arc::clone(&most));
                std::thread::spawn(move || {
                    let _slot = slots.acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Never more than two at once (how often two overlap depends on the scheduler).
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} held at once");
    }
}
