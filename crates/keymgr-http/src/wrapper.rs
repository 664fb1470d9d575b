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
use crate::secret_buf::SecretBuf;

/// The `id` and `version` of a request, echoed in its response.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    id: Value,
    version: Value,
}

/// The outer wrapper as it arrives, with `request` read as the endpoint's own type in one pass
/// (`Incoming<T>`), or kept as raw JSON text (`Incoming<&RawValue>`) for the two-step parse
/// that names a fault; never as a `serde_json::Value` copy of the data (a packet, a PIN).
#[derive(Deserialize)]
struct Incoming<T> {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    version: Value,
    #[serde(default)]
    requesttime: Option<Value>,
    #[serde(default = "Option::default")]
    request: Option<T>,
}

/// Whether a `requesttime` passes: absent, not a string, empty (counts as absent, as in
/// MOSIP), or a time.
fn acceptable_requesttime(t: &Value) -> bool {
    match t {
        Value::String(t) => t.trim().is_empty() || UtcTime::parse_lenient(t).is_ok(),
        _ => true,
    }
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
    // One pass for a well-formed request (a packet's text is scanned once); anything else is
    // parsed again in two steps, which name the fault exactly.
    // UTF-8 is checked over the whole body first (as the raw `request` of the two-step parse
    // is), so that serde's string reads need not check it again.
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(typed) = serde_json::from_str::<Incoming<T>>(text)
        && let Some(request) = typed.request
        && typed.requesttime.as_ref().is_none_or(acceptable_requesttime)
    {
        return (Echo { id: echoable(typed.id), version: echoable(typed.version) }, Ok(request));
    }
    let outer: Incoming<&RawValue> = match serde_json::from_slice(body) {
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
    if let Some(t) = outer.requesttime.as_ref().filter(|t| !acceptable_requesttime(t)) {
        return (echo, Err(ApiError::InvalidTimestamp(format!("requesttime {t}"))));
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

/// How an endpoint's successful result becomes the body of MOSIP's wrapper. Anything
/// `Serialize` is written by serde; [`Base64Data`] is written in one pass.
pub trait WrappedResponse: Send + 'static {
    /// The wrapped `200 OK` answer holding this result.
    fn into_wrapped(self, echo: &Echo, now: UtcTime) -> Response;
}

impl<T: Serialize + Send + 'static> WrappedResponse for T {
    fn into_wrapped(self, echo: &Echo, now: UtcTime) -> Response {
        respond(echo, now, Ok(self))
    }
}

/// A `response` of `{"data": base64url(bytes)}` (`/encrypt`, `/decrypt`), written straight into
/// the body: the base64 text is encoded once, where the client reads it, with no `String` in
/// between and no JSON escaping pass (the URL-safe alphabet needs none). The body is zeroized
/// when the server has sent it, as it may hold a plaintext.
pub struct Base64Data<B>(pub B);

impl<B: AsRef<[u8]> + Send + 'static> WrappedResponse for Base64Data<B> {
    fn into_wrapped(self, echo: &Echo, now: UtcTime) -> Response {
        let bytes = self.0.as_ref();
        let id = serde_json::to_string(&echo.id).unwrap_or_else(|_| "null".into());
        let version = serde_json::to_string(&echo.version).unwrap_or_else(|_| "null".into());
        let head = format!(
            r#"{{"id":{id},"version":{version},"responsetime":"{}","metadata":null,"response":{{"data":""#,
            now.to_mosip_string()
        );
        let tail = r#""},"errors":null}"#;
        let text_len = keymgr_model::base64::encoded_len(bytes.len());
        let mut body = SecretBuf::with_capacity(head.len() + text_len + tail.len());
        body.extend_from_slice(head.as_bytes());
        keymgr_model::base64::encode_append(bytes, &mut body);
        body.extend_from_slice(tail.as_bytes());
        (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            axum::body::Body::from(axum::body::Bytes::from_owner(body)),
        )
            .into_response()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (StatusCode, Option<String>, Vec<u8>) {
        let status = response.status();
        let content_type = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, content_type, bytes.to_vec())
    }

    #[derive(Serialize)]
    struct Data {
        data: String,
    }

    /// The one-pass body is byte for byte what serde writes for `{"data": base64url}`.
    #[tokio::test]
    async fn base64_data_is_written_as_serde_writes_it() {
        let now = UtcTime::parse_lenient("2026-12-03T10:00:00.000Z").expect("time");
        for (id, version) in [
            (Value::String("mosip.keymanager".into()), Value::String("1.0".into())),
            (Value::String("quote \" and \\ and \u{1}".into()), Value::Null),
            (serde_json::json!(12), serde_json::json!(true)),
        ] {
            let echo = Echo { id: echoable(id), version: echoable(version) };
            for bytes in [&b""[..], b"a", b"ab", b"abc", &[0xfb; 1000][..]] {
                let ours = body_of(Base64Data(bytes.to_vec()).into_wrapped(&echo, now)).await;
                let data = Data { data: keymgr_model::base64::encode(bytes) };
                let serde = body_of(respond(&echo, now, Ok(data))).await;
                assert_eq!(ours, serde);
            }
        }
    }

    /// The one-pass parse and the two-step parse agree on what they accept.
    #[test]
    fn typed_parse_agrees_with_the_two_step_parse() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Req {
            data: String,
        }
        // Invalid UTF-8 in a field nobody reads is still refused, as by the two-step parse.
        let (_, parsed) = parse_request::<Req>(b"{\"request\":{\"data\":\"QUJD\",\"x\":\"\xff\"}}");
        assert_eq!(parsed.expect_err("not UTF-8").code(), "KER-KMS-005");
        let ok = br#"{"id":"x","version":"1.0","requesttime":"","request":{"data":"QUJD"}}"#;
        let (echo, parsed) = parse_request::<Req>(ok);
        assert_eq!(parsed.expect("parsed"), Req { data: "QUJD".into() });
        assert_eq!(echo.id, Value::String("x".into()));
        for (body, code) in [
            (&br#"{"request":null}"#[..], "KER-KMS-005"),
            (br#"{"requesttime":"2018-12-1","request":{"data":"x"}}"#, "KER-KMS-006"),
            (br#"{"request":{"other":1}}"#, "KER-KMS-005"),
            (br#"[1]"#, "KER-KMS-005"),
            (br#"{"request":{"data":"x"}"#, "KER-KMS-005"),
        ] {
            let (_, parsed) = parse_request::<Req>(body);
            let e = parsed.expect_err("refused");
            if !code.is_empty() {
                assert_eq!(e.code(), code, "{}", String::from_utf8_lossy(body));
            }
        }
    }
}
