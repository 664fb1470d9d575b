//! Sign-in, sessions and CSRF tokens.
//!
//! A session is 32 random bytes, sent as the `keymgr_console` cookie (HttpOnly,
//! `SameSite=Strict`, `Path=/console`, `Max-Age` the session's life, `Secure` unless turned
//! off) and kept here only as its SHA-256, with the signed-in principal, an expiry and its own
//! CSRF token. Every form of the console carries that token and every `POST` checks it in
//! constant time, besides refusing a cross-site `Origin` or `Sec-Fetch-Site`. The sign-in form
//! itself is protected the same way by a short-lived nonce cookie (login CSRF).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Form;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use keymgr_core::{ct_eq, fill_random, sha256};
use keymgr_http::auth::{CONSOLE_ACTION, CONSOLE_VIEW};
use keymgr_http::{ApiError, Principal};
use serde::Deserialize;

use crate::{Console, ConsoleError, Shared, blocking, layout};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "keymgr_console";
/// The sign-in nonce cookie's name.
pub const LOGIN_COOKIE: &str = "keymgr_console_login";
const LOGIN_NONCE_TTL: Duration = Duration::from_secs(600);
/// How long the answer to a refused token waits: a guesser gets one try a second per
/// connection. (Tokens are 256-bit random or signed JWTs, so this slows, it does not guard;
/// no lockout, which anyone could trigger to keep the operators out.)
const FAILED_SIGN_IN_DELAY: Duration = Duration::from_secs(1);

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in, with the token's roles.
    pub who: Principal,
    /// This session's CSRF token, put in every form.
    pub csrf: String,
    /// Whether the user may act (the `postconsoleaction` role name), not only look.
    pub can_act: bool,
    expires: Instant,
}

/// The live sessions, by the SHA-256 of their cookie value.
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    max: usize,
}

impl Sessions {
    /// An empty table holding at most `max` sessions.
    pub fn new(max: usize) -> Self {
        Self { by_hash: Mutex::new(HashMap::new()), max: max.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a session for `who`; the cookie value to send.
    fn start(&self, session: Session) -> Result<String, ConsoleError> {
        let mut table = self.lock();
        let now = Instant::now();
        table.retain(|_, s| s.expires > now);
        if table.len() >= self.max {
            return Err(ConsoleError::Busy(
                "too many console sessions are open; sign out elsewhere or wait for one to expire".into(),
            ));
        }
        let cookie = random_hex()?;
        table.insert(sha256(cookie.as_bytes()), session);
        Ok(cookie)
    }

    fn get(&self, cookie: &str) -> Option<Session> {
        let mut table = self.lock();
        let key = sha256(cookie.as_bytes());
        match table.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                table.remove(&key);
                None
            }
            None => None,
        }
    }

    fn end(&self, cookie: &str) {
        self.lock().remove(&sha256(cookie.as_bytes()));
    }
}

/// 32 random bytes as 64 hex digits.
fn random_hex() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes).map_err(|e| ConsoleError::Internal(format!("random: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of cookie `name` in `headers`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn set_cookie(console: &Console, name: &str, value: &str, path: &str, max_age: Duration) -> HeaderValue {
    let secure = if console.settings.secure_cookie { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The signed-in session of `headers`, if it may see the console's pages.
pub fn viewer(console: &Console, headers: &HeaderMap) -> Result<Session, ConsoleError> {
    let session = cookie(headers, SESSION_COOKIE)
        .and_then(|c| console.sessions.get(c))
        .ok_or(ConsoleError::SignedOut)?;
    if console.app.authenticator().permits(&session.who, CONSOLE_VIEW) {
        Ok(session)
    } else {
        Err(ConsoleError::Forbidden(CONSOLE_VIEW.into()))
    }
}

/// The signed-in session of `headers`, if it may act (previews included).
pub fn actor(console: &Console, headers: &HeaderMap) -> Result<Session, ConsoleError> {
    let session = viewer(console, headers)?;
    if session.can_act {
        Ok(session)
    } else {
        Err(ConsoleError::Forbidden(format!("{CONSOLE_ACTION} (KEY_ADMIN by default)")))
    }
}

/// [`actor`], if the session's user also holds the roles of the REST endpoint that does the
/// same thing (`rest_role`, its role name): a deployment that narrowed, say, `postcompromise`
/// in `[auth.roles]` narrows the console's compromise response too.
pub fn actor_for(console: &Console, headers: &HeaderMap, rest_role: &str) -> Result<Session, ConsoleError> {
    let session = actor(console, headers)?;
    permitted(console, &session, rest_role)?;
    Ok(session)
}

/// Whether `session` holds the roles of `rest_role`.
pub fn permitted(console: &Console, session: &Session, rest_role: &str) -> Result<(), ConsoleError> {
    if console.app.authenticator().permits(&session.who, rest_role) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(rest_role.into()))
    }
}

/// The check of a `POST` by `session`: the form's CSRF token must be the session's, and the
/// request must not come from another site.
pub fn check_form(session: &Session, headers: &HeaderMap, csrf: &str) -> Result<(), ConsoleError> {
    same_origin(headers)?;
    if ct_eq(session.csrf.as_bytes(), csrf.as_bytes()) { Ok(()) } else { Err(ConsoleError::Csrf) }
}

/// Refuses a request a browser marks as cross-site, or whose `Origin` is not this host.
fn same_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if text("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return Err(ConsoleError::Csrf);
    }
    if let (Some(origin), Some(host)) = (text("origin"), text("host")) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(ConsoleError::Csrf);
        }
    }
    Ok(())
}

