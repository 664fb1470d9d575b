//! The service's files on disk: secret files (the keystore PIN, the admin token) written
//! atomically and privately and read back without following links, the mode checks of the
//! data directory and the SQLite files, PIN rules, and the PostgreSQL TLS check.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keymgr_crypto::fill_random;
use keymgr_db::Backend;
use zeroize::Zeroizing;

use crate::{MIN_FILE_KEYSTORE_PIN_CHARS, ServiceError, config_error};

/// The largest PIN or admin-token file read, in bytes.
const MAX_SECRET_FILE_LEN: usize = 4096;

/// Writes `contents` to `path` atomically with mode 0600: a temporary file in the same
/// directory with an unpredictable name, created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`, so
/// a file or symbolic link planted there is never written through), fsync, rename over `path`
/// (which replaces a symbolic link at `path` rather than following it), directory fsync.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), ServiceError> {
    keymgr_hsm::write_private_file(path, &[contents])
        .map_err(|e| config_error(format!("{}: {e}", path.display())))
}

/// Reads a small secret file (the keystore PIN, the admin token) as trimmed text. The file is
/// opened without following a symbolic link and its mode is checked on the open descriptor
/// (no window between the check and the read); it must not be accessible by group or others.
/// The bytes go straight from the file into one zeroizing buffer of fixed size: a growing
/// `Vec` or `String` would leave copies of the secret in freed memory.
pub(crate) fn read_secret_text(path: &Path, what: &str) -> Result<Zeroizing<String>, ServiceError> {
    let fail = |e: std::io::Error| config_error(format!("{what} {}: {e}", path.display()));
    let mut file = keymgr_hsm::open_private_file(path).map_err(fail)?;
    let mode = file.metadata().map_err(fail)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(config_error(format!(
            "{what} {path} has mode {mode:04o}: it must not be accessible by group or others; \
             fix it with: chmod 600 {path}",
            path = path.display()
        )));
    }
    let mut buf = Zeroizing::new(vec![0u8; MAX_SECRET_FILE_LEN + 1]);
    let len = keymgr_hsm::read_into(&mut file, &mut buf).map_err(fail)?;
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
pub(crate) fn unverified_postgres(url: &str) -> Option<String> {
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
pub(crate) fn check_private(path: &Path, what: &str, fix_mode: &str) -> Result<(), ServiceError> {
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
pub(crate) fn check_new_file_keystore_pin(pin: &str, source: &str) -> Result<(), ServiceError> {
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
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
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
pub(crate) fn sqlite_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// Refuses a SQLite database whose file, `-wal` or `-shm` file (those that exist) is
/// accessible by group or others.
pub(crate) fn check_sqlite_files(db: &Path) -> Result<(), ServiceError> {
    for file in sqlite_files(db) {
        if file.exists() {
            check_private(&file, "database file", "600")?;
        }
    }
    Ok(())
}

/// Creates an empty SQLite database file with mode 0600 before SQLite opens it (SQLite would
/// create it 0644 under the usual umask); its `-wal` and `-shm` files take the same mode.
pub(crate) fn create_sqlite_file(db: &Path) -> Result<(), ServiceError> {
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(db);
    match created {
        Ok(file) => file.sync_all().map_err(|e| config_error(format!("database file {}: {e}", db.display()))),
        // Made meanwhile by another process: check it like any existing file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_sqlite_files(db),
        Err(e) => Err(config_error(format!("database file {}: {e}", db.display()))),
    }
}

/// 32 random bytes as URL-safe base64: a new keystore PIN or admin token.
pub(crate) fn random_secret() -> Result<Zeroizing<String>, ServiceError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    fill_random(bytes.as_mut_slice()).map_err(config_error)?;
    Ok(Zeroizing::new(keymgr_model::base64::encode(bytes.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
