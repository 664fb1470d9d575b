//! Shared set-up for the criterion benchmarks in `benches/`: a throw-away RSA-2048 recipient
//! and a file keystore. SoftHSM2 tokens and PostgreSQL databases come from
//! `keymgr-test-support`, a dev-dependency.

#![forbid(unsafe_code)]
// Benchmark set-up only: a broken fixture must stop the run loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_envelope::{Recipient, RecipientKey};
use keymgr_hsm::{FileKeystore, KdfParams};

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

/// A file keystore `bench.kmks` in `dir` (PIN `bench`, the fast test KDF).
pub fn file_keystore(dir: &Path) -> FileKeystore {
    FileKeystore::open_or_create(dir.join("bench.kmks"), b"bench", KdfParams::insecure_for_tests())
        .unwrap_or_else(|e| panic!("file keystore: {e}"))
}
