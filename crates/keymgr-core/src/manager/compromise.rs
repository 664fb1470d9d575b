//! Compromise response: mark a key compromised, make its successor at once, re-wrap every key
//! a compromised master wraps under the successor, optionally rotate those keys, and report
//! what depended on it.
//!
//! The re-wrap is batched ([`LifecycleSettings::rewrap_batch`] children per transaction, one
//! audit row each), idempotent (a row is rewritten only while it still names the old master)
//! and resumable: a run killed midway leaves the key compromised with some children still
//! under it, and the next run for the pair finds that key and finishes its response instead of
//! compromising the successor. Other replicas stop wrapping new keys under the old master at
//! once (each new key checks its master's state inside its own transaction, and PostgreSQL
//! orders that check against the compromise), and stop using it for new data within their
//! state check interval.
//!
//! [`LifecycleSettings::rewrap_batch`]: super::config::LifecycleSettings

use std::collections::{BTreeMap, HashMap};

use keymgr_crypto::Certificate;
use keymgr_db::{Rewrapped, StoredKey};
use keymgr_model::{KeyAlias, KeyRef, KeyState, KeyTier, UtcTime};
use keymgr_policy::{Decision, decide};

use super::lifecycle::StateChange;
use super::{EXPIRE_NOW, KeyManager};
use crate::KeymgrError;
use crate::stored_key::{unwrap_stored_private_key, wrap_private_key_for_store};

/// What to compromise and how.
pub struct CompromiseRequest<'a> {
    /// The pair whose key is compromised.
    pub key_ref: KeyRef,
    /// The exact key; by default the pair's key with an unfinished response, else its
    /// current key.
    pub alias: Option<String>,
    /// Why (kept in the audit trail).
    pub reason: String,
    /// Who (kept in the audit trail).
    pub who: String,
    /// Report only; change nothing.
    pub dry_run: bool,
    /// Also expire the current keys the compromised master wraps, so that new data goes to
    /// keys made under the successor (their private keys were readable with the master).
    pub rotate_children: bool,
    /// Until when the compromised key may still decrypt (each use audited); none by default.
    pub recovery_until: Option<UtcTime>,
    /// Called after each re-wrapped batch with (re-wrapped so far, children at the start).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

/// A certificate or key that depends on the compromised key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// What it is: `keystore key`, `partner certificate`, `trust store certificate`.
    pub kind: &'static str,
    /// Its alias or certificate id.
    pub id: String,
    /// Its subject.
    pub subject: String,
    /// How it depends: `certified by it`, `is it`.
    pub relation: &'static str,
}

/// What a compromise response found and did.
#[derive(Debug, Clone)]
pub struct CompromiseReport {
    /// The compromised key.
    pub key: KeyAlias,
    /// Its state before this run.
    pub state_before: KeyState,
    /// Whether this run only reported.
    pub dry_run: bool,
    /// Whether the key was already compromised and this run finished its response.
    pub resumed: bool,
    /// The pair's current key after the run (`None` in a dry run).
    pub successor: Option<KeyAlias>,
    /// Keys it wrapped when the run started.
    pub children_before: usize,
    /// Keys this run re-wrapped under the successor.
    pub rewrapped: usize,
    /// Keys it still wraps after the run (0 when the response is complete).
    pub remaining: usize,
    /// Children that could not be re-wrapped, with why (their rows are unchanged).
    pub failed: Vec<(String, String)>,
    /// The pairs whose keys it wrapped, with how many: their private keys were readable by
    /// whoever held it.
    pub exposed_pairs: Vec<(KeyRef, usize)>,
    /// Pairs whose current key was expired so that new data goes to a fresh key.
    pub rotated_pairs: Vec<KeyRef>,
    /// Keys and certificates it certified, and trust store entries that are it.
    pub dependents: Vec<Dependent>,
    /// Whether the key is still used by anything: children left, or dependents.
    pub complete: bool,
}

