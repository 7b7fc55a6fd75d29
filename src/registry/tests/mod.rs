//! `OciRegistry` against the scripted stub registry (`stub.rs`) and a real distribution
//! registry (`distribution.rs`). `requests.rs`: request counts, politeness on 429, HEAD
//! fallback, errors, index parsing. `auth.rs`: Bearer and Basic flows, Docker config
//! credentials, secrets kept out of logs. `tags.rs`: tag lists and their pagination.

mod auth;
mod distribution;
mod requests;
mod stub;
mod tags;

use std::path::PathBuf;
use std::time::Duration;

use super::manifest::fixtures;
use super::*;
use stub::{Stub, StubRequest, StubResponse};

pub(super) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// base64("alice:s3cret")
pub(super) const ALICE_BASIC: &str = "Basic YWxpY2U6czNjcmV0";

pub(super) fn options() -> RegistryOptions {
    RegistryOptions {
        // Never the developer's own ~/.docker/config.json.
        docker_config_dir: Some(PathBuf::from("/nonexistent/refit-test-docker-config")),
        request_timeout: Duration::from_secs(5),
        ..RegistryOptions::default()
    }
}

pub(super) fn registry(options: RegistryOptions) -> OciRegistry {
    OciRegistry::new(options).expect("registry client")
}

pub(super) fn image(stub: &Stub, rest: &str) -> ImageRef {
    format!("{}/{rest}", stub.host())
        .parse()
        .expect("valid reference")
}

pub(super) fn counts(registry: &OciRegistry, stub: &Stub) -> RequestCounts {
    registry
        .request_counts()
        .get(&stub.host())
        .copied()
        .unwrap_or_default()
}

/// A HEAD answer for a single-arch image with digest `seed`.
pub(super) fn manifest_head(seed: u8) -> StubResponse {
    StubResponse::ok()
        .header("docker-content-digest", fixtures::digest(seed))
        .header("content-type", DOCKER_MANIFEST)
}

pub(super) fn is_manifest(request: &StubRequest) -> bool {
    request.path().contains("/manifests/")
}
