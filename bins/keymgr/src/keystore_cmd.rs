//! `keymgr keystore migrate`: moves the keys of the file keystore (ROOT, the masters, the
//! signing keys, the ZK master) into a PKCS#11 token under the same aliases, so the database
//! needs no change: each key is imported as a non-extractable token object with its
//! certificate and checked by use. The file keystore is left as it is until the operator has
//! switched the configuration to the token and checked the service, then runs it with
//! `--confirm` and the new configuration: every key is checked once more, then the file and
//! its PIN file are destroyed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use keymgr_db::AuditEntry;
use keymgr_hsm::{FileKeystore, KeyMove, KeyMoveReport, Pkcs11Config, Pkcs11Keystore, file_to_token};
use keymgr_model::UtcTime;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::lifecycle_cmd::operator;
use crate::service_cmd::ConfigArgs;

/// `keymgr keystore ...`.
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// Import the file keystore's keys into a PKCS#11 token (the file is left as it is);
    /// --confirm, once the service runs on the token, destroys the file.
    Migrate(MigrateArgs),
}

/// `keymgr keystore migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The configuration: the file keystore's to import, the token's with --confirm.
    #[command(flatten)]
    config: ConfigArgs,
    /// The PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so (with --confirm: the
    /// configuration's).
    #[arg(long, value_name = "FILE", required_unless_present = "confirm")]
    module: Option<PathBuf>,
    /// The token's label (with --confirm: the configuration's).
    #[arg(long, required_unless_present = "confirm")]
    token_label: Option<String>,
    /// A file holding the token's user PIN (else KEYMGR_TOKEN_PIN; with --confirm the
    /// service's KEYMGR_KEYSTORE_PIN).
    #[arg(long, value_name = "FILE")]
    token_pin_file: Option<PathBuf>,
    /// Show what would be imported; import nothing.
    #[arg(long)]
    dry_run: bool,
    /// With the configuration switched to the token: check that every key of the file keystore
    /// is on it, then destroy the file keystore and its PIN file.
    #[arg(long, conflicts_with_all = ["dry_run", "module", "token_label"])]
    confirm: bool,
    /// The file keystore to destroy with --confirm (default DATA_DIR/keystore.kmks).
    #[arg(long, value_name = "FILE", requires = "confirm")]
    file: Option<PathBuf>,
    /// Its PIN file (default DATA_DIR/keystore.pin).
    #[arg(long, value_name = "FILE", requires = "confirm")]
    file_pin_file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `keymgr keystore` command.
pub fn run(command: KeystoreCommand) -> Result<(), CliError> {
    match command {
        KeystoreCommand::Migrate(args) => migrate(&args),
    }
}

fn token_pin(args: &MigrateArgs) -> Result<Zeroizing<String>, CliError> {
    let pin = match &args.token_pin_file {
        Some(path) => read_pin(path, "--token-pin-file")?,
        None => {
            let var = if args.confirm { "KEYMGR_KEYSTORE_PIN" } else { "KEYMGR_TOKEN_PIN" };
            Zeroizing::new(
                std::env::var(var)
                    .map_err(|_| CliError::Usage(format!("the token's PIN: --token-pin-file or {var}")))?,
            )
        }
    };
    if pin.is_empty() {
        return Err(CliError::Usage("the token's PIN is empty".into()));
    }
    Ok(pin)
}

/// A PIN from a file, its line end removed; the file's text is zeroized too.
fn read_pin(path: &Path, what: &str) -> Result<Zeroizing<String>, CliError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{what} {}: {e}", path.display())))?,
    );
    Ok(Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned()))
}

