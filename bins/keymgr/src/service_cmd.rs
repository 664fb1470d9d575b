//! `keymgr serve`, `keymgr keygen`, `keymgr report` and `keymgr migrate`: the service and the
//! operator's commands over one configuration.

use std::path::PathBuf;

use clap::Args;
use keymgr_db::Database;
use keymgr_model::{AppId, UtcTime};
use keymgr_policy::{Severity, forecast, lint};
use keymgr_service::{ServiceConfig, start};
use serde::Serialize;

use crate::error::CliError;

/// Where the configuration comes from; shared by the service commands.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (see docs/CONFIG.md); without it, the embedded defaults:
    /// SQLite and the file keystore in the data directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (default ./keymgr-data; env KEYMGR_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    pub(crate) fn load(&self) -> Result<ServiceConfig, CliError> {
        let mut config =
            ServiceConfig::load(self.config.as_deref()).map_err(|e| CliError::Usage(e.to_string()))?;
        if let Some(d) = &self.data_dir {
            config.data_dir = Some(d.clone());
        }
        Ok(config)
    }
}

/// `keymgr serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (default 127.0.0.1:8088; env KEYMGR_LISTEN).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

/// `keymgr keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// `keymgr report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Forecast horizon in days.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `keymgr migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYMGR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

/// Runs the service until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub fn serve(args: &ServeArgs) -> Result<(), CliError> {
    init_logging();
    let mut config = args.config.load()?;
    if let Some(l) = &args.listen {
        config.listen = Some(l.clone());
    }
    eprintln!("keymgr: opening {} ...", config.data_dir().display());
    let started = start(&config).map_err(|e| CliError::Failed(e.to_string()))?;
    if config.http.development_without_auth {
        tracing::warn!(
            "AUTHENTICATION IS OFF (http.development_without_auth): never run this way in production"
        );
    }
    for (key_ref, alias) in &started.keygen.created {
        tracing::info!("key generator made {key_ref}: {alias}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen())
            .await
            .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", config.listen())))?;
        let addr = listener.local_addr().map_err(|e| CliError::Failed(e.to_string()))?;
        let base = format!("http://{addr}{}", keymgr_http::PREFIX);
        println!("keymgr serving {base}");
        println!("  database: {}; keystore: {}", started.database, started.keystore);
        if started.first_start {
            println!("  initialised {} (first start)", config.data_dir().display());
        }
        match &started.admin_token_path {
            Some(p) => {
                println!("  admin token: {}", p.display());
                println!(
                    "  try: curl -s -H \"Authorization: Bearer $(cat {})\" '{base}/getCertificate?applicationId=REGISTRATION&referenceId=10001_110011'",
                    p.display()
                );
            }
            None => println!("  tokens: as configured in [auth] (no admin.token in the data directory)"),
        }
        let housekeeping = keymgr_http::start_housekeeping(&started.state, keymgr_http::HOUSEKEEPING_EVERY);
        let mut app = keymgr_http::router(std::sync::Arc::clone(&started.state));
        if let Some(settings) = started.console {
            println!("  operator console: http://{addr}/console");
            app = app.merge(keymgr_console::router(started.state, settings));
        }
        keymgr_http::server::serve(listener, app, started.server_limits, shutdown_signal())
            .await
            .map_err(|e| CliError::Failed(format!("server: {e}")))?;
        housekeeping.abort();
        println!("keymgr: stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Runs the key generator and prints what existed and what it made.
pub fn keygen(args: &KeygenArgs) -> Result<(), CliError> {
    let mut config = args.config.load()?;
    config.keys.keygen_on_start = true;
    eprintln!("keymgr: running the key generator on {} ...", config.data_dir().display());
    let started = start(&config).map_err(|e| CliError::Failed(e.to_string()))?;
    for (key_ref, alias) in &started.keygen.existing {
        println!("exists   {key_ref:<40} {alias}");
    }
    for (key_ref, alias) in &started.keygen.created {
        println!("created  {key_ref:<40} {alias}");
    }
    println!("{} existed, {} created", started.keygen.existing.len(), started.keygen.created.len());
    if let Some(zk) = started.zk {
        println!("ZK random keys: {} existed, {} made", zk.existing, zk.made);
    }
    Ok(())
}

pub(crate) fn open_database(config: &ServiceConfig) -> Result<Database, CliError> {
    keymgr_service::open_database(config, 2, false).map_err(|e| CliError::Failed(e.to_string()))
}

#[derive(Serialize)]
struct ReportJson {
    generated_at: String,
    horizon_days: u32,
    forecast: Vec<ForecastJson>,
    findings: Vec<FindingJson>,
}

#[derive(Serialize)]
struct ForecastJson {
    application_id: String,
    reference_id: String,
    alias: String,
    rotates_at: String,
    expires_at: String,
    pre_expire_days: u16,
}

#[derive(Serialize)]
struct FindingJson {
    severity: &'static str,
    application_id: String,
    message: String,
}

/// Prints the forecast of rotations within `--days` and the policy lint.
pub fn report(args: &ReportArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    let db = open_database(&config)?;
    let failed = |e: keymgr_db::DbError| CliError::Failed(format!("database: {e}"));
    let keys = db.all_aliases().map_err(failed)?;
    let policies = db.policies().map_err(failed)?;
    let now = UtcTime::now();
    let items = forecast(&keys, &policies, now, args.days);
    let mut apps: Vec<AppId> = keys.iter().map(|k| k.key_ref.app.clone()).collect();
    apps.sort();
    apps.dedup();
    let findings = lint(&policies, &apps);
    let report = ReportJson {
        generated_at: now.to_mosip_string(),
        horizon_days: args.days,
        forecast: items
            .iter()
            .map(|i| ForecastJson {
                application_id: i.key_ref.app.to_string(),
                reference_id: i.key_ref.reference.to_string(),
                alias: i.alias.clone(),
                rotates_at: i.rotates_at.to_mosip_string(),
                expires_at: i.expires_at.to_mosip_string(),
                pre_expire_days: i.pre_expire_days,
            })
            .collect(),
        findings: findings
            .iter()
            .map(|f| FindingJson {
                severity: match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                application_id: f.app_id.clone(),
                message: f.message.clone(),
            })
            .collect(),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    println!("Keys rotating or expiring within {} days ({} keys in total)", args.days, keys.len());
    if report.forecast.is_empty() {
        println!("  none");
    } else {
        println!("  {:<24} {:<24} {:<26} {:<26} pre", "application", "reference", "rotates at", "expires at");
        for f in &report.forecast {
            println!(
                "  {:<24} {:<24} {:<26} {:<26} {}",
                f.application_id, f.reference_id, f.rotates_at, f.expires_at, f.pre_expire_days
            );
        }
    }
    println!("Policy findings");
    if report.findings.is_empty() {
        println!("  none");
    }
    for f in &report.findings {
        println!("  {:<8} {:<24} {}", f.severity, f.application_id, f.message);
    }
    Ok(())
}

/// Applies the database migrations (the service also does at start).
pub fn migrate(args: &MigrateArgs) -> Result<(), CliError> {
    let config = args.config.load()?;
    if config.database.url.is_none() {
        keymgr_service::prepare_data_dir(&config).map_err(|e| CliError::Failed(e.to_string()))?;
    }
    let db = keymgr_service::open_database(&config, 1, true).map_err(|e| CliError::Failed(e.to_string()))?;
    println!("migrations applied ({:?})", db.backend());
    Ok(())
}
