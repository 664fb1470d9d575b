//! Key states and the lifecycle operations, on SQLite and PostgreSQL with the file keystore,
//! and again on a SoftHSM2 token (`the_suite_on_softhsm` re-runs this binary with one): every
//! transition and each refused one, compromise of a base key and of a master (children
//! re-wrapped, a run interrupted midway and resumed to the same end), envelope rewrap, retire
//! dry run and apply (the token object gone, the row shredded), each step audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use keymgr_core::{
    CertificateInHeader, CompromiseRequest, JwsSignRequest, KeyManager, KeyManagerConfig, KeyState,
    KeymgrError, ManualClock, VerifyRequest,
};
use keymgr_db::{Database, StoredKey};
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AccessAllowed, AppId, KeyRef, RefId, UtcTime};
use keymgr_test_support::{postgres, softhsm};
use time::Duration;

const ON_SOFTHSM: &str = "KEYMGR_KEY_STATES_ON_SOFTHSM";

/// Runs every other test of this file again with the keystore on a SoftHSM2 token.
#[test]
fn the_suite_on_softhsm() {
    if std::env::var_os(ON_SOFTHSM).is_some() || !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("states");
    let out = token.run_current_exe(ON_SOFTHSM, &["--test-threads=1", "--skip", "the_suite_on_softhsm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the suite failed on SoftHSM2");
    assert!(text.contains("test result: ok") && !text.contains(" 0 passed"), "the suite ran");
}

struct Setup {
    _dir: tempfile::TempDir,
    _pg: Option<postgres::TestDb>,
    clock: Arc<ManualClock>,
    keystore: Arc<dyn Keystore>,
    url: String,
}

fn setup(postgres_prefix: Option<&str>) -> Option<Setup> {
    let pg = if let Some(prefix) = postgres_prefix {
        let server = postgres::server_or_skip()?;
        Some(postgres::TestDb::create(&server, prefix))
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> = if std::env::var_os(ON_SOFTHSM).is_some() {
        Arc::new(
            Pkcs11Keystore::new(Pkcs11Config {
                module: softhsm::MODULE.into(),
                token_label: "states".into(),
                pin: zeroize::Zeroizing::new(softhsm::PIN.into()),
                pool_size: 4,
            })
            .unwrap(),
        )
    } else {
        Arc::new(
            FileKeystore::open_or_create(
                dir.path().join("keys.kmks"),
                b"pin",
                KdfParams::insecure_for_tests(),
            )
            .unwrap(),
        )
    };
    let url = match &pg {
        Some(db) => db.url(),
        None => dir.path().join("keymgr.db").to_string_lossy().into_owned(),
    };
    let clock = Arc::new(ManualClock::new(UtcTime::parse_lenient("2026-01-01T00:00:00Z").unwrap()));
    Some(Setup { _dir: dir, _pg: pg, clock, keystore, url })
}

fn manager(s: &Setup, config: KeyManagerConfig) -> KeyManager {
    let km =
        KeyManager::new(Database::connect(&s.url, 4).unwrap(), s.keystore.clone(), s.clock.clone(), config);
    km.run_keygen(&[]).unwrap();
    for a in ["REGISTRATION", "RESIDENT"] {
        let mut policy = km.database().policy(&app(a)).unwrap().unwrap();
        policy.access_allowed = AccessAllowed::Anyone;
        km.set_policy(&policy).unwrap();
    }
    km
}

fn app(a: &str) -> AppId {
    AppId::new(a).unwrap()
}

fn reference(r: &str) -> RefId {
    RefId::new(r).unwrap()
}

fn request(key_ref: KeyRef) -> CompromiseRequest<'static> {
    CompromiseRequest {
        key_ref,
        alias: None,
        reason: "laptop stolen".into(),
        who: "custodian".into(),
        dry_run: false,
        rotate_children: true,
        recovery_until: None,
        progress: None,
    }
}

fn code<T>(r: Result<T, KeymgrError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn states_transitions_rewrap_and_retire(s: &Setup) {
    let km = manager(s, KeyManagerConfig::default());
    let (reg, pair) = (app("REGISTRATION"), reference("10001_110011"));
    let first = km.get_certificate(&reg, &pair).unwrap();
    let old_env = km.encrypt(&reg, &pair, b"old packet", None, None).unwrap();
    let salted = km.encrypt(&reg, &pair, b"salted packet", Some(&[9u8; 12]), Some(b"aad")).unwrap();
    let statuses = km.key_statuses(Some(&KeyRef::new(reg.clone(), pair.clone()))).unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, KeyState::Active);

    // Deactivate: the pair gets a successor at once; the old key still decrypts.
    assert_eq!(km.deactivate_key(&first.alias, "rotated early", "custodian").unwrap(), KeyState::Active);
    let second = km.get_certificate(&reg, &pair).unwrap();
    assert_ne!(second.alias, first.alias);
    assert_eq!(&*km.decrypt(&reg, &pair, old_env.as_bytes(), None, None, "u").unwrap(), b"old packet");
    // Refused transitions: deactivated twice; a state name that is not set by hand.
    assert_eq!(code(km.deactivate_key(&first.alias, "again", "custodian")), "KER-KMS-409");
    assert_eq!(code(km.set_recovery_window(&first.alias, None, "no", "custodian")), "KER-KMS-409");

    // Rewrap: the old envelope comes back sealed to the current key, same plaintext.
    let out = km.rewrap(&reg, &pair, old_env.as_bytes(), None, None, "u", false).unwrap();
    assert!(out.changed);
    assert_eq!(out.from_state, KeyState::Deactivated);
    assert_eq!(out.to_thumbprint, second.certificate.thumbprint());
    assert_eq!(&*km.decrypt(&reg, &pair, out.data.as_bytes(), None, None, "u").unwrap(), b"old packet");
    // An envelope of the current key comes back as it was; a salted one keeps its mode.
    let same = km.rewrap(&reg, &pair, out.data.as_bytes(), None, None, "u", false).unwrap();
    assert!(!same.changed && same.data == out.data);
    let resalted =
        km.rewrap(&reg, &pair, salted.as_bytes(), Some(&[9u8; 12]), Some(b"aad"), "u", false).unwrap();
    let plain =
        km.decrypt(&reg, &pair, resalted.data.as_bytes(), Some(&[9u8; 12]), Some(b"aad"), "u").unwrap();
    assert_eq!(&*plain, b"salted packet");
    // A tampered envelope is refused and nothing is sealed.
    let mut bad = old_env.clone().into_bytes();
    let last = bad.len() - 3;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(code(km.rewrap(&reg, &pair, &bad, None, None, "u", false)), "KER-KMS-019");

    // Compromise of the current key: refused for decrypt (KER-KMS-423) and for rewrap unless
    // accepted; a successor at once.
    let env2 = km.encrypt(&reg, &pair, b"second packet", None, None).unwrap();
    let report = km.compromise(&request(KeyRef::new(reg.clone(), pair.clone()))).unwrap();
    assert_eq!(report.key.alias, second.alias);
    assert_eq!(report.state_before, KeyState::Active);
    let third = report.successor.clone().unwrap();
    assert_ne!(third.alias, second.alias);
    assert_eq!(km.get_certificate(&reg, &pair).unwrap().alias, third.alias);
    assert_eq!(code(km.decrypt(&reg, &pair, env2.as_bytes(), None, None, "u")), "KER-KMS-423");
    assert_eq!(code(km.rewrap(&reg, &pair, env2.as_bytes(), None, None, "u", false)), "KER-KMS-423");
    // Accepting a compromised key's envelope still needs the operator's recovery window.
    assert_eq!(code(km.rewrap(&reg, &pair, env2.as_bytes(), None, None, "u", true)), "KER-KMS-423");
    // Another replica sees the state too (it checks for changes at every use here; by default
    // every two seconds).
    let mut eager = KeyManagerConfig::default();
    eager.lifecycle.state_check_interval = std::time::Duration::ZERO;
    let replica =
        KeyManager::new(Database::connect(&s.url, 2).unwrap(), s.keystore.clone(), s.clock.clone(), eager);
    assert_eq!(code(replica.decrypt(&reg, &pair, env2.as_bytes(), None, None, "u")), "KER-KMS-423");
    // A recovery window lets it decrypt, each use audited.
    let too_long = km.now().plus(Duration::days(31));
    assert_eq!(code(km.set_recovery_window(&second.alias, Some(too_long), "x", "custodian")), "KER-KMS-005");
    assert_eq!(
        code(km.set_recovery_window(&second.alias, None, &"x".repeat(513), "custodian")),
        "KER-KMS-005"
    );
    let until = km.now().plus(Duration::hours(4));
    km.set_recovery_window(&second.alias, Some(until), "re-encrypting the backlog", "custodian").unwrap();
    assert_eq!(&*km.decrypt(&reg, &pair, env2.as_bytes(), None, None, "u").unwrap(), b"second packet");
    // Inside the window, rewrap takes the envelope only when the caller accepts it.
    assert_eq!(code(km.rewrap(&reg, &pair, env2.as_bytes(), None, None, "u", false)), "KER-KMS-423");
    let saved = km.rewrap(&reg, &pair, env2.as_bytes(), None, None, "u", true).unwrap();
    assert_eq!(&*km.decrypt(&reg, &pair, saved.data.as_bytes(), None, None, "u").unwrap(), b"second packet");
    let log = km.database().audit_log(50).unwrap();
    assert!(log.iter().any(|e| e.action == "compromised_key_used" && e.actor == "u"));
    assert!(
        log.iter().any(|e| e.action == "key_compromised" && e.detail.as_deref().unwrap().contains("laptop"))
    );
    assert!(log.iter().any(|e| e.action == "key_deactivated" && e.actor == "custodian"));
    s.clock.advance(Duration::hours(5));
    assert_eq!(code(km.decrypt(&reg, &pair, env2.as_bytes(), None, None, "u")), "KER-KMS-423");
    // Compromised keys cannot be deactivated; deactivated ones can be compromised.
    assert_eq!(code(km.deactivate_key(&second.alias, "x", "custodian")), "KER-KMS-409");

    // Retire: nothing inside retention; with a retention of 0 days, the two old keys.
    let plan = km.retire(false, "custodian").unwrap();
    assert!(plan.candidates.is_empty(), "{:?}", plan.candidates);
    assert!(plan.kept.iter().any(|(k, why)| k.alias == first.alias && why.contains("inside retention")));
    km.set_retention(&reg, 0, "custodian", Some("test")).unwrap();
    assert_eq!(km.retention_days(&reg).unwrap(), 0);
    let plan = km.retire(false, "custodian").unwrap();
    let listed: Vec<&str> = plan.candidates.iter().map(|c| c.key.alias.as_str()).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&first.alias.as_str()) && listed.contains(&second.alias.as_str()));
    assert!(plan.destroyed.is_empty());
    // The dry run changed nothing.
    assert_eq!(&*km.decrypt(&reg, &pair, old_env.as_bytes(), None, None, "u").unwrap(), b"old packet");
    let applied = km.retire(true, "custodian").unwrap();
    assert_eq!(applied.destroyed.len(), 2, "{:?}", applied.failed);
    assert_eq!(code(km.decrypt(&reg, &pair, old_env.as_bytes(), None, None, "u")), "KER-KMS-410");
    assert_eq!(code(replica.decrypt(&reg, &pair, old_env.as_bytes(), None, None, "u")), "KER-KMS-410");
    let row = km.database().stored_key(&first.alias).unwrap().unwrap();
    assert_eq!(row.private_key, StoredKey::DESTROYED);
    assert!(row.certificate.contains("BEGIN CERTIFICATE"));
    // The current key is untouched; nothing leaves destroyed; a second run finds nothing.
    assert_eq!(&*km.decrypt(&reg, &pair, saved.data.as_bytes(), None, None, "u").unwrap(), b"second packet");
    assert_eq!(code(km.deactivate_key(&first.alias, "x", "custodian")), "KER-KMS-409");
    assert!(km.retire(true, "custodian").unwrap().candidates.is_empty());

    // A signature by a compromised signing key proves nothing any more, on every replica.
    let data = keymgr_model::base64::encode(br#"{"id":"4721"}"#);
    let sign = || {
        km.jwt_sign(&JwsSignRequest {
            user: "ida",
            data: &data,
            certificate: CertificateInHeader::Leaf,
            include_payload: true,
            ..JwsSignRequest::default()
        })
        .unwrap()
    };
    let verified = |km: &KeyManager, token: &str| {
        km.jwt_verify(&VerifyRequest { token, ..VerifyRequest::default() }).unwrap().signature_valid
    };
    let old_token = sign();
    assert!(verified(&km, &old_token) && verified(&replica, &old_token));
    km.compromise(&request(KeyRef::new(app("KERNEL"), reference("SIGN")))).unwrap();
    assert!(!verified(&km, &old_token));
    assert!(!verified(&replica, &old_token), "the replica re-read the states");
    let new_token = sign();
    assert!(verified(&km, &new_token) && verified(&replica, &new_token));
    let report = km.verify_audit().unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
}

