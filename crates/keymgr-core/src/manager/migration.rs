//! Key migration into this deployment, the server side of MOSIP's migration job (reference
//! section 10): `migrateBaseKey` stores a base key the old deployment re-wrapped for this
//! one's current master (and PARTNER certificates as they are), `getZKTempCertificate` makes a
//! one-day RSA key in the keystore for the ZK random keys to travel under, and `migrateZKKeys`
//! re-wraps each under this deployment's ZK master.
//!
//! Differences from MOSIP, each where MOSIP would store something that cannot work: a base
//! key must unwrap with the master and match its certificate (`KER-KMS-014`), else nothing is
//! stored; a migrated key whose dates would make it current beside the pair's current key here
//! is stored already expired, so the pair keeps one current key (MOSIP stores it and the pair
//! then answers `KER-KMS-003`); `uni_ident` takes the alias, so two keys of a pair from one day
//! do not collide.

use keymgr_crypto::issue::{CertificateIssuer, CertificateProfile, CertificateSpec, issue_certificate};
use keymgr_crypto::{AsymmetricKind, Certificate, DataKey, RsaPrivateKey, SignAlgorithm, SigningKey};
use keymgr_db::{AuditEntry, NewKey, StoredKey};
use keymgr_hsm::KeyKind;
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyTier, RefId, UtcTime, WellKnown, base64};
use keymgr_policy::{Decision, decide};

use super::{EXPIRE_NOW, KeyManager, current_keys, not_unique, unique_ident};
use crate::KeymgrError;
use crate::stored_key::unwrap_stored_private_key;

/// The application of the ZK migration key (MOSIP's `KEY_MIGRATE`).
pub(super) const ZK_TEMP_APP: &str = "KEY_MIGRATE";
/// Its reference (`ZK_TEMP_KEY`).
const ZK_TEMP_REF: &str = "ZK_TEMP_KEY";
/// How long the ZK migration key lives (MOSIP: one day).
const ZK_TEMP_DAYS: i64 = 1;
/// Most ZK keys in one `migrateZKKeys` request.
pub const MAX_ZK_MIGRATE_KEYS: usize = 1000;

/// What `migrateBaseKey` and each key of `migrateZKKeys` answer (MOSIP's status texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Stored (`Migration Success`).
    Success,
    /// The key is here already (`Migration Not Allowed. Valid Key Exists.`).
    NotAllowed,
    /// It could not be stored (`Error in Migration`).
    Failed,
}

impl MigrationStatus {
    /// MOSIP's status text.
    pub fn mosip_status(self) -> &'static str {
        match self {
            Self::Success => "Migration Success",
            Self::NotAllowed => "Migration Not Allowed. Valid Key Exists.",
            Self::Failed => "Error in Migration",
        }
    }
}

/// A base key (or a PARTNER certificate) another deployment sends.
pub struct MigratedBaseKey<'a> {
    /// Its pair.
    pub key_ref: KeyRef,
    /// `key_store.private_key` wrapped for this deployment's current master of the application
    /// (reference 3.3); `NA` for a PARTNER certificate.
    pub encrypted_key: &'a str,
    /// Its certificate, PEM.
    pub certificate_pem: &'a str,
    /// Its generation instant (default: the certificate's start).
    pub not_before: Option<UtcTime>,
    /// Its expiry (default: the certificate's end).
    pub not_after: Option<UtcTime>,
    /// Who (audited).
    pub who: &'a str,
}

