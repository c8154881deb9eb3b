//! Trust: the system's CA store plus `tls.ca_file`, the verifier behind
//! `accept_invalid_certs`, and what a failed handshake means.

use std::io;
use std::sync::Arc;

use connector_sdk::{Error, Result};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, RootCertStore};

use crate::settings::TlsSettings;

/// The most `tls.ca_file` may hold.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// The system's CA certificates plus `extra` (from `tls.ca_file`).
pub(crate) fn roots(extra: &[CertificateDer<'static>]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(target: "email_connector", added, "system CA certificates loaded");
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| {
            Error::config("/tls/ca_file", format!("not a usable CA certificate: {e}"))
        })?;
    }
    Ok(roots)
}

/// The certificates of `tls.ca_file`, if given: read and parsed, so `validate` can refuse
/// a bad file without loading the system's store.
pub(crate) fn extra_roots(tls: &TlsSettings) -> Result<Vec<CertificateDer<'static>>> {
    use std::io::Read as _;
    let Some(path) = &tls.ca_file else {
        return Ok(Vec::new());
    };
    let cannot = |e: &dyn std::fmt::Display| {
        Error::config(
            "/tls/ca_file",
            format!("cannot read CA certificates from {}: {e}", path.display()),
        )
    };
    // Bounded: a CA bundle is a few hundred KiB; `/dev/zero` by mistake must not hang.
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
        .map_err(|e| cannot(&e))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(cannot(&format!("it is larger than {MAX_CA_FILE} bytes")));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| cannot(&e))?;
    if certs.is_empty() {
        return Err(Error::config(
            "/tls/ca_file",
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(certs)
}

/// Classifies a failed TLS handshake: certificate problems are not retryable.
pub(crate) fn tls_error(what: &str, e: &io::Error) -> Error {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    use crate::hints;
    match tls {
        Some(rustls::Error::InvalidCertificate(reason)) => {
            let hint = match reason {
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => hints::OTHER_NAME,
                _ => hints::UNTRUSTED_CA,
            };
            Error::connect(hints::with(
                format!("{what}: the server's certificate is not trusted ({reason:?})"),
                hint,
            ))
            .retryable(false)
        }
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            Error::connect(hints::with(
                format!("{what}: TLS handshake failed: the server did not answer in TLS"),
                hints::PLAINTEXT_PORT,
            ))
            .retryable(false)
        }
        Some(other) => {
            Error::connect(format!("{what}: TLS handshake failed: {other}")).retryable(false)
        }
        None => super::error::connect_error(what, e),
    }
}

/// A certificate verifier that accepts anything (`accept_invalid_certs`), but still
/// checks handshake signatures.
#[derive(Debug)]
pub(crate) struct AcceptAny(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(e: rustls::Error) -> Error {
        tls_error("IMAP h:993", &io::Error::new(io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn certificate_problems_say_what_to_do() {
        let name = handshake(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName,
        ));
        assert!(
            name.message()
                .contains("hint: the certificate is for another host name"),
            "{name}"
        );
        assert!(!name.is_retryable());
        let ca = handshake(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(ca.message().contains("hint: set `tls.ca_file`"), "{ca}");
    }
}
