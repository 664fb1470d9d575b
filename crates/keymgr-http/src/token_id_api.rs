//! `GET /tokenid/{uin}/{partnercode}`: a partner's token id for a resident (reference
//! section 9), derived with the configured salts.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use crate::{AppState, Shared, fetched};

/// `response` of `/tokenid`.
#[derive(Debug, Serialize)]
pub struct TokenIdResponse {
    #[serde(rename = "tokenID")]
    token_id: String,
}

/// The routes of this section.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/tokenid/{uin}/{partnercode}", get(get_token_id))
}

async fn get_token_id(
    State(s): Shared,
    Path((uin, partner_code)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    fetched(s, h, "getuinpartnercode", move |km| {
        Ok(TokenIdResponse { token_id: km.token_id(&uin, &partner_code)? })
    })
    .await
}
