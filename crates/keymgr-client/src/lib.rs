//! A client of a key manager's REST API, this service's or MOSIP's: what `keymgr migrate-keys`
//! uses to move keys to another deployment, and what fetches an OpenID provider's key set.
//!
//! * [`HttpClient`]: HTTP/1.1 over TCP or TLS (rustls on aws-lc-rs; a CA file or Mozilla's
//!   roots) to one server, the connection kept alive and made again when closed, every
//!   exchange bounded in time and size.
//! * [`MosipClient`]: MOSIP's conventions on top: the bearer token, the request wrapper, and
//!   the response wrapper whose errors come back as [`ClientError::Mosip`] with their code.

#![forbid(unsafe_code)]

mod error;
mod http;
mod mosip;

pub use error::ClientError;
pub use http::{HttpClient, HttpOptions, HttpResponse, tls_connector};
pub use hyper::{Method, Uri};
pub use mosip::{MosipClient, encode_query, mosip_now};
