//! The service's configuration: a TOML file, then `KEYMGR_*` environment overrides, with
//! every default in one place (see `docs/CONFIG.md`), and the checks that turn its sections
//! into the settings of the HTTP layer and the key manager.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keymgr_core::{
    DecryptionScope, JwsAlgorithm, KeyManagerConfig, NewPairLimits, PartnerSettings, SigningSettings,
};
use keymgr_http::Limits;
use keymgr_http::auth::TokenConfig;
use keymgr_http::server::ServerLimits;
use keymgr_model::{AppId, KeyRef, KeyTier, RefId};
use keymgr_oidc::{self as oidc, OidcSettings, RefreshTimes, claim_path};
use serde::Deserialize;

use crate::oidc::oidc_error;
use crate::{ServiceError, config_error};

/// Where the service listens unless configured (MOSIP's port, loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8088";
/// The data directory unless configured.
pub const DEFAULT_DATA_DIR: &str = "keymgr-data";
/// The admin token's file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The file keystore's PIN file in the data directory, made on first start when no
/// `KEYMGR_KEYSTORE_PIN` is given.
pub const PIN_FILE: &str = "keystore.pin";
/// The shortest PIN, in characters, that a new file keystore is created under: the PIN is all
/// that stands between a copy of `keystore.kmks` and the master keys. Keystores made before
/// this check still open with a shorter PIN (with a warning). A PKCS#11 token enforces its own
/// minimum; for it only an empty PIN is refused.
pub const MIN_FILE_KEYSTORE_PIN_CHARS: usize = 12;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address to listen on (`KEYMGR_LISTEN`).
    pub listen: Option<String>,
    /// Data directory for the embedded defaults, the PIN file and the admin token
    /// (`KEYMGR_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// The database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The keystore.
    #[serde(default)]
    pub keystore: KeystoreConfig,
    /// HTTP limits and the development switch.
    #[serde(default)]
    pub http: HttpConfig,
    /// Tokens and roles.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Key settings.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Which keys open envelopes and JWEs.
    #[serde(default)]
    pub decrypt: DecryptConfig,
    /// JWS/JWT signing and verification.
    #[serde(default)]
    pub signing: SigningConfig,
    /// The partner trust store.
    #[serde(default)]
    pub partners: PartnersConfig,
    /// The audit trail.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Key lifecycle: retention, state checks, rewrap batches.
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    /// Zero-knowledge encryption.
    #[serde(default)]
    pub zk: ZkConfig,
    /// Partner token ids.
    #[serde(default)]
    pub tokenid: TokenIdConfig,
    /// TSP licence keys.
    #[serde(default)]
    pub licensekey: LicenseKeyConfig,
    /// The operator console under `/console`.
    #[serde(default)]
    pub console: ConsoleConfig,
}

/// `[console]`: the operator console (`docs/CONSOLE.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Whether `keymgr serve` serves the console (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Minutes a console session lasts after sign-in (default 30; 1 to 1440).
    #[serde(default = "default_session_minutes")]
    pub session_minutes: u64,
    /// Whether the session cookie is `Secure` (default true: browsers send it over HTTPS and
    /// to localhost only). Turn off only behind a trusted plain-HTTP network.
    #[serde(default = "default_true")]
    pub secure_cookie: bool,
    /// Most console sessions at once (default 256).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            session_minutes: default_session_minutes(),
            secure_cookie: true,
            max_sessions: default_max_sessions(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_session_minutes() -> u64 {
    30
}

fn default_max_sessions() -> usize {
    256
}

impl ConsoleConfig {
    /// The console's settings, or `None` when it is off.
    pub fn settings(&self) -> Result<Option<keymgr_console::ConsoleSettings>, String> {
        if !self.enabled {
            return Ok(None);
        }
        if !(1..=1440).contains(&self.session_minutes) {
            return Err(format!("console.session_minutes must be 1 to 1440, not {}", self.session_minutes));
        }
        Ok(Some(keymgr_console::ConsoleSettings {
            session_ttl: Duration::from_secs(self.session_minutes * 60),
            secure_cookie: self.secure_cookie,
            max_sessions: self.max_sessions.max(1),
        }))
    }
}

/// `[licensekey]`: MOSIP's `mosip.kernel.licensekey.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseKeyConfig {
    /// `length`: characters in a generated key (16 unless set; 8 to 255).
    pub length: Option<usize>,
    /// `permissions`: what a licence may be given (MOSIP's thirteen unless set); each must be
    /// non-blank and hold no comma, as they are stored comma-joined.
    pub permissions: Option<Vec<String>>,
}

impl LicenseKeyConfig {
    /// The key manager's licence settings, refusing keys too short to guess at and
    /// permissions that cannot be stored.
    pub(crate) fn settings(&self) -> Result<keymgr_core::LicenseSettings, String> {
        let defaults = keymgr_core::LicenseSettings::default();
        let key_length = self.length.unwrap_or(defaults.key_length);
        if !(8..=keymgr_core::MAX_LICENSE_KEY_LEN).contains(&key_length) {
            return Err(format!(
                "licensekey.length must be 8 to {}, not {key_length}",
                keymgr_core::MAX_LICENSE_KEY_LEN
            ));
        }
        let permissions = self.permissions.clone().unwrap_or(defaults.permissions);
        if let Some(bad) = permissions.iter().find(|p| p.trim().is_empty() || p.contains(',')) {
            return Err(format!("licensekey.permissions: {bad:?} is blank or holds a comma"));
        }
        Ok(keymgr_core::LicenseSettings { key_length, permissions })
    }
}

/// `[tokenid]`: MOSIP's `mosip.kernel.tokenid.*`. Without both salts `/tokenid` answers
/// `KER-UIG-005`. `Debug` never shows the salts.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIdConfig {
    /// `uin.salt`: appended to the UIN before its hash (`KEYMGR_TOKENID_UIN_SALT`).
    pub uin_salt: Option<String>,
    /// `partnercode.salt`: put before the partner code in the second hash
    /// (`KEYMGR_TOKENID_PARTNER_CODE_SALT`).
    pub partner_code_salt: Option<String>,
    /// `length`: digits in a token (36 unless set; 1 to 152).
    pub length: Option<usize>,
}

