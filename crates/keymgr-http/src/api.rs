//! The endpoints of MOSIP's reference sections 5.1 (keys) and 5.2 (crypto), each a function
//! from a typed request to a typed response, run off the async workers by the router.

use keymgr_core::DistinguishedNameSpec;
use keymgr_core::{KeyManager, KeymgrError};
use keymgr_model::{AppId, RefId, UtcTime, WellKnown};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ApiError;
use crate::auth::Principal;
use crate::secret_buf::{SecretBuf, SecretText};
use crate::wrapper::Base64Data;

/// Largest `data` accepted by `/encrypt` after decoding; envelopes are bounded by the codec.
pub(crate) fn decode_b64(field: &str, text: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    keymgr_model::base64::decode(text.as_bytes(), max).map_err(|e| match e {
        keymgr_model::ModelError::Base64TooLarge { .. } => {
            ApiError::InvalidRequest(format!("{field} is larger than {max} bytes"))
        }
        _ => ApiError::Keymgr(KeymgrError::InvalidData(format!("{field} is not base64 encoded"))),
    })
}

pub(crate) fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::blank(field)),
    }
}

/// [`required`] for a field that carries a secret (a PIN, a password, data to protect).
fn required_secret<'a, S: AsRef<str>>(value: &'a Option<S>, field: &str) -> Result<&'a str, ApiError> {
    match value.as_ref().map(|v| v.as_ref().trim()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::blank(field)),
    }
}

/// An optional field that, when present, must not be blank (MOSIP's `.+\S.*` pattern).
pub(crate) fn optional_not_blank<'a>(
    value: &'a Option<String>,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match value.as_deref() {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Err(ApiError::InvalidRequest(format!("{field} must not be blank"))),
        Some(v) => Ok(Some(v)),
    }
}

pub(crate) fn app_id(value: &Option<String>) -> Result<AppId, ApiError> {
    AppId::new(required(value, "applicationId")?)
        .map_err(|e| ApiError::InvalidRequest(format!("applicationId: {e}")))
}

pub(crate) fn ref_id(value: &Option<String>) -> Result<RefId, ApiError> {
    RefId::new(value.as_deref().map(str::trim).unwrap_or_default())
        .map_err(|e| ApiError::InvalidRequest(format!("referenceId: {e}")))
}

pub(crate) fn timestamp(value: &Option<String>, field: &str) -> Result<UtcTime, ApiError> {
    let text = required(value, field)?;
    // A request field that does not parse is unreadable input to MOSIP (KER-KMS-005).
    UtcTime::parse_lenient(text)
        .map_err(|_| ApiError::InvalidRequest(format!("{field} should be in ISO 8601 format, not {text:?}")))
}

/// `request` of `generateMasterKey`, `generateECSignKey` and `generateCSR`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPairGenerateRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    #[serde(default)]
    pub(crate) force: bool,
    common_name: Option<String>,
    organization_unit: Option<String>,
    organization: Option<String>,
    location: Option<String>,
    state: Option<String>,
    country: Option<String>,
}

impl KeyPairGenerateRequest {
    fn subject(&self) -> DistinguishedNameSpec {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        DistinguishedNameSpec {
            common_name: s(&self.common_name),
            organizational_unit: s(&self.organization_unit),
            organization: s(&self.organization),
            locality: s(&self.location),
            state: s(&self.state),
            country: s(&self.country),
        }
    }
}

/// `response` of the key-pair endpoints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPairGenerateResponse {
    certificate: Option<String>,
    cert_sign_request: Option<String>,
    issued_at: String,
    expiry_at: String,
    timestamp: String,
}

/// Which answer a key-pair endpoint gives: `CERTIFICATE` or `CSR`.
fn wants_csr(object_type: &str) -> Result<bool, ApiError> {
    match object_type.trim() {
        "" => Err(ApiError::Keymgr(KeymgrError::InvalidRequest("objectType should not be empty".into()))),
        "CERTIFICATE" => Ok(false),
        "CSR" => Ok(true),
        other => Err(ApiError::Keymgr(KeymgrError::InvalidObjectType(other.to_owned()))),
    }
}

