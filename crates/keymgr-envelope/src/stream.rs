//! Sealing and opening envelopes larger than memory, a piece at a time.
//!
//! [`Codec::seal_stream`] and [`Codec::open_stream`] read and write the base64 text of exactly
//! the envelopes [`Codec::seal_text`] and [`Codec::open_text`] handle whole: the same bytes
//! for the same random parts, the same plaintext, and a refusal of the same kind for every
//! bad envelope (the tests compare both codecs on every length around the GCM block and the
//! piece size, and on the conformance vectors). Memory stays at a few pieces of
//! [`TEXT_PIECE_LEN`], whatever the packet's size.
//!
//! Opening never releases plaintext whose tag has not been checked: it is written to a
//! [`Staging`] area (a temporary file beside the output, [`StagedFile`]) that is committed
//! (renamed into place) only after the tag verifies, and destroyed otherwise. For the legacy
//! layout, whose IV comes last, the ciphertext is authenticated first and decrypted in a
//! second pass over the staged file, so no plaintext exists before the check.
//!
//! The one difference from the whole-buffer codec: a stream is not measured before it is read,
//! so text longer than the codec's limit is refused with `too_large` when the limit is passed,
//! unless a fault in the text was met before it (the whole-buffer codec, which measures first,
//! answers `too_large` for any oversized text whose padding is right).
//!
//! A process killed while opening (SIGKILL, power loss) cannot remove its staging file: a
//! `.NAME.XXXXXX.tmp` file (mode 0600) beside the output may then hold unverified plaintext.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use keymgr_crypto::aead::{LEGACY_IV_LEN, NONCE_LEN, TAG_LEN};
use keymgr_crypto::gcm_stream::{GcmOpener, GcmSealer, GcmVerifier};
use keymgr_crypto::{DataKey, SecretBytes};
use keymgr_model::Thumbprint;
use keymgr_model::base64::{StreamDecoder, StreamEncoder};
use zeroize::{Zeroize, Zeroizing};

use crate::codec::{SealLayout, SealMaterial};
use crate::format::{self, Format, KEY_PART_LEN, R2_AAD_LEN, R2_NONCE_LEN, VER_R2};
use crate::{Codec, EnvelopeError, KeyUnwrapper, OpenParams, Recipient, SealMode};

/// The most text read or written at a time: 1 MiB of text, 768 KiB of data. Pieces start at
/// [`FIRST_TEXT_PIECE_LEN`] and grow fourfold while the input fills them, so a small packet
/// costs no more memory than it needs.
pub const TEXT_PIECE_LEN: usize = 1 << 20;
const DATA_PIECE_LEN: usize = TEXT_PIECE_LEN / 4 * 3;
/// The first piece of text read.
const FIRST_TEXT_PIECE_LEN: usize = 16 << 10;

/// The next piece length after a full piece of `len`.
fn grown(len: usize, max: usize) -> usize {
    len.saturating_mul(4).min(max)
}