impl KeyManager {
    /// Compromise response for `request.key_ref` (see the module docs). With `dry_run`
    /// nothing changes and the report says what would.
    pub fn compromise(&self, request: &CompromiseRequest<'_>) -> Result<CompromiseReport, KeymgrError> {
        let key = self.compromise_target(request)?;
        if key.thumbprint.is_none() {
            return Err(KeymgrError::GenerationNotAllowed(format!(
                "{} is a symmetric key: its compromise response is not automated (a ZK master wraps every random key)",
                key.alias
            )));
        }
        let state_before = match self.db.key_state(&key.alias)? {
            Some(r) => r.state,
            None => super::lifecycle::dated_state(&key, self.clock.now()),
        };
        if state_before == KeyState::Destroyed {
            return Err(KeymgrError::StateTransitionNotAllowed(format!("{} is destroyed", key.alias)));
        }
        if key.key_ref.tier() == KeyTier::Base
            && self.db.stored_key(&key.alias)?.is_some_and(|s| s.private_key == StoredKey::NO_PRIVATE_KEY)
        {
            return Err(KeymgrError::GenerationNotAllowed(format!(
                "{} is another domain's certificate: upload its successor",
                key.alias
            )));
        }
        let resumed = state_before == KeyState::Compromised;
        let all = self.db.all_aliases()?;
        let children = self.live_children_of(&key.alias)?;
        let exposed_keys = self.keys_it_certified_in_database(&key, &all)?;
        let mut exposed: BTreeMap<String, (KeyRef, usize)> = BTreeMap::new();
        for a in &exposed_keys {
            exposed.entry(a.key_ref.to_string()).or_insert_with(|| (a.key_ref.clone(), 0)).1 += 1;
        }
        let dependents = self.dependents_of(&key, &all)?;
        let mut report = CompromiseReport {
            key: key.clone(),
            state_before,
            dry_run: request.dry_run,
            resumed,
            successor: None,
            children_before: children,
            rewrapped: 0,
            remaining: children,
            failed: Vec::new(),
            exposed_pairs: exposed.into_values().collect(),
            rotated_pairs: Vec::new(),
            complete: children == 0 && dependents.is_empty(),
            dependents,
        };
        if request.dry_run {
            return Ok(report);
        }
        if !resumed || request.recovery_until.is_some() {
            self.set_key_state(
                &key,
                StateChange {
                    to: KeyState::Compromised,
                    reason: &request.reason,
                    who: &request.who,
                    recovery_until: request.recovery_until,
                    certificate: None,
                },
            )?;
        }
        self.drop_private_key_caches(&key.alias);
        let successor = self.successor_of(&key)?;
        if children > 0 {
            let master = self.current_hsm_key(&key.key_ref, false)?;
            self.rewrap_children_of(&key, &master.alias.alias, &master.certificate, request, &mut report)?;
        }
        if request.rotate_children {
            report.rotated_pairs = self.rotate_pairs(&report.exposed_pairs, &exposed_keys, &request.who)?;
        }
        report.remaining = self.live_children_of(&key.alias)?;
        report.complete = report.remaining == 0 && report.dependents.is_empty();
        report.successor = Some(successor);
        if report.remaining == 0 && report.failed.is_empty() {
            self.finish_compromise_response(&key, &request.who)?;
        }
        Ok(report)
    }

    /// The key a compromise request names: its alias; else the pair's compromised key whose
    /// response did not finish (a run that stopped); else the current key.
    fn compromise_target(&self, request: &CompromiseRequest<'_>) -> Result<KeyAlias, KeymgrError> {
        let key_ref = &request.key_ref;
        if let Some(alias) = &request.alias {
            let key = self.key_by_alias(alias)?;
            if &key.key_ref != key_ref {
                return Err(KeymgrError::InvalidRequest(format!(
                    "{alias} is a key of {}, not {key_ref}",
                    key.key_ref
                )));
            }
            return Ok(key);
        }
        // Read from the database, not the cached states: a response another process began
        // a moment ago must be found.
        let aliases = self.db.aliases_for(key_ref)?;
        for a in aliases.iter().rev() {
            if self
                .db
                .key_state(&a.alias)?
                .is_some_and(|r| r.state == KeyState::Compromised && !r.response_complete)
            {
                return Ok(a.clone());
            }
        }
        let now = self.clock.now();
        let pre = self.pre_expire(key_ref)?;
        match decide(&aliases, now, pre) {
            Decision::Use(a) => Ok(a),
            Decision::Ambiguous(v) => Err(super::not_unique(key_ref, v.len())),
            Decision::Generate => Err(KeymgrError::NoUniqueAlias(format!("{key_ref} has no current key"))),
        }
    }