/// The answer of a key-pair endpoint for the key `info` of (app, ref).
fn key_pair_response(
    km: &KeyManager,
    info: keymgr_core::CertificateInfo,
    want_csr: bool,
    req: &KeyPairGenerateRequest,
    app: &AppId,
    reference: &RefId,
) -> Result<KeyPairGenerateResponse, ApiError> {
    let now = km.now().to_mosip_string();
    if want_csr {
        let csr = km.generate_csr(app, reference, &req.subject())?;
        return Ok(KeyPairGenerateResponse {
            certificate: None,
            cert_sign_request: Some(csr.csr_pem),
            issued_at: info.issued_at.to_mosip_string(),
            expiry_at: info.expires_at.to_mosip_string(),
            timestamp: now,
        });
    }
    Ok(KeyPairGenerateResponse {
        certificate: Some(info.certificate.to_pem()),
        cert_sign_request: None,
        issued_at: info.certificate.not_before().to_mosip_string(),
        expiry_at: info.certificate.not_after().to_mosip_string(),
        timestamp: now,
    })
}

/// `POST /generateMasterKey/{objectType}`.
pub fn generate_master_key(
    km: &KeyManager,
    object_type: &str,
    req: KeyPairGenerateRequest,
) -> Result<KeyPairGenerateResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    // Checked before anything is generated (MOSIP generates first, reference section 14).
    let want_csr = wants_csr(object_type)?;
    let info = km.generate_master_key_named(&app, &reference, req.force, &req.subject())?;
    key_pair_response(km, info, want_csr, &req, &app, &reference)
}

/// `POST /generateECSignKey/{objectType}`: P-256 and secp256k1 signing keys in the keystore,
/// certified by ROOT.
pub fn generate_ec_sign_key(
    km: &KeyManager,
    object_type: &str,
    req: KeyPairGenerateRequest,
) -> Result<KeyPairGenerateResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    if !WellKnown::EC_SIGN_REFS.contains(&reference.as_str()) {
        return Err(ApiError::Keymgr(KeymgrError::SigningRefNotSupported(reference.to_string())));
    }
    let want_csr = wants_csr(object_type).map_err(|_| {
        ApiError::InvalidRequest(format!("objectType {object_type:?}: use CERTIFICATE or CSR"))
    })?;
    let info = km.generate_ec_sign_key(&app, &reference, req.force, &req.subject())?;
    key_pair_response(km, info, want_csr, &req, &app, &reference)
}

/// Query of `getCertificate`, `getAllCertificates`, `getCertificateChain`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyQuery {
    application_id: Option<String>,
    reference_id: Option<String>,
}

/// `GET /getCertificate`.
pub fn get_certificate(km: &KeyManager, q: KeyQuery) -> Result<KeyPairGenerateResponse, ApiError> {
    let info = km.get_certificate(&app_id(&q.application_id)?, &ref_id(&q.reference_id)?)?;
    Ok(KeyPairGenerateResponse {
        certificate: Some(info.certificate.to_pem()),
        cert_sign_request: None,
        issued_at: info.certificate.not_before().to_mosip_string(),
        expiry_at: info.certificate.not_after().to_mosip_string(),
        timestamp: km.now().to_mosip_string(),
    })
}

/// `POST /generateCSR`.
pub fn generate_csr(
    km: &KeyManager,
    req: KeyPairGenerateRequest,
) -> Result<KeyPairGenerateResponse, ApiError> {
    let csr = km.generate_csr(&app_id(&req.application_id)?, &ref_id(&req.reference_id)?, &req.subject())?;
    Ok(KeyPairGenerateResponse {
        certificate: None,
        cert_sign_request: Some(csr.csr_pem),
        issued_at: csr.issued_at.to_mosip_string(),
        expiry_at: csr.expires_at.to_mosip_string(),
        timestamp: km.now().to_mosip_string(),
    })
}

