//! Key states and their transitions (ours; MOSIP has only validity dates).
//!
//! A key's state is stored in `keymgr_key_state` only when an operator gave it one
//! (deactivated early, compromised, destroyed); otherwise its dates decide: pre-active before
//! its generation instant, active until it expires, deactivated after. [`transition_allowed`]
//! is the one place that says which changes are allowed; [`KeyManager::set_key_state`] makes
//! them under the pair's generation lock, expiring the key at once when it leaves use, and
//! audits each in the same transaction.
//!
//! Each manager keeps the stored states in memory, re-read when another replica changed them
//! (checked every [`LifecycleSettings::state_check_interval`]); its own changes apply at once.
//! Encrypt and sign use only keys without a stored state; decrypt refuses destroyed keys
//! (`KER-KMS-410`) and compromised ones (`KER-KMS-423`) unless the operator opened a recovery
//! window, in which each use is audited.
//!
//! [`LifecycleSettings::state_check_interval`]: super::config::LifecycleSettings

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use keymgr_db::{AuditEntry, KeyStateRecord};
use keymgr_model::{KeyAlias, KeyRef, KeyState, Thumbprint, UtcTime};

use super::{EXPIRE_NOW, KeyManager};
use crate::KeymgrError;

/// Whether a key in state `from` may be moved to `to`. Active and pre-active are never set:
/// they follow from the dates. A compromised key may be marked compromised again (to open or
/// close its recovery window); nothing leaves destroyed.
pub fn transition_allowed(from: KeyState, to: KeyState) -> bool {
    use KeyState::{Active, Compromised, Deactivated, Destroyed, PreActive};
    matches!(
        (from, to),
        (PreActive | Active, Deactivated)
            | (PreActive | Active | Deactivated | Compromised, Compromised)
            | (Deactivated | Compromised, Destroyed)
    )
}

/// A key's state as the dates give it, when no state is stored.
pub fn dated_state(key: &KeyAlias, now: UtcTime) -> KeyState {
    if now < key.generated_at {
        KeyState::PreActive
    } else if now < key.expires_at {
        KeyState::Active
    } else {
        KeyState::Deactivated
    }
}

/// A key and where it stands.
#[derive(Debug, Clone)]
pub struct KeyStatus {
    /// The key.
    pub key: KeyAlias,
    /// Its state now.
    pub state: KeyState,
    /// The stored state's record, when an operator set one.
    pub record: Option<KeyStateRecord>,
}

/// What opening data with a compromised key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IfCompromised {
    /// An operator's recovery window (`/decrypt`, `/jwtDecrypt`, `/rewrap` with
    /// `acceptCompromised`).
    RecoveryWindow,
    /// Never (`/rewrap` without `acceptCompromised`).
    Refuse,
}

/// The stored states as last read: by alias, and the thumbprints of the compromised keys (so a
/// signature check can refuse one without a query).
#[derive(Default)]
pub(super) struct StateSnapshot {
    pub states: HashMap<String, KeyStateRecord>,
    pub compromised: HashSet<Thumbprint>,
}

/// The snapshot, its version (`None` until a first read succeeded) and when it was checked.
#[derive(Default)]
pub(super) struct StateCache {
    checked: Option<Instant>,
    version: Option<i64>,
    snapshot: Arc<StateSnapshot>,
}

impl StateCache {
    /// Makes the next read load the states from the database, whatever the interval.
    pub(super) fn expire(&mut self) {
        self.checked = None;
        self.version = None;
    }
}

/// What a state change writes besides the state: why, who, a recovery window, a tombstone.
pub(super) struct StateChange<'a> {
    pub to: KeyState,
    pub reason: &'a str,
    pub who: &'a str,
    pub recovery_until: Option<UtcTime>,
    pub certificate: Option<String>,
}

/// Longest reason kept with a state (the column holds 1,024 characters).
const MAX_REASON_CHARS: usize = 512;

/// Longest recovery window an operator may open at once.
pub const MAX_RECOVERY_WINDOW: time::Duration = time::Duration::days(30);

impl KeyManager {
    /// The stored states, re-read when the check interval passed and their version moved
    /// (another manager changed them). Fails closed: until one read succeeded, a database
    /// failure is an error, never an empty set; after that the last copy serves until the
    /// next check.
    pub(super) fn stored_states(&self) -> Result<Arc<StateSnapshot>, KeymgrError> {
        let interval = self.config.lifecycle.state_check_interval;
        let (due, known, snapshot) = {
            let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = cache.version.is_none() || cache.checked.is_none_or(|at| at.elapsed() >= interval);
            if due {
                // Claim the check, so that concurrent callers use the copy meanwhile.
                cache.checked = Some(Instant::now());
            }
            (due, cache.version, Arc::clone(&cache.snapshot))
        };
        if !due {
            return Ok(snapshot);
        }
        let loaded = self.db.key_state_version().and_then(|version| {
            if Some(version) == known {
                return Ok(None);
            }
            // The version is read first: a change in between makes the next check re-read.
            Ok(Some((version, self.db.key_states()?)))
        });
        match loaded {
            Ok(None) => Ok(snapshot),
            Ok(Some((version, rows))) => {
                let mut fresh = StateSnapshot::default();
                for r in rows {
                    if r.state == KeyState::Compromised
                        && let Some(t) = self.db.alias(&r.alias)?.and_then(|a| a.thumbprint)
                    {
                        fresh.compromised.insert(t);
                    }
                    fresh.states.insert(r.alias.clone(), r);
                }
                let fresh = Arc::new(fresh);
                let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.version = Some(version);
                cache.snapshot = Arc::clone(&fresh);
                Ok(fresh)
            }
            Err(e) => {
                let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.checked = None;
                match cache.version {
                    Some(_) => Ok(snapshot),
                    None => Err(e.into()),
                }
            }
        }
    }