/// Makes room for `additional` more bytes in `buf` without a reallocation that would leave a
/// copy in freed memory: a bigger buffer takes the bytes, and the old one is zeroized.
fn reserve_zeroizing(buf: &mut Zeroizing<Vec<u8>>, additional: usize) {
    if buf.capacity() - buf.len() < additional {
        let mut bigger = Zeroizing::new(Vec::with_capacity(buf.len() + additional));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
}

fn io_error(e: io::Error) -> EnvelopeError {
    EnvelopeError::Io(e.kind().to_string())
}

/// Where [`Codec::open_stream`] writes plaintext before its tag is checked. The codec writes,
/// may read back and rewrite (the legacy layout's second pass), and calls
/// [`Staging::commit`] only once the tag has verified; a staging area dropped without a
/// commit must destroy what it holds.
pub trait Staging: Read + Write + Seek {
    /// What a committed staging area hands over.
    type Output;

    /// Releases the verified plaintext.
    fn commit(self) -> io::Result<Self::Output>;
}

/// A temporary file beside the output (same folder, so the rename is atomic), created
/// exclusively with mode 0600 under an unpredictable name. [`Staging::commit`] flushes it to
/// disk and renames it over the output; dropped uncommitted, it is removed.
pub struct StagedFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl StagedFile {
    /// A staging file for `target`, in `target`'s folder.
    pub fn beside(target: &Path) -> io::Result<Self> {
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the output is not a file name"))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempfile_in(dir)?;
        Ok(Self { temp, target: target.to_path_buf() })
    }

    /// A staging file in the system's temporary folder, for output that is not a file
    /// (standard output): [`Staging::commit`] hands the verified file back, positioned at its
    /// start, and it is removed when dropped.
    pub fn anonymous() -> io::Result<Self> {
        Ok(Self { temp: tempfile::NamedTempFile::new()?, target: PathBuf::new() })
    }
}

impl Staging for StagedFile {
    /// The committed file: for [`StagedFile::beside`] already renamed into place; for
    /// [`StagedFile::anonymous`] still temporary, to be copied out.
    type Output = std::fs::File;

    fn commit(self) -> io::Result<std::fs::File> {
        let Self { temp, target } = self;
        temp.as_file().sync_all()?;
        if target.as_os_str().is_empty() {
            let mut file = temp.reopen()?;
            file.seek(SeekFrom::Start(0))?;
            return Ok(file);
        }
        let file = temp.persist(&target).map_err(|e| e.error)?;
        if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(file)
    }
}

impl Read for StagedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.temp.as_file_mut().read(buf)
    }
}

impl Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.as_file_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.as_file_mut().flush()
    }
}

impl Seek for StagedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.temp.as_file_mut().seek(pos)
    }
}

impl std::fmt::Debug for StagedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StagedFile({})", self.temp.path().display())
    }
}

/// Staging in memory, for tests, the fuzzer and small packets: zeroized when dropped, and the
/// committed plaintext is zeroized when its holder drops it. Reserve the expected size with
/// [`StagedBuffer::with_capacity`]: a buffer that grows leaves copies in freed memory.
#[derive(Default)]
pub struct StagedBuffer {
    cursor: io::Cursor<Vec<u8>>,
}

impl StagedBuffer {
    /// An empty buffer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { cursor: io::Cursor::new(Vec::with_capacity(capacity)) }
    }
}

impl Staging for StagedBuffer {
    type Output = Zeroizing<Vec<u8>>;

    fn commit(mut self) -> io::Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(std::mem::take(self.cursor.get_mut())))
    }
}

impl Drop for StagedBuffer {
    fn drop(&mut self) {
        self.cursor.get_mut().zeroize();
    }
}

impl Read for StagedBuffer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.cursor.read(buf)
    }
}

impl Write for StagedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.cursor.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for StagedBuffer {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.cursor.seek(pos)
    }
}

impl std::fmt::Debug for StagedBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StagedBuffer({} bytes)", self.cursor.get_ref().len())
    }
}

/// The decoded bytes of envelope text read from a stream, a piece at a time.
struct DecodedText<R> {
    reader: R,
    decoder: Option<StreamDecoder>,
    text: Vec<u8>,
}

impl<R: Read> DecodedText<R> {
    fn new(reader: R, max_len: usize) -> Self {
        Self { reader, decoder: Some(StreamDecoder::new(max_len)), text: vec![0; FIRST_TEXT_PIECE_LEN] }
    }

    /// Appends the bytes of the next piece of text to `out`; false once the text has ended
    /// (and its last group is in `out`).
    fn next(&mut self, out: &mut Zeroizing<Vec<u8>>) -> Result<bool, EnvelopeError> {
        let Some(decoder) = self.decoder.as_mut() else { return Ok(false) };
        let read = read_full(&mut self.reader, &mut self.text).map_err(io_error)?;
        // A piece decodes to 3/4 of its length, plus the group carried from the last one.
        reserve_zeroizing(out, read / 4 * 3 + 3);
        decoder.update(self.text.get(..read).unwrap_or_default(), out)?;
        if read < self.text.len() {
            if let Some(decoder) = self.decoder.take() {
                decoder.finish(out)?;
            }
            return Ok(false);
        }
        if self.text.len() < TEXT_PIECE_LEN {
            self.text = vec![0; grown(self.text.len(), TEXT_PIECE_LEN)];
        }
        Ok(true)
    }

