//! Bearer tokens mapped to users and roles, and the role set of each endpoint.
//!
//! Static tokens are configured as SHA-256 hashes (hex), never in clear; a request's token is
//! hashed and looked up first. A token that is not in the table goes to the
//! [`BearerVerifier`], if one is set (the platform's OpenID Connect provider, e.g. Keycloak,
//! through `keymgr-oidc`), and stands for the user and roles it answers. Roles follow MOSIP's
//! per-endpoint role properties (`mosip.role.keymanager.<name>`); the names are MOSIP's
//! (`postencrypt`, `getgetcertificate`, ...), see `docs/API.md` for the table.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use keymgr_core::sha256;
use serde::Deserialize;

use crate::ApiError;

/// The role every administrative endpoint accepts by default.
pub const ROLE_KEY_ADMIN: &str = "KEY_ADMIN";
/// The role of services that encrypt, decrypt and read certificates.
pub const ROLE_CRYPTO_USER: &str = "CRYPTO_USER";
/// The role of key custodians and auditors who may look at the operator console, not act.
pub const ROLE_KEY_AUDITOR: &str = "KEY_AUDITOR";

/// The role name of the operator console's pages (read-only views).
pub const CONSOLE_VIEW: &str = "getconsole";
/// The role name of the operator console's actions (rotate, revoke, compromise, retire,
/// policy change, trust store upload).
pub const CONSOLE_ACTION: &str = "postconsoleaction";

/// One configured bearer token.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenConfig {
    /// SHA-256 of the token, hex (upper or lower case).
    pub sha256: String,
    /// The user the token stands for: the name matched against `access_allowed`.
    pub user: String,
    /// The roles it carries.
    pub roles: Vec<String>,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name (compared with a policy's `access_allowed`).
    pub user: String,
    /// Roles.
    pub roles: Vec<String>,
}

/// Verifies bearer tokens that are not in the static table: the platform's identity
/// provider's JWTs. Implemented outside this crate (`keymgr-service` adapts `keymgr-oidc`), so
/// the REST layer never sees a key set or a network fetch.
pub trait BearerVerifier: Send + Sync + Debug {
    /// Who `token` stands for, or `None` when it is refused (the verifier logs why).
    fn principal(&self, token: &str) -> Option<Principal>;
}

/// The token table, the bearer verifier if any, and the roles each endpoint needs.
#[derive(Debug, Clone)]
pub struct Authenticator {
    tokens: HashMap<[u8; 32], Principal>,
    verifier: Option<Arc<dyn BearerVerifier>>,
    endpoint_roles: HashMap<String, Vec<String>>,
    development_without_auth: bool,
}

