//! The actuator endpoints MOSIP operators use besides health and Prometheus:
//! `GET /actuator/info` (no token, as Spring's), `GET /actuator/mappings` (the endpoints, their
//! methods and role names, read from the OpenAPI document the router is checked against) and
//! `POST /actuator/refresh` (drops the in-memory caches so hand-made database changes are
//! read; the configuration itself is read at start only).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::{ApiError, AppState, OPENAPI_JSON, Shared, fetched};

/// `GET /actuator/info`: what is running.
#[derive(Debug, Serialize)]
struct Info {
    build: BuildInfo,
}

#[derive(Debug, Serialize)]
struct BuildInfo {
    name: &'static str,
    version: &'static str,
    description: &'static str,
}

/// One served endpoint.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Mapping {
    method: String,
    path: String,
    /// The role property name (`mosip.role.keymanager.<role>`), if the endpoint needs a token.
    role: Option<String>,
}

/// `response` of `/actuator/mappings`.
#[derive(Debug, Serialize)]
pub struct Mappings {
    mappings: Vec<Mapping>,
}

/// `response` of `/actuator/refresh`.
#[derive(Debug, Serialize)]
pub struct Refreshed {
    /// The caches dropped.
    refreshed: Vec<&'static str>,
}

/// The endpoints of the OpenAPI document, sorted by path and method.
pub fn mappings() -> Result<Vec<Mapping>, ApiError> {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON)
        .map_err(|e| ApiError::Internal(format!("the embedded OpenAPI document: {e}")))?;
    let mut out = Vec::new();
    for (path, item) in doc.get("paths").and_then(|p| p.as_object()).into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let description = op.get("description").and_then(|d| d.as_str()).unwrap_or_default();
            let role = description
                .split_once("Role name: `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(role, _)| role.to_owned());
            out.push(Mapping { method: method.to_uppercase(), path: path.clone(), role });
        }
    }
    out.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    Ok(out)
}

/// The routes of this section.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/actuator/info", get(info))
        .route("/actuator/mappings", get(get_mappings))
        .route("/actuator/refresh", post(refresh))
}

async fn info() -> Response {
    Json(Info {
        build: BuildInfo {
            name: "keymgr",
            version: env!("CARGO_PKG_VERSION"),
            description: "Key manager with MOSIP's REST API",
        },
    })
    .into_response()
}

async fn get_mappings(State(s): Shared, h: HeaderMap) -> Response {
    fetched(s, h, "getactuatormappings", |_| Ok(Mappings { mappings: mappings()? })).await
}

async fn refresh(State(s): Shared, h: HeaderMap) -> Response {
    fetched(s, h, "postactuatorrefresh", |km| Ok(Refreshed { refreshed: km.refresh_caches() })).await
}
