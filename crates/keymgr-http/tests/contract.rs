//! MOSIP's contract where MOSIP's own test expectations found this service answering
//! differently (issue #14): a blank reference of revokeKey, encryption with a master, jwtDecrypt
//! of KERNEL/SIGN, an empty requesttime, a malformed timeStamp, a wrong HTTP method.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn answers_as_mosips_tests_expect() {
    let api = api();
    let error = |method: &'static str, path: &'static str, request: Value| {
        let api = &api;
        async move { api.error(method, path, Some(ADMIN), Some(wrap(request))).await.1 }
    };
    // A master key does not encrypt, by /encrypt or /jwtEncrypt.
    let plain = b64(br#"{"sub":"x"}"#);
    assert_eq!(
        error(
            "POST",
            "/jwtEncrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "", "data": plain})
        )
        .await,
        "KER-CRY-011"
    );
    assert_eq!(
        error(
            "POST",
            "/encrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "", "timeStamp": now_text(), "data": plain})
        )
        .await,
        "KER-CRY-011"
    );
    // jwtDecrypt with KERNEL/SIGN.
    assert_eq!(
        error(
            "POST",
            "/jwtDecrypt",
            json!({"applicationId": "KERNEL", "referenceId": "SIGN", "encData": "a.b.c.d.e"})
        )
        .await,
        "KER-CRY-011"
    );
    // revokeKey with a blank reference.
    assert_eq!(
        error("PUT", "/revokeKey", json!({"applicationId": "REGISTRATION", "referenceId": " "})).await,
        "KER-KMS-005"
    );
    // A malformed timeStamp (MOSIP's own case).
    assert_eq!(
        error(
            "POST",
            "/encrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "r", "timeStamp": "2018-12-1", "data": plain})
        )
        .await,
        "KER-KMS-005"
    );
    // An empty requesttime counts as absent.
    let body = json!({"id": "mosip.keymanager", "version": "1.0", "requesttime": "", "request":
        {"applicationId": "REGISTRATION", "referenceId": "r", "timeStamp": now_text(), "data": plain}});
    let (status, out) = api.call("POST", "/encrypt", Some(ADMIN), Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(out["errors"].is_null() && out["response"]["data"].is_string(), "{out}");
    // A wrong method answers 405 in the wrapper, not with an empty body.
    let (status, out) = api.call("GET", "/encrypt", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(out["errors"][0]["errorCode"], "KER-KMS-005", "{out}");
    assert!(out["errors"][0]["message"].as_str().unwrap().contains("GET"), "{out}");
    let (status, out) = api.call("DELETE", "/getCertificate", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(out["response"].is_null() && out["errors"].is_array(), "{out}");
}
