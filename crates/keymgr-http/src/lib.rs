//! The key manager's MOSIP-compatible REST API (reference sections 0, 5.1, 5.2, 13): the
//! router, MOSIP's request and response wrappers, bearer-token auth with per-endpoint roles,
//! health, Prometheus metrics and the OpenAPI document, the admission limits and the
//! connection loop ([`server`]). It depends on `keymgr-core` and `keymgr-model` only: the
//! process around it (configuration, data directory, database and keystore) is
//! `keymgr-service`'s.
//!
//! Every key-manager call runs on Tokio's blocking pool, never on an async worker: RSA,
//! Argon2 and database calls block. Handled errors are answered as MOSIP does (HTTP 200 with
//! an `errors` list); authentication (401), roles (403), body size (413) and server faults
//! (500) get real statuses, in the same wrapper.

#![forbid(unsafe_code)]

mod actuator_api;
mod admission;
mod api;
pub mod auth;
mod client_crypto_api;
mod error;
mod license_api;
mod lifecycle_api;
pub mod metrics;
mod migration_api;
mod partner_api;
mod pdf_api;
mod policy_api;
mod secret_buf;
pub mod server;
mod signing_api;
mod token_id_api;
pub mod wrapper;
mod zk_api;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http_body_util::BodyExt;
use keymgr_core::KeyManager;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use auth::{Authenticator, Principal};
pub use error::ApiError;

use crate::admission::{Admission, BytesHeld, HashGate, Ticket};
use crate::metrics::Metrics;
use crate::secret_buf::SecretBuf;
use crate::wrapper::{Echo, WrappedResponse, parse_request, respond};

/// The URL prefix of every endpoint, as in MOSIP.
pub const PREFIX: &str = "/v1/keymanager";

/// The OpenAPI document of the API, served at `/v1/keymanager/api-docs`.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/api/openapi.json");

/// Limits of the HTTP layer (see `docs/SECURITY.md` for why each exists).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body; MOSIP packets run to tens of MB.
    pub max_body_bytes: usize,
    /// Longest a request may take, body reading and queueing included, before the client gets
    /// 408 (`KER-KMS-408`); work still queued then is abandoned.
    pub request_timeout: Duration,
    /// Most requests handled at once; more are answered 503 (`KER-KMS-503`) at once.
    pub max_in_flight_requests: usize,
    /// Most requests of one caller (token user) handled at once, so that one token cannot
    /// take every place; more are answered 503.
    pub max_in_flight_per_caller: usize,
    /// Most request-body bytes held at once across all requests; a request whose
    /// `Content-Length` does not fit is answered 503 before its body is read. The memory a
    /// request takes is a small multiple of its body (JSON, base64, plaintext).
    pub max_in_flight_bytes: usize,
    /// Most Argon2 hashes running at once (each takes `argon2.memory_kib`).
    pub argon2_running: usize,
    /// Most Argon2 hashes waiting for a slot; more are answered 429 (`KER-KMS-429`).
    pub argon2_waiting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_in_flight_requests: 256,
            max_in_flight_per_caller: 64,
            max_in_flight_bytes: 128 * 1024 * 1024,
            argon2_running: std::thread::available_parallelism().map_or(2, |n| n.get()),
            argon2_waiting: 16,
        }
    }
}

/// What the handlers share.
pub struct AppState {
    km: Arc<KeyManager>,
    auth: Authenticator,
    metrics: Arc<Metrics>,
    limits: Limits,
    admission: Admission,
    argon2: HashGate,
    health: tokio::sync::Mutex<Option<(Instant, keymgr_core::Health)>>,
}

impl AppState {
    /// The key manager this state serves (for operator commands that start the service's
    /// state without serving).
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.km
    }

    /// Who may call what (the console signs in with the same tokens and role table).
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// The request counters (the console's health page shows them).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The state of a router over `km`, recording into `metrics` (install `metrics` as the
    /// [`keymgr_core::KeystoreObserver`] of the keystore under `km` to see keystore latency).
    pub fn new(km: Arc<KeyManager>, auth: Authenticator, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            km,
            auth,
            metrics,
            admission: Admission::new(&limits),
            argon2: HashGate::new(limits.argon2_running, limits.argon2_waiting),
            health: tokio::sync::Mutex::new(None),
            limits,
        }
    }
}

