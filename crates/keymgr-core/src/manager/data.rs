//! Data operations: `/encrypt` seals to a pair's current key; `/decrypt` opens with the key
//! the envelope's thumbprint names, under the decryption scope (only the requested pair's base
//! keys unless configured) and the application's `access_allowed`.

use std::sync::Arc;

use keymgr_crypto::{DataKey, RsaPrivateKey, SecretBytes, aead};
use keymgr_db::StoredKey;
use keymgr_envelope::format::Format;
use keymgr_envelope::{OpenParams, ParsedEnvelope, Plaintext, SealMode};
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyState, RefId, Thumbprint, WellKnown};

use super::lifecycle::IfCompromised;
use super::{Current, KeyManager};
use crate::KeymgrError;
use crate::stored_key::unwrap_stored_private_key;

/// The base64 text of an envelope: borrowed, or owned by the caller (a request's field) and
/// then decoded and opened in its own buffer.
pub(super) enum EnvelopeText<'a> {
    /// Text someone else keeps.
    Borrowed(&'a [u8]),
    /// Text this call may decode in place.
    Owned(Vec<u8>),
}

/// An envelope to open, with who asks and why (for the audit row of a compromised key's use).
pub(super) struct OpenRequest<'a> {
    pub app: &'a AppId,
    pub reference: &'a RefId,
    pub text: EnvelopeText<'a>,
    pub salt: Option<&'a [u8]>,
    pub aad: Option<&'a [u8]>,
    pub user: &'a str,
    pub purpose: &'static str,
}

/// An opened envelope: its plaintext, the state of the key that opened it, the thumbprint it
/// named and its layout.
pub(super) struct Opened {
    pub plain: Plaintext,
    pub state: KeyState,
    pub thumbprint: Thumbprint,
    pub format: Format,
}

/// Where the private key that opens caller bytes is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// A base key: `key_store`, wrapped by its master.
    Database,
    /// A key inside the keystore (only when [`DecryptionScope::keystore_keys`] lists it).
    Keystore,
}

/// Refuses an envelope whose data key could not be unwrapped, after the same AES-GCM pass a
/// good one gets (under a random key, so it fails): how long a refusal takes does not tell a
/// wrapped key that RSA-OAEP refused from a tag that did not verify.
fn reject(parsed: ParsedEnvelope, params: OpenParams<'_>) -> Result<(), KeymgrError> {
    let decoy = SecretBytes::new(DataKey::generate()?.expose().to_vec());
    drop(parsed.open(&decoy, params));
    Ok(())
}

impl KeyManager {
    /// Seals `data` for the current key of (app, ref). Modes as MOSIP: a salt selects the
    /// caller-salt mode, else an aad the legacy mode, else VER_R2. MOSIP's `/encrypt`, as the
    /// base64url text it answers.
    pub fn encrypt(
        &self,
        app: &AppId,
        reference: &RefId,
        data: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
    ) -> Result<String, KeymgrError> {
        Ok(keymgr_model::base64::encode(&self.encrypt_bytes(app, reference, data, salt, aad)?))
    }

    /// [`Self::encrypt`] as the envelope's bytes, for a caller that writes the text itself
    /// (the REST layer encodes it straight into the response body).
    pub fn encrypt_bytes(
        &self,
        app: &AppId,
        reference: &RefId,
        data: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
    ) -> Result<Vec<u8>, KeymgrError> {
        if data.is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let current = self.encryption_key(app, reference)?;
        let recipient = current.recipient.as_ref().ok_or_else(|| {
            KeymgrError::EncryptNotAllowed("the current certificate is not an RSA-2048 key".into())
        })?;
        let mode = match (salt.filter(|s| !s.is_empty()), aad.filter(|a| !a.is_empty())) {
            (Some(salt), aad) => SealMode::CallerSalt { salt, aad: aad.unwrap_or_default() },
            (None, Some(aad)) => SealMode::Legacy { aad },
            (None, None) => SealMode::VerR2,
        };
        Ok(self.config.codec.seal(data, recipient, mode)?)
    }

    /// The current key `/encrypt` seals to: never a master, `KERNEL`/`SIGN` or
    /// `KERNEL`/`IDENTITY_CACHE` (`KER-CRY-011`).
    pub(super) fn encryption_key(&self, app: &AppId, reference: &RefId) -> Result<Arc<Current>, KeymgrError> {
        if reference.is_master() {
            // MOSIP: encryption with a master key is not allowed (KER-CRY-011).
            return Err(KeymgrError::EncryptNotAllowed(format!("{app} master keys do not encrypt data")));
        }
        if app.eq_ignore_case(WellKnown::KERNEL_APP)
            && (reference.as_str() == WellKnown::SIGN_REF
                || reference.as_str() == WellKnown::IDENTITY_CACHE_REF)
        {
            return Err(KeymgrError::EncryptNotAllowed(format!(
                "{app}/{reference} is not an encryption key"
            )));
        }
        self.current_key(&KeyRef::new(app.clone(), reference.clone()))
    }