    /// Reads the rest of the text for its faults alone, and answers how many bytes it held.
    fn drain(&mut self, scratch: &mut Zeroizing<Vec<u8>>) -> Result<u64, EnvelopeError> {
        let mut total = 0u64;
        loop {
            scratch.clear();
            let more = self.next(scratch)?;
            total += scratch.len() as u64;
            if !more {
                return Ok(total);
            }
        }
    }
}

/// Reads until `buf` is full or the input ends; answers how much was read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What is done with the data part's ciphertext as it passes.
enum DataSink {
    /// VER_R2 before its 32-byte aad has been read.
    AwaitingAad,
    /// Decrypting (nonce known first).
    Opening(GcmOpener),
    /// Authenticating the ciphertext, to decrypt after the check (legacy: IV last).
    Verifying(GcmVerifier),
}

impl Codec {
    /// Seals what `plaintext` yields for `recipient` and writes the envelope's URL-safe base64
    /// text to `text`, a piece at a time: the text [`Codec::seal_text`] writes for the same
    /// data. Answers the number of plaintext bytes sealed. On an error the text written so far
    /// is incomplete: write to a temporary file and rename it once this returns `Ok`.
    pub fn seal_stream(
        &self,
        plaintext: impl Read,
        text: impl Write,
        recipient: &Recipient,
        mode: SealMode<'_>,
    ) -> Result<u64, EnvelopeError> {
        mode.check()?;
        self.seal_stream_with(plaintext, text, &SealMaterial::generate(recipient)?, recipient, mode)
    }

    pub(crate) fn seal_stream_with(
        &self,
        mut plaintext: impl Read,
        mut text: impl Write,
        material: &SealMaterial,
        recipient: &Recipient,
        mode: SealMode<'_>,
    ) -> Result<u64, EnvelopeError> {
        let layout = SealLayout::new(self, material, recipient, mode)?;
        let mut sealer = GcmSealer::new(&material.data_key, layout.nonce, layout.aad)?;
        let mut encoder = StreamEncoder::new();
        let mut out = Vec::new();
        encoder.update(&layout.prefix, &mut out);
        let mut piece = Zeroizing::new(vec![0u8; FIRST_TEXT_PIECE_LEN / 4 * 3]);
        let mut total = 0u64;
        loop {
            let read = read_full(&mut plaintext, &mut piece).map_err(io_error)?;
            let data = piece.get_mut(..read).unwrap_or_default();
            sealer.encrypt(data)?;
            encoder.update(data, &mut out);
            text.write_all(&out).map_err(io_error)?;
            out.clear();
            total += read as u64;
            if read < piece.len() {
                break;
            }
            if piece.len() < DATA_PIECE_LEN {
                piece = Zeroizing::new(vec![0u8; grown(piece.len(), DATA_PIECE_LEN)]);
            }
        }
        encoder.update(&sealer.finish(), &mut out);
        encoder.update(layout.suffix, &mut out);
        encoder.finish(&mut out);
        text.write_all(&out).map_err(io_error)?;
        text.flush().map_err(io_error)?;
        Ok(total)
    }

