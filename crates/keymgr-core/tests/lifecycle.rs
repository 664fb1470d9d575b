//! The key manager end to end on SQLite with the file keystore, and the whole suite again on a
//! SoftHSM2 token (`the_suite_on_softhsm` re-runs this test binary with the token), with a manual
//! clock: the key generator, the certificate chain, the registration-client flow, years of
//! rotation, revocation, the caches, MOSIP's error codes, and racing replicas.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use keymgr_core::{DecryptionScope, KeyManager, KeyManagerConfig, KeymgrError, ManualClock, NewPairLimits};
use keymgr_crypto::Certificate;
use keymgr_db::Database;
use keymgr_envelope::{Recipient, seal_text};
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AccessAllowed, AppId, KeyRef, RefId, UtcTime};
use keymgr_test_support::{postgres, softhsm};
use time::Duration;

struct Setup {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    keystore: Arc<dyn Keystore>,
    url: String,
}

/// Set in the child process that runs the suite on a SoftHSM2 token.
const ON_SOFTHSM: &str = "KEYMGR_CORE_ON_SOFTHSM";

/// Runs every other test of this file again with the keystore on a SoftHSM2 token: masters
/// generated in the token, certificates signed there, base keys unwrapped there (raw RSA and
/// software OAEP decoding, as SoftHSM2 refuses OAEP-SHA256). SoftHSM reads `SOFTHSM2_CONF`
/// once per process, hence the child process; its tests run one at a time, as SoftHSM2's file
/// store cannot take object writes from several keystore instances at once.
#[test]
fn the_suite_on_softhsm() {
    if std::env::var_os(ON_SOFTHSM).is_some() {
        return;
    }
    if !softhsm::installed_or_skip() {
        return;
    }
    let token = softhsm::Token::new("core");
    let out = token.run_current_exe(ON_SOFTHSM, &["--test-threads=1", "--skip", "the_suite_on_softhsm"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the suite failed on SoftHSM2");
    assert!(text.contains("test result: ok") && !text.contains(" 0 passed"), "the suite ran");
}

fn t0() -> UtcTime {
    UtcTime::parse_lenient("2026-01-01T00:00:00Z").unwrap()
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keystore: Arc<dyn Keystore> = if std::env::var_os(ON_SOFTHSM).is_some() {
        Arc::new(
            Pkcs11Keystore::new(Pkcs11Config {
                module: softhsm::MODULE.into(),
                token_label: "core".into(),
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
    let url = dir.path().join("keymgr.db").to_string_lossy().into_owned();
    Setup { _dir: dir, clock: Arc::new(ManualClock::new(t0())), keystore, url }
}

fn manager(s: &Setup, config: KeyManagerConfig) -> KeyManager {
    KeyManager::new(Database::connect(&s.url, 4).unwrap(), s.keystore.clone(), s.clock.clone(), config)
}

fn app(a: &str) -> AppId {
    AppId::new(a).unwrap()
}

fn reference(r: &str) -> RefId {
    RefId::new(r).unwrap()
}

fn code(e: KeymgrError) -> &'static str {
    e.code()
}

#[test]
fn keygen_chain_and_the_registration_client_flow() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());

    // A master before the key generator ran is KER-KMS-012, a base key's signer KER-KMS-011/012.
    assert_eq!(
        km.get_certificate(&app("REGISTRATION"), &reference("")).map(drop).map_err(code),
        Err("KER-KMS-012")
    );

    let report = km.run_keygen(&[]).unwrap();
    let made: Vec<String> = report.created.iter().map(|(k, _)| k.to_string()).collect();
    assert!(made.contains(&"(ROOT, \"\")".to_owned()));
    assert!(made.contains(&"(REGISTRATION, \"\")".to_owned()));
    assert!(made.contains(&"(KERNEL, \"SIGN\")".to_owned()));
    assert!(!made.iter().any(|m| m.contains("BASE")));
    assert!(report.existing.is_empty());
    let again = km.run_keygen(&[]).unwrap();
    assert!(again.created.is_empty(), "idempotent: {:?}", again.created);
    assert_eq!(again.existing.len(), report.created.len());

    // The chain base -> master -> ROOT.
    let root = km.get_certificate(&app("ROOT"), &reference("")).unwrap().certificate;
    let master = km.get_certificate(&app("REGISTRATION"), &reference("")).unwrap().certificate;
    let base = km.get_certificate(&app("REGISTRATION"), &reference("10001_110011")).unwrap();
    assert!(root.is_signed_by(&root));
    assert!(master.is_signed_by(&root));
    assert!(base.certificate.is_signed_by(&master));
    assert!(root.subject().ends_with("CN=www.mosip.io (ROOT)"), "{}", root.subject());
    assert!(master.subject().ends_with("CN=www.mosip.io (REGISTRATION)"));
    assert!(base.certificate.subject().ends_with("CN=REGISTRATION-10001_110011"));
    let sign = km.get_certificate(&app("KERNEL"), &reference("SIGN")).unwrap().certificate;
    assert!(sign.subject().ends_with("CN=www.mosip.io (KERNEL-SIGN)") && sign.is_signed_by(&root));
    assert!(base.expires_at <= km.get_certificate(&app("REGISTRATION"), &reference("")).unwrap().expires_at);

    // The registration client seals with keymgr-envelope alone; the service opens it.
    let packet = b"registration packet #KEY_SPLITTER# with biometrics".repeat(100);
    let client_cert = Certificate::from_pem(base.certificate.to_pem().as_bytes()).unwrap();
    let envelope = seal_text(&packet, &Recipient::from_certificate(&client_cert).unwrap()).unwrap();
    let opened = km
        .decrypt(&app("REGISTRATION"), &reference("10001_110011"), envelope.as_bytes(), None, None, "u")
        .unwrap();
    assert_eq!(&*opened, &packet[..]);

    // The service's own encrypt, in each of MOSIP's modes.
    for (salt, aad) in [(None, None), (None, Some(&b"aad"[..])), (Some(&[7u8; 12][..]), Some(&b"aad"[..]))] {
        let text = km.encrypt(&app("REGISTRATION"), &reference("10001_110011"), b"hello", salt, aad).unwrap();
        let plain = km
            .decrypt(&app("REGISTRATION"), &reference("10001_110011"), text.as_bytes(), salt, aad, "u")
            .unwrap();
        assert_eq!(&*plain, b"hello");
    }
    // A second manager on the same database and keystore (another replica) opens it too,
    // unwrapping the base key through the master in the keystore.
    let other = manager(&s, KeyManagerConfig::default());
    assert_eq!(
        &*other
            .decrypt(&app("REGISTRATION"), &reference("10001_110011"), envelope.as_bytes(), None, None, "u")
            .unwrap(),
        &packet[..]
    );
    assert_eq!(other.cached_base_keys(), 1);
}

#[test]
fn years_of_rotation_and_revocation() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("REGISTRATION")]).unwrap();
    let (reg, pair) = (app("REGISTRATION"), reference("10001_110011"));

    let first = km.get_certificate(&reg, &pair).unwrap();
    let old_packet = km.encrypt(&reg, &pair, b"sealed in year one", None, None).unwrap();
    let master1 = km.get_certificate(&reg, &reference("")).unwrap();

    // Day 1036: the master (pre-expiry 60 of 1095 days) has rotated; the base key (BASE
    // pre-expiry 30) is still current.
    s.clock.advance(Duration::days(1036));
    let master2 = km.get_certificate(&reg, &reference("")).unwrap();
    assert_ne!(master2.alias, master1.alias, "master rotated 60 days before expiry");
    assert_eq!(km.get_certificate(&reg, &pair).unwrap().alias, first.alias);

    // Day 1066: the base key is within 30 days of expiry; the next request makes a new one,
    // signed by the new master and clamped to its expiry.
    s.clock.advance(Duration::days(30));
    let second = km.get_certificate(&reg, &pair).unwrap();
    assert_ne!(second.alias, first.alias);
    assert!(second.certificate.is_signed_by(&master2.certificate));
    assert!(second.expires_at <= master2.expires_at, "never outlives its master");
    assert!(second.issued_at == s.clock_now());

    // Old packets still open; new seals use the new key.
    assert_eq!(
        &*km.decrypt(&reg, &pair, old_packet.as_bytes(), None, None, "u").unwrap(),
        b"sealed in year one"
    );
    let new_packet = km.encrypt(&reg, &pair, b"sealed in year three", None, None).unwrap();
    let tp =
        |text: &str| keymgr_envelope::base64::decode(text.as_bytes(), usize::MAX).unwrap()[6..38].to_vec();
    assert_eq!(tp(&new_packet), second.certificate.thumbprint().as_bytes().to_vec());
    assert_eq!(tp(&old_packet), first.certificate.thumbprint().as_bytes().to_vec());

    // Revocation: the next call rotates; packets to the revoked key still open.
    km.revoke_key(&reg, &pair).unwrap();
    let third = km.get_certificate(&reg, &pair).unwrap();
    assert_ne!(third.alias, second.alias);
    assert_eq!(
        &*km.decrypt(&reg, &pair, new_packet.as_bytes(), None, None, "u").unwrap(),
        b"sealed in year three"
    );
    // A second revocation the same day also works (MOSIP's uni_ident collides here).
    km.revoke_key(&reg, &pair).unwrap();
    assert_ne!(km.get_certificate(&reg, &pair).unwrap().alias, third.alias);

    // Masters and KERNEL/SIGN are not revocable.
    assert_eq!(km.revoke_key(&reg, &reference("")).map_err(code), Err("KER-KMS-021"));
    assert_eq!(km.revoke_key(&app("KERNEL"), &reference("SIGN")).map_err(code), Err("KER-KMS-021"));
    // force on a master replaces it at once.
    let forced = km.generate_master_key(&reg, &reference(""), true).unwrap();
    assert_ne!(forced.alias, master2.alias);
    assert_eq!(km.get_certificate(&reg, &reference("")).unwrap().alias, forced.alias);
}

