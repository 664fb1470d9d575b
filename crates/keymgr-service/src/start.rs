//! The service's start: opening the database and keystore, first-start initialisation of an
//! empty data directory (PIN file, admin token), the key generator, and the router's state.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keymgr_core::{KeyManager, KeyManagerConfig, KeygenReport, ObservedKeystore, SystemClock};
use keymgr_db::Database;
use keymgr_hsm::{FileKeystore, KdfParams, Keystore, Pkcs11Config, Pkcs11Keystore};
use keymgr_http::auth::{ROLE_CRYPTO_USER, ROLE_KEY_ADMIN};
use keymgr_http::metrics::Metrics;
use keymgr_http::server::ServerLimits;
use keymgr_http::{AppState, Authenticator, Principal};
use keymgr_model::{AppId, KeyRef, WellKnown};
use zeroize::Zeroizing;

use crate::config::{KeystoreConfig, ServiceConfig};
use crate::files::{
    check_new_file_keystore_pin, check_private, check_sqlite_files, create_sqlite_file, random_secret,
    read_secret_text, sqlite_file, unverified_postgres, write_secret_file,
};
use crate::oidc::OidcBearer;
use crate::{ADMIN_TOKEN_FILE, MIN_FILE_KEYSTORE_PIN_CHARS, PIN_FILE, ServiceError, config_error};

/// A started service: the router state and what the start did, for the binary to report.
pub struct Started {
    /// The router's state.
    pub state: Arc<AppState>,
    /// What the key generator found and made (empty when it did not run).
    pub keygen: KeygenReport,
    /// What the key generator found and made of the ZK random keys (when it ran).
    pub zk: Option<keymgr_core::ZkPrepared>,
    /// Whether this start initialised an empty data directory.
    pub first_start: bool,
    /// Where the admin token is, if there is one.
    pub admin_token_path: Option<PathBuf>,
    /// The database engine in use, for the start message.
    pub database: String,
    /// The keystore in use, for the start message.
    pub keystore: String,
    /// The connection limits for [`keymgr_http::server::serve`].
    pub server_limits: ServerLimits,
    /// The operator console's settings, `None` when `[console] enabled = false`.
    pub console: Option<keymgr_console::ConsoleSettings>,
}

/// The data directory of `config`, made 0700 if it is not there; an existing one must be
/// private to the service's user (it holds the PIN file, the token and the keys).
pub fn prepare_data_dir(config: &ServiceConfig) -> Result<PathBuf, ServiceError> {
    let data_dir = config.data_dir();
    if data_dir.exists() {
        check_private(&data_dir, "data directory", "700")?;
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .map_err(|e| config_error(format!("{}: {e}", data_dir.display())))?;
    }
    Ok(data_dir)
}

/// Opens the database of `config` with a pool of `pool_size` connections, with the same checks
/// wherever it is opened from: SQLite files must be private (and are created 0600 when
/// `create`, else a missing one is an error that says how to make it); a PostgreSQL URL that
/// does not verify its server is warned about.
pub fn open_database(config: &ServiceConfig, pool_size: u32, create: bool) -> Result<Database, ServiceError> {
    let url = config.database_url();
    if let Some(db) = sqlite_file(&url) {
        check_sqlite_files(&db)?;
        if !db.exists() {
            if !create {
                return Err(config_error(format!(
                    "no database at {}: start the service once, or give --config / KEYMGR_DATABASE_URL",
                    db.display()
                )));
            }
            create_sqlite_file(&db)?;
        }
    }
    if let Some(why) = unverified_postgres(&url) {
        tracing::warn!(
            "database: {why}; add sslmode=verify-full&sslrootcert=CA.pem to the URL (docs/CONFIG.md)"
        );
    }
    Database::connect(&url, pool_size).map_err(|e| config_error(format!("database: {e}")))
}

