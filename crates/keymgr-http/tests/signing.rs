//! The signature endpoints over HTTP (MOSIP's section 5.3), through the router: every request
//! field and default, the headers against the certificate `getCertificate` returns, MOSIP's
//! codes for each kind of bad input, roles; and interop both ways with an independent JOSE
//! implementation (Python `joserfc`, with `cryptography` for the keys and certificates):
//! every algorithm, attached, detached and unencoded (`b64: false`) tokens we sign verify
//! there, and tokens it signs verify through `/jwtVerify`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use keymgr_crypto::{Certificate, SignAlgorithm, sha256};
use keymgr_test_support::python;
use serde_json::{Map, Value, json};

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header_of(token: &str) -> Map<String, Value> {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(first).unwrap()).unwrap()
}

/// The names of a token's header in the order written (a `Map` sorts them).
fn header_names(token: &str) -> Vec<String> {
    struct Names;
    impl<'de> serde::de::Visitor<'de> for Names {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut names = Vec::new();
            while let Some((name, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                names.push(name);
            }
            Ok(names)
        }
    }
    let first = token.split('.').next().unwrap();
    let json = URL_SAFE_NO_PAD.decode(first).unwrap();
    serde::Deserializer::deserialize_map(&mut serde_json::Deserializer::from_slice(&json), Names).unwrap()
}

/// The JSON payload every signing case signs.
const PAYLOAD: &[u8] = br#"{"iss":"ida-partner","sub":"4721","claims":{"name":"A Person"}}"#;

impl Api {
    async fn certificate(&self, app: &str, reference: &str) -> Certificate {
        let got = self.get_ok(&format!("/getCertificate?applicationId={app}&referenceId={reference}")).await;
        Certificate::from_pem(got["certificate"].as_str().unwrap().as_bytes()).unwrap()
    }

    async fn key_id(&self, app: &str, reference: &str) -> String {
        let all =
            self.get_ok(&format!("/getAllCertificates?applicationId={app}&referenceId={reference}")).await;
        let list = all["allCertificates"].as_array().unwrap();
        list.last().unwrap()["keyId"].as_str().unwrap().to_owned()
    }

    async fn signed(&self, path: &str, request: Value) -> String {
        let out = self.ok("POST", path, request).await;
        out["jwtSignedData"].as_str().unwrap().to_owned()
    }

    async fn verify(&self, path: &str, request: Value) -> Value {
        self.ok("POST", path, request).await
    }

    async fn code(&self, path: &str, request: Value) -> String {
        let (status, code) = self.error("POST", path, Some(ADMIN), Some(wrap(request))).await;
        assert_eq!(status, StatusCode::OK, "{path}: handled errors are 200 with errors, as MOSIP");
        code
    }

    /// Makes the EC and Ed25519 signing keys of `app`.
    async fn signing_keys(&self, app: &str) {
        for reference in ["EC_SECP256R1_SIGN", "EC_SECP256K1_SIGN", "ED25519_SIGN"] {
            let req = json!({"applicationId": app, "referenceId": reference});
            self.ok("POST", "/generateECSignKey/CERTIFICATE", req).await;
        }
    }
}