impl std::fmt::Debug for TokenIdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIdConfig")
            .field("uin_salt", &self.uin_salt.as_ref().map(|_| "<set>"))
            .field("partner_code_salt", &self.partner_code_salt.as_ref().map(|_| "<set>"))
            .field("length", &self.length)
            .finish()
    }
}

impl TokenIdConfig {
    /// The key manager's token id settings, refusing a length no token can have.
    pub(crate) fn settings(&self) -> Result<keymgr_core::TokenIdSettings, String> {
        let defaults = keymgr_core::TokenIdSettings::default();
        let length = self.length.unwrap_or(defaults.length);
        if length == 0 || length > keymgr_core::MAX_TOKEN_ID_LEN {
            return Err(format!(
                "tokenid.length must be 1 to {}, not {length}",
                keymgr_core::MAX_TOKEN_ID_LEN
            ));
        }
        let blank_is_none = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(keymgr_core::TokenIdSettings {
            uin_salt: blank_is_none(&self.uin_salt),
            partner_code_salt: blank_is_none(&self.partner_code_salt),
            length,
        })
    }
}

/// `[zk]`: MOSIP's `mosip.kernel.zkcrypto.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkConfig {
    /// Random keys the key generator keeps in `data_encrypt_keystore`
    /// (`random.key.generate.count`; 10000).
    #[serde(default = "default_zk_random_keys")]
    pub random_keys: u32,
    /// The application whose keys each random key is also sealed to
    /// (`publickey.application.id`; IDA).
    #[serde(default = "default_zk_public_key_application")]
    pub public_key_application: String,
    /// Its references (`publickey.reference.id`; PUBLIC_KEY).
    #[serde(default = "default_zk_public_key_references")]
    pub public_key_references: Vec<String>,
}

impl Default for ZkConfig {
    fn default() -> Self {
        Self {
            random_keys: default_zk_random_keys(),
            public_key_application: default_zk_public_key_application(),
            public_key_references: default_zk_public_key_references(),
        }
    }
}

fn default_zk_random_keys() -> u32 {
    10_000
}

fn default_zk_public_key_application() -> String {
    "IDA".into()
}

fn default_zk_public_key_references() -> Vec<String> {
    vec!["PUBLIC_KEY".into()]
}

impl ZkConfig {
    /// The key manager's ZK settings.
    pub(crate) fn settings(&self) -> keymgr_core::ZkSettings {
        keymgr_core::ZkSettings {
            public_key_app: self.public_key_application.clone(),
            public_key_references: self.public_key_references.clone(),
            random_keys: self.random_keys,
            ..keymgr_core::ZkSettings::default()
        }
    }
}

/// `[lifecycle]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Days an expired key is kept before `keymgr retire` may destroy it, for applications
    /// without a retention of their own (default 3650).
    #[serde(default = "default_retention_days")]
    pub default_retention_days: u32,
    /// Seconds between checks for key states another replica changed (default 2).
    #[serde(default = "default_state_check_secs")]
    pub state_check_secs: u64,
    /// Children re-wrapped per transaction during a compromise response (default 200).
    #[serde(default = "default_rewrap_batch")]
    pub rewrap_batch: usize,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            default_retention_days: default_retention_days(),
            state_check_secs: default_state_check_secs(),
            rewrap_batch: default_rewrap_batch(),
        }
    }
}

fn default_retention_days() -> u32 {
    3650
}

fn default_state_check_secs() -> u64 {
    2
}

fn default_rewrap_batch() -> usize {
    200
}

impl LifecycleConfig {
    /// The key manager's lifecycle settings.
    pub(crate) fn settings(&self) -> keymgr_core::LifecycleSettings {
        keymgr_core::LifecycleSettings {
            default_retention_days: self.default_retention_days,
            state_check_interval: Duration::from_secs(self.state_check_secs),
            rewrap_batch: self.rewrap_batch.clamp(1, 10_000),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Seconds between the signed checkpoints the service appends when rows were added
    /// (default 3600; 0 turns them off).
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { checkpoint_secs: default_checkpoint_secs() }
    }
}

fn default_checkpoint_secs() -> u64 {
    3600
}

impl AuditConfig {
    /// The key manager's checkpoint interval.
    pub(crate) fn interval(&self) -> Option<Duration> {
        (self.checkpoint_secs > 0).then(|| Duration::from_secs(self.checkpoint_secs))
    }
}

/// `[partners]`: MOSIP's `mosip.kernel.partner.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnersConfig {
    /// Partner domains (`allowed.domains`; default AUTH, DEVICE, FTM, TRUST_CA).
    #[serde(default = "default_domains")]
    pub allowed_domains: Vec<String>,
    /// Months a CA certificate must still be valid when uploaded (default 12).
    #[serde(default = "default_ca_months")]
    pub ca_min_validity_months: u32,
    /// Years a re-signed partner certificate is valid (default 1).
    #[serde(default = "default_partner_years")]
    pub partner_validity_years: u32,
    /// Days a partner certificate may fall short of that (default 30).
    #[serde(default = "default_grace_days")]
    pub partner_grace_days: u32,
    /// Re-sign FTM partners' certificates too (default false).
    #[serde(default)]
    pub resign_ftm_certificates: bool,
    /// The application whose master re-signs partner certificates (default PMS).
    #[serde(default = "default_sign_application")]
    pub sign_application: String,
    /// Seconds a replica trusts its cached store of a domain before it asks the database
    /// whether another replica changed it (default 5; 0 asks every time).
    #[serde(default = "default_store_check_secs")]
    pub store_check_secs: u64,
}

impl Default for PartnersConfig {
    fn default() -> Self {
        Self {
            allowed_domains: default_domains(),
            ca_min_validity_months: default_ca_months(),
            partner_validity_years: default_partner_years(),
            partner_grace_days: default_grace_days(),
            resign_ftm_certificates: false,
            sign_application: default_sign_application(),
            store_check_secs: default_store_check_secs(),
        }
    }
}

