//! The actions: each has a preview (`GET`: reads only, and says exactly what the apply will
//! change) and an apply (`POST` with the session's CSRF token), audited as the signed-in user.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use keymgr_core::{CompromiseReport, CompromiseRequest, KeyManager, KeyState, KeyStatus, RetireReport};
use keymgr_model::{AppId, KeyPolicy, KeyRef, KeyTier, RefId};
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{Section, csrf_field, page, short, state_badge, when};
use crate::session::{Session, actor, actor_for, check_form, permitted};
use crate::views::severity;
use crate::views::url_encode;
use crate::{ConsoleError, Shared, blocking, jobs};

/// Longest recovery window the console opens, in hours (as the REST API).
const MAX_RECOVERY_HOURS: i64 = 30 * 24;

fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, ConsoleError> {
    f.map(|Form(t)| t).map_err(|e| ConsoleError::BadInput(format!("form: {}", e.body_text())))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ConsoleError> {
    q.map(|Query(t)| t).map_err(|e| ConsoleError::BadInput(format!("query: {}", e.body_text())))
}

fn pair(app: &str, reference: &str) -> Result<KeyRef, ConsoleError> {
    let app = AppId::new(app.trim()).map_err(|e| ConsoleError::BadInput(format!("application: {e}")))?;
    let reference =
        RefId::new(reference.trim()).map_err(|e| ConsoleError::BadInput(format!("reference: {e}")))?;
    Ok(KeyRef::new(app, reference))
}

fn pair_text(key_ref: &KeyRef) -> String {
    if key_ref.reference.as_str().is_empty() {
        key_ref.app.as_str().to_owned()
    } else {
        format!("{}/{}", key_ref.app.as_str(), key_ref.reference.as_str())
    }
}

/// Writes the audit row of a console action, whatever its outcome.
fn audited<T>(
    km: &KeyManager,
    who: &Session,
    what: &str,
    result: Result<T, ConsoleError>,
) -> Result<T, ConsoleError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(ConsoleError::KeyManager(e)) => e.code(),
        Err(_) => "refused",
    };
    if let Err(e) = km.audit_admin_call(&who.who.user, &format!("console {what}"), outcome) {
        tracing::error!("console: the audit row of {what} was not written: {e}");
    }
    result
}

fn status_table(rows: &[&KeyStatus]) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Key" } th scope="col" { "State" } th scope="col" { "Valid from" } th scope="col" { "Expires" } th scope="col" { "Thumbprint" } } }
            tbody {
                @for k in rows {
                    tr {
                        td { a href={ "/console/keys/" (k.key.alias) } { code { (k.key.alias) } } }
                        td { (state_badge(k.state)) }
                        td { (when(k.key.generated_at)) }
                        td { (when(k.key.expires_at)) }
                        td { @if let Some(t) = &k.key.thumbprint { (short(&t.to_hex())) } }
                    }
                }
            }
        }
    }
}

/// The pair of a revoke or rotation.
#[derive(Deserialize)]
pub struct PairQuery {
    #[serde(default)]
    app: String,
    #[serde(default, rename = "ref")]
    reference: String,
}

/// The confirmation of a revoke or rotation: the pair and the key the preview showed.
#[derive(Deserialize)]
pub struct PairForm {
    csrf: String,
    app: String,
    #[serde(default, rename = "ref")]
    reference: String,
    /// The current key the preview showed; the apply refuses if it is no longer current.
    #[serde(default)]
    alias: String,
}

fn confirm_pair(session: &Session, action: &str, key_ref: &KeyRef, alias: &str, button: &str) -> Markup {
    html! {
        form.confirm method="post" action=(action) {
            (csrf_field(session))
            input type="hidden" name="app" value=(key_ref.app.as_str());
            input type="hidden" name="ref" value=(key_ref.reference.as_str());
            input type="hidden" name="alias" value=(alias);
            button.danger type="submit" { (button) }
            " " a href="/console/hierarchy" { "Cancel" }
        }
    }
}

