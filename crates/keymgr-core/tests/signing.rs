//! Signing and verification end to end on SQLite with the file keystore, and again on a
//! SoftHSM2 token (`signing_on_softhsm` re-runs this binary with the token): MOSIP's key
//! choice and error codes, the Ed25519 keys kept in the database, JWS/JWT headers, raw
//! signatures, `/jwtVerify`'s refusals, and the legacy `/sign` and `/validate`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keymgr_core::{
    CertificateInHeader, JwsSignRequest, KeyManager, KeyManagerConfig, KeymgrError, ManualClock,
    SignatureEncoding, TrustStatus, VerifyRequest,
};
use keymgr_crypto::issue::DistinguishedNameSpec;
use keymgr_crypto::{AsymmetricKind, SignAlgorithm};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AccessAllowed, AppId, RefId, UtcTime};
use keymgr_test_support::softhsm;
use serde_json::Value;
use time::Duration;

/// Set in the child process that runs the suite on a SoftHSM2 token.
const ON_SOFTHSM: &str = "KEYMGR_SIGNING_ON_SOFTHSM";

/// Every other test of this file again with the keys in a SoftHSM2 token: RS256 and PS256 with
/// `KERNEL`/`SIGN` and the masters, ES256 and ES256K with the EC keys, all inside the token;
/// Ed25519 keys unwrapped by the master in the token.
#[test]
fn signing_on_softhsm() {
    if std::env::var_os(ON_SOFTHSM).is_some() || !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("signing");
    let out = token.run_current_exe(ON_SOFTHSM, &["--test-threads=1", "--skip", "signing_on_softhsm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the signing suite failed on SoftHSM2");
    assert!(text.contains("test result: ok") && !text.contains(" 0 passed"), "the suite ran");
}

struct Setup {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    km: KeyManager,
}

fn t0() -> UtcTime {
    UtcTime::parse_lenient("2026-01-01T00:00:00Z").unwrap()
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> = if std::env::var_os(ON_SOFTHSM).is_some() {
        Arc::new(
            Pkcs11Keystore::new(Pkcs11Config {
                module: softhsm::MODULE.into(),
                token_label: "signing".into(),
                pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
                pool_size: 4,
            })
            .unwrap(),
        )
    } else {
        Arc::new(
            FileKeystore::open_or_create(
                dir.path().join("keys.kmks"),
                b"pin",
                KdfParams::insecure_for_tests(),
            )
            .unwrap(),
        )
    };
    let url = dir.path().join("keymgr.db").to_string_lossy().into_owned();
    let clock = Arc::new(ManualClock::new(t0()));
    let km = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore,
        clock.clone(),
        KeyManagerConfig::default(),
    );
    km.run_keygen(&[]).unwrap();
    for r in ["EC_SECP256R1_SIGN", "EC_SECP256K1_SIGN", "ED25519_SIGN"] {
        km.generate_ec_sign_key(&app("ID_REPO"), &reference(r), false, &DistinguishedNameSpec::default())
            .unwrap();
    }
    Setup { _dir: dir, clock, km }
}

fn app(a: &str) -> AppId {
    AppId::new(a).unwrap()
}

fn reference(r: &str) -> RefId {
    RefId::new(r).unwrap()
}

fn code<T>(r: Result<T, KeymgrError>) -> Result<T, &'static str> {
    r.map_err(|e| e.code())
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header_of(token: &str) -> serde_json::Map<String, Value> {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

const PAYLOAD: &[u8] = br#"{"iss":"did:web:mosip.io","sub":"1234","n":1.5}"#;

fn request<'a>(a: Option<&'a AppId>, r: Option<&'a RefId>, data: &'a str) -> JwsSignRequest<'a> {
    JwsSignRequest { app: a, reference: r, user: "ida", data, ..JwsSignRequest::default() }
}

fn verify(km: &KeyManager, token: &str, actual: Option<&str>) -> Result<bool, &'static str> {
    code(km.jwt_verify(&VerifyRequest { token, actual_data: actual, ..VerifyRequest::default() }))
        .map(|v| v.signature_valid)
}

