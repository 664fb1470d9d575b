//! The key hierarchy model of the key manager.
//!
//! Plain data with validation and no I/O or cryptography: the identifiers of a key
//! ([`AppId`], [`RefId`], [`KeyRef`]), where a key sits in the hierarchy ([`KeyTier`]),
//! the records the MOSIP `key_alias` and `key_policy_def` tables hold ([`KeyAlias`],
//! [`KeyPolicy`]), UTC instants ([`UtcTime`]) and certificate thumbprints ([`Thumbprint`]).
//!
//! Every constructor that takes caller input validates it, so that a value of these types
//! is known to fit the MOSIP columns it will be stored in.

#![forbid(unsafe_code)]

pub mod base58;
pub mod base64;
mod error;
mod ids;
mod records;
mod state;
mod thumbprint;
mod time;

pub use error::ModelError;
pub use ids::{AppId, KeyRef, KeyTier, RefId, WellKnown};
pub use records::{AccessAllowed, KeyAlias, KeyPolicy};
pub use state::KeyState;
pub use thumbprint::Thumbprint;
pub use time::UtcTime;
