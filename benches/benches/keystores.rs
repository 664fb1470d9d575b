//! Keystore and database hot paths: HSM unwrap and sign on the file keystore and on SoftHSM2,
//! alias lookups by thumbprint and by pair on SQLite and PostgreSQL (10,000 aliases each).
//!
//! SoftHSM reads `SOFTHSM2_CONF` once per process, so without it this benchmark makes a token
//! in a temporary folder and re-runs itself with the variable set. Backends that are missing
//! (no SoftHSM, no PostgreSQL) are skipped with a notice.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group};
use keymgr_crypto::{AsymmetricKind, RsaPublicKey, SignAlgorithm};
use keymgr_db::{Database, NewKey};
use keymgr_hsm::{KeyKind, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{KeyAlias, KeyRef, Thumbprint, UtcTime};
use keymgr_test_support::{postgres, softhsm};

const TOKEN: &str = "keymgr-bench";

fn keystore_ops(c: &mut Criterion, name: &str, ks: &dyn Keystore) {
    let spki = ks.generate("bench-rsa", KeyKind::Asymmetric(AsymmetricKind::Rsa2048)).unwrap().unwrap();
    ks.generate("bench-ec", KeyKind::Asymmetric(AsymmetricKind::EcP256)).unwrap();
    let wrapped = RsaPublicKey::from_spki_der(&spki).unwrap().oaep_wrap(&[1; 32]).unwrap();
    let mut group = c.benchmark_group(format!("keystore/{name}"));
    group.bench_function("rsa2048_oaep_unwrap", |b| {
        b.iter(|| ks.rsa_oaep_unwrap("bench-rsa", &wrapped).unwrap())
    });
    group.bench_function("sign_rs256", |b| {
        b.iter(|| ks.sign("bench-rsa", SignAlgorithm::Rs256, b"payload").unwrap())
    });
    group.bench_function("sign_es256", |b| {
        b.iter(|| ks.sign("bench-ec", SignAlgorithm::Es256, b"payload").unwrap())
    });
    group.finish();
}

fn file_keystore(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    keystore_ops(c, "file", &keymgr_benches::file_keystore(dir.path()));
}

fn softhsm(c: &mut Criterion) {
    if std::env::var_os("SOFTHSM2_CONF").is_none() {
        println!("SKIPPED keystore/softhsm: SoftHSM2 not installed or SOFTHSM2_CONF not set");
        return;
    }
    let config = Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: TOKEN.into(),
        pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
        pool_size: 2,
    };
    let ks = Pkcs11Keystore::new(config).unwrap();
    keystore_ops(c, "softhsm", &ks);
}

fn fill(db: &Database, n: usize) -> (KeyRef, Thumbprint) {
    let t0 = UtcTime::from_unix_millis(1_750_000_000_000).unwrap();
    let mut last = (KeyRef::parse("REGISTRATION", "r0").unwrap(), Thumbprint::from_bytes([0; 32]));
    for i in 0..n {
        let key_ref = KeyRef::parse("REGISTRATION", &format!("r{}", i % 1000)).unwrap();
        let mut tp = [0u8; 32];
        tp[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let alias = KeyAlias {
            alias: uuid::Uuid::new_v4().to_string(),
            key_ref: key_ref.clone(),
            generated_at: t0.plus_days(i as i64 / 1000),
            expires_at: t0.plus_days(730 + i as i64 / 1000),
            thumbprint: Some(Thumbprint::from_bytes(tp)),
            unique_ident: Some(format!("bench-{i}")),
        };
        db.insert_key(&NewKey { alias: &alias, stored: None, actor: "bench" }).unwrap();
        last = (key_ref, Thumbprint::from_bytes(tp));
    }
    last
}

fn lookups(c: &mut Criterion, name: &str, db: &Database) {
    let (pair, thumbprint) = fill(db, 10_000);
    let mut group = c.benchmark_group(format!("db/{name}"));
    group
        .bench_function("alias_by_thumbprint", |b| b.iter(|| db.aliases_by_thumbprint(&thumbprint).unwrap()));
    group.bench_function("aliases_by_pair", |b| b.iter(|| db.aliases_for(&pair).unwrap()));
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&dir.path().join("bench.db").to_string_lossy(), 2).unwrap();
    lookups(c, "sqlite", &db);
}

fn postgres(c: &mut Criterion) {
    let server = postgres::server_url();
    if postgres::connect_admin(&server).is_err() {
        println!("SKIPPED db/postgres: no PostgreSQL at {server}");
        return;
    }
    let test_db = postgres::TestDb::create(&server, "keymgr_bench");
    let db = Database::connect(&test_db.url(), 2).unwrap();
    lookups(c, "postgres", &db);
}

criterion_group!(benches, file_keystore, softhsm, sqlite, postgres);

fn main() {
    softhsm::rerun_with_token(TOKEN);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
