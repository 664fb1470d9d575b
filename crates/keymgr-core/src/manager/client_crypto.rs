//! MOSIP's client crypto (`/cssign`, `/csverifysign`, `/tpmencrypt`, `/tpmdecrypt`,
//! `/tpmsigning/publickey`, `/tpmencryption/publickey`; reference section 9): encryption for a
//! registration client's public key (TPM, ANDROID or LOCAL), checks of a client's signatures,
//! and signing and decryption with the server's own client key.
//!
//! MOSIP's server, having no TPM, keeps that key in files (`.mosipkeys/reg.key` in its working
//! folder, in clear) or, optionally, uses the RESIDENT master, which would let any caller of
//! `/cssign` forge certificates signed by that master (a certificate's signature is PKCS#1
//! v1.5 SHA-256 too). Here it is one RSA-2048 key of its own in the keystore (the HSM in
//! production), made on first use under the generation lock, never a key that certifies keys.
//!
//! Encrypted values are `wrapped key (256) || iv (12) || aad (32) || ciphertext || tag (16)`,
//! AES-256-GCM; decryption also reads MOSIP's older layout, `iv (16) || aad (12)`.

use keymgr_crypto::client_keys::{ClientKind, ClientPublicKey};
use keymgr_crypto::{DataKey, SignAlgorithm, aead, fill_random};
use keymgr_db::AuditEntry;
use keymgr_hsm::{HsmError, KeyKind};
use keymgr_model::{AppId, KeyRef, RefId, WellKnown};
use zeroize::Zeroizing;

use super::KeyManager;
use crate::KeymgrError;

/// The keystore alias of the server's client-crypto key (never a UUID, so never a
/// `key_alias` row's).
pub const CLIENT_CRYPTO_ALIAS: &str = "keymgr-client-crypto";

/// Length of a wrapped key: the server key and the keys encrypted for are RSA-2048.
const WRAPPED_LEN: usize = keymgr_crypto::RSA_2048_MODULUS_LEN;
/// MOSIP's layout: 12-byte IV, 32-byte aad.
const IV_LEN: usize = 12;
const AAD_LEN: usize = 32;
/// MOSIP's older layout, still read: 16-byte IV, 12-byte aad.
const OLD_IV_LEN: usize = 16;
const OLD_AAD_LEN: usize = 12;

impl KeyManager {
    /// Signs `data` with the server's client key: RSASSA-PKCS1-v1_5 with SHA-256 (`/cssign`).
    pub fn client_sign(&self, data: &[u8]) -> Result<Vec<u8>, KeymgrError> {
        self.client_crypto_key()?;
        self.keystore.sign(CLIENT_CRYPTO_ALIAS, SignAlgorithm::Rs256, data).map_err(KeymgrError::Keystore)
    }

