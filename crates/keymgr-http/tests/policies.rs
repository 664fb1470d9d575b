//! Governed policies over HTTP: `PUT /policies/{applicationId}` lints, refuses with
//! `KER-KMS-422`, forces with a reason; `GET /policies`; both for administrators only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn policies_change_through_the_lint() {
    let api = api();
    let ok = api
        .ok(
            "PUT",
            "/policies/REGISTRATION",
            json!({"keyValidityDuration": 730, "preExpireDays": 60, "isActive": true, "accessAllowed": "NA"}),
        )
        .await;
    assert_eq!(ok["status"], "Policy Updated");
    assert_eq!(ok["findings"], json!([]));
    let bad = json!({"keyValidityDuration": 730, "preExpireDays": 900, "isActive": true});
    let (status, code) =
        api.error("PUT", "/policies/REGISTRATION", Some(ADMIN), Some(wrap(bad.clone()))).await;
    assert_eq!((status, code.as_str()), (StatusCode::OK, "KER-KMS-422"));
    let mut forced = bad.clone();
    forced["force"] = json!(true);
    let (_, code) = api.error("PUT", "/policies/REGISTRATION", Some(ADMIN), Some(wrap(forced.clone()))).await;
    assert_eq!(code, "KER-KMS-005", "force without a reason");
    forced["reason"] = json!("migration window");
    let applied = api.ok("PUT", "/policies/REGISTRATION", forced).await;
    assert_eq!(applied["findings"][0]["severity"], "error");
    let list = api.get_ok("/policies").await;
    let reg =
        list["policies"].as_array().unwrap().iter().find(|p| p["applicationId"] == "REGISTRATION").unwrap();
    assert_eq!((reg["keyValidityDuration"].as_i64(), reg["preExpireDays"].as_i64()), (Some(730), Some(900)));
    let (_, code) = api
        .error("PUT", "/policies/REGISTRATION", Some(ADMIN), Some(wrap(json!({"preExpireDays": 1}))))
        .await;
    assert_eq!(code, "KER-KMS-005");
    let (status, _) = api.call("PUT", "/policies/REGISTRATION", Some(READER), Some(wrap(bad))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.call("GET", "/policies", Some(READER), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
