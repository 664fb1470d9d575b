//! Zero-knowledge encryption of identity data, byte-compatible with MOSIP (reference section 8).
//!
//! * The ZK master is an AES-256 key in the keystore (KERNEL / IDENTITY_CACHE by default), one
//!   current (`KER-ZKC-002` otherwise). `data_encrypt_keystore` holds random keys, each the
//!   standard base64 of AES-256-ECB(master, 32 random bytes); [`KeyManager::prepare_zk`] fills
//!   it, batched and idempotent.
//! * A resident's key is AES-256-ECB(random key, SHA-256(UTF-8 id)): the key manager can derive
//!   it only with the id in hand, and an administrator reading the database sees only wrapped
//!   random keys.
//! * A value is `base64url(index (4, big-endian) || nonce (12) || aad (32) || AES-GCM(ct) ||
//!   tag (16))` under the derived key, nonce and aad random per value.
//! * `encryptedRandomKey`: for each configured reference of the public-key application (IDA /
//!   PUBLIC_KEY), `base64url(thumbprint (32) || RSA-OAEP-SHA256(random key))`, joined by `.`,
//!   so ID authentication can re-derive keys where its private key lives
//!   (`zkReEncryptRandomKey`).
//!
//! The random key of a request is chosen with the operating system's CSPRNG (MOSIP uses
//! `ThreadLocalRandom`); random and derived keys live in zeroizing buffers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keymgr_crypto::aead::{NONCE_LEN, TAG_LEN};
use keymgr_crypto::{DataKey, aead, aes256_ecb_encrypt, fill_random, sha256};
use keymgr_model::{AppId, KeyRef, RefId, Thumbprint, base64};
use zeroize::Zeroizing;

use super::lifecycle::IfCompromised;
use super::{KeyManager, current_keys};
use crate::KeymgrError;

/// Length of the key index in front of a value.
const INDEX_LEN: usize = 4;
/// Length of the random GCM associated data of a value.
const AAD_LEN: usize = 32;
/// A value shorter than this, or as long, holds no ciphertext (`ZK-DEC-001`).
const HEADER_LEN: usize = INDEX_LEN + NONCE_LEN + AAD_LEN;
/// Random keys per transaction when the key generator fills `data_encrypt_keystore`.
const FILL_BATCH: usize = 1000;
/// How long the list of active random key ids is reused before it is read again.
const IDS_TTL: Duration = Duration::from_secs(300);
/// Most distinct random keys the values of one `zkDecrypt` may use (a record's values share
/// one; each costs a database read and a keystore operation).
const MAX_KEYS_PER_REQUEST: usize = 16;
/// Most attributes in one request.
pub const MAX_ZK_ATTRIBUTES: usize = 1024;

/// One identity attribute: its name and value (plaintext or ZK value).
#[derive(Clone)]
pub struct ZkAttribute {
    /// The attribute's name (`identifier`).
    pub identifier: String,
    /// Its value; a plaintext is zeroed when dropped.
    pub value: Zeroizing<String>,
}

impl std::fmt::Debug for ZkAttribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkAttribute").field("identifier", &self.identifier).finish_non_exhaustive()
    }
}

/// What `zkEncrypt` answers.
#[derive(Debug, Clone)]
pub struct ZkEncrypted {
    /// The attributes with ZK values.
    pub attributes: Vec<ZkAttribute>,
    /// The random key sealed to each public key of the public-key application, `.`-joined.
    pub encrypted_random_key: String,
    /// The id of the random key (MOSIP's `rankomKeyIndex`).
    pub random_key_index: i64,
}

/// What [`KeyManager::prepare_zk`] found and made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZkPrepared {
    /// Random keys that existed.
    pub existing: u32,
    /// Random keys made by this run.
    pub made: u32,
}

/// The active random key ids, and when they were read.
pub(super) type ZkIds = Option<(Instant, Arc<Vec<i64>>)>;

