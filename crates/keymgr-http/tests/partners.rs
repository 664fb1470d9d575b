//! The partner certificate manager over HTTP (MOSIP's section 5.4): every endpoint's request
//! and response fields, MOSIP's codes, roles, and `/jwtVerify` answering from the trust store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_crypto::{Certificate, pkcs7};
use keymgr_model::UtcTime;
use keymgr_test_support::pki::{Authority, name};
use serde_json::{Value, json};

#[tokio::test]
async fn partner_endpoints() {
    let api = api();
    let now = UtcTime::now();
    let root = Authority::root(name("Http Root", "Http Org"), now, 3650);
    let inter = root.sub_ca(name("Http CA", "Http Org"), now, 3000);
    let bundle = keymgr_model::base64::encode(
        &pkcs7::certs_only_der(&[inter.certificate.clone(), root.certificate.clone()]).unwrap(),
    );

    let up = api
        .ok("POST", "/uploadCACertificate", json!({"certificateData": bundle, "partnerDomain": "auth"}))
        .await;
    assert_eq!(up["status"], "Upload Success.");
    assert!(up["timestamp"].as_str().unwrap().ends_with('Z'));
    let again = api
        .ok("POST", "/uploadCACertificate", json!({"certificateData": bundle, "partnerDomain": "AUTH"}))
        .await;
    assert_eq!(again["status"], "Upload Failed.");
    let (_, code) = api
        .error(
            "POST",
            "/uploadCACertificate",
            Some(ADMIN),
            Some(wrap(json!({"certificateData": root.certificate.to_pem(), "partnerDomain": "AUTH"}))),
        )
        .await;
    assert_eq!(code, "KER-PCM-003");

    // The list, and the trust path of the intermediate.
    let list = api.ok("POST", "/getCaCertificates", json!({"partnerDomain": "AUTH", "pageNumber": 1, "pageSize": 10, "sortByFieldName": "certSubject"})).await;
    assert_eq!(
        (list["pageNumber"].as_i64(), list["totalRecords"].as_i64(), list["totalPages"].as_i64()),
        (Some(1), Some(2), Some(1))
    );
    let items = list["allPartnerCertificates"].as_array().unwrap();
    assert_eq!(items[0]["issuedTo"], "CN=Http CA,O=Http Org,C=IN");
    assert_eq!(items[0]["caCertificateType"], "INTERMEDIATE");
    for field in [
        "certId",
        "issuedBy",
        "certThumbprint",
        "validFromDate",
        "validTillDate",
        "uploadTime",
        "partnerDomain",
    ] {
        assert!(items[0][field].is_string(), "{field}: {}", items[0]);
    }
    assert_eq!(items[0]["status"], true);
    let id = items[0]["certId"].as_str().unwrap();
    let path = api.get_ok(&format!("/getCACertificateTrustPath/{id}")).await;
    let pem = path["p7bFile"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PKCS7-----"));
    let der = keymgr_crypto::pem::decode_first(pem.as_bytes(), &["PKCS7"]).unwrap();
    assert_eq!(pkcs7::read_certificates(&der).unwrap().len(), 2);

    // A partner's certificate: re-signed, stored, readable both ways.
    let partner = inter.partner(name("Http Partner", "Http Org"), now, 730);
    let signed = api
        .ok("POST", "/uploadPartnerCertificate", json!({"certificateData": partner.certificate.to_pem(), "organizationName": "Http Org", "partnerDomain": "AUTH"}))
        .await;
    let chain = pkcs7::read_certificates(
        &keymgr_model::base64::decode(signed["signedCertificateData"].as_str().unwrap().as_bytes(), 1 << 20)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(chain.len(), 3);
    let id = signed["certificateId"].as_str().unwrap();
    let got = api.get_ok(&format!("/getPartnerCertificate/{id}")).await;
    let resigned = Certificate::from_pem(got["certificateData"].as_str().unwrap().as_bytes()).unwrap();
    assert!(chain.iter().any(|c| c.der() == resigned.der()));
    let both = api.get_ok(&format!("/getPartnerSignedCertificate/{id}")).await;
    assert_eq!(both["caSignedCertificateData"].as_str().unwrap(), partner.certificate.to_pem());
    assert_eq!(both["mosipSignedCertificateData"], got["certificateData"]);
    let (_, code) = api.error("GET", "/getPartnerCertificate/no-such-id", Some(ADMIN), None).await;
    assert_eq!(code, "KER-PCM-012");
    let (_, code) = api.error("GET", "/getCACertificateTrustPath/no-such-id", Some(ADMIN), None).await;
    assert_eq!(code, "KER-PMS-019");

    // verifyCertificateTrust, and /jwtVerify's trust answer from the same store.
    let trust = api
        .ok(
            "POST",
            "/verifyCertificateTrust",
            json!({"certificateData": partner.certificate.to_pem(), "partnerDomain": "AUTH"}),
        )
        .await;
    assert_eq!(trust, json!({"status": true}));
    let trust = api
        .ok(
            "POST",
            "/verifyCertificateTrust",
            json!({"certificateData": partner.certificate.to_pem(), "partnerDomain": "DEVICE"}),
        )
        .await;
    assert_eq!(trust, json!({"status": false}));
    let kernel_root = api.get_ok("/getCertificate?applicationId=ROOT&referenceId=").await;
    api.ok(
        "POST",
        "/uploadCACertificate",
        json!({"certificateData": kernel_root["certificate"], "partnerDomain": "TRUST_CA"}),
    )
    .await;
    let data = keymgr_model::base64::encode(br#"{"a":1}"#);
    let token = api
        .ok(
            "POST",
            "/jwtSign",
            json!({"dataToSign": data, "includeCertificate": true, "includePayload": true}),
        )
        .await;
    let token = token["jwtSignedData"].as_str().unwrap();
    // AUTH trusts the platform's ROOT too, since the partner upload stored its bundle there (as
    // MOSIP does); DEVICE has no CA.
    for (domain, expected) in [
        ("TRUST_CA", "TRUST_CERT_PATH_VALID"),
        ("AUTH", "TRUST_CERT_PATH_VALID"),
        ("DEVICE", "TRUST_CERT_PATH_NOT_VALID"),
    ] {
        let v = api
            .ok(
                "POST",
                "/jwtVerify",
                json!({"jwtSignatureData": token, "validateTrust": true, "domain": domain}),
            )
            .await;
        assert_eq!(v["trustValid"], expected, "{domain}");
    }

    // MOSIP's codes for what callers get wrong.
    for (path, request, expected) in [
        ("/uploadCACertificate", json!({"partnerDomain": "AUTH"}), "KER-KMS-005"),
        ("/uploadCACertificate", json!({"certificateData": bundle, "partnerDomain": "NOPE"}), "KER-PCM-011"),
        (
            "/uploadCACertificate",
            json!({"certificateData": "bm90IGEgY2VydA", "partnerDomain": "AUTH"}),
            "KER-PCM-001",
        ),
        (
            "/uploadCACertificate",
            json!({"certificateData": "not base64!", "partnerDomain": "AUTH"}),
            "KER-CRY-003",
        ),
        (
            "/uploadPartnerCertificate",
            json!({"certificateData": partner.certificate.to_pem(), "partnerDomain": "AUTH"}),
            "KER-KMS-005",
        ),
        (
            "/uploadPartnerCertificate",
            json!({"certificateData": partner.certificate.to_pem(), "organizationName": "Other", "partnerDomain": "AUTH"}),
            "KER-PCM-008",
        ),
        (
            "/verifyCertificateTrust",
            json!({"certificateData": "garbage", "partnerDomain": "AUTH"}),
            "KER-KMS-013",
        ),
        ("/getCaCertificates", json!({"caCertificateType": "LEAF"}), "KER-PCM-018"),
        ("/getCaCertificates", json!({"validFromDate": "yesterday"}), "KER-KMS-006"),
        ("/getCaCertificates", json!({"sortByFieldName": "certData"}), "KER-KMS-005"),
    ] {
        let (status, code) = api.error("POST", path, Some(ADMIN), Some(wrap(request.clone()))).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{path} {request}");
    }
}

#[tokio::test]
async fn partner_roles() {
    let api = api();
    let body = Some(wrap(json!({"certificateData": "x", "partnerDomain": "AUTH", "organizationName": "x"})));
    for (method, path, reader_may) in [
        ("POST", "/uploadCACertificate", false),
        ("POST", "/uploadPartnerCertificate", false),
        ("GET", "/getPartnerCertificate/x", true),
        ("GET", "/getPartnerSignedCertificate/x", true),
        ("POST", "/verifyCertificateTrust", true),
        ("POST", "/getCaCertificates", true),
        ("GET", "/getCACertificateTrustPath/x", true),
    ] {
        let (status, _) = api.call(method, path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = api.call(method, path, Some(OUTSIDER), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, out) = api.call(method, path, Some(READER), body.clone()).await;
        if reader_may {
            assert_eq!(status, StatusCode::OK, "{path}: {out}");
            assert!(out["response"] != Value::Null || out["errors"] != Value::Null, "{path}: {out}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: uploads need KEY_ADMIN");
        }
    }
}
