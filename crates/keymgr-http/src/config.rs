//! The service's configuration (a TOML file, then `KEYMGR_*` environment overrides) and its
//! start: opening the database and keystore, first-start initialisation of an empty data
//! directory, and the key generator. See `docs/CONFIG.md`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keymgr_core::{DecryptionScope, KeyManager, KeyManagerConfig, KeygenReport, NewPairLimits, SystemClock};
use keymgr_crypto::fill_random;
use keymgr_db::{Backend, Database};
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, KeyRef, KeyTier, RefId, WellKnown};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::auth::{ROLE_CRYPTO_USER, ROLE_KEY_ADMIN, TokenConfig};
use crate::metered::MeteredKeystore;
use crate::metrics::Metrics;
use crate::server::ServerLimits;
use crate::{ApiError, AppState, Authenticator, Limits, Principal};

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
/// The largest PIN or admin-token file read, in bytes.
const MAX_SECRET_FILE_LEN: usize = 4096;

/// `O_NOFOLLOW` (the open fails when the last component of the path is a symbolic link), as
/// Linux's generic ABI defines it for these architectures. std has no constant for it and this
/// crate does not depend on `libc`.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
))]
const O_NOFOLLOW: i32 = 0o400_000;
/// Elsewhere no extra flag: `O_CREAT|O_EXCL` (`create_new`) alone already refuses to open a
/// symbolic link at the path, whatever it points to.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
)))]
const O_NOFOLLOW: i32 = 0;

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
}

/// `[decrypt]`: which keys may open envelopes (`/decrypt`) and JWEs (`/jwtDecrypt`) besides
/// the base keys of the requested pair. See `docs/SECURITY.md` before changing either.
#[derive(Debug, Clone, Default, Deserialize)]
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
}