/// `request` of the two upload endpoints.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadCertificateRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    certificate_data: Option<String>,
}

/// `response` of endpoints that answer with a status text.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    status: String,
    timestamp: String,
}

fn status(km: &KeyManager, text: &str) -> StatusResponse {
    StatusResponse { status: text.to_owned(), timestamp: km.now().to_mosip_string() }
}

/// `POST /uploadCertificate`.
pub fn upload_certificate(
    km: &KeyManager,
    req: UploadCertificateRequest,
) -> Result<StatusResponse, ApiError> {
    let pem = required(&req.certificate_data, "certificateData")?;
    km.upload_certificate(&app_id(&req.application_id)?, &ref_id(&req.reference_id)?, pem)?;
    Ok(status(km, "Upload Success"))
}

/// `POST /uploadOtherDomainCertificate`.
pub fn upload_other_domain_certificate(
    km: &KeyManager,
    req: UploadCertificateRequest,
) -> Result<StatusResponse, ApiError> {
    let pem = required(&req.certificate_data, "certificateData")?;
    let app = app_id(&req.application_id)?;
    required(&req.reference_id, "referenceId")?;
    km.upload_other_domain_certificate(&app, &ref_id(&req.reference_id)?, pem)?;
    Ok(status(km, "Upload Success"))
}

/// `request` of `generateSymmetricKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymmetricKeyRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    pub(crate) force: Option<bool>,
}

/// `POST /generateSymmetricKey`.
pub fn generate_symmetric_key(km: &KeyManager, req: SymmetricKeyRequest) -> Result<StatusResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    required(&req.reference_id, "referenceId")?;
    // MOSIP crashes on a missing `force` (reference section 14); here it is a clear error.
    let force = req.force.ok_or_else(|| ApiError::blank("force"))?;
    let done = km.generate_symmetric_key(&app, &ref_id(&req.reference_id)?, force)?;
    Ok(status(km, done.mosip_status()))
}

/// `request` of `revokeKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeKeyRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    // `disableAutoGen` is accepted and ignored, as in MOSIP (unknown fields are ignored).
}

/// `PUT /revokeKey`.
pub fn revoke_key(km: &KeyManager, req: RevokeKeyRequest) -> Result<StatusResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    if reference.is_master() {
        return Err(ApiError::blank("referenceId"));
    }
    if app.eq_ignore_case(WellKnown::KERNEL_APP) && reference.as_str() == WellKnown::SIGN_REF {
        return Err(ApiError::Keymgr(KeymgrError::RevocationNotAllowed(format!("{app}/{reference}"))));
    }
    km.revoke_key(&app, &reference)?;
    Ok(status(km, "Key Revoked"))
}

/// One entry of `getAllCertificates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateEntry {
    certificate_data: String,
    issued_at: String,
    expiry_at: String,
    key_id: Option<String>,
}

/// `response` of `getAllCertificates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllCertificatesResponse {
    all_certificates: Vec<CertificateEntry>,
}

/// `GET /getAllCertificates`.
pub fn get_all_certificates(km: &KeyManager, q: KeyQuery) -> Result<AllCertificatesResponse, ApiError> {
    let all = km.get_all_certificates(&app_id(&q.application_id)?, &ref_id(&q.reference_id)?)?;
    Ok(AllCertificatesResponse {
        all_certificates: all
            .into_iter()
            .map(|c| CertificateEntry {
                certificate_data: c.certificate.to_pem(),
                issued_at: c.issued_at.to_mosip_string(),
                expiry_at: c.expires_at.to_mosip_string(),
                key_id: c.key_id,
            })
            .collect(),
    })
}

/// `response` of `getCertificateChain`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateChainResponse {
    certificates_trust_path: String,
    timestamp: String,
}

