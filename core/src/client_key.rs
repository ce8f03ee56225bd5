//! Client keys: a key pair Area generates for a provider whose client authenticates with a
//! signed JWT instead of a secret (RFC 7523 "client assertion"; Revolut Business).
//!
//! Why Area generates the key itself: the user would otherwise have to run `openssl`, keep a
//! private key file and paste it back, which is exactly the kind of step that makes a personal
//! automation app fail its first minute. Area creates an RSA-2048 key and a self-signed X.509
//! certificate (what such providers ask to be uploaded), keeps the key sealed with the
//! connection, and signs a fresh short-lived assertion (RS256) for every token request.
//!
//! Crypto split: `rsa` only generates the key (ring cannot generate RSA keys); `rcgen` writes the
//! certificate; `ring` signs, in constant time, every assertion after that.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::json;

/// RSA modulus size: what Revolut's guide generates (`openssl genrsa 2048`).
const KEY_BITS: usize = 2048;
/// How long the certificate is valid: Revolut's guide uses `-days 1825`.
pub const CERTIFICATE_DAYS: i64 = 1825;
/// How long a signed assertion is accepted: long enough for one token request, short enough
/// that a leaked one is useless soon after.
pub const ASSERTION_LIFETIME_SECS: i64 = 300;

/// Why a client key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum ClientKeyError {
    /// Key generation or certificate writing failed (should not happen with a working RNG).
    #[error("could not create the client key: {0}")]
    Generate(String),
    /// The stored key cannot be read or used to sign (a damaged connection: set it up again).
    #[error("the stored client key cannot sign ({0}): set the connection up again")]
    Sign(String),
}

/// A generated key pair and its self-signed certificate, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey {
    /// PKCS#8 private key (sealed with the connection, never shown).
    pub private_key_pem: String,
    /// The X.509 certificate the user uploads at the provider.
    pub certificate_pem: String,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey").field("private_key_pem", &"<redacted>").finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A new RSA-2048 key and a certificate for it whose subject is `common_name` (shown by the
    /// provider next to the uploaded certificate), valid from yesterday for
    /// [`CERTIFICATE_DAYS`].
    pub fn generate(common_name: &str) -> Result<ClientKey, ClientKeyError> {
        let failed = |e: &dyn std::fmt::Display| ClientKeyError::Generate(e.to_string());
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS).map_err(|e| failed(&e))?;
        let der = key.to_pkcs8_der().map_err(|e| failed(&e))?;
        let private_key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| failed(&e))?.to_string();
        let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        let pair =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).map_err(|e| failed(&e))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| failed(&e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Area");
        let now = rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(unix_now().max(0) as u64);
        params.not_before = now - std::time::Duration::from_secs(24 * 3600);
        params.not_after = now + std::time::Duration::from_secs(CERTIFICATE_DAYS as u64 * 24 * 3600);
        let certificate = params.self_signed(&pair).map_err(|e| failed(&e))?;
        Ok(ClientKey { private_key_pem, certificate_pem: certificate.pem() })
    }
}

/// What an assertion says (RFC 7523 §3): who signs it, for which client, for which audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims<'a> {
    /// `iss`: for Revolut, the domain of the redirect URI registered with the certificate.
    pub issuer: &'a str,
    /// `sub`: the client id the provider gave for the uploaded certificate.
    pub subject: &'a str,
    /// `aud`: the provider's documented audience (`https://revolut.com`).
    pub audience: &'a str,
}

/// A compact JWS (`header.payload.signature`, RS256) of `claims`, issued now and valid for
/// [`ASSERTION_LIFETIME_SECS`], with a random `jti` so that no two are alike.
pub fn sign_assertion(private_key_pem: &str, claims: &AssertionClaims<'_>) -> Result<String, ClientKeyError> {
    let sign_failed = |e: &dyn std::fmt::Display| ClientKeyError::Sign(e.to_string());
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem).map_err(|e| sign_failed(&e))?;
    let der = key.to_pkcs8_der().map_err(|e| sign_failed(&e))?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| sign_failed(&e))?;
    let now = unix_now();
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|e| sign_failed(&e))?;
    let header = json!({ "alg": "RS256", "typ": "JWT" });
    let payload = json!({
        "iss": claims.issuer,
        "sub": claims.subject,
        "aud": claims.audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
        "jti": hex::encode(jti),
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload.to_string()));
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|e| sign_failed(&e))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assertion_is_rs256_with_the_claims_and_verifies_with_the_certificate_key() {
        let key = ClientKey::generate("Area test").expect("generate");
        assert!(key.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let claims = AssertionClaims { issuer: "example.com", subject: "client-1", audience: "https://revolut.com" };
        let jwt = sign_assertion(&key.private_key_pem, &claims).expect("sign");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("json")
        };
        assert_eq!(decode(parts[0]), json!({"alg": "RS256", "typ": "JWT"}));
        let payload = decode(parts[1]);
        assert_eq!(payload["iss"], "example.com");
        assert_eq!(payload["sub"], "client-1");
        assert_eq!(payload["aud"], "https://revolut.com");
        assert_eq!(payload["exp"].as_i64().expect("exp") - payload["iat"].as_i64().expect("iat"), 300);
        // Verified with the public key alone, as the provider does.
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(&key.private_key_pem).expect("key");
        let public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&private.to_public_key()).expect("public");
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("signature");
        let signed = format!("{}.{}", parts[0], parts[1]);
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public.as_bytes())
            .verify(signed.as_bytes(), &signature)
            .expect("the signature verifies");
        // A second assertion is not a replay of the first.
        let again = sign_assertion(&key.private_key_pem, &claims).expect("sign");
        assert_ne!(decode(again.split('.').nth(1).expect("payload"))["jti"], payload["jti"]);
    }

    #[test]
    fn a_damaged_key_is_a_sign_error_not_a_panic() {
        let claims = AssertionClaims { issuer: "example.com", subject: "c", audience: "a" };
        let err = sign_assertion("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", &claims)
            .expect_err("refused");
        assert!(matches!(err, ClientKeyError::Sign(_)), "{err}");
    }
}
