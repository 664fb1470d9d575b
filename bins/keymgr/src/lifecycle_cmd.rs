//! The key lifecycle from the operator's side: `keymgr compromise`, `keymgr rewrap`,
//! `keymgr retire`, `keymgr key states|deactivate|recovery` and `keymgr retention set|show`.
//! Each change is audited under the operator's name (`KEYMGR_OPERATOR`, else the login name).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use keymgr_core::{CompromiseReport, CompromiseRequest, KeyManager, KeymgrError, RetireReport};
use keymgr_model::{AppId, KeyRef, RefId};

use crate::audit_cmd::{AuditArgs, key_manager};
use crate::error::CliError;
use crate::service_cmd::ConfigArgs;

/// The name changes are audited under.
pub(crate) fn operator() -> String {
    let name = std::env::var("KEYMGR_OPERATOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "operator".into());
    format!("cli:{name}")
}

pub(crate) fn manager(config: &ConfigArgs) -> Result<Arc<KeyManager>, CliError> {
    key_manager(&AuditArgs { config: config.clone() })
}

/// Refusals the operator can act on are exit 2; failures exit 1.
fn failed(e: KeymgrError) -> CliError {
    match e.code() {
        "KER-KMS-409" | "KER-KMS-005" | "KER-KMS-003" | "KER-KMS-016" | "KER-KMS-423" | "KER-KMS-410" => {
            CliError::Usage(format!("{}: {e}", e.code()))
        }
        _ => CliError::Failed(format!("{}: {e}", e.code())),
    }
}

fn app(text: &str) -> Result<AppId, CliError> {
    AppId::new(text.trim()).map_err(|e| CliError::Usage(format!("--app: {e}")))
}

fn reference(text: &str) -> Result<RefId, CliError> {
    RefId::new(text.trim()).map_err(|e| CliError::Usage(format!("--ref: {e}")))
}

/// `keymgr compromise`.
#[derive(Debug, Args)]
pub struct CompromiseArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The application.
    #[arg(long)]
    app: String,
    /// The reference (none: the application's master).
    #[arg(long = "ref", default_value = "")]
    reference: String,
    /// The exact key (default: the pair's key whose response is unfinished, else its current key).
    #[arg(long)]
    alias: Option<String>,
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
    /// Show what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep the current keys the compromised master certified (default: expire them, so new
    /// data goes to keys made under the successor).
    #[arg(long)]
    keep_children: bool,
    /// Let the compromised key still decrypt for this many hours, each use audited.
    #[arg(long, value_name = "HOURS")]
    recovery_hours: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `keymgr compromise`: exit 0 when the response is complete, 1 when children are left
/// (run it again: it resumes), 2 when refused.
pub fn compromise(args: &CompromiseArgs) -> Result<(), CliError> {
    let km = manager(&args.config)?;
    let key_ref = KeyRef::new(app(&args.app)?, reference(&args.reference)?);
    let recovery_until =
        args.recovery_hours.filter(|h| *h > 0).map(|h| km.now().plus(time::Duration::hours(i64::from(h))));
    let progress = |done: usize, total: usize| {
        eprint!("\rre-wrapped {done} of {total} keys");
        let _ = std::io::stderr().flush();
    };
    let request = CompromiseRequest {
        key_ref,
        alias: args.alias.clone(),
        reason: args.reason.clone(),
        who: operator(),
        dry_run: args.dry_run,
        rotate_children: !args.keep_children,
        recovery_until,
        progress: Some(&progress),
    };
    let report = km.compromise(&request).map_err(failed)?;
    if report.rewrapped > 0 {
        eprintln!();
    }
    if args.json {
        println!("{}", compromise_json(&report));
    } else {
        print_compromise(&report);
    }
    if !report.dry_run && (report.remaining > 0 || !report.failed.is_empty()) {
        return Err(CliError::Failed(format!(
            "{} keys are still wrapped by the compromised key; run the command again to resume",
            report.remaining
        )));
    }
    Ok(())
}

fn print_compromise(r: &CompromiseReport) {
    let verb = if r.dry_run {
        "would mark"
    } else if r.resumed {
        "resumed the response to"
    } else {
        "marked"
    };
    println!("{verb} {} ({}) compromised; it was {}", r.key.alias, r.key.key_ref, r.state_before);
    if let Some(s) = &r.successor {
        println!("successor: {} (expires {})", s.alias, s.expires_at);
    } else if r.dry_run {
        println!("successor: made at once when applied");
    }
    println!(
        "keys it wraps: {} at the start, {} re-wrapped, {} left, {} failed",
        r.children_before,
        r.rewrapped,
        r.remaining,
        r.failed.len()
    );
    for (alias, why) in &r.failed {
        println!("  failed: {alias}: {why}");
    }
    println!(
        "pairs whose keys it certified (their private keys were readable with it): {}",
        r.exposed_pairs.len()
    );
    for (pair, n) in r.exposed_pairs.iter().take(20) {
        println!("  {pair}: {n}");
    }
    if r.exposed_pairs.len() > 20 {
        println!("  ... and {} more (--json lists all)", r.exposed_pairs.len() - 20);
    }
    if !r.rotated_pairs.is_empty() {
        println!("pairs rotated now: {}", r.rotated_pairs.len());
    }
    println!("depending on it: {}", r.dependents.len());
    for d in &r.dependents {
        println!("  {} {} ({}) {}", d.kind, d.id, d.subject, d.relation);
    }
    println!("complete: {}", if r.complete { "yes" } else { "no" });
}

fn compromise_json(r: &CompromiseReport) -> serde_json::Value {
    serde_json::json!({
        "dryRun": r.dry_run,
        "resumed": r.resumed,
        "key": r.key.alias,
        "pair": r.key.key_ref.to_string(),
        "stateBefore": r.state_before.as_str(),
        "successor": r.successor.as_ref().map(|s| s.alias.clone()),
        "childrenBefore": r.children_before,
        "rewrapped": r.rewrapped,
        "remaining": r.remaining,
        "failed": r.failed.iter().map(|(a, w)| serde_json::json!({"alias": a, "reason": w})).collect::<Vec<_>>(),
        "exposedPairs": r.exposed_pairs.iter().map(|(p, n)| serde_json::json!({"pair": p.to_string(), "keys": n})).collect::<Vec<_>>(),
        "rotatedPairs": r.rotated_pairs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "dependents": r.dependents.iter().map(|d| serde_json::json!({"kind": d.kind, "id": d.id, "subject": d.subject, "relation": d.relation})).collect::<Vec<_>>(),
        "complete": r.complete,
    })
}

/// `keymgr rewrap`.
#[derive(Debug, Args)]
pub struct RewrapArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The application.
    #[arg(long)]
    app: String,
    /// The reference.
    #[arg(long = "ref")]
    reference: String,
    /// The envelope (base64 text) to read; default standard input.
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the re-sealed envelope; default standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The salt it was sealed with (base64).
    #[arg(long)]
    salt: Option<String>,
    /// The aad it was sealed with (base64).
    #[arg(long)]
    aad: Option<String>,
    /// Re-seal an envelope of a compromised key too (audited).
    #[arg(long)]
    accept_compromised: bool,
}

