//! A software TPM 2.0 (`swtpm` from Debian) driven by `tpm2-tools`, as a second opinion on TPM
//! byte formats: the tests make keys in it with MOSIP's templates, sign and decrypt there, and
//! check what the service does with the public parts. Without `swtpm` or `tpm2-tools` a test
//! says `SKIPPED` and returns, unless `KEYMGR_REQUIRE_TPM=1` (set by `.ci/run`, which installs
//! them) makes that a failure.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to fail, rather than skip, when `swtpm` or `tpm2-tools` is missing.
pub const REQUIRE_VAR: &str = "KEYMGR_REQUIRE_TPM";

/// A running `swtpm` on two free loopback ports, with its state in a temporary folder; killed
/// when dropped.
pub struct Swtpm {
    child: Child,
    port: u16,
    _state: tempfile::TempDir,
}

/// A free port whose successor is free too: the swtpm TCTI finds the control channel at the
/// server port + 1.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let Ok(first) = TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(port) = first.local_addr().map(|a| a.port()) else { continue };
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free ports in a row")
}

fn installed(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

impl Swtpm {
    /// Starts a fresh TPM, or says `SKIPPED` and answers `None` when the tools are missing.
    pub fn start_or_skip() -> Option<Self> {
        if !(installed("swtpm") && installed("tpm2_createprimary")) {
            assert!(
                std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
                "{REQUIRE_VAR}=1 but swtpm or tpm2-tools is missing (apt-get install swtpm tpm2-tools)"
            );
            println!("SKIPPED: swtpm or tpm2-tools is not installed");
            return None;
        }
        let state = tempfile::tempdir().expect("swtpm state folder");
        let port = free_port_pair();
        let ctrl = port + 1;
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", state.path().display()))
            .args(["--server", &format!("type=tcp,port={port},bindaddr=127.0.0.1")])
            .args(["--ctrl", &format!("type=tcp,port={ctrl},bindaddr=127.0.0.1")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("swtpm starts");
        let tpm = Self { child, port, _state: state };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = tpm.try_tool("tpm2_getrandom", &["4"]);
            if answer.as_ref().is_some_and(|o| o.status.success()) {
                break;
            }
            let why = answer.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
            assert!(Instant::now() < deadline, "swtpm did not answer on port {port}: {why}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(tpm)
    }

    fn try_tool(&self, tool: &str, args: &[&str]) -> Option<Output> {
        Command::new(tool)
            .args(args)
            .env("TPM2TOOLS_TCTI", format!("swtpm:host=127.0.0.1,port={}", self.port))
            .output()
            .ok()
    }

    /// Runs a `tpm2-tools` command against this TPM; panics with its error output on failure.
    pub fn tool(&self, tool: &str, args: &[&str]) -> Vec<u8> {
        let out = self.try_tool(tool, args).unwrap_or_else(|| panic!("{tool} runs"));
        assert!(out.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Makes a primary key in the endorsement hierarchy with `algorithm` (tpm2-tools syntax),
    /// `name_alg` and `attributes`, persists it at `handle` and answers its `TPMT_PUBLIC`
    /// (what TSS.Java's `outPublic.toTpm()` gives MOSIP's clients). Transient objects are
    /// flushed, as swtpm has no resource manager.
    pub fn persistent_primary(
        &self,
        dir: &Path,
        handle: &str,
        name_alg: &str,
        algorithm: &str,
        attributes: &str,
    ) -> Vec<u8> {
        let ctx = dir.join(format!("{handle}.ctx"));
        let public = dir.join(format!("{handle}.pub"));
        let (ctx, public) = (ctx.to_string_lossy(), public.to_string_lossy());
        self.tool(
            "tpm2_createprimary",
            &["-C", "e", "-g", name_alg, "-G", algorithm, "-a", attributes, "-c", &ctx],
        );
        self.tool("tpm2_evictcontrol", &["-C", "o", "-c", &ctx, handle]);
        self.tool("tpm2_flushcontext", &["-t"]);
        self.tool("tpm2_readpublic", &["-c", handle, "-f", "tss", "-o", &public]);
        let tpm2b = std::fs::read(public.as_ref()).expect("public area");
        tpm2b.get(2..).expect("TPM2B_PUBLIC has a size").to_vec()
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}
