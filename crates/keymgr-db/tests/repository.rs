//! One repository suite, run against SQLite (always) and PostgreSQL (127.0.0.1:5432, a fresh
//! database per run, dropped afterwards; `KEYMGR_TEST_PG_URL` overrides the server URL; skipped
//! with a notice when no server answers, a failure with `KEYMGR_REQUIRE_PG=1`), plus the
//! cross-process generation lock: 8 threads in each of 2 processes on one database.

// A test fails by panicking; the panic-free rules are for library and binary code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use keymgr_db::{
    AuditEntry, CaCertQuery, CaCertSort, CertRecord, Database, DbError, License, NewKey, PartnerCertRecord,
    StoredKey,
};
use keymgr_model::{AccessAllowed, AppId, KeyAlias, KeyPolicy, KeyRef, Thumbprint, UtcTime};
use keymgr_test_support::postgres;

const CHILD: &str = "KEYMGR_TEST_DB_CHILD_URL";

fn alias(key_ref: &KeyRef, generated_at: UtcTime, days: i64, thumb: u8) -> KeyAlias {
    let id = uuid::Uuid::new_v4().to_string();
    KeyAlias {
        unique_ident: Some(format!("{}_{}", key_ref.app, &id[..8])),
        alias: id,
        key_ref: key_ref.clone(),
        generated_at,
        expires_at: generated_at.plus_days(days),
        thumbprint: Some(Thumbprint::from_bytes([thumb; 32])),
    }
}

/// Runs raw SQL on the test database, outside the repository (to plant bad rows).
fn raw_sql(url: &str, sql: &str) -> Result<(), String> {
    if url.starts_with("postgres") {
        let mut c = PgConnection::establish(url).map_err(|e| e.to_string())?;
        c.batch_execute(&format!("SET search_path TO keymgr; {sql}")).map_err(|e| e.to_string())
    } else {
        let mut c = SqliteConnection::establish(url).map_err(|e| e.to_string())?;
        c.batch_execute(sql).map_err(|e| e.to_string())
    }
}