fn base64_arg(name: &str, text: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    text.map(|t| {
        keymgr_model::base64::decode(t.trim().as_bytes(), 64 * 1024)
            .map_err(|e| CliError::Usage(format!("--{name}: {e}")))
    })
    .transpose()
}

/// Runs `keymgr rewrap`: the envelope comes back sealed to the pair's current key.
pub fn rewrap(args: &RewrapArgs) -> Result<(), CliError> {
    let mut text = Vec::new();
    match &args.input {
        Some(path) => {
            text = std::fs::read(path).map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?
        }
        None => {
            std::io::stdin().read_to_end(&mut text).map_err(|e| CliError::Failed(e.to_string()))?;
        }
    }
    let trimmed = text.trim_ascii();
    let salt = base64_arg("salt", args.salt.as_deref())?;
    let aad = base64_arg("aad", args.aad.as_deref())?;
    let km = manager(&args.config)?;
    let out = km
        .rewrap(
            &app(&args.app)?,
            &reference(&args.reference)?,
            trimmed,
            salt.as_deref(),
            aad.as_deref(),
            &operator(),
            args.accept_compromised,
        )
        .map_err(failed)?;
    eprintln!(
        "{} -> {}{}",
        out.from_thumbprint.to_hex(),
        out.to_thumbprint.to_hex(),
        if out.changed { "" } else { " (already the current key; unchanged)" }
    );
    match &args.out {
        Some(path) => crate::files::write_output(path, out.data.as_bytes()),
        None => {
            println!("{}", out.data);
            Ok(())
        }
    }
}

