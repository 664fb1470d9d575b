//! Signing (reference section 6): the key a request signs with, JWS and JWT signatures
//! (`/jwtSign`, `/jwsSign` and their v2), raw signatures (`/signV2`, `/signRawData`) and the
//! deprecated `/sign`. Verification is the `verification` room; the Ed25519 keys kept in the
//! database are made and unwrapped in `base_keys`.
//!
//! Differences from MOSIP, each deliberate (verification's included):
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

use std::cell::RefCell;
use std::sync::Arc;

use keymgr_crypto::{AsymmetricKind, Certificate};
use keymgr_jose::jws::{self, JwsAlgorithm, JwsHeader};
use keymgr_model::{AppId, KeyRef, KeyTier, RefId, WellKnown};
use serde_json::Value;

use super::certificates::key_id;
use super::{Current, KeyManager};
use crate::KeymgrError;

/// MOSIP's `kid` prefix setting that takes the payload's `iss`.
const PAYLOAD_ISSUER: &str = "PAYLOAD_ISSUER";
/// The separator after a `kid` prefix.
const KID_SEPARATOR: char = '#';

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
    /// v2 `additionalHeaders` (a JSON object: written in the order given here, which the REST
    /// layer makes the order of names).
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

/// The key a request signs with and its current certificate.
pub(super) struct Signer {
    pub(super) key_ref: KeyRef,
    current: Arc<Current>,
    pub(super) kind: AsymmetricKind,
}

impl Signer {
    /// The signing key's current certificate.
    pub(super) fn certificate(&self) -> &Certificate {
        &self.current.certificate
    }
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
    pub(super) fn signer(
        &self,
        app: Option<&AppId>,
        reference: Option<&RefId>,
    ) -> Result<Signer, KeymgrError> {
        let key_ref = match app {
            None => KeyRef::new(AppId::new(WellKnown::KERNEL_APP)?, RefId::new(WellKnown::SIGN_REF)?),
            // ROOT signs certificates only, whatever the reference (a row taken over from
            // elsewhere could name one).
            Some(app) if app.eq_ignore_case(WellKnown::ROOT_APP) => {
                return Err(KeymgrError::SigningNotAllowed("the ROOT key signs certificates only".into()));
            }
            Some(app) => {
                let reference = match reference {
                    Some(r) => r.clone(),
                    None => RefId::new("")?,
                };
                let key_ref = KeyRef::new(app.clone(), reference);
                match key_ref.tier() {
                    KeyTier::ModuleMaster | KeyTier::Signing | KeyTier::DatabaseSigning => key_ref,
                    KeyTier::Root | KeyTier::Base => {
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
    pub(super) fn sign_with(
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
    pub(super) fn check_sign_access(&self, app: Option<&AppId>, user: &str) -> Result<(), KeymgrError> {
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
    pub(super) fn sign_jws(
        &self,
        signer: &Signer,
        header: &JwsHeader,
        payload: &[u8],
        detached: bool,
    ) -> Result<String, KeymgrError> {
        // The key manager's own error (a keystore fault keeps its KER-KMA code) comes back out
        // of the callback beside the JOSE error that stands for it.
        let failed: RefCell<Option<KeymgrError>> = RefCell::new(None);
        let result = jws::sign(header, payload, detached, &|input| {
            self.sign_with(signer, header.alg, input).map_err(|e| {
                let jose = keymgr_jose::JoseError::Crypto(e.to_string());
                *failed.borrow_mut() = Some(e);
                jose
            })
        });
        result.map_err(|e| match (failed.into_inner(), e) {
            (Some(own), _) => own,
            (None, keymgr_jose::JoseError::Malformed(why)) => KeymgrError::InvalidDataToSign(why),
            (None, other) => KeymgrError::SignFailed(other.to_string()),
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
        if data.len() > self.config.signing.max_token_len {
            return Err(KeymgrError::InvalidRequest(format!(
                "data is longer than {} bytes",
                self.config.signing.max_token_len
            )));
        }
        let signer = self.signer(None, None)?;
        let header = JwsHeader::new(self.config.signing.legacy_algorithm);
        self.sign_jws(&signer, &header, data.as_bytes(), true)
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