type Shared = State<Arc<AppState>>;

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::Internal(format!("worker failed: {e}"))))
}

/// Reads the body within the limits: a `Content-Length` over the body limit is refused (413)
/// and one that does not fit the in-flight byte budget now is answered 503, both before a
/// byte is read. Budget is reserved as bytes arrive, so a client that announces a large body
/// and sends nothing holds nothing.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(SecretBuf, BytesHeld), ApiError> {
    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    state.admission.check_declared(declared.unwrap_or(0))?;
    let mut held = state.admission.no_bytes();
    let mut body = body;
    // Zeroized when dropped, also on the error paths: bodies carry packets, PINs, passwords.
    let mut buf = SecretBuf::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::InvalidRequest(format!("request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        let len = buf.len() + data.len();
        if len > limit {
            return Err(ApiError::BodyTooLarge { limit });
        }
        held.grow_to(&state.admission, len)?;
        if len > buf.capacity() {
            // Grow by hand: a reallocating `Vec` would leave the old copy in freed memory.
            let wanted = declared.filter(|d| *d >= len).unwrap_or(len.max(buf.capacity() * 2)).min(limit);
            let mut bigger = SecretBuf::with_capacity(wanted);
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf, held))
}

/// An answer's body that holds the request's [`Ticket`] until the server is done with it.
struct TicketedBody {
    inner: Body,
    _ticket: Arc<Ticket>,
}

impl axum::body::HttpBody for TicketedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `response` with `ticket` held until its body is gone.
fn ticketed(response: Response, ticket: Arc<Ticket>) -> Response {
    response.map(|inner| Body::new(TicketedBody { inner, _ticket: ticket }))
}

fn finish<T: WrappedResponse>(
    state: &AppState,
    endpoint: &'static str,
    started: Instant,
    echo: &Echo,
    result: Result<T, ApiError>,
) -> Response {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    state.metrics.record(endpoint, outcome, started.elapsed());
    match result {
        Ok(response) => response.into_wrapped(echo, state.km.now()),
        Err(e) => respond::<()>(echo, state.km.now(), Err(e)),
    }
}

/// Work that must pass a gate before it may run on the blocking pool.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// No gate.
    Open,
    /// An Argon2 slot, waited for in a bounded queue.
    Argon2,
}

/// A wrapped POST/PUT endpoint: auth, admission, body, parse, then `f` on the blocking pool.
async fn wrapped<Req, Resp, F>(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    role: &'static str,
    f: F,
) -> Response
where
    Req: DeserializeOwned + Send + 'static,
    Resp: WrappedResponse,
    F: FnOnce(&AppState, &Principal, Req) -> Result<Resp, ApiError> + Send + 'static,
{
    gated(state, headers, body, role, Gate::Open, f).await
}

/// [`wrapped`] with a gate in front of the blocking pool.
async fn gated<Req, Resp, F>(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Body,
    role: &'static str,
    gate: Gate,
    f: F,
) -> Response
where
    Req: DeserializeOwned + Send + 'static,
    Resp: WrappedResponse,
    F: FnOnce(&AppState, &Principal, Req) -> Result<Resp, ApiError> + Send + 'static,
{
    let started = Instant::now();
    let who = match state.auth.authorize(&headers, role) {
        Ok(p) => p,
        Err(e) => return finish::<()>(&state, role, started, &Echo::default(), Err(e)),
    };
    let admitted = match state.admission.admit(&who.user) {
        Ok(a) => a,
        Err(e) => return finish::<()>(&state, role, started, &Echo::default(), Err(e)),
    };
    let (bytes, held) = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(e) => return finish::<()>(&state, role, started, &Echo::default(), Err(e)),
    };
    let ticket = Ticket::new(admitted, held);
    let (echo, request) = parse_request::<Req>(&bytes);
    drop(bytes);
    let request = match request {
        Ok(req) => req,
        Err(e) => return finish::<()>(&state, role, started, &echo, Err(e)),
    };
    let slot = match gate {
        Gate::Open => None,
        Gate::Argon2 => match state.argon2.enter().await {
            Ok(slot) => Some(slot),
            Err(e) => return finish::<()>(&state, role, started, &echo, Err(e)),
        },
    };
    let st = Arc::clone(&state);
    let work_ticket = Arc::clone(&ticket);
    let result = blocking(move || {
        let _slot = slot;
        let _ticket = work_ticket;
        let result = f(&st, &who, request);
        audit_admin_use(&st.km, &who, role, &result);
        result
    })
    .await;
    ticketed(finish(&state, role, started, &echo, result), ticket)
}

