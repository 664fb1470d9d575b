//! Why a console request failed, and the page that says so.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use keymgr_core::KeymgrError;

use crate::layout;

/// Why a console request failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or it expired: the browser is sent to the sign-in page.
    #[error("not signed in")]
    SignedOut,
    /// Signed in, without the role the page or action needs (its role names).
    #[error("this needs one of the roles {0}")]
    Forbidden(String),
    /// A form came without this session's CSRF token, or from another site.
    #[error("the form is not from this console session; reload the page and try again")]
    Csrf,
    /// A form or query field is wrong.
    #[error("{0}")]
    BadInput(String),
    /// Nothing at that address.
    #[error("not found")]
    NotFound,
    /// Too many sessions, or too many failed sign-ins.
    #[error("{0}")]
    Busy(String),
    /// The key manager refused or failed (its MOSIP error code is shown).
    #[error("{0}")]
    KeyManager(#[from] KeymgrError),
    /// A fault in the console itself.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            Self::SignedOut => StatusCode::SEE_OTHER,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadInput(_) | Self::KeyManager(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if matches!(self, Self::SignedOut) {
            return Redirect::to("/console/login").into_response();
        }
        if let Self::Internal(text) = &self {
            tracing::error!("console: {text}");
        }
        let status = self.status();
        let (title, code) = match &self {
            Self::KeyManager(e) => ("The key manager refused", Some(e.code())),
            Self::Forbidden(_) => ("Not allowed", None),
            Self::Csrf => ("Form refused", None),
            Self::NotFound => ("Not found", None),
            Self::Busy(_) => ("Busy", None),
            Self::BadInput(_) => ("Check the form", None),
            Self::Internal(_) | Self::SignedOut => ("Something failed", None),
        };
        let message = match &self {
            Self::Internal(_) => "The console failed; the service log says why.".to_owned(),
            other => other.to_string(),
        };
        let body = layout::error_page(title, code, &message);
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into_string()).into_response()
    }
}
