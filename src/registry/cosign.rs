//! `CosignVerifier`: cosign signature verification with the sigstore crate, key-based and
//! offline (no TUF root, no Rekor or Fulcio). sigstore fetches the signature (the
//! `sha256-<hex>.sig` tag, and OCI referrers) with its own oci-client, which refit configures
//! as it talks to the registry itself: plain HTTP or TLS, the registry's CA, its credentials.
//!
//! sigstore answers "no layer" alike for an unsigned image, a signature of something else and
//! a registry that failed: `SignatureProblem::NoValidLayer` leaves telling them apart to the
//! caller, which asks the registry about the signature tag through refit's own transport.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sigstore::cosign::verification_constraint::{
    PublicKeyVerifier, VerificationConstraint, VerificationConstraintVec,
};
use sigstore::cosign::{ClientBuilder, CosignCapabilities, SignatureLayer, verify_constraints};
use sigstore::registry::{Auth, Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use tracing::debug;

use super::Credentials;
use super::endpoint::{self, canonical_registry};
use super::oci::{RegistryOptions, RegistrySettings};
use crate::model::ImageRef;
use crate::trust::{SignatureCheck, SignatureProblem, SignatureVerifier, TrustedKey};

/// Verifies cosign signatures of images in the registries `RegistryOptions` describes.
pub struct CosignVerifier {
    settings: BTreeMap<String, RegistrySettings>,
    docker_certs_dir: PathBuf,
    /// The longest one verification may take (sigstore sends about 14 requests).
    timeout: Duration,
}

impl CosignVerifier {
    pub fn new(options: &RegistryOptions) -> CosignVerifier {
        CosignVerifier {
            settings: options
                .registries
                .iter()
                .map(|(host, s)| (canonical_registry(host), s.clone()))
                .collect(),
            docker_certs_dir: options.docker_certs_dir.clone(),
            timeout: options.request_timeout * 4,
        }
    }

    /// sigstore's client configuration for `registry`: the same scheme and CA refit uses.
    fn client_config(&self, registry: &str) -> Result<ClientConfig, String> {
        let settings = self.settings.get(registry);
        let ca_file = endpoint::ca_file_for(
            registry,
            settings.and_then(|s| s.ca_file.as_deref()),
            &self.docker_certs_dir,
        );
        let insecure = settings.is_some_and(|s| s.insecure);
        let mut config = ClientConfig::default();
        if endpoint::uses_plain_http(registry, insecure, ca_file.is_some()) {
            config.protocol = ClientProtocol::Http;
        }
        if let Some(path) = ca_file {
            let (pem, _) = endpoint::read_ca(&path)?;
            config.extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem,
            });
        }
        // oci-client's `Client::new`, which sigstore calls, falls back to a default client (or
        // panics, on a system without CA certificates) when the configuration fails: try it
        // first, so that failure is an error here instead.
        oci_client::Client::try_from(oci_client::client::ClientConfig::from(config.clone()))
            .map_err(|e| format!("cannot set up sigstore's registry client: {e}"))?;
        Ok(config)
    }

    async fn layers(
        &self,
        check: &SignatureCheck,
        credentials: Option<&Credentials>,
    ) -> Result<Vec<SignatureLayer>, SignatureProblem> {
        let registry = check.reference.registry();
        let config = self
            .client_config(registry)
            .map_err(SignatureProblem::Unverified)?;
        let mut client = ClientBuilder::default()
            .with_oci_client_config(config)
            .build()
            .map_err(|e| SignatureProblem::Unverified(format!("sigstore client: {e}")))?;
        let image = check
            .reference
            .to_string()
            .parse()
            .map_err(|e| SignatureProblem::Unverified(format!("{}: {e}", check.reference)))?;
        // sigstore's `Auth` holds the password as a plain string; it lives for this call only
        // and is never logged (refit shows sigstore's own logs only at error level).
        let auth = match credentials {
            Some(c) => Auth::Basic(c.username.clone(), c.password.expose().to_string()),
            None => Auth::Anonymous,
        };
        let fetched =
            tokio::time::timeout(self.timeout, client.trusted_signature_layers(&auth, &image))
                .await;
        match fetched {
            Ok(Ok(layers)) => Ok(layers),
            // Only the digest lookup fails loudly; its message names the URL, no secret.
            Ok(Err(e)) => Err(SignatureProblem::Unverified(e.to_string())),
            Err(_) => Err(SignatureProblem::Unverified(format!(
                "signature lookup timed out after {}s",
                self.timeout.as_secs()
            ))),
        }
    }
}

