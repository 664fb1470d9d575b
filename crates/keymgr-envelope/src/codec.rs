//! Sealing and opening: the codec with its configuration.

use std::ops::{Deref, Range};

use keymgr_crypto::aead::{self, LEGACY_IV_LEN, NONCE_LEN, TAG_LEN};
use keymgr_crypto::{Certificate, DataKey, RsaPrivateKey, RsaPublicKey, SecretBytes, fill_random};
use keymgr_model::Thumbprint;
use zeroize::{Zeroize, Zeroizing};

use crate::format::{
    self, DEFAULT_SPLITTER, Format, Layout, R2_AAD_LEN, R2_NONCE_LEN, VER_R2, WRAPPED_KEY_LEN,
};
use crate::{EnvelopeError, base64};

/// Default largest envelope accepted by [`Codec::open`], in decoded bytes: room for MOSIP
/// registration packets of tens of megabytes.
pub const DEFAULT_MAX_ENVELOPE_LEN: usize = 128 * 1024 * 1024;
/// Longest splitter a codec can be configured with.
const MAX_SPLITTER_LEN: usize = 64;

/// Something that can unwrap the data key of an envelope, given the thumbprint the envelope
/// names: a private key in memory, an HSM, a database of wrapped base keys behind a cache.
///
/// Implementations answer [`EnvelopeError::ThumbprintMismatch`] when they hold no key for the
/// thumbprint and [`EnvelopeError::KeyUnwrapFailed`] when RSA-OAEP fails; the codec checks the
/// length of what they return.
pub trait KeyUnwrapper {
    /// RSA-OAEP-decrypts `wrapped_key` with the private key whose certificate has `thumbprint`.
    fn unwrap_data_key(
        &self,
        thumbprint: &Thumbprint,
        wrapped_key: &[u8],
    ) -> Result<SecretBytes, EnvelopeError>;
}

/// A recipient's private key held in memory, with the thumbprint of its certificate.
#[derive(Debug, Clone)]
pub struct RecipientKey {
    key: RsaPrivateKey,
    thumbprint: Thumbprint,
}

impl RecipientKey {
    /// Pairs a private key with its certificate, refusing a certificate for another key.
    pub fn new(key: RsaPrivateKey, certificate: &Certificate) -> Result<Self, EnvelopeError> {
        if key.public_key()?.spki_der() != certificate.spki_der() {
            return Err(EnvelopeError::InvalidParameter("the certificate is not for this private key"));
        }
        Ok(Self { key, thumbprint: certificate.thumbprint() })
    }

    /// The thumbprint of the key's certificate.
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }
}

impl KeyUnwrapper for RecipientKey {
    fn unwrap_data_key(
        &self,
        thumbprint: &Thumbprint,
        wrapped_key: &[u8],
    ) -> Result<SecretBytes, EnvelopeError> {
        if *thumbprint != self.thumbprint {
            return Err(EnvelopeError::ThumbprintMismatch(*thumbprint));
        }
        self.key.oaep_unwrap(wrapped_key).map_err(|_| EnvelopeError::KeyUnwrapFailed)
    }
}

/// Whom an envelope is sealed for: the public key and thumbprint of a certificate.
#[derive(Debug, Clone)]
pub struct Recipient {
    public_key: RsaPublicKey,
    thumbprint: Thumbprint,
}

impl Recipient {
    /// The recipient named by `certificate`, which must hold an RSA-2048 key.
    pub fn from_certificate(certificate: &Certificate) -> Result<Self, EnvelopeError> {
        Self::new(certificate.rsa_public_key()?, certificate.thumbprint())
    }

    /// A recipient from a public key and the thumbprint of its certificate.
    pub fn new(public_key: RsaPublicKey, thumbprint: Thumbprint) -> Result<Self, EnvelopeError> {
        if public_key.modulus_len() != WRAPPED_KEY_LEN {
            return Err(EnvelopeError::InvalidParameter("the envelope format needs an RSA-2048 key"));
        }
        Ok(Self { public_key, thumbprint })
    }

