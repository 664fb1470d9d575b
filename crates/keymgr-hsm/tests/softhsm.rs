//! The PKCS#11 keystore against a real SoftHSM2 token, made for this run in a temporary
//! folder through `SOFTHSM2_CONF`: the shared behaviour suite, the OAEP fallback, sessions
//! killed under the pool, several threads, and reading keys back through a new connection.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once per process, so the test re-runs itself as a child
//! process with the variable set. Without SoftHSM installed the test says it was skipped; with
//! `KEYMGR_REQUIRE_HSM=1` (set by `.ci/run`) that is a failure.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use keymgr_crypto::{AsymmetricKind, RsaPublicKey, SignAlgorithm, verify};
use keymgr_hsm::{
    FileKeystore, HsmError, KdfParams, KeyKind, KeyMove, Keystore, Pkcs11Config, Pkcs11Keystore,
    file_to_token,
};
use keymgr_test_support::{pki, softhsm};
use zeroize::Zeroizing;

const CHILD: &str = "KEYMGR_TEST_SOFTHSM_CHILD";

fn config(label: &str, pool_size: usize) -> Pkcs11Config {
    Pkcs11Config {
        module: PathBuf::from(softhsm::MODULE),
        token_label: label.to_owned(),
        pin: Zeroizing::new(softhsm::PIN.to_owned()),
        pool_size,
    }
}

#[test]
fn pkcs11_keystore_on_softhsm() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    if !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("keymgr-test");
    let output = token.run_current_exe(
        CHILD,
        &["pkcs11_keystore_on_softhsm", "--exact", "--nocapture", "--test-threads=1"],
    );
    let log =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{log}");
    assert!(output.status.success(), "the SoftHSM child run failed");
    assert!(log.contains("SOFTHSM SUITE DONE"), "the child ran the whole suite");
}

fn child() {
    // A label no token has is a configuration error, not a panic.
    assert!(matches!(Pkcs11Keystore::new(config("no-such-token", 2)), Err(HsmError::Config(_))));
    let ks = Pkcs11Keystore::new(config("keymgr-test", 4)).expect("token opens");

    common::behaviour_suite(&ks, "p11");
    println!("behaviour suite passed");

    // Sessions killed under the pool mid-use: the next call reconnects and succeeds.
    let spki = ks.public_key("p11-rsa").unwrap();
    let public = RsaPublicKey::from_spki_der(&spki).unwrap();
    let wrapped = public.oaep_wrap(&[5; 32]).unwrap();
    for round in 0..3 {
        ks.simulate_token_reset().unwrap();
        assert_eq!(ks.rsa_oaep_unwrap("p11-rsa", &wrapped).unwrap().expose(), &[5; 32], "round {round}");
    }
    ks.simulate_token_reset().unwrap();
    let sig = ks.sign("p11-p256", SignAlgorithm::Es256, b"after reset").unwrap();
    verify(SignAlgorithm::Es256, &ks.public_key("p11-p256").unwrap(), b"after reset", &sig).unwrap();
    println!("recovered from token resets");

    // Many threads over a small pool.
    let ks = Arc::new(ks);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let ks = Arc::clone(&ks);
            let public = public.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let msg = [t as u8 ^ i as u8; 32];
                    let wrapped = public.oaep_wrap(&msg).unwrap();
                    assert_eq!(ks.rsa_oaep_unwrap("p11-rsa", &wrapped).unwrap().expose(), &msg);
                }
                ks.generate(&format!("thread-{t}"), KeyKind::Asymmetric(AsymmetricKind::EcP256)).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!("threads done");

    // A second connection (as a restarted service) sees the same keys and certificate.
    let again = Pkcs11Keystore::new(config("keymgr-test", 1)).unwrap();
    assert_eq!(again.public_key("p11-rsa").unwrap(), spki);
    assert_eq!(again.certificate("p11-rsa").unwrap(), Some(common::some_certificate()));
    assert!(again.aliases().unwrap().contains(&"thread-7".to_owned()));
    assert_eq!(again.rsa_oaep_unwrap("p11-rsa", &wrapped).unwrap().expose(), &[5; 32]);

    keys_from_the_file_keystore(&again);
    println!("SOFTHSM SUITE DONE");
}

/// A read-write session on the test token, logged in as the user. The keystores of this process
/// may be logged in already (PKCS#11 logins are per application), so a refused login is fine.
fn user_session(pkcs11: &cryptoki::context::Pkcs11) -> cryptoki::session::Session {
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).unwrap().label() == "keymgr-test")
        .unwrap();
    let session = pkcs11.open_rw_session(slot).unwrap();
    let _ = session
        .login(cryptoki::session::UserType::User, Some(&cryptoki::types::AuthPin::new(softhsm::PIN.into())));
    session
}