/// The one current key of `key_ref`, by the rule the operations use.
fn the_current_key(km: &KeyManager, key_ref: &KeyRef) -> Result<KeyStatus, ConsoleError> {
    match km.current_keys_of(key_ref)?.as_slice() {
        [one] => Ok(km.key_status(&one.alias)?),
        [] => Err(ConsoleError::BadInput(format!(
            "{} has no current key (the next request for it makes one): nothing to replace",
            pair_text(key_ref)
        ))),
        several => Err(ConsoleError::BadInput(format!(
            "{} has {} current keys; resolve that first (keymgr key, RUNBOOK.md)",
            pair_text(key_ref),
            several.len()
        ))),
    }
}

/// Refuses when the current key of `key_ref` is no longer `expected` (the preview's).
fn still_current(km: &KeyManager, key_ref: &KeyRef, expected: &str) -> Result<KeyStatus, ConsoleError> {
    let current = the_current_key(km, key_ref)?;
    if current.key.alias == expected.trim() {
        Ok(current)
    } else {
        Err(ConsoleError::BadInput(format!(
            "the current key of {} is no longer the one the preview showed; open the preview again",
            pair_text(key_ref)
        )))
    }
}

/// `GET /console/actions/revoke?app=&ref=`: what revoking a base pair's current key does.
pub async fn revoke_preview(
    State(console): Shared,
    headers: HeaderMap,
    q: Result<Query<PairQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "putrevokekey")?;
    let q = query(q)?;
    let key_ref = pair(&q.app, &q.reference)?;
    if key_ref.tier() != KeyTier::Base {
        return Err(ConsoleError::BadInput(format!(
            "{} is not a base pair: masters are rotated, not revoked",
            pair_text(&key_ref)
        )));
    }
    let kr = key_ref.clone();
    let current = blocking(&console, move |km| the_current_key(km, &kr)).await?;
    let body = html! {
        p { "Revoking " strong { (pair_text(&key_ref)) } " changes exactly this:" }
        ol.changes {
            li { "Its current key expires now and stops encrypting:" (status_table(&[&current])) }
            li { "A new key is generated at once for the pair, wrapped by the " (key_ref.app.as_str()) " master and certified by it; the pair's certificate changes." }
            li { "Data sealed to the revoked key still opens: it stays in the database and keeps decrypting until retired." }
            li { "One audit row records the revocation, with your name." }
        }
        (confirm_pair(&session, "/console/actions/revoke", &key_ref, &current.key.alias, "Revoke and make a new key"))
    };
    Ok(page("Revoke a base key", &session, Section::Hierarchy, body).into_response())
}

