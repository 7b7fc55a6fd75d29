//! Observing: a snapshot of the engine's containers and images, and the registries' answers
//! for the references the planner asks about. Reads only; changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::{StreamExt, stream};
use tracing::{debug, warn};

use crate::engine::{self, Engine, facts};
use crate::model::{
    Digest, ImageRef, LocalImage, Platform, PlatformManifest, RemoteDigests, RemoteImage,
    ResolveFailure, Snapshot, TagLists,
};
use crate::registry::{self, IndexEntry, Registry};
use crate::trust::{SignatureCheck, SignatureProblem, SignatureResults, SignatureVerifier};

/// Engine calls in flight at once while observing.
const ENGINE_CONCURRENCY: usize = 8;

/// A container seen in the list that could not be inspected or understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unobserved {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Observed {
    pub snapshot: Snapshot,
    pub unobserved: Vec<Unobserved>,
}

/// List and inspect containers (running ones, or all with `include_stopped`) and their
/// images. Only a failure to list fails the whole observation; a container that vanished
/// meanwhile is left out, one that cannot be inspected is reported.
pub async fn observe(
    engine: &dyn Engine,
    include_stopped: bool,
) -> Result<Observed, engine::Error> {
    let ids = engine.list_container_ids(include_stopped).await?;
    let inspected: Vec<(String, Result<_, engine::Error>)> = stream::iter(ids)
        .map(|id| async move {
            let result = engine.inspect_container(&id).await;
            (id, result)
        })
        .buffered(ENGINE_CONCURRENCY)
        .collect()
        .await;
    let mut observed = Observed::default();
    for (id, result) in inspected {
        let converted = match result {
            Err(e) if e.is_not_found() => continue,
            Err(e) => Err(e.to_string()),
            Ok(inspect) => facts::container(&inspect).map_err(|e| e.to_string()),
        };
        match converted {
            Ok(container) => observed.snapshot.containers.push(container),
            Err(reason) => observed.unobserved.push(Unobserved { id, reason }),
        }
    }
    observed
        .snapshot
        .containers
        .sort_by(|a, b| a.name.cmp(&b.name));
    let image_ids: BTreeSet<Digest> = observed
        .snapshot
        .containers
        .iter()
        .map(|c| c.image_id.clone())
        .collect();
    let images: Vec<Option<LocalImage>> = stream::iter(image_ids)
        .map(|id| async move {
            match engine.inspect_image(id.as_str()).await {
                Ok(inspect) => facts::image(&inspect).ok(),
                Err(e) => {
                    warn!(image = %id, error = %e, "cannot inspect image");
                    None
                }
            }
        })
        .buffer_unordered(ENGINE_CONCURRENCY)
        .collect()
        .await;
    observed.snapshot.images = images
        .into_iter()
        .flatten()
        .map(|i| (i.id.clone(), i))
        .collect();
    Ok(observed)
}

/// Look up the local image each reference names now (an image someone else pulled, for
/// `refit.pull=false`) and add it to the snapshot. A reference that names no local image is
/// left out; the planner reports it.
pub async fn local_tags(
    engine: &dyn Engine,
    snapshot: &mut Snapshot,
    references: BTreeSet<ImageRef>,
) {
    let found: Vec<(ImageRef, Option<LocalImage>)> = stream::iter(references)
        .map(|reference| async move {
            let image = match engine.inspect_image(&reference.to_string()).await {
                Ok(inspect) => facts::image(&inspect).ok(),
                Err(e) => {
                    if !e.is_not_found() {
                        warn!(image = %reference, error = %e, "cannot inspect image");
                    }
                    None
                }
            };
            (reference, image)
        })
        .buffer_unordered(ENGINE_CONCURRENCY)
        .collect()
        .await;
    for (reference, image) in found {
        if let Some(image) = image {
            snapshot.tags.insert(reference, image.id.clone());
            snapshot.images.entry(image.id.clone()).or_insert(image);
        }
    }
}