    /// Opens envelope text read from `text`, a piece at a time, writing the plaintext to
    /// `staging` and committing it only once the tag has verified: what
    /// [`Codec::open_text`] does for the same text, in bounded memory. On an error `staging`
    /// is dropped uncommitted (a [`StagedFile`] removes itself), and the error is the one
    /// [`Codec::open_text`] would give, down to its kind.
    pub fn open_stream<S: Staging>(
        &self,
        text: impl Read,
        mut staging: S,
        keys: &dyn KeyUnwrapper,
        params: OpenParams<'_>,
    ) -> Result<S::Output, EnvelopeError> {
        let mut source = DecodedText::new(text, self.max_envelope_len());
        let mut buf = Zeroizing::new(Vec::new());
        let splitter = self.splitter();
        let head_len = VER_R2.len() + KEY_PART_LEN + splitter.len();

        // The key part: the first splitter, with the checks and the errors of format::parse.
        let mut more = true;
        while more && buf.len() < head_len {
            more = source.next(&mut buf)?;
        }
        if buf.is_empty() {
            return Err(EnvelopeError::EmptyInput);
        }
        let Some(split) = format::find_splitter(&buf, splitter) else {
            let error = self.first_splitter_beyond(&buf, more, &mut source)?;
            return Err(error);
        };
        let has_header = buf.starts_with(VER_R2) && split >= VER_R2.len();
        let key_start = if has_header { VER_R2.len() } else { 0 };
        let key_len = split - key_start;
        if key_len != KEY_PART_LEN {
            source.drain(&mut buf)?;
            return Err(if key_len < KEY_PART_LEN {
                EnvelopeError::Truncated { part: "key part", len: key_len, min: KEY_PART_LEN }
            } else {
                EnvelopeError::BadWrappedKeyLength { len: key_len, expected: KEY_PART_LEN }
            });
        }
        let format = match (params.salt.is_some(), has_header) {
            (true, _) => Format::CallerSalt,
            (false, true) => Format::VerR2,
            (false, false) => Format::Legacy,
        };
        let (aad_len, held_back, min) = match format {
            Format::VerR2 => (R2_AAD_LEN, TAG_LEN, R2_AAD_LEN + TAG_LEN),
            Format::Legacy => (0, TAG_LEN + LEGACY_IV_LEN, TAG_LEN + LEGACY_IV_LEN),
            Format::CallerSalt => (0, TAG_LEN, TAG_LEN),
        };

        // The data key, whose faults rank below a short data part, as in Codec::open.
        let thumbprint = buf
            .get(key_start..key_start + Thumbprint::LEN)
            .and_then(Thumbprint::from_slice)
            .ok_or(EnvelopeError::MissingSplitter)?;
        let wrapped = buf.get(key_start + Thumbprint::LEN..split).unwrap_or_default();
        let data_key = keys
            .unwrap_data_key(&thumbprint, wrapped)
            .and_then(|unwrapped| data_key_for(&unwrapped, format, params));
        buf.drain(..split + splitter.len());
        let data_key = match data_key {
            Ok(key) => key,
            Err(error) => {
                let data_len = buf.len() as u64 + source.drain(&mut buf)?;
                return Err(short_data(data_len, min).unwrap_or(error));
            }
        };

        // The data part: ciphertext through GCM into staging, the tag (and legacy IV) held
        // back until the text ends.
        let mut sink = match format {
            Format::VerR2 => DataSink::AwaitingAad,
            Format::CallerSalt => {
                DataSink::Opening(GcmOpener::new(&data_key, params.salt.unwrap_or_default(), params.aad)?)
            }
            Format::Legacy => DataSink::Verifying(GcmVerifier::new(&data_key, params.aad)?),
        };
        let mut aad = [0u8; R2_AAD_LEN];
        let mut tail: Vec<u8> = Vec::with_capacity(2 * held_back);
        let mut data_len = 0u64;
        loop {
            data_len += buf.len() as u64;
            let mut piece: &mut [u8] = &mut buf;
            if let DataSink::AwaitingAad = sink {
                let have = usize::try_from(data_len).unwrap_or(usize::MAX).saturating_sub(piece.len());
                let take = aad_len.saturating_sub(have).min(piece.len());
                let (head, rest) = piece.split_at_mut(take);
                aad.get_mut(have..have + take).unwrap_or_default().copy_from_slice(head);
                piece = rest;
                if have + take == aad_len {
                    let nonce = aad.get(..R2_NONCE_LEN).unwrap_or_default();
                    sink = DataSink::Opening(GcmOpener::new(&data_key, nonce, &aad)?);
                }
            }
            if !matches!(sink, DataSink::AwaitingAad) {
                // Everything but the last `held_back` bytes seen so far goes through.
                if piece.len() >= held_back {
                    let (through, keep) = piece.split_at_mut(piece.len() - held_back);
                    pass(&mut sink, &mut tail, &mut staging)?;
                    pass(&mut sink, through, &mut staging)?;
                    tail.clear();
                    tail.extend_from_slice(keep);
                } else {
                    tail.extend_from_slice(piece);
                    let excess = tail.len().saturating_sub(held_back);
                    pass(&mut sink, tail.get_mut(..excess).unwrap_or_default(), &mut staging)?;
                    tail.drain(..excess);
                }
            }
            buf.clear();
            if !more {
                break;
            }
            more = source.next(&mut buf)?;
        }
        if let Some(error) = short_data(data_len, min) {
            return Err(error);
        }
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(tail.get(..TAG_LEN).unwrap_or(&[0; TAG_LEN]));
        match sink {
            DataSink::Opening(opener) => opener.finish(&tag).map_err(|_| EnvelopeError::AuthFailed)?,
            DataSink::Verifying(verifier) => {
                let iv = tail.get(TAG_LEN..).unwrap_or_default();
                let mut keystream = verifier.verify(iv, &tag).map_err(|_| EnvelopeError::AuthFailed)?;
                // Second pass: the verified ciphertext in staging becomes plaintext.
                let mut piece = Zeroizing::new(vec![0u8; data_len.min(DATA_PIECE_LEN as u64) as usize]);
                let mut at = staging.seek(SeekFrom::Start(0)).map_err(io_error)?;
                loop {
                    let read = read_full(&mut staging, &mut piece).map_err(io_error)?;
                    if read == 0 {
                        break;
                    }
                    let data = piece.get_mut(..read).unwrap_or_default();
                    keystream.decrypt(data);
                    staging.seek(SeekFrom::Start(at)).map_err(io_error)?;
                    staging.write_all(data).map_err(io_error)?;
                    at += read as u64;
                }
            }
            DataSink::AwaitingAad => return Err(EnvelopeError::AuthFailed),
        }
        staging.flush().map_err(io_error)?;
        staging.commit().map_err(io_error)
    }

