//! Secrets at rest: XChaCha20-Poly1305 with a 256-bit master key.
//!
//! The master key comes from, in order: `AREA_MASTER_KEY` (32 bytes, base64 or hex); the
//! owner-only key file `master.key` in the data directory; the OS keychain (macOS Keychain,
//! Windows Credential Manager, the freedesktop Secret Service) when the data directory's
//! `master.key.keychain` marker says the key lives there. A new key goes to the keychain when
//! `AREA_KEYCHAIN=1` (the CLI sets it for the default data directory) and one is reachable,
//! otherwise to the key file — headless servers have no keychain. Each sealed secret is
//! `nonce (24 bytes) ‖ ciphertext+tag`, with associated data naming the row it belongs to, so a
//! flipped byte or a ciphertext moved to another row fails to open — closed, never plaintext.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Environment variable holding the master key (headless servers, tests).
pub const MASTER_KEY_ENV: &str = "AREA_MASTER_KEY";
/// Key file in the data directory when no environment key is given.
pub const KEY_FILE: &str = "master.key";
/// Marker in the data directory: the key is in the OS keychain, under the account it names.
pub const KEYCHAIN_MARKER: &str = "master.key.keychain";
/// Set to `1` to create new master keys in the OS keychain when one is reachable.
pub const KEYCHAIN_ENV: &str = "AREA_KEYCHAIN";
/// Keychain service name of Area's entries.
const KEYCHAIN_SERVICE: &str = "Area";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("AREA_MASTER_KEY must be 32 bytes in base64 or hex")]
    BadEnvKey,
    #[error("the key file {0} is damaged (expected 32 bytes): restore it from a backup, or disconnect and reconnect your services")]
    BadKeyFile(PathBuf),
    #[error("the key file {0} is readable by other users: run `chmod 600` on it")]
    KeyFileTooOpen(PathBuf),
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFileIo { path: PathBuf, source: std::io::Error },
    #[error(
        "a stored secret could not be decrypted (wrong master key, or the data was altered): reconnect the service"
    )]
    Open,
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("the master key is in the OS keychain (entry \"{account}\") but could not be read: {reason}; unlock the keychain, or set AREA_MASTER_KEY")]
    Keychain { account: String, reason: String },
}

/// The key that seals every stored secret. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// The install's key: `AREA_MASTER_KEY` if set, else `<data_dir>/master.key` (created 0600).
    pub fn load(data_dir: &Path) -> Result<MasterKey, CryptoError> {
        if let Some(raw) = std::env::var_os(MASTER_KEY_ENV).filter(|v| !v.is_empty()) {
            return decode_key(raw.to_string_lossy().trim()).ok_or(CryptoError::BadEnvKey);
        }
        let path = data_dir.join(KEY_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                check_private(&path)?;
                let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKeyFile(path.clone()))?;
                return Ok(MasterKey(bytes));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CryptoError::KeyFileIo { path, source }),
        }
        let marker = data_dir.join(KEYCHAIN_MARKER);
        if let Ok(account) = fs::read_to_string(&marker) {
            let account = account.trim().to_string();
            let stored =
                keychain::get(&account).map_err(|reason| CryptoError::Keychain { account: account.clone(), reason })?;
            return decode_key(&stored)
                .ok_or(CryptoError::Keychain { account, reason: "the entry is not a key".into() });
        }
        if std::env::var(KEYCHAIN_ENV).is_ok_and(|v| v == "1") {
            if let Some(key) = create_in_keychain(data_dir, &marker)? {
                return Ok(key);
            }
        }
        create_key_file(&path)
    }

    /// A key from raw bytes (tests, or a key fetched from an OS keychain by a shell).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Seals `plaintext` for the row named by `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(24 + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed secret; any tampering, wrong key or wrong row fails.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 24 + 16 {
            return Err(CryptoError::Open);
        }
        let (nonce, body) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: aad.as_bytes() }).map_err(|_| CryptoError::Open)
    }
}

fn decode_key(text: &str) -> Option<MasterKey> {
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()?
    };
    Some(MasterKey(bytes.try_into().ok()?))
}

fn check_private(path: &Path) -> Result<(), CryptoError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|source| CryptoError::KeyFileIo { path: path.to_path_buf(), source })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CryptoError::KeyFileTooOpen(path.to_path_buf()));
        }
    }
    Ok(())
}