trait ClockNow {
    fn clock_now(&self) -> UtcTime;
}

impl ClockNow for Setup {
    fn clock_now(&self) -> UtcTime {
        keymgr_core::Clock::now(&*self.clock)
    }
}

#[test]
fn caches_and_their_invalidation() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("RESIDENT")]).unwrap();
    let (res, pair) = (app("RESIDENT"), reference("r1"));
    let a = km.get_certificate(&res, &pair).unwrap();
    assert_eq!(km.get_certificate(&res, &pair).unwrap().alias, a.alias, "cached");
    assert_eq!(km.cached_base_keys(), 1, "a new base key is cached unwrapped");
    km.revoke_key(&res, &pair).unwrap();
    assert_ne!(
        km.get_certificate(&res, &pair).unwrap().alias,
        a.alias,
        "revocation drops the cached certificate"
    );

    // Cache size 0: nothing is kept, decryption still works (through the keystore each time).
    let cold = manager(&s, KeyManagerConfig { base_key_cache_size: 0, ..KeyManagerConfig::default() });
    let text = cold.encrypt(&res, &pair, b"no cache", None, None).unwrap();
    for _ in 0..3 {
        assert_eq!(&*cold.decrypt(&res, &pair, text.as_bytes(), None, None, "u").unwrap(), b"no cache");
    }
    assert_eq!(cold.cached_base_keys(), 0);

    // Rotation by time alone (no write in this process) is seen at the rotation instant.
    let current = cold.get_certificate(&res, &pair).unwrap();
    s.clock.set(current.expires_at.plus(-Duration::days(30)));
    assert_ne!(cold.get_certificate(&res, &pair).unwrap().alias, current.alias);
}