/// `POST /console/actions/revoke`: revokes the key the preview showed (refused if it is no
/// longer current) and makes the successor, as a job whose page shows both.
pub async fn revoke_apply(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<PairForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "putrevokekey")?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let key_ref = pair(&f.app, &f.reference)?;
    if key_ref.tier() != KeyTier::Base {
        return Err(ConsoleError::BadInput(format!("{} is not a base pair", pair_text(&key_ref))));
    }
    let title = format!("Revoke {}", pair_text(&key_ref));
    let id = jobs::start(&console, &session, title, move |km, who, _| {
        let result = still_current(km, &key_ref, &f.alias).and_then(|old| {
            km.revoke_key(&key_ref.app, &key_ref.reference)?;
            km.get_certificate(&key_ref.app, &key_ref.reference)?;
            Ok(old)
        });
        let old = audited(km, who, &format!("revoke {}", pair_text(&key_ref)), result)?;
        let new = the_current_key(km, &key_ref)?;
        let old = km.key_status(&old.key.alias)?;
        Ok(html! {
            p.ok role="status" { "Revoked " code { (old.key.alias) } ". The new key of " (pair_text(&key_ref)) ":" }
            (status_table(&[&new]))
            h2 { "The revoked key" }
            (status_table(&[&old]))
            p { a href={ "/console/hierarchy?q=" (url_encode(key_ref.app.as_str())) } { "Back to the hierarchy" } }
        })
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}

/// `GET /console/actions/rotate?app=`: what rotating a module master does.
pub async fn rotate_preview(
    State(console): Shared,
    headers: HeaderMap,
    q: Result<Query<PairQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postgeneratemasterkeyobjecttype")?;
    let q = query(q)?;
    let key_ref = pair(&q.app, "")?;
    if key_ref.tier() != KeyTier::ModuleMaster {
        return Err(ConsoleError::BadInput(format!("{} is not a module master", key_ref.app.as_str())));
    }
    let app = key_ref.app.clone();
    let kr = key_ref.clone();
    let (current, base_keys) = blocking(&console, move |km| {
        let base = km
            .key_statuses(None)?
            .into_iter()
            .filter(|k| {
                k.key.key_ref.app == app
                    && k.key.key_ref.tier() == KeyTier::Base
                    && k.state != KeyState::Destroyed
            })
            .count();
        Ok((the_current_key(km, &kr)?, base))
    })
    .await?;
    let body = html! {
        p { "Rotating the " strong { (key_ref.app.as_str()) } " master changes exactly this:" }
        ol.changes {
            li { "A new master key is generated now in the keystore and certified by ROOT." }
            li { "The current master stops being current:" (status_table(&[&current])) "It stays in the keystore and keeps unwrapping the base keys it wraps (" (base_keys) " base keys of " (key_ref.app.as_str()) " today); new base keys are wrapped by the new master." }
            li { "Base keys are not re-wrapped: " code { "/rewrap/batch" } " or a compromise response moves them." }
            li { "One audit row records the rotation, with your name." }
        }
        (confirm_pair(&session, "/console/actions/rotate", &key_ref, &current.key.alias, "Generate the new master"))
    };
    Ok(page("Rotate a module master", &session, Section::Hierarchy, body).into_response())
}

/// `POST /console/actions/rotate`: generates the new master (`force`) if the current one is
/// still the one the preview showed, as a job.
pub async fn rotate_apply(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<PairForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postgeneratemasterkeyobjecttype")?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let key_ref = pair(&f.app, "")?;
    if key_ref.tier() != KeyTier::ModuleMaster {
        return Err(ConsoleError::BadInput(format!("{} is not a module master", key_ref.app.as_str())));
    }
    let title = format!("Rotate the {} master", key_ref.app.as_str());
    let id = jobs::start(&console, &session, title, move |km, who, _| {
        let result = still_current(km, &key_ref, &f.alias).and_then(|_| {
            km.generate_master_key(&key_ref.app, &key_ref.reference, true)?;
            Ok(())
        });
        audited(km, who, &format!("rotate {}", key_ref.app.as_str()), result)?;
        let all = km.key_statuses(Some(&key_ref))?;
        let rows: Vec<&KeyStatus> = all.iter().collect();
        Ok(html! {
            p.ok role="status" { "The " (key_ref.app.as_str()) " master was rotated." }
            (status_table(&rows))
            p { a href="/console/hierarchy" { "Back to the hierarchy" } }
        })
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}

/// The compromise form, as a query (the dry run) or a form (the apply).
#[derive(Deserialize, Clone)]
pub struct CompromiseFields {
    #[serde(default)]
    app: String,
    #[serde(default, rename = "ref")]
    reference: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    reason: String,
    /// `on` when checked.
    #[serde(default)]
    rotate_children: Option<String>,
    #[serde(default)]
    recovery_hours: Option<String>,
}

/// [`CompromiseFields`] with the CSRF token.
#[derive(Deserialize)]
pub struct CompromiseForm {
    csrf: String,
    #[serde(flatten)]
    fields: CompromiseFields,
}

impl CompromiseFields {
    fn recovery_hours(&self) -> Result<i64, ConsoleError> {
        match self.recovery_hours.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
            None => Ok(0),
            Some(h) => match h.parse::<i64>() {
                Ok(n) if (0..=MAX_RECOVERY_HOURS).contains(&n) => Ok(n),
                _ => Err(ConsoleError::BadInput(format!(
                    "the recovery window is 0 to {MAX_RECOVERY_HOURS} hours"
                ))),
            },
        }
    }

    fn request<'a>(
        &self,
        km: &KeyManager,
        who: &str,
        dry_run: bool,
    ) -> Result<CompromiseRequest<'a>, ConsoleError> {
        let hours = self.recovery_hours()?;
        Ok(CompromiseRequest {
            key_ref: pair(&self.app, &self.reference)?,
            alias: Some(self.alias.trim().to_owned()).filter(|a| !a.is_empty()),
            reason: self.reason.trim().to_owned(),
            who: who.to_owned(),
            dry_run,
            rotate_children: self.rotate_children.is_some(),
            recovery_until: (hours > 0).then(|| km.now().plus(time::Duration::hours(hours))),
            progress: None,
        })
    }
}