    /// Makes the next [`Self::stored_states`] re-read the table.
    pub(super) fn invalidate_states(&self) {
        let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.checked = None;
        if cache.version.is_some() {
            cache.version = Some(-1);
        }
    }

    /// Whether new data may be sealed or signed with `alias`: it has no stored state (and the
    /// states could be read).
    pub(super) fn usable_for_new_data(&self, alias: &str) -> bool {
        self.stored_states().is_ok_and(|s| !s.states.contains_key(alias))
    }

    /// Whether `certificate` is the certificate of one of this manager's keys that is
    /// compromised: a signature under it proves nothing.
    pub(super) fn is_compromised_certificate(
        &self,
        certificate: &keymgr_crypto::Certificate,
    ) -> Result<bool, KeymgrError> {
        Ok(self.stored_states()?.compromised.contains(&certificate.thumbprint()))
    }

    /// The state of `key` now.
    pub fn key_state(&self, key: &KeyAlias) -> Result<KeyState, KeymgrError> {
        Ok(match self.stored_states()?.states.get(&key.alias) {
            Some(r) => r.state,
            None => dated_state(key, self.clock.now()),
        })
    }

    /// The keys of `key_ref` (every key when `None`) with their states, in generation order.
    pub fn key_statuses(&self, key_ref: Option<&KeyRef>) -> Result<Vec<KeyStatus>, KeymgrError> {
        let keys = match key_ref {
            Some(r) => self.db.aliases_for(r)?,
            None => self.db.all_aliases()?,
        };
        let stored = self.stored_states()?;
        let now = self.clock.now();
        Ok(keys
            .into_iter()
            .map(|key| {
                let record = stored.states.get(&key.alias).cloned();
                let state = record.as_ref().map_or_else(|| dated_state(&key, now), |r| r.state);
                KeyStatus { key, state, record }
            })
            .collect())
    }

    /// Refuses to open data with `key` when it is destroyed (`KER-KMS-410`), or compromised
    /// (`KER-KMS-423`) unless `if_compromised` is [`IfCompromised::RecoveryWindow`] and the
    /// operator's window is open; such a use is audited with `user` and `purpose`. Answers
    /// the key's state.
    pub(super) fn admit_decrypt(
        &self,
        key: &KeyAlias,
        user: &str,
        purpose: &str,
        if_compromised: IfCompromised,
    ) -> Result<KeyState, KeymgrError> {
        let stored = self.stored_states()?;
        let Some(record) = stored.states.get(&key.alias) else {
            return Ok(dated_state(key, self.clock.now()));
        };
        match record.state {
            KeyState::Destroyed => Err(KeymgrError::KeyDestroyed),
            KeyState::Compromised => {
                let now = self.clock.now();
                let until = match (if_compromised, record.recovery_until) {
                    (IfCompromised::RecoveryWindow, Some(until)) if now < until => until,
                    _ => return Err(KeymgrError::KeyCompromised),
                };
                self.db.append_audit(&AuditEntry {
                    time: now,
                    actor: user.to_owned(),
                    action: "compromised_key_used".into(),
                    app_id: Some(key.key_ref.app.to_string()),
                    ref_id: Some(key.key_ref.reference.to_string()),
                    key_alias: Some(key.alias.clone()),
                    detail: Some(format!("{purpose} in the recovery window until {until}")),
                })?;
                Ok(KeyState::Compromised)
            }
            other => Ok(other),
        }
    }

