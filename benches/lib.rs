//! Shared set-up for the criterion benchmarks in `benches/`: a throw-away RSA-2048 recipient.

// Benchmark set-up only: a broken fixture must stop the run loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_envelope::{Recipient, RecipientKey};

/// The fixture key pair of `testdata/`, as a recipient to seal for and a key to open with.
pub fn fixture_recipient() -> (Recipient, RecipientKey) {
    let cert = Certificate::from_pem(include_bytes!("../testdata/fixture-cert.pem"))
        .unwrap_or_else(|e| panic!("fixture certificate: {e}"));
    let key = RsaPrivateKey::from_pkcs8_pem(include_bytes!("../testdata/fixture-key.pem"))
        .unwrap_or_else(|e| panic!("fixture key: {e}"));
    let recipient = Recipient::from_certificate(&cert).unwrap_or_else(|e| panic!("recipient: {e}"));
    let keys = RecipientKey::new(key, &cert).unwrap_or_else(|e| panic!("key pair: {e}"));
    (recipient, keys)
}

/// Payload sizes of the envelope benchmarks: 1 KiB, 64 KiB, 1 MiB, 16 MiB.
pub const SIZES: [usize; 4] = [1 << 10, 64 << 10, 1 << 20, 16 << 20];

/// SoftHSM2's PKCS#11 module.
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// SoftHSM reads `SOFTHSM2_CONF` once per process: when SoftHSM2 is installed and the variable
/// is not set, this makes a token labelled `label` (user PIN `1234`) in a temporary folder,
/// re-runs the current benchmark with the variable set, and exits with its status. Otherwise
/// it returns and the benchmark runs here.
pub fn rerun_with_softhsm_token(label: &str) {
    if std::env::var_os("SOFTHSM2_CONF").is_some() || !std::path::Path::new(SOFTHSM).exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", tokens.display()),
    )
    .unwrap();
    let init = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "5678"])
        .env("SOFTHSM2_CONF", &conf)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(init.success(), "softhsm2-util --init-token");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .status()
        .unwrap();
    std::process::exit(status.code().unwrap_or(1));
}
