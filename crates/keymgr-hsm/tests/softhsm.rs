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

use keymgr_crypto::{AsymmetricKind, RsaPublicKey, SignAlgorithm, verify};
use keymgr_hsm::{HsmError, KeyKind, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_test_support::softhsm;
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
    println!("SOFTHSM SUITE DONE");
}