    /// Opens an envelope sealed for a key of (app, ref), MOSIP's `/decrypt`: the caller
    /// (`user`, the token's preferred user name) must be allowed by the application's
    /// `access_allowed`; the thumbprint selects the key, which must be a base key of the pair
    /// (or another key [`DecryptionScope`] admits). A key held in the keystore answers as a
    /// key of another pair (`KER-KMS-024`): `key_store` rows are envelopes sealed to masters.
    pub fn decrypt(
        &self,
        app: &AppId,
        reference: &RefId,
        text: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
        user: &str,
    ) -> Result<Plaintext, KeymgrError> {
        let text = EnvelopeText::Borrowed(text);
        let request = OpenRequest { app, reference, text, salt, aad, user, purpose: "decrypt" };
        Ok(self.open_envelope(request, IfCompromised::RecoveryWindow)?.plain)
    }

    /// [`Self::decrypt`] of text the caller hands over (a request's `data`): decoded and opened
    /// in its own buffer, so a large packet is not copied.
    pub fn decrypt_owned(
        &self,
        app: &AppId,
        reference: &RefId,
        text: Vec<u8>,
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
        user: &str,
    ) -> Result<Plaintext, KeymgrError> {
        let text = EnvelopeText::Owned(text);
        let request = OpenRequest { app, reference, text, salt, aad, user, purpose: "decrypt" };
        Ok(self.open_envelope(request, IfCompromised::RecoveryWindow)?.plain)
    }

    /// What `/decrypt` and `/rewrap` share: the access rule, the envelope parsed, the key its
    /// thumbprint names within the decryption scope, the key's state ([`Self::admit_decrypt`]
    /// with `if_compromised`), the data key unwrapped and the tag checked. A keystore key never
    /// releases a private key (a `key_store` row is an envelope sealed to a master).
    pub(super) fn open_envelope(
        &self,
        request: OpenRequest<'_>,
        if_compromised: IfCompromised,
    ) -> Result<Opened, KeymgrError> {
        let OpenRequest { app, reference, text, salt, aad, user, purpose } = request;
        self.check_decrypt_access(app, user)?;
        let codec = &self.config.codec;
        let bytes = match text {
            EnvelopeText::Borrowed(text) => keymgr_envelope::base64::decode(text, codec.max_envelope_len())?,
            EnvelopeText::Owned(text) => {
                keymgr_envelope::base64::decode_in_place(text, codec.max_envelope_len())?
            }
        };
        let salt = salt.filter(|s| !s.is_empty());
        // Before any key is tried: a salt the format cannot take is the caller's mistake, the
        // same answer whichever key would have unwrapped.
        if salt.is_some_and(|s| s.len() != aead::NONCE_LEN && s.len() != aead::LEGACY_IV_LEN) {
            return Err(KeymgrError::InvalidData("the salt must be 12 or 16 bytes".into()));
        }
        let parsed = if self.config.decryption.thumbprintless_keys > 0 {
            codec.parse_allowing_no_thumbprint(bytes, salt.is_some())?
        } else {
            codec.parse(bytes, salt.is_some())?
        };
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let format = parsed.layout().format;
        let params = OpenParams { salt, aad: aad.unwrap_or_default() };
        let (key, holder, state, data_key) = match parsed.thumbprint() {
            Some(thumbprint) => {
                let (key, holder) = self.decryption_key(&thumbprint, &key_ref)?;
                let state = self.admit_decrypt(&key, user, purpose, if_compromised)?;
                let data_key = match self.unwrap_data_key(&key, holder, parsed.wrapped_key()) {
                    Ok(data_key) => Some(data_key),
                    Err(KeymgrError::DecryptionFailed) => None,
                    Err(other) => return Err(other),
                };
                (key, holder, state, data_key)
            }
            None => {
                let Some((key, holder, data_key)) =
                    self.thumbprintless_key(&key_ref, parsed.wrapped_key(), if_compromised)?
                else {
                    reject(parsed, params)?;
                    return Err(KeymgrError::DecryptionFailed);
                };
                let state = self.admit_decrypt(&key, user, purpose, if_compromised)?;
                (key, holder, state, Some(data_key))
            }
        };
        let thumbprint = key.thumbprint.ok_or(KeymgrError::UnknownThumbprint)?;
        let plain = match data_key.filter(|k| k.len() == DataKey::LEN) {
            Some(data_key) => parsed.open(&data_key, params)?,
            None => {
                reject(parsed, params)?;
                return Err(KeymgrError::DecryptionFailed);
            }
        };
        if holder == Holder::Keystore && keymgr_crypto::is_private_key_info(&plain) {
            return Err(KeymgrError::DecryptNotAllowedWithKey(
                "a keystore key does not open private keys".into(),
            ));
        }
        Ok(Opened { plain, state, thumbprint, format })
    }

