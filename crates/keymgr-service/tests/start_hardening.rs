//! The first start's hardening, each test named after the attack it stops: keystore PINs too
//! weak to protect a copied `keystore.kmks`, PIN files, databases and data directories that
//! other local users can read, and secret files written through a planted symbolic link.
//!
//! The tests give the PIN through the PIN file, never through `KEYMGR_KEYSTORE_PIN`: the
//! process environment is shared by the tests running at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use keymgr_service::{
    ADMIN_TOKEN_FILE, MIN_FILE_KEYSTORE_PIN_CHARS, PIN_FILE, ServiceConfig, ServiceError, start,
    write_secret_file,
};

/// A data directory (mode 0700, as a first start makes it) inside a temporary directory.
struct Site {
    _dir: tempfile::TempDir,
    data: PathBuf,
}

impl Site {
    fn new() -> Self {
        assert!(
            std::env::var_os("KEYMGR_KEYSTORE_PIN").is_none(),
            "these tests give the PIN through the PIN file: unset KEYMGR_KEYSTORE_PIN"
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::DirBuilder::new().mode(0o700).create(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self { _dir: dir, data }
    }

    fn config(&self) -> ServiceConfig {
        ServiceConfig { data_dir: Some(self.data.clone()), ..ServiceConfig::default() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.data.join(name)
    }

    /// Writes the PIN file as an operator would, with a trailing newline, mode `mode`.
    fn pin_file(&self, pin: &str, mode: u32) -> PathBuf {
        let path = self.path(PIN_FILE);
        std::fs::write(&path, format!("{pin}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// The configuration error of a start that must be refused.
    fn refused(&self) -> String {
        match start(&self.config()) {
            Ok(_) => panic!("the start was not refused"),
            Err(ServiceError::Config(message)) => message,
            Err(other) => panic!("not a configuration error: {other}"),
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn empty_pin_is_refused_at_first_start() {
    let site = Site::new();
    site.pin_file("", 0o600);
    let message = site.refused();
    assert!(message.contains("is empty"), "{message}");
    assert!(message.contains(&MIN_FILE_KEYSTORE_PIN_CHARS.to_string()), "names the minimum: {message}");
    assert!(!site.path("keystore.kmks").exists(), "no keystore is made under an empty PIN");

    // Only whitespace is as empty as nothing.
    site.pin_file("   \t  ", 0o600);
    let message = site.refused();
    assert!(message.contains("is empty"), "{message}");
    assert!(!site.path("keystore.kmks").exists());
}

#[test]
fn short_pin_is_refused_at_first_start() {
    assert_eq!(MIN_FILE_KEYSTORE_PIN_CHARS, 12);
    let site = Site::new();
    let pin = "pin-11chars";
    assert_eq!(pin.len(), MIN_FILE_KEYSTORE_PIN_CHARS - 1);
    site.pin_file(pin, 0o600);
    let message = site.refused();
    assert!(message.contains("too short"), "{message}");
    assert!(message.contains("at least 12 characters"), "names the minimum: {message}");
    assert!(!message.contains(pin), "the PIN is never echoed: {message}");
    assert!(!site.path("keystore.kmks").exists(), "no keystore is made under a short PIN");

    // Characters count, not bytes: 11 two-byte characters are still 11.
    let wide = "ééééééééééé";
    assert_eq!(wide.chars().count(), MIN_FILE_KEYSTORE_PIN_CHARS - 1);
    site.pin_file(wide, 0o600);
    let message = site.refused();
    assert!(message.contains("too short"), "{message}");
    assert!(!message.contains(wide), "the PIN is never echoed: {message}");
    assert!(!site.path("keystore.kmks").exists());
}

#[test]
fn group_readable_pin_file_is_refused() {
    let site = Site::new();
    let pin_path = site.pin_file("a-long-enough-keystore-pin", 0o640);
    let message = site.refused();
    assert!(message.contains(&pin_path.display().to_string()), "names the file: {message}");
    assert!(message.contains(&format!("chmod 600 {}", pin_path.display())), "says the fix: {message}");
    assert!(!message.contains("a-long-enough-keystore-pin"), "the PIN is never echoed: {message}");
    assert!(!site.path("keystore.kmks").exists(), "no keystore is made");

    // Readable by others only: refused as well.
    std::fs::set_permissions(&pin_path, std::fs::Permissions::from_mode(0o604)).unwrap();
    assert!(site.refused().contains("chmod 600"));
}

#[test]
fn group_readable_database_file_is_refused() {
    let site = Site::new();
    let db = site.path("keymgr.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let message = site.refused();
    assert!(
        message.contains(&format!("chmod 600 {}", db.display())),
        "names the file and the fix: {message}"
    );
    // Refused before anything else is touched.
    assert!(!site.path(PIN_FILE).exists(), "no PIN file is made");
    assert!(!site.path("keystore.kmks").exists(), "no keystore is made");

    // SQLite's write-ahead log holds recent rows: it is checked like the database.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wal = site.path("keymgr.db-wal");
    std::fs::write(&wal, b"").unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let message = site.refused();
    assert!(message.contains(&format!("chmod 600 {}", wal.display())), "{message}");
    assert!(!site.path("keystore.kmks").exists());
}

#[test]
fn world_readable_data_dir_is_refused() {
    let site = Site::new();
    std::fs::set_permissions(&site.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let message = site.refused();
    assert!(message.contains(&format!("chmod 700 {}", site.data.display())), "names the fix: {message}");
    assert!(!site.path(PIN_FILE).exists(), "no PIN file is made in it");
    assert!(!site.path("keystore.kmks").exists(), "no keystore is made in it");
    assert!(!site.path("keymgr.db").exists(), "no database is made in it");

    // Group access alone is refused too.
    std::fs::set_permissions(&site.data, std::fs::Permissions::from_mode(0o750)).unwrap();
    assert!(site.refused().contains("chmod 700"));
}

#[test]
fn secret_file_write_does_not_follow_a_planted_symlink() {
    let site = Site::new();
    let victims = tempfile::tempdir().unwrap();
    let via_tmp = victims.path().join("via-tmp");
    let via_target = victims.path().join("via-target");
    std::fs::write(&via_tmp, b"").unwrap();
    std::fs::write(&via_target, b"").unwrap();
    let token = site.path(ADMIN_TOKEN_FILE);
    // The temporary name the previous code used, and the target itself.
    let planted_tmp = site.path(&format!(".{ADMIN_TOKEN_FILE}.tmp"));
    std::os::unix::fs::symlink(&via_tmp, &planted_tmp).unwrap();
    std::os::unix::fs::symlink(&via_target, &token).unwrap();

    write_secret_file(&token, b"the-secret-token").unwrap();

    assert_eq!(std::fs::read(&via_tmp).unwrap(), b"", "nothing written through the planted temporary link");
    assert_eq!(std::fs::read(&via_target).unwrap(), b"", "nothing written through the link at the target");
    let meta = std::fs::symlink_metadata(&token).unwrap();
    assert!(meta.file_type().is_file(), "the link at the target is replaced by a regular file");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert_eq!(std::fs::read(&token).unwrap(), b"the-secret-token");
    assert_eq!(std::fs::read_link(&planted_tmp).unwrap(), via_tmp, "the planted link is left alone");
    let mut names: Vec<String> = std::fs::read_dir(&site.data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [format!(".{ADMIN_TOKEN_FILE}.tmp"), ADMIN_TOKEN_FILE.to_owned()],
        "no temporary file left"
    );

    // Two writes use different temporary names: a name seen once cannot be planted for the next.
    write_secret_file(&token, b"second").unwrap();
    assert_eq!(std::fs::read(&token).unwrap(), b"second");
    assert_eq!(std::fs::read(&via_tmp).unwrap(), b"");
}

#[test]
fn new_database_file_is_0600() {
    let site = Site::new();
    // Exactly the minimum is accepted.
    site.pin_file("twelve-chars", 0o600);
    let started = match start(&site.config()) {
        Ok(s) => s,
        Err(e) => panic!("start: {e}"),
    };
    assert!(started.first_start);
    let db = site.path("keymgr.db");
    assert_eq!(mode(&db), 0o600, "the database file");
    // The pool is open, so SQLite's WAL files exist; they take the database file's mode.
    for companion in ["keymgr.db-wal", "keymgr.db-shm"] {
        let path = site.path(companion);
        assert!(path.exists(), "{companion} exists while the database is open");
        assert_eq!(mode(&path), 0o600, "{companion}");
    }
    assert_eq!(mode(&site.path(ADMIN_TOKEN_FILE)), 0o600);
    assert_eq!(mode(&site.path(PIN_FILE)), 0o600);
    assert_eq!(mode(&site.data), 0o700);
    drop(started);

    // A data directory the first start made passes its own checks at the next start.
    let again = match start(&site.config()) {
        Ok(s) => s,
        Err(e) => panic!("second start: {e}"),
    };
    assert!(!again.first_start);
}
