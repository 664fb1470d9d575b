//! Signing and verification (reference section 6): the key a request signs with, JWS and JWT
//! signatures (`/jwtSign`, `/jwsSign` and their v2), raw signatures (`/signV2`,
//! `/signRawData`), `/jwtVerify`, the deprecated `/sign` and `/validate`, and the Ed25519
//! signing keys kept in the database.
//!
//! Differences from MOSIP, each deliberate:
//! * ROOT never signs data, and a key that certifies keys (ROOT, module masters, any key with a
//!   CA certificate) never makes a raw signature over caller bytes, which could otherwise be a
//!   `TBSCertificate` (`KER-KMS-020`). JWS signing inputs start with the encoded header, so
//!   masters still sign JWTs as in MOSIP.
//! * A raw signature without `signAlgorithm` uses the key's own algorithm (MOSIP tries PS256
//!   on every key and fails on EC keys).
//! * `/jwsSign` with `b64JWSHeaderParam: false` and `includePayload: true` attaches the payload
//!   unencoded, as RFC 7797 says (MOSIP attaches the base64url text, which no verifier accepts).
//! * `additionalHeaders.kid` gets one `#`, not MOSIP's `##`; `/validate` tries every
//!   `KERNEL`/`SIGN` key valid at the request's time, not only the current one (MOSIP also
//!   decodes its public key with the wrong base64 alphabet).
//! * An algorithm that does not suit the key is `KER-JWS-104` (MOSIP signs `ES256K` with a
//!   P-256 key, a token no verifier accepts); `/signRawData` answers the algorithm that
//!   signed, not the text the caller sent.
//! * `crit` of `/jwsSign/v2` keeps `b64` and leaves out registered names (MOSIP replaces
//!   `["b64"]` with whatever is sent, `alg` included); a name that is no header of the token
//!   is `KER-JWS-102`. Registered names in `additionalHeaders` (and `jwk`) are the key
//!   manager's to set; `typ`, `jku` and `cty` are taken.
//! * `b64JWSHeaderParam: true` attaches the payload re-encoded without padding (MOSIP
//!   attaches the request text as sent, padding and all); JSON checks refuse trailing text
//!   after the value (Jackson ignores it).
//! * `/jwtVerify` never looks a certificate up by the token's own `x5t#S256` (MOSIP caches
//!   `x5c` certificates under the thumbprint the token claims, which a token can poison);
//!   v2 with `validateTrust` and no `x5c` answers instead of crashing.
//! * `KERNEL`/`SIGN` and the EC and Ed25519 keys get end-entity certificates
//!   (digitalSignature, not a CA): MOSIP's CA certificates for them would let a raw signature
//!   pass as a certificate. A signing key taken over from MOSIP keeps its CA certificate and
//!   signs JWS, but no raw data, until it is renewed.

use std::sync::Arc;

use keymgr_crypto::issue::{DistinguishedNameSpec, subject_of};
use keymgr_crypto::{AsymmetricKind, Certificate, SigningKey};
use keymgr_db::StoredKey;
use keymgr_jose::jws::{self, JwsAlgorithm, JwsHeader, VerifyingKey};
use keymgr_model::{AppId, KeyAlias, KeyRef, KeyTier, RefId, UtcTime, WellKnown};
use keymgr_policy::{Decision, decide};
use serde_json::Value;

use super::base_keys::DbKeyKind;
use super::certificates::key_id;
use super::{Current, EXPIRE_NOW, KeyManager, NewKeyPlan, current_keys, not_unique};
use crate::KeymgrError;
use crate::stored_key::unwrap_stored_private_key;

/// MOSIP's `kid` prefix setting that takes the payload's `iss`.
const PAYLOAD_ISSUER: &str = "PAYLOAD_ISSUER";
/// The separator after a `kid` prefix.
const KID_SEPARATOR: char = '#';
/// Largest certificate read from an `x5c` header.
const MAX_X5C_CERT: usize = 64 * 1024;

/// Which certificates a signed header carries in `x5c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertificateInHeader {
    /// None.
    #[default]
    None,
    /// The signer's certificate (`includeCertificate`).
    Leaf,
    /// The signer's chain up to ROOT, leaf first (v2 `includeCertificateChain`).
    Chain,
}

