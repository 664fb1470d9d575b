//! Moving keys from the file keystore into a PKCS#11 token (`keymgr keystore migrate`): each
//! key is imported under its alias as a non-extractable token object with its certificate,
//! then checked by use: the token signs (and, for RSA, unwraps) and the file's public key
//! verifies; for AES, both encrypt a probe block alike. The file keystore is only read.

use keymgr_crypto::{AsymmetricKind, SignAlgorithm, verify};

use crate::{FileKeystore, HsmError, KeyKind, Keystore, Pkcs11Keystore};

/// What happened to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMove {
    /// Imported now, and checked.
    Imported,
    /// On the token already, the same key (checked).
    OnTokenAlready,
    /// A dry run: would be imported.
    WouldImport,
    /// The token holds another key under the alias: nothing was changed.
    Differs(String),
    /// Cannot live in a PKCS#11 token (an Ed25519 key).
    CannotMove(&'static str),
    /// The import or the check failed.
    Failed(String),
}

impl KeyMove {
    /// Whether the key is now on the token, the same as in the file.
    pub fn is_on_token(&self) -> bool {
        matches!(self, Self::Imported | Self::OnTokenAlready)
    }
}

/// One key of the file keystore and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMoveReport {
    /// Its alias.
    pub alias: String,
    /// Its kind.
    pub kind: KeyKind,
    /// The outcome.
    pub outcome: KeyMove,
}

const PROBE: &[u8] = b"keymgr keystore migrate: the same key on both sides";

/// Imports every key of `file` that `token` lacks (none with `dry_run`) and checks every key
/// that is on both; keys are visited in alias order.
pub fn file_to_token(
    file: &FileKeystore,
    token: &Pkcs11Keystore,
    dry_run: bool,
) -> Result<Vec<KeyMoveReport>, HsmError> {
    let on_token = token.aliases()?;
    let mut out = Vec::new();
    for alias in file.aliases()? {
        let kind = file.kind(&alias)?;
        let outcome = if kind == KeyKind::Asymmetric(AsymmetricKind::Ed25519) {
            KeyMove::CannotMove(
                "an Ed25519 key: PKCS#11 tokens do not keep them here (MOSIP keeps them in software)",
            )
        } else if on_token.binary_search(&alias).is_ok() {
            match same_key(file, token, &alias, kind).and_then(|()| protected(token, &alias, kind)) {
                Ok(()) if dry_run => match certificate_there(file, token, &alias) {
                    Ok(true) => KeyMove::OnTokenAlready,
                    Ok(false) => KeyMove::Differs("the token lacks its certificate (a run copies it)".into()),
                    Err(e) => KeyMove::Failed(format!("certificate: {e}")),
                },
                Ok(()) => copy_certificate(file, token, &alias).map_or_else(
                    |e| KeyMove::Failed(format!("certificate: {e}")),
                    |()| KeyMove::OnTokenAlready,
                ),
                Err(why) => KeyMove::Differs(why),
            }
        } else if dry_run {
            KeyMove::WouldImport
        } else {
            import_one(file, token, &alias, kind)
        };
        out.push(KeyMoveReport { alias, kind, outcome });
    }
    Ok(out)
}

fn import_one(file: &FileKeystore, token: &Pkcs11Keystore, alias: &str, kind: KeyKind) -> KeyMove {
    match file.export_for_token(alias).and_then(|(_, secret)| token.import(alias, kind, &secret)) {
        Ok(_) => {}
        // Another object carries the alias (as label or id): not ours to touch.
        Err(HsmError::AliasExists(_)) => {
            return KeyMove::Differs("another object on the token carries this alias".into());
        }
        // `import` leaves nothing behind when it fails.
        Err(e) => return KeyMove::Failed(e.to_string()),
    }
    if let Err(e) = copy_certificate(file, token, alias) {
        // The key was made just now: leave nothing half made under the alias.
        let _ = token.destroy(alias);
        return KeyMove::Failed(format!("certificate: {e}"));
    }
    match same_key(file, token, alias, kind) {
        Ok(()) => KeyMove::Imported,
        Err(why) => {
            let _ = token.destroy(alias);
            KeyMove::Failed(format!("imported, but the check failed ({why}); removed from the token"))
        }
    }
}

fn certificate_there(file: &FileKeystore, token: &Pkcs11Keystore, alias: &str) -> Result<bool, HsmError> {
    Ok(match file.certificate(alias)? {
        Some(cert) => token.certificate(alias)?.as_deref() == Some(cert.as_slice()),
        None => true,
    })
}

/// Whether the token keeps the key as this keystore makes its own: sensitive and not
/// extractable (a key that works but can be read out is not a key in an HSM).
fn protected(token: &Pkcs11Keystore, alias: &str, kind: KeyKind) -> Result<(), String> {
    match token.is_protected(alias, kind) {
        Ok(true) => Ok(()),
        Ok(false) => Err("on the token, but extractable or not sensitive".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn copy_certificate(file: &FileKeystore, token: &Pkcs11Keystore, alias: &str) -> Result<(), HsmError> {
    match (file.certificate(alias)?, token.certificate(alias)?) {
        (Some(cert), Some(there)) if cert == there => Ok(()),
        (Some(cert), _) => token.store_certificate(alias, &cert),
        (None, _) => Ok(()),
    }
}

/// Whether the key under `alias` is the same on both sides, checked by use.
pub fn same_key(
    file: &FileKeystore,
    token: &Pkcs11Keystore,
    alias: &str,
    kind: KeyKind,
) -> Result<(), String> {
    let err = |e: HsmError| e.to_string();
    match kind {
        KeyKind::Aes256 => {
            let block = [0x5a_u8; 16];
            if file.aes_ecb_encrypt(alias, &block).map_err(err)?
                == token.aes_ecb_encrypt(alias, &block).map_err(err)?
            {
                Ok(())
            } else {
                Err("another AES key".into())
            }
        }
        KeyKind::Asymmetric(asymmetric) => {
            let public = file.public_key(alias).map_err(err)?;
            if token.public_key(alias).map_err(err)? != public {
                return Err("another public key".into());
            }
            let algorithm = match asymmetric {
                AsymmetricKind::Rsa2048 => SignAlgorithm::Rs256,
                AsymmetricKind::EcP256 => SignAlgorithm::Es256,
                AsymmetricKind::EcSecp256k1 => SignAlgorithm::Es256K,
                AsymmetricKind::Ed25519 => return Err("an Ed25519 key".into()),
            };
            let signature = token.sign(alias, algorithm, PROBE).map_err(err)?;
            verify(algorithm, &public, PROBE, &signature)
                .map_err(|_| "the token's signature does not verify".to_owned())?;
            if asymmetric == AsymmetricKind::Rsa2048 {
                let wrapped = keymgr_crypto::RsaPublicKey::from_spki_der(&public)
                    .and_then(|k| k.oaep_wrap(PROBE))
                    .map_err(|e| e.to_string())?;
                if token.rsa_oaep_unwrap(alias, &wrapped).map_err(err)?.expose() != PROBE {
                    return Err("the token does not unwrap what the public key wraps".into());
                }
            }
            Ok(())
        }
    }
}
