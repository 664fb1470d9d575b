//! Every page and action of the console over HTTP: signed out (to the sign-in page), wrong
//! role (403), missing or wrong CSRF token (refused, nothing changed), each preview changes
//! nothing and each apply does what its preview said.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use common::*;
use keymgr_core::KeyState;
use keymgr_model::AppId;
use keymgr_test_support::pki::{Authority, name};

const PAGES: [&str; 9] = [
    "/console/hierarchy",
    "/console/timeline",
    "/console/timeline?days=1200",
    "/console/trust",
    "/console/trust?domain=DEVICE",
    "/console/audit",
    "/console/health",
    "/console/hierarchy?q=REGISTRATION",
    "/console/audit?actor=custodian&action=console",
];

const PREVIEWS: [&str; 5] = [
    "/console/actions/revoke?app=REGISTRATION&ref=10001_110011",
    "/console/actions/rotate?app=REGISTRATION",
    "/console/actions/compromise?app=REGISTRATION&ref=10001_110011&reason=test",
    "/console/actions/retire",
    "/console/actions/policy?app=REGISTRATION",
];

const APPLIES: [&str; 7] = [
    "/console/actions/revoke",
    "/console/actions/rotate",
    "/console/actions/compromise",
    "/console/actions/retire",
    "/console/actions/policy",
    "/console/actions/trust-upload",
    "/console/logout",
];

#[tokio::test]
async fn signed_out_every_page_and_action_goes_to_the_sign_in_page() {
    let h = harness();
    let mut c = Client::default();
    for uri in
        PAGES.iter().chain(PREVIEWS.iter()).chain(["/console", "/console/keys/x", "/console/jobs/x"].iter())
    {
        let a = c.get(&h, uri).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(
            a.location(),
            if *uri == "/console" { "/console/hierarchy" } else { "/console/login" },
            "{uri}"
        );
    }
    let before = snapshot(&h.km);
    for uri in APPLIES {
        let a = c.post(&h, uri, &[("csrf", "x"), ("app", "REGISTRATION"), ("ref", "10001_110011")]).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(a.location(), "/console/login", "{uri}");
    }
    assert_eq!(snapshot(&h.km), before);
}

#[tokio::test]
async fn sign_in_checks_the_token_the_role_and_the_nonce_and_sets_a_strict_cookie() {
    let h = harness();
    let mut c = Client::default();
    let a = c.sign_in(&h, "not-a-token").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("not accepted"), "{}", a.body);
    let a = c.sign_in(&h, SERVICE).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "a CRYPTO_USER token may not use the console");
    // The nonce must be the one of the cookie (login CSRF).
    let mut other = Client::default();
    other.get(&h, "/console/login").await;
    let a = other.post(&h, "/console/login", &[("token", ADMIN), ("nonce", "00")]).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        !a.headers.get_all("set-cookie").iter().any(|v| v.to_str().unwrap().starts_with("keymgr_console="))
    );

    let a = c.sign_in(&h, ADMIN).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("keymgr_console="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=1800", "Secure"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains(ADMIN), "the cookie is not the token");
    // The sign-in is audited; the token is not.
    let rows = h.km.audit_trail(0, 1000).unwrap();
    assert!(
        rows.iter().any(|r| r.entry.actor == "custodian" && r.entry.detail.as_deref() == Some("console sign-in: ok"))
    );
    assert!(!rows.iter().any(|r| r.entry.detail.as_deref().unwrap_or("").contains(ADMIN)));
    // Signed in, the sign-in page sends to the console.
    assert_eq!(c.get(&h, "/console/login").await.location(), "/console/hierarchy");
}

