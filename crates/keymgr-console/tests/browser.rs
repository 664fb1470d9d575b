//! The console in a real browser: headless Chromium, driven through ChromeDriver, signs in,
//! opens the hierarchy, revokes a base key through the confirmation and sees the new key,
//! follows a compromise response to its end, and visits every page, saving a screenshot of
//! each to `target/console-screenshots/`. The browser's console log must hold no error (a
//! blocked script or style under the CSP, a failed request, a script error).
//!
//! Needs Debian's `chromium` and `chromium-driver`; skips without them unless
//! `KEYMGR_REQUIRE_BROWSER=1` (as `.ci/run` sets).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use keymgr_http::server::{ServerLimits, serve};
use keymgr_test_support::pki::{Authority, name};
use keymgr_test_support::webdriver::{Browser, browser_or_skip};

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves `h`'s router on a loopback port from a runtime of its own; the port.
fn serve_in_background(h: &Harness) -> u16 {
    let router = h.router.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            serve(listener, router, ServerLimits::default(), std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn a_custodian_signs_in_revokes_a_key_and_follows_a_compromise_response() {
    if !browser_or_skip() {
        return;
    }
    // The default settings (a Secure cookie): browsers accept it from http://localhost.
    let h = harness();
    let now = keymgr_model::UtcTime::now();
    let root = Authority::root(name("Device Root CA", "Example Devices"), now.plus_days(-1), 3650);
    let sub = root.sub_ca(name("Device Issuing CA", "Example Devices"), now.plus_days(-1), 1825);
    h.km.upload_ca_certificate(&root.certificate.to_pem(), "DEVICE").unwrap();
    h.km.upload_ca_certificate(&sub.certificate.to_pem(), "DEVICE").unwrap();
    let port = serve_in_background(&h);
    let base = format!("http://localhost:{port}");
    let shots = screenshots();
    let browser = Browser::start(1400, 1000);
    let shot = |file: &str| browser.screenshot(&shots.join(file));

    browser.goto(&format!("{base}/console"));
    browser.wait_for_url("/console/login");
    shot("01-sign-in.png");
    browser.type_into("#token", ADMIN);
    browser.click("button[type=submit]");
    browser.wait_for_url("/console/hierarchy");
    browser.wait_for_text("Base keys · REGISTRATION");
    shot("02-hierarchy.png");
    // The first Tab reaches the skip link: the page is keyboard-navigable from the top.
    let (text, tag) = browser.focused_after_tabs(1);
    assert_eq!((text.as_str(), tag.as_str()), ("Skip to content", "a"));

    let key_ref = pair("REGISTRATION", "10001_110011");
    let old = h.km.key_statuses(Some(&key_ref)).unwrap().remove(0).key.alias;
    browser.click("a.action[href*='revoke?app=REGISTRATION&ref=10001_110011']");
    browser.wait_for_url("/console/actions/revoke");
    browser.wait_for_text(&old);
    shot("03-revoke-preview.png");
    assert_eq!(h.km.key_statuses(Some(&key_ref)).unwrap().len(), 1, "the preview changed nothing");
    browser.click("button.danger");
    browser.wait_for_text("Revoked ");
    shot("04-revoked.png");
    let keys = h.km.key_statuses(Some(&key_ref)).unwrap();
    assert_eq!(keys.len(), 2);
    let new = keys.iter().find(|k| k.key.alias != old).unwrap().key.alias.clone();
    assert!(browser.text().contains(&new), "the answer shows the new key");
    browser.goto(&format!("{base}/console/hierarchy?q=10001_110011"));
    browser.wait_for_text(&new);
    browser.goto(&format!("{base}/console/keys/{new}"));
    browser.wait_for_text("BEGIN CERTIFICATE");
    shot("05-key.png");

    browser.goto(&format!("{base}/console/timeline?days=1200"));
    browser.wait_for_text("Policy lint");
    shot("06-timeline.png");

    browser.goto(&format!(
        "{base}/console/actions/compromise?app=RESIDENT&ref=&reason=HSM+backup+tape+lost&rotate_children=on"
    ));
    browser.wait_for_text("Dry run:");
    shot("07-compromise-dry-run.png");
    browser.click("button.danger");
    browser.wait_for_url("/console/jobs/");
    browser.wait_for_text("Done.");
    shot("08-compromise-done.png");

    // A few API calls, so that the health page has requests to show.
    for path in [
        "getCertificate?applicationId=REGISTRATION&referenceId=10001_110011",
        "getCertificate?applicationId=NOPE",
    ] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "GET /v1/keymanager/{path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n"
        );
        std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    for (path, wait, file) in [
        ("/console/actions/retire", "Retire keys past retention", "09-retire-and-policies.png"),
        (
            "/console/actions/policy?app=REGISTRATION&validity=30&pre=30&active=on&access=NA",
            "Lint of the change",
            "10-policy-preview.png",
        ),
        ("/console/trust?domain=DEVICE", "Device Issuing CA", "11-trust-store.png"),
        ("/console/audit", "Chain intact", "12-audit.png"),
        ("/console/health", "getgetcertificate", "13-health.png"),
    ] {
        browser.goto(&format!("{base}{path}"));
        browser.wait_for_text(wait);
        shot(file);
    }
    let errors: Vec<_> = browser.console_log().into_iter().filter(|(level, _)| level == "SEVERE").collect();
    assert!(errors.is_empty(), "browser console errors: {errors:?}");
    // Signing out ends the session in the browser too.
    browser.click("form.signout button");
    browser.wait_for_url("/console/login");
    browser.goto(&format!("{base}/console/health"));
    browser.wait_for_url("/console/login");
    let _keep_alive = Arc::clone(&h.state);
}
