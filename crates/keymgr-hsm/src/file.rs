//! The embedded file keystore: every key in one file, encrypted under a PIN.
//!
//! ```text
//! file   = header (77 bytes) || AES-256-GCM(body) || tag (16)        GCM aad = header
//! header = "KMKS" | version 1 | Argon2id m_kib u32 | t u32 | p u32 | salt (16)
//!          | PIN check (32) | nonce (12)                             integers big-endian
//! Argon2id(PIN, salt) -> 64 bytes = file key (32) || PIN check (32)
//! body   = count u32 | entries: alias_len u16 | alias | kind u8 | secret_len u32 | secret
//!          | cert_len u32 | cert (cert_len 0 = none)
//! ```
//!
//! The PIN check tells a wrong PIN (clear error) from a damaged file (the tag fails). Every
//! write goes to a temporary file in the same folder, is flushed to disk, renamed over the
//! keystore, and the folder is flushed; a crash leaves the old file or the new one, never a
//! mix. An exclusive lock on `FILE.lock` keeps a second process out.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use keymgr_crypto::aead::{NONCE_LEN, TAG_LEN};
use keymgr_crypto::password::{Argon2Params, argon2id_into};
use keymgr_crypto::{
    AsymmetricKind, DataKey, RsaPrivateKey, SecretBytes, SignAlgorithm, SigningKey, aead, aes256_ecb_decrypt,
    aes256_ecb_encrypt, ct_eq, fill_random,
};
use zeroize::Zeroizing;

use crate::{HsmError, KeyKind, Keystore};

const MAGIC: &[u8; 4] = b"KMKS";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const CHECK_LEN: usize = 32;
const HEADER_LEN: usize = 4 + 1 + 12 + SALT_LEN + CHECK_LEN + NONCE_LEN;
/// Largest keystore file read, to bound allocation on a damaged file.
const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;
/// Longest alias stored.
const MAX_ALIAS_LEN: usize = 255;

/// Argon2id cost parameters for deriving the file key from the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane (OWASP's Argon2id recommendation): about a quarter of a
    /// second on a current core, paid once per start.
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only: they make PIN guessing cheap too.
    pub fn insecure_for_tests() -> Self {
        Self { memory_kib: 64, iterations: 1, parallelism: 1 }
    }

    fn check_bounds(self) -> Result<Self, &'static str> {
        if self.memory_kib > 4 * 1024 * 1024 || self.iterations == 0 || self.iterations > 64 {
            return Err("Argon2 cost out of range");
        }
        if self.parallelism == 0 || self.parallelism > 16 || self.memory_kib < 8 * self.parallelism {
            return Err("Argon2 lanes out of range");
        }
        Ok(self)
    }

    /// Derives the file key and the PIN check value.
    fn derive(
        self,
        pin: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<(DataKey, Zeroizing<[u8; CHECK_LEN]>), HsmError> {
        let params = Argon2Params {
            iterations: self.iterations,
            memory_kib: self.memory_kib,
            parallelism: self.parallelism,
        };
        let mut out = Zeroizing::new([0u8; 64]);
        argon2id_into(pin, salt, params, out.as_mut())
            .map_err(|e| HsmError::Config(format!("Argon2: {e}")))?;
        let (key, check) = out.split_at(32);
        let key = DataKey::from_slice(key)?;
        let mut check_out = Zeroizing::new([0u8; CHECK_LEN]);
        check_out.copy_from_slice(check);
        Ok((key, check_out))
    }
}

/// A key held by the file keystore, parsed once when loaded.
enum Material {
    Rsa { unwrap: RsaPrivateKey, sign: SigningKey },
    Ec(SigningKey),
    Aes(DataKey),
}

struct Entry {
    kind: KeyKind,
    secret: SecretBytes,
    certificate: Option<Vec<u8>>,
    material: Material,
}

impl Entry {
    fn new(kind: KeyKind, secret: SecretBytes) -> Result<Self, HsmError> {
        let material = match kind {
            KeyKind::Asymmetric(AsymmetricKind::Rsa2048) => Material::Rsa {
                unwrap: RsaPrivateKey::from_pkcs8_der(secret.expose())?,
                sign: SigningKey::from_pkcs8(AsymmetricKind::Rsa2048, secret.clone())?,
            },
            KeyKind::Asymmetric(kind) => Material::Ec(SigningKey::from_pkcs8(kind, secret.clone())?),
            KeyKind::Aes256 => Material::Aes(DataKey::from_slice(secret.expose())?),
        };
        Ok(Self { kind, secret, certificate: None, material })
    }

