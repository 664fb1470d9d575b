//! The read-only pages: hierarchy, one key, timeline, trust store, audit trail, health.

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use keymgr_core::{CertRecord, KeyState, KeyStatus};
use keymgr_model::KeyTier;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Section, page, short, state_badge, when};
use crate::session::{Session, viewer};
use crate::{ConsoleError, Shared, blocking, plot};

/// A query string the page could not read.
fn bad_query(e: &axum::extract::rejection::QueryRejection) -> ConsoleError {
    ConsoleError::BadInput(format!("query: {}", e.body_text()))
}

/// `GET /console`: to the hierarchy (or the sign-in page).
pub async fn home() -> Response {
    Redirect::to("/console/hierarchy").into_response()
}

/// Any other path under `/console`.
pub async fn not_found() -> Response {
    ConsoleError::NotFound.into_response()
}

/// The hierarchy's search.
#[derive(Deserialize)]
pub struct HierarchyQuery {
    #[serde(default)]
    q: String,
}

/// Most base keys one hierarchy page lists; a search narrows them.
const MAX_KEYS_SHOWN: usize = 1000;

fn tier_name(tier: KeyTier) -> &'static str {
    match tier {
        KeyTier::Root => "ROOT",
        KeyTier::ModuleMaster => "Module masters",
        KeyTier::Signing | KeyTier::DatabaseSigning => "Signing keys",
        KeyTier::Base => "Base keys",
    }
}

fn matches(k: &KeyStatus, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_ascii_lowercase();
    let key = &k.key;
    [key.key_ref.app.as_str(), key.key_ref.reference.as_str(), key.alias.as_str()]
        .iter()
        .any(|f| f.to_ascii_lowercase().contains(&q))
        || key.thumbprint.as_ref().is_some_and(|t| t.to_hex().to_ascii_lowercase().contains(&q))
}

/// `GET /console/hierarchy?q=`: every key by tier and application, searchable by application,
/// reference, alias or thumbprint.
pub async fn hierarchy(
    State(console): Shared,
    headers: HeaderMap,
    query: Result<Query<HierarchyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    let q = query.q.trim().to_owned();
    let wanted = q.clone();
    let (keys, certificate_only) = blocking(&console, move |km| {
        let keys = km.key_statuses(None)?.into_iter().filter(|k| matches(k, &wanted)).collect::<Vec<_>>();
        Ok((keys, km.certificate_only_aliases()?))
    })
    .await?;
    let total = keys.len();
    // ROOT, masters and signing keys are always listed; base keys up to the cap, live ones
    // first, so that a search is what narrows them, not the sort order.
    let (mut base, others): (Vec<&KeyStatus>, Vec<&KeyStatus>) =
        keys.iter().partition(|k| k.key.key_ref.tier() == KeyTier::Base);
    let base_total = base.len();
    base.sort_by_key(|k| !matches!(k.state, KeyState::Active | KeyState::PreActive));
    base.truncate(MAX_KEYS_SHOWN);
    let mut groups: BTreeMap<(u8, &str, String), Vec<&KeyStatus>> = BTreeMap::new();
    for k in others.into_iter().chain(base) {
        let tier = k.key.key_ref.tier();
        let order = match tier {
            KeyTier::Root => 0,
            KeyTier::ModuleMaster => 1,
            KeyTier::Signing | KeyTier::DatabaseSigning => 2,
            KeyTier::Base => 3,
        };
        let other_domain = certificate_only.contains(&k.key.alias);
        let (order, name) =
            if other_domain { (4, "Other domains' certificates") } else { (order, tier_name(tier)) };
        let app = if tier == KeyTier::Base { k.key.key_ref.app.as_str().to_owned() } else { String::new() };
        groups.entry((order, name, app)).or_default().push(k);
    }
    let body = html! {
        form.search method="get" action="/console/hierarchy" role="search" {
            label for="q" { "Search by application, reference, alias or thumbprint" }
            input id="q" name="q" type="search" value=(q);
            button type="submit" { "Search" }
        }
        p { (total) " keys" @if !q.is_empty() { " matching " code { (q) } } "." }
        @if base_total > MAX_KEYS_SHOWN { p.note { (MAX_KEYS_SHOWN) " of " (base_total) " base keys are listed (live ones first); search to narrow them." } }
        @for ((_, tier, app), rows) in &groups {
            section {
                h2 { (tier) @if !app.is_empty() { " · " (app) } }
                (key_table(&session, rows, &certificate_only))
            }
        }
    };
    Ok(page("Key hierarchy", &session, Section::Hierarchy, body).into_response())
}

