//! Keys migrated between two deployments as MOSIP's migration job moves them (reference
//! section 10): base keys re-wrapped by the old deployment for the new one's master, PARTNER
//! certificates, and the ZK random keys through the new one's temporary key. Packets and ZK
//! values sealed before the move open after it; a second run answers `Migration Not
//! Allowed. Valid Key Exists.` and changes nothing. The target is PostgreSQL when it runs
//! (SQLite otherwise), the source SQLite; both file keystores, or both on one SoftHSM2 token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use keymgr_core::{
    KeyManager, KeyManagerConfig, KeymgrError, MigratedBaseKey, MigrationStatus, SystemClock, ZkAttribute,
};
use keymgr_crypto::issue::CertificateProfile;
use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, KeyRef, RefId, UtcTime, base64};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::{postgres, softhsm};
use zeroize::Zeroizing;

const ON_SOFTHSM: &str = "KEYMGR_MIGRATION_ON_SOFTHSM";

/// Runs every other test of this file again with both keystores on a SoftHSM2 token.
#[test]
fn the_suite_on_softhsm() {
    if std::env::var_os(ON_SOFTHSM).is_some() || !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("migration");
    let out = token.run_current_exe(ON_SOFTHSM, &["--test-threads=1", "--skip", "the_suite_on_softhsm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the suite failed on SoftHSM2");
    assert!(text.contains("test result: ok") && !text.contains(" 0 passed"), "the suite ran");
}

fn keystore(path: &std::path::Path) -> Arc<dyn Keystore> {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        Arc::new(
            Pkcs11Keystore::new(Pkcs11Config {
                module: softhsm::MODULE.into(),
                token_label: "migration".into(),
                pin: Zeroizing::new(softhsm::PIN.into()),
                pool_size: 4,
            })
            .unwrap(),
        )
    } else {
        Arc::new(FileKeystore::open_or_create(path, b"pin", KdfParams::insecure_for_tests()).unwrap())
    }
}

fn app(a: &str) -> AppId {
    AppId::new(a).unwrap()
}

fn reference(r: &str) -> RefId {
    RefId::new(r).unwrap()
}

fn code<T>(r: Result<T, KeymgrError>) -> &'static str {
    r.map_or_else(|e| e.code(), |_| "ok")
}

