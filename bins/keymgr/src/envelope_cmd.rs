//! `keymgr envelope seal|open`, streamed: packets of any size in bounded memory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_envelope::{
    Codec, EnvelopeError, OpenParams, Recipient, RecipientKey, SealMode, StagedFile, Staging,
};

use crate::CliError;
use crate::files::read_key_file;

/// Envelope operations.
#[derive(Debug, Subcommand)]
pub enum EnvelopeCommand {
    /// Seal a file for the holder of a certificate's private key. Writes the envelope as
    /// URL-safe base64 text without padding or trailing newline, as MOSIP's /encrypt does.
    Seal(SealArgs),
    /// Open an envelope with a private key and its certificate. On a rejected envelope writes
    /// nothing, prints `rejected: <kind>: <detail>` and exits 3.
    Open(OpenArgs),
}

/// Arguments of `envelope seal`.
#[derive(Debug, Args)]
pub struct SealArgs {
    /// Recipient certificate (PEM; the first certificate is used). Must hold an RSA-2048 key.
    #[arg(long, value_name = "CERT.pem")]
    cert: PathBuf,
    /// Plaintext to seal (`-` for standard input), of any size: it is read a piece at a time.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the envelope text (`-` for standard output); a file is written beside
    /// its final name and renamed into place once complete. Standard output is written as the
    /// text is made: a failure part-way leaves part of it there (and a non-zero exit).
    #[arg(long = "out", value_name = "FILE")]
    output: PathBuf,
    /// Write the legacy layout (no VER_R2 header, 16-byte IV after the tag) for old clients.
    #[arg(long)]
    legacy: bool,
    /// Seal an empty plaintext, which MOSIP's /encrypt refuses.
    #[arg(long)]
    allow_empty: bool,
}

/// Arguments of `envelope open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// Private key (PEM, unencrypted PKCS#8 `BEGIN PRIVATE KEY`).
    #[arg(long, value_name = "KEY.pem")]
    key: PathBuf,
    /// The certificate of that key (PEM); its thumbprint must be the envelope's.
    #[arg(long, value_name = "CERT.pem")]
    cert: PathBuf,
    /// Envelope text to open (`-` for standard input), of any size: it is read a piece at a
    /// time.
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the plaintext (`-` for standard output). The plaintext is staged in a
    /// temporary file (beside the output, or in the temporary folder for `-`) and released only
    /// once its tag verifies; on rejection nothing is written and the staging file is removed.
    #[arg(long = "out", value_name = "FILE")]
    output: PathBuf,
    /// Largest envelope accepted, in decoded bytes (default: the most one AES-GCM message
    /// can hold, 64 GiB).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_SIZE)]
    max_size: usize,
}

/// `--max-size` unless given: the envelope around the largest GCM message.
const DEFAULT_MAX_SIZE: usize = 64 << 30;

/// Runs an envelope command.
pub fn run(cmd: EnvelopeCommand) -> Result<(), CliError> {
    match cmd {
        EnvelopeCommand::Seal(args) => seal(&args),
        EnvelopeCommand::Open(args) => open(&args),
    }
}

fn load_certificate(path: &Path) -> Result<Certificate, CliError> {
    Certificate::from_pem(read_key_file(path)?.expose())
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// Standard input for `-`, else the file.
fn open_input(path: &Path) -> Result<Box<dyn Read>, CliError> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", path.display())))?;
    Ok(Box::new(file))
}

fn staging_for(path: &Path) -> Result<StagedFile, CliError> {
    let staged = if path == Path::new("-") { StagedFile::anonymous() } else { StagedFile::beside(path) };
    staged.map_err(|e| CliError::Failed(format!("cannot write beside {}: {e}", path.display())))
}

/// A failure to read or write is the operator's environment, not a rejected envelope.
fn stream_error(e: EnvelopeError) -> CliError {
    match e {
        EnvelopeError::Io(why) => CliError::Failed(format!("reading or writing failed: {why}")),
        other => CliError::Rejected(other),
    }
}

/// Copies a committed anonymous staging file to standard output.
fn to_stdout(mut file: std::fs::File) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot write to standard output: {e}"));
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out).map_err(fail)?;
    out.flush().map_err(fail)
}

fn seal(args: &SealArgs) -> Result<(), CliError> {
    let cert = load_certificate(&args.cert)?;
    let recipient = Recipient::from_certificate(&cert)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.cert.display())))?;
    let mut input = open_input(&args.input)?;
    // One byte ahead, to refuse an empty plaintext before anything is written.
    let mut first = [0u8; 1];
    let got = keymgr_hsm::read_into(&mut input, &mut first)
        .map_err(|e| CliError::Failed(format!("cannot read {}: {e}", args.input.display())))?;
    if got == 0 && !args.allow_empty {
        return Err(CliError::Usage(format!(
            "{} is empty; MOSIP refuses to encrypt empty data (pass --allow-empty to seal it anyway)",
            args.input.display()
        )));
    }
    let plaintext = first.get(..got).unwrap_or_default().chain(input);
    let mode = if args.legacy { SealMode::Legacy { aad: b"" } } else { SealMode::VerR2 };
    let codec = Codec::default();
    let sealed = |out: &mut dyn Write| {
        codec.seal_stream(plaintext, out, &recipient, mode).map_err(|e| match e {
            EnvelopeError::Io(why) => CliError::Failed(format!("reading or writing failed: {why}")),
            other => CliError::Failed(format!("sealing failed: {other}")),
        })
    };
    if args.output == Path::new("-") {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        sealed(&mut out)?;
        return Ok(());
    }
    if args.output.file_name().is_none() {
        return Err(CliError::Usage(format!("{} is not a file name", args.output.display())));
    }
    let mut staged = staging_for(&args.output)?;
    sealed(&mut staged)?;
    staged.commit().map_err(|e| CliError::Failed(format!("cannot write {}: {e}", args.output.display())))?;
    Ok(())
}

fn open(args: &OpenArgs) -> Result<(), CliError> {
    let cert = load_certificate(&args.cert)?;
    let key = RsaPrivateKey::from_pkcs8_pem(read_key_file(&args.key)?.expose())
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.key.display())))?;
    let keys = RecipientKey::new(key, &cert).map_err(|e| CliError::Usage(e.to_string()))?;
    let codec = Codec::default().with_max_envelope_len(args.max_size);
    if args.output != Path::new("-") && args.output.file_name().is_none() {
        return Err(CliError::Usage(format!("{} is not a file name", args.output.display())));
    }
    let input = open_input(&args.input)?;
    let staged = staging_for(&args.output)?;
    let file = codec.open_stream(input, staged, &keys, OpenParams::default()).map_err(stream_error)?;
    if args.output == Path::new("-") {
        return to_stdout(file);
    }
    Ok(())
}