/// `GET /console/login`: the sign-in form, with a fresh nonce in a cookie and in the form.
pub async fn login_form(axum::extract::State(console): Shared, headers: HeaderMap) -> Response {
    if viewer(&console, &headers).is_ok() {
        return Redirect::to("/console/hierarchy").into_response();
    }
    login_page(&console, None, StatusCode::OK)
}

fn login_page(console: &Console, problem: Option<&str>, status: StatusCode) -> Response {
    let nonce = match random_hex() {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let mut response = (status, layout::html(layout::login_page(&nonce, problem))).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(console, LOGIN_COOKIE, &nonce, "/console/login", LOGIN_NONCE_TTL),
    );
    response
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    token: FormToken,
    nonce: String,
}

/// `POST /console/login`: checks the nonce, then the token against the REST token table (or
/// the identity provider) and the console's role name; starts a session (audited).
pub async fn login(
    axum::extract::State(console): Shared,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return ConsoleError::BadInput("the sign-in form needs a token".into()).into_response();
    };
    let nonce_ok = cookie(&headers, LOGIN_COOKIE).is_some_and(|c| ct_eq(c.as_bytes(), form.nonce.as_bytes()));
    if !nonce_ok || same_origin(&headers).is_err() {
        return login_page(
            &console,
            Some("The sign-in form had expired. Please sign in again."),
            StatusCode::FORBIDDEN,
        );
    }
    let token = form.token.0.trim();
    let who = match console.app.authenticator().authorize_token(token, CONSOLE_VIEW) {
        Ok(who) => who,
        Err(ApiError::Forbidden(_)) => {
            return login_page(
                &console,
                Some("This token's roles may not use the console (it needs KEY_ADMIN or KEY_AUDITOR)."),
                StatusCode::FORBIDDEN,
            );
        }
        Err(_) => {
            tracing::warn!("console: a sign-in with an unknown token was refused");
            tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
            return login_page(&console, Some("That token is not accepted."), StatusCode::UNAUTHORIZED);
        }
    };
    let can_act = console.app.authenticator().permits(&who, CONSOLE_ACTION);
    let session = match random_hex() {
        Ok(csrf) => Session {
            who: who.clone(),
            csrf,
            can_act,
            expires: Instant::now() + console.settings.session_ttl,
        },
        Err(e) => return e.into_response(),
    };
    let cookie_value = match console.sessions.start(session) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let user = who.user.clone();
    if let Err(e) =
        blocking(&console, move |km| Ok(km.audit_admin_call(&user, "console sign-in", "ok")?)).await
    {
        tracing::error!("console: the sign-in of {} was not audited: {e}", who.user);
    }
    // A sign-in replaces the browser's earlier session, if it had one.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        console.sessions.end(old);
    }
    let mut response = Redirect::to("/console/hierarchy").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&console, SESSION_COOKIE, &cookie_value, "/console", console.settings.session_ttl),
    );
    h.append(header::SET_COOKIE, set_cookie(&console, LOGIN_COOKIE, "", "/console/login", Duration::ZERO));
    response
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /console/logout`: ends the session and clears its cookie.
pub async fn logout(
    axum::extract::State(console): Shared,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(e) = viewer(&console, &headers).and_then(|s| check_form(&s, &headers, &csrf)) {
        return e.into_response();
    }
    if let Some(c) = cookie(&headers, SESSION_COOKIE) {
        console.sessions.end(c);
    }
    let mut response = Redirect::to("/console/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&console, SESSION_COOKIE, "", "/console", Duration::ZERO));
    response
}

/// The bearer token typed into the sign-in form, wiped when dropped.
struct FormToken(zeroize::Zeroizing<String>);

impl<'de> Deserialize<'de> for FormToken {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(zeroize::Zeroizing::new(String::deserialize(d)?)))
    }
}