/// `GET /getCertificateChain`.
pub fn get_certificate_chain(km: &KeyManager, q: KeyQuery) -> Result<CertificateChainResponse, ApiError> {
    let pem = km.certificate_chain_pem(&app_id(&q.application_id)?, &ref_id(&q.reference_id)?)?;
    Ok(CertificateChainResponse { certificates_trust_path: pem, timestamp: km.now().to_mosip_string() })
}

/// `request` of `/encrypt` and `/decrypt`. No `Debug`: `data` is a plaintext on `/encrypt`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CryptoRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    time_stamp: Option<String>,
    data: Option<SecretText>,
    salt: Option<String>,
    aad: Option<String>,
    // `prependThumbprint` is accepted and ignored: the thumbprint is always written, as in MOSIP.
}

/// `response` of the crypto endpoints; `data` is a plaintext on `/decrypt` and
/// `/decryptWithPin`, zeroized once written out.
#[derive(Serialize)]
pub struct DataResponse {
    data: Zeroizing<String>,
}

struct CryptoArgs {
    app: AppId,
    reference: RefId,
    data: SecretText,
    salt: Option<Vec<u8>>,
    aad: Option<Vec<u8>>,
}

fn crypto_args(req: CryptoRequest, max: usize) -> Result<CryptoArgs, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    timestamp(&req.time_stamp, "timeStamp")?;
    required_secret(&req.data, "data")?;
    let salt = optional_not_blank(&req.salt, "salt")?.map(|s| decode_b64("salt", s, 1024)).transpose()?;
    let aad = optional_not_blank(&req.aad, "aad")?.map(|a| decode_b64("aad", a, max)).transpose()?;
    // The field's own buffer, not a copy (a packet can be megabytes); trimmed as MOSIP does.
    let mut data = req.data.unwrap_or_default();
    let trimmed = data.as_ref().trim();
    if trimmed.len() != data.as_ref().len() {
        data = SecretText::new(trimmed.to_owned());
    }
    Ok(CryptoArgs { app, reference, data, salt, aad })
}

/// `POST /encrypt`: the envelope's text is written straight into the response body.
pub fn encrypt(km: &KeyManager, req: CryptoRequest, max: usize) -> Result<Base64Data<Vec<u8>>, ApiError> {
    let a = crypto_args(req, max)?;
    let plain = SecretBuf::new(decode_b64("data", a.data.as_ref(), max)?);
    let envelope = km.encrypt_bytes(&a.app, &a.reference, &plain, a.salt.as_deref(), a.aad.as_deref())?;
    Ok(Base64Data(envelope))
}

/// `POST /decrypt`: the plaintext's text is written straight into the response body, which is
/// zeroized once sent (the plaintext itself when it is dropped).
pub fn decrypt(
    km: &KeyManager,
    who: &Principal,
    req: CryptoRequest,
    max: usize,
) -> Result<Base64Data<impl AsRef<[u8]> + Send + 'static + use<>>, ApiError> {
    let a = crypto_args(req, max)?;
    // An envelope is not a secret: its text leaves the wiping holder and is decoded and
    // opened in its own buffer.
    let text = a.data.into_bytes();
    let plain =
        km.decrypt_owned(&a.app, &a.reference, text, a.salt.as_deref(), a.aad.as_deref(), &who.user)?;
    Ok(Base64Data(plain))
}

/// `request` of `/encryptWithPin` and `/decryptWithPin`. No `Debug`: it carries a PIN.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinRequest {
    data: Option<Zeroizing<String>>,
    user_pin: Option<Zeroizing<String>>,
}

/// `POST /encryptWithPin`.
pub fn encrypt_with_pin(km: &KeyManager, req: PinRequest) -> Result<DataResponse, ApiError> {
    let data = required_secret(&req.data, "data")?;
    let pin = required_secret(&req.user_pin, "userPin")?;
    Ok(DataResponse { data: Zeroizing::new(km.encrypt_with_pin(data, pin)?) })
}

