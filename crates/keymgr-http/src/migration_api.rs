//! Key migration into this deployment over REST, the server side of MOSIP's migration job
//! (reference sections 5.4 and 10): `POST /migrateBaseKey`, `GET /getZKTempCertificate`,
//! `POST /migrateZKKeys`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use keymgr_core::{KeyManager, MigratedBaseKey};
use keymgr_model::{KeyRef, UtcTime};
use serde::{Deserialize, Serialize};

use crate::api::{app_id, ref_id, required};
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched, wrapped};

/// `request` of `/migrateBaseKey`. No `Debug`: it carries a wrapped private key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateBaseKeyBody {
    application_id: Option<String>,
    reference_id: Option<String>,
    encrypted_key_data: Option<String>,
    certificate_data: Option<String>,
    not_before: Option<String>,
    not_after: Option<String>,
}

/// `response` of `/migrateBaseKey`.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    status: &'static str,
    timestamp: String,
}

fn optional_time(text: Option<&str>, field: &str) -> Result<Option<UtcTime>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => UtcTime::parse_lenient(t)
            .map(Some)
            .map_err(|_| ApiError::InvalidTimestamp(format!("{field} {t:?}"))),
    }
}

/// `POST /migrateBaseKey`.
pub fn migrate_base_key(
    km: &KeyManager,
    who: &Principal,
    req: MigrateBaseKeyBody,
) -> Result<StatusResponse, ApiError> {
    let key_ref = KeyRef::new(app_id(&req.application_id)?, ref_id(&req.reference_id)?);
    let status = km.migrate_base_key(&MigratedBaseKey {
        key_ref,
        encrypted_key: required(&req.encrypted_key_data, "encryptedKeyData")?,
        certificate_pem: required(&req.certificate_data, "certificateData")?,
        not_before: optional_time(req.not_before.as_deref(), "notBefore")?,
        not_after: optional_time(req.not_after.as_deref(), "notAfter")?,
        who: &who.user,
    })?;
    Ok(StatusResponse { status: status.mosip_status(), timestamp: km.now().to_mosip_string() })
}

/// `response` of `/getZKTempCertificate`.
#[derive(Debug, Serialize)]
pub struct CertificateResponse {
    certificate: String,
    timestamp: String,
}

/// One key of `/migrateZKKeys`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZkKeyBody {
    key_index: Option<i64>,
    encrypted_key_data: Option<String>,
}

/// `request` of `/migrateZKKeys`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateZkKeysBody {
    zk_encrypted_data_list: Option<Vec<ZkKeyBody>>,
    purge_temp_key_flag: Option<bool>,
}

/// One answer of `/migrateZKKeys`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZkKeyStatus {
    key_index: i64,
    status_message: &'static str,
}

/// `response` of `/migrateZKKeys`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateZkKeysResponse {
    zk_encrypted_data_list: Vec<ZkKeyStatus>,
}

/// `POST /migrateZKKeys`.
pub fn migrate_zk_keys(
    km: &KeyManager,
    who: &Principal,
    req: MigrateZkKeysBody,
) -> Result<MigrateZkKeysResponse, ApiError> {
    let list = req.zk_encrypted_data_list.ok_or_else(|| ApiError::blank("zkEncryptedDataList"))?;
    let mut keys = Vec::with_capacity(list.len());
    for (i, k) in list.into_iter().enumerate() {
        let index =
            k.key_index.ok_or_else(|| ApiError::blank(&format!("zkEncryptedDataList[{i}].keyIndex")))?;
        let data = k
            .encrypted_key_data
            .filter(|d| !d.trim().is_empty())
            .ok_or_else(|| ApiError::blank(&format!("zkEncryptedDataList[{i}].encryptedKeyData")))?;
        keys.push((index, data));
    }
    let answers = km.migrate_zk_keys(&keys, req.purge_temp_key_flag.unwrap_or(false), &who.user)?;
    Ok(MigrateZkKeysResponse {
        zk_encrypted_data_list: answers
            .into_iter()
            .map(|(key_index, status)| ZkKeyStatus { key_index, status_message: status.mosip_status() })
            .collect(),
    })
}

/// The routes of key migration.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/migrateBaseKey", post(post_migrate_base_key))
        .route("/getZKTempCertificate", get(get_zk_temp_certificate))
        .route("/migrateZKKeys", post(post_migrate_zk_keys))
}

async fn post_migrate_base_key(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postmigratebasekey", |st, who, r| migrate_base_key(&st.km, who, r)).await
}

async fn get_zk_temp_certificate(State(s): Shared, h: HeaderMap) -> Response {
    fetched(s, h, "getzktempcertificate", |km| {
        Ok(CertificateResponse {
            certificate: km.zk_temp_certificate()?,
            timestamp: km.now().to_mosip_string(),
        })
    })
    .await
}

async fn post_migrate_zk_keys(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postmigratezkkeys", |st, who, r| migrate_zk_keys(&st.km, who, r)).await
}
