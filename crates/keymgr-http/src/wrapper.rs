//! MOSIP's request and response wrappers (reference section 0):
//! `{id, version, requesttime, metadata, request}` in, and
//! `{id, version, responsetime, metadata, response, errors}` out.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keymgr_model::UtcTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ApiError;

/// The `id` and `version` of a request, echoed in its response.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    id: Value,
    version: Value,
}

/// The outer wrapper as it arrives: `request` is kept as raw JSON text and read straight into
/// the endpoint's type, so that no `serde_json::Value` copy of the data (a packet, a PIN) is
/// built.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    version: Value,
    #[serde(default)]
    requesttime: Option<Value>,
    #[serde(borrow, default)]
    request: Option<&'a RawValue>,
}

/// Longest `id` or `version` echoed back; MOSIP's are short names (`mosip.keymanager`, `1.0`).
const MAX_ECHO_LEN: usize = 256;

/// `value` if it is a short scalar, else `null`: a client must not make an answer (error
/// answers included) as large as its request by sending a huge `id`.
fn echoable(value: Value) -> Value {
    match &value {
        Value::String(s) if s.len() > MAX_ECHO_LEN => Value::Null,
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => value,
        Value::Array(_) | Value::Object(_) => Value::Null,
    }
}

/// Reads a wrapped request: the echo fields, and `request` as `T`. Only `request` is
/// validated, as in MOSIP; `requesttime` is read leniently if present.
pub fn parse_request<T: DeserializeOwned>(body: &[u8]) -> (Echo, Result<T, ApiError>) {
    let outer: Incoming<'_> = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return (
                Echo::default(),
                Err(ApiError::InvalidRequest("request body must be a JSON object".into())),
            );
        }
        Err(e) => {
            return (
                Echo::default(),
                Err(ApiError::InvalidRequest(format!("request body is not valid JSON: {e}"))),
            );
        }
    };
    let echo = Echo { id: echoable(outer.id), version: echoable(outer.version) };
    // An empty requesttime counts as absent, as in MOSIP.
    if let Some(Value::String(t)) = &outer.requesttime
        && !t.trim().is_empty()
        && UtcTime::parse_lenient(t).is_err()
    {
        return (echo, Err(ApiError::InvalidTimestamp(format!("requesttime {t:?}"))));
    }
    let request = match outer.request {
        None => Err(ApiError::InvalidRequest("request should not be null".into())),
        Some(raw) => {
            serde_json::from_str(raw.get()).map_err(|e| ApiError::InvalidRequest(format!("request: {e}")))
        }
    };
    (echo, request)
}

#[derive(Serialize)]
struct ServiceError<'a> {
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    message: String,
}

#[derive(Serialize)]
struct Wrapper<'a, T> {
    id: &'a Value,
    version: &'a Value,
    responsetime: String,
    metadata: Option<Value>,
    response: Option<T>,
    errors: Option<Vec<ServiceError<'a>>>,
}

/// The wrapped answer: `response` on success, `errors` (and MOSIP's status habits) on failure.
pub fn respond<T: Serialize>(echo: &Echo, now: UtcTime, result: Result<T, ApiError>) -> Response {
    let responsetime = now.to_mosip_string();
    match result {
        Ok(response) => (
            StatusCode::OK,
            Json(Wrapper {
                id: &echo.id,
                version: &echo.version,
                responsetime,
                metadata: None,
                response: Some(response),
                errors: None,
            }),
        )
            .into_response(),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() || e.is_internal() {
                tracing::error!(code = e.code(), "request failed: {e}");
            }
            let body: Wrapper<'_, ()> = Wrapper {
                id: &echo.id,
                version: &echo.version,
                responsetime,
                metadata: None,
                response: None,
                errors: Some(vec![ServiceError { error_code: e.code(), message: e.public_message() }]),
            };
            (status, Json(body)).into_response()
        }
    }
}