#[test]
fn mosip_error_codes() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("REGISTRATION"), app("RESIDENT")]).unwrap();
    let text = km.encrypt(&app("REGISTRATION"), &reference("p1"), b"x", None, None).unwrap();
    let dec = |a: &str, r: &str, t: &[u8], user: &str| {
        km.decrypt(&app(a), &reference(r), t, None, None, user).map(drop).map_err(code)
    };
    assert_eq!(dec("RESIDENT", "p1", text.as_bytes(), "u"), Err("KER-KMS-024"), "another application's key");
    assert_eq!(
        dec("REGISTRATION", "other", text.as_bytes(), "u"),
        Err("KER-KMS-024"),
        "same application, other ref: refused unless configured (MOSIP allows it)"
    );
    let mut damaged = text.clone().into_bytes();
    let last = damaged.len() - 1;
    damaged[last] = if damaged[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(dec("REGISTRATION", "p1", &damaged, "u"), Err("KER-KMS-019"));
    let foreign = seal_text(
        b"x",
        &Recipient::from_certificate(
            &Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(dec("REGISTRATION", "p1", foreign.as_bytes(), "u"), Err("KER-KMS-025"));
    assert_eq!(dec("REGISTRATION", "p1", b"!!", "u"), Err("KER-CRY-003"));
    assert_eq!(dec("IDA", "p1", text.as_bytes(), "u"), Err("KER-CRY-012"), "no policy: nobody may decrypt");

    // access_allowed names users.
    let mut policy = km.database().policy(&app("REGISTRATION")).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Users(vec!["regproc".into()]);
    km.set_policy(&policy).unwrap();
    assert_eq!(dec("REGISTRATION", "p1", text.as_bytes(), "mallory"), Err("KER-CRY-012"));
    assert_eq!(dec("REGISTRATION", "p1", text.as_bytes(), "RegProc"), Ok(()));

    let enc = |a: &str, r: &str, d: &[u8]| {
        km.encrypt(&app(a), &reference(r), d, None, None).map(drop).map_err(code)
    };
    assert_eq!(enc("KERNEL", "SIGN", b"x"), Err("KER-CRY-011"));
    assert_eq!(enc("REGISTRATION", "", b"x"), Err("KER-CRY-011"), "a master does not encrypt (MOSIP)");
    assert_eq!(enc("REGISTRATION", "p1", b""), Err("KER-CRY-004"));
    assert_eq!(enc("IDA", "p1", b"x"), Err("KER-KMS-002"));
    assert_eq!(km.get_certificate(&app("ROOT"), &reference("x")).map(drop).map_err(code), Err("KER-KMS-016"));
    assert_eq!(
        km.get_certificate(&app("ADMIN_SERVICES"), &reference("")).map(drop).map_err(code),
        Err("KER-KMS-012")
    );
    assert_eq!(
        km.generate_master_key(&app("REGISTRATION"), &reference("x"), false).map(drop).map_err(code),
        Err("KER-KMS-010")
    );
}

/// Gives `app` a policy that lets anybody decrypt, so a test reaches the key rules behind the
/// access check.
fn open_access(km: &KeyManager, a: &str) {
    let mut policy = km.database().policy(&app(a)).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Anyone;
    km.set_policy(&policy).unwrap();
}

/// `key_store.private_key` is an envelope without a thumbprint, sealed to the module master.
/// Prepending the master's thumbprint turns it into a `/decrypt` request; the master must not
/// open it, nor anything else sealed to a keystore key (ROOT, `KERNEL`/`SIGN`).
#[test]
fn decrypt_unwraps_key_store_attack_is_refused() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("REGISTRATION")]).unwrap();
    let (reg, pair) = (app("REGISTRATION"), reference("10001_110011"));
    let base = km.get_certificate(&reg, &pair).unwrap();
    let row = km.database().stored_key(&base.alias).unwrap().unwrap();
    let master = km.get_certificate(&reg, &reference("")).unwrap();
    let mut forged = master.certificate.thumbprint().as_bytes().to_vec();
    forged.extend(keymgr_envelope::base64::decode(row.private_key.as_bytes(), 1 << 20).unwrap());
    let forged = keymgr_envelope::base64::encode(&forged);
    let dec = |km: &KeyManager, a: &str, r: &str, t: &[u8]| {
        km.decrypt(&app(a), &reference(r), t, None, None, "anyone").map(|p| p.to_vec()).map_err(code)
    };
    for r in ["10001_110011", "", "other"] {
        assert_eq!(dec(&km, "REGISTRATION", r, forged.as_bytes()), Err("KER-KMS-024"), "ref {r:?}");
    }

    // Envelopes sealed to ROOT and to KERNEL/SIGN, asked for under their own pairs.
    for (a, r) in [("ROOT", ""), ("KERNEL", "SIGN")] {
        open_access(&km, a);
        let cert = km.get_certificate(&app(a), &reference(r)).unwrap().certificate;
        let sealed = seal_text(b"secret", &Recipient::from_certificate(&cert).unwrap()).unwrap();
        assert_eq!(dec(&km, a, r, sealed.as_bytes()), Err("KER-KMS-024"), "{a}/{r}");
    }

    // A deployment that lets the REGISTRATION master open envelopes sealed to it: its own
    // envelopes open, a key_store row still does not.
    let config = KeyManagerConfig {
        decryption: DecryptionScope {
            keystore_keys: vec![KeyRef::master(reg.clone())],
            ..DecryptionScope::default()
        },
        ..KeyManagerConfig::default()
    };
    let permissive = manager(&s, config);
    let to_master =
        seal_text(b"for the master", &Recipient::from_certificate(&master.certificate).unwrap()).unwrap();
    assert_eq!(dec(&permissive, "REGISTRATION", "", to_master.as_bytes()), Ok(b"for the master".to_vec()));
    assert_eq!(dec(&permissive, "REGISTRATION", "x", to_master.as_bytes()), Ok(b"for the master".to_vec()));
    assert_eq!(dec(&permissive, "REGISTRATION", "", forged.as_bytes()), Err("KER-KMS-018"));
    assert_eq!(dec(&km, "REGISTRATION", "", to_master.as_bytes()), Err("KER-KMS-024"), "not by default");
    // Nor through rewrap, which would re-seal the private key to a base key the caller opens.
    for r in ["10001_110011", "x"] {
        let rewrapped = permissive.rewrap(&reg, &reference(r), forged.as_bytes(), None, None, "anyone", true);
        assert_eq!(rewrapped.map(|o| o.data).map_err(code), Err("KER-KMS-018"), "rewrap under {r:?}");
    }
}