fn default_domains() -> Vec<String> {
    PartnerSettings::default().allowed_domains
}
fn default_ca_months() -> u32 {
    PartnerSettings::default().ca_min_validity_months
}
fn default_partner_years() -> u32 {
    PartnerSettings::default().partner_validity_years
}
fn default_grace_days() -> u32 {
    PartnerSettings::default().partner_grace_days
}
fn default_sign_application() -> String {
    PartnerSettings::default().sign_application
}
fn default_store_check_secs() -> u64 {
    PartnerSettings::default().store_check_interval.as_secs()
}

impl PartnersConfig {
    /// The key manager's partner settings, or why these cannot be used.
    pub(crate) fn settings(&self) -> Result<PartnerSettings, ServiceError> {
        let mut domains = Vec::new();
        for d in &self.allowed_domains {
            let d = d.trim().to_ascii_uppercase();
            if d.is_empty()
                || d.len() > 36
                || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(config_error(format!(
                    "partners.allowed_domains: {d:?} is not a domain name (letters, digits, _ and -, at most 36)"
                )));
            }
            domains.push(d);
        }
        if domains.is_empty() {
            return Err(config_error("partners.allowed_domains must name at least one domain"));
        }
        if self.partner_validity_years == 0 || self.partner_validity_years > 20 {
            return Err(config_error("partners.partner_validity_years must be 1 to 20"));
        }
        let sign = AppId::new(self.sign_application.trim())
            .map_err(|e| config_error(format!("partners.sign_application: {e}")))?;
        Ok(PartnerSettings {
            allowed_domains: domains,
            ca_min_validity_months: self.ca_min_validity_months,
            partner_validity_years: self.partner_validity_years,
            partner_grace_days: self.partner_grace_days,
            resign_ftm_certificates: self.resign_ftm_certificates,
            sign_application: sign.to_string(),
            store_check_interval: Duration::from_secs(self.store_check_secs),
        })
    }
}

/// `[signing]`: MOSIP's `mosip.kernel.keymanager.jwtsign.*`, `...signature.kid.prepend` and
/// `mosip.kernel.crypto.sign-algorithm-name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Put MOSIP's key id (after the prefix) in `kid` (default true).
    #[serde(default = "yes")]
    pub include_key_id: bool,
    /// The `kid` prefix (default empty); `PAYLOAD_ISSUER` takes the payload's `iss` and `#`.
    #[serde(default)]
    pub kid_prepend: String,
    /// `/jwtSign` requires JSON data (default true).
    #[serde(default = "yes")]
    pub jwt_validate_json: bool,
    /// The algorithm of the deprecated `/sign`: `RS256` (default) or `PS256`.
    #[serde(default = "default_legacy_algorithm")]
    pub legacy_sign_algorithm: String,
    /// The longest token `/jwtVerify` reads and the largest `dataToSign`, in bytes (default
    /// 16 MiB).
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            include_key_id: true,
            kid_prepend: String::new(),
            jwt_validate_json: true,
            legacy_sign_algorithm: default_legacy_algorithm(),
            max_token_bytes: default_max_token_bytes(),
        }
    }
}

fn default_legacy_algorithm() -> String {
    "RS256".into()
}

fn default_max_token_bytes() -> usize {
    SigningSettings::default().max_token_len
}

impl SigningConfig {
    /// The key manager's signing settings, or why these cannot be used.
    pub(crate) fn settings(&self) -> Result<SigningSettings, ServiceError> {
        let legacy_algorithm = match self.legacy_sign_algorithm.as_str() {
            "RS256" => JwsAlgorithm::Rs256,
            "PS256" => JwsAlgorithm::Ps256,
            other => {
                return Err(config_error(format!(
                    "signing.legacy_sign_algorithm {other:?}: KERNEL/SIGN is an RSA key, use RS256 or PS256"
                )));
            }
        };
        if self.max_token_bytes < 1024 {
            return Err(config_error("signing.max_token_bytes must be at least 1024"));
        }
        if self.kid_prepend.chars().any(char::is_control) {
            return Err(config_error("signing.kid_prepend must not contain control characters"));
        }
        Ok(SigningSettings {
            include_key_id: self.include_key_id,
            kid_prepend: self.kid_prepend.clone(),
            jwt_validate_json: self.jwt_validate_json,
            legacy_algorithm,
            max_token_len: self.max_token_bytes,
        })
    }
}

/// `[decrypt]`: which keys may open envelopes (`/decrypt`) and JWEs (`/jwtDecrypt`) besides
/// the base keys of the requested pair. See `docs/SECURITY.md` before changing either.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptConfig {
    /// Any base key of the requested application opens, as in MOSIP (default false: only
    /// the requested pair's).
    #[serde(default)]
    pub same_application: bool,
    /// Module masters (`"APP"`) that may open envelopes sealed to them for requests of their
    /// own application. Default none; ROOT and signing keys cannot be listed.
    #[serde(default)]
    pub keystore_keys: Vec<String>,
    /// How many of the pair's newest keys an envelope without a thumbprint (clients before
    /// MOSIP 1.1.5) is tried with; 0 refuses such envelopes. Default 3.
    #[serde(default = "default_thumbprintless_keys")]
    pub thumbprintless_keys: usize,
}

/// Most keys an envelope without a thumbprint may be tried with.
const MAX_THUMBPRINTLESS_KEYS: usize = 32;

fn default_thumbprintless_keys() -> usize {
    DecryptionScope::DEFAULT_THUMBPRINTLESS_KEYS
}

impl Default for DecryptConfig {
    fn default() -> Self {
        Self {
            same_application: false,
            keystore_keys: Vec::new(),
            thumbprintless_keys: default_thumbprintless_keys(),
        }
    }
}

