//! Every endpoint over HTTP (in process, through the router): the happy path, MOSIP's wrapper
//! and error codes for each kind of bad input, auth (401/403), per-application decrypt access,
//! the body limit, health, metrics and the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_crypto::password::Argon2Params;
use keymgr_crypto::{AsymmetricKind, Certificate, SigningKey};
use keymgr_model::UtcTime;
use keymgr_test_support::ca::OutsideCa;
use serde_json::{Value, json};

#[tokio::test]
async fn key_endpoints_happy_paths() {
    let api = api();
    let cert = api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011").await;
    let pem = cert["certificate"].as_str().unwrap();
    let leaf = Certificate::from_pem(pem.as_bytes()).unwrap();
    assert!(leaf.subject().ends_with("CN=REGISTRATION-10001_110011"));
    for field in ["issuedAt", "expiryAt", "timestamp"] {
        let text = cert[field].as_str().unwrap();
        assert!(text.len() == 24 && text.ends_with('Z'), "{field} in MOSIP's format: {text}");
    }

    let master = api
        .ok(
            "POST",
            "/generateMasterKey/CERTIFICATE",
            json!({"applicationId": "REGISTRATION", "force": false}),
        )
        .await;
    assert!(master["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(master["certSignRequest"], Value::Null);
    let csr = api.ok("POST", "/generateMasterKey/CSR", json!({"applicationId": "REGISTRATION"})).await;
    assert!(csr["certSignRequest"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let csr = api
        .ok(
            "POST",
            "/generateCSR",
            json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "commonName": "reg"}),
        )
        .await;
    assert!(csr["certSignRequest"].as_str().unwrap().contains("CERTIFICATE REQUEST"));

    let all = api.get_ok("/getAllCertificates?applicationId=REGISTRATION&referenceId=10001_110011").await;
    let list = all["allCertificates"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["keyId"].as_str().unwrap().len(), 43);
    let chain = api.get_ok("/getCertificateChain?applicationId=REGISTRATION&referenceId=10001_110011").await;
    assert!(chain["certificatesTrustPath"].as_str().unwrap().starts_with("-----BEGIN PKCS7-----"));

    // A CA-signed certificate for the current key, then another domain's certificate.
    let ca = OutsideCa::new(UtcTime::now());
    let signed = ca.certify(leaf.spki_der(), "certified", UtcTime::now());
    let done = api
        .ok("POST", "/uploadCertificate", json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "certificateData": signed.to_pem()}))
        .await;
    assert_eq!(done["status"], "Upload Success");
    let partner = ca.certify(
        &SigningKey::generate(AsymmetricKind::Rsa2048).unwrap().public_key_spki().unwrap(),
        "certified",
        UtcTime::now(),
    );
    let done = api
        .ok(
            "POST",
            "/uploadOtherDomainCertificate",
            json!({"applicationId": "PARTNER", "referenceId": "p-1", "certificateData": partner.to_pem()}),
        )
        .await;
    assert_eq!(done["status"], "Upload Success");

    let sym = json!({"applicationId": "REGISTRATION", "referenceId": "SYM", "force": false});
    assert_eq!(api.ok("POST", "/generateSymmetricKey", sym.clone()).await["status"], "Generation Success");
    assert_eq!(api.ok("POST", "/generateSymmetricKey", sym).await["status"], "Key Exists.");

    let revoked = api
        .ok("PUT", "/revokeKey", json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011"}))
        .await;
    assert_eq!(revoked["status"], "Key Revoked");
    let after = api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011").await;
    assert_ne!(after["certificate"], pem, "the next call rotates");

    // EC signing keys: P-256 and secp256k1 in the keystore, certified by ROOT; CSRs signed
    // by the key.
    let root = api.get_ok("/getCertificate?applicationId=ROOT&referenceId=").await;
    let root = Certificate::from_pem(root["certificate"].as_str().unwrap().as_bytes()).unwrap();
    for reference in ["EC_SECP256R1_SIGN", "EC_SECP256K1_SIGN"] {
        let req = json!({"applicationId": "RESIDENT", "referenceId": reference});
        let made = api.ok("POST", "/generateECSignKey/CERTIFICATE", req.clone()).await;
        let cert = Certificate::from_pem(made["certificate"].as_str().unwrap().as_bytes()).unwrap();
        assert!(cert.is_signed_by(&root), "{reference}");
        assert!(
            cert.subject().ends_with(&format!("CN=www.mosip.io (RESIDENT-{reference})")),
            "{}",
            cert.subject()
        );
        let again =
            api.get_ok(&format!("/getCertificate?applicationId=RESIDENT&referenceId={reference}")).await;
        assert_eq!(again["certificate"], made["certificate"], "the same key is current");
        let csr = api.ok("POST", "/generateECSignKey/CSR", req).await;
        assert!(csr["certSignRequest"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    }
    // Ed25519: in software, in the database wrapped by the application's master, which
    // certifies it (as MOSIP keeps them).
    let master = api.get_ok("/getCertificate?applicationId=RESIDENT&referenceId=").await;
    let master = Certificate::from_pem(master["certificate"].as_str().unwrap().as_bytes()).unwrap();
    let ed = api
        .ok(
            "POST",
            "/generateECSignKey/CERTIFICATE",
            json!({"applicationId": "RESIDENT", "referenceId": "ED25519_SIGN"}),
        )
        .await;
    let ed = Certificate::from_pem(ed["certificate"].as_str().unwrap().as_bytes()).unwrap();
    assert!(ed.is_signed_by(&master));
    assert!(ed.subject().ends_with("CN=RESIDENT-ED25519_SIGN"), "{}", ed.subject());
    for (path, request, expected) in [
        (
            "/generateECSignKey/CERTIFICATE",
            json!({"applicationId": "ROOT", "referenceId": "EC_SECP256R1_SIGN"}),
            "KER-KMS-030",
        ),
        (
            "/generateECSignKey/CERTIFICATE",
            json!({"applicationId": "RESIDENT", "referenceId": "other"}),
            "KER-KMS-030",
        ),
        (
            "/generateECSignKey/PDF",
            json!({"applicationId": "RESIDENT", "referenceId": "EC_SECP256R1_SIGN"}),
            "KER-KMS-005",
        ),
    ] {
        let (status, code) = api.error("POST", path, Some(ADMIN), Some(wrap(request))).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{path}");
    }
    // An EC key is no encryption key.
    let (_, code) = api
        .error("POST", "/encrypt", Some(ADMIN), Some(wrap(json!({"applicationId": "RESIDENT", "referenceId": "EC_SECP256R1_SIGN", "timeStamp": now_text(), "data": b64(b"x")}))))
        .await;
    assert_eq!(code, "KER-CRY-011");
}

#[tokio::test]
async fn crypto_endpoints_happy_paths() {
    let api = api();
    let packet = b"a registration packet".repeat(100);
    for (salt, aad) in
        [(None, None), (None, Some(b64(b"legacy aad"))), (Some(b64(&[7u8; 12])), Some(b64(b"aad")))]
    {
        let mut req = json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "timeStamp": now_text(), "data": b64(&packet)});
        if let Some(s) = &salt {
            req["salt"] = json!(s);
        }
        if let Some(a) = &aad {
            req["aad"] = json!(a);
        }
        let sealed = api.ok("POST", "/encrypt", req.clone()).await["data"].as_str().unwrap().to_owned();
        req["data"] = json!(sealed);
        let opened = api.ok("POST", "/decrypt", req).await;
        assert_eq!(opened["data"], b64(&packet));
    }

    // A client seals with the certificate alone (the registration-client flow).
    let cert = api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011").await;
    let cert = Certificate::from_pem(cert["certificate"].as_str().unwrap().as_bytes()).unwrap();
    let sealed =
        keymgr_envelope::seal_text(&packet, &keymgr_envelope::Recipient::from_certificate(&cert).unwrap())
            .unwrap();
    let opened = api
        .ok("POST", "/decrypt", json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "timeStamp": now_text(), "data": sealed}))
        .await;
    assert_eq!(opened["data"], b64(&packet));

    let sealed = api.ok("POST", "/encryptWithPin", json!({"data": "my text", "userPin": "1234"})).await;
    let opened = api.ok("POST", "/decryptWithPin", json!({"data": sealed["data"], "userPin": "1234"})).await;
    assert_eq!(opened["data"], "my text");

    let h = api
        .ok("POST", "/generateArgon2Hash", json!({"inputData": "password", "salt": b64(b"somesalt")}))
        .await;
    assert_eq!(h["salt"], b64(b"somesalt"));
    let expected = keymgr_crypto::password::argon2id_hash(
        b"password",
        b"somesalt",
        Argon2Params { iterations: 2, memory_kib: 64, parallelism: 1 },
    )
    .unwrap();
    assert_eq!(h["hashValue"], b64(&expected));
    let h = api.ok("POST", "/generateArgon2Hash", json!({"inputData": "password"})).await;
    assert_eq!(h["salt"].as_str().unwrap().len(), 32, "24 random bytes");
}