/// MOSIP lets any base key of the application open an envelope; here only the requested
/// pair's keys do, unless `same_application` restores MOSIP's rule.
#[test]
fn another_pairs_envelope_opens_only_when_configured() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("REGISTRATION")]).unwrap();
    let text = km.encrypt(&app("REGISTRATION"), &reference("a"), b"x", None, None).unwrap();
    let dec = |km: &KeyManager, r: &str| {
        km.decrypt(&app("REGISTRATION"), &reference(r), text.as_bytes(), None, None, "u")
            .map(drop)
            .map_err(code)
    };
    assert_eq!(dec(&km, "a"), Ok(()));
    assert_eq!(dec(&km, "b"), Err("KER-KMS-024"));
    let config = KeyManagerConfig {
        decryption: DecryptionScope { same_application: true, ..DecryptionScope::default() },
        ..KeyManagerConfig::default()
    };
    assert_eq!(dec(&manager(&s, config), "b"), Ok(()));
}

/// Every new `referenceId` makes an RSA key and a row. A pattern per application and a
/// per-minute budget bound that; existing pairs keep working when the budget is spent.
#[test]
fn unbounded_key_creation_is_limited_when_configured() {
    let s = setup();
    let config = KeyManagerConfig {
        new_pairs: NewPairLimits {
            per_minute: Some(2),
            reference_patterns: vec![(
                app("REGISTRATION"),
                regex::Regex::new("^(?:[0-9]+_[0-9]+)$").unwrap(),
            )],
        },
        ..KeyManagerConfig::default()
    };
    let km = manager(&s, config);
    km.run_keygen(&[app("REGISTRATION"), app("RESIDENT")]).unwrap();
    let get = |a: &str, r: &str| km.get_certificate(&app(a), &reference(r)).map(drop).map_err(code);
    assert_eq!(get("REGISTRATION", "not-a-machine"), Err("KER-KMS-010"), "pattern");
    assert_eq!(get("REGISTRATION", "1_2"), Ok(()));
    assert_eq!(get("RESIDENT", "anything"), Ok(()), "no pattern for RESIDENT");
    assert_eq!(get("REGISTRATION", "1_3"), Err("KER-KMS-429"), "budget spent");
    assert_eq!(
        km.encrypt(&app("RESIDENT"), &reference("new"), b"x", None, None).map(drop).map_err(code),
        Err("KER-KMS-429")
    );
    assert_eq!(get("REGISTRATION", "1_2"), Ok(()), "an existing pair");
    assert_eq!(
        km.encrypt(&app("REGISTRATION"), &reference("1_2"), b"x", None, None).map(drop).map_err(code),
        Ok(())
    );
}