#[tokio::test]
async fn jwt_sign_headers_follow_the_request_and_the_key() {
    let api = api();
    let data = b64url(PAYLOAD);
    let kernel = api.certificate("KERNEL", "SIGN").await;
    let kid = api.key_id("KERNEL", "SIGN").await;

    // Defaults: KERNEL/SIGN, RS256, detached, no certificate, MOSIP's kid.
    let token = api.signed("/jwtSign", json!({"dataToSign": data})).await;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[1].is_empty(), "detached by default");
    let header = header_of(&token);
    assert_eq!(Value::Object(header.clone()), json!({"alg": "RS256", "kid": kid}));
    let input = format!("{}.{data}", parts[0]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    keymgr_crypto::verify(SignAlgorithm::Rs256, kernel.spki_der(), input.as_bytes(), &signature).unwrap();

    // Every include flag: the headers in MOSIP's order, x5c and x5t#S256 of the certificate
    // getCertificate returns.
    let token = api
        .signed(
            "/jwtSign",
            json!({"dataToSign": data, "applicationId": "", "referenceId": "", "includePayload": true,
                   "includeCertificate": true, "includeCertHash": true,
                   "certificateUrl": "https://keys.example/kernel.pem"}),
        )
        .await;
    let header = header_of(&token);
    assert_eq!(header_names(&token), ["alg", "x5c", "x5t#S256", "x5u", "kid"]);
    assert_eq!(STANDARD.decode(header["x5c"][0].as_str().unwrap()).unwrap(), kernel.der());
    assert_eq!(header["x5t#S256"], b64url(&sha256(kernel.der())));
    assert_eq!(header["x5u"], "https://keys.example/kernel.pem");
    assert_eq!(token.split('.').nth(1).unwrap(), data, "the payload attached as sent");
    let verified = api.verify("/jwtVerify", json!({"jwtSignatureData": token})).await;
    assert_eq!(
        verified,
        json!({"signatureValid": true, "message": "Validation Successful", "trustValid": "TRUST_NOT_VERIFIED"})
    );

    // The algorithm follows the key: ES256, ES256K, EdDSA; the master of an app: RS256.
    api.signing_keys("ID_REPO").await;
    for (reference, alg) in [
        ("EC_SECP256R1_SIGN", "ES256"),
        ("EC_SECP256K1_SIGN", "ES256K"),
        ("ED25519_SIGN", "EdDSA"),
        ("", "RS256"),
    ] {
        let token = api
            .signed(
                "/jwtSign",
                json!({"dataToSign": data, "applicationId": "ID_REPO", "referenceId": reference}),
            )
            .await;
        let header = header_of(&token);
        assert_eq!(header["alg"], alg, "{reference}");
        assert_eq!(header["kid"], api.key_id("ID_REPO", reference).await, "{reference}");
        let verified = api
            .verify(
                "/jwtVerify",
                json!({"jwtSignatureData": token, "actualData": data, "applicationId": "ID_REPO", "referenceId": reference}),
            )
            .await;
        assert_eq!(verified["signatureValid"], true, "{reference}");
    }

    // v2: the chain in x5c (leaf, then ROOT), additional headers, the kid prefix with one '#'.
    let token = api
        .signed(
            "/jwtSign/v2",
            json!({"dataToSign": data, "includeCertificateChain": true, "includePayload": true,
                   "additionalHeaders": {"kid": "partner-x", "custom": "header", "iat": 1700000000}}),
        )
        .await;
    let header = header_of(&token);
    let chain: Vec<Vec<u8>> = header["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect();
    let root = api.certificate("ROOT", "").await;
    assert_eq!(chain, [kernel.der().to_vec(), root.der().to_vec()]);
    assert_eq!(header["kid"], format!("partner-x#{kid}"));
    assert_eq!(header["custom"], "header");
    assert_eq!(header["iat"], "1700000000", "additionalHeaders are strings, as MOSIP's map");
    let v2 = api.verify("/jwtVerify/v2", json!({"jwtSignatureData": token})).await;
    assert_eq!(v2["signatureValid"], true);

    // A prefix that already ends in '#' keeps one.
    let token = api
        .signed("/jwtSign/v2", json!({"dataToSign": data, "additionalHeaders": {"kid": "partner-x#"}}))
        .await;
    assert_eq!(header_of(&token)["kid"], format!("partner-x#{kid}"));
}

#[tokio::test]
async fn jws_sign_algorithms_and_unencoded_payloads() {
    let api = api();
    let data = b64url(PAYLOAD);
    let kernel = api.certificate("KERNEL", "SIGN").await;

    // validateJson must be sent (MOSIP crashes without it).
    assert_eq!(api.code("/jwsSign", json!({"dataToSign": data})).await, "KER-KMS-005");

    // Default: PS256, RFC 7797 unencoded and detached; the signing input is header.payload.
    let token = api.signed("/jwsSign", json!({"dataToSign": data, "validateJson": true})).await;
    let header = header_of(&token);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["b64"], false);
    assert_eq!(header["crit"], json!(["b64"]));
    let parts: Vec<&str> = token.split('.').collect();
    assert!(parts[1].is_empty());
    let mut input = format!("{}.", parts[0]).into_bytes();
    input.extend_from_slice(PAYLOAD);
    keymgr_crypto::verify(
        SignAlgorithm::Ps256,
        kernel.spki_der(),
        &input,
        &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
    )
    .unwrap();
    // Verified with the raw payload as actualData.
    let verified = api
        .verify(
            "/jwtVerify",
            json!({"jwtSignatureData": token, "actualData": String::from_utf8(PAYLOAD.to_vec()).unwrap()}),
        )
        .await;
    assert_eq!(verified["signatureValid"], true);

    // b64JWSHeaderParam true: a standard JWS, base64url payload.
    let token = api
        .signed(
            "/jwsSign",
            json!({"dataToSign": data, "validateJson": false, "b64JWSHeaderParam": true, "includePayload": true,
                   "signAlgorithm": "RS256"}),
        )
        .await;
    let header = header_of(&token);
    assert_eq!(header["alg"], "RS256");
    assert!(!header.contains_key("b64"));
    assert_eq!(api.verify("/jwtVerify", json!({"jwtSignatureData": token})).await["signatureValid"], true);

    // An unknown algorithm name is PS256, as MOSIP; one that does not suit the key is
    // KER-JWS-104 (MOSIP would sign a token no verifier accepts).
    let token = api
        .signed("/jwsSign", json!({"dataToSign": data, "validateJson": true, "signAlgorithm": "XYZ"}))
        .await;
    assert_eq!(header_of(&token)["alg"], "PS256");
    assert_eq!(
        api.code("/jwsSign", json!({"dataToSign": data, "validateJson": true, "signAlgorithm": "ES256"}))
            .await,
        "KER-JWS-104"
    );

    // v2: typ, jku, cty taken; crit keeps b64 and leaves out registered names (MOSIP's test
    // sends "alg, x5c"); custom headers in order; jwk is the key manager's, never the caller's.
    let token = api
        .signed(
            "/jwsSign/v2",
            json!({"dataToSign": data, "validateJson": true, "includeCertificateChain": true,
                   "additionalHeaders": {"test": "a", "typ": "jws", "jku": "https://keys.example/jwks",
                                         "cty": "json", "crit": "alg, x5c", "jwk": "{}"}}),
        )
        .await;
    let header = header_of(&token);
    assert_eq!(header_names(&token), ["alg", "x5c", "kid", "test", "typ", "jku", "cty", "b64", "crit"]);
    assert_eq!(header["crit"], json!(["b64"]));
    let critical = api
        .signed(
            "/jwsSign/v2",
            json!({"dataToSign": data, "validateJson": true, "additionalHeaders": {"exp2": "1", "crit": "exp2"}}),
        )
        .await;
    assert_eq!(header_of(&critical)["crit"], json!(["b64", "exp2"]));
    assert_eq!(
        api.code(
            "/jwsSign/v2",
            json!({"dataToSign": data, "validateJson": true, "additionalHeaders": {"crit": "missing"}})
        )
        .await,
        "KER-JWS-102",
        "crit naming no header of the token"
    );
    assert_eq!(
        api.code(
            "/jwsSign/v2",
            json!({"dataToSign": data, "validateJson": true, "additionalHeaders": {"nested": {"a": 1}}})
        )
        .await,
        "KER-KMS-005"
    );

    // Ed25519 through jwsSign.
    api.signing_keys("ID_REPO").await;
    let ed = api
        .signed(
            "/jwsSign",
            json!({"dataToSign": data, "validateJson": true, "applicationId": "ID_REPO", "referenceId": "ED25519_SIGN"}),
        )
        .await;
    assert_eq!(api.code("/jwsSign", json!({"dataToSign": data, "validateJson": true, "applicationId": "ID_REPO", "referenceId": "ED25519_SIGN", "signAlgorithm": "RS256"})).await, "KER-JWS-104");
    assert!(ed.starts_with("ey"));
}

