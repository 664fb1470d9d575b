//! The file keystore: the shared behaviour suite, then what a file can go through: reopening,
//! a wrong PIN, damage, truncation, a crash before the rename, a second process, many threads.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use keymgr_crypto::{AsymmetricKind, RsaPublicKey};
use keymgr_hsm::{FileKeystore, HsmError, KdfParams, KeyKind, Keystore};

const PIN: &[u8] = b"correct horse battery staple";

fn open(path: &std::path::Path) -> Result<FileKeystore, HsmError> {
    FileKeystore::open_or_create(path, PIN, KdfParams::insecure_for_tests())
}

#[test]
fn passes_the_behaviour_suite_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let ks = open(&path).unwrap();
    common::behaviour_suite(&ks, "file");
    let before = ks.aliases().unwrap();
    let spki = ks.public_key("file-rsa").unwrap();
    drop(ks);

    let ks = FileKeystore::open(&path, PIN).unwrap();
    assert_eq!(ks.aliases().unwrap(), before);
    assert_eq!(ks.public_key("file-rsa").unwrap(), spki);
    assert_eq!(ks.certificate("file-rsa").unwrap(), Some(common::some_certificate()));
    let wrapped = RsaPublicKey::from_spki_der(&spki).unwrap().oaep_wrap(b"after reopening").unwrap();
    assert_eq!(ks.rsa_oaep_unwrap("file-rsa", &wrapped).unwrap().expose(), b"after reopening");
}

#[cfg(unix)]
#[test]
fn file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let ks = open(&path).unwrap();
    ks.generate("a", KeyKind::Aes256).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn wrong_pin_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    drop(open(&path).unwrap());
    assert_eq!(FileKeystore::open(&path, b"wrong").map(drop), Err(HsmError::WrongPin));
    assert!(FileKeystore::open(&path, PIN).is_ok());
}

#[test]
fn damaged_or_truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let ks = open(&path).unwrap();
    ks.generate("k", KeyKind::Asymmetric(AsymmetricKind::EcP256)).unwrap();
    drop(ks);
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 1;
    for (what, bytes) in [
        ("flipped body byte", flipped),
        ("truncated", good[..good.len() - 5].to_vec()),
        ("header only", good[..77].to_vec()),
        ("empty", Vec::new()),
        ("not a keystore", b"hello world".to_vec()),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        match FileKeystore::open(&path, PIN) {
            Err(HsmError::Corrupt { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(FileKeystore::open(&path, PIN).unwrap().aliases().unwrap(), ["k"]);
}

#[test]
fn crash_between_temp_write_and_rename_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let ks = open(&path).unwrap();
    ks.generate("old", KeyKind::Aes256).unwrap();
    drop(ks);
    // A crash after the temporary file was (partly) written and before the rename leaves
    // exactly this behind: the old keystore and a stray temporary file.
    std::fs::write(dir.path().join(".keys.kmks.tmp-99999-7"), b"half-written new keystore").unwrap();
    let ks = FileKeystore::open(&path, PIN).unwrap();
    assert_eq!(ks.aliases().unwrap(), ["old"]);
    ks.generate("new", KeyKind::Aes256).unwrap();
    assert_eq!(FileKeystore::open(&path, PIN).map(drop), Err(HsmError::InUse(path.display().to_string())));
}

#[test]
fn second_opener_gets_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let first = open(&path).unwrap();
    assert_eq!(open(&path).map(drop), Err(HsmError::InUse(path.display().to_string())));
    drop(first);
    assert!(open(&path).is_ok(), "the lock goes with the first opener");
}

/// A second process, not just a second handle: the child re-runs this test binary with an
/// environment variable that makes it try the lock and report.
#[test]
fn second_process_gets_in_use() {
    if let Some(path) = std::env::var_os("KEYMGR_TEST_LOCK_CHILD") {
        match FileKeystore::open(std::path::PathBuf::from(path), PIN) {
            Err(HsmError::InUse(_)) => std::process::exit(42),
            other => panic!("child expected InUse, got {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let _held = open(&path).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["second_process_gets_in_use", "--exact", "--nocapture"])
        .env("KEYMGR_TEST_LOCK_CHILD", &path)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(42), "the child process saw the lock");
}

#[test]
fn many_threads_share_one_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let ks = Arc::new(open(&dir.path().join("keys.kmks")).unwrap());
    let spki = ks.generate("shared", KeyKind::Asymmetric(AsymmetricKind::Rsa2048)).unwrap().unwrap();
    let public = RsaPublicKey::from_spki_der(&spki).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let ks = Arc::clone(&ks);
            let public = public.clone();
            std::thread::spawn(move || {
                for i in 0..4 {
                    ks.generate(&format!("t{t}-{i}"), KeyKind::Aes256).unwrap();
                    let msg = [t as u8; 32];
                    let wrapped = public.oaep_wrap(&msg).unwrap();
                    assert_eq!(ks.rsa_oaep_unwrap("shared", &wrapped).unwrap().expose(), &msg);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(ks);
    let reopened = FileKeystore::open(dir.path().join("keys.kmks"), PIN).unwrap();
    assert_eq!(reopened.aliases().unwrap().len(), 1 + 8 * 4, "every write landed");
}

/// Ed25519 keys (MOSIP's `ED25519_SIGN`) live in the file keystore like the other signing
/// keys and survive reopening; the signature is plain Ed25519 (RFC 8032).
#[test]
fn ed25519_keys_sign_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.kmks");
    let ks = open(&path).unwrap();
    let spki = ks.generate("ed", KeyKind::Asymmetric(AsymmetricKind::Ed25519)).unwrap().unwrap();
    assert_eq!(keymgr_crypto::spki::key_kind(&spki), Some(AsymmetricKind::Ed25519));
    let sig = ks.sign("ed", keymgr_crypto::SignAlgorithm::EdDsa, b"message").unwrap();
    assert_eq!(sig.len(), 64);
    keymgr_crypto::verify(keymgr_crypto::SignAlgorithm::EdDsa, &spki, b"message", &sig).unwrap();
    assert!(ks.sign("ed", keymgr_crypto::SignAlgorithm::Es256, b"message").is_err(), "wrong algorithm");
    drop(ks);
    let ks = FileKeystore::open(&path, PIN).unwrap();
    let again = ks.sign("ed", keymgr_crypto::SignAlgorithm::EdDsa, b"message").unwrap();
    keymgr_crypto::verify(keymgr_crypto::SignAlgorithm::EdDsa, &spki, b"message", &again).unwrap();
}