/// Writes the audit row of an administrative endpoint's use: who, which, and how it ended.
/// A failure to write it is logged; the call's own result stands (it has committed).
fn audit_admin_use<T>(km: &KeyManager, who: &Principal, role: &str, result: &Result<T, ApiError>) {
    if !Authenticator::is_admin_endpoint(role) {
        return;
    }
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };
    if let Err(e) = km.audit_admin_call(&who.user, role, outcome) {
        tracing::error!(endpoint = role, error = %e, "the audit row of an administrative call was not written");
    }
}

/// A GET endpoint with query parameters.
async fn queried<Resp, F>(
    state: Arc<AppState>,
    headers: HeaderMap,
    query: Result<Query<api::KeyQuery>, axum::extract::rejection::QueryRejection>,
    role: &'static str,
    f: F,
) -> Response
where
    Resp: WrappedResponse,
    F: FnOnce(&KeyManager, api::KeyQuery) -> Result<Resp, ApiError> + Send + 'static,
{
    match query {
        Ok(Query(q)) => fetched(state, headers, role, move |km| f(km, q)).await,
        Err(e) => {
            let refused = ApiError::InvalidRequest(format!("query: {}", e.body_text()));
            fetched(state, headers, role, move |_| Err::<Resp, _>(refused)).await
        }
    }
}

/// A GET endpoint: auth (first), admission, then `f` on the blocking pool.
async fn fetched<Resp, F>(state: Arc<AppState>, headers: HeaderMap, role: &'static str, f: F) -> Response
where
    Resp: WrappedResponse,
    F: FnOnce(&KeyManager) -> Result<Resp, ApiError> + Send + 'static,
{
    fetched_by(state, headers, role, move |km, _| f(km)).await
}

/// [`fetched`] for an endpoint without a body whose work needs the caller.
async fn fetched_by<Resp, F>(state: Arc<AppState>, headers: HeaderMap, role: &'static str, f: F) -> Response
where
    Resp: WrappedResponse,
    F: FnOnce(&KeyManager, &Principal) -> Result<Resp, ApiError> + Send + 'static,
{
    let started = Instant::now();
    let result = match state.auth.authorize(&headers, role) {
        Err(e) => Err(e),
        Ok(who) => match state.admission.admit(&who.user) {
            Err(e) => Err(e),
            Ok(admitted) => {
                let km = Arc::clone(&state.km);
                blocking(move || {
                    let _admitted = admitted;
                    let result = f(&km, &who);
                    audit_admin_use(&km, &who, role, &result);
                    result
                })
                .await
            }
        },
    };
    finish(&state, role, started, &Echo::default(), result)
}

type KeyQueryResult = Result<Query<api::KeyQuery>, axum::extract::rejection::QueryRejection>;

async fn generate_master_key(
    State(s): Shared,
    Path(object_type): Path<String>,
    h: HeaderMap,
    req: Request,
) -> Response {
    wrapped(
        s,
        h,
        req.into_body(),
        "postgeneratemasterkeyobjecttype",
        move |st, who, r: api::KeyPairGenerateRequest| {
            if r.force {
                st.auth.authorize_force(who)?;
            }
            api::generate_master_key(&st.km, &object_type, r)
        },
    )
    .await
}

async fn generate_ec_sign_key(
    State(s): Shared,
    Path(object_type): Path<String>,
    h: HeaderMap,
    req: Request,
) -> Response {
    // MOSIP checks generateECSignKey against the getCertificate role (reference section 0).
    wrapped(s, h, req.into_body(), "getgetcertificate", move |st, who, r: api::KeyPairGenerateRequest| {
        if r.force {
            st.auth.authorize_force(who)?;
        }
        api::generate_ec_sign_key(&st.km, &object_type, r)
    })
    .await
}

async fn get_certificate(State(s): Shared, h: HeaderMap, q: KeyQueryResult) -> Response {
    queried(s, h, q, "getgetcertificate", api::get_certificate).await
}

async fn get_all_certificates(State(s): Shared, h: HeaderMap, q: KeyQueryResult) -> Response {
    queried(s, h, q, "getgetcertificate", api::get_all_certificates).await
}

async fn get_certificate_chain(State(s): Shared, h: HeaderMap, q: KeyQueryResult) -> Response {
    queried(s, h, q, "getcertificatechain", api::get_certificate_chain).await
}

async fn generate_csr(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postgeneratecsr", |st, _, r| api::generate_csr(&st.km, r)).await
}

async fn upload_certificate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postuploadcertificate", |st, _, r| api::upload_certificate(&st.km, r))
        .await
}

async fn upload_other_domain_certificate(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postuploadotherdomaincertificate", |st, _, r| {
        api::upload_other_domain_certificate(&st.km, r)
    })
    .await
}