#[tokio::test]
async fn jwe_endpoints() {
    let api = api();
    let claims = br#"{"sub":"1234","name":"resident"}"#;
    let token = api
        .ok("POST", "/jwtEncrypt", json!({"applicationId": "RESIDENT", "referenceId": "jwe", "data": b64(claims), "includeCertHash": true}))
        .await["data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(token.split('.').count(), 5);
    // RESIDENT admits only resident-service (set up above); the admin token's user is "admin".
    let (_, code) = api
        .error(
            "POST",
            "/jwtDecrypt",
            Some(ADMIN),
            Some(wrap(json!({"applicationId": "RESIDENT", "referenceId": "jwe", "encData": token}))),
        )
        .await;
    assert_eq!(code, "KER-CRY-012", "jwtDecrypt applies access_allowed (MOSIP does not)");

    let token = api
        .ok(
            "POST",
            "/jwtEncrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "data": b64(claims)}),
        )
        .await["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let opened = api
        .ok(
            "POST",
            "/jwtDecrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": token}),
        )
        .await;
    assert_eq!(opened["data"], b64(claims));

    // A JWS (three parts) is encrypted as it is, JSON or not.
    let jws = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    let token = api
        .ok("POST", "/jwtEncrypt", json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "data": jws, "enableDefCompression": false}))
        .await["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let opened = api
        .ok(
            "POST",
            "/jwtDecrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": token}),
        )
        .await;
    assert_eq!(opened["data"], b64(jws.as_bytes()));

    // Sealed to a certificate given in the request: the master's opens nowhere (KER-KMS-018),
    // an outside certificate's is unknown here (KER-KMS-025).
    let master = api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=").await;
    let to_master = api
        .ok("POST", "/jwtEncrypt", json!({"x509Certificate": master["certificate"], "data": b64(claims)}))
        .await["data"]
        .clone();
    let (_, code) = api
        .error(
            "POST",
            "/jwtDecrypt",
            Some(ADMIN),
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": to_master}))),
        )
        .await;
    assert_eq!(code, "KER-KMS-018");
    let outside = OutsideCa::new(UtcTime::now()).certify(
        &SigningKey::generate(AsymmetricKind::Rsa2048).unwrap().public_key_spki().unwrap(),
        "certified",
        UtcTime::now(),
    );
    let to_outside = api
        .ok("POST", "/jwtEncrypt", json!({"x509Certificate": outside.to_pem(), "data": b64(claims)}))
        .await["data"]
        .clone();
    let (_, code) = api
        .error(
            "POST",
            "/jwtDecrypt",
            Some(ADMIN),
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": to_outside}))),
        )
        .await;
    assert_eq!(code, "KER-KMS-025");

    for (path, request, expected) in [
        (
            "/jwtEncrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "data": b64(b"not json")}),
            "KER-CRY-013",
        ),
        ("/jwtEncrypt", json!({"applicationId": "REGISTRATION", "referenceId": "jwe"}), "KER-KMS-005"),
        ("/jwtEncrypt", json!({"data": b64(claims)}), "KER-KMS-005"),
        (
            "/jwtDecrypt",
            json!({"applicationId": "REGISTRATION", "referenceId": "jwe", "encData": "a.b.c.d.e"}),
            "KER-CRY-015",
        ),
        ("/jwtDecrypt", json!({"applicationId": "REGISTRATION", "encData": "a.b.c.d.e"}), "KER-KMS-005"),
    ] {
        let (_, code) = api.error("POST", path, Some(ADMIN), Some(wrap(request.clone()))).await;
        assert_eq!(code, expected, "{path} {request}");
    }
}

