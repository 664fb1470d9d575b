//! Zero-knowledge encryption over REST, as MOSIP serves it (reference sections 5.4 and 8):
//! `POST /zkEncrypt`, `POST /zkDecrypt` and `POST /zkReEncryptRandomKey?encryptedKey=`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use keymgr_core::{KeyManager, ZkAttribute};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched_by, wrapped};

/// One attribute of a ZK request or response. No `Debug`: `value` is identity data.
#[derive(Deserialize, Serialize)]
pub struct ZkAttributeBody {
    identifier: Option<String>,
    value: Option<Zeroizing<String>>,
}

/// `request` of `/zkEncrypt` and `/zkDecrypt`. No `Debug`: it holds identity data.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZkRequest {
    id: Option<Zeroizing<String>>,
    zk_data_attributes: Option<Vec<ZkAttributeBody>>,
}

/// `response` of `/zkEncrypt` and `/zkDecrypt` (MOSIP's field names, `rankomKeyIndex` sic;
/// `/zkDecrypt` answers the attributes only, the other fields null as in MOSIP).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZkResponse {
    zk_data_attributes: Vec<ZkAttributeBody>,
    encrypted_random_key: Option<String>,
    rankom_key_index: Option<String>,
}

fn attributes(req: ZkRequest) -> Result<(Zeroizing<String>, Vec<ZkAttribute>), ApiError> {
    let id = req.id.filter(|i| !i.trim().is_empty()).ok_or_else(|| ApiError::blank("id"))?;
    let list = req.zk_data_attributes.unwrap_or_default();
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.into_iter().enumerate() {
        let identifier = a
            .identifier
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ApiError::blank(&format!("zkDataAttributes[{i}].identifier")))?;
        let value = a.value.ok_or_else(|| ApiError::blank(&format!("zkDataAttributes[{i}].value")))?;
        out.push(ZkAttribute { identifier, value });
    }
    Ok((id, out))
}

fn answer(list: Vec<ZkAttribute>) -> Vec<ZkAttributeBody> {
    list.into_iter()
        .map(|a| ZkAttributeBody { identifier: Some(a.identifier), value: Some(a.value) })
        .collect()
}

/// `POST /zkEncrypt`.
pub fn zk_encrypt(km: &KeyManager, req: ZkRequest) -> Result<ZkResponse, ApiError> {
    let (id, list) = attributes(req)?;
    let sealed = km.zk_encrypt(&id, &list)?;
    Ok(ZkResponse {
        zk_data_attributes: answer(sealed.attributes),
        encrypted_random_key: Some(sealed.encrypted_random_key),
        rankom_key_index: Some(sealed.random_key_index.to_string()),
    })
}

/// `POST /zkDecrypt`.
pub fn zk_decrypt(km: &KeyManager, req: ZkRequest) -> Result<ZkResponse, ApiError> {
    let (id, list) = attributes(req)?;
    let opened = km.zk_decrypt(&id, &list)?;
    Ok(ZkResponse { zk_data_attributes: answer(opened), encrypted_random_key: None, rankom_key_index: None })
}

/// Query of `POST /zkReEncryptRandomKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReEncryptQuery {
    encrypted_key: Option<String>,
}

/// `response` of `POST /zkReEncryptRandomKey`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReEncryptResponse {
    encrypted_key: String,
}

/// `POST /zkReEncryptRandomKey?encryptedKey=`: the random key re-wrapped by this
/// deployment's ZK master.
pub fn zk_reencrypt(
    km: &KeyManager,
    who: &Principal,
    q: ReEncryptQuery,
) -> Result<ReEncryptResponse, ApiError> {
    let key = q.encrypted_key.ok_or_else(|| ApiError::blank("encryptedKey"))?;
    Ok(ReEncryptResponse { encrypted_key: km.zk_reencrypt_random_key(&key, &who.user)? })
}

/// The routes of ZK encryption.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/zkEncrypt", post(post_zk_encrypt))
        .route("/zkDecrypt", post(post_zk_decrypt))
        .route("/zkReEncryptRandomKey", post(post_zk_reencrypt))
}

async fn post_zk_encrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postzkencrypt", |st, _, r| zk_encrypt(&st.km, r)).await
}

async fn post_zk_decrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postzkdecrypt", |st, _, r| zk_decrypt(&st.km, r)).await
}

async fn post_zk_reencrypt(
    State(s): Shared,
    h: HeaderMap,
    q: Result<Query<ReEncryptQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A query that does not parse is answered in the wrapper, after authentication.
    let q = q.map(|Query(q)| q).map_err(|e| ApiError::InvalidRequest(format!("query: {}", e.body_text())));
    fetched_by(s, h, "postzkreencryptrandomkey", move |km, who| zk_reencrypt(km, who, q?)).await
}
