//! `keymgr`: the key manager's binary: the REST service, the key generator, the operator's
//! report, migrations, and the envelope tools.
//!
//! A thin layer over the library crates: argument parsing, files, exit codes. Exit codes:
//! 0 success, 1 an I/O or service failure, 2 a usage, configuration or key-file error, 3 a
//! rejected envelope, 4 an audit trail that does not verify.

#![forbid(unsafe_code)]

mod audit_cmd;
mod envelope_cmd;
mod error;
mod files;
mod keystore_cmd;
mod lifecycle_cmd;
mod migrate_cmd;
mod service_cmd;
mod speed;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// mimalloc instead of the system allocator: glibc returns each freed megabyte body to the
/// kernel and faults a new one in for the next request, which costs a fifth of a 1 MiB
/// `/decrypt` (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Key manager for MOSIP-compatible identity platforms.
#[derive(Debug, Parser)]
#[command(name = "keymgr", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the MOSIP-compatible REST API (embedded defaults: SQLite and the file keystore in
    /// ./keymgr-data, initialised on first start).
    Serve(service_cmd::ServeArgs),
    /// Run the key generator: ROOT, every application's master, KERNEL/SIGN (idempotent).
    Keygen(service_cmd::KeygenArgs),
    /// Print the keys that rotate or expire soon and the findings of the policy lint.
    Report(service_cmd::ReportArgs),
    /// Apply the database migrations.
    Migrate(service_cmd::MigrateArgs),
    /// Seal and open MOSIP packet envelopes with key and certificate files.
    #[command(subcommand)]
    Envelope(envelope_cmd::EnvelopeCommand),
    /// Measure seal and open speed on this machine, in the spirit of `openssl speed`.
    Speed(speed::SpeedArgs),
    /// Verify, checkpoint or export the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Change policies through the lint (audited).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Compromise response: mark a key compromised, make its successor, re-wrap what a
    /// compromised master wraps (resumable), report what depends on it.
    Compromise(lifecycle_cmd::CompromiseArgs),
    /// Re-seal an envelope to its pair's current key (the plaintext stays inside).
    Rewrap(lifecycle_cmd::RewrapArgs),
    /// List the keys past retention; --apply destroys them.
    Retire(lifecycle_cmd::RetireArgs),
    /// Key states: list, deactivate, recovery windows.
    #[command(subcommand)]
    Key(lifecycle_cmd::KeyCommand),
    /// Retention periods per application.
    #[command(subcommand)]
    Retention(lifecycle_cmd::RetentionCommand),
    /// Move this deployment's base keys, PARTNER certificates and ZK keys to another
    /// deployment (this service or MOSIP's), resumable; --dry-run first.
    MigrateKeys(migrate_cmd::MigrateKeysArgs),
    /// Move the file keystore's keys into a PKCS#11 token (the file stays until --confirm).
    #[command(subcommand)]
    Keystore(keystore_cmd::KeystoreCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Set an application's policy: refused when the lint finds fault, unless --force REASON.
    Set(audit_cmd::PolicySetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => service_cmd::serve(&args),
        Command::Keygen(args) => service_cmd::keygen(&args),
        Command::Report(args) => service_cmd::report(&args),
        Command::Migrate(args) => service_cmd::migrate(&args),
        Command::Envelope(cmd) => envelope_cmd::run(cmd),
        Command::Speed(args) => speed::run(&args),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Policy(PolicyCommand::Set(args)) => audit_cmd::policy_set(&args),
        Command::Compromise(args) => lifecycle_cmd::compromise(&args),
        Command::Rewrap(args) => lifecycle_cmd::rewrap(&args),
        Command::Retire(args) => lifecycle_cmd::retire(&args),
        Command::Key(cmd) => lifecycle_cmd::key(cmd),
        Command::Retention(cmd) => lifecycle_cmd::retention(cmd),
        Command::MigrateKeys(args) => migrate_cmd::run(&args),
        Command::Keystore(cmd) => keystore_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(err.exit_code())
        }
    }
}