fn suite(url: &str) {
    let db = Database::connect(url, 4).expect("connect and migrate");
    db.health_check().unwrap();
    // Connecting again finds the schema up to date.
    drop(Database::connect(url, 1).expect("second connect"));

    // MOSIP's seed policies.
    let policy = |app: &str| db.policy(&AppId::new(app).unwrap()).unwrap();
    let reg = policy("REGISTRATION").expect("seeded");
    assert_eq!((reg.validity_days, reg.pre_expire_days, reg.is_active), (1095, 60, true));
    assert_eq!(reg.access_allowed, AccessAllowed::Anyone);
    assert_eq!(policy("ROOT").map(|p| (p.validity_days, p.pre_expire_days)), Some((2920, 1125)));
    assert_eq!(policy("BASE").map(|p| (p.validity_days, p.pre_expire_days)), Some((730, 30)));
    assert_eq!(policy("PMS").map(|p| (p.validity_days, p.pre_expire_days)), Some((1460, 395)));
    assert_eq!(policy("IDA"), None);
    assert_eq!(db.policies().unwrap().len(), 12);

    // Policies are created and changed.
    let mut ida =
        KeyPolicy::from_columns(AppId::new("IDA").unwrap(), 365, 30, true, Some("ida_user")).unwrap();
    db.upsert_policy(&ida, "test").unwrap();
    ida.validity_days = 400;
    db.upsert_policy(&ida, "test").unwrap();
    assert_eq!(policy("IDA"), Some(ida));

    // A master and two base keys; lookups by pair, by thumbprint, by id.
    let t0 = UtcTime::from_unix_millis(1_750_000_000_000).unwrap();
    let master_ref = KeyRef::parse("REGISTRATION", "").unwrap();
    let base_ref = KeyRef::parse("REGISTRATION", "10001_110011").unwrap();
    let master = alias(&master_ref, t0, 1095, 1);
    db.insert_key(&NewKey { alias: &master, stored: None, actor: "SYSTEM" }).unwrap();
    let old = alias(&base_ref, t0, 730, 2);
    let new = alias(&base_ref, t0.plus_days(700), 730, 3);
    for a in [&new, &old] {
        let stored = StoredKey {
            alias: a.alias.clone(),
            master_alias: master.alias.clone(),
            private_key: format!("wrapped-{}", a.alias).replace('-', "_"),
            certificate: "-----BEGIN CERTIFICATE-----".into(),
        };
        db.insert_key(&NewKey { alias: a, stored: Some(&stored), actor: "SYSTEM" }).unwrap();
    }
    assert_eq!(db.aliases_for(&base_ref).unwrap(), vec![old.clone(), new.clone()], "generation order");
    assert_eq!(db.aliases_for(&master_ref).unwrap(), vec![master.clone()]);
    assert_eq!(db.aliases_by_thumbprint(&Thumbprint::from_bytes([3; 32])).unwrap(), vec![new.clone()]);
    assert!(db.aliases_by_thumbprint(&Thumbprint::from_bytes([9; 32])).unwrap().is_empty());
    assert_eq!(db.alias(&old.alias).unwrap(), Some(old.clone()));
    assert_eq!(db.alias("missing").unwrap(), None);
    let stored = db.stored_key(&new.alias).unwrap().expect("key_store row");
    assert_eq!(
        (stored.master_alias.as_str(), stored.private_key),
        (master.alias.as_str(), format!("wrapped-{}", new.alias).replace('-', "_"))
    );
    assert_eq!(db.stored_key(&master.alias).unwrap(), None);
    assert_eq!(db.all_aliases().unwrap().len(), 3);

    // Expiry changes (revocation); unknown aliases are an error.
    let revoked_at = t0.plus_days(800);
    db.set_expiry(&new.alias, revoked_at, "admin").unwrap();
    assert_eq!(db.alias(&new.alias).unwrap().unwrap().expires_at, revoked_at);
    assert!(matches!(db.set_expiry("missing", revoked_at, "admin"), Err(DbError::NotFound { .. })));

    // One transaction: a failing key_store insert leaves no alias row behind.
    let orphan = alias(&base_ref, t0.plus_days(1), 730, 4);
    let clash = StoredKey {
        alias: old.alias.clone(),
        master_alias: master.alias.clone(),
        private_key: StoredKey::NO_PRIVATE_KEY.into(),
        certificate: "-----BEGIN CERTIFICATE-----".into(),
    };
    let broken = StoredKey { alias: orphan.alias.clone(), ..clash.clone() };
    assert!(db.insert_key(&NewKey { alias: &orphan, stored: Some(&clash), actor: "SYSTEM" }).is_err());
    assert_eq!(db.alias(&orphan.alias).unwrap(), None, "alias rolled back with the failed key_store row");
    let mut dup = alias(&base_ref, t0.plus_days(2), 730, 5);
    dup.unique_ident = old.unique_ident.clone();
    assert!(matches!(
        db.insert_key(&NewKey { alias: &dup, stored: None, actor: "SYSTEM" }),
        Err(DbError::Duplicate(_))
    ));
    db.insert_key(&NewKey { alias: &orphan, stored: Some(&broken), actor: "SYSTEM" }).unwrap();

    // CA and partner certificate rows.
    let ca = CertRecord {
        cert_id: uuid::Uuid::new_v4().to_string(),
        subject: "CN=Root CA".into(),
        issuer: "CN=Root CA".into(),
        issuer_id: "self".into(),
        not_before: Some(t0),
        not_after: Some(t0.plus_days(3650)),
        crl_uri: None,
        cert_data: Some("PEM".into()),
        thumbprint: Some("ab".repeat(20)),
        serial_no: Some("1".into()),
        partner_domain: Some("AUTH".into()),
        ca_cert_type: Some("ROOT".into()),
    };
    db.insert_ca_cert(&ca, "admin").unwrap();
    assert_eq!(db.ca_certs("AUTH").unwrap(), vec![ca.clone()]);
    assert!(db.ca_certs("DEVICE").unwrap().is_empty());
    assert!(matches!(
        db.insert_ca_cert(&CertRecord { cert_id: "other".into(), ..ca.clone() }, "admin"),
        Err(DbError::Duplicate(_))
    ));
    let partner = PartnerCertRecord {
        cert_id: uuid::Uuid::new_v4().to_string(),
        subject: "CN=Partner".into(),
        issuer: "CN=Root CA".into(),
        issuer_id: ca.cert_id.clone(),
        not_before: Some(t0),
        not_after: Some(t0.plus_days(365)),
        partner_domain: Some("AUTH".into()),
        cert_data: Some("PEM".into()),
        key_usage: Some(String::new()),
        organization_name: Some("Partner Org".into()),
        thumbprint: Some("cd".repeat(20)),
        serial_no: Some("42".into()),
        signed_cert_data: Some("SIGNED".into()),
    };
    db.insert_partner_cert(&partner, "admin").unwrap();
    assert_eq!(db.partner_cert(&partner.cert_id).unwrap(), Some(partner.clone()));

    // The queries of the trust store: existence by thumbprint and domain, by id, a version
    // that changes with the rows, pages with filters, and a partner row stored with its CA rows
    // in one transaction (all or nothing).
    assert!(db.ca_cert_exists(&"ab".repeat(20), "AUTH").unwrap());
    assert!(!db.ca_cert_exists(&"ab".repeat(20), "DEVICE").unwrap());
    assert_eq!(db.ca_cert(&ca.cert_id).unwrap(), Some(ca.clone()));
    assert_eq!(db.ca_cert("no-such-id").unwrap(), None);
    let (count, _) = db.ca_store_version("AUTH").unwrap();
    assert_eq!(count, 1);
    assert_eq!(db.ca_store_version("FTM").unwrap(), (0, None));
    let inter = |n: usize, subject: &str| CertRecord {
        cert_id: format!("inter-{n}"),
        subject: subject.into(),
        issuer: "CN=Root CA".into(),
        issuer_id: ca.cert_id.clone(),
        not_before: Some(t0.plus_days(n as i64)),
        thumbprint: Some(format!("{n:040x}")),
        ca_cert_type: Some("INTERMEDIATE".into()),
        ..ca.clone()
    };
    // A partner row that cannot be stored (its id exists) takes its CA rows with it.
    assert!(db.insert_partner_cert_with_cas(&partner, &[inter(90, "CN=Lost")], "admin").is_err());
    assert!(db.ca_cert("inter-90").unwrap().is_none(), "nothing of a failed transaction stays");
    // A CA row already in its domain (another replica's) is skipped, the rest stored.
    let second = PartnerCertRecord { cert_id: uuid::Uuid::new_v4().to_string(), ..partner.clone() };
    let clash = CertRecord { cert_id: "clash".into(), ..ca.clone() };
    db.insert_partner_cert_with_cas(&second, &[clash, inter(91, "CN=Kept")], "admin").unwrap();
    assert!(db.ca_cert("clash").unwrap().is_none());
    assert!(db.ca_cert("inter-91").unwrap().is_some());
    let second = PartnerCertRecord { cert_id: uuid::Uuid::new_v4().to_string(), ..partner.clone() };
    let cas: Vec<CertRecord> =
        (1..=12).map(|n| inter(n, if n % 2 == 0 { "CN=Even_100%,O=Org" } else { "CN=Odd,O=Org" })).collect();
    db.insert_partner_cert_with_cas(&second, &cas, "admin").unwrap();
    assert_eq!(db.ca_store_version("AUTH").unwrap().0, 14);
    let page = |q: CaCertQuery| {
        let (rows, total) = db.ca_certs_page(&CaCertQuery { limit: 5, ..q }).unwrap();
        (rows.into_iter().map(|(r, _)| r.cert_id).collect::<Vec<_>>(), total)
    };
    let (first, total) = page(CaCertQuery { partner_domain: Some("AUTH".into()), ..Default::default() });
    assert_eq!((first.len(), total), (5, 14));
    let (ids, total) = page(CaCertQuery {
        ca_cert_type: Some("INTERMEDIATE".into()),
        subject: Some("even_100%".into()),
        sort_by: CaCertSort::NotBefore,
        descending: true,
        offset: 5,
        ..Default::default()
    });
    assert_eq!(total, 6, "case-insensitive, % and _ taken literally");
    assert_eq!(ids, ["inter-2"]);
    let (_, total) = page(CaCertQuery { subject: Some("_".into()), ..Default::default() });
    assert_eq!(total, 6, "_ matches only an underscore");
    let (ids, _) = page(CaCertQuery {
        not_before_between: Some((t0.plus_days(3), t0.plus_days(4))),
        ..Default::default()
    });
    assert_eq!(ids, ["inter-3"]);
    let (_, total) = page(CaCertQuery {
        exclude_thumbprints: vec!["ab".repeat(20), format!("{:040x}", 1)],
        ..Default::default()
    });
    assert_eq!(total, 12);

    // The audit log has a row per write and refuses changes.
    db.append_audit(&AuditEntry {
        time: UtcTime::now(),
        actor: "admin".into(),
        action: "report".into(),
        app_id: None,
        ref_id: None,
        key_alias: None,
        detail: Some("manual entry".into()),
    })
    .unwrap();
    let log = db.audit_log(100).unwrap();
    assert_eq!(log[0].action, "report");
    assert_eq!(log.iter().filter(|e| e.action == "key_created").count(), 4);
    assert_eq!(log.iter().filter(|e| e.action == "expiry_changed").count(), 1);
    assert!(
        raw_sql(url, "UPDATE keymgr_audit_log SET actor = 'mallory'").unwrap_err().contains("append-only")
    );
    assert!(raw_sql(url, "DELETE FROM keymgr_audit_log").unwrap_err().contains("append-only"));

    // Rows that do not decode are errors naming the row.
    raw_sql(url, "INSERT INTO key_alias (id, app_id, ref_id, key_gen_dtimes, key_expire_dtimes, cert_thumbprint, cr_by, cr_dtimes, is_deleted) \
                  VALUES ('bad-thumb', 'BADAPP', 'r', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'XYZ', 'x', CURRENT_TIMESTAMP, FALSE)")
        .unwrap();
    raw_sql(url, "INSERT INTO key_alias (id, app_id, ref_id, key_gen_dtimes, key_expire_dtimes, cr_by, cr_dtimes, is_deleted) \
                  VALUES ('no-dates', 'BADAPP', 'n', NULL, NULL, 'x', CURRENT_TIMESTAMP, FALSE)")
        .unwrap();
    let bad = |r: &str| db.aliases_for(&KeyRef::parse("BADAPP", r).unwrap()).unwrap_err();
    assert!(matches!(bad("r"), DbError::BadRow { table: "key_alias", ref id, .. } if id == "bad-thumb"));
    assert!(
        matches!(bad("n"), DbError::BadRow { table: "key_alias", ref id, ref reason } if id == "no-dates" && reason.contains("key_gen_dtimes"))
    );
    assert!(db.alias("bad-thumb").is_err());
    raw_sql(url, "INSERT INTO key_store (id, master_key, private_key, certificate_data, cr_by, cr_dtimes, is_deleted) \
                  VALUES ('bad-b64', 'm', 'not base64!', '-----BEGIN CERTIFICATE-----', 'x', CURRENT_TIMESTAMP, FALSE)")
        .unwrap();
    assert!(
        matches!(db.stored_key("bad-b64"), Err(DbError::BadRow { table: "key_store", ref id, .. }) if id == "bad-b64")
    );
    assert_eq!(db.stored_key(&orphan.alias).unwrap().unwrap().private_key, "NA");

    licenses(url, &db);
}

