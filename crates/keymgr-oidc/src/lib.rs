//! Bearer JWTs from the platform's OpenID Connect provider (Keycloak, as MOSIP deploys it),
//! verified against the provider's JSON Web Key Set.
//!
//! * **Keys** ([`KeySet`]): RSA (`n`, `e`; 2048 to 8192 bits), EC P-256 and secp256k1 (`crv`,
//!   `x`, `y`) and OKP Ed25519 (`x`) signature keys, each turned into a DER
//!   `SubjectPublicKeyInfo` (`keymgr_crypto::spki`) and a [`VerifyingKey`]. Keys whose `use`
//!   is not `sig`, whose `key_ops` lack `verify`, whose `alg` is not a JWS algorithm this
//!   service verifies (Keycloak's `RSA-OAEP` encryption keys, `RS512`, ...) or does not fit
//!   the key type are skipped. A set without one usable key is refused, so an error page or
//!   an emptied set never replaces the keys in use.
//! * **Source**: a file read once ([`OidcVerifier::from_file`]) or a URL ([`JwksFetcher`],
//!   http or https with rustls on aws-lc-rs and Mozilla's roots or a given CA file), fetched
//!   at start ([`OidcVerifier::connect`]) and again by a [`Refresher`] task: on its interval,
//!   and when a token names an unknown `kid`, never twice within the minimum gap, so a flood
//!   of invented key ids cannot hammer the provider. A failed fetch keeps the last good set.
//!   Responses are bounded in size ([`MAX_JWKS_BYTES`]) and time.
//! * **Tokens** ([`OidcVerifier::verify`]): the signature through [`keymgr_jose::jws::verify`]
//!   (which refuses `alg: none`, HMAC algorithms, an `alg` that does not fit the key, unknown
//!   `crit` and oversized tokens); the key chosen by `kid` (a token without `kid` only when
//!   exactly one key of its type is known); then the claims: `exp` required and not past,
//!   `nbf` and `iat` not in the future (each with the leeway), `iss` equal to the issuer, `aud`
//!   naming an accepted audience (or `azp`, only when [`OidcSettings::accept_azp`]), `typ`
//!   when configured. The user is a string claim (no fallback to another claim), the roles a
//!   string array at a claim path, renamed through an optional role map.
//!
//! Every refusal is [`OidcError::Refused`] to the caller, without detail; the reason goes to
//! the log at debug level, never the token.
//!
//! This crate knows nothing of the REST layer: it turns a token into an [`Identity`] (user and
//! roles); `keymgr-service` plugs it into `keymgr-http`'s authenticator as a bearer verifier.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keymgr_client::{ClientError, HttpClient, HttpOptions, Uri};
use keymgr_crypto::AsymmetricKind;
use keymgr_jose::jws::{self, JwsAlgorithm, VerifyingKey};
use serde_json::{Map, Value};
use tokio::sync::Notify;

/// Why a key set, a setting or a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// A setting, a JWKS file or URL, or a fetched key set that cannot be used; the message
    /// names it.
    #[error("{0}")]
    Config(String),
    /// A bearer token that is not accepted. The reason is logged at debug level, never
    /// returned, so a caller learns nothing about which check failed.
    #[error("the bearer token is not accepted")]
    Refused,
}

/// Who a verified token stands for: its user claim and its roles (after the role map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name (MOSIP's `preferred_username` by default).
    pub user: String,
    /// The roles, sorted, without duplicates.
    pub roles: Vec<String>,
}

/// The largest JWKS document read, from a file or a URL.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// The largest bearer JWT verified; longer ones are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 32 * 1024;
/// How often the key set is fetched again by default.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The shortest time between two fetches by default: an unknown `kid` or a failed fetch asks
/// for a new one no sooner than this after the last.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(30);
/// The longest one fetch may take by default (connection, TLS, answer).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The clock skew allowed on `exp`, `nbf` and `iat` by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The claim that names the user by default (what MOSIP's auth adapter reads).
pub const DEFAULT_USER_CLAIM: &str = "preferred_username";
/// The claim path of the roles by default (Keycloak's realm roles).
pub const DEFAULT_ROLES_CLAIM: &str = "realm_access.roles";