#[test]
fn key_choice_follows_mosip_with_its_codes() {
    let s = setup();
    let km = &s.km;
    let data = b64url(PAYLOAD);
    let sign = |a: Option<&str>, r: Option<&str>| {
        let (a, r) = (a.map(app), r.map(reference));
        code(km.jwt_sign(&request(a.as_ref(), r.as_ref(), &data))).map(|t| header_of(&t)["alg"].clone())
    };
    assert_eq!(sign(None, None), Ok(Value::from("RS256")), "blank application: KERNEL/SIGN");
    assert_eq!(sign(Some("KERNEL"), Some("SIGN")), Ok(Value::from("RS256")));
    assert_eq!(sign(Some("REGISTRATION"), None), Ok(Value::from("RS256")), "blank reference: the master");
    assert_eq!(sign(Some("ID_REPO"), Some("EC_SECP256R1_SIGN")), Ok(Value::from("ES256")));
    assert_eq!(sign(Some("ID_REPO"), Some("EC_SECP256K1_SIGN")), Ok(Value::from("ES256K")));
    assert_eq!(sign(Some("ID_REPO"), Some("ED25519_SIGN")), Ok(Value::from("EdDSA")));
    assert_eq!(sign(Some("ROOT"), None), Err("KER-KMS-020"), "ROOT signs certificates only");
    assert_eq!(sign(Some("ROOT"), Some("ED25519_SIGN")), Err("KER-KMS-020"), "whatever the reference");
    assert_eq!(sign(Some("REGISTRATION"), Some("10001_110011")), Err("KER-KMS-020"), "a base key");
    assert_eq!(sign(Some("RESIDENT"), Some("EC_SECP256R1_SIGN")), Err("KER-KMS-012"), "never generated");
    assert_eq!(sign(Some("NO_SUCH_APP"), None), Err("KER-JWS-108"), "no policy: nobody may sign");

    // access_allowed: the caller must be listed (KER-JWS-108); a blank application is open.
    let mut policy = km.database().policy(&app("REGISTRATION")).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Users(vec!["regproc".into()]);
    km.set_policy(&policy).unwrap();
    assert_eq!(sign(Some("REGISTRATION"), None), Err("KER-JWS-108"));
    let registration = app("REGISTRATION");
    let listed = JwsSignRequest { user: "RegProc", ..request(Some(&registration), None, &data) };
    assert!(km.jwt_sign(&listed).is_ok());
    assert!(km.jwt_sign(&request(None, None, &data)).is_ok());

    // Bad data: blank is KER-JWS-102, not base64 KER-CRY-003 (as MOSIP's handler answers),
    // not JSON KER-JWS-103.
    assert_eq!(code(km.jwt_sign(&request(None, None, " "))).map(drop), Err("KER-JWS-102"));
    assert_eq!(code(km.jwt_sign(&request(None, None, "!!"))).map(drop), Err("KER-CRY-003"));
    assert_eq!(code(km.jwt_sign(&request(None, None, &b64url(b"not json")))).map(drop), Err("KER-JWS-103"));
    let jws = |validate_json| JwsSignRequest { validate_json, ..request(None, None, "bm90IGpzb24") };
    assert_eq!(code(km.jws_sign(&jws(true))).map(drop), Err("KER-JWS-103"));
    assert!(km.jws_sign(&jws(false)).is_ok(), "validateJson false signs any bytes");
}

#[test]
fn ed25519_keys_live_in_the_database_wrapped_by_the_master() {
    let s = setup();
    let km = &s.km;
    let (a, r) = (app("ID_REPO"), reference("ED25519_SIGN"));
    let info = km.get_certificate(&a, &r).unwrap();
    let row = km.database().stored_key(&info.alias).unwrap().expect("a key_store row");
    let master = km.get_certificate(&a, &reference("")).unwrap();
    assert_eq!(row.master_alias, master.alias, "wrapped by the application's master");
    assert!(!row.private_key.contains("PRIVATE"), "never in clear");
    assert!(info.certificate.is_signed_by(&master.certificate), "certified by the master");
    assert!(!info.certificate.can_certify(), "a signing key is no CA");
    assert_eq!(keymgr_crypto::spki::key_kind(info.certificate.spki_der()), Some(AsymmetricKind::Ed25519));

    // Not made lazily by getCertificate (KER-KMS-016), not revocable, never decrypts.
    assert_eq!(code(km.get_certificate(&app("RESIDENT"), &r)).map(drop), Err("KER-KMS-016"));
    assert_eq!(code(km.revoke_key(&a, &r)), Err("KER-KMS-021"));
    assert_eq!(code(km.encrypt(&a, &r, b"x", None, None)).map(drop), Err("KER-CRY-011"));

    // force makes a new key; signing after every key expired makes a successor (MOSIP).
    let forced = km.generate_ec_sign_key(&a, &r, true, &DistinguishedNameSpec::default()).unwrap();
    assert_ne!(forced.alias, info.alias);
    s.clock.advance(Duration::days(3 * 366));
    km.run_keygen(&[]).unwrap();
    let data = b64url(PAYLOAD);
    let token = km.jwt_sign(&request(Some(&a), Some(&r), &data)).unwrap();
    let now = km.get_certificate(&a, &r).unwrap();
    assert_ne!(now.alias, forced.alias, "a successor was made");
    let verified = km.jwt_verify(&VerifyRequest {
        token: &token,
        actual_data: Some(&data),
        app: Some(&a),
        reference: Some(&r),
        ..VerifyRequest::default()
    });
    assert!(verified.unwrap().signature_valid);
}

