//! Key lifecycle over REST (ours; MOSIP has none of it): `POST /compromise` (dry run, then
//! apply), `POST /rewrap` and `POST /rewrap/batch`, `POST /retire` (list, then apply),
//! `GET /keyStates`, `PUT /keyState/{alias}` (deactivate, recovery window) and
//! `PUT /retention/{applicationId}`. Every administrative call is audited by the wrapper.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post, put};
use keymgr_core::{CompromiseReport, CompromiseRequest, KeyManager, KeyState, KeyStatus, RetireReport};
use keymgr_model::{KeyRef, UtcTime};
use serde::{Deserialize, Serialize};

use crate::api::{app_id, decode_b64, optional_not_blank, ref_id};
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, fetched, wrapped};

/// Most envelopes in one `POST /rewrap/batch`.
pub const MAX_REWRAP_BATCH: usize = 256;

/// Longest recovery window an operator may open at once (30 days).
const MAX_RECOVERY_HOURS: i64 = 30 * 24;

fn recovery_until(km: &KeyManager, hours: Option<i64>) -> Result<Option<UtcTime>, ApiError> {
    match hours {
        None | Some(0) => Ok(None),
        Some(h) if (1..=MAX_RECOVERY_HOURS).contains(&h) => Ok(Some(km.now().plus(time::Duration::hours(h)))),
        Some(_) => Err(ApiError::InvalidRequest(format!("recoveryHours must be 0 to {MAX_RECOVERY_HOURS}"))),
    }
}

fn reason(text: Option<&str>) -> Result<&str, ApiError> {
    text.map(str::trim).filter(|r| !r.is_empty()).ok_or_else(|| ApiError::blank("reason"))
}

/// `request` of `POST /compromise`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompromiseBody {
    application_id: Option<String>,
    reference_id: Option<String>,
    alias: Option<String>,
    reason: Option<String>,
    dry_run: Option<bool>,
    rotate_children: Option<bool>,
    recovery_hours: Option<i64>,
}

/// A key in a response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyItem {
    alias: String,
    application_id: String,
    reference_id: String,
    generated_at: String,
    expires_at: String,
    thumbprint: Option<String>,
}

impl KeyItem {
    fn of(key: &keymgr_model::KeyAlias) -> Self {
        Self {
            alias: key.alias.clone(),
            application_id: key.key_ref.app.to_string(),
            reference_id: key.key_ref.reference.to_string(),
            generated_at: key.generated_at.to_mosip_string(),
            expires_at: key.expires_at.to_mosip_string(),
            thumbprint: key.thumbprint.map(|t| t.to_hex()),
        }
    }
}

/// A pair and a count.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairCount {
    application_id: String,
    reference_id: String,
    keys: usize,
}

/// Something that depends on a compromised key.
#[derive(Debug, Serialize)]
pub struct DependentItem {
    kind: &'static str,
    id: String,
    subject: String,
    relation: &'static str,
}

/// A child that could not be re-wrapped.
#[derive(Debug, Serialize)]
pub struct FailedItem {
    alias: String,
    reason: String,
}

/// `response` of `POST /compromise`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompromiseResponse {
    dry_run: bool,
    resumed: bool,
    key: KeyItem,
    state_before: &'static str,
    successor: Option<KeyItem>,
    children_before: usize,
    rewrapped: usize,
    remaining: usize,
    failed: Vec<FailedItem>,
    exposed_pairs: Vec<PairCount>,
    rotated_pairs: Vec<PairCount>,
    dependents: Vec<DependentItem>,
    complete: bool,
}

impl From<CompromiseReport> for CompromiseResponse {
    fn from(r: CompromiseReport) -> Self {
        Self {
            dry_run: r.dry_run,
            resumed: r.resumed,
            key: KeyItem::of(&r.key),
            state_before: r.state_before.as_str(),
            successor: r.successor.as_ref().map(KeyItem::of),
            children_before: r.children_before,
            rewrapped: r.rewrapped,
            remaining: r.remaining,
            failed: r.failed.into_iter().map(|(alias, reason)| FailedItem { alias, reason }).collect(),
            exposed_pairs: r
                .exposed_pairs
                .into_iter()
                .map(|(k, keys)| PairCount {
                    application_id: k.app.to_string(),
                    reference_id: k.reference.to_string(),
                    keys,
                })
                .collect(),
            rotated_pairs: r
                .rotated_pairs
                .into_iter()
                .map(|k| PairCount {
                    application_id: k.app.to_string(),
                    reference_id: k.reference.to_string(),
                    keys: 1,
                })
                .collect(),
            dependents: r
                .dependents
                .into_iter()
                .map(|d| DependentItem { kind: d.kind, id: d.id, subject: d.subject, relation: d.relation })
                .collect(),
            complete: r.complete,
        }
    }
}

