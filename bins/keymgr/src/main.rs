//! `keymgr`: the key manager's command-line front.
//!
//! A thin layer over the library crates: argument parsing, files, exit codes. Exit codes:
//! 0 success, 1 an I/O failure, 2 a usage or key-file error, 3 a rejected envelope.

#![forbid(unsafe_code)]

mod envelope_cmd;
mod error;
mod files;
mod speed;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// Key manager for MOSIP-compatible identity platforms.
#[derive(Debug, Parser)]
#[command(name = "keymgr", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seal and open MOSIP packet envelopes with key and certificate files.
    #[command(subcommand)]
    Envelope(envelope_cmd::EnvelopeCommand),
    /// Measure seal and open speed on this machine, in the spirit of `openssl speed`.
    Speed(speed::SpeedArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Envelope(cmd) => envelope_cmd::run(cmd),
        Command::Speed(args) => speed::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(err.exit_code())
        }
    }
}