    /// The pair's current key after `key` left use: made now if there is none.
    fn successor_of(&self, key: &KeyAlias) -> Result<KeyAlias, KeymgrError> {
        let key_ref = &key.key_ref;
        let current = match key_ref.tier() {
            tier if tier.in_hsm() => self.ensure_hsm_key(key_ref, false, true, None)?,
            KeyTier::DatabaseSigning => self.ensure_database_signing_key(key_ref, false, true, None)?,
            _ => self.current_base_key(key_ref)?,
        };
        Ok(current.alias.clone())
    }

    /// How many live keys `master` wraps.
    fn live_children_of(&self, master: &str) -> Result<usize, KeymgrError> {
        Ok(usize::try_from(self.db.count_live_children(master)?).unwrap_or(usize::MAX))
    }

    /// Re-wraps the children of the compromised `key` for the master `new_alias` (whose
    /// certificate is `new_cert`), in batches, each its own transaction with an audit row.
    fn rewrap_children_of(
        &self,
        key: &KeyAlias,
        new_alias: &str,
        new_cert: &Certificate,
        request: &CompromiseRequest<'_>,
        report: &mut CompromiseReport,
    ) -> Result<(), KeymgrError> {
        if new_alias == key.alias {
            return Err(KeymgrError::MasterChanged(format!("{} has no successor", key.alias)));
        }
        let old_modulus = self.hsm_certificate(&key.alias)?.rsa_public_key()?.modulus_len();
        let new_public = new_cert.rsa_public_key()?;
        let batch_size = self.config.lifecycle.rewrap_batch.max(1);
        let batch_limit = i64::try_from(batch_size).unwrap_or(i64::MAX);
        let mut after: Option<String> = None;
        loop {
            let rows = self.db.live_children(&key.alias, after.as_deref(), batch_limit)?;
            let Some(last) = rows.last() else { break };
            after = Some(last.alias.clone());
            let mut batch = Vec::with_capacity(rows.len());
            for row in rows {
                let rewrapped = unwrap_stored_private_key(&row.private_key, old_modulus, |w| {
                    self.keystore.rsa_oaep_unwrap(&key.alias, w).map_err(KeymgrError::Keystore)
                })
                .and_then(|pkcs8| wrap_private_key_for_store(&pkcs8, &new_public));
                match rewrapped {
                    Ok(private_key) => batch.push(Rewrapped {
                        alias: row.alias,
                        old_master: key.alias.clone(),
                        new_master: new_alias.to_owned(),
                        private_key,
                    }),
                    Err(e) => report.failed.push((row.alias, e.to_string())),
                }
            }
            let detail = format!("compromise of {} by {}", key.alias, request.who);
            report.rewrapped += self.db.rewrap_children(&batch, &request.who, &detail)?;
            if let Some(progress) = request.progress {
                progress(report.rewrapped, report.children_before);
            }
        }
        Ok(())
    }

    /// The keys kept in the database that `key` certified (a master certifies and wraps each
    /// key it makes): whoever held it could read their private keys, whichever master wraps
    /// them now. Found by their certificates, so a resumed run sees the ones already
    /// re-wrapped too.
    fn keys_it_certified_in_database(
        &self,
        key: &KeyAlias,
        all: &[KeyAlias],
    ) -> Result<Vec<KeyAlias>, KeymgrError> {
        if !key.key_ref.tier().in_hsm() {
            return Ok(Vec::new());
        }
        let Ok(cert) = self.hsm_certificate(&key.alias) else { return Ok(Vec::new()) };
        let candidates: HashMap<&str, &KeyAlias> = all
            .iter()
            .filter(|a| a.key_ref.app == key.key_ref.app && !a.key_ref.tier().in_hsm())
            .map(|a| (a.alias.as_str(), a))
            .collect();
        let aliases: Vec<String> = candidates.keys().map(|a| (*a).to_owned()).collect();
        let mut out = Vec::new();
        for row in self.db.stored_keys(&aliases)? {
            if !row.holds_private_key() {
                continue;
            }
            let certified =
                Certificate::from_pem(row.certificate.as_bytes()).is_ok_and(|c| c.is_signed_by(&cert));
            if let (true, Some(a)) = (certified, candidates.get(row.alias.as_str())) {
                out.push((*a).clone());
            }
        }
        out.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(out)
    }

