//! The console tests' harness: a key manager on a file keystore and SQLite in a temporary
//! folder, the REST router and the console merged as `keymgr serve` merges them, three tokens
//! (admin, auditor, a service without console roles) and a cookie-keeping client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use keymgr_console::ConsoleSettings;
use keymgr_core::{KeyManager, KeyManagerConfig, KeyStatus, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams};
use keymgr_http::auth::TokenConfig;
use keymgr_http::metrics::Metrics;
use keymgr_http::{AppState, Authenticator, Limits};
use keymgr_model::{AppId, KeyRef, RefId};
use keymgr_test_support::tokens::sha256_hex;
use tower::ServiceExt;

pub const ADMIN: &str = "console-admin-token";
pub const AUDITOR: &str = "console-auditor-token";
pub const SERVICE: &str = "crypto-service-token";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub router: Router,
    pub state: Arc<AppState>,
    pub km: Arc<KeyManager>,
}

fn token(t: &str, user: &str, roles: &[&str]) -> TokenConfig {
    TokenConfig {
        sha256: sha256_hex(t),
        user: user.into(),
        roles: roles.iter().map(|r| (*r).into()).collect(),
    }
}

pub fn harness() -> Harness {
    harness_with(ConsoleSettings::default())
}

pub fn harness_with(settings: ConsoleSettings) -> Harness {
    harness_configured(settings, &Default::default())
}

/// A harness whose role table has `roles` over the defaults (`[auth.roles]`).
pub fn harness_configured(
    settings: ConsoleSettings,
    roles: &std::collections::HashMap<String, Vec<String>>,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let keystore = Arc::new(
        FileKeystore::open_or_create(dir.path().join("k.kmks"), b"pin", KdfParams::insecure_for_tests())
            .unwrap(),
    );
    let db = Database::connect(&dir.path().join("k.db").to_string_lossy(), 4).unwrap();
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), KeyManagerConfig::default()));
    km.run_keygen(&[]).unwrap();
    // Two base pairs to look at and act on.
    km.get_certificate(&AppId::new("REGISTRATION").unwrap(), &RefId::new("10001_110011").unwrap()).unwrap();
    km.get_certificate(&AppId::new("RESIDENT").unwrap(), &RefId::new("ONE").unwrap()).unwrap();
    let tokens = [
        token(ADMIN, "custodian", &["KEY_ADMIN"]),
        token(AUDITOR, "auditor", &["KEY_AUDITOR"]),
        token(SERVICE, "regproc", &["CRYPTO_USER"]),
    ];
    let auth = Authenticator::new(&tokens, roles).unwrap();
    let state =
        Arc::new(AppState::new(Arc::clone(&km), auth, Limits::default(), Arc::new(Metrics::default())));
    let router =
        keymgr_http::router(Arc::clone(&state)).merge(keymgr_console::router(Arc::clone(&state), settings));
    Harness { dir, router, state, km }
}

/// An answer: status, headers, body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The value of `name="..."`'s hidden input.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} field in {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser-like client: keeps the console's cookies.
#[derive(Clone, Default)]
pub struct Client {
    pub cookies: Vec<(String, String)>,
}

impl Client {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &axum::http::HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            self.cookies.push((k.to_owned(), v.to_owned()));
        }
    }

    pub async fn send(
        &mut self,
        h: &Harness,
        method: &str,
        uri: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri).header("host", "console.test");
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            req = req.header("cookie", cookies);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let body = match form {
            Some(fields) => {
                req = req.header("content-type", "application/x-www-form-urlencoded");
                Body::from(encode(fields))
            }
            None => Body::empty(),
        };
        let resp = h.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        self.keep(&headers);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&mut self, h: &Harness, uri: &str) -> Answer {
        self.send(h, "GET", uri, None, &[]).await
    }

    pub async fn post(&mut self, h: &Harness, uri: &str, form: &[(&str, &str)]) -> Answer {
        self.send(h, "POST", uri, Some(form), &[("origin", "http://console.test")]).await
    }

    /// Posts an action's confirmation, which answers 303 to its job; follows the job to its
    /// end and answers its page.
    pub async fn apply(&mut self, h: &Harness, uri: &str, form: &[(&str, &str)]) -> Answer {
        let started = self.post(h, uri, form).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{uri}: {}", started.body);
        let job = started.location().to_owned();
        assert!(job.starts_with("/console/jobs/"), "{uri} went to {job}");
        for _ in 0..400 {
            let status = self.get(h, &format!("{job}/status")).await;
            assert_eq!(status.status, StatusCode::OK, "{}", status.body);
            let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
            if v["finished"] == true {
                let page = self.get(h, &job).await;
                assert_eq!(page.status, StatusCode::OK);
                return page;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the job of {uri} did not end");
    }

    /// Signs in with `token`; the answer of the sign-in `POST`.
    pub async fn sign_in(&mut self, h: &Harness, token: &str) -> Answer {
        let form = self.get(h, "/console/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let nonce = form.hidden("nonce");
        self.post(h, "/console/login", &[("token", token), ("nonce", &nonce)]).await
    }

    /// A client signed in with `token`, and its CSRF token (read from a page's form).
    pub async fn signed_in(h: &Harness, token: &str) -> (Self, String) {
        let mut c = Self::default();
        let answer = c.sign_in(h, token).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/console/hierarchy");
        let page = c.get(h, "/console/hierarchy").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.hidden("csrf");
        (c, csrf)
    }
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", url(k), url(v))).collect::<Vec<_>>().join("&")
}

pub fn url(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn pair(app: &str, reference: &str) -> KeyRef {
    KeyRef::new(AppId::new(app).unwrap(), RefId::new(reference).unwrap())
}

/// The pair's keys as (alias, state) in order, to compare before and after.
pub fn snapshot(km: &KeyManager) -> Vec<(String, String, String)> {
    km.key_statuses(None)
        .unwrap()
        .iter()
        .map(|k: &KeyStatus| {
            (k.key.alias.clone(), k.state.as_str().to_owned(), k.key.expires_at.to_mosip_string())
        })
        .collect()
}

pub fn short_ttl() -> ConsoleSettings {
    ConsoleSettings { session_ttl: Duration::from_secs(1), ..ConsoleSettings::default() }
}