/// `keymgr retire`.
#[derive(Debug, Args)]
pub struct RetireArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Destroy what the list shows (without it, nothing changes).
    #[arg(long)]
    apply: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `keymgr retire`: lists what may be destroyed; `--apply` destroys it.
pub fn retire(args: &RetireArgs) -> Result<(), CliError> {
    let km = manager(&args.config)?;
    let report = km.retire(args.apply, &operator()).map_err(failed)?;
    if args.json {
        println!("{}", retire_json(&report));
    } else {
        print_retire(&report);
    }
    if !report.failed.is_empty() {
        return Err(CliError::Failed(format!("{} keys could not be destroyed", report.failed.len())));
    }
    Ok(())
}

fn print_retire(r: &RetireReport) {
    let verb = if r.applied { "destroyed" } else { "may be destroyed (run with --apply)" };
    println!("{} keys {verb}:", r.candidates.len());
    for c in &r.candidates {
        let extra = if c.leftover { " (objects left by an earlier run)" } else { "" };
        println!(
            "  {} {} {} in the {}, retention ended {}{extra}",
            c.key.alias, c.key.key_ref, c.state, c.holder, c.retained_until
        );
    }
    if !r.kept.is_empty() {
        println!("{} expired keys kept:", r.kept.len());
        for (k, why) in &r.kept {
            println!("  {} {}: {why}", k.alias, k.key_ref);
        }
    }
    for (alias, why) in &r.failed {
        println!("failed: {alias}: {why}");
    }
}

fn retire_json(r: &RetireReport) -> serde_json::Value {
    serde_json::json!({
        "applied": r.applied,
        "candidates": r.candidates.iter().map(|c| serde_json::json!({
            "alias": c.key.alias, "pair": c.key.key_ref.to_string(), "state": c.state.as_str(),
            "holder": c.holder, "retainedUntil": c.retained_until.to_mosip_string(), "leftover": c.leftover,
        })).collect::<Vec<_>>(),
        "kept": r.kept.iter().map(|(k, why)| serde_json::json!({"alias": k.alias, "pair": k.key_ref.to_string(), "why": why})).collect::<Vec<_>>(),
        "destroyed": r.destroyed,
        "failed": r.failed.iter().map(|(a, w)| serde_json::json!({"alias": a, "reason": w})).collect::<Vec<_>>(),
    })
}

/// `keymgr key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List keys with their states, tab-separated: alias, application, reference, state,
    /// expiry, reason.
    States(KeyStatesArgs),
    /// Print the current certificate (PEM) of a pair, made on first use as getCertificate does.
    Certificate(KeyCertificateArgs),
    /// Deactivate a key now: it stops encrypting and signing, still decrypts and verifies.
    Deactivate(KeyChangeArgs),
    /// Open (--hours > 0) or close (--hours 0) the recovery window of a compromised key.
    Recovery(RecoveryArgs),
}

/// `keymgr key states`.
#[derive(Debug, Args)]
pub struct KeyStatesArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Only this application.
    #[arg(long)]
    app: Option<String>,
    /// Only this reference (with --app).
    #[arg(long = "ref")]
    reference: Option<String>,
}