#[test]
fn jwt_headers_kid_and_certificates() {
    let s = setup();
    let km = &s.km;
    let data = b64url(PAYLOAD);
    for r in ["EC_SECP256R1_SIGN", "EC_SECP256K1_SIGN", "ED25519_SIGN"] {
        let (a, r) = (app("ID_REPO"), reference(r));
        let cert = km.get_certificate(&a, &r).unwrap().certificate;
        let key_id = km.get_all_certificates(&a, &r).unwrap().last().unwrap().key_id.clone().unwrap();
        let signed = JwsSignRequest {
            certificate: CertificateInHeader::Leaf,
            include_cert_hash: true,
            certificate_url: Some("https://keys.example/cert.pem"),
            include_payload: true,
            ..request(Some(&a), Some(&r), &data)
        };
        let token = km.jwt_sign(&signed).unwrap();
        let header = header_of(&token);
        let names: Vec<&str> = header.keys().map(String::as_str).collect();
        assert_eq!(names.len(), 5, "{names:?}");
        assert_eq!(header["x5c"][0], STANDARD.encode(cert.der()), "x5c is the getCertificate DER");
        assert_eq!(header["x5t#S256"], b64url(&keymgr_crypto::sha256(cert.der())));
        assert_eq!(header["x5u"], "https://keys.example/cert.pem");
        assert_eq!(header["kid"], Value::from(key_id.clone()), "kid is MOSIP's key id");
        assert_eq!(verify(km, &token, None), Ok(true), "{r}");
        // The header is the first part in MOSIP's order.
        let raw =
            String::from_utf8(URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert!(
            raw.starts_with(r#"{"alg":"#)
                && raw.find("x5c") < raw.find("x5t#S256")
                && raw.find("x5u") < raw.find("kid")
        );

        // v2: the chain in x5c, additionalHeaders, and the kid prefix with one '#'.
        let extra = vec![
            ("kid".to_owned(), Value::from("did:web:mosip.io")),
            ("typ".to_owned(), Value::from("vc+jwt")),
            ("alg".to_owned(), Value::from("none")),
            ("iat".to_owned(), Value::from("1700000000")),
        ];
        let v2 = JwsSignRequest {
            certificate: CertificateInHeader::Chain,
            additional_headers: &extra,
            ..request(Some(&a), Some(&r), &data)
        };
        let token = km.jwt_sign(&v2).unwrap();
        let header = header_of(&token);
        let chain = header["x5c"].as_array().unwrap();
        assert_eq!(chain.len(), if r.as_str() == "ED25519_SIGN" { 3 } else { 2 }, "leaf .. ROOT");
        assert_eq!(header["kid"], Value::from(format!("did:web:mosip.io#{key_id}")));
        assert_eq!(header["typ"], "vc+jwt");
        assert_ne!(header["alg"], "none", "registered names are the key manager's");
        assert_eq!(header["iat"], "1700000000");
        assert!(token.contains(".."), "detached by default");
        assert_eq!(verify(km, &token, Some(&data)), Ok(true));
        let hashed = [("kid".to_owned(), Value::from("did:web:mosip.io#"))];
        let once = JwsSignRequest { additional_headers: &hashed, ..request(Some(&a), Some(&r), &data) };
        let kid = header_of(&km.jwt_sign(&once).unwrap())["kid"].clone();
        assert_eq!(kid, Value::from(format!("did:web:mosip.io#{key_id}")), "no '##'");
    }
}

#[test]
fn jws_algorithms_unencoded_payloads_and_mismatches() {
    let s = setup();
    let km = &s.km;
    let data = b64url(PAYLOAD);
    let jws = |a: Option<&AppId>, r: Option<&RefId>, alg: Option<&'static str>, b64: bool| {
        let req = JwsSignRequest { algorithm: alg, b64, validate_json: true, ..request(a, r, &data) };
        code(km.jws_sign(&req))
    };
    // Default PS256 on RSA keys, the key's own on the others; RS256 when asked.
    let token = jws(None, None, None, false).unwrap();
    let header = header_of(&token);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["b64"], false);
    assert_eq!(header["crit"], serde_json::json!(["b64"]));
    assert_eq!(
        verify(km, &token, Some(std::str::from_utf8(PAYLOAD).unwrap())),
        Ok(true),
        "actualData is the raw payload"
    );
    assert_eq!(verify(km, &token, Some(r#"{"iss":"forged"}"#)), Ok(false));
    assert_eq!(header_of(&jws(None, None, Some("RS256"), true).unwrap())["alg"], "RS256");
    let k1 = (app("ID_REPO"), reference("EC_SECP256K1_SIGN"));
    let token = jws(Some(&k1.0), Some(&k1.1), None, true).unwrap();
    assert_eq!(header_of(&token)["alg"], "ES256K");
    let sig = URL_SAFE_NO_PAD.decode(token.rsplit('.').next().unwrap()).unwrap();
    assert_eq!(sig.len(), 64, "r || s, not DER");
    let with_key = |app: Option<&AppId>, reference: Option<&RefId>| {
        code(km.jwt_verify(&VerifyRequest {
            token: &token,
            actual_data: Some(&data),
            app,
            reference,
            ..VerifyRequest::default()
        }))
        .map(|v| v.signature_valid)
    };
    assert_eq!(with_key(Some(&k1.0), Some(&k1.1)), Ok(true));
    assert_eq!(with_key(None, None), Err("KER-JWS-105"), "an ES256K token against the RSA KERNEL/SIGN key");
    // An algorithm that does not suit the key is KER-JWS-104; unknown names are PS256 (MOSIP).
    assert_eq!(jws(None, None, Some("ES256"), true).map(drop), Err("KER-JWS-104"));
    assert_eq!(header_of(&jws(None, None, Some("HS256"), true).unwrap())["alg"], "PS256");
    // An attached unencoded payload is the payload itself (RFC 7797); one with '.' cannot be.
    let small = b64url(br#"{"a":1}"#);
    let attached =
        JwsSignRequest { include_payload: true, validate_json: true, ..request(None, None, &small) };
    let token = km.jws_sign(&attached).unwrap();
    assert_eq!(token.split('.').nth(1), Some(r#"{"a":1}"#));
    assert_eq!(verify(km, &token, None), Ok(true));
    let dotted = JwsSignRequest { include_payload: true, ..request(None, None, &data) };
    assert_eq!(code(km.jws_sign(&dotted)).map(drop), Err("KER-JWS-102"));
}

#[test]
fn raw_signatures_and_their_encodings() {
    let s = setup();
    let km = &s.km;
    let message = b"raw bytes to sign";
    let data = b64url(message);
    for (r, alg) in [
        ("EC_SECP256R1_SIGN", SignAlgorithm::Es256),
        ("EC_SECP256K1_SIGN", SignAlgorithm::Es256K),
        ("ED25519_SIGN", SignAlgorithm::EdDsa),
    ] {
        let (a, r) = (app("ID_REPO"), reference(r));
        let raw = km.sign_raw(Some(&a), Some(&r), "ida", &data, None, Some("base58btc")).unwrap();
        assert!(raw.signature.starts_with('z'));
        let sig = keymgr_model::base58::decode(&raw.signature[1..]).unwrap();
        keymgr_crypto::verify(alg, raw.certificate.spki_der(), message, &sig).expect("the signature holds");
        assert_eq!(raw.algorithm.sign_algorithm(), alg);
        assert_eq!(raw.key_id, km.get_all_certificates(&a, &r).unwrap().last().unwrap().key_id);
        let b64 = km.sign_raw(Some(&a), Some(&r), "ida", &data, None, Some("base64url")).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(&b64.signature).unwrap();
        keymgr_crypto::verify(alg, b64.certificate.spki_der(), message, &sig).unwrap();
    }
    // KERNEL/SIGN is a signing key (PS256 by default); a master certifies keys and never signs
    // caller bytes raw, nor does ROOT.
    let raw = km.sign_raw(None, None, "ida", &data, None, Some("base64url")).unwrap();
    let sig = URL_SAFE_NO_PAD.decode(&raw.signature).unwrap();
    keymgr_crypto::verify(SignAlgorithm::Ps256, raw.certificate.spki_der(), message, &sig).unwrap();
    let master = km.sign_raw(Some(&app("REGISTRATION")), None, "ida", &data, None, Some("base58btc"));
    assert_eq!(code(master).map(drop), Err("KER-KMS-020"));
    let root = km.sign_raw(Some(&app("ROOT")), None, "ida", &data, None, Some("base58btc"));
    assert_eq!(code(root).map(drop), Err("KER-KMS-020"));
    assert_eq!(code(SignatureEncoding::parse(Some("base64"))).map(drop), Err("KER-KMS-036"));
    assert_eq!(
        code(km.sign_raw(None, None, "ida", "", None, Some("base58btc"))).map(drop),
        Err("KER-JWS-102")
    );
}

#[test]
fn verification_refusals_and_trust_answers() {
    let s = setup();
    let km = &s.km;
    let data = b64url(PAYLOAD);
    let token = km.jwt_sign(&JwsSignRequest { include_payload: true, ..request(None, None, &data) }).unwrap();
    assert_eq!(verify(km, &token, None), Ok(true));
    let parts: Vec<&str> = token.split('.').collect();

    // Tampered payload, header and signature.
    let other = b64url(br#"{"iss":"x"}"#);
    assert_eq!(verify(km, &format!("{}.{other}.{}", parts[0], parts[2]), None), Ok(false));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    assert_eq!(verify(km, &format!("{}.{}.{}", parts[0], parts[1], b64url(&sig)), None), Ok(false));
    let header = b64url(br#"{"alg":"RS256","kid":"x"}"#);
    assert_eq!(verify(km, &format!("{header}.{}.{}", parts[1], parts[2]), None), Ok(false));

    // A key that did not sign: a certificate given in the request.
    let master = km.get_certificate(&app("REGISTRATION"), &reference("")).unwrap().certificate;
    let with_cert = |t: &str, pem: &str| {
        code(km.jwt_verify(&VerifyRequest {
            token: t,
            certificate_pem: Some(pem),
            ..VerifyRequest::default()
        }))
        .map(|v| v.signature_valid)
    };
    assert_eq!(with_cert(&token, &master.to_pem()), Ok(false));

    // alg none, HS256 with the public key as the secret, ES256 in DER, truncated parts.
    let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), parts[1]);
    assert_eq!(verify(km, &none, None), Err("KER-JWS-105"));
    // An empty or garbled signature part is a signature that does not hold.
    assert_eq!(verify(km, &format!("{}.{}.", parts[0], parts[1]), None), Ok(false));
    assert_eq!(verify(km, &format!("{}.{}.!!", parts[0], parts[1]), None), Ok(false));
    let none_signed = format!("{}.{}.{}", b64url(br#"{"alg":"none"}"#), parts[1], parts[2]);
    assert_eq!(verify(km, &none_signed, None), Err("KER-JWS-105"));
    let hs_input = format!("{}.{}", b64url(br#"{"alg":"HS256"}"#), parts[1]);
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, master.spki_der()),
        hs_input.as_bytes(),
    );
    assert_eq!(verify(km, &format!("{hs_input}.{}", b64url(mac.as_ref())), None), Err("KER-JWS-105"));
    let (a, r) = (app("ID_REPO"), reference("EC_SECP256R1_SIGN"));
    let es =
        km.jwt_sign(&JwsSignRequest { include_payload: true, ..request(Some(&a), Some(&r), &data) }).unwrap();
    let es_parts: Vec<&str> = es.split('.').collect();
    let rs = URL_SAFE_NO_PAD.decode(es_parts[2]).unwrap();
    let der = der_ecdsa(&rs);
    let es_cert = km.get_certificate(&a, &r).unwrap().certificate.to_pem();
    assert_eq!(with_cert(&es, &es_cert), Ok(true));
    assert_eq!(with_cert(&format!("{}.{}.{}", es_parts[0], es_parts[1], b64url(&der)), &es_cert), Ok(false));
    for bad in [parts[0].to_owned(), format!("{}.{}", parts[0], parts[1]), format!("{token}.x"), "e30".into()]
    {
        assert!(matches!(verify(km, &bad, None), Err("KER-JWS-105" | "KER-JWS-106")), "{bad}");
    }
    assert_eq!(verify(km, " ", None), Err("KER-JWS-102"));
    assert_eq!(verify(km, &format!("!!.{}.{}", parts[1], parts[2]), None), Err("KER-JWS-106"));

    // An actualData beside a token of four parts, or beside another attached payload: 106.
    let four = format!("{}.{}.{}.{}", parts[0], parts[1], parts[1], parts[2]);
    assert_eq!(verify(km, &four, Some(parts[1])), Err("KER-JWS-106"));
    assert_eq!(verify(km, &token, Some(&b64url(br#"{"other":1}"#))), Err("KER-JWS-106"));
    assert_eq!(verify(km, &token, Some(parts[1])), Ok(true), "the same payload attached and given");

    // Certificates from x5c; an expired certificate is KER-JWS-107.
    let with_x5c = km
        .jwt_sign(&JwsSignRequest {
            certificate: CertificateInHeader::Leaf,
            include_payload: true,
            ..request(None, None, &data)
        })
        .unwrap();
    // A caller who names a certificate gets that one: a token bringing another in x5c is 106.
    assert_eq!(with_cert(&with_x5c, &master.to_pem()), Err("KER-JWS-106"));
    let kernel = km.get_certificate(&app("KERNEL"), &reference("SIGN")).unwrap().certificate;
    assert_eq!(with_cert(&with_x5c, &kernel.to_pem()), Ok(true));
    // x5t#S256 must be the thumbprint of the certificate that verifies.
    let hashed = km
        .jwt_sign(&JwsSignRequest {
            include_cert_hash: true,
            include_payload: true,
            ..request(None, None, &data)
        })
        .unwrap();
    assert_eq!(verify(km, &hashed, None), Ok(true));
    assert_eq!(with_cert(&hashed, &master.to_pem()), Err("KER-JWS-106"));
    let trust = |validate_trust, domain| {
        km.jwt_verify(&VerifyRequest { token: &with_x5c, validate_trust, domain, ..VerifyRequest::default() })
            .unwrap()
            .trust
    };
    assert_eq!(trust(false, Some("DEVICE")), TrustStatus::NotVerified);
    assert_eq!(trust(true, None), TrustStatus::NotVerifiedNoDomain);
    assert_eq!(trust(true, Some("DEVICE")), TrustStatus::PathNotValid, "DEVICE trusts no CA yet");
    // Once the platform's ROOT is a CA of the domain, KERNEL/SIGN's certificate has a path.
    let root = km.get_certificate(&app("ROOT"), &reference("")).unwrap().certificate;
    km.upload_ca_certificate(&root.to_pem(), "device").unwrap();
    assert_eq!(trust(true, Some("DEVICE")), TrustStatus::PathValid);
    assert_eq!(
        code(km.jwt_verify(&VerifyRequest {
            token: &with_x5c,
            validate_trust: true,
            domain: Some("NOPE"),
            ..VerifyRequest::default()
        }))
        .map(|v| v.trust),
        Err("KER-PCM-011")
    );
    s.clock.advance(Duration::days(20 * 366));
    assert_eq!(verify(km, &with_x5c, None), Err("KER-JWS-107"));
}

/// An ECDSA `r || s` signature re-encoded as DER, as a careless signer would send it.
fn der_ecdsa(rs: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        let mut v = if x.first().is_some_and(|b| b & 0x80 != 0) { vec![0] } else { vec![] };
        v.extend(x);
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&rs[..32]), int(&rs[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[test]
fn legacy_sign_and_validate_across_a_rotation() {
    let s = setup();
    let km = &s.km;
    let signature = km.sign_legacy("legacy data").unwrap();
    assert!(signature.contains(".."), "a detached JWS");
    assert!(!header_of(&signature).contains_key("kid"));
    let signed_at = km.now();
    assert!(km.validate_legacy(&signature, "legacy data", signed_at).is_ok());
    assert_eq!(code(km.validate_legacy(&signature, "other data", signed_at)), Err("KER-CSS-101"));
    assert_eq!(code(km.validate_legacy("not.a.jws", "legacy data", signed_at)), Err("KER-CSS-101"));
    assert_eq!(code(km.sign_legacy("")).map(drop), Err("KER-KMS-005"));

    // A new KERNEL/SIGN key: the old signature still validates for its time (MOSIP only tries
    // the current key).
    s.clock.advance(Duration::days(1));
    km.generate_master_key(&app("KERNEL"), &reference("SIGN"), true).unwrap();
    assert!(km.validate_legacy(&signature, "legacy data", signed_at).is_ok());
    let fresh = km.sign_legacy("legacy data").unwrap();
    assert!(km.validate_legacy(&fresh, "legacy data", km.now()).is_ok());
}