    /// Expires the current key of each exposed pair when it is one of `exposed_keys`, so the
    /// next request makes a key under the successor master.
    fn rotate_pairs(
        &self,
        exposed: &[(KeyRef, usize)],
        exposed_keys: &[KeyAlias],
        who: &str,
    ) -> Result<Vec<KeyRef>, KeymgrError> {
        let child_aliases: std::collections::HashSet<&str> =
            exposed_keys.iter().map(|c| c.alias.as_str()).collect();
        let mut rotated = Vec::new();
        for (pair, _) in exposed {
            let pre = self.pre_expire(pair)?;
            let expired = self.db.with_generation_lock(pair, |tx| {
                let now = self.clock.now();
                let mut expired = false;
                for a in super::current_keys(&tx.aliases_for(pair)?, now, pre) {
                    if child_aliases.contains(a.alias.as_str()) {
                        tx.set_expiry(&a.alias, now.plus(-EXPIRE_NOW), who)?;
                        expired = true;
                    }
                }
                Ok::<_, KeymgrError>(expired)
            })?;
            self.forget_pair(pair);
            if expired {
                rotated.push(pair.clone());
            }
        }
        Ok(rotated)
    }

    /// The keystore keys `key` certified (ROOT certifies the masters and signing keys), the
    /// partner certificates it signed, and the trust store entries that are it or that it
    /// signed.
    fn dependents_of(&self, key: &KeyAlias, all: &[KeyAlias]) -> Result<Vec<Dependent>, KeymgrError> {
        let Ok(cert) = self.certificate_of(key) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        if key.key_ref.tier().in_hsm() {
            let states = self.stored_states()?;
            for other in all.iter().filter(|a| a.alias != key.alias && a.key_ref.tier().in_hsm()) {
                if states.states.get(&other.alias).is_some_and(|r| r.state == KeyState::Destroyed) {
                    continue;
                }
                if let Ok(c) = self.hsm_certificate(&other.alias)
                    && c.is_signed_by(&cert)
                {
                    out.push(Dependent {
                        kind: "keystore key",
                        id: other.alias.clone(),
                        subject: c.subject().to_owned(),
                        relation: "certified by it",
                    });
                }
            }
        }
        let mut after = String::new();
        loop {
            let page = self.db.partner_certs_after(&after, 500)?;
            let Some(last) = page.last() else { break };
            after = last.cert_id.clone();
            for p in &page {
                let signed =
                    p.signed_cert_data.as_deref().and_then(|pem| Certificate::from_pem(pem.as_bytes()).ok());
                if signed.is_some_and(|c| c.is_signed_by(&cert)) {
                    out.push(Dependent {
                        kind: "partner certificate",
                        id: p.cert_id.clone(),
                        subject: p.subject.clone(),
                        relation: "certified by it",
                    });
                }
            }
        }
        for domain in &self.config.partners.allowed_domains {
            for ca in self.db.ca_certs(domain)? {
                let Some(parsed) =
                    ca.cert_data.as_deref().and_then(|pem| Certificate::from_pem(pem.as_bytes()).ok())
                else {
                    continue;
                };
                let relation = if parsed.thumbprint() == cert.thumbprint() {
                    "is it"
                } else if parsed.is_signed_by(&cert) {
                    "certified by it"
                } else {
                    continue;
                };
                out.push(Dependent {
                    kind: "trust store certificate",
                    id: format!("{} ({domain})", ca.cert_id),
                    subject: ca.subject.clone(),
                    relation,
                });
            }
        }
        Ok(out)
    }

    /// Forgets the unwrapped private key of `alias` in this manager's caches.
    pub(super) fn drop_private_key_caches(&self, alias: &str) {
        self.base_keys.remove(&alias.to_owned());
        self.signing_keys.remove(&alias.to_owned());
    }
}