impl KeyManager {
    /// Makes the ZK master if there is none, and fills `data_encrypt_keystore` up to
    /// `count` random keys (ids from the highest present + 1), `FILL_BATCH` per transaction;
    /// `progress` gets (made so far, to make). Idempotent: a second run makes nothing.
    pub fn prepare_zk(&self, count: u32, progress: &dyn Fn(u32, u32)) -> Result<ZkPrepared, KeymgrError> {
        let (app, reference) = self.zk_master_ref()?;
        self.generate_symmetric_key(&app, &reference, false)?;
        let master = self.zk_master_alias()?;
        // Replicas running the key generator at once fill one sequence of ids: each batch
        // reads the highest id and inserts after it under one lock, in one transaction.
        let fill_lock = KeyRef::new(app, RefId::new(format!("{reference}_RANDOM_KEYS"))?);
        let mut existing = None;
        let mut made = 0u32;
        loop {
            let step = self.db.with_generation_lock(&fill_lock, |tx| {
                let next = tx.zk_max_id()?.map_or(0, |m| m + 1);
                let present = u32::try_from(next).unwrap_or(u32::MAX);
                let batch = count.saturating_sub(present).min(u32::try_from(FILL_BATCH).unwrap_or(u32::MAX));
                let mut rows = Vec::with_capacity(batch as usize);
                for id in next..next + i64::from(batch) {
                    let random = DataKey::generate()?;
                    let wrapped = self.keystore.aes_ecb_encrypt(&master, random.expose())?;
                    rows.push((id, base64::encode_standard(&wrapped)));
                }
                tx.insert_zk_keys(&rows, "System")?;
                Ok::<_, KeymgrError>((present, batch))
            })?;
            let (present, batch) = step;
            let existing = *existing.get_or_insert(present);
            if batch == 0 {
                break;
            }
            made += batch;
            progress(made, count.saturating_sub(existing));
        }
        let existing = existing.unwrap_or(0);
        *self.zk_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(ZkPrepared { existing, made })
    }

    /// MOSIP's `/zkEncrypt`: every attribute of `id` sealed under the key derived from one
    /// random key, chosen per request.
    pub fn zk_encrypt(&self, id: &str, attributes: &[ZkAttribute]) -> Result<ZkEncrypted, KeymgrError> {
        check_request(id, attributes)?;
        let index = self.random_key_index()?;
        let random = self.random_key(index, &self.zk_master_alias()?)?;
        let derived = derive(&random, id)?;
        let index_bytes = u32::try_from(index)
            .map_err(|_| KeymgrError::ZkRandomKey("key index out of range".into()))?
            .to_be_bytes();
        let mut out = Vec::with_capacity(attributes.len());
        for attribute in attributes {
            let plain = attribute.value.as_bytes();
            let mut value = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
            value.extend_from_slice(&index_bytes);
            let mut nonce_aad = [0u8; NONCE_LEN + AAD_LEN];
            fill_random(&mut nonce_aad)?;
            value.extend_from_slice(&nonce_aad);
            value.extend_from_slice(plain);
            let (nonce, aad) = nonce_aad.split_at(NONCE_LEN);
            let body = value.get_mut(HEADER_LEN..).unwrap_or_default();
            let tag =
                aead::seal_in_place(&derived, nonce, aad, body).map_err(|_| KeymgrError::ZkDataCipher)?;
            value.extend_from_slice(&tag);
            out.push(ZkAttribute {
                identifier: attribute.identifier.clone(),
                value: Zeroizing::new(base64::encode(&value)),
            });
        }
        Ok(ZkEncrypted {
            attributes: out,
            encrypted_random_key: self.seal_random_key(&random)?,
            random_key_index: index,
        })
    }

    /// MOSIP's `/zkDecrypt`: each value opened with the key derived from its own random key
    /// and `id`. A value too short to hold ciphertext is `ZK-DEC-001`; one that does not open
    /// (another id, a changed byte) `KER-ZKC-004`; an unknown key index `KER-ZKC-001`.
    pub fn zk_decrypt(&self, id: &str, attributes: &[ZkAttribute]) -> Result<Vec<ZkAttribute>, KeymgrError> {
        check_request(id, attributes)?;
        let master = self.zk_master_alias()?;
        let mut out = Vec::with_capacity(attributes.len());
        let mut keys: Vec<(i64, DataKey)> = Vec::new();
        for attribute in attributes {
            let mut value = Zeroizing::new(
                base64::decode(attribute.value.trim().as_bytes(), self.config.codec.max_envelope_len())
                    .map_err(|e| KeymgrError::ZkMalformedValue(format!("{}: {e}", attribute.identifier)))?,
            );
            if value.len() <= HEADER_LEN {
                return Err(KeymgrError::ZkMalformedValue(format!("{}: too short", attribute.identifier)));
            }
            let index = value
                .get(..INDEX_LEN)
                .and_then(|b| <[u8; INDEX_LEN]>::try_from(b).ok())
                .map(|b| i64::from(u32::from_be_bytes(b)))
                .ok_or_else(|| KeymgrError::ZkMalformedValue(attribute.identifier.clone()))?;
            let at = match keys.iter().position(|(i, _)| *i == index) {
                Some(at) => at,
                None if keys.len() >= MAX_KEYS_PER_REQUEST => {
                    return Err(KeymgrError::InvalidRequest(format!(
                        "values of at most {MAX_KEYS_PER_REQUEST} random keys per request"
                    )));
                }
                None => {
                    keys.push((index, derive(&self.random_key(index, &master)?, id)?));
                    keys.len() - 1
                }
            };
            let derived = &keys.get(at).ok_or(KeymgrError::ZkDerivation)?.1;
            let body_len = value.len().checked_sub(HEADER_LEN + TAG_LEN).ok_or(KeymgrError::ZkDataCipher)?;
            let (header, rest) = value.split_at_mut(HEADER_LEN);
            let (body, tag) = rest.split_at_mut(body_len);
            let tag: [u8; TAG_LEN] = (&*tag).try_into().map_err(|_| KeymgrError::ZkDataCipher)?;
            let nonce = header.get(INDEX_LEN..INDEX_LEN + NONCE_LEN).unwrap_or_default();
            let aad = header.get(INDEX_LEN + NONCE_LEN..).unwrap_or_default();
            aead::open_in_place(derived, nonce, aad, body, &tag).map_err(|_| KeymgrError::ZkDataCipher)?;
            let text = std::str::from_utf8(body).map_err(|_| KeymgrError::ZkDataCipher)?;
            out.push(ZkAttribute {
                identifier: attribute.identifier.clone(),
                value: Zeroizing::new(text.to_owned()),
            });
        }
        Ok(out)
    }