/// `POST /compromise`: `reason` is required; `dryRun` reports only; `rotateChildren`
/// (default true) expires the current keys the compromised master certified.
pub fn compromise(
    km: &KeyManager,
    who: &Principal,
    req: CompromiseBody,
) -> Result<CompromiseResponse, ApiError> {
    let key_ref = KeyRef::new(app_id(&req.application_id)?, ref_id(&req.reference_id)?);
    let request = CompromiseRequest {
        key_ref,
        alias: req.alias.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()),
        reason: reason(req.reason.as_deref())?.to_owned(),
        who: who.user.clone(),
        dry_run: req.dry_run.unwrap_or(false),
        rotate_children: req.rotate_children.unwrap_or(true),
        recovery_until: recovery_until(km, req.recovery_hours)?,
        progress: None,
    };
    Ok(km.compromise(&request)?.into())
}

/// One envelope of `POST /rewrap` (and an item of the batch form).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewrapBody {
    application_id: Option<String>,
    reference_id: Option<String>,
    data: Option<String>,
    salt: Option<String>,
    aad: Option<String>,
    accept_compromised: Option<bool>,
}

/// `response` of `POST /rewrap`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewrapResponse {
    data: String,
    from_thumbprint: String,
    to_thumbprint: String,
    from_key_state: &'static str,
    changed: bool,
}

/// `POST /rewrap`: the rules of `/decrypt` (access, thumbprint scope); `acceptCompromised`
/// (default false) lets an envelope of a compromised key through, audited.
pub fn rewrap(km: &KeyManager, who: &Principal, req: RewrapBody) -> Result<RewrapResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    let data = req
        .data
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::blank("data"))?;
    let salt = optional_not_blank(&req.salt, "salt")?.map(|t| decode_b64("salt", t, 1024)).transpose()?;
    let aad = optional_not_blank(&req.aad, "aad")?.map(|t| decode_b64("aad", t, 64 * 1024)).transpose()?;
    let out = km.rewrap(
        &app,
        &reference,
        data.as_bytes(),
        salt.as_deref(),
        aad.as_deref(),
        &who.user,
        req.accept_compromised.unwrap_or(false),
    )?;
    Ok(RewrapResponse {
        data: out.data,
        from_thumbprint: out.from_thumbprint.to_hex(),
        to_thumbprint: out.to_thumbprint.to_hex(),
        from_key_state: out.from_state.as_str(),
        changed: out.changed,
    })
}

/// `request` of `POST /rewrap/batch`.
#[derive(Debug, Deserialize)]
pub struct RewrapBatchBody {
    items: Option<Vec<RewrapBody>>,
}

/// One answer of `POST /rewrap/batch`: the envelope, or the item's error.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RewrapBatchItem {
    index: usize,
    #[serde(flatten)]
    result: Option<RewrapResponse>,
    error_code: Option<&'static str>,
    message: Option<String>,
}

/// `response` of `POST /rewrap/batch`.
#[derive(Debug, Serialize)]
pub struct RewrapBatchResponse {
    items: Vec<RewrapBatchItem>,
    failed: usize,
}

/// `POST /rewrap/batch`: up to [`MAX_REWRAP_BATCH`] items, each answered on its own (an
/// item's error does not stop the others).
pub fn rewrap_batch(
    km: &KeyManager,
    who: &Principal,
    req: RewrapBatchBody,
) -> Result<RewrapBatchResponse, ApiError> {
    let items = req.items.filter(|i| !i.is_empty()).ok_or_else(|| ApiError::blank("items"))?;
    if items.len() > MAX_REWRAP_BATCH {
        return Err(ApiError::InvalidRequest(format!("at most {MAX_REWRAP_BATCH} items per batch")));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        out.push(match rewrap(km, who, item) {
            Ok(r) => RewrapBatchItem { index, result: Some(r), error_code: None, message: None },
            Err(e) => RewrapBatchItem {
                index,
                result: None,
                error_code: Some(e.code()),
                message: Some(e.public_message()),
            },
        });
    }
    let failed = out.iter().filter(|i| i.error_code.is_some()).count();
    Ok(RewrapBatchResponse { items: out, failed })
}