#[async_trait]
impl SignatureVerifier for CosignVerifier {
    async fn verify(
        &self,
        check: &SignatureCheck,
        credentials: Option<&Credentials>,
    ) -> Result<(), SignatureProblem> {
        let layers = self.layers(check, credentials).await?;
        debug!(image = %check.reference, layers = layers.len(), "signature layers fetched");
        if layers.is_empty() {
            return Err(SignatureProblem::NoValidLayer);
        }
        for key in &check.keys {
            verify_key(&layers, key, &check.reference)?;
        }
        Ok(())
    }
}

/// One layer must verify with `key`, and that layer's payload must name the repository.
fn verify_key(
    layers: &[SignatureLayer],
    key: &TrustedKey,
    reference: &ImageRef,
) -> Result<(), SignatureProblem> {
    let verifier = |key: &TrustedKey| {
        PublicKeyVerifier::try_from(key.pem.as_bytes()).map_err(|e| {
            SignatureProblem::Unverified(format!("public key {}: {e}", key.path.display()))
        })
    };
    let by_key: VerificationConstraintVec = vec![Box::new(verifier(key)?)];
    if verify_constraints(layers, by_key.iter()).is_err() {
        return Err(SignatureProblem::Invalid(format!(
            "no signature of {} verifies with {}",
            reference,
            key.path.display()
        )));
    }
    let for_repository: VerificationConstraintVec = vec![Box::new(ForRepository {
        key: verifier(key)?,
        repository: reference.name(),
    })];
    verify_constraints(layers, for_repository.iter()).map_err(|_| {
        SignatureProblem::Invalid(format!(
            "the signature by {} names another repository than {}",
            key.path.display(),
            reference.name()
        ))
    })
}

/// A layer signed by `key` whose simple-signing payload names `repository`
/// (`critical.identity.docker-reference`), so a signature made for one repository cannot
/// vouch for the same digest copied into another.
#[derive(Debug)]
struct ForRepository {
    key: PublicKeyVerifier,
    repository: String,
}

impl VerificationConstraint for ForRepository {
    fn verify(&self, layer: &SignatureLayer) -> sigstore::errors::Result<bool> {
        let named = &layer.simple_signing.critical.identity.docker_reference;
        Ok(self.key.verify(layer)? && names_repository(named, &self.repository))
    }
}

/// Whether a payload's `docker-reference` (cosign writes `index.docker.io/library/nginx` for
/// Docker Hub) is the repository `registry/repository`, compared normalised.
fn names_repository(docker_reference: &str, repository: &str) -> bool {
    match docker_reference.parse::<ImageRef>() {
        Ok(named) => {
            format!(
                "{}/{}",
                canonical_registry(named.registry()),
                named.repository()
            ) == repository
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_repositories_compare_normalised() {
        assert!(names_repository(
            "index.docker.io/library/nginx",
            "docker.io/library/nginx"
        ));
        assert!(names_repository("nginx", "docker.io/library/nginx"));
        assert!(names_repository(
            "127.0.0.1:5000/a/app",
            "127.0.0.1:5000/a/app"
        ));
        assert!(!names_repository(
            "127.0.0.1:5000/a/other",
            "127.0.0.1:5000/a/app"
        ));
        assert!(!names_repository("", "127.0.0.1:5000/a/app"));
    }

    #[test]
    fn loopback_is_plain_http_unless_a_ca_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let options = RegistryOptions {
            docker_certs_dir: dir.path().to_path_buf(),
            ..RegistryOptions::default()
        };
        let verifier = CosignVerifier::new(&options);
        let config = verifier.client_config("127.0.0.1:5000").unwrap();
        assert_eq!(config.protocol, ClientProtocol::Http);
        let host = dir.path().join("127.0.0.1:5000");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("ca.crt"), "not a certificate").unwrap();
        let err = verifier.client_config("127.0.0.1:5000").unwrap_err();
        assert!(err.contains("ca.crt"), "{err}");
    }
}
