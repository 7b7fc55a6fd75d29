//! What the registries answered in one pass, as plain data for the planner.

use std::collections::BTreeMap;

use super::{Digest, ImageRef, Platform};

/// The registry's view of one reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteImage {
    /// The digest the tag points to (an index digest for a multi-arch image).
    pub digest: Digest,
    pub is_index: bool,
    /// For an index that no local image matched by digest: the manifest it lists for each
    /// platform the local images run.
    pub platforms: BTreeMap<Platform, PlatformManifest>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformManifest {
    /// The index lists a manifest for this platform, with its config digest (the image id
    /// it pulls as) when that was needed to compare.
    Listed {
        digest: Digest,
        config: Option<Digest>,
    },
    /// The index has no manifest for this platform.
    Missing,
}

/// Why a reference could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveFailure {
    /// The registry is not one refit may talk to: a skip, not an error.
    NotAllowed(String),
    /// Anything else (unreachable, unauthorized, not found): an error for its containers.
    Failed(String),
}

/// Answers by reference.
pub type RemoteDigests = BTreeMap<ImageRef, Result<RemoteImage, ResolveFailure>>;

/// Each repository's tags, keyed by `registry/repository` (`ImageRef::name`), listed for the
/// containers a semver strategy manages.
pub type TagLists = BTreeMap<String, Result<Vec<String>, ResolveFailure>>;