/// What a token must show, and how its claims become a [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` every token must carry, compared exactly (Keycloak:
    /// `https://HOST/auth/realms/REALM` or `https://HOST/realms/REALM`).
    pub issuer: String,
    /// Accepted audiences: a token's `aud` (a string or an array) must name one of them.
    pub audiences: Vec<String>,
    /// Also accept a token whose `azp` (the client that asked for it) is one of
    /// [`Self::audiences`] when its `aud` names none. Off by default: `aud` says whom a token
    /// is for, `azp` only who asked for it, so with this on, a token a client obtained for any
    /// other service is accepted here too.
    pub accept_azp: bool,
    /// When set, the `typ` claim must equal it (Keycloak access tokens: `Bearer`; ID tokens
    /// say `ID`).
    pub token_type: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The claim path of the user name; the claim must be a non-empty string.
    pub user_claim: Vec<String>,
    /// The claim path of the roles: an array of strings (others in it are ignored); a token
    /// without it has no roles.
    pub roles_claim: Vec<String>,
    /// Provider role names to the role names of the endpoint table; roles not listed keep
    /// their name.
    pub role_map: HashMap<String, Vec<String>>,
}

impl OidcSettings {
    /// Settings for `issuer` and `audiences` with every other value at its default.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences,
            accept_azp: false,
            token_type: None,
            leeway: DEFAULT_LEEWAY,
            user_claim: claim_path(DEFAULT_USER_CLAIM),
            roles_claim: claim_path(DEFAULT_ROLES_CLAIM),
            role_map: HashMap::new(),
        }
    }

    /// Refuses settings no token could meet or that would read nothing.
    pub fn check(&self) -> Result<(), OidcError> {
        let bad = |what: &str| Err(OidcError::Config(format!("auth.oidc: {what}")));
        if self.issuer.trim().is_empty() {
            return bad("issuer must not be empty");
        }
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            return bad("audience must name at least one audience, none empty");
        }
        if self.user_claim.is_empty() || self.user_claim.iter().any(String::is_empty) {
            return bad("user_claim must be a claim name or a dotted path without empty parts");
        }
        if self.roles_claim.is_empty() || self.roles_claim.iter().any(String::is_empty) {
            return bad("roles_claim must be a claim name or a dotted path without empty parts");
        }
        if self.token_type.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return bad("token_type must not be empty when given");
        }
        if self.role_map.keys().any(|k| k.is_empty()) {
            return bad("role_map names must not be empty");
        }
        Ok(())
    }
}

/// The parts of a dotted claim path: `realm_access.roles` is `["realm_access", "roles"]`.
pub fn claim_path(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_owned).collect()
}

/// One usable signature key of a set.
#[derive(Debug, Clone)]
struct Jwk {
    kid: Option<String>,
    alg: Option<JwsAlgorithm>,
    key: VerifyingKey,
}

