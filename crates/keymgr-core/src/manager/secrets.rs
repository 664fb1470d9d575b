//! Secret-key operations of the [`KeyManager`]: HSM symmetric keys, PIN encryption and the
//! Argon2 hash (reference sections 2 and 4).

use keymgr_crypto::password::{self, ARGON2_SALT_LEN};
use keymgr_crypto::{CryptoError, fill_random};
use keymgr_db::NewKey;
use keymgr_hsm::KeyKind;
use keymgr_model::{AppId, KeyAlias, KeyRef, RefId};
use zeroize::Zeroizing;

use super::{EXPIRE_NOW, KeyManager, current_keys, not_unique};
use crate::KeymgrError;

/// Days a symmetric key made by `generateSymmetricKey` is valid (MOSIP: 3650).
const SYMMETRIC_KEY_DAYS: i64 = 3650;

/// What `generateSymmetricKey` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymmetricKeyStatus {
    /// A current key existed and `force` was not set (`"Key Exists."`).
    Exists,
    /// A new key was made, with this alias (`"Generation Success"`).
    Generated(String),
}

impl SymmetricKeyStatus {
    /// MOSIP's status text.
    pub fn mosip_status(&self) -> &'static str {
        match self {
            Self::Exists => "Key Exists.",
            Self::Generated(_) => "Generation Success",
        }
    }
}

/// An Argon2id hash and the salt it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argon2Hash {
    /// The 32-byte hash.
    pub hash: [u8; 32],
    /// The salt: the caller's, or 24 random bytes.
    pub salt: Vec<u8>,
}

impl KeyManager {
    /// Makes an AES-256 key in the HSM for (app, ref), valid ten years, unless a current one
    /// exists; `force` expires the current one first. MOSIP's `generateSymmetricKey`.
    pub fn generate_symmetric_key(
        &self,
        app: &AppId,
        reference: &RefId,
        force: bool,
    ) -> Result<SymmetricKeyStatus, KeymgrError> {
        if reference.is_master() {
            return Err(KeymgrError::InvalidRequest("referenceId should not be null or empty".into()));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        if force && self.is_zk_master(&key_ref) && self.db.zk_max_id()?.is_some() {
            // Every random key is wrapped by it (AES-ECB, no integrity): a successor would turn
            // every ZK value into garbage.
            return Err(KeymgrError::GenerationNotAllowed(format!(
                "{key_ref} wraps the ZK random keys; it is not replaced while they exist"
            )));
        }
        let pre = self.pre_expire(&key_ref)?;
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            let current = current_keys(&aliases, now, pre);
            match (current.as_slice(), force) {
                ([_, _, ..], _) => {
                    return Err(not_unique(&key_ref, current.len()));
                }
                ([_], false) => return Ok(SymmetricKeyStatus::Exists),
                ([key], true) => tx.set_expiry(&key.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?,
                ([], _) => {}
            }
            let alias = uuid::Uuid::new_v4().to_string();
            self.keystore.generate(&alias, KeyKind::Aes256)?;
            let record = KeyAlias {
                alias: alias.clone(),
                key_ref: key_ref.clone(),
                generated_at: now,
                expires_at: now.plus_days(SYMMETRIC_KEY_DAYS),
                thumbprint: None,
                unique_ident: None,
            };
            if let Err(e) = tx.insert_key(&NewKey { alias: &record, stored: None, actor: &self.config.actor })
            {
                let _ = self.keystore.destroy(&alias);
                return Err(e.into());
            }
            Ok(SymmetricKeyStatus::Generated(alias))
        });
        self.forget_pair(&key_ref);
        result
    }

    /// Encrypts text under a key derived from `pin` (PBKDF2-HMAC-SHA512), MOSIP's
    /// `encryptWithPin`: base64url of `salt || nonce || ciphertext || tag`.
    pub fn encrypt_with_pin(&self, data: &str, pin: &str) -> Result<String, KeymgrError> {
        if data.trim().is_empty() || pin.trim().is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let sealed = password::encrypt_with_pin(pin, data.as_bytes(), self.config.pin_kdf_iterations)?;
        Ok(keymgr_envelope::base64::encode(&sealed))
    }

    /// Decrypts what [`Self::encrypt_with_pin`] (or MOSIP) made. A wrong PIN and damaged data
    /// give one answer. MOSIP's `decryptWithPin`.
    pub fn decrypt_with_pin(&self, data: &str, pin: &str) -> Result<Zeroizing<String>, KeymgrError> {
        if data.trim().is_empty() || pin.trim().is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let sealed = keymgr_envelope::base64::decode(data.as_bytes(), self.config.codec.max_envelope_len())?;
        let plain = password::decrypt_with_pin(pin, &sealed, self.config.pin_kdf_iterations).map_err(
            |e| match e {
                CryptoError::BadLength { .. } => {
                    KeymgrError::InvalidData("too short to be PIN-encrypted data".into())
                }
                _ => KeymgrError::PinDecryptionFailed,
            },
        )?;
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| KeymgrError::InvalidData("decrypted data is not UTF-8 text".into()))?;
        Ok(Zeroizing::new(text))
    }

    /// Argon2id of `input` (UTF-8) with `salt`, or with 24 fresh random bytes when none is
    /// given. MOSIP's `generateArgon2Hash` (t=10, m=64 MiB, p=2 unless configured).
    pub fn argon2_hash(&self, input: &str, salt: Option<&[u8]>) -> Result<Argon2Hash, KeymgrError> {
        if input.trim().is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let salt = match salt {
            Some(s) => s.to_vec(),
            None => {
                let mut s = vec![0u8; ARGON2_SALT_LEN];
                fill_random(&mut s)?;
                s
            }
        };
        // Each hash takes `memory_kib` of memory: at most `argon2_concurrency` at once, so that
        // a burst of requests queues instead of exhausting memory.
        let _slot = self.argon2_slots.acquire();
        let hash =
            password::argon2id_hash(input.as_bytes(), &salt, self.config.argon2).map_err(|e| match e {
                CryptoError::BadLength { .. } => {
                    KeymgrError::InvalidRequest("salt must be at least 8 bytes".into())
                }
                other => other.into(),
            })?;
        Ok(Argon2Hash { hash, salt })
    }
}
