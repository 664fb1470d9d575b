//! The operator console: server-rendered pages under `/console` in `keymgr serve`, for key
//! custodians and auditors.
//!
//! - **Sign-in** with a bearer token of the REST API at `/console/login` (form field `token`);
//!   the session is an HttpOnly, `SameSite=Strict` cookie scoped to `/console`, with an expiry.
//!   The token's user and roles are the REST table's: the pages need the `getconsole` role
//!   name (`KEY_ADMIN` or `KEY_AUDITOR` by default), the actions `postconsoleaction`
//!   (`KEY_ADMIN`), both configurable as every other endpoint's roles.
//! - **Views**: the key hierarchy, one key and its certificate, the rotation timeline with the
//!   policy lint, the trust store, the audit trail with its chain check, health.
//! - **Actions** (rotate a master, revoke a base key, compromise response, retire, policy
//!   change): a preview (`GET`, changes nothing) then an apply (`POST`, with the session's
//!   CSRF token and the roles of the REST endpoint that does the same), tied to the key the
//!   preview showed; trust store uploads are applies without a preview. Every apply runs as a
//!   job whose page shows the result (so a reload never repeats it) and is audited as the
//!   signed-in user.
//!
//! Every asset is embedded in the binary; the pages load nothing from elsewhere, under a
//! Content-Security-Policy that allows only this origin's script and style.

#![forbid(unsafe_code)]

mod actions;
mod error;
mod jobs;
mod layout;
mod plot;
mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use keymgr_core::KeyManager;
use keymgr_http::AppState;

pub use error::ConsoleError;

use crate::jobs::Jobs;
use crate::session::Sessions;

/// How the console runs (`[console]` in the service's configuration).
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Whether the session cookie is marked `Secure` (sent over HTTPS only). On by default;
    /// turn it off only where the console is reached over plain HTTP on a trusted network.
    pub secure_cookie: bool,
    /// Most sessions held at once; a sign-in beyond it is refused until one ends.
    pub max_sessions: usize,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { session_ttl: Duration::from_secs(30 * 60), secure_cookie: true, max_sessions: 256 }
    }
}

/// What the console's handlers share.
pub(crate) struct Console {
    app: Arc<AppState>,
    settings: ConsoleSettings,
    sessions: Sessions,
    jobs: Jobs,
    /// When the console started (request rates are averaged since).
    started: std::time::Instant,
    /// The last audit chain check: when, at which head row, and its report.
    audit_check: std::sync::Mutex<Option<(std::time::Instant, i64, keymgr_core::AuditReport)>>,
}

impl Console {
    fn km(&self) -> &Arc<KeyManager> {
        self.app.key_manager()
    }
}

type Shared = axum::extract::State<Arc<Console>>;

/// Runs `f` with the key manager on the blocking pool: database and keystore calls block.
async fn blocking<T: Send + 'static>(
    console: &Console,
    f: impl FnOnce(&KeyManager) -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    let km = Arc::clone(console.km());
    tokio::task::spawn_blocking(move || f(&km))
        .await
        .unwrap_or_else(|e| Err(ConsoleError::Internal(format!("worker failed: {e}"))))
}

/// The pages' Content-Security-Policy: this origin's script and style only, no inline code,
/// no framing, forms posting back here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The console's router over the REST API's state (its key manager, token table and role
/// names, request counters), to merge beside [`keymgr_http::router`].
pub fn router(app: Arc<AppState>, settings: ConsoleSettings) -> Router {
    let console = Arc::new(Console {
        app,
        sessions: Sessions::new(settings.max_sessions),
        jobs: Jobs::default(),
        started: std::time::Instant::now(),
        audit_check: std::sync::Mutex::new(None),
        settings,
    });
    Router::new()
        .route("/console", get(views::home))
        .route("/console/login", get(session::login_form).post(session::login))
        .route("/console/logout", post(session::logout))
        .route("/console/assets/console.css", get(layout::stylesheet))
        .route("/console/assets/console.js", get(layout::script))
        .route("/console/assets/favicon.svg", get(layout::icon))
        .route("/console/hierarchy", get(views::hierarchy))
        .route("/console/keys/{alias}", get(views::key_detail))
        .route("/console/keys/{alias}/certificate.pem", get(views::key_certificate))
        .route("/console/timeline", get(views::timeline))
        .route("/console/trust", get(views::trust))
        .route("/console/audit", get(views::audit))
        .route("/console/health", get(views::health))
        .route("/console/actions/revoke", get(actions::revoke_preview).post(actions::revoke_apply))
        .route("/console/actions/rotate", get(actions::rotate_preview).post(actions::rotate_apply))
        .route(
            "/console/actions/compromise",
            get(actions::compromise_preview).post(actions::compromise_apply),
        )
        .route("/console/actions/retire", get(actions::retire_preview).post(actions::retire_apply))
        .route("/console/actions/policy", get(actions::policy_preview).post(actions::policy_apply))
        .route("/console/actions/trust-upload", post(actions::trust_upload))
        .route("/console/jobs/{id}", get(jobs::job_page))
        .route("/console/jobs/{id}/status", get(jobs::job_status))
        .route("/console/{*rest}", get(views::not_found))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(console)
}