/// A fresh key stored in the OS keychain (and read back, to be sure), with the marker written;
/// `None` when no keychain is reachable, so the caller falls back to the key file.
fn create_in_keychain(data_dir: &Path, marker: &Path) -> Result<Option<MasterKey>, CryptoError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| CryptoError::Random(e.to_string()))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let dir = fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let account = format!("master-key:{}", dir.display());
    match keychain::set(&account, &encoded).and_then(|()| keychain::get(&account)) {
        Ok(read_back) if read_back == encoded => {}
        Ok(_) | Err(_) => {
            tracing::info!("no usable OS keychain; the master key goes to the key file");
            return Ok(None);
        }
    }
    write_private(marker, account.as_bytes())?;
    Ok(Some(MasterKey(key)))
}

/// The OS keychain, used from a plain thread: the Secret Service client runs its own executor,
/// which must not nest inside the caller's async runtime.
mod keychain {
    fn on_thread<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
        std::thread::spawn(f).join().unwrap_or_else(|_| Err("the keychain client panicked".into()))
    }

    pub fn get(account: &str) -> Result<String, String> {
        let account = account.to_string();
        on_thread(move || {
            keyring::Entry::new(super::KEYCHAIN_SERVICE, &account)
                .and_then(|e| e.get_password())
                .map_err(|e| e.to_string())
        })
    }

    pub fn set(account: &str, secret: &str) -> Result<(), String> {
        let (account, secret) = (account.to_string(), secret.to_string());
        on_thread(move || {
            keyring::Entry::new(super::KEYCHAIN_SERVICE, &account)
                .and_then(|e| e.set_password(&secret))
                .map_err(|e| e.to_string())
        })
    }
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let io = |source| CryptoError::KeyFileIo { path: path.to_path_buf(), source };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

fn create_key_file(path: &Path) -> Result<MasterKey, CryptoError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| CryptoError::Random(e.to_string()))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |source| CryptoError::KeyFileIo { path: path.to_path_buf(), source };
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(&key).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(MasterKey(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => MasterKey::load(path.parent().unwrap_or(path)),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_same_key_and_row() {
        let key = MasterKey::from_bytes([7; 32]);
        let sealed = key.seal(b"ghp_canary", "area-connection:v1:1:github").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"ghp_canary"));
        assert_eq!(key.open(&sealed, "area-connection:v1:1:github").unwrap(), b"ghp_canary");
        assert!(key.open(&sealed, "area-connection:v1:2:github").is_err(), "moved to another row");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(key.open(&flipped, "area-connection:v1:1:github").is_err(), "flipped byte");
        assert!(MasterKey::from_bytes([8; 32]).open(&sealed, "area-connection:v1:1:github").is_err());
        assert_ne!(key.seal(b"x", "a").unwrap(), key.seal(b"x", "a").unwrap(), "fresh nonce each time");
    }

    #[test]
    fn key_file_is_created_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = MasterKey::load(dir.path()).unwrap();
        let b = MasterKey::load(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join(KEY_FILE);
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(MasterKey::load(dir.path()), Err(CryptoError::KeyFileTooOpen(_))));
        }
    }

    #[test]
    fn without_a_reachable_keychain_the_key_goes_to_the_file() {
        // This test machine has no Secret Service (no session bus): asking for the keychain
        // must fall back to the owner-only file, never fail and never lose the key.
        let dir = tempfile::tempdir().unwrap();
        assert!(keychain::get("master-key:/nonexistent/area-test").is_err());
        let created = create_in_keychain(dir.path(), &dir.path().join(KEYCHAIN_MARKER)).unwrap();
        assert!(created.is_none());
        assert!(!dir.path().join(KEYCHAIN_MARKER).exists());
    }

    #[test]
    fn a_marker_whose_keychain_entry_is_gone_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEYCHAIN_MARKER), "master-key:/nonexistent/area-test").unwrap();
        match MasterKey::load(dir.path()) {
            Err(CryptoError::Keychain { account, .. }) => assert_eq!(account, "master-key:/nonexistent/area-test"),
            other => panic!("expected a keychain error, got {other:?}"),
        }
        assert!(!dir.path().join(KEY_FILE).exists(), "no silent new key: the old secrets would be lost");
    }

    #[test]
    fn env_keys_decode_hex_and_base64() {
        assert_eq!(decode_key(&"ab".repeat(32)).unwrap().0, [0xab; 32]);
        assert_eq!(decode_key(&base64::engine::general_purpose::STANDARD.encode([3u8; 32])).unwrap().0, [3; 32]);
        assert!(decode_key("short").is_none());
    }
}
