//! Certificate operations of the [`KeyManager`]: CSRs, installing a CA-signed certificate,
//! other domains' certificates, listing a pair's certificates and its chain.

use keymgr_crypto::issue::{DistinguishedNameSpec, certificate_request};
use keymgr_crypto::{AsymmetricKind, Certificate, SignAlgorithm, SigningKey, pkcs7, sha1_hex_upper, sha256};
use keymgr_db::{NewKey, StoredKey};
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyTier, RefId, UtcTime, WellKnown};

use super::{EXPIRE_NOW, KeyManager, current_keys, not_unique, unique_ident};
use crate::KeymgrError;

/// One certificate of a pair, as `getAllCertificates` lists them.
#[derive(Debug, Clone)]
pub struct CertificateRecord {
    /// The key's alias.
    pub alias: String,
    /// The certificate.
    pub certificate: Certificate,
    /// `key_gen_dtimes` of the key.
    pub issued_at: UtcTime,
    /// `key_expire_dtimes` of the key.
    pub expires_at: UtcTime,
    /// MOSIP's key id: base64url(SHA-256(hex-decoded `uni_ident`)); `None` without `uni_ident`.
    pub key_id: Option<String>,
}

/// A certificate signing request for a pair's current key.
#[derive(Debug, Clone)]
pub struct CsrInfo {
    /// PKCS#10, PEM.
    pub csr_pem: String,
    /// Start of the key's certificate.
    pub issued_at: UtcTime,
    /// End of the key's certificate.
    pub expires_at: UtcTime,
}

