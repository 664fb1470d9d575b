//! PostgreSQL over TLS: libpq (bundled, on OpenSSL) negotiates TLS when asked, and with
//! `sslmode=verify-full` refuses a server whose certificate does not chain to the configured
//! root or does not name the host. Run against the local server when it has TLS on (Debian's
//! default, with its self-signed "snakeoil" certificate for `localhost`); says `SKIPPED`
//! otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use diesel::prelude::*;
use diesel::sql_types::Bool;
use keymgr_db::Database;
use keymgr_test_support::postgres;

/// Debian's self-signed server certificate, which the local PostgreSQL serves.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

fn server_with_tls() -> Option<String> {
    // localhost, not 127.0.0.1: the name the server's certificate holds.
    let base = postgres::server_at_or_skip("postgres://postgres@localhost:5432", "?sslmode=disable")?;
    if !std::path::Path::new(SNAKEOIL).exists() {
        println!("SKIPPED: {SNAKEOIL} is not there to verify the server against");
        return None;
    }
    match PgConnection::establish(&format!("{base}/postgres?sslmode=require")) {
        Ok(_) => Some(base),
        Err(e) => {
            println!("SKIPPED: PostgreSQL at {base} does not offer TLS ({e})");
            None
        }
    }
}

fn uses_tls(conn: &mut PgConnection) -> bool {
    diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Ssl>(conn)
        .unwrap()
        .ssl
}

#[test]
fn postgres_connections_verify_the_server_certificate() {
    let Some(base) = server_with_tls() else { return };
    let db = |query: &str| format!("{base}/postgres?{query}");

    let mut verified =
        PgConnection::establish(&db(&format!("sslmode=verify-full&sslrootcert={SNAKEOIL}"))).unwrap();
    assert!(uses_tls(&mut verified), "verify-full runs over TLS");
    let mut plain = PgConnection::establish(&db("sslmode=disable")).unwrap();
    assert!(!uses_tls(&mut plain));

    // A root that did not sign the server's certificate: refused.
    let other_root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/fixture-cert.pem");
    let refused = PgConnection::establish(&db(&format!("sslmode=verify-full&sslrootcert={other_root}")));
    assert!(refused.is_err(), "a server certificate from another CA is refused");
    // The right root under another host name: refused by verify-full, accepted by verify-ca.
    let by_ip = base.replace("@localhost", "@127.0.0.1");
    if by_ip != base {
        let wrong_name =
            PgConnection::establish(&format!("{by_ip}/postgres?sslmode=verify-full&sslrootcert={SNAKEOIL}"));
        assert!(wrong_name.is_err(), "the certificate names localhost, not 127.0.0.1");
        PgConnection::establish(&format!("{by_ip}/postgres?sslmode=verify-ca&sslrootcert={SNAKEOIL}"))
            .unwrap();
    }

    // The repository's pool takes the same URL.
    let repo = Database::connect(&db(&format!("sslmode=verify-full&sslrootcert={SNAKEOIL}")), 2).unwrap();
    repo.health_check().unwrap();
}