fn manager(url: &str, keystore: Arc<dyn Keystore>) -> KeyManager {
    let km = KeyManager::new(
        Database::connect(url, 4).unwrap(),
        keystore,
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    km.run_keygen(&[]).unwrap();
    let mut policy = km.database().policy(&app("REGISTRATION")).unwrap().unwrap();
    policy.access_allowed = keymgr_model::AccessAllowed::Anyone;
    km.set_policy(&policy).unwrap();
    km
}

/// What the old deployment's migration job does for one base key (`keymgr migrate-keys`
/// through `export_base_key`): unwrap it with its master in its keystore, wrap it for the new
/// deployment's current master certificate.
fn rewrap_for(source: &KeyManager, alias: &str, target_master: &Certificate) -> (String, String) {
    let inventory = source.migration_inventory().unwrap();
    let key = inventory.base_keys.iter().find(|k| k.alias == alias).expect("the key leaves");
    (source.export_base_key(key, target_master).unwrap(), key.certificate_pem.clone())
}

#[test]
fn base_keys_partner_certificates_and_zk_keys_move() {
    let dir = tempfile::tempdir().unwrap();
    let pg = if std::env::var_os(ON_SOFTHSM).is_none() {
        postgres::server_or_skip().map(|server| postgres::TestDb::create(&server, "keymgr_migration"))
    } else {
        None
    };
    let source =
        manager(&dir.path().join("old.db").to_string_lossy(), keystore(&dir.path().join("old.kmks")));
    let target_url =
        pg.as_ref().map_or_else(|| dir.path().join("new.db").to_string_lossy().into_owned(), |db| db.url());
    let target = manager(&target_url, keystore(&dir.path().join("new.kmks")));
    let reg = app("REGISTRATION");

    // The old deployment's keys and data: three pairs with packets, a partner certificate,
    // ZK values under its random keys.
    let mut packets = Vec::new();
    for i in 0..3 {
        let pair = reference(&format!("1000{i}_110011"));
        let env = source.encrypt(&reg, &pair, format!("packet {i}").as_bytes(), None, None).unwrap();
        packets.push((pair, env));
    }
    let now = UtcTime::now();
    let ca = Authority::root(name("Partner CA", "Partner"), now.plus_days(-1), 365);
    let partner_key = RsaPrivateKey::generate_2048().unwrap();
    let partner_cert = ca.issue(
        partner_key.public_key().unwrap().spki_der(),
        name("mpartner", "Partner"),
        CertificateProfile::Encryption,
        now.plus_days(-1),
        365,
    );
    source
        .upload_other_domain_certificate(
            &app("PARTNER"),
            &reference("mpartner-default-auth"),
            &partner_cert.to_pem(),
        )
        .unwrap();
    for km in [&source, &target] {
        km.upload_other_domain_certificate(&app("IDA"), &reference("PUBLIC_KEY"), &partner_cert.to_pem())
            .unwrap();
    }
    source.prepare_zk(30, &|_, _| {}).unwrap();
    target.prepare_zk(0, &|_, _| {}).unwrap();
    let id = "4721098356";
    let identity =
        vec![ZkAttribute { identifier: "fullName".into(), value: Zeroizing::new("Asha Kulkarni".into()) }];
    let zk_values = source.zk_encrypt(id, &identity).unwrap();

    // Base keys: re-wrapped by the old side for the new master.
    let target_master = target.get_certificate(&reg, &reference("")).unwrap().certificate;
    let migrate = |target: &KeyManager| {
        let mut statuses = Vec::new();
        for (pair, _) in &packets {
            let info = source.get_certificate(&reg, pair).unwrap();
            let (wrapped, cert) = rewrap_for(&source, &info.alias, &target_master);
            statuses.push(
                target
                    .migrate_base_key(&MigratedBaseKey {
                        key_ref: KeyRef::new(reg.clone(), pair.clone()),
                        encrypted_key: &wrapped,
                        certificate_pem: &cert,
                        not_before: Some(info.issued_at),
                        not_after: Some(info.expires_at),
                        who: "migrator",
                    })
                    .unwrap(),
            );
        }
        statuses
    };
    assert_eq!(migrate(&target), vec![MigrationStatus::Success; 3]);
    for (i, (pair, env)) in packets.iter().enumerate() {
        let plain = target.decrypt(&reg, pair, env.as_bytes(), None, None, "u").unwrap();
        assert_eq!(
            &*plain,
            format!("packet {i}").as_bytes(),
            "a packet sealed before the move opens after it"
        );
        // The migrated key is the pair's current key here (no other key existed).
        assert_eq!(
            target.get_certificate(&reg, pair).unwrap().certificate.thumbprint(),
            source.get_certificate(&reg, pair).unwrap().certificate.thumbprint()
        );
    }
    // A second run changes nothing.
    assert_eq!(migrate(&target), vec![MigrationStatus::NotAllowed; 3]);
    assert_eq!(MigrationStatus::NotAllowed.mosip_status(), "Migration Not Allowed. Valid Key Exists.");

    // Refusals: a key that does not open with our master, a key that is not the certificate's,
    // an application without a master.
    let info = source.get_certificate(&reg, &reference("10000_110011")).unwrap();
    let (wrapped_for_old, cert) = {
        let row = source.database().stored_key(&info.alias).unwrap().unwrap();
        (row.private_key, row.certificate)
    };
    let other_pair = KeyRef::new(reg.clone(), reference("other_pair"));
    let attempt = |encrypted: &str, cert: &str, key_ref: KeyRef| {
        target.migrate_base_key(&MigratedBaseKey {
            key_ref,
            encrypted_key: encrypted,
            certificate_pem: cert,
            not_before: None,
            not_after: None,
            who: "migrator",
        })
    };
    assert_eq!(code(attempt(&wrapped_for_old, &cert, other_pair.clone())), "KER-KMS-005");
    let (wrapped, _) = rewrap_for(&source, &info.alias, &target_master);
    assert_eq!(code(attempt(&wrapped, &partner_cert.to_pem(), other_pair.clone())), "KER-KMS-014");
    assert_eq!(
        code(attempt(&wrapped, &cert, KeyRef::new(app("NO_SUCH_APP"), reference("x")))),
        "KER-KMS-003"
    );
    // Only base keys: not a master, a keystore signing key or the ZK master.
    for (a, r) in [
        ("REGISTRATION", ""),
        ("KERNEL", "SIGN"),
        ("REGISTRATION", "EC_SECP256R1_SIGN"),
        ("KERNEL", "IDENTITY_CACHE"),
    ] {
        assert_eq!(
            code(attempt(&wrapped, &cert, KeyRef::new(app(a), reference(r)))),
            "KER-KMS-005",
            "{a}/{r}"
        );
    }
    // A PARTNER certificate travels without a private key.
    let partner = KeyRef::new(app("PARTNER"), reference("mpartner-default-auth"));
    assert_eq!(
        attempt(&wrapped, &partner_cert.to_pem(), partner.clone()).map_err(|e| e.code()),
        Err("KER-KMS-005")
    );
    assert_eq!(attempt("NA", &partner_cert.to_pem(), partner.clone()).unwrap(), MigrationStatus::Success);
    assert_eq!(attempt("NA", &partner_cert.to_pem(), partner.clone()).unwrap(), MigrationStatus::NotAllowed);
    assert_eq!(
        target
            .get_certificate(&app("PARTNER"), &reference("mpartner-default-auth"))
            .unwrap()
            .certificate
            .thumbprint(),
        partner_cert.thumbprint()
    );

    // ZK keys: the old side unwraps each random key with its ZK master and seals it to the new
    // side's temporary certificate.
    let temp_pem = target.zk_temp_certificate().unwrap();
    assert_eq!(target.zk_temp_certificate().unwrap(), temp_pem, "one temporary key while it is valid");
    let temp = Certificate::from_pem(temp_pem.as_bytes()).unwrap();
    assert!(temp.subject().contains("ZKKeysSelfSignedKey"));
    let source_master = source
        .key_statuses(Some(&KeyRef::new(app("KERNEL"), reference("IDENTITY_CACHE"))))
        .unwrap()
        .into_iter()
        .find(|s| s.state == keymgr_model::KeyState::Active)
        .unwrap()
        .key
        .alias;
    let temp_public = temp.rsa_public_key().unwrap();
    let sealed: Vec<(i64, String)> = (0..30)
        .map(|i| {
            let stored = source.database().zk_key(i).unwrap().unwrap();
            let wrapped = base64::decode(stored.as_bytes(), 64).unwrap();
            let random = source.keystore().aes_ecb_decrypt(&source_master, &wrapped).unwrap();
            (i, base64::encode(&temp_public.oaep_wrap(random.expose()).unwrap()))
        })
        .collect();
    let first = sealed.get(..10).unwrap();
    let mut bad = first.to_vec();
    bad.push((99, base64::encode(b"not sealed to the temporary key")));
    let answers = target.migrate_zk_keys(&bad, false, "migrator").unwrap();
    assert!(answers[..10].iter().all(|(_, s)| *s == MigrationStatus::Success));
    assert_eq!(answers[10], (99, MigrationStatus::Failed));
    // Resumed: the first ten again are a retry (the same key, so done), the rest go in; a
    // different key under a taken index, or an index out of MOSIP's int range, is not; the
    // temporary key is purged.
    let mut resumed = sealed.clone();
    resumed.push((0, sealed[1].1.clone()));
    resumed.push((-1, sealed[2].1.clone()));
    let answers = target.migrate_zk_keys(&resumed, true, "migrator").unwrap();
    assert!(answers[..30].iter().all(|(_, s)| *s == MigrationStatus::Success), "{answers:?}");
    assert_eq!(answers[30], (0, MigrationStatus::NotAllowed));
    assert_eq!(answers[31], (-1, MigrationStatus::Failed));
    assert_eq!(
        code(target.migrate_zk_keys(&sealed, false, "migrator")),
        "KER-KMS-003",
        "the temporary key is gone"
    );
    // ZK values sealed before the move open after it.
    let opened = target.zk_decrypt(id, &zk_values.attributes).unwrap();
    assert_eq!(opened[0].value.as_str(), "Asha Kulkarni");
    // A new temporary key can be had afterwards.
    assert_ne!(target.zk_temp_certificate().unwrap(), temp_pem);
    let report = target.verify_audit().unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
}

/// A migrated key whose dates would make it current beside the pair's current key here is
/// stored already expired: the pair keeps one current key, and both keys open their packets.
#[test]
fn a_migrated_key_never_makes_two_current_keys() {
    let dir = tempfile::tempdir().unwrap();
    let source =
        manager(&dir.path().join("old.db").to_string_lossy(), keystore(&dir.path().join("old.kmks")));
    let target =
        manager(&dir.path().join("new.db").to_string_lossy(), keystore(&dir.path().join("new.kmks")));
    let (reg, pair) = (app("REGISTRATION"), reference("10001_110011"));
    let old_env = source.encrypt(&reg, &pair, b"old", None, None).unwrap();
    let new_env = target.encrypt(&reg, &pair, b"new", None, None).unwrap();
    let current_here = target.get_certificate(&reg, &pair).unwrap();
    let info = source.get_certificate(&reg, &pair).unwrap();
    let target_master = target.get_certificate(&reg, &reference("")).unwrap().certificate;
    let (wrapped, cert) = rewrap_for(&source, &info.alias, &target_master);
    let status = target
        .migrate_base_key(&MigratedBaseKey {
            key_ref: KeyRef::new(reg.clone(), pair.clone()),
            encrypted_key: &wrapped,
            certificate_pem: &cert,
            not_before: Some(info.issued_at),
            not_after: Some(info.expires_at),
            who: "migrator",
        })
        .unwrap();
    assert_eq!(status, MigrationStatus::Success);
    assert_eq!(target.get_certificate(&reg, &pair).unwrap().alias, current_here.alias);
    assert_eq!(&*target.decrypt(&reg, &pair, old_env.as_bytes(), None, None, "u").unwrap(), b"old");
    assert_eq!(&*target.decrypt(&reg, &pair, new_env.as_bytes(), None, None, "u").unwrap(), b"new");
    // A key dated in the future is stored never valid: when its day comes, the pair still has
    // one current key.
    let other = reference("10002_110011");
    let future_env = source.encrypt(&reg, &other, b"future", None, None).unwrap();
    target.get_certificate(&reg, &other).unwrap();
    let info = source.get_certificate(&reg, &other).unwrap();
    let (wrapped, cert) = rewrap_for(&source, &info.alias, &target_master);
    let future = |not_before: UtcTime, not_after: UtcTime| {
        target.migrate_base_key(&MigratedBaseKey {
            key_ref: KeyRef::new(reg.clone(), other.clone()),
            encrypted_key: &wrapped,
            certificate_pem: &cert,
            not_before: Some(not_before),
            not_after: Some(not_after),
            who: "migrator",
        })
    };
    let later = UtcTime::now().plus_days(10);
    assert_eq!(code(future(later, later.plus_days(-1))), "KER-KMS-005", "notAfter before notBefore");
    assert_eq!(future(later, later.plus_days(100)).unwrap(), MigrationStatus::Success);
    let stored = target.database().aliases_for(&KeyRef::new(reg.clone(), other.clone())).unwrap();
    let migrated = stored.iter().find(|a| a.thumbprint == Some(info.certificate.thumbprint())).unwrap();
    assert!(migrated.expires_at <= migrated.generated_at, "never valid: {migrated:?}");
    assert_eq!(&*target.decrypt(&reg, &other, future_env.as_bytes(), None, None, "u").unwrap(), b"future");
}