/// Opens (or, on first start, creates) the file keystore at `path` (default
/// `DATA_DIR/keystore.kmks`) with the PIN of `KEYMGR_KEYSTORE_PIN` (`env_pin`), else of the PIN
/// file (default `DATA_DIR/keystore.pin`, made with a new keystore).
fn open_file_keystore(
    path: Option<&Path>,
    pin_file: Option<&Path>,
    data_dir: &Path,
    env_pin: Option<Zeroizing<String>>,
) -> Result<FileKeystore, ServiceError> {
    let path = path.map_or_else(|| data_dir.join("keystore.kmks"), Path::to_path_buf);
    let creating = !path.exists();
    let (pin, source) = match env_pin {
        Some(p) => (p, "KEYMGR_KEYSTORE_PIN".to_owned()),
        None => {
            let pin_path = pin_file.map_or_else(|| data_dir.join(PIN_FILE), Path::to_path_buf);
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
    FileKeystore::open_or_create(&path, pin.as_bytes(), KdfParams::default())
        .map_err(|e| config_error(format!("keystore {}: {e}", path.display())))
}

/// The existing file keystore of a configuration whose `[keystore]` is the file keystore (for
/// `keymgr keystore migrate`), with its PIN as the service reads it. A missing file is an
/// error: nothing is created.
pub fn open_existing_file_keystore(config: &ServiceConfig) -> Result<FileKeystore, ServiceError> {
    let KeystoreConfig::File { path, pin_file } = &config.keystore else {
        return Err(config_error("[keystore] is not the file keystore"));
    };
    let data_dir = config.data_dir();
    let file = path.clone().unwrap_or_else(|| data_dir.join("keystore.kmks"));
    if !file.exists() {
        return Err(config_error(format!("no file keystore at {}", file.display())));
    }
    let env_pin = std::env::var("KEYMGR_KEYSTORE_PIN").ok().map(Zeroizing::new);
    open_file_keystore(Some(&file), pin_file.as_deref(), &data_dir, env_pin)
}

/// Opens the keystore and database of `config`, initialises an empty data directory, runs
/// the key generator and builds the router state.
pub fn start(config: &ServiceConfig) -> Result<Started, ServiceError> {
    // Settings that can be wrong are checked before anything is made.
    let limits = config.http.limits()?;
    let server_limits = config.http.server_limits()?;
    let console = config.console.settings().map_err(config_error)?;
    let decryption = config.decrypt.scope()?;
    let new_pairs = config.keys.new_pairs()?;
    let signing = config.signing.settings()?;
    let partners = config.partners.settings()?;
    // The OIDC key set is read (or fetched) now: a wrong file or URL stops the start before
    // a keystore or database is made.
    let oidc = match config.auth.oidc.as_ref().map(|o| o.checked()).transpose()? {
        Some((settings, source)) => Some(crate::oidc::start_verifier(settings, source)?),
        None => None,
    };
    let data_dir = prepare_data_dir(config)?;
    let url = config.database_url();
    // Before anything is opened or created: a readable database leaks every wrapped key.
    if let Some(db) = sqlite_file(&url) {
        check_sqlite_files(&db)?;
    }
    let env_pin = std::env::var("KEYMGR_KEYSTORE_PIN").ok().map(Zeroizing::new);

    let (keystore, keystore_name): (Arc<dyn Keystore>, String) = match &config.keystore {
        KeystoreConfig::File { path, pin_file } => {
            let ks = open_file_keystore(path.as_deref(), pin_file.as_deref(), &data_dir, env_pin)?;
            let name = format!("file keystore {}", ks.path().display());
            (Arc::new(ks), name)
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
    let keystore: Arc<dyn Keystore> = Arc::new(ObservedKeystore::new(
        keystore,
        Arc::clone(&metrics) as Arc<dyn keymgr_core::KeystoreObserver>,
    ));

    let db = open_database(config, config.database.pool_size, true)?;
    let database = format!("{:?}", db.backend());

    let keys = &config.keys;
    let km_config = KeyManagerConfig {
        default_subject: keymgr_core::DistinguishedNameSpec {
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
        signing,
        partners,
        audit_checkpoint_interval: config.audit.interval(),
        lifecycle: config.lifecycle.settings(),
        zk: config.zk.settings(),
        token_ids: config.tokenid.settings().map_err(config_error)?,
        licenses: config.licensekey.settings().map_err(config_error)?,
        ..KeyManagerConfig::default()
    };
    let root = KeyRef::master(AppId::new(WellKnown::ROOT_APP).map_err(config_error)?);
    let first_start = db.aliases_for(&root).map_err(config_error)?.is_empty();
    let km = Arc::new(KeyManager::new(db, keystore, Arc::new(SystemClock), km_config));

    let keygen = if keys.keygen_on_start || first_start {
        let apps =
            keys.keygen_apps.iter().map(AppId::new).collect::<Result<Vec<_>, _>>().map_err(config_error)?;
        let report = km.run_keygen(&apps).map_err(|e| config_error(format!("key generator: {e}")))?;
        let zk = km
            .prepare_zk(config.zk.random_keys, &|_, _| {})
            .map_err(|e| config_error(format!("key generator, ZK random keys: {e}")))?;
        (report, Some(zk))
    } else {
        (KeygenReport::default(), None)
    };
    let (keygen, zk) = keygen;

    let mut auth = Authenticator::new(&config.auth.tokens, &config.auth.roles).map_err(config_error)?;
    if let Some(verifier) = oidc {
        auth = auth.with_verifier(Arc::new(OidcBearer(verifier)));
    }
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
        zk,
        first_start,
        admin_token_path,
        database,
        keystore: keystore_name,
        server_limits,
        console,
    })
}