/// The usable signature keys of a JWKS document.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// Reads a JWKS document (`{"keys": [...]}`), keeping the usable signature keys. Keys that
    /// are skipped are logged at debug level; a document without one usable key is an error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, OidcError> {
        let refused = |why: String| OidcError::Config(format!("JWKS: {why}"));
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(refused(format!("larger than {MAX_JWKS_BYTES} bytes")));
        }
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| refused(format!("not JSON: {e}")))?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(refused("no \"keys\" array".into()));
        };
        let mut keys = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let Value::Object(jwk) = entry else {
                tracing::debug!("JWKS: key {i} skipped: not an object");
                continue;
            };
            match parse_jwk(jwk) {
                Ok(key) => keys.push(key),
                Err(why) => tracing::debug!(kid = ?short(jwk.get("kid")), "JWKS: key {i} skipped: {why}"),
            }
        }
        if keys.is_empty() {
            return Err(refused("no usable signature key (RSA, EC P-256/secp256k1, Ed25519)".into()));
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key has id `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key that verifies a token with `alg` and `kid`; `Err(true)` when `kid` names no key
    /// of the set (a fetch may find it), `Err(false)` when the token cannot be matched.
    fn select(&self, alg: JwsAlgorithm, kid: Option<&str>) -> Result<&VerifyingKey, bool> {
        let fits = |k: &&Jwk| k.key.kind() == alg.key_kind() && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Err(true);
                }
                named.find(fits).map(|k| &k.key).ok_or(false)
            }
            None => {
                let mut candidates = self.keys.iter().filter(fits);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Ok(&only.key),
                    _ => Err(false),
                }
            }
        }
    }
}

/// A value for the log: at most 64 characters of a string, `Debug`-escaped by the caller.
fn short(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(|s| s.chars().take(64).collect())
}

fn b64_field(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = jwk.get(name).and_then(Value::as_str).ok_or_else(|| format!("no {name:?}"))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("{name:?} is not base64url"))
}

/// One JWK as a usable signature key, or why it is skipped.
fn parse_jwk(jwk: &Map<String, Value>) -> Result<Jwk, String> {
    if let Some(u) = jwk.get("use")
        && u.as_str() != Some("sig")
    {
        return Err(format!("use {u} is not sig"));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops.as_array().is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verifies {
            return Err("key_ops do not include verify".into());
        }
    }
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(
            JwsAlgorithm::from_name(a).map_err(|_| format!("alg {a:?} is not one this service verifies"))?,
        ),
        Some(_) => return Err("alg is not a string".into()),
    };
    let kty = jwk.get("kty").and_then(Value::as_str).ok_or("no kty")?;
    let crv = jwk.get("crv").and_then(Value::as_str);
    let (kind, spki) = match (kty, crv) {
        ("RSA", _) => {
            let n = b64_field(jwk, "n")?;
            let e = b64_field(jwk, "e")?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                return Err(format!("RSA modulus of about {bits} bits or exponent out of range"));
            }
            (AsymmetricKind::Rsa2048, keymgr_crypto::spki::rsa_spki(&n, &e))
        }
        ("EC", Some(curve @ ("P-256" | "secp256k1"))) => {
            let kind = if curve == "P-256" { AsymmetricKind::EcP256 } else { AsymmetricKind::EcSecp256k1 };
            let (x, y) = (b64_field(jwk, "x")?, b64_field(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("EC coordinates must be 32 bytes each".into());
            }
            let point = [&[0x04][..], &x, &y].concat();
            (kind, keymgr_crypto::spki::ec_spki(kind, &point).map_err(|e| e.to_string())?)
        }
        ("OKP", Some("Ed25519")) => {
            let x = b64_field(jwk, "x")?;
            (AsymmetricKind::Ed25519, keymgr_crypto::spki::ed25519_spki(&x).map_err(|e| e.to_string())?)
        }
        (kty, crv) => return Err(format!("key type {kty:?} curve {crv:?} is not verified here")),
    };
    if alg.is_some_and(|a| a.key_kind() != kind) {
        return Err("alg does not fit the key type".into());
    }
    let key = VerifyingKey::from_spki(&spki).map_err(|e| e.to_string())?;
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("kid is not a string".into()),
    };
    Ok(Jwk { kid, alg, key })
}

/// Whether a bearer value has the shape of a compact JWS: three non-empty base64url parts.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return false;
        }
    }
    parts == 3
}

/// Verifies bearer JWTs with the current key set and turns their claims into an identity.
pub struct OidcVerifier {
    settings: OidcSettings,
    keys: RwLock<Arc<KeySet>>,
    /// Set for a URL source: wakes the [`Refresher`] when a token names an unknown `kid`.
    unknown_kid: Option<Arc<Notify>>,
    /// Fetches asked for by unknown `kid`s (each one a wake-up, coalesced by the refresher).
    unknown_kid_asks: AtomicU64,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("settings", &self.settings)
            .field("keys", &self.key_set().len())
            .field("refreshed", &self.unknown_kid.is_some())
            .finish()
    }
}

/// Why a token was refused, for the log only.
type Refusal = String;

impl OidcVerifier {
    /// A verifier over a fixed key set.
    pub fn with_keys(settings: OidcSettings, keys: KeySet) -> Result<Self, OidcError> {
        settings.check()?;
        Ok(Self {
            settings,
            keys: RwLock::new(Arc::new(keys)),
            unknown_kid: None,
            unknown_kid_asks: AtomicU64::new(0),
        })
    }

    /// A verifier over the JWKS file at `path`, read once.
    pub fn from_file(settings: OidcSettings, path: &Path) -> Result<Self, OidcError> {
        let read_error =
            |e: String| OidcError::Config(format!("auth.oidc.jwks_file {}: {e}", path.display()));
        let size = std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?.len();
        if size > MAX_JWKS_BYTES as u64 {
            return Err(read_error(format!("larger than {MAX_JWKS_BYTES} bytes")));
        }
        let bytes = std::fs::read(path).map_err(|e| read_error(e.to_string()))?;
        let keys = KeySet::from_json(&bytes).map_err(|e| read_error(e.to_string()))?;
        Self::with_keys(settings, keys)
    }

    /// Fetches the key set from `fetcher` once (an error if that fails), and returns the
    /// verifier with the [`Refresher`] that keeps its keys current: spawn
    /// [`Refresher::run`] on a Tokio runtime that lives as long as the verifier.
    pub async fn connect(
        settings: OidcSettings,
        fetcher: JwksFetcher,
        times: RefreshTimes,
    ) -> Result<(Arc<Self>, Refresher), OidcError> {
        settings.check()?;
        times.check()?;
        let keys = fetcher
            .fetch()
            .await
            .map_err(|e| OidcError::Config(format!("auth.oidc.jwks_url {}: {e}", fetcher.url())))?;
        tracing::info!("JWKS: {} signature keys from {}", keys.len(), fetcher.url());
        let wake = Arc::new(Notify::new());
        let verifier = Arc::new(Self {
            settings,
            keys: RwLock::new(Arc::new(keys)),
            unknown_kid: Some(Arc::clone(&wake)),
            unknown_kid_asks: AtomicU64::new(0),
        });
        let refresher = Refresher { verifier: Arc::downgrade(&verifier), fetcher, times, wake };
        Ok((verifier, refresher))
    }

    /// The key set in use.
    pub fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the key set in use.
    pub fn replace_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
    }

    /// How many times a token with an unknown `kid` asked for a fetch (for tests and logs).
    pub fn unknown_kid_asks(&self) -> u64 {
        self.unknown_kid_asks.load(Ordering::Relaxed)
    }

    /// The identity of a bearer JWT, or [`OidcError::Refused`] (the reason is logged
    /// at debug level).
    pub fn verify(&self, token: &str) -> Result<Identity, OidcError> {
        self.verify_at(token, SystemTime::now()).map_err(|reason| {
            tracing::debug!("bearer JWT refused: {reason}");
            OidcError::Refused
        })
    }

    /// [`Self::verify`] at time `now`, with the reason of a refusal.
    fn verify_at(&self, token: &str, now: SystemTime) -> Result<Identity, Refusal> {
        let (alg, header) = jws::peek_header(token, MAX_TOKEN_BYTES).map_err(|e| e.to_string())?;
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err("kid is not a string".into()),
        };
        // An access token is a plain JWT: no unencoded payload (RFC 7797), which no provider
        // issues and which would change what the signature covers.
        if header.contains_key("b64") {
            return Err("b64 in a bearer token".into());
        }
        let keys = self.key_set();
        let key = match keys.select(alg, kid) {
            Ok(key) => key,
            Err(unknown) => {
                if unknown {
                    self.ask_for_keys();
                    return Err(format!(
                        "unknown kid {:?}",
                        kid.map(|k| k.chars().take(64).collect::<String>())
                    ));
                }
                return Err(format!("no key of the set fits {} (kid {})", alg.name(), kid.is_some()));
            }
        };
        let verified = jws::verify(token, None, key, MAX_TOKEN_BYTES).map_err(|e| e.to_string())?;
        if !verified.signature_valid {
            return Err("bad signature".into());
        }
        let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&verified.payload) else {
            return Err("the payload is not a JSON object".into());
        };
        self.check_claims(&claims, now)?;
        self.identity(&claims)
    }

    /// Wakes the refresher (URL sources only); it fetches no sooner than its minimum gap.
    fn ask_for_keys(&self) {
        if let Some(wake) = &self.unknown_kid {
            self.unknown_kid_asks.fetch_add(1, Ordering::Relaxed);
            wake.notify_one();
        }
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: SystemTime) -> Result<(), Refusal> {
        let s = &self.settings;
        let now = now.duration_since(UNIX_EPOCH).map_err(|_| "the clock is before 1970")?.as_secs_f64();
        let leeway = s.leeway.as_secs_f64();
        let time = |name: &str| -> Result<Option<f64>, Refusal> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v.as_f64().map(Some).ok_or_else(|| format!("{name} is not a number")),
            }
        };
        let exp = time("exp")?.ok_or("no exp")?;
        if now > exp + leeway {
            return Err("expired (exp)".into());
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
            return Err("not valid yet (nbf)".into());
        }
        if time("iat")?.is_some_and(|iat| iat > now + leeway) {
            return Err("issued in the future (iat)".into());
        }
        if claims.get("iss").and_then(Value::as_str) != Some(s.issuer.as_str()) {
            return Err(format!("issuer {:?} is not the configured one", short(claims.get("iss"))));
        }
        let accepted = |v: &Value| v.as_str().is_some_and(|a| s.audiences.iter().any(|x| x == a));
        let by_aud = match claims.get("aud") {
            Some(Value::Array(auds)) => auds.iter().any(accepted),
            Some(aud) => accepted(aud),
            None => false,
        };
        let by_azp = s.accept_azp && claims.get("azp").is_some_and(accepted);
        if !by_aud && !by_azp {
            return Err("no accepted audience in aud (or azp)".into());
        }
        if let Some(typ) = &s.token_type
            && claims.get("typ").and_then(Value::as_str) != Some(typ.as_str())
        {
            return Err(format!("typ {:?} is not {typ:?}", short(claims.get("typ"))));
        }
        Ok(())
    }

    fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, Refusal> {
        let s = &self.settings;
        let user = match lookup(claims, &s.user_claim).and_then(Value::as_str) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => return Err(format!("no user claim {:?}", s.user_claim.join("."))),
        };
        let mut roles: Vec<String> = Vec::new();
        if let Some(Value::Array(names)) = lookup(claims, &s.roles_claim) {
            for name in names.iter().filter_map(Value::as_str) {
                match s.role_map.get(name) {
                    Some(mapped) => roles.extend(mapped.iter().cloned()),
                    None => roles.push(name.to_owned()),
                }
            }
        }
        roles.sort();
        roles.dedup();
        Ok(Identity { user, roles })
    }
}

/// The value at `path` in `claims`.
fn lookup<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |value, name| value.get(name))
}

/// When the key set is fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTimes {
    /// The regular interval.
    pub every: Duration,
    /// The shortest gap between two fetches: a fetch asked for by an unknown `kid`, or the
    /// retry after a failed fetch, waits until this much time has passed since the last.
    pub min_gap: Duration,
}

impl Default for RefreshTimes {
    fn default() -> Self {
        Self { every: DEFAULT_REFRESH, min_gap: DEFAULT_MIN_REFRESH }
    }
}

impl RefreshTimes {
    fn check(&self) -> Result<(), OidcError> {
        if self.min_gap.is_zero() || self.every < self.min_gap {
            return Err(OidcError::Config(
                "auth.oidc: the refresh interval must be at least the minimum gap, and that above 0".into(),
            ));
        }
        Ok(())
    }
}

/// The task that keeps a URL-sourced verifier's keys current; it ends once the verifier is
/// gone.
pub struct Refresher {
    verifier: Weak<OidcVerifier>,
    fetcher: JwksFetcher,
    times: RefreshTimes,
    wake: Arc<Notify>,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher").field("url", &self.fetcher.url()).field("times", &self.times).finish()
    }
}

impl Refresher {
    /// Fetches the key set on the interval, and after an unknown `kid` no sooner than the
    /// minimum gap since the last fetch; a failed fetch keeps the keys in use (a warning),
    /// and is retried after the minimum gap. Returns when the verifier has been dropped.
    pub async fn run(self) {
        let Self { verifier, fetcher, times, wake } = self;
        let mut last = tokio::time::Instant::now();
        let mut next = last + times.every;
        loop {
            let asked = tokio::select! {
                () = tokio::time::sleep_until(next) => false,
                () = wake.notified() => true,
            };
            if asked {
                tokio::time::sleep_until(last + times.min_gap).await;
            }
            let Some(target) = verifier.upgrade() else { return };
            if asked {
                tracing::info!("JWKS: fetching {} again: a token named an unknown key id", fetcher.url());
            }
            let result = fetcher.fetch().await;
            last = tokio::time::Instant::now();
            match result {
                Ok(keys) => {
                    tracing::debug!("JWKS: {} signature keys from {}", keys.len(), fetcher.url());
                    target.replace_keys(keys);
                    next = last + times.every;
                }
                Err(e) => {
                    tracing::warn!(
                        "JWKS: fetching {} failed, keeping the {} keys in use: {e}",
                        fetcher.url(),
                        target.key_set().len()
                    );
                    next = last + times.min_gap;
                }
            }
        }
    }
}

/// Fetches a JWKS document over http or https: one connection per fetch, bounded in time and
/// size; redirects are not followed and only `200` is accepted.
#[derive(Clone)]
pub struct JwksFetcher {
    client: HttpClient,
}

impl fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksFetcher").field("client", &self.client).finish()
    }
}

impl JwksFetcher {
    /// A fetcher of `url` (`http://` or `https://`, no user information). For https, the
    /// server certificate is checked against the CA certificates of `ca_pem` (PEM, one or
    /// more) when given, else against Mozilla's roots (`webpki-roots`).
    pub fn new(url: &str, ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, OidcError> {
        let options = HttpOptions {
            ca_pem: ca_pem.map(<[u8]>::to_vec),
            timeout,
            max_body: MAX_JWKS_BYTES,
            keep_alive: false,
        };
        let client = HttpClient::new(url, options).map_err(|e| match e {
            ClientError::Config(why) => OidcError::Config(format!("auth.oidc.jwks_url {url:?}: {why}")),
            other => OidcError::Config(format!("auth.oidc.jwks_url {url:?}: {other}")),
        })?;
        Ok(Self { client })
    }

    /// The URL fetched.
    pub fn url(&self) -> &Uri {
        self.client.url()
    }

    /// Fetches and parses the key set; the error says why, without secrets.
    pub async fn fetch(&self) -> Result<KeySet, String> {
        let answer = self
            .client
            .get("", &[("accept", "application/json, application/jwk-set+json")])
            .await
            .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("answered {}", answer.status));
        }
        KeySet::from_json(&answer.body).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keymgr_crypto::SigningKey;
    use keymgr_jose::JoseError;
    use keymgr_jose::jws::JwsHeader;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The JWK of a generated key, read back from its SPKI (the components sit at its end).
    fn jwk_of(key: &SigningKey, kid: &str) -> Value {
        let spki = key.public_key_spki().expect("spki");
        match key.kind() {
            AsymmetricKind::Rsa2048 => {
                let body = spki.get(spki.len() - 270..).expect("rsa body");
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                       "n": b64(body.get(9..265).expect("n")), "e": b64(body.get(267..).expect("e"))})
            }
            AsymmetricKind::EcP256 | AsymmetricKind::EcSecp256k1 => {
                let point = spki.get(spki.len() - 64..).expect("point");
                let crv = if key.kind() == AsymmetricKind::EcP256 { "P-256" } else { "secp256k1" };
                json!({"kty": "EC", "kid": kid, "crv": crv,
                       "x": b64(point.get(..32).expect("x")), "y": b64(point.get(32..).expect("y"))})
            }
            AsymmetricKind::Ed25519 => {
                json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(spki.get(spki.len() - 32..).expect("x"))})
            }
        }
    }

    fn mint(key: &SigningKey, alg: JwsAlgorithm, kid: Option<&str>, claims: &Value) -> String {
        let header =
            JwsHeader { kid: kid.map(str::to_owned), typ: Some("JWT".into()), ..JwsHeader::new(alg) };
        let payload = serde_json::to_vec(claims).expect("json");
        jws::sign(&header, &payload, false, &|m| key.sign(alg.sign_algorithm(), m).map_err(JoseError::from))
            .expect("sign")
    }

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
    }

    fn claims() -> Value {
        json!({"iss": "https://idp/realms/mosip", "aud": ["account", "keymgr"], "azp": "regproc-client",
               "exp": now() + 300, "iat": now(), "typ": "Bearer", "preferred_username": "regproc",
               "sub": "9b1f", "realm_access": {"roles": ["CRYPTO_USER", "offline_access"]},
               "resource_access": {"my.client": {"roles": ["kc-admin"]}}})
    }

    fn settings() -> OidcSettings {
        OidcSettings::new("https://idp/realms/mosip", vec!["keymgr".into()])
    }

    #[test]
    fn every_key_type_verifies_and_claims_become_an_identity() {
        let mut jwks = Vec::new();
        let mut signers = Vec::new();
        for (i, alg) in [JwsAlgorithm::Rs256, JwsAlgorithm::Es256, JwsAlgorithm::Es256K, JwsAlgorithm::EdDsa]
            .into_iter()
            .enumerate()
        {
            let key = SigningKey::generate(alg.key_kind()).expect("key");
            jwks.push(jwk_of(&key, &format!("k{i}")));
            signers.push((key, alg, format!("k{i}")));
        }
        // Keycloak's encryption key and an HMAC key are skipped.
        jwks.push(
            json!({"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}),
        );
        jwks.push(json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0"}));
        let set =
            KeySet::from_json(&serde_json::to_vec(&json!({ "keys": jwks })).expect("json")).expect("set");
        assert_eq!(set.len(), 4);
        let verifier = OidcVerifier::with_keys(settings(), set).expect("verifier");
        for (key, alg, kid) in &signers {
            let p =
                verifier.verify_at(&mint(key, *alg, Some(kid), &claims()), SystemTime::now()).expect("valid");
            assert_eq!(p.user, "regproc");
            assert_eq!(p.roles, ["CRYPTO_USER", "offline_access"]);
        }
        // Without kid: the one key of the token's type.
        let (es, _, _) = signers.get(1).expect("es");
        assert!(
            verifier.verify_at(&mint(es, JwsAlgorithm::Es256, None, &claims()), SystemTime::now()).is_ok()
        );
        // PS256 with a key published for RS256 only is refused.
        let (rsa, _, _) = signers.first().expect("rsa");
        let ps = mint(rsa, JwsAlgorithm::Ps256, Some("k0"), &claims());
        assert!(verifier.verify_at(&ps, SystemTime::now()).is_err());
    }

    #[test]
    fn claims_are_checked() {
        let key = SigningKey::generate(AsymmetricKind::EcP256).expect("key");
        let set =
            KeySet::from_json(&serde_json::to_vec(&json!({"keys": [jwk_of(&key, "k")]})).expect("json"))
                .expect("set");
        let mut s = settings();
        s.token_type = Some("Bearer".into());
        s.roles_claim = vec!["resource_access".into(), "my.client".into(), "roles".into()];
        s.role_map.insert("kc-admin".into(), vec!["KEY_ADMIN".into(), "CRYPTO_USER".into()]);
        let verifier = OidcVerifier::with_keys(s.clone(), set.clone()).expect("verifier");
        let at =
            |c: &Value| verifier.verify_at(&mint(&key, JwsAlgorithm::Es256, Some("k"), c), SystemTime::now());
        assert_eq!(at(&claims()).expect("valid").roles, ["CRYPTO_USER", "KEY_ADMIN"]);
        let with = |name: &str, v: Value| {
            let mut c = claims();
            c[name] = v;
            c
        };
        let without = |name: &str| {
            let mut c = claims();
            c.as_object_mut().expect("object").remove(name);
            c
        };
        let unencoded =
            JwsHeader { b64: false, kid: Some("k".into()), ..JwsHeader::new(JwsAlgorithm::Es256) };
        let payload = serde_json::to_vec(&claims()).expect("json");
        let b64_false = jws::sign(&unencoded, &payload, true, &|m| {
            key.sign(JwsAlgorithm::Es256.sign_algorithm(), m).map_err(JoseError::from)
        })
        .expect("sign");
        assert!(verifier.verify_at(&b64_false, SystemTime::now()).is_err(), "b64:false bearer token");
        let t = now();
        for (what, c) in [
            ("expired beyond leeway", with("exp", json!(t - 61))),
            ("no exp", without("exp")),
            ("exp as text", with("exp", json!("9999999999"))),
            ("nbf in the future", with("nbf", json!(t + 120))),
            ("iat in the future", with("iat", json!(t + 120))),
            ("other issuer", with("iss", json!("https://idp/realms/other"))),
            ("no issuer", without("iss")),
            ("other audience", with("aud", json!("account"))),
            ("no audience", without("aud")),
            ("ID token", with("typ", json!("ID"))),
            ("no user", without("preferred_username")),
            ("empty user", with("preferred_username", json!(""))),
        ] {
            assert!(at(&c).is_err(), "{what}");
        }
        // Within the leeway.
        assert!(at(&with("exp", json!(t - 30))).is_ok());
        assert!(at(&with("nbf", json!(t + 30))).is_ok());
        // azp only when configured.
        let azp_only = with("aud", json!("account"));
        let azp_only = {
            let mut c = azp_only;
            c["azp"] = json!("keymgr");
            c
        };
        assert!(at(&azp_only).is_err());
        s.accept_azp = true;
        let lenient = OidcVerifier::with_keys(s, set).expect("verifier");
        assert!(
            lenient
                .verify_at(&mint(&key, JwsAlgorithm::Es256, Some("k"), &azp_only), SystemTime::now())
                .is_ok()
        );
        // No roles claim: an identity without roles (the endpoint answers 403).
        assert!(at(&without("resource_access")).expect("valid").roles.is_empty());
    }

    #[test]
    fn jwks_documents_and_shapes() {
        assert!(KeySet::from_json(b"not json").is_err());
        assert!(KeySet::from_json(br#"{"keys": []}"#).is_err());
        assert!(KeySet::from_json(br#"{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}"#).is_err());
        let key = SigningKey::generate(AsymmetricKind::EcP256).expect("key");
        let mut jwk = jwk_of(&key, "k");
        jwk["alg"] = json!("RS256");
        assert!(KeySet::from_json(&serde_json::to_vec(&json!({"keys": [jwk]})).expect("json")).is_err());
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        for not in ["a.b", "a.b.c.d", "a..c", "a.b.c=", "static-token", "a b.c.d", ".b.c"] {
            assert!(!looks_like_jwt(not), "{not}");
        }
        assert_eq!(claim_path("resource_access.keymgr.roles"), ["resource_access", "keymgr", "roles"]);
        let mut bad = settings();
        bad.audiences.clear();
        assert!(bad.check().is_err());
        assert!(
            RefreshTimes { every: Duration::from_secs(1), min_gap: Duration::from_secs(2) }.check().is_err()
        );
        assert!(JwksFetcher::new("ftp://idp/certs", None, DEFAULT_FETCH_TIMEOUT).is_err());
        assert!(JwksFetcher::new("https://u:p@idp/certs", None, DEFAULT_FETCH_TIMEOUT).is_err());
        assert!(JwksFetcher::new("http://idp/certs", Some(b"x"), DEFAULT_FETCH_TIMEOUT).is_err());
        assert!(JwksFetcher::new("https://idp/certs", Some(b"no pem"), DEFAULT_FETCH_TIMEOUT).is_err());
        let f = JwksFetcher::new(
            "https://[::1]:8443/realms/m/protocol/openid-connect/certs",
            None,
            DEFAULT_FETCH_TIMEOUT,
        )
        .expect("fetcher");
        assert_eq!(f.url().path(), "/realms/m/protocol/openid-connect/certs");
    }
}