    /// The thumbprint written into envelopes for this recipient.
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }
}

/// How to seal: MOSIP's modes of section 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SealMode<'a> {
    /// `VER_R2` with a random 32-byte aad (mode A; what MOSIP writes by default).
    #[default]
    VerR2,
    /// The legacy layout with a random 16-byte IV after the tag, and the caller's GCM
    /// associated data, which is not stored (mode B; empty `aad` gives the legacy vectors).
    Legacy {
        /// GCM associated data the opener must supply again.
        aad: &'a [u8],
    },
    /// The caller's salt is the GCM nonce and its aad the associated data; neither is stored
    /// (mode C). The salt must be 12 or 16 bytes and never reused with the same data key,
    /// which is fresh per envelope.
    CallerSalt {
        /// The GCM nonce, 12 or 16 bytes.
        salt: &'a [u8],
        /// GCM associated data (may be empty).
        aad: &'a [u8],
    },
}

impl SealMode<'_> {
    /// Refuses what the format cannot carry (a caller's salt that is not 12 or 16 bytes),
    /// before anything is drawn at random or wrapped.
    pub(crate) fn check(&self) -> Result<(), EnvelopeError> {
        match self {
            SealMode::CallerSalt { salt, .. } if salt.len() != NONCE_LEN && salt.len() != LEGACY_IV_LEN => {
                Err(EnvelopeError::InvalidParameter("the salt must be 12 or 16 bytes"))
            }
            _ => Ok(()),
        }
    }
}

/// What the caller of [`Codec::open`] supplies besides the envelope (MOSIP's `salt` and `aad`
/// request fields). With no salt, the header decides between VER_R2 and legacy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenParams<'a> {
    /// The caller's salt (mode C), 12 or 16 bytes.
    pub salt: Option<&'a [u8]>,
    /// The caller's GCM associated data (modes B and C; ignored for VER_R2, as MOSIP does).
    pub aad: &'a [u8],
}

/// A plaintext opened in place inside the decoded envelope, so that a packet of tens of
/// megabytes is never copied. Dereferences to the plaintext bytes; the plaintext is
/// overwritten with zeros when it is dropped.
pub struct Plaintext {
    buf: Vec<u8>,
    range: Range<usize>,
}

impl Plaintext {
    /// The plaintext as an owned vector (moves the bytes to the front of the buffer), still
    /// zeroized on drop.
    pub fn into_vec(mut self) -> Zeroizing<Vec<u8>> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.truncate(self.range.end);
        buf.drain(..self.range.start);
        Zeroizing::new(buf)
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        if let Some(plain) = self.buf.get_mut(self.range.clone()) {
            plain.zeroize();
        }
    }
}

impl Deref for Plaintext {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.get(self.range.clone()).unwrap_or_default()
    }
}

impl AsRef<[u8]> for Plaintext {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext({} bytes)", self.range.len())
    }
}

/// Envelope bytes whose fields have been found ([`Codec::parse`]): the thumbprint and the
/// wrapped data key are there to read, and [`ParsedEnvelope::open`] decrypts in place with the
/// unwrapped data key, without a second parse.
pub struct ParsedEnvelope {
    bytes: Vec<u8>,
    layout: Layout,
}

impl ParsedEnvelope {
    /// The thumbprint of the recipient's certificate; `None` when the key part has none
    /// ([`Codec::parse_allowing_no_thumbprint`]).
    pub fn thumbprint(&self) -> Option<Thumbprint> {
        self.layout.thumbprint
    }

    /// The RSA-OAEP-wrapped data key.
    pub fn wrapped_key(&self) -> &[u8] {
        self.bytes.get(self.layout.wrapped_key.clone()).unwrap_or_default()
    }

