//! One container's update as a transaction: `prepare` checks everything that could make the
//! successor fail to be created while the old container still runs untouched; `swap` stops,
//! parks and replaces it; the health gate decides whether the successor stays; `restore`
//! undoes whatever `swap` did when a step fails or the gate refuses.
//!
//! Every step is written to the journal (`state::journal`) before it is taken, so that a
//! refit killed in the middle finds the row on its next start (`recover.rs`). A row is
//! finished only when the container is whole again; an undo that could not complete leaves
//! it open for recovery.

mod copy;
mod prepare;
mod restore;

use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ImageInspect};
use chrono::Utc;
use tracing::{Instrument, info, info_span, warn};

use super::Settings;
use super::health::{self, Gate};
use crate::engine::{CreateSpec, Engine, RestartPolicy};
use crate::model::{Container, Digest, Platform, RunState, Snapshot};
use crate::plan::PARKED_SUFFIX;
use crate::state::{NewUpdate, Step, Store, UpdateKind};

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

/// What a transaction's journal row says besides what the transaction itself knows.
#[derive(Clone, Debug)]
pub(super) struct Record {
    pub kind: UpdateKind,
    /// The reference the successor follows (normalised).
    pub reference: String,
    pub old_digest: Option<Digest>,
    /// The registry digest moved to; remembered as bad when the gate refuses it.
    pub new_digest: Option<Digest>,
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
    pub gate: Gate,
    /// The container is refit's own: it is parked but never stopped (refit runs in it), the
    /// successor starts beside it, and the successor removes it once this process has exited.
    pub is_self: bool,
    pub record: Record,
    /// `refit.copy`: paths copied from the old container into the successor before it starts.
    pub copy: Vec<String>,
    /// `refit.stop-signal`: stop the old container with this instead of its own stop signal.
    pub stop_signal: Option<String>,
}

pub(super) struct Transaction<'a> {
    engine: &'a dyn Engine,
    snapshot: &'a Snapshot,
    settings: &'a Settings,
    journal: &'a Store,
    container: &'a Container,
    change: Change,
    progress: Progress,
    /// The journal row, once begun.
    row: Option<i64>,
}

/// What `swap` has done so far, which is what `restore` must undo.
#[derive(Default)]
struct Progress {
    /// The old container was stopped (and must be started again on restore).
    stopped: bool,
    /// The old container was removed by the engine when stopped (`--rm`).
    old_gone: bool,
    /// Its restart policy was set to `no`.
    parked: bool,
    renamed: bool,
    created: Option<String>,
    /// The image the moved tag named before, to move it back on restore.
    tag_was: Option<String>,
}

struct Prepared {
    old: ContainerInspectResponse,
    old_image: ImageInspect,
    spec: CreateSpec,
    was_running: bool,
    auto_remove: bool,
    restart_policy: Option<RestartPolicy>,
}