/// 16 threads over two managers (two replicas) sharing one database and one keystore ask for
/// fresh pairs at once: each pair ends with exactly one key.
fn race(url: &str, s: &Setup) {
    let one = Arc::new(KeyManager::new(
        Database::connect(url, 8).unwrap(),
        s.keystore.clone(),
        s.clock.clone(),
        KeyManagerConfig::default(),
    ));
    one.run_keygen(&[app("REGISTRATION")]).unwrap();
    let two = Arc::new(KeyManager::new(
        Database::connect(url, 8).unwrap(),
        s.keystore.clone(),
        s.clock.clone(),
        KeyManagerConfig::default(),
    ));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let km = if t % 2 == 0 { Arc::clone(&one) } else { Arc::clone(&two) };
            std::thread::spawn(move || {
                for p in 0..4 {
                    km.get_certificate(&app("REGISTRATION"), &reference(&format!("pair-{p}"))).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for p in 0..4 {
        let aliases = one
            .database()
            .aliases_for(&KeyRef::parse("REGISTRATION", &format!("pair-{p}")).unwrap())
            .unwrap();
        assert_eq!(aliases.len(), 1, "pair-{p}");
    }
}

#[test]
fn racing_replicas_make_one_key_per_pair_on_sqlite() {
    let s = setup();
    race(&s.url.clone(), &s);
}

#[test]
fn racing_replicas_make_one_key_per_pair_on_postgres() {
    let Some(server) = postgres::server_or_skip() else { return };
    let db = postgres::TestDb::create(&server, "keymgr_core_race");
    let s = setup();
    race(&db.url(), &s);
}

/// MOSIP: a successor key carries the DN of the pair's oldest certificate, and a first base
/// key takes its O/OU/L/ST/C from its master, whatever the defaults say now.
#[test]
fn successors_keep_the_names_of_their_pairs() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[]).unwrap();
    let (reg, base) = (app("REGISTRATION"), reference("names"));
    let master = km.get_certificate(&reg, &reference("")).unwrap().certificate;
    let first = km.get_certificate(&reg, &base).unwrap().certificate;

    // Another replica whose defaults changed since.
    let mut changed = KeyManagerConfig::default();
    changed.default_subject.common_name = "other.example".into();
    changed.default_subject.organization = "Other Org".into();
    let km2 = manager(&s, changed);
    s.clock.advance(Duration::seconds(1));
    let new_master = km2.generate_master_key(&reg, &reference(""), true).unwrap().certificate;
    assert_ne!(new_master.der(), master.der());
    assert_eq!(new_master.subject(), master.subject());

    s.clock.advance(Duration::seconds(1));
    km2.revoke_key(&reg, &base).unwrap();
    let second = km2.get_certificate(&reg, &base).unwrap().certificate;
    assert_ne!(second.der(), first.der());
    assert_eq!(second.subject(), first.subject());
    assert!(second.is_signed_by(&new_master));

    let fresh = km2.get_certificate(&reg, &reference("fresh")).unwrap().certificate;
    assert!(fresh.subject().contains("O=IITB"), "from the master: {}", fresh.subject());
    assert!(fresh.subject().ends_with("CN=REGISTRATION-fresh"), "{}", fresh.subject());

    // Subject parts in the request win for the key that call makes.
    s.clock.advance(Duration::seconds(1));
    let requested = keymgr_crypto::issue::DistinguishedNameSpec {
        common_name: "Registration Kiosk".into(),
        organization: "Requested Org".into(),
        ..Default::default()
    };
    let named = km2.generate_master_key_named(&reg, &reference(""), true, &requested).unwrap().certificate;
    assert!(
        named
            .subject()
            .ends_with("O=Requested Org, OU=MOSIP-TECH-CENTER, CN=Registration Kiosk (REGISTRATION)"),
        "{}",
        named.subject()
    );
}

/// EC signing keys (P-256, secp256k1) made in the keystore, certified by ROOT, with CSRs
/// signed in the keystore; on SoftHSM2 too (this file runs again there).
#[test]
fn ec_signing_keys_in_the_keystore() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[]).unwrap();
    let root = km.get_certificate(&app("ROOT"), &reference("")).unwrap().certificate;
    let none = keymgr_crypto::issue::DistinguishedNameSpec::default();
    for r in ["EC_SECP256R1_SIGN", "EC_SECP256K1_SIGN"] {
        let made = km.generate_ec_sign_key(&app("RESIDENT"), &reference(r), false, &none).unwrap();
        assert!(made.certificate.is_signed_by(&root), "{r}");
        assert_eq!(
            km.generate_ec_sign_key(&app("RESIDENT"), &reference(r), false, &none).unwrap().alias,
            made.alias
        );
        assert_eq!(km.get_certificate(&app("RESIDENT"), &reference(r)).unwrap().alias, made.alias);
        let csr = km.generate_csr(&app("RESIDENT"), &reference(r), &none).unwrap();
        assert!(csr.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"), "{r}");
    }
    // Ed25519 keys are made in software and certified by the application's master (the
    // signing suite checks them); references that name no signing key are KER-KMS-030.
    let ed = km.generate_ec_sign_key(&app("RESIDENT"), &reference("ED25519_SIGN"), false, &none).unwrap();
    let master = km.get_certificate(&app("RESIDENT"), &reference("")).unwrap().certificate;
    assert!(ed.certificate.is_signed_by(&master));
    assert_eq!(
        km.generate_ec_sign_key(&app("RESIDENT"), &reference("EC_SECP384R1_SIGN"), false, &none)
            .map(drop)
            .map_err(code),
        Err("KER-KMS-030")
    );
}