/// `keymgr key certificate`.
#[derive(Debug, Args)]
pub struct KeyCertificateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The application.
    #[arg(long)]
    app: String,
    /// The reference (none: the application's master).
    #[arg(long = "ref", default_value = "")]
    reference: String,
}

/// `keymgr key deactivate`.
#[derive(Debug, Args)]
pub struct KeyChangeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The key.
    #[arg(long)]
    alias: String,
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
}

/// `keymgr key recovery`.
#[derive(Debug, Args)]
pub struct RecoveryArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The compromised key.
    #[arg(long)]
    alias: String,
    /// Hours from now (0 closes the window).
    #[arg(long)]
    hours: u32,
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
}

/// Runs a `keymgr key` command.
pub fn key(command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::States(args) => {
            let km = manager(&args.config)?;
            let key_ref = match (&args.app, &args.reference) {
                (Some(a), Some(r)) => Some(KeyRef::new(app(a)?, reference(r)?)),
                _ => None,
            };
            let wanted = args.app.as_deref().map(app).transpose()?;
            for s in km.key_statuses(key_ref.as_ref()).map_err(failed)? {
                if wanted.as_ref().is_some_and(|a| &s.key.key_ref.app != a) {
                    continue;
                }
                let why = s.record.as_ref().and_then(|r| r.reason.clone()).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{why}",
                    s.key.alias, s.key.key_ref.app, s.key.key_ref.reference, s.state, s.key.expires_at
                );
            }
            Ok(())
        }
        KeyCommand::Certificate(args) => {
            let km = manager(&args.config)?;
            let info = km.get_certificate(&app(&args.app)?, &reference(&args.reference)?).map_err(failed)?;
            print!("{}", info.certificate.to_pem());
            Ok(())
        }
        KeyCommand::Deactivate(args) => {
            let km = manager(&args.config)?;
            let from = km.deactivate_key(&args.alias, &args.reason, &operator()).map_err(failed)?;
            println!("{} deactivated (it was {from})", args.alias.trim());
            Ok(())
        }
        KeyCommand::Recovery(args) => {
            let km = manager(&args.config)?;
            let until = (args.hours > 0).then(|| km.now().plus(time::Duration::hours(i64::from(args.hours))));
            km.set_recovery_window(&args.alias, until, &args.reason, &operator()).map_err(failed)?;
            match until {
                Some(t) => println!("{} may decrypt until {t}, each use audited", args.alias.trim()),
                None => println!("{} may not decrypt any more", args.alias.trim()),
            }
            Ok(())
        }
    }
}

/// `keymgr retention ...`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Set how many days an application's expired keys are kept (audited).
    Set(RetentionSetArgs),
    /// Show the retention periods.
    Show(RetentionShowArgs),
}

/// `keymgr retention set`.
#[derive(Debug, Args)]
pub struct RetentionSetArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The application.
    #[arg(long)]
    app: String,
    /// Days after expiry.
    #[arg(long)]
    days: u32,
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: String,
}

/// `keymgr retention show`.
#[derive(Debug, Args)]
pub struct RetentionShowArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs a `keymgr retention` command.
pub fn retention(command: RetentionCommand) -> Result<(), CliError> {
    match command {
        RetentionCommand::Set(args) => {
            let km = manager(&args.config)?;
            km.set_retention(&app(&args.app)?, args.days, &operator(), Some(&args.reason)).map_err(failed)?;
            println!("retention of {} is {} days after expiry", args.app.trim(), args.days);
            Ok(())
        }
        RetentionCommand::Show(args) => {
            let km = manager(&args.config)?;
            let (table, default_days) = km.retention_policies().map_err(failed)?;
            println!("default: {default_days} days after expiry");
            let mut rows: Vec<_> = table.into_iter().collect();
            rows.sort();
            for (app, days) in rows {
                println!("{app}: {days} days");
            }
            Ok(())
        }
    }
}
