//! `keymgr migrate-keys`: moves this deployment's keys to another deployment over its REST API
//! (this service or MOSIP's), as MOSIP's migration job does: base keys re-wrapped for the
//! target's current master of their application (`/migrateBaseKey`), PARTNER certificates
//! (`NA`), then the ZK random keys under the target's one-day migration key
//! (`/getZKTempCertificate`, `/migrateZKKeys` in batches, the last call purging that key).
//!
//! Resumable: every key the target took (or already had) is written to a journal, which a
//! second run reads and skips; a key in flight when a run died is answered `Migration Not
//! Allowed. Valid Key Exists.` the second time, which counts as done. `--dry-run` reads
//! everything and sends nothing but the read of the target's master certificates.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use keymgr_client::{ClientError, HttpClient, HttpOptions, MosipClient};
use keymgr_core::{KeyManager, MAX_ZK_MIGRATE_KEYS, MigrationInventory, OutgoingKey};
use keymgr_crypto::Certificate;
use keymgr_db::StoredKey;
use serde_json::{Value, json};

use crate::error::CliError;
use crate::lifecycle_cmd::{manager, operator};
use crate::service_cmd::ConfigArgs;

/// MOSIP's answers of `migrateBaseKey` and of each key of `migrateZKKeys`.
const MIGRATED: &str = "Migration Success";
const ALREADY_THERE: &str = "Migration Not Allowed. Valid Key Exists.";

/// `keymgr migrate-keys`.
#[derive(Debug, Args)]
pub struct MigrateKeysArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The target's key manager API, e.g. `https://keymgr.example/v1/keymanager`.
    #[arg(long, value_name = "URL")]
    to: String,
    /// A file holding the bearer token for the target (a role that may migrate keys).
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// CA certificates (PEM) the target's https certificate is checked against (default:
    /// Mozilla's roots).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The journal of what the target has taken; a second run skips it (default:
    /// migrate-keys.journal in the current directory).
    #[arg(long, value_name = "FILE", default_value = "migrate-keys.journal")]
    journal: PathBuf,
    /// Base keys in flight at once, each on its own connection (the target's database commits
    /// are the limit; MOSIP's job sends one at a time).
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// ZK random keys per `/migrateZKKeys` request (MOSIP's job: 500).
    #[arg(long, default_value_t = 500)]
    zk_batch: usize,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Allow `http://` to a host other than this machine. Without TLS anyone on the path can
    /// read the token and substitute the certificate every private key is wrapped for.
    #[arg(long)]
    allow_http: bool,
    /// List what would move and check the target's masters; send no key.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// What one run did, per kind of key.
#[derive(Debug, Default)]
struct Tally {
    total: usize,
    moved: usize,
    there_already: usize,
    skipped_journal: usize,
    failed: Vec<(String, String)>,
}

impl Tally {
    fn done(&self) -> usize {
        self.moved + self.there_already + self.skipped_journal
    }

    fn json(&self) -> Value {
        json!({
            "total": self.total,
            "moved": self.moved,
            "thereAlready": self.there_already,
            "doneBefore": self.skipped_journal,
            "failed": self.failed.iter().map(|(k, why)| json!({"key": k, "error": why})).collect::<Vec<_>>(),
        })
    }
}