/// `request` of `POST /retire`.
#[derive(Debug, Deserialize)]
pub struct RetireBody {
    apply: Option<bool>,
}

/// A key retirement lists or destroyed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetireItem {
    #[serde(flatten)]
    key: KeyItem,
    state: &'static str,
    holder: &'static str,
    retained_until: String,
    leftover: bool,
}

/// An expired key kept, with why.
#[derive(Debug, Serialize)]
pub struct KeptItem {
    #[serde(flatten)]
    key: KeyItem,
    why: String,
}

/// `response` of `POST /retire`.
#[derive(Debug, Serialize)]
pub struct RetireResponse {
    applied: bool,
    candidates: Vec<RetireItem>,
    kept: Vec<KeptItem>,
    destroyed: Vec<String>,
    failed: Vec<FailedItem>,
}

impl From<RetireReport> for RetireResponse {
    fn from(r: RetireReport) -> Self {
        Self {
            applied: r.applied,
            candidates: r
                .candidates
                .iter()
                .map(|c| RetireItem {
                    key: KeyItem::of(&c.key),
                    state: c.state.as_str(),
                    holder: c.holder,
                    retained_until: c.retained_until.to_mosip_string(),
                    leftover: c.leftover,
                })
                .collect(),
            kept: r.kept.iter().map(|(k, why)| KeptItem { key: KeyItem::of(k), why: why.clone() }).collect(),
            destroyed: r.destroyed,
            failed: r.failed.into_iter().map(|(alias, reason)| FailedItem { alias, reason }).collect(),
        }
    }
}

/// `POST /retire`: lists what may be destroyed; `apply: true` destroys it.
pub fn retire(km: &KeyManager, who: &Principal, req: RetireBody) -> Result<RetireResponse, ApiError> {
    Ok(km.retire(req.apply.unwrap_or(false), &who.user)?.into())
}

/// Query of `GET /keyStates`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatesQuery {
    application_id: Option<String>,
    reference_id: Option<String>,
}

/// A key and its state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStateItem {
    #[serde(flatten)]
    key: KeyItem,
    state: &'static str,
    reason: Option<String>,
    recovery_until: Option<String>,
    changed_by: Option<String>,
    changed_at: Option<String>,
}

impl From<KeyStatus> for KeyStateItem {
    fn from(s: KeyStatus) -> Self {
        Self {
            key: KeyItem::of(&s.key),
            state: s.state.as_str(),
            reason: s.record.as_ref().and_then(|r| r.reason.clone()),
            recovery_until: s.record.as_ref().and_then(|r| r.recovery_until.map(|t| t.to_mosip_string())),
            changed_by: s.record.as_ref().map(|r| r.updated_by.clone()),
            changed_at: s.record.as_ref().map(|r| r.updated_at.to_mosip_string()),
        }
    }
}

/// `response` of `GET /keyStates`.
#[derive(Debug, Serialize)]
pub struct KeyStatesResponse {
    keys: Vec<KeyStateItem>,
}

/// `GET /keyStates`: the keys of a pair (`applicationId` and `referenceId`), of an
/// application (`applicationId` alone), or all, with their states.
pub fn key_states(km: &KeyManager, q: KeyStatesQuery) -> Result<KeyStatesResponse, ApiError> {
    let named = q.application_id.as_deref().is_some_and(|a| !a.trim().is_empty());
    let statuses = match named {
        false => km.key_statuses(None)?,
        true => {
            let app = app_id(&q.application_id)?;
            match &q.reference_id {
                Some(_) => km.key_statuses(Some(&KeyRef::new(app, ref_id(&q.reference_id)?)))?,
                None => km.key_statuses(None)?.into_iter().filter(|s| s.key.key_ref.app == app).collect(),
            }
        }
    };
    Ok(KeyStatesResponse { keys: statuses.into_iter().map(KeyStateItem::from).collect() })
}