    fn generate(kind: KeyKind) -> Result<Self, HsmError> {
        let secret = match kind {
            KeyKind::Asymmetric(kind) => SigningKey::generate(kind)?.pkcs8().clone(),
            KeyKind::Aes256 => SecretBytes::new(DataKey::generate()?.expose().to_vec()),
        };
        Self::new(kind, secret)
    }

    fn signing_key(&self) -> Option<&SigningKey> {
        match &self.material {
            Material::Rsa { sign, .. } | Material::Ec(sign) => Some(sign),
            Material::Aes(_) => None,
        }
    }
}

fn kind_code(kind: KeyKind) -> u8 {
    match kind {
        KeyKind::Asymmetric(AsymmetricKind::Rsa2048) => 1,
        KeyKind::Asymmetric(AsymmetricKind::EcP256) => 2,
        KeyKind::Asymmetric(AsymmetricKind::EcSecp256k1) => 3,
        KeyKind::Aes256 => 4,
        KeyKind::Asymmetric(AsymmetricKind::Ed25519) => 5,
    }
}

fn kind_from_code(code: u8) -> Option<KeyKind> {
    Some(match code {
        1 => KeyKind::Asymmetric(AsymmetricKind::Rsa2048),
        2 => KeyKind::Asymmetric(AsymmetricKind::EcP256),
        3 => KeyKind::Asymmetric(AsymmetricKind::EcSecp256k1),
        4 => KeyKind::Aes256,
        5 => KeyKind::Asymmetric(AsymmetricKind::Ed25519),
        _ => return None,
    })
}

struct State {
    kdf: KdfParams,
    salt: [u8; SALT_LEN],
    check: Zeroizing<[u8; CHECK_LEN]>,
    key: DataKey,
    entries: BTreeMap<String, Entry>,
}

/// The embedded keystore: one PIN-encrypted file (see the module docs), for development and
/// single-node use. Share one instance between threads; a second process gets
/// [`HsmError::InUse`].
pub struct FileKeystore {
    path: PathBuf,
    _lock: File,
    state: RwLock<State>,
}

impl std::fmt::Debug for FileKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeystore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl FileKeystore {
    /// Opens the keystore at `path` with `pin`, creating an empty one (with `kdf` costs) if the
    /// file does not exist. An existing file keeps the costs it was written with.
    pub fn open_or_create(path: impl Into<PathBuf>, pin: &[u8], kdf: KdfParams) -> Result<Self, HsmError> {
        let path = path.into();
        let lock = lock_file(&path)?;
        let state = match std::fs::metadata(&path) {
            Ok(_) => read_file(&path, pin)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let kdf = kdf.check_bounds().map_err(|e| HsmError::Config(e.to_owned()))?;
                let mut salt = [0u8; SALT_LEN];
                fill_random(&mut salt)?;
                let (key, check) = kdf.derive(pin, &salt)?;
                let state = State { kdf, salt, check, key, entries: BTreeMap::new() };
                write_file(&path, &state)?;
                state
            }
            Err(e) => return Err(HsmError::Io(format!("{}: {e}", path.display()))),
        };
        Ok(Self { path, _lock: lock, state: RwLock::new(state) })
    }

    /// Opens an existing keystore; a missing file is an error.
    pub fn open(path: impl Into<PathBuf>, pin: &[u8]) -> Result<Self, HsmError> {
        let path = path.into();
        let lock = lock_file(&path)?;
        let state = read_file(&path, pin)?;
        Ok(Self { path, _lock: lock, state: RwLock::new(state) })
    }

    /// The keystore file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind and the secret of the key under `alias` (PKCS#8 for a key pair, the raw key
    /// for AES): for `keymgr keystore migrate` only, which imports the keys of this file into
    /// a PKCS#11 token. The one way a key leaves this keystore.
    pub fn export_for_token(&self, alias: &str) -> Result<(KeyKind, SecretBytes), HsmError> {
        self.with_entry(alias, |e| Ok((e.kind, e.secret.clone())))
    }

    /// The kind of the key under `alias`.
    pub fn kind(&self, alias: &str) -> Result<KeyKind, HsmError> {
        self.with_entry(alias, |e| Ok(e.kind))
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the state; on failure the caller undoes its change in memory.
    fn persist(&self, state: &State) -> Result<(), HsmError> {
        write_file(&self.path, state)
    }

    fn with_entry<T>(
        &self,
        alias: &str,
        f: impl FnOnce(&Entry) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let state = self.read();
        let entry = state.entries.get(alias).ok_or_else(|| HsmError::NoSuchAlias(alias.to_owned()))?;
        f(entry)
    }
}

