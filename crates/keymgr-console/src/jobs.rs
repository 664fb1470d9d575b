//! Long actions (a compromise response re-wraps every key a master wraps) run as jobs on the
//! blocking pool; their page shows live progress (the script polls the status) and then the
//! result.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keymgr_core::{KeyManager, fill_random};
use maud::{Markup, html};
use serde::Serialize;

use crate::layout::{Section, page};
use crate::session::{Session, actor};
use crate::{Console, ConsoleError, Shared};

/// How many finished jobs are kept for their pages.
const KEEP: usize = 64;

/// One job: its title, progress and, once done, its result page (or why it failed).
struct Job {
    title: String,
    done: AtomicUsize,
    total: AtomicUsize,
    outcome: Mutex<Option<Result<Markup, String>>>,
}

/// The jobs of this process, by id.
#[derive(Default)]
pub struct Jobs {
    by_id: Mutex<HashMap<String, Arc<Job>>>,
    order: Mutex<Vec<String>>,
}

impl Jobs {
    fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner).get(id).cloned()
    }
}

/// The progress callback a job's work reports to: (done so far, total).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Starts `work` on the blocking pool as `session`'s job; its id.
pub fn start<F>(
    console: &Arc<Console>,
    session: &Session,
    title: String,
    work: F,
) -> Result<String, ConsoleError>
where
    F: FnOnce(&KeyManager, &Session, Progress<'_>) -> Result<Markup, ConsoleError> + Send + 'static,
{
    let mut raw = [0u8; 16];
    fill_random(&mut raw).map_err(|e| ConsoleError::Internal(format!("random: {e}")))?;
    let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let job = Arc::new(Job {
        title,
        done: AtomicUsize::new(0),
        total: AtomicUsize::new(0),
        outcome: Mutex::new(None),
    });
    {
        let mut order = console.jobs.order.lock().unwrap_or_else(PoisonError::into_inner);
        let mut by_id = console.jobs.by_id.lock().unwrap_or_else(PoisonError::into_inner);
        while order.len() >= KEEP {
            let oldest = order.remove(0);
            by_id.remove(&oldest);
        }
        order.push(id.clone());
        by_id.insert(id.clone(), Arc::clone(&job));
    }
    let km = Arc::clone(console.km());
    let who = session.clone();
    tokio::task::spawn_blocking(move || {
        let progress = |done: usize, total: usize| {
            job.total.store(total, Ordering::Relaxed);
            job.done.store(done, Ordering::Relaxed);
        };
        // A panic in the work must still end the job, or its page would wait for ever.
        let run = std::panic::AssertUnwindSafe(|| work(&km, &who, &progress));
        let result = match std::panic::catch_unwind(run) {
            Ok(done) => done.map_err(|e| e.public_text()),
            Err(_) => {
                tracing::error!("console job panicked");
                Err("the job failed; the service log has the details".to_owned())
            }
        };
        *job.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    });
    Ok(id)
}

/// A job's progress as the page's script reads it.
#[derive(Serialize)]
struct Status {
    done: usize,
    total: usize,
    finished: bool,
}

/// `GET /console/jobs/{id}/status`: progress as JSON.
pub async fn job_status(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    actor(&console, &headers)?;
    let job = console.jobs.get(&id).ok_or(ConsoleError::NotFound)?;
    let finished = job.outcome.lock().unwrap_or_else(PoisonError::into_inner).is_some();
    Ok(Json(Status {
        done: job.done.load(Ordering::Relaxed),
        total: job.total.load(Ordering::Relaxed),
        finished,
    })
    .into_response())
}

/// `GET /console/jobs/{id}`: the job's progress while it runs, its result after.
pub async fn job_page(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let session = actor(&console, &headers)?;
    let job = console.jobs.get(&id).ok_or(ConsoleError::NotFound)?;
    let outcome = job.outcome.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let done = job.done.load(Ordering::Relaxed);
    let total = job.total.load(Ordering::Relaxed);
    let body = match outcome {
        Some(Ok(result)) => html! { p.ok role="status" { "Done." } (result) },
        Some(Err(why)) => html! { p.problem role="alert" { "Failed: " (why) } },
        None => html! {
            div.job data-status-url={ "/console/jobs/" (id) "/status" } {
                label for="job-progress" { "Re-wrapped " span.job-done { (done) } " of " span.job-total { (total) } }
                progress id="job-progress" max=(total.max(1)) value=(done) {}
                p aria-live="polite" .job-note { "Running. This page follows the job and shows the result when it ends." }
                noscript { p { "Reload this page to see the progress." } }
            }
        },
    };
    Ok(page(&job.title, &session, Section::Hierarchy, body).into_response())
}
