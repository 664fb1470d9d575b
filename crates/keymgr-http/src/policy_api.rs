//! Governed policy changes over REST (ours: MOSIP edits `key_policy_def` by hand):
//! `PUT /policies/{applicationId}` lints the change and refuses findings unless forced with a
//! reason; `GET /policies` lists the policies.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, put};
use keymgr_core::{KeyManager, Severity};
use keymgr_model::{AppId, KeyPolicy};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched, wrapped};

/// `request` of `PUT /policies/{applicationId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyBody {
    key_validity_duration: Option<i16>,
    pre_expire_days: Option<i16>,
    is_active: Option<bool>,
    access_allowed: Option<String>,
    force: Option<bool>,
    reason: Option<String>,
}

/// One finding of the lint.
#[derive(Debug, Serialize)]
pub struct FindingItem {
    severity: &'static str,
    #[serde(rename = "applicationId")]
    application_id: String,
    message: String,
}

/// `response` of `PUT /policies/{applicationId}`.
#[derive(Debug, Serialize)]
pub struct PolicyChangeResponse {
    status: &'static str,
    findings: Vec<FindingItem>,
    timestamp: String,
}

/// `PUT /policies/{applicationId}`: every field is required; `force: true` needs a `reason`.
pub fn change_policy(
    km: &KeyManager,
    who: &Principal,
    app: &str,
    req: PolicyBody,
) -> Result<PolicyChangeResponse, ApiError> {
    let app = AppId::new(app.trim()).map_err(|e| ApiError::InvalidRequest(format!("applicationId: {e}")))?;
    let validity = req.key_validity_duration.ok_or_else(|| ApiError::blank("keyValidityDuration"))?;
    let pre = req.pre_expire_days.ok_or_else(|| ApiError::blank("preExpireDays"))?;
    let active = req.is_active.ok_or_else(|| ApiError::blank("isActive"))?;
    let access = req.access_allowed.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let policy = KeyPolicy::from_columns(app, validity, pre, active, access)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let reason =
        match (req.force.unwrap_or(false), req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty())) {
            (false, _) => None,
            (true, Some(r)) => Some(r),
            (true, None) => return Err(ApiError::InvalidRequest("force needs a reason".into())),
        };
    let change = km.change_policy(&policy, &who.user, reason)?;
    Ok(PolicyChangeResponse {
        status: "Policy Updated",
        findings: change
            .findings
            .into_iter()
            .map(|f| FindingItem {
                severity: if f.severity == Severity::Error { "error" } else { "warning" },
                application_id: f.app_id,
                message: f.message,
            })
            .collect(),
        timestamp: km.now().to_mosip_string(),
    })
}

/// One policy of `GET /policies`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyItem {
    application_id: String,
    key_validity_duration: u16,
    pre_expire_days: u16,
    is_active: bool,
    access_allowed: String,
}

/// `response` of `GET /policies`.
#[derive(Debug, Serialize)]
pub struct PoliciesResponse {
    policies: Vec<PolicyItem>,
}

/// The routes of governed policies.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/policies", get(get_policies)).route("/policies/{applicationId}", put(put_policy))
}

async fn put_policy(State(s): Shared, Path(app): Path<String>, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "putpoliciesapplicationid", move |st, who, r| {
        change_policy(&st.km, who, &app, r)
    })
    .await
}

async fn get_policies(State(s): Shared, h: HeaderMap) -> Response {
    fetched(s, h, "getpolicies", |km| {
        let policies = km.policies().map_err(ApiError::Keymgr)?;
        Ok(PoliciesResponse {
            policies: policies
                .into_iter()
                .map(|p| PolicyItem {
                    application_id: p.app_id.to_string(),
                    key_validity_duration: p.validity_days,
                    pre_expire_days: p.pre_expire_days,
                    is_active: p.is_active,
                    access_allowed: p.access_allowed.to_column(),
                })
                .collect(),
        })
    })
    .await
}
