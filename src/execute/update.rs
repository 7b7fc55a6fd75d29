//! One container's update as a transaction: `prepare` checks everything that could make the
//! successor fail to be created while the old container still runs untouched; `swap` stops,
//! parks and replaces it; `restore` undoes whatever `swap` did when a step fails.

use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ImageInspect, RestartPolicyNameEnum};
use tracing::{Instrument, info, info_span, warn};

use super::Settings;
use crate::engine::{CreateSpec, Engine, RestartPolicy};
use crate::model::{Container, Digest, NetworkMode, Platform, Snapshot, with_written_tag};
use crate::plan::PARKED_SUFFIX;
use crate::recreate::{self, Target};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The successor runs the new image; `warnings` lists what was left to tidy.
    Updated {
        image_id: Digest,
        container_id: String,
        warnings: Vec<String>,
    },
    /// The update did not happen; the old container runs (or was restored).
    Failed(String),
    /// The successor started but was not accepted and the old container was restored.
    RolledBack(String),
    /// Not attempted, by the container's own choice (a pre-update hook exiting 75).
    Skipped(String),
}

/// What a transaction moves a container to.
#[derive(Clone, Debug)]
pub(super) struct Change {
    /// The (verified) image the successor must run.
    pub image_id: Digest,
    pub platform: Option<Platform>,
    /// `(repository, tag)` to point at the new image before create, as `docker pull` would;
    /// `None` when the image does not change (a namespace sharer re-pointed at its peer).
    pub retag: Option<(String, String)>,
}

pub(super) struct Transaction<'a> {
    engine: &'a dyn Engine,
    snapshot: &'a Snapshot,
    settings: &'a Settings,
    container: &'a Container,
    change: Change,
    progress: Progress,
}

/// What `swap` has done so far, which is what `restore` must undo.
#[derive(Default)]
struct Progress {
    was_running: bool,
    /// The old container was stopped (and must be started again on restore).
    stopped: bool,
    /// The old container was removed by the engine when stopped (`--rm`).
    old_gone: bool,
    parked_policy: Option<RestartPolicy>,
    renamed: bool,
    created: Option<String>,
}

struct Prepared {
    old: ContainerInspectResponse,
    old_image: ImageInspect,
    spec: CreateSpec,
}

impl<'a> Transaction<'a> {
    pub(super) fn new(
        engine: &'a dyn Engine,
        snapshot: &'a Snapshot,
        settings: &'a Settings,
        container: &'a Container,
        change: Change,
    ) -> Self {
        Transaction {
            engine,
            snapshot,
            settings,
            container,
            change,
            progress: Progress::default(),
        }
    }

    fn name(&self) -> &str {
        &self.container.name
    }

    fn parked_name(&self) -> String {
        format!("{}{PARKED_SUFFIX}", self.container.name)
    }