/// A `/jwtSign` or `/jwsSign` request (v1 or v2), as the REST layer reads it.
#[derive(Debug, Clone, Default)]
pub struct JwsSignRequest<'a> {
    /// `applicationId`; `None` (blank) signs with `KERNEL`/`SIGN`.
    pub app: Option<&'a AppId>,
    /// `referenceId` (ignored when `app` is `None`).
    pub reference: Option<&'a RefId>,
    /// The caller's user name, matched against the application's `access_allowed`.
    pub user: &'a str,
    /// `dataToSign` as sent: base64url.
    pub data: &'a str,
    /// `includePayload`: attach the payload (else `header..signature`).
    pub include_payload: bool,
    /// `includeCertificate` / `includeCertificateChain`.
    pub certificate: CertificateInHeader,
    /// `includeCertHash`: `x5t#S256`.
    pub include_cert_hash: bool,
    /// `certificateUrl`: `x5u`.
    pub certificate_url: Option<&'a str>,
    /// v2 `additionalHeaders`, in the order sent.
    pub additional_headers: &'a [(String, Value)],
    /// `/jwsSign`'s `validateJson` (`/jwtSign` follows the configuration).
    pub validate_json: bool,
    /// `/jwsSign`'s `signAlgorithm`.
    pub algorithm: Option<&'a str>,
    /// `/jwsSign`'s `b64JWSHeaderParam`: `false` signs the payload unencoded (RFC 7797).
    pub b64: bool,
}

/// How `/signV2` and `/signRawData` encode the signature (`responseEncodingFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Multibase `base58btc`: `z` and Base58-BTC (the default).
    Base58Btc,
    /// base64url without padding.
    Base64Url,
}

impl SignatureEncoding {
    /// The encoding a request names: blank is `base58btc`; others than the two are
    /// `KER-KMS-036`.
    pub fn parse(name: Option<&str>) -> Result<Self, KeymgrError> {
        match name.map(str::trim).unwrap_or_default() {
            "" | "base58btc" => Ok(Self::Base58Btc),
            "base64url" => Ok(Self::Base64Url),
            other => Err(KeymgrError::UnsupportedSignatureFormat(other.chars().take(64).collect())),
        }
    }

    fn encode(self, signature: &[u8]) -> String {
        match self {
            Self::Base58Btc => keymgr_model::base58::multibase_encode(signature),
            Self::Base64Url => keymgr_model::base64::encode(signature),
        }
    }
}

/// A raw signature and what made it (`/signRawData` answers all of it, `/signV2` the
/// signature).
#[derive(Debug, Clone)]
pub struct RawSignature {
    /// The signature in the requested encoding.
    pub signature: String,
    /// The algorithm that made it.
    pub algorithm: JwsAlgorithm,
    /// MOSIP's key id of the signing key.
    pub key_id: Option<String>,
    /// The signing key's certificate.
    pub certificate: Certificate,
}

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
}

/// MOSIP's `trustValid` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustStatus {
    /// Trust was not asked for, or cannot be checked yet (no partner trust store).
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

/// The key a request signs with and its current certificate.
struct Signer {
    key_ref: KeyRef,
    current: Arc<Current>,
    kind: AsymmetricKind,
}

/// The algorithm `/jwtSign` uses for a reference: RS256 but for the EC and Ed25519 keys.
fn jwt_algorithm(kind: AsymmetricKind) -> JwsAlgorithm {
    match kind {
        AsymmetricKind::EcP256 => JwsAlgorithm::Es256,
        AsymmetricKind::EcSecp256k1 => JwsAlgorithm::Es256K,
        AsymmetricKind::Ed25519 => JwsAlgorithm::EdDsa,
        _ => JwsAlgorithm::Rs256,
    }
}

