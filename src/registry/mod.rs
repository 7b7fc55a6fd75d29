//! Registry access: what a check asks a registry (manifest digests, index entries) and the
//! credentials an engine pull needs. `Registry` is the trait the rest of refit uses;
//! `OciRegistry` is the HTTP implementation.
//!
//! Checks never fetch a blob: a HEAD on the manifest answers "what does this tag point to",
//! and an index or manifest GET happens only where a HEAD cannot answer the question.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::model::{Digest, ImageRef, Platform};

mod answer;
mod auth;
mod cosign;
mod credentials;
mod endpoint;
mod manifest;
mod oci;
mod retry;
mod tags;
mod transport;

#[cfg(test)]
mod tests;

pub use answer::RequestResult;
pub use cosign::CosignVerifier;
pub use oci::{OciRegistry, RegistryOptions, RegistrySettings};
pub use retry::RetryPolicy;
pub use transport::{RequestCounts, RequestKind};

/// What a HEAD on a manifest answers: the digest the reference points to and its media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Digest,
    pub media_type: String,
}

impl ManifestHead {
    /// True for an OCI image index or a Docker manifest list (a multi-arch image).
    pub fn is_index(&self) -> bool {
        is_index_media_type(&self.media_type)
    }
}

pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE
        || media_type == oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE
}

/// One platform entry of a multi-arch index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub platform: Platform,
    pub digest: Digest,
}

/// Credentials for one registry, handed to the engine for its pull (`X-Registry-Auth`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: crate::secret::Secret,
    pub server: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("server", &self.server)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("registry not allowed: {registry} is not in trust.allowed_registries")]
    NotAllowed { registry: String },
    #[error("registry {registry} unreachable: {message}")]
    Unreachable { registry: String, message: String },
    #[error("registry {registry} refused the credentials for {repository}")]
    Unauthorized {
        registry: String,
        repository: String,
    },
    #[error("{reference} not found in the registry")]
    NotFound { reference: String },
    #[error("registry {registry} is rate limiting (HTTP {status}) and the retry budget is spent")]
    RateLimited { registry: String, status: u16 },
    #[error("registry {registry} answered HTTP {status} for {url}")]
    Status {
        registry: String,
        status: u16,
        url: String,
    },
    #[error("registry {registry} gave an answer refit cannot use: {message}")]
    Protocol { registry: String, message: String },
    /// The HTTP client for a registry could not be built (CA file unreadable or invalid, no
    /// CA certificates on the system for an HTTPS registry). Fixing it takes the operator.
    #[error("cannot set up a connection to registry {registry}: {message}")]
    Setup { registry: String, message: String },
}

impl Error {
    /// Whether asking again later may succeed (network faults, rate limits, server errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::RateLimited { .. } => true,
            Error::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// What refit asks of a registry. One implementation speaks HTTP; tests use fakes.
#[async_trait]
pub trait Registry: Send + Sync {
    /// HEAD the manifest `reference` names (GET only where HEAD is refused).
    async fn head_manifest(&self, reference: &ImageRef) -> Result<ManifestHead, Error>;

    /// GET the index `reference` names (normally by digest) and list its platform entries.
    async fn index_entries(&self, reference: &ImageRef) -> Result<Vec<IndexEntry>, Error>;

    /// GET the image manifest `reference` names and return the digest of its config blob,
    /// which is the image id the engine gives the image once pulled.
    async fn config_digest(&self, reference: &ImageRef) -> Result<Digest, Error>;

    /// Every tag of the repository `reference` names (its tag and digest play no part),
    /// following the registry's pagination. Costs one request per page.
    async fn list_tags(&self, reference: &ImageRef) -> Result<Vec<String>, Error>;

    /// Credentials for `registry`, if refit has any, to hand to the engine's pull.
    async fn credentials(&self, registry: &str) -> Option<Credentials>;

    /// Requests sent so far, per registry host and how they ended (for metrics). Fakes that
    /// send nothing keep the default.
    fn request_results(&self) -> BTreeMap<(String, RequestResult), u64> {
        BTreeMap::new()
    }
    /// A pass starts: what holds for one pass only (the retry budget, credentials, which a
    /// `docker login` may have changed) starts afresh; tokens are kept for their lifetime.
    fn begin_pass(&self) {}
}
