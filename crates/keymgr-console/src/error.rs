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
    /// Whether the details stay in the service log (a keystore or database fault, a fault of
    /// the console), as the REST API keeps them.
    fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Internal(_) | Self::KeyManager(KeymgrError::Keystore(_) | KeymgrError::Database(_))
        )
    }

    /// What the operator is shown: the error, or for an internal one where to look (the
    /// details are logged here).
    pub fn public_text(&self) -> String {
        if self.is_internal() {
            tracing::error!("console: {self}");
            return match self {
                Self::KeyManager(e) => {
                    format!("{}: a keystore or database error; the service log has the details", e.code())
                }
                _ => "the console failed; the service log has the details".to_owned(),
            };
        }
        match self {
            Self::KeyManager(e) => format!("{}: {e}", e.code()),
            other => other.to_string(),
        }
    }

    fn status(&self) -> StatusCode {
        if self.is_internal() {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
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
        let status = self.status();
        let title = match &self {
            Self::KeyManager(_) if !self.is_internal() => "The key manager refused",
            Self::Forbidden(_) => "Not allowed",
            Self::Csrf => "Form refused",
            Self::NotFound => "Not found",
            Self::Busy(_) => "Busy",
            Self::BadInput(_) => "Check the form",
            _ => "Something failed",
        };
        let message = self.public_text();
        let body = layout::error_page(title, &message);
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into_string()).into_response()
    }
}
