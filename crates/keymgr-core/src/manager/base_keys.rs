//! Keys kept in the database: the RSA-2048 base keys per (application, reference) and the
//! Ed25519 signing keys (`ED25519_SIGN`), made in software, wrapped by their module master
//! into `key_store` and certified by it; their current key, lazy generation and rotation
//! under the generation lock, the limits on new pairs, and revocation.

use std::sync::Arc;

use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
    subject_of,
};
use keymgr_crypto::{AsymmetricKind, Certificate, RsaPrivateKey, SignAlgorithm, SigningKey};
use keymgr_db::{Locked, NewKey, StoredKey};
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyTier, RefId, WellKnown};
use keymgr_policy::{Decision, decide, new_key_expiry};

use super::{CertificateInfo, Current, EXPIRE_NOW, KeyManager, NewKeyPlan, current_keys, not_unique};
use crate::KeymgrError;
use crate::stored_key::{unwrap_stored_private_key, wrap_private_key_for_store};

/// What a key kept in the database is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DbKeyKind {
    /// An RSA-2048 base key that opens envelopes.
    Encryption,
    /// An Ed25519 signing key (`ED25519_SIGN`).
    Ed25519Signing,
}

/// A key just made, kept for the caches.
enum MadeKey {
    Rsa(RsaPrivateKey),
    Signing(Arc<SigningKey>),
}

/// The subject of the oldest certificate among `aliases`, read through the locked transaction:
/// a successor key carries it, as MOSIP's do.
fn oldest_subject(
    tx: &mut Locked<'_>,
    aliases: &[KeyAlias],
) -> Result<Option<DistinguishedNameSpec>, KeymgrError> {
    let Some(oldest) = aliases.first() else { return Ok(None) };
    Ok(tx
        .stored_key(&oldest.alias)?
        .and_then(|row| Certificate::from_pem(row.certificate.as_bytes()).ok())
        .and_then(|c| subject_of(&c).ok()))
}

impl KeyManager {
    /// The current certificate of (app, ref): the master in the HSM for an empty ref (and the
    /// signing refs), else the base key, made on first use. MOSIP's `getCertificate`.
    pub fn get_certificate(&self, app: &AppId, reference: &RefId) -> Result<CertificateInfo, KeymgrError> {
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.current_key(&key_ref).map(|c| Self::info(&c))
    }

    pub(super) fn current_key(&self, key_ref: &KeyRef) -> Result<Arc<Current>, KeymgrError> {
        if key_ref.tier().in_hsm() {
            self.current_hsm_key(key_ref, false)
        } else {
            self.current_base_key(key_ref)
        }
    }

