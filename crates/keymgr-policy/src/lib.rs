//! The policy and expiry engine: pure functions over the model, no storage, no clock.
//!
//! * [`pre_expire_days`]: MOSIP's rule for which policy's `pre_expire_days` applies to a pair.
//! * [`is_current`] and [`decide`]: MOSIP's rule for the current key of a pair at an instant,
//!   and the decision *use this key / generate one / ambiguous*.
//! * [`new_key_expiry`]: now plus the application's validity, clamped to the expiry of the key
//!   that signs the new key's certificate (MOSIP does not clamp: a base certificate can outlive
//!   its master).
//! * [`forecast`]: every key that expires or rotates within a horizon, and when its successor
//!   will be made; [`lint`]: policies that will misbehave.
//!
//! Time always comes in as an argument, so callers (and tests) can walk through years.

#![forbid(unsafe_code)]

mod engine;
mod error;
mod report;

pub use engine::{
    Decision, NewKeyExpiry, decide, is_current, new_key_expiry, pre_expire_days, rotation_instant,
};
pub use error::PolicyError;
pub use report::{Finding, ForecastItem, Severity, forecast, lint};