impl DecryptConfig {
    pub(crate) fn scope(&self) -> Result<DecryptionScope, ServiceError> {
        let keystore_keys = self
            .keystore_keys
            .iter()
            .map(|k| {
                let (app, reference) = k.split_once(':').unwrap_or((k.as_str(), ""));
                let key_ref = KeyRef::new(
                    AppId::new(app.trim())
                        .map_err(|e| config_error(format!("decrypt.keystore_keys {k:?}: {e}")))?,
                    RefId::new(reference.trim())
                        .map_err(|e| config_error(format!("decrypt.keystore_keys {k:?}: {e}")))?,
                );
                if key_ref.tier() != KeyTier::ModuleMaster {
                    return Err(config_error(format!(
                        "decrypt.keystore_keys {k:?}: only module masters may be listed (ROOT and \
                         signing keys never decrypt; base keys open their own pairs)"
                    )));
                }
                Ok(key_ref)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.thumbprintless_keys > MAX_THUMBPRINTLESS_KEYS {
            return Err(config_error(format!(
                "decrypt.thumbprintless_keys {}: at most {MAX_THUMBPRINTLESS_KEYS} (each is an RSA \
                 operation on every such request)",
                self.thumbprintless_keys
            )));
        }
        Ok(DecryptionScope {
            same_application: self.same_application,
            keystore_keys,
            thumbprintless_keys: self.thumbprintless_keys,
        })
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://...` or `sqlite://PATH` (`KEYMGR_DATABASE_URL`); default SQLite in the data
    /// directory.
    pub url: Option<String>,
    /// Connections in the pool.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
}

fn default_pool() -> u32 {
    16
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, pool_size: default_pool() }
    }
}

/// `[keystore]`: the embedded file keystore or a PKCS#11 token. The PIN comes from
/// `KEYMGR_KEYSTORE_PIN`, else (file keystore only) from `pin_file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeystoreConfig {
    /// One encrypted file (default `DATA_DIR/keystore.kmks`).
    File {
        /// The keystore file.
        path: Option<PathBuf>,
        /// A file holding the PIN (default `DATA_DIR/keystore.pin`, made on first start).
        pin_file: Option<PathBuf>,
    },
    /// A PKCS#11 token.
    Pkcs11 {
        /// The module, e.g. `/usr/lib/softhsm/libsofthsm2.so` (`KEYMGR_PKCS11_MODULE`).
        module: PathBuf,
        /// The token label (`KEYMGR_PKCS11_TOKEN_LABEL`).
        token_label: String,
        /// Sessions open at once.
        #[serde(default = "default_sessions")]
        sessions: usize,
    },
}

fn default_sessions() -> usize {
    8
}

impl Default for KeystoreConfig {
    fn default() -> Self {
        Self::File { path: None, pin_file: None }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body in bytes (default 64 MiB).
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Request timeout in seconds (default 60).
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Accept every request without a token. Development only: logged as a warning at every
    /// start.
    #[serde(default)]
    pub development_without_auth: bool,
    /// Most requests handled at once; more are answered 503 (default 256).
    #[serde(default = "default_in_flight_requests")]
    pub max_in_flight_requests: usize,
    /// Most requests of one token's user at once, so one token cannot take every place
    /// (default 64).
    #[serde(default = "default_in_flight_per_caller")]
    pub max_in_flight_per_caller: usize,
    /// Most request-body bytes held at once; a request whose `Content-Length` does not fit is
    /// answered 503 before its body is read (default 128 MiB; at least `max_body_bytes`).
    #[serde(default = "default_in_flight_bytes")]
    pub max_in_flight_bytes: usize,
    /// Most Argon2 hashes at once (default: the number of CPUs).
    #[serde(default = "default_argon2_running")]
    pub argon2_running: usize,
    /// Most Argon2 hashes waiting; more are answered 429 (default 16).
    #[serde(default = "default_argon2_waiting")]
    pub argon2_waiting: usize,
    /// Most open connections; more wait in the listen backlog (default 1024).
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Seconds a client has to send a request head, also the longest a kept-alive connection
    /// waits for its next request (default 10).
    #[serde(default = "default_header_read")]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may move no byte either way before it is closed (default 90;
    /// more than `request_timeout_secs`).
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: u64,
    /// Slowest a client may read an answer the server is waiting to send, in bytes a second
    /// over 10-second windows (default 16384); slower clients are disconnected.
    #[serde(default = "default_min_send_rate")]
    pub min_send_bytes_per_sec: usize,
}

fn default_min_send_rate() -> usize {
    ServerLimits::default().min_send_rate
}

fn default_in_flight_requests() -> usize {
    Limits::default().max_in_flight_requests
}

fn default_in_flight_per_caller() -> usize {
    Limits::default().max_in_flight_per_caller
}

fn default_in_flight_bytes() -> usize {
    Limits::default().max_in_flight_bytes
}

fn default_argon2_running() -> usize {
    Limits::default().argon2_running
}

fn default_argon2_waiting() -> usize {
    Limits::default().argon2_waiting
}

fn default_connections() -> usize {
    ServerLimits::default().max_connections
}

fn default_header_read() -> u64 {
    ServerLimits::default().header_read_timeout.as_secs()
}

fn default_idle() -> u64 {
    ServerLimits::default().idle_timeout.as_secs()
}

impl HttpConfig {
    /// The request limits, checked for consistency.
    pub fn limits(&self) -> Result<Limits, ServiceError> {
        if self.max_in_flight_bytes < self.max_body_bytes {
            return Err(config_error(format!(
                "http.max_in_flight_bytes ({}) must be at least http.max_body_bytes ({}), or no large request could ever run",
                self.max_in_flight_bytes, self.max_body_bytes
            )));
        }
        if self.request_timeout_secs == 0
            || self.max_in_flight_requests == 0
            || self.max_in_flight_per_caller == 0
            || self.argon2_running == 0
            || self.argon2_running > 1024
            || self.max_in_flight_requests > 1 << 20
        {
            return Err(config_error(
                "http.request_timeout_secs, max_in_flight_requests (at most 1048576), \
                 max_in_flight_per_caller and argon2_running (at most 1024) must be above 0",
            ));
        }
        Ok(Limits {
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_in_flight_requests: self.max_in_flight_requests,
            max_in_flight_per_caller: self.max_in_flight_per_caller,
            max_in_flight_bytes: self.max_in_flight_bytes,
            argon2_running: self.argon2_running,
            argon2_waiting: self.argon2_waiting,
        })
    }

