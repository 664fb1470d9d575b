//! Signing and verification per algorithm: the primitives alone (a software key, the floor),
//! then `KeyManager::jws_sign` (key choice, access check, header, signature in the keystore or
//! with the unwrapped Ed25519 key) and `jwt_verify`, on the file keystore and on SoftHSM2.
//! Compare with `openssl speed rsa2048 ecdsap256 ed25519` of the same sitting
//! (`docs/PERFORMANCE.md`).
//!
//! As in `keystores.rs`, without `SOFTHSM2_CONF` this makes a SoftHSM token in a temporary
//! folder and re-runs itself; the SoftHSM group is skipped with a notice without SoftHSM2.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use keymgr_core::{JwsSignRequest, KeyManager, KeyManagerConfig, SystemClock, VerifyRequest};
use keymgr_crypto::{SignAlgorithm, SigningKey};
use keymgr_db::Database;
use keymgr_hsm::{Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, RefId};
use keymgr_test_support::softhsm;

const TOKEN: &str = "keymgr-signing-bench";
/// The signed payload: a small JSON document, as ID authentication signs.
const PAYLOAD: &[u8] =
    br#"{"id":"4721","status":"Y","transactionID":"1234567890","responseTime":"2026-12-02T10:00:00.000Z"}"#;

/// (algorithm, reference of ID_REPO that signs with it; "" = the master).
const KEYS: [(SignAlgorithm, &str); 5] = [
    (SignAlgorithm::Rs256, ""),
    (SignAlgorithm::Ps256, ""),
    (SignAlgorithm::Es256, "EC_SECP256R1_SIGN"),
    (SignAlgorithm::Es256K, "EC_SECP256K1_SIGN"),
    (SignAlgorithm::EdDsa, "ED25519_SIGN"),
];

fn primitives(c: &mut Criterion) {
    let mut group = c.benchmark_group("sign/primitive");
    for (alg, _) in KEYS {
        let key = SigningKey::generate(alg.key_kind()).unwrap();
        let spki = key.public_key_spki().unwrap();
        let signature = key.sign(alg, PAYLOAD).unwrap();
        group.bench_function(format!("{alg:?}_sign"), |b| b.iter(|| key.sign(alg, PAYLOAD).unwrap()));
        group.bench_function(format!("{alg:?}_verify"), |b| {
            b.iter(|| keymgr_crypto::verify(alg, &spki, PAYLOAD, &signature).unwrap())
        });
    }
    group.finish();
}

fn service(c: &mut Criterion, name: &str, keystore: Arc<dyn Keystore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("sign.db").to_string_lossy().into_owned();
    let km = KeyManager::new(
        Database::connect(&url, 4).unwrap(),
        keystore,
        Arc::new(SystemClock),
        KeyManagerConfig::default(),
    );
    let app = AppId::new("ID_REPO").unwrap();
    km.run_keygen(std::slice::from_ref(&app)).unwrap();
    let data = keymgr_model::base64::encode(PAYLOAD);
    let mut group = c.benchmark_group(format!("sign/{name}"));
    for (alg, reference) in KEYS {
        let reference = RefId::new(reference).unwrap();
        if !reference.as_str().is_empty() {
            km.generate_ec_sign_key(&app, &reference, false, &Default::default()).unwrap();
        }
        let name = match alg {
            SignAlgorithm::Rs256 => "RS256",
            SignAlgorithm::Ps256 => "PS256",
            SignAlgorithm::Es256 => "ES256",
            SignAlgorithm::Es256K => "ES256K",
            SignAlgorithm::EdDsa => "EdDSA",
        };
        let request = JwsSignRequest {
            app: Some(&app),
            reference: Some(&reference),
            user: "bench",
            data: &data,
            include_payload: true,
            validate_json: true,
            algorithm: Some(name),
            b64: true,
            ..JwsSignRequest::default()
        };
        let token = km.jws_sign(&request).unwrap();
        group.bench_function(format!("jws_sign_{name}"), |b| b.iter(|| km.jws_sign(&request).unwrap()));
        let verify = VerifyRequest {
            token: &token,
            app: Some(&app),
            reference: Some(&reference),
            ..VerifyRequest::default()
        };
        assert!(km.jwt_verify(&verify).unwrap().signature_valid);
        group.bench_function(format!("jwt_verify_{name}"), |b| b.iter(|| km.jwt_verify(&verify).unwrap()));
    }
    group.finish();
}

fn file_keystore(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    service(c, "file", Arc::new(keymgr_benches::file_keystore(dir.path())));
}

fn softhsm(c: &mut Criterion) {
    if std::env::var_os("SOFTHSM2_CONF").is_none() {
        println!("SKIPPED sign/softhsm: SoftHSM2 not installed or SOFTHSM2_CONF not set");
        return;
    }
    let config = Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: TOKEN.into(),
        pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
        pool_size: 2,
    };
    service(c, "softhsm", Arc::new(Pkcs11Keystore::new(config).unwrap()));
}

criterion_group!(benches, primitives, file_keystore, softhsm);

fn main() {
    softhsm::rerun_with_token(TOKEN);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
