//! Verification (reference section 6): `/jwtVerify` and its v2, and the deprecated
//! `/validate`. The certificate comes from the token's `x5c`, the request, or a key of this
//! service (never generated here); a signature that does not hold is an answer, not an error.
//! The token's `x5t#S256` is never used to look a certificate up (MOSIP caches `x5c`
//! certificates under the thumbprint the token claims, which a token can poison).

use keymgr_crypto::Certificate;
use keymgr_jose::jws::{self, VerifyingKey};
use keymgr_model::{AppId, KeyRef, RefId, UtcTime, WellKnown};
use keymgr_trust::ParsedCertificate;
use serde_json::Value;

use super::KeyManager;
use super::trust_stores::parse;
use crate::KeymgrError;

/// Largest certificate read from an `x5c` header.
const MAX_X5C_CERT: usize = 64 * 1024;

/// A `/jwtVerify` request (v1 or v2).
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest<'a> {
    /// `jwtSignatureData`: the compact JWS.
    pub token: &'a str,
    /// `actualData`: replaces the payload part (base64url, or the raw payload of a
    /// `b64: false` token).
    pub actual_data: Option<&'a str>,
    /// `applicationId`: whose certificate verifies when the token and request carry none.
    pub app: Option<&'a AppId>,
    /// `referenceId`.
    pub reference: Option<&'a RefId>,
    /// `certificateData`: PEM, used when the token has no `x5c`.
    pub certificate_pem: Option<&'a str>,
    /// `validateTrust`.
    pub validate_trust: bool,
    /// `domain`: the partner trust domain to validate the certificate's path in.
    pub domain: Option<&'a str>,
    /// v2: the token's `x5c` certificates after the first serve as intermediates of the path.
    pub header_chain: bool,
}

/// The most `x5c` certificates read as intermediates (v2).
const MAX_X5C_CHAIN: usize = 8;

/// MOSIP's `trustValid` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustStatus {
    /// Trust was not asked for.
    NotVerified,
    /// Trust was asked for without a domain.
    NotVerifiedNoDomain,
    /// The certificate's path to a trusted CA of the domain is valid.
    PathValid,
    /// It is not.
    PathNotValid,
}

impl TrustStatus {
    /// The text MOSIP answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotVerified => "TRUST_NOT_VERIFIED",
            Self::NotVerifiedNoDomain => "TRUST_NOT_VERIFIED_NO_DOMAIN",
            Self::PathValid => "TRUST_CERT_PATH_VALID",
            Self::PathNotValid => "TRUST_CERT_PATH_NOT_VALID",
        }
    }
}

/// What `/jwtVerify` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyResult {
    /// Whether the signature holds with the certificate chosen.
    pub signature_valid: bool,
    /// The trust verdict on that certificate.
    pub trust: TrustStatus,
}

