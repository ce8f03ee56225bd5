//! Password hashing with argon2id, and the rules that keep it safe over time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};

/// Shortest accepted password (NIST SP 800-63B: length, not composition, is what matters).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password: generous for passphrases, bounded so hashing cost stays bounded.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Hashes and verifies passwords with one set of argon2id parameters.
///
/// Cheap to clone; clones share the verification counter, which exists so tests can prove that
/// an unknown email does the same work as a wrong password.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    params: Params,
    verifications: Arc<AtomicU64>,
}

impl Default for PasswordHasher {
    /// OWASP's argon2id baseline (m=19 MiB, t=2, p=1), which are the argon2 crate's defaults.
    fn default() -> Self {
        PasswordHasher::new(Params::default())
    }
}

impl PasswordHasher {
    /// A hasher producing hashes with `params`.
    pub fn new(params: Params) -> Self {
        PasswordHasher { params, verifications: Arc::new(AtomicU64::new(0)) }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password`, with a fresh salt.
    pub fn hash(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        Ok(self.argon2().hash_password(password.as_bytes())?.to_string())
    }

    /// True when `password` matches `phc`. A malformed stored hash counts as a mismatch.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        match PasswordHash::new(phc) {
            // Verification uses the parameters recorded in the hash, not ours.
            Ok(parsed) => self.argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }

    /// Runs a verification against a fixed dummy hash, so that unknown accounts cost the same.
    pub fn verify_dummy(&self, password: &str) {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            self.hash("area-dummy-password-for-timing")
                .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$invalid".into())
        });
        let _ = self.verify(password, dummy);
    }

    /// True when `phc` was made with other parameters (or algorithm) than ours.
    ///
    /// Compares m/t/p only: a parsed `Params` carries an output length the defaults lack, so
    /// comparing whole `Params` values would always say "rehash".
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else { return true };
        if parsed.algorithm.as_str() != "argon2id" {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                (p.m_cost(), p.t_cost(), p.p_cost())
                    != (self.params.m_cost(), self.params.t_cost(), self.params.p_cost())
            }
            Err(_) => true,
        }
    }

    /// How many verifications this hasher (and its clones) performed.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}
