//! Retention and destruction (ours). Each application keeps its expired keys for a retention
//! period (`keymgr_retention_policy`, else [`LifecycleSettings::default_retention_days`]);
//! [`KeyManager::retire`] lists the keys past it and, with `apply`, destroys them:
//! keystore objects are removed from the token (the certificate kept as a tombstone in
//! `keymgr_key_state`), `key_store` private keys are crypto-shredded (the wrapped key
//! overwritten, the row kept with its certificate and thumbprint), the state becomes
//! destroyed, each destruction audited. Never a current key, never one inside retention,
//! never a master that still wraps live keys or a ROOT that certified live keystore keys;
//! keys without a certificate (symmetric keys) and other domains' certificates are left alone.
//!
//! [`LifecycleSettings::default_retention_days`]: super::config::LifecycleSettings

use std::collections::HashMap;

use keymgr_db::KeyStateRecord;
use keymgr_model::{AppId, KeyAlias, KeyState, KeyTier, UtcTime};
use keymgr_policy::{Decision, decide};

use super::KeyManager;
use super::lifecycle::transition_allowed;
use crate::KeymgrError;

/// A key retirement may destroy.
#[derive(Debug, Clone)]
pub struct RetireCandidate {
    /// The key.
    pub key: KeyAlias,
    /// Its state now.
    pub state: KeyState,
    /// Where its private key is: `keystore` or `database`.
    pub holder: &'static str,
    /// When its retention ended.
    pub retained_until: UtcTime,
    /// Whether it was destroyed before and only its keystore objects are left (a run that
    /// stopped between the two steps).
    pub leftover: bool,
}

/// What retirement found and did.
#[derive(Debug, Clone)]
pub struct RetireReport {
    /// When the plan was made.
    pub at: UtcTime,
    /// Whether it destroyed (`--apply`) or only listed.
    pub applied: bool,
    /// The keys past retention.
    pub candidates: Vec<RetireCandidate>,
    /// Expired keys kept, with why (inside retention, still wraps live keys, ...).
    pub kept: Vec<(KeyAlias, String)>,
    /// The keys destroyed by this run.
    pub destroyed: Vec<String>,
    /// Keys whose destruction failed, with why (nothing of theirs changed).
    pub failed: Vec<(String, String)>,
}

impl KeyManager {
    /// The retention period of `app` in days after expiry.
    pub fn retention_days(&self, app: &AppId) -> Result<u32, KeymgrError> {
        Ok(self
            .retention_table()?
            .get(app.as_str())
            .copied()
            .unwrap_or(self.config.lifecycle.default_retention_days))
    }

    /// Every application with a retention period of its own, and the default.
    pub fn retention_policies(&self) -> Result<(HashMap<String, u32>, u32), KeymgrError> {
        Ok((self.db.retention_policies()?, self.config.lifecycle.default_retention_days))
    }

    /// Sets the retention period of `app` (audited with before and after, and `reason`).
    pub fn set_retention(
        &self,
        app: &AppId,
        days: u32,
        who: &str,
        reason: Option<&str>,
    ) -> Result<(), KeymgrError> {
        if days > 36_500 {
            return Err(KeymgrError::InvalidRequest("retention over 100 years".into()));
        }
        if reason.is_some_and(|r| r.chars().count() > 512) {
            return Err(KeymgrError::InvalidRequest("the reason is longer than 512 characters".into()));
        }
        Ok(self.db.set_retention(app.as_str(), days, who, reason)?)
    }

    fn retention_table(&self) -> Result<HashMap<String, u32>, KeymgrError> {
        Ok(self.db.retention_policies()?)
    }

