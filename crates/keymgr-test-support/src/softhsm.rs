//! SoftHSM2 tokens for the PKCS#11 tests and benchmarks.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, so a test that wants a token of its own
//! makes one in a temporary folder ([`Token::new`]) and runs its own test binary again with the
//! variable set ([`Token::run_current_exe`]); a benchmark does the same through
//! [`rerun_with_token`]. Where SoftHSM2 is missing a test is skipped with a notice, unless
//! `KEYMGR_REQUIRE_HSM=1` (set by `.ci/run`) makes that a failure ([`installed_or_skip`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// SoftHSM2's PKCS#11 module, where Debian and Ubuntu install it.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every token made here.
pub const PIN: &str = "1234";
/// The security officer's PIN of every token made here.
pub const SO_PIN: &str = "5678";
/// The variable SoftHSM2 reads its configuration file from.
pub const CONF_VAR: &str = "SOFTHSM2_CONF";
/// With this variable set to `1`, a missing SoftHSM2 fails a test instead of skipping it.
pub const REQUIRE_VAR: &str = "KEYMGR_REQUIRE_HSM";

/// Whether SoftHSM2's module is installed.
pub fn installed() -> bool {
    Path::new(MODULE).exists()
}

/// Whether a SoftHSM2 test can run. When the module is not installed this prints
/// `SKIPPED: ...` and returns `false`, or panics when `KEYMGR_REQUIRE_HSM=1`.
pub fn installed_or_skip() -> bool {
    if installed() {
        return true;
    }
    assert!(
        std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
        "{REQUIRE_VAR}=1 but SoftHSM2 is not installed ({MODULE}); apt-get install -y softhsm2"
    );
    println!("SKIPPED: SoftHSM2 is not installed ({MODULE}); apt-get install -y softhsm2 to run this test");
    false
}

/// Makes `dir/tokens` and the configuration `dir/softhsm2.conf` that keeps tokens there, and
/// initialises a token labelled `label` (user PIN [`PIN`], SO PIN [`SO_PIN`]) in it with
/// `softhsm2-util`. Returns the configuration's path, the value for `SOFTHSM2_CONF`.
pub fn init_token(dir: &Path, label: &str) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap_or_else(|e| panic!("{}: {e}", tokens.display()));
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
    let status = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SO_PIN])
        .env(CONF_VAR, &conf)
        .stdout(Stdio::null())
        .status()
        .expect("softhsm2-util runs");
    assert!(status.success(), "softhsm2-util --init-token");
    conf
}

/// A SoftHSM2 token in a temporary folder of its own, removed when this is dropped.
pub struct Token {
    dir: tempfile::TempDir,
    conf: PathBuf,
    label: String,
}

impl Token {
    /// A new folder with a configuration and one token labelled `label` ([`init_token`]).
    pub fn new(label: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder for the SoftHSM2 token");
        let conf = init_token(dir.path(), label);
        Self { dir, conf, label: label.to_owned() }
    }

    /// The configuration file, the value for `SOFTHSM2_CONF`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token's user PIN.
    pub fn pin(&self) -> &'static str {
        PIN
    }

    /// The folder that holds the configuration and the token.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the current executable (a test binary) again with `args`, `SOFTHSM2_CONF` set to
    /// this token's configuration and `marker` set to `1`, so that the child knows it is the
    /// child; waits for it and returns its output.
    pub fn run_current_exe(&self, marker: &str, args: &[&str]) -> Output {
        Command::new(std::env::current_exe().expect("the current executable"))
            .args(args)
            .env(CONF_VAR, &self.conf)
            .env(marker, "1")
            .output()
            .expect("the child process runs")
    }
}

/// For a benchmark's `main`: when SoftHSM2 is installed and `SOFTHSM2_CONF` is not set, makes
/// a token labelled `label` (user PIN [`PIN`]) in a temporary folder, runs the current
/// benchmark again with the same arguments and the variable set, and exits with its status.
/// Otherwise it returns and the benchmark runs in this process.
pub fn rerun_with_token(label: &str) {
    if std::env::var_os(CONF_VAR).is_some() || !installed() {
        return;
    }
    let token = Token::new(label);
    let status = Command::new(std::env::current_exe().expect("the current executable"))
        .args(std::env::args_os().skip(1))
        .env(CONF_VAR, token.conf())
        .status()
        .expect("the benchmark runs again");
    drop(token);
    std::process::exit(status.code().unwrap_or(1));
}