impl KeyManager {
    /// The deprecated `/validate`: whether `signature` (a detached JWS of `/sign`) holds over
    /// `data` with a `KERNEL`/`SIGN` key valid at `at` (the current key too), never a
    /// compromised one. `KER-CSS-101` when none does.
    pub fn validate_legacy(&self, signature: &str, data: &str, at: UtcTime) -> Result<(), KeymgrError> {
        let key_ref = KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?);
        let max = self.config.signing.max_token_len;
        let mut candidates: Vec<Certificate> = Vec::new();
        for alias in self.db.aliases_for(&key_ref)? {
            if alias.generated_at <= at && at <= alias.expires_at {
                candidates.push(self.hsm_certificate(&alias.alias)?);
            }
        }
        if let Ok(current) = self.current_hsm_key(&key_ref, false) {
            candidates.push(current.certificate.clone());
        }
        // Whoever holds a compromised key can sign anything with any timestamp.
        let states = self.stored_states()?;
        candidates.retain(|c| !states.compromised.contains(&c.thumbprint()));
        let holds = |cert: &Certificate| {
            let key = VerifyingKey::from_spki(cert.spki_der()).ok()?;
            jws::verify(signature, Some(data.as_bytes()), &key, max).ok().map(|v| v.signature_valid)
        };
        if candidates.iter().any(|c| holds(c) == Some(true)) {
            Ok(())
        } else {
            Err(KeymgrError::SignatureValidationFailed)
        }
    }

    /// MOSIP's `/jwtVerify` and `/jwtVerify/v2`. The certificate is the token's `x5c[0]` (which
    /// must be the request's PEM when one is given), else the request's PEM, else the current
    /// certificate of (app, ref) (`KERNEL`/`SIGN` for a blank application); an `x5t#S256` must
    /// be its thumbprint, and it must be valid now (`KER-JWS-107`). A signature that does not
    /// hold, or one by a compromised key of this manager, is `signature_valid: false`; a
    /// token that cannot be read is `KER-JWS-106`, a
    /// refused algorithm `KER-JWS-105`. `x5c` only says which key signed: whether that key
    /// is trusted is `trust` (partner trust store), not `signature_valid`.
    pub fn jwt_verify(&self, request: &VerifyRequest<'_>) -> Result<VerifyResult, KeymgrError> {
        let token = request.token.trim();
        if token.is_empty() {
            return Err(KeymgrError::InvalidDataToSign(
                "jwtSignatureData should not be null or empty".into(),
            ));
        }
        let max = self.config.signing.max_token_len;
        let (_, header) = jws::peek_header(token, max).map_err(verify_error)?;
        let given = match request.certificate_pem.filter(|p| !p.trim().is_empty()) {
            Some(pem) => Some(
                Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| KeymgrError::CertificateParse(e.to_string()))?,
            ),
            None => None,
        };
        let certificate = match (header.get("x5c"), given) {
            (Some(Value::Array(chain)), given) => {
                let first = chain.first().and_then(Value::as_str).ok_or_else(|| {
                    KeymgrError::InvalidVerifyInput("x5c must hold base64 certificates".into())
                })?;
                let der = jws::x5c_der(first, MAX_X5C_CERT)
                    .map_err(|e| KeymgrError::InvalidVerifyInput(e.to_string()))?;
                let leaf = Certificate::from_der(&der)
                    .map_err(|e| KeymgrError::InvalidVerifyInput(format!("x5c: {e}")))?;
                // A caller who names the certificate gets that one checked, not another the
                // token brings along.
                if given.is_some_and(|g| g.der() != leaf.der()) {
                    return Err(KeymgrError::InvalidVerifyInput(
                        "the token's x5c certificate is not the certificateData given".into(),
                    ));
                }
                leaf
            }
            (Some(_), _) => return Err(KeymgrError::InvalidVerifyInput("x5c must be an array".into())),
            (None, Some(given)) => given,
            (None, None) => self.verification_certificate(request.app, request.reference)?,
        };
        match header.get("x5t#S256") {
            None => {}
            Some(Value::String(t)) if *t == jws::x5t_s256(certificate.der()) => {}
            Some(_) => {
                return Err(KeymgrError::InvalidVerifyInput(
                    "x5t#S256 is not the thumbprint of the certificate that verifies".into(),
                ));
            }
        }
        if !certificate.is_valid_at(self.clock.now()) {
            return Err(KeymgrError::VerifyCertificateNotValid);
        }
        let key = VerifyingKey::from_spki(certificate.spki_der())
            .map_err(|e| KeymgrError::VerifyFailed(format!("certificate key: {e}")))?;
        let detached = match request.actual_data.filter(|d| !d.is_empty()) {
            None => None,
            // `actualData` stands in the payload part: base64url, or the payload itself for an
            // unencoded (`b64: false`) token.
            Some(actual) if header.get("b64") == Some(&Value::Bool(false)) => {
                Some(actual.as_bytes().to_vec())
            }
            Some(actual) => Some(
                keymgr_model::base64::decode(actual.trim().as_bytes(), max)
                    .map_err(|e| KeymgrError::InvalidVerifyInput(format!("actualData: {e}")))?,
            ),
        };
        let verified = jws::verify(token, detached.as_deref(), &key, max).map_err(verify_error)?;
        // A signature by one of this manager's compromised keys proves nothing.
        let signature_valid = verified.signature_valid && !self.is_compromised_certificate(&certificate)?;
        let trust = match (request.validate_trust, request.domain.map(str::trim).filter(|d| !d.is_empty())) {
            (false, _) => TrustStatus::NotVerified,
            (true, None) => TrustStatus::NotVerifiedNoDomain,
            (true, Some(domain)) => {
                let domain = self.partner_domain(domain)?;
                let extra = if request.header_chain { header_intermediates(&header)? } else { Vec::new() };
                match self.trust_path(&domain, parse(&certificate)?, extra)? {
                    Ok(_) => TrustStatus::PathValid,
                    Err(why) => {
                        tracing::debug!("jwtVerify: no trust path in {domain}: {why}");
                        TrustStatus::PathNotValid
                    }
                }
            }
        };
        Ok(VerifyResult { signature_valid, trust })
    }

    /// The current certificate of (app, ref) for verification: `KERNEL`/`SIGN` for a blank
    /// application. A keystore pair whose keys all expired is renewed as `getCertificate`
    /// renews it; a pair kept in the database is never generated here.
    fn verification_certificate(
        &self,
        app: Option<&AppId>,
        reference: Option<&RefId>,
    ) -> Result<Certificate, KeymgrError> {
        let key_ref = match app {
            None => KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?),
            Some(app) => KeyRef::new(app.clone(), reference.cloned().unwrap_or(RefId::new("")?)),
        };
        if key_ref.tier().in_hsm() {
            return Ok(self.current_hsm_key(&key_ref, false)?.certificate.clone());
        }
        Ok(self.existing_database_key(&key_ref)?.certificate.clone())
    }
}

/// A JWS that cannot be read is `KER-JWS-106`; a refused algorithm, critical parameter or
/// size `KER-JWS-105`.
fn verify_error(e: keymgr_jose::JoseError) -> KeymgrError {
    match e {
        keymgr_jose::JoseError::Malformed(why) => KeymgrError::InvalidVerifyInput(why),
        other => KeymgrError::VerifyFailed(other.to_string()),
    }
}

/// The certificates of a header's `x5c` after the first (the signer's), read as intermediates:
/// at most [`MAX_X5C_CHAIN`]; one that cannot be read is `KER-JWS-106`.
fn header_intermediates(
    header: &serde_json::Map<String, Value>,
) -> Result<Vec<ParsedCertificate>, KeymgrError> {
    let Some(Value::Array(chain)) = header.get("x5c") else { return Ok(Vec::new()) };
    chain
        .iter()
        .skip(1)
        .take(MAX_X5C_CHAIN)
        .map(|entry| {
            let text = entry
                .as_str()
                .ok_or_else(|| KeymgrError::InvalidVerifyInput("x5c must hold base64 certificates".into()))?;
            let der = jws::x5c_der(text, MAX_X5C_CERT)
                .map_err(|e| KeymgrError::InvalidVerifyInput(e.to_string()))?;
            ParsedCertificate::from_der(&der)
                .map_err(|e| KeymgrError::InvalidVerifyInput(format!("x5c: {e}")))
        })
        .collect()
}
