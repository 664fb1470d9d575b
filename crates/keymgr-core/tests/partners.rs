//! The partner trust store end to end on SQLite with the file keystore: CA uploads (single
//! certificates and PKCS#7 bundles in any order, MOSIP's checks and statuses), partner
//! certificates re-signed by the PMS master (and what a partner then signs validating in its
//! domain), trust paths, the CA list with its filters, and two key managers on one database
//! seeing each other's uploads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use keymgr_core::{
    CaCertificateFilter, CaUploadStatus, KeyManager, KeyManagerConfig, KeymgrError, ManualClock,
    PartnerSettings,
};
use keymgr_crypto::{Certificate, pkcs7};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams, Keystore};
use keymgr_model::UtcTime;
use keymgr_test_support::pki::{Authority, name};
use x509_parser::prelude::FromDer;

struct Setup {
    dir: tempfile::TempDir,
    keystore: Arc<dyn Keystore>,
    clock: Arc<ManualClock>,
    km: KeyManager,
}

fn t0() -> UtcTime {
    UtcTime::parse_lenient("2026-03-01T00:00:00Z").unwrap()
}

fn config() -> KeyManagerConfig {
    KeyManagerConfig {
        partners: PartnerSettings { store_check_interval: Duration::ZERO, ..PartnerSettings::default() },
        ..KeyManagerConfig::default()
    }
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> = Arc::new(
        FileKeystore::open_or_create(dir.path().join("keys.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let clock = Arc::new(ManualClock::new(t0()));
    let km = KeyManager::new(db(&dir), keystore.clone(), clock.clone(), config());
    km.run_keygen(&[]).unwrap();
    Setup { dir, keystore, clock, km }
}

fn db(dir: &tempfile::TempDir) -> Database {
    Database::connect(&dir.path().join("keymgr.db").to_string_lossy(), 4).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, KeymgrError>) -> &'static str {
    r.map(|v| panic!("expected an error, got {v:?}")).unwrap_err().code()
}

fn b64url(bytes: &[u8]) -> String {
    keymgr_model::base64::encode(bytes)
}

fn bundle(certs: &[&Certificate]) -> String {
    let certs: Vec<Certificate> = certs.iter().map(|c| (*c).clone()).collect();
    b64url(&pkcs7::certs_only_der(&certs).unwrap())
}

fn page(km: &KeyManager, filter: CaCertificateFilter) -> Vec<(String, String, String)> {
    km.ca_certificates(&filter)
        .unwrap()
        .certificates
        .into_iter()
        .map(|c| (c.issued_to, c.ca_certificate_type, c.partner_domain))
        .collect()
}

#[test]
fn ca_uploads_follow_mosips_checks() {
    let s = setup();
    let km = &s.km;
    let root = Authority::root(name("Device Root", "Device Co"), t0(), 3650);
    let inter = root.sub_ca(name("Device Sub CA", "Device Co"), t0(), 3000);
    assert_eq!(
        km.upload_ca_certificate(&root.certificate.to_pem(), "device").unwrap(),
        CaUploadStatus::Success
    );
    assert_eq!(code(km.upload_ca_certificate(&root.certificate.to_pem(), "DEVICE")), "KER-PCM-003");
    // As MOSIP, a DER certificate may come as base64url.
    assert_eq!(
        km.upload_ca_certificate(&b64url(inter.certificate.der()), "DEVICE").unwrap(),
        CaUploadStatus::Success
    );

    // The rows: MOSIP's DN text, types, the intermediate pointing at the root's row.
    let rows = km
        .ca_certificates(&CaCertificateFilter { partner_domain: Some("device".into()), ..Default::default() })
        .unwrap();
    assert_eq!(rows.total_records, 2);
    let by_type = |t: &str| rows.certificates.iter().find(|c| c.ca_certificate_type == t).unwrap();
    assert_eq!(by_type("ROOT").issued_to, "CN=Device Root,O=Device Co,C=IN");
    assert_eq!(by_type("INTERMEDIATE").issued_by, "CN=Device Root,O=Device Co,C=IN");
    assert!(rows.certificates.iter().all(|c| c.status && c.cert_thumbprint.len() == 40));
    let stored = km.database().ca_certs("DEVICE").unwrap();
    let root_row = stored.iter().find(|r| r.ca_cert_type.as_deref() == Some("ROOT")).unwrap();
    let inter_row = stored.iter().find(|r| r.ca_cert_type.as_deref() == Some("INTERMEDIATE")).unwrap();
    assert_eq!(root_row.issuer_id, root_row.cert_id);
    assert_eq!(inter_row.issuer_id, root_row.cert_id);

    // Refusals, each with MOSIP's code; nothing is stored.
    let stranger = Authority::root(name("Stranger Root", "Elsewhere"), t0(), 3650);
    let orphan = stranger.sub_ca(name("Orphan CA", "Elsewhere"), t0(), 3000);
    let short = root.sub_ca(name("Short CA", "Device Co"), t0(), 200);
    let expired = root.sub_ca(name("Old CA", "Device Co"), t0().plus_days(-400), 300);
    let future = root.sub_ca(name("Future CA", "Device Co"), t0().plus_days(2), 3000);
    for (what, data, domain, expected) in [
        ("orphan", orphan.certificate.to_pem(), "DEVICE", "KER-PCM-005"),
        ("less than 12 months left", short.certificate.to_pem(), "DEVICE", "KER-PCM-017"),
        ("expired", expired.certificate.to_pem(), "DEVICE", "KER-PCM-004"),
        ("future dated", future.certificate.to_pem(), "DEVICE", "KER-PMS-020"),
        ("unknown domain", root.certificate.to_pem(), "ELSEWHERE", "KER-PCM-011"),
        ("blank", " ".into(), "DEVICE", "KER-PCM-001"),
        ("base64 of nothing useful", b64url(b"not a certificate"), "DEVICE", "KER-PCM-001"),
        ("not base64", "not base64 at all!".into(), "DEVICE", "KER-CRY-003"),
        (
            "a broken PEM",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            "DEVICE",
            "KER-PCM-001",
        ),
    ] {
        assert_eq!(code(km.upload_ca_certificate(&data, domain)), expected, "{what}");
    }
    // Oversized input: a bundle of 10,000 certificates, a "certificate" of 1 MB.
    let tlv = |tag: u8, content: &[u8]| {
        let len = content.len() as u32;
        [vec![tag, 0x84], len.to_be_bytes().to_vec(), content.to_vec()].concat()
    };
    let set = tlv(0xa0, &root.certificate.der().repeat(10_000));
    let data_oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let signed = tlv(
        0x30,
        &[&[0x02, 0x01, 0x01, 0x31, 0x00][..], &tlv(0x30, &data_oid), &set, &[0x31, 0x00]].concat(),
    );
    let oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let huge_bundle = tlv(0x30, &[&oid[..], &tlv(0xa0, &signed)].concat());
    let err = km.upload_ca_certificate(&b64url(&huge_bundle), "DEVICE").unwrap_err();
    assert_eq!(err.code(), "KER-PCM-001");
    assert!(err.to_string().contains("more than 100"), "{err}");
    let megabyte = vec![0x30; 1 << 20];
    assert_eq!(code(km.upload_ca_certificate(&b64url(&megabyte), "DEVICE")), "KER-PCM-001");
    let big_pem = keymgr_crypto::pem::encode("CERTIFICATE", &megabyte);
    assert_eq!(code(km.upload_ca_certificate(&big_pem, "DEVICE")), "KER-PCM-001");
    assert_eq!(code(km.verify_certificate_trust(&big_pem, "DEVICE")), "KER-KMS-013");
    assert_eq!(km.database().ca_certs("DEVICE").unwrap().len(), 2, "nothing stored by the refusals");

    // A bundle in any order: leaf first (as MOSIP expects), the issuers later.
    let auth_root = Authority::root(name("Auth Root", "Auth Co"), t0(), 3650);
    let auth_1 = auth_root.sub_ca(name("Auth CA 1", "Auth Co"), t0(), 3000);
    let auth_2 = auth_1.sub_ca(name("Auth CA 2", "Auth Co"), t0(), 2900);
    let all = bundle(&[&auth_2.certificate, &auth_1.certificate, &auth_root.certificate]);
    assert_eq!(km.upload_ca_certificate(&all, "AUTH").unwrap(), CaUploadStatus::Success);
    assert_eq!(km.upload_ca_certificate(&all, "AUTH").unwrap(), CaUploadStatus::Failed, "all exist");
    let auth_3 = auth_2.sub_ca(name("Auth CA 3", "Auth Co"), t0(), 2800);
    let mixed = bundle(&[&auth_3.certificate, &auth_2.certificate, &orphan.certificate]);
    assert_eq!(km.upload_ca_certificate(&mixed, "AUTH").unwrap(), CaUploadStatus::Partial);
    assert_eq!(km.database().ca_certs("AUTH").unwrap().len(), 4);

    // The trust path of a stored CA certificate, as PEM PKCS#7, leaf to root.
    let auth_rows = km.database().ca_certs("AUTH").unwrap();
    let id = &auth_rows.iter().find(|r| r.subject.starts_with("CN=Auth CA 3")).unwrap().cert_id;
    let pem = km.ca_certificate_trust_path(id).unwrap();
    let der = keymgr_crypto::pem::decode_first(pem.as_bytes(), &["PKCS7"]).unwrap();
    assert_eq!(pkcs7::read_certificates(&der).unwrap().len(), 4);
    assert_eq!(code(km.ca_certificate_trust_path("no-such-id")), "KER-PMS-019");
    assert_eq!(code(km.ca_certificate_trust_path(" ")), "KER-PCM-010");

    // verifyCertificateTrust.
    let device = inter.partner(name("Device 42", "Device Co"), t0(), 700);
    assert!(km.verify_certificate_trust(&device.certificate.to_pem(), "device").unwrap());
    assert!(!km.verify_certificate_trust(&device.certificate.to_pem(), "AUTH").unwrap());
    assert_eq!(code(km.verify_certificate_trust("", "DEVICE")), "KER-PCM-001");
    assert_eq!(code(km.verify_certificate_trust("garbage", "DEVICE")), "KER-KMS-013");
    assert_eq!(code(km.verify_certificate_trust(&device.certificate.to_pem(), "NOPE")), "KER-PCM-011");
    // Once the sub-CA expires, its devices no longer chain.
    s.clock.set(t0().plus_days(3001));
    assert!(!km.verify_certificate_trust(&device.certificate.to_pem(), "DEVICE").unwrap());
}

#[test]
fn partner_certificates_are_resigned_by_pms() {
    let s = setup();
    let km = &s.km;
    let root = Authority::root(name("Partner Root", "Partner Org"), t0(), 3650);
    let inter = root.sub_ca(name("Partner CA", "Partner Org"), t0(), 3000);
    km.upload_ca_certificate(&bundle(&[&inter.certificate, &root.certificate]), "AUTH").unwrap();
    let partner = inter.partner(name("Partner 1", "Partner Org"), t0(), 730);

    let uploaded =
        km.upload_partner_certificate(&partner.certificate.to_pem(), "Partner Org", "auth", "admin").unwrap();
    let chain = pkcs7::read_certificates(
        &keymgr_model::base64::decode(uploaded.signed_certificate_data.as_bytes(), 1 << 20).unwrap(),
    )
    .unwrap();
    assert_eq!(chain.len(), 3);
    let pms = km
        .get_certificate(&keymgr_model::AppId::new("PMS").unwrap(), &keymgr_model::RefId::new("").unwrap())
        .unwrap()
        .certificate;
    let platform_root = km
        .get_certificate(&keymgr_model::AppId::new("ROOT").unwrap(), &keymgr_model::RefId::new("").unwrap())
        .unwrap()
        .certificate;
    let signed = chain
        .iter()
        .find(|c| c.spki_der() == partner.certificate.spki_der())
        .expect("the re-signed certificate");
    assert!(
        chain.iter().any(|c| c.der() == pms.der()) && chain.iter().any(|c| c.der() == platform_root.der())
    );
    // Re-signed: the partner's name and key, issued by PMS, a CA with keyEncipherment (AUTH),
    // one year.
    assert!(signed.is_signed_by(&pms));
    assert_eq!(signed.subject(), partner.certificate.subject());
    let (_, x509) = x509_parser::certificate::X509Certificate::from_der(signed.der()).unwrap();
    assert!(x509.basic_constraints().unwrap().unwrap().value.ca);
    let usage = x509.key_usage().unwrap().unwrap().value;
    assert!(usage.key_cert_sign() && usage.key_encipherment() && usage.digital_signature());
    assert_eq!((signed.not_after().unix_millis() - signed.not_before().unix_millis()) / 86_400_000, 365);
    // Stored, and readable by id.
    let row = km.partner_certificate(&uploaded.certificate_id).unwrap();
    assert_eq!(row.signed_cert_data.as_deref(), Some(signed.to_pem().as_str()));
    assert_eq!(row.cert_data.as_deref(), Some(partner.certificate.to_pem().as_str()));
    assert_eq!(row.organization_name.as_deref(), Some("Partner Org"));
    assert_eq!(code(km.partner_certificate("no-such-id")), "KER-PCM-012");
    assert_eq!(code(km.partner_certificate("")), "KER-PCM-010");
    // The answered bundle became CA certificates of the domain: what the partner signs with
    // its key now chains through its re-signed certificate, PMS and the platform's ROOT.
    let partner_ca = Authority { key: partner.key, certificate: signed.clone() };
    let device = partner_ca.partner(name("Device of Partner 1", "Partner Org"), t0(), 365);
    assert!(km.verify_certificate_trust(&device.certificate.to_pem(), "AUTH").unwrap());
    let types = page(km, CaCertificateFilter { partner_domain: Some("AUTH".into()), ..Default::default() });
    assert_eq!(types.len(), 5, "{types:?}");
    let mosip_excluded = page(
        km,
        CaCertificateFilter {
            partner_domain: Some("AUTH".into()),
            exclude_mosip_ca: true,
            ..Default::default()
        },
    );
    assert_eq!(mosip_excluded.len(), 3, "ROOT and PMS left out: {mosip_excluded:?}");

    // MOSIP's refusals, in its order.
    let other_org = inter.partner(name("Partner 2", "Other Org"), t0(), 730);
    let short = inter.partner(name("Partner 3", "Partner Org"), t0(), 300);
    let stranger = Authority::root(name("Stranger", "Partner Org"), t0(), 3650).partner(
        name("Partner 4", "Partner Org"),
        t0(),
        730,
    );
    for (what, pem, org, domain, expected) in [
        ("organisation", other_org.certificate.to_pem(), "Partner Org", "AUTH", "KER-PCM-008"),
        (
            "organisation is case-sensitive",
            partner_ca.certificate.to_pem(),
            "partner org",
            "AUTH",
            "KER-PCM-008",
        ),
        (
            "validity under a year less grace",
            short.certificate.to_pem(),
            "Partner Org",
            "AUTH",
            "KER-KMS-021",
        ),
        ("self-signed", root.certificate.to_pem(), "Partner Org", "AUTH", "KER-PCM-015"),
        ("no trust path", stranger.certificate.to_pem(), "Partner Org", "AUTH", "KER-PCM-006"),
        ("unknown domain", partner_ca.certificate.to_pem(), "Partner Org", "NOPE", "KER-PCM-011"),
        ("not PEM", "garbage".into(), "Partner Org", "AUTH", "KER-KMS-013"),
        ("blank", String::new(), "Partner Org", "AUTH", "KER-PCM-001"),
    ] {
        assert_eq!(code(km.upload_partner_certificate(&pem, org, domain, "admin")), expected, "{what}");
    }
    // A 1024-bit key and a SHA-1 signature, made by OpenSSL under the same CA: KER-PCM-013 and
    // KER-PCM-014, as MOSIP answers them (its path validation lets both through).
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("ca.pem"), inter.certificate.to_pem()).unwrap();
    std::fs::write(
        work.path().join("ca.key"),
        keymgr_crypto::pem::encode("PRIVATE KEY", inter.key.pkcs8().expose()),
    )
    .unwrap();
    let script = r#"set -e
        make() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$2 -out $1.key 2>/dev/null
                 openssl req -new -key $1.key -subj "/C=IN/O=Partner Org/CN=$1" -out $1.csr
                 openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -set_serial 0x$(openssl rand -hex 8) -days 730 -$3 -out $1.pem 2>/dev/null; }
        make weak 1024 sha256; make sha1 2048 sha1"#;
    let made =
        std::process::Command::new("bash").arg("-c").arg(script).current_dir(work.path()).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let read = |n: &str| std::fs::read_to_string(work.path().join(format!("{n}.pem"))).unwrap();
    s.clock.set(UtcTime::now());
    assert_eq!(
        code(km.upload_partner_certificate(&read("weak"), "Partner Org", "AUTH", "admin")),
        "KER-PCM-013"
    );
    assert_eq!(
        code(km.upload_partner_certificate(&read("sha1"), "Partner Org", "AUTH", "admin")),
        "KER-PCM-014"
    );
    s.clock.set(t0());

    // PMS's access_allowed decides who may have certificates re-signed.
    km.set_policy(
        &keymgr_model::KeyPolicy::from_columns(
            keymgr_model::AppId::new("PMS").unwrap(),
            1460,
            395,
            true,
            Some("pms-service"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        code(km.upload_partner_certificate(&partner_ca.certificate.to_pem(), "Partner Org", "AUTH", "admin")),
        "KER-PCM-016"
    );
    assert!(
        km.upload_partner_certificate(&partner.certificate.to_pem(), "Partner Org", "AUTH", "pms-service")
            .is_ok()
    );

    // FTM partners get their own trust path back (resign.ftm.domain.certs = false).
    km.upload_ca_certificate(&bundle(&[&inter.certificate, &root.certificate]), "FTM").unwrap();
    let ftm = km
        .upload_partner_certificate(&partner.certificate.to_pem(), "Partner Org", "FTM", "pms-service")
        .unwrap();
    let chain = pkcs7::read_certificates(
        &keymgr_model::base64::decode(ftm.signed_certificate_data.as_bytes(), 1 << 20).unwrap(),
    )
    .unwrap();
    assert_eq!(chain.len(), 3);
    assert!(
        chain.iter().any(|c| c.der() == partner.certificate.der())
            && chain.iter().all(|c| c.der() != pms.der())
    );
}

#[test]
fn replicas_see_each_others_uploads() {
    let s = setup();
    let other = KeyManager::new(db(&s.dir), s.keystore.clone(), s.clock.clone(), config());
    let root = Authority::root(name("Shared Root", "Shared"), t0(), 3650);
    let device = root.partner(name("Shared Device", "Shared"), t0(), 365);
    assert!(
        !other.verify_certificate_trust(&device.certificate.to_pem(), "DEVICE").unwrap(),
        "cached: no CA yet"
    );
    s.km.upload_ca_certificate(&root.certificate.to_pem(), "DEVICE").unwrap();
    assert!(
        other.verify_certificate_trust(&device.certificate.to_pem(), "DEVICE").unwrap(),
        "the other replica sees it"
    );
}

#[test]
fn the_ca_list_filters_sorts_and_pages() {
    let s = setup();
    let km = &s.km;
    let root = Authority::root(name("List Root", "List Co"), t0(), 3650);
    km.upload_ca_certificate(&root.certificate.to_pem(), "FTM").unwrap();
    for i in 0..12 {
        let ca = root.sub_ca(name(&format!("List CA {i:02}"), "List Co"), t0(), 2000 + i);
        km.upload_ca_certificate(&ca.certificate.to_pem(), "FTM").unwrap();
    }
    let filter = |f: CaCertificateFilter| CaCertificateFilter { partner_domain: Some("FTM".into()), ..f };
    let first =
        km.ca_certificates(&filter(CaCertificateFilter { page_size: 5, ..Default::default() })).unwrap();
    assert_eq!((first.page_number, first.page_size, first.total_records, first.total_pages), (1, 5, 13, 3));
    let last = km
        .ca_certificates(&filter(CaCertificateFilter { page_size: 5, page_number: 3, ..Default::default() }))
        .unwrap();
    assert_eq!(last.certificates.len(), 3);
    let sorted = km
        .ca_certificates(&filter(CaCertificateFilter {
            sort_by_field_name: Some("certNotAfter".into()),
            sort_order: Some("desc".into()),
            ca_certificate_type: Some("intermediate".into()),
            ..Default::default()
        }))
        .unwrap();
    assert_eq!(sorted.certificates[0].issued_to, "CN=List CA 11,O=List Co,C=IN");
    assert_eq!(
        page(km, filter(CaCertificateFilter { issued_to: Some("list ca 0".into()), ..Default::default() }))
            .len(),
        10
    );
    let till = t0().plus_days(2005);
    assert_eq!(
        page(km, filter(CaCertificateFilter { valid_till_date: Some(till), ..Default::default() })).len(),
        1
    );
    assert_eq!(
        page(
            km,
            filter(CaCertificateFilter {
                expiring_within_date: Some(t0().plus_days(2003)),
                ..Default::default()
            })
        )
        .len(),
        4
    );
    assert_eq!(
        page(km, filter(CaCertificateFilter { upload_time: Some(t0()), ..Default::default() })).len(),
        0,
        "stored today, not at t0"
    );
    assert_eq!(
        code(km.ca_certificates(&CaCertificateFilter {
            ca_certificate_type: Some("LEAF".into()),
            ..Default::default()
        })),
        "KER-PCM-018"
    );
    assert_eq!(
        code(km.ca_certificates(&CaCertificateFilter {
            sort_by_field_name: Some("certData; drop".into()),
            ..Default::default()
        })),
        "KER-KMS-005"
    );
    assert_eq!(
        code(km.ca_certificates(&CaCertificateFilter {
            partner_domain: Some("NOPE".into()),
            ..Default::default()
        })),
        "KER-PCM-011"
    );
}
