//! Envelope rewrap (Vault's transit rewrap, ours): an envelope sealed to an older key of a
//! pair comes back sealed to the pair's current key, in the same layout (VER_R2, legacy with
//! the caller's aad, or the caller's salt and aad), under a fresh data key. The plaintext is
//! opened and its tag checked inside the service and never returned; it is zeroed on drop.

use keymgr_envelope::SealMode;
use keymgr_envelope::format::Format;
use keymgr_model::{AppId, KeyState, RefId, Thumbprint};

use super::KeyManager;
use super::data::{EnvelopeText, OpenRequest};
use super::lifecycle::IfCompromised;
use crate::KeymgrError;

/// An envelope after rewrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapOutcome {
    /// The envelope, base64url, sealed to the pair's current key.
    pub data: String,
    /// The thumbprint of the key it was sealed to.
    pub from_thumbprint: Thumbprint,
    /// The thumbprint of the key it is sealed to now.
    pub to_thumbprint: Thumbprint,
    /// The state of the key it was sealed to.
    pub from_state: KeyState,
    /// Whether it changed (an envelope already sealed to the current key comes back as it
    /// was).
    pub changed: bool,
}

impl KeyManager {
    /// Re-seals the envelope `text` (base64) of (app, ref) to the pair's current key. The
    /// rules of [`Self::decrypt`] apply (access, thumbprint scope, tag); a destroyed key is
    /// `KER-KMS-410`; a compromised key is `KER-KMS-423` unless `accept_compromised` and the
    /// operator opened its recovery window (the use is then audited). `salt` and `aad` are the ones the envelope was sealed with. An
    /// envelope of the current key comes back unchanged, once its tag has checked.
    #[allow(clippy::too_many_arguments)]
    pub fn rewrap(
        &self,
        app: &AppId,
        reference: &RefId,
        text: &[u8],
        salt: Option<&[u8]>,
        aad: Option<&[u8]>,
        user: &str,
        accept_compromised: bool,
    ) -> Result<RewrapOutcome, KeymgrError> {
        let if_compromised =
            if accept_compromised { IfCompromised::RecoveryWindow } else { IfCompromised::Refuse };
        let request = OpenRequest {
            app,
            reference,
            text: EnvelopeText::Borrowed(text),
            salt,
            aad,
            user,
            purpose: "rewrap",
        };
        let opened = self.open_envelope(request, if_compromised)?;
        let current = self.encryption_key(app, reference)?;
        let to_thumbprint = current.certificate.thumbprint();
        let (from_thumbprint, from_state) = (opened.thumbprint, opened.state);
        if to_thumbprint == from_thumbprint {
            let data =
                String::from_utf8(text.to_vec()).map_err(|_| KeymgrError::InvalidData("not text".into()))?;
            return Ok(RewrapOutcome { data, from_thumbprint, to_thumbprint, from_state, changed: false });
        }
        let recipient = current.recipient.as_ref().ok_or_else(|| {
            KeymgrError::EncryptNotAllowed("the current certificate is not an RSA-2048 key".into())
        })?;
        let salt = salt.filter(|s| !s.is_empty());
        let aad = aad.unwrap_or_default();
        let mode = match (opened.format, salt) {
            (Format::CallerSalt, Some(salt)) => SealMode::CallerSalt { salt, aad },
            (Format::Legacy, _) => SealMode::Legacy { aad },
            _ => SealMode::VerR2,
        };
        let data = self.config.codec.seal_text(&opened.plain, recipient, mode)?;
        Ok(RewrapOutcome { data, from_thumbprint, to_thumbprint, from_state, changed: true })
    }
}