#[tokio::test]
async fn bad_inputs_get_their_mosip_codes() {
    let api = api();
    let enc = |extra: Value| {
        let mut r = json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "timeStamp": now_text(), "data": b64(b"x")});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        Some(wrap(r))
    };
    let cases: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("POST", "/encrypt", None, "KER-KMS-005"), // empty body
        ("POST", "/encrypt", Some(json!({"id": "x"})), "KER-KMS-005"), // no request
        ("POST", "/encrypt", Some(json!([1, 2])), "KER-KMS-005"), // not an object
        ("POST", "/encrypt", enc(json!({"applicationId": null})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"applicationId": "  "})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"data": null})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"timeStamp": null})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"timeStamp": "yesterday"})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"timeStamp": "2018-12-1"})), "KER-KMS-005"), // MOSIP's own case
        ("POST", "/encrypt", enc(json!({"data": "not base64!"})), "KER-CRY-003"),
        ("POST", "/encrypt", enc(json!({"salt": " "})), "KER-KMS-005"),
        ("POST", "/encrypt", enc(json!({"applicationId": "NO_SUCH_APP", "referenceId": "x"})), "KER-KMS-002"),
        ("POST", "/encrypt", enc(json!({"referenceId": ""})), "KER-CRY-011"), // a master does not encrypt
        ("POST", "/encrypt", enc(json!({"applicationId": "KERNEL", "referenceId": "SIGN"})), "KER-CRY-011"),
        ("POST", "/encrypt", enc(json!({"applicationId": 5})), "KER-KMS-005"),
        ("POST", "/decrypt", enc(json!({"data": "AAAA"})), "KER-CRY-003"), // no splitter
        ("POST", "/decrypt", enc(json!({"data": "%%%"})), "KER-CRY-003"),
        (
            "POST",
            "/generateMasterKey/PDF",
            Some(wrap(json!({"applicationId": "REGISTRATION"}))),
            "KER-KMS-009",
        ),
        (
            "POST",
            "/generateMasterKey/CERTIFICATE",
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": "x"}))),
            "KER-KMS-010",
        ),
        (
            "POST",
            "/generateMasterKey/CERTIFICATE",
            Some(wrap(json!({"applicationId": "NOPE"}))),
            "KER-KMS-002",
        ),
        (
            "POST",
            "/generateCSR",
            Some(wrap(json!({"applicationId": "KERNEL", "referenceId": "IDENTITY_CACHE"}))),
            "KER-KMS-022",
        ),
        (
            "POST",
            "/uploadCertificate",
            Some(wrap(
                json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011", "certificateData": "junk"}),
            )),
            "KER-KMS-013",
        ),
        (
            "POST",
            "/uploadCertificate",
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011"}))),
            "KER-KMS-005",
        ),
        (
            "POST",
            "/uploadOtherDomainCertificate",
            Some(wrap(json!({"applicationId": "KERNEL", "referenceId": "SIGN", "certificateData": "x"}))),
            "KER-KMS-031",
        ),
        (
            "POST",
            "/generateSymmetricKey",
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": "S"}))),
            "KER-KMS-005",
        ), // force missing
        (
            "PUT",
            "/revokeKey",
            Some(wrap(json!({"applicationId": "KERNEL", "referenceId": "SIGN"}))),
            "KER-KMS-021",
        ),
        (
            "PUT",
            "/revokeKey",
            Some(wrap(json!({"applicationId": "REGISTRATION", "referenceId": ""}))),
            "KER-KMS-005",
        ),
        ("POST", "/encryptWithPin", Some(wrap(json!({"data": "x"}))), "KER-KMS-005"),
        (
            "POST",
            "/decryptWithPin",
            Some(wrap(json!({"data": b64(&[0u8; 80]), "userPin": "1"}))),
            "KER-FSE-004",
        ),
        ("POST", "/generateArgon2Hash", Some(wrap(json!({"inputData": ""}))), "KER-KMS-005"),
        (
            "POST",
            "/generateArgon2Hash",
            Some(wrap(json!({"inputData": "x", "salt": b64(b"short")}))),
            "KER-KMS-005",
        ),
        ("GET", "/getCertificate?referenceId=x", None, "KER-KMS-005"),
        ("GET", "/getCertificate?applicationId=ROOT&referenceId=x", None, "KER-KMS-016"),
        ("GET", "/getAllCertificates?applicationId=REGISTRATION&referenceId=none-yet", None, "KER-KMS-003"),
    ];
    for (method, path, body, expected) in cases {
        let (status, code) = api.error(method, path, Some(ADMIN), body.clone()).await;
        assert_eq!(code, expected, "{method} {path} {body:?}");
        assert_eq!(status, StatusCode::OK, "handled errors are HTTP 200 as in MOSIP: {path}");
    }

    // An envelope for a key this service does not have: KER-KMS-025.
    let stranger = SigningKey::generate(AsymmetricKind::Rsa2048).unwrap();
    let cert = OutsideCa::new(UtcTime::now()).certify(
        &stranger.public_key_spki().unwrap(),
        "certified",
        UtcTime::now(),
    );
    let sealed =
        keymgr_envelope::seal_text(b"x", &keymgr_envelope::Recipient::from_certificate(&cert).unwrap())
            .unwrap();
    let (_, code) = api.error("POST", "/decrypt", Some(ADMIN), enc(json!({"data": sealed}))).await;
    assert_eq!(code, "KER-KMS-025");
    // A damaged envelope for our key: one answer, KER-KMS-019.
    let good = api.ok("POST", "/encrypt", enc(json!({})).unwrap()["request"].clone()).await["data"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes = keymgr_envelope::base64::decode(good.as_bytes(), usize::MAX).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let (_, code) = api.error("POST", "/decrypt", Some(ADMIN), enc(json!({"data": b64(&bytes)}))).await;
    assert_eq!(code, "KER-KMS-019");
}

