//! PEM text in and out: standard PEM, 64-character lines, `\n` line ends.

use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes};

/// Largest PEM text accepted, to bound allocation on untrusted input.
pub const MAX_PEM_LEN: usize = 1 << 20;

/// Decodes the first PEM object whose label is one of `labels`, as MOSIP uses the first
/// object of its inputs.
pub fn decode_first(text: &[u8], labels: &[&str]) -> Result<Vec<u8>, CryptoError> {
    if text.len() > MAX_PEM_LEN {
        return Err(CryptoError::Pem(format!("text longer than {MAX_PEM_LEN} bytes")));
    }
    let objects = ::pem::parse_many(text).map_err(|e| CryptoError::Pem(e.to_string()))?;
    objects
        .into_iter()
        .find(|p| labels.contains(&p.tag()))
        .map(::pem::Pem::into_contents)
        .ok_or_else(|| CryptoError::Pem(format!("no {} object found", labels.join(" or "))))
}

/// Decodes the first PEM object with label `label` into bytes that are zeroized on drop, for
/// private keys.
pub fn decode_secret(text: &[u8], label: &str) -> Result<SecretBytes, CryptoError> {
    let text = Zeroizing::new(text.to_vec());
    decode_first(&text, &[label]).map(SecretBytes::new)
}

/// Encodes `der` as PEM with label `label`.
pub fn encode(label: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(label, der.to_vec()),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_first_object_wins() {
        let a = encode("CERTIFICATE", &[1, 2, 3]);
        let b = encode("CERTIFICATE", &[4, 5, 6]);
        assert!(a.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(!a.contains('\r'));
        let both = format!("{a}{b}");
        assert_eq!(decode_first(both.as_bytes(), &["CERTIFICATE"]), Ok(vec![1, 2, 3]));
        assert!(decode_first(a.as_bytes(), &["PRIVATE KEY"]).is_err());
        assert!(decode_first(b"not pem", &["CERTIFICATE"]).is_err());
    }
}