/// MOSIP's licence tables: a key with its TSP mapping in one transaction, lookups by the exact
/// (TSP, key) pair, and permission merges that do not lose each other when they race.
fn licenses(url: &str, db: &Database) {
    let now = UtcTime::parse_lenient("2026-06-01T00:00:00Z").unwrap();
    let entry = |action: &str| AuditEntry {
        time: now,
        actor: "admin".into(),
        action: action.into(),
        app_id: None,
        ref_id: None,
        key_alias: None,
        detail: None,
    };
    let license = License {
        license_key: "AbCdEfGh12345678".into(),
        tsp_id: "TSP1".into(),
        created_at: Some(now),
        expires_at: Some(now.plus_days(30)),
    };
    db.insert_license(&license, entry("license_generated")).unwrap();
    assert!(matches!(db.insert_license(&license, entry("license_generated")), Err(DbError::Duplicate(_))));
    assert_eq!(db.tsp_license("TSP1", "AbCdEfGh12345678").unwrap(), Some(license.clone()));
    assert_eq!(db.tsp_license("TSP2", "AbCdEfGh12345678").unwrap(), None, "another TSP");
    assert_eq!(db.tsp_license("TSP1", "abcdefgh12345678").unwrap(), None, "keys compare exactly");
    assert_eq!(db.tsp_license("TSP1", "AbCdEfGh1234567").unwrap(), None, "no prefix match");
    assert_eq!(db.license_permissions("AbCdEfGh12345678").unwrap(), None);

    let add = |db: &Database, p: &str| {
        db.update_license_permissions::<DbError>(
            "TSP1",
            "AbCdEfGh12345678",
            |license, stored| {
                assert_eq!(license.tsp_id, "TSP1");
                Ok(format!("{}{}{p}", stored.unwrap_or_default(), if stored.is_some() { "," } else { "" }))
            },
            entry("license_permissions_mapped"),
        )
    };
    assert_eq!(add(db, "A").unwrap(), "A");
    assert_eq!(add(db, "B").unwrap(), "A,B");
    assert_eq!(db.license_permissions("AbCdEfGh12345678").unwrap().as_deref(), Some("A,B"));
    let missing = db.update_license_permissions::<DbError>("TSP1", "nope", |_, _| Ok("A".into()), entry("x"));
    assert!(matches!(missing, Err(DbError::NotFound { table: "licensekey_list", .. })));
    let other_tsp = db.update_license_permissions::<DbError>(
        "TSP2",
        "AbCdEfGh12345678",
        |_, _| Ok("A".into()),
        entry("x"),
    );
    assert!(matches!(other_tsp, Err(DbError::NotFound { table: "tsp_licensekey_map", .. })));
    // A refusal inside the merge writes nothing.
    let refused = db.update_license_permissions::<DbError>(
        "TSP1",
        "AbCdEfGh12345678",
        |_, _| Err(DbError::Query("refused".into())),
        entry("x"),
    );
    assert!(refused.is_err());
    assert_eq!(db.license_permissions("AbCdEfGh12345678").unwrap().as_deref(), Some("A,B"));

    // Eight mappings at once, each from its own connection: all eight land.
    std::thread::scope(|scope| {
        for i in 0..8 {
            scope.spawn(move || {
                let db = Database::connect(url, 1).unwrap();
                add(&db, &format!("P{i}")).unwrap();
            });
        }
    });
    let stored = db.license_permissions("AbCdEfGh12345678").unwrap().unwrap();
    for i in 0..8 {
        assert!(stored.split(',').any(|p| p == format!("P{i}")), "P{i} lost: {stored}");
    }
    assert_eq!(stored.split(',').count(), 10);

    // An inactive mapping is no licence.
    raw_sql(url, "UPDATE tsp_licensekey_map SET is_active = FALSE WHERE tsp_id = 'TSP1'").unwrap();
    assert_eq!(db.tsp_license("TSP1", "AbCdEfGh12345678").unwrap(), None);
}

