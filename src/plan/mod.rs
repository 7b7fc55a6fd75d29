//! Deciding: from what was observed (a snapshot), what the registries answered (digests, and
//! tag lists for semver strategies) and the policy defaults, one decision per container and
//! the order to act in. Pure data in, data out: no IO, no clock, no Docker or registry client
//! types.

pub mod gate;
pub mod order;
pub mod semver;
pub mod signature;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{
    Container, ContainerId, Digest, ImageRef, ImageSource, LocalImage, Platform, PlatformManifest,
    RemoteDigests, RemoteImage, ResolveFailure, Snapshot, TagLists,
};
use crate::policy::{self, Defaults, Policy, Strategy, Verdict};

/// The name suffix an old container carries while its successor starts.
pub const PARKED_SUFFIX: &str = ".refit-old";

/// What to move a container to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The reference the container follows (normalised), which the new image is tagged as
    /// and the successor's `Config.Image` names: its own, or the newer tag a semver strategy
    /// chose.
    pub reference: ImageRef,
    /// The digest the registry gave for it at check time: what is pulled and verified.
    pub digest: Digest,
    /// The platform of the container's current image, kept across the update.
    pub platform: Platform,
    /// `refit.pull=false`: the new image is already local and `digest` is its image id; it
    /// is not pulled.
    pub local: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    UpToDate,
    Update(Update),
    /// An update exists; policy says report it only (monitor-only).
    Available(Update),
    Skip(String),
    Error(String),
}

impl Decision {
    /// The report's `decision` word.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::UpToDate => "up-to-date",
            Decision::Update(_) => "update",
            Decision::Available(_) => "available",
            Decision::Skip(_) => "skip",
            Decision::Error(_) => "error",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Decision::Skip(reason) | Decision::Error(reason) => reason,
            _ => "",
        }
    }

    pub fn update(&self) -> Option<&Update> {
        match self {
            Decision::Update(u) | Decision::Available(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Skip(reason) | Decision::Error(reason) => {
                write!(f, "{}: {reason}", self.kind())
            }
            _ => f.write_str(self.kind()),
        }
    }
}

/// One container's line in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub container: Container,
    /// The container's policy, when it is managed.
    pub policy: Option<Box<Policy>>,
    pub current_digest: Option<Digest>,
    pub available_digest: Option<Digest>,
    pub decision: Decision,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Every container of the snapshot, in snapshot order.
    pub items: Vec<Planned>,
    /// The containers to update, dependencies first.
    pub order: Vec<ContainerId>,
    pub graph: order::Graph,
}

impl Plan {
    pub fn item(&self, id: &ContainerId) -> Option<&Planned> {
        self.items.iter().find(|p| p.container.id == *id)
    }
}

/// The repositories whose tags to list, keyed by `registry/repository` with a reference into
/// each: one per repository that a container under a semver strategy runs with a version tag.
pub fn tag_lists_to_fetch(snapshot: &Snapshot, defaults: &Defaults) -> BTreeMap<String, ImageRef> {
    snapshot
        .containers
        .iter()
        .filter(|c| follows_versions(c, defaults))
        .filter_map(|c| match checkable(snapshot, c, defaults) {
            Check::Ask(reference, _) => Some(reference),
            Check::Decided(_) => None,
        })
        .filter(|r| semver::is_version(r.tag().unwrap_or_default()))
        .map(|r| (r.name(), r))
        .collect()
}

/// The references to ask the registries about, each with the local images that run it
/// (resolving a multi-arch index needs their platforms): a container's own reference, or the
/// newer tag its semver strategy chose from `tags`. Containers policy skips cost no request.
pub fn references_to_check(
    snapshot: &Snapshot,
    defaults: &Defaults,
    tags: &TagLists,
) -> BTreeMap<ImageRef, Vec<LocalImage>> {
    let mut wanted: BTreeMap<ImageRef, Vec<LocalImage>> = BTreeMap::new();
    for container in &snapshot.containers {
        if let Check::Ask(reference, image) = target(snapshot, container, defaults, tags)
            && !pulls_nothing(container, defaults)
        {
            let images = wanted.entry(reference).or_default();
            if !images.iter().any(|i| i.id == image.id) {
                images.push(image.clone());
            }
        }
    }
    wanted
}

/// The references whose local image to look up (containers with `refit.pull=false`).
pub fn local_lookups(snapshot: &Snapshot, defaults: &Defaults) -> BTreeSet<ImageRef> {
    snapshot
        .containers
        .iter()
        .filter(|c| pulls_nothing(c, defaults))
        .filter_map(|c| match checkable(snapshot, c, defaults) {
            Check::Ask(reference, _) => Some(reference),
            Check::Decided(_) => None,
        })
        .collect()
}

