//! Taking over a database that MOSIP's own scripts made: the schema, MOSIP's DDL, its grants to
//! the application role and its seed rows, built from `testdata/mosip_keymgr` as MOSIP's
//! `deploy.sh` builds them. As the application role (no DDL rights) the service refuses to
//! start until the schema owner ran `keymgr migrate`, saying so; `keymgr migrate` as the owner
//! keeps MOSIP's tables and rows and adds this service's, twice without harm; then the service
//! runs as the application role, and the rows it writes have MOSIP's shapes.
//!
//! Needs PostgreSQL (`KEYMGR_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432); without
//! it the test says `SKIPPED`, with `KEYMGR_REQUIRE_PG=1` it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use keymgr_model::{AccessAllowed, AppId, RefId};
use keymgr_test_support::postgres;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/mosip_keymgr");

fn keymgr(data: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keymgr"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("KEYMGR_DATABASE_URL", url)
        .env_remove("KEYMGR_KEYSTORE_PIN")
        .output()
        .expect("keymgr runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The statements of a MOSIP script without its psql meta-commands (`\c`, `\ir`, `\COPY`).
fn sql(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURE}/{path}"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds the MOSIP database in `db` (as the superuser): MOSIP's db.sql from the schema on, the
/// DDL in ddl.sql's order, grants.sql for `role`, and dml.sql's seed rows from the CSV.
fn mosip_database(url: &str, name: &str, role: &str) {
    let mut c = PgConnection::establish(url).unwrap();
    let schema = sql("db.sql");
    let schema = schema.get(schema.find("DROP SCHEMA").unwrap()..).unwrap().replace("mosip_keymgr", name);
    c.batch_execute(&schema).unwrap();
    let order = std::fs::read_to_string(format!("{FIXTURE}/ddl.sql")).unwrap();
    for line in order.lines().filter_map(|l| l.trim().strip_prefix("\\ir ")) {
        c.batch_execute(&sql(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    c.batch_execute(&sql("grants.sql").replace("keymgruser", role).replace("mosip_keymgr", name)).unwrap();
    let csv = std::fs::read_to_string(format!("{FIXTURE}/dml/keymgr-key_policy_def.csv")).unwrap();
    for row in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = row.split(',').collect();
        c.batch_execute(&format!(
            "INSERT INTO keymgr.key_policy_def (app_id,key_validity_duration,is_active,cr_by,cr_dtimes,pre_expire_days,access_allowed) \
             VALUES ('{}',{},{},'{}',now(),{},'{}')",
            f[0], f[1], f[2], f[3], f[5], f[6]
        ))
        .unwrap();
    }
}

fn count(c: &mut PgConnection, query: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(query)).get_result(c).unwrap()
}

fn text_of(c: &mut PgConnection, query: &str) -> String {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(query)).get_result(c).unwrap()
}

#[test]
fn serves_a_database_made_by_mosips_scripts() {
    let Some(server) = postgres::server_or_skip() else { return };
    let db = postgres::TestDb::create(&server, "keymgr_takeover");
    let role = format!("keymgruser_{}", std::process::id());
    let mut admin = postgres::connect_admin(&server).unwrap();
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} WITH INHERIT LOGIN"))
        .unwrap();
    let owner_url = db.url();
    mosip_database(&owner_url, db.name(), &role);
    let (scheme_host, _) = owner_url.rsplit_once('/').unwrap();
    let host = scheme_host.rsplit_once('@').map_or(scheme_host.trim_start_matches("postgres://"), |(_, h)| h);
    let app_url = format!("postgres://{role}@{host}/{}", db.name());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // As the application role, before the owner migrated: refused, naming the step.
    let out = keymgr(&data, &app_url, &["keygen"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("keymgr migrate"), "{}", text(&out));

    // The owner's step, twice.
    for _ in 0..2 {
        let out = keymgr(&data, &owner_url, &["migrate"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut c = PgConnection::establish(&owner_url).unwrap();
    // MOSIP's tables and seed rows kept as they were: its constraint names, its 12 policies.
    assert_eq!(count(&mut c, "(SELECT count(*) FROM pg_constraint WHERE conname = 'pk_keymals_id')"), 1);
    assert_eq!(count(&mut c, "(SELECT count(*) FROM keymgr.key_policy_def)"), 12);
    assert_eq!(count(&mut c, "(SELECT count(*) FROM keymgr.licensekey_list)"), 0);

    // Now the application role serves: the key generator, a base key, a packet round trip.
    let out = keymgr(&data, &app_url, &["keygen"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ZK random keys: 0 existed, 10000 made"), "{}", text(&out));
    let mut config = keymgr_service::ServiceConfig::load(None).unwrap();
    config.data_dir = Some(data.clone());
    config.database.url = Some(app_url.clone());
    config.keys.keygen_on_start = false;
    let km = keymgr_service::start(&config).unwrap().state.key_manager().clone();
    let (app, pair) = (AppId::new("REGISTRATION").unwrap(), RefId::new("10001_110011").unwrap());
    let mut policy = km.database().policy(&app).unwrap().unwrap();
    policy.access_allowed = AccessAllowed::Anyone;
    km.set_policy(&policy).unwrap();
    let base = km.get_certificate(&app, &pair).unwrap();
    let packet = km.encrypt(&app, &pair, b"registration packet", None, None).unwrap();
    assert_eq!(
        &*km.decrypt(&app, &pair, packet.as_bytes(), None, None, "u").unwrap(),
        b"registration packet"
    );
    assert!(km.verify_audit().unwrap().problem.is_none());

    // The rows have MOSIP's shapes.
    let alias = &base.alias;
    assert_eq!(
        text_of(&mut c, &format!("(SELECT cert_thumbprint FROM keymgr.key_alias WHERE id = '{alias}')")),
        base.certificate.thumbprint().to_hex()
    );
    let uni = text_of(&mut c, &format!("(SELECT uni_ident FROM keymgr.key_alias WHERE id = '{alias}')"));
    assert!(
        uni.len() == 40 && uni.chars().all(|ch| ch.is_ascii_hexdigit() && !ch.is_ascii_lowercase()),
        "{uni}"
    );
    assert_eq!(
        count(
            &mut c,
            &format!(
                "(SELECT count(*) FROM keymgr.key_alias WHERE id = '{alias}' AND is_deleted = false AND ref_id = '10001_110011')"
            )
        ),
        1
    );
    let master =
        text_of(&mut c, "(SELECT id FROM keymgr.key_alias WHERE app_id = 'REGISTRATION' AND ref_id = '')");
    assert_eq!(
        text_of(&mut c, &format!("(SELECT master_key FROM keymgr.key_store WHERE id = '{alias}')")),
        master
    );
    let wrapped =
        text_of(&mut c, &format!("(SELECT private_key FROM keymgr.key_store WHERE id = '{alias}')"));
    assert!(wrapped.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "base64url");
    assert!(
        text_of(&mut c, &format!("(SELECT certificate_data FROM keymgr.key_store WHERE id = '{alias}')"))
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(
        count(
            &mut c,
            "(SELECT count(*) FROM keymgr.data_encrypt_keystore WHERE length(key) = 44 AND key_status = 'Active' AND cr_by = 'System')"
        ),
        10_000
    );
    // The masters are in the keystore, not in key_store, as MOSIP keeps them.
    assert_eq!(count(&mut c, &format!("(SELECT count(*) FROM keymgr.key_store WHERE id = '{master}')")), 0);
    drop(km);
    drop(c);
    drop(db); // the database goes first: the role holds privileges in it
    admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}")).unwrap();
}
