//! The endpoints of MOSIP's reference section 5.3 (signatures): `/jwtSign`, `/jwsSign` and
//! their v2, `/jwtVerify` (and v2), `/signV2`, `/signRawData`, and the deprecated `/sign` and
//! `/validate`; each a function from a typed request to a typed response.

use keymgr_core::{CertificateInHeader, JwsSignRequest, KeyManager, KeymgrError, VerifyRequest};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use keymgr_model::{AppId, RefId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::{app_id, ref_id, required, timestamp};
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, wrapped};

/// Which version of a signing endpoint a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `/jwtSign`, `/jwsSign`, `/jwtVerify`: `includeCertificate` puts the leaf in `x5c`.
    V1,
    /// `.../v2`: `includeCertificateChain` puts the chain in `x5c`; `additionalHeaders`.
    V2,
}

/// The application and reference of a signing request: `None` for a missing or empty
/// application (`KERNEL`/`SIGN`); a missing reference is blank (MOSIP crashes on it). An
/// application of white space only is no application anyone may sign for (`KER-JWS-108`, as
/// MOSIP finds no policy for it), not `KERNEL`/`SIGN`.
fn signing_key(
    application_id: &Option<String>,
    reference_id: &Option<String>,
) -> Result<Option<(AppId, RefId)>, ApiError> {
    match application_id.as_deref() {
        None | Some("") => Ok(None),
        Some(a) if a.trim().is_empty() => Err(ApiError::Keymgr(KeymgrError::SignNotAllowed)),
        Some(_) => Ok(Some((app_id(application_id)?, ref_id(reference_id)?))),
    }
}

/// The application and reference whose certificate verifies: `None` for a blank application
/// (`KERNEL`/`SIGN`).
fn verifying_key(
    application_id: &Option<String>,
    reference_id: &Option<String>,
) -> Result<Option<(AppId, RefId)>, ApiError> {
    match application_id.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => Ok(Some((app_id(application_id)?, ref_id(reference_id)?))),
        _ => Ok(None),
    }
}

/// `request` of `/jwtSign`, `/jwsSign` and their v2 (the fields of all four).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwsSignBody {
    data_to_sign: Option<String>,
    application_id: Option<String>,
    reference_id: Option<String>,
    include_payload: Option<bool>,
    include_certificate: Option<bool>,
    include_certificate_chain: Option<bool>,
    include_cert_hash: Option<bool>,
    certificate_url: Option<String>,
    additional_headers: Option<Map<String, Value>>,
    validate_json: Option<bool>,
    #[serde(rename = "b64JWSHeaderParam")]
    b64_jws_header_param: Option<bool>,
    sign_algorithm: Option<String>,
}

/// The most `additionalHeaders` a request may carry.
const MAX_ADDITIONAL_HEADERS: usize = 32;
/// The longest name or value of one, in bytes.
const MAX_ADDITIONAL_HEADER_LEN: usize = 1024;

/// MOSIP's `additionalHeaders` is a map of strings: numbers and booleans are taken as their
/// text, as Jackson does; objects and arrays are `KER-KMS-005`, and so are more than
/// [`MAX_ADDITIONAL_HEADERS`] entries or a name or value over [`MAX_ADDITIONAL_HEADER_LEN`]
/// bytes (a header is not a place for data).
fn additional_headers(given: &Option<Map<String, Value>>) -> Result<Vec<(String, Value)>, ApiError> {
    let Some(map) = given else { return Ok(Vec::new()) };
    if map.len() > MAX_ADDITIONAL_HEADERS {
        return Err(ApiError::InvalidRequest(format!(
            "additionalHeaders: at most {MAX_ADDITIONAL_HEADERS} entries"
        )));
    }
    map.iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                _ => {
                    return Err(ApiError::InvalidRequest(format!(
                        "additionalHeaders.{} must be a string",
                        name.chars().take(64).collect::<String>()
                    )));
                }
            };
            if name.is_empty()
                || name.len() > MAX_ADDITIONAL_HEADER_LEN
                || text.len() > MAX_ADDITIONAL_HEADER_LEN
            {
                return Err(ApiError::InvalidRequest(format!(
                    "additionalHeaders: names of 1 to {MAX_ADDITIONAL_HEADER_LEN} bytes, values up to \
                     {MAX_ADDITIONAL_HEADER_LEN}"
                )));
            }
            Ok((name.clone(), Value::String(text)))
        })
        .collect()
}

/// `response` of the JWS/JWT signing endpoints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtSignResponse {
    jwt_signed_data: String,
    timestamp: String,
}