    /// The error for a key part with no splitter among its first bytes: the first splitter is
    /// further on (`bad_wrapped_key_length`) or nowhere (`missing_splitter`). Reads the rest of
    /// the text, so that a fault in the text itself is reported first, as the whole-buffer
    /// codec does.
    fn first_splitter_beyond(
        &self,
        head: &[u8],
        mut more: bool,
        source: &mut DecodedText<impl Read>,
    ) -> Result<EnvelopeError, EnvelopeError> {
        let splitter = self.splitter();
        let keep = splitter.len() - 1;
        let key_start = if head.starts_with(VER_R2) { VER_R2.len() } else { 0 };
        let mut window = head.get(head.len().saturating_sub(keep)..).unwrap_or_default().to_vec();
        let mut offset = head.len() - window.len();
        let mut found = None;
        let mut piece = Zeroizing::new(Vec::new());
        while more {
            piece.clear();
            more = source.next(&mut piece)?;
            if found.is_some() {
                continue;
            }
            window.extend_from_slice(&piece);
            if let Some(at) = format::find_splitter(&window, splitter) {
                found = Some(offset + at);
            } else {
                let drop = window.len().saturating_sub(keep);
                window.drain(..drop);
                offset += drop;
            }
        }
        Ok(match found {
            Some(split) => {
                EnvelopeError::BadWrappedKeyLength { len: split - key_start, expected: KEY_PART_LEN }
            }
            None => EnvelopeError::MissingSplitter,
        })
    }
}

/// Decrypts (or authenticates) `data` and writes it to staging.
fn pass(sink: &mut DataSink, data: &mut [u8], staging: &mut impl Write) -> Result<(), EnvelopeError> {
    if data.is_empty() {
        return Ok(());
    }
    match sink {
        DataSink::Opening(opener) => opener.decrypt(data)?,
        DataSink::Verifying(verifier) => verifier.absorb(data)?,
        DataSink::AwaitingAad => {}
    }
    staging.write_all(data).map_err(io_error)
}

/// The data key from what the unwrapper returned, with the checks of `ParsedEnvelope::open`.
fn data_key_for(
    unwrapped: &SecretBytes,
    format: Format,
    params: OpenParams<'_>,
) -> Result<DataKey, EnvelopeError> {
    if unwrapped.len() != DataKey::LEN {
        return Err(EnvelopeError::BadDataKeyLength(unwrapped.len()));
    }
    let key = DataKey::from_slice(unwrapped.expose())?;
    if format == Format::CallerSalt {
        let salt = params.salt.unwrap_or_default();
        if salt.len() != NONCE_LEN && salt.len() != LEGACY_IV_LEN {
            return Err(EnvelopeError::InvalidParameter("the salt must be 12 or 16 bytes"));
        }
    }
    Ok(key)
}