fn pulls_nothing(container: &Container, defaults: &Defaults) -> bool {
    matches!(policy::evaluate(container, defaults), Verdict::Managed(p) if !p.pull)
}

/// A semver strategy with pulls allowed: the tag list decides what the container follows.
/// (`refit.pull=false` acts on what someone else pulled, so it follows its own tag.)
fn follows_versions(container: &Container, defaults: &Defaults) -> bool {
    matches!(policy::evaluate(container, defaults), Verdict::Managed(p) if p.pull && p.strategy.is_semver())
}

/// Whether a container needs a registry answer.
enum Check<'a> {
    /// Ask about this reference, to compare with this local image.
    Ask(ImageRef, &'a LocalImage),
    /// No question needed: the decision is already known.
    Decided(Decision),
}

fn checkable<'a>(
    snapshot: &'a Snapshot,
    container: &'a Container,
    defaults: &Defaults,
) -> Check<'a> {
    match decided_without_registry(snapshot, container, defaults) {
        Ok((reference, image)) => Check::Ask(reference.clone(), image),
        Err(decision) => Check::Decided(decision),
    }
}

/// `checkable`, with the reference a semver strategy moves the container to: the newer tag
/// `tags` offers, else its own (whose digest is then checked).
fn target<'a>(
    snapshot: &'a Snapshot,
    container: &'a Container,
    defaults: &Defaults,
    tags: &TagLists,
) -> Check<'a> {
    let check = checkable(snapshot, container, defaults);
    let (Check::Ask(reference, image), Verdict::Managed(policy)) =
        (&check, policy::evaluate(container, defaults))
    else {
        return check;
    };
    if !follows_versions(container, defaults) {
        return check;
    }
    match semver::target(reference, &policy, tags) {
        Ok(chosen) => Check::Ask(chosen, image),
        Err(decision) => Check::Decided(decision),
    }
}

#[allow(clippy::result_large_err)] // private; the Err is the decision itself
fn decided_without_registry<'a>(
    snapshot: &'a Snapshot,
    container: &'a Container,
    defaults: &Defaults,
) -> Result<(&'a ImageRef, &'a LocalImage), Decision> {
    if container.name.ends_with(PARKED_SUFFIX) {
        return Err(Decision::Skip("parked by refit during an update".into()));
    }
    match policy::evaluate(container, defaults) {
        Verdict::Managed(_) => {}
        Verdict::NotSelected(why) | Verdict::BadLabel(why) => return Err(Decision::Skip(why)),
    }
    let reference = match &container.image {
        ImageSource::Reference(r) if r.digest().is_some() => {
            return Err(Decision::Skip("pinned by digest".into()));
        }
        ImageSource::Reference(r) => r,
        ImageSource::ImageId(_) => {
            return Err(Decision::Skip(
                "created from an image id: no reference to look up".into(),
            ));
        }
        ImageSource::Invalid { why, .. } => return Err(Decision::Error(why.clone())),
    };
    let Some(image) = snapshot.image_of(container) else {
        return Err(Decision::Error(format!(
            "image {} is not present on the engine",
            container.image_id
        )));
    };
    if image.repo_digests.is_empty() {
        return Err(Decision::Skip(
            "local image: it has no registry digest".into(),
        ));
    }
    Ok((reference, image))
}

/// Move the container `id` to the end of the update order (refit's own container).
pub fn move_last(plan: &mut Plan, id: &str) {
    if let Some(at) = plan.order.iter().position(|c| c.as_str() == id) {
        let own = plan.order.remove(at);
        plan.order.push(own);
    }
}

/// Decide every container of `snapshot`, with the registries' answers: `remote` for the
/// references `references_to_check` named, `tags` for the repositories `tag_lists_to_fetch`
/// named.
pub fn plan(
    snapshot: &Snapshot,
    defaults: &Defaults,
    remote: &RemoteDigests,
    tags: &TagLists,
) -> Plan {
    let mut items: Vec<Planned> = snapshot
        .containers
        .iter()
        .map(|c| decide(snapshot, c, defaults, remote, tags))
        .collect();
    let graph = order::Graph::new(snapshot);
    let (topological, cycles) = graph.topological();
    mark_cycles(&mut items, &cycles, snapshot);
    let updating: BTreeSet<&ContainerId> = items
        .iter()
        .filter(|p| matches!(p.decision, Decision::Update(_)))
        .map(|p| &p.container.id)
        .collect();
    let order = topological
        .into_iter()
        .filter(|id| updating.contains(id))
        .collect();
    Plan {
        items,
        order,
        graph,
    }
}

