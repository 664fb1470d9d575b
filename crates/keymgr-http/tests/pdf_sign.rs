//! `/pdf/sign` over HTTP, the result read by poppler's `pdfsig`: signed by the application's
//! key with the chain up to ROOT, optionally password-protected; every bad input has its code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_test_support::pdf::{pdfsig, poppler_or_skip, sample_pdf};
use serde_json::{Value, json};

fn request(data: &str) -> Value {
    json!({
        "applicationId": "KERNEL", "referenceId": "SIGN", "timeStamp": now_text(), "data": data,
        "lowerLeftX": 300, "lowerLeftY": 60, "upperRightX": 560, "upperRightY": 130,
        "reason": "UIN card", "pageNumber": 1
    })
}

fn d(text: &str) -> Vec<u8> {
    keymgr_envelope::base64::decode(text.as_bytes(), usize::MAX).unwrap()
}

#[tokio::test]
async fn signed_pdfs_verify_in_pdfsig() {
    if !poppler_or_skip() {
        return;
    }
    let api = api();
    let dir = tempfile::tempdir().unwrap();
    let original = sample_pdf(2);
    // MOSIP's clients send standard base64.
    let std_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&original)
    };
    let signed = d(api.ok("POST", "/pdf/sign", request(&std_b64)).await["data"].as_str().unwrap());
    assert_eq!(&signed[..original.len()], &original[..]);
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, &signed).unwrap();
    let report = pdfsig(&path, None);
    assert!(report.contains("Signature Validation: Signature is Valid."), "{report}");
    assert!(report.contains("Signer Certificate Common Name: www.mosip.io (KERNEL-SIGN)"), "{report}");
    assert!(report.contains("Total document signed"), "{report}");

    // An application's master signs for a blank reference; a password protects the result.
    let mut protected = request(&b64(&original));
    protected["applicationId"] = json!("REGISTRATION");
    protected["referenceId"] = json!("");
    protected["pageNumber"] = json!(2);
    protected["password"] = json!("Mosip@1990");
    let signed = d(api.ok("POST", "/pdf/sign", protected).await["data"].as_str().unwrap());
    let path = dir.path().join("protected.pdf");
    std::fs::write(&path, &signed).unwrap();
    let report = pdfsig(&path, Some("Mosip@1990"));
    assert!(report.contains("Signature Validation: Signature is Valid."), "{report}");
    assert!(report.contains("www.mosip.io (REGISTRATION)"), "{report}");
}

#[tokio::test]
async fn bad_inputs_and_roles() {
    let api = api();
    let pdf = b64(&sample_pdf(1));
    api.ok(
        "POST",
        "/generateECSignKey/CERTIFICATE",
        json!({"applicationId": "KERNEL", "referenceId": "EC_SECP256R1_SIGN"}),
    )
    .await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut r = request(&pdf);
        change(&mut r);
        r
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|r| r["applicationId"] = Value::Null), "KER-KMS-005"),
        (with(&|r| r["timeStamp"] = Value::Null), "KER-KMS-005"),
        (with(&|r| r["data"] = json!("")), "KER-KMS-005"),
        (with(&|r| r["data"] = json!("%%%")), "KER-CRY-003"),
        (with(&|r| r["data"] = json!(b64(b"not a pdf"))), "KER-KMS-005"),
        (with(&|r| r["reason"] = json!(" ")), "KER-KMS-005"),
        (with(&|r| r["pageNumber"] = json!(2)), "KER-KMS-005"),
        (with(&|r| r["pageNumber"] = json!(0)), "KER-KMS-005"),
        (with(&|r| r["lowerLeftX"] = json!(-1)), "KER-KMS-005"),
        (with(&|r| r["upperRightX"] = json!(100)), "KER-KMS-005"),
        (with(&|r| r["pageNumber"] = json!("one")), "KER-KMS-005"),
        (with(&|r| r["applicationId"] = json!("ROOT")), "KER-KMS-020"),
        (with(&|r| r["referenceId"] = json!("10001_110011")), "KER-KMS-020"),
        (with(&|r| r["referenceId"] = json!("EC_SECP256R1_SIGN")), "KER-KMS-020"),
    ];
    for (request, expected) in cases {
        let (status, code) = api.error("POST", "/pdf/sign", Some(ADMIN), Some(wrap(request.clone()))).await;
        assert_eq!((status, code.as_str()), (StatusCode::OK, expected), "{request}");
    }
    let (status, _) = api.call("POST", "/pdf/sign", Some(OUTSIDER), Some(wrap(request(&pdf)))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api.call("POST", "/pdf/sign", Some(READER), Some(wrap(request(&pdf)))).await;
    assert_eq!((status, body["errors"].clone()), (StatusCode::OK, Value::Null), "a crypto user signs");
}
