//! TSP licence keys (reference sections 5.4 and 9): `POST /license/generate`,
//! `POST /license/permission` and `GET /license/permission?tspId=&licenseKey=`. Every one
//! checks the caller's role (MOSIP checks none on the two permission endpoints).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use keymgr_core::KeyManager;
use serde::{Deserialize, Serialize};

use crate::api::timestamp;
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched, wrapped};

/// `request` of `/license/generate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseGenerateRequest {
    tsp_id: Option<String>,
    /// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` (UTC), read leniently as the other MOSIP times.
    license_expiry_time: Option<String>,
}

/// `response` of `/license/generate`. No `Debug`: it is the licence key.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseGenerateResponse {
    license_key: String,
}

/// `request` of `POST /license/permission`. No `Debug`: it carries the licence key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseMappingRequest {
    tsp_id: Option<String>,
    license_key: Option<String>,
    permissions: Option<Vec<String>>,
}

/// `response` of `POST /license/permission`.
#[derive(Debug, Serialize)]
pub struct LicenseMappingResponse {
    status: &'static str,
}

/// Query of `GET /license/permission`. No `Debug`: it carries the licence key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseQuery {
    tsp_id: Option<String>,
    license_key: Option<String>,
}

/// `response` of `GET /license/permission`.
#[derive(Debug, Serialize)]
pub struct LicensePermissionsResponse {
    permissions: Vec<String>,
}

/// `POST /license/generate`: a new licence key for the TSP.
pub fn generate_license(
    km: &KeyManager,
    who: &Principal,
    req: LicenseGenerateRequest,
) -> Result<LicenseGenerateResponse, ApiError> {
    let expiry = match req.license_expiry_time.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(_) => Some(timestamp(&req.license_expiry_time, "licenseExpiryTime")?),
    };
    let tsp_id = req.tsp_id.unwrap_or_default();
    Ok(LicenseGenerateResponse { license_key: km.generate_license(&tsp_id, expiry, &who.user)? })
}

/// `POST /license/permission`: adds permissions to a TSP's licence.
pub fn map_license(
    km: &KeyManager,
    who: &Principal,
    req: LicenseMappingRequest,
) -> Result<LicenseMappingResponse, ApiError> {
    let (tsp_id, key) = (req.tsp_id.unwrap_or_default(), req.license_key.unwrap_or_default());
    let permissions = req.permissions.unwrap_or_default();
    Ok(LicenseMappingResponse { status: km.map_license_permissions(&tsp_id, &key, &permissions, &who.user)? })
}

/// `GET /license/permission`: the permissions of a TSP's licence.
pub fn license_permissions(km: &KeyManager, q: LicenseQuery) -> Result<LicensePermissionsResponse, ApiError> {
    let (tsp_id, key) = (q.tsp_id.unwrap_or_default(), q.license_key.unwrap_or_default());
    Ok(LicensePermissionsResponse { permissions: km.license_permissions(&tsp_id, &key)? })
}

/// The routes of licence keys.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/license/generate", post(post_generate))
        .route("/license/permission", post(post_permission).get(get_permission))
}

async fn post_generate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postlicensegenerate", |st, who, r| generate_license(&st.km, who, r)).await
}

async fn post_permission(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postlicensepermission", |st, who, r| map_license(&st.km, who, r)).await
}

async fn get_permission(
    State(s): Shared,
    h: HeaderMap,
    q: Result<Query<LicenseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A query that does not parse is answered in the wrapper, after authentication.
    let q = q.map(|Query(q)| q).map_err(|e| ApiError::InvalidRequest(format!("query: {}", e.body_text())));
    fetched(s, h, "getlicensepermission", move |km| license_permissions(km, q?)).await
}
