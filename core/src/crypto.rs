//! Secrets at rest: XChaCha20-Poly1305 with a 256-bit master key.
//!
//! The master key comes from, in order: the `AREA_MASTER_KEY` setting (32 bytes, base64 or
//! hex); the owner-only key file `master.key` in the data directory; the OS keychain (macOS
//! Keychain, Windows Credential Manager, the freedesktop Secret Service) when the data
//! directory's `master.key.keychain` marker says the key lives there. A new key goes to the
//! keychain when the `AREA_KEYCHAIN` setting is on (the shells turn it on for the default data
//! directory, see [`crate::app::bootstrap`]) and one is reachable, otherwise to the key file —
//! headless servers have no keychain. Both settings come from the [`Settings`] value the shell
//! read at start, never from the environment at call time. Each sealed secret is
//! `nonce (24 bytes) ‖ ciphertext+tag`, with associated data naming the row it belongs to, so a
//! flipped byte or a ciphertext moved to another row fails to open — closed, never plaintext.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::settings::{self, Settings};

/// Setting holding the master key (headless servers, tests).
pub const MASTER_KEY_ENV: &str = settings::MASTER_KEY;
/// Key file in the data directory when no environment key is given.
pub const KEY_FILE: &str = "master.key";
/// Marker in the data directory: the key is in the OS keychain, under the account it names.
pub const KEYCHAIN_MARKER: &str = "master.key.keychain";
/// Setting that, on, creates new master keys in the OS keychain when one is reachable.
pub const KEYCHAIN_ENV: &str = settings::KEYCHAIN;
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

/// The key that seals every stored secret. Never printed, and wiped from memory when dropped
/// (as is every buffer it was decoded or read from); the ciphers built from it wipe their copy too.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

/// The only field is a [`Zeroizing`] buffer, so dropping a key wipes it.
impl ZeroizeOnDrop for MasterKey {}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// The data directory's key, with no settings: `<data_dir>/master.key` (created 0600), or
    /// the keychain entry its marker names. Tests use it; shells use [`MasterKey::load_with`].
    pub fn load(data_dir: &Path) -> Result<MasterKey, CryptoError> {
        MasterKey::load_with(data_dir, &Settings::empty())
    }

    /// The install's key: the `AREA_MASTER_KEY` setting if set, else `<data_dir>/master.key`
    /// (created 0600), else the keychain entry the data directory's marker names; a new key goes
    /// to the keychain when the `AREA_KEYCHAIN` setting is on and one is reachable.
    pub fn load_with(data_dir: &Path, settings: &Settings) -> Result<MasterKey, CryptoError> {
        if let Some(raw) = settings.get(MASTER_KEY_ENV) {
            // Settings trim their values; the settings' own copy lives as long as they do.
            return decode_key(raw).ok_or(CryptoError::BadEnvKey);
        }
        let path = data_dir.join(KEY_FILE);
        match fs::read(&path).map(Zeroizing::new) {
            Ok(bytes) => {
                check_private(&path)?;
                return key_from_slice(&bytes).ok_or_else(|| CryptoError::BadKeyFile(path.clone()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CryptoError::KeyFileIo { path, source }),
        }
        let marker = data_dir.join(KEYCHAIN_MARKER);
        if let Ok(account) = fs::read_to_string(&marker) {
            let account = account.trim().to_string();
            let stored = Zeroizing::new(
                keychain::get(&account).map_err(|reason| CryptoError::Keychain { account: account.clone(), reason })?,
            );
            return decode_key(&stored)
                .ok_or(CryptoError::Keychain { account, reason: "the entry is not a key".into() });
        }
        if settings.flag(KEYCHAIN_ENV) {
            if let Some(key) = create_in_keychain(data_dir, &marker)? {
                return Ok(key);
            }
        }
        create_key_file(&path, settings)
    }

    /// A key from raw bytes (tests, or a key fetched from an OS keychain by a shell). The
    /// caller's array is a copy: wipe it if it came from anywhere but a test.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(Zeroizing::new(bytes))
    }

    /// Seals `plaintext` for the row named by `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| CryptoError::Random(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
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
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: aad.as_bytes() }).map_err(|_| CryptoError::Open)
    }
}

/// A key from its hex or base64 text; the decode buffer is wiped whatever the outcome.
fn decode_key(text: &str) -> Option<MasterKey> {
    let bytes = Zeroizing::new(if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()?
    });
    key_from_slice(&bytes)
}

/// Copies exactly 32 bytes into a wiped-on-drop key; `None` for any other length.
fn key_from_slice(bytes: &[u8]) -> Option<MasterKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != key.len() {
        return None;
    }
    key.copy_from_slice(bytes);
    Some(MasterKey(key))
}

/// 32 fresh random bytes in a wiped-on-drop buffer.
fn random_key() -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *key).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(key)
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
    let key = random_key()?;
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*key));
    let dir = fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let account = format!("master-key:{}", dir.display());
    match keychain::set(&account, &encoded).and_then(|()| keychain::get(&account)).map(Zeroizing::new) {
        Ok(read_back) if *read_back == *encoded => {}
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
        let (account, secret) = (account.to_string(), zeroize::Zeroizing::new(secret.to_string()));
        on_thread(move || {
            keyring::Entry::new(super::KEYCHAIN_SERVICE, &account)
                .and_then(|e| e.set_password(&secret))
                .map_err(|e| e.to_string())
        })
    }
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let io = |source| CryptoError::KeyFileIo { path: path.to_path_buf(), source };
    // A new file, never through a link planted at its name.
    let mut file = crate::paths::create_private_file(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

fn create_key_file(path: &Path, settings: &Settings) -> Result<MasterKey, CryptoError> {
    let key = random_key()?;
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
            file.write_all(&*key).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(MasterKey(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            MasterKey::load_with(path.parent().unwrap_or(path), settings)
        }
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
        assert_eq!(*a.0, *b.0);
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

    /// Issue 10 item 9: the master key was a plain array, copied freely and never wiped. It is a
    /// wiped-on-drop buffer now (checked at the type level: no test can safely read freed memory).
    #[test]
    fn the_master_key_is_wiped_on_drop() {
        fn wiped_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let key = MasterKey::from_bytes([9; 32]);
        wiped_on_drop(&key);
        wiped_on_drop(&key.0);
        assert!(key_from_slice(&[1; 31]).is_none() && key_from_slice(&[1; 33]).is_none());
        assert_eq!(*key_from_slice(&[1; 32]).unwrap().0, [1; 32]);
    }

    /// The master key comes from the settings the shell read at start, never from the
    /// environment at call time: a key given there is used, and no key file is created.
    #[test]
    fn the_master_key_setting_is_used_without_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::from_pairs([(MASTER_KEY_ENV, "ab".repeat(32))]);
        assert_eq!(*MasterKey::load_with(dir.path(), &settings).unwrap().0, [0xab; 32]);
        assert!(!dir.path().join(KEY_FILE).exists());
        let bad = Settings::from_pairs([(MASTER_KEY_ENV, "short")]);
        assert!(matches!(MasterKey::load_with(dir.path(), &bad), Err(CryptoError::BadEnvKey)));
        assert!(!dir.path().join(KEY_FILE).exists(), "a bad key is an error, not a new key");
    }

    #[test]
    fn env_keys_decode_hex_and_base64() {
        assert_eq!(*decode_key(&"ab".repeat(32)).unwrap().0, [0xab; 32]);
        assert_eq!(*decode_key(&base64::engine::general_purpose::STANDARD.encode([3u8; 32])).unwrap().0, [3; 32]);
        assert!(decode_key("short").is_none());
    }
}
