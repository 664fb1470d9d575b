//! A bounded cache with least-recently-used eviction and a time to live.
//!
//! Dropping an entry drops its value: the unwrapped base keys it holds are freed by aws-lc,
//! which cleanses key material on free.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

struct Entry<V> {
    value: V,
    inserted: Instant,
    used: u64,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    tick: u64,
}

/// At most `capacity` entries, each kept at most `ttl` (real time). Capacity 0 turns it off.
pub struct BoundedCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    capacity: usize,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    /// An empty cache.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner { map: HashMap::new(), tick: 0 }),
            capacity,
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `key`, unless absent or older than the time to live.
    pub fn get(&self, key: &K) -> Option<V> {
        let found = self.lookup(key);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Lookups that found a value and lookups that did not, since the cache was made.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    fn lookup(&self, key: &K) -> Option<V> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let expired = match inner.map.get_mut(key) {
            None => return None,
            Some(e) if e.inserted.elapsed() > self.ttl => true,
            Some(e) => {
                e.used = tick;
                return Some(e.value.clone());
            }
        };
        if expired {
            inner.map.remove(key);
        }
        None
    }

    /// Stores `value` under `key`, evicting the least recently used entry when full.
    pub fn insert(&self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.map.contains_key(&key) && inner.map.len() >= self.capacity {
            let oldest = inner.map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.map.remove(&oldest);
            }
        }
        inner.map.insert(key, Entry { value, inserted: Instant::now(), used: tick });
    }

    /// Drops the entry for `key`.
    pub fn remove(&self, key: &K) {
        self.lock().map.remove(key);
    }

    /// Drops every entry for which `keep` is false.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.lock().map.retain(|k, e| keep(k, &e.value));
    }

    /// Drops every entry older than the time to live; returns how many were dropped.
    pub fn evict_expired(&self) -> usize {
        let mut inner = self.lock();
        let before = inner.map.len();
        inner.map.retain(|_, e| e.inserted.elapsed() <= self.ttl);
        before - inner.map.len()
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_expires() {
        let c = BoundedCache::new(2, Duration::from_secs(60));
        c.insert("a", 1);
        c.insert("b", 2);
        assert_eq!(c.get(&"a"), Some(1));
        c.insert("c", 3);
        assert_eq!(c.get(&"b"), None, "b was least recently used");
        assert_eq!((c.get(&"a"), c.get(&"c")), (Some(1), Some(3)));
        c.remove(&"a");
        assert_eq!(c.len(), 1);

        let short = BoundedCache::new(2, Duration::from_millis(1));
        short.insert("x", 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.get(&"x"), None);

        short.insert("y", 2);
        short.insert("z", 3);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.evict_expired(), 2, "expired entries go without a lookup");
        assert_eq!(short.len(), 0);

        let off = BoundedCache::new(0, Duration::from_secs(60));
        off.insert("x", 1);
        assert_eq!(off.get(&"x"), None);
    }
}
