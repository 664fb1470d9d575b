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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use keymgr_db::{AuditEntry, KeyStateRecord};
use keymgr_model::{KeyAlias, KeyRef, KeyState, UtcTime};

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
    /// An operator's recovery window (`/decrypt`, `/jwtDecrypt`).
    RecoveryWindow,
    /// Nothing: the caller accepted it (`/rewrap` with `acceptCompromised`).
    Accept,
    /// Never (`/rewrap` without it).
    Refuse,
}

/// The stored states as last read, and when they were checked.
#[derive(Default)]
pub(super) struct StateCache {
    checked: Option<Instant>,
    stamp: (i64, Option<UtcTime>),
    states: Arc<HashMap<String, KeyStateRecord>>,
}

/// What a state change writes besides the state: why, who, a recovery window, a tombstone.
pub(super) struct StateChange<'a> {
    pub to: KeyState,
    pub reason: &'a str,
    pub who: &'a str,
    pub recovery_until: Option<UtcTime>,
    pub certificate: Option<String>,
}

impl KeyManager {
    /// The stored states, re-read when the check interval passed and another manager changed
    /// them. A database failure keeps the last copy (and tries again at the next call).
    pub(super) fn stored_states(&self) -> Arc<HashMap<String, KeyStateRecord>> {
        let interval = self.config.lifecycle.state_check_interval;
        let (due, last_stamp, states) = {
            let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = cache.checked.is_none_or(|at| at.elapsed() >= interval);
            if due {
                // Claim the check, so that concurrent callers use the copy meanwhile.
                cache.checked = Some(Instant::now());
            }
            (due, cache.stamp, Arc::clone(&cache.states))
        };
        if !due {
            return states;
        }
        let Ok(stamp) = self.db.key_state_stamp() else {
            self.invalidate_states();
            return states;
        };
        if stamp == last_stamp {
            return states;
        }
        match self.db.key_states() {
            Ok(rows) => {
                let fresh: Arc<HashMap<String, KeyStateRecord>> =
                    Arc::new(rows.into_iter().map(|r| (r.alias.clone(), r)).collect());
                self.store_states(stamp, Arc::clone(&fresh));
                fresh
            }
            Err(_) => {
                self.invalidate_states();
                states
            }
        }
    }

    fn store_states(&self, stamp: (i64, Option<UtcTime>), states: Arc<HashMap<String, KeyStateRecord>>) {
        let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.stamp = stamp;
        cache.states = states;
    }

    /// Makes the next [`Self::stored_states`] re-read the table.
    pub(super) fn invalidate_states(&self) {
        let mut cache = self.key_states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.checked = None;
        cache.stamp = (-1, None);
    }

    /// Whether new data may be sealed or signed with `alias`: it has no stored state.
    pub(super) fn usable_for_new_data(&self, alias: &str) -> bool {
        !self.stored_states().contains_key(alias)
    }

    /// The state of `key` now.
    pub fn key_state(&self, key: &KeyAlias) -> KeyState {
        match self.stored_states().get(&key.alias) {
            Some(r) => r.state,
            None => dated_state(key, self.clock.now()),
        }
    }

    /// The keys of `key_ref` (every key when `None`) with their states, in generation order.
    pub fn key_statuses(&self, key_ref: Option<&KeyRef>) -> Result<Vec<KeyStatus>, KeymgrError> {
        let keys = match key_ref {
            Some(r) => self.db.aliases_for(r)?,
            None => self.db.all_aliases()?,
        };
        let stored = self.stored_states();
        let now = self.clock.now();
        Ok(keys
            .into_iter()
            .map(|key| {
                let record = stored.get(&key.alias).cloned();
                let state = record.as_ref().map_or_else(|| dated_state(&key, now), |r| r.state);
                KeyStatus { key, state, record }
            })
            .collect())
    }

    /// Refuses to open data with `key` when it is destroyed (`KER-KMS-410`), or compromised
    /// (`KER-KMS-423`) unless `if_compromised` lets it: inside the operator's recovery window,
    /// or because the caller accepted it (rewrap). Such a use is audited with `user` and
    /// `purpose`. Answers the key's state.
    pub(super) fn admit_decrypt(
        &self,
        key: &KeyAlias,
        user: &str,
        purpose: &str,
        if_compromised: IfCompromised,
    ) -> Result<KeyState, KeymgrError> {
        let stored = self.stored_states();
        let Some(record) = stored.get(&key.alias) else { return Ok(dated_state(key, self.clock.now())) };
        match record.state {
            KeyState::Destroyed => Err(KeymgrError::KeyDestroyed),
            KeyState::Compromised => {
                let now = self.clock.now();
                let why = match (if_compromised, record.recovery_until) {
                    (IfCompromised::Accept, _) => "accepted by the caller".to_owned(),
                    (IfCompromised::RecoveryWindow, Some(until)) if now < until => {
                        format!("in the recovery window until {until}")
                    }
                    _ => return Err(KeymgrError::KeyCompromised),
                };
                self.db.append_audit(&AuditEntry {
                    time: now,
                    actor: user.to_owned(),
                    action: "compromised_key_used".into(),
                    app_id: Some(key.key_ref.app.to_string()),
                    ref_id: Some(key.key_ref.reference.to_string()),
                    key_alias: Some(key.alias.clone()),
                    detail: Some(format!("{purpose}, {why}")),
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
        let result = self.db.with_generation_lock(&key.key_ref, |tx| {
            let current = tx.aliases_for(&key.key_ref)?.into_iter().find(|a| a.alias == key.alias);
            let Some(current) = current else {
                return Err(KeymgrError::NoUniqueAlias(format!("no key {}", key.alias)));
            };
            let from = tx.key_state(&key.alias)?.map_or_else(|| dated_state(&current, now), |r| r.state);
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
        if self.key_state(&key) != KeyState::Compromised {
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
