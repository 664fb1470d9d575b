//! `POST /pdf/sign` (reference section 5.3): a PDF signed visibly with the application's
//! signing key, optionally protected with a password.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use keymgr_core::{KeyManager, PdfSignRequest, Placement};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::api::{app_id, decode_b64, ref_id, required, timestamp};
use crate::auth::Principal;
use crate::{ApiError, AppState, Shared, wrapped};

/// Largest PDF accepted, decoded (the body limit bounds it too).
const MAX_PDF_LEN: usize = 64 * 1024 * 1024;

/// `request` of `/pdf/sign`. No `Debug`: it carries a password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdfSignBody {
    application_id: Option<String>,
    reference_id: Option<String>,
    time_stamp: Option<String>,
    data: Option<String>,
    #[serde(rename = "lowerLeftX")]
    lower_left_x: Option<i64>,
    #[serde(rename = "lowerLeftY")]
    lower_left_y: Option<i64>,
    #[serde(rename = "upperRightX")]
    upper_right_x: Option<i64>,
    #[serde(rename = "upperRightY")]
    upper_right_y: Option<i64>,
    reason: Option<String>,
    page_number: Option<i64>,
    password: Option<Zeroizing<String>>,
}

/// `response` of `/pdf/sign`: the signed PDF, base64url.
#[derive(Debug, Serialize)]
pub struct PdfSignResponse {
    data: String,
}

/// A coordinate or page number: MOSIP's `@Min(0) @Max(Integer.MAX_VALUE)` int (0 when absent).
fn non_negative(value: Option<i64>, field: &str) -> Result<f32, ApiError> {
    match value.unwrap_or(0) {
        v @ 0..=0x7fff_ffff => Ok(v as f32),
        v => Err(ApiError::InvalidRequest(format!("{field} must be 0 to 2147483647, not {v}"))),
    }
}

/// `POST /pdf/sign`.
pub fn sign_pdf(km: &KeyManager, who: &Principal, req: PdfSignBody) -> Result<PdfSignResponse, ApiError> {
    let app = app_id(&req.application_id)?;
    let reference = ref_id(&req.reference_id)?;
    timestamp(&req.time_stamp, "timeStamp")?;
    let pdf = decode_b64("data", required(&req.data, "data")?, MAX_PDF_LEN)?;
    let reason = required(&req.reason, "reason")?;
    let page = non_negative(req.page_number, "pageNumber")? as u32;
    let placement = Placement {
        page,
        lower_left_x: non_negative(req.lower_left_x, "lowerLeftX")?,
        lower_left_y: non_negative(req.lower_left_y, "lowerLeftY")?,
        upper_right_x: non_negative(req.upper_right_x, "upperRightX")?,
        upper_right_y: non_negative(req.upper_right_y, "upperRightY")?,
    };
    let request = PdfSignRequest {
        app: &app,
        reference: (!reference.is_master()).then_some(&reference),
        pdf: &pdf,
        placement,
        reason,
        password: req.password.as_deref().map(String::as_str),
        user: &who.user,
    };
    let signed = km.sign_pdf(&request)?;
    Ok(PdfSignResponse { data: keymgr_model::base64::encode(&signed) })
}

/// The route of PDF signing.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/pdf/sign", post(post_sign_pdf))
}

async fn post_sign_pdf(State(s): Shared, h: HeaderMap, req: Request) -> Response {
    wrapped(s, h, req.into_body(), "postpdfsign", |st, who, r| sign_pdf(&st.km, who, r)).await
}
