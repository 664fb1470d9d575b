//! `keymgr audit verify|checkpoint|export` and `keymgr policy set`: the tamper-evident audit
//! trail and governed policy changes from the operator's side.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use keymgr_service::start;
use serde::Serialize;

use crate::error::CliError;
use crate::service_cmd::{ConfigArgs, open_database};

/// `keymgr audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and every signed checkpoint; exit 0 when intact, 4 naming the first
    /// row edited, deleted, inserted or reordered.
    Verify(AuditArgs),
    /// Append a checkpoint signed by KERNEL/SIGN, which fixes every row before it.
    Checkpoint(AuditArgs),
    /// Write the trail as JSON lines, oldest first, with each row's hashes.
    Export(ExportArgs),
}

/// The configuration of an audit command.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
}

/// `keymgr audit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// One exported row.
#[derive(Serialize)]
struct Line<'a> {
    id: i64,
    time: String,
    actor: &'a str,
    action: &'a str,
    application_id: Option<&'a str>,
    reference_id: Option<&'a str>,
    key_alias: Option<&'a str>,
    detail: Option<&'a str>,
    prev_hash: Option<&'a str>,
    row_hash: Option<&'a str>,
}

/// Runs an audit command.
pub fn run(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(args) => verify(&args),
        AuditCommand::Checkpoint(args) => checkpoint(&args),
        AuditCommand::Export(args) => export(&args),
    }
}

pub(crate) fn key_manager(args: &AuditArgs) -> Result<std::sync::Arc<keymgr_core::KeyManager>, CliError> {
    let mut config = args.config.load()?;
    config.keys.keygen_on_start = false;
    Ok(start(&config).map_err(|e| CliError::Failed(e.to_string()))?.state.key_manager().clone())
}

fn verify(args: &AuditArgs) -> Result<(), CliError> {
    let report = key_manager(args)?.verify_audit().map_err(|e| CliError::Failed(e.to_string()))?;
    println!(
        "{} chained rows up to id {}, {} signed checkpoints, {} rows from before the chain",
        report.rows, report.last_id, report.checkpoints, report.unchained
    );
    match report.problem {
        None => {
            println!("intact");
            Ok(())
        }
        Some(p) => Err(CliError::AuditBroken(format!("row {}: {}", p.id, p.reason))),
    }
}

fn checkpoint(args: &AuditArgs) -> Result<(), CliError> {
    let km = key_manager(args)?;
    km.audit_checkpoint().map_err(|e| CliError::Failed(e.to_string()))?;
    let (id, hash) = km.database().audit_head().map_err(|e| CliError::Failed(e.to_string()))?;
    println!("checkpoint at row {id} ({hash})");
    Ok(())
}

fn export(args: &ExportArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    let db = open_database(&config)?;
    let failed = |e: std::io::Error| CliError::Failed(format!("write: {e}"));
    let mut out: Box<dyn std::io::Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut after = i64::MIN;
    loop {
        let rows = db.audit_rows(after, 1000).map_err(|e| CliError::Failed(format!("database: {e}")))?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for r in &rows {
            let line = Line {
                id: r.id,
                time: r.entry.time.to_mosip_string(),
                actor: &r.entry.actor,
                action: &r.entry.action,
                application_id: r.entry.app_id.as_deref(),
                reference_id: r.entry.ref_id.as_deref(),
                key_alias: r.entry.key_alias.as_deref(),
                detail: r.entry.detail.as_deref(),
                prev_hash: r.prev_hash.as_deref(),
                row_hash: r.row_hash.as_deref(),
            };
            let text = serde_json::to_string(&line).map_err(|e| CliError::Failed(e.to_string()))?;
            writeln!(out, "{text}").map_err(failed)?;
        }
    }
    out.flush().map_err(failed)
}

/// `keymgr policy set`.
#[derive(Debug, Args)]
pub struct PolicySetArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The application.
    #[arg(long)]
    app: String,
    /// Days a key is valid (`key_validity_duration`).
    #[arg(long)]
    validity_days: i16,
    /// Days before expiry a key is replaced (`pre_expire_days`).
    #[arg(long)]
    pre_expire_days: i16,
    /// Make the policy inactive.
    #[arg(long)]
    inactive: bool,
    /// `access_allowed`: NA (everyone) or a comma list of user names.
    #[arg(long, default_value = "NA")]
    access_allowed: String,
    /// Apply it despite the lint's findings, for this reason (audited).
    #[arg(long, value_name = "REASON")]
    force: Option<String>,
}

/// Sets a policy through the lint, as the operator (`KEYMGR_OPERATOR`, else the login name).
pub fn policy_set(args: &PolicySetArgs) -> Result<(), CliError> {
    let app =
        keymgr_model::AppId::new(args.app.trim()).map_err(|e| CliError::Usage(format!("--app: {e}")))?;
    let policy = keymgr_model::KeyPolicy::from_columns(
        app,
        args.validity_days,
        args.pre_expire_days,
        !args.inactive,
        Some(args.access_allowed.as_str()),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let km = key_manager(&AuditArgs { config: args.config.clone() })?;
    match km.change_policy(&policy, &crate::lifecycle_cmd::operator(), args.force.as_deref()) {
        Ok(change) => {
            for f in &change.findings {
                println!("forced over: {}: {}", f.app_id, f.message);
            }
            println!("policy of {} updated", args.app.trim());
            Ok(())
        }
        Err(e @ keymgr_core::KeymgrError::PolicyLintFailed(_)) => Err(CliError::Usage(e.to_string())),
        Err(e) => Err(CliError::Failed(e.to_string())),
    }
}