/// MOSIP's `keyId` of a key from its `uni_ident`.
pub(super) fn key_id(unique_ident: &str) -> Option<String> {
    let bytes = hex_decode(unique_ident)?;
    Some(keymgr_envelope::base64::encode(&sha256(&bytes)))
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn parse_certificate(pem: &str) -> Result<Certificate, KeymgrError> {
    if pem.trim().is_empty() {
        return Err(KeymgrError::InvalidRequest("certificateData should not be null or empty".into()));
    }
    Certificate::from_pem(pem.as_bytes()).map_err(|e| KeymgrError::CertificateParse(e.to_string()))
}

impl KeyManager {
    /// Every certificate of (app, ref), expired ones too, oldest first. MOSIP's
    /// `getAllCertificates`. Keys without a certificate (symmetric keys) are left out.
    pub fn get_all_certificates(
        &self,
        app: &AppId,
        reference: &RefId,
    ) -> Result<Vec<CertificateRecord>, KeymgrError> {
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let aliases = self.db.aliases_for(&key_ref)?;
        if aliases.is_empty() {
            return Err(KeymgrError::NoUniqueAlias(format!("no key for {key_ref}")));
        }
        let mut out = Vec::with_capacity(aliases.len());
        for a in aliases.into_iter().filter(|a| a.thumbprint.is_some()) {
            let certificate = self.certificate_of(&a)?;
            out.push(CertificateRecord {
                key_id: a.unique_ident.as_deref().and_then(key_id),
                alias: a.alias,
                certificate,
                issued_at: a.generated_at,
                expires_at: a.expires_at,
            });
        }
        Ok(out)
    }

    /// The chain of the current certificate of (app, ref) up to a self-signed ROOT, leaf
    /// first. MOSIP's `getCertificateChain` answers it as PKCS#7 ([`Self::certificate_chain_pem`]).
    pub fn get_certificate_chain(
        &self,
        app: &AppId,
        reference: &RefId,
    ) -> Result<Vec<Certificate>, KeymgrError> {
        let leaf = self.current_key(&KeyRef::new(app.clone(), reference.clone()))?.certificate.clone();
        // Issuers are the app's masters and ROOT keys, expired ones included (an old leaf may
        // have been signed by an earlier master).
        let mut issuers = Vec::new();
        for key_ref in [KeyRef::master(app.clone()), KeyRef::master(AppId::new(WellKnown::ROOT_APP)?)] {
            for a in self.db.aliases_for(&key_ref)? {
                issuers.push(self.hsm_certificate(&a.alias)?);
            }
        }
        // The same path validation as the partner trust store: ROOT's certificates are the
        // anchors, the masters' the intermediates, every certificate valid now.
        let mut store = keymgr_trust::TrustStore::new();
        for cert in &issuers {
            store.add(cert.der()).map_err(|e| KeymgrError::Crypto(format!("a keystore certificate: {e}")))?;
        }
        let path = store
            .validate(leaf.der(), self.clock.now())
            .map_err(|e| KeymgrError::NoUniqueAlias(format!("no certificate chain to ROOT: {e}")))?;
        Ok(path.certificates().map(|c| Certificate::from_der(c.der())).collect::<Result<Vec<_>, _>>()?)
    }

    /// [`Self::get_certificate_chain`] as a certs-only PKCS#7, PEM (`-----BEGIN PKCS7-----`).
    pub fn certificate_chain_pem(&self, app: &AppId, reference: &RefId) -> Result<String, KeymgrError> {
        Ok(pkcs7::certs_only_pem(&self.get_certificate_chain(app, reference)?)?)
    }

    /// A PKCS#10 request for the current key of (app, ref), signed by that key, for a CA to
    /// certify. Subject parts not given come from the configured defaults (CN plain, as
    /// MOSIP). MOSIP's `generateCSR`.
    pub fn generate_csr(
        &self,
        app: &AppId,
        reference: &RefId,
        subject: &DistinguishedNameSpec,
    ) -> Result<CsrInfo, KeymgrError> {
        if app.eq_ignore_case(WellKnown::KERNEL_APP) && reference.as_str() == WellKnown::IDENTITY_CACHE_REF {
            return Err(KeymgrError::CsrNotAllowed(format!("{app}/{reference}")));
        }
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let current = self.current_key(&key_ref)?;
        let defaults = &self.config.default_subject;
        let pick = |given: &String, default: &String| {
            if given.trim().is_empty() { default.clone() } else { given.clone() }
        };
        let subject = DistinguishedNameSpec {
            common_name: pick(&subject.common_name, &defaults.common_name),
            organizational_unit: pick(&subject.organizational_unit, &defaults.organizational_unit),
            organization: pick(&subject.organization, &defaults.organization),
            locality: pick(&subject.locality, &defaults.locality),
            state: pick(&subject.state, &defaults.state),
            country: pick(&subject.country, &defaults.country),
        };
        let spki = current.certificate.spki_der().to_vec();
        let csr_pem = if key_ref.tier() == KeyTier::DatabaseSigning {
            let key = self.database_signing_key(&current.alias)?;
            certificate_request(&subject, &spki, &|m| key.sign(SignAlgorithm::EdDsa, m))?
        } else if !key_ref.tier().in_hsm() {
            let private = self.base_private_key(&current.alias)?;
            let key = SigningKey::from_pkcs8(AsymmetricKind::Rsa2048, private.to_pkcs8_der()?)?;
            certificate_request(&subject, &spki, &|m| key.sign(SignAlgorithm::Rs256, m))?
        } else {
            certificate_request(&subject, &spki, &|m| {
                self.keystore
                    .sign(&current.alias.alias, super::signing_algorithm(&key_ref.reference), m)
                    .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
            })?
        };
        Ok(CsrInfo {
            csr_pem,
            issued_at: current.certificate.not_before(),
            expires_at: current.certificate.not_after(),
        })
    }

    /// Installs a CA-signed certificate for the current key of (app, ref): it must certify the
    /// same public key; the key's dates become the certificate's. MOSIP's `uploadCertificate`.
    pub fn upload_certificate(&self, app: &AppId, reference: &RefId, pem: &str) -> Result<(), KeymgrError> {
        let certificate = parse_certificate(pem)?;
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        self.active_policy(app)?;
        let pre = self.pre_expire(&key_ref)?;
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            let current = current_keys(&aliases, now, pre);
            let [key] = current.as_slice() else {
                return Err(not_unique(&key_ref, current.len()));
            };
            let stored = tx.stored_key(&key.alias)?;
            let existing = match &stored {
                Some(row) => Certificate::from_pem(row.certificate.as_bytes())?,
                None => self.hsm_certificate(&key.alias)?,
            };
            if existing.spki_der() != certificate.spki_der() {
                return Err(KeymgrError::CertificateKeyMismatch);
            }
            let updated = KeyAlias {
                generated_at: certificate.not_before(),
                expires_at: certificate.not_after(),
                thumbprint: Some(certificate.thumbprint()),
                unique_ident: Some(unique_ident(&key_ref, now, &key.alias)),
                ..(*key).clone()
            };
            let pem = certificate.to_pem();
            match stored {
                Some(_) => tx.replace_certificate(&updated, Some(&pem), &self.config.actor)?,
                None => {
                    tx.replace_certificate(&updated, None, &self.config.actor)?;
                    // The HSM write is last: a failure above leaves the token untouched, and
                    // this failing rolls the rows back.
                    self.keystore.store_certificate(&key.alias, certificate.der())?;
                }
            }
            Ok(())
        });
        self.forget_pair(&key_ref);
        result
    }

    /// Stores another domain's certificate (a partner's, IDA's) for (app, ref), replacing a
    /// current one of another domain. MOSIP's `uploadOtherDomainCertificate`.
    pub fn upload_other_domain_certificate(
        &self,
        app: &AppId,
        reference: &RefId,
        pem: &str,
    ) -> Result<(), KeymgrError> {
        if reference.is_master() {
            return Err(KeymgrError::InvalidRequest("referenceId should not be null or empty".into()));
        }
        if app.eq_ignore_case(WellKnown::KERNEL_APP) && reference.as_str() == WellKnown::SIGN_REF {
            return Err(KeymgrError::KernelSignUploadNotAllowed);
        }
        if WellKnown::EC_SIGN_REFS.contains(&reference.as_str()) {
            return Err(KeymgrError::SigningRefNotSupported(reference.to_string()));
        }
        let certificate = parse_certificate(pem)?;
        let key_ref = KeyRef::new(app.clone(), reference.clone());
        let pre = self.pre_expire(&key_ref)?;
        let result = self.db.with_generation_lock(&key_ref, |tx| {
            let now = self.clock.now();
            let aliases = tx.aliases_for(&key_ref)?;
            let current = current_keys(&aliases, now, pre);
            match (current.as_slice(), aliases.first()) {
                ([], None) => {}
                ([], Some(oldest)) => {
                    if tx.stored_key(&oldest.alias)?.is_none() {
                        return Err(KeymgrError::OwnKeyExists(key_ref.to_string()));
                    }
                }
                ([key], _) => {
                    let row = tx
                        .stored_key(&key.alias)?
                        .ok_or_else(|| KeymgrError::OtherDomainKeyMissing(key_ref.to_string()))?;
                    if row.private_key != StoredKey::NO_PRIVATE_KEY {
                        return Err(KeymgrError::PrivateKeyPresent(key_ref.to_string()));
                    }
                    if key.thumbprint == Some(certificate.thumbprint()) {
                        return Err(KeymgrError::SameCertificateExists);
                    }
                    tx.set_expiry(&key.alias, now.plus(-EXPIRE_NOW), &self.config.actor)?;
                }
                (several, _) => {
                    return Err(not_unique(&key_ref, several.len()));
                }
            }
            let alias = uuid::Uuid::new_v4().to_string();
            let thumbprint = certificate.thumbprint();
            // MOSIP: APP_REF_<thumbprint>; the alias keeps it unique when a certificate returns.
            let ident =
                sha1_hex_upper(format!("{}_{}_{}_{alias}", app, reference, thumbprint.to_hex()).as_bytes());
            let record = KeyAlias {
                alias: alias.clone(),
                key_ref: key_ref.clone(),
                generated_at: certificate.not_before(),
                expires_at: certificate.not_after(),
                thumbprint: Some(thumbprint),
                unique_ident: Some(ident),
            };
            let stored = StoredKey {
                alias: alias.clone(),
                master_alias: alias,
                private_key: StoredKey::NO_PRIVATE_KEY.into(),
                certificate: certificate.to_pem(),
            };
            tx.insert_key(&NewKey { alias: &record, stored: Some(&stored), actor: &self.config.actor })?;
            Ok(())
        });
        self.forget_pair(&key_ref);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_base64url_of_sha256_of_the_ident_bytes() {
        let id = key_id("00FF").unwrap();
        assert_eq!(id, keymgr_envelope::base64::encode(&sha256(&[0x00, 0xff])));
        assert_eq!(id.len(), 43);
        assert_eq!(key_id("0"), None);
        assert_eq!(key_id("zz"), None);
    }
}