#[tokio::test]
async fn raw_signatures_and_the_legacy_pair() {
    let api = api();
    let message = b"raw bytes, not JSON";
    let data = b64url(message);
    api.signing_keys("ID_REPO").await;

    // signV2: base58btc by default, base64url on request.
    let out = api.ok("POST", "/signV2", json!({"dataToSign": data})).await;
    let signature = out["signature"].as_str().unwrap();
    assert!(signature.starts_with('z'));
    let raw = keymgr_model::base58::decode(&signature[1..]).unwrap();
    let kernel = api.certificate("KERNEL", "SIGN").await;
    keymgr_crypto::verify(SignAlgorithm::Ps256, kernel.spki_der(), message, &raw).unwrap();
    assert!(out["timestamp"].as_str().unwrap().ends_with('Z'));

    for (reference, alg, name) in [
        ("EC_SECP256R1_SIGN", SignAlgorithm::Es256, "ES256"),
        ("EC_SECP256K1_SIGN", SignAlgorithm::Es256K, "ES256K"),
        ("ED25519_SIGN", SignAlgorithm::EdDsa, "EdDSA"),
    ] {
        let out = api
            .ok(
                "POST",
                "/signRawData",
                json!({"dataToSign": data, "applicationId": "ID_REPO", "referenceId": reference,
                       "responseEncodingFormat": "base64url"}),
            )
            .await;
        let cert = Certificate::from_pem(out["certificate"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(cert.der(), api.certificate("ID_REPO", reference).await.der());
        assert_eq!(out["signatureAlgorithm"], name);
        assert_eq!(out["keyId"], api.key_id("ID_REPO", reference).await);
        let raw = URL_SAFE_NO_PAD.decode(out["signedData"].as_str().unwrap()).unwrap();
        keymgr_crypto::verify(alg, cert.spki_der(), message, &raw).unwrap();
    }

    // Refusals, in MOSIP's order: access and key before the encoding.
    assert_eq!(
        api.code("/signV2", json!({"dataToSign": data, "responseEncodingFormat": "hex"})).await,
        "KER-KMS-036"
    );
    assert_eq!(
        api.code(
            "/signV2",
            json!({"dataToSign": data, "applicationId": "RESIDENT", "referenceId": "", "responseEncodingFormat": "hex"})
        )
        .await,
        "KER-JWS-108",
        "RESIDENT's access_allowed names only resident-service"
    );
    assert_eq!(
        api.code(
            "/signRawData",
            json!({"dataToSign": data, "applicationId": "REGISTRATION", "referenceId": ""})
        )
        .await,
        "KER-KMS-020",
        "a master certifies keys and never signs caller bytes raw"
    );
    assert_eq!(
        api.code("/signRawData", json!({"dataToSign": data, "applicationId": "ROOT", "referenceId": ""}))
            .await,
        "KER-KMS-020"
    );

    // The deprecated pair: /sign makes a detached RS256 JWS of the text, /validate checks it.
    let signed = api.ok("POST", "/sign", json!({"data": "plain text"})).await;
    let signature = signed["signature"].as_str().unwrap();
    assert_eq!(header_of(signature), json!({"alg": "RS256"}).as_object().unwrap().clone());
    let ok = api
        .ok(
            "POST",
            "/validate",
            json!({"signature": signature, "data": "plain text", "timestamp": now_text()}),
        )
        .await;
    assert_eq!(ok, json!({"status": "success", "message": "Validation Successful"}));
    assert_eq!(
        api.code("/validate", json!({"signature": signature, "data": "other text", "timestamp": now_text()}))
            .await,
        "KER-CSS-101"
    );
    assert_eq!(
        api.code("/validate", json!({"signature": signature, "data": "plain text"})).await,
        "KER-KMS-005"
    );
    assert_eq!(api.code("/sign", json!({"data": " "})).await, "KER-KMS-005");
}

#[tokio::test]
async fn bad_input_gets_mosips_codes_never_a_500() {
    let api = api();
    let data = b64url(PAYLOAD);
    for (path, request, expected) in [
        ("/jwtSign", json!({}), "KER-KMS-005"),
        ("/jwtSign", json!({"dataToSign": " "}), "KER-KMS-005"),
        ("/jwtSign", json!({"dataToSign": "not base64!"}), "KER-CRY-003"),
        ("/jwtSign", json!({"dataToSign": b64url(b"not json")}), "KER-JWS-103"),
        ("/jwtSign/v2", json!({"dataToSign": "c2lnbiByYXcgZGF0YQ=="}), "KER-JWS-103"),
        ("/jwsSign/v2", json!({"dataToSign": "c2lnbiByYXcgZGF0YQ==", "validateJson": true}), "KER-JWS-103"),
        (
            "/jwtSign",
            json!({"dataToSign": data, "applicationId": "REGISTRATION", "referenceId": "10001_110011"}),
            "KER-KMS-020",
        ),
        ("/jwtSign", json!({"dataToSign": data, "applicationId": "ROOT", "referenceId": ""}), "KER-KMS-020"),
        (
            "/jwtSign",
            json!({"dataToSign": data, "applicationId": "NO_SUCH_APP", "referenceId": ""}),
            "KER-JWS-108",
        ),
        ("/jwtSign", json!({"dataToSign": data, "applicationId": "  ", "referenceId": ""}), "KER-JWS-108"),
        ("/jwtSign", json!({"dataToSign": data, "applicationId": "RESIDENT"}), "KER-JWS-108"),
        (
            "/jwtSign",
            json!({"dataToSign": data, "applicationId": "PMS", "referenceId": "EC_SECP256R1_SIGN"}),
            "KER-KMS-012",
        ),
        ("/jwtSign", json!({"dataToSign": data, "applicationId": "bad app!"}), "KER-JWS-108"),
        ("/signV2", json!({"dataToSign": ""}), "KER-KMS-005"),
        (
            "/jwtSign/v2",
            json!({"dataToSign": data, "additionalHeaders": (0..33).map(|i| (format!("h{i}"), json!("v"))).collect::<Map<String, Value>>()}),
            "KER-KMS-005",
        ),
        (
            "/jwsSign/v2",
            json!({"dataToSign": data, "validateJson": true, "additionalHeaders": {"big": "x".repeat(1025)}}),
            "KER-KMS-005",
        ),
        ("/jwtVerify", json!({}), "KER-KMS-005"),
        ("/jwtVerify", json!({"jwtSignatureData": "abc"}), "KER-JWS-106"),
        ("/jwtVerify", json!({"jwtSignatureData": "a.b.c.d"}), "KER-JWS-106"),
        ("/jwtVerify", json!({"jwtSignatureData": "e30.e30.c2ln"}), "KER-JWS-106"),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.", b64url(br#"{"alg":"none"}"#))}),
            "KER-JWS-105",
        ),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.c2ln", b64url(br#"{"alg":"HS256"}"#))}),
            "KER-JWS-105",
        ),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.c2ln", b64url(br#"{"alg":"ES256"}"#))}),
            "KER-JWS-105",
        ),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.c2ln", b64url(br#"{"alg":"RS256","x5c":["!!"]}"#))}),
            "KER-JWS-106",
        ),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.c2ln", b64url(br#"{"alg":"RS256"}"#)), "certificateData": "not a pem"}),
            "KER-KMS-013",
        ),
        (
            "/jwtVerify",
            json!({"jwtSignatureData": format!("{}.e30.c2ln", b64url(br#"{"alg":"RS256"}"#)), "applicationId": "NO_SUCH_APP"}),
            "KER-KMS-002",
        ),
    ] {
        assert_eq!(api.code(path, request.clone()).await, expected, "{path} {request}");
    }

    // A token signed here, tampered: signatureValid false, never an error.
    let token = api.signed("/jwtSign", json!({"dataToSign": data, "includePayload": true})).await;
    let parts: Vec<&str> = token.split('.').collect();
    let other_payload = format!("{}.{}.{}", parts[0], b64url(br#"{"iss":"forged"}"#), parts[2]);
    let mut header = header_of(&token);
    header.insert("typ".into(), json!("JWT"));
    let other_header = format!("{}.{}.{}", b64url(&serde_json::to_vec(&header).unwrap()), parts[1], parts[2]);
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let other_signature = format!("{}.{}.{}", parts[0], parts[1], b64url(&signature));
    for forged in [other_payload, other_header, other_signature] {
        let out = api.verify("/jwtVerify", json!({"jwtSignatureData": forged})).await;
        assert_eq!(out["signatureValid"], false, "{forged}");
        assert_eq!(out["message"], "Validation Failed");
    }
    // Detached with the wrong actualData.
    let detached = api.signed("/jwtSign", json!({"dataToSign": data})).await;
    let out = api
        .verify("/jwtVerify", json!({"jwtSignatureData": detached, "actualData": b64url(br#"{"iss":"x"}"#)}))
        .await;
    assert_eq!(out["signatureValid"], false);
    // Another key's certificate: false.
    let registration = api.certificate("REGISTRATION", "").await;
    let out = api
        .verify("/jwtVerify", json!({"jwtSignatureData": detached, "actualData": data, "certificateData": registration.to_pem()}))
        .await;
    assert_eq!(out["signatureValid"], false);

    // Trust answers: without validateTrust, without a domain, and in a domain of no CA.
    let with_domain = api
        .verify("/jwtVerify", json!({"jwtSignatureData": detached, "actualData": data, "validateTrust": true, "domain": "DEVICE"}))
        .await;
    assert_eq!(with_domain["trustValid"], "TRUST_CERT_PATH_NOT_VALID", "DEVICE trusts no CA yet");
    let no_domain = api
        .verify(
            "/jwtVerify/v2",
            json!({"jwtSignatureData": detached, "actualData": data, "validateTrust": true}),
        )
        .await;
    assert_eq!(no_domain["trustValid"], "TRUST_NOT_VERIFIED_NO_DOMAIN");
}

#[tokio::test]
async fn roles_of_the_signature_endpoints() {
    let api = api();
    let data = b64url(PAYLOAD);
    for path in [
        "/jwtSign",
        "/jwtSign/v2",
        "/jwsSign",
        "/jwsSign/v2",
        "/jwtVerify",
        "/jwtVerify/v2",
        "/signV2",
        "/signRawData",
        "/sign",
        "/validate",
    ] {
        let body = wrap(json!({"dataToSign": data}));
        let (status, _) = api.call("POST", path, None, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = api.call("POST", path, Some(OUTSIDER), Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // CRYPTO_USER signs and verifies.
    let (status, body) =
        api.call("POST", "/jwtSign", Some(READER), Some(wrap(json!({"dataToSign": data})))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["errors"], Value::Null, "{body}");
}

/// `verify`: reads `{"certs": {name: PEM}, "cases": [{"token", "cert", "alg", "detached"}]}` and
/// checks each token with joserfc against its certificate's key (`detached`: the payload
/// bytes in hex for a detached token), then its `x5c` and `x5t#S256` against the certificate;
/// prints one line per case. `sign`: reads `[{"alg", "mode", "x5c"}]`, makes a key and a
/// self-signed certificate per algorithm with `cryptography`, signs PAYLOAD with joserfc
/// (`attached`, `detached` or `unencoded`), and prints `[{"token", "cert", "payload"}]`.
const JOSERFC: &str = r#"
import base64, datetime, hashlib, json, sys, warnings
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws
from joserfc.jws import JWSRegistry
from joserfc.jwk import import_key
from joserfc._rfc8812 import register_secp256k1

warnings.simplefilter("ignore")
register_secp256k1()
# Headers with a certificate chain in x5c are over joserfc's default 512 bytes.
JWSRegistry.max_header_length = 16384
KTY = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "ES256K": "EC", "EdDSA": "OKP"}

def b64url(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def b64d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def public_pem(key):
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

mode = sys.argv[1]
spec = json.load(sys.stdin)
if mode == "verify":
    for case in spec["cases"]:
        cert = x509.load_pem_x509_certificate(spec["certs"][case["cert"]].encode())
        key = import_key(public_pem(cert.public_key()), KTY[case["alg"]])
        detached = bytes.fromhex(case["detached"]) if case.get("detached") is not None else None
        obj = jws.deserialize_compact(case["token"], key, algorithms=[case["alg"]], payload=detached)
        header = obj.headers()
        assert header["alg"] == case["alg"], header
        der = cert.public_bytes(serialization.Encoding.DER)
        if "x5c" in header:
            assert base64.b64decode(header["x5c"][0]) == der, "x5c[0] is the certificate"
        if "x5t#S256" in header:
            assert header["x5t#S256"] == b64url(hashlib.sha256(der).digest()), "x5t#S256"
        print(case["alg"], "verified", sorted(header))
else:
    payload = sys.argv[2].encode()
    out = []
    for case in spec:
        alg = case["alg"]
        if alg in ("RS256", "PS256"):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            key = ec.generate_private_key(ec.SECP256K1() if alg == "ES256K" else ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "joserfc " + alg)])
        now = datetime.datetime.now(datetime.timezone.utc)
        digest = None if alg == "EdDSA" else hashes.SHA256()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30)).sign(key, digest))
        der = cert.public_bytes(serialization.Encoding.DER)
        private = import_key(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), KTY[alg])
        header = {"alg": alg, "typ": "JWT"}
        if case["x5c"]:
            header["x5c"] = [base64.b64encode(der).decode()]
        if case["mode"] == "unencoded":
            header["b64"] = False
            header["crit"] = ["b64"]
        token = jws.serialize_compact(header, payload, private, algorithms=[alg])
        if case["mode"] != "attached":
            token = jws.detach_content(token)
        out.append({"token": token, "cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
                    "payload": b64url(payload)})
    print(json.dumps(out))
"#;

/// Every algorithm and form we sign, verified by joserfc against the certificate
/// `getCertificate` returns, with `x5c` and `x5t#S256` checked against it too.
#[tokio::test]
async fn joserfc_verifies_what_we_sign() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let api = api();
    api.signing_keys("ID_REPO").await;
    let data = b64url(PAYLOAD);
    let hex: String = PAYLOAD.iter().map(|b| format!("{b:02x}")).collect();
    let mut certs = Map::new();
    let mut cases = Vec::new();
    // (app, ref, alg, also through /jwtSign, whose algorithm follows the key).
    let keys = [
        ("KERNEL", "SIGN", "RS256", true),
        ("KERNEL", "SIGN", "PS256", false),
        ("ID_REPO", "", "RS256", true),
        ("ID_REPO", "EC_SECP256R1_SIGN", "ES256", true),
        ("ID_REPO", "EC_SECP256K1_SIGN", "ES256K", true),
        ("ID_REPO", "ED25519_SIGN", "EdDSA", true),
    ];
    for (app, reference, alg, jwt) in keys {
        let name = format!("{app}/{reference}");
        certs.insert(name.clone(), json!(api.certificate(app, reference).await.to_pem()));
        let key = json!({"applicationId": app, "referenceId": reference, "dataToSign": data,
                         "includeCertificate": true, "includeCertHash": true});
        let with = |extra: Value| {
            let mut request = key.clone();
            request.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            request
        };
        let mut signed = Vec::new();
        if jwt {
            // jwtSign: attached and detached.
            signed.push((api.signed("/jwtSign", with(json!({"includePayload": true}))).await, false));
            signed.push((api.signed("/jwtSign", with(json!({}))).await, true));
        }
        let algorithm = json!({"validateJson": true, "signAlgorithm": alg});
        let mut jws = algorithm.clone();
        jws.as_object_mut().unwrap().insert("b64JWSHeaderParam".into(), json!(true));
        jws.as_object_mut().unwrap().insert("includePayload".into(), json!(true));
        // jwsSign: attached b64, and the RFC 7797 unencoded form (detached; attached too).
        signed.push((api.signed("/jwsSign", with(jws)).await, false));
        signed.push((api.signed("/jwsSign/v2", with(algorithm.clone())).await, true));
        let mut attached_raw = algorithm.clone();
        attached_raw.as_object_mut().unwrap().insert("includePayload".into(), json!(true));
        signed.push((api.signed("/jwsSign", with(attached_raw)).await, false));
        for (token, detached) in signed {
            assert_eq!(header_of(&token)["alg"], alg, "{name}");
            cases.push(
                json!({"token": token, "cert": name, "alg": alg, "detached": detached.then_some(&hex)}),
            );
        }
    }
    let out = python::run(
        JOSERFC,
        &["verify"],
        &serde_json::to_vec(&json!({"certs": certs, "cases": cases})).unwrap(),
    );
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" verified ")).count(), cases.len());
}

/// Tokens joserfc signs (every algorithm; attached, detached, unencoded; the certificate in
/// `x5c` or in `certificateData`) verify through `/jwtVerify`; tampered ones do not.
#[tokio::test]
async fn we_verify_what_joserfc_signs() {
    if !python::ready(&["cryptography", "joserfc"]) {
        return;
    }
    let api = api();
    let mut spec = Vec::new();
    for alg in ["RS256", "PS256", "ES256", "ES256K", "EdDSA"] {
        for mode in ["attached", "detached", "unencoded"] {
            for x5c in [true, false] {
                spec.push(json!({"alg": alg, "mode": mode, "x5c": x5c}));
            }
        }
    }
    let payload = std::str::from_utf8(PAYLOAD).unwrap();
    let out = python::run(JOSERFC, &["sign", payload], &serde_json::to_vec(&spec).unwrap());
    let tokens: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(tokens.len(), spec.len());
    for (case, signed) in spec.iter().zip(&tokens) {
        let token = signed["token"].as_str().unwrap();
        let mut request = json!({"jwtSignatureData": token});
        let fields = request.as_object_mut().unwrap();
        match case["mode"].as_str().unwrap() {
            "detached" => {
                fields.insert("actualData".into(), signed["payload"].clone());
            }
            "unencoded" => {
                fields.insert("actualData".into(), json!(payload));
            }
            _ => {}
        }
        if case["x5c"] == false {
            fields.insert("certificateData".into(), signed["cert"].clone());
        }
        for path in ["/jwtVerify", "/jwtVerify/v2"] {
            let out = api.verify(path, request.clone()).await;
            assert_eq!(out["signatureValid"], true, "{path} {case}: {out}");
        }
        // The same token over other data does not verify.
        let fields = request.as_object_mut().unwrap();
        if case["mode"] == "attached" {
            let parts: Vec<&str> = token.split('.').collect();
            fields.insert(
                "jwtSignatureData".into(),
                json!(format!("{}.{}.{}", parts[0], b64url(b"{}"), parts[2])),
            );
        } else {
            let other = if case["mode"] == "unencoded" { json!("{}") } else { json!(b64url(b"{}")) };
            fields.insert("actualData".into(), other);
        }
        assert_eq!(api.verify("/jwtVerify", request).await["signatureValid"], false, "{case}");
    }
}