/// Registration clients before MOSIP 1.1.5 wrote no thumbprint: the key part is the wrapped
/// data key alone. Such an envelope is tried with the pair's newest keys (three by default),
/// and every failure, whatever its cause, is one answer.
#[test]
fn envelopes_without_a_thumbprint_open_with_the_pairs_newest_keys() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    km.run_keygen(&[app("REGISTRATION")]).unwrap();
    let (reg, pair) = (app("REGISTRATION"), reference("10001_110011"));
    let dec = |km: &KeyManager, r: &str, text: &str, aad: Option<&[u8]>| {
        km.decrypt(&reg, &reference(r), text.as_bytes(), None, aad, "u").map(|p| p.to_vec()).map_err(code)
    };
    // The thumbprint follows VER_R2 (6 bytes) or starts the legacy envelope.
    let strip = |text: &str| {
        let mut bytes = keymgr_envelope::base64::decode(text.as_bytes(), usize::MAX).unwrap();
        let at = if bytes.starts_with(b"VER_R2") { 6 } else { 0 };
        bytes.drain(at..at + 32);
        keymgr_envelope::base64::encode(&bytes)
    };

    let first = km.encrypt(&reg, &pair, b"sealed by a 1.1.3 client", None, None).unwrap();
    let legacy = km.encrypt(&reg, &pair, b"legacy layout", None, Some(b"aad")).unwrap();
    let (first, legacy) = (strip(&first), strip(&legacy));
    assert_eq!(dec(&km, "10001_110011", &first, None), Ok(b"sealed by a 1.1.3 client".to_vec()));
    assert_eq!(dec(&km, "10001_110011", &legacy, Some(b"aad")), Ok(b"legacy layout".to_vec()));
    assert_eq!(dec(&km, "10001_110011", &legacy, Some(b"other aad")), Err("KER-KMS-019"));

    // Another pair's keys are not tried; a damaged envelope is the same answer as no key.
    assert_eq!(dec(&km, "another", &first, None), Err("KER-KMS-019"));
    let mut tampered = keymgr_envelope::base64::decode(first.as_bytes(), usize::MAX).unwrap();
    *tampered.last_mut().unwrap() ^= 1;
    let tampered = keymgr_envelope::base64::encode(&tampered);
    assert_eq!(dec(&km, "10001_110011", &tampered, None), Err("KER-KMS-019"));
    let mut bad_key = keymgr_envelope::base64::decode(first.as_bytes(), usize::MAX).unwrap();
    bad_key[10] ^= 1;
    let bad_key = keymgr_envelope::base64::encode(&bad_key);
    assert_eq!(dec(&km, "10001_110011", &bad_key, None), Err("KER-KMS-019"));

    // Two rotations later the first key is still among the three newest; after a third, not.
    for _ in 0..2 {
        s.clock.advance(Duration::days(1));
        km.revoke_key(&reg, &pair).unwrap();
        km.get_certificate(&reg, &pair).unwrap();
    }
    let newest = strip(&km.encrypt(&reg, &pair, b"newest", None, None).unwrap());
    assert_eq!(dec(&km, "10001_110011", &first, None), Ok(b"sealed by a 1.1.3 client".to_vec()));
    assert_eq!(dec(&km, "10001_110011", &newest, None), Ok(b"newest".to_vec()));
    s.clock.advance(Duration::days(1));
    km.revoke_key(&reg, &pair).unwrap();
    km.get_certificate(&reg, &pair).unwrap();
    assert_eq!(dec(&km, "10001_110011", &first, None), Err("KER-KMS-019"), "beyond the limit");
    assert_eq!(dec(&km, "10001_110011", &newest, None), Ok(b"newest".to_vec()));
    let wider = |n: usize| {
        let decryption = DecryptionScope { thumbprintless_keys: n, ..DecryptionScope::default() };
        manager(&s, KeyManagerConfig { decryption, ..KeyManagerConfig::default() })
    };
    assert_eq!(dec(&wider(4), "10001_110011", &first, None), Ok(b"sealed by a 1.1.3 client".to_vec()));
    // Turned off, such envelopes are malformed, as the conformance vectors say by default.
    assert_eq!(dec(&wider(0), "10001_110011", &newest, None), Err("KER-CRY-003"));

    // A key_store row is an envelope without a thumbprint sealed to the module master: as it
    // is, it must open under no pair, not even where the master may open envelopes.
    let base = km.get_certificate(&reg, &pair).unwrap();
    let row = km.database().stored_key(&base.alias).unwrap().unwrap().private_key;
    assert_eq!(dec(&km, "", &row, None), Err("KER-KMS-018"), "masters do not open by default");
    assert_eq!(dec(&km, "10001_110011", &row, None), Err("KER-KMS-019"));
    let config = KeyManagerConfig {
        decryption: DecryptionScope {
            keystore_keys: vec![KeyRef::master(reg.clone())],
            ..DecryptionScope::default()
        },
        ..KeyManagerConfig::default()
    };
    let permissive = manager(&s, config);
    assert_eq!(dec(&permissive, "", &row, None), Err("KER-KMS-018"), "never a PKCS#8 plaintext");
    let rewrapped = permissive.rewrap(&reg, &reference(""), row.as_bytes(), None, None, "u", true);
    assert_eq!(rewrapped.map(drop).map_err(code), Err("KER-KMS-018"), "nor through rewrap");
    // What is sealed to the master without a thumbprint opens there, when configured.
    let master = km.get_certificate(&reg, &reference("")).unwrap().certificate;
    let to_master = seal_text(b"for the master", &Recipient::from_certificate(&master).unwrap()).unwrap();
    assert_eq!(dec(&permissive, "", &strip(&to_master), None), Ok(b"for the master".to_vec()));

    // Signing keys never decrypt.
    open_access(&km, "KERNEL");
    let sign = km.get_certificate(&app("KERNEL"), &reference("SIGN")).unwrap().certificate;
    let to_sign = strip(&seal_text(b"x", &Recipient::from_certificate(&sign).unwrap()).unwrap());
    let answer = km.decrypt(&app("KERNEL"), &reference("SIGN"), to_sign.as_bytes(), None, None, "u");
    assert_eq!(answer.map(drop).map_err(code), Err("KER-KMS-018"));
}