/// Runs `keymgr migrate-keys`: exit 0 when every key is on the target, 1 when some failed (run
/// it again: it resumes), 2 for bad arguments or a target that refuses the token.
pub fn run(args: &MigrateKeysArgs) -> Result<(), CliError> {
    if args.zk_batch == 0 || args.zk_batch > MAX_ZK_MIGRATE_KEYS {
        return Err(CliError::Usage(format!("--zk-batch must be 1 to {MAX_ZK_MIGRATE_KEYS}")));
    }
    let token = zeroize::Zeroizing::new(
        std::fs::read_to_string(&args.token_file)
            .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", args.token_file.display())))?,
    );
    check_transport(&args.to, args.allow_http)?;
    let ca = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| CliError::Usage(format!("--ca-file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let options = HttpOptions {
        ca_pem: ca,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        ..HttpOptions::default()
    };
    if args.parallel == 0 || args.parallel > 64 {
        return Err(CliError::Usage("--parallel must be 1 to 64".into()));
    }
    let mut clients = Vec::with_capacity(args.parallel);
    for _ in 0..args.parallel {
        let http = HttpClient::new(&args.to, options.clone())
            .map_err(|e| CliError::Usage(format!("--to {:?}: {e}", args.to)))?;
        clients
            .push(MosipClient::new(http, &token).map_err(|e| CliError::Usage(format!("--token-file: {e}")))?);
    }
    let client = clients.first().cloned().ok_or_else(|| CliError::Usage("--parallel".into()))?;
    let km = manager(&args.config)?;
    let inventory = km.migration_inventory().map_err(|e| CliError::Failed(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    if args.dry_run {
        let journal = Journal::read(&args.journal, &args.to)?;
        return runtime.block_on(dry_run(args, &client, &inventory, &journal));
    }
    let mut journal = Journal::open(&args.journal, &args.to)?;
    let started = Instant::now();
    let result = runtime.block_on(migrate(args, &km, &clients, &inventory, &mut journal));
    journal.sync()?;
    let (base, partner, zk) = result?;
    let elapsed = started.elapsed();
    let failed = base.failed.len() + partner.failed.len() + zk.failed.len();
    let summary = format!(
        "base keys {}/{} ({} moved), partner certificates {}/{} ({} moved), ZK keys {}/{} ({} moved), {failed} failed",
        base.done(),
        base.total,
        base.moved,
        partner.done(),
        partner.total,
        partner.moved,
        zk.done(),
        zk.total,
        zk.moved,
    );
    km.audit_migration_out(&operator(), &args.to, &summary).map_err(|e| CliError::Failed(e.to_string()))?;
    if args.json {
        let report = json!({
            "target": args.to,
            "baseKeys": base.json(),
            "partnerCertificates": partner.json(),
            "zkKeys": zk.json(),
            "staying": inventory.staying.iter()
                .map(|s| json!({"alias": s.alias, "key": s.key_ref.to_string(), "reason": s.reason}))
                .collect::<Vec<_>>(),
            "seconds": elapsed.as_secs_f64(),
        });
        println!("{report:#}");
    } else {
        println!("migrated to {}: {summary}", args.to);
        let sent = base.moved + partner.moved;
        if sent > 0 {
            println!(
                "{:.1} s, {:.0} keys/s; journal {}",
                elapsed.as_secs_f64(),
                sent as f64 / elapsed.as_secs_f64().max(1e-9),
                args.journal.display()
            );
        }
        for (key, why) in base.failed.iter().chain(&partner.failed).chain(&zk.failed) {
            println!("  failed {key}: {why}");
        }
        print_staying(&inventory);
    }
    if failed > 0 {
        return Err(CliError::Failed(format!("{failed} keys failed; run the command again to retry them")));
    }
    Ok(())
}

fn print_staying(inventory: &MigrationInventory) {
    for s in &inventory.staying {
        println!("  stays {} ({}): {}", s.alias, s.key_ref, s.reason);
    }
    if inventory.keystore_keys > 0 {
        println!(
            "  stay {} keystore keys (ROOT, masters, signing keys): the target has its own",
            inventory.keystore_keys
        );
    }
}

/// Refuses plain `http://` except to this machine (or with `--allow-http`): the keys are
/// wrapped for whatever certificate the target's answers hold.
fn check_transport(url: &str, allow_http: bool) -> Result<(), CliError> {
    let Some(rest) = url.strip_prefix("http://") else { return Ok(()) };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_http {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "--to {url:?} is plain http to another host: the keys would be wrapped for whatever certificate an \
         attacker on the path answers; use https (--ca-file for a private CA) or --allow-http"
    )))
}

/// Requests in a row without an answer (timeouts, broken connections) after which the target
/// counts as unreachable and the run stops.
const MAX_UNANSWERED: usize = 3;

/// Whether the target holds `key` (its certificate among the pair's, `getAllCertificates`, a
/// read): how a `Migration Not Allowed` answer is told apart. MOSIP answers it also when the
/// pair has another valid key and the sent one was not stored.
async fn holds_certificate(client: &MosipClient, key: &OutgoingKey) -> Result<bool, ClientError> {
    let ours = Certificate::from_pem(key.certificate_pem.as_bytes())
        .map_err(|e| ClientError::Json(format!("the key's certificate: {e}")))?
        .thumbprint();
    let response = client
        .get(
            "/getAllCertificates",
            &[("applicationId", key.key_ref.app.as_str()), ("referenceId", key.key_ref.reference.as_str())],
        )
        .await?;
    let all = response.get("allCertificates").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(all
        .iter()
        .filter_map(|c| c.get("certificateData").and_then(Value::as_str))
        .any(|pem| Certificate::from_pem(pem.as_bytes()).is_ok_and(|c| c.thumbprint() == ours)))
}

/// A target refusal the operator must fix (the token, the role) stops the run at once.
fn is_fatal(e: &ClientError) -> bool {
    matches!(e, ClientError::Config(_) | ClientError::Tls(_) | ClientError::Connect(_))
        || matches!(
            e,
            ClientError::Status { status: 401 | 403, .. } | ClientError::Mosip { status: 401 | 403, .. }
        )
        || matches!(e, ClientError::Mosip { code, .. } if code.starts_with("KER-ATH"))
}

fn stop(e: ClientError) -> CliError {
    CliError::Usage(format!("the target refused or is unreachable: {e}"))
}

async fn master_certificate(client: &MosipClient, app: &str) -> Result<Certificate, ClientError> {
    let response = client.get("/getCertificate", &[("applicationId", app), ("referenceId", "")]).await?;
    let pem = response
        .get("certificate")
        .and_then(Value::as_str)
        .ok_or_else(|| ClientError::Json("getCertificate answered no certificate".into()))?;
    Certificate::from_pem(pem.as_bytes()).map_err(|e| ClientError::Json(format!("the certificate: {e}")))
}

async fn dry_run(
    args: &MigrateKeysArgs,
    client: &MosipClient,
    inventory: &MigrationInventory,
    journal: &Journal,
) -> Result<(), CliError> {
    let mut per_app: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for key in &inventory.base_keys {
        let entry = per_app.entry(key.key_ref.app.to_string()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(journal.has(&entry_name("base", &key.alias)));
    }
    let mut report = Vec::new();
    let mut problems = 0;
    for (app, (count, done)) in &per_app {
        let target = match master_certificate(client, app).await {
            Ok(cert) => format!(
                "target master {} valid until {}",
                cert.thumbprint().to_hex().get(..16).unwrap_or_default(),
                cert.not_after().to_mosip_string()
            ),
            Err(e) if is_fatal(&e) => return Err(stop(e)),
            Err(e) => {
                problems += 1;
                format!("NO TARGET MASTER: {e}")
            }
        };
        report.push(json!({"application": app, "baseKeys": count, "done": done, "target": target}));
    }
    let partner_done = inventory
        .partner_certificates
        .iter()
        .filter(|k| journal.has(&entry_name("partner", &k.alias)))
        .count();
    let zk_done = journal.entries.iter().filter(|e| e.starts_with("zk ")).count();
    if args.json {
        println!(
            "{:#}",
            json!({
                "target": args.to,
                "dryRun": true,
                "applications": report,
                "partnerCertificates": {"total": inventory.partner_certificates.len(), "done": partner_done},
                "zkKeys": {"total": inventory.zk_keys, "done": zk_done},
                "staying": inventory.staying.iter()
                    .map(|s| json!({"alias": s.alias, "key": s.key_ref.to_string(), "reason": s.reason}))
                    .collect::<Vec<_>>(),
                "keystoreKeys": inventory.keystore_keys,
            })
        );
    } else {
        println!("dry run: what `keymgr migrate-keys --to {}` would move (nothing was sent)", args.to);
        for line in &report {
            println!(
                "  {:<24} {:>6} base keys ({} done before)  {}",
                line["application"].as_str().unwrap_or_default(),
                line["baseKeys"],
                line["done"],
                line["target"].as_str().unwrap_or_default()
            );
        }
        println!(
            "  {:<24} {:>6} certificates ({partner_done} done before)",
            "PARTNER",
            inventory.partner_certificates.len()
        );
        println!("  {:<24} {:>6} random keys ({zk_done} done before)", "ZK", inventory.zk_keys);
        print_staying(inventory);
    }
    if problems > 0 {
        return Err(CliError::Failed(format!("{problems} applications have no master on the target")));
    }
    Ok(())
}

async fn migrate(
    args: &MigrateKeysArgs,
    km: &KeyManager,
    clients: &[MosipClient],
    inventory: &MigrationInventory,
    journal: &mut Journal,
) -> Result<(Tally, Tally, Tally), CliError> {
    let client = clients.first().ok_or_else(|| CliError::Usage("--parallel must be at least 1".into()))?;
    let mut masters: HashMap<String, Result<Certificate, String>> = HashMap::new();
    for key in &inventory.base_keys {
        let app = key.key_ref.app.to_string();
        if let Entry::Vacant(slot) = masters.entry(app) {
            let fetched = match master_certificate(client, slot.key()).await {
                Ok(cert) => Ok(cert),
                Err(e) if is_fatal(&e) => return Err(stop(e)),
                Err(e) => Err(format!("no master of {} on the target: {e}", slot.key())),
            };
            slot.insert(fetched);
        }
    }
    let mut base = Tally { total: inventory.base_keys.len(), ..Tally::default() };
    send_keys(km, clients, &inventory.base_keys, "base", &masters, journal, &mut base).await?;
    let mut partner = Tally { total: inventory.partner_certificates.len(), ..Tally::default() };
    send_keys(km, clients, &inventory.partner_certificates, "partner", &masters, journal, &mut partner)
        .await?;
    let zk = migrate_zk(args, km, client, inventory, journal).await?;
    Ok((base, partner, zk))
}

/// Sends `keys`, as many at once as there are clients (one connection each): each window is
/// prepared here (the re-wrap), sent concurrently, and its answers recorded in order.
async fn send_keys(
    km: &KeyManager,
    clients: &[MosipClient],
    keys: &[OutgoingKey],
    kind: &str,
    masters: &HashMap<String, Result<Certificate, String>>,
    journal: &mut Journal,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let what = if kind == "base" { "base keys" } else { "partner certificates" };
    let checker = clients.first().ok_or_else(|| CliError::Usage("--parallel must be at least 1".into()))?;
    let mut seen = 0;
    let mut unanswered = 0;
    for window in keys.chunks(clients.len().max(1)) {
        let mut pending = tokio::task::JoinSet::new();
        for (i, (key, client)) in window.iter().zip(clients).enumerate() {
            let master =
                masters.get(key.key_ref.app.as_str()).cloned().unwrap_or_else(|| Err("no master".into()));
            let Some((name, label, request)) = prepare_key(km, key, kind, master.as_ref(), journal, tally)
            else {
                continue;
            };
            let client = client.clone();
            pending.spawn(async move { (i, name, label, client.post("/migrateBaseKey", &request).await) });
        }
        let mut answers = Vec::with_capacity(window.len());
        while let Some(joined) = pending.join_next().await {
            answers.push(joined.map_err(|e| CliError::Failed(format!("a request task: {e}")))?);
        }
        answers.sort_by_key(|(i, ..)| *i);
        for (i, name, label, answer) in answers {
            let Some(key) = window.get(i) else { continue };
            if matches!(answer, Err(ClientError::Timeout(_) | ClientError::Http(_))) {
                unanswered += 1;
            } else {
                unanswered = 0;
            }
            match answer {
                Ok(response) => match response.get("status").and_then(Value::as_str) {
                    Some(MIGRATED) => {
                        tally.moved += 1;
                        journal.record(&name)?;
                    }
                    Some(ALREADY_THERE) => match holds_certificate(checker, key).await {
                        Ok(true) => {
                            tally.there_already += 1;
                            journal.record(&name)?;
                        }
                        Ok(false) => tally.failed.push((
                            label,
                            "Migration Not Allowed: the target has a valid key of this pair and does not hold this one"
                                .into(),
                        )),
                        Err(e) => tally.failed.push((label, format!("Migration Not Allowed, and the check failed: {e}"))),
                    },
                    other => tally
                        .failed
                        .push((label, format!("the target answered {}", other.unwrap_or("no status")))),
                },
                Err(e) if is_fatal(&e) || unanswered >= MAX_UNANSWERED => return Err(stop(e)),
                Err(e) => tally.failed.push((label, e.to_string())),
            }
        }
        let before = seen;
        seen += window.len();
        progress(what, before, seen, tally);
    }
    Ok(())
}

/// The `migrateBaseKey` request of one key (`None` when the journal has it or it cannot be
/// prepared, which is tallied): its journal entry, its label and the request.
fn prepare_key(
    km: &KeyManager,
    key: &OutgoingKey,
    kind: &str,
    master: Result<&Certificate, &String>,
    journal: &Journal,
    tally: &mut Tally,
) -> Option<(String, String, Value)> {
    let name = entry_name(kind, &key.alias);
    if journal.has(&name) {
        tally.skipped_journal += 1;
        return None;
    }
    let label = format!("{} {}", key.key_ref, key.alias);
    let encrypted = match (&key.master_alias, master) {
        // A PARTNER certificate: no private key, no master.
        (None, _) => StoredKey::NO_PRIVATE_KEY.to_owned(),
        (Some(_), Err(why)) => {
            tally.failed.push((label, why.clone()));
            return None;
        }
        (Some(_), Ok(master)) => match km.export_base_key(key, master) {
            Ok(text) => text,
            Err(e) => {
                tally.failed.push((label, format!("{}: {e}", e.code())));
                return None;
            }
        },
    };
    let request = json!({
        "applicationId": key.key_ref.app.as_str(),
        "referenceId": key.key_ref.reference.as_str(),
        "encryptedKeyData": encrypted,
        "certificateData": key.certificate_pem,
        "notBefore": key.not_before.to_mosip_string(),
        "notAfter": key.not_after.to_mosip_string(),
    });
    Some((name, label, request))
}

async fn migrate_zk(
    args: &MigrateKeysArgs,
    km: &KeyManager,
    client: &MosipClient,
    inventory: &MigrationInventory,
    journal: &mut Journal,
) -> Result<Tally, CliError> {
    let mut tally = Tally { total: inventory.zk_keys, ..Tally::default() };
    let done_before = journal.entries.iter().filter(|e| e.starts_with("zk ")).count();
    if inventory.zk_keys == 0 || (done_before >= inventory.zk_keys && journal.has("zk-purged")) {
        tally.skipped_journal = done_before.min(inventory.zk_keys);
        return Ok(tally);
    }
    let response = match client.get("/getZKTempCertificate", &[]).await {
        Ok(r) => r,
        Err(e) if is_fatal(&e) => return Err(stop(e)),
        Err(e) => {
            tally.failed.push(("ZK keys".into(), format!("getZKTempCertificate: {e}")));
            return Ok(tally);
        }
    };
    let temp = response
        .get("certificate")
        .and_then(Value::as_str)
        .and_then(|pem| Certificate::from_pem(pem.as_bytes()).ok())
        .ok_or_else(|| CliError::Failed("getZKTempCertificate answered no certificate".into()))?;
    let now = keymgr_model::UtcTime::now();
    if !(temp.not_before() <= now.plus_days(1) && now < temp.not_after()) || temp.rsa_public_key().is_err() {
        return Err(CliError::Failed(
            "getZKTempCertificate answered a certificate that is not a valid RSA key now".into(),
        ));
    }
    let batch = i64::try_from(args.zk_batch).unwrap_or(500);
    let mut after = None;
    loop {
        let page = km.export_zk_keys(after, batch, &temp).map_err(|e| CliError::Failed(e.to_string()))?;
        let Some(&(last, _)) = page.last() else { break };
        after = Some(last);
        let mut list = Vec::with_capacity(page.len());
        for (index, encrypted) in page {
            if journal.has(&format!("zk {index}")) {
                tally.skipped_journal += 1;
                continue;
            }
            match encrypted {
                Ok(encrypted) => list.push(json!({"keyIndex": index, "encryptedKeyData": encrypted})),
                Err(e) => tally.failed.push((format!("ZK key {index}"), format!("{}: {e}", e.code()))),
            }
        }
        if !list.is_empty() {
            zk_request(client, list, false, journal, &mut tally).await?;
        }
        let seen = tally.done() + tally.failed.len();
        progress("ZK keys", seen.saturating_sub(1), seen, &tally);
    }
    // As MOSIP's job: a last request that purges the migration key on the target.
    if tally.failed.is_empty() {
        zk_request(client, Vec::new(), true, journal, &mut tally).await?;
        if tally.failed.is_empty() {
            journal.record("zk-purged")?;
        }
    }
    Ok(tally)
}

async fn zk_request(
    client: &MosipClient,
    list: Vec<Value>,
    purge: bool,
    journal: &mut Journal,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let indexes: Vec<i64> = list.iter().filter_map(|k| k["keyIndex"].as_i64()).collect();
    // Marked before sending: a key the target took in a run that died before its answer was
    // recorded is answered "not allowed" next time (MOSIP: the index exists), which then counts
    // as done for these indexes only.
    for index in &indexes {
        journal.record(&format!("sending zk {index}"))?;
    }
    journal.sync()?;
    let request = json!({"zkEncryptedDataList": list, "purgeTempKeyFlag": purge});
    let response = match client.post("/migrateZKKeys", &request).await {
        Ok(r) => r,
        Err(e) if is_fatal(&e) => return Err(stop(e)),
        Err(e) => {
            if purge {
                tally.failed.push(("ZK migration key purge".into(), e.to_string()));
            }
            for index in indexes {
                tally.failed.push((format!("ZK key {index}"), e.to_string()));
            }
            return Ok(());
        }
    };
    let answers = response.get("zkEncryptedDataList").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut answered = HashSet::new();
    for answer in answers {
        let Some(index) = answer.get("keyIndex").and_then(Value::as_i64) else { continue };
        answered.insert(index);
        match answer.get("statusMessage").and_then(Value::as_str) {
            Some(MIGRATED) => {
                tally.moved += 1;
                journal.record(&format!("zk {index}"))?;
            }
            Some(ALREADY_THERE) if journal.was_in_flight(&format!("sending zk {index}")) => {
                tally.there_already += 1;
                journal.record(&format!("zk {index}"))?;
            }
            Some(ALREADY_THERE) => tally.failed.push((
                format!("ZK key {index}"),
                "the target holds another key under this index (Migration Not Allowed)".into(),
            )),
            other => tally.failed.push((
                format!("ZK key {index}"),
                format!("the target answered {}", other.unwrap_or("no status")),
            )),
        }
    }
    for index in indexes.into_iter().filter(|i| !answered.contains(i)) {
        tally.failed.push((format!("ZK key {index}"), "the target did not answer for it".into()));
    }
    journal.sync()
}

/// A progress line when `seen` reaches the total or passes a multiple of 500.
fn progress(what: &str, before: usize, seen: usize, tally: &Tally) {
    if seen == tally.total || seen / 500 > before / 500 {
        eprintln!(
            "{what}: {seen}/{} ({} moved, {} there already, {} done before, {} failed)",
            tally.total,
            tally.moved,
            tally.there_already,
            tally.skipped_journal,
            tally.failed.len()
        );
    }
}

fn entry_name(kind: &str, alias: &str) -> String {
    format!("{kind} {alias}")
}

/// The journal: a header naming the target, then one line per key the target has.
struct Journal {
    path: PathBuf,
    entries: HashSet<String>,
    /// The entries an earlier run left (what this run found).
    earlier: HashSet<String>,
    file: Option<File>,
    unsynced: usize,
}

impl Journal {
    fn header(target: &str) -> String {
        format!("# keymgr migrate-keys --to {}", target.trim_end_matches('/'))
    }

    /// Reads the journal if there is one (a dry run writes nothing).
    fn read(path: &Path, target: &str) -> Result<Self, CliError> {
        let bad = |e: std::io::Error| CliError::Failed(format!("journal {}: {e}", path.display()));
        let mut entries = HashSet::new();
        match File::open(path) {
            Ok(file) => {
                let mut lines = BufReader::new(file).lines();
                let header = lines.next().transpose().map_err(bad)?.unwrap_or_default();
                // An empty file is a journal whose header a crash cut off: a new one.
                if !header.is_empty() && header != Self::header(target) {
                    return Err(CliError::Usage(format!(
                        "journal {} belongs to another target ({header:?}); give another --journal",
                        path.display()
                    )));
                }
                for line in lines {
                    let line = line.map_err(bad)?;
                    if !line.trim().is_empty() {
                        entries.insert(line);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(bad(e)),
        }
        Ok(Self { path: path.to_owned(), earlier: entries.clone(), entries, file: None, unsynced: 0 })
    }

    /// Reads the journal and opens it for appending (made with its header when new).
    fn open(path: &Path, target: &str) -> Result<Self, CliError> {
        let mut journal = Self::read(path, target)?;
        let bad = |e: std::io::Error| CliError::Failed(format!("journal {}: {e}", path.display()));
        let new = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(bad)?;
        if new {
            writeln!(file, "{}", Self::header(target)).map_err(bad)?;
            file.sync_all().map_err(bad)?;
        }
        journal.file = Some(file);
        Ok(journal)
    }

    fn has(&self, entry: &str) -> bool {
        self.entries.contains(entry)
    }

    /// Whether an earlier run sent this and died before recording the answer.
    fn was_in_flight(&self, sending: &str) -> bool {
        self.earlier.contains(sending)
    }

    /// Appends an entry; synced every 64 entries and at the end (an entry lost in a crash is a
    /// key sent again, which the target answers as there already).
    fn record(&mut self, entry: &str) -> Result<(), CliError> {
        let bad = |e: std::io::Error| CliError::Failed(format!("journal {}: {e}", self.path.display()));
        if let Some(file) = &mut self.file {
            writeln!(file, "{entry}").map_err(bad)?;
        }
        self.entries.insert(entry.to_owned());
        self.unsynced += 1;
        if self.unsynced >= 64 {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), CliError> {
        if let Some(file) = &self.file {
            file.sync_data()
                .map_err(|e| CliError::Failed(format!("journal {}: {e}", self.path.display())))?;
        }
        self.unsynced = 0;
        Ok(())
    }
}
