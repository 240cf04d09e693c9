//! The roots every HTTPS client of ours trusts: Mozilla's list compiled in (webpki-roots), plus
//! the certificates of the PEM file `SSL_CERT_FILE` names, when it names one.
//!
//! Compiled-in roots cost no file reads: reading the OS store (a directory of ~150 files on
//! Debian, two bundles on Amazon Linux) sat on a cold start's first AWS call. `SSL_CERT_FILE`
//! keeps the one use of a store of one's own: a CA that is not public, like the deployed-shape
//! test's for its TLS Stripe stand-in, or a proxy's that inspects outbound TLS. Unlike OpenSSL,
//! it adds to the public roots instead of replacing them.

/// A client builder trusting the public roots and `SSL_CERT_FILE`'s certificates.
pub fn client_builder() -> reqwest::ClientBuilder {
    with_extra_roots(
        reqwest::Client::builder(),
        std::env::var_os("SSL_CERT_FILE"),
    )
}

fn with_extra_roots(
    mut builder: reqwest::ClientBuilder,
    file: Option<std::ffi::OsString>,
) -> reqwest::ClientBuilder {
    let Some(path) = file.filter(|p| !p.is_empty()) else {
        return builder;
    };
    let certs = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()));
    match certs {
        Ok(certs) => {
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        // Only the public roots, and said once: a CA that was meant to be trusted is not, and
        // the calls that need it fail their TLS handshake.
        Err(e) => tracing::error!(
            path = %std::path::Path::new(&path).display(),
            error = %e,
            "SSL_CERT_FILE is not a readable PEM bundle; trusting the public roots only"
        ),
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_unreadable_file_leaves_a_working_client_of_the_public_roots() {
        let missing = Some("/nonexistent/ca.pem".into());
        assert!(
            with_extra_roots(reqwest::Client::builder(), missing)
                .build()
                .is_ok()
        );
        assert!(
            with_extra_roots(reqwest::Client::builder(), None)
                .build()
                .is_ok()
        );
    }
}