fn migrate(args: &MigrateArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    let pin = token_pin(args)?;
    let (file, token_label, module, pin_file) = if args.confirm {
        let keymgr_service::KeystoreConfig::Pkcs11 { module, token_label, .. } = &config.keystore else {
            return Err(CliError::Usage(
                "--confirm runs with the configuration switched to the token ([keystore] type = \"pkcs11\")"
                    .into(),
            ));
        };
        let path = args.file.clone().unwrap_or_else(|| config.data_dir().join("keystore.kmks"));
        let pin_file =
            args.file_pin_file.clone().unwrap_or_else(|| config.data_dir().join(keymgr_service::PIN_FILE));
        let file_pin = read_pin(&pin_file, "the file keystore's PIN file")?;
        let file = FileKeystore::open(&path, file_pin.as_bytes())
            .map_err(|e| CliError::Usage(format!("the file keystore {}: {e}", path.display())))?;
        (file, token_label.clone(), module.clone(), Some(pin_file))
    } else {
        let file = keymgr_service::open_existing_file_keystore(&config)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let (Some(module), Some(label)) = (&args.module, &args.token_label) else {
            return Err(CliError::Usage("--module and --token-label name the token".into()));
        };
        (file, label.clone(), module.clone(), None)
    };
    let token =
        Pkcs11Keystore::new(Pkcs11Config { module, token_label: token_label.clone(), pin, pool_size: 2 })
            .map_err(|e| CliError::Usage(format!("PKCS#11 token {token_label:?}: {e}")))?;
    let reports = file_to_token(&file, &token, args.dry_run || args.confirm)
        .map_err(|e| CliError::Failed(format!("keystore: {e}")))?;
    let all_on_token = reports.iter().all(|r| r.outcome.is_on_token());
    print_report(args, &token_label, &file, &reports);
    if args.dry_run {
        return Ok(());
    }
    let db = keymgr_service::open_database(&config, 1, false).map_err(|e| CliError::Failed(e.to_string()))?;
    let audit = |action: &str, detail: String| {
        db.append_audit(&AuditEntry {
            time: UtcTime::now(),
            actor: operator(),
            action: action.into(),
            app_id: None,
            ref_id: None,
            key_alias: None,
            detail: Some(detail),
        })
        .map_err(|e| CliError::Failed(format!("audit: {e}")))
    };
    let Some(pin_file) = pin_file else {
        let imported = reports.iter().filter(|r| r.outcome == KeyMove::Imported).count();
        audit(
            "keystore_migrated",
            format!(
                "{imported} keys imported into PKCS#11 token {token_label:?}; {} of {} on the token",
                reports.iter().filter(|r| r.outcome.is_on_token()).count(),
                reports.len()
            ),
        )?;
        if !all_on_token {
            return Err(CliError::Failed("some keys are not on the token; see above".into()));
        }
        if !args.json {
            println!(
                "\nEvery key is on the token; {} is unchanged. Next: set [keystore] type = \"pkcs11\" \
                 (module, token_label) with KEYMGR_KEYSTORE_PIN, start the service and check it, then \
                 run `keymgr keystore migrate --confirm` with that configuration to destroy the file keystore.",
                file.path().display()
            );
        }
        return Ok(());
    };
    if !all_on_token {
        return Err(CliError::Failed(
            "not every key of the file keystore is on the token: the file keystore stays".into(),
        ));
    }
    let path = file.path().to_owned();
    // Releases the file's lock.
    drop(file);
    shred(&path)?;
    if pin_file.exists() {
        shred(&pin_file)?;
    }
    audit(
        "file_keystore_destroyed",
        format!(
            "{} keys checked on PKCS#11 token {token_label:?}; {} destroyed",
            reports.len(),
            path.display()
        ),
    )?;
    println!("destroyed {} and its PIN file; the keys live on token {token_label:?}", path.display());
    Ok(())
}

/// Overwrites a file with zeros, syncs it, and removes it.
fn shred(path: &Path) -> Result<(), CliError> {
    let bad = |e: std::io::Error| CliError::Failed(format!("{}: {e}", path.display()));
    let len = std::fs::metadata(path).map_err(bad)?.len();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(bad)?;
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all(zeros.get(..n).unwrap_or_default()).map_err(bad)?;
        left -= n as u64;
    }
    file.sync_all().map_err(bad)?;
    drop(file);
    std::fs::remove_file(path).map_err(bad)
}

fn outcome_text(outcome: &KeyMove) -> String {
    match outcome {
        KeyMove::Imported => "imported".into(),
        KeyMove::OnTokenAlready => "on the token already".into(),
        KeyMove::WouldImport => "would be imported".into(),
        KeyMove::Differs(why) => format!("DIFFERS on the token ({why}): left alone"),
        KeyMove::CannotMove(why) => format!("CANNOT MOVE: {why}"),
        KeyMove::Failed(why) => format!("FAILED: {why}"),
    }
}

fn print_report(args: &MigrateArgs, token_label: &str, file: &FileKeystore, reports: &[KeyMoveReport]) {
    if args.json {
        let keys: Vec<_> = reports
            .iter()
            .map(|r| json!({"alias": r.alias, "kind": format!("{:?}", r.kind), "outcome": outcome_text(&r.outcome)}))
            .collect();
        println!(
            "{:#}",
            json!({
                "file": file.path().display().to_string(),
                "token": token_label,
                "dryRun": args.dry_run,
                "keys": keys,
                "onToken": reports.iter().filter(|r| r.outcome.is_on_token()).count(),
            })
        );
        return;
    }
    let verb = if args.confirm {
        "checked against"
    } else if args.dry_run {
        "would import into"
    } else {
        "imports into"
    };
    println!("{} {verb} PKCS#11 token {token_label:?}:", file.path().display());
    for r in reports {
        println!("  {} ({:?}): {}", r.alias, r.kind, outcome_text(&r.outcome));
    }
    let count = |f: fn(&KeyMove) -> bool| reports.iter().filter(|r| f(&r.outcome)).count();
    println!(
        "{} keys: {} imported, {} on the token already, {} to import, {} not moved",
        reports.len(),
        count(|o| *o == KeyMove::Imported),
        count(|o| *o == KeyMove::OnTokenAlready),
        count(|o| *o == KeyMove::WouldImport),
        count(|o| matches!(o, KeyMove::Differs(_) | KeyMove::CannotMove(_) | KeyMove::Failed(_))),
    );
}