fn wrong_kind(alias: &str, operation: &'static str) -> HsmError {
    HsmError::WrongKeyKind { alias: alias.to_owned(), operation }
}

impl Keystore for FileKeystore {
    fn generate(&self, alias: &str, kind: KeyKind) -> Result<Option<Vec<u8>>, HsmError> {
        if alias.is_empty() || alias.len() > MAX_ALIAS_LEN {
            return Err(HsmError::Config(format!("alias must be 1 to {MAX_ALIAS_LEN} bytes")));
        }
        let entry = Entry::generate(kind)?;
        let public = entry.signing_key().map(SigningKey::public_key_spki).transpose()?;
        let mut state = self.write();
        if state.entries.contains_key(alias) {
            return Err(HsmError::AliasExists(alias.to_owned()));
        }
        state.entries.insert(alias.to_owned(), entry);
        if let Err(e) = self.persist(&state) {
            state.entries.remove(alias);
            return Err(e);
        }
        Ok(public)
    }

    fn store_certificate(&self, alias: &str, cert_der: &[u8]) -> Result<(), HsmError> {
        let mut state = self.write();
        let entry = state.entries.get_mut(alias).ok_or_else(|| HsmError::NoSuchAlias(alias.to_owned()))?;
        if entry.kind == KeyKind::Aes256 {
            return Err(wrong_kind(alias, "hold a certificate"));
        }
        let old = entry.certificate.replace(cert_der.to_vec());
        if let Err(e) = self.persist(&state) {
            if let Some(entry) = state.entries.get_mut(alias) {
                entry.certificate = old;
            }
            return Err(e);
        }
        Ok(())
    }

    fn certificate(&self, alias: &str) -> Result<Option<Vec<u8>>, HsmError> {
        self.with_entry(alias, |e| Ok(e.certificate.clone()))
    }

    fn public_key(&self, alias: &str) -> Result<Vec<u8>, HsmError> {
        self.with_entry(alias, |e| {
            e.signing_key()
                .ok_or_else(|| wrong_kind(alias, "have a public key"))?
                .public_key_spki()
                .map_err(Into::into)
        })
    }

    fn aliases(&self) -> Result<Vec<String>, HsmError> {
        Ok(self.read().entries.keys().cloned().collect())
    }

    fn destroy(&self, alias: &str) -> Result<(), HsmError> {
        let mut state = self.write();
        let entry = state.entries.remove(alias).ok_or_else(|| HsmError::NoSuchAlias(alias.to_owned()))?;
        if let Err(e) = self.persist(&state) {
            state.entries.insert(alias.to_owned(), entry);
            return Err(e);
        }
        Ok(())
    }

    fn rsa_oaep_unwrap(&self, alias: &str, ciphertext: &[u8]) -> Result<SecretBytes, HsmError> {
        self.with_entry(alias, |e| match &e.material {
            Material::Rsa { unwrap, .. } => {
                unwrap.oaep_unwrap(ciphertext).map_err(|_| HsmError::UnwrapFailed)
            }
            _ => Err(wrong_kind(alias, "RSA-OAEP decrypt")),
        })
    }

    fn sign(&self, alias: &str, algorithm: SignAlgorithm, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.with_entry(alias, |e| match e.signing_key() {
            Some(k) if k.kind() == algorithm.key_kind() => k.sign(algorithm, message).map_err(Into::into),
            _ => Err(wrong_kind(alias, "sign with this algorithm")),
        })
    }