fn key_table(session: &Session, rows: &[&KeyStatus], certificate_only: &HashSet<String>) -> Markup {
    html! {
        table {
            thead { tr {
                th scope="col" { "Pair" } th scope="col" { "Key" } th scope="col" { "State" }
                th scope="col" { "Valid from" } th scope="col" { "Expires" } th scope="col" { "Thumbprint" }
                th scope="col" { "Lives in" }
                @if session.can_act { th scope="col" { "Act" } }
            } }
            tbody {
                @for k in rows {
                    @let key = &k.key;
                    @let tier = key.key_ref.tier();
                    tr {
                        td { (key.key_ref.app.as_str()) " / " (key.key_ref.reference.as_str()) }
                        td { a href={ "/console/keys/" (key.alias) } { code { (key.alias) } } }
                        td { (state_badge(k.state)) }
                        td { (when(key.generated_at)) }
                        td { (when(key.expires_at)) }
                        td { @if let Some(t) = &key.thumbprint { (short(&t.to_hex())) } @else { "symmetric" } }
                        @let other_domain = certificate_only.contains(&key.alias);
                        td { (if other_domain { "certificate only" } else if tier.in_hsm() { "keystore" } else { "database" }) }
                        @if session.can_act { td { @if !other_domain { (actions_for(k)) } } }
                    }
                }
            }
        }
    }
}