/// `file_to_token`: every kind the file keystore holds is imported under its alias, as
/// sensitive, non-extractable objects with the certificate; the same keys answer on both
/// sides; a second run finds them there; a key of another kind under an alias is left alone;
/// Ed25519 stays.
fn keys_from_the_file_keystore(token: &Pkcs11Keystore) {
    let dir = tempfile::tempdir().unwrap();
    let file =
        FileKeystore::open_or_create(dir.path().join("ks"), b"pin", KdfParams::insecure_for_tests()).unwrap();
    let kinds = [
        ("mig-rsa", KeyKind::Asymmetric(AsymmetricKind::Rsa2048)),
        ("mig-p256", KeyKind::Asymmetric(AsymmetricKind::EcP256)),
        ("mig-k1", KeyKind::Asymmetric(AsymmetricKind::EcSecp256k1)),
        ("mig-aes", KeyKind::Aes256),
        ("mig-ed", KeyKind::Asymmetric(AsymmetricKind::Ed25519)),
        ("mig-clash", KeyKind::Aes256),
    ];
    for (alias, kind) in kinds {
        file.generate(alias, kind).unwrap();
    }
    file.store_certificate("mig-rsa", &common::some_certificate()).unwrap();
    token.generate("mig-clash", KeyKind::Aes256).unwrap();
    let dry = file_to_token(&file, token, true).unwrap();
    assert!(
        dry.iter()
            .filter(|r| r.alias != "mig-ed" && r.alias != "mig-clash")
            .all(|r| r.outcome == KeyMove::WouldImport)
    );
    assert!(!token.aliases().unwrap().contains(&"mig-rsa".to_owned()), "a dry run imports nothing");

    let report = file_to_token(&file, token, false).unwrap();
    let outcome = |alias: &str| report.iter().find(|r| r.alias == alias).unwrap().outcome.clone();
    for alias in ["mig-rsa", "mig-p256", "mig-k1", "mig-aes"] {
        assert_eq!(outcome(alias), KeyMove::Imported, "{alias}");
    }
    assert!(matches!(outcome("mig-ed"), KeyMove::CannotMove(_)));
    assert!(matches!(outcome("mig-clash"), KeyMove::Differs(_)), "{:?}", outcome("mig-clash"));
    assert_eq!(token.certificate("mig-rsa").unwrap(), Some(common::some_certificate()));
    // The same keys: what one side wraps or encrypts, the other opens.
    let public = RsaPublicKey::from_spki_der(&token.public_key("mig-rsa").unwrap()).unwrap();
    let wrapped = public.oaep_wrap(&[9; 32]).unwrap();
    assert_eq!(file.rsa_oaep_unwrap("mig-rsa", &wrapped).unwrap().expose(), &[9; 32]);
    let sealed = token.aes_ecb_encrypt("mig-aes", &[3; 32]).unwrap();
    assert_eq!(file.aes_ecb_decrypt("mig-aes", &sealed).unwrap().expose(), &[3; 32]);
    let sig = token.sign("mig-k1", SignAlgorithm::Es256K, b"m").unwrap();
    verify(SignAlgorithm::Es256K, &file.public_key("mig-k1").unwrap(), b"m", &sig).unwrap();

    // Read through PKCS#11 itself: the private and secret objects are sensitive and not
    // extractable, the public objects are there.
    let pkcs11 = cryptoki::context::Pkcs11::new(softhsm::MODULE).unwrap();
    let _ = pkcs11.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ));
    let session = user_session(&pkcs11);
    for (alias, class) in [
        ("mig-rsa", ObjectClass::PRIVATE_KEY),
        ("mig-p256", ObjectClass::PRIVATE_KEY),
        ("mig-k1", ObjectClass::PRIVATE_KEY),
        ("mig-aes", ObjectClass::SECRET_KEY),
    ] {
        let found = session.find_objects(&[Attribute::Class(class), Attribute::Label(alias.into())]).unwrap();
        assert_eq!(found.len(), 1, "{alias}");
        let attrs = session
            .get_attributes(
                found[0],
                &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::Token],
            )
            .unwrap();
        assert!(attrs.contains(&Attribute::Sensitive(true)), "{alias}: {attrs:?}");
        assert!(attrs.contains(&Attribute::Extractable(false)), "{alias}: {attrs:?}");
        assert!(attrs.contains(&Attribute::Token(true)), "{alias}: {attrs:?}");
        if class == ObjectClass::PRIVATE_KEY {
            let public = session
                .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Label(alias.into())])
                .unwrap();
            assert_eq!(public.len(), 1, "{alias}: its public key object");
        }
    }
    drop(session);
    sunpkcs11_layout(token, &file, &pkcs11);

    // Again: everything is there already; nothing changes.
    let again = file_to_token(&file, token, false).unwrap();
    for alias in ["mig-rsa", "mig-p256", "mig-k1", "mig-aes"] {
        assert_eq!(
            again.iter().find(|r| r.alias == alias).unwrap().outcome,
            KeyMove::OnTokenAlready,
            "{alias}"
        );
    }
    // An import under a taken alias is refused; a PKCS#8 of the wrong kind too.
    let (_, rsa) = file.export_for_token("mig-rsa").unwrap();
    assert!(matches!(
        token.import("mig-rsa", KeyKind::Asymmetric(AsymmetricKind::Rsa2048), &rsa),
        Err(HsmError::AliasExists(_))
    ));
    assert!(token.import("mig-wrong", KeyKind::Asymmetric(AsymmetricKind::EcP256), &rsa).is_err());
    assert!(!token.aliases().unwrap().contains(&"mig-wrong".to_owned()));
    println!("file keystore keys imported");
}