impl DecryptConfig {
    fn scope(&self) -> Result<DecryptionScope, ApiError> {
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
        Ok(DecryptionScope { same_application: self.same_application, keystore_keys })
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
    pub fn limits(&self) -> Result<Limits, ApiError> {
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
    pub fn server_limits(&self) -> Result<ServerLimits, ApiError> {
        if self.idle_timeout_secs <= self.request_timeout_secs {
            return Err(config_error(format!(
                "http.idle_timeout_secs ({}) must exceed http.request_timeout_secs ({}): a request being worked on moves no bytes",
                self.idle_timeout_secs, self.request_timeout_secs
            )));
        }
        if self.header_read_timeout_secs == 0 || self.max_connections == 0 {
            return Err(config_error("http.header_read_timeout_secs and max_connections must be above 0"));
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
    fn new_pairs(&self) -> Result<NewPairLimits, ApiError> {
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

fn config_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::Config(e.to_string())
}

impl ServiceConfig {
    /// Reads `path` (TOML), or the defaults when `None`, then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ApiError> {
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
}

/// Writes `contents` to `path` atomically with mode 0600: a temporary file in the same
/// directory with an unpredictable name, created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, so
/// a file or symbolic link planted there is never written through), fsync, rename over `path`
/// (which replaces a symbolic link at `path` rather than following it), directory fsync.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), ApiError> {
    let fail = |e: std::io::Error| config_error(format!("{}: {e}", path.display()));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name =
        path.file_name().ok_or_else(|| config_error(format!("{} is not a file name", path.display())))?;
    let mut suffix = [0u8; 16];
    fill_random(&mut suffix).map_err(config_error)?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex(&suffix)));
    let tmp = dir.join(tmp_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(O_NOFOLLOW)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    // From here the temporary file is ours: remove it if anything fails.
    let written =
        file.write_all(contents).and_then(|()| file.sync_all()).and_then(|()| std::fs::rename(&tmp, path));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Reads a small secret file (the keystore PIN, the admin token) as trimmed text. The file is
/// opened without following a symbolic link and its mode is checked on the open descriptor
/// (no window between the check and the read); it must not be accessible by group or others.
/// The bytes go straight from the file into one zeroizing buffer of fixed size: a growing
/// `Vec` or `String` would leave copies of the secret in freed memory.
fn read_secret_text(path: &Path, what: &str) -> Result<Zeroizing<String>, ApiError> {
    let fail = |e: std::io::Error| config_error(format!("{what} {}: {e}", path.display()));
    let mut file =
        std::fs::OpenOptions::new().read(true).custom_flags(O_NOFOLLOW).open(path).map_err(fail)?;
    let mode = file.metadata().map_err(fail)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(config_error(format!(
            "{what} {path} has mode {mode:04o}: it must not be accessible by group or others; \
             fix it with: chmod 600 {path}",
            path = path.display()
        )));
    }
    let mut buf = Zeroizing::new(vec![0u8; MAX_SECRET_FILE_LEN + 1]);
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    if len > MAX_SECRET_FILE_LEN {
        return Err(config_error(format!(
            "{what} {} is larger than {MAX_SECRET_FILE_LEN} bytes",
            path.display()
        )));
    }
    let text = buf
        .get(..len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or_else(|| config_error(format!("{what} {} is not UTF-8 text", path.display())))?;
    Ok(Zeroizing::new(text.trim().to_owned()))
}

/// Why a PostgreSQL URL does not verify its server, or `None` when it does or need not: the
/// server is on this host (loopback or a Unix socket), or the URL asks for `verify-full`.
/// libpq's default (`prefer`) checks nothing and falls back to clear text.
fn unverified_postgres(url: &str) -> Option<String> {
    let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://"))?;
    if url.contains("sslmode=verify-full") {
        return None;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| host.split(':').next().unwrap_or_default());
    let local = host.is_empty()
        || host == "localhost"
        || host.starts_with("127.")
        || host == "::1"
        || url.contains("host=/");
    (!local)
        .then(|| format!("the connection to PostgreSQL at {host} does not verify the server's certificate"))
}

/// Refuses `path` when its group or others have any access to it; the error names the path
/// and the `chmod` that fixes it.
fn check_private(path: &Path, what: &str, fix_mode: &str) -> Result<(), ApiError> {
    let meta =
        std::fs::metadata(path).map_err(|e| config_error(format!("{what} {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(config_error(format!(
            "{what} {path} has mode {mode:04o}: it must not be accessible by group or others; \
             fix it with: chmod {fix_mode} {path}",
            path = path.display()
        )));
    }
    Ok(())
}

/// Refuses a PIN that a new file keystore must not be created under: empty (or only
/// whitespace), or shorter than [`MIN_FILE_KEYSTORE_PIN_CHARS`]. `source` says where the PIN
/// came from; the PIN itself is never part of the error.
fn check_new_file_keystore_pin(pin: &str, source: &str) -> Result<(), ApiError> {
    if pin.trim().is_empty() {
        return Err(config_error(format!(
            "the keystore PIN from {source} is empty: a new file keystore needs a PIN of at least \
             {MIN_FILE_KEYSTORE_PIN_CHARS} characters"
        )));
    }
    if pin.chars().count() < MIN_FILE_KEYSTORE_PIN_CHARS {
        return Err(config_error(format!(
            "the keystore PIN from {source} is too short: a new file keystore needs a PIN of at \
             least {MIN_FILE_KEYSTORE_PIN_CHARS} characters"
        )));
    }
    Ok(())
}

/// The file of a SQLite URL, or `None` for PostgreSQL, an in-memory database or a SQLite URI
/// filename (`file:...`), whose path this does not interpret.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    match Backend::of_url(url) {
        (Backend::Sqlite, target)
            if !target.is_empty() && target != ":memory:" && !target.starts_with("file:") =>
        {
            Some(PathBuf::from(target))
        }
        _ => None,
    }
}

/// The database file and the `-wal` and `-shm` files SQLite keeps beside it.
fn sqlite_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Refuses a SQLite database whose file, `-wal` or `-shm` file (those that exist) is
/// accessible by group or others.
fn check_sqlite_files(db: &Path) -> Result<(), ApiError> {
    for file in sqlite_files(db) {
        if file.exists() {
            check_private(&file, "database file", "600")?;
        }
    }
    Ok(())
}

/// Creates an empty SQLite database file with mode 0600 before SQLite opens it (SQLite would
/// create it 0644 under the usual umask); its `-wal` and `-shm` files take the same mode.
fn create_sqlite_file(db: &Path) -> Result<(), ApiError> {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(O_NOFOLLOW)
        .mode(0o600)
        .open(db);
    match created {
        Ok(file) => file.sync_all().map_err(|e| config_error(format!("database file {}: {e}", db.display()))),
        // Made meanwhile by another process: check it like any existing file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_sqlite_files(db),
        Err(e) => Err(config_error(format!("database file {}: {e}", db.display()))),
    }
}

fn random_secret() -> Result<Zeroizing<String>, ApiError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut_slice()).map_err(config_error)?;
    Ok(Zeroizing::new(keymgr_envelope::base64::encode(bytes.as_slice())))
}

