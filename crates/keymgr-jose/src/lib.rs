//! JOSE formats of the key manager: JWS ([`jws`]: compact, detached, RFC 7797 unencoded,
//! RS256/PS256/ES256/ES256K, strict verification) and MOSIP's JWE (`/jwtEncrypt`, `/jwtDecrypt`,
//! reference section 2): compact serialisation, `alg` RSA-OAEP-256 (SHA-256, MGF1-SHA-256),
//! `enc` A256GCM with a 12-byte IV, `zip` DEF (raw DEFLATE) when asked, `kid` = base64url of the
//! SHA-256 of the recipient certificate's DER (the envelope thumbprint).
//!
//! The recipient's private key is never here: [`parse`] reads a token, the caller unwraps the
//! content key with whatever holds the private key, and [`decrypt`] finishes.

#![forbid(unsafe_code)]

mod error;
mod jwe;
pub mod jws;

pub use error::JoseError;
pub use jwe::{JweOptions, ParsedJwe, decrypt, encrypt, parse};