fn compromise_form(session: &Session, f: &CompromiseFields, method: &str, button: &str) -> Markup {
    let hidden = method == "post";
    html! {
        form.confirm method=(method) action="/console/actions/compromise" {
            @if hidden { (csrf_field(session)) }
            label for="c-app" { "Application" }
            input id="c-app" name="app" type="text" value=(f.app) required readonly[hidden];
            label for="c-ref" { "Reference (empty for a master)" }
            input id="c-ref" name="ref" type="text" value=(f.reference) readonly[hidden];
            label for="c-alias" { "Key alias (empty: the pair's current key)" }
            input id="c-alias" name="alias" type="text" value=(f.alias) readonly[hidden];
            label for="c-reason" { "Reason (kept in the audit trail)" }
            input id="c-reason" name="reason" type="text" value=(f.reason) required readonly[hidden];
            label for="c-hours" { "Recovery window in hours (0: the key never decrypts again)" }
            input id="c-hours" name="recovery_hours" type="number" min="0" max=(MAX_RECOVERY_HOURS) value=(f.recovery_hours.as_deref().unwrap_or("0")) readonly[hidden];
            label.check {
                @if hidden {
                    @if f.rotate_children.is_some() { input type="hidden" name="rotate_children" value="on"; }
                    input type="checkbox" disabled checked[f.rotate_children.is_some()];
                } @else {
                    input type="checkbox" name="rotate_children" checked[f.rotate_children.is_some()];
                }
                " Also expire the current keys it wraps (a master's base keys), so new data goes to fresh keys"
            }
            button.danger[hidden] type="submit" { (button) }
        }
    }
}

/// A compromise report, dry run or not.
pub fn compromise_report(r: &CompromiseReport) -> Markup {
    html! {
        dl.facts {
            dt { "Key" } dd { a href={ "/console/keys/" (r.key.alias) } { code { (r.key.alias) } } " of " (pair_text(&r.key.key_ref)) }
            dt { "State before" } dd { (state_badge(r.state_before)) }
            @if let Some(s) = &r.successor { dt { "Successor" } dd { a href={ "/console/keys/" (s.alias) } { code { (s.alias) } } } }
            dt { "Keys it wraps" } dd { (r.children_before) @if !r.dry_run { " (re-wrapped now: " (r.rewrapped) ", left: " (r.remaining) ")" } }
            @if !r.exposed_pairs.is_empty() {
                dt { "Pairs whose private keys it exposed" }
                dd { ul { @for (p, n) in &r.exposed_pairs { li { (pair_text(p)) ": " (n) " keys" } } } }
            }
            @if !r.rotated_pairs.is_empty() {
                dt { "Pairs given a fresh key" } dd { @for p in &r.rotated_pairs { (pair_text(p)) " " } }
            }
            @if !r.dependents.is_empty() {
                dt { "What depends on it" }
                dd { ul { @for d in &r.dependents { li { (d.kind) " " code { (d.id) } " (" (d.subject) "): " (d.relation) } } } }
            }
            @if !r.failed.is_empty() {
                dt { "Not re-wrapped" } dd { ul { @for (a, why) in &r.failed { li { code { (a) } ": " (why) } } } }
            }
            @if !r.dry_run {
                dt { "Response complete" } dd { (if r.complete { "yes" } else { "no: run it again to finish" }) }
            }
        }
    }
}