    /// Whether `signature` over `data` holds for a client's `public_key` (`/csverifysign`): a
    /// TPM key (`TPMT_PUBLIC`) whatever `kind` says, else an RSA `SubjectPublicKeyInfo`.
    /// A key that cannot be read is `KER-CC-004`.
    pub fn client_verify(
        &self,
        kind: ClientKind,
        public_key: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<bool, KeymgrError> {
        let key = ClientPublicKey::parse(public_key, kind).map_err(client_error)?;
        key.verify(data, signature).map_err(client_error)
    }

    /// Encrypts `data` for a client's RSA-2048 `public_key` (`/tpmencrypt`) with a fresh
    /// AES-256 key wrapped by the client kind's RSA-OAEP padding.
    pub fn client_encrypt(
        &self,
        kind: ClientKind,
        public_key: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, KeymgrError> {
        let key = ClientPublicKey::parse(public_key, kind).map_err(client_error)?;
        if key.modulus_len().map_err(client_error)? != WRAPPED_LEN {
            return Err(KeymgrError::ClientCrypto("the client key must be RSA-2048".into()));
        }
        let data_key = DataKey::generate()?;
        let wrapped = key.wrap(data_key.expose()).map_err(client_error)?;
        let mut iv_aad = [0u8; IV_LEN + AAD_LEN];
        fill_random(&mut iv_aad)?;
        let (iv, aad) = iv_aad.split_at(IV_LEN);
        let mut out = Vec::with_capacity(WRAPPED_LEN + IV_LEN + AAD_LEN + data.len() + aead::TAG_LEN);
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&iv_aad);
        let mut sealed = data.to_vec();
        let tag = aead::seal_in_place(&data_key, iv, aad, &mut sealed)?;
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts what was encrypted for the server's client key (`/tpmdecrypt`), in MOSIP's
    /// layout or its older one. Every failure is one `KER-CC-004`.
    pub fn client_decrypt(&self, value: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeymgrError> {
        self.client_crypto_key()?;
        let failed = || KeymgrError::ClientCrypto("the value could not be decrypted".into());
        let (wrapped, rest) = value.split_at_checked(WRAPPED_LEN).ok_or_else(failed)?;
        let unwrapped = match self.keystore.rsa_oaep_unwrap(CLIENT_CRYPTO_ALIAS, wrapped) {
            Ok(key) if key.len() == DataKey::LEN => Some(key),
            Ok(_) | Err(HsmError::UnwrapFailed) => None,
            Err(other) => return Err(KeymgrError::Keystore(other)),
        };
        // A key RSA refused still takes both AES-GCM passes, under a random key.
        let data_key = match &unwrapped {
            Some(key) => DataKey::from_slice(key.expose())?,
            None => DataKey::generate()?,
        };
        for (iv_len, aad_len) in [(IV_LEN, AAD_LEN), (OLD_IV_LEN, OLD_AAD_LEN)] {
            let Some((iv, rest)) = rest.split_at_checked(iv_len) else { continue };
            let Some((aad, sealed)) = rest.split_at_checked(aad_len) else { continue };
            let Some(split) = sealed.len().checked_sub(aead::TAG_LEN) else { continue };
            let (ciphertext, tag) = sealed.split_at(split);
            let Ok(tag) = <[u8; aead::TAG_LEN]>::try_from(tag) else { continue };
            let mut plain = Zeroizing::new(ciphertext.to_vec());
            let opened = aead::open_in_place(&data_key, iv, aad, &mut plain, &tag);
            if opened.is_ok() && unwrapped.is_some() {
                return Ok(plain);
            }
        }
        Err(failed())
    }

    /// The server's client key as a DER `SubjectPublicKeyInfo` (`/tpmsigning/publickey` and
    /// `/tpmencryption/publickey`: one key signs and decrypts, as MOSIP's non-TPM server).
    pub fn client_public_key(&self) -> Result<Vec<u8>, KeymgrError> {
        self.client_crypto_key()
    }

    /// The server's client key, made in the keystore on first use: under the generation
    /// lock, so that replicas sharing a token make it once, and audited.
    fn client_crypto_key(&self) -> Result<Vec<u8>, KeymgrError> {
        let existing = || match self.keystore.public_key(CLIENT_CRYPTO_ALIAS) {
            Ok(spki) => Ok(Some(spki)),
            Err(HsmError::NoSuchAlias(_)) => Ok(None),
            Err(other) => Err(KeymgrError::Keystore(other)),
        };
        if let Some(spki) = existing()? {
            return Ok(spki);
        }
        let lock = KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new("CLIENT_CRYPTO")?);
        self.db.with_generation_lock(&lock, |tx| {
            if let Some(spki) = existing()? {
                return Ok(spki);
            }
            let spki = self
                .keystore
                .generate(CLIENT_CRYPTO_ALIAS, KeyKind::Asymmetric(keymgr_crypto::AsymmetricKind::Rsa2048))?
                .ok_or_else(|| KeymgrError::Crypto("the keystore made no public key".into()))?;
            tx.append_audit(&AuditEntry {
                time: self.clock.now(),
                actor: self.config.actor.clone(),
                action: "client_crypto_key_generated".into(),
                app_id: None,
                ref_id: None,
                key_alias: Some(CLIENT_CRYPTO_ALIAS.into()),
                detail: Some("RSA-2048 key of /cssign and /tpmdecrypt".into()),
            })?;
            Ok(spki)
        })
    }
}

fn client_error(e: keymgr_crypto::CryptoError) -> KeymgrError {
    KeymgrError::ClientCrypto(e.to_string())
}