/// `truncated` for a data part shorter than its format's least length.
fn short_data(len: u64, min: usize) -> Option<EnvelopeError> {
    (len < min as u64).then(|| EnvelopeError::Truncated {
        part: "data part",
        len: usize::try_from(len).unwrap_or(usize::MAX),
        min,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecipientKey;
    use keymgr_crypto::{Certificate, RsaPrivateKey};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    struct Fixture {
        recipient: Recipient,
        key: RecipientKey,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let cert =
                Certificate::from_pem(include_bytes!("../../../testdata/fixture-cert.pem")).expect("cert");
            let key = RsaPrivateKey::from_pkcs8_pem(include_bytes!("../../../testdata/fixture-key.pem"))
                .expect("key");
            Fixture {
                recipient: Recipient::from_certificate(&cert).expect("recipient"),
                key: RecipientKey::new(key, &cert).expect("pair"),
            }
        })
    }

    /// A reader that hands out its bytes in pieces of the given lengths, in turn.
    struct Trickle<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size =
                self.sizes.get(self.turn % self.sizes.len().max(1)).copied().unwrap_or(usize::MAX).max(1);
            self.turn += 1;
            let n = size.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn mode_for(which: u8, salt: &[u8]) -> (SealMode<'_>, OpenParams<'_>) {
        match which % 4 {
            0 => (SealMode::VerR2, OpenParams::default()),
            1 => (SealMode::Legacy { aad: b"" }, OpenParams::default()),
            2 => (SealMode::Legacy { aad: b"caller aad" }, OpenParams { salt: None, aad: b"caller aad" }),
            _ => (SealMode::CallerSalt { salt, aad: b"x" }, OpenParams { salt: Some(salt), aad: b"x" }),
        }
    }

    /// What an opener gave: the plaintext or the kind of refusal.
    type Outcome = Result<Vec<u8>, &'static str>;

    fn open_both(text: &[u8], params: OpenParams<'_>, sizes: Vec<usize>) -> (Outcome, Outcome) {
        let codec = Codec::default();
        let whole = codec.open_text(text, &fixture().key, params).map(|p| p.to_vec()).map_err(|e| e.kind());
        let streamed = codec
            .open_stream(
                Trickle { data: text, sizes, turn: 0 },
                StagedBuffer::default(),
                &fixture().key,
                params,
            )
            .map(|p| p.to_vec())
            .map_err(|e| e.kind());
        (whole, streamed)
    }

    fn plaintext(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)).collect()
    }

    #[test]
    fn legacy_open_leaves_nothing_behind_on_a_bad_tag() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("plain.bin");
        let codec = Codec::default();
        let mut text = codec
            .seal_text(b"legacy packet", &fixture().recipient, SealMode::Legacy { aad: b"" })
            .expect("seal")
            .into_bytes();
        let good = text.clone();
        // Change a symbol of the tag: the text stays valid base64.
        let at = text.len() - 30;
        text[at] = if text[at] == b'A' { b'B' } else { b'A' };
        let refused = codec.open_stream(
            &text[..],
            StagedFile::beside(&out).expect("stage"),
            &fixture().key,
            OpenParams::default(),
        );
        assert_eq!(refused.map(|_| ()), Err(EnvelopeError::AuthFailed));
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "nothing staged is left");

        codec
            .open_stream(
                &good[..],
                StagedFile::beside(&out).expect("stage"),
                &fixture().key,
                OpenParams::default(),
            )
            .expect("open");
        assert_eq!(std::fs::read(&out).expect("output"), b"legacy packet");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn refusals_rank_as_in_the_whole_buffer_codec() {
        let codec = Codec::default();
        let sealed = codec.seal(b"payload", &fixture().recipient, SealMode::VerR2).expect("seal");
        let text = |bytes: &[u8]| keymgr_model::base64::encode(bytes).into_bytes();
        // A data part too short beats a key that does not unwrap.
        let mut short = sealed.clone();
        short.truncate(sealed.len() - 20);
        short[100] ^= 1;
        // A second splitter inside the wrapped key: the key part is cut short.
        let mut early = sealed.clone();
        early[50..50 + 14].copy_from_slice(b"#KEY_SPLITTER#");
        // No splitter at all, in a text longer than one piece.
        let missing = vec![7u8; DATA_PIECE_LEN + 1000];
        // The first splitter far beyond the key part, across a piece boundary.
        let mut far = vec![7u8; DATA_PIECE_LEN + 1000];
        far[DATA_PIECE_LEN - 5..DATA_PIECE_LEN + 9].copy_from_slice(b"#KEY_SPLITTER#");
        // A bad symbol after a structural fault: the symbol is reported, as whole.
        let mut late_symbol = text(&missing);
        let last = late_symbol.len() - 1;
        late_symbol[last] = b'*';
        for (name, input) in [
            ("short", text(&short)),
            ("early", text(&early)),
            ("missing", text(&missing)),
            ("far", text(&far)),
            ("late symbol", late_symbol),
            ("empty", Vec::new()),
        ] {
            let (whole, streamed) = open_both(&input, OpenParams::default(), vec![4096]);
            assert!(whole.is_err(), "{name}");
            assert_eq!(streamed, whole, "{name}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every mode, lengths around the GCM block and around a piece, read in pieces of any
        /// size: the streaming seal writes the whole-buffer codec's text for the same random
        /// parts, and both openers give the same plaintext.
        #[test]
        fn streaming_and_whole_buffer_codecs_agree(
            len in prop_oneof![0usize..100, (DATA_PIECE_LEN - 400)..(DATA_PIECE_LEN + 60)],
            which in any::<u8>(),
            sizes in proptest::collection::vec(1usize..5000, 1..4),
            long_salt in any::<bool>(),
        ) {
            let f = fixture();
            let codec = Codec::default();
            let salt = if long_salt { [5u8; 16].to_vec() } else { [5u8; 12].to_vec() };
            let (mode, params) = mode_for(which, &salt);
            let plain = plaintext(len, which);
            let material = SealMaterial::generate(&f.recipient).expect("material");

            let whole = keymgr_model::base64::encode(&codec.seal_with(&plain, &material, &f.recipient, mode).expect("seal"));
            let mut streamed = Vec::new();
            let sealed = codec
                .seal_stream_with(Trickle { data: &plain, sizes: sizes.clone(), turn: 0 }, &mut streamed, &material, &f.recipient, mode)
                .expect("seal stream");
            prop_assert_eq!(sealed, len as u64);
            prop_assert!(streamed == whole.as_bytes(), "streamed text differs");

            let (whole_open, stream_open) = open_both(&streamed, params, sizes);
            prop_assert!(whole_open.as_deref() == Ok(&plain[..]), "whole-buffer open failed");
            prop_assert!(stream_open == whole_open, "streaming open differs");
        }

        /// Damaged envelopes (a bit flipped anywhere, cut short, a symbol changed): the same
        /// plaintext or an error of the same kind.
        #[test]
        fn damaged_envelopes_get_the_same_answer(
            len in 0usize..300,
            which in any::<u8>(),
            damage in 0u8..4,
            at in any::<usize>(),
            bit in 0u8..8,
            sizes in proptest::collection::vec(1usize..700, 1..4),
        ) {
            let f = fixture();
            let codec = Codec::default();
            let salt = [9u8; 12];
            let (mode, params) = mode_for(which, &salt);
            let mut bytes = codec.seal(&plaintext(len, which), &f.recipient, mode).expect("seal");
            let pos = at % bytes.len();
            let text = match damage {
                0 => { bytes[pos] ^= 1 << bit; keymgr_model::base64::encode(&bytes).into_bytes() }
                1 => { bytes.truncate(pos); keymgr_model::base64::encode(&bytes).into_bytes() }
                2 => {
                    let mut t = keymgr_model::base64::encode(&bytes).into_bytes();
                    let p = at % t.len();
                    t[p] = b"A+/-_= \n*"[usize::from(bit)];
                    t
                }
                _ => { bytes.splice(pos..pos, b"#KEY_SPLITTER#".iter().copied()); keymgr_model::base64::encode(&bytes).into_bytes() }
            };
            let (whole, streamed) = open_both(&text, params, sizes);
            prop_assert_eq!(streamed, whole);
        }
    }
}
