//! TSP licence keys over HTTP: `/license/generate`, `POST` and `GET /license/permission`, with
//! MOSIP's wrapper and codes, exact permissions, and a role check on each endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_model::UtcTime;
use serde_json::{Value, json};

fn in_days(days: i64) -> String {
    UtcTime::now().plus_days(days).to_mosip_string()
}

#[tokio::test]
async fn generate_map_and_read_permissions() {
    let api = api();
    let made =
        api.ok("POST", "/license/generate", json!({"tspId": "TSP1", "licenseExpiryTime": in_days(30)})).await;
    let key = made["licenseKey"].as_str().unwrap().to_owned();
    assert!(key.len() == 16 && key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");

    let mapped = api
        .ok(
            "POST",
            "/license/permission",
            json!({"tspId": "TSP1", "licenseKey": key, "permissions": ["OTP Trigger", "eKYC - Full"]}),
        )
        .await;
    assert_eq!(mapped, json!({"status": "Mapped License with the permissions"}));
    api.ok(
        "POST",
        "/license/permission",
        json!({"tspId": "TSP1", "licenseKey": key, "permissions": ["OTP Trigger"]}),
    )
    .await;
    let read = api.get_ok(&format!("/license/permission?tspId=TSP1&licenseKey={key}")).await;
    assert_eq!(read, json!({"permissions": ["OTP Trigger", "eKYC - Full"]}));
    // A caller with the crypto role reads; only an administrator generates and maps.
    let (status, body) = api
        .call("GET", &format!("/license/permission?tspId=TSP1&licenseKey={key}"), Some(READER), None)
        .await;
    assert_eq!((status, body["response"].clone()), (StatusCode::OK, read));
}

#[tokio::test]
async fn every_bad_input_has_its_code() {
    let api = api();
    let key = api
        .ok("POST", "/license/generate", json!({"tspId": "TSP1", "licenseExpiryTime": in_days(1)}))
        .await["licenseKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |path: &str, request: Value| {
        let path = path.to_owned();
        let api = &api;
        async move { api.error("POST", &path, Some(ADMIN), Some(wrap(request))).await }
    };
    for (request, expected) in [
        (json!({"licenseExpiryTime": in_days(1)}), "KER-LKM-001"),
        (json!({"tspId": "  ", "licenseExpiryTime": in_days(1)}), "KER-LKM-001"),
        (json!({"tspId": "TSP1"}), "KER-LKM-008"),
        (json!({"tspId": "TSP1", "licenseExpiryTime": in_days(-1)}), "KER-LKM-008"),
        (json!({"tspId": "TSP1", "licenseExpiryTime": "2030-02-31"}), "KER-KMS-005"),
        (json!({"tspId": "TSP1", "licenseExpiryTime": 5}), "KER-KMS-005"),
    ] {
        let (status, code) = post("/license/generate", request.clone()).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{request}");
    }
    for (request, expected) in [
        (json!({"licenseKey": key, "permissions": ["OTP Trigger"]}), "KER-LKM-001"),
        (json!({"tspId": "TSP1", "permissions": ["OTP Trigger"]}), "KER-LKM-006"),
        (json!({"tspId": "TSP1", "licenseKey": key}), "KER-LKM-007"),
        (json!({"tspId": "TSP1", "licenseKey": key, "permissions": [""]}), "KER-LKM-007"),
        (json!({"tspId": "TSP1", "licenseKey": key, "permissions": ["eKYC - Full plus"]}), "KER-LKM-003"),
        (json!({"tspId": "TSP2", "licenseKey": key, "permissions": ["OTP Trigger"]}), "KER-LKM-004"),
        (json!({"tspId": "TSP1", "licenseKey": "x", "permissions": ["OTP Trigger"]}), "KER-LKM-004"),
        (json!({"tspId": "TSP1", "licenseKey": key, "permissions": "OTP Trigger"}), "KER-KMS-005"),
    ] {
        let (status, code) = post("/license/permission", request.clone()).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{request}");
    }
    for (query, expected) in [
        (format!("tspId=TSP1&licenseKey={key}"), "KER-LKM-009"),
        (format!("licenseKey={key}"), "KER-LKM-001"),
        ("tspId=TSP1".to_owned(), "KER-LKM-006"),
        (format!("tspId=TSP2&licenseKey={key}"), "KER-LKM-004"),
    ] {
        let (status, code) =
            api.error("GET", &format!("/license/permission?{query}"), Some(ADMIN), None).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{query}");
    }
}

#[tokio::test]
async fn roles_are_checked_on_every_endpoint() {
    let api = api();
    let generate = wrap(json!({"tspId": "TSP1", "licenseExpiryTime": in_days(1)}));
    let map = wrap(json!({"tspId": "TSP1", "licenseKey": "k", "permissions": ["OTP Trigger"]}));
    for (method, path, body, reader_allowed) in [
        ("POST", "/license/generate", Some(generate), false),
        ("POST", "/license/permission", Some(map), false),
        ("GET", "/license/permission?tspId=TSP1&licenseKey=k", None, true),
    ] {
        let (status, _) = api.call(method, path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let (status, _) = api.call(method, path, Some(OUTSIDER), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        let (status, _) = api.call(method, path, Some(READER), body.clone()).await;
        let expected = if reader_allowed { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "{method} {path} as a crypto user");
    }
}