    fn aes_ecb_encrypt(&self, alias: &str, data: &[u8]) -> Result<Vec<u8>, HsmError> {
        self.with_entry(alias, |e| match &e.material {
            Material::Aes(key) => aes256_ecb_encrypt(key, data).map_err(Into::into),
            _ => Err(wrong_kind(alias, "AES-encrypt")),
        })
    }

    fn aes_ecb_decrypt(&self, alias: &str, data: &[u8]) -> Result<SecretBytes, HsmError> {
        self.with_entry(alias, |e| match &e.material {
            Material::Aes(key) => aes256_ecb_decrypt(key, data).map_err(Into::into),
            _ => Err(wrong_kind(alias, "AES-decrypt")),
        })
    }

    fn health_check(&self) -> Result<(), HsmError> {
        std::fs::metadata(&self.path)
            .map(drop)
            .map_err(|e| HsmError::Io(format!("{}: {e}", self.path.display())))
    }
}

fn lock_file(path: &Path) -> Result<File, HsmError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = open_private(&lock_path, false)
        .map_err(|e| HsmError::Io(format!("cannot open lock file {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(HsmError::InUse(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(HsmError::Io(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

/// Opens a file for writing with mode 0600 (on Unix), creating it if needed.
fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn corrupt(path: &Path, reason: impl Into<String>) -> HsmError {
    HsmError::Corrupt { path: path.display().to_string(), reason: reason.into() }
}

fn header(state: &State, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.push(VERSION);
    h.extend_from_slice(&state.kdf.memory_kib.to_be_bytes());
    h.extend_from_slice(&state.kdf.iterations.to_be_bytes());
    h.extend_from_slice(&state.kdf.parallelism.to_be_bytes());
    h.extend_from_slice(&state.salt);
    h.extend_from_slice(state.check.as_ref());
    h.extend_from_slice(nonce);
    h
}

fn serialize(entries: &BTreeMap<String, Entry>) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::new());
    body.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for (alias, e) in entries {
        body.extend_from_slice(&(alias.len() as u16).to_be_bytes());
        body.extend_from_slice(alias.as_bytes());
        body.push(kind_code(e.kind));
        body.extend_from_slice(&(e.secret.len() as u32).to_be_bytes());
        body.extend_from_slice(e.secret.expose());
        let cert = e.certificate.as_deref().unwrap_or_default();
        body.extend_from_slice(&(cert.len() as u32).to_be_bytes());
        body.extend_from_slice(cert);
    }
    body
}

fn write_file(path: &Path, state: &State) -> Result<(), HsmError> {
    let io = |e: std::io::Error| HsmError::Io(format!("writing {}: {e}", path.display()));
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let header = header(state, &nonce);
    let mut body = serialize(&state.entries);
    let tag = aead::seal_in_place(&state.key, &nonce, &header, &mut body)?;

    crate::write_private_file(path, &[&header, &body, &tag]).map_err(io)
}

/// Reads big-endian integers and byte strings with bounds checks.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

fn read_file(path: &Path, pin: &[u8]) -> Result<State, HsmError> {
    let io = |e: std::io::Error| HsmError::Io(format!("reading {}: {e}", path.display()));
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_LEN {
        return Err(corrupt(path, format!("{len} bytes is more than a keystore holds")));
    }
    let data = Zeroizing::new(std::fs::read(path).map_err(io)?);
    let (header, rest) =
        data.split_at_checked(HEADER_LEN).ok_or_else(|| corrupt(path, "shorter than its header"))?;
    let mut r = Reader(header);
    if r.take(4) != Some(MAGIC) {
        return Err(corrupt(path, "not a keymgr keystore file"));
    }
    if r.u8() != Some(VERSION) {
        return Err(corrupt(path, "unknown keystore version"));
    }
    let (Some(memory_kib), Some(iterations), Some(parallelism)) = (r.u32(), r.u32(), r.u32()) else {
        return Err(corrupt(path, "short header"));
    };
    let kdf =
        KdfParams { memory_kib, iterations, parallelism }.check_bounds().map_err(|e| corrupt(path, e))?;
    let short = || corrupt(path, "short header");
    let salt: [u8; SALT_LEN] = r.take(SALT_LEN).ok_or_else(short)?.try_into().map_err(|_| short())?;
    let stored_check = r.take(CHECK_LEN).ok_or_else(short)?;
    let nonce = r.take(NONCE_LEN).ok_or_else(short)?;

    let (key, check) = kdf.derive(pin, &salt)?;
    if !ct_eq(check.as_ref(), stored_check) {
        return Err(HsmError::WrongPin);
    }
    let body_len = rest.len().checked_sub(TAG_LEN).ok_or_else(|| corrupt(path, "truncated"))?;
    let (ciphertext, tag) = rest.split_at(body_len);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| corrupt(path, "truncated"))?;
    let mut body = Zeroizing::new(ciphertext.to_vec());
    aead::open_in_place(&key, nonce, header, &mut body, &tag)
        .map_err(|_| corrupt(path, "authentication failed (damaged or truncated)"))?;

    let entries = parse_entries(&body).ok_or_else(|| corrupt(path, "malformed key list"))??;
    let mut check_out = Zeroizing::new([0u8; CHECK_LEN]);
    check_out.copy_from_slice(stored_check);
    Ok(State { kdf, salt, check: check_out, key, entries })
}

