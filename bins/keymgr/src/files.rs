//! Reading inputs and writing outputs: `-` for standard input and output, atomic file writes.

use std::io::{Read, Write};
use std::path::Path;

use crate::CliError;

/// Reads an input file (or standard input for `-`), stopping after `limit + 1` bytes so that
/// the caller can tell an input over the limit without reading all of it.
pub fn read_up_to(path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot read {}: {e}", path.display()));
    let take = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut data = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().lock().take(take).read_to_end(&mut data).map_err(fail)?;
    } else {
        std::fs::File::open(path).map_err(fail)?.take(take).read_to_end(&mut data).map_err(fail)?;
    }
    Ok(data)
}

/// Reads a whole input file (or standard input for `-`), refusing more than `max` bytes.
pub fn read_input(path: &Path, max: usize) -> Result<Vec<u8>, CliError> {
    let data = read_up_to(path, max)?;
    if data.len() > max {
        return Err(CliError::Failed(format!("{} is larger than {max} bytes", path.display())));
    }
    Ok(data)
}

/// Reads a small key or certificate file; any failure is a usage error (exit 2).
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, CliError> {
    read_input(path, keymgr_crypto::pem::MAX_PEM_LEN).map_err(|e| CliError::Usage(e.to_string()))
}

/// Writes `data` to `path` atomically (a temporary file in the same folder, flushed to disk,
/// then renamed over the target), or to standard output for `-`.
pub fn write_output(path: &Path, data: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out.write_all(data).and_then(|()| out.flush()).map_err(fail);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name =
        path.file_name().ok_or_else(|| CliError::Usage(format!("{} is not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}