/// MOSIP's role property names of the endpoints served, with the default roles.
pub fn default_endpoint_roles() -> HashMap<String, Vec<String>> {
    let admin = [ROLE_KEY_ADMIN];
    let user = [ROLE_KEY_ADMIN, ROLE_CRYPTO_USER];
    let viewer = [ROLE_KEY_ADMIN, ROLE_KEY_AUDITOR];
    let table: [(&str, &[&str]); 59] = [
        (CONSOLE_VIEW, &viewer),
        (CONSOLE_ACTION, &admin),
        ("postgeneratemasterkeyobjecttype", &admin),
        ("postgeneratecsr", &admin),
        ("postuploadcertificate", &admin),
        ("postuploadotherdomaincertificate", &admin),
        ("postgeneratesymmetrickey", &admin),
        ("putrevokekey", &admin),
        ("getgetcertificate", &user),
        ("getuinpartnercode", &user),
        ("postlicensegenerate", &admin),
        ("postlicensepermission", &admin),
        ("getlicensepermission", &user),
        ("postcssign", &user),
        ("postcsverifysign", &user),
        ("posttpmencrypt", &user),
        ("posttpmdecrypt", &user),
        ("posttpmsigningpublickey", &user),
        ("posttpmencryptionpublickey", &user),
        ("postpdfsign", &user),
        ("getactuatormappings", &admin),
        ("postactuatorrefresh", &admin),
        ("getcertificatechain", &user),
        ("postencrypt", &user),
        ("postdecrypt", &user),
        ("postencryptwithpin", &user),
        ("postdecryptwithpin", &user),
        ("postgenerateargon2hash", &user),
        ("postjwtencrypt", &user),
        ("postjwtdecrypt", &user),
        ("postjwtsign", &user),
        ("postjwssign", &user),
        ("postjwtverify", &user),
        ("postsignv2", &user),
        ("postsignrawdata", &user),
        ("postsign", &user),
        ("postvalidate", &user),
        ("postuploadcacertificate", &admin),
        ("postuploadpartnercertificate", &admin),
        ("getgetpartnercertificatepartnercertid", &user),
        ("getgetpartnersignedcertificatepartnercertid", &user),
        ("postverifycertificatetrust", &user),
        ("postgetcacertificates", &user),
        ("getcacertificatetrustpath", &user),
        ("putpoliciesapplicationid", &admin),
        ("getpolicies", &admin),
        ("postcompromise", &admin),
        ("postretire", &admin),
        ("getkeystates", &admin),
        ("putkeystatealias", &admin),
        ("putretentionapplicationid", &admin),
        ("postrewrap", &user),
        ("postrewrapbatch", &user),
        ("postzkencrypt", &user),
        ("postzkdecrypt", &user),
        ("postzkreencryptrandomkey", &user),
        ("postmigratebasekey", &admin),
        ("getzktempcertificate", &admin),
        ("postmigratezkkeys", &admin),
    ];
    table.iter().map(|(k, v)| ((*k).to_owned(), v.iter().map(|r| (*r).to_owned()).collect())).collect()
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Authenticator {
    /// An authenticator over `tokens`, with `endpoint_roles` overriding the defaults.
    pub fn new(
        tokens: &[TokenConfig],
        endpoint_roles: &HashMap<String, Vec<String>>,
    ) -> Result<Self, String> {
        let mut table = HashMap::new();
        for t in tokens {
            let hash = parse_hex32(&t.sha256)
                .ok_or_else(|| format!("token of user {:?}: sha256 must be 64 hex digits", t.user))?;
            table.insert(hash, Principal { user: t.user.clone(), roles: t.roles.clone() });
        }
        let mut roles = default_endpoint_roles();
        for (name, r) in endpoint_roles {
            if !roles.contains_key(name) {
                return Err(format!("unknown endpoint role name {name:?}"));
            }
            roles.insert(name.clone(), r.clone());
        }
        Ok(Self { tokens: table, verifier: None, endpoint_roles: roles, development_without_auth: false })
    }

    /// Also accept the bearer tokens `verifier` accepts. Static tokens are still looked up
    /// first, so one that happens to look like a JWT keeps working.
    pub fn with_verifier(mut self, verifier: Arc<dyn BearerVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Whether a bearer verifier is set.
    pub fn has_verifier(&self) -> bool {
        self.verifier.is_some()
    }

    /// Accept every request as a user with every role. For development only; the server logs
    /// a warning at every start when this is on.
    pub fn development_without_auth(mut self) -> Self {
        self.development_without_auth = true;
        self
    }

    /// Whether authentication is off.
    pub fn is_development_without_auth(&self) -> bool {
        self.development_without_auth
    }

    /// Whether `endpoint` (a role property name) is administrative: by default only
    /// `KEY_ADMIN` may call it. Each use of one is audited, whatever roles are configured.
    pub fn is_admin_endpoint(endpoint: &str) -> bool {
        static ADMIN: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            default_endpoint_roles()
                .into_iter()
                .filter(|(_, roles)| roles.len() == 1 && roles.first().is_some_and(|r| r == ROLE_KEY_ADMIN))
                .map(|(name, _)| name)
                .collect()
        });
        ADMIN.iter().any(|a| a == endpoint)
    }

    /// Adds a token given in clear (the generated admin token), stored as its hash.
    pub fn add_token(&mut self, token: &str, principal: Principal) {
        self.tokens.insert(sha256(token.as_bytes()), principal);
    }

    /// Who sent `headers`, if they may call the endpoint with role name `endpoint`.
    pub fn authorize(&self, headers: &HeaderMap, endpoint: &str) -> Result<Principal, ApiError> {
        if self.development_without_auth {
            return self.authorize_token("", endpoint);
        }
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or(ApiError::Unauthenticated)?;
        self.authorize_token(token, endpoint)
    }

    /// Who `token` stands for, if they may call the endpoint with role name `endpoint` (the
    /// console's sign-in takes the token from a form, not a header).
    pub fn authorize_token(&self, token: &str, endpoint: &str) -> Result<Principal, ApiError> {
        let needed = self.endpoint_roles.get(endpoint).map(Vec::as_slice).unwrap_or_default();
        if self.development_without_auth {
            return Ok(Principal { user: "development".into(), roles: needed.to_vec() });
        }
        if token.is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        let principal = match (self.tokens.get(&sha256(token.as_bytes())), &self.verifier) {
            (Some(principal), _) => principal.clone(),
            (None, Some(verifier)) => verifier.principal(token).ok_or(ApiError::Unauthenticated)?,
            (None, None) => return Err(ApiError::Unauthenticated),
        };
        if self.permits(&principal, endpoint) {
            Ok(principal)
        } else {
            Err(ApiError::Forbidden(needed.join(",")))
        }
    }

    /// Whether `who` holds one of the roles of the endpoint with role name `endpoint`.
    pub fn permits(&self, who: &Principal, endpoint: &str) -> bool {
        if self.development_without_auth {
            return true;
        }
        let needed = self.endpoint_roles.get(endpoint).map(Vec::as_slice).unwrap_or_default();
        who.roles.iter().any(|r| needed.contains(r))
    }

    /// Whether `who` may pass `force=true` to a generating endpoint: that replaces a current
    /// key, so it takes the roles of `generateMasterKey` (the administrators'), whichever
    /// endpoint it came through.
    pub fn authorize_force(&self, who: &Principal) -> Result<(), ApiError> {
        if self.development_without_auth {
            return Ok(());
        }
        let needed = self.endpoint_roles.get(FORCE_ROLE_NAME).map(Vec::as_slice).unwrap_or_default();
        if who.roles.iter().any(|r| needed.contains(r)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("{} (force=true replaces a current key)", needed.join(","))))
        }
    }
}