/// A started service: the router state and what the start did, for the binary to report.
pub struct Started {
    /// The router's state.
    pub state: Arc<AppState>,
    /// What the key generator found and made (empty when it did not run).
    pub keygen: KeygenReport,
    /// Whether this start initialised an empty data directory.
    pub first_start: bool,
    /// Where the admin token is, if there is one.
    pub admin_token_path: Option<PathBuf>,
    /// The database engine in use, for the start message.
    pub database: String,
    /// The keystore in use, for the start message.
    pub keystore: String,
    /// The connection limits for [`crate::server::serve`].
    pub server_limits: ServerLimits,
}

/// Opens the keystore and database of `config`, initialises an empty data directory, runs
/// the key generator and builds the router state.
pub fn start(config: &ServiceConfig) -> Result<Started, ApiError> {
    // Settings that can be wrong are checked before anything is made.
    let limits = config.http.limits()?;
    let server_limits = config.http.server_limits()?;
    let decryption = config.decrypt.scope()?;
    let new_pairs = config.keys.new_pairs()?;
    let data_dir = config.data_dir();
    // Only the service's user may enter: it holds the PIN file, the token and the keys.
    if data_dir.exists() {
        check_private(&data_dir, "data directory", "700")?;
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .map_err(|e| config_error(format!("{}: {e}", data_dir.display())))?;
    }
    let url = match &config.database.url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", data_dir.join("keymgr.db").display()),
    };
    // Before anything is opened or created: a readable database leaks every wrapped key.
    let db_file = sqlite_file(&url);
    if let Some(db) = &db_file {
        check_sqlite_files(db)?;
    }
    let env_pin = std::env::var("KEYMGR_KEYSTORE_PIN").ok().map(Zeroizing::new);

    let (keystore, keystore_name): (Arc<dyn Keystore>, String) = match &config.keystore {
        KeystoreConfig::File { path, pin_file } => {
            let path = path.clone().unwrap_or_else(|| data_dir.join("keystore.kmks"));
            let creating = !path.exists();
            let (pin, source) = match env_pin {
                Some(p) => (p, "KEYMGR_KEYSTORE_PIN".to_owned()),
                None => {
                    let pin_path = pin_file.clone().unwrap_or_else(|| data_dir.join(PIN_FILE));
                    if !pin_path.exists() && creating {
                        write_secret_file(&pin_path, random_secret()?.as_bytes())?;
                    }
                    let pin = read_secret_text(&pin_path, "keystore PIN file")?;
                    (pin, format!("the PIN file {}", pin_path.display()))
                }
            };
            if creating {
                check_new_file_keystore_pin(&pin, &source)?;
            } else if pin.chars().count() < MIN_FILE_KEYSTORE_PIN_CHARS {
                tracing::warn!(
                    "the PIN of the file keystore {} (from {source}) is shorter than \
                     {MIN_FILE_KEYSTORE_PIN_CHARS} characters; a new keystore would refuse it",
                    path.display()
                );
            }
            let ks = FileKeystore::open_or_create(&path, pin.as_bytes(), KdfParams::default())
                .map_err(|e| config_error(format!("keystore {}: {e}", path.display())))?;
            (Arc::new(ks), format!("file keystore {}", path.display()))
        }
        KeystoreConfig::Pkcs11 { module, token_label, sessions } => {
            let pin = env_pin.ok_or_else(|| config_error("a PKCS#11 keystore needs KEYMGR_KEYSTORE_PIN"))?;
            if pin.is_empty() {
                return Err(config_error(
                    "KEYMGR_KEYSTORE_PIN is empty: a PKCS#11 keystore needs the token's user PIN",
                ));
            }
            let ks = Pkcs11Keystore::new(Pkcs11Config {
                module: module.clone(),
                token_label: token_label.clone(),
                pin,
                pool_size: *sessions,
            })
            .map_err(|e| config_error(format!("PKCS#11 token {token_label:?}: {e}")))?;
            (Arc::new(ks), format!("PKCS#11 token {token_label:?} ({})", module.display()))
        }
    };

    let metrics = Arc::new(Metrics::default());
    let keystore: Arc<dyn Keystore> = Arc::new(MeteredKeystore::new(keystore, Arc::clone(&metrics)));

    if let Some(db) = &db_file
        && !db.exists()
    {
        create_sqlite_file(db)?;
    }
    if let Some(why) = unverified_postgres(&url) {
        tracing::warn!(
            "database: {why}; add sslmode=verify-full&sslrootcert=CA.pem to the URL (docs/CONFIG.md)"
        );
    }
    let db = Database::connect(&url, config.database.pool_size)
        .map_err(|e| config_error(format!("database: {e}")))?;
    let database = format!("{:?}", db.backend());

    let keys = &config.keys;
    let km_config = KeyManagerConfig {
        default_subject: keymgr_crypto::issue::DistinguishedNameSpec {
            common_name: keys.subject.common_name.clone(),
            organizational_unit: keys.subject.organizational_unit.clone(),
            organization: keys.subject.organization.clone(),
            locality: keys.subject.location.clone(),
            state: keys.subject.state.clone(),
            country: keys.subject.country.clone(),
        },
        base_key_cache_size: keys.base_key_cache_size,
        base_key_cache_ttl: Duration::from_secs(keys.base_key_cache_ttl_secs),
        decryption,
        argon2_concurrency: limits.argon2_running,
        jwe_max_inflated_len: keys.jwe_max_inflated_bytes,
        new_pairs,
        ..KeyManagerConfig::default()
    };
    let root = KeyRef::master(AppId::new(WellKnown::ROOT_APP).map_err(config_error)?);
    let first_start = db.aliases_for(&root).map_err(config_error)?.is_empty();
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), km_config));

    let keygen = if keys.keygen_on_start || first_start {
        let apps =
            keys.keygen_apps.iter().map(AppId::new).collect::<Result<Vec<_>, _>>().map_err(config_error)?;
        km.run_keygen(&apps).map_err(|e| config_error(format!("key generator: {e}")))?
    } else {
        KeygenReport::default()
    };

    let mut auth = Authenticator::new(&config.auth.tokens, &config.auth.roles).map_err(config_error)?;
    let token_path = data_dir.join(ADMIN_TOKEN_FILE);
    if first_start && !token_path.exists() {
        write_secret_file(&token_path, random_secret()?.as_bytes())?;
    }
    let admin_token_path = if token_path.exists() {
        let token = read_secret_text(&token_path, "admin token file")?;
        auth.add_token(
            &token,
            Principal { user: "admin".into(), roles: vec![ROLE_KEY_ADMIN.into(), ROLE_CRYPTO_USER.into()] },
        );
        Some(token_path)
    } else {
        None
    };
    if config.http.development_without_auth {
        auth = auth.development_without_auth();
    }
    Ok(Started {
        state: Arc::new(AppState::new(km, auth, limits, metrics)),
        keygen,
        first_start,
        admin_token_path,
        database,
        keystore: keystore_name,
        server_limits,
    })
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

    #[test]
    fn pin_from_the_environment_is_checked_like_the_pin_file() {
        let env = "KEYMGR_KEYSTORE_PIN";
        for (pin, why) in [("", "is empty"), ("            ", "is empty"), ("elevenchars", "too short")] {
            let message = check_new_file_keystore_pin(pin, env).unwrap_err().to_string();
            assert!(message.contains(why) && message.contains(env), "{pin:?}: {message}");
            assert!(message.contains("at least 12 characters"), "{message}");
        }
        assert!(check_new_file_keystore_pin("twelve-chars", env).is_ok());
    }

    #[test]
    fn sqlite_files_are_found_in_every_url_form() {
        assert_eq!(sqlite_file("sqlite://d/keymgr.db"), Some(PathBuf::from("d/keymgr.db")));
        assert_eq!(sqlite_file("sqlite:/abs/k.db"), Some(PathBuf::from("/abs/k.db")));
        assert_eq!(sqlite_file("plain.db"), Some(PathBuf::from("plain.db")));
        assert!(unverified_postgres("postgres://u@db.internal/mosip").is_some());
        assert!(unverified_postgres("postgres://u:p@db.internal:5432/mosip?sslmode=require").is_some());
        assert_eq!(
            unverified_postgres("postgres://u@db.internal/m?sslmode=verify-full&sslrootcert=/ca.pem"),
            None
        );
        assert_eq!(unverified_postgres("postgres://u@127.0.0.1:5432/test"), None);
        assert_eq!(unverified_postgres("postgres://u@[::1]:5432/test"), None);
        assert_eq!(unverified_postgres("sqlite://keymgr.db"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
        assert_eq!(sqlite_file("postgresql://u@h/db"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        let [db, wal, shm] = sqlite_files(Path::new("d/k.db"));
        assert_eq!((db, wal, shm), ("d/k.db".into(), "d/k.db-wal".into(), "d/k.db-shm".into()));
    }
}
