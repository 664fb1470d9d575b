//! `keymgr envelope seal|open`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use keymgr_crypto::{Certificate, RsaPrivateKey};
use keymgr_envelope::{Codec, EnvelopeError, OpenParams, Recipient, RecipientKey, SealMode};

use crate::CliError;
use crate::files::{read_input, read_key_file, read_up_to, write_output};

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
    /// Plaintext to seal (`-` for standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the envelope text (`-` for standard output); written atomically.
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
    /// Envelope text to open (`-` for standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Where to write the plaintext (`-` for standard output); nothing is written on rejection.
    #[arg(long = "out", value_name = "FILE")]
    output: PathBuf,
    /// Largest envelope accepted, in decoded bytes.
    #[arg(long, value_name = "BYTES", default_value_t = keymgr_envelope::DEFAULT_MAX_ENVELOPE_LEN)]
    max_size: usize,
}

/// Runs an envelope command.
pub fn run(cmd: EnvelopeCommand) -> Result<(), CliError> {
    match cmd {
        EnvelopeCommand::Seal(args) => seal(&args),
        EnvelopeCommand::Open(args) => open(&args),
    }
}

fn load_certificate(path: &std::path::Path) -> Result<Certificate, CliError> {
    Certificate::from_pem(read_key_file(path)?.expose())
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

fn seal(args: &SealArgs) -> Result<(), CliError> {
    let cert = load_certificate(&args.cert)?;
    let recipient = Recipient::from_certificate(&cert)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.cert.display())))?;
    let plaintext = read_input(&args.input, keymgr_envelope::DEFAULT_MAX_ENVELOPE_LEN)?;
    if plaintext.is_empty() && !args.allow_empty {
        return Err(CliError::Usage(format!(
            "{} is empty; MOSIP refuses to encrypt empty data (pass --allow-empty to seal it anyway)",
            args.input.display()
        )));
    }
    let mode = if args.legacy { SealMode::Legacy { aad: b"" } } else { SealMode::VerR2 };
    let text = Codec::default()
        .seal_text(&plaintext, &recipient, mode)
        .map_err(|e| CliError::Failed(format!("sealing failed: {e}")))?;
    write_output(&args.output, text.as_bytes())
}

fn open(args: &OpenArgs) -> Result<(), CliError> {
    let cert = load_certificate(&args.cert)?;
    let key = RsaPrivateKey::from_pkcs8_pem(read_key_file(&args.key)?.expose())
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.key.display())))?;
    let keys = RecipientKey::new(key, &cert).map_err(|e| CliError::Usage(e.to_string()))?;
    let codec = Codec::default().with_max_envelope_len(args.max_size);
    // Base64 text is 4/3 of the bytes; the codec then checks the exact decoded length.
    let text_limit = args.max_size.saturating_div(3).saturating_add(1).saturating_mul(4);
    let text = read_up_to(&args.input, text_limit)?;
    if text.len() > text_limit {
        return Err(CliError::Rejected(EnvelopeError::TooLarge { len: text.len(), max: args.max_size }));
    }
    let plaintext = codec.open_text(&text, &keys, OpenParams::default()).map_err(CliError::Rejected)?;
    write_output(&args.output, &plaintext)
}
