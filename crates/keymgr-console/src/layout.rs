//! The page shell (navigation, the signed-in user, the sign-out form), the sign-in and error
//! pages, the embedded stylesheet and script, and small formatting helpers.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use keymgr_core::KeyState;
use keymgr_model::UtcTime;
use maud::{DOCTYPE, Markup, html};

use crate::session::Session;

const STYLESHEET: &str = include_str!("../assets/console.css");
const SCRIPT: &str = include_str!("../assets/console.js");
const ICON: &str = include_str!("../assets/favicon.svg");

/// `GET /console/assets/console.css`.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], STYLESHEET)
        .into_response()
}

/// `GET /console/assets/console.js`.
pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        SCRIPT,
    )
        .into_response()
}

/// `GET /console/assets/favicon.svg`.
pub async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=3600")], ICON).into_response()
}

/// `markup` as an HTML response.
pub fn html(markup: Markup) -> Html<String> {
    Html(markup.into_string())
}

/// The console's sections, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Keys.
    Hierarchy,
    /// Rotations and expiries.
    Timeline,
    /// Retire, policies.
    Actions,
    /// Trust store.
    Trust,
    /// Audit trail.
    Audit,
    /// Health.
    Health,
}

const SECTIONS: [(Section, &str, &str); 6] = [
    (Section::Hierarchy, "/console/hierarchy", "Hierarchy"),
    (Section::Timeline, "/console/timeline", "Timeline"),
    (Section::Actions, "/console/actions/retire", "Retire & policies"),
    (Section::Trust, "/console/trust", "Trust store"),
    (Section::Audit, "/console/audit", "Audit"),
    (Section::Health, "/console/health", "Health"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Key Manager console" }
            link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// A page of the console for `session`, in `section`.
pub fn page(title: &str, session: &Session, section: Section, body: Markup) -> Html<String> {
    html(html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Key Manager" }
                    nav aria-label="Console sections" {
                        ul {
                            @for (s, href, label) in SECTIONS {
                                @if s == Section::Actions && !session.can_act {
                                } @else if s == section {
                                    li { a href=(href) aria-current="page" { (label) } }
                                } @else {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                    }
                    form.signout method="post" action="/console/logout" {
                        span.who {
                            (session.who.user)
                            " (" (if session.can_act { "admin" } else { "read-only" }) ")"
                        }
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Sign out" }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    })
}

/// The sign-in page, with the nonce that must come back and an optional problem.
pub fn login_page(nonce: &str, problem: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.login {
                main id="main" {
                    h1 { "Key Manager console" }
                    @if let Some(p) = problem {
                        p.problem role="alert" { (p) }
                    }
                    form method="post" action="/console/login" {
                        label for="token" { "Admin or auditor token" }
                        input id="token" name="token" type="password" autocomplete="off" required autofocus;
                        input type="hidden" name="nonce" value=(nonce);
                        button type="submit" { "Sign in" }
                    }
                    p.hint { "The bearer token of the REST API (" code { "admin.token" } " in the data folder, or a token of your identity provider with KEY_ADMIN or KEY_AUDITOR)." }
                }
            }
        }
    }
}

/// The page of a failed request.
pub fn error_page(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main id="main" {
                    h1 { (title) }
                    p.problem role="alert" { (message) }
                    p { a href="/console/hierarchy" { "Back to the console" } }
                }
            }
        }
    }
}

/// A time as the console shows it: `2026-12-04 18:30 UTC`.
pub fn when(t: UtcTime) -> String {
    let text = t.to_mosip_string();
    match (text.get(..10), text.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm} UTC"),
        _ => text,
    }
}

/// A state as a labelled badge.
pub fn state_badge(state: KeyState) -> Markup {
    let name = state.as_str();
    html! { span class={ "state state-" (name.to_ascii_lowercase()) } { (name) } }
}

/// The first 16 hex digits of a thumbprint, the whole in a tooltip.
pub fn short(hex: &str) -> Markup {
    html! { code title=(hex) { (hex.get(..16).unwrap_or(hex)) "…" } }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}