    /// The connection limits, checked for consistency.
    pub fn server_limits(&self) -> Result<ServerLimits, ServiceError> {
        if self.idle_timeout_secs <= self.request_timeout_secs {
            return Err(config_error(format!(
                "http.idle_timeout_secs ({}) must exceed http.request_timeout_secs ({}): a request being worked on moves no bytes",
                self.idle_timeout_secs, self.request_timeout_secs
            )));
        }
        if self.header_read_timeout_secs == 0 || self.max_connections == 0 || self.max_connections > 1 << 20 {
            return Err(config_error(
                "http.header_read_timeout_secs must be above 0 and max_connections from 1 to 1048576",
            ));
        }
        Ok(ServerLimits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            min_send_rate: self.min_send_bytes_per_sec,
        })
    }
}

fn default_body() -> usize {
    Limits::default().max_body_bytes
}

fn default_timeout() -> u64 {
    Limits::default().request_timeout.as_secs()
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body(),
            request_timeout_secs: default_timeout(),
            development_without_auth: false,
            max_in_flight_requests: default_in_flight_requests(),
            max_in_flight_per_caller: default_in_flight_per_caller(),
            max_in_flight_bytes: default_in_flight_bytes(),
            argon2_running: default_argon2_running(),
            argon2_waiting: default_argon2_waiting(),
            max_connections: default_connections(),
            header_read_timeout_secs: default_header_read(),
            idle_timeout_secs: default_idle(),
            min_send_bytes_per_sec: default_min_send_rate(),
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Bearer tokens, as SHA-256 hashes.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Roles per endpoint role name, overriding the defaults (see `docs/API.md`).
    #[serde(default)]
    pub roles: HashMap<String, Vec<String>>,
    /// Bearer JWTs of an OpenID Connect provider (Keycloak), besides the static tokens.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

/// `[auth.oidc]`: bearer JWTs from the platform's OpenID Connect provider, verified against
/// its JWKS (see `docs/CONFIG.md` and `docs/SECURITY.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` every token must carry, exactly (Keycloak: `https://HOST/realms/REALM`).
    pub issuer: String,
    /// The audience, or a list of audiences, a token's `aud` must name one of.
    pub audience: OneOrMany,
    /// Also accept a token whose `azp` is one of the audiences (default false; see
    /// `docs/SECURITY.md` before turning it on).
    #[serde(default)]
    pub accept_azp: bool,
    /// When set, the `typ` claim must equal it (`"Bearer"` refuses Keycloak ID tokens).
    #[serde(default)]
    pub token_type: Option<String>,
    /// A JWKS file, read at start (exactly one of `jwks_file` and `jwks_url`).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The provider's JWKS URL, http or https, fetched at start and on the refresh interval
    /// (Keycloak: `https://HOST/realms/REALM/protocol/openid-connect/certs`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// PEM CA certificates that the https server of `jwks_url` is checked against, instead of
    /// Mozilla's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allow a plain `http://` `jwks_url` to another host (default false: refused, since
    /// whoever can change the answer on the way can make tokens this service accepts).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Seconds between two regular fetches of `jwks_url` (default 300).
    #[serde(default = "default_oidc_refresh")]
    pub refresh_secs: u64,
    /// Shortest time in seconds between two fetches: a token with an unknown `kid` and a
    /// failed fetch ask for one no sooner than this after the last (default 30).
    #[serde(default = "default_oidc_min_refresh")]
    pub min_refresh_secs: u64,
    /// Seconds one fetch may take, connection and TLS included (default 10).
    #[serde(default = "default_oidc_fetch_timeout")]
    pub fetch_timeout_secs: u64,
    /// Clock skew in seconds allowed on `exp`, `nbf` and `iat` (default 60, at most 300).
    #[serde(default = "default_oidc_leeway")]
    pub leeway_secs: u64,
    /// The claim (or dotted path) that names the user (default `preferred_username`).
    #[serde(default = "default_user_claim")]
    pub user_claim: ClaimPath,
    /// The claim path of the roles (default `realm_access.roles`), dotted, or a list of
    /// parts for names that contain a dot (`["resource_access", "my.client", "roles"]`).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: ClaimPath,
    /// Provider role names to the service's role names; roles not listed keep their name.
    #[serde(default)]
    pub role_map: HashMap<String, Vec<String>>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(v) => vec![v.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// A claim path: dotted text (`realm_access.roles`) or its parts as a list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ClaimPath {
    /// Dotted: `resource_access.keymgr.roles`.
    Dotted(String),
    /// The parts, for names that contain a dot.
    Parts(Vec<String>),
}

impl ClaimPath {
    fn parts(&self) -> Vec<String> {
        match self {
            Self::Dotted(d) => claim_path(d),
            Self::Parts(p) => p.clone(),
        }
    }
}

fn default_oidc_refresh() -> u64 {
    oidc::DEFAULT_REFRESH.as_secs()
}

fn default_oidc_min_refresh() -> u64 {
    oidc::DEFAULT_MIN_REFRESH.as_secs()
}

fn default_oidc_fetch_timeout() -> u64 {
    oidc::DEFAULT_FETCH_TIMEOUT.as_secs()
}

fn default_oidc_leeway() -> u64 {
    oidc::DEFAULT_LEEWAY.as_secs()
}

fn default_user_claim() -> ClaimPath {
    ClaimPath::Dotted(oidc::DEFAULT_USER_CLAIM.into())
}

fn default_roles_claim() -> ClaimPath {
    ClaimPath::Dotted(oidc::DEFAULT_ROLES_CLAIM.into())
}

/// The largest `leeway_secs`: a leeway extends the life of every token.
const MAX_OIDC_LEEWAY_SECS: u64 = 300;

/// Where the key set of `[auth.oidc]` comes from, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwksSource {
    /// A file read at start.
    File(PathBuf),
    /// A URL fetched at start and then refreshed.
    Url {
        /// The URL.
        url: String,
        /// The CA file for https.
        ca_file: Option<PathBuf>,
        /// When to fetch again.
        times: RefreshTimes,
        /// Longest one fetch may take.
        timeout: Duration,
        /// Plain http to another host is allowed (`allow_insecure_http`).
        allow_insecure_http: bool,
    },
}

