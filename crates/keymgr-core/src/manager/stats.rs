//! Health and statistics: the health of the database and keystore, cache counters, keys
//! about to expire, and the timer-driven eviction of expired cache entries.

use keymgr_model::KeyAlias;

use super::KeyManager;
use crate::KeymgrError;

/// Counters of one cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// Which cache.
    pub name: &'static str,
    /// Entries held now.
    pub entries: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the database or keystore.
    pub misses: u64,
}

/// The outcome of [`KeyManager::health`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The database answered.
    pub database: Result<(), String>,
    /// The keystore answered.
    pub keystore: Result<(), String>,
}

impl Health {
    /// Whether every part is up.
    pub fn is_up(&self) -> bool {
        self.database.is_ok() && self.keystore.is_ok()
    }
}

impl KeyManager {
    /// Drops cache entries past their time to live, above all unwrapped private keys (base
    /// keys and Ed25519 signing keys), so that a key not asked for again leaves memory on time
    /// rather than at the next lookup. The service calls this on a timer; returns how many
    /// private keys were dropped.
    pub fn evict_expired(&self) -> usize {
        self.current.evict_expired();
        self.by_thumbprint.evict_expired();
        self.policies.evict_expired();
        self.base_keys.evict_expired() + self.signing_keys.evict_expired()
    }

    /// How many unwrapped base keys are cached (for metrics and tests).
    pub fn cached_base_keys(&self) -> usize {
        self.base_keys.len()
    }

    /// Counters of the caches, for metrics.
    pub fn cache_stats(&self) -> Vec<CacheStats> {
        let stat = |name: &'static str, entries: usize, (hits, misses): (u64, u64)| CacheStats {
            name,
            entries,
            hits,
            misses,
        };
        vec![
            stat("current_certificate", self.current.len(), self.current.hits_and_misses()),
            stat("thumbprint", self.by_thumbprint.len(), self.by_thumbprint.hits_and_misses()),
            stat("base_private_key", self.base_keys.len(), self.base_keys.hits_and_misses()),
            stat("signing_private_key", self.signing_keys.len(), self.signing_keys.hits_and_misses()),
            stat("policy", self.policies.len(), self.policies.hits_and_misses()),
        ]
    }

    /// Checks the database and the keystore, as MOSIP's health check does; each part is `Ok`
    /// or a message for the operator.
    pub fn health(&self) -> Health {
        Health {
            database: self.db.health_check().map_err(|e| e.to_string()),
            keystore: self.keystore.health_check().map_err(|e| e.to_string()),
        }
    }

    /// Every key that expires, or reaches its rotation instant, before `now + days`, for
    /// metrics and the operator's report.
    pub fn keys_expiring_within(&self, days: i64) -> Result<Vec<KeyAlias>, KeymgrError> {
        let now = self.clock.now();
        let horizon = now.plus_days(days);
        Ok(self
            .db
            .all_aliases()?
            .into_iter()
            .filter(|a| a.expires_at > now && a.expires_at <= horizon)
            .collect())
    }
}