/// `GET /console/actions/compromise`: the form, and with a pair the dry run: what the
/// response would mark, re-wrap and expire.
pub async fn compromise_preview(
    State(console): Shared,
    headers: HeaderMap,
    q: Result<Query<CompromiseFields>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postcompromise")?;
    let fields = query(q)?;
    let report = if fields.app.trim().is_empty() {
        None
    } else {
        let f = fields.clone();
        let who = session.who.user.clone();
        Some(
            blocking(&console, move |km| {
                let mut request = f.request(km, &who, true)?;
                if request.reason.is_empty() {
                    request.reason = "dry run".into();
                }
                Ok(km.compromise(&request)?)
            })
            .await?,
        )
    };
    let body = html! {
        @match &report {
            None => {
                p { "Mark a key compromised: it stops every use at once (a recovery window can let it decrypt, each use audited), the pair gets a successor, and for a master every key it wraps is re-wrapped under the successor. Fill in the pair and the reason to see the dry run first." }
                (compromise_form(&session, &fields, "get", "Dry run"))
            }
            Some(r) => {
                p { strong { "Dry run:" } " nothing has changed yet. Applying does this:" }
                (compromise_report(r))
                @if fields.reason.trim().is_empty() {
                    p.problem { "Give a reason to apply." }
                    (compromise_form(&session, &fields, "get", "Dry run again"))
                } @else {
                    (compromise_form(&session, &CompromiseFields { alias: r.key.alias.clone(), ..fields.clone() }, "post", "Apply the compromise response"))
                }
            }
        }
    };
    Ok(page("Compromise response", &session, Section::Hierarchy, body).into_response())
}