impl OidcConfig {
    /// The verifier's settings and the key source, or a message that says what to fix.
    pub(crate) fn checked(&self) -> Result<(OidcSettings, JwksSource), ServiceError> {
        let source = match (&self.jwks_file, &self.jwks_url) {
            (Some(file), None) => {
                if self.ca_file.is_some() {
                    return Err(config_error("auth.oidc.ca_file is only used with an https jwks_url"));
                }
                JwksSource::File(file.clone())
            }
            (None, Some(url)) => {
                if self.min_refresh_secs == 0
                    || self.refresh_secs < self.min_refresh_secs
                    || self.fetch_timeout_secs == 0
                    || self.fetch_timeout_secs > 300
                {
                    return Err(config_error(
                        "auth.oidc: min_refresh_secs must be above 0, refresh_secs at least \
                         min_refresh_secs, and fetch_timeout_secs from 1 to 300",
                    ));
                }
                if self.ca_file.is_some() && !url.starts_with("https://") {
                    return Err(config_error("auth.oidc.ca_file is only used with an https jwks_url"));
                }
                JwksSource::Url {
                    url: url.clone(),
                    ca_file: self.ca_file.clone(),
                    times: RefreshTimes {
                        every: Duration::from_secs(self.refresh_secs),
                        min_gap: Duration::from_secs(self.min_refresh_secs),
                    },
                    timeout: Duration::from_secs(self.fetch_timeout_secs),
                    allow_insecure_http: self.allow_insecure_http,
                }
            }
            (Some(_), Some(_)) => {
                return Err(config_error("auth.oidc: give jwks_file or jwks_url, not both"));
            }
            (None, None) => {
                return Err(config_error(
                    "auth.oidc: give jwks_url (the provider's JWKS, e.g. \
                     https://HOST/realms/REALM/protocol/openid-connect/certs) or jwks_file",
                ));
            }
        };
        if self.leeway_secs > MAX_OIDC_LEEWAY_SECS {
            return Err(config_error(format!(
                "auth.oidc.leeway_secs ({}) must be at most {MAX_OIDC_LEEWAY_SECS}: a leeway extends \
                 the life of every token",
                self.leeway_secs
            )));
        }
        let settings = OidcSettings {
            issuer: self.issuer.clone(),
            audiences: self.audience.to_vec(),
            accept_azp: self.accept_azp,
            token_type: self.token_type.clone(),
            leeway: Duration::from_secs(self.leeway_secs),
            user_claim: self.user_claim.parts(),
            roles_claim: self.roles_claim.parts(),
            role_map: self.role_map.clone(),
        };
        settings.check().map_err(oidc_error)?;
        Ok((settings, source))
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// Certificate subject defaults (`mosip.kernel.keymanager.certificate.default.*`).
    #[serde(default = "default_subject")]
    pub subject: SubjectConfig,
    /// Unwrapped base keys kept in memory; 0 turns the cache off.
    #[serde(default = "default_cache")]
    pub base_key_cache_size: usize,
    /// Seconds an unwrapped base key stays in memory.
    #[serde(default = "default_cache_ttl")]
    pub base_key_cache_ttl_secs: u64,
    /// Run the key generator at start (idempotent).
    #[serde(default = "yes")]
    pub keygen_on_start: bool,
    /// Applications whose masters the key generator makes; empty = every active policy.
    #[serde(default)]
    pub keygen_apps: Vec<String>,
    /// Largest plaintext a compressed JWE may inflate to, in bytes (default 4 MiB).
    #[serde(default = "default_jwe_inflated")]
    pub jwe_max_inflated_bytes: usize,
    /// Most first keys of new (application, reference) pairs per minute on this replica;
    /// absent = no limit, as in MOSIP.
    #[serde(default)]
    pub new_keys_per_minute: Option<u32>,
    /// Per application, a regular expression every new reference must match as a whole,
    /// e.g. `REGISTRATION = "[0-9]+_[0-9]+"`; applications not listed take any reference.
    #[serde(default)]
    pub reference_patterns: HashMap<String, String>,
}

fn default_jwe_inflated() -> usize {
    KeyManagerConfig::default().jwe_max_inflated_len
}

impl KeysConfig {
    pub(crate) fn new_pairs(&self) -> Result<NewPairLimits, ServiceError> {
        let mut reference_patterns = Vec::new();
        for (app, pattern) in &self.reference_patterns {
            let app = AppId::new(app).map_err(|e| config_error(format!("keys.reference_patterns: {e}")))?;
            let anchored = regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| config_error(format!("keys.reference_patterns.{app}: {e}")))?;
            reference_patterns.push((app, anchored));
        }
        Ok(NewPairLimits { per_minute: self.new_keys_per_minute, reference_patterns })
    }
}

/// Certificate subject defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectConfig {
    /// CN.
    pub common_name: String,
    /// OU.
    pub organizational_unit: String,
    /// O.
    pub organization: String,
    /// L.
    pub location: String,
    /// ST.
    pub state: String,
    /// C.
    pub country: String,
}

fn default_subject() -> SubjectConfig {
    let d = KeyManagerConfig::default().default_subject;
    SubjectConfig {
        common_name: d.common_name,
        organizational_unit: d.organizational_unit,
        organization: d.organization,
        location: d.locality,
        state: d.state,
        country: d.country,
    }
}

fn default_cache() -> usize {
    KeyManagerConfig::default().base_key_cache_size
}

fn default_cache_ttl() -> u64 {
    KeyManagerConfig::default().base_key_cache_ttl.as_secs()
}

