//! MOSIP's REST conventions on top of [`HttpClient`]: the bearer token (as a header and as
//! MOSIP's `Authorization` cookie), the request wrapper (`id`, `version`, `requesttime`,
//! `metadata`, `request`) and the response wrapper, whose `errors` become
//! [`ClientError::Mosip`].

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use zeroize::Zeroizing;

use crate::{ClientError, HttpClient};

/// A client of a key manager's REST API (this service's or MOSIP's) under one base URL such as
/// `https://host/v1/keymanager`, authenticated by a bearer token.
#[derive(Clone)]
pub struct MosipClient {
    http: HttpClient,
    authorization: Zeroizing<String>,
    cookie: Zeroizing<String>,
}

impl fmt::Debug for MosipClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MosipClient").field("http", &self.http).field("token", &"<redacted>").finish()
    }
}

impl MosipClient {
    /// A client sending `token` with every request. The token is trimmed; an empty one or
    /// one with characters a header cannot carry is [`ClientError::Config`].
    pub fn new(http: HttpClient, token: &str) -> Result<Self, ClientError> {
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ClientError::Config("the token is empty or not printable ASCII".into()));
        }
        Ok(Self {
            http,
            authorization: Zeroizing::new(format!("Bearer {token}")),
            cookie: Zeroizing::new(format!("Authorization={token}")),
        })
    }

    /// The HTTP client underneath.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// `GET path?query` (pairs percent-encoded); the `response` of the answer.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        let target =
            if query.is_empty() { path.to_owned() } else { format!("{path}?{}", encode_query(query)) };
        let answer = self.http.get(&target, &self.auth_headers()).await?;
        unwrap_response(answer.status, &answer.body)
    }

    /// `POST path` with `request` in MOSIP's request wrapper; the `response` of the answer.
    pub async fn post<T: Serialize>(&self, path: &str, request: &T) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(&json!({
            "id": "mosip.keymanager",
            "version": "1.0",
            "requesttime": mosip_now(),
            "metadata": {},
            "request": request,
        }))
        .map_err(|e| ClientError::Json(e.to_string()))?;
        let answer = self.http.post_json(path, &self.auth_headers(), body).await?;
        unwrap_response(answer.status, &answer.body)
    }

    fn auth_headers(&self) -> [(&str, &str); 3] {
        [
            ("authorization", self.authorization.as_str()),
            ("cookie", self.cookie.as_str()),
            ("accept", "application/json"),
        ]
    }
}

/// The current instant in MOSIP's request format, `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC).
pub fn mosip_now() -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

/// `name=value&...` with both sides percent-encoded (RFC 3986 unreserved characters kept).
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// The `response` of a MOSIP response wrapper, or its first error.
fn unwrap_response(status: u16, body: &[u8]) -> Result<Value, ClientError> {
    let Ok(mut wrapper) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned();
        return Err(ClientError::Status { status, body: text });
    };
    if let Some(first) = wrapper.get("errors").and_then(Value::as_array).and_then(|e| e.first()) {
        let text = |k: &str| first.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        return Err(ClientError::Mosip { status, code: text("errorCode"), message: text("message") });
    }
    match wrapper.get_mut("response").map(Value::take) {
        Some(response) if !response.is_null() && (200..300).contains(&status) => Ok(response),
        _ => {
            let text = String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned();
            Err(ClientError::Status { status, body: text })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_percent_encoded() {
        assert_eq!(
            encode_query(&[("applicationId", "REGISTRATION"), ("referenceId", "")]),
            "applicationId=REGISTRATION&referenceId="
        );
        assert_eq!(encode_query(&[("a b", "x&y=z/é")]), "a%20b=x%26y%3Dz%2F%C3%A9");
    }

    #[test]
    fn response_wrappers_give_the_response_or_the_first_error() {
        let ok = br#"{"id":null,"response":{"status":"Migration Success"},"errors":[]}"#;
        assert_eq!(unwrap_response(200, ok).ok(), Some(json!({"status": "Migration Success"})));
        let failed =
            br#"{"response":null,"errors":[{"errorCode":"KER-KMS-003","message":"No unique alias"}]}"#;
        match unwrap_response(200, failed) {
            Err(ClientError::Mosip { status: 200, code, message }) => {
                assert_eq!((code.as_str(), message.as_str()), ("KER-KMS-003", "No unique alias"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            unwrap_response(502, b"<html>bad gateway"),
            Err(ClientError::Status { status: 502, .. })
        ));
        assert!(matches!(
            unwrap_response(500, br#"{"response":{}}"#),
            Err(ClientError::Status { status: 500, .. })
        ));
        assert!(matches!(unwrap_response(200, br#"{"response":null}"#), Err(ClientError::Status { .. })));
    }

    #[test]
    fn request_times_have_mosip_shape() {
        let now = mosip_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes().get(10) == Some(&b'T'), "{now}");
    }
}