impl KeyManager {
    /// MOSIP's `migrateBaseKey` (see the module docs).
    pub fn migrate_base_key(&self, key: &MigratedBaseKey<'_>) -> Result<MigrationStatus, KeymgrError> {
        let app = &key.key_ref.app;
        let partner = app.eq_ignore_case(WellKnown::PARTNER_APP);
        let tier = key.key_ref.tier();
        if key.key_ref.reference.is_master()
            || !matches!(tier, KeyTier::Base | KeyTier::DatabaseSigning)
            || self.is_zk_master(&key.key_ref)
            || app.eq_ignore_case(ZK_TEMP_APP)
        {
            return Err(KeymgrError::InvalidRequest(format!(
                "{} is not a base key: only base keys, Ed25519 keys and PARTNER certificates migrate",
                key.key_ref
            )));
        }
        let now = self.clock.now();
        let master = if partner {
            None
        } else {
            let master_ref = KeyRef::master(app.clone());
            let pre = self.pre_expire(&master_ref)?;
            match decide(&self.db.aliases_for(&master_ref)?, now, pre) {
                Decision::Use(a) => Some(a),
                Decision::Ambiguous(v) => return Err(not_unique(&master_ref, v.len())),
                Decision::Generate => {
                    return Err(KeymgrError::NoUniqueAlias(format!("no current master of {app}")));
                }
            }
        };
        let certificate = Certificate::from_pem(key.certificate_pem.as_bytes())
            .map_err(|e| KeymgrError::CertificateParse(e.to_string()))?;
        let thumbprint = certificate.thumbprint();
        let existing = self.db.aliases_for(&key.key_ref)?;
        if existing.iter().any(|a| a.thumbprint == Some(thumbprint)) {
            return Ok(MigrationStatus::NotAllowed);
        }
        let encrypted = key.encrypted_key.trim();
        match &master {
            None if encrypted != StoredKey::NO_PRIVATE_KEY => {
                return Err(KeymgrError::InvalidRequest(
                    "a PARTNER certificate migrates without a private key (encryptedKeyData NA)".into(),
                ));
            }
            None => {}
            Some(m) => {
                // The key must open with our master and be the certificate's.
                let master_cert = self.hsm_certificate(&m.alias)?;
                let modulus_len = master_cert.rsa_public_key()?.modulus_len();
                let pkcs8 = unwrap_stored_private_key(encrypted, modulus_len, |w| {
                    self.keystore.rsa_oaep_unwrap(&m.alias, w).map_err(KeymgrError::Keystore)
                })
                .map_err(|_| {
                    KeymgrError::InvalidRequest(
                        "encryptedKeyData does not open with the current master".into(),
                    )
                })?;
                let public = if tier == KeyTier::DatabaseSigning {
                    SigningKey::from_pkcs8(AsymmetricKind::Ed25519, pkcs8).and_then(|k| k.public_key_spki())
                } else {
                    RsaPrivateKey::from_pkcs8_der(pkcs8.expose())
                        .and_then(|k| k.public_key())
                        .map(|k| k.spki_der().to_vec())
                }
                .map_err(|_| KeymgrError::CertificateKeyMismatch)?;
                if public != certificate.spki_der() {
                    return Err(KeymgrError::CertificateKeyMismatch);
                }
            }
        }
        let alias = uuid::Uuid::new_v4().to_string();
        let generated_at = key.not_before.unwrap_or_else(|| certificate.not_before());
        let mut expires_at = key.not_after.unwrap_or_else(|| certificate.not_after());
        if expires_at <= generated_at {
            return Err(KeymgrError::InvalidRequest("notAfter must be after notBefore".into()));
        }
        let record = |expires_at| KeyAlias {
            alias: alias.clone(),
            key_ref: key.key_ref.clone(),
            generated_at,
            expires_at,
            thumbprint: Some(thumbprint),
            unique_ident: Some(unique_ident(&key.key_ref, generated_at, &alias)),
        };
        let stored = StoredKey {
            alias: alias.clone(),
            master_alias: master.as_ref().map_or_else(|| alias.clone(), |m| m.alias.clone()),
            private_key: encrypted.to_owned(),
            certificate: certificate.to_pem(),
        };
        let result = self.db.with_generation_lock(&key.key_ref, |tx| {
            let aliases = tx.aliases_for(&key.key_ref)?;
            if aliases.iter().any(|a| a.thumbprint == Some(thumbprint)) {
                return Ok(MigrationStatus::NotAllowed);
            }
            // One current key per pair, now and later: when the migrated key's validity overlaps
            // that of a key here that is current or yet to come, the key here stays and the
            // migrated one is stored expired (it decrypts, it never seals).
            let overlaps = aliases
                .iter()
                .any(|a| now < a.expires_at && a.generated_at < expires_at && generated_at < a.expires_at);
            if now < expires_at && overlaps {
                // Expired a minute ago, or, for a key dated in the future, never valid.
                expires_at = now.plus(-EXPIRE_NOW).max(generated_at);
            }
            tx.insert_key(&NewKey { alias: &record(expires_at), stored: Some(&stored), actor: key.who })?;
            Ok::<_, KeymgrError>(MigrationStatus::Success)
        });
        self.forget_pair(&key.key_ref);
        let status = result?;
        if status == MigrationStatus::Success {
            self.db.append_audit(&AuditEntry {
                time: now,
                actor: key.who.to_owned(),
                action: "key_migrated".into(),
                app_id: Some(key.key_ref.app.to_string()),
                ref_id: Some(key.key_ref.reference.to_string()),
                key_alias: Some(alias),
                detail: Some(format!("thumbprint {}", thumbprint.to_hex())),
            })?;
        }
        Ok(status)
    }

