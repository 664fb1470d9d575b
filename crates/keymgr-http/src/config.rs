//! The service's configuration (a TOML file, then `KEYMGR_*` environment overrides) and its
//! start: opening the database and keystore, first-start initialisation of an empty data
//! directory, and the key generator. See `docs/CONFIG.md`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keymgr_core::{KeyManager, KeyManagerConfig, KeygenReport, SystemClock};
use keymgr_crypto::fill_random;
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_model::{AppId, KeyRef, WellKnown};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::auth::{ROLE_CRYPTO_USER, ROLE_KEY_ADMIN, TokenConfig};
use crate::metered::MeteredKeystore;
use crate::metrics::Metrics;
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

/// Writes `contents` to `path` atomically with mode 0600 (temporary file, fsync, rename,
/// directory fsync).
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), ApiError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let fail = |e: std::io::Error| config_error(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(contents).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(())
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
}

/// Opens the keystore and database of `config`, initialises an empty data directory, runs
/// the key generator and builds the router state.
pub fn start(config: &ServiceConfig) -> Result<Started, ApiError> {
    let data_dir = config.data_dir();
    if !data_dir.exists() {
        // Only the service's user may enter: it holds the PIN file, the token and the keys.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .map_err(|e| config_error(format!("{}: {e}", data_dir.display())))?;
    }
    let env_pin = std::env::var("KEYMGR_KEYSTORE_PIN").ok().map(Zeroizing::new);

    let (keystore, keystore_name): (Arc<dyn Keystore>, String) = match &config.keystore {
        KeystoreConfig::File { path, pin_file } => {
            let path = path.clone().unwrap_or_else(|| data_dir.join("keystore.kmks"));
            let pin = match env_pin {
                Some(p) => p,
                None => {
                    let pin_path = pin_file.clone().unwrap_or_else(|| data_dir.join(PIN_FILE));
                    if !pin_path.exists() && !path.exists() {
                        write_secret_file(&pin_path, random_secret()?.as_bytes())?;
                    }
                    let text = std::fs::read_to_string(&pin_path).map_err(|e| {
                        config_error(format!("keystore PIN file {}: {e}", pin_path.display()))
                    })?;
                    Zeroizing::new(text.trim().to_owned())
                }
            };
            let ks = FileKeystore::open_or_create(&path, pin.as_bytes(), KdfParams::default())
                .map_err(|e| config_error(format!("keystore {}: {e}", path.display())))?;
            (Arc::new(ks), format!("file keystore {}", path.display()))
        }
        KeystoreConfig::Pkcs11 { module, token_label, sessions } => {
            let pin = env_pin.ok_or_else(|| config_error("a PKCS#11 keystore needs KEYMGR_KEYSTORE_PIN"))?;
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

    let url = match &config.database.url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", data_dir.join("keymgr.db").display()),
    };
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
        let meta = std::fs::metadata(&token_path).map_err(config_error)?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(config_error(format!(
                "{} must not be readable by group or others (chmod 600)",
                token_path.display()
            )));
        }
        let token = Zeroizing::new(std::fs::read_to_string(&token_path).map_err(config_error)?);
        auth.add_token(
            token.trim(),
            Principal { user: "admin".into(), roles: vec![ROLE_KEY_ADMIN.into(), ROLE_CRYPTO_USER.into()] },
        );
        Some(token_path)
    } else {
        None
    };
    if config.http.development_without_auth {
        auth = auth.development_without_auth();
    }
    let limits = Limits {
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: Duration::from_secs(config.http.request_timeout_secs),
    };
    Ok(Started {
        state: Arc::new(AppState::new(km, auth, limits, metrics)),
        keygen,
        first_start,
        admin_token_path,
        database,
        keystore: keystore_name,
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
}