/// `None` for a malformed list; `Some(Err)` for a key that does not load.
fn parse_entries(body: &[u8]) -> Option<Result<BTreeMap<String, Entry>, HsmError>> {
    let mut r = Reader(body);
    let count = r.u32()?;
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        let alias_len = usize::from(r.u16()?);
        let alias = std::str::from_utf8(r.take(alias_len)?).ok()?.to_owned();
        let kind = kind_from_code(r.u8()?)?;
        let secret_len = usize::try_from(r.u32()?).ok()?;
        let secret = SecretBytes::new(r.take(secret_len)?.to_vec());
        let cert_len = usize::try_from(r.u32()?).ok()?;
        let cert = r.take(cert_len)?;
        let mut entry = match Entry::new(kind, secret) {
            Ok(e) => e,
            Err(e) => return Some(Err(e)),
        };
        entry.certificate = (!cert.is_empty()).then(|| cert.to_vec());
        entries.insert(alias, entry);
    }
    r.0.is_empty().then_some(Ok(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keystore written before the key derivation moved into `keymgr-crypto` (PIN
    /// `fixture-pin`, [`KdfParams::insecure_for_tests`], one AES key `zk-master`).
    const OLD_KEYSTORE: &str = "4b4d4b530100000040000000010000000106e895f0c3513b363c64f2ba0d8401db5a8b\
        addf241e713a1c0395645134db541a9ad04f9122bd16bfbf257e4201242cf30453d1d091d8c78a91d5c8ca5ebb7d\
        c64101de1044e53aa25e9e562ff189398587b511815bdcd3a6ed7f601e322a3596566c1de268a77137277b9dada7\
        3bc167eed2872ef911c8c3d0da6dd7c311c08c8fac63";
    /// `zk-master`'s AES-256-ECB encryption of 16 zero bytes, recorded with the file above.
    const OLD_ECB_OF_ZEROS: &str = "1004d8bf9298647a55fc5cd3d5aef5db";

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
            .collect()
    }

    #[test]
    fn keystores_written_by_earlier_versions_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keystore");
        std::fs::write(&path, unhex(OLD_KEYSTORE)).expect("write");
        assert!(matches!(FileKeystore::open(&path, b"fixture-pi"), Err(HsmError::WrongPin)));
        let ks = FileKeystore::open(&path, b"fixture-pin").expect("opens");
        assert_eq!(ks.aliases().expect("aliases"), ["zk-master"]);
        assert_eq!(ks.aes_ecb_encrypt("zk-master", &[0; 16]).expect("encrypt"), unhex(OLD_ECB_OF_ZEROS));

        // Written again (new nonce), it keeps the same header fields and opens again.
        ks.generate("rsa", KeyKind::Asymmetric(AsymmetricKind::Rsa2048)).expect("generate");
        drop(ks);
        let again = std::fs::read(&path).expect("read");
        let old = unhex(OLD_KEYSTORE);
        assert_eq!(again.get(..HEADER_LEN - NONCE_LEN), old.get(..HEADER_LEN - NONCE_LEN));
        let ks = FileKeystore::open(&path, b"fixture-pin").expect("reopens");
        assert_eq!(ks.aes_ecb_encrypt("zk-master", &[0; 16]).expect("encrypt"), unhex(OLD_ECB_OF_ZEROS));
    }
}