    /// Where each field is.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Checks the data key's length, the tag, and decrypts in place. Nothing of the plaintext
    /// is released unless the tag verifies; a failed tag leaves zeros where the plaintext would
    /// have been.
    pub fn open(self, unwrapped: &SecretBytes, params: OpenParams<'_>) -> Result<Plaintext, EnvelopeError> {
        if unwrapped.len() != DataKey::LEN {
            return Err(EnvelopeError::BadDataKeyLength(unwrapped.len()));
        }
        let data_key = DataKey::from_slice(unwrapped.expose())?;
        let Self { mut bytes, layout } = self;

        // Small fields are copied out so the ciphertext can be borrowed mutably.
        let mut nonce_buf = [0u8; LEGACY_IV_LEN];
        let nonce: &[u8] = match layout.format {
            Format::CallerSalt => params.salt.unwrap_or_default(),
            Format::VerR2 | Format::Legacy => {
                let n = bytes.get(layout.nonce.clone()).unwrap_or_default();
                let slot = nonce_buf.get_mut(..n.len()).unwrap_or_default();
                slot.copy_from_slice(n);
                slot
            }
        };
        if nonce.len() != NONCE_LEN && nonce.len() != LEGACY_IV_LEN {
            return Err(EnvelopeError::InvalidParameter("the salt must be 12 or 16 bytes"));
        }
        let mut aad_buf = [0u8; R2_AAD_LEN];
        let aad: &[u8] = match layout.format {
            Format::VerR2 => {
                aad_buf.copy_from_slice(bytes.get(layout.aad.clone()).unwrap_or(&[0; R2_AAD_LEN]));
                &aad_buf
            }
            Format::Legacy | Format::CallerSalt => params.aad,
        };
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(bytes.get(layout.tag.clone()).unwrap_or(&[0; TAG_LEN]));

        let ciphertext = bytes.get_mut(layout.ciphertext.clone()).unwrap_or_default();
        if aead::open_in_place(&data_key, nonce, aad, ciphertext, &tag).is_err() {
            // What a failed open leaves in the buffer is unspecified: it may be plaintext.
            ciphertext.zeroize();
            return Err(EnvelopeError::AuthFailed);
        }
        Ok(Plaintext { buf: bytes, range: layout.ciphertext })
    }
}

impl std::fmt::Debug for ParsedEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ParsedEnvelope({:?}, {} bytes)", self.layout.format, self.bytes.len())
    }
}

/// A parser of envelope bytes: [`format::parse`] or [`format::parse_allowing_no_thumbprint`].
type LayoutParser = fn(&[u8], &[u8], bool) -> Result<Layout, EnvelopeError>;

/// The envelope codec: the splitter and the size limit, and the operations that use them.
///
/// [`Codec::default`] is MOSIP's configuration (`#KEY_SPLITTER#`, 128 MiB limit).
#[derive(Debug, Clone)]
pub struct Codec {
    splitter: Vec<u8>,
    max_envelope_len: usize,
}

impl Default for Codec {
    fn default() -> Self {
        Self { splitter: DEFAULT_SPLITTER.to_vec(), max_envelope_len: DEFAULT_MAX_ENVELOPE_LEN }
    }
}

impl Codec {
    /// A codec with MOSIP's default splitter and size limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another splitter (`mosip.kernel.data-key-splitter`): 1 to 64 bytes.
    pub fn with_splitter(mut self, splitter: &[u8]) -> Result<Self, EnvelopeError> {
        if splitter.is_empty() || splitter.len() > MAX_SPLITTER_LEN {
            return Err(EnvelopeError::InvalidParameter("the splitter must be 1 to 64 bytes"));
        }
        self.splitter = splitter.to_vec();
        Ok(self)
    }

    /// Refuses envelopes longer than `max` decoded bytes before decoding or allocating.
    pub fn with_max_envelope_len(mut self, max: usize) -> Self {
        self.max_envelope_len = max;
        self
    }

    /// The configured splitter.
    pub fn splitter(&self) -> &[u8] {
        &self.splitter
    }

    /// The configured size limit in decoded bytes.
    pub fn max_envelope_len(&self) -> usize {
        self.max_envelope_len
    }