#[tokio::test]
async fn pages_render_with_a_strict_content_security_policy() {
    let h = harness();
    let (mut c, _) = Client::signed_in(&h, ADMIN).await;
    for uri in PAGES {
        let a = c.get(&h, uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
        let csp = a.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(a.headers["x-frame-options"], "DENY");
        assert_eq!(a.headers["cache-control"], "no-store");
        assert!(!a.body.contains(" style=\""), "{uri}: no inline style under the CSP");
        assert!(!a.body.contains("<script>"), "{uri}: no inline script under the CSP");
    }
    let hierarchy = c.get(&h, "/console/hierarchy").await.body;
    for part in
        ["ROOT", "Module masters", "Base keys · REGISTRATION", "keystore", "database", "Revoke…", "Rotate…"]
    {
        assert!(hierarchy.contains(part), "{part} in the hierarchy");
    }
    let searched = c.get(&h, "/console/hierarchy?q=RESIDENT").await.body;
    assert!(searched.contains("RESIDENT") && !searched.contains("10001_110011"));
    let timeline = c.get(&h, "/console/timeline?days=1200").await.body;
    assert!(timeline.contains("<svg") && timeline.contains("rotates at"), "{timeline}");
    assert_eq!(c.get(&h, "/console/timeline?days=7").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.get(&h, "/console/timeline?days=x").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(c.get(&h, "/console/trust?domain=NOPE").await.status, StatusCode::BAD_REQUEST);
    let audit = c.get(&h, "/console/audit").await.body;
    assert!(audit.contains("Chain intact"), "{audit}");
    let health = c.get(&h, "/console/health").await.body;
    assert!(health.contains("Database") && health.contains(">up<") && health.contains("current_certificate"));
    assert_eq!(c.get(&h, "/console/nothing-here").await.status, StatusCode::NOT_FOUND);
    let css = c.get(&h, "/console/assets/console.css").await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(c.get(&h, "/console/assets/console.js").await.body.contains("followJob"));
}

#[tokio::test]
async fn other_domains_certificates_are_listed_apart_with_no_private_key() {
    let h = harness();
    let now = keymgr_model::UtcTime::now();
    let other = Authority::root(name("Partner Domain Key", "Other Org"), now.plus_days(-1), 365);
    let (app, reference) = (AppId::new("IDA").unwrap(), keymgr_model::RefId::new("PARTNER_DOMAIN").unwrap());
    h.km.upload_other_domain_certificate(&app, &reference, &other.certificate.to_pem()).unwrap();
    let alias = h.km.key_statuses(Some(&pair("IDA", "PARTNER_DOMAIN"))).unwrap().remove(0).key.alias;
    let (mut c, _) = Client::signed_in(&h, ADMIN).await;
    let page = c.get(&h, "/console/hierarchy").await.body;
    let section = page
        .find("Other domains&#39; certificates")
        .or_else(|| page.find("Other domains' certificates"))
        .unwrap();
    assert!(page[section..].contains(&alias) && page[section..].contains("certificate only"), "{page}");
    let key = c.get(&h, &format!("/console/keys/{alias}")).await.body;
    assert!(
        key.contains("another domain") && !key.contains("Revoke…") && key.contains("Partner Domain Key"),
        "{key}"
    );
}

#[tokio::test]
async fn a_key_page_shows_the_certificate_and_offers_it_for_download() {
    let h = harness();
    let (mut c, _) = Client::signed_in(&h, AUDITOR).await;
    let key = h.km.key_statuses(Some(&pair("REGISTRATION", "10001_110011"))).unwrap().remove(0).key;
    let page = c.get(&h, &format!("/console/keys/{}", key.alias)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&key.thumbprint.unwrap().to_hex()));
    assert!(page.body.contains("BEGIN CERTIFICATE"));
    assert!(!page.body.contains("Revoke…"), "an auditor is offered no action");
    let pem = c.get(&h, &format!("/console/keys/{}/certificate.pem", key.alias)).await;
    assert_eq!(pem.status, StatusCode::OK);
    assert!(pem.body.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(pem.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(c.get(&h, "/console/keys/no-such-key").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_auditor_sees_every_page_and_may_not_act() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, AUDITOR).await;
    for uri in PAGES {
        assert_eq!(c.get(&h, uri).await.status, StatusCode::OK, "{uri}");
    }
    let before = snapshot(&h.km);
    for uri in PREVIEWS {
        assert_eq!(c.get(&h, uri).await.status, StatusCode::FORBIDDEN, "{uri}");
    }
    for uri in &APPLIES[..6] {
        let a = c.post(&h, uri, &[("csrf", &csrf), ("app", "REGISTRATION"), ("ref", "10001_110011")]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(snapshot(&h.km), before);
    assert!(!c.get(&h, "/console/hierarchy").await.body.contains("Revoke…"));
}

#[tokio::test]
async fn an_action_without_the_sessions_csrf_token_or_from_another_site_is_refused() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let before = snapshot(&h.km);
    // Every field an apply needs, so that only the token is wrong.
    let fields = |token: &'static str| {
        vec![
            ("app", "REGISTRATION"),
            ("ref", "10001_110011"),
            ("reason", "r"),
            ("validity", "365"),
            ("pre", "30"),
            ("kind", "ca"),
            ("domain", "DEVICE"),
            ("data", "x"),
            ("csrf", token),
        ]
    };
    for uri in APPLIES {
        let a = c.post(&h, uri, &fields("")).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri} without a token");
        let a = c.post(&h, uri, &fields("0000")).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri} with a wrong token");
    }
    // The right token from another site, by its Origin or by the browser's own mark.
    for header in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let fields = [("app", "REGISTRATION"), ("ref", "10001_110011"), ("csrf", csrf.as_str())];
        let a = c.send(&h, "POST", "/console/actions/revoke", Some(&fields), &[header]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{header:?}");
    }
    assert_eq!(snapshot(&h.km), before, "nothing changed");
    // A session's token is not another's.
    let (mut other, other_csrf) = Client::signed_in(&h, ADMIN).await;
    assert_ne!(csrf, other_csrf);
    let a = other
        .post(
            &h,
            "/console/actions/revoke",
            &[("app", "REGISTRATION"), ("ref", "10001_110011"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(snapshot(&h.km), before);
}

#[tokio::test]
async fn revoke_preview_changes_nothing_and_apply_does_what_it_said() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let key_ref = pair("REGISTRATION", "10001_110011");
    let current = h.km.key_statuses(Some(&key_ref)).unwrap().remove(0).key.alias;
    let before = snapshot(&h.km);
    let preview = c.get(&h, "/console/actions/revoke?app=REGISTRATION&ref=10001_110011").await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains(&current)
            && preview.body.contains("expires now")
            && preview.body.contains("new key")
    );
    assert_eq!(snapshot(&h.km), before, "the preview changed nothing");
    // Masters are rotated, not revoked.
    assert_eq!(
        c.get(&h, "/console/actions/revoke?app=REGISTRATION&ref=").await.status,
        StatusCode::BAD_REQUEST
    );

    // The confirmation names the key the preview showed.
    assert_eq!(preview.hidden("alias"), current);
    let confirm = [
        ("app", "REGISTRATION"),
        ("ref", "10001_110011"),
        ("alias", current.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let done = c.apply(&h, "/console/actions/revoke", &confirm).await;
    let after = h.km.key_statuses(Some(&key_ref)).unwrap();
    assert_eq!(after.len(), 2, "the revoked key and its successor");
    let old = after.iter().find(|k| k.key.alias == current).unwrap();
    assert_eq!(old.state, KeyState::Deactivated);
    let new = after.iter().find(|k| k.key.alias != current).unwrap();
    assert_eq!(new.state, KeyState::Active);
    assert!(done.body.contains(&new.key.alias), "the answer names the new key");
    let rows = h.km.audit_trail(0, 1000).unwrap();
    assert!(rows.iter().any(|r| r.entry.actor == "custodian"
        && r.entry.detail.as_deref() == Some("console revoke REGISTRATION/10001_110011: ok")));
    // The same confirmation again (a double click, a re-sent form) no longer matches the
    // current key: it is refused and the new key stays.
    let again = c.apply(&h, "/console/actions/revoke", &confirm).await;
    assert!(again.body.contains("no longer the one the preview showed"), "{}", again.body);
    assert_eq!(h.km.key_statuses(Some(&key_ref)).unwrap().len(), 2);
}

#[tokio::test]
async fn rotate_preview_changes_nothing_and_apply_makes_a_new_master() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let master = pair("REGISTRATION", "");
    let before = snapshot(&h.km);
    let preview = c.get(&h, "/console/actions/rotate?app=REGISTRATION").await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("A new master key is generated now"));
    assert_eq!(snapshot(&h.km), before);
    assert_eq!(c.get(&h, "/console/actions/rotate?app=ROOT").await.status, StatusCode::BAD_REQUEST);
    let alias = preview.hidden("alias");
    let done = c
        .apply(&h, "/console/actions/rotate", &[("app", "REGISTRATION"), ("alias", &alias), ("csrf", &csrf)])
        .await;
    assert!(done.body.contains("master was rotated"), "{}", done.body);
    assert_eq!(h.km.key_statuses(Some(&master)).unwrap().len(), 2);
    let again = c
        .apply(&h, "/console/actions/rotate", &[("app", "REGISTRATION"), ("alias", &alias), ("csrf", &csrf)])
        .await;
    assert!(again.body.contains("no longer the one"), "{}", again.body);
    assert_eq!(
        h.km.key_statuses(Some(&master)).unwrap().len(),
        2,
        "a re-sent rotation makes no third master"
    );
}

#[tokio::test]
async fn compromise_dry_run_changes_nothing_and_the_job_applies_it_with_progress() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let before = snapshot(&h.km);
    let form_only = c.get(&h, "/console/actions/compromise").await;
    assert_eq!(form_only.status, StatusCode::OK);
    let dry = c
        .get(
            &h,
            "/console/actions/compromise?app=REGISTRATION&ref=&reason=HSM+backup+lost&rotate_children=on",
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert!(dry.body.contains("Dry run") && dry.body.contains("Keys it wraps"), "{}", dry.body);
    assert_eq!(snapshot(&h.km), before, "the dry run changed nothing");
    assert_eq!(
        c.get(&h, "/console/actions/compromise?app=REGISTRATION&ref=&reason=x&recovery_hours=100000")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let no_reason = c
        .post(
            &h,
            "/console/actions/compromise",
            &[("app", "REGISTRATION"), ("ref", ""), ("reason", " "), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&h.km), before);

    let master = h.km.key_statuses(Some(&pair("REGISTRATION", ""))).unwrap().remove(0).key.alias;
    assert!(
        dry.body.contains(&format!("name=\"alias\" type=\"text\" value=\"{master}\"")),
        "the confirmation names the key"
    );
    let unnamed = c
        .post(
            &h,
            "/console/actions/compromise",
            &[("app", "REGISTRATION"), ("ref", ""), ("reason", "x"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(unnamed.status, StatusCode::BAD_REQUEST, "an apply without the dry run's key");
    let started = c
        .post(
            &h,
            "/console/actions/compromise",
            &[
                ("app", "REGISTRATION"),
                ("ref", ""),
                ("alias", &master),
                ("reason", "HSM backup lost"),
                ("rotate_children", "on"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let job = started.location().to_owned();
    assert!(job.starts_with("/console/jobs/"));
    let mut finished = false;
    for _ in 0..200 {
        let status = c.get(&h, &format!("{job}/status")).await;
        assert_eq!(status.status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        if v["finished"] == true {
            assert_eq!(v["done"], v["total"], "{v}");
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(finished, "the job ends");
    let page = c.get(&h, &job).await;
    assert!(page.body.contains("Done.") && page.body.contains("Successor"), "{}", page.body);
    let statuses = h.km.key_statuses(Some(&pair("REGISTRATION", ""))).unwrap();
    assert_eq!(statuses.iter().find(|k| k.key.alias == master).unwrap().state, KeyState::Compromised);
    // The base key it wrapped (the dry run named its pair) was expired so that new data goes
    // to a fresh key, as the form's choice said.
    assert!(dry.body.contains("REGISTRATION/10001_110011: 1 keys"), "{}", dry.body);
    let base = h.km.key_statuses(Some(&pair("REGISTRATION", "10001_110011"))).unwrap();
    assert_eq!(base[0].state, KeyState::Deactivated);
    // An auditor cannot follow an admin's job.
    let (mut auditor, _) = Client::signed_in(&h, AUDITOR).await;
    assert_eq!(auditor.get(&h, &job).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn retire_preview_lists_and_apply_destroys_the_same_keys() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let key_ref = pair("RESIDENT", "ONE");
    let old = h.km.key_statuses(Some(&key_ref)).unwrap().remove(0).key.alias;
    h.km.revoke_key(&key_ref.app, &key_ref.reference).unwrap();
    h.km.set_retention(&AppId::new("RESIDENT").unwrap(), 0, "test", Some("retire at once")).unwrap();
    let before = snapshot(&h.km);
    let preview = c.get(&h, "/console/actions/retire").await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains(&old) && preview.body.contains("Destroy these 1 keys"), "{}", preview.body);
    assert_eq!(snapshot(&h.km), before, "the preview changed nothing");
    let done = c.apply(&h, "/console/actions/retire", &[("csrf", &csrf)]).await;
    assert!(done.body.contains("1 keys destroyed"), "{}", done.body);
    let state =
        h.km.key_statuses(Some(&key_ref)).unwrap().into_iter().find(|k| k.key.alias == old).unwrap().state;
    assert_eq!(state, KeyState::Destroyed);
}

#[tokio::test]
async fn a_policy_change_shows_its_lint_first_and_needs_a_reason_to_save_over_it() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let policies = h.km.policies().unwrap();
    let form = c.get(&h, "/console/actions/policy?app=REGISTRATION").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"validity\""));
    // Pre-expiry not shorter than validity: an error finding.
    let preview =
        c.get(&h, "/console/actions/policy?app=REGISTRATION&validity=30&pre=30&active=on&access=NA").await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("is not shorter than"), "{}", preview.body);
    assert!(preview.body.contains("name=\"force_reason\""));
    assert_eq!(h.km.policies().unwrap(), policies, "the preview saved nothing");
    let fields = [
        ("app", "REGISTRATION"),
        ("validity", "30"),
        ("pre", "30"),
        ("active", "on"),
        ("access", "NA"),
        ("csrf", csrf.as_str()),
    ];
    let refused = c.apply(&h, "/console/actions/policy", &fields).await;
    assert!(refused.body.contains("Failed: KER-KMS-422"), "{}", refused.body);
    assert_eq!(h.km.policies().unwrap(), policies);
    let mut forced = fields.to_vec();
    forced.push(("force_reason", "short-lived test keys"));
    let saved = c.apply(&h, "/console/actions/policy", &forced).await;
    assert!(saved.body.contains("is saved, over 1 findings"), "{}", saved.body);
    let p = h.km.policies().unwrap().into_iter().find(|p| p.app_id.as_str() == "REGISTRATION").unwrap();
    assert_eq!((p.validity_days, p.pre_expire_days), (30, 30));
    // A clean change saves without a reason.
    let clean = [
        ("app", "REGISTRATION"),
        ("validity", "365"),
        ("pre", "30"),
        ("active", "on"),
        ("access", "NA"),
        ("csrf", csrf.as_str()),
    ];
    assert!(c.apply(&h, "/console/actions/policy", &clean).await.body.contains("is saved."));
    assert_eq!(
        c.get(&h, "/console/actions/policy?app=REGISTRATION&validity=-1&pre=1").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn trust_store_upload_takes_the_apis_checks_and_shows_the_chain() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let now = keymgr_model::UtcTime::now();
    let root = Authority::root(name("Console Test Root", "Test Org"), now.plus_days(-1), 3650);
    let sub = root.sub_ca(name("Console Test Sub CA", "Test Org"), now.plus_days(-1), 1825);
    let upload = |pem: String| {
        vec![
            ("kind", "ca".to_owned()),
            ("domain", "DEVICE".to_owned()),
            ("data", pem),
            ("csrf", csrf.clone()),
        ]
    };
    for pem in [root.certificate.to_pem(), sub.certificate.to_pem()] {
        let fields = upload(pem);
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = c.apply(&h, "/console/actions/trust-upload", &borrowed).await;
        assert!(a.body.contains("Upload Success."), "{}", a.body);
    }
    let page = c.get(&h, "/console/trust?domain=DEVICE").await.body;
    let root_at = page.find("Console Test Root").unwrap();
    let sub_at = page.find("Console Test Sub CA").unwrap();
    assert!(root_at < sub_at, "the chain is drawn root first");
    let garbage = c
        .apply(
            &h,
            "/console/actions/trust-upload",
            &[("kind", "ca"), ("domain", "DEVICE"), ("data", "not a certificate"), ("csrf", &csrf)],
        )
        .await;
    assert!(garbage.body.contains("Failed: KER-"), "{}", garbage.body);
    let bad_domain = c
        .post(
            &h,
            "/console/actions/trust-upload",
            &[("kind", "ca"), ("domain", "NOPE"), ("data", "x"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(bad_domain.status, StatusCode::BAD_REQUEST);
    let bad_kind = c
        .post(
            &h,
            "/console/actions/trust-upload",
            &[("kind", "other"), ("domain", "DEVICE"), ("data", "x"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sign_out_ends_the_session_and_sessions_expire() {
    let h = harness();
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let kept = c.clone();
    let out = c.post(&h, "/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/console/login");
    // The old cookie, replayed, no longer works.
    let mut replay = kept;
    assert_eq!(replay.get(&h, "/console/hierarchy").await.location(), "/console/login");

    let h = harness_with(short_ttl());
    let (mut c, _) = Client::signed_in(&h, AUDITOR).await;
    assert_eq!(c.get(&h, "/console/health").await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(c.get(&h, "/console/health").await.location(), "/console/login");
}

#[tokio::test]
async fn a_refused_token_is_answered_slowly_and_locks_nobody_out() {
    let h = harness();
    let mut c = Client::default();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(c.sign_in(&h, "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(3), "each refusal waits a second");
    // No lockout: the right token still signs in at once.
    assert_eq!(c.sign_in(&h, ADMIN).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn each_action_also_needs_the_roles_of_its_rest_endpoint() {
    // A deployment that gave the compromise response and retirement to a role of their own.
    let roles = [
        ("postcompromise".to_owned(), vec!["KEY_CUSTODIAN".to_owned()]),
        ("postretire".to_owned(), vec!["KEY_CUSTODIAN".to_owned()]),
    ]
    .into_iter()
    .collect();
    let h = harness_configured(keymgr_console::ConsoleSettings::default(), &roles);
    let (mut c, csrf) = Client::signed_in(&h, ADMIN).await;
    let before = snapshot(&h.km);
    assert_eq!(
        c.get(&h, "/console/actions/compromise?app=REGISTRATION&ref=").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(c.get(&h, "/console/actions/retire").await.status, StatusCode::FORBIDDEN);
    let a = c
        .post(
            &h,
            "/console/actions/compromise",
            &[("app", "REGISTRATION"), ("ref", ""), ("alias", "x"), ("reason", "r"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(c.post(&h, "/console/actions/retire", &[("csrf", &csrf)]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(snapshot(&h.km), before);
    // The other actions keep KEY_ADMIN.
    assert_eq!(
        c.get(&h, "/console/actions/revoke?app=REGISTRATION&ref=10001_110011").await.status,
        StatusCode::OK
    );
}
