//! TLS for the engine's listener, from a certificate chain and private key in PEM files, for an
//! Area server reached without a reverse proxy (`area serve --tls-cert --tls-key`). rustls with
//! ring, TLS 1.2 and 1.3, HTTP/1.1 only (the listener's protocol).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
pub use tokio_rustls::rustls::ServerConfig;

/// Why the certificate or key cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain in {path}: {reason} (expected PEM `CERTIFICATE` blocks)")]
    Certificate { path: String, reason: String },
    #[error("cannot read the private key in {path}: {reason} (expected one PEM private key, PKCS#8, PKCS#1 or SEC1)")]
    Key { path: String, reason: String },
    #[error("the certificate and the key do not make a TLS configuration: {0}")]
    Config(String),
}

/// A server configuration from `cert` (the chain, leaf first) and `key`.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certificate_error = |reason: String| TlsError::Certificate { path: cert.display().to_string(), reason };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| certificate_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("the file holds no certificate".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key { path: key.display().to_string(), reason: e.to_string() })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