#[test]
fn states_transitions_rewrap_and_retire_on_sqlite() {
    states_transitions_rewrap_and_retire(&setup(None).unwrap());
}

#[test]
fn states_transitions_rewrap_and_retire_on_postgres() {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        return; // the PostgreSQL variant runs once, with the file keystore
    }
    let Some(s) = setup(Some("keymgr_states")) else { return };
    states_transitions_rewrap_and_retire(&s);
}

fn master_compromise(s: &Setup) {
    let mut config = KeyManagerConfig::default();
    config.lifecycle.rewrap_batch = 4;
    let km = manager(s, config);
    let reg = app("REGISTRATION");
    let master_ref = KeyRef::master(reg.clone());
    let old_master = km.get_certificate(&reg, &reference("")).unwrap();
    let mut packets = Vec::new();
    for i in 0..12 {
        let pair = reference(&format!("1000{i}_110011"));
        let env = km.encrypt(&reg, &pair, format!("packet {i}").as_bytes(), None, None).unwrap();
        packets.push((pair, env));
    }
    let other_app = km.get_certificate(&app("RESIDENT"), &reference("r1")).unwrap();

    // The dry run reports and changes nothing.
    let dry = km.compromise(&CompromiseRequest { dry_run: true, ..request(master_ref.clone()) }).unwrap();
    assert_eq!(dry.key.alias, old_master.alias);
    assert_eq!((dry.children_before, dry.rewrapped, dry.remaining), (12, 0, 12));
    assert_eq!(dry.exposed_pairs.len(), 12);
    assert!(dry.successor.is_none());
    assert_eq!(km.get_certificate(&reg, &reference("")).unwrap().alias, old_master.alias);
    assert_eq!(km.key_statuses(Some(&master_ref)).unwrap()[0].state, KeyState::Active);

    // A run killed after its first batch (a panic from the progress callback)...
    let stop = |done: usize, _total: usize| {
        if done >= 4 {
            panic!("killed");
        }
    };
    let killed = catch_unwind(AssertUnwindSafe(|| {
        km.compromise(&CompromiseRequest { progress: Some(&stop), ..request(master_ref.clone()) })
    }));
    assert!(killed.is_err());
    let counts = km.database().live_children_counts().unwrap();
    assert_eq!(counts.get(&old_master.alias).copied(), Some(8));
    // ...and resumed: the same key, not its successor.
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    let report = km
        .compromise(&CompromiseRequest { progress: Some(&progress), ..request(master_ref.clone()) })
        .unwrap();
    assert!(report.resumed);
    assert_eq!(report.key.alias, old_master.alias);
    assert_eq!((report.children_before, report.rewrapped, report.remaining), (8, 8, 0));
    assert!(report.failed.is_empty());
    assert_eq!(seen.lock().unwrap().last(), Some(&(8, 8)));
    assert_eq!(report.rotated_pairs.len(), 12);
    let new_master = report.successor.clone().unwrap();
    assert_ne!(new_master.alias, old_master.alias);
    let counts = km.database().live_children_counts().unwrap();
    assert_eq!(counts.get(&old_master.alias), None);
    assert_eq!(counts.get(&new_master.alias).copied(), Some(12));
    // Every packet still opens (its key now unwrapped by the new master), on a fresh replica
    // with cold caches too; new packets go to new keys under the new master.
    let replica = KeyManager::new(
        Database::connect(&s.url, 2).unwrap(),
        s.keystore.clone(),
        s.clock.clone(),
        KeyManagerConfig::default(),
    );
    for (i, (pair, env)) in packets.iter().enumerate() {
        let plain = replica.decrypt(&reg, pair, env.as_bytes(), None, None, "u").unwrap();
        assert_eq!(&*plain, format!("packet {i}").as_bytes());
        let fresh = km.get_certificate(&reg, pair).unwrap();
        assert!(
            fresh.certificate.is_signed_by(&km.get_certificate(&reg, &reference("")).unwrap().certificate)
        );
    }
    // Another application's keys are untouched.
    assert_eq!(km.get_certificate(&app("RESIDENT"), &reference("r1")).unwrap().alias, other_app.alias);
    // Running it again finds nothing left to do and compromises nothing else.
    let again = km.compromise(&CompromiseRequest { dry_run: true, ..request(master_ref.clone()) }).unwrap();
    assert_eq!(again.key.alias, new_master.alias, "a dry run names the current key");
    assert_eq!(
        km.key_statuses(Some(&master_ref))
            .unwrap()
            .iter()
            .filter(|k| k.state == KeyState::Compromised)
            .count(),
        1
    );

    // ROOT: its report names the masters and signing keys it certified.
    let root =
        km.compromise(&CompromiseRequest { dry_run: true, ..request(KeyRef::master(app("ROOT"))) }).unwrap();
    assert!(root.dependents.iter().any(|d| d.id == new_master.alias && d.relation == "certified by it"));
    assert!(root.dependents.len() >= 3, "{:?}", root.dependents);

    // The old master retires once its retention ends: its token object goes, its certificate
    // stays as the tombstone, and the chain of its old children's certificates still reads.
    km.set_retention(&reg, 0, "custodian", None).unwrap();
    let plan = km.retire(false, "custodian").unwrap();
    assert!(plan.candidates.iter().any(|c| c.key.alias == old_master.alias && c.holder == "keystore"));
    let applied = km.retire(true, "custodian").unwrap();
    assert!(applied.destroyed.contains(&old_master.alias), "{:?}", applied.failed);
    assert!(s.keystore.certificate(&old_master.alias).unwrap_or(None).is_none());
    assert!(!s.keystore.aliases().unwrap().contains(&old_master.alias));
    let statuses = km.key_statuses(Some(&master_ref)).unwrap();
    let old = statuses.iter().find(|k| k.key.alias == old_master.alias).unwrap();
    assert_eq!(old.state, KeyState::Destroyed);
    assert!(old.record.as_ref().unwrap().certificate.as_deref().unwrap().contains("BEGIN CERTIFICATE"));
    let report = km.verify_audit().unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    let log = km.database().audit_log(200).unwrap();
    assert!(log.iter().filter(|e| e.action == "rewrap_batch").count() >= 3);
    assert!(
        log.iter().any(|e| e.action == "key_destroyed" && e.key_alias.as_deref() == Some(&old_master.alias))
    );

    // A run stopped after its last batch, before it recorded the response as finished, is
    // resumed too: the next run does not compromise the successor.
    let last_batch = |done: usize, total: usize| {
        if done == total {
            panic!("killed after the last batch");
        }
    };
    let killed = catch_unwind(AssertUnwindSafe(|| {
        km.compromise(&CompromiseRequest { progress: Some(&last_batch), ..request(master_ref.clone()) })
    }));
    assert!(killed.is_err());
    let third = km.get_certificate(&reg, &reference("")).unwrap();
    assert_ne!(third.alias, new_master.alias);
    let report = km.compromise(&request(master_ref.clone())).unwrap();
    assert!(report.resumed && report.key.alias == new_master.alias, "{report:?}");
    assert_eq!((report.rewrapped, report.remaining), (0, 0));
    assert_eq!(report.rotated_pairs.len(), 12, "the rotation the stopped run did not reach");
    assert_eq!(km.get_certificate(&reg, &reference("")).unwrap().alias, third.alias);
    // Finished now: the next run would compromise the current master.
    let next = km.compromise(&CompromiseRequest { dry_run: true, ..request(master_ref.clone()) }).unwrap();
    assert_eq!(next.key.alias, third.alias);
}

#[test]
fn master_compromise_on_sqlite() {
    master_compromise(&setup(None).unwrap());
}

#[test]
fn master_compromise_on_postgres() {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        return;
    }
    let Some(s) = setup(Some("keymgr_compromise")) else { return };
    master_compromise(&s);
}
