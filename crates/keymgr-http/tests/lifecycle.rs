//! The key lifecycle over HTTP: compromise (dry run, then apply), rewrap and its batch form,
//! key states and recovery windows, retention and retire; administrative calls refused to
//! other roles and each one in the audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn compromise_rewrap_states_and_retire() {
    let api = api();
    let pair = json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011"});
    let encrypt = |data: &str| {
        let mut r = pair.clone();
        r["timeStamp"] = json!(now_text());
        r["data"] = json!(b64(data.as_bytes()));
        r
    };
    let env = api.ok("POST", "/encrypt", encrypt("first packet")).await["data"].as_str().unwrap().to_owned();

    // The dry run names the key and changes nothing; the real run makes a successor.
    let mut request = pair.clone();
    request["reason"] = json!("laptop stolen");
    request["dryRun"] = json!(true);
    let dry = api.ok("POST", "/compromise", request.clone()).await;
    assert_eq!(dry["dryRun"], true);
    assert!(dry["successor"].is_null());
    let alias = dry["key"]["alias"].as_str().unwrap().to_owned();
    let states = api.get_ok("/keyStates?applicationId=REGISTRATION&referenceId=10001_110011").await;
    assert_eq!(states["keys"][0]["state"], "active");
    request["dryRun"] = json!(false);
    let done = api.ok("POST", "/compromise", request.clone()).await;
    assert_eq!(
        (done["key"]["alias"].as_str(), done["stateBefore"].as_str()),
        (Some(alias.as_str()), Some("active"))
    );
    assert_ne!(done["successor"]["alias"], json!(alias));
    let states = api.get_ok("/keyStates?applicationId=REGISTRATION&referenceId=10001_110011").await;
    let old = states["keys"].as_array().unwrap().iter().find(|k| k["alias"] == json!(alias)).unwrap();
    assert_eq!((old["state"].as_str(), old["reason"].as_str()), (Some("compromised"), Some("laptop stolen")));

    // Decrypt and rewrap refuse the compromised key; rewrap accepts it when asked.
    let mut decrypt = pair.clone();
    decrypt["timeStamp"] = json!(now_text());
    decrypt["data"] = json!(env);
    let (status, code) = api.error("POST", "/decrypt", Some(ADMIN), Some(wrap(decrypt.clone()))).await;
    assert_eq!((status, code.as_str()), (StatusCode::OK, "KER-KMS-423"));
    let mut rewrap = pair.clone();
    rewrap["data"] = json!(env);
    let (_, code) = api.error("POST", "/rewrap", Some(READER), Some(wrap(rewrap.clone()))).await;
    assert_eq!(code, "KER-KMS-423");
    rewrap["acceptCompromised"] = json!(true);
    let (_, code) = api.error("POST", "/rewrap", Some(READER), Some(wrap(rewrap.clone()))).await;
    assert_eq!(code, "KER-KMS-423", "accepting needs the operator's recovery window");
    // A recovery window through PUT /keyState; decrypt and an accepting rewrap work inside it.
    let path = format!("/keyState/{alias}");
    let opened =
        api.ok("PUT", &path, json!({"state": "compromised", "recoveryHours": 2, "reason": "backlog"})).await;
    assert!(opened["recoveryUntil"].is_string());
    let out = api.ok("POST", "/rewrap", rewrap.clone()).await;
    assert_eq!((out["changed"].as_bool(), out["fromKeyState"].as_str()), (Some(true), Some("compromised")));
    decrypt["data"] = out["data"].clone();
    let plain = api.ok("POST", "/decrypt", decrypt.clone()).await;
    assert_eq!(plain["data"], json!(b64(b"first packet")));
    // The batch form answers each item: one good, one not base64, one of the wrong pair.
    let fresh = api.ok("POST", "/encrypt", encrypt("second")).await["data"].as_str().unwrap().to_owned();
    let batch = json!({"items": [
        {"applicationId": "REGISTRATION", "referenceId": "10001_110011", "data": fresh},
        {"applicationId": "REGISTRATION", "referenceId": "10001_110011", "data": "!!"},
        {"applicationId": "REGISTRATION", "referenceId": "other_ref", "data": fresh},
    ]});
    let answered = api.ok("POST", "/rewrap/batch", batch).await;
    assert_eq!(answered["failed"], 2);
    assert_eq!(answered["items"][0]["changed"], false);
    assert_eq!(answered["items"][1]["errorCode"], "KER-CRY-003");
    assert_eq!(answered["items"][2]["errorCode"], "KER-KMS-024");

    decrypt["data"] = json!(env);
    assert_eq!(api.ok("POST", "/decrypt", decrypt.clone()).await["data"], json!(b64(b"first packet")));
    let (_, code) = api
        .error("PUT", &path, Some(ADMIN), Some(wrap(json!({"state": "deactivated", "reason": "x"}))))
        .await;
    assert_eq!(code, "KER-KMS-409");
    let (_, code) =
        api.error("PUT", &path, Some(ADMIN), Some(wrap(json!({"state": "destroyed", "reason": "x"})))).await;
    assert_eq!(code, "KER-KMS-005");
    let (_, code) = api.error("PUT", &path, Some(ADMIN), Some(wrap(json!({"state": "deactivated"})))).await;
    assert_eq!(code, "KER-KMS-005", "a reason is required");

    // Retention, then retire: listed, then destroyed; decrypt says destroyed.
    let listed = api.ok("POST", "/retire", json!({})).await;
    assert_eq!(listed["candidates"], json!([]));
    api.ok("PUT", "/retention/REGISTRATION", json!({"retentionDays": 0, "reason": "test"})).await;
    let listed = api.ok("POST", "/retire", json!({"apply": false})).await;
    assert_eq!(listed["candidates"][0]["alias"], json!(alias));
    assert_eq!(listed["destroyed"], json!([]));
    let applied = api.ok("POST", "/retire", json!({"apply": true})).await;
    assert_eq!(applied["destroyed"], json!([alias]));
    let (_, code) = api.error("POST", "/decrypt", Some(ADMIN), Some(wrap(decrypt))).await;
    assert_eq!(code, "KER-KMS-410");

    // Administrative endpoints are for KEY_ADMIN; each call is in the audit trail.
    for (method, path, body) in [
        ("POST", "/compromise", Some(wrap(request.clone()))),
        ("POST", "/retire", Some(wrap(json!({})))),
        ("GET", "/keyStates", None),
        ("PUT", "/retention/REGISTRATION", Some(wrap(json!({"retentionDays": 1, "reason": "x"})))),
    ] {
        let (status, _) = api.call(method, path, Some(READER), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let log = api.km.database().audit_log(200).unwrap();
    let admin_calls: Vec<String> =
        log.iter().filter(|e| e.action == "admin_call").map(|e| e.detail.clone().unwrap()).collect();
    assert!(admin_calls.contains(&"postcompromise: ok".to_owned()), "{admin_calls:?}");
    assert!(admin_calls.contains(&"putkeystatealias: KER-KMS-409".to_owned()), "{admin_calls:?}");
    assert!(admin_calls.contains(&"postretire: ok".to_owned()));
    assert!(log.iter().filter(|e| e.action == "admin_call").all(|e| e.actor == "admin"));
    assert!(!admin_calls.iter().any(|d| d.starts_with("postrewrap")), "rewrap is not administrative");
    assert!(api.km.verify_audit().unwrap().problem.is_none());
}
