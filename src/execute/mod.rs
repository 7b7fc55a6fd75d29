//! Acting: carrying out a plan's updates. Images are pulled by the digest the check resolved
//! and verified before anything is stopped; each container then moves through
//! stop → park (rename to `<name>.refit-old`, restart policy `no`) → create → start →
//! health gate → remove the old one, each step journaled before it is taken; any failure
//! after the stop, or a successor the gate refuses, puts the old container back, running,
//! under its own name. `recover` finishes what a killed refit left; `rollback` is
//! `refit rollback`.

mod dependents;
#[cfg(test)]
mod fake;
pub mod handover;
mod health;
pub mod hooks;
pub mod recover;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_copy;
#[cfg(test)]
mod tests_safety;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use tracing::{Instrument, info, info_span, warn};

use crate::engine::{Engine, facts};
use crate::model::{Container, ContainerId, Digest, ImageRef, RunState, Snapshot};
use crate::plan::{Plan, Update, order::Graph};
use crate::policy::Policy;
use crate::registry::Registry;
use crate::state::{HistoryEntry, Step, Store, UpdateKind};

pub use health::Gate;
pub use update::Outcome;
use update::{Change, Record, Transaction};

#[derive(Clone, Debug)]
pub struct Settings {
    /// Remove the old image when nothing uses it any more.
    pub cleanup: bool,
    /// Used to stop a container that sets no stop timeout of its own.
    pub stop_timeout: Duration,
    /// Pulls in flight at once.
    pub pull_concurrency: usize,
    /// `[health]`: the gate a successor passes before the old container is removed.
    pub health: HealthSettings,
    /// Test only (`REFIT_TEST_PAUSE_AFTER`): sleep after a step so a test can kill refit there.
    pub pause_after: Option<Pause>,
    /// The id of the container refit itself runs in: updated by handing over to a successor
    /// (see `handover.rs`), never by stopping it.
    pub own_container: Option<String>,
}

/// `[health]`, which `refit.health-timeout` and `refit.rollback` override per container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    pub wait: Duration,
    pub timeout: Duration,
    pub rollback: bool,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            wait: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            rollback: true,
        }
    }
}

/// A test-only pause: `REFIT_TEST_PAUSE_AFTER=<step>[:<duration>]` (default one hour).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub step: Step,
    pub duration: Duration,
}

impl Pause {
    pub fn parse(value: &str) -> Option<Pause> {
        let (step, duration) = match value.split_once(':') {
            Some((step, duration)) => (step, crate::policy::parse_duration(duration)?),
            None => (value, Duration::from_secs(3600)),
        };
        Some(Pause {
            step: Step::parse(step)?,
            duration,
        })
    }
}

/// An image pulled by digest and verified to carry that digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub image_id: Digest,
    /// The new image's labels (provenance is read from them).
    pub labels: BTreeMap<String, String>,
}

pub struct Executor<'a> {
    engine: &'a dyn Engine,
    registry: &'a dyn Registry,
    snapshot: &'a Snapshot,
    settings: Settings,
    journal: &'a Store,
}

impl<'a> Executor<'a> {
    pub fn new(
        engine: &'a dyn Engine,
        registry: &'a dyn Registry,
        snapshot: &'a Snapshot,
        settings: Settings,
        journal: &'a Store,
    ) -> Self {
        Executor {
            engine,
            registry,
            snapshot,
            settings,
            journal,
        }
    }

    /// Pull and verify every image the plan's updates need, several at once, before any
    /// container is touched (so downtime never includes a download).
    pub async fn prefetch(&self, plan: &Plan) -> BTreeMap<ContainerId, Result<Verified, String>> {
        let wanted: Vec<(ContainerId, Update)> = plan
            .order
            .iter()
            .filter_map(|id| Some((id.clone(), plan.item(id)?.decision.update()?.clone())))
            .collect();
        let mut by_digest: BTreeMap<(Digest, String), Result<Verified, String>> = BTreeMap::new();
        let distinct: Vec<Update> = {
            let mut seen = std::collections::BTreeSet::new();
            wanted
                .iter()
                .filter(|(_, u)| seen.insert((u.digest.clone(), u.platform.to_string())))
                .map(|(_, u)| u.clone())
                .collect()
        };
        let results: Vec<(Update, Result<Verified, String>)> = stream::iter(distinct)
            .map(|u| async move {
                let span = info_span!("pull", image = %u.reference, digest = %u.digest);
                let result = self.pull_verified(&u).instrument(span).await;
                (u, result)
            })
            .buffer_unordered(self.settings.pull_concurrency.max(1))
            .collect()
            .await;
        for (u, result) in results {
            by_digest.insert((u.digest.clone(), u.platform.to_string()), result);
        }
        wanted
            .into_iter()
            .map(|(id, u)| {
                let result = by_digest
                    .get(&(u.digest.clone(), u.platform.to_string()))
                    .cloned();
                (
                    id,
                    result.unwrap_or_else(|| Err("image was not pulled".into())),
                )
            })
            .collect()
    }

