//! Zero-knowledge encryption over HTTP: MOSIP's request and response shapes (`rankomKeyIndex`
//! sic, `zkDecrypt` answering the attributes only), `zkReEncryptRandomKey` with its query
//! parameter and no body, the codes, and the roles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_crypto::RsaPrivateKey;
use keymgr_crypto::issue::CertificateProfile;
use keymgr_model::{AppId, RefId, UtcTime};
use keymgr_test_support::pki::{Authority, name};
use serde_json::json;

#[tokio::test]
async fn zk_encrypt_decrypt_and_reencrypt() {
    let api = api();
    api.km.prepare_zk(20, &|_, _| {}).unwrap();
    let now = UtcTime::now();
    let ca = Authority::root(name("IDA CA", "IDA"), now.plus_days(-1), 365);
    let key = RsaPrivateKey::generate_2048().unwrap();
    let cert = ca.issue(
        key.public_key().unwrap().spki_der(),
        name("IDA", "IDA"),
        CertificateProfile::Encryption,
        now.plus_days(-1),
        365,
    );
    api.km
        .upload_other_domain_certificate(
            &AppId::new("IDA").unwrap(),
            &RefId::new("PUBLIC_KEY").unwrap(),
            &cert.to_pem(),
        )
        .unwrap();

    let request = json!({"id": "4721098356", "zkDataAttributes": [
        {"identifier": "fullName", "value": "Asha Kulkarni"},
        {"identifier": "phone", "value": "+91 98450 00000"},
    ]});
    let sealed = api.ok("POST", "/zkEncrypt", request.clone()).await;
    let index: i64 = sealed["rankomKeyIndex"].as_str().unwrap().parse().unwrap();
    assert!((0..20).contains(&index));
    let part = sealed["encryptedRandomKey"].as_str().unwrap();
    assert_eq!(
        b64(cert.thumbprint().as_bytes()),
        b64(&keymgr_model::base64::decode(part.as_bytes(), 4096).unwrap()[..32])
    );
    assert_eq!(sealed["zkDataAttributes"][1]["identifier"], "phone");
    let opened = api
        .ok("POST", "/zkDecrypt", json!({"id": "4721098356", "zkDataAttributes": sealed["zkDataAttributes"]}))
        .await;
    assert_eq!(opened["zkDataAttributes"], request["zkDataAttributes"]);
    assert!(opened["encryptedRandomKey"].is_null() && opened["rankomKeyIndex"].is_null());

    // The codes.
    let (_, code) = api
        .error(
            "POST",
            "/zkDecrypt",
            Some(READER),
            Some(wrap(json!({"id": "other", "zkDataAttributes": sealed["zkDataAttributes"]}))),
        )
        .await;
    assert_eq!(code, "KER-ZKC-004");
    let short = json!({"id": "4721098356", "zkDataAttributes": [{"identifier": "x", "value": "AAAA"}]});
    let (_, code) = api.error("POST", "/zkDecrypt", Some(READER), Some(wrap(short))).await;
    assert_eq!(code, "ZK-DEC-001");
    let (_, code) = api
        .error("POST", "/zkEncrypt", Some(READER), Some(wrap(json!({"id": "1", "zkDataAttributes": []}))))
        .await;
    assert_eq!(code, "KER-ZKC-003");
    let (_, code) =
        api.error("POST", "/zkEncrypt", Some(READER), Some(wrap(json!({"zkDataAttributes": []})))).await;
    assert_eq!(code, "KER-KMS-005");
    // zkReEncryptRandomKey: a query parameter, no body; this deployment holds only IDA's
    // certificate, so the random key does not open here.
    let (status, body) = api
        .raw(
            "POST",
            &format!("/v1/keymanager/zkReEncryptRandomKey?encryptedKey={part}"),
            Some(ADMIN),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "KER-KMS-018", "{body}");
    let (_, body) = api
        .raw("POST", "/v1/keymanager/zkReEncryptRandomKey?encryptedKey=QUJD", Some(ADMIN), Vec::new())
        .await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "KER-ZKC-006", "{body}");
    let (_, body) = api.raw("POST", "/v1/keymanager/zkReEncryptRandomKey", Some(ADMIN), Vec::new()).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "KER-KMS-005", "encryptedKey is required: {body}");
    // Roles.
    let (status, _) = api.call("POST", "/zkEncrypt", Some(OUTSIDER), Some(wrap(request))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