/// Which endpoint family signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `/jwtSign`: algorithm by key, JSON per configuration, payload base64url-encoded.
    Jwt,
    /// `/jwsSign`: `signAlgorithm`, `validateJson` (must be sent), `b64JWSHeaderParam`.
    Jws,
}

/// `POST /jwtSign`, `/jwtSign/v2`, `/jwsSign`, `/jwsSign/v2`.
pub fn jws_sign(
    km: &KeyManager,
    who: &Principal,
    req: JwsSignBody,
    style: Style,
    version: Version,
) -> Result<JwtSignResponse, ApiError> {
    let data = required(&req.data_to_sign, "dataToSign")?;
    let key = signing_key(&req.application_id, &req.reference_id)?;
    let certificate = match version {
        Version::V1 if req.include_certificate.unwrap_or(false) => CertificateInHeader::Leaf,
        Version::V2 if req.include_certificate_chain.unwrap_or(false) => CertificateInHeader::Chain,
        _ => CertificateInHeader::None,
    };
    let headers = match version {
        Version::V1 => Vec::new(),
        Version::V2 => additional_headers(&req.additional_headers)?,
    };
    let validate_json = match style {
        Style::Jwt => false,
        // MOSIP unboxes a missing validateJson and crashes; here it is a clear refusal.
        Style::Jws => req.validate_json.ok_or_else(|| ApiError::blank("validateJson"))?,
    };
    let request = JwsSignRequest {
        app: key.as_ref().map(|(a, _)| a),
        reference: key.as_ref().map(|(_, r)| r),
        user: &who.user,
        data,
        include_payload: req.include_payload.unwrap_or(false),
        certificate,
        include_cert_hash: req.include_cert_hash.unwrap_or(false),
        certificate_url: req.certificate_url.as_deref(),
        additional_headers: &headers,
        validate_json,
        algorithm: req.sign_algorithm.as_deref(),
        b64: req.b64_jws_header_param.unwrap_or(false),
    };
    let jwt_signed_data = match style {
        Style::Jwt => km.jwt_sign(&request)?,
        Style::Jws => km.jws_sign(&request)?,
    };
    Ok(JwtSignResponse { jwt_signed_data, timestamp: km.now().to_mosip_string() })
}

/// `request` of `/jwtVerify` and `/jwtVerify/v2`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerifyBody {
    jwt_signature_data: Option<String>,
    actual_data: Option<String>,
    application_id: Option<String>,
    reference_id: Option<String>,
    certificate_data: Option<String>,
    validate_trust: Option<bool>,
    domain: Option<String>,
}

/// `response` of `/jwtVerify`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerifyResponse {
    signature_valid: bool,
    message: &'static str,
    trust_valid: &'static str,
}

/// `POST /jwtVerify`, `/jwtVerify/v2` (v2: the token's `x5c` chain serves as intermediates
/// when trust is validated).
pub fn jwt_verify(
    km: &KeyManager,
    req: JwtVerifyBody,
    version: Version,
) -> Result<JwtVerifyResponse, ApiError> {
    let token = required(&req.jwt_signature_data, "jwtSignatureData")?;
    let key = verifying_key(&req.application_id, &req.reference_id)?;
    let result = km.jwt_verify(&VerifyRequest {
        token,
        actual_data: req.actual_data.as_deref().filter(|d| !d.trim().is_empty()),
        app: key.as_ref().map(|(a, _)| a),
        reference: key.as_ref().map(|(_, r)| r),
        certificate_pem: req.certificate_data.as_deref(),
        validate_trust: req.validate_trust.unwrap_or(false),
        domain: req.domain.as_deref(),
        header_chain: version == Version::V2,
    })?;
    Ok(JwtVerifyResponse {
        signature_valid: result.signature_valid,
        message: if result.signature_valid { "Validation Successful" } else { "Validation Failed" },
        trust_valid: result.trust.as_str(),
    })
}

/// `request` of `/signV2` and `/signRawData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawSignBody {
    data_to_sign: Option<String>,
    application_id: Option<String>,
    reference_id: Option<String>,
    response_encoding_format: Option<String>,
    sign_algorithm: Option<String>,
}

/// `response` of `/signV2`.
#[derive(Debug, Serialize)]
pub struct SignV2Response {
    signature: String,
    timestamp: String,
}

/// `response` of `/signRawData`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignRawDataResponse {
    signed_data: String,
    key_id: Option<String>,
    certificate: String,
    signature_algorithm: &'static str,
    timestamp: String,
}

fn raw_signature(
    km: &KeyManager,
    who: &Principal,
    req: &RawSignBody,
) -> Result<keymgr_core::RawSignature, ApiError> {
    let data = required(&req.data_to_sign, "dataToSign")?;
    let key = signing_key(&req.application_id, &req.reference_id)?;
    Ok(km.sign_raw(
        key.as_ref().map(|(a, _)| a),
        key.as_ref().map(|(_, r)| r),
        &who.user,
        data,
        req.sign_algorithm.as_deref(),
        req.response_encoding_format.as_deref(),
    )?)
}