/// The algorithm `/jwsSign` and the raw signatures use: the requested one (MOSIP's exact names;
/// an unknown name is PS256, as MOSIP), else PS256 for RSA keys and the key's own otherwise.
fn requested_algorithm(requested: Option<&str>, kind: AsymmetricKind) -> JwsAlgorithm {
    match requested.map(str::trim).filter(|a| !a.is_empty()) {
        Some("RS256") => JwsAlgorithm::Rs256,
        Some("ES256") => JwsAlgorithm::Es256,
        Some("ES256K") => JwsAlgorithm::Es256K,
        Some("EdDSA") => JwsAlgorithm::EdDsa,
        Some(_) => JwsAlgorithm::Ps256,
        None => match kind {
            AsymmetricKind::Rsa2048 => JwsAlgorithm::Ps256,
            other => jwt_algorithm(other),
        },
    }
}

/// The bytes of a request's base64url `dataToSign` (padding optional): blank is
/// `KER-JWS-102`, text that is not base64 `KER-CRY-003`, as MOSIP answers.
fn decode_data(text: &str, max_len: usize) -> Result<Vec<u8>, KeymgrError> {
    if text.trim().is_empty() {
        return Err(KeymgrError::InvalidDataToSign("dataToSign should not be null or empty".into()));
    }
    keymgr_model::base64::decode(text.as_bytes(), max_len)
        .map_err(|e| KeymgrError::InvalidData(format!("dataToSign is not base64 encoded: {e}")))
}

fn require_json(data: &[u8]) -> Result<(), KeymgrError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(data)
        .map(|_| ())
        .map_err(|_| KeymgrError::DataToSignNotJson)
}