    /// Pull `repo@digest` for the container's platform and check that the local image now
    /// carries exactly that digest.
    async fn pull_verified(&self, update: &Update) -> Result<Verified, String> {
        if update.local {
            return self.local_image(update).await;
        }
        // Credentials go to the engine's pull as X-Registry-Auth, never into a log line.
        let by_digest = update.reference.at_digest(&update.digest).to_string();
        let credentials = self.registry.credentials(update.reference.registry()).await;
        self.engine
            .pull_image(&by_digest, Some(&update.platform), credentials.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let inspect = match self.engine.inspect_image(&by_digest).await {
            Err(e) if e.is_not_found() => {
                return Err(format!(
                    "integrity check failed: after the pull no local image carries {}",
                    update.digest
                ));
            }
            other => other.map_err(|e| format!("after pull: {e}"))?,
        };
        let image = facts::image(&inspect).map_err(|e| e.to_string())?;
        if !image.has_digest(&update.digest) {
            return Err(format!(
                "integrity check failed: the pulled image does not carry {} (it lists {:?})",
                update.digest, image.repo_digests
            ));
        }
        if !update.platform.matches(&image.platform) {
            return Err(format!(
                "pulled image is for {}, the container runs {}",
                image.platform, update.platform
            ));
        }
        info!(image_id = %image.id.short(), "image pulled and verified");
        Ok(Verified {
            image_id: image.id,
            labels: image.labels,
        })
    }

    /// `refit.pull=false`: the image someone else pulled, found by the id the plan saw.
    async fn local_image(&self, update: &Update) -> Result<Verified, String> {
        let inspect = self
            .engine
            .inspect_image(update.digest.as_str())
            .await
            .map_err(|e| format!("local image {}: {e}", update.digest.short()))?;
        let image = facts::image(&inspect).map_err(|e| e.to_string())?;
        if image.id != update.digest {
            return Err(format!(
                "local image {} is not the one planned",
                update.digest.short()
            ));
        }
        Ok(Verified {
            image_id: image.id,
            labels: image.labels,
        })
    }

    /// Update one container of the plan, with its dependents stopped around it.
    pub async fn update(&self, plan: &Plan, id: &ContainerId, verified: &Verified) -> Outcome {
        let Some(item) = plan.item(id) else {
            return Outcome::Failed("container is not in the plan".into());
        };
        let Some(update) = item.decision.update() else {
            return Outcome::Failed("container has no update planned".into());
        };
        let hooks = item
            .policy
            .as_ref()
            .map(|p| p.hooks.clone())
            .unwrap_or_default();
        if let Some(command) = &hooks.pre_update
            && item.container.state == RunState::Running
        {
            let id = item.container.id.as_str();
            match hooks::run(self.engine, id, "pre-update", command, hooks.timeout).await {
                Ok(()) => {}
                Err(hooks::HookError::Skip(why)) => return Outcome::Skipped(why),
                Err(hooks::HookError::Failed(why)) => return Outcome::Failed(why),
            }
        }
        let change = Change {
            image_id: verified.image_id.clone(),
            platform: Some(update.platform.clone()),
            retag: Some((
                update.reference.name(),
                update.reference.tag().unwrap_or("latest").to_string(),
            )),
            gate: self.gate(item.policy.as_deref()),
            is_self: self.settings.own_container.as_deref() == Some(item.container.id.as_str()),
            record: Record {
                kind: UpdateKind::Update,
                reference: update.reference.to_string(),
                old_digest: item.current_digest.clone(),
                new_digest: Some(update.digest.clone()),
            },
            copy: item
                .policy
                .as_ref()
                .map(|p| p.copy.clone())
                .unwrap_or_default(),
            stop_signal: item.policy.as_ref().and_then(|p| p.stop_signal.clone()),
        };
        let outcome = self.transact(&plan.graph, &item.container, change).await;
        let mut outcome = outcome;
        if let (
            Outcome::Updated {
                container_id,
                warnings,
                ..
            },
            Some(command),
        ) = (&mut outcome, &hooks.post_update)
            && item.container.state == RunState::Running
            && let Some(warning) = hooks::run_advisory(
                self.engine,
                container_id,
                "post-update",
                command,
                hooks.timeout,
            )
            .await
        {
            warnings.push(warning);
        }
        if let Outcome::Updated { .. } = &outcome
            && self.settings.cleanup
        {
            self.remove_unused_image(&item.container.image_id).await;
        }
        outcome
    }

    /// The health gate for a container: `[health]`, with `refit.health-timeout` and
    /// `refit.rollback` over it.
    fn gate(&self, policy: Option<&Policy>) -> Gate {
        let health = &self.settings.health;
        Gate {
            wait: health.wait,
            health_timeout: Some(
                policy
                    .and_then(|p| p.health_timeout)
                    .unwrap_or(health.timeout),
            ),
            rollback: policy.and_then(|p| p.rollback).unwrap_or(health.rollback),
        }
    }

    /// One transaction, with the container's dependents stopped before and brought back
    /// after, in order.
    async fn transact(&self, graph: &Graph, container: &Container, change: Change) -> Outcome {
        let context = dependents::Context {
            engine: self.engine,
            snapshot: self.snapshot,
            settings: &self.settings,
            journal: self.journal,
        };
        let dependents = graph.dependents(&container.id);
        let held = dependents::stop(&context, self.snapshot, &dependents).await;
        let outcome = Transaction::new(
            self.engine,
            self.snapshot,
            &self.settings,
            self.journal,
            container,
            change,
        )
        .run()
        .await;
        dependents::bring_back(&context, &held).await;
        outcome
    }

    /// `refit rollback`: recreate `container` on the image its last update (`last`) replaced,
    /// through the same transaction and health gate as an update. The digest rolled away from
    /// is remembered as bad, so the next pass does not update the container straight back.
    pub async fn rollback(
        &self,
        graph: &Graph,
        container: &Container,
        last: &HistoryEntry,
    ) -> Outcome {
        if container.image_id.as_str() != last.to_image {
            return Outcome::Failed(format!(
                "{} no longer runs the image its last update gave it; nothing rolled back",
                container.name
            ));
        }
        let (Ok(image_id), Ok(reference)) = (
            last.from_image.parse::<Digest>(),
            last.reference.parse::<ImageRef>(),
        ) else {
            return Outcome::Failed("the journal entry does not parse".into());
        };
        if let Err(why) = self.ensure_image(&image_id, &reference, last).await {
            return Outcome::Failed(why);
        }
        let change = Change {
            image_id,
            platform: self
                .snapshot
                .image_of(container)
                .map(|i| i.platform.clone()),
            retag: Some((
                reference.name(),
                reference.tag().unwrap_or("latest").to_string(),
            )),
            gate: self.gate(None),
            is_self: self.settings.own_container.as_deref() == Some(container.id.as_str()),
            record: Record {
                kind: UpdateKind::Rollback,
                reference: last.reference.clone(),
                old_digest: last.to_digest.as_deref().and_then(|d| d.parse().ok()),
                new_digest: last.from_digest.as_deref().and_then(|d| d.parse().ok()),
            },
            copy: crate::policy::copy_paths(container),
            // The container's own stop signal: `refit rollback` has no evaluated policy.
            stop_signal: None,
        };
        let outcome = self.transact(graph, container, change).await;
        if let (Outcome::Updated { .. }, Some(bad)) = (&outcome, &last.to_digest)
            && let Err(e) = self.journal.remember_bad_digest(
                &last.reference,
                bad,
                "rolled back by refit rollback",
                chrono::Utc::now(),
            )
        {
            warn!(error = %e, "cannot remember the digest rolled away from");
        }
        outcome
    }

    /// The image to roll back to, pulled again by its digest if cleanup removed it.
    async fn ensure_image(
        &self,
        image_id: &Digest,
        reference: &ImageRef,
        last: &HistoryEntry,
    ) -> Result<(), String> {
        if self.engine.inspect_image(image_id.as_str()).await.is_ok() {
            return Ok(());
        }
        let Some(digest) = last.from_digest.as_deref().and_then(|d| d.parse().ok()) else {
            return Err(format!(
                "image {} is gone and has no digest to pull",
                image_id.short()
            ));
        };
        let by_digest = reference.at_digest(&digest).to_string();
        let credentials = self.registry.credentials(reference.registry()).await;
        self.engine
            .pull_image(&by_digest, None, credentials.as_ref())
            .await
            .map_err(|e| format!("image {} is gone: {e}", image_id.short()))?;
        match self.engine.inspect_image(image_id.as_str()).await {
            Ok(_) => Ok(()),
            Err(_) => Err(format!(
                "{by_digest} is not the image {} any more",
                image_id.short()
            )),
        }
    }

    /// Remove the old image unless a tag still names it (the update moved the container's own
    /// tag away, so any tag left is someone else's) or a container still uses it (the engine
    /// refuses that without `force`, which refit never uses).
    async fn remove_unused_image(&self, image_id: &Digest) {
        let tags = self
            .engine
            .inspect_image(image_id.as_str())
            .await
            .map(|i| i.repo_tags.unwrap_or_default());
        match tags {
            Ok(tags) if !tags.is_empty() => {
                info!(image_id = %image_id.short(), tags = ?tags, "old image kept: still tagged");
                return;
            }
            Err(e) => {
                warn!(image_id = %image_id.short(), error = %e, "old image kept");
                return;
            }
            Ok(_) => {}
        }
        match self.engine.remove_image(image_id.as_str()).await {
            Ok(()) => info!(image_id = %image_id.short(), "old image removed"),
            Err(e) => warn!(image_id = %image_id.short(), error = %e, "old image kept"),
        }
    }
}