impl<'a> Transaction<'a> {
    pub(super) fn new(
        engine: &'a dyn Engine,
        snapshot: &'a Snapshot,
        settings: &'a Settings,
        journal: &'a Store,
        container: &'a Container,
        change: Change,
    ) -> Self {
        Transaction {
            engine,
            snapshot,
            settings,
            journal,
            container,
            change,
            progress: Progress::default(),
            row: None,
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
                Err(e) => {
                    self.record_untouched_failure(&e);
                    return Outcome::Failed(e);
                }
            };
            if let Err(e) = self.begin(&prepared) {
                return Outcome::Failed(e);
            }
            if let Err(e) = self.move_tag().await {
                self.end(Step::Restored, "failed", &e);
                return Outcome::Failed(e);
            }
            let new_id = match self.swap(&prepared).await {
                Ok(new_id) => new_id,
                Err(e) => return self.undo(&prepared, e, false).await,
            };
            if !prepared.was_running {
                return self.finish(new_id, None).await;
            }
            let gate = health::wait(self.engine, &new_id, &self.change.gate)
                .instrument(info_span!("step", step = "health"))
                .await;
            match gate {
                Ok(()) => self.finish(new_id, None).await,
                Err(why) if self.change.gate.rollback => self.undo(&prepared, why, true).await,
                Err(why) => self.finish(new_id, Some(why)).await,
            }
        }
        .instrument(span)
        .await
    }

    fn new_update(&self, was_running: bool, policy: Option<&RestartPolicy>) -> NewUpdate {
        let record = &self.change.record;
        NewUpdate {
            kind: record.kind,
            container_id: self.container.id.to_string(),
            name: self.container.name.clone(),
            reference: record.reference.clone(),
            old_image: self.container.image_id.to_string(),
            old_digest: record.old_digest.as_ref().map(ToString::to_string),
            new_image: self.change.image_id.to_string(),
            new_digest: record.new_digest.as_ref().map(ToString::to_string),
            was_running,
            restart_policy: policy.map(|p| (p.name.clone(), p.maximum_retry_count)),
        }
    }

    /// Start the journal row. Without it no step is taken: an update that could not be
    /// recovered after a crash is not worth the risk.
    fn begin(&mut self, prepared: &Prepared) -> Result<(), String> {
        let update = self.new_update(prepared.was_running, prepared.restart_policy.as_ref());
        let row = self
            .journal
            .begin(&update, Utc::now())
            .map_err(|e| format!("cannot write the update journal, nothing changed: {e}"))?;
        self.row = Some(row);
        Ok(())
    }

    /// A failure before anything was touched still belongs in the history.
    fn record_untouched_failure(&mut self, why: &str) {
        let running = self.container.state == RunState::Running;
        let update = self.new_update(running, None);
        if let Ok(row) = self.journal.begin(&update, Utc::now()) {
            self.row = Some(row);
            self.end(Step::Restored, "failed", why);
        }
    }

    /// Journal `step` before taking it. A write that fails now is logged and the update goes
    /// on: stopping half-way would leave the container worse off than finishing.
    fn record(&self, step: Step) {
        if let Some(row) = self.row
            && let Err(e) = self.journal.record_step(row, step, Utc::now())
        {
            warn!(error = %e, step = step.as_str(), "cannot journal the step; going on");
        }
    }

    fn end(&self, step: Step, outcome: &str, reason: &str) {
        if let Some(row) = self.row
            && let Err(e) = self.journal.finish(row, step, outcome, reason, Utc::now())
        {
            warn!(error = %e, "cannot finish the journal row");
        }
    }

    /// Test only (`REFIT_TEST_PAUSE_AFTER`): sleep after `step`, so that a test can kill
    /// refit at that point.
    async fn pause(&self, step: Step) {
        if let Some(pause) = &self.settings.pause_after
            && pause.step == step
        {
            warn!(
                step = step.as_str(),
                seconds = pause.duration.as_secs(),
                "test pause"
            );
            tokio::time::sleep(pause.duration).await;
        }
    }

    /// Point the tag at the new image, as `docker pull` would, remembering where it pointed.
    async fn move_tag(&mut self) -> Result<(), String> {
        let Some((repository, tag)) = self.change.retag.clone() else {
            return Ok(());
        };
        let before = self
            .engine
            .inspect_image(&format!("{repository}:{tag}"))
            .await
            .ok()
            .and_then(|i| i.id)
            .filter(|id| id != self.change.image_id.as_str());
        self.engine
            .tag_image(self.change.image_id.as_str(), &repository, &tag)
            .await
            .map_err(|e| format!("cannot tag the new image: {e}"))?;
        self.progress.tag_was = before;
        Ok(())
    }

    /// Stop, park and replace, and start the successor. On error the caller restores from
    /// `self.progress`.
    ///
    /// An auto-removed (`--rm`) container is deleted by the engine when it stops, anonymous
    /// volumes included unless another container uses them; so for it the successor is
    /// created first (holding those volumes) and the old one stopped after.
    async fn swap(&mut self, prepared: &Prepared) -> Result<String, String> {
        let id = self.container.id.as_str().to_string();
        let new_id = if self.change.is_self {
            self.park(&id, prepared).await?;
            self.create(prepared).await?
        } else if prepared.auto_remove {
            self.park(&id, prepared).await?;
            let new_id = self.create(prepared).await?;
            self.stop_old(&id, prepared).await?;
            self.progress.old_gone = removed_by_engine(self.engine, &id).await;
            new_id
        } else {
            self.stop_old(&id, prepared).await?;
            self.park(&id, prepared).await?;
            self.create(prepared).await?
        };
        if prepared.was_running {
            self.record(Step::Started);
            step("start", self.engine.start_container(&new_id)).await?;
            self.pause(Step::Started).await;
        }
        Ok(new_id)
    }

    async fn stop_old(&mut self, id: &str, prepared: &Prepared) -> Result<(), String> {
        if prepared.was_running {
            self.record(Step::Stopped);
            let timeout = self.stop_timeout(&prepared.old);
            match &self.change.stop_signal {
                Some(signal) => {
                    step("stop", self.engine.stop_container_with(id, signal, timeout)).await?
                }
                None => step("stop", self.engine.stop_container(id, timeout)).await?,
            }
            self.progress.stopped = true;
            self.pause(Step::Stopped).await;
        }
        Ok(())
    }

    /// Create the successor and check it references the verified image.
    async fn create(&mut self, prepared: &Prepared) -> Result<String, String> {
        self.record(Step::Created);
        let new_id = step(
            "create",
            self.engine.create_container(self.name(), &prepared.spec),
        )
        .await?;
        self.progress.created = Some(new_id.clone());
        if let Some(row) = self.row
            && let Err(e) = self.journal.set_new_container(row, &new_id)
        {
            warn!(error = %e, "cannot journal the new container's id; going on");
        }
        let created = step("inspect new", self.engine.inspect_container(&new_id)).await?;
        if created.image.as_deref() != Some(self.change.image_id.as_str()) {
            return Err(format!(
                "integrity check failed: the new container runs {}, not the verified image {}",
                created.image.unwrap_or_default(),
                self.change.image_id
            ));
        }
        self.copy_files(&new_id).await?;
        self.pause(Step::Created).await;
        Ok(new_id)
    }

    /// Give the old container its parking name and a restart policy of `no`, so that a
    /// daemon restart does not revive it beside its successor.
    async fn park(&mut self, id: &str, prepared: &Prepared) -> Result<(), String> {
        self.record(Step::Parked);
        if prepared.restart_policy.is_some() {
            let no = RestartPolicy {
                name: "no".into(),
                maximum_retry_count: 0,
            };
            step(
                "park restart policy",
                self.engine.set_restart_policy(id, &no),
            )
            .await?;
            self.progress.parked = true;
        }
        step(
            "rename",
            self.engine.rename_container(id, &self.parked_name()),
        )
        .await?;
        self.progress.renamed = true;
        self.pause(Step::Parked).await;
        Ok(())
    }

    /// Keep the successor and remove the old container. `refused` holds the health gate's
    /// reason when rollback is off: the successor stays, but the update failed.
    async fn finish(&self, new_id: String, refused: Option<String>) -> Outcome {
        if refused.is_none() {
            self.record(Step::Healthy);
        }
        let mut warnings = Vec::new();
        if self.change.is_self {
            // This process runs in the old container: it hands over and exits, and the
            // successor removes it (`handover::adopt`).
            info!(parked = %self.parked_name(), "refit's own container: handing over to the successor");
        } else if !self.progress.old_gone {
            self.record(Step::RemovedOld);
            if let Err(e) = step(
                "remove old",
                self.engine.remove_container(self.container.id.as_str()),
            )
            .await
            {
                warnings.push(format!("old container kept as {}: {e}", self.parked_name()));
            }
        }
        if let Some(why) = refused {
            let reason = format!("{why}; rollback is off: the new container was kept");
            warn!(reason = %reason, "new container kept although the health gate refused it");
            self.end(Step::Done, "failed", &reason);
            return Outcome::Failed(reason);
        }
        info!(new_id = %&new_id[..new_id.len().min(12)], "container updated");
        self.end(Step::Done, "updated", &warnings.join("; "));
        Outcome::Updated {
            image_id: self.change.image_id.clone(),
            container_id: new_id,
            warnings,
        }
    }

    /// Restore the old container after `why`. A refusal by the health gate is a rollback,
    /// and its digest is remembered so the next pass does not try it again.
    async fn undo(&self, prepared: &Prepared, why: String, by_gate: bool) -> Outcome {
        warn!(error = %why, "restoring the old container");
        self.record(Step::Restoring);
        let restored = self
            .restore(prepared)
            .instrument(info_span!("step", step = "restore"))
            .await;
        if !restored.complete {
            // The row stays open: the next pass (or the next start of refit) finishes the undo.
            return Outcome::Failed(format!("{why}; {}", restored.summary));
        }
        if !by_gate {
            let reason = format!("{why}; {}", restored.summary);
            self.end(Step::Restored, "failed", &reason);
            return Outcome::Failed(reason);
        }
        self.end(Step::RolledBack, "rolled-back", &why);
        let record = &self.change.record;
        if record.kind == UpdateKind::Update
            && let Some(digest) = &record.new_digest
            && let Err(e) = self.journal.remember_bad_digest(
                &record.reference,
                digest.as_str(),
                &why,
                Utc::now(),
            )
        {
            warn!(error = %e, "cannot remember the rolled-back digest");
        }
        Outcome::RolledBack(why)
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
