//! The timeline plot, drawn on the server as SVG: one row per key that rotates or expires
//! within the horizon, a circle at its rotation, a square at its expiry, the overlap between
//! them as a bar. Presentation attributes only (no `style`), so the page's CSP needs no
//! `unsafe-inline`; every mark has a `<title>` for screen readers and tooltips, and the page
//! lists the same data as a table.

use keymgr_core::Outlook;
use keymgr_model::UtcTime;
use maud::{Markup, html};

use crate::layout::when;

const WIDTH: f64 = 860.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 20.0;
const TOP: f64 = 28.0;
/// Most rows drawn; the table below the plot lists every key.
pub const MAX_ROWS: usize = 60;

fn days_between(from: UtcTime, to: UtcTime) -> f64 {
    // Millisecond differences of real dates are far below 2^52: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let ms = (to.unix_millis() - from.unix_millis()) as f64;
    ms / 86_400_000.0
}

/// The middle of row `i`.
fn row_y(i: usize) -> f64 {
    // A row index below MAX_ROWS: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let i = i as f64;
    TOP + ROW * i + ROW / 2.0
}

fn tick_step(horizon: u32) -> u32 {
    match horizon {
        0..=31 => 5,
        32..=120 => 15,
        121..=400 => 60,
        _ => 200,
    }
}

/// The plot of `outlook`.
pub fn timeline(outlook: &Outlook) -> Markup {
    let horizon = f64::from(outlook.horizon_days.max(1));
    let x = |days: f64| LABEL + (days.clamp(0.0, horizon) / horizon) * (WIDTH - LABEL - 30.0);
    let rows: Vec<_> = outlook.forecast.iter().take(MAX_ROWS).collect();
    let height = row_y(rows.len().max(1)) - ROW / 2.0 + 10.0;
    let step = tick_step(outlook.horizon_days);
    let ticks: Vec<u32> = (0..=outlook.horizon_days).step_by(step as usize).collect();
    html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (height) }
            role="img" aria-labelledby="plot-title plot-desc" {
            title id="plot-title" { "Rotations and expiries in the next " (outlook.horizon_days) " days" }
            desc id="plot-desc" {
                (outlook.forecast.len()) " keys. Circles mark rotations (a successor is made), squares expiries."
            }
            @for t in &ticks {
                @let tx = x(f64::from(*t));
                line x1=(tx) y1=(TOP - 6.0) x2=(tx) y2=(height - 6.0) stroke="#c8ccd2" stroke-width="1" {}
                text x=(tx) y=(TOP - 10.0) text-anchor="middle" font-size="11" fill="#33383f" { "+" (t) "d" }
            }
            @if rows.is_empty() {
                text x=(LABEL) y=(TOP + 14.0) font-size="13" fill="#33383f" { "Nothing rotates or expires in this horizon." }
            }
            @for (i, f) in rows.iter().enumerate() {
                @let y = row_y(i);
                @let rx = x(days_between(outlook.now, f.rotates_at));
                @let ex = x(days_between(outlook.now, f.expires_at));
                text x=(LABEL - 8.0) y=(y + 4.0) text-anchor="end" font-size="12" fill="#1b1f24" {
                    (f.key_ref.app.as_str()) @if !f.key_ref.reference.as_str().is_empty() { " / " (f.key_ref.reference.as_str()) }
                }
                line x1=(rx) y1=(y) x2=(ex) y2=(y) stroke="#8a6d00" stroke-width="4" {}
                circle cx=(rx) cy=(y) r="6" fill="#0b5cad" {
                    title { (f.alias) " rotates at " (when(f.rotates_at)) }
                }
                rect x=(ex - 5.0) y=(y - 5.0) width="10" height="10" fill="#b3261e" {
                    title { (f.alias) " expires at " (when(f.expires_at)) }
                }
            }
        }
        @if outlook.forecast.len() > MAX_ROWS {
            p.note { "The plot shows the first " (MAX_ROWS) " keys; the table lists all " (outlook.forecast.len()) "." }
        }
        p.legend {
            span.mark-rotate aria-hidden="true" {} " rotation (successor made)  "
            span.mark-expire aria-hidden="true" {} " expiry"
        }
    }
}
