//! `GET /tokenid/{uin}/{partnercode}`: MOSIP's derivation checked against a second
//! implementation (Python's hashlib and big integers), trimming, the codes, and the roles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_core::TokenIdSettings;

/// MOSIP's own test salts (`kernel-keymanager-service/src/test/resources/application.properties`).
const UIN_SALT: &str = "zHuDEAbmbxiUbUShgy6pwUhKh9DE0EZn9kQDKPPKbWscGajMwf";
const PARTNER_SALT: &str = "yS8w5Wb6vhIKdf1msi4LYTJks7mqkbmITk2O63Iq8h0bkRlD0d";

/// The derivation written again in Python, from the reference's words.
const PYTHON: &str = r#"
import hashlib, sys
uin, partner, uin_salt, partner_salt, length = sys.argv[1:6]
h1 = hashlib.sha256((uin + uin_salt).encode()).hexdigest().upper()
h2 = hashlib.sha256((partner_salt + partner + h1).encode()).hexdigest().upper()
print(str(int.from_bytes(h2.encode(), "big"))[:int(length)], end="")
"#;

fn salted(length: usize) -> Api {
    api_configured(false, |c| {
        c.token_ids = TokenIdSettings {
            uin_salt: Some(UIN_SALT.into()),
            partner_code_salt: Some(PARTNER_SALT.into()),
            length,
        }
    })
}

#[tokio::test]
async fn token_ids_match_a_second_implementation() {
    let api = salted(36);
    for (uin, partner) in [("1234", "1234"), ("2345678901", "mpartner-default-auth"), ("9", "ÄÖ-partner")] {
        let path = format!("/tokenid/{}/{}", urlencode(uin), urlencode(partner));
        let token = api.get_ok(&path).await["tokenID"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 36);
        if keymgr_test_support::python::ready(&["hashlib"]) {
            let expected =
                keymgr_test_support::python::run(PYTHON, &[uin, partner, UIN_SALT, PARTNER_SALT, "36"], b"");
            assert_eq!(token.as_bytes(), expected, "{uin} / {partner}");
        }
    }
    // Trimmed as MOSIP trims; any caller with a crypto role may ask.
    let token = api.get_ok("/tokenid/1234/1234").await["tokenID"].clone();
    assert_eq!(api.get_ok("/tokenid/%20%201234%20/1234%20").await["tokenID"], token);
    let (status, body) = api.call("GET", "/tokenid/1234/1234", Some(READER), None).await;
    assert_eq!((status, body["response"]["tokenID"].clone()), (StatusCode::OK, token.clone()));
    // Another length is a prefix of the same digits.
    let short = salted(10).get_ok("/tokenid/1234/1234").await["tokenID"].as_str().unwrap().to_owned();
    assert!(token.as_str().unwrap().starts_with(&short) && short.len() == 10);
}

#[tokio::test]
async fn blank_parts_unconfigured_salts_and_roles() {
    let api = salted(36);
    let (status, code) = api.error("GET", "/tokenid/%20%20%20/%20%20", Some(ADMIN), None).await;
    assert_eq!((status, code.as_str()), (StatusCode::OK, "KER-TIG-010"));
    let (_, code) = api.error("GET", "/tokenid/1234/%20", Some(ADMIN), None).await;
    assert_eq!(code, "KER-TIG-010");
    let (status, _) = api.call("GET", "/tokenid/1234/1234", Some(OUTSIDER), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.call("GET", "/tokenid/1234/1234", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, code) = common::api().error("GET", "/tokenid/1234/1234", Some(ADMIN), None).await;
    assert_eq!(code, "KER-UIG-005", "no salts configured");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}