    pub(super) async fn run(mut self) -> Outcome {
        let span = info_span!("container", container.name = %self.container.name, container.id = %self.container.id.short(), image = %self.container.configured_image);
        async move {
            let prepared = match self
                .prepare()
                .instrument(info_span!("step", step = "prepare"))
                .await
            {
                Ok(prepared) => prepared,
                Err(e) => return Outcome::Failed(e),
            };
            match self.swap(&prepared).await {
                Ok(new_id) => self.finish(new_id).await,
                Err(e) => {
                    warn!(error = %e, "update failed, restoring the old container");
                    let restored = self
                        .restore(&prepared)
                        .instrument(info_span!("step", step = "restore"))
                        .await;
                    Outcome::Failed(format!("{e}; {restored}"))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Everything that can be checked while the old container still runs untouched.
    async fn prepare(&self) -> Result<Prepared, String> {
        let old = self
            .engine
            .inspect_container(self.container.id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        if old.image.as_deref() != Some(self.container.image_id.as_str()) {
            return Err("the container changed since it was checked; left alone".into());
        }
        let old_image = self
            .engine
            .inspect_image(self.container.image_id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let target = Target {
            image: self.image_name().await,
            image_id: self.change.image_id.clone(),
            platform: self.change.platform.clone(),
            network_container: self.network_peer().await?,
            engine_host_name: self.engine_host_name().await,
        };
        let spec = recreate::successor(&old, &old_image, &target).map_err(|e| e.to_string())?;
        self.check_requirements(&spec).await?;
        if let Some((repository, tag)) = &self.change.retag {
            self.engine
                .tag_image(self.change.image_id.as_str(), repository, tag)
                .await
                .map_err(|e| format!("cannot tag the new image: {e}"))?;
        }
        Ok(Prepared {
            old,
            old_image,
            spec,
        })
    }

    /// What the successor's `Config.Image` says: the operator's reference, which the update
    /// points at the new image, with the new tag when a semver update changes it. When the
    /// image does not change and that reference has since moved to another image, the id, so
    /// the successor runs what its predecessor ran.
    async fn image_name(&self) -> String {
        let configured = &self.container.configured_image;
        if let Some((_, tag)) = &self.change.retag {
            return with_written_tag(configured, tag);
        }
        match self.engine.inspect_image(configured).await {
            Ok(image) if image.id.as_deref() == Some(self.change.image_id.as_str()) => {
                configured.clone()
            }
            _ => self.change.image_id.to_string(),
        }
    }

    /// For `network_mode: container:<x>`, the id `<x>` has now, found by its name.
    async fn network_peer(&self) -> Result<Option<String>, String> {
        let NetworkMode::Container(peer) = &self.container.network_mode else {
            return Ok(None);
        };
        let lookup = self
            .snapshot
            .find(peer)
            .map_or(peer.as_str(), |c| c.name.as_str());
        match self.engine.inspect_container(lookup).await {
            Ok(found) => Ok(found.id),
            Err(e) => Err(format!("network_mode container:{lookup}: {e}")),
        }
    }

    async fn engine_host_name(&self) -> Option<String> {
        if self.container.network_mode != NetworkMode::Host {
            return None;
        }
        self.engine.host_name().await.ok()
    }

    async fn check_requirements(&self, spec: &CreateSpec) -> Result<(), String> {
        let (networks, volumes) = recreate::requirements(spec);
        for network in networks {
            if !self
                .engine
                .network_exists(&network)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("network {network} does not exist"));
            }
        }
        for volume in volumes {
            if !self
                .engine
                .volume_exists(&volume)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("volume {volume} does not exist"));
            }
        }
        match self.engine.inspect_container(&self.parked_name()).await {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.to_string()),
            Ok(_) => Err(format!(
                "a container named {} already exists (left by an interrupted update?)",
                self.parked_name()
            )),
        }
    }

    /// `refit.stop-timeout`, else the container's own, else the configured default.
    fn stop_timeout(&self, old: &ContainerInspectResponse) -> Duration {
        if let Some(timeout) = self
            .container
            .label(crate::policy::labels::STOP_TIMEOUT)
            .and_then(crate::policy::parse_duration)
        {
            return timeout;
        }
        let own = old
            .config
            .as_ref()
            .and_then(|c| c.stop_timeout)
            .filter(|t| *t >= 0);
        own.map_or(self.settings.stop_timeout, |secs| {
            Duration::from_secs(secs as u64)
        })
    }

    /// Stop, park and replace. On error the caller restores from `self.progress`.
    ///
    /// An auto-removed (`--rm`) container is deleted by the engine when it stops, anonymous
    /// volumes included unless another container uses them; so for it the successor is
    /// created first (holding those volumes) and the old one stopped after.
    async fn swap(&mut self, prepared: &Prepared) -> Result<String, String> {
        let id = self.container.id.as_str().to_string();
        self.progress.was_running = prepared
            .old
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false);
        let auto_remove = prepared
            .old
            .host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false);
        let new_id = if auto_remove {
            self.park(&id, &prepared.old).await?;
            let new_id = self.create(prepared).await?;
            self.stop_old(&id, &prepared.old).await?;
            self.progress.old_gone = removed_by_engine(self.engine, &id).await;
            new_id
        } else {
            self.stop_old(&id, &prepared.old).await?;
            self.park(&id, &prepared.old).await?;
            self.create(prepared).await?
        };
        if self.progress.was_running {
            step("start", self.engine.start_container(&new_id)).await?;
            let started = step("inspect started", self.engine.inspect_container(&new_id)).await?;
            let state = started.state.unwrap_or_default();
            if state.running != Some(true) {
                return Err(format!(
                    "the new container exited at once (exit code {})",
                    state.exit_code.unwrap_or(-1)
                ));
            }
        }
        Ok(new_id)
    }

    async fn stop_old(&mut self, id: &str, old: &ContainerInspectResponse) -> Result<(), String> {
        if self.progress.was_running {
            step(
                "stop",
                self.engine.stop_container(id, self.stop_timeout(old)),
            )
            .await?;
            self.progress.stopped = true;
        }
        Ok(())
    }

    /// Create the successor and check it references the verified image.
    async fn create(&mut self, prepared: &Prepared) -> Result<String, String> {
        let new_id = step(
            "create",
            self.engine.create_container(self.name(), &prepared.spec),
        )
        .await?;
        self.progress.created = Some(new_id.clone());
        let created = step("inspect new", self.engine.inspect_container(&new_id)).await?;
        if created.image.as_deref() != Some(self.change.image_id.as_str()) {
            return Err(format!(
                "integrity check failed: the new container runs {}, not the verified image {}",
                created.image.unwrap_or_default(),
                self.change.image_id
            ));
        }
        Ok(new_id)
    }

    /// Give the old container its parking name and a restart policy of `no`, so that a
    /// daemon restart does not revive it beside its successor.
    async fn park(&mut self, id: &str, old: &ContainerInspectResponse) -> Result<(), String> {
        let policy = old
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.clone())
            .unwrap_or_default();
        let name = policy
            .name
            .filter(|n| *n != RestartPolicyNameEnum::EMPTY)
            .unwrap_or(RestartPolicyNameEnum::NO);
        if name != RestartPolicyNameEnum::NO {
            let no = RestartPolicy {
                name: "no".into(),
                maximum_retry_count: 0,
            };
            step(
                "park restart policy",
                self.engine.set_restart_policy(id, &no),
            )
            .await?;
            self.progress.parked_policy = Some(RestartPolicy {
                name: name.to_string(),
                maximum_retry_count: policy.maximum_retry_count.unwrap_or(0),
            });
        }
        step(
            "rename",
            self.engine.rename_container(id, &self.parked_name()),
        )
        .await?;
        self.progress.renamed = true;
        Ok(())
    }

    async fn finish(&self, new_id: String) -> Outcome {
        let mut warnings = Vec::new();
        if !self.progress.old_gone
            && let Err(e) = step(
                "remove old",
                self.engine.remove_container(self.container.id.as_str()),
            )
            .await
        {
            warnings.push(format!("old container kept as {}: {e}", self.parked_name()));
        }
        info!(new_id = %&new_id[..new_id.len().min(12)], "container updated");
        Outcome::Updated {
            image_id: self.change.image_id.clone(),
            container_id: new_id,
            warnings,
        }
    }

    /// Undo `swap`: remove the successor, give the old container back its name, restart
    /// policy and running state. Returns a sentence for the report.
    async fn restore(&self, prepared: &Prepared) -> String {
        let engine = self.engine;
        let id = self.container.id.as_str();
        let mut problems = Vec::new();
        if let Some(new_id) = &self.progress.created
            && let Err(e) = engine.remove_container(new_id).await
        {
            problems.push(format!("cannot remove the new container: {e}"));
        }
        if self.progress.old_gone {
            return self.recreate_removed(prepared, problems).await;
        }
        if self.progress.renamed
            && let Err(e) = engine.rename_container(id, self.name()).await
        {
            problems.push(format!("cannot rename {} back: {e}", self.parked_name()));
        }
        if let Some(policy) = &self.progress.parked_policy
            && let Err(e) = engine.set_restart_policy(id, policy).await
        {
            problems.push(format!(
                "cannot restore restart policy {}: {e}",
                policy.name
            ));
        }
        if self.progress.stopped
            && let Err(e) = engine.start_container(id).await
        {
            problems.push(format!("cannot start the old container: {e}"));
        }
        restored(problems)
    }

    /// An auto-removed (`--rm`) container is gone once stopped: bring it back from its
    /// recorded configuration on its old image.
    async fn recreate_removed(&self, prepared: &Prepared, mut problems: Vec<String>) -> String {
        let target = Target {
            image: self.container.image_id.to_string(),
            image_id: self.container.image_id.clone(),
            platform: self.change.platform.clone(),
            network_container: self.network_peer().await.ok().flatten(),
            engine_host_name: self.engine_host_name().await,
        };
        let result = async {
            let spec = recreate::successor(&prepared.old, &prepared.old_image, &target)
                .map_err(|e| e.to_string())?;
            let id = self
                .engine
                .create_container(self.name(), &spec)
                .await
                .map_err(|e| e.to_string())?;
            if self.progress.was_running {
                self.engine
                    .start_container(&id)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
        .await;
        if let Err(e) = result {
            problems.push(format!("cannot recreate the auto-removed container: {e}"));
        }
        restored(problems)
    }
}

fn restored(problems: Vec<String>) -> String {
    if problems.is_empty() {
        "old container restored".to_string()
    } else {
        format!("restore incomplete: {}", problems.join("; "))
    }
}

/// Run one engine step inside its span, turning its error into a sentence naming the step.
async fn step<T>(
    name: &'static str,
    call: impl Future<Output = Result<T, crate::engine::Error>>,
) -> Result<T, String> {
    call.instrument(info_span!("step", step = name))
        .await
        .map_err(|e| format!("{name} failed: {e}"))
}

/// Whether the engine removed an auto-remove container after its stop (it does so
/// asynchronously; give it a few seconds).
async fn removed_by_engine(engine: &dyn Engine, id: &str) -> bool {
    for _ in 0..50 {
        match engine.inspect_container(id).await {
            Err(e) if e.is_not_found() => return true,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    false
}