/// Ask the registries about each reference, `concurrency` at a time: one manifest HEAD per
/// reference, plus, only for a multi-arch index that no local image matches by digest, the
/// index and the manifests needed to tell whether this host's platform changed.
pub async fn resolve(
    registry: &dyn Registry,
    wanted: BTreeMap<ImageRef, Vec<LocalImage>>,
    concurrency: usize,
) -> RemoteDigests {
    stream::iter(wanted)
        .map(|(reference, images)| async move {
            let answer = resolve_one(registry, &reference, &images)
                .await
                .map_err(resolve_failure);
            if let Err(failure) = &answer {
                debug!(reference = %reference, failure = ?failure, "reference not resolved");
            }
            (reference, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// List the tags of each repository (keyed by `registry/repository`, with a reference into
/// it), `concurrency` at a time: one request per page of each list.
pub async fn list_tags(
    registry: &dyn Registry,
    repositories: BTreeMap<String, ImageRef>,
    concurrency: usize,
) -> TagLists {
    stream::iter(repositories)
        .map(|(name, reference)| async move {
            let answer = registry
                .list_tags(&reference)
                .await
                .map_err(resolve_failure);
            match &answer {
                Ok(tags) => debug!(repository = %name, tags = tags.len(), "tags listed"),
                Err(failure) => debug!(repository = %name, failure = ?failure, "tags not listed"),
            }
            (name, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Verify each check's signature, `concurrency` at a time. When sigstore finds no usable
/// layer, refit asks the registry about the `sha256-<hex>.sig` tag itself (one HEAD, through
/// its own polite transport): absent means unsigned, an error means the registry failed, and
/// present means the signature there does not sign this image.
pub async fn signatures(
    registry: &dyn Registry,
    verifier: &dyn SignatureVerifier,
    checks: Vec<SignatureCheck>,
    concurrency: usize,
) -> SignatureResults {
    stream::iter(checks)
        .map(|check| async move {
            let verdict = signature_one(registry, verifier, &check).await;
            match &verdict {
                Ok(()) => debug!(image = %check.reference, "signature verified"),
                Err(problem) => {
                    debug!(image = %check.reference, problem = ?problem, "signature refused")
                }
            }
            (check.reference, verdict)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

async fn signature_one(
    registry: &dyn Registry,
    verifier: &dyn SignatureVerifier,
    check: &SignatureCheck,
) -> Result<(), SignatureProblem> {
    let Some(tag) = check.signature_tag() else {
        return Err(SignatureProblem::Unverified(format!(
            "{} names no digest",
            check.reference
        )));
    };
    let credentials = registry.credentials(check.reference.registry()).await;
    match verifier.verify(check, credentials.as_ref()).await {
        Err(SignatureProblem::NoValidLayer) => {}
        other => return other,
    }
    match registry.head_manifest(&tag).await {
        Err(registry::Error::NotFound { .. }) => Err(SignatureProblem::Missing(format!(
            "no cosign signature of {} (no tag {})",
            check.reference,
            tag.tag().unwrap_or_default()
        ))),
        Err(e) => Err(SignatureProblem::Unverified(e.to_string())),
        Ok(_) => Err(SignatureProblem::Invalid(format!(
            "the signature under {} signs another image than {}",
            tag.tag().unwrap_or_default(),
            check.reference
        ))),
    }
}

/// A registry error as the planner sees it: a registry refit may not ask is a skip, anything
/// else an error for the containers that needed the answer.
fn resolve_failure(error: registry::Error) -> ResolveFailure {
    match error {
        registry::Error::NotAllowed { .. } => ResolveFailure::NotAllowed(error.to_string()),
        other => ResolveFailure::Failed(other.to_string()),
    }
}

async fn resolve_one(
    registry: &dyn Registry,
    reference: &ImageRef,
    images: &[LocalImage],
) -> Result<RemoteImage, registry::Error> {
    let head = registry.head_manifest(reference).await?;
    let mut remote = RemoteImage {
        digest: head.digest.clone(),
        is_index: head.is_index(),
        platforms: BTreeMap::new(),
    };
    let stale: Vec<&LocalImage> = images
        .iter()
        .filter(|i| !i.has_digest(&head.digest))
        .collect();
    if stale.is_empty() || !remote.is_index {
        return Ok(remote);
    }
    let entries = registry
        .index_entries(&reference.at_digest(&head.digest))
        .await?;
    let platforms: BTreeSet<&Platform> = stale.iter().map(|i| &i.platform).collect();
    for platform in platforms {
        let manifest = match pick_entry(&entries, platform) {
            None => PlatformManifest::Missing,
            Some(entry)
                if stale
                    .iter()
                    .any(|i| i.platform == *platform && i.has_digest(&entry.digest)) =>
            {
                PlatformManifest::Listed {
                    digest: entry.digest.clone(),
                    config: None,
                }
            }
            Some(entry) => {
                let config = registry
                    .config_digest(&reference.at_digest(&entry.digest))
                    .await?;
                PlatformManifest::Listed {
                    digest: entry.digest.clone(),
                    config: Some(config),
                }
            }
        };
        remote.platforms.insert(platform.clone(), manifest);
    }
    Ok(remote)
}

/// The index entry Docker would pull for `platform`: an exact match, else a compatible one.
pub fn pick_entry<'a>(entries: &'a [IndexEntry], platform: &Platform) -> Option<&'a IndexEntry> {
    entries
        .iter()
        .find(|e| e.platform == *platform)
        .or_else(|| entries.iter().find(|e| platform.matches(&e.platform)))
}

#[cfg(test)]
#[path = "observe_signatures_tests.rs"]
mod signatures_tests;
