//! `[auth.oidc]` at start: the `keymgr-oidc` verifier over a JWKS file or URL (with its
//! refresh task), and the adapter that makes it `keymgr-http`'s bearer verifier.

use std::sync::Arc;
use std::time::Duration;

use keymgr_http::Principal;
use keymgr_http::auth::BearerVerifier;
use keymgr_oidc::{JwksFetcher, OidcError, OidcSettings, OidcVerifier, looks_like_jwt};

use crate::config::JwksSource;
use crate::{ServiceError, config_error};

/// An OIDC verifier as the REST layer's bearer verifier: a token with the shape of a JWT is
/// verified, and its identity becomes the request's principal.
#[derive(Debug)]
pub struct OidcBearer(pub Arc<OidcVerifier>);

impl BearerVerifier for OidcBearer {
    fn principal(&self, token: &str) -> Option<Principal> {
        if !looks_like_jwt(token) {
            return None;
        }
        let identity = self.0.verify(token).ok()?;
        Some(Principal { user: identity.user, roles: identity.roles })
    }
}

/// A [`ServiceError::Config`] from the verifier's error, without saying "configuration" twice.
pub(crate) fn oidc_error(e: OidcError) -> ServiceError {
    match e {
        OidcError::Config(message) => ServiceError::Config(message),
        refused @ OidcError::Refused => config_error(refused),
    }
}

/// The verifier of `[auth.oidc]`: over a JWKS file read now, or over a URL fetched now (the
/// start fails if that fetch does) and then kept current by the refresh task, which runs on a
/// Tokio runtime of its own thread (`keymgr-jwks`), since the service's runtime is made after
/// `start` returns. The task ends once the verifier is dropped.
pub(crate) fn start_verifier(
    settings: OidcSettings,
    source: JwksSource,
) -> Result<Arc<OidcVerifier>, ServiceError> {
    let (url, ca_file, times, timeout, allow_insecure_http) = match source {
        JwksSource::File(path) => {
            let verifier = OidcVerifier::from_file(settings, &path).map_err(oidc_error)?;
            tracing::info!("OIDC: {} signature keys from {}", verifier.key_set().len(), path.display());
            return Ok(Arc::new(verifier));
        }
        JwksSource::Url { url, ca_file, times, timeout, allow_insecure_http } => {
            (url, ca_file, times, timeout, allow_insecure_http)
        }
    };
    let ca_pem = match &ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| config_error(format!("auth.oidc.ca_file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let fetcher = JwksFetcher::new(&url, ca_pem.as_deref(), timeout).map_err(oidc_error)?;
    if fetcher.url().scheme_str() == Some("http") && !is_loopback(fetcher.url().host().unwrap_or_default()) {
        if !allow_insecure_http {
            return Err(config_error(format!(
                "auth.oidc.jwks_url {url} is plain http to another host: whoever can change the answer \
                 on the way can make tokens this service accepts. Use https (with ca_file for a \
                 private CA), or set allow_insecure_http = true"
            )));
        }
        tracing::warn!(
            "auth.oidc.jwks_url {url} is plain http to another host (allow_insecure_http): whoever can \
             change the answer on the way can make tokens this service accepts; use https"
        );
    }
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keymgr-jwks".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    let _ = sender.send(Err(config_error(format!("auth.oidc: cannot start a runtime: {e}"))));
                    return;
                }
            };
            runtime.block_on(async move {
                match OidcVerifier::connect(settings, fetcher, times).await {
                    Ok((verifier, refresher)) => {
                        let _ = sender.send(Ok(verifier));
                        refresher.run().await;
                    }
                    Err(e) => {
                        let _ = sender.send(Err(oidc_error(e)));
                    }
                }
            });
        })
        .map_err(|e| config_error(format!("auth.oidc: cannot start the JWKS thread: {e}")))?;
    receiver.recv_timeout(timeout + Duration::from_secs(5)).map_err(|_| {
        config_error(format!("auth.oidc.jwks_url {url}: no key set within {} s", timeout.as_secs()))
    })?
}

/// Whether `host` (as in a URL, IPv6 in brackets) is this machine.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