/// The action links a key offers.
fn actions_for(k: &KeyStatus) -> Markup {
    let key = &k.key;
    let tier = key.key_ref.tier();
    let pair = format!(
        "app={}&ref={}",
        url_encode(key.key_ref.app.as_str()),
        url_encode(key.key_ref.reference.as_str())
    );
    let live = matches!(k.state, KeyState::Active | KeyState::PreActive);
    html! {
        @if live && tier == KeyTier::Base {
            a.action href={ "/console/actions/revoke?" (pair) } { "Revoke…" } " "
        }
        @if live && tier == KeyTier::ModuleMaster {
            a.action href={ "/console/actions/rotate?" (pair) } { "Rotate…" } " "
        }
        @if key.thumbprint.is_some() && k.state != KeyState::Destroyed {
            a.action href={ "/console/actions/compromise?" (pair) "&alias=" (url_encode(&key.alias)) } { "Compromised…" }
        }
    }
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /console/keys/{alias}`: one key, its state record and its certificate.
pub async fn key_detail(
    State(console): Shared,
    headers: HeaderMap,
    Path(alias): Path<String>,
) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let wanted = alias.clone();
    let (status, certificate, other_domain) = blocking(&console, move |km| {
        let status = km.key_status(&wanted).map_err(|e| match e {
            keymgr_core::KeymgrError::NoUniqueAlias(_) => ConsoleError::NotFound,
            other => other.into(),
        })?;
        let certificate = km.key_certificate(&wanted)?;
        let other_domain = km.certificate_only_aliases()?.contains(&wanted);
        Ok((status, certificate, other_domain))
    })
    .await?;
    let key = &status.key;
    let body = html! {
        dl.facts {
            dt { "Pair" } dd { (key.key_ref.app.as_str()) " / " (key.key_ref.reference.as_str()) }
            dt { "Tier" } dd { (tier_name(key.key_ref.tier())) }
            dt { "State" } dd { (state_badge(status.state)) }
            @if let Some(r) = &status.record {
                dt { "State set by" } dd { (r.updated_by) " at " (when(r.updated_at)) @if let Some(why) = &r.reason { ": " (why) } }
                @if let Some(u) = r.recovery_until { dt { "Recovery window until" } dd { (when(u)) } }
            }
            dt { "Valid from" } dd { (when(key.generated_at)) }
            dt { "Expires" } dd { (when(key.expires_at)) }
            dt { "Private key lives in" } dd {
                (if other_domain { "nowhere here: another domain's certificate (uploadOtherDomainCertificate)" }
                 else if key.key_ref.tier().in_hsm() { "the keystore (HSM)" }
                 else { "the database, wrapped by its module master" })
            }
            @if let Some(t) = &key.thumbprint { dt { "Thumbprint (SHA-256)" } dd { code { (t.to_hex()) } } }
        }
        @if session.can_act && !other_domain { p { (actions_for(&status)) } }
        @if let Some(c) = &certificate {
            h2 { "Certificate" }
            dl.facts {
                dt { "Subject" } dd { (c.subject()) }
                dt { "Issuer" } dd { (c.issuer()) }
                dt { "Serial" } dd { code { (c.serial_hex()) } }
                dt { "Not before" } dd { (when(c.not_before())) }
                dt { "Not after" } dd { (when(c.not_after())) }
            }
            p { a href={ "/console/keys/" (key.alias) "/certificate.pem" } download { "Download the certificate (PEM)" } }
            pre.pem { (c.to_pem()) }
        }
    };
    Ok(page(&format!("Key {}", key.alias), &session, Section::Hierarchy, body).into_response())
}

/// `GET /console/keys/{alias}/certificate.pem`: the key's certificate as a download.
pub async fn key_certificate(
    State(console): Shared,
    headers: HeaderMap,
    Path(alias): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer(&console, &headers)?;
    let wanted = alias.clone();
    let pem = blocking(&console, move |km| {
        Ok(km.key_certificate(&wanted)?.ok_or(ConsoleError::NotFound)?.to_pem())
    })
    .await?;
    let file: String = alias.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}.pem\"")),
        ],
        pem,
    )
        .into_response())
}

/// The timeline's horizon.
#[derive(Deserialize)]
pub struct TimelineQuery {
    days: Option<u32>,
}

/// The horizons the timeline offers, in days.
pub const HORIZONS: [u32; 4] = [30, 90, 365, 1200];

/// `GET /console/timeline?days=`: rotations and expiries over the horizon, plotted and
/// listed, with the policy lint's findings.
pub async fn timeline(
    State(console): Shared,
    headers: HeaderMap,
    query: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    let days = query.days.unwrap_or(90);
    if !HORIZONS.contains(&days) {
        return Err(ConsoleError::BadInput(format!("the horizon is one of {HORIZONS:?} days")));
    }
    let outlook = blocking(&console, move |km| Ok(km.outlook(days)?)).await?;
    let body = html! {
        nav.tabs aria-label="Horizon" {
            @for d in HORIZONS {
                @if d == days { a href={ "?days=" (d) } aria-current="page" { (d) " days" } }
                @else { a href={ "?days=" (d) } { (d) " days" } }
            }
        }
        div.split {
            section.plot {
                h2 { "Rotations and expiries in the next " (days) " days" }
                (plot::timeline(&outlook))
                table {
                    caption { (outlook.forecast.len()) " current keys rotate or expire (of " (outlook.keys) " keys)" }
                    thead { tr { th scope="col" { "Pair" } th scope="col" { "Key" } th scope="col" { "Rotates" } th scope="col" { "Expires" } th scope="col" { "Pre-expiry" } } }
                    tbody {
                        @for f in &outlook.forecast {
                            tr {
                                td { (f.key_ref.app.as_str()) " / " (f.key_ref.reference.as_str()) }
                                td { a href={ "/console/keys/" (f.alias) } { code { (f.alias) } } }
                                td { (when(f.rotates_at)) }
                                td { (when(f.expires_at)) }
                                td { (f.pre_expire_days) " days" }
                            }
                        }
                    }
                }
            }
            aside.lint {
                h2 { "Policy lint" }
                @if outlook.findings.is_empty() { p.ok { "No findings." } }
                ul {
                    @for f in &outlook.findings {
                        li class={ "finding " (severity(f.severity)) } {
                            strong { (severity(f.severity)) } " · " (f.app_id) ": " (f.message)
                        }
                    }
                }
            }
        }
    };
    Ok(page("Timeline", &session, Section::Timeline, body).into_response())
}

/// A lint severity's word.
pub fn severity(s: keymgr_core::Severity) -> &'static str {
    match s {
        keymgr_core::Severity::Error => "error",
        keymgr_core::Severity::Warning => "warning",
    }
}

/// The trust store page's domain.
#[derive(Deserialize)]
pub struct TrustQuery {
    domain: Option<String>,
}

/// Partner certificates read per query, and most read for one trust page.
const PARTNER_PAGE: i64 = 1000;
const MAX_PARTNERS_READ: usize = 20_000;

/// `GET /console/trust?domain=`: a domain's CA certificates as chains, its partner
/// certificates, and (for admins) the upload form.
pub async fn trust(
    State(console): Shared,
    headers: HeaderMap,
    query: Result<Query<TrustQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let Query(query) = query.map_err(|e| bad_query(&e))?;
    let domains = console.km().trust_domains();
    let domain = match query.domain {
        Some(d) => domains.iter().find(|x| x.eq_ignore_ascii_case(d.trim())).cloned().ok_or_else(|| {
            ConsoleError::BadInput(format!("the partner domain is one of {}", domains.join(", ")))
        })?,
        None => domains.first().cloned().unwrap_or_default(),
    };
    let wanted = domain.clone();
    let (cas, partners, complete) = blocking(&console, move |km| {
        let cas = km.domain_ca_certificates(&wanted)?;
        // Partner certificates are read in id order, a page at a time, up to a bound.
        let mut partners = Vec::new();
        let mut read = 0;
        let mut after = String::new();
        let mut complete = false;
        while read < MAX_PARTNERS_READ {
            let page = km.partner_certificates(&after, PARTNER_PAGE)?;
            let Some(last) = page.last() else {
                complete = true;
                break;
            };
            after = last.cert_id.clone();
            read += page.len();
            let short_page = page.len() < usize::try_from(PARTNER_PAGE).unwrap_or(usize::MAX);
            partners
                .extend(page.into_iter().filter(|p| {
                    p.partner_domain.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&wanted))
                }));
            if short_page {
                complete = true;
                break;
            }
        }
        Ok((cas, partners, complete))
    })
    .await?;
    let ids: HashSet<&str> = cas.iter().map(|c| c.cert_id.as_str()).collect();
    let roots: Vec<&CertRecord> =
        cas.iter().filter(|c| c.issuer_id == c.cert_id || !ids.contains(c.issuer_id.as_str())).collect();
    let body = html! {
        nav.tabs aria-label="Partner domain" {
            @for d in &domains {
                @if *d == domain { a href={ "?domain=" (url_encode(d)) } aria-current="page" { (d) } }
                @else { a href={ "?domain=" (url_encode(d)) } { (d) } }
            }
        }
        section {
            h2 { "CA certificates of " (domain) " (" (cas.len()) ")" }
            @if cas.is_empty() { p { "None uploaded." } }
            ul.tree { @for r in &roots { (ca_node(r, &cas, 0)) } }
        }
        section {
            h2 { "Partner certificates (" (partners.len()) ")" }
            @if !complete { p.note { "The first " (MAX_PARTNERS_READ) " partner certificates of all domains were read; there are more." } }
            table {
                thead { tr { th scope="col" { "Id" } th scope="col" { "Organisation" } th scope="col" { "Subject" } th scope="col" { "Issuer" } th scope="col" { "Not after" } } }
                tbody {
                    @for p in &partners {
                        tr {
                            td { code { (p.cert_id) } }
                            td { (p.organization_name.as_deref().unwrap_or("")) }
                            td { (p.subject) }
                            td { (p.issuer) }
                            td { @if let Some(t) = p.not_after { (when(t)) } }
                        }
                    }
                }
            }
        }
        @if session.can_act {
            section {
                h2 { "Upload" }
                form method="post" action="/console/actions/trust-upload" {
                    (crate::layout::csrf_field(&session))
                    input type="hidden" name="domain" value=(domain);
                    fieldset {
                        legend { "What" }
                        label { input type="radio" name="kind" value="ca" checked; " CA certificate(s): PEM, or a PKCS#7 bundle" }
                        label { input type="radio" name="kind" value="partner"; " Partner certificate (PEM)" }
                    }
                    label for="organization" { "Organisation (partner certificates: must match the certificate's O)" }
                    input id="organization" name="organization" type="text";
                    label for="pem" { "Certificate data" }
                    textarea id="pem" name="data" rows="8" required {}
                    button type="submit" { "Upload to " (domain) }
                }
                p.hint { "Uploads take the same checks as the API's uploadCACertificate and uploadPartnerCertificate." }
            }
        }
    };
    Ok(page("Trust store", &session, Section::Trust, body).into_response())
}

/// A CA certificate and, below it, those it issued (at most 8 levels, so a loop in bad data
/// cannot recurse without end).
fn ca_node(cert: &CertRecord, all: &[CertRecord], depth: usize) -> Markup {
    let children: Vec<&CertRecord> =
        all.iter().filter(|c| c.issuer_id == cert.cert_id && c.cert_id != cert.cert_id).collect();
    html! {
        li {
            span.cert {
                strong { (cert.subject) }
                " · " (cert.ca_cert_type.as_deref().unwrap_or("CA"))
                @if let Some(t) = cert.not_after { " · until " (when(t)) }
                " · " code { (cert.cert_id) }
            }
            @if !children.is_empty() && depth < 8 {
                ul { @for c in children { (ca_node(c, all, depth + 1)) } }
            }
        }
    }
}

/// The audit page's filters.
#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    app: String,
    /// Show rows with ids below this (paging back).
    before: Option<i64>,
}

/// How many rows the audit page reads per page (then filters).
const AUDIT_WINDOW: i64 = 500;

/// `GET /console/audit`: the trail, newest first, filtered by actor, action and application,
/// with the whole chain verified (intact, or the first bad row).
pub async fn audit(
    State(console): Shared,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let Query(q) = query.map_err(|e| bad_query(&e))?;
    let before = q.before;
    let (rows, head) = blocking(&console, move |km| {
        let head = km.audit_head_id()?;
        let end = before.unwrap_or(head.saturating_add(1));
        let rows = km.audit_trail(end.saturating_sub(AUDIT_WINDOW + 1).max(0), AUDIT_WINDOW)?;
        Ok((rows.into_iter().filter(|r| r.id < end).collect::<Vec<_>>(), head))
    })
    .await?;
    let report = audit_check(&console, head).await?;
    let lowest = rows.first().map(|r| r.id);
    let has = |field: &str, wanted: &str| {
        wanted.is_empty() || field.to_ascii_lowercase().contains(&wanted.to_ascii_lowercase())
    };
    let shown: Vec<_> = rows
        .iter()
        .rev()
        .filter(|r| {
            has(&r.entry.actor, q.actor.trim())
                && has(&r.entry.action, q.action.trim())
                && has(r.entry.app_id.as_deref().unwrap_or(""), q.app.trim())
        })
        .collect();
    let body = html! {
        section.verify aria-live="polite" {
            @match &report.problem {
                None => p.ok { "Chain intact: " (report.rows) " chained rows checked up to row " (report.last_id) ", " (report.checkpoints) " signed checkpoints verified" @if report.unchained > 0 { ", " (report.unchained) " rows from before the chain" } "." },
                Some(p) => p.problem role="alert" { "Chain broken at row " (p.id) ": " (p.reason) },
            }
        }
        form.filters method="get" action="/console/audit" {
            label for="actor" { "Actor" } input id="actor" name="actor" type="text" value=(q.actor);
            label for="action" { "Action" } input id="action" name="action" type="text" value=(q.action);
            label for="app" { "Application" } input id="app" name="app" type="text" value=(q.app);
            button type="submit" { "Filter" }
        }
        table {
            caption { (shown.len()) " rows shown of " (rows.len()) " read" }
            thead { tr { th scope="col" { "Id" } th scope="col" { "Time" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Pair" } th scope="col" { "Key" } th scope="col" { "Detail" } } }
            tbody {
                @for r in &shown {
                    tr {
                        td { (r.id) @if r.row_hash.is_none() { " (unchained)" } }
                        td { (when(r.entry.time)) }
                        td { (r.entry.actor) }
                        td { (r.entry.action) }
                        td { (r.entry.app_id.as_deref().unwrap_or("")) @if let Some(rf) = &r.entry.ref_id { " / " (rf) } }
                        td { @if let Some(a) = &r.entry.key_alias { code { (a) } } }
                        td { (r.entry.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if let Some(low) = lowest.filter(|l| *l > 1) {
            p { a href={ "/console/audit?before=" (low) "&actor=" (crate::views::url_encode(&q.actor)) "&action=" (crate::views::url_encode(&q.action)) "&app=" (crate::views::url_encode(&q.app)) } { "Older rows" } }
        }
    };
    Ok(page("Audit trail", &session, Section::Audit, body).into_response())
}

/// How long a chain check is reused while the trail has not grown.
const AUDIT_CHECK_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// The verification of the whole audit chain (hash chain and signed checkpoints), reused for
/// a minute while the head row is `head`: a page view must not walk a long trail each time.
async fn audit_check(
    console: &std::sync::Arc<crate::Console>,
    head: i64,
) -> Result<keymgr_core::AuditReport, ConsoleError> {
    {
        let cached = console.audit_check.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, at_head, report)) = cached.as_ref()
            && *at_head == head
            && at.elapsed() < AUDIT_CHECK_REUSE
        {
            return Ok(report.clone());
        }
    }
    let report = blocking(console, |km| Ok(km.verify_audit()?)).await?;
    *console.audit_check.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((std::time::Instant::now(), head, report.clone()));
    Ok(report)
}

/// `GET /console/health`: database and keystore, request counts by endpoint, caches, keys
/// expiring within 30 days: the numbers `/metrics` serves.
pub async fn health(State(console): Shared, headers: HeaderMap) -> Result<Response, ConsoleError> {
    let session = viewer(&console, &headers)?;
    let (health, caches, expiring) =
        blocking(&console, move |km| Ok((km.health(), km.cache_stats(), km.keys_expiring_within(30)?.len())))
            .await?;
    let minutes = console.started.elapsed().as_secs_f64() / 60.0;
    let mut by_endpoint: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (endpoint, outcome, n) in console.app.metrics().request_counts() {
        let entry = by_endpoint.entry(endpoint).or_default();
        if outcome == "ok" {
            entry.0 += n;
        } else {
            entry.1 += n;
        }
    }
    let part = |name: &str, r: &Result<(), String>| {
        html! {
            tr {
                th scope="row" { (name) }
                @match r {
                    Ok(()) => td { span.state.state-active { "up" } },
                    Err(e) => td { span.state.state-compromised { "down" } " " (e) },
                }
            }
        }
    };
    let body = html! {
        table.health {
            caption { "Parts" }
            tbody { (part("Database", &health.database)) (part("Keystore", &health.keystore)) }
        }
        p { (expiring) " keys expire or rotate within 30 days (" a href="/console/timeline?days=30" { "timeline" } ")." }
        table {
            caption { "Requests since start (" (uptime(console.started.elapsed())) " ago), by endpoint; per minute is the average since then" }
            thead { tr { th scope="col" { "Endpoint (role name)" } th scope="col" { "Answered" } th scope="col" { "Errors" } th scope="col" { "Error share" } th scope="col" { "Per minute" } } }
            tbody {
                @if by_endpoint.is_empty() { tr { td colspan="5" { "No API requests yet." } } }
                @for (e, (ok, failed)) in &by_endpoint {
                    tr { td { (e) } td { (ok) } td { (failed) } td { (percent(*failed, ok + failed)) } td { (per_minute(ok + failed, minutes)) } }
                }
            }
        }
        table {
            caption { "Caches" }
            thead { tr { th scope="col" { "Cache" } th scope="col" { "Entries" } th scope="col" { "Hits" } th scope="col" { "Misses" } th scope="col" { "Hit ratio" } } }
            tbody {
                @for c in &caches {
                    tr { td { (c.name) } td { (c.entries) } td { (c.hits) } td { (c.misses) } td { (percent(c.hits, c.hits + c.misses)) } }
                }
            }
        }
        p.hint { "The same counters as " code { "/metrics" } " (" code { "keymgr_http_requests_total" } ", " code { "keymgr_cache_*" } ")." }
    };
    Ok(page("Health", &session, Section::Health, body).into_response())
}

fn per_minute(count: u64, minutes: f64) -> String {
    if minutes <= 0.0 {
        return "–".into();
    }
    // Counters far below 2^52: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / minutes;
    format!("{rate:.1}")
}

fn uptime(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    // Counters far below 2^52: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let share = part as f64 * 100.0 / whole as f64;
    format!("{share:.1} %")
}