    /// Lists the keys past retention and, with `apply`, destroys them (see the module docs).
    pub fn retire(&self, apply: bool, who: &str) -> Result<RetireReport, KeymgrError> {
        let now = self.clock.now();
        let retention = self.retention_table()?;
        let default_days = self.config.lifecycle.default_retention_days;
        let all = self.db.all_aliases()?;
        let snapshot = self.stored_states()?;
        let states = &snapshot.states;
        let children = self.db.live_children_counts()?;
        let mut by_pair: HashMap<String, Vec<KeyAlias>> = HashMap::new();
        for a in &all {
            by_pair.entry(a.key_ref.to_string()).or_default().push(a.clone());
        }
        let mut report = RetireReport {
            at: now,
            applied: apply,
            candidates: Vec::new(),
            kept: Vec::new(),
            destroyed: Vec::new(),
            failed: Vec::new(),
        };
        for key in &all {
            if key.thumbprint.is_none() {
                continue; // symmetric keys: not this command's
            }
            let holder = if key.key_ref.tier().in_hsm() { "keystore" } else { "database" };
            let state =
                states.get(&key.alias).map_or_else(|| super::lifecycle::dated_state(key, now), |r| r.state);
            if state == KeyState::Destroyed {
                if holder == "keystore" && matches!(self.keystore.certificate(&key.alias), Ok(Some(_))) {
                    report.candidates.push(RetireCandidate {
                        key: key.clone(),
                        state,
                        holder,
                        retained_until: key.expires_at,
                        leftover: true,
                    });
                }
                continue;
            }
            if !matches!(state, KeyState::Deactivated | KeyState::Compromised) {
                continue;
            }
            let pre = self.pre_expire(&key.key_ref)?;
            let pair = by_pair.get(&key.key_ref.to_string()).map(Vec::as_slice).unwrap_or_default();
            if matches!(decide(pair, now, pre), Decision::Use(ref a) if a.alias == key.alias) {
                report.kept.push((key.clone(), "the pair's current key".into()));
                continue;
            }
            let days = retention.get(key.key_ref.app.as_str()).copied().unwrap_or(default_days);
            let retained_until = key.expires_at.plus(time::Duration::days(i64::from(days)));
            if now < retained_until {
                report.kept.push((key.clone(), format!("inside retention until {retained_until}")));
                continue;
            }
            if let Some(n) = children.get(&key.alias).filter(|n| **n > 0) {
                report.kept.push((key.clone(), format!("still wraps {n} live keys")));
                continue;
            }
            if holder == "database" {
                match self.db.stored_key(&key.alias)? {
                    Some(row) if row.holds_private_key() => {}
                    _ => continue, // another domain's certificate, or already shredded
                }
            }
            if key.key_ref.tier() == KeyTier::Root {
                let live = self.live_keys_certified_by(key, &all, states)?;
                if live > 0 {
                    report.kept.push((key.clone(), format!("certified {live} live keystore keys")));
                    continue;
                }
            }
            report.candidates.push(RetireCandidate {
                key: key.clone(),
                state,
                holder,
                retained_until,
                leftover: false,
            });
        }
        if apply {
            for candidate in &report.candidates {
                match self.destroy_key(candidate, who) {
                    Ok(()) => report.destroyed.push(candidate.key.alias.clone()),
                    Err(e) => report.failed.push((candidate.key.alias.clone(), e.to_string())),
                }
            }
            self.invalidate_states();
        }
        Ok(report)
    }

    /// How many keystore keys that are not destroyed `root`'s certificate signed.
    fn live_keys_certified_by(
        &self,
        root: &KeyAlias,
        all: &[KeyAlias],
        states: &HashMap<String, KeyStateRecord>,
    ) -> Result<usize, KeymgrError> {
        let root_cert = self.hsm_certificate(&root.alias)?;
        let mut live = 0;
        for other in all
            .iter()
            .filter(|a| a.alias != root.alias && a.key_ref.tier().in_hsm() && a.thumbprint.is_some())
        {
            if states.get(&other.alias).is_some_and(|r| r.state == KeyState::Destroyed) {
                continue;
            }
            if self.hsm_certificate(&other.alias).is_ok_and(|c| c.is_signed_by(&root_cert)) {
                live += 1;
            }
        }
        Ok(live)
    }

    /// Destroys one key under its pair's lock, checking again what the plan checked (not the
    /// pair's current key, not destroyed meanwhile, wrapping no live key): a database key is
    /// shredded with its state in one transaction; a keystore key's state (with its certificate
    /// as tombstone) is committed first and its objects removed after, so a run stopped between
    /// the two leaves a leftover that the next run removes.
    fn destroy_key(&self, candidate: &RetireCandidate, who: &str) -> Result<(), KeymgrError> {
        let key = &candidate.key;
        if candidate.leftover {
            self.keystore.destroy(&key.alias)?;
            return Ok(());
        }
        let pre = self.pre_expire(&key.key_ref)?;
        let tombstone = if candidate.holder == "keystore" {
            Some(self.hsm_certificate(&key.alias)?.to_pem())
        } else {
            None
        };
        let result = self.db.with_generation_lock(&key.key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key.key_ref)?;
            let current = aliases
                .iter()
                .find(|a| a.alias == key.alias)
                .ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key {}", key.alias)))?;
            if matches!(decide(&aliases, now, pre), Decision::Use(ref a) if a.alias == key.alias) {
                return Err(KeymgrError::StateTransitionNotAllowed(format!(
                    "{} is current again",
                    key.alias
                )));
            }
            let from = tx
                .key_state(&key.alias)?
                .map_or_else(|| super::lifecycle::dated_state(current, now), |r| r.state);
            if !transition_allowed(from, KeyState::Destroyed) {
                return Err(KeymgrError::StateTransitionNotAllowed(format!("{} is {from}", key.alias)));
            }
            if tx.count_live_children(&key.alias)? > 0 {
                return Err(KeymgrError::StateTransitionNotAllowed(format!("{} wraps live keys", key.alias)));
            }
            let record = KeyStateRecord {
                alias: key.alias.clone(),
                state: KeyState::Destroyed,
                reason: Some(format!("retention ended {}", candidate.retained_until)),
                response_complete: false,
                recovery_until: None,
                certificate: tombstone.clone(),
                updated_by: who.to_owned(),
                updated_at: now,
            };
            let pair = (Some(key.key_ref.app.to_string()), Some(key.key_ref.reference.to_string()));
            if tombstone.is_some() {
                tx.put_key_state(&record, from, pair)?;
            } else {
                tx.shred_stored_key(&record, from, pair)?;
            }
            Ok(())
        });
        self.forget_pair(&key.key_ref);
        self.drop_private_key_caches(&key.alias);
        self.invalidate_states();
        result?;
        if tombstone.is_some() {
            self.keystore.destroy(&key.alias)?;
        }
        Ok(())
    }
}
