//! The SHA-256 thumbprint of a certificate.

use std::fmt;

use crate::ModelError;

/// SHA-256 of a certificate's DER encoding: 32 raw bytes in an envelope, 64 uppercase hex
/// digits in `key_alias.cert_thumbprint`.
///
/// `Display` writes the uppercase hex that MOSIP stores; [`Thumbprint::from_hex`] accepts
/// either case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint([u8; Thumbprint::LEN]);

impl Thumbprint {
    /// Length of a thumbprint in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 digest bytes.
    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Takes a thumbprint from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// Parses 64 hexadecimal digits (either case), as stored in `key_alias.cert_thumbprint`.
    pub fn from_hex(text: &str) -> Result<Self, ModelError> {
        let mut out = [0u8; Self::LEN];
        hex::decode_to_slice(text, &mut out).map_err(|_| ModelError::BadThumbprint)?;
        Ok(Self(out))
    }

    /// The raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The uppercase hex form that MOSIP stores.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.0)
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Thumbprint({})", self.to_hex())
    }
}

impl std::str::FromStr for Thumbprint {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl AsRef<[u8]> for Thumbprint {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_uppercase_hex() {
        let t = Thumbprint::from_bytes([0xab; 32]);
        assert_eq!(t.to_string(), "AB".repeat(32));
        assert_eq!(Thumbprint::from_hex(&"ab".repeat(32)), Ok(t));
        assert_eq!(Thumbprint::from_hex("AB"), Err(ModelError::BadThumbprint));
        assert_eq!(Thumbprint::from_hex(&"zz".repeat(32)), Err(ModelError::BadThumbprint));
        assert!(Thumbprint::from_slice(&[0; 31]).is_none());
    }

    proptest! {
        #[test]
        fn hex_round_trip(bytes in any::<[u8; 32]>()) {
            let t = Thumbprint::from_bytes(bytes);
            prop_assert_eq!(t.to_string().parse::<Thumbprint>(), Ok(t));
        }
    }
}