async fn generate_symmetric_key(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postgeneratesymmetrickey", |st, who, r: api::SymmetricKeyRequest| {
        if r.force == Some(true) {
            st.auth.authorize_force(who)?;
        }
        api::generate_symmetric_key(&st.km, r)
    })
    .await
}

async fn revoke_key(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "putrevokekey", |st, _, r| api::revoke_key(&st.km, r)).await
}

async fn encrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postencrypt", |st, _, r| {
        api::encrypt(&st.km, r, st.limits.max_body_bytes)
    })
    .await
}

async fn decrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postdecrypt", |st, who, r| {
        api::decrypt(&st.km, who, r, st.limits.max_body_bytes)
    })
    .await
}

async fn encrypt_with_pin(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postencryptwithpin", |st, _, r| api::encrypt_with_pin(&st.km, r)).await
}

async fn decrypt_with_pin(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postdecryptwithpin", |st, _, r| api::decrypt_with_pin(&st.km, r)).await
}

async fn jwt_encrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postjwtencrypt", |st, _, r| api::jwt_encrypt(&st.km, r)).await
}

async fn jwt_decrypt(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postjwtdecrypt", |st, who, r| api::jwt_decrypt(&st.km, who, r)).await
}

async fn generate_argon2_hash(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    gated(s, h, req.into_body(), "postgenerateargon2hash", Gate::Argon2, |st, _, r| {
        api::generate_argon2_hash(&st.km, r)
    })
    .await
}

#[derive(Serialize)]
struct ComponentHealth {
    status: &'static str,
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    components: std::collections::BTreeMap<&'static str, ComponentHealth>,
}

/// How long a health check's result is reused.
const HEALTH_REUSE: Duration = Duration::from_secs(2);