    pub(super) fn current_base_key(&self, key_ref: &KeyRef) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
            && self.usable_for_new_data(&c.alias.alias)
        {
            return Ok(c);
        }
        let app = &key_ref.app;
        let pre = self.pre_expire(key_ref)?;
        // Read without the lock first: the common case is a key that exists. Other domains'
        // certificates (PARTNER, IDA) are read here too; their applications need no policy.
        let existing = self.db.aliases_for(key_ref)?;
        if let Decision::Use(a) = decide(&existing, now, pre) {
            let cert = self.certificate_of(&a)?;
            return Ok(self.remember(key_ref, a, cert, pre));
        }
        for refused in [WellKnown::ROOT_APP, WellKnown::KERNEL_APP, WellKnown::PARTNER_APP] {
            if app.eq_ignore_case(refused) {
                return Err(KeymgrError::GenerationNotAllowed(format!("base keys of {app}")));
            }
        }
        if key_ref.tier() == KeyTier::DatabaseSigning {
            // Ed25519 keys are made by generateECSignKey and renewed by signing, not here.
            return Err(KeymgrError::GenerationNotAllowed(format!("{key_ref} outside signing")));
        }
        let policy = self.active_policy(app)?;
        if existing.is_empty() {
            self.admit_new_pair(key_ref)?;
        }
        let master_ref = KeyRef::master(app.clone());
        let attempt = |master: &Current| {
            self.db.with_generation_lock(key_ref, |tx| {
                let now = self.clock.now();
                let aliases = tx.aliases_for(key_ref)?;
                match decide(&aliases, now, pre) {
                    Decision::Use(a) => {
                        // Through the locked connection: a second pooled connection here could
                        // wait on the pool while holding the lock.
                        let row = tx.stored_key(&a.alias)?.ok_or_else(|| {
                            KeymgrError::NoUniqueAlias(format!("no key_store row for {}", a.alias))
                        })?;
                        let cert = Certificate::from_pem(row.certificate.as_bytes())?;
                        return Ok((a, cert));
                    }
                    Decision::Ambiguous(v) => {
                        return Err(not_unique(key_ref, v.len()));
                    }
                    Decision::Generate => {}
                }
                for a in &aliases {
                    if tx.stored_key(&a.alias)?.is_some_and(|s| s.private_key == StoredKey::NO_PRIVATE_KEY) {
                        return Err(KeymgrError::GenerationNotAllowed(format!(
                            "{key_ref} holds another domain's certificate"
                        )));
                    }
                }
                // A successor carries the DN of the pair's oldest certificate; a first key takes
                // CN "<APP>-<REF>" and the other parts from its master's subject (MOSIP).
                let inherited = oldest_subject(tx, &aliases)?;
                let name = inherited.unwrap_or_else(|| self.base_subject(key_ref, &master.certificate));
                let plan = NewKeyPlan { key_ref, policy: &policy, pre, name, now };
                self.make_db_key(tx, &plan, master, DbKeyKind::Encryption)
            })
        };
        let result = self.with_usable_master(&master_ref, attempt);
        self.forget_pair(key_ref);
        let (alias, cert) = result?;
        Ok(self.remember(key_ref, alias, cert, pre))
    }

    /// Runs `attempt` with the current master of `master_ref`; when the master changed state
    /// meanwhile (a compromise on another replica), once more with its successor.
    fn with_usable_master<T>(
        &self,
        master_ref: &KeyRef,
        attempt: impl Fn(&Current) -> Result<T, KeymgrError>,
    ) -> Result<T, KeymgrError> {
        let master = self.current_hsm_key(master_ref, false)?;
        match attempt(&master) {
            Err(KeymgrError::MasterChanged(_)) => {
                self.forget_pair(master_ref);
                self.invalidate_states();
                let successor = self.current_hsm_key(master_ref, false)?;
                attempt(&successor)
            }
            other => other,
        }
    }

    /// The current key of a pair kept in the database (a base key, an Ed25519 key, another
    /// domain's certificate), from the cache or the current row; nothing is generated
    /// (`KER-KMS-012` when the pair has no current key).
    pub(super) fn existing_database_key(&self, key_ref: &KeyRef) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
            && self.usable_for_new_data(&c.alias.alias)
        {
            return Ok(c);
        }
        let pre = self.pre_expire(key_ref)?;
        match decide(&self.db.aliases_for(key_ref)?, now, pre) {
            Decision::Use(alias) => {
                let cert = self.certificate_of(&alias)?;
                Ok(self.remember(key_ref, alias, cert, pre))
            }
            Decision::Ambiguous(v) => Err(not_unique(key_ref, v.len())),
            Decision::Generate => Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string())),
        }
    }

    /// Whether a first key may be made for `key_ref` under [`NewPairLimits`]: its reference
    /// must match its application's pattern (`KER-KMS-010`), and the per-minute budget must
    /// have a token (`KER-KMS-429`).
    pub(super) fn admit_new_pair(&self, key_ref: &KeyRef) -> Result<(), KeymgrError> {
        let patterns = &self.config.new_pairs.reference_patterns;
        if let Some((_, pattern)) = patterns.iter().find(|(app, _)| app.eq_ignore_case(key_ref.app.as_str()))
            && !pattern.is_match(key_ref.reference.as_str())
        {
            return Err(KeymgrError::RefIdNotSupported(key_ref.reference.to_string()));
        }
        if let Some(budget) = &self.new_pair_budget
            && !budget.try_take()
        {
            return Err(KeymgrError::KeyCreationRateLimited);
        }
        Ok(())
    }

    /// The subject of a pair's first base key: CN `<APP>-<REF>`, the other parts from the
    /// master's subject, the configured defaults where the master has none.
    pub(super) fn base_subject(&self, key_ref: &KeyRef, master: &Certificate) -> DistinguishedNameSpec {
        let defaults = &self.config.default_subject;
        let from_master = subject_of(master).unwrap_or_default();
        let pick = |m: String, d: &String| if m.is_empty() { d.clone() } else { m };
        DistinguishedNameSpec {
            common_name: format!("{}-{}", key_ref.app, key_ref.reference),
            organizational_unit: pick(from_master.organizational_unit, &defaults.organizational_unit),
            organization: pick(from_master.organization, &defaults.organization),
            locality: pick(from_master.locality, &defaults.locality),
            state: pick(from_master.state, &defaults.state),
            country: pick(from_master.country, &defaults.country),
        }
    }

    /// Makes a key for `plan` under the pair's lock, in software, wrapped for `key_store` by
    /// `master` and certified by `master` in the keystore: an RSA-2048 base key, or an Ed25519
    /// signing key (MOSIP keeps those in the database too).
    pub(super) fn make_db_key(
        &self,
        tx: &mut Locked<'_>,
        plan: &NewKeyPlan<'_>,
        master: &Current,
        kind: DbKeyKind,
    ) -> Result<(KeyAlias, Certificate), KeymgrError> {
        let NewKeyPlan { policy, pre, ref name, now, .. } = *plan;
        if let Some(state) = tx.master_state(&master.alias.alias)? {
            // Compromised or deactivated meanwhile (perhaps by another replica): its
            // children are being re-wrapped away from it, so none may be added.
            return Err(KeymgrError::MasterChanged(format!("{} is {}", master.alias.alias, state.state)));
        }
        let expiry = new_key_expiry(now, policy, pre, Some(master.alias.expires_at))?;
        let (pkcs8, spki, profile, made) = match kind {
            DbKeyKind::Encryption => {
                let key = RsaPrivateKey::generate_2048()?;
                let spki = key.public_key()?.spki_der().to_vec();
                (key.to_pkcs8_der()?, spki, CertificateProfile::Encryption, MadeKey::Rsa(key))
            }
            DbKeyKind::Ed25519Signing => {
                let key = SigningKey::generate(AsymmetricKind::Ed25519)?;
                let spki = key.public_key_spki()?;
                (key.pkcs8().clone(), spki, CertificateProfile::Signing, MadeKey::Signing(Arc::new(key)))
            }
        };
        let master_public = master.certificate.rsa_public_key()?;
        let wrapped = wrap_private_key_for_store(&pkcs8, &master_public)?;
        let spec =
            CertificateSpec { subject: name.clone(), not_before: now, not_after: expiry.expires_at, profile };
        let sign = |m: &[u8]| {
            self.keystore
                .sign(&master.alias.alias, SignAlgorithm::Rs256, m)
                .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
        };
        let cert = issue_certificate(
            &spec,
            &spki,
            &CertificateIssuer {
                certificate: Some(&master.certificate),
                public_key_spki: master.certificate.spki_der(),
                sign: &sign,
            },
        )?;
        let alias = uuid::Uuid::new_v4().to_string();
        let record = plan.alias_record(&alias, expiry.expires_at, &cert);
        let stored = StoredKey {
            alias: alias.clone(),
            master_alias: master.alias.alias.clone(),
            private_key: wrapped,
            certificate: cert.to_pem(),
        };
        tx.insert_key(&NewKey { alias: &record, stored: Some(&stored), actor: &self.config.actor })?;
        match made {
            MadeKey::Rsa(key) => self.base_keys.insert(alias, key),
            MadeKey::Signing(key) => self.signing_keys.insert(alias, key),
        }
        Ok((record, cert))
    }

    /// Expires the current key of a base pair now, so the next request makes a new one.
    /// Masters and `KERNEL`/`SIGN` cannot be revoked. MOSIP's `revokeKey`.
    pub fn revoke_key(&self, app: &AppId, reference: &RefId) -> Result<(), KeymgrError> {
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        if key_ref.tier().in_hsm() || key_ref.tier().is_signing() {
            return Err(KeymgrError::RevocationNotAllowed(key_ref.to_string()));
        }
        let pre = self.pre_expire(&key_ref)?;
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            let current = current_keys(&aliases, now, pre);
            match current.as_slice() {
                [one] => {
                    tx.set_expiry(&one.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                    Ok(one.alias.clone())
                }
                other => Err(not_unique(&key_ref, other.len())),
            }
        });
        self.forget_pair(&key_ref);
        let revoked = result?;
        self.base_keys.remove(&revoked);
        Ok(())
    }

    /// The current Ed25519 key of an `ED25519_SIGN` pair, kept in the database: from the
    /// cache; else the current row; else (when `force`, or the pair's keys all expired, or
    /// `allow_first` and it has none) a new key under the pair's lock, certified by the
    /// application's master. A pair without keys and without `allow_first` is `KER-KMS-012`.
    pub(super) fn ensure_database_signing_key(
        &self,
        key_ref: &KeyRef,
        force: bool,
        allow_first: bool,
        requested: Option<&DistinguishedNameSpec>,
    ) -> Result<Arc<Current>, KeymgrError> {
        let now = self.clock.now();
        if !force
            && let Some(c) = self.current.get(key_ref)
            && c.alias.generated_at <= now
            && now < c.valid_until
            && self.usable_for_new_data(&c.alias.alias)
        {
            return Ok(c);
        }
        let policy = self.active_policy(&key_ref.app)?;
        let pre = self.pre_expire(key_ref)?;
        if !allow_first && self.db.aliases_for(key_ref)?.is_empty() {
            return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
        }
        // The master is resolved before the pair's lock is taken (never two locks at once).
        let master_ref = KeyRef::master(key_ref.app.clone());
        let attempt = |master: &Current| {
            self.db.with_generation_lock(key_ref, |tx| {
                let now = self.clock.now();
                let aliases = tx.aliases_for(key_ref)?;
                if force {
                    for a in current_keys(&aliases, now, pre) {
                        tx.set_expiry(&a.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                    }
                } else {
                    match decide(&aliases, now, pre) {
                        Decision::Use(a) => {
                            let row = tx.stored_key(&a.alias)?.ok_or_else(|| {
                                KeymgrError::NoUniqueAlias(format!("no key_store row for {}", a.alias))
                            })?;
                            let cert = Certificate::from_pem(row.certificate.as_bytes())?;
                            return Ok((a, cert));
                        }
                        Decision::Ambiguous(v) => return Err(not_unique(key_ref, v.len())),
                        Decision::Generate if aliases.is_empty() && !allow_first => {
                            return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
                        }
                        Decision::Generate => {}
                    }
                }
                let inherited = oldest_subject(tx, &aliases)?;
                let name = match requested {
                    Some(r) => self.hsm_subject(key_ref, r),
                    None => inherited.unwrap_or_else(|| self.base_subject(key_ref, &master.certificate)),
                };
                let plan = NewKeyPlan { key_ref, policy: &policy, pre, name, now };
                self.make_db_key(tx, &plan, master, DbKeyKind::Ed25519Signing)
            })
        };
        let result = self.with_usable_master(&master_ref, attempt);
        self.forget_pair(key_ref);
        let (alias, cert) = result?;
        Ok(self.remember(key_ref, alias, cert, pre))
    }

    /// The private key of an Ed25519 signing key, from the cache or unwrapped from its
    /// `key_store` row by its master in the keystore (then cached).
    pub(super) fn database_signing_key(&self, key: &KeyAlias) -> Result<Arc<SigningKey>, KeymgrError> {
        if let Some(private) = self.signing_keys.get(&key.alias) {
            return Ok(private);
        }
        let row = self.stored_private_key(&key.alias)?;
        if row.private_key == StoredKey::NO_PRIVATE_KEY {
            return Err(KeymgrError::SigningNotAllowed("a certificate of another domain".into()));
        }
        let master_cert = self.hsm_certificate(&row.master_alias)?;
        let modulus_len = master_cert.rsa_public_key()?.modulus_len();
        let pkcs8 = unwrap_stored_private_key(&row.private_key, modulus_len, |w| {
            self.keystore.rsa_oaep_unwrap(&row.master_alias, w).map_err(KeymgrError::Keystore)
        })?;
        let private = Arc::new(SigningKey::from_pkcs8(AsymmetricKind::Ed25519, pkcs8)?);
        self.signing_keys.insert(key.alias.clone(), Arc::clone(&private));
        Ok(private)
    }
}