    /// Finds the fields of `bytes` (see [`format::parse`]) with this codec's splitter, once:
    /// the [`ParsedEnvelope`] names the thumbprint and the wrapped key, and is then opened with
    /// the data key unwrapped by whoever holds the private key.
    pub fn parse(&self, bytes: Vec<u8>, caller_salt: bool) -> Result<ParsedEnvelope, EnvelopeError> {
        self.parse_with(bytes, caller_salt, format::parse)
    }

    /// [`Codec::parse`] that also accepts a key part without a thumbprint (see
    /// [`format::parse_allowing_no_thumbprint`]); the opener then has to try its keys.
    pub fn parse_allowing_no_thumbprint(
        &self,
        bytes: Vec<u8>,
        caller_salt: bool,
    ) -> Result<ParsedEnvelope, EnvelopeError> {
        self.parse_with(bytes, caller_salt, format::parse_allowing_no_thumbprint)
    }

    fn parse_with(
        &self,
        bytes: Vec<u8>,
        caller_salt: bool,
        parse: LayoutParser,
    ) -> Result<ParsedEnvelope, EnvelopeError> {
        if bytes.len() > self.max_envelope_len {
            return Err(EnvelopeError::TooLarge { len: bytes.len(), max: self.max_envelope_len });
        }
        let layout = parse(&bytes, &self.splitter, caller_salt)?;
        Ok(ParsedEnvelope { bytes, layout })
    }

    /// Seals `plaintext` for `recipient` under a fresh data key and returns the envelope bytes.
    pub fn seal(
        &self,
        plaintext: &[u8],
        recipient: &Recipient,
        mode: SealMode<'_>,
    ) -> Result<Vec<u8>, EnvelopeError> {
        mode.check()?;
        self.seal_with(plaintext, &SealMaterial::generate(recipient)?, recipient, mode)
    }

    /// [`Codec::seal`] with the random parts drawn by the caller (the streaming codec's tests
    /// compare both codecs on the same material).
    pub(crate) fn seal_with(
        &self,
        plaintext: &[u8],
        material: &SealMaterial,
        recipient: &Recipient,
        mode: SealMode<'_>,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let layout = SealLayout::new(self, material, recipient, mode)?;
        let total = layout.prefix.len() + plaintext.len() + TAG_LEN + layout.suffix.len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&layout.prefix);
        encrypt_appending(&mut out, &material.data_key, layout.nonce, layout.aad, plaintext)?;
        out.extend_from_slice(layout.suffix);
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    /// Seals like [`Codec::seal`] and returns the envelope as URL-safe unpadded base64, as
    /// MOSIP's `/encrypt` answers.
    pub fn seal_text(
        &self,
        plaintext: &[u8],
        recipient: &Recipient,
        mode: SealMode<'_>,
    ) -> Result<String, EnvelopeError> {
        Ok(base64::encode(&self.seal(plaintext, recipient, mode)?))
    }

    /// Opens envelope bytes: parse, find the key by thumbprint, unwrap the data key, check the
    /// tag, decrypt in place. Nothing of the plaintext is released unless the tag verifies.
    pub fn open(
        &self,
        bytes: Vec<u8>,
        keys: &dyn KeyUnwrapper,
        params: OpenParams<'_>,
    ) -> Result<Plaintext, EnvelopeError> {
        let parsed = self.parse(bytes, params.salt.is_some())?;
        let Some(thumbprint) = parsed.thumbprint() else {
            // format::parse always finds one; this is what it says of a key part without.
            let len = parsed.wrapped_key().len();
            return Err(EnvelopeError::Truncated { part: "key part", len, min: format::KEY_PART_LEN });
        };
        let unwrapped = keys.unwrap_data_key(&thumbprint, parsed.wrapped_key())?;
        parsed.open(&unwrapped, params)
    }

    /// Opens envelope text: decodes it as MOSIP's `/decrypt` does, then [`Codec::open`].
    pub fn open_text(
        &self,
        text: &[u8],
        keys: &dyn KeyUnwrapper,
        params: OpenParams<'_>,
    ) -> Result<Plaintext, EnvelopeError> {
        self.open(base64::decode(text, self.max_envelope_len)?, keys, params)
    }