/// `GET /actuator/health`: the database and the keystore, as MOSIP's health check (HTTP 503
/// when a part is down, as Spring's actuator).
async fn health(State(s): Shared) -> Response {
    // One check at a time, reused for a moment: a flood of health requests (they need no
    // token) costs one database and keystore round trip per HEALTH_REUSE.
    let mut cached = s.health.lock().await;
    let h = match cached.as_ref() {
        Some((taken, h)) if taken.elapsed() < HEALTH_REUSE => h.clone(),
        _ => {
            let km = Arc::clone(&s.km);
            let Ok(h) = tokio::task::spawn_blocking(move || km.health()).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            *cached = Some((Instant::now(), h.clone()));
            h
        }
    };
    drop(cached);
    // Component names and UP/DOWN only: the reasons name paths and drivers, so they go to
    // the log, not to whoever can reach the health endpoint.
    let part = |name: &str, r: &Result<(), String>| match r {
        Ok(()) => ComponentHealth { status: "UP" },
        Err(e) => {
            tracing::warn!(component = name, "health: DOWN: {e}");
            ComponentHealth { status: "DOWN" }
        }
    };
    let up = h.is_up();
    let body = HealthBody {
        status: if up { "UP" } else { "DOWN" },
        components: [("db", part("db", &h.database)), ("hsm", part("hsm", &h.keystore))]
            .into_iter()
            .collect(),
    };
    let status = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `GET /metrics` (also `/v1/keymanager/actuator/prometheus`).
async fn metrics(State(s): Shared) -> Response {
    let st = Arc::clone(&s);
    let (requests, bytes) = s.admission.in_use();
    let (hashing, waiting) = s.argon2.load();
    let gauges = [
        ("keymgr_http_requests_in_flight", "Requests being handled.", requests),
        ("keymgr_http_body_bytes_in_flight", "Request-body bytes reserved by requests in flight.", bytes),
        ("keymgr_argon2_running", "Argon2 hashes running.", hashing),
        ("keymgr_argon2_waiting", "Argon2 hashes waiting for a slot.", waiting),
    ];
    match tokio::task::spawn_blocking(move || st.metrics.render(&st.km, &gauges)).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// The request time limit: past it the client gets 408 (`KER-KMS-408`) in MOSIP's wrapper,
/// counted in the metrics, and whatever the request still waited for is dropped.
async fn time_limit(State(s): Shared, req: Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let endpoint = metrics::endpoint_label(req.uri().path());
    match tokio::time::timeout(s.limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => finish::<()>(&s, endpoint, started, &Echo::default(), Err(ApiError::Timeout)),
    }
}

async fn not_found(req: Request) -> Response {
    let e = ApiError::InvalidRequest(format!("no endpoint {} {}", req.method(), req.uri().path()));
    let mut r = respond::<()>(&Echo::default(), keymgr_model::UtcTime::now(), Err(e));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// A known path with a method it does not serve: 405 in the MOSIP wrapper (`KER-KMS-005`), not
/// an empty body.
async fn method_not_allowed(req: Request) -> Response {
    let e =
        ApiError::InvalidRequest(format!("method {} is not allowed on {}", req.method(), req.uri().path()));
    let mut r = respond::<()>(&Echo::default(), keymgr_model::UtcTime::now(), Err(e));
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// How often the service drops expired cache entries (unwrapped base keys above all).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

/// Starts the service's timer work on the current Tokio runtime: every `period`
/// ([`HOUSEKEEPING_EVERY`] in the service) expired unwrapped keys leave memory, looked up
/// again or not. Abort the handle at shutdown.
pub fn start_housekeeping(state: &Arc<AppState>, period: Duration) -> tokio::task::JoinHandle<()> {
    let km = Arc::clone(&state.km);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let km = Arc::clone(&km);
            let work = move || {
                let evicted = km.evict_expired();
                if let Err(e) = km.checkpoint_audit_if_due() {
                    tracing::warn!("housekeeping: no audit checkpoint: {e}");
                }
                evicted
            };
            match tokio::task::spawn_blocking(work).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!("housekeeping: {n} expired base keys left memory"),
                Err(e) => tracing::warn!("housekeeping failed: {e}"),
            }
        }
    })
}

/// The router of the whole API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/generateMasterKey/{object_type}", post(generate_master_key))
        .route("/generateECSignKey/{object_type}", post(generate_ec_sign_key))
        .route("/getCertificate", get(get_certificate))
        .route("/getAllCertificates", get(get_all_certificates))
        .route("/getCertificateChain", get(get_certificate_chain))
        .route("/generateCSR", post(generate_csr))
        .route("/uploadCertificate", post(upload_certificate))
        .route("/uploadOtherDomainCertificate", post(upload_other_domain_certificate))
        .route("/generateSymmetricKey", post(generate_symmetric_key))
        .route("/revokeKey", put(revoke_key))
        .route("/encrypt", post(encrypt))
        .route("/decrypt", post(decrypt))
        .route("/encryptWithPin", post(encrypt_with_pin))
        .route("/decryptWithPin", post(decrypt_with_pin))
        .route("/jwtEncrypt", post(jwt_encrypt))
        .route("/jwtDecrypt", post(jwt_decrypt))
        .route("/generateArgon2Hash", post(generate_argon2_hash))
        .merge(signing_api::routes())
        .merge(partner_api::routes())
        .merge(policy_api::routes())
        .merge(lifecycle_api::routes())
        .merge(zk_api::routes())
        .merge(migration_api::routes())
        .merge(token_id_api::routes())
        .merge(license_api::routes())
        .merge(client_crypto_api::routes())
        .merge(pdf_api::routes())
        .merge(actuator_api::routes())
        .route("/actuator/health", get(health))
        .route("/actuator/prometheus", get(metrics))
        .route("/api-docs", get(openapi))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest(PREFIX, api)
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), time_limit))
        .with_state(state)
}
