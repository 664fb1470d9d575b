//! Shared set-up for the benchmarks in `benches/` (and the compromise test of `keymgr`): a
//! throw-away RSA-2048 recipient, a file keystore, many base keys at once. SoftHSM2 tokens and PostgreSQL databases come from
//! `keymgr-test-support`, a dev-dependency.

#![forbid(unsafe_code)]
// Benchmark set-up only: a broken fixture must stop the run loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use keymgr_core::{KeyManager, wrap_private_key_for_store};
use keymgr_crypto::issue::{
    CertificateIssuer, CertificateProfile, CertificateSpec, DistinguishedNameSpec, issue_certificate,
};
use keymgr_crypto::{Certificate, RsaPrivateKey, SignAlgorithm};
use keymgr_db::{NewKey, StoredKey};
use keymgr_envelope::{Recipient, RecipientKey, seal_text};
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_model::{AppId, KeyAlias, KeyRef, RefId};

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

/// Many base keys quickly, for the compromise test and the re-wrap benchmark: each key gets its
/// own certificate (signed by the application's master in the keystore, so its own thumbprint)
/// and its own `key_store` row wrapped for the master in MOSIP's format, as the key manager
/// makes them; the RSA key pairs under them are drawn from a pool of `distinct`, since
/// generating 10,000 RSA keys would take longer than everything else together.
///
/// Makes `count` base keys of `app` (references `bulk00000`, ...) under its current master,
/// with `distinct` RSA key pairs, and seals one packet to each; returns (reference, packet,
/// envelope).
pub fn bulk_base_keys(
    km: &KeyManager,
    app: &AppId,
    count: usize,
    distinct: usize,
) -> Vec<(RefId, Vec<u8>, String)> {
    let master = km.get_certificate(app, &RefId::new("").unwrap()).unwrap();
    let master_public = master.certificate.rsa_public_key().unwrap();
    let pool: Vec<RsaPrivateKey> = (0..distinct).map(|_| RsaPrivateKey::generate_2048().unwrap()).collect();
    let now = km.now();
    let expires_at = now.plus(time::Duration::days(365)).min(master.expires_at);
    let sign = |m: &[u8]| {
        km.keystore()
            .sign(&master.alias, SignAlgorithm::Rs256, m)
            .map_err(|_| keymgr_crypto::CryptoError::SignFailed)
    };
    let issuer = CertificateIssuer {
        certificate: Some(&master.certificate),
        public_key_spki: master.certificate.spki_der(),
        sign: &sign,
    };
    let mut out = Vec::with_capacity(count);
    for (i, key) in (0..count).zip(pool.iter().cycle()) {
        let reference = RefId::new(format!("bulk{i:05}")).unwrap();
        let spec = CertificateSpec {
            subject: DistinguishedNameSpec {
                common_name: format!("{app}-{reference}"),
                ..Default::default()
            },
            not_before: now,
            not_after: expires_at,
            profile: CertificateProfile::Encryption,
        };
        let spki = key.public_key().unwrap().spki_der().to_vec();
        let cert = issue_certificate(&spec, &spki, &issuer).unwrap();
        let mut id = [0u8; 16];
        keymgr_crypto::fill_random(&mut id).unwrap();
        let alias_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let alias = KeyAlias {
            alias: alias_id.clone(),
            key_ref: KeyRef::new(app.clone(), reference.clone()),
            generated_at: now,
            expires_at,
            thumbprint: Some(cert.thumbprint()),
            unique_ident: Some(alias_id.clone()),
        };
        let stored = StoredKey {
            alias: alias_id,
            master_alias: master.alias.clone(),
            private_key: wrap_private_key_for_store(&key.to_pkcs8_der().unwrap(), &master_public).unwrap(),
            certificate: cert.to_pem(),
        };
        km.database().insert_key(&NewKey { alias: &alias, stored: Some(&stored), actor: "bulk" }).unwrap();
        let packet = format!("packet {i} of {count}").into_bytes();
        let envelope = seal_text(&packet, &Recipient::from_certificate(&cert).unwrap()).unwrap();
        out.push((reference, packet, envelope));
    }
    out
}