    /// MOSIP's `/zkReEncryptRandomKey`: the part of `encrypted_key` (`.`-joined) sealed to a
    /// key of the public-key application held here is opened with it, and the random key
    /// returned wrapped by this deployment's ZK master (standard base64). `KER-ZKC-006` when no
    /// part names such a key.
    pub fn zk_reencrypt_random_key(&self, encrypted_key: &str, user: &str) -> Result<String, KeymgrError> {
        let invalid = || KeymgrError::ZkInvalidRandomKey;
        let encrypted_key = encrypted_key.trim();
        if encrypted_key.is_empty() {
            return Err(invalid());
        }
        let app = AppId::new(self.config.zk.public_key_app.as_str())?;
        let references: Vec<&str> = self.config.zk.public_key_references.iter().map(|r| r.trim()).collect();
        for part in encrypted_key.split('.').take(16) {
            let Ok(bytes) = base64::decode(part.as_bytes(), 4096) else { continue };
            let Some((thumbprint, wrapped)) = bytes.split_at_checked(Thumbprint::LEN) else { continue };
            let Some(thumbprint) = Thumbprint::from_slice(thumbprint) else { continue };
            let Some(key) = self
                .db
                .aliases_by_thumbprint(&thumbprint)?
                .into_iter()
                .find(|a| a.key_ref.app == app && references.contains(&a.key_ref.reference.as_str()))
            else {
                continue;
            };
            self.admit_decrypt(&key, user, "zkReEncryptRandomKey", IfCompromised::RecoveryWindow)?;
            let random = self
                .base_private_key(&key)?
                .oaep_unwrap(wrapped)
                .map_err(|_| KeymgrError::ZkRandomKey("the random key does not open".into()))?;
            if random.len() != DataKey::LEN {
                return Err(invalid());
            }
            let master = self.zk_master_alias()?;
            let rewrapped = self.keystore.aes_ecb_encrypt(&master, random.expose())?;
            return Ok(base64::encode_standard(&rewrapped));
        }
        Err(invalid())
    }

    /// Whether `key_ref` is the ZK master's pair.
    pub(super) fn is_zk_master(&self, key_ref: &KeyRef) -> bool {
        let (app, reference) = &self.config.zk.master;
        key_ref.app.eq_ignore_case(app) && key_ref.reference.as_str() == reference.as_str()
    }

    /// The application and reference of the ZK master.
    fn zk_master_ref(&self) -> Result<(AppId, RefId), KeymgrError> {
        let (app, reference) = &self.config.zk.master;
        Ok((AppId::new(app.as_str())?, RefId::new(reference.as_str())?))
    }

    /// The alias of the ZK master: the one current key of the pair (its pre-expiry does not
    /// apply: the master is never rotated lazily, since every random key is wrapped by it);
    /// after it expired, still the newest one not destroyed, so identity data stays readable.
    /// `KER-ZKC-002` when several are current or there is none.
    pub(super) fn zk_master_alias(&self) -> Result<String, KeymgrError> {
        let (app, reference) = self.zk_master_ref()?;
        let key_ref = KeyRef::new(app, reference);
        let aliases = self.db.aliases_for(&key_ref)?;
        let now = self.clock.now();
        match current_keys(&aliases, now, 0).as_slice() {
            [one] => return Ok(one.alias.clone()),
            [] => {}
            several => {
                return Err(KeymgrError::ZkNoUniqueAlias(format!(
                    "{} current keys for {key_ref}",
                    several.len()
                )));
            }
        }
        let states = self.stored_states()?;
        aliases
            .iter()
            .rev()
            .find(|a| {
                a.generated_at <= now
                    && states
                        .states
                        .get(&a.alias)
                        .is_none_or(|r| r.state != keymgr_model::KeyState::Destroyed)
            })
            .map(|a| a.alias.clone())
            .ok_or_else(|| KeymgrError::ZkNoUniqueAlias(format!("no key for {key_ref}")))
    }

