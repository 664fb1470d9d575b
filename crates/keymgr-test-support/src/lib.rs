//! Fixtures shared by the key manager's tests and benchmarks, and by nothing else.
//!
//! This crate is for tests and benches only: it is a `[dev-dependencies]` entry, never a
//! normal dependency of a library or binary. Each module holds one fixture that several test
//! files used to copy:
//!
//! - [`ca`]: an outside CA (a software RSA key and its self-signed root) that certifies an SPKI;
//! - [`pdf`]: sample PDFs and poppler's `pdfsig`, and the skip-or-fail rule of
//!   `KEYMGR_REQUIRE_POPPLER`;
//! - [`pki`]: partner CAs, sub-CAs and partner certificates with chosen names and validity;
//! - [`softhsm`]: a SoftHSM2 token initialised in a temporary folder, the skip-or-fail rule of
//!   `KEYMGR_REQUIRE_HSM`, and re-running a test or bench binary with `SOFTHSM2_CONF` set;
//! - [`postgres`]: the test server (`KEYMGR_TEST_PG_URL`), the skip-or-fail rule of
//!   `KEYMGR_REQUIRE_PG`, and a throw-away database dropped with its guard;
//! - [`python`]: python3 with an independent implementation (`cryptography`, `joserfc`), and
//!   the skip-or-fail rule of `KEYMGR_REQUIRE_PYTHON`;
//! - [`swtpm`]: a software TPM 2.0 driven by tpm2-tools, and the skip-or-fail rule of
//!   `KEYMGR_REQUIRE_TPM`;
//! - [`tokens`]: the SHA-256 hex form of a bearer token, as the service's configuration holds it;
//! - [`webdriver`]: headless Chromium through ChromeDriver (W3C WebDriver), and the
//!   skip-or-fail rule of `KEYMGR_REQUIRE_BROWSER`.

#![forbid(unsafe_code)]
// Test code: a fixture that cannot be set up must stop the test loudly, with a message that
// says what failed, so panicking is this crate's error handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod ca;
pub mod pdf;
pub mod pki;
pub mod postgres;
pub mod python;
pub mod softhsm;
pub mod swtpm;
pub mod tokens;
pub mod webdriver;
