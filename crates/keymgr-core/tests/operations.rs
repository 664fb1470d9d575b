//! The key manager's certificate and secret operations on the embedded backends: chains and
//! PKCS#7, CSRs, installing a CA-signed certificate, other domains' certificates, listing,
//! HSM symmetric keys, PIN encryption and the Argon2 hash, each with MOSIP's error codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use keymgr_core::{Clock, KeyManager, KeyManagerConfig, KeymgrError, ManualClock, SymmetricKeyStatus};
use keymgr_crypto::issue::DistinguishedNameSpec;
use keymgr_crypto::password::Argon2Params;
use keymgr_crypto::{AsymmetricKind, SigningKey};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_model::{AppId, RefId, UtcTime};
use keymgr_test_support::ca::OutsideCa;
use time::Duration;
use x509_parser::prelude::FromDer;

struct Setup {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    km: KeyManager,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("keys.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let url = dir.path().join("keymgr.db").to_string_lossy().into_owned();
    let clock = Arc::new(ManualClock::new(UtcTime::parse_lenient("2026-01-01T00:00:00Z").unwrap()));
    let config = KeyManagerConfig {
        argon2: Argon2Params { iterations: 2, memory_kib: 64, parallelism: 1 },
        pin_kdf_iterations: 1000,
        ..KeyManagerConfig::default()
    };
    let km = KeyManager::new(Database::connect(&url, 4).unwrap(), keystore, clock.clone(), config);
    km.run_keygen(&[]).unwrap();
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

#[test]
fn chain_is_base_master_root_and_pkcs7_reads_in_openssl() {
    let s = setup();
    let chain = s.km.get_certificate_chain(&app("REGISTRATION"), &reference("10001_110011")).unwrap();
    assert_eq!(chain.len(), 3);
    assert!(
        chain[0].is_signed_by(&chain[1])
            && chain[1].is_signed_by(&chain[2])
            && chain[2].is_signed_by(&chain[2])
    );
    assert!(chain[2].subject().ends_with("(ROOT)"));
    let master_chain = s.km.get_certificate_chain(&app("REGISTRATION"), &reference("")).unwrap();
    assert_eq!(master_chain.len(), 2);

    let pem = s.km.certificate_chain_pem(&app("REGISTRATION"), &reference("10001_110011")).unwrap();
    let mut child = Command::new("openssl")
        .args(["pkcs7", "-print_certs", "-noout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the openssl command-line tool is needed to check PKCS#7 independently");
    child.stdin.take().unwrap().write_all(pem.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("subject=").count(), 3, "{text}");
    assert!(text.contains("REGISTRATION-10001_110011"), "{text}");
    // Strict DER: Python's cryptography reads it without a warning (an unsorted SET was one).
    if keymgr_test_support::python::ready(&["cryptography"]) {
        let script = "import sys, warnings\nwarnings.simplefilter('error')\n\
                      from cryptography.hazmat.primitives.serialization import pkcs7\n\
                      print(len(pkcs7.load_pem_pkcs7_certificates(sys.stdin.buffer.read())))";
        let out = keymgr_test_support::python::run(script, &[], pem.as_bytes());
        assert_eq!(String::from_utf8(out).unwrap().trim(), "3");
    }
}

#[test]
fn csr_for_base_and_master_keys() {
    let s = setup();
    for r in ["10001_110011", ""] {
        let current = s.km.get_certificate(&app("REGISTRATION"), &reference(r)).unwrap();
        let subject = DistinguishedNameSpec { common_name: "Registration CSR".into(), ..Default::default() };
        let csr = s.km.generate_csr(&app("REGISTRATION"), &reference(r), &subject).unwrap();
        let der = keymgr_crypto::pem::decode_first(csr.csr_pem.as_bytes(), &["CERTIFICATE REQUEST"]).unwrap();
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        parsed.verify_signature().expect("signed by the key it asks a certificate for");
        assert_eq!(parsed.certification_request_info.subject_pki.raw, current.certificate.spki_der());
        let name = parsed.certification_request_info.subject.to_string();
        assert!(
            name.ends_with("CN=Registration CSR") && name.contains("O=IITB"),
            "defaults fill the rest: {name}"
        );
        assert_eq!(csr.expires_at, current.certificate.not_after());
    }
    assert_eq!(
        code(s.km.generate_csr(
            &app("KERNEL"),
            &reference("IDENTITY_CACHE"),
            &DistinguishedNameSpec::default()
        ))
        .map(drop),
        Err("KER-KMS-022")
    );
}

#[test]
fn upload_certificate_installs_a_ca_signed_certificate_for_the_same_key() {
    let s = setup();
    let now = s.clock.now();
    let ca = OutsideCa::new(now);
    let (a, r) = (app("REGISTRATION"), reference("10001_110011"));
    let before = s.km.get_certificate(&a, &r).unwrap();

    let signed = ca.certify(before.certificate.spki_der(), "REGISTRATION-10001_110011", now);
    s.km.upload_certificate(&a, &r, &signed.to_pem()).unwrap();
    let after = s.km.get_certificate(&a, &r).unwrap();
    assert_eq!(after.alias, before.alias, "same key");
    assert_eq!(after.certificate.der(), signed.der());
    assert_eq!(after.expires_at, signed.not_after());

    // Packets sealed to the new certificate open (same key, new thumbprint).
    let text = s.km.encrypt(&a, &r, b"packet", None, None).unwrap();
    assert_eq!(&*s.km.decrypt(&a, &r, text.as_bytes(), None, None, "any").unwrap(), b"packet");

    // Another key's certificate, and junk.
    let other = SigningKey::generate(AsymmetricKind::Rsa2048).unwrap();
    let wrong = ca.certify(&other.public_key_spki().unwrap(), "x", now);
    assert_eq!(code(s.km.upload_certificate(&a, &r, &wrong.to_pem())), Err("KER-KMS-014"));
    assert_eq!(
        code(s.km.upload_certificate(
            &a,
            &r,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )),
        Err("KER-KMS-013")
    );
    assert_eq!(code(s.km.upload_certificate(&a, &r, " ")), Err("KER-KMS-005"));

    // A master in the HSM takes one too.
    let master = s.km.get_certificate(&a, &reference("")).unwrap();
    let signed_master = ca.certify(master.certificate.spki_der(), "REGISTRATION master", now);
    s.km.upload_certificate(&a, &reference(""), &signed_master.to_pem()).unwrap();
    assert_eq!(s.km.get_certificate(&a, &reference("")).unwrap().certificate.der(), signed_master.der());
}

#[test]
fn other_domain_certificates() {
    let s = setup();
    let now = s.clock.now();
    let ca = OutsideCa::new(now);
    let partner = SigningKey::generate(AsymmetricKind::Rsa2048).unwrap();
    let first = ca.certify(&partner.public_key_spki().unwrap(), "partner-1", now);
    let (a, r) = (app("PARTNER"), reference("mpartner-default-auth"));

    s.km.upload_other_domain_certificate(&a, &r, &first.to_pem()).unwrap();
    assert_eq!(s.km.get_certificate(&a, &r).unwrap().certificate.der(), first.der());
    assert_eq!(code(s.km.upload_other_domain_certificate(&a, &r, &first.to_pem())), Err("KER-KMS-035"));

    // Sealing to a partner works; PARTNER has no policy, so nobody may decrypt for it.
    let text = s.km.encrypt(&a, &r, b"for the partner", None, None).unwrap();
    assert_eq!(code(s.km.decrypt(&a, &r, text.as_bytes(), None, None, "any")).map(drop), Err("KER-CRY-012"));
    // Under an application that may decrypt, a certificate without a private key is KER-KMS-018.
    let (reg, ext) = (app("REGISTRATION"), reference("external"));
    s.km.upload_other_domain_certificate(&reg, &ext, &first.to_pem()).unwrap();
    let text = s.km.encrypt(&reg, &ext, b"x", None, None).unwrap();
    assert_eq!(
        code(s.km.decrypt(&reg, &ext, text.as_bytes(), None, None, "any")).map(drop),
        Err("KER-KMS-018")
    );

    s.clock.advance(Duration::minutes(5));
    let second = ca.certify(&partner.public_key_spki().unwrap(), "partner-1 renewed", s.clock.now());
    s.km.upload_other_domain_certificate(&a, &r, &second.to_pem()).unwrap();
    assert_eq!(s.km.get_certificate(&a, &r).unwrap().certificate.der(), second.der());
    assert_eq!(s.km.get_all_certificates(&a, &r).unwrap().len(), 2);

    // Pairs with a key of our own, KERNEL/SIGN and the signing refs are refused.
    let own = (app("REGISTRATION"), reference("10001_110011"));
    s.km.get_certificate(&own.0, &own.1).unwrap();
    assert_eq!(
        code(s.km.upload_other_domain_certificate(&own.0, &own.1, &first.to_pem())),
        Err("KER-KMS-034")
    );
    assert_eq!(
        code(s.km.upload_other_domain_certificate(&app("KERNEL"), &reference("SIGN"), &first.to_pem())),
        Err("KER-KMS-031")
    );
    assert_eq!(
        code(s.km.upload_other_domain_certificate(
            &app("RESIDENT"),
            &reference("EC_SECP256R1_SIGN"),
            &first.to_pem()
        )),
        Err("KER-KMS-030")
    );
    // A pair whose only (expired) key is ours in the HSM, with no key_store row: KER-KMS-032.
    let sym = (app("REGISTRATION"), reference("SYMMETRIC"));
    s.km.generate_symmetric_key(&sym.0, &sym.1, false).unwrap();
    s.clock.advance(Duration::days(3651));
    let later = s.clock.now();
    let fresh = ca.certify(&partner.public_key_spki().unwrap(), "partner-1 later", later);
    assert_eq!(
        code(s.km.upload_other_domain_certificate(&sym.0, &sym.1, &fresh.to_pem())),
        Err("KER-KMS-032")
    );
}

#[test]
fn other_domain_certificate_may_follow_an_expired_base_key() {
    let s = setup();
    let now = s.clock.now();
    let ca = OutsideCa::new(now);
    let (a, r) = (app("RESIDENT"), reference("own"));
    let own = s.km.get_certificate(&a, &r).unwrap();
    s.km.revoke_key(&a, &r).unwrap();
    let spki = SigningKey::generate(AsymmetricKind::Rsa2048).unwrap().public_key_spki().unwrap();
    let cert = ca.certify(&spki, "p", now);
    // The oldest key has a key_store row (a base key), so MOSIP lets the upload through.
    s.km.upload_other_domain_certificate(&a, &r, &cert.to_pem()).unwrap();
    let current = s.km.get_certificate(&a, &r).unwrap();
    assert_ne!(current.alias, own.alias);
    assert_eq!(current.certificate.der(), cert.der());
}

#[test]
fn all_certificates_lists_rotated_keys_with_key_ids() {
    let s = setup();
    let (a, r) = (app("RESIDENT"), reference("mpartner-default-resident"));
    let first = s.km.get_certificate(&a, &r).unwrap();
    s.clock.advance(Duration::seconds(1));
    s.km.revoke_key(&a, &r).unwrap();
    let second = s.km.get_certificate(&a, &r).unwrap();
    let all = s.km.get_all_certificates(&a, &r).unwrap();
    assert_eq!(all.iter().map(|c| c.alias.clone()).collect::<Vec<_>>(), [first.alias, second.alias]);
    for c in &all {
        let id = c.key_id.as_deref().unwrap();
        assert_eq!(id.len(), 43);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    assert_ne!(all[0].key_id, all[1].key_id);
    assert!(all[0].expires_at < all[1].expires_at);
    assert_eq!(code(s.km.get_all_certificates(&a, &reference("never-made"))).map(drop), Err("KER-KMS-003"));
}

#[test]
fn symmetric_keys_in_the_hsm() {
    let s = setup();
    let (a, r) = (app("REGISTRATION"), reference("SYMMETRIC"));
    let SymmetricKeyStatus::Generated(first) = s.km.generate_symmetric_key(&a, &r, false).unwrap() else {
        panic!("first call generates")
    };
    assert_eq!(s.km.generate_symmetric_key(&a, &r, false).unwrap(), SymmetricKeyStatus::Exists);
    s.clock.advance(Duration::seconds(1));
    let SymmetricKeyStatus::Generated(second) = s.km.generate_symmetric_key(&a, &r, true).unwrap() else {
        panic!("force generates")
    };
    assert_ne!(first, second);
    let rows = s.km.database().aliases_for(&keymgr_model::KeyRef::new(a.clone(), r.clone())).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.thumbprint.is_none() && row.unique_ident.is_none()));
    assert_eq!(SymmetricKeyStatus::Generated(String::new()).mosip_status(), "Generation Success");
    assert_eq!(code(s.km.generate_symmetric_key(&a, &reference(""), false)).map(drop), Err("KER-KMS-005"));
}

#[test]
fn pin_encryption_and_argon2() {
    let s = setup();
    let sealed = s.km.encrypt_with_pin("my secret text", "123456").unwrap();
    assert_eq!(s.km.decrypt_with_pin(&sealed, "123456").unwrap().as_ref() as &str, "my secret text");
    assert_eq!(code(s.km.decrypt_with_pin(&sealed, "654321")).map(drop), Err("KER-FSE-004"));
    assert_eq!(code(s.km.decrypt_with_pin("not*base64", "1")).map(drop), Err("KER-CRY-003"));
    assert_eq!(code(s.km.decrypt_with_pin("AAAA", "1")).map(drop), Err("KER-CRY-003"));
    assert_eq!(code(s.km.encrypt_with_pin("", "1")).map(drop), Err("KER-CRY-004"));
    assert_eq!(code(s.km.encrypt_with_pin("x", " ")).map(drop), Err("KER-CRY-004"));

    let h = s.km.argon2_hash("password", Some(b"somesalt")).unwrap();
    // argon2-cffi, t=2 m=64 p=1 (the test configuration).
    assert_eq!(
        h.hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "16a1a498734609dd01456da406de9f3d9da93e6c86c300a12fc1465214ce4922"
    );
    let fresh = s.km.argon2_hash("password", None).unwrap();
    assert_eq!(fresh.salt.len(), 24);
    assert_ne!(fresh.salt, s.km.argon2_hash("password", None).unwrap().salt);
    assert_eq!(code(s.km.argon2_hash(" ", None)).map(drop), Err("KER-CRY-004"));
    assert_eq!(code(s.km.argon2_hash("x", Some(b"short"))).map(drop), Err("KER-KMS-005"));
}

/// TSP licence keys: random alphanumeric keys held by a TSP until they expire, permissions
/// that must equal a configured one and are stored once each, MOSIP's codes for each refusal,
/// and an audit row for each change.
#[test]
fn licence_keys() {
    let s = setup();
    let km = &s.km;
    let now = s.clock.now();
    let perms = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();

    let key = km.generate_license("TSP1", Some(now.plus_days(30)), "admin").unwrap();
    assert_eq!(key.len(), 16);
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    let other = km.generate_license(" TSP1 ", Some(now.plus_days(30)), "admin").unwrap();
    assert_ne!(key, other);
    assert_eq!(code(km.generate_license("", Some(now.plus_days(1)), "a")), Err("KER-LKM-001"));
    assert_eq!(code(km.generate_license("TSP1", Some(now), "a")), Err("KER-LKM-008"), "not ahead");
    assert_eq!(code(km.generate_license("TSP1", None, "a")), Err("KER-LKM-008"));
    assert_eq!(code(km.generate_license(&"T".repeat(37), Some(now.plus_days(1)), "a")), Err("KER-KMS-005"));

    // Nothing mapped yet.
    assert_eq!(code(km.license_permissions("TSP1", &key)), Err("KER-LKM-009"));
    let map = |tsp: &str, key: &str, list: &[&str]| {
        code(km.map_license_permissions(tsp, key, &perms(list), "admin"))
    };
    assert_eq!(map("TSP1", &key, &["OTP Trigger", "eKYC - Full"]), Ok("Mapped License with the permissions"));
    // Mapping again adds what is new and keeps one copy of the rest.
    assert_eq!(
        map("TSP1", &key, &["eKYC - Full", "Static Pin Authentication"]),
        Ok("Mapped License with the permissions")
    );
    assert_eq!(
        code(km.license_permissions("TSP1", &key)),
        Ok(perms(&["OTP Trigger", "eKYC - Full", "Static Pin Authentication"]))
    );
    // MOSIP would accept these: they contain a configured permission.
    assert_eq!(map("TSP1", &key, &["eKYC - Full and more"]), Err("KER-LKM-003"));
    assert_eq!(map("TSP1", &key, &["OTP Trigger,eKYC - No"]), Err("KER-LKM-003"));
    assert_eq!(map("TSP1", &key, &["otp trigger"]), Err("KER-LKM-003"));
    assert_eq!(map("TSP1", &key, &[]), Err("KER-LKM-007"));
    assert_eq!(map("TSP1", &key, &["OTP Trigger", " "]), Err("KER-LKM-007"));
    assert_eq!(map("", &key, &["OTP Trigger"]), Err("KER-LKM-001"));
    assert_eq!(map("TSP1", "", &["OTP Trigger"]), Err("KER-LKM-006"));
    // Another TSP's licence, or no licence at all.
    assert_eq!(map("TSP2", &key, &["OTP Trigger"]), Err("KER-LKM-004"));
    assert_eq!(code(km.license_permissions("TSP2", &key)), Err("KER-LKM-004"));
    assert_eq!(code(km.license_permissions("TSP1", "NoSuchLicence123")), Err("KER-LKM-004"));
    assert_eq!(code(km.license_permissions("TSP1", &key.to_lowercase())), Err("KER-LKM-004"));
    assert_eq!(code(km.license_permissions(" ", &key)), Err("KER-LKM-001"));
    assert_eq!(code(km.license_permissions("TSP1", " ")), Err("KER-LKM-006"));

    // Expired: neither read nor given more.
    s.clock.advance(Duration::days(31));
    assert_eq!(code(km.license_permissions("TSP1", &key)), Err("KER-LKM-005"));
    assert_eq!(map("TSP1", &key, &["OTP Trigger"]), Err("KER-LKM-005"));

    let actions: Vec<String> = km.database().audit_log(100).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "license_generated").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "license_permissions_mapped").count(), 2, "{actions:?}");
    let details: Vec<String> =
        km.database().audit_log(100).unwrap().into_iter().filter_map(|e| e.detail).collect();
    assert!(details.iter().all(|d| !d.contains(&key)), "licence keys stay out of the audit trail");
}