    /// A random active key id, chosen with the CSPRNG (`KER-ZKC-001` when there is none).
    fn random_key_index(&self) -> Result<i64, KeymgrError> {
        let ids = {
            let mut cached = self.zk_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match &*cached {
                Some((at, ids)) if at.elapsed() < IDS_TTL && !ids.is_empty() => Arc::clone(ids),
                _ => {
                    let ids = Arc::new(self.db.zk_active_ids()?);
                    *cached = Some((Instant::now(), Arc::clone(&ids)));
                    ids
                }
            }
        };
        if ids.is_empty() {
            return Err(KeymgrError::ZkRandomKey("no random keys: run the key generator".into()));
        }
        let mut bytes = [0u8; 8];
        fill_random(&mut bytes)?;
        let len = u64::try_from(ids.len()).unwrap_or(u64::MAX);
        // The modulo bias over 2^64 for at most millions of ids is below 2^-40.
        let pick = usize::try_from(u64::from_le_bytes(bytes) % len).unwrap_or(0);
        ids.get(pick).copied().ok_or_else(|| KeymgrError::ZkRandomKey("no random key".into()))
    }

    /// The random key `index`, unwrapped by the ZK master `master` in the keystore.
    fn random_key(&self, index: i64, master: &str) -> Result<DataKey, KeymgrError> {
        let stored = self
            .db
            .zk_key(index)?
            .ok_or_else(|| KeymgrError::ZkRandomKey(format!("no random key {index}")))?;
        let wrapped = base64::decode(stored.trim().as_bytes(), 64)
            .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index} is not base64")))?;
        let random = self
            .keystore
            .aes_ecb_decrypt(master, &wrapped)
            .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index} does not unwrap")))?;
        DataKey::from_slice(random.expose())
            .map_err(|_| KeymgrError::ZkRandomKey(format!("random key {index}")))
    }

    /// `encryptedRandomKey`: the random key sealed to the current key of each configured
    /// reference of the public-key application.
    fn seal_random_key(&self, random: &DataKey) -> Result<String, KeymgrError> {
        let app = AppId::new(self.config.zk.public_key_app.as_str())?;
        let mut parts = Vec::new();
        for reference in self.config.zk.public_key_references.iter().filter(|r| !r.trim().is_empty()) {
            let key_ref = KeyRef::new(app.clone(), RefId::new(reference.trim())?);
            let current = self.existing_database_key(&key_ref).map_err(|e| match e {
                KeymgrError::NoUniqueAlias(why) | KeymgrError::KeyGenerationNotCompleted(why) => {
                    KeymgrError::ZkNoUniqueAlias(why)
                }
                other => other,
            })?;
            let public = current.certificate.rsa_public_key()?;
            let mut part = current.certificate.thumbprint().as_bytes().to_vec();
            part.extend_from_slice(&public.oaep_wrap(random.expose())?);
            parts.push(base64::encode(&part));
        }
        Ok(parts.join("."))
    }
}

/// `KER-KMS-005` without an id, `KER-ZKC-003` without attributes, and at most
/// [`MAX_ZK_ATTRIBUTES`].
fn check_request(id: &str, attributes: &[ZkAttribute]) -> Result<(), KeymgrError> {
    if id.trim().is_empty() {
        return Err(KeymgrError::InvalidRequest("id should not be null or empty".into()));
    }
    if attributes.is_empty() {
        return Err(KeymgrError::ZkEmptyData);
    }
    if attributes.len() > MAX_ZK_ATTRIBUTES {
        return Err(KeymgrError::InvalidRequest(format!("at most {MAX_ZK_ATTRIBUTES} attributes")));
    }
    Ok(())
}

/// The resident's key: AES-256-ECB(random key, SHA-256(UTF-8 id)).
fn derive(random: &DataKey, id: &str) -> Result<DataKey, KeymgrError> {
    let digest = Zeroizing::new(sha256(id.as_bytes()));
    let derived =
        Zeroizing::new(aes256_ecb_encrypt(random, &*digest).map_err(|_| KeymgrError::ZkDerivation)?);
    DataKey::from_slice(&derived).map_err(|_| KeymgrError::ZkDerivation)
}