/// `POST /decryptWithPin`.
pub fn decrypt_with_pin(km: &KeyManager, req: PinRequest) -> Result<DataResponse, ApiError> {
    let data = required_secret(&req.data, "data")?;
    let pin = required_secret(&req.user_pin, "userPin")?;
    let text = km.decrypt_with_pin(data, pin)?;
    Ok(DataResponse { data: Zeroizing::new(text.as_str().to_owned()) })
}

/// `request` of `/generateArgon2Hash`. No `Debug`: it carries a password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Argon2Request {
    input_data: Option<Zeroizing<String>>,
    salt: Option<String>,
}

/// `response` of `/generateArgon2Hash`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Argon2Response {
    hash_value: String,
    salt: String,
}

/// `POST /generateArgon2Hash`.
pub fn generate_argon2_hash(km: &KeyManager, req: Argon2Request) -> Result<Argon2Response, ApiError> {
    let input = required_secret(&req.input_data, "inputData")?;
    let salt = optional_not_blank(&req.salt, "salt")?.map(|s| decode_b64("salt", s, 1024)).transpose()?;
    let h = km.argon2_hash(input, salt.as_deref())?;
    Ok(Argon2Response {
        hash_value: keymgr_model::base64::encode(&h.hash),
        salt: keymgr_model::base64::encode(&h.salt),
    })
}

/// `request` of `/jwtEncrypt`. No `Debug`: `data` is a plaintext.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtEncryptRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    data: Option<Zeroizing<String>>,
    enable_def_compression: Option<bool>,
    include_certificate: Option<bool>,
    include_cert_hash: Option<bool>,
    jwk_set_url: Option<String>,
    x509_certificate: Option<String>,
}

/// `response` of the JWE endpoints; `data` is a plaintext on `/jwtDecrypt`, zeroized once
/// written out.
#[derive(Serialize)]
pub struct TimestampedData {
    data: Zeroizing<String>,
    timestamp: String,
}

/// `POST /jwtEncrypt`.
pub fn jwt_encrypt(km: &KeyManager, req: JwtEncryptRequest) -> Result<TimestampedData, ApiError> {
    let data = required_secret(&req.data, "data")?;
    let key = match req.application_id.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Some((app_id(&req.application_id)?, ref_id(&req.reference_id)?)),
        _ => None,
    };
    let options = keymgr_core::JweOptions {
        compress: req.enable_def_compression.unwrap_or(true),
        include_certificate: req.include_certificate.unwrap_or(false),
        include_cert_hash: req.include_cert_hash.unwrap_or(false),
        jwk_set_url: req.jwk_set_url.filter(|u| !u.trim().is_empty()),
    };
    let token = km.jwt_encrypt(
        req.x509_certificate.as_deref().filter(|c| !c.trim().is_empty()),
        key.as_ref().map(|(a, r)| (a, r)),
        data,
        &options,
    )?;
    Ok(TimestampedData { data: Zeroizing::new(token), timestamp: km.now().to_mosip_string() })
}

/// `request` of `/jwtDecrypt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtDecryptRequest {
    application_id: Option<String>,
    reference_id: Option<String>,
    enc_data: Option<String>,
}

/// `POST /jwtDecrypt`.
pub fn jwt_decrypt(
    km: &KeyManager,
    who: &Principal,
    req: JwtDecryptRequest,
) -> Result<TimestampedData, ApiError> {
    let app = app_id(&req.application_id)?;
    required(&req.reference_id, "referenceId")?;
    let token = required(&req.enc_data, "encData")?;
    let plain = km.jwt_decrypt(&app, &ref_id(&req.reference_id)?, token, &who.user)?;
    Ok(TimestampedData {
        data: Zeroizing::new(keymgr_model::base64::encode(&plain)),
        timestamp: km.now().to_mosip_string(),
    })
}
