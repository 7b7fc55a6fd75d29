//! Acting: carrying out a plan's updates. Images are pulled by the digest the check resolved
//! and verified before anything is stopped; each container then moves through
//! stop → park (rename to `<name>.refit-old`, restart policy `no`) → create → start →
//! remove the old one, and any failure after the stop puts the old container back, running,
//! under its own name.

mod dependents;
#[cfg(test)]
mod fake;
pub mod hooks;
#[cfg(test)]
mod tests;
mod update;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use tracing::{Instrument, info, info_span, warn};

use crate::engine::{Engine, facts};
use crate::model::{ContainerId, Digest, RunState, Snapshot};
use crate::plan::{Plan, Update};
use crate::registry::Registry;

pub use update::Outcome;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Remove the old image when nothing uses it any more.
    pub cleanup: bool,
    /// Used to stop a container that sets no stop timeout of its own.
    pub stop_timeout: Duration,
    /// Pulls in flight at once.
    pub pull_concurrency: usize,
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
}

impl<'a> Executor<'a> {
    pub fn new(
        engine: &'a dyn Engine,
        registry: &'a dyn Registry,
        snapshot: &'a Snapshot,
        settings: Settings,
    ) -> Self {
        Executor {
            engine,
            registry,
            snapshot,
            settings,
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
        let dependents = plan.graph.dependents(id);
        let held = dependents::stop(self.engine, self.snapshot, &dependents, &self.settings).await;
        let change = update::Change {
            image_id: verified.image_id.clone(),
            platform: Some(update.platform.clone()),
            retag: Some((
                update.reference.name(),
                update.reference.tag().unwrap_or("latest").to_string(),
            )),
        };
        let outcome = update::Transaction::new(
            self.engine,
            self.snapshot,
            &self.settings,
            &item.container,
            change,
        )
        .run()
        .await;
        dependents::bring_back(self.engine, self.snapshot, &held, &self.settings).await;
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
