//! Reading inputs and writing outputs: `-` for standard input and output, atomic file writes.

use std::io::Write;
use std::path::Path;

use keymgr_crypto::SecretBytes;

use crate::CliError;

/// Reads a small key or certificate file (or standard input for `-`), at most
/// [`keymgr_crypto::pem::MAX_PEM_LEN`] bytes, into memory that is zeroized when dropped; any
/// failure is a usage error (exit 2).
///
/// The bytes go straight into one buffer of fixed size, so no copy of a private key is left in
/// freed memory by a growing `Vec`; the exact-length result is copied out of it, and the
/// buffer is zeroized.
pub fn read_key_file(path: &Path) -> Result<SecretBytes, CliError> {
    let max = keymgr_crypto::pem::MAX_PEM_LEN;
    let fail = |e: std::io::Error| CliError::Usage(format!("cannot read {}: {e}", path.display()));
    let mut buf = SecretBytes::new(vec![0; max.saturating_add(1)]);
    let len = if path == Path::new("-") {
        keymgr_hsm::read_into(&mut std::io::stdin().lock(), buf.expose_mut())
    } else {
        keymgr_hsm::read_into(&mut std::fs::File::open(path).map_err(fail)?, buf.expose_mut())
    }
    .map_err(fail)?;
    if len > max {
        return Err(CliError::Usage(format!("{} is larger than {max} bytes", path.display())));
    }
    Ok(SecretBytes::new(buf.expose().get(..len).unwrap_or_default().to_vec()))
}

/// Writes `data` to `path` atomically (a temporary file in the same folder, flushed to disk,
/// then renamed over the target), or to standard output for `-`. The temporary file has an
/// unpredictable name and is created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`), so a file or
/// symbolic link planted in the folder is never written through.
pub fn write_output(path: &Path, data: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out.write_all(data).and_then(|()| out.flush()).map_err(fail);
    }
    if path.file_name().is_none() {
        return Err(CliError::Usage(format!("{} is not a file name", path.display())));
    }
    keymgr_hsm::write_private_file(path, &[data]).map_err(fail)
}