/// Keys as MOSIP's Java service leaves them in a token (SunPKCS11's keystore): the private key
/// named by `CKA_ID` only, no public key object, the certificate labelled; a secret key by
/// label only. Made here by importing keys and then reshaping the objects as SunPKCS11 writes
/// them; a new connection finds and uses every one, lists them, and destroys them whole.
fn sunpkcs11_layout(token: &Pkcs11Keystore, file: &FileKeystore, pkcs11: &cryptoki::context::Pkcs11) {
    let (_, rsa) = file.export_for_token("mig-rsa").unwrap();
    let (_, aes) = file.export_for_token("mig-aes").unwrap();
    token.import("sun-rsa", KeyKind::Asymmetric(AsymmetricKind::Rsa2048), &rsa).unwrap();
    let now = keymgr_model::UtcTime::now();
    let ca = pki::Authority::root(pki::name("MOSIP ROOT", "MOSIP"), now.plus_days(-1), 30);
    let certificate = ca.issue(
        &file.public_key("mig-rsa").unwrap(),
        pki::name("REGISTRATION", "MOSIP"),
        keymgr_crypto::issue::CertificateProfile::Encryption,
        now.plus_days(-1),
        30,
    );
    token.store_certificate("sun-rsa", certificate.der()).unwrap();
    token.import("sun-aes", KeyKind::Aes256, &aes).unwrap();
    let session = user_session(pkcs11);
    let find =
        |class: ObjectClass, name: Attribute| session.find_objects(&[Attribute::Class(class), name]).unwrap();
    let private = find(ObjectClass::PRIVATE_KEY, Attribute::Label(b"sun-rsa".to_vec()));
    session.update_attributes(private[0], &[Attribute::Label(Vec::new())]).unwrap();
    for public in find(ObjectClass::PUBLIC_KEY, Attribute::Label(b"sun-rsa".to_vec())) {
        session.destroy_object(public).unwrap();
    }
    let secret = find(ObjectClass::SECRET_KEY, Attribute::Label(b"sun-aes".to_vec()));
    session.update_attributes(secret[0], &[Attribute::Id(Vec::new())]).unwrap();
    assert!(find(ObjectClass::PRIVATE_KEY, Attribute::Label(b"sun-rsa".to_vec())).is_empty());
    drop(session);

    let fresh = Pkcs11Keystore::new(config("keymgr-test", 2)).unwrap();
    let aliases = fresh.aliases().unwrap();
    assert!(
        aliases.contains(&"sun-rsa".to_owned()) && aliases.contains(&"sun-aes".to_owned()),
        "{aliases:?}"
    );
    let spki = fresh.public_key("sun-rsa").unwrap();
    assert_eq!(spki, file.public_key("mig-rsa").unwrap(), "read from the certificate");
    let wrapped = RsaPublicKey::from_spki_der(&file.public_key("mig-rsa").unwrap())
        .unwrap()
        .oaep_wrap(&[4; 32])
        .unwrap();
    assert_eq!(fresh.rsa_oaep_unwrap("sun-rsa", &wrapped).unwrap().expose(), &[4; 32]);
    let sig = fresh.sign("sun-rsa", SignAlgorithm::Rs256, b"m").unwrap();
    verify(SignAlgorithm::Rs256, &file.public_key("mig-rsa").unwrap(), b"m", &sig).unwrap();
    let sealed = fresh.aes_ecb_encrypt("sun-aes", &[1; 16]).unwrap();
    assert_eq!(file.aes_ecb_decrypt("mig-aes", &sealed).unwrap().expose(), &[1; 16]);
    assert!(matches!(fresh.generate("sun-rsa", KeyKind::Aes256), Err(HsmError::AliasExists(_))));
    fresh.destroy("sun-rsa").unwrap();
    fresh.destroy("sun-aes").unwrap();
    let left = fresh.aliases().unwrap();
    assert!(!left.contains(&"sun-rsa".to_owned()) && !left.contains(&"sun-aes".to_owned()));
    assert!(
        matches!(fresh.certificate("sun-rsa"), Err(HsmError::NoSuchAlias(_))),
        "the certificate went too"
    );
    println!("SunPKCS11's layout read");
}
