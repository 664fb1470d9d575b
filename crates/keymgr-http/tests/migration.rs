//! Key migration over HTTP, as MOSIP's migration job calls it: `POST /migrateBaseKey` (status
//! texts, the second call not allowed), `GET /getZKTempCertificate`, `POST /migrateZKKeys`
//! with per-key statuses and the purge flag; administrators only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_crypto::issue::CertificateProfile;
use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_model::UtcTime;
use keymgr_test_support::pki::{Authority, name};
use serde_json::json;

#[tokio::test]
async fn migrate_base_key_and_zk_keys() {
    let api = api();
    api.km.prepare_zk(0, &|_, _| {}).unwrap();
    // A base key of another deployment, wrapped for this one's REGISTRATION master.
    let master = Certificate::from_pem(
        api.get_ok("/getCertificate?applicationId=REGISTRATION").await["certificate"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let key = RsaPrivateKey::generate_2048().unwrap();
    let now = UtcTime::now();
    let ca = Authority::root(name("Old ROOT", "Old"), now.plus_days(-1), 365);
    let cert = ca.issue(
        key.public_key().unwrap().spki_der(),
        name("REGISTRATION-old", "Old"),
        CertificateProfile::Encryption,
        now.plus_days(-1),
        300,
    );
    let wrapped = keymgr_core::wrap_private_key_for_store(
        &key.to_pkcs8_der().unwrap(),
        &master.rsa_public_key().unwrap(),
    )
    .unwrap();
    let request = json!({"applicationId": "REGISTRATION", "referenceId": "old_pair", "encryptedKeyData": wrapped,
        "certificateData": cert.to_pem(), "notBefore": now.plus_days(-1).to_mosip_string(), "notAfter": now.plus_days(300).to_mosip_string()});
    let done = api.ok("POST", "/migrateBaseKey", request.clone()).await;
    assert_eq!(done["status"], "Migration Success");
    let again = api.ok("POST", "/migrateBaseKey", request.clone()).await;
    assert_eq!(again["status"], "Migration Not Allowed. Valid Key Exists.");
    let mut bad = request.clone();
    bad["notBefore"] = json!("yesterday");
    let (_, code) = api.error("POST", "/migrateBaseKey", Some(ADMIN), Some(wrap(bad))).await;
    assert_eq!(code, "KER-KMS-006");

    // ZK keys through the temporary certificate.
    let temp = api.get_ok("/getZKTempCertificate").await;
    let temp = Certificate::from_pem(temp["certificate"].as_str().unwrap().as_bytes()).unwrap();
    let sealed = b64(&temp.rsa_public_key().unwrap().oaep_wrap(&[7u8; 32]).unwrap());
    let list = json!({"zkEncryptedDataList": [
        {"keyIndex": 0, "encryptedKeyData": sealed},
        {"keyIndex": 1, "encryptedKeyData": b64(b"garbage")},
    ], "purgeTempKeyFlag": true});
    let answers = api.ok("POST", "/migrateZKKeys", list).await;
    assert_eq!(
        answers["zkEncryptedDataList"][0],
        json!({"keyIndex": 0, "statusMessage": "Migration Success"})
    );
    assert_eq!(
        answers["zkEncryptedDataList"][1],
        json!({"keyIndex": 1, "statusMessage": "Error in Migration"})
    );
    assert!(api.km.database().zk_key(0).unwrap().is_some());

    // Administrators only.
    let (status, _) = api.call("POST", "/migrateBaseKey", Some(READER), Some(wrap(request))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.call("GET", "/getZKTempCertificate", Some(READER), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