/// `POST /signV2`.
pub fn sign_v2(km: &KeyManager, who: &Principal, req: RawSignBody) -> Result<SignV2Response, ApiError> {
    let signed = raw_signature(km, who, &req)?;
    Ok(SignV2Response { signature: signed.signature, timestamp: km.now().to_mosip_string() })
}

/// `POST /signRawData`.
pub fn sign_raw_data(
    km: &KeyManager,
    who: &Principal,
    req: RawSignBody,
) -> Result<SignRawDataResponse, ApiError> {
    let signed = raw_signature(km, who, &req)?;
    Ok(SignRawDataResponse {
        signed_data: signed.signature,
        key_id: signed.key_id,
        certificate: signed.certificate.to_pem(),
        signature_algorithm: signed.algorithm.name(),
        timestamp: km.now().to_mosip_string(),
    })
}

/// `request` of the deprecated `/sign`.
#[derive(Debug, Deserialize)]
pub struct SignBody {
    data: Option<String>,
}

/// `POST /sign` (deprecated): a detached JWS of `data` by `KERNEL`/`SIGN`.
pub fn sign(km: &KeyManager, req: SignBody) -> Result<SignV2Response, ApiError> {
    let data = req.data.as_deref().filter(|d| !d.trim().is_empty()).ok_or_else(|| ApiError::blank("data"))?;
    Ok(SignV2Response { signature: km.sign_legacy(data)?, timestamp: km.now().to_mosip_string() })
}

/// `request` of the deprecated `/validate`.
#[derive(Debug, Deserialize)]
pub struct ValidateBody {
    signature: Option<String>,
    data: Option<String>,
    timestamp: Option<String>,
}

/// `response` of `/validate`.
#[derive(Debug, Serialize)]
pub struct ValidateResponse {
    status: &'static str,
    message: &'static str,
}

/// `POST /validate` (deprecated).
pub fn validate(km: &KeyManager, req: ValidateBody) -> Result<ValidateResponse, ApiError> {
    let signature = required(&req.signature, "signature")?;
    let data = req.data.as_deref().filter(|d| !d.trim().is_empty()).ok_or_else(|| ApiError::blank("data"))?;
    let at = timestamp(&req.timestamp, "timestamp")?;
    km.validate_legacy(signature, data, at)?;
    Ok(ValidateResponse { status: "success", message: "Validation Successful" })
}

/// The routes of this section.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/jwtSign", post(post_jwt_sign))
        .route("/jwtSign/v2", post(post_jwt_sign_v2))
        .route("/jwsSign", post(post_jws_sign))
        .route("/jwsSign/v2", post(post_jws_sign_v2))
        .route("/jwtVerify", post(post_jwt_verify))
        .route("/jwtVerify/v2", post(post_jwt_verify_v2))
        .route("/signV2", post(post_sign_v2))
        .route("/signRawData", post(post_sign_raw_data))
        .route("/sign", post(post_sign))
        .route("/validate", post(post_validate))
}

async fn signed(
    s: Arc<AppState>,
    h: HeaderMap,
    req: Request,
    role: &'static str,
    style: Style,
    version: Version,
) -> Response {
    wrapped(s, h, req.into_body(), role, move |st, who, r| jws_sign(&st.km, who, r, style, version)).await
}

async fn post_jwt_sign(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    signed(s, h, req, "postjwtsign", Style::Jwt, Version::V1).await
}

async fn post_jwt_sign_v2(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    signed(s, h, req, "postjwtsign", Style::Jwt, Version::V2).await
}

async fn post_jws_sign(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    signed(s, h, req, "postjwssign", Style::Jws, Version::V1).await
}

async fn post_jws_sign_v2(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    signed(s, h, req, "postjwssign", Style::Jws, Version::V2).await
}

async fn post_jwt_verify(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postjwtverify", |st, _, r| jwt_verify(&st.km, r, Version::V1)).await
}

async fn post_jwt_verify_v2(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postjwtverify", |st, _, r| jwt_verify(&st.km, r, Version::V2)).await
}

async fn post_sign_v2(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postsignv2", |st, who, r| sign_v2(&st.km, who, r)).await
}

async fn post_sign_raw_data(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postsignrawdata", |st, who, r| sign_raw_data(&st.km, who, r)).await
}

async fn post_sign(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postsign", |st, _, r| sign(&st.km, r)).await
}

async fn post_validate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postvalidate", |st, _, r| validate(&st.km, r)).await
}