/// `POST /console/actions/compromise`: starts the response as a job and shows its progress.
pub async fn compromise_apply(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<CompromiseForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postcompromise")?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let fields = f.fields;
    if fields.reason.trim().is_empty() {
        return Err(ConsoleError::BadInput("a compromise response needs a reason".into()));
    }
    if fields.alias.trim().is_empty() {
        return Err(ConsoleError::BadInput("the form names no key: open the dry run first".into()));
    }
    // Refused before the job starts when the form is wrong.
    fields.recovery_hours()?;
    pair(&fields.app, &fields.reference)?;
    let title = format!("Compromise response for {}", pair_text(&pair(&fields.app, &fields.reference)?));
    let id = jobs::start(&console, &session, title, move |km, who, progress| {
        let mut request = fields.request(km, &who.who.user, false)?;
        request.progress = Some(progress);
        let result = km.compromise(&request).map_err(ConsoleError::from);
        let report = audited(km, who, &format!("compromise {}", pair_text(&request.key_ref)), result)?;
        Ok(compromise_report(&report))
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}

fn retire_report(r: &RetireReport) -> Markup {
    html! {
        table {
            caption { (r.candidates.len()) " keys past retention" }
            thead { tr { th scope="col" { "Key" } th scope="col" { "Pair" } th scope="col" { "State" } th scope="col" { "Private key in" } th scope="col" { "Retained until" } } }
            tbody {
                @for c in &r.candidates {
                    tr {
                        td { code { (c.key.alias) } @if c.leftover { " (left over from an interrupted run)" } }
                        td { (pair_text(&c.key.key_ref)) }
                        td { (state_badge(c.state)) }
                        td { (c.holder) }
                        td { (when(c.retained_until)) }
                    }
                }
            }
        }
        @if !r.kept.is_empty() {
            details {
                summary { (r.kept.len()) " expired keys kept, with why" }
                ul { @for (k, why) in &r.kept { li { code { (k.alias) } " (" (pair_text(&k.key_ref)) "): " (why) } } }
            }
        }
        @if r.applied {
            p.ok role="status" { (r.destroyed.len()) " keys destroyed." }
            @if !r.failed.is_empty() { ul.problem { @for (a, why) in &r.failed { li { code { (a) } ": " (why) } } } }
        }
    }
}

/// `GET /console/actions/retire`: the keys retirement would destroy (and those it keeps), and
/// the policies with their lint.
pub async fn retire_preview(State(console): Shared, headers: HeaderMap) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postretire")?;
    let who = session.who.user.clone();
    let (report, policies, findings) =
        blocking(&console, move |km| Ok((km.retire(false, &who)?, km.policies()?, km.outlook(0)?.findings)))
            .await?;
    let body = html! {
        section {
            h2 { "Retire keys past retention" }
            p { "Destroying a key deletes its private key (keystore objects or the database row's key) and keeps its certificate and thumbprint as a tombstone; data sealed to it no longer opens. Nothing has changed yet." }
            (retire_report(&report))
            @if !report.candidates.is_empty() {
                form.confirm method="post" action="/console/actions/retire" {
                    (csrf_field(&session))
                    button.danger type="submit" { "Destroy these " (report.candidates.len()) " keys" }
                }
            }
        }
        section {
            h2 { "Policies" }
            table {
                thead { tr { th scope="col" { "Application" } th scope="col" { "Validity" } th scope="col" { "Pre-expiry" } th scope="col" { "Active" } th scope="col" { "Who may decrypt" } th scope="col" { "Change" } } }
                tbody {
                    @for p in &policies {
                        tr {
                            td { (p.app_id.as_str()) }
                            td { (p.validity_days) " days" }
                            td { (p.pre_expire_days) " days" }
                            td { (if p.is_active { "yes" } else { "no" }) }
                            td { code { (p.access_allowed.to_column()) } }
                            td { a href={ "/console/actions/policy?app=" (crate::views::url_encode(p.app_id.as_str())) } { "Change…" } }
                        }
                    }
                }
            }
            p { a href="/console/actions/policy" { "Add a policy…" } }
            h3 { "Lint" }
            @if findings.is_empty() { p.ok { "No findings." } }
            ul { @for f in &findings { li class={ "finding " (severity(f.severity)) } { strong { (severity(f.severity)) } " · " (f.app_id) ": " (f.message) } } }
        }
    };
    Ok(page("Retire & policies", &session, Section::Actions, body).into_response())
}

/// `POST /console/actions/retire`: destroys the keys past retention (the plan is made again
/// under the apply, so a key that changed since the preview is judged afresh).
pub async fn retire_apply(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<crate::session::CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "postretire")?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let id = jobs::start(&console, &session, "Retirement".into(), move |km, who, _| {
        let result = km.retire(true, &who.who.user).map_err(ConsoleError::from);
        let report = audited(km, who, "retire", result)?;
        Ok(html! { (retire_report(&report)) p { a href="/console/actions/retire" { "Back" } } })
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}

/// A policy as the form carries it.
#[derive(Deserialize, Clone, Default)]
pub struct PolicyFields {
    #[serde(default)]
    app: String,
    validity: Option<String>,
    pre: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    access: String,
}

/// [`PolicyFields`] with the CSRF token and the reason to save despite findings.
#[derive(Deserialize)]
pub struct PolicyForm {
    csrf: String,
    #[serde(default)]
    force_reason: String,
    #[serde(flatten)]
    fields: PolicyFields,
}

impl PolicyFields {
    fn policy(&self) -> Result<KeyPolicy, ConsoleError> {
        let days = |v: &Option<String>, what: &str| -> Result<i16, ConsoleError> {
            v.as_deref().map(str::trim).and_then(|d| d.parse::<i16>().ok()).filter(|d| *d >= 0).ok_or_else(
                || ConsoleError::BadInput(format!("{what} is a whole number of days, 0 to 32767")),
            )
        };
        let app =
            AppId::new(self.app.trim()).map_err(|e| ConsoleError::BadInput(format!("application: {e}")))?;
        let access = self.access.trim();
        KeyPolicy::from_columns(
            app,
            days(&self.validity, "the validity")?,
            days(&self.pre, "the pre-expiry")?,
            self.active.is_some(),
            Some(access).filter(|a| !a.is_empty()),
        )
        .map_err(|e| ConsoleError::BadInput(e.to_string()))
    }
}

fn policy_form(session: &Session, f: &PolicyFields, method: &str, force: bool) -> Markup {
    let post = method == "post";
    html! {
        form.confirm method=(method) action="/console/actions/policy" {
            @if post { (csrf_field(session)) }
            label for="p-app" { "Application" }
            input id="p-app" name="app" type="text" value=(f.app) required readonly[post];
            label for="p-validity" { "Key validity (days)" }
            input id="p-validity" name="validity" type="number" min="0" max="32767" value=(f.validity.as_deref().unwrap_or("")) required readonly[post];
            label for="p-pre" { "Pre-expiry: a successor is made this many days before expiry" }
            input id="p-pre" name="pre" type="number" min="0" max="32767" value=(f.pre.as_deref().unwrap_or("")) required readonly[post];
            label for="p-access" { "Who may decrypt (NA: any caller; user names, comma separated; empty: nobody)" }
            input id="p-access" name="access" type="text" value=(f.access) readonly[post];
            label.check {
                @if post {
                    @if f.active.is_some() { input type="hidden" name="active" value="on"; }
                    input type="checkbox" disabled checked[f.active.is_some()];
                } @else {
                    input type="checkbox" name="active" checked[f.active.is_some()];
                }
                " Active"
            }
            @if force {
                label for="p-reason" { "Reason to save despite the findings (audited)" }
                input id="p-reason" name="force_reason" type="text" required;
            }
            button.danger[post] type="submit" { (if post { "Save the policy" } else { "Preview" }) }
        }
    }
}

/// `GET /console/actions/policy?app=&validity=&pre=&active=&access=`: the form (filled from
/// the stored policy), and with values the lint's findings for the change and the before and
/// after, nothing saved.
pub async fn policy_preview(
    State(console): Shared,
    headers: HeaderMap,
    q: Result<Query<PolicyFields>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "putpoliciesapplicationid")?;
    let mut fields = query(q)?;
    let stored = if fields.app.trim().is_empty() {
        None
    } else {
        let app = fields.app.trim().to_owned();
        blocking(&console, move |km| Ok(km.policies()?.into_iter().find(|p| p.app_id.as_str() == app)))
            .await?
    };
    if fields.validity.is_none() {
        if let Some(p) = &stored {
            fields = PolicyFields {
                app: p.app_id.as_str().to_owned(),
                validity: Some(p.validity_days.to_string()),
                pre: Some(p.pre_expire_days.to_string()),
                active: p.is_active.then(|| "on".to_owned()),
                access: p.access_allowed.to_column(),
            };
        }
        let body = html! { (policy_form(&session, &fields, "get", false)) };
        return Ok(page("Change a policy", &session, Section::Actions, body).into_response());
    }
    let policy = fields.policy()?;
    let candidate = policy.clone();
    let findings = blocking(&console, move |km| Ok(km.policy_change_findings(&candidate)?)).await?;
    let row = |p: &KeyPolicy| {
        html! { td { (p.validity_days) " days" } td { (p.pre_expire_days) " days" } td { (if p.is_active { "yes" } else { "no" }) } td { code { (p.access_allowed.to_column()) } } }
    };
    let body = html! {
        p { strong { "Preview:" } " nothing is saved yet." }
        table {
            thead { tr { th scope="col" {} th scope="col" { "Validity" } th scope="col" { "Pre-expiry" } th scope="col" { "Active" } th scope="col" { "Who may decrypt" } } }
            tbody {
                tr { th scope="row" { "Now" } @if let Some(p) = &stored { (row(p)) } @else { td colspan="4" { "no policy" } } }
                tr { th scope="row" { "After" } (row(&policy)) }
            }
        }
        h2 { "Lint of the change" }
        @if findings.is_empty() { p.ok { "The change adds no findings." } }
        ul { @for f in &findings { li class={ "finding " (severity(f.severity)) } { strong { (severity(f.severity)) } " · " (f.app_id) ": " (f.message) } } }
        (policy_form(&session, &fields, "post", !findings.is_empty()))
        p { a href={ "/console/actions/policy?app=" (crate::views::url_encode(&fields.app)) } { "Edit again" } }
    };
    Ok(page("Change a policy", &session, Section::Actions, body).into_response())
}

/// `POST /console/actions/policy`: saves through the governed change (the lint refuses
/// findings without a reason).
pub async fn policy_apply(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<PolicyForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor_for(&console, &headers, "putpoliciesapplicationid")?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let policy = f.fields.policy()?;
    let reason = Some(f.force_reason.trim().to_owned()).filter(|r| !r.is_empty());
    let title = format!("Policy of {}", policy.app_id.as_str());
    let id = jobs::start(&console, &session, title, move |km, who, _| {
        let result = km.change_policy(&policy, &who.who.user, reason.as_deref()).map_err(ConsoleError::from);
        let change = audited(km, who, &format!("policy {}", policy.app_id.as_str()), result)?;
        Ok(html! {
            p.ok role="status" { "The policy of " (policy.app_id.as_str()) " is saved" @if !change.findings.is_empty() { ", over " (change.findings.len()) " findings" } "." }
            p { a href="/console/actions/retire" { "Back to the policies" } }
        })
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}

/// The trust store's upload form.
#[derive(Deserialize)]
pub struct TrustUploadForm {
    csrf: String,
    kind: String,
    domain: String,
    #[serde(default)]
    organization: String,
    data: String,
}

/// `POST /console/actions/trust-upload`: a CA certificate (or bundle) or a partner
/// certificate, through the same checks as the REST uploads.
pub async fn trust_upload(
    State(console): Shared,
    headers: HeaderMap,
    f: Result<Form<TrustUploadForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let session = actor(&console, &headers)?;
    let f = form(f)?;
    check_form(&session, &headers, &f.csrf)?;
    let rest_role = match f.kind.as_str() {
        "ca" => "postuploadcacertificate",
        "partner" => "postuploadpartnercertificate",
        _ => return Err(ConsoleError::BadInput("the upload is a CA or a partner certificate".into())),
    };
    permitted(&console, &session, rest_role)?;
    let domain = f.domain.trim().to_owned();
    let known = console.km().trust_domains();
    let domain = known
        .into_iter()
        .find(|d| d.eq_ignore_ascii_case(&domain))
        .ok_or_else(|| ConsoleError::BadInput("unknown partner domain".into()))?;
    let id = jobs::start(&console, &session, format!("Upload to {domain}"), move |km, who, _| {
        let result = if f.kind == "ca" {
            km.upload_ca_certificate(&f.data, &domain).map(|s| s.as_str().to_owned())
        } else {
            km.upload_partner_certificate(&f.data, &f.organization, &domain, &who.who.user)
                .map(|u| format!("Partner certificate stored as {}.", u.certificate_id))
        };
        let message = audited(
            km,
            who,
            &format!("trust upload {} {domain}", f.kind),
            result.map_err(ConsoleError::from),
        )?;
        Ok(html! {
            p.ok role="status" { (message) }
            p { a href={ "/console/trust?domain=" (url_encode(&domain)) } { "Back to the trust store" } }
        })
    })?;
    Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response())
}
