//! Key migration out of this deployment, what MOSIP's migration job does on the old side
//! (reference section 10): base keys re-wrapped for the target's current master of their
//! application, PARTNER certificates as they are (`NA`), and the ZK random keys RSA-OAEP-wrapped
//! for the target's one-day migration key. The transport (`keymgr migrate-keys`) is the
//! binary's; this module decides what goes and prepares each item, reading only.
//!
//! What stays, and why: ROOT, the masters and the keystore's signing keys (the target has its
//! own hierarchy; the target's masters are what the base keys are re-wrapped for); compromised
//! and destroyed keys (the format carries no state, so the target would take a compromised
//! key for a good one); certificates of another domain outside PARTNER (MOSIP's endpoint takes
//! `NA` only there: they are uploaded again with `uploadOtherDomainCertificate`).

use keymgr_crypto::{Certificate, DataKey};
use keymgr_db::StoredKey;
use keymgr_model::{KeyRef, KeyState, KeyTier, UtcTime, WellKnown, base64};

use super::KeyManager;
use super::migration::ZK_TEMP_APP;
use crate::KeymgrError;
use crate::stored_key::{unwrap_stored_private_key, wrap_private_key_for_store};

/// What one key sends: the fields of `migrateBaseKey` but the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingKey {
    /// Its alias here (the journal's name for it; the target makes its own).
    pub alias: String,
    /// Its pair.
    pub key_ref: KeyRef,
    /// Its generation instant (`notBefore`).
    pub not_before: UtcTime,
    /// Its expiry (`notAfter`).
    pub not_after: UtcTime,
    /// Its certificate, PEM (`certificateData`).
    pub certificate_pem: String,
    /// The alias of the master that wraps it here; `None` for a PARTNER certificate.
    pub master_alias: Option<String>,
}

/// A key that stays, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayingKey {
    /// Its alias.
    pub alias: String,
    /// Its pair.
    pub key_ref: KeyRef,
    /// Why it does not migrate.
    pub reason: &'static str,
}

/// Everything a migration to another deployment would send, in a stable order (by pair, then
/// generation).
#[derive(Debug, Clone, Default)]
pub struct MigrationInventory {
    /// Base keys and Ed25519 keys, each re-wrapped when sent.
    pub base_keys: Vec<OutgoingKey>,
    /// PARTNER certificates, sent with `NA`.
    pub partner_certificates: Vec<OutgoingKey>,
    /// Keys of the database that stay, with the reason.
    pub staying: Vec<StayingKey>,
    /// Keys in the keystore (ROOT, masters, signing keys, the ZK master): the target has its own.
    pub keystore_keys: usize,
    /// ZK random keys (`data_encrypt_keystore` rows).
    pub zk_keys: usize,
}

impl KeyManager {
    /// What a migration to another deployment sends (see the module docs).
    pub fn migration_inventory(&self) -> Result<MigrationInventory, KeymgrError> {
        let mut aliases = self.db.all_aliases()?;
        aliases.sort_by(|a, b| {
            (a.key_ref.app.as_str(), a.key_ref.reference.as_str(), a.generated_at, &a.alias).cmp(&(
                b.key_ref.app.as_str(),
                b.key_ref.reference.as_str(),
                b.generated_at,
                &b.alias,
            ))
        });
        let states = self.db.key_states()?;
        let state_of = |alias: &str| states.iter().find(|s| s.alias == alias).map(|s| s.state);
        let database_held: Vec<String> = aliases
            .iter()
            .filter(|a| matches!(a.key_ref.tier(), KeyTier::Base | KeyTier::DatabaseSigning))
            .map(|a| a.alias.clone())
            .collect();
        let rows = self.db.stored_keys(&database_held)?;
        let mut inventory = MigrationInventory { zk_keys: self.db.zk_count()?, ..Default::default() };
        for key in aliases {
            let tier = key.key_ref.tier();
            let zk_temp = key.key_ref.app.eq_ignore_case(ZK_TEMP_APP);
            if !matches!(tier, KeyTier::Base | KeyTier::DatabaseSigning) || self.is_zk_master(&key.key_ref) {
                if !zk_temp {
                    inventory.keystore_keys += 1;
                }
                continue;
            }
            let stay = |reason| StayingKey { alias: key.alias.clone(), key_ref: key.key_ref.clone(), reason };
            if zk_temp {
                continue;
            }
            let Some(row) = rows.iter().find(|r| r.alias == key.alias) else {
                // A symmetric key of generateSymmetricKey lives in the keystore.
                inventory.keystore_keys += 1;
                continue;
            };
            match state_of(&key.alias) {
                Some(KeyState::Compromised) => {
                    inventory.staying.push(stay("compromised: the target would take it for a good key"));
                    continue;
                }
                Some(KeyState::Destroyed) => {
                    inventory.staying.push(stay("destroyed"));
                    continue;
                }
                _ => {}
            }
            let partner = key.key_ref.app.eq_ignore_case(WellKnown::PARTNER_APP);
            let outgoing = |master_alias| OutgoingKey {
                alias: key.alias.clone(),
                key_ref: key.key_ref.clone(),
                not_before: key.generated_at,
                not_after: key.expires_at,
                certificate_pem: row.certificate.clone(),
                master_alias,
            };
            if row.private_key == StoredKey::DESTROYED {
                inventory.staying.push(stay("destroyed"));
            } else if row.private_key == StoredKey::NO_PRIVATE_KEY || row.master_alias == row.alias {
                if partner {
                    inventory.partner_certificates.push(outgoing(None));
                } else {
                    inventory.staying.push(stay(
                        "a certificate of another domain outside PARTNER: upload it again with uploadOtherDomainCertificate",
                    ));
                }
            } else {
                inventory.base_keys.push(outgoing(Some(row.master_alias.clone())));
            }
        }
        Ok(inventory)
    }

