//! JWE operations of the [`KeyManager`]: MOSIP's `/jwtEncrypt` and `/jwtDecrypt`.

use keymgr_crypto::{Certificate, DataKey, RSA_2048_MODULUS_LEN};
use keymgr_jose::{JoseError, JweOptions};
use keymgr_model::{AppId, KeyRef, RefId};
use zeroize::Zeroizing;

use super::lifecycle::IfCompromised;
use super::{Holder, KeyManager};
use crate::KeymgrError;

impl KeyManager {
    /// Encrypts `data` as a compact JWE, MOSIP's `/jwtEncrypt`: a JWS (three dot-separated
    /// parts) is encrypted as it is; anything else is base64url-decoded and must be JSON.
    /// The recipient is the certificate given (one that does not parse is `KER-KMS-013`,
    /// where MOSIP silently falls back), else the current key of (app, ref) with `/encrypt`'s
    /// rules; it must be RSA-2048.
    pub fn jwt_encrypt(
        &self,
        certificate_pem: Option<&str>,
        key: Option<(&AppId, &RefId)>,
        data: &str,
        options: &JweOptions,
    ) -> Result<String, KeymgrError> {
        let data = data.trim();
        if data.is_empty() {
            return Err(KeymgrError::EmptyData);
        }
        let plaintext: Zeroizing<Vec<u8>> = if data.split('.').count() == 3 {
            Zeroizing::new(data.as_bytes().to_vec())
        } else {
            let bytes =
                keymgr_envelope::base64::decode(data.as_bytes(), self.config.codec.max_envelope_len())?;
            let bytes = Zeroizing::new(bytes);
            serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .map_err(|e| KeymgrError::InvalidJson(e.to_string()))?;
            bytes
        };
        // MOSIP falls back to the application's key when the certificate does not parse; a
        // caller who named a recipient must not have data sealed to somebody else.
        let given = certificate_pem
            .map(|pem| {
                Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| KeymgrError::CertificateParse(format!("x509Certificate: {e}")))
            })
            .transpose()?;
        let certificate = match (given, key) {
            (Some(c), _) => c,
            (None, Some((app, reference))) => self.encryption_key(app, reference)?.certificate.clone(),
            (None, None) => {
                return Err(KeymgrError::InvalidRequest(
                    "give x509Certificate, or applicationId and referenceId".into(),
                ));
            }
        };
        let public = certificate.rsa_public_key()?;
        if public.modulus_len() != RSA_2048_MODULUS_LEN {
            return Err(KeymgrError::EncryptNotAllowed("the recipient key is not RSA-2048".into()));
        }
        keymgr_jose::encrypt(&plaintext, &certificate, options)
            .map_err(|e| KeymgrError::JweEncrypt(e.to_string()))
    }

    /// Decrypts a compact JWE sealed for a key of (app, ref), MOSIP's `/jwtDecrypt`: the `kid`
    /// selects the key by thumbprint as `/decrypt` does, master keys are refused
    /// (`KER-KMS-018`), and, unlike MOSIP, the caller must pass the application's
    /// `access_allowed` as for `/decrypt`. Every cryptographic failure is one answer,
    /// `KER-CRY-015`.
    pub fn jwt_decrypt(
        &self,
        app: &AppId,
        reference: &RefId,
        token: &str,
        user: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KeymgrError> {
        if app.eq_ignore_case(keymgr_model::WellKnown::KERNEL_APP)
            && (reference.as_str() == keymgr_model::WellKnown::SIGN_REF
                || reference.as_str() == keymgr_model::WellKnown::IDENTITY_CACHE_REF)
        {
            // MOSIP answers KER-CRY-011 for these, as /encrypt does.
            return Err(KeymgrError::EncryptNotAllowed(format!(
                "{app}/{reference} is not an encryption key"
            )));
        }
        self.check_decrypt_access(app, user)?;
        let max = self.config.codec.max_envelope_len();
        let parsed = keymgr_jose::parse(token, max).map_err(|e| KeymgrError::JweDecrypt(e.to_string()))?;
        let thumbprint = parsed
            .kid_thumbprint()
            .ok_or_else(|| KeymgrError::JweDecrypt("the JWE has no kid naming a key".into()))?;
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let key = self.key_for_thumbprint(&thumbprint, &key_ref)?;
        if key.key_ref.tier().in_hsm() {
            return Err(KeymgrError::DecryptNotAllowedWithKey("a master key".into()));
        }
        self.require_pair(&key, &key_ref)?;
        self.admit_decrypt(&key, user, "jwtDecrypt", IfCompromised::RecoveryWindow)?;
        let failed = || KeymgrError::JweDecrypt(JoseError::DecryptFailed.to_string());
        let cek =
            self.unwrap_data_key(&key, Holder::Database, &parsed.encrypted_key).map_err(|e| match e {
                KeymgrError::DecryptionFailed => failed(),
                other => other,
            })?;
        let cek = DataKey::from_slice(cek.expose()).map_err(|_| failed())?;
        keymgr_jose::decrypt(parsed, &cek, self.config.jwe_max_inflated_len)
            .map_err(|e| KeymgrError::JweDecrypt(e.to_string()))
    }
}