    /// [`Codec::open_text`] of text the caller owns (a request body's field): decoded in its
    /// own buffer, and the plaintext decrypted in place there, so a packet is never copied.
    pub fn open_text_owned(
        &self,
        text: Vec<u8>,
        keys: &dyn KeyUnwrapper,
        params: OpenParams<'_>,
    ) -> Result<Plaintext, EnvelopeError> {
        self.open(base64::decode_in_place(text, self.max_envelope_len)?, keys, params)
    }
}

/// What sealing draws at random: the data key, its RSA-OAEP wrap for the recipient, and 32
/// bytes for the VER_R2 aad (whose first 12 are the nonce) or the legacy IV (the first 16).
pub(crate) struct SealMaterial {
    pub(crate) data_key: DataKey,
    wrapped: [u8; WRAPPED_KEY_LEN],
    random: [u8; R2_AAD_LEN],
}

impl SealMaterial {
    /// A fresh data key wrapped for `recipient`, and fresh randomness.
    pub(crate) fn generate(recipient: &Recipient) -> Result<Self, EnvelopeError> {
        let data_key = DataKey::generate()?;
        let mut wrapped = [0u8; WRAPPED_KEY_LEN];
        recipient.public_key.oaep_wrap_into(data_key.expose(), &mut wrapped)?;
        let mut random = [0u8; R2_AAD_LEN];
        fill_random(&mut random)?;
        Ok(Self { data_key, wrapped, random })
    }
}

/// Where a sealed envelope's bytes come from: what precedes the ciphertext, the GCM nonce and
/// associated data, and what follows the tag (the legacy IV).
pub(crate) struct SealLayout<'a> {
    pub(crate) prefix: Vec<u8>,
    pub(crate) nonce: &'a [u8],
    pub(crate) aad: &'a [u8],
    pub(crate) suffix: &'a [u8],
}

impl<'a> SealLayout<'a> {
    pub(crate) fn new(
        codec: &Codec,
        material: &'a SealMaterial,
        recipient: &Recipient,
        mode: SealMode<'a>,
    ) -> Result<Self, EnvelopeError> {
        let random: &'a [u8] = &material.random;
        // Written before the ciphertext: the header, and VER_R2's aad.
        let (header, data_prefix): (&[u8], &[u8]) = match mode {
            SealMode::VerR2 => (VER_R2, random),
            SealMode::Legacy { .. } | SealMode::CallerSalt { .. } => (&[], &[]),
        };
        let (nonce, aad, suffix): (&'a [u8], &'a [u8], &'a [u8]) = match mode {
            SealMode::VerR2 => (random.get(..R2_NONCE_LEN).unwrap_or_default(), random, &[]),
            SealMode::Legacy { aad } => {
                let iv = random.get(..LEGACY_IV_LEN).unwrap_or_default();
                (iv, aad, iv)
            }
            SealMode::CallerSalt { salt, aad } => {
                mode.check()?;
                (salt, aad, &[])
            }
        };
        let mut prefix = Vec::with_capacity(
            header.len() + Thumbprint::LEN + WRAPPED_KEY_LEN + codec.splitter.len() + data_prefix.len(),
        );
        prefix.extend_from_slice(header);
        prefix.extend_from_slice(recipient.thumbprint.as_bytes());
        prefix.extend_from_slice(&material.wrapped);
        prefix.extend_from_slice(&codec.splitter);
        prefix.extend_from_slice(data_prefix);
        Ok(Self { prefix, nonce, aad, suffix })
    }
}

/// Appends `plaintext` to `out`, encrypts it there and appends the tag.
fn encrypt_appending(
    out: &mut Vec<u8>,
    key: &DataKey,
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(), EnvelopeError> {
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = aead::seal_in_place(key, nonce, aad, out.get_mut(start..).unwrap_or_default())?;
    out.extend_from_slice(&tag);
    Ok(())
}
