//! PDF signing (MOSIP's `/pdf/sign`): a visible PAdES signature by the application's signing
//! key, with its certificate chain, on the page and in the rectangle asked for, optionally
//! protecting the PDF with a password. The PDF work is `keymgr-pdf`'s, the CMS is
//! `keymgr-crypto`'s, and the key signs where it lives (the HSM for keystore keys).

use keymgr_crypto::{CryptoError, fill_random, pkcs7, sha256};
use keymgr_jose::jws::JwsAlgorithm;
use keymgr_model::{AppId, RefId};
use keymgr_pdf::{PdfError, Placement, Protection, SignatureText};

use super::KeyManager;
use crate::KeymgrError;

/// What `/pdf/sign` asks for.
pub struct PdfSignRequest<'a> {
    /// Whose key signs (`applicationId`).
    pub app: &'a AppId,
    /// Which of the application's keys (`referenceId`; blank for its master).
    pub reference: Option<&'a RefId>,
    /// The PDF.
    pub pdf: &'a [u8],
    /// The page, 1-based, and the rectangle of the signature box.
    pub placement: Placement,
    /// Why it is signed (`/Reason`, shown in the box).
    pub reason: &'a str,
    /// A password to protect the signed PDF with (AES-128), if any.
    pub password: Option<&'a str>,
    /// Who asks (the application's `access_allowed` must admit them).
    pub user: &'a str,
}

impl std::fmt::Debug for PdfSignRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfSignRequest")
            .field("app", &self.app)
            .field("reference", &self.reference)
            .field("pdf_len", &self.pdf.len())
            .field("placement", &self.placement)
            .field("password", &self.password.map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// Signs a PDF as [`PdfSignRequest`] says and answers the signed PDF: the original bytes
    /// followed by the signature's incremental update (after the password's encryption when
    /// one is given). The key is chosen as for `/jwtSign` and must be RSA.
    pub fn sign_pdf(&self, request: &PdfSignRequest<'_>) -> Result<Vec<u8>, KeymgrError> {
        self.check_sign_access(Some(request.app), request.user)?;
        let signer = self.signer(Some(request.app), request.reference)?;
        if signer.kind != keymgr_crypto::AsymmetricKind::Rsa2048 {
            return Err(KeymgrError::SigningNotAllowed(format!(
                "{}: PDF signatures are made with RSA keys",
                signer.key_ref
            )));
        }
        let leaf = signer.certificate().clone();
        let chain = self
            .get_certificate_chain(&signer.key_ref.app, &signer.key_ref.reference)
            .ok()
            .filter(|chain| chain.first().is_some_and(|c| c.der() == leaf.der()))
            .unwrap_or_else(|| vec![leaf.clone()]);
        let now = self.clock.now().as_offset();
        let (date, time) =
            ((now.year(), u8::from(now.month()), now.day()), (now.hour(), now.minute(), now.second()));
        let text = SignatureText {
            signer: common_name(leaf.subject()),
            reason: request.reason.to_owned(),
            pdf_date: format!(
                "D:{:04}{:02}{:02}{:02}{:02}{:02}Z",
                date.0, date.1, date.2, time.0, time.1, time.2
            ),
            shown_date: format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                date.0, date.1, date.2, time.0, time.1, time.2
            ),
        };
        let mut file_id = [0u8; 16];
        fill_random(&mut file_id)?;
        let protection = request
            .password
            .filter(|p| !p.is_empty())
            .map(|password| Protection { password, file_id: &file_id });
        let prepared = keymgr_pdf::prepare(request.pdf, &request.placement, &text, protection.as_ref())
            .map_err(pdf_error)?;
        let digest = sha256(&prepared.signed_ranges().concat());
        let mut failure = None;
        let cms = pkcs7::signed_data_detached(&digest, &chain, |signed_attributes| {
            self.sign_with(&signer, JwsAlgorithm::Rs256, signed_attributes).map_err(|e| {
                failure = Some(e);
                CryptoError::SignFailed
            })
        });
        if let Some(e) = failure {
            return Err(e);
        }
        prepared.finish(&cms?).map_err(pdf_error)
    }
}

/// The `CN` of a subject written `CN=..,OU=..` (or the whole subject when it has none).
fn common_name(subject: &str) -> String {
    subject.split(',').find_map(|part| part.trim().strip_prefix("CN=")).unwrap_or(subject).to_owned()
}

fn pdf_error(e: PdfError) -> KeymgrError {
    match e {
        PdfError::SignatureTooLarge { .. } | PdfError::Protection(_) => {
            KeymgrError::SignFailed(e.to_string())
        }
        other => KeymgrError::InvalidRequest(format!("data: {other}")),
    }
}