    /// MOSIP's `getZKTempCertificate`: the certificate (PEM) of the current ZK migration key,
    /// a one-day RSA-2048 key in the keystore, self-signed with CN `ZKKeysSelfSignedKey`; made
    /// when there is none (an expired one is removed from the keystore first).
    pub fn zk_temp_certificate(&self) -> Result<String, KeymgrError> {
        let key_ref = KeyRef::new(AppId::new(ZK_TEMP_APP)?, RefId::new(ZK_TEMP_REF)?);
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            match current_keys(&aliases, now, 0).as_slice() {
                [one] => return Ok(self.hsm_certificate(&one.alias)?.to_pem()),
                [] => {}
                several => return Err(not_unique(&key_ref, several.len())),
            }
            for old in &aliases {
                // Gone already, or never made: nothing to remove.
                let _ = self.keystore.destroy(&old.alias);
            }
            let alias = uuid::Uuid::new_v4().to_string();
            let spki = self
                .keystore
                .generate(&alias, KeyKind::Asymmetric(AsymmetricKind::Rsa2048))?
                .ok_or_else(|| KeymgrError::Crypto("the keystore returned no public key".into()))?;
            let made = (|| {
                let expires_at = now.plus_days(ZK_TEMP_DAYS);
                let spec = CertificateSpec {
                    subject: keymgr_crypto::issue::DistinguishedNameSpec {
                        common_name: "ZKKeysSelfSignedKey".into(),
                        ..self.config.default_subject.clone()
                    },
                    not_before: now,
                    not_after: expires_at,
                    profile: CertificateProfile::Encryption,
                };
                let sign = |m: &[u8]| {
                    self.keystore
                        .sign(&alias, SignAlgorithm::Rs256, m)
                        .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
                };
                let cert = issue_certificate(
                    &spec,
                    &spki,
                    &CertificateIssuer { certificate: None, public_key_spki: &spki, sign: &sign },
                )?;
                self.keystore.store_certificate(&alias, cert.der())?;
                let record = KeyAlias {
                    alias: alias.clone(),
                    key_ref: key_ref.clone(),
                    generated_at: now,
                    expires_at,
                    thumbprint: Some(cert.thumbprint()),
                    unique_ident: Some(unique_ident(&key_ref, now, &alias)),
                };
                tx.insert_key(&NewKey { alias: &record, stored: None, actor: &self.config.actor })?;
                Ok(cert.to_pem())
            })();
            if made.is_err() {
                let _ = self.keystore.destroy(&alias);
            }
            made
        });
        self.forget_pair(&key_ref);
        result
    }

    /// MOSIP's `migrateZKKeys`: each `(index, base64url(RSA-OAEP-SHA256(temp key, random
    /// key)))` is opened with the ZK migration key and stored wrapped by this deployment's ZK
    /// master under its index (`cr_by` System-Migrator); an index that exists is not allowed,
    /// one that does not open failed. `purge` removes the migration key afterwards.
    pub fn migrate_zk_keys(
        &self,
        keys: &[(i64, String)],
        purge: bool,
        who: &str,
    ) -> Result<Vec<(i64, MigrationStatus)>, KeymgrError> {
        if keys.len() > MAX_ZK_MIGRATE_KEYS {
            return Err(KeymgrError::InvalidRequest(format!(
                "at most {MAX_ZK_MIGRATE_KEYS} keys per request"
            )));
        }
        let temp_ref = KeyRef::new(AppId::new(ZK_TEMP_APP)?, RefId::new(ZK_TEMP_REF)?);
        let now = self.clock.now();
        let temp = match current_keys(&self.db.aliases_for(&temp_ref)?, now, 0).as_slice() {
            [one] => (*one).clone(),
            other => return Err(not_unique(&temp_ref, other.len())),
        };
        let master = self.zk_master_alias()?;
        let (zk_app, zk_ref) = &self.config.zk.master;
        let fill_lock =
            KeyRef::new(AppId::new(zk_app.as_str())?, RefId::new(format!("{zk_ref}_RANDOM_KEYS"))?);
        // Under the lock `prepare_zk` fills under, so an index is checked and taken at once.
        let (answers, stored) = self.db.with_generation_lock(&fill_lock, |tx| {
            let mut answers = Vec::with_capacity(keys.len());
            let mut rows: Vec<(i64, String)> = Vec::new();
            for (index, encrypted) in keys {
                let rewrapped = base64::decode(encrypted.trim().as_bytes(), 4096)
                    .ok()
                    .and_then(|wrapped| self.keystore.rsa_oaep_unwrap(&temp.alias, &wrapped).ok())
                    .and_then(|random| DataKey::from_slice(random.expose()).ok())
                    .and_then(|random| self.keystore.aes_ecb_encrypt(&master, random.expose()).ok())
                    .map(|wrapped| base64::encode_standard(&wrapped));
                let status = match rewrapped {
                    _ if !(0..=i64::from(i32::MAX)).contains(index) => MigrationStatus::Failed,
                    None => MigrationStatus::Failed,
                    Some(_) if rows.iter().any(|(i, _)| i == index) => MigrationStatus::NotAllowed,
                    Some(value) => match tx.zk_key(*index)? {
                        // The same key sent again (AES-ECB is deterministic): a retry, done.
                        Some(existing) if existing == value => MigrationStatus::Success,
                        Some(_) => MigrationStatus::NotAllowed,
                        None => {
                            rows.push((*index, value));
                            MigrationStatus::Success
                        }
                    },
                };
                answers.push((*index, status));
            }
            tx.insert_zk_keys(&rows, "System-Migrator")?;
            Ok::<_, KeymgrError>((answers, rows.len()))
        })?;
        *self.zk_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.db.append_audit(&AuditEntry {
            time: now,
            actor: who.to_owned(),
            action: "zk_keys_migrated".into(),
            app_id: None,
            ref_id: None,
            key_alias: Some(temp.alias.clone()),
            detail: Some(format!("{stored} of {} random keys stored; purge {purge}", keys.len())),
        })?;
        if purge {
            // Expired first, then destroyed: no replica hands out a certificate of a key that is gone.
            self.db.with_generation_lock(&temp_ref, |tx| {
                tx.set_expiry(&temp.alias, now.plus(-EXPIRE_NOW), who)
            })?;
            self.forget_pair(&temp_ref);
            self.keystore.destroy(&temp.alias)?;
        }
        Ok(answers)
    }
}