    /// The key that opens an envelope whose key part has no thumbprint (registration clients
    /// before MOSIP 1.1.5), with where it is held and the data key it unwrapped: the pair's
    /// [`DecryptionScope::thumbprintless_keys`] newest keys that may decrypt now, each tried
    /// every time, so that neither the answer nor the number of RSA operations tells which
    /// key, if any, unwrapped. `None` when none did. Only the requested pair's keys are tried,
    /// whatever the scope says of other pairs; its module master only if the scope lists it.
    fn thumbprintless_key(
        &self,
        key_ref: &KeyRef,
        wrapped: &[u8],
        if_compromised: IfCompromised,
    ) -> Result<Option<(KeyAlias, Holder, SecretBytes)>, KeymgrError> {
        let tier = key_ref.tier();
        let holder = if tier.is_signing() {
            return Err(KeymgrError::DecryptNotAllowedWithKey(format!("{key_ref} keys sign")));
        } else if !tier.in_hsm() {
            Holder::Database
        } else if self.config.decryption.keystore_keys.contains(key_ref) {
            Holder::Keystore
        } else {
            return Err(KeymgrError::DecryptNotAllowedWithKey(format!(
                "{key_ref} keys are held in the keystore and do not open envelopes"
            )));
        };
        // Keys that may not decrypt now (destroyed; compromised outside a recovery window) are
        // never tried: their refusal would tell that the envelope was sealed to them.
        let states = self.stored_states()?;
        let now = self.clock.now();
        let may_open = |k: &KeyAlias| match states.states.get(&k.alias) {
            None => true,
            Some(r) => match r.state {
                KeyState::Destroyed => false,
                KeyState::Compromised => {
                    if_compromised == IfCompromised::RecoveryWindow
                        && r.recovery_until.is_some_and(|t| now < t)
                }
                _ => true,
            },
        };
        let mut candidates: Vec<KeyAlias> = self
            .db
            .aliases_for(key_ref)?
            .into_iter()
            .filter(|k| k.thumbprint.is_some() && may_open(k))
            .collect();
        candidates.sort_by_key(|k| std::cmp::Reverse(k.generated_at));
        candidates.truncate(self.config.decryption.thumbprintless_keys);

        let mut found = None;
        for key in candidates {
            match self.unwrap_data_key(&key, holder, wrapped) {
                Ok(data_key) if found.is_none() && data_key.len() == DataKey::LEN => {
                    found = Some((key, data_key))
                }
                Ok(_) | Err(KeymgrError::DecryptionFailed) => {}
                // Refusals that depend on the key, not on the bytes: the key cannot open.
                Err(KeymgrError::KeyDestroyed | KeymgrError::DecryptNotAllowedWithKey(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(found.map(|(key, data_key)| (key, holder, data_key)))
    }

    /// MOSIP's decrypt access rule: the application's `access_allowed` must admit `user`.
    pub(super) fn check_decrypt_access(&self, app: &AppId, user: &str) -> Result<(), KeymgrError> {
        match self.policy(app)? {
            Some(p) if p.access_allowed.allows(user) => Ok(()),
            _ => Err(KeymgrError::DecryptNotAllowed),
        }
    }

    /// MOSIP's thumbprint lookup: the key with that thumbprint, narrowed to the pair when
    /// several share it, which must be a key of the requested application.
    pub(super) fn key_for_thumbprint(
        &self,
        thumbprint: &Thumbprint,
        key_ref: &KeyRef,
    ) -> Result<KeyAlias, KeymgrError> {
        let aliases = match self.by_thumbprint.get(thumbprint) {
            Some(a) => a,
            None => {
                let found = self.db.aliases_by_thumbprint(thumbprint)?;
                if !found.is_empty() {
                    self.by_thumbprint.insert(*thumbprint, found.clone());
                }
                found
            }
        };
        let chosen = match aliases.as_slice() {
            [] => return Err(KeymgrError::UnknownThumbprint),
            [one] => one.clone(),
            several => {
                let mine: Vec<&KeyAlias> = several.iter().filter(|a| &a.key_ref == key_ref).collect();
                match mine.as_slice() {
                    [one] => (*one).clone(),
                    _ => return Err(KeymgrError::SeveralKeysForThumbprint),
                }
            }
        };
        if chosen.key_ref.app != key_ref.app {
            return Err(KeymgrError::ThumbprintNotForPair);
        }
        Ok(chosen)
    }

    /// The key that opens an envelope sealed to `thumbprint` for a request naming `key_ref`,
    /// and where it is held: a base key of the pair (of the application, with
    /// [`DecryptionScope::same_application`]), or a keystore key listed in
    /// [`DecryptionScope::keystore_keys`]. Anything else is `KER-KMS-024`.
    pub(super) fn decryption_key(
        &self,
        thumbprint: &Thumbprint,
        key_ref: &KeyRef,
    ) -> Result<(KeyAlias, Holder), KeymgrError> {
        let key = self.key_for_thumbprint(thumbprint, key_ref)?;
        let scope = &self.config.decryption;
        if key.key_ref.tier().in_hsm() {
            return if scope.keystore_keys.contains(&key.key_ref) {
                Ok((key, Holder::Keystore))
            } else {
                Err(KeymgrError::ThumbprintNotForPair)
            };
        }
        self.require_pair(&key, key_ref)?;
        Ok((key, Holder::Database))
    }

    /// A base key opens only for its own pair, or for its application with
    /// [`DecryptionScope::same_application`].
    pub(super) fn require_pair(&self, key: &KeyAlias, key_ref: &KeyRef) -> Result<(), KeymgrError> {
        if &key.key_ref == key_ref
            || (self.config.decryption.same_application && key.key_ref.app == key_ref.app)
        {
            Ok(())
        } else {
            Err(KeymgrError::ThumbprintNotForPair)
        }
    }

    /// RSA-OAEP-unwraps an envelope's data key with `key`: a base key (from the cache, or from
    /// `key_store` unwrapped by its master in the HSM), or a keystore key that
    /// [`Self::decryption_key`] admitted.
    pub(super) fn unwrap_data_key(
        &self,
        key: &KeyAlias,
        holder: Holder,
        wrapped: &[u8],
    ) -> Result<SecretBytes, KeymgrError> {
        match holder {
            Holder::Database => {
                self.base_private_key(key)?.oaep_unwrap(wrapped).map_err(|_| KeymgrError::DecryptionFailed)
            }
            Holder::Keystore => self.keystore.rsa_oaep_unwrap(&key.alias, wrapped).map_err(|e| match e {
                keymgr_hsm::HsmError::UnwrapFailed => KeymgrError::DecryptionFailed,
                other => KeymgrError::Keystore(other),
            }),
        }
    }

    /// The `key_store` row of `alias`, refused if there is none or its private key was destroyed.
    pub(super) fn stored_private_key(&self, alias: &str) -> Result<StoredKey, KeymgrError> {
        let row = self
            .db
            .stored_key(alias)?
            .ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key_store row for {alias}")))?;
        if row.private_key == StoredKey::DESTROYED {
            return Err(KeymgrError::KeyDestroyed);
        }
        Ok(row)
    }

    /// The private key of a base key, from the cache or unwrapped from its `key_store` row by
    /// its master in the HSM (then cached).
    pub(super) fn base_private_key(&self, key: &KeyAlias) -> Result<RsaPrivateKey, KeymgrError> {
        if key.key_ref.tier().is_signing() {
            return Err(KeymgrError::DecryptNotAllowedWithKey("a signing key".into()));
        }
        if let Some(private) = self.base_keys.get(&key.alias) {
            return Ok(private);
        }
        let row = self.stored_private_key(&key.alias)?;
        if row.private_key == StoredKey::NO_PRIVATE_KEY || row.master_alias == row.alias {
            return Err(KeymgrError::DecryptNotAllowedWithKey("a certificate of another domain".into()));
        }
        let master_cert = self.hsm_certificate(&row.master_alias)?;
        let modulus_len = master_cert.rsa_public_key()?.modulus_len();
        let pkcs8 = unwrap_stored_private_key(&row.private_key, modulus_len, |w| {
            self.keystore.rsa_oaep_unwrap(&row.master_alias, w).map_err(KeymgrError::Keystore)
        })?;
        let private = RsaPrivateKey::from_pkcs8_der(pkcs8.expose())?;
        self.base_keys.insert(key.alias.clone(), private.clone());
        Ok(private)
    }
}