/// The endpoint whose roles `force=true` takes on every generating endpoint.
const FORCE_ROLE_NAME: &str = "postgeneratemasterkeyobjecttype";

/// The token of an `Authorization` value with the `Bearer` scheme, the scheme compared
/// without regard to case (RFC 7235, section 2.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        h
    }

    #[test]
    fn tokens_roles_and_failures() {
        let tokens = [TokenConfig {
            sha256: hex(&sha256(b"reader-token")).to_uppercase(),
            user: "regproc".into(),
            roles: vec![ROLE_CRYPTO_USER.into()],
        }];
        let auth = Authenticator::new(&tokens, &HashMap::new()).unwrap();
        assert_eq!(auth.authorize(&headers("reader-token"), "postdecrypt").unwrap().user, "regproc");
        assert!(matches!(
            auth.authorize(&headers("reader-token"), "putrevokekey"),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(auth.authorize(&headers("other"), "postdecrypt"), Err(ApiError::Unauthenticated)));
        assert!(matches!(auth.authorize(&HeaderMap::new(), "postdecrypt"), Err(ApiError::Unauthenticated)));
        let bad = [TokenConfig { sha256: "xyz".into(), user: "u".into(), roles: vec![] }];
        assert!(Authenticator::new(&bad, &HashMap::new()).is_err());
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("{scheme} reader-token")).unwrap());
            assert_eq!(auth.authorize(&h, "postdecrypt").unwrap().user, "regproc", "{scheme}");
        }
        for bad in ["Basic reader-token", "Bearer", "Bearer   ", "Bearerreader-token"] {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(bad).unwrap());
            assert!(matches!(auth.authorize(&h, "postdecrypt"), Err(ApiError::Unauthenticated)), "{bad}");
        }
        let reader = auth.authorize(&headers("reader-token"), "postdecrypt").unwrap();
        assert!(matches!(auth.authorize_force(&reader), Err(ApiError::Forbidden(_))));
        let admin = Principal { user: "a".into(), roles: vec![ROLE_KEY_ADMIN.into()] };
        assert!(auth.authorize_force(&admin).is_ok());
        let unknown = HashMap::from([("postnothing".to_owned(), vec![])]);
        assert!(Authenticator::new(&[], &unknown).is_err());
    }
}