fn decide(
    snapshot: &Snapshot,
    container: &Container,
    defaults: &Defaults,
    remote: &RemoteDigests,
    tags: &TagLists,
) -> Planned {
    let current_digest = container
        .image
        .reference()
        .and_then(|r| snapshot.image_of(container).and_then(|i| i.digest_for(r)));
    let policy = match policy::evaluate(container, defaults) {
        Verdict::Managed(policy) => Some(policy),
        _ => None,
    };
    let planned = |decision, available_digest| Planned {
        container: container.clone(),
        policy: policy.clone(),
        current_digest: current_digest.clone(),
        available_digest,
        decision,
    };
    let (reference, image) = match target(snapshot, container, defaults, tags) {
        Check::Ask(reference, image) => (reference, image),
        Check::Decided(decision) => return planned(decision, None),
    };
    let reference = &reference;
    if policy.as_ref().is_some_and(|p| !p.pull) {
        return match snapshot.tags.get(reference) {
            None => planned(
                Decision::Error(format!(
                    "{reference} names no local image (refit.pull=false: refit does not pull it)"
                )),
                None,
            ),
            Some(id) if *id == image.id => planned(Decision::UpToDate, None),
            Some(id) => {
                let update = Update {
                    reference: reference.clone(),
                    digest: id.clone(),
                    platform: image.platform.clone(),
                    local: true,
                };
                let available = snapshot
                    .images
                    .get(id)
                    .and_then(|i| i.digest_for(reference));
                planned(permitted(update, policy.as_deref()), available)
            }
        };
    }
    let answer = match remote.get(reference) {
        Some(Ok(answer)) => answer,
        Some(Err(ResolveFailure::NotAllowed(why))) => {
            return planned(Decision::Skip(why.clone()), None);
        }
        Some(Err(ResolveFailure::Failed(why))) => {
            return planned(Decision::Error(why.clone()), None);
        }
        None => {
            return planned(
                Decision::Error(format!("no registry answer for {reference}")),
                None,
            );
        }
    };
    let decision = match compare(image, answer) {
        Ok(true) => Decision::UpToDate,
        Ok(false) => {
            let update = Update {
                reference: reference.clone(),
                digest: answer.digest.clone(),
                platform: image.platform.clone(),
                local: false,
            };
            permitted(update, policy.as_deref())
        }
        Err(why) => Decision::Error(why),
    };
    planned(decision, Some(answer.digest.clone()))
}

/// What policy makes of an update that exists.
fn permitted(update: Update, policy: Option<&Policy>) -> Decision {
    match policy {
        Some(p) if p.strategy == Strategy::None => {
            Decision::Skip("refit.update is none: refit never updates this container".into())
        }
        Some(p) if p.monitor_only => Decision::Available(update),
        _ => Decision::Update(update),
    }
}

/// Whether the local image is what the registry has now. A multi-arch index that changed
/// while this platform's manifest did not is still current (no update loop).
fn compare(image: &LocalImage, remote: &RemoteImage) -> Result<bool, String> {
    if image.has_digest(&remote.digest) {
        return Ok(true);
    }
    if !remote.is_index {
        return Ok(false);
    }
    match remote.platforms.get(&image.platform) {
        Some(PlatformManifest::Listed { digest, config }) => {
            Ok(image.has_digest(digest) || config.as_ref() == Some(&image.id))
        }
        Some(PlatformManifest::Missing) => Err(format!(
            "the registry's index no longer lists a manifest for {}",
            image.platform
        )),
        None => Err(format!(
            "the registry's index was not resolved for {}",
            image.platform
        )),
    }
}

fn mark_cycles(items: &mut [Planned], cycles: &BTreeSet<ContainerId>, snapshot: &Snapshot) {
    if cycles.is_empty() {
        return;
    }
    let mut names: Vec<&str> = snapshot
        .containers
        .iter()
        .filter(|c| cycles.contains(&c.id))
        .map(|c| c.name.as_str())
        .collect();
    names.sort();
    for item in items
        .iter_mut()
        .filter(|p| cycles.contains(&p.container.id))
    {
        if matches!(item.decision, Decision::Update(_)) {
            item.decision =
                Decision::Error(format!("dependency cycle between {}", names.join(", ")));
        }
    }
}