#[tokio::test]
async fn auth_roles_access_and_limits() {
    let api = api();
    let get = "/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011";
    assert_eq!(api.error("GET", get, None, None).await, (StatusCode::UNAUTHORIZED, "KER-ATH-401".into()));
    assert_eq!(
        api.error("GET", get, Some("wrong"), None).await,
        (StatusCode::UNAUTHORIZED, "KER-ATH-401".into())
    );
    assert_eq!(
        api.error("GET", get, Some(OUTSIDER), None).await,
        (StatusCode::FORBIDDEN, "KER-ATH-403".into())
    );
    let (status, _) = api.call("GET", get, Some(READER), None).await;
    assert_eq!(status, StatusCode::OK);
    let revoke = wrap(json!({"applicationId": "REGISTRATION", "referenceId": "10001_110011"}));
    assert_eq!(
        api.error("PUT", "/revokeKey", Some(READER), Some(revoke)).await,
        (StatusCode::FORBIDDEN, "KER-ATH-403".into())
    );

    // RESIDENT's access_allowed names only resident-service: regproc may encrypt, not decrypt.
    let req = json!({"applicationId": "RESIDENT", "referenceId": "r1", "timeStamp": now_text(), "data": b64(b"secret")});
    let (_, body) = api.call("POST", "/encrypt", Some(READER), Some(wrap(req.clone()))).await;
    let mut dec = req;
    dec["data"] = body["response"]["data"].clone();
    assert_eq!(api.error("POST", "/decrypt", Some(READER), Some(wrap(dec))).await.1, "KER-CRY-012");

    // Over the body limit: 413 in MOSIP's shape, before any parsing.
    let big = json!({"request": {"data": "A".repeat(BODY_LIMIT)}});
    assert_eq!(
        api.error("POST", "/encrypt", Some(ADMIN), Some(big)).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "KER-KMS-005".into())
    );

    // Unknown paths: 404 in the same shape.
    let (status, body) = api.call("GET", "/noSuchThing", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["errorCode"], "KER-KMS-005");
}