/// `request` of `PUT /keyState/{alias}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStateBody {
    state: Option<String>,
    reason: Option<String>,
    recovery_hours: Option<i64>,
}

/// `response` of `PUT /keyState/{alias}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStateChanged {
    alias: String,
    state: &'static str,
    recovery_until: Option<String>,
}

/// `PUT /keyState/{alias}`: `deactivated` (the key stops encrypting and signing now), or
/// `compromised` on a compromised key to open (`recoveryHours` > 0) or close (0) its recovery
/// window. Compromise itself is `POST /compromise`; destruction is `POST /retire`.
pub fn put_key_state(
    km: &KeyManager,
    who: &Principal,
    alias: &str,
    req: KeyStateBody,
) -> Result<KeyStateChanged, ApiError> {
    let state: KeyState = req
        .state
        .as_deref()
        .ok_or_else(|| ApiError::blank("state"))?
        .parse()
        .map_err(|e: keymgr_model::ModelError| ApiError::InvalidRequest(e.to_string()))?;
    let reason = reason(req.reason.as_deref())?;
    let until = recovery_until(km, req.recovery_hours)?;
    match state {
        KeyState::Deactivated => {
            km.deactivate_key(alias, reason, &who.user)?;
        }
        KeyState::Compromised => km.set_recovery_window(alias, until, reason, &who.user)?,
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "state {other} is not set here: use deactivated, or compromised for a recovery window"
            )));
        }
    }
    Ok(KeyStateChanged {
        alias: alias.to_owned(),
        state: state.as_str(),
        recovery_until: until.map(|t| t.to_mosip_string()),
    })
}

/// `request` of `PUT /retention/{applicationId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionBody {
    retention_days: Option<u32>,
    reason: Option<String>,
}

/// `response` of `PUT /retention/{applicationId}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionChanged {
    application_id: String,
    retention_days: u32,
}

/// `PUT /retention/{applicationId}`: days an expired key of the application is kept before
/// `POST /retire` may destroy it (audited with before, after and the reason).
pub fn put_retention(
    km: &KeyManager,
    who: &Principal,
    app: &str,
    req: RetentionBody,
) -> Result<RetentionChanged, ApiError> {
    let app = app_id(&Some(app.to_owned()))?;
    let days = req.retention_days.ok_or_else(|| ApiError::blank("retentionDays"))?;
    km.set_retention(&app, days, &who.user, Some(reason(req.reason.as_deref())?))?;
    Ok(RetentionChanged { application_id: app.to_string(), retention_days: days })
}

/// The routes of the key lifecycle.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/compromise", post(post_compromise))
        .route("/rewrap", post(post_rewrap))
        .route("/rewrap/batch", post(post_rewrap_batch))
        .route("/retire", post(post_retire))
        .route("/keyStates", get(get_key_states))
        .route("/keyState/{alias}", put(put_key_state_route))
        .route("/retention/{applicationId}", put(put_retention_route))
}

async fn post_compromise(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postcompromise", |st, who, r| compromise(&st.km, who, r)).await
}

async fn post_rewrap(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postrewrap", |st, who, r| rewrap(&st.km, who, r)).await
}

async fn post_rewrap_batch(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postrewrapbatch", |st, who, r| rewrap_batch(&st.km, who, r)).await
}

async fn post_retire(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postretire", |st, who, r| retire(&st.km, who, r)).await
}

async fn get_key_states(
    State(s): Shared,
    h: HeaderMap,
    q: Result<Query<KeyStatesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).map_err(|e| ApiError::InvalidRequest(format!("query: {}", e.body_text())));
    fetched(s, h, "getkeystates", move |km| key_states(km, q?)).await
}

async fn put_key_state_route(
    State(s): Shared,
    Path(alias): Path<String>,
    h: HeaderMap,
    req: Request,
) -> Response {
    wrapped(s, h, req.into_body(), "putkeystatealias", move |st, who, r| {
        put_key_state(&st.km, who, &alias, r)
    })
    .await
}

async fn put_retention_route(
    State(s): Shared,
    Path(app): Path<String>,
    h: HeaderMap,
    req: Request,
) -> Response {
    wrapped(s, h, req.into_body(), "putretentionapplicationid", move |st, who, r| {
        put_retention(&st.km, who, &app, r)
    })
    .await
}
