//! `keymgr speed`: seal and open throughput on one thread, like `openssl speed`.

use std::time::{Duration, Instant};

use clap::Args;
use keymgr_crypto::RsaPrivateKey;
use keymgr_envelope::{Codec, KeyUnwrapper, OpenParams, Recipient, SealMode, StagedBuffer};
use keymgr_model::Thumbprint;

use crate::CliError;

/// Largest payload `speed` will allocate for one test.
const MAX_SIZE: usize = 256 * 1024 * 1024;

/// Arguments of `speed`.
#[derive(Debug, Args)]
pub struct SpeedArgs {
    /// Seconds to spend on each operation and size.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    seconds: f64,
    /// Plaintext sizes in bytes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1024,65536,1048576", value_name = "N,N,...")]
    sizes: Vec<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One measured operation at one size.
#[derive(Debug, serde::Serialize)]
struct Rate {
    ops: u64,
    seconds: f64,
    ops_per_sec: f64,
    /// Megabytes (10^6 bytes) of plaintext per second.
    mb_per_sec: f64,
}

#[derive(Debug, serde::Serialize)]
struct SizeResult {
    size: usize,
    seal: Rate,
    open: Rate,
    /// The streaming codec (`keymgr envelope seal`): text written to a sink.
    seal_stream: Rate,
    /// The streaming codec (`keymgr envelope open`): plaintext staged in memory reserved up
    /// front, so that the codec is measured and not the disk.
    open_stream: Rate,
}

#[derive(Debug, serde::Serialize)]
struct Report {
    threads: u32,
    what: &'static str,
    results: Vec<SizeResult>,
}

/// The throw-away key: every thumbprint is accepted, as a benchmark needs no lookup.
struct ThrowAwayKey(RsaPrivateKey);

impl KeyUnwrapper for ThrowAwayKey {
    fn unwrap_data_key(
        &self,
        _thumbprint: &Thumbprint,
        wrapped_key: &[u8],
    ) -> Result<keymgr_crypto::SecretBytes, keymgr_envelope::EnvelopeError> {
        self.0.oaep_unwrap(wrapped_key).map_err(|_| keymgr_envelope::EnvelopeError::KeyUnwrapFailed)
    }
}

fn measure(
    size: usize,
    budget: Duration,
    mut op: impl FnMut() -> Result<(), CliError>,
) -> Result<Rate, CliError> {
    op()?; // warm up caches and the allocator
    let start = Instant::now();
    let mut ops = 0u64;
    while ops == 0 || start.elapsed() < budget {
        op()?;
        ops += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let ops_per_sec = ops as f64 / seconds;
    Ok(Rate { ops, seconds, ops_per_sec, mb_per_sec: ops_per_sec * size as f64 / 1e6 })
}

/// Runs the benchmark and prints the report.
pub fn run(args: &SpeedArgs) -> Result<(), CliError> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 600.0) {
        return Err(CliError::Usage("--seconds must be more than 0 and at most 600".into()));
    }
    if let Some(&bad) = args.sizes.iter().find(|&&s| s > MAX_SIZE) {
        return Err(CliError::Usage(format!("size {bad} is over the limit of {MAX_SIZE} bytes")));
    }
    let budget = Duration::from_secs_f64(args.seconds);
    let key = RsaPrivateKey::generate_2048().map_err(|e| CliError::Failed(e.to_string()))?;
    let public = key.public_key().map_err(|e| CliError::Failed(e.to_string()))?;
    let recipient = Recipient::new(public, Thumbprint::from_bytes([0; 32]))
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let keys = ThrowAwayKey(key);
    let codec = Codec::default();
    let failed = |e: keymgr_envelope::EnvelopeError| CliError::Failed(e.to_string());

    if !args.json {
        println!(
            "keymgr speed: one thread; VER_R2 envelope as base64url text (RSA-2048 OAEP-SHA256 + AES-256-GCM)"
        );
        println!(
            "{:>10} {:>10} {:>10} {:>10} {:>10} {:>16} {:>16}",
            "size", "seal/s", "seal MB/s", "open/s", "open MB/s", "stream seal MB/s", "stream open MB/s"
        );
    }
    let mut results = Vec::new();
    for &size in &args.sizes {
        let plaintext = vec![0x5Au8; size];
        let text = codec.seal_text(&plaintext, &recipient, SealMode::VerR2).map_err(failed)?;
        let seal = measure(size, budget, || {
            codec.seal_text(&plaintext, &recipient, SealMode::VerR2).map(drop).map_err(failed)
        })?;
        let open = measure(size, budget, || {
            codec.open_text(text.as_bytes(), &keys, OpenParams::default()).map(drop).map_err(failed)
        })?;
        let seal_stream = measure(size, budget, || {
            codec
                .seal_stream(&plaintext[..], std::io::sink(), &recipient, SealMode::VerR2)
                .map(drop)
                .map_err(failed)
        })?;
        let open_stream = measure(size, budget, || {
            let staging = StagedBuffer::with_capacity(size);
            codec
                .open_stream(text.as_bytes(), staging, &keys, OpenParams::default())
                .map(drop)
                .map_err(failed)
        })?;
        if !args.json {
            println!(
                "{:>10} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>16.1} {:>16.1}",
                size,
                seal.ops_per_sec,
                seal.mb_per_sec,
                open.ops_per_sec,
                open.mb_per_sec,
                seal_stream.mb_per_sec,
                open_stream.mb_per_sec
            );
        }
        results.push(SizeResult { size, seal, open, seal_stream, open_stream });
    }
    if args.json {
        let report = Report {
            threads: 1,
            what: "VER_R2 envelope, base64url text, seal and open, whole and streamed",
            results,
        };
        let json = serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{json}");
    }
    Ok(())
}
