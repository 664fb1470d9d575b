//! Client crypto (reference sections 5.4 and 9): `/cssign`, `/csverifysign`, `/tpmencrypt`,
//! `/tpmdecrypt`, `/tpmsigning/publickey` and `/tpmencryption/publickey`. Values are read as
//! MOSIP reads them (URL-safe base64, else standard) and answered URL-safe without padding.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use keymgr_core::ClientKind;
use keymgr_core::KeyManager;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::api::{decode_b64, required};
use crate::{ApiError, AppState, Shared, wrapped};

/// `request` of `/cssign`. No `Debug`: `data` may be anything the caller signs.
#[derive(Deserialize)]
pub struct SignRequest {
    data: Option<String>,
}

/// `response` of `/cssign`, `/tpmencrypt` and `/tpmdecrypt` (`data` or `value`).
#[derive(Serialize)]
pub struct DataResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Zeroizing<String>>,
}

/// `request` of `/csverifysign`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    data: Option<String>,
    signature: Option<String>,
    public_key: Option<String>,
    /// Deprecated in MOSIP 1.2.1 and ignored there too: the key says whether it is a TPM's.
    #[serde(default, rename = "isTpm")]
    _is_tpm: Option<bool>,
    client_type: Option<String>,
}

/// `response` of `/csverifysign`.
#[derive(Debug, Serialize)]
pub struct VerifyResponse {
    verified: bool,
}

/// `request` of `/tpmencrypt` and `/tpmdecrypt`. No `Debug`: `value` is the data.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CryptoRequest {
    value: Option<Zeroizing<String>>,
    public_key: Option<String>,
    #[serde(default, rename = "isTpm")]
    _is_tpm: Option<bool>,
    client_type: Option<String>,
}

/// `request` of the two public-key endpoints (`serverProfile` is required and ignored, as
/// in MOSIP).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyRequest {
    server_profile: Option<String>,
}

/// `response` of the two public-key endpoints: the server key's DER SubjectPublicKeyInfo.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyResponse {
    public_key: String,
}

fn client_kind(value: &Option<String>) -> Result<ClientKind, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(ClientKind::Local),
        Some(v) if v.eq_ignore_ascii_case("TPM") => Ok(ClientKind::Tpm),
        Some(v) if v.eq_ignore_ascii_case("ANDROID") => Ok(ClientKind::Android),
        Some(v) if v.eq_ignore_ascii_case("LOCAL") => Ok(ClientKind::Local),
        Some(v) => Err(ApiError::InvalidRequest(format!("clientType {v:?}: use TPM, ANDROID or LOCAL"))),
    }
}

fn base64_field(value: &Option<String>, field: &str) -> Result<Vec<u8>, ApiError> {
    decode_b64(field, required(value, field)?, usize::MAX)
}

fn b64(bytes: &[u8]) -> String {
    keymgr_model::base64::encode(bytes)
}

/// `POST /cssign`: the server's client key signs the decoded `data` (PKCS#1 v1.5, SHA-256).
pub fn cs_sign(km: &KeyManager, req: SignRequest) -> Result<DataResponse, ApiError> {
    let data = base64_field(&req.data, "data")?;
    Ok(DataResponse { data: Some(b64(&km.client_sign(&data)?)), value: None })
}

/// `POST /csverifysign`: whether a client's signature holds.
pub fn cs_verify(km: &KeyManager, req: VerifyRequest) -> Result<VerifyResponse, ApiError> {
    let kind = client_kind(&req.client_type)?;
    let data = base64_field(&req.data, "data")?;
    let signature = base64_field(&req.signature, "signature")?;
    let public_key = base64_field(&req.public_key, "publicKey")?;
    Ok(VerifyResponse { verified: km.client_verify(kind, &public_key, &data, &signature)? })
}

fn value(req: &CryptoRequest) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let text = req
        .value
        .as_ref()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::blank("value"))?;
    Ok(Zeroizing::new(decode_b64("value", text, usize::MAX)?))
}

/// `POST /tpmencrypt`: `value` encrypted for the client's `publicKey`.
pub fn tpm_encrypt(km: &KeyManager, req: CryptoRequest) -> Result<DataResponse, ApiError> {
    let kind = client_kind(&req.client_type)?;
    let data = value(&req)?;
    let public_key = base64_field(&req.public_key, "publicKey")?;
    let sealed = km.client_encrypt(kind, &public_key, &data)?;
    Ok(DataResponse { data: None, value: Some(Zeroizing::new(b64(&sealed))) })
}

/// `POST /tpmdecrypt`: `value` decrypted with the server's client key (`publicKey` is
/// required, as in MOSIP, and not used).
pub fn tpm_decrypt(km: &KeyManager, req: CryptoRequest) -> Result<DataResponse, ApiError> {
    client_kind(&req.client_type)?;
    required(&req.public_key, "publicKey")?;
    let sealed = value(&req)?;
    let plain = km.client_decrypt(&sealed)?;
    Ok(DataResponse { data: None, value: Some(Zeroizing::new(b64(&plain))) })
}

/// `POST /tpmsigning/publickey` and `/tpmencryption/publickey`.
pub fn public_key(km: &KeyManager, req: PublicKeyRequest) -> Result<PublicKeyResponse, ApiError> {
    required(&req.server_profile, "serverProfile")?;
    Ok(PublicKeyResponse { public_key: b64(&km.client_public_key()?) })
}

/// The routes of client crypto.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/cssign", post(post_cs_sign))
        .route("/csverifysign", post(post_cs_verify))
        .route("/tpmencrypt", post(post_tpm_encrypt))
        .route("/tpmdecrypt", post(post_tpm_decrypt))
        .route("/tpmsigning/publickey", post(post_signing_public_key))
        .route("/tpmencryption/publickey", post(post_encryption_public_key))
}

async fn post_cs_sign(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postcssign", |st, _, r| cs_sign(&st.km, r)).await
}

async fn post_cs_verify(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postcsverifysign", |st, _, r| cs_verify(&st.km, r)).await
}

async fn post_tpm_encrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "posttpmencrypt", |st, _, r| tpm_encrypt(&st.km, r)).await
}

async fn post_tpm_decrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "posttpmdecrypt", |st, _, r| tpm_decrypt(&st.km, r)).await
}

async fn post_signing_public_key(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "posttpmsigningpublickey", |st, _, r| public_key(&st.km, r)).await
}

async fn post_encryption_public_key(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "posttpmencryptionpublickey", |st, _, r| public_key(&st.km, r)).await
}
