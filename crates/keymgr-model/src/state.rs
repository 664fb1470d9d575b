//! The lifecycle state of a key (ours; MOSIP has none beyond the validity dates).

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// Where a key stands in its life. A key without a stored state is [`KeyState::PreActive`]
/// before its generation instant, [`KeyState::Active`] until it expires and
/// [`KeyState::Deactivated`] after; the operator's states ([`KeyState::Compromised`],
/// [`KeyState::Destroyed`], an early [`KeyState::Deactivated`]) are stored and win over the
/// dates. The transitions allowed between them are decided in one place, `keymgr-core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyState {
    /// Made, but its generation instant is in the future.
    PreActive,
    /// Current: encrypts, signs, decrypts, verifies.
    Active,
    /// Past its use: decrypts and verifies only.
    Deactivated,
    /// Exposed: nothing but an audited, operator-allowed recovery decrypt.
    Compromised,
    /// Its private key is gone; the certificate and thumbprint stay as a tombstone.
    Destroyed,
}

impl KeyState {
    /// Every state, in lifecycle order.
    pub const ALL: [KeyState; 5] =
        [Self::PreActive, Self::Active, Self::Deactivated, Self::Compromised, Self::Destroyed];

    /// The stored name (`keymgr_key_state.state`) and the name in APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreActive => "pre-active",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
            Self::Compromised => "compromised",
            Self::Destroyed => "destroyed",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ModelError::UnknownKeyState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for state in KeyState::ALL {
            assert_eq!(state.as_str().parse::<KeyState>().unwrap(), state);
        }
        assert_eq!("COMPROMISED".parse::<KeyState>().unwrap(), KeyState::Compromised);
        assert!("revoked".parse::<KeyState>().is_err());
    }
}