impl KeyManager {
    /// The key MOSIP's section 6 signs with: `KERNEL`/`SIGN` for a blank application; the
    /// application's master for a blank reference; `KERNEL`/`SIGN`; the application's EC and
    /// Ed25519 keys. Anything else, and ROOT, is `KER-KMS-020`. A pair whose keys all expired
    /// gets a new one; a pair without keys is `KER-KMS-012`. The certificate must be valid
    /// now (`KER-KMA-005`).
    fn signer(&self, app: Option<&AppId>, reference: Option<&RefId>) -> Result<Signer, KeymgrError> {
        let key_ref = match app {
            None => KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?),
            Some(app) => {
                let reference = match reference {
                    Some(r) => r.clone(),
                    None => RefId::new("")?,
                };
                let key_ref = KeyRef::new(app.clone(), reference);
                match key_ref.tier() {
                    KeyTier::ModuleMaster | KeyTier::Signing | KeyTier::DatabaseSigning => key_ref,
                    KeyTier::Root => {
                        return Err(KeymgrError::SigningNotAllowed(
                            "the ROOT key signs certificates only".into(),
                        ));
                    }
                    KeyTier::Base => {
                        return Err(KeymgrError::SigningNotAllowed(format!(
                            "{key_ref} is not a signing key: use a blank reference, SIGN (KERNEL), \
                             EC_SECP256R1_SIGN, EC_SECP256K1_SIGN or ED25519_SIGN"
                        )));
                    }
                }
            }
        };
        let current = if key_ref.tier() == KeyTier::DatabaseSigning {
            self.ensure_database_signing_key(&key_ref, false, false, None)?
        } else {
            self.current_hsm_key(&key_ref, false)?
        };
        let now = self.clock.now();
        if !current.certificate.is_valid_at(now) {
            return Err(KeymgrError::SigningCertificateNotValid(format!(
                "{key_ref}: valid {} to {}",
                current.certificate.not_before(),
                current.certificate.not_after()
            )));
        }
        let kind = keymgr_crypto::spki::key_kind(current.certificate.spki_der())
            .ok_or_else(|| KeymgrError::SignFailed(format!("{key_ref}: a key of an unknown type")))?;
        Ok(Signer { key_ref, current, kind })
    }

    /// Signs `message` with `signer`'s key: in the keystore, or the Ed25519 key unwrapped from
    /// the database. The algorithm must suit the key (`KER-JWS-104`).
    fn sign_with(
        &self,
        signer: &Signer,
        algorithm: JwsAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, KeymgrError> {
        if algorithm.key_kind() != signer.kind {
            return Err(KeymgrError::SignFailed(format!(
                "{} does not suit the {:?} key of {}",
                algorithm.name(),
                signer.kind,
                signer.key_ref
            )));
        }
        let alias = &signer.current.alias.alias;
        if signer.key_ref.tier() == KeyTier::DatabaseSigning {
            let key = self.database_signing_key(&signer.current.alias)?;
            return key
                .sign(algorithm.sign_algorithm(), message)
                .map_err(|e| KeymgrError::SignFailed(e.to_string()));
        }
        self.keystore.sign(alias, algorithm.sign_algorithm(), message).map_err(|e| match e {
            e @ keymgr_hsm::HsmError::WrongKeyKind { .. } => KeymgrError::SignFailed(e.to_string()),
            other => KeymgrError::Keystore(other),
        })
    }

    /// MOSIP's `hasKeyAccess` for signing: a blank application is open; otherwise its
    /// `access_allowed` must admit `user` (`KER-JWS-108`).
    fn check_sign_access(&self, app: Option<&AppId>, user: &str) -> Result<(), KeymgrError> {
        let Some(app) = app else { return Ok(()) };
        match self.policy(app)? {
            Some(p) if p.access_allowed.allows(user) => Ok(()),
            _ => Err(KeymgrError::SignNotAllowed),
        }
    }

    /// The header of a JWS by `signer` for `request`: certificates, hash, URL, `kid` (prefix
    /// rules of section 6) and the v2 additional headers.
    fn signed_header(
        &self,
        signer: &Signer,
        algorithm: JwsAlgorithm,
        request: &JwsSignRequest<'_>,
        payload: &[u8],
    ) -> Result<JwsHeader, KeymgrError> {
        let certificate = &signer.current.certificate;
        let mut header = JwsHeader::new(algorithm);
        header.x5c = match request.certificate {
            CertificateInHeader::None => None,
            CertificateInHeader::Leaf => Some(vec![jws::x5c_entry(certificate.der())]),
            CertificateInHeader::Chain => Some(
                self.get_certificate_chain(&signer.key_ref.app, &signer.key_ref.reference)
                    .unwrap_or_else(|_| vec![certificate.clone()])
                    .iter()
                    .map(|c| jws::x5c_entry(c.der()))
                    .collect(),
            ),
        };
        header.x5t_s256 = request.include_cert_hash.then(|| jws::x5t_s256(certificate.der()));
        header.x5u = request.certificate_url.filter(|u| !u.trim().is_empty()).map(str::to_owned);
        let settings = &self.config.signing;
        let mut prefix = if settings.kid_prepend.eq_ignore_ascii_case(PAYLOAD_ISSUER) {
            let issuer = serde_json::from_slice::<Value>(payload)
                .ok()
                .and_then(|v| v.get("iss").map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)))
                .unwrap_or_default();
            format!("{issuer}{KID_SEPARATOR}")
        } else {
            settings.kid_prepend.clone()
        };
        for (name, value) in request.additional_headers {
            let text = || value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            match name.as_str() {
                "kid" => {
                    prefix = text();
                    if !prefix.ends_with(KID_SEPARATOR) {
                        prefix.push(KID_SEPARATOR);
                    }
                }
                "typ" => header.typ = Some(text()),
                "jku" => header.jku = Some(text()),
                "cty" => header.cty = Some(text()),
                // Registered names are understood by every verifier and never critical
                // (RFC 7515, 4.1.11): MOSIP's test sends `"alg, x5c"`; they are left out.
                "crit" => {
                    header.crit = text()
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty() && !jws::RESERVED.contains(c))
                        .map(str::to_owned)
                        .collect();
                }
                // The other registered names are the key manager's to set (MOSIP skips them).
                reserved if jws::RESERVED.contains(&reserved) => {}
                _ => header.additional.push((name.clone(), value.clone())),
            }
        }
        if settings.include_key_id
            && let Some(id) = signer.current.alias.unique_ident.as_deref().and_then(key_id)
        {
            header.kid = Some(format!("{prefix}{id}"));
        }
        Ok(header)
    }

    /// A JWS of `payload` by `signer` under `header`, attached or detached.
    fn sign_jws(
        &self,
        signer: &Signer,
        header: &JwsHeader,
        payload: &[u8],
        detached: bool,
    ) -> Result<String, KeymgrError> {
        let result = jws::sign(header, payload, detached, &|input| {
            self.sign_with(signer, header.alg, input)
                .map_err(|e| keymgr_jose::JoseError::Crypto(e.to_string()))
        });
        result.map_err(|e| match e {
            keymgr_jose::JoseError::Malformed(why) => KeymgrError::InvalidDataToSign(why),
            other => KeymgrError::SignFailed(other.to_string()),
        })
    }

    /// MOSIP's `/jwtSign` and `/jwtSign/v2`: the base64url `dataToSign`, JSON unless the
    /// configuration says otherwise, signed as a JWS whose algorithm follows the key (RS256,
    /// ES256, ES256K, EdDSA). Detached unless `include_payload`.
    pub fn jwt_sign(&self, request: &JwsSignRequest<'_>) -> Result<String, KeymgrError> {
        self.check_sign_access(request.app, request.user)?;
        let payload = decode_data(request.data, self.config.signing.max_token_len)?;
        if self.config.signing.jwt_validate_json {
            require_json(&payload)?;
        }
        let signer = self.signer(request.app, request.reference)?;
        let algorithm = jwt_algorithm(signer.kind);
        let header = self.signed_header(&signer, algorithm, request, &payload)?;
        self.sign_jws(&signer, &header, &payload, !request.include_payload)
    }

    /// MOSIP's `/jwsSign` and `/jwsSign/v2`: as [`Self::jwt_sign`], with the caller's
    /// `validateJson`, `signAlgorithm` (default PS256 for RSA keys, the key's own otherwise)
    /// and `b64JWSHeaderParam` (`false`: RFC 7797 unencoded payload, `crit: ["b64"]`).
    pub fn jws_sign(&self, request: &JwsSignRequest<'_>) -> Result<String, KeymgrError> {
        self.check_sign_access(request.app, request.user)?;
        let payload = decode_data(request.data, self.config.signing.max_token_len)?;
        if request.validate_json {
            require_json(&payload)?;
        }
        let signer = self.signer(request.app, request.reference)?;
        let algorithm = requested_algorithm(request.algorithm, signer.kind);
        let mut header = self.signed_header(&signer, algorithm, request, &payload)?;
        header.b64 = request.b64;
        self.sign_jws(&signer, &header, &payload, !request.include_payload)
    }

    /// MOSIP's `/signV2` and `/signRawData`: a signature over the base64url-decoded `data`
    /// with the requested algorithm, encoded as asked (`responseEncodingFormat`, see
    /// [`SignatureEncoding::parse`]). Keys that certify keys never make raw
    /// signatures (`KER-KMS-020`).
    pub fn sign_raw(
        &self,
        app: Option<&AppId>,
        reference: Option<&RefId>,
        user: &str,
        data: &str,
        algorithm: Option<&str>,
        encoding: Option<&str>,
    ) -> Result<RawSignature, KeymgrError> {
        self.check_sign_access(app, user)?;
        let message = decode_data(data, self.config.signing.max_token_len)?;
        let signer = self.signer(app, reference)?;
        if signer.current.certificate.can_certify() {
            return Err(KeymgrError::SigningNotAllowed(format!(
                "{}: a key that certifies keys makes no raw signatures (a signing key made before \
                 this version carries a CA certificate: renew it with force=true)",
                signer.key_ref
            )));
        }
        // The encoding is checked after access, data and key, in MOSIP's order.
        let encoding = SignatureEncoding::parse(encoding)?;
        let algorithm = requested_algorithm(algorithm, signer.kind);
        let signature = self.sign_with(&signer, algorithm, &message)?;
        Ok(RawSignature {
            signature: encoding.encode(&signature),
            algorithm,
            key_id: signer.current.alias.unique_ident.as_deref().and_then(key_id),
            certificate: signer.current.certificate.clone(),
        })
    }

    /// The deprecated `/sign`: a detached JWS of the UTF-8 `data` by `KERNEL`/`SIGN`, with the
    /// configured algorithm and no `kid`.
    pub fn sign_legacy(&self, data: &str) -> Result<String, KeymgrError> {
        if data.is_empty() {
            return Err(KeymgrError::InvalidRequest("data should not be null or empty".into()));
        }
        let signer = self.signer(None, None)?;
        let header = JwsHeader::new(self.config.signing.legacy_algorithm);
        self.sign_jws(&signer, &header, data.as_bytes(), true)
    }

    /// The deprecated `/validate`: whether `signature` (a detached JWS of `/sign`) holds over
    /// `data` with a `KERNEL`/`SIGN` key valid at `at` (the current key too). `KER-CSS-101`
    /// when none does.
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

    /// MOSIP's `/jwtVerify` and `/jwtVerify/v2`. The certificate is the token's `x5c[0]`, else
    /// the request's PEM, else the current certificate of (app, ref) (`KERNEL`/`SIGN` for a
    /// blank application; nothing is generated); it must be valid now (`KER-JWS-107`). A
    /// signature that does not hold is `signature_valid: false`; a token that cannot be read
    /// is `KER-JWS-105`/`106`. `x5c` only says which key signed: whether that key is trusted
    /// is `trust` (partner trust store), not `signature_valid`.
    pub fn jwt_verify(&self, request: &VerifyRequest<'_>) -> Result<VerifyResult, KeymgrError> {
        let token = request.token.trim();
        if token.is_empty() {
            return Err(KeymgrError::InvalidDataToSign(
                "jwtSignatureData should not be null or empty".into(),
            ));
        }
        let max = self.config.signing.max_token_len;
        let (_, header) = jws::peek_header(token, max).map_err(|e| match e {
            keymgr_jose::JoseError::Malformed(why) => KeymgrError::InvalidVerifyInput(why),
            other => KeymgrError::VerifyFailed(other.to_string()),
        })?;
        let certificate = match header.get("x5c") {
            Some(Value::Array(chain)) => {
                let first = chain.first().and_then(Value::as_str).ok_or_else(|| {
                    KeymgrError::InvalidVerifyInput("x5c must hold base64 certificates".into())
                })?;
                let der = jws::x5c_der(first, MAX_X5C_CERT)
                    .map_err(|e| KeymgrError::InvalidVerifyInput(e.to_string()))?;
                Certificate::from_der(&der)
                    .map_err(|e| KeymgrError::InvalidVerifyInput(format!("x5c: {e}")))?
            }
            Some(_) => return Err(KeymgrError::InvalidVerifyInput("x5c must be an array".into())),
            None => match request.certificate_pem.filter(|p| !p.trim().is_empty()) {
                Some(pem) => Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| KeymgrError::CertificateParse(e.to_string()))?,
                None => self.verification_certificate(request.app, request.reference)?,
            },
        };
        if !certificate.is_valid_at(self.clock.now()) {
            return Err(KeymgrError::VerifyCertificateNotValid);
        }
        let key = VerifyingKey::from_spki(certificate.spki_der())
            .map_err(|e| KeymgrError::VerifyFailed(format!("certificate key: {e}")))?;
        let verified = match request.actual_data.filter(|d| !d.is_empty()) {
            None => jws::verify(token, None, &key, max),
            Some(actual) => {
                // `actualData` stands in the payload part: base64url, or the payload itself
                // for an unencoded (`b64: false`) token.
                let unencoded = header.get("b64") == Some(&Value::Bool(false));
                let detached = if unencoded {
                    actual.as_bytes().to_vec()
                } else {
                    keymgr_model::base64::decode(actual.trim().as_bytes(), max)
                        .map_err(|e| KeymgrError::InvalidVerifyInput(format!("actualData: {e}")))?
                };
                let (head, rest) = token.split_once('.').unwrap_or((token, ""));
                let signature = rest.rsplit_once('.').map_or(rest, |(_, s)| s);
                jws::verify(&format!("{head}..{signature}"), Some(&detached), &key, max)
            }
        }
        .map_err(|e| KeymgrError::VerifyFailed(e.to_string()))?;
        let trust = match (request.validate_trust, request.domain.map(str::trim).filter(|d| !d.is_empty())) {
            (false, _) => TrustStatus::NotVerified,
            (true, None) => TrustStatus::NotVerifiedNoDomain,
            // No partner trust store yet: a path cannot be checked.
            (true, Some(_)) => TrustStatus::NotVerified,
        };
        Ok(VerifyResult { signature_valid: verified.signature_valid, trust })
    }

    /// The current certificate of (app, ref) for verification, never generating a key:
    /// `KERNEL`/`SIGN` for a blank application.
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
        let pre = self.pre_expire(&key_ref)?;
        match decide(&self.db.aliases_for(&key_ref)?, self.clock.now(), pre) {
            Decision::Use(alias) => self.certificate_of(&alias),
            Decision::Ambiguous(v) => Err(not_unique(&key_ref, v.len())),
            Decision::Generate => Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string())),
        }
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
        {
            return Ok(c);
        }
        let policy = self.active_policy(&key_ref.app)?;
        let pre = self.pre_expire(key_ref)?;
        if !allow_first && self.db.aliases_for(key_ref)?.is_empty() {
            return Err(KeymgrError::KeyGenerationNotCompleted(key_ref.to_string()));
        }
        // The master is resolved before the pair's lock is taken (never two locks at once).
        let master = self.current_hsm_key(&KeyRef::master(key_ref.app.clone()), false)?;
        let result = self.db.with_generation_lock(key_ref, |tx| {
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
            let inherited = match aliases.first() {
                Some(oldest) => tx
                    .stored_key(&oldest.alias)?
                    .and_then(|row| Certificate::from_pem(row.certificate.as_bytes()).ok())
                    .and_then(|c| subject_of(&c).ok()),
                None => None,
            };
            let name = match requested {
                Some(r) => self.hsm_subject(key_ref, r),
                None => inherited.unwrap_or_else(|| self.base_subject(key_ref, &master.certificate)),
            };
            let plan = NewKeyPlan { key_ref, policy: &policy, pre, name, now };
            self.make_db_key(tx, &plan, &master, DbKeyKind::Ed25519Signing)
        });
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
        let row = self
            .db
            .stored_key(&key.alias)?
            .ok_or_else(|| KeymgrError::NoUniqueAlias(format!("no key_store row for {}", key.alias)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_choice_follows_mosip() {
        assert_eq!(jwt_algorithm(AsymmetricKind::Rsa2048), JwsAlgorithm::Rs256);
        assert_eq!(jwt_algorithm(AsymmetricKind::EcSecp256k1), JwsAlgorithm::Es256K);
        assert_eq!(requested_algorithm(None, AsymmetricKind::Rsa2048), JwsAlgorithm::Ps256);
        assert_eq!(requested_algorithm(Some(""), AsymmetricKind::EcP256), JwsAlgorithm::Es256);
        assert_eq!(requested_algorithm(Some("RS256"), AsymmetricKind::Rsa2048), JwsAlgorithm::Rs256);
        // MOSIP's names are exact; anything else is PS256, as MOSIP does.
        assert_eq!(requested_algorithm(Some("rs256"), AsymmetricKind::Rsa2048), JwsAlgorithm::Ps256);
        assert_eq!(requested_algorithm(Some("none"), AsymmetricKind::Rsa2048), JwsAlgorithm::Ps256);
    }

    #[test]
    fn encodings() {
        assert_eq!(SignatureEncoding::parse(None).ok(), Some(SignatureEncoding::Base58Btc));
        assert_eq!(SignatureEncoding::parse(Some(" ")).ok(), Some(SignatureEncoding::Base58Btc));
        assert_eq!(SignatureEncoding::parse(Some("base64url")).ok(), Some(SignatureEncoding::Base64Url));
        assert!(matches!(
            SignatureEncoding::parse(Some("hex")),
            Err(KeymgrError::UnsupportedSignatureFormat(_))
        ));
        assert_eq!(SignatureEncoding::Base58Btc.encode(b"Hello World!"), "z2NEpo7TZRRrLZSi2U");
        assert_eq!(SignatureEncoding::Base64Url.encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn data_must_be_base64url_and_json_when_asked() {
        assert!(matches!(decode_data(" ", 100), Err(KeymgrError::InvalidDataToSign(_))));
        assert!(matches!(decode_data("!!", 100), Err(KeymgrError::InvalidData(_))));
        assert_eq!(decode_data("e30", 100).ok(), Some(b"{}".to_vec()));
        assert!(require_json(b"{}").is_ok());
        assert!(matches!(require_json(b"not json"), Err(KeymgrError::DataToSignNotJson)));
    }
}
