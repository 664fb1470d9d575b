//! Re-wrap rate of a compromise response: a master with `KEYMGR_REWRAP_KEYS` (default 10,000)
//! base keys is compromised and every key re-wrapped under its successor (each key decrypted
//! with the old master inside the keystore, encrypted for the new one, written back in batches
//! with an audit row each), on the file keystore and on SoftHSM2, SQLite in both. One timed run
//! per keystore, not a criterion sample: the operation is minutes of work at most, run rarely,
//! and the number an operator plans with is the rate. Compare with `openssl speed rsa2048`
//! (one RSA private operation per key) in `docs/PERFORMANCE.md`.
//!
//! As in `keystores.rs`, without `SOFTHSM2_CONF` this makes a SoftHSM token in a temporary
//! folder and re-runs itself; the SoftHSM run is skipped with a notice without SoftHSM2.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use keymgr_core::{CompromiseRequest, KeyManager, KeyManagerConfig, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, KeyRef};
use keymgr_test_support::softhsm;

const TOKEN: &str = "keymgr-rewrap-bench";

fn run(name: &str, keystore: Arc<dyn Keystore>, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&dir.path().join("bench.db").to_string_lossy(), 4).unwrap();
    let km = KeyManager::new(db, keystore, Arc::new(SystemClock), KeyManagerConfig::default());
    let app = AppId::new("REGISTRATION").unwrap();
    km.run_keygen(std::slice::from_ref(&app)).unwrap();
    let made = Instant::now();
    keymgr_benches::bulk_base_keys(&km, &app, count, 16);
    let made = made.elapsed();
    let request = CompromiseRequest {
        key_ref: KeyRef::master(app.clone()),
        alias: None,
        reason: "benchmark".into(),
        who: "bench".into(),
        dry_run: false,
        rotate_children: false,
        recovery_until: None,
        progress: None,
    };
    let started = Instant::now();
    let report = km.compromise(&request).unwrap();
    let took = started.elapsed();
    assert_eq!((report.rewrapped, report.remaining), (count, 0));
    println!(
        "rewrap/{name}: {count} base keys re-wrapped in {:.2} s ({:.0} keys/s; report included); {count} keys made in {:.1} s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        made.as_secs_f64()
    );
}

fn main() {
    softhsm::rerun_with_token(TOKEN);
    let count = std::env::var("KEYMGR_REWRAP_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    run("file", Arc::new(keymgr_benches::file_keystore(dir.path())), count);
    if std::env::var_os("SOFTHSM2_CONF").is_none() || !softhsm::installed() {
        println!("SKIPPED rewrap/softhsm: SoftHSM2 not installed or SOFTHSM2_CONF not set");
        return;
    }
    let config = Pkcs11Config {
        module: softhsm::MODULE.into(),
        token_label: TOKEN.into(),
        pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
        pool_size: 4,
    };
    run("softhsm", Arc::new(Pkcs11Keystore::new(config).unwrap()), count);
}
