//! Independent implementations in Python (`cryptography`, `joserfc`) that interop tests run as
//! a second opinion. Without python3 or one of its packages a test says `SKIPPED` and
//! returns, unless `KEYMGR_REQUIRE_PYTHON=1` (set by `.ci/run`, which installs them) makes
//! that a failure.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Set to `1` to fail, rather than skip, when python3 or a package is missing.
pub const REQUIRE_VAR: &str = "KEYMGR_REQUIRE_PYTHON";

/// Whether python3 can import every one of `modules`; prints `SKIPPED: ...` and returns
/// `false` when not, or panics when `KEYMGR_REQUIRE_PYTHON=1`.
pub fn ready(modules: &[&str]) -> bool {
    let import = format!("import {}", modules.join(", "));
    let ok = Command::new("python3").args(["-c", &import]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
            "{REQUIRE_VAR}=1 but python3 cannot `{import}` (pip install {})",
            modules.join(" ")
        );
        println!("SKIPPED: python3 cannot `{import}`");
    }
    ok
}

/// Runs `script` with `args`, `stdin` on its standard input, and returns its standard output;
/// panics with its standard error when it fails.
pub fn run(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write to python3");
    let out = child.wait_with_output().expect("python3 runs");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
