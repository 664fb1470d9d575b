//! Bearer tokens as the service's configuration names them.

/// The lowercase hex SHA-256 of `token`: the `sha256` of an `[[auth.tokens]]` entry.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(keymgr_crypto::sha256(token.as_bytes()))
}
