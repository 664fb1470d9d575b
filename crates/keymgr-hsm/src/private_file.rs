//! Private files on disk, written atomically: the file keystore, the service's PIN file and
//! admin token, and the CLI's outputs all go through [`write_private_file`], so that one
//! careful implementation guards them all.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use keymgr_crypto::fill_random;

/// `O_NOFOLLOW` (an open fails when the last component of the path is a symbolic link), as
/// Linux's generic ABI defines it for these architectures; std has no constant for it.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
))]
const O_NOFOLLOW: i32 = 0o400_000;
/// Elsewhere no extra flag: `O_CREAT|O_EXCL` (`create_new`) alone refuses a symbolic link at
/// the path, and readers then check the mode of what they opened.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64", target_arch = "riscv64")
)))]
const O_NOFOLLOW: i32 = 0;

/// Writes `parts`, one after the other, to `path` atomically with mode 0600: a temporary file
/// in the same directory with an unpredictable name, created exclusively
/// (`O_CREAT|O_EXCL|O_NOFOLLOW`, so a file or symbolic link planted there is never written
/// through), fsync, rename over `path` (which replaces a symbolic link at `path` rather than
/// following it), directory fsync. On failure the temporary file is removed and `path` is
/// untouched.
pub fn write_private_file(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut suffix = [0u8; 16];
    fill_random(&mut suffix).map_err(std::io::Error::other)?;
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".");
    tmp_name.push(suffix.iter().map(|b| format!("{b:02x}")).collect::<String>());
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut file =
        OpenOptions::new().write(true).create_new(true).custom_flags(O_NOFOLLOW).mode(0o600).open(&tmp)?;
    // From here the temporary file is ours: remove it if anything fails.
    let written = parts
        .iter()
        .try_for_each(|part| file.write_all(part))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

/// Opens `path` for reading without following a symbolic link at its last component; check
/// the mode on the returned file's metadata, not on the path.
pub fn open_private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(O_NOFOLLOW).open(path)
}

/// Reads from `reader` into `buf` until end of input or until `buf` is full, and answers how
/// many bytes were read: secrets go into a buffer allocated once (zeroizing, by the caller),
/// never into a growing vector that would leave copies in freed memory. Give `buf` one byte
/// more than the limit to tell an input over it.
pub fn read_into(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_whole_private_and_never_through_a_link() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secret");
        write_private_file(&path, &[b"ab", b"cd"]).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"abcd");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A link planted at the target is replaced, not followed.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").expect("victim");
        std::fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(&victim, &path).expect("link");
        write_private_file(&path, &[b"new"]).expect("write over the link");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"keep");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        assert!(open_private_file(&path).is_ok());
        std::os::unix::fs::symlink(&victim, dir.path().join("link")).expect("link");
        assert!(open_private_file(&dir.path().join("link")).is_err(), "a link is not opened");
        let leftovers = std::fs::read_dir(dir.path())
            .expect("ls")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp")));
        assert_eq!(leftovers.count(), 0);
    }

    #[test]
    fn read_into_fills_up_to_the_buffer() {
        let mut buf = [0u8; 4];
        assert_eq!(read_into(&mut &b"ab"[..], &mut buf).expect("short"), 2);
        assert_eq!(read_into(&mut &b"abcdef"[..], &mut buf).expect("long"), 4);
        assert_eq!(&buf, b"abcd");
    }
}