fn yes() -> bool {
    true
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            subject: default_subject(),
            base_key_cache_size: default_cache(),
            base_key_cache_ttl_secs: default_cache_ttl(),
            keygen_on_start: true,
            keygen_apps: Vec::new(),
            jwe_max_inflated_bytes: default_jwe_inflated(),
            new_keys_per_minute: None,
            reference_patterns: HashMap::new(),
        }
    }
}

impl ServiceConfig {
    /// Reads `path` (TOML), or the defaults when `None`, then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ServiceError> {
        let mut config: ServiceConfig = match path {
            None => ServiceConfig::default(),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| config_error(format!("{}: {e}", p.display())))?;
                toml::from_str(&text).map_err(|e| config_error(format!("{}: {e}", p.display())))?
            }
        };
        config.apply_env(|k| std::env::var(k).ok());
        Ok(config)
    }

    /// Applies `KEYMGR_*` overrides read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(v) = var("KEYMGR_LISTEN") {
            self.listen = Some(v);
        }
        if let Some(v) = var("KEYMGR_DATA_DIR") {
            self.data_dir = Some(v.into());
        }
        if let Some(v) = var("KEYMGR_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = var("KEYMGR_TOKENID_UIN_SALT") {
            self.tokenid.uin_salt = Some(v);
        }
        if let Some(v) = var("KEYMGR_TOKENID_PARTNER_CODE_SALT") {
            self.tokenid.partner_code_salt = Some(v);
        }
        if let (Some(module), Some(label)) = (var("KEYMGR_PKCS11_MODULE"), var("KEYMGR_PKCS11_TOKEN_LABEL")) {
            let sessions = match &self.keystore {
                KeystoreConfig::Pkcs11 { sessions, .. } => *sessions,
                KeystoreConfig::File { .. } => default_sessions(),
            };
            self.keystore = KeystoreConfig::Pkcs11 { module: module.into(), token_label: label, sessions };
        }
    }

    /// The listen address.
    pub fn listen(&self) -> &str {
        self.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The database URL: the configured one, else SQLite's `keymgr.db` in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir().join("keymgr.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_environment() {
        let mut c: ServiceConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            [database]
            url = "postgres://root@127.0.0.1/test"
            [keystore]
            type = "file"
            path = "/tmp/x.kmks"
            [[auth.tokens]]
            sha256 = "00"
            user = "regproc"
            roles = ["CRYPTO_USER"]
            "#,
        )
        .unwrap();
        assert_eq!(c.listen(), "0.0.0.0:9000");
        assert_eq!(c.database.pool_size, 16);
        c.apply_env(|k| match k {
            "KEYMGR_DATABASE_URL" => Some("sqlite://other.db".into()),
            "KEYMGR_PKCS11_MODULE" => Some("/usr/lib/softhsm/libsofthsm2.so".into()),
            "KEYMGR_PKCS11_TOKEN_LABEL" => Some("keymgr".into()),
            _ => None,
        });
        assert_eq!(c.database.url.as_deref(), Some("sqlite://other.db"));
        assert!(
            matches!(c.keystore, KeystoreConfig::Pkcs11 { ref token_label, .. } if token_label == "keymgr")
        );
        assert!(toml::from_str::<ServiceConfig>("lisen = 1").is_err(), "unknown keys are refused");
    }

    fn oidc(extra: &str) -> Result<(OidcSettings, JwksSource), String> {
        let audience = if extra.contains("audience") { "" } else { "audience = \"keymgr\"" };
        let text = format!("[auth.oidc]\nissuer = \"https://iam/realms/mosip\"\n{audience}\n{extra}");
        let c: ServiceConfig = toml::from_str(&text).map_err(|e| format!("parse: {e}"))?;
        c.auth.oidc.expect("section").checked().map_err(|e| e.to_string())
    }

    #[test]
    fn partners_section() {
        let defaults = ServiceConfig::default().partners.settings().unwrap();
        assert_eq!(defaults.allowed_domains, ["AUTH", "DEVICE", "FTM", "TRUST_CA"]);
        let c: ServiceConfig =
            toml::from_str("[partners]\nallowed_domains = [\"auth\", \"Device\"]\nstore_check_secs = 0")
                .unwrap();
        let s = c.partners.settings().unwrap();
        assert_eq!(s.allowed_domains, ["AUTH", "DEVICE"]);
        assert!(s.store_check_interval.is_zero());
        for bad in [
            "allowed_domains = []",
            "allowed_domains = [\"a b\"]",
            "partner_validity_years = 0",
            "sign_application = \"\"",
        ] {
            let c: ServiceConfig = toml::from_str(&format!("[partners]\n{bad}")).unwrap();
            assert!(c.partners.settings().is_err(), "{bad}");
        }
    }

    #[test]
    fn signing_section() {
        let defaults = ServiceConfig::default().signing.settings().unwrap();
        assert!(defaults.include_key_id && defaults.jwt_validate_json && defaults.kid_prepend.is_empty());
        assert_eq!(defaults.legacy_algorithm, JwsAlgorithm::Rs256);
        let c: ServiceConfig = toml::from_str(
            "[signing]\ninclude_key_id = false\nkid_prepend = \"PAYLOAD_ISSUER\"\nlegacy_sign_algorithm = \"PS256\"",
        )
        .unwrap();
        let s = c.signing.settings().unwrap();
        assert!(!s.include_key_id);
        assert_eq!((s.kid_prepend.as_str(), s.legacy_algorithm), ("PAYLOAD_ISSUER", JwsAlgorithm::Ps256));
        for bad in ["legacy_sign_algorithm = \"ES256\"", "max_token_bytes = 10", "kid_prepend = \"a\\nb\""] {
            let c: ServiceConfig = toml::from_str(&format!("[signing]\n{bad}")).unwrap();
            assert!(c.signing.settings().is_err(), "{bad}");
        }
        assert!(toml::from_str::<ServiceConfig>("[signing]\nkid = \"x\"").is_err(), "unknown keys refused");
    }

    #[test]
    fn oidc_section() {
        let (settings, source) =
            oidc("jwks_url = \"https://iam/realms/mosip/protocol/openid-connect/certs\"").unwrap();
        assert_eq!(settings, OidcSettings::new("https://iam/realms/mosip", vec!["keymgr".into()]));
        assert_eq!(
            source,
            JwksSource::Url {
                url: "https://iam/realms/mosip/protocol/openid-connect/certs".into(),
                ca_file: None,
                times: RefreshTimes::default(),
                timeout: oidc::DEFAULT_FETCH_TIMEOUT,
                allow_insecure_http: false,
            }
        );
        let (settings, source) = oidc(
            r#"jwks_file = "/etc/keymgr/jwks.json"
               audience = ["a", "b"]
               accept_azp = true
               token_type = "Bearer"
               leeway_secs = 5
               user_claim = "sub"
               roles_claim = ["resource_access", "mosip.regproc", "roles"]
               role_map = { kc-admin = ["KEY_ADMIN"] }"#,
        )
        .unwrap();
        assert_eq!(source, JwksSource::File("/etc/keymgr/jwks.json".into()));
        assert_eq!(settings.audiences, ["a", "b"]);
        assert!(settings.accept_azp);
        assert_eq!(settings.leeway, Duration::from_secs(5));
        assert_eq!(settings.user_claim, ["sub"]);
        assert_eq!(settings.roles_claim, ["resource_access", "mosip.regproc", "roles"]);
        assert_eq!(settings.role_map["kc-admin"], ["KEY_ADMIN"]);
        let dotted = oidc("jwks_file = \"j\"\nroles_claim = \"resource_access.keymgr.roles\"").unwrap().0;
        assert_eq!(dotted.roles_claim, ["resource_access", "keymgr", "roles"]);

        for (extra, expected) in [
            ("", "jwks_url"),
            ("jwks_file = \"j\"\njwks_url = \"https://iam/certs\"", "not both"),
            ("jwks_url = \"https://iam/certs\"\nrefresh_secs = 10\nmin_refresh_secs = 60", "refresh_secs"),
            ("jwks_url = \"https://iam/certs\"\nmin_refresh_secs = 0", "min_refresh_secs"),
            ("jwks_url = \"http://iam/certs\"\nca_file = \"ca.pem\"", "ca_file"),
            ("jwks_file = \"j\"\nca_file = \"ca.pem\"", "ca_file"),
            ("jwks_file = \"j\"\nleeway_secs = 3600", "leeway_secs"),
            ("jwks_file = \"j\"\nroles_claim = \"realm_access..roles\"", "roles_claim"),
            ("jwks_file = \"j\"\nuser_claim = \"\"", "user_claim"),
            ("jwks_file = \"j\"\naudience = []", "audience"),
            ("jwks_file = \"j\"\naudience = [\"a\", \"\"]", "audience"),
            ("jwks_file = \"j\"\njwks_uri = \"x\"", "unknown field"),
        ] {
            let err = oidc(extra).expect_err(extra);
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
    }

    #[test]
    fn token_id_salts_from_file_or_environment_and_a_checked_length() {
        let mut c: ServiceConfig =
            toml::from_str("[tokenid]\nuin_salt = \"u\"\nlength = 20\n").expect("toml");
        let settings = c.tokenid.settings().expect("valid");
        assert_eq!(
            (settings.uin_salt.as_deref(), settings.partner_code_salt.as_deref(), settings.length),
            (Some("u"), None, 20)
        );
        c.apply_env(|k| (k == "KEYMGR_TOKENID_PARTNER_CODE_SALT").then(|| "p".to_owned()));
        assert_eq!(c.tokenid.settings().expect("valid").partner_code_salt.as_deref(), Some("p"));
        assert!(!format!("{:?}", c.tokenid).contains("\"u\""), "salts stay out of Debug");
        assert_eq!(ServiceConfig::default().tokenid.settings().expect("defaults").length, 36);
        for bad in [0, 153] {
            c.tokenid.length = Some(bad);
            assert!(c.tokenid.settings().is_err(), "length {bad}");
        }
    }

    #[test]
    fn licence_key_settings() {
        let licenses = ServiceConfig::default().licensekey.settings().expect("defaults");
        assert_eq!((licenses.key_length, licenses.permissions.len()), (16, 13));
        let c: ServiceConfig =
            toml::from_str("[licensekey]\nlength = 24\npermissions = [\"A\", \"B b\"]\n").expect("toml");
        let licenses = c.licensekey.settings().expect("valid");
        assert_eq!((licenses.key_length, licenses.permissions), (24, vec!["A".to_owned(), "B b".to_owned()]));
        for bad in [
            "[licensekey]\nlength = 4\n",
            "[licensekey]\npermissions = [\"a,b\"]\n",
            "[licensekey]\npermissions = [\" \"]\n",
        ] {
            let c: ServiceConfig = toml::from_str(bad).expect("toml");
            assert!(c.licensekey.settings().is_err(), "{bad}");
        }
    }

    #[test]
    fn console_settings() {
        let defaults = ServiceConfig::default().console.settings().expect("defaults").expect("on by default");
        assert_eq!(defaults.session_ttl, Duration::from_secs(1800));
        assert!(defaults.secure_cookie);
        let c: ServiceConfig = toml::from_str(
            "[console]
session_minutes = 5
secure_cookie = false
max_sessions = 3
",
        )
        .expect("toml");
        let s = c.console.settings().expect("valid").expect("on");
        assert_eq!((s.session_ttl, s.secure_cookie, s.max_sessions), (Duration::from_secs(300), false, 3));
        let off: ServiceConfig = toml::from_str(
            "[console]
enabled = false
",
        )
        .expect("toml");
        assert!(off.console.settings().expect("valid").is_none());
        for bad in [
            "[console]
session_minutes = 0
",
            "[console]
session_minutes = 1441
",
        ] {
            let c: ServiceConfig = toml::from_str(bad).expect("toml");
            assert!(c.console.settings().is_err(), "{bad}");
        }
        assert!(
            toml::from_str::<ServiceConfig>(
                "[console]
unknown = 1
"
            )
            .is_err()
        );
    }
}