    /// `encryptedKeyData` of `key` for the target whose current master of the key's application
    /// has the certificate `target_master`: the private key unwrapped by its master here and
    /// wrapped for the target's (reference 3.3); `NA` for a PARTNER certificate.
    pub fn export_base_key(
        &self,
        key: &OutgoingKey,
        target_master: &Certificate,
    ) -> Result<String, KeymgrError> {
        if key.master_alias.is_none() {
            return Ok(StoredKey::NO_PRIVATE_KEY.to_owned());
        }
        let row = self.stored_private_key(&key.alias)?;
        // The row names its master as it is now: a compromise response may have re-wrapped it
        // since the inventory was taken.
        let master_alias = row.master_alias;
        let modulus_len = self.hsm_certificate(&master_alias)?.rsa_public_key()?.modulus_len();
        let pkcs8 = unwrap_stored_private_key(&row.private_key, modulus_len, |w| {
            self.keystore.rsa_oaep_unwrap(&master_alias, w).map_err(KeymgrError::Keystore)
        })?;
        wrap_private_key_for_store(&pkcs8, &target_master.rsa_public_key()?)
    }

    /// Up to `limit` ZK random keys with ids above `after`, each unwrapped by the ZK master and
    /// RSA-OAEP-SHA256-wrapped for `target_temp` (the target's `getZKTempCertificate`), as
    /// `(keyIndex, standard base64)` in id order; a key that does not unwrap is its own error,
    /// so one damaged row does not hold back the others.
    #[allow(clippy::type_complexity)]
    pub fn export_zk_keys(
        &self,
        after: Option<i64>,
        limit: i64,
        target_temp: &Certificate,
    ) -> Result<Vec<(i64, Result<String, KeymgrError>)>, KeymgrError> {
        let rows = self.db.zk_keys_after(after, limit)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let master = self.zk_master_alias()?;
        let public = target_temp.rsa_public_key()?;
        let wrap = |index: i64, stored: &str| -> Result<String, KeymgrError> {
            let wrapped = base64::decode(stored.trim().as_bytes(), 64)
                .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index} is not base64")))?;
            let random = self
                .keystore
                .aes_ecb_decrypt(&master, &wrapped)
                .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index} does not unwrap")))?;
            let random = DataKey::from_slice(random.expose())
                .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index}")))?;
            Ok(base64::encode_standard(&public.oaep_wrap(random.expose())?))
        };
        Ok(rows.into_iter().map(|(index, stored)| (index, wrap(index, &stored))).collect())
    }
}

impl KeyManager {
    /// Records a migration run to another deployment (`keys_migrated_out`): who, where to, and
    /// the run's counts, in the audit trail.
    pub fn audit_migration_out(&self, who: &str, target: &str, summary: &str) -> Result<(), KeymgrError> {
        self.db.append_audit(&keymgr_db::AuditEntry {
            time: self.clock.now(),
            actor: who.to_owned(),
            action: "keys_migrated_out".into(),
            app_id: None,
            ref_id: None,
            key_alias: None,
            detail: Some(format!("to {target}: {summary}")),
        })?;
        Ok(())
    }
}