/// The server's client-crypto key lives in the keystore (on SoftHSM2 too, in the suite's
/// second run): made once, shared by replicas, signing with PKCS#1 v1.5 and decrypting what
/// was encrypted for its public key; never a key of the hierarchy.
#[test]
fn the_client_crypto_key_signs_and_decrypts_in_the_keystore() {
    let s = setup();
    let km = manager(&s, KeyManagerConfig::default());
    let spki = km.client_public_key().unwrap();
    let replica = manager(&s, KeyManagerConfig::default());
    assert_eq!(replica.client_public_key().unwrap(), spki, "made once");
    assert!(s.keystore.aliases().unwrap().contains(&keymgr_core::CLIENT_CRYPTO_ALIAS.to_owned()));

    let signature = km.client_sign(b"data").unwrap();
    assert_eq!(km.client_verify(keymgr_core::ClientKind::Local, &spki, b"data", &signature), Ok(true));
    let sealed = km.client_encrypt(keymgr_core::ClientKind::Local, &spki, b"for the server").unwrap();
    assert_eq!(&*replica.client_decrypt(&sealed).unwrap(), b"for the server");
    let mut damaged = sealed.clone();
    *damaged.last_mut().unwrap() ^= 1;
    assert_eq!(km.client_decrypt(&damaged).map(drop).map_err(code), Err("KER-CC-004"));
    damaged = sealed;
    damaged[5] ^= 1;
    assert_eq!(km.client_decrypt(&damaged).map(drop).map_err(code), Err("KER-CC-004"));
    let actions: Vec<String> = km.database().audit_log(50).unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "client_crypto_key_generated").count(), 1);
}