#[tokio::test]
async fn development_mode_needs_no_token() {
    let api = api_with(true);
    let (status, body) =
        api.call("GET", "/getCertificate?applicationId=REGISTRATION&referenceId=dev", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    let api = api();
    let (status, health) = api.call("GET", "/actuator/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "UP");
    assert_eq!(health["components"]["db"]["status"], "UP");
    assert_eq!(health["components"]["hsm"]["status"], "UP");

    api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=m").await;
    let (status, text) = api.raw("GET", "/metrics", None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("keymgr_http_requests_total{endpoint=\"getgetcertificate\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("keymgr_http_request_duration_seconds_count{endpoint=\"getgetcertificate\"} 1"));
    assert!(text.contains("keymgr_cache_hits_total{cache=\"policy\"}"));
    assert!(text.contains("keymgr_keys_expiring_30d 0"));
    assert!(text.contains("keymgr_keystore_call_duration_seconds_count{operation=\"sign\"}"), "{text}");

    let (status, doc) = api.call("GET", "/api-docs", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // Every routed endpoint is documented.
    for path in [
        "/generateMasterKey/{objectType}",
        "/generateECSignKey/{objectType}",
        "/getCertificate",
        "/getAllCertificates",
        "/getCertificateChain",
        "/generateCSR",
        "/uploadCertificate",
        "/uploadOtherDomainCertificate",
        "/generateSymmetricKey",
        "/revokeKey",
        "/encrypt",
        "/decrypt",
        "/encryptWithPin",
        "/decryptWithPin",
        "/generateArgon2Hash",
        "/actuator/health",
    ] {
        assert!(
            doc["paths"][format!("/v1/keymanager{path}")].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let _ = &api.km;
}

/// A registration client before MOSIP 1.1.5, written again in Python from the reference: no
/// thumbprint, the legacy layout (`ct || tag || 16-byte IV`), RSA-OAEP-SHA256 key wrap.
const PYTHON_113_CLIENT: &str = r##"
import base64, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
cert = x509.load_pem_x509_certificate(sys.stdin.buffer.read())
key, iv = os.urandom(32), os.urandom(16)
wrapped = cert.public_key().encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
data = AESGCM(key).encrypt(iv, sys.argv[1].encode(), None) + iv
print(base64.urlsafe_b64encode(wrapped + b"#KEY_SPLITTER#" + data).decode().rstrip("="), end="")
"##;

/// Packets of registration clients before 1.1.5 carry no thumbprint: `/decrypt` tries the
/// pair's newest keys and answers one code for every failure.
#[tokio::test]
async fn packets_without_a_thumbprint_open() {
    let api = api();
    let pem = api.get_ok("/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011").await["certificate"]
        .as_str()
        .unwrap()
        .to_owned();
    let cert = Certificate::from_pem(pem.as_bytes()).unwrap();
    let decrypt = |reference: &str, data: &str| json!({"applicationId": "REGISTRATION", "referenceId": reference, "timeStamp": now_text(), "data": data});
    let mut sealed = Vec::new();
    if keymgr_test_support::python::ready(&["cryptography"]) {
        let text = keymgr_test_support::python::run(PYTHON_113_CLIENT, &["a 1.1.3 packet"], pem.as_bytes());
        sealed.push((String::from_utf8(text).unwrap(), "a 1.1.3 packet"));
    }
    // The same shape from our own codec: a VER_R2 envelope with its thumbprint cut out.
    let ours = keymgr_envelope::seal_text(
        b"thumbprint cut",
        &keymgr_envelope::Recipient::from_certificate(&cert).unwrap(),
    )
    .unwrap();
    let mut bytes = keymgr_envelope::base64::decode(ours.as_bytes(), usize::MAX).unwrap();
    bytes.drain(6..38);
    sealed.push((b64(&bytes), "thumbprint cut"));
    for (text, plain) in &sealed {
        let opened = api.ok("POST", "/decrypt", decrypt("10001_110011", text)).await;
        let data =
            keymgr_envelope::base64::decode(opened["data"].as_str().unwrap().as_bytes(), usize::MAX).unwrap();
        assert_eq!(data, plain.as_bytes());
        // Another pair's keys are not tried; a damaged packet is the same answer.
        let (_, code) = api.error("POST", "/decrypt", Some(ADMIN), Some(wrap(decrypt("other", text)))).await;
        assert_eq!(code, "KER-KMS-019");
        let mut damaged = keymgr_envelope::base64::decode(text.as_bytes(), usize::MAX).unwrap();
        damaged[10] ^= 0x40;
        let (_, code) = api
            .error("POST", "/decrypt", Some(ADMIN), Some(wrap(decrypt("10001_110011", &b64(&damaged)))))
            .await;
        assert_eq!(code, "KER-KMS-019");
    }
    // A key part of neither length is malformed, as before.
    bytes.drain(6..7);
    let (_, code) =
        api.error("POST", "/decrypt", Some(ADMIN), Some(wrap(decrypt("10001_110011", &b64(&bytes))))).await;
    assert_eq!(code, "KER-CRY-003");
}

/// `/actuator/info` needs no token; `/actuator/mappings` lists this API from the OpenAPI
/// document; `/actuator/refresh` makes a policy changed by hand in the database take effect.
#[tokio::test]
async fn actuator_info_mappings_and_refresh() {
    let api = api();
    let (status, info) = api.call("GET", "/actuator/info", None, None).await;
    assert_eq!((status, info["build"]["name"].as_str()), (StatusCode::OK, Some("keymgr")));

    let mappings = api.get_ok("/actuator/mappings").await["mappings"].as_array().unwrap().clone();
    let find = |method: &str, path: &str| {
        mappings
            .iter()
            .find(|m| m["method"] == method && m["path"] == format!("/v1/keymanager{path}"))
            .cloned()
    };
    assert_eq!(find("POST", "/decrypt").unwrap()["role"], "postdecrypt");
    assert_eq!(find("GET", "/license/permission").unwrap()["role"], "getlicensepermission");
    assert_eq!(find("GET", "/actuator/health").unwrap()["role"], Value::Null);
    assert!(mappings.len() > 60, "{} endpoints", mappings.len());
    for path in ["/actuator/mappings"] {
        let (status, _) = api.call("GET", path, Some(READER), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // The reader may decrypt; then its name is taken out of access_allowed behind the
    // service's back, and a refresh makes that count.
    let sealed = api.ok("POST", "/encrypt", json!({"applicationId": "REGISTRATION", "referenceId": "r1", "timeStamp": now_text(), "data": b64(b"x")})).await["data"].clone();
    let request = wrap(
        json!({"applicationId": "REGISTRATION", "referenceId": "r1", "timeStamp": now_text(), "data": sealed}),
    );
    let (status, body) = api.call("POST", "/decrypt", Some(READER), Some(request.clone())).await;
    assert_eq!((status, body["errors"].clone()), (StatusCode::OK, Value::Null));
    let db = api.km.database();
    let mut policy = db.policy(&keymgr_model::AppId::new("REGISTRATION").unwrap()).unwrap().unwrap();
    policy.access_allowed = keymgr_model::AccessAllowed::Users(vec!["someone-else".into()]);
    db.upsert_policy(&policy, "dba").unwrap();
    let (status, _) = api.call("POST", "/actuator/refresh", Some(READER), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api.call("POST", "/actuator/refresh", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["response"]["refreshed"].as_array().unwrap().iter().any(|c| c == "policies"), "{body}");
    assert_eq!(api.error("POST", "/decrypt", Some(READER), Some(request)).await.1, "KER-CRY-012");
}