    /// Moves `key` to `change.to` if [`transition_allowed`] says so, under its pair's lock:
    /// a key leaving use (deactivated, compromised) is expired at once, so the next request
    /// makes its successor; the state and its audit row are written in the same transaction.
    /// Returns the state it left.
    pub(super) fn set_key_state(
        &self,
        key: &KeyAlias,
        change: StateChange<'_>,
    ) -> Result<KeyState, KeymgrError> {
        let now = self.clock.now();
        if change.reason.chars().count() > MAX_REASON_CHARS {
            return Err(KeymgrError::InvalidRequest(format!(
                "the reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        if let Some(until) = change.recovery_until
            && (until <= now || now.plus(MAX_RECOVERY_WINDOW) < until)
        {
            return Err(KeymgrError::InvalidRequest("a recovery window ends within 30 days from now".into()));
        }
        let result = self.db.with_generation_lock(&key.key_ref, |tx| {
            let current = tx.aliases_for(&key.key_ref)?.into_iter().find(|a| a.alias == key.alias);
            let Some(current) = current else {
                return Err(KeymgrError::NoUniqueAlias(format!("no key {}", key.alias)));
            };
            let stored = tx.key_state(&key.alias)?;
            let from = stored.as_ref().map_or_else(|| dated_state(&current, now), |r| r.state);
            if !transition_allowed(from, change.to) {
                return Err(KeymgrError::StateTransitionNotAllowed(format!(
                    "{} is {from}; it cannot become {}",
                    key.alias, change.to
                )));
            }
            if matches!(change.to, KeyState::Deactivated | KeyState::Compromised) && now < current.expires_at
            {
                tx.set_expiry(&key.alias, now.plus(-EXPIRE_NOW), change.who)?;
            }
            let record = KeyStateRecord {
                alias: key.alias.clone(),
                state: change.to,
                reason: Some(change.reason.to_owned()).filter(|r| !r.trim().is_empty()),
                // A recovery window opened on a compromised key keeps its response's progress.
                response_complete: change.to == KeyState::Compromised
                    && stored
                        .as_ref()
                        .is_some_and(|r| r.state == KeyState::Compromised && r.response_complete),
                recovery_until: change.recovery_until,
                certificate: change.certificate,
                updated_by: change.who.to_owned(),
                updated_at: now,
            };
            let pair = (Some(key.key_ref.app.to_string()), Some(key.key_ref.reference.to_string()));
            tx.put_key_state(&record, from, pair)?;
            Ok(from)
        });
        self.forget_pair(&key.key_ref);
        self.invalidate_states();
        result
    }

    /// Records that the compromise response of `key` finished (every key it wrapped
    /// re-wrapped, the pairs it certified rotated as asked), so the next response for the pair
    /// starts a new one instead of resuming this one.
    pub(super) fn finish_compromise_response(&self, key: &KeyAlias, who: &str) -> Result<(), KeymgrError> {
        let now = self.clock.now();
        let result = self.db.with_generation_lock(&key.key_ref, |tx| {
            let Some(mut record) = tx.key_state(&key.alias)? else { return Ok(()) };
            if record.state != KeyState::Compromised || record.response_complete {
                return Ok(());
            }
            record.response_complete = true;
            record.updated_by = who.to_owned();
            record.updated_at = now;
            let pair = (Some(key.key_ref.app.to_string()), Some(key.key_ref.reference.to_string()));
            tx.put_key_state(&record, KeyState::Compromised, pair).map_err(KeymgrError::from)
        });
        self.invalidate_states();
        result
    }

    /// Deactivates `alias` before its expiry: it stops encrypting and signing at once (its pair
    /// gets a successor on next use) and still decrypts and verifies.
    pub fn deactivate_key(&self, alias: &str, reason: &str, who: &str) -> Result<KeyState, KeymgrError> {
        let key = self.key_by_alias(alias)?;
        self.set_key_state(
            &key,
            StateChange { to: KeyState::Deactivated, reason, who, recovery_until: None, certificate: None },
        )
    }

    /// Opens (or, with `until` `None`, closes) the recovery window of the compromised key
    /// `alias`: until then it may decrypt, each use audited.
    pub fn set_recovery_window(
        &self,
        alias: &str,
        until: Option<UtcTime>,
        reason: &str,
        who: &str,
    ) -> Result<(), KeymgrError> {
        let key = self.key_by_alias(alias)?;
        if self.key_state(&key)? != KeyState::Compromised {
            return Err(KeymgrError::StateTransitionNotAllowed(format!(
                "{alias} is not compromised; only a compromised key has a recovery window"
            )));
        }
        self.set_key_state(
            &key,
            StateChange { to: KeyState::Compromised, reason, who, recovery_until: until, certificate: None },
        )?;
        Ok(())
    }

    /// The `key_alias` row `alias` (`KER-KMS-003` when there is none).
    pub(super) fn key_by_alias(&self, alias: &str) -> Result<KeyAlias, KeymgrError> {
        self.db.alias(alias.trim())?.ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key {alias}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table() {
        use KeyState::*;
        let allowed: Vec<(KeyState, KeyState)> = KeyState::ALL
            .into_iter()
            .flat_map(|f| KeyState::ALL.into_iter().map(move |t| (f, t)))
            .filter(|(f, t)| transition_allowed(*f, *t))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (PreActive, Deactivated),
                (PreActive, Compromised),
                (Active, Deactivated),
                (Active, Compromised),
                (Deactivated, Compromised),
                (Deactivated, Destroyed),
                (Compromised, Compromised),
                (Compromised, Destroyed),
            ]
        );
    }
}