#[test]
fn repository_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&dir.path().join("keymgr.db").to_string_lossy());
}

#[test]
fn repository_on_postgres() {
    let Some(server) = postgres::server_or_skip() else { return };
    let db = postgres::TestDb::create(&server, "keymgr_test_repo");
    suite(&db.url());
}

/// Races 8 threads to create the current key of `pair`, each inside the generation lock;
/// returns how many created one.
fn race(url: &str, pair: &KeyRef) -> usize {
    let db = Arc::new(Database::connect(url, 8).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let db = Arc::clone(&db);
            let pair = pair.clone();
            std::thread::spawn(move || {
                db.with_generation_lock(&pair, |tx| {
                    let now = UtcTime::now();
                    let current =
                        tx.aliases_for(&pair)?.iter().any(|a| a.generated_at <= now && now < a.expires_at);
                    if current {
                        return Ok::<_, DbError>(false);
                    }
                    // Widen the window between the check and the insert.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let new = alias(&pair, now, 730, 7);
                    tx.insert_key(&NewKey { alias: &new, stored: None, actor: "race" })?;
                    Ok(true)
                })
                .unwrap()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).filter(|&created| created).count()
}

fn two_processes(url: &str) {
    // Migrate once up front; then both processes race on the same pairs.
    drop(Database::connect(url, 1).unwrap());
    for pair in ["RACE_A", "RACE_B"] {
        let key_ref = KeyRef::parse("REGISTRATION", pair).unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["generation_lock_child", "--exact", "--nocapture", "--include-ignored"])
            .env(CHILD, url)
            .env("KEYMGR_TEST_DB_CHILD_PAIR", pair)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let here = race(url, &key_ref);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {text}");
        let there: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("CREATED "))
            .and_then(|n| n.trim().parse().ok())
            .expect("child reports its count");
        assert_eq!(here + there, 1, "exactly one of 16 callers in 2 processes created the key of {pair}");
        assert_eq!(Database::connect(url, 1).unwrap().aliases_for(&key_ref).unwrap().len(), 1, "{pair}");
    }
}

/// The child half of the two-process race; does nothing unless started by it.
#[test]
fn generation_lock_child() {
    let (Ok(url), Ok(pair)) = (std::env::var(CHILD), std::env::var("KEYMGR_TEST_DB_CHILD_PAIR")) else {
        return;
    };
    let created = race(&url, &KeyRef::parse("REGISTRATION", &pair).unwrap());
    println!("CREATED {created}");
}

#[test]
fn generation_lock_across_processes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    two_processes(&dir.path().join("race.db").to_string_lossy());
}

#[test]
fn generation_lock_across_processes_on_postgres() {
    let Some(server) = postgres::server_or_skip() else { return };
    let db = postgres::TestDb::create(&server, "keymgr_test_race");
    two_processes(&db.url());
}
